//! Reading certificates: what the CLI summary shows and what renewal
//! policy compares (names, validity, key, usages), plus checking who
//! signed a certificate.

use std::net::IpAddr;

use time::OffsetDateTime;
use x509_parser::certificate::X509Certificate;
use x509_parser::extensions::GeneralName;

use super::PkiError;
use super::csr::ip_from_bytes;
use super::key::PrivateKey;
use super::name::{self, Subject};
use super::public_key::{self, VerifyError};
use super::usage::{self, KeyUsage};

/// The parts of a certificate certwasm looks at.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CertificateInfo {
    /// RFC 4514 string in Go's `pkix.Name.String()` form, e.g.
    /// `CN=example.com,O=Example`.
    pub subject: String,
    /// The issuer's name, in the same form.
    pub issuer: String,
    pub common_name: Option<String>,
    /// The subject's attributes in cert-manager's fields, for comparing
    /// with a Certificate's spec.
    pub subject_fields: Subject,
    pub dns_names: Vec<String>,
    pub ip_addresses: Vec<IpAddr>,
    pub uris: Vec<String>,
    pub emails: Vec<String>,
    /// Lower-case hex of the serial number, without leading zero bytes
    /// (as `openssl x509 -serial` shows it, lower-cased).
    pub serial: String,
    pub not_before: OffsetDateTime,
    pub not_after: OffsetDateTime,
    /// basicConstraints `CA:TRUE`.
    pub is_ca: bool,
    /// E.g. `ECDSA P-256`, `RSA 2048`, `Ed25519`; keys certwasm does not
    /// use are still named (`ECDSA P-521`).
    pub key_algorithm: String,
    /// The subject public key, DER SubjectPublicKeyInfo.
    pub public_key_der: Vec<u8>,
    /// Key usage bits then extended key usages, in cert-manager's terms.
    pub usages: Vec<KeyUsage>,
    /// OpenSSL's name, e.g. `ecdsa-with-SHA256`.
    pub signature_algorithm: String,
    /// The certificate, DER.
    pub der: Vec<u8>,
}

fn invalid(err: impl std::fmt::Display) -> PkiError {
    PkiError::InvalidCertificate(err.to_string())
}

/// Parses every `CERTIFICATE` block in `pem_text`, in order (leaf first in
/// a `tls.crt`). Other blocks are skipped; no certificate at all, or one
/// that does not parse, is an error. Signatures are not checked here (see
/// [`verify_issued_by`]).
pub fn parse_certificate_chain(pem_text: &str) -> Result<Vec<CertificateInfo>, PkiError> {
    let blocks = pem::parse_many(pem_text).map_err(|e| PkiError::InvalidPem {
        what: "certificate",
        reason: e.to_string(),
    })?;
    let certs: Vec<CertificateInfo> = blocks
        .iter()
        .filter(|block| block.tag() == "CERTIFICATE")
        .enumerate()
        .map(|(index, block)| {
            parse_der(block.contents()).map_err(|e| match e {
                PkiError::InvalidCertificate(reason) if index > 0 => PkiError::InvalidCertificate(
                    format!("certificate {} of the chain: {reason}", index + 1),
                ),
                other => other,
            })
        })
        .collect::<Result<_, _>>()?;
    if certs.is_empty() {
        return Err(PkiError::InvalidPem {
            what: "certificate",
            reason: "no CERTIFICATE block found".into(),
        });
    }
    Ok(certs)
}

fn parse_certificate(der: &[u8]) -> Result<X509Certificate<'_>, PkiError> {
    let (rest, cert) = x509_parser::parse_x509_certificate(der).map_err(invalid)?;
    if !rest.is_empty() {
        return Err(invalid(format!("{} bytes of trailing data", rest.len())));
    }
    Ok(cert)
}

fn parse_der(der: &[u8]) -> Result<CertificateInfo, PkiError> {
    let cert = parse_certificate(der)?;
    let (subject_fields, common_name) = name::read_subject(cert.subject());
    let serial = cert.raw_serial();
    let serial = &serial[serial
        .iter()
        .take_while(|b| **b == 0)
        .count()
        .min(serial.len().saturating_sub(1))..];
    let public_key_der = cert.public_key().raw.to_vec();
    let mut info = CertificateInfo {
        subject: name::rfc4514(cert.subject()),
        issuer: name::rfc4514(cert.issuer()),
        common_name,
        subject_fields,
        dns_names: Vec::new(),
        ip_addresses: Vec::new(),
        uris: Vec::new(),
        emails: Vec::new(),
        serial: hex::encode(serial),
        not_before: cert.validity().not_before.to_datetime(),
        not_after: cert.validity().not_after.to_datetime(),
        is_ca: cert.is_ca(),
        key_algorithm: public_key::describe_spki(&public_key_der),
        public_key_der,
        usages: Vec::new(),
        signature_algorithm: public_key::signature_algorithm_name(
            &cert.signature_algorithm.algorithm.to_id_string(),
        ),
        der: der.to_vec(),
    };
    let san = cert.subject_alternative_name().map_err(invalid)?;
    for name in san.iter().flat_map(|san| &san.value.general_names) {
        match name {
            GeneralName::DNSName(dns) => info.dns_names.push((*dns).to_owned()),
            GeneralName::URI(uri) => info.uris.push((*uri).to_owned()),
            GeneralName::RFC822Name(email) => info.emails.push((*email).to_owned()),
            GeneralName::IPAddress(bytes) => {
                let ip = ip_from_bytes(bytes).ok_or_else(|| {
                    invalid(format!("an IP address SAN of {} bytes", bytes.len()))
                })?;
                info.ip_addresses.push(ip);
            }
            _ => {}
        }
    }
    let key_usage = cert.key_usage().map_err(invalid)?;
    let extended = cert.extended_key_usage().map_err(invalid)?;
    info.usages = usage::from_x509(
        key_usage.as_ref().map(|ext| ext.value),
        extended.as_ref().map(|ext| ext.value),
    );
    Ok(info)
}

