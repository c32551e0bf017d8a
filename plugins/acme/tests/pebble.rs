//! The acme issuer against a real ACME server: Debian's Pebble on loopback.
//!
//! The plugin's `validate` and `issue` run natively here, exactly as the
//! component runs them, with [`AcmeHost`] bound to a blocking HTTPS client
//! (trusting only the serving certificate made for Pebble, passed as the
//! issuer's `caBundle`) and in-process P-256 account keys. Pebble validates
//! every challenge (`PEBBLE_VA_ALWAYS_VALID`), so no solver is needed: the
//! test plays the host and reports every challenge as presented.
//!
//! Pebble is installed with apt when missing; each test starts its own on
//! free loopback ports and kills it on drop.

use std::cell::RefCell;
use std::collections::HashMap;
use std::io::Read;
use std::net::TcpListener;
use std::path::Path;
use std::process::{Child, Command};
use std::sync::Arc;
use std::time::{Duration, Instant};

use base64::Engine;
use certwasm_plugin_acme::client::{HttpRequest, HttpResponse};
use certwasm_plugin_acme::order::{Outcome, State};
use certwasm_plugin_acme::{AcmeHost, Validated, issue, validate};
use certwasm_plugin_sdk::bindings::certwasm::issuer::orders::{ChallengeType, Order, OrderState};
use certwasm_plugin_sdk::testing::{KeyKind, OpensslKey, openssl, verify};
use certwasm_plugin_sdk::types::{
    CertificateRequest, IssuerConfig, IssuerKind, PluginError, Secret, SignatureAlgorithm,
};
use certwasm_plugin_sdk::x509::Signer;
use p256::ecdsa::SigningKey;
use p256::pkcs8::EncodePublicKey;

/// A Pebble process on loopback, killed on drop.
struct Pebble {
    child: Child,
    dir: tempfile::TempDir,
    directory_url: String,
    management_url: String,
    serving_cert_pem: String,
}

fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .map(|a| a.port())
        .expect("no free loopback port")
}

/// Pebble comes from Debian (`scripts/setup` installs it); a missing one
/// fails the test with the fix rather than skipping it.
fn ensure_pebble_installed() {
    assert!(
        Path::new("/usr/bin/pebble").exists(),
        "pebble not found: run scripts/setup (it installs Debian's pebble)"
    );
}

