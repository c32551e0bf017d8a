//! Plugins built against the frozen contracts 0.3.0, 0.2.0 and 0.1.0: their
//! values converted to and from the current (0.4.0) ones, and their imports
//! served by the current implementations.
//!
//! Why one conversion serves three versions: 0.1.0 and 0.2.0 share 0.3.0's
//! Rust types (see `bindings`), so everything an older plugin sends or
//! receives is a 0.3.0 value. 0.4.0 changed records (closed sets became
//! enums, order progress moved to the `orders` interface, imports return a
//! typed `host-error`), and every 0.3.0 value has a 0.4.0 equivalent, so an
//! older plugin keeps working unchanged.

use super::bindings::v0_1::certwasm::issuer as v0_1;
use super::bindings::v0_2::certwasm::issuer as v0_2;
use super::bindings::v0_3::certwasm::issuer as v0_3;
use super::bindings::v0_4::certwasm::issuer as v0_4;
use super::host_state::HostState;
use v0_4::types::HostError;

use v0_4::orders::{
    Challenge, ChallengeState, ChallengeType, Host as OrdersHost, Order, OrderState,
};
use v0_4::types::{
    CertificateRequest, IssueOutcome, Issued, IssuerConfig, Need, PluginError, PluginInfo,
    Readiness,
};

/// Converts between two enums with the same cases, in both directions.
macro_rules! same_cases {
    ($to_new:ident, $to_old:ident, $old:ty => $new:ty { $($case:ident),+ $(,)? }) => {
        fn $to_new(value: $old) -> $new {
            match value { $(<$old>::$case => <$new>::$case),+ }
        }
        #[allow(dead_code)]
        fn $to_old(value: $new) -> $old {
            match value { $(<$new>::$case => <$old>::$case),+ }
        }
    };
}

same_cases!(signature_algorithm, _signature_algorithm_old,
v0_3::types::SignatureAlgorithm => v0_4::types::SignatureAlgorithm {
    EcdsaP256Sha256, EcdsaP384Sha384, RsaPkcs1Sha256, RsaPkcs1Sha384, RsaPkcs1Sha512, Ed25519,
});
same_cases!(key_algorithm, _key_algorithm_old,
v0_3::types::KeyAlgorithm => v0_4::types::KeyAlgorithm {
    Rsa2048, Rsa3072, Rsa4096, EcdsaP256, EcdsaP384, Ed25519,
});
same_cases!(_key_usage_new, key_usage,
v0_3::types::KeyUsage => v0_4::types::KeyUsage {
    Signing, DigitalSignature, ContentCommitment, KeyEncipherment, KeyAgreement,
    DataEncipherment, CertSign, CrlSign, EncipherOnly, DecipherOnly, Any, ServerAuth,
    ClientAuth, CodeSigning, EmailProtection, Smime, IpsecEndSystem, IpsecTunnel,
    IpsecUser, Timestamping, OcspSigning, MicrosoftSgc, NetscapeSgc,
});
same_cases!(event_type, _event_type_old,
    v0_3::types::EventType => v0_4::types::EventType { Normal, Warning });
same_cases!(log_level, _log_level_old,
    v0_3::log::Level => v0_4::log::Level { Debug, Info, Warn, Error });

/// The message an older plugin saw: imports failed with a bare string.
fn message(error: HostError) -> String {
    match error {
        HostError::Denied(m)
        | HostError::NotFound(m)
        | HostError::Invalid(m)
        | HostError::Unavailable(m) => m,
    }
}

/// What a plugin built before 0.4.0 needs. Those contracts had no way to
/// declare needs; the host granted the request's key to the issuer type
/// `selfSigned` and mirrored orders for `acme`, so an older plugin is given
/// what it was given then, judged by the issuer types it says it serves.
fn needs_of(issuer_types: &[String]) -> Vec<Need> {
    let mut needs = Vec::new();
    if issuer_types.iter().any(|t| t == "selfSigned") {
        needs.push(Need::RequestKey);
    }
    if issuer_types.iter().any(|t| t == "acme") {
        needs.push(Need::Orders);
    }
    needs
}

