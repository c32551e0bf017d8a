//! CertificateRequests: approved (automatically with reason
//! `cert-manager.io` unless turned off), then signed by the plugin the
//! referenced issuer selects. A `pending` answer is re-queued at the
//! plugin's retry-after with its opaque state kept on the request, so a
//! restart resumes it; a failure ends the request as Failed (cert-manager
//! never retries a failed request; the Certificate makes a new one).

use std::sync::Arc;
use std::time::Duration;

use base64::Engine;
use k8s_openapi::api::core::v1::Secret;
use kube::ResourceExt;
use kube::api::{Api, Patch, PatchParams, PostParams};
use kube::runtime::controller::{Action, Controller};
use kube::runtime::reflector::{ObjectRef, ReflectHandle};
use kube::runtime::watcher;
use serde_json::json;

use super::acme;
use super::events::EventType;
use super::secrets::ApiSecrets;
use super::{Context, ControllerError, ERROR_REQUEUE, drain};
use crate::api::{
    Base64Bytes, CertificateRequest, ClusterIssuer, Condition, ConditionStatus, Issuer,
    IssuerStatus,
};
use crate::pki::{self, PrivateKey};
use crate::plugin::bindings::types::{
    CertificateRequest as WitRequest, IssueOutcome, IssuerConfig, IssuerKind,
    KeyUsage as WitKeyUsage, Need,
};
use crate::plugin::selection::select_plugin;
use crate::plugin::{CallEffects, CallLimits, IssueCall, IssueError};
use crate::policy::conditions::{self, to_time};
use crate::policy::secret::PRIVATE_KEY_SECRET_NAME;
use crate::policy::stored_validity::{INVALID_SPEC, request_refusal};

/// Where a pending plugin call's opaque state is kept between calls.
pub const PLUGIN_STATE_ANNOTATION: &str = "certwasm.io/plugin-state";

/// When a pending plugin is to be called next (Unix nanoseconds), so that
/// the request's own updates do not call it early.
pub const NEXT_CALL_ANNOTATION: &str = "certwasm.io/plugin-next-call";

/// How soon the plugin is called after a challenge was presented: at
/// once, so that it tells the ACME server to validate (the presentation
/// and the self-check are done; waiting only adds latency). Safe because
/// the call reads the request fresh ([`fresh_for_call`]), never the
/// cache that may lag the state just written.
const PRESENTED_RECHECK: Duration = Duration::ZERO;

/// The shortest wait a plugin's `retry-after-ms` is given: a floor against
/// a plugin that would spin (the ACME plugin's own first poll is 25 ms).
const MIN_PLUGIN_WAIT: Duration = Duration::from_millis(20);

/// How long to wait before calling the plugin again, if at all.
fn wait_before_next_call(
    next_call_nanos: Option<i128>,
    now: time::OffsetDateTime,
) -> Option<Duration> {
    let remaining = next_call_nanos? - now.unix_timestamp_nanos();
    (remaining > 0).then(|| Duration::from_nanos(u64::try_from(remaining).unwrap_or(u64::MAX)))
}
const COMPONENT: &str = "cert-manager-certificaterequests-issuer";
const WAIT_FOR_ISSUER: Duration = Duration::from_secs(30);
const RETRY_TRANSIENT: Duration = Duration::from_secs(30);

fn condition(
    existing: &[Condition],
    type_: &str,
    status: ConditionStatus,
    reason: &str,
    message: &str,
) -> Condition {
    let now = to_time(time::OffsetDateTime::now_utc());
    Condition {
        type_: type_.to_owned(),
        status,
        last_transition_time: Some(conditions::transition_time(existing, type_, status, &now)),
        reason: Some(reason.to_owned()),
        message: Some(message.to_owned()),
        observed_generation: None,
    }
}

fn is_true(request: &CertificateRequest, type_: &str) -> bool {
    request
        .status
        .as_ref()
        .and_then(|s| conditions::find(&s.conditions, type_))
        .is_some_and(|c| c.status == ConditionStatus::True)
}

