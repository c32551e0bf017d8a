//! `certwasm status certificate NAME`: everything about one Certificate on
//! one screen, as `cmctl status certificate` shows it: its conditions and
//! events, its issuer's, the certificate in its Secret, and the
//! CertificateRequest in flight.

use std::fmt::Write as _;

use anyhow::Context as _;
use clap::{Args, Subcommand};
use k8s_openapi::api::core::v1::{Event, Secret};
use kube::ResourceExt;
use kube::api::{Api, ListParams};
use time::OffsetDateTime;

use super::kube_client::{KubeArgs, block_on};
use crate::api::{
    Certificate, CertificateRequest, ClusterIssuer, Condition, ConditionStatus, Issuer,
};
use crate::pki::{self, CertificateInfo};
use crate::policy::conditions::from_time;
use crate::policy::secret::{CERTIFICATE_NAME, CERTIFICATE_REVISION};

/// What `certwasm status` reports on.
#[derive(Debug, Subcommand)]
pub enum StatusCommand {
    /// A Certificate, its issuer, Secret and current request.
    Certificate(StatusCertificateArgs),
}

/// Arguments of `certwasm status certificate`.
#[derive(Debug, Args)]
pub struct StatusCertificateArgs {
    /// The Certificate.
    pub name: String,
    /// Its namespace.
    #[arg(short, long, default_value = "default")]
    pub namespace: String,
    #[command(flatten)]
    pub kube: KubeArgs,
}

/// An event as shown.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct EventLine {
    pub type_: String,
    pub reason: String,
    pub from: String,
    pub message: String,
    pub count: i32,
}

/// An object's name, conditions and events.
#[derive(Debug, Clone, Default)]
pub struct ObjectView {
    pub kind: String,
    pub name: String,
    pub conditions: Vec<Condition>,
    pub events: Vec<EventLine>,
}

/// All `status certificate` shows, gathered first so that showing it is a
/// pure function.
#[derive(Debug, Clone)]
pub struct CertificateView {
    pub certificate: Certificate,
    pub events: Vec<EventLine>,
    /// `None` when the issuer does not exist.
    pub issuer: Option<ObjectView>,
    /// The Secret's leaf certificate; `None` when there is no Secret, and
    /// `Some(Err)` when it holds no readable certificate.
    pub secret: Option<Result<CertificateInfo, String>>,
    /// The request for the next revision, when one is in flight.
    pub request: Option<ObjectView>,
}

fn status_word(status: ConditionStatus) -> &'static str {
    match status {
        ConditionStatus::True => "True",
        ConditionStatus::False => "False",
        ConditionStatus::Unknown => "Unknown",
    }
}

fn conditions(out: &mut String, indent: &str, lines: &[Condition]) {
    if lines.is_empty() {
        let _ = writeln!(out, "{indent}Conditions: <none>");
        return;
    }
    let _ = writeln!(out, "{indent}Conditions:");
    for c in lines {
        let _ = writeln!(
            out,
            "{indent}  {}: {}, Reason: {}, Message: {}",
            c.type_,
            status_word(c.status),
            c.reason.as_deref().unwrap_or(""),
            c.message.as_deref().unwrap_or("")
        );
    }
}

fn events(out: &mut String, indent: &str, lines: &[EventLine]) {
    if lines.is_empty() {
        let _ = writeln!(out, "{indent}Events:  <none>");
        return;
    }
    let _ = writeln!(out, "{indent}Events:");
    let _ = writeln!(out, "{indent}  Type\tReason\tCount\tFrom\tMessage");
    for e in lines {
        let _ = writeln!(
            out,
            "{indent}  {}\t{}\t{}\t{}\t{}",
            e.type_, e.reason, e.count, e.from, e.message
        );
    }
}

fn rfc3339(at: OffsetDateTime) -> String {
    at.format(&time::format_description::well_known::Rfc3339)
        .unwrap_or_else(|_| at.to_string())
}

