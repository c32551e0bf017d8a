//! The typed way to write a plugin: implement [`Issuer`] and call
//! [`export_issuer!`](crate::export_issuer).
//!
//! The raw WIT exports ([`bindings::Guest`](crate::bindings::Guest)) hand a
//! plugin the issuer's whole `spec` as JSON and its state as bytes, so every
//! plugin used to repeat the same steps: find its section of the spec,
//! deserialise it and word the error, decode the state of the last call,
//! encode the next one. [`Issuer`] does those steps once, here: a plugin
//! declares its config and state types and receives them parsed.
//!
//! - The config is read once per call from `spec.<CONFIG_PATH>`
//!   (`spec.plugin.config` unless the plugin says otherwise) and handed to
//!   [`Issuer::validate`] and [`Issuer::issue`]. A config that is missing or
//!   does not fit the type is a permanent `InvalidConfig` error naming the
//!   field (see [`config::issuer_config_at`]); the plugin's code never runs.
//! - The state of a [`Pending`] outcome is serialised (JSON) by the SDK and
//!   handed back typed on the next call. State that cannot be read back (a
//!   plugin upgraded across an incompatible change, say) fails the request
//!   with reason [`INVALID_STATE`] rather than panicking.
//!
//! A plugin that needs more than this (one that reads several sections of
//! the spec, or keeps its state in a format of its own, as the bundled ACME
//! plugin does) implements [`bindings::Guest`](crate::bindings::Guest)
//! directly instead; the two routes produce the same component.
//!
//! The adapter functions [`info`], [`validate`] and [`issue`] are what the
//! exported component calls; they are public so that a native test can
//! drive a plugin exactly as the host would, as long as the code under test
//! makes no host calls.

use std::time::Duration;

use serde::Serialize;
use serde::de::DeserializeOwned;

use crate::config;
use crate::types::{
    CertificateRequest, Event, IssueOutcome, Issued, IssuerConfig, Need, PluginError, PluginInfo,
    Readiness,
};

/// The reason of the error returned when the state of the last call cannot
/// be read back.
pub const INVALID_STATE: &str = "InvalidState";

/// An issuer plugin, with its config and state typed.
///
/// ```
/// use certwasm_plugin_sdk::types::{CertificateRequest, IssuerConfig, PluginError, Readiness};
/// use certwasm_plugin_sdk::{Issuer, Outcome, failed};
///
/// #[derive(serde::Deserialize)]
/// struct Config {
///     url: String,
/// }
///
/// struct Example;
///
/// impl Issuer for Example {
///     type Config = Config;
///     type State = ();
///     const NAME: &'static str = "example";
///     const VERSION: &'static str = "0.1.0";
///     const DESCRIPTION: &'static str = "Refuses everything, politely.";
///
///     fn validate(config: &Config, _issuer: &IssuerConfig) -> Result<Readiness, PluginError> {
///         Ok(Readiness { reason: "Verified".into(), message: format!("Would call {}", config.url) })
///     }
///
///     fn issue(_: &Config, _: &CertificateRequest, _: Option<()>) -> Result<Outcome<()>, PluginError> {
///         Err(failed("NotImplemented", "This issuer signs nothing"))
///     }
/// }
///
/// // In the plugin crate: certwasm_plugin_sdk::export_issuer!(Example);
/// # let issuer = IssuerConfig {
/// #     kind: certwasm_plugin_sdk::types::IssuerKind::Issuer,
/// #     name: "e".into(), namespace: "default".into(),
/// #     spec_json: r#"{"plugin":{"name":"example","config":{"url":"https://x"}}}"#.into(),
/// # };
/// let ready = certwasm_plugin_sdk::issuer::validate::<Example>(&issuer).unwrap();
/// assert_eq!(ready.message, "Would call https://x");
/// ```
pub trait Issuer {
    /// The plugin's settings, read from `spec.<CONFIG_PATH>` of the issuer.
    type Config: DeserializeOwned;

    /// What the plugin remembers between calls of one request: the state of
    /// a [`Pending`] outcome. `()` for a plugin that issues in one call.
    ///
    /// It is stored on the CertificateRequest, where anyone who may read the
    /// resource can read it: keep it small and free of credentials (use the
    /// `cache` import for those).
    type State: Serialize + DeserializeOwned;

