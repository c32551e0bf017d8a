//! `cert-manager.io/v1` Certificate: the desired X.509 certificate and the
//! Secret it is kept in. Field for field cert-manager's
//! `pkg/apis/certmanager/v1/types_certificate.go`, so operators' manifests
//! apply unchanged and `kubectl get certificates` shows the same columns.

use std::collections::BTreeMap;

use k8s_openapi::apimachinery::pkg::apis::meta::v1::Time;
use kube::CustomResource;
use schemars::{JsonSchema, Schema, SchemaGenerator};
use serde::{Deserialize, Serialize};

pub use crate::pki::{KeyEncoding, KeyUsage};

use super::shared::{
    Condition, ConditionSchema, ConditionStatus, IssuerReference, SecretKeySelector,
    condition_list, is_false,
};

/// A Certificate asks for an up to date, signed X.509 certificate to be kept
/// in the Secret named by `secretName`, renewed before it expires.
#[derive(CustomResource, Serialize, Deserialize, Clone, Debug, PartialEq, JsonSchema)]
#[kube(
    group = "cert-manager.io",
    version = "v1",
    kind = "Certificate",
    plural = "certificates",
    singular = "certificate",
    namespaced,
    status = "CertificateStatus",
    shortname = "cert",
    shortname = "certs",
    category = "cert-manager",
    derive = "PartialEq",
    selectable = ".spec.issuerRef.group",
    selectable = ".spec.issuerRef.kind",
    selectable = ".spec.issuerRef.name",
    doc = "A Certificate resource should be created to ensure an up to date and signed X.509 certificate is stored in the Kubernetes Secret resource named in `spec.secretName`. The stored certificate will be renewed before it expires (as configured by `spec.renewBefore`).",
    printcolumn = r#"{"name":"Ready","type":"string","jsonPath":".status.conditions[?(@.type == \"Ready\")].status"}"#,
    printcolumn = r#"{"name":"Secret","type":"string","jsonPath":".spec.secretName"}"#,
    printcolumn = r#"{"name":"Issuer","type":"string","jsonPath":".spec.issuerRef.name","priority":1}"#,
    printcolumn = r#"{"name":"Status","type":"string","jsonPath":".status.conditions[?(@.type == \"Ready\")].message","priority":1}"#,
    printcolumn = r#"{"name":"Expiration","type":"string","jsonPath":".status.notAfter","priority":1}"#,
    printcolumn = r#"{"name":"Age","type":"date","jsonPath":".metadata.creationTimestamp","description":"CreationTimestamp is a timestamp representing the server time when this object was created. It is not guaranteed to be set in happens-before order across separate operations. Clients may not set this value. It is represented in RFC3339 form and is in UTC."}"#
)]
#[serde(rename_all = "camelCase")]
pub struct CertificateSpec {
    /// Requested set of X509 certificate subject attributes.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub subject: Option<X509Subject>,
    /// Requested X.509 certificate subject, given as an RFC 4514 string
    /// (e.g. `CN=foo,O=bar`). Takes precedence over `subject` and
    /// `commonName`, which must then be unset.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub literal_subject: Option<String>,
    /// Requested common name X509 certificate subject attribute. At most 64
    /// characters; prefer `dnsNames`, since clients ignore the common name.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub common_name: Option<String>,
    /// Requested 'duration' (i.e. lifetime) of the Certificate, a Go
    /// duration such as `2160h`. Defaults to 90 days; minimum 1h.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub duration: Option<String>,
    /// How long before the currently issued certificate's expiry cert-manager
    /// should renew it. Minimum 5m; mutually exclusive with
    /// `renewBeforePercentage`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub renew_before: Option<String>,
    /// `renewBefore` as a percentage of the certificate's lifetime, in
    /// (0, 100).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub renew_before_percentage: Option<i32>,
    /// Renewal policy and maintenance windows (cert-manager's newest API;
    /// kept so that manifests using it round-trip).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub renewal: Option<CertificateRenewal>,
    /// Requested DNS subject alternative names.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub dns_names: Vec<String>,
    /// Requested IP address subject alternative names.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub ip_addresses: Vec<String>,
    /// Requested URI subject alternative names.
    #[serde(default, rename = "uris", skip_serializing_if = "Vec::is_empty")]
    pub uris: Vec<String>,
    /// `otherName` subject alternative names (an OID and a UTF-8 value).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub other_names: Vec<OtherName>,
    /// Requested email subject alternative names.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub email_addresses: Vec<String>,
    /// Name of the Secret resource that will be automatically created and
    /// managed by this Certificate resource.
    pub secret_name: String,
    /// Labels and annotations copied onto the Secret.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub secret_template: Option<CertificateSecretTemplate>,
    /// Additional keystore output formats (JKS, PKCS#12) to store in the Secret.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub keystores: Option<CertificateKeystores>,
    /// Reference to the issuer responsible for issuing the certificate.
    pub issuer_ref: IssuerReference,
    /// Requests a certificate valid for signing other certificates.
    #[serde(default, rename = "isCA", skip_serializing_if = "is_false")]
    pub is_ca: bool,
    /// Requested key usages and extended key usages. Defaults to
    /// `digital signature` and `key encipherment`.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub usages: Vec<KeyUsage>,
    /// Private key options: algorithm, size, encoding and rotation policy.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub private_key: Option<CertificatePrivateKey>,
    /// Signature algorithm to use; derived from the key algorithm when unset.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub signature_algorithm: Option<SignatureAlgorithm>,
    /// Whether key usages should be present in the CertificateRequest.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub encode_usages_in_request: Option<bool>,
    /// How many CertificateRequest revisions are kept. Defaults to 1 when
    /// unset (since cert-manager v1.18); must be at least 1.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub revision_history_limit: Option<i32>,
    /// Extra output formats of the private key and signed certificate chain
    /// written to the Secret.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub additional_output_formats: Vec<CertificateAdditionalOutputFormat>,
    /// X.509 name constraints for a CA certificate.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub name_constraints: Option<NameConstraints>,
}

