//! The sandbox holds: every hostile behaviour fails its own call with a
//! clear error, and the next call on the same plugin succeeds.

// Test code: a failed unwrap is a failed test.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::net::IpAddr;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, OnceLock};
use std::time::Duration;

use certwasm::pki::{KeyAlgorithm, KeyEncoding, PrivateKey};
use certwasm::plugin::bindings::types::{
    CertificateRequest, IssueOutcome, IssuerConfig, IssuerKind, PluginError,
};
use certwasm::plugin::outbound::{Outbound, OutboundRequest, OutboundResponse};
use certwasm::plugin::secrets::{MemorySecrets, SecretData};
use certwasm::plugin::{
    CallEffects, CallLimits, IssueCall, IssueError, LoadSource, Plugin, PluginCallError,
    PluginEngine,
};

const HOSTILE: &[u8] = include_bytes!(env!("CERTWASM_HOSTILE_PLUGIN"));

/// Resolves test names to chosen addresses and counts requests that get
/// through; a refused request must never reach it.
#[derive(Default)]
struct FakeNetwork {
    sent: AtomicUsize,
}

impl Outbound for FakeNetwork {
    fn resolve(&self, host: &str, _port: u16) -> Result<Vec<IpAddr>, String> {
        match host {
            "allowed.test" => Ok(vec!["127.0.0.1".parse().unwrap()]),
            "metadata.test" => Ok(vec![
                "203.0.113.9".parse().unwrap(),
                "169.254.169.254".parse().unwrap(),
            ]),
            other => Err(format!("no such host {other}")),
        }
    }

    fn send(&self, _request: OutboundRequest) -> Result<OutboundResponse, String> {
        self.sent.fetch_add(1, Ordering::SeqCst);
        Ok(OutboundResponse {
            status: 200,
            headers: Vec::new(),
            body: Vec::new(),
        })
    }
}

struct Fixture {
    plugin: Plugin,
    network: Arc<FakeNetwork>,
    effects: CallEffects,
}

fn fixture() -> &'static Fixture {
    static FIXTURE: OnceLock<Fixture> = OnceLock::new();
    FIXTURE.get_or_init(|| {
        let engine = PluginEngine::new(None).expect("engine");
        let (plugin, _) = Plugin::load(&engine, "hostile", HOSTILE).expect("hostile plugin loads");
        let secrets = Arc::new(MemorySecrets::default());
        let key = PrivateKey::generate(KeyAlgorithm::EcdsaP256).unwrap();
        secrets.insert(
            "sandbox",
            "referenced",
            SecretData::from([
                (
                    "tls.crt".to_owned(),
                    b"-----BEGIN CERTIFICATE-----\n".to_vec(),
                ),
                (
                    "tls.key".to_owned(),
                    key.to_pem(KeyEncoding::Pkcs8).unwrap().into_bytes(),
                ),
                ("token".to_owned(), b"s.abc".to_vec()),
            ]),
        );
        secrets.insert(
            "sandbox",
            "someone-elses-secret",
            SecretData::from([("token".to_owned(), b"x".to_vec())]),
        );
        let network = Arc::new(FakeNetwork::default());
        let effects = CallEffects {
            secrets,
            outbound: network.clone(),
            ..CallEffects::default()
        };
        Fixture {
            plugin,
            network,
            effects,
        }
    })
}

fn config(attack: &str) -> IssuerConfig {
    let spec = serde_json::json!({
        "plugin": {
            "name": "hostile",
            "config": {
                "attack": attack,
                "endpoint": "http://allowed.test/",
                "metadata": "http://metadata.test/",
                "keySecretRef": {"name": "referenced"},
            }
        }
    });
    IssuerConfig {
        kind: IssuerKind::Issuer,
        name: "hostile".into(),
        namespace: "sandbox".into(),
        spec_json: spec.to_string(),
    }
}

fn limits() -> CallLimits {
    CallLimits {
        deadline: Duration::from_secs(2),
        ..CallLimits::default()
    }
}

