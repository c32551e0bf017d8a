//! The ACME side of a CertificateRequest: the plugin runs the order at the
//! ACME server; this module mirrors its progress as cert-manager's Order
//! and Challenge resources (so `kubectl describe order|challenge` tells
//! the story), presents each challenge through the host's solvers, runs
//! the self-check, and tells the plugin which tokens are ready to be
//! validated. When the request ends, the challenges are cleaned up. In a
//! cluster an `http01.ingress` challenge also gets the Service and Ingress
//! that route the ACME server's fetch to the responder
//! ([`crate::solver::http01_ingress`] builds them; this module writes them).

use std::collections::BTreeSet;

use k8s_openapi::api::core::v1::Service;
use k8s_openapi::api::networking::v1::Ingress;
use kube::api::{Api, DeleteParams, ListParams, PostParams};
use kube::{Resource, ResourceExt};

use super::events::EventType;
use super::{Context, ControllerError};
use crate::api::{
    AcmeAuthorization, AcmeChallenge, AcmeChallengeSolver, AcmeChallengeType, AcmeState,
    CertificateRequest, Challenge, ChallengeSpec, Order, OrderSpec, OrderStatus,
};
use crate::plugin::bindings::orders::{
    Challenge as PluginChallenge, ChallengeState, ChallengeType, Order as PluginOrder, OrderState,
};
use crate::policy::conditions::to_time;
use crate::solver::{SolverError, dns01, http01_ingress, self_check};

const ORDERS: &str = "cert-manager-orders";
const CHALLENGES: &str = "cert-manager-challenges";

/// A stable number for a name suffix (FNV-1a), as cert-manager suffixes
/// Orders and Challenges with a hash of what they are for.
fn short_hash(text: &str) -> u32 {
    text.bytes().fold(0x811c_9dc5_u32, |hash, byte| {
        (hash ^ u32::from(byte)).wrapping_mul(0x0100_0193)
    })
}

/// The Order's name for a request: `<request>-<hash>`.
pub fn order_name(request: &CertificateRequest) -> String {
    format!(
        "{}-{}",
        request.name_any(),
        short_hash(&String::from_utf8_lossy(&request.spec.request.0))
    )
}

fn challenge_name(order: &str, challenge: &PluginChallenge) -> String {
    format!("{order}-{}", short_hash(&challenge.url))
}

impl From<OrderState> for AcmeState {
    fn from(state: OrderState) -> Self {
        match state {
            OrderState::Pending => AcmeState::Pending,
            OrderState::Ready => AcmeState::Ready,
            OrderState::Processing => AcmeState::Processing,
            OrderState::Valid => AcmeState::Valid,
            OrderState::Invalid => AcmeState::Invalid,
        }
    }
}

impl From<ChallengeState> for AcmeState {
    fn from(state: ChallengeState) -> Self {
        match state {
            ChallengeState::Pending => AcmeState::Pending,
            ChallengeState::Processing => AcmeState::Processing,
            ChallengeState::Valid => AcmeState::Valid,
            ChallengeState::Invalid => AcmeState::Invalid,
        }
    }
}

impl From<ChallengeType> for AcmeChallengeType {
    fn from(kind: ChallengeType) -> Self {
        match kind {
            ChallengeType::Http01 => AcmeChallengeType::Http01,
            ChallengeType::Dns01 => AcmeChallengeType::Dns01,
        }
    }
}

/// The challenge type as RFC 8555 and the Order's status spell it.
fn wire_name(kind: ChallengeType) -> &'static str {
    match kind {
        ChallengeType::Http01 => "http-01",
        ChallengeType::Dns01 => "dns-01",
    }
}

fn mechanism(kind: AcmeChallengeType) -> &'static str {
    match kind {
        AcmeChallengeType::Http01 => "HTTP-01",
        AcmeChallengeType::Dns01 => "DNS-01",
    }
}

/// The challenges of a request's order, as stored.
async fn challenges_of(
    context: &Context,
    request: &CertificateRequest,
) -> Result<Vec<Challenge>, ControllerError> {
    let namespace = request.namespace().unwrap_or_default();
    let prefix = format!("{}-", order_name(request));
    let api: Api<Challenge> = Api::namespaced(context.client.clone(), &namespace);
    Ok(api
        .list(&ListParams::default())
        .await?
        .items
        .into_iter()
        .filter(|c| c.name_any().starts_with(&prefix))
        .collect())
}

