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

// Test code: a failed unwrap is a failed test.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::hint::black_box;
use std::sync::Arc;
use std::time::Duration;

use certwasm::pki::{self, CsrSpec, KeyAlgorithm, KeyEncoding, PrivateKey, Subject};
use certwasm::plugin::bindings::types::{
    CertificateRequest, IssueOutcome, IssuerConfig, IssuerKind,
};
use certwasm::plugin::secrets::{MemorySecrets, SecretData};
use certwasm::plugin::{
    BUNDLED, CallEffects, CallLimits, IssueCall, Plugin, PluginEngine, bundled_plugin,
};
use criterion::{Criterion, criterion_group, criterion_main};

fn csr_spec(common_name: &str, is_ca: bool) -> CsrSpec {
    CsrSpec {
        common_name: Some(common_name.to_owned()),
        literal_subject: None,
        subject: Subject::default(),
        dns_names: if is_ca {
            Vec::new()
        } else {
            vec![common_name.to_owned()]
        },
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
    }
}

fn config(spec: serde_json::Value) -> IssuerConfig {
    IssuerConfig {
        kind: IssuerKind::Issuer,
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
        presented_challenges: Vec::new(),
    };
    let Ok(IssueOutcome::Issued(ca)) =
        load("selfsigned").issue(call, &CallEffects::default(), &CallLimits::default())
    else {
        panic!("the selfsigned plugin could not make the bench CA");
    };
    let ca_key = Arc::try_unwrap(ca_key).ok().unwrap();
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
        presented_challenges: Vec::new(),
    };

    let (outcome, stats) = fixture
        .ca_plugin
        .issue_measured(call.clone(), &fixture.effects, &limits)
        .unwrap();
    assert!(matches!(outcome, IssueOutcome::Issued(_)), "{outcome:?}");
    println!(
        "memory: one ca issue call in flight peaks at {} KiB of linear memory (cap {} MiB)",
        stats.peak_memory_bytes / 1024,
        limits.memory_bytes >> 20
    );

    let mut group = c.benchmark_group("ca_issue");
    group.bench_function("wasm", |b| {
        b.iter(|| {
            let outcome =
                fixture
                    .ca_plugin
                    .issue(black_box(call.clone()), &fixture.effects, &limits);
            assert!(matches!(outcome, Ok(IssueOutcome::Issued(_))));
        })
    });
    group.bench_function("native", |b| b.iter(|| native::issue(black_box(&fixture))));
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
    group.bench_function("cached", |b| {
        b.iter(|| load_all(Some(dir.path().to_path_buf())))
    });
    group
        .sample_size(10)
        .measurement_time(Duration::from_secs(10));
    group.bench_function("cold", |b| b.iter(|| load_all(None)));
    group.finish();
}

/// The baseline: the `ca` plugin's own code (`load_material` + `sign`),
/// compiled for the host and signing with the same host key directly, so
/// the difference is exactly the sandbox: instantiation, the WIT boundary
/// and wasm execution.
mod native {
    use certwasm::pki::{PrivateKey, SignatureAlgorithm};
    use certwasm_plugin_sdk::types::{self as guest, SignatureAlgorithm as GuestAlgorithm};
    use certwasm_plugin_sdk::x509::Signer;

    struct HostSigner<'a>(&'a PrivateKey, Vec<u8>);

    impl Signer for HostSigner<'_> {
        fn public_key_der(&self) -> &[u8] {
            &self.1
        }

        fn sign(&self, algorithm: GuestAlgorithm, data: &[u8]) -> Result<Vec<u8>, String> {
            let algorithm = match algorithm {
                GuestAlgorithm::EcdsaP256Sha256 => SignatureAlgorithm::EcdsaP256Sha256,
                GuestAlgorithm::EcdsaP384Sha384 => SignatureAlgorithm::EcdsaP384Sha384,
                GuestAlgorithm::RsaPkcs1Sha256 => SignatureAlgorithm::RsaPkcs1Sha256,
                GuestAlgorithm::RsaPkcs1Sha384 => SignatureAlgorithm::RsaPkcs1Sha384,
                GuestAlgorithm::RsaPkcs1Sha512 => SignatureAlgorithm::RsaPkcs1Sha512,
                GuestAlgorithm::Ed25519 => SignatureAlgorithm::Ed25519,
            };
            self.0.sign(algorithm, data).map_err(|e| e.to_string())
        }
    }

    /// One issuance, doing what the wasm call does: read the CA chain and
    /// check the key pair, then build and sign the leaf.
    pub fn issue(fixture: &super::CaFixture) {
        let signer = HostSigner(&fixture.ca_key, fixture.ca_key.public_key_der());
        let settings = certwasm_plugin_ca::CaConfig {
            secret_name: "ca-key-pair".into(),
            ..Default::default()
        };
        let request = guest::CertificateRequest {
            name: "bench-1".into(),
            namespace: "default".into(),
            csr_pem: fixture.leaf_csr.clone(),
            duration_seconds: Some(90 * 86_400),
            is_ca: false,
            usages: Vec::new(),
            issuer: guest::IssuerConfig {
                kind: guest::IssuerKind::Issuer,
                name: "bench".into(),
                namespace: "default".into(),
                spec_json: fixture.config.spec_json.clone(),
            },
            request_key: None,
            annotations: Vec::new(),
        };
        let material = certwasm_plugin_ca::load_material(&fixture.ca_cert_pem, &signer).unwrap();
        let issued = certwasm_plugin_ca::sign(
            &material,
            &settings,
            &request,
            &signer,
            1_790_000_000,
            rand::random(),
        )
        .unwrap();
        std::hint::black_box(issued);
    }
}

criterion_group!(benches, ca_issue, startup);
criterion_main!(benches);
