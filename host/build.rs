//! Builds the bundled issuer plugins and embeds them in the `certwasm` binary.

#[path = "../build-support/guests.rs"]
mod guests;

use std::path::Path;

/// The plugins that serve cert-manager's built-in issuer types, in the order
/// `plugin::bundled` lists them.
const BUNDLED: &[(&str, &str)] = &[
    ("selfsigned", "certwasm-plugin-selfsigned"),
    ("ca", "certwasm-plugin-ca"),
    ("acme", "certwasm-plugin-acme"),
    ("vault", "certwasm-plugin-vault"),
    ("venafi", "certwasm-plugin-venafi"),
];

fn main() {
    let manifest_dir = std::env::var("CARGO_MANIFEST_DIR").expect("cargo sets CARGO_MANIFEST_DIR");
    let workspace = Path::new(&manifest_dir)
        .parent()
        .expect("host/ lives in the workspace");
    let packages: Vec<&str> = BUNDLED.iter().map(|(_, package)| *package).collect();
    let paths = guests::build_guests(workspace, &packages, &["plugins", "wit"]);
    for ((name, _), path) in BUNDLED.iter().zip(paths) {
        println!(
            "cargo:rustc-env=CERTWASM_BUNDLED_{}={}",
            name.to_uppercase(),
            path.display()
        );
    }
}
