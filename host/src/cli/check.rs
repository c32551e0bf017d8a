//! `certwasm check api`: whether the cert-manager API can be used, as
//! `cmctl check api` checks it: a dry-run create of a Certificate must be
//! accepted (so the CRDs are installed and served). `--wait` retries until
//! it is, for scripts that start a cluster and go on.

use std::time::Duration;

use clap::{Args, Subcommand};
use kube::api::{Api, PostParams};

use super::kube_client::{KubeArgs, block_on};
use crate::api::Certificate;

/// What `certwasm check` checks.
#[derive(Debug, Subcommand)]
pub enum CheckCommand {
    /// The cert-manager API is served and accepts Certificates.
    Api(CheckApiArgs),
}

/// Arguments of `certwasm check api`.
#[derive(Debug, Args)]
pub struct CheckApiArgs {
    /// Keep trying this long (e.g. `30s`, `2m`) before giving up.
    #[arg(long, value_parser = parse_wait, default_value = "0s")]
    pub wait: Duration,
    /// The namespace the dry-run Certificate is created in.
    #[arg(short, long, default_value = "default")]
    pub namespace: String,
    #[command(flatten)]
    pub kube: KubeArgs,
}

fn parse_wait(text: &str) -> Result<Duration, String> {
    crate::go_duration::parse(text).map_err(|e| e.to_string())
}

/// A Certificate that is valid but never stored (dry run).
fn probe() -> Certificate {
    serde_json::from_value(serde_json::json!({
        "apiVersion": "cert-manager.io/v1",
        "kind": "Certificate",
        "metadata": {"name": "certwasm-check-api"},
        "spec": {
            "secretName": "certwasm-check-api",
            "dnsNames": ["check-api.certwasm.invalid"],
            "issuerRef": {"name": "certwasm-check-api"}
        }
    }))
    .expect("the probe Certificate is well formed")
}

/// Exit 0 when ready, 1 when not (with the reason on stderr).
pub fn run(command: CheckCommand) -> anyhow::Result<i32> {
    let CheckCommand::Api(args) = command;
    block_on(async move {
        let deadline = tokio::time::Instant::now() + args.wait;
        loop {
            let outcome = async {
                let client = args.kube.client().await?;
                let api: Api<Certificate> = Api::namespaced(client, &args.namespace);
                let params = PostParams {
                    dry_run: true,
                    ..PostParams::default()
                };
                api.create(&params, &probe()).await?;
                anyhow::Ok(())
            }
            .await;
            match outcome {
                Ok(()) => {
                    println!("The cert-manager API is ready");
                    return Ok(0);
                }
                Err(err) if tokio::time::Instant::now() >= deadline => {
                    eprintln!("Not ready: {err:#}");
                    return Ok(1);
                }
                Err(_) => tokio::time::sleep(Duration::from_secs(1)).await,
            }
        }
    })
}
