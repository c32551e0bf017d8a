//! Building an X.509 certificate from a certificate request, signed through
//! a [`Signer`] (a host key handle in a plugin; any key in a test).
//!
//! The core is pure: the time, the serial and the signer come in as
//! arguments, so the same code runs in a plugin, in native tests and in the
//! host's benchmark. It follows cert-manager's signers: subject and SANs
//! from the CSR, validity from the request (90 days by default), key usages
//! and extended key usages from the request, subject and authority key
//! identifiers, and CRL / OCSP / issuing-certificate URLs from the issuer.

use std::time::Duration;

use der::asn1::{BitString, GeneralizedTime, Ia5String, OctetString, UtcTime};
use der::oid::{AssociatedOid, ObjectIdentifier};
use der::oid::db::rfc5280 as oids;
use der::{Any, Decode, DecodePem, Encode, EncodePem, Reader, SliceReader, pem::LineEnding};
use flagset::FlagSet;
use sha1::{Digest, Sha1};
pub use x509_cert::Certificate;
use x509_cert::certificate::{TbsCertificate, Version};
use x509_cert::ext::Extension;
use x509_cert::ext::pkix::crl::dp::DistributionPoint;
use x509_cert::ext::pkix::name::{DistributionPointName, GeneralName};
use x509_cert::ext::pkix::{
    AccessDescription, AuthorityInfoAccessSyntax, AuthorityKeyIdentifier, BasicConstraints,
    CrlDistributionPoints, ExtendedKeyUsage, KeyUsage as KeyUsageExt, KeyUsages, SubjectKeyIdentifier,
};
use x509_cert::name::Name;
use x509_cert::request::{CertReq, ExtensionReq};
use x509_cert::serial_number::SerialNumber;
use x509_cert::spki::{AlgorithmIdentifierOwned, SubjectPublicKeyInfoOwned};
use x509_cert::time::{Time, Validity};

use crate::types::{KeyUsage, SignatureAlgorithm};

/// cert-manager's default certificate lifetime: 90 days.
pub const DEFAULT_DURATION: Duration = Duration::from_secs(90 * 24 * 3600);

/// Something that signs with a private key the caller cannot see.
pub trait Signer {
    /// The key's public half, DER SubjectPublicKeyInfo.
    fn public_key_der(&self) -> &[u8];
    /// Signs `data`; the signer hashes it as `algorithm` says.
    fn sign(&self, algorithm: SignatureAlgorithm, data: &[u8]) -> Result<Vec<u8>, String>;
}

/// Why a certificate could not be built.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum X509Error {
    #[error("the certificate request is not valid: {0}")]
    BadRequest(String),
    #[error("the issuing certificate is not valid: {0}")]
    BadIssuer(String),
    #[error("unsupported key: {0}")]
    UnsupportedKey(String),
    #[error("the signing key does not match the certificate request's public key")]
    KeyMismatch,
    #[error("signing failed: {0}")]
    Sign(String),
    #[error("encoding the certificate failed: {0}")]
    Encode(String),
    #[error("{field} {value:?} is not a valid URL (IA5String)")]
    BadUrl { field: &'static str, value: String },
}

fn encode_err(err: der::Error) -> X509Error {
    X509Error::Encode(err.to_string())
}

/// What the request and the issuer ask of the certificate, beyond the CSR.
#[derive(Debug, Clone, Default)]
pub struct CertificateParams<'a> {
    /// `spec.duration` in seconds; `None` means [`DEFAULT_DURATION`].
    pub duration_seconds: Option<u64>,
    pub is_ca: bool,
    /// `spec.usages`; empty means digital signature + key encipherment.
    pub usages: &'a [KeyUsage],
    pub crl_distribution_points: &'a [String],
    pub ocsp_servers: &'a [String],
    pub issuing_certificate_urls: &'a [String],
}

