//! `certwasm approve|deny NAME`: set a CertificateRequest's `Approved` or
//! `Denied` condition by hand, as `cmctl approve|deny` does, for setups that
//! run with `--no-auto-approve`.

use anyhow::{Context as _, bail};
use clap::Args;
use kube::api::{Api, PostParams};

use super::kube_client::{KubeArgs, block_on};

use crate::api::{CertificateRequest, Condition, ConditionStatus};
use crate::policy::conditions::{self, to_time};

/// Arguments of `certwasm approve` and `certwasm deny`.
#[derive(Debug, Args)]
pub struct DecisionArgs {
    /// The CertificateRequest.
    pub name: String,
    /// Its namespace.
    #[arg(short, long, default_value = "default")]
    pub namespace: String,
    /// The condition's reason.
    #[arg(long, default_value = "KubectlCertManager")]
    pub reason: String,
    /// The condition's message.
    #[arg(long)]
    pub message: Option<String>,
    #[command(flatten)]
    pub kube: KubeArgs,
}

/// Approves (`approve` true) or denies a request; exit 1 when it was
/// already decided.
pub fn run(args: DecisionArgs, approve: bool) -> anyhow::Result<i32> {
    block_on(async move {
        let client = args.kube.client().await?;
        let api: Api<CertificateRequest> = Api::namespaced(client, &args.namespace);
        let mut request = api
            .get(&args.name)
            .await
            .with_context(|| format!("CertificateRequest {}/{}", args.namespace, args.name))?;
        let mut status = request.status.clone().unwrap_or_default();
        for decided in ["Approved", "Denied"] {
            if conditions::find(&status.conditions, decided).is_some() {
                bail!(
                    "CertificateRequest {}/{} is already {}",
                    args.namespace,
                    args.name,
                    decided.to_lowercase()
                );
            }
        }
        let (type_, verb) = if approve {
            ("Approved", "approved")
        } else {
            ("Denied", "denied")
        };
        let message = args
            .message
            .clone()
            .unwrap_or_else(|| format!("manually {verb} by certwasm"));
        status.conditions.push(Condition {
            type_: type_.to_owned(),
            status: ConditionStatus::True,
            last_transition_time: Some(to_time(time::OffsetDateTime::now_utc())),
            reason: Some(args.reason.clone()),
            message: Some(message),
            observed_generation: None,
        });
        request.status = Some(status);
        api.replace_status(&args.name, &PostParams::default(), &request)
            .await?;
        println!(
            "{verb} CertificateRequest '{}/{}'",
            args.namespace, args.name
        );
        anyhow::Ok(0)
    })
}
