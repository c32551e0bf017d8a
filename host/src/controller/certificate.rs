//! Certificates, as cert-manager's certificate controllers split the work,
//! in one reconcile:
//!
//! 1. **trigger** — the policy chain ([`crate::policy::trigger`]) says whether
//!    and why to issue; `Issuing=True` with that reason, an `Issuing` event;
//!    failed attempts back off 1h·2^(n−1) up to 32h;
//! 2. **key manager** — the next private key, in a temporary Secret labelled
//!    `cert-manager.io/next-private-key` (reused from the current Secret under
//!    `rotationPolicy: Never`);
//! 3. **request manager** — CertificateRequest `<name>-<revision>` with the
//!    CSR and cert-manager's annotations;
//! 4. **issuing** — once the request is Issued, the `kubernetes.io/tls`
//!    Secret with cert-manager's annotations and labels; the revision moves
//!    on and old requests beyond `revisionHistoryLimit` are pruned;
//! 5. **readiness** — `Ready` with the trigger's reason, or
//!    "Certificate is up to date and has not expired", notBefore, notAfter,
//!    renewalTime; requeued at the renewal time.

use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::Duration;

use k8s_openapi::ByteString;
use k8s_openapi::api::core::v1::Secret;
use k8s_openapi::apimachinery::pkg::apis::meta::v1::OwnerReference;
use kube::api::{Api, DeleteParams, PostParams};
use kube::runtime::controller::{Action, Controller};
use kube::runtime::reflector::{ObjectRef, ReflectHandle, Store};
use kube::runtime::watcher;
use kube::{Resource, ResourceExt};

use super::events::EventType;
use super::{Context, ControllerError, ERROR_REQUEUE, drain, informers, secret_outputs};
use crate::api::defaults::{effective_private_key, effective_revision_history_limit};
use crate::api::{
    Base64Bytes, Certificate, CertificateRequest, CertificateRequestSpec, CertificateStatus,
    Condition, ConditionStatus, PrivateKeyAlgorithm, PrivateKeyRotationPolicy,
};
use crate::pki::{self, KeyAlgorithm, KeyEncoding, PrivateKey};
use crate::policy::conditions::{self, from_time, to_time};
use crate::policy::next_key::next_key_secret_name;
use crate::policy::renewal::{retry_after, wake_after};
use crate::policy::request::csr_spec;
use crate::policy::secret::{
    self as secret_policy, CERTIFICATE_NAME, CERTIFICATE_REVISION, NEXT_PRIVATE_KEY_LABEL,
    PRIVATE_KEY_SECRET_NAME,
};
use crate::policy::stored_validity::{INVALID_SPEC, certificate_refusal};
use crate::policy::trigger::{self, RequestView, SecretView, Trigger};

const TRIGGER: &str = "cert-manager-certificates-trigger";
const KEY_MANAGER: &str = "cert-manager-certificates-key-manager";
const REQUEST_MANAGER: &str = "cert-manager-certificates-request-manager";
const ISSUING: &str = "cert-manager-certificates-issuing";
const READY_MESSAGE: &str = "Certificate is up to date and has not expired";
/// How soon a pass that found the cache behind the store looks again, in
/// case the watch event that brings the newer Certificate is slow.
const STALE_CACHE_RECHECK: Duration = Duration::from_millis(200);

fn condition(
    existing: &[Condition],
    type_: &str,
    status: ConditionStatus,
    reason: &str,
    message: &str,
    generation: Option<i64>,
) -> Condition {
    let now = to_time(time::OffsetDateTime::now_utc());
    Condition {
        type_: type_.to_owned(),
        status,
        last_transition_time: Some(conditions::transition_time(existing, type_, status, &now)),
        reason: Some(reason.to_owned()),
        message: Some(message.to_owned()),
        observed_generation: generation,
    }
}

/// Writes `status` unless it is already there; returns the Certificate as
/// stored, so a pass that goes on after writing holds the new
/// resourceVersion for its next write.
async fn write_status(
    context: &Context,
    certificate: &Arc<Certificate>,
    status: CertificateStatus,
) -> Result<Arc<Certificate>, ControllerError> {
    if Some(&status) == certificate.status.as_ref() {
        return Ok(Arc::clone(certificate));
    }
    let mut updated = (**certificate).clone();
    updated.status = Some(status);
    let api: Api<Certificate> = Api::namespaced(
        context.client.clone(),
        &certificate.namespace().unwrap_or_default(),
    );
    let stored = api
        .replace_status(&certificate.name_any(), &PostParams::default(), &updated)
        .await?;
    Ok(Arc::new(stored))
}

