//! The Vault issuer's flow against a scripted host: the requests it makes
//! (paths, headers, bodies), cert-manager's reasons and messages, which
//! failures are retried, and the chain and CA it returns.

use std::cell::RefCell;
use std::collections::HashMap;

use certwasm_plugin_sdk::testing::{KeyKind, OpensslKey, verify};
use certwasm_plugin_sdk::x509::{self, Certificate, CertificateParams, IssuedBy};
use serde_json::json;

use super::*;
use certwasm_plugin_sdk::types::IssuerKind;

const NOW: i64 = 1_790_000_000;

type Responder = Box<dyn Fn(&HttpRequest) -> Result<HttpResponse, String>>;

/// Secrets by name, a scripted Vault and the host's cache (with the TTLs
/// asked for); records every request and its TLS options.
struct FakeHost {
    secrets: HashMap<String, Secret>,
    vault: Responder,
    sent: RefCell<Vec<HttpRequest>>,
    tls: RefCell<Vec<Option<TlsOptions>>>,
    warnings: RefCell<Vec<String>>,
    cache: RefCell<HashMap<String, (Vec<u8>, u32)>>,
}

impl FakeHost {
    fn new(vault: impl Fn(&HttpRequest) -> Result<HttpResponse, String> + 'static) -> Self {
        Self {
            secrets: HashMap::new(),
            vault: Box::new(vault),
            sent: RefCell::default(),
            tls: RefCell::default(),
            warnings: RefCell::default(),
            cache: RefCell::default(),
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
            .map(|r| format!("{} {}", r.method, r.url))
            .collect()
    }

    fn header(&self, index: usize, name: &str) -> Option<String> {
        self.sent.borrow()[index]
            .headers
            .iter()
            .find(|(k, _)| k.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.clone())
    }

    fn body(&self, index: usize) -> serde_json::Value {
        serde_json::from_slice(&self.sent.borrow()[index].body).unwrap()
    }
}

impl VaultHost for FakeHost {
    fn secret(&self, name: &str) -> Result<Option<Secret>, String> {
        Ok(self.secrets.get(name).cloned())
    }

    fn send(&self, request: HttpRequest, tls: Option<TlsOptions>) -> Result<HttpResponse, String> {
        self.sent.borrow_mut().push(request.clone());
        self.tls.borrow_mut().push(tls);
        (self.vault)(&request)
    }

    fn warn(&self, message: &str) {
        self.warnings.borrow_mut().push(message.to_owned());
    }

    fn cache_get(&self, key: &str) -> Option<Vec<u8>> {
        self.cache.borrow().get(key).map(|(value, _)| value.clone())
    }

    fn cache_set(&self, key: &str, value: &[u8], ttl_seconds: u32) -> Result<(), String> {
        self.cache
            .borrow_mut()
            .insert(key.to_owned(), (value.to_vec(), ttl_seconds));
        Ok(())
    }

