//! The guest side of certwasm's `certwasm:issuer@0.1.0` contract.

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
pub use bindings::export;
