//! `acme.cert-manager.io/v1` Challenge: one ACME challenge being presented
//! and validated. Field for field cert-manager's
//! `pkg/apis/acme/v1/types_challenge.go`, so `kubectl get challenges` and
//! `kubectl describe` show what operators know from cert-manager.

use k8s_openapi::apimachinery::pkg::apis::meta::v1::Time;
use kube::CustomResource;
use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

use super::acme::AcmeChallengeSolver;
use super::order::AcmeState;
use super::shared::IssuerReference;

/// A Challenge is one ACME challenge for one identifier of an Order.
#[derive(CustomResource, Serialize, Deserialize, Clone, Debug, PartialEq, JsonSchema)]
#[kube(
    group = "acme.cert-manager.io",
    version = "v1",
    kind = "Challenge",
    plural = "challenges",
    singular = "challenge",
    namespaced,
    status = "ChallengeStatus",
    category = "cert-manager",
    category = "cert-manager-acme",
    derive = "PartialEq",
    selectable = ".spec.issuerRef.group",
    selectable = ".spec.issuerRef.kind",
    selectable = ".spec.issuerRef.name",
    doc = "Challenge is a type to represent a Challenge request with an ACME server",
    printcolumn = r#"{"name":"State","type":"string","jsonPath":".status.state"}"#,
    printcolumn = r#"{"name":"Domain","type":"string","jsonPath":".spec.dnsName"}"#,
    printcolumn = r#"{"name":"Reason","type":"string","jsonPath":".status.reason","priority":1}"#,
    printcolumn = r#"{"name":"Age","type":"date","jsonPath":".metadata.creationTimestamp","description":"CreationTimestamp is a timestamp representing the server time when this object was created. It is not guaranteed to be set in happens-before order across separate operations. Clients may not set this value. It is represented in RFC3339 form and is in UTC."}"#
)]
#[serde(rename_all = "camelCase")]
pub struct ChallengeSpec {
    /// URL of the challenge on the ACME server.
    pub url: String,
    /// URL of the authorization the challenge belongs to.
    #[serde(rename = "authorizationURL")]
    pub authorization_url: String,
    /// The identifier being validated, without any `*.` prefix.
    pub dns_name: String,
    /// Whether the authorization is for a wildcard name.
    #[serde(default)]
    pub wildcard: bool,
    /// The challenge type.
    #[serde(rename = "type")]
    pub type_: AcmeChallengeType,
    /// The challenge token.
    pub token: String,
    /// The key authorization (HTTP-01 body) or its digest (DNS-01 TXT value).
    pub key: String,
    /// The solver chosen for this challenge, copied from the issuer.
    pub solver: AcmeChallengeSolver,
    /// The ACME issuer the challenge belongs to.
    pub issuer_ref: IssuerReference,
}

/// Type of an ACME challenge, as cert-manager spells it.
#[derive(Serialize, Deserialize, Clone, Copy, Debug, PartialEq, Eq, Hash, JsonSchema)]
pub enum AcmeChallengeType {
    /// HTTP-01: a file served over HTTP on port 80.
    #[serde(rename = "HTTP-01")]
    Http01,
    /// DNS-01: a TXT record at `_acme-challenge.<name>`.
    #[serde(rename = "DNS-01")]
    Dns01,
}

impl AcmeChallengeType {
    /// cert-manager's spelling, e.g. in event messages.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Http01 => "HTTP-01",
            Self::Dns01 => "DNS-01",
        }
    }

    /// The spelling of RFC 8555 (`http-01`), as the ACME server uses it.
    pub fn acme_name(self) -> &'static str {
        match self {
            Self::Http01 => "http-01",
            Self::Dns01 => "dns-01",
        }
    }
}

/// Status of a Challenge.
#[derive(Serialize, Deserialize, Clone, Debug, PartialEq, Default, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct ChallengeStatus {
    /// Whether the controller is working on the challenge; it stops once the
    /// challenge reaches a final state.
    #[serde(default)]
    pub processing: bool,
    /// Whether the challenge response is presented (record or solver up).
    #[serde(default)]
    pub presented: bool,
    /// When it was presented.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub presented_at: Option<Time>,
    /// Why the challenge is in its state, e.g. the self-check's failure.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub reason: Option<String>,
    /// State of the challenge on the ACME server.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub state: Option<AcmeState>,
}
