//! Validation of cert-manager objects as cert-manager's admission webhook
//! does it (`internal/apis/certmanager/validation/{certificate,
//! certificaterequest,issuer}.go`, `internal/apis/acme/validation`), with
//! the same rules, field paths and messages, so that a manifest refused by
//! cert-manager is refused by certwasm with the same words, and one accepted
//! by cert-manager is accepted.
//!
//! Every function is pure: it reads the object (and the old object, for
//! updates) and returns the list of problems, empty when the object is
//! valid. The API server turns a non-empty list into a 422 `Invalid` status.

use std::collections::{BTreeMap, BTreeSet};
use std::net::IpAddr;
use std::time::Duration;

use super::acme::{
    AcmeChallengeSolver, AcmeChallengeSolverDns01, AcmeChallengeSolverHttp01,
    AcmeChallengeSolverHttp01GatewayHttpRoute, AcmeChallengeSolverHttp01Ingress, AcmeIssuer,
};
use super::certificate::{
    Certificate, CertificateRenewalPolicy, CertificateSpec, KeyUsage, NameConstraintItem,
    PrivateKeyAlgorithm, SignatureAlgorithm,
};
use super::certificate_request::{
    CERTIFICATE_REQUEST_CONDITION_APPROVED, CERTIFICATE_REQUEST_CONDITION_DENIED,
    CertificateRequest, CertificateRequestSpec,
};
use super::challenge::Challenge;
use super::issuer::{
    CaIssuer, ClusterIssuer, Issuer, IssuerSpec, PluginIssuer, VaultAuth, VaultIssuer, VenafiIssuer,
};
use super::order::{Order, OrderStatus};
use super::shared::{
    ACME_GROUP, Condition, ConditionStatus, GROUP, IssuerReference, SecretKeySelector,
};
use crate::go_duration;

use super::field::FieldPath;
pub use super::field::{FieldError, FieldErrorKind, bare, invalid_message, json, quote};

/// Shortest certificate lifetime cert-manager accepts.
pub const MINIMUM_CERTIFICATE_DURATION: Duration = Duration::from_secs(3600);
/// Lifetime requested when `spec.duration` is unset (90 days).
pub const DEFAULT_CERTIFICATE_DURATION: Duration = Duration::from_secs(2160 * 3600);
/// Shortest `renewBefore` cert-manager accepts.
pub const MINIMUM_RENEW_BEFORE: Duration = Duration::from_secs(5 * 60);
/// Smallest RSA key cert-manager generates or accepts.
pub const MIN_RSA_KEY_SIZE: i32 = 2048;
/// Largest RSA key cert-manager generates or accepts.
pub const MAX_RSA_KEY_SIZE: i32 = 8192;
/// Longest common name X.509 allows (ub-common-name).
pub const MAX_COMMON_NAME_LENGTH: usize = 64;

/// TSIG algorithms the RFC 2136 provider supports.
const SUPPORTED_TSIG_ALGORITHMS: [&str; 4] = ["HMACMD5", "HMACSHA1", "HMACSHA256", "HMACSHA512"];

/// Warning cert-manager returns for the deprecated EAB `keyAlgorithm`.
pub const DEPRECATED_EAB_KEY_ALGORITHM_WARNING: &str = "ACME issuer spec field 'externalAccount.keyAlgorithm' is deprecated. The value of this field will be ignored.";

fn set(value: &Option<String>) -> bool {
    value.as_deref().is_some_and(|v| !v.is_empty())
}

fn text(value: &Option<String>) -> &str {
    value.as_deref().unwrap_or("")
}

// ---------------------------------------------------------------- Certificate

/// Validates a Certificate on create or update (cert-manager runs the same
/// checks for both).
pub fn validate_certificate(certificate: &Certificate) -> Vec<FieldError> {
    validate_certificate_spec(&certificate.spec, "spec")
}

/// Validates a Certificate spec found at `path` (`spec` for a Certificate;
/// the ingress-shim validates the Certificates it would create the same way).
pub fn validate_certificate_spec(spec: &CertificateSpec, path: &str) -> Vec<FieldError> {
    let path = FieldPath::new(path);
    let mut errors = Vec::new();

    if spec.secret_name.is_empty() {
        errors.push(FieldError::required(
            path.child("secretName"),
            "must be specified",
        ));
    } else {
        for message in dns1123_subdomain_errors(&spec.secret_name) {
            errors.push(FieldError::invalid(
                path.child("secretName"),
                quote(&spec.secret_name),
                message,
            ));
        }
    }

    errors.extend(validate_issuer_ref(&spec.issuer_ref, &path));

    let mut common_name = text(&spec.common_name).to_owned();
    if let Some(literal) = spec.literal_subject.as_deref().filter(|l| !l.is_empty()) {
        if !common_name.is_empty() {
            errors.push(FieldError::invalid(
                path.child("commonName"),
                quote(&common_name),
                "When providing a `LiteralSubject` no `commonName` may be provided.",
            ));
        }
        if let Some(subject) = spec.subject.as_ref().filter(|s| !s.is_empty()) {
            errors.push(FieldError::invalid(
                path.child("subject"),
                json(subject),
                "When providing a `LiteralSubject` no `Subject` properties may be provided.",
            ));
        }
        match parse_literal_subject(literal) {
            Err(message) => {
                errors.push(FieldError::invalid(
                    path.child("literalSubject"),
                    quote(literal),
                    message,
                ));
            }
            Ok(attributes) => {
                for attribute in &attributes {
                    match (&attribute.type_, &attribute.value) {
                        (AttributeType::CommonName, DnValue::Text(value)) => {
                            common_name = value.clone()
                        }
                        (AttributeType::CommonName, DnValue::Encoded(raw)) => {
                            errors.push(FieldError::invalid(
                                path.child("literalSubject"),
                                quote(raw),
                                "Field with type CN should be a string",
                            ));
                        }
                        _ => {}
                    }
                }
                for attribute in &attributes {
                    if attribute.type_ == AttributeType::Unknown {
                        errors.push(FieldError::invalid(
                            path.child("literalSubject"),
                            quote(literal),
                            format!(
                                "Literal subject contains unrecognized key with value [{}]",
                                attribute.value.display()
                            ),
                        ));
                    }
                }
            }
        }
    }

    if common_name.is_empty()
        && spec.dns_names.is_empty()
        && spec.uris.is_empty()
        && spec.email_addresses.is_empty()
        && spec.ip_addresses.is_empty()
        && spec.other_names.is_empty()
    {
        errors.push(FieldError::invalid(
            path.clone(),
            quote(""),
            "at least one of commonName (from the commonName field or from a literalSubject), dnsNames, emailSANs, ipAddresses, otherNames, or uriSANs must be set",
        ));
    }

    if common_name.len() > MAX_COMMON_NAME_LENGTH {
        errors.push(FieldError::too_long(
            path.child("commonName"),
            MAX_COMMON_NAME_LENGTH,
        ));
    }

    for (i, address) in spec.ip_addresses.iter().enumerate() {
        if address.parse::<IpAddr>().is_err() {
            errors.push(FieldError::invalid(
                path.child("ipAddresses").index(i),
                quote(address),
                "invalid IP address",
            ));
        }
    }

    for (i, address) in spec.email_addresses.iter().enumerate() {
        if let Err(message) = check_email_address(address) {
            errors.push(FieldError::invalid(
                path.child("emailAddresses").index(i),
                quote(address),
                message,
            ));
        }
    }

    for (i, other_name) in spec.other_names.iter().enumerate() {
        let item = path.child("otherNames").index(i);
        let oid = text(&other_name.oid);
        if oid.is_empty() {
            errors.push(FieldError::required(item.child("oid"), "must be specified"));
        }
        if parse_object_identifier(oid).is_none() {
            errors.push(FieldError::invalid(
                item.child("oid"),
                quote(oid),
                "invalid oid syntax",
            ));
        }
        if !set(&other_name.utf8_value) {
            errors.push(FieldError::required(
                item.child("utf8Value"),
                "must be set to a valid non-empty UTF8 string",
            ));
        }
    }

    if let Some(private_key) = &spec.private_key {
        let size = private_key.size.unwrap_or(0);
        match private_key.algorithm.unwrap_or(PrivateKeyAlgorithm::Rsa) {
            PrivateKeyAlgorithm::Rsa => {
                if size > 0 && !(MIN_RSA_KEY_SIZE..=MAX_RSA_KEY_SIZE).contains(&size) {
                    errors.push(FieldError::invalid(
                        path.children(&["privateKey", "size"]),
                        bare(size),
                        format!("must be between {MIN_RSA_KEY_SIZE} and {MAX_RSA_KEY_SIZE} for rsa keyAlgorithm"),
                    ));
                }
            }
            PrivateKeyAlgorithm::Ecdsa => {
                if size > 0 && ![256, 384, 521].contains(&size) {
                    errors.push(FieldError::not_supported(
                        path.children(&["privateKey", "size"]),
                        bare(size),
                        &["256", "384", "521"],
                    ));
                }
            }
            PrivateKeyAlgorithm::Ed25519 => {}
        }
    }

    if let Some(signature) = spec.signature_algorithm {
        let key_algorithm = spec
            .private_key
            .as_ref()
            .and_then(|key| key.algorithm)
            .unwrap_or(PrivateKeyAlgorithm::Rsa);
        let allowed = allowed_signature_algorithms(key_algorithm);
        if !allowed.contains(&signature) {
            let names: Vec<&str> = allowed.iter().map(|a| a.as_str()).collect();
            errors.push(FieldError::invalid(
                path.child("signatureAlgorithm"),
                quote(signature.as_str()),
                format!(
                    "for key algorithm {} the allowed signature algorithms are [{}]",
                    key_algorithm.as_str(),
                    names.join(" ")
                ),
            ));
        }
    }

    // As cert-manager: the durations are checked together only when
    // `duration` or `renewBefore` is set. A `renewBeforePercentage` alone
    // is accepted whatever its value; the renewal policy then ignores a
    // percentage outside (0, 100) and renews at two thirds of the lifetime.
    if spec.duration.is_some() || spec.renew_before.is_some() {
        errors.extend(validate_durations(spec, &path));
    }

    if let Some(limit) = spec.revision_history_limit
        && limit < 1
    {
        errors.push(FieldError::invalid(
            path.child("revisionHistoryLimit"),
            bare(limit),
            "must not be less than 1",
        ));
    }

    if let Some(template) = &spec.secret_template {
        errors.extend(validate_labels(
            &template.labels,
            &path.children(&["secretTemplate", "labels"]),
        ));
        let annotations_path = path.children(&["secretTemplate", "annotations"]);
        for key in template.annotations.keys() {
            if key.starts_with("cert-manager.io/")
                && key != "cert-manager.io/allow-direct-injection"
            {
                errors.push(FieldError::invalid(
                    &annotations_path,
                    quote(key),
                    "cert-manager.io/* annotations are not allowed",
                ));
            }
        }
        errors.extend(validate_annotations(
            &template.annotations,
            &annotations_path,
        ));
    }

    if let Some(constraints) = &spec.name_constraints {
        let constraints_path = path.child("nameConstraints");
        if !spec.is_ca {
            errors.push(FieldError::invalid(
                &constraints_path,
                json(constraints),
                "isCA should be true when nameConstraints is set",
            ));
        }
        if constraints.permitted.is_none() && constraints.excluded.is_none() {
            errors.push(FieldError::invalid(
                &constraints_path,
                json(constraints),
                "either permitted or excluded must be set",
            ));
        }
        errors.extend(validate_name_constraint_item(
            constraints.permitted.as_ref(),
            &constraints_path.child("permitted"),
        ));
        errors.extend(validate_name_constraint_item(
            constraints.excluded.as_ref(),
            &constraints_path.child("excluded"),
        ));
    }

    let mut formats = std::collections::HashSet::new();
    for format in &spec.additional_output_formats {
        if !formats.insert(format.type_) {
            errors.push(FieldError::duplicate(
                path.child("additionalOutputFormats").key("type"),
                quote(format.type_.as_str()),
            ));
        }
    }

    if let Some(keystores) = &spec.keystores {
        if let Some(jks) = &keystores.jks {
            errors.extend(validate_keystore_password(
                jks.password.as_deref(),
                jks.password_secret_ref.as_ref(),
                &path.children(&["keystores", "jks"]),
                "JKS",
            ));
        }
        if let Some(pkcs12) = &keystores.pkcs12 {
            errors.extend(validate_keystore_password(
                pkcs12.password.as_deref(),
                pkcs12.password_secret_ref.as_ref(),
                &path.children(&["keystores", "pkcs12"]),
                "PKCS#12",
            ));
        }
    }

    if let Some(renewal) = &spec.renewal {
        let renewal_path = path.child("renewal");
        match renewal.policy {
            Some(CertificateRenewalPolicy::Disabled) => {
                if !renewal.windows.is_empty() {
                    errors.push(FieldError::forbidden(
                        renewal_path.child("windows"),
                        "windows cannot be set when `renewal.policy` is set to Disabled",
                    ));
                }
            }
            policy => {
                if policy.is_none() {
                    errors.push(FieldError::not_supported(
                        renewal_path.child("policy"),
                        quote(""),
                        &["Disabled", "RenewBefore"],
                    ));
                }
                for (i, window) in renewal.windows.iter().enumerate() {
                    let window_path = renewal_path.child("windows").index(i);
                    if window.window_duration.is_none() {
                        errors.push(FieldError::required(
                            window_path.child("windowDuration"),
                            "windowDuration must be specified and should be greater than 0",
                        ));
                    }
                    if let Err(why) = check_cron(&window.cron) {
                        errors.push(FieldError::invalid(
                            window_path.child("cron"),
                            quote(&window.cron),
                            format!(
                                "invalid cron syntax: {why}. cron needs to follow: cron.Minute | cron.Hour | cron.Dom | cron.Month | cron.Dow"
                            ),
                        ));
                    }
                }
            }
        }
    }

    errors
}

