//! The checks, as pure functions from what a plugin answered (and what was
//! asked of it) to a [`Row`]. Nothing here calls a plugin: the runner
//! gathers the answers, so every verdict can be tested on made-up answers.

use std::net::IpAddr;
use std::time::Duration;

use crate::pki::{self, CertificateInfo, KeyUsage, PrivateKey};
use crate::plugin::PluginCallError;
use crate::plugin::bindings::types::{Issued, PluginError as PluginFailure, PluginInfo};
use crate::plugin::egress::EgressPolicy;

use super::super::plugin_harness::{Finish, Issuance};
use super::verdict::Row;

/// How far a certificate's lifetime may be from the one requested and
/// still count as honoured: issuers commonly backdate `notBefore` a little
/// against clock skew (Vault by 30 s), and the call itself takes time.
pub const DURATION_TOLERANCE: Duration = Duration::from_secs(5 * 60);

/// The names a request asked for, to find in the certificate.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ExpectedNames {
    pub common_name: String,
    pub dns_names: Vec<String>,
    pub ip_addresses: Vec<IpAddr>,
    pub uris: Vec<String>,
    pub emails: Vec<String>,
}

/// `info` names the plugin, its version and at least one issuer type.
pub fn info_row(info: &PluginInfo) -> Row {
    const NAME: &str = "info";
    let mut missing = Vec::new();
    if info.name.trim().is_empty() {
        missing.push("a name");
    }
    if info.version.trim().is_empty() {
        missing.push("a version");
    }
    if info.issuer_types.iter().all(|t| t.trim().is_empty()) {
        missing.push("an issuer type");
    }
    if missing.is_empty() {
        Row::pass(
            NAME,
            format!(
                "{} {} serves {}",
                info.name,
                info.version,
                info.issuer_types.join(", ")
            ),
        )
    } else {
        Row::fail(NAME, format!("info() gives no {}", missing.join(", no ")))
    }
}

/// `validate` answers Ready for the Issuer.
pub fn validate_row(
    result: &Result<Result<crate::plugin::Validated, PluginFailure>, PluginCallError>,
) -> Row {
    const NAME: &str = "validate";
    match result {
        Ok(Ok(validated)) => {
            let ready = &validated.readiness;
            Row::pass(
                NAME,
                format!("Ready=True, {}: {}", ready.reason, ready.message)
                    .trim_end_matches(": ")
                    .to_owned(),
            )
        }
        Ok(Err(failure)) => Row::fail(
            NAME,
            format!("Ready=False, {}: {}", failure.reason, failure.message),
        ),
        Err(crash) => Row::fail(NAME, format!("validate did not return: {crash}")),
    }
}

/// The issued certificate, or why there is none, worded for a row.
fn issued(finish: &Finish) -> Result<&Issued, String> {
    match finish {
        Finish::Issued(issued) => Ok(issued),
        Finish::Refused(failure) => {
            Err(format!("refused, {}: {}", failure.reason, failure.message))
        }
        Finish::Crashed(crash) => Err(format!("the call did not return: {crash}")),
        Finish::GaveUp { waiting_for } => Err(format!("still pending: {waiting_for}")),
    }
}

/// The leaf of an issued chain, or why it cannot be read.
fn leaf(finish: &Finish) -> Result<CertificateInfo, String> {
    let issued = issued(finish)?;
    pki::parse_certificate_chain(&issued.certificate_chain_pem)
        .map_err(|e| format!("the chain does not parse: {e}"))?
        .into_iter()
        .next()
        .ok_or_else(|| "the chain holds no certificate".to_owned())
}

/// The chain parses, the leaf carries the CSR's public key, and each
/// certificate is signed by the next one; the last by the CA returned, or
/// by itself when it is self-signed.
pub fn chain_row(name: &str, finish: &Finish, key: &PrivateKey) -> Row {
    match check_chain(finish, key) {
        Ok(why) => Row::pass(name, why),
        Err(why) => Row::fail(name, why),
    }
}