fn ready_reason(request: &CertificateRequest) -> Option<String> {
    request
        .status
        .as_ref()
        .and_then(|s| conditions::find(&s.conditions, "Ready"))
        .and_then(|c| c.reason.clone())
}

/// Writes `request`'s status with `update` applied, unless nothing changed.
/// Writes the status `update` makes, unless it changes nothing; returns the
/// request as stored, so a pass that goes on holds the new resourceVersion.
async fn write_status(
    context: &Context,
    request: &CertificateRequest,
    update: impl FnOnce(&mut crate::api::CertificateRequestStatus),
) -> Result<CertificateRequest, ControllerError> {
    let mut updated = request.clone();
    let mut status = updated.status.clone().unwrap_or_default();
    update(&mut status);
    if Some(&status) == request.status.as_ref() {
        return Ok(updated);
    }
    updated.status = Some(status);
    let namespace = request.namespace().unwrap_or_default();
    let api: Api<CertificateRequest> = Api::namespaced(context.client.clone(), &namespace);
    Ok(api
        .replace_status(&request.name_any(), &PostParams::default(), &updated)
        .await?)
}

async fn set_ready(
    context: &Context,
    request: &CertificateRequest,
    status: ConditionStatus,
    reason: &str,
    message: &str,
    failed: bool,
) -> Result<(), ControllerError> {
    write_status(context, request, |s| {
        let c = condition(&s.conditions, "Ready", status, reason, message);
        conditions::upsert(&mut s.conditions, c);
        if failed {
            s.failure_time = Some(to_time(time::OffsetDateTime::now_utc()));
        }
    })
    .await?;
    Ok(())
}

/// Ready=False, reason Pending, and an event with the same message: the
/// request waits for something (an issuer, a key) and is looked at again.
async fn pending(
    context: &Context,
    request: &CertificateRequest,
    event_type: EventType,
    event_reason: &str,
    message: &str,
) -> Result<(), ControllerError> {
    set_ready(
        context,
        request,
        ConditionStatus::False,
        "Pending",
        message,
        false,
    )
    .await?;
    context
        .recorder
        .publish(request, COMPONENT, event_type, event_reason, message)
        .await;
    Ok(())
}

/// The issuer a request names: its spec (JSON), kind, namespace of its
/// Secrets, and readiness; `None` when it does not exist.
struct ResolvedIssuer {
    kind: IssuerKind,
    spec: serde_json::Value,
    secret_namespace: String,
    status: IssuerStatus,
}

async fn resolve_issuer(
    context: &Context,
    request: &CertificateRequest,
) -> Result<Option<ResolvedIssuer>, ControllerError> {
    let reference = &request.spec.issuer_ref;
    let namespace = request.namespace().unwrap_or_default();
    if reference.is_cluster_issuer() {
        let api: Api<ClusterIssuer> = Api::all(context.client.clone());
        Ok(api.get_opt(&reference.name).await?.map(|i| ResolvedIssuer {
            kind: IssuerKind::ClusterIssuer,
            spec: serde_json::to_value(&i.spec.0).unwrap_or_default(),
            secret_namespace: context.options.cluster_resource_namespace.clone(),
            status: i.status.unwrap_or_default(),
        }))
    } else {
        let api: Api<Issuer> = Api::namespaced(context.client.clone(), &namespace);
        Ok(api.get_opt(&reference.name).await?.map(|i| ResolvedIssuer {
            kind: IssuerKind::Issuer,
            spec: serde_json::to_value(&i.spec).unwrap_or_default(),
            secret_namespace: namespace.clone(),
            status: i.status.unwrap_or_default(),
        }))
    }
}

/// A request that can never be signed as it stands: `InvalidRequest=True`
/// with `reason`, `Ready=False` reason `Failed` (final: `failureTime` set),
/// and a warning event with `event_reason`, all saying `message`.
async fn fail_invalid_request(
    context: &Context,
    request: &CertificateRequest,
    reason: &str,
    event_reason: &str,
    message: &str,
) -> Result<(), ControllerError> {
    write_status(context, request, |s| {
        let c = condition(
            &s.conditions,
            "InvalidRequest",
            ConditionStatus::True,
            reason,
            message,
        );
        conditions::upsert(&mut s.conditions, c);
        let c = condition(
            &s.conditions,
            "Ready",
            ConditionStatus::False,
            "Failed",
            message,
        );
        conditions::upsert(&mut s.conditions, c);
        s.failure_time = Some(to_time(time::OffsetDateTime::now_utc()));
    })
    .await?;
    context
        .recorder
        .publish(
            request,
            COMPONENT,
            EventType::Warning,
            event_reason,
            message,
        )
        .await;
    Ok(())
}

