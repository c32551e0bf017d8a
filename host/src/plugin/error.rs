//! Errors of the plugin runtime itself (loading, compiling, linking).

use std::path::PathBuf;

/// Why a plugin could not be loaded or a call could not be set up.
///
/// Failures *inside* a call (a trap, a timeout, the plugin's own error) are
/// [`PluginCallError`](super::PluginCallError)s instead: they fail one request
/// and leave the plugin usable.
#[derive(Debug, thiserror::Error)]
pub enum PluginError {
    #[error("configuring the WebAssembly engine: {0}")]
    Engine(String),
    #[error("plugin {name}: not a valid certwasm:issuer component: {reason}")]
    InvalidComponent { name: String, reason: String },
    #[error(
        "plugin {name}: it does not match any certwasm:issuer world this host loads ({versions}): {reason}",
        versions = super::WitVersion::list()
    )]
    Link { name: String, reason: String },
    #[error(
        "plugin {name}: it imports `{import}`, which this host does not provide ({detail}). \
         A plugin may import certwasm:issuer ({versions}) and the WASI 0.2 interfaces language \
         runtimes need (cli, clocks, filesystem, io, random, sockets), which grant nothing{hint}",
        versions = super::WitVersion::list()
    )]
    UnprovidedImport {
        name: String,
        import: String,
        detail: String,
        hint: &'static str,
    },
    #[error("reading plugin file {path}: {source}")]
    Read {
        path: PathBuf,
        source: std::io::Error,
    },
    #[error("plugin cache directory {path}: {source}")]
    Cache {
        path: PathBuf,
        source: std::io::Error,
    },
    #[error("no bundled plugin is called {0:?} (bundled: selfsigned, ca, acme, vault, venafi)")]
    UnknownBundled(String),
}
