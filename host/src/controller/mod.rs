//! The controllers: Issuers and ClusterIssuers become Ready from their
//! plugin's `validate`; a Certificate becomes a private key, a
//! CertificateRequest, a signed certificate and a Secret; a
//! CertificateRequest is approved and signed by the plugin its issuer
//! selects. They speak only the Kubernetes API (kube-rs), so the same code
//! runs in a cluster and against `certwasm run`'s embedded API. Decisions
//! are made in [`crate::policy`]; this module fetches, calls and writes.

pub mod acme;
pub mod certificate;
pub mod certificate_request;
pub mod events;
pub mod informers;
pub mod ingress_shim;
pub mod issuer;
pub mod leader;
pub mod plugins;
pub mod secret_outputs;
pub mod secrets;

use std::sync::Arc;
use std::time::Duration;

use futures_util::StreamExt;

use crate::metrics::{Health, Metrics};
use crate::solver::SolverOptions;
use crate::solver::http01::Responder;
use plugins::PluginResolveError;

pub use plugins::PluginSet;

/// Errors of a reconcile; the controller logs them and retries.
#[derive(Debug, thiserror::Error)]
pub enum ControllerError {
    /// An API call failed.
    #[error("Kubernetes API: {0}")]
    Api(#[from] kube::Error),
    /// No plugin serves the issuer, or the one named may not be used.
    #[error(transparent)]
    PluginResolve(#[from] PluginResolveError),
    /// A key or CSR could not be made, or a key not encoded, from the spec.
    #[error(transparent)]
    Pki(#[from] crate::pki::PkiError),
    /// The Certificate's spec cannot be turned into a request.
    #[error(transparent)]
    Policy(#[from] crate::policy::PolicyError),
    /// The Secret's extra entries (keystores) could not be made.
    #[error(transparent)]
    SecretOutputs(secret_outputs::SecretOutputsError),
    /// What the issuer returned cannot be read as a certificate.
    #[error("the issued certificate cannot be parsed")]
    UnreadableIssuedCertificate,
    /// An object could not be turned into JSON (a bug, not bad input).
    #[error("encoding {what}: {source}")]
    Encode {
        what: &'static str,
        source: serde_json::Error,
    },
    /// A blocking task panicked or was cancelled.
    #[error("a background task failed: {0}")]
    Task(#[from] tokio::task::JoinError),
}

impl From<secret_outputs::SecretOutputsError> for ControllerError {
    /// An API failure stays an API failure (it is retried as one); the rest
    /// are the spec's or the material's.
    fn from(error: secret_outputs::SecretOutputsError) -> Self {
        match error {
            secret_outputs::SecretOutputsError::Api(e) => Self::Api(e),
            other => Self::SecretOutputs(other),
        }
    }
}

/// Options shared by the controllers, as cert-manager's flags.
#[derive(Debug, Clone)]
pub struct Options {
    /// Approve CertificateRequests automatically (reason `cert-manager.io`).
    pub auto_approve: bool,
    /// Where ClusterIssuers' Secrets live (`--cluster-resource-namespace`).
    pub cluster_resource_namespace: String,
    /// How ACME challenges are presented and self-checked.
    pub solvers: SolverOptions,
    /// How many objects each controller reconciles at once
    /// (`--concurrent-workers`, cert-manager's flag of the same name).
    pub concurrent_workers: u16,
    /// ingress-shim's issuer for Ingresses annotated
    /// `kubernetes.io/tls-acme: "true"` alone (`--default-issuer-*`).
    pub default_issuer: Option<crate::policy::ingress::DefaultIssuer>,
}

/// The default of `--concurrent-workers`. cert-manager's is 5; a reconcile
/// here is cheaper (signing is in-process), and on the 2-core benchmark
/// machine 16 issued 1,000 Certificates in 3.3 s against 4.5 s with 5, for
/// 4 MiB more memory, while 32 gained little more (3.1 s) for 15 MiB.
pub const DEFAULT_CONCURRENT_WORKERS: u16 = 16;

impl Default for Options {
    fn default() -> Self {
        Options {
            auto_approve: true,
            cluster_resource_namespace: "kube-system".to_owned(),
            solvers: SolverOptions::default(),
            concurrent_workers: DEFAULT_CONCURRENT_WORKERS,
            default_issuer: None,
        }
    }
}

/// What every reconcile needs.
#[derive(Clone)]
pub struct Context {
    /// The API client.
    pub client: kube::Client,
    /// The plugins.
    pub plugins: PluginSet,
    /// Events.
    pub recorder: events::Recorder,
    /// Flags.
    pub options: Options,
    /// Sync counters, and the caches resource metrics are read from.
    pub metrics: Arc<Metrics>,
    /// `/readyz`: set once every controller's cache has synced.
    pub health: Arc<Health>,
    /// The HTTP-01 tokens being presented (served when
    /// [`SolverOptions::http01_address`] is set).
    pub http01: Responder,
    /// Caches shared by the controllers.
    pub informers: Arc<informers::Informers>,
}

impl Context {
    /// A context with fresh metrics, health and event recorder.
    pub fn new(client: kube::Client, plugins: PluginSet, options: Options) -> Self {
        Context {
            recorder: events::Recorder::new(client.clone()),
            client,
            plugins,
            options,
            metrics: Arc::new(Metrics::new()),
            health: Arc::new(Health::default()),
            http01: Responder::default(),
            informers: Arc::new(informers::Informers::new()),
        }
    }
}

impl Context {
    /// The kube-runtime configuration every controller runs with: at most
    /// [`Options::concurrent_workers`] reconciles at once. Unbounded, a
    /// burst of 1,000 Certificates ran 1,000 reconciles together, each
    /// plugin call on its own blocking thread: no faster on two cores, and
    /// hundreds of threads' stacks and wasm instances resident at once.
    pub(crate) fn controller_config(&self) -> kube::runtime::controller::Config {
        kube::runtime::controller::Config::default()
            .concurrency(self.options.concurrent_workers.max(1))
    }
}

impl std::fmt::Debug for Context {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Context")
            .field("options", &self.options)
            .finish_non_exhaustive()
    }
}

/// Marks the controllers' API requests with their own user agent
/// ([`crate::apiserver::audit::CONTROLLER_USER_AGENT`]): kube-rs sends none,
/// and an API server's audit (a cluster's, or the embedded API's
/// `CERTWASM_AUDIT_FILE`, from which the Helm chart's RBAC is checked) must
/// tell the controllers from other clients.
pub fn identify(mut config: kube::Config) -> kube::Config {
    config.headers.push((
        axum::http::header::USER_AGENT,
        axum::http::HeaderValue::from_static(crate::apiserver::audit::CONTROLLER_USER_AGENT),
    ));
    config
}

/// Runs every controller until the returned future is dropped.
pub async fn run(context: Arc<Context>) {
    let Some(shared) = context.informers.start(context.client.clone()) else {
        tracing::error!("the controllers are already running on this context");
        return;
    };
    let issuers = issuer::run_issuers(Arc::clone(&context));
    let cluster_issuers = issuer::run_cluster_issuers(Arc::clone(&context));
    let certificates = certificate::run(Arc::clone(&context), shared.for_certificates);
    let requests = certificate_request::run(Arc::clone(&context), shared.for_requests);
    let shim = ingress_shim::run(Arc::clone(&context));
    let readiness = mark_ready_when_synced(Arc::clone(&context));
    let bundles = context.plugins.clone().watch_bundles();
    tokio::join!(
        shared.driver,
        issuers,
        cluster_issuers,
        certificates,
        requests,
        shim,
        readiness,
        bundles
    );
}

/// Sets [`Context::health`] ready once the Certificate and issuer caches
/// hold their initial lists (the controllers register them as they start).
async fn mark_ready_when_synced(context: Arc<Context>) {
    let caches = &context.metrics.caches;
    loop {
        if let (Some(certificates), Some(issuers), Some(cluster_issuers)) = (
            caches.certificates.get(),
            caches.issuers.get(),
            caches.cluster_issuers.get(),
        ) {
            let synced = tokio::join!(
                certificates.wait_until_ready(),
                issuers.wait_until_ready(),
                cluster_issuers.wait_until_ready()
            );
            if matches!(synced, (Ok(()), Ok(()), Ok(()))) {
                context.health.set_ready();
            }
            return;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

/// Drains a controller's result stream, counting every reconcile (the
/// `controller_sync_call_count` metric) and logging failures.
pub(crate) async fn drain<S, T, E>(name: &'static str, metrics: &Metrics, stream: S)
where
    S: futures_util::Stream<Item = Result<T, E>>,
    E: std::fmt::Display,
{
    stream
        .for_each(|result| async move {
            metrics.record_sync(name, result.is_err());
            if let Err(err) = result {
                tracing::debug!(controller = name, error = %err, "reconcile failed");
            }
        })
        .await;
}

/// The requeue delay after an error.
pub(crate) const ERROR_REQUEUE: Duration = Duration::from_secs(5);
