//! The plugin bundle manifest: which components an operator installs, pinned
//! by digest, and what each may do.
//!
//! ```yaml
//! apiVersion: certwasm.io/v1alpha1
//! kind: PluginBundle
//! plugins:
//! - name: my-ca
//!   component: my_ca.wasm          # relative to this file, or oci://REG/REPO@sha256:...
//!   sha256: 0f1e...                # required: the component's SHA-256
//!   allowHosts: [pki.example.com]  # ceiling over the hosts the issuer config names
//!   secrets: true                  # may read the Secrets the issuer config references
//!   generateKeys: false            # may generate private keys
//!   memory: 32Mi
//!   timeout: 5s
//!   namespaces: [team-a]           # Issuers of these namespaces (ClusterIssuers always)
//!   replaces: acme                 # serve the bundled plugin's issuer type instead
//! ```
//!
//! Why the digest is required: the manifest is what an operator reviews and
//! signs off; a component swapped on disk or in a registry after that must
//! not run. Errors name the field as the Kubernetes API server does
//! (`plugins[1].sha256: Required value`), so a bundle reads like any other
//! object an operator writes.

use std::collections::{BTreeMap, BTreeSet};
use std::time::Duration;

use serde::{Deserialize, Serialize};

use crate::plugin::Grants;

/// The manifest's `apiVersion`.
pub const API_VERSION: &str = "certwasm.io/v1alpha1";
/// The manifest's `kind`.
pub const KIND: &str = "PluginBundle";
/// Plugins built into the binary that an entry may replace (`venafi` has no
/// bundled plugin; replacing it serves `spec.venafi` issuers).
pub const REPLACEABLE: &[&str] = &["selfsigned", "ca", "acme", "vault", "venafi"];
/// The largest `memory` grant: wasm32's whole address space.
const MAX_MEMORY: u64 = 4 << 30;

/// Why a manifest is refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ManifestError {
    #[error("not a plugin bundle manifest: {0}")]
    Syntax(String),
    /// One or more field errors, each `path: Reason: detail`.
    #[error("{}", .0.join("; "))]
    Invalid(Vec<String>),
}

/// The manifest as written (YAML), before validation.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct BundleDocument {
    #[serde(default)]
    pub api_version: String,
    #[serde(default)]
    pub kind: String,
    #[serde(default)]
    pub plugins: Vec<EntryDocument>,
}

/// One `plugins[]` entry as written.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct EntryDocument {
    #[serde(default)]
    pub name: String,
    #[serde(default)]
    pub component: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub sha256: Option<String>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub allow_hosts: Vec<String>,
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub secrets: bool,
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub generate_keys: bool,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub memory: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub timeout: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub namespaces: Option<Vec<String>>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub replaces: Option<String>,
}

/// Where an entry's component comes from.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ComponentSource {
    /// A file, relative to the manifest's directory (or absolute).
    Path(String),
    /// A wasm OCI artifact pinned by its manifest digest.
    Oci(String),
}

/// A validated entry.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PluginEntry {
    pub name: String,
    pub component: ComponentSource,
    /// Lower-case hex SHA-256 of the component bytes.
    pub sha256: String,
    pub grants: Grants,
    /// The bundled plugin this entry serves instead of.
    pub replaces: Option<String>,
}

/// A validated manifest.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Bundle {
    pub plugins: Vec<PluginEntry>,
}

impl Bundle {
    /// The entry called `name`.
    pub fn entry(&self, name: &str) -> Option<&PluginEntry> {
        self.plugins.iter().find(|entry| entry.name == name)
    }
}

/// Parses and validates a manifest.
pub fn parse(text: &str) -> Result<Bundle, ManifestError> {
    validate(&parse_document(text)?)
}

/// Parses a manifest without validating it (for `bundle add`, which edits
/// one entry and validates the result).
pub fn parse_document(text: &str) -> Result<BundleDocument, ManifestError> {
    let deserializer = serde_yaml::Deserializer::from_str(text);
    serde_path_to_error::deserialize(deserializer).map_err(|err| {
        let path = err.path().to_string();
        let inner = err.into_inner();
        if path == "." {
            ManifestError::Syntax(inner.to_string())
        } else {
            ManifestError::Syntax(format!("{path}: {inner}"))
        }
    })
}

