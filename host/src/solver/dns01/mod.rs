//! DNS-01 in the host: a [`DnsProvider`] puts the challenge's TXT record at
//! `_acme-challenge.<name>.` and takes it away again; [`self_check`] waits
//! until the record is visible through the recursive nameservers, as
//! cert-manager's propagation check does, before the ACME server is asked
//! to look.
//!
//! The trait is deliberately narrow (present / clean up one record) so that
//! more providers — and later DNS-solver WebAssembly plugins — can slot in
//! behind the same two calls. RFC 2136 ([`rfc2136`]) is the one built in.

pub mod rfc2136;

use std::future::Future;
use std::net::SocketAddr;
use std::pin::Pin;

use hickory_resolver::proto::rr::RecordType;

use crate::api::AcmeChallengeSolver;

/// Why a DNS-01 record could not be presented, removed or seen.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum Dns01Error {
    /// The solver names no DNS provider this host can drive.
    #[error(
        "no supported DNS-01 provider is configured for this solver (certwasm supports rfc2136)"
    )]
    NoProvider,
    /// The provider's configuration is unusable.
    #[error("invalid rfc2136 configuration: {0}")]
    Config(String),
    /// The TSIG Secret could not be read.
    #[error("{0}")]
    Secret(String),
    /// No zone (SOA) was found above the record's name.
    #[error("could not find the zone for {fqdn}: {reason}")]
    Zone { fqdn: String, reason: String },
    /// The nameserver did not accept the update.
    #[error("DNS update of {fqdn} at {server} failed: {reason}")]
    Update {
        fqdn: String,
        server: String,
        reason: String,
    },
    /// The record is not (yet) visible; cert-manager's wording.
    #[error("Waiting for DNS-01 challenge propagation: {0}")]
    Propagation(String),
}

/// A boxed future, so that [`DnsProvider`] stays object-safe (a provider
/// is chosen per challenge at run time).
pub type ProviderFuture<'a> = Pin<Box<dyn Future<Output = Result<(), Dns01Error>> + Send + 'a>>;

/// Something that can publish and withdraw one DNS-01 TXT record.
pub trait DnsProvider: Send + Sync {
    /// Adds `value` as a TXT record at `fqdn` (absolute, trailing dot);
    /// other values at the same name (a wildcard and its base name share
    /// one) must stay.
    fn present<'a>(&'a self, fqdn: &'a str, value: &'a str) -> ProviderFuture<'a>;
    /// Removes exactly that TXT record; absent is fine.
    fn clean_up<'a>(&'a self, fqdn: &'a str, value: &'a str) -> ProviderFuture<'a>;
}

/// The record name for a challenge on `dns_name` (reported without the
/// `*.` of a wildcard): `_acme-challenge.<name>.`.
pub fn challenge_fqdn(dns_name: &str) -> String {
    let name = dns_name.trim_start_matches("*.").trim_end_matches('.');
    format!("_acme-challenge.{name}.")
}

/// Reads one Secret entry: the controller supplies it (the API client
/// lives there), so providers stay testable without one.
pub trait SecretReader: Send + Sync {
    /// The bytes of `key` in Secret `namespace/name`.
    fn read<'a>(
        &'a self,
        namespace: &'a str,
        name: &'a str,
        key: &'a str,
    ) -> Pin<Box<dyn Future<Output = Result<Vec<u8>, Dns01Error>> + Send + 'a>>;
}

/// Secrets read through the Kubernetes API (the cluster's or the embedded
/// one).
pub struct ApiSecrets(pub kube::Client);

impl std::fmt::Debug for ApiSecrets {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ApiSecrets").finish_non_exhaustive()
    }
}

