//! The seed's ACME story against a real Pebble (Debian `pebble`, started
//! here on loopback) with `pebble-challtestsrv` as DNS: an Issuer pointing
//! at Pebble, an annotated Ingress and a Certificate with several names, in
//! `certwasm run`, driven with kubectl. Pebble validates HTTP-01 against
//! certwasm's own solver (its `httpPort`); the self-check resolves names
//! through challtestsrv (`--dns-nameservers`). The chain must verify
//! against Pebble's root, fetched from its management API.

// Test code: a failed unwrap is a failed test.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use std::path::Path;
use std::time::Duration;

use base64::Engine as _;
use common::pebble::{Pebble, free_port};
use common::{Embedded, openssl_verify};

/// A field of the first (only) object of a kind.
fn only(api: &Embedded, kind: &str, path: &str) -> String {
    api.kubectl_ok(&["get", kind, "-o", &format!("jsonpath={{.items[0]{path}}}")])
}

/// An Issuer for Pebble (HTTP-01 solver) and a Certificate for `names`.
fn issuer_and_certificate(pebble: &Pebble, certificate: &str, names: &str) -> String {
    let ca_bundle = base64::engine::general_purpose::STANDARD
        .encode(std::fs::read(&pebble.serving_ca).unwrap());
    format!(
        "apiVersion: cert-manager.io/v1
kind: Issuer
metadata:
  name: letsencrypt-staging
  namespace: default
spec:
  acme:
    server: {}
    email: user@example.com
    caBundle: {ca_bundle}
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
  name: {certificate}
  namespace: default
spec:
  secretName: {certificate}-tls
  dnsNames: {names}
  issuerRef:
    name: letsencrypt-staging
",
        pebble.directory
    )
}

fn verify_against_pebble(api: &Embedded, dir: &Path, pebble: &Pebble, secret: &str) {
    let chain = base64::engine::general_purpose::STANDARD
        .decode(api.jsonpath("secret", secret, ".data.tls\\.crt").trim())
        .unwrap();
    let verified = openssl_verify(dir, &pebble.root(), &chain);
    assert!(verified.contains(": OK"), "{secret}: {verified}");
}

#[test]
fn seed_flow_issuer_ingress_certificate_order_challenge_secret_against_pebble() {
    let dir = tempfile::tempdir().unwrap();
    let solver_port = free_port();
    let pebble = Pebble::start(dir.path(), solver_port, 5);
    let api = pebble.certwasm_run(&dir.path().join("data"), solver_port, solver_port, &[]);
    // The Issuer, and a Certificate with several names.
    api.apply_ok(&issuer_and_certificate(
        &pebble,
        "web",
        "[www.example.com, api.example.com, example.com]",
    ));
    let issuer = api.kubectl_until(&["describe", "issuer", "letsencrypt-staging"], |out| {
        out.contains("ACMEAccountRegistered")
    });
    assert!(
        issuer.contains("The ACME account was registered with the ACME server"),
        "{issuer}"
    );
    // status.acme, as cert-manager shows it: the account Pebble returned
    // (Pebble's account URLs are `<its base>/my-account/<id>`), and the
    // email of the spec.
    let uri = api.jsonpath("issuer", "letsencrypt-staging", ".status.acme.uri");
    let base = pebble.directory.trim_end_matches("/dir");
    assert!(
        uri.trim().starts_with(&format!("{base}/my-account/")),
        "{uri:?} is not an account of {base}"
    );
    let email = api.jsonpath(
        "issuer",
        "letsencrypt-staging",
        ".status.acme.lastRegisteredEmail",
    );
    assert_eq!(email.trim(), "user@example.com");
    // The account key stays in the host, in the Secret the Issuer names.
    let key = api.jsonpath("secret", "letsencrypt-staging", ".data.tls\\.key");
    assert!(!key.is_empty());

    // The seed: an Ingress annotated with the issuer.
    api.apply_ok(
        "apiVersion: networking.k8s.io/v1
kind: Ingress
metadata:
  name: shop
  namespace: default
  annotations:
    cert-manager.io/issuer: letsencrypt-staging
spec:
  ingressClassName: nginx
  tls:
  - hosts: [shop.example.com]
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
",
    );
    let root = pebble.root();
    for (certificate, secret) in [("web", "web-tls"), ("shop-tls", "shop-tls")] {
        api.kubectl_until(
            &[
                "get",
                "certificate",
                certificate,
                "-o",
                "jsonpath={.status.conditions[?(@.type==\"Ready\")].status}",
            ],
            |out| out.trim() == "True",
        );
        let chain = base64::engine::general_purpose::STANDARD
            .decode(api.jsonpath("secret", secret, ".data.tls\\.crt").trim())
            .unwrap();
        let verified = openssl_verify(dir.path(), &root, &chain);
        assert!(verified.contains(": OK"), "{certificate}: {verified}");
    }

    // The Order tells the story, and its Challenges are gone once done.
    let orders = api.kubectl_ok(&["get", "orders"]);
    assert!(orders.contains("valid"), "{orders}");
    let order_name = api
        .kubectl_ok(&["get", "orders", "-o", "name"])
        .lines()
        .find(|l| l.contains("/web-1-"))
        .unwrap()
        .to_owned();
    let order = api.kubectl_ok(&["describe", &order_name]);
    for expected in [
        "Created Challenge resource",
        "for domain \"www.example.com\"",
        "Order completed successfully",
        "Finalize URL:",
    ] {
        assert!(
            order.contains(expected),
            "{expected}: {order}\n{}",
            api.kubectl_ok(&["get", "events", "-o", "wide"])
        );
    }
    let request = api.kubectl_ok(&["describe", "certificaterequest", "web-1"]);
    assert!(request.contains("OrderCreated"), "{request}");
    api.kubectl_until(&["get", "challenges", "-o", "name"], |out| {
        out.trim().is_empty()
    });
}