/// Writes a manifest back as YAML.
pub fn to_yaml(document: &BundleDocument) -> Result<String, ManifestError> {
    serde_yaml::to_string(document).map_err(|e| ManifestError::Syntax(e.to_string()))
}

/// Checks every field, collecting all errors at once.
pub fn validate(document: &BundleDocument) -> Result<Bundle, ManifestError> {
    let mut errors = Vec::new();
    if document.api_version != API_VERSION {
        errors.push(if document.api_version.is_empty() {
            "apiVersion: Required value".to_owned()
        } else {
            format!(
                "apiVersion: Unsupported value: {:?}: supported values: {API_VERSION:?}",
                document.api_version
            )
        });
    }
    if document.kind != KIND {
        errors.push(if document.kind.is_empty() {
            "kind: Required value".to_owned()
        } else {
            format!(
                "kind: Unsupported value: {:?}: supported values: {KIND:?}",
                document.kind
            )
        });
    }
    let mut names = BTreeSet::new();
    let mut replaced = BTreeMap::new();
    let mut plugins = Vec::new();
    for (index, entry) in document.plugins.iter().enumerate() {
        let at = format!("plugins[{index}]");
        let before = errors.len();
        if entry.name.is_empty() {
            errors.push(format!("{at}.name: Required value"));
        } else if let Err(why) = check_name(&entry.name) {
            errors.push(format!("{at}.name: Invalid value: {:?}: {why}", entry.name));
        } else if !names.insert(entry.name.clone()) {
            errors.push(format!("{at}.name: Duplicate value: {:?}", entry.name));
        }
        match &entry.replaces {
            Some(target) if !REPLACEABLE.contains(&target.as_str()) => errors.push(format!(
                "{at}.replaces: Unsupported value: {target:?}: supported values: {}",
                quoted(REPLACEABLE)
            )),
            Some(target) => {
                if let Some(other) = replaced.insert(target.clone(), entry.name.clone()) {
                    errors.push(format!(
                        "{at}.replaces: Duplicate value: {target:?}: plugin {other:?} already replaces it"
                    ));
                }
                if REPLACEABLE.contains(&entry.name.as_str()) && entry.name != *target {
                    errors.push(format!(
                        "{at}.name: Invalid value: {:?}: names another bundled plugin than the one it replaces ({target:?})",
                        entry.name
                    ));
                }
            }
            None if REPLACEABLE.contains(&entry.name.as_str()) => errors.push(format!(
                "{at}.name: Invalid value: {:?}: names a bundled plugin; set replaces: {} to replace it explicitly",
                entry.name, entry.name
            )),
            None => {}
        }
        let component = component_source(&entry.component)
            .map_err(|why| errors.push(format!("{at}.component: {why}")))
            .ok();
        let sha256 = match &entry.sha256 {
            None => {
                errors.push(format!("{at}.sha256: Required value"));
                None
            }
            Some(digest) => normalize_digest(digest)
                .map_err(|why| {
                    errors.push(format!("{at}.sha256: Invalid value: {digest:?}: {why}"))
                })
                .ok(),
        };
        let mut allow_hosts = BTreeSet::new();
        for (i, host) in entry.allow_hosts.iter().enumerate() {
            match check_host(host) {
                Ok(host) => {
                    allow_hosts.insert(host);
                }
                Err(why) => errors.push(format!(
                    "{at}.allowHosts[{i}]: Invalid value: {host:?}: {why}"
                )),
            }
        }
        let memory_bytes = entry.memory.as_ref().and_then(|text| {
            parse_memory(text)
                .map_err(|why| errors.push(format!("{at}.memory: Invalid value: {text:?}: {why}")))
                .ok()
        });
        let timeout = entry.timeout.as_ref().and_then(|text| {
            parse_timeout(text)
                .map_err(|why| errors.push(format!("{at}.timeout: Invalid value: {text:?}: {why}")))
                .ok()
        });
        let namespaces = entry.namespaces.as_ref().map(|list| {
            list.iter()
                .enumerate()
                .filter_map(|(i, namespace)| match check_name(namespace) {
                    Ok(()) => Some(namespace.clone()),
                    Err(why) => {
                        errors.push(format!(
                            "{at}.namespaces[{i}]: Invalid value: {namespace:?}: {why}"
                        ));
                        None
                    }
                })
                .collect::<BTreeSet<_>>()
        });
        if errors.len() != before {
            continue;
        }
        if let (Some(component), Some(sha256)) = (component, sha256) {
            plugins.push(PluginEntry {
                name: entry.name.clone(),
                component,
                sha256,
                grants: Grants {
                    // An entry with no allowHosts reaches nothing: the
                    // ceiling is explicit, never "whatever the config says".
                    allow_hosts: Some(allow_hosts),
                    secrets: entry.secrets,
                    generate_keys: entry.generate_keys,
                    memory_bytes,
                    timeout,
                    namespaces,
                },
                replaces: entry.replaces.clone(),
            });
        }
    }
    if errors.is_empty() {
        Ok(Bundle { plugins })
    } else {
        Err(ManifestError::Invalid(errors))
    }
}

