//! The certificate lifecycle end to end in `certwasm run`, driven with the
//! real kubectl and the `certwasm` cmctl verbs: a SelfSigned ClusterIssuer,
//! a CA Certificate, a CA Issuer, leaves of every key type and SAN kind
//! (checked with `openssl verify`), re-issuance on a deleted Secret, a
//! changed spec and `certwasm renew`, rotationPolicy Never, and the
//! documented conditions and events for what goes wrong.

// Test code: a failed unwrap is a failed test.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use base64::Engine as _;
use common::{Embedded, openssl_verify, text};

const CA_CHAIN: &str = "apiVersion: cert-manager.io/v1
kind: ClusterIssuer
metadata:
  name: selfsigned
spec:
  selfSigned: {}
---
apiVersion: cert-manager.io/v1
kind: Certificate
metadata:
  name: root-ca
  namespace: default
spec:
  isCA: true
  commonName: certwasm e2e root
  secretName: root-ca
  privateKey:
    algorithm: ECDSA
    size: 256
  issuerRef:
    name: selfsigned
    kind: ClusterIssuer
---
apiVersion: cert-manager.io/v1
kind: Issuer
metadata:
  name: ca
  namespace: default
spec:
  ca:
    secretName: root-ca
";

fn leaf(name: &str, private_key: &str, sans: &str) -> String {
    format!(
        "apiVersion: cert-manager.io/v1
kind: Certificate
metadata:
  name: {name}
  namespace: default
spec:
  secretName: {name}-tls
  commonName: {name}.example.com
{sans}
  privateKey:
{private_key}
  issuerRef:
    name: ca
    kind: Issuer
"
    )
}

fn secret_field(api: &Embedded, secret: &str, field: &str) -> Vec<u8> {
    let escaped = field.replace('.', "\\.");
    let encoded = api.jsonpath("secret", secret, &format!(".data.{escaped}"));
    base64::engine::general_purpose::STANDARD
        .decode(encoded.trim())
        .unwrap()
}

fn wait_exists(api: &Embedded, kind: &str, name: &str) {
    api.kubectl_until(
        &["get", kind, name, "-o", "jsonpath={.metadata.name}"],
        |out| out.trim() == name,
    );
}

fn wait_revision(api: &Embedded, certificate: &str, revision: u32) {
    api.kubectl_until(
        &[
            "get",
            "certificate",
            certificate,
            "-o",
            "jsonpath={.status.revision}",
        ],
        |out| out.trim() == revision.to_string(),
    );
    api.wait_ready(certificate);
}

fn openssl_text(dir: &std::path::Path, pem: &[u8]) -> String {
    let path = dir.join(format!("cert-{}.pem", common::rand_suffix()));
    std::fs::write(&path, pem).unwrap();
    let output = std::process::Command::new("openssl")
        .args(["x509", "-noout", "-text", "-in"])
        .arg(&path)
        .output()
        .unwrap();
    text(&output)
}

