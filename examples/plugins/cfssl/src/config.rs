//! `spec.plugin.config` of an Issuer that names this plugin, and the checks
//! made before CFSSL is called, so that a mistake in the manifest is
//! reported as the field it is in rather than as a failed request.

use base64::Engine as _;
use serde::Deserialize;

/// The Secret data key holding the hex HMAC key when `authKeySecretRef.key`
/// is unset.
pub const DEFAULT_AUTH_KEY_FIELD: &str = "key";

/// Where the plugin's own settings sit in the issuer spec.
pub const CONFIG_PATH: &str = "spec.plugin.config";

/// `spec.plugin.config` (the host selects the plugin by `spec.plugin.name`;
/// the SDK reads this part for the plugin).
#[derive(Debug, Default, Clone, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct CfsslConfig {
    /// CFSSL's base URL (`https://cfssl.example.com:8888`). Being a URL in
    /// the issuer spec is also what lets the host reach it.
    #[serde(default)]
    pub url: String,
    /// Base64 of a PEM bundle trusted for CFSSL's TLS certificate, as
    /// Kubernetes encodes `[]byte` (cert-manager's `caBundle` fields).
    #[serde(default)]
    pub ca_bundle: Option<String>,
    /// The signing profile of CFSSL's config (`signing.profiles`); empty
    /// means its default.
    #[serde(default)]
    pub profile: Option<String>,
    /// The signer label of a multi-root CFSSL; empty means its default.
    #[serde(default)]
    pub label: Option<String>,
    /// A Secret entry holding the hex HMAC key of a profile with an
    /// `auth_key`: requests then go to `authsign`, signed with it.
    #[serde(default)]
    pub auth_key_secret_ref: Option<SecretKeyRef>,
}

/// A key of a Secret in the issuer's namespace.
#[derive(Debug, Default, Clone, PartialEq, Eq, Deserialize)]
pub struct SecretKeyRef {
    #[serde(default)]
    pub name: String,
    #[serde(default)]
    pub key: Option<String>,
}

impl SecretKeyRef {
    /// The data key, or [`DEFAULT_AUTH_KEY_FIELD`] when unset or empty.
    pub fn key_or_default(&self) -> &str {
        self.key
            .as_deref()
            .filter(|k| !k.is_empty())
            .unwrap_or(DEFAULT_AUTH_KEY_FIELD)
    }
}

/// A configuration that cannot work as written: never worth retrying.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ConfigError {
    #[error(
        "{CONFIG_PATH}.url: Required value: the CFSSL server, e.g. https://cfssl.example.com:8888"
    )]
    MissingUrl,
    #[error("{CONFIG_PATH}.url: Invalid value: {0:?}: must be an absolute http:// or https:// URL")]
    BadUrl(String),
    #[error("{CONFIG_PATH}.caBundle: Invalid value: {0}")]
    BadCaBundle(String),
    #[error("{CONFIG_PATH}.authKeySecretRef.name: Required value")]
    MissingAuthSecretName,
}

/// The checked settings a call uses.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Settings {
    /// The base URL without a trailing slash.
    pub url: String,
    pub ca_bundle_pem: Option<String>,
    pub profile: String,
    pub label: String,
    pub auth_key: Option<SecretKeyRef>,
}