fn quoted(values: &[&str]) -> String {
    values
        .iter()
        .map(|v| format!("{v:?}"))
        .collect::<Vec<_>>()
        .join(", ")
}

/// A DNS-1123 label, as Kubernetes names and namespaces are.
fn check_name(name: &str) -> Result<(), String> {
    let valid = !name.is_empty()
        && name.len() <= 63
        && name
            .bytes()
            .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-')
        && !name.starts_with('-')
        && !name.ends_with('-');
    if valid {
        Ok(())
    } else {
        Err("a lowercase RFC 1123 label must consist of lower case alphanumeric characters or '-', and must start and end with an alphanumeric character (at most 63)".to_owned())
    }
}

/// A host name, `*.domain`, or an IP literal (IPv6 without brackets),
/// returned lower-case.
fn check_host(host: &str) -> Result<String, String> {
    let host = host.trim().to_ascii_lowercase();
    let host = host
        .strip_prefix('[')
        .and_then(|h| h.strip_suffix(']'))
        .map(str::to_owned)
        .unwrap_or(host);
    if host.parse::<std::net::IpAddr>().is_ok() {
        return Ok(host);
    }
    let name = host.strip_prefix("*.").unwrap_or(&host);
    let valid = !name.is_empty()
        && name.len() <= 253
        && name.split('.').all(|label| {
            !label.is_empty()
                && label.len() <= 63
                && label
                    .bytes()
                    .all(|b| b.is_ascii_alphanumeric() || b == b'-')
        });
    if valid {
        Ok(host)
    } else {
        Err("must be a host name, *.domain or an IP address (no scheme, port or path)".to_owned())
    }
}

fn component_source(text: &str) -> Result<ComponentSource, String> {
    if text.is_empty() {
        return Err("Required value".to_owned());
    }
    if let Some(reference) = text.strip_prefix("oci://") {
        let pinned = reference
            .rsplit_once("@sha256:")
            .is_some_and(|(_, digest)| normalize_digest(digest).is_ok());
        return if pinned {
            Ok(ComponentSource::Oci(text.to_owned()))
        } else {
            Err(format!(
                "Invalid value: {text:?}: an OCI component must be pinned by digest (oci://HOST/REPO@sha256:...)"
            ))
        };
    }
    if text.contains("://") {
        return Err(format!(
            "Invalid value: {text:?}: must be a file path or an oci:// reference"
        ));
    }
    Ok(ComponentSource::Path(text.to_owned()))
}

/// 64 hex digits, with or without a `sha256:` prefix, as lower case.
pub fn normalize_digest(text: &str) -> Result<String, String> {
    let hex = text.strip_prefix("sha256:").unwrap_or(text);
    if hex.len() == 64 && hex.bytes().all(|b| b.is_ascii_hexdigit()) {
        Ok(hex.to_ascii_lowercase())
    } else {
        Err("must be 64 hexadecimal digits (the component's SHA-256)".to_owned())
    }
}

