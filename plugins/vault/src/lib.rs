//! certwasm's `vault` issuer: CSRs signed by a HashiCorp Vault or OpenBao
//! PKI secrets engine (`spec.vault`), as cert-manager's Vault issuer does
//! (`internal/vault`, `pkg/issuer/vault/setup.go`,
//! `pkg/controller/certificaterequests/vault`), with its reasons and
//! messages.
//!
//! - [`validate`]: the server is initialized and unsealed
//!   (`GET /v1/sys/health`) and the credentials work (a token's
//!   `lookup-self`, or a login) → `VaultVerified` / `Vault verified`;
//!   otherwise `VaultError` with Vault's own message.
//! - [`issue`]: log in if needed, `POST /v1/<path>` with the CSR; the
//!   answer's `certificate`, `ca_chain` and `issuing_ca` become the chain
//!   and `ca.crt`.
//!
//! The wire format lives in [`protocol`] (pure); the flow here is written
//! against [`VaultHost`] so it runs natively in tests; the WASM export is a
//! thin shell over the `http`, `secrets` and `cache` imports.
//!
//! - TLS: `serverName`, `auth.clientCertificate` and the mutual TLS pair
//!   (`clientCertSecretRef` / `clientKeySecretRef`) go through
//!   `http.send-tls` (`certwasm:issuer@0.2.0`): the plugin names the Secrets
//!   and the host reads the key and presents the certificate, so the key
//!   never enters the plugin.
//! - Tokens: a login's token is kept in the host's per-issuer memory
//!   (`cache`) for most of its lease, so a stream of requests logs in once
//!   rather than once per request (logins were nearly half of the time
//!   spent waiting on Vault). The cache key is a digest of the server and
//!   the credential, so a rotated secret ID, JWT or certificate logs in
//!   afresh; a cached token Vault refuses (403) is dropped and the request
//!   logs in once more, as cert-manager, which logs in on every request,
//!   effectively does. Tokens are never put in the persisted state.
//!
//! Auth methods that need more than the imports give (a service account
//! token request, AWS signing) are refused with a clear "not supported
//! yet" rather than half-done.

pub mod config;
pub mod protocol;

use base64::Engine as _;
use certwasm_plugin_sdk::bindings::Guest;
use certwasm_plugin_sdk::bindings::certwasm::issuer::{cache, http, log, secrets};
use certwasm_plugin_sdk::config::issuer_section;
use certwasm_plugin_sdk::types::{
    CertificateRequest, HttpMethod, HttpRequest, HttpResponse, IssueOutcome, Issued, IssuerConfig,
    PluginError, PluginInfo, Readiness, Secret, TlsOptions,
};
use certwasm_plugin_sdk::x509::{CsrNames, DEFAULT_DURATION_SECONDS};
use certwasm_plugin_sdk::{failed, retry_later};
use serde_json::Value;
use sha2::{Digest, Sha256};

use config::{
    Auth, ConfigError, DEFAULT_CA_BUNDLE_KEY, DEFAULT_TOKEN_KEY, TLS_CERT_KEY, VaultConfig,
};
use protocol::{Endpoint, VaultError};

/// cert-manager's reasons and messages.
const VAULT_ERROR: &str = "VaultError";
const VAULT_VERIFIED: &str = "VaultVerified";
const MESSAGE_VERIFIED: &str = "Vault verified";
const MESSAGE_CLIENT_INIT_FAILED: &str = "Failed to initialize Vault client";
const MESSAGE_UNSEALED_FAILED: &str = "Failed to verify Vault is initialized and unsealed";
const MESSAGE_SIGN_INIT_FAILED: &str = "Failed to initialise vault client for signing";
const MESSAGE_SECRET_MISSING: &str = "Required secret resource not found";
const MESSAGE_SIGN_FAILED: &str = "Vault failed to sign certificate";

