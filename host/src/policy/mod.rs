//! Pure decisions of the certificate lifecycle: when to issue, when to
//! renew, how long to back off, what a Secret and a CSR must contain, how a
//! condition changes. Every function takes the facts and the time and
//! returns a decision; the controllers (`crate::controller`) fetch the facts
//! and carry the decision out. That keeps cert-manager's rules testable
//! without a cluster, a clock or a plugin.

pub mod conditions;
pub mod ingress;
pub mod issuer_status;
pub mod lease;
pub mod next_key;
pub mod outputs;
pub mod renewal;
pub mod request;
pub mod secret;
pub mod stored_validity;
pub mod trigger;

/// Errors of the policy module: a Certificate whose spec cannot be turned
/// into a key or CSR.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum PolicyError {
    /// A field that admission should have refused (e.g. an unparsable
    /// duration or IP address in an object written before validation).
    #[error("{field}: {message}")]
    InvalidSpec {
        /// The field path.
        field: String,
        /// What is wrong.
        message: String,
    },
    /// The PKI layer refused (unsupported key, literalSubject).
    #[error("{0}")]
    Pki(String),
}
