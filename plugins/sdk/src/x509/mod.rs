//! Certificates from certificate requests, the way cert-manager's signers
//! make them, signed through a [`Signer`].
//!
//! # Why it looks like this
//!
//! - **Pure.** Nothing here calls the host: the time, the serial number and
//!   the signer are arguments. The same code runs in a plugin (with a
//!   [`HostKey`](crate::host::HostKey)), in native unit tests, and in the
//!   host's benchmark with a native key, so what is measured and tested is
//!   what ships.
//! - **Small and allocation-light.** A plugin is instantiated for every call,
//!   so its size and its issue path are on the hot path. Requests and
//!   certificates are read in place (no ASN.1 object tree), and the new
//!   certificate is written once into one buffer. The DER code is a few
//!   hundred lines, not a generic ASN.1 framework.
//! - **cert-manager's choices.** Subject and every SAN kind (DNS, IP, URI,
//!   email) are copied from the CSR byte for byte; the request's `isCA` and
//!   usages override whatever the CSR encodes; 128-bit random serials;
//!   notBefore is now and notAfter now + duration (90 days by default); the
//!   signature algorithm follows the signing key (RSA ≥ 4096 bits: SHA-512,
//!   ≥ 3072: SHA-384, else SHA-256; P-256: ECDSA-SHA256; P-384:
//!   ECDSA-SHA384; Ed25519).
//!
//! # Extensions written
//!
//! | extension | when |
//! | --- | --- |
//! | key usage (critical) | usages from the request (empty: digital signature + key encipherment); isCA adds cert sign and CRL sign; omitted if no bit is set |
//! | extended key usage | the request's extended usages, if any |
//! | basic constraints (critical) | always: `CA:TRUE` when isCA, else `CA:FALSE` |
//! | subject key identifier | always: SHA-1 of the subject public key bits (RFC 5280 4.2.1.2 method 1) |
//! | authority key identifier | the issuer's subject key identifier (its own for self-signed) |
//! | authority information access | the issuer's OCSP servers and issuing-certificate URLs |
//! | name constraints | copied from the CSR |
//! | CRL distribution points | the issuer's `crlDistributionPoints` |
//! | subject alternative name | copied from the CSR; critical when the subject is empty |
//!
//! Leaves of a CA issuer never outlive the CA: notAfter is capped at the
//! CA's notAfter.

pub mod der;
mod names;
pub mod pem;
mod time;

pub use names::{CsrNames, common_name, distinguished_name};

#[cfg(test)]
mod tests;

use std::fmt;
use std::ops::Range;

use sha1::{Digest, Sha1};

use crate::types::{CertificateRequest, KeyUsage, SignatureAlgorithm};
use der::{
    BIT_STRING, INTEGER, NULL, OCTET_STRING, OID, Reader, SEQUENCE, SET, Tlv, Writer, context,
    context_primitive,
};

/// cert-manager's default certificate lifetime: 90 days.
pub const DEFAULT_DURATION_SECONDS: u64 = 90 * 24 * 3600;

/// Something that signs with a private key the caller cannot see.
///
/// In a plugin this is a [`HostKey`](crate::host::HostKey); in tests and
/// benchmarks, any native key.
pub trait Signer {
    /// The key's public half, DER SubjectPublicKeyInfo.
    fn public_key_der(&self) -> &[u8];

    /// Signs `data` as `algorithm` says; the signer hashes it. ECDSA
    /// signatures are DER (`Ecdsa-Sig-Value`), as X.509 carries them.
    fn sign(&self, algorithm: SignatureAlgorithm, data: &[u8]) -> Result<Vec<u8>, String>;

    /// The algorithm certificates signed by this key use; by default chosen
    /// from the public key as cert-manager does ([`signature_algorithm_for`]).
    fn signature_algorithm(&self) -> Result<SignatureAlgorithm, X509Error> {
        signature_algorithm_for(self.public_key_der())
    }
}

impl<T: Signer + ?Sized> Signer for &T {
    fn public_key_der(&self) -> &[u8] {
        (**self).public_key_der()
    }

    fn sign(&self, algorithm: SignatureAlgorithm, data: &[u8]) -> Result<Vec<u8>, String> {
        (**self).sign(algorithm, data)
    }

    fn signature_algorithm(&self) -> Result<SignatureAlgorithm, X509Error> {
        (**self).signature_algorithm()
    }
}

impl<T: Signer + ?Sized> Signer for Box<T> {
    fn public_key_der(&self) -> &[u8] {
        (**self).public_key_der()
    }

    fn sign(&self, algorithm: SignatureAlgorithm, data: &[u8]) -> Result<Vec<u8>, String> {
        (**self).sign(algorithm, data)
    }

    fn signature_algorithm(&self) -> Result<SignatureAlgorithm, X509Error> {
        (**self).signature_algorithm()
    }
}

