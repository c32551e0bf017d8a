//! Keystores and additional output formats end to end in `certwasm run`,
//! driven with kubectl: a SelfSigned Issuer, a Certificate asking for
//! `tls-combined.pem`, `key.der`, a PKCS#12 and a JKS keystore with a
//! password from a Secret. The keystores are opened with `openssl pkcs12`
//! and `keytool`; a format removed from the spec leaves the Secret without
//! re-issuing; a missing password Secret is reported and writes nothing.

// Test code: a failed unwrap is a failed test.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use std::path::Path;
use std::process::Command;

use base64::Engine as _;
use common::{Embedded, text};

const PASSWORD: &str = "s3cret-Pw";

const ISSUER_AND_PASSWORD: &str = "apiVersion: cert-manager.io/v1
kind: Issuer
metadata:
  name: selfsigned
  namespace: default
spec:
  selfSigned: {}
---
apiVersion: v1
kind: Secret
metadata:
  name: keystore-password
  namespace: default
type: Opaque
data:
  password: czNjcmV0LVB3
";

fn certificate(name: &str, formats: &str, password_secret: &str) -> String {
    format!(
        "apiVersion: cert-manager.io/v1
kind: Certificate
metadata:
  name: {name}
  namespace: default
spec:
  secretName: {name}-tls
  commonName: {name}.example.com
  dnsNames: [{name}.example.com]
  privateKey:
    algorithm: RSA
    size: 2048
  additionalOutputFormats: {formats}
  keystores:
    pkcs12:
      create: true
      profile: Modern2023
      passwordSecretRef:
        name: {password_secret}
        key: password
    jks:
      create: true
      alias: server
      passwordSecretRef:
        name: {password_secret}
        key: password
  issuerRef:
    name: selfsigned
    kind: Issuer
"
    )
}

fn jsonpath(api: &Embedded, kind: &str, name: &str, path: &str) -> String {
    api.kubectl_ok(&["get", kind, name, "-o", &format!("jsonpath={{{path}}}")])
}

fn data_keys(api: &Embedded, secret: &str) -> Vec<String> {
    let out = api.kubectl_ok(&["get", "secret", secret, "-o", "json"]);
    let value: serde_json::Value = serde_json::from_str(&out).unwrap();
    let mut keys: Vec<String> = value["data"]
        .as_object()
        .map(|d| d.keys().cloned().collect())
        .unwrap_or_default();
    keys.sort();
    keys
}

fn secret_field(api: &Embedded, secret: &str, field: &str) -> Vec<u8> {
    let escaped = field.replace('.', "\\.");
    let encoded = jsonpath(api, "secret", secret, &format!(".data.{escaped}"));
    base64::engine::general_purpose::STANDARD
        .decode(encoded.trim())
        .unwrap()
}

fn wait_ready(api: &Embedded, certificate: &str) {
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
}

fn tool(dir: &Path, program: &str, args: &[&str]) -> (bool, String) {
    let output = Command::new(program)
        .current_dir(dir)
        .args(args)
        .output()
        .unwrap_or_else(|e| panic!("{program} must be installed: {e}"));
    (output.status.success(), text(&output))
}

