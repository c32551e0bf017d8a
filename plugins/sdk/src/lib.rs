//! The guest side of certwasm's `certwasm:issuer@0.3.0` contract, for
//! writing an issuer plugin in Rust. (The host also loads plugins built
//! against 0.2.0 and 0.1.0; see the versioning policy in `wit/issuer.wit`.)
//!
//! A plugin is a `cdylib` built for `wasm32-wasip2` that implements
//! [`bindings::Guest`] and calls [`export!`]. This crate gives it:
//!
//! - [`bindings`]: the WIT world, generated here once so that every plugin
//!   agrees on it; [`types`] re-exports the records (`CertificateRequest`,
//!   `PluginError`, ...), with a few helpers ([`types::Secret::field`],
//!   [`types::CertificateRequest::annotation`]). The imports are under
//!   `bindings::certwasm::issuer`, among them (new in 0.3.0)
//!   `issuer_status::report_acme_account`, which an ACME-style `validate`
//!   calls so that the host fills the issuer's `status.acme`.
//! - [`x509`]: certificates from CSRs the way cert-manager's signers make
//!   them. Its core is pure (no host calls; time, serial and signer are
//!   arguments), so it is unit-tested natively and the host benchmarks the
//!   exact code the plugin runs.
//! - [`host::HostKey`]: a private key the host keeps, used through the
//!   `signer` import; it implements [`x509::Signer`].
//! - [`config::issuer_section`]: the issuer's `spec.<field>` as your serde type.
//! - [`failed`] / [`pending`] and [`ResultExt`]: plugin errors worded as
//!   cert-manager words them, which the host must not / may retry.
//!
//! - `testing` (feature `testing`): openssl-made keys and CSRs that
//!   implement [`x509::Signer`], for native tests of a plugin's logic.
//!
//! See the crate's README for a complete plugin in twenty lines.

pub mod calendar;
pub mod config;
mod error;
pub mod host;
#[cfg(any(test, feature = "testing"))]
pub mod testing;
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

/// The README's example plugin, compiled as a doctest so it cannot rot.
#[cfg(doctest)]
#[doc = include_str!("../README.md")]
mod readme {}

pub use bindings::certwasm::issuer::types;
pub use bindings::export;
pub use error::{ResultExt, failed, pending};

/// The CertificateRequest annotation naming the Secret that holds the
/// request's private key (set by the host for requests it makes from a
/// Certificate).
pub const PRIVATE_KEY_SECRET_ANNOTATION: &str = "cert-manager.io/private-key-secret-name";

impl types::CertificateRequest {
    /// The value of annotation `key`, if set.
    pub fn annotation(&self, key: &str) -> Option<&str> {
        self.annotations
            .iter()
            .find(|(name, _)| name == key)
            .map(|(_, value)| value.as_str())
    }
}

impl types::Secret {
    /// The value of data key `key` (e.g. `tls.crt`), if present.
    pub fn field(&self, key: &str) -> Option<&[u8]> {
        self.data
            .iter()
            .find(|(name, _)| name == key)
            .map(|(_, value)| value.as_slice())
    }
}