/// Whether `key` is the private half of the certificate's public key
/// (cert-manager's "InvalidKeyPair" check). Compares keys, not bytes.
pub fn public_key_matches(cert: &CertificateInfo, key: &PrivateKey) -> bool {
    key.matches_public_key(&cert.public_key_der)
}

/// Checks that `issuer`'s key signed `cert`, for chain checks and for
/// noticing that a CA was rotated under its leaves. Only the signature is
/// checked (not names, validity or constraints).
pub fn verify_issued_by(cert: &CertificateInfo, issuer: &CertificateInfo) -> Result<(), PkiError> {
    let parsed = parse_certificate(&cert.der)?;
    let failed = |reason: String| PkiError::NotIssuedBy {
        subject: cert.subject.clone(),
        issuer: issuer.subject.clone(),
        reason,
    };
    public_key::verify_signature(
        &issuer.public_key_der,
        &parsed.signature_algorithm.algorithm.to_id_string(),
        parsed.tbs_certificate.as_ref(),
        &parsed.signature_value.data,
    )
    .map_err(|e| match e {
        VerifyError::Invalid => {
            failed("the signature does not verify with the issuer's key".into())
        }
        VerifyError::WrongKey(reason) => failed(reason),
        VerifyError::Unsupported(name) => PkiError::UnsupportedSignatureAlgorithm(name),
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::pki::{KeyAlgorithm, test_key};
    use std::path::Path;
    use std::process::Command;

    fn openssl(args: &[&str], dir: &Path) -> String {
        let out = Command::new("openssl")
            .current_dir(dir)
            .args(args)
            .output()
            .unwrap();
        assert!(
            out.status.success(),
            "openssl {args:?}: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        String::from_utf8(out.stdout).unwrap()
    }

    /// A CA and a leaf made by openssl, so parsing is checked against an
    /// independent implementation.
    fn openssl_chain(dir: &Path, leaf_key: &str) -> (String, String) {
        openssl(
            &[
                "req",
                "-x509",
                "-newkey",
                "ec",
                "-pkeyopt",
                "ec_paramgen_curve:P-384",
                "-nodes",
                "-days",
                "30",
                "-subj",
                "/O=Test CA Org/CN=Test CA",
                "-keyout",
                "ca.key",
                "-out",
                "ca.pem",
            ],
            dir,
        );
        openssl(
            &["genpkey", "-algorithm", leaf_key, "-out", "leaf.key"],
            dir,
        );
        openssl(
            &[
                "req",
                "-new",
                "-key",
                "leaf.key",
                "-subj",
                "/C=GB/O=Example, Inc./CN=leaf.example",
                "-out",
                "leaf.csr",
            ],
            dir,
        );
        std::fs::write(
            dir.join("ext.cnf"),
            "subjectAltName=DNS:leaf.example,DNS:*.leaf.example,IP:127.0.0.1,IP:::1,URI:spiffe://x/y,email:a@b.example\n\
             keyUsage=critical,digitalSignature,keyEncipherment\n\
             extendedKeyUsage=serverAuth,clientAuth,1.3.6.1.5.5.7.3.5\n\
             basicConstraints=critical,CA:FALSE\n",
        )
        .unwrap();
        openssl(
            &[
                "x509",
                "-req",
                "-in",
                "leaf.csr",
                "-CA",
                "ca.pem",
                "-CAkey",
                "ca.key",
                "-days",
                "7",
                "-set_serial",
                "0x00ff0102",
                "-extfile",
                "ext.cnf",
                "-out",
                "leaf.pem",
            ],
            dir,
        );
        let leaf = std::fs::read_to_string(dir.join("leaf.pem")).unwrap();
        let ca = std::fs::read_to_string(dir.join("ca.pem")).unwrap();
        (leaf, ca)
    }

    #[test]
    fn reads_an_openssl_chain() {
        let dir = tempfile::tempdir().unwrap();
        let (leaf_pem, ca_pem) = openssl_chain(dir.path(), "ED25519");
        let chain = parse_certificate_chain(&format!("{leaf_pem}{ca_pem}")).unwrap();
        assert_eq!(chain.len(), 2);
        let (leaf, ca) = (&chain[0], &chain[1]);
        assert_eq!(leaf.common_name.as_deref(), Some("leaf.example"));
        assert_eq!(leaf.subject, "CN=leaf.example,O=Example\\, Inc.,C=GB");
        assert_eq!(leaf.issuer, "CN=Test CA,O=Test CA Org");
        assert_eq!(leaf.subject_fields.organizations, ["Example, Inc."]);
        assert_eq!(leaf.subject_fields.countries, ["GB"]);
        assert_eq!(leaf.dns_names, ["leaf.example", "*.leaf.example"]);
        assert_eq!(
            leaf.ip_addresses,
            [
                "127.0.0.1".parse::<IpAddr>().unwrap(),
                "::1".parse::<IpAddr>().unwrap()
            ]
        );
        assert_eq!(leaf.uris, ["spiffe://x/y"]);
        assert_eq!(leaf.emails, ["a@b.example"]);
        assert_eq!(leaf.key_algorithm, "Ed25519");
        assert_eq!(leaf.signature_algorithm, "ecdsa-with-SHA256");
        assert_eq!(leaf.serial, "ff0102");
        assert!(!leaf.is_ca);
        assert_eq!(
            leaf.usages,
            [
                KeyUsage::DigitalSignature,
                KeyUsage::KeyEncipherment,
                KeyUsage::ServerAuth,
                KeyUsage::ClientAuth,
                KeyUsage::IpsecEndSystem
            ]
        );
        assert_eq!((leaf.not_after - leaf.not_before).whole_days(), 7);
        assert!(ca.is_ca);
        assert_eq!(ca.key_algorithm, "ECDSA P-384");
        assert_eq!(ca.subject, leaf.issuer);

        // Dates agree with openssl's own reading.
        let dates = openssl(
            &[
                "x509", "-in", "leaf.pem", "-noout", "-enddate", "-dateopt", "iso_8601",
            ],
            dir.path(),
        );
        let end = dates.trim().trim_start_matches("notAfter=");
        let expected = OffsetDateTime::parse(
            &end.replace(' ', "T"),
            &time::format_description::well_known::Rfc3339,
        )
        .unwrap();
        assert_eq!(leaf.not_after, expected);

        let key =
            PrivateKey::from_pem(&std::fs::read_to_string(dir.path().join("leaf.key")).unwrap())
                .unwrap();
        assert!(public_key_matches(leaf, &key));
        assert!(!public_key_matches(ca, &key));
        assert!(!public_key_matches(leaf, test_key(KeyAlgorithm::Ed25519)));
    }

    #[test]
    fn checks_who_signed_a_certificate() {
        let dir = tempfile::tempdir().unwrap();
        let (leaf_pem, ca_pem) = openssl_chain(dir.path(), "RSA");
        let leaf = &parse_certificate_chain(&leaf_pem).unwrap()[0];
        let ca = &parse_certificate_chain(&ca_pem).unwrap()[0];
        assert_eq!(leaf.key_algorithm, "RSA 2048");
        assert_eq!(verify_issued_by(leaf, ca), Ok(()));
        assert_eq!(verify_issued_by(ca, ca), Ok(()), "self-signed");
        let err = verify_issued_by(ca, leaf).unwrap_err();
        assert!(matches!(err, PkiError::NotIssuedBy { .. }), "{err}");

        // Same names, new CA key: the leaf is no longer its.
        let other_dir = tempfile::tempdir().unwrap();
        let (_, rotated_ca_pem) = openssl_chain(other_dir.path(), "RSA");
        let rotated = &parse_certificate_chain(&rotated_ca_pem).unwrap()[0];
        assert_eq!(rotated.subject, ca.subject);
        let err = verify_issued_by(leaf, rotated).unwrap_err();
        assert!(err.to_string().contains("does not verify"), "{err}");
    }

    #[test]
    fn refuses_non_certificates() {
        assert!(matches!(
            parse_certificate_chain(""),
            Err(PkiError::InvalidPem { .. })
        ));
        let csr = "-----BEGIN CERTIFICATE REQUEST-----\nMAA=\n-----END CERTIFICATE REQUEST-----\n";
        assert!(matches!(
            parse_certificate_chain(csr),
            Err(PkiError::InvalidPem { .. })
        ));
        let junk = "-----BEGIN CERTIFICATE-----\nAAAA\n-----END CERTIFICATE-----\n";
        assert!(matches!(
            parse_certificate_chain(junk),
            Err(PkiError::InvalidCertificate(_))
        ));
    }
}