/// A renewal window's schedule as robfig/cron's standard parser reads it,
/// with its error wording:
/// an optional `CRON_TZ=<zone>` (or `TZ=<zone>`) first, then a descriptor
/// (`@daily`, `@every 1h`, ...) or exactly five fields.
fn check_cron(spec: &str) -> Result<(), String> {
    let mut rest = spec.trim();
    if let Some(zoned) = rest
        .strip_prefix("CRON_TZ=")
        .or_else(|| rest.strip_prefix("TZ="))
    {
        let (zone, after) = zoned.split_once(' ').unwrap_or((zoned, ""));
        if !known_time_zone(zone) {
            return Err(format!(
                "provided bad location {zone}: unknown time zone {zone}"
            ));
        }
        rest = after.trim();
    }
    if rest.starts_with('@') {
        return Ok(());
    }
    let fields: Vec<&str> = rest.split_whitespace().collect();
    if fields.len() != 5 {
        return Err(format!(
            "expected exactly 5 fields, found {}: [{}]",
            fields.len(),
            fields.join(" ")
        ));
    }
    Ok(())
}

/// Whether Go's `time.LoadLocation` would know `zone`: UTC, Local, or a
/// file of the system's zoneinfo database (when the system has none, as in
/// a scratch image, any well-formed name is taken on trust).
fn known_time_zone(zone: &str) -> bool {
    const ZONEINFO: &str = "/usr/share/zoneinfo";
    if matches!(zone, "UTC" | "Local") {
        return true;
    }
    let well_formed = !zone.is_empty()
        && !zone.starts_with('/')
        && !zone.split('/').any(|part| part.is_empty() || part == "..");
    if !well_formed {
        return false;
    }
    let database = std::path::Path::new(ZONEINFO);
    !database.is_dir() || database.join(zone).is_file()
}

/// The signature algorithms cert-manager allows for a key algorithm.
pub fn allowed_signature_algorithms(
    algorithm: PrivateKeyAlgorithm,
) -> &'static [SignatureAlgorithm] {
    match algorithm {
        PrivateKeyAlgorithm::Rsa => &[
            SignatureAlgorithm::Sha256WithRsa,
            SignatureAlgorithm::Sha384WithRsa,
            SignatureAlgorithm::Sha512WithRsa,
        ],
        PrivateKeyAlgorithm::Ecdsa => &[
            SignatureAlgorithm::EcdsaWithSha256,
            SignatureAlgorithm::EcdsaWithSha384,
            SignatureAlgorithm::EcdsaWithSha512,
        ],
        PrivateKeyAlgorithm::Ed25519 => &[SignatureAlgorithm::PureEd25519],
    }
}

fn validate_issuer_ref(issuer_ref: &IssuerReference, path: &FieldPath) -> Vec<FieldError> {
    let mut errors = Vec::new();
    let ref_path = path.child("issuerRef");
    if issuer_ref.name.is_empty() {
        errors.push(FieldError::required(
            ref_path.child("name"),
            "must be specified",
        ));
    }
    let group = text(&issuer_ref.group);
    if group.is_empty() || group == GROUP {
        let kind = text(&issuer_ref.kind);
        if !matches!(kind, "" | "Issuer" | "ClusterIssuer") {
            let kind_path = ref_path.child("kind");
            let mut message = "must be one of Issuer or ClusterIssuer".to_owned();
            if group.is_empty() {
                message.push_str(&format!(
                    " (did you forget to set {}?)",
                    kind_path.child("group")
                ));
            }
            errors.push(FieldError::invalid(kind_path, quote(kind), message));
        }
    }
    errors
}

/// A parsed Go duration field, or the field error for an unparsable one
/// (cert-manager's webhook refuses those when decoding).
fn duration_field(
    value: &Option<String>,
    path: &FieldPath,
) -> Result<Option<Duration>, FieldError> {
    match value {
        None => Ok(None),
        Some(text) => go_duration::parse(text)
            .map(Some)
            .map_err(|err| FieldError::invalid(path, quote(text), err.to_string())),
    }
}

fn validate_durations(spec: &CertificateSpec, path: &FieldPath) -> Vec<FieldError> {
    let mut errors = Vec::new();
    let duration_path = path.child("duration");
    let renew_before_path = path.child("renewBefore");
    let duration = match duration_field(&spec.duration, &duration_path) {
        Ok(duration) => duration.unwrap_or(DEFAULT_CERTIFICATE_DURATION),
        Err(error) => {
            errors.push(error);
            return errors;
        }
    };
    let renew_before = match duration_field(&spec.renew_before, &renew_before_path) {
        Ok(renew_before) => renew_before,
        Err(error) => {
            errors.push(error);
            return errors;
        }
    };
    let shown_duration = spec
        .duration
        .as_deref()
        .map(quote)
        .unwrap_or_else(|| quote(&go_duration::format(duration)));
    let shown_renew_before = quote(text(&spec.renew_before));

    if duration < MINIMUM_CERTIFICATE_DURATION {
        errors.push(FieldError::invalid(
            &duration_path,
            shown_duration,
            format!(
                "certificate duration must be greater than {}",
                go_duration::format(MINIMUM_CERTIFICATE_DURATION)
            ),
        ));
    }
    if renew_before.is_some()
        && let Some(percentage) = spec.renew_before_percentage
    {
        let message =
            "renewBefore and renewBeforePercentage are mutually exclusive and cannot both be set";
        errors.push(FieldError::invalid(
            &renew_before_path,
            shown_renew_before.clone(),
            message,
        ));
        errors.push(FieldError::invalid(
            path.child("renewBeforePercentage"),
            bare(percentage),
            message,
        ));
    }
    if let Some(renew_before) = renew_before {
        if renew_before < MINIMUM_RENEW_BEFORE {
            errors.push(FieldError::invalid(
                &renew_before_path,
                shown_renew_before.clone(),
                format!(
                    "certificate renewBefore must be greater than {}",
                    go_duration::format(MINIMUM_RENEW_BEFORE)
                ),
            ));
        }
        if renew_before >= duration {
            errors.push(FieldError::invalid(
                &renew_before_path,
                shown_renew_before,
                format!(
                    "certificate duration {} must be greater than renewBefore {}",
                    go_duration::format(duration),
                    go_duration::format(renew_before)
                ),
            ));
        }
    }
    if let Some(percentage) = spec.renew_before_percentage {
        errors.extend(validate_renew_before_percentage(percentage, duration, path));
    }
    errors
}

