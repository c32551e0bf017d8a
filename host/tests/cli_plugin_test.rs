//! `certwasm plugin test` end to end: the binary, real manifests, openssl.

// Test code: a failed unwrap is a failed test.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::path::Path;
use std::process::{Command, Output};

fn certwasm(args: &[&str], cache: &Path) -> Output {
    Command::new(env!("CARGO_BIN_EXE_certwasm"))
        .args(args)
        .env("CERTWASM_CACHE_DIR", cache)
        .output()
        .expect("certwasm runs")
}

fn text(output: &Output) -> String {
    format!(
        "{}{}",
        String::from_utf8_lossy(&output.stdout),
        String::from_utf8_lossy(&output.stderr)
    )
}

fn write(dir: &Path, name: &str, contents: &str) -> String {
    let path = dir.join(name);
    std::fs::write(&path, contents).unwrap();
    path.display().to_string()
}

fn b64(path: &Path) -> String {
    use base64::Engine as _;
    base64::engine::general_purpose::STANDARD.encode(std::fs::read(path).unwrap())
}

const SELFSIGNED: &str = "apiVersion: cert-manager.io/v1
kind: Issuer
metadata:
  name: selfsigned
  namespace: default
spec:
  selfSigned: {}
";

const CA_ISSUER: &str = "apiVersion: cert-manager.io/v1
kind: Issuer
metadata:
  name: ca-issuer
  namespace: default
spec:
  ca:
    secretName: ca-key-pair
";

#[test]
fn selfsigned_ca_then_ca_leaf_verify_with_openssl() {
    let dir = tempfile::tempdir().unwrap();
    let cache = dir.path().join("cache");
    let selfsigned = write(dir.path(), "selfsigned.yaml", SELFSIGNED);
    let root = dir.path().join("root");
    let out = certwasm(
        &[
            "plugin",
            "test",
            "--issuer",
            &selfsigned,
            "--common-name",
            "Test Root",
            "--is-ca",
            "--duration",
            "8760h",
            "--key-algorithm",
            "ecdsa",
            "--key-size",
            "384",
            "--out",
            root.to_str().unwrap(),
        ],
        &cache,
    );
    assert!(out.status.success(), "{}", text(&out));
    let summary = text(&out);
    assert!(summary.contains("Ready=True, reason IsReady"), "{summary}");
    assert!(summary.contains("Subject:      CN=Test Root"), "{summary}");
    assert!(summary.contains("ECDSA P-384"), "{summary}");
    assert!(summary.contains("(365 days;"), "{summary}");
    assert!(
        summary.contains("1 issue call: slowest") && summary.contains("MiB of the 64 MiB cap"),
        "{summary}"
    );

    // The key is private to its owner.
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        let mode = std::fs::metadata(root.join("tls.key"))
            .unwrap()
            .permissions()
            .mode();
        assert_eq!(mode & 0o777, 0o600);
    }

    let secret = format!(
        "apiVersion: v1\nkind: Secret\nmetadata:\n  name: ca-key-pair\n  namespace: default\ntype: kubernetes.io/tls\ndata:\n  tls.crt: {}\n  tls.key: {}\n",
        b64(&root.join("tls.crt")),
        b64(&root.join("tls.key"))
    );
    let secret = write(dir.path(), "secret.yaml", &secret);
    let ca_issuer = write(dir.path(), "ca.yaml", CA_ISSUER);
    let leaf = dir.path().join("leaf");
    let out = certwasm(
        &[
            "plugin",
            "test",
            "--issuer",
            &ca_issuer,
            "--secret",
            &secret,
            "--dns-name",
            "www.example.com",
            "--dns-name",
            "example.com",
            "--ip-address",
            "127.0.0.1",
            "--usage",
            "server auth",
            "--key-algorithm",
            "rsa",
            "--duration",
            "720h",
            "--out",
            leaf.to_str().unwrap(),
        ],
        &cache,
    );
    assert!(out.status.success(), "{}", text(&out));
    let summary = text(&out);
    assert!(
        summary.contains("reason KeyPairVerified: Signing CA verified"),
        "{summary}"
    );
    assert!(
        summary.contains("DNS names:    www.example.com, example.com"),
        "{summary}"
    );
    assert!(summary.contains("IP addresses: 127.0.0.1"), "{summary}");
    assert!(summary.contains("RSA 2048"), "{summary}");
    assert!(summary.contains("(30 days;"), "{summary}");
    // Each plugin was compiled once, on first use, and cached by digest.
    assert!(summary.contains("(Compiled)"), "{summary}");
    let again = certwasm(&["plugin", "info", "ca"], &cache);
    assert!(text(&again).contains("(Cache)"), "{}", text(&again));

    let verify = Command::new("openssl")
        .args(["verify", "-CAfile"])
        .arg(leaf.join("ca.crt"))
        .arg(leaf.join("tls.crt"))
        .output()
        .unwrap();
    assert!(verify.status.success(), "{}", text(&verify));
    // The key written is the one the certificate is for.
    let modulus = |args: &[&str], file: &Path| {
        let out = Command::new("openssl")
            .args(args)
            .arg(file)
            .output()
            .unwrap();
        assert!(out.status.success(), "{}", text(&out));
        out.stdout
    };
    assert_eq!(
        modulus(
            &["x509", "-noout", "-modulus", "-in"],
            &leaf.join("tls.crt")
        ),
        modulus(&["rsa", "-noout", "-modulus", "-in"], &leaf.join("tls.key"))
    );
}

