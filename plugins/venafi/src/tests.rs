//! The Venafi issuer's flow against a scripted host: the calls it makes in
//! order, cert-manager's reasons and messages, the pickup kept across
//! calls, re-authentication after a 401, and the chain it returns.

use std::cell::RefCell;
use std::collections::HashMap;

use base64::Engine as _;
use certwasm_plugin_sdk::testing::{KeyKind, OpensslKey};
use certwasm_plugin_sdk::types::{
    CertificateRequest, HttpRequest, HttpResponse, IssueOutcome, IssuerConfig, IssuerKind,
    PluginError, Secret,
};
use serde_json::{Value, json};

use crate::flow::{self, VenafiHost};
use crate::state::State;

type Responder = Box<dyn Fn(&str, &Value) -> (u16, String)>;

/// Secrets, a scripted server (by `METHOD path`), the host's cache; every
/// request is recorded.
struct FakeHost {
    secrets: HashMap<String, Secret>,
    server: Responder,
    sent: RefCell<Vec<HttpRequest>>,
    cache: RefCell<HashMap<String, Vec<u8>>>,
}

impl FakeHost {
    fn new(server: impl Fn(&str, &Value) -> (u16, String) + 'static) -> Self {
        Self {
            secrets: HashMap::new(),
            server: Box::new(server),
            sent: RefCell::default(),
            cache: RefCell::default(),
        }
    }

    fn with_secret(mut self, name: &str, data: &[(&str, &str)]) -> Self {
        self.secrets.insert(
            name.to_owned(),
            Secret {
                data: data
                    .iter()
                    .map(|(k, v)| ((*k).to_owned(), v.as_bytes().to_vec()))
                    .collect(),
            },
        );
        self
    }

    /// `METHOD path` of every request, without the base URL.
    fn calls(&self) -> Vec<String> {
        self.sent
            .borrow()
            .iter()
            .map(|r| format!("{} {}", r.method, r.url.trim_start_matches(BASE)))
            .collect()
    }

    fn clear(&self) {
        self.sent.borrow_mut().clear();
    }
}

impl VenafiHost for FakeHost {
    fn secret(&self, name: &str) -> Result<Option<Secret>, String> {
        Ok(self.secrets.get(name).cloned())
    }

    fn send(&self, request: HttpRequest) -> Result<HttpResponse, String> {
        let call = format!(
            "{} {}",
            request.method,
            request.url.trim_start_matches(BASE)
        );
        let mut context: Value = if request.body.is_empty() {
            json!({})
        } else {
            serde_json::from_slice(&request.body).unwrap()
        };
        for (name, value) in &request.headers {
            context[format!("header:{name}")] = Value::String(value.clone());
        }
        self.sent.borrow_mut().push(request);
        let (status, body) = (self.server)(&call, &context);
        if status == 0 {
            return Err(body);
        }
        Ok(HttpResponse {
            status,
            headers: vec![],
            body: body.into_bytes(),
        })
    }

    fn now_unix(&self) -> i64 {
        1_790_000_000
    }

    fn cache_get(&self, key: &str) -> Option<Vec<u8>> {
        self.cache.borrow().get(key).cloned()
    }

    fn cache_set(&self, key: &str, value: &[u8], _ttl: u32) -> Result<(), String> {
        self.cache
            .borrow_mut()
            .insert(key.to_owned(), value.to_vec());
        Ok(())
    }

    fn cache_remove(&self, key: &str) {
        self.cache.borrow_mut().remove(key);
    }
}

const BASE: &str = "https://venafi.example/";

fn issuer(spec: Value) -> IssuerConfig {
    IssuerConfig {
        kind: IssuerKind::Issuer,
        name: "venafi".into(),
        namespace: "default".into(),
        spec_json: json!({ "venafi": spec }).to_string(),
    }
}

fn tpp_issuer() -> IssuerConfig {
    issuer(json!({
        "zone": "devops\\certwasm",
        "tpp": {"url": "https://venafi.example/vedsdk", "credentialsRef": {"name": "tpp"}}
    }))
}

fn cloud_issuer() -> IssuerConfig {
    issuer(json!({
        "zone": "My App\\Default",
        "cloud": {"url": "https://venafi.example", "apiTokenSecretRef": {"name": "cloud", "key": "apikey"}}
    }))
}

