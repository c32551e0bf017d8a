//! The resource types the embedded API serves: the six cert-manager CRDs
//! (described by the same CRD objects `certwasm crds` prints, so the schema
//! and printer columns cannot drift from the chart) and the handful of
//! built-in kinds the controllers and users touch.

use std::collections::BTreeMap;
use std::sync::Arc;

use k8s_openapi::apiextensions_apiserver::pkg::apis::apiextensions::v1::{
    CustomResourceColumnDefinition, CustomResourceDefinition,
};
use serde_json::Value;

/// Which webhook rules run on create and update: cert-manager's validation
/// and defaulting for its kinds, and light checks for built-ins.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Admission {
    /// cert-manager.io/v1 Certificate.
    Certificate,
    /// cert-manager.io/v1 CertificateRequest.
    CertificateRequest,
    /// cert-manager.io/v1 Issuer.
    Issuer,
    /// cert-manager.io/v1 ClusterIssuer.
    ClusterIssuer,
    /// acme.cert-manager.io/v1 Order.
    Order,
    /// acme.cert-manager.io/v1 Challenge.
    Challenge,
    /// core/v1 Secret (base64 data, known type).
    Secret,
    /// Any other built-in kind: only metadata rules.
    None,
}

/// One served resource type: what discovery lists and what the handlers
/// need to store, validate, patch and print it.
#[derive(Debug, Clone)]
pub struct ResourceType {
    /// API group, `""` for core.
    pub group: String,
    /// Served (and storage) version.
    pub version: String,
    /// Kind, e.g. `Certificate`.
    pub kind: String,
    /// Plural resource name used in paths, e.g. `certificates`.
    pub plural: String,
    /// Singular name, for discovery.
    pub singular: String,
    /// Namespaced or cluster-scoped.
    pub namespaced: bool,
    /// `kubectl get cert` short names.
    pub short_names: Vec<String>,
    /// `kubectl get cert-manager` categories.
    pub categories: Vec<String>,
    /// Whether `/status` is a subresource (then the main resource ignores
    /// status changes and `metadata.generation` tracks spec changes).
    pub has_status: bool,
    /// Whether it is a custom resource: no strategic merge patch, and an
    /// update must carry a resourceVersion, as for CRDs in kube-apiserver.
    pub custom: bool,
    /// The CRD's printer columns (custom resources only).
    pub printer_columns: Vec<CustomResourceColumnDefinition>,
    /// The CRD's OpenAPI v3 schema (custom resources only).
    pub schema: Option<Value>,
    /// Field selector labels accepted besides metadata.name/namespace.
    pub selectable_fields: Vec<String>,
    /// The webhook rules applied to writes.
    pub admission: Admission,
}

impl ResourceType {
    /// `apiVersion` as written in objects: `v1` or `group/version`.
    pub fn api_version(&self) -> String {
        if self.group.is_empty() {
            self.version.clone()
        } else {
            format!("{}/{}", self.group, self.version)
        }
    }

    /// `certificates.cert-manager.io`, or `secrets` for core: the resource
    /// name as kube-apiserver's messages spell it.
    pub fn qualified_plural(&self) -> String {
        if self.group.is_empty() {
            self.plural.clone()
        } else {
            format!("{}.{}", self.plural, self.group)
        }
    }

    /// The storage key prefix for every object of this type.
    pub fn key_prefix(&self) -> String {
        let group = if self.group.is_empty() {
            "core"
        } else {
            &self.group
        };
        format!("{group}/{}/", self.plural)
    }

    /// The storage key of one object (`namespace` is empty for
    /// cluster-scoped types).
    pub fn key(&self, namespace: &str, name: &str) -> String {
        format!("{}{namespace}/{name}", self.key_prefix())
    }

    fn builtin(group: &str, kind: &str, plural: &str, namespaced: bool) -> ResourceType {
        ResourceType {
            group: group.to_owned(),
            version: "v1".to_owned(),
            kind: kind.to_owned(),
            plural: plural.to_owned(),
            singular: kind.to_lowercase(),
            namespaced,
            short_names: Vec::new(),
            categories: Vec::new(),
            has_status: false,
            custom: false,
            printer_columns: Vec::new(),
            schema: None,
            selectable_fields: Vec::new(),
            admission: Admission::None,
        }
    }

