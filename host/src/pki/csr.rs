//! Certificate signing requests: built from a Certificate's spec with the
//! host's key (rcgen encodes, the host signs), and parsed with their
//! self-signature verified before any plugin sees them.

use std::net::IpAddr;

use rcgen::{CertificateParams, ExtendedKeyUsagePurpose, IsCa, KeyUsagePurpose, SanType};
use x509_parser::certification_request::X509CertificationRequest;
use x509_parser::extensions::{GeneralName, ParsedExtension};
use x509_parser::prelude::FromDer;

use super::PkiError;
use super::key::{PrivateKey, SignatureAlgorithm};
use super::name::{self, Subject};
use super::public_key::{self, VerifyError};
use super::usage::{self, KeyUsage};

/// What a CSR asks for, in cert-manager's terms (a Certificate's spec).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct CsrSpec {
    pub common_name: Option<String>,
    /// An RFC 4514 subject that replaces `common_name` and `subject`
    /// (cert-manager's `literalSubject`). Not supported: rcgen, which
    /// encodes certwasm's requests, cannot take a raw subject, so
    /// [`build_csr`] refuses a request with one (naming `literalSubject`)
    /// rather than writing a different subject than the one asked for.
    pub literal_subject: Option<String>,
    pub subject: Subject,
    pub dns_names: Vec<String>,
    pub ip_addresses: Vec<IpAddr>,
    pub uris: Vec<String>,
    pub email_addresses: Vec<String>,
    /// `spec.usages` as written; empty means cert-manager's defaults
    /// (see [`KeyUsage::effective`]).
    pub usages: Vec<KeyUsage>,
    pub is_ca: bool,
    /// Whether usages are written into the request (cert-manager's
    /// `encodeUsagesInRequest`, default true).
    pub encode_usages_in_request: bool,
}

/// Lends a host key to rcgen as its signer: rcgen is built without a
/// crypto backend on purpose (ring does not build for wasm32 and the host
/// keeps one crypto stack), so it only encodes and the host signs.
struct RcgenSigner<'a> {
    key: &'a PrivateKey,
    algorithm: SignatureAlgorithm,
    /// The subjectPublicKey BIT STRING contents (rcgen wraps it in the
    /// SubjectPublicKeyInfo with the algorithm's OIDs itself).
    subject_public_key: Vec<u8>,
}

impl rcgen::PublicKeyData for RcgenSigner<'_> {
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

impl rcgen::SigningKey for RcgenSigner<'_> {
    fn sign(&self, msg: &[u8]) -> Result<Vec<u8>, rcgen::Error> {
        self.key
            .sign(self.algorithm, msg)
            .map_err(|_| rcgen::Error::RemoteKeyError)
    }
}

/// The subjectPublicKey bits of a DER SubjectPublicKeyInfo.
fn subject_public_key_bits(spki_der: &[u8]) -> Result<Vec<u8>, PkiError> {
    let (_, spki) = x509_parser::x509::SubjectPublicKeyInfo::from_der(spki_der).map_err(|e| {
        PkiError::Encode {
            what: "public key",
            reason: e.to_string(),
        }
    })?;
    Ok(spki.subject_public_key.data.to_vec())
}

fn ia5(value: &str, field: &'static str) -> Result<rcgen::string::Ia5String, PkiError> {
    rcgen::string::Ia5String::try_from(value).map_err(|_| PkiError::InvalidSpec {
        field,
        reason: format!("{value:?} is not ASCII (an IA5String)"),
    })
}

