//! ingress-shim's decision: which Certificates an annotated Ingress asks
//! for (one per `spec.tls` entry, named after its Secret), or why its
//! annotations are wrong (`BadConfig`).

use k8s_openapi::api::networking::v1::Ingress;
use serde_json::json;

use crate::api::Certificate;

/// `cert-manager.io/issuer`.
pub const ISSUER: &str = "cert-manager.io/issuer";
/// `cert-manager.io/cluster-issuer`.
pub const CLUSTER_ISSUER: &str = "cert-manager.io/cluster-issuer";
/// The pre-v0.11 spellings, still found in old manifests.
pub const LEGACY_ISSUER: &str = "certmanager.k8s.io/issuer";
/// The pre-v0.11 spelling of the ClusterIssuer annotation.
pub const LEGACY_CLUSTER_ISSUER: &str = "certmanager.k8s.io/cluster-issuer";

/// `kubernetes.io/tls-acme: "true"`: a certificate from the default issuer.
pub const TLS_ACME: &str = "kubernetes.io/tls-acme";

/// The issuer of Ingresses annotated [`TLS_ACME`] without an issuer
/// annotation: cert-manager's `--default-issuer-name`, `-kind` and
/// `-group`, which its Helm chart sets from `ingressShim.defaultIssuer*`.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct DefaultIssuer {
    /// The issuer's name; empty means no default.
    pub name: String,
    /// `Issuer` when empty.
    pub kind: String,
    /// The issuer's API group; empty leaves `issuerRef.group` unset.
    pub group: String,
}

/// What the shim should do for one Ingress.
#[derive(Debug, Clone, PartialEq)]
pub struct ShimPlan {
    /// The Certificates the Ingress asks for (without owner references).
    pub certificates: Vec<Certificate>,
    /// Warnings to record (legacy annotations).
    pub warnings: Vec<String>,
}

/// Why an Ingress's annotations cannot be turned into Certificates.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{0}")]
pub struct BadConfig(pub String);

/// Plans the Certificates for `ingress`; `Ok(None)` when it is not
/// annotated for cert-manager at all.
pub fn plan(ingress: &Ingress) -> Result<Option<ShimPlan>, BadConfig> {
    plan_with_default(ingress, None)
}

