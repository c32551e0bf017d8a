//! The encoders' output read back by independent tools: OpenSSL for
//! PKCS#12 and Java's keytool for JKS. A test whose tool is not installed
//! fails rather than passes silently.

use std::path::Path;
use std::process::Command;

use super::pkcs12::Pkcs12Profile;
use super::{jks, pkcs12};

struct Fixture {
    key_pkcs8: Vec<u8>,
    leaf: Vec<u8>,
    ca: Vec<u8>,
}

/// A CA and a leaf it signed, with the leaf's PKCS#8 key.
fn fixture() -> Fixture {
    let ca_key = rcgen::KeyPair::generate().expect("ca key");
    let mut ca_params = rcgen::CertificateParams::new(Vec::<String>::new()).expect("ca params");
    ca_params
        .distinguished_name
        .push(rcgen::DnType::CommonName, "keystore test ca");
    ca_params.is_ca = rcgen::IsCa::Ca(rcgen::BasicConstraints::Unconstrained);
    let ca = ca_params.self_signed(&ca_key).expect("ca cert");
    let issuer = rcgen::Issuer::new(ca_params, &ca_key);
    let leaf_key = rcgen::KeyPair::generate().expect("leaf key");
    let mut leaf_params =
        rcgen::CertificateParams::new(vec!["keystore.example.com".to_owned()]).expect("params");
    leaf_params
        .distinguished_name
        .push(rcgen::DnType::CommonName, "keystore.example.com");
    let leaf = leaf_params
        .signed_by(&leaf_key, &issuer)
        .expect("leaf cert");
    Fixture {
        key_pkcs8: leaf_key.serialize_der(),
        leaf: leaf.der().to_vec(),
        ca: ca.der().to_vec(),
    }
}

fn run(program: &str, args: &[&str]) -> (bool, String) {
    let output = Command::new(program)
        .args(args)
        .output()
        .unwrap_or_else(|e| panic!("{program} must be installed for this test: {e}"));
    let text = format!(
        "{}{}",
        String::from_utf8_lossy(&output.stdout),
        String::from_utf8_lossy(&output.stderr)
    );
    (output.status.success(), text)
}

fn write(dir: &Path, name: &str, bytes: &[u8]) -> String {
    let path = dir.join(name);
    std::fs::write(&path, bytes).expect("write");
    path.to_string_lossy().into_owned()
}

/// `openssl pkcs12 -info` with the password, `-legacy` for the RC2 profile
/// (OpenSSL 3 keeps RC2 in its legacy provider).
fn openssl_info(path: &str, password: &str, legacy: bool) -> (bool, String) {
    let pass = format!("pass:{password}");
    let mut args = vec!["pkcs12", "-info", "-in", path, "-passin", &pass, "-nodes"];
    if legacy {
        args.push("-legacy");
    }
    run("openssl", &args)
}

#[test]
fn pkcs12_keystore_reads_back_with_openssl_in_every_profile() {
    let f = fixture();
    let dir = tempfile::tempdir().expect("tempdir");
    for (profile, legacy, cipher) in [
        (None, true, "RC2"),
        (Some(Pkcs12Profile::LegacyRc2), true, "RC2"),
        (Some(Pkcs12Profile::LegacyDes), false, "3-KeyTripleDES"),
        (Some(Pkcs12Profile::Modern2023), false, "AES-256-CBC"),
    ] {
        let bytes = pkcs12::encode_keystore(
            &f.key_pkcs8,
            std::slice::from_ref(&f.leaf),
            Some(&f.ca),
            "s3cret-pw",
            profile,
        )
        .expect("encode");
        let path = write(dir.path(), "keystore.p12", &bytes);
        let (ok, text) = openssl_info(&path, "s3cret-pw", legacy);
        assert!(ok, "{profile:?}: openssl refused the keystore:\n{text}");
        assert!(text.contains(cipher), "{profile:?}: no {cipher}:\n{text}");
        assert!(text.contains("BEGIN PRIVATE KEY"), "{text}");
        assert_eq!(text.matches("BEGIN CERTIFICATE").count(), 2, "{text}");
        assert!(text.contains("keystore.example.com") && text.contains("keystore test ca"));
        let (ok, text) = openssl_info(&path, "wrong", legacy);
        assert!(!ok, "{profile:?}: a wrong password was accepted:\n{text}");
    }
}