    fn cache_remove(&self, key: &str) {
        self.cache.borrow_mut().remove(key);
    }
}

fn reply(status: u16, body: serde_json::Value) -> Result<HttpResponse, String> {
    Ok(HttpResponse {
        status,
        headers: vec![("content-type".into(), "application/json".into())],
        body: body.to_string().into_bytes(),
    })
}

fn errors(status: u16, message: &str) -> Result<HttpResponse, String> {
    reply(status, json!({"errors": [message]}))
}

fn healthy() -> Result<HttpResponse, String> {
    reply(200, json!({"initialized": true, "sealed": false}))
}

fn issuer(vault: serde_json::Value) -> IssuerConfig {
    IssuerConfig {
        kind: IssuerKind::Issuer,
        name: "vault".into(),
        namespace: "default".into(),
        spec_json: json!({ "vault": vault }).to_string(),
    }
}

fn token_issuer() -> IssuerConfig {
    issuer(json!({
        "server": "http://127.0.0.1:8200/",
        "path": "pki_int/sign/example",
        "namespace": "team-a",
        "auth": {"tokenSecretRef": {"name": "vault-token", "key": "token"}}
    }))
}

fn approle_issuer() -> IssuerConfig {
    issuer(json!({
        "server": "http://127.0.0.1:8200",
        "path": "pki_int/sign/example",
        "auth": {"appRole": {"path": "approle", "roleId": " role-1 ",
                             "secretRef": {"name": "approle", "key": "secretId"}}}
    }))
}

/// A root, an intermediate it signed, and a leaf for `www.example.com`
/// signed by the intermediate; what Vault's `pki_int/sign` would return.
struct Pki {
    root: Certificate,
    intermediate: Certificate,
    leaf_pem: String,
    csr: String,
}

fn pki() -> Pki {
    let root_key = OpensslKey::generate(KeyKind::EcdsaP256);
    let root_csr = root_key.csr("/CN=Test Root", &[]);
    let ca = CertificateParams {
        is_ca: true,
        duration_seconds: Some(10 * 365 * 86400),
        ..CertificateParams::default()
    };
    let root = x509::sign_request(
        &root_csr,
        &ca,
        IssuedBy::SelfSigned,
        &root_key,
        NOW,
        [1; 16],
    )
    .unwrap();
    let root = Certificate::from_pem(&root).unwrap();
    let int_key = OpensslKey::generate(KeyKind::EcdsaP256);
    let int_csr = int_key.csr("/CN=Test Intermediate", &[]);
    let intermediate =
        x509::sign_request(&int_csr, &ca, IssuedBy::Ca(&root), &root_key, NOW, [2; 16]).unwrap();
    let intermediate = Certificate::from_pem(&intermediate).unwrap();
    let leaf_key = OpensslKey::generate(KeyKind::EcdsaP256);
    let csr = leaf_key.csr(
        "/CN=www.example.com",
        &["subjectAltName=DNS:www.example.com,IP:127.0.0.1"],
    );
    let leaf_pem = x509::sign_request(
        &csr,
        &CertificateParams::default(),
        IssuedBy::Ca(&intermediate),
        &int_key,
        NOW,
        [3; 16],
    )
    .unwrap();
    Pki {
        root,
        intermediate,
        leaf_pem,
        csr,
    }
}

fn request(issuer: IssuerConfig, csr: &str, duration_seconds: Option<u64>) -> CertificateRequest {
    CertificateRequest {
        name: "web-1".into(),
        namespace: "default".into(),
        csr_pem: csr.into(),
        duration_seconds,
        is_ca: false,
        usages: Vec::new(),
        issuer,
        request_key: None,
        annotations: Vec::new(),
    }
}

fn signed(pki: &Pki) -> serde_json::Value {
    json!({
        "data": {
            "certificate": pki.leaf_pem,
            "issuing_ca": pki.intermediate.to_pem(),
            "ca_chain": [pki.intermediate.to_pem(), pki.root.to_pem()],
            "serial_number": "03:03"
        },
        "warnings": ["TTL \"2160h0m0s\" is longer than permitted maxTTL \"720h0m0s\", so maxTTL is being used"]
    })
}

#[test]
fn a_token_issuer_is_verified_by_health_and_lookup_self() {
    let host = FakeHost::new(|r| {
        if r.url.ends_with("/v1/sys/health") {
            healthy()
        } else {
            reply(200, json!({"data": {"id": "s.token"}}))
        }
    })
    .with_secret("vault-token", "token", "  s.token\n");
    let ready = validate(&token_issuer(), &host).unwrap();
    assert_eq!(
        (ready.reason.as_str(), ready.message.as_str()),
        ("VaultVerified", "Vault verified")
    );
    assert_eq!(
        host.paths(),
        [
            "GET http://127.0.0.1:8200/v1/sys/health",
            "GET http://127.0.0.1:8200/v1/auth/token/lookup-self"
        ]
    );
    // Health is asked of the root namespace, without a token.
    assert_eq!(host.header(0, "X-Vault-Namespace"), None);
    assert_eq!(host.header(0, "X-Vault-Token"), None);
    assert_eq!(host.header(1, "X-Vault-Token").as_deref(), Some("s.token"));
    assert_eq!(
        host.header(1, "X-Vault-Namespace").as_deref(),
        Some("team-a")
    );
}

#[test]
fn a_bad_token_is_a_vault_error_with_vaults_message() {
    let host = FakeHost::new(|r| {
        if r.url.ends_with("/v1/sys/health") {
            healthy()
        } else {
            errors(403, "permission denied")
        }
    })
    .with_secret("vault-token", "token", "wrong");
    let error = validate(&token_issuer(), &host).unwrap_err();
    assert_eq!(error.reason, "VaultError");
    assert_eq!(
        error.message,
        "Failed to initialize Vault client: error checking the Vault token: Error making API request. \
         URL: GET http://127.0.0.1:8200/v1/auth/token/lookup-self Code: 403. Errors: * permission denied"
    );
    assert!(!error.retryable);
}

#[test]
fn a_sealed_or_uninitialized_vault_is_not_ready() {
    for (status, expected) in [(503, "Vault is sealed"), (501, "Vault is not initialized")] {
        let host = FakeHost::new(move |_| reply(status, json!({"sealed": true}))).with_secret(
            "vault-token",
            "token",
            "t",
        );
        let error = validate(&token_issuer(), &host).unwrap_err();
        assert_eq!(error.reason, "VaultError");
        assert_eq!(
            error.message,
            format!("Failed to verify Vault is initialized and unsealed: {expected}")
        );
        // Nothing else is tried once health fails.
        assert_eq!(host.sent.borrow().len(), 1);
    }
    // A standby answers 429 and is usable.
    let host = FakeHost::new(|r| {
        if r.url.ends_with("/sys/health") {
            reply(429, json!({"standby": true}))
        } else {
            reply(200, json!({"data": {}}))
        }
    })
    .with_secret("vault-token", "token", "t");
    assert!(validate(&token_issuer(), &host).is_ok());
}

#[test]
fn an_unreachable_vault_is_retried() {
    let host = FakeHost::new(|r| Err(format!("cannot connect to {}: Connection refused", r.url)))
        .with_secret("vault-token", "token", "t");
    let error = validate(&token_issuer(), &host).unwrap_err();
    assert!(error.retryable);
    assert!(
        error
            .message
            .starts_with("Failed to verify Vault is initialized and unsealed: cannot connect to"),
        "{}",
        error.message
    );
}

#[test]
fn configuration_errors_use_cert_managers_messages() {
    let host = FakeHost::new(|_| panic!("no request expected"));
    let cases = [
        (
            json!({"server": "http://v:8200", "auth": {"tokenSecretRef": {"name": "t"}}}),
            "Vault server and path are required fields",
        ),
        (
            json!({"server": "http://v:8200", "path": "pki/sign/r", "auth": {}}),
            "Vault tokenSecretRef, appRole, clientCertificate, kubernetes, or aws is required",
        ),
        (
            json!({"server": "http://v:8200", "path": "pki/sign/r", "auth": {
                "tokenSecretRef": {"name": "t"}, "kubernetes": {"role": "r", "secretRef": {"name": "s"}}}}),
            "Multiple auth methods cannot be set on the same Vault issuer",
        ),
        (
            json!({"server": "http://v:8200", "path": "pki/sign/r", "auth": {
                "appRole": {"path": "approle", "roleId": "", "secretRef": {"name": "s", "key": "k"}}}}),
            "Vault AppRole auth requires both roleId and tokenSecretRef.name",
        ),
        (
            json!({"server": "http://v:8200", "path": "pki/sign/r", "auth": {
                "appRole": {"path": "approle", "roleId": "r", "secretRef": {"name": "s"}}}}),
            "Vault AppRole auth requires secretRef.key",
        ),
        (
            json!({"server": "http://v:8200", "path": "pki/sign/r", "auth": {"kubernetes": {"secretRef": {"name": "s"}}}}),
            "Vault Kubernetes auth requires a role to be set",
        ),
        (
            json!({"server": "http://v:8200", "path": "pki/sign/r", "auth": {"kubernetes": {"role": "r"}}}),
            "Vault Kubernetes auth requires either secretRef.name or serviceAccountRef.name to be set",
        ),
        (
            json!({"server": "http://v:8200", "path": "pki/sign/r", "auth": {"kubernetes": {
                "role": "r", "serviceAccountRef": {"name": "sa"}}}}),
            "Vault Kubernetes auth with serviceAccountRef (a token request) is not supported by certwasm yet",
        ),
        (
            json!({"server": "https://v:8200", "path": "pki/sign/r", "auth": {"clientCertificate": {"name": "r"}}}),
            "Vault Client Certificate auth requires secretName (or spec.vault.clientCertSecretRef and clientKeySecretRef)",
        ),
        (
            json!({"server": "http://v:8200", "path": "pki/sign/r", "auth": {"clientCertificate": {"secretName": "c"}}}),
            "a TLS client certificate (clientCertificate auth, mutual TLS) needs an https Vault server, not \"http://v:8200\"",
        ),
        (
            json!({"server": "https://v:8200", "path": "pki/sign/r", "clientCertSecretRef": {"name": "c"},
                   "auth": {"tokenSecretRef": {"name": "t"}}}),
            "Vault mutual TLS requires both clientCertSecretRef.name and clientKeySecretRef.name",
        ),
    ];
    for (spec, message) in cases {
        let error = validate(&issuer(spec.clone()), &host).unwrap_err();
        assert_eq!(
            (
                error.reason.as_str(),
                error.message.as_str(),
                error.retryable
            ),
            ("VaultError", message, false),
            "{spec}"
        );
    }
}

#[test]
fn approle_logs_in_then_signs_with_the_token_it_got() {
    let pki = pki();
    let response = signed(&pki);
    let host = FakeHost::new(move |r| {
        if r.url.ends_with("/v1/auth/approle/login") {
            reply(200, json!({"auth": {"client_token": "s.from-login"}}))
        } else {
            reply(200, response.clone())
        }
    })
    .with_secret("approle", "secretId", "secret-1\n");
    let issued = issue(
        &request(approle_issuer(), &pki.csr, Some(2160 * 3600)),
        &host,
    )
    .unwrap();
    assert_eq!(
        host.paths(),
        [
            "POST http://127.0.0.1:8200/v1/auth/approle/login",
            "POST http://127.0.0.1:8200/v1/pki_int/sign/example"
        ]
    );
    assert_eq!(
        host.body(0),
        json!({"role_id": "role-1", "secret_id": "secret-1"})
    );
    assert_eq!(
        host.header(1, "X-Vault-Token").as_deref(),
        Some("s.from-login")
    );
    let body = host.body(1);
    assert_eq!(body["csr"], pki.csr.as_str());
    assert_eq!(body["ttl"], "2160h0m0s");
    assert_eq!(body["exclude_cn_from_sans"], "true");
    assert_eq!(body["common_name"], "www.example.com");
    assert_eq!(body["alt_names"], "www.example.com");
    assert_eq!(body["ip_sans"], "127.0.0.1");
    assert_eq!(body["uri_sans"], "");

    // Leaf then intermediate; the root is the CA and not in the chain.
    let chain = x509::parse_chain(&issued.certificate_chain_pem).unwrap();
    assert_eq!(chain.len(), 2);
    assert_eq!(chain[1], pki.intermediate);
    assert_eq!(issued.ca_pem.as_deref(), Some(pki.root.to_pem().as_str()));
    verify(
        issued.ca_pem.as_deref().unwrap(),
        &issued.certificate_chain_pem,
        NOW + 60,
    )
    .unwrap();
    assert_eq!(host.warnings.borrow().len(), 1);
}

#[test]
fn a_login_token_is_reused_until_vault_refuses_it() {
    let pki = pki();
    let response = signed(&pki);
    let logins = std::rc::Rc::new(std::cell::Cell::new(0));
    let revoked = std::rc::Rc::new(std::cell::Cell::new(false));
    let (count, gone) = (logins.clone(), revoked.clone());
    let host = FakeHost::new(move |r| {
        if r.url.ends_with("/v1/auth/approle/login") {
            count.set(count.get() + 1);
            let token = format!("s.login-{}", count.get());
            return reply(
                200,
                json!({"auth": {"client_token": token, "lease_duration": 3600}}),
            );
        }
        let token = r
            .headers
            .iter()
            .find(|(k, _)| k == "X-Vault-Token")
            .map(|(_, v)| v.clone());
        if gone.get() && token.as_deref() == Some("s.login-1") {
            return errors(403, "permission denied");
        }
        reply(200, response.clone())
    })
    .with_secret("approle", "secretId", "secret-1");
    let cr = request(approle_issuer(), &pki.csr, None);
    issue(&cr, &host).unwrap();
    issue(&cr, &host).unwrap();
    assert_eq!(logins.get(), 1, "the second request reuses the token");
    let cached: Vec<_> = host.cache.borrow().values().cloned().collect();
    assert_eq!(cached, [(b"s.login-1".to_vec(), 3240)], "90% of the lease");

    // Vault revokes the token: one 403, one new login, and the request is signed.
    revoked.set(true);
    issue(&cr, &host).unwrap();
    assert_eq!(logins.get(), 2);
    let tokens: Vec<_> = (0..host.sent.borrow().len())
        .filter_map(|i| host.header(i, "X-Vault-Token"))
        .collect();
    assert_eq!(
        tokens,
        ["s.login-1", "s.login-1", "s.login-1", "s.login-2"],
        "{:?}",
        host.paths()
    );
    assert!(host.warnings.borrow().iter().any(|w| w.contains("403")));

    // A rotated secret ID is another credential: it logs in again.
    let host = FakeHost {
        secrets: HashMap::from([(
            "approle".to_owned(),
            Secret {
                data: vec![("secretId".into(), b"secret-2".to_vec())],
            },
        )]),
        ..host
    };
    issue(&cr, &host).unwrap();
    assert_eq!(logins.get(), 3);

    // A check of the issuer always logs in: it proves the credentials.
    let checks = FakeHost::new(|r| {
        if r.url.ends_with("/login") {
            reply(200, json!({"auth": {"client_token": "s.checked"}}))
        } else {
            healthy()
        }
    })
    .with_secret("approle", "secretId", "secret-1");
    validate(&approle_issuer(), &checks).unwrap();
    validate(&approle_issuer(), &checks).unwrap();
    assert_eq!(
        checks
            .paths()
            .iter()
            .filter(|p| p.ends_with("/login"))
            .count(),
        2
    );
}

#[test]
fn a_refused_fresh_token_is_not_retried() {
    let pki = pki();
    let host = FakeHost::new(|r| {
        if r.url.ends_with("/login") {
            reply(200, json!({"auth": {"client_token": "s.new"}}))
        } else {
            errors(403, "permission denied")
        }
    })
    .with_secret("approle", "secretId", "secret-1");
    let error = issue(&request(approle_issuer(), &pki.csr, None), &host).unwrap_err();
    assert_eq!(error.reason, "SigningError");
    assert_eq!(host.paths().len(), 2, "{:?}", host.paths());
}

#[test]
fn client_certificate_auth_has_the_host_present_the_certificate() {
    let pki = pki();
    let response = signed(&pki);
    let host = FakeHost::new(move |r| {
        if r.url.ends_with("/v1/auth/cert/login") {
            reply(200, json!({"auth": {"client_token": "s.cert"}}))
        } else if r.url.ends_with("/sys/health") {
            healthy()
        } else {
            reply(200, response.clone())
        }
    })
    .with_secret(
        "vault-client",
        "tls.crt",
        "-----BEGIN CERTIFICATE-----\nMIIB\n",
    );
    let config = issuer(json!({
        "server": "https://127.0.0.1:8200",
        "serverName": "vault.internal",
        "path": "pki_int/sign/example",
        "auth": {"clientCertificate": {"name": "certwasm", "secretName": "vault-client"}}
    }));
    validate(&config, &host).unwrap();
    issue(&request(config, &pki.csr, None), &host).unwrap();
    assert_eq!(
        host.paths(),
        [
            "GET https://127.0.0.1:8200/v1/sys/health",
            "POST https://127.0.0.1:8200/v1/auth/cert/login",
            "POST https://127.0.0.1:8200/v1/pki_int/sign/example",
        ],
        "the check's token is reused by the request"
    );
    assert_eq!(host.body(1), json!({"name": "certwasm"}));
    assert_eq!(host.header(2, "X-Vault-Token").as_deref(), Some("s.cert"));
    for tls in host.tls.borrow().iter() {
        let tls = tls.as_ref().expect("every request sets TLS options");
        assert_eq!(tls.server_name.as_deref(), Some("vault.internal"));
        let certificate = tls.client_certificate.as_ref().unwrap();
        assert_eq!(
            (
                certificate.certificate_secret.as_str(),
                certificate.certificate_field.as_str(),
                certificate.key_secret.as_str(),
                certificate.key_field.as_str()
            ),
            ("vault-client", "tls.crt", "vault-client", "tls.key")
        );
    }

    // A custom mount, and the mutual TLS pair as the certificate.
    let host = FakeHost::new(|r| {
        if r.url.ends_with("/login") {
            reply(200, json!({"auth": {"client_token": "s.cert"}}))
        } else {
            healthy()
        }
    })
    .with_secret("client-cert", "cert.pem", "-----BEGIN CERTIFICATE-----\n");
    let config = issuer(json!({
        "server": "https://vault:8200",
        "path": "pki_int/sign/example",
        "clientCertSecretRef": {"name": "client-cert", "key": "cert.pem"},
        "clientKeySecretRef": {"name": "client-key"},
        "auth": {"clientCertificate": {"mountPath": "/v1/auth/tls"}}
    }));
    validate(&config, &host).unwrap();
    assert_eq!(host.paths()[1], "POST https://vault:8200/v1/auth/tls/login");
    assert_eq!(host.body(1), json!({"name": ""}));
    let tls = host.tls.borrow()[1].clone().unwrap();
    assert_eq!(tls.server_name, None);
    let certificate = tls.client_certificate.unwrap();
    assert_eq!(
        (
            certificate.certificate_secret.as_str(),
            certificate.certificate_field.as_str(),
            certificate.key_secret.as_str(),
            certificate.key_field.as_str()
        ),
        ("client-cert", "cert.pem", "client-key", "tls.key")
    );
}

#[test]
fn without_tls_settings_requests_use_plain_send() {
    let host = FakeHost::new(|r| {
        if r.url.ends_with("lookup-self") {
            reply(200, json!({"data": {}}))
        } else {
            healthy()
        }
    })
    .with_secret("vault-token", "token", "t");
    validate(&token_issuer(), &host).unwrap();
    assert!(host.tls.borrow().iter().all(Option::is_none));
}

#[test]
fn without_the_root_the_top_intermediate_is_the_ca() {
    let pki = pki();
    let leaf = pki.leaf_pem.clone();
    let intermediate = pki.intermediate.to_pem();
    let host = FakeHost::new(move |_| {
        reply(
            200,
            json!({"data": {"certificate": leaf, "issuing_ca": intermediate}}),
        )
    })
    .with_secret("vault-token", "token", "t");
    let issued = issue(&request(token_issuer(), &pki.csr, None), &host).unwrap();
    assert_eq!(
        issued.ca_pem.as_deref(),
        Some(pki.intermediate.to_pem().as_str())
    );
    assert_eq!(host.body(0)["ttl"], "2160h0m0s", "cert-manager's default");
}

#[test]
fn vault_refusals_fail_the_request_with_vaults_message() {
    let pki = pki();
    let cases: [(u16, &str, bool); 5] = [
        (
            400,
            "common name www.evil.org not allowed by this role",
            false,
        ),
        (
            404,
            "no handler for route \"nope/sign/example\". route entry not found.",
            false,
        ),
        (503, "Vault is sealed", false),
        (500, "internal error", true),
        (429, "rate limit quota exceeded", true),
    ];
    for (status, message, retryable) in cases {
        let host = FakeHost::new(move |_| errors(status, message)).with_secret(
            "vault-token",
            "token",
            "t",
        );
        let error = issue(&request(token_issuer(), &pki.csr, Some(3600)), &host).unwrap_err();
        assert_eq!(error.reason, "SigningError");
        assert_eq!(
            error.message,
            format!(
                "Vault failed to sign certificate: failed to sign certificate by vault: \
                 Error making API request. URL: POST http://127.0.0.1:8200/v1/pki_int/sign/example \
                 Code: {status}. Errors: * {message}"
            )
        );
        assert_eq!(error.retryable, retryable, "{status}");
    }
    let host = FakeHost::new(|_| Err("cannot connect: Connection refused".into())).with_secret(
        "vault-token",
        "token",
        "t",
    );
    let error = issue(&request(token_issuer(), &pki.csr, None), &host).unwrap_err();
    assert!(error.retryable);
    assert!(
        error.message.ends_with("Connection refused"),
        "{}",
        error.message
    );
}

#[test]
fn missing_credentials_wait_and_failed_logins_say_why() {
    let pki = pki();
    let host = FakeHost::new(|_| panic!("no request expected"));
    let error = issue(&request(approle_issuer(), &pki.csr, None), &host).unwrap_err();
    assert_eq!(
        (
            error.reason.as_str(),
            error.message.as_str(),
            error.retryable
        ),
        (
            "SecretMissing",
            "Required secret resource not found: secrets \"approle\" not found",
            true
        )
    );
    let host = FakeHost::new(|_| errors(400, "invalid role or secret ID"))
        .with_secret("approle", "secretId", "bad");
    let error = issue(&request(approle_issuer(), &pki.csr, None), &host).unwrap_err();
    assert_eq!(error.reason, "VaultInitError");
    assert!(
        error.message.starts_with(
            "Failed to initialise vault client for signing: error logging in to Vault server: "
        ) && error.message.ends_with("* invalid role or secret ID"),
        "{}",
        error.message
    );
    let host =
        FakeHost::new(|_| panic!("no request expected")).with_secret("approle", "other", "x");
    let error = issue(&request(approle_issuer(), &pki.csr, None), &host).unwrap_err();
    assert!(
        error
            .message
            .ends_with("no data for \"secretId\" in secret 'default/approle'"),
        "{}",
        error.message
    );
}

#[test]
fn kubernetes_auth_posts_the_jwt_to_the_mount_path() {
    let pki = pki();
    let response = signed(&pki);
    let host = FakeHost::new(move |r| {
        if r.url.ends_with("/login") {
            reply(200, json!({"auth": {"client_token": "s.k8s"}}))
        } else {
            reply(200, response.clone())
        }
    })
    .with_secret("sa-token", "token", "eyJ.jwt");
    let config = issuer(json!({
        "server": "http://127.0.0.1:8200", "path": "pki/sign/r",
        "auth": {"kubernetes": {"role": "certwasm", "secretRef": {"name": "sa-token"}}}
    }));
    issue(&request(config, &pki.csr, None), &host).unwrap();
    assert_eq!(
        host.paths()[0],
        "POST http://127.0.0.1:8200/v1/auth/kubernetes/login"
    );
    assert_eq!(host.body(0), json!({"role": "certwasm", "jwt": "eyJ.jwt"}));
}

#[test]
fn the_ca_bundle_comes_from_the_spec_or_a_secret() {
    let pki = pki();
    let root = pki.root.to_pem();
    let encoded = base64::engine::general_purpose::STANDARD.encode(&root);
    let spec = |bundle: serde_json::Value| {
        let mut vault = json!({
            "server": "https://vault.example.com:8200", "path": "pki/sign/r",
            "auth": {"tokenSecretRef": {"name": "vault-token"}}
        });
        vault
            .as_object_mut()
            .unwrap()
            .extend(bundle.as_object().unwrap().clone());
        issuer(vault)
    };
    for (config, host) in [
        (
            spec(json!({"caBundle": encoded})),
            FakeHost::new(|_| reply(200, json!({}))),
        ),
        (
            spec(json!({"caBundleSecretRef": {"name": "vault-ca"}})),
            FakeHost::new(|_| reply(200, json!({}))).with_secret("vault-ca", "ca.crt", &root),
        ),
    ] {
        let host = host.with_secret("vault-token", "token", "t");
        validate(&config, &host).unwrap();
        for sent in host.sent.borrow().iter() {
            assert_eq!(sent.ca_bundle_pem.as_deref(), Some(root.as_str()));
        }
    }
    let host =
        FakeHost::new(|_| panic!("no request expected")).with_secret("vault-token", "token", "t");
    let error = validate(&spec(json!({"caBundle": "bm90IGEgY2VydA=="})), &host).unwrap_err();
    assert_eq!(
        error.message,
        "Failed to initialize Vault client: no Vault CA bundles loaded, check bundle contents"
    );
}

mod wire {
    use super::super::protocol::*;
    use super::*;

