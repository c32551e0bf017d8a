//! Builds the hostile plugin the sandbox tests run, and the plugins built
//! against the frozen 0.1.0, 0.2.0 and 0.3.0 contracts that the version
//! tests load, the third-party CFSSL plugin of `examples/plugins/cfssl`, and
//! the deliberately faulty plugin the conformance tests run.

#[path = "../build-support/guests.rs"]
mod guests;

use std::path::Path;

fn main() {
    let manifest_dir = std::env::var("CARGO_MANIFEST_DIR").expect("cargo sets CARGO_MANIFEST_DIR");
    let workspace = Path::new(&manifest_dir)
        .parent()
        .expect("tests/ lives in the workspace");
    let paths = guests::build_guests(
        workspace,
        &[
            "certwasm-hostile-plugin",
            "certwasm-legacy-plugin",
            "certwasm-legacy-0-2-plugin",
            "certwasm-legacy-0-3-plugin",
            "certwasm-plugin-cfssl",
            "certwasm-broken-plugin",
        ],
        &["tests/plugins", "plugins/sdk", "wit", "examples/plugins"],
    );
    println!(
        "cargo:rustc-env=CERTWASM_HOSTILE_PLUGIN={}",
        paths[0].display()
    );
    // Built against the frozen certwasm:issuer@0.1.0 contract.
    println!(
        "cargo:rustc-env=CERTWASM_LEGACY_PLUGIN={}",
        paths[1].display()
    );
    // Built against the frozen certwasm:issuer@0.2.0 contract.
    println!(
        "cargo:rustc-env=CERTWASM_LEGACY_0_2_PLUGIN={}",
        paths[2].display()
    );
    // Built against the frozen certwasm:issuer@0.3.0 contract.
    println!(
        "cargo:rustc-env=CERTWASM_LEGACY_0_3_PLUGIN={}",
        paths[3].display()
    );
    // A plugin that is not bundled, loaded from its file as a user's would be.
    println!(
        "cargo:rustc-env=CERTWASM_CFSSL_PLUGIN={}",
        paths[4].display()
    );
    // Faulty on purpose: the conformance battery must catch each fault.
    println!(
        "cargo:rustc-env=CERTWASM_BROKEN_PLUGIN={}",
        paths[5].display()
    );
}
