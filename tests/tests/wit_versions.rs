//! Every contract version the host claims keeps loading: a plugin built
//! against the frozen `certwasm:issuer@0.1.0` (tests/plugins/legacy) runs
//! next to one built against the current 0.2.0 (the SDK's), with every
//! 0.1.0 import and outcome going through the host.

// Test code: a failed unwrap is a failed test.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::net::IpAddr;
use std::sync::Arc;

use certwasm::pki::{KeyAlgorithm, KeyEncoding, KeyUsage, PrivateKey};
use certwasm::plugin::bindings::types::{
    CertificateRequest, EventType, IssueOutcome, IssuerConfig,
};
use certwasm::plugin::outbound::{Outbound, OutboundRequest, OutboundResponse};
use certwasm::plugin::secrets::{MemorySecrets, SecretData};
use certwasm::plugin::{
    CallEffects, CallLimits, IssueCall, Plugin, PluginEngine, WitVersion, convert_usage,
};

const LEGACY: &[u8] = include_bytes!(env!("CERTWASM_LEGACY_PLUGIN"));
const HOSTILE: &[u8] = include_bytes!(env!("CERTWASM_HOSTILE_PLUGIN"));

/// `allowed.test` answers 204 to everything.
struct Network;

impl Outbound for Network {
    fn resolve(&self, host: &str, _port: u16) -> Result<Vec<IpAddr>, String> {
        match host {
            "allowed.test" => Ok(vec!["192.0.2.1".parse().unwrap()]),
            other => Err(format!("no such host {other}")),
        }
    }

    fn send(&self, _request: OutboundRequest) -> Result<OutboundResponse, String> {
        Ok(OutboundResponse {
            status: 204,
            headers: Vec::new(),
            body: Vec::new(),
        })
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
        kind: "Issuer".into(),
        name: "legacy".into(),
        namespace: "versions".into(),
        spec_json: spec.to_string(),
    }
}

fn effects() -> CallEffects {
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
        outbound: Arc::new(Network),
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
    let (current, _) = Plugin::load(&engine, "hostile", HOSTILE).unwrap();
    assert_eq!(current.wit_version(), WitVersion::V0_2);

    let (effects, limits) = (effects(), CallLimits::default());
    // secrets.get (the key withheld), http.send, log.write, clock.
    let ready = legacy
        .validate(&config(), &effects, &limits)
        .unwrap()
        .unwrap();
    assert_eq!(ready.reason, "LegacyReady");
    assert_eq!(ready.message, "fields=token http=204 clock=true");

    // A pending outcome with an event, then signer.load/public-key/sign.
    let request = CertificateRequest {
        name: "legacy-1".into(),
        namespace: "versions".into(),
        csr_pem: "data to sign".into(),
        duration_seconds: Some(3600),
        is_ca: false,
        usages: vec![convert_usage(KeyUsage::ServerAuth)],
        issuer: config(),
        request_key: None,
        annotations: Vec::new(),
        presented_challenges: Vec::new(),
    };
    let call = |state: Option<Vec<u8>>| IssueCall {
        request: request.clone(),
        request_key: None,
        state,
    };
    let Ok(Ok(IssueOutcome::Pending(pending))) = legacy.issue(call(None), &effects, &limits) else {
        panic!("expected pending");
    };
    assert_eq!(pending.state, b"second");
    assert_eq!(pending.events.len(), 1);
    assert_eq!(pending.events[0].type_, EventType::Normal);
    assert_eq!(pending.events[0].message, "usages [KeyUsage::ServerAuth]");
    let Ok(Ok(IssueOutcome::Issued(issued))) =
        legacy.issue(call(Some(pending.state)), &effects, &limits)
    else {
        panic!("expected issued");
    };
    assert_eq!(
        issued.certificate_chain_pem,
        "state=second spki=91 signed=true"
    );
}
