//! Issuers and ClusterIssuers: `Ready` from the plugin's `validate`, with
//! the plugin's reason and message (IsReady, KeyPairVerified,
//! ErrGetKeyPair, ...), and `status.acme` from the ACME account a
//! successful `validate` reported; re-checked when the spec or a Secret in
//! the issuer's namespace changes, and every few minutes while not ready.
//! What to write is decided by [`crate::policy::issuer_status`].

use std::sync::Arc;
use std::time::Duration;

use k8s_openapi::api::core::v1::Secret;
use kube::ResourceExt;
use kube::api::{Api, PostParams};
use kube::runtime::controller::{Action, Controller};
use kube::runtime::reflector::ObjectRef;
use kube::runtime::watcher;

use super::events::EventType;
use super::plugins::{PluginResolveError, ResolvedPlugin};
use super::secrets::ApiSecrets;
use super::{Context, ControllerError, ERROR_REQUEUE, drain, informers};
use crate::api::{ClusterIssuer, Issuer, IssuerSpec, IssuerStatus};
use crate::plugin::bindings::types::{IssuerConfig, IssuerKind};
use crate::plugin::selection::select_plugin;
use crate::plugin::{CallEffects, CallLimits};
use crate::policy::conditions::to_time;
use crate::policy::issuer_status::next_status;
pub use crate::policy::issuer_status::{AcmeAccount, Readiness};
use crate::policy::stored_validity::{INVALID_CONFIG, issuer_refusal};

/// How often an issuer that is not ready is checked again.
const NOT_READY_RECHECK: Duration = Duration::from_secs(60);

/// Validates an issuer spec through its plugin (blocking).
pub fn validate(
    context: &Context,
    kind: IssuerKind,
    name: &str,
    namespace: &str,
    spec: &serde_json::Value,
) -> Readiness {
    let choice = match select_plugin(spec) {
        Ok(choice) => choice,
        Err(err) => return Readiness::not_ready("InvalidConfig", err.to_string()),
    };
    // A ClusterIssuer may use any plugin; an Issuer only those granted to
    // its namespace.
    let scope = (kind == IssuerKind::Issuer).then_some(namespace);
    let resolved = match context.plugins.resolve(choice.plugin_name(), scope) {
        Ok(resolved) => resolved,
        Err(err) => return Readiness::not_ready(resolve_reason(&err), err.to_string()),
    };
    let plugin = &resolved.plugin;
    let config = IssuerConfig {
        kind,
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
        Ok(Ok(validated)) => Readiness {
            ready: true,
            reason: validated.readiness.reason,
            message: served_by(validated.readiness.message, &resolved),
            acme_account: validated.acme_account.map(|account| AcmeAccount {
                uri: account.uri,
                email: account.email,
            }),
        },
        Ok(Err(failure)) => Readiness::not_ready(failure.reason, failure.message),
        Err(stopped) => Readiness::not_ready("PluginFailed", stopped.to_string()),
    }
}

/// The Ready reason for an issuer whose plugin cannot serve it.
pub fn resolve_reason(err: &PluginResolveError) -> &'static str {
    match err {
        PluginResolveError::NotFound { .. } => "PluginNotFound",
        PluginResolveError::LoadFailed { .. } => "PluginLoadFailed",
        PluginResolveError::NamespaceNotGranted { .. } => "PluginNotGranted",
    }
}

/// A Ready message naming the bundle plugin that serves the issuer (name,
/// version, digest), so an operator sees which pinned component a reload
/// put in place. Bundled plugins keep the plugin's message unchanged, as
/// cert-manager's.
pub fn served_by(message: String, resolved: &ResolvedPlugin) -> String {
    match &resolved.digest {
        Some(digest) => format!(
            "{message} (plugin {} {} sha256:{digest})",
            resolved.plugin.name(),
            resolved.plugin.info().version
        ),
        None => message,
    }
}

