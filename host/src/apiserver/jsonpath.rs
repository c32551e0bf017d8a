//! Evaluation of Kubernetes printer-column JSONPaths (`additionalPrinterColumns[].jsonPath`).
//!
//! kubectl and kube-apiserver use client-go's JSONPath dialect, not RFC 9535: paths start
//! with a bare `.` (no `$`), filters are written `[?(@.type == "Ready")]`, field names may
//! contain `\.`-escaped dots, a missing key is "no result" rather than an error, and a
//! comparison between different JSON types is an error. A crate such as `serde_json_path`
//! speaks RFC 9535 (needs `$`, no escaped dots, different comparison semantics), so
//! matching kube would need a rewriting layer bigger than this small evaluator. Only the
//! subset printer columns use is supported: `.field`, `['key']`, `[n]`, `[-n]`, `[a:b]`,
//! `[*]`, `.*` and `[?(...)]` filters with `==`, `!=`, `<`, `<=`, `>`, `>=` against string,
//! number and bool literals (or another `@` path), or a bare `@.path` existence test.
//! Recursive descent (`..`), unions (`[0,1]`) and slice steps are rejected as unsupported.

use std::cmp::Ordering;
use std::fmt;
use std::str::FromStr;

use serde_json::Value;

/// Why a JSONPath could not be parsed or evaluated; kube-apiserver turns any evaluation
/// error into an empty (`null`) table cell, so callers mostly just need to know it failed.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum JsonPathError {
    /// The expression is not valid client-go JSONPath syntax.
    #[error("invalid JSONPath {path:?}: {reason}")]
    Parse { path: String, reason: String },
    /// Valid client-go syntax that printer columns never need and we do not implement.
    #[error("unsupported JSONPath feature: {0}")]
    Unsupported(&'static str),
    /// An index, slice or filter was applied to something that is not an array.
    #[error("{0} is not array or slice")]
    NotArray(&'static str),
    /// `[n]` outside the array, as client-go reports it.
    #[error("array index out of bounds: index {index}, length {len}")]
    OutOfBounds { index: i64, len: usize },
    /// A filter operand matched more than one value.
    #[error("can only compare one element at a time")]
    MultipleOperands,
    /// A filter compared values of different JSON types (e.g. a string with a bool).
    #[error("incompatible types for comparison")]
    IncompatibleTypes,
}

#[derive(Debug, Clone, PartialEq)]
enum Step {
    Field(String),
    Wildcard,
    Index(i64),
    Slice(Option<i64>, Option<i64>),
    Filter(Box<Filter>),
}

#[derive(Debug, Clone, Copy, PartialEq)]
enum CmpOp {
    Eq,
    Ne,
    Lt,
    Le,
    Gt,
    Ge,
}

#[derive(Debug, Clone, PartialEq)]
enum Operand {
    Path(Vec<Step>),
    Literal(Value),
}

#[derive(Debug, Clone, PartialEq)]
struct Filter {
    left: Operand,
    cmp: Option<(CmpOp, Operand)>,
}

/// A parsed JSONPath, so a CRD's printer columns are parsed once and evaluated per object.
#[derive(Debug, Clone, PartialEq)]
pub struct JsonPath {
    source: String,
    steps: Vec<Step>,
}

/// Parses a printer-column JSONPath; optional surrounding `{}` and a leading `$` are
/// accepted because kubectl's `-o jsonpath` templates use them.
pub fn parse(path: &str) -> Result<JsonPath, JsonPathError> {
    let mut body = path.trim();
    if let Some(inner) = body.strip_prefix('{').and_then(|b| b.strip_suffix('}')) {
        body = inner.trim();
    }
    let body = body.strip_prefix('$').unwrap_or(body);
    let steps = parse_steps(body, path)?;
    Ok(JsonPath {
        source: path.to_string(),
        steps,
    })
}

/// Evaluates `path` against `obj` and returns every match in document order (an empty
/// vector when a key is missing), which is what "all matches" means to client-go.
pub fn evaluate(path: &str, obj: &Value) -> Result<Vec<Value>, JsonPathError> {
    parse(path)?.evaluate(obj)
}

impl JsonPath {
    /// All matches, cloned; see [`evaluate`].
    pub fn evaluate(&self, obj: &Value) -> Result<Vec<Value>, JsonPathError> {
        Ok(self.evaluate_refs(obj)?.into_iter().cloned().collect())
    }

    /// All matches borrowed from `obj`, for callers that only inspect the first one.
    pub fn evaluate_refs<'a>(&self, obj: &'a Value) -> Result<Vec<&'a Value>, JsonPathError> {
        walk(&self.steps, vec![obj])
    }

    /// The expression as written, for column descriptions and error messages.
    pub fn as_str(&self) -> &str {
        &self.source
    }
}

