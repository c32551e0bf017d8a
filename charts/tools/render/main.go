// Command render renders a Helm chart's templates the way `helm template`
// does, with Go's text/template and the few sprig/Helm functions the
// certwasm chart uses, so that the chart can be checked where no helm
// binary exists. Standard library only: values arrive as JSON (the caller
// converts values.yaml), and toYaml is a small emitter of its own.
//
//	go run ./charts/tools/render -chart charts/certwasm -values v.json [-values more.json] \
//	    [-name certwasm] [-namespace cert-manager]
//
// Output: a YAML stream, one document per rendered template, each headed
// by `# Source: <chart>/templates/<file>` as helm prints it. A template
// that calls `fail` makes the command exit 1 with the message.
package main

import (
	"bufio"
	"bytes"
	"encoding/base64"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"math"
	"os"
	"path/filepath"
	"reflect"
	"regexp"
	"sort"
	"strconv"
	"strings"
	"text/template"
)

type multiFlag []string

func (m *multiFlag) String() string     { return strings.Join(*m, ",") }
func (m *multiFlag) Set(v string) error { *m = append(*m, v); return nil }

func main() {
	chartDir := flag.String("chart", "charts/certwasm", "the chart directory")
	name := flag.String("name", "certwasm", "the release name")
	namespace := flag.String("namespace", "cert-manager", "the release namespace")
	var valueFiles multiFlag
	flag.Var(&valueFiles, "values", "a JSON values file (repeatable; later ones override)")
	flag.Parse()
	out, err := render(*chartDir, *name, *namespace, valueFiles)
	if err != nil {
		fmt.Fprintln(os.Stderr, "render:", err)
		os.Exit(1)
	}
	os.Stdout.WriteString(out)
}

// chartMeta reads the top-level scalars of Chart.yaml (name, version,
// appVersion), all a template may refer to here.
func chartMeta(dir string) (map[string]interface{}, error) {
	file, err := os.Open(filepath.Join(dir, "Chart.yaml"))
	if err != nil {
		return nil, err
	}
	defer file.Close()
	fields := map[string]string{}
	scanner := bufio.NewScanner(file)
	for scanner.Scan() {
		line := scanner.Text()
		if line == "" || line[0] == ' ' || line[0] == '#' || line[0] == '-' {
			continue
		}
		key, value, ok := strings.Cut(line, ":")
		if !ok {
			continue
		}
		fields[key] = strings.Trim(strings.TrimSpace(value), `"'`)
	}
	return map[string]interface{}{
		"Name":        fields["name"],
		"Version":     fields["version"],
		"AppVersion":  fields["appVersion"],
		"KubeVersion": fields["kubeVersion"],
	}, scanner.Err()
}

// merge overlays b on a as Helm merges values files: maps merge key by
// key, anything else is replaced.
func merge(a, b map[string]interface{}) map[string]interface{} {
	out := map[string]interface{}{}
	for k, v := range a {
		out[k] = v
	}
	for k, v := range b {
		if bm, ok := v.(map[string]interface{}); ok {
			if am, ok := out[k].(map[string]interface{}); ok {
				out[k] = merge(am, bm)
				continue
			}
		}
		out[k] = v
	}
	return out
}

type files struct{ dir string }

// Get returns a chart file's content, "" when it is missing (as Helm).
func (f files) Get(name string) string {
	data, err := os.ReadFile(filepath.Join(f.dir, filepath.FromSlash(name)))
	if err != nil {
		return ""
	}
	return string(data)
}

type failure struct{ message string }

func (f failure) Error() string { return f.message }

