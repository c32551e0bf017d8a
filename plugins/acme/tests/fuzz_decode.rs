//! Property-based fuzzing of everything the ACME plugin reads from an ACME
//! server (or from the state the host hands back): directory, nonces,
//! problem documents, Retry-After and Link headers, orders,
//! authorizations, challenges, certificate chains. A server can send
//! anything; the invariant is that the protocol core never panics (a panic
//! in the component is a trap that fails the request with no reason).
//!
//! The case budget is small by default so CI stays fast; set
//! `CERTWASM_FUZZ_CASES` for a long run (see docs/security/hostile-input.md).

// Test code: a failed unwrap is a failed test.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::cell::RefCell;
use std::collections::VecDeque;

use certwasm_plugin_acme::client::{self, HttpRequest, HttpResponse, Transport};
use certwasm_plugin_acme::order::{
    self, AuthorizationState, ChallengeState, IssueInput, IssuerSettings, OrderState, State,
};
use certwasm_plugin_acme::solver::Solver;
use certwasm_plugin_acme::{identifiers, poll};
use certwasm_plugin_sdk::types::SignatureAlgorithm;
use certwasm_plugin_sdk::x509::Signer;
use p256::pkcs8::EncodePublicKey;
use proptest::prelude::*;
use proptest::test_runner::{Config, FileFailurePersistence};
use serde_json::{Value, json};

/// Cases per property: `CERTWASM_FUZZ_CASES`, else a CI-sized budget.
fn config(default_cases: u32) -> Config {
    let cases = std::env::var("CERTWASM_FUZZ_CASES")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(default_cases);
    Config {
        cases,
        // Findings become named regression tests below, not files.
        failure_persistence: Some(Box::new(FileFailurePersistence::Off)),
        ..Config::default()
    }
}

const CSR: &str = "-----BEGIN CERTIFICATE REQUEST-----
MIIBEjCBugIBADAYMRYwFAYDVQQDDA1hLmV4YW1wbGUuY29tMFkwEwYHKoZIzj0C
AQYIKoZIzj0DAQcDQgAEqLzo2dQv+dGfnPbh3A+DBZ2IVgKrHVE0lX/KMTieZGYn
9FYrIfnYs3f3api1+qv4W9BkbjVa6selh8kSmN/7taBAMD4GCSqGSIb3DQEJDjEx
MC8wLQYDVR0RBCYwJIINYS5leGFtcGxlLmNvbYINKi5leGFtcGxlLmNvbYcEfwAA
ATAKBggqhkjOPQQDAgNHADBEAiA9doTcFjNifWMdV4WMm1dVmQCkB2w2bsQCOIc9
BtmUMQIgfLFyommPZJsrFjH8qDs7E5lhi9DBlS2Ne7iQl48fUj0=
-----END CERTIFICATE REQUEST-----
";

/// An account key whose signatures nobody checks: the server here is the
/// fuzzer.
struct FixedKey {
    public_key_der: Vec<u8>,
}

impl FixedKey {
    fn new() -> Self {
        let key = p256::ecdsa::SigningKey::from_slice(&[7u8; 32]).unwrap();
        Self {
            public_key_der: key.verifying_key().to_public_key_der().unwrap().into_vec(),
        }
    }
}

impl Signer for FixedKey {
    fn public_key_der(&self) -> &[u8] {
        &self.public_key_der
    }

    fn sign(&self, _algorithm: SignatureAlgorithm, _data: &[u8]) -> Result<Vec<u8>, String> {
        // A well-formed DER ECDSA signature (r = s = 1).
        Ok(vec![0x30, 0x06, 0x02, 0x01, 0x01, 0x02, 0x01, 0x01])
    }
}

/// Answers each request with the next scripted response.
struct Script(RefCell<VecDeque<HttpResponse>>);

impl Transport for Script {
    fn send(&self, _request: HttpRequest) -> Result<HttpResponse, String> {
        self.0
            .borrow_mut()
            .pop_front()
            .ok_or_else(|| "connection refused".to_owned())
    }
}