/// Why a certificate could not be read or built. The messages follow Go's
/// `crypto/x509` and cert-manager where they have one.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum X509Error {
    /// Text that is not the PEM expected.
    Pem(String),
    /// DER that is not the structure expected.
    Malformed(String),
    /// A time outside what X.509 can encode.
    Time(String),
    /// A signing key cert-manager would not sign with.
    UnsupportedKey(String),
    /// Self-signing with a key that is not the request's.
    RequestKeyMismatch,
    /// Signing for a CA with a key that is not the CA certificate's.
    IssuerKeyMismatch,
    /// The CA certificate expired before the certificate would start.
    IssuerExpired,
    /// A URL from the issuer config that an IA5String cannot carry.
    BadUrl {
        /// The config field, e.g. `ocspServers`.
        field: &'static str,
        /// The URL as written.
        value: String,
    },
    /// The signer failed.
    Sign(String),
    /// Certificates that do not form one chain.
    BrokenChain,
}

impl fmt::Display for X509Error {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Pem(why) => write!(f, "error decoding PEM: {why}"),
            Self::Malformed(why) => write!(f, "malformed {why}"),
            Self::Time(why) => write!(f, "invalid time: {why}"),
            Self::UnsupportedKey(why) => f.write_str(why),
            Self::RequestKeyMismatch => f.write_str("CSR not signed by referenced private key"),
            Self::IssuerKeyMismatch => {
                f.write_str("x509: provided PrivateKey doesn't match parent's PublicKey")
            }
            Self::IssuerExpired => f.write_str("the issuing CA certificate has expired"),
            Self::BadUrl { field, value } => {
                write!(f, "{field}: {value:?} is not a valid URL (ASCII only)")
            }
            Self::Sign(why) => write!(f, "error creating x509 certificate: {why}"),
            Self::BrokenChain => f.write_str("certificate chain is malformed or broken"),
        }
    }
}

impl std::error::Error for X509Error {}

// Object identifiers, as the contents of their DER encoding.
mod oid {
    pub const EC_PUBLIC_KEY: &[u8] = &[0x2a, 0x86, 0x48, 0xce, 0x3d, 0x02, 0x01];
    pub const P256: &[u8] = &[0x2a, 0x86, 0x48, 0xce, 0x3d, 0x03, 0x01, 0x07];
    pub const P384: &[u8] = &[0x2b, 0x81, 0x04, 0x00, 0x22];
    pub const RSA_ENCRYPTION: &[u8] = &[0x2a, 0x86, 0x48, 0x86, 0xf7, 0x0d, 0x01, 0x01, 0x01];
    pub const ED25519: &[u8] = &[0x2b, 0x65, 0x70];
    pub const EXTENSION_REQUEST: &[u8] = &[0x2a, 0x86, 0x48, 0x86, 0xf7, 0x0d, 0x01, 0x09, 0x0e];
    pub const SUBJECT_KEY_ID: &[u8] = &[0x55, 0x1d, 0x0e];
    pub const KEY_USAGE: &[u8] = &[0x55, 0x1d, 0x0f];
    pub const SUBJECT_ALT_NAME: &[u8] = &[0x55, 0x1d, 0x11];
    pub const BASIC_CONSTRAINTS: &[u8] = &[0x55, 0x1d, 0x13];
    pub const NAME_CONSTRAINTS: &[u8] = &[0x55, 0x1d, 0x1e];
    pub const CRL_DISTRIBUTION_POINTS: &[u8] = &[0x55, 0x1d, 0x1f];
    pub const AUTHORITY_KEY_ID: &[u8] = &[0x55, 0x1d, 0x23];
    pub const EXT_KEY_USAGE: &[u8] = &[0x55, 0x1d, 0x25];
    pub const AUTHORITY_INFO_ACCESS: &[u8] = &[0x2b, 0x06, 0x01, 0x05, 0x05, 0x07, 0x01, 0x01];
    pub const AD_OCSP: &[u8] = &[0x2b, 0x06, 0x01, 0x05, 0x05, 0x07, 0x30, 0x01];
    pub const AD_CA_ISSUERS: &[u8] = &[0x2b, 0x06, 0x01, 0x05, 0x05, 0x07, 0x30, 0x02];
}

