//! The flow against a scripted CFSSL: which endpoints are called with what,
//! CFSSL's messages in the errors, what is retried, and the chain returned.
//! (The real `cfssl serve` is exercised by `tests/tests/cfssl_plugin.rs`.)

use std::cell::RefCell;
use std::collections::HashMap;

use certwasm_plugin_sdk::testing::{KeyKind, OpensslKey};
use certwasm_plugin_sdk::x509::{self, Certificate, CertificateParams, IssuedBy};
use serde_json::json;

use super::*;
use certwasm_plugin_sdk::types::IssuerKind;

/// The exports as the SDK calls them: the config read first.
fn validate(config: &IssuerConfig, host: &dyn CfsslHost) -> Result<Readiness, PluginError> {
    let settings = certwasm_plugin_sdk::issuer::read_config::<crate::Cfssl>(config)?;
    super::validate(&settings, config, host)
}

fn issue(request: &CertificateRequest, host: &dyn CfsslHost) -> Result<Issued, PluginError> {
    let settings = certwasm_plugin_sdk::issuer::read_config::<crate::Cfssl>(&request.issuer)?;
    super::issue(&settings, request, host)
}

const NOW: i64 = 1_790_000_000;

type Responder = Box<dyn Fn(&HttpRequest) -> Result<HttpResponse, String>>;

struct FakeHost {
    secrets: HashMap<String, Secret>,
    cfssl: Responder,
    sent: RefCell<Vec<HttpRequest>>,
    cache: RefCell<HashMap<String, Vec<u8>>>,
    warnings: RefCell<Vec<String>>,
}

impl FakeHost {
    fn new(cfssl: impl Fn(&HttpRequest) -> Result<HttpResponse, String> + 'static) -> Self {
        Self {
            secrets: HashMap::new(),
            cfssl: Box::new(cfssl),
            sent: RefCell::default(),
            cache: RefCell::default(),
            warnings: RefCell::default(),
        }
    }

    fn with_secret(mut self, name: &str, key: &str, value: &str) -> Self {
        self.secrets.insert(
            name.to_owned(),
            Secret {
                data: vec![(key.to_owned(), value.as_bytes().to_vec())],
            },
        );
        self
    }

    fn paths(&self) -> Vec<String> {
        self.sent
            .borrow()
            .iter()
            .map(|r| {
                r.url
                    .trim_start_matches("http://cfssl.test:8888")
                    .to_owned()
            })
            .collect()
    }

    fn body(&self, index: usize) -> serde_json::Value {
        serde_json::from_slice(&self.sent.borrow()[index].body).unwrap()
    }
}

impl CfsslHost for FakeHost {
    fn secret(&self, name: &str) -> Result<Option<Secret>, String> {
        Ok(self.secrets.get(name).cloned())
    }

    fn send(&self, request: HttpRequest) -> Result<HttpResponse, String> {
        self.sent.borrow_mut().push(request.clone());
        (self.cfssl)(&request)
    }

    fn cache_get(&self, key: &str) -> Option<Vec<u8>> {
        self.cache.borrow().get(key).cloned()
    }

    fn cache_set(&self, key: &str, value: &[u8], _ttl_seconds: u32) -> Result<(), String> {
        self.cache
            .borrow_mut()
            .insert(key.to_owned(), value.to_vec());
        Ok(())
    }

    fn warn(&self, message: &str) {
        self.warnings.borrow_mut().push(message.to_owned());
    }
}

fn reply(status: u16, body: serde_json::Value) -> Result<HttpResponse, String> {
    Ok(HttpResponse {
        status,
        headers: Vec::new(),
        body: body.to_string().into_bytes(),
    })
}

fn refusal(status: u16, code: i64, message: &str) -> Result<HttpResponse, String> {
    reply(
        status,
        json!({"success": false, "result": null, "errors": [{"code": code, "message": message}], "messages": []}),
    )
}

fn success(result: serde_json::Value) -> Result<HttpResponse, String> {
    reply(
        200,
        json!({"success": true, "result": result, "errors": [], "messages": []}),
    )
}

