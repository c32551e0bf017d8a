//! Issuing through an ACME order (RFC 8555 7.4), one bounded step per
//! `issue` call, resumable from the state the host keeps.
//!
//! The plugin is stateless between calls, so everything it must remember
//! travels in [`State`] (serde JSON in `pending.state`): the directory's
//! URLs, the account URL, an unused nonce, and the order with its
//! authorizations and chosen challenges. A call with a state never creates
//! another order; it continues the one in the state.
//!
//! Each call ([`advance`]) does what the order's status allows now:
//! - no order yet: newOrder for the CSR's identifiers, then fetch the
//!   authorizations and choose a challenge for each (the issuer's solvers);
//! - `pending`: answer (POST `{}`) the challenges whose tokens the host says
//!   it presented, refresh the authorizations already answered;
//! - `ready`: finalize with the request's CSR;
//! - `valid`: download the chain (the preferred one if asked);
//! - `processing` / waiting: return `pending` with when to call again.
//!
//! The `pending` outcome carries the order and its challenges (with the
//! key authorization or TXT value, and the solver's JSON) so that the host
//! can mirror them as Order/Challenge resources and present them.

use std::collections::BTreeMap;

use base64::Engine;
use certwasm_plugin_sdk::bindings::certwasm::issuer::orders::{
    Challenge, ChallengeState as ReportedChallengeState, ChallengeType, Order,
    OrderState as ReportedOrderState,
};
use certwasm_plugin_sdk::types::{Event, EventType, Issued, Pending, PluginError};
use certwasm_plugin_sdk::x509::{self, Signer};
use certwasm_plugin_sdk::{failed, retry_later};
use serde::{Deserialize, Serialize};

use crate::account::{self, AccountSettings, ExternalAccountKey};
use crate::client::{self, AcmeError, Client, Directory, Transport};
use crate::identifiers::{self, Identifier};
use crate::jose::{self, AccountJwk};
use crate::poll;
use crate::solver::{self, Solver};

/// The version of [`State`]'s format; bumped when it changes incompatibly.
pub const STATE_VERSION: u8 = 1;

/// What the plugin remembers between calls (see the module docs).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct State {
    pub v: u8,
    pub directory: Directory,
    /// The account URL (the JWS `kid`).
    pub account: String,
    /// A nonce the server gave and nobody used yet; saves a newNonce.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub nonce: Option<String>,
    /// None until newOrder succeeded (e.g. it was rate limited).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub order: Option<OrderState>,
    /// Polls in a row that found the order where the one before left it:
    /// the exponent of the poll backoff ([`poll::delay_ms`]).
    #[serde(default, skip_serializing_if = "is_zero")]
    pub polls: u32,
    /// The order's progress at the last poll ([`OrderState::progress`]),
    /// to tell whether the server moved since.
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub progress: String,
}

/// The order as last seen.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct OrderState {
    pub url: String,
    pub status: String,
    pub finalize: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub certificate: Option<String>,
    pub authorizations: Vec<AuthorizationState>,
    /// The server's error for an invalid order.
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub error: String,
}

/// One authorization of the order, and the challenge chosen for it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct AuthorizationState {
    pub url: String,
    /// The identifier's value, without `*.` for a wildcard.
    #[serde(default)]
    pub identifier: String,
    #[serde(default, skip_serializing_if = "is_false")]
    pub wildcard: bool,
    /// Empty until fetched.
    #[serde(default)]
    pub status: String,
    /// None when the authorization was already valid (nothing to solve).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub challenge: Option<ChallengeState>,
}

/// The chosen challenge.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ChallengeState {
    pub url: String,
    #[serde(rename = "type")]
    pub kind: String,
    pub token: String,
    /// Index into the issuer's `solvers`.
    pub solver: usize,
    pub status: String,
    /// Whether the plugin has told the server to validate it.
    #[serde(default, skip_serializing_if = "is_false")]
    pub responded: bool,
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub error: String,
}

fn is_false(value: &bool) -> bool {
    !value
}

fn is_zero(value: &u32) -> bool {
    *value == 0
}

impl State {
    /// The bytes for `pending.state`.
    pub fn to_bytes(&self) -> Vec<u8> {
        // Serialising these plain structs cannot fail.
        serde_json::to_vec(self).unwrap_or_default()
    }

    /// Reads `pending.state` bytes back.
    pub fn from_bytes(bytes: &[u8]) -> Result<Self, String> {
        let state: Self = serde_json::from_slice(bytes).map_err(|e| e.to_string())?;
        if state.v != STATE_VERSION {
            return Err(format!("state version {} is not {STATE_VERSION}", state.v));
        }
        Ok(state)
    }
}

