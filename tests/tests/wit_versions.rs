//! Every contract version the host claims keeps loading: plugins built
//! against the frozen `certwasm:issuer@0.1.0` (tests/plugins/legacy),
//! `certwasm:issuer@0.2.0` (tests/plugins/legacy-0-2) and
//! `certwasm:issuer@0.3.0` (tests/plugins/legacy-0-3) run next to one built
//! against the current 0.4.0 (the SDK's), with every import and outcome of
//! their version going through the host, and `certwasm plugin info` naming
//! the version each was built against.

// Test code: a failed unwrap is a failed test.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::net::IpAddr;
use std::sync::{Arc, Mutex};

use certwasm::pki::{KeyAlgorithm, KeyEncoding, KeyUsage, PrivateKey};
use certwasm::plugin::bindings::orders::{ChallengeState, ChallengeType, OrderState};
use certwasm::plugin::bindings::types::{
    CertificateRequest, EventType, IssueOutcome, IssuerConfig, IssuerKind, Need,
};
use certwasm::plugin::outbound::{Outbound, OutboundRequest, OutboundResponse};
use certwasm::plugin::secrets::{MemorySecrets, SecretData};
use certwasm::plugin::{CallEffects, CallLimits, IssueCall, Plugin, PluginEngine, WitVersion};

const LEGACY: &[u8] = include_bytes!(env!("CERTWASM_LEGACY_PLUGIN"));
const LEGACY_0_2: &[u8] = include_bytes!(env!("CERTWASM_LEGACY_0_2_PLUGIN"));
const LEGACY_0_3: &[u8] = include_bytes!(env!("CERTWASM_LEGACY_0_3_PLUGIN"));
const HOSTILE: &[u8] = include_bytes!(env!("CERTWASM_HOSTILE_PLUGIN"));

/// `allowed.test` answers 204 to everything; what was sent is remembered
/// (URL and TLS server name).
#[derive(Default)]
struct Network {
    sent: Mutex<Vec<(String, Option<String>)>>,
}

impl Outbound for Network {
    fn resolve(&self, host: &str, _port: u16) -> Result<Vec<IpAddr>, String> {
        match host {
            "allowed.test" => Ok(vec!["192.0.2.1".parse().unwrap()]),
            other => Err(format!("no such host {other}")),
        }
    }

    fn send(&self, request: OutboundRequest) -> Result<OutboundResponse, String> {
        self.sent
            .lock()
            .unwrap()
            .push((request.url.to_string(), request.server_name));
        Ok(OutboundResponse {
            status: 204,
            headers: Vec::new(),
            body: Vec::new(),
        })
    }
}

fn request() -> CertificateRequest {
    CertificateRequest {
        name: "legacy-1".into(),
        namespace: "versions".into(),
        csr_pem: "data to sign".into(),
        duration_seconds: Some(3600),
        is_ca: false,
        usages: vec![KeyUsage::ServerAuth.into()],
        issuer: config(),
        request_key: None,
        annotations: Vec::new(),
    }
}

fn call(state: Option<Vec<u8>>) -> IssueCall {
    IssueCall {
        request: request(),
        request_key: None,
        state,
        presented_challenges: Vec::new(),
    }
}

fn config() -> IssuerConfig {
    let spec = serde_json::json!({
        "plugin": {
            "name": "legacy",
            "config": {
                "endpoint": "http://allowed.test/",
                "keySecretRef": {"name": "referenced"},
            }
        }
    });
    IssuerConfig {
        kind: IssuerKind::Issuer,
        name: "legacy".into(),
        namespace: "versions".into(),
        spec_json: spec.to_string(),
    }
}

/// What `certwasm plugin info <path>` prints for a fixture.
fn plugin_info(path: &str) -> String {
    certwasm::cli::plugin_info::describe(path, None).unwrap()
}