fn check_chain(finish: &Finish, key: &PrivateKey) -> Result<String, String> {
    let issued = issued(finish)?;
    let chain = pki::parse_certificate_chain(&issued.certificate_chain_pem)
        .map_err(|e| format!("the chain does not parse: {e}"))?;
    let ca = issued
        .ca_pem
        .as_deref()
        .filter(|pem| !pem.trim().is_empty())
        .map(pki::parse_certificate_chain)
        .transpose()
        .map_err(|e| format!("the CA returned does not parse: {e}"))?;
    let leaf = &chain[0];
    if !pki::public_key_matches(leaf, key) {
        return Err(format!(
            "the leaf's public key ({}) is not the CSR's ({})",
            leaf.key_algorithm,
            key.algorithm().describe()
        ));
    }
    for pair in chain.windows(2) {
        pki::verify_issued_by(&pair[0], &pair[1]).map_err(|e| e.to_string())?;
    }
    let last = &chain[chain.len() - 1];
    let anchor = match ca.as_ref().and_then(|ca| ca.first()) {
        Some(ca) => {
            pki::verify_issued_by(last, ca)
                .map_err(|e| format!("{e} (the CA returned as ca.crt)"))?;
            "the CA returned"
        }
        None if last.subject == last.issuer => {
            pki::verify_issued_by(last, last)
                .map_err(|e| format!("{e} (a self-issued certificate)"))?;
            "itself"
        }
        None => {
            return Err(format!(
                "nothing to verify {} against: no next certificate in the chain and no CA returned",
                last.subject
            ));
        }
    };
    let links = chain.len();
    Ok(format!(
        "{} leaf with the CSR's key; {links} certificate{} verified up to {anchor}",
        leaf.key_algorithm,
        if links == 1 { "" } else { "s" }
    ))
}

/// The common name and every SAN requested are in the leaf.
pub fn names_row(finish: &Finish, expected: &ExpectedNames) -> Row {
    const NAME: &str = "subject-alt-names";
    let leaf = match leaf(finish) {
        Ok(leaf) => leaf,
        Err(why) => return Row::fail(NAME, why),
    };
    let mut missing = Vec::new();
    if leaf.common_name.as_deref() != Some(expected.common_name.as_str()) {
        missing.push(format!("CN {}", expected.common_name));
    }
    missing.extend(
        expected
            .dns_names
            .iter()
            .filter(|n| !leaf.dns_names.contains(n))
            .map(|n| format!("DNS {n}")),
    );
    missing.extend(
        expected
            .ip_addresses
            .iter()
            .filter(|n| !leaf.ip_addresses.contains(n))
            .map(|n| format!("IP {n}")),
    );
    missing.extend(
        expected
            .uris
            .iter()
            .filter(|n| !leaf.uris.contains(n))
            .map(|n| format!("URI {n}")),
    );
    missing.extend(
        expected
            .emails
            .iter()
            .filter(|n| !leaf.emails.contains(n))
            .map(|n| format!("email {n}")),
    );
    if missing.is_empty() {
        Row::pass(
            NAME,
            format!(
                "CN, {} DNS, {} IP, {} URI and {} email names all present",
                expected.dns_names.len(),
                expected.ip_addresses.len(),
                expected.uris.len(),
                expected.emails.len()
            ),
        )
    } else {
        Row::fail(NAME, format!("missing: {}", missing.join(", ")))
    }
}

/// `isCA` gives basicConstraints CA:TRUE and keyCertSign.
pub fn is_ca_row(finish: &Finish) -> Row {
    const NAME: &str = "is-ca";
    let leaf = match leaf(finish) {
        Ok(leaf) => leaf,
        Err(why) => return Row::fail(NAME, why),
    };
    match (leaf.is_ca, leaf.usages.contains(&KeyUsage::CertSign)) {
        (true, true) => Row::pass(NAME, "basicConstraints CA:TRUE and keyCertSign"),
        (false, _) => Row::fail(
            NAME,
            "isCA was requested but basicConstraints is not CA:TRUE",
        ),
        (true, false) => Row::fail(NAME, "CA:TRUE but no keyCertSign key usage"),
    }
}

