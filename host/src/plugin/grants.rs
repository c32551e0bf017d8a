//! What an operator lets one plugin do: the grants of its plugin bundle
//! entry, as pure checks the runtime asks at each host import.
//!
//! Why separate from the issuer's own configuration: the issuer config is
//! written by whoever may create an Issuer, the grants by whoever installs
//! the plugin. The issuer config still names the hosts and Secrets a call
//! may reach; the grants are a ceiling over it, so the effective set is the
//! intersection. Bundled plugins ship with the binary and are trusted as it
//! is: they run [`Grants::unrestricted`].

use std::collections::BTreeSet;
use std::time::Duration;

use super::limits::CallLimits;

/// An operation refused by the plugin's grants, worded for the plugin's
/// error message and the host's log (it names the grant to change).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum GrantDenied {
    #[error("host {host:?} is not in the plugin bundle's allowHosts for plugin {plugin:?}")]
    Host { plugin: String, host: String },
    #[error(
        "plugin {plugin:?} may not read Secrets: its plugin bundle entry does not grant secrets"
    )]
    Secrets { plugin: String },
    #[error(
        "plugin {plugin:?} may not generate private keys: its plugin bundle entry does not grant generateKeys"
    )]
    GenerateKeys { plugin: String },
}

impl From<GrantDenied> for String {
    /// Host imports fail with a string the plugin passes on.
    fn from(denied: GrantDenied) -> String {
        tracing::warn!("plugin call refused by its grants: {denied}");
        denied.to_string()
    }
}

impl super::Plugin {
    /// The same loaded plugin, its calls bound by `grants` (a plugin bundle
    /// entry's). Calls already running keep the grants they started with.
    pub fn with_grants(mut self, grants: Grants) -> Self {
        self.grants = std::sync::Arc::new(grants);
        self
    }

    /// What the plugin's calls are granted.
    pub fn grants(&self) -> &Grants {
        &self.grants
    }
}

/// The host interfaces a component imports (`http`, `secrets`, `signer`,
/// ...), without package or version: what it asks for, set beside what its
/// bundle entry grants in `certwasm bundle inspect`. Compiles through the
/// engine's cache, so after a load this is a file map.
pub fn requested_interfaces(
    engine: &super::PluginEngine,
    name: &str,
    bytes: &[u8],
) -> Result<Vec<String>, super::PluginError> {
    let inner = &engine.inner;
    let component = match &inner.cache {
        Some(cache) => cache.load(&inner.engine, name, bytes)?.0,
        None => super::cache::compile(&inner.engine, name, bytes)?,
    };
    let mut found: Vec<String> = component
        .component_type()
        .imports(&inner.engine)
        .filter_map(|(import, _)| import.strip_prefix("certwasm:issuer/"))
        .map(|interface| interface.split('@').next().unwrap_or(interface).to_owned())
        .filter(|interface| interface != "types")
        .collect();
    found.sort();
    found.dedup();
    Ok(found)
}

/// One plugin's grants.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Grants {
    /// The hosts the plugin may reach at most (lower-case names, IP
    /// literals, or `*.domain` for any name under `domain`); `None` puts no
    /// ceiling over the issuer config.
    pub allow_hosts: Option<BTreeSet<String>>,
    /// May read Secrets the issuer config references.
    pub secrets: bool,
    /// May generate private keys (stored in a referenced Secret).
    pub generate_keys: bool,
    /// Largest linear memory of a call; `None` keeps the host's default.
    pub memory_bytes: Option<usize>,
    /// Deadline of a call; `None` keeps the host's default.
    pub timeout: Option<Duration>,
    /// Namespaces whose Issuers may use the plugin; `None` is every
    /// namespace. ClusterIssuers may always use it.
    pub namespaces: Option<BTreeSet<String>>,
}

impl Default for Grants {
    fn default() -> Self {
        Self::unrestricted()
    }
}

impl Grants {
    /// The grants of a plugin built into the binary: every host the issuer
    /// config names, its Secrets, key generation, the default limits.
    pub fn unrestricted() -> Self {
        Self {
            allow_hosts: None,
            secrets: true,
            generate_keys: true,
            memory_bytes: None,
            timeout: None,
            namespaces: None,
        }
    }

    /// Whether the plugin may reach `host` (already lower-case, IPv6
    /// without brackets, as the egress policy spells it).
    pub fn allows_host(&self, plugin: &str, host: &str) -> Result<(), GrantDenied> {
        let Some(allowed) = &self.allow_hosts else {
            return Ok(());
        };
        let host = host.to_ascii_lowercase();
        let matches = allowed
            .iter()
            .any(|pattern| match pattern.strip_prefix("*.") {
                Some(domain) => host
                    .strip_suffix(domain)
                    .is_some_and(|prefix| prefix.len() > 1 && prefix.ends_with('.')),
                None => *pattern == host,
            });
        if matches {
            Ok(())
        } else {
            Err(GrantDenied::Host {
                plugin: plugin.to_owned(),
                host,
            })
        }
    }

