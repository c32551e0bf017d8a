//! What `validate` and `issue` do, written against [`CfsslHost`] (the
//! imports in the component, a scripted host in tests) so the whole flow
//! runs natively.
//!
//! - `validate`: `POST info` → Ready with the signing CA's subject, or
//!   CFSSL's own error; an `authKeySecretRef` must name a readable hex key.
//! - `issue`: the signing CA (kept in the host's per-issuer cache for a few
//!   minutes, else `POST info`), then `POST sign` — or `POST authsign`
//!   with an HMAC token when an auth key is configured. The leaf, plus the
//!   CA when it is an intermediate, becomes the chain; the CA is `ca.crt`.
//!   A cached CA that did not sign the leaf (CFSSL's CA was rotated) is
//!   fetched again before the result is returned.
//!
//! Errors: CFSSL's `errors[].message` and code are in the message; a
//! transport failure or a 5xx is retried, any other refusal is final.

use certwasm_plugin_sdk::types::{
    CertificateRequest, HttpRequest, HttpResponse, Issued, IssuerConfig, PluginError, Readiness,
    Secret,
};
use certwasm_plugin_sdk::x509::{self, Certificate, CsrNames};
use certwasm_plugin_sdk::{failed, retry_later};

use crate::auth::AuthKey;
use crate::config::{CfsslConfig, SecretKeyRef, Settings};
use crate::protocol::{self, CfsslError, Endpoint, InfoResult, SignResult};

/// Reasons, in cert-manager's CamelCase.
pub const INVALID_CONFIG: &str = "InvalidConfig";
pub const VERIFIED: &str = "CFSSLVerified";
pub const CFSSL_ERROR: &str = "CFSSLError";
pub const SECRET_MISSING: &str = "SecretMissing";
pub const SIGNING_ERROR: &str = "SigningError";

/// How long the signing CA is kept in the host's cache: long enough that a
/// burst of requests asks `info` once, short enough that a rotated CA shows
/// up in `ca.crt` soon even without the signature check that catches it.
pub const CA_CACHE_SECONDS: u32 = 300;
/// The cache key of the signing CA (the host scopes it to this issuer and
/// its spec, so a changed label or URL starts afresh).
pub const CA_CACHE_KEY: &str = "signing-ca";

/// What the plugin asks of the host.
pub trait CfsslHost {
    /// `secrets.get`.
    fn secret(&self, name: &str) -> Result<Option<Secret>, String>;
    /// `http.send`.
    fn send(&self, request: HttpRequest) -> Result<HttpResponse, String>;
    /// `cache.get`; a host without a cache always misses.
    fn cache_get(&self, _key: &str) -> Option<Vec<u8>> {
        None
    }
    /// `cache.set`.
    fn cache_set(&self, _key: &str, _value: &[u8], _ttl_seconds: u32) -> Result<(), String> {
        Ok(())
    }
    /// A warning for the host's log.
    fn warn(&self, _message: &str) {}
}

/// The checked settings of `spec.plugin.config`.
pub fn settings(config: &CfsslConfig) -> Result<Settings, PluginError> {
    config
        .settings()
        .map_err(|e| failed(INVALID_CONFIG, e.to_string()))
}

/// The SANs a CSR asks for, as CFSSL's `hosts` spells them: DNS names, IP
/// addresses, email addresses and URIs.
pub fn csr_hosts(csr_pem: &str) -> Result<Vec<String>, x509::X509Error> {
    let names = CsrNames::from_pem(csr_pem)?;
    Ok([
        names.dns_names,
        names.ip_addresses,
        names.emails,
        names.uris,
    ]
    .concat())
}

fn endpoint(settings: &Settings) -> Endpoint {
    Endpoint {
        url: settings.url.clone(),
        ca_bundle_pem: settings.ca_bundle_pem.clone(),
    }
}

/// One call to CFSSL: its result, or why there is none.
fn call<T: serde::de::DeserializeOwned>(
    host: &dyn CfsslHost,
    request: HttpRequest,
) -> Result<T, CfsslError> {
    let response = host.send(request).map_err(CfsslError::Transport)?;
    protocol::read_result(&response)
}

fn cfssl_failure(reason: &str, context: &str, error: &CfsslError) -> PluginError {
    PluginError {
        reason: reason.to_owned(),
        message: format!("{context}: {error}"),
        retryable: error.retryable(),
    }
}

/// The HMAC key an `authKeySecretRef` names.
fn auth_key(
    host: &dyn CfsslHost,
    reference: &SecretKeyRef,
    namespace: &str,
) -> Result<AuthKey, PluginError> {
    let name = &reference.name;
    let field = reference.key_or_default();
    let secret = host
        .secret(name)
        .map_err(|e| retry_later(SECRET_MISSING, format!("Failed to read the CFSSL auth key Secret {namespace}/{name}: {e}")))?
        .ok_or_else(|| {
            retry_later(
                SECRET_MISSING,
                format!("Referenced secret {namespace}/{name} not found (spec.plugin.config.authKeySecretRef)"),
            )
        })?;
    let value = secret.field(field).ok_or_else(|| {
        failed(
            INVALID_CONFIG,
            format!("Secret {namespace}/{name} has no data key {field:?} (spec.plugin.config.authKeySecretRef.key)"),
        )
    })?;
    AuthKey::from_hex(value).map_err(|e| {
        failed(
            INVALID_CONFIG,
            format!("Secret {namespace}/{name} key {field:?} is not a CFSSL auth key: {e}"),
        )
    })
}

