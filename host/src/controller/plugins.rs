//! The plugins the controllers dispatch to: the bundled ones, loaded on
//! first use and kept, and those of the operator's plugin bundles, loaded
//! at start with their grants (compilation is cached on disk by content
//! digest; instantiation is per call).
//!
//! Bundles given as a path are watched: a changed manifest that verifies
//! is swapped in whole (calls in flight keep the `Arc<Plugin>` they hold),
//! and the issuer controllers re-validate every issuer; a bad one is
//! refused with a warning and the old one stays.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex, RwLock};
use std::time::Duration;

use crate::bundle::{self, BundleError, VerifiedBundle};
use crate::plugin::{
    BUNDLED, Grants, LoadSource, Plugin, PluginEngine, PluginError, bundled_plugin,
};

/// How often watched bundles are checked for changes.
pub const DEFAULT_BUNDLE_POLL: Duration = Duration::from_secs(3);

/// Why an issuer's plugin cannot serve it.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum PluginResolveError {
    #[error("no plugin is called {name:?} (available: {})", available.join(", "))]
    NotFound {
        name: String,
        available: Vec<String>,
    },
    #[error("plugin {name:?} could not be loaded: {reason}")]
    LoadFailed { name: String, reason: String },
    #[error(
        "plugin {name:?} may not be used by Issuers in namespace {namespace:?}: its plugin bundle grants it to namespaces {}",
        allowed.join(", ")
    )]
    NamespaceNotGranted {
        name: String,
        namespace: String,
        allowed: Vec<String>,
    },
}

/// A plugin ready to serve one issuer, with what it is granted.
#[derive(Debug, Clone)]
pub struct ResolvedPlugin {
    pub plugin: Arc<Plugin>,
    pub grants: Grants,
    /// The component's SHA-256 for a bundle plugin; `None` for a plugin
    /// built into the binary.
    pub digest: Option<String>,
}

/// One entry of a loaded bundle.
#[derive(Debug, Clone)]
enum EntryState {
    Ready(ResolvedPlugin),
    Failed(String),
}

#[derive(Debug, Clone)]
struct LoadedEntry {
    replaces: Option<String>,
    namespaces: Option<Vec<String>>,
    state: EntryState,
}

/// A bundle as loaded.
#[derive(Debug, Clone)]
struct LoadedBundle {
    path: PathBuf,
    /// Watched for changes (a bundle given as a path, not one pulled).
    watched: bool,
    manifest_sha256: String,
    /// The digest of a manifest last refused, so it is reported once.
    refused_sha256: Option<String>,
    entries: BTreeMap<String, LoadedEntry>,
}