/// Every requested usage is in the leaf's KeyUsage or ExtKeyUsage.
pub fn usages_row(finish: &Finish, requested: &[KeyUsage]) -> Row {
    const NAME: &str = "usages";
    let leaf = match leaf(finish) {
        Ok(leaf) => leaf,
        Err(why) => return Row::fail(NAME, why),
    };
    let missing: Vec<&str> = requested
        .iter()
        .filter(|u| !leaf.usages.contains(u))
        .map(|u| u.as_str())
        .collect();
    let names = |usages: &[KeyUsage]| {
        usages
            .iter()
            .map(|u| u.as_str())
            .collect::<Vec<_>>()
            .join(", ")
    };
    if missing.is_empty() {
        Row::pass(NAME, format!("requested {} all present", names(requested)))
    } else {
        Row::fail(
            NAME,
            format!(
                "missing {} (the certificate has: {})",
                missing.join(", "),
                names(&leaf.usages)
            ),
        )
    }
}

/// The requested lifetime is honoured. A shorter one passes as WARN when
/// it ends exactly at the issuing CA's own `notAfter` (cert-manager's CA
/// issuer caps it there) or when the plugin said why in a warning (a
/// Warning event or a warn-level log line during the issuance); otherwise,
/// and for a longer one, it fails.
pub fn duration_row(finish: &Finish, requested: Duration, explanations: &[String]) -> Row {
    const NAME: &str = "duration";
    let issued = match issued(finish) {
        Ok(issued) => issued,
        Err(why) => return Row::fail(NAME, why),
    };
    let chain = match pki::parse_certificate_chain(&issued.certificate_chain_pem) {
        Ok(chain) => chain,
        Err(e) => return Row::fail(NAME, format!("the chain does not parse: {e}")),
    };
    let leaf = &chain[0];
    let issuer_not_after = chain.get(1).map(|c| c.not_after).or_else(|| {
        issued
            .ca_pem
            .as_deref()
            .and_then(|pem| pki::parse_certificate_chain(pem).ok())
            .and_then(|ca| {
                ca.first()
                    .filter(|ca| ca.der != leaf.der)
                    .map(|c| c.not_after)
            })
    });
    let lifetime = (leaf.not_after - leaf.not_before).whole_seconds();
    let wanted = i64::try_from(requested.as_secs()).unwrap_or(i64::MAX);
    let tolerance = i64::try_from(DURATION_TOLERANCE.as_secs()).unwrap_or(0);
    let shown = |secs: i64| crate::go_duration::format(Duration::from_secs(secs.unsigned_abs()));
    if (lifetime - wanted).abs() <= tolerance {
        return Row::pass(
            NAME,
            format!(
                "notAfter - notBefore = {} for {} requested",
                shown(lifetime),
                shown(wanted)
            ),
        );
    }
    if lifetime > wanted {
        return Row::fail(
            NAME,
            format!(
                "{} issued for {} requested: longer than asked",
                shown(lifetime),
                shown(wanted)
            ),
        );
    }
    if issuer_not_after == Some(leaf.not_after) {
        return Row::warn(
            NAME,
            format!(
                "{} issued for {} requested: capped at the issuing CA's notAfter, as cert-manager's CA issuer does",
                shown(lifetime),
                shown(wanted)
            ),
        );
    }
    match explanations.first() {
        Some(said) => Row::warn(
            NAME,
            format!(
                "{} issued for {} requested; the plugin said: {said}",
                shown(lifetime),
                shown(wanted)
            ),
        ),
        None => Row::fail(
            NAME,
            format!(
                "{} issued for {} requested, and the plugin did not say why",
                shown(lifetime),
                shown(wanted)
            ),
        ),
    }
}