fn issuer(config: serde_json::Value) -> IssuerConfig {
    IssuerConfig {
        kind: IssuerKind::Issuer,
        name: "cfssl".into(),
        namespace: "default".into(),
        spec_json: json!({"plugin": {"name": "cfssl", "config": config}}).to_string(),
    }
}

fn plain_issuer() -> IssuerConfig {
    issuer(json!({"url": "http://cfssl.test:8888/", "profile": "server", "label": "primary"}))
}

/// A CA (a root, or an intermediate under one), a leaf it signed and the
/// leaf's CSR.
struct Pki {
    ca: Certificate,
    leaf: String,
    csr: String,
}

fn pki(intermediate: bool) -> Pki {
    let ca_params = CertificateParams {
        is_ca: true,
        duration_seconds: Some(10 * 365 * 86400),
        ..CertificateParams::default()
    };
    let root_key = OpensslKey::generate(KeyKind::EcdsaP256);
    let root_csr = root_key.csr("/O=Example/CN=Test Root", &[]);
    let root = x509::sign_request(
        &root_csr,
        &ca_params,
        IssuedBy::SelfSigned,
        &root_key,
        NOW,
        [1; 16],
    )
    .unwrap();
    let root = Certificate::from_pem(&root).unwrap();
    let (ca, ca_key) = if intermediate {
        let key = OpensslKey::generate(KeyKind::EcdsaP256);
        let csr = key.csr("/CN=Test Intermediate", &[]);
        let pem = x509::sign_request(
            &csr,
            &ca_params,
            IssuedBy::Ca(&root),
            &root_key,
            NOW,
            [2; 16],
        )
        .unwrap();
        (Certificate::from_pem(&pem).unwrap(), key)
    } else {
        (root, root_key)
    };
    let leaf_key = OpensslKey::generate(KeyKind::EcdsaP256);
    let csr = leaf_key.csr(
        "/CN=www.example.com",
        &["subjectAltName=DNS:www.example.com,IP:127.0.0.1"],
    );
    let leaf = x509::sign_request(
        &csr,
        &CertificateParams::default(),
        IssuedBy::Ca(&ca),
        &ca_key,
        NOW,
        [3; 16],
    )
    .unwrap();
    Pki { ca, leaf, csr }
}

fn request(issuer: IssuerConfig, csr: &str) -> CertificateRequest {
    CertificateRequest {
        name: "web-1".into(),
        namespace: "default".into(),
        csr_pem: csr.into(),
        duration_seconds: None,
        is_ca: false,
        usages: Vec::new(),
        issuer,
        request_key: None,
        annotations: Vec::new(),
    }
}

/// A CFSSL that answers `info` with `ca` and signs with `leaf`.
fn serving(
    ca: &Certificate,
    leaf: &str,
) -> impl Fn(&HttpRequest) -> Result<HttpResponse, String> + 'static {
    let (ca, leaf) = (ca.to_pem(), leaf.to_owned());
    move |request| {
        if request.url.ends_with(protocol::INFO_PATH) {
            success(json!({"certificate": ca, "usages": ["server auth"], "expiry": "8760h"}))
        } else {
            success(json!({"certificate": leaf}))
        }
    }
}

#[test]
fn validate_reports_the_signing_ca_and_primes_the_cache() {
    let pki = pki(false);
    let host = FakeHost::new(serving(&pki.ca, &pki.leaf));
    let ready = validate(&plain_issuer(), &host).unwrap();
    assert_eq!(ready.reason, VERIFIED);
    assert_eq!(
        ready.message,
        "CFSSL at http://cfssl.test:8888 signs as CN=Test Root,O=Example, profile \"server\", label \"primary\""
    );
    assert_eq!(host.paths(), ["/api/v1/cfssl/info"]);
    assert_eq!(
        host.body(0),
        json!({"label": "primary", "profile": "server"})
    );
    assert!(host.cache.borrow().contains_key(CA_CACHE_KEY));
}