/// An older plugin's `info`.
pub(crate) fn info(info: v0_3::types::PluginInfo) -> PluginInfo {
    PluginInfo {
        needs: needs_of(&info.issuer_types),
        name: info.name,
        version: info.version,
        issuer_types: info.issuer_types,
        description: info.description,
    }
}

/// The issuer an older plugin is called for.
pub(crate) fn issuer_config(config: &IssuerConfig) -> v0_3::types::IssuerConfig {
    v0_3::types::IssuerConfig {
        kind: super::convert::issuer_kind_name(config.kind).to_owned(),
        name: config.name.clone(),
        namespace: config.namespace.clone(),
        spec_json: config.spec_json.clone(),
    }
}

/// The request an older plugin is handed; `presented` is what 0.4.0's
/// `orders.presented` answers.
pub(crate) fn request(
    request: &CertificateRequest,
    presented: Vec<String>,
) -> v0_3::types::CertificateRequest {
    v0_3::types::CertificateRequest {
        name: request.name.clone(),
        namespace: request.namespace.clone(),
        csr_pem: request.csr_pem.clone(),
        duration_seconds: request.duration_seconds,
        is_ca: request.is_ca,
        usages: request.usages.iter().copied().map(key_usage).collect(),
        issuer: issuer_config(&request.issuer),
        request_key: request.request_key.clone(),
        annotations: request.annotations.clone(),
        presented_challenges: presented,
    }
}

fn failure(error: v0_3::types::PluginError) -> PluginError {
    PluginError {
        reason: error.reason,
        message: error.message,
        retryable: error.retryable,
    }
}

/// An older plugin's `validate` result.
pub(crate) fn validated(
    result: Result<v0_3::types::Readiness, v0_3::types::PluginError>,
) -> Result<Readiness, PluginError> {
    result
        .map(|r| Readiness {
            reason: r.reason,
            message: r.message,
        })
        .map_err(failure)
}

/// An older plugin's `issue` result, and the order its `pending` outcome
/// carried. An order or challenge state outside the closed sets the old
/// contract documented is the plugin's error, not the host's.
pub(crate) fn outcome(
    result: Result<v0_3::types::IssueOutcome, v0_3::types::PluginError>,
) -> (Result<IssueOutcome, PluginError>, Option<Order>) {
    match result {
        Err(error) => (Err(failure(error)), None),
        Ok(v0_3::types::IssueOutcome::Issued(issued)) => (
            Ok(IssueOutcome::Issued(Issued {
                certificate_chain_pem: issued.certificate_chain_pem,
                ca_pem: issued.ca_pem,
            })),
            None,
        ),
        Ok(v0_3::types::IssueOutcome::Pending(pending)) => {
            let order = match pending.order.map(order).transpose() {
                Ok(order) => order,
                Err(message) => {
                    let error = PluginError {
                        reason: "InvalidOrder".to_owned(),
                        message,
                        retryable: false,
                    };
                    return (Err(error), None);
                }
            };
            let pending = v0_4::types::Pending {
                state: pending.state,
                retry_after_ms: pending.retry_after_ms,
                waiting_for: pending.waiting_for,
                events: pending
                    .events
                    .into_iter()
                    .map(|e| v0_4::types::Event {
                        type_: event_type(e.type_),
                        reason: e.reason,
                        message: e.message,
                    })
                    .collect(),
            };
            (Ok(IssueOutcome::Pending(pending)), order)
        }
    }
}

fn order(order: v0_3::types::Order) -> Result<Order, String> {
    let state = match order.state.as_str() {
        "pending" => OrderState::Pending,
        "ready" => OrderState::Ready,
        "processing" => OrderState::Processing,
        "valid" => OrderState::Valid,
        "invalid" => OrderState::Invalid,
        other => return Err(format!("the plugin reported an order in state {other:?}")),
    };
    Ok(Order {
        url: order.url,
        state,
        reason: order.reason,
        finalize_url: order.finalize_url,
        certificate_url: order.certificate_url,
        challenges: order
            .challenges
            .into_iter()
            .map(challenge)
            .collect::<Result<_, _>>()?,
    })
}

