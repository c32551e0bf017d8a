//! Defaults, as cert-manager applies them. cert-manager has three kinds, and
//! they differ in what is *written* to the object:
//!
//! 1. **Written at admission.** cert-manager's only mutating webhook sets a
//!    CertificateRequest's requester identity (`username`, `uid`, `groups`,
//!    `extra`) on create: [`set_certificate_request_identity`]. The API
//!    server also writes the CRD schema's `default`s (Gateway API parent
//!    references): [`set_issuer_schema_defaults`].
//! 2. **Applied in memory, never written.** The webhook and controllers
//!    decode objects through a scheme whose defaulters set
//!    `issuerRef.kind: Issuer`, `issuerRef.group: cert-manager.io`, and
//!    `privateKey.rotationPolicy: Always`; `kubectl get -o yaml` never shows
//!    them: [`set_certificate_defaults`], [`set_certificate_request_defaults`].
//! 3. **Assumed by controllers.** Unset fields read as a value: duration 90
//!    days, revisionHistoryLimit 1 (since v1.18), an RSA 2048 key in PKCS#1,
//!    usages `digital signature` + `key encipherment`: the `effective_*`
//!    functions.
//!
//! Keeping the three apart is what lets `kubectl get -o yaml` of a certwasm
//! object look exactly like cert-manager's.

use std::collections::BTreeMap;
use std::time::Duration;

use super::certificate::{
    Certificate, CertificatePrivateKey, CertificateSpec, KeyEncoding, KeyUsage,
    PrivateKeyAlgorithm, PrivateKeyRotationPolicy,
};
use super::certificate_request::{CertificateRequest, CertificateRequestSpec};
use super::issuer::IssuerSpec;
use super::shared::{CLUSTER_ISSUER_KIND, GROUP, ISSUER_KIND, IssuerReference};
use super::validation::DEFAULT_CERTIFICATE_DURATION;
use crate::go_duration;

/// Default RSA key size.
pub const DEFAULT_RSA_KEY_SIZE: i32 = 2048;
/// Default ECDSA curve size (P-256).
pub const DEFAULT_ECDSA_KEY_SIZE: i32 = 256;
/// Revisions of CertificateRequests kept when `revisionHistoryLimit` is
/// unset (cert-manager v1.18 and later; unlimited before).
pub const DEFAULT_REVISION_HISTORY_LIMIT: i32 = 1;
/// Group a Gateway API parent reference defaults to in the CRD schema.
pub const DEFAULT_PARENT_REF_GROUP: &str = "gateway.networking.k8s.io";
/// Kind a Gateway API parent reference defaults to in the CRD schema.
pub const DEFAULT_PARENT_REF_KIND: &str = "Gateway";

/// The identity of the user making an API request, as the API server's
/// authenticator reports it.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct UserInfo {
    /// User name, e.g. `system:serviceaccount:cert-manager:cert-manager`.
    pub username: String,
    /// Unique ID of the user.
    pub uid: String,
    /// Groups the user belongs to.
    pub groups: Vec<String>,
    /// Extra attributes from the authenticator.
    pub extra: BTreeMap<String, Vec<String>>,
}

/// Sets the requester of a CertificateRequest on create, overwriting what
/// the client sent, as cert-manager's identity webhook does: approvers and
/// issuers trust these fields, so a client must not be able to forge them.
pub fn set_certificate_request_identity(request: &mut CertificateRequest, user: &UserInfo) {
    request.spec.uid = Some(user.uid.clone());
    request.spec.username = Some(user.username.clone());
    request.spec.groups = user.groups.clone();
    request.spec.extra = user.extra.clone();
}

/// Writes the defaults the CRD schema declares for an Issuer or
/// ClusterIssuer spec, as the API server does on create and update: a
/// Gateway API parent reference is a `Gateway` of `gateway.networking.k8s.io`
/// unless it says otherwise.
pub fn set_issuer_schema_defaults(spec: &mut IssuerSpec) {
    let Some(acme) = spec.acme.as_mut() else {
        return;
    };
    for solver in &mut acme.solvers {
        let Some(route) = solver
            .http01
            .as_mut()
            .and_then(|h| h.gateway_http_route.as_mut())
        else {
            continue;
        };
        for parent in &mut route.parent_refs {
            parent
                .group
                .get_or_insert_with(|| DEFAULT_PARENT_REF_GROUP.to_owned());
            parent
                .kind
                .get_or_insert_with(|| DEFAULT_PARENT_REF_KIND.to_owned());
        }
    }
}

