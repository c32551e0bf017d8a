//! The webhook's TLS, made by itself (no cainjector): a CA and a serving
//! certificate for the webhook Service's DNS names, kept in a Secret so
//! that every replica serves the same chain and a restart keeps it, and the
//! CA written into the webhook configurations' `caBundle` so that the API
//! server trusts it.

use std::collections::BTreeMap;

use k8s_openapi::ByteString;
use k8s_openapi::api::admissionregistration::v1::{
    MutatingWebhookConfiguration, ValidatingWebhookConfiguration,
};
use k8s_openapi::api::core::v1::Secret;
use kube::api::{Api, PostParams};

/// The Secret annotation naming the DNS names the serving certificate was
/// made for; a Secret for other names is replaced.
pub const DNS_NAMES_ANNOTATION: &str = "certwasm.io/webhook-dns-names";

/// A serving certificate is remade when it has less than this left.
const RENEW_BEFORE: time::Duration = time::Duration::days(30);

/// Why the webhook's TLS could not be set up.
#[derive(Debug, thiserror::Error)]
pub enum BootstrapError {
    /// Making a key or certificate failed.
    #[error("cannot make the webhook's certificates: {0}")]
    Certificate(#[from] rcgen::Error),
    /// The API refused a read or write.
    #[error("cannot {action}: {source}")]
    Api { action: String, source: kube::Error },
}

/// The PEMs the webhook serves with, and the CA its clients trust.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ServingTls {
    /// The CA certificate (what goes into `caBundle`).
    pub ca_pem: String,
    /// The CA's key, kept to sign the next serving certificate.
    pub ca_key_pem: String,
    /// The serving certificate.
    pub cert_pem: String,
    /// The serving key.
    pub key_pem: String,
}

impl ServingTls {
    /// The chain the server presents: the serving certificate, then the CA.
    pub fn chain_pem(&self) -> String {
        format!("{}{}", self.cert_pem, self.ca_pem)
    }
}

fn ca_params() -> Result<rcgen::CertificateParams, rcgen::Error> {
    let mut params = rcgen::CertificateParams::new(Vec::<String>::new())?;
    params
        .distinguished_name
        .push(rcgen::DnType::CommonName, "certwasm-webhook-ca");
    params.is_ca = rcgen::IsCa::Ca(rcgen::BasicConstraints::Unconstrained);
    params.key_usages = vec![
        rcgen::KeyUsagePurpose::KeyCertSign,
        rcgen::KeyUsagePurpose::CrlSign,
        rcgen::KeyUsagePurpose::DigitalSignature,
    ];
    params.not_before = time::OffsetDateTime::now_utc() - time::Duration::hours(1);
    params.not_after = params.not_before + time::Duration::days(3650);
    Ok(params)
}

/// Makes a CA (or reuses `ca`, the CA PEM and key PEM) and a one-year
/// serving certificate for `dns_names` signed by it.
pub fn make(dns_names: &[String], ca: Option<(&str, &str)>) -> Result<ServingTls, BootstrapError> {
    let (ca_pem, ca_key) = match ca {
        Some((pem, key)) => (pem.to_owned(), rcgen::KeyPair::from_pem(key)?),
        None => {
            let key = rcgen::KeyPair::generate_for(&rcgen::PKCS_ECDSA_P256_SHA256)?;
            let cert = ca_params()?.self_signed(&key)?;
            (cert.pem(), key)
        }
    };
    let ca_key_pem = ca_key.serialize_pem();
    let issuer = rcgen::Issuer::new(ca_params()?, ca_key);
    let key = rcgen::KeyPair::generate_for(&rcgen::PKCS_ECDSA_P256_SHA256)?;
    let mut params = rcgen::CertificateParams::new(dns_names.to_vec())?;
    params.distinguished_name.push(
        rcgen::DnType::CommonName,
        dns_names.first().map_or("certwasm-webhook", String::as_str),
    );
    params.extended_key_usages = vec![rcgen::ExtendedKeyUsagePurpose::ServerAuth];
    params.not_before = time::OffsetDateTime::now_utc() - time::Duration::hours(1);
    params.not_after = params.not_before + time::Duration::days(365);
    let cert = params.signed_by(&key, &issuer)?;
    Ok(ServingTls {
        ca_pem,
        ca_key_pem,
        cert_pem: cert.pem(),
        key_pem: key.serialize_pem(),
    })
}