/// The report, in `cmctl status certificate`'s order.
pub fn render(view: &CertificateView) -> String {
    let certificate = &view.certificate;
    let spec = &certificate.spec;
    let status = certificate.status.clone().unwrap_or_default();
    let mut out = String::new();
    let _ = writeln!(out, "Name: {}", certificate.name_any());
    let _ = writeln!(
        out,
        "Namespace: {}",
        certificate.namespace().unwrap_or_default()
    );
    if let Some(created) = &certificate.metadata.creation_timestamp {
        let _ = writeln!(out, "Created at: {}", created.0);
    }
    conditions(&mut out, "", &status.conditions);
    if !spec.dns_names.is_empty() {
        let _ = writeln!(out, "DNS Names:");
        for name in &spec.dns_names {
            let _ = writeln!(out, "- {name}");
        }
    }
    events(&mut out, "", &view.events);

    let _ = writeln!(out, "Issuer:");
    match &view.issuer {
        Some(issuer) => {
            let _ = writeln!(out, "  Name: {}", issuer.name);
            let _ = writeln!(out, "  Kind: {}", issuer.kind);
            conditions(&mut out, "  ", &issuer.conditions);
            events(&mut out, "  ", &issuer.events);
        }
        None => {
            let _ = writeln!(
                out,
                "  {} {:?} not found",
                spec.issuer_ref.effective_kind(),
                spec.issuer_ref.name
            );
        }
    }

    let _ = writeln!(out, "Secret:");
    let _ = writeln!(out, "  Name: {}", spec.secret_name);
    match &view.secret {
        None => {
            let _ = writeln!(out, "  (does not exist)");
        }
        Some(Err(why)) => {
            let _ = writeln!(out, "  (no readable certificate: {why})");
        }
        Some(Ok(leaf)) => {
            let _ = writeln!(out, "  Issuer: {}", leaf.issuer);
            let _ = writeln!(out, "  Subject: {}", leaf.subject);
            let usages: Vec<&str> = leaf.usages.iter().map(|u| u.as_str()).collect();
            let _ = writeln!(out, "  Key Usages: {}", usages.join(", "));
            let _ = writeln!(out, "  Public Key Algorithm: {}", leaf.key_algorithm);
            let _ = writeln!(out, "  Signature Algorithm: {}", leaf.signature_algorithm);
            let _ = writeln!(out, "  Serial Number: {}", leaf.serial);
        }
    }
    if let Some(t) = &status.not_before {
        let _ = writeln!(out, "Not Before: {}", rfc3339(from_time(t)));
    }
    if let Some(t) = &status.not_after {
        let _ = writeln!(out, "Not After: {}", rfc3339(from_time(t)));
    }
    if let Some(t) = &status.renewal_time {
        let _ = writeln!(out, "Renewal Time: {}", rfc3339(from_time(t)));
    }
    match &view.request {
        None => {
            let _ = writeln!(out, "No CertificateRequest found for this Certificate");
        }
        Some(request) => {
            let _ = writeln!(out, "CertificateRequest:");
            let _ = writeln!(out, "  Name: {}", request.name);
            conditions(&mut out, "  ", &request.conditions);
            events(&mut out, "  ", &request.events);
        }
    }
    out
}

/// The events recorded on the object with this uid, oldest first.
async fn events_for(client: &kube::Client, namespace: &str, uid: Option<&str>) -> Vec<EventLine> {
    let Some(uid) = uid else {
        return Vec::new();
    };
    let api: Api<Event> = Api::namespaced(client.clone(), namespace);
    let params = ListParams::default().fields(&format!("involvedObject.uid={uid}"));
    let mut found: Vec<Event> = api
        .list(&params)
        .await
        .map(|l| l.items)
        .unwrap_or_default()
        .into_iter()
        // A server that ignores the field selector is filtered here.
        .filter(|e| e.involved_object.uid.as_deref() == Some(uid))
        .collect();
    found.sort_by_key(|e| e.last_timestamp.clone().map(|t| t.0));
    found
        .into_iter()
        .map(|e| EventLine {
            type_: e.type_.unwrap_or_default(),
            reason: e.reason.unwrap_or_default(),
            from: e.source.and_then(|s| s.component).unwrap_or_default(),
            message: e.message.unwrap_or_default(),
            count: e.count.unwrap_or(1),
        })
        .collect()
}