/// What the plugin asks of the host: the imports in a plugin, a fake (or
/// a real HTTP client) in tests.
pub trait VaultHost {
    /// `secrets.get`.
    fn secret(&self, name: &str) -> Result<Option<Secret>, String>;
    /// `http.send`, or `http.send-tls` when `tls` is set.
    fn send(&self, request: HttpRequest, tls: Option<TlsOptions>) -> Result<HttpResponse, String>;
    /// A line for the host's log (Vault's warnings).
    fn warn(&self, _message: &str) {}
    /// `cache.get`; a host without a cache always misses.
    fn cache_get(&self, _key: &str) -> Option<Vec<u8>> {
        None
    }
    /// `cache.set`.
    fn cache_set(&self, _key: &str, _value: &[u8], _ttl_seconds: u32) -> Result<(), String> {
        Ok(())
    }
    /// `cache.remove`.
    fn cache_remove(&self, _key: &str) {}
}

/// Where a login's token comes from.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Fresh {
    /// A cached token if there is one (signing).
    Reuse,
    /// Always log in, and cache the new token (after a refused cached
    /// token, and when an issuer is checked: a check must prove the
    /// credentials, not a token they once gave).
    Always,
}

/// Why a Vault client could not be set up (credentials, CA bundle, login).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum SetupError {
    /// cert-manager's Kubernetes NotFound wording; the request waits for it.
    #[error("secrets \"{0}\" not found")]
    SecretNotFound(String),
    /// The Secret is there but unusable, or could not be read.
    #[error("{0}")]
    Secret(String),
    #[error("{0}")]
    Config(#[from] ConfigError),
    /// An AppRole login failed.
    #[error("error logging in to Vault server: {0}")]
    AppRoleLogin(VaultError),
    /// A Kubernetes login failed.
    #[error(
        "while requesting a Vault token using the Kubernetes auth: error calling Vault server: {0}"
    )]
    KubernetesLogin(VaultError),
    /// A TLS certificate login failed.
    #[error(
        "while requesting a Vault token using the Client Certificate auth: error calling Vault server: {0}"
    )]
    CertificateLogin(VaultError),
    /// A static token was refused by `auth/token/lookup-self`.
    #[error("error checking the Vault token: {0}")]
    TokenCheck(VaultError),
}

impl SetupError {
    fn retryable(&self) -> bool {
        match self {
            Self::SecretNotFound(_) | Self::Secret(_) => true,
            Self::Config(_) => false,
            Self::AppRoleLogin(e)
            | Self::KubernetesLogin(e)
            | Self::CertificateLogin(e)
            | Self::TokenCheck(e) => e.retryable(),
        }
    }
}

/// A Vault client for one call: the endpoint, the login method, and the
/// token once it has one.
struct Client<'h> {
    host: &'h dyn VaultHost,
    namespace: String,
    endpoint: Endpoint,
    auth: Auth,
    path: String,
    token: Option<String>,
    /// The cache key of the login's token (logins only).
    token_key: Option<String>,
    /// Whether `token` came from the cache rather than a login just now.
    token_cached: bool,
}

/// The cache key of a login's token: a digest of everything that decides
/// which token a login returns (server, namespace, method, mount, role,
/// credential), so that another credential never meets this token.
fn token_cache_key(endpoint: &Endpoint, credential: &[&str]) -> String {
    let mut digest = Sha256::new();
    let server_name = endpoint.server_name.as_deref().unwrap_or_default();
    let namespace = endpoint.namespace.as_deref().unwrap_or_default();
    for part in [endpoint.server.as_str(), namespace, server_name]
        .iter()
        .chain(credential)
    {
        digest.update((part.len() as u64).to_be_bytes());
        digest.update(part.as_bytes());
    }
    let hex: String = digest
        .finalize()
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect();
    format!("vault-token/{hex}")
}

impl<'h> Client<'h> {
    /// Reads the configuration and the CA bundle; does not call Vault.
    fn new(
        host: &'h dyn VaultHost,
        config: &VaultConfig,
        namespace: &str,
    ) -> Result<Self, SetupError> {
        let auth = config.auth()?;
        let mut endpoint = Endpoint::new(&config.server, config.namespace.as_deref(), None);
        endpoint.server_name = config.server_name().map(str::to_owned);
        endpoint.client_certificate = config.client_certificate()?;
        let mut client = Client {
            host,
            namespace: namespace.to_owned(),
            endpoint,
            auth,
            path: config.path.clone(),
            token: None,
            token_key: None,
            token_cached: false,
        };
        client.endpoint.ca_bundle_pem = client.ca_bundle(config)?;
        Ok(client)
    }