/// What a refusal check expects when the plugin issues anyway.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum IfIssued {
    Fail,
    /// A warning: the contract lets the plugin rely on the host's check.
    Warn,
}

/// A bad CSR is refused with the plugin's own, non-retryable error (a
/// `Failed` request in cert-manager's terms), not a crash and not a
/// certificate.
pub fn refusal_row(name: &str, what: &str, finish: &Finish, if_issued: IfIssued) -> Row {
    match finish {
        Finish::Refused(failure) if !failure.retryable => Row::pass(
            name,
            format!("refused, {}: {}", failure.reason, failure.message),
        ),
        Finish::Refused(failure) => Row::fail(
            name,
            format!(
                "refused as retryable ({}), but {what} never gets better: the request should fail",
                failure.reason
            ),
        ),
        Finish::Crashed(crash) => {
            Row::fail(name, format!("crashed instead of refusing {what}: {crash}"))
        }
        Finish::GaveUp { waiting_for } => {
            Row::fail(name, format!("still pending for {what}: {waiting_for}"))
        }
        Finish::Issued(_) => match if_issued {
            IfIssued::Fail => Row::fail(name, format!("issued a certificate for {what}")),
            IfIssued::Warn => Row::warn(
                name,
                format!(
                    "issued a certificate for {what}: safe only because the host checks CSR signatures before calling (cert-manager's signers check too)"
                ),
            ),
        },
    }
}

/// Issuances that answered `pending` were resumed from their state until
/// they finished.
pub fn pending_row(issuances: &[(&str, &Issuance)]) -> Row {
    const NAME: &str = "pending";
    let pended: Vec<&(&str, &Issuance)> = issuances
        .iter()
        .filter(|(_, issuance)| !issuance.pendings.is_empty())
        .collect();
    if pended.is_empty() {
        return Row::skip(NAME, "the plugin never answered pending");
    }
    let calls: usize = pended.iter().map(|(_, i)| i.pendings.len()).sum();
    for (name, issuance) in &pended {
        match &issuance.finish {
            Finish::GaveUp { waiting_for } => {
                return Row::fail(
                    NAME,
                    format!(
                        "{name}: still pending after {} calls and {}: {waiting_for}",
                        issuance.pendings.len(),
                        crate::go_duration::format(issuance.took)
                    ),
                );
            }
            Finish::Crashed(crash) => {
                return Row::fail(NAME, format!("{name}: a resumed call crashed: {crash}"));
            }
            Finish::Issued(_) | Finish::Refused(_) => {}
        }
    }
    Row::pass(
        NAME,
        format!(
            "{} request{} pended ({calls} pending answer{}) and finished when resumed from state",
            pended.len(),
            if pended.len() == 1 { "" } else { "s" },
            if calls == 1 { "" } else { "s" }
        ),
    )
}

/// Whether `reason` is CamelCase: a capital, then letters and digits.
fn is_camel_case(reason: &str) -> bool {
    let mut chars = reason.chars();
    chars.next().is_some_and(|c| c.is_ascii_uppercase()) && chars.all(|c| c.is_ascii_alphanumeric())
}

/// Whether `message` reads `"<what failed>: <why>"`.
fn is_worded(message: &str) -> bool {
    message
        .split_once(": ")
        .is_some_and(|(what, why)| !what.trim().is_empty() && !why.trim().is_empty())
}

