//! The `certwasm` command line. This is the binary's edge: errors are
//! `anyhow` here and nowhere below.

use std::path::PathBuf;

use clap::{Parser, Subcommand};

mod approve;
pub mod bundle;
mod check;
mod controller;
mod inspect;
mod kube_client;
pub mod manifest;
pub mod plugin_conformance;
mod plugin_harness;
pub mod plugin_info;
mod plugin_load;
pub mod plugin_new;
mod plugin_test;
pub mod plugin_wit;
mod renew;
mod run;
mod solver_args;
mod status;
mod summary;
mod webhook;

/// certwasm: cert-manager's API and behaviour, with every issuer a sandboxed
/// WebAssembly plugin.
#[derive(Debug, Parser)]
#[command(name = "certwasm", version, about, long_about = None)]
pub struct Cli {
    /// Log filter (tracing's EnvFilter syntax), e.g. `info` or `certwasm=debug`.
    #[arg(long, global = true, env = "CERTWASM_LOG", default_value = "warn")]
    pub log: String,
    #[command(subcommand)]
    pub command: Command,
}

impl Cli {
    /// Whether the command only prints and exits, so that a closed stdout
    /// (`certwasm plugin test ... | head`) should end it quietly, as it
    /// ends other command-line tools, rather than as a panic. Servers keep
    /// Rust's default (SIGPIPE ignored): a client hanging up must never
    /// kill them.
    pub fn prints_and_exits(&self) -> bool {
        matches!(
            self.command,
            Command::Plugin(_)
                | Command::Crds
                | Command::Status(_)
                | Command::Inspect(_)
                | Command::Check(_)
        )
    }

    /// The log filter to install: `--log`, plus, for the `plugin` commands,
    /// what the plugin prints (an author running `plugin test` wants to see
    /// their `println!` / `console.log` / `print` without learning a filter
    /// first), unless `--log` already says something about it.
    pub fn log_filter(&self) -> String {
        let target = crate::plugin::OUTPUT_TARGET;
        match self.command {
            Command::Plugin(_) if !self.log.contains(target) => {
                format!("{},{target}=info", self.log)
            }
            _ => self.log.clone(),
        }
    }
}

#[derive(Debug, Subcommand)]
pub enum Command {
    /// Work with issuer plugins without a cluster.
    #[command(subcommand)]
    Plugin(PluginCommand),
    /// Build, inspect, push and pull plugin bundles: pinned components
    /// with the grants an operator gives them.
    #[command(subcommand)]
    Bundle(bundle::BundleCommand),
    /// Run the controllers against a Kubernetes cluster (in-cluster
    /// configuration or KUBECONFIG).
    Controller(Box<controller::ControllerArgs>),
    /// Serve cert-manager's admission webhook (validation and defaults)
    /// for a cluster, with TLS it bootstraps itself.
    Webhook(Box<webhook::WebhookArgs>),
    /// Approve a CertificateRequest (as `cmctl approve`).
    Approve(approve::DecisionArgs),
    /// Deny a CertificateRequest (as `cmctl deny`).
    Deny(approve::DecisionArgs),
    /// Re-issue Certificates now (as `cmctl renew`).
    Renew(renew::RenewArgs),
    /// Show a Certificate with its issuer, Secret and request (as `cmctl
    /// status`).
    #[command(subcommand)]
    Status(status::StatusCommand),
    /// Show what a resource holds (as `cmctl inspect`).
    #[command(subcommand)]
    Inspect(InspectCommand),
    /// Check that the cert-manager API is usable (as `cmctl check`).
    #[command(subcommand)]
    Check(check::CheckCommand),
    /// Run the embedded Kubernetes-compatible API and the controllers on
    /// this machine, keeping everything in --data-dir.
    Run(Box<run::RunArgs>),
    /// Print the CustomResourceDefinitions (cert-manager.io/v1 and
    /// acme.cert-manager.io/v1) as YAML, for `kubectl apply -f -`.
    Crds,
}

#[derive(Debug, Subcommand)]
pub enum InspectCommand {
    /// A TLS Secret's certificate: names, validity, issuer, trust.
    Secret(inspect::InspectSecretArgs),
}

#[derive(Debug, Subcommand)]
pub enum PluginCommand {
    /// Run an issuer plugin alone: validate an Issuer, then issue a certificate.
    Test(Box<plugin_test::TestArgs>),
    /// Check that a plugin behaves as cert-manager's issuers do: a fixed
    /// battery, one PASS/FAIL row per check.
    Conformance(Box<plugin_conformance::ConformanceArgs>),
    /// Print what a plugin says of itself.
    Info(plugin_info::InfoArgs),
    /// List the plugins bundled in this binary.
    List,
    /// Make a new plugin project (Rust, JavaScript or Python) that builds
    /// as it stands: a CA-from-a-Secret issuer to start from, its build
    /// script, a sample Issuer, a native unit test and the WIT contract.
    New(plugin_new::NewArgs),
    /// Write the WIT contract this binary loads (certwasm:issuer), for
    /// building a plugin in any language.
    Wit(plugin_wit::WitArgs),
}

/// Where compiled plugins are cached unless `--cache-dir` says otherwise:
/// `$XDG_CACHE_HOME/certwasm/plugins`, else `~/.cache/certwasm/plugins`.
pub fn default_cache_dir() -> Option<PathBuf> {
    let base = std::env::var_os("XDG_CACHE_HOME")
        .map(PathBuf::from)
        .or_else(|| std::env::var_os("HOME").map(|home| PathBuf::from(home).join(".cache")))?;
    Some(base.join("certwasm").join("plugins"))
}

/// Runs a parsed command line; returns the process exit code.
pub fn run(cli: Cli) -> anyhow::Result<i32> {
    match cli.command {
        Command::Plugin(PluginCommand::Test(args)) => plugin_test::run(*args),
        Command::Plugin(PluginCommand::Conformance(args)) => plugin_conformance::run(*args),
        Command::Plugin(PluginCommand::Info(args)) => plugin_info::run(args),
        Command::Plugin(PluginCommand::List) => plugin_info::list(),
        Command::Plugin(PluginCommand::New(args)) => plugin_new::run(args),
        Command::Plugin(PluginCommand::Wit(args)) => plugin_wit::run(args),
        Command::Bundle(command) => bundle::run(command),
        Command::Run(args) => run::run(*args),
        Command::Controller(args) => controller::run(*args),
        Command::Webhook(args) => webhook::run(*args),
        Command::Approve(args) => approve::run(args, true),
        Command::Deny(args) => approve::run(args, false),
        Command::Renew(args) => renew::run(args),
        Command::Status(command) => status::run(command),
        Command::Inspect(InspectCommand::Secret(args)) => inspect::run(args),
        Command::Check(command) => check::run(command),
        Command::Crds => {
            print!("{}", crate::api::crds_yaml());
            Ok(0)
        }
    }
}
