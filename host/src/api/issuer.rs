//! `cert-manager.io/v1` Issuer and ClusterIssuer: who signs certificates and
//! how to reach them. Field for field cert-manager's
//! `pkg/apis/certmanager/v1/types_issuer.go`, plus certwasm's one addition,
//! `spec.plugin`, which names a third-party WebAssembly issuer.
//!
//! Both kinds share [`IssuerSpec`] and [`IssuerStatus`], as in cert-manager.
//! The ClusterIssuer's spec type is a transparent wrapper that dereferences
//! to [`IssuerSpec`], because the CRD derive needs one spec type per kind.

use std::ops::{Deref, DerefMut};

use kube::CustomResource;
use schemars::{JsonSchema, Schema, SchemaGenerator};
use serde::{Deserialize, Serialize};

use super::acme::{AcmeIssuer, AcmeIssuerStatus, ServiceAccountRef};
use super::shared::{
    Base64Bytes, Condition, ConditionSchema, ConditionStatus, LocalObjectReference,
    SecretKeySelector, condition_list, preserve_unknown_object,
};

/// The configuration of an issuer: exactly one issuer type must be set.
#[derive(CustomResource, Serialize, Deserialize, Clone, Debug, PartialEq, Default, JsonSchema)]
#[kube(
    group = "cert-manager.io",
    version = "v1",
    kind = "Issuer",
    plural = "issuers",
    singular = "issuer",
    namespaced,
    status = "IssuerStatus",
    shortname = "iss",
    category = "cert-manager",
    derive = "PartialEq",
    doc = "An Issuer represents a certificate issuing authority which can be referenced as part of `issuerRef` fields. It is scoped to a single namespace and can therefore only be referenced by resources within the same namespace.",
    printcolumn = r#"{"name":"Ready","type":"string","jsonPath":".status.conditions[?(@.type == \"Ready\")].status"}"#,
    printcolumn = r#"{"name":"Status","type":"string","jsonPath":".status.conditions[?(@.type == \"Ready\")].message","priority":1}"#,
    printcolumn = r#"{"name":"Age","type":"date","jsonPath":".metadata.creationTimestamp","description":"CreationTimestamp is a timestamp representing the server time when this object was created. It is not guaranteed to be set in happens-before order across separate operations. Clients may not set this value. It is represented in RFC3339 form and is in UTC."}"#
)]
#[serde(rename_all = "camelCase")]
pub struct IssuerSpec {
    /// An ACME server (Let's Encrypt and others).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub acme: Option<AcmeIssuer>,
    /// A CA whose key pair is stored in a Secret.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub ca: Option<CaIssuer>,
    /// HashiCorp Vault (or OpenBao) PKI.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub vault: Option<VaultIssuer>,
    /// Self-signed certificates: each is signed by its own key.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub self_signed: Option<SelfSignedIssuer>,
    /// Venafi TLS Protect (TPP / Cloud / NGTS).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub venafi: Option<VenafiIssuer>,
    /// certwasm only: a third-party issuer plugin from the plugin bundle.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub plugin: Option<PluginIssuer>,
}

/// Spec of a ClusterIssuer: an [`IssuerSpec`] under another kind. It
/// serialises exactly as `IssuerSpec` and dereferences to it, so
/// `cluster_issuer.spec.acme` reads as it does on an Issuer.
#[derive(CustomResource, Serialize, Deserialize, Clone, Debug, PartialEq, Default, JsonSchema)]
#[kube(
    group = "cert-manager.io",
    version = "v1",
    kind = "ClusterIssuer",
    plural = "clusterissuers",
    singular = "clusterissuer",
    status = "IssuerStatus",
    shortname = "ciss",
    category = "cert-manager",
    derive = "PartialEq",
    doc = "A ClusterIssuer represents a certificate issuing authority which can be referenced as part of `issuerRef` fields. It is similar to an Issuer, however it is cluster-scoped and therefore can be referenced by resources that exist in *any* namespace, not just the same namespace as the referent.",
    printcolumn = r#"{"name":"Ready","type":"string","jsonPath":".status.conditions[?(@.type == \"Ready\")].status"}"#,
    printcolumn = r#"{"name":"Status","type":"string","jsonPath":".status.conditions[?(@.type == \"Ready\")].message","priority":1}"#,
    printcolumn = r#"{"name":"Age","type":"date","jsonPath":".metadata.creationTimestamp","description":"CreationTimestamp is a timestamp representing the server time when this object was created. It is not guaranteed to be set in happens-before order across separate operations. Clients may not set this value. It is represented in RFC3339 form and is in UTC."}"#
)]
#[serde(transparent)]
pub struct ClusterIssuerSpec(pub IssuerSpec);

