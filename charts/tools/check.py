#!/usr/bin/env python3
"""Checks the certwasm Helm chart without helm.

Renders the chart with its default values and with ci/full-values.yaml
through the Go renderer in charts/tools/render (Go's text/template, as Helm
uses), then verifies:

- the values files match values.schema.json, and every value the schema
  names changes the rendered output when changed (no dead values);
- every object's apiVersion/kind is served by Kubernetes 1.31 and later;
- the pods run as non-root with seccomp RuntimeDefault, no privilege
  escalation, all capabilities dropped and a read-only root filesystem;
- with --audit FILE (lines `verb group resource subresource` that the
  embedded API recorded from the controllers during the end-to-end tests,
  see host/src/apiserver/audit.rs), the roles bound to the controller's
  ServiceAccount grant every call: a missing rule fails the check.

Usage: check.py [--audit FILE] [--go GO] [--keep DIR]
Needs PyYAML and jsonschema (scripts/setup installs them in .tools/py).
"""

import argparse
import copy
import json
import os
import subprocess
import sys
import tempfile

import jsonschema
import yaml

ROOT = os.path.abspath(os.path.join(os.path.dirname(__file__), "..", ".."))
CHART = os.path.join(ROOT, "charts", "certwasm")
TOOLS = os.path.join(ROOT, "charts", "tools")
RELEASE, NAMESPACE = "certwasm", "cert-manager"

# (apiVersion, kind) served by Kubernetes 1.31 and every later release so
# far; the chart must use nothing removed or beta.
SERVED = {
    ("v1", "ServiceAccount"),
    ("v1", "Service"),
    ("v1", "ConfigMap"),
    ("v1", "Secret"),
    ("apps/v1", "Deployment"),
    ("rbac.authorization.k8s.io/v1", "ClusterRole"),
    ("rbac.authorization.k8s.io/v1", "ClusterRoleBinding"),
    ("rbac.authorization.k8s.io/v1", "Role"),
    ("rbac.authorization.k8s.io/v1", "RoleBinding"),
    ("policy/v1", "PodDisruptionBudget"),
    ("networking.k8s.io/v1", "NetworkPolicy"),
    ("apiextensions.k8s.io/v1", "CustomResourceDefinition"),
    ("admissionregistration.k8s.io/v1", "ValidatingWebhookConfiguration"),
    ("admissionregistration.k8s.io/v1", "MutatingWebhookConfiguration"),
}
# Not Kubernetes' own: served where the Prometheus operator's CRDs are.
THIRD_PARTY = {("monitoring.coreos.com/v1", "ServiceMonitor")}

failures = []


def fail(message):
    failures.append(message)
    print(f"FAIL: {message}")


def merge(base, layer):
    out = dict(base)
    for key, value in layer.items():
        if isinstance(value, dict) and isinstance(out.get(key), dict):
            out[key] = merge(out[key], value)
        else:
            out[key] = value
    return out


class Renderer:
    def __init__(self, go, workdir):
        self.binary = os.path.join(workdir, "render")
        env = dict(os.environ, GOTOOLCHAIN="local", GOPROXY="off", GOFLAGS="-mod=mod")
        env.setdefault("GOCACHE", os.path.join(ROOT, "target", "go-cache"))
        subprocess.run([go, "build", "-o", self.binary, "./render"], cwd=TOOLS, env=env, check=True)
        self.workdir = workdir

    def render(self, values):
        """(ok, output or error) for one values tree."""
        path = os.path.join(self.workdir, "values.json")
        with open(path, "w") as f:
            json.dump(values, f)
        result = subprocess.run(
            [self.binary, "-chart", CHART, "-values", path, "-name", RELEASE, "-namespace", NAMESPACE],
            capture_output=True,
            text=True,
        )
        if result.returncode != 0:
            return False, result.stderr.strip()
        return True, result.stdout


def documents(text):
    return [d for d in yaml.safe_load_all(text) if d]


def leaf_paths(schema, prefix=()):
    """Paths of the schema's leaves: scalars, lists and free-form maps."""
    props = schema.get("properties")
    if schema.get("type") == "object" and props:
        for key, sub in props.items():
            yield from leaf_paths(sub, prefix + (key,))
    else:
        yield prefix


def get_path(tree, path):
    for key in path:
        tree = tree[key]
    return tree


def set_path(tree, path, value):
    for key in path[:-1]:
        tree = tree.setdefault(key, {})
    tree[path[-1]] = value


def perturbed(value):
    """A different value of the same shape."""
    if isinstance(value, bool):
        return not value
    if isinstance(value, (int, float)):
        return value + 7
    if value is None:
        return 3
    if isinstance(value, str):
        return value + "zz"
    if isinstance(value, list):
        if value and isinstance(value[0], dict):
            return value + [{"zzsentinel": "zz"}]
        return value + ["zzsentinel"]
    if isinstance(value, dict):
        return dict(value, zzsentinel="zz")
    raise TypeError(value)


