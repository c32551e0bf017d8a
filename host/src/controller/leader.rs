//! Leader election over a coordination.k8s.io Lease, so that several
//! `certwasm controller` replicas run with one active (cert-manager's
//! `--leader-elect`). The decision is [`crate::policy::lease::decide`];
//! this module reads and writes the Lease, guarded by its
//! resourceVersion so that two candidates never both win.

use std::time::Duration;

use k8s_openapi::api::coordination::v1::{Lease, LeaseSpec};
use k8s_openapi::apimachinery::pkg::apis::meta::v1::MicroTime;
use kube::api::{Api, PostParams};

use crate::policy::lease::{LeaseDecision, LeaseView, decide};

/// Where the lease lives and how long claims last; the defaults are
/// cert-manager's.
#[derive(Debug, Clone)]
pub struct ElectionConfig {
    /// The Lease's namespace (`--leader-election-namespace`).
    pub namespace: String,
    /// The Lease's name.
    pub name: String,
    /// This replica's identity (the pod name and a random suffix).
    pub identity: String,
    /// How long a claim lasts without renewal.
    pub lease_duration: Duration,
    /// How long the leader keeps trying to renew before it gives up.
    pub renew_deadline: Duration,
    /// How often candidates retry and the leader renews.
    pub retry_period: Duration,
}

impl ElectionConfig {
    /// cert-manager's timings (60 s lease, 40 s renew deadline, 15 s retry).
    pub fn new(namespace: &str, identity: &str) -> Self {
        ElectionConfig {
            namespace: namespace.to_owned(),
            name: "cert-manager-controller".to_owned(),
            identity: identity.to_owned(),
            lease_duration: Duration::from_secs(60),
            renew_deadline: Duration::from_secs(40),
            retry_period: Duration::from_secs(15),
        }
    }
}

fn to_view(lease: &Lease) -> LeaseView {
    let spec = lease.spec.clone().unwrap_or_default();
    let at = |t: Option<MicroTime>| {
        t.and_then(|t| time::OffsetDateTime::from_unix_timestamp(t.0.as_second()).ok())
    };
    LeaseView {
        holder: spec.holder_identity,
        duration: spec
            .lease_duration_seconds
            .map(|s| time::Duration::seconds(i64::from(s))),
        renewed: at(spec.renew_time),
        acquired: at(spec.acquire_time),
        transitions: spec.lease_transitions.unwrap_or(0),
    }
}

fn micro(at: Option<time::OffsetDateTime>) -> Option<MicroTime> {
    at.and_then(|t| k8s_openapi::jiff::Timestamp::from_second(t.unix_timestamp()).ok())
        .map(MicroTime)
}

/// One attempt to claim or renew; true when this replica holds the lease
/// afterwards.
async fn try_claim(api: &Api<Lease>, config: &ElectionConfig) -> Result<bool, kube::Error> {
    let existing = api.get_opt(&config.name).await?;
    let now = time::OffsetDateTime::now_utc();
    let duration =
        time::Duration::try_from(config.lease_duration).unwrap_or(time::Duration::MINUTE);
    let decision = decide(
        existing.as_ref().map(to_view).as_ref(),
        &config.identity,
        duration,
        now,
    );
    let LeaseDecision::Claim(view) = decision else {
        return Ok(false);
    };
    let spec = LeaseSpec {
        holder_identity: view.holder,
        lease_duration_seconds: view
            .duration
            .and_then(|d| i32::try_from(d.whole_seconds()).ok()),
        acquire_time: micro(view.acquired),
        renew_time: micro(view.renewed),
        lease_transitions: Some(view.transitions),
        ..LeaseSpec::default()
    };
    let written = match existing {
        Some(mut lease) => {
            lease.spec = Some(spec);
            api.replace(&config.name, &PostParams::default(), &lease)
                .await
        }
        None => {
            let mut lease = Lease::default();
            lease.metadata.name = Some(config.name.clone());
            lease.metadata.namespace = Some(config.namespace.clone());
            lease.spec = Some(spec);
            api.create(&PostParams::default(), &lease).await
        }
    };
    match written {
        Ok(_) => Ok(true),
        // Another candidate wrote first: not ours this round.
        Err(kube::Error::Api(status)) if status.code == 409 => Ok(false),
        Err(err) => Err(err),
    }
}

/// Waits until this replica holds the lease.
pub async fn acquire(client: kube::Client, config: &ElectionConfig) {
    let api: Api<Lease> = Api::namespaced(client, &config.namespace);
    loop {
        match try_claim(&api, config).await {
            Ok(true) => {
                tracing::info!(identity = %config.identity, lease = %config.name, "became leader");
                return;
            }
            Ok(false) => tracing::debug!("lease held by another replica"),
            Err(err) => tracing::warn!(%err, "leader election: cannot read or write the Lease"),
        }
        tokio::time::sleep(config.retry_period).await;
    }
}

/// Renews the lease every retry period; returns when it could not be
/// renewed within the renew deadline (leadership lost: the caller stops).
pub async fn hold(client: kube::Client, config: &ElectionConfig) {
    let api: Api<Lease> = Api::namespaced(client, &config.namespace);
    let mut last_renewed = tokio::time::Instant::now();
    loop {
        tokio::time::sleep(config.retry_period).await;
        match try_claim(&api, config).await {
            Ok(true) => last_renewed = tokio::time::Instant::now(),
            Ok(false) => {
                tracing::error!("leader election lost: another replica holds the lease");
                return;
            }
            Err(err) => tracing::warn!(%err, "leader election: renewal failed"),
        }
        if last_renewed.elapsed() > config.renew_deadline {
            tracing::error!("leader election lost: the lease was not renewed in time");
            return;
        }
    }
}

/// Gives the lease up on shutdown, so that another replica takes over at
/// once rather than after the lease duration.
pub async fn release(client: kube::Client, config: &ElectionConfig) {
    let api: Api<Lease> = Api::namespaced(client, &config.namespace);
    if let Ok(Some(mut lease)) = api.get_opt(&config.name).await {
        let ours = lease
            .spec
            .as_ref()
            .and_then(|s| s.holder_identity.as_deref())
            == Some(config.identity.as_str());
        if ours {
            if let Some(spec) = lease.spec.as_mut() {
                spec.holder_identity = Some(String::new());
            }
            let _ = api
                .replace(&config.name, &PostParams::default(), &lease)
                .await;
        }
    }
}
