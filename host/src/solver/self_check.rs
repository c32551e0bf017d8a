//! cert-manager's self-check: before the ACME server is asked to validate,
//! fetch the challenge the way the server will (resolving the name through
//! the configured nameservers) and compare the answer.

use std::net::{IpAddr, SocketAddr};
use std::time::Duration;

use hickory_resolver::TokioResolver;
use hickory_resolver::config::{NameServerConfig, ResolverConfig};
use hickory_resolver::name_server::TokioConnectionProvider;
use hickory_resolver::proto::xfer::Protocol;

use super::{SolverError, SolverOptions};

/// A resolver for the configured nameservers, or the system's. A fresh
/// one per check: a cached negative answer would hide a record that has
/// just been written.
pub(crate) fn resolver(nameservers: &[SocketAddr]) -> Result<TokioResolver, SolverError> {
    let failed = |reason: String| SolverError::Resolve {
        name: "(resolver)".to_owned(),
        reason,
    };
    if nameservers.is_empty() {
        return Ok(TokioResolver::builder_tokio()
            .map_err(|e| failed(e.to_string()))?
            .build());
    }
    let mut config = ResolverConfig::new();
    for address in nameservers {
        config.add_name_server(NameServerConfig::new(*address, Protocol::Udp));
    }
    Ok(TokioResolver::builder_with_config(config, TokioConnectionProvider::default()).build())
}

/// The first address `name` resolves to.
async fn resolve(name: &str, nameservers: &[SocketAddr]) -> Result<IpAddr, SolverError> {
    if let Ok(ip) = name.parse::<IpAddr>() {
        return Ok(ip);
    }
    let failed = |reason: String| SolverError::Resolve {
        name: name.to_owned(),
        reason,
    };
    let fqdn = format!("{}.", name.trim_end_matches('.'));
    let found = resolver(nameservers)?
        .lookup_ip(fqdn.as_str())
        .await
        .map_err(|e| failed(e.to_string()))?;
    found
        .iter()
        .next()
        .ok_or_else(|| failed("no addresses".to_owned()))
}

/// Fetches `http://<name>/.well-known/acme-challenge/<token>` (on the
/// self-check port) and compares it with `key`, in cert-manager's words
/// when it differs.
pub async fn http01(
    options: &SolverOptions,
    name: &str,
    token: &str,
    key: &str,
) -> Result<(), SolverError> {
    let ip = resolve(name, &options.nameservers).await?;
    let url = format!(
        "http://{name}:{}/.well-known/acme-challenge/{token}",
        options.self_check_port
    );
    let client = reqwest::Client::builder()
        .resolve(name, SocketAddr::new(ip, options.self_check_port))
        .timeout(Duration::from_secs(10))
        .redirect(reqwest::redirect::Policy::limited(10))
        .build()
        .map_err(|e| SolverError::SelfCheck(e.to_string()))?;
    let waiting = |why: String| {
        SolverError::SelfCheck(format!("Waiting for HTTP-01 challenge propagation: {why}"))
    };
    let response = client.get(&url).send().await.map_err(|e| {
        waiting(format!(
            "failed to perform self check GET request '{url}': {e}"
        ))
    })?;
    let status = response.status();
    if !status.is_success() {
        return Err(waiting(format!(
            "wrong status code '{}', expected '200'",
            status.as_u16()
        )));
    }
    let body = response.text().await.unwrap_or_default();
    if body.trim() != key {
        return Err(waiting(format!(
            "did not get expected response when querying endpoint, expected \"{key}\" but got: {}",
            body.chars().take(64).collect::<String>()
        )));
    }
    Ok(())
}