    fn from_crd(crd: &CustomResourceDefinition) -> Option<ResourceType> {
        let spec = &crd.spec;
        let version = spec.versions.iter().find(|v| v.storage)?;
        let admission = match spec.names.kind.as_str() {
            "Certificate" => Admission::Certificate,
            "CertificateRequest" => Admission::CertificateRequest,
            "Issuer" => Admission::Issuer,
            "ClusterIssuer" => Admission::ClusterIssuer,
            "Order" => Admission::Order,
            "Challenge" => Admission::Challenge,
            _ => Admission::None,
        };
        let schema = version
            .schema
            .as_ref()
            .and_then(|s| s.open_api_v3_schema.as_ref())
            .and_then(|s| serde_json::to_value(s).ok());
        Some(ResourceType {
            group: spec.group.clone(),
            version: version.name.clone(),
            kind: spec.names.kind.clone(),
            plural: spec.names.plural.clone(),
            singular: spec.names.singular.clone().unwrap_or_default(),
            namespaced: spec.scope == "Namespaced",
            short_names: spec.names.short_names.clone().unwrap_or_default(),
            categories: spec.names.categories.clone().unwrap_or_default(),
            has_status: version
                .subresources
                .as_ref()
                .is_some_and(|s| s.status.is_some()),
            custom: true,
            printer_columns: version
                .additional_printer_columns
                .clone()
                .unwrap_or_default(),
            schema,
            selectable_fields: version
                .selectable_fields
                .iter()
                .flatten()
                .map(|f| f.json_path.trim_start_matches('.').to_owned())
                .collect(),
            admission,
        })
    }
}

/// Every served type, looked up by group, version and plural.
#[derive(Debug, Clone)]
pub struct Registry {
    types: Vec<Arc<ResourceType>>,
    by_path: BTreeMap<(String, String, String), Arc<ResourceType>>,
}

impl Registry {
    /// The built-in kinds plus cert-manager's six CRDs.
    pub fn standard() -> Registry {
        let mut types = builtin_types();
        types.extend(crate::api::crds().iter().filter_map(ResourceType::from_crd));
        Registry::new(types)
    }

    fn new(types: Vec<ResourceType>) -> Registry {
        let types: Vec<Arc<ResourceType>> = types.into_iter().map(Arc::new).collect();
        let by_path = types
            .iter()
            .map(|t| {
                (
                    (t.group.clone(), t.version.clone(), t.plural.clone()),
                    Arc::clone(t),
                )
            })
            .collect();
        Registry { types, by_path }
    }

    /// All types, in registration order.
    pub fn types(&self) -> &[Arc<ResourceType>] {
        &self.types
    }

    /// The type served at `/apis/{group}/{version}/{plural}`.
    pub fn lookup(&self, group: &str, version: &str, plural: &str) -> Option<Arc<ResourceType>> {
        self.by_path
            .get(&(group.to_owned(), version.to_owned(), plural.to_owned()))
            .cloned()
    }

    /// The type of a kind in an apiVersion (`v1`, `cert-manager.io/v1`).
    pub fn by_kind(&self, api_version: &str, kind: &str) -> Option<Arc<ResourceType>> {
        self.types
            .iter()
            .find(|t| t.api_version() == api_version && t.kind == kind)
            .cloned()
    }

    /// The types served under one group/version (empty when none is).
    pub fn types_in(&self, group: &str, version: &str) -> Vec<&ResourceType> {
        self.types
            .iter()
            .filter(|t| t.group == group && t.version == version)
            .map(|t| t.as_ref())
            .collect()
    }

    /// The group/versions served, in discovery order (core first).
    pub fn group_versions(&self) -> Vec<(String, String)> {
        let mut out: Vec<(String, String)> = Vec::new();
        for t in &self.types {
            let gv = (t.group.clone(), t.version.clone());
            if !out.contains(&gv) {
                out.push(gv);
            }
        }
        out
    }
}