/// Private key algorithm of a Certificate.
#[derive(Serialize, Deserialize, Clone, Copy, Debug, PartialEq, Eq, Hash, JsonSchema)]
pub enum PrivateKeyAlgorithm {
    /// RSA, 2048 to 8192 bits (default 2048).
    #[serde(rename = "RSA")]
    Rsa,
    /// ECDSA on P-256, P-384 or P-521 (default P-256).
    #[serde(rename = "ECDSA")]
    Ecdsa,
    /// Ed25519; the size is ignored.
    Ed25519,
}

impl PrivateKeyAlgorithm {
    /// The wire spelling, for messages.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Rsa => "RSA",
            Self::Ecdsa => "ECDSA",
            Self::Ed25519 => "Ed25519",
        }
    }
}

/// Whether a new private key is generated on each issuance.
#[derive(Serialize, Deserialize, Clone, Copy, Debug, PartialEq, Eq, Hash, JsonSchema)]
pub enum PrivateKeyRotationPolicy {
    /// Reuse the existing key in the Secret.
    Never,
    /// Generate a new key for every issuance (the default since v1.18).
    Always,
}

/// Signature algorithm of the issued certificate.
#[derive(Serialize, Deserialize, Clone, Copy, Debug, PartialEq, Eq, Hash, JsonSchema)]
pub enum SignatureAlgorithm {
    /// RSA PKCS#1 v1.5 with SHA-256.
    #[serde(rename = "SHA256WithRSA")]
    Sha256WithRsa,
    /// RSA PKCS#1 v1.5 with SHA-384.
    #[serde(rename = "SHA384WithRSA")]
    Sha384WithRsa,
    /// RSA PKCS#1 v1.5 with SHA-512.
    #[serde(rename = "SHA512WithRSA")]
    Sha512WithRsa,
    /// ECDSA with SHA-256.
    #[serde(rename = "ECDSAWithSHA256")]
    EcdsaWithSha256,
    /// ECDSA with SHA-384.
    #[serde(rename = "ECDSAWithSHA384")]
    EcdsaWithSha384,
    /// ECDSA with SHA-512.
    #[serde(rename = "ECDSAWithSHA512")]
    EcdsaWithSha512,
    /// Ed25519.
    PureEd25519,
}

