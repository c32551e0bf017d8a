//! The names in a CSR that a Venafi request needs next to the CSR itself:
//! TPP names the certificate object after the common name, or the first
//! DNS name when there is none (cert-manager's `FriendlyName`).
//!
//! The SDK's [`Csr`] finds the subject and the SAN extension; this module
//! only walks those two structures, with a reader just big enough for them.

use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};

use certwasm_plugin_sdk::x509::{self, Csr};

/// The DER OID body of `id-at-commonName` (2.5.4.3).
const COMMON_NAME: &[u8] = &[0x55, 0x04, 0x03];

/// What the CSR asks for, as strings Vault accepts.
#[derive(Debug, Default, Clone, PartialEq, Eq)]
pub struct CsrNames {
    /// The subject's common name (the last one, as Go's `pkix.Name` keeps).
    pub common_name: String,
    pub dns_names: Vec<String>,
    pub ip_addresses: Vec<String>,
    pub uris: Vec<String>,
}

/// Why the CSR's names cannot be read.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum CsrError {
    #[error("{0}")]
    X509(#[from] x509::X509Error),
    #[error("malformed {0}")]
    Malformed(&'static str),
}

/// One DER element: its tag, its contents, and what follows it.
fn element<'a>(input: &'a [u8], what: &'static str) -> Result<(u8, &'a [u8], &'a [u8]), CsrError> {
    let bad = || CsrError::Malformed(what);
    let (&tag, rest) = input.split_first().ok_or_else(bad)?;
    let (&first, mut rest) = rest.split_first().ok_or_else(bad)?;
    let length = if first < 0x80 {
        usize::from(first)
    } else {
        let count = usize::from(first & 0x7f);
        if count == 0 || count > 4 || rest.len() < count {
            return Err(bad());
        }
        let (bytes, after) = rest.split_at(count);
        rest = after;
        bytes
            .iter()
            .fold(0usize, |length, byte| (length << 8) | usize::from(*byte))
    };
    if rest.len() < length {
        return Err(bad());
    }
    let (value, rest) = rest.split_at(length);
    Ok((tag, value, rest))
}

/// Every element of a constructed value, in order.
fn elements<'a>(mut input: &'a [u8], what: &'static str) -> Result<Vec<(u8, &'a [u8])>, CsrError> {
    let mut out = Vec::new();
    while !input.is_empty() {
        let (tag, value, rest) = element(input, what)?;
        out.push((tag, value));
        input = rest;
    }
    Ok(out)
}

fn text(value: &[u8], what: &'static str) -> Result<String, CsrError> {
    String::from_utf8(value.to_vec()).map_err(|_| CsrError::Malformed(what))
}

/// Reads the names of a PEM CSR.
pub fn names(csr_pem: &str) -> Result<CsrNames, CsrError> {
    let der = x509::decode_csr_pem(csr_pem)?;
    let csr = Csr::from_der(&der)?;
    let mut names = CsrNames::default();

    // Name ::= SEQUENCE OF SET OF SEQUENCE { type OID, value ANY }
    let (_, rdns, _) = element(csr.subject_der(), "subject")?;
    for (_, rdn) in elements(rdns, "subject")? {
        for (_, attribute) in elements(rdn, "subject attribute")? {
            let (_, oid, rest) = element(attribute, "subject attribute")?;
            if oid == COMMON_NAME {
                let (_, value, _) = element(rest, "common name")?;
                names.common_name = text(value, "common name")?;
            }
        }
    }

    // GeneralNames ::= SEQUENCE OF GeneralName (IMPLICIT context tags)
    if let Some(san) = csr.subject_alt_names_der() {
        let (_, general_names, _) = element(san, "subjectAltName")?;
        for (tag, value) in elements(general_names, "subjectAltName")? {
            match tag {
                0x82 => names.dns_names.push(text(value, "dNSName")?),
                0x86 => names.uris.push(text(value, "URI")?),
                0x87 => names.ip_addresses.push(ip_text(value)?),
                _ => {}
            }
        }
    }
    Ok(names)
}

impl CsrNames {
    /// The name TPP files the certificate object under (vcert's
    /// `FriendlyName`, which cert-manager sets from the request): the common
    /// name, else the first DNS name, IP address or URI.
    pub fn object_name(&self) -> Option<&str> {
        std::iter::once(&self.common_name)
            .chain(&self.dns_names)
            .chain(&self.ip_addresses)
            .chain(&self.uris)
            .map(String::as_str)
            .find(|name| !name.is_empty())
    }
}

fn ip_text(value: &[u8]) -> Result<String, CsrError> {
    let ip = match value.len() {
        4 => IpAddr::V4(Ipv4Addr::new(value[0], value[1], value[2], value[3])),
        16 => {
            let mut octets = [0u8; 16];
            octets.copy_from_slice(value);
            IpAddr::V6(Ipv6Addr::from(octets))
        }
        _ => return Err(CsrError::Malformed("iPAddress")),
    };
    Ok(ip.to_string())
}

#[cfg(test)]
mod tests {
    use super::*;
    use certwasm_plugin_sdk::testing::{KeyKind, OpensslKey};

    #[test]
    fn reads_common_name_and_every_san_kind() {
        let key = OpensslKey::generate(KeyKind::EcdsaP256);
        let csr = key.csr(
            "/O=Example/CN=www.example.com",
            &["subjectAltName=DNS:www.example.com,DNS:api.example.com,IP:127.0.0.1,IP:2001:db8::1,URI:spiffe://example.com/web,email:a@example.com"],
        );
        let names = names(&csr).unwrap();
        assert_eq!(names.common_name, "www.example.com");
        assert_eq!(names.dns_names, ["www.example.com", "api.example.com"]);
        assert_eq!(names.ip_addresses, ["127.0.0.1", "2001:db8::1"]);
        assert_eq!(names.uris, ["spiffe://example.com/web"]);
        assert_eq!(names.object_name(), Some("www.example.com"));
        let no_cn = CsrNames {
            dns_names: vec!["a.example.com".into()],
            ..CsrNames::default()
        };
        assert_eq!(no_cn.object_name(), Some("a.example.com"));
    }

    #[test]
    fn a_csr_without_names_has_none() {
        let key = OpensslKey::generate(KeyKind::EcdsaP256);
        let csr = key.csr("/O=Nobody", &[]);
        assert_eq!(names(&csr).unwrap(), CsrNames::default());
        assert_eq!(CsrNames::default().object_name(), None);
    }

    #[test]
    fn garbage_is_an_error() {
        assert!(names("not a csr").is_err());
        assert!(element(&[0x30, 0x05, 0x01], "x").is_err());
        assert!(element(&[0x30, 0x81], "x").is_err());
    }
}
