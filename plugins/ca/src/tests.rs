//! The CA issuer's validation and issuance against a fake host, with
//! cert-manager's reasons and messages, and chains that openssl verifies.

use std::collections::HashMap;

use certwasm_plugin_sdk::testing::{KeyKind, OpensslKey, verify};
use certwasm_plugin_sdk::types::{IssuerConfig, IssuerKind, KeyUsage};

use super::*;

/// The exports as the SDK calls them: the config read first, then the
/// plugin's code.
fn validate(config: &IssuerConfig, host: &dyn CaHost) -> Result<Readiness, PluginError> {
    let settings = certwasm_plugin_sdk::issuer::read_config::<Ca>(config)?;
    super::validate(&settings, config, host)
}

fn issue(
    request: &CertificateRequest,
    host: &dyn CaHost,
    now_unix: i64,
    serial: [u8; 16],
) -> Result<Issued, PluginError> {
    let settings = certwasm_plugin_sdk::issuer::read_config::<Ca>(&request.issuer)?;
    super::issue(&settings, request, host, now_unix, serial)
}

const NOW: i64 = 1_790_000_000;

#[derive(Default)]
struct FakeHost {
    secrets: HashMap<String, Secret>,
    keys: HashMap<String, OpensslKey>,
}

impl FakeHost {
    fn with_secret(mut self, name: &str, fields: &[(&str, &str)], key: Option<OpensslKey>) -> Self {
        let data = fields
            .iter()
            .map(|(k, v)| ((*k).to_owned(), v.as_bytes().to_vec()))
            .collect();
        self.secrets.insert(name.to_owned(), Secret { data });
        if let Some(key) = key {
            self.keys.insert(name.to_owned(), key);
        }
        self
    }
}

impl CaHost for FakeHost {
    fn secret(&self, name: &str) -> Result<Option<Secret>, String> {
        Ok(self.secrets.get(name).cloned())
    }

    fn load_key(&self, secret: &str, field: &str) -> Result<Box<dyn Signer + '_>, String> {
        assert_eq!(field, "tls.key");
        match self.keys.get(secret) {
            Some(key) => Ok(Box::new(key)),
            None => Err(format!(
                "no data for \"tls.key\" in secret 'default/{secret}'"
            )),
        }
    }
}

fn config(spec: serde_json::Value) -> IssuerConfig {
    IssuerConfig {
        kind: IssuerKind::Issuer,
        name: "ca-issuer".into(),
        namespace: "default".into(),
        spec_json: spec.to_string(),
    }
}

fn ca_config() -> IssuerConfig {
    config(serde_json::json!({"ca": {
        "secretName": "ca-key-pair",
        "crlDistributionPoints": ["http://crl.example.com/ca.crl"],
        "ocspServers": ["http://ocsp.example.com"],
        "issuingCertificateURLs": ["http://ca.example.com/ca.crt"]
    }}))
}

fn request(issuer: IssuerConfig, csr_pem: String) -> CertificateRequest {
    CertificateRequest {
        name: "leaf-1".into(),
        namespace: "default".into(),
        csr_pem,
        duration_seconds: None,
        is_ca: false,
        usages: vec![KeyUsage::ServerAuth],
        issuer,
        request_key: None,
        annotations: Vec::new(),
    }
}

fn self_signed(key: &OpensslKey, subject: &str, is_ca: bool) -> String {
    let params = CertificateParams {
        is_ca,
        duration_seconds: Some(365 * 86_400),
        ..CertificateParams::default()
    };
    x509::sign_request(
        &key.csr(subject, &[]),
        &params,
        IssuedBy::SelfSigned,
        key,
        NOW,
        [1; 16],
    )
    .unwrap()
}

fn leaf_csr() -> String {
    OpensslKey::generate(KeyKind::EcdsaP256)
        .csr("/CN=leaf.example", &["subjectAltName=DNS:leaf.example"])
}