/// Builds and signs a PKCS#10 request the way cert-manager's
/// `pki.GenerateCSR` does, and returns it as PEM:
///
/// - subject from `common_name` and `subject`, in Go's attribute order;
/// - SANs: DNS names, IP addresses, URIs, emails;
/// - when `encode_usages_in_request`, a keyUsage extension (if any bit is
///   set) and an extKeyUsage extension (if any), from
///   [`KeyUsage::effective`] (so empty usages mean digital signature and
///   key encipherment, and a CA gets cert sign);
/// - when `is_ca`, basicConstraints `CA:TRUE`;
/// - signed with the key's [`PrivateKey::default_signature_algorithm`].
///
/// Refused with [`PkiError::InvalidSpec`] naming the field: a
/// `literal_subject` (see [`CsrSpec::literal_subject`]), more than one
/// value in a subject field (rcgen writes one value per attribute type),
/// non-ASCII DNS names, URIs or emails, and a request that names nothing
/// (no common name and no SAN), as cert-manager refuses it.
pub fn build_csr(spec: &CsrSpec, key: &PrivateKey) -> Result<String, PkiError> {
    if spec
        .literal_subject
        .as_deref()
        .is_some_and(|s| !s.is_empty())
    {
        return Err(PkiError::InvalidSpec {
            field: "literalSubject",
            reason: "not supported by certwasm yet (its CSR encoder cannot write a raw \
                     subject); use commonName and subject instead"
                .into(),
        });
    }
    let has_common_name = spec.common_name.as_deref().is_some_and(|cn| !cn.is_empty());
    if !has_common_name
        && spec.dns_names.is_empty()
        && spec.ip_addresses.is_empty()
        && spec.uris.is_empty()
        && spec.email_addresses.is_empty()
    {
        return Err(PkiError::InvalidSpec {
            field: "commonName",
            reason: "no common name, DNS name, URI SAN, email SAN or IP address given".into(),
        });
    }

    let mut params = CertificateParams::default();
    params.distinguished_name =
        name::distinguished_name(spec.common_name.as_deref(), &spec.subject)?;
    for dns in &spec.dns_names {
        params
            .subject_alt_names
            .push(SanType::DnsName(ia5(dns, "dnsNames")?));
    }
    for ip in &spec.ip_addresses {
        params.subject_alt_names.push(SanType::IpAddress(*ip));
    }
    for uri in &spec.uris {
        params
            .subject_alt_names
            .push(SanType::URI(ia5(uri, "uris")?));
    }
    for email in &spec.email_addresses {
        params
            .subject_alt_names
            .push(SanType::Rfc822Name(ia5(email, "emailAddresses")?));
    }
    if spec.is_ca {
        params.is_ca = IsCa::Ca(rcgen::BasicConstraints::Unconstrained);
    }
    if spec.encode_usages_in_request {
        for usage in KeyUsage::effective(&spec.usages, spec.is_ca) {
            if let Some(purpose) = key_usage_purpose(usage) {
                if !params.key_usages.contains(&purpose) {
                    params.key_usages.push(purpose);
                }
            } else if let Some(purpose) = extended_purpose(usage)
                && !params.extended_key_usages.contains(&purpose)
            {
                params.extended_key_usages.push(purpose);
            }
        }
    }
    let signer = RcgenSigner {
        key,
        algorithm: key.default_signature_algorithm(),
        subject_public_key: subject_public_key_bits(key.public_key_der_ref())?,
    };
    let csr = params.serialize_request(&signer).map_err(|e| match e {
        rcgen::Error::RemoteKeyError => PkiError::Sign {
            key: key.algorithm().describe(),
            reason: "the host key refused to sign the request".into(),
        },
        other => PkiError::Encode {
            what: "certificate request",
            reason: other.to_string(),
        },
    })?;
    csr.pem().map_err(|e| PkiError::Encode {
        what: "certificate request",
        reason: e.to_string(),
    })
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

fn extended_purpose(usage: KeyUsage) -> Option<ExtendedKeyUsagePurpose> {
    Some(match usage {
        KeyUsage::Any => ExtendedKeyUsagePurpose::Any,
        KeyUsage::ServerAuth => ExtendedKeyUsagePurpose::ServerAuth,
        KeyUsage::ClientAuth => ExtendedKeyUsagePurpose::ClientAuth,
        KeyUsage::CodeSigning => ExtendedKeyUsagePurpose::CodeSigning,
        KeyUsage::EmailProtection | KeyUsage::Smime => ExtendedKeyUsagePurpose::EmailProtection,
        KeyUsage::Timestamping => ExtendedKeyUsagePurpose::TimeStamping,
        KeyUsage::OcspSigning => ExtendedKeyUsagePurpose::OcspSigning,
        other => ExtendedKeyUsagePurpose::Other(other.extended_oid()?.to_vec()),
    })
}

/// What a verified CSR asks for.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ParsedCsr {
    /// The subject as an RFC 4514 string, e.g. `CN=example.com,O=Example`
    /// (Go's `pkix.Name.String()` form).
    pub subject: String,
    pub common_name: Option<String>,
    /// The subject's attributes, sorted into cert-manager's fields, for
    /// comparing the request with a Certificate's spec.
    pub subject_fields: Subject,
    pub dns_names: Vec<String>,
    pub ip_addresses: Vec<IpAddr>,
    pub uris: Vec<String>,
    pub email_addresses: Vec<String>,
    /// Requested key usage bits and extended key usages (empty when the
    /// request carries neither extension).
    pub usages: Vec<KeyUsage>,
    /// Whether the request asks for basicConstraints `CA:TRUE`.
    pub is_ca: bool,
    /// The requested public key, DER SubjectPublicKeyInfo.
    pub public_key_der: Vec<u8>,
    /// The key, e.g. `ECDSA P-256`, `RSA 2048`.
    pub key_algorithm: String,
    /// The self-signature's algorithm, e.g. `ecdsa-with-SHA256`.
    pub signature_algorithm: String,
}

