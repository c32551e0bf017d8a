//! Host-side bindings for `wit/` (`certwasm:issuer@0.1.0`), generated at
//! compile time from the same files the plugins are built against.
#![allow(missing_docs, missing_debug_implementations, clippy::all)]

wasmtime::component::bindgen!({
    path: "../wit",
    world: "issuer",
});

pub use self::certwasm::issuer::types;
