//! The shell that runs the battery: makes the keys and CSRs, calls the
//! plugin through the runtime (as the controllers would, see
//! `plugin_harness`), watches what it does, and hands the answers to the
//! pure checks in [`super::checks`].

use std::net::IpAddr;
use std::sync::Arc;
use std::time::{Duration, Instant};

use anyhow::{Context, Result, bail};
use tracing_subscriber::layer::SubscriberExt;

use super::super::plugin_harness::{Finish, Issuance, IssuerSetup, issue_until_done};
use super::capture::{RecordingOutbound, Watch};
use super::checks::{self, Costs, ExpectedNames, IfIssued};
use super::verdict::Row;
use crate::pki::{self, CsrSpec, KeyAlgorithm, KeyUsage, PrivateKey, Subject};
use crate::plugin::bindings::types::{CertificateRequest, EventType, PluginError as PluginFailure};
use crate::plugin::egress::EgressPolicy;
use crate::plugin::outbound::ReqwestOutbound;
use crate::plugin::{CallEffects, CallLimits, Plugin, PluginCallError};

/// What the battery asks for.
#[derive(Debug, Clone)]
pub struct Plan {
    /// Names are made under this domain: the CN and DNS names
    /// `conformance.<domain>`, `www.conformance.<domain>`, the email
    /// `conformance@<domain>`, the URI `spiffe://<domain>/conformance`.
    pub domain: String,
    /// `spec.duration` of every request.
    pub duration: Duration,
    /// Per-call limits.
    pub limits: CallLimits,
    /// How long one issuance may stay pending.
    pub give_up: Duration,
}

/// The usages the `usages` row requests: what a TLS server and client
/// certificate asks for.
const USAGES: [KeyUsage; 4] = [
    KeyUsage::ServerAuth,
    KeyUsage::ClientAuth,
    KeyUsage::DigitalSignature,
    KeyUsage::KeyEncipherment,
];

/// The key types every issuer is asked to sign, with their rows.
const KEY_TYPES: [(&str, KeyAlgorithm); 5] = [
    ("issue-ecdsa-p256", KeyAlgorithm::EcdsaP256),
    ("issue-ecdsa-p384", KeyAlgorithm::EcdsaP384),
    ("issue-rsa-2048", KeyAlgorithm::Rsa2048),
    ("issue-rsa-4096", KeyAlgorithm::Rsa4096),
    ("issue-ed25519", KeyAlgorithm::Ed25519),
];

/// One issuance the battery ran, and the warnings seen during it.
struct Ran {
    name: &'static str,
    issuance: Issuance,
    warnings: Vec<String>,
}

struct Runner<'a> {
    plugin: &'a Plugin,
    setup: &'a IssuerSetup,
    effects: CallEffects,
    plan: &'a Plan,
    watch: Watch,
}

impl Runner<'_> {
    fn request(
        &self,
        name: &str,
        csr_pem: String,
        is_ca: bool,
        usages: &[KeyUsage],
    ) -> CertificateRequest {
        CertificateRequest {
            name: format!("conformance-{name}"),
            namespace: self.setup.issuer.namespace.clone(),
            csr_pem,
            duration_seconds: Some(self.plan.duration.as_secs()),
            is_ca,
            usages: usages.iter().copied().map(Into::into).collect(),
            issuer: self.setup.config.clone(),
            request_key: None,
            annotations: Vec::new(),
        }
    }

    fn issue(
        &self,
        name: &'static str,
        request: &CertificateRequest,
        key: &Arc<PrivateKey>,
    ) -> Ran {
        self.watch.take_warnings();
        let mut said = Vec::new();
        let issuance = issue_until_done(
            self.plugin,
            request,
            Some(key),
            &self.effects,
            &self.plan.limits,
            self.plan.give_up,
            |pending| {
                said.extend(
                    pending
                        .events
                        .iter()
                        .filter(|e| e.type_ == EventType::Warning)
                        .map(|e| format!("{}: {}", e.reason, e.message)),
                );
            },
        );
        said.extend(self.watch.take_warnings());
        Ran {
            name,
            issuance,
            warnings: said,
        }
    }
}

