//! `certwasm plugin test`: one issuer plugin, no cluster.
//!
//! Reads a cert-manager Issuer manifest and the Secrets it needs, makes a key
//! and CSR (or takes a CSR), runs the plugin's `validate` and then `issue`
//! until it finishes, writes `tls.crt`, `tls.key` and `ca.crt`, and prints
//! what was issued. Exits 1 with the plugin's reason when it fails.

use std::net::IpAddr;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;

use anyhow::{Context, Result, bail};
use clap::{Args, ValueEnum};

use super::plugin_harness::{CallArgs, Finish, issue_until_done, read_setup};
use super::{plugin_load, summary};
use crate::clock::{Clock, SystemClock};
use crate::go_duration;
use crate::pki::{self, CsrSpec, KeyAlgorithm, KeyEncoding, KeyUsage, PrivateKey, Subject};
use crate::plugin::bindings::types::{CertificateRequest, EventType};
use crate::plugin::{CallLimits, CallStats};

/// Key algorithms, as cert-manager's `privateKey.algorithm`.
#[derive(Debug, Clone, Copy, ValueEnum)]
pub enum KeyAlgorithmArg {
    Rsa,
    Ecdsa,
    Ed25519,
}

#[derive(Debug, Args)]
pub struct TestArgs {
    /// The plugin: a bundled name (see `certwasm plugin list`) or a `.wasm`
    /// path.
    /// Defaults to the bundled plugin for the Issuer's type.
    #[arg(long)]
    pub plugin: Option<String>,
    /// The Issuer or ClusterIssuer manifest (cert-manager.io/v1 YAML).
    #[arg(long)]
    pub issuer: PathBuf,
    /// Secret manifests the issuer references (repeatable).
    #[arg(long = "secret")]
    pub secrets: Vec<PathBuf>,
    /// DNS names to request (repeatable); the first is also the common name
    /// unless `--common-name` is given.
    #[arg(long = "dns-name", required_unless_present_any = ["csr", "common_name", "ip_address", "uri", "email"])]
    pub dns_names: Vec<String>,
    /// IP addresses to request (repeatable).
    #[arg(long = "ip-address", conflicts_with = "csr")]
    pub ip_address: Vec<IpAddr>,
    /// URIs to request (repeatable).
    #[arg(long, conflicts_with = "csr")]
    pub uri: Vec<String>,
    /// Email addresses to request (repeatable).
    #[arg(long, conflicts_with = "csr")]
    pub email: Vec<String>,
    /// The subject common name.
    #[arg(long, conflicts_with = "csr")]
    pub common_name: Option<String>,
    /// Subject organization (repeatable).
    #[arg(long = "organization", conflicts_with = "csr")]
    pub organizations: Vec<String>,
    /// A PKCS#10 request (PEM) to sign instead of making a key and CSR.
    #[arg(long, conflicts_with_all = ["dns_names", "key_algorithm", "key_size"])]
    pub csr: Option<PathBuf>,
    /// Algorithm of the key to make.
    #[arg(long, value_enum, default_value = "ecdsa")]
    pub key_algorithm: KeyAlgorithmArg,
    /// Key size (RSA: 2048, 3072, 4096; ECDSA: 256, 384).
    #[arg(long)]
    pub key_size: Option<u32>,
    /// Private key encoding written to tls.key.
    #[arg(long, value_parser = ["PKCS1", "PKCS8"], default_value = "PKCS1")]
    pub key_encoding: String,
    /// Requested validity, a Go duration (cert-manager's default: 2160h).
    #[arg(long)]
    pub duration: Option<String>,
    /// Request a CA certificate.
    #[arg(long)]
    pub is_ca: bool,
    /// Key usages, cert-manager's names (repeatable), e.g. "server auth".
    #[arg(long = "usage")]
    pub usages: Vec<String>,
    /// Directory to write tls.crt, tls.key and ca.crt into.
    #[arg(long)]
    pub out: Option<PathBuf>,
    /// Give up on a pending issuance after this long (Go duration).
    #[arg(long, default_value = "5m")]
    pub timeout: String,
    #[command(flatten)]
    pub call: CallArgs,
}