func render(dir, name, namespace string, valueFiles []string) (string, error) {
	meta, err := chartMeta(dir)
	if err != nil {
		return "", err
	}
	values := map[string]interface{}{}
	for _, path := range valueFiles {
		data, err := os.ReadFile(path)
		if err != nil {
			return "", err
		}
		var layer map[string]interface{}
		if err := json.Unmarshal(data, &layer); err != nil {
			return "", fmt.Errorf("%s: %w", path, err)
		}
		values = merge(values, layer)
	}
	chartName := meta["Name"].(string)
	root := template.New(chartName).Option("missingkey=zero")
	root.Funcs(funcs(root))
	paths, err := filepath.Glob(filepath.Join(dir, "templates", "*"))
	if err != nil {
		return "", err
	}
	sort.Strings(paths)
	var rendered []string
	for _, path := range paths {
		base := filepath.Base(path)
		if !strings.HasSuffix(base, ".yaml") && !strings.HasSuffix(base, ".tpl") {
			continue
		}
		text, err := os.ReadFile(path)
		if err != nil {
			return "", err
		}
		if _, err := root.New(chartName + "/templates/" + base).Parse(string(text)); err != nil {
			return "", err
		}
		if !strings.HasPrefix(base, "_") {
			rendered = append(rendered, chartName+"/templates/"+base)
		}
	}
	context := map[string]interface{}{
		"Values": values,
		"Chart":  meta,
		"Release": map[string]interface{}{
			"Name": name, "Namespace": namespace, "Service": "Helm",
			"IsInstall": true, "IsUpgrade": false, "Revision": 1,
		},
		"Files":        files{dir},
		"Capabilities": map[string]interface{}{"KubeVersion": map[string]interface{}{"Version": "v1.31.0"}},
		"Template":     map[string]interface{}{"BasePath": chartName + "/templates"},
	}
	var out strings.Builder
	for _, tname := range rendered {
		var buf bytes.Buffer
		if err := root.ExecuteTemplate(&buf, tname, context); err != nil {
			var f failure
			if errors.As(err, &f) {
				return "", fmt.Errorf("%s: %s", tname, f.message)
			}
			return "", err
		}
		text := strings.ReplaceAll(buf.String(), "<no value>", "")
		if strings.TrimSpace(text) == "" {
			continue
		}
		text = strings.TrimPrefix(strings.TrimLeft(text, "\n"), "---\n")
		fmt.Fprintf(&out, "---\n# Source: %s\n%s\n", tname, strings.TrimRight(text, "\n"))
	}
	return out.String(), nil
}

// empty is Helm's (sprig's) notion of an unset value, which `default`,
// `empty` and `required` use.
func empty(v interface{}) bool {
	if v == nil {
		return true
	}
	r := reflect.ValueOf(v)
	switch r.Kind() {
	case reflect.String, reflect.Map, reflect.Slice, reflect.Array:
		return r.Len() == 0
	case reflect.Bool:
		return !r.Bool()
	case reflect.Float32, reflect.Float64:
		return r.Float() == 0
	case reflect.Int, reflect.Int64, reflect.Int32:
		return r.Int() == 0
	case reflect.Ptr, reflect.Interface:
		return r.IsNil()
	}
	return false
}

func kindOf(v interface{}) string {
	if v == nil {
		return "invalid"
	}
	return reflect.ValueOf(v).Kind().String()
}

func toString(v interface{}) string {
	switch t := v.(type) {
	case nil:
		return ""
	case string:
		return t
	case float64:
		return formatNumber(t)
	}
	return fmt.Sprint(v)
}

func formatNumber(f float64) string {
	if f == math.Trunc(f) && math.Abs(f) < 1e15 {
		return strconv.FormatInt(int64(f), 10)
	}
	return strconv.FormatFloat(f, 'g', -1, 64)
}

func indent(n int, text string) string {
	pad := strings.Repeat(" ", n)
	return pad + strings.ReplaceAll(text, "\n", "\n"+pad)
}

