//! certwasm's `acme` issuer: an RFC 8555 client behind the
//! `certwasm:issuer` contract, with cert-manager's ACME issuer's
//! configuration (`spec.acme`), reasons and messages.
//!
//! The protocol core does no IO. Requests go through a
//! [`client::Transport`] and signatures through an
//! [`x509::Signer`](certwasm_plugin_sdk::x509::Signer); the issuer logic
//! here reaches the host only through [`AcmeHost`]. The component binds
//! those to the `http`, `signer`, `secrets` and `clock` imports; the native
//! tests bind them to a real HTTPS client and local keys and run the very
//! same code against a real Pebble.
//!
//! - [`jose`]: JWK, RFC 7638 thumbprint, flattened JWS, EAB MAC.
//! - [`client`]: directory, nonces, signed POSTs, problems, badNonce retry.
//! - [`account`]: find or register the account, keep its contact current.
//! - [`identifiers`]: the order's identifiers from the CSR.
//! - [`solver`]: cert-manager's solver selection, pure.
//! - [`order`]: the resumable order state machine.
//! - [`poll`]: when to look at the order again (backoff, Retry-After), pure.

pub mod account;
pub mod client;
pub mod identifiers;
pub mod jose;
pub mod order;
pub mod poll;
pub mod solver;
mod time;

use std::collections::BTreeMap;

use certwasm_plugin_sdk::config::{self, INVALID_CONFIG};
use certwasm_plugin_sdk::types::{
    CertificateRequest, IssuerConfig, PluginError, Readiness, Secret,
};
use certwasm_plugin_sdk::x509::Signer;
use certwasm_plugin_sdk::{failed, retry_later};
use serde::Deserialize;

use crate::account::{AccountSettings, ExternalAccountKey};
use crate::client::{AcmeError, Client, HttpRequest, HttpResponse, Transport};
use crate::order::{IssueInput, IssuerSettings, Outcome};
use crate::solver::Solver;

/// `spec.acme` of an Issuer (cert-manager's `ACMEIssuer`).
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct AcmeConfig {
    /// The directory URL.
    #[serde(default)]
    pub server: String,
    #[serde(default)]
    pub email: String,
    /// Where the account key lives (`tls.key` unless `key` says otherwise).
    #[serde(default)]
    pub private_key_secret_ref: SecretKeySelector,
    #[serde(default, rename = "skipTLSVerify")]
    pub skip_tls_verify: bool,
    /// Base64 of PEM CA certificates to trust for the server.
    #[serde(default)]
    pub ca_bundle: String,
    #[serde(default)]
    pub external_account_binding: Option<ExternalAccountBinding>,
    #[serde(default)]
    pub disable_account_key_generation: bool,
    #[serde(default)]
    pub enable_duration_feature: bool,
    #[serde(default)]
    pub preferred_chain: String,
    #[serde(default)]
    pub profile: String,
    #[serde(default)]
    pub solvers: Vec<Solver>,
}

/// cert-manager's `SecretKeySelector`.
#[derive(Debug, Clone, Default, Deserialize)]
pub struct SecretKeySelector {
    #[serde(default)]
    pub name: String,
    #[serde(default)]
    pub key: String,
}

impl SecretKeySelector {
    /// The data key, `tls.key` by default as for cert-manager's account key.
    pub fn key_or_tls_key(&self) -> &str {
        if self.key.is_empty() {
            "tls.key"
        } else {
            &self.key
        }
    }
}

/// `spec.acme.externalAccountBinding`.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ExternalAccountBinding {
    #[serde(default, rename = "keyID")]
    pub key_id: String,
    #[serde(default)]
    pub key_secret_ref: SecretKeySelector,
    #[serde(default)]
    pub key_algorithm: String,
}

/// What the issuer asks of the host: the imports in the component, native
/// stand-ins in tests.
pub trait AcmeHost {
    /// `signer.load`.
    fn load_key(&self, secret: &str, field: &str) -> Result<Box<dyn Signer + '_>, String>;
    /// `signer.generate` of an ECDSA P-256 key kept in `secret`.
    fn generate_key(&self, secret: &str) -> Result<Box<dyn Signer + '_>, String>;
    /// `secrets.get`.
    fn secret(&self, name: &str) -> Result<Option<Secret>, String>;
    /// `http.send`, trusting `ca_bundle_pem` in addition to the system roots.
    fn send(
        &self,
        request: HttpRequest,
        ca_bundle_pem: Option<&str>,
    ) -> Result<HttpResponse, String>;
    /// `clock.now-unix-seconds`.
    fn now_unix(&self) -> i64;
}

