//! Outbound HTTP for plugins: the effect behind the `http` import.
//!
//! The egress decision is made in [`super::egress`]; this module only
//! resolves names and performs requests, pinned to the addresses that were
//! checked.

use std::collections::HashMap;
use std::net::{IpAddr, SocketAddr, ToSocketAddrs};
use std::sync::{Arc, Mutex, OnceLock, PoisonError};
use std::time::Duration;

use sha2::{Digest, Sha256};
use url::Url;

/// Largest response body handed to a plugin. Larger bodies would only eat
/// into the plugin's memory cap; no issuer API returns more.
pub const MAX_RESPONSE_BYTES: usize = 4 << 20;

/// One request, after the egress check.
#[derive(Debug, Clone)]
pub struct OutboundRequest {
    pub method: String,
    pub url: Url,
    pub headers: Vec<(String, String)>,
    pub body: Vec<u8>,
    /// The issuer's `caBundle`, PEM: when set, the only trusted roots.
    pub ca_bundle_pem: Option<String>,
    pub timeout: Duration,
    /// The checked addresses to connect to (for a host name).
    pub pinned: Vec<SocketAddr>,
    /// A client certificate to present (`http.send-tls`).
    pub client_identity: Option<ClientIdentity>,
    /// The TLS name to send and verify instead of the URL's host
    /// (`http.send-tls`); the connection still goes to the URL's host.
    pub server_name: Option<String>,
}

/// A TLS client certificate and its private key, PEM, read by the host from
/// Secrets for one request. The key never reaches the plugin; here it is
/// zeroed when the last copy is dropped, and `Debug` shows only a digest.
#[derive(Clone)]
pub struct ClientIdentity {
    pem: Arc<zeroize::Zeroizing<Vec<u8>>>,
    digest: String,
}

impl ClientIdentity {
    /// The certificate chain and key, each PEM.
    pub fn from_pem(certificate_pem: &[u8], key_pem: &[u8]) -> Self {
        let mut pem = zeroize::Zeroizing::new(Vec::with_capacity(
            certificate_pem.len() + key_pem.len() + 1,
        ));
        pem.extend_from_slice(certificate_pem);
        pem.push(b'\n');
        pem.extend_from_slice(key_pem);
        let digest = hex::encode(Sha256::digest(pem.as_slice()));
        Self {
            pem: Arc::new(pem),
            digest,
        }
    }

    /// SHA-256 of the PEM, naming the identity in client caches and logs.
    pub fn digest(&self) -> &str {
        &self.digest
    }
}

impl std::fmt::Debug for ClientIdentity {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ClientIdentity")
            .field("sha256", &self.digest)
            .finish_non_exhaustive()
    }
}

/// Where a request with a TLS server name really goes: the URL rewritten to
/// the server name (so that the TLS stack sends it as SNI and verifies the
/// certificate against it), and that name pinned to the addresses of the
/// original host, which the egress policy checked.
fn retarget(
    url: &Url,
    pinned: &[SocketAddr],
    server_name: &str,
) -> Result<(Url, Vec<SocketAddr>), String> {
    let port = url.port_or_known_default().unwrap_or(443);
    let addresses = match url.host() {
        _ if !pinned.is_empty() => pinned.to_vec(),
        Some(url::Host::Ipv4(ip)) => vec![SocketAddr::new(ip.into(), port)],
        Some(url::Host::Ipv6(ip)) => vec![SocketAddr::new(ip.into(), port)],
        _ => return Err(format!("no checked address to connect to for {url}")),
    };
    if server_name.parse::<IpAddr>().is_ok()
        || server_name
            .trim_matches(['[', ']'])
            .parse::<IpAddr>()
            .is_ok()
    {
        return Err(format!(
            "the TLS server name {server_name:?} must be a DNS name, not an address"
        ));
    }
    let mut target = url.clone();
    target.set_host(Some(server_name)).map_err(|e| {
        format!("the TLS server name {server_name:?} is not a valid host name: {e}")
    })?;
    if target.domain().is_none() {
        return Err(format!(
            "the TLS server name {server_name:?} must be a DNS name, not an address"
        ));
    }
    Ok((target, addresses))
}