/// The CA that signs: its name, key identifier and expiry.
#[derive(Debug, Clone)]
pub struct IssuingCa {
    /// Its subject, exactly as encoded (verifiers compare it byte for byte
    /// with the leaf's issuer).
    pub name: Name,
    /// Its subject key identifier (the extension, or RFC 5280 method 1).
    pub key_id: Vec<u8>,
    /// Its notAfter, seconds since the epoch: leaves never outlive it.
    pub not_after_unix: i64,
    /// Its public key, DER SubjectPublicKeyInfo.
    pub public_key_der: Vec<u8>,
    /// Whether basicConstraints says CA:TRUE.
    pub is_ca: bool,
}

impl IssuingCa {
    /// Reads the first certificate of a PEM chain (a CA Secret's `tls.crt`).
    pub fn from_pem(chain_pem: &str) -> Result<Self, X509Error> {
        let certs = parse_chain(chain_pem)?;
        let first = certs
            .first()
            .ok_or_else(|| X509Error::BadIssuer("no certificate found".into()))?;
        Self::from_certificate(first)
    }

    /// Reads a parsed certificate.
    pub fn from_certificate(cert: &Certificate) -> Result<Self, X509Error> {
        let tbs = &cert.tbs_certificate;
        let key_id = match tbs.get::<SubjectKeyIdentifier>() {
            Ok(Some((_, ski))) => ski.0.as_bytes().to_vec(),
            Ok(None) => key_identifier(&tbs.subject_public_key_info),
            Err(e) => return Err(X509Error::BadIssuer(format!("subjectKeyIdentifier: {e}"))),
        };
        let is_ca = matches!(tbs.get::<BasicConstraints>(), Ok(Some((_, bc))) if bc.ca);
        Ok(Self {
            name: tbs.subject.clone(),
            key_id,
            not_after_unix: unix_seconds(&tbs.validity.not_after),
            public_key_der: tbs.subject_public_key_info.to_der().map_err(encode_err)?,
            is_ca,
        })
    }
}

/// Who signs a certificate.
#[derive(Debug, Clone, Copy)]
pub enum Issuer<'a> {
    /// The request's own key: issuer = subject, and the key must match.
    SelfSigned,
    /// A CA.
    Ca(&'a IssuingCa),
}

/// Parses every certificate in a PEM chain.
pub fn parse_chain(chain_pem: &str) -> Result<Vec<Certificate>, X509Error> {
    Certificate::load_pem_chain(chain_pem.as_bytes()).map_err(|e| X509Error::BadIssuer(e.to_string()))
}

/// Whether a certificate's issuer is its own subject (a root).
pub fn is_self_issued(cert: &Certificate) -> bool {
    cert.tbs_certificate.issuer == cert.tbs_certificate.subject
}

/// PEM of one certificate.
pub fn to_pem(cert: &Certificate) -> Result<String, X509Error> {
    cert.to_pem(LineEnding::LF).map_err(encode_err)
}

