//! What a Certificate asks of its CSR, and whether an existing request
//! still matches the spec (cert-manager's `RequestMatchesSpec` and its
//! fuzzy fallback against the issued certificate).

use std::net::IpAddr;

use super::PolicyError;
use crate::api::defaults::effective_usages;
use crate::api::{Certificate, CertificateSpec};
use crate::pki::{CertificateInfo, CsrSpec, ParsedCsr, Subject};

fn invalid(field: &str, message: impl Into<String>) -> PolicyError {
    PolicyError::InvalidSpec {
        field: field.to_owned(),
        message: message.into(),
    }
}

fn ip_addresses(spec: &CertificateSpec) -> Result<Vec<IpAddr>, PolicyError> {
    spec.ip_addresses
        .iter()
        .enumerate()
        .map(|(i, ip)| {
            ip.parse().map_err(|_| {
                invalid(
                    &format!("spec.ipAddresses[{i}]"),
                    format!("{ip:?} is not an IP address"),
                )
            })
        })
        .collect()
}

/// The CSR a Certificate asks for.
pub fn csr_spec(certificate: &Certificate) -> Result<CsrSpec, PolicyError> {
    let spec = &certificate.spec;
    let subject = spec.subject.clone().unwrap_or_default();
    Ok(CsrSpec {
        common_name: spec.common_name.clone(),
        literal_subject: spec.literal_subject.clone(),
        subject: Subject {
            organizations: subject.organizations,
            countries: subject.countries,
            organizational_units: subject.organizational_units,
            localities: subject.localities,
            provinces: subject.provinces,
            street_addresses: subject.street_addresses,
            postal_codes: subject.postal_codes,
            serial_number: subject.serial_number,
        },
        dns_names: spec.dns_names.clone(),
        ip_addresses: ip_addresses(spec)?,
        uris: spec.uris.clone(),
        email_addresses: spec.email_addresses.clone(),
        usages: effective_usages(&spec.usages),
        is_ca: spec.is_ca,
        encode_usages_in_request: spec.encode_usages_in_request.unwrap_or(true),
    })
}

fn same_set<T: Ord + Clone>(a: &[T], b: &[T]) -> bool {
    let mut a = a.to_vec();
    let mut b = b.to_vec();
    a.sort();
    a.dedup();
    b.sort();
    b.dedup();
    a == b
}

/// Compares the IP, URI and email SANs of a CSR or certificate with the
/// spec, the same way for both: IPs in canonical form (so `::1` matches
/// `0:0::1`), every list as a set.
fn other_san_violations(
    ip_addresses: &[IpAddr],
    uris: &[String],
    emails: &[String],
    spec: &CertificateSpec,
    violations: &mut Vec<String>,
) {
    let ips: Vec<String> = ip_addresses.iter().map(IpAddr::to_string).collect();
    let wanted_ips: Vec<String> = spec
        .ip_addresses
        .iter()
        .map(|ip| {
            ip.parse::<IpAddr>()
                .map_or_else(|_| ip.clone(), |ip| ip.to_string())
        })
        .collect();
    if !same_set(&ips, &wanted_ips) {
        violations.push("spec.ipAddresses".to_owned());
    }
    if !same_set(uris, &spec.uris) {
        violations.push("spec.uris".to_owned());
    }
    if !same_set(emails, &spec.email_addresses) {
        violations.push("spec.emailAddresses".to_owned());
    }
}

/// The spec fields an existing request's CSR no longer matches, as
/// cert-manager names them (`spec.dnsNames`, ...); empty when it matches.
/// `request_duration` is the request's `spec.duration`.
pub fn request_violations(
    csr: &ParsedCsr,
    request_duration: Option<&str>,
    request_is_ca: bool,
    certificate: &Certificate,
) -> Vec<String> {
    let spec = &certificate.spec;
    let mut violations = Vec::new();
    if csr.common_name.as_deref().unwrap_or("") != spec.common_name.as_deref().unwrap_or("") {
        violations.push("spec.commonName".to_owned());
    }
    if !same_set(&csr.dns_names, &spec.dns_names) {
        violations.push("spec.dnsNames".to_owned());
    }
    other_san_violations(
        &csr.ip_addresses,
        &csr.uris,
        &csr.email_addresses,
        spec,
        &mut violations,
    );
    if request_is_ca != spec.is_ca {
        violations.push("spec.isCA".to_owned());
    }
    let subject = spec.subject.clone().unwrap_or_default();
    if !same_set(&csr.subject_fields.organizations, &subject.organizations) {
        violations.push("spec.subject.organizations".to_owned());
    }
    if request_duration.unwrap_or("") != spec.duration.as_deref().unwrap_or("")
        && spec.duration.is_some()
    {
        violations.push("spec.duration".to_owned());
    }
    violations
}

/// The fallback when no request is known: the issued certificate's
/// alternative names against the spec (cert-manager's fuzzy comparison: the
/// common name may also appear among the DNS names).
pub fn certificate_violations(info: &CertificateInfo, certificate: &Certificate) -> Vec<String> {
    let spec = &certificate.spec;
    let mut violations = Vec::new();
    if let Some(cn) = &spec.common_name
        && info.common_name.as_deref() != Some(cn.as_str())
    {
        violations.push("spec.commonName".to_owned());
    }
    let mut issued = info.dns_names.clone();
    let mut wanted = spec.dns_names.clone();
    if let Some(cn) = &info.common_name
        && !wanted.contains(cn)
        && issued.contains(cn)
        && spec.common_name.as_ref() == Some(cn)
    {
        wanted.push(cn.clone());
    }
    issued.sort();
    issued.dedup();
    wanted.sort();
    wanted.dedup();
    if issued != wanted {
        violations.push("spec.dnsNames".to_owned());
    }
    other_san_violations(
        &info.ip_addresses,
        &info.uris,
        &info.emails,
        spec,
        &mut violations,
    );
    violations
}
