//! Finding and loading the plugin a command names.

use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use anyhow::{Context, Result};

use crate::plugin::{LoadSource, Plugin, PluginEngine, bundled_plugin};

/// Loads `name_or_path`: a bundled plugin's name, or a path to a `.wasm`
/// component. Returns the plugin, where it came from and how long it took.
pub fn load(
    name_or_path: &str,
    cache_dir: Option<PathBuf>,
) -> Result<(Plugin, LoadSource, Duration)> {
    let engine = PluginEngine::new(cache_dir)?;
    let started = Instant::now();
    let path = Path::new(name_or_path);
    let (plugin, source) = if path.extension().is_some_and(|ext| ext == "wasm") || path.exists() {
        let bytes =
            std::fs::read(path).with_context(|| format!("reading plugin {}", path.display()))?;
        let name = path
            .file_stem()
            .map(|stem| stem.to_string_lossy().into_owned())
            .unwrap_or_else(|| name_or_path.to_owned());
        Plugin::load(&engine, &name, &bytes)?
    } else {
        let bundled = bundled_plugin(name_or_path)?;
        Plugin::load(&engine, bundled.name, bundled.wasm)?
    };
    Ok((plugin, source, started.elapsed()))
}
