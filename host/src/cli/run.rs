//! `certwasm run`: the embedded default — API, manifests, export — in one
//! process until SIGINT or SIGTERM.

use std::net::SocketAddr;
use std::path::PathBuf;

use anyhow::Context;
use clap::Args;

use crate::run::{RunConfig, start_with_plugins};

/// Arguments of `certwasm run`.
#[derive(Debug, Args)]
pub struct RunArgs {
    /// Where everything is kept: the store, the API's credentials and the
    /// kubeconfig (`DIR/kubeconfig`).
    #[arg(long, env = "CERTWASM_DATA_DIR", default_value = "certwasm-data")]
    pub data_dir: PathBuf,
    /// Address of the Kubernetes-compatible API (loopback only by design;
    /// port 0 picks a free port, written into the kubeconfig).
    #[arg(long, default_value = "127.0.0.1:6443")]
    pub api_address: SocketAddr,
    /// Apply every YAML file in this directory at start (like k3s's
    /// auto-deploy manifests).
    #[arg(long)]
    pub manifests: Option<PathBuf>,
    /// Keep every kubernetes.io/tls Secret on disk as
    /// DIR/<namespace>/<name>/{tls.crt,tls.key,ca.crt} (0600, atomic).
    #[arg(long)]
    pub export_dir: Option<PathBuf>,
    /// Do not approve CertificateRequests automatically (approve them with
    /// `kubectl` or cmctl, as with cert-manager's flag of the same intent).
    #[arg(long)]
    pub no_auto_approve: bool,
    /// How many objects each controller reconciles at once, as
    /// cert-manager's flag of the same name.
    #[arg(long, env = "CERTWASM_CONCURRENT_WORKERS", default_value_t = crate::controller::DEFAULT_CONCURRENT_WORKERS)]
    pub concurrent_workers: u16,
    /// Namespace holding the Secrets ClusterIssuers reference (created if
    /// missing), as cert-manager's --cluster-resource-namespace.
    #[arg(long, default_value = "cert-manager")]
    pub cluster_resource_namespace: String,
    /// Serve the API only; run no controllers.
    #[arg(long)]
    pub api_only: bool,
    /// Address of `/metrics` (Prometheus, cert-manager's metric names),
    /// `/healthz` and `/readyz`; `off` serves none.
    #[arg(long, default_value = "127.0.0.1:9402", value_parser = parse_listen_address)]
    pub metrics_listen_address: ListenAddress,
    #[command(flatten)]
    pub solvers: super::solver_args::SolverArgs,
    #[command(flatten)]
    pub bundles: super::bundle::PluginBundleArgs,
}

/// A listen address, or `off`.
#[derive(Debug, Clone, Copy)]
pub struct ListenAddress(pub Option<SocketAddr>);

/// Parses `HOST:PORT` or `off`.
pub fn parse_listen_address(text: &str) -> Result<ListenAddress, String> {
    if text == "off" {
        return Ok(ListenAddress(None));
    }
    text.parse()
        .map(|a| ListenAddress(Some(a)))
        .map_err(|e| format!("{text:?} is not HOST:PORT or off: {e}"))
}

/// Runs until a signal; returns the exit code.
pub fn run(args: RunArgs) -> anyhow::Result<i32> {
    if !args.api_address.ip().is_loopback() {
        anyhow::bail!(
            "--api-address {} is not a loopback address; the embedded API is for this machine only",
            args.api_address
        );
    }
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .context("cannot start the async runtime")?;
    runtime.block_on(async move {
        let started = std::time::Instant::now();
        let plugins = if args.api_only {
            None
        } else {
            let cache = args
                .bundles
                .plugin_cache
                .clone()
                .unwrap_or_else(|| args.data_dir.join("plugin-cache"));
            Some(args.bundles.plugin_set(Some(cache)).await?)
        };
        let running = start_with_plugins(
            RunConfig {
                data_dir: args.data_dir.clone(),
                api_address: args.api_address,
                manifests: args.manifests.clone(),
                export_dir: args.export_dir.clone(),
                controller: crate::controller::Options {
                    auto_approve: !args.no_auto_approve,
                    cluster_resource_namespace: args.cluster_resource_namespace.clone(),
                    solvers: args.solvers.options(false),
                    concurrent_workers: args.concurrent_workers,
                    default_issuer: None,
                },
                controllers: !args.api_only,
                metrics_address: args.metrics_listen_address.0,
            },
            plugins,
        )
        .await?;
        let server = &running.api;
        eprintln!(
            "certwasm API ready at https://{} in {} ms; kubeconfig: {}",
            server.address,
            started.elapsed().as_millis(),
            server.kubeconfig_path().display()
        );
        eprintln!(
            "  try: kubectl --kubeconfig {} get certificates -A",
            server.kubeconfig_path().display()
        );
        if let Some(metrics) = running.metrics_address {
            eprintln!("  metrics: http://{metrics}/metrics");
        }
        wait_for_signal().await;
        server.shutdown();
        anyhow::Ok(0)
    })
}

/// Resolves on SIGINT or SIGTERM.
pub(super) async fn wait_for_signal() {
    #[cfg(unix)]
    {
        use tokio::signal::unix::{SignalKind, signal};
        match signal(SignalKind::terminate()) {
            Ok(mut term) => {
                tokio::select! {
                    _ = tokio::signal::ctrl_c() => {}
                    _ = term.recv() => {}
                }
            }
            Err(_) => {
                let _ = tokio::signal::ctrl_c().await;
            }
        }
    }
    #[cfg(not(unix))]
    {
        let _ = tokio::signal::ctrl_c().await;
    }
}