impl Pebble {
    /// Starts Pebble rejecting `nonce_reject` percent of nonces; `eab`
    /// requires external account binding with these keys.
    fn start(nonce_reject: u8, eab: Option<(&str, &str)>) -> Self {
        ensure_pebble_installed();
        let dir = tempfile::tempdir().expect("tempdir");
        let path = |name: &str| dir.path().join(name).to_str().expect("utf-8").to_owned();
        // A serving CA and a leaf it signs: rustls (like the host's TLS)
        // refuses a self-signed CA certificate as the server's own.
        let (ca_key, ca_pem, key, csr) = (
            path("ca.key"),
            path("ca.pem"),
            path("key.pem"),
            path("serve.csr"),
        );
        let ec = [
            "-newkey",
            "ec",
            "-pkeyopt",
            "ec_paramgen_curve:P-256",
            "-nodes",
        ];
        let mut args = vec!["req", "-x509"];
        args.extend(ec);
        args.extend(["-keyout", &ca_key, "-out", &ca_pem, "-days", "7"]);
        args.extend(["-subj", "/CN=certwasm test Pebble serving CA"]);
        openssl(&args);
        let mut args = vec!["req", "-new"];
        args.extend(ec);
        args.extend(["-keyout", &key, "-out", &csr, "-subj", "/CN=localhost"]);
        openssl(&args);
        std::fs::write(
            path("ext.cnf"),
            "subjectAltName=DNS:localhost,IP:127.0.0.1\nbasicConstraints=CA:FALSE\nextendedKeyUsage=serverAuth\n",
        )
        .expect("ext.cnf");
        openssl(&[
            "x509",
            "-req",
            "-in",
            &path("serve.csr"),
            "-CA",
            &path("ca.pem"),
            "-CAkey",
            &path("ca.key"),
            "-CAcreateserial",
            "-out",
            &path("cert.pem"),
            "-days",
            "7",
            "-extfile",
            &path("ext.cnf"),
        ]);
        let (port, management_port) = (free_port(), free_port());
        let mut config = serde_json::json!({"pebble": {
            "listenAddress": format!("127.0.0.1:{port}"),
            "managementListenAddress": format!("127.0.0.1:{management_port}"),
            "certificate": path("cert.pem"),
            "privateKey": path("key.pem"),
            "httpPort": free_port(),
            "tlsPort": free_port(),
            "ocspResponderURL": "",
            "externalAccountBindingRequired": eab.is_some(),
        }});
        if let Some((kid, key)) = eab {
            config["pebble"]["externalAccountMACKeys"] = serde_json::json!({ kid: key });
        }
        std::fs::write(path("config.json"), config.to_string()).expect("write config");
        let log = std::fs::File::create(path("pebble.log")).expect("log file");
        let child = Command::new("pebble")
            .args(["-config", &path("config.json"), "-strict"])
            .env("PEBBLE_VA_ALWAYS_VALID", "1")
            .env("PEBBLE_VA_NOSLEEP", "1")
            .env("PEBBLE_WFE_NONCEREJECT", nonce_reject.to_string())
            .env("PEBBLE_ALTERNATE_ROOTS", "1")
            .stdout(log.try_clone().expect("log"))
            .stderr(log)
            .spawn()
            .expect("cannot start pebble");
        let pebble = Self {
            child,
            serving_cert_pem: std::fs::read_to_string(path("ca.pem")).expect("serving CA"),
            directory_url: format!("https://127.0.0.1:{port}/dir"),
            management_url: format!("https://127.0.0.1:{management_port}"),
            dir,
        };
        let agent = agent(&pebble.serving_cert_pem);
        let deadline = Instant::now() + Duration::from_secs(20);
        while agent.get(&pebble.directory_url).call().is_err() {
            assert!(
                Instant::now() < deadline,
                "pebble did not start: {}",
                pebble.log()
            );
            std::thread::sleep(Duration::from_millis(100));
        }
        pebble
    }

    fn log(&self) -> String {
        std::fs::read_to_string(self.dir.path().join("pebble.log")).unwrap_or_default()
    }

    /// An issuing root from the management API (regenerated every start).
    fn root(&self, index: usize) -> String {
        agent(&self.serving_cert_pem)
            .get(&format!("{}/roots/{index}", self.management_url))
            .call()
            .expect("roots")
            .into_string()
            .expect("root PEM")
    }
}

impl Drop for Pebble {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// A blocking HTTPS client that trusts only `ca_pem`.
fn agent(ca_pem: &str) -> ureq::Agent {
    let mut roots = rustls::RootCertStore::empty();
    for block in certwasm_plugin_sdk::x509::pem::decode_all(ca_pem).expect("CA PEM") {
        roots.add(block.der.into()).expect("CA certificate");
    }
    let tls = rustls::ClientConfig::builder()
        .with_root_certificates(roots)
        .with_no_client_auth();
    ureq::AgentBuilder::new()
        .tls_config(Arc::new(tls))
        .timeout(Duration::from_secs(20))
        .build()
}

/// A P-256 account key held in-process, signing as the host does (DER).
#[derive(Clone)]
struct P256Key {
    key: SigningKey,
    public_key_der: Vec<u8>,
}

impl P256Key {
    fn generate() -> Self {
        let key = SigningKey::random(&mut rand_core::OsRng);
        let public_key_der = key
            .verifying_key()
            .to_public_key_der()
            .expect("SPKI")
            .into_vec();
        Self {
            key,
            public_key_der,
        }
    }
}

impl Signer for P256Key {
    fn public_key_der(&self) -> &[u8] {
        &self.public_key_der
    }

