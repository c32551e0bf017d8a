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
    /// Controller options (approval, cluster resource namespace).
    pub controller: crate::controller::Options,
    /// Run the controllers (off: the API alone).
    pub controllers: bool,
    /// Serve `/metrics`, `/healthz` and `/readyz` here (with the
    /// controllers); `None` serves nothing.
    pub metrics_address: Option<SocketAddr>,
}

/// A started `certwasm run`: dropping it stops the API.
#[derive(Debug)]
pub struct Running {
    /// The embedded API.
    pub api: ApiServer,
    /// Where the metrics endpoint was bound, when it was asked for.
    pub metrics_address: Option<SocketAddr>,
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
    /// The controllers' client or plugins could not be set up.
    #[error("cannot start the controllers: {0}")]
    Controllers(String),
    /// The HTTP-01 solver could not listen.
    #[error("cannot serve HTTP-01 challenges on {address}: {source}")]
    Solver {
        address: SocketAddr,
        source: std::io::Error,
    },
    /// The metrics endpoint could not be served.
    #[error(transparent)]
    Metrics(#[from] crate::metrics::MetricsError),
}

/// Starts everything; returns the running API (the caller waits for a
/// signal and then drops it).
pub async fn start(config: RunConfig) -> Result<Running, RunError> {
    start_with_plugins(config, None).await
}

/// [`start`] with the plugins the controllers serve (the bundled plugins
/// and the operator's plugin bundles); `None` serves the bundled ones.
pub async fn start_with_plugins(
    config: RunConfig,
    plugins: Option<crate::controller::PluginSet>,
) -> Result<Running, RunError> {
    let server = ApiServer::start(ApiConfig {
        data_dir: config.data_dir.clone(),
        address: config.api_address,
    })
    .await?;
    let client = if config.controllers {
        // ClusterIssuers' Secrets live here; manifests may put them there.
        // This is `run`'s own set-up, not a controller's call: a client
        // without the controllers' user agent, so that the API audit (and
        // the Helm chart's RBAC checked against it) does not count it.
        let setup = api_client(&server, false).await?;
        ensure_namespace(&setup, &config.controller.cluster_resource_namespace).await?;
        Some(api_client(&server, true).await?)
    } else {
        None
    };
    if let Some(dir) = &config.manifests {
        let applied = manifests::apply_dir(&server.store, &server.registry, dir).await?;
        tracing::info!(applied, dir = %dir.display(), "manifests applied");
    }
    if let Some(dir) = config.export_dir.clone() {
        tokio::spawn(export::follow(server.store.clone(), dir));
    }
    let metrics_address = match client {
        Some(client) => start_controllers(client, &config, plugins).await?,
        None => None,
    };
    Ok(Running {
        api: server,
        metrics_address,
    })
}

/// A client for the embedded API through its kubeconfig — the same client
/// path the controllers take in a cluster; `controllers` marks its requests
/// as theirs ([`crate::controller::identify`]).
async fn api_client(server: &ApiServer, controllers: bool) -> Result<kube::Client, RunError> {
    use kube::config::{KubeConfigOptions, Kubeconfig};
    let fail = |e: &dyn std::fmt::Display| RunError::Controllers(e.to_string());
    let kubeconfig = Kubeconfig::read_from(server.kubeconfig_path()).map_err(|e| fail(&e))?;
    let client_config =
        kube::Config::from_custom_kubeconfig(kubeconfig, &KubeConfigOptions::default())
            .await
            .map_err(|e| fail(&e))?;
    let client_config = if controllers {
        crate::controller::identify(client_config)
    } else {
        client_config
    };
    kube::Client::try_from(client_config).map_err(|e| fail(&e))
}

/// Starts the controllers, and their metrics endpoint when asked for;
/// returns where that was bound.
async fn start_controllers(
    client: kube::Client,
    config: &RunConfig,
    plugins: Option<crate::controller::PluginSet>,
) -> Result<Option<SocketAddr>, RunError> {
    let fail = |e: &dyn std::fmt::Display| RunError::Controllers(e.to_string());
    let plugins = match plugins {
        Some(plugins) => plugins,
        None => crate::controller::PluginSet::new(Some(config.data_dir.join("plugin-cache")))
            .map_err(|e| fail(&e))?,
    };
    let context = std::sync::Arc::new(crate::controller::Context::new(
        client,
        plugins,
        config.controller.clone(),
    ));
    if let Some(address) = config.controller.solvers.http01_address {
        let bound = context
            .http01
            .serve(address)
            .await
            .map_err(|source| RunError::Solver { address, source })?;
        tracing::info!(%bound, "HTTP-01 solver serving");
    }
    let metrics_address = match config.metrics_address {
        Some(address) => Some(
            crate::metrics::serve(
                address,
                std::sync::Arc::clone(&context.metrics),
                std::sync::Arc::clone(&context.health),
            )
            .await?,
        ),
        None => None,
    };
    tokio::spawn(crate::controller::run(context));
    Ok(metrics_address)
}

async fn ensure_namespace(client: &kube::Client, name: &str) -> Result<(), RunError> {
    use k8s_openapi::api::core::v1::Namespace;
    let api: kube::Api<Namespace> = kube::Api::all(client.clone());
    let exists = api
        .get_opt(name)
        .await
        .map_err(|e| RunError::Controllers(e.to_string()))?
        .is_some();
    if !exists {
        let mut namespace = Namespace::default();
        namespace.metadata.name = Some(name.to_owned());
        api.create(&kube::api::PostParams::default(), &namespace)
            .await
            .map_err(|e| RunError::Controllers(e.to_string()))?;
    }
    Ok(())
}
