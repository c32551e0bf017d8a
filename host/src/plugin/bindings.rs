//! Host-side bindings for every version of the WIT contract the host loads,
//! generated at compile time by `bindgen!` from the same files the plugins
//! are built against. Nothing generated is committed, so nothing can go
//! stale: editing a `.wit` file changes these bindings on the next build.
//!
//! - [`v0_2`]: `certwasm:issuer@0.2.0` (`wit/issuer.wit`), the current
//!   contract. [`types`], [`Issuer`] and [`IssuerPre`] are its.
//! - [`v0_1`]: `certwasm:issuer@0.1.0` (`wit/0.1.0/issuer.wit`, frozen).
//!
//! Why 0.1.0 shares 0.2.0's Rust types: 0.2.0 only *added* to 0.1.0 (no
//! record, enum or signature changed; see the versioning policy at the top
//! of `wit/issuer.wit`), and the component model checks records and enums
//! by structure, not by name. So 0.1.0's `types` interface is bound to
//! 0.2.0's types with `with`, and a 0.1.0 plugin's exports take and return
//! the very values the host already uses; only its imports are linked under
//! their 0.1.0 names, by traits that `host_state` implements by calling the
//! 0.2.0 ones. A future version that does change a record must give that
//! version its own types and a conversion instead.
#![allow(missing_docs, missing_debug_implementations, clippy::all)]

/// `certwasm:issuer@0.2.0`, the current contract.
pub mod v0_2 {
    wasmtime::component::bindgen!({
        path: "../wit",
        world: "issuer",
    });
}

/// `certwasm:issuer@0.1.0`, frozen; loaded for plugins built against it.
pub mod v0_1 {
    wasmtime::component::bindgen!({
        path: "../wit/0.1.0",
        world: "issuer",
        with: {
            "certwasm:issuer/types": super::v0_2::certwasm::issuer::types,
        },
    });
}

pub use self::v0_2::certwasm::issuer::types;
pub use self::v0_2::{Issuer, IssuerPre};

/// The contract versions this host loads, newest first.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum WitVersion {
    V0_2,
    V0_1,
}

impl WitVersion {
    /// The package's semver, e.g. `0.2.0`.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::V0_2 => "0.2.0",
            Self::V0_1 => "0.1.0",
        }
    }

    /// The version named by a `certwasm:issuer/...@<version>` import, if the
    /// host knows it.
    pub fn parse(version: &str) -> Option<Self> {
        match version {
            "0.2.0" => Some(Self::V0_2),
            "0.1.0" => Some(Self::V0_1),
            _ => None,
        }
    }
}

impl std::fmt::Display for WitVersion {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "certwasm:issuer@{}", self.as_str())
    }
}