    #[test]
    fn durations_are_written_as_go_does() {
        assert_eq!(go_duration(2160 * 3600), "2160h0m0s");
        assert_eq!(go_duration(3600), "1h0m0s");
        assert_eq!(go_duration(3661), "1h1m1s");
        assert_eq!(go_duration(90), "1m30s");
        assert_eq!(go_duration(45), "45s");
        assert_eq!(go_duration(0), "0s");
    }

    #[test]
    fn urls_are_joined_like_path_join() {
        let endpoint = Endpoint::new("https://vault:8200/", None, None);
        assert_eq!(
            endpoint.v1_url("/pki//sign/web/"),
            "https://vault:8200/v1/pki/sign/web"
        );
        assert_eq!(
            endpoint.url("/v1/auth/kubernetes/login"),
            "https://vault:8200/v1/auth/kubernetes/login"
        );
    }

    #[test]
    fn error_bodies_that_are_not_json_are_quoted() {
        assert_eq!(error_messages(br#"{"errors":["a","b"]}"#), ["a", "b"]);
        assert_eq!(
            error_messages(b"<html>bad gateway</html>\n"),
            ["<html>bad gateway</html>"]
        );
        assert!(error_messages(b"").is_empty());
        assert_eq!(
            error_messages(br#"{"errors":["1 error occurred:\n\t* permission denied\n\n"]}"#),
            ["1 error occurred: * permission denied"]
        );
        let long = "x".repeat(2000);
        assert_eq!(error_messages(long.as_bytes())[0].len(), 512);
    }

    #[test]
    fn tokens_are_cached_for_most_of_their_lease() {
        let lease = |lease_seconds, num_uses| Login {
            token: "s.x".into(),
            lease_seconds,
            num_uses,
        };
        assert_eq!(lease(3600, 0).cache_seconds(), Some(3240));
        assert_eq!(lease(60, 0).cache_seconds(), Some(50));
        assert_eq!(lease(0, 0).cache_seconds(), Some(3600), "no expiry");
        assert_eq!(lease(15, 0).cache_seconds(), None, "too short to share");
        assert_eq!(lease(3600, 5).cache_seconds(), None, "use-limited");
        assert_eq!(
            login(&json!({"auth": {"client_token": "s.1", "lease_duration": 120, "num_uses": 0}})),
            Ok(Login {
                token: "s.1".into(),
                lease_seconds: 120,
                num_uses: 0
            })
        );
    }

    #[test]
    fn a_response_without_a_certificate_is_a_decode_error() {
        assert!(matches!(
            issued(&json!({"data": {}})),
            Err(VaultError::Decode(_))
        ));
        assert!(matches!(
            issued(&json!({"data": {"certificate": "garbage"}})),
            Err(VaultError::Decode(_))
        ));
        assert!(
            matches!(login(&json!({"auth": null})), Err(VaultError::Decode(m)) if m == "no token returned")
        );
    }
}