    fn sign(&self, algorithm: SignatureAlgorithm, data: &[u8]) -> Result<Vec<u8>, String> {
        if algorithm != SignatureAlgorithm::EcdsaP256Sha256 {
            return Err(format!("{algorithm:?} does not fit a P-256 key"));
        }
        let signature: p256::ecdsa::Signature =
            p256::ecdsa::signature::Signer::sign(&self.key, data);
        Ok(signature.to_der().as_bytes().to_vec())
    }
}

/// Plays the host: keys by Secret name, Secrets, HTTPS, the clock; records
/// every request and badNonce answer.
struct TestHost {
    keys: RefCell<HashMap<String, P256Key>>,
    secrets: HashMap<String, Secret>,
    agents: RefCell<HashMap<String, ureq::Agent>>,
    sent: RefCell<Vec<(String, String)>>,
    /// newOrder requests Pebble accepted (201). A newOrder refused for a bad
    /// nonce (Pebble rejects some on purpose) is retried and creates nothing.
    orders_created: RefCell<usize>,
    bad_nonces: RefCell<usize>,
    /// What `orders.presented` answers: the challenges presented so far.
    presented: RefCell<Vec<String>>,
}

impl TestHost {
    fn new() -> Self {
        Self {
            keys: RefCell::default(),
            secrets: HashMap::new(),
            agents: RefCell::default(),
            sent: RefCell::default(),
            orders_created: RefCell::default(),
            bad_nonces: RefCell::default(),
            presented: RefCell::default(),
        }
    }

    /// A second host with the same keys and Secrets and nothing else, as a
    /// restarted process would be.
    fn restarted(&self) -> Self {
        Self {
            keys: RefCell::new(self.keys.borrow().clone()),
            secrets: self.secrets.clone(),
            ..Self::new()
        }
    }
}

impl AcmeHost for TestHost {
    fn load_key(&self, secret: &str, field: &str) -> Result<Box<dyn Signer + '_>, String> {
        assert_eq!(field, "tls.key");
        self.keys
            .borrow()
            .get(secret)
            .cloned()
            .map(|key| Box::new(key) as Box<dyn Signer>)
            .ok_or_else(|| format!("secrets \"{secret}\" not found"))
    }

    fn generate_key(&self, secret: &str) -> Result<Box<dyn Signer + '_>, String> {
        let key = P256Key::generate();
        let previous = self
            .keys
            .borrow_mut()
            .insert(secret.to_owned(), key.clone());
        assert!(previous.is_none(), "an existing key was overwritten");
        Ok(Box::new(key))
    }

    fn secret(&self, name: &str) -> Result<Option<Secret>, String> {
        Ok(self.secrets.get(name).cloned())
    }

    fn send(
        &self,
        request: HttpRequest,
        ca_bundle_pem: Option<&str>,
    ) -> Result<HttpResponse, String> {
        let ca = ca_bundle_pem.expect("the issuer's caBundle reaches http.send");
        let agent = self
            .agents
            .borrow_mut()
            .entry(ca.to_owned())
            .or_insert_with(|| agent(ca))
            .clone();
        self.sent
            .borrow_mut()
            .push((request.method.to_string(), request.url.clone()));
        let mut call = agent.request(request.method.as_str(), &request.url);
        for (name, value) in &request.headers {
            call = call.set(name, value);
        }
        let response = match call.send_bytes(&request.body) {
            Ok(response) => response,
            Err(ureq::Error::Status(_, response)) => response,
            Err(e) => return Err(e.to_string()),
        };
        let status = response.status();
        if request.url.ends_with("/order-plz") && status == 201 {
            *self.orders_created.borrow_mut() += 1;
        }
        let headers = response
            .headers_names()
            .iter()
            .flat_map(|name| {
                response
                    .all(name)
                    .into_iter()
                    .map(|value| (name.to_lowercase(), value.to_owned()))
                    .collect::<Vec<_>>()
            })
            .collect();
        let mut body = Vec::new();
        response
            .into_reader()
            .read_to_end(&mut body)
            .map_err(|e| e.to_string())?;
        if String::from_utf8_lossy(&body).contains("urn:ietf:params:acme:error:badNonce") {
            *self.bad_nonces.borrow_mut() += 1;
        }
        Ok(HttpResponse {
            status,
            headers,
            body,
        })
    }

    fn now_unix(&self) -> i64 {
        std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map(|d| d.as_secs() as i64)
            .unwrap_or_default()
    }
}

