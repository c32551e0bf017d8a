//! The ACME solver flags `certwasm run` and `certwasm controller` share.

use std::net::SocketAddr;

use clap::Args;

use super::run::{ListenAddress, parse_listen_address};
use crate::solver::SolverOptions;

/// Where HTTP-01 challenges are served and how self-checks resolve names.
#[derive(Debug, Clone, Args)]
pub struct SolverArgs {
    /// Address of the HTTP-01 solver (cert-manager's solver port); the ACME
    /// server must reach it on port 80 of each name (a Service and Ingress
    /// in a cluster, a port forward elsewhere). `off` serves none.
    #[arg(long, default_value = "0.0.0.0:8089", value_parser = parse_listen_address)]
    pub http01_solver_address: ListenAddress,
    /// The port the HTTP-01 self-check connects to (80, where ACME servers
    /// validate; a test server such as Pebble may validate elsewhere).
    #[arg(long, default_value_t = 80)]
    pub http01_self_check_port: u16,
    /// Nameservers (ADDR or ADDR:PORT, comma separated) the self-checks
    /// resolve through, as cert-manager's --dns01-recursive-nameservers;
    /// default: the system resolver.
    #[arg(long, value_delimiter = ',', value_parser = parse_nameserver)]
    pub dns_nameservers: Vec<SocketAddr>,
}

fn parse_nameserver(text: &str) -> Result<SocketAddr, String> {
    text.parse::<SocketAddr>()
        .or_else(|_| {
            text.parse::<std::net::IpAddr>()
                .map(|ip| SocketAddr::new(ip, 53))
        })
        .map_err(|_| format!("{text:?} is not ADDR or ADDR:PORT"))
}

impl SolverArgs {
    /// The controllers' view of the flags.
    pub fn options(&self) -> SolverOptions {
        SolverOptions {
            http01_address: self.http01_solver_address.0,
            self_check_port: self.http01_self_check_port,
            nameservers: self.dns_nameservers.clone(),
        }
    }
}
