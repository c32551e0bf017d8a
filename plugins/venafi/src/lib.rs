//! certwasm's `venafi` issuer: CSRs signed through Venafi Trust Protection
//! Platform (TPP) or Venafi Cloud (`spec.venafi`), as cert-manager's Venafi
//! issuer does through vcert, with its reasons and messages.
//!
//! - [`config`]: `spec.venafi`, the connector and its URLs, custom fields.
//! - [`tpp`] and [`cloud`]: the wire format of each API (pure).
//! - [`state`]: the pickup ID kept between calls; [`chain`]: the returned
//!   chain split into `tls.crt` and `ca.crt`.
//! - [`flow`]: the order of calls and cert-manager's conditions, written
//!   against [`flow::VenafiHost`] so that it runs natively in tests.
//!
//! This file is only the WASM shell: the imports as a [`flow::VenafiHost`],
//! and the exports calling [`flow`].

pub mod chain;
pub mod cloud;
pub mod config;
pub mod flow;
pub mod state;
pub mod tpp;

use certwasm_plugin_sdk::bindings::Guest;
use certwasm_plugin_sdk::bindings::certwasm::issuer::{cache, clock, http, log, secrets};
use certwasm_plugin_sdk::types::{
    CertificateRequest, HttpRequest, HttpResponse, IssueOutcome, IssuerConfig, PluginError,
    PluginInfo, Readiness, Secret,
};

/// The imports.
struct Imports;

impl flow::VenafiHost for Imports {
    fn secret(&self, name: &str) -> Result<Option<Secret>, String> {
        secrets::get(name).map_err(|e| e.message().to_owned())
    }

    fn send(&self, request: HttpRequest) -> Result<HttpResponse, String> {
        http::send(&request).map_err(|e| e.message().to_owned())
    }

    fn now_unix(&self) -> i64 {
        clock::now_unix_seconds()
    }

    fn warn(&self, message: &str) {
        log::write(log::Level::Warn, message);
    }

    fn cache_get(&self, key: &str) -> Option<Vec<u8>> {
        cache::get(key)
    }

    fn cache_set(&self, key: &str, value: &[u8], ttl_seconds: u32) -> Result<(), String> {
        cache::set(key, value, ttl_seconds).map_err(|e| e.message().to_owned())
    }

    fn cache_remove(&self, key: &str) {
        cache::remove(key);
    }
}

struct Venafi;

impl Guest for Venafi {
    fn info() -> PluginInfo {
        PluginInfo {
            name: "venafi".into(),
            version: env!("CARGO_PKG_VERSION").into(),
            issuer_types: vec!["venafi".into()],
            description: "Certificates from Venafi Trust Protection Platform or Venafi Cloud (cert-manager's Venafi issuer).".into(),
            needs: Vec::new(),
        }
    }

    fn validate(config: IssuerConfig) -> Result<Readiness, PluginError> {
        flow::validate(&config, &Imports)
    }

    fn issue(
        request: CertificateRequest,
        state: Option<Vec<u8>>,
    ) -> Result<IssueOutcome, PluginError> {
        flow::issue(&request, state.as_deref(), &Imports)
    }
}

certwasm_plugin_sdk::export!(Venafi);

#[cfg(test)]
mod tests;