/// The tokens presented and self-checked so far, for the plugin's
/// `presented-challenges`. Re-presents them first: after a restart the
/// responder starts empty, while the order at the server goes on.
pub async fn presented_tokens(
    context: &Context,
    request: &CertificateRequest,
) -> Result<Vec<String>, ControllerError> {
    let mut tokens = Vec::new();
    for challenge in challenges_of(context, request).await? {
        let status = challenge.status.clone().unwrap_or_default();
        if status.state.is_some_and(AcmeState::is_final) {
            continue;
        }
        if challenge.spec.type_ == AcmeChallengeType::Http01 {
            context
                .http01
                .present(&challenge.spec.token, &challenge.spec.key);
        }
        if status.presented {
            tokens.push(challenge.spec.token.clone());
        }
    }
    Ok(tokens)
}

/// Where an issuer's Secrets live: its own namespace, or the cluster
/// resource namespace for a ClusterIssuer.
fn secret_namespace(context: &Context, request: &CertificateRequest) -> String {
    if request.spec.issuer_ref.is_cluster_issuer() {
        context.options.cluster_resource_namespace.clone()
    } else {
        request.namespace().unwrap_or_default()
    }
}

/// The DNS provider a challenge's solver configures.
async fn dns_provider(
    context: &Context,
    request: &CertificateRequest,
    solver: &AcmeChallengeSolver,
) -> Result<Box<dyn dns01::DnsProvider>, dns01::Dns01Error> {
    dns01::provider_for(
        solver,
        &secret_namespace(context, request),
        &dns01::ApiSecrets(context.client.clone()),
        &context.options.solvers.nameservers,
    )
    .await
}

/// A created object that already existed is fine (a retried present).
fn created<T>(result: Result<T, kube::Error>) -> Result<(), kube::Error> {
    match result {
        Ok(_) => Ok(()),
        Err(kube::Error::Api(status)) if status.code == 409 => Ok(()),
        Err(err) => Err(err),
    }
}

/// A deleted object that was already gone is fine.
fn deleted<T>(result: Result<T, kube::Error>) -> Result<(), kube::Error> {
    match result {
        Err(kube::Error::Api(status)) if status.code == 404 => Ok(()),
        Err(err) => Err(err),
        Ok(_) => Ok(()),
    }
}

/// In a cluster ([`crate::solver::SolverOptions::http01_ingress`]), for an
/// `http01.ingress` challenge: the solver Service, and either a solver
/// Ingress or the challenge's path in the Ingress `name` says, so that
/// the ACME server's fetch on port 80 reaches the responder. The Service
/// and the Ingress are owned by the Challenge.
async fn route_http01(context: &Context, challenge: &Challenge) -> Result<(), SolverError> {
    let (Some(options), Some(settings)) = (
        &context.options.solvers.http01_ingress,
        http01_ingress::ingress_settings(challenge),
    ) else {
        return Ok(());
    };
    let failed = |what: &str, err: &dyn std::fmt::Display| SolverError::SolverObjects {
        what: what.to_owned(),
        reason: err.to_string(),
    };
    let namespace = challenge.namespace().unwrap_or_default();
    let owner = challenge.controller_owner_ref(&());
    let name = http01_ingress::object_name(&challenge.name_any());
    let services: Api<Service> = Api::namespaced(context.client.clone(), &namespace);
    let service = http01_ingress::service(challenge, options, owner.clone());
    created(services.create(&PostParams::default(), &service).await)
        .map_err(|e| failed("Service", &e))?;
    let ingresses: Api<Ingress> = Api::namespaced(context.client.clone(), &namespace);
    match settings.name.as_deref().filter(|n| !n.is_empty()) {
        Some(existing_name) => {
            let existing = ingresses
                .get(existing_name)
                .await
                .map_err(|e| failed("Ingress", &e))?;
            if let Some(updated) =
                http01_ingress::with_challenge_path(&existing, challenge, options, &name)
            {
                ingresses
                    .replace(existing_name, &PostParams::default(), &updated)
                    .await
                    .map_err(|e| failed("Ingress", &e))?;
            }
        }
        None => {
            let ingress = http01_ingress::ingress(challenge, options, &name, owner)
                .map_err(|e| failed("Ingress", &e))?;
            created(ingresses.create(&PostParams::default(), &ingress).await)
                .map_err(|e| failed("Ingress", &e))?;
        }
    }
    Ok(())
}

