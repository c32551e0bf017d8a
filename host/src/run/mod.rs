//! `certwasm run`: the embedded API, the manifests to apply at start, the
//! Secret export — one process on a plain machine. The certificate
//! controllers join it when they exist (see the README's status).

pub mod export;
pub mod manifests;

use std::net::SocketAddr;
use std::path::PathBuf;

use crate::apiserver::{ApiConfig, ApiServer};

/// What `certwasm run` was asked to do.
#[derive(Debug, Clone)]
pub struct RunConfig {
    /// The data directory.
    pub data_dir: PathBuf,
    /// The API's listen address.
    pub api_address: SocketAddr,
    /// Manifests applied at start.
    pub manifests: Option<PathBuf>,
    /// Where TLS Secrets are exported.
    pub export_dir: Option<PathBuf>,
}

/// Errors of `certwasm run`.
#[derive(Debug, thiserror::Error)]
pub enum RunError {
    /// The API did not start.
    #[error(transparent)]
    Api(#[from] crate::apiserver::ServerError),
    /// A manifest was refused.
    #[error(transparent)]
    Manifest(#[from] manifests::ManifestError),
}

/// Starts everything; returns the running API (the caller waits for a
/// signal and then drops it).
pub async fn start(config: RunConfig) -> Result<ApiServer, RunError> {
    let server = ApiServer::start(ApiConfig {
        data_dir: config.data_dir.clone(),
        address: config.api_address,
    })
    .await?;
    if let Some(dir) = &config.manifests {
        let applied = manifests::apply_dir(&server.store, &server.registry, dir).await?;
        tracing::info!(applied, dir = %dir.display(), "manifests applied");
    }
    if let Some(dir) = config.export_dir.clone() {
        tokio::spawn(export::follow(server.store.clone(), dir));
    }
    Ok(server)
}