/// The DER AlgorithmIdentifier of a signature algorithm.
fn algorithm_identifier(algorithm: SignatureAlgorithm) -> &'static [u8] {
    match algorithm {
        SignatureAlgorithm::EcdsaP256Sha256 => &[
            0x30, 0x0a, 0x06, 0x08, 0x2a, 0x86, 0x48, 0xce, 0x3d, 0x04, 0x03, 0x02,
        ],
        SignatureAlgorithm::EcdsaP384Sha384 => &[
            0x30, 0x0a, 0x06, 0x08, 0x2a, 0x86, 0x48, 0xce, 0x3d, 0x04, 0x03, 0x03,
        ],
        SignatureAlgorithm::RsaPkcs1Sha256 => &[
            0x30, 0x0d, 0x06, 0x09, 0x2a, 0x86, 0x48, 0x86, 0xf7, 0x0d, 0x01, 0x01, 0x0b, NULL,
            0x00,
        ],
        SignatureAlgorithm::RsaPkcs1Sha384 => &[
            0x30, 0x0d, 0x06, 0x09, 0x2a, 0x86, 0x48, 0x86, 0xf7, 0x0d, 0x01, 0x01, 0x0c, NULL,
            0x00,
        ],
        SignatureAlgorithm::RsaPkcs1Sha512 => &[
            0x30, 0x0d, 0x06, 0x09, 0x2a, 0x86, 0x48, 0x86, 0xf7, 0x0d, 0x01, 0x01, 0x0d, NULL,
            0x00,
        ],
        SignatureAlgorithm::Ed25519 => &[0x30, 0x05, 0x06, 0x03, 0x2b, 0x65, 0x70],
    }
}

/// A SubjectPublicKeyInfo, read in place.
struct PublicKey<'a> {
    algorithm: &'a [u8],
    parameters: Option<Tlv<'a>>,
    bits: &'a [u8],
}

impl<'a> PublicKey<'a> {
    fn parse(spki_der: &'a [u8]) -> Result<Self, X509Error> {
        let mut outer = Reader::named(spki_der, "public key");
        let mut spki = outer.expect(SEQUENCE)?.reader();
        let mut algorithm = spki.expect(SEQUENCE)?.reader();
        let oid = algorithm.expect(OID)?.value;
        let parameters = if algorithm.is_empty() {
            None
        } else {
            Some(algorithm.read()?)
        };
        let bits = der::bit_string_bytes(&spki.expect(BIT_STRING)?)?;
        Ok(Self {
            algorithm: oid,
            parameters,
            bits,
        })
    }

    /// Same algorithm and key, whatever the parameters' encoding.
    fn same_key(&self, other: &Self) -> bool {
        self.algorithm == other.algorithm && self.bits == other.bits
    }
}

/// The signature algorithm cert-manager uses for a signing key (its
/// `signatureAlgorithmFromPublicKey`): RSA ≥ 4096 bits SHA-512, ≥ 3072
/// SHA-384, ≥ 2048 SHA-256 (smaller keys are refused); ECDSA P-256 with
/// SHA-256, P-384 with SHA-384; Ed25519. P-521 is not in the WIT contract.
pub fn signature_algorithm_for(spki_der: &[u8]) -> Result<SignatureAlgorithm, X509Error> {
    let key = PublicKey::parse(spki_der)?;
    match key.algorithm {
        oid::EC_PUBLIC_KEY => match key.parameters.filter(|p| p.tag == OID).map(|p| p.value) {
            Some(oid::P256) => Ok(SignatureAlgorithm::EcdsaP256Sha256),
            Some(oid::P384) => Ok(SignatureAlgorithm::EcdsaP384Sha384),
            _ => Err(X509Error::UnsupportedKey(
                "unknown / unsupported curve attached to ECDSA signing certificate".into(),
            )),
        },
        oid::RSA_ENCRYPTION => {
            let mut outer = Reader::named(key.bits, "RSA public key");
            let mut rsa = outer.expect(SEQUENCE)?.reader();
            let modulus = rsa.expect(INTEGER)?.value;
            // Go's Size() * 8: the modulus length in whole bytes.
            let size = modulus.iter().skip_while(|b| **b == 0).count() * 8;
            match size {
                4096.. => Ok(SignatureAlgorithm::RsaPkcs1Sha512),
                3072.. => Ok(SignatureAlgorithm::RsaPkcs1Sha384),
                2048.. => Ok(SignatureAlgorithm::RsaPkcs1Sha256),
                _ => Err(X509Error::UnsupportedKey(format!(
                    "invalid size {size} for RSA key on signing certificate"
                ))),
            }
        }
        oid::ED25519 => Ok(SignatureAlgorithm::Ed25519),
        _ => Err(X509Error::UnsupportedKey(
            "got unsupported public key type when trying to calculate signature algorithm".into(),
        )),
    }
}

/// RFC 5280 4.2.1.2 method 1: the SHA-1 of the subjectPublicKey bits.
pub fn key_identifier(spki_der: &[u8]) -> Result<[u8; 20], X509Error> {
    let key = PublicKey::parse(spki_der)?;
    Ok(Sha1::digest(key.bits).into())
}

/// Whether two SubjectPublicKeyInfos hold the same key.
pub fn same_public_key(a: &[u8], b: &[u8]) -> bool {
    match (PublicKey::parse(a), PublicKey::parse(b)) {
        (Ok(a), Ok(b)) => a.same_key(&b),
        _ => false,
    }
}