/// Undoes [`route_http01`]: deletes the solver Ingress (or takes the path
/// out of the named one) and the Service.
async fn unroute_http01(context: &Context, challenge: &Challenge) -> Result<(), kube::Error> {
    let (Some(_), Some(settings)) = (
        &context.options.solvers.http01_ingress,
        http01_ingress::ingress_settings(challenge),
    ) else {
        return Ok(());
    };
    let namespace = challenge.namespace().unwrap_or_default();
    let name = http01_ingress::object_name(&challenge.name_any());
    let ingresses: Api<Ingress> = Api::namespaced(context.client.clone(), &namespace);
    match settings.name.as_deref().filter(|n| !n.is_empty()) {
        Some(existing_name) => {
            if let Some(existing) = ingresses.get_opt(existing_name).await?
                && let Some(updated) = http01_ingress::without_solver_paths(&existing, &name)
            {
                ingresses
                    .replace(existing_name, &PostParams::default(), &updated)
                    .await?;
            }
        }
        None => deleted(ingresses.delete(&name, &DeleteParams::default()).await)?,
    }
    let services: Api<Service> = Api::namespaced(context.client.clone(), &namespace);
    deleted(services.delete(&name, &DeleteParams::default()).await)
}

/// Presents one challenge and runs the self-check; `Ok` when the ACME
/// server may now be asked to validate it.
async fn present(
    context: &Context,
    request: &CertificateRequest,
    challenge: &PluginChallenge,
    stored: &Challenge,
) -> Result<(), SolverError> {
    match challenge.challenge_type {
        ChallengeType::Dns01 => {
            let solver: AcmeChallengeSolver =
                serde_json::from_str(&challenge.solver_json).unwrap_or_default();
            let provider = dns_provider(context, request, &solver).await?;
            let fqdn = dns01::challenge_fqdn(&challenge.dns_name);
            provider.present(&fqdn, &challenge.key).await?;
            dns01::self_check(&context.options.solvers.nameservers, &fqdn, &challenge.key).await?;
            Ok(())
        }
        ChallengeType::Http01 => {
            if context.options.solvers.http01_address.is_none() {
                return Err(SolverError::NoResponder);
            }
            context.http01.present(&challenge.token, &challenge.key);
            route_http01(context, stored).await?;
            self_check::http01(
                &context.options.solvers,
                &challenge.dns_name,
                &challenge.token,
                &challenge.key,
            )
            .await
        }
    }
}