    /// Whether the plugin may read Secrets at all.
    pub fn may_read_secrets(&self, plugin: &str) -> Result<(), GrantDenied> {
        if self.secrets {
            Ok(())
        } else {
            Err(GrantDenied::Secrets {
                plugin: plugin.to_owned(),
            })
        }
    }

    /// Whether the plugin may generate private keys.
    pub fn may_generate_keys(&self, plugin: &str) -> Result<(), GrantDenied> {
        if self.generate_keys {
            Ok(())
        } else {
            Err(GrantDenied::GenerateKeys {
                plugin: plugin.to_owned(),
            })
        }
    }

    /// The memory a call may grow to: the grant, else the caller's limit.
    pub fn memory(&self, base: &CallLimits) -> usize {
        self.memory_bytes.unwrap_or(base.memory_bytes)
    }

    /// A call's deadline: the grant, else the caller's limit.
    pub fn deadline(&self, base: &CallLimits) -> Duration {
        self.timeout.unwrap_or(base.deadline)
    }

    /// The limits a call runs under once the grants apply.
    pub fn limits(&self, base: &CallLimits) -> CallLimits {
        CallLimits {
            memory_bytes: self.memory(base),
            deadline: self.deadline(base),
            ..*base
        }
    }

    /// Whether an issuer in `namespace` may use the plugin; `None` is a
    /// ClusterIssuer, which always may.
    pub fn allows_namespace(&self, namespace: Option<&str>) -> bool {
        match (namespace, &self.namespaces) {
            (None, _) | (_, None) => true,
            (Some(namespace), Some(allowed)) => allowed.contains(namespace),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn granted() -> Grants {
        Grants {
            allow_hosts: Some(
                [
                    "pki.example.com".into(),
                    "*.corp.example".into(),
                    "127.0.0.1".into(),
                ]
                .into(),
            ),
            secrets: false,
            generate_keys: false,
            memory_bytes: Some(32 << 20),
            timeout: Some(Duration::from_secs(5)),
            namespaces: Some(["team-a".into()].into()),
        }
    }

    #[test]
    fn hosts_are_checked_against_the_ceiling() {
        let grants = granted();
        assert!(grants.allows_host("cfssl", "pki.example.com").is_ok());
        assert!(grants.allows_host("cfssl", "PKI.example.com").is_ok());
        assert!(grants.allows_host("cfssl", "ca.corp.example").is_ok());
        assert!(grants.allows_host("cfssl", "a.b.corp.example").is_ok());
        assert!(grants.allows_host("cfssl", "127.0.0.1").is_ok());
        // The wildcard covers names under the domain, not the domain itself
        // nor a name that merely ends with the same letters.
        assert!(grants.allows_host("cfssl", "corp.example").is_err());
        assert!(grants.allows_host("cfssl", "evilcorp.example").is_err());
        let err = grants.allows_host("cfssl", "x").unwrap_err();
        assert_eq!(
            err.to_string(),
            r#"host "x" is not in the plugin bundle's allowHosts for plugin "cfssl""#
        );
        assert!(
            Grants::unrestricted()
                .allows_host("ca", "anything.example")
                .is_ok()
        );
    }

    #[test]
    fn secrets_and_keys_need_their_grants() {
        let grants = granted();
        assert!(
            grants
                .may_read_secrets("p")
                .unwrap_err()
                .to_string()
                .contains("secrets")
        );
        assert!(
            grants
                .may_generate_keys("p")
                .unwrap_err()
                .to_string()
                .contains("generateKeys")
        );
        let open = Grants::unrestricted();
        assert!(open.may_read_secrets("p").is_ok());
        assert!(open.may_generate_keys("p").is_ok());
    }

    #[test]
    fn limits_come_from_the_grant_when_set() {
        let base = CallLimits::default();
        let limits = granted().limits(&base);
        assert_eq!(limits.memory_bytes, 32 << 20);
        assert_eq!(limits.deadline, Duration::from_secs(5));
        assert_eq!(limits.max_result_bytes, base.max_result_bytes);
        assert_eq!(Grants::unrestricted().limits(&base), base);
    }

    #[test]
    fn namespaces_bind_issuers_not_cluster_issuers() {
        let grants = granted();
        assert!(grants.allows_namespace(Some("team-a")));
        assert!(!grants.allows_namespace(Some("team-b")));
        assert!(grants.allows_namespace(None));
        assert!(Grants::unrestricted().allows_namespace(Some("any")));
    }
}
