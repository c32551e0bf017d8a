//! Names as text: what a CSR asks for, which issuers that send names next
//! to the CSR need (Vault's `common_name`, `alt_names`, `ip_sans` and
//! `uri_sans`; CFSSL's `hosts`; the name Venafi TPP files a certificate
//! under; ACME's identifiers), and a distinguished name as one line. Read
//! with the SDK's own DER reader, so a plugin carries one.

use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};

use super::der::{self, Reader};
use super::{Csr, X509Error, decode_csr_pem};

/// The DER OID body of `id-at-commonName` (2.5.4.3).
const COMMON_NAME: &[u8] = &[0x55, 0x04, 0x03];

/// What a CSR asks for, in the order the CSR lists it.
#[derive(Debug, Default, Clone, PartialEq, Eq)]
pub struct CsrNames {
    /// The subject's common name (the last one, as Go's `pkix.Name` keeps).
    pub common_name: String,
    /// `dNSName` SANs.
    pub dns_names: Vec<String>,
    /// `iPAddress` SANs, as `127.0.0.1` / `2001:db8::1`.
    pub ip_addresses: Vec<String>,
    /// `uniformResourceIdentifier` SANs.
    pub uris: Vec<String>,
    /// `rfc822Name` SANs.
    pub emails: Vec<String>,
}

impl CsrNames {
    /// Reads the names of a PEM CSR.
    pub fn from_pem(csr_pem: &str) -> Result<Self, X509Error> {
        let der = decode_csr_pem(csr_pem)?;
        let csr = Csr::from_der(&der)?;
        let mut names = Self {
            common_name: common_name(csr.subject_der())?.unwrap_or_default(),
            ..Self::default()
        };

        // GeneralNames ::= SEQUENCE OF GeneralName (IMPLICIT context tags)
        if let Some(san) = csr.subject_alt_names_der() {
            let mut general_names = Reader::named(san, "subjectAltName")
                .expect(der::SEQUENCE)?
                .reader();
            while !general_names.is_empty() {
                let name = general_names.read()?;
                match name.tag {
                    tag if tag == der::context_primitive(1) => {
                        names.emails.push(text(name.value, "rfc822Name")?);
                    }
                    tag if tag == der::context_primitive(2) => {
                        names.dns_names.push(text(name.value, "dNSName")?);
                    }
                    tag if tag == der::context_primitive(6) => {
                        names.uris.push(text(name.value, "URI")?);
                    }
                    tag if tag == der::context_primitive(7) => {
                        names.ip_addresses.push(ip_text(name.value)?);
                    }
                    _ => {}
                }
            }
        }
        Ok(names)
    }

    /// The one name a server that files certificates by a single name uses
    /// (Venafi TPP's object name, which cert-manager sets from the
    /// request): the common name, else the first DNS name, IP address or
    /// URI.
    pub fn primary_name(&self) -> Option<&str> {
        std::iter::once(&self.common_name)
            .chain(&self.dns_names)
            .chain(&self.ip_addresses)
            .chain(&self.uris)
            .map(String::as_str)
            .find(|name| !name.is_empty())
    }
}

/// Calls `each` with the OID contents and the value of every attribute of
/// a DER `Name`, in encoding order.
/// (`Name ::= SEQUENCE OF SET OF SEQUENCE { type OID, value ANY }`.)
fn attributes<'a>(
    name_der: &'a [u8],
    mut each: impl FnMut(&'a [u8], der::Tlv<'a>) -> Result<(), X509Error>,
) -> Result<(), X509Error> {
    let mut rdns = Reader::named(name_der, "name")
        .expect(der::SEQUENCE)?
        .reader();
    while !rdns.is_empty() {
        let mut set = rdns.expect(der::SET)?.reader();
        while !set.is_empty() {
            let mut attribute = set.expect(der::SEQUENCE)?.reader();
            let oid = attribute.expect(der::OID)?.value;
            each(oid, attribute.read()?)?;
        }
    }
    Ok(())
}

/// The common name of a DER `Name` (a certificate's subject or issuer, a
/// CSR's subject): the last one when there are several, as Go's
/// `pkix.Name` (and so cert-manager) keeps it.
pub fn common_name(name_der: &[u8]) -> Result<Option<String>, X509Error> {
    let mut found = None;
    attributes(name_der, |oid, value| {
        if oid == COMMON_NAME {
            found = Some(text(value.value, "common name")?);
        }
        Ok(())
    })?;
    Ok(found)
}

/// A DER `Name` as one line, most specific first as RFC 4514 and Go's
/// `pkix.Name.String` write it: `CN=Test CA,O=Example`. Attributes without
/// a short name are written as their dotted OID; values are not escaped
/// (this is for messages, not for parsing back).
pub fn distinguished_name(name_der: &[u8]) -> Result<String, X509Error> {
    let mut parts = Vec::new();
    attributes(name_der, |oid, value| {
        let name = attribute_name(oid).map_or_else(|| dotted(oid), str::to_owned);
        parts.push(format!("{name}={}", String::from_utf8_lossy(value.value)));
        Ok(())
    })?;
    parts.reverse();
    Ok(parts.join(","))
}

/// The short name of a subject attribute (RFC 4514's, and Go's).
fn attribute_name(oid: &[u8]) -> Option<&'static str> {
    Some(match oid {
        [0x55, 0x04, 0x03] => "CN",
        [0x55, 0x04, 0x05] => "SERIALNUMBER",
        [0x55, 0x04, 0x06] => "C",
        [0x55, 0x04, 0x07] => "L",
        [0x55, 0x04, 0x08] => "ST",
        [0x55, 0x04, 0x09] => "STREET",
        [0x55, 0x04, 0x0a] => "O",
        [0x55, 0x04, 0x0b] => "OU",
        [0x55, 0x04, 0x11] => "POSTALCODE",
        _ => return None,
    })
}