/// 16 bytes from the platform's randomness (WASI `random` in a plugin), for
/// a serial number.
pub fn random_serial() -> Result<[u8; 16], X509Error> {
    let mut serial = [0u8; 16];
    getrandom::fill(&mut serial)
        .map_err(|e| X509Error::Sign(format!("failed to generate serial number: {e}")))?;
    Ok(serial)
}

/// A PKCS#10 certificate request, read in place. Its signature is not
/// checked here: the host checks it before calling a plugin.
#[derive(Debug, Clone, Copy)]
pub struct Csr<'a> {
    subject: &'a [u8],
    public_key: &'a [u8],
    subject_alt_names: Option<&'a [u8]>,
    name_constraints: Option<(bool, &'a [u8])>,
}

impl<'a> Csr<'a> {
    /// Reads a DER `CertificationRequest`.
    pub fn from_der(der: &'a [u8]) -> Result<Self, X509Error> {
        let mut outer = Reader::named(der, "certificate request");
        let mut request = outer.expect(SEQUENCE)?.reader();
        let mut info = request.expect(SEQUENCE)?.reader();
        info.expect(INTEGER)?;
        let subject = info.expect(SEQUENCE)?.raw;
        let public_key = info.expect(SEQUENCE)?.raw;
        let mut csr = Self {
            subject,
            public_key,
            subject_alt_names: None,
            name_constraints: None,
        };
        if let Some(attributes) = info.optional(context(0))? {
            let mut attributes = attributes.reader();
            while !attributes.is_empty() {
                let mut attribute = attributes.expect(SEQUENCE)?.reader();
                if attribute.expect(OID)?.value != oid::EXTENSION_REQUEST {
                    continue;
                }
                let mut values = attribute.expect(SET)?.reader();
                while !values.is_empty() {
                    for extension in der::extensions(values.expect(SEQUENCE)?.value) {
                        let extension = extension?;
                        match extension.oid {
                            oid::SUBJECT_ALT_NAME => csr.subject_alt_names = Some(extension.value),
                            oid::NAME_CONSTRAINTS => {
                                csr.name_constraints = Some((extension.critical, extension.value));
                            }
                            _ => {}
                        }
                    }
                }
            }
        }
        Ok(csr)
    }

    /// The subject Name, DER.
    pub fn subject_der(&self) -> &'a [u8] {
        self.subject
    }

    /// Whether the subject is the empty Name.
    pub fn subject_is_empty(&self) -> bool {
        is_empty_name(self.subject)
    }

    /// The requested public key, DER SubjectPublicKeyInfo.
    pub fn public_key_der(&self) -> &'a [u8] {
        self.public_key
    }

    /// The requested subjectAltName extension's value (GeneralNames), DER.
    pub fn subject_alt_names_der(&self) -> Option<&'a [u8]> {
        self.subject_alt_names
    }
}

fn is_empty_name(name_der: &[u8]) -> bool {
    name_der.get(1) == Some(&0)
}

/// Byte range of `part` inside `whole` (`part` must be a sub-slice).
fn range_in(whole: &[u8], part: &[u8]) -> Range<usize> {
    let start = part.as_ptr() as usize - whole.as_ptr() as usize;
    start..start + part.len()
}

/// A parsed certificate that owns its DER; fields are read through
/// accessors that borrow from it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Certificate {
    der: Vec<u8>,
    issuer: Range<usize>,
    subject: Range<usize>,
    public_key: Range<usize>,
    key_id: Option<Range<usize>>,
    authority_key_id: Option<Range<usize>>,
    not_before: i64,
    not_after: i64,
    is_ca: bool,
}

