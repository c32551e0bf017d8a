//! `certwasm controller`: the controllers against a real cluster's API
//! (in-cluster service account, or KUBECONFIG), as cert-manager's
//! controller deployment runs.

use std::path::PathBuf;
use std::sync::Arc;

use anyhow::Context as _;
use clap::Args;

use crate::controller::{self, Context, Options, PluginSet};

/// Arguments of `certwasm controller`.
#[derive(Debug, Args)]
pub struct ControllerArgs {
    /// Namespace holding the Secrets ClusterIssuers reference; defaults to
    /// the controller's own namespace (POD_NAMESPACE), as cert-manager does.
    #[arg(long, env = "POD_NAMESPACE", default_value = "cert-manager")]
    pub cluster_resource_namespace: String,
    /// Do not approve CertificateRequests automatically.
    #[arg(long)]
    pub no_auto_approve: bool,
    /// Where compiled plugins are cached.
    #[arg(long, env = "CERTWASM_CACHE_DIR")]
    pub cache_dir: Option<PathBuf>,
}

/// Runs the controllers until SIGINT/SIGTERM.
pub fn run(args: ControllerArgs) -> anyhow::Result<i32> {
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .context("cannot start the async runtime")?;
    runtime.block_on(async move {
        let client = kube::Client::try_default()
            .await
            .context("cannot reach the Kubernetes API (in-cluster config or KUBECONFIG)")?;
        let cache_dir = args.cache_dir.clone().or_else(super::default_cache_dir);
        let plugins = PluginSet::new(cache_dir)?;
        let context = Arc::new(Context {
            recorder: controller::events::Recorder::new(client.clone()),
            client,
            plugins,
            options: Options {
                auto_approve: !args.no_auto_approve,
                cluster_resource_namespace: args.cluster_resource_namespace.clone(),
            },
        });
        eprintln!(
            "certwasm controllers running (cluster resource namespace {})",
            args.cluster_resource_namespace
        );
        tokio::select! {
            () = controller::run(context) => {}
            () = super::run::wait_for_signal() => {}
        }
        anyhow::Ok(0)
    })
}
