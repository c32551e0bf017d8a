//! Reading the issuer's `spec` (JSON) into the plugin's own config type.
//!
//! The host passes the Issuer's whole `spec` exactly as the user wrote it;
//! a plugin reads the one field it serves (`ca`, `selfSigned`, `plugin`...)
//! and ignores the rest. [`issuer_section`] does that in one pass over the
//! JSON, without building a `serde_json::Value` tree first.

use std::fmt;
use std::marker::PhantomData;

use serde::Deserializer;
use serde::de::{DeserializeOwned, IgnoredAny, MapAccess, Visitor};

#[cfg(test)]
use crate::types::IssuerKind;
use crate::types::{IssuerConfig, PluginError};

/// cert-manager's reason for an issuer spec that cannot be used.
pub const INVALID_CONFIG: &str = "InvalidConfig";

/// Deserialises `spec.<field>` of the issuer into `T`.
///
/// A missing field or a shape that does not fit is a permanent
/// `InvalidConfig` error whose message names the field, in the style of
/// Kubernetes validation (`spec.ca: Required value`).
pub fn issuer_section<T: DeserializeOwned>(
    config: &IssuerConfig,
    field: &str,
) -> Result<T, PluginError> {
    let mut deserializer = serde_json::Deserializer::from_str(&config.spec_json);
    let section = deserializer
        .deserialize_map(SectionVisitor::<T> {
            field,
            marker: PhantomData,
        })
        .and_then(|section| deserializer.end().map(|()| section));
    match section {
        Ok(Some(section)) => Ok(section),
        Ok(None) => Err(crate::failed(
            INVALID_CONFIG,
            format!("spec.{field}: Required value"),
        )),
        Err(e) => Err(crate::failed(
            INVALID_CONFIG,
            format!("spec.{field}: Invalid value: {e}"),
        )),
    }
}

struct SectionVisitor<'f, T> {
    field: &'f str,
    marker: PhantomData<T>,
}

impl<'de, T: DeserializeOwned> Visitor<'de> for SectionVisitor<'_, T> {
    type Value = Option<T>;

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("an issuer spec object")
    }

    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Self::Value, A::Error> {
        let mut found = None;
        while let Some(key) = map.next_key::<std::borrow::Cow<'de, str>>()? {
            if key == self.field && found.is_none() {
                found = Some(map.next_value::<T>()?);
            } else {
                map.next_value::<IgnoredAny>()?;
            }
        }
        Ok(found)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[derive(Debug, PartialEq, serde::Deserialize)]
    #[serde(rename_all = "camelCase")]
    struct Ca {
        secret_name: String,
        #[serde(default)]
        ocsp_servers: Vec<String>,
    }

    fn config(spec: &str) -> IssuerConfig {
        IssuerConfig {
            kind: IssuerKind::Issuer,
            name: "test".into(),
            namespace: "default".into(),
            spec_json: spec.into(),
        }
    }

    #[test]
    fn the_named_section_is_read_and_the_rest_ignored() {
        let spec = r#"{"acme":{"server":"x","solvers":[{"http01":{}}]},"ca":{"secretName":"ca-key-pair","ocspServers":["http://o"]},"plugin":null}"#;
        let ca: Ca = issuer_section(&config(spec), "ca").unwrap();
        assert_eq!(
            ca,
            Ca {
                secret_name: "ca-key-pair".into(),
                ocsp_servers: vec!["http://o".into()]
            }
        );
        let empty: serde_json::Value =
            issuer_section(&config(r#"{"selfSigned":{}}"#), "selfSigned").unwrap();
        assert_eq!(empty, serde_json::json!({}));
    }

    #[test]
    fn missing_and_malformed_sections_name_the_field() {
        let missing = issuer_section::<Ca>(&config(r#"{"selfSigned":{}}"#), "ca").unwrap_err();
        assert_eq!(
            (missing.reason.as_str(), missing.message.as_str()),
            (INVALID_CONFIG, "spec.ca: Required value")
        );
        assert!(!missing.retryable);
        let wrong = issuer_section::<Ca>(&config(r#"{"ca":{"secretName":7}}"#), "ca").unwrap_err();
        assert!(
            wrong
                .message
                .starts_with("spec.ca: Invalid value: invalid type: integer `7`"),
            "{}",
            wrong.message
        );
        let garbage = issuer_section::<Ca>(&config(r#"{"ca":{"secretName":"x"}} trailing"#), "ca")
            .unwrap_err();
        assert!(
            garbage.message.starts_with("spec.ca: Invalid value"),
            "{}",
            garbage.message
        );
        assert!(issuer_section::<Ca>(&config("[]"), "ca").is_err());
    }
}
