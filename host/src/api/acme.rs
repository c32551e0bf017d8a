//! The ACME issuer's configuration: account, server and challenge solvers.
//! Field for field cert-manager's `pkg/apis/acme/v1/types_issuer.go`. The
//! solver type is shared by Issuer (`spec.acme.solvers`) and Challenge
//! (`spec.solver`), which is why it lives apart from both.

use std::collections::BTreeMap;

use k8s_openapi::api::core::v1::{
    Affinity, LocalObjectReference as CoreLocalObjectReference, SELinuxOptions, SeccompProfile,
    Sysctl, Toleration,
};
use k8s_openapi::apimachinery::pkg::api::resource::Quantity;
use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

use super::shared::{Base64Bytes, SecretKeySelector, is_false, preserve_unknown_fields};

/// Configuration of an ACME issuer (Let's Encrypt, ZeroSSL, a private
/// step-ca, Pebble in tests).
#[derive(Serialize, Deserialize, Clone, Debug, PartialEq, Default, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct AcmeIssuer {
    /// Email address registered with the ACME account.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub email: Option<String>,
    /// URL of the ACME server's directory endpoint.
    pub server: String,
    /// Common name of the root of the alternate chain to prefer, when the
    /// server offers several.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(length(max = 64))]
    pub preferred_chain: Option<String>,
    /// PEM CA bundle used to verify the ACME server's TLS certificate.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub ca_bundle: Option<Base64Bytes>,
    /// Skip TLS verification of the ACME server (testing only).
    #[serde(default, rename = "skipTLSVerify", skip_serializing_if = "is_false")]
    pub skip_tls_verify: bool,
    /// External account binding, for CAs that require one.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub external_account_binding: Option<AcmeExternalAccountBinding>,
    /// Secret that holds (or will hold) the ACME account private key.
    pub private_key_secret_ref: SecretKeySelector,
    /// Challenge solvers, chosen per DNS name by their selectors.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub solvers: Vec<AcmeChallengeSolver>,
    /// Do not generate an account key; use only the existing one.
    #[serde(default, skip_serializing_if = "is_false")]
    pub disable_account_key_generation: bool,
    /// Send the requested duration in the order (`notAfter`).
    #[serde(default, skip_serializing_if = "is_false")]
    pub enable_duration_feature: bool,
    /// ACME certificate profile to request (draft-aaron-acme-profiles).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub profile: Option<String>,
    /// Where renewal information comes from: `ARI` (default) or `None`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub renewal_information_source: Option<AcmeRenewalInformationSource>,
}

/// Source of ACME renewal information.
#[derive(Serialize, Deserialize, Clone, Copy, Debug, PartialEq, Eq, Hash, JsonSchema)]
pub enum AcmeRenewalInformationSource {
    /// ACME Renewal Information (RFC 9773).
    #[serde(rename = "ARI")]
    Ari,
    /// Renew by the Certificate's own schedule only.
    None,
}

/// External account binding credentials.
#[derive(Serialize, Deserialize, Clone, Debug, PartialEq, Eq, Default, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct AcmeExternalAccountBinding {
    /// Key identifier given by the CA.
    #[serde(rename = "keyID")]
    pub key_id: String,
    /// Secret entry holding the base64url MAC key.
    pub key_secret_ref: SecretKeySelector,
    /// Deprecated and ignored by cert-manager; kept for round-tripping.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub key_algorithm: Option<HmacKeyAlgorithm>,
}

/// MAC algorithm of an external account binding.
#[derive(Serialize, Deserialize, Clone, Copy, Debug, PartialEq, Eq, Hash, JsonSchema)]
pub enum HmacKeyAlgorithm {
    /// HMAC-SHA256.
    #[serde(rename = "HS256")]
    Hs256,
    /// HMAC-SHA384.
    #[serde(rename = "HS384")]
    Hs384,
    /// HMAC-SHA512.
    #[serde(rename = "HS512")]
    Hs512,
}

/// One challenge solver and the names it applies to.
#[derive(Serialize, Deserialize, Clone, Debug, PartialEq, Default, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct AcmeChallengeSolver {
    /// Which certificates and names this solver applies to; all when unset.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub selector: Option<CertificateDnsNameSelector>,
    /// HTTP-01 configuration.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub http01: Option<AcmeChallengeSolverHttp01>,
    /// DNS-01 configuration.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub dns01: Option<AcmeChallengeSolverDns01>,
    /// Wait this long instead of running the self-check (a Go duration).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub wait_instead_of_self_check: Option<String>,
}