fn owner_reference(certificate: &Certificate) -> OwnerReference {
    OwnerReference {
        api_version: Certificate::api_version(&()).into_owned(),
        kind: Certificate::kind(&()).into_owned(),
        name: certificate.name_any(),
        uid: certificate.uid().unwrap_or_default(),
        controller: Some(true),
        block_owner_deletion: Some(true),
    }
}

fn secret_view(secret: &Secret) -> SecretView {
    SecretView {
        data: secret
            .data
            .clone()
            .unwrap_or_default()
            .into_iter()
            .map(|(k, v)| (k, v.0))
            .collect(),
        annotations: secret.annotations().clone(),
    }
}

fn revision_of(request: &CertificateRequest) -> Option<i32> {
    request
        .annotations()
        .get(CERTIFICATE_REVISION)
        .and_then(|r| r.parse().ok())
}

fn request_ready(request: &CertificateRequest) -> Option<(ConditionStatus, String, String)> {
    let status = request.status.as_ref()?;
    let ready = conditions::find(&status.conditions, "Ready")?;
    Some((
        ready.status,
        ready.reason.clone().unwrap_or_default(),
        ready.message.clone().unwrap_or_default(),
    ))
}

fn key_encoding(certificate: &Certificate) -> KeyEncoding {
    certificate
        .spec
        .private_key
        .as_ref()
        .and_then(|k| k.encoding)
        .unwrap_or_default()
}

fn key_algorithm(certificate: &Certificate) -> Result<KeyAlgorithm, ControllerError> {
    let spec = certificate.spec.private_key.clone().unwrap_or_default();
    let algorithm = spec.algorithm.map(PrivateKeyAlgorithm::as_str);
    KeyAlgorithm::from_spec(algorithm, spec.size.and_then(|s| u32::try_from(s).ok()))
        .map_err(ControllerError::from)
}

/// A Certificate stored without admission that fails its rules: Ready=False
/// with the field errors, a warning event when that is news, and nothing
/// issued until a change to the spec brings it back here.
async fn refuse_invalid(
    context: &Context,
    certificate: &Arc<Certificate>,
    refusal: &str,
) -> Result<Action, ControllerError> {
    let mut status = certificate.status.clone().unwrap_or_default();
    let ready = condition(
        &status.conditions,
        "Ready",
        ConditionStatus::False,
        INVALID_SPEC,
        refusal,
        certificate.metadata.generation,
    );
    let news = conditions::find(&status.conditions, "Ready").is_none_or(|c| {
        c.reason.as_deref() != Some(INVALID_SPEC) || c.message.as_deref() != Some(refusal)
    });
    if news {
        conditions::upsert(&mut status.conditions, ready);
        write_status(context, certificate, status).await?;
        context
            .recorder
            .publish(
                &**certificate,
                TRIGGER,
                EventType::Warning,
                INVALID_SPEC,
                refusal,
            )
            .await;
    }
    Ok(Action::await_change())
}