fn issue(attack: &str) -> Result<IssueOutcome, IssueError> {
    let fixture = fixture();
    let request = CertificateRequest {
        name: format!("{attack}-1"),
        namespace: "sandbox".into(),
        csr_pem: String::new(),
        duration_seconds: None,
        is_ca: false,
        usages: Vec::new(),
        issuer: config(attack),
        request_key: None,
        annotations: Vec::new(),
    };
    let call = IssueCall {
        request,
        request_key: None,
        state: None,
        presented_challenges: Vec::new(),
    };
    fixture.plugin.issue(call, &fixture.effects, &limits())
}

/// After any attack, an ordinary call on the same plugin still works.
fn assert_still_serving() {
    match issue("none") {
        Ok(IssueOutcome::Issued(issued)) => assert_eq!(issued.certificate_chain_pem, "ok"),
        other => panic!("the plugin no longer serves ordinary calls: {other:?}"),
    }
}

fn plugin_error(result: Result<IssueOutcome, IssueError>) -> PluginError {
    match result {
        Err(IssueError::Plugin(error)) => error,
        other => panic!("expected the plugin to report an error, got {other:?}"),
    }
}

/// The sandbox's error for an attack that must fail the call itself.
fn call_error(attack: &str) -> PluginCallError {
    match issue(attack) {
        Err(IssueError::Call(error)) => error,
        other => panic!("expected the sandbox to stop the call, got {other:?}"),
    }
}

#[test]
fn an_endless_loop_is_stopped_at_the_deadline() {
    let err = call_error("loop");
    assert_eq!(
        err,
        PluginCallError::Timeout {
            plugin: "hostile".into(),
            deadline: Duration::from_secs(2)
        }
    );
    assert!(
        err.to_string()
            .contains("plugin hostile: exceeded its deadline")
    );
    assert_still_serving();
}

#[test]
fn a_memory_bomb_hits_the_cap() {
    let err = call_error("memory");
    assert_eq!(
        err,
        PluginCallError::MemoryExceeded {
            plugin: "hostile".into(),
            limit_mib: 64
        }
    );
    assert_still_serving();
}

#[test]
fn a_panic_fails_the_call_with_its_message() {
    let err = call_error("panic");
    let PluginCallError::Trap { plugin, message } = &err else {
        panic!("expected a trap, got {err:?}");
    };
    assert_eq!(plugin, "hostile");
    assert!(
        message.contains("hostile plugin panicked on purpose"),
        "{message}"
    );
    assert_still_serving();
}

#[test]
fn runaway_recursion_exhausts_the_stack_not_the_host() {
    let err = call_error("recursion");
    assert_eq!(
        err,
        PluginCallError::StackOverflow {
            plugin: "hostile".into()
        }
    );
    assert_still_serving();
}

#[test]
fn overflowing_the_shadow_stack_traps_cleanly() {
    let err = call_error("shadow-stack");
    let PluginCallError::Trap { message, .. } = &err else {
        panic!("expected a trap, got {err:?}");
    };
    assert!(message.contains("out of bounds memory access"), "{message}");
    assert_still_serving();
}

#[test]
fn a_gigantic_result_is_refused() {
    let err = call_error("huge-result");
    assert!(
        matches!(err, PluginCallError::ResultTooLarge { what: "certificate", size, limit, .. } if size == 8 << 20 && limit == 1 << 20),
        "{err:?}"
    );
    assert_still_serving();
}

#[test]
fn http_to_an_unnamed_host_is_refused() {
    let before = fixture().network.sent.load(Ordering::SeqCst);
    let error = plugin_error(issue("http-not-allowed"));
    assert!(
        error.message.contains("request refused"),
        "{}",
        error.message
    );
    assert!(
        error
            .message
            .contains("\"not-allowed.example\" is not named"),
        "{}",
        error.message
    );
    // Named hosts are listed so the plugin author sees what is allowed.
    assert!(error.message.contains("allowed.test"), "{}", error.message);
    assert_eq!(fixture().network.sent.load(Ordering::SeqCst), before);
    assert_still_serving();
}

