//! Which plugin serves an issuer: a pure function of the Issuer's spec.

use serde_json::Value;

/// The issuer types cert-manager defines, with the bundled plugin that
/// serves each.
pub const BUILT_IN_TYPES: &[(&str, &str)] = &[
    ("selfSigned", "selfsigned"),
    ("ca", "ca"),
    ("acme", "acme"),
    ("vault", "vault"),
    ("venafi", "venafi"),
];

/// The plugin an issuer spec asks for.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum PluginChoice {
    /// A cert-manager issuer type, served by the bundled plugin `plugin`.
    BuiltIn {
        issuer_type: &'static str,
        plugin: &'static str,
    },
    /// `spec.plugin.name`: a third-party plugin from the plugin bundle.
    ThirdParty { name: String },
}

impl PluginChoice {
    /// The plugin's name in the registry.
    pub fn plugin_name(&self) -> &str {
        match self {
            Self::BuiltIn { plugin, .. } => plugin,
            Self::ThirdParty { name } => name,
        }
    }
}

/// Why a spec names no usable plugin, worded as the API server's field errors.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum SelectionError {
    #[error(
        "spec: Required value: at least one issuer type must be set (selfSigned, ca, acme, vault, venafi or plugin)"
    )]
    NoType,
    #[error("spec: Forbidden: may not specify more than one issuer type (found {0})")]
    SeveralTypes(String),
    #[error("spec.plugin.name: Required value: the name of the plugin to use")]
    NoPluginName,
}

/// Picks the plugin for an Issuer or ClusterIssuer `spec`.
pub fn select_plugin(spec: &Value) -> Result<PluginChoice, SelectionError> {
    let mut found: Vec<PluginChoice> = BUILT_IN_TYPES
        .iter()
        .filter(|(field, _)| spec.get(field).is_some_and(|v| !v.is_null()))
        .map(|(issuer_type, plugin)| PluginChoice::BuiltIn {
            issuer_type,
            plugin,
        })
        .collect();
    if let Some(plugin) = spec.get("plugin").filter(|v| !v.is_null()) {
        let name = plugin
            .get("name")
            .and_then(Value::as_str)
            .filter(|n| !n.is_empty())
            .ok_or(SelectionError::NoPluginName)?;
        found.push(PluginChoice::ThirdParty {
            name: name.to_owned(),
        });
    }
    match found.len() {
        0 => Err(SelectionError::NoType),
        1 => Ok(found.remove(0)),
        _ => Err(SelectionError::SeveralTypes(
            found
                .iter()
                .map(|choice| match choice {
                    PluginChoice::BuiltIn { issuer_type, .. } => (*issuer_type).to_owned(),
                    PluginChoice::ThirdParty { .. } => "plugin".to_owned(),
                })
                .collect::<Vec<_>>()
                .join(", "),
        )),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn picks_the_one_type() {
        assert_eq!(
            select_plugin(&json!({"selfSigned": {}}))
                .unwrap()
                .plugin_name(),
            "selfsigned"
        );
        assert_eq!(
            select_plugin(&json!({"ca": {"secretName": "x"}}))
                .unwrap()
                .plugin_name(),
            "ca"
        );
        assert_eq!(
            select_plugin(&json!({"plugin": {"name": "acme-corp-pki", "config": {}}})).unwrap(),
            PluginChoice::ThirdParty {
                name: "acme-corp-pki".into()
            }
        );
    }

    #[test]
    fn refuses_zero_or_several() {
        assert_eq!(select_plugin(&json!({})), Err(SelectionError::NoType));
        assert_eq!(
            select_plugin(&json!({"ca": {}, "selfSigned": {}})),
            Err(SelectionError::SeveralTypes("selfSigned, ca".into()))
        );
        assert_eq!(
            select_plugin(&json!({"plugin": {}})),
            Err(SelectionError::NoPluginName)
        );
    }
}