/// The host's HTTP with the issuer's CA bundle: the protocol core's
/// transport.
struct HostTransport<'a> {
    host: &'a dyn AcmeHost,
    ca_bundle_pem: Option<String>,
}

impl Transport for HostTransport<'_> {
    fn send(&self, request: HttpRequest) -> Result<HttpResponse, String> {
        self.host.send(request, self.ca_bundle_pem.as_deref())
    }
}

const REGISTER_FAILED: &str = "ErrRegisterACMEAccount";
const VERIFY_FAILED: &str = "ErrVerifyACMEAccount";
/// cert-manager's `messageAccountRegistrationFailed` and
/// `messageAccountVerificationFailed` (pkg/issuer/acme/setup.go).
const REGISTER_FAILED_MESSAGE: &str = "Failed to register ACME account: ";
const VERIFY_FAILED_MESSAGE: &str = "Failed to verify ACME account: ";

/// Known ACME v1 directories and their v2 replacements, as cert-manager
/// warns about them.
const V1_SERVERS: &[(&str, &str)] = &[
    (
        "https://acme-v01.api.letsencrypt.org/directory",
        "https://acme-v02.api.letsencrypt.org/directory",
    ),
    (
        "https://acme-staging.api.letsencrypt.org/directory",
        "https://acme-staging-v02.api.letsencrypt.org/directory",
    ),
];

/// Reads and checks `spec.acme`.
pub fn settings(config: &IssuerConfig) -> Result<AcmeConfig, PluginError> {
    let settings: AcmeConfig = config::issuer_section(config, "acme")?;
    if settings.server.is_empty() {
        return Err(failed(INVALID_CONFIG, "spec.acme.server: Required value"));
    }
    if let Some((_, v2)) = V1_SERVERS.iter().find(|(v1, _)| *v1 == settings.server) {
        return Err(failed(
            INVALID_CONFIG,
            format!(
                "Your ACME server URL is set to a v1 endpoint ({}). You should update the spec.acme.server field to {v2:?}",
                settings.server
            ),
        ));
    }
    if settings.private_key_secret_ref.name.is_empty() {
        return Err(failed(
            INVALID_CONFIG,
            "spec.acme.privateKeySecretRef.name: Required value",
        ));
    }
    if settings.skip_tls_verify {
        // The host verifies every TLS connection it makes for a plugin; a
        // private CA is trusted through caBundle instead.
        return Err(failed(
            INVALID_CONFIG,
            "spec.acme.skipTLSVerify: Unsupported value: true: certwasm always verifies the ACME server's certificate; trust a private CA with spec.acme.caBundle instead",
        ));
    }
    if let Some(eab) = &settings.external_account_binding {
        if eab.key_id.is_empty() {
            return Err(failed(
                INVALID_CONFIG,
                "spec.acme.externalAccountBinding.keyID: Required value",
            ));
        }
        if eab.key_secret_ref.name.is_empty() {
            return Err(failed(
                INVALID_CONFIG,
                "spec.acme.externalAccountBinding.keySecretRef.name: Required value",
            ));
        }
    }
    Ok(settings)
}

fn ca_bundle(settings: &AcmeConfig) -> Result<Option<String>, PluginError> {
    if settings.ca_bundle.is_empty() {
        return Ok(None);
    }
    order::decode_ca_bundle(&settings.ca_bundle)
        .map(Some)
        .map_err(|e| {
            failed(
                INVALID_CONFIG,
                format!("spec.acme.caBundle: Invalid value: {e}"),
            )
        })
}