/// What the reconciler needs of Issuer and ClusterIssuer, which differ
/// only in scope: where their Secrets live and how their API is reached.
trait IssuerResource:
    kube::Resource<DynamicType = (), Scope: Send>
    + Clone
    + std::fmt::Debug
    + serde::Serialize
    + serde::de::DeserializeOwned
    + Send
    + Sync
    + 'static
{
    /// The component name events are recorded under, as cert-manager's.
    const EVENT_COMPONENT: &'static str;
    /// Which issuer resource this is, as the plugin contract names it.
    const KIND: IssuerKind;
    fn spec(&self) -> &IssuerSpec;
    fn status(&self) -> Option<&IssuerStatus>;
    fn set_status(&mut self, status: IssuerStatus);
    /// The namespace the issuer's Secrets are read from.
    fn secret_namespace(&self, context: &Context) -> String;
    /// The API the issuer's status is written through.
    fn api(&self, client: kube::Client) -> Api<Self>;
}

impl IssuerResource for Issuer {
    const EVENT_COMPONENT: &'static str = "cert-manager-issuers";
    const KIND: IssuerKind = IssuerKind::Issuer;
    fn spec(&self) -> &IssuerSpec {
        &self.spec
    }
    fn status(&self) -> Option<&IssuerStatus> {
        self.status.as_ref()
    }
    fn set_status(&mut self, status: IssuerStatus) {
        self.status = Some(status);
    }
    fn secret_namespace(&self, _: &Context) -> String {
        self.namespace().unwrap_or_default()
    }
    fn api(&self, client: kube::Client) -> Api<Self> {
        Api::namespaced(client, &self.namespace().unwrap_or_default())
    }
}

impl IssuerResource for ClusterIssuer {
    const EVENT_COMPONENT: &'static str = "cert-manager-clusterissuers";
    const KIND: IssuerKind = IssuerKind::ClusterIssuer;
    fn spec(&self) -> &IssuerSpec {
        &self.spec
    }
    fn status(&self) -> Option<&IssuerStatus> {
        self.status.as_ref()
    }
    fn set_status(&mut self, status: IssuerStatus) {
        self.status = Some(status);
    }
    /// ClusterIssuer Secrets live in the cluster resource namespace.
    fn secret_namespace(&self, context: &Context) -> String {
        context.options.cluster_resource_namespace.clone()
    }
    fn api(&self, client: kube::Client) -> Api<Self> {
        Api::all(client)
    }
}

/// Validates one issuer and writes its status when it changed: `Ready`
/// (with an event when that changed) and `status.acme`.
async fn reconcile<K: IssuerResource>(
    issuer: Arc<K>,
    context: Arc<Context>,
) -> Result<Action, ControllerError> {
    let name = issuer.name_any();
    let namespace = issuer.secret_namespace(&context);
    let spec = serde_json::to_value(issuer.spec()).map_err(|source| ControllerError::Encode {
        what: "an issuer spec",
        source,
    })?;
    let kind_name = match K::KIND {
        IssuerKind::Issuer => "Issuer",
        IssuerKind::ClusterIssuer => "ClusterIssuer",
    };
    let readiness = if let Some(refusal) = issuer_refusal(kind_name, issuer.spec()) {
        // Stored without admission: no plugin sees it until it is fixed.
        Readiness::not_ready(INVALID_CONFIG, refusal)
    } else {
        let context = Arc::clone(&context);
        let (name, namespace) = (name.clone(), namespace.clone());
        tokio::task::spawn_blocking(move || validate(&context, K::KIND, &name, &namespace, &spec))
            .await?
    };
    let now = to_time(time::OffsetDateTime::now_utc());
    let Some(update) = next_status(issuer.status(), &readiness, issuer.meta().generation, &now)
    else {
        return Ok(requeue_for(&readiness));
    };
    let mut updated = (*issuer).clone();
    updated.set_status(update.status);
    issuer
        .api(context.client.clone())
        .replace_status(&name, &PostParams::default(), &updated)
        .await?;
    if update.ready_changed {
        let kind = if readiness.ready {
            EventType::Normal
        } else {
            EventType::Warning
        };
        context
            .recorder
            .publish(
                &*issuer,
                K::EVENT_COMPONENT,
                kind,
                &readiness.reason,
                &readiness.message,
            )
            .await;
    }
    Ok(requeue_for(&readiness))
}

/// A ready issuer waits for a change; one that is not is checked again.
fn requeue_for(readiness: &Readiness) -> Action {
    if readiness.ready {
        Action::await_change()
    } else {
        Action::requeue(NOT_READY_RECHECK)
    }
}