    /// Short name, e.g. `my-ca`: the name an Issuer's `spec.plugin.name`
    /// selects the plugin by.
    const NAME: &'static str;

    /// The plugin's own version (semver); usually
    /// `env!("CARGO_PKG_VERSION")`.
    const VERSION: &'static str;

    /// One sentence for `certwasm plugin info`.
    const DESCRIPTION: &'static str;

    /// Where the config sits in the issuer's `spec`. The first element is
    /// the issuer type the plugin serves (`plugin` for a third-party
    /// plugin, which the host selects by `spec.plugin.name`).
    const CONFIG_PATH: &'static [&'static str] = &["plugin", "config"];

    /// What the plugin needs from the host beyond the common imports (see
    /// `need` in `wit/issuer.wit`); most plugins need nothing.
    const NEEDS: &'static [Need] = &[];

    /// Who the plugin is. The default builds it from the constants; the
    /// issuer type served is the first element of
    /// [`CONFIG_PATH`](Self::CONFIG_PATH).
    fn info() -> PluginInfo {
        PluginInfo {
            name: Self::NAME.to_owned(),
            version: Self::VERSION.to_owned(),
            issuer_types: Self::CONFIG_PATH
                .first()
                .map(|field| vec![(*field).to_owned()])
                .unwrap_or_default(),
            description: Self::DESCRIPTION.to_owned(),
            needs: Self::NEEDS.to_vec(),
        }
    }

    /// Checks the issuer: ok makes it Ready with the readiness' reason and
    /// message; an error's become its Ready=False condition. `issuer` is
    /// the issuer the call is for (its name and namespace, for messages).
    fn validate(config: &Self::Config, issuer: &IssuerConfig) -> Result<Readiness, PluginError>;

    /// Advances a request: `state` is none on the first call and the state
    /// of the last [`Pending`] outcome afterwards. The host may repeat a
    /// call with the same state (after a restart), so it must be safe to.
    fn issue(
        config: &Self::Config,
        request: &CertificateRequest,
        state: Option<Self::State>,
    ) -> Result<Outcome<Self::State>, PluginError>;
}

/// The result of one [`Issuer::issue`] call.
#[derive(Debug, Clone)]
pub enum Outcome<S> {
    /// The certificate is signed.
    Issued(Issued),
    /// Issuance continues later; the host calls again with the state.
    Pending(Pending<S>),
}

impl<S> From<Issued> for Outcome<S> {
    fn from(issued: Issued) -> Self {
        Self::Issued(issued)
    }
}

impl<S> From<Pending<S>> for Outcome<S> {
    fn from(pending: Pending<S>) -> Self {
        Self::Pending(pending)
    }
}

/// Issuance is under way: what to remember, when to call again and why.
///
/// Not an error: a plugin that cannot make progress for now (a server that
/// is down) returns [`retry_later`](crate::retry_later) instead, and the
/// host retries it with back-off.
#[derive(Debug, Clone)]
pub struct Pending<S> {
    /// Handed back to [`Issuer::issue`] on the next call.
    pub state: S,
    /// How long the host waits before calling again.
    pub retry_after: Duration,
    /// What the plugin is waiting for, in one sentence (shown in the
    /// request's Ready=False condition, reason Pending).
    pub waiting_for: String,
    /// Events to record on the CertificateRequest.
    pub events: Vec<Event>,
}

impl<S> Pending<S> {
    /// A pending outcome with no events.
    pub fn new(state: S, retry_after: Duration, waiting_for: impl Into<String>) -> Self {
        Self {
            state,
            retry_after,
            waiting_for: waiting_for.into(),
            events: Vec::new(),
        }
    }

    /// Adds an event to record on the CertificateRequest.
    pub fn with_event(mut self, event: Event) -> Self {
        self.events.push(event);
        self
    }
}

/// The config of `I`, read from the issuer as the adapters read it.
pub fn read_config<I: Issuer>(issuer: &IssuerConfig) -> Result<I::Config, PluginError> {
    config::issuer_config_at(issuer, I::CONFIG_PATH)
}

