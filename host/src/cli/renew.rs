//! `certwasm renew NAME... | --all`: asks for re-issuance now, as
//! `cmctl renew` does, by setting the Certificate's `Issuing` condition to
//! True with reason ManuallyTriggered; the certificate controller takes it
//! from there (the current certificate stays Ready while it is replaced).

use anyhow::bail;
use clap::Args;
use kube::ResourceExt;
use kube::api::{Api, ListParams, PostParams};

use super::kube_client::{KubeArgs, block_on};
use crate::api::{Certificate, Condition, ConditionStatus};
use crate::policy::conditions::{self, to_time};
use crate::policy::trigger::MANUALLY_TRIGGERED;

/// The message cmctl writes on the `Issuing` condition.
const MESSAGE: &str = "Certificate re-issuance manually triggered";

/// Arguments of `certwasm renew`.
#[derive(Debug, Args)]
pub struct RenewArgs {
    /// The Certificates to renew.
    pub names: Vec<String>,
    /// Their namespace.
    #[arg(short, long, default_value = "default")]
    pub namespace: String,
    /// Renew every Certificate in the namespace (or, with -A, everywhere).
    #[arg(long)]
    pub all: bool,
    /// With --all or -l: every namespace.
    #[arg(short = 'A', long)]
    pub all_namespaces: bool,
    /// Renew the Certificates matching this label selector.
    #[arg(short = 'l', long)]
    pub selector: Option<String>,
    #[command(flatten)]
    pub kube: KubeArgs,
}

/// What `renew` does to one Certificate's conditions; `None` when an
/// issuance is already under way (renewing again would change nothing).
pub fn mark_for_renewal(
    existing: &[Condition],
    generation: Option<i64>,
    now: time::OffsetDateTime,
) -> Option<Condition> {
    if conditions::find(existing, "Issuing").is_some_and(|c| c.status == ConditionStatus::True) {
        return None;
    }
    let now = to_time(now);
    Some(Condition {
        type_: "Issuing".to_owned(),
        status: ConditionStatus::True,
        last_transition_time: Some(now),
        reason: Some(MANUALLY_TRIGGERED.to_owned()),
        message: Some(MESSAGE.to_owned()),
        observed_generation: generation,
    })
}

/// Marks the chosen Certificates; exit 1 when a named one is missing.
pub fn run(args: RenewArgs) -> anyhow::Result<i32> {
    if args.names.is_empty() && !args.all && args.selector.is_none() {
        bail!("name which certificates to renew: NAME..., --all, or -l SELECTOR");
    }
    if !args.names.is_empty() && (args.all || args.selector.is_some()) {
        bail!("certificate names cannot be combined with --all or -l");
    }
    block_on(async move {
        let client = args.kube.client().await?;
        let scoped: Api<Certificate> = if args.all_namespaces {
            Api::all(client.clone())
        } else {
            Api::namespaced(client.clone(), &args.namespace)
        };
        let mut chosen = Vec::new();
        let mut code = 0;
        if args.names.is_empty() {
            let mut params = ListParams::default();
            if let Some(selector) = &args.selector {
                params = params.labels(selector);
            }
            chosen = scoped.list(&params).await?.items;
        } else {
            for name in &args.names {
                match scoped.get_opt(name).await? {
                    Some(certificate) => chosen.push(certificate),
                    None => {
                        eprintln!("error: Certificate {}/{name} not found", args.namespace);
                        code = 1;
                    }
                }
            }
        }
        for mut certificate in chosen {
            let namespace = certificate.namespace().unwrap_or_default();
            let name = certificate.name_any();
            let mut status = certificate.status.clone().unwrap_or_default();
            let Some(issuing) = mark_for_renewal(
                &status.conditions,
                certificate.metadata.generation,
                time::OffsetDateTime::now_utc(),
            ) else {
                println!("Certificate {namespace}/{name} is already being issued; skipping");
                continue;
            };
            conditions::upsert(&mut status.conditions, issuing);
            certificate.status = Some(status);
            Api::<Certificate>::namespaced(client.clone(), &namespace)
                .replace_status(&name, &PostParams::default(), &certificate)
                .await?;
            println!("Manually triggered issuance of Certificate {namespace}/{name}");
        }
        anyhow::Ok(code)
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn renew_sets_issuing_manually_triggered_once() {
        let now = time::macros::datetime!(2026-11-23 12:00 UTC);
        let first = mark_for_renewal(&[], Some(3), now).expect("not issuing yet");
        assert_eq!(first.reason.as_deref(), Some("ManuallyTriggered"));
        assert_eq!(first.status, ConditionStatus::True);
        assert_eq!(first.observed_generation, Some(3));
        assert_eq!(
            first.message.as_deref(),
            Some("Certificate re-issuance manually triggered")
        );
        // Already issuing: nothing to do.
        assert!(mark_for_renewal(&[first], Some(3), now).is_none());
    }
}