/// Kind `Issuer` and group `cert-manager.io` where unset. A kind that is
/// not one of cert-manager's keeps its empty group: such a reference is
/// refused, and the refusal's hint ("did you forget to set
/// spec.issuerRef.kind.group?") depends on seeing the group unset.
fn set_issuer_ref_defaults(issuer_ref: &mut IssuerReference) {
    if issuer_ref.kind.as_deref().is_none_or(str::is_empty) {
        issuer_ref.kind = Some(ISSUER_KIND.to_owned());
    }
    let cert_manager_kind = matches!(
        issuer_ref.kind.as_deref(),
        Some(ISSUER_KIND | CLUSTER_ISSUER_KIND)
    );
    if cert_manager_kind && issuer_ref.group.as_deref().is_none_or(str::is_empty) {
        issuer_ref.group = Some(GROUP.to_owned());
    }
}

/// cert-manager's in-memory defaulting of a Certificate
/// (`SetObjectDefaults_Certificate` + `SetRuntimeDefaults_Certificate`):
/// issuerRef kind and group, and `privateKey.rotationPolicy: Always`.
/// For normalising before comparison; do not persist the result.
pub fn set_certificate_defaults(certificate: &mut Certificate) {
    set_issuer_ref_defaults(&mut certificate.spec.issuer_ref);
    let private_key = certificate
        .spec
        .private_key
        .get_or_insert_with(CertificatePrivateKey::default);
    private_key
        .rotation_policy
        .get_or_insert(PrivateKeyRotationPolicy::Always);
}

/// cert-manager's in-memory defaulting of a CertificateRequest: issuerRef
/// kind and group. For normalising before comparison; do not persist.
pub fn set_certificate_request_defaults(request: &mut CertificateRequest) {
    set_issuer_ref_defaults(&mut request.spec.issuer_ref);
}

/// The lifetime a Certificate asks for: `spec.duration`, or 90 days when it
/// is unset (or unparsable, which validation refuses at admission).
pub fn effective_duration(spec: &CertificateSpec) -> Duration {
    parse_or_default(spec.duration.as_deref())
}

/// The lifetime a CertificateRequest asks for, defaulted as
/// [`effective_duration`].
pub fn effective_request_duration(spec: &CertificateRequestSpec) -> Duration {
    parse_or_default(spec.duration.as_deref())
}

fn parse_or_default(text: Option<&str>) -> Duration {
    text.and_then(|t| go_duration::parse(t).ok())
        .filter(|d| !d.is_zero())
        .unwrap_or(DEFAULT_CERTIFICATE_DURATION)
}

/// How many CertificateRequest revisions to keep.
pub fn effective_revision_history_limit(spec: &CertificateSpec) -> i32 {
    spec.revision_history_limit
        .unwrap_or(DEFAULT_REVISION_HISTORY_LIMIT)
}

/// The usages to request: `spec.usages`, or cert-manager's defaults.
pub fn effective_usages(usages: &[KeyUsage]) -> Vec<KeyUsage> {
    if usages.is_empty() {
        KeyUsage::DEFAULTS.to_vec()
    } else {
        usages.to_vec()
    }
}

/// A Certificate's private key options with every default filled in.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct EffectivePrivateKey {
    /// Key algorithm (RSA by default).
    pub algorithm: PrivateKeyAlgorithm,
    /// Key size in bits or curve size; 0 for Ed25519, which has none.
    pub size: i32,
    /// Encoding of `tls.key` (PKCS#1 by default).
    pub encoding: KeyEncoding,
    /// Whether each issuance makes a new key (Always by default).
    pub rotation_policy: PrivateKeyRotationPolicy,
}