/// [`plan`], with the issuer an Ingress annotated [`TLS_ACME`] alone gets.
pub fn plan_with_default(
    ingress: &Ingress,
    default_issuer: Option<&DefaultIssuer>,
) -> Result<Option<ShimPlan>, BadConfig> {
    let annotations = ingress.metadata.annotations.clone().unwrap_or_default();
    let get = |k: &str| annotations.get(k).filter(|v| !v.is_empty()).cloned();
    let mut warnings = Vec::new();
    let mut issuer = get(ISSUER);
    let mut cluster_issuer = get(CLUSTER_ISSUER);
    if issuer.is_none()
        && let Some(legacy) = get(LEGACY_ISSUER)
    {
        warnings.push(format!(
            "annotation {LEGACY_ISSUER:?} is deprecated and will stop working: write \"{ISSUER}: {legacy}\" instead"
        ));
        issuer = Some(legacy);
    }
    if cluster_issuer.is_none()
        && let Some(legacy) = get(LEGACY_CLUSTER_ISSUER)
    {
        warnings.push(format!(
            "annotation {LEGACY_CLUSTER_ISSUER:?} is deprecated and will stop working: write \"{CLUSTER_ISSUER}: {legacy}\" instead"
        ));
        cluster_issuer = Some(legacy);
    }
    let mut default_group = None;
    let (name, kind) = match (issuer, cluster_issuer) {
        (None, None) if get(TLS_ACME).as_deref() == Some("true") => {
            match default_issuer.filter(|d| !d.name.is_empty()) {
                Some(default) => {
                    default_group = Some(default.group.clone()).filter(|g| !g.is_empty());
                    let kind = if default.kind.is_empty() {
                        "Issuer"
                    } else {
                        default.kind.as_str()
                    };
                    (default.name.clone(), kind.to_owned())
                }
                None => {
                    return Err(BadConfig(format!(
                        "{TLS_ACME:?} asks for a certificate but no default issuer is configured (--default-issuer-name)"
                    )));
                }
            }
        }
        (None, None) => return Ok(None),
        (Some(_), Some(_)) => {
            return Err(BadConfig(format!(
                "both {ISSUER:?} and {CLUSTER_ISSUER:?} may not be set"
            )));
        }
        (Some(name), None) => (
            name,
            get("cert-manager.io/issuer-kind").unwrap_or_else(|| "Issuer".to_owned()),
        ),
        (None, Some(name)) => (name, "ClusterIssuer".to_owned()),
    };
    let group = get("cert-manager.io/issuer-group").or(default_group);
    let namespace = ingress.metadata.namespace.clone().unwrap_or_default();
    let tls = ingress
        .spec
        .as_ref()
        .and_then(|s| s.tls.clone())
        .unwrap_or_default();
    let mut certificates = Vec::new();
    for (index, entry) in tls.iter().enumerate() {
        let hosts = entry.hosts.clone().unwrap_or_default();
        let Some(secret_name) = entry.secret_name.clone().filter(|s| !s.is_empty()) else {
            return Err(BadConfig(format!(
                "TLS entry {index} for hosts {hosts:?} must specify a secretName"
            )));
        };
        let mut spec = json!({
            "secretName": secret_name,
            "dnsNames": hosts,
            "issuerRef": {"name": name, "kind": kind},
        });
        if let Some(group) = &group {
            spec["issuerRef"]["group"] = json!(group);
        }
        let mut private_key = serde_json::Map::new();
        for (annotation, field) in [
            ("cert-manager.io/private-key-algorithm", "algorithm"),
            ("cert-manager.io/private-key-encoding", "encoding"),
            (
                "cert-manager.io/private-key-rotation-policy",
                "rotationPolicy",
            ),
        ] {
            if let Some(value) = get(annotation) {
                private_key.insert(field.to_owned(), json!(value));
            }
        }
        if let Some(size) = get("cert-manager.io/private-key-size") {
            let size: i64 = size.parse().map_err(|_| {
                BadConfig(format!(
                    "cert-manager.io/private-key-size: {size:?} is not a number"
                ))
            })?;
            private_key.insert("size".to_owned(), json!(size));
        }
        if !private_key.is_empty() {
            spec["privateKey"] = serde_json::Value::Object(private_key);
        }
        for (annotation, field) in [
            ("cert-manager.io/common-name", "commonName"),
            ("cert-manager.io/duration", "duration"),
            ("cert-manager.io/renew-before", "renewBefore"),
        ] {
            if let Some(value) = get(annotation) {
                spec[field] = json!(value);
            }
        }
        if let Some(pct) = get("cert-manager.io/renew-before-percentage") {
            let pct: i64 = pct.parse().map_err(|_| {
                BadConfig(format!(
                    "cert-manager.io/renew-before-percentage: {pct:?} is not a number"
                ))
            })?;
            spec["renewBeforePercentage"] = json!(pct);
        }
        if let Some(limit) = get("cert-manager.io/revision-history-limit") {
            let limit: i64 = limit.parse().map_err(|_| {
                BadConfig(format!(
                    "cert-manager.io/revision-history-limit: {limit:?} is not a number"
                ))
            })?;
            spec["revisionHistoryLimit"] = json!(limit);
        }
        if let Some(usages) = get("cert-manager.io/usages") {
            let usages: Vec<&str> = usages.split(',').map(str::trim).collect();
            spec["usages"] = json!(usages);
        }
        if let Some(emails) = get("cert-manager.io/email-sans") {
            let emails: Vec<&str> = emails.split(',').map(str::trim).collect();
            spec["emailAddresses"] = json!(emails);
        }
        let object = json!({
            "apiVersion": "cert-manager.io/v1",
            "kind": "Certificate",
            "metadata": {"name": secret_name, "namespace": namespace},
            "spec": spec,
        });
        let certificate: Certificate = crate::api::decode(object).map_err(|e| {
            BadConfig(format!(
                "annotations of Ingress do not make a valid Certificate: {e}"
            ))
        })?;
        let errors = crate::api::validation::validate_certificate(&certificate);
        if !errors.is_empty() {
            let text: Vec<String> = errors.iter().map(ToString::to_string).collect();
            return Err(BadConfig(format!(
                "the Certificate for TLS entry {index} would be invalid: {}",
                text.join("; ")
            )));
        }
        certificates.push(certificate);
    }
    Ok(Some(ShimPlan {
        certificates,
        warnings,
    }))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ingress(annotations: serde_json::Value, tls: serde_json::Value) -> Ingress {
        serde_json::from_value(json!({
            "apiVersion": "networking.k8s.io/v1", "kind": "Ingress",
            "metadata": {"name": "web", "namespace": "default", "annotations": annotations},
            "spec": {"tls": tls, "rules": []}
        }))
        .expect("ingress")
    }

    #[test]
    fn one_certificate_per_tls_entry_with_annotation_fields() {
        let plan = plan(&ingress(
            json!({"cert-manager.io/cluster-issuer": "letsencrypt", "cert-manager.io/duration": "2160h",
                   "cert-manager.io/private-key-algorithm": "ECDSA", "cert-manager.io/usages": "server auth, digital signature"}),
            json!([{"hosts": ["example.com", "www.example.com"], "secretName": "web-tls"},
                   {"hosts": ["api.example.com"], "secretName": "api-tls"}]),
        ))
        .expect("valid")
        .expect("annotated");
        assert_eq!(plan.certificates.len(), 2);
        let first = &plan.certificates[0];
        assert_eq!(first.metadata.name.as_deref(), Some("web-tls"));
        assert_eq!(first.spec.dns_names, vec!["example.com", "www.example.com"]);
        assert_eq!(first.spec.issuer_ref.kind.as_deref(), Some("ClusterIssuer"));
        assert_eq!(first.spec.duration.as_deref(), Some("2160h"));
        assert_eq!(first.spec.usages.len(), 2);
        assert!(plan.warnings.is_empty());
    }

    #[test]
    fn legacy_annotations_work_with_a_warning_and_bad_configs_are_named() {
        let plan = plan(&ingress(
            json!({"certmanager.k8s.io/issuer": "letsencrypt-staging"}),
            json!([{"hosts": ["example.com"], "secretName": "web-tls"}]),
        ))
        .expect("valid")
        .expect("annotated");
        assert_eq!(
            plan.certificates[0].spec.issuer_ref.name,
            "letsencrypt-staging"
        );
        assert!(plan.warnings[0].contains("cert-manager.io/issuer: letsencrypt-staging"));

        let both = plan_err(
            json!({"cert-manager.io/issuer": "a", "cert-manager.io/cluster-issuer": "b"}),
            json!([{"hosts": ["example.com"], "secretName": "x"}]),
        );
        assert!(both.0.contains("may not be set"));
        let no_secret = plan_err(
            json!({"cert-manager.io/issuer": "a"}),
            json!([{"hosts": ["example.com"]}]),
        );
        assert!(no_secret.0.contains("must specify a secretName"));
        assert_eq!(super::plan(&ingress(json!({}), json!([]))), Ok(None));
    }

    #[test]
    fn tls_acme_takes_the_default_issuer_or_is_a_bad_config() {
        let tls = json!([{"hosts": ["example.com"], "secretName": "web-tls"}]);
        let annotated = ingress(json!({"kubernetes.io/tls-acme": "true"}), tls.clone());
        let default = DefaultIssuer {
            name: "letsencrypt".to_owned(),
            kind: "ClusterIssuer".to_owned(),
            group: "cert-manager.io".to_owned(),
        };
        let plan = plan_with_default(&annotated, Some(&default))
            .expect("valid")
            .expect("annotated");
        let issuer = &plan.certificates[0].spec.issuer_ref;
        assert_eq!(issuer.name, "letsencrypt");
        assert_eq!(issuer.kind.as_deref(), Some("ClusterIssuer"));
        assert_eq!(issuer.group.as_deref(), Some("cert-manager.io"));
        let bare = DefaultIssuer {
            name: "local".to_owned(),
            ..DefaultIssuer::default()
        };
        let plan = plan_with_default(&annotated, Some(&bare))
            .expect("valid")
            .expect("annotated");
        assert_eq!(
            plan.certificates[0].spec.issuer_ref.kind.as_deref(),
            Some("Issuer")
        );
        assert!(plan.certificates[0].spec.issuer_ref.group.is_none());
        let none = plan_with_default(&annotated, None).expect_err("no default");
        assert!(none.0.contains("no default issuer"));
        // An explicit issuer wins over the default; "false" asks for nothing.
        let explicit = ingress(
            json!({"kubernetes.io/tls-acme": "true", "cert-manager.io/issuer": "mine"}),
            tls.clone(),
        );
        let plan = plan_with_default(&explicit, Some(&default))
            .unwrap()
            .unwrap();
        assert_eq!(plan.certificates[0].spec.issuer_ref.name, "mine");
        let off = ingress(json!({"kubernetes.io/tls-acme": "false"}), tls);
        assert_eq!(plan_with_default(&off, Some(&default)), Ok(None));
    }

    fn plan_err(annotations: serde_json::Value, tls: serde_json::Value) -> BadConfig {
        super::plan(&ingress(annotations, tls)).expect_err("bad config")
    }
}
