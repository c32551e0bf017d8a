//! Which outbound HTTP a plugin may make: a pure decision from the issuer's
//! configuration, the request URL and the addresses its host resolved to.
//!
//! A plugin may only reach the hosts its issuer config names (the ACME
//! directory, the Vault server, a third-party plugin's endpoint). Because a
//! named host can resolve anywhere, the resolved addresses are checked too:
//! loopback, link-local, unspecified, multicast and cloud metadata addresses
//! are refused unless the config names that very address as a URL host
//! (`https://127.0.0.1:14000/dir` in a test). The host then connects to the
//! addresses it checked, never resolving again, so DNS cannot be re-bound
//! between check and connect.

use std::collections::BTreeSet;
use std::net::IpAddr;

use serde_json::Value;
use url::{Host, Url};

/// Why a request was refused, worded for the plugin's error message.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum EgressDenied {
    #[error("{0:?} is not an absolute http or https URL")]
    BadUrl(String),
    #[error("host {host:?} is not named in the issuer configuration (allowed: {allowed})")]
    HostNotAllowed { host: String, allowed: String },
    #[error(
        "host {host:?} resolves to {address}, a {class} address, which the issuer configuration does not name"
    )]
    AddressNotAllowed {
        host: String,
        address: IpAddr,
        class: &'static str,
    },
    #[error("host {0:?} did not resolve to any address")]
    NoAddress(String),
}

/// The hosts and special addresses an issuer's plugin may reach.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct EgressPolicy {
    /// Lower-case host names and IP literals (IPv6 without brackets).
    hosts: BTreeSet<String>,
    /// IP literals named as URL hosts: the only special addresses allowed.
    named_addresses: BTreeSet<IpAddr>,
}

impl EgressPolicy {
    /// Collects the host of every `http`/`https` URL found anywhere in the
    /// issuer's spec (e.g. `acme.server`, `vault.server`).
    pub fn from_issuer_spec(spec: &Value) -> Self {
        let mut policy = Self::default();
        collect_urls(spec, &mut |text| {
            if let Ok(url) = Url::parse(text)
                && matches!(url.scheme(), "http" | "https")
            {
                policy.allow_url_host(&url);
            }
        });
        for url in venafi_urls(spec) {
            if let Ok(url) = Url::parse(&url) {
                policy.allow_url_host(&url);
            }
        }
        policy
    }

    fn allow_url_host(&mut self, url: &Url) {
        match url.host() {
            Some(Host::Domain(name)) => {
                self.hosts.insert(name.to_ascii_lowercase());
            }
            Some(Host::Ipv4(ip)) => {
                self.hosts.insert(ip.to_string());
                self.named_addresses.insert(IpAddr::V4(ip));
            }
            Some(Host::Ipv6(ip)) => {
                self.hosts.insert(ip.to_string());
                self.named_addresses.insert(IpAddr::V6(ip));
            }
            None => {}
        }
    }

    /// Checks the URL before resolving; returns the parsed URL and its host
    /// as it must be resolved.
    pub fn check_url(&self, url: &str) -> Result<(Url, String), EgressDenied> {
        let parsed = Url::parse(url).map_err(|_| EgressDenied::BadUrl(url.to_owned()))?;
        if !matches!(parsed.scheme(), "http" | "https") {
            return Err(EgressDenied::BadUrl(url.to_owned()));
        }
        let host = match parsed.host() {
            Some(Host::Domain(name)) => name.to_ascii_lowercase(),
            Some(Host::Ipv4(ip)) => ip.to_string(),
            Some(Host::Ipv6(ip)) => ip.to_string(),
            None => return Err(EgressDenied::BadUrl(url.to_owned())),
        };
        if !self.hosts.contains(&host) {
            let allowed = if self.hosts.is_empty() {
                "none".to_owned()
            } else {
                self.hosts.iter().cloned().collect::<Vec<_>>().join(", ")
            };
            return Err(EgressDenied::HostNotAllowed { host, allowed });
        }
        Ok((parsed, host))
    }