/// The account key: loaded from its Secret, or generated there (ECDSA
/// P-256) unless `disableAccountKeyGeneration`, with cert-manager's
/// reasons.
fn account_key<'h>(
    settings: &AcmeConfig,
    host: &'h dyn AcmeHost,
) -> Result<Box<dyn Signer + 'h>, PluginError> {
    let selector = &settings.private_key_secret_ref;
    let load_error = match host.load_key(&selector.name, selector.key_or_tls_key()) {
        Ok(key) => return Ok(key),
        Err(e) => e,
    };
    if settings.disable_account_key_generation {
        return Err(retry_later(
            VERIFY_FAILED,
            format!(
                "{VERIFY_FAILED_MESSAGE}the ACME issuer config has 'disableAccountKeyGeneration' set to true, but the secret was not found: {load_error}"
            ),
        ));
    }
    host.generate_key(&selector.name)
        .map_err(|e| retry_later(REGISTER_FAILED, format!("{REGISTER_FAILED_MESSAGE}{e}")))
}

/// The external account binding key from its Secret: base64url (padding
/// optional), as cert-manager decodes it.
fn external_account_key(
    settings: &AcmeConfig,
    host: &dyn AcmeHost,
) -> Result<Option<ExternalAccountKey>, PluginError> {
    let Some(eab) = &settings.external_account_binding else {
        return Ok(None);
    };
    let name = &eab.key_secret_ref.name;
    let invalid = |why: String| {
        failed(
            REGISTER_FAILED,
            format!("External Account Binding MAC key is invalid: {why}"),
        )
    };
    let secret = host
        .secret(name)
        .map_err(|e| {
            retry_later(
                REGISTER_FAILED,
                format!(
                    "{REGISTER_FAILED_MESSAGE}failed to get External Account Binding key from secret: {e}"
                ),
            )
        })?
        .ok_or_else(|| invalid(format!("secrets \"{name}\" not found")))?;
    let field = &eab.key_secret_ref.key;
    let encoded = secret.field(field).ok_or_else(|| {
        invalid(format!(
            "failed to find external account binding key data in Secret {name:?} at index {field:?}"
        ))
    })?;
    let mac_key = jose::b64_decode(String::from_utf8_lossy(encoded).trim()).map_err(|e| {
        invalid(format!(
            "failed to decode external account binding key data: {e}"
        ))
    })?;
    Ok(Some(ExternalAccountKey {
        key_id: eab.key_id.clone(),
        mac_key,
        algorithm: eab.key_algorithm.clone(),
    }))
}

/// A successful validation: the Ready condition, and the account that
/// cert-manager shows in the issuer's `status.acme`, which the component
/// reports to the host (`issuer-status.report-acme-account`).
#[derive(Debug, Clone)]
pub struct Validated {
    pub readiness: Readiness,
    /// The account URL (the `Location` of newAccount): `status.acme.uri`.
    pub account_url: String,
    /// `spec.acme.email`, the account's contact (empty for none):
    /// `status.acme.lastRegisteredEmail`.
    pub email: String,
}

/// Checks the issuer: its account key (generated if missing) and its
/// account at the server (registered if missing, contact updated) — the
/// Ready condition of cert-manager's ACME issuer, and its `status.acme`.
pub fn validate(config: &IssuerConfig, host: &dyn AcmeHost) -> Result<Validated, PluginError> {
    let settings = settings(config)?;
    let ca_bundle_pem = ca_bundle(&settings)?;
    let key = account_key(&settings, host)?;
    let external_account = external_account_key(&settings, host)?;
    let transport = HostTransport {
        host,
        ca_bundle_pem,
    };
    let register = || -> Result<account::Account, AcmeError> {
        let directory = client::fetch_directory(&transport, &settings.server)?;
        if directory
            .meta
            .as_ref()
            .is_some_and(|m| m.external_account_required)
            && external_account.is_none()
        {
            return Err(AcmeError::Protocol(
                "the ACME server requires an external account binding (spec.acme.externalAccountBinding)".into(),
            ));
        }
        let mut client = Client::new(&transport, &*key, &directory.new_nonce, host.now_unix())?;
        account::find_or_register(
            &mut client,
            &directory,
            &AccountSettings {
                email: &settings.email,
                external_account: external_account.as_ref(),
            },
        )
    };
    match register() {
        Ok(account) => Ok(Validated {
            readiness: Readiness {
                reason: "ACMEAccountRegistered".into(),
                message: "The ACME account was registered with the ACME server".into(),
            },
            account_url: account.url,
            email: settings.email,
        }),
        // cert-manager words a failed registration as a failed
        // verification, under the registration reason; 4xx are not retried.
        Err(e) => Err(PluginError {
            reason: REGISTER_FAILED.into(),
            message: format!("{VERIFY_FAILED_MESSAGE}{e}"),
            retryable: e.retryable(),
        }),
    }
}

