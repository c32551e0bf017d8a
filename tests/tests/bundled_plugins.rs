//! The bundled `selfsigned` and `ca` plugins, run through the real runtime,
//! issue certificates that openssl accepts, with what was asked for.

// Test code: a failed unwrap is a failed test.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::path::Path;
use std::process::Command;
use std::sync::{Arc, OnceLock};

use certwasm::pki::{self, CsrSpec, KeyAlgorithm, KeyEncoding, KeyUsage, PrivateKey, Subject};
use certwasm::plugin::bindings::types::{
    CertificateRequest, IssueOutcome, Issued, IssuerConfig, IssuerKind,
};
use certwasm::plugin::secrets::{MemorySecrets, SecretData};
use certwasm::plugin::{CallEffects, CallLimits, IssueCall, Plugin, PluginEngine, bundled_plugin};

fn engine() -> &'static PluginEngine {
    static ENGINE: OnceLock<PluginEngine> = OnceLock::new();
    ENGINE.get_or_init(|| PluginEngine::new(None).unwrap())
}

fn plugin(name: &str) -> Plugin {
    let bundled = bundled_plugin(name).unwrap();
    Plugin::load(engine(), bundled.name, bundled.wasm)
        .unwrap()
        .0
}

fn issuer(spec: serde_json::Value) -> IssuerConfig {
    IssuerConfig {
        kind: IssuerKind::Issuer,
        name: "test-issuer".into(),
        namespace: "default".into(),
        spec_json: spec.to_string(),
    }
}

struct Request {
    spec: CsrSpec,
    algorithm: KeyAlgorithm,
    duration_seconds: Option<u64>,
}

impl Request {
    fn server(names: &[&str]) -> Self {
        Self {
            spec: CsrSpec {
                common_name: names.first().map(|n| (*n).to_owned()),
                literal_subject: None,
                subject: Subject::default(),
                dns_names: names.iter().map(|n| (*n).to_owned()).collect(),
                ip_addresses: Vec::new(),
                uris: Vec::new(),
                email_addresses: Vec::new(),
                usages: Vec::new(),
                is_ca: false,
                encode_usages_in_request: true,
            },
            algorithm: KeyAlgorithm::EcdsaP256,
            duration_seconds: None,
        }
    }
}

/// Makes the key and CSR in the host, runs `issue` to completion.
fn issue(
    plugin: &Plugin,
    config: &IssuerConfig,
    request: &Request,
    effects: &CallEffects,
) -> (Issued, PrivateKey) {
    let key = PrivateKey::generate(request.algorithm).unwrap();
    let csr_pem = pki::build_csr(&request.spec, &key).unwrap();
    let key = Arc::new(key);
    let call = IssueCall {
        request: CertificateRequest {
            name: "test-1".into(),
            namespace: "default".into(),
            csr_pem,
            duration_seconds: request.duration_seconds,
            is_ca: request.spec.is_ca,
            usages: request
                .spec
                .usages
                .iter()
                .copied()
                .map(Into::into)
                .collect(),
            issuer: config.clone(),
            request_key: None,
            annotations: Vec::new(),
        },
        request_key: Some(key.clone()),
        state: None,
        presented_challenges: Vec::new(),
    };
    match plugin.issue(call, effects, &CallLimits::default()) {
        Ok(IssueOutcome::Issued(issued)) => {
            let Ok(key) = Arc::try_unwrap(key) else {
                panic!("the runtime keeps no key after the call")
            };
            (issued, key)
        }
        other => panic!("issuance failed: {other:?}"),
    }
}

fn write(dir: &Path, name: &str, contents: &str) -> String {
    let path = dir.join(name);
    std::fs::write(&path, contents).unwrap();
    path.display().to_string()
}

fn openssl(args: &[&str]) -> String {
    let output = Command::new("openssl")
        .args(args)
        .output()
        .expect("openssl is installed (scripts/setup)");
    let text = format!(
        "{}{}",
        String::from_utf8_lossy(&output.stdout),
        String::from_utf8_lossy(&output.stderr)
    );
    assert!(output.status.success(), "openssl {args:?} failed:\n{text}");
    text
}

fn text_of(cert: &str) -> String {
    openssl(&["x509", "-noout", "-text", "-in", cert])
}

/// A CA made by the selfsigned plugin, as a cert-manager CA Secret.
fn self_signed_ca(algorithm: KeyAlgorithm) -> (Issued, PrivateKey) {
    let mut request = Request::server(&[]);
    request.spec.common_name = Some("certwasm test CA".into());
    request.spec.is_ca = true;
    request.algorithm = algorithm;
    request.duration_seconds = Some(365 * 86_400);
    issue(
        &plugin("selfsigned"),
        &issuer(serde_json::json!({"selfSigned": {}})),
        &request,
        &CallEffects::default(),
    )
}