fn challenge(challenge: v0_3::types::Challenge) -> Result<Challenge, String> {
    let state = match challenge.state.as_str() {
        "pending" => ChallengeState::Pending,
        "processing" => ChallengeState::Processing,
        "valid" => ChallengeState::Valid,
        "invalid" => ChallengeState::Invalid,
        other => {
            return Err(format!(
                "the plugin reported a challenge in state {other:?}"
            ));
        }
    };
    let challenge_type = match challenge.challenge_type.as_str() {
        "http-01" => ChallengeType::Http01,
        "dns-01" => ChallengeType::Dns01,
        other => return Err(format!("the plugin reported a challenge of type {other:?}")),
    };
    Ok(Challenge {
        url: challenge.url,
        authorization_url: challenge.authorization_url,
        challenge_type,
        dns_name: challenge.dns_name,
        wildcard: challenge.wildcard,
        token: challenge.token,
        key: challenge.key,
        state,
        reason: challenge.reason,
        solver_json: challenge.solver_json,
    })
}

/// Records an older plugin's order as 0.4.0's `orders.report` would.
pub(crate) fn report_order(state: &mut HostState, order: Option<Order>) {
    if let Some(order) = order {
        OrdersHost::report(state, order);
    }
}

fn http_request(request: v0_3::types::HttpRequest) -> Result<v0_4::types::HttpRequest, String> {
    use v0_4::types::HttpMethod;
    let method = match request.method.to_ascii_uppercase().as_str() {
        "GET" => HttpMethod::Get,
        "HEAD" => HttpMethod::Head,
        "POST" => HttpMethod::Post,
        "PUT" => HttpMethod::Put,
        "DELETE" => HttpMethod::Delete,
        "PATCH" => HttpMethod::Patch,
        other => return Err(format!("unsupported HTTP method {other:?}")),
    };
    Ok(v0_4::types::HttpRequest {
        method,
        url: request.url,
        headers: request.headers,
        body: request.body,
        ca_bundle_pem: request.ca_bundle_pem,
        timeout_ms: request.timeout_ms,
    })
}

fn http_response(response: v0_4::types::HttpResponse) -> v0_3::types::HttpResponse {
    v0_3::types::HttpResponse {
        status: response.status,
        headers: response.headers,
        body: response.body,
    }
}

fn tls_options(tls: v0_3::types::TlsOptions) -> v0_4::types::TlsOptions {
    v0_4::types::TlsOptions {
        client_certificate: tls
            .client_certificate
            .map(|c| v0_4::types::ClientCertificate {
                certificate_secret: c.certificate_secret,
                certificate_field: c.certificate_field,
                key_secret: c.key_secret,
                key_field: c.key_field,
            }),
        server_name: tls.server_name,
    }
}

// The 0.3.0 imports: the current ones, with values converted and errors
// flattened to the strings 0.3.0 returned.

impl v0_3::types::Host for HostState {}

impl v0_3::signer::Host for HostState {
    fn sign(
        &mut self,
        key: String,
        algorithm: v0_3::types::SignatureAlgorithm,
        data: Vec<u8>,
    ) -> Result<Vec<u8>, String> {
        v0_4::signer::Host::sign(self, key, signature_algorithm(algorithm), data).map_err(message)
    }

    fn public_key(&mut self, key: String) -> Result<Vec<u8>, String> {
        v0_4::signer::Host::public_key(self, key).map_err(message)
    }

    fn load(&mut self, secret_name: String, field: String) -> Result<String, String> {
        v0_4::signer::Host::load(self, secret_name, field).map_err(message)
    }

    fn generate(
        &mut self,
        secret_name: String,
        algorithm: v0_3::types::KeyAlgorithm,
    ) -> Result<String, String> {
        v0_4::signer::Host::generate(self, secret_name, key_algorithm(algorithm)).map_err(message)
    }
}

impl v0_3::http::Host for HostState {
    fn send(
        &mut self,
        request: v0_3::types::HttpRequest,
    ) -> Result<v0_3::types::HttpResponse, String> {
        v0_4::http::Host::send(self, http_request(request)?)
            .map(http_response)
            .map_err(message)
    }

