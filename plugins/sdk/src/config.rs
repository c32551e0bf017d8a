//! Reading the issuer's `spec` (JSON) into the plugin's own config type.

use serde::de::DeserializeOwned;

use crate::types::{IssuerConfig, PluginError};

/// Deserialises `spec.<field>` of the issuer into `T`; a missing field or a
/// shape that does not fit is a permanent `InvalidConfig` error naming it.
pub fn issuer_section<T: DeserializeOwned>(config: &IssuerConfig, field: &str) -> Result<T, PluginError> {
    let spec: serde_json::Value = serde_json::from_str(&config.spec_json)
        .map_err(|e| crate::permanent("InvalidConfig", format!("spec is not valid JSON: {e}")))?;
    let section = spec
        .get(field)
        .cloned()
        .ok_or_else(|| crate::permanent("InvalidConfig", format!("spec.{field}: Required value")))?;
    serde_json::from_value(section)
        .map_err(|e| crate::permanent("InvalidConfig", format!("spec.{field}: Invalid value: {e}")))
}