func funcs(root *template.Template) template.FuncMap {
	includeDepth := 0
	return template.FuncMap{
		"include": func(name string, data interface{}) (string, error) {
			includeDepth++
			defer func() { includeDepth-- }()
			if includeDepth > 100 {
				return "", fmt.Errorf("include %q: too deep", name)
			}
			var buf bytes.Buffer
			err := root.ExecuteTemplate(&buf, name, data)
			return buf.String(), err
		},
		"fail": func(message string) (string, error) { return "", failure{message} },
		"required": func(message string, v interface{}) (interface{}, error) {
			if empty(v) {
				return nil, failure{message}
			}
			return v, nil
		},
		"toYaml":  func(v interface{}) string { return strings.TrimSuffix(toYAML(v), "\n") },
		"toJson":  func(v interface{}) (string, error) { b, err := json.Marshal(v); return string(b), err },
		"indent":  func(n int, text string) string { return indent(n, text) },
		"nindent": func(n int, text string) string { return "\n" + indent(n, text) },
		"quote": func(vs ...interface{}) string {
			out := make([]string, 0, len(vs))
			for _, v := range vs {
				if v != nil {
					out = append(out, strconv.Quote(toString(v)))
				}
			}
			return strings.Join(out, " ")
		},
		"default": func(fallback interface{}, given ...interface{}) interface{} {
			if len(given) == 0 || empty(given[0]) {
				return fallback
			}
			return given[0]
		},
		"empty":  empty,
		"kindIs": func(kind string, v interface{}) bool { return kindOf(v) == kind },
		"trunc": func(n int, s string) string {
			if len(s) > n {
				return s[:n]
			}
			return s
		},
		"trimSuffix": func(suffix, s string) string { return strings.TrimSuffix(s, suffix) },
		"trimPrefix": func(prefix, s string) string { return strings.TrimPrefix(s, prefix) },
		"trim":       strings.TrimSpace,
		"contains":   func(sub, s string) bool { return strings.Contains(s, sub) },
		"hasPrefix":  func(prefix, s string) bool { return strings.HasPrefix(s, prefix) },
		"hasSuffix":  func(suffix, s string) bool { return strings.HasSuffix(s, suffix) },
		"replace":    func(old, new, s string) string { return strings.ReplaceAll(s, old, new) },
		"splitList":  func(sep, s string) []string { return strings.Split(s, sep) },
		"lower":      strings.ToLower,
		"upper":      strings.ToUpper,
		"toString":   toString,
		"b64enc":     func(s string) string { return base64.StdEncoding.EncodeToString([]byte(s)) },
		"regexMatch": func(re, s string) (bool, error) { return regexp.MatchString(re, s) },
		"list":       func(vs ...interface{}) []interface{} { return vs },
		"first": func(list interface{}) interface{} {
			r := reflect.ValueOf(list)
			if (r.Kind() == reflect.Slice || r.Kind() == reflect.Array) && r.Len() > 0 {
				return r.Index(0).Interface()
			}
			return nil
		},
		"dict": func(kv ...interface{}) map[string]interface{} {
			out := map[string]interface{}{}
			for i := 0; i+1 < len(kv); i += 2 {
				out[toString(kv[i])] = kv[i+1]
			}
			return out
		},
	}
}

// --- toYaml: block style, keys sorted, as sigs.k8s.io/yaml prints ---

var plain = regexp.MustCompile(`^[A-Za-z_./][A-Za-z0-9_./:@=+-]*( [A-Za-z0-9_./:@=+()-]+)*$`)
var special = regexp.MustCompile(`^(?i:y|yes|n|no|true|false|on|off|null|~)$`)

func scalar(v interface{}) string {
	switch t := v.(type) {
	case nil:
		return "null"
	case bool:
		return strconv.FormatBool(t)
	case float64:
		return formatNumber(t)
	case int:
		return strconv.Itoa(t)
	case string:
		if plain.MatchString(t) && !special.MatchString(t) && !strings.HasSuffix(t, ":") {
			return t
		}
		b, _ := json.Marshal(t)
		return string(b)
	}
	b, _ := json.Marshal(v)
	return string(b)
}

func toYAML(v interface{}) string {
	var b strings.Builder
	emit(&b, v, 0)
	return b.String()
}

func isEmptyCollection(v interface{}) (string, bool) {
	switch t := v.(type) {
	case map[string]interface{}:
		if len(t) == 0 {
			return "{}", true
		}
	case []interface{}:
		if len(t) == 0 {
			return "[]", true
		}
	}
	return "", false
}

func emit(b *strings.Builder, v interface{}, level int) {
	pad := strings.Repeat(" ", level)
	switch t := v.(type) {
	case map[string]interface{}:
		keys := make([]string, 0, len(t))
		for k := range t {
			keys = append(keys, k)
		}
		sort.Strings(keys)
		for _, k := range keys {
			child := t[k]
			if text, ok := isEmptyCollection(child); ok {
				fmt.Fprintf(b, "%s%s: %s\n", pad, scalar(k), text)
				continue
			}
			switch child.(type) {
			case map[string]interface{}:
				fmt.Fprintf(b, "%s%s:\n", pad, scalar(k))
				emit(b, child, level+2)
			case []interface{}:
				fmt.Fprintf(b, "%s%s:\n", pad, scalar(k))
				emit(b, child, level)
			default:
				fmt.Fprintf(b, "%s%s: %s\n", pad, scalar(k), scalar(child))
			}
		}
	case []interface{}:
		for _, item := range t {
			if text, ok := isEmptyCollection(item); ok {
				fmt.Fprintf(b, "%s- %s\n", pad, text)
				continue
			}
			switch item.(type) {
			case map[string]interface{}, []interface{}:
				var inner strings.Builder
				emit(&inner, item, level+2)
				text := inner.String()
				// The first line moves up beside the dash.
				fmt.Fprintf(b, "%s- %s", pad, strings.TrimPrefix(text, strings.Repeat(" ", level+2)))
			default:
				fmt.Fprintf(b, "%s- %s\n", pad, scalar(item))
			}
		}
	default:
		fmt.Fprintf(b, "%s%s\n", pad, scalar(v))
	}
}
