//! Compiled components on disk, keyed by content digest and engine.
//!
//! Compiling a component is the expensive step (milliseconds for a Rust
//! plugin, seconds for a JavaScript or Python one); loading a precompiled
//! artifact is a file map. The key is the SHA-256 of the component bytes plus
//! the engine's compatibility hash (wasmtime version and every setting that
//! affects code generation), so a new host or a changed plugin never loads a
//! stale artifact.

use std::fs;
use std::hash::{DefaultHasher, Hash, Hasher};
use std::io::Write;
use std::path::{Path, PathBuf};

use sha2::{Digest, Sha256};
use wasmtime::Engine;
use wasmtime::component::Component;

use super::error::PluginError;

/// A directory of precompiled components, private to this user (0700).
#[derive(Debug)]
pub(crate) struct ComponentCache {
    dir: PathBuf,
    engine_hash: String,
}

/// Where a loaded component came from, for logs and benchmarks.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum LoadSource {
    /// Compiled now (and written to the cache when there is one).
    Compiled,
    /// Mapped from the cache.
    Cache,
}

impl ComponentCache {
    pub(crate) fn open(dir: PathBuf, engine: &Engine) -> Result<Self, PluginError> {
        let io = |source| PluginError::Cache {
            path: dir.clone(),
            source,
        };
        fs::create_dir_all(&dir).map_err(io)?;
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt;
            fs::set_permissions(&dir, fs::Permissions::from_mode(0o700)).map_err(io)?;
        }
        let mut hasher = DefaultHasher::new();
        engine.precompile_compatibility_hash().hash(&mut hasher);
        Ok(Self {
            engine_hash: format!("{:016x}", hasher.finish()),
            dir,
        })
    }

    pub(crate) fn dir(&self) -> &Path {
        &self.dir
    }

    fn path_for(&self, bytes: &[u8]) -> PathBuf {
        let digest = hex::encode(Sha256::digest(bytes));
        self.dir
            .join(format!("{digest}-{}.cwasm", self.engine_hash))
    }

    /// Returns the compiled component for `bytes`, from the cache when it
    /// holds a usable artifact, else compiling and storing it.
    pub(crate) fn load(
        &self,
        engine: &Engine,
        name: &str,
        bytes: &[u8],
    ) -> Result<(Component, LoadSource), PluginError> {
        let path = self.path_for(bytes);
        if path.exists() {
            // SAFETY: `deserialize_file` trusts the artifact to be one that
            // wasmtime produced. This one was written by `store` below into a
            // directory only this user can write (0700), under a name derived
            // from the source's digest and this engine's compatibility hash;
            // wasmtime still checks its header and version. Anyone able to
            // replace it could equally replace the certwasm binary.
            #[allow(unsafe_code)]
            let loaded = unsafe { Component::deserialize_file(engine, &path) };
            match loaded {
                Ok(component) => return Ok((component, LoadSource::Cache)),
                Err(err) => tracing::warn!(
                    plugin = name,
                    path = %path.display(),
                    "ignoring unusable cached plugin artifact: {err:#}"
                ),
            }
        }
        let component = compile(engine, name, bytes)?;
        if let Err(err) = self.store(&path, &component) {
            tracing::warn!(plugin = name, "could not cache compiled plugin: {err}");
        }
        Ok((component, LoadSource::Compiled))
    }

    /// Writes atomically (temporary file, then rename) so that a crash never
    /// leaves a truncated artifact under the final name.
    fn store(&self, path: &Path, component: &Component) -> Result<(), String> {
        let bytes = component.serialize().map_err(|e| format!("{e:#}"))?;
        let mut tmp = tempfile_in(&self.dir).map_err(|e| e.to_string())?;
        tmp.1.write_all(&bytes).map_err(|e| e.to_string())?;
        tmp.1.sync_all().map_err(|e| e.to_string())?;
        fs::rename(&tmp.0, path).map_err(|e| e.to_string())
    }
}

/// Compiles a component, naming the plugin in the error.
pub(crate) fn compile(engine: &Engine, name: &str, bytes: &[u8]) -> Result<Component, PluginError> {
    Component::new(engine, bytes).map_err(|e| PluginError::InvalidComponent {
        name: name.to_owned(),
        reason: format!("{e:#}"),
    })
}

fn tempfile_in(dir: &Path) -> std::io::Result<(PathBuf, fs::File)> {
    let path = dir.join(format!(
        ".tmp-{}-{}",
        std::process::id(),
        rand::random::<u64>()
    ));
    let file = fs::OpenOptions::new()
        .write(true)
        .create_new(true)
        .open(&path)?;
    Ok((path, file))
}
