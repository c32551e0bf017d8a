//! The identifiers an order asks for, read from the request's CSR the way
//! cert-manager builds an Order: the DNS names plus the common name, and
//! the IP addresses, each set deduplicated and sorted.

use std::fmt;
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};

use certwasm_plugin_sdk::x509::{self, Csr};
use serde::{Deserialize, Serialize};

use crate::der::{self, Reader, SEQUENCE};

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

const DNS_NAME: u8 = 0x82; // [2] IMPLICIT IA5String
const IP_ADDRESS: u8 = 0x87; // [7] IMPLICIT OCTET STRING

/// The order's identifiers for a PEM CSR: DNS identifiers for the DNS SANs
/// and the subject common name, IP identifiers for the IP SANs (and a
/// common name that is an IP literal). DNS first, each kind sorted.
pub fn from_csr_pem(csr_pem: &str) -> Result<Vec<Identifier>, CsrError> {
    let malformed = |e: &dyn fmt::Display| CsrError::Malformed(e.to_string());
    let csr_der = x509::decode_csr_pem(csr_pem).map_err(|e| malformed(&e))?;
    let csr = Csr::from_der(&csr_der).map_err(|e| malformed(&e))?;
    let mut dns = Vec::new();
    let mut ips = Vec::new();
    if let Some(common_name) = der::common_name(csr.subject_der()).map_err(|e| malformed(&e))? {
        match common_name.parse::<IpAddr>() {
            Ok(ip) => ips.push(ip),
            Err(_) if !common_name.is_empty() => dns.push(common_name),
            Err(_) => {}
        }
    }
    if let Some(names) = csr.subject_alt_names_der() {
        let mut outer = Reader::new(names);
        let mut names = outer.expect(SEQUENCE).map_err(|e| malformed(&e))?.reader();
        while !names.is_empty() {
            let name = names.read().map_err(|e| malformed(&e))?;
            match name.tag {
                DNS_NAME => dns.push(String::from_utf8_lossy(name.value).into_owned()),
                IP_ADDRESS => match name.value.len() {
                    4 => ips.push(IpAddr::V4(Ipv4Addr::from(
                        <[u8; 4]>::try_from(name.value).unwrap_or_default(),
                    ))),
                    16 => ips.push(IpAddr::V6(Ipv6Addr::from(
                        <[u8; 16]>::try_from(name.value).unwrap_or_default(),
                    ))),
                    _ => return Err(malformed(&"an IP address SAN that is not 4 or 16 bytes")),
                },
                _ => {}
            }
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
