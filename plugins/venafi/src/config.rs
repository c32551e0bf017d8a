//! `spec.venafi` of an Issuer, read as cert-manager reads it
//! (`pkg/issuer/venafi/client/venaficlient.go`): which connector, its base
//! URL, which Secret keys hold the credentials, and the custom fields a
//! CertificateRequest may carry in an annotation.

use serde::Deserialize;

/// The Secret keys cert-manager reads for TPP credentials.
pub const TPP_USERNAME_KEY: &str = "username";
pub const TPP_PASSWORD_KEY: &str = "password";
pub const TPP_ACCESS_TOKEN_KEY: &str = "access-token";
/// The key of Venafi Cloud's API key when `apiTokenSecretRef.key` is unset.
pub const DEFAULT_API_KEY_KEY: &str = "api-key";
/// The key of `caBundleSecretRef` when unset.
pub const DEFAULT_CA_BUNDLE_KEY: &str = "ca.crt";
/// Venafi Cloud's public API, cert-manager's default for `cloud.url`.
pub const DEFAULT_CLOUD_URL: &str = "https://api.venafi.cloud/";
/// The CertificateRequest annotation with custom fields (JSON).
pub const CUSTOM_FIELDS_ANNOTATION: &str = "venafi.cert-manager.io/custom-fields";

/// `spec.venafi`.
#[derive(Debug, Default, Clone, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct VenafiConfig {
    /// TPP policy folder below `\VED\Policy`, or Cloud `application\template`.
    #[serde(default)]
    pub zone: String,
    #[serde(default)]
    pub tpp: Option<TppConfig>,
    #[serde(default)]
    pub cloud: Option<CloudConfig>,
    /// Next-Gen Trust Security: recognised so it can be refused by name.
    #[serde(default)]
    pub ngts: Option<serde_json::Value>,
}

/// `spec.venafi.tpp`.
#[derive(Debug, Default, Clone, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct TppConfig {
    /// The WebSDK URL, `https://tpp.example.com/vedsdk`.
    #[serde(default)]
    pub url: String,
    /// Secret with `username`/`password` or `access-token`.
    #[serde(default)]
    pub credentials_ref: NameRef,
    /// Base64 of a PEM bundle trusted for TPP's TLS certificate.
    #[serde(default)]
    pub ca_bundle: Option<String>,
    #[serde(default)]
    pub ca_bundle_secret_ref: Option<SecretKeyRef>,
}

/// `spec.venafi.cloud`.
#[derive(Debug, Default, Clone, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct CloudConfig {
    #[serde(default)]
    pub url: Option<String>,
    #[serde(default)]
    pub api_token_secret_ref: SecretKeyRef,
}

/// A Secret named in the issuer's namespace.
#[derive(Debug, Default, Clone, PartialEq, Eq, Deserialize)]
pub struct NameRef {
    #[serde(default)]
    pub name: String,
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
    /// The key, or `default` when unset or empty (Go's `omitempty`).
    pub fn key_or<'a>(&'a self, default: &'a str) -> &'a str {
        self.key
            .as_deref()
            .filter(|k| !k.is_empty())
            .unwrap_or(default)
    }
}

/// Why `spec.venafi` cannot be used as written.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ConfigError {
    #[error("neither Venafi Cloud or TPP configuration found")]
    NoConnector,
    #[error("only one of tpp, cloud may be set")]
    TwoConnectors,
    #[error("Venafi NGTS (spec.venafi.ngts) is not supported yet")]
    Ngts,
    #[error("spec.venafi.zone must be set")]
    NoZone,
    #[error("spec.venafi.tpp.url must be set")]
    NoTppUrl,
    #[error("spec.venafi.tpp.credentialsRef.name must be set")]
    NoCredentials,
    #[error("spec.venafi.cloud.apiTokenSecretRef.name must be set")]
    NoApiToken,
    #[error("may not specify more than one of caBundle/caBundleSecretRef as TPP CA Bundle")]
    TwoCaBundles,
    #[error("invalid URL {0:?}: {1}")]
    BadUrl(String, &'static str),
    #[error("zone {0:?} is not of the form application\\template")]
    BadCloudZone(String),
}

