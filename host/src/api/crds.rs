//! The six CustomResourceDefinitions, generated from the Rust types so that
//! the schema the API enforces and the types the controllers decode can
//! never drift apart. The rendered YAML is committed as
//! `charts/certwasm/files/crds.yaml` (what `kubectl apply` uses, and what the
//! Helm chart's `templates/crds.yaml` installs when `crds.enabled`: Helm's
//! own `crds/` folder can be neither switched off nor kept on uninstall)
//! and a test fails when it is stale.

use std::path::Path;

use k8s_openapi::apiextensions_apiserver::pkg::apis::apiextensions::v1::CustomResourceDefinition;
use kube::CustomResourceExt;

use super::ApiError;
use super::certificate::Certificate;
use super::certificate_request::CertificateRequest;
use super::challenge::Challenge;
use super::issuer::{ClusterIssuer, Issuer};
use super::order::Order;

/// Where the rendered CRDs are committed, relative to the workspace root.
pub const CRDS_FILE: &str = "charts/certwasm/files/crds.yaml";

/// The command that regenerates [`CRDS_FILE`], quoted by the staleness test.
pub const REGENERATE_COMMAND: &str =
    "cargo run -p certwasm -- crds > charts/certwasm/files/crds.yaml";

/// All six CRDs, ordered by name so that the rendered file is stable.
pub fn crds() -> Vec<CustomResourceDefinition> {
    let mut crds = vec![
        Certificate::crd(),
        CertificateRequest::crd(),
        Issuer::crd(),
        ClusterIssuer::crd(),
        Order::crd(),
        Challenge::crd(),
    ];
    crds.sort_by(|a, b| a.metadata.name.cmp(&b.metadata.name));
    crds
}

/// All six CRDs as one multi-document YAML stream, each document opened by
/// `---`, ready for `kubectl apply -f -`.
///
/// Rendering a CRD cannot fail (it holds only strings, numbers and maps with
/// string keys); were it ever to, the error is written in place of that
/// document as a YAML comment, so that the staleness test and any
/// `kubectl apply` of the output fail loudly rather than silently.
pub fn crds_yaml() -> String {
    try_crds_yaml().unwrap_or_else(|err| format!("# certwasm could not render its CRDs: {err}\n"))
}

/// [`crds_yaml`], reporting a rendering failure instead of embedding it.
pub fn try_crds_yaml() -> Result<String, ApiError> {
    let mut out = String::new();
    for crd in crds() {
        let name = crd.metadata.name.clone().unwrap_or_default();
        let yaml =
            serde_yaml::to_string(&crd).map_err(|source| ApiError::RenderCrd { name, source })?;
        out.push_str("---\n");
        out.push_str(&yaml);
    }
    Ok(out)
}

/// Writes [`crds_yaml`] to `path`, creating its directory; what
/// `certwasm crds --output` and the update test use.
pub fn write_crds_file(path: &Path) -> Result<(), ApiError> {
    let yaml = try_crds_yaml()?;
    if let Some(dir) = path.parent() {
        std::fs::create_dir_all(dir).map_err(|source| ApiError::Write {
            path: dir.to_owned(),
            source,
        })?;
    }
    std::fs::write(path, yaml).map_err(|source| ApiError::Write {
        path: path.to_owned(),
        source,
    })
}

#[cfg(test)]
mod tests {
    use std::path::PathBuf;

    use super::*;

    fn committed_path() -> PathBuf {
        PathBuf::from(env!("CARGO_MANIFEST_DIR"))
            .join("..")
            .join(CRDS_FILE)
    }

    /// CI fails when the committed CRDs no longer match the types. Run with
    /// `CERTWASM_UPDATE_CRDS=1` to rewrite the file instead.
    #[test]
    fn crds_file_is_current() {
        let path = committed_path();
        if std::env::var_os("CERTWASM_UPDATE_CRDS").is_some() {
            write_crds_file(&path).expect("write CRDs");
        }
        let committed = std::fs::read_to_string(&path).unwrap_or_default();
        assert!(
            committed == crds_yaml(),
            "{} is stale: run `{REGENERATE_COMMAND}` (or CERTWASM_UPDATE_CRDS=1 cargo test -p certwasm crds_file_is_current)",
            CRDS_FILE
        );
    }