/// Which DNS names and Certificates a solver applies to.
#[derive(Serialize, Deserialize, Clone, Debug, PartialEq, Eq, Default, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct CertificateDnsNameSelector {
    /// Labels the Certificate must carry.
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub match_labels: BTreeMap<String, String>,
    /// Exact DNS names; the most specific match wins.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub dns_names: Vec<String>,
    /// DNS zones whose names (and subdomains) match.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub dns_zones: Vec<String>,
}

/// HTTP-01 solver: how the challenge response is routed to the solver.
#[derive(Serialize, Deserialize, Clone, Debug, PartialEq, Default, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct AcmeChallengeSolverHttp01 {
    /// Route the challenge through an Ingress.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub ingress: Option<AcmeChallengeSolverHttp01Ingress>,
    /// Route the challenge through a Gateway API HTTPRoute.
    #[serde(
        default,
        rename = "gatewayHTTPRoute",
        skip_serializing_if = "Option::is_none"
    )]
    pub gateway_http_route: Option<AcmeChallengeSolverHttp01GatewayHttpRoute>,
}

/// HTTP-01 through an Ingress.
#[derive(Serialize, Deserialize, Clone, Debug, PartialEq, Default, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct AcmeChallengeSolverHttp01Ingress {
    /// Service type of the solver's Service: `ClusterIP` or `NodePort`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub service_type: Option<String>,
    /// IngressClass of the solver Ingress (`spec.ingressClassName`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub ingress_class_name: Option<String>,
    /// Legacy `kubernetes.io/ingress.class` annotation value.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub class: Option<String>,
    /// Edit this existing Ingress in place instead of creating one.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub name: Option<String>,
    /// Overrides for the solver Pod.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub pod_template: Option<AcmeChallengeSolverHttp01IngressPodTemplate>,
    /// Overrides for the solver Ingress.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub ingress_template: Option<AcmeChallengeSolverHttp01IngressTemplate>,
}

/// HTTP-01 through a Gateway API HTTPRoute.
#[derive(Serialize, Deserialize, Clone, Debug, PartialEq, Default, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct AcmeChallengeSolverHttp01GatewayHttpRoute {
    /// Service type of the solver's Service: `ClusterIP` or `NodePort`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub service_type: Option<String>,
    /// Labels of the HTTPRoute.
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub labels: BTreeMap<String, String>,
    /// Gateways (or listeners) the HTTPRoute attaches to.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub parent_refs: Vec<ParentReference>,
    /// Overrides for the solver Pod.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub pod_template: Option<AcmeChallengeSolverHttp01IngressPodTemplate>,
}

/// A Gateway API `ParentReference` (gateway.networking.k8s.io/v1).
#[derive(Serialize, Deserialize, Clone, Debug, PartialEq, Eq, Default, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct ParentReference {
    /// API group of the parent; `gateway.networking.k8s.io` by default.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(extend("default" = "gateway.networking.k8s.io"))]
    pub group: Option<String>,
    /// Kind of the parent; `Gateway` by default.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(extend("default" = "Gateway"))]
    pub kind: Option<String>,
    /// Namespace of the parent; the route's own by default.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub namespace: Option<String>,
    /// Name of the parent.
    pub name: String,
    /// Listener name within the parent.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub section_name: Option<String>,
    /// Listener port within the parent.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub port: Option<i32>,
}

/// Overrides for the HTTP-01 solver Pod.
#[derive(Serialize, Deserialize, Clone, Debug, PartialEq, Default, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct AcmeChallengeSolverHttp01IngressPodTemplate {
    /// Labels and annotations added to the Pod.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub metadata: Option<AcmeChallengeSolverHttp01ObjectMeta>,
    /// Pod spec fields that may be overridden.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub spec: Option<AcmeChallengeSolverHttp01IngressPodSpec>,
}

/// Labels and annotations of a generated solver object.
#[derive(Serialize, Deserialize, Clone, Debug, PartialEq, Eq, Default, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct AcmeChallengeSolverHttp01ObjectMeta {
    /// Annotations added to the object.
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub annotations: BTreeMap<String, String>,
    /// Labels added to the object.
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub labels: BTreeMap<String, String>,
}

