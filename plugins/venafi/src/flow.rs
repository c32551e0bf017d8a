//! The Venafi issuer's flow, written against [`VenafiHost`] so that it runs
//! natively in tests: which calls to make in which order, and how their
//! outcomes become cert-manager's conditions (`pkg/issuer/venafi/setup.go`,
//! `pkg/controller/certificaterequests/venafi`). The wire format is in
//! [`crate::tpp`] and [`crate::cloud`]; what persists between calls is a
//! [`State`].

use base64::Engine as _;
use certwasm_plugin_sdk::types::{
    CertificateRequest, Event, EventType, HttpMethod, HttpRequest, HttpResponse, IssueOutcome,
    IssuerConfig, Pending, PluginError, Readiness, Secret,
};
use certwasm_plugin_sdk::{config::issuer_section, failed, retry_later};
use serde_json::Value;
use sha2::{Digest, Sha256};

use crate::chain;
use crate::cloud::{self, CloudError, Progress};
use crate::config::{
    self, CUSTOM_FIELDS_ANNOTATION, CloudZone, ConfigError, Connector, CustomField,
    DEFAULT_API_KEY_KEY, DEFAULT_CA_BUNDLE_KEY, SecretKeyRef, TPP_ACCESS_TOKEN_KEY,
    TPP_PASSWORD_KEY, TPP_USERNAME_KEY, VenafiConfig,
};
use crate::state::{State, poll_delay_ms};
use crate::tpp::{self, Retrieved, TppError};
use certwasm_plugin_sdk::x509::CsrNames;

/// cert-manager's reasons and messages.
pub const REASON_VERIFIED: &str = "Verified";
pub const MESSAGE_VERIFIED: &str = "Venafi issuer started";
pub const REASON_SETUP: &str = "ErrorSetup";
pub const MESSAGE_SETUP: &str = "Failed to setup Venafi issuer";
const MESSAGE_SECRET_MISSING: &str = "Required secret resource not found";
const MESSAGE_INIT: &str = "Failed to initialise venafi client for signing";
const MESSAGE_REQUEST: &str = "Failed to request venafi certificate";
const MESSAGE_RETRIEVE: &str = "Failed to obtain venafi certificate";
const MESSAGE_REQUESTED: &str = "Venafi certificate is requested";
const MESSAGE_STILL_PENDING: &str =
    "Venafi certificate still in a pending state, the request will be retried";
const MESSAGE_PARSE: &str = "Failed to parse returned certificate bundle";

/// How long a resolved Cloud zone (application and template IDs) is
/// reused before it is looked up again.
const ZONE_CACHE_SECONDS: u32 = 300;
/// How long a TPP token with no stated lifetime is reused.
const DEFAULT_TOKEN_SECONDS: i64 = 3600;

