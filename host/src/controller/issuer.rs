//! Issuers and ClusterIssuers: `Ready` from the plugin's `validate`, with
//! the plugin's reason and message (IsReady, KeyPairVerified,
//! ErrGetKeyPair, ...), re-checked when the spec or a Secret in the
//! issuer's namespace changes, and every few minutes while not ready.

use std::sync::Arc;
use std::time::Duration;

use k8s_openapi::api::core::v1::Secret;
use kube::api::{Api, PostParams};
use kube::runtime::controller::{Action, Controller};
use kube::runtime::reflector::ObjectRef;
use kube::runtime::watcher;
use kube::{Resource, ResourceExt};

use super::events::EventType;
use super::secrets::ApiSecrets;
use super::{Context, ControllerError, ERROR_REQUEUE, drain};
use crate::api::{ClusterIssuer, ConditionStatus, Issuer, IssuerCondition, IssuerStatus};
use crate::plugin::bindings::types::IssuerConfig;
use crate::plugin::selection::select_plugin;
use crate::plugin::{CallEffects, CallLimits};
use crate::policy::conditions::{self, to_time};

/// How often an issuer that is not ready is checked again.
const NOT_READY_RECHECK: Duration = Duration::from_secs(60);

/// The outcome of validating an issuer: Ready's status, reason, message.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Readiness {
    /// True when the plugin said ready.
    pub ready: bool,
    /// cert-manager's reason.
    pub reason: String,
    /// The message.
    pub message: String,
}

/// Validates an issuer spec through its plugin (blocking).
pub fn validate(
    context: &Context,
    kind: &str,
    name: &str,
    namespace: &str,
    spec: &serde_json::Value,
) -> Readiness {
    let choice = match select_plugin(spec) {
        Ok(choice) => choice,
        Err(err) => {
            return Readiness {
                ready: false,
                reason: "InvalidConfig".to_owned(),
                message: err.to_string(),
            };
        }
    };
    let plugin = match context.plugins.get(choice.plugin_name()) {
        Ok(plugin) => plugin,
        Err(err) => {
            return Readiness {
                ready: false,
                reason: "PluginUnavailable".to_owned(),
                message: err.to_string(),
            };
        }
    };
    let config = IssuerConfig {
        kind: kind.to_owned(),
        name: name.to_owned(),
        namespace: namespace.to_owned(),
        spec_json: spec.to_string(),
    };
    let effects = CallEffects {
        secrets: Arc::new(ApiSecrets::new(
            context.client.clone(),
            tokio::runtime::Handle::current(),
        )),
        ..CallEffects::default()
    };
    match plugin.validate(&config, &effects, &CallLimits::default()) {
        Ok(Ok(ready)) => Readiness {
            ready: true,
            reason: ready.reason,
            message: ready.message,
        },
        Ok(Err(failure)) => Readiness {
            ready: false,
            reason: failure.reason,
            message: failure.message,
        },
        Err(stopped) => Readiness {
            ready: false,
            reason: "PluginFailed".to_owned(),
            message: stopped.to_string(),
        },
    }
}

fn ready_condition(
    existing: &[IssuerCondition],
    readiness: &Readiness,
    generation: Option<i64>,
) -> IssuerCondition {
    let status = if readiness.ready {
        ConditionStatus::True
    } else {
        ConditionStatus::False
    };
    let now = to_time(time::OffsetDateTime::now_utc());
    IssuerCondition {
        type_: "Ready".to_owned(),
        status,
        last_transition_time: Some(conditions::transition_time(existing, "Ready", status, &now)),
        reason: Some(readiness.reason.clone()),
        message: Some(readiness.message.clone()),
        observed_generation: generation,
    }
}

/// The namespace an issuer's Secrets live in.
fn secret_namespace<K: Resource>(issuer: &K, context: &Context) -> String {
    issuer
        .meta()
        .namespace
        .clone()
        .unwrap_or_else(|| context.options.cluster_resource_namespace.clone())
}

