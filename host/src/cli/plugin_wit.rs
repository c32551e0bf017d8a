//! `certwasm plugin wit`: the contract this binary implements, written out.
//!
//! An author in any language builds against `wit/issuer.wit`; the binary
//! carries the very file it was built from, so the contract an author gets
//! is the one the host they test against loads.

use std::path::{Path, PathBuf};

use anyhow::{Context, Result};
use clap::Args;

/// The current contract, `certwasm:issuer@<current>`, as the host was built
/// with it.
pub const ISSUER_WIT: &str = include_str!("../../../wit/issuer.wit");

#[derive(Debug, Args)]
pub struct WitArgs {
    /// A directory to write `issuer.wit` into (created if missing); without
    /// it, the contract goes to stdout.
    #[arg(long)]
    pub out: Option<PathBuf>,
}

pub fn run(args: WitArgs) -> Result<i32> {
    match args.out {
        Some(dir) => {
            let path = write_wit(&dir)?;
            println!("{}", path.display());
        }
        None => print!("{ISSUER_WIT}"),
    }
    Ok(0)
}

/// Writes the contract as `dir/issuer.wit`; returns the file's path.
pub fn write_wit(dir: &Path) -> Result<PathBuf> {
    std::fs::create_dir_all(dir).with_context(|| format!("creating {}", dir.display()))?;
    let path = dir.join("issuer.wit");
    std::fs::write(&path, ISSUER_WIT).with_context(|| format!("writing {}", path.display()))?;
    Ok(path)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::plugin::WitVersion;

    #[test]
    fn the_carried_contract_is_the_current_version() {
        let package = format!("package certwasm:issuer@{};", WitVersion::CURRENT.as_str());
        assert!(ISSUER_WIT.contains(&package), "{package}");
        assert!(ISSUER_WIT.contains("world issuer"));
    }
}
