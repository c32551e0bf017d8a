//! The trigger and readiness policy chains: the first failing check says
//! why a Certificate must be (re)issued, in cert-manager's words, and is
//! both the `Issuing` reason and the `Ready=False` reason.

use std::collections::BTreeMap;
use std::time::Duration;

use time::OffsetDateTime;

use super::renewal::renewal_time;
use super::request::{certificate_violations, request_violations};
use super::secret::{CERTIFICATE_NAME, ISSUER_GROUP, ISSUER_KIND, ISSUER_NAME};
use crate::api::{Certificate, PrivateKeyAlgorithm};
use crate::go_duration;
use crate::pki::{self, CertificateInfo, KeyAlgorithm, PrivateKey};

/// Why issuance is needed: a cert-manager reason and message.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Trigger {
    /// `DoesNotExist`, `MissingData`, `InvalidKeyPair`, ...
    pub reason: &'static str,
    /// The message shown on the conditions and the Issuing event.
    pub message: String,
}

/// The reason `certwasm renew` (like `cmctl renew`) writes on `Issuing`.
pub const MANUALLY_TRIGGERED: &str = "ManuallyTriggered";

impl Trigger {
    fn new(reason: &'static str, message: impl Into<String>) -> Trigger {
        Trigger {
            reason,
            message: message.into(),
        }
    }

    /// A re-issuance asked for by a user (`certwasm renew`), who set
    /// `Issuing=True` with reason ManuallyTriggered and this message.
    pub fn manual(message: impl Into<String>) -> Trigger {
        Trigger::new(MANUALLY_TRIGGERED, message)
    }

    /// Whether the current certificate is still good while this issuance
    /// runs: a scheduled renewal or a manual one leaves `Ready=True`, as
    /// cert-manager's readiness chain has no such reasons.
    pub fn keeps_ready(&self) -> bool {
        matches!(self.reason, "Renewing" | MANUALLY_TRIGGERED)
    }
}

/// The Secret as the policies see it.
#[derive(Debug, Clone, Default)]
pub struct SecretView {
    /// Decoded data.
    pub data: BTreeMap<String, Vec<u8>>,
    /// Annotations.
    pub annotations: BTreeMap<String, String>,
}

/// The current revision's CertificateRequest, as the policies see it.
#[derive(Debug, Clone)]
pub struct RequestView {
    /// The CSR, PEM.
    pub csr_pem: String,
    /// `spec.duration`.
    pub duration: Option<String>,
    /// `spec.isCA`.
    pub is_ca: bool,
}

/// What the chain concluded.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Evaluation {
    /// Issue now, and why; `None` when the Secret is up to date.
    pub trigger: Option<Trigger>,
    /// The issued certificate's validity and renewal time, when the Secret
    /// holds a readable certificate.
    pub validity: Option<Validity>,
}

/// Validity of the certificate in the Secret.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Validity {
    /// notBefore.
    pub not_before: OffsetDateTime,
    /// notAfter.
    pub not_after: OffsetDateTime,
    /// When it is renewed.
    pub renewal_time: OffsetDateTime,
}

fn rfc1123(at: OffsetDateTime) -> String {
    let format = time::macros::format_description!(
        "[weekday repr:short], [day] [month repr:short] [year] [hour]:[minute]:[second] UTC"
    );
    at.format(&format).unwrap_or_else(|_| at.to_string())
}

fn rfc3339(at: OffsetDateTime) -> String {
    crate::clock::timestamp(at)
}