/// Parses a PEM CSR (`CERTIFICATE REQUEST`) and verifies its
/// self-signature with the public key it carries, so that a malformed,
/// altered or forged request is refused before any plugin sees it.
///
/// Accepted signatures: ECDSA (P-256, P-384) with SHA-256/384/512, RSA
/// PKCS#1 v1.5 with SHA-256/384/512, Ed25519. SHA-1 and RSA-PSS are
/// refused as [`PkiError::UnsupportedSignatureAlgorithm`].
pub fn parse_csr(pem_text: &str) -> Result<ParsedCsr, PkiError> {
    decode_csr(pem_text, SelfSignature::Verify)
}

/// Reads a PEM CSR like [`parse_csr`] but without checking its
/// self-signature: for comparing a request that was already accepted
/// (admission, or the CertificateRequest controller before signing) with a
/// Certificate's spec or key, which the Certificate controllers do on
/// every pass. Never the basis for signing anything.
pub fn read_csr(pem_text: &str) -> Result<ParsedCsr, PkiError> {
    decode_csr(pem_text, SelfSignature::Skip)
}

/// Whether [`decode_csr`] checks the request's self-signature.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum SelfSignature {
    Verify,
    Skip,
}

fn decode_csr(pem_text: &str, self_signature: SelfSignature) -> Result<ParsedCsr, PkiError> {
    let invalid_pem = |reason: String| PkiError::InvalidPem {
        what: "certificate request",
        reason,
    };
    let blocks = pem::parse_many(pem_text).map_err(|e| invalid_pem(e.to_string()))?;
    let block = blocks
        .iter()
        .find(|b| matches!(b.tag(), "CERTIFICATE REQUEST" | "NEW CERTIFICATE REQUEST"))
        .ok_or_else(|| invalid_pem("no CERTIFICATE REQUEST block found".into()))?;
    let (rest, csr) = X509CertificationRequest::from_der(block.contents())
        .map_err(|e| PkiError::InvalidCsr(e.to_string()))?;
    if !rest.is_empty() {
        return Err(PkiError::InvalidCsr(format!(
            "{} bytes of trailing data after the request",
            rest.len()
        )));
    }
    let info = &csr.certification_request_info;
    let public_key_der = info.subject_pki.raw.to_vec();
    let algorithm_oid = csr.signature_algorithm.algorithm.to_id_string();
    if self_signature == SelfSignature::Verify {
        public_key::verify_signature(
            &public_key_der,
            &algorithm_oid,
            info.raw,
            &csr.signature_value.data,
        )
        .map_err(|e| match e {
            VerifyError::Invalid => PkiError::CsrSignatureInvalid,
            VerifyError::Unsupported(name) => PkiError::UnsupportedSignatureAlgorithm(name),
            VerifyError::WrongKey(reason) => PkiError::InvalidCsr(reason),
        })?;
    }

    let (subject_fields, common_name) = name::read_subject(&info.subject);
    let mut parsed = ParsedCsr {
        subject: name::rfc4514(&info.subject),
        common_name,
        subject_fields,
        dns_names: Vec::new(),
        ip_addresses: Vec::new(),
        uris: Vec::new(),
        email_addresses: Vec::new(),
        usages: Vec::new(),
        is_ca: false,
        key_algorithm: public_key::describe_spki(&public_key_der),
        public_key_der,
        signature_algorithm: public_key::signature_algorithm_name(&algorithm_oid),
    };
    let mut key_usage = None;
    let mut extended_key_usage = None;
    for extension in csr.requested_extensions().into_iter().flatten() {
        match extension {
            ParsedExtension::SubjectAlternativeName(san) => {
                for name in &san.general_names {
                    match name {
                        GeneralName::DNSName(dns) => parsed.dns_names.push((*dns).to_owned()),
                        GeneralName::URI(uri) => parsed.uris.push((*uri).to_owned()),
                        GeneralName::RFC822Name(email) => {
                            parsed.email_addresses.push((*email).to_owned());
                        }
                        GeneralName::IPAddress(bytes) => {
                            let ip = ip_from_bytes(bytes).ok_or_else(|| {
                                PkiError::InvalidCsr(format!(
                                    "an IP address SAN of {} bytes",
                                    bytes.len()
                                ))
                            })?;
                            parsed.ip_addresses.push(ip);
                        }
                        _ => {}
                    }
                }
            }
            ParsedExtension::BasicConstraints(bc) => parsed.is_ca = bc.ca,
            ParsedExtension::KeyUsage(ku) => key_usage = Some(ku),
            ParsedExtension::ExtendedKeyUsage(eku) => extended_key_usage = Some(eku),
            ParsedExtension::ParseError { error } => {
                return Err(PkiError::InvalidCsr(format!(
                    "requested extension: {error}"
                )));
            }
            _ => {}
        }
    }
    parsed.usages = usage::from_x509(key_usage, extended_key_usage);
    Ok(parsed)
}

