//! The PKI module's one error type.

/// What went wrong with a key, a CSR or a certificate, worded so that the
/// message can go straight into a condition or an event.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum PkiError {
    #[error("unsupported private key algorithm {0:?} (supported: RSA, ECDSA, Ed25519)")]
    UnsupportedAlgorithm(String),
    #[error("unsupported {algorithm} key size {size} (supported: {supported})")]
    UnsupportedKeySize {
        algorithm: &'static str,
        size: u32,
        supported: &'static str,
    },
    #[error("signature algorithm {signature} cannot be used with a {key} key")]
    AlgorithmMismatch { signature: &'static str, key: &'static str },
    #[error("{what} is not valid PEM: {reason}")]
    InvalidPem { what: &'static str, reason: String },
    #[error("failed to decode private key: {0}")]
    InvalidKey(String),
    #[error("generating a {algorithm} key failed: {reason}")]
    Generate { algorithm: &'static str, reason: String },
    #[error("signing failed: {0}")]
    Sign(String),
    #[error("encoding failed: {0}")]
    Encode(String),
    #[error("invalid certificate request: {0}")]
    InvalidCsr(String),
    #[error("the certificate request's signature does not verify")]
    CsrSignatureInvalid,
    #[error("invalid certificate: {0}")]
    InvalidCertificate(String),
    #[error("unknown key usage {0:?}")]
    UnknownUsage(String),
}