/// The connector an issuer uses, with what it needs to reach it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Connector {
    Tpp {
        /// Where `vedsdk/...` and `vedauth/...` are appended; ends in `/`.
        base_url: String,
        credentials: String,
        ca_bundle: Option<String>,
        ca_bundle_secret_ref: Option<SecretKeyRef>,
    },
    Cloud {
        /// Where `outagedetection/v1/...` is appended; ends in `/`.
        base_url: String,
        api_key: SecretKeyRef,
    },
}

impl VenafiConfig {
    /// Checks the spec as cert-manager's client builder does and picks the
    /// connector.
    pub fn connector(&self) -> Result<Connector, ConfigError> {
        match (&self.tpp, &self.cloud, &self.ngts) {
            (Some(_), Some(_), _) => Err(ConfigError::TwoConnectors),
            (Some(tpp), None, _) => {
                if tpp.url.trim().is_empty() {
                    return Err(ConfigError::NoTppUrl);
                }
                if tpp.credentials_ref.name.is_empty() {
                    return Err(ConfigError::NoCredentials);
                }
                let inline = tpp.ca_bundle.as_deref().filter(|b| !b.trim().is_empty());
                if inline.is_some() && tpp.ca_bundle_secret_ref.is_some() {
                    return Err(ConfigError::TwoCaBundles);
                }
                self.zone_set()?;
                Ok(Connector::Tpp {
                    base_url: tpp_base_url(&tpp.url)?,
                    credentials: tpp.credentials_ref.name.clone(),
                    ca_bundle: inline.map(str::to_owned),
                    ca_bundle_secret_ref: tpp.ca_bundle_secret_ref.clone(),
                })
            }
            (None, Some(cloud), _) => {
                if cloud.api_token_secret_ref.name.is_empty() {
                    return Err(ConfigError::NoApiToken);
                }
                self.zone_set()?;
                cloud_zone(&self.zone)?;
                let url = cloud
                    .url
                    .as_deref()
                    .filter(|u| !u.trim().is_empty())
                    .unwrap_or(DEFAULT_CLOUD_URL);
                Ok(Connector::Cloud {
                    base_url: cloud_base_url(url)?,
                    api_key: cloud.api_token_secret_ref.clone(),
                })
            }
            (None, None, Some(_)) => Err(ConfigError::Ngts),
            (None, None, None) => Err(ConfigError::NoConnector),
        }
    }

    fn zone_set(&self) -> Result<(), ConfigError> {
        if self.zone.trim().is_empty() {
            Err(ConfigError::NoZone)
        } else {
            Ok(())
        }
    }
}

/// Adds the scheme (`https://` when missing) and a trailing `/`, as vcert's
/// `normalizeURL` does.
fn normalise(url: &str) -> Result<String, ConfigError> {
    let url = url.trim();
    let lower = url.to_ascii_lowercase();
    let mut out = if lower.starts_with("https://") || lower.starts_with("http://") {
        url.to_owned()
    } else if url.contains("://") {
        return Err(ConfigError::BadUrl(url.to_owned(), "only http and https"));
    } else {
        format!("https://{url}")
    };
    if !out.ends_with('/') {
        out.push('/');
    }
    let host = out.split_once("://").map_or("", |(_, rest)| rest);
    if host.starts_with('/') {
        return Err(ConfigError::BadUrl(url.to_owned(), "no host"));
    }
    Ok(out)
}

/// TPP's base URL from `tpp.url`: the WebSDK suffix `vedsdk` is dropped,
/// since vcert appends `vedsdk/...` and `vedauth/...` to the base.
pub fn tpp_base_url(url: &str) -> Result<String, ConfigError> {
    let out = normalise(url)?;
    let lower = out.to_ascii_lowercase();
    Ok(match lower.rfind("vedsdk/") {
        Some(at) if at + "vedsdk/".len() == out.len() && out[..at].ends_with('/') => {
            out[..at].to_owned()
        }
        _ => out,
    })
}