/// Loaded plugins by name.
#[derive(Clone)]
pub struct PluginSet {
    engine: PluginEngine,
    loaded: Arc<Mutex<BTreeMap<String, Arc<Plugin>>>>,
    bundles: Arc<RwLock<Vec<LoadedBundle>>>,
    changes: tokio::sync::watch::Sender<u64>,
    poll: Duration,
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
            bundles: Arc::default(),
            changes: tokio::sync::watch::Sender::new(0),
            poll: DEFAULT_BUNDLE_POLL,
        })
    }

    /// Sets how often watched bundles are checked for changes.
    pub fn with_poll_interval(mut self, every: Duration) -> Self {
        self.poll = every.max(Duration::from_millis(100));
        self
    }

    /// The engine the set loads into.
    pub fn engine(&self) -> &PluginEngine {
        &self.engine
    }

    /// Adds the bundle whose manifest is at `path`, verifying every
    /// component's digest before compiling any; `watched` bundles are
    /// reloaded when the manifest changes. A plugin that fails to compile
    /// or link is kept as failed (issuers naming it say why); a bundle that
    /// does not verify, or names a plugin another bundle already provides,
    /// is refused whole. Blocking.
    pub fn add_bundle(&self, path: &Path, watched: bool) -> Result<(), BundleError> {
        let verified = bundle::read_verified(path)?;
        let loaded = self.load_verified(verified, watched);
        let mut bundles = self.bundles.write().unwrap_or_else(|e| e.into_inner());
        check_conflicts(&bundles, &loaded)?;
        bundles.push(loaded);
        drop(bundles);
        self.changes.send_modify(|generation| *generation += 1);
        Ok(())
    }

    fn load_verified(&self, verified: VerifiedBundle, watched: bool) -> LoadedBundle {
        let mut entries = BTreeMap::new();
        for component in verified.components {
            let entry = component.entry;
            let state = match Plugin::load(&self.engine, &entry.name, &component.bytes) {
                Ok((plugin, _)) => EntryState::Ready(ResolvedPlugin {
                    plugin: Arc::new(plugin.with_grants(entry.grants.clone())),
                    grants: entry.grants.clone(),
                    digest: Some(entry.sha256.clone()),
                }),
                Err(err) => {
                    tracing::warn!(
                        bundle = %verified.path.display(),
                        plugin = %entry.name,
                        "plugin bundle entry cannot be loaded: {err}"
                    );
                    EntryState::Failed(err.to_string())
                }
            };
            entries.insert(
                entry.name.clone(),
                LoadedEntry {
                    replaces: entry.replaces.clone(),
                    namespaces: entry
                        .grants
                        .namespaces
                        .as_ref()
                        .map(|set| set.iter().cloned().collect()),
                    state,
                },
            );
        }
        LoadedBundle {
            path: verified.path,
            watched,
            manifest_sha256: verified.manifest_sha256,
            refused_sha256: None,
            entries,
        }
    }

    /// The plugin serving `name` for an issuer in `namespace` (`None` for a
    /// ClusterIssuer): a bundle entry of that name or replacing that
    /// bundled plugin, else the bundled plugin, loaded on first use.
    /// Blocking (it may compile): call from a blocking thread.
    pub fn resolve(
        &self,
        name: &str,
        namespace: Option<&str>,
    ) -> Result<ResolvedPlugin, PluginResolveError> {
        let found = {
            let bundles = self.bundles.read().unwrap_or_else(|e| e.into_inner());
            bundles
                .iter()
                .flat_map(|bundle| bundle.entries.iter())
                .find(|(entry_name, entry)| {
                    *entry_name == name || entry.replaces.as_deref() == Some(name)
                })
                .map(|(entry_name, entry)| (entry_name.clone(), entry.clone()))
        };
        if let Some((entry_name, entry)) = found {
            let resolved = match entry.state {
                EntryState::Failed(reason) => {
                    return Err(PluginResolveError::LoadFailed {
                        name: entry_name,
                        reason,
                    });
                }
                EntryState::Ready(resolved) => resolved,
            };
            if !resolved.grants.allows_namespace(namespace) {
                return Err(PluginResolveError::NamespaceNotGranted {
                    name: entry_name,
                    namespace: namespace.unwrap_or_default().to_owned(),
                    allowed: entry.namespaces.unwrap_or_default(),
                });
            }
            return Ok(resolved);
        }
        match self.get_bundled(name) {
            Ok(plugin) => Ok(ResolvedPlugin {
                plugin,
                grants: Grants::unrestricted(),
                digest: None,
            }),
            Err(PluginError::UnknownBundled(_)) => Err(PluginResolveError::NotFound {
                name: name.to_owned(),
                available: self.available(),
            }),
            Err(err) => Err(PluginResolveError::LoadFailed {
                name: name.to_owned(),
                reason: err.to_string(),
            }),
        }
    }

    /// The plugin called `name`, ignoring namespace grants (for callers
    /// that serve no issuer). Blocking.
    pub fn get(&self, name: &str) -> Result<Arc<Plugin>, PluginResolveError> {
        self.resolve(name, None).map(|resolved| resolved.plugin)
    }

    /// Every plugin name an issuer may ask for.
    pub fn available(&self) -> Vec<String> {
        let bundles = self.bundles.read().unwrap_or_else(|e| e.into_inner());
        let mut names: Vec<String> = BUNDLED.iter().map(|p| p.name.to_owned()).collect();
        for bundle in bundles.iter() {
            for (name, entry) in &bundle.entries {
                names.push(name.clone());
                if let Some(replaced) = &entry.replaces {
                    names.push(replaced.clone());
                }
            }
        }
        names.sort();
        names.dedup();
        names
    }

    fn get_bundled(&self, name: &str) -> Result<Arc<Plugin>, PluginError> {
        if let Some(plugin) = self
            .loaded
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .get(name)
        {
            return Ok(Arc::clone(plugin));
        }
        let bundled = bundled_plugin(name)?;
        let (plugin, _): (Plugin, LoadSource) =
            Plugin::load(&self.engine, bundled.name, bundled.wasm)?;
        let plugin = Arc::new(plugin);
        self.loaded
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .insert(name.to_owned(), Arc::clone(&plugin));
        Ok(plugin)
    }

    /// Counts bundle changes; the issuer controllers re-validate every
    /// issuer when it moves.
    pub fn subscribe(&self) -> tokio::sync::watch::Receiver<u64> {
        self.changes.subscribe()
    }

    /// Checks every watched bundle once, swapping in those whose manifest
    /// changed and verifies; returns how many were swapped. Blocking.
    pub fn reload_changed(&self) -> usize {
        let watched: Vec<(usize, PathBuf, String, Option<String>)> = self
            .bundles
            .read()
            .unwrap_or_else(|e| e.into_inner())
            .iter()
            .enumerate()
            .filter(|(_, bundle)| bundle.watched)
            .map(|(i, b)| {
                (
                    i,
                    b.path.clone(),
                    b.manifest_sha256.clone(),
                    b.refused_sha256.clone(),
                )
            })
            .collect();
        let mut swapped = 0;
        for (index, path, current, refused) in watched {
            let Ok(bytes) = std::fs::read(&path) else {
                if refused.as_deref() != Some("unreadable") {
                    tracing::warn!(bundle = %path.display(), "plugin bundle is unreadable; keeping the one loaded");
                    self.mark_refused(index, "unreadable".into());
                }
                continue;
            };
            let digest = bundle::sha256_hex(&bytes);
            if digest == current || refused.as_deref() == Some(digest.as_str()) {
                continue;
            }
            let outcome = bundle::read_verified(&path).and_then(|verified| {
                let loaded = self.load_verified(verified, true);
                let mut bundles = self.bundles.write().unwrap_or_else(|e| e.into_inner());
                let others: Vec<LoadedBundle> = bundles
                    .iter()
                    .enumerate()
                    .filter(|(i, _)| *i != index)
                    .map(|(_, b)| b.clone())
                    .collect();
                check_conflicts(&others, &loaded)?;
                bundles[index] = loaded;
                Ok(())
            });
            match outcome {
                Ok(()) => {
                    tracing::info!(bundle = %path.display(), "plugin bundle changed; reloaded");
                    swapped += 1;
                }
                Err(err) => {
                    tracing::warn!(
                        bundle = %path.display(),
                        "changed plugin bundle refused, keeping the one loaded: {err}"
                    );
                    self.mark_refused(index, digest);
                }
            }
        }
        if swapped > 0 {
            self.changes.send_modify(|generation| *generation += 1);
        }
        swapped
    }

    fn mark_refused(&self, index: usize, digest: String) {
        if let Some(bundle) = self
            .bundles
            .write()
            .unwrap_or_else(|e| e.into_inner())
            .get_mut(index)
        {
            bundle.refused_sha256 = Some(digest);
        }
    }

    /// Polls watched bundles until the process ends.
    pub async fn watch_bundles(self) {
        let every = self.poll;
        let any_watched = self
            .bundles
            .read()
            .unwrap_or_else(|e| e.into_inner())
            .iter()
            .any(|bundle| bundle.watched);
        if !any_watched {
            return;
        }
        let mut ticker = tokio::time::interval(every);
        ticker.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        loop {
            ticker.tick().await;
            let set = self.clone();
            if tokio::task::spawn_blocking(move || set.reload_changed())
                .await
                .is_err()
            {
                tracing::warn!("plugin bundle reload panicked");
            }
        }
    }
}

/// Refuses a bundle that provides a plugin (or replaces one) another
/// loaded bundle already provides.
fn check_conflicts(loaded: &[LoadedBundle], new: &LoadedBundle) -> Result<(), BundleError> {
    for other in loaded {
        for (name, entry) in &new.entries {
            let clash = other.entries.iter().find(|(other_name, other_entry)| {
                *other_name == name
                    || (entry.replaces.is_some() && other_entry.replaces == entry.replaces)
            });
            if clash.is_some() {
                return Err(BundleError::Conflict {
                    bundle: new.path.display().to_string(),
                    plugin: name.clone(),
                    other: other.path.display().to_string(),
                });
            }
        }
    }
    Ok(())
}