fn error_policy<K>(_: Arc<K>, error: &ControllerError, _: Arc<Context>) -> Action {
    tracing::debug!(%error, "issuer reconcile failed");
    Action::requeue(ERROR_REQUEUE)
}

/// Whether an issuer's spec names the Secret `name` (`secretName`, or the
/// `name` of any `...SecretRef`): only those issuers are re-checked when it
/// changes, not every issuer of the namespace at every Secret write (a
/// busy namespace writes a Secret per issuance).
fn references(spec: &IssuerSpec, name: &str) -> bool {
    serde_json::to_value(spec)
        .map(|spec| crate::plugin::secrets::referenced_secrets(&spec).contains(name))
        .unwrap_or(true)
}

/// Fires when a plugin bundle was reloaded: every issuer is validated
/// again, against the plugin now serving it.
fn bundle_changes(context: &Context) -> impl futures_util::Stream<Item = ()> + Send + 'static {
    futures_util::stream::unfold(context.plugins.subscribe(), |mut changes| async move {
        changes.changed().await.ok()?;
        Some(((), changes))
    })
}

/// Runs the Issuer controller.
pub async fn run_issuers(context: Arc<Context>) {
    let issuers: Api<Issuer> = Api::all(context.client.clone());
    let secrets: Api<Secret> = Api::all(context.client.clone());
    let cached = informers::cached(issuers);
    let store = cached.store.clone();
    let controller = Controller::for_shared_stream(cached.trigger, cached.store)
        .with_config(context.controller_config());
    let _ = context.metrics.caches.issuers.set(store.clone());
    let metrics = Arc::clone(&context.metrics);
    let stream = controller
        .watches(
            secrets,
            watcher::Config::default(),
            move |secret: Secret| {
                // A Secret change re-checks the issuers of its namespace
                // that reference it.
                let namespace = secret.namespace().unwrap_or_default();
                let name = secret.name_any();
                store
                    .state()
                    .into_iter()
                    .filter(|i| {
                        i.namespace().as_deref() == Some(namespace.as_str())
                            && references(&i.spec, &name)
                    })
                    .map(|i| ObjectRef::from_obj(&*i))
                    .collect::<Vec<_>>()
            },
        )
        .reconcile_all_on(bundle_changes(&context))
        .run(reconcile::<Issuer>, error_policy, context);
    tokio::join!(cached.driver, drain("issuers", &metrics, stream));
}

/// Runs the ClusterIssuer controller.
pub async fn run_cluster_issuers(context: Arc<Context>) {
    let issuers: Api<ClusterIssuer> = Api::all(context.client.clone());
    let namespace = context.options.cluster_resource_namespace.clone();
    let secrets: Api<Secret> = Api::namespaced(context.client.clone(), &namespace);
    let cached = informers::cached(issuers);
    let store = cached.store.clone();
    let controller = Controller::for_shared_stream(cached.trigger, cached.store)
        .with_config(context.controller_config());
    let _ = context.metrics.caches.cluster_issuers.set(store.clone());
    let metrics = Arc::clone(&context.metrics);
    let stream = controller
        .watches(
            secrets,
            watcher::Config::default(),
            move |secret: Secret| {
                let name = secret.name_any();
                store
                    .state()
                    .into_iter()
                    .filter(|i| references(&i.spec, &name))
                    .map(|i| ObjectRef::from_obj(&*i))
                    .collect::<Vec<_>>()
            },
        )
        .reconcile_all_on(bundle_changes(&context))
        .run(reconcile::<ClusterIssuer>, error_policy, context);
    tokio::join!(cached.driver, drain("clusterissuers", &metrics, stream));
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_issuers_naming_the_secret_are_rechecked() {
        let ca: IssuerSpec =
            serde_json::from_value(serde_json::json!({"ca": {"secretName": "root-ca"}})).unwrap();
        assert!(references(&ca, "root-ca"));
        assert!(!references(&ca, "web-tls"));
        let vault: IssuerSpec = serde_json::from_value(serde_json::json!({"vault": {
            "server": "https://vault:8200", "path": "pki/sign/web",
            "auth": {"tokenSecretRef": {"name": "vault-token", "key": "token"}}
        }}))
        .unwrap();
        assert!(references(&vault, "vault-token"));
        assert!(!references(&vault, "root-ca"));
    }
}