/// Runs the trigger chain (and the readiness chain's Expired check) for
/// `certificate` against its Secret and current request at `now`.
pub fn evaluate(
    certificate: &Certificate,
    secret: Option<&SecretView>,
    current_request: Option<&RequestView>,
    now: OffsetDateTime,
) -> Evaluation {
    let Some(secret) = secret else {
        return Evaluation {
            trigger: Some(Trigger::new(
                "DoesNotExist",
                "Issuing certificate as Secret does not exist",
            )),
            validity: None,
        };
    };
    if secret.data.is_empty() {
        return missing("Issuing certificate as Secret does not contain any data");
    }
    let key_pem = secret.data.get("tls.key").filter(|v| !v.is_empty());
    let cert_pem = secret.data.get("tls.crt").filter(|v| !v.is_empty());
    let Some(key_pem) = key_pem else {
        return missing("Issuing certificate as Secret does not contain a private key");
    };
    let Some(cert_pem) = cert_pem else {
        return missing("Issuing certificate as Secret does not contain a certificate");
    };
    let key = match PrivateKey::from_pem(&String::from_utf8_lossy(key_pem)) {
        Ok(key) => key,
        Err(err) => {
            return no_validity(Trigger::new(
                "InvalidKeyPair",
                format!("Issuing certificate as Secret contains invalid private key data: {err}"),
            ));
        }
    };
    let info = match pki::parse_certificate_chain(&String::from_utf8_lossy(cert_pem))
        .ok()
        .and_then(|chain| chain.into_iter().next())
    {
        Some(info) => info,
        None => {
            return no_validity(Trigger::new(
                "InvalidCertificate",
                "Issuing certificate as Secret contains an invalid certificate: no PEM certificate could be decoded",
            ));
        }
    };
    let validity = validity(certificate, &info);
    let with = |trigger: Trigger| Evaluation {
        trigger: Some(trigger),
        validity: Some(validity),
    };
    if !pki::public_key_matches(&info, &key) {
        return with(Trigger::new(
            "InvalidKeyPair",
            "Issuing certificate as Secret contains a private key that does not match the certificate",
        ));
    }
    let key_violations = key_violations(certificate, &key);
    if !key_violations.is_empty() {
        return with(Trigger::new(
            "SecretMismatch",
            format!(
                "Existing private key is not up to date for spec: [{}]",
                key_violations.join(" ")
            ),
        ));
    }
    if let Some(trigger) = issuer_mismatch(certificate, secret) {
        return with(trigger);
    }
    if let Some(name) = secret.annotations.get(CERTIFICATE_NAME)
        && Some(name) != certificate.metadata.name.as_ref()
    {
        return with(Trigger::new(
            "IncorrectCertificate",
            format!(
                "Secret was issued for \"{name}\". If this message is not transient, you might have two conflicting Certificates pointing to the same secret."
            ),
        ));
    }
    match current_request {
        Some(request) => match pki::read_csr(&request.csr_pem) {
            Ok(csr) => {
                if !key.matches_public_key(&csr.public_key_der) {
                    return with(Trigger::new(
                        "SecretMismatch",
                        "Secret contains a private key that does not match the current CertificateRequest",
                    ));
                }
                let violations = request_violations(
                    &csr,
                    request.duration.as_deref(),
                    request.is_ca,
                    certificate,
                );
                if !violations.is_empty() {
                    return with(Trigger::new(
                        "RequestChanged",
                        format!(
                            "Fields on existing CertificateRequest resource not up to date: [{}]",
                            violations.join(" ")
                        ),
                    ));
                }
            }
            Err(err) => {
                return with(Trigger::new(
                    "InvalidCertificateRequest",
                    format!("Failed to decode current CertificateRequest: {err}"),
                ));
            }
        },
        None => {
            let violations = certificate_violations(&info, certificate);
            if !violations.is_empty() {
                return with(Trigger::new(
                    "SecretMismatch",
                    format!(
                        "Issuing certificate as Existing issued Secret is not up to date for spec: [{}]",
                        violations.join(" ")
                    ),
                ));
            }
        }
    }
    if now >= validity.renewal_time {
        if now > validity.not_after {
            return with(Trigger::new(
                "Expired",
                format!("Certificate expired on {}", rfc1123(validity.not_after)),
            ));
        }
        return with(Trigger::new(
            "Renewing",
            format!(
                "Renewing certificate as renewal was scheduled at {}",
                rfc3339(validity.renewal_time)
            ),
        ));
    }
    Evaluation {
        trigger: None,
        validity: Some(validity),
    }
}

