//! The Secret data a Certificate asks for beyond the PEM files:
//! `spec.additionalOutputFormats` and `spec.keystores`. Kept apart from the
//! issuing code so that `issue_secret` makes one call, and so that the
//! post-issuance check (`refresh`) rewrites these entries from the key and
//! certificate already in the Secret, without a new CertificateRequest, as
//! cert-manager does.

use std::collections::BTreeMap;

use super::events::EventType;
use k8s_openapi::ByteString;
use k8s_openapi::api::core::v1::Secret;
use kube::api::{Api, PostParams};
use kube::{Resource, ResourceExt};

use super::{Context, ControllerError};
use crate::api::{Certificate, SecretKeySelector};
use crate::pki::keystore::{self, jks, pkcs12};
use crate::pki::{PrivateKey, parse_certificate_chain};
use crate::policy::outputs::{self, MANAGED_KEYS};

const ISSUING: &str = "cert-manager-certificates-issuing";
/// Warning event reason when the extra outputs cannot be made (certwasm's:
/// cert-manager only logs the error and retries).
const SECRET_UPDATE_FAILED: &str = "SecretUpdateFailed";
/// cert-manager's password when a keystore names no password at all.
const DEFAULT_PASSWORD: &[u8] = b"changeit";

/// Why the extra Secret entries could not be made; the messages are
/// cert-manager's errors for the same failures.
#[derive(Debug, thiserror::Error)]
pub enum SecretOutputsError {
    /// The password Secret is missing, unreadable or lacks the key.
    #[error("failed to add keystores to Secret: {0}")]
    Password(String),
    /// Encoding a keystore failed.
    #[error("failed to add keystores to Secret: error encoding {kind} bundle: {source}")]
    Keystore {
        /// `PKCS12`, `PKCS12 trust store`, `JKS`, `JKS trust store`.
        kind: &'static str,
        /// The encoder's error.
        source: keystore::KeystoreError,
    },
    /// The key or certificate in hand cannot be read.
    #[error("failed to add keystores to Secret: {0}")]
    Input(String),
    /// Reading the password Secret failed for another reason.
    #[error(transparent)]
    Api(#[from] kube::Error),
}

/// The PEM material the entries are made from.
#[derive(Debug, Clone, Copy)]
pub struct Material<'a> {
    /// `tls.key` as written (its encoding decides `key.der`).
    pub key_pem: &'a [u8],
    /// `tls.crt`: the chain, leaf first.
    pub chain_pem: &'a [u8],
    /// `ca.crt`, when the issuer returned one.
    pub ca_pem: Option<&'a [u8]>,
}

/// The entries to add to the Secret for `certificate`, or an error (then
/// also published as a Warning event) before anything is written, so a
/// Secret is never half updated.
pub async fn extra_data(
    context: &Context,
    certificate: &Certificate,
    material: Material<'_>,
) -> Result<BTreeMap<String, ByteString>, ControllerError> {
    match build(&context.client, certificate, material).await {
        Ok(data) => Ok(data),
        Err(error) => {
            let message = error.to_string();
            context
                .recorder
                .publish(
                    certificate,
                    ISSUING,
                    EventType::Warning,
                    SECRET_UPDATE_FAILED,
                    &message,
                )
                .await;
            Err(error.into())
        }
    }
}

/// Replaces the managed extra entries of `data` with `extra`: entries the
/// spec no longer asks for are dropped.
pub fn merge(data: &mut BTreeMap<String, ByteString>, extra: BTreeMap<String, ByteString>) {
    data.retain(|k, _| !MANAGED_KEYS.contains(&k.as_str()));
    data.extend(extra);
}

/// The post-issuance check: when the Secret's extra entries disagree with
/// the spec (a format added or removed, a keystore enabled), rewrites them
/// from the Secret's own key and chain. Returns whether it wrote.
pub async fn refresh(
    context: &Context,
    certificate: &Certificate,
    secret: Option<&Secret>,
) -> Result<bool, ControllerError> {
    let Some(secret) = secret else {
        return Ok(false);
    };
    let data: BTreeMap<String, Vec<u8>> = secret
        .data
        .iter()
        .flatten()
        .map(|(k, v)| (k.clone(), v.0.clone()))
        .collect();
    let Some((reason, message)) = outputs::violation(certificate, &data) else {
        return Ok(false);
    };
    tracing::debug!(certificate = %certificate.name_any(), reason, message, "rewriting Secret outputs");
    let empty = Vec::new();
    let material = Material {
        key_pem: data.get("tls.key").unwrap_or(&empty),
        chain_pem: data.get("tls.crt").unwrap_or(&empty),
        ca_pem: data.get("ca.crt").map(Vec::as_slice),
    };
    let extra = extra_data(context, certificate, material).await?;
    let mut updated = secret.clone();
    merge(updated.data.get_or_insert_default(), extra);
    let namespace = certificate.namespace().unwrap_or_default();
    Api::<Secret>::namespaced(context.client.clone(), &namespace)
        .replace(&secret.name_any(), &PostParams::default(), &updated)
        .await?;
    Ok(true)
}