fn effects(network: Arc<Network>) -> CallEffects {
    let secrets = Arc::new(MemorySecrets::default());
    let key = PrivateKey::generate(KeyAlgorithm::EcdsaP256).unwrap();
    secrets.insert(
        "versions",
        "referenced",
        SecretData::from([
            (
                "tls.key".to_owned(),
                key.to_pem(KeyEncoding::Pkcs8).unwrap().into_bytes(),
            ),
            ("token".to_owned(), b"s.abc".to_vec()),
        ]),
    );
    CallEffects {
        secrets,
        outbound: network,
        ..CallEffects::default()
    }
}

#[test]
fn a_plugin_built_against_0_1_0_still_works() {
    let engine = PluginEngine::new(None).unwrap();
    let (legacy, _) = Plugin::load(&engine, "legacy", LEGACY).expect("a 0.1.0 plugin loads");
    assert_eq!(legacy.wit_version(), WitVersion::V0_1);
    assert_eq!(legacy.wit_version().to_string(), "certwasm:issuer@0.1.0");
    assert_eq!(legacy.info().name, "legacy");
    let said = plugin_info(env!("CERTWASM_LEGACY_PLUGIN"));
    assert!(
        said.contains("interface:    certwasm:issuer@0.1.0"),
        "{said}"
    );
    let (current, _) = Plugin::load(&engine, "hostile", HOSTILE).unwrap();
    assert_eq!(current.wit_version(), WitVersion::V0_4);
    assert_eq!(current.wit_version(), WitVersion::CURRENT);

    let (effects, limits) = (effects(Arc::default()), CallLimits::default());
    // secrets.get (the key withheld), http.send, log.write, clock.
    let validated = legacy
        .validate(&config(), &effects, &limits)
        .unwrap()
        .unwrap();
    // issuer-status is 0.3.0's: nothing was reported.
    assert!(validated.acme_account.is_none());
    let ready = validated.readiness;
    assert_eq!(ready.reason, "LegacyReady");
    assert_eq!(ready.message, "fields=token http=204 clock=true");

    // A pending outcome with an event, then signer.load/public-key/sign.
    let Ok(IssueOutcome::Pending(pending)) = legacy.issue(call(None), &effects, &limits) else {
        panic!("expected pending");
    };
    assert_eq!(pending.state, b"second");
    assert_eq!(pending.events.len(), 1);
    assert_eq!(pending.events[0].type_, EventType::Normal);
    assert_eq!(pending.events[0].message, "usages [KeyUsage::ServerAuth]");
    let Ok(IssueOutcome::Issued(issued)) =
        legacy.issue(call(Some(pending.state)), &effects, &limits)
    else {
        panic!("expected issued");
    };
    assert_eq!(
        issued.certificate_chain_pem,
        "state=second spki=91 signed=true"
    );
}

#[test]
fn a_plugin_built_against_0_2_0_still_works() {
    let engine = PluginEngine::new(None).unwrap();
    let (legacy, _) =
        Plugin::load(&engine, "legacy-0-2", LEGACY_0_2).expect("a 0.2.0 plugin loads");
    assert_eq!(legacy.wit_version(), WitVersion::V0_2);
    assert_eq!(legacy.wit_version().to_string(), "certwasm:issuer@0.2.0");
    let said = plugin_info(env!("CERTWASM_LEGACY_0_2_PLUGIN"));
    for expected in [
        "name:         legacy-0-2",
        "version:      0.2.0",
        "interface:    certwasm:issuer@0.2.0",
    ] {
        assert!(said.contains(expected), "{expected}: {said}");
    }

    let network = Arc::new(Network::default());
    let (effects, limits) = (effects(Arc::clone(&network)), CallLimits::default());
    // secrets.get (the key withheld), http.send-tls (its server name
    // reaches the host), cache.set, log.write, clock.
    let validated = legacy
        .validate(&config(), &effects, &limits)
        .unwrap()
        .unwrap();
    assert_eq!(validated.readiness.reason, "LegacyReady");
    assert_eq!(
        validated.readiness.message,
        "fields=token https=204 clock=true"
    );
    assert_eq!(
        *network.sent.lock().unwrap(),
        [(
            "https://allowed.test/".to_owned(),
            Some("vault.internal".to_owned())
        )]
    );
    // A 0.2.0 plugin cannot report an account: status.acme stays as it is.
    assert!(validated.acme_account.is_none());

    // A pending outcome with an event, then cache.get/remove (what validate
    // stored) and signer.load/public-key/sign.
    let Ok(IssueOutcome::Pending(pending)) = legacy.issue(call(None), &effects, &limits) else {
        panic!("expected pending");
    };
    assert_eq!(pending.state, b"second");
    assert_eq!(pending.events[0].type_, EventType::Normal);
    assert_eq!(pending.events[0].message, "usages [KeyUsage::ServerAuth]");
    let Ok(IssueOutcome::Issued(issued)) =
        legacy.issue(call(Some(pending.state)), &effects, &limits)
    else {
        panic!("expected issued");
    };
    assert_eq!(
        issued.certificate_chain_pem,
        "state=second cached=yes spki=91 signed=true"
    );
}