def check_schema(schema, defaults, variants):
    validator = jsonschema.Draft7Validator(schema)
    for name, values in [("values.yaml", defaults)] + variants:
        for error in validator.iter_errors(values):
            fail(f"{name}: {'.'.join(map(str, error.path))}: {error.message}")


def check_values_used(renderer, schema, variants):
    """A value is used when changing it changes the rendering (or makes a
    template refuse it) under at least one of the ci/ values files."""
    bases = []
    for name, values in variants:
        ok, base = renderer.render(values)
        if not ok:
            fail(f"{name} does not render: {base}")
            return
        bases.append((values, base))
    unused = []
    paths = list(leaf_paths(schema))
    for path in paths:
        changed = False
        present = False
        for full, base in bases:
            values = copy.deepcopy(full)
            try:
                current = get_path(values, path)
            except KeyError:
                continue
            present = True
            set_path(values, path, perturbed(current))
            ok, out = renderer.render(values)
            if not ok or out != base:
                changed = True
                break
        if not present:
            fail(f"{'.'.join(path)} is in values.schema.json but set in no values file")
        elif not changed:
            unused.append(".".join(path))
    for path in unused:
        fail(f"value {path} is in values.schema.json but no template uses it")
    print(f"ok: {len(paths) - len(unused)} of {len(paths)} schema values change the rendering")


def check_api_versions(objects, label):
    for obj in objects:
        key = (obj.get("apiVersion"), obj.get("kind"))
        if key not in SERVED and key not in THIRD_PARTY:
            fail(f"{label}: {key[1]} {obj['metadata'].get('name')}: {key[0]} is not served by Kubernetes 1.31+")


def check_security(objects, label):
    for obj in objects:
        if obj["kind"] != "Deployment":
            continue
        name = f"{label}: Deployment {obj['metadata']['name']}"
        pod = obj["spec"]["template"]["spec"]
        pod_ctx = pod.get("securityContext") or {}
        if pod.get("hostPID") or pod.get("hostIPC"):
            fail(f"{name}: shares the host's namespaces")
        if pod.get("hostNetwork") and obj["metadata"]["labels"].get("app.kubernetes.io/component") != "webhook":
            fail(f"{name}: shares the host's namespaces")
        for volume in pod.get("volumes") or []:
            if "hostPath" in volume:
                fail(f"{name}: hostPath volume {volume['name']}")
        for container in pod.get("initContainers", []) + pod["containers"]:
            ctx = container.get("securityContext") or {}
            where = f"{name} container {container['name']}"
            if not (ctx.get("runAsNonRoot", pod_ctx.get("runAsNonRoot")) is True):
                fail(f"{where}: runAsNonRoot is not true")
            seccomp = ctx.get("seccompProfile", pod_ctx.get("seccompProfile")) or {}
            if seccomp.get("type") != "RuntimeDefault":
                fail(f"{where}: seccompProfile is not RuntimeDefault")
            if ctx.get("allowPrivilegeEscalation") is not False:
                fail(f"{where}: allowPrivilegeEscalation is not false")
            if "ALL" not in ((ctx.get("capabilities") or {}).get("drop") or []):
                fail(f"{where}: capabilities do not drop ALL")
            if ctx.get("readOnlyRootFilesystem") is not True:
                fail(f"{where}: readOnlyRootFilesystem is not true")
            if ctx.get("privileged"):
                fail(f"{where}: privileged")


def controller_rules(objects):
    """Rules of every Role and ClusterRole bound to the Deployment's
    ServiceAccount, with where they apply."""
    deployment = next(
        o
        for o in objects
        if o["kind"] == "Deployment" and o["metadata"]["labels"].get("app.kubernetes.io/component") == "controller"
    )
    account = deployment["spec"]["template"]["spec"]["serviceAccountName"]
    namespace = deployment["metadata"]["namespace"]
    roles = {
        (o["kind"], o["metadata"].get("namespace"), o["metadata"]["name"]): o
        for o in objects
        if o["kind"] in ("Role", "ClusterRole")
    }
    rules = []
    for binding in objects:
        if binding["kind"] not in ("RoleBinding", "ClusterRoleBinding"):
            continue
        if not any(
            s.get("kind") == "ServiceAccount" and s.get("name") == account and s.get("namespace") == namespace
            for s in binding.get("subjects") or []
        ):
            continue
        ref = binding["roleRef"]
        role_ns = binding["metadata"].get("namespace") if ref["kind"] == "Role" else None
        role = roles.get((ref["kind"], role_ns, ref["name"]))
        if role is None:
            fail(f"{binding['kind']} {binding['metadata']['name']} binds missing {ref['kind']} {ref['name']}")
            continue
        scope = binding["metadata"].get("namespace") if binding["kind"] == "RoleBinding" else "*"
        for rule in role.get("rules") or []:
            rules.append((scope, rule))
    return rules