impl FromStr for JsonPath {
    type Err = JsonPathError;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        parse(s)
    }
}

impl fmt::Display for JsonPath {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.source)
    }
}

/// Renders one match as client-go's `PrintResults` does, which is how kube-apiserver fills
/// `string` printer columns: strings raw, numbers like Go's `%v`, maps and arrays as
/// compact JSON, and a JSON `null` as Go's `<no value>`.
pub fn print_value(v: &Value) -> String {
    match v {
        Value::String(s) => s.clone(),
        Value::Null => "<no value>".to_string(),
        Value::Bool(b) => b.to_string(),
        Value::Number(n) if n.is_f64() => go_float(n.as_f64().unwrap_or_default()),
        Value::Number(n) => n.to_string(),
        Value::Array(_) | Value::Object(_) => v.to_string(),
    }
}

/// Go's `fmt.Print(float64)` (`%g`, shortest digits): exponent form when the decimal
/// exponent is < -4 or >= 6, with at least two exponent digits, e.g. `1e+06`, `1e-05`.
fn go_float(f: f64) -> String {
    if !f.is_finite() {
        return if f.is_nan() {
            "NaN".into()
        } else if f > 0.0 {
            "+Inf".into()
        } else {
            "-Inf".into()
        };
    }
    let sci = format!("{f:e}");
    let (mantissa, exp) = sci.split_once('e').unwrap_or((&sci, "0"));
    let exp: i32 = exp.parse().unwrap_or(0);
    if (-4..6).contains(&exp) {
        format!("{f}")
    } else {
        let sign = if exp < 0 { '-' } else { '+' };
        format!("{mantissa}e{sign}{:02}", exp.abs())
    }
}

fn parse_err(whole: &str, reason: impl Into<String>) -> JsonPathError {
    JsonPathError::Parse {
        path: whole.to_string(),
        reason: reason.into(),
    }
}

fn parse_steps(src: &str, whole: &str) -> Result<Vec<Step>, JsonPathError> {
    let chars: Vec<char> = src.chars().collect();
    let mut steps = Vec::new();
    let mut i = 0;
    while i < chars.len() {
        match chars[i] {
            c if c.is_whitespace() => i += 1,
            '.' => {
                if chars.get(i + 1) == Some(&'.') {
                    return Err(JsonPathError::Unsupported("recursive descent '..'"));
                }
                i += 1;
                let mut name = String::new();
                while let Some(&c) = chars.get(i) {
                    if c == '\\' {
                        if let Some(&next) = chars.get(i + 1) {
                            name.push(next);
                        }
                        i += 2;
                        continue;
                    }
                    if c.is_whitespace() || ".,[]$@{}".contains(c) {
                        break;
                    }
                    name.push(c);
                    i += 1;
                }
                match name.as_str() {
                    "" => {}
                    "*" => steps.push(Step::Wildcard),
                    _ => steps.push(Step::Field(name)),
                }
            }
            '[' if chars.get(i + 1) == Some(&'?') => {
                let (filter, next) = parse_filter(&chars, i, whole)?;
                steps.push(Step::Filter(Box::new(filter)));
                i = next;
            }
            '[' => {
                let close = chars[i..]
                    .iter()
                    .position(|&c| c == ']')
                    .ok_or_else(|| parse_err(whole, "unterminated array"))?;
                let inner: String = chars[i + 1..i + close].iter().collect();
                steps.push(parse_bracket(inner.trim(), whole)?);
                i += close + 1;
            }
            c => return Err(parse_err(whole, format!("unrecognized character {c:?}"))),
        }
    }
    Ok(steps)
}

