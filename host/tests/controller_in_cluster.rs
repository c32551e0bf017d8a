//! `certwasm controller` as the Helm chart runs it — the in-cluster
//! binary with its kubeconfig, leader election and the chart's flags —
//! against the embedded API serving as the cluster (`certwasm run
//! --api-only`), driven by the real kubectl. Two replicas: one holds the
//! Lease and issues; when it stops, the other takes over. With
//! `CERTWASM_AUDIT_FILE` set, these calls (leases included) are what the
//! chart's RBAC check compares the ClusterRole and Role with.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use common::Embedded;

/// One `certwasm controller` replica named `pod`.
fn replica(server: &Embedded, pod: &str) -> Child {
    Command::new(env!("CARGO_BIN_EXE_certwasm"))
        .arg("controller")
        .args(["--metrics-listen-address", "127.0.0.1:0"])
        .args(["--http01-solver-address", "off"])
        .args(["--leader-election-namespace", "kube-system"])
        .args(["--leader-election-retry-period", "200ms"])
        .args(["--leader-election-lease-duration", "15s"])
        .args(["--default-issuer-name", "selfsigned"])
        .args(["--default-issuer-kind", "ClusterIssuer"])
        .env("KUBECONFIG", server.kubeconfig())
        .env("POD_NAMESPACE", "cert-manager")
        .env("POD_NAME", pod)
        .env_remove("HOME")
        .env(
            "CERTWASM_CACHE_DIR",
            server.dir.join(format!("cache-{pod}")),
        )
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .expect("certwasm controller runs")
}

fn holder(server: &Embedded) -> String {
    let out = server.kubectl(&[
        "get",
        "lease",
        "-n",
        "kube-system",
        "cert-manager-controller",
        "-o",
        "jsonpath={.spec.holderIdentity}",
    ]);
    String::from_utf8_lossy(&out.stdout).into_owned()
}

/// Waits (a safety net against hangs, not a timing assertion) until the
/// Lease's holder satisfies `done`.
fn wait_holder(server: &Embedded, done: impl Fn(&str) -> bool) -> String {
    let deadline = Instant::now() + Duration::from_secs(90);
    loop {
        let now = holder(server);
        if done(&now) {
            return now;
        }
        assert!(Instant::now() < deadline, "lease holder stuck at {now:?}");
        std::thread::sleep(Duration::from_millis(100));
    }
}

fn terminate(child: &mut Child) {
    let status = Command::new("kill")
        .args(["-TERM", &child.id().to_string()])
        .status()
        .expect("kill runs");
    assert!(status.success());
    let _ = child.wait();
}

const ISSUER: &str = r#"
apiVersion: cert-manager.io/v1
kind: ClusterIssuer
metadata:
  name: selfsigned
spec:
  selfSigned: {}
"#;

fn certificate(name: &str) -> String {
    format!(
        r#"
apiVersion: cert-manager.io/v1
kind: Certificate
metadata:
  name: {name}
  namespace: default
spec:
  secretName: {name}-tls
  dnsNames: [{name}.example.com]
  issuerRef:
    name: selfsigned
    kind: ClusterIssuer
"#
    )
}

#[test]
fn replicas_elect_a_leader_issue_and_hand_over() {
    let dir = tempfile::tempdir().unwrap();
    let server = Embedded::start_with(dir.path(), &["--api-only"]);
    for namespace in ["kube-system", "cert-manager", "default"] {
        let _ = server.kubectl(&["create", "namespace", namespace]);
    }
    server.apply_ok(ISSUER);

    let mut first = replica(&server, "certwasm-a");
    let leader = wait_holder(&server, |h| h.starts_with("certwasm-a_"));
    let mut second = replica(&server, "certwasm-b");

    server.apply_ok(&certificate("one"));
    server.wait_ready("one");
    // ingress-shim with the chart's ingressShim.defaultIssuer*: an Ingress
    // annotated kubernetes.io/tls-acme alone gets a Certificate from the
    // default issuer.
    server.apply_ok(
        r#"
apiVersion: networking.k8s.io/v1
kind: Ingress
metadata:
  name: web
  namespace: default
  annotations:
    kubernetes.io/tls-acme: "true"
spec:
  tls:
    - hosts: [web.example.com]
      secretName: web-tls
  rules: []
"#,
    );
    server.wait_ready("web-tls");
    assert_eq!(
        server.jsonpath("certificate", "web-tls", ".spec.issuerRef.name"),
        "selfsigned"
    );
    assert_eq!(
        holder(&server),
        leader,
        "the standby replica must not take the lease"
    );

    // The leader stops (a rolling update, a drained node): it releases the
    // Lease and the standby takes over and issues.
    terminate(&mut first);
    wait_holder(&server, |h| h.starts_with("certwasm-b_"));
    server.apply_ok(&certificate("two"));
    server.wait_ready("two");
    terminate(&mut second);
}