/// An IP address SAN (4 or 16 bytes).
pub(super) fn ip_from_bytes(bytes: &[u8]) -> Option<IpAddr> {
    match bytes.len() {
        4 => <[u8; 4]>::try_from(bytes).ok().map(IpAddr::from),
        16 => <[u8; 16]>::try_from(bytes).ok().map(IpAddr::from),
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::pki::{KeyAlgorithm, test_key};
    use std::process::Command;

    const KEY_TYPES: [KeyAlgorithm; 4] = [
        KeyAlgorithm::Rsa2048,
        KeyAlgorithm::EcdsaP256,
        KeyAlgorithm::EcdsaP384,
        KeyAlgorithm::Ed25519,
    ];

    fn full_spec() -> CsrSpec {
        CsrSpec {
            common_name: Some("example.com".into()),
            subject: Subject {
                organizations: vec!["Example, Inc.".into()],
                countries: vec!["GB".into()],
                organizational_units: vec!["Platform".into()],
                localities: vec!["London".into()],
                provinces: vec!["Greater London".into()],
                street_addresses: vec!["1 Example Street".into()],
                postal_codes: vec!["EC1A 1AA".into()],
                serial_number: Some("1234".into()),
            },
            dns_names: vec!["example.com".into(), "*.example.com".into()],
            ip_addresses: vec!["192.0.2.1".parse().unwrap(), "2001:db8::2".parse().unwrap()],
            uris: vec!["spiffe://cluster.local/ns/a/sa/b".into()],
            email_addresses: vec!["admin@example.com".into()],
            usages: vec![
                KeyUsage::DigitalSignature,
                KeyUsage::KeyEncipherment,
                KeyUsage::ServerAuth,
                KeyUsage::ClientAuth,
                KeyUsage::IpsecUser,
            ],
            encode_usages_in_request: true,
            ..CsrSpec::default()
        }
    }

    fn der_of(pem_text: &str) -> Vec<u8> {
        pem::parse(pem_text).unwrap().into_contents()
    }

    fn pem_of(der: Vec<u8>) -> String {
        pem::encode(&pem::Pem::new("CERTIFICATE REQUEST", der))
    }

    #[test]
    fn build_then_parse_round_trips_for_every_key_type() {
        for algorithm in KEY_TYPES {
            let key = test_key(algorithm);
            let spec = full_spec();
            let parsed = parse_csr(&build_csr(&spec, key).unwrap()).unwrap();
            assert_eq!(parsed.common_name.as_deref(), Some("example.com"));
            assert_eq!(parsed.subject_fields, spec.subject, "{algorithm}");
            assert_eq!(
                parsed.subject,
                "SERIALNUMBER=1234,CN=example.com,OU=Platform,O=Example\\, Inc.,\
                 POSTALCODE=EC1A 1AA,STREET=1 Example Street,L=London,ST=Greater London,C=GB"
            );
            assert_eq!(parsed.dns_names, spec.dns_names);
            assert_eq!(parsed.ip_addresses, spec.ip_addresses);
            assert_eq!(parsed.uris, spec.uris);
            assert_eq!(parsed.email_addresses, spec.email_addresses);
            assert_eq!(parsed.usages, spec.usages, "{algorithm}");
            assert!(!parsed.is_ca);
            assert_eq!(parsed.public_key_der, key.public_key_der());
            assert_eq!(parsed.key_algorithm, algorithm.describe());
        }
    }

    #[test]
    fn signature_algorithm_follows_the_key() {
        for (algorithm, expected) in [
            (KeyAlgorithm::Rsa2048, "sha256WithRSAEncryption"),
            (KeyAlgorithm::EcdsaP256, "ecdsa-with-SHA256"),
            (KeyAlgorithm::EcdsaP384, "ecdsa-with-SHA384"),
            (KeyAlgorithm::Ed25519, "ED25519"),
        ] {
            let parsed = parse_csr(&build_csr(&full_spec(), test_key(algorithm)).unwrap()).unwrap();
            assert_eq!(parsed.signature_algorithm, expected);
        }
    }

    #[test]
    fn usages_default_like_cert_manager_and_can_be_left_out() {
        let key = test_key(KeyAlgorithm::EcdsaP256);
        let spec = CsrSpec {
            usages: Vec::new(),
            is_ca: true,
            ..full_spec()
        };
        let parsed = parse_csr(&build_csr(&spec, key).unwrap()).unwrap();
        assert_eq!(
            parsed.usages,
            [
                KeyUsage::DigitalSignature,
                KeyUsage::KeyEncipherment,
                KeyUsage::CertSign
            ]
        );
        assert!(parsed.is_ca);
        let spec = CsrSpec {
            encode_usages_in_request: false,
            ..full_spec()
        };
        let parsed = parse_csr(&build_csr(&spec, key).unwrap()).unwrap();
        assert!(parsed.usages.is_empty());
        // Only extended usages: no keyUsage extension at all.
        let spec = CsrSpec {
            usages: vec![KeyUsage::ServerAuth, KeyUsage::Smime, KeyUsage::NetscapeSgc],
            ..full_spec()
        };
        let parsed = parse_csr(&build_csr(&spec, key).unwrap()).unwrap();
        assert_eq!(
            parsed.usages,
            [
                KeyUsage::ServerAuth,
                KeyUsage::EmailProtection,
                KeyUsage::NetscapeSgc
            ]
        );
    }

    #[test]
    fn a_tampered_csr_is_refused() {
        for algorithm in KEY_TYPES {
            let pem_text = build_csr(&full_spec(), test_key(algorithm)).unwrap();
            // Change a SAN inside the signed part.
            let mut der = der_of(&pem_text);
            let at = der.windows(7).position(|w| w == b"example").unwrap();
            der[at] = b'E';
            assert_eq!(
                parse_csr(&pem_of(der)),
                Err(PkiError::CsrSignatureInvalid),
                "{algorithm}"
            );
            // Change the last byte of the signature itself.
            let mut der = der_of(&pem_text);
            let last = der.len() - 1;
            der[last] ^= 0x01;
            let result = parse_csr(&pem_of(der));
            assert_eq!(result, Err(PkiError::CsrSignatureInvalid), "{algorithm}");
        }
    }

    #[test]
    fn a_csr_signed_by_another_key_is_refused() {
        // The request carries key A's public key but B's signature: swap
        // in A's SubjectPublicKeyInfo into a request B signed.
        let a = test_key(KeyAlgorithm::EcdsaP256);
        let b = PrivateKey::generate(KeyAlgorithm::EcdsaP256).unwrap();
        let mut der = der_of(&build_csr(&full_spec(), &b).unwrap());
        let b_spki = b.public_key_der();
        let at = der
            .windows(b_spki.len())
            .position(|w| w == b_spki.as_slice())
            .unwrap();
        der[at..at + b_spki.len()].copy_from_slice(a.public_key_der_ref());
        assert_eq!(parse_csr(&pem_of(der)), Err(PkiError::CsrSignatureInvalid));
    }

    #[test]
    fn not_a_csr_is_refused() {
        assert!(matches!(
            parse_csr("garbage"),
            Err(PkiError::InvalidPem { .. })
        ));
        let cert = "-----BEGIN CERTIFICATE-----\nMAA=\n-----END CERTIFICATE-----\n";
        assert!(matches!(parse_csr(cert), Err(PkiError::InvalidPem { .. })));
        assert!(matches!(
            parse_csr(&pem_of(vec![0x30, 0x00])),
            Err(PkiError::InvalidCsr(_))
        ));
        let mut der = der_of(&build_csr(&full_spec(), test_key(KeyAlgorithm::Ed25519)).unwrap());
        der.push(0);
        assert!(
            matches!(parse_csr(&pem_of(der)), Err(PkiError::InvalidCsr(m)) if m.contains("trailing"))
        );
    }

    #[test]
    fn unsupported_requests_are_refused_by_field() {
        let key = test_key(KeyAlgorithm::EcdsaP256);
        let field_of = |spec: &CsrSpec| match build_csr(spec, key) {
            Err(PkiError::InvalidSpec { field, .. }) => field,
            other => panic!("expected InvalidSpec, got {other:?}"),
        };
        let mut spec = full_spec();
        spec.subject.organizations.push("Second Org".into());
        assert_eq!(field_of(&spec), "subject.organizations");
        let spec = CsrSpec {
            literal_subject: Some("CN=x,O=y".into()),
            ..full_spec()
        };
        assert_eq!(field_of(&spec), "literalSubject");
        let spec = CsrSpec {
            dns_names: vec!["bücher.example".into()],
            ..full_spec()
        };
        assert_eq!(field_of(&spec), "dnsNames");
        let nothing = CsrSpec {
            common_name: Some(String::new()),
            ..CsrSpec::default()
        };
        assert_eq!(field_of(&nothing), "commonName");
        // An IP address alone is enough.
        let ip_only = CsrSpec {
            ip_addresses: vec!["10.0.0.1".parse().unwrap()],
            ..CsrSpec::default()
        };
        let parsed = parse_csr(&build_csr(&ip_only, key).unwrap()).unwrap();
        assert_eq!(parsed.subject, "");
        assert_eq!(parsed.common_name, None);
    }

    fn openssl_text(path: &std::path::Path) -> (bool, String) {
        let out = Command::new("openssl")
            .args(["req", "-verify", "-noout", "-text", "-in"])
            .arg(path)
            .output()
            .unwrap();
        let text = format!(
            "{}{}",
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        );
        (out.status.success(), text)
    }

    #[test]
    fn openssl_verifies_our_csrs_and_sees_what_was_asked() {
        let dir = tempfile::tempdir().unwrap();
        for algorithm in KEY_TYPES {
            let spec = CsrSpec {
                is_ca: true,
                usages: vec![
                    KeyUsage::DigitalSignature,
                    KeyUsage::ServerAuth,
                    KeyUsage::CodeSigning,
                ],
                ..full_spec()
            };
            let path = dir.path().join("req.pem");
            std::fs::write(&path, build_csr(&spec, test_key(algorithm)).unwrap()).unwrap();
            let (ok, text) = openssl_text(&path);
            assert!(ok, "{algorithm}: {text}");
            for expected in [
                "verify OK",
                "CN = example.com",
                "O = \"Example, Inc.\"",
                "serialNumber = 1234",
                "postalCode = EC1A 1AA",
                "DNS:example.com, DNS:*.example.com",
                "IP Address:192.0.2.1",
                "IP Address:2001:DB8:0:0:0:0:0:2",
                "URI:spiffe://cluster.local/ns/a/sa/b",
                "email:admin@example.com",
                "Digital Signature, Certificate Sign",
                "TLS Web Server Authentication, Code Signing",
                "CA:TRUE",
            ] {
                assert!(
                    text.contains(expected),
                    "{algorithm}: {expected:?} missing in\n{text}"
                );
            }
            assert!(!text.contains("Key Encipherment"), "{algorithm}: {text}");
        }
    }

    #[test]
    fn openssl_refuses_a_tampered_csr_too() {
        // Guards the openssl check above: it can fail.
        let dir = tempfile::tempdir().unwrap();
        let mut der = der_of(&build_csr(&full_spec(), test_key(KeyAlgorithm::EcdsaP256)).unwrap());
        let at = der.windows(7).position(|w| w == b"example").unwrap();
        der[at] = b'E';
        let path = dir.path().join("req.pem");
        std::fs::write(&path, pem_of(der)).unwrap();
        let (ok, text) = openssl_text(&path);
        assert!(!ok || !text.contains("verify OK"), "{text}");
    }

    #[test]
    fn parses_and_verifies_what_openssl_writes() {
        let dir = tempfile::tempdir().unwrap();
        let key_path = dir.path().join("key.pem");
        let csr_path = dir.path().join("req.pem");
        let cases: [(&[&str], &str, &str); 5] = [
            (
                &["-newkey", "rsa:3072"],
                "RSA 3072",
                "sha256WithRSAEncryption",
            ),
            (
                &["-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:P-256"],
                "ECDSA P-256",
                "ecdsa-with-SHA256",
            ),
            // Another hash than the curve's usual one, as Go allows.
            (
                &[
                    "-newkey",
                    "ec",
                    "-pkeyopt",
                    "ec_paramgen_curve:P-256",
                    "-sha512",
                ],
                "ECDSA P-256",
                "ecdsa-with-SHA512",
            ),
            (
                &[
                    "-newkey",
                    "ec",
                    "-pkeyopt",
                    "ec_paramgen_curve:P-384",
                    "-sha384",
                ],
                "ECDSA P-384",
                "ecdsa-with-SHA384",
            ),
            (&["-newkey", "ed25519"], "Ed25519", "ED25519"),
        ];
        for (options, key_algorithm, signature_algorithm) in cases {
            let out = Command::new("openssl")
                .args([
                    "req",
                    "-new",
                    "-nodes",
                    "-subj",
                    "/C=DE/O=Org A/CN=openssl.example",
                ])
                .args(options)
                .args([
                    "-addext",
                    "subjectAltName=DNS:a.example,IP:10.1.2.3,email:x@a.example",
                ])
                .args(["-addext", "keyUsage=critical,digitalSignature,keyAgreement"])
                .args([
                    "-addext",
                    "extendedKeyUsage=clientAuth,1.3.6.1.4.1.311.10.3.3",
                ])
                .arg("-keyout")
                .arg(&key_path)
                .arg("-out")
                .arg(&csr_path)
                .output()
                .unwrap();
            assert!(
                out.status.success(),
                "{}",
                String::from_utf8_lossy(&out.stderr)
            );
            let parsed = parse_csr(&std::fs::read_to_string(&csr_path).unwrap())
                .unwrap_or_else(|e| panic!("{key_algorithm} {signature_algorithm}: {e}"));
            assert_eq!(parsed.key_algorithm, key_algorithm);
            assert_eq!(parsed.signature_algorithm, signature_algorithm);
            assert_eq!(parsed.subject, "CN=openssl.example,O=Org A,C=DE");
            assert_eq!(parsed.dns_names, ["a.example"]);
            assert_eq!(parsed.ip_addresses, ["10.1.2.3".parse::<IpAddr>().unwrap()]);
            assert_eq!(parsed.email_addresses, ["x@a.example"]);
            assert_eq!(
                parsed.usages,
                [
                    KeyUsage::DigitalSignature,
                    KeyUsage::KeyAgreement,
                    KeyUsage::ClientAuth,
                    KeyUsage::MicrosoftSgc
                ]
            );
            let key = PrivateKey::from_pem(&std::fs::read_to_string(&key_path).unwrap());
            if let Ok(key) = key {
                assert!(key.matches_public_key(&parsed.public_key_der));
            }
        }
    }

    #[test]
    fn sha1_and_rsa_pss_requests_are_refused_as_unsupported() {
        let dir = tempfile::tempdir().unwrap();
        let csr_path = dir.path().join("req.pem");
        for (options, name) in [
            (&["-sha1"][..], "sha1WithRSAEncryption"),
            (&["-sigopt", "rsa_padding_mode:pss"][..], "rsassaPss"),
        ] {
            let out = Command::new("openssl")
                .args([
                    "req",
                    "-new",
                    "-nodes",
                    "-newkey",
                    "rsa:2048",
                    "-subj",
                    "/CN=old.example",
                ])
                .args(options)
                .arg("-keyout")
                .arg(dir.path().join("key.pem"))
                .arg("-out")
                .arg(&csr_path)
                .output()
                .unwrap();
            assert!(
                out.status.success(),
                "{}",
                String::from_utf8_lossy(&out.stderr)
            );
            let err = parse_csr(&std::fs::read_to_string(&csr_path).unwrap()).unwrap_err();
            assert_eq!(
                err,
                PkiError::UnsupportedSignatureAlgorithm(name.to_owned())
            );
        }
    }
}