/// The issuer settings an issuance needs.
#[derive(Debug, Clone, Default)]
pub struct IssuerSettings<'a> {
    /// The directory URL (`spec.acme.server`).
    pub server: &'a str,
    pub email: &'a str,
    pub external_account: Option<&'a ExternalAccountKey>,
    pub solvers: &'a [Solver],
    /// `spec.acme.preferredChain`: the issuer CN of the chain's top
    /// certificate to prefer; empty for the server's default chain.
    pub preferred_chain: &'a str,
    /// `spec.acme.profile` (draft-ietf-acme-profiles); empty for none.
    pub profile: &'a str,
    /// Send `notAfter` (`spec.acme.enableDurationFeature`).
    pub duration_feature: bool,
}

/// What one call is about.
#[derive(Debug, Clone, Default)]
pub struct IssueInput<'a> {
    pub csr_pem: &'a str,
    pub duration_seconds: Option<u64>,
    /// Tokens the host has presented (and self-checked).
    pub presented: &'a [String],
    /// The request's labels, for solver `matchLabels`.
    pub labels: BTreeMap<String, String>,
    pub now_unix: i64,
}

/// Seconds to wait while the host presents the challenges (the host calls
/// sooner once they are presented). While the server validates or issues,
/// the wait is [`poll::delay_ms`]'s backoff.
const PRESENT_SECONDS: u64 = 10;
/// After a rate limit or transient failure with no Retry-After.
const BACKOFF_SECONDS: u64 = 30;

const FAILED: &str = "Failed";
const PENDING: &str = "Pending";

/// What one call of [`advance`] produced.
#[derive(Debug, Clone)]
pub enum Outcome {
    /// The certificate chain.
    Issued(Issued),
    /// Issuance goes on. The order, as it stands, is what the component
    /// reports through `orders.report` for the host to mirror and present.
    Pending(Pending, Option<Order>),
}

/// Advances the issuance by one call (see the module docs). `state` is the
/// last `pending.state`, none on the first call.
pub fn advance(
    transport: &dyn Transport,
    signer: &dyn Signer,
    settings: &IssuerSettings<'_>,
    input: &IssueInput<'_>,
    state: Option<&[u8]>,
) -> Result<Outcome, PluginError> {
    let saved = state.map(State::from_bytes).transpose().map_err(|e| {
        failed(
            FAILED,
            format!("The saved ACME order state is unreadable: {e}"),
        )
    })?;
    let (mut state, mut client) = match saved {
        Some(mut saved) => {
            let mut client = Client::new(
                transport,
                signer,
                &saved.directory.new_nonce,
                input.now_unix,
            )
            .map_err(|e| acme_error("Failed to load the ACME account key", &e))?;
            client.set_nonce(saved.nonce.take());
            client.set_account_url(&saved.account);
            (saved, client)
        }
        None => {
            let mut directory = client::fetch_directory(transport, settings.server)
                .map_err(|e| acme_error("Failed to get the ACME server's directory", &e))?;
            directory.meta = None;
            let mut client = Client::new(transport, signer, &directory.new_nonce, input.now_unix)
                .map_err(|e| acme_error("Failed to load the ACME account key", &e))?;
            let account_settings = AccountSettings {
                email: settings.email,
                external_account: settings.external_account,
            };
            let account = account::find_or_register(&mut client, &directory, &account_settings)
                .map_err(|e| acme_error("Failed to get the ACME account", &e))?;
            let state = State {
                v: STATE_VERSION,
                directory,
                account: account.url,
                nonce: None,
                order: None,
                polls: 0,
                progress: String::new(),
            };
            (state, client)
        }
    };
    let mut events = Vec::new();
    let step = step(&mut client, &mut state, settings, input, &mut events);
    state.nonce = client.take_nonce();
    let jwk = client.jwk().clone();
    match step {
        Ok(Step::Issued(chain)) => Ok(Outcome::Issued(Issued {
            certificate_chain_pem: chain,
            ca_pem: None,
        })),
        Ok(Step::Wait {
            seconds,
            waiting_for,
        }) => {
            state.polls = 0;
            state.progress.clear();
            Ok(pending_outcome(
                &state,
                &jwk,
                settings,
                seconds.saturating_mul(1000),
                waiting_for,
                events,
            ))
        }
        Ok(Step::Poll {
            retry_after,
            waiting_for,
        }) => {
            let progress = state
                .order
                .as_ref()
                .map(OrderState::progress)
                .unwrap_or_default();
            state.polls = poll::next_attempt(state.polls, &state.progress, &progress);
            state.progress = progress;
            let millis = poll::delay_ms(state.polls, retry_after.as_deref(), input.now_unix);
            Ok(pending_outcome(
                &state,
                &jwk,
                settings,
                millis,
                waiting_for,
                events,
            ))
        }
        // Rate limits, and any transient failure once an order exists: keep
        // the state (so the order is never lost) and come back later.
        Err(StepError::Acme(context, error))
            if error.rate_limited() || (error.retryable() && state.order.is_some()) =>
        {
            let message = format!("{context}: {error}");
            events.push(Event {
                type_: EventType::Warning,
                reason: if error.rate_limited() {
                    "RateLimited".into()
                } else {
                    "ACMEServerError".into()
                },
                message: message.clone(),
            });
            let seconds = error.retry_after().unwrap_or(BACKOFF_SECONDS);
            Ok(pending_outcome(
                &state,
                &jwk,
                settings,
                seconds.saturating_mul(1000),
                format!("Retrying after {seconds}s: {message}"),
                events,
            ))
        }
        Err(StepError::Acme(context, error)) => Err(acme_error(context, &error)),
        Err(StepError::Plugin(error)) => Err(error),
    }
}