fn parse_bracket(inner: &str, whole: &str) -> Result<Step, JsonPathError> {
    if inner == "*" {
        return Ok(Step::Wildcard);
    }
    if let Some(key) = unquote(inner) {
        return Ok(Step::Field(key));
    }
    if inner.contains(',') {
        return Err(JsonPathError::Unsupported("union '[a,b]'"));
    }
    let int = |s: &str| -> Result<Option<i64>, JsonPathError> {
        let s = s.trim();
        if s.is_empty() {
            return Ok(None);
        }
        s.parse()
            .map(Some)
            .map_err(|_| parse_err(whole, format!("invalid array index {s:?}")))
    };
    if inner.contains(':') {
        let parts: Vec<&str> = inner.split(':').collect();
        if parts.len() > 3 || (parts.len() == 3 && !matches!(int(parts[2])?, None | Some(1))) {
            return Err(JsonPathError::Unsupported("slice step"));
        }
        return Ok(Step::Slice(int(parts[0])?, int(parts[1])?));
    }
    int(inner)?
        .map(Step::Index)
        .ok_or_else(|| parse_err(whole, "empty array index"))
}

/// Parses `[?( ... )]` starting at `start` (the `[`); returns the filter and the index
/// just past the closing `]`.
fn parse_filter(
    chars: &[char],
    start: usize,
    whole: &str,
) -> Result<(Filter, usize), JsonPathError> {
    if chars.get(start + 2) != Some(&'(') {
        return Err(parse_err(whole, "filter must be written [?(...)]"));
    }
    let mut quote: Option<char> = None;
    let mut i = start + 3;
    let body_start = i;
    loop {
        let c = *chars
            .get(i)
            .ok_or_else(|| parse_err(whole, "unterminated filter"))?;
        match (quote, c) {
            (Some(_), '\\') => i += 1,
            (Some(q), c) if c == q => quote = None,
            (None, '"' | '\'') => quote = Some(c),
            (None, ')') if chars.get(i + 1) == Some(&']') => break,
            _ => {}
        }
        i += 1;
    }
    let body: String = chars[body_start..i].iter().collect();
    Ok((parse_filter_body(&body, whole)?, i + 2))
}

fn parse_filter_body(body: &str, whole: &str) -> Result<Filter, JsonPathError> {
    // Like client-go's `^([^!<>=]+)([!<>=]+)(.+?)$`, but quote-aware on the left side.
    let mut quote = None;
    let mut op_at = None;
    for (idx, c) in body.char_indices() {
        match (quote, c) {
            (Some(q), c) if c == q => quote = None,
            (None, '"' | '\'') => quote = Some(c),
            (None, '!' | '<' | '>' | '=') => {
                op_at = Some(idx);
                break;
            }
            _ => {}
        }
    }
    let Some(op_at) = op_at else {
        return Ok(Filter {
            left: parse_operand(body, whole)?,
            cmp: None,
        });
    };
    let rest = &body[op_at..];
    let op_len = rest.find(|c| !"!<>=".contains(c)).unwrap_or(rest.len());
    let op = match &rest[..op_len] {
        "==" => CmpOp::Eq,
        "!=" => CmpOp::Ne,
        "<" => CmpOp::Lt,
        "<=" => CmpOp::Le,
        ">" => CmpOp::Gt,
        ">=" => CmpOp::Ge,
        other => {
            return Err(parse_err(
                whole,
                format!("unrecognized filter operator {other}"),
            ));
        }
    };
    Ok(Filter {
        left: parse_operand(&body[..op_at], whole)?,
        cmp: Some((op, parse_operand(&rest[op_len..], whole)?)),
    })
}