/// The export `info`, for `I`.
pub fn info<I: Issuer>() -> PluginInfo {
    I::info()
}

/// The export `validate`, for `I`: reads the config, then
/// [`Issuer::validate`].
pub fn validate<I: Issuer>(issuer: &IssuerConfig) -> Result<Readiness, PluginError> {
    let config = read_config::<I>(issuer)?;
    I::validate(&config, issuer)
}

/// The export `issue`, for `I`: reads the config and the state, runs
/// [`Issuer::issue`] and encodes the state of a pending outcome.
pub fn issue<I: Issuer>(
    request: &CertificateRequest,
    state: Option<&[u8]>,
) -> Result<IssueOutcome, PluginError> {
    let config = read_config::<I>(&request.issuer)?;
    let state = state.map(decode_state::<I::State>).transpose()?;
    match I::issue(&config, request, state)? {
        Outcome::Issued(issued) => Ok(IssueOutcome::Issued(issued)),
        Outcome::Pending(pending) => Ok(IssueOutcome::Pending(crate::types::Pending {
            state: encode_state(&pending.state)?,
            retry_after_ms: u64::try_from(pending.retry_after.as_millis()).unwrap_or(u64::MAX),
            waiting_for: pending.waiting_for,
            events: pending.events,
        })),
    }
}

/// The bytes the host keeps for `state` (JSON).
pub fn encode_state<S: Serialize>(state: &S) -> Result<Vec<u8>, PluginError> {
    serde_json::to_vec(state).map_err(|e| {
        crate::failed(
            INVALID_STATE,
            format!("The plugin's state cannot be saved: {e}"),
        )
    })
}

/// Reads back what [`encode_state`] wrote.
pub fn decode_state<S: DeserializeOwned>(bytes: &[u8]) -> Result<S, PluginError> {
    serde_json::from_slice(bytes).map_err(|e| {
        crate::failed(
            INVALID_STATE,
            format!(
                "The state saved by the last call cannot be read (was the plugin upgraded?): {e}"
            ),
        )
    })
}

/// Exports a type that implements [`Issuer`] as the component's `info`,
/// `validate` and `issue`: call it once, at the top level of the plugin
/// crate, as `certwasm_plugin_sdk::export_issuer!(MyIssuer);`.
///
/// It implements [`bindings::Guest`](crate::bindings::Guest) with the
/// adapters of this module and calls the generated
/// [`export!`](crate::export).
#[macro_export]
macro_rules! export_issuer {
    ($issuer:ty) => {
        const _: () = {
            struct CertwasmTypedIssuer;

            impl $crate::bindings::Guest for CertwasmTypedIssuer {
                fn info() -> $crate::types::PluginInfo {
                    $crate::issuer::info::<$issuer>()
                }

                fn validate(
                    config: $crate::types::IssuerConfig,
                ) -> ::core::result::Result<$crate::types::Readiness, $crate::types::PluginError>
                {
                    $crate::issuer::validate::<$issuer>(&config)
                }

                fn issue(
                    request: $crate::types::CertificateRequest,
                    state: ::core::option::Option<::std::vec::Vec<u8>>,
                ) -> ::core::result::Result<$crate::types::IssueOutcome, $crate::types::PluginError>
                {
                    $crate::issuer::issue::<$issuer>(&request, state.as_deref())
                }
            }

    $crate::bindings::export!(CertwasmTypedIssuer with_types_in $crate::bindings);
        };
    };
}

#[cfg(test)]
mod tests {
    use serde::Deserialize;

    use super::*;
    use crate::types::{EventType, IssuerKind};

    #[derive(Debug, Deserialize)]
    #[serde(rename_all = "camelCase")]
    struct Config {
        steps: u32,
    }

    #[derive(Debug, PartialEq, Serialize, Deserialize)]
    struct Progress {
        done: u32,
    }

    /// Counts calls in its state and issues after `steps` of them.
    struct Counter;

    impl Issuer for Counter {
        type Config = Config;
        type State = Progress;
        const NAME: &'static str = "counter";
        const VERSION: &'static str = "1.2.3";
        const DESCRIPTION: &'static str = "Counts.";
        const NEEDS: &'static [Need] = &[Need::RequestKey];

