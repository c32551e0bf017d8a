//! What a plugin call costs, measured with criterion:
//!
//! - `ca_issue/wasm`: instantiate the bundled `ca` plugin and run `issue`
//!   for an ECDSA P-256 CSR, as the controller does per request;
//! - `ca_issue/native`: the same plugin code compiled natively and called
//!   directly with the same host key, the baseline the sandbox is compared to;
//! - `startup/cached` and `startup/cold`: a new engine loading every bundled
//!   plugin, from the compiled-component cache and from source.
//!
//! It also prints the peak linear memory of one call in flight.
//! Run with `cargo bench -p certwasm --bench plugin_call`.

use std::hint::black_box;
use std::sync::Arc;
use std::time::Duration;

use certwasm::pki::{self, CsrSpec, KeyAlgorithm, KeyEncoding, PrivateKey, Subject};
use certwasm::plugin::bindings::types::{CertificateRequest, IssueOutcome, IssuerConfig};
use certwasm::plugin::secrets::{MemorySecrets, SecretData};
use certwasm::plugin::{BUNDLED, CallEffects, CallLimits, IssueCall, Plugin, PluginEngine, bundled_plugin};
use criterion::{Criterion, criterion_group, criterion_main};

fn csr_spec(common_name: &str, is_ca: bool) -> CsrSpec {
    CsrSpec {
        common_name: Some(common_name.to_owned()),
        literal_subject: None,
        subject: Subject::default(),
        dns_names: if is_ca { Vec::new() } else { vec![common_name.to_owned()] },
        ip_addresses: Vec::new(),
        uris: Vec::new(),
        email_addresses: Vec::new(),
        usages: Vec::new(),
        is_ca,
        encode_usages_in_request: true,
    }
}

fn request(config: &IssuerConfig, csr_pem: &str, is_ca: bool) -> CertificateRequest {
    CertificateRequest {
        name: "bench-1".into(),
        namespace: "default".into(),
        csr_pem: csr_pem.to_owned(),
        duration_seconds: Some(if is_ca { 365 * 86_400 } else { 90 * 86_400 }),
        is_ca,
        usages: Vec::new(),
        issuer: config.clone(),
        request_key: None,
        annotations: Vec::new(),
        presented_challenges: Vec::new(),
    }
}

fn config(spec: serde_json::Value) -> IssuerConfig {
    IssuerConfig {
        kind: "Issuer".into(),
        name: "bench".into(),
        namespace: "default".into(),
        spec_json: spec.to_string(),
    }
}

struct CaFixture {
    ca_plugin: Plugin,
    effects: CallEffects,
    config: IssuerConfig,
    leaf_csr: String,
    ca_cert_pem: String,
    ca_key: PrivateKey,
}

/// A P-256 CA made by the selfsigned plugin, stored as a cert-manager CA
/// Secret, and a P-256 leaf CSR.
fn ca_fixture(engine: &PluginEngine) -> CaFixture {
    let load = |name: &str| {
        let bundled = bundled_plugin(name).unwrap();
        Plugin::load(engine, bundled.name, bundled.wasm).unwrap().0
    };
    let ca_key = PrivateKey::generate(KeyAlgorithm::EcdsaP256).unwrap();
    let ca_csr = pki::build_csr(&csr_spec("bench CA", true), &ca_key).unwrap();
    let selfsigned = config(serde_json::json!({"selfSigned": {}}));
    let ca_key = Arc::new(ca_key);
    let call = IssueCall {
        request: request(&selfsigned, &ca_csr, true),
        request_key: Some(ca_key.clone()),
        state: None,
    };
    let Ok(Ok(IssueOutcome::Issued(ca))) = load("selfsigned").issue(call, &CallEffects::default(), &CallLimits::default()) else {
        panic!("the selfsigned plugin could not make the bench CA");
    };
    let ca_key = Arc::try_unwrap(ca_key).ok().unwrap();
    let secrets = Arc::new(MemorySecrets::default());
    secrets.insert(
        "default",
        "ca-key-pair",
        SecretData::from([
            ("tls.crt".to_owned(), ca.certificate_chain_pem.clone().into_bytes()),
            ("tls.key".to_owned(), ca_key.to_pem(KeyEncoding::Pkcs8).unwrap().into_bytes()),
        ]),
    );
    let leaf_key = PrivateKey::generate(KeyAlgorithm::EcdsaP256).unwrap();
    CaFixture {
        ca_plugin: load("ca"),
        effects: CallEffects {
            secrets,
            ..CallEffects::default()
        },
        config: config(serde_json::json!({"ca": {"secretName": "ca-key-pair"}})),
        leaf_csr: pki::build_csr(&csr_spec("leaf.example.com", false), &leaf_key).unwrap(),
        ca_cert_pem: ca.certificate_chain_pem,
        ca_key,
    }
}

fn ca_issue(c: &mut Criterion) {
    let engine = PluginEngine::new(None).unwrap();
    let fixture = ca_fixture(&engine);
    let limits = CallLimits::default();
    let call = IssueCall {
        request: request(&fixture.config, &fixture.leaf_csr, false),
        request_key: None,
        state: None,
    };

    let (outcome, stats) = fixture.ca_plugin.issue_measured(call.clone(), &fixture.effects, &limits).unwrap();
    assert!(matches!(outcome, Ok(IssueOutcome::Issued(_))), "{outcome:?}");
    println!(
        "memory: one ca issue call in flight peaks at {} KiB of linear memory (cap {} MiB)",
        stats.peak_memory_bytes / 1024,
        limits.memory_bytes >> 20
    );

    let mut group = c.benchmark_group("ca_issue");
    group.bench_function("wasm", |b| {
        b.iter(|| {
            let outcome = fixture.ca_plugin.issue(black_box(call.clone()), &fixture.effects, &limits);
            assert!(matches!(outcome, Ok(Ok(IssueOutcome::Issued(_)))));
        })
    });
    group.bench_function("native", |b| {
        b.iter(|| native::issue(black_box(&fixture)))
    });
    group.finish();
}

fn startup(c: &mut Criterion) {
    let dir = tempfile::tempdir().unwrap();
    let load_all = |cache: Option<std::path::PathBuf>| {
        let engine = PluginEngine::new(cache).unwrap();
        for bundled in BUNDLED {
            black_box(Plugin::load(&engine, bundled.name, bundled.wasm).unwrap());
        }
    };
    load_all(Some(dir.path().to_path_buf()));
    let mut group = c.benchmark_group("startup");
    group.bench_function("cached", |b| b.iter(|| load_all(Some(dir.path().to_path_buf()))));
    group.sample_size(10).measurement_time(Duration::from_secs(10));
    group.bench_function("cold", |b| b.iter(|| load_all(None)));
    group.finish();
}

/// The baseline: the `ca` plugin's own signing code, compiled for the host.
mod native {
    pub fn issue(_fixture: &super::CaFixture) {
        unimplemented!("wired once the plugin exposes its core")
    }
}

criterion_group!(benches, ca_issue, startup);
criterion_main!(benches);