/// Builds and signs the certificate for `csr_pem`; returns it as PEM.
///
/// `serial` is 16 random bytes (cert-manager uses 128-bit random serials);
/// it is made positive here.
pub fn sign_request(
    csr_pem: &str,
    params: &CertificateParams<'_>,
    issuer: Issuer<'_>,
    signer: &dyn Signer,
    now_unix: i64,
    serial: [u8; 16],
) -> Result<String, X509Error> {
    let request = CertReq::from_pem(csr_pem.as_bytes()).map_err(|e| X509Error::BadRequest(e.to_string()))?;
    let subject_key = request.info.public_key.clone();
    let subject_key_id = key_identifier(&subject_key);
    let signer_spki = SubjectPublicKeyInfoOwned::from_der(signer.public_key_der())
        .map_err(|e| X509Error::UnsupportedKey(format!("signer public key: {e}")))?;
    let (issuer_name, authority_key_id) = match issuer {
        Issuer::SelfSigned => {
            if signer_spki != subject_key {
                return Err(X509Error::KeyMismatch);
            }
            (request.info.subject.clone(), subject_key_id.clone())
        }
        Issuer::Ca(ca) => (ca.name.clone(), ca.key_id.clone()),
    };
    let algorithm = signature_algorithm(&signer_spki)?;

    let duration = params.duration_seconds.map_or(DEFAULT_DURATION, Duration::from_secs);
    let mut not_after = now_unix.saturating_add(i64::try_from(duration.as_secs()).unwrap_or(i64::MAX));
    if let Issuer::Ca(ca) = issuer {
        not_after = not_after.min(ca.not_after_unix);
    }

    let mut extensions = Vec::new();
    extensions.push(extension(&key_usage(params), true)?);
    let extended = extended_key_usages(params.usages);
    if !extended.is_empty() {
        extensions.push(extension(&ExtendedKeyUsage(extended), false)?);
    }
    extensions.push(extension(
        &BasicConstraints {
            ca: params.is_ca,
            path_len_constraint: None,
        },
        true,
    )?);
    extensions.push(extension(&SubjectKeyIdentifier(octets(&subject_key_id)?), false)?);
    extensions.push(extension(
        &AuthorityKeyIdentifier {
            key_identifier: Some(octets(&authority_key_id)?),
            ..AuthorityKeyIdentifier::default()
        },
        false,
    )?);
    if let Some(mut san) = requested_extension(&request, oids::ID_CE_SUBJECT_ALT_NAME)? {
        // RFC 5280 4.2.1.6: with an empty subject the SANs are critical.
        san.critical = request.info.subject.0.is_empty();
        extensions.push(san);
    }
    if !params.crl_distribution_points.is_empty() {
        let points = params
            .crl_distribution_points
            .iter()
            .map(|url| {
                Ok(DistributionPoint {
                    distribution_point: Some(DistributionPointName::FullName(vec![uri("crlDistributionPoints", url)?])),
                    reasons: None,
                    crl_issuer: None,
                })
            })
            .collect::<Result<Vec<_>, X509Error>>()?;
        extensions.push(extension(&CrlDistributionPoints(points), false)?);
    }
    let mut access = Vec::new();
    for url in params.ocsp_servers {
        access.push(AccessDescription {
            access_method: oids::ID_AD_OCSP,
            access_location: uri("ocspServers", url)?,
        });
    }
    for url in params.issuing_certificate_urls {
        access.push(AccessDescription {
            access_method: oids::ID_AD_CA_ISSUERS,
            access_location: uri("issuingCertificateURLs", url)?,
        });
    }
    if !access.is_empty() {
        extensions.push(extension(&AuthorityInfoAccessSyntax(access), false)?);
    }

    let mut serial = serial;
    serial[0] &= 0x7f;
    serial[0] |= 0x01 << 6; // positive, and no leading zero byte to strip
    let tbs = TbsCertificate {
        version: Version::V3,
        serial_number: SerialNumber::new(&serial).map_err(encode_err)?,
        signature: algorithm.identifier(),
        issuer: issuer_name,
        validity: Validity {
            not_before: time(now_unix)?,
            not_after: time(not_after)?,
        },
        subject: request.info.subject,
        subject_public_key_info: subject_key,
        issuer_unique_id: None,
        subject_unique_id: None,
        extensions: Some(extensions),
    };
    let tbs_der = tbs.to_der().map_err(encode_err)?;
    let signature = signer.sign(algorithm.wit, &tbs_der).map_err(X509Error::Sign)?;
    let cert = Certificate {
        tbs_certificate: tbs,
        signature_algorithm: algorithm.identifier(),
        signature: BitString::from_bytes(&signature).map_err(encode_err)?,
    };
    to_pem(&cert)
}

/// RFC 5280 method 1: SHA-1 of the subjectPublicKey bits.
pub fn key_identifier(spki: &SubjectPublicKeyInfoOwned) -> Vec<u8> {
    Sha1::digest(spki.subject_public_key.raw_bytes()).to_vec()
}

/// Whether `certificate_pem`'s public key is `signer`'s (a CA's key pair
/// check).
pub fn key_matches(cert: &Certificate, signer: &dyn Signer) -> bool {
    cert.tbs_certificate
        .subject_public_key_info
        .to_der()
        .is_ok_and(|der| der == signer.public_key_der())
}

/// A signature algorithm: the WIT value and the X.509 identifier.
struct Algorithm {
    wit: SignatureAlgorithm,
    oid: ObjectIdentifier,
    null_parameters: bool,
}

