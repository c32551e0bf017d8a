//! Keys, CSRs and certificates on the host side.
//!
//! Private keys live here and nowhere else: plugins get handles to them (see
//! `crate::plugin`), the controllers store them in Secrets. Everything in
//! this module is pure (no I/O), so it is tested directly, and it uses
//! RustCrypto throughout (rcgen only encodes), so there is one crypto stack.

mod cert;
mod csr;
mod key;
pub mod keystore;
mod name;
mod p256_key;
mod public_key;
mod usage;

pub use cert::{CertificateInfo, parse_certificate_chain, public_key_matches, verify_issued_by};
pub use csr::{CsrSpec, ParsedCsr, build_csr, parse_csr, read_csr};
pub use key::{KeyAlgorithm, KeyEncoding, PrivateKey, SignatureAlgorithm};
pub use name::Subject;
pub use usage::KeyUsage;

/// What went wrong with a key, a CSR or a certificate. Each variant names
/// the thing that failed, and the messages are worded so that they can go
/// straight into a condition, an event or a plugin's error string.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum PkiError {
    /// `privateKey.algorithm` is not one cert-manager defines.
    #[error("unsupported private key algorithm {0:?} (supported: RSA, ECDSA, Ed25519)")]
    UnsupportedAlgorithm(String),
    /// `privateKey.size`, or the size of a key read from PEM, is not one
    /// certwasm handles.
    #[error("unsupported {algorithm} key size {size} (supported: {supported})")]
    UnsupportedKeySize {
        algorithm: &'static str,
        size: u32,
        supported: &'static str,
    },
    /// A key that is well formed but of a kind certwasm cannot use
    /// (ECDSA P-521, Ed448, DSA, an encrypted PEM key, ...).
    #[error("{0}")]
    UnsupportedKey(String),
    /// A signature algorithm was asked of a key that cannot make it.
    #[error("signature algorithm {signature} cannot be used with a {key} key")]
    AlgorithmMismatch {
        signature: &'static str,
        key: &'static str,
    },
    /// The text is not PEM, or holds no block of the kind expected.
    #[error("{what} is not valid PEM: {reason}")]
    InvalidPem { what: &'static str, reason: String },
    /// The private (or public) key's DER is malformed.
    #[error("malformed key: {0}")]
    InvalidKey(String),
    /// The operating system's random source or the key generator failed.
    #[error("generating a {algorithm} key failed: {reason}")]
    Generate {
        algorithm: &'static str,
        reason: String,
    },
    /// The signer failed (not a mismatch: see `AlgorithmMismatch`).
    #[error("signing with a {key} key failed: {reason}")]
    Sign { key: &'static str, reason: String },
    /// Writing DER or PEM failed.
    #[error("encoding {what} failed: {reason}")]
    Encode { what: &'static str, reason: String },
    /// A CSR cannot be built from this spec; `field` is the Certificate
    /// spec field at fault (e.g. `literalSubject`, `dnsNames`).
    #[error("cannot build the certificate request: {field}: {reason}")]
    InvalidSpec { field: &'static str, reason: String },
    /// The CSR cannot be parsed.
    #[error("malformed certificate request: {0}")]
    InvalidCsr(String),
    /// The CSR is well formed but its self-signature does not verify: it
    /// was altered, or signed by another key than the one it carries.
    #[error("the certificate request's signature does not verify with its own public key")]
    CsrSignatureInvalid,
    /// A CSR or certificate is signed with an algorithm certwasm refuses.
    #[error(
        "unsupported signature algorithm {0} (supported: ECDSA with SHA-256/384/512, \
         RSA PKCS#1 v1.5 with SHA-256/384/512, Ed25519)"
    )]
    UnsupportedSignatureAlgorithm(String),
    /// A certificate cannot be parsed.
    #[error("malformed certificate: {0}")]
    InvalidCertificate(String),
    /// A certificate's signature does not verify with the supposed issuer.
    #[error("certificate {subject:?} is not signed by {issuer:?}: {reason}")]
    NotIssuedBy {
        subject: String,
        issuer: String,
        reason: String,
    },
    /// A usage name that is not one of cert-manager's.
    #[error(
        "unknown key usage {0:?} (cert-manager's usages are e.g. \"digital signature\", \"server auth\")"
    )]
    UnknownUsage(String),
}

/// Keys for tests, generated once per test binary: RSA 3072 and 4096
/// generation takes seconds in a debug build.
#[cfg(test)]
pub(crate) fn test_key(algorithm: KeyAlgorithm) -> &'static PrivateKey {
    use std::sync::OnceLock;
    static KEYS: [OnceLock<PrivateKey>; 6] = [const { OnceLock::new() }; 6];
    let index = match algorithm {
        KeyAlgorithm::Rsa2048 => 0,
        KeyAlgorithm::Rsa3072 => 1,
        KeyAlgorithm::Rsa4096 => 2,
        KeyAlgorithm::EcdsaP256 => 3,
        KeyAlgorithm::EcdsaP384 => 4,
        KeyAlgorithm::Ed25519 => 5,
    };
    KEYS[index].get_or_init(|| PrivateKey::generate(algorithm).expect("key generation"))
}