#[test]
fn keystores_and_output_formats_follow_the_spec() {
    let dir = tempfile::tempdir().unwrap();
    let api = Embedded::start(dir.path());
    api.apply_ok(ISSUER_AND_PASSWORD);
    api.apply_ok(&certificate(
        "store",
        "[{type: CombinedPEM}, {type: DER}]",
        "keystore-password",
    ));
    wait_ready(&api, "store");

    let keys = data_keys(&api, "store-tls");
    for expected in [
        "ca.crt",
        "key.der",
        "keystore.jks",
        "keystore.p12",
        "tls-combined.pem",
        "tls.crt",
        "tls.key",
        "truststore.jks",
        "truststore.p12",
    ] {
        assert!(keys.iter().any(|k| k == expected), "{expected}: {keys:?}");
    }

    // tls-combined.pem is the key then the chain; key.der the key's DER.
    let key = secret_field(&api, "store-tls", "tls.key");
    let chain = secret_field(&api, "store-tls", "tls.crt");
    let mut combined = key.clone();
    combined.push(b'\n');
    combined.extend_from_slice(&chain);
    assert_eq!(
        secret_field(&api, "store-tls", "tls-combined.pem"),
        combined
    );
    let der = secret_field(&api, "store-tls", "key.der");
    assert_eq!(der, pem::parse(&key).unwrap().into_contents());

    // openssl reads the PKCS#12 keystore with the password, and refuses
    // another one.
    let work = dir.path();
    std::fs::write(
        work.join("keystore.p12"),
        secret_field(&api, "store-tls", "keystore.p12"),
    )
    .unwrap();
    let pass = format!("pass:{PASSWORD}");
    let (ok, info) = tool(
        work,
        "openssl",
        &[
            "pkcs12",
            "-info",
            "-in",
            "keystore.p12",
            "-passin",
            &pass,
            "-nodes",
        ],
    );
    assert!(ok, "{info}");
    assert!(info.contains("AES-256-CBC"), "{info}");
    assert!(info.contains("BEGIN PRIVATE KEY"), "{info}");
    assert!(info.contains("store.example.com"), "{info}");
    let (ok, info) = tool(
        work,
        "openssl",
        &[
            "pkcs12",
            "-info",
            "-in",
            "keystore.p12",
            "-passin",
            "pass:nope",
            "-nodes",
        ],
    );
    assert!(!ok, "wrong password accepted: {info}");

    // keytool reads the JKS keystore: the key under the alias, the CA.
    std::fs::write(
        work.join("keystore.jks"),
        secret_field(&api, "store-tls", "keystore.jks"),
    )
    .unwrap();
    let (ok, listing) = tool(
        work,
        "keytool",
        &[
            "-list",
            "-v",
            "-keystore",
            "keystore.jks",
            "-storepass",
            PASSWORD,
        ],
    );
    assert!(ok, "{listing}");
    assert!(listing.contains("Keystore type: JKS"), "{listing}");
    assert!(listing.contains("Alias name: server"), "{listing}");
    assert!(listing.contains("Entry type: PrivateKeyEntry"), "{listing}");
    assert!(listing.contains("Alias name: ca"), "{listing}");
    assert!(listing.contains("CN=store.example.com"), "{listing}");

    // Dropping DER from the spec drops key.der, without a new revision.
    api.apply_ok(&certificate(
        "store",
        "[{type: CombinedPEM}]",
        "keystore-password",
    ));
    api.kubectl_until(
        &["get", "secret", "store-tls", "-o", "jsonpath={.data}"],
        |out| !out.contains("key.der"),
    );
    assert!(data_keys(&api, "store-tls").contains(&"tls-combined.pem".to_owned()));
    assert_eq!(
        jsonpath(&api, "certificate", "store", ".status.revision"),
        "1"
    );
}

#[test]
fn a_missing_password_secret_is_reported_and_nothing_is_written() {
    let dir = tempfile::tempdir().unwrap();
    let api = Embedded::start(dir.path());
    api.apply_ok(ISSUER_AND_PASSWORD);
    api.apply_ok(&certificate("nopass", "[]", "no-such-secret"));
    let described = api.kubectl_until(&["describe", "certificate", "nopass"], |out| {
        out.contains("SecretUpdateFailed")
    });
    assert!(
        described.contains("fetching PKCS12 keystore password from Secret")
            && described.contains("\"no-such-secret\" not found"),
        "{described}"
    );
    assert_eq!(
        jsonpath(
            &api,
            "certificate",
            "nopass",
            ".status.conditions[?(@.type==\"Ready\")].status"
        ),
        "False"
    );
    let missing = api.kubectl(&["get", "secret", "nopass-tls"]);
    assert!(!missing.status.success(), "{}", text(&missing));

    // Once the password Secret exists the Certificate is issued.
    api.apply_ok(
        "apiVersion: v1
kind: Secret
metadata:
  name: no-such-secret
  namespace: default
type: Opaque
data:
  password: czNjcmV0LVB3
",
    );
    wait_ready(&api, "nopass");
    assert!(data_keys(&api, "nopass-tls").contains(&"keystore.p12".to_owned()));
}