    /// `caBundle` (base64 PEM in the spec) or the `caBundleSecretRef` entry.
    fn ca_bundle(&self, config: &VaultConfig) -> Result<Option<String>, SetupError> {
        let bytes = if let Some(encoded) = config.ca_bundle.as_deref().filter(|b| !b.is_empty()) {
            base64::engine::general_purpose::STANDARD
                .decode(encoded.trim())
                .map_err(|e| SetupError::Secret(format!("failed to load vault CA bundle: {e}")))?
        } else if let Some(reference) = config.ca_bundle_secret_ref.as_ref() {
            let key = reference.key_or(DEFAULT_CA_BUNDLE_KEY);
            self.secret_value(&reference.name, key)
                .map_err(|e| match e {
                    SetupError::Secret(why) => {
                        SetupError::Secret(format!("failed to load vault CA bundle: {why}"))
                    }
                    other => other,
                })?
        } else {
            return Ok(None);
        };
        let pem = String::from_utf8(bytes).map_err(|_| {
            SetupError::Secret("failed to load vault CA bundle: not PEM text".to_owned())
        })?;
        if !pem.contains("-----BEGIN CERTIFICATE-----") {
            return Err(SetupError::Secret(
                "no Vault CA bundles loaded, check bundle contents".to_owned(),
            ));
        }
        Ok(Some(pem))
    }

    fn secret_value(&self, name: &str, key: &str) -> Result<Vec<u8>, SetupError> {
        let secret = self
            .host
            .secret(name)
            .map_err(SetupError::Secret)?
            .ok_or_else(|| SetupError::SecretNotFound(name.to_owned()))?;
        secret.field(key).map(<[u8]>::to_vec).ok_or_else(|| {
            SetupError::Secret(format!(
                "no data for {key:?} in secret '{}/{name}'",
                self.namespace
            ))
        })
    }

    fn secret_text(&self, name: &str, key: &str) -> Result<String, SetupError> {
        let value = self.secret_value(name, key)?;
        Ok(String::from_utf8_lossy(&value).trim().to_owned())
    }

    /// One call to Vault.
    fn call(
        &self,
        method: HttpMethod,
        url: String,
        body: Option<&Value>,
        token: Option<&str>,
    ) -> Result<Value, VaultError> {
        let request = self.endpoint.request(method, url, token, body, true);
        let response = self
            .host
            .send(request.clone(), self.endpoint.tls_options())
            .map_err(VaultError::Transport)?;
        protocol::read_response(&request, &response)
    }

    /// `GET /v1/sys/health` (root namespace, no token).
    fn check_health(&self) -> Result<(), String> {
        let request = self.endpoint.request(
            HttpMethod::Get,
            self.endpoint.v1_url("sys/health"),
            None,
            None,
            false,
        );
        let response = self.host.send(request.clone(), self.endpoint.tls_options());
        protocol::health(&request, response.as_ref().map_err(String::as_str))
    }