fn issuer(pebble: &Pebble, extra: serde_json::Value) -> IssuerConfig {
    let mut acme = serde_json::json!({
        "server": pebble.directory_url,
        "email": "Ops@Example.com",
        "privateKeySecretRef": {"name": "acme-account"},
        "caBundle": base64::engine::general_purpose::STANDARD.encode(&pebble.serving_cert_pem),
        "solvers": [
            {"http01": {"ingress": {"class": "nginx"}}},
            {"dns01": {"rfc2136": {"nameserver": "127.0.0.1:53"}}, "selector": {"dnsZones": ["dns.example.com"]}},
        ],
    });
    if let (Some(acme), Some(extra)) = (acme.as_object_mut(), extra.as_object()) {
        acme.extend(extra.clone());
    }
    IssuerConfig {
        kind: IssuerKind::Issuer,
        name: "pebble".into(),
        namespace: "default".into(),
        spec_json: serde_json::json!({ "acme": acme }).to_string(),
    }
}

fn request(issuer: IssuerConfig, csr_pem: String) -> CertificateRequest {
    CertificateRequest {
        name: "web-1".into(),
        namespace: "default".into(),
        csr_pem,
        duration_seconds: None,
        is_ca: false,
        usages: Vec::new(),
        issuer,
        request_key: None,
        annotations: Vec::new(),
    }
}

/// One `issue` call as the host makes it: retryable errors keep the last
/// state; `pending` replaces it.
enum Call {
    Pending(Progress),
    Issued(String),
    Retry(PluginError),
}

/// A `pending` outcome with the order the plugin reports with it.
struct Progress {
    state: Vec<u8>,
    retry_after_ms: u64,
    waiting_for: String,
    order: Option<Order>,
}

fn call(host: &TestHost, request: &CertificateRequest, state: Option<&[u8]>) -> Call {
    let presented = host.presented.borrow().clone();
    match issue(request, state, &presented, host) {
        Ok(Outcome::Pending(pending, order)) => Call::Pending(Progress {
            state: pending.state,
            retry_after_ms: pending.retry_after_ms,
            waiting_for: pending.waiting_for,
            order,
        }),
        Ok(Outcome::Issued(issued)) => {
            assert!(issued.ca_pem.is_none(), "ACME gives no ca.crt");
            Call::Issued(issued.certificate_chain_pem)
        }
        Err(error) if error.retryable => Call::Retry(error),
        Err(error) => panic!("issuance failed: {error:?}"),
    }
}

/// Drives `issue` to the end, presenting every challenge the plugin asks
/// for; returns the chain, the order URLs seen and the retries.
fn drive(
    host: &TestHost,
    request: &mut CertificateRequest,
    mut state: Option<Vec<u8>>,
) -> (String, Vec<String>, usize) {
    let mut order_urls = Vec::new();
    let mut retries = 0;
    let deadline = Instant::now() + Duration::from_secs(60);
    loop {
        assert!(Instant::now() < deadline, "issuance did not finish");
        match call(host, request, state.as_deref()) {
            Call::Issued(chain) => return (chain, order_urls, retries),
            Call::Pending(pending) => {
                let order = pending.order.expect("an order once past newOrder");
                order_urls.push(order.url.clone());
                *host.presented.borrow_mut() =
                    order.challenges.iter().map(|c| c.token.clone()).collect();
                state = Some(pending.state);
                std::thread::sleep(Duration::from_millis(pending.retry_after_ms.min(300)));
            }
            Call::Retry(error) => {
                // Only Pebble's nonce rejections are expected to fail a call.
                assert!(error.message.contains("badNonce"), "{error:?}");
                retries += 1;
            }
        }
    }
}