#[allow(clippy::too_many_lines)]
async fn reconcile(
    certificate: Arc<Certificate>,
    context: Arc<Context>,
) -> Result<Action, ControllerError> {
    if certificate.metadata.deletion_timestamp.is_some() {
        return Ok(Action::await_change());
    }
    if let Some(refusal) = certificate_refusal(&certificate) {
        return refuse_invalid(&context, &certificate, &refusal).await;
    }
    let now = time::OffsetDateTime::now_utc();
    let namespace = certificate.namespace().unwrap_or_default();
    let name = certificate.name_any();
    let generation = certificate.metadata.generation;
    let secrets: Api<Secret> = Api::namespaced(context.client.clone(), &namespace);
    let requests: Api<CertificateRequest> = Api::namespaced(context.client.clone(), &namespace);
    let mut status = certificate.status.clone().unwrap_or_default();
    let revision = status.revision.unwrap_or(0);
    let next_revision = revision + 1;

    let secret = secrets.get_opt(&certificate.spec.secret_name).await?;
    let current_request = request_for(&context, &certificate, revision).map(|r| RequestView {
        csr_pem: String::from_utf8_lossy(&r.spec.request.0).into_owned(),
        duration: r.spec.duration.clone(),
        is_ca: r.spec.is_ca,
    });
    let evaluation = trigger::evaluate(
        &certificate,
        secret.as_ref().map(secret_view).as_ref(),
        current_request.as_ref(),
        now,
    );
    if let Some(validity) = evaluation.validity {
        status.not_before = Some(to_time(validity.not_before));
        status.not_after = Some(to_time(validity.not_after));
        status.renewal_time = Some(to_time(validity.renewal_time));
    }

    // An issuance under way (or one a user asked for with `certwasm renew`)
    // goes on even when the Secret looks up to date.
    let in_progress = conditions::find(&status.conditions, "Issuing")
        .filter(|c| c.status == ConditionStatus::True)
        .map(|c| Trigger::manual(c.message.clone().unwrap_or_default()))
        .filter(|_| evaluation.trigger.is_none());
    let Some(trigger) = evaluation.trigger.or(in_progress) else {
        // Up to date; the extra outputs follow the spec without re-issuing.
        secret_outputs::refresh(&context, &certificate, secret.as_ref()).await?;
        let ready = condition(
            &status.conditions,
            "Ready",
            ConditionStatus::True,
            "Ready",
            READY_MESSAGE,
            generation,
        );
        conditions::upsert(&mut status.conditions, ready);
        conditions::remove(&mut status.conditions, "Issuing");
        status.failed_issuance_attempts = None;
        status.last_failure_time = None;
        if let Some(next) = status.next_private_key_secret_name.take() {
            let _ = secrets.delete(&next, &DeleteParams::default()).await;
        }
        write_status(&context, &certificate, status.clone()).await?;
        let due = evaluation.validity.map(|v| v.renewal_time);
        return Ok(Action::requeue(wake_after(due, now)));
    };

    // Not ready, for the trigger's reason, unless the current certificate
    // stays good while it is replaced.
    let ready = if trigger.keeps_ready() {
        condition(
            &status.conditions,
            "Ready",
            ConditionStatus::True,
            "Ready",
            READY_MESSAGE,
            generation,
        )
    } else {
        condition(
            &status.conditions,
            "Ready",
            ConditionStatus::False,
            trigger.reason,
            &trigger.message,
            generation,
        )
    };
    conditions::upsert(&mut status.conditions, ready);

    // Back off after failures.
    let last_failure = status.last_failure_time.as_ref().map(from_time);
    if let Some(at) = retry_after(status.failed_issuance_attempts, last_failure, now) {
        write_status(&context, &certificate, status).await?;
        return Ok(Action::requeue(wake_after(Some(at), now)));
    }

    // Trigger, key manager and request manager run in one pass: each step's
    // outcome is what the next needs, and waiting for the watch to bring
    // back our own status write between them only adds round trips.
    let issuing = conditions::find(&status.conditions, "Issuing")
        .is_some_and(|c| c.status == ConditionStatus::True);
    if !issuing {
        let c = condition(
            &status.conditions,
            "Issuing",
            ConditionStatus::True,
            trigger.reason,
            &trigger.message,
            generation,
        );
        conditions::upsert(&mut status.conditions, c);
    }
    let announce_issuing = |certificate: Arc<Certificate>| {
        let context = Arc::clone(&context);
        let message = trigger.message.clone();
        async move {
            if !issuing {
                context
                    .recorder
                    .publish(
                        &*certificate,
                        TRIGGER,
                        EventType::Normal,
                        "Issuing",
                        &message,
                    )
                    .await;
            }
        }
    };

    // Key manager: the next private key.
    // Only the temporary key made for this revision is used: a name left
    // from an earlier revision (or another scheme) is dropped below.
    let expected_next_key =
        next_key_secret_name(&name, &certificate.uid().unwrap_or_default(), next_revision);
    let next_key_secret = match &status.next_private_key_secret_name {
        Some(next) if *next == expected_next_key => secrets.get_opt(next).await?,
        _ => None,
    };
    let next_key = next_key_secret.and_then(|s| {
        let pem = s
            .data
            .as_ref()
            .and_then(|d| d.get("tls.key"))
            .map(|k| String::from_utf8_lossy(&k.0).into_owned())
            .unwrap_or_default();
        match PrivateKey::from_pem(&pem) {
            Ok(key) => Some((s.name_any(), key)),
            // A broken temporary key: dropped below, and another made.
            Err(_) => None,
        }
    });
    let (next_key_name, next_key, certificate) = match next_key {
        Some((name, key)) => {
            let certificate = write_status(&context, &certificate, status.clone()).await?;
            announce_issuing(Arc::clone(&certificate)).await;
            (name, key, certificate)
        }
        None => {
            // A pass may run on a cached Certificate older than its own last
            // status write (the watch has not brought it back yet). A key
            // made then is stored in a Secret the newer status never names,
            // and is left behind. So read the Certificate live here, once
            // per issuance rather than on every pass, and stop if the cache
            // is behind: the watch brings the newer one.
            let certificates: Api<Certificate> =
                Api::namespaced(context.client.clone(), &namespace);
            let live = certificates.get(&name).await?;
            if live.metadata.resource_version != certificate.metadata.resource_version {
                return Ok(Action::requeue(STALE_CACHE_RECHECK));
            }
            if let Some(broken) = status.next_private_key_secret_name.take() {
                let _ = secrets.delete(&broken, &DeleteParams::default()).await;
            }
            let reuse = effective_private_key(&certificate.spec).rotation_policy
                == PrivateKeyRotationPolicy::Never;
            let existing_key = secret
                .as_ref()
                .filter(|_| reuse)
                .and_then(|s| s.data.as_ref())
                .and_then(|d| d.get("tls.key"))
                .and_then(|k| PrivateKey::from_pem(&String::from_utf8_lossy(&k.0)).ok());
            let (key, reused) = match existing_key {
                Some(key) => (key, true),
                None => {
                    let algorithm = key_algorithm(&certificate)?;
                    let key = tokio::task::spawn_blocking(move || PrivateKey::generate(algorithm))
                        .await??;
                    (key, false)
                }
            };
            let (created_name, key) =
                store_next_key(&secrets, &certificate, &namespace, expected_next_key, key).await?;
            status.next_private_key_secret_name = Some(created_name.clone());
            let certificate = write_status(&context, &certificate, status.clone()).await?;
            announce_issuing(Arc::clone(&certificate)).await;
            let (reason, message) = if reused {
                (
                    "Reused",
                    format!(
                        "Reusing private key stored in existing Secret resource \"{}\"",
                        certificate.spec.secret_name
                    ),
                )
            } else {
                (
                    "Generated",
                    format!(
                        "Stored new private key in temporary Secret resource \"{created_name}\""
                    ),
                )
            };
            context
                .recorder
                .publish(
                    &*certificate,
                    KEY_MANAGER,
                    EventType::Normal,
                    reason,
                    &message,
                )
                .await;
            (created_name, key, certificate)
        }
    };

    // Request manager: the request for the next revision.
    let request = request_for(&context, &certificate, next_revision);
    let request_name = format!("{name}-{next_revision}");
    let Some(request) = request else {
        let spec = csr_spec(&certificate)?;
        let csr = pki::build_csr(&spec, &next_key)?;
        let mut request = CertificateRequest::new(
            &request_name,
            CertificateRequestSpec {
                duration: Some(
                    certificate
                        .spec
                        .duration
                        .clone()
                        .unwrap_or_else(|| "2160h".to_owned()),
                ),
                issuer_ref: certificate.spec.issuer_ref.clone(),
                request: Base64Bytes(csr.into_bytes()),
                is_ca: certificate.spec.is_ca,
                usages: crate::api::defaults::effective_usages(&certificate.spec.usages),
                username: None,
                uid: None,
                groups: Vec::new(),
                extra: BTreeMap::new(),
            },
        );
        request.metadata.namespace = Some(namespace.clone());
        request.metadata.owner_references = Some(vec![owner_reference(&certificate)]);
        request.metadata.annotations = Some(BTreeMap::from([
            (CERTIFICATE_NAME.to_owned(), name.clone()),
            (CERTIFICATE_REVISION.to_owned(), next_revision.to_string()),
            (PRIVATE_KEY_SECRET_NAME.to_owned(), next_key_name.clone()),
        ]));
        match requests.create(&PostParams::default(), &request).await {
            Ok(_) => {}
            Err(kube::Error::Api(status)) if status.code == 409 => {
                // Already there: made by a pass the cache has not caught up
                // with (its arrival triggers the next pass), or a leftover
                // for another key, which the next pass finds stale and
                // deletes.
                return Ok(Action::requeue(Duration::from_secs(1)));
            }
            Err(err) => return Err(err.into()),
        }
        context
            .recorder
            .publish(
                &*certificate,
                REQUEST_MANAGER,
                EventType::Normal,
                "Requested",
                &format!("Created new CertificateRequest resource \"{request_name}\""),
            )
            .await;
        return Ok(Action::await_change());
    };
    // A request made for another key is stale.
    let csr_matches = pki::read_csr(&String::from_utf8_lossy(&request.spec.request.0))
        .is_ok_and(|csr| next_key.matches_public_key(&csr.public_key_der));
    if !csr_matches {
        requests
            .delete(&request.name_any(), &DeleteParams::default())
            .await?;
        return Ok(Action::requeue(Duration::from_secs(1)));
    }

    match request_ready(&request) {
        Some((ConditionStatus::True, reason, _)) if reason == "Issued" => {
            issue_secret(
                &context,
                &certificate,
                secret,
                &request,
                &next_key,
                &mut status,
            )
            .await?;
            let _ = secrets
                .delete(&next_key_name, &DeleteParams::default())
                .await;
            prune_requests(&context, &requests, &certificate, next_revision).await;
            context
                .recorder
                .publish(
                    &*certificate,
                    ISSUING,
                    EventType::Normal,
                    "Issuing",
                    "The certificate has been successfully issued",
                )
                .await;
            Ok(Action::requeue(Duration::from_secs(1)))
        }
        Some((ConditionStatus::False, reason, message))
            if reason == "Failed" || reason == "Denied" =>
        {
            let failed_at = request
                .status
                .as_ref()
                .and_then(|s| s.failure_time.as_ref())
                .map(from_time)
                .unwrap_or(now);
            let recorded = last_failure.is_some_and(|t| t >= failed_at);
            if recorded {
                // The backoff has passed: clear the failed request and retry.
                requests
                    .delete(&request.name_any(), &DeleteParams::default())
                    .await?;
                return Ok(Action::requeue(Duration::from_secs(1)));
            }
            let text = format!(
                "The certificate request has failed to complete and will be retried: {message}"
            );
            status.failed_issuance_attempts =
                Some(status.failed_issuance_attempts.unwrap_or(0) + 1);
            status.last_failure_time = Some(to_time(failed_at.max(now)));
            let c = condition(
                &status.conditions,
                "Issuing",
                ConditionStatus::False,
                &reason,
                &text,
                generation,
            );
            conditions::upsert(&mut status.conditions, c);
            write_status(&context, &certificate, status).await?;
            context
                .recorder
                .publish(&*certificate, ISSUING, EventType::Warning, &reason, &text)
                .await;
            Ok(Action::requeue(Duration::from_secs(1)))
        }
        _ => {
            write_status(&context, &certificate, status).await?;
            Ok(Action::await_change())
        }
    }
}