fn parse_operand(text: &str, whole: &str) -> Result<Operand, JsonPathError> {
    let text = text.trim();
    if let Some(rest) = text.strip_prefix('@').or_else(|| text.strip_prefix('$')) {
        return Ok(Operand::Path(parse_steps(rest, whole)?));
    }
    if let Some(s) = unquote(text) {
        return Ok(Operand::Literal(Value::String(s)));
    }
    match text {
        "true" => return Ok(Operand::Literal(Value::Bool(true))),
        "false" => return Ok(Operand::Literal(Value::Bool(false))),
        _ => {}
    }
    match serde_json::from_str::<Value>(text) {
        Ok(n @ Value::Number(_)) => Ok(Operand::Literal(n)),
        _ => Err(parse_err(whole, format!("invalid filter operand {text:?}"))),
    }
}

/// `'x'` or `"x"` with backslash escapes; `None` if `s` is not one quoted string.
fn unquote(s: &str) -> Option<String> {
    if s.len() < 2 {
        return None;
    }
    let q = s.chars().next().filter(|c| *c == '"' || *c == '\'')?;
    let inner = s.strip_prefix(q)?.strip_suffix(q)?;
    let mut out = String::new();
    let mut chars = inner.chars();
    while let Some(c) = chars.next() {
        if c == '\\' {
            match chars.next()? {
                'n' => out.push('\n'),
                't' => out.push('\t'),
                other => out.push(other),
            }
        } else if c == q {
            return None;
        } else {
            out.push(c);
        }
    }
    Some(out)
}

fn type_name(v: &Value) -> &'static str {
    match v {
        Value::Null => "null",
        Value::Bool(_) => "bool",
        Value::Number(_) => "number",
        Value::String(_) => "string",
        Value::Array(_) => "array",
        Value::Object(_) => "map[string]interface {}",
    }
}

fn walk<'a>(steps: &[Step], input: Vec<&'a Value>) -> Result<Vec<&'a Value>, JsonPathError> {
    let mut cur = input;
    for step in steps {
        let mut next = Vec::new();
        for v in cur {
            match (step, v) {
                (Step::Field(name), Value::Object(m)) => next.extend(m.get(name)),
                (Step::Field(_), _) => {}
                (Step::Wildcard, Value::Object(m)) => next.extend(m.values()),
                (Step::Wildcard, Value::Array(a)) => next.extend(a.iter()),
                (Step::Wildcard, _) => {}
                (_, Value::Null) => {}
                (Step::Index(i), Value::Array(a)) => {
                    let idx = if *i < 0 { i + a.len() as i64 } else { *i };
                    let item = usize::try_from(idx).ok().and_then(|u| a.get(u));
                    next.push(item.ok_or(JsonPathError::OutOfBounds {
                        index: idx,
                        len: a.len(),
                    })?);
                }
                (Step::Slice(start, end), Value::Array(a)) => {
                    let len = a.len() as i64;
                    let norm = |x: i64| if x < 0 { x + len } else { x };
                    let s = norm(start.unwrap_or(0));
                    let e = norm(end.unwrap_or(len));
                    if s == e {
                        continue;
                    }
                    if !(0..len).contains(&s) || !(0..=len).contains(&e) || s > e {
                        return Err(JsonPathError::OutOfBounds {
                            index: s.max(e),
                            len: a.len(),
                        });
                    }
                    next.extend(&a[s as usize..e as usize]);
                }
                (Step::Filter(f), Value::Array(a)) => {
                    for el in a {
                        if f.matches(el)? {
                            next.push(el);
                        }
                    }
                }
                (_, other) => return Err(JsonPathError::NotArray(type_name(other))),
            }
        }
        cur = next;
    }
    Ok(cur)
}

impl Operand {
    fn values<'a>(&'a self, el: &'a Value) -> Result<Vec<&'a Value>, JsonPathError> {
        match self {
            Operand::Path(steps) => walk(steps, vec![el]),
            Operand::Literal(v) => Ok(vec![v]),
        }
    }
}