#[test]
fn a_good_ca_secret_is_verified() {
    let key = OpensslKey::generate(KeyKind::EcdsaP256);
    let cert = self_signed(&key, "/CN=Root CA", true);
    let host = FakeHost::default().with_secret("ca-key-pair", &[("tls.crt", &cert)], Some(key));
    let ready = validate(&ca_config(), &host).unwrap();
    assert_eq!(
        (ready.reason.as_str(), ready.message.as_str()),
        ("KeyPairVerified", "Signing CA verified")
    );
}

#[test]
fn bad_ca_secrets_get_cert_managers_reasons_and_messages() {
    let check = |host: &FakeHost, reason: &str, message: &str| {
        let error = validate(&ca_config(), host).unwrap_err();
        assert_eq!(
            (error.reason.as_str(), error.message.as_str()),
            (reason, message)
        );
        error.retryable
    };
    assert!(check(
        &FakeHost::default(),
        "ErrGetKeyPair",
        "Error getting keypair for CA issuer: secrets \"ca-key-pair\" not found"
    ));
    let host = FakeHost::default().with_secret("ca-key-pair", &[("ca.crt", "")], None);
    check(
        &host,
        "ErrGetKeyPair",
        "Error getting keypair for CA issuer: no data for \"tls.crt\" in secret 'default/ca-key-pair'",
    );
    let host = FakeHost::default().with_secret("ca-key-pair", &[("tls.crt", "garbage")], None);
    check(
        &host,
        "ErrGetKeyPair",
        "Error getting keypair for CA issuer: error decoding certificate PEM block: no valid certificates found",
    );
    let key = OpensslKey::generate(KeyKind::EcdsaP256);
    let cert = self_signed(&key, "/CN=Root CA", true);
    let host = FakeHost::default().with_secret("ca-key-pair", &[("tls.crt", &cert)], None);
    check(
        &host,
        "ErrGetKeyPair",
        "Error getting keypair for CA issuer: no data for \"tls.key\" in secret 'default/ca-key-pair'",
    );

    let leaf_key = OpensslKey::generate(KeyKind::EcdsaP256);
    let not_ca = self_signed(&leaf_key, "/CN=not a CA", false);
    let host =
        FakeHost::default().with_secret("ca-key-pair", &[("tls.crt", &not_ca)], Some(leaf_key));
    assert!(!check(
        &host,
        "ErrInvalidKeyPair",
        "Error getting keypair for CA issuer: certificate is not a CA"
    ));

    let other = OpensslKey::generate(KeyKind::EcdsaP256);
    let host = FakeHost::default().with_secret("ca-key-pair", &[("tls.crt", &cert)], Some(other));
    assert!(!check(
        &host,
        "ErrInvalidKeyPair",
        "Error getting keypair for CA issuer: the private key (tls.key) does not match the certificate (tls.crt)"
    ));

    let error = validate(
        &config(serde_json::json!({"selfSigned": {}})),
        &FakeHost::default(),
    )
    .unwrap_err();
    assert_eq!(
        (error.reason.as_str(), error.message.as_str()),
        ("InvalidConfig", "spec.ca: Required value")
    );
    let error = validate(&config(serde_json::json!({"ca": {}})), &FakeHost::default()).unwrap_err();
    assert_eq!(error.message, "spec.ca.secretName: Required value");
}