impl Algorithm {
    fn identifier(&self) -> AlgorithmIdentifierOwned {
        AlgorithmIdentifierOwned {
            oid: self.oid,
            parameters: self.null_parameters.then(|| Any::from(der::asn1::AnyRef::NULL)),
        }
    }
}

const EC_PUBLIC_KEY: ObjectIdentifier = ObjectIdentifier::new_unwrap("1.2.840.10045.2.1");
const RSA_ENCRYPTION: ObjectIdentifier = ObjectIdentifier::new_unwrap("1.2.840.113549.1.1.1");
const ED25519: ObjectIdentifier = ObjectIdentifier::new_unwrap("1.3.101.112");
const P256: ObjectIdentifier = ObjectIdentifier::new_unwrap("1.2.840.10045.3.1.7");
const P384: ObjectIdentifier = ObjectIdentifier::new_unwrap("1.3.132.0.34");

/// cert-manager's choice of signature algorithm for a signing key: SHA-256
/// for P-256 and RSA up to 3071 bits, SHA-384 for P-384 and RSA 3072,
/// SHA-512 for RSA 4096 and larger, pure Ed25519.
fn signature_algorithm(spki: &SubjectPublicKeyInfoOwned) -> Result<Algorithm, X509Error> {
    let alg = |wit, oid: &str, null_parameters| Algorithm {
        wit,
        oid: ObjectIdentifier::new_unwrap(oid),
        null_parameters,
    };
    match spki.algorithm.oid {
        EC_PUBLIC_KEY => {
            let curve = spki
                .algorithm
                .parameters
                .as_ref()
                .and_then(|p| p.decode_as::<ObjectIdentifier>().ok());
            match curve {
                Some(P256) => Ok(alg(SignatureAlgorithm::EcdsaP256Sha256, "1.2.840.10045.4.3.2", false)),
                Some(P384) => Ok(alg(SignatureAlgorithm::EcdsaP384Sha384, "1.2.840.10045.4.3.3", false)),
                other => Err(X509Error::UnsupportedKey(format!("elliptic curve {other:?}"))),
            }
        }
        RSA_ENCRYPTION => {
            let bits = rsa_modulus_bits(spki.subject_public_key.raw_bytes())?;
            Ok(if bits >= 4096 {
                alg(SignatureAlgorithm::RsaPkcs1Sha512, "1.2.840.113549.1.1.13", true)
            } else if bits >= 3072 {
                alg(SignatureAlgorithm::RsaPkcs1Sha384, "1.2.840.113549.1.1.12", true)
            } else {
                alg(SignatureAlgorithm::RsaPkcs1Sha256, "1.2.840.113549.1.1.11", true)
            })
        }
        ED25519 => Ok(alg(SignatureAlgorithm::Ed25519, "1.3.101.112", false)),
        other => Err(X509Error::UnsupportedKey(format!("public key algorithm {other}"))),
    }
}

/// The bit length of an RSAPublicKey's modulus.
fn rsa_modulus_bits(der_bytes: &[u8]) -> Result<usize, X509Error> {
    let bad = |e: der::Error| X509Error::UnsupportedKey(format!("RSA public key: {e}"));
    let mut reader = SliceReader::new(der_bytes).map_err(bad)?;
    reader
        .sequence(|seq| {
            let modulus = der::asn1::UintRef::decode(seq)?;
            let _exponent = der::asn1::UintRef::decode(seq)?;
            let bytes = modulus.as_bytes();
            let leading = bytes.first().map_or(8, |b| b.leading_zeros() as usize);
            Ok(bytes.len() * 8 - leading)
        })
        .map_err(bad)
}