fn spec(plan: &Plan, names: bool, is_ca: bool, usages: &[KeyUsage]) -> CsrSpec {
    let host = format!("conformance.{}", plan.domain);
    let mut spec = CsrSpec {
        common_name: Some(host.clone()),
        literal_subject: None,
        subject: Subject::default(),
        dns_names: vec![host.clone()],
        ip_addresses: Vec::new(),
        uris: Vec::new(),
        email_addresses: Vec::new(),
        usages: usages.to_vec(),
        is_ca,
        encode_usages_in_request: true,
    };
    if names {
        let expected = expected_names(plan);
        spec.dns_names = expected.dns_names;
        spec.ip_addresses = expected.ip_addresses;
        spec.uris = expected.uris;
        spec.email_addresses = expected.emails;
    }
    spec
}

/// The names the `subject-alt-names` row asks for: one of each kind, and
/// both IP families (from the documentation ranges, RFC 5737 and 3849).
fn expected_names(plan: &Plan) -> ExpectedNames {
    let host = format!("conformance.{}", plan.domain);
    let ips: [IpAddr; 2] = [
        IpAddr::from([192, 0, 2, 10]),
        IpAddr::from([0x2001, 0xdb8, 0, 0, 0, 0, 0, 0x10]),
    ];
    ExpectedNames {
        common_name: host.clone(),
        dns_names: vec![host.clone(), format!("www.{host}")],
        ip_addresses: ips.to_vec(),
        uris: vec![format!("spiffe://{}/conformance", plan.domain)],
        emails: vec![format!("conformance@{}", plan.domain)],
    }
}

/// A well-formed CSR's DER cut in half, in a PEM block: what a broken
/// client might send.
fn malformed(csr_pem: &str) -> Result<String> {
    let der = pem::parse(csr_pem).context("reading the CSR made for the battery")?;
    let half = &der.contents()[..der.contents().len() / 2];
    Ok(pem::encode(&pem::Pem::new(
        "CERTIFICATE REQUEST",
        half.to_vec(),
    )))
}

/// The same CSR with one bit of its signature flipped: well formed, but
/// its self-signature does not verify.
fn bad_signature(csr_pem: &str) -> Result<String> {
    let der = pem::parse(csr_pem).context("reading the CSR made for the battery")?;
    let mut bytes = der.contents().to_vec();
    let last = bytes.len() - 1;
    bytes[last] ^= 0x01;
    let tampered = pem::encode(&pem::Pem::new("CERTIFICATE REQUEST", bytes));
    if pki::parse_csr(&tampered).is_ok() || pki::read_csr(&tampered).is_err() {
        bail!("could not make a CSR whose only fault is its signature");
    }
    Ok(tampered)
}

/// Runs the whole battery; returns its rows in the table's order.
pub fn run(plugin: &Plugin, setup: &IssuerSetup, plan: &Plan) -> Result<Vec<Row>> {
    let watch = Watch::forwarding_to(tracing::dispatcher::get_default(Clone::clone));
    let subscriber = tracing_subscriber::registry().with(watch.clone());
    tracing::subscriber::with_default(subscriber, || run_watched(plugin, setup, plan, watch))
}