#[test]
fn an_issuer_that_is_not_ready_fails_with_its_reason() {
    let dir = tempfile::tempdir().unwrap();
    let ca_issuer = write(dir.path(), "ca.yaml", CA_ISSUER);
    let out = certwasm(
        &[
            "plugin",
            "test",
            "--issuer",
            &ca_issuer,
            "--dns-name",
            "x.example.com",
        ],
        &dir.path().join("c"),
    );
    assert_eq!(out.status.code(), Some(1), "{}", text(&out));
    let said = text(&out);
    assert!(said.contains("Ready=False, reason ErrGetKeyPair"), "{said}");
}

#[test]
fn an_invalid_manifest_names_the_field() {
    let dir = tempfile::tempdir().unwrap();
    let two_types = write(
        dir.path(),
        "bad.yaml",
        "apiVersion: cert-manager.io/v1\nkind: Issuer\nmetadata:\n  name: bad\nspec:\n  selfSigned: {}\n  ca:\n    secretName: x\n",
    );
    let out = certwasm(
        &["plugin", "test", "--issuer", &two_types, "--dns-name", "x"],
        &dir.path().join("c"),
    );
    assert_eq!(out.status.code(), Some(2));
    assert!(
        text(&out).contains(
            "spec: Forbidden: may not specify more than one issuer type (found selfSigned, ca)"
        ),
        "{}",
        text(&out)
    );

    let no_name = write(
        dir.path(),
        "noname.yaml",
        "apiVersion: cert-manager.io/v1\nkind: Issuer\nspec:\n  selfSigned: {}\n",
    );
    let out = certwasm(
        &["plugin", "test", "--issuer", &no_name, "--dns-name", "x"],
        &dir.path().join("c"),
    );
    assert_eq!(out.status.code(), Some(2));
    assert!(
        text(&out).contains("metadata.name: Required value"),
        "{}",
        text(&out)
    );
}

#[test]
fn plugin_info_describes_a_bundled_plugin() {
    let dir = tempfile::tempdir().unwrap();
    let out = certwasm(&["plugin", "info", "ca"], dir.path());
    assert!(out.status.success(), "{}", text(&out));
    let said = text(&out);
    assert!(said.contains("name:         ca"), "{said}");
    assert!(said.contains("serves:       ca"), "{said}");
    assert!(
        said.contains("interface:    certwasm:issuer@0.4.0"),
        "{said}"
    );
}