/// `issue` until it is not a retryable error (Pebble may reject two nonces
/// in a row even at 5%; the host would call again with the same state).
fn call_until_answered(
    host: &TestHost,
    request: &CertificateRequest,
    state: Option<&[u8]>,
) -> Call {
    for _ in 0..10 {
        match call(host, request, state) {
            Call::Retry(error) => assert!(error.message.contains("badNonce"), "{error:?}"),
            answered => return answered,
        }
    }
    panic!("ten calls in a row failed");
}

/// `validate` until it is not a retryable nonce rejection.
fn validate_until_answered(
    config: &IssuerConfig,
    host: &TestHost,
) -> Result<Validated, PluginError> {
    for _ in 0..10 {
        match validate(config, host) {
            Err(error) if error.retryable && error.message.contains("badNonce") => {}
            answered => return answered,
        }
    }
    panic!("ten validations in a row failed");
}

fn now() -> i64 {
    TestHost::new().now_unix()
}

#[test]
fn validates_and_issues_for_two_names_through_both_challenge_types() {
    let pebble = Pebble::start(5, None);
    let host = TestHost::new();
    let config = issuer(&pebble, serde_json::json!({}));

    // The account key is generated in its Secret, the account registered;
    // a second validation finds the same account.
    let validated = validate_until_answered(&config, &host)
        .unwrap_or_else(|e| panic!("{e:?}\n{}", pebble.log()));
    let ready = &validated.readiness;
    assert_eq!(ready.reason, "ACMEAccountRegistered");
    assert_eq!(
        ready.message,
        "The ACME account was registered with the ACME server"
    );
    assert!(host.keys.borrow().contains_key("acme-account"));
    // The account for status.acme: Pebble's account URL, and the spec's
    // email as written (cert-manager's lastRegisteredEmail is the spec's,
    // though the contact it registers is lower-cased).
    let base = pebble.directory_url.trim_end_matches("/dir");
    assert!(
        validated
            .account_url
            .starts_with(&format!("{base}/my-account/")),
        "{}",
        validated.account_url
    );
    assert_eq!(validated.email, "Ops@Example.com");
    let again = validate_until_answered(&config, &host).expect("validate again");
    assert_eq!(again.account_url, validated.account_url);

    let key = OpensslKey::generate(KeyKind::EcdsaP256);
    let csr = key.csr(
        "/CN=www.example.com",
        &["subjectAltName=DNS:www.example.com,DNS:api.dns.example.com"],
    );
    let mut request = request(config, csr);

    // First call: the order and one chosen challenge per name.
    let Call::Pending(first) = call_until_answered(&host, &request, None) else {
        panic!("the first call is pending");
    };
    let order = first.order.clone().expect("order");
    assert_eq!(order.state, OrderState::Pending);
    assert!(order.url.starts_with("https://127.0.0.1:"), "{}", order.url);
    assert_eq!(order.challenges.len(), 2);
    let www = order
        .challenges
        .iter()
        .find(|c| c.dns_name == "www.example.com")
        .expect("www");
    let api = order
        .challenges
        .iter()
        .find(|c| c.dns_name == "api.dns.example.com")
        .expect("api");
    assert_eq!(
        (www.challenge_type, api.challenge_type),
        (ChallengeType::Http01, ChallengeType::Dns01)
    );
    assert!(www.solver_json.contains("nginx") && api.solver_json.contains("rfc2136"));
    let thumbprint = www.key.split_once('.').expect("key authorization").1;
    assert_eq!(www.key, format!("{}.{thumbprint}", www.token));
    assert_eq!(
        api.key,
        certwasm_plugin_acme::jose::dns01_value(&format!("{}.{thumbprint}", api.token))
    );
    assert!(
        first
            .waiting_for
            .starts_with("Waiting for the challenges to be presented"),
        "{}",
        first.waiting_for
    );
    assert!(
        first.state.len() < 2048,
        "state is {} bytes",
        first.state.len()
    );
    eprintln!(
        "state after the first call: {}",
        String::from_utf8_lossy(&first.state)
    );

    // Nothing presented: still waiting, same order.
    let Call::Pending(again) = call_until_answered(&host, &request, Some(&first.state)) else {
        panic!("still pending");
    };
    assert_eq!(again.order.expect("order").url, order.url);

    let (chain, order_urls, _) = drive(&host, &mut request, Some(again.state));
    assert!(order_urls.iter().all(|url| *url == order.url));
    assert_eq!(
        *host.orders_created.borrow(),
        1,
        "exactly one order created"
    );

    let blocks = chain.matches("BEGIN CERTIFICATE").count();
    assert!(blocks >= 2, "leaf and intermediate: {chain}");
    let verified = verify(&pebble.root(0), &chain, now()).unwrap_or_else(|e| panic!("{e}"));
    assert!(verified.contains("OK"), "{verified}");
    let text = certwasm_plugin_sdk::testing::text(&chain);
    assert!(
        text.contains("DNS:www.example.com") && text.contains("DNS:api.dns.example.com"),
        "{text}"
    );
}