/// A Kubernetes quantity of bytes: `33554432`, `32Mi`, `1Gi`, `512Ki`,
/// `64M`.
pub fn parse_memory(text: &str) -> Result<usize, String> {
    let text = text.trim();
    let split = text
        .find(|c: char| !c.is_ascii_digit())
        .unwrap_or(text.len());
    let (number, unit) = text.split_at(split);
    let multiplier: u64 = match unit {
        "" => 1,
        "Ki" => 1 << 10,
        "Mi" => 1 << 20,
        "Gi" => 1 << 30,
        "k" => 1_000,
        "M" => 1_000_000,
        "G" => 1_000_000_000,
        _ => {
            return Err(
                "must be a quantity of bytes such as 32Mi, 512Ki or 1Gi (suffixes Ki, Mi, Gi, k, M, G)"
                    .to_owned(),
            );
        }
    };
    let number: u64 = number
        .parse()
        .map_err(|_| "must start with a whole number of bytes, e.g. 32Mi".to_owned())?;
    let bytes = number
        .checked_mul(multiplier)
        .filter(|bytes| (1 << 20..=MAX_MEMORY).contains(bytes))
        .ok_or_else(|| "must be between 1Mi and 4Gi".to_owned())?;
    usize::try_from(bytes).map_err(|_| "too large for this machine".to_owned())
}

/// A Go duration (`5s`, `1m30s`), positive and at most ten minutes.
pub fn parse_timeout(text: &str) -> Result<Duration, String> {
    let duration = crate::go_duration::parse(text).map_err(|e| e.to_string())?;
    if duration.is_zero() || duration > Duration::from_secs(600) {
        return Err("must be more than 0s and at most 10m".to_owned());
    }
    Ok(duration)
}

#[cfg(test)]
mod tests {
    use super::*;

    const DIGEST: &str = "0f1e2d3c4b5a69788796a5b4c3d2e1f00f1e2d3c4b5a69788796a5b4c3d2e1f0";

    fn errors(text: &str) -> Vec<String> {
        match parse(text) {
            Err(ManifestError::Invalid(errors)) => errors,
            other => panic!("expected field errors, got {other:?}"),
        }
    }

    #[test]
    fn a_full_entry_becomes_grants() {
        let bundle = parse(&format!(
            "apiVersion: certwasm.io/v1alpha1
kind: PluginBundle
plugins:
- name: my-ca
  component: plugins/my_ca.wasm
  sha256: sha256:{}
  allowHosts: [PKI.example.com, '*.corp.example', '[::1]']
  secrets: true
  memory: 32Mi
  timeout: 5s
  namespaces: [team-a]
- name: acme
  replaces: acme
  component: oci://127.0.0.1:5000/team/acme@sha256:{DIGEST}
  sha256: {DIGEST}
",
            DIGEST.to_uppercase()
        ))
        .unwrap();
        let ca = bundle.entry("my-ca").unwrap();
        assert_eq!(ca.sha256, DIGEST);
        assert_eq!(
            ca.component,
            ComponentSource::Path("plugins/my_ca.wasm".into())
        );
        assert_eq!(ca.grants.memory_bytes, Some(32 << 20));
        assert_eq!(ca.grants.timeout, Some(Duration::from_secs(5)));
        assert!(ca.grants.secrets && !ca.grants.generate_keys);
        let hosts = ca.grants.allow_hosts.clone().unwrap();
        assert!(
            hosts.contains("pki.example.com")
                && hosts.contains("*.corp.example")
                && hosts.contains("::1")
        );
        assert!(
            ca.grants.allows_namespace(Some("team-a")) && !ca.grants.allows_namespace(Some("b"))
        );
        let acme = bundle.entry("acme").unwrap();
        assert_eq!(acme.replaces.as_deref(), Some("acme"));
        assert!(matches!(acme.component, ComponentSource::Oci(_)));
        // No allowHosts: nothing may be reached.
        assert_eq!(acme.grants.allow_hosts, Some(BTreeSet::new()));
    }