#[test]
fn ca_chain_issues_every_key_type_and_san_kind_and_openssl_verifies_them() {
    let dir = tempfile::tempdir().unwrap();
    let api = Embedded::start(dir.path());
    api.apply_ok(CA_CHAIN);
    api.wait_ready("root-ca");
    api.kubectl_until(
        &[
            "get",
            "issuer",
            "ca",
            "-o",
            "jsonpath={.status.conditions[0].reason}",
        ],
        |out| out.trim() == "KeyPairVerified",
    );

    let leaves = [
        (
            "rsa",
            "    algorithm: RSA\n    size: 2048",
            "  dnsNames: [rsa.example.com]",
            "rsaEncryption",
        ),
        (
            "ecdsa",
            "    algorithm: ECDSA\n    size: 384",
            "  dnsNames: [ecdsa.example.com]",
            "id-ecPublicKey",
        ),
        (
            "ed25519",
            "    algorithm: Ed25519",
            "  dnsNames: [ed25519.example.com]",
            "ED25519",
        ),
        (
            "sans",
            "    algorithm: ECDSA",
            "  dnsNames: [sans.example.com, www.sans.example.com]\n  ipAddresses: [192.0.2.10, \"2001:db8::1\"]\n  uris: [spiffe://example.com/ns/default/sa/web]\n  emailAddresses: [ops@example.com]",
            "id-ecPublicKey",
        ),
    ];
    for (name, key, sans, _) in &leaves {
        api.apply_ok(&leaf(name, key, sans));
    }
    for (name, _, _, key_type) in &leaves {
        api.wait_ready(name);
        let secret = format!("{name}-tls");
        let chain = secret_field(&api, &secret, "tls.crt");
        let ca = secret_field(&api, &secret, "ca.crt");
        let verified = openssl_verify(dir.path(), &ca, &chain);
        assert!(verified.contains(": OK"), "{name}: {verified}");
        let details = openssl_text(dir.path(), &chain);
        assert!(details.contains(key_type), "{name}: {details}");
        assert!(
            details.contains("Issuer: CN = certwasm e2e root")
                || details.contains("Issuer: CN=certwasm e2e root"),
            "{name}: {details}"
        );
        assert_eq!(
            api.jsonpath("secret", &secret, ".type"),
            "kubernetes.io/tls"
        );
    }
    let sans = openssl_text(dir.path(), &secret_field(&api, "sans-tls", "tls.crt"));
    for expected in [
        "DNS:sans.example.com",
        "DNS:www.sans.example.com",
        "IP Address:192.0.2.10",
        "IP Address:2001:DB8:0:0:0:0:0:1",
        "URI:spiffe://example.com/ns/default/sa/web",
        "email:ops@example.com",
    ] {
        assert!(sans.contains(expected), "{expected} missing: {sans}");
    }
    // cert-manager's annotations on the Secret.
    let annotations = api.jsonpath("secret", "sans-tls", ".metadata.annotations");
    for expected in [
        "\"cert-manager.io/ip-sans\":\"192.0.2.10,2001:db8::1\"",
        "\"cert-manager.io/uri-sans\":\"spiffe://example.com/ns/default/sa/web\"",
        "\"cert-manager.io/email-sans\":\"ops@example.com\"",
        "\"cert-manager.io/issuer-kind\":\"Issuer\"",
    ] {
        assert!(annotations.contains(expected), "{expected}: {annotations}");
    }

    // kubectl describe tells the story in cert-manager's words.
    let described = api.kubectl_ok(&["describe", "certificate", "rsa"]);
    for expected in [
        "Certificate is up to date and has not expired",
        "Issuing certificate as Secret does not exist",
        "Generated",
        "Requested",
        "Created new CertificateRequest resource \"rsa-1\"",
        "The certificate has been successfully issued",
    ] {
        assert!(described.contains(expected), "{expected}: {described}");
    }

    // The cmctl verbs read the same state.
    let status = api.certwasm(&["status", "certificate", "sans"]);
    let status = text(&status);
    for expected in [
        "Name: sans",
        "Ready: True, Reason: Ready, Message: Certificate is up to date and has not expired",
        "Kind: Issuer",
        "Ready: True, Reason: KeyPairVerified",
        "Name: sans-tls",
        "Renewal Time:",
    ] {
        assert!(status.contains(expected), "{expected}: {status}");
    }
    let inspected = api.certwasm(&["inspect", "secret", "sans-tls"]);
    assert!(inspected.status.success(), "{}", text(&inspected));
    let inspected = text(&inspected);
    for expected in [
        "\t\t- sans.example.com",
        "\t\t- spiffe://example.com/ns/default/sa/web",
        "\t\t- ops@example.com",
        "Trusted:\tyes (by ca.crt)",
    ] {
        assert!(inspected.contains(expected), "{expected}: {inspected}");
    }
    let check = api.certwasm(&["check", "api"]);
    assert!(
        text(&check).contains("The cert-manager API is ready"),
        "{}",
        text(&check)
    );

    // Prometheus metrics with cert-manager's names and labels.
    let metrics = http_get(&api.metrics_url());
    assert!(
        metrics.contains(
            "certmanager_certificate_ready_status{name=\"sans\",namespace=\"default\",issuer_name=\"ca\",issuer_kind=\"Issuer\",issuer_group=\"cert-manager.io\",condition=\"True\"} 1"
        ),
        "{metrics}"
    );
    assert!(
        metrics.contains("certmanager_certificate_expiration_timestamp_seconds{name=\"rsa\""),
        "{metrics}"
    );
    assert!(
        metrics
            .contains("certmanager_controller_sync_call_count_total{controller=\"certificates\"}")
            || metrics
                .contains("certmanager_controller_sync_call_total{controller=\"certificates\"}"),
        "{metrics}"
    );
}