fn url() -> impl Strategy<Value = String> {
    prop_oneof![
        4 => prop::sample::select(vec![
            "https://ca/dir", "https://ca/nonce", "https://ca/acct", "https://ca/order",
            "https://ca/order/1", "https://ca/authz/1", "https://ca/authz/2",
            "https://ca/chal/1", "https://ca/finalize/1", "https://ca/cert/1",
        ])
        .prop_map(str::to_owned),
        1 => any::<String>(),
    ]
}

fn status_word() -> impl Strategy<Value = String> {
    prop_oneof![
        4 => prop::sample::select(vec![
            "pending", "ready", "processing", "valid", "invalid", "expired",
            "deactivated", "revoked",
        ])
        .prop_map(str::to_owned),
        1 => any::<String>(),
    ]
}

fn arbitrary_json() -> impl Strategy<Value = Value> {
    let leaf = prop_oneof![
        Just(Value::Null),
        any::<bool>().prop_map(Value::Bool),
        any::<i64>().prop_map(|n| json!(n)),
        any::<f64>().prop_map(|n| json!(n)),
        any::<String>().prop_map(Value::String),
    ];
    leaf.prop_recursive(4, 32, 6, |inner| {
        prop_oneof![
            prop::collection::vec(inner.clone(), 0..6).prop_map(Value::Array),
            prop::collection::btree_map(
                prop_oneof![
                    prop::sample::select(vec![
                        "status",
                        "type",
                        "url",
                        "token",
                        "detail",
                        "identifier",
                        "value",
                        "challenges",
                        "authorizations",
                        "finalize",
                        "certificate",
                        "error",
                        "wildcard",
                        "subproblems",
                        "newNonce",
                        "newAccount",
                        "newOrder",
                        "meta",
                    ])
                    .prop_map(str::to_owned),
                    any::<String>(),
                ],
                inner,
                0..6
            )
            .prop_map(|m| Value::Object(m.into_iter().collect())),
        ]
    })
}

fn problem() -> impl Strategy<Value = Value> {
    (
        prop::sample::select(vec![
            "badNonce", "rateLimited", "unauthorized", "malformed", "orderNotReady",
            "serverInternal", "accountDoesNotExist", "",
        ]),
        any::<String>(),
        prop::collection::vec(("[a-z]{0,8}", any::<String>()), 0..3),
    )
        .prop_map(|(kind, detail, subs)| {
            json!({
                "type": format!("urn:ietf:params:acme:error:{kind}"),
                "detail": detail,
                "subproblems": subs.into_iter().map(|(k, d)| json!({"type": k, "detail": d})).collect::<Vec<_>>(),
            })
        })
}

/// ACME documents with plausible shapes and hostile values.
fn acme_document() -> impl Strategy<Value = Value> {
    let challenge = (
        prop::sample::select(vec!["http-01", "dns-01", "tls-alpn-01", "other"]),
        url(),
        any::<String>(),
        status_word(),
    )
        .prop_map(|(kind, url, token, status)| {
            json!({"type": kind, "url": url, "token": token, "status": status})
        });
    prop_oneof![
        (url(), url(), url(), any::<bool>()).prop_map(|(a, b, c, eab)| json!({
            "newNonce": a, "newAccount": b, "newOrder": c,
            "meta": {"externalAccountRequired": eab},
        })),
        (
            status_word(),
            prop::collection::vec(url(), 0..4),
            url(),
            prop::option::of(url())
        )
            .prop_map(|(status, authorizations, finalize, certificate)| json!({
                "status": status, "authorizations": authorizations,
                "finalize": finalize, "certificate": certificate,
                "identifiers": [{"type": "dns", "value": "a.example.com"}],
            })),
        (
            status_word(),
            prop::sample::select(vec!["a.example.com", "example.com", "127.0.0.1", ""]),
            any::<bool>(),
            prop::collection::vec(challenge, 0..4),
        )
            .prop_map(|(status, value, wildcard, challenges)| json!({
                "status": status,
                "identifier": {"type": "dns", "value": value},
                "wildcard": wildcard,
                "challenges": challenges,
            })),
        problem(),
        arbitrary_json(),
    ]
}