/// cert-manager checks `renewBeforePercentage` by the renewBefore it implies,
/// computed (in the webhook, unlike the renewal scheduler) as
/// `duration × (100 − pct) / 100`; certwasm keeps that formula so that the
/// same manifests are accepted.
fn validate_renew_before_percentage(
    percentage: i32,
    duration: Duration,
    path: &FieldPath,
) -> Vec<FieldError> {
    let mut errors = Vec::new();
    let field = path.child("renewBeforePercentage");
    let nanos = duration.as_nanos() as i128 * (100 - i128::from(percentage)) / 100;
    let implied = i128::try_from(MINIMUM_RENEW_BEFORE.as_nanos()).unwrap_or(i128::MAX);
    if nanos < implied {
        errors.push(FieldError::invalid(
            &field,
            bare(percentage),
            format!(
                "certificate renewBeforePercentage must result in a renewBefore greater than {}",
                go_duration::format(MINIMUM_RENEW_BEFORE)
            ),
        ));
    }
    if nanos >= duration.as_nanos() as i128 {
        errors.push(FieldError::invalid(
            &field,
            bare(percentage),
            "certificate renewBeforePercentage must result in a renewBefore less than duration",
        ));
    }
    errors
}

fn validate_name_constraint_item(
    item: Option<&NameConstraintItem>,
    path: &FieldPath,
) -> Vec<FieldError> {
    let Some(item) = item else { return Vec::new() };
    item.ip_ranges
        .iter()
        .enumerate()
        .filter(|(_, cidr)| !is_cidr(cidr))
        .map(|(i, cidr)| {
            FieldError::invalid(
                path.child("ipRanges").index(i),
                quote(cidr),
                "invalid CIDR address",
            )
        })
        .collect()
}

fn validate_keystore_password(
    password: Option<&str>,
    secret_ref: Option<&SecretKeySelector>,
    path: &FieldPath,
    kind: &str,
) -> Vec<FieldError> {
    let mut errors = Vec::new();
    let has_ref = secret_ref.is_some_and(|r| !r.name.is_empty());
    if password.is_some() && has_ref {
        errors.push(FieldError::forbidden(
            path,
            format!("exactly one of passwordSecretRef and password must be provided for {kind} keystores; cannot set both"),
        ));
    }
    if password.is_none() && !has_ref {
        errors.push(FieldError::forbidden(
            path,
            format!(
                "must set exactly one of passwordSecretRef and password must for {kind} keystores"
            ),
        ));
    }
    if password == Some("") {
        errors.push(FieldError::forbidden(
            path.child("password"),
            format!("literal password cannot be empty if set on {kind} keystores"),
        ));
    }
    errors
}

// --------------------------------------------------------- CertificateRequest

/// Validates a CertificateRequest on create: its issuer, its CSR against the
/// requested `isCA` and usages, and its approval conditions.
pub fn validate_certificate_request(request: &CertificateRequest) -> Vec<FieldError> {
    let mut errors = validate_certificate_request_spec(&request.spec, "spec");
    let conditions = request
        .status
        .as_ref()
        .map(|s| s.conditions.as_slice())
        .unwrap_or_default();
    errors.extend(validate_approval_conditions(
        conditions,
        &FieldPath::new("status.conditions"),
    ));
    errors
}

/// Validates a CertificateRequest update: the spec and the requester's
/// identity are immutable, cert-manager annotations cannot change, and an
/// `Approved` or `Denied` condition cannot be changed once set.
pub fn validate_certificate_request_update(
    old: &CertificateRequest,
    new: &CertificateRequest,
) -> Vec<FieldError> {
    let mut errors = Vec::new();
    let annotations = FieldPath::new("metadata.annotations");
    let old_annotations = old.metadata.annotations.clone().unwrap_or_default();
    let new_annotations = new.metadata.annotations.clone().unwrap_or_default();
    errors.extend(compare_cert_manager_annotations(
        &old_annotations,
        &new_annotations,
        &annotations,
    ));
    errors.extend(compare_cert_manager_annotations(
        &new_annotations,
        &old_annotations,
        &annotations,
    ));

    let old_conditions = old
        .status
        .as_ref()
        .map(|s| s.conditions.as_slice())
        .unwrap_or_default();
    let new_conditions = new
        .status
        .as_ref()
        .map(|s| s.conditions.as_slice())
        .unwrap_or_default();
    let conditions_path = FieldPath::new("status.conditions");
    for (type_, label) in [
        (CERTIFICATE_REQUEST_CONDITION_APPROVED, "'Approved'"),
        (CERTIFICATE_REQUEST_CONDITION_DENIED, "'Denied'"),
    ] {
        let old_condition = old_conditions.iter().find(|c| c.type_ == type_);
        if old_condition.is_some()
            && old_condition != new_conditions.iter().find(|c| c.type_ == type_)
        {
            errors.push(FieldError::forbidden(
                &conditions_path,
                format!("{label} condition may not be modified once set"),
            ));
        }
    }
    errors.extend(validate_approval_conditions(
        new_conditions,
        &conditions_path,
    ));

    if old.spec != new.spec {
        let spec = FieldPath::new("spec");
        errors.push(FieldError::forbidden(
            &spec,
            "cannot change spec after creation",
        ));
        if old.spec.uid != new.spec.uid {
            errors.push(FieldError::forbidden(
                spec.child("uid"),
                "uid identity cannot be changed once set",
            ));
        }
        if old.spec.username != new.spec.username {
            errors.push(FieldError::forbidden(
                spec.child("username"),
                "username identity cannot be changed once set",
            ));
        }
        let old_groups: BTreeSet<&String> = old.spec.groups.iter().collect();
        let new_groups: BTreeSet<&String> = new.spec.groups.iter().collect();
        if old_groups != new_groups || old.spec.groups.len() != new.spec.groups.len() {
            errors.push(FieldError::forbidden(
                spec.child("groups"),
                "groups identity cannot be changed once set",
            ));
        }
        if old.spec.extra != new.spec.extra {
            errors.push(FieldError::forbidden(
                spec.child("extra"),
                "extra identity cannot be changed once set",
            ));
        }
    }
    errors
}

fn compare_cert_manager_annotations(
    a: &BTreeMap<String, String>,
    b: &BTreeMap<String, String>,
    path: &FieldPath,
) -> Vec<FieldError> {
    a.iter()
        .filter(|(key, _)| key.starts_with(GROUP) || key.starts_with(ACME_GROUP))
        .filter(|(key, value)| b.get(*key) != Some(*value))
        .map(|(key, _)| {
            FieldError::forbidden(
                path.child(key),
                "cannot change cert-manager annotation after creation",
            )
        })
        .collect()
}

/// Validates a CertificateRequest spec found at `path`.
pub fn validate_certificate_request_spec(
    spec: &CertificateRequestSpec,
    path: &str,
) -> Vec<FieldError> {
    let path = FieldPath::new(path);
    let mut errors = validate_issuer_ref(&spec.issuer_ref, &path);
    if let Some(duration) = &spec.duration
        && let Err(error) = duration_field(&Some(duration.clone()), &path.child("duration"))
    {
        errors.push(error);
    }
    if spec.request.is_empty() {
        errors.push(FieldError::required(
            path.child("request"),
            "must be specified",
        ));
        return errors;
    }
    if let Err(message) = check_csr_matches(spec.request.as_slice(), spec.is_ca, &spec.usages) {
        let shown = String::from_utf8_lossy(spec.request.as_slice()).into_owned();
        errors.push(FieldError::invalid(
            path.child("request"),
            quote(&truncate(&shown)),
            message,
        ));
    }
    errors
}

fn truncate(text: &str) -> String {
    const MAX: usize = 100;
    if text.len() <= MAX {
        return text.to_owned();
    }
    let mut end = MAX - 3;
    while !text.is_char_boundary(end) {
        end -= 1;
    }
    format!("{}...", &text[..end])
}

/// Checks that the PEM CSR decodes, is signed by its own key, and that the
/// basic constraints and key usages it encodes (if any) match the request.
fn check_csr_matches(request: &[u8], is_ca: bool, usages: &[KeyUsage]) -> Result<(), String> {
    use x509_parser::extensions::ParsedExtension;
    use x509_parser::prelude::FromDer;

    let pem_text = std::str::from_utf8(request)
        .map_err(|_| "error decoding certificate request PEM block: not valid UTF-8".to_owned())?;
    crate::pki::parse_csr(pem_text).map_err(|err| err.to_string())?;
    let block = pem::parse(pem_text)
        .map_err(|err| format!("error decoding certificate request PEM block: {err}"))?;
    let (_, csr) =
        x509_parser::certification_request::X509CertificationRequest::from_der(block.contents())
            .map_err(|err| err.to_string())?;

    let (expected_ku, expected_eku) = key_usages_for(usages, is_ca);
    let mut has_usage_extension = false;
    let mut encoded_ku: Option<u16> = None;
    let mut encoded_eku: Vec<&'static str> = Vec::new();
    if let Some(extensions) = csr.requested_extensions() {
        for extension in extensions {
            match extension {
                ParsedExtension::BasicConstraints(constraints) if constraints.ca != is_ca => {
                    return Err(format!(
                        "encoded CSR error: IsCA {} does not match expected value {}",
                        constraints.ca, is_ca
                    ));
                }
                ParsedExtension::KeyUsage(ku) => {
                    has_usage_extension = true;
                    encoded_ku = Some(ku.flags);
                }
                ParsedExtension::ExtendedKeyUsage(eku) => {
                    has_usage_extension = true;
                    encoded_eku = eku_names(eku);
                }
                _ => {}
            }
        }
    }
    if has_usage_extension {
        let encoded_ku = encoded_ku.unwrap_or(0);
        if encoded_ku != expected_ku {
            return Err(format!(
                "encoded CSR error: the KeyUsages {} do not match the expected KeyUsages {}",
                print_usages(&ku_names(encoded_ku)),
                print_usages(&ku_names(expected_ku))
            ));
        }
        if encoded_eku != expected_eku {
            return Err(format!(
                "encoded CSR error: the ExtKeyUsages {} do not match the expected ExtKeyUsages {}",
                print_usages(&encoded_eku),
                print_usages(&expected_eku)
            ));
        }
    }
    Ok(())
}