    #[test]
    fn renders_six_crds() {
        let yaml = crds_yaml();
        assert_eq!(
            yaml.matches("\n---\n").count() + usize::from(yaml.starts_with("---\n")),
            6
        );
        let names: Vec<String> = crds().into_iter().filter_map(|c| c.metadata.name).collect();
        assert_eq!(
            names,
            [
                "certificaterequests.cert-manager.io",
                "certificates.cert-manager.io",
                "challenges.acme.cert-manager.io",
                "clusterissuers.cert-manager.io",
                "issuers.cert-manager.io",
                "orders.acme.cert-manager.io",
            ]
        );
        for document in yaml.split("---\n").filter(|d| !d.trim().is_empty()) {
            let crd: CustomResourceDefinition =
                serde_yaml::from_str(document).expect("each document parses");
            assert_eq!(crd.spec.versions.len(), 1);
        }
    }

    fn crd(name: &str) -> CustomResourceDefinition {
        crds()
            .into_iter()
            .find(|c| c.metadata.name.as_deref() == Some(name))
            .expect("CRD exists")
    }

    /// (name, jsonPath, type, priority) of each printer column.
    fn columns(name: &str) -> Vec<(String, String, String, i32)> {
        let crd = crd(name);
        crd.spec.versions[0]
            .additional_printer_columns
            .clone()
            .unwrap_or_default()
            .into_iter()
            .map(|c| (c.name, c.json_path, c.type_, c.priority.unwrap_or(0)))
            .collect()
    }

    fn expect_columns(name: &str, expected: &[(&str, &str, &str, i32)]) {
        let actual = columns(name);
        let expected: Vec<(String, String, String, i32)> = expected
            .iter()
            .map(|(n, p, t, prio)| ((*n).to_owned(), (*p).to_owned(), (*t).to_owned(), *prio))
            .collect();
        assert_eq!(actual, expected, "printer columns of {name}");
    }

    const READY: &str = r#".status.conditions[?(@.type == "Ready")].status"#;
    const READY_MESSAGE: &str = r#".status.conditions[?(@.type == "Ready")].message"#;
    const AGE: (&str, &str, &str, i32) = ("Age", ".metadata.creationTimestamp", "date", 0);

    #[test]
    fn certificate_columns_match_cert_manager() {
        expect_columns(
            "certificates.cert-manager.io",
            &[
                ("Ready", READY, "string", 0),
                ("Secret", ".spec.secretName", "string", 0),
                ("Issuer", ".spec.issuerRef.name", "string", 1),
                ("Status", READY_MESSAGE, "string", 1),
                ("Expiration", ".status.notAfter", "string", 1),
                AGE,
            ],
        );
    }

    #[test]
    fn certificate_request_columns_match_cert_manager() {
        expect_columns(
            "certificaterequests.cert-manager.io",
            &[
                (
                    "Approved",
                    r#".status.conditions[?(@.type == "Approved")].status"#,
                    "string",
                    0,
                ),
                (
                    "Denied",
                    r#".status.conditions[?(@.type == "Denied")].status"#,
                    "string",
                    0,
                ),
                ("Ready", READY, "string", 0),
                ("Issuer", ".spec.issuerRef.name", "string", 0),
                ("Requester", ".spec.username", "string", 0),
                ("Status", READY_MESSAGE, "string", 1),
                AGE,
            ],
        );
    }

    #[test]
    fn issuer_columns_match_cert_manager() {
        for name in ["issuers.cert-manager.io", "clusterissuers.cert-manager.io"] {
            expect_columns(
                name,
                &[
                    ("Ready", READY, "string", 0),
                    ("Status", READY_MESSAGE, "string", 1),
                    AGE,
                ],
            );
        }
    }

    #[test]
    fn acme_columns_match_cert_manager() {
        expect_columns(
            "orders.acme.cert-manager.io",
            &[
                ("State", ".status.state", "string", 0),
                ("Issuer", ".spec.issuerRef.name", "string", 1),
                ("Reason", ".status.reason", "string", 1),
                AGE,
            ],
        );
        expect_columns(
            "challenges.acme.cert-manager.io",
            &[
                ("State", ".status.state", "string", 0),
                ("Domain", ".spec.dnsName", "string", 0),
                ("Reason", ".status.reason", "string", 1),
                AGE,
            ],
        );
    }