/// Writes the Order and its Challenges from the plugin's report, presents
/// what is new; returns whether a challenge became ready for validation
/// (the plugin should then be called again soon).
pub async fn sync(
    context: &Context,
    request: &CertificateRequest,
    reported: &PluginOrder,
) -> Result<bool, ControllerError> {
    let namespace = request.namespace().unwrap_or_default();
    let name = order_name(request);
    let orders: Api<Order> = Api::namespaced(context.client.clone(), &namespace);
    let challenges: Api<Challenge> = Api::namespaced(context.client.clone(), &namespace);
    let order = match orders.get_opt(&name).await? {
        Some(order) => order,
        None => {
            let csr = crate::pki::parse_csr(&String::from_utf8_lossy(&request.spec.request.0)).ok();
            let mut order = Order::new(
                &name,
                OrderSpec {
                    request: request.spec.request.clone(),
                    issuer_ref: request.spec.issuer_ref.clone(),
                    common_name: csr.as_ref().and_then(|c| c.common_name.clone()),
                    dns_names: csr
                        .as_ref()
                        .map(|c| c.dns_names.clone())
                        .unwrap_or_default(),
                    ip_addresses: csr
                        .as_ref()
                        .map(|c| c.ip_addresses.iter().map(ToString::to_string).collect())
                        .unwrap_or_default(),
                    duration: request.spec.duration.clone(),
                    profile: None,
                    replaces: None,
                },
            );
            order.metadata.namespace = Some(namespace.clone());
            order.metadata.owner_references = request.controller_owner_ref(&()).map(|o| vec![o]);
            let created = orders.create(&PostParams::default(), &order).await?;
            context
                .recorder
                .publish(
                    request,
                    "cert-manager-certificaterequests-issuer-acme",
                    EventType::Normal,
                    "OrderCreated",
                    &format!("Created Order resource {namespace}/{name}"),
                )
                .await;
            created
        }
    };

    // The Order's status, as the plugin reports it.
    let mut status = order.status.clone().unwrap_or_default();
    let new_status = OrderStatus {
        url: Some(reported.url.clone()),
        finalize_url: Some(reported.finalize_url.clone()),
        state: Some(reported.state.into()),
        reason: (!reported.reason.is_empty()).then(|| reported.reason.clone()),
        authorizations: reported
            .challenges
            .iter()
            .map(|c| AcmeAuthorization {
                url: c.authorization_url.clone(),
                identifier: Some(c.dns_name.clone()),
                wildcard: Some(c.wildcard),
                initial_state: None,
                challenges: vec![AcmeChallenge {
                    url: c.url.clone(),
                    token: c.token.clone(),
                    type_: wire_name(c.challenge_type).to_owned(),
                }],
            })
            .collect(),
        ..status.clone()
    };
    if new_status != status {
        status = new_status;
        let mut updated = order.clone();
        updated.status = Some(status);
        orders
            .replace_status(&name, &PostParams::default(), &updated)
            .await?;
    }

    let mut ready_for_validation = false;
    let owner = order.controller_owner_ref(&()).map(|o| vec![o]);
    for reported in &reported.challenges {
        let challenge_name = challenge_name(&name, reported);
        let existing = challenges.get_opt(&challenge_name).await?;
        let challenge = match existing {
            Some(existing) => existing,
            None => {
                let solver: AcmeChallengeSolver =
                    serde_json::from_str(&reported.solver_json).unwrap_or_default();
                let mut challenge = Challenge::new(
                    &challenge_name,
                    ChallengeSpec {
                        url: reported.url.clone(),
                        authorization_url: reported.authorization_url.clone(),
                        dns_name: reported.dns_name.clone(),
                        wildcard: reported.wildcard,
                        type_: reported.challenge_type.into(),
                        token: reported.token.clone(),
                        key: reported.key.clone(),
                        solver,
                        issuer_ref: request.spec.issuer_ref.clone(),
                    },
                );
                challenge.metadata.namespace = Some(namespace.clone());
                challenge.metadata.owner_references = owner.clone();
                let created = challenges
                    .create(&PostParams::default(), &challenge)
                    .await?;
                context
                    .recorder
                    .publish(
                        &order,
                        ORDERS,
                        EventType::Normal,
                        "Created",
                        &format!(
                            "Created Challenge resource \"{challenge_name}\" for domain \"{}\"",
                            reported.dns_name
                        ),
                    )
                    .await;
                context
                    .recorder
                    .publish(
                        &created,
                        CHALLENGES,
                        EventType::Normal,
                        "Started",
                        "Challenge scheduled for processing",
                    )
                    .await;
                created
            }
        };
        let mut status = challenge.status.clone().unwrap_or_default();
        let before = status.clone();
        let kind = challenge.spec.type_;
        match Some(AcmeState::from(reported.state)) {
            Some(AcmeState::Valid) => {
                if before.state != Some(AcmeState::Valid) {
                    context
                        .recorder
                        .publish(
                            &challenge,
                            CHALLENGES,
                            EventType::Normal,
                            "DomainVerified",
                            &format!(
                                "Domain \"{}\" verified with \"{}\" validation",
                                reported.dns_name,
                                mechanism(kind)
                            ),
                        )
                        .await;
                }
                status.state = Some(AcmeState::Valid);
                status.processing = false;
                status.reason = Some("Successfully authorized domain".to_owned());
            }
            Some(AcmeState::Invalid) => {
                if before.state != Some(AcmeState::Invalid) {
                    context
                        .recorder
                        .publish(
                            &challenge,
                            CHALLENGES,
                            EventType::Warning,
                            "Failed",
                            &format!(
                                "Accepting challenge authorization failed: {}",
                                reported.reason
                            ),
                        )
                        .await;
                }
                status.state = Some(AcmeState::Invalid);
                status.processing = false;
                status.reason = Some(reported.reason.clone());
            }
            reported_state => {
                status.state = reported_state.or(Some(AcmeState::Pending));
                status.processing = true;
                if !status.presented {
                    match present(context, request, reported, &challenge).await {
                        Ok(()) => {
                            status.presented = true;
                            status.presented_at = Some(to_time(time::OffsetDateTime::now_utc()));
                            status.reason = Some(
                                "Waiting for the ACME server to validate the challenge".to_owned(),
                            );
                            ready_for_validation = true;
                            context
                                .recorder
                                .publish(
                                    &challenge,
                                    CHALLENGES,
                                    EventType::Normal,
                                    "Presented",
                                    &format!(
                                        "Presented challenge using {} challenge mechanism",
                                        mechanism(kind)
                                    ),
                                )
                                .await;
                        }
                        Err(err) => {
                            if before.reason.as_deref() != Some(err.to_string().as_str()) {
                                context
                                    .recorder
                                    .publish(
                                        &challenge,
                                        CHALLENGES,
                                        EventType::Warning,
                                        "PresentError",
                                        &err.to_string(),
                                    )
                                    .await;
                            }
                            status.reason = Some(err.to_string());
                        }
                    }
                }
            }
        }
        if status != before {
            let mut updated = challenge.clone();
            updated.status = Some(status);
            challenges
                .replace_status(&challenge_name, &PostParams::default(), &updated)
                .await?;
        }
    }
    Ok(ready_for_validation)
}