#[test]
fn loopback_through_an_allowed_name_is_refused() {
    let error = plugin_error(issue("http-loopback-by-name"));
    assert!(
        error
            .message
            .contains("resolves to 127.0.0.1, a loopback address"),
        "{}",
        error.message
    );
    assert_still_serving();
}

#[test]
fn cloud_metadata_through_an_allowed_name_is_refused() {
    let error = plugin_error(issue("http-metadata-by-name"));
    assert!(
        error
            .message
            .contains("resolves to 169.254.169.254, a cloud metadata address"),
        "{}",
        error.message
    );
    assert_still_serving();
}

#[test]
fn an_unreferenced_secret_cannot_be_read() {
    let error = plugin_error(issue("secret-unreferenced"));
    assert!(
        error.message.contains(
            "Secret \"someone-elses-secret\" is not referenced by the issuer configuration"
        ),
        "{}",
        error.message
    );
    assert!(
        error.message.contains("referenced: referenced"),
        "{}",
        error.message
    );
    assert_still_serving();
}

#[test]
fn private_keys_are_withheld_but_usable_by_handle() {
    match issue("secret-private-key") {
        // tls.key is not among the fields; the key still works through a
        // handle (an ECDSA P-256 SPKI is 91 bytes).
        Ok(IssueOutcome::Issued(issued)) => {
            assert_eq!(issued.certificate_chain_pem, "fields=tls.crt,token spki=91")
        }
        other => panic!("{other:?}"),
    }
}

#[test]
fn a_client_certificate_from_an_unreferenced_secret_is_refused() {
    let before = fixture().network.sent.load(Ordering::SeqCst);
    let error = plugin_error(issue("tls-unreferenced-secret"));
    assert!(
        error.message.contains(
            "Secret \"someone-elses-secret\" is not referenced by the issuer configuration"
        ),
        "{}",
        error.message
    );
    assert_eq!(fixture().network.sent.load(Ordering::SeqCst), before);
    assert_still_serving();
}

#[test]
fn tls_options_on_plain_http_fail_rather_than_being_ignored() {
    let before = fixture().network.sent.load(Ordering::SeqCst);
    let error = plugin_error(issue("tls-over-http"));
    assert!(
        error.message.contains("which is not an https URL"),
        "{}",
        error.message
    );
    assert_eq!(fixture().network.sent.load(Ordering::SeqCst), before);
}

#[test]
fn an_issuer_only_ever_reads_its_own_cache() {
    let fixture = fixture();
    let run = |issuer_name: &str| {
        let mut issuer = config("cache");
        issuer.name = issuer_name.into();
        let request = CertificateRequest {
            name: "cache-1".into(),
            namespace: "sandbox".into(),
            csr_pem: String::new(),
            duration_seconds: None,
            is_ca: false,
            usages: Vec::new(),
            issuer,
            request_key: None,
            annotations: Vec::new(),
        };
        let call = IssueCall {
            request,
            request_key: None,
            state: None,
            presented_challenges: Vec::new(),
        };
        match fixture.plugin.issue(call, &fixture.effects, &limits()) {
            Ok(IssueOutcome::Issued(issued)) => issued.certificate_chain_pem,
            other => panic!("{other:?}"),
        }
    };
    assert_eq!(run("cache-a"), "found=nothing");
    assert_eq!(run("cache-a"), "found=cache-a", "kept between calls");
    assert_eq!(
        run("cache-b"),
        "found=nothing",
        "another issuer sees nothing"
    );
    assert_eq!(run("cache-b"), "found=cache-b");
    assert_eq!(run("cache-a"), "found=cache-a");
}

#[test]
fn a_forged_key_handle_signs_nothing() {
    let error = plugin_error(issue("forged-handle"));
    assert!(
        error.message.contains("was granted to this call"),
        "{}",
        error.message
    );
}