/// A plugin error for an ACME failure: retryable or not as the failure is.
fn acme_error(context: &str, error: &AcmeError) -> PluginError {
    if error.retryable() {
        retry_later(PENDING, format!("{context}: {error}"))
    } else {
        failed(FAILED, format!("{context}: {error}"))
    }
}

enum Step {
    Issued(String),
    /// Waiting for the host (to present challenges), a fixed time.
    Wait {
        seconds: u64,
        waiting_for: String,
    },
    /// Waiting for the server: poll with backoff, not before its
    /// Retry-After (the header's value, if it sent one).
    Poll {
        retry_after: Option<String>,
        waiting_for: String,
    },
}

enum StepError {
    Acme(&'static str, AcmeError),
    Plugin(PluginError),
}

trait Context<T> {
    fn context(self, what: &'static str) -> Result<T, StepError>;
}

impl<T> Context<T> for Result<T, AcmeError> {
    fn context(self, what: &'static str) -> Result<T, StepError> {
        self.map_err(|e| StepError::Acme(what, e))
    }
}

/// The order object (RFC 8555 7.1.3), as far as it is used.
#[derive(Debug, Deserialize)]
struct OrderObject {
    status: String,
    #[serde(default)]
    authorizations: Vec<String>,
    #[serde(default)]
    finalize: String,
    #[serde(default)]
    certificate: Option<String>,
    #[serde(default)]
    error: Option<client::Problem>,
}

#[derive(Debug, Deserialize)]
struct IdentifierObject {
    value: String,
}

#[derive(Debug, Deserialize)]
struct AuthorizationObject {
    status: String,
    identifier: IdentifierObject,
    #[serde(default)]
    wildcard: bool,
    #[serde(default)]
    challenges: Vec<ChallengeObject>,
}

#[derive(Debug, Deserialize)]
struct ChallengeObject {
    #[serde(rename = "type")]
    kind: String,
    url: String,
    #[serde(default)]
    token: String,
    #[serde(default)]
    status: String,
    #[serde(default)]
    error: Option<client::Problem>,
}

fn problem_text(problem: &client::Problem) -> String {
    if problem.kind.is_empty() {
        problem.detail.clone()
    } else {
        format!("{}: {}", problem.kind, problem.detail)
    }
}

impl OrderState {
    /// Where the order stands, compactly: its status, then each
    /// authorization's and its challenge's (`pending:pp.vv`). Equal
    /// between two polls means the server has not moved.
    pub fn progress(&self) -> String {
        let mut progress = self.status.clone();
        progress.push(':');
        for (i, authorization) in self.authorizations.iter().enumerate() {
            if i > 0 {
                progress.push('.');
            }
            progress.push(initial(&authorization.status));
            if let Some(challenge) = &authorization.challenge {
                progress.push(initial(&challenge.status));
                if challenge.responded {
                    progress.push('r');
                }
            }
        }
        progress
    }