impl Filter {
    fn matches(&self, el: &Value) -> Result<bool, JsonPathError> {
        let Some((op, right)) = &self.cmp else {
            return Ok(self.left.values(el).is_ok_and(|l| !l.is_empty()));
        };
        let single = |vals: Vec<&Value>| -> Result<Option<Value>, JsonPathError> {
            match vals.len() {
                0 => Ok(None),
                1 => Ok(Some(vals[0].clone())),
                _ => Err(JsonPathError::MultipleOperands),
            }
        };
        let Some(l) = single(self.left.values(el)?)? else {
            return Ok(false);
        };
        let Some(r) = single(right.values(el)?)? else {
            return Ok(false);
        };
        compare(&l, *op, &r)
    }
}

/// Go text/template comparison semantics: same-kind operands only; bools and nulls only
/// support equality. (Go also refuses int-vs-float; we compare numbers numerically.)
fn compare(l: &Value, op: CmpOp, r: &Value) -> Result<bool, JsonPathError> {
    let ord = match (l, r) {
        (Value::String(a), Value::String(b)) => a.cmp(b),
        (Value::Number(a), Value::Number(b)) => match (a.as_i64(), b.as_i64()) {
            (Some(x), Some(y)) => x.cmp(&y),
            _ => {
                let (x, y) = (
                    a.as_f64().unwrap_or(f64::NAN),
                    b.as_f64().unwrap_or(f64::NAN),
                );
                x.partial_cmp(&y).ok_or(JsonPathError::IncompatibleTypes)?
            }
        },
        (Value::Bool(_), Value::Bool(_)) | (Value::Null, Value::Null) => {
            return match op {
                CmpOp::Eq => Ok(l == r),
                CmpOp::Ne => Ok(l != r),
                _ => Err(JsonPathError::IncompatibleTypes),
            };
        }
        _ => return Err(JsonPathError::IncompatibleTypes),
    };
    Ok(match op {
        CmpOp::Eq => ord == Ordering::Equal,
        CmpOp::Ne => ord != Ordering::Equal,
        CmpOp::Lt => ord == Ordering::Less,
        CmpOp::Le => ord != Ordering::Greater,
        CmpOp::Gt => ord == Ordering::Greater,
        CmpOp::Ge => ord != Ordering::Less,
    })
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;
    use serde_json::json;

    fn cert() -> Value {
        json!({
            "metadata": {"name": "foo", "creationTimestamp": "2024-01-01T00:00:00Z",
                          "annotations": {"cert-manager.io/issuer.name": "ca"}},
            "spec": {"secretName": "foo-tls", "username": "bob", "dnsNames": ["a", "b", "c"]},
            "status": {
                "notAfter": "2025-01-01T00:00:00Z",
                "conditions": [
                    {"type": "Issuing", "status": "False", "observedGeneration": 1},
                    {"type": "Ready", "status": "True", "observedGeneration": 2}
                ]
            }
        })
    }

    fn eval(path: &str) -> Vec<Value> {
        evaluate(path, &cert()).unwrap()
    }

    #[test]
    fn cert_manager_printer_columns() {
        assert_eq!(
            eval(r#".status.conditions[?(@.type == "Ready")].status"#),
            vec![json!("True")]
        );
        assert_eq!(eval(".spec.secretName"), vec![json!("foo-tls")]);
        assert_eq!(
            eval(".status.notAfter"),
            vec![json!("2025-01-01T00:00:00Z")]
        );
        assert_eq!(
            eval(".metadata.creationTimestamp"),
            vec![json!("2024-01-01T00:00:00Z")]
        );
        assert_eq!(eval(".spec.username"), vec![json!("bob")]);
    }

    #[test]
    fn filter_spellings() {
        for p in [
            r#".status.conditions[?(@.type=="Ready")].status"#,
            ".status.conditions[?(@.type == 'Ready')].status",
            ".status.conditions[?( @.type=='Ready' )].status",
            r#"{.status.conditions[?(@.type=="Ready")].status}"#,
            r#"$.status.conditions[?(@.type!="Issuing")].status"#,
        ] {
            assert_eq!(eval(p), vec![json!("True")], "{p}");
        }
        assert_eq!(
            eval(".status.conditions[?(@.observedGeneration == 1)].type"),
            vec![json!("Issuing")]
        );
        assert_eq!(
            eval(".status.conditions[?(@.observedGeneration >= 1)].type").len(),
            2
        );
        assert_eq!(eval(".status.conditions[?(@.type)].type").len(), 2);
        assert!(eval(".status.conditions[?(@.reason)].type").is_empty());
        let v = json!({"items": [{"ok": true, "n": "x"}, {"ok": false, "n": "y"}]});
        assert_eq!(
            evaluate(".items[?(@.ok == true)].n", &v).unwrap(),
            vec![json!("x")]
        );
        // Type mismatch is an error, as in client-go.
        assert_eq!(
            evaluate(".items[?(@.ok == 'true')].n", &v),
            Err(JsonPathError::IncompatibleTypes)
        );
    }

    #[test]
    fn indexes_wildcards_escapes() {
        assert_eq!(eval(".spec.dnsNames[0]"), vec![json!("a")]);
        assert_eq!(eval(".spec.dnsNames[-1]"), vec![json!("c")]);
        assert_eq!(eval(".spec.dnsNames[*]").len(), 3);
        assert_eq!(eval(".spec.dnsNames[0:2]"), vec![json!("a"), json!("b")]);
        assert_eq!(
            eval(".status.conditions[*].type"),
            vec![json!("Issuing"), json!("Ready")]
        );
        assert_eq!(
            eval(r".metadata.annotations.cert-manager\.io/issuer\.name"),
            vec![json!("ca")]
        );
        assert_eq!(
            eval(".metadata.annotations['cert-manager.io/issuer.name']"),
            vec![json!("ca")]
        );
        assert!(matches!(
            evaluate(".spec.dnsNames[5]", &cert()),
            Err(JsonPathError::OutOfBounds { index: 5, len: 3 })
        ));
    }

    #[test]
    fn missing_paths_are_empty() {
        assert!(eval(".spec.nope").is_empty());
        assert!(eval(".status.nope.deeper").is_empty());
        assert!(eval(".spec.secretName.deeper").is_empty());
        assert!(eval(r#".status.missing[?(@.type=="Ready")].status"#).is_empty());
        assert!(eval(r#".status.conditions[?(@.type=="Nope")].status"#).is_empty());
        let bare = json!({"metadata": {"name": "x"}});
        assert!(
            evaluate(r#".status.conditions[?(@.type=="Ready")].status"#, &bare)
                .unwrap()
                .is_empty()
        );
    }

    #[test]
    fn parse_errors() {
        assert!(matches!(
            parse("status.phase"),
            Err(JsonPathError::Parse { .. })
        ));
        assert!(matches!(parse(".a[0"), Err(JsonPathError::Parse { .. })));
        assert!(matches!(
            parse(".a[?(@.x == 'y']"),
            Err(JsonPathError::Parse { .. })
        ));
        assert!(matches!(
            parse(".a[?(@.x = 'y')]"),
            Err(JsonPathError::Parse { .. })
        ));
        assert_eq!(
            parse("..a"),
            Err(JsonPathError::Unsupported("recursive descent '..'"))
        );
        assert_eq!(
            parse(".a[0,1]"),
            Err(JsonPathError::Unsupported("union '[a,b]'"))
        );
        assert_eq!(parse(".spec.x").unwrap().to_string(), ".spec.x");
    }

    #[test]
    fn printing_like_client_go() {
        assert_eq!(print_value(&json!("s")), "s");
        assert_eq!(print_value(&json!(3)), "3");
        assert_eq!(print_value(&json!(1.5)), "1.5");
        assert_eq!(print_value(&json!(1000000.0)), "1e+06");
        assert_eq!(print_value(&json!(0.00001)), "1e-05");
        assert_eq!(print_value(&json!(true)), "true");
        assert_eq!(print_value(&json!(null)), "<no value>");
        assert_eq!(
            print_value(&json!({"b": 1, "a": [1]})),
            r#"{"a":[1],"b":1}"#
        );
    }
}