fn missing(message: &str) -> Evaluation {
    no_validity(Trigger::new("MissingData", message))
}

fn no_validity(trigger: Trigger) -> Evaluation {
    Evaluation {
        trigger: Some(trigger),
        validity: None,
    }
}

/// The validity and renewal time of an issued certificate under `spec`.
pub fn validity(certificate: &Certificate, info: &CertificateInfo) -> Validity {
    let renew_before: Option<Duration> = certificate
        .spec
        .renew_before
        .as_deref()
        .and_then(|d| go_duration::parse(d).ok());
    Validity {
        not_before: info.not_before,
        not_after: info.not_after,
        renewal_time: renewal_time(
            info.not_before,
            info.not_after,
            renew_before,
            certificate.spec.renew_before_percentage,
        ),
    }
}

fn key_violations(certificate: &Certificate, key: &PrivateKey) -> Vec<String> {
    let Some(spec) = &certificate.spec.private_key else {
        return Vec::new();
    };
    let algorithm = spec.algorithm.map(PrivateKeyAlgorithm::as_str);
    let wanted = KeyAlgorithm::from_spec(algorithm, spec.size.and_then(|s| u32::try_from(s).ok()));
    let Ok(wanted) = wanted else {
        return Vec::new();
    };
    let actual = key.algorithm();
    let mut violations = Vec::new();
    if wanted.cert_manager_algorithm() != actual.cert_manager_algorithm() {
        violations.push("spec.privateKey.algorithm".to_owned());
    } else if spec.size.is_some() && wanted.size() != actual.size() {
        violations.push("spec.privateKey.size".to_owned());
    }
    violations
}

