//! Certificate signing requests: built from a cert-manager-style spec with
//! the host's key, and parsed (with their signature verified) before any
//! plugin sees them.

use std::net::IpAddr;

use rcgen::{
    CertificateParams, DistinguishedName, DnType, ExtendedKeyUsagePurpose, IsCa, KeyUsagePurpose,
    PublicKeyData, SanType, SigningKey,
};
use x509_parser::extensions::{GeneralName, ParsedExtension};
use x509_parser::prelude::FromDer;

use super::error::PkiError;
use super::key::{PrivateKey, SignatureAlgorithm};
use super::usage::KeyUsage;

/// cert-manager's `spec.subject`.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Subject {
    pub organizations: Vec<String>,
    pub countries: Vec<String>,
    pub organizational_units: Vec<String>,
    pub localities: Vec<String>,
    pub provinces: Vec<String>,
    pub street_addresses: Vec<String>,
    pub postal_codes: Vec<String>,
    pub serial_number: Option<String>,
}

/// What a CSR asks for, in cert-manager's terms (a Certificate's spec).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct CsrSpec {
    pub common_name: Option<String>,
    /// An RFC 4514 subject that replaces `common_name` and `subject`. Not
    /// supported yet: building a CSR with one is refused with a clear error.
    pub literal_subject: Option<String>,
    pub subject: Subject,
    pub dns_names: Vec<String>,
    pub ip_addresses: Vec<IpAddr>,
    pub uris: Vec<String>,
    pub email_addresses: Vec<String>,
    pub usages: Vec<KeyUsage>,
    pub is_ca: bool,
    /// Whether usages are written into the request (cert-manager's
    /// `encodeUsagesInRequest`, default true).
    pub encode_usages_in_request: bool,
}

/// Adapts a host key to rcgen's signer interface, so rcgen encodes and the
/// host signs (rcgen is built without a crypto backend on purpose).
struct RcgenSigner<'a> {
    key: &'a PrivateKey,
    algorithm: SignatureAlgorithm,
    subject_public_key: Vec<u8>,
}

impl PublicKeyData for RcgenSigner<'_> {
    fn der_bytes(&self) -> &[u8] {
        &self.subject_public_key
    }

    fn algorithm(&self) -> &'static rcgen::SignatureAlgorithm {
        match self.algorithm {
            SignatureAlgorithm::EcdsaP256Sha256 => &rcgen::PKCS_ECDSA_P256_SHA256,
            SignatureAlgorithm::EcdsaP384Sha384 => &rcgen::PKCS_ECDSA_P384_SHA384,
            SignatureAlgorithm::RsaPkcs1Sha256 => &rcgen::PKCS_RSA_SHA256,
            SignatureAlgorithm::RsaPkcs1Sha384 => &rcgen::PKCS_RSA_SHA384,
            SignatureAlgorithm::RsaPkcs1Sha512 => &rcgen::PKCS_RSA_SHA512,
            SignatureAlgorithm::Ed25519 => &rcgen::PKCS_ED25519,
        }
    }
}

impl SigningKey for RcgenSigner<'_> {
    fn sign(&self, msg: &[u8]) -> Result<Vec<u8>, rcgen::Error> {
        self.key.sign(self.algorithm, msg).map_err(|_| rcgen::Error::RemoteKeyError)
    }
}

/// The subjectPublicKey bits of a DER SubjectPublicKeyInfo.
pub(crate) fn subject_public_key_bits(spki_der: &[u8]) -> Result<Vec<u8>, PkiError> {
    let (_, spki) = x509_parser::x509::SubjectPublicKeyInfo::from_der(spki_der)
        .map_err(|e| PkiError::Encode(format!("public key: {e}")))?;
    Ok(spki.subject_public_key.data.to_vec())
}

fn ia5(value: &str, field: &str) -> Result<rcgen::string::Ia5String, PkiError> {
    rcgen::string::Ia5String::try_from(value)
        .map_err(|_| PkiError::InvalidCsr(format!("{field} {value:?} is not ASCII (IA5String)")))
}