async fn reconcile(
    request: Arc<CertificateRequest>,
    context: Arc<Context>,
) -> Result<Action, ControllerError> {
    if request.metadata.deletion_timestamp.is_some() {
        return Ok(Action::await_change());
    }
    // Only requests for cert-manager.io issuers are ours; others belong to
    // external issuers' controllers.
    if request.spec.issuer_ref.effective_group() != crate::api::GROUP {
        return Ok(Action::await_change());
    }
    if matches!(
        ready_reason(&request).as_deref(),
        Some("Issued" | "Failed" | "Denied")
    ) {
        return Ok(Action::await_change());
    }
    // Stored without admission and failing its rules: never signed.
    if let Some(refusal) = request_refusal(&request) {
        fail_invalid_request(&context, &request, INVALID_SPEC, INVALID_SPEC, &refusal).await?;
        return Ok(Action::await_change());
    }
    let approved = is_true(&request, "Approved");
    let denied = is_true(&request, "Denied");
    if denied {
        set_ready(
            &context,
            &request,
            ConditionStatus::False,
            "Denied",
            "The CertificateRequest was denied by an approval controller",
            true,
        )
        .await?;
        return Ok(Action::await_change());
    }
    // Approved here, the request goes on to its issuer in the same pass.
    let request = if approved {
        request
    } else if context.options.auto_approve {
        let approved = write_status(&context, &request, |s| {
            let c = condition(
                &s.conditions,
                "Approved",
                ConditionStatus::True,
                "cert-manager.io",
                "Certificate request has been approved by cert-manager.io",
            );
            conditions::upsert(&mut s.conditions, c);
        })
        .await?;
        Arc::new(approved)
    } else {
        context
            .recorder
            .publish(
                &*request,
                COMPONENT,
                EventType::Normal,
                "WaitingForApproval",
                "Not signing CertificateRequest until it is Approved",
            )
            .await;
        return Ok(Action::await_change());
    };

    // Check the CSR before bothering the issuer.
    let csr_pem = String::from_utf8_lossy(&request.spec.request.0).into_owned();
    if let Err(err) = pki::parse_csr(&csr_pem) {
        let message = format!("Failed to decode CSR in spec.request: {err}");
        fail_invalid_request(
            &context,
            &request,
            "RequestParsingError",
            "DecodeError",
            &message,
        )
        .await?;
        return Ok(Action::await_change());
    }

    let reference = request.spec.issuer_ref.clone();
    let Some(issuer) = resolve_issuer(&context, &request).await? else {
        let kind = reference.effective_kind();
        let message = format!(
            "Referenced \"{kind}\" not found: {}.cert-manager.io \"{}\" not found",
            kind.to_lowercase(),
            reference.name
        );
        pending(
            &context,
            &request,
            EventType::Warning,
            "IssuerNotFound",
            &message,
        )
        .await?;
        return Ok(Action::requeue(WAIT_FOR_ISSUER));
    };
    if !issuer.status.is_ready() {
        let message = "Referenced issuer does not have a Ready status condition";
        pending(
            &context,
            &request,
            EventType::Normal,
            "IssuerNotReady",
            message,
        )
        .await?;
        return Ok(Action::requeue(WAIT_FOR_ISSUER));
    }
    let choice = match select_plugin(&issuer.spec) {
        Ok(choice) => choice,
        Err(err) => {
            let message = err.to_string();
            pending(
                &context,
                &request,
                EventType::Warning,
                "IssuerTypeMissing",
                &message,
            )
            .await?;
            return Ok(Action::requeue(WAIT_FOR_ISSUER));
        }
    };

    // The plugin first: what it declares it needs decides what it is lent.
    let plugin = {
        let context = Arc::clone(&context);
        let plugin_name = choice.plugin_name().to_owned();
        // A namespaced Issuer may use only plugins granted to its namespace.
        let scope = (issuer.kind == IssuerKind::Issuer).then(|| issuer.secret_namespace.clone());
        tokio::task::spawn_blocking(move || context.plugins.resolve(&plugin_name, scope.as_deref()))
            .await??
            .plugin
    };

    // Only a plugin that declares the need is lent the request's own
    // private key (a self-signing issuer).
    let request_key = match request.annotations().get(PRIVATE_KEY_SECRET_NAME) {
        Some(secret_name) if plugin.needs(Need::RequestKey) => {
            let namespace = request.namespace().unwrap_or_default();
            let secrets: Api<Secret> = Api::namespaced(context.client.clone(), &namespace);
            let key = secrets
                .get_opt(secret_name)
                .await?
                .and_then(|s| s.data)
                .and_then(|d| d.get("tls.key").cloned())
                .and_then(|k| PrivateKey::from_pem(&String::from_utf8_lossy(&k.0)).ok());
            match key {
                Some(key) => Some(Arc::new(key)),
                None => {
                    let message = format!(
                        "Referenced private key Secret resource \"{secret_name}\" does not contain a usable private key"
                    );
                    pending(
                        &context,
                        &request,
                        EventType::Warning,
                        "ErrorParsingKey",
                        &message,
                    )
                    .await?;
                    return Ok(Action::requeue(WAIT_FOR_ISSUER));
                }
            }
        }
        _ => None,
    };

    // The plugin's state and next call as last written, not as cached.
    let Some(request) = fresh_for_call(&context, &request).await?.map(Arc::new) else {
        return Ok(Action::await_change());
    };
    // A pending plugin is called again at the time it asked for, not at
    // every change of the request (its own state write is one).
    let next_call = request
        .annotations()
        .get(NEXT_CALL_ANNOTATION)
        .and_then(|at| at.parse::<i128>().ok());
    if let Some(wait) = wait_before_next_call(next_call, time::OffsetDateTime::now_utc()) {
        return Ok(Action::requeue(wait));
    }
    // Orders and Challenges are mirrored for any plugin that reports
    // order progress.
    let has_orders = plugin.needs(Need::Orders);
    let presented_challenges = if has_orders {
        acme::presented_tokens(&context, &request).await?
    } else {
        Vec::new()
    };
    let state = request
        .annotations()
        .get(PLUGIN_STATE_ANNOTATION)
        .and_then(|s| base64::engine::general_purpose::STANDARD.decode(s).ok());
    let duration_seconds = request
        .spec
        .duration
        .as_deref()
        .and_then(|d| crate::go_duration::parse(d).ok())
        .map(|d| d.as_secs());
    let usages = request
        .spec
        .usages
        .iter()
        .copied()
        .map(WitKeyUsage::from)
        .collect();
    let wit_request = WitRequest {
        name: request.name_any(),
        namespace: request.namespace().unwrap_or_default(),
        csr_pem,
        duration_seconds,
        is_ca: request.spec.is_ca,
        usages,
        issuer: IssuerConfig {
            kind: issuer.kind,
            name: reference.name.clone(),
            namespace: issuer.secret_namespace.clone(),
            spec_json: issuer.spec.to_string(),
        },
        request_key: None,
        annotations: request
            .annotations()
            .iter()
            .map(|(k, v)| (k.clone(), v.clone()))
            .collect(),
    };
    let call_started = std::time::Instant::now();
    let reply = {
        let client = context.client.clone();
        let runtime = tokio::runtime::Handle::current();
        tokio::task::spawn_blocking(move || {
            let effects = CallEffects {
                secrets: Arc::new(ApiSecrets::new(client, runtime)),
                ..CallEffects::default()
            };
            let call = IssueCall {
                request: wit_request,
                request_key,
                state,
                presented_challenges,
            };
            plugin.issue_reporting(call, &effects, &CallLimits::default())
        })
        .await?
    };
    let (outcome, order) = match reply {
        Ok(reply) => (reply.result.map_err(IssueError::Plugin), reply.order),
        Err(error) => (Err(IssueError::Call(error)), None),
    };
    tracing::debug!(
        request = %request.name_any(),
        elapsed_ms = call_started.elapsed().as_millis(),
        outcome = match &outcome {
            Ok(IssueOutcome::Issued(_)) => "issued",
            Ok(IssueOutcome::Pending(_)) => "pending",
            _ => "failed",
        },
        "plugin call"
    );
    match outcome {
        Ok(IssueOutcome::Issued(issued)) => {
            if has_orders {
                acme::finish(
                    &context,
                    &request,
                    Some(&issued.certificate_chain_pem),
                    None,
                )
                .await?;
            }
            let message = "Certificate fetched from issuer successfully";
            write_status(&context, &request, |s| {
                s.certificate = Some(Base64Bytes(issued.certificate_chain_pem.into_bytes()));
                s.ca = issued.ca_pem.map(|ca| Base64Bytes(ca.into_bytes()));
                let c = condition(
                    &s.conditions,
                    "Ready",
                    ConditionStatus::True,
                    "Issued",
                    message,
                );
                conditions::upsert(&mut s.conditions, c);
            })
            .await?;
            context
                .recorder
                .publish(
                    &*request,
                    COMPONENT,
                    EventType::Normal,
                    "CertificateIssued",
                    message,
                )
                .await;
            Ok(Action::await_change())
        }
        Ok(IssueOutcome::Pending(pending)) => {
            for event in &pending.events {
                let kind = match event.type_ {
                    crate::plugin::bindings::types::EventType::Normal => EventType::Normal,
                    crate::plugin::bindings::types::EventType::Warning => EventType::Warning,
                };
                context
                    .recorder
                    .publish(&*request, COMPONENT, kind, &event.reason, &event.message)
                    .await;
            }
            // Challenges presented just now: the plugin tells the server to
            // validate them at once rather than after its retry-after.
            let presented_now = match &order {
                Some(order) => acme::sync(&context, &request, order).await?,
                None => false,
            };
            let wait = if presented_now {
                PRESENTED_RECHECK
            } else {
                Duration::from_millis(pending.retry_after_ms).max(MIN_PLUGIN_WAIT)
            };
            tracing::debug!(
                request = %request.name_any(),
                wait_ms = wait.as_millis(),
                waiting_for = %pending.waiting_for,
                "plugin pending"
            );
            let next_call = time::OffsetDateTime::now_utc() + wait;
            let namespace = request.namespace().unwrap_or_default();
            let api: Api<CertificateRequest> = Api::namespaced(context.client.clone(), &namespace);
            let encoded = base64::engine::general_purpose::STANDARD.encode(&pending.state);
            api.patch(
                &request.name_any(),
                &PatchParams::default(),
                &Patch::Merge(json!({"metadata": {"annotations": {
                    PLUGIN_STATE_ANNOTATION: encoded,
                    NEXT_CALL_ANNOTATION: next_call.unix_timestamp_nanos().to_string(),
                }}})),
            )
            .await?;
            let fresh = api.get(&request.name_any()).await?;
            set_ready(
                &context,
                &fresh,
                ConditionStatus::False,
                "Pending",
                &pending.waiting_for,
                false,
            )
            .await?;
            Ok(Action::requeue(wait))
        }
        Err(IssueError::Plugin(failure)) if failure.retryable => {
            let message = format!("{}: {}", failure.reason, failure.message);
            set_ready(
                &context,
                &request,
                ConditionStatus::False,
                "Pending",
                &message,
                false,
            )
            .await?;
            context
                .recorder
                .publish(
                    &*request,
                    COMPONENT,
                    EventType::Warning,
                    &failure.reason,
                    &failure.message,
                )
                .await;
            Ok(Action::requeue(RETRY_TRANSIENT))
        }
        Err(IssueError::Plugin(failure)) => {
            if has_orders {
                acme::finish(&context, &request, None, Some(&failure.message)).await?;
            }
            set_ready(
                &context,
                &request,
                ConditionStatus::False,
                "Failed",
                &failure.message,
                true,
            )
            .await?;
            context
                .recorder
                .publish(
                    &*request,
                    COMPONENT,
                    EventType::Warning,
                    &failure.reason,
                    &failure.message,
                )
                .await;
            Ok(Action::await_change())
        }
        Err(IssueError::Call(stopped)) => {
            let message = stopped.to_string();
            pending(
                &context,
                &request,
                EventType::Warning,
                "PluginFailed",
                &message,
            )
            .await?;
            Ok(Action::requeue(RETRY_TRANSIENT))
        }
    }
}