impl CfsslConfig {
    /// Checks the fields and decodes the CA bundle.
    pub fn settings(&self) -> Result<Settings, ConfigError> {
        let url = self.url.trim();
        if url.is_empty() {
            return Err(ConfigError::MissingUrl);
        }
        let rest = url
            .strip_prefix("https://")
            .or_else(|| url.strip_prefix("http://"))
            .ok_or_else(|| ConfigError::BadUrl(url.to_owned()))?;
        let authority = rest.split(['/', '?', '#']).next().unwrap_or_default();
        if authority.is_empty() || rest.contains(['?', '#']) {
            return Err(ConfigError::BadUrl(url.to_owned()));
        }
        let ca_bundle_pem = match self.ca_bundle.as_deref().map(str::trim) {
            None | Some("") => None,
            Some(encoded) => Some(decode_ca_bundle(encoded)?),
        };
        let auth_key = match &self.auth_key_secret_ref {
            Some(reference) if reference.name.trim().is_empty() => {
                return Err(ConfigError::MissingAuthSecretName);
            }
            other => other.clone(),
        };
        Ok(Settings {
            url: url.trim_end_matches('/').to_owned(),
            ca_bundle_pem,
            profile: self.profile.clone().unwrap_or_default(),
            label: self.label.clone().unwrap_or_default(),
            auth_key,
        })
    }
}

fn decode_ca_bundle(encoded: &str) -> Result<String, ConfigError> {
    let bytes = base64::engine::general_purpose::STANDARD
        .decode(encoded)
        .map_err(|e| ConfigError::BadCaBundle(format!("not base64: {e}")))?;
    let pem = String::from_utf8(bytes)
        .map_err(|_| ConfigError::BadCaBundle("not PEM text".to_owned()))?;
    if !pem.contains("-----BEGIN CERTIFICATE-----") {
        return Err(ConfigError::BadCaBundle(
            "holds no PEM CERTIFICATE block".to_owned(),
        ));
    }
    Ok(pem)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn config(json: serde_json::Value) -> CfsslConfig {
        serde_json::from_value(json).unwrap()
    }

    #[test]
    fn a_full_config_is_read() {
        let pem = "-----BEGIN CERTIFICATE-----\nAA==\n-----END CERTIFICATE-----\n";
        let encoded = base64::engine::general_purpose::STANDARD.encode(pem);
        let settings = config(serde_json::json!({
            "url": "https://cfssl.example.com:8888/",
            "caBundle": encoded,
            "profile": "server",
            "label": "primary",
            "authKeySecretRef": {"name": "cfssl-auth"}
        }))
        .settings()
        .unwrap();
        assert_eq!(settings.url, "https://cfssl.example.com:8888");
        assert_eq!(settings.ca_bundle_pem.as_deref(), Some(pem));
        assert_eq!(settings.profile, "server");
        assert_eq!(settings.label, "primary");
        let auth = settings.auth_key.unwrap();
        assert_eq!(
            (auth.name.as_str(), auth.key_or_default()),
            ("cfssl-auth", "key")
        );
    }

    #[test]
    fn optional_fields_default_to_cfssl_defaults() {
        let settings = config(serde_json::json!({"url": "http://127.0.0.1:8888"}))
            .settings()
            .unwrap();
        assert_eq!(settings.profile, "");
        assert_eq!(settings.label, "");
        assert_eq!(settings.ca_bundle_pem, None);
        assert_eq!(settings.auth_key, None);
    }

    #[test]
    fn mistakes_name_their_field() {
        let cases = [
            (
                serde_json::json!({}),
                "spec.plugin.config.url: Required value",
            ),
            (
                serde_json::json!({"url": "cfssl:8888"}),
                "spec.plugin.config.url: Invalid value",
            ),
            (
                serde_json::json!({"url": "https:///x"}),
                "spec.plugin.config.url: Invalid value",
            ),
            (
                serde_json::json!({"url": "https://c", "caBundle": "!!"}),
                "spec.plugin.config.caBundle: Invalid value: not base64",
            ),
            (
                serde_json::json!({"url": "https://c", "caBundle": "aGVsbG8="}),
                "spec.plugin.config.caBundle: Invalid value: holds no PEM",
            ),
            (
                serde_json::json!({"url": "https://c", "authKeySecretRef": {"key": "k"}}),
                "spec.plugin.config.authKeySecretRef.name: Required value",
            ),
        ];
        for (json, expected) in cases {
            let error = config(json.clone()).settings().unwrap_err().to_string();
            assert!(error.starts_with(expected), "{json}: {error}");
        }
    }
}