fn header() -> impl Strategy<Value = (String, String)> {
    let name = prop::sample::select(vec![
        "Replay-Nonce",
        "replay-nonce",
        "Location",
        "Retry-After",
        "Link",
        "Content-Type",
    ])
    .prop_map(str::to_owned);
    let value = prop_oneof![
        any::<String>(),
        any::<u64>().prop_map(|n| n.to_string()),
        retry_after_value(),
        (url(), "[a-z\" ;=,]{0,20}").prop_map(|(u, p)| format!("<{u}>;rel=\"alternate\"{p}")),
    ];
    (name, value)
}

fn retry_after_value() -> impl Strategy<Value = String> {
    (
        prop::sample::select(vec!["Sun,", "Mon,", ""]),
        any::<i64>(),
        prop::sample::select(vec!["Jan", "Feb", "Dec", "Foo"]),
        prop_oneof![any::<i64>(), 1900i64..3000],
        any::<i64>(),
        0i64..100,
        0i64..100,
    )
        .prop_map(|(dow, day, month, year, h, m, s)| {
            format!("{dow} {day} {month} {year} {h}:{m}:{s} GMT")
        })
}

fn response() -> impl Strategy<Value = HttpResponse> {
    let body = prop_oneof![
        4 => acme_document().prop_map(|v| v.to_string().into_bytes()),
        1 => prop::collection::vec(any::<u8>(), 0..64),
        1 => Just(b"-----BEGIN CERTIFICATE-----\nMIIB\n-----END CERTIFICATE-----\n".to_vec()),
    ];
    (
        prop::sample::select(vec![
            200u16, 201, 204, 301, 400, 403, 404, 429, 500, 503, 0, 999,
        ]),
        prop::collection::vec(header(), 0..4),
        body,
    )
        .prop_map(|(status, headers, body)| HttpResponse {
            status,
            headers,
            body,
        })
}

/// The answers a well-behaved server gives, in order; each may be
/// replaced by a hostile one.
fn plausible_exchange() -> Vec<HttpResponse> {
    let nonce = || ("Replay-Nonce".to_owned(), "n0nce".to_owned());
    let answer = |status, headers: Vec<(String, String)>, body: Value| HttpResponse {
        status,
        headers,
        body: body.to_string().into_bytes(),
    };
    vec![
        answer(
            200,
            vec![],
            json!({"newNonce": "https://ca/nonce", "newAccount": "https://ca/acct", "newOrder": "https://ca/order"}),
        ),
        answer(200, vec![nonce()], json!(null)),
        answer(
            201,
            vec![nonce(), ("Location".into(), "https://ca/acct/1".into())],
            json!({"status": "valid", "contact": ["mailto:user@example.com"]}),
        ),
        answer(
            201,
            vec![nonce(), ("Location".into(), "https://ca/order/1".into())],
            json!({
                "status": "pending", "authorizations": ["https://ca/authz/1"], "finalize": "https://ca/finalize/1",
            }),
        ),
        answer(
            200,
            vec![nonce()],
            json!({
                "status": "pending", "identifier": {"type": "dns", "value": "a.example.com"},
                "challenges": [{"type": "http-01", "url": "https://ca/chal/1", "token": "tok", "status": "pending"}],
            }),
        ),
        answer(
            200,
            vec![nonce()],
            json!({"status": "processing", "type": "http-01", "url": "https://ca/chal/1", "token": "tok"}),
        ),
        answer(
            200,
            vec![nonce()],
            json!({
                "status": "valid", "authorizations": ["https://ca/authz/1"], "finalize": "https://ca/finalize/1",
                "certificate": "https://ca/cert/1",
            }),
        ),
    ]
}

fn script() -> impl Strategy<Value = Vec<HttpResponse>> {
    let plausible = plausible_exchange();
    let n = plausible.len();
    (
        prop::collection::vec(prop::option::weighted(0.3, response()), n),
        prop::collection::vec(response(), 0..6),
    )
        .prop_map(move |(replacements, tail)| {
            let mut out: Vec<HttpResponse> = plausible
                .iter()
                .zip(replacements)
                .map(|(p, r)| r.unwrap_or_else(|| p.clone()))
                .collect();
            out.extend(tail);
            out
        })
}