pub fn run(args: TestArgs) -> Result<i32> {
    let setup = read_setup(&args.issuer, &args.secrets)?;
    let plugin_name = setup.plugin_name(args.plugin.as_deref(), &args.issuer)?;

    let (key, csr_pem) = match &args.csr {
        Some(path) => {
            let pem = std::fs::read_to_string(path)
                .with_context(|| format!("reading {}", path.display()))?;
            pki::parse_csr(&pem)
                .with_context(|| format!("{} is not a usable CSR", path.display()))?;
            (None, pem)
        }
        None => {
            let key = PrivateKey::generate(key_algorithm(&args)?)?;
            let csr = pki::build_csr(&csr_spec(&args)?, &key)?;
            (Some(Arc::new(key)), csr)
        }
    };
    let duration = args
        .duration
        .as_deref()
        .map(go_duration::parse)
        .transpose()
        .context("--duration")?;
    let usages = args
        .usages
        .iter()
        .map(|u| KeyUsage::from_cert_manager(u).map_err(anyhow::Error::from))
        .collect::<Result<Vec<_>>>()
        .context("--usage")?;
    let limits = args.call.limits()?;
    let give_up = go_duration::parse(&args.timeout).context("--timeout")?;

    let (plugin, source, load_time) = plugin_load::load(&plugin_name, args.call.cache_dir())?;
    let info = plugin.info();
    println!(
        "Plugin {} {} (serves {}), loaded in {:.1} ms ({source:?})",
        info.name,
        info.version,
        info.issuer_types.join(", "),
        load_time.as_secs_f64() * 1e3
    );
    if let Some(warning) = name_mismatch(&setup.issuer.spec, info.name.as_str()) {
        eprintln!("warning: {warning}");
    }

    let effects = setup.effects();
    let config = setup.config.clone();
    let issuer_label = &setup.label;
    match plugin.validate(&config, &effects, &limits)? {
        Ok(validated) => {
            let ready = &validated.readiness;
            println!(
                "{issuer_label}: Ready=True, reason {}: {}",
                ready.reason, ready.message
            );
            if let Some(account) = &validated.acme_account {
                println!(
                    "{issuer_label}: status.acme.uri {}, lastRegisteredEmail {:?}",
                    account.uri, account.email
                );
            }
        }
        Err(failure) => {
            eprintln!(
                "{issuer_label}: Ready=False, reason {}: {}",
                failure.reason, failure.message
            );
            return Ok(1);
        }
    }

    let request = CertificateRequest {
        name: "plugin-test-1".to_owned(),
        namespace: setup.issuer.namespace.clone(),
        csr_pem: csr_pem.clone(),
        duration_seconds: duration.map(|d| d.as_secs()),
        is_ca: args.is_ca,
        usages: usages.into_iter().map(Into::into).collect(),
        issuer: config,
        request_key: None,
        annotations: Vec::new(),
    };
    let issuance = issue_until_done(
        &plugin,
        &request,
        key.as_ref(),
        &effects,
        &limits,
        give_up,
        |pending| {
            for event in &pending.events {
                let kind = match event.type_ {
                    EventType::Normal => "Normal",
                    EventType::Warning => "Warning",
                };
                println!("  {kind:<7} {:<20} {}", event.reason, event.message);
            }
            println!("  Pending: {}", pending.waiting_for);
        },
    );
    let issued = match issuance.finish {
        Finish::Issued(issued) => issued,
        Finish::Crashed(crash) => return Err(crash.into()),
        Finish::GaveUp { waiting_for } => {
            eprintln!("Gave up after {give_up:?}: still pending ({waiting_for})");
            return Ok(1);
        }
        Finish::Refused(failure) => {
            eprintln!(
                "Issuance failed, reason {}: {}{}",
                failure.reason,
                failure.message,
                if failure.retryable {
                    " (retrying later could succeed)"
                } else {
                    ""
                }
            );
            return Ok(1);
        }
    };
    let took = issuance.took;
    let mut costs = CallCosts::default();
    for stats in &issuance.stats {
        costs.add(stats);
    }
    println!("{}", costs.describe(&limits));

    let now = SystemClock.now_unix_seconds();
    summary::print(
        &issued.certificate_chain_pem,
        issued.ca_pem.as_deref(),
        took,
        now,
    )?;
    if let Some(out) = &args.out {
        let encoding = if args.key_encoding == "PKCS8" {
            KeyEncoding::Pkcs8
        } else {
            KeyEncoding::Pkcs1
        };
        let key_pem = key.as_ref().map(|k| k.to_pem(encoding)).transpose()?;
        write_outputs(
            out,
            &issued.certificate_chain_pem,
            key_pem.as_deref(),
            issued.ca_pem.as_deref(),
        )?;
    }
    Ok(0)
}

/// What the `issue` calls of one run cost, for the author: the sandbox's
/// caps apply per call, so the slowest and largest call are what matter.
#[derive(Debug, Default)]
struct CallCosts {
    calls: usize,
    slowest: Duration,
    peak_memory_bytes: usize,
}

impl CallCosts {
    fn add(&mut self, stats: &CallStats) {
        self.calls += 1;
        self.slowest = self.slowest.max(stats.elapsed);
        self.peak_memory_bytes = self.peak_memory_bytes.max(stats.peak_memory_bytes);
    }

    fn describe(&self, limits: &CallLimits) -> String {
        let mib = |bytes: usize| bytes as f64 / f64::from(1 << 20);
        format!(
            "{} issue call{}: slowest {:.1} ms of the {} deadline, peak memory {:.1} MiB of the {:.0} MiB cap",
            self.calls,
            if self.calls == 1 { "" } else { "s" },
            self.slowest.as_secs_f64() * 1e3,
            go_duration::format(limits.deadline),
            mib(self.peak_memory_bytes),
            mib(limits.memory_bytes),
        )
    }
}