#[test]
fn bad_nonces_are_retried_at_fifty_percent_rejection() {
    let pebble = Pebble::start(50, None);
    let host = TestHost::new();
    let config = issuer(&pebble, serde_json::json!({}));
    // Validation may meet two rejections in a row (25%); that is retryable.
    let mut attempts = 0;
    loop {
        attempts += 1;
        match validate(&config, &host) {
            Ok(ready) => {
                assert_eq!(ready.readiness.reason, "ACMEAccountRegistered");
                break;
            }
            Err(e) if e.retryable && attempts < 10 => {
                assert!(e.message.contains("badNonce"), "{e:?}");
            }
            Err(e) => panic!("{e:?}"),
        }
    }
    let key = OpensslKey::generate(KeyKind::EcdsaP256);
    let mut request = request(
        config,
        key.csr("/", &["subjectAltName=DNS:a.example.com,DNS:b.example.com"]),
    );
    let (chain, order_urls, retries) = drive(&host, &mut request, None);
    verify(&pebble.root(0), &chain, now()).unwrap_or_else(|e| panic!("{e}"));
    let first = order_urls.first().expect("order");
    assert!(order_urls.iter().all(|url| url == first), "{order_urls:?}");
    let bad_nonces = *host.bad_nonces.borrow();
    let requests = host.sent.borrow().len();
    // Each signed request is rejected half the time, so some were (the
    // chance of none over a dozen or more is below 1 in 4000), and the
    // issuance still finished.
    assert!(
        bad_nonces >= 1,
        "at 50% Pebble rejected none of {requests} requests"
    );
    eprintln!("{requests} requests, {bad_nonces} badNonce rejections, {retries} retried calls");
}