impl Certificate {
    /// Reads a DER certificate.
    pub fn from_der(der: Vec<u8>) -> Result<Self, X509Error> {
        let whole = der.as_slice();
        let mut outer = Reader::named(whole, "certificate");
        let mut certificate = outer.expect(SEQUENCE)?.reader();
        let mut tbs = certificate.expect(SEQUENCE)?.reader();
        tbs.optional(context(0))?;
        tbs.expect(INTEGER)?;
        tbs.expect(SEQUENCE)?;
        let issuer = tbs.expect(SEQUENCE)?.raw;
        let mut validity = tbs.expect(SEQUENCE)?.reader();
        let not_before = validity.read()?;
        let not_after = validity.read()?;
        let subject = tbs.expect(SEQUENCE)?.raw;
        let public_key = tbs.expect(SEQUENCE)?.raw;
        tbs.optional(context_primitive(1))?;
        tbs.optional(context_primitive(2))?;
        let mut key_id = None;
        let mut authority_key_id = None;
        let mut is_ca = false;
        if let Some(extensions) = tbs.optional(context(3))? {
            let list = extensions.reader().expect(SEQUENCE)?.value;
            for extension in der::extensions(list) {
                let extension = extension?;
                match extension.oid {
                    oid::SUBJECT_KEY_ID => {
                        let id = Reader::named(extension.value, "subject key identifier")
                            .expect(OCTET_STRING)?
                            .value;
                        key_id = Some(range_in(whole, id));
                    }
                    oid::AUTHORITY_KEY_ID => {
                        let mut aki = Reader::named(extension.value, "authority key identifier")
                            .expect(SEQUENCE)?
                            .reader();
                        if let Some(id) = aki.optional(context_primitive(0))? {
                            authority_key_id = Some(range_in(whole, id.value));
                        }
                    }
                    oid::BASIC_CONSTRAINTS => {
                        let mut constraints = Reader::named(extension.value, "basic constraints")
                            .expect(SEQUENCE)?
                            .reader();
                        is_ca = constraints
                            .optional(der::BOOLEAN)?
                            .is_some_and(|flag| flag.value.first().is_some_and(|b| *b != 0));
                    }
                    _ => {}
                }
            }
        }
        let cert = Self {
            issuer: range_in(whole, issuer),
            subject: range_in(whole, subject),
            public_key: range_in(whole, public_key),
            key_id,
            authority_key_id,
            not_before: time::read(not_before.tag, not_before.value)?,
            not_after: time::read(not_after.tag, not_after.value)?,
            is_ca,
            der,
        };
        Ok(cert)
    }

    /// Reads the first `CERTIFICATE` block of a PEM text.
    pub fn from_pem(text: &str) -> Result<Self, X509Error> {
        Self::from_der(pem::decode_first(text, &["CERTIFICATE"])?)
    }

    /// The whole certificate, DER.
    pub fn der(&self) -> &[u8] {
        &self.der
    }

    /// The certificate as one PEM block.
    pub fn to_pem(&self) -> String {
        pem::encode("CERTIFICATE", &self.der)
    }

    /// The subject Name, DER.
    pub fn subject_der(&self) -> &[u8] {
        &self.der[self.subject.clone()]
    }

    /// The issuer Name, DER.
    pub fn issuer_der(&self) -> &[u8] {
        &self.der[self.issuer.clone()]
    }

    /// The public key, DER SubjectPublicKeyInfo.
    pub fn public_key_der(&self) -> &[u8] {
        &self.der[self.public_key.clone()]
    }

    /// The subject key identifier extension's value, if present.
    pub fn subject_key_id(&self) -> Option<&[u8]> {
        self.key_id.clone().map(|range| &self.der[range])
    }

    /// The authority key identifier's key id, if present.
    pub fn authority_key_id(&self) -> Option<&[u8]> {
        self.authority_key_id.clone().map(|range| &self.der[range])
    }

    /// Whether `parent` may have issued this certificate: the names link,
    /// and the key identifiers do too where both are present. (Only a
    /// signature check is sure; a plugin carries no verification crypto.)
    pub fn may_be_issued_by(&self, parent: &Certificate) -> bool {
        self.issuer_der() == parent.subject_der()
            && match (self.authority_key_id(), parent.subject_key_id()) {
                (Some(authority), Some(subject)) => authority == subject,
                _ => true,
            }
    }

    /// Whether this certificate looks self-signed: it may have issued itself.
    pub fn is_self_signed(&self) -> bool {
        self.may_be_issued_by(self)
    }

    /// notBefore, Unix seconds.
    pub fn not_before_unix(&self) -> i64 {
        self.not_before
    }

    /// notAfter, Unix seconds.
    pub fn not_after_unix(&self) -> i64 {
        self.not_after
    }

    /// Whether basic constraints say `CA:TRUE` (Go's `IsCA`).
    pub fn is_ca(&self) -> bool {
        self.is_ca
    }

    /// Whether issuer and subject are the same Name (a root, or a
    /// self-signed leaf).
    pub fn is_self_issued(&self) -> bool {
        self.issuer_der() == self.subject_der()
    }

    /// Whether `signer` holds this certificate's key.
    pub fn key_matches(&self, signer: &dyn Signer) -> bool {
        same_public_key(self.public_key_der(), signer.public_key_der())
    }
}

/// Reads every `CERTIFICATE` block of a PEM text, in order; another kind of
/// block is an error, as in cert-manager.
pub fn parse_chain(text: &str) -> Result<Vec<Certificate>, X509Error> {
    pem::decode_all(text)?
        .into_iter()
        .map(|block| {
            if block.label != "CERTIFICATE" {
                return Err(X509Error::Pem(format!(
                    "expected a CERTIFICATE block, found {}",
                    block.label
                )));
            }
            Certificate::from_der(block.der)
        })
        .collect()
}