/// Writes the issued certificate into the Secret and moves the revision on.
async fn issue_secret(
    context: &Context,
    certificate: &Arc<Certificate>,
    existing: Option<Secret>,
    request: &CertificateRequest,
    key: &PrivateKey,
    status: &mut CertificateStatus,
) -> Result<(), ControllerError> {
    let namespace = certificate.namespace().unwrap_or_default();
    let secrets: Api<Secret> = Api::namespaced(context.client.clone(), &namespace);
    let request_status = request.status.clone().unwrap_or_default();
    let chain = request_status.certificate.map(|c| c.0).unwrap_or_default();
    let info = pki::parse_certificate_chain(&String::from_utf8_lossy(&chain))
        .ok()
        .and_then(|c| c.into_iter().next())
        .ok_or(ControllerError::UnreadableIssuedCertificate)?;
    let key_pem = key.to_pem(key_encoding(certificate))?;
    let mut data = BTreeMap::from([
        ("tls.crt".to_owned(), ByteString(chain)),
        ("tls.key".to_owned(), ByteString(key_pem.into_bytes())),
    ]);
    if let Some(ca) = request_status.ca {
        data.insert("ca.crt".to_owned(), ByteString(ca.0));
    }
    let pem = |key: &str| data.get(key).map(|b| b.0.as_slice());
    let material = secret_outputs::Material {
        key_pem: pem("tls.key").unwrap_or_default(),
        chain_pem: pem("tls.crt").unwrap_or_default(),
        ca_pem: pem("ca.crt"),
    };
    let extra = secret_outputs::extra_data(context, certificate, material).await?;
    data.extend(extra);
    let mut annotations = existing
        .as_ref()
        .map(|s| s.annotations().clone())
        .unwrap_or_default();
    annotations.extend(secret_policy::annotations(certificate, &info));
    let mut labels = existing
        .as_ref()
        .map(|s| s.labels().clone())
        .unwrap_or_default();
    labels.extend(secret_policy::labels(certificate));
    match existing {
        Some(mut secret) => {
            // Keep whatever else the Secret holds; replace the TLS data.
            let mut merged = secret.data.take().unwrap_or_default();
            secret_outputs::merge(&mut merged, data);
            secret.data = Some(merged);
            secret.type_ = Some("kubernetes.io/tls".to_owned());
            secret.metadata.annotations = Some(annotations);
            secret.metadata.labels = Some(labels);
            secrets
                .replace(
                    &certificate.spec.secret_name,
                    &PostParams::default(),
                    &secret,
                )
                .await?;
        }
        None => {
            let mut secret = Secret::default();
            secret.metadata.name = Some(certificate.spec.secret_name.clone());
            secret.metadata.namespace = Some(namespace.clone());
            secret.metadata.annotations = Some(annotations);
            secret.metadata.labels = Some(labels);
            secret.type_ = Some("kubernetes.io/tls".to_owned());
            secret.data = Some(data);
            secrets.create(&PostParams::default(), &secret).await?;
        }
    }
    let validity = trigger::validity(certificate, &info);
    let generation = certificate.metadata.generation;
    status.revision = Some(status.revision.unwrap_or(0) + 1);
    // `next_private_key_secret_name` stays: the caller deletes that Secret
    // after this write, and the up-to-date pass that follows clears the
    // name (deleting the Secret again if a crash came in between), so the
    // key is never left behind unnamed.
    status.failed_issuance_attempts = None;
    status.last_failure_time = None;
    status.not_before = Some(to_time(validity.not_before));
    status.not_after = Some(to_time(validity.not_after));
    status.renewal_time = Some(to_time(validity.renewal_time));
    conditions::remove(&mut status.conditions, "Issuing");
    let ready = condition(
        &status.conditions,
        "Ready",
        ConditionStatus::True,
        "Ready",
        READY_MESSAGE,
        generation,
    );
    conditions::upsert(&mut status.conditions, ready);
    write_status(context, certificate, status.clone()).await?;
    Ok(())
}