async fn gather(
    client: &kube::Client,
    namespace: &str,
    name: &str,
) -> anyhow::Result<CertificateView> {
    let certificate = Api::<Certificate>::namespaced(client.clone(), namespace)
        .get(name)
        .await
        .with_context(|| format!("Certificate {namespace}/{name}"))?;
    let events = events_for(client, namespace, certificate.uid().as_deref()).await;
    let reference = &certificate.spec.issuer_ref;
    let issuer = if reference.is_cluster_issuer() {
        Api::<ClusterIssuer>::all(client.clone())
            .get_opt(&reference.name)
            .await?
            .map(|i| (i.status.clone().unwrap_or_default().conditions, i.uid()))
    } else {
        Api::<Issuer>::namespaced(client.clone(), namespace)
            .get_opt(&reference.name)
            .await?
            .map(|i| (i.status.clone().unwrap_or_default().conditions, i.uid()))
    };
    let issuer = match issuer {
        Some((conditions, uid)) => {
            // ClusterIssuer events are recorded in the default namespace.
            let event_namespace = if reference.is_cluster_issuer() {
                "default"
            } else {
                namespace
            };
            Some(ObjectView {
                kind: reference.effective_kind().to_owned(),
                name: reference.name.clone(),
                conditions,
                events: events_for(client, event_namespace, uid.as_deref()).await,
            })
        }
        None => None,
    };
    let secret = Api::<Secret>::namespaced(client.clone(), namespace)
        .get_opt(&certificate.spec.secret_name)
        .await?
        .map(|s| {
            let pem = s
                .data
                .unwrap_or_default()
                .get("tls.crt")
                .map(|c| String::from_utf8_lossy(&c.0).into_owned())
                .ok_or_else(|| "no tls.crt".to_owned())?;
            pki::parse_certificate_chain(&pem)
                .map_err(|e| e.to_string())
                .and_then(|chain| chain.into_iter().next().ok_or_else(|| "empty".to_owned()))
        });
    let next_revision = certificate
        .status
        .as_ref()
        .and_then(|s| s.revision)
        .unwrap_or(0)
        + 1;
    let request = Api::<CertificateRequest>::namespaced(client.clone(), namespace)
        .list(&ListParams::default())
        .await?
        .items
        .into_iter()
        .find(|r| {
            r.annotations().get(CERTIFICATE_NAME).map(String::as_str) == Some(name)
                && r.annotations().get(CERTIFICATE_REVISION) == Some(&next_revision.to_string())
        });
    let request = match request {
        Some(r) => Some(ObjectView {
            kind: "CertificateRequest".to_owned(),
            name: r.name_any(),
            conditions: r.status.clone().unwrap_or_default().conditions,
            events: events_for(client, namespace, r.uid().as_deref()).await,
        }),
        None => None,
    };
    Ok(CertificateView {
        certificate,
        events,
        issuer,
        secret,
        request,
    })
}

/// Prints the report; errors when the Certificate does not exist.
pub fn run(command: StatusCommand) -> anyhow::Result<i32> {
    let StatusCommand::Certificate(args) = command;
    block_on(async move {
        let client = args.kube.client().await?;
        let view = gather(&client, &args.namespace, &args.name).await?;
        print!("{}", render(&view));
        anyhow::Ok(0)
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::api::CertificateStatus;

    #[test]
    fn renders_conditions_issuer_secret_and_request_in_cmctl_order() {
        let mut certificate: Certificate = serde_json::from_value(serde_json::json!({
            "apiVersion": "cert-manager.io/v1",
            "kind": "Certificate",
            "metadata": {"name": "web"},
            "spec": {"secretName": "web-tls", "dnsNames": ["www.example.com"],
                     "issuerRef": {"name": "ca", "kind": "Issuer"}}
        }))
        .unwrap();
        certificate.metadata.namespace = Some("default".to_owned());
        certificate.status = Some(CertificateStatus {
            conditions: vec![Condition {
                type_: "Ready".to_owned(),
                status: ConditionStatus::False,
                last_transition_time: None,
                reason: Some("DoesNotExist".to_owned()),
                message: Some("Issuing certificate as Secret does not exist".to_owned()),
                observed_generation: Some(1),
            }],
            ..CertificateStatus::default()
        });
        let view = CertificateView {
            certificate,
            events: vec![EventLine {
                type_: "Normal".to_owned(),
                reason: "Issuing".to_owned(),
                from: "cert-manager-certificates-trigger".to_owned(),
                message: "Issuing certificate as Secret does not exist".to_owned(),
                count: 1,
            }],
            issuer: None,
            secret: None,
            request: Some(ObjectView {
                kind: "CertificateRequest".to_owned(),
                name: "web-1".to_owned(),
                conditions: Vec::new(),
                events: Vec::new(),
            }),
        };
        let text = render(&view);
        let order = [
            "Name: web\n",
            "Namespace: default\n",
            "  Ready: False, Reason: DoesNotExist, Message: Issuing certificate as Secret does not exist\n",
            "DNS Names:\n- www.example.com\n",
            "  Normal\tIssuing\t1\tcert-manager-certificates-trigger\t",
            "Issuer:\n  Issuer \"ca\" not found\n",
            "Secret:\n  Name: web-tls\n  (does not exist)\n",
            "CertificateRequest:\n  Name: web-1\n  Conditions: <none>\n  Events:  <none>\n",
        ];
        let mut at = 0;
        for part in order {
            let found = text[at..]
                .find(part)
                .unwrap_or_else(|| panic!("{part:?} after {at} in\n{text}"));
            at += found + part.len();
        }
    }
}
