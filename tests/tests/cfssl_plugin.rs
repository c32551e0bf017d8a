//! The third-party CFSSL plugin (`examples/plugins/cfssl`), built for
//! wasm32-wasip2 and loaded like any plugin a user brings, against a real
//! `cfssl serve` on loopback with a CA that `cfssl genkey -initca` made:
//! `validate`, `issue` through `sign` and, with an `auth_keys` config,
//! `authsign`; chains checked with `openssl verify`; CFSSL's refusals
//! surfacing as the plugin's error; and `certwasm plugin test` as a user
//! runs it.

// Test code: a failed unwrap is a failed test.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::path::Path;
use std::process::Command;
use std::sync::{Arc, OnceLock};
use std::time::{Duration, Instant};

use certwasm::pki::{self, CsrSpec, KeyAlgorithm, PrivateKey, Subject};
use certwasm::plugin::bindings::types::{
    CertificateRequest, IssueOutcome, IssuerConfig, IssuerKind, PluginError,
};
use certwasm::plugin::secrets::{MemorySecrets, SecretData};
use certwasm::plugin::{CallEffects, CallLimits, IssueCall, IssueError, Plugin, PluginEngine};
use clap::Parser as _;

const CFSSL_PLUGIN: &str = env!("CERTWASM_CFSSL_PLUGIN");

#[path = "../../host/tests/common/cfssl.rs"]
#[allow(dead_code)]
mod cfssl;
use cfssl::{AUTH_KEY, Cfssl, free_port};

fn plugin() -> &'static Plugin {
    static PLUGIN: OnceLock<Plugin> = OnceLock::new();
    PLUGIN.get_or_init(|| {
        static ENGINE: OnceLock<PluginEngine> = OnceLock::new();
        let engine = ENGINE.get_or_init(|| PluginEngine::new(None).unwrap());
        let wasm = std::fs::read(CFSSL_PLUGIN).unwrap();
        Plugin::load(engine, "cfssl", &wasm).unwrap().0
    })
}

fn issuer(config: serde_json::Value) -> IssuerConfig {
    IssuerConfig {
        kind: IssuerKind::Issuer,
        name: "cfssl".into(),
        namespace: "default".into(),
        spec_json: serde_json::json!({"plugin": {"name": "cfssl", "config": config}}).to_string(),
    }
}

/// Secrets holding the auth key under `cfssl-auth/key`.
fn auth_secret(hex_key: &str) -> CallEffects {
    let secrets = Arc::new(MemorySecrets::default());
    secrets.insert(
        "default",
        "cfssl-auth",
        SecretData::from([("key".to_owned(), format!("{hex_key}\n").into_bytes())]),
    );
    CallEffects {
        secrets,
        ..CallEffects::default()
    }
}

fn csr_for(names: &[&str]) -> String {
    let key = PrivateKey::generate(KeyAlgorithm::EcdsaP256).unwrap();
    let spec = CsrSpec {
        common_name: names.first().map(|n| (*n).to_owned()),
        literal_subject: None,
        subject: Subject::default(),
        dns_names: names.iter().map(|n| (*n).to_owned()).collect(),
        ip_addresses: vec!["127.0.0.1".parse().unwrap()],
        uris: Vec::new(),
        email_addresses: Vec::new(),
        usages: Vec::new(),
        is_ca: false,
        encode_usages_in_request: true,
    };
    pki::build_csr(&spec, &key).unwrap()
}

fn issue_with(
    config: &IssuerConfig,
    csr_pem: String,
    effects: &CallEffects,
) -> Result<IssueOutcome, PluginError> {
    let call = IssueCall {
        request: CertificateRequest {
            name: "web-1".into(),
            namespace: "default".into(),
            csr_pem,
            duration_seconds: None,
            is_ca: false,
            usages: Vec::new(),
            issuer: config.clone(),
            request_key: None,
            annotations: Vec::new(),
        },
        request_key: None,
        state: None,
        presented_challenges: Vec::new(),
    };
    plugin()
        .issue(call, effects, &CallLimits::default())
        .map_err(|error| match error {
            IssueError::Plugin(failure) => failure,
            IssueError::Call(error) => panic!("the call did not complete: {error}"),
        })
}

fn openssl(args: &[&str]) -> String {
    let output = Command::new("openssl").args(args).output().unwrap();
    let text = format!(
        "{}{}",
        String::from_utf8_lossy(&output.stdout),
        String::from_utf8_lossy(&output.stderr)
    );
    assert!(output.status.success(), "openssl {args:?} failed:\n{text}");
    text
}

/// `openssl verify` of the chain's leaf against CFSSL's own `ca.pem`, and
/// the leaf's text.
fn verify(server: &Cfssl, chain_pem: &str, dir: &Path) -> String {
    let chain = dir.join("chain.pem");
    std::fs::write(&chain, chain_pem).unwrap();
    let ca = server.ca_pem_path();
    let verified = openssl(&[
        "verify",
        "-CAfile",
        ca.to_str().unwrap(),
        chain.to_str().unwrap(),
    ]);
    assert!(verified.contains(": OK"), "{verified}");
    openssl(&["x509", "-noout", "-text", "-in", chain.to_str().unwrap()])
}

