//! The Kubernetes client every cluster verb (`approve`, `renew`, `status`,
//! `inspect`, `check`) builds the same way: `--kubeconfig`, else
//! KUBECONFIG, else the in-cluster configuration.

use std::path::PathBuf;

use anyhow::Context as _;
use clap::Args;
use kube::config::{KubeConfigOptions, Kubeconfig};

/// Where to find the API server.
#[derive(Debug, Clone, Args)]
pub struct KubeArgs {
    /// Kubeconfig (for `certwasm run`: DATA_DIR/kubeconfig); default
    /// KUBECONFIG or the in-cluster configuration.
    #[arg(long, env = "KUBECONFIG", global = true)]
    pub kubeconfig: Option<PathBuf>,
}

impl KubeArgs {
    /// A client for the configured API server.
    pub async fn client(&self) -> anyhow::Result<kube::Client> {
        Ok(match &self.kubeconfig {
            Some(path) => {
                let kubeconfig = Kubeconfig::read_from(path)
                    .with_context(|| format!("reading {}", path.display()))?;
                let config =
                    kube::Config::from_custom_kubeconfig(kubeconfig, &KubeConfigOptions::default())
                        .await?;
                kube::Client::try_from(config)?
            }
            None => kube::Client::try_default().await?,
        })
    }
}

/// Runs one async verb on a small runtime: the cluster verbs make a handful
/// of requests and exit.
pub fn block_on<F: std::future::Future<Output = anyhow::Result<i32>>>(
    verb: F,
) -> anyhow::Result<i32> {
    tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()?
        .block_on(verb)
}