#[test]
fn a_root_ca_signs_leaves_that_openssl_verifies() {
    let key = OpensslKey::generate(KeyKind::EcdsaP384);
    let root = self_signed(&key, "/CN=Root CA", true);
    let host = FakeHost::default().with_secret("ca-key-pair", &[("tls.crt", &root)], Some(key));
    let issued = issue(&request(ca_config(), leaf_csr()), &host, NOW, [2; 16]).unwrap();
    assert_eq!(
        issued.ca_pem.as_deref(),
        Some(root.as_str()),
        "ca.crt is the root"
    );
    assert_eq!(
        issued
            .certificate_chain_pem
            .matches("BEGIN CERTIFICATE")
            .count(),
        1,
        "the root is left out"
    );
    verify(&root, &issued.certificate_chain_pem, NOW + 60).unwrap();
    let text = certwasm_plugin_sdk::testing::text(&issued.certificate_chain_pem);
    for expected in [
        "Issuer: CN = Root CA",
        "DNS:leaf.example",
        "TLS Web Server Authentication",
        "URI:http://crl.example.com/ca.crl",
        "OCSP - URI:http://ocsp.example.com",
        "CA Issuers - URI:http://ca.example.com/ca.crt",
        "ecdsa-with-SHA384",
    ] {
        assert!(text.contains(expected), "missing {expected:?} in\n{text}");
    }
    // cert-manager writes ca.crt = tls.crt for a self-signed CA: a duplicate, not a second chain.
    let key = OpensslKey::generate(KeyKind::EcdsaP256);
    let root = self_signed(&key, "/CN=Root CA", true);
    let host = FakeHost::default().with_secret(
        "ca-key-pair",
        &[("tls.crt", &root), ("ca.crt", &root)],
        Some(key),
    );
    let issued = issue(&request(ca_config(), leaf_csr()), &host, NOW, [2; 16]).unwrap();
    assert_eq!(issued.ca_pem.as_deref(), Some(root.as_str()));
    assert_eq!(
        issued
            .certificate_chain_pem
            .matches("BEGIN CERTIFICATE")
            .count(),
        1
    );
}

/// A root and an intermediate CA (with its key) under it.
fn make_intermediate() -> (String, String, OpensslKey) {
    let root_key = OpensslKey::generate(KeyKind::Rsa(2048));
    let root = self_signed(&root_key, "/CN=Root CA", true);
    let root_cert = Certificate::from_pem(&root).unwrap();
    let key = OpensslKey::generate(KeyKind::EcdsaP256);
    let params = CertificateParams {
        is_ca: true,
        ..CertificateParams::default()
    };
    let intermediate = x509::sign_request(
        &key.csr("/CN=Intermediate CA", &[]),
        &params,
        IssuedBy::Ca(&root_cert),
        &root_key,
        NOW,
        [3; 16],
    )
    .unwrap();
    (root, intermediate, key)
}

#[test]
fn intermediates_go_in_the_chain_and_the_root_in_ca_crt() {
    // tls.crt holds the intermediate and the root.
    let (root, intermediate, key) = make_intermediate();
    let host = FakeHost::default().with_secret(
        "ca-key-pair",
        &[("tls.crt", &format!("{intermediate}{root}"))],
        Some(key),
    );
    let issued = issue(&request(ca_config(), leaf_csr()), &host, NOW, [4; 16]).unwrap();
    assert!(
        issued.certificate_chain_pem.ends_with(&intermediate),
        "leaf, then the intermediate"
    );
    assert_eq!(
        issued
            .certificate_chain_pem
            .matches("BEGIN CERTIFICATE")
            .count(),
        2
    );
    assert_eq!(issued.ca_pem.as_deref(), Some(root.as_str()));
    verify(&root, &issued.certificate_chain_pem, NOW + 60).unwrap();

    // tls.crt holds the intermediate, ca.crt the root.
    let (root, intermediate, key) = make_intermediate();
    let host = FakeHost::default().with_secret(
        "ca-key-pair",
        &[("tls.crt", &intermediate), ("ca.crt", &root)],
        Some(key),
    );
    let issued = issue(&request(ca_config(), leaf_csr()), &host, NOW, [4; 16]).unwrap();
    assert!(issued.certificate_chain_pem.ends_with(&intermediate));
    assert_eq!(issued.ca_pem.as_deref(), Some(root.as_str()));
    verify(&root, &issued.certificate_chain_pem, NOW + 60).unwrap();

    // Only the intermediate: it is the top of the chain, so it is also ca.crt.
    let (_, intermediate, key) = make_intermediate();
    let host =
        FakeHost::default().with_secret("ca-key-pair", &[("tls.crt", &intermediate)], Some(key));
    let issued = issue(&request(ca_config(), leaf_csr()), &host, NOW, [4; 16]).unwrap();
    assert!(issued.certificate_chain_pem.ends_with(&intermediate));
    assert_eq!(issued.ca_pem.as_deref(), Some(intermediate.as_str()));

    // A ca.crt from another PKI breaks the chain, as in cert-manager.
    let (stranger, _, _) = make_intermediate();
    let (_, intermediate, key) = make_intermediate();
    let host = FakeHost::default().with_secret(
        "ca-key-pair",
        &[("tls.crt", &intermediate), ("ca.crt", &stranger)],
        Some(key),
    );
    let error = issue(&request(ca_config(), leaf_csr()), &host, NOW, [4; 16]).unwrap_err();
    assert_eq!(error.reason, "SigningError");
    assert_eq!(
        error.message,
        "Error signing certificate: certificate chain is malformed or broken"
    );
}