impl SignatureAlgorithm {
    /// The wire spelling, for messages.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Sha256WithRsa => "SHA256WithRSA",
            Self::Sha384WithRsa => "SHA384WithRSA",
            Self::Sha512WithRsa => "SHA512WithRSA",
            Self::EcdsaWithSha256 => "ECDSAWithSHA256",
            Self::EcdsaWithSha384 => "ECDSAWithSHA384",
            Self::EcdsaWithSha512 => "ECDSAWithSHA512",
            Self::PureEd25519 => "PureEd25519",
        }
    }
}

/// Private key options of a Certificate.
#[derive(Serialize, Deserialize, Clone, Debug, PartialEq, Eq, Default, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct CertificatePrivateKey {
    /// `Never` reuses the key in the Secret; `Always` (the default) makes a
    /// new one on each issuance.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub rotation_policy: Option<PrivateKeyRotationPolicy>,
    /// Encoding of the key in the Secret; `PKCS1` by default.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub encoding: Option<KeyEncoding>,
    /// Key algorithm; `RSA` by default.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub algorithm: Option<PrivateKeyAlgorithm>,
    /// Key size in bits (RSA) or curve size (ECDSA: 256, 384, 521).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub size: Option<i32>,
}

/// A subject alternative name of type `otherName`.
#[derive(Serialize, Deserialize, Clone, Debug, PartialEq, Eq, Default, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct OtherName {
    /// The object identifier, in dotted form (e.g. `1.3.6.1.4.1.311.20.2.3`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub oid: Option<String>,
    /// The value, encoded as an ASN.1 UTF8String.
    #[serde(default, rename = "utf8Value", skip_serializing_if = "Option::is_none")]
    pub utf8_value: Option<String>,
}

/// Extra output formats written to the Secret.
#[derive(Serialize, Deserialize, Clone, Copy, Debug, PartialEq, Eq, Hash, JsonSchema)]
pub enum CertificateOutputFormatType {
    /// `key.der`: the private key in DER.
    #[serde(rename = "DER")]
    Der,
    /// `tls-combined.pem`: key and chain in one PEM file.
    #[serde(rename = "CombinedPEM")]
    CombinedPem,
}

impl CertificateOutputFormatType {
    /// The wire spelling, for messages.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Der => "DER",
            Self::CombinedPem => "CombinedPEM",
        }
    }
}

/// One additional output format.
#[derive(Serialize, Deserialize, Clone, Debug, PartialEq, Eq, JsonSchema)]
pub struct CertificateAdditionalOutputFormat {
    /// The format.
    #[serde(rename = "type")]
    pub type_: CertificateOutputFormatType,
}

/// The subject attributes of the certificate other than the common name.
#[derive(Serialize, Deserialize, Clone, Debug, PartialEq, Eq, Default, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct X509Subject {
    /// Organizations (O).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub organizations: Vec<String>,
    /// Countries (C).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub countries: Vec<String>,
    /// Organizational units (OU).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub organizational_units: Vec<String>,
    /// Cities (L).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub localities: Vec<String>,
    /// States or provinces (ST).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub provinces: Vec<String>,
    /// Street addresses.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub street_addresses: Vec<String>,
    /// Postal codes.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub postal_codes: Vec<String>,
    /// Serial number (the subject attribute, not the certificate's).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub serial_number: Option<String>,
}

impl X509Subject {
    /// Whether any attribute is set; cert-manager forbids a subject next to
    /// `literalSubject` only when it has content.
    pub fn is_empty(&self) -> bool {
        self.organizations.is_empty()
            && self.countries.is_empty()
            && self.organizational_units.is_empty()
            && self.localities.is_empty()
            && self.provinces.is_empty()
            && self.street_addresses.is_empty()
            && self.postal_codes.is_empty()
            && self.serial_number.as_deref().is_none_or(str::is_empty)
    }
}