/// Bits of the X.509 KeyUsage extension as x509-parser numbers them
/// (digitalSignature = bit 0), with cert-manager's names.
const KU_BITS: [(u16, &str); 9] = [
    (1 << 0, "digital signature"),
    (1 << 1, "content commitment"),
    (1 << 2, "key encipherment"),
    (1 << 3, "data encipherment"),
    (1 << 4, "key agreement"),
    (1 << 5, "cert sign"),
    (1 << 6, "crl sign"),
    (1 << 7, "encipher only"),
    (1 << 8, "decipher only"),
];

fn ku_names(flags: u16) -> Vec<&'static str> {
    KU_BITS
        .iter()
        .filter(|(bit, _)| flags & bit != 0)
        .map(|(_, name)| *name)
        .collect()
}

fn eku_names(eku: &x509_parser::extensions::ExtendedKeyUsage<'_>) -> Vec<&'static str> {
    let mut names = Vec::new();
    if eku.any {
        names.push("any");
    }
    if eku.server_auth {
        names.push("server auth");
    }
    if eku.client_auth {
        names.push("client auth");
    }
    if eku.code_signing {
        names.push("code signing");
    }
    if eku.email_protection {
        names.push("email protection");
    }
    if eku.time_stamping {
        names.push("timestamping");
    }
    if eku.ocsp_signing {
        names.push("ocsp signing");
    }
    for oid in &eku.other {
        names.push(match oid.to_id_string().as_str() {
            "1.3.6.1.5.5.7.3.5" => "ipsec end system",
            "1.3.6.1.5.5.7.3.6" => "ipsec tunnel",
            "1.3.6.1.5.5.7.3.7" => "ipsec user",
            "1.3.6.1.4.1.311.10.3.3" => "microsoft sgc",
            "2.16.840.1.113730.4.1" => "netscape sgc",
            _ => "unknown",
        });
    }
    names.sort_unstable_by_key(|name| eku_order(name));
    names
}

/// Go's `x509.ExtKeyUsage` numbering, the order cert-manager compares in.
fn eku_order(name: &str) -> usize {
    [
        "any",
        "server auth",
        "client auth",
        "code signing",
        "email protection",
        "ipsec end system",
        "ipsec tunnel",
        "ipsec user",
        "timestamping",
        "ocsp signing",
        "microsoft sgc",
        "netscape sgc",
    ]
    .iter()
    .position(|n| *n == name)
    .unwrap_or(usize::MAX)
}

/// The KeyUsage bits and EKU names cert-manager derives from `usages`
/// (defaults when empty, `cert sign` added for a CA).
fn key_usages_for(usages: &[KeyUsage], is_ca: bool) -> (u16, Vec<&'static str>) {
    let mut ku: u16 = if is_ca { 1 << 5 } else { 0 };
    let mut eku: Vec<&'static str> = Vec::new();
    let usages: &[KeyUsage] = if usages.is_empty() {
        &KeyUsage::DEFAULTS
    } else {
        usages
    };
    for usage in usages {
        let name = match usage {
            KeyUsage::Signing => "digital signature",
            KeyUsage::Smime => "email protection",
            other => other.as_str(),
        };
        if let Some((bit, _)) = KU_BITS.iter().find(|(_, n)| *n == name) {
            ku |= bit;
        } else {
            eku.push(name);
        }
    }
    eku.sort_unstable_by_key(|name| eku_order(name));
    (ku, eku)
}

fn print_usages(names: &[&str]) -> String {
    if names.is_empty() {
        return "[]".to_owned();
    }
    let quoted: Vec<String> = names.iter().map(|n| format!(" '{n}'")).collect();
    format!("[{} ]", quoted.join(","))
}

fn validate_approval_conditions(conditions: &[Condition], path: &FieldPath) -> Vec<FieldError> {
    let mut errors = Vec::new();
    let approved: Vec<_> = conditions
        .iter()
        .filter(|c| c.type_ == CERTIFICATE_REQUEST_CONDITION_APPROVED)
        .collect();
    let denied: Vec<_> = conditions
        .iter()
        .filter(|c| c.type_ == CERTIFICATE_REQUEST_CONDITION_DENIED)
        .collect();
    for (type_, found) in [
        (CERTIFICATE_REQUEST_CONDITION_APPROVED, &approved),
        (CERTIFICATE_REQUEST_CONDITION_DENIED, &denied),
    ] {
        match found.as_slice() {
            [] => {}
            [one] => {
                if one.status != ConditionStatus::True {
                    errors.push(FieldError::invalid(
                        path.child(&one.type_),
                        quote(one.status.as_str()),
                        format!("{} condition may only be set to True", quote(type_)),
                    ));
                }
            }
            _ => errors.push(FieldError::forbidden(
                path,
                format!("multiple {} conditions present", quote(type_)),
            )),
        }
    }
    if !approved.is_empty() && !denied.is_empty() {
        errors.push(FieldError::forbidden(
            path,
            "both 'Denied' and 'Approved' conditions cannot coexist",
        ));
    }
    errors
}

// ------------------------------------------------------ Issuer, ClusterIssuer

/// Validates an Issuer on create or update.
pub fn validate_issuer(issuer: &Issuer) -> Vec<FieldError> {
    validate_issuer_spec(&issuer.spec, "spec")
}

/// Validates a ClusterIssuer on create or update.
pub fn validate_cluster_issuer(issuer: &ClusterIssuer) -> Vec<FieldError> {
    validate_issuer_spec(&issuer.spec, "spec")
}

/// Warnings (not errors) cert-manager returns for an issuer spec: the
/// deprecated EAB `keyAlgorithm`.
pub fn issuer_spec_warnings(spec: &IssuerSpec) -> Vec<String> {
    spec.acme
        .as_ref()
        .and_then(|acme| acme.external_account_binding.as_ref())
        .filter(|eab| eab.key_algorithm.is_some())
        .map(|_| vec![DEPRECATED_EAB_KEY_ALGORITHM_WARNING.to_owned()])
        .unwrap_or_default()
}

/// Validates an Issuer or ClusterIssuer spec found at `path`: exactly one
/// issuer type, and that type's own rules.
pub fn validate_issuer_spec(spec: &IssuerSpec, path: &str) -> Vec<FieldError> {
    let path = FieldPath::new(path);
    let mut errors = Vec::new();
    let mut configured = 0;
    let mut one = |name: &str,
                   errors: &mut Vec<FieldError>,
                   check: &dyn Fn(&FieldPath) -> Vec<FieldError>| {
        let field = path.child(name);
        if configured > 0 {
            errors.push(FieldError::forbidden(
                field,
                "may not specify more than one issuer type",
            ));
        } else {
            configured += 1;
            errors.extend(check(&field));
        }
    };
    if let Some(acme) = &spec.acme {
        one("acme", &mut errors, &|p| validate_acme_issuer(acme, p));
    }
    if let Some(ca) = &spec.ca {
        one("ca", &mut errors, &|p| validate_ca_issuer(ca, p));
    }
    if spec.self_signed.is_some() {
        one("selfSigned", &mut errors, &|_| Vec::new());
    }
    if let Some(vault) = &spec.vault {
        one("vault", &mut errors, &|p| validate_vault_issuer(vault, p));
    }
    if let Some(venafi) = &spec.venafi {
        one("venafi", &mut errors, &|p| {
            validate_venafi_issuer(venafi, p)
        });
    }
    if let Some(plugin) = &spec.plugin {
        one("plugin", &mut errors, &|p| {
            validate_plugin_issuer(plugin, p)
        });
    }
    if configured == 0 {
        errors.push(FieldError::required(
            &path,
            "at least one issuer must be configured",
        ));
    }
    errors
}

fn validate_plugin_issuer(plugin: &PluginIssuer, path: &FieldPath) -> Vec<FieldError> {
    let mut errors = Vec::new();
    if plugin.name.is_empty() {
        errors.push(FieldError::required(
            path.child("name"),
            "plugin name must be specified",
        ));
    } else {
        for message in dns1123_subdomain_errors(&plugin.name) {
            errors.push(FieldError::invalid(
                path.child("name"),
                quote(&plugin.name),
                message,
            ));
        }
    }
    if let Some(config) = &plugin.config
        && !config.is_object()
    {
        errors.push(FieldError::invalid(
            path.child("config"),
            json(config),
            "must be a JSON object",
        ));
    }
    errors
}

fn validate_acme_issuer(acme: &AcmeIssuer, path: &FieldPath) -> Vec<FieldError> {
    let mut errors = Vec::new();
    let has_bundle = acme.ca_bundle.as_ref().is_some_and(|b| !b.is_empty());
    if has_bundle && acme.skip_tls_verify {
        let message = "caBundle and skipTLSVerify are mutually exclusive and cannot both be set";
        errors.push(FieldError::invalid(
            path.child("caBundle"),
            quote(""),
            message,
        ));
        errors.push(FieldError::invalid(
            path.child("skipTLSVerify"),
            bare(true),
            message,
        ));
    }
    if let Some(bundle) = acme.ca_bundle.as_ref().filter(|b| !b.is_empty())
        && let Err(message) = check_ca_bundle(bundle.as_slice())
    {
        errors.push(FieldError::invalid(
            path.child("caBundle"),
            quote(""),
            message,
        ));
    }
    if acme.private_key_secret_ref.name.is_empty() {
        errors.push(FieldError::required(
            path.children(&["privateKeySecretRef", "name"]),
            "private key secret name is a required field",
        ));
    }
    if acme.server.is_empty() {
        errors.push(FieldError::required(
            path.child("server"),
            "acme server URL is a required field",
        ));
    }
    if let Some(eab) = &acme.external_account_binding {
        let eab_path = path.child("externalAccountBinding");
        if eab.key_id.is_empty() {
            errors.push(FieldError::required(
                eab_path.child("keyID"),
                "the keyID field is required when using externalAccountBinding",
            ));
        }
        errors.extend(validate_secret_key_selector(
            &eab.key_secret_ref,
            &eab_path.child("keySecretRef"),
        ));
    }
    for (i, solver) in acme.solvers.iter().enumerate() {
        errors.extend(validate_acme_solver(
            solver,
            &path.child("solvers").index(i),
        ));
    }
    errors
}

/// Validates one ACME challenge solver found at `path`.
fn validate_acme_solver(solver: &AcmeChallengeSolver, path: &FieldPath) -> Vec<FieldError> {
    let mut errors = Vec::new();
    let mut providers = 0;
    if let Some(http01) = &solver.http01 {
        providers += 1;
        errors.extend(validate_http01(http01, &path.child("http01")));
    }
    if let Some(dns01) = &solver.dns01 {
        if providers > 0 {
            errors.push(FieldError::forbidden(
                path,
                "may not specify more than one solver type in a single solver",
            ));
        } else {
            providers += 1;
            errors.extend(validate_dns01(dns01, &path.child("dns01")));
        }
    }
    if providers == 0 {
        errors.push(FieldError::required(path, "no solver type configured"));
    }
    if let Some(wait) = &solver.wait_instead_of_self_check {
        let wait_path = path.child("waitInsteadOfSelfCheck");
        match go_duration::parse(wait) {
            Ok(_) => {}
            Err(go_duration::DurationError::Negative(_)) => errors.push(FieldError::invalid(
                wait_path,
                quote(wait),
                "waitInsteadOfSelfCheck must not be negative",
            )),
            Err(err) => errors.push(FieldError::invalid(wait_path, quote(wait), err.to_string())),
        }
    }
    errors
}

fn validate_http01(http01: &AcmeChallengeSolverHttp01, path: &FieldPath) -> Vec<FieldError> {
    let mut errors = Vec::new();
    let mut defined = 0;
    if let Some(ingress) = &http01.ingress {
        defined += 1;
        errors.extend(validate_http01_ingress(ingress, &path.child("ingress")));
    }
    if let Some(gateway) = &http01.gateway_http_route {
        defined += 1;
        // cert-manager reports gateway problems under "gateway", not
        // "gatewayHTTPRoute"; kept for identical messages.
        errors.extend(validate_http01_gateway(gateway, &path.child("gateway")));
    }
    if defined == 0 {
        errors.push(FieldError::required(
            path,
            "no HTTP01 solver type configured",
        ));
    }
    if defined > 1 {
        errors.push(FieldError::required(
            path,
            "only 1 HTTP01 solver type may be configured",
        ));
    }
    errors
}

fn validate_service_type(service_type: &Option<String>, path: &FieldPath) -> Option<FieldError> {
    match service_type.as_deref() {
        None | Some("" | "ClusterIP" | "NodePort") => None,
        Some(other) => Some(FieldError::invalid(
            path.child("serviceType"),
            quote(other),
            r#"must be empty, "ClusterIP" or "NodePort""#,
        )),
    }
}

fn validate_http01_ingress(
    ingress: &AcmeChallengeSolverHttp01Ingress,
    path: &FieldPath,
) -> Vec<FieldError> {
    let mut errors = Vec::new();
    let specified = usize::from(ingress.class.is_some())
        + usize::from(ingress.ingress_class_name.is_some())
        + usize::from(set(&ingress.name));
    if specified > 1 {
        errors.push(FieldError::forbidden(
            path,
            "only one of 'ingressClassName', 'name' or 'class' should be specified",
        ));
    }
    if let Some(class_name) = &ingress.ingress_class_name {
        let problems = dns1123_subdomain_errors(class_name);
        if !problems.is_empty() {
            errors.push(FieldError::invalid(
                path.child("ingressClassName"),
                quote(class_name),
                format!("must be a valid IngressClass name: {}", problems.join(", ")),
            ));
        }
    }
    errors.extend(validate_service_type(&ingress.service_type, path));
    errors
}

fn validate_http01_gateway(
    gateway: &AcmeChallengeSolverHttp01GatewayHttpRoute,
    path: &FieldPath,
) -> Vec<FieldError> {
    let mut errors = Vec::new();
    errors.extend(validate_service_type(&gateway.service_type, path));
    for (i, parent) in gateway.parent_refs.iter().enumerate() {
        let parent_path = path.child("parentRefs").index(i);
        if parent.kind.is_some() && parent.name.is_empty() {
            errors.push(FieldError::required(
                parent_path.child("name"),
                "name is required when kind is specified",
            ));
            return errors;
        }
        if !parent.name.is_empty() && parent.kind.is_none() {
            errors.push(FieldError::required(
                parent_path.child("kind"),
                "kind is required when name is specified",
            ));
            return errors;
        }
    }
    errors
}

fn validate_dns01(dns01: &AcmeChallengeSolverDns01, path: &FieldPath) -> Vec<FieldError> {
    let mut errors = Vec::new();
    for (i, nameserver) in dns01.nameservers.iter().enumerate() {
        if let Err(message) = check_dns01_nameserver(nameserver) {
            errors.push(FieldError::invalid(
                path.child("nameservers").index(i),
                quote(nameserver),
                message,
            ));
        }
    }

    let mut providers = 0;
    let more_than_one = |name: &str| {
        FieldError::forbidden(
            path.child(name),
            "may not specify more than one provider type",
        )
    };

    if let Some(akamai) = &dns01.akamai {
        providers += 1;
        let p = path.child("akamai");
        errors.extend(validate_secret_key_selector(
            &akamai.access_token_secret_ref,
            &p.child("accessToken"),
        ));
        errors.extend(validate_secret_key_selector(
            &akamai.client_secret_secret_ref,
            &p.child("clientSecret"),
        ));
        errors.extend(validate_secret_key_selector(
            &akamai.client_token_secret_ref,
            &p.child("clientToken"),
        ));
        if akamai.service_consumer_domain.is_empty() {
            errors.push(FieldError::required(p.child("serviceConsumerDomain"), ""));
        }
    }
    if let Some(azure) = &dns01.azure_dns {
        if providers > 0 {
            errors.push(more_than_one("azureDNS"));
        } else {
            providers += 1;
            let p = path.child("azureDNS");
            if set(&azure.client_id)
                || set(&azure.tenant_id)
                || azure.client_secret_secret_ref.is_some()
            {
                if !set(&azure.client_id) {
                    errors.push(FieldError::required(p.child("clientID"), ""));
                }
                match &azure.client_secret_secret_ref {
                    None => errors.push(FieldError::required(p.child("clientSecretSecretRef"), "")),
                    Some(secret) => {
                        errors.extend(validate_secret_key_selector(
                            secret,
                            &p.child("clientSecretSecretRef"),
                        ));
                    }
                }
                if !set(&azure.tenant_id) {
                    errors.push(FieldError::required(p.child("tenantID"), ""));
                }
                if azure.managed_identity.is_some() {
                    errors.push(FieldError::forbidden(
                        p.child("managedIdentity"),
                        "managed identity cannot be used at the same time as clientID, clientSecretSecretRef or tenantID",
                    ));
                }
            } else if let Some(identity) = &azure.managed_identity {
                if set(&identity.client_id) && set(&identity.resource_id) {
                    errors.push(FieldError::forbidden(
                        p.child("managedIdentity"),
                        "managedIdentityClientID and managedIdentityResourceID cannot both be specified",
                    ));
                }
                if set(&identity.tenant_id) && set(&identity.resource_id) {
                    errors.push(FieldError::forbidden(
                        p.child("managedIdentity"),
                        "managedIdentityTenantID and managedIdentityResourceID cannot both be specified",
                    ));
                }
                if set(&identity.tenant_id) && !set(&identity.client_id) {
                    errors.push(FieldError::required(
                        p.child("managedIdentity"),
                        "managedIdentityClientID is required when using managedIdentityTenantID",
                    ));
                }
            }
            if azure.subscription_id.is_empty() {
                errors.push(FieldError::required(p.child("subscriptionID"), ""));
            }
            if azure.resource_group_name.is_empty() {
                errors.push(FieldError::required(p.child("resourceGroupName"), ""));
            }
        }
    }
    if let Some(cloud_dns) = &dns01.cloud_dns {
        if providers > 0 {
            errors.push(more_than_one("cloudDNS"));
        } else {
            providers += 1;
            let p = path.child("cloudDNS");
            if let Some(account) = &cloud_dns.service_account_secret_ref {
                errors.extend(validate_secret_key_selector(
                    account,
                    &p.child("serviceAccountSecretRef"),
                ));
            }
            if cloud_dns.project.is_empty() {
                errors.push(FieldError::required(p.child("project"), ""));
            }
        }
    }
    if let Some(cloudflare) = &dns01.cloudflare {
        if providers > 0 {
            errors.push(more_than_one("cloudflare"));
        } else {
            providers += 1;
            let p = path.child("cloudflare");
            if let Some(key) = &cloudflare.api_key_secret_ref {
                errors.extend(validate_secret_key_selector(
                    key,
                    &p.child("apiKeySecretRef"),
                ));
            }
            if let Some(token) = &cloudflare.api_token_secret_ref {
                errors.extend(validate_secret_key_selector(
                    token,
                    &p.child("apiTokenSecretRef"),
                ));
            }
            match (
                &cloudflare.api_key_secret_ref,
                &cloudflare.api_token_secret_ref,
            ) {
                (Some(_), Some(_)) => errors.push(FieldError::forbidden(
                    &p,
                    "apiKeySecretRef and apiTokenSecretRef cannot both be specified",
                )),
                (None, None) => {
                    errors.push(FieldError::required(
                        &p,
                        "apiKeySecretRef or apiTokenSecretRef is required",
                    ));
                }
                _ => {}
            }
            if !set(&cloudflare.email) && cloudflare.api_key_secret_ref.is_some() {
                errors.push(FieldError::required(p.child("email"), ""));
            }
        }
    }
    if let Some(route53) = &dns01.route53 {
        if providers > 0 {
            errors.push(more_than_one("route53"));
        } else {
            providers += 1;
            let p = path.child("route53");
            if set(&route53.access_key_id) && route53.access_key_id_secret_ref.is_some() {
                errors.push(FieldError::required(
                    &p,
                    "accessKeyID and accessKeyIDSecretRef cannot both be specified",
                ));
            }
            if let Some(secret) = &route53.access_key_id_secret_ref {
                errors.extend(validate_secret_key_selector(
                    secret,
                    &p.child("accessKeyIDSecretRef"),
                ));
            }
        }
    }
    if let Some(acme_dns) = &dns01.acme_dns {
        providers += 1;
        let p = path.child("acmeDNS");
        errors.extend(validate_secret_key_selector(
            &acme_dns.account_secret_ref,
            &p.child("accountSecretRef"),
        ));
        if acme_dns.host.is_empty() {
            errors.push(FieldError::required(p.child("host"), ""));
        }
    }
    if let Some(digital_ocean) = &dns01.digital_ocean {
        if providers > 0 {
            errors.push(more_than_one("digitalocean"));
        } else {
            providers += 1;
            errors.extend(validate_secret_key_selector(
                &digital_ocean.token_secret_ref,
                &path.children(&["digitalocean", "tokenSecretRef"]),
            ));
        }
    }
    if let Some(rfc2136) = &dns01.rfc2136 {
        if providers > 0 {
            errors.push(more_than_one("rfc2136"));
        } else {
            providers += 1;
            let p = path.child("rfc2136");
            if rfc2136.nameserver.is_empty() {
                errors.push(FieldError::required(p.child("nameserver"), ""));
            } else if check_rfc2136_nameserver(&rfc2136.nameserver).is_err() {
                errors.push(FieldError::invalid(
                    p.child("nameserver"),
                    quote(&rfc2136.nameserver),
                    "nameserver must be set in the form host:port where host is an IPv4 address, an enclosed IPv6 address or a hostname and port is an optional port number.",
                ));
            }
            if let Some(algorithm) = rfc2136.tsig_algorithm.as_deref().filter(|a| !a.is_empty())
                && !SUPPORTED_TSIG_ALGORITHMS.contains(&algorithm.to_uppercase().as_str())
            {
                errors.push(FieldError::not_supported(
                    p.child("tsigAlgorithm"),
                    quote(""),
                    &SUPPORTED_TSIG_ALGORITHMS,
                ));
            }
            let tsig_secret = rfc2136.tsig_secret_secret_ref.clone().unwrap_or_default();
            let secret_path = p.child("tsigSecretSecretRef");
            if set(&rfc2136.tsig_key_name) {
                errors.extend(validate_secret_key_selector(&tsig_secret, &secret_path));
            }
            if validate_secret_key_selector(&tsig_secret, &secret_path).is_empty()
                && !set(&rfc2136.tsig_key_name)
            {
                errors.push(FieldError::required(p.child("tsigKeyName"), ""));
            }
        }
    }
    if let Some(webhook) = &dns01.webhook {
        if providers > 0 {
            errors.push(more_than_one("webhook"));
        } else {
            providers += 1;
            if webhook.solver_name.is_empty() {
                errors.push(FieldError::required(
                    path.children(&["webhook", "solverName"]),
                    "solver name must be specified",
                ));
            }
        }
    }
    if providers == 0 {
        errors.push(FieldError::required(path, "no DNS01 provider configured"));
    }
    errors
}

fn validate_secret_key_selector(selector: &SecretKeySelector, path: &FieldPath) -> Vec<FieldError> {
    let mut errors = Vec::new();
    if selector.name.is_empty() {
        errors.push(FieldError::required(
            path.child("name"),
            "secret name is required",
        ));
    }
    if selector.key().is_none() {
        errors.push(FieldError::required(
            path.child("key"),
            "secret key is required",
        ));
    }
    errors
}

fn validate_ca_issuer(ca: &CaIssuer, path: &FieldPath) -> Vec<FieldError> {
    let mut errors = Vec::new();
    if ca.secret_name.is_empty() {
        errors.push(FieldError::required(path.child("secretName"), ""));
    }
    for (i, url) in ca.ocsp_servers.iter().enumerate() {
        if url.is_empty() {
            errors.push(FieldError::invalid(
                path.child("ocspServer").index(i),
                quote(url),
                "must be a valid URL, e.g., http://ocsp.int-x3.letsencrypt.org",
            ));
        }
    }
    for (i, url) in ca.issuing_certificate_urls.iter().enumerate() {
        if url.is_empty() {
            errors.push(FieldError::invalid(
                path.child("issuingCertificateURLs").index(i),
                quote(url),
                "must be a valid URL",
            ));
        }
    }
    errors
}

fn contains_dot_dot_segment(path: &str) -> bool {
    path.split('/').any(|segment| segment == "..")
}

fn validate_vault_issuer(vault: &VaultIssuer, path: &FieldPath) -> Vec<FieldError> {
    let mut errors = Vec::new();
    if vault.server.is_empty() {
        errors.push(FieldError::required(path.child("server"), ""));
    }
    if vault.path.is_empty() {
        errors.push(FieldError::required(path.child("path"), ""));
    } else if contains_dot_dot_segment(&vault.path) {
        errors.push(FieldError::invalid(
            path.child("path"),
            quote(&vault.path),
            "must not contain '..' path segments",
        ));
    }
    let has_bundle = vault.ca_bundle.as_ref().is_some_and(|b| !b.is_empty());
    if let Some(bundle) = vault.ca_bundle.as_ref().filter(|b| !b.is_empty())
        && let Err(message) = check_ca_bundle(bundle.as_slice())
    {
        errors.push(FieldError::invalid(
            path.child("caBundle"),
            quote("<snip>"),
            message,
        ));
    }
    if has_bundle && let Some(secret_ref) = &vault.ca_bundle_secret_ref {
        errors.push(FieldError::invalid(
            path.child("caBundle"),
            quote("<snip>"),
            "specified caBundle and caBundleSecretRef cannot be used together",
        ));
        errors.push(FieldError::invalid(
            path.child("caBundleSecretRef"),
            quote(&secret_ref.name),
            "specified caBundleSecretRef and caBundle cannot be used together",
        ));
    }
    match (&vault.client_cert_secret_ref, &vault.client_key_secret_ref) {
        (Some(_), None) => errors.push(FieldError::invalid(
            path.child("clientKeySecretRef"),
            quote("<snip>"),
            "clientKeySecretRef must be provided when defining the clientCertSecretRef",
        )),
        (None, Some(_)) => errors.push(FieldError::invalid(
            path.child("clientCertSecretRef"),
            quote("<snip>"),
            "clientCertSecretRef must be provided when defining the clientKeySecretRef",
        )),
        _ => {}
    }
    errors.extend(validate_vault_auth(&vault.auth, &path.child("auth")));
    errors
}

fn validate_vault_auth(auth: &VaultAuth, path: &FieldPath) -> Vec<FieldError> {
    let mut errors = Vec::new();
    let mut methods = 0;
    if auth.token_secret_ref.is_some() {
        methods += 1;
    }
    if let Some(app_role) = &auth.app_role {
        methods += 1;
        if app_role.role_id.is_empty() {
            errors.push(FieldError::required(
                path.children(&["appRole", "roleId"]),
                "",
            ));
        }
        if app_role.secret_ref.name.is_empty() {
            errors.push(FieldError::required(
                path.children(&["appRole", "secretRef", "name"]),
                "",
            ));
        }
        if contains_dot_dot_segment(&app_role.path) {
            errors.push(FieldError::invalid(
                path.children(&["appRole", "path"]),
                quote(&app_role.path),
                "must not contain '..' path segments",
            ));
        }
    }
    if let Some(client_certificate) = &auth.client_certificate {
        methods += 1;
        let mount_path = text(&client_certificate.mount_path);
        if contains_dot_dot_segment(mount_path) {
            errors.push(FieldError::invalid(
                path.children(&["clientCertificate", "path"]),
                quote(mount_path),
                "must not contain '..' path segments",
            ));
        }
    }
    if let Some(kubernetes) = &auth.kubernetes {
        methods += 1;
        let p = path.child("kubernetes");
        if kubernetes.role.is_empty() {
            errors.push(FieldError::required(p.child("role"), ""));
        }
        let mount_path = text(&kubernetes.mount_path);
        if contains_dot_dot_segment(mount_path) {
            errors.push(FieldError::invalid(
                p.child("path"),
                quote(mount_path),
                "must not contain '..' path segments",
            ));
        }
        let mut sources = 0;
        if kubernetes
            .secret_ref
            .as_ref()
            .is_some_and(|s| !s.name.is_empty())
        {
            sources += 1;
        }
        if let Some(account) = &kubernetes.service_account_ref {
            sources += 1;
            if account.name.is_empty() {
                errors.push(FieldError::required(
                    p.children(&["serviceAccountRef", "name"]),
                    "",
                ));
            }
        }
        if sources == 0 {
            errors.push(FieldError::required(
                &p,
                "please supply one of: secretRef, serviceAccountRef",
            ));
        }
        if sources > 1 {
            errors.push(FieldError::forbidden(
                &p,
                "please supply one of: secretRef, serviceAccountRef",
            ));
        }
    }
    if let Some(aws) = &auth.aws {
        methods += 1;
        let p = path.child("aws");
        if aws.role.is_empty() {
            errors.push(FieldError::required(p.child("role"), ""));
        }
        let mount_path = text(&aws.mount_path);
        if contains_dot_dot_segment(mount_path) {
            errors.push(FieldError::invalid(
                p.child("mountPath"),
                quote(mount_path),
                "must not contain '..' path segments",
            ));
        }
        if let Some(account) = &aws.service_account_ref {
            if account.name.is_empty() {
                errors.push(FieldError::required(
                    p.children(&["serviceAccountRef", "name"]),
                    "",
                ));
            }
            if !set(&aws.iam_role_arn) {
                errors.push(FieldError::required(
                    p.child("iamRoleArn"),
                    "iamRoleArn is required when using serviceAccountRef for IRSA",
                ));
            }
        }
    }
    if methods == 0 {
        errors.push(FieldError::required(
            path,
            "please supply one of: appRole, kubernetes, tokenSecretRef, clientCertificate, aws",
        ));
    }
    errors
}

fn validate_venafi_issuer(venafi: &VenafiIssuer, path: &FieldPath) -> Vec<FieldError> {
    let mut errors = Vec::new();
    if venafi.zone.is_empty() {
        errors.push(FieldError::required(path.child("zone"), ""));
    }
    let mut kinds = 0;
    if let Some(tpp) = &venafi.tpp {
        kinds += 1;
        let p = path.child("tpp");
        if tpp.url.is_empty() {
            errors.push(FieldError::required(p.child("url"), ""));
        }
        if tpp.ca_bundle.as_ref().is_some_and(|b| !b.is_empty())
            && tpp.ca_bundle_secret_ref.is_some()
        {
            errors.push(FieldError::forbidden(
                &p,
                "may not specify more than one of caBundle/caBundleSecretRef as TPP CA Bundle",
            ));
        }
    }
    if venafi.cloud.is_some() {
        kinds += 1;
    }
    if let Some(ngts) = &venafi.ngts {
        kinds += 1;
        let p = path.child("ngts");
        if ngts.tsg_id.is_empty() {
            errors.push(FieldError::required(p.child("tsgID"), ""));
        }
        if ngts.credentials_ref.name.is_empty() {
            errors.push(FieldError::required(
                p.children(&["credentialsRef", "name"]),
                "",
            ));
        }
    }
    if kinds == 0 {
        errors.push(FieldError::required(
            path,
            "please supply one of: tpp, cloud, ngts",
        ));
    }
    if kinds > 1 {
        errors.push(FieldError::forbidden(
            path,
            "please supply one of: tpp, cloud, ngts",
        ));
    }
    errors
}

// ------------------------------------------------------------ Order, Challenge

/// Validates an Order update: the request and everything the ACME server
/// told us is immutable once set. Creation has no rules.
pub fn validate_order_update(old: &Order, new: &Order) -> Vec<FieldError> {
    let mut errors = Vec::new();
    if !old.spec.request.is_empty() && old.spec.request != new.spec.request {
        errors.push(FieldError::forbidden(
            "spec.request",
            "field is immutable once set",
        ));
    }
    let empty = OrderStatus::default();
    let old_status = old.status.as_ref().unwrap_or(&empty);
    let new_status = new.status.as_ref().unwrap_or(&empty);
    errors.extend(validate_order_status_update(old_status, new_status));
    errors
}

fn validate_order_status_update(old: &OrderStatus, new: &OrderStatus) -> Vec<FieldError> {
    const IMMUTABLE: &str = "field is immutable once set";
    let mut errors = Vec::new();
    let path = FieldPath::new("status");
    if set(&old.url) && old.url != new.url {
        errors.push(FieldError::forbidden(path.child("url"), IMMUTABLE));
    }
    if set(&old.finalize_url) && old.finalize_url != new.finalize_url {
        errors.push(FieldError::forbidden(path.child("finalizeURL"), IMMUTABLE));
    }
    if old.certificate.as_ref().is_some_and(|c| !c.is_empty()) && old.certificate != new.certificate
    {
        errors.push(FieldError::forbidden(path.child("certificate"), IMMUTABLE));
    }
    if !old.authorizations.is_empty() {
        let authorizations = path.child("authorizations");
        if old.authorizations.len() != new.authorizations.len() {
            errors.push(FieldError::forbidden(&authorizations, IMMUTABLE));
        }
        for (i, (old_authz, new_authz)) in old
            .authorizations
            .iter()
            .zip(&new.authorizations)
            .enumerate()
        {
            let p = authorizations.index(i);
            if !old_authz.url.is_empty() && old_authz.url != new_authz.url {
                errors.push(FieldError::forbidden(p.child("url"), IMMUTABLE));
            }
            if set(&old_authz.identifier) && old_authz.identifier != new_authz.identifier {
                errors.push(FieldError::forbidden(p.child("identifier"), IMMUTABLE));
            }
            if old_authz.wildcard.is_some() && old_authz.wildcard != new_authz.wildcard {
                errors.push(FieldError::forbidden(p.child("wildcard"), IMMUTABLE));
            }
            if old_authz.initial_state.is_some()
                && old_authz.initial_state != new_authz.initial_state
            {
                errors.push(FieldError::forbidden(p.child("initialState"), IMMUTABLE));
            }
            if !old_authz.challenges.is_empty() {
                let challenges = p.child("challenges");
                if old_authz.challenges.len() != new_authz.challenges.len() {
                    errors.push(FieldError::forbidden(&challenges, IMMUTABLE));
                }
                for (j, (old_ch, new_ch)) in old_authz
                    .challenges
                    .iter()
                    .zip(&new_authz.challenges)
                    .enumerate()
                {
                    let c = challenges.index(j);
                    if !old_ch.url.is_empty() && old_ch.url != new_ch.url {
                        errors.push(FieldError::forbidden(c.child("url"), IMMUTABLE));
                    }
                    if !old_ch.type_.is_empty() && old_ch.type_ != new_ch.type_ {
                        errors.push(FieldError::forbidden(c.child("type"), IMMUTABLE));
                    }
                    if !old_ch.token.is_empty() && old_ch.token != new_ch.token {
                        errors.push(FieldError::forbidden(c.child("token"), IMMUTABLE));
                    }
                }
            }
        }
    }
    errors
}

/// Validates a Challenge update: the spec is immutable after creation.
pub fn validate_challenge_update(old: &Challenge, new: &Challenge) -> Vec<FieldError> {
    if old.spec == new.spec {
        Vec::new()
    } else {
        vec![FieldError::forbidden(
            "spec",
            "challenge spec is immutable after creation",
        )]
    }
}

// ---------------------------------------------------------- generic formats

const DNS1123_SUBDOMAIN_MESSAGE: &str = "a lowercase RFC 1123 subdomain must consist of lower case alphanumeric characters, '-' or '.', and must start and end with an alphanumeric character (e.g. 'example.com', regex used for validation is '[a-z0-9]([-a-z0-9]*[a-z0-9])?(\\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*')";

fn is_dns1123_label(label: &str) -> bool {
    let bytes = label.as_bytes();
    !bytes.is_empty()
        && bytes
            .iter()
            .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || *b == b'-')
        && bytes.first().is_some_and(u8::is_ascii_alphanumeric)
        && bytes.last().is_some_and(u8::is_ascii_alphanumeric)
}

