//! A certwasm issuer plugin that is not bundled with certwasm: CSRs signed
//! by CloudFlare's CFSSL API server (`cfssl serve`), selected by an Issuer's
//! `spec.plugin: {name: cfssl, config: {...}}`.
//!
//! The protocol lives in pure modules, unit-tested natively: [`config`]
//! (`spec.plugin.config`), [`protocol`] (CFSSL's endpoints and response
//! envelope), [`auth`] (the HMAC token of `authsign`), [`names`] (the CSR's
//! SANs as `hosts`, the CA's subject) and [`issuer`] (the flow, against a
//! host trait). This file only binds that flow to the WIT imports and
//! exports, so it is all that changes with the contract.

pub mod auth;
pub mod config;
pub mod issuer;
pub mod names;
pub mod protocol;

use certwasm_plugin_sdk::bindings::Guest;
use certwasm_plugin_sdk::bindings::certwasm::issuer::{cache, http, log, secrets};
use certwasm_plugin_sdk::types::{
    CertificateRequest, HttpRequest, HttpResponse, IssueOutcome, IssuerConfig, PluginError,
    PluginInfo, Readiness, Secret,
};

/// The imports, as [`issuer::CfsslHost`].
struct Imports;

impl issuer::CfsslHost for Imports {
    fn secret(&self, name: &str) -> Result<Option<Secret>, String> {
        secrets::get(name).map_err(|e| e.message().to_owned())
    }

    fn send(&self, request: HttpRequest) -> Result<HttpResponse, String> {
        http::send(&request).map_err(|e| e.message().to_owned())
    }

    fn cache_get(&self, key: &str) -> Option<Vec<u8>> {
        cache::get(key)
    }

    fn cache_set(&self, key: &str, value: &[u8], ttl_seconds: u32) -> Result<(), String> {
        cache::set(key, value, ttl_seconds).map_err(|e| e.message().to_owned())
    }

    fn warn(&self, message: &str) {
        log::write(log::Level::Warn, message);
    }
}

struct Cfssl;

impl Guest for Cfssl {
    fn info() -> PluginInfo {
        PluginInfo {
            name: "cfssl".into(),
            version: env!("CARGO_PKG_VERSION").into(),
            issuer_types: vec!["plugin".into()],
            description: "Certificates signed by a CloudFlare CFSSL API server (sign, or authsign with an HMAC key).".into(),
            needs: Vec::new(),
        }
    }

    fn validate(config: IssuerConfig) -> Result<Readiness, PluginError> {
        issuer::validate(&config, &Imports)
    }

    fn issue(
        request: CertificateRequest,
        _state: Option<Vec<u8>>,
    ) -> Result<IssueOutcome, PluginError> {
        issuer::issue(&request, &Imports).map(IssueOutcome::Issued)
    }
}

certwasm_plugin_sdk::export!(Cfssl);