async fn reconcile_issuer(
    issuer: Arc<Issuer>,
    context: Arc<Context>,
) -> Result<Action, ControllerError> {
    let namespace = issuer.namespace().unwrap_or_default();
    let name = issuer.name_any();
    let spec =
        serde_json::to_value(&issuer.spec).map_err(|e| ControllerError::Internal(e.to_string()))?;
    let readiness = {
        let context = Arc::clone(&context);
        let (name, namespace) = (name.clone(), namespace.clone());
        tokio::task::spawn_blocking(move || validate(&context, "Issuer", &name, &namespace, &spec))
            .await
            .map_err(|e| ControllerError::Internal(e.to_string()))?
    };
    let status = issuer.status.clone().unwrap_or_default();
    let condition = ready_condition(&status.conditions, &readiness, issuer.metadata.generation);
    let changed = conditions::find(&status.conditions, "Ready").is_none_or(|c| {
        c.status != condition.status
            || c.reason != condition.reason
            || c.message != condition.message
            || c.observed_generation != condition.observed_generation
    });
    if changed {
        let mut updated = (*issuer).clone();
        let mut new_status = status.clone();
        conditions::upsert(&mut new_status.conditions, condition);
        updated.status = Some(new_status);
        let api: Api<Issuer> = Api::namespaced(context.client.clone(), &namespace);
        api.replace_status(&name, &PostParams::default(), &updated)
            .await?;
        let kind = if readiness.ready {
            EventType::Normal
        } else {
            EventType::Warning
        };
        context
            .recorder
            .publish(
                &*issuer,
                "cert-manager-issuers",
                kind,
                &readiness.reason,
                &readiness.message,
            )
            .await;
    }
    Ok(if readiness.ready {
        Action::await_change()
    } else {
        Action::requeue(NOT_READY_RECHECK)
    })
}

async fn reconcile_cluster_issuer(
    issuer: Arc<ClusterIssuer>,
    context: Arc<Context>,
) -> Result<Action, ControllerError> {
    let name = issuer.name_any();
    let namespace = secret_namespace(&*issuer, &context);
    let spec = serde_json::to_value(&issuer.spec.0)
        .map_err(|e| ControllerError::Internal(e.to_string()))?;
    let readiness = {
        let context = Arc::clone(&context);
        let (name, namespace) = (name.clone(), namespace.clone());
        tokio::task::spawn_blocking(move || {
            validate(&context, "ClusterIssuer", &name, &namespace, &spec)
        })
        .await
        .map_err(|e| ControllerError::Internal(e.to_string()))?
    };
    let status: IssuerStatus = issuer.status.clone().unwrap_or_default();
    let condition = ready_condition(&status.conditions, &readiness, issuer.metadata.generation);
    let changed = conditions::find(&status.conditions, "Ready").is_none_or(|c| {
        c.status != condition.status
            || c.reason != condition.reason
            || c.message != condition.message
            || c.observed_generation != condition.observed_generation
    });
    if changed {
        let mut updated = (*issuer).clone();
        let mut new_status = status.clone();
        conditions::upsert(&mut new_status.conditions, condition);
        updated.status = Some(new_status);
        let api: Api<ClusterIssuer> = Api::all(context.client.clone());
        api.replace_status(&name, &PostParams::default(), &updated)
            .await?;
        let kind = if readiness.ready {
            EventType::Normal
        } else {
            EventType::Warning
        };
        context
            .recorder
            .publish(
                &*issuer,
                "cert-manager-clusterissuers",
                kind,
                &readiness.reason,
                &readiness.message,
            )
            .await;
    }
    Ok(if readiness.ready {
        Action::await_change()
    } else {
        Action::requeue(NOT_READY_RECHECK)
    })
}

fn error_policy<K>(_: Arc<K>, error: &ControllerError, _: Arc<Context>) -> Action {
    tracing::debug!(%error, "issuer reconcile failed");
    Action::requeue(ERROR_REQUEUE)
}

/// Runs the Issuer controller.
pub async fn run_issuers(context: Arc<Context>) {
    let issuers: Api<Issuer> = Api::all(context.client.clone());
    let secrets: Api<Secret> = Api::all(context.client.clone());
    let controller = Controller::new(issuers, watcher::Config::default());
    let store = controller.store();
    let stream = controller
        .watches(
            secrets,
            watcher::Config::default(),
            move |secret: Secret| {
                // A Secret change re-checks the issuers of its namespace.
                let namespace = secret.namespace().unwrap_or_default();
                store
                    .state()
                    .into_iter()
                    .filter(|i| i.namespace().as_deref() == Some(namespace.as_str()))
                    .map(|i| ObjectRef::from_obj(&*i))
                    .collect::<Vec<_>>()
            },
        )
        .run(reconcile_issuer, error_policy, context);
    drain("issuers", stream).await;
}

/// Runs the ClusterIssuer controller.
pub async fn run_cluster_issuers(context: Arc<Context>) {
    let issuers: Api<ClusterIssuer> = Api::all(context.client.clone());
    let namespace = context.options.cluster_resource_namespace.clone();
    let secrets: Api<Secret> = Api::namespaced(context.client.clone(), &namespace);
    let controller = Controller::new(issuers, watcher::Config::default());
    let store = controller.store();
    let stream = controller
        .watches(
            secrets,
            watcher::Config::default(),
            move |_secret: Secret| {
                store
                    .state()
                    .into_iter()
                    .map(|i| ObjectRef::from_obj(&*i))
                    .collect::<Vec<_>>()
            },
        )
        .run(reconcile_cluster_issuer, error_policy, context);
    drain("clusterissuers", stream).await;
}
