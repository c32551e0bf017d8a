//! The ACME solver flags `certwasm run` and `certwasm controller` share.

use std::collections::BTreeMap;
use std::net::SocketAddr;

use clap::Args;

use super::run::{ListenAddress, parse_listen_address};
use crate::solver::SolverOptions;
use crate::solver::http01_ingress::{
    DEFAULT_SERVICE_SELECTOR, IngressSolverOptions, parse_selector,
};

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
    /// Create a Service and an Ingress (or add a path to the Ingress
    /// `http01.ingress.name` names) per HTTP-01 challenge whose solver is
    /// `http01.ingress`, so that the ACME server reaches the solver through
    /// the cluster's ingress controller. Default: true for `controller`,
    /// false for `run` (there the server reaches the solver directly).
    #[arg(long, action = clap::ArgAction::Set)]
    pub http01_solver_ingress: Option<bool>,
    /// Labels of the controller pods that the solver Service selects
    /// (`key=value[,key=value]`); the pods must be in the challenge's
    /// namespace for a Service to select them.
    #[arg(long, default_value = DEFAULT_SERVICE_SELECTOR, value_parser = parse_service_selector)]
    pub http01_solver_service_selector: BTreeMap<String, String>,
}

fn parse_service_selector(text: &str) -> Result<BTreeMap<String, String>, String> {
    parse_selector(text).map_err(|e| e.to_string())
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
    /// The controllers' view of the flags; `in_cluster` is the default of
    /// `--http01-solver-ingress`. No solver objects without a responder to
    /// route to.
    pub fn options(&self, in_cluster: bool) -> SolverOptions {
        let http01_ingress = match (
            self.http01_solver_ingress.unwrap_or(in_cluster),
            self.http01_solver_address.0,
        ) {
            (true, Some(address)) => Some(IngressSolverOptions {
                service_selector: self.http01_solver_service_selector.clone(),
                solver_port: address.port(),
            }),
            _ => None,
        };
        SolverOptions {
            http01_address: self.http01_solver_address.0,
            self_check_port: self.http01_self_check_port,
            nameservers: self.dns_nameservers.clone(),
            http01_ingress,
        }
    }
}

#[cfg(test)]
mod tests {
    use clap::Parser;

    use super::*;

    #[derive(Parser)]
    struct Cli {
        #[command(flatten)]
        solvers: SolverArgs,
    }

    fn options(args: &[&str], in_cluster: bool) -> SolverOptions {
        let argv = std::iter::once("certwasm").chain(args.iter().copied());
        Cli::parse_from(argv).solvers.options(in_cluster)
    }

    #[test]
    fn solver_objects_are_made_in_a_cluster_unless_told_otherwise() {
        let in_cluster = options(&[], true).http01_ingress.unwrap();
        assert_eq!(in_cluster.solver_port, 8089);
        assert_eq!(
            in_cluster.service_selector,
            BTreeMap::from([("app.kubernetes.io/name".to_owned(), "certwasm".to_owned())])
        );
        assert!(options(&[], false).http01_ingress.is_none());
        assert!(
            options(&["--http01-solver-ingress", "false"], true)
                .http01_ingress
                .is_none()
        );
        let local = options(
            &[
                "--http01-solver-ingress",
                "true",
                "--http01-solver-address",
                "127.0.0.1:5002",
                "--http01-solver-service-selector",
                "app=cw,tier=ctl",
            ],
            false,
        )
        .http01_ingress
        .unwrap();
        assert_eq!((local.solver_port, local.service_selector.len()), (5002, 2));
        // No responder, nothing to route to.
        assert!(
            options(&["--http01-solver-address", "off"], true)
                .http01_ingress
                .is_none()
        );
        assert!(
            Cli::try_parse_from(["certwasm", "--http01-solver-service-selector", "novalue"])
                .is_err()
        );
    }
}