/// The signing CA from `info`, parsed.
fn fetch_ca(host: &dyn CfsslHost, settings: &Settings) -> Result<Certificate, CfsslError> {
    let request = endpoint(settings).post(
        protocol::INFO_PATH,
        protocol::info_body(&settings.label, &settings.profile),
    );
    let info: InfoResult = call(host, request)?;
    let ca = Certificate::from_pem(&info.certificate).map_err(|e| CfsslError::Unreadable {
        status: 200,
        body: format!("info's certificate is not a PEM certificate ({e})"),
    })?;
    if let Err(why) = host.cache_set(CA_CACHE_KEY, info.certificate.as_bytes(), CA_CACHE_SECONDS) {
        host.warn(&format!(
            "could not keep CFSSL's signing CA for reuse: {why}"
        ));
    }
    Ok(ca)
}

fn cached_ca(host: &dyn CfsslHost) -> Option<Certificate> {
    let pem = host.cache_get(CA_CACHE_KEY)?;
    Certificate::from_pem(&String::from_utf8(pem).ok()?).ok()
}

/// Checks an issuer: its config, its auth key if any, and that CFSSL
/// answers `info` for its label and profile.
pub fn validate(
    config: &CfsslConfig,
    issuer: &IssuerConfig,
    host: &dyn CfsslHost,
) -> Result<Readiness, PluginError> {
    let settings = settings(config)?;
    if let Some(reference) = &settings.auth_key {
        auth_key(host, reference, &issuer.namespace)?;
    }
    let ca = fetch_ca(host, &settings).map_err(|e| {
        cfssl_failure(
            CFSSL_ERROR,
            &format!(
                "Failed to get the signer's certificate from CFSSL at {}",
                settings.url
            ),
            &e,
        )
    })?;
    let subject = x509::distinguished_name(ca.subject_der())
        .unwrap_or_else(|e| format!("(unreadable subject: {e})"));
    let mut message = format!("CFSSL at {} signs as {subject}", settings.url);
    if !settings.profile.is_empty() {
        message.push_str(&format!(", profile {:?}", settings.profile));
    }
    if !settings.label.is_empty() {
        message.push_str(&format!(", label {:?}", settings.label));
    }
    if settings.auth_key.is_some() {
        message.push_str(", authenticated");
    }
    Ok(Readiness {
        reason: VERIFIED.to_owned(),
        message,
    })
}

/// Signs a request through CFSSL.
pub fn issue(
    config: &CfsslConfig,
    request: &CertificateRequest,
    host: &dyn CfsslHost,
) -> Result<Issued, PluginError> {
    let settings = settings(config)?;
    let key = settings
        .auth_key
        .as_ref()
        .map(|reference| auth_key(host, reference, &request.issuer.namespace))
        .transpose()?;
    let hosts = csr_hosts(&request.csr_pem).map_err(|e| {
        failed(
            SIGNING_ERROR,
            format!("Failed to read the CSR's names: {e}"),
        )
    })?;
    let ca_failure = |e: CfsslError| {
        cfssl_failure(
            SIGNING_ERROR,
            "Failed to get the signer's certificate from CFSSL",
            &e,
        )
    };
    let (mut ca, from_cache) = match cached_ca(host) {
        Some(ca) => (ca, true),
        None => (fetch_ca(host, &settings).map_err(ca_failure)?, false),
    };

    let sign_request =
        protocol::sign_request(&request.csr_pem, &hosts, &settings.profile, &settings.label);
    let endpoint = endpoint(&settings);
    let http_request = match &key {
        Some(key) => endpoint.post(
            protocol::AUTHSIGN_PATH,
            key.authenticated_body(&sign_request),
        ),
        None => endpoint.post(protocol::SIGN_PATH, sign_request),
    };
    let signed: SignResult = call(host, http_request)
        .map_err(|e| cfssl_failure(SIGNING_ERROR, "CFSSL failed to sign the certificate", &e))?;
    let leaf = Certificate::from_pem(&signed.certificate).map_err(|e| {
        failed(
            SIGNING_ERROR,
            format!("CFSSL returned a certificate that cannot be read: {e}"),
        )
    })?;

    if from_cache && !leaf.may_be_issued_by(&ca) {
        ca = fetch_ca(host, &settings).map_err(ca_failure)?;
    }
    if !leaf.may_be_issued_by(&ca) {
        host.warn(
            "the certificate CFSSL signed was not issued by the certificate its info endpoint \
             returns; ca.crt may not verify it",
        );
    }
    let mut chain = leaf.to_pem();
    if !ca.is_self_issued() && leaf.may_be_issued_by(&ca) {
        chain.push_str(&ca.to_pem());
    }
    Ok(Issued {
        certificate_chain_pem: chain,
        ca_pem: Some(ca.to_pem()),
    })
}

#[cfg(test)]
mod tests;