fn builtin_types() -> Vec<ResourceType> {
    let mut namespaces = ResourceType::builtin("", "Namespace", "namespaces", false);
    namespaces.short_names = vec!["ns".to_owned()];
    namespaces.has_status = true;
    namespaces.selectable_fields = vec!["status.phase".to_owned()];

    let mut secrets = ResourceType::builtin("", "Secret", "secrets", true);
    secrets.admission = Admission::Secret;
    secrets.selectable_fields = vec!["type".to_owned()];

    let mut configmaps = ResourceType::builtin("", "ConfigMap", "configmaps", true);
    configmaps.short_names = vec!["cm".to_owned()];

    let mut services = ResourceType::builtin("", "Service", "services", true);
    services.short_names = vec!["svc".to_owned()];
    services.has_status = true;

    let event_fields: Vec<String> = [
        "involvedObject.kind",
        "involvedObject.namespace",
        "involvedObject.name",
        "involvedObject.uid",
        "involvedObject.apiVersion",
        "involvedObject.resourceVersion",
        "involvedObject.fieldPath",
        "reason",
        "reportingComponent",
        "source",
        "type",
    ]
    .iter()
    .map(|s| (*s).to_owned())
    .collect();
    let mut events = ResourceType::builtin("", "Event", "events", true);
    events.short_names = vec!["ev".to_owned()];
    events.selectable_fields = event_fields;

    let mut events_v1 = ResourceType::builtin("events.k8s.io", "Event", "events", true);
    events_v1.short_names = vec!["ev".to_owned()];
    events_v1.selectable_fields = [
        "regarding.kind",
        "regarding.namespace",
        "regarding.name",
        "regarding.uid",
        "reason",
        "reportingController",
        "type",
    ]
    .iter()
    .map(|s| (*s).to_owned())
    .collect();

    let mut ingresses = ResourceType::builtin("networking.k8s.io", "Ingress", "ingresses", true);
    ingresses.short_names = vec!["ing".to_owned()];
    ingresses.has_status = true;

    let leases = ResourceType::builtin("coordination.k8s.io", "Lease", "leases", true);

    // Stored and served, never called: the embedded API runs admission
    // itself. They are here so that `certwasm webhook` (which writes its CA
    // into them) and the Helm chart's objects can be tried against it.
    let validating_webhooks = ResourceType::builtin(
        "admissionregistration.k8s.io",
        "ValidatingWebhookConfiguration",
        "validatingwebhookconfigurations",
        false,
    );
    let mutating_webhooks = ResourceType::builtin(
        "admissionregistration.k8s.io",
        "MutatingWebhookConfiguration",
        "mutatingwebhookconfigurations",
        false,
    );

    vec![
        namespaces,
        secrets,
        configmaps,
        services,
        events,
        events_v1,
        ingresses,
        leases,
        validating_webhooks,
        mutating_webhooks,
    ]
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn standard_registry_serves_cert_manager_kinds_and_builtins() {
        let registry = Registry::standard();
        let certs = registry
            .lookup("cert-manager.io", "v1", "certificates")
            .expect("certificates");
        assert_eq!(certs.kind, "Certificate");
        assert!(certs.namespaced && certs.has_status && certs.custom);
        assert_eq!(certs.short_names, vec!["cert", "certs"]);
        assert_eq!(certs.printer_columns.len(), 6);
        assert!(
            certs
                .selectable_fields
                .contains(&"spec.issuerRef.name".to_owned())
        );
        let cluster = registry
            .lookup("cert-manager.io", "v1", "clusterissuers")
            .expect("clusterissuers");
        assert!(!cluster.namespaced);
        assert!(registry.lookup("", "v1", "secrets").is_some());
        assert_eq!(
            registry
                .by_kind("acme.cert-manager.io/v1", "Order")
                .map(|t| t.plural.clone()),
            Some("orders".to_owned())
        );
        assert_eq!(
            registry
                .lookup("", "v1", "secrets")
                .map(|t| t.key("ns", "a")),
            Some("core/secrets/ns/a".to_owned())
        );
    }
}