/// Pod spec fields of the HTTP-01 solver that may be overridden.
#[derive(Serialize, Deserialize, Clone, Debug, PartialEq, Default, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct AcmeChallengeSolverHttp01IngressPodSpec {
    /// Node selector of the Pod.
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub node_selector: BTreeMap<String, String>,
    /// Affinity of the Pod.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub affinity: Option<Affinity>,
    /// Tolerations of the Pod.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub tolerations: Vec<Toleration>,
    /// Priority class of the Pod.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub priority_class_name: Option<String>,
    /// Service account of the Pod.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub service_account_name: Option<String>,
    /// Image pull secrets of the Pod.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub image_pull_secrets: Vec<CoreLocalObjectReference>,
    /// Security context of the Pod.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub security_context: Option<AcmeChallengeSolverHttp01IngressPodSecurityContext>,
    /// Compute resources of the solver container.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub resources: Option<AcmeChallengeSolverHttp01IngressPodResources>,
}

/// The subset of a Pod security context the solver Pod accepts.
#[derive(Serialize, Deserialize, Clone, Debug, PartialEq, Default, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct AcmeChallengeSolverHttp01IngressPodSecurityContext {
    /// SELinux context.
    #[serde(
        default,
        rename = "seLinuxOptions",
        skip_serializing_if = "Option::is_none"
    )]
    pub se_linux_options: Option<SELinuxOptions>,
    /// UID of the container process.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub run_as_user: Option<i64>,
    /// GID of the container process.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub run_as_group: Option<i64>,
    /// Require a non-root user.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub run_as_non_root: Option<bool>,
    /// Supplementary groups.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub supplemental_groups: Vec<i64>,
    /// Group owning mounted volumes.
    #[serde(default, rename = "fsGroup", skip_serializing_if = "Option::is_none")]
    pub fs_group: Option<i64>,
    /// Sysctls of the Pod.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub sysctls: Vec<Sysctl>,
    /// How volume ownership is changed.
    #[serde(
        default,
        rename = "fsGroupChangePolicy",
        skip_serializing_if = "Option::is_none"
    )]
    pub fs_group_change_policy: Option<String>,
    /// Seccomp profile.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub seccomp_profile: Option<SeccompProfile>,
}

/// Compute resources of the solver container.
#[derive(Serialize, Deserialize, Clone, Debug, PartialEq, Default, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct AcmeChallengeSolverHttp01IngressPodResources {
    /// Maximum resources.
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub limits: BTreeMap<String, Quantity>,
    /// Requested resources.
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub requests: BTreeMap<String, Quantity>,
}

/// Overrides for the solver Ingress.
#[derive(Serialize, Deserialize, Clone, Debug, PartialEq, Eq, Default, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct AcmeChallengeSolverHttp01IngressTemplate {
    /// Labels and annotations added to the Ingress.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub metadata: Option<AcmeChallengeSolverHttp01ObjectMeta>,
}

/// DNS-01 solver: one DNS provider plus how to find the zone.
#[derive(Serialize, Deserialize, Clone, Debug, PartialEq, Default, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct AcmeChallengeSolverDns01 {
    /// Follow CNAMEs of `_acme-challenge` records (`Follow`) or not (`None`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub cname_strategy: Option<CnameStrategy>,
    /// Nameservers for the propagation check (`host:port` or DoH URLs).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub nameservers: Vec<String>,
    /// Akamai Edge DNS.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub akamai: Option<AcmeIssuerDns01ProviderAkamai>,
    /// Google Cloud DNS.
    #[serde(default, rename = "cloudDNS", skip_serializing_if = "Option::is_none")]
    pub cloud_dns: Option<AcmeIssuerDns01ProviderCloudDns>,
    /// Cloudflare.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub cloudflare: Option<AcmeIssuerDns01ProviderCloudflare>,
    /// AWS Route 53.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub route53: Option<AcmeIssuerDns01ProviderRoute53>,
    /// Azure DNS.
    #[serde(default, rename = "azureDNS", skip_serializing_if = "Option::is_none")]
    pub azure_dns: Option<AcmeIssuerDns01ProviderAzureDns>,
    /// DigitalOcean.
    #[serde(
        default,
        rename = "digitalocean",
        skip_serializing_if = "Option::is_none"
    )]
    pub digital_ocean: Option<AcmeIssuerDns01ProviderDigitalOcean>,
    /// acme-dns.
    #[serde(default, rename = "acmeDNS", skip_serializing_if = "Option::is_none")]
    pub acme_dns: Option<AcmeIssuerDns01ProviderAcmeDns>,
    /// RFC 2136 dynamic updates (BIND, Knot, PowerDNS).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub rfc2136: Option<AcmeIssuerDns01ProviderRfc2136>,
    /// An external webhook solver.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub webhook: Option<AcmeIssuerDns01ProviderWebhook>,
}