    #[test]
    fn names_scope_and_subresources_match_cert_manager() {
        let expected = [
            (
                "certificates.cert-manager.io",
                "Certificate",
                "Namespaced",
                vec!["cert", "certs"],
                vec!["cert-manager"],
            ),
            (
                "certificaterequests.cert-manager.io",
                "CertificateRequest",
                "Namespaced",
                vec!["cr", "crs"],
                vec!["cert-manager"],
            ),
            (
                "issuers.cert-manager.io",
                "Issuer",
                "Namespaced",
                vec!["iss"],
                vec!["cert-manager"],
            ),
            (
                "clusterissuers.cert-manager.io",
                "ClusterIssuer",
                "Cluster",
                vec!["ciss"],
                vec!["cert-manager"],
            ),
            (
                "orders.acme.cert-manager.io",
                "Order",
                "Namespaced",
                vec![],
                vec!["cert-manager", "cert-manager-acme"],
            ),
            (
                "challenges.acme.cert-manager.io",
                "Challenge",
                "Namespaced",
                vec![],
                vec!["cert-manager", "cert-manager-acme"],
            ),
        ];
        for (name, kind, scope, short_names, categories) in expected {
            let crd = crd(name);
            assert_eq!(crd.spec.names.kind, kind);
            assert_eq!(crd.spec.scope, scope, "{name}");
            assert_eq!(
                crd.spec.names.short_names.clone().unwrap_or_default(),
                short_names,
                "{name}"
            );
            assert_eq!(
                crd.spec.names.categories.clone().unwrap_or_default(),
                categories,
                "{name}"
            );
            let version = &crd.spec.versions[0];
            assert_eq!(version.name, "v1");
            assert!(version.served && version.storage);
            assert!(
                version
                    .subresources
                    .as_ref()
                    .and_then(|s| s.status.as_ref())
                    .is_some(),
                "{name} has a status subresource"
            );
        }
    }

    #[test]
    fn free_form_fields_preserve_unknown_fields() {
        let yaml = crds_yaml();
        let issuers = yaml
            .split("---\n")
            .find(|d| d.contains("name: issuers.cert-manager.io"))
            .expect("issuer CRD");
        assert!(issuers.contains("x-kubernetes-preserve-unknown-fields: true"));
        let crd = crd("issuers.cert-manager.io");
        let schema = serde_json::to_value(&crd.spec.versions[0].schema).expect("schema as JSON");
        let spec = &schema["openAPIV3Schema"]["properties"]["spec"]["properties"];
        assert_eq!(
            spec["plugin"]["properties"]["config"]["x-kubernetes-preserve-unknown-fields"],
            true
        );
        let webhook = &spec["acme"]["properties"]["solvers"]["items"]["properties"]["dns01"]["properties"]
            ["webhook"];
        assert_eq!(
            webhook["properties"]["config"]["x-kubernetes-preserve-unknown-fields"],
            true
        );
    }

    #[test]
    fn enums_and_required_fields_are_in_the_schema() {
        let crd = crd("certificates.cert-manager.io");
        let schema = serde_json::to_value(&crd.spec.versions[0].schema).expect("schema as JSON");
        let spec = &schema["openAPIV3Schema"]["properties"]["spec"];
        let mut required: Vec<&str> = spec["required"]
            .as_array()
            .expect("required")
            .iter()
            .filter_map(|v| v.as_str())
            .collect();
        required.sort_unstable();
        assert_eq!(required, ["issuerRef", "secretName"]);
        let usages = spec["properties"]["usages"]["items"]["enum"]
            .as_array()
            .expect("usage enum");
        assert_eq!(usages.len(), 23);
        let algorithms = &spec["properties"]["privateKey"]["properties"]["algorithm"]["enum"];
        assert_eq!(algorithms, &serde_json::json!(["RSA", "ECDSA", "Ed25519"]));
        let conditions =
            &schema["openAPIV3Schema"]["properties"]["status"]["properties"]["conditions"];
        assert_eq!(conditions["x-kubernetes-list-type"], "map");
        assert_eq!(
            conditions["x-kubernetes-list-map-keys"],
            serde_json::json!(["type"])
        );
    }
}