    /// Checks every address `host` resolved to: one forbidden address fails
    /// the request, since the connection could land on any of them.
    pub fn check_addresses(&self, host: &str, addresses: &[IpAddr]) -> Result<(), EgressDenied> {
        if addresses.is_empty() {
            return Err(EgressDenied::NoAddress(host.to_owned()));
        }
        for address in addresses {
            if let Some(class) = special_class(address)
                && !self.named_addresses.contains(address)
            {
                return Err(EgressDenied::AddressNotAllowed {
                    host: host.to_owned(),
                    address: *address,
                    class,
                });
            }
        }
        Ok(())
    }
}

/// Venafi URLs the generic scan misses, as cert-manager's Venafi issuer
/// (through vcert) reads them: `cloud.url` defaults to Venafi Cloud's
/// public API, and a TPP or Cloud URL written without a scheme means
/// `https://`.
fn venafi_urls(spec: &Value) -> Vec<String> {
    let Some(venafi) = spec.get("venafi") else {
        return Vec::new();
    };
    let mut urls = Vec::new();
    for (section, default) in [("tpp", None), ("cloud", Some("https://api.venafi.cloud/"))] {
        let Some(config) = venafi.get(section) else {
            continue;
        };
        match config.get("url").and_then(Value::as_str).map(str::trim) {
            Some(url) if !url.is_empty() && !url.contains("://") => {
                urls.push(format!("https://{url}"));
            }
            Some(url) if !url.is_empty() => {}
            _ => urls.extend(default.map(str::to_owned)),
        }
    }
    urls
}

fn collect_urls(value: &Value, found: &mut impl FnMut(&str)) {
    match value {
        Value::String(text) if text.contains("://") => found(text),
        Value::Array(items) => items.iter().for_each(|item| collect_urls(item, found)),
        Value::Object(map) => map.values().for_each(|item| collect_urls(item, found)),
        _ => {}
    }
}