/// Stores `key` in the temporary next-private-key Secret `secret_name`
/// and returns its name and the key it holds. The name is fixed by the
/// Certificate and revision ([`next_key_secret_name`]): if the Secret is
/// already there, made before a crash that came before its name reached the
/// status, its key is adopted (or, if unreadable, replaced) rather than a
/// second private key left behind.
async fn store_next_key(
    secrets: &Api<Secret>,
    certificate: &Certificate,
    namespace: &str,
    secret_name: String,
    key: PrivateKey,
) -> Result<(String, PrivateKey), ControllerError> {
    let pem = key.to_pem(KeyEncoding::Pkcs8)?;
    let mut next = Secret::default();
    next.metadata.name = Some(secret_name.clone());
    next.metadata.namespace = Some(namespace.to_owned());
    next.metadata.labels = Some(BTreeMap::from([(
        NEXT_PRIVATE_KEY_LABEL.to_owned(),
        "true".to_owned(),
    )]));
    next.metadata.owner_references = Some(vec![owner_reference(certificate)]);
    next.data = Some(BTreeMap::from([(
        "tls.key".to_owned(),
        ByteString(pem.into_bytes()),
    )]));
    match secrets.create(&PostParams::default(), &next).await {
        Ok(created) => return Ok((created.name_any(), key)),
        Err(kube::Error::Api(status)) if status.code == 409 => {}
        Err(e) => return Err(e.into()),
    }
    let existing = secrets.get(&secret_name).await?;
    let adopted = existing
        .data
        .as_ref()
        .and_then(|d| d.get("tls.key"))
        .and_then(|k| PrivateKey::from_pem(&String::from_utf8_lossy(&k.0)).ok());
    if let Some(adopted) = adopted {
        return Ok((secret_name, adopted));
    }
    next.metadata.resource_version = existing.metadata.resource_version;
    secrets
        .replace(&secret_name, &PostParams::default(), &next)
        .await?;
    Ok((secret_name, key))
}