/// Builds and signs a PKCS#10 request; returns PEM.
///
/// Each subject attribute carries its first value only: rcgen keeps one
/// value per attribute type. cert-manager allows several (e.g. two
/// `organizations`); those extra values are refused here rather than
/// silently dropped.
pub fn build_csr(spec: &CsrSpec, key: &PrivateKey) -> Result<String, PkiError> {
    if spec.literal_subject.is_some() {
        return Err(PkiError::InvalidCsr("literalSubject is not supported yet".into()));
    }
    let mut name = DistinguishedName::new();
    let subject = &spec.subject;
    let attributes: [(&[String], DnType, &str); 7] = [
        (&subject.countries, DnType::CountryName, "subject.countries"),
        (&subject.provinces, DnType::StateOrProvinceName, "subject.provinces"),
        (&subject.localities, DnType::LocalityName, "subject.localities"),
        (&subject.street_addresses, DnType::CustomDnType(vec![2, 5, 4, 9]), "subject.streetAddresses"),
        (&subject.postal_codes, DnType::CustomDnType(vec![2, 5, 4, 17]), "subject.postalCodes"),
        (&subject.organizations, DnType::OrganizationName, "subject.organizations"),
        (&subject.organizational_units, DnType::OrganizationalUnitName, "subject.organizationalUnits"),
    ];
    for (values, dn_type, field) in attributes {
        match values {
            [] => {}
            [one] => name.push(dn_type, one.as_str()),
            _ => {
                return Err(PkiError::InvalidCsr(format!(
                    "{field}: more than one value is not supported yet"
                )));
            }
        }
    }
    if let Some(serial) = &subject.serial_number {
        name.push(DnType::CustomDnType(vec![2, 5, 4, 5]), serial.as_str());
    }
    if let Some(common_name) = spec.common_name.as_deref().filter(|cn| !cn.is_empty()) {
        name.push(DnType::CommonName, common_name);
    }

    let mut params = CertificateParams::default();
    params.distinguished_name = name;
    for dns in &spec.dns_names {
        params.subject_alt_names.push(SanType::DnsName(ia5(dns, "dnsNames")?));
    }
    for ip in &spec.ip_addresses {
        params.subject_alt_names.push(SanType::IpAddress(*ip));
    }
    for uri in &spec.uris {
        params.subject_alt_names.push(SanType::URI(ia5(uri, "uris")?));
    }
    for email in &spec.email_addresses {
        params.subject_alt_names.push(SanType::Rfc822Name(ia5(email, "emailAddresses")?));
    }
    if spec.is_ca {
        params.is_ca = IsCa::Ca(rcgen::BasicConstraints::Unconstrained);
    }
    if spec.encode_usages_in_request {
        for usage in &spec.usages {
            if let Some(purpose) = key_usage_purpose(*usage) {
                if !params.key_usages.contains(&purpose) {
                    params.key_usages.push(purpose);
                }
            } else if let Some(oid) = usage.extended_oid() {
                let purpose = extended_purpose(*usage, oid);
                if !params.extended_key_usages.contains(&purpose) {
                    params.extended_key_usages.push(purpose);
                }
            }
        }
    }
    let signer = RcgenSigner {
        key,
        algorithm: key.default_signature_algorithm(),
        subject_public_key: subject_public_key_bits(key.public_key_der_ref())?,
    };
    let csr = params
        .serialize_request(&signer)
        .map_err(|e| PkiError::InvalidCsr(e.to_string()))?;
    csr.pem().map_err(|e| PkiError::Encode(e.to_string()))
}

fn key_usage_purpose(usage: KeyUsage) -> Option<KeyUsagePurpose> {
    Some(match usage {
        KeyUsage::Signing | KeyUsage::DigitalSignature => KeyUsagePurpose::DigitalSignature,
        KeyUsage::ContentCommitment => KeyUsagePurpose::ContentCommitment,
        KeyUsage::KeyEncipherment => KeyUsagePurpose::KeyEncipherment,
        KeyUsage::KeyAgreement => KeyUsagePurpose::KeyAgreement,
        KeyUsage::DataEncipherment => KeyUsagePurpose::DataEncipherment,
        KeyUsage::CertSign => KeyUsagePurpose::KeyCertSign,
        KeyUsage::CrlSign => KeyUsagePurpose::CrlSign,
        KeyUsage::EncipherOnly => KeyUsagePurpose::EncipherOnly,
        KeyUsage::DecipherOnly => KeyUsagePurpose::DecipherOnly,
        _ => return None,
    })
}

