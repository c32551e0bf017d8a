//! ingress-shim: Certificates for annotated Ingresses, owned by the
//! Ingress (so they go when it goes), created, updated and pruned as its
//! `spec.tls` and annotations change, with cert-manager's events
//! (CreateCertificate, UpdateCertificate, DeleteCertificate, BadConfig).

use std::sync::Arc;

use k8s_openapi::api::networking::v1::Ingress;
use k8s_openapi::apimachinery::pkg::apis::meta::v1::OwnerReference;
use kube::api::{Api, DeleteParams, ListParams, PostParams};
use kube::runtime::controller::{Action, Controller};
use kube::runtime::watcher;
use kube::{Resource, ResourceExt};

use super::events::EventType;
use super::{Context, ControllerError, ERROR_REQUEUE, drain, informers};
use crate::api::Certificate;
use crate::policy::ingress::plan_with_default;

const COMPONENT: &str = "cert-manager-ingress-shim";

fn owned_by(certificate: &Certificate, ingress: &Ingress) -> bool {
    let uid = ingress.uid().unwrap_or_default();
    certificate
        .owner_references()
        .iter()
        .any(|o| o.uid == uid && o.controller == Some(true))
}

async fn reconcile(
    ingress: Arc<Ingress>,
    context: Arc<Context>,
) -> Result<Action, ControllerError> {
    if ingress.metadata.deletion_timestamp.is_some() {
        return Ok(Action::await_change());
    }
    let namespace = ingress.namespace().unwrap_or_default();
    let certificates: Api<Certificate> = Api::namespaced(context.client.clone(), &namespace);
    let plan = match plan_with_default(&ingress, context.options.default_issuer.as_ref()) {
        Ok(Some(plan)) => plan,
        Ok(None) => return Ok(Action::await_change()),
        Err(bad) => {
            context
                .recorder
                .publish(
                    &*ingress,
                    COMPONENT,
                    EventType::Warning,
                    "BadConfig",
                    &bad.0,
                )
                .await;
            return Ok(Action::await_change());
        }
    };
    for warning in &plan.warnings {
        context
            .recorder
            .publish(
                &*ingress,
                COMPONENT,
                EventType::Warning,
                "DeprecatedAnnotation",
                warning,
            )
            .await;
    }
    let owner = OwnerReference {
        api_version: Ingress::api_version(&()).into_owned(),
        kind: Ingress::kind(&()).into_owned(),
        name: ingress.name_any(),
        uid: ingress.uid().unwrap_or_default(),
        controller: Some(true),
        block_owner_deletion: Some(true),
    };
    let mut wanted = Vec::new();
    for mut desired in plan.certificates {
        let name = desired.name_any();
        wanted.push(name.clone());
        desired.metadata.owner_references = Some(vec![owner.clone()]);
        // Compare like with like: the API stores specs defaulted.
        crate::api::defaults::set_certificate_defaults(&mut desired);
        match certificates.get_opt(&name).await? {
            None => {
                certificates
                    .create(&PostParams::default(), &desired)
                    .await?;
                context
                    .recorder
                    .publish(
                        &*ingress,
                        COMPONENT,
                        EventType::Normal,
                        "CreateCertificate",
                        &format!("Successfully created Certificate \"{name}\""),
                    )
                    .await;
            }
            Some(existing) if owned_by(&existing, &ingress) => {
                if existing.spec != desired.spec {
                    let mut updated = existing.clone();
                    updated.spec = desired.spec.clone();
                    certificates
                        .replace(&name, &PostParams::default(), &updated)
                        .await?;
                    context
                        .recorder
                        .publish(
                            &*ingress,
                            COMPONENT,
                            EventType::Normal,
                            "UpdateCertificate",
                            &format!("Successfully updated Certificate \"{name}\""),
                        )
                        .await;
                }
            }
            Some(_) => {
                context
                    .recorder
                    .publish(
                        &*ingress,
                        COMPONENT,
                        EventType::Warning,
                        "BadConfig",
                        &format!(
                            "Certificate \"{name}\" already exists and is not owned by this Ingress"
                        ),
                    )
                    .await;
            }
        }
    }
    for existing in certificates.list(&ListParams::default()).await?.items {
        let name = existing.name_any();
        if owned_by(&existing, &ingress) && !wanted.contains(&name) {
            certificates.delete(&name, &DeleteParams::default()).await?;
            context
                .recorder
                .publish(
                    &*ingress,
                    COMPONENT,
                    EventType::Normal,
                    "DeleteCertificate",
                    &format!("Successfully deleted unrequired Certificate \"{name}\""),
                )
                .await;
        }
    }
    Ok(Action::await_change())
}

fn error_policy(_: Arc<Ingress>, error: &ControllerError, _: Arc<Context>) -> Action {
    tracing::debug!(%error, "ingress-shim reconcile failed");
    Action::requeue(ERROR_REQUEUE)
}

/// Runs ingress-shim.
pub async fn run(context: Arc<Context>) {
    let ingresses: Api<Ingress> = Api::all(context.client.clone());
    let certificates: Api<Certificate> = Api::all(context.client.clone());
    let metrics = Arc::clone(&context.metrics);
    let cached = informers::cached(ingresses);
    let stream = Controller::for_shared_stream(cached.trigger, cached.store)
        .with_config(context.controller_config())
        .owns(certificates, watcher::Config::default())
        .run(reconcile, error_policy, context);
    tokio::join!(cached.driver, drain("ingress-shim", &metrics, stream));
}
