//! What `plugin test` and `plugin conformance` share: reading an Issuer and
//! its Secrets into what a plugin call takes, and driving `issue` through
//! `pending` answers until the plugin finishes, as the controllers do.
//!
//! Why one module: both commands must call a plugin exactly the way the
//! CertificateRequest controller does (same config, same lent key rule,
//! same resumption from state), or a plugin that passes one would behave
//! differently under the other.

use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::{Duration, Instant};

use anyhow::{Context, Result};
use clap::Args;

use super::manifest::{IssuerManifest, read_issuer, read_secrets};
use crate::pki::PrivateKey;
use crate::plugin::bindings::types::{
    CertificateRequest, IssueOutcome, Issued, IssuerConfig, IssuerKind, Need, Pending,
    PluginError as PluginFailure,
};
use crate::plugin::secrets::MemorySecrets;
use crate::plugin::selection::select_plugin;
use crate::plugin::{CallEffects, CallLimits, CallStats, IssueCall, Plugin, PluginCallError};

/// The per-call limits and the compiled-plugin cache, as both commands
/// take them (and as a bundle entry's `timeout` and `memory` set them for a
/// deployed plugin).
#[derive(Debug, Clone, Args)]
pub struct CallArgs {
    /// Per-call deadline (Go duration).
    #[arg(long, default_value = "10s")]
    pub call_deadline: String,
    /// Per-call memory cap, a quantity of bytes such as 64Mi.
    #[arg(long, default_value = "64Mi")]
    pub call_memory: String,
    /// Where compiled plugins are cached.
    #[arg(long, env = "CERTWASM_CACHE_DIR")]
    pub cache_dir: Option<PathBuf>,
}

impl CallArgs {
    /// The limits every call runs under.
    pub fn limits(&self) -> Result<CallLimits> {
        Ok(CallLimits {
            deadline: crate::go_duration::parse(&self.call_deadline).context("--call-deadline")?,
            memory_bytes: crate::bundle::manifest::parse_memory(&self.call_memory)
                .map_err(|why| anyhow::anyhow!("--call-memory {:?}: {why}", self.call_memory))?,
            ..CallLimits::default()
        })
    }

    /// `--cache-dir`, else the default cache.
    pub fn cache_dir(&self) -> Option<PathBuf> {
        self.cache_dir.clone().or_else(super::default_cache_dir)
    }
}

/// An Issuer manifest and the Secrets it needs, ready for plugin calls.
#[derive(Debug)]
pub struct IssuerSetup {
    pub issuer: IssuerManifest,
    pub config: IssuerConfig,
    pub secrets: Arc<MemorySecrets>,
    /// `Issuer ns/name`, for messages.
    pub label: String,
}

/// Reads `--issuer` and every `--secret` manifest. A Secret without a
/// namespace lives in the issuer's.
pub fn read_setup(issuer_path: &Path, secret_paths: &[PathBuf]) -> Result<IssuerSetup> {
    let issuer = read_issuer(issuer_path)?;
    let secrets = Arc::new(MemorySecrets::default());
    for path in secret_paths {
        for secret in read_secrets(path)? {
            let namespace = secret.namespace.unwrap_or_else(|| issuer.namespace.clone());
            secrets.insert(&namespace, &secret.name, secret.data);
        }
    }
    let config = IssuerConfig {
        kind: if issuer.kind == "ClusterIssuer" {
            IssuerKind::ClusterIssuer
        } else {
            IssuerKind::Issuer
        },
        name: issuer.name.clone(),
        namespace: issuer.namespace.clone(),
        spec_json: issuer.spec.to_string(),
    };
    let label = format!("{} {}/{}", issuer.kind, issuer.namespace, issuer.name);
    Ok(IssuerSetup {
        issuer,
        config,
        secrets,
        label,
    })
}

impl IssuerSetup {
    /// The plugin to run: the one named, else the bundled plugin for the
    /// Issuer's type.
    pub fn plugin_name(&self, named: Option<&str>, issuer_path: &Path) -> Result<String> {
        match named {
            Some(name) => Ok(name.to_owned()),
            None => Ok(select_plugin(&self.issuer.spec)
                .map_err(|e| anyhow::anyhow!("{}: {e}", issuer_path.display()))?
                .plugin_name()
                .to_owned()),
        }
    }

    /// Effects backed by the manifests' Secrets, real HTTP, the system clock.
    pub fn effects(&self) -> CallEffects {
        CallEffects {
            secrets: self.secrets.clone(),
            ..CallEffects::default()
        }
    }
}

/// How an issuance driven by [`issue_until_done`] ended.
#[derive(Debug)]
pub enum Finish {
    Issued(Issued),
    /// The plugin's own error.
    Refused(PluginFailure),
    /// The sandbox stopped a call (trap, timeout, memory).
    Crashed(PluginCallError),
    /// Still pending when the time was up.
    GaveUp {
        waiting_for: String,
    },
}

/// An issuance from first call to its end.
#[derive(Debug)]
pub struct Issuance {
    pub finish: Finish,
    /// Every `pending` answer, in order.
    pub pendings: Vec<Pending>,
    /// What each completed call cost.
    pub stats: Vec<CallStats>,
    pub took: Duration,
}

/// Calls `issue` for `request`, and again with the returned state while
/// the plugin answers `pending`, sleeping as it asks, until it issues,
/// fails or `give_up` has passed. The request's key is lent only to a
/// plugin that declares the `request-key` need, as the controllers do.
/// `on_pending` sees each `pending` answer as it comes.
pub fn issue_until_done(
    plugin: &Plugin,
    request: &CertificateRequest,
    key: Option<&Arc<PrivateKey>>,
    effects: &CallEffects,
    limits: &CallLimits,
    give_up: Duration,
    mut on_pending: impl FnMut(&Pending),
) -> Issuance {
    let lent_key = key.filter(|_| plugin.needs(Need::RequestKey)).cloned();
    let started = Instant::now();
    let mut state = None;
    let mut pendings = Vec::new();
    let mut stats = Vec::new();
    let finish = loop {
        let call = IssueCall {
            request: request.clone(),
            request_key: lent_key.clone(),
            state: state.take(),
            presented_challenges: Vec::new(),
        };
        let reply = match plugin.issue_reporting(call, effects, limits) {
            Ok(reply) => reply,
            Err(crash) => break Finish::Crashed(crash),
        };
        stats.push(reply.stats);
        match reply.result {
            Ok(IssueOutcome::Issued(issued)) => break Finish::Issued(issued),
            Ok(IssueOutcome::Pending(pending)) => {
                on_pending(&pending);
                let wait = Duration::from_millis(pending.retry_after_ms);
                if started.elapsed() + wait > give_up {
                    let waiting_for = pending.waiting_for.clone();
                    pendings.push(pending);
                    break Finish::GaveUp { waiting_for };
                }
                std::thread::sleep(wait);
                state = Some(pending.state.clone());
                pendings.push(pending);
            }
            Err(failure) => break Finish::Refused(failure),
        }
    };
    Issuance {
        finish,
        pendings,
        stats,
        took: started.elapsed(),
    }
}
