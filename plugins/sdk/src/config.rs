//! Reading the issuer's `spec` (JSON) into the plugin's own config type.
//!
//! The host passes the Issuer's whole `spec` exactly as the user wrote it;
//! a plugin reads the one field it serves (`ca`, `selfSigned`, `plugin`...)
//! and ignores the rest. [`issuer_section`] does that in one pass over the
//! JSON, without building a `serde_json::Value` tree first.

use std::fmt;
use std::marker::PhantomData;

use serde::Deserializer;
use serde::de::{DeserializeOwned, DeserializeSeed, IgnoredAny, MapAccess, Visitor};

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
    issuer_config_at(config, &[field])
}

/// Deserialises the value at `spec.<path...>` of the issuer into `T`: e.g.
/// `&["plugin", "config"]` for a third-party plugin's own settings, which is
/// where the typed [`Issuer`](crate::Issuer) reads them by default.
///
/// Errors as [`issuer_section`], naming the path down to the first field
/// that is missing (`spec.plugin: Required value`,
/// `spec.plugin.config: Required value`) or to the value that does not
/// fit; an empty `path` reads the whole spec.
pub fn issuer_config_at<T: DeserializeOwned>(
    config: &IssuerConfig,
    path: &[&str],
) -> Result<T, PluginError> {
    let named = |depth: usize| {
        std::iter::once("spec")
            .chain(path.iter().take(depth).copied())
            .collect::<Vec<_>>()
            .join(".")
    };
    let mut deserializer = serde_json::Deserializer::from_str(&config.spec_json);
    let section = PathSeed::<T> {
        path,
        depth: 0,
        marker: PhantomData,
    }
    .deserialize(&mut deserializer)
    .and_then(|section| deserializer.end().map(|()| section));
    match section {
        Ok(Lookup::Found(section)) => Ok(section),
        Ok(Lookup::Missing(depth)) => Err(crate::failed(
            INVALID_CONFIG,
            format!("{}: Required value", named(depth + 1)),
        )),
        Err(e) => Err(crate::failed(
            INVALID_CONFIG,
            format!("{}: Invalid value: {e}", named(path.len())),
        )),
    }
}

/// What a walk down the path found.
enum Lookup<T> {
    Found(T),
    /// The field at this index of the path is missing (or null).
    Missing(usize),
}

/// Deserialises the value at `path` below the current one, which is at
/// index `depth` of the whole path.
struct PathSeed<'p, T> {
    path: &'p [&'p str],
    depth: usize,
    marker: PhantomData<T>,
}

impl<'de, T: DeserializeOwned> DeserializeSeed<'de> for PathSeed<'_, T> {
    type Value = Lookup<T>;

    fn deserialize<D: Deserializer<'de>>(self, deserializer: D) -> Result<Self::Value, D::Error> {
        match self.path.split_first() {
            None => T::deserialize(deserializer).map(Lookup::Found),
            Some((field, rest)) => deserializer.deserialize_any(SectionVisitor::<T> {
                field,
                rest,
                depth: self.depth,
                marker: PhantomData,
            }),
        }
    }
}

struct SectionVisitor<'f, T> {
    field: &'f str,
    rest: &'f [&'f str],
    depth: usize,
    marker: PhantomData<T>,
}

impl<'de, T: DeserializeOwned> Visitor<'de> for SectionVisitor<'_, T> {
    type Value = Lookup<T>;

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "an object with field {:?}", self.field)
    }

    fn visit_unit<E: serde::de::Error>(self) -> Result<Self::Value, E> {
        // A null parent (`plugin: null`) is as good as a missing one.
        Ok(Lookup::Missing(self.depth.saturating_sub(1)))
    }

    fn visit_none<E: serde::de::Error>(self) -> Result<Self::Value, E> {
        self.visit_unit()
    }

    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Self::Value, A::Error> {
        let mut found = None;
        while let Some(key) = map.next_key::<std::borrow::Cow<'de, str>>()? {
            if key == self.field && found.is_none() {
                found = Some(map.next_value_seed(PathSeed::<T> {
                    path: self.rest,
                    depth: self.depth + 1,
                    marker: PhantomData,
                })?);
            } else {
                map.next_value::<IgnoredAny>()?;
            }
        }
        Ok(found.unwrap_or(Lookup::Missing(self.depth)))
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

    #[test]
    fn a_nested_path_is_read_and_named_in_errors() {
        #[derive(Debug, PartialEq, serde::Deserialize)]
        #[serde(rename_all = "camelCase")]
        struct Mine {
            url: String,
        }
        let spec = r#"{"plugin":{"name":"mine","config":{"url":"https://x"}},"ca":{}}"#;
        let mine: Mine = issuer_config_at(&config(spec), &["plugin", "config"]).unwrap();
        assert_eq!(mine.url, "https://x");
        for (spec, expected) in [
            (
                r#"{"plugin":{"name":"mine"}}"#,
                "spec.plugin.config: Required value",
            ),
            (r#"{"plugin":null}"#, "spec.plugin: Required value"),
            (r#"{"ca":{}}"#, "spec.plugin: Required value"),
        ] {
            let missing =
                issuer_config_at::<Mine>(&config(spec), &["plugin", "config"]).unwrap_err();
            assert_eq!(missing.message, expected, "{spec}");
        }
        let wrong = issuer_config_at::<Mine>(
            &config(r#"{"plugin":{"config":{"url":1}}}"#),
            &["plugin", "config"],
        )
        .unwrap_err();
        assert_eq!(wrong.reason, INVALID_CONFIG);
        assert!(
            wrong
                .message
                .starts_with("spec.plugin.config: Invalid value: invalid type: integer `1`"),
            "{}",
            wrong.message
        );
        let not_an_object =
            issuer_config_at::<Mine>(&config(r#"{"plugin":7}"#), &["plugin", "config"])
                .unwrap_err();
        assert!(
            not_an_object
                .message
                .starts_with("spec.plugin.config: Invalid value"),
            "{}",
            not_an_object.message
        );
    }
}
