//! `certwasm plugin info` and `certwasm plugin list`.

use std::path::PathBuf;

use anyhow::Result;
use clap::Args;

use super::plugin_load;
use crate::plugin::BUNDLED;
use crate::plugin::bindings::types::Need;

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
    print!("{}", describe(&args.plugin, cache_dir)?);
    Ok(0)
}

/// What `certwasm plugin info <plugin>` prints: loads `plugin` (a bundled
/// name or a `.wasm` path) as the command does and describes it. Public so
/// that tests outside this crate, which cannot run the binary, check the
/// very text the command prints.
pub fn describe(plugin: &str, cache_dir: Option<PathBuf>) -> Result<String> {
    let (plugin, source, took) = plugin_load::load(plugin, cache_dir)?;
    let info = plugin.info();
    Ok(format!(
        "name:         {}\n\
         version:      {}\n\
         serves:       {}\n\
         needs:        {}\n\
         description:  {}\n\
         interface:    {}\n\
         loaded in:    {:.1} ms ({source:?})\n",
        info.name,
        info.version,
        info.issuer_types.join(", "),
        needs(&info.needs),
        info.description,
        plugin.wit_version(),
        took.as_secs_f64() * 1e3
    ))
}

/// The needs a plugin declared, as the WIT spells them.
fn needs(needs: &[Need]) -> String {
    if needs.is_empty() {
        return "nothing beyond the common imports".to_owned();
    }
    needs
        .iter()
        .map(|need| match need {
            Need::RequestKey => "request-key",
            Need::Orders => "orders",
        })
        .collect::<Vec<_>>()
        .join(", ")
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
