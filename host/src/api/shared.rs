//! Types every cert-manager resource shares: references to issuers and
//! Secrets, condition statuses, and the schema helpers that keep free-form
//! fields (webhook solver config, plugin config, pod templates) intact.
//!
//! They mirror `pkg/apis/meta/v1` of cert-manager field for field, because
//! operators' manifests name these fields and must apply unchanged.

use k8s_openapi::apimachinery::pkg::apis::meta::v1::Time;
use schemars::{JsonSchema, Schema, SchemaGenerator, json_schema};
use serde::{Deserialize, Serialize};

/// API group of Certificate, CertificateRequest, Issuer and ClusterIssuer;
/// also the group an [`IssuerReference`] defaults to.
pub const GROUP: &str = "cert-manager.io";
/// API group of the ACME resources, Order and Challenge.
pub const ACME_GROUP: &str = "acme.cert-manager.io";
/// The only served (and stored) version of both groups.
pub const VERSION: &str = "v1";
/// The kind an [`IssuerReference`] without `kind` names.
pub const ISSUER_KIND: &str = "Issuer";
/// The kind of the cluster-scoped issuer.
pub const CLUSTER_ISSUER_KIND: &str = "ClusterIssuer";

/// A reference to an object in the same namespace by name, as cert-manager
/// uses for Secrets whose key is implied (e.g. Venafi `credentialsRef`).
#[derive(Serialize, Deserialize, Clone, Debug, PartialEq, Eq, Default, JsonSchema)]
pub struct LocalObjectReference {
    /// Name of the resource being referred to.
    pub name: String,
}

/// A reference to one entry of a Secret. Where `key` is optional the issuer
/// documents the default it reads (for example `tls.key`).
#[derive(Serialize, Deserialize, Clone, Debug, PartialEq, Eq, Default, JsonSchema)]
pub struct SecretKeySelector {
    /// The name of the Secret resource being referred to.
    pub name: String,
    /// The key of the entry in the Secret resource's `data` field to be used.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub key: Option<String>,
}

impl SecretKeySelector {
    /// The key, treating an empty string as unset as cert-manager's Go
    /// structs (plain `string` with `omitempty`) do.
    pub fn key(&self) -> Option<&str> {
        self.key.as_deref().filter(|k| !k.is_empty())
    }
}

/// Which issuer signs a Certificate or CertificateRequest. `kind` defaults to
/// `Issuer` and `group` to `cert-manager.io`; an external group names an
/// issuer that certwasm does not serve itself.
#[derive(Serialize, Deserialize, Clone, Debug, PartialEq, Eq, Default, JsonSchema)]
pub struct IssuerReference {
    /// Name of the issuer being referred to.
    pub name: String,
    /// Kind of the issuer being referred to. Defaults to 'Issuer'.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub kind: Option<String>,
    /// Group of the issuer being referred to. Defaults to 'cert-manager.io'.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub group: Option<String>,
}

/// cert-manager releases up to v1.15 called [`IssuerReference`]
/// `ObjectReference`; the alias keeps code written against that name valid.
pub type ObjectReference = IssuerReference;

impl IssuerReference {
    /// The kind with cert-manager's default applied (`Issuer` when unset or
    /// empty), which is what every controller compares against.
    pub fn effective_kind(&self) -> &str {
        match self.kind.as_deref() {
            None | Some("") => ISSUER_KIND,
            Some(kind) => kind,
        }
    }

    /// The group with cert-manager's default applied (`cert-manager.io`).
    pub fn effective_group(&self) -> &str {
        match self.group.as_deref() {
            None | Some("") => GROUP,
            Some(group) => group,
        }
    }

    /// Whether the reference names a ClusterIssuer of cert-manager's own
    /// group, i.e. an issuer looked up without a namespace.
    pub fn is_cluster_issuer(&self) -> bool {
        self.effective_group() == GROUP && self.effective_kind() == CLUSTER_ISSUER_KIND
    }
}

/// The status of a condition, spelled as Kubernetes spells it.
#[derive(Serialize, Deserialize, Clone, Copy, Debug, PartialEq, Eq, Hash, JsonSchema)]
pub enum ConditionStatus {
    /// The condition holds.
    True,
    /// The condition does not hold.
    False,
    /// The controller cannot tell yet.
    Unknown,
}

impl ConditionStatus {
    /// The wire spelling, for messages and printer columns.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::True => "True",
            Self::False => "False",
            Self::Unknown => "Unknown",
        }
    }
}