/// Kubernetes' `IsDNS1123Subdomain`: the rule for object names.
pub(crate) fn dns1123_subdomain_errors(value: &str) -> Vec<String> {
    let mut errors = Vec::new();
    if value.len() > 253 {
        errors.push("must be no more than 253 characters".to_owned());
    }
    if !value.split('.').all(is_dns1123_label) {
        errors.push(DNS1123_SUBDOMAIN_MESSAGE.to_owned());
    }
    errors
}

const LABEL_KEY_MESSAGE: &str = "must consist of alphanumeric characters, '-', '_' or '.', and must start and end with an alphanumeric character";
const LABEL_KEY_FORMAT: &str = "([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9]";

fn is_label_name(name: &str) -> bool {
    let bytes = name.as_bytes();
    !bytes.is_empty()
        && bytes
            .iter()
            .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'-' | b'_' | b'.'))
        && bytes.first().is_some_and(u8::is_ascii_alphanumeric)
        && bytes.last().is_some_and(u8::is_ascii_alphanumeric)
}

/// Kubernetes' `IsQualifiedName`: the rule for label and annotation keys.
fn qualified_name_errors(value: &str) -> Vec<String> {
    let regex_error = format!(
        "{LABEL_KEY_MESSAGE} (e.g. 'MyName', or 'my.name', or '123-abc', regex used for validation is '{LABEL_KEY_FORMAT}')"
    );
    let parts: Vec<&str> = value.split('/').collect();
    let mut errors = Vec::new();
    let name = match parts.as_slice() {
        [name] => *name,
        [prefix, name] => {
            if prefix.is_empty() {
                errors.push("prefix part must be non-empty".to_owned());
            } else {
                errors.extend(
                    dns1123_subdomain_errors(prefix)
                        .into_iter()
                        .map(|m| format!("prefix part {m}")),
                );
            }
            *name
        }
        _ => {
            return vec![format!(
                "a valid label key {regex_error} with an optional DNS subdomain prefix and '/' (e.g. 'example.com/MyName')"
            )];
        }
    };
    if name.is_empty() {
        errors.push("name part must be non-empty".to_owned());
    } else if name.len() > 63 {
        errors.push("name part must be no more than 63 characters".to_owned());
    }
    if !is_label_name(name) {
        errors.push(format!("name part {regex_error}"));
    }
    errors
}

