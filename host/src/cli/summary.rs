//! The one-screen summary of an issued certificate.

use std::time::Duration;

use anyhow::{Context, Result};
use time::format_description::well_known::Rfc3339;

use crate::pki::parse_certificate_chain;

/// Prints the leaf's subject, SANs, issuer, validity, key and usages, and
/// the rest of the chain in one line each.
pub fn print(chain_pem: &str, ca_pem: Option<&str>, took: Duration, now: i64) -> Result<()> {
    let chain = parse_certificate_chain(chain_pem)
        .context("the plugin returned an unreadable certificate chain")?;
    let leaf = chain
        .first()
        .context("the plugin returned an empty certificate chain")?;
    let when = |t: time::OffsetDateTime| t.format(&Rfc3339).unwrap_or_else(|_| t.to_string());
    let list = |items: &[String]| {
        if items.is_empty() {
            "-".to_owned()
        } else {
            items.join(", ")
        }
    };
    let lifetime = (leaf.not_after - leaf.not_before).whole_seconds();
    let left = leaf.not_after.unix_timestamp() - now;
    println!("Issued in {:.1} ms", took.as_secs_f64() * 1e3);
    println!("  Subject:      {}", leaf.subject);
    println!("  DNS names:    {}", list(&leaf.dns_names));
    let ips: Vec<String> = leaf.ip_addresses.iter().map(ToString::to_string).collect();
    println!("  IP addresses: {}", list(&ips));
    if !leaf.uris.is_empty() {
        println!("  URIs:         {}", list(&leaf.uris));
    }
    if !leaf.emails.is_empty() {
        println!("  Emails:       {}", list(&leaf.emails));
    }
    println!("  Issuer:       {}", leaf.issuer);
    println!("  Not before:   {}", when(leaf.not_before));
    println!(
        "  Not after:    {} ({} days; {} days left)",
        when(leaf.not_after),
        lifetime / 86_400,
        left / 86_400
    );
    println!("  Key:          {}", leaf.key_algorithm);
    println!("  Signature:    {}", leaf.signature_algorithm);
    println!("  Serial:       {}", leaf.serial);
    println!("  CA:           {}", if leaf.is_ca { "yes" } else { "no" });
    let usages: Vec<String> = leaf.usages.iter().map(|u| u.as_str().to_owned()).collect();
    println!("  Usages:       {}", list(&usages));
    for (index, cert) in chain.iter().enumerate().skip(1) {
        println!(
            "  Chain[{index}]:     {} (issuer {})",
            cert.subject, cert.issuer
        );
    }
    if let Some(ca) = ca_pem {
        let ca = parse_certificate_chain(ca).context("the plugin returned an unreadable CA")?;
        if let Some(root) = ca.first() {
            println!("  CA (ca.crt):  {}", root.subject);
        }
    }
    Ok(())
}