/// Every error the battery collected has a CamelCase reason and a message
/// worded `"<what failed>: <why>"`, as cert-manager's are.
pub fn wording_row(failures: &[(&str, &PluginFailure)]) -> Row {
    const NAME: &str = "error-wording";
    if failures.is_empty() {
        return Row::skip(
            NAME,
            "the plugin refused nothing, so there was no error to read",
        );
    }
    let mut wrong = Vec::new();
    for (from, failure) in failures {
        if !is_camel_case(&failure.reason) {
            wrong.push(format!(
                "{from}: reason {:?} is not CamelCase",
                failure.reason
            ));
        }
        if !is_worded(&failure.message) {
            wrong.push(format!(
                "{from}: {:?} is not worded \"<what failed>: <why>\"",
                failure.message
            ));
        }
    }
    if wrong.is_empty() {
        Row::pass(
            NAME,
            format!(
                "{} error{} read, all CamelCase and \"<what failed>: <why>\"",
                failures.len(),
                if failures.len() == 1 { "" } else { "s" }
            ),
        )
    } else {
        Row::fail(NAME, wrong.join("; "))
    }
}

/// What the calls cost, against the limits they ran under.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Costs {
    pub calls: usize,
    pub peak_memory_bytes: usize,
    pub slowest: Duration,
}

/// Each call stayed within the memory cap and the deadline: none was
/// stopped for either, and the measured peaks are under the limits.
pub fn limits_row(
    costs: Costs,
    stopped: &[&PluginCallError],
    memory_bytes: usize,
    deadline: Duration,
) -> Row {
    const NAME: &str = "limits";
    if let Some(stop) = stopped.iter().find(|e| {
        matches!(
            e,
            PluginCallError::Timeout { .. } | PluginCallError::MemoryExceeded { .. }
        )
    }) {
        return Row::fail(NAME, stop.to_string());
    }
    let mib = |bytes: usize| bytes as f64 / f64::from(1u32 << 20);
    let figures = format!(
        "{} calls: peak memory {:.1} MiB of {:.0} MiB, slowest {:.0} ms of {}",
        costs.calls,
        mib(costs.peak_memory_bytes),
        mib(memory_bytes),
        costs.slowest.as_secs_f64() * 1e3,
        crate::go_duration::format(deadline)
    );
    if costs.peak_memory_bytes > memory_bytes || costs.slowest > deadline {
        Row::fail(NAME, figures)
    } else {
        Row::pass(NAME, figures)
    }
}

