//! `certwasm controller`: the controllers against a real cluster's API
//! (in-cluster service account, or KUBECONFIG), as cert-manager's
//! controller deployment runs.

use std::path::PathBuf;
use std::sync::Arc;

use anyhow::Context as _;
use clap::Args;

use crate::controller::leader::{self, ElectionConfig};
use crate::controller::{self, Context, Options};

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
    /// How many objects each controller reconciles at once, as
    /// cert-manager's flag of the same name.
    #[arg(long, env = "CERTWASM_CONCURRENT_WORKERS", default_value_t = crate::controller::DEFAULT_CONCURRENT_WORKERS)]
    pub concurrent_workers: u16,
    /// Where compiled plugins are cached.
    #[arg(long, env = "CERTWASM_CACHE_DIR")]
    pub cache_dir: Option<PathBuf>,
    /// Run only while holding the leader Lease, so that replicas take over
    /// from each other (cert-manager's --leader-elect).
    #[arg(long, default_value_t = true, action = clap::ArgAction::Set)]
    pub leader_elect: bool,
    /// Namespace of the leader Lease.
    #[arg(long, default_value = "kube-system")]
    pub leader_election_namespace: String,
    /// How long a leader's claim lasts without renewal (cert-manager's
    /// flag; a Go duration).
    #[arg(long, default_value = "60s", value_parser = parse_duration)]
    pub leader_election_lease_duration: std::time::Duration,
    /// How long the leader keeps trying to renew before it steps down.
    #[arg(long, default_value = "40s", value_parser = parse_duration)]
    pub leader_election_renew_deadline: std::time::Duration,
    /// How often candidates retry and the leader renews.
    #[arg(long, default_value = "15s", value_parser = parse_duration)]
    pub leader_election_retry_period: std::time::Duration,
    /// The issuer of Ingresses annotated `kubernetes.io/tls-acme: "true"`
    /// without an issuer annotation (cert-manager's flag).
    #[arg(long, default_value = "")]
    pub default_issuer_name: String,
    /// Its kind: `Issuer` (default) or `ClusterIssuer`, or an external
    /// issuer's kind.
    #[arg(long, default_value = "Issuer")]
    pub default_issuer_kind: String,
    /// Its API group.
    #[arg(long, default_value = "cert-manager.io")]
    pub default_issuer_group: String,
    /// Address of `/metrics`, `/healthz` and `/readyz`; `off` serves none.
    #[arg(long, default_value = "0.0.0.0:9402", value_parser = super::run::parse_listen_address)]
    pub metrics_listen_address: super::run::ListenAddress,
    #[command(flatten)]
    pub solvers: super::solver_args::SolverArgs,
    #[command(flatten)]
    pub bundles: super::bundle::PluginBundleArgs,
}

fn parse_duration(text: &str) -> Result<std::time::Duration, String> {
    crate::go_duration::parse(text).map_err(|e| e.to_string())
}

/// This replica's name in the Lease: the pod's name when the Deployment
/// passes it (POD_NAME), else the host name, with a random suffix so that
/// a restarted pod is a new candidate.
fn identity() -> String {
    let base = std::env::var("POD_NAME")
        .or_else(|_| std::env::var("HOSTNAME"))
        .unwrap_or_else(|_| "certwasm".to_owned());
    format!("{base}_{}", uuid::Uuid::new_v4())
}

/// Runs the controllers until SIGINT/SIGTERM.
pub fn run(args: ControllerArgs) -> anyhow::Result<i32> {
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .context("cannot start the async runtime")?;
    runtime.block_on(async move {
        let config = kube::Config::infer()
            .await
            .context("cannot reach the Kubernetes API (in-cluster config or KUBECONFIG)")?;
        let client = kube::Client::try_from(controller::identify(config))
            .context("cannot build the Kubernetes client")?;
        let cache_dir = args
            .bundles
            .plugin_cache
            .clone()
            .or_else(|| args.cache_dir.clone())
            .or_else(super::default_cache_dir);
        let plugins = args.bundles.plugin_set(cache_dir).await?;
        let context = Arc::new(Context::new(
            client,
            plugins,
            Options {
                auto_approve: !args.no_auto_approve,
                cluster_resource_namespace: args.cluster_resource_namespace.clone(),
                solvers: args.solvers.options(true),
                concurrent_workers: args.concurrent_workers,
                default_issuer: (!args.default_issuer_name.is_empty()).then(|| {
                    crate::policy::ingress::DefaultIssuer {
                        name: args.default_issuer_name.clone(),
                        kind: args.default_issuer_kind.clone(),
                        group: args.default_issuer_group.clone(),
                    }
                }),
            },
        ));
        if let Some(address) = args.solvers.http01_solver_address.0 {
            let bound = context
                .http01
                .serve(address)
                .await
                .with_context(|| format!("cannot serve HTTP-01 challenges on {address}"))?;
            eprintln!("HTTP-01 solver: http://{bound}");
        }
        if let Some(address) = args.metrics_listen_address.0 {
            let bound = crate::metrics::serve(
                address,
                Arc::clone(&context.metrics),
                Arc::clone(&context.health),
            )
            .await?;
            eprintln!("metrics: http://{bound}/metrics");
        }
        let election = args.leader_elect.then(|| ElectionConfig {
            lease_duration: args.leader_election_lease_duration,
            renew_deadline: args.leader_election_renew_deadline,
            retry_period: args.leader_election_retry_period,
            ..ElectionConfig::new(&args.leader_election_namespace, &identity())
        });
        if let Some(election) = &election {
            eprintln!(
                "waiting for the leader Lease {}/{} as {}",
                election.namespace, election.name, election.identity
            );
            tokio::select! {
                () = leader::acquire(context.client.clone(), election) => {}
                () = super::run::wait_for_signal() => return anyhow::Ok(0),
            }
        }
        eprintln!(
            "certwasm controllers running (cluster resource namespace {})",
            args.cluster_resource_namespace
        );
        let client = context.client.clone();
        let keep_lease = async {
            match &election {
                Some(election) => leader::hold(client.clone(), election).await,
                None => std::future::pending().await,
            }
        };
        let code = tokio::select! {
            () = controller::run(context) => 0,
            () = keep_lease => 1,
            () = super::run::wait_for_signal() => 0,
        };
        if let Some(election) = &election {
            leader::release(client, election).await;
        }
        anyhow::Ok(code)
    })
}