/// Advances a request's issuance by one step (see [`order`]). `presented`
/// is what `orders.presented` answered: the challenges the host has
/// presented since the last call.
pub fn issue(
    request: &CertificateRequest,
    state: Option<&[u8]>,
    presented: &[String],
    host: &dyn AcmeHost,
) -> Result<Outcome, PluginError> {
    let settings = settings(&request.issuer)?;
    let ca_bundle_pem = ca_bundle(&settings)?;
    let selector = &settings.private_key_secret_ref;
    let key = host
        .load_key(&selector.name, selector.key_or_tls_key())
        .map_err(|e| retry_later(VERIFY_FAILED, format!("{VERIFY_FAILED_MESSAGE}{e}")))?;
    // The binding is only needed to register, which a first call may do.
    let external_account = match state {
        None => external_account_key(&settings, host)?,
        Some(_) => None,
    };
    let transport = HostTransport {
        host,
        ca_bundle_pem,
    };
    let issuer = IssuerSettings {
        server: &settings.server,
        email: &settings.email,
        external_account: external_account.as_ref(),
        solvers: &settings.solvers,
        preferred_chain: &settings.preferred_chain,
        profile: &settings.profile,
        duration_feature: settings.enable_duration_feature,
    };
    // The WIT request carries no labels (yet), so matchLabels selectors
    // see none, as for an Order without labels.
    let input = IssueInput {
        csr_pem: &request.csr_pem,
        duration_seconds: request.duration_seconds,
        presented,
        labels: BTreeMap::new(),
        now_unix: host.now_unix(),
    };
    order::advance(&transport, &*key, &issuer, &input, state)
}

#[cfg(target_arch = "wasm32")]
mod component {
    //! The component: [`AcmeHost`](super::AcmeHost) on the imports.

    use certwasm_plugin_sdk::bindings::Guest;
    use certwasm_plugin_sdk::bindings::certwasm::issuer::issuer_status::{self, AcmeAccount};
    use certwasm_plugin_sdk::bindings::certwasm::issuer::{clock, http, orders, secrets};
    use certwasm_plugin_sdk::host::HostKey;
    use certwasm_plugin_sdk::types::{
        self, CertificateRequest, IssueOutcome, IssuerConfig, KeyAlgorithm, Need, PluginError,
        PluginInfo, Readiness, Secret,
    };
    use certwasm_plugin_sdk::x509::Signer;

    use super::{AcmeHost, HttpRequest, HttpResponse, Outcome};

    /// Per request; the host caps it at the time left in the call.
    const HTTP_TIMEOUT_MS: u32 = 30_000;

    struct Imports;

    impl AcmeHost for Imports {
        fn load_key(&self, secret: &str, field: &str) -> Result<Box<dyn Signer + '_>, String> {
            HostKey::load(secret, field)
                .map(|key| Box::new(key) as Box<dyn Signer>)
                .map_err(|e| e.to_string())
        }