#[test]
fn a_plugin_built_against_0_3_0_still_works() {
    let engine = PluginEngine::new(None).unwrap();
    let (legacy, _) =
        Plugin::load(&engine, "legacy-0-3", LEGACY_0_3).expect("a 0.3.0 plugin loads");
    assert_eq!(legacy.wit_version(), WitVersion::V0_3);
    let said = plugin_info(env!("CERTWASM_LEGACY_0_3_PLUGIN"));
    assert!(
        said.contains("interface:    certwasm:issuer@0.3.0"),
        "{said}"
    );
    // 0.3.0 had no way to declare needs: an `acme` plugin gets what that
    // issuer type got then (orders), and not the request's key.
    assert!(legacy.needs(Need::Orders));
    assert!(!legacy.needs(Need::RequestKey));

    let network = Arc::new(Network::default());
    let (effects, limits) = (effects(Arc::clone(&network)), CallLimits::default());
    // Every 0.3.0 import, issuer-status included: the account reaches the
    // host as a 0.4.0 value.
    let validated = legacy
        .validate(&config(), &effects, &limits)
        .unwrap()
        .unwrap();
    assert_eq!(
        validated.readiness.message,
        "fields=token https=204 clock=true"
    );
    let account = validated.acme_account.expect("reported");
    assert_eq!(
        (account.uri.as_str(), account.email.as_str()),
        ("https://acme.test/my-account/3", "legacy@example.com")
    );

    // The order in 0.3.0's pending outcome comes back as the order the
    // plugin reported, its strings now enums.
    let reply = legacy
        .issue_reporting(call(None), &effects, &limits)
        .unwrap();
    let Ok(IssueOutcome::Pending(pending)) = reply.result else {
        panic!("expected pending");
    };
    assert_eq!(pending.events[0].reason, "LegacyPending");
    let order = reply.order.expect("the 0.3.0 order is carried over");
    assert_eq!(order.state, OrderState::Pending);
    assert_eq!(order.url, "https://acme.test/order/3");
    let challenge = &order.challenges[0];
    assert_eq!(challenge.challenge_type, ChallengeType::Dns01);
    assert_eq!(challenge.state, ChallengeState::Processing);
    assert!(challenge.wildcard);

    // What 0.4.0's `orders.presented` answers reaches a 0.3.0 plugin in the
    // request, with the issuer kind spelled as before.
    let mut next = call(Some(pending.state));
    next.presented_challenges = vec!["token-3".into()];
    let reply = legacy.issue_reporting(next, &effects, &limits).unwrap();
    let Ok(IssueOutcome::Issued(issued)) = reply.result else {
        panic!("expected issued");
    };
    assert_eq!(
        issued.certificate_chain_pem,
        "state=second presented=token-3 kind=Issuer cached=yes spki=91 signed=true"
    );
    assert!(reply.order.is_none());
}