/// Keystores written next to the PEM files.
#[derive(Serialize, Deserialize, Clone, Debug, PartialEq, Eq, Default, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct CertificateKeystores {
    /// A JKS keystore (`keystore.jks`, `truststore.jks`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub jks: Option<JksKeystore>,
    /// A PKCS#12 keystore (`keystore.p12`, `truststore.p12`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub pkcs12: Option<Pkcs12Keystore>,
}

/// JKS keystore options.
#[derive(Serialize, Deserialize, Clone, Debug, PartialEq, Eq, Default, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct JksKeystore {
    /// Whether the keystore is written.
    pub create: bool,
    /// Alias of the key entry; `certificate` by default.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub alias: Option<String>,
    /// Secret entry holding the keystore password; exclusive with `password`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub password_secret_ref: Option<SecretKeySelector>,
    /// Literal keystore password; exclusive with `passwordSecretRef`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub password: Option<String>,
}

/// PKCS#12 keystore options.
#[derive(Serialize, Deserialize, Clone, Debug, PartialEq, Eq, Default, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct Pkcs12Keystore {
    /// Whether the keystore is written.
    pub create: bool,
    /// Encryption profile; `LegacyRC2` by default.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub profile: Option<Pkcs12Profile>,
    /// Secret entry holding the keystore password; exclusive with `password`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub password_secret_ref: Option<SecretKeySelector>,
    /// Literal keystore password; exclusive with `passwordSecretRef`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub password: Option<String>,
}

/// PKCS#12 encryption profile.
#[derive(Serialize, Deserialize, Clone, Copy, Debug, PartialEq, Eq, Hash, JsonSchema)]
pub enum Pkcs12Profile {
    /// RC2, readable by old Java and Windows (the default).
    #[serde(rename = "LegacyRC2")]
    LegacyRc2,
    /// 3DES.
    #[serde(rename = "LegacyDES")]
    LegacyDes,
    /// AES-256-CBC with PBKDF2 (OpenSSL 3 default).
    Modern2023,
    /// The 2026 modern profile of cert-manager's newest releases.
    Modern2026,
}

impl From<Pkcs12Profile> for crate::pki::keystore::pkcs12::Pkcs12Profile {
    fn from(profile: Pkcs12Profile) -> Self {
        match profile {
            Pkcs12Profile::LegacyRc2 => Self::LegacyRc2,
            Pkcs12Profile::LegacyDes => Self::LegacyDes,
            Pkcs12Profile::Modern2023 => Self::Modern2023,
            Pkcs12Profile::Modern2026 => Self::Modern2026,
        }
    }
}

/// Renewal policy of a Certificate (cert-manager's newest API).
#[derive(Serialize, Deserialize, Clone, Debug, PartialEq, Eq, Default, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct CertificateRenewal {
    /// `RenewBefore` or `Disabled`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub policy: Option<CertificateRenewalPolicy>,
    /// Maintenance windows during which renewal may happen.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub windows: Vec<CertificateRenewalWindow>,
}

/// Renewal policy values.
#[derive(Serialize, Deserialize, Clone, Copy, Debug, PartialEq, Eq, Hash, JsonSchema)]
pub enum CertificateRenewalPolicy {
    /// Renew according to `renewBefore` / `renewBeforePercentage`.
    RenewBefore,
    /// Never renew automatically.
    Disabled,
}

/// A maintenance window for renewal.
#[derive(Serialize, Deserialize, Clone, Debug, PartialEq, Eq, Default, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct CertificateRenewalWindow {
    /// IANA time zone of `cron`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub timezone: Option<String>,
    /// Length of the window, a Go duration.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub window_duration: Option<String>,
    /// Start of each window, a cron expression.
    pub cron: String,
}

/// Status of a Certificate, written by the controllers.
#[derive(Serialize, Deserialize, Clone, Debug, PartialEq, Default, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct CertificateStatus {
    /// `Ready` and `Issuing` conditions.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    #[schemars(schema_with = "certificate_conditions")]
    pub conditions: Vec<Condition>,
    /// When the last issuance failed; drives the retry back-off.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub last_failure_time: Option<Time>,
    /// Start of the stored certificate's validity.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub not_before: Option<Time>,
    /// Expiry of the stored certificate.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub not_after: Option<Time>,
    /// When the certificate will next be renewed.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub renewal_time: Option<Time>,
    /// Revision of the last issuance; CertificateRequests are named after it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub revision: Option<i32>,
    /// Secret holding the private key for the next issuance.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub next_private_key_secret_name: Option<String>,
    /// Consecutive failed issuances, for the exponential back-off.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub failed_issuance_attempts: Option<i32>,
    /// ACME renewal information (ARI) state.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub acme: Option<CertificateAcmeStatus>,
}