fn issued(outcome: Result<IssueOutcome, PluginError>, server: &Cfssl) -> (String, String) {
    match outcome {
        Ok(IssueOutcome::Issued(issued)) => (
            issued.certificate_chain_pem,
            issued.ca_pem.expect("ca.crt is set"),
        ),
        other => panic!("issuance failed: {other:?}\ncfssl log:\n{}", server.log()),
    }
}

fn same_certificate(a: &str, b: &str) -> bool {
    let strip = |pem: &str| pem.split_whitespace().collect::<String>();
    strip(a) == strip(b)
}

#[test]
fn validate_and_issue_through_sign() {
    let server = Cfssl::start(false);
    let config = issuer(serde_json::json!({"url": server.url(), "profile": "server"}));
    let effects = CallEffects::default();

    let ready = plugin()
        .validate(&config, &effects, &CallLimits::default())
        .unwrap()
        .unwrap_or_else(|e| panic!("validate failed: {e:?}\n{}", server.log()))
        .readiness;
    assert_eq!(ready.reason, "CFSSLVerified");
    assert!(
        ready
            .message
            .contains("signs as CN=certwasm CFSSL test CA,O=certwasm tests, profile \"server\""),
        "{}",
        ready.message
    );

    let dir = tempfile::tempdir().unwrap();
    let (chain, ca) = issued(
        issue_with(
            &config,
            csr_for(&["example.com", "www.example.com"]),
            &effects,
        ),
        &server,
    );
    let ca_file = std::fs::read_to_string(server.ca_pem_path()).unwrap();
    assert!(
        same_certificate(&ca, &ca_file),
        "ca.crt is CFSSL's CA:\n{ca}"
    );
    let text = verify(&server, &chain, dir.path());
    assert!(
        text.contains("DNS:example.com, DNS:www.example.com, IP Address:127.0.0.1"),
        "{text}"
    );
    assert!(
        text.contains("Issuer: O = certwasm tests, CN = certwasm CFSSL test CA"),
        "{text}"
    );
    assert!(
        text.contains("TLS Web Server Authentication"),
        "the profile's usages: {text}"
    );
}

#[test]
fn cfssl_refusals_surface_its_message() {
    let server = Cfssl::start(false);
    let effects = CallEffects::default();

    // The profile only signs *.internal names: CFSSL's policy refuses.
    let restricted = issuer(serde_json::json!({"url": server.url(), "profile": "restricted"}));
    let error = issue_with(&restricted, csr_for(&["example.com"]), &effects).unwrap_err();
    assert_eq!(error.reason, "SigningError");
    assert!(
        error
            .message
            .contains("Request does not match policy whitelist (CFSSL error code 5500, HTTP 400)"),
        "{}",
        error.message
    );
    assert!(!error.retryable, "a policy refusal is final");
    // The same profile signs a name it allows.
    issued(
        issue_with(&restricted, csr_for(&["db.internal"]), &effects),
        &server,
    );

    // Nothing listens: a transport failure, worth retrying.
    let gone = issuer(serde_json::json!({"url": format!("http://127.0.0.1:{}", free_port())}));
    let error = plugin()
        .validate(&gone, &effects, &CallLimits::default())
        .unwrap()
        .unwrap_err();
    assert_eq!(error.reason, "CFSSLError");
    assert!(error.retryable, "{error:?}");
}

#[test]
fn authsign_with_an_hmac_key() {
    let server = Cfssl::start(true);
    let dir = tempfile::tempdir().unwrap();
    let config = issuer(serde_json::json!({
        "url": server.url(),
        "profile": "authed",
        "authKeySecretRef": {"name": "cfssl-auth", "key": "key"}
    }));

    let effects = auth_secret(AUTH_KEY);
    let ready = plugin()
        .validate(&config, &effects, &CallLimits::default())
        .unwrap()
        .unwrap();
    assert!(
        ready.readiness.message.ends_with(", authenticated"),
        "{}",
        ready.readiness.message
    );
    let (chain, _) = issued(
        issue_with(&config, csr_for(&["example.com"]), &effects),
        &server,
    );
    verify(&server, &chain, dir.path());

    // A wrong key: CFSSL's "invalid token", final.
    let error =
        issue_with(&config, csr_for(&["example.com"]), &auth_secret("00ff00ff")).unwrap_err();
    assert_eq!(error.reason, "SigningError");
    assert!(
        error
            .message
            .contains("invalid token (CFSSL error code 400, HTTP 400)"),
        "{}",
        error.message
    );
    assert!(!error.retryable);

    // No key for a profile that needs one: CFSSL says so.
    let unauthenticated = issuer(serde_json::json!({"url": server.url(), "profile": "authed"}));
    let error = issue_with(
        &unauthenticated,
        csr_for(&["example.com"]),
        &CallEffects::default(),
    )
    .unwrap_err();
    assert!(
        error.message.contains("authentication required"),
        "{}",
        error.message
    );

    // The Secret is not there yet: wait for it.
    let error =
        issue_with(&config, csr_for(&["example.com"]), &CallEffects::default()).unwrap_err();
    assert_eq!(error.reason, "SecretMissing");
    assert!(error.retryable);
}

