//! The names a CSR asks for, as text: what issuers that send names next to
//! the CSR need (Vault's `common_name`, `alt_names`, `ip_sans` and
//! `uri_sans`; CFSSL's `hosts`; the name Venafi TPP files a certificate
//! under). Read with the SDK's own DER reader, so a plugin carries one.

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
        let mut names = Self::default();

        // Name ::= SEQUENCE OF SET OF SEQUENCE { type OID, value ANY }
        let subject = Reader::named(csr.subject_der(), "subject").expect(der::SEQUENCE)?;
        let mut rdns = subject.reader();
        while !rdns.is_empty() {
            let mut attributes = rdns.expect(der::SET)?.reader();
            while !attributes.is_empty() {
                let mut attribute = attributes.expect(der::SEQUENCE)?.reader();
                if attribute.expect(der::OID)?.value == COMMON_NAME {
                    names.common_name = text(attribute.read()?.value, "common name")?;
                }
            }
        }

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
}