fn issuer_mismatch(certificate: &Certificate, secret: &SecretView) -> Option<Trigger> {
    let name = secret.annotations.get(ISSUER_NAME);
    let kind = secret.annotations.get(ISSUER_KIND);
    let group = secret.annotations.get(ISSUER_GROUP);
    if name.is_none() && kind.is_none() && group.is_none() {
        return None;
    }
    let issuer = &certificate.spec.issuer_ref;
    let or_default = |v: Option<&String>, default: &str| match v.map(String::as_str) {
        None | Some("") => default.to_owned(),
        Some(v) => v.to_owned(),
    };
    let kind = or_default(kind, "Issuer");
    let group = or_default(group, "cert-manager.io");
    let name = name.cloned().unwrap_or_default();
    if name != issuer.name || kind != issuer.effective_kind() || group != issuer.effective_group() {
        return Some(Trigger::new(
            "IncorrectIssuer",
            format!(
                "Issuing certificate as Secret was previously issued by \"{kind}.{group}/{name}\""
            ),
        ));
    }
    None
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::pki::KeyAlgorithm;
    use serde_json::json;

    fn certificate() -> Certificate {
        serde_json::from_value(json!({
            "apiVersion": "cert-manager.io/v1", "kind": "Certificate",
            "metadata": {"name": "web", "namespace": "default"},
            "spec": {"secretName": "web-tls", "dnsNames": ["example.com"],
                     "issuerRef": {"name": "ca"}}
        }))
        .expect("certificate")
    }

    /// A self-signed certificate for `names`, valid `days` from `start`.
    fn issued(names: &[&str], start: OffsetDateTime, days: i64) -> (String, String) {
        let key = PrivateKey::generate(KeyAlgorithm::EcdsaP256).expect("key");
        let pem = key.to_pem(crate::pki::KeyEncoding::Pkcs8).expect("pem");
        let rc_key = rcgen::KeyPair::from_pem(&pem).expect("rcgen key");
        let mut params = rcgen::CertificateParams::new(
            names.iter().map(|s| (*s).to_owned()).collect::<Vec<_>>(),
        )
        .expect("params");
        params.not_before = start;
        params.not_after = start + time::Duration::days(days);
        let cert = params.self_signed(&rc_key).expect("cert");
        (cert.pem(), pem)
    }

    fn secret(cert: &str, key: &str) -> SecretView {
        SecretView {
            data: BTreeMap::from([
                ("tls.crt".to_owned(), cert.as_bytes().to_vec()),
                ("tls.key".to_owned(), key.as_bytes().to_vec()),
            ]),
            annotations: BTreeMap::new(),
        }
    }

    const NOW: OffsetDateTime = time::macros::datetime!(2026-02-01 00:00 UTC);

    #[test]
    fn a_missing_secret_or_data_triggers_issuance() {
        let c = certificate();
        assert_eq!(
            evaluate(&c, None, None, NOW).trigger.map(|t| t.reason),
            Some("DoesNotExist")
        );
        let empty = SecretView::default();
        let t = evaluate(&c, Some(&empty), None, NOW)
            .trigger
            .expect("trigger");
        assert_eq!(
            t.message,
            "Issuing certificate as Secret does not contain any data"
        );
        let (cert, _) = issued(&["example.com"], NOW, 90);
        let mut no_key = secret(&cert, "");
        no_key.data.remove("tls.key");
        let t = evaluate(&c, Some(&no_key), None, NOW)
            .trigger
            .expect("trigger");
        assert_eq!(
            t.message,
            "Issuing certificate as Secret does not contain a private key"
        );
    }

    #[test]
    fn an_up_to_date_secret_is_left_alone_until_renewal() {
        let c = certificate();
        let start = time::macros::datetime!(2026-01-01 00:00 UTC);
        let (cert, key) = issued(&["example.com"], start, 90);
        let view = secret(&cert, &key);
        let e = evaluate(&c, Some(&view), None, NOW);
        assert_eq!(e.trigger, None);
        let validity = e.validity.expect("validity");
        assert_eq!(
            validity.renewal_time,
            time::macros::datetime!(2026-03-02 00:00 UTC)
        );
        let later = time::macros::datetime!(2026-03-03 00:00 UTC);
        let t = evaluate(&c, Some(&view), None, later)
            .trigger
            .expect("renewing");
        assert_eq!(t.reason, "Renewing");
        assert_eq!(
            t.message,
            "Renewing certificate as renewal was scheduled at 2026-03-02T00:00:00Z"
        );
        let expired = time::macros::datetime!(2026-05-01 00:00 UTC);
        let t = evaluate(&c, Some(&view), None, expired)
            .trigger
            .expect("expired");
        assert_eq!(t.reason, "Expired");
        assert_eq!(
            t.message,
            "Certificate expired on Wed, 01 Apr 2026 00:00:00 UTC"
        );
    }

    #[test]
    fn changed_names_mismatched_keys_and_other_issuers_trigger() {
        let c = certificate();
        let (cert, key) = issued(&["other.example.com"], NOW, 90);
        let t = evaluate(&c, Some(&secret(&cert, &key)), None, NOW)
            .trigger
            .expect("mismatch");
        assert_eq!(t.reason, "SecretMismatch");
        assert!(t.message.contains("spec.dnsNames"), "{}", t.message);

        let (_, other_key) = issued(&["example.com"], NOW, 90);
        let (cert, _) = issued(&["example.com"], NOW, 90);
        let t = evaluate(&c, Some(&secret(&cert, &other_key)), None, NOW)
            .trigger
            .expect("keypair");
        assert_eq!(t.reason, "InvalidKeyPair");

        let (cert, key) = issued(&["example.com"], NOW, 90);
        let mut view = secret(&cert, &key);
        view.annotations
            .insert(ISSUER_NAME.to_owned(), "old-ca".to_owned());
        let t = evaluate(&c, Some(&view), None, NOW)
            .trigger
            .expect("issuer");
        assert_eq!(t.reason, "IncorrectIssuer");
        assert_eq!(
            t.message,
            "Issuing certificate as Secret was previously issued by \"Issuer.cert-manager.io/old-ca\""
        );
    }
}