/// The request for `revision` of `certificate`, from the shared cache:
/// cert-manager names it `<certificate>-<revision>` and annotates it with
/// both, so it is found by name rather than by scanning the namespace.
fn request_for(
    context: &Context,
    certificate: &Certificate,
    revision: i32,
) -> Option<Arc<CertificateRequest>> {
    let name = certificate.name_any();
    let request = context.informers.request(
        &certificate.namespace().unwrap_or_default(),
        &format!("{name}-{revision}"),
    )?;
    (is_owned_by(&request, certificate) && revision_of(&request) == Some(revision))
        .then_some(request)
}

/// Whether `request` was made for `certificate` (owned by it, or annotated
/// with its name). Allocation-free: it runs over the whole cache on pruning.
fn is_owned_by(request: &CertificateRequest, certificate: &Certificate) -> bool {
    let uid = certificate.metadata.uid.as_deref();
    let name = certificate.metadata.name.as_deref();
    let owned = request
        .metadata
        .owner_references
        .iter()
        .flatten()
        .any(|o| Some(o.uid.as_str()) == uid);
    let annotated = name.is_some()
        && request
            .metadata
            .annotations
            .as_ref()
            .and_then(|a| a.get(CERTIFICATE_NAME))
            .map(String::as_str)
            == name;
    owned || annotated
}