/// What the plugin asks of the host: the imports in a plugin, a fake in
/// tests.
pub trait VenafiHost {
    /// `secrets.get`.
    fn secret(&self, name: &str) -> Result<Option<Secret>, String>;
    /// `http.send`.
    fn send(&self, request: HttpRequest) -> Result<HttpResponse, String>;
    /// `clock.now-unix-seconds`.
    fn now_unix(&self) -> i64;
    /// A line for the host's log.
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

/// Why a client could not be set up from the issuer and its Secrets.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum SetupError {
    /// cert-manager's Kubernetes NotFound wording; the request waits.
    #[error("secrets \"{0}\" not found")]
    SecretNotFound(String),
    #[error("{0}")]
    Secret(String),
    #[error("{0}")]
    Config(#[from] ConfigError),
    #[error("{0}")]
    Tpp(#[from] TppError),
    #[error("{0}")]
    Cloud(#[from] CloudError),
}

impl SetupError {
    fn retryable(&self) -> bool {
        match self {
            Self::SecretNotFound(_) | Self::Secret(_) => true,
            Self::Config(_) => false,
            Self::Tpp(e) => e.retryable(),
            Self::Cloud(e) => e.retryable(),
        }
    }
}

/// A digest of the parts that decide a cached value, so that another
/// server or credential never meets it, and no credential is a key.
fn cache_key(prefix: &str, parts: &[&str]) -> String {
    let mut digest = Sha256::new();
    for part in parts {
        digest.update((part.len() as u64).to_be_bytes());
        digest.update(part.as_bytes());
    }
    let hex: String = digest
        .finalize()
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect();
    format!("{prefix}/{hex}")
}

fn secret_value(host: &dyn VenafiHost, name: &str, key: &str) -> Result<Vec<u8>, SetupError> {
    let secret = host
        .secret(name)
        .map_err(SetupError::Secret)?
        .ok_or_else(|| SetupError::SecretNotFound(name.to_owned()))?;
    secret
        .field(key)
        .map(<[u8]>::to_vec)
        .ok_or_else(|| SetupError::Secret(format!("no data for {key:?} in secret {name:?}")))
}

fn text(bytes: &[u8]) -> String {
    String::from_utf8_lossy(bytes).trim().to_owned()
}

/// How a TPP client authenticates.
#[derive(Debug, Clone, PartialEq, Eq)]
enum TppAuth {
    /// A token the user obtained (`access-token`).
    AccessToken(String),
    /// Exchanged for a token at `vedauth/authorize/oauth`.
    Password { username: String, password: String },
}

/// A TPP client for one call.
struct Tpp<'h> {
    host: &'h dyn VenafiHost,
    base_url: String,
    ca_bundle: Option<String>,
    auth: TppAuth,
    token: Option<String>,
    token_key: Option<String>,
}

impl<'h> Tpp<'h> {
    /// Reads the credentials and the CA bundle; makes no request.
    fn new(
        host: &'h dyn VenafiHost,
        base_url: &str,
        credentials: &str,
        ca_bundle: Option<&str>,
        ca_bundle_secret_ref: Option<&SecretKeyRef>,
    ) -> Result<Self, SetupError> {
        let secret = host
            .secret(credentials)
            .map_err(SetupError::Secret)?
            .ok_or_else(|| SetupError::SecretNotFound(credentials.to_owned()))?;
        let field = |key: &str| secret.field(key).map(text).filter(|v| !v.is_empty());
        let auth = match (
            field(TPP_ACCESS_TOKEN_KEY),
            field(TPP_USERNAME_KEY),
            field(TPP_PASSWORD_KEY),
        ) {
            (Some(token), _, _) => TppAuth::AccessToken(token),
            (None, Some(username), Some(password)) => TppAuth::Password { username, password },
            _ => {
                return Err(SetupError::Secret(format!(
                    "secret {credentials:?} has neither {TPP_ACCESS_TOKEN_KEY:?} nor {TPP_USERNAME_KEY:?} and {TPP_PASSWORD_KEY:?}"
                )));
            }
        };
        let bundle = match (ca_bundle, ca_bundle_secret_ref) {
            (Some(encoded), _) => Some(
                base64::engine::general_purpose::STANDARD
                    .decode(encoded.trim())
                    .map_err(|e| SetupError::Secret(format!("caBundle is not base64: {e}")))?,
            ),
            (None, Some(reference)) => Some(secret_value(
                host,
                &reference.name,
                reference.key_or(DEFAULT_CA_BUNDLE_KEY),
            )?),
            (None, None) => None,
        };
        let ca_bundle = match bundle {
            Some(bytes) => {
                let pem = String::from_utf8(bytes)
                    .map_err(|_| SetupError::Secret("the TPP CA bundle is not PEM".to_owned()))?;
                if !pem.contains("-----BEGIN CERTIFICATE-----") {
                    return Err(SetupError::Secret(
                        "the TPP CA bundle holds no certificate".to_owned(),
                    ));
                }
                Some(pem)
            }
            None => None,
        };
        let token_key = match &auth {
            TppAuth::Password { username, password } => {
                Some(cache_key("tpp-token", &[base_url, username, password]))
            }
            TppAuth::AccessToken(_) => None,
        };
        let token = match &auth {
            TppAuth::AccessToken(token) => Some(token.clone()),
            TppAuth::Password { .. } => None,
        };
        Ok(Self {
            host,
            base_url: base_url.to_owned(),
            ca_bundle,
            auth,
            token,
            token_key,
        })
    }

    fn send(
        &self,
        method: HttpMethod,
        path: &str,
        body: Option<&Value>,
    ) -> Result<HttpResponse, TppError> {
        let request = tpp::request(
            method,
            &self.base_url,
            path,
            self.token.as_deref(),
            body,
            self.ca_bundle.as_deref(),
        );
        self.host.send(request).map_err(TppError::Transport)
    }

    /// Gets a token for a username/password login: from the host's cache
    /// unless `fresh`, else from `vedauth/authorize/oauth` (then cached).
    fn log_in(&mut self, fresh: bool) -> Result<(), TppError> {
        let (TppAuth::Password { username, password }, Some(key)) = (&self.auth, &self.token_key)
        else {
            return Ok(());
        };
        if !fresh
            && let Some(token) = self
                .host
                .cache_get(key)
                .map(|bytes| text(&bytes))
                .filter(|t| !t.is_empty())
        {
            self.token = Some(token);
            return Ok(());
        }
        let body = tpp::oauth_body(username, password);
        let previous = self.token.take();
        let answer = self.send(HttpMethod::Post, tpp::AUTHORIZE_OAUTH, Some(&body));
        self.token = previous;
        let token = tpp::token(&answer?, self.host.now_unix())?;
        let seconds = token
            .lifetime_seconds
            .unwrap_or(DEFAULT_TOKEN_SECONDS)
            .saturating_sub(60)
            .clamp(1, 86_400);
        if let Err(why) = self.host.cache_set(
            key,
            token.access_token.as_bytes(),
            u32::try_from(seconds).unwrap_or(86_400),
        ) {
            self.host
                .warn(&format!("could not keep the TPP token for reuse: {why}"));
        }
        self.token = Some(token.access_token);
        Ok(())
    }

    /// Runs `call`; a 401 with a username/password login drops the token,
    /// logs in again and runs `call` once more.
    fn authed<T>(&mut self, call: impl Fn(&Self) -> Result<T, TppError>) -> Result<T, TppError> {
        let result = call(self);
        if matches!(result, Err(TppError::Unauthorized(_)))
            && let TppAuth::Password { .. } = self.auth
        {
            self.host
                .warn("TPP refused the access token (401); logging in again");
            if let Some(key) = &self.token_key {
                self.host.cache_remove(key);
            }
            self.log_in(true)?;
            return call(self);
        }
        result
    }

    fn ping(&self) -> Result<(), TppError> {
        self.send(HttpMethod::Get, tpp::PING, None)
            .and_then(|r| tpp::ping(&r))
    }

    /// Proves the credentials: a login, or a token `verify`.
    fn verify_credentials(&mut self) -> Result<(), TppError> {
        match &self.auth {
            TppAuth::Password { .. } => self.log_in(true),
            TppAuth::AccessToken(_) => self
                .send(HttpMethod::Get, tpp::AUTHORIZE_VERIFY, None)
                .and_then(|r| tpp::verified(&r)),
        }
    }

    fn check_zone(&mut self, zone: &str) -> Result<(), TppError> {
        let body = tpp::check_policy_body(&config::policy_dn(zone));
        self.authed(|c| {
            c.send(HttpMethod::Post, tpp::CHECK_POLICY, Some(&body))
                .and_then(|r| tpp::policy(&r))
        })
    }

    fn request(&mut self, body: &Value) -> Result<String, TppError> {
        self.authed(|c| {
            c.send(HttpMethod::Post, tpp::REQUEST, Some(body))
                .and_then(|r| tpp::pickup_id(&r))
        })
    }

    fn retrieve(&mut self, pickup_id: &str) -> Result<Retrieved, TppError> {
        let body = tpp::retrieve_body(pickup_id);
        self.authed(|c| {
            c.send(HttpMethod::Post, tpp::RETRIEVE, Some(&body))
                .and_then(|r| tpp::retrieved(&r))
        })
    }
}

/// A Venafi Cloud client for one call.
struct Cloud<'h> {
    host: &'h dyn VenafiHost,
    base_url: String,
    api_key: String,
}

impl<'h> Cloud<'h> {
    fn new(
        host: &'h dyn VenafiHost,
        base_url: &str,
        api_key: &SecretKeyRef,
    ) -> Result<Self, SetupError> {
        let key = text(&secret_value(
            host,
            &api_key.name,
            api_key.key_or(DEFAULT_API_KEY_KEY),
        )?);
        Ok(Self {
            host,
            base_url: base_url.to_owned(),
            api_key: key,
        })
    }