/// Dotted form of an OID's contents, e.g. `2.5.4.65`.
fn dotted(oid: &[u8]) -> String {
    let mut parts = Vec::new();
    let mut value: u64 = 0;
    for byte in oid {
        value = (value << 7) | u64::from(byte & 0x7f);
        if byte & 0x80 == 0 {
            if parts.is_empty() {
                // The first subidentifier packs two arcs: 40 * X + Y.
                let first = value.min(80) / 40;
                parts.push(first.to_string());
                parts.push((value - first * 40).to_string());
            } else {
                parts.push(value.to_string());
            }
            value = 0;
        }
    }
    parts.join(".")
}

fn text(value: &[u8], what: &str) -> Result<String, X509Error> {
    String::from_utf8(value.to_vec())
        .map_err(|_| X509Error::Malformed(format!("{what} (not UTF-8)")))
}

fn ip_text(value: &[u8]) -> Result<String, X509Error> {
    let ip = match value.len() {
        4 => IpAddr::V4(Ipv4Addr::new(value[0], value[1], value[2], value[3])),
        16 => {
            let mut octets = [0u8; 16];
            octets.copy_from_slice(value);
            IpAddr::V6(Ipv6Addr::from(octets))
        }
        _ => return Err(X509Error::Malformed("iPAddress".to_owned())),
    };
    Ok(ip.to_string())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::testing::{KeyKind, OpensslKey};

    #[test]
    fn reads_common_name_and_every_san_kind() {
        let key = OpensslKey::generate(KeyKind::EcdsaP256);
        let csr = key.csr(
            "/O=Example/CN=www.example.com",
            &["subjectAltName=DNS:www.example.com,DNS:api.example.com,IP:127.0.0.1,IP:2001:db8::1,URI:spiffe://example.com/web,email:a@example.com"],
        );
        let names = CsrNames::from_pem(&csr).unwrap();
        assert_eq!(names.common_name, "www.example.com");
        assert_eq!(names.dns_names, ["www.example.com", "api.example.com"]);
        assert_eq!(names.ip_addresses, ["127.0.0.1", "2001:db8::1"]);
        assert_eq!(names.uris, ["spiffe://example.com/web"]);
        assert_eq!(names.emails, ["a@example.com"]);
        assert_eq!(names.primary_name(), Some("www.example.com"));
    }

    #[test]
    fn a_csr_without_names_has_none() {
        let key = OpensslKey::generate(KeyKind::EcdsaP256);
        let csr = key.csr("/O=Nobody", &[]);
        let names = CsrNames::from_pem(&csr).unwrap();
        assert_eq!(names, CsrNames::default());
        assert_eq!(names.primary_name(), None);
    }

    #[test]
    fn the_primary_name_falls_back_to_the_first_san() {
        let no_cn = CsrNames {
            dns_names: vec!["a.example.com".into()],
            ..CsrNames::default()
        };
        assert_eq!(no_cn.primary_name(), Some("a.example.com"));
        let ip_only = CsrNames {
            ip_addresses: vec!["10.0.0.1".into()],
            ..CsrNames::default()
        };
        assert_eq!(ip_only.primary_name(), Some("10.0.0.1"));
    }

    #[test]
    fn garbage_is_an_error() {
        assert!(CsrNames::from_pem("not a csr").is_err());
    }

    #[test]
    fn a_distinguished_name_reads_most_specific_first() {
        let key = OpensslKey::generate(KeyKind::EcdsaP256);
        let csr = key.csr("/C=GB/O=Example Ltd/OU=PKI/CN=Test CA/2.5.4.65=pseudo", &[]);
        let der = decode_csr_pem(&csr).unwrap();
        let csr = Csr::from_der(&der).unwrap();
        assert_eq!(
            distinguished_name(csr.subject_der()).unwrap(),
            "2.5.4.65=pseudo,CN=Test CA,OU=PKI,O=Example Ltd,C=GB"
        );
        assert_eq!(
            common_name(csr.subject_der()).unwrap().as_deref(),
            Some("Test CA")
        );
        assert!(distinguished_name(&[0x30, 0x05]).is_err());
        assert_eq!(distinguished_name(&[0x30, 0x00]).unwrap(), "");
        assert_eq!(common_name(&[0x30, 0x00]).unwrap(), None);
    }

    #[test]
    fn the_last_common_name_wins() {
        // SEQUENCE { SET { SEQ { CN = "a" } }, SET { SEQ { O = "x" } }, SET { SEQ { CN = "bc" } } }
        let name = [
            0x30, 0x25, 0x31, 0x0a, 0x30, 0x08, 0x06, 0x03, 0x55, 0x04, 0x03, 0x0c, 0x01, b'a',
            0x31, 0x0a, 0x30, 0x08, 0x06, 0x03, 0x55, 0x04, 0x0a, 0x0c, 0x01, b'x', 0x31, 0x0b,
            0x30, 0x09, 0x06, 0x03, 0x55, 0x04, 0x03, 0x0c, 0x02, b'b', b'c',
        ];
        assert_eq!(common_name(&name).unwrap().as_deref(), Some("bc"));
        assert_eq!(distinguished_name(&name).unwrap(), "CN=bc,O=x,CN=a");
    }
}