/// Venafi Cloud's base URL; a trailing `v1/` is dropped as vcert does.
pub fn cloud_base_url(url: &str) -> Result<String, ConfigError> {
    let out = normalise(url)?;
    Ok(match out.strip_suffix("v1/") {
        Some(base) if base.ends_with('/') => base.to_owned(),
        _ => out,
    })
}

/// TPP's policy DN for a zone (vcert's `getPolicyDN`): a zone that is not
/// already under `\VED\Policy` is put there.
pub fn policy_dn(zone: &str) -> String {
    if zone.starts_with("\\VED\\Policy") {
        zone.to_owned()
    } else if zone.starts_with('\\') {
        format!("\\VED\\Policy{zone}")
    } else {
        format!("\\VED\\Policy\\{zone}")
    }
}

/// A Venafi Cloud zone: `application\template` (the issuing template's
/// alias within the application).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CloudZone {
    pub application: String,
    pub template: String,
}

/// Splits a Cloud zone at its last `\` (application names may not hold
/// one; vcert splits the same way).
pub fn cloud_zone(zone: &str) -> Result<CloudZone, ConfigError> {
    match zone.trim().rsplit_once('\\') {
        Some((application, template)) if !application.is_empty() && !template.is_empty() => {
            Ok(CloudZone {
                application: application.to_owned(),
                template: template.to_owned(),
            })
        }
        _ => Err(ConfigError::BadCloudZone(zone.to_owned())),
    }
}

/// A custom field as cert-manager's annotation carries it.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
pub struct CustomField {
    #[serde(default)]
    pub name: String,
    #[serde(default)]
    pub value: String,
    #[serde(default, rename = "type")]
    pub kind: String,
}

/// Why the custom fields annotation cannot be used.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum CustomFieldsError {
    /// Not a JSON list of `{name, value, type}`.
    #[error("Failed to parse \"{CUSTOM_FIELDS_ANNOTATION}\" annotation: {0}")]
    Parse(String),
    /// cert-manager's `ErrCustomFieldsType`: only `Plain` is supported.
    #[error("certificate request contains an invalid Venafi custom fields type: {0:?}")]
    Type(String),
}