fn key_usage(params: &CertificateParams<'_>) -> KeyUsageExt {
    let mut flags: FlagSet<KeyUsages> = FlagSet::default();
    for usage in params.usages {
        flags |= match usage {
            KeyUsage::Signing | KeyUsage::DigitalSignature => KeyUsages::DigitalSignature,
            KeyUsage::ContentCommitment => KeyUsages::NonRepudiation,
            KeyUsage::KeyEncipherment => KeyUsages::KeyEncipherment,
            KeyUsage::KeyAgreement => KeyUsages::KeyAgreement,
            KeyUsage::DataEncipherment => KeyUsages::DataEncipherment,
            KeyUsage::CertSign => KeyUsages::KeyCertSign,
            KeyUsage::CrlSign => KeyUsages::CRLSign,
            KeyUsage::EncipherOnly => KeyUsages::EncipherOnly,
            KeyUsage::DecipherOnly => KeyUsages::DecipherOnly,
            _ => continue,
        };
    }
    if flags.is_empty() {
        flags = KeyUsages::DigitalSignature | KeyUsages::KeyEncipherment;
    }
    if params.is_ca {
        flags |= KeyUsages::KeyCertSign | KeyUsages::CRLSign;
    }
    KeyUsageExt(flags)
}

fn extended_key_usages(usages: &[KeyUsage]) -> Vec<ObjectIdentifier> {
    let mut oids_out: Vec<ObjectIdentifier> = Vec::new();
    for usage in usages {
        let oid = match usage {
            KeyUsage::Any => "2.5.29.37.0",
            KeyUsage::ServerAuth => "1.3.6.1.5.5.7.3.1",
            KeyUsage::ClientAuth => "1.3.6.1.5.5.7.3.2",
            KeyUsage::CodeSigning => "1.3.6.1.5.5.7.3.3",
            KeyUsage::EmailProtection | KeyUsage::Smime => "1.3.6.1.5.5.7.3.4",
            KeyUsage::IpsecEndSystem => "1.3.6.1.5.5.7.3.5",
            KeyUsage::IpsecTunnel => "1.3.6.1.5.5.7.3.6",
            KeyUsage::IpsecUser => "1.3.6.1.5.5.7.3.7",
            KeyUsage::Timestamping => "1.3.6.1.5.5.7.3.8",
            KeyUsage::OcspSigning => "1.3.6.1.5.5.7.3.9",
            KeyUsage::MicrosoftSgc => "1.3.6.1.4.1.311.10.3.3",
            KeyUsage::NetscapeSgc => "2.16.840.1.113730.4.1",
            _ => continue,
        };
        let oid = ObjectIdentifier::new_unwrap(oid);
        if !oids_out.contains(&oid) {
            oids_out.push(oid);
        }
    }
    oids_out
}

fn extension<T: Encode + AssociatedOid>(value: &T, critical: bool) -> Result<Extension, X509Error> {
    Ok(Extension {
        extn_id: T::OID,
        critical,
        extn_value: OctetString::new(value.to_der().map_err(encode_err)?).map_err(encode_err)?,
    })
}

/// An extension the CSR asks for in its extensionRequest attribute.
fn requested_extension(request: &CertReq, oid: ObjectIdentifier) -> Result<Option<Extension>, X509Error> {
    for attribute in request.info.attributes.iter() {
        if attribute.oid != ExtensionReq::OID {
            continue;
        }
        for value in attribute.values.iter() {
            let requested: ExtensionReq = value
                .decode_as()
                .map_err(|e| X509Error::BadRequest(format!("extensionRequest: {e}")))?;
            if let Some(found) = requested.0.into_iter().find(|ext| ext.extn_id == oid) {
                return Ok(Some(found));
            }
        }
    }
    Ok(None)
}

fn octets(bytes: &[u8]) -> Result<OctetString, X509Error> {
    OctetString::new(bytes).map_err(encode_err)
}

fn uri(field: &'static str, url: &str) -> Result<GeneralName, X509Error> {
    Ia5String::new(url)
        .map(GeneralName::UniformResourceIdentifier)
        .map_err(|_| X509Error::BadUrl {
            field,
            value: url.to_owned(),
        })
}

