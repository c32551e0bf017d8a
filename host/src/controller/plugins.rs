//! The plugins the controllers dispatch to: the bundled ones, loaded on
//! first use and kept (compilation is cached on disk; instantiation is per
//! call).

use std::collections::BTreeMap;
use std::path::PathBuf;
use std::sync::{Arc, Mutex};

use crate::plugin::{Plugin, PluginEngine, PluginError, bundled_plugin};

/// Loaded plugins by name.
#[derive(Clone)]
pub struct PluginSet {
    engine: PluginEngine,
    loaded: Arc<Mutex<BTreeMap<String, Arc<Plugin>>>>,
}

impl std::fmt::Debug for PluginSet {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("PluginSet").finish_non_exhaustive()
    }
}

impl PluginSet {
    /// A set backed by one engine with its compiled-component cache.
    pub fn new(cache_dir: Option<PathBuf>) -> Result<PluginSet, PluginError> {
        Ok(PluginSet {
            engine: PluginEngine::new(cache_dir)?,
            loaded: Arc::default(),
        })
    }

    /// The plugin called `name`, loading it on first use. Blocking (it may
    /// compile): call from a blocking thread.
    pub fn get(&self, name: &str) -> Result<Arc<Plugin>, PluginError> {
        if let Some(plugin) = self
            .loaded
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .get(name)
        {
            return Ok(Arc::clone(plugin));
        }
        let bundled = bundled_plugin(name)?;
        let (plugin, _) = Plugin::load(&self.engine, bundled.name, bundled.wasm)?;
        let plugin = Arc::new(plugin);
        self.loaded
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .insert(name.to_owned(), Arc::clone(&plugin));
        Ok(plugin)
    }
}
