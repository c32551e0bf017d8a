//! Builds WebAssembly guest crates of this workspace from a build script.
//!
//! The host bundles its issuer plugins and the test suite runs hostile ones;
//! both are ordinary crates of this workspace that only make sense for
//! `wasm32-wasip2`. Cargo cannot (on stable) build one package of a workspace
//! for another target as a dependency, so a build script runs a nested
//! `cargo build` for them into a target directory of its own, which keeps the
//! outer build's lock free. Shared by `host/build.rs` and `tests/build.rs`
//! through `#[path]`, since build scripts cannot depend on workspace crates
//! without publishing a build-dependency crate for twenty lines.

use std::path::{Path, PathBuf};
use std::process::Command;

/// The target the guests are built for.
pub const GUEST_TARGET: &str = "wasm32-wasip2";
/// The cargo profile (see the workspace `Cargo.toml`) guests are built with.
pub const GUEST_PROFILE: &str = "plugin";

/// Builds `packages` (cargo package names, each a `cdylib`) for
/// `wasm32-wasip2` and returns the path of each `.wasm` component, in order.
///
/// Reruns are driven by `cargo:rerun-if-changed` on `watch` paths.
pub fn build_guests(workspace: &Path, packages: &[&str], watch: &[&str]) -> Vec<PathBuf> {
    for path in watch {
        println!("cargo:rerun-if-changed={}", workspace.join(path).display());
    }
    println!(
        "cargo:rerun-if-changed={}",
        workspace.join("Cargo.lock").display()
    );
    println!("cargo:rerun-if-env-changed=CERTWASM_GUEST_TARGET_DIR");

    let target_dir = std::env::var_os("CERTWASM_GUEST_TARGET_DIR")
        .map(PathBuf::from)
        .unwrap_or_else(|| workspace.join("target").join("guests"));
    let cargo = std::env::var_os("CARGO").unwrap_or_else(|| "cargo".into());
    let mut command = Command::new(cargo);
    command
        .current_dir(workspace)
        .args([
            "build",
            "--quiet",
            "--target",
            GUEST_TARGET,
            "--profile",
            GUEST_PROFILE,
        ])
        .arg("--target-dir")
        .arg(&target_dir);
    for package in packages {
        command.args(["-p", package]);
    }
    // The outer build's settings are for the host, not for the guests; clippy's
    // wrapper in particular would lint the guests once more per host crate.
    for var in [
        "RUSTC_WRAPPER",
        "RUSTC_WORKSPACE_WRAPPER",
        "CARGO_ENCODED_RUSTFLAGS",
        "RUSTFLAGS",
        "CARGO_TARGET_DIR",
        "CARGO_BUILD_TARGET",
        "CARGO_PRIMARY_PACKAGE",
        "CARGO_MAKEFLAGS",
    ] {
        command.env_remove(var);
    }
    let status = command.status().unwrap_or_else(|err| {
        panic!("could not run cargo to build the WebAssembly plugins: {err}")
    });
    if !status.success() {
        panic!(
            "building the WebAssembly plugins failed (see above). They are built for the {GUEST_TARGET} \
             target; if it is missing: `rustup target add {GUEST_TARGET}`"
        );
    }
    packages
        .iter()
        .map(|package| {
            let file = format!("{}.wasm", package.replace('-', "_"));
            let path = target_dir.join(GUEST_TARGET).join(GUEST_PROFILE).join(file);
            assert!(
                path.exists(),
                "cargo built {package} but {} is missing",
                path.display()
            );
            path
        })
        .collect()
}
