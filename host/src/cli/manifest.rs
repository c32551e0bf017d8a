//! Reading the Issuer and Secret manifests `certwasm plugin test` is given.
//!
//! Only the fields the command needs are read, and each error names the file
//! and the field, as `kubectl apply` would.

use std::path::Path;

use anyhow::{Context, Result, bail};
use base64::Engine as _;
use serde_yaml::Value as Yaml;

use crate::plugin::secrets::SecretData;

/// An Issuer or ClusterIssuer, as the plugin runtime needs it.
#[derive(Debug, Clone)]
pub struct IssuerManifest {
    pub kind: String,
    pub name: String,
    pub namespace: String,
    /// The `spec`, as JSON.
    pub spec: serde_json::Value,
}

/// A Secret with its `data` decoded and `stringData` merged in.
#[derive(Debug, Clone)]
pub struct SecretManifest {
    pub name: String,
    pub namespace: Option<String>,
    pub data: SecretData,
}

fn documents(path: &Path) -> Result<Vec<Yaml>> {
    let text =
        std::fs::read_to_string(path).with_context(|| format!("reading {}", path.display()))?;
    let mut docs = Vec::new();
    for document in serde_yaml::Deserializer::from_str(&text) {
        let value = <Yaml as serde::Deserialize>::deserialize(document)
            .with_context(|| format!("{} is not valid YAML", path.display()))?;
        match value {
            Yaml::Null => {}
            // A `kind: List` (as `kubectl get -o yaml` writes) holds items.
            Yaml::Mapping(ref map) if map.get("kind").and_then(Yaml::as_str) == Some("List") => {
                if let Some(Yaml::Sequence(items)) = map.get("items") {
                    docs.extend(items.iter().cloned());
                }
            }
            other => docs.push(other),
        }
    }
    Ok(docs)
}

fn metadata_field(doc: &Yaml, field: &str) -> Option<String> {
    doc.get("metadata")?.get(field)?.as_str().map(str::to_owned)
}

/// Reads the one Issuer or ClusterIssuer in `path`.
pub fn read_issuer(path: &Path) -> Result<IssuerManifest> {
    let docs = documents(path)?;
    let issuers: Vec<&Yaml> = docs
        .iter()
        .filter(|d| {
            matches!(
                d.get("kind").and_then(Yaml::as_str),
                Some("Issuer" | "ClusterIssuer")
            )
        })
        .collect();
    let doc = match issuers.as_slice() {
        [one] => *one,
        [] => bail!(
            "{}: no Issuer or ClusterIssuer found (kind: Issuer | ClusterIssuer)",
            path.display()
        ),
        _ => bail!(
            "{}: holds {} issuers; give a file with exactly one",
            path.display(),
            issuers.len()
        ),
    };
    let api_version = doc
        .get("apiVersion")
        .and_then(Yaml::as_str)
        .unwrap_or_default();
    if !api_version.starts_with("cert-manager.io/") {
        bail!(
            "{}: apiVersion: Unsupported value: {api_version:?}: supported values: \"cert-manager.io/v1\"",
            path.display()
        );
    }
    let kind = doc
        .get("kind")
        .and_then(Yaml::as_str)
        .unwrap_or_default()
        .to_owned();
    let name = metadata_field(doc, "name")
        .with_context(|| format!("{}: metadata.name: Required value", path.display()))?;
    let namespace = if kind == "ClusterIssuer" {
        // ClusterIssuer Secrets live in the cluster resource namespace,
        // `cert-manager` by default.
        "cert-manager".to_owned()
    } else {
        metadata_field(doc, "namespace").unwrap_or_else(|| "default".to_owned())
    };
    let spec = doc
        .get("spec")
        .with_context(|| format!("{}: spec: Required value", path.display()))?;
    let spec = serde_json::to_value(spec)
        .with_context(|| format!("{}: spec is not JSON-compatible", path.display()))?;
    Ok(IssuerManifest {
        kind,
        name,
        namespace,
        spec,
    })
}

/// Reads every Secret in `path`.
pub fn read_secrets(path: &Path) -> Result<Vec<SecretManifest>> {
    let mut secrets = Vec::new();
    for (index, doc) in documents(path)?.iter().enumerate() {
        if doc.get("kind").and_then(Yaml::as_str) != Some("Secret") {
            continue;
        }
        let at = |field: &str| format!("{} (document {}): {field}", path.display(), index + 1);
        let name = metadata_field(doc, "name")
            .with_context(|| format!("{}: Required value", at("metadata.name")))?;
        let mut data = SecretData::new();
        if let Some(Yaml::Mapping(entries)) = doc.get("data") {
            for (key, value) in entries {
                let key = key.as_str().with_context(|| at("data"))?;
                let encoded = value.as_str().unwrap_or_default();
                let decoded = base64::engine::general_purpose::STANDARD
                    .decode(encoded.trim())
                    .with_context(|| {
                        format!("{}: Invalid value: not base64", at(&format!("data[{key}]")))
                    })?;
                data.insert(key.to_owned(), decoded);
            }
        }
        if let Some(Yaml::Mapping(entries)) = doc.get("stringData") {
            for (key, value) in entries {
                let key = key.as_str().with_context(|| at("stringData"))?;
                data.insert(
                    key.to_owned(),
                    value.as_str().unwrap_or_default().as_bytes().to_vec(),
                );
            }
        }
        secrets.push(SecretManifest {
            name,
            namespace: metadata_field(doc, "namespace"),
            data,
        });
    }
    if secrets.is_empty() {
        bail!("{}: no Secret found (kind: Secret)", path.display());
    }
    Ok(secrets)
}