/// A response, headers lower-cased.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct OutboundResponse {
    pub status: u16,
    pub headers: Vec<(String, String)>,
    pub body: Vec<u8>,
}

/// Name resolution and HTTP, as the `http` import needs them. Tests swap in
/// a resolver that maps names to chosen addresses.
pub trait Outbound: Send + Sync {
    /// Resolves a host name (not an IP literal) to addresses.
    fn resolve(&self, host: &str, port: u16) -> Result<Vec<IpAddr>, String>;
    /// Performs the request; errors are transport failures worded for a user.
    fn send(&self, request: OutboundRequest) -> Result<OutboundResponse, String>;
}

/// The production [`Outbound`]: the system resolver and reqwest with rustls.
///
/// Plugin calls run on blocking threads, so requests are driven on a small
/// runtime of this type's own and awaited through a channel; that works
/// whether or not the calling thread belongs to another tokio runtime.
#[derive(Default)]
pub struct ReqwestOutbound {
    runtime: OnceLock<Result<tokio::runtime::Runtime, String>>,
    /// Clients by (host, pinned addresses, CA bundle digest): building a
    /// client loads the system roots, which costs milliseconds.
    clients: Mutex<HashMap<String, reqwest::Client>>,
}

impl std::fmt::Debug for ReqwestOutbound {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ReqwestOutbound").finish_non_exhaustive()
    }
}

impl ReqwestOutbound {
    /// A shared instance.
    pub fn shared() -> Arc<Self> {
        Arc::new(Self::default())
    }

    fn runtime(&self) -> Result<&tokio::runtime::Runtime, String> {
        self.runtime
            .get_or_init(|| {
                tokio::runtime::Builder::new_multi_thread()
                    .worker_threads(1)
                    .thread_name("certwasm-outbound")
                    .enable_all()
                    .build()
                    .map_err(|e| format!("starting the HTTP runtime: {e}"))
            })
            .as_ref()
            .map_err(Clone::clone)
    }

    fn client(&self, request: &OutboundRequest) -> Result<reqwest::Client, String> {
        let host = request.url.host_str().unwrap_or_default().to_owned();
        let bundle_digest = request
            .ca_bundle_pem
            .as_deref()
            .map(|pem| hex::encode(Sha256::digest(pem.as_bytes())))
            .unwrap_or_default();
        let identity = request
            .client_identity
            .as_ref()
            .map_or("", ClientIdentity::digest);
        let key = format!("{host}|{:?}|{bundle_digest}|{identity}", request.pinned);
        let mut clients = self.clients.lock().unwrap_or_else(PoisonError::into_inner);
        if let Some(client) = clients.get(&key) {
            return Ok(client.clone());
        }
        let mut builder = reqwest::Client::builder()
            .use_rustls_tls()
            // Redirects would bypass the egress check: the plugin follows
            // them itself, through another checked request.
            .redirect(reqwest::redirect::Policy::none())
            .user_agent(concat!("certwasm/", env!("CARGO_PKG_VERSION")));
        if !request.pinned.is_empty() {
            builder = builder.resolve_to_addrs(&host, &request.pinned);
        }
        match (&request.ca_bundle_pem, &request.client_identity) {
            // A pinned bundle is the only trust, as in cert-manager; see
            // `pinned_tls` for the self-signed server certificate it admits.
            (Some(pem), identity) => {
                let identity = identity.as_ref().map(|id| id.pem.as_slice());
                builder =
                    builder.use_preconfigured_tls(super::pinned_tls::client_config(pem, identity)?);
            }
            (None, Some(identity)) => {
                let identity =
                    reqwest::Identity::from_pem(identity.pem.as_slice()).map_err(|e| {
                        format!("the client certificate and key are not a usable PEM pair: {e}")
                    })?;
                builder = builder.identity(identity);
            }
            (None, None) => {}
        }
        let client = builder
            .build()
            .map_err(|e| format!("building the HTTP client: {e}"))?;
        if clients.len() > 256 {
            clients.clear();
        }
        clients.insert(key, client.clone());
        Ok(client)
    }
}