/// The request as the API has it now, when its plugin is still to be
/// called; `None` once it is gone or finished. The reflector's copy can lag
/// the annotations the last call wrote (its state, its next call), most of
/// all when the next call is due at once: calling the plugin with that
/// copy would replay an old state (and, before the first state, start a
/// second ACME order). One GET per call is cheap beside the call.
async fn fresh_for_call(
    context: &Context,
    request: &CertificateRequest,
) -> Result<Option<CertificateRequest>, ControllerError> {
    let namespace = request.namespace().unwrap_or_default();
    let api: Api<CertificateRequest> = Api::namespaced(context.client.clone(), &namespace);
    let fresh = api.get_opt(&request.name_any()).await?;
    Ok(fresh.filter(|fresh| {
        fresh.metadata.deletion_timestamp.is_none()
            && !matches!(
                ready_reason(fresh).as_deref(),
                Some("Issued" | "Failed" | "Denied")
            )
    }))
}

fn error_policy(_: Arc<CertificateRequest>, error: &ControllerError, _: Arc<Context>) -> Action {
    tracing::debug!(%error, "certificaterequest reconcile failed");
    Action::requeue(ERROR_REQUEUE)
}

/// Runs the CertificateRequest controller; an Issuer becoming ready
/// re-queues the requests waiting for it.
pub async fn run(context: Arc<Context>, trigger: ReflectHandle<CertificateRequest>) {
    let issuers: Api<Issuer> = Api::all(context.client.clone());
    let cluster_issuers: Api<ClusterIssuer> = Api::all(context.client.clone());
    let controller = Controller::for_shared_stream(trigger, context.informers.requests().clone())
        .with_config(context.controller_config());
    let store = controller.store();
    let metrics = Arc::clone(&context.metrics);
    let cluster_store = store.clone();
    let stream = controller
        .watches(
            issuers,
            watcher::Config::default(),
            move |issuer: Issuer| {
                let namespace = issuer.namespace().unwrap_or_default();
                let name = issuer.name_any();
                store
                    .state()
                    .into_iter()
                    .filter(|r| {
                        r.namespace().as_deref() == Some(namespace.as_str())
                            && !r.spec.issuer_ref.is_cluster_issuer()
                            && r.spec.issuer_ref.name == name
                    })
                    .map(|r| ObjectRef::from_obj(&*r))
                    .collect::<Vec<_>>()
            },
        )
        .watches(
            cluster_issuers,
            watcher::Config::default(),
            move |issuer: ClusterIssuer| {
                let name = issuer.name_any();
                cluster_store
                    .state()
                    .into_iter()
                    .filter(|r| {
                        r.spec.issuer_ref.is_cluster_issuer() && r.spec.issuer_ref.name == name
                    })
                    .map(|r| ObjectRef::from_obj(&*r))
                    .collect::<Vec<_>>()
            },
        )
        .run(reconcile, error_policy, context);
    drain("certificaterequests", &metrics, stream).await;
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_pending_plugin_waits_until_its_next_call() {
        let now = time::macros::datetime!(2026-11-23 12:00 UTC);
        let at =
            |offset_ms: i64| (now + time::Duration::milliseconds(offset_ms)).unix_timestamp_nanos();
        assert_eq!(wait_before_next_call(None, now), None);
        assert_eq!(
            wait_before_next_call(Some(at(1500)), now),
            Some(Duration::from_millis(1500))
        );
        assert_eq!(wait_before_next_call(Some(at(0)), now), None);
        assert_eq!(wait_before_next_call(Some(at(-10)), now), None);
    }
}