/// RFC 5280 4.1.2.5: UTCTime through 2049, GeneralizedTime from 2050.
fn time(unix: i64) -> Result<Time, X509Error> {
    let secs = u64::try_from(unix).map_err(|_| X509Error::Encode(format!("time {unix} is before 1970")))?;
    let at = der::DateTime::from_unix_duration(Duration::from_secs(secs)).map_err(encode_err)?;
    if at.year() < 2050 {
        Ok(Time::UtcTime(UtcTime::from_date_time(at).map_err(encode_err)?))
    } else {
        Ok(Time::GeneralTime(GeneralizedTime::from_date_time(at)))
    }
}

fn unix_seconds(time: &Time) -> i64 {
    i64::try_from(time.to_unix_duration().as_secs()).unwrap_or(i64::MAX)
}

#[cfg(test)]
mod tests {
    use super::*;
    use p256::ecdsa::signature::Signer as _;
    use p256::pkcs8::EncodePublicKey;
    use x509_parser::extensions::ParsedExtension;

    /// A P-256 key standing in for a host key handle.
    struct TestKey {
        key: p256::ecdsa::SigningKey,
        spki: Vec<u8>,
    }

    impl TestKey {
        fn new() -> Self {
            let key = p256::ecdsa::SigningKey::random(&mut p256::elliptic_curve::rand_core::OsRng);
            let spki = key.verifying_key().to_public_key_der().unwrap().into_vec();
            Self { key, spki }
        }

        /// A CSR for this key, built with rcgen-free DER by hand via x509-cert.
        fn csr(&self, common_name: &str, dns: &[&str]) -> String {
            use std::str::FromStr;
            use x509_cert::builder::{Builder, RequestBuilder};
            let subject = Name::from_str(&format!("CN={common_name}")).unwrap();
            let mut builder = RequestBuilder::new(subject, &self.key).unwrap();
            if !dns.is_empty() {
                let names = dns
                    .iter()
                    .map(|d| GeneralName::DnsName(Ia5String::new(*d).unwrap()))
                    .collect();
                builder
                    .add_extension(&x509_cert::ext::pkix::SubjectAltName(names))
                    .unwrap();
            }
            let request = builder.build::<p256::ecdsa::DerSignature>().unwrap();
            request.to_pem(LineEnding::LF).unwrap()
        }
    }

    impl Signer for TestKey {
        fn public_key_der(&self) -> &[u8] {
            &self.spki
        }

        fn sign(&self, algorithm: SignatureAlgorithm, data: &[u8]) -> Result<Vec<u8>, String> {
            assert_eq!(algorithm, SignatureAlgorithm::EcdsaP256Sha256);
            let signature: p256::ecdsa::Signature = self.key.sign(data);
            Ok(signature.to_der().as_bytes().to_vec())
        }
    }

    const NOW: i64 = 1_790_000_000; // 2026-09-21

    fn parse(pem_text: &str) -> Vec<u8> {
        let (_, block) = x509_parser::pem::parse_x509_pem(pem_text.as_bytes()).unwrap();
        block.contents
    }

