//! `certwasm inspect secret NAME`: what a TLS Secret holds, in the sections
//! `cmctl inspect secret` prints (valid for, validity period, issued by and
//! for, the certificate, and whether `ca.crt` vouches for it).

use std::fmt::Write as _;

use anyhow::Context as _;
use clap::Args;
use k8s_openapi::api::core::v1::Secret;
use kube::api::Api;
use sha2::{Digest, Sha256};
use time::OffsetDateTime;

use super::kube_client::{KubeArgs, block_on};
use crate::pki::{self, CertificateInfo};

/// Arguments of `certwasm inspect secret`.
#[derive(Debug, Args)]
pub struct InspectSecretArgs {
    /// The Secret (a Certificate's `spec.secretName`).
    pub name: String,
    /// Its namespace.
    #[arg(short, long, default_value = "default")]
    pub namespace: String,
    #[command(flatten)]
    pub kube: KubeArgs,
}

/// Prints the Secret's certificate; exit 1 when it holds none.
pub fn run(args: InspectSecretArgs) -> anyhow::Result<i32> {
    block_on(async move {
        let client = args.kube.client().await?;
        let secret = Api::<Secret>::namespaced(client, &args.namespace)
            .get(&args.name)
            .await
            .with_context(|| format!("Secret {}/{}", args.namespace, args.name))?;
        let data = secret.data.unwrap_or_default();
        let Some(tls_crt) = data.get("tls.crt") else {
            eprintln!(
                "error: Secret {}/{} has no tls.crt",
                args.namespace, args.name
            );
            return Ok(1);
        };
        let chain = String::from_utf8_lossy(&tls_crt.0);
        let ca = data.get("ca.crt").map(|c| String::from_utf8_lossy(&c.0));
        print!(
            "{}",
            describe(&chain, ca.as_deref(), OffsetDateTime::now_utc())
                .context("tls.crt cannot be read")?
        );
        anyhow::Ok(0)
    })
}

fn list(out: &mut String, title: &str, items: &[String]) {
    if items.is_empty() {
        let _ = writeln!(out, "\t{title}: <none>");
    } else {
        let _ = writeln!(out, "\t{title}: ");
        for item in items {
            let _ = writeln!(out, "\t\t- {item}");
        }
    }
}

fn field(out: &mut String, title: &str, values: &[String]) {
    let value = if values.is_empty() {
        "<none>".to_owned()
    } else {
        values.join(", ")
    };
    let _ = writeln!(out, "\t{title}:\t{value}");
}

fn date(at: OffsetDateTime) -> String {
    at.format(&time::format_description::well_known::Rfc2822)
        .unwrap_or_else(|_| at.to_string())
}

/// Whether `ca_pem` vouches for the chain: every certificate signed by the
/// next, the last by a certificate in `ca_pem`.
fn trust(chain: &[CertificateInfo], ca_pem: Option<&str>, now: OffsetDateTime) -> String {
    let Some(ca_pem) = ca_pem else {
        return "no ca.crt in the Secret".to_owned();
    };
    let roots = match pki::parse_certificate_chain(ca_pem) {
        Ok(roots) => roots,
        Err(err) => return format!("no: ca.crt cannot be read: {err}"),
    };
    for pair in chain.windows(2) {
        if let Err(err) = pki::verify_issued_by(&pair[0], &pair[1]) {
            return format!("no: {err}");
        }
    }
    let Some(top) = chain.last() else {
        return "no: empty chain".to_owned();
    };
    let signed = top.der == roots.first().map(|r| r.der.clone()).unwrap_or_default()
        || roots.iter().any(|r| pki::verify_issued_by(top, r).is_ok());
    if !signed {
        return "no: the chain is not signed by a certificate in ca.crt".to_owned();
    }
    match chain
        .iter()
        .find(|c| now < c.not_before || now > c.not_after)
    {
        Some(c) => format!("no: {} is not valid now", c.subject),
        None => "yes (by ca.crt)".to_owned(),
    }
}