/// Who signs a certificate. (Not `Issuer`: that is the SDK's plugin trait.)
#[derive(Debug, Clone, Copy)]
pub enum IssuedBy<'a> {
    /// The request's own key: the issuer is the subject, and the signer must
    /// hold the CSR's key.
    SelfSigned,
    /// A CA, whose key the signer must hold.
    Ca(&'a Certificate),
}

/// What the request and the issuer ask of a certificate beyond the CSR.
#[derive(Debug, Clone, Copy, Default)]
pub struct CertificateParams<'a> {
    /// `spec.duration` in seconds; `None` means [`DEFAULT_DURATION_SECONDS`].
    pub duration_seconds: Option<u64>,
    /// `spec.isCA`.
    pub is_ca: bool,
    /// `spec.usages`; empty means digital signature + key encipherment.
    pub usages: &'a [KeyUsage],
    /// The issuer's `crlDistributionPoints`.
    pub crl_distribution_points: &'a [String],
    /// The issuer's `ocspServers`.
    pub ocsp_servers: &'a [String],
    /// The issuer's `issuingCertificateURLs`.
    pub issuing_certificate_urls: &'a [String],
}

impl<'a> CertificateParams<'a> {
    /// Duration, isCA and usages from a request; no issuer URLs.
    pub fn for_request(request: &'a CertificateRequest) -> Self {
        Self {
            duration_seconds: request.duration_seconds,
            is_ca: request.is_ca,
            usages: &request.usages,
            ..Self::default()
        }
    }
}

/// Key usage bits, bit 0 = digitalSignature as in RFC 5280.
fn key_usage_bits(params: &CertificateParams<'_>) -> u16 {
    const DEFAULT: &[KeyUsage] = &[KeyUsage::DigitalSignature, KeyUsage::KeyEncipherment];
    let usages = if params.usages.is_empty() {
        DEFAULT
    } else {
        params.usages
    };
    let mut bits = 0u16;
    for usage in usages {
        bits |= match usage {
            KeyUsage::Signing | KeyUsage::DigitalSignature => 1 << 0,
            KeyUsage::ContentCommitment => 1 << 1,
            KeyUsage::KeyEncipherment => 1 << 2,
            KeyUsage::DataEncipherment => 1 << 3,
            KeyUsage::KeyAgreement => 1 << 4,
            KeyUsage::CertSign => 1 << 5,
            KeyUsage::CrlSign => 1 << 6,
            KeyUsage::EncipherOnly => 1 << 7,
            KeyUsage::DecipherOnly => 1 << 8,
            _ => 0,
        };
    }
    if params.is_ca {
        bits |= 1 << 5 | 1 << 6;
    }
    bits
}

/// The OID contents of an extended key usage.
fn extended_key_usage_oid(usage: KeyUsage) -> Option<&'static [u8]> {
    const KP: [u8; 7] = [0x2b, 0x06, 0x01, 0x05, 0x05, 0x07, 0x03];
    macro_rules! kp {
        ($n:expr) => {{
            const KP_N: [u8; 8] = [KP[0], KP[1], KP[2], KP[3], KP[4], KP[5], KP[6], $n];
            &KP_N
        }};
    }
    let usage_oid: &'static [u8] = match usage {
        KeyUsage::Any => &[0x55, 0x1d, 0x25, 0x00],
        KeyUsage::ServerAuth => kp!(1),
        KeyUsage::ClientAuth => kp!(2),
        KeyUsage::CodeSigning => kp!(3),
        KeyUsage::EmailProtection | KeyUsage::Smime => kp!(4),
        KeyUsage::IpsecEndSystem => kp!(5),
        KeyUsage::IpsecTunnel => kp!(6),
        KeyUsage::IpsecUser => kp!(7),
        KeyUsage::Timestamping => kp!(8),
        KeyUsage::OcspSigning => kp!(9),
        KeyUsage::MicrosoftSgc => &[0x2b, 0x06, 0x01, 0x04, 0x01, 0x82, 0x37, 0x0a, 0x03, 0x03],
        KeyUsage::NetscapeSgc => &[0x60, 0x86, 0x48, 0x01, 0x86, 0xf8, 0x42, 0x04, 0x01],
        _ => return None,
    };
    Some(usage_oid)
}

fn check_urls(field: &'static str, urls: &[String]) -> Result<(), X509Error> {
    match urls.iter().find(|url| !url.is_ascii()) {
        Some(url) => Err(X509Error::BadUrl {
            field,
            value: url.clone(),
        }),
        None => Ok(()),
    }
}

/// The DER of a PEM certificate request (label `CERTIFICATE REQUEST`, or
/// the older `NEW CERTIFICATE REQUEST`), for [`Csr::from_der`].
pub fn decode_csr_pem(csr_pem: &str) -> Result<Vec<u8>, X509Error> {
    pem::decode_first(csr_pem, &["CERTIFICATE REQUEST", "NEW CERTIFICATE REQUEST"])
}