impl Deref for ClusterIssuerSpec {
    type Target = IssuerSpec;

    fn deref(&self) -> &IssuerSpec {
        &self.0
    }
}

impl DerefMut for ClusterIssuerSpec {
    fn deref_mut(&mut self) -> &mut IssuerSpec {
        &mut self.0
    }
}

impl From<IssuerSpec> for ClusterIssuerSpec {
    fn from(spec: IssuerSpec) -> Self {
        Self(spec)
    }
}

impl From<ClusterIssuerSpec> for IssuerSpec {
    fn from(spec: ClusterIssuerSpec) -> Self {
        spec.0
    }
}

/// The issuer types an [`IssuerSpec`] can hold, to name the one in use.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum IssuerType {
    /// `spec.acme`.
    Acme,
    /// `spec.ca`.
    Ca,
    /// `spec.vault`.
    Vault,
    /// `spec.selfSigned`.
    SelfSigned,
    /// `spec.venafi`.
    Venafi,
    /// `spec.plugin` (certwasm only).
    Plugin,
}

impl IssuerType {
    /// The field name in the spec.
    pub fn field_name(self) -> &'static str {
        match self {
            Self::Acme => "acme",
            Self::Ca => "ca",
            Self::Vault => "vault",
            Self::SelfSigned => "selfSigned",
            Self::Venafi => "venafi",
            Self::Plugin => "plugin",
        }
    }
}

impl IssuerSpec {
    /// The issuer types that are set, in cert-manager's order (acme, ca,
    /// selfSigned, vault, venafi) then plugin; a valid spec has exactly one.
    pub fn configured_types(&self) -> Vec<IssuerType> {
        let mut types = Vec::new();
        if self.acme.is_some() {
            types.push(IssuerType::Acme);
        }
        if self.ca.is_some() {
            types.push(IssuerType::Ca);
        }
        if self.self_signed.is_some() {
            types.push(IssuerType::SelfSigned);
        }
        if self.vault.is_some() {
            types.push(IssuerType::Vault);
        }
        if self.venafi.is_some() {
            types.push(IssuerType::Venafi);
        }
        if self.plugin.is_some() {
            types.push(IssuerType::Plugin);
        }
        types
    }

    /// The single issuer type in use, or `None` when zero or several are set
    /// (which validation refuses).
    pub fn issuer_type(&self) -> Option<IssuerType> {
        match self.configured_types().as_slice() {
            [only] => Some(*only),
            _ => None,
        }
    }
}

/// certwasm's addition: an issuer served by a third-party plugin.
#[derive(Serialize, Deserialize, Clone, Debug, PartialEq, Default, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct PluginIssuer {
    /// Name of the plugin in the plugin bundle's manifest.
    pub name: String,
    /// Plugin-specific configuration, handed to the plugin as JSON.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(schema_with = "preserve_unknown_object")]
    pub config: Option<serde_json::Value>,
}

/// A CA issuer: signs with the key pair in a Secret.
#[derive(Serialize, Deserialize, Clone, Debug, PartialEq, Eq, Default, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct CaIssuer {
    /// Secret holding the CA's `tls.crt` and `tls.key`.
    pub secret_name: String,
    /// CRL distribution points put in issued certificates.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub crl_distribution_points: Vec<String>,
    /// OCSP servers put in issued certificates.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub ocsp_servers: Vec<String>,
    /// Issuing certificate URLs (AIA) put in issued certificates.
    #[serde(
        default,
        rename = "issuingCertificateURLs",
        skip_serializing_if = "Vec::is_empty"
    )]
    pub issuing_certificate_urls: Vec<String>,
}