        fn generate_key(&self, secret: &str) -> Result<Box<dyn Signer + '_>, String> {
            HostKey::generate(secret, KeyAlgorithm::EcdsaP256)
                .map(|key| Box::new(key) as Box<dyn Signer>)
                .map_err(|e| e.to_string())
        }

        fn secret(&self, name: &str) -> Result<Option<Secret>, String> {
            secrets::get(name).map_err(|e| e.message().to_owned())
        }

        fn send(
            &self,
            request: HttpRequest,
            ca_bundle_pem: Option<&str>,
        ) -> Result<HttpResponse, String> {
            let response = http::send(&types::HttpRequest {
                method: request.method,
                url: request.url,
                headers: request.headers,
                body: request.body,
                ca_bundle_pem: ca_bundle_pem.map(str::to_owned),
                timeout_ms: Some(HTTP_TIMEOUT_MS),
            })
            .map_err(|e| e.message().to_owned())?;
            Ok(HttpResponse {
                status: response.status,
                headers: response.headers,
                body: response.body,
            })
        }

        fn now_unix(&self) -> i64 {
            clock::now_unix_seconds()
        }
    }

    struct Acme;

    impl Guest for Acme {
        fn info() -> PluginInfo {
            PluginInfo {
                name: "acme".into(),
                version: env!("CARGO_PKG_VERSION").into(),
                issuer_types: vec!["acme".into()],
                // Orders and challenges, mirrored and presented by the host.
                needs: vec![Need::Orders],
                description: "Certificates from an ACME (RFC 8555) server such as Let's Encrypt (cert-manager's ACME issuer).".into(),
            }
        }

        fn validate(config: IssuerConfig) -> Result<Readiness, PluginError> {
            let validated = super::validate(&config, &Imports)?;
            // The account registered or found, for the issuer's status.acme.
            issuer_status::report_acme_account(&AcmeAccount {
                uri: validated.account_url,
                email: validated.email,
            });
            Ok(validated.readiness)
        }

        fn issue(
            request: CertificateRequest,
            state: Option<Vec<u8>>,
        ) -> Result<IssueOutcome, PluginError> {
            let presented = orders::presented();
            match super::issue(&request, state.as_deref(), &presented, &Imports)? {
                Outcome::Issued(issued) => Ok(IssueOutcome::Issued(issued)),
                Outcome::Pending(pending, order) => {
                    if let Some(order) = order {
                        orders::report(&order);
                    }
                    Ok(IssueOutcome::Pending(pending))
                }
            }
        }
    }

    certwasm_plugin_sdk::export!(Acme);
}

#[cfg(test)]
mod tests {
    use super::*;
    use certwasm_plugin_sdk::types::IssuerKind;

    fn config(spec: serde_json::Value) -> IssuerConfig {
        IssuerConfig {
            kind: IssuerKind::Issuer,
            name: "acme".into(),
            namespace: "default".into(),
            spec_json: spec.to_string(),
        }
    }

    #[test]
    fn config_errors_name_the_field() {
        let cases = [
            (
                serde_json::json!({"acme": {}}),
                "spec.acme.server: Required value",
            ),
            (
                serde_json::json!({"acme": {"server": "https://ca/dir"}}),
                "spec.acme.privateKeySecretRef.name: Required value",
            ),
            (
                serde_json::json!({"acme": {"server": "https://ca/dir", "privateKeySecretRef": {"name": "k"}, "skipTLSVerify": true}}),
                "spec.acme.skipTLSVerify: Unsupported value: true: certwasm always verifies the ACME server's certificate; trust a private CA with spec.acme.caBundle instead",
            ),
            (
                serde_json::json!({"acme": {"server": "https://acme-v01.api.letsencrypt.org/directory", "privateKeySecretRef": {"name": "k"}}}),
                "Your ACME server URL is set to a v1 endpoint (https://acme-v01.api.letsencrypt.org/directory). You should update the spec.acme.server field to \"https://acme-v02.api.letsencrypt.org/directory\"",
            ),
            (
                serde_json::json!({"acme": {"server": "https://ca/dir", "privateKeySecretRef": {"name": "k"}, "externalAccountBinding": {"keySecretRef": {"name": "e", "key": "k"}}}}),
                "spec.acme.externalAccountBinding.keyID: Required value",
            ),
        ];
        for (spec, message) in cases {
            let error = settings(&config(spec)).unwrap_err();
            assert_eq!(
                (
                    error.reason.as_str(),
                    error.message.as_str(),
                    error.retryable
                ),
                (INVALID_CONFIG, message, false)
            );
        }
        let ok = settings(&config(serde_json::json!({"acme": {
            "server": "https://ca/dir", "email": "a@b.c",
            "privateKeySecretRef": {"name": "k"},
            "preferredChain": "Root X", "profile": "tlsserver",
            "externalAccountBinding": {"keyID": "kid-1", "keySecretRef": {"name": "eab", "key": "secret"}, "keyAlgorithm": "HS256"},
            "solvers": [{"http01": {"ingress": {"class": "nginx"}}}]
        }})))
        .unwrap();
        assert_eq!(ok.private_key_secret_ref.key_or_tls_key(), "tls.key");
        assert_eq!(ok.external_account_binding.unwrap().key_id, "kid-1");
        assert!(ok.solvers[0].http01);
    }
}
