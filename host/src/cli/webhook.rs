//! `certwasm webhook`: cert-manager's admission webhook in a cluster
//! (validation and defaults on `/validate` and `/mutate`), serving TLS it
//! made itself: the CA and serving certificate live in a Secret, and the CA
//! is written into the webhook configurations' `caBundle`.

use std::net::{IpAddr, SocketAddr};

use anyhow::Context as _;
use clap::Args;

use crate::webhook::bootstrap;

/// Arguments of `certwasm webhook`.
#[derive(Debug, Args)]
pub struct WebhookArgs {
    /// The HTTPS port (cert-manager's `--secure-port`).
    #[arg(long, default_value_t = 10250)]
    pub secure_port: u16,
    /// The address to listen on.
    #[arg(long, default_value = "0.0.0.0")]
    pub listen_address: IpAddr,
    /// The namespace of the TLS Secret (the webhook's own).
    #[arg(long, env = "POD_NAMESPACE", default_value = "cert-manager")]
    pub namespace: String,
    /// The Secret holding the webhook's CA and serving certificate.
    #[arg(long, default_value = "certwasm-webhook-ca")]
    pub tls_secret_name: String,
    /// DNS names of the serving certificate (the webhook Service's),
    /// comma separated.
    #[arg(long, value_delimiter = ',', required = true)]
    pub dns_names: Vec<String>,
    /// The Validating- and MutatingWebhookConfiguration whose `caBundle`
    /// is set to the webhook's CA.
    #[arg(long, default_value = "certwasm-webhook")]
    pub webhook_configuration_name: String,
}

/// Serves the webhook until SIGINT/SIGTERM.
pub fn run(args: WebhookArgs) -> anyhow::Result<i32> {
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .context("cannot start the async runtime")?;
    runtime.block_on(async move {
        let config = kube::Config::infer()
            .await
            .context("cannot reach the Kubernetes API (in-cluster config or KUBECONFIG)")?;
        let mut config = config;
        config.headers.push((
            axum::http::header::USER_AGENT,
            axum::http::HeaderValue::from_static(concat!(
                "certwasm-webhook/",
                env!("CARGO_PKG_VERSION")
            )),
        ));
        let client =
            kube::Client::try_from(config).context("cannot build the Kubernetes client")?;
        let tls = bootstrap::ensure_secret(
            &client,
            &args.namespace,
            &args.tls_secret_name,
            &args.dns_names,
        )
        .await?;
        let changed =
            bootstrap::inject_ca_bundle(&client, &args.webhook_configuration_name, &tls.ca_pem)
                .await?;
        eprintln!(
            "caBundle set in {changed} webhook configuration(s) named {}",
            args.webhook_configuration_name
        );
        // `helm upgrade` rewrites the configurations without the caBundle:
        // put it back whenever it goes missing.
        let ca = tls.ca_pem.clone();
        let name = args.webhook_configuration_name.clone();
        let keeper = client.clone();
        tokio::spawn(async move {
            loop {
                tokio::time::sleep(std::time::Duration::from_secs(30)).await;
                if let Err(err) = bootstrap::inject_ca_bundle(&keeper, &name, &ca).await {
                    tracing::warn!(%err, "cannot keep the caBundle");
                }
            }
        });
        let address = SocketAddr::new(args.listen_address, args.secure_port);
        let bound = crate::webhook::serve(address, &tls.chain_pem(), &tls.key_pem).await?;
        eprintln!("webhook: https://{bound}");
        super::run::wait_for_signal().await;
        anyhow::Ok(0)
    })
}