fn run_watched(
    plugin: &Plugin,
    setup: &IssuerSetup,
    plan: &Plan,
    watch: Watch,
) -> Result<Vec<Row>> {
    let recorder = Arc::new(RecordingOutbound::new(ReqwestOutbound::shared()));
    let effects = CallEffects {
        outbound: recorder.clone(),
        ..setup.effects()
    };
    let runner = Runner {
        plugin,
        setup,
        effects,
        plan,
        watch,
    };
    let mut rows = vec![checks::info_row(plugin.info())];

    let started = Instant::now();
    let validated = plugin.validate(&setup.config, &runner.effects, &plan.limits);
    let validate_took = started.elapsed();
    rows.push(checks::validate_row(&validated));

    // One request per key type; the first also serves the duration row,
    // and its key the refusal rows.
    let mut ran: Vec<Ran> = Vec::new();
    let mut first_key = None;
    let mut first_csr = String::new();
    for (name, algorithm) in KEY_TYPES {
        let key = Arc::new(PrivateKey::generate(algorithm)?);
        let csr = pki::build_csr(&spec(plan, false, false, &[]), &key)?;
        let result = runner.issue(name, &runner.request(name, csr.clone(), false, &[]), &key);
        rows.push(checks::chain_row(name, &result.issuance.finish, &key));
        if first_key.is_none() {
            first_key = Some(key);
            first_csr = csr;
        }
        ran.push(result);
    }
    let key = first_key.context("no key was made")?;

    let names_csr = pki::build_csr(&spec(plan, true, false, &[]), &key)?;
    let names = runner.issue(
        "subject-alt-names",
        &runner.request("subject-alt-names", names_csr, false, &[]),
        &key,
    );
    rows.push(checks::names_row(
        &names.issuance.finish,
        &expected_names(plan),
    ));
    ran.push(names);

    let ca_csr = pki::build_csr(&spec(plan, false, true, &[]), &key)?;
    let ca = runner.issue("is-ca", &runner.request("is-ca", ca_csr, true, &[]), &key);
    rows.push(checks::is_ca_row(&ca.issuance.finish));
    ran.push(ca);

    let usages_csr = pki::build_csr(&spec(plan, false, false, &USAGES), &key)?;
    let usages = runner.issue(
        "usages",
        &runner.request("usages", usages_csr, false, &USAGES),
        &key,
    );
    rows.push(checks::usages_row(&usages.issuance.finish, &USAGES));
    ran.push(usages);

    rows.push(checks::duration_row(
        &ran[0].issuance.finish,
        plan.duration,
        &ran[0].warnings,
    ));

    let refusals = [
        (
            "malformed-csr",
            "a malformed CSR",
            malformed(&first_csr)?,
            IfIssued::Fail,
        ),
        (
            "bad-signature-csr",
            "a CSR whose signature does not verify",
            bad_signature(&first_csr)?,
            IfIssued::Warn,
        ),
    ];
    for (name, what, csr, if_issued) in refusals {
        let result = runner.issue(name, &runner.request(name, csr, false, &[]), &key);
        rows.push(checks::refusal_row(
            name,
            what,
            &result.issuance.finish,
            if_issued,
        ));
        ran.push(result);
    }

    let issuances: Vec<(&str, &Issuance)> = ran.iter().map(|r| (r.name, &r.issuance)).collect();
    rows.push(checks::pending_row(&issuances));

    let mut failures: Vec<(&str, &PluginFailure)> = Vec::new();
    if let Ok(Err(failure)) = &validated {
        failures.push(("validate", failure));
    }
    failures.extend(ran.iter().filter_map(|r| match &r.issuance.finish {
        Finish::Refused(failure) => Some((r.name, failure)),
        _ => None,
    }));
    rows.push(checks::wording_row(&failures));

    let mut stopped: Vec<&PluginCallError> = ran
        .iter()
        .filter_map(|r| match &r.issuance.finish {
            Finish::Crashed(crash) => Some(crash),
            _ => None,
        })
        .collect();
    if let Err(crash) = &validated {
        stopped.push(crash);
    }
    let stats = ran.iter().flat_map(|r| r.issuance.stats.iter());
    let costs = Costs {
        calls: 1 + ran.iter().map(|r| r.issuance.stats.len()).sum::<usize>(),
        peak_memory_bytes: stats
            .clone()
            .map(|s| s.peak_memory_bytes)
            .max()
            .unwrap_or(0),
        slowest: stats
            .map(|s| s.elapsed)
            .chain([validate_took])
            .max()
            .unwrap_or_default(),
    };
    rows.push(checks::limits_row(
        costs,
        &stopped,
        plan.limits.memory_bytes,
        plan.limits.deadline,
    ));

    let policy = EgressPolicy::from_issuer_spec(&setup.issuer.spec);
    rows.push(checks::egress_row(
        &policy,
        &recorder.sent(),
        &runner.watch.refused(),
    ));
    Ok(rows)
}