/// The request ended: the Order takes its final state (and the
/// certificate), the solvers stop presenting, and the Challenges go.
pub async fn finish(
    context: &Context,
    request: &CertificateRequest,
    issued_chain: Option<&str>,
    failure: Option<&str>,
) -> Result<(), ControllerError> {
    let namespace = request.namespace().unwrap_or_default();
    let name = order_name(request);
    let orders: Api<Order> = Api::namespaced(context.client.clone(), &namespace);
    let Some(order) = orders.get_opt(&name).await? else {
        return Ok(());
    };
    let challenges: Api<Challenge> = Api::namespaced(context.client.clone(), &namespace);
    let mut seen = BTreeSet::new();
    for challenge in challenges_of(context, request).await? {
        context.http01.clean_up(&challenge.spec.token);
        if challenge.spec.type_ == AcmeChallengeType::Http01
            && let Err(err) = unroute_http01(context, &challenge).await
        {
            tracing::warn!(challenge = %challenge.name_any(), "HTTP-01 solver clean-up failed: {err}");
        }
        if challenge.spec.type_ == AcmeChallengeType::Dns01 {
            let fqdn = dns01::challenge_fqdn(&challenge.spec.dns_name);
            let removed = match dns_provider(context, request, &challenge.spec.solver).await {
                Ok(provider) => provider.clean_up(&fqdn, &challenge.spec.key).await,
                Err(err) => Err(err),
            };
            if let Err(err) = removed {
                tracing::warn!(challenge = %challenge.name_any(), %fqdn, "DNS-01 clean-up failed: {err}");
            }
        }
        seen.insert(challenge.name_any());
        let _ = challenges
            .delete(&challenge.name_any(), &DeleteParams::default())
            .await;
    }
    let mut status = order.status.clone().unwrap_or_default();
    if status.state.is_some_and(AcmeState::is_final) {
        return Ok(());
    }
    match (issued_chain, failure) {
        (Some(chain), _) => {
            status.state = Some(AcmeState::Valid);
            status.certificate = Some(crate::api::Base64Bytes(chain.as_bytes().to_vec()));
            status.reason = None;
        }
        (None, reason) => {
            status.state = Some(AcmeState::Invalid);
            status.reason = reason.map(str::to_owned);
            status.failure_time = Some(to_time(time::OffsetDateTime::now_utc()));
        }
    }
    let valid = status.state == Some(AcmeState::Valid);
    let mut updated = order.clone();
    updated.status = Some(status);
    orders
        .replace_status(&name, &PostParams::default(), &updated)
        .await?;
    let (kind, reason, message) = if valid {
        (
            EventType::Normal,
            "Complete",
            "Order completed successfully".to_owned(),
        )
    } else {
        (
            EventType::Warning,
            "Failed",
            format!("Order failed: {}", failure.unwrap_or("unknown")),
        )
    };
    context
        .recorder
        .publish(&order, ORDERS, kind, reason, &message)
        .await;
    tracing::debug!(order = %name, challenges = seen.len(), "ACME order finished");
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_are_stable_and_distinct() {
        assert_eq!(short_hash("a"), short_hash("a"));
        assert_ne!(short_hash("a"), short_hash("b"));
        assert_eq!(short_hash(""), 0x811c_9dc5);
    }
}
