//! The cert-manager v1 API: `cert-manager.io/v1` Certificate,
//! CertificateRequest, Issuer and ClusterIssuer, `acme.cert-manager.io/v1`
//! Order and Challenge.
//!
//! The types mirror cert-manager's Go types field for field and JSON name for
//! JSON name, because operators must be able to apply their cert-manager
//! manifests unchanged and read certwasm's objects with the tools they know.
//! Validation ([`validation`]) and defaulting ([`defaults`]) follow
//! cert-manager's webhook, and the CRDs ([`crds`]) are generated from the
//! types so the schema can never drift from the code.

pub mod acme;
pub mod certificate;
pub mod certificate_request;
pub mod challenge;
pub mod crds;
pub mod defaults;
mod field;
pub mod issuer;
pub mod order;
pub mod shared;
pub mod validation;

use std::path::PathBuf;

pub use acme::{AcmeChallengeSolver, AcmeIssuer, AcmeIssuerStatus};
pub use certificate::{
    Certificate, CertificatePrivateKey, CertificateSpec, CertificateStatus, KeyEncoding, KeyUsage,
    PrivateKeyAlgorithm, PrivateKeyRotationPolicy, SignatureAlgorithm, X509Subject,
};
pub use certificate_request::{
    CertificateRequest, CertificateRequestSpec, CertificateRequestStatus,
};
pub use challenge::{AcmeChallengeType, Challenge, ChallengeSpec, ChallengeStatus};
pub use crds::{crds, crds_yaml, write_crds_file};
pub use field::{FieldError, FieldErrorKind, invalid_message};
pub use issuer::{
    ClusterIssuer, ClusterIssuerSpec, Issuer, IssuerSpec, IssuerStatus, IssuerType, PluginIssuer,
};
pub use order::{AcmeAuthorization, AcmeChallenge, AcmeState, Order, OrderSpec, OrderStatus};
pub use shared::{
    ACME_GROUP, Base64Bytes, Condition, ConditionStatus, GROUP, IssuerReference,
    LocalObjectReference, ObjectReference, SecretKeySelector, VERSION,
};

/// Errors of the API module: rendering and writing CRDs, decoding objects.
#[derive(Debug, thiserror::Error)]
pub enum ApiError {
    /// A CRD could not be rendered as YAML.
    #[error("cannot render CRD {name} as YAML: {source}")]
    RenderCrd {
        /// Name of the CRD.
        name: String,
        /// The serializer's error.
        source: serde_yaml::Error,
    },
    /// A file could not be written.
    #[error("cannot write {}: {source}", path.display())]
    Write {
        /// The file or directory.
        path: PathBuf,
        /// The I/O error.
        source: std::io::Error,
    },
    /// An object does not decode into its type (wrong type, unknown enum
    /// value, missing required field); the field error names where.
    #[error("{0}")]
    Decode(FieldError),
}

/// Decodes a JSON object into an API type, turning a serde error into the
/// field error the Kubernetes API server would give for the same schema
/// violation (`spec.privateKey.algorithm: Unsupported value: "DSA":
/// supported values: "RSA", "ECDSA", "Ed25519"`), so that the embedded API
/// can refuse such objects with the field named.
pub fn decode<T: serde::de::DeserializeOwned>(value: serde_json::Value) -> Result<T, ApiError> {
    serde_path_to_error::deserialize(value).map_err(|err| ApiError::Decode(decode_error(&err)))
}

fn decode_error(err: &serde_path_to_error::Error<serde_json::Error>) -> FieldError {
    let path = json_path(err.path());
    let message = err.inner().to_string();
    // serde_json appends " at line N column M"; values carry no positions.
    let message = message
        .split(" at line ")
        .next()
        .unwrap_or(&message)
        .to_owned();
    if let Some(rest) = message.strip_prefix("unknown variant `")
        && let Some((value, expected)) = rest.split_once("`, expected ")
    {
        let expected = expected.trim_start_matches("one of ").replace(" or ", ", ");
        let supported: Vec<&str> = expected
            .split(", ")
            .map(|s| s.trim_matches('`'))
            .filter(|s| !s.is_empty())
            .collect();
        return FieldError::not_supported(path, field::quote(value), &supported);
    }
    if let Some(rest) = message.strip_prefix("missing field `") {
        let name = rest.split('`').next().unwrap_or_default();
        let full = if path.is_empty() {
            name.to_owned()
        } else {
            format!("{path}.{name}")
        };
        return FieldError::required(full, "");
    }
    FieldError::invalid(path, field::quote(&message), message.clone())
}

/// Renders a serde path as a Kubernetes field path (`spec.dnsNames[0]`).
fn json_path(path: &serde_path_to_error::Path) -> String {
    use serde_path_to_error::Segment;
    let mut out = String::new();
    for segment in path.iter() {
        match segment {
            Segment::Seq { index } => out.push_str(&format!("[{index}]")),
            Segment::Map { key } | Segment::Enum { variant: key } => {
                if !out.is_empty() {
                    out.push('.');
                }
                out.push_str(key);
            }
            Segment::Unknown => {}
        }
    }
    out
}

#[cfg(test)]
mod tests;