#[test]
fn selfsigned_issues_a_ca_that_openssl_accepts() {
    let dir = tempfile::tempdir().unwrap();
    let (issued, _) = self_signed_ca(KeyAlgorithm::EcdsaP256);
    let cert = write(dir.path(), "ca.pem", &issued.certificate_chain_pem);
    assert_eq!(
        issued.ca_pem.as_deref(),
        Some(issued.certificate_chain_pem.as_str()),
        "ca.crt is the certificate itself"
    );
    openssl(&["verify", "-CAfile", &cert, &cert]);
    let text = text_of(&cert);
    assert!(text.contains("Subject: CN = certwasm test CA"), "{text}");
    assert!(text.contains("Issuer: CN = certwasm test CA"), "{text}");
    assert!(text.contains("CA:TRUE"), "{text}");
    assert!(text.contains("Certificate Sign, CRL Sign"), "{text}");
    assert!(text.contains("Subject Key Identifier"), "{text}");
    assert!(text.contains("ecdsa-with-SHA256"), "{text}");
}

#[test]
fn selfsigned_honours_every_san_kind_and_usage() {
    let dir = tempfile::tempdir().unwrap();
    let mut request = Request::server(&["example.com", "www.example.com"]);
    request.spec.ip_addresses = vec![
        "192.0.2.10".parse().unwrap(),
        "2001:db8::1".parse().unwrap(),
    ];
    request.spec.uris = vec!["spiffe://cluster.local/ns/default/sa/web".into()];
    request.spec.email_addresses = vec!["ops@example.com".into()];
    request.spec.subject.organizations = vec!["Example Org".into()];
    request.spec.usages = vec![
        KeyUsage::DigitalSignature,
        KeyUsage::KeyEncipherment,
        KeyUsage::ServerAuth,
        KeyUsage::ClientAuth,
    ];
    request.duration_seconds = Some(3 * 3600);
    request.algorithm = KeyAlgorithm::Rsa2048;
    let (issued, _) = issue(
        &plugin("selfsigned"),
        &issuer(serde_json::json!({"selfSigned": {}})),
        &request,
        &CallEffects::default(),
    );
    let cert = write(dir.path(), "tls.crt", &issued.certificate_chain_pem);
    let text = text_of(&cert);
    for expected in [
        "DNS:example.com",
        "DNS:www.example.com",
        "IP Address:192.0.2.10",
        "IP Address:2001:DB8:0:0:0:0:0:1",
        "URI:spiffe://cluster.local/ns/default/sa/web",
        "email:ops@example.com",
        "O = Example Org",
        "CN = example.com",
        "Digital Signature, Key Encipherment",
        "TLS Web Server Authentication, TLS Web Client Authentication",
        "CA:FALSE",
        "sha256WithRSAEncryption",
    ] {
        assert!(text.contains(expected), "missing {expected:?} in\n{text}");
    }
    // Three hours, as asked (openssl prints the dates; compare the span).
    let info = &pki::parse_certificate_chain(&issued.certificate_chain_pem).unwrap()[0];
    assert_eq!((info.not_after - info.not_before).whole_seconds(), 3 * 3600);
}

#[test]
fn ca_signs_leaves_that_verify_against_the_ca() {
    for algorithm in [
        KeyAlgorithm::EcdsaP256,
        KeyAlgorithm::EcdsaP384,
        KeyAlgorithm::Rsa2048,
        KeyAlgorithm::Ed25519,
    ] {
        let dir = tempfile::tempdir().unwrap();
        let (ca, ca_key) = self_signed_ca(algorithm);
        let secrets = Arc::new(MemorySecrets::default());
        secrets.insert(
            "default",
            "ca-key-pair",
            SecretData::from([
                (
                    "tls.crt".to_owned(),
                    ca.certificate_chain_pem.clone().into_bytes(),
                ),
                (
                    "tls.key".to_owned(),
                    ca_key.to_pem(KeyEncoding::Pkcs1).unwrap().into_bytes(),
                ),
            ]),
        );
        let effects = CallEffects {
            secrets,
            ..CallEffects::default()
        };
        let config = issuer(serde_json::json!({"ca": {
            "secretName": "ca-key-pair",
            "crlDistributionPoints": ["http://crl.example.com/ca.crl"],
            "ocspServers": ["http://ocsp.example.com"],
            "issuingCertificateURLs": ["http://ca.example.com/ca.crt"]
        }}));
        let ca_plugin = plugin("ca");
        let ready = ca_plugin
            .validate(&config, &effects, &CallLimits::default())
            .unwrap()
            .unwrap()
            .readiness;
        assert_eq!(
            (ready.reason.as_str(), ready.message.as_str()),
            ("KeyPairVerified", "Signing CA verified")
        );

        let mut request = Request::server(&["leaf.example.com"]);
        request.spec.usages = vec![KeyUsage::ServerAuth];
        let (leaf, _) = issue(&ca_plugin, &config, &request, &effects);
        let ca_file = write(
            dir.path(),
            "ca.crt",
            leaf.ca_pem
                .as_deref()
                .expect("the CA issuer returns ca.crt"),
        );
        let leaf_file = write(dir.path(), "tls.crt", &leaf.certificate_chain_pem);
        let verified = openssl(&["verify", "-CAfile", &ca_file, &leaf_file]);
        assert!(verified.contains(": OK"), "{algorithm:?}: {verified}");
        let text = text_of(&leaf_file);
        for expected in [
            "Issuer: CN = certwasm test CA",
            "DNS:leaf.example.com",
            "TLS Web Server Authentication",
            "URI:http://crl.example.com/ca.crl",
            "OCSP - URI:http://ocsp.example.com",
            "CA Issuers - URI:http://ca.example.com/ca.crt",
            "Authority Key Identifier",
        ] {
            assert!(
                text.contains(expected),
                "{algorithm:?}: missing {expected:?} in\n{text}"
            );
        }
    }
}