fn request(issuer: IssuerConfig, annotations: &[(&str, &str)]) -> CertificateRequest {
    let key = OpensslKey::generate(KeyKind::EcdsaP256);
    CertificateRequest {
        name: "web-1".into(),
        namespace: "default".into(),
        csr_pem: key.csr(
            "/CN=www.example.com",
            &["subjectAltName=DNS:www.example.com"],
        ),
        duration_seconds: None,
        is_ca: false,
        usages: vec![],
        issuer,
        request_key: None,
        annotations: annotations
            .iter()
            .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
            .collect(),
    }
}

fn chain() -> (String, String, String) {
    crate::chain::tests::pki()
}

fn pending_state(outcome: &IssueOutcome) -> (State, String) {
    match outcome {
        IssueOutcome::Pending(p) => (State::decode(&p.state).unwrap(), p.waiting_for.clone()),
        IssueOutcome::Issued(_) => panic!("expected pending"),
    }
}

fn issued(outcome: Result<IssueOutcome, PluginError>) -> (String, Option<String>) {
    match outcome {
        Ok(IssueOutcome::Issued(issued)) => (issued.certificate_chain_pem, issued.ca_pem),
        other => panic!("expected issued, got {other:?}"),
    }
}

/// A TPP that issues after `processing` retrieves, and knows one login.
fn tpp_server(
    processing: usize,
    leaf_chain: String,
) -> impl Fn(&str, &Value) -> (u16, String) + 'static {
    let retrieves = RefCell::new(0usize);
    let data = base64::engine::general_purpose::STANDARD.encode(leaf_chain);
    move |call, body| match call {
        "GET vedsdk/" => (200, "{}".into()),
        "POST vedauth/authorize/oauth" => {
            if body["username"] == "admin" && body["password"] == "secret" {
                (200, r#"{"access_token":"tok","expires_in":3600}"#.into())
            } else {
                (
                    400,
                    r#"{"error":"invalid_grant","error_description":"Username/password combination not valid"}"#
                        .into(),
                )
            }
        }
        "POST vedsdk/certificates/checkpolicy" => {
            if body["PolicyDN"] == "\\VED\\Policy\\devops\\certwasm" {
                (200, r#"{"Error":null,"Policy":{}}"#.into())
            } else {
                (
                    400,
                    format!(
                        r#"{{"Error":"PolicyDN: {} does not exist"}}"#,
                        body["PolicyDN"].as_str().unwrap().replace('\\', "\\\\")
                    ),
                )
            }
        }
        "POST vedsdk/certificates/request" => {
            assert_eq!(body["header:authorization"], "Bearer tok");
            assert_eq!(body["PolicyDN"], "\\VED\\Policy\\devops\\certwasm");
            assert_eq!(body["ObjectName"], "www.example.com");
            assert_eq!(body["DisableAutomaticRenewal"], true);
            (
                200,
                r#"{"CertificateDN":"\\VED\\Policy\\devops\\certwasm\\www.example.com"}"#.into(),
            )
        }
        "POST vedsdk/certificates/retrieve" => {
            assert_eq!(
                body["CertificateDN"],
                "\\VED\\Policy\\devops\\certwasm\\www.example.com"
            );
            let mut n = retrieves.borrow_mut();
            *n += 1;
            if *n <= processing {
                (202, r#"{"Stage":500,"Status":"Post CSR"}"#.into())
            } else {
                (200, format!(r#"{{"CertificateData":"{data}"}}"#))
            }
        }
        other => panic!("unexpected {other}"),
    }
}

#[test]
fn tpp_password_issuer_is_verified_with_its_zone() {
    let host = FakeHost::new(tpp_server(0, String::new()))
        .with_secret("tpp", &[("username", "admin"), ("password", "secret")]);
    let ready = flow::validate(&tpp_issuer(), &host).unwrap();
    assert_eq!(
        (ready.reason.as_str(), ready.message.as_str()),
        ("Verified", "Venafi issuer started")
    );
    assert_eq!(
        host.calls(),
        [
            "GET vedsdk/",
            "POST vedauth/authorize/oauth",
            "POST vedsdk/certificates/checkpolicy"
        ]
    );
    // The OAuth request carries no bearer token and cert-manager's client.
    let oauth: Value = serde_json::from_slice(&host.sent.borrow()[1].body).unwrap();
    assert_eq!(oauth["client_id"], "cert-manager.io");
    assert_eq!(oauth["scope"], "certificate:manage");
    assert!(
        !host.sent.borrow()[1]
            .headers
            .iter()
            .any(|(k, _)| k == "authorization")
    );

    // A zone TPP does not have: Venafi's words on the issuer.
    let bad_zone = issuer(json!({
        "zone": "nope",
        "tpp": {"url": "https://venafi.example/vedsdk", "credentialsRef": {"name": "tpp"}}
    }));
    let error = flow::validate(&bad_zone, &host).unwrap_err();
    assert_eq!(error.reason, "ErrorSetup");
    assert_eq!(
        error.message,
        "Failed to setup Venafi issuer: error reading zone \"nope\": PolicyDN: \\VED\\Policy\\nope does not exist"
    );
    assert!(!error.retryable);

    // A wrong password.
    let wrong = FakeHost::new(tpp_server(0, String::new()))
        .with_secret("tpp", &[("username", "admin"), ("password", "guess")]);
    let error = flow::validate(&tpp_issuer(), &wrong).unwrap_err();
    assert_eq!(
        error.message,
        "Failed to setup Venafi issuer: client.VerifyCredentials: Username/password combination not valid (invalid_grant)"
    );
}

#[test]
fn tpp_pickup_is_kept_until_the_certificate_is_there() {
    let (leaf, int, root) = chain();
    let host = FakeHost::new(tpp_server(2, format!("{leaf}{int}{root}")))
        .with_secret("tpp", &[("username", "admin"), ("password", "secret")]);
    let cr = request(tpp_issuer(), &[]);
    let first = flow::issue(&cr, None, &host).unwrap();
    let (state, waiting) = pending_state(&first);
    assert_eq!(
        state,
        State::Tpp {
            pickup_id: "\\VED\\Policy\\devops\\certwasm\\www.example.com".into(),
            polls: 1
        }
    );
    assert_eq!(
        waiting,
        "Venafi certificate is requested: Post CSR (stage 500)"
    );
    let IssueOutcome::Pending(pending) = &first else {
        unreachable!()
    };
    assert_eq!(pending.events[0].reason, "IssuancePending");
    assert_eq!(
        host.calls(),
        [
            "POST vedauth/authorize/oauth",
            "POST vedsdk/certificates/request",
            "POST vedsdk/certificates/retrieve"
        ]
    );
    host.clear();
    // Next call: the cached token, the same pickup, no second request.
    let second = flow::issue(&cr, Some(&state.encode()), &host).unwrap();
    let (state, waiting) = pending_state(&second);
    assert_eq!(state.polls(), 2);
    assert!(waiting.starts_with("Venafi certificate still in a pending state"));
    let third = flow::issue(&cr, Some(&state.encode()), &host);
    assert_eq!(
        host.calls(),
        [
            "POST vedsdk/certificates/retrieve",
            "POST vedsdk/certificates/retrieve"
        ]
    );
    let (chain_pem, ca) = issued(third);
    assert_eq!(chain_pem, format!("{leaf}{int}"));
    assert_eq!(ca, Some(root));
}

#[test]
fn an_expired_tpp_token_is_renewed_once() {
    let (leaf, _, root) = chain();
    let data = base64::engine::general_purpose::STANDARD.encode(format!("{leaf}{root}"));
    let logins = RefCell::new(0);
    let host = FakeHost::new(move |call, body| match call {
        "POST vedauth/authorize/oauth" => {
            *logins.borrow_mut() += 1;
            (
                200,
                format!(r#"{{"access_token":"tok{}"}}"#, logins.borrow()),
            )
        }
        "POST vedsdk/certificates/retrieve" if body["header:authorization"] == "Bearer tok2" => {
            (200, format!(r#"{{"CertificateData":"{data}"}}"#))
        }
        "POST vedsdk/certificates/retrieve" => (
            401,
            r#"{"error":"invalid_token","error_description":"The access token has expired"}"#
                .into(),
        ),
        other => panic!("unexpected {other}"),
    })
    .with_secret("tpp", &[("username", "admin"), ("password", "secret")]);
    let state = State::Tpp {
        pickup_id: "\\VED\\Policy\\x\\y".into(),
        polls: 3,
    };
    let cr = request(tpp_issuer(), &[]);
    let (chain_pem, _) = issued(flow::issue(&cr, Some(&state.encode()), &host));
    assert_eq!(chain_pem, leaf);
    assert_eq!(
        host.calls(),
        [
            "POST vedauth/authorize/oauth",
            "POST vedsdk/certificates/retrieve",
            "POST vedauth/authorize/oauth",
            "POST vedsdk/certificates/retrieve"
        ]
    );

    // A static access token cannot be renewed: the 401 is the answer.
    let static_token = FakeHost::new(|_, _| {
        (
            401,
            r#"{"error":"invalid_token","error_description":"The access token has expired"}"#
                .into(),
        )
    })
    .with_secret("tpp", &[("access-token", "old")]);
    let error = flow::issue(&cr, Some(&state.encode()), &static_token).unwrap_err();
    assert_eq!(error.reason, "RetrieveError");
    assert_eq!(
        error.message,
        "Failed to obtain venafi certificate: The access token has expired (invalid_token)"
    );
    assert_eq!(static_token.calls().len(), 1);
}

#[test]
fn tpp_outages_and_refusals() {
    let host = FakeHost::new(|call, _| match call {
        "POST vedsdk/certificates/request" => (500, r#"{"Error":"simulated outage"}"#.into()),
        "POST vedsdk/certificates/retrieve" => (0, "connection refused".into()),
        other => panic!("unexpected {other}"),
    })
    .with_secret("tpp", &[("access-token", "t")]);
    let cr = request(tpp_issuer(), &[]);
    let error = flow::issue(&cr, None, &host).unwrap_err();
    assert_eq!(
        (
            error.reason.as_str(),
            error.message.as_str(),
            error.retryable
        ),
        (
            "RequestError",
            "Failed to request venafi certificate: simulated outage",
            true
        )
    );
    // A transport error while retrieving keeps the pickup.
    let state = State::Tpp {
        pickup_id: "dn".into(),
        polls: 0,
    };
    let (kept, waiting) = pending_state(&flow::issue(&cr, Some(&state.encode()), &host).unwrap());
    assert_eq!(kept, state.polled());
    assert_eq!(
        waiting,
        "Failed to obtain venafi certificate: connection refused"
    );

    // Custom fields: sent grouped; a type cert-manager refuses fails.
    let seen = RefCell::new(Value::Null);
    let recording = FakeHost::new(move |call, body| {
        if call == "POST vedsdk/certificates/request" {
            *seen.borrow_mut() = body["CustomFields"].clone();
            return (500, format!("{}", seen.borrow()));
        }
        panic!("unexpected {call}")
    })
    .with_secret("tpp", &[("access-token", "t")]);
    let with_fields = request(
        tpp_issuer(),
        &[(
            "venafi.cert-manager.io/custom-fields",
            r#"[{"name":"Cost Center","value":"42"}]"#,
        )],
    );
    let error = flow::issue(&with_fields, None, &recording).unwrap_err();
    assert!(
        error
            .message
            .contains(r#"[{"Name":"Cost Center","Values":["42"]}]"#),
        "{}",
        error.message
    );
    let bad_fields = request(
        tpp_issuer(),
        &[(
            "venafi.cert-manager.io/custom-fields",
            r#"[{"name":"a","value":"1","type":"Bool"}]"#,
        )],
    );
    let error = flow::issue(&bad_fields, None, &recording).unwrap_err();
    assert_eq!(
        (
            error.reason.as_str(),
            error.message.as_str(),
            error.retryable
        ),
        (
            "CustomFieldsError",
            "certificate request contains an invalid Venafi custom fields type: \"Bool\"",
            false
        )
    );

    // No credentials Secret yet: wait for it.
    let no_secret = FakeHost::new(|call, _| panic!("unexpected {call}"));
    let error = flow::issue(&cr, None, &no_secret).unwrap_err();
    assert_eq!(
        (
            error.reason.as_str(),
            error.message.as_str(),
            error.retryable
        ),
        (
            "SecretMissing",
            "Required secret resource not found: secrets \"tpp\" not found",
            true
        )
    );
}

/// A Venafi Cloud that issues after `processing` status polls.
fn cloud_server(
    processing: usize,
    chain_pem: String,
    outcome: &'static str,
) -> impl Fn(&str, &Value) -> (u16, String) + 'static {
    let polls = RefCell::new(0usize);
    move |call, body| {
        if body["header:tppl-api-key"] != "k" {
            return (
                401,
                r#"{"errors":[{"code":10501,"message":"Invalid api key"}]}"#.into(),
            );
        }
        match call {
            "GET v1/useraccounts" => (200, r#"{"user":{"username":"u"}}"#.into()),
            "GET outagedetection/v1/applications/name/My%20App" => (
                200,
                r#"{"id":"app-1","certificateIssuingTemplateAliasIdMap":{"Default":"tpl-1"}}"#
                    .into(),
            ),
            "GET outagedetection/v1/applications/My%20App/certificateissuingtemplates/Default" => {
                (200, r#"{"id":"tpl-1","name":"Default"}"#.into())
            }
            "POST outagedetection/v1/certificaterequests" => {
                assert_eq!(body["applicationId"], "app-1");
                assert_eq!(body["certificateIssuingTemplateId"], "tpl-1");
                assert!(
                    body["certificateSigningRequest"]
                        .as_str()
                        .unwrap()
                        .contains("CERTIFICATE REQUEST")
                );
                (
                    201,
                    r#"{"certificateRequests":[{"id":"req-1","status":"REQUESTED"}]}"#.into(),
                )
            }
            "GET outagedetection/v1/certificaterequests/req-1" => {
                let mut n = polls.borrow_mut();
                *n += 1;
                if *n <= processing {
                    (200, r#"{"id":"req-1","status":"PENDING"}"#.into())
                } else if outcome == "ISSUED" {
                    (
                        200,
                        r#"{"id":"req-1","status":"ISSUED","certificateIds":["cert-1"]}"#.into(),
                    )
                } else {
                    (
                        200,
                        format!(
                            r#"{{"id":"req-1","status":"{outcome}","errorInformation":{{"code":10731,"message":"Policy forbids this name"}}}}"#
                        ),
                    )
                }
            }
            "GET outagedetection/v1/certificates/cert-1/contents?format=PEM&chainOrder=EE_FIRST" => {
                (200, chain_pem.clone())
            }
            other => (
                404,
                format!(r#"{{"errors":[{{"code":10051,"message":"Not found: {other}"}}]}}"#),
            ),
        }
    }
}

#[test]
fn cloud_issues_and_reuses_the_resolved_zone() {
    let (leaf, int, root) = chain();
    let host = FakeHost::new(cloud_server(1, format!("{leaf}{int}{root}"), "ISSUED"))
        .with_secret("cloud", &[("apikey", "k")]);
    let ready = flow::validate(&cloud_issuer(), &host).unwrap();
    assert_eq!(ready.reason, "Verified");
    assert_eq!(
        host.calls(),
        [
            "GET v1/useraccounts",
            "GET outagedetection/v1/applications/name/My%20App",
            "GET outagedetection/v1/applications/My%20App/certificateissuingtemplates/Default"
        ]
    );
    host.clear();
    let cr = request(cloud_issuer(), &[]);
    let (state, waiting) = pending_state(&flow::issue(&cr, None, &host).unwrap());
    assert_eq!(waiting, "Venafi certificate is requested: PENDING");
    // The zone resolved by validate is reused.
    assert_eq!(
        host.calls(),
        [
            "POST outagedetection/v1/certificaterequests",
            "GET outagedetection/v1/certificaterequests/req-1"
        ]
    );
    host.clear();
    let (chain_pem, ca) = issued(flow::issue(&cr, Some(&state.encode()), &host));
    assert_eq!(chain_pem, format!("{leaf}{int}"));
    assert_eq!(ca, Some(root));
    assert_eq!(
        host.calls(),
        [
            "GET outagedetection/v1/certificaterequests/req-1",
            "GET outagedetection/v1/certificates/cert-1/contents?format=PEM&chainOrder=EE_FIRST"
        ]
    );
}

#[test]
fn cloud_refusals_carry_venafis_words() {
    let host = FakeHost::new(cloud_server(0, String::new(), "FAILED"))
        .with_secret("cloud", &[("apikey", "k")]);
    let cr = request(cloud_issuer(), &[]);
    let error = flow::issue(&cr, None, &host).unwrap_err();
    assert_eq!(
        (
            error.reason.as_str(),
            error.message.as_str(),
            error.retryable
        ),
        (
            "RetrieveError",
            "Failed to obtain venafi certificate: certificate request req-1 is FAILED: Policy forbids this name (code 10731)",
            false
        )
    );
    let bad_key = FakeHost::new(cloud_server(0, String::new(), "ISSUED"))
        .with_secret("cloud", &[("apikey", "wrong")]);
    let error = flow::validate(&cloud_issuer(), &bad_key).unwrap_err();
    assert_eq!(
        error.message,
        "Failed to setup Venafi issuer: client.VerifyCredentials: Invalid api key (code 10501)"
    );
    let other_zone = issuer(json!({
        "zone": "Other\\Default",
        "cloud": {"url": "https://venafi.example", "apiTokenSecretRef": {"name": "cloud", "key": "apikey"}}
    }));
    let error = flow::validate(&other_zone, &host).unwrap_err();
    assert!(
        error.message.starts_with(
            "Failed to setup Venafi issuer: error reading zone \"Other\\Default\": Not found: "
        ),
        "{}",
        error.message
    );
}
