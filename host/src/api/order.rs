//! `acme.cert-manager.io/v1` Order: one ACME order, created for a
//! CertificateRequest to an ACME issuer. Field for field cert-manager's
//! `pkg/apis/acme/v1/types_order.go`; its status mirrors the ACME server's
//! order so that a restart resumes the order instead of placing a new one.

use k8s_openapi::apimachinery::pkg::apis::meta::v1::Time;
use kube::CustomResource;
use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

use super::shared::{Base64Bytes, IssuerReference};

/// An Order is a request for a certificate to an ACME server.
#[derive(CustomResource, Serialize, Deserialize, Clone, Debug, PartialEq, JsonSchema)]
#[kube(
    group = "acme.cert-manager.io",
    version = "v1",
    kind = "Order",
    plural = "orders",
    singular = "order",
    namespaced,
    status = "OrderStatus",
    category = "cert-manager",
    category = "cert-manager-acme",
    derive = "PartialEq",
    selectable = ".spec.issuerRef.group",
    selectable = ".spec.issuerRef.kind",
    selectable = ".spec.issuerRef.name",
    doc = "Order is a type to represent an Order with an ACME server",
    printcolumn = r#"{"name":"State","type":"string","jsonPath":".status.state"}"#,
    printcolumn = r#"{"name":"Issuer","type":"string","jsonPath":".spec.issuerRef.name","priority":1}"#,
    printcolumn = r#"{"name":"Reason","type":"string","jsonPath":".status.reason","priority":1}"#,
    printcolumn = r#"{"name":"Age","type":"date","jsonPath":".metadata.creationTimestamp","description":"CreationTimestamp is a timestamp representing the server time when this object was created. It is not guaranteed to be set in happens-before order across separate operations. Clients may not set this value. It is represented in RFC3339 form and is in UTC."}"#
)]
#[serde(rename_all = "camelCase")]
pub struct OrderSpec {
    /// The PEM CSR to finalise the order with.
    pub request: Base64Bytes,
    /// The ACME Issuer (or ClusterIssuer) the order is placed with.
    pub issuer_ref: IssuerReference,
    /// Common name of the CSR; must be one of `dnsNames` or `ipAddresses`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub common_name: Option<String>,
    /// DNS identifiers of the order.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub dns_names: Vec<String>,
    /// IP identifiers of the order.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub ip_addresses: Vec<String>,
    /// Requested lifetime, sent when the issuer enables the duration feature.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub duration: Option<String>,
    /// ACME profile to request.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub profile: Option<String>,
    /// ARI certificate identifier of the certificate this order replaces.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub replaces: Option<String>,
}

/// Status of an Order, mirrored from the ACME server.
#[derive(Serialize, Deserialize, Clone, Debug, PartialEq, Default, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct OrderStatus {
    /// URL of the order on the ACME server.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub url: Option<String>,
    /// URL to finalise the order at.
    #[serde(
        default,
        rename = "finalizeURL",
        skip_serializing_if = "Option::is_none"
    )]
    pub finalize_url: Option<String>,
    /// The order's authorizations.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub authorizations: Vec<AcmeAuthorization>,
    /// The PEM chain, once the order is valid.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub certificate: Option<Base64Bytes>,
    /// State of the order.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub state: Option<AcmeState>,
    /// Why the order is in its state, for failures.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub reason: Option<String>,
    /// When the order failed.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub failure_time: Option<Time>,
}

/// An authorization of an order, and the challenges offered for it.
#[derive(Serialize, Deserialize, Clone, Debug, PartialEq, Eq, Default, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct AcmeAuthorization {
    /// URL of the authorization.
    pub url: String,
    /// The identifier (DNS name or IP) being authorized.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub identifier: Option<String>,
    /// Whether the identifier is a wildcard.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub wildcard: Option<bool>,
    /// State of the authorization when the order was created.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub initial_state: Option<AcmeState>,
    /// The challenges offered.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub challenges: Vec<AcmeChallenge>,
}

/// One challenge offered for an authorization.
#[derive(Serialize, Deserialize, Clone, Debug, PartialEq, Eq, Default, JsonSchema)]
pub struct AcmeChallenge {
    /// URL of the challenge.
    pub url: String,
    /// The challenge token.
    pub token: String,
    /// Challenge type as the server spells it (`http-01`, `dns-01`).
    #[serde(rename = "type")]
    pub type_: String,
}

/// State of an ACME order, authorization or challenge (RFC 8555 §7.1.6).
#[derive(Serialize, Deserialize, Clone, Copy, Debug, PartialEq, Eq, Hash, JsonSchema)]
#[serde(rename_all = "lowercase")]
pub enum AcmeState {
    /// Done and successful.
    Valid,
    /// Authorized; ready to finalise.
    Ready,
    /// Waiting for challenges.
    Pending,
    /// Being validated or finalised.
    Processing,
    /// Failed validation.
    Invalid,
    /// Expired before completion.
    Expired,
    /// cert-manager's own: an error not reported by the server.
    Errored,
}

impl AcmeState {
    /// Whether no further change can happen (valid, invalid, expired,
    /// errored), so the controller stops polling.
    pub fn is_final(self) -> bool {
        matches!(
            self,
            Self::Valid | Self::Invalid | Self::Expired | Self::Errored
        )
    }

    /// Whether the state is a failure.
    pub fn is_failure(self) -> bool {
        matches!(self, Self::Invalid | Self::Expired | Self::Errored)
    }

    /// The wire spelling.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Valid => "valid",
            Self::Ready => "ready",
            Self::Pending => "pending",
            Self::Processing => "processing",
            Self::Invalid => "invalid",
            Self::Expired => "expired",
            Self::Errored => "errored",
        }
    }
}

impl std::fmt::Display for AcmeState {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}
