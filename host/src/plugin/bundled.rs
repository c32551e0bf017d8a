//! The plugins built from this workspace and embedded in the binary.

use super::error::PluginError;

/// A plugin that ships inside `certwasm`.
#[derive(Debug, Clone, Copy)]
pub struct BundledPlugin {
    /// The name `--plugin` and the registry know it by.
    pub name: &'static str,
    /// The Issuer spec field it serves (`selfSigned`, `ca`, ...).
    pub issuer_type: &'static str,
    /// The component bytes.
    pub wasm: &'static [u8],
}

/// Every bundled plugin. `host/build.rs` compiles them for `wasm32-wasip2`.
pub const BUNDLED: &[BundledPlugin] = &[
    BundledPlugin {
        name: "selfsigned",
        issuer_type: "selfSigned",
        wasm: include_bytes!(env!("CERTWASM_BUNDLED_SELFSIGNED")),
    },
    BundledPlugin {
        name: "ca",
        issuer_type: "ca",
        wasm: include_bytes!(env!("CERTWASM_BUNDLED_CA")),
    },
    BundledPlugin {
        name: "acme",
        issuer_type: "acme",
        wasm: include_bytes!(env!("CERTWASM_BUNDLED_ACME")),
    },
    BundledPlugin {
        name: "vault",
        issuer_type: "vault",
        wasm: include_bytes!(env!("CERTWASM_BUNDLED_VAULT")),
    },
    BundledPlugin {
        name: "venafi",
        issuer_type: "venafi",
        wasm: include_bytes!(env!("CERTWASM_BUNDLED_VENAFI")),
    },
];

/// Looks a bundled plugin up by name.
pub fn bundled_plugin(name: &str) -> Result<&'static BundledPlugin, PluginError> {
    BUNDLED
        .iter()
        .find(|plugin| plugin.name == name)
        .ok_or_else(|| PluginError::UnknownBundled(name.to_owned()))
}