#[test]
fn wasi_grants_nothing_ambient() {
    match issue("ambient") {
        Ok(IssueOutcome::Issued(issued)) => {
            assert_eq!(
                issued.certificate_chain_pem,
                "env=0 args=0 fs=false dir=false net=false"
            )
        }
        other => panic!("{other:?}"),
    }
}

#[test]
fn a_stuck_call_does_not_block_others() {
    let stuck = std::thread::spawn(|| issue("loop"));
    for _ in 0..20 {
        assert_still_serving();
    }
    assert!(matches!(
        stuck.join().unwrap(),
        Err(IssueError::Call(PluginCallError::Timeout { .. }))
    ));
}

#[test]
fn validate_is_bounded_too() {
    let fixture = fixture();
    let err = fixture
        .plugin
        .validate(&config("loop"), &fixture.effects, &limits())
        .unwrap_err();
    assert!(matches!(err, PluginCallError::Timeout { .. }), "{err:?}");
    let ready = fixture
        .plugin
        .validate(&config("none"), &fixture.effects, &limits())
        .unwrap()
        .unwrap();
    assert_eq!(ready.readiness.reason, "IsReady");
    assert!(ready.acme_account.is_none());
}

#[test]
fn an_acme_account_report_is_honoured_only_from_a_successful_validate() {
    let fixture = fixture();
    // Reported twice during a successful validate: the last report comes
    // out with the readiness.
    let validated = fixture
        .plugin
        .validate(&config("report-account"), &fixture.effects, &limits())
        .unwrap()
        .unwrap();
    let account = validated.acme_account.expect("the reported account");
    assert_eq!(account.uri, "https://acme.test/my-account/2");
    assert_eq!(account.email, "hostile@example.com");
    // A validate that fails after reporting: an error, and no account.
    let failed = fixture
        .plugin
        .validate(&config("report-then-fail"), &fixture.effects, &limits())
        .unwrap()
        .unwrap_err();
    assert_eq!(failed.message, "failed after reporting");
    // During issue the report is ignored and the call goes on.
    let Ok(IssueOutcome::Issued(issued)) = issue("report-account") else {
        panic!("a report outside validate does not fail the call");
    };
    assert_eq!(issued.certificate_chain_pem, "reported");
    // Nor does it leak into the next validate (a fresh instance and store).
    let next = fixture
        .plugin
        .validate(&config("none"), &fixture.effects, &limits())
        .unwrap()
        .unwrap();
    assert!(next.acme_account.is_none());
}

#[test]
fn compiled_components_are_cached_by_digest() {
    let dir = tempfile::tempdir().unwrap();
    let engine = PluginEngine::new(Some(dir.path().to_path_buf())).unwrap();
    let (_, first) = Plugin::load(&engine, "hostile", HOSTILE).unwrap();
    assert_eq!(first, LoadSource::Compiled);
    let (_, second) = Plugin::load(&engine, "hostile", HOSTILE).unwrap();
    assert_eq!(second, LoadSource::Cache);
    // A damaged artifact is ignored and replaced, never trusted.
    let artifact = std::fs::read_dir(dir.path())
        .unwrap()
        .map(|entry| entry.unwrap().path())
        .find(|path| path.extension().is_some_and(|ext| ext == "cwasm"))
        .expect("an artifact was written");
    std::fs::write(&artifact, b"garbage").unwrap();
    let (plugin, third) = Plugin::load(&engine, "hostile", HOSTILE).unwrap();
    assert_eq!(third, LoadSource::Compiled);
    assert_eq!(plugin.info().name, "hostile");
    let (_, fourth) = Plugin::load(&engine, "hostile", HOSTILE).unwrap();
    assert_eq!(fourth, LoadSource::Cache);
}

#[test]
fn a_component_that_is_not_an_issuer_is_refused_with_its_name() {
    let engine = PluginEngine::new(None).unwrap();
    let err = Plugin::load(&engine, "junk", b"\0asm not really").unwrap_err();
    assert!(
        err.to_string()
            .starts_with("plugin junk: not a valid certwasm:issuer component"),
        "{err}"
    );
}
