//! The certificate lifecycle at scale in `certwasm run`: N Certificates
//! (CA issuer, ECDSA P-256) applied at once until every one is Ready.
//!
//! `cargo bench -p certwasm --bench lifecycle [-- --certificates N --concurrency C]`
//!
//! Starts `certwasm run` with a SelfSigned → CA chain, waits for the CA
//! Issuer, then creates N Certificates (C creates in flight) and watches
//! them; prints the wall time from the first create to the last Ready, the
//! per-certificate latency (create sent → Ready seen) p50/p99, and the
//! process's resident memory (VmRSS at the end, VmHWM peak).

// A benchmark is a test harness: a failed unwrap is a failed run.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::print_stdout)]

mod common;

use std::io::{BufRead, BufReader};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use certwasm::api::{Certificate, Issuer};
use common::{arg, memory_kib, percentile};
use kube::config::{KubeConfigOptions, Kubeconfig};
use kube::{Api, Client, Config};

const CA_CHAIN: &str = "apiVersion: cert-manager.io/v1
kind: Issuer
metadata: {name: selfsigned, namespace: default}
spec: {selfSigned: {}}
---
apiVersion: cert-manager.io/v1
kind: Certificate
metadata: {name: bench-ca, namespace: default}
spec:
  isCA: true
  commonName: certwasm bench CA
  secretName: bench-ca
  privateKey: {algorithm: ECDSA, size: 256}
  issuerRef: {name: selfsigned}
---
apiVersion: cert-manager.io/v1
kind: Issuer
metadata: {name: ca, namespace: default}
spec:
  ca: {secretName: bench-ca}
";

fn main() {
    let count = arg("--certificates", 1_000);
    let concurrency = arg("--concurrency", 32);
    let dir = tempfile::tempdir().unwrap();
    let manifests = dir.path().join("manifests");
    std::fs::create_dir_all(&manifests).unwrap();
    std::fs::write(manifests.join("ca.yaml"), CA_CHAIN).unwrap();
    let data = dir.path().join("data");
    let mut child = Command::new(env!("CARGO_BIN_EXE_certwasm"))
        .args(["run", "--api-address", "127.0.0.1:0"])
        .args([
            "--metrics-listen-address",
            "off",
            "--http01-solver-address",
            "off",
        ])
        .arg("--data-dir")
        .arg(&data)
        .arg("--manifests")
        .arg(&manifests)
        .stderr(Stdio::piped())
        .stdout(Stdio::null())
        .spawn()
        .unwrap();
    let pid = child.id();
    let mut lines = BufReader::new(child.stderr.take().unwrap()).lines();
    for line in lines.by_ref() {
        if line.unwrap().contains("API ready") {
            break;
        }
    }
    // What certwasm logs (warnings, by default) shows beside the figures.
    std::thread::spawn(move || {
        for line in lines.map_while(Result::ok) {
            eprintln!("certwasm: {line}");
        }
    });

    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .unwrap();
    runtime.block_on(async move {
        let kubeconfig = Kubeconfig::read_from(data.join("kubeconfig")).unwrap();
        let config = Config::from_custom_kubeconfig(kubeconfig, &KubeConfigOptions::default())
            .await
            .unwrap();
        let client = Client::try_from(config).unwrap();
        let issuers: Api<Issuer> = Api::namespaced(client.clone(), "default");
        let started = Instant::now();
        loop {
            let ready = issuers
                .get_opt("ca")
                .await
                .unwrap()
                .is_some_and(|i| i.status.is_some_and(|s| s.is_ready()));
            if ready {
                break;
            }
            assert!(
                started.elapsed() < Duration::from_secs(120),
                "CA issuer never Ready"
            );
            tokio::time::sleep(Duration::from_millis(50)).await;
        }

        let certificates: Api<Certificate> = Api::namespaced(client.clone(), "default");
        let names = (0..count).map(|i| format!("leaf-{i}")).collect();
        let issued = common::issue_all(&certificates, names, "ca", concurrency).await;
        let (created, wall, latencies) = (issued.created, issued.wall, issued.latencies);
        println!("{count} Certificates (CA issuer, ECDSA P-256), {concurrency} creates in flight");
        println!("  all created in {:.2} s", created.as_secs_f64());
        println!(
            "  all Ready in {:.2} s ({:.0}/s)",
            wall.as_secs_f64(),
            count as f64 / wall.as_secs_f64()
        );
        println!(
            "  per-certificate latency: p50 {:.0} ms, p99 {:.0} ms",
            percentile(&latencies, 0.5).as_secs_f64() * 1e3,
            percentile(&latencies, 0.99).as_secs_f64() * 1e3
        );
        println!(
            "  certwasm run memory: VmRSS {} MiB, VmHWM (peak) {} MiB",
            memory_kib(pid, "VmRSS:") / 1024,
            memory_kib(pid, "VmHWM:") / 1024
        );
    });
    let _ = child.kill();
    let _ = child.wait();
}
