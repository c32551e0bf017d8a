//! ACME challenge solvers in the host: the plugin speaks to the ACME
//! server, the host presents what it asks for and checks that the world
//! sees it before the server is told to look (cert-manager's self-check).
//!
//! HTTP-01 is served by [`http01::Responder`] on `--http01-solver-address`
//! (cert-manager's solver port, 8089). DNS-01 providers are not built yet:
//! a DNS-01 challenge is reported as not presentable.

pub mod http01;
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
}

impl Default for SolverOptions {
    fn default() -> Self {
        SolverOptions {
            http01_address: None,
            self_check_port: 80,
            nameservers: Vec::new(),
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
}