impl SecretReader for ApiSecrets {
    fn read<'a>(
        &'a self,
        namespace: &'a str,
        name: &'a str,
        key: &'a str,
    ) -> Pin<Box<dyn Future<Output = Result<Vec<u8>, Dns01Error>> + Send + 'a>> {
        Box::pin(async move {
            let api: kube::Api<k8s_openapi::api::core::v1::Secret> =
                kube::Api::namespaced(self.0.clone(), namespace);
            let secret = api
                .get_opt(name)
                .await
                .map_err(|e| {
                    Dns01Error::Secret(format!("cannot read Secret {namespace}/{name}: {e}"))
                })?
                .ok_or_else(|| {
                    Dns01Error::Secret(format!("Secret {namespace}/{name} not found"))
                })?;
            secret
                .data
                .and_then(|mut data| data.remove(key))
                .map(|value| value.0)
                .ok_or_else(|| {
                    Dns01Error::Secret(format!("Secret {namespace}/{name} has no key {key:?}"))
                })
        })
    }
}

/// The provider a solver configures: its `dns01.rfc2136`, with the TSIG
/// secret read from `secret_namespace` (the Issuer's namespace, or the
/// cluster resource namespace for a ClusterIssuer).
pub async fn provider_for(
    solver: &AcmeChallengeSolver,
    secret_namespace: &str,
    secrets: &dyn SecretReader,
    recursive: &[SocketAddr],
) -> Result<Box<dyn DnsProvider>, Dns01Error> {
    let Some(config) = solver.dns01.as_ref().and_then(|d| d.rfc2136.as_ref()) else {
        return Err(Dns01Error::NoProvider);
    };
    let secret = match &config.tsig_secret_secret_ref {
        Some(reference) => {
            let key = reference.key.as_deref().unwrap_or_default();
            if key.is_empty() {
                return Err(Dns01Error::Config(
                    "tsigSecretSecretRef.key must be set".to_owned(),
                ));
            }
            Some(secrets.read(secret_namespace, &reference.name, key).await?)
        }
        None => None,
    };
    Ok(Box::new(
        rfc2136::Rfc2136::new(config, secret.as_deref(), recursive.to_vec()).await?,
    ))
}

/// cert-manager's propagation check: the TXT records at `fqdn`, resolved
/// through `nameservers` (the system resolver when empty), must include
/// `value`.
pub async fn self_check(
    nameservers: &[SocketAddr],
    fqdn: &str,
    value: &str,
) -> Result<(), Dns01Error> {
    let not_yet =
        || Dns01Error::Propagation(format!("DNS record for \"{fqdn}\" not yet propagated"));
    let resolver = super::self_check::resolver(nameservers)
        .map_err(|e| Dns01Error::Propagation(e.to_string()))?;
    let Ok(found) = resolver.lookup(fqdn, RecordType::TXT).await else {
        return Err(not_yet());
    };
    let values: Vec<String> = found
        .record_iter()
        .filter_map(|record| record.data().as_txt().map(ToString::to_string))
        .collect();
    if values.iter().any(|v| v == value) {
        Ok(())
    } else {
        Err(not_yet())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_record_is_under_acme_challenge_of_the_base_name() {
        assert_eq!(
            challenge_fqdn("example.com"),
            "_acme-challenge.example.com."
        );
        assert_eq!(
            challenge_fqdn("*.example.com"),
            "_acme-challenge.example.com."
        );
        assert_eq!(
            challenge_fqdn("www.example.com."),
            "_acme-challenge.www.example.com."
        );
    }

    #[test]
    fn propagation_is_worded_as_cert_manager_words_it() {
        let error = Dns01Error::Propagation(
            "DNS record for \"_acme-challenge.example.com.\" not yet propagated".to_owned(),
        );
        assert!(
            error
                .to_string()
                .starts_with("Waiting for DNS-01 challenge propagation: DNS record for")
        );
    }

    struct NoSecrets;
    impl SecretReader for NoSecrets {
        fn read<'a>(
            &'a self,
            namespace: &'a str,
            name: &'a str,
            _: &'a str,
        ) -> Pin<Box<dyn Future<Output = Result<Vec<u8>, Dns01Error>> + Send + 'a>> {
            Box::pin(async move { Err(Dns01Error::Secret(format!("{namespace}/{name}"))) })
        }
    }

    #[tokio::test]
    async fn a_solver_without_rfc2136_has_no_provider() {
        let solver = AcmeChallengeSolver::default();
        let err = provider_for(&solver, "default", &NoSecrets, &[])
            .await
            .err();
        assert_eq!(err, Some(Dns01Error::NoProvider));
    }
}