#[test]
fn issue_failures_are_pending_or_failed_as_in_cert_manager() {
    let check = |host: &FakeHost, csr: String, reason: &str, message: &str, retryable: bool| {
        let error = issue(&request(ca_config(), csr), host, NOW, [5; 16]).unwrap_err();
        assert_eq!(
            (
                error.reason.as_str(),
                error.message.as_str(),
                error.retryable
            ),
            (reason, message, retryable)
        );
    };
    check(
        &FakeHost::default(),
        leaf_csr(),
        "SecretMissing",
        "Referenced secret default/ca-key-pair not found: secrets \"ca-key-pair\" not found",
        true,
    );
    let key = OpensslKey::generate(KeyKind::EcdsaP256);
    let root = self_signed(&key, "/CN=Root CA", true);
    let host = FakeHost::default().with_secret("ca-key-pair", &[("tls.crt", "junk")], Some(key));
    check(
        &host,
        leaf_csr(),
        "SecretInvalidData",
        "Failed to parse signing CA keypair from secret default/ca-key-pair: error decoding certificate PEM block: no valid certificates found",
        true,
    );
    let key = OpensslKey::generate(KeyKind::EcdsaP256);
    let host = FakeHost::default().with_secret("ca-key-pair", &[("tls.crt", &root)], Some(key));
    check(
        &host,
        leaf_csr(),
        "SigningError",
        "Error signing certificate: x509: provided PrivateKey doesn't match parent's PublicKey",
        false,
    );
    let key = OpensslKey::generate(KeyKind::EcdsaP256);
    let root = self_signed(&key, "/CN=Root CA", true);
    let host = FakeHost::default().with_secret("ca-key-pair", &[("tls.crt", &root)], Some(key));
    let error = issue(
        &request(ca_config(), "not a CSR".into()),
        &host,
        NOW,
        [5; 16],
    )
    .unwrap_err();
    assert_eq!(error.reason, "SigningError");
    assert!(
        error
            .message
            .starts_with("Error generating certificate template: "),
        "{}",
        error.message
    );
    assert!(!error.retryable);
}

#[test]
fn the_benchmark_entry_points_work_on_their_own() {
    let key = OpensslKey::generate(KeyKind::EcdsaP256);
    let root = self_signed(&key, "/CN=Root CA", true);
    let material = load_material(&root, &key).unwrap();
    assert_eq!(material.ca().to_pem(), root);
    let settings = CaConfig {
        secret_name: "ca-key-pair".into(),
        ..CaConfig::default()
    };
    let issued = sign(
        &material,
        &settings,
        &request(ca_config(), leaf_csr()),
        &key,
        NOW,
        [6; 16],
    )
    .unwrap();
    verify(&root, &issued.certificate_chain_pem, NOW + 1).unwrap();
    let other = OpensslKey::generate(KeyKind::EcdsaP256);
    assert_eq!(
        load_material(&root, &other).unwrap_err().reason,
        "ErrInvalidKeyPair"
    );
}
