//! The names this plugin reads from DER: the SANs of the CSR, sent to CFSSL
//! as `hosts`, and the subject of CFSSL's signing certificate, shown when
//! the issuer is ready. The SDK's [`Csr`] and [`Certificate`] find the two
//! structures; a reader just big enough to walk them lives here.

use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};

use certwasm_plugin_sdk::x509::{self, Csr};

/// Why names could not be read.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum NameError {
    #[error("{0}")]
    X509(#[from] x509::X509Error),
    #[error("malformed {0}")]
    Malformed(&'static str),
}

const SEQUENCE: u8 = 0x30;
const SET: u8 = 0x31;
const OID: u8 = 0x06;
/// GeneralName choices (`[n]` IMPLICIT, primitive).
const RFC822_NAME: u8 = 0x81;
const DNS_NAME: u8 = 0x82;
const URI: u8 = 0x86;
const IP_ADDRESS: u8 = 0x87;

/// One DER element: its tag, its contents, and what follows it.
fn element<'a>(input: &'a [u8], what: &'static str) -> Result<(u8, &'a [u8], &'a [u8]), NameError> {
    let bad = || NameError::Malformed(what);
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
        bytes.iter().fold(0usize, |n, b| (n << 8) | usize::from(*b))
    };
    if rest.len() < length {
        return Err(bad());
    }
    let (value, rest) = rest.split_at(length);
    Ok((tag, value, rest))
}

/// The elements of a constructed value, in order.
fn elements<'a>(mut input: &'a [u8], what: &'static str) -> Result<Vec<(u8, &'a [u8])>, NameError> {
    let mut out = Vec::new();
    while !input.is_empty() {
        let (tag, value, rest) = element(input, what)?;
        out.push((tag, value));
        input = rest;
    }
    Ok(out)
}

fn text(value: &[u8], what: &'static str) -> Result<String, NameError> {
    String::from_utf8(value.to_vec()).map_err(|_| NameError::Malformed(what))
}

/// The SANs a PEM CSR asks for, as CFSSL's `hosts` spells them: DNS names,
/// IP addresses, email addresses and URIs, in the CSR's order.
pub fn csr_hosts(csr_pem: &str) -> Result<Vec<String>, NameError> {
    let der = x509::decode_csr_pem(csr_pem)?;
    let csr = Csr::from_der(&der)?;
    let Some(san) = csr.subject_alt_names_der() else {
        return Ok(Vec::new());
    };
    let (tag, names, _) = element(san, "subjectAltName")?;
    if tag != SEQUENCE {
        return Err(NameError::Malformed("subjectAltName"));
    }
    let mut hosts = Vec::new();
    for (tag, value) in elements(names, "subjectAltName")? {
        match tag {
            DNS_NAME | RFC822_NAME | URI => hosts.push(text(value, "subjectAltName")?),
            IP_ADDRESS => {
                let address = match value.len() {
                    4 => IpAddr::V4(Ipv4Addr::from(
                        <[u8; 4]>::try_from(value).map_err(|_| NameError::Malformed("IP"))?,
                    )),
                    16 => IpAddr::V6(Ipv6Addr::from(
                        <[u8; 16]>::try_from(value).map_err(|_| NameError::Malformed("IP"))?,
                    )),
                    _ => return Err(NameError::Malformed("IP address SAN")),
                };
                hosts.push(address.to_string());
            }
            // Other names, directory names... have no `hosts` spelling.
            _ => {}
        }
    }
    Ok(hosts)
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

/// Dotted form of an OID's body.
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

/// A distinguished name (DER `Name`) as one line, most specific first as
/// RFC 4514 and Go's `pkix.Name.String` write it: `CN=Test CA,O=Example`.
pub fn distinguished_name(name_der: &[u8]) -> Result<String, NameError> {
    let (tag, rdns, _) = element(name_der, "name")?;
    if tag != SEQUENCE {
        return Err(NameError::Malformed("name"));
    }
    let mut parts = Vec::new();
    for (tag, rdn) in elements(rdns, "name")? {
        if tag != SET {
            return Err(NameError::Malformed("name"));
        }
        for (_, attribute) in elements(rdn, "name")? {
            let fields = elements(attribute, "name")?;
            let [(OID, oid), (_, value)] = fields.as_slice() else {
                return Err(NameError::Malformed("name attribute"));
            };
            let value = String::from_utf8_lossy(value);
            let name = attribute_name(oid).map_or_else(|| dotted(oid), str::to_owned);
            parts.push(format!("{name}={value}"));
        }
    }
    parts.reverse();
    Ok(parts.join(","))
}

#[cfg(test)]
mod tests {
    use certwasm_plugin_sdk::testing::{KeyKind, OpensslKey, openssl};
    use certwasm_plugin_sdk::x509::Certificate;

    use super::*;

    #[test]
    fn every_san_kind_becomes_a_host() {
        let key = OpensslKey::generate(KeyKind::EcdsaP256);
        let csr = key.csr(
            "/CN=example.com",
            &["subjectAltName=DNS:example.com,DNS:www.example.com,IP:192.0.2.1,IP:2001:db8::1,email:a@example.com,URI:spiffe://example.com/a"],
        );
        assert_eq!(
            csr_hosts(&csr).unwrap(),
            [
                "example.com",
                "www.example.com",
                "192.0.2.1",
                "2001:db8::1",
                "a@example.com",
                "spiffe://example.com/a"
            ]
        );
        let bare = key.csr("/CN=only-a-common-name", &[]);
        assert!(csr_hosts(&bare).unwrap().is_empty());
        assert!(csr_hosts("not a CSR").is_err());
    }

    #[test]
    fn a_subject_reads_most_specific_first() {
        let dir = std::env::temp_dir().join(format!("cfssl-names-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let key = dir.join("k.pem");
        let cert = dir.join("c.pem");
        let (key, cert) = (key.to_str().unwrap(), cert.to_str().unwrap());
        openssl(&[
            "req",
            "-x509",
            "-newkey",
            "ec",
            "-pkeyopt",
            "ec_paramgen_curve:P-256",
            "-nodes",
            "-keyout",
            key,
            "-out",
            cert,
            "-days",
            "1",
            "-subj",
            "/C=GB/O=Example Ltd/OU=PKI/CN=Test CA/2.5.4.65=pseudo",
        ]);
        let pem = std::fs::read_to_string(cert).unwrap();
        std::fs::remove_dir_all(&dir).unwrap();
        let certificate = Certificate::from_pem(&pem).unwrap();
        assert_eq!(
            distinguished_name(certificate.subject_der()).unwrap(),
            "2.5.4.65=pseudo,CN=Test CA,OU=PKI,O=Example Ltd,C=GB"
        );
        assert!(distinguished_name(&[0x30, 0x05]).is_err());
        assert_eq!(distinguished_name(&[0x30, 0x00]).unwrap(), "");
    }
}
