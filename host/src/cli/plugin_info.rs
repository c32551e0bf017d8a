//! `certwasm plugin info` and `certwasm plugin list`.

use std::path::PathBuf;

use anyhow::Result;
use clap::Args;

use super::plugin_load;
use crate::plugin::BUNDLED;

#[derive(Debug, Args)]
pub struct InfoArgs {
    /// A bundled plugin's name (see `certwasm plugin list`) or a `.wasm` path.
    pub plugin: String,
    /// Where compiled plugins are cached.
    #[arg(long, env = "CERTWASM_CACHE_DIR")]
    pub cache_dir: Option<PathBuf>,
}

pub fn run(args: InfoArgs) -> Result<i32> {
    let cache_dir = args.cache_dir.or_else(super::default_cache_dir);
    let (plugin, source, took) = plugin_load::load(&args.plugin, cache_dir)?;
    let info = plugin.info();
    println!("name:         {}", info.name);
    println!("version:      {}", info.version);
    println!("serves:       {}", info.issuer_types.join(", "));
    println!("description:  {}", info.description);
    println!("interface:    {}", plugin.wit_version());
    println!(
        "loaded in:    {:.1} ms ({source:?})",
        took.as_secs_f64() * 1e3
    );
    Ok(0)
}

pub fn list() -> Result<i32> {
    for plugin in BUNDLED {
        println!(
            "{:<12} serves spec.{:<12} {} KiB",
            plugin.name,
            plugin.issuer_type,
            plugin.wasm.len() / 1024
        );
    }
    Ok(0)
}