#[test]
fn half_of_all_nonces_rejected_still_issues() {
    let dir = tempfile::tempdir().unwrap();
    let solver_port = free_port();
    let pebble = Pebble::start(dir.path(), solver_port, 50);
    let api = pebble.certwasm_run(&dir.path().join("data"), solver_port, solver_port, &[]);
    api.apply_ok(&issuer_and_certificate(
        &pebble,
        "nonces",
        "[a.example.com, b.example.com]",
    ));
    api.wait_ready("nonces");
    verify_against_pebble(&api, dir.path(), &pebble, "nonces-tls");
}

#[test]
fn an_unreachable_solver_fails_the_order_and_the_certificate_says_why_and_backs_off() {
    let dir = tempfile::tempdir().unwrap();
    let solver_port = free_port();
    // Pebble validates on a port nobody serves; the self-check (on the
    // solver's own port) passes, so the server is asked and says no.
    let pebble = Pebble::start(dir.path(), free_port(), 5);
    let api = pebble.certwasm_run(&dir.path().join("data"), solver_port, solver_port, &[]);
    api.apply_ok(&issuer_and_certificate(
        &pebble,
        "lost",
        "[lost.example.com]",
    ));
    let described = api.kubectl_until(&["describe", "certificate", "lost"], |out| {
        out.contains("The certificate request has failed to complete and will be retried")
    });
    assert!(described.contains("Failed"), "{described}");
    let attempts = api.jsonpath("certificate", "lost", ".status.failedIssuanceAttempts");
    assert_eq!(attempts.trim(), "1");
    assert!(
        !api.jsonpath("certificate", "lost", ".status.lastFailureTime")
            .is_empty()
    );
    let state = only(&api, "orders", ".status.state");
    assert_eq!(
        state.trim(),
        "invalid",
        "{}",
        api.kubectl_ok(&["describe", "orders"])
    );
    let reason = api.jsonpath(
        "certificaterequest",
        "lost-1",
        ".status.conditions[?(@.type==\"Ready\")].message",
    );
    assert!(
        reason.contains("invalid") || reason.contains("connection"),
        "{reason}"
    );
    // Backing off: no second request within the first hour.
    std::thread::sleep(Duration::from_secs(2));
    let requests = api.kubectl_ok(&["get", "certificaterequests", "-o", "name"]);
    assert_eq!(requests.lines().count(), 1, "{requests}");
}

#[test]
fn a_kill_9_mid_order_resumes_the_same_order_after_restart() {
    let dir = tempfile::tempdir().unwrap();
    let solver_port = free_port();
    let pebble = Pebble::start(dir.path(), solver_port, 5);
    let data = dir.path().join("data");
    // First run: the self-check looks at a dead port, so the challenge is
    // presented but never handed to the server; the order stays pending.
    let api = pebble.certwasm_run(&data, solver_port, free_port(), &[]);
    api.apply_ok(&issuer_and_certificate(
        &pebble,
        "resumed",
        "[resumed.example.com]",
    ));
    let challenge = api.kubectl_until(&["describe", "challenges"], |out| {
        out.contains("Waiting for HTTP-01 challenge propagation")
    });
    assert!(challenge.contains("PresentError"), "{challenge}");
    let url_before = only(&api, "orders", ".status.url");
    assert!(url_before.contains("/my-order/"), "{url_before}");
    api.kill9();

    // Second run on the same data: the same order goes on to valid.
    let api = pebble.certwasm_run(&data, solver_port, solver_port, &[]);
    api.wait_ready("resumed");
    verify_against_pebble(&api, dir.path(), &pebble, "resumed-tls");
    let orders = api.kubectl_ok(&["get", "orders", "-o", "name"]);
    assert_eq!(orders.lines().count(), 1, "{orders}");
    assert_eq!(only(&api, "orders", ".status.url"), url_before);
    assert_eq!(only(&api, "orders", ".status.state").trim(), "valid");
}