/// Every outbound request went to a host the issuer config names, and the
/// plugin attempted none that the host refused.
pub fn egress_row(policy: &EgressPolicy, sent: &[String], refused: &[String]) -> Row {
    const NAME: &str = "egress";
    let mut beyond: Vec<String> = sent
        .iter()
        .filter_map(|url| policy.check_url(url).err().map(|e| e.to_string()))
        .collect();
    beyond.extend(refused.iter().cloned());
    beyond.dedup();
    if !beyond.is_empty() {
        return Row::fail(NAME, beyond.join("; "));
    }
    let mut hosts: Vec<String> = sent
        .iter()
        .filter_map(|url| url::Url::parse(url).ok()?.host_str().map(str::to_owned))
        .collect();
    hosts.sort();
    hosts.dedup();
    if hosts.is_empty() {
        Row::pass(NAME, "no outbound requests")
    } else {
        Row::pass(
            NAME,
            format!(
                "{} request{} to {}, all named in the issuer config",
                sent.len(),
                if sent.len() == 1 { "" } else { "s" },
                hosts.join(", ")
            ),
        )
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::plugin::bindings::types::Readiness;

    fn failure(reason: &str, message: &str, retryable: bool) -> PluginFailure {
        PluginFailure {
            reason: reason.into(),
            message: message.into(),
            retryable,
        }
    }

    #[test]
    fn wording_wants_camel_case_and_a_colon() {
        let good = failure("SigningError", "Error signing certificate: bad CSR", false);
        let no_colon = failure("SigningError", "bad CSR", false);
        let snake = failure("signing_error", "Error signing: bad", false);
        assert_eq!(
            wording_row(&[("a", &good)]).status,
            super::super::verdict::Status::Pass
        );
        let row = wording_row(&[("a", &good), ("b", &no_colon), ("c", &snake)]);
        assert_eq!(row.status, super::super::verdict::Status::Fail);
        assert!(row.why.contains("b: \"bad CSR\""), "{}", row.why);
        assert!(
            row.why.contains("c: reason \"signing_error\""),
            "{}",
            row.why
        );
        assert_eq!(wording_row(&[]).status, super::super::verdict::Status::Skip);
    }

    #[test]
    fn refusals_must_be_final_and_not_crashes() {
        use super::super::verdict::Status;
        let refused = Finish::Refused(failure("Bad", "x: y", false));
        let retryable = Finish::Refused(failure("Bad", "x: y", true));
        let crashed = Finish::Crashed(PluginCallError::Trap {
            plugin: "p".into(),
            message: "wasm trap: unreachable".into(),
        });
        let issued = Finish::Issued(Issued {
            certificate_chain_pem: String::new(),
            ca_pem: None,
        });
        let status =
            |finish: &Finish, if_issued| refusal_row("r", "a bad CSR", finish, if_issued).status;
        assert_eq!(status(&refused, IfIssued::Fail), Status::Pass);
        assert_eq!(status(&retryable, IfIssued::Fail), Status::Fail);
        assert_eq!(status(&crashed, IfIssued::Warn), Status::Fail);
        assert_eq!(status(&issued, IfIssued::Fail), Status::Fail);
        assert_eq!(status(&issued, IfIssued::Warn), Status::Warn);
    }

    #[test]
    fn validate_and_info_rows() {
        use super::super::verdict::Status;
        let info = PluginInfo {
            name: "x".into(),
            version: String::new(),
            issuer_types: vec![],
            description: String::new(),
            needs: vec![],
        };
        let row = info_row(&info);
        assert_eq!(row.status, Status::Fail);
        assert_eq!(row.why, "info() gives no a version, no an issuer type");
        let ready = Ok(Ok(crate::plugin::Validated {
            readiness: Readiness {
                reason: "IsReady".into(),
                message: String::new(),
            },
            acme_account: None,
        }));
        assert_eq!(validate_row(&ready).why, "Ready=True, IsReady");
        let not_ready = Ok(Err(failure("ErrGetKeyPair", "no: secret", true)));
        assert_eq!(validate_row(&not_ready).status, Status::Fail);
    }

    #[test]
    fn limits_fail_on_a_stopped_call_or_a_peak_over_the_cap() {
        use super::super::verdict::Status;
        let costs = Costs {
            calls: 3,
            peak_memory_bytes: 2 << 20,
            slowest: Duration::from_millis(5),
        };
        let deadline = Duration::from_secs(10);
        assert_eq!(
            limits_row(costs, &[], 64 << 20, deadline).status,
            Status::Pass
        );
        assert_eq!(
            limits_row(costs, &[], 1 << 20, deadline).status,
            Status::Fail
        );
        let timeout = PluginCallError::Timeout {
            plugin: "p".into(),
            deadline,
        };
        assert_eq!(
            limits_row(costs, &[&timeout], 64 << 20, deadline).status,
            Status::Fail
        );
    }

    #[test]
    fn egress_fails_on_a_host_the_config_does_not_name() {
        use super::super::verdict::Status;
        let spec = serde_json::json!({"vault": {"server": "http://127.0.0.1:8200"}});
        let policy = EgressPolicy::from_issuer_spec(&spec);
        let named = vec!["http://127.0.0.1:8200/v1/sys/health".to_owned()];
        assert_eq!(egress_row(&policy, &named, &[]).status, Status::Pass);
        let other = vec!["https://example.net/x".to_owned()];
        assert_eq!(egress_row(&policy, &other, &[]).status, Status::Fail);
        let refused = vec!["host \"evil.example\" is not named".to_owned()];
        assert_eq!(egress_row(&policy, &[], &refused).status, Status::Fail);
        assert_eq!(egress_row(&policy, &[], &[]).why, "no outbound requests");
    }
}