fn not_after(pem_text: &str) -> Option<time::OffsetDateTime> {
    let block = pem::parse(pem_text).ok()?;
    let (_, cert) = x509_parser::parse_x509_certificate(block.contents()).ok()?;
    Some(cert.validity().not_after.to_datetime())
}

/// What the Secret holds, when it is still good for `dns_names` at `now`:
/// made for those names and valid for [`RENEW_BEFORE`] more.
pub fn from_secret(
    secret: &Secret,
    dns_names: &[String],
    now: time::OffsetDateTime,
) -> Option<ServingTls> {
    let data = secret.data.as_ref()?;
    let text = |key: &str| {
        data.get(key)
            .and_then(|b| String::from_utf8(b.0.clone()).ok())
    };
    let tls = ServingTls {
        ca_pem: text("ca.crt")?,
        ca_key_pem: text("ca.key")?,
        cert_pem: text("tls.crt")?,
        key_pem: text("tls.key")?,
    };
    let names = secret
        .metadata
        .annotations
        .as_ref()?
        .get(DNS_NAMES_ANNOTATION)?;
    if *names != dns_names.join(",") || not_after(&tls.cert_pem)? < now + RENEW_BEFORE {
        return None;
    }
    Some(tls)
}

fn to_secret(name: &str, namespace: &str, dns_names: &[String], tls: &ServingTls) -> Secret {
    let bytes = |s: &str| ByteString(s.as_bytes().to_vec());
    let mut secret = Secret {
        type_: Some("kubernetes.io/tls".to_owned()),
        data: Some(BTreeMap::from([
            ("ca.crt".to_owned(), bytes(&tls.ca_pem)),
            ("ca.key".to_owned(), bytes(&tls.ca_key_pem)),
            ("tls.crt".to_owned(), bytes(&tls.cert_pem)),
            ("tls.key".to_owned(), bytes(&tls.key_pem)),
        ])),
        ..Secret::default()
    };
    secret.metadata.name = Some(name.to_owned());
    secret.metadata.namespace = Some(namespace.to_owned());
    secret.metadata.annotations = Some(BTreeMap::from([(
        DNS_NAMES_ANNOTATION.to_owned(),
        dns_names.join(","),
    )]));
    secret
}

fn api_error(action: impl Into<String>) -> impl FnOnce(kube::Error) -> BootstrapError {
    let action = action.into();
    move |source| BootstrapError::Api { action, source }
}

/// The serving TLS from the Secret `namespace/name`, made (and stored)
/// when it is missing, for other names or about to expire. Replicas that
/// race agree through the API: the loser of a create or update reads the
/// winner's.
pub async fn ensure_secret(
    client: &kube::Client,
    namespace: &str,
    name: &str,
    dns_names: &[String],
) -> Result<ServingTls, BootstrapError> {
    let api: Api<Secret> = Api::namespaced(client.clone(), namespace);
    let read = format!("read the Secret {namespace}/{name}");
    let existing = api.get_opt(name).await.map_err(api_error(&read))?;
    let now = time::OffsetDateTime::now_utc();
    if let Some(tls) = existing
        .as_ref()
        .and_then(|s| from_secret(s, dns_names, now))
    {
        return Ok(tls);
    }
    // Keep the CA when there is one, so that caBundles stay valid.
    let old_ca = existing.as_ref().and_then(|s| {
        let data = s.data.as_ref()?;
        let ca = String::from_utf8(data.get("ca.crt")?.0.clone()).ok()?;
        let key = String::from_utf8(data.get("ca.key")?.0.clone()).ok()?;
        Some((ca, key))
    });
    let tls = make(
        dns_names,
        old_ca.as_ref().map(|(c, k)| (c.as_str(), k.as_str())),
    )?;
    let mut secret = to_secret(name, namespace, dns_names, &tls);
    let written = match &existing {
        Some(old) => {
            secret.metadata.resource_version = old.metadata.resource_version.clone();
            api.replace(name, &PostParams::default(), &secret).await
        }
        None => api.create(&PostParams::default(), &secret).await,
    };
    match written {
        Ok(_) => Ok(tls),
        Err(kube::Error::Api(status)) if status.code == 409 => {
            let winner = api.get(name).await.map_err(api_error(&read))?;
            match from_secret(&winner, dns_names, now) {
                Some(tls) => Ok(tls),
                None => Err(BootstrapError::Api {
                    action: format!("agree on the Secret {namespace}/{name}"),
                    source: kube::Error::Api(status),
                }),
            }
        }
        Err(source) => Err(BootstrapError::Api {
            action: format!("write the Secret {namespace}/{name}"),
            source,
        }),
    }
}