impl Outbound for ReqwestOutbound {
    fn resolve(&self, host: &str, port: u16) -> Result<Vec<IpAddr>, String> {
        let addresses = (host, port)
            .to_socket_addrs()
            .map_err(|e| format!("resolving {host}: {e}"))?;
        Ok(addresses.map(|a| a.ip()).collect())
    }

    fn send(&self, mut request: OutboundRequest) -> Result<OutboundResponse, String> {
        let method = reqwest::Method::from_bytes(request.method.as_bytes())
            .map_err(|_| format!("{:?} is not an HTTP method", request.method))?;
        let mut host_header = None;
        // Errors name the URL the plugin asked for, not the retargeted one.
        let shown = request.url.clone();
        if let Some(server_name) = request.server_name.take() {
            if request.url.scheme() != "https" {
                return Err(format!(
                    "a TLS server name was given for {}, which is not an https URL",
                    request.url
                ));
            }
            let (target, pinned) = retarget(&request.url, &request.pinned, &server_name)?;
            // The Host header stays the URL's, as Go's client (and so
            // cert-manager) keeps it when tls.Config.ServerName is set.
            host_header = Some(match request.url.port() {
                Some(port) => format!("{}:{port}", request.url.host_str().unwrap_or_default()),
                None => request.url.host_str().unwrap_or_default().to_owned(),
            });
            request.url = target;
            request.pinned = pinned;
        }
        if request.client_identity.is_some() && request.url.scheme() != "https" {
            return Err(format!(
                "a TLS client certificate was given for {}, which is not an https URL",
                request.url
            ));
        }
        let client = self.client(&request)?;
        let timeout = request.timeout;
        let url = shown.clone();
        let mut builder = client.request(method, request.url.clone()).timeout(timeout);
        if let Some(host) = host_header {
            builder = builder.header(reqwest::header::HOST, host);
        }
        for (name, value) in &request.headers {
            builder = builder.header(name, value);
        }
        let builder = builder.body(request.body);
        let (done, result) = std::sync::mpsc::channel();
        self.runtime()?.spawn(async move {
            let outcome = async {
                let mut response = builder.send().await.map_err(|e| describe(&url, &e))?;
                let status = response.status().as_u16();
                let headers = response
                    .headers()
                    .iter()
                    .map(|(k, v)| {
                        (
                            k.as_str().to_owned(),
                            String::from_utf8_lossy(v.as_bytes()).into_owned(),
                        )
                    })
                    .collect();
                let mut body = Vec::new();
                while let Some(chunk) = response.chunk().await.map_err(|e| describe(&url, &e))? {
                    if body.len() + chunk.len() > MAX_RESPONSE_BYTES {
                        return Err(format!(
                            "response from {url} is larger than {MAX_RESPONSE_BYTES} bytes"
                        ));
                    }
                    body.extend_from_slice(&chunk);
                }
                Ok(OutboundResponse {
                    status,
                    headers,
                    body,
                })
            }
            .await;
            // The receiver is gone only if the call already timed out.
            let _ = done.send(outcome);
        });
        result
            .recv_timeout(timeout + Duration::from_millis(100))
            .map_err(|_| format!("request to {shown} timed out after {timeout:?}"))?
    }
}

/// Words a reqwest error for a plugin author: what failed, and the cause
/// chain (connection refused, certificate unknown, ...).
fn describe(url: &Url, err: &reqwest::Error) -> String {
    use std::error::Error as _;
    let mut message = if err.is_timeout() {
        format!("request to {url} timed out")
    } else if err.is_connect() {
        format!("cannot connect to {url}")
    } else {
        format!("request to {url} failed")
    };
    let mut source = err.source();
    while let Some(cause) = source {
        message.push_str(": ");
        message.push_str(&cause.to_string());
        source = cause.source();
    }
    message
}