impl std::fmt::Display for ConditionStatus {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

/// Serde helper: skip `false` on output, as Go's `omitempty` does for plain
/// booleans, so objects written back look like cert-manager's.
pub(crate) fn is_false(value: &bool) -> bool {
    !*value
}

/// Schema of a field whose content is not modelled: any JSON value, kept as
/// it is (`x-kubernetes-preserve-unknown-fields`), so that provider-specific
/// configuration round-trips through the API unchanged.
pub(crate) fn preserve_unknown_fields(_: &mut SchemaGenerator) -> Schema {
    json_schema!({
        "x-kubernetes-preserve-unknown-fields": true
    })
}

/// Schema of a free-form JSON object whose unknown fields are kept.
pub(crate) fn preserve_unknown_object(_: &mut SchemaGenerator) -> Schema {
    json_schema!({
        "type": "object",
        "x-kubernetes-preserve-unknown-fields": true
    })
}

/// A condition of a Certificate, CertificateRequest, Issuer or
/// ClusterIssuer. cert-manager declares one Go struct per kind with the same
/// fields (CertificateRequest's lacks `observedGeneration`); one Rust type
/// lets the controllers, the CLI and the policy functions share one
/// implementation, while each kind's schema ([`ConditionSchema`]) keeps what
/// cert-manager's CRD declares for it.
#[derive(Serialize, Deserialize, Clone, Debug, PartialEq, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct Condition {
    /// Type of the condition (`Ready`, `Issuing`, `Approved`, ...).
    #[serde(rename = "type")]
    pub type_: String,
    /// Status of the condition.
    pub status: ConditionStatus,
    /// When the status last changed.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub last_transition_time: Option<Time>,
    /// Machine-readable CamelCase reason for the last transition.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub reason: Option<String>,
    /// Human-readable details of the last transition.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub message: Option<String>,
    /// `.metadata.generation` the condition was set from.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub observed_generation: Option<i64>,
}

/// How one kind declares its conditions in its CRD: the descriptions
/// `kubectl explain` shows, and whether `observedGeneration` is part of the
/// schema (it is not for CertificateRequest, so the API server prunes it
/// there as cert-manager's CRD does).
pub(crate) struct ConditionSchema {
    /// Description of one condition.
    pub item: &'static str,
    /// Description of the `type` field: the condition types of the kind.
    pub type_: &'static str,
    /// Whether the kind's conditions carry `observedGeneration`.
    pub observed_generation: bool,
}

/// Schema of a condition list: a map keyed by `type`, as cert-manager
/// declares it, so server-side apply merges conditions one by one; the
/// items are [`Condition`]'s schema with the kind's descriptions.
pub(crate) fn condition_list(generator: &mut SchemaGenerator, kind: &ConditionSchema) -> Schema {
    let mut items = generator.subschema_for::<Condition>();
    items.insert("description".to_owned(), kind.item.into());
    if let Some(properties) = items
        .get_mut("properties")
        .and_then(serde_json::Value::as_object_mut)
    {
        if let Some(type_) = properties
            .get_mut("type")
            .and_then(serde_json::Value::as_object_mut)
        {
            type_.insert("description".to_owned(), kind.type_.into());
        }
        if !kind.observed_generation {
            properties.remove("observedGeneration");
        }
    }
    json_schema!({
        "type": "array",
        "items": items,
        "x-kubernetes-list-type": "map",
        "x-kubernetes-list-map-keys": ["type"]
    })
}

/// Bytes carried as a base64 string, Go's encoding of `[]byte` (a CSR in
/// `spec.request`, a `caBundle`). Decoding ignores line breaks, as Go's does,
/// so wrapped base64 from hand-written manifests is accepted.
#[derive(Clone, Debug, Default, PartialEq, Eq, Hash)]
pub struct Base64Bytes(pub Vec<u8>);

impl Base64Bytes {
    /// Whether no bytes are held, the Go `len(b) == 0` test the webhook uses
    /// for "unset".
    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }

    /// The bytes.
    pub fn as_slice(&self) -> &[u8] {
        &self.0
    }
}

impl From<Vec<u8>> for Base64Bytes {
    fn from(bytes: Vec<u8>) -> Self {
        Self(bytes)
    }
}

impl From<&[u8]> for Base64Bytes {
    fn from(bytes: &[u8]) -> Self {
        Self(bytes.to_vec())
    }
}

impl Serialize for Base64Bytes {
    fn serialize<S: serde::Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        use base64::Engine as _;
        serializer.serialize_str(&base64::engine::general_purpose::STANDARD.encode(&self.0))
    }
}

impl<'de> Deserialize<'de> for Base64Bytes {
    fn deserialize<D: serde::Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        use base64::Engine as _;
        let text = String::deserialize(deserializer)?;
        let compact: String = text.chars().filter(|c| *c != '\n' && *c != '\r').collect();
        base64::engine::general_purpose::STANDARD
            .decode(compact.as_bytes())
            .map(Self)
            .map_err(|err| serde::de::Error::custom(format!("illegal base64 data: {err}")))
    }
}

impl JsonSchema for Base64Bytes {
    fn schema_name() -> std::borrow::Cow<'static, str> {
        std::borrow::Cow::Borrowed("Base64Bytes")
    }

    fn inline_schema() -> bool {
        true
    }

    fn json_schema(_: &mut SchemaGenerator) -> Schema {
        json_schema!({ "type": "string", "format": "byte" })
    }
}