/// Whether CNAMEs of the challenge record are followed.
#[derive(Serialize, Deserialize, Clone, Copy, Debug, PartialEq, Eq, Hash, JsonSchema)]
pub enum CnameStrategy {
    /// Write the record where it is asked for.
    None,
    /// Follow CNAMEs and write the record at their target.
    Follow,
}

/// Akamai Edge DNS credentials.
#[derive(Serialize, Deserialize, Clone, Debug, PartialEq, Eq, Default, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct AcmeIssuerDns01ProviderAkamai {
    /// Service consumer domain.
    pub service_consumer_domain: String,
    /// Client token.
    pub client_token_secret_ref: SecretKeySelector,
    /// Client secret.
    pub client_secret_secret_ref: SecretKeySelector,
    /// Access token.
    pub access_token_secret_ref: SecretKeySelector,
}

/// Google Cloud DNS settings.
#[derive(Serialize, Deserialize, Clone, Debug, PartialEq, Eq, Default, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct AcmeIssuerDns01ProviderCloudDns {
    /// Service account key; ambient credentials when unset.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub service_account_secret_ref: Option<SecretKeySelector>,
    /// Google Cloud project.
    pub project: String,
    /// Managed zone name, to skip the zone lookup.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub hosted_zone_name: Option<String>,
}

/// Cloudflare credentials.
#[derive(Serialize, Deserialize, Clone, Debug, PartialEq, Eq, Default, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct AcmeIssuerDns01ProviderCloudflare {
    /// Account email, required with an API key.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub email: Option<String>,
    /// Global API key.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub api_key_secret_ref: Option<SecretKeySelector>,
    /// Scoped API token.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub api_token_secret_ref: Option<SecretKeySelector>,
}

/// DigitalOcean credentials.
#[derive(Serialize, Deserialize, Clone, Debug, PartialEq, Eq, Default, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct AcmeIssuerDns01ProviderDigitalOcean {
    /// API token.
    pub token_secret_ref: SecretKeySelector,
}

/// AWS Route 53 settings.
#[derive(Serialize, Deserialize, Clone, Debug, PartialEq, Eq, Default, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct AcmeIssuerDns01ProviderRoute53 {
    /// Authenticate with a Kubernetes service account token (IRSA).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub auth: Option<Route53Auth>,
    /// Access key ID, literally.
    #[serde(
        default,
        rename = "accessKeyID",
        skip_serializing_if = "Option::is_none"
    )]
    pub access_key_id: Option<String>,
    /// Access key ID, from a Secret.
    #[serde(
        default,
        rename = "accessKeyIDSecretRef",
        skip_serializing_if = "Option::is_none"
    )]
    pub access_key_id_secret_ref: Option<SecretKeySelector>,
    /// Secret access key, from a Secret.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub secret_access_key_secret_ref: Option<SecretKeySelector>,
    /// Role to assume.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub role: Option<String>,
    /// Hosted zone, to skip the zone lookup.
    #[serde(
        default,
        rename = "hostedZoneID",
        skip_serializing_if = "Option::is_none"
    )]
    pub hosted_zone_id: Option<String>,
    /// AWS region.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub region: Option<String>,
}

/// Route 53 authentication through Kubernetes.
#[derive(Serialize, Deserialize, Clone, Debug, PartialEq, Eq, Default, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct Route53Auth {
    /// Service account token authentication.
    pub kubernetes: Route53KubernetesAuth,
}

/// Route 53 service account token authentication.
#[derive(Serialize, Deserialize, Clone, Debug, PartialEq, Eq, Default, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct Route53KubernetesAuth {
    /// Service account whose token is exchanged.
    pub service_account_ref: ServiceAccountRef,
}

/// A service account whose token is requested, with its audiences.
#[derive(Serialize, Deserialize, Clone, Debug, PartialEq, Eq, Default, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct ServiceAccountRef {
    /// Name of the service account.
    pub name: String,
    /// Audiences of the token; a default audience is added.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub audiences: Vec<String>,
}