fn extended_purpose(usage: KeyUsage, oid: &[u64]) -> ExtendedKeyUsagePurpose {
    match usage {
        KeyUsage::Any => ExtendedKeyUsagePurpose::Any,
        KeyUsage::ServerAuth => ExtendedKeyUsagePurpose::ServerAuth,
        KeyUsage::ClientAuth => ExtendedKeyUsagePurpose::ClientAuth,
        KeyUsage::CodeSigning => ExtendedKeyUsagePurpose::CodeSigning,
        KeyUsage::EmailProtection | KeyUsage::Smime => ExtendedKeyUsagePurpose::EmailProtection,
        KeyUsage::Timestamping => ExtendedKeyUsagePurpose::TimeStamping,
        KeyUsage::OcspSigning => ExtendedKeyUsagePurpose::OcspSigning,
        _ => ExtendedKeyUsagePurpose::Other(oid.to_vec()),
    }
}

/// What a verified CSR asks for.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ParsedCsr {
    /// RFC 4514-style subject, e.g. `CN=example.com, O=Example`.
    pub subject: String,
    pub common_name: Option<String>,
    pub dns_names: Vec<String>,
    pub ip_addresses: Vec<IpAddr>,
    pub uris: Vec<String>,
    pub email_addresses: Vec<String>,
    pub is_ca: bool,
    /// The requested public key, DER SubjectPublicKeyInfo.
    pub public_key_der: Vec<u8>,
}

