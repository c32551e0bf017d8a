//! ACME challenge solvers in the host: the plugin speaks to the ACME
//! server, the host presents what it asks for and checks that the world
//! sees it before the server is told to look (cert-manager's self-check).
//!
//! HTTP-01 is served by [`http01::Responder`] on `--http01-solver-address`
//! (cert-manager's solver port, 8089); in a cluster the ACME server reaches
//! it through a Service and an Ingress per challenge
//! ([`http01_ingress`]). DNS-01 records are written through a
//! [`dns01::DnsProvider`] (RFC 2136 for now) and checked for propagation.

pub mod dns01;
pub mod http01;
pub mod http01_ingress;
pub mod self_check;

use std::net::SocketAddr;

/// How challenges are presented and checked, as the controller's flags.
#[derive(Debug, Clone)]
pub struct SolverOptions {
    /// Where the HTTP-01 responder listens (`None`: not served).
    pub http01_address: Option<SocketAddr>,
    /// The port the HTTP-01 self-check connects to: 80 in a cluster (the
    /// ACME server validates on 80); the responder's own port when the
    /// ACME server is told to validate there (Pebble's `httpPort`).
    pub self_check_port: u16,
    /// Nameservers the self-checks resolve through (cert-manager's
    /// `--dns01-recursive-nameservers`); empty: the system resolver.
    pub nameservers: Vec<SocketAddr>,
    /// Create a Service and an Ingress per HTTP-01 challenge whose solver
    /// says `http01.ingress` (`certwasm controller`), or not (`certwasm
    /// run`, where the ACME server reaches the responder directly).
    pub http01_ingress: Option<http01_ingress::IngressSolverOptions>,
}

impl Default for SolverOptions {
    fn default() -> Self {
        SolverOptions {
            http01_address: None,
            self_check_port: 80,
            nameservers: Vec::new(),
            http01_ingress: None,
        }
    }
}

/// Why a challenge could not be presented or checked.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum SolverError {
    /// The challenge type has no solver here yet.
    #[error("{0} challenges are not supported by this certwasm yet")]
    Unsupported(String),
    /// HTTP-01 needs the responder, and it is not running.
    #[error("the HTTP-01 solver is not running (set --http01-solver-address)")]
    NoResponder,
    /// The name did not resolve.
    #[error("cannot resolve {name}: {reason}")]
    Resolve { name: String, reason: String },
    /// The self-check did not see the expected answer.
    #[error("{0}")]
    SelfCheck(String),
    /// A DNS-01 record could not be written, removed or seen.
    #[error(transparent)]
    Dns01(#[from] dns01::Dns01Error),
    /// The HTTP-01 solver Service or Ingress could not be written.
    #[error("cannot set up the HTTP-01 solver's {what}: {reason}")]
    SolverObjects { what: String, reason: String },
}