fn label_value_errors(value: &str) -> Vec<String> {
    let mut errors = Vec::new();
    if value.len() > 63 {
        errors.push("must be no more than 63 characters".to_owned());
    }
    if !value.is_empty() && !is_label_name(value) {
        errors.push(format!(
            "a valid label must be an empty string or consist of alphanumeric characters, '-', '_' or '.', and must start and end with an alphanumeric character (e.g. 'MyValue', or 'my_value', or '12345', regex used for validation is '({LABEL_KEY_FORMAT})?')"
        ));
    }
    errors
}

fn validate_labels(labels: &BTreeMap<String, String>, path: &FieldPath) -> Vec<FieldError> {
    let mut errors = Vec::new();
    for (key, value) in labels {
        for message in qualified_name_errors(key) {
            errors.push(FieldError::invalid(path, quote(key), message));
        }
        for message in label_value_errors(value) {
            errors.push(FieldError::invalid(path, quote(value), message));
        }
    }
    errors
}

/// Total size Kubernetes allows for an object's annotations.
const TOTAL_ANNOTATION_SIZE_LIMIT: usize = 256 * 1024;

fn validate_annotations(
    annotations: &BTreeMap<String, String>,
    path: &FieldPath,
) -> Vec<FieldError> {
    let mut errors = Vec::new();
    for key in annotations.keys() {
        for message in qualified_name_errors(&key.to_lowercase()) {
            errors.push(FieldError::invalid(path, quote(key), message));
        }
    }
    let total: usize = annotations.iter().map(|(k, v)| k.len() + v.len()).sum();
    if total > TOTAL_ANNOTATION_SIZE_LIMIT {
        errors.push(FieldError::too_long(path, TOTAL_ANNOTATION_SIZE_LIMIT));
    }
    errors
}