/// A plain HTTP GET with nothing but the standard library: the metrics
/// endpoint is loopback HTTP/1.1.
fn http_get(url: &str) -> String {
    use std::io::{Read, Write};
    let rest = url.strip_prefix("http://").unwrap();
    let (authority, path) = rest.split_once('/').unwrap();
    let mut stream = std::net::TcpStream::connect(authority).unwrap();
    write!(
        stream,
        "GET /{path} HTTP/1.1\r\nHost: {authority}\r\nConnection: close\r\n\r\n"
    )
    .unwrap();
    let mut response = String::new();
    stream.read_to_string(&mut response).unwrap();
    assert!(response.starts_with("HTTP/1.1 200"), "{response}");
    response
}

#[test]
fn reissues_on_deleted_secret_changed_names_and_renew_and_never_rotation_keeps_the_key() {
    let dir = tempfile::tempdir().unwrap();
    let api = Embedded::start(dir.path());
    api.apply_ok(CA_CHAIN);
    api.apply_ok(&leaf(
        "web",
        "    algorithm: ECDSA",
        "  dnsNames: [web.example.com]",
    ));
    api.apply_ok(&leaf(
        "pinned",
        "    algorithm: ECDSA\n    rotationPolicy: Never",
        "  dnsNames: [pinned.example.com]",
    ));
    wait_revision(&api, "web", 1);
    wait_revision(&api, "pinned", 1);

    // A deleted Secret is issued again.
    let first_key = secret_field(&api, "web-tls", "tls.key");
    api.kubectl_ok(&["delete", "secret", "web-tls"]);
    wait_revision(&api, "web", 2);
    assert_ne!(secret_field(&api, "web-tls", "tls.key"), first_key);

    // A changed spec is issued again, with the next revision.
    api.kubectl_ok(&[
        "patch",
        "certificate",
        "web",
        "--type=merge",
        "-p",
        "{\"spec\":{\"dnsNames\":[\"web.example.com\",\"www.example.com\"]}}",
    ]);
    wait_revision(&api, "web", 3);
    let details = openssl_text(dir.path(), &secret_field(&api, "web-tls", "tls.crt"));
    assert!(details.contains("DNS:www.example.com"), "{details}");
    let requests = api.kubectl_ok(&["get", "certificaterequests", "-o", "name"]);
    assert!(
        requests.contains("certificaterequest.cert-manager.io/web-3"),
        "{requests}"
    );
    // revisionHistoryLimit defaults to 1: older requests are pruned.
    assert!(!requests.contains("web-1"), "{requests}");

    // `certwasm renew` issues again now; Ready stays True meanwhile.
    let serial_before = api.jsonpath("secret", "web-tls", ".data.tls\\.crt");
    let renewed = api.certwasm(&["renew", "web", "pinned"]);
    assert!(renewed.status.success(), "{}", text(&renewed));
    assert!(
        text(&renewed).contains("Manually triggered issuance of Certificate default/web"),
        "{}",
        text(&renewed)
    );
    wait_revision(&api, "web", 4);
    assert_ne!(
        api.jsonpath("secret", "web-tls", ".data.tls\\.crt"),
        serial_before
    );
    let ready = api.jsonpath(
        "certificate",
        "web",
        ".status.conditions[?(@.type==\"Ready\")].reason",
    );
    assert_eq!(ready.trim(), "Ready");

    // rotationPolicy Never: the renewed certificate keeps the key.
    let pinned_key = secret_field(&api, "pinned-tls", "tls.key");
    wait_revision(&api, "pinned", 2);
    assert_eq!(secret_field(&api, "pinned-tls", "tls.key"), pinned_key);
    let described = api.kubectl_ok(&["describe", "certificate", "pinned"]);
    assert!(
        described.contains("Reusing private key stored in existing Secret resource \"pinned-tls\""),
        "{described}"
    );
}

