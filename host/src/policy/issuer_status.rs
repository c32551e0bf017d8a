//! An Issuer's (or ClusterIssuer's) status after its plugin validated it:
//! cert-manager's `Ready` condition, and `status.acme` when the plugin
//! reported the ACME account it registered or found (the `issuer-status`
//! import of the plugin contract).
//!
//! Pure: the controller validates, asks [`next_status`] what the status
//! should become, and writes it (and an event) only when this says so.
//!
//! `status.acme.lastPrivateKeyHash` is never computed here. cert-manager
//! fills it with the SHA-256 of the account key's PKCS#1 DER, which only an
//! RSA key has, while certwasm's account keys are ECDSA P-256 by default and
//! stay in the host's key ring; a hash of some other encoding would look
//! like cert-manager's and mean something else. A hash already there (from
//! cert-manager, before a migration) is kept while the account URL stays the
//! same, and dropped when the account changes, since it then describes
//! another account's key.

use k8s_openapi::apimachinery::pkg::apis::meta::v1::Time;

use super::conditions;
use crate::api::issuer::ISSUER_CONDITION_READY;
use crate::api::{AcmeIssuerStatus, Condition, ConditionStatus, IssuerStatus};

/// What validating an issuer found.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Readiness {
    /// True when the plugin said ready.
    pub ready: bool,
    /// cert-manager's reason.
    pub reason: String,
    /// The message.
    pub message: String,
    /// The ACME account the plugin reported; only a successful validation
    /// carries one (the contract drops reports of a failed one).
    pub acme_account: Option<AcmeAccount>,
}

impl Readiness {
    /// Not ready, for `reason` and `message`.
    pub fn not_ready(reason: impl Into<String>, message: impl Into<String>) -> Self {
        Self {
            ready: false,
            reason: reason.into(),
            message: message.into(),
            acme_account: None,
        }
    }
}

/// An ACME account as a plugin reported it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AcmeAccount {
    /// The account URL.
    pub uri: String,
    /// The email it was registered with; empty for none.
    pub email: String,
}

/// What to write after a validation.
#[derive(Debug, Clone, PartialEq)]
pub struct StatusUpdate {
    /// The whole new status.
    pub status: IssuerStatus,
    /// Whether `Ready` changed (status, reason, message or generation), in
    /// which case an event is due as well.
    pub ready_changed: bool,
}

/// The status an issuer should have after a validation found `readiness`,
/// or none when it already has it (nothing to write).
///
/// `Ready` follows the validation, keeping its transition time while its
/// status holds. `status.acme.uri` and `lastRegisteredEmail` are set from
/// the reported account (empty values are omitted, as cert-manager's
/// `omitempty` fields are); without a report, `status.acme` is left as it
/// was, whatever the validation found.
pub fn next_status(
    existing: Option<&IssuerStatus>,
    readiness: &Readiness,
    generation: Option<i64>,
    now: &Time,
) -> Option<StatusUpdate> {
    let mut status = existing.cloned().unwrap_or_default();
    let condition = ready_condition(&status.conditions, readiness, generation, now);
    let ready_changed =
        conditions::find(&status.conditions, ISSUER_CONDITION_READY).is_none_or(|c| {
            c.status != condition.status
                || c.reason != condition.reason
                || c.message != condition.message
                || c.observed_generation != condition.observed_generation
        });
    let acme = match &readiness.acme_account {
        Some(account) if readiness.ready => Some(acme_status(status.acme.as_ref(), account)),
        _ => status.acme.clone(),
    };
    let acme_changed = acme != status.acme;
    if !ready_changed && !acme_changed {
        return None;
    }
    if ready_changed {
        conditions::upsert(&mut status.conditions, condition);
    }
    status.acme = acme;
    Some(StatusUpdate {
        status,
        ready_changed,
    })
}

fn ready_condition(
    existing: &[Condition],
    readiness: &Readiness,
    generation: Option<i64>,
    now: &Time,
) -> Condition {
    let status = if readiness.ready {
        ConditionStatus::True
    } else {
        ConditionStatus::False
    };
    Condition {
        type_: ISSUER_CONDITION_READY.to_owned(),
        status,
        last_transition_time: Some(conditions::transition_time(
            existing,
            ISSUER_CONDITION_READY,
            status,
            now,
        )),
        reason: Some(readiness.reason.clone()),
        message: Some(readiness.message.clone()),
        observed_generation: generation,
    }
}