/// Deletes requests older than `revisionHistoryLimit` revisions. Runs once
/// per issuance, so scanning the namespace's cached requests here is fine.
async fn prune_requests(
    context: &Context,
    requests: &Api<CertificateRequest>,
    certificate: &Certificate,
    current: i32,
) {
    let limit = effective_revision_history_limit(&certificate.spec);
    let namespace = certificate.metadata.namespace.as_deref();
    let owned = context.informers.requests().state_filter(|r| {
        r.metadata.namespace.as_deref() == namespace && is_owned_by(r, certificate)
    });
    for request in owned {
        if let Some(revision) = revision_of(&request)
            && revision <= current - limit
        {
            let _ = requests
                .delete(&request.name_any(), &DeleteParams::default())
                .await;
        }
    }
}

/// The Certificates a Secret's change concerns. A temporary key names its
/// Certificate as owner and an issued Secret carries the certificate-name
/// annotation, so most Secrets map straight to their Certificate; only a
/// Secret with neither (made by hand, or foreign) costs a scan of the cache
/// for Certificates whose `secretName` it is.
fn certificates_of_secret(
    store: &Store<Certificate>,
    secret: &Secret,
) -> Vec<ObjectRef<Certificate>> {
    let namespace = secret.namespace().unwrap_or_default();
    let mut named: Vec<ObjectRef<Certificate>> = secret
        .owner_references()
        .iter()
        .filter(|o| o.kind == "Certificate")
        .map(|o| o.name.as_str())
        .chain(
            secret
                .annotations()
                .get(CERTIFICATE_NAME)
                .map(String::as_str),
        )
        .map(|name| ObjectRef::new(name).within(&namespace))
        .collect();
    if named.is_empty() {
        let name = secret.name_any();
        named = store
            .state_filter(|c| {
                c.spec.secret_name == name && c.namespace().as_deref() == Some(namespace.as_str())
            })
            .iter()
            .map(|c| ObjectRef::from_obj(&**c))
            .collect();
    }
    named.dedup();
    named
}

fn error_policy(certificate: Arc<Certificate>, error: &ControllerError, _: Arc<Context>) -> Action {
    tracing::debug!(certificate = %certificate.name_any(), %error, "certificate reconcile failed");
    Action::requeue(ERROR_REQUEUE)
}

/// Runs the Certificate controller: it follows its Certificates, the
/// requests and temporary key Secrets they own, and the Secrets they name.
pub async fn run(context: Arc<Context>, trigger: ReflectHandle<CertificateRequest>) {
    let certificates: Api<Certificate> = Api::all(context.client.clone());
    let secrets: Api<Secret> = Api::all(context.client.clone());
    let cached = informers::cached(certificates);
    let store = cached.store.clone();
    let controller = Controller::for_shared_stream(cached.trigger, cached.store)
        .with_config(context.controller_config());
    let _ = context.metrics.caches.certificates.set(store.clone());
    let metrics = Arc::clone(&context.metrics);
    let stream = controller
        .owns_shared_stream(trigger)
        .watches(
            secrets,
            watcher::Config::default(),
            move |secret: Secret| certificates_of_secret(&store, &secret),
        )
        .run(reconcile, error_policy, context);
    tokio::join!(cached.driver, drain("certificates", &metrics, stream));
}
