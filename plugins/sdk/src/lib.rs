//! The guest side of certwasm's `certwasm:issuer@0.1.0` contract: the
//! generated bindings, a certificate builder that signs through host key
//! handles, and small helpers for reading an issuer's configuration.
//!
//! A plugin is a `cdylib` built for `wasm32-wasip2` that implements
//! [`bindings::Guest`] and calls [`export!`]. See this crate's README.

pub mod config;
pub mod host;
pub mod x509;

/// Bindings generated from `wit/` for the `issuer` world.
#[allow(missing_docs, clippy::all, missing_debug_implementations)]
pub mod bindings {
    wit_bindgen::generate!({
        path: "../../wit",
        world: "issuer",
        pub_export_macro: true,
        export_macro_name: "export",
        default_bindings_module: "certwasm_plugin_sdk::bindings",
    });
}

pub use bindings::certwasm::issuer::types;
pub use bindings::export;

/// A plugin error the host will not retry: bad configuration, a request the
/// issuer refuses.
pub fn permanent(reason: &str, message: impl Into<String>) -> types::PluginError {
    types::PluginError {
        reason: reason.to_owned(),
        message: message.into(),
        retryable: false,
    }
}

/// A plugin error worth retrying later: a server that is down, a rate limit.
pub fn transient(reason: &str, message: impl Into<String>) -> types::PluginError {
    types::PluginError {
        reason: reason.to_owned(),
        message: message.into(),
        retryable: true,
    }
}