const ISSUER_YAML: &str = "apiVersion: cert-manager.io/v1
kind: Issuer
metadata:
  name: cfssl
  namespace: default
spec:
  plugin:
    name: cfssl
    config:
      url: URL
      profile: authed
      authKeySecretRef:
        name: cfssl-auth
        key: key
";

const SECRET_YAML: &str = "apiVersion: v1
kind: Secret
metadata:
  name: cfssl-auth
  namespace: default
stringData:
  key: KEY
";

/// `certwasm plugin test` with the arguments a user types (run in-process:
/// the binary belongs to another package of the workspace).
#[test]
fn certwasm_plugin_test_issues_through_cfssl() {
    let server = Cfssl::start(true);
    let dir = tempfile::tempdir().unwrap();
    let path = |name: &str| dir.path().join(name).display().to_string();
    std::fs::write(
        path("issuer.yaml"),
        ISSUER_YAML.replace("URL", &server.url()),
    )
    .unwrap();
    std::fs::write(path("secret.yaml"), SECRET_YAML.replace("KEY", AUTH_KEY)).unwrap();
    let run = |out: &str| {
        let cli = certwasm::cli::Cli::try_parse_from([
            "certwasm",
            "plugin",
            "test",
            "--plugin",
            CFSSL_PLUGIN,
            "--issuer",
            &path("issuer.yaml"),
            "--secret",
            &path("secret.yaml"),
            "--dns-name",
            "example.com",
            "--out",
            out,
            "--cache-dir",
            &path("cache"),
        ])
        .unwrap();
        certwasm::cli::run(cli).unwrap()
    };
    assert_eq!(run(&path("out")), 0);
    let tls_crt = std::fs::read_to_string(dir.path().join("out/tls.crt")).unwrap();
    let ca_crt = std::fs::read_to_string(dir.path().join("out/ca.crt")).unwrap();
    assert!(same_certificate(
        &ca_crt,
        &std::fs::read_to_string(server.ca_pem_path()).unwrap()
    ));
    verify(&server, &tls_crt, dir.path());

    // A wrong key fails the run with CFSSL's message.
    std::fs::write(path("secret.yaml"), SECRET_YAML.replace("KEY", "abcd")).unwrap();
    assert_eq!(run(&path("out2")), 1);
    assert!(!dir.path().join("out2/tls.crt").exists());
}

fn median(mut samples: Vec<Duration>) -> Duration {
    samples.sort();
    samples[samples.len() / 2]
}

/// One issuance through the plugin (wasmtime, host HTTP, CFSSL) against
/// `cfssl sign -remote http://127.0.0.1:PORT` (a process per signature, as
/// scripts use it), on
/// the same server and CSR, 20 runs each.
/// `cargo test -p certwasm-tests --test cfssl_plugin -- --ignored --nocapture`
#[test]
#[ignore = "benchmark: prints figures"]
fn benchmark_plugin_against_cfssl_sign() {
    const RUNS: usize = 20;
    let server = Cfssl::start(false);
    let config = issuer(serde_json::json!({"url": server.url(), "profile": "server"}));
    let effects = CallEffects::default();
    let csr = csr_for(&["example.com"]);
    let csr_path = server.dir.path().join("csr.pem");
    std::fs::write(&csr_path, &csr).unwrap();

    // Compiling the component is a one-time cost, not part of an issuance.
    plugin();
    let first = Instant::now();
    issued(issue_with(&config, csr.clone(), &effects), &server);
    let first = first.elapsed();
    let plugin_runs: Vec<Duration> = (0..RUNS)
        .map(|_| {
            let started = Instant::now();
            issued(issue_with(&config, csr.clone(), &effects), &server);
            started.elapsed()
        })
        .collect();

    let remote = server.url();
    let cli_runs: Vec<Duration> = (0..RUNS)
        .map(|_| {
            let started = Instant::now();
            let output = Command::new("cfssl")
                .args(["sign", "-remote", &remote, "-profile", "server"])
                .arg(&csr_path)
                .output()
                .unwrap();
            let elapsed = started.elapsed();
            assert!(
                output.status.success()
                    && String::from_utf8_lossy(&output.stdout).contains("BEGIN CERTIFICATE"),
                "cfssl sign failed: {}",
                String::from_utf8_lossy(&output.stderr)
            );
            elapsed
        })
        .collect();

    let ms = |d: Duration| d.as_secs_f64() * 1e3;
    println!(
        "cfssl issuance, {RUNS} runs each, same server and CSR:\n  \
         plugin (certwasm runtime -> cfssl serve): median {:.2} ms (first call, which also asks info: {:.2} ms)\n  \
         cfssl sign -remote (CLI process):        median {:.2} ms",
        ms(median(plugin_runs)),
        ms(first),
        ms(median(cli_runs))
    );
}