    fn update(&mut self, object: OrderObject) {
        self.status = object.status;
        if !object.finalize.is_empty() {
            self.finalize = object.finalize;
        }
        if object.certificate.is_some() {
            self.certificate = object.certificate;
        }
        self.error = object.error.as_ref().map(problem_text).unwrap_or_default();
    }
}

fn retry_after(response: &client::HttpResponse) -> Option<String> {
    response.header("retry-after").map(str::to_owned)
}

fn step(
    client: &mut Client<'_>,
    state: &mut State,
    settings: &IssuerSettings<'_>,
    input: &IssueInput<'_>,
    events: &mut Vec<Event>,
) -> Result<Step, StepError> {
    let mut server_retry_after = None;
    if state.order.is_none() {
        let identifiers = identifiers::from_csr_pem(input.csr_pem)
            .map_err(|e| StepError::Plugin(failed(FAILED, e.to_string())))?;
        let payload = new_order_payload(&identifiers, settings, input);
        let response = client
            .post(&state.directory.new_order, &payload)
            .context("Failed to create Order")?;
        let url = response
            .header("location")
            .ok_or_else(|| AcmeError::Protocol("newOrder returned no Location header".into()))
            .context("Failed to create Order")?
            .to_owned();
        let object: OrderObject =
            client::json(&response, "order").context("Failed to create Order")?;
        let authorizations = object
            .authorizations
            .iter()
            .map(|url| AuthorizationState {
                url: url.clone(),
                identifier: String::new(),
                wildcard: false,
                status: String::new(),
                challenge: None,
            })
            .collect();
        let mut order = OrderState {
            url,
            status: String::new(),
            finalize: String::new(),
            certificate: None,
            authorizations,
            error: String::new(),
        };
        order.update(object);
        events.push(Event {
            type_: EventType::Normal,
            reason: "OrderCreated".into(),
            message: format!("Created ACME order {}", order.url),
        });
        state.order = Some(order);
    } else if let Some(order) = &mut state.order {
        let response = client
            .post_as_get(&order.url, None)
            .context("Failed to get the Order")?;
        server_retry_after = retry_after(&response);
        order.update(client::json(&response, "order").context("Failed to get the Order")?);
    }
    let order = state.order.as_mut().ok_or_else(|| {
        StepError::Acme(
            "Failed to get the Order",
            AcmeError::Protocol("no order".into()),
        )
    })?;
    // A few transitions fit in one call: ready → finalized → valid.
    for _ in 0..3 {
        match order.status.as_str() {
            "pending" => {
                return pending_authorizations(client, order, settings, input, server_retry_after);
            }
            "ready" => {
                let csr_der = x509::decode_csr_pem(input.csr_pem).map_err(|e| {
                    StepError::Plugin(failed(
                        FAILED,
                        format!("failed to decode CSR in spec.request: {e}"),
                    ))
                })?;
                let response = client
                    .post(
                        &order.finalize,
                        &serde_json::json!({"csr": jose::b64(&csr_der)}),
                    )
                    .context("Failed to finalize Order")?;
                server_retry_after = retry_after(&response);
                order.update(client::json(&response, "order").context("Failed to finalize Order")?);
            }
            "processing" => {
                return Ok(Step::Poll {
                    retry_after: server_retry_after,
                    waiting_for: "Waiting for the ACME server to issue the certificate".into(),
                });
            }
            "valid" => {
                let url = order.certificate.clone().ok_or_else(|| {
                    StepError::Acme(
                        "Failed to download the certificate",
                        AcmeError::Protocol("a valid order has no certificate URL".into()),
                    )
                })?;
                return download(client, &url, settings.preferred_chain).map(Step::Issued);
            }
            "invalid" => return Err(StepError::Plugin(invalid_order(client, order))),
            other => {
                return Err(StepError::Acme(
                    "Failed to get the Order",
                    AcmeError::Protocol(format!("unknown order status {other:?}")),
                ));
            }
        }
    }
    Ok(Step::Poll {
        retry_after: server_retry_after,
        waiting_for: "Waiting for the ACME server to issue the certificate".into(),
    })
}

fn new_order_payload(
    identifiers: &[Identifier],
    settings: &IssuerSettings<'_>,
    input: &IssueInput<'_>,
) -> serde_json::Value {
    let mut payload = serde_json::json!({ "identifiers": identifiers });
    if settings.duration_feature
        && let Some(duration) = input.duration_seconds
    {
        let not_after = input
            .now_unix
            .saturating_add(i64::try_from(duration).unwrap_or(i64::MAX / 2));
        payload["notAfter"] = crate::time::rfc3339(not_after).into();
    }
    if !settings.profile.is_empty() {
        payload["profile"] = settings.profile.into();
    }
    payload
}

/// The `pending` order: fetch new authorizations and choose their
/// challenges, answer the presented ones, refresh the answered ones.
fn pending_authorizations(
    client: &mut Client<'_>,
    order: &mut OrderState,
    settings: &IssuerSettings<'_>,
    input: &IssueInput<'_>,
    mut server_retry_after: Option<String>,
) -> Result<Step, StepError> {
    for authorization in &mut order.authorizations {
        let fresh = authorization.status.is_empty();
        let answered = authorization
            .challenge
            .as_ref()
            .is_some_and(|c| c.responded);
        if !(fresh || (answered && !is_final(&authorization.status))) {
            continue;
        }
        let response = client
            .post_as_get(&authorization.url, None)
            .context("Failed to get the Authorization")?;
        if let Some(value) = retry_after(&response) {
            server_retry_after = Some(value);
        }
        let object: AuthorizationObject =
            client::json(&response, "authorization").context("Failed to get the Authorization")?;
        authorization.status = object.status;
        authorization.identifier = object.identifier.value;
        authorization.wildcard = object.wildcard;
        match &mut authorization.challenge {
            Some(chosen) => {
                if let Some(current) = object.challenges.iter().find(|c| c.url == chosen.url) {
                    chosen.status = current.status.clone();
                    chosen.error = current.error.as_ref().map(problem_text).unwrap_or_default();
                }
            }
            None if authorization.status == "pending" => {
                let domain = if authorization.wildcard {
                    format!("*.{}", authorization.identifier)
                } else {
                    authorization.identifier.clone()
                };
                let types: Vec<&str> = object.challenges.iter().map(|c| c.kind.as_str()).collect();
                let choice = solver::pick(settings.solvers, &domain, &types, &input.labels)
                    .ok_or_else(|| {
                        StepError::Plugin(failed(
                            FAILED,
                            format!(
                                "Failed to determine a valid solver configuration for the set of domains on the Order: no configured challenge solvers can be used for this challenge ({domain} offers {})",
                                types.join(", ")
                            ),
                        ))
                    })?;
                let challenge = &object.challenges[choice.challenge];
                authorization.challenge = Some(ChallengeState {
                    url: challenge.url.clone(),
                    kind: challenge.kind.clone(),
                    token: challenge.token.clone(),
                    solver: choice.solver,
                    status: challenge.status.clone(),
                    responded: false,
                    error: String::new(),
                });
            }
            None => {}
        }
    }
    // Answer what the host presented.
    for authorization in &mut order.authorizations {
        let Some(challenge) = &mut authorization.challenge else {
            continue;
        };
        if challenge.responded
            || authorization.status != "pending"
            || !input.presented.contains(&challenge.token)
        {
            continue;
        }
        let response = client
            .post(&challenge.url, &serde_json::json!({}))
            .context("Failed to accept the Challenge")?;
        if let Ok(object) = client::json::<ChallengeObject>(&response, "challenge") {
            challenge.status = object.status;
        }
        challenge.responded = true;
    }
    if let Some(failed_authorization) = order.authorizations.iter().find(|a| a.status == "invalid")
    {
        let why = failed_authorization
            .challenge
            .as_ref()
            .map(|c| c.error.clone())
            .unwrap_or_default();
        return Err(StepError::Plugin(failed(
            FAILED,
            format!(
                "Failed to validate {}: authorization is in \"invalid\" state: {why}",
                failed_authorization.identifier
            ),
        )));
    }
    let unanswered: Vec<String> = order
        .authorizations
        .iter()
        .filter_map(|a| {
            let c = a.challenge.as_ref()?;
            (!c.responded && a.status == "pending").then(|| {
                let star = if a.wildcard { "*." } else { "" };
                format!("{} for {star}{}", c.kind, a.identifier)
            })
        })
        .collect();
    if unanswered.is_empty() {
        Ok(Step::Poll {
            retry_after: server_retry_after,
            waiting_for: "Waiting for the ACME server to validate the challenges".into(),
        })
    } else {
        Ok(Step::Wait {
            seconds: PRESENT_SECONDS,
            waiting_for: format!(
                "Waiting for the challenges to be presented: {}",
                unanswered.join(", ")
            ),
        })
    }
}

/// A status's first letter (`-` for none): enough to tell the RFC 8555
/// statuses of one object apart (pending, processing, ready, valid,
/// invalid, deactivated, expired, revoked), as `progress` compares them.
fn initial(status: &str) -> char {
    match status {
        "processing" => 'P',
        "revoked" => 'R',
        "expired" => 'E',
        _ => status.chars().next().unwrap_or('-'),
    }
}

fn is_final(status: &str) -> bool {
    matches!(
        status,
        "valid" | "invalid" | "deactivated" | "expired" | "revoked"
    )
}

/// The error for an invalid order, with the server's reason: the order's
/// own error, else the first failed challenge's.
fn invalid_order(client: &mut Client<'_>, order: &OrderState) -> PluginError {
    let mut reason = order.error.clone();
    if reason.is_empty() {
        for authorization in &order.authorizations {
            let Ok(response) = client.post_as_get(&authorization.url, None) else {
                continue;
            };
            let Ok(object) = client::json::<AuthorizationObject>(&response, "authorization") else {
                continue;
            };
            if let Some(problem) = object.challenges.iter().find_map(|c| c.error.as_ref()) {
                reason = format!("{}: {}", object.identifier.value, problem_text(problem));
                break;
            }
        }
    }
    failed(
        FAILED,
        format!(
            "Failed to wait for order resource to become ready: order is in \"invalid\" state: {reason}"
        ),
    )
}

/// Downloads the certificate chain, the alternate whose top certificate's
/// issuer CN is `preferred_chain` if one is, else the default.
fn download(
    client: &mut Client<'_>,
    url: &str,
    preferred_chain: &str,
) -> Result<String, StepError> {
    const PEM_CHAIN: &str = "application/pem-certificate-chain";
    const WHAT: &str = "Failed to download the certificate";
    let response = client.post_as_get(url, Some(PEM_CHAIN)).context(WHAT)?;
    let default_chain = String::from_utf8(response.body.clone())
        .map_err(|_| AcmeError::Protocol("the certificate chain is not text".into()))
        .context(WHAT)?;
    if preferred_chain.is_empty() || top_issuer_is(&default_chain, preferred_chain) {
        return Ok(default_chain);
    }
    for alternate in client::links(&response, "alternate") {
        let response = client
            .post_as_get(&alternate, Some(PEM_CHAIN))
            .context(WHAT)?;
        if let Ok(chain) = String::from_utf8(response.body)
            && top_issuer_is(&chain, preferred_chain)
        {
            return Ok(chain);
        }
    }
    Ok(default_chain)
}

/// Whether the last certificate of `chain_pem` was issued by a CA whose
/// common name is `common_name`.
pub fn top_issuer_is(chain_pem: &str, common_name: &str) -> bool {
    x509::parse_chain(chain_pem)
        .ok()
        .and_then(|chain| chain.last().cloned())
        .and_then(|top| x509::common_name(top.issuer_der()).ok().flatten())
        .is_some_and(|cn| cn == common_name)
}

/// The `pending` outcome: the state, and the order for the host to mirror.
fn pending_outcome(
    state: &State,
    jwk: &AccountJwk,
    settings: &IssuerSettings<'_>,
    retry_after_ms: u64,
    waiting_for: String,
    events: Vec<Event>,
) -> Outcome {
    let pending = Pending {
        state: state.to_bytes(),
        retry_after_ms,
        waiting_for,
        events,
    };
    let order = state
        .order
        .as_ref()
        .map(|order| order_record(order, jwk, settings.solvers));
    Outcome::Pending(pending, order)
}

/// The WIT `order` record: the order and, per authorization that needed
/// solving, its chosen challenge with what to present.
pub fn order_record(order: &OrderState, jwk: &AccountJwk, solvers: &[Solver]) -> Order {
    let challenges = order
        .authorizations
        .iter()
        .filter_map(|authorization| {
            let chosen = authorization.challenge.as_ref()?;
            let key_authorization = jwk.key_authorization(&chosen.token);
            let (challenge_type, key) = if chosen.kind == "dns-01" {
                (ChallengeType::Dns01, jose::dns01_value(&key_authorization))
            } else {
                (ChallengeType::Http01, key_authorization)
            };
            Some(Challenge {
                url: chosen.url.clone(),
                authorization_url: authorization.url.clone(),
                challenge_type,
                dns_name: authorization.identifier.clone(),
                wildcard: authorization.wildcard,
                token: chosen.token.clone(),
                key,
                state: challenge_state(&chosen.status),
                reason: chosen.error.clone(),
                solver_json: solvers
                    .get(chosen.solver)
                    .map(|s| s.raw.to_string())
                    .unwrap_or_else(|| "{}".into()),
            })
        })
        .collect();
    Order {
        url: order.url.clone(),
        state: order_state(&order.status),
        reason: order.error.clone(),
        finalize_url: order.finalize.clone(),
        certificate_url: order.certificate.clone(),
        challenges,
    }
}

/// An order status as RFC 8555 7.1.6 spells it. A status the RFC does not
/// define is reported as `pending`: not final, so the host keeps waiting.
fn order_state(status: &str) -> ReportedOrderState {
    match status {
        "ready" => ReportedOrderState::Ready,
        "processing" => ReportedOrderState::Processing,
        "valid" => ReportedOrderState::Valid,
        "invalid" => ReportedOrderState::Invalid,
        _ => ReportedOrderState::Pending,
    }
}

/// A challenge status as RFC 8555 7.1.6 spells it; unknown is `pending`.
fn challenge_state(status: &str) -> ReportedChallengeState {
    match status {
        "processing" => ReportedChallengeState::Processing,
        "valid" => ReportedChallengeState::Valid,
        "invalid" => ReportedChallengeState::Invalid,
        _ => ReportedChallengeState::Pending,
    }
}

/// Decodes `spec.acme.caBundle` (base64 of PEM, as Kubernetes encodes
/// bytes) to the PEM the host's `http.send` takes.
pub fn decode_ca_bundle(ca_bundle: &str) -> Result<String, String> {
    let bytes = base64::engine::general_purpose::STANDARD
        .decode(ca_bundle.trim())
        .map_err(|e| format!("not base64: {e}"))?;
    String::from_utf8(bytes).map_err(|_| "not PEM text".to_owned())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn sample_state() -> State {
        State {
            v: STATE_VERSION,
            directory: Directory {
                new_nonce: "https://ca/nonce".into(),
                new_account: "https://ca/acct".into(),
                new_order: "https://ca/order".into(),
                meta: None,
            },
            account: "https://ca/acct/1".into(),
            nonce: Some("abc".into()),
            order: Some(OrderState {
                url: "https://ca/order/7".into(),
                status: "pending".into(),
                finalize: "https://ca/order/7/finalize".into(),
                certificate: None,
                authorizations: vec![
                    AuthorizationState {
                        url: "https://ca/authz/1".into(),
                        identifier: "a.example.com".into(),
                        wildcard: false,
                        status: "pending".into(),
                        challenge: Some(ChallengeState {
                            url: "https://ca/chal/1".into(),
                            kind: "http-01".into(),
                            token: "tok1".into(),
                            solver: 0,
                            status: "pending".into(),
                            responded: true,
                            error: String::new(),
                        }),
                    },
                    AuthorizationState {
                        url: "https://ca/authz/2".into(),
                        identifier: "example.com".into(),
                        wildcard: true,
                        status: "valid".into(),
                        challenge: None,
                    },
                ],
                error: String::new(),
            }),
            polls: 0,
            progress: String::new(),
        }
    }

    #[test]
    fn state_round_trips_and_stays_small() {
        let state = sample_state();
        let bytes = state.to_bytes();
        assert_eq!(State::from_bytes(&bytes).unwrap(), state);
        assert!(bytes.len() < 1024, "{} bytes", bytes.len());
        let text = String::from_utf8(bytes).unwrap();
        // Defaults are left out.
        assert!(!text.contains("\"error\""), "{text}");
        assert!(!text.contains("\"certificate\""), "{text}");
        assert!(text.contains(r#""responded":true"#), "{text}");
        // Another version, or garbage, is refused.
        let other = text.replacen(r#""v":1"#, r#""v":9"#, 1);
        assert!(State::from_bytes(other.as_bytes()).is_err());
        assert!(State::from_bytes(b"{").is_err());
    }

    #[test]
    fn order_record_carries_key_authorizations_and_solver_json() {
        let state = sample_state();
        let mut order = state.order.unwrap();
        order.authorizations[1].challenge = Some(ChallengeState {
            url: "https://ca/chal/2".into(),
            kind: "dns-01".into(),
            token: "tok2".into(),
            solver: 1,
            status: "valid".into(),
            responded: true,
            error: String::new(),
        });
        let key = certwasm_plugin_sdk::testing::OpensslKey::generate(
            certwasm_plugin_sdk::testing::KeyKind::EcdsaP256,
        );
        let jwk = AccountJwk::from_spki(key.public_key_der()).unwrap();
        let solvers: Vec<Solver> = serde_json::from_value(
            serde_json::json!([{"http01": {"ingress": {}}}, {"dns01": {"rfc2136": {}}}]),
        )
        .unwrap();
        let record = order_record(&order, &jwk, &solvers);
        assert_eq!(record.url, "https://ca/order/7");
        assert_eq!(record.challenges.len(), 2);
        let http = &record.challenges[0];
        assert_eq!(http.key, format!("tok1.{}", jwk.thumbprint()));
        assert_eq!(http.solver_json, r#"{"http01":{"ingress":{}}}"#);
        let dns = &record.challenges[1];
        assert!(dns.wildcard);
        assert_eq!(dns.dns_name, "example.com");
        assert_eq!(
            dns.key,
            jose::dns01_value(&format!("tok2.{}", jwk.thumbprint()))
        );
        assert_eq!(dns.state, ReportedChallengeState::Valid);
    }

    #[test]
    fn new_order_payload_has_not_after_and_profile_only_when_asked() {
        let ids = vec![Identifier::dns("a.example.com")];
        let mut settings = IssuerSettings::default();
        let input = IssueInput {
            duration_seconds: Some(3600),
            now_unix: 1_790_000_000,
            ..IssueInput::default()
        };
        assert_eq!(
            new_order_payload(&ids, &settings, &input),
            serde_json::json!({"identifiers": [{"type": "dns", "value": "a.example.com"}]})
        );
        settings.duration_feature = true;
        settings.profile = "shortlived";
        let payload = new_order_payload(&ids, &settings, &input);
        assert_eq!(payload["notAfter"], "2026-09-21T15:13:20Z");
        assert_eq!(payload["profile"], "shortlived");
    }

    /// Answers from a script, in order.
    struct Script(std::cell::RefCell<Vec<client::HttpResponse>>);

    impl Transport for Script {
        fn send(&self, _: client::HttpRequest) -> Result<client::HttpResponse, String> {
            let mut responses = self.0.borrow_mut();
            if responses.is_empty() {
                return Err("connection refused".into());
            }
            Ok(responses.remove(0))
        }
    }

    fn answer(
        status: u16,
        headers: &[(&str, &str)],
        body: serde_json::Value,
    ) -> client::HttpResponse {
        client::HttpResponse {
            status,
            headers: headers
                .iter()
                .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
                .collect(),
            body: body.to_string().into_bytes(),
        }
    }

    fn run(responses: Vec<client::HttpResponse>) -> Result<Outcome, PluginError> {
        run_from(&sample_state().to_bytes(), responses)
    }

    fn run_from(
        state: &[u8],
        responses: Vec<client::HttpResponse>,
    ) -> Result<Outcome, PluginError> {
        let key = certwasm_plugin_sdk::testing::OpensslKey::generate(
            certwasm_plugin_sdk::testing::KeyKind::EcdsaP256,
        );
        let script = Script(std::cell::RefCell::new(responses));
        advance(
            &script,
            &key,
            &IssuerSettings::default(),
            &IssueInput::default(),
            Some(state),
        )
    }

    fn order_answer(status: &str, retry_after: Option<&str>) -> client::HttpResponse {
        let mut headers = vec![("Replay-Nonce", "n")];
        headers.extend(retry_after.map(|v| ("Retry-After", v)));
        answer(
            200,
            &headers,
            serde_json::json!({"status": status, "authorizations": ["https://ca/authz/1", "https://ca/authz/2"], "finalize": "https://ca/order/7/finalize"}),
        )
    }

    /// Runs one call from `state`; the pending wait and the next state.
    fn poll_once(state: &[u8], answer: client::HttpResponse) -> (u64, Vec<u8>) {
        let Outcome::Pending(pending, _) = run_from(state, vec![answer]).unwrap() else {
            panic!("pending expected");
        };
        (pending.retry_after_ms, pending.state)
    }

    #[test]
    fn polls_back_off_while_the_order_stands_still_and_restart_when_it_moves() {
        let mut state = sample_state().to_bytes();
        let mut waits = Vec::new();
        for _ in 0..6 {
            let (wait, next) = poll_once(&state, order_answer("processing", None));
            waits.push(wait);
            state = next;
        }
        assert_eq!(waits, [25, 50, 100, 200, 400, 800]);
        let saved = State::from_bytes(&state).unwrap();
        assert_eq!(saved.polls, 5);
        assert!(
            saved.progress.starts_with("processing:"),
            "{}",
            saved.progress
        );
        // The server's Retry-After is never undercut.
        let (wait, state) = poll_once(&state, order_answer("processing", Some("7")));
        assert_eq!(wait, 7_000);
        // A fresh order (as if a new request) starts short again; so does
        // one that moved (pending → processing is progress).
        let (wait, _) = poll_once(&sample_state().to_bytes(), order_answer("processing", None));
        assert_eq!(wait, 25);
        let mut moved = State::from_bytes(&state).unwrap();
        moved.progress = "pending:pp".into();
        let (wait, _) = poll_once(&moved.to_bytes(), order_answer("processing", None));
        assert_eq!(wait, 25);
    }

    #[test]
    fn a_rate_limit_keeps_the_order_and_honours_retry_after() {
        let outcome = run(vec![answer(
            429,
            &[("Retry-After", "120"), ("Replay-Nonce", "fresh")],
            serde_json::json!({"type": "urn:ietf:params:acme:error:rateLimited", "detail": "too many requests"}),
        )])
        .unwrap();
        let Outcome::Pending(pending, _) = outcome else {
            panic!("pending expected");
        };
        assert_eq!(pending.retry_after_ms, 120_000);
        assert_eq!(pending.events[0].reason, "RateLimited");
        assert!(
            pending.waiting_for.contains("too many requests"),
            "{}",
            pending.waiting_for
        );
        let state = State::from_bytes(&pending.state).unwrap();
        assert_eq!(state.order, sample_state().order);
        assert_eq!(state.nonce.as_deref(), Some("fresh"));
        // A transport failure mid-order is kept the same way.
        let Outcome::Pending(pending, order) = run(Vec::new()).unwrap() else {
            panic!("pending expected");
        };
        assert_eq!(pending.retry_after_ms, BACKOFF_SECONDS * 1000);
        assert_eq!(order.unwrap().url, "https://ca/order/7");
    }

    #[test]
    fn an_invalid_order_fails_with_the_servers_reason() {
        let error = run(vec![answer(
            200,
            &[],
            serde_json::json!({"status": "invalid", "authorizations": [], "finalize": "f",
                "error": {"type": "urn:ietf:params:acme:error:unauthorized", "detail": "no TXT record found"}}),
        )])
        .unwrap_err();
        assert!(!error.retryable);
        assert_eq!(error.reason, "Failed");
        assert_eq!(
            error.message,
            "Failed to wait for order resource to become ready: order is in \"invalid\" state: urn:ietf:params:acme:error:unauthorized: no TXT record found"
        );
        // A refused request (4xx) is not retried.
        let error = run(vec![answer(
            403,
            &[],
            serde_json::json!({"type": "urn:ietf:params:acme:error:unauthorized", "detail": "not your order"}),
        )])
        .unwrap_err();
        assert_eq!(
            (error.retryable, error.message.as_str()),
            (
                false,
                "Failed to get the Order: 403 urn:ietf:params:acme:error:unauthorized: not your order"
            )
        );
    }

    #[test]
    fn ca_bundle_is_base64_pem() {
        assert_eq!(
            decode_ca_bundle("LS0tLS1CRUdJTiBDRVJUSUZJQ0FURS0tLS0tCg==").unwrap(),
            "-----BEGIN CERTIFICATE-----\n"
        );
        assert!(decode_ca_bundle("%%%").is_err());
    }
}