def covers(rule, verb, group, resource):
    return (
        (group in rule.get("apiGroups", []) or "*" in rule.get("apiGroups", []))
        and (resource in rule.get("resources", []) or "*" in rule.get("resources", []))
        and (verb in rule.get("verbs", []) or "*" in rule.get("verbs", []))
    )


def check_rbac(objects, audit_path, leader_namespace, label):
    with open(audit_path) as f:
        calls = sorted({tuple(line.split()) for line in f if line.strip()})
    if not calls:
        fail(f"{audit_path} records no controller calls: were the end-to-end tests run with CERTWASM_AUDIT_FILE?")
        return
    rules = controller_rules(objects)
    seen = set()
    missing = 0
    for call in calls:
        verb, group, resource, sub = call
        group = "" if group == "core" else group
        name = resource if sub == "-" else f"{resource}/{sub}"
        # Leases are the leader election's, which only the Role in the
        # election namespace may grant; everything else cluster-wide.
        wanted = leader_namespace if (group, resource) == ("coordination.k8s.io", "leases") else "*"
        matches = [
            i for i, (scope, rule) in enumerate(rules) if scope == wanted and covers(rule, verb, group, name)
        ]
        seen.add((verb, group, name))
        if not matches:
            fail(f"RBAC ({label}): the controllers call `{verb}` on {name} ({group or 'core'}) but no rule grants it")
            missing += 1
    if not missing:
        print(f"ok: {label}: {len(calls)} distinct controller calls recorded, each granted")
    if label != "defaults":
        return
    for scope, rule in rules:
        unseen = [
            f"{verb} {resource}"
            for group in rule.get("apiGroups", [])
            for resource in rule.get("resources", [])
            for verb in rule.get("verbs", [])
            if (verb, group, resource) not in seen
        ]
        if unseen:
            groups = ",".join(g or "core" for g in rule.get("apiGroups", []))
            print(f"note: granted but not seen in the tests ({groups}): {', '.join(unseen)}")


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--audit", help="the controllers' recorded API calls")
    parser.add_argument("--go", default="go")
    args = parser.parse_args()

    with open(os.path.join(CHART, "values.yaml")) as f:
        defaults = yaml.safe_load(f)
    variants = []
    for name in sorted(os.listdir(os.path.join(CHART, "ci"))):
        with open(os.path.join(CHART, "ci", name)) as f:
            variants.append((f"ci/{name}", merge(defaults, yaml.safe_load(f))))
    with open(os.path.join(CHART, "values.schema.json")) as f:
        schema = json.load(f)

    with tempfile.TemporaryDirectory() as workdir:
        renderer = Renderer(args.go, workdir)
        check_schema(schema, defaults, variants)
        rendered = {}
        for label, values in [("defaults", defaults)] + variants:
            ok, out = renderer.render(values)
            if not ok:
                fail(f"{label} do not render: {out}")
                continue
            objects = documents(out)
            rendered[label] = objects
            kinds = sorted({o["kind"] for o in objects})
            print(f"ok: {label} render {len(objects)} objects ({', '.join(kinds)})")
            check_api_versions(objects, label)
            check_security(objects, label)
        check_values_used(renderer, schema, variants)

        # Refusals the templates must make.
        unpinned = merge(defaults, {"plugins": {"bundle": {"reference": "oci://registry.example/bundle:latest"}}})
        ok, out = renderer.render(unpinned)
        if ok or "pinned by digest" not in out:
            fail("a plugin bundle reference without a digest must be refused")
        ok, out = renderer.render(merge(defaults, {"crds": {"enabled": True, "keep": False}}))
        if not ok or "helm.sh/resource-policy" in out or out.count("kind: CustomResourceDefinition") != 6:
            fail("crds.enabled renders the six CRDs, and crds.keep=false drops the keep policy")
        if "ci/full-values.yaml" in rendered:
            crds = [o for o in rendered["ci/full-values.yaml"] if o["kind"] == "CustomResourceDefinition"]
            if len(crds) != 6 or any(
                o["metadata"].get("annotations", {}).get("helm.sh/resource-policy") != "keep" for o in crds
            ):
                fail("crds.keep must mark each of the six CRDs helm.sh/resource-policy: keep")

        if args.audit:
            all_values = dict([("defaults", defaults)] + variants)
            for label, objects in rendered.items():
                values = all_values[label]
                check_rbac(objects, args.audit, values["global"]["leaderElection"]["namespace"], label)
        else:
            print("note: no --audit file, RBAC coverage not checked")

    if failures:
        print(f"{len(failures)} chart check(s) failed")
        return 1
    print("chart checks passed")
    return 0


if __name__ == "__main__":
    sys.exit(main())
