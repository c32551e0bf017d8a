//! Placeholder: replaced by the real ca plugin.
use certwasm_plugin_sdk::bindings::certwasm::issuer::types::*;
use certwasm_plugin_sdk::bindings::Guest;

struct Plugin;

impl Guest for Plugin {
    fn info() -> PluginInfo {
        PluginInfo { name: "ca".into(), version: env!("CARGO_PKG_VERSION").into(), issuer_types: vec!["ca".into()], description: "placeholder".into() }
    }
    fn validate(_config: IssuerConfig) -> Result<Readiness, PluginError> {
        Err(PluginError { reason: "NotImplemented".into(), message: "placeholder".into(), retryable: false })
    }
    fn issue(_request: CertificateRequest, _state: Option<Vec<u8>>) -> Result<IssueOutcome, PluginError> {
        Err(PluginError { reason: "NotImplemented".into(), message: "placeholder".into(), retryable: false })
    }
}

certwasm_plugin_sdk::export!(Plugin);