/// Azure DNS settings.
#[derive(Serialize, Deserialize, Clone, Debug, PartialEq, Eq, Default, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct AcmeIssuerDns01ProviderAzureDns {
    /// Service principal client ID.
    #[serde(default, rename = "clientID", skip_serializing_if = "Option::is_none")]
    pub client_id: Option<String>,
    /// Service principal secret.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub client_secret_secret_ref: Option<SecretKeySelector>,
    /// Subscription ID.
    #[serde(rename = "subscriptionID")]
    pub subscription_id: String,
    /// Tenant ID.
    #[serde(default, rename = "tenantID", skip_serializing_if = "Option::is_none")]
    pub tenant_id: Option<String>,
    /// Resource group of the zone.
    pub resource_group_name: String,
    /// Zone name.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub hosted_zone_name: Option<String>,
    /// Azure cloud.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub environment: Option<AzureDnsEnvironment>,
    /// Managed identity to use instead of a service principal.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub managed_identity: Option<AzureManagedIdentity>,
    /// Public or private zone.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub zone_type: Option<AzureZoneType>,
}

/// Azure DNS zone type.
#[derive(Serialize, Deserialize, Clone, Copy, Debug, PartialEq, Eq, Hash, JsonSchema)]
pub enum AzureZoneType {
    /// A public zone.
    AzurePublicZone,
    /// A private zone.
    AzurePrivateZone,
}

/// Azure cloud environment.
#[derive(Serialize, Deserialize, Clone, Copy, Debug, PartialEq, Eq, Hash, JsonSchema)]
pub enum AzureDnsEnvironment {
    /// Azure public cloud.
    AzurePublicCloud,
    /// Azure China.
    AzureChinaCloud,
    /// Azure Germany.
    AzureGermanCloud,
    /// Azure US Government.
    AzureUSGovernmentCloud,
}

/// Azure managed identity.
#[derive(Serialize, Deserialize, Clone, Debug, PartialEq, Eq, Default, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct AzureManagedIdentity {
    /// Client ID of the identity.
    #[serde(default, rename = "clientID", skip_serializing_if = "Option::is_none")]
    pub client_id: Option<String>,
    /// Resource ID of the identity.
    #[serde(
        default,
        rename = "resourceID",
        skip_serializing_if = "Option::is_none"
    )]
    pub resource_id: Option<String>,
    /// Tenant ID of the identity.
    #[serde(default, rename = "tenantID", skip_serializing_if = "Option::is_none")]
    pub tenant_id: Option<String>,
}

/// acme-dns settings.
#[derive(Serialize, Deserialize, Clone, Debug, PartialEq, Eq, Default, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct AcmeIssuerDns01ProviderAcmeDns {
    /// acme-dns server URL.
    pub host: String,
    /// Secret with the account JSON.
    pub account_secret_ref: SecretKeySelector,
}

/// RFC 2136 dynamic update settings.
#[derive(Serialize, Deserialize, Clone, Debug, PartialEq, Eq, Default, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct AcmeIssuerDns01ProviderRfc2136 {
    /// Authoritative server, `host[:port]` (port 53 by default).
    pub nameserver: String,
    /// Secret entry holding the base64 TSIG key.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub tsig_secret_secret_ref: Option<SecretKeySelector>,
    /// TSIG key name.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub tsig_key_name: Option<String>,
    /// TSIG algorithm: HMACMD5 (default), HMACSHA1, HMACSHA256, HMACSHA512.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub tsig_algorithm: Option<String>,
    /// Transport of the update: `UDP` (default) or `TCP`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub protocol: Option<Rfc2136UpdateProtocol>,
}

/// Transport of an RFC 2136 update.
#[derive(Serialize, Deserialize, Clone, Copy, Debug, PartialEq, Eq, Hash, JsonSchema)]
pub enum Rfc2136UpdateProtocol {
    /// TCP.
    #[serde(rename = "TCP")]
    Tcp,
    /// UDP.
    #[serde(rename = "UDP")]
    Udp,
}

/// An external DNS-01 webhook solver.
#[derive(Serialize, Deserialize, Clone, Debug, PartialEq, Default, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct AcmeIssuerDns01ProviderWebhook {
    /// API group of the webhook's API service.
    pub group_name: String,
    /// Name of the solver within the webhook.
    pub solver_name: String,
    /// Solver-specific configuration, passed through untouched.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(schema_with = "preserve_unknown_fields")]
    pub config: Option<serde_json::Value>,
}

/// ACME state of an issuer's account.
#[derive(Serialize, Deserialize, Clone, Debug, PartialEq, Eq, Default, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct AcmeIssuerStatus {
    /// URL of the registered ACME account.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub uri: Option<String>,
    /// Email the account was last registered with.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub last_registered_email: Option<String>,
    /// Hash of the account key the account was registered with.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub last_private_key_hash: Option<String>,
}