/// Go's `net.ParseCIDR`: an address, a slash and a prefix length that fits.
fn is_cidr(text: &str) -> bool {
    let Some((address, prefix)) = text.split_once('/') else {
        return false;
    };
    let Ok(address) = address.parse::<IpAddr>() else {
        return false;
    };
    if prefix.is_empty() || !prefix.bytes().all(|b| b.is_ascii_digit()) {
        return false;
    }
    let Ok(prefix) = prefix.parse::<u32>() else {
        return false;
    };
    match address {
        IpAddr::V4(_) => prefix <= 32,
        IpAddr::V6(_) => prefix <= 128,
    }
}

/// cert-manager's `ParseObjectIdentifier`: dot-separated integers.
fn parse_object_identifier(text: &str) -> Option<Vec<i64>> {
    if text.is_empty() {
        return None;
    }
    text.split('.')
        .map(|part| part.parse::<i64>().ok())
        .collect()
}

/// Go's `net.SplitHostPort`.
fn split_host_port(text: &str) -> Result<(String, String), String> {
    let missing_port = || format!("address {text}: missing port in address");
    let too_many = || format!("address {text}: too many colons in address");
    if let Some(rest) = text.strip_prefix('[') {
        let Some(end) = rest.find(']') else {
            return Err(format!("address {text}: missing ']' in address"));
        };
        let host = &rest[..end];
        let after = &rest[end + 1..];
        return match after.strip_prefix(':') {
            Some(port) if !port.contains(':') => Ok((host.to_owned(), port.to_owned())),
            Some(_) => Err(too_many()),
            None if after.is_empty() => Err(missing_port()),
            None => Err(format!("address {text}: unexpected ']' in address")),
        };
    }
    let Some((host, port)) = text.rsplit_once(':') else {
        return Err(missing_port());
    };
    if host.contains(':') {
        return Err(too_many());
    }
    if host.contains('[') || host.contains(']') {
        return Err(format!("address {text}: unexpected '[' in address"));
    }
    Ok((host.to_owned(), port.to_owned()))
}