    #[test]
    fn errors_name_the_field() {
        let errors = errors(&format!(
            "apiVersion: certwasm.io/v1alpha1
kind: PluginBundle
plugins:
- name: ok
  component: a.wasm
  sha256: {DIGEST}
  memory: 32MB
- name: no-digest
  component: b.wasm
- name: acme
  component: c.wasm
  sha256: {DIGEST}
- name: ok
  component: oci://reg/x:1.0
  sha256: abc
  timeout: soon
  replaces: nginx
  allowHosts: ['https://x/']
"
        ));
        let expected = [
            "plugins[0].memory: Invalid value: \"32MB\": ",
            "plugins[1].sha256: Required value",
            "plugins[2].name: Invalid value: \"acme\": names a bundled plugin; set replaces: acme",
            "plugins[3].name: Duplicate value: \"ok\"",
            "plugins[3].replaces: Unsupported value: \"nginx\"",
            "plugins[3].component: Invalid value: \"oci://reg/x:1.0\": an OCI component must be pinned",
            "plugins[3].sha256: Invalid value: \"abc\"",
            "plugins[3].allowHosts[0]: Invalid value",
            "plugins[3].timeout: Invalid value: \"soon\"",
        ];
        for prefix in expected {
            assert!(
                errors.iter().any(|e| e.starts_with(prefix)),
                "no error starting with {prefix:?} in {errors:#?}"
            );
        }
        assert_eq!(errors.len(), expected.len(), "{errors:#?}");
    }

    #[test]
    fn header_and_unknown_fields_are_checked() {
        let errors = errors("apiVersion: v1\nplugins: []\n");
        assert_eq!(
            errors,
            vec![
                "apiVersion: Unsupported value: \"v1\": supported values: \"certwasm.io/v1alpha1\""
                    .to_owned(),
                "kind: Required value".to_owned()
            ]
        );
        let err = parse("apiVersion: certwasm.io/v1alpha1\nkind: PluginBundle\nplugins:\n- name: x\n  sha265: y\n")
            .unwrap_err();
        assert!(err.to_string().contains("plugins[0]"), "{err}");
        assert!(err.to_string().contains("sha265"), "{err}");
    }

    #[test]
    fn two_entries_cannot_replace_the_same_plugin() {
        let errors = errors(&format!(
            "apiVersion: certwasm.io/v1alpha1
kind: PluginBundle
plugins:
- {{name: a, replaces: ca, component: a.wasm, sha256: {DIGEST}}}
- {{name: b, replaces: ca, component: b.wasm, sha256: {DIGEST}}}
"
        ));
        assert_eq!(errors.len(), 1);
        assert!(errors[0].starts_with("plugins[1].replaces: Duplicate value: \"ca\""));
    }

    #[test]
    fn quantities_and_round_trip() {
        assert_eq!(parse_memory("32Mi"), Ok(32 << 20));
        assert_eq!(parse_memory("1Gi"), Ok(1 << 30));
        assert_eq!(parse_memory("2097152"), Ok(2 << 20));
        assert_eq!(parse_memory("64M"), Ok(64_000_000));
        assert!(parse_memory("32MB").is_err());
        assert!(parse_memory("5Gi").is_err());
        assert!(parse_memory("10Ki").is_err());
        assert_eq!(parse_timeout("1m30s"), Ok(Duration::from_secs(90)));
        assert!(parse_timeout("0s").is_err());
        let document = BundleDocument {
            api_version: API_VERSION.into(),
            kind: KIND.into(),
            plugins: vec![EntryDocument {
                name: "x".into(),
                component: "x.wasm".into(),
                sha256: Some(DIGEST.into()),
                memory: Some("32Mi".into()),
                ..EntryDocument::default()
            }],
        };
        let text = to_yaml(&document).unwrap();
        assert_eq!(parse_document(&text).unwrap(), document);
        assert!(!text.contains("secrets"), "{text}");
    }
}