/// `status.acme` for a reported account (see the module docs for the key
/// hash).
fn acme_status(existing: Option<&AcmeIssuerStatus>, account: &AcmeAccount) -> AcmeIssuerStatus {
    let non_empty = |value: &str| (!value.is_empty()).then(|| value.to_owned());
    let uri = non_empty(&account.uri);
    let last_private_key_hash = existing
        .filter(|previous| previous.uri == uri)
        .and_then(|previous| previous.last_private_key_hash.clone());
    AcmeIssuerStatus {
        uri,
        last_registered_email: non_empty(&account.email),
        last_private_key_hash,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn at(timestamp: &str) -> Time {
        Time(timestamp.parse().expect("timestamp"))
    }

    fn account(uri: &str, email: &str) -> AcmeAccount {
        AcmeAccount {
            uri: uri.to_owned(),
            email: email.to_owned(),
        }
    }

    fn registered(acme_account: Option<AcmeAccount>) -> Readiness {
        Readiness {
            ready: true,
            reason: "ACMEAccountRegistered".to_owned(),
            message: "The ACME account was registered with the ACME server".to_owned(),
            acme_account,
        }
    }

    const URI: &str = "https://127.0.0.1:14000/my-account/1";

    #[test]
    fn a_reported_account_is_written_with_ready() {
        let now = at("2026-01-02T03:04:05Z");
        let update = next_status(
            None,
            &registered(Some(account(URI, "user@example.com"))),
            Some(1),
            &now,
        )
        .expect("a first validation writes");
        assert!(update.ready_changed);
        let ready = &update.status.conditions[0];
        assert_eq!(ready.status, ConditionStatus::True);
        assert_eq!(ready.reason.as_deref(), Some("ACMEAccountRegistered"));
        assert_eq!(ready.last_transition_time, Some(now));
        assert_eq!(
            update.status.acme,
            Some(AcmeIssuerStatus {
                uri: Some(URI.to_owned()),
                last_registered_email: Some("user@example.com".to_owned()),
                last_private_key_hash: None,
            })
        );
    }

    #[test]
    fn the_same_validation_again_writes_nothing() {
        let readiness = registered(Some(account(URI, "user@example.com")));
        let first = next_status(None, &readiness, Some(1), &at("2026-01-02T03:04:05Z"))
            .expect("first write");
        assert_eq!(
            next_status(
                Some(&first.status),
                &readiness,
                Some(1),
                &at("2026-01-02T04:00:00Z")
            ),
            None
        );
    }

    #[test]
    fn a_new_account_or_email_alone_rewrites_acme_without_an_event() {
        let then = at("2026-01-02T03:04:05Z");
        let first = next_status(
            None,
            &registered(Some(account(URI, "old@example.com"))),
            Some(1),
            &then,
        )
        .expect("first write");
        let update = next_status(
            Some(&first.status),
            &registered(Some(account(URI, ""))),
            Some(1),
            &at("2026-01-02T04:00:00Z"),
        )
        .expect("the email changed");
        assert!(!update.ready_changed);
        // Ready is untouched, transition time included.
        assert_eq!(update.status.conditions, first.status.conditions);
        let acme = update.status.acme.expect("acme");
        assert_eq!(acme.uri.as_deref(), Some(URI));
        // An empty email is omitted, as cert-manager's omitempty field.
        assert_eq!(acme.last_registered_email, None);
    }

    #[test]
    fn without_a_report_or_when_not_ready_acme_is_left_as_it_was() {
        let existing = IssuerStatus {
            conditions: Vec::new(),
            acme: Some(AcmeIssuerStatus {
                uri: Some(URI.to_owned()),
                last_registered_email: Some("user@example.com".to_owned()),
                last_private_key_hash: Some("hash".to_owned()),
            }),
        };
        let now = at("2026-01-02T03:04:05Z");
        // A plugin that reports nothing (any plugin built against 0.2.0).
        let silent = next_status(Some(&existing), &registered(None), None, &now).expect("Ready");
        assert_eq!(silent.status.acme, existing.acme);
        // Not ready: even a report (which the runtime never passes on for a
        // failure) leaves acme alone.
        let mut failed = Readiness::not_ready("ErrRegisterACMEAccount", "Failed to verify");
        failed.acme_account = Some(account("https://other/my-account/2", "x@y.z"));
        let update = next_status(Some(&existing), &failed, None, &now).expect("Ready=False");
        assert_eq!(update.status.conditions[0].status, ConditionStatus::False);
        assert_eq!(update.status.acme, existing.acme);
    }

    #[test]
    fn a_key_hash_is_kept_for_the_same_account_and_dropped_for_another() {
        let existing = IssuerStatus {
            conditions: Vec::new(),
            acme: Some(AcmeIssuerStatus {
                uri: Some(URI.to_owned()),
                last_registered_email: Some("old@example.com".to_owned()),
                last_private_key_hash: Some("hash".to_owned()),
            }),
        };
        let now = at("2026-01-02T03:04:05Z");
        let same = next_status(
            Some(&existing),
            &registered(Some(account(URI, "new@example.com"))),
            None,
            &now,
        )
        .expect("write");
        let acme = same.status.acme.expect("acme");
        assert_eq!(acme.last_private_key_hash.as_deref(), Some("hash"));
        assert_eq!(
            acme.last_registered_email.as_deref(),
            Some("new@example.com")
        );
        let other = next_status(
            Some(&existing),
            &registered(Some(account("https://ca/my-account/9", "old@example.com"))),
            None,
            &now,
        )
        .expect("write");
        let acme = other.status.acme.expect("acme");
        assert_eq!(acme.uri.as_deref(), Some("https://ca/my-account/9"));
        assert_eq!(acme.last_private_key_hash, None);
    }
}