/// A self-signing issuer.
#[derive(Serialize, Deserialize, Clone, Debug, PartialEq, Eq, Default, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct SelfSignedIssuer {
    /// CRL distribution points put in issued certificates.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub crl_distribution_points: Vec<String>,
}

/// A Vault (or OpenBao) PKI issuer.
#[derive(Serialize, Deserialize, Clone, Debug, PartialEq, Eq, Default, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct VaultIssuer {
    /// How to authenticate to Vault.
    pub auth: VaultAuth,
    /// Vault's address, e.g. `https://vault.example.com:8200`.
    pub server: String,
    /// TLS server name to verify, when it differs from the address.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub server_name: Option<String>,
    /// Signing path, e.g. `pki/sign/example-dot-com`.
    pub path: String,
    /// Vault namespace (Enterprise).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub namespace: Option<String>,
    /// PEM CA bundle verifying Vault's TLS certificate.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub ca_bundle: Option<Base64Bytes>,
    /// Secret entry holding that CA bundle; exclusive with `caBundle`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub ca_bundle_secret_ref: Option<SecretKeySelector>,
    /// Client certificate for mutual TLS with Vault.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub client_cert_secret_ref: Option<SecretKeySelector>,
    /// Client key for mutual TLS with Vault.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub client_key_secret_ref: Option<SecretKeySelector>,
}

/// Vault authentication; the first method set is used.
#[derive(Serialize, Deserialize, Clone, Debug, PartialEq, Eq, Default, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct VaultAuth {
    /// A static token in a Secret.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub token_secret_ref: Option<SecretKeySelector>,
    /// AppRole login.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub app_role: Option<VaultAppRole>,
    /// TLS client certificate login.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub client_certificate: Option<VaultClientCertificateAuth>,
    /// Kubernetes service account login.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub kubernetes: Option<VaultKubernetesAuth>,
    /// AWS IAM login.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub aws: Option<VaultAwsAuth>,
}

/// Vault AppRole login.
#[derive(Serialize, Deserialize, Clone, Debug, PartialEq, Eq, Default, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct VaultAppRole {
    /// Mount path of the AppRole backend, e.g. `approle`.
    pub path: String,
    /// The role ID.
    pub role_id: String,
    /// Secret entry holding the secret ID.
    pub secret_ref: SecretKeySelector,
}

/// Vault TLS certificate login.
#[derive(Serialize, Deserialize, Clone, Debug, PartialEq, Eq, Default, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct VaultClientCertificateAuth {
    /// Mount path of the cert backend; `/v1/auth/cert` by default.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub mount_path: Option<String>,
    /// `kubernetes.io/tls` Secret with the client certificate and key.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub secret_name: Option<String>,
    /// Name of the certificate role to authenticate against.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub name: Option<String>,
}

/// Vault Kubernetes login.
#[derive(Serialize, Deserialize, Clone, Debug, PartialEq, Eq, Default, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct VaultKubernetesAuth {
    /// Mount path of the backend; `/v1/auth/kubernetes` by default.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub mount_path: Option<String>,
    /// Secret entry holding a service account token.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub secret_ref: Option<SecretKeySelector>,
    /// Service account whose token is requested.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub service_account_ref: Option<ServiceAccountRef>,
    /// Vault role to log in as.
    pub role: String,
}