fn saved_state() -> impl Strategy<Value = State> {
    let challenge = (
        url(),
        prop::sample::select(vec!["http-01", "dns-01", "x"]),
        any::<String>(),
        0usize..4,
        status_word(),
        any::<bool>(),
    )
        .prop_map(
            |(url, kind, token, solver, status, responded)| ChallengeState {
                url,
                kind: kind.to_owned(),
                token,
                solver,
                status,
                responded,
                error: String::new(),
            },
        );
    let authorization = (
        url(),
        "[a-z.*]{0,12}",
        any::<bool>(),
        status_word(),
        prop::option::of(challenge),
    )
        .prop_map(
            |(url, identifier, wildcard, status, challenge)| AuthorizationState {
                url,
                identifier,
                wildcard,
                status,
                challenge,
            },
        );
    let order = (
        url(),
        status_word(),
        url(),
        prop::option::of(url()),
        prop::collection::vec(authorization, 0..3),
    )
        .prop_map(
            |(url, status, finalize, certificate, authorizations)| OrderState {
                url,
                status,
                finalize,
                certificate,
                authorizations,
                error: String::new(),
            },
        );
    (
        prop::option::of(order),
        any::<u32>(),
        any::<String>(),
        prop::option::of("[a-z]{0,8}"),
    )
        .prop_map(|(order, polls, progress, nonce)| State {
            v: order::STATE_VERSION,
            directory: client::Directory {
                new_nonce: "https://ca/nonce".into(),
                new_account: "https://ca/acct".into(),
                new_order: "https://ca/order".into(),
                meta: None,
            },
            account: "https://ca/acct/1".into(),
            nonce,
            order,
            polls,
            progress,
        })
}

fn solvers() -> Vec<Solver> {
    serde_json::from_value(json!([
        {"http01": {"ingress": {}}},
        {"dns01": {"rfc2136": {}}, "selector": {"dnsZones": ["example.com"]}},
    ]))
    .unwrap()
}

/// One issuance call against a scripted (hostile) server.
fn run_advance(
    responses: Vec<HttpResponse>,
    state: Option<Vec<u8>>,
    presented: Vec<String>,
    now: i64,
) {
    let transport = Script(RefCell::new(responses.into()));
    let key = FixedKey::new();
    let solvers = solvers();
    let settings = IssuerSettings {
        server: "https://ca/dir",
        email: "user@example.com",
        solvers: &solvers,
        preferred_chain: "Some Root",
        ..IssuerSettings::default()
    };
    let input = IssueInput {
        csr_pem: CSR,
        duration_seconds: Some(3600),
        presented: &presented,
        now_unix: now,
        ..IssueInput::default()
    };
    let _ = order::advance(&transport, &key, &settings, &input, state.as_deref());
}