    fn send_tls(
        &mut self,
        request: v0_3::types::HttpRequest,
        tls: v0_3::types::TlsOptions,
    ) -> Result<v0_3::types::HttpResponse, String> {
        v0_4::http::Host::send_tls(self, http_request(request)?, tls_options(tls))
            .map(http_response)
            .map_err(message)
    }
}

impl v0_3::cache::Host for HostState {
    fn get(&mut self, key: String) -> Option<Vec<u8>> {
        v0_4::cache::Host::get(self, key)
    }

    fn set(&mut self, key: String, value: Vec<u8>, ttl_seconds: u32) -> Result<(), String> {
        v0_4::cache::Host::set(self, key, value, ttl_seconds).map_err(message)
    }

    fn remove(&mut self, key: String) {
        v0_4::cache::Host::remove(self, key);
    }
}

impl v0_3::issuer_status::Host for HostState {
    fn report_acme_account(&mut self, account: v0_3::issuer_status::AcmeAccount) {
        v0_4::issuer_status::Host::report_acme_account(
            self,
            v0_4::issuer_status::AcmeAccount {
                uri: account.uri,
                email: account.email,
            },
        );
    }
}

impl v0_3::secrets::Host for HostState {
    fn get(&mut self, name: String) -> Result<Option<v0_3::types::Secret>, String> {
        v0_4::secrets::Host::get(self, name)
            .map(|secret| secret.map(|s| v0_3::types::Secret { data: s.data }))
            .map_err(message)
    }
}

impl v0_3::log::Host for HostState {
    fn write(&mut self, level: v0_3::log::Level, message: String) {
        v0_4::log::Host::write(self, log_level(level), message);
    }
}

impl v0_3::clock::Host for HostState {
    fn now_unix_seconds(&mut self) -> i64 {
        v0_4::clock::Host::now_unix_seconds(self)
    }
}

/// The imports 0.1.0 and 0.2.0 share with 0.3.0, under their own names:
/// the values are 0.3.0's (see `bindings`), so each is a plain call of the
/// 0.3.0 import; only `log.level`, declared outside `types`, is converted.
macro_rules! older_imports {
    ($v:ident) => {
        impl $v::signer::Host for HostState {
            fn sign(
                &mut self,
                key: String,
                algorithm: v0_3::types::SignatureAlgorithm,
                data: Vec<u8>,
            ) -> Result<Vec<u8>, String> {
                v0_3::signer::Host::sign(self, key, algorithm, data)
            }

            fn public_key(&mut self, key: String) -> Result<Vec<u8>, String> {
                v0_3::signer::Host::public_key(self, key)
            }

            fn load(&mut self, secret_name: String, field: String) -> Result<String, String> {
                v0_3::signer::Host::load(self, secret_name, field)
            }

            fn generate(
                &mut self,
                secret_name: String,
                algorithm: v0_3::types::KeyAlgorithm,
            ) -> Result<String, String> {
                v0_3::signer::Host::generate(self, secret_name, algorithm)
            }
        }

        impl $v::secrets::Host for HostState {
            fn get(&mut self, name: String) -> Result<Option<v0_3::types::Secret>, String> {
                v0_3::secrets::Host::get(self, name)
            }
        }

        impl $v::log::Host for HostState {
            fn write(&mut self, level: $v::log::Level, message: String) {
                let level = match level {
                    $v::log::Level::Debug => v0_3::log::Level::Debug,
                    $v::log::Level::Info => v0_3::log::Level::Info,
                    $v::log::Level::Warn => v0_3::log::Level::Warn,
                    $v::log::Level::Error => v0_3::log::Level::Error,
                };
                v0_3::log::Host::write(self, level, message);
            }
        }

        impl $v::clock::Host for HostState {
            fn now_unix_seconds(&mut self) -> i64 {
                v0_3::clock::Host::now_unix_seconds(self)
            }
        }
    };
}

older_imports!(v0_2);
older_imports!(v0_1);

impl v0_2::http::Host for HostState {
    fn send(
        &mut self,
        request: v0_3::types::HttpRequest,
    ) -> Result<v0_3::types::HttpResponse, String> {
        v0_3::http::Host::send(self, request)
    }