    /// Gets a token: read it, or log in. With `verify`, a static token is
    /// also checked with `lookup-self` (a login already proves itself).
    /// A login's token is taken from the host's cache when `fresh` allows
    /// and one is there, and cached after a login.
    fn log_in(&mut self, verify: bool, fresh: Fresh) -> Result<(), SetupError> {
        type Wrap = fn(VaultError) -> SetupError;
        let (url, body, wrap, credential): (String, Value, Wrap, Vec<String>) = match &self.auth {
            Auth::Token(reference) => {
                let token =
                    self.secret_text(&reference.name, reference.key_or(DEFAULT_TOKEN_KEY))?;
                if verify {
                    let url = self.endpoint.v1_url("auth/token/lookup-self");
                    self.call(HttpMethod::Get, url, None, Some(&token))
                        .map_err(SetupError::TokenCheck)?;
                }
                self.token = Some(token);
                return Ok(());
            }
            Auth::AppRole {
                path,
                role_id,
                secret,
            } => {
                let secret_id = self.secret_text(&secret.name, secret.key_or(""))?;
                let body = protocol::approle_login_body(role_id, &secret_id);
                let url = self.endpoint.v1_url(&format!("auth/{path}/login"));
                let credential = vec!["approle".into(), path.clone(), role_id.clone(), secret_id];
                (url, body, SetupError::AppRoleLogin, credential)
            }
            Auth::Kubernetes {
                mount_path,
                role,
                secret,
            } => {
                let jwt = self.secret_text(&secret.name, secret.key_or(DEFAULT_TOKEN_KEY))?;
                let body = protocol::kubernetes_login_body(role, &jwt);
                let url = self.endpoint.url(&format!("{mount_path}/login"));
                let credential = vec!["kubernetes".into(), mount_path.clone(), role.clone(), jwt];
                (url, body, SetupError::KubernetesLogin, credential)
            }
            Auth::ClientCertificate { mount_path, name } => {
                // The certificate (public) names the credential; its key is
                // only ever read by the host.
                let certificate = match &self.endpoint.client_certificate {
                    Some(reference) => self.secret_text(
                        &reference.certificate.name,
                        reference.certificate.key_or(TLS_CERT_KEY),
                    )?,
                    None => String::new(),
                };
                let body = protocol::client_certificate_login_body(name);
                let url = self.endpoint.url(&format!("{mount_path}/login"));
                let credential = vec!["cert".into(), mount_path.clone(), name.clone(), certificate];
                (url, body, SetupError::CertificateLogin, credential)
            }
        };
        let credential: Vec<&str> = credential.iter().map(String::as_str).collect();
        let key = token_cache_key(&self.endpoint, &credential);
        if fresh == Fresh::Reuse
            && let Some(token) = self
                .host
                .cache_get(&key)
                .and_then(|bytes| String::from_utf8(bytes).ok())
                .filter(|token| !token.is_empty())
        {
            self.token = Some(token);
            self.token_key = Some(key);
            self.token_cached = true;
            return Ok(());
        }
        let response = self
            .call(HttpMethod::Post, url, Some(&body), None)
            .map_err(wrap)?;
        let login = protocol::login(&response).map_err(wrap)?;
        if let Some(seconds) = login.cache_seconds()
            && let Err(why) = self.host.cache_set(&key, login.token.as_bytes(), seconds)
        {
            self.host
                .warn(&format!("could not keep the Vault token for reuse: {why}"));
        }
        self.token = Some(login.token);
        self.token_key = Some(key);
        self.token_cached = false;
        Ok(())
    }

    /// Drops a token Vault refused, here and in the cache.
    fn forget_token(&mut self) {
        if let Some(key) = self.token_key.take() {
            self.host.cache_remove(&key);
        }
        self.token = None;
        self.token_cached = false;
    }

    /// `POST /v1/<path>` with the CSR.
    fn sign(&self, request: &CertificateRequest) -> Result<Issued, VaultError> {
        let names = CsrNames::from_pem(&request.csr_pem)
            .map_err(|e| VaultError::Decode(format!("failed to decode CSR for signing: {e}")))?;
        let duration = request.duration_seconds.unwrap_or(DEFAULT_DURATION_SECONDS);
        let body = protocol::sign_body(&request.csr_pem, &names, duration);
        let url = self.endpoint.v1_url(&self.path);
        let response = self.call(HttpMethod::Post, url, Some(&body), self.token.as_deref())?;
        for warning in protocol::warnings(&response) {
            self.host.warn(&format!("Vault warned: {warning}"));
        }
        protocol::issued(&response)
    }
}

fn vault_config(config: &IssuerConfig) -> Result<VaultConfig, PluginError> {
    issuer_section(config, "vault").map_err(|e| failed(VAULT_ERROR, e.message))
}

fn setup_failure(reason: &str, context: &str, error: &SetupError) -> PluginError {
    PluginError {
        reason: reason.to_owned(),
        message: format!("{context}: {error}"),
        retryable: error.retryable(),
    }
}