proptest! {
    #![proptest_config(config(256))]

    #[test]
    fn an_issuance_against_a_hostile_server_never_panics(
        responses in script(),
        state in prop::option::of(saved_state()),
        presented in prop::collection::vec(prop::sample::select(vec!["tok".to_owned(), String::new()]), 0..2),
        now in 0i64..4_000_000_000,
    ) {
        run_advance(responses, state.map(|s| s.to_bytes()), presented, now);
    }

    #[test]
    fn saved_state_bytes_never_panic_and_round_trip(state in saved_state(), garbage in prop::collection::vec(any::<u8>(), 0..128)) {
        let bytes = state.to_bytes();
        prop_assert_eq!(State::from_bytes(&bytes).unwrap(), state);
        let _ = State::from_bytes(&garbage);
    }

    #[test]
    fn retry_after_and_link_headers_never_panic(
        value in prop_oneof![retry_after_value(), any::<String>()],
        now in any::<i64>(),
        attempt in any::<u32>(),
        headers in prop::collection::vec(header(), 0..6),
        rel in "[a-z]{0,10}",
    ) {
        let _ = client::parse_retry_after(&value, now);
        let _ = poll::delay_ms(attempt, Some(&value), now);
        let response = HttpResponse { status: 200, headers, body: Vec::new() };
        let _ = client::links(&response, &rel);
    }

    #[test]
    fn csrs_and_chains_from_anywhere_never_panic(
        bytes in prop::collection::vec(any::<u8>(), 0..512),
        flips in prop::collection::vec((any::<prop::sample::Index>(), any::<u8>()), 0..8),
        cn in any::<String>(),
    ) {
        // Random bytes as PEM, and the real CSR with bytes flipped in its
        // DER (the parser must meet every length and tag it can see).
        let _ = identifiers::from_csr_pem(&String::from_utf8_lossy(&bytes));
        let mut der = pem_body(CSR);
        for (at, byte) in &flips {
            let i = at.index(der.len());
            der[i] = *byte;
        }
        let pem = to_pem("CERTIFICATE REQUEST", &der);
        let _ = identifiers::from_csr_pem(&pem);
        let chain = to_pem("CERTIFICATE", &der);
        let _ = order::top_issuer_is(&chain, &cn);
        let _ = order::decode_ca_bundle(&String::from_utf8_lossy(&bytes));
    }
}

fn pem_body(pem: &str) -> Vec<u8> {
    use base64::Engine;
    let text: String = pem.lines().filter(|l| !l.starts_with("-----")).collect();
    base64::engine::general_purpose::STANDARD
        .decode(text)
        .unwrap()
}

fn to_pem(label: &str, der: &[u8]) -> String {
    use base64::Engine;
    format!(
        "-----BEGIN {label}-----\n{}\n-----END {label}-----\n",
        base64::engine::general_purpose::STANDARD.encode(der)
    )
}

#[test]
fn the_plausible_exchange_is_understood() {
    // The skeleton the fuzzer mutates must reach deep into the protocol,
    // or the fuzzing only ever exercises the first request.
    let transport = Script(RefCell::new(plausible_exchange().into()));
    let key = FixedKey::new();
    let solvers = solvers();
    let settings = IssuerSettings {
        server: "https://ca/dir",
        email: "user@example.com",
        solvers: &solvers,
        ..IssuerSettings::default()
    };
    let input = IssueInput {
        csr_pem: CSR,
        now_unix: 1_790_000_000,
        ..IssueInput::default()
    };
    let outcome = order::advance(&transport, &key, &settings, &input, None);
    assert!(outcome.is_ok(), "{outcome:?}");
    // At least the directory, nonce, account, order and authorization
    // were consumed.
    assert!(
        transport.0.borrow().len() <= 2,
        "{}",
        transport.0.borrow().len()
    );
}

/// A Retry-After HTTP-date with fields out of range made the date
/// arithmetic overflow: a panic in a debug build, and in the component
/// (built without overflow checks) a wrapped, meaningless delay. Such a
/// header is not a date.
#[test]
fn a_retry_after_date_with_absurd_fields_is_not_a_date() {
    let absurd = [
        "Sun, 9223372036854775807 Nov 1994 08:49:37 GMT",
        "Sun, 06 Nov 9223372036854775807 08:49:37 GMT",
        "Sun, 06 Nov 1994 9223372036854775807:49:37 GMT",
        "Sun, 06 Nov -9223372036854775808 08:49:37 GMT",
        "Sun, 32 Nov 1994 08:49:37 GMT",
    ];
    for value in absurd {
        assert_eq!(client::parse_retry_after(value, 0), None, "{value}");
        assert_eq!(poll::delay_ms(0, Some(value), 0), poll::FIRST_POLL_MS);
    }
    // A real date with the clock at either end of time: no overflow.
    assert!(client::parse_retry_after("Sun, 06 Nov 1994 08:49:37 GMT", i64::MIN).is_some());
    assert_eq!(
        client::parse_retry_after("Sun, 06 Nov 1994 08:49:37 GMT", i64::MAX),
        Some(0)
    );
}
