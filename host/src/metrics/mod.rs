//! Prometheus metrics with cert-manager's names (`certmanager_...`), and the
//! `/metrics`, `/healthz` and `/readyz` endpoints.
//!
//! Resource metrics (certificate readiness and times, issuer readiness) are
//! computed at scrape time from the controllers' caches rather than kept
//! in gauges updated by the reconcilers: a deleted Certificate then simply
//! stops being reported, with no bookkeeping to forget it, and a scrape
//! always agrees with what the controllers see.

mod samples;
mod server;

use std::sync::{Arc, OnceLock};

use kube::runtime::reflector::Store;
use prometheus_client::collector::Collector;
use prometheus_client::encoding::{DescriptorEncoder, EncodeLabelSet, EncodeMetric};
use prometheus_client::metrics::counter::Counter;
use prometheus_client::metrics::family::Family;
use prometheus_client::metrics::gauge::ConstGauge;
use prometheus_client::registry::Registry;

use crate::api::{Certificate, ClusterIssuer, Issuer};
pub use samples::{Sample, samples};
pub use server::{Health, MetricsError, serve};

/// The label of the per-controller counters.
#[derive(Debug, Clone, PartialEq, Eq, Hash, EncodeLabelSet)]
struct ControllerLabel {
    controller: String,
}

/// The controllers' caches the resource metrics are read from; each is set
/// once, when its controller starts.
#[derive(Debug, Default)]
pub struct Caches {
    /// Certificates.
    pub certificates: OnceLock<Store<Certificate>>,
    /// Issuers.
    pub issuers: OnceLock<Store<Issuer>>,
    /// ClusterIssuers.
    pub cluster_issuers: OnceLock<Store<ClusterIssuer>>,
}

/// The metrics one controller process exports.
#[derive(Debug)]
pub struct Metrics {
    registry: Registry,
    sync_calls: Family<ControllerLabel, Counter>,
    sync_errors: Family<ControllerLabel, Counter>,
    /// Where resource metrics come from.
    pub caches: Arc<Caches>,
}

impl Default for Metrics {
    fn default() -> Self {
        Self::new()
    }
}

impl Metrics {
    /// An empty set; the controllers fill [`Metrics::caches`] as they start.
    pub fn new() -> Self {
        let mut registry = Registry::with_prefix("certmanager");
        let sync_calls = Family::<ControllerLabel, Counter>::default();
        let sync_errors = Family::<ControllerLabel, Counter>::default();
        registry.register(
            "controller_sync_call",
            "The number of sync() calls made by a controller",
            sync_calls.clone(),
        );
        registry.register(
            "controller_sync_error",
            "The number of errors encountered during controller sync()",
            sync_errors.clone(),
        );
        let caches = Arc::new(Caches::default());
        registry.register_collector(Box::new(ResourceCollector {
            caches: Arc::clone(&caches),
        }));
        Metrics {
            registry,
            sync_calls,
            sync_errors,
            caches,
        }
    }

    /// Counts one reconcile of `controller`, and whether it failed.
    pub fn record_sync(&self, controller: &str, failed: bool) {
        let label = ControllerLabel {
            controller: controller.to_owned(),
        };
        self.sync_calls.get_or_create(&label).inc();
        if failed {
            self.sync_errors.get_or_create(&label).inc();
        }
    }

    /// The text exposition format Prometheus scrapes.
    pub fn render(&self) -> String {
        let mut out = String::new();
        // Writing to a String cannot fail.
        let _ = prometheus_client::encoding::text::encode(&mut out, &self.registry);
        out
    }
}

/// What a cache holds now; nothing before its controller started.
fn state<K>(store: &OnceLock<Store<K>>) -> Vec<Arc<K>>
where
    K: kube::Resource + Clone + 'static,
    K::DynamicType: std::hash::Hash + Eq + Clone,
{
    store.get().map(Store::state).unwrap_or_default()
}

/// Reads the caches at scrape time.
#[derive(Debug)]
struct ResourceCollector {
    caches: Arc<Caches>,
}

impl Collector for ResourceCollector {
    fn encode(&self, mut encoder: DescriptorEncoder<'_>) -> Result<(), std::fmt::Error> {
        let certificates = state(&self.caches.certificates);
        let issuers = state(&self.caches.issuers);
        let cluster_issuers = state(&self.caches.cluster_issuers);
        let now = time::OffsetDateTime::now_utc();
        let all = samples(&certificates, &issuers, &cluster_issuers, now);
        // One descriptor per metric name, then its samples.
        let mut start = 0;
        while start < all.len() {
            let name = all[start].name;
            let end = all[start..]
                .iter()
                .position(|s| s.name != name)
                .map_or(all.len(), |n| start + n);
            let first = &all[start];
            let mut family = encoder.encode_descriptor(
                first.name,
                first.help,
                None,
                prometheus_client::metrics::MetricType::Gauge,
            )?;
            for sample in &all[start..end] {
                let gauge = ConstGauge::new(sample.value);
                gauge.encode(family.encode_family(&sample.labels)?)?;
            }
            start = end;
        }
        Ok(())
    }
}