#[test]
fn ca_reports_missing_and_mismatched_key_pairs_as_cert_manager_does() {
    let ca_plugin = plugin("ca");
    let config = issuer(serde_json::json!({"ca": {"secretName": "ca-key-pair"}}));

    let missing = ca_plugin
        .validate(&config, &CallEffects::default(), &CallLimits::default())
        .unwrap()
        .unwrap_err();
    assert_eq!(missing.reason, "ErrGetKeyPair");
    assert!(
        missing
            .message
            .starts_with("Error getting keypair for CA issuer"),
        "{}",
        missing.message
    );

    let (ca, _) = self_signed_ca(KeyAlgorithm::EcdsaP256);
    let other_key = PrivateKey::generate(KeyAlgorithm::EcdsaP256).unwrap();
    let secrets = Arc::new(MemorySecrets::default());
    secrets.insert(
        "default",
        "ca-key-pair",
        SecretData::from([
            ("tls.crt".to_owned(), ca.certificate_chain_pem.into_bytes()),
            (
                "tls.key".to_owned(),
                other_key.to_pem(KeyEncoding::Pkcs8).unwrap().into_bytes(),
            ),
        ]),
    );
    let effects = CallEffects {
        secrets,
        ..CallEffects::default()
    };
    let mismatched = ca_plugin
        .validate(&config, &effects, &CallLimits::default())
        .unwrap()
        .unwrap_err();
    assert_eq!(mismatched.reason, "ErrInvalidKeyPair");
}

#[test]
fn the_ca_never_signs_past_its_own_expiry() {
    let dir = tempfile::tempdir().unwrap();
    // A CA valid for two days signing a 90-day leaf: the leaf is cut short.
    let mut request = Request::server(&[]);
    request.spec.common_name = Some("short-lived CA".into());
    request.spec.is_ca = true;
    request.duration_seconds = Some(2 * 86_400);
    let (ca, ca_key) = issue(
        &plugin("selfsigned"),
        &issuer(serde_json::json!({"selfSigned": {}})),
        &request,
        &CallEffects::default(),
    );
    let secrets = Arc::new(MemorySecrets::default());
    secrets.insert(
        "default",
        "ca-key-pair",
        SecretData::from([
            (
                "tls.crt".to_owned(),
                ca.certificate_chain_pem.clone().into_bytes(),
            ),
            (
                "tls.key".to_owned(),
                ca_key.to_pem(KeyEncoding::Pkcs8).unwrap().into_bytes(),
            ),
        ]),
    );
    let effects = CallEffects {
        secrets,
        ..CallEffects::default()
    };
    let (leaf, _) = issue(
        &plugin("ca"),
        &issuer(serde_json::json!({"ca": {"secretName": "ca-key-pair"}})),
        &Request::server(&["leaf.example.com"]),
        &effects,
    );
    let ca_info = &pki::parse_certificate_chain(&ca.certificate_chain_pem).unwrap()[0];
    let leaf_info = &pki::parse_certificate_chain(&leaf.certificate_chain_pem).unwrap()[0];
    assert!(leaf_info.not_after <= ca_info.not_after);
    let ca_file = write(dir.path(), "ca.crt", &ca.certificate_chain_pem);
    let leaf_file = write(dir.path(), "tls.crt", &leaf.certificate_chain_pem);
    openssl(&["verify", "-CAfile", &ca_file, &leaf_file]);
}
