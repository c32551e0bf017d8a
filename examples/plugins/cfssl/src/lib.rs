//! A certwasm issuer plugin that is not bundled with certwasm: CSRs signed
//! by CloudFlare's CFSSL API server (`cfssl serve`), selected by an Issuer's
//! `spec.plugin: {name: cfssl, config: {...}}`.
//!
//! The protocol lives in pure modules, unit-tested natively: [`config`]
//! (`spec.plugin.config`), [`protocol`] (CFSSL's endpoints and response
//! envelope), [`auth`] (the HMAC token of `authsign`) and [`issuer`] (the
//! flow, against a host trait; the CSR's names and the CA's subject come
//! from the SDK's `x509`). This file only binds that flow to the imports and
//! to the SDK's typed [`Issuer`], which reads `spec.plugin.config` for it.

pub mod auth;
pub mod config;
pub mod issuer;
pub mod protocol;

use certwasm_plugin_sdk::bindings::certwasm::issuer::{cache, http, log, secrets};
use certwasm_plugin_sdk::types::{
    CertificateRequest, HttpRequest, HttpResponse, IssuerConfig, PluginError, Readiness, Secret,
};
use certwasm_plugin_sdk::{Issuer, Outcome};

use crate::config::CfsslConfig;

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

/// The plugin, on the SDK's typed [`Issuer`].
#[derive(Debug)]
pub struct Cfssl;

impl Issuer for Cfssl {
    type Config = CfsslConfig;
    type State = ();
    const NAME: &'static str = "cfssl";
    const VERSION: &'static str = env!("CARGO_PKG_VERSION");
    const DESCRIPTION: &'static str = "Certificates signed by a CloudFlare CFSSL API server (sign, or authsign with an HMAC key).";

    fn validate(config: &CfsslConfig, issuer: &IssuerConfig) -> Result<Readiness, PluginError> {
        issuer::validate(config, issuer, &Imports)
    }

    fn issue(
        config: &CfsslConfig,
        request: &CertificateRequest,
        _state: Option<()>,
    ) -> Result<Outcome<()>, PluginError> {
        issuer::issue(config, request, &Imports).map(Outcome::from)
    }
}

certwasm_plugin_sdk::export_issuer!(Cfssl);