/// Writes `ca_pem` into every webhook's `clientConfig.caBundle` of the
/// Validating- and MutatingWebhookConfiguration called `name`; returns how
/// many configurations were changed. A configuration that does not exist
/// (not installed yet, or an API that does not serve them) is skipped.
pub async fn inject_ca_bundle(
    client: &kube::Client,
    name: &str,
    ca_pem: &str,
) -> Result<usize, BootstrapError> {
    let bundle = ByteString(ca_pem.as_bytes().to_vec());
    let mut changed = 0;
    let validating: Api<ValidatingWebhookConfiguration> = Api::all(client.clone());
    if let Some(mut config) = get_if_served(&validating, name).await? {
        let mut dirty = false;
        for hook in config.webhooks.iter_mut().flatten() {
            if hook.client_config.ca_bundle.as_ref() != Some(&bundle) {
                hook.client_config.ca_bundle = Some(bundle.clone());
                dirty = true;
            }
        }
        if dirty {
            validating
                .replace(name, &PostParams::default(), &config)
                .await
                .map_err(api_error(format!(
                    "update ValidatingWebhookConfiguration {name}"
                )))?;
            changed += 1;
        }
    }
    let mutating: Api<MutatingWebhookConfiguration> = Api::all(client.clone());
    if let Some(mut config) = get_if_served(&mutating, name).await? {
        let mut dirty = false;
        for hook in config.webhooks.iter_mut().flatten() {
            if hook.client_config.ca_bundle.as_ref() != Some(&bundle) {
                hook.client_config.ca_bundle = Some(bundle.clone());
                dirty = true;
            }
        }
        if dirty {
            mutating
                .replace(name, &PostParams::default(), &config)
                .await
                .map_err(api_error(format!(
                    "update MutatingWebhookConfiguration {name}"
                )))?;
            changed += 1;
        }
    }
    Ok(changed)
}

async fn get_if_served<K>(api: &Api<K>, name: &str) -> Result<Option<K>, BootstrapError>
where
    K: kube::Resource + Clone + serde::de::DeserializeOwned + std::fmt::Debug,
{
    match api.get_opt(name).await {
        Ok(found) => Ok(found),
        Err(kube::Error::Api(status)) if status.code == 404 => Ok(None),
        Err(source) => Err(BootstrapError::Api {
            action: format!("read webhook configuration {name}"),
            source,
        }),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn names() -> Vec<String> {
        vec![
            "certwasm-webhook".to_owned(),
            "certwasm-webhook.cert-manager.svc".to_owned(),
        ]
    }

    #[test]
    fn a_secret_is_reused_only_for_the_same_names_and_while_fresh() {
        let tls = make(&names(), None).expect("made");
        let secret = to_secret("webhook-tls", "cert-manager", &names(), &tls);
        let now = time::OffsetDateTime::now_utc();
        assert_eq!(from_secret(&secret, &names(), now), Some(tls.clone()));
        assert_eq!(
            from_secret(&secret, &names()[..1], now),
            None,
            "other names"
        );
        assert_eq!(
            from_secret(&secret, &names(), now + time::Duration::days(340)),
            None,
            "about to expire"
        );
    }

    #[test]
    fn a_renewed_serving_certificate_keeps_the_ca() {
        let first = make(&names(), None).expect("made");
        let second = make(&names(), Some((&first.ca_pem, &first.ca_key_pem))).expect("renewed");
        assert_eq!(first.ca_pem, second.ca_pem);
        assert_ne!(first.cert_pem, second.cert_pem);
        assert!(second.chain_pem().ends_with(&first.ca_pem));
    }
}
