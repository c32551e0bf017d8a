//! Starting the embedded API: open the store, seed the namespaces every
//! cluster has, listen with TLS (HTTP/2 and HTTP/1.1, as kubectl and
//! kube-rs negotiate), and write the kubeconfig.

use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;

use hyper_util::rt::{TokioExecutor, TokioIo, TokioTimer};
use hyper_util::server::conn::auto;
use hyper_util::service::TowerToHyperService;
use serde_json::json;
use tokio::net::TcpListener;
use tokio_rustls::TlsAcceptor;

use super::bootstrap::{self, BootstrapError, Credentials};
use super::handler::{self, ServerState};
use super::resource::Registry;
use super::store::{Store, StoreError};
use super::writes::{self, WriteContext};

/// Errors starting the API.
#[derive(Debug, thiserror::Error)]
pub enum ServerError {
    /// The data directory's credentials.
    #[error(transparent)]
    Bootstrap(#[from] BootstrapError),
    /// The store.
    #[error(transparent)]
    Store(#[from] StoreError),
    /// The listening socket.
    #[error("cannot listen on {address}: {source}")]
    Listen {
        /// The address asked for.
        address: SocketAddr,
        /// The socket error.
        source: std::io::Error,
    },
    /// TLS set-up.
    #[error("TLS set-up failed: {0}")]
    Tls(String),
    /// Seeding the built-in namespaces.
    #[error("cannot create namespace {name}: {message}")]
    Seed {
        /// The namespace.
        name: String,
        /// Why.
        message: String,
    },
}

/// How to run the API.
#[derive(Debug, Clone)]
pub struct ApiConfig {
    /// The data directory (store, credentials, kubeconfig).
    pub data_dir: PathBuf,
    /// Where to listen; port 0 picks a free port.
    pub address: SocketAddr,
}

/// How long a client may take to complete the TLS handshake and then to
/// send a request's headers: kube-apiserver's `ReadHeaderTimeout` (32 s,
/// "just shy of requestTimeoutUpperBound"). Without it, a client that
/// trickles its headers a byte at a time (slow loris) holds a connection
/// and its task for ever.
pub const HEADER_READ_TIMEOUT: Duration = Duration::from_secs(32);

/// The first pause after `accept` fails (out of file descriptors, most
/// likely); it doubles up to [`ACCEPT_BACKOFF_MAX`], as Go's `http.Server`
/// does, so a full descriptor table does not turn the accept loop into a
/// busy loop that starves the connections already open.
const ACCEPT_BACKOFF_MIN: Duration = Duration::from_millis(5);
/// The longest pause after a failed `accept`.
const ACCEPT_BACKOFF_MAX: Duration = Duration::from_secs(1);

/// Per-connection limits. [`ApiServer::start`] uses the defaults, which
/// are kube-apiserver's; tests shorten them to observe them.
#[derive(Debug, Clone, Copy)]
pub struct Limits {
    /// See [`HEADER_READ_TIMEOUT`].
    pub header_read_timeout: Duration,
}

impl Default for Limits {
    fn default() -> Self {
        Limits {
            header_read_timeout: HEADER_READ_TIMEOUT,
        }
    }
}

/// A running API server.
#[derive(Debug)]
pub struct ApiServer {
    /// The address it listens on.
    pub address: SocketAddr,
    /// `DIR/kubeconfig`.
    pub kubeconfig: PathBuf,
    /// The store (shared with in-process users).
    pub store: Store,
    /// The served types.
    pub registry: Arc<Registry>,
    task: tokio::task::JoinHandle<()>,
}

impl ApiServer {
    /// Starts the API; returns once it accepts connections and the
    /// kubeconfig is written.
    pub async fn start(config: ApiConfig) -> Result<ApiServer, ServerError> {
        ApiServer::start_with_limits(config, Limits::default()).await
    }

    /// [`ApiServer::start`] with other per-connection limits.
    pub async fn start_with_limits(
        config: ApiConfig,
        limits: Limits,
    ) -> Result<ApiServer, ServerError> {
        let credentials = bootstrap::credentials(&config.data_dir)?;
        let store = Store::open(&config.data_dir.join("store.redb"))?;
        let registry = Arc::new(Registry::standard());
        seed_namespaces(&store, &registry).await?;
        let listener =
            TcpListener::bind(config.address)
                .await
                .map_err(|source| ServerError::Listen {
                    address: config.address,
                    source,
                })?;
        let address = listener
            .local_addr()
            .map_err(|source| ServerError::Listen {
                address: config.address,
                source,
            })?;
        let acceptor = tls_acceptor(&credentials)?;
        let state = Arc::new(ServerState {
            registry: Arc::clone(&registry),
            store: store.clone(),
            token: credentials.token.clone(),
            address: address.to_string(),
        });
        let router = axum::Router::new()
            .fallback(handler::handle)
            .with_state(state);
        let kubeconfig = config.data_dir.join("kubeconfig");
        bootstrap::write_atomic(
            &kubeconfig,
            bootstrap::kubeconfig(&format!("https://{address}"), &credentials).as_bytes(),
            0o600,
        )?;
        let task = tokio::spawn(accept_loop(listener, acceptor, router, limits));
        Ok(ApiServer {
            address,
            kubeconfig,
            store,
            registry,
            task,
        })
    }

    /// The data directory's kubeconfig path.
    pub fn kubeconfig_path(&self) -> &Path {
        &self.kubeconfig
    }

    /// Stops accepting connections.
    pub fn shutdown(&self) {
        self.task.abort();
    }
}

fn tls_acceptor(credentials: &Credentials) -> Result<TlsAcceptor, ServerError> {
    tls_acceptor_for(&credentials.chain_pem, &credentials.key_pem)
}

/// A TLS acceptor presenting `chain_pem` with `key_pem`; the admission
/// webhook serves with the same settings.
pub(crate) fn tls_acceptor_for(chain_pem: &str, key_pem: &str) -> Result<TlsAcceptor, ServerError> {
    use rustls::pki_types::pem::PemObject;
    use rustls::pki_types::{CertificateDer, PrivateKeyDer};
    let chain: Vec<CertificateDer<'static>> = CertificateDer::pem_slice_iter(chain_pem.as_bytes())
        .collect::<Result<_, _>>()
        .map_err(|e| ServerError::Tls(e.to_string()))?;
    let key = PrivateKeyDer::from_pem_slice(key_pem.as_bytes())
        .map_err(|e| ServerError::Tls(e.to_string()))?;
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let mut config = rustls::ServerConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()
        .map_err(|e| ServerError::Tls(e.to_string()))?
        .with_no_client_auth()
        .with_single_cert(chain, key)
        .map_err(|e| ServerError::Tls(e.to_string()))?;
    config.alpn_protocols = vec![b"h2".to_vec(), b"http/1.1".to_vec()];
    Ok(TlsAcceptor::from(Arc::new(config)))
}

pub(crate) async fn accept_loop(
    listener: TcpListener,
    acceptor: TlsAcceptor,
    router: axum::Router,
    limits: Limits,
) {
    let mut builder = auto::Builder::new(TokioExecutor::new());
    builder
        .http1()
        .timer(TokioTimer::new())
        .header_read_timeout(limits.header_read_timeout);
    let builder = Arc::new(builder);
    let mut backoff = ACCEPT_BACKOFF_MIN;
    loop {
        let (stream, peer) = match listener.accept().await {
            Ok(accepted) => {
                backoff = ACCEPT_BACKOFF_MIN;
                accepted
            }
            Err(err) => {
                tracing::warn!(error = %err, pause = ?backoff, "accept failed");
                tokio::time::sleep(backoff).await;
                backoff = (backoff * 2).min(ACCEPT_BACKOFF_MAX);
                continue;
            }
        };
        let acceptor = acceptor.clone();
        let service = TowerToHyperService::new(router.clone());
        let builder = Arc::clone(&builder);
        tokio::spawn(async move {
            // The handshake counts against the header deadline too (Go's
            // server sets the read deadline before its TLS handshake).
            let tls =
                match tokio::time::timeout(limits.header_read_timeout, acceptor.accept(stream))
                    .await
                {
                    Ok(Ok(tls)) => tls,
                    Ok(Err(err)) => {
                        tracing::debug!(%peer, error = %err, "TLS handshake failed");
                        return;
                    }
                    Err(_) => {
                        tracing::debug!(%peer, "TLS handshake timed out");
                        return;
                    }
                };
            if let Err(err) = builder
                .serve_connection_with_upgrades(TokioIo::new(tls), service)
                .await
            {
                tracing::debug!(%peer, error = %err, "connection ended");
            }
        });
    }
}

/// The namespaces every cluster has.
const SEEDED_NAMESPACES: [&str; 4] = ["default", "kube-system", "kube-public", "kube-node-lease"];

async fn seed_namespaces(store: &Store, registry: &Arc<Registry>) -> Result<(), ServerError> {
    let Some(namespaces) = registry.lookup("", "v1", "namespaces") else {
        return Ok(());
    };
    for name in SEEDED_NAMESPACES {
        if store.get(&namespaces.key("", name))?.is_some() {
            continue;
        }
        let ctx = WriteContext {
            registry: Arc::clone(registry),
            user: crate::api::defaults::UserInfo::default(),
            fields: super::admission::FieldValidation::Strict,
            now: time::OffsetDateTime::now_utc(),
            manager: "certwasm".to_owned(),
            warnings: Arc::default(),
        };
        let resource = Arc::clone(&namespaces);
        let body = json!({"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": name}});
        store
            .write(Box::new(move |txn| {
                writes::create(txn, &ctx, &resource, "", body)
            }))
            .await
            .map_err(|err| ServerError::Seed {
                name: name.to_owned(),
                message: err.message,
            })?;
    }
    Ok(())
}
