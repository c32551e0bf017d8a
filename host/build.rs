//! Builds the bundled issuer plugins and embeds them in the `certwasm` binary,
//! and lists the plugin project templates (`templates/plugin/<lang>/`) that
//! `certwasm plugin new` writes out.

#[path = "../build-support/guests.rs"]
mod guests;

use std::path::{Path, PathBuf};

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
    embed_templates(&workspace.join("templates").join("plugin"));
}

/// Writes `$OUT_DIR/templates.rs`: one `(lang, relative path, contents)`
/// entry per template file, each an `include_str!`, so the binary carries
/// the templates and cargo rebuilds when one changes.
fn embed_templates(root: &Path) {
    println!("cargo:rerun-if-changed={}", root.display());
    let mut entries = Vec::new();
    if let Ok(langs) = std::fs::read_dir(root) {
        for lang in langs.flatten() {
            let lang_dir = lang.path();
            if !lang_dir.is_dir() {
                continue;
            }
            let lang_name = lang.file_name().to_string_lossy().into_owned();
            let mut files = Vec::new();
            collect_files(&lang_dir, &mut files);
            for file in files {
                println!("cargo:rerun-if-changed={}", file.display());
                let relative = file
                    .strip_prefix(&lang_dir)
                    .expect("collected under the language directory")
                    .to_string_lossy()
                    .replace('\\', "/");
                entries.push((lang_name.clone(), relative, file));
            }
        }
    }
    entries.sort();
    let mut code = String::from("&[\n");
    for (lang, relative, file) in entries {
        code.push_str(&format!(
            "    ({lang:?}, {relative:?}, include_str!({:?})),\n",
            file.display().to_string()
        ));
    }
    code.push(']');
    let out = PathBuf::from(std::env::var("OUT_DIR").expect("cargo sets OUT_DIR"));
    std::fs::write(out.join("templates.rs"), code).expect("writing templates.rs");
}

/// Every file under `dir`, recursively, skipping what a local build of a
/// template leaves behind.
fn collect_files(dir: &Path, out: &mut Vec<PathBuf>) {
    let Ok(entries) = std::fs::read_dir(dir) else {
        return;
    };
    for entry in entries.flatten() {
        let path = entry.path();
        let name = entry.file_name();
        if matches!(
            name.to_str(),
            Some("target" | "node_modules" | "__pycache__" | "wit")
        ) {
            continue;
        }
        if path.is_dir() {
            collect_files(&path, out);
        } else if path.extension().is_some_and(|ext| ext == "wasm") {
            continue;
        } else {
            out.push(path);
        }
    }
}