/// cert-manager's `ValidNameserver` for the RFC 2136 provider.
fn check_rfc2136_nameserver(nameserver: &str) -> Result<(), String> {
    let nameserver = nameserver.trim();
    if nameserver.is_empty() {
        return Err("RFC2136 nameserver missing".to_owned());
    }
    let host = match split_host_port(nameserver) {
        Ok((host, _)) => host,
        Err(err) if err.contains("missing port") => {
            nameserver.trim_matches(|c| c == '[' || c == ']').to_owned()
        }
        Err(err) => return Err(format!("RFC2136 nameserver is invalid: {err}")),
    };
    if host.is_empty() {
        return Err(format!(
            "RFC2136 nameserver has no host defined, {nameserver}"
        ));
    }
    Ok(())
}

/// cert-manager's `ValidDNS01Nameserver`: `host:port` or a DoH URL.
fn check_dns01_nameserver(nameserver: &str) -> Result<(), String> {
    if nameserver.starts_with("https://") {
        return match url::Url::parse(nameserver) {
            Ok(url) if url.host_str().is_some_and(|h| !h.is_empty()) => Ok(()),
            _ => Err("must be in the format https://<DoH RFC 8484 server address>".to_owned()),
        };
    }
    split_host_port(nameserver)
        .map(|_| ())
        .map_err(|_| "must be in the format <ip address>:<port>".to_owned())
}

/// At least one parsable certificate in a PEM bundle, the soft check
/// cert-manager applies to `caBundle` (Go's `AppendCertsFromPEM`).
fn check_ca_bundle(bundle: &[u8]) -> Result<(), String> {
    let blocks = pem::parse_many(bundle).unwrap_or_default();
    let any = blocks.iter().any(|block| {
        block.tag() == "CERTIFICATE"
            && x509_parser::parse_x509_certificate(block.contents()).is_ok()
    });
    if any {
        Ok(())
    } else {
        Err("cert bundle didn't contain any valid certificates".to_owned())
    }
}

// -------------------------------------------------- RFC 4514 literal subject

#[derive(Clone, Debug, PartialEq, Eq)]
enum AttributeType {
    CommonName,
    Known,
    Unknown,
}

#[derive(Clone, Debug, PartialEq, Eq)]
enum DnValue {
    Text(String),
    /// A `#`-prefixed hex BER value, kept as written.
    Encoded(String),
}

impl DnValue {
    fn display(&self) -> &str {
        match self {
            Self::Text(text) | Self::Encoded(text) => text,
        }
    }
}

#[derive(Clone, Debug)]
struct DnAttribute {
    type_: AttributeType,
    value: DnValue,
}

/// Attribute type names cert-manager recognises in `literalSubject`
/// (case-sensitive, as its lookup is).
const KNOWN_ATTRIBUTE_TYPES: [&str; 10] = [
    "C",
    "O",
    "OU",
    "CN",
    "SERIALNUMBER",
    "L",
    "ST",
    "STREET",
    "DC",
    "UID",
];

/// Parses an RFC 4514 distinguished name as go-ldap's `ParseDN` does, and
/// classifies each attribute type as cert-manager does (a known name, a
/// dotted OID, or unknown).
fn parse_literal_subject(subject: &str) -> Result<Vec<DnAttribute>, String> {
    let mut attributes = Vec::new();
    let mut chars = subject.chars().peekable();
    let mut type_ = String::new();
    let mut value = String::new();
    let mut in_value = false;
    let mut encoded = false;
    let mut pending_spaces = String::new();
    let mut saw_any = false;

    let finish = |type_: &mut String,
                  value: &mut String,
                  encoded: &mut bool,
                  attributes: &mut Vec<DnAttribute>|
     -> Result<(), String> {
        let name = type_.trim().to_owned();
        if name.is_empty() {
            return Err("incomplete type, value pair".to_owned());
        }
        let kind = if name == "CN" {
            AttributeType::CommonName
        } else if KNOWN_ATTRIBUTE_TYPES.contains(&name.as_str())
            || parse_object_identifier(&name).is_some()
        {
            AttributeType::Known
        } else {
            AttributeType::Unknown
        };
        let text = std::mem::take(value);
        attributes.push(DnAttribute {
            type_: kind,
            value: if *encoded {
                DnValue::Encoded(text)
            } else {
                DnValue::Text(text)
            },
        });
        type_.clear();
        *encoded = false;
        Ok(())
    };

    while let Some(c) = chars.next() {
        saw_any = true;
        if !in_value {
            match c {
                '=' => {
                    in_value = true;
                    while chars.peek() == Some(&' ') {
                        chars.next();
                    }
                    if chars.peek() == Some(&'#') {
                        encoded = true;
                    }
                }
                ',' | '+' | ';' => return Err("incomplete type, value pair".to_owned()),
                _ => type_.push(c),
            }
            continue;
        }
        match c {
            '\\' => {
                value.push_str(&pending_spaces);
                pending_spaces.clear();
                match chars.next() {
                    Some(h1) if h1.is_ascii_hexdigit() => {
                        let Some(h2) = chars.next().filter(char::is_ascii_hexdigit) else {
                            return Err(
                                "failed to decode escaped character: encoding/hex: invalid byte"
                                    .to_owned(),
                            );
                        };
                        let byte = u8::from_str_radix(&format!("{h1}{h2}"), 16)
                            .map_err(|err| format!("failed to decode escaped character: {err}"))?;
                        value.push(char::from(byte));
                    }
                    Some(other) => value.push(other),
                    None => return Err("got corrupted escaped character".to_owned()),
                }
            }
            ',' | '+' | ';' => {
                pending_spaces.clear();
                finish(&mut type_, &mut value, &mut encoded, &mut attributes)?;
                in_value = false;
                while chars.peek() == Some(&' ') {
                    chars.next();
                }
            }
            ' ' => pending_spaces.push(c),
            _ => {
                value.push_str(&pending_spaces);
                pending_spaces.clear();
                value.push(c);
            }
        }
    }
    if !saw_any {
        return Ok(attributes);
    }
    if !in_value {
        return Err("DN ended with incomplete type, value pair".to_owned());
    }
    finish(&mut type_, &mut value, &mut encoded, &mut attributes)?;
    Ok(attributes)
}

mod email;
use email::check_email_address;

#[cfg(test)]
mod tests;
