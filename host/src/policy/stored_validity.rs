//! Defence in depth: what the controllers make of an object that admission
//! would have refused.
//!
//! In a cluster, cert-manager's rules run in the admission webhook. An
//! object can still reach the store without them: created before the
//! webhook was installed, while it was down, or by an older certwasm with
//! weaker rules. The controllers check what they read against the same
//! rules (defaults applied in memory, as at admission) and refuse to act on
//! an object that fails them, with the admission's own field errors as the
//! reason, rather than, say, issuing a 30-minute certificate that
//! cert-manager's rules forbid.

use crate::api::defaults::{
    set_certificate_defaults, set_certificate_request_defaults, set_issuer_schema_defaults,
};
use crate::api::validation::{
    validate_certificate, validate_certificate_request, validate_issuer_spec,
};
use crate::api::{Certificate, CertificateRequest, FieldError, IssuerSpec};

/// The Certificate `Ready` reason and the event reason for an invalid spec.
pub const INVALID_SPEC: &str = "InvalidSpec";
/// The Issuer `Ready` reason for an invalid spec (cert-manager's reason for
/// an issuer whose configuration cannot work).
pub const INVALID_CONFIG: &str = "InvalidConfig";

/// Why a stored Certificate must not be issued, if it fails admission.
pub fn certificate_refusal(certificate: &Certificate) -> Option<String> {
    let mut defaulted = certificate.clone();
    set_certificate_defaults(&mut defaulted);
    describe("Certificate", &validate_certificate(&defaulted))
}

/// Why a stored CertificateRequest must not be signed, if it fails
/// admission.
pub fn request_refusal(request: &CertificateRequest) -> Option<String> {
    let mut defaulted = request.clone();
    set_certificate_request_defaults(&mut defaulted);
    describe(
        "CertificateRequest",
        &validate_certificate_request(&defaulted),
    )
}

/// Why a stored Issuer's or ClusterIssuer's spec cannot be used, if it
/// fails admission.
pub fn issuer_refusal(kind: &str, spec: &IssuerSpec) -> Option<String> {
    let mut defaulted = spec.clone();
    set_issuer_schema_defaults(&mut defaulted);
    describe(kind, &validate_issuer_spec(&defaulted, "spec"))
}

/// The refusal in the words admission would have used: the field errors,
/// one after another, as kube-apiserver lists them.
fn describe(kind: &str, errors: &[FieldError]) -> Option<String> {
    let (first, rest) = errors.split_first()?;
    let listed = if rest.is_empty() {
        first.to_string()
    } else {
        let all: Vec<String> = errors.iter().map(ToString::to_string).collect();
        format!("[{}]", all.join(", "))
    };
    Some(format!(
        "The {kind} is invalid and will not be acted on until it is fixed: {listed}"
    ))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn certificate(spec: serde_json::Value) -> Certificate {
        serde_json::from_value(serde_json::json!({
            "apiVersion": "cert-manager.io/v1",
            "kind": "Certificate",
            "metadata": {"name": "web", "namespace": "default"},
            "spec": spec,
        }))
        .expect("a Certificate")
    }

    #[test]
    fn a_valid_certificate_passes() {
        let valid = certificate(serde_json::json!({
            "secretName": "web-tls",
            "dnsNames": ["example.com"],
            "issuerRef": {"name": "ca"},
        }));
        assert_eq!(certificate_refusal(&valid), None);
    }

    #[test]
    fn an_invalid_certificate_is_refused_with_the_field_error() {
        let invalid = certificate(serde_json::json!({
            "secretName": "web-tls",
            "dnsNames": ["example.com"],
            "duration": "30m",
            "issuerRef": {"name": "ca"},
        }));
        let refusal = certificate_refusal(&invalid).unwrap_or_default();
        assert!(
            refusal.starts_with("The Certificate is invalid and will not be acted on until it is fixed: spec.duration: Invalid value: \"30m\""),
            "{refusal}"
        );
    }

    #[test]
    fn several_errors_are_listed_as_the_api_server_lists_them() {
        let invalid = certificate(serde_json::json!({
            "secretName": "web-tls",
            "duration": "30m",
            "issuerRef": {"name": "ca"},
        }));
        let refusal = certificate_refusal(&invalid).unwrap_or_default();
        assert!(refusal.contains(": [spec"), "{refusal}");
        assert!(refusal.contains("spec.duration"), "{refusal}");
        assert!(refusal.contains("at least one of commonName"), "{refusal}");
    }

    #[test]
    fn an_issuer_with_no_type_is_refused() {
        let spec: IssuerSpec = serde_json::from_value(serde_json::json!({})).expect("a spec");
        let refusal = issuer_refusal("Issuer", &spec).unwrap_or_default();
        assert!(refusal.starts_with("The Issuer is invalid"), "{refusal}");
    }
}