/// Builds and signs the certificate for a PEM CSR; returns it as PEM.
///
/// `serial` is 16 random bytes (see [`random_serial`]): the serial number is
/// that 128-bit unsigned number, as cert-manager draws it.
pub fn sign_request(
    csr_pem: &str,
    params: &CertificateParams<'_>,
    issuer: IssuedBy<'_>,
    signer: &dyn Signer,
    now_unix: i64,
    serial: [u8; 16],
) -> Result<String, X509Error> {
    let der = decode_csr_pem(csr_pem)?;
    let csr = Csr::from_der(&der)?;
    let certificate = sign_csr(&csr, params, issuer, signer, now_unix, serial)?;
    Ok(pem::encode("CERTIFICATE", &certificate))
}

/// Builds and signs the certificate for a parsed CSR; returns its DER.
pub fn sign_csr(
    csr: &Csr<'_>,
    params: &CertificateParams<'_>,
    issuer: IssuedBy<'_>,
    signer: &dyn Signer,
    now_unix: i64,
    serial: [u8; 16],
) -> Result<Vec<u8>, X509Error> {
    let algorithm = signer.signature_algorithm()?;
    let subject_key_id = key_identifier(csr.public_key)?;
    let (issuer_name, authority_key_id, not_after_cap) = match issuer {
        IssuedBy::SelfSigned => {
            if !same_public_key(signer.public_key_der(), csr.public_key) {
                return Err(X509Error::RequestKeyMismatch);
            }
            (csr.subject, Some(&subject_key_id[..]), i64::MAX)
        }
        IssuedBy::Ca(ca) => {
            if !ca.key_matches(signer) {
                return Err(X509Error::IssuerKeyMismatch);
            }
            (ca.subject_der(), ca.subject_key_id(), ca.not_after_unix())
        }
    };
    let duration = params.duration_seconds.unwrap_or(DEFAULT_DURATION_SECONDS);
    let not_after = now_unix
        .saturating_add(i64::try_from(duration).unwrap_or(i64::MAX))
        .min(not_after_cap);
    if not_after < now_unix {
        return Err(X509Error::IssuerExpired);
    }
    let mut validity = Writer::with_capacity(34);
    time::write(&mut validity, now_unix)?;
    time::write(&mut validity, not_after)?;
    check_urls("crlDistributionPoints", params.crl_distribution_points)?;
    check_urls("ocspServers", params.ocsp_servers)?;
    check_urls("issuingCertificateURLs", params.issuing_certificate_urls)?;

    let mut serial = serial;
    if serial == [0; 16] {
        serial[15] = 1; // serial numbers are positive
    }
    let key_usage = key_usage_bits(params);
    let mut extended_usages: Vec<&[u8]> = Vec::new();
    for usage_oid in params
        .usages
        .iter()
        .filter_map(|u| extended_key_usage_oid(*u))
    {
        if !extended_usages.contains(&usage_oid) {
            extended_usages.push(usage_oid);
        }
    }

    let mut tbs = Writer::with_capacity(
        512 + csr.subject.len() * 2
            + csr.public_key.len()
            + csr.subject_alt_names.map_or(0, <[u8]>::len),
    );
    tbs.nested(SEQUENCE, |w| {
        w.raw(&[context(0), 3, INTEGER, 1, 2]); // version: v3
        w.unsigned(&serial);
        w.raw(algorithm_identifier(algorithm));
        w.raw(issuer_name);
        w.nested(SEQUENCE, |w| w.raw(&validity.buf));
        w.raw(csr.subject);
        w.raw(csr.public_key);
        w.nested(context(3), |w| {
            w.nested(SEQUENCE, |w| {
                if key_usage != 0 {
                    w.extension(oid::KEY_USAGE, true, |w| {
                        let bytes = [
                            (key_usage as u8).reverse_bits(),
                            ((key_usage >> 8) as u8).reverse_bits(),
                        ];
                        let used = if bytes[1] != 0 { 2 } else { 1 };
                        let unused_bits = bytes[used - 1].trailing_zeros() as u8;
                        w.nested(BIT_STRING, |w| {
                            w.raw(&[unused_bits]);
                            w.raw(&bytes[..used]);
                        });
                    });
                }
                if !extended_usages.is_empty() {
                    w.extension(oid::EXT_KEY_USAGE, false, |w| {
                        w.nested(SEQUENCE, |w| {
                            extended_usages
                                .iter()
                                .for_each(|usage_oid| w.element(OID, usage_oid))
                        });
                    });
                }
                w.extension(oid::BASIC_CONSTRAINTS, true, |w| {
                    w.nested(SEQUENCE, |w| {
                        if params.is_ca {
                            w.raw(&[der::BOOLEAN, 1, 0xff]);
                        }
                    });
                });
                w.extension(oid::SUBJECT_KEY_ID, false, |w| {
                    w.element(OCTET_STRING, &subject_key_id)
                });
                if let Some(key_id) = authority_key_id {
                    w.extension(oid::AUTHORITY_KEY_ID, false, |w| {
                        w.nested(SEQUENCE, |w| w.element(context_primitive(0), key_id));
                    });
                }
                if !params.ocsp_servers.is_empty() || !params.issuing_certificate_urls.is_empty() {
                    w.extension(oid::AUTHORITY_INFO_ACCESS, false, |w| {
                        w.nested(SEQUENCE, |w| {
                            let access = params.ocsp_servers.iter().map(|url| (oid::AD_OCSP, url));
                            let issuers = params
                                .issuing_certificate_urls
                                .iter()
                                .map(|url| (oid::AD_CA_ISSUERS, url));
                            for (method, url) in access.chain(issuers) {
                                w.nested(SEQUENCE, |w| {
                                    w.element(OID, method);
                                    w.element(context_primitive(6), url.as_bytes());
                                });
                            }
                        });
                    });
                }
                if let Some((critical, value)) = csr.name_constraints {
                    w.extension(oid::NAME_CONSTRAINTS, critical, |w| w.raw(value));
                }
                if !params.crl_distribution_points.is_empty() {
                    w.extension(oid::CRL_DISTRIBUTION_POINTS, false, |w| {
                        w.nested(SEQUENCE, |w| {
                            for url in params.crl_distribution_points {
                                // DistributionPoint { distributionPoint [0] { fullName [0] { URI [6] } } }
                                w.nested(SEQUENCE, |w| {
                                    w.nested(context(0), |w| {
                                        w.nested(context(0), |w| {
                                            w.element(context_primitive(6), url.as_bytes())
                                        });
                                    });
                                });
                            }
                        });
                    });
                }
                if let Some(names) = csr.subject_alt_names {
                    // RFC 5280 4.2.1.6: critical when the subject is empty.
                    w.extension(oid::SUBJECT_ALT_NAME, csr.subject_is_empty(), |w| {
                        w.raw(names)
                    });
                }
            });
        });
    });

    let signature = signer.sign(algorithm, &tbs.buf).map_err(X509Error::Sign)?;
    let algorithm_id = algorithm_identifier(algorithm);
    let mut certificate =
        Writer::with_capacity(tbs.buf.len() + algorithm_id.len() + signature.len() + 16);
    certificate.nested(SEQUENCE, |w| {
        w.raw(&tbs.buf);
        w.raw(algorithm_id);
        w.bit_string(&signature);
    });
    Ok(certificate.buf)
}

