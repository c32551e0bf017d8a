//! `cert-manager.io/v1` CertificateRequest: one signing request (a CSR) sent
//! to an issuer, with its approval and result. Field for field
//! cert-manager's `pkg/apis/certmanager/v1/types_certificaterequest.go`;
//! external issuers and `cmctl approve` read and write exactly these fields.

use std::collections::BTreeMap;

use k8s_openapi::apimachinery::pkg::apis::meta::v1::Time;
use kube::CustomResource;
use schemars::{JsonSchema, Schema, SchemaGenerator};
use serde::{Deserialize, Serialize};

use super::shared::{
    Base64Bytes, Condition, ConditionSchema, ConditionStatus, IssuerReference, condition_list,
    is_false,
};
use crate::pki::KeyUsage;

/// A CertificateRequest asks an issuer to sign a PEM-encoded CSR. The
/// requester's identity (`username`, `uid`, `groups`, `extra`) is filled in
/// at creation by the API, never by the client.
#[derive(CustomResource, Serialize, Deserialize, Clone, Debug, PartialEq, JsonSchema)]
#[kube(
    group = "cert-manager.io",
    version = "v1",
    kind = "CertificateRequest",
    plural = "certificaterequests",
    singular = "certificaterequest",
    namespaced,
    status = "CertificateRequestStatus",
    shortname = "cr",
    shortname = "crs",
    category = "cert-manager",
    derive = "PartialEq",
    selectable = ".spec.issuerRef.group",
    selectable = ".spec.issuerRef.kind",
    selectable = ".spec.issuerRef.name",
    doc = "A CertificateRequest is used to request a signed certificate from one of the configured issuers. All fields within the CertificateRequest's `spec` are immutable after creation. A CertificateRequest will either succeed or fail, as denoted by its `Ready` status condition and its `status.failureTime` field.",
    printcolumn = r#"{"name":"Approved","type":"string","jsonPath":".status.conditions[?(@.type == \"Approved\")].status"}"#,
    printcolumn = r#"{"name":"Denied","type":"string","jsonPath":".status.conditions[?(@.type == \"Denied\")].status"}"#,
    printcolumn = r#"{"name":"Ready","type":"string","jsonPath":".status.conditions[?(@.type == \"Ready\")].status"}"#,
    printcolumn = r#"{"name":"Issuer","type":"string","jsonPath":".spec.issuerRef.name"}"#,
    printcolumn = r#"{"name":"Requester","type":"string","jsonPath":".spec.username"}"#,
    printcolumn = r#"{"name":"Status","type":"string","jsonPath":".status.conditions[?(@.type == \"Ready\")].message","priority":1}"#,
    printcolumn = r#"{"name":"Age","type":"date","jsonPath":".metadata.creationTimestamp","description":"CreationTimestamp is a timestamp representing the server time when this object was created. It is not guaranteed to be set in happens-before order across separate operations. Clients may not set this value. It is represented in RFC3339 form and is in UTC."}"#
)]
#[serde(rename_all = "camelCase")]
pub struct CertificateRequestSpec {
    /// Requested 'duration' (i.e. lifetime) of the certificate, a Go
    /// duration. Issuers may ignore it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub duration: Option<String>,
    /// Reference to the issuer responsible for issuing the certificate.
    pub issuer_ref: IssuerReference,
    /// The PEM-encoded X.509 certificate signing request, base64-encoded in
    /// JSON.
    pub request: Base64Bytes,
    /// Requests a certificate valid for signing other certificates.
    #[serde(default, rename = "isCA", skip_serializing_if = "is_false")]
    pub is_ca: bool,
    /// Requested key usages and extended key usages.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub usages: Vec<KeyUsage>,
    /// Name of the user that created the request; set by the API.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub username: Option<String>,
    /// UID of the user that created the request; set by the API.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub uid: Option<String>,
    /// Groups of the user that created the request; set by the API.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub groups: Vec<String>,
    /// Extra attributes of the user that created the request; set by the API.
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub extra: BTreeMap<String, Vec<String>>,
}

/// Status of a CertificateRequest: its conditions and, once issued, the
/// signed certificate and CA.
#[derive(Serialize, Deserialize, Clone, Debug, PartialEq, Default, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct CertificateRequestStatus {
    /// `Approved`, `Denied`, `InvalidRequest` and `Ready` conditions.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    #[schemars(schema_with = "certificate_request_conditions")]
    pub conditions: Vec<Condition>,
    /// The PEM-encoded certificate (chain), once issued.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub certificate: Option<Base64Bytes>,
    /// The PEM-encoded CA of the issuer, when it is known. Deprecated by
    /// cert-manager but still written by its issuers.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub ca: Option<Base64Bytes>,
    /// When the request failed; a failed request is never retried.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub failure_time: Option<Time>,
}

/// The schema of CertificateRequest conditions: cert-manager's carry no
/// `observedGeneration` (a request's spec never changes).
fn certificate_request_conditions(generator: &mut SchemaGenerator) -> Schema {
    condition_list(
        generator,
        &ConditionSchema {
            item: "A condition of a CertificateRequest.",
            type_: "Type of the condition: `Ready`, `InvalidRequest`, `Approved` or\n`Denied`.",
            observed_generation: false,
        },
    )
}

/// Condition type: the request has been issued (or has failed for good).
pub const CERTIFICATE_REQUEST_CONDITION_READY: &str = "Ready";
/// Condition type: the request can never be signed as it stands.
pub const CERTIFICATE_REQUEST_CONDITION_INVALID_REQUEST: &str = "InvalidRequest";
/// Condition type: an approver allowed the request to be signed.
pub const CERTIFICATE_REQUEST_CONDITION_APPROVED: &str = "Approved";
/// Condition type: an approver refused the request.
pub const CERTIFICATE_REQUEST_CONDITION_DENIED: &str = "Denied";

/// `Ready` reason: waiting for the issuer.
pub const CERTIFICATE_REQUEST_REASON_PENDING: &str = "Pending";
/// `Ready` reason: the issuer failed for good.
pub const CERTIFICATE_REQUEST_REASON_FAILED: &str = "Failed";
/// `Ready` reason: the certificate is in the status.
pub const CERTIFICATE_REQUEST_REASON_ISSUED: &str = "Issued";
/// `Ready` reason: the request was denied.
pub const CERTIFICATE_REQUEST_REASON_DENIED: &str = "Denied";

impl CertificateRequest {
    /// The condition of the given type, if set.
    pub fn condition(&self, type_: &str) -> Option<&Condition> {
        self.status
            .as_ref()
            .and_then(|status| status.conditions.iter().find(|c| c.type_ == type_))
    }

    /// Whether `Approved` is `True`; only approved requests are signed.
    pub fn is_approved(&self) -> bool {
        self.condition(CERTIFICATE_REQUEST_CONDITION_APPROVED)
            .is_some_and(|c| c.status == ConditionStatus::True)
    }

    /// Whether `Denied` is `True`; denied requests are never signed.
    pub fn is_denied(&self) -> bool {
        self.condition(CERTIFICATE_REQUEST_CONDITION_DENIED)
            .is_some_and(|c| c.status == ConditionStatus::True)
    }
}