/// The report for a Secret's `tls.crt` (and `ca.crt`) at `now`.
pub fn describe(
    chain_pem: &str,
    ca_pem: Option<&str>,
    now: OffsetDateTime,
) -> Result<String, pki::PkiError> {
    let chain = pki::parse_certificate_chain(chain_pem)?;
    let leaf = &chain[0];
    let mut out = String::new();
    out.push_str("Valid for:\n");
    list(&mut out, "DNS Names", &leaf.dns_names);
    list(&mut out, "URIs", &leaf.uris);
    let ips: Vec<String> = leaf.ip_addresses.iter().map(ToString::to_string).collect();
    list(&mut out, "IP Addresses", &ips);
    list(&mut out, "Email Addresses", &leaf.emails);
    let usages: Vec<String> = leaf.usages.iter().map(|u| u.as_str().to_owned()).collect();
    list(&mut out, "Usages", &usages);

    out.push_str("\nValidity period:\n");
    let _ = writeln!(out, "\tNot Before: {}", date(leaf.not_before));
    let _ = writeln!(out, "\tNot After: {}", date(leaf.not_after));

    out.push_str("\nIssued By:\n");
    let _ = writeln!(out, "\t{}", leaf.issuer);

    out.push_str("\nIssued For:\n");
    field(
        &mut out,
        "Common Name",
        &leaf.common_name.iter().cloned().collect::<Vec<_>>(),
    );
    let subject = &leaf.subject_fields;
    field(&mut out, "Organization", &subject.organizations);
    field(
        &mut out,
        "OrganizationalUnit",
        &subject.organizational_units,
    );
    field(&mut out, "Country", &subject.countries);

    out.push_str("\nCertificate:\n");
    let _ = writeln!(out, "\tSigning Algorithm:\t{}", leaf.signature_algorithm);
    let _ = writeln!(out, "\tPublic Key Algorithm:\t{}", leaf.key_algorithm);
    let _ = writeln!(out, "\tSerial Number:\t{}", leaf.serial);
    let fingerprint: Vec<String> = Sha256::digest(&leaf.der)
        .iter()
        .map(|b| format!("{b:02X}"))
        .collect();
    let _ = writeln!(out, "\tFingerprints:\t{}", fingerprint.join(":"));
    let _ = writeln!(out, "\tIs a CA certificate: {}", leaf.is_ca);
    if chain.len() > 1 {
        let _ = writeln!(out, "\tChain:");
        for intermediate in &chain[1..] {
            let _ = writeln!(out, "\t\t- {}", intermediate.subject);
        }
    }

    out.push_str("\nDebugging:\n");
    let _ = writeln!(out, "\tTrusted:\t{}", trust(&chain, ca_pem, now));
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A CA and a leaf it signed, made with rcgen (an independent X.509
    /// implementation).
    fn ca_and_leaf() -> (String, String) {
        let ca_key = rcgen::KeyPair::generate().unwrap();
        let mut ca_params = rcgen::CertificateParams::new(Vec::new()).unwrap();
        ca_params
            .distinguished_name
            .push(rcgen::DnType::CommonName, "Example CA");
        ca_params.is_ca = rcgen::IsCa::Ca(rcgen::BasicConstraints::Unconstrained);
        let ca = ca_params.self_signed(&ca_key).unwrap();
        let issuer = rcgen::Issuer::new(ca_params, ca_key);
        let leaf_key = rcgen::KeyPair::generate().unwrap();
        let mut leaf_params =
            rcgen::CertificateParams::new(vec!["www.example.com".to_owned()]).unwrap();
        leaf_params
            .distinguished_name
            .push(rcgen::DnType::CommonName, "www.example.com");
        let leaf = leaf_params.signed_by(&leaf_key, &issuer).unwrap();
        (ca.pem(), leaf.pem())
    }

    #[test]
    fn describes_names_validity_and_trust() {
        let (ca, leaf) = ca_and_leaf();
        let now = OffsetDateTime::now_utc();
        let text = describe(&leaf, Some(&ca), now).unwrap();
        assert!(text.contains("\t\t- www.example.com"), "{text}");
        assert!(text.contains("\tURIs: <none>"), "{text}");
        assert!(text.contains("CN=Example CA"), "{text}");
        assert!(text.contains("Trusted:\tyes (by ca.crt)"), "{text}");
        // Another CA does not vouch for it.
        let (other_ca, _) = ca_and_leaf();
        let text = describe(&leaf, Some(&other_ca), now).unwrap();
        assert!(
            text.contains("Trusted:\tno: the chain is not signed"),
            "{text}"
        );
        let text = describe(&leaf, None, now).unwrap();
        assert!(text.contains("no ca.crt"), "{text}");
    }
}