/// Parses a PEM CSR and verifies its self-signature, so that a malformed or
/// forged request is refused before any plugin sees it.
pub fn parse_csr(pem_text: &str) -> Result<ParsedCsr, PkiError> {
    let block = pem::parse(pem_text).map_err(|e| PkiError::InvalidPem {
        what: "certificate request",
        reason: e.to_string(),
    })?;
    if block.tag() != "CERTIFICATE REQUEST" && block.tag() != "NEW CERTIFICATE REQUEST" {
        return Err(PkiError::InvalidPem {
            what: "certificate request",
            reason: format!("expected a CERTIFICATE REQUEST block, found {}", block.tag()),
        });
    }
    let (_, csr) = x509_parser::certification_request::X509CertificationRequest::from_der(block.contents())
        .map_err(|e| PkiError::InvalidCsr(e.to_string()))?;
    let info = &csr.certification_request_info;
    let public_key_der = info.subject_pki.raw.to_vec();
    super::cert::verify_signature(
        &public_key_der,
        &csr.signature_algorithm.algorithm.to_id_string(),
        info.raw,
        &csr.signature_value.data,
    )
    .map_err(|_| PkiError::CsrSignatureInvalid)?;

    let mut parsed = ParsedCsr {
        subject: info.subject.to_string(),
        common_name: info
            .subject
            .iter_common_name()
            .next()
            .and_then(|cn| cn.as_str().ok())
            .map(str::to_owned),
        dns_names: Vec::new(),
        ip_addresses: Vec::new(),
        uris: Vec::new(),
        email_addresses: Vec::new(),
        is_ca: false,
        public_key_der,
    };
    if let Some(extensions) = csr.requested_extensions() {
        for extension in extensions {
            match extension {
                ParsedExtension::SubjectAlternativeName(san) => {
                    for name in &san.general_names {
                        match name {
                            GeneralName::DNSName(dns) => parsed.dns_names.push((*dns).to_owned()),
                            GeneralName::URI(uri) => parsed.uris.push((*uri).to_owned()),
                            GeneralName::RFC822Name(email) => parsed.email_addresses.push((*email).to_owned()),
                            GeneralName::IPAddress(bytes) => {
                                if let Some(ip) = super::cert::ip_from_bytes(bytes) {
                                    parsed.ip_addresses.push(ip);
                                }
                            }
                            _ => {}
                        }
                    }
                }
                ParsedExtension::BasicConstraints(bc) => parsed.is_ca = bc.ca,
                _ => {}
            }
        }
    }
    Ok(parsed)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::pki::KeyAlgorithm;

    fn full_spec() -> CsrSpec {
        CsrSpec {
            common_name: Some("example.com".into()),
            subject: Subject {
                organizations: vec!["Example Org".into()],
                countries: vec!["GB".into()],
                organizational_units: vec!["Platform".into()],
                localities: vec!["London".into()],
                provinces: vec!["Greater London".into()],
                street_addresses: vec!["1 Example Street".into()],
                postal_codes: vec!["EC1A 1AA".into()],
                serial_number: Some("1234".into()),
            },
            dns_names: vec!["example.com".into(), "www.example.com".into()],
            ip_addresses: vec!["192.0.2.1".parse().unwrap(), "2001:db8::2".parse().unwrap()],
            uris: vec!["spiffe://cluster.local/ns/a/sa/b".into()],
            email_addresses: vec!["admin@example.com".into()],
            usages: vec![KeyUsage::DigitalSignature, KeyUsage::KeyEncipherment, KeyUsage::ServerAuth],
            encode_usages_in_request: true,
            ..CsrSpec::default()
        }
    }

    #[test]
    fn build_then_parse_round_trips_for_every_key_type() {
        for algorithm in [KeyAlgorithm::Rsa2048, KeyAlgorithm::EcdsaP256, KeyAlgorithm::EcdsaP384, KeyAlgorithm::Ed25519] {
            let key = PrivateKey::generate(algorithm).unwrap();
            let pem = build_csr(&full_spec(), &key).unwrap();
            let parsed = parse_csr(&pem).unwrap();
            assert_eq!(parsed.common_name.as_deref(), Some("example.com"));
            assert_eq!(parsed.dns_names, ["example.com", "www.example.com"]);
            assert_eq!(parsed.ip_addresses, full_spec().ip_addresses);
            assert_eq!(parsed.uris, ["spiffe://cluster.local/ns/a/sa/b"]);
            assert_eq!(parsed.email_addresses, ["admin@example.com"]);
            assert_eq!(parsed.public_key_der, key.public_key_der());
            for part in ["O=Example Org", "C=GB", "OU=Platform", "L=London", "ST=Greater London"] {
                assert!(parsed.subject.contains(part), "{algorithm:?}: {part} missing from {}", parsed.subject);
            }
            assert!(!parsed.is_ca);
        }
    }

    #[test]
    fn a_tampered_csr_is_refused() {
        let key = PrivateKey::generate(KeyAlgorithm::EcdsaP256).unwrap();
        let pem_text = build_csr(&full_spec(), &key).unwrap();
        let mut der = pem::parse(&pem_text).unwrap().into_contents();
        // Flip a byte inside "www.example.com" in the signed part.
        let at = der.windows(3).position(|w| w == b"www").unwrap();
        der[at] = b'x';
        let tampered = pem::encode(&pem::Pem::new("CERTIFICATE REQUEST", der));
        assert_eq!(parse_csr(&tampered), Err(PkiError::CsrSignatureInvalid));
        assert!(matches!(parse_csr("garbage"), Err(PkiError::InvalidPem { .. })));
    }

    #[test]
    fn unsupported_subject_shapes_are_refused_not_dropped() {
        let key = PrivateKey::generate(KeyAlgorithm::EcdsaP256).unwrap();
        let mut spec = full_spec();
        spec.subject.organizations.push("Second Org".into());
        let err = build_csr(&spec, &key).unwrap_err();
        assert!(err.to_string().contains("subject.organizations"), "{err}");
        let spec = CsrSpec {
            literal_subject: Some("CN=x".into()),
            ..full_spec()
        };
        assert!(build_csr(&spec, &key).is_err());
    }

    #[test]
    fn openssl_verifies_our_csrs_and_sees_what_was_asked() {
        let dir = tempfile::tempdir().unwrap();
        for algorithm in [KeyAlgorithm::Rsa2048, KeyAlgorithm::EcdsaP384, KeyAlgorithm::Ed25519] {
            let key = PrivateKey::generate(algorithm).unwrap();
            let mut spec = full_spec();
            spec.is_ca = true;
            let path = dir.path().join("req.pem");
            std::fs::write(&path, build_csr(&spec, &key).unwrap()).unwrap();
            let out = std::process::Command::new("openssl")
                .args(["req", "-verify", "-noout", "-text", "-in"])
                .arg(&path)
                .output()
                .unwrap();
            let text = format!("{}{}", String::from_utf8_lossy(&out.stdout), String::from_utf8_lossy(&out.stderr));
            assert!(out.status.success(), "{algorithm:?}: {text}");
            for expected in [
                "verify OK",
                "DNS:www.example.com",
                "IP Address:192.0.2.1",
                "URI:spiffe://cluster.local/ns/a/sa/b",
                "email:admin@example.com",
                "Digital Signature, Key Encipherment",
                "TLS Web Server Authentication",
                "CA:TRUE",
            ] {
                assert!(text.contains(expected), "{algorithm:?}: {expected:?} missing in\n{text}");
            }
        }
    }
}