/// The schema of Certificate conditions.
fn certificate_conditions(generator: &mut SchemaGenerator) -> Schema {
    condition_list(
        generator,
        &ConditionSchema {
            item: "A condition of a Certificate (`Ready`, `Issuing`).",
            type_: "Type of the condition, known as `Ready` and `Issuing`.",
            observed_generation: true,
        },
    )
}

/// Condition type: the certificate in the Secret is up to date.
pub const CERTIFICATE_CONDITION_READY: &str = "Ready";
/// Condition type: a new certificate is being issued.
pub const CERTIFICATE_CONDITION_ISSUING: &str = "Issuing";

/// Labels and annotations put on the Secret.
#[derive(Serialize, Deserialize, Clone, Debug, PartialEq, Eq, Default, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct CertificateSecretTemplate {
    /// Annotations added to the Secret.
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub annotations: BTreeMap<String, String>,
    /// Labels added to the Secret.
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub labels: BTreeMap<String, String>,
}

/// X.509 name constraints of a CA certificate.
#[derive(Serialize, Deserialize, Clone, Debug, PartialEq, Eq, Default, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct NameConstraints {
    /// Whether the extension is marked critical.
    #[serde(default, skip_serializing_if = "is_false")]
    pub critical: bool,
    /// Names the CA may sign for.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub permitted: Option<NameConstraintItem>,
    /// Names the CA may not sign for.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub excluded: Option<NameConstraintItem>,
}

/// One side (permitted or excluded) of name constraints.
#[derive(Serialize, Deserialize, Clone, Debug, PartialEq, Eq, Default, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct NameConstraintItem {
    /// DNS domains.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub dns_domains: Vec<String>,
    /// IP ranges in CIDR notation.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub ip_ranges: Vec<String>,
    /// Email addresses.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub email_addresses: Vec<String>,
    /// URI domains.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub uri_domains: Vec<String>,
}

/// ACME-specific status of a Certificate.
#[derive(Serialize, Deserialize, Clone, Debug, PartialEq, Default, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct CertificateAcmeStatus {
    /// ACME renewal information (RFC 9773) for the current certificate.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub ari: Option<CertificateAcmeAriStatus>,
}

/// ACME renewal information state.
#[derive(Serialize, Deserialize, Clone, Debug, PartialEq, Default, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct CertificateAcmeAriStatus {
    /// The renewal window the ACME server suggested.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub suggested_window: Option<AcmeRenewalWindow>,
    /// The server's explanation of the window.
    #[serde(
        default,
        rename = "explanationURL",
        skip_serializing_if = "Option::is_none"
    )]
    pub explanation_url: Option<String>,
    /// When the renewal information was last fetched.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub last_checked: Option<Time>,
    /// When it will be fetched again.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub next_check: Option<Time>,
    /// The last error fetching it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub last_error: Option<String>,
}

/// A renewal window suggested by an ACME server.
#[derive(Serialize, Deserialize, Clone, Debug, PartialEq, JsonSchema)]
pub struct AcmeRenewalWindow {
    /// Start of the window.
    pub start: Time,
    /// End of the window.
    pub end: Time,
}

impl Certificate {
    /// The condition of the given type, if the controllers have set it.
    pub fn condition(&self, type_: &str) -> Option<&Condition> {
        self.status
            .as_ref()
            .and_then(|status| status.conditions.iter().find(|c| c.type_ == type_))
    }

    /// Whether `Ready` is `True`, what `kubectl get` shows in READY.
    pub fn is_ready(&self) -> bool {
        self.condition(CERTIFICATE_CONDITION_READY)
            .is_some_and(|c| c.status == ConditionStatus::True)
    }
}