        fn validate(config: &Config, issuer: &IssuerConfig) -> Result<Readiness, PluginError> {
            Ok(Readiness {
                reason: "Counted".into(),
                message: format!("{} steps for {}", config.steps, issuer.name),
            })
        }

        fn issue(
            config: &Config,
            request: &CertificateRequest,
            state: Option<Progress>,
        ) -> Result<Outcome<Progress>, PluginError> {
            let done = state.map_or(0, |p| p.done) + 1;
            if done >= config.steps {
                return Ok(Issued {
                    certificate_chain_pem: format!("{} after {done}", request.name),
                    ca_pem: None,
                }
                .into());
            }
            Ok(Pending::new(
                Progress { done },
                Duration::from_secs(2),
                format!("step {done}"),
            )
            .with_event(Event {
                type_: EventType::Normal,
                reason: "Step".into(),
                message: done.to_string(),
            })
            .into())
        }
    }

    fn issuer(spec: &str) -> IssuerConfig {
        IssuerConfig {
            kind: IssuerKind::Issuer,
            name: "count".into(),
            namespace: "default".into(),
            spec_json: spec.into(),
        }
    }

    fn request(spec: &str) -> CertificateRequest {
        CertificateRequest {
            name: "req".into(),
            namespace: "default".into(),
            csr_pem: String::new(),
            duration_seconds: None,
            is_ca: false,
            usages: Vec::new(),
            issuer: issuer(spec),
            request_key: None,
            annotations: Vec::new(),
        }
    }

    #[test]
    fn info_comes_from_the_constants() {
        let info = info::<Counter>();
        assert_eq!(
            (
                info.name.as_str(),
                info.version.as_str(),
                info.description.as_str()
            ),
            ("counter", "1.2.3", "Counts.")
        );
        assert_eq!(info.issuer_types, ["plugin"]);
        assert_eq!(info.needs, [Need::RequestKey]);
    }

    #[test]
    fn the_config_is_parsed_and_its_errors_name_the_field() {
        let spec = r#"{"plugin":{"name":"counter","config":{"steps":3}}}"#;
        let ready = validate::<Counter>(&issuer(spec)).unwrap();
        assert_eq!(ready.message, "3 steps for count");
        let error = validate::<Counter>(&issuer(r#"{"plugin":{"name":"counter"}}"#)).unwrap_err();
        assert_eq!(
            (
                error.reason.as_str(),
                error.message.as_str(),
                error.retryable
            ),
            ("InvalidConfig", "spec.plugin.config: Required value", false)
        );
        let error =
            issue::<Counter>(&request(r#"{"plugin":{"config":{"steps":"x"}}}"#), None).unwrap_err();
        assert!(
            error
                .message
                .starts_with("spec.plugin.config: Invalid value: invalid type: string"),
            "{}",
            error.message
        );
    }

    #[test]
    fn state_travels_through_the_host_as_bytes() {
        let request = request(r#"{"plugin":{"config":{"steps":3}}}"#);
        let mut state: Option<Vec<u8>> = None;
        let mut calls = 0;
        let issued = loop {
            calls += 1;
            match issue::<Counter>(&request, state.as_deref()).unwrap() {
                IssueOutcome::Pending(pending) => {
                    assert_eq!(pending.retry_after_ms, 2000);
                    assert_eq!(pending.waiting_for, format!("step {calls}"));
                    assert_eq!(pending.events[0].message, calls.to_string());
                    assert_eq!(
                        decode_state::<Progress>(&pending.state).unwrap(),
                        Progress { done: calls }
                    );
                    state = Some(pending.state);
                }
                IssueOutcome::Issued(issued) => break issued,
            }
            assert!(calls < 10, "never issued");
        };
        assert_eq!(calls, 3);
        assert_eq!(issued.certificate_chain_pem, "req after 3");
    }

    #[test]
    fn unreadable_state_fails_the_request() {
        let request = request(r#"{"plugin":{"config":{"steps":3}}}"#);
        let error = issue::<Counter>(&request, Some(b"{\"other\":1}")).unwrap_err();
        assert_eq!(error.reason, INVALID_STATE);
        assert!(!error.retryable);
    }
}
