//! Host-side bindings for every version of the WIT contract the host loads,
//! generated at compile time by `bindgen!` from the same files the plugins
//! are built against. Nothing generated is committed, so nothing can go
//! stale: editing a `.wit` file changes these bindings on the next build.
//!
//! - [`v0_4`]: `certwasm:issuer@0.4.0` (`wit/issuer.wit`), the current
//!   contract. [`types`], [`orders`], [`Issuer`] and [`IssuerPre`] are its.
//! - [`v0_3`]: `certwasm:issuer@0.3.0` (`wit/0.3.0/issuer.wit`, frozen).
//! - [`v0_2`]: `certwasm:issuer@0.2.0` (`wit/0.2.0/issuer.wit`, frozen).
//! - [`v0_1`]: `certwasm:issuer@0.1.0` (`wit/0.1.0/issuer.wit`, frozen).
//!
//! 0.4.0 changed records (see the versioning policy at the top of
//! `wit/issuer.wit`), so 0.3.0 has Rust types of its own, converted to and
//! from the current ones in `legacy`. 0.1.0 and 0.2.0 only ever added to
//! one another and to 0.3.0, and the component model checks records and
//! enums by structure, not by name, so their `types` interface is bound to
//! 0.3.0's types with `with`: an older plugin's values are 0.3.0 values,
//! and one conversion serves all three.
#![allow(missing_docs, missing_debug_implementations, clippy::all)]

/// `certwasm:issuer@0.4.0`, the current contract.
pub mod v0_4 {
    wasmtime::component::bindgen!({
        path: "../wit",
        world: "issuer",
    });
}

/// `certwasm:issuer@0.3.0`, frozen; loaded for plugins built against it.
pub mod v0_3 {
    wasmtime::component::bindgen!({
        path: "../wit/0.3.0",
        world: "issuer",
    });
}

/// `certwasm:issuer@0.2.0`, frozen; loaded for plugins built against it.
pub mod v0_2 {
    wasmtime::component::bindgen!({
        path: "../wit/0.2.0",
        world: "issuer",
        with: {
            "certwasm:issuer/types": super::v0_3::certwasm::issuer::types,
        },
    });
}

/// `certwasm:issuer@0.1.0`, frozen; loaded for plugins built against it.
pub mod v0_1 {
    wasmtime::component::bindgen!({
        path: "../wit/0.1.0",
        world: "issuer",
        with: {
            "certwasm:issuer/types": super::v0_3::certwasm::issuer::types,
        },
    });
}

pub use self::v0_4::certwasm::issuer::issuer_status::AcmeAccount;
pub use self::v0_4::certwasm::issuer::{orders, types};
pub use self::v0_4::{Issuer, IssuerPre};

/// The contract versions this host loads, newest first.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum WitVersion {
    V0_4,
    V0_3,
    V0_2,
    V0_1,
}

impl WitVersion {
    /// Every version the host loads, newest first (for messages that list
    /// them).
    pub const ALL: [Self; 4] = [Self::V0_4, Self::V0_3, Self::V0_2, Self::V0_1];

    /// The current contract, the one the SDK and bundled plugins use.
    pub const CURRENT: Self = Self::V0_4;

    /// The package's semver, e.g. `0.3.0`.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::V0_4 => "0.4.0",
            Self::V0_3 => "0.3.0",
            Self::V0_2 => "0.2.0",
            Self::V0_1 => "0.1.0",
        }
    }

    /// The version named by a `certwasm:issuer/...@<version>` import, if the
    /// host knows it.
    pub fn parse(version: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|v| v.as_str() == version)
    }

    /// The versions the host loads, as a message lists them: `0.4.0, 0.3.0,
    /// 0.2.0 and 0.1.0`.
    pub fn list() -> String {
        let names: Vec<&str> = Self::ALL.iter().map(|v| v.as_str()).collect();
        match names.split_last() {
            Some((last, rest)) if !rest.is_empty() => format!("{} and {last}", rest.join(", ")),
            _ => names.concat(),
        }
    }
}

impl std::fmt::Display for WitVersion {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "certwasm:issuer@{}", self.as_str())
    }
}