    fn send_tls(
        &mut self,
        request: v0_3::types::HttpRequest,
        tls: v0_3::types::TlsOptions,
    ) -> Result<v0_3::types::HttpResponse, String> {
        v0_3::http::Host::send_tls(self, request, tls)
    }
}

impl v0_2::cache::Host for HostState {
    fn get(&mut self, key: String) -> Option<Vec<u8>> {
        v0_3::cache::Host::get(self, key)
    }

    fn set(&mut self, key: String, value: Vec<u8>, ttl_seconds: u32) -> Result<(), String> {
        v0_3::cache::Host::set(self, key, value, ttl_seconds)
    }

    fn remove(&mut self, key: String) {
        v0_3::cache::Host::remove(self, key);
    }
}

impl v0_1::http::Host for HostState {
    fn send(
        &mut self,
        request: v0_3::types::HttpRequest,
    ) -> Result<v0_3::types::HttpResponse, String> {
        v0_3::http::Host::send(self, request)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use v0_4::types::IssuerKind;

    fn old_pending(order_state: &str, challenge_type: &str) -> v0_3::types::IssueOutcome {
        v0_3::types::IssueOutcome::Pending(v0_3::types::Pending {
            state: vec![1, 2],
            retry_after_ms: 500,
            waiting_for: "the order".into(),
            events: vec![v0_3::types::Event {
                type_: v0_3::types::EventType::Warning,
                reason: "OrderCreated".into(),
                message: "m".into(),
            }],
            order: Some(v0_3::types::Order {
                url: "https://ca/order/1".into(),
                state: order_state.into(),
                reason: String::new(),
                finalize_url: "https://ca/finalize/1".into(),
                certificate_url: None,
                challenges: vec![v0_3::types::Challenge {
                    url: "https://ca/chall/1".into(),
                    authorization_url: "https://ca/authz/1".into(),
                    challenge_type: challenge_type.into(),
                    dns_name: "example.com".into(),
                    wildcard: false,
                    token: "tok".into(),
                    key: "tok.thumb".into(),
                    state: "pending".into(),
                    reason: String::new(),
                    solver_json: "{}".into(),
                }],
            }),
        })
    }

    #[test]
    fn an_older_pending_order_becomes_a_reported_order() {
        let (result, order) = outcome(Ok(old_pending("pending", "http-01")));
        let Ok(IssueOutcome::Pending(pending)) = result else {
            panic!("pending expected");
        };
        assert_eq!(pending.state, vec![1, 2]);
        assert_eq!(pending.events[0].type_, v0_4::types::EventType::Warning);
        let order = order.expect("the order is carried over");
        assert_eq!(order.state, OrderState::Pending);
        assert_eq!(order.challenges[0].challenge_type, ChallengeType::Http01);
        assert_eq!(order.challenges[0].state, ChallengeState::Pending);
    }

    #[test]
    fn an_unknown_order_state_is_the_plugins_error() {
        let (result, order) = outcome(Ok(old_pending("sleeping", "http-01")));
        let error = result.expect_err("refused");
        assert_eq!(error.reason, "InvalidOrder");
        assert!(error.message.contains("\"sleeping\""), "{}", error.message);
        assert!(order.is_none());
        let (result, _) = outcome(Ok(old_pending("ready", "tls-alpn-01")));
        assert!(result.expect_err("refused").message.contains("tls-alpn-01"));
    }

    #[test]
    fn older_plugins_get_the_needs_their_issuer_types_had() {
        assert_eq!(needs_of(&["selfSigned".into()]), vec![Need::RequestKey]);
        assert_eq!(needs_of(&["acme".into()]), vec![Need::Orders]);
        assert!(needs_of(&["ca".into(), "plugin".into()]).is_empty());
    }

    #[test]
    fn the_issuer_kind_is_spelled_as_before() {
        let config = IssuerConfig {
            kind: IssuerKind::ClusterIssuer,
            name: "n".into(),
            namespace: "cert-manager".into(),
            spec_json: "{}".into(),
        };
        assert_eq!(issuer_config(&config).kind, "ClusterIssuer");
    }
}
