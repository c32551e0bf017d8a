//! Throughput, watch latency and memory of the embedded API (`certwasm
//! run`), driven through HTTPS by kube-rs the way the controllers use it.
//!
//! `cargo bench -p certwasm --bench apiserver [-- --objects N --concurrency C]`
//!
//! Creates N Secrets, then N Certificates, C requests in flight, with a
//! watcher on Certificates open throughout; prints creates per second, the
//! watch delivery latency (request sent → event received) p50/p99, and the
//! server process's resident memory (VmRSS now, VmHWM peak).

// A benchmark is a test harness: a failed unwrap is a failed run.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::print_stdout)]

mod common;

use std::collections::HashMap;
use std::io::{BufRead, BufReader};
use std::process::{Command, Stdio};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use certwasm::api::Certificate;
use common::{arg, memory_kib, percentile};
use futures_util::{StreamExt, TryStreamExt};
use k8s_openapi::api::core::v1::Secret;
use kube::api::PostParams;
use kube::config::{KubeConfigOptions, Kubeconfig};
use kube::runtime::watcher;
use kube::{Api, Client, Config};
use serde_json::json;

fn main() {
    let objects = arg("--objects", 10_000);
    let concurrency = arg("--concurrency", 64);
    let dir = tempfile::tempdir().unwrap();
    let mut child = Command::new(env!("CARGO_BIN_EXE_certwasm"))
        .args([
            "run",
            "--api-only",
            "--api-address",
            "127.0.0.1:0",
            "--metrics-listen-address",
            "off",
            "--data-dir",
        ])
        .arg(dir.path())
        .stderr(Stdio::piped())
        .stdout(Stdio::null())
        .spawn()
        .unwrap();
    let pid = child.id();
    let mut lines = BufReader::new(child.stderr.take().unwrap()).lines();
    let started = Instant::now();
    for line in lines.by_ref() {
        if line.unwrap().contains("API ready") {
            break;
        }
    }
    println!(
        "start-up: {} ms (ready line seen)",
        started.elapsed().as_millis()
    );
    std::thread::spawn(move || for _ in lines {});

    let runtime = tokio::runtime::Runtime::new().unwrap();
    runtime.block_on(async {
        let kubeconfig = Kubeconfig::read_from(dir.path().join("kubeconfig")).unwrap();
        let config = Config::from_custom_kubeconfig(kubeconfig, &KubeConfigOptions::default())
            .await
            .unwrap();
        let client = Client::try_from(config).unwrap();
        let secrets: Api<Secret> = Api::namespaced(client.clone(), "default");
        let certs: Api<Certificate> = Api::namespaced(client.clone(), "default");

        // Watch Certificates for the whole run.
        let sent: Arc<Mutex<HashMap<String, Instant>>> = Arc::default();
        let latencies: Arc<Mutex<Vec<Duration>>> = Arc::default();
        let watch = {
            let sent = Arc::clone(&sent);
            let latencies = Arc::clone(&latencies);
            let certs = certs.clone();
            tokio::spawn(async move {
                let mut stream = watcher(certs, watcher::Config::default()).boxed();
                while let Some(event) = stream.next().await {
                    if let Ok(watcher::Event::Apply(c)) = event {
                        let name = c.metadata.name.unwrap_or_default();
                        let start = sent.lock().unwrap().remove(&name);
                        if let Some(start) = start {
                            let mut l = latencies.lock().unwrap();
                            l.push(start.elapsed());
                            if l.len() == objects {
                                return;
                            }
                        }
                    }
                }
            })
        };
        tokio::time::sleep(Duration::from_millis(300)).await;

        let t = Instant::now();
        futures_util::stream::iter(0..objects)
            .map(|i| {
                let secrets = secrets.clone();
                async move {
                    let secret: Secret = serde_json::from_value(json!({
                        "metadata": {"name": format!("s{i}")},
                        "type": "Opaque",
                        "data": {"k": "dmFsdWU="},
                    }))
                    .unwrap();
                    secrets
                        .create(&PostParams::default(), &secret)
                        .await
                        .map(|_| ())
                }
            })
            .buffer_unordered(concurrency)
            .try_collect::<Vec<()>>()
            .await
            .unwrap();
        let secret_time = t.elapsed();

        let t = Instant::now();
        futures_util::stream::iter(0..objects)
            .map(|i| {
                let certs = certs.clone();
                let sent = Arc::clone(&sent);
                async move {
                    let name = format!("c{i}");
                    let cert: Certificate = serde_json::from_value(json!({
                        "apiVersion": "cert-manager.io/v1", "kind": "Certificate",
                        "metadata": {"name": name, "namespace": "default"},
                        "spec": {"secretName": format!("{name}-tls"),
                                 "dnsNames": [format!("{name}.example.com")],
                                 "issuerRef": {"name": "ca"}},
                    }))
                    .unwrap();
                    sent.lock().unwrap().insert(name, Instant::now());
                    certs
                        .create(&PostParams::default(), &cert)
                        .await
                        .map(|_| ())
                }
            })
            .buffer_unordered(concurrency)
            .try_collect::<Vec<()>>()
            .await
            .unwrap();
        let cert_time = t.elapsed();
        tokio::time::timeout(Duration::from_secs(120), watch)
            .await
            .expect("watch saw every Certificate")
            .unwrap();

        let mut latencies = latencies.lock().unwrap().clone();
        latencies.sort();
        let rate = |n: usize, d: Duration| n as f64 / d.as_secs_f64();
        println!("objects: {objects} Secrets + {objects} Certificates, {concurrency} in flight");
        println!(
            "Secrets:      {:>8.0} creates/s ({:.2} s)",
            rate(objects, secret_time),
            secret_time.as_secs_f64()
        );
        println!(
            "Certificates: {:>8.0} creates/s ({:.2} s, admission included)",
            rate(objects, cert_time),
            cert_time.as_secs_f64()
        );
        println!(
            "watch delivery (request sent -> event received): p50 {:.1} ms, p99 {:.1} ms",
            percentile(&latencies, 0.50).as_secs_f64() * 1e3,
            percentile(&latencies, 0.99).as_secs_f64() * 1e3
        );
        println!(
            "server memory: VmRSS {} MiB, VmHWM (peak) {} MiB",
            memory_kib(pid, "VmRSS:") / 1024,
            memory_kib(pid, "VmHWM:") / 1024
        );
        let store = std::fs::metadata(dir.path().join("store.redb"))
            .map(|m| m.len())
            .unwrap_or(0);
        println!("store file: {} MiB", store / (1024 * 1024));
    });
    let _ = child.kill();
    let _ = child.wait();
}
