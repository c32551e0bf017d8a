//! The resource metrics as plain values: which gauges a set of
//! Certificates and issuers yields at `now`. Pure, so the names and labels
//! cert-manager users alert on are tested without a scrape.

use std::sync::Arc;

use kube::ResourceExt;
use time::OffsetDateTime;

use crate::api::{Certificate, ClusterIssuer, ConditionStatus, Issuer, IssuerStatus};

/// One gauge value: its metric (without the `certmanager_` prefix), help
/// text, labels and value.
#[derive(Debug, Clone, PartialEq)]
pub struct Sample {
    /// E.g. `certificate_ready_status`.
    pub name: &'static str,
    /// The HELP line.
    pub help: &'static str,
    /// Label pairs, in cert-manager's order.
    pub labels: Vec<(&'static str, String)>,
    /// The value.
    pub value: f64,
}

const READY: &str = "certificate_ready_status";
const EXPIRATION: &str = "certificate_expiration_timestamp_seconds";
const NOT_AFTER: &str = "certificate_not_after_timestamp_seconds";
const NOT_BEFORE: &str = "certificate_not_before_timestamp_seconds";
const RENEWAL: &str = "certificate_renewal_timestamp_seconds";
const ISSUER_READY: &str = "issuer_ready_status";
const CLUSTER_ISSUER_READY: &str = "clusterissuer_ready_status";
const CLOCK: &str = "clock_time_seconds_gauge";

const STATUSES: [(ConditionStatus, &str); 3] = [
    (ConditionStatus::True, "True"),
    (ConditionStatus::False, "False"),
    (ConditionStatus::Unknown, "Unknown"),
];

fn seconds(at: &k8s_openapi::apimachinery::pkg::apis::meta::v1::Time) -> f64 {
    at.0.as_second() as f64
}

/// One sample per Ready status (1 for the current one, 0 for the others),
/// as cert-manager exports condition gauges.
fn ready_samples(
    out: &mut Vec<Sample>,
    name: &'static str,
    help: &'static str,
    labels: &[(&'static str, String)],
    current: Option<ConditionStatus>,
) {
    let current = current.unwrap_or(ConditionStatus::Unknown);
    for (status, word) in STATUSES {
        let mut labels = labels.to_vec();
        labels.push(("condition", word.to_owned()));
        out.push(Sample {
            name,
            help,
            labels,
            value: if status == current { 1.0 } else { 0.0 },
        });
    }
}

fn issuer_ready(status: Option<&IssuerStatus>) -> Option<ConditionStatus> {
    status?
        .conditions
        .iter()
        .find(|c| c.type_ == "Ready")
        .map(|c| c.status)
}

/// Every resource gauge, grouped by metric name (the exposition format
/// wants a metric's samples together), in a stable order.
pub fn samples(
    certificates: &[Arc<Certificate>],
    issuers: &[Arc<Issuer>],
    cluster_issuers: &[Arc<ClusterIssuer>],
    now: OffsetDateTime,
) -> Vec<Sample> {
    let mut certificates: Vec<&Certificate> = certificates.iter().map(AsRef::as_ref).collect();
    certificates.sort_by_key(|c| (c.namespace(), c.name_any()));
    let mut by_metric: Vec<Sample> = Vec::new();
    for certificate in &certificates {
        let reference = &certificate.spec.issuer_ref;
        let labels = vec![
            ("name", certificate.name_any()),
            ("namespace", certificate.namespace().unwrap_or_default()),
            ("issuer_name", reference.name.clone()),
            ("issuer_kind", reference.effective_kind().to_owned()),
            ("issuer_group", reference.effective_group().to_owned()),
        ];
        let status = certificate.status.clone().unwrap_or_default();
        let ready = status
            .conditions
            .iter()
            .find(|c| c.type_ == "Ready")
            .map(|c| c.status);
        ready_samples(
            &mut by_metric,
            READY,
            "The ready status of the certificate.",
            &labels,
            ready,
        );
        let times = [
            (
                EXPIRATION,
                "The date after which the certificate expires. Expressed as a Unix Epoch Time.",
                &status.not_after,
            ),
            (
                NOT_AFTER,
                "The timestamp after which the certificate is invalid, expressed as a Unix Epoch Time.",
                &status.not_after,
            ),
            (
                NOT_BEFORE,
                "The timestamp before which the certificate is invalid, expressed as a Unix Epoch Time.",
                &status.not_before,
            ),
            (
                RENEWAL,
                "The number of seconds before expiration time the certificate should renew.",
                &status.renewal_time,
            ),
        ];
        for (name, help, at) in times {
            by_metric.push(Sample {
                name,
                help,
                labels: labels.clone(),
                value: at.as_ref().map_or(0.0, seconds),
            });
        }
    }
    let mut issuers: Vec<&Issuer> = issuers.iter().map(AsRef::as_ref).collect();
    issuers.sort_by_key(|i| (i.namespace(), i.name_any()));
    for issuer in issuers {
        let labels = vec![
            ("name", issuer.name_any()),
            ("namespace", issuer.namespace().unwrap_or_default()),
        ];
        ready_samples(
            &mut by_metric,
            ISSUER_READY,
            "The ready status of the issuer.",
            &labels,
            issuer_ready(issuer.status.as_ref()),
        );
    }
    let mut cluster_issuers: Vec<&ClusterIssuer> =
        cluster_issuers.iter().map(AsRef::as_ref).collect();
    cluster_issuers.sort_by_key(|i| i.name_any());
    for issuer in cluster_issuers {
        ready_samples(
            &mut by_metric,
            CLUSTER_ISSUER_READY,
            "The ready status of the cluster issuer.",
            &[("name", issuer.name_any())],
            issuer_ready(issuer.status.as_ref()),
        );
    }
    by_metric.push(Sample {
        name: CLOCK,
        help: "The clock time given in seconds (from 1970/01/01 UTC).",
        labels: Vec::new(),
        value: now.unix_timestamp() as f64,
    });
    // Group by metric, keeping each metric's samples in insertion order.
    let order = [
        READY,
        EXPIRATION,
        NOT_AFTER,
        NOT_BEFORE,
        RENEWAL,
        ISSUER_READY,
        CLUSTER_ISSUER_READY,
        CLOCK,
    ];
    by_metric.sort_by_key(|s| order.iter().position(|n| *n == s.name));
    by_metric
}

#[cfg(test)]
mod tests {
    use super::*;

    fn certificate(ready: Option<&str>) -> Arc<Certificate> {
        let mut status = serde_json::json!({
            "notAfter": "2027-01-01T00:00:00Z",
            "notBefore": "2026-10-01T00:00:00Z",
            "renewalTime": "2026-12-01T00:00:00Z",
        });
        if let Some(ready) = ready {
            status["conditions"] = serde_json::json!([{"type": "Ready", "status": ready}]);
        }
        Arc::new(
            serde_json::from_value(serde_json::json!({
                "apiVersion": "cert-manager.io/v1",
                "kind": "Certificate",
                "metadata": {"name": "web", "namespace": "shop"},
                "spec": {"secretName": "web-tls", "dnsNames": ["a.example"],
                         "issuerRef": {"name": "ca", "kind": "ClusterIssuer"}},
                "status": status,
            }))
            .unwrap(),
        )
    }

    fn find<'a>(all: &'a [Sample], name: &str, condition: Option<&str>) -> &'a Sample {
        all.iter()
            .find(|s| {
                s.name == name
                    && condition
                        .is_none_or(|c| s.labels.iter().any(|(k, v)| *k == "condition" && v == c))
            })
            .unwrap_or_else(|| panic!("no {name} {condition:?} in {all:#?}"))
    }

    #[test]
    fn certificate_gauges_carry_cert_managers_labels_and_times() {
        let now = time::macros::datetime!(2026-11-23 00:00 UTC);
        let all = samples(&[certificate(Some("True"))], &[], &[], now);
        let ready = find(&all, READY, Some("True"));
        assert_eq!(ready.value, 1.0);
        assert_eq!(
            ready.labels,
            vec![
                ("name", "web".to_owned()),
                ("namespace", "shop".to_owned()),
                ("issuer_name", "ca".to_owned()),
                ("issuer_kind", "ClusterIssuer".to_owned()),
                ("issuer_group", "cert-manager.io".to_owned()),
                ("condition", "True".to_owned()),
            ]
        );
        assert_eq!(find(&all, READY, Some("False")).value, 0.0);
        assert_eq!(find(&all, EXPIRATION, None).value, 1_798_761_600.0);
        assert_eq!(find(&all, RENEWAL, None).value, 1_796_083_200.0);
        assert_eq!(find(&all, CLOCK, None).value, now.unix_timestamp() as f64);
        // Samples of one metric are adjacent.
        let names: Vec<&str> = all.iter().map(|s| s.name).collect();
        let mut seen: Vec<&str> = names.clone();
        seen.dedup();
        let mut unique = seen.clone();
        unique.sort_unstable();
        unique.dedup();
        assert_eq!(seen.len(), unique.len(), "{names:?}");
    }

    #[test]
    fn a_certificate_without_ready_counts_as_unknown() {
        let now = time::macros::datetime!(2026-11-23 00:00 UTC);
        let all = samples(&[certificate(None)], &[], &[], now);
        assert_eq!(find(&all, READY, Some("Unknown")).value, 1.0);
        assert_eq!(find(&all, READY, Some("True")).value, 0.0);
    }
}