/// Vault AWS IAM login.
#[derive(Serialize, Deserialize, Clone, Debug, PartialEq, Eq, Default, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct VaultAwsAuth {
    /// Mount path of the backend; `/v1/auth/aws` by default.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub mount_path: Option<String>,
    /// Vault role to log in as.
    #[schemars(length(min = 1))]
    pub role: String,
    /// AWS region of the STS endpoint.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub region: Option<String>,
    /// Service account for IRSA.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub service_account_ref: Option<ServiceAccountRef>,
    /// IAM role to assume with the service account token.
    #[serde(
        default,
        rename = "iamRoleArn",
        skip_serializing_if = "Option::is_none"
    )]
    pub iam_role_arn: Option<String>,
    /// Value of the `X-Vault-AWS-IAM-Server-ID` header.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub vault_header_value: Option<String>,
}

/// A Venafi issuer: exactly one of `tpp`, `cloud`, `ngts`.
#[derive(Serialize, Deserialize, Clone, Debug, PartialEq, Eq, Default, JsonSchema)]
#[serde(rename_all = "camelCase")]
#[schemars(extend("x-kubernetes-validations" = [{
    "message": "exactly one of tpp, cloud, or ngts must be configured",
    "rule": "(has(self.tpp) ? 1 : 0) + (has(self.cloud) ? 1 : 0) + (has(self.ngts) ? 1 : 0) == 1"
}]))]
pub struct VenafiIssuer {
    /// Venafi policy zone.
    pub zone: String,
    /// Trust Protection Platform.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub tpp: Option<VenafiTpp>,
    /// TLS Protect Cloud.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub cloud: Option<VenafiCloud>,
    /// Next-Gen Trust Security.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub ngts: Option<VenafiNgts>,
}

/// Venafi Trust Protection Platform.
#[derive(Serialize, Deserialize, Clone, Debug, PartialEq, Eq, Default, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct VenafiTpp {
    /// TPP SDK URL, e.g. `https://tpp.example.com/vedsdk`.
    pub url: String,
    /// Secret with `username`/`password` or `access-token`.
    pub credentials_ref: LocalObjectReference,
    /// PEM CA bundle verifying TPP's TLS certificate.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub ca_bundle: Option<Base64Bytes>,
    /// Secret entry holding that CA bundle; exclusive with `caBundle`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub ca_bundle_secret_ref: Option<SecretKeySelector>,
}

/// Venafi TLS Protect Cloud.
#[derive(Serialize, Deserialize, Clone, Debug, PartialEq, Eq, Default, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct VenafiCloud {
    /// API URL; `https://api.venafi.cloud/` by default.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub url: Option<String>,
    /// Secret entry holding the API token.
    pub api_token_secret_ref: SecretKeySelector,
}

/// Venafi Next-Gen Trust Security.
#[derive(Serialize, Deserialize, Clone, Debug, PartialEq, Eq, Default, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct VenafiNgts {
    /// API URL.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub url: Option<String>,
    /// Token endpoint.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub token_endpoint: Option<String>,
    /// Tenant service group ID.
    #[serde(rename = "tsgID")]
    pub tsg_id: String,
    /// Secret with the credentials.
    pub credentials_ref: LocalObjectReference,
}

/// Status of an Issuer or ClusterIssuer.
#[derive(Serialize, Deserialize, Clone, Debug, PartialEq, Default, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct IssuerStatus {
    /// The `Ready` condition.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    #[schemars(schema_with = "issuer_conditions")]
    pub conditions: Vec<Condition>,
    /// ACME account state, for ACME issuers.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub acme: Option<AcmeIssuerStatus>,
}

/// The schema of Issuer and ClusterIssuer conditions.
fn issuer_conditions(generator: &mut SchemaGenerator) -> Schema {
    condition_list(
        generator,
        &ConditionSchema {
            item: "A condition of an Issuer (`Ready`).",
            type_: "Type of the condition, known as `Ready`.",
            observed_generation: true,
        },
    )
}

/// Condition type: the issuer can sign.
pub const ISSUER_CONDITION_READY: &str = "Ready";

impl IssuerStatus {
    /// Whether `Ready` is `True`; certificates wait for a ready issuer.
    pub fn is_ready(&self) -> bool {
        self.conditions
            .iter()
            .any(|c| c.type_ == ISSUER_CONDITION_READY && c.status == ConditionStatus::True)
    }
}