/// The private key a Certificate asks for, defaults applied: RSA 2048 (or
/// ECDSA P-256), PKCS#1, rotation `Always`.
pub fn effective_private_key(spec: &CertificateSpec) -> EffectivePrivateKey {
    let key = spec.private_key.clone().unwrap_or_default();
    let algorithm = key.algorithm.unwrap_or(PrivateKeyAlgorithm::Rsa);
    let requested = key.size.filter(|s| *s > 0);
    let size = match algorithm {
        PrivateKeyAlgorithm::Rsa => requested.unwrap_or(DEFAULT_RSA_KEY_SIZE),
        PrivateKeyAlgorithm::Ecdsa => requested.unwrap_or(DEFAULT_ECDSA_KEY_SIZE),
        PrivateKeyAlgorithm::Ed25519 => 0,
    };
    EffectivePrivateKey {
        algorithm,
        size,
        encoding: key.encoding.unwrap_or(KeyEncoding::Pkcs1),
        rotation_policy: key
            .rotation_policy
            .unwrap_or(PrivateKeyRotationPolicy::Always),
    }
}

/// Whether the issuer reference names a cluster-scoped issuer; a shorthand
/// for controllers choosing where to look the issuer up.
pub fn references_cluster_issuer(issuer_ref: &IssuerReference) -> bool {
    issuer_ref.effective_group() == GROUP && issuer_ref.effective_kind() == CLUSTER_ISSUER_KIND
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::api::acme::{
        AcmeChallengeSolver, AcmeChallengeSolverHttp01, AcmeChallengeSolverHttp01GatewayHttpRoute,
        AcmeIssuer, ParentReference,
    };
    use crate::api::certificate_request::CertificateRequestSpec;
    use crate::api::shared::Base64Bytes;

    fn certificate(spec: CertificateSpec) -> Certificate {
        Certificate::new("web", spec)
    }

    fn minimal_spec() -> CertificateSpec {
        serde_json::from_value(serde_json::json!({
            "secretName": "web-tls",
            "dnsNames": ["example.com"],
            "issuerRef": {"name": "ca"}
        }))
        .expect("minimal spec")
    }

    #[test]
    fn certificate_defaults_fill_issuer_ref_and_rotation_policy() {
        let mut cert = certificate(minimal_spec());
        set_certificate_defaults(&mut cert);
        assert_eq!(cert.spec.issuer_ref.kind.as_deref(), Some("Issuer"));
        assert_eq!(
            cert.spec.issuer_ref.group.as_deref(),
            Some("cert-manager.io")
        );
        let key = cert.spec.private_key.expect("private key defaulted");
        assert_eq!(key.rotation_policy, Some(PrivateKeyRotationPolicy::Always));
        assert_eq!(
            key.algorithm, None,
            "algorithm is not written, only assumed"
        );
    }

    #[test]
    fn certificate_defaults_keep_explicit_values() {
        let mut spec = minimal_spec();
        spec.issuer_ref.kind = Some("ClusterIssuer".into());
        spec.issuer_ref.group = Some("example.com".into());
        spec.private_key = Some(CertificatePrivateKey {
            rotation_policy: Some(PrivateKeyRotationPolicy::Never),
            ..Default::default()
        });
        let mut cert = certificate(spec);
        set_certificate_defaults(&mut cert);
        assert_eq!(cert.spec.issuer_ref.kind.as_deref(), Some("ClusterIssuer"));
        assert_eq!(cert.spec.issuer_ref.group.as_deref(), Some("example.com"));
        assert_eq!(
            cert.spec.private_key.and_then(|k| k.rotation_policy),
            Some(PrivateKeyRotationPolicy::Never)
        );
    }

    #[test]
    fn effective_values_match_cert_manager() {
        let spec = minimal_spec();
        assert_eq!(effective_duration(&spec), Duration::from_secs(2160 * 3600));
        assert_eq!(effective_revision_history_limit(&spec), 1);
        assert_eq!(
            effective_usages(&spec.usages),
            vec![KeyUsage::DigitalSignature, KeyUsage::KeyEncipherment]
        );
        assert_eq!(
            effective_private_key(&spec),
            EffectivePrivateKey {
                algorithm: PrivateKeyAlgorithm::Rsa,
                size: 2048,
                encoding: KeyEncoding::Pkcs1,
                rotation_policy: PrivateKeyRotationPolicy::Always,
            }
        );
        let mut ecdsa = spec.clone();
        ecdsa.private_key = Some(CertificatePrivateKey {
            algorithm: Some(PrivateKeyAlgorithm::Ecdsa),
            ..Default::default()
        });
        assert_eq!(effective_private_key(&ecdsa).size, 256);
        let mut ed = spec.clone();
        ed.private_key = Some(CertificatePrivateKey {
            algorithm: Some(PrivateKeyAlgorithm::Ed25519),
            size: Some(4096),
            ..Default::default()
        });
        assert_eq!(effective_private_key(&ed).size, 0);
        let mut explicit = spec;
        explicit.duration = Some("1h30m".into());
        explicit.revision_history_limit = Some(5);
        assert_eq!(effective_duration(&explicit), Duration::from_secs(5400));
        assert_eq!(effective_revision_history_limit(&explicit), 5);
    }

    #[test]
    fn identity_is_overwritten_on_create() {
        let spec = CertificateRequestSpec {
            duration: None,
            issuer_ref: IssuerReference {
                name: "ca".into(),
                kind: None,
                group: None,
            },
            request: Base64Bytes(b"csr".to_vec()),
            is_ca: false,
            usages: Vec::new(),
            username: Some("forged".into()),
            uid: Some("forged".into()),
            groups: vec!["system:masters".into()],
            extra: BTreeMap::from([("x".to_owned(), vec!["y".to_owned()])]),
        };
        let mut request = CertificateRequest::new("web-1", spec);
        let user = UserInfo {
            username: "system:serviceaccount:certwasm:certwasm".into(),
            uid: "1234".into(),
            groups: vec!["system:serviceaccounts".into()],
            extra: BTreeMap::new(),
        };
        set_certificate_request_identity(&mut request, &user);
        assert_eq!(
            request.spec.username.as_deref(),
            Some("system:serviceaccount:certwasm:certwasm")
        );
        assert_eq!(request.spec.uid.as_deref(), Some("1234"));
        assert_eq!(
            request.spec.groups,
            vec!["system:serviceaccounts".to_owned()]
        );
        assert!(
            request.spec.extra.is_empty(),
            "extra is removed when the user has none"
        );
        set_certificate_request_defaults(&mut request);
        assert_eq!(request.spec.issuer_ref.kind.as_deref(), Some("Issuer"));
    }

    #[test]
    fn gateway_parent_refs_get_schema_defaults() {
        let mut spec = IssuerSpec {
            acme: Some(AcmeIssuer {
                server: "https://acme.example/directory".into(),
                solvers: vec![AcmeChallengeSolver {
                    http01: Some(AcmeChallengeSolverHttp01 {
                        gateway_http_route: Some(AcmeChallengeSolverHttp01GatewayHttpRoute {
                            parent_refs: vec![ParentReference {
                                name: "gw".into(),
                                ..Default::default()
                            }],
                            ..Default::default()
                        }),
                        ..Default::default()
                    }),
                    ..Default::default()
                }],
                ..Default::default()
            }),
            ..Default::default()
        };
        set_issuer_schema_defaults(&mut spec);
        let parent = &spec.acme.expect("acme").solvers[0]
            .http01
            .clone()
            .and_then(|h| h.gateway_http_route)
            .expect("route")
            .parent_refs[0];
        assert_eq!(parent.group.as_deref(), Some("gateway.networking.k8s.io"));
        assert_eq!(parent.kind.as_deref(), Some("Gateway"));
    }

    #[test]
    fn cluster_issuer_reference_is_recognised() {
        let by_kind = IssuerReference {
            name: "x".into(),
            kind: Some("ClusterIssuer".into()),
            group: None,
        };
        assert!(references_cluster_issuer(&by_kind));
        let external = IssuerReference {
            name: "x".into(),
            kind: Some("ClusterIssuer".into()),
            group: Some("awspca.cert-manager.io".into()),
        };
        assert!(!references_cluster_issuer(&external));
    }
}