/// Reads the annotation's custom fields; an absent or empty annotation has
/// none.
pub fn custom_fields(annotation: Option<&str>) -> Result<Vec<CustomField>, CustomFieldsError> {
    let Some(text) = annotation.filter(|a| !a.is_empty()) else {
        return Ok(Vec::new());
    };
    let fields: Vec<CustomField> =
        serde_json::from_str(text).map_err(|e| CustomFieldsError::Parse(e.to_string()))?;
    if let Some(bad) = fields
        .iter()
        .find(|f| !f.kind.is_empty() && f.kind != "Plain")
    {
        return Err(CustomFieldsError::Type(bad.kind.clone()));
    }
    Ok(fields)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse(json: &str) -> VenafiConfig {
        serde_json::from_str(json).unwrap()
    }

    #[test]
    fn tpp_connector_and_its_base_url() {
        let config = parse(
            r#"{"zone":"devops\\certwasm","tpp":{"url":"https://tpp.example.com/vedsdk","credentialsRef":{"name":"tpp-secret"},"caBundle":"QUJD"}}"#,
        );
        assert_eq!(
            config.connector().unwrap(),
            Connector::Tpp {
                base_url: "https://tpp.example.com/".into(),
                credentials: "tpp-secret".into(),
                ca_bundle: Some("QUJD".into()),
                ca_bundle_secret_ref: None,
            }
        );
        assert_eq!(
            tpp_base_url("tpp.example.com:8443/vedsdk/").unwrap(),
            "https://tpp.example.com:8443/"
        );
        assert_eq!(
            tpp_base_url("https://tpp.example.com/custom").unwrap(),
            "https://tpp.example.com/custom/"
        );
        assert_eq!(
            tpp_base_url("https://tpp.example.com/notvedsdk").unwrap(),
            "https://tpp.example.com/notvedsdk/"
        );
        assert!(tpp_base_url("ftp://x/vedsdk").is_err());
    }

    #[test]
    fn cloud_connector_defaults_to_the_public_api() {
        let config = parse(
            r#"{"zone":"My App\\Default","cloud":{"apiTokenSecretRef":{"name":"cloud-secret","key":"apikey"}}}"#,
        );
        match config.connector().unwrap() {
            Connector::Cloud { base_url, api_key } => {
                assert_eq!(base_url, DEFAULT_CLOUD_URL);
                assert_eq!(api_key.key_or(DEFAULT_API_KEY_KEY), "apikey");
            }
            other => panic!("{other:?}"),
        }
        assert_eq!(
            cloud_base_url("http://127.0.0.1:9/v1").unwrap(),
            "http://127.0.0.1:9/"
        );
        assert_eq!(
            cloud_zone("My App\\Default").unwrap(),
            CloudZone {
                application: "My App".into(),
                template: "Default".into()
            }
        );
    }

    #[test]
    fn misconfigurations_are_named() {
        let error = |json: &str| parse(json).connector().unwrap_err();
        assert_eq!(error(r#"{"zone":"z"}"#), ConfigError::NoConnector);
        assert_eq!(
            error(r#"{"zone":"z","ngts":{"tsgID":"1"}}"#),
            ConfigError::Ngts
        );
        assert_eq!(
            error(r#"{"zone":"","tpp":{"url":"https://t/vedsdk","credentialsRef":{"name":"s"}}}"#),
            ConfigError::NoZone
        );
        assert_eq!(
            error(r#"{"zone":"z","tpp":{"url":"https://t/vedsdk","credentialsRef":{"name":""}}}"#),
            ConfigError::NoCredentials
        );
        assert_eq!(
            error(
                r#"{"zone":"z","tpp":{"url":"https://t/vedsdk","credentialsRef":{"name":"s"},"caBundle":"QQ==","caBundleSecretRef":{"name":"ca"}}}"#
            ),
            ConfigError::TwoCaBundles
        );
        assert_eq!(
            error(r#"{"zone":"nobackslash","cloud":{"apiTokenSecretRef":{"name":"s"}}}"#),
            ConfigError::BadCloudZone("nobackslash".into())
        );
        assert_eq!(
            error(
                r#"{"zone":"a\\b","cloud":{"apiTokenSecretRef":{"name":"s"}},"tpp":{"url":"u","credentialsRef":{"name":"s"}}}"#
            ),
            ConfigError::TwoConnectors
        );
    }

    #[test]
    fn policy_dns_as_vcert_makes_them() {
        assert_eq!(policy_dn("devops\\web"), "\\VED\\Policy\\devops\\web");
        assert_eq!(policy_dn("\\devops"), "\\VED\\Policy\\devops");
        assert_eq!(policy_dn("\\VED\\Policy\\x"), "\\VED\\Policy\\x");
    }

    #[test]
    fn custom_fields_from_the_annotation() {
        assert_eq!(custom_fields(None).unwrap(), vec![]);
        assert_eq!(custom_fields(Some("")).unwrap(), vec![]);
        let fields = custom_fields(Some(
            r#"[{"name":"Cost Center","value":"42"},{"name":"Env","value":"prod","type":"Plain"}]"#,
        ))
        .unwrap();
        assert_eq!(fields.len(), 2);
        assert_eq!(fields[0].name, "Cost Center");
        assert_eq!(fields[1].value, "prod");
        assert_eq!(
            custom_fields(Some(r#"[{"name":"a","value":"b","type":"Bool"}]"#)).unwrap_err(),
            CustomFieldsError::Type("Bool".into())
        );
        let parse_error = custom_fields(Some("{")).unwrap_err();
        assert!(
            parse_error.to_string().starts_with(
                "Failed to parse \"venafi.cert-manager.io/custom-fields\" annotation: "
            ),
            "{parse_error}"
        );
    }
}