#[test]
fn a_restarted_host_resumes_the_same_order_and_gets_the_preferred_chain() {
    let pebble = Pebble::start(5, None);
    // The alternate chain's top certificate is issued by root 1.
    let root1 = pebble.root(1);
    let root1_cn = openssl_subject_cn(&root1);
    let host = TestHost::new();
    let config = issuer(&pebble, serde_json::json!({"preferredChain": root1_cn}));
    validate_until_answered(&config, &host).expect("validate");
    let key = OpensslKey::generate(KeyKind::EcdsaP256);
    let mut request = request(
        config,
        key.csr(
            "/CN=resume.example.com",
            &["subjectAltName=DNS:resume.example.com"],
        ),
    );
    let Call::Pending(first) = call_until_answered(&host, &request, None) else {
        panic!("pending");
    };
    let order_url = first.order.expect("order").url;
    let saved = State::from_bytes(&first.state).expect("state");
    assert_eq!(saved.order.as_ref().expect("order").url, order_url);

    // A new host (nothing in memory but the Secrets and the state bytes).
    let restarted = host.restarted();
    *restarted.presented.borrow_mut() = saved
        .order
        .expect("order")
        .authorizations
        .iter()
        .filter_map(|a| Some(a.challenge.as_ref()?.token.clone()))
        .collect();
    let (chain, order_urls, _) = drive(&restarted, &mut request, Some(first.state));
    assert!(
        order_urls.iter().all(|url| *url == order_url),
        "{order_urls:?}"
    );
    assert!(
        restarted
            .sent
            .borrow()
            .iter()
            .all(|(_, url)| !url.ends_with("/order-plz") && !url.ends_with("/dir")),
        "the resumed host neither created an order nor re-read the directory"
    );
    verify(&root1, &chain, now()).unwrap_or_else(|e| panic!("preferred chain: {e}"));
    assert!(verify(&pebble.root(0), &chain, now()).is_err());
}

#[test]
fn external_account_binding_is_required_and_accepted() {
    // Pebble's documented example key.
    let mac_key = "zWNDZM6eQGHWpSRTPal5eIUYFTu7EajVIoguysqZ9wG44nMEtx3MUAsUDkMTQ12W";
    let pebble = Pebble::start(0, Some(("kid-1", mac_key)));
    let mut host = TestHost::new();
    let without =
        validate_until_answered(&issuer(&pebble, serde_json::json!({})), &host).unwrap_err();
    assert_eq!(without.reason, "ErrRegisterACMEAccount");
    assert!(
        without
            .message
            .starts_with("Failed to verify ACME account: "),
        "{}",
        without.message
    );
    assert!(
        without.message.contains("external account binding"),
        "{}",
        without.message
    );
    host.secrets.insert(
        "eab".into(),
        Secret {
            data: vec![("secret".into(), mac_key.as_bytes().to_vec())],
        },
    );
    let config = issuer(
        &pebble,
        serde_json::json!({"externalAccountBinding": {"keyID": "kid-1", "keySecretRef": {"name": "eab", "key": "secret"}}}),
    );
    let ready = validate_until_answered(&config, &host)
        .unwrap_or_else(|e| panic!("{e:?}\n{}", pebble.log()));
    assert_eq!(ready.readiness.reason, "ACMEAccountRegistered");
    // A wrong key id is refused by the server, with its detail, for good.
    let wrong = issuer(
        &pebble,
        serde_json::json!({"privateKeySecretRef": {"name": "other"}, "externalAccountBinding": {"keyID": "kid-9", "keySecretRef": {"name": "eab", "key": "secret"}}}),
    );
    let refused = validate_until_answered(&wrong, &host).unwrap_err();
    assert!(!refused.retryable, "{refused:?}");
    assert!(
        refused.message.contains("urn:ietf:params:acme:error:"),
        "{}",
        refused.message
    );
}

fn openssl_subject_cn(pem: &str) -> String {
    let file = tempfile::NamedTempFile::new().expect("temp");
    std::fs::write(file.path(), pem).expect("write");
    let out = openssl(&[
        "x509",
        "-noout",
        "-subject",
        "-nameopt",
        "multiline",
        "-in",
        file.path().to_str().expect("utf-8"),
    ]);
    String::from_utf8_lossy(&out)
        .lines()
        .find_map(|line| line.trim().strip_prefix("commonName"))
        .map(|rest| rest.trim().trim_start_matches('=').trim().to_owned())
        .expect("a CN")
}