    fn send(
        &self,
        method: HttpMethod,
        path: &str,
        body: Option<&Value>,
    ) -> Result<HttpResponse, CloudError> {
        let request = cloud::request(method, &self.base_url, path, &self.api_key, body);
        self.host.send(request).map_err(CloudError::Transport)
    }

    fn get(&self, path: &str) -> Result<HttpResponse, CloudError> {
        self.send(HttpMethod::Get, path, None)
    }

    fn zone_key(&self, zone: &CloudZone) -> String {
        cache_key(
            "cloud-zone",
            &[
                &self.base_url,
                &self.api_key,
                &zone.application,
                &zone.template,
            ],
        )
    }

    /// The application's and template's IDs: from the cache when allowed,
    /// else looked up (then cached).
    fn resolve_zone(&self, zone: &CloudZone, cached: bool) -> Result<(String, String), CloudError> {
        let key = self.zone_key(zone);
        if cached
            && let Some(ids) = self.host.cache_get(&key)
            && let Some((application, template)) = text(&ids).split_once('\n')
        {
            return Ok((application.to_owned(), template.to_owned()));
        }
        let application = self
            .get(&cloud::application_path(&zone.application))
            .and_then(|r| cloud::application(&r))?;
        let template = self
            .get(&cloud::template_path(&zone.application, &zone.template))
            .and_then(|r| cloud::template_id(&r))?;
        let ids = format!("{}\n{template}", application.id);
        if let Err(why) = self
            .host
            .cache_set(&key, ids.as_bytes(), ZONE_CACHE_SECONDS)
        {
            self.host.warn(&format!(
                "could not keep the Venafi Cloud zone for reuse: {why}"
            ));
        }
        Ok((application.id, template))
    }
}

fn venafi_config(config: &IssuerConfig) -> Result<VenafiConfig, PluginError> {
    issuer_section(config, "venafi")
}

/// Checks an issuer as cert-manager's Venafi `Setup` does (client, ping,
/// credentials) and also that its zone exists, so that a typo shows on the
/// Issuer rather than on each request.
pub fn validate(config: &IssuerConfig, host: &dyn VenafiHost) -> Result<Readiness, PluginError> {
    let setup = |context: &str, error: SetupError| PluginError {
        reason: REASON_SETUP.to_owned(),
        message: format!("{MESSAGE_SETUP}: {context}: {error}"),
        retryable: error.retryable(),
    };
    let settings = venafi_config(config).map_err(|e| failed(REASON_SETUP, e.message))?;
    let connector = settings
        .connector()
        .map_err(|e| setup("error building client", e.into()))?;
    let zone = settings.zone.trim();
    match connector {
        Connector::Tpp {
            base_url,
            credentials,
            ca_bundle,
            ca_bundle_secret_ref,
        } => {
            let mut client = Tpp::new(
                host,
                &base_url,
                &credentials,
                ca_bundle.as_deref(),
                ca_bundle_secret_ref.as_ref(),
            )
            .map_err(|e| setup("error building client", e))?;
            client
                .ping()
                .map_err(|e| setup("error pinging Venafi API", e.into()))?;
            client
                .verify_credentials()
                .map_err(|e| setup("client.VerifyCredentials", e.into()))?;
            client
                .check_zone(zone)
                .map_err(|e| setup(&format!("error reading zone \"{zone}\""), e.into()))?;
        }
        Connector::Cloud { base_url, api_key } => {
            let client = Cloud::new(host, &base_url, &api_key)
                .map_err(|e| setup("error building client", e))?;
            client
                .get(cloud::USER_ACCOUNTS)
                .and_then(|r| cloud::account(&r))
                .map_err(|e| setup("client.VerifyCredentials", e.into()))?;
            let zone_parts =
                config::cloud_zone(zone).map_err(|e| setup("error building client", e.into()))?;
            client
                .resolve_zone(&zone_parts, false)
                .map_err(|e| setup(&format!("error reading zone \"{zone}\""), e.into()))?;
        }
    }
    Ok(Readiness {
        reason: REASON_VERIFIED.to_owned(),
        message: MESSAGE_VERIFIED.to_owned(),
    })
}

/// Client set-up failures while signing: a missing Secret waits
/// (`SecretMissing`), anything else is cert-manager's `VenafiInitError`,
/// retried as cert-manager retries it.
fn init_failure(error: SetupError) -> PluginError {
    match error {
        SetupError::SecretNotFound(_) => retry_later(
            "SecretMissing",
            format!("{MESSAGE_SECRET_MISSING}: {error}"),
        ),
        SetupError::Config(_) => failed("VenafiInitError", format!("{MESSAGE_INIT}: {error}")),
        other => retry_later("VenafiInitError", format!("{MESSAGE_INIT}: {other}")),
    }
}

fn request_failure(message: String, retryable: bool) -> PluginError {
    PluginError {
        reason: "RequestError".to_owned(),
        message: format!("{MESSAGE_REQUEST}: {message}"),
        retryable,
    }
}

/// A pickup that is not finished: poll again later, keeping its ID.
fn still_pending(state: &State, waiting_for: String, events: Vec<Event>) -> IssueOutcome {
    IssueOutcome::Pending(Pending {
        state: state.polled().encode(),
        retry_after_ms: poll_delay_ms(state.polls()),
        waiting_for,
        events,
    })
}

/// What a retrieve answered, as an outcome: the chain; still pending; or an
/// error. A retryable error keeps the pickup (as pending) so the next call
/// asks for the same certificate rather than requesting another.
fn retrieve_outcome(
    state: &State,
    answer: Result<Option<String>, (String, bool)>,
    status: String,
    requested_now: bool,
    events: Vec<Event>,
) -> Result<IssueOutcome, PluginError> {
    match answer {
        Ok(Some(chain_pem)) => chain::split(&chain_pem)
            .map(IssueOutcome::Issued)
            .map_err(|e| failed("ParseError", format!("{MESSAGE_PARSE}: {e}"))),
        Ok(None) if requested_now => Ok(still_pending(
            state,
            format!("{MESSAGE_REQUESTED}: {status}"),
            events,
        )),
        Ok(None) => Ok(still_pending(
            state,
            format!("{MESSAGE_STILL_PENDING}: {status}"),
            events,
        )),
        Err((message, true)) => Ok(still_pending(
            state,
            format!("{MESSAGE_RETRIEVE}: {message}"),
            events,
        )),
        Err((message, false)) => Err(failed(
            "RetrieveError",
            format!("{MESSAGE_RETRIEVE}: {message}"),
        )),
    }
}

fn requested_event(pickup: &str) -> Event {
    Event {
        type_: EventType::Normal,
        reason: "IssuancePending".to_owned(),
        message: format!("{MESSAGE_REQUESTED} (pickup ID {pickup})"),
    }
}

/// Signs a request as cert-manager's Venafi signer does: request once,
/// keep the pickup ID in the state, retrieve until the certificate is
/// there. The first retrieve is made in the same call as the request, so a
/// CA that signs at once costs one call.
pub fn issue(
    request: &CertificateRequest,
    state: Option<&[u8]>,
    host: &dyn VenafiHost,
) -> Result<IssueOutcome, PluginError> {
    let settings =
        venafi_config(&request.issuer).map_err(|e| failed("VenafiInitError", e.message))?;
    let connector = settings.connector().map_err(|e| init_failure(e.into()))?;
    let fields = config::custom_fields(request.annotation(CUSTOM_FIELDS_ANNOTATION))
        .map_err(|e| failed("CustomFieldsError", e.to_string()))?;
    let state = match state.map(State::decode).transpose() {
        Ok(state) => state,
        Err(e) => {
            host.warn(&format!("{e}; requesting the certificate afresh"));
            None
        }
    };
    let zone = settings.zone.trim();
    match connector {
        Connector::Tpp {
            base_url,
            credentials,
            ca_bundle,
            ca_bundle_secret_ref,
        } => {
            let mut client = Tpp::new(
                host,
                &base_url,
                &credentials,
                ca_bundle.as_deref(),
                ca_bundle_secret_ref.as_ref(),
            )
            .map_err(init_failure)?;
            client.log_in(false).map_err(|e| init_failure(e.into()))?;
            let (pickup_id, polls, events) = match state {
                Some(State::Tpp { pickup_id, polls }) => (pickup_id, polls, Vec::new()),
                _ => {
                    let pickup_id = tpp_request(&mut client, request, zone, &fields)?;
                    let event = requested_event(&pickup_id);
                    (pickup_id, 0, vec![event])
                }
            };
            let requested_now = !events.is_empty();
            let (answer, status) = match client.retrieve(&pickup_id) {
                Ok(Retrieved::Issued(pem)) => (Ok(Some(pem)), String::new()),
                Ok(Retrieved::Pending(status)) => (Ok(None), status),
                Err(e) => (Err((e.to_string(), e.retryable())), String::new()),
            };
            let state = State::Tpp { pickup_id, polls };
            retrieve_outcome(&state, answer, status, requested_now, events)
        }
        Connector::Cloud { base_url, api_key } => {
            let client = Cloud::new(host, &base_url, &api_key).map_err(init_failure)?;
            let (request_id, polls, events) = match state {
                Some(State::Cloud { request_id, polls }) => (request_id, polls, Vec::new()),
                _ => {
                    let request_id = cloud_request(&client, request, zone)?;
                    let event = requested_event(&request_id);
                    (request_id, 0, vec![event])
                }
            };
            let requested_now = !events.is_empty();
            let progress = client
                .get(&cloud::request_status_path(&request_id))
                .and_then(|r| cloud::progress(&r));
            let (answer, status) = match progress {
                Ok(Progress::Issued(certificate_id)) => (
                    client
                        .get(&cloud::contents_path(&certificate_id))
                        .and_then(|r| cloud::contents(&r))
                        .map(Some)
                        .map_err(|e| (e.to_string(), e.retryable())),
                    String::new(),
                ),
                Ok(Progress::Pending(status)) => (Ok(None), status),
                Err(e) => (Err((e.to_string(), e.retryable())), String::new()),
            };
            let state = State::Cloud { request_id, polls };
            retrieve_outcome(&state, answer, status, requested_now, events)
        }
    }
}

/// `certificates/request` with the CSR; returns the pickup ID.
fn tpp_request(
    client: &mut Tpp<'_>,
    request: &CertificateRequest,
    zone: &str,
    fields: &[CustomField],
) -> Result<String, PluginError> {
    let names = CsrNames::from_pem(&request.csr_pem)
        .map_err(|e| request_failure(format!("failed to decode CSR: {e}"), false))?;
    let object_name = names.primary_name().ok_or_else(|| {
        request_failure(
            "the CSR has no common name, DNS name, IP address or URI to name the certificate by"
                .to_owned(),
            false,
        )
    })?;
    let body = tpp::request_body(
        &config::policy_dn(zone),
        object_name,
        &request.csr_pem,
        fields,
    );
    client
        .request(&body)
        .map_err(|e| request_failure(e.to_string(), e.retryable()))
}

/// Resolves the zone (cached) and posts the request; returns its ID. A
/// refused request drops the cached zone, which may be what went stale.
fn cloud_request(
    client: &Cloud<'_>,
    request: &CertificateRequest,
    zone: &str,
) -> Result<String, PluginError> {
    let zone = config::cloud_zone(zone).map_err(|e| init_failure(e.into()))?;
    let (application, template) = client
        .resolve_zone(&zone, true)
        .map_err(|e| request_failure(e.to_string(), e.retryable()))?;
    let body = cloud::request_body(
        &request.csr_pem,
        &application,
        &template,
        request.duration_seconds,
    );
    client
        .send(HttpMethod::Post, cloud::CERTIFICATE_REQUESTS, Some(&body))
        .and_then(|r| cloud::request_id(&r))
        .map_err(|e| {
            if !e.retryable() {
                client.host.cache_remove(&client.zone_key(&zone));
            }
            request_failure(e.to_string(), e.retryable())
        })
}