/// A warning when the Issuer asks for a plugin by a name other than the
/// one the plugin gives itself: `plugin test` runs whatever `--plugin`
/// names, but a cluster selects by `spec.plugin.name`, so the Issuer would
/// not reach this plugin unless a bundle entry carries that name.
fn name_mismatch(spec: &serde_json::Value, own_name: &str) -> Option<String> {
    let asked = spec.pointer("/plugin/name")?.as_str()?;
    (asked != own_name).then(|| {
        format!(
            "the Issuer asks for plugin {asked:?} (spec.plugin.name) but the plugin calls itself \
             {own_name:?}; in a cluster the Issuer reaches it only through a bundle entry named {asked:?}"
        )
    })
}

fn key_algorithm(args: &TestArgs) -> Result<KeyAlgorithm> {
    let name = match args.key_algorithm {
        KeyAlgorithmArg::Rsa => "RSA",
        KeyAlgorithmArg::Ecdsa => "ECDSA",
        KeyAlgorithmArg::Ed25519 => "Ed25519",
    };
    Ok(KeyAlgorithm::from_spec(Some(name), args.key_size)?)
}

fn csr_spec(args: &TestArgs) -> Result<CsrSpec> {
    let common_name = args
        .common_name
        .clone()
        .or_else(|| args.dns_names.first().cloned());
    let usages = args
        .usages
        .iter()
        .map(|u| KeyUsage::from_cert_manager(u))
        .collect::<Result<Vec<_>, _>>()
        .context("--usage")?;
    Ok(CsrSpec {
        common_name,
        literal_subject: None,
        subject: Subject {
            organizations: args.organizations.clone(),
            ..Subject::default()
        },
        dns_names: args.dns_names.clone(),
        ip_addresses: args.ip_address.clone(),
        uris: args.uri.clone(),
        email_addresses: args.email.clone(),
        usages,
        is_ca: args.is_ca,
        encode_usages_in_request: true,
    })
}

/// Writes each file whole (temporary name, then rename) so a crash never
/// leaves half a certificate; the key is 0600 from the start.
fn write_outputs(dir: &Path, chain: &str, key: Option<&str>, ca: Option<&str>) -> Result<()> {
    std::fs::create_dir_all(dir).with_context(|| format!("creating {}", dir.display()))?;
    let mut written = Vec::new();
    for (name, contents, private) in [
        ("tls.crt", Some(chain), false),
        ("tls.key", key, true),
        ("ca.crt", ca, false),
    ] {
        let Some(contents) = contents else { continue };
        let path = dir.join(name);
        write_atomically(&path, contents.as_bytes(), private)?;
        written.push(path.display().to_string());
    }
    if written.is_empty() {
        bail!("nothing to write");
    }
    println!("Wrote {}", written.join(", "));
    Ok(())
}

fn write_atomically(path: &Path, contents: &[u8], private: bool) -> Result<()> {
    use std::io::Write;
    let tmp = path.with_extension("tmp");
    let mut options = std::fs::OpenOptions::new();
    options.write(true).create(true).truncate(true);
    #[cfg(unix)]
    {
        use std::os::unix::fs::OpenOptionsExt;
        options.mode(if private { 0o600 } else { 0o644 });
    }
    let mut file = options
        .open(&tmp)
        .with_context(|| format!("writing {}", tmp.display()))?;
    file.write_all(contents)?;
    file.sync_all()?;
    std::fs::rename(&tmp, path).with_context(|| format!("writing {}", path.display()))?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_different_plugin_name_is_warned_about() {
        let spec = serde_json::json!({"plugin": {"name": "my-ca", "config": {}}});
        assert_eq!(name_mismatch(&spec, "my-ca"), None);
        let warning = name_mismatch(&spec, "myca").unwrap_or_default();
        assert!(warning.contains("asks for plugin \"my-ca\""), "{warning}");
        assert!(warning.contains("calls itself \"myca\""), "{warning}");
        // An Issuer of a built-in type names no plugin.
        let ca = serde_json::json!({"ca": {"secretName": "ca"}});
        assert_eq!(name_mismatch(&ca, "ca"), None);
    }

    #[test]
    fn call_costs_keep_the_worst_call() {
        let mut costs = CallCosts::default();
        for (ms, mib) in [(3, 2), (9, 1)] {
            costs.add(&CallStats {
                elapsed: Duration::from_millis(ms),
                peak_memory_bytes: mib << 20,
            });
        }
        let said = costs.describe(&CallLimits::default());
        assert_eq!(
            said,
            "2 issue calls: slowest 9.0 ms of the 10s deadline, peak memory 2.0 MiB of the 64 MiB cap"
        );
    }
}