/// Checks an issuer as cert-manager's Vault `Setup` does, and also that its
/// credentials work: health first (a sealed server explains every other
/// failure), then a login or a token lookup.
pub fn validate(config: &IssuerConfig, host: &dyn VaultHost) -> Result<Readiness, PluginError> {
    let settings = vault_config(config)?;
    if let Err(error) = settings.auth() {
        return Err(failed(VAULT_ERROR, error.to_string()));
    }
    let mut client = Client::new(host, &settings, &config.namespace)
        .map_err(|e| setup_failure(VAULT_ERROR, MESSAGE_CLIENT_INIT_FAILED, &e))?;
    client
        .check_health()
        .map_err(|e| retry_later(VAULT_ERROR, format!("{MESSAGE_UNSEALED_FAILED}: {e}")))?;
    client
        .log_in(true, Fresh::Always)
        .map_err(|e| setup_failure(VAULT_ERROR, MESSAGE_CLIENT_INIT_FAILED, &e))?;
    Ok(Readiness {
        reason: VAULT_VERIFIED.to_owned(),
        message: MESSAGE_VERIFIED.to_owned(),
    })
}

/// Signs a request as cert-manager's Vault signer does, with its reasons:
/// `SecretMissing` (waits), `VaultInitError` (login failed), `SigningError`
/// (Vault refused or failed). Refusals end the request; a Vault that is
/// down or overloaded leaves it to be retried.
pub fn issue(request: &CertificateRequest, host: &dyn VaultHost) -> Result<Issued, PluginError> {
    let settings = vault_config(&request.issuer)?;
    let init_failure = |e: SetupError| match e {
        SetupError::SecretNotFound(_) => {
            retry_later("SecretMissing", format!("{MESSAGE_SECRET_MISSING}: {e}"))
        }
        other => setup_failure("VaultInitError", MESSAGE_SIGN_INIT_FAILED, &other),
    };
    let mut client = Client::new(host, &settings, &request.issuer.namespace)
        .and_then(|mut client| client.log_in(false, Fresh::Reuse).map(|()| client))
        .map_err(init_failure)?;
    let mut signed = client.sign(request);
    if client.token_cached && signed.as_ref().is_err_and(VaultError::is_forbidden) {
        // The cached token was revoked or lost its policy: log in once more.
        host.warn("Vault refused the cached token (403); logging in again");
        client.forget_token();
        client.log_in(false, Fresh::Always).map_err(init_failure)?;
        signed = client.sign(request);
    }
    signed.map_err(|e| {
        let message = match &e {
            VaultError::Decode(why) => format!("{MESSAGE_SIGN_FAILED}: {why}"),
            other => format!("{MESSAGE_SIGN_FAILED}: failed to sign certificate by vault: {other}"),
        };
        PluginError {
            reason: "SigningError".to_owned(),
            message,
            retryable: e.retryable(),
        }
    })
}

/// The imports.
struct Imports;

impl VaultHost for Imports {
    fn secret(&self, name: &str) -> Result<Option<Secret>, String> {
        secrets::get(name).map_err(|e| e.message().to_owned())
    }

    fn send(&self, request: HttpRequest, tls: Option<TlsOptions>) -> Result<HttpResponse, String> {
        match tls {
            Some(tls) => http::send_tls(&request, &tls),
            None => http::send(&request),
        }
        .map_err(|e| e.message().to_owned())
    }

    fn warn(&self, message: &str) {
        log::write(log::Level::Warn, message);
    }

    fn cache_get(&self, key: &str) -> Option<Vec<u8>> {
        cache::get(key)
    }

    fn cache_set(&self, key: &str, value: &[u8], ttl_seconds: u32) -> Result<(), String> {
        cache::set(key, value, ttl_seconds).map_err(|e| e.message().to_owned())
    }

    fn cache_remove(&self, key: &str) {
        cache::remove(key);
    }
}

struct Vault;

impl Guest for Vault {
    fn info() -> PluginInfo {
        PluginInfo {
            name: "vault".into(),
            version: env!("CARGO_PKG_VERSION").into(),
            issuer_types: vec!["vault".into()],
            description: "Certificates signed by a HashiCorp Vault or OpenBao PKI secrets engine (cert-manager's Vault issuer).".into(),
            needs: Vec::new(),
        }
    }

    fn validate(config: IssuerConfig) -> Result<Readiness, PluginError> {
        validate(&config, &Imports)
    }

    fn issue(
        request: CertificateRequest,
        _state: Option<Vec<u8>>,
    ) -> Result<IssueOutcome, PluginError> {
        issue(&request, &Imports).map(IssueOutcome::Issued)
    }
}

certwasm_plugin_sdk::export!(Vault);

#[cfg(test)]
mod tests;
