//! The identifiers an order asks for, read from the request's CSR the way
//! cert-manager builds an Order: the DNS names plus the common name, and
//! the IP addresses, each set deduplicated and sorted.

use std::fmt;
use std::net::IpAddr;

use certwasm_plugin_sdk::x509::CsrNames;
use serde::{Deserialize, Serialize};

/// An ACME identifier (RFC 8555 9.7.7; `ip` from RFC 8738).
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize)]
pub struct Identifier {
    #[serde(rename = "type")]
    pub kind: String,
    pub value: String,
}

impl Identifier {
    pub fn dns(name: &str) -> Self {
        Self {
            kind: "dns".into(),
            value: name.to_owned(),
        }
    }

    pub fn ip(address: IpAddr) -> Self {
        Self {
            kind: "ip".into(),
            value: address.to_string(),
        }
    }
}

/// Why a CSR gives no usable identifiers.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum CsrError {
    /// Not a readable PKCS#10 request.
    Malformed(String),
    /// No DNS name, common name or IP address to order for.
    NoIdentifiers,
}

impl fmt::Display for CsrError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Malformed(why) => write!(f, "failed to decode CSR in spec.request: {why}"),
            Self::NoIdentifiers => {
                f.write_str("the CSR has no DNS names, common name or IP addresses to order for")
            }
        }
    }
}

impl std::error::Error for CsrError {}

/// The order's identifiers for a PEM CSR: DNS identifiers for the DNS SANs
/// and the subject common name, IP identifiers for the IP SANs (and a
/// common name that is an IP literal). DNS first, each kind sorted.
pub fn from_csr_pem(csr_pem: &str) -> Result<Vec<Identifier>, CsrError> {
    let names = CsrNames::from_pem(csr_pem).map_err(|e| CsrError::Malformed(e.to_string()))?;
    let mut dns = Vec::new();
    let mut ips = Vec::new();
    match names.common_name.parse::<IpAddr>() {
        Ok(ip) => ips.push(ip),
        Err(_) if !names.common_name.is_empty() => dns.push(names.common_name),
        Err(_) => {}
    }
    dns.extend(names.dns_names);
    for address in &names.ip_addresses {
        // CsrNames writes the addresses it read, so they parse back.
        if let Ok(ip) = address.parse::<IpAddr>() {
            ips.push(ip);
        }
    }
    dns.sort();
    dns.dedup();
    ips.sort();
    ips.dedup();
    let identifiers: Vec<Identifier> = dns
        .iter()
        .map(|name| Identifier::dns(name))
        .chain(ips.into_iter().map(Identifier::ip))
        .collect();
    if identifiers.is_empty() {
        return Err(CsrError::NoIdentifiers);
    }
    Ok(identifiers)
}

#[cfg(test)]
mod tests {
    use certwasm_plugin_sdk::testing::{KeyKind, OpensslKey};

    use super::*;

    #[test]
    fn dns_names_common_name_and_ips_deduplicated_and_sorted() {
        let key = OpensslKey::generate(KeyKind::EcdsaP256);
        let csr = key.csr(
            "/CN=b.example.com/O=Org",
            &["subjectAltName=DNS:c.example.com,DNS:b.example.com,IP:192.0.2.7,IP:2001:db8:0:0::1,DNS:*.a.example.com,email:x@example.com"],
        );
        let identifiers = from_csr_pem(&csr).unwrap();
        let pairs: Vec<(&str, &str)> = identifiers
            .iter()
            .map(|i| (i.kind.as_str(), i.value.as_str()))
            .collect();
        assert_eq!(
            pairs,
            vec![
                ("dns", "*.a.example.com"),
                ("dns", "b.example.com"),
                ("dns", "c.example.com"),
                ("ip", "192.0.2.7"),
                ("ip", "2001:db8::1"),
            ]
        );
        assert_eq!(
            serde_json::to_string(&identifiers[0]).unwrap(),
            r#"{"type":"dns","value":"*.a.example.com"}"#
        );
    }

    #[test]
    fn common_name_alone_and_nothing_at_all() {
        let key = OpensslKey::generate(KeyKind::EcdsaP256);
        let only_cn = from_csr_pem(&key.csr("/CN=only.example.com", &[])).unwrap();
        assert_eq!(only_cn, vec![Identifier::dns("only.example.com")]);
        assert_eq!(
            from_csr_pem(&key.csr("/O=Nobody", &[])),
            Err(CsrError::NoIdentifiers)
        );
        assert!(matches!(
            from_csr_pem("not a csr"),
            Err(CsrError::Malformed(_))
        ));
    }
}
