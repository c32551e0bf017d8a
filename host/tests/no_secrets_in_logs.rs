//! No Secret data, private key or bearer token in the log: `certwasm run`
//! at debug level issues a CA and a leaf through a CA issuer, stores an
//! Opaque Secret, serves requests with the right and a wrong token, and
//! then everything it logged is searched for each secret it handled, as
//! PEM, as base64 (how Secrets carry data) and line by line of the PEM
//! body (a fragment of a key is a leak too).

// Test code: a failed unwrap is a failed test.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use base64::Engine;
use common::Embedded;

const MANIFESTS: &str = "apiVersion: cert-manager.io/v1
kind: Issuer
metadata:
  name: bootstrap
  namespace: default
spec:
  selfSigned: {}
---
apiVersion: cert-manager.io/v1
kind: Certificate
metadata:
  name: root
  namespace: default
spec:
  isCA: true
  commonName: Log Test Root
  secretName: root-ca
  privateKey:
    algorithm: ECDSA
    size: 256
  issuerRef:
    name: bootstrap
---
apiVersion: cert-manager.io/v1
kind: Issuer
metadata:
  name: ca
  namespace: default
spec:
  ca:
    secretName: root-ca
---
apiVersion: cert-manager.io/v1
kind: Certificate
metadata:
  name: leaf
  namespace: default
spec:
  secretName: leaf-tls
  dnsNames:
  - leaf.example.com
  privateKey:
    algorithm: RSA
    size: 2048
  issuerRef:
    name: ca
";

/// The forms a secret value can take in a log line.
fn forms(name: &str, value: &[u8]) -> Vec<(String, String)> {
    let b64 = base64::engine::general_purpose::STANDARD;
    let mut out = vec![(format!("{name} (base64)"), b64.encode(value))];
    let text = String::from_utf8_lossy(value).into_owned();
    if text.contains("-----BEGIN") {
        out.push((format!("{name} (PEM)"), text.clone()));
        // Every full line of the PEM body: a fragment of a key is a leak.
        for (i, line) in text
            .lines()
            .filter(|l| !l.starts_with("-----") && l.len() >= 40)
            .enumerate()
        {
            out.push((format!("{name} (PEM line {i})"), line.to_owned()));
        }
    } else {
        out.push((name.to_owned(), text));
    }
    out
}

#[test]
fn debug_logs_carry_no_secret_data_keys_or_tokens() {
    let dir = tempfile::tempdir().unwrap();
    let api = Embedded::start_with(dir.path(), &["--log", "debug"]);
    api.apply_ok(MANIFESTS);
    let password = format!("hunter2-{}", std::process::id());
    api.apply_ok(&format!(
        "apiVersion: v1
kind: Secret
metadata:
  name: app-credentials
  namespace: default
type: Opaque
stringData:
  password: {password}
"
    ));
    api.wait_ready("leaf");
    // A refused request, with a token that is almost the right one.
    let token = std::fs::read_to_string(dir.path().join("token"))
        .unwrap()
        .trim()
        .to_owned();
    let mut wrong = token.clone();
    wrong.replace_range(..4, "ffff");
    let refused = api.kubectl(&["--token", &wrong, "get", "secrets"]);
    assert!(!refused.status.success(), "{}", common::text(&refused));
    api.kubectl_ok(&["get", "secrets", "-o", "yaml"]);
    let _ = api.certwasm(&["status", "certificate", "leaf", "-n", "default"]);

    let mut secrets = Vec::new();
    for (secret, keys) in [
        ("root-ca", &["tls.key", "tls.crt"][..]),
        ("leaf-tls", &["tls.key"][..]),
        ("app-credentials", &["password"][..]),
    ] {
        for key in keys {
            let escaped = key.replace('.', "\\.");
            let encoded = api.kubectl_ok(&[
                "get",
                "secret",
                secret,
                "-o",
                &format!("jsonpath={{.data.{escaped}}}"),
            ]);
            let value = base64::engine::general_purpose::STANDARD
                .decode(encoded.trim())
                .unwrap();
            assert!(!value.is_empty(), "{secret}/{key} is empty");
            // The CA certificate is public; it stands in for "Secret data
            // that is not a key" in its base64 form only.
            let found = forms(&format!("{secret}/{key}"), &value);
            if *key == "tls.crt" {
                secrets.extend(found.into_iter().take(1));
            } else {
                secrets.extend(found);
            }
        }
    }
    assert!(secrets.iter().any(|(_, v)| v.contains(&password)));
    secrets.extend(forms("bearer token", token.as_bytes()));
    secrets.extend(forms("wrong bearer token", wrong.as_bytes()));
    // The log keeps growing meanwhile; take it once the flow is done.
    std::thread::sleep(std::time::Duration::from_secs(1));
    let log = api.log();
    let lines = log.lines().count();
    assert!(
        lines > 50 && log.contains("DEBUG"),
        "the flow logged too little at debug level to prove anything ({lines} lines)"
    );
    // The flow passed through logged code: the Secrets are named in the
    // log, their contents are not.
    assert!(
        log.contains("leaf-tls"),
        "the Secret's name was never logged"
    );
    let leaks: Vec<&str> = secrets
        .iter()
        .filter(|(_, value)| log.contains(value.as_str()))
        .map(|(name, _)| name.as_str())
        .collect();
    println!(
        "searched {lines} log lines ({} KiB) for {} secret forms",
        log.len() / 1024,
        secrets.len()
    );
    assert!(leaks.is_empty(), "the log leaks: {leaks:?}");
}