#[test]
fn validate_shows_cfssl_errors_and_retries_only_server_failures() {
    let host = FakeHost::new(|_| refusal(400, 5200, "bad label"));
    let error = validate(&plain_issuer(), &host).unwrap_err();
    assert_eq!(error.reason, CFSSL_ERROR);
    assert_eq!(
        error.message,
        "Failed to get the signer's certificate from CFSSL at http://cfssl.test:8888: bad label (CFSSL error code 5200, HTTP 400)"
    );
    assert!(!error.retryable);
    let down = FakeHost::new(|_| Err("connection refused".into()));
    let error = validate(&plain_issuer(), &down).unwrap_err();
    assert!(error.retryable);
    assert!(
        error.message.ends_with(": connection refused"),
        "{}",
        error.message
    );
}

#[test]
fn validate_checks_the_auth_key_secret() {
    let pki = pki(false);
    let config = issuer(
        json!({"url": "http://cfssl.test:8888", "authKeySecretRef": {"name": "cfssl-auth"}}),
    );
    let missing = FakeHost::new(serving(&pki.ca, &pki.leaf));
    let error = validate(&config, &missing).unwrap_err();
    assert_eq!(error.reason, SECRET_MISSING);
    assert!(error.retryable);
    assert!(missing.paths().is_empty());
    let not_hex =
        FakeHost::new(serving(&pki.ca, &pki.leaf)).with_secret("cfssl-auth", "key", "xyz!");
    let error = validate(&config, &not_hex).unwrap_err();
    assert_eq!(error.reason, INVALID_CONFIG);
    assert!(
        error.message.contains("is not a CFSSL auth key"),
        "{}",
        error.message
    );
    let wrong_field =
        FakeHost::new(serving(&pki.ca, &pki.leaf)).with_secret("cfssl-auth", "other", "00");
    assert!(
        validate(&config, &wrong_field)
            .unwrap_err()
            .message
            .contains("no data key \"key\"")
    );
    let good =
        FakeHost::new(serving(&pki.ca, &pki.leaf)).with_secret("cfssl-auth", "key", "00ff\n");
    assert!(
        validate(&config, &good)
            .unwrap()
            .message
            .ends_with(", authenticated")
    );
}

#[test]
fn config_mistakes_are_final_and_name_the_field() {
    let host = FakeHost::new(|_| Err("unreachable".into()));
    let error = validate(&issuer(json!({"profile": "server"})), &host).unwrap_err();
    assert_eq!(
        (
            error.reason.as_str(),
            error.message.as_str(),
            error.retryable
        ),
        (
            INVALID_CONFIG,
            "spec.plugin.config.url: Required value: the CFSSL server, e.g. https://cfssl.example.com:8888",
            false
        )
    );
    let no_plugin = IssuerConfig {
        spec_json: json!({"ca": {"secretName": "x"}}).to_string(),
        ..plain_issuer()
    };
    assert_eq!(
        validate(&no_plugin, &host).unwrap_err().message,
        "spec.plugin: Required value"
    );
    assert!(host.paths().is_empty());
}

#[test]
fn issue_signs_with_the_csr_hosts_and_returns_the_ca() {
    let pki = pki(false);
    let host = FakeHost::new(serving(&pki.ca, &pki.leaf));
    let issued = issue(&request(plain_issuer(), &pki.csr), &host).unwrap();
    assert_eq!(host.paths(), ["/api/v1/cfssl/info", "/api/v1/cfssl/sign"]);
    assert_eq!(
        host.body(1),
        json!({"certificate_request": pki.csr, "hosts": ["www.example.com", "127.0.0.1"], "profile": "server", "label": "primary"})
    );
    // A root is not repeated in the chain.
    assert_eq!(
        issued.certificate_chain_pem,
        Certificate::from_pem(&pki.leaf).unwrap().to_pem()
    );
    assert_eq!(issued.ca_pem, Some(pki.ca.to_pem()));
    // The next request finds the CA in the cache.
    issue(&request(plain_issuer(), &pki.csr), &host).unwrap();
    assert_eq!(host.paths()[2..], ["/api/v1/cfssl/sign"]);
    assert!(host.warnings.borrow().is_empty());
}

#[test]
fn an_intermediate_ca_follows_the_leaf_in_the_chain() {
    let pki = pki(true);
    let host = FakeHost::new(serving(&pki.ca, &pki.leaf));
    let issued = issue(&request(plain_issuer(), &pki.csr), &host).unwrap();
    let chain = x509::parse_chain(&issued.certificate_chain_pem).unwrap();
    assert_eq!(chain.len(), 2);
    assert_eq!(chain[1], pki.ca);
}