/// A certificate chain as cert-manager stores it: `tls.crt` and `ca.crt`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PemBundle {
    /// The leaf, then each issuer up the chain, leaving out a self-signed
    /// root (RFC 5246 7.4.2), PEM.
    pub chain_pem: String,
    /// The top of the chain (the root, or the highest intermediate), PEM; for
    /// a lone certificate, itself if self-signed, else none.
    pub ca_pem: Option<String>,
}

impl PemBundle {
    /// Orders `leaf` and `others` (in any order, duplicates allowed) into one
    /// chain as cert-manager's `ParseSingleCertificateChain` does, linking
    /// each certificate to its issuer (see [`Certificate::may_be_issued_by`]).
    /// Certificates that do not belong to the chain are an error.
    pub fn from_chain(leaf: &Certificate, others: &[Certificate]) -> Result<Self, X509Error> {
        let mut used: Vec<bool> = others
            .iter()
            .enumerate()
            .map(|(i, cert)| {
                cert.der == leaf.der || others[..i].iter().any(|earlier| earlier.der == cert.der)
            })
            .collect();
        let mut chain_pem =
            String::with_capacity((leaf.der.len() * 4 / 3 + 80) * (1 + others.len()));
        pem::encode_into(&mut chain_pem, "CERTIFICATE", &leaf.der);
        let mut top = leaf;
        // Walk up until a self-signed root or a missing issuer.
        while !top.is_self_signed() {
            let Some(next) =
                (0..others.len()).find(|&i| !used[i] && top.may_be_issued_by(&others[i]))
            else {
                break;
            };
            used[next] = true;
            top = &others[next];
            if !top.is_self_signed() {
                pem::encode_into(&mut chain_pem, "CERTIFICATE", &top.der);
            }
        }
        if used.iter().any(|used| !used) {
            return Err(X509Error::BrokenChain);
        }
        let ca_pem = if std::ptr::eq(top, leaf) {
            leaf.is_self_signed().then(|| chain_pem.clone())
        } else {
            Some(top.to_pem())
        };
        Ok(Self { chain_pem, ca_pem })
    }
}
