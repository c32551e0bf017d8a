//! What the benchmarks share: flags, the memory of the process under
//! test, percentiles.

// Each benchmark uses its part; a failed unwrap is a failed run.
#![allow(dead_code, clippy::unwrap_used)]

use std::collections::{HashMap, HashSet};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use certwasm::api::Certificate;
use futures_util::{StreamExt, TryStreamExt};
use kube::api::PostParams;
use kube::runtime::{WatchStreamExt, watcher};
use kube::{Api, ResourceExt};
use serde_json::json;

/// The value after `--name` on the command line, or `default`.
pub fn arg(name: &str, default: usize) -> usize {
    let args: Vec<String> = std::env::args().collect();
    args.iter()
        .position(|a| a == name)
        .and_then(|i| args.get(i + 1))
        .and_then(|v| v.parse().ok())
        .unwrap_or(default)
}

/// A `/proc/PID/status` figure in KiB (`VmRSS:`, `VmHWM:`).
pub fn memory_kib(pid: u32, field: &str) -> u64 {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).unwrap_or_default();
    status
        .lines()
        .find(|l| l.starts_with(field))
        .and_then(|l| l.split_whitespace().nth(1))
        .and_then(|v| v.parse().ok())
        .unwrap_or(0)
}

/// The `p` quantile (0..=1) of sorted durations.
pub fn percentile(sorted: &[Duration], p: f64) -> Duration {
    if sorted.is_empty() {
        return Duration::ZERO;
    }
    let index = ((sorted.len() as f64 - 1.0) * p).round() as usize;
    sorted[index]
}

/// What [`issue_all`] measured.
#[derive(Debug)]
pub struct Issued {
    /// From the first create to the last create's answer.
    pub created: Duration,
    /// From the first create to the last Ready.
    pub wall: Duration,
    /// Each certificate's create → Ready, sorted.
    pub latencies: Vec<Duration>,
}

/// Creates one Certificate per name (ECDSA P-256, one dnsName
/// `<name>.example.com`, issuer `issuer`), `concurrency` creates in flight,
/// and waits until every one is Ready.
pub async fn issue_all(
    certificates: &Api<Certificate>,
    names: Vec<String>,
    issuer: &str,
    concurrency: usize,
) -> Issued {
    let sent: Arc<Mutex<HashMap<String, Instant>>> = Arc::default();
    // Watching from before the first create: a Ready seen late would
    // inflate the latency by the watcher's delay, not certwasm's.
    let watch = {
        let sent = Arc::clone(&sent);
        let certificates = certificates.clone();
        let wanted: HashSet<String> = names.iter().cloned().collect();
        tokio::spawn(async move {
            let mut latencies = Vec::with_capacity(wanted.len());
            let mut done = HashSet::new();
            let mut events = watcher(certificates, watcher::Config::default())
                .applied_objects()
                .boxed();
            while let Some(certificate) = events.try_next().await.unwrap() {
                let name = certificate.name_any();
                if !wanted.contains(&name) || !certificate.is_ready() {
                    continue;
                }
                if let Some(at) = sent.lock().unwrap().get(&name).copied()
                    && done.insert(name)
                {
                    latencies.push(at.elapsed());
                    if done.len() == wanted.len() {
                        break;
                    }
                }
            }
            latencies
        })
    };
    let first_create = Instant::now();
    futures_util::stream::iter(names)
        .for_each_concurrent(concurrency, |name| {
            let certificates = certificates.clone();
            let sent = Arc::clone(&sent);
            async move {
                let certificate: Certificate = serde_json::from_value(json!({
                    "apiVersion": "cert-manager.io/v1", "kind": "Certificate",
                    "metadata": {"name": name, "namespace": "default"},
                    "spec": {
                        "secretName": format!("{name}-tls"),
                        "dnsNames": [format!("{name}.example.com")],
                        "privateKey": {"algorithm": "ECDSA", "size": 256},
                        "issuerRef": {"name": issuer}
                    }
                }))
                .unwrap();
                sent.lock().unwrap().insert(name, Instant::now());
                certificates
                    .create(&PostParams::default(), &certificate)
                    .await
                    .unwrap();
            }
        })
        .await;
    let created = first_create.elapsed();
    let mut latencies = watch.await.unwrap();
    let wall = first_create.elapsed();
    latencies.sort();
    Issued {
        created,
        wall,
        latencies,
    }
}