#[test]
fn pkcs12_truststore_holds_only_the_ca() {
    let f = fixture();
    let dir = tempfile::tempdir().expect("tempdir");
    let bytes =
        pkcs12::encode_truststore(&f.ca, "pw", Some(Pkcs12Profile::Modern2023)).expect("encode");
    let path = write(dir.path(), "truststore.p12", &bytes);
    let (ok, text) = openssl_info(&path, "pw", false);
    assert!(ok, "{text}");
    assert_eq!(text.matches("BEGIN CERTIFICATE").count(), 1, "{text}");
    assert!(!text.contains("PRIVATE KEY"), "{text}");
    assert!(text.contains("keystore test ca"), "{text}");
}

#[test]
fn pkcs12_modern2026_is_refused_not_mislabelled() {
    let f = fixture();
    assert!(pkcs12::encode_truststore(&f.ca, "pw", Some(Pkcs12Profile::Modern2026)).is_err());
}

fn keytool_list(path: &str, password: &str) -> (bool, String) {
    run(
        "keytool",
        &["-list", "-v", "-keystore", path, "-storepass", password],
    )
}

#[test]
fn jks_keystore_reads_back_with_keytool() {
    let f = fixture();
    let dir = tempfile::tempdir().expect("tempdir");
    let chain = [f.leaf.clone()];
    let bytes = jks::encode(
        &jks::JksInput {
            alias: "MyAlias",
            private_key_pkcs8: Some(&f.key_pkcs8),
            chain: &chain,
            ca: Some(&f.ca),
            created_millis: super::now_millis(),
        },
        "s3cret-pw".as_bytes(),
    )
    .expect("encode");
    let path = write(dir.path(), "keystore.jks", &bytes);
    let (ok, text) = keytool_list(&path, "s3cret-pw");
    assert!(ok, "keytool refused the keystore:\n{text}");
    assert!(text.contains("Keystore type: JKS"), "{text}");
    assert!(text.contains("Your keystore contains 2 entries"), "{text}");
    assert!(text.contains("Alias name: myalias"), "{text}");
    assert!(text.contains("Entry type: PrivateKeyEntry"), "{text}");
    assert!(text.contains("Alias name: ca"), "{text}");
    assert!(text.contains("Entry type: trustedCertEntry"), "{text}");
    assert!(text.contains("CN=keystore.example.com"), "{text}");
    let (ok, text) = keytool_list(&path, "wrong-pw");
    assert!(!ok, "a wrong password was accepted:\n{text}");

    // keytool recovers the key itself (not just the listing) by exporting
    // it into PKCS#12 with the key password: that runs the key protector.
    let out = dir.path().join("exported.p12");
    let out = out.to_string_lossy();
    let (ok, text) = run(
        "keytool",
        &[
            "-importkeystore",
            "-srckeystore",
            &path,
            "-srcstorepass",
            "s3cret-pw",
            "-destkeystore",
            &out,
            "-deststoretype",
            "PKCS12",
            "-deststorepass",
            "exported",
            "-noprompt",
        ],
    );
    assert!(ok, "keytool could not recover the private key:\n{text}");
    let (ok, text) = openssl_info(&out, "exported", false);
    assert!(ok, "{text}");
    let expected = pem::encode(&pem::Pem::new("PRIVATE KEY", f.key_pkcs8.clone()));
    let body: String = expected
        .lines()
        .filter(|l| !l.starts_with("-----"))
        .collect();
    let got: String = text.lines().filter(|l| !l.starts_with("-----")).collect();
    assert!(got.contains(&body), "the recovered key differs:\n{text}");
}

#[test]
fn jks_truststore_reads_back_with_keytool() {
    let f = fixture();
    let dir = tempfile::tempdir().expect("tempdir");
    let bytes = jks::encode(
        &jks::JksInput {
            alias: "certificate",
            private_key_pkcs8: None,
            chain: &[],
            ca: Some(&f.ca),
            created_millis: super::now_millis(),
        },
        b"changeit",
    )
    .expect("encode");
    let path = write(dir.path(), "truststore.jks", &bytes);
    let (ok, text) = keytool_list(&path, "changeit");
    assert!(ok, "{text}");
    assert!(text.contains("Your keystore contains 1 entry"), "{text}");
    assert!(text.contains("Alias name: ca"), "{text}");
    assert!(text.contains("CN=keystore test ca"), "{text}");
}