#[test]
fn a_stale_cached_ca_is_fetched_again() {
    let old = pki(false);
    let new = pki(false);
    let host = FakeHost::new(serving(&new.ca, &new.leaf));
    host.cache
        .borrow_mut()
        .insert(CA_CACHE_KEY.into(), old.ca.to_pem().into_bytes());
    let issued = issue(&request(plain_issuer(), &new.csr), &host).unwrap();
    assert_eq!(host.paths(), ["/api/v1/cfssl/sign", "/api/v1/cfssl/info"]);
    assert_eq!(issued.ca_pem, Some(new.ca.to_pem()));
    assert_eq!(
        host.cache.borrow()[CA_CACHE_KEY],
        new.ca.to_pem().into_bytes()
    );
}

#[test]
fn an_auth_key_sends_an_hmac_token_to_authsign() {
    let pki = pki(false);
    let config = issuer(
        json!({"url": "http://cfssl.test:8888", "profile": "authed", "authKeySecretRef": {"name": "cfssl-auth", "key": "hmac"}}),
    );
    let host = FakeHost::new(serving(&pki.ca, &pki.leaf)).with_secret(
        "cfssl-auth",
        "hmac",
        "0123456789abcdef",
    );
    issue(&request(config, &pki.csr), &host).unwrap();
    assert_eq!(
        host.paths(),
        ["/api/v1/cfssl/info", "/api/v1/cfssl/authsign"]
    );
    let body = host.body(1);
    use base64::Engine as _;
    let b64 = base64::engine::general_purpose::STANDARD;
    let inner = b64.decode(body["request"].as_str().unwrap()).unwrap();
    let token = b64.decode(body["token"].as_str().unwrap()).unwrap();
    let key = AuthKey::from_hex(b"0123456789abcdef").unwrap();
    assert_eq!(token, key.token(&inner));
    let inner: serde_json::Value = serde_json::from_slice(&inner).unwrap();
    assert_eq!(inner["profile"], "authed");
    assert_eq!(inner["certificate_request"], pki.csr.as_str());
}

#[test]
fn signing_refusals_carry_cfssl_s_message() {
    let pki = pki(false);
    let ca = pki.ca.to_pem();
    let host = FakeHost::new(move |request| {
        if request.url.ends_with(protocol::INFO_PATH) {
            success(json!({"certificate": ca}))
        } else {
            refusal(400, 400, "invalid token")
        }
    });
    let error = issue(&request(plain_issuer(), &pki.csr), &host).unwrap_err();
    assert_eq!(
        (
            error.reason.as_str(),
            error.message.as_str(),
            error.retryable
        ),
        (
            SIGNING_ERROR,
            "CFSSL failed to sign the certificate: invalid token (CFSSL error code 400, HTTP 400)",
            false
        )
    );
    let ca = pki.ca.to_pem();
    let failing = FakeHost::new(move |request| {
        if request.url.ends_with(protocol::INFO_PATH) {
            success(json!({"certificate": ca}))
        } else {
            refusal(500, 1000, "internal")
        }
    });
    assert!(
        issue(&request(plain_issuer(), &pki.csr), &failing)
            .unwrap_err()
            .retryable
    );
}

#[test]
fn every_san_kind_becomes_a_host() {
    let key = OpensslKey::generate(KeyKind::EcdsaP256);
    let csr = key.csr(
        "/CN=example.com",
        &["subjectAltName=DNS:example.com,DNS:www.example.com,IP:192.0.2.1,IP:2001:db8::1,email:a@example.com,URI:spiffe://example.com/a"],
    );
    assert_eq!(
        csr_hosts(&csr).unwrap(),
        [
            "example.com",
            "www.example.com",
            "192.0.2.1",
            "2001:db8::1",
            "a@example.com",
            "spiffe://example.com/a"
        ]
    );
    let bare = key.csr("/CN=only-a-common-name", &[]);
    assert!(csr_hosts(&bare).unwrap().is_empty());
    assert!(csr_hosts("not a CSR").is_err());
}