    #[test]
    fn a_ca_and_a_leaf_carry_what_was_asked() {
        let ca_key = TestKey::new();
        let ca_pem = sign_request(
            &ca_key.csr("Test CA", &[]),
            &CertificateParams {
                duration_seconds: Some(365 * 86_400),
                is_ca: true,
                ..CertificateParams::default()
            },
            Issuer::SelfSigned,
            &ca_key,
            NOW,
            [0xff; 16],
        )
        .unwrap();
        let ca = IssuingCa::from_pem(&ca_pem).unwrap();
        assert!(ca.is_ca);

        let leaf_key = TestKey::new();
        let usages = [KeyUsage::DigitalSignature, KeyUsage::ServerAuth, KeyUsage::ClientAuth];
        let crl = ["http://crl.example/ca.crl".to_owned()];
        let ocsp = ["http://ocsp.example".to_owned()];
        let leaf_pem = sign_request(
            &leaf_key.csr("leaf.example", &["leaf.example", "www.leaf.example"]),
            &CertificateParams {
                duration_seconds: Some(400 * 86_400),
                usages: &usages,
                crl_distribution_points: &crl,
                ocsp_servers: &ocsp,
                ..CertificateParams::default()
            },
            Issuer::Ca(&ca),
            &ca_key,
            NOW,
            [7; 16],
        )
        .unwrap();

        let der = parse(&leaf_pem);
        let (_, leaf) = x509_parser::parse_x509_certificate(&der).unwrap();
        assert_eq!(leaf.issuer().to_string(), "CN=Test CA");
        assert_eq!(leaf.validity().not_before.timestamp(), NOW);
        // 400 days asked, but the CA expires after 365: capped.
        assert_eq!(leaf.validity().not_after.timestamp(), NOW + 365 * 86_400);
        assert!(leaf.raw_serial()[0] & 0x80 == 0, "serial must be positive");
        assert_eq!(leaf.raw_serial().len(), 16);
        let mut seen = Vec::new();
        for ext in leaf.extensions() {
            match ext.parsed_extension() {
                ParsedExtension::KeyUsage(ku) => {
                    assert!(ext.critical);
                    assert!(ku.digital_signature() && !ku.key_encipherment() && !ku.key_cert_sign());
                    seen.push("ku");
                }
                ParsedExtension::ExtendedKeyUsage(eku) => {
                    assert!(eku.server_auth && eku.client_auth && !eku.code_signing);
                    seen.push("eku");
                }
                ParsedExtension::BasicConstraints(bc) => {
                    assert!(ext.critical && !bc.ca);
                    seen.push("bc");
                }
                ParsedExtension::SubjectKeyIdentifier(_) => seen.push("ski"),
                ParsedExtension::AuthorityKeyIdentifier(aki) => {
                    assert_eq!(aki.key_identifier.as_ref().unwrap().0, ca.key_id.as_slice());
                    seen.push("aki");
                }
                ParsedExtension::SubjectAlternativeName(san) => {
                    assert!(!ext.critical);
                    assert_eq!(san.general_names.len(), 2);
                    seen.push("san");
                }
                ParsedExtension::CRLDistributionPoints(_) => seen.push("crl"),
                ParsedExtension::AuthorityInfoAccess(_) => seen.push("aia"),
                other => panic!("unexpected extension {other:?}"),
            }
        }
        assert_eq!(seen, ["ku", "eku", "bc", "ski", "aki", "san", "crl", "aia"]);

        // openssl agrees the chain verifies.
        let dir = tempfile::tempdir().unwrap();
        std::fs::write(dir.path().join("ca.pem"), &ca_pem).unwrap();
        std::fs::write(dir.path().join("leaf.pem"), &leaf_pem).unwrap();
        let out = std::process::Command::new("openssl")
            .args(["verify", "-CAfile"])
            .arg(dir.path().join("ca.pem"))
            .arg(dir.path().join("leaf.pem"))
            .output()
            .unwrap();
        assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    }

    #[test]
    fn defaults_follow_cert_manager() {
        let key = TestKey::new();
        let pem_text = sign_request(&key.csr("x.example", &["x.example"]), &CertificateParams::default(), Issuer::SelfSigned, &key, NOW, [1; 16]).unwrap();
        let der = parse(&pem_text);
        let (_, cert) = x509_parser::parse_x509_certificate(&der).unwrap();
        assert_eq!(cert.validity().not_after.timestamp() - NOW, 90 * 86_400);
        let ku = cert.key_usage().unwrap().unwrap().value;
        assert!(ku.digital_signature() && ku.key_encipherment() && !ku.key_cert_sign());
        assert!(cert.extended_key_usage().unwrap().is_none());
        assert_eq!(cert.issuer(), cert.subject());
    }

    #[test]
    fn self_signing_with_another_key_is_refused() {
        let key = TestKey::new();
        let other = TestKey::new();
        let err = sign_request(&key.csr("x", &[]), &CertificateParams::default(), Issuer::SelfSigned, &other, NOW, [1; 16]).unwrap_err();
        assert_eq!(err, X509Error::KeyMismatch);
    }

    #[test]
    fn garbage_requests_are_refused() {
        let key = TestKey::new();
        let err = sign_request("not a csr", &CertificateParams::default(), Issuer::SelfSigned, &key, NOW, [1; 16]).unwrap_err();
        assert!(matches!(err, X509Error::BadRequest(_)));
    }
}