/// Names the class of an address a plugin must not reach by accident, or
/// `None` for an ordinary (public or private-network) address. Private
/// ranges stay allowed: in-cluster Vault and ACME servers live there.
pub fn special_class(address: &IpAddr) -> Option<&'static str> {
    let address = match address {
        IpAddr::V6(v6) => v6.to_ipv4_mapped().map(IpAddr::V4).unwrap_or(*address),
        IpAddr::V4(_) => *address,
    };
    match address {
        IpAddr::V4(v4) => {
            let octets = v4.octets();
            if v4.is_loopback() {
                Some("loopback")
            } else if octets == [169, 254, 169, 254] || octets == [100, 100, 100, 200] {
                Some("cloud metadata")
            } else if v4.is_link_local() {
                Some("link-local")
            } else if v4.is_unspecified() || v4.is_broadcast() || octets[0] == 0 {
                Some("unspecified")
            } else if v4.is_multicast() {
                Some("multicast")
            } else {
                None
            }
        }
        IpAddr::V6(v6) => {
            let segments = v6.segments();
            if v6.is_loopback() {
                Some("loopback")
            } else if segments == [0xfd00, 0x0ec2, 0, 0, 0, 0, 0, 0x0254] {
                Some("cloud metadata")
            } else if segments[0] & 0xffc0 == 0xfe80 {
                Some("link-local")
            } else if v6.is_unspecified() {
                Some("unspecified")
            } else if v6.is_multicast() {
                Some("multicast")
            } else {
                None
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn policy() -> EgressPolicy {
        EgressPolicy::from_issuer_spec(&json!({
            "acme": {
                "server": "https://acme.example.com/directory",
                "solvers": [{"http01": {"ingress": {"class": "nginx"}}}]
            },
            "vault": {"server": "http://127.0.0.1:8200", "path": "pki/sign/x"},
            "plugin": {"config": {"endpoints": ["https://[::1]:9443/api", "ftp://files.example"]}}
        }))
    }

    #[test]
    fn only_named_hosts_pass() {
        let policy = policy();
        assert!(
            policy
                .check_url("https://acme.example.com/acme/new-order")
                .is_ok()
        );
        assert!(
            policy
                .check_url("https://ACME.example.com:8443/other")
                .is_ok()
        );
        assert!(
            policy
                .check_url("http://127.0.0.1:9999/v1/sys/health")
                .is_ok()
        );
        assert!(policy.check_url("https://[::1]:1/x").is_ok());
        let err = policy.check_url("https://evil.example.net/").unwrap_err();
        assert!(
            matches!(err, EgressDenied::HostNotAllowed { ref host, .. } if host == "evil.example.net")
        );
        assert!(err.to_string().contains("acme.example.com"));
        // Only http(s) URLs name hosts; other schemes are refused outright.
        assert!(policy.check_url("https://files.example/").is_err());
        assert!(matches!(
            policy.check_url("file:///etc/passwd"),
            Err(EgressDenied::BadUrl(_))
        ));
        assert!(matches!(
            policy.check_url("not a url"),
            Err(EgressDenied::BadUrl(_))
        ));
    }

    #[test]
    fn special_addresses_need_to_be_named() {
        let policy = policy();
        let loopback: IpAddr = "127.0.0.1".parse().unwrap();
        let metadata: IpAddr = "169.254.169.254".parse().unwrap();
        let public: IpAddr = "203.0.113.7".parse().unwrap();
        let private: IpAddr = "10.96.0.12".parse().unwrap();
        assert!(
            policy
                .check_addresses("acme.example.com", &[public, private])
                .is_ok()
        );
        let err = policy
            .check_addresses("acme.example.com", &[public, metadata])
            .unwrap_err();
        assert_eq!(
            err,
            EgressDenied::AddressNotAllowed {
                host: "acme.example.com".into(),
                address: metadata,
                class: "cloud metadata"
            }
        );
        // 127.0.0.1 is named as a URL host, so it may be reached by any name.
        assert!(
            policy
                .check_addresses("acme.example.com", &[loopback])
                .is_ok()
        );
        // Another loopback address is not.
        let other_loopback: IpAddr = "127.0.0.2".parse().unwrap();
        assert!(
            policy
                .check_addresses("acme.example.com", &[other_loopback])
                .is_err()
        );
        assert!(policy.check_addresses("acme.example.com", &[]).is_err());
    }

    #[test]
    fn classifies_addresses() {
        let class = |s: &str| special_class(&s.parse().unwrap());
        assert_eq!(class("127.5.5.5"), Some("loopback"));
        assert_eq!(class("::1"), Some("loopback"));
        assert_eq!(class("::ffff:127.0.0.1"), Some("loopback"));
        assert_eq!(class("169.254.10.1"), Some("link-local"));
        assert_eq!(class("fe80::1"), Some("link-local"));
        assert_eq!(class("fd00:ec2::254"), Some("cloud metadata"));
        assert_eq!(class("0.0.0.0"), Some("unspecified"));
        assert_eq!(class("224.0.0.1"), Some("multicast"));
        assert_eq!(class("192.168.1.1"), None);
        assert_eq!(class("2001:db8::1"), None);
    }

    #[test]
    fn venafi_urls_as_vcert_reads_them() {
        let cloud_default = EgressPolicy::from_issuer_spec(&json!({
            "venafi": {"zone": "a\\b", "cloud": {"apiTokenSecretRef": {"name": "k"}}}
        }));
        assert!(
            cloud_default
                .check_url("https://api.venafi.cloud/v1/useraccounts")
                .is_ok()
        );
        assert!(cloud_default.check_url("https://evil.example/").is_err());
        let named = EgressPolicy::from_issuer_spec(&json!({
            "venafi": {"zone": "z", "tpp": {"url": "tpp.example.com/vedsdk", "credentialsRef": {"name": "c"}}}
        }));
        assert!(
            named
                .check_url("https://tpp.example.com/vedsdk/certificates/request")
                .is_ok()
        );
        assert!(named.check_url("https://api.venafi.cloud/").is_err());
        let explicit = EgressPolicy::from_issuer_spec(&json!({
            "venafi": {"zone": "a\\b", "cloud": {"url": "https://127.0.0.1:9443", "apiTokenSecretRef": {"name": "k"}}}
        }));
        assert!(
            explicit
                .check_url("https://127.0.0.1:9443/v1/useraccounts")
                .is_ok()
        );
        assert!(explicit.check_url("https://api.venafi.cloud/").is_err());
    }

    #[test]
    fn empty_config_allows_nothing() {
        let policy = EgressPolicy::from_issuer_spec(&json!({"selfSigned": {}}));
        let err = policy.check_url("https://example.com/").unwrap_err();
        assert!(err.to_string().contains("allowed: none"));
    }
}