async fn password(
    client: &kube::Client,
    namespace: &str,
    kind: &str,
    literal: Option<&str>,
    reference: Option<&SecretKeySelector>,
) -> Result<Vec<u8>, SecretOutputsError> {
    if let Some(literal) = literal {
        return Ok(literal.as_bytes().to_vec());
    }
    let Some(reference) = reference else {
        return Ok(DEFAULT_PASSWORD.to_vec());
    };
    let secrets: Api<Secret> = Api::namespaced(client.clone(), namespace);
    let key = reference.key.clone().unwrap_or_default();
    let secret = match secrets.get_opt(&reference.name).await? {
        Some(secret) => secret,
        None => {
            return Err(SecretOutputsError::Password(format!(
                "fetching {kind} keystore password from Secret: secrets \"{}\" not found",
                reference.name
            )));
        }
    };
    secret
        .data
        .and_then(|mut d| d.remove(&key))
        .map(|v| v.0)
        .filter(|v| !v.is_empty())
        .ok_or_else(|| {
            SecretOutputsError::Password(format!(
                "{kind} keystore password Secret contains no data for key \"{key}\""
            ))
        })
}

fn der_chain(pem_text: &[u8]) -> Result<Vec<Vec<u8>>, SecretOutputsError> {
    parse_certificate_chain(&String::from_utf8_lossy(pem_text))
        .map(|certs| certs.into_iter().map(|c| c.der).collect())
        .map_err(|e| SecretOutputsError::Input(e.to_string()))
}

async fn build(
    client: &kube::Client,
    certificate: &Certificate,
    material: Material<'_>,
) -> Result<BTreeMap<String, ByteString>, SecretOutputsError> {
    let mut out: BTreeMap<String, ByteString> =
        outputs::additional_output_formats(certificate, material.key_pem, material.chain_pem)
            .into_iter()
            .map(|(k, v)| (k, ByteString(v)))
            .collect();
    let Some(keystores) = certificate.spec.keystores.as_ref() else {
        return Ok(out);
    };
    let pkcs12_spec = keystores.pkcs12.as_ref().filter(|p| p.create);
    let jks_spec = keystores.jks.as_ref().filter(|j| j.create);
    if pkcs12_spec.is_none() && jks_spec.is_none() {
        return Ok(out);
    }
    let namespace = certificate.meta().namespace.clone().unwrap_or_default();
    let key = PrivateKey::from_pem(&String::from_utf8_lossy(material.key_pem))
        .map_err(|e| SecretOutputsError::Input(e.to_string()))?;
    let key_der = key
        .to_der_pkcs8()
        .map_err(|e| SecretOutputsError::Input(e.to_string()))?;
    let chain = der_chain(material.chain_pem)?;
    // cert-manager puts the first certificate of ca.crt in the stores.
    let ca = match material.ca_pem.filter(|c| !c.is_empty()) {
        Some(pem) => der_chain(pem)?.into_iter().next(),
        None => None,
    };
    if let Some(spec) = pkcs12_spec {
        let pw = password(
            client,
            &namespace,
            "PKCS12",
            spec.password.as_deref(),
            spec.password_secret_ref.as_ref(),
        )
        .await?;
        let pw = String::from_utf8_lossy(&pw);
        let store = pkcs12::encode_keystore(
            &key_der,
            &chain,
            ca.as_deref(),
            &pw,
            spec.profile.map(Into::into),
        )
        .map_err(|source| SecretOutputsError::Keystore {
            kind: "PKCS12",
            source,
        })?;
        out.insert(outputs::PKCS12_KEYSTORE_KEY.to_owned(), ByteString(store));
        if let Some(ca) = &ca {
            let trust = pkcs12::encode_truststore(ca, &pw, spec.profile.map(Into::into)).map_err(
                |source| SecretOutputsError::Keystore {
                    kind: "PKCS12 trust store",
                    source,
                },
            )?;
            out.insert(outputs::PKCS12_TRUSTSTORE_KEY.to_owned(), ByteString(trust));
        }
    }
    if let Some(spec) = jks_spec {
        let pw = password(
            client,
            &namespace,
            "JKS",
            spec.password.as_deref(),
            spec.password_secret_ref.as_ref(),
        )
        .await?;
        let created_millis = keystore::now_millis();
        let alias = spec.alias.as_deref().unwrap_or("certificate");
        let store = jks::encode(
            &jks::JksInput {
                alias,
                private_key_pkcs8: Some(&key_der),
                chain: &chain,
                ca: ca.as_deref(),
                created_millis,
            },
            &pw,
        )
        .map_err(|source| SecretOutputsError::Keystore {
            kind: "JKS",
            source,
        })?;
        out.insert(outputs::JKS_KEYSTORE_KEY.to_owned(), ByteString(store));
        if let Some(ca) = &ca {
            let trust = jks::encode(
                &jks::JksInput {
                    alias,
                    private_key_pkcs8: None,
                    chain: &[],
                    ca: Some(ca),
                    created_millis,
                },
                &pw,
            )
            .map_err(|source| SecretOutputsError::Keystore {
                kind: "JKS trust store",
                source,
            })?;
            out.insert(outputs::JKS_TRUSTSTORE_KEY.to_owned(), ByteString(trust));
        }
    }
    Ok(out)
}