#[test]
fn unknown_and_unready_issuers_denied_requests_and_malformed_csrs_say_why() {
    let dir = tempfile::tempdir().unwrap();
    let api = Embedded::start_with(dir.path(), &["--no-auto-approve"]);
    api.apply_ok(
        "apiVersion: cert-manager.io/v1
kind: Issuer
metadata:
  name: broken-ca
  namespace: default
spec:
  ca:
    secretName: does-not-exist
---
apiVersion: cert-manager.io/v1
kind: Issuer
metadata:
  name: selfsigned
  namespace: default
spec:
  selfSigned: {}
",
    );
    api.apply_ok(
        "apiVersion: cert-manager.io/v1
kind: Certificate
metadata:
  name: orphan
  namespace: default
spec:
  secretName: orphan-tls
  dnsNames: [orphan.example.com]
  issuerRef:
    name: nowhere
---
apiVersion: cert-manager.io/v1
kind: Certificate
metadata:
  name: waiting
  namespace: default
spec:
  secretName: waiting-tls
  dnsNames: [waiting.example.com]
  issuerRef:
    name: broken-ca
---
apiVersion: cert-manager.io/v1
kind: Certificate
metadata:
  name: refused
  namespace: default
spec:
  secretName: refused-tls
  dnsNames: [refused.example.com]
  issuerRef:
    name: selfsigned
",
    );

    // The issuer's own condition says what is wrong with it.
    let issuer = api.kubectl_until(&["describe", "issuer", "broken-ca"], |out| {
        out.contains("ErrGetKeyPair") || out.contains("ErrInvalidKeyPair")
    });
    assert!(issuer.contains("does-not-exist"), "{issuer}");

    // Approve the first two requests by hand, deny the third.
    for request in ["orphan-1", "waiting-1"] {
        wait_exists(&api, "certificaterequest", request);
        let approved = api.certwasm(&["approve", request]);
        assert!(approved.status.success(), "{}", text(&approved));
    }
    wait_exists(&api, "certificaterequest", "refused-1");
    let waiting = api.kubectl_ok(&["describe", "certificaterequest", "refused-1"]);
    assert!(
        waiting.contains("WaitingForApproval")
            && waiting.contains("Not signing CertificateRequest until it is Approved"),
        "{waiting}"
    );
    let denied = api.certwasm(&["deny", "refused-1", "--reason", "NotOnMyWatch"]);
    assert!(denied.status.success(), "{}", text(&denied));

    let orphan = api.kubectl_until(&["describe", "certificaterequest", "orphan-1"], |out| {
        out.contains("IssuerNotFound")
    });
    assert!(
        orphan.contains(
            "Referenced \"Issuer\" not found: issuer.cert-manager.io \"nowhere\" not found"
        ),
        "{orphan}"
    );
    let waiting = api.kubectl_until(&["describe", "certificaterequest", "waiting-1"], |out| {
        out.contains("IssuerNotReady")
    });
    assert!(
        waiting.contains("Referenced issuer does not have a Ready status condition"),
        "{waiting}"
    );
    let refused = api.kubectl_until(
        &[
            "get",
            "certificaterequest",
            "refused-1",
            "-o",
            "jsonpath={.status.conditions[?(@.type==\"Ready\")].reason}",
        ],
        |out| out.trim() == "Denied",
    );
    assert_eq!(refused.trim(), "Denied");
    let certificate = api.kubectl_until(&["describe", "certificate", "refused"], |out| {
        out.contains("The certificate request has failed to complete and will be retried")
    });
    assert!(certificate.contains("Denied"), "{certificate}");

    // A CertificateRequest whose CSR is not a CSR is refused at admission,
    // as cert-manager's webhook refuses it, naming the field; nothing is
    // stored.
    let garbage = base64::engine::general_purpose::STANDARD.encode(
        "-----BEGIN CERTIFICATE REQUEST-----\nnot base64!\n-----END CERTIFICATE REQUEST-----\n",
    );
    let refused = api.apply(&format!(
        "apiVersion: cert-manager.io/v1
kind: CertificateRequest
metadata:
  name: malformed
  namespace: default
spec:
  request: {garbage}
  issuerRef:
    name: selfsigned
"
    ));
    assert!(!refused.status.success());
    let refused = text(&refused);
    assert!(
        refused.contains("spec.request: Invalid value")
            && refused.contains("certificate request is not valid PEM"),
        "{refused}"
    );
    let missing = api.kubectl(&["get", "certificaterequest", "malformed"]);
    assert!(text(&missing).contains("NotFound"), "{}", text(&missing));
}
