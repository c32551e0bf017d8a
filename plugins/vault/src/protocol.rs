//! Vault's HTTP API as this plugin uses it, as pure functions: the requests
//! (URLs, headers, JSON bodies) and the reading of responses (the issued
//! chain, a login token, health, and Vault's `errors` array). Nothing here
//! calls the host, so every wire detail is unit-tested natively.

use certwasm_plugin_sdk::types::{
    ClientCertificate, HttpMethod, HttpRequest, HttpResponse, Issued, TlsOptions,
};
use certwasm_plugin_sdk::x509::{self, CsrNames, PemBundle};
use serde_json::{Value, json};

use crate::config::ClientCertificateRef;

/// The header that carries the Vault token.
pub const TOKEN_HEADER: &str = "X-Vault-Token";
/// The header that selects a Vault Enterprise / OpenBao namespace.
pub const NAMESPACE_HEADER: &str = "X-Vault-Namespace";
/// Longest part of a non-JSON error body quoted in a message.
const MAX_QUOTED_BODY: usize = 512;

/// Where requests go and what they carry on every call.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Endpoint {
    /// The server URL without a trailing slash.
    pub server: String,
    /// `spec.vault.namespace`, when set.
    pub namespace: Option<String>,
    /// Extra roots for Vault's TLS certificate, PEM.
    pub ca_bundle_pem: Option<String>,
    /// `spec.vault.serverName`: the TLS name Vault's certificate is
    /// verified against.
    pub server_name: Option<String>,
    /// The client certificate the host presents to Vault.
    pub client_certificate: Option<ClientCertificateRef>,
}

impl Endpoint {
    /// An endpoint for `server` (any trailing slash dropped).
    pub fn new(server: &str, namespace: Option<&str>, ca_bundle_pem: Option<String>) -> Self {
        Self {
            server: server.trim_end_matches('/').to_owned(),
            namespace: namespace.filter(|n| !n.is_empty()).map(str::to_owned),
            ca_bundle_pem,
            server_name: None,
            client_certificate: None,
        }
    }

    /// How the host must set up TLS for requests to Vault: none when
    /// neither a server name nor a client certificate is configured (the
    /// request then goes through plain `http.send`).
    pub fn tls_options(&self) -> Option<TlsOptions> {
        if self.server_name.is_none() && self.client_certificate.is_none() {
            return None;
        }
        let field = |r: &crate::config::SecretKeyRef| r.key.clone().unwrap_or_default();
        Some(TlsOptions {
            client_certificate: self.client_certificate.as_ref().map(|c| ClientCertificate {
                certificate_secret: c.certificate.name.clone(),
                certificate_field: field(&c.certificate),
                key_secret: c.key.name.clone(),
                key_field: field(&c.key),
            }),
            server_name: self.server_name.clone(),
        })
    }

    /// The URL of API path `path` (`pki/sign/web` → `<server>/v1/pki/sign/web`),
    /// with empty and `.` segments dropped as Go's `path.Join` does.
    pub fn v1_url(&self, path: &str) -> String {
        self.url(&format!("v1/{path}"))
    }

    /// The URL of a path given from the server's root, as the Kubernetes
    /// auth `mountPath` is (`/v1/auth/kubernetes` + `login`).
    pub fn url(&self, path: &str) -> String {
        let mut url = self.server.clone();
        for segment in path.split('/').filter(|s| !s.is_empty() && *s != ".") {
            url.push('/');
            url.push_str(segment);
        }
        url
    }

    /// A request to Vault. `namespaced` is false for `sys/health`, which
    /// cert-manager always asks of the root namespace.
    pub fn request(
        &self,
        method: HttpMethod,
        url: String,
        token: Option<&str>,
        body: Option<&Value>,
        namespaced: bool,
    ) -> HttpRequest {
        let mut headers = vec![("Accept".to_owned(), "application/json".to_owned())];
        if let Some(token) = token {
            headers.push((TOKEN_HEADER.to_owned(), token.to_owned()));
        }
        if namespaced && let Some(namespace) = &self.namespace {
            headers.push((NAMESPACE_HEADER.to_owned(), namespace.clone()));
        }
        let body = match body {
            Some(body) => {
                headers.push(("Content-Type".to_owned(), "application/json".to_owned()));
                body.to_string().into_bytes()
            }
            None => Vec::new(),
        };
        HttpRequest {
            method,
            url,
            headers,
            body,
            ca_bundle_pem: self.ca_bundle_pem.clone(),
            timeout_ms: None,
        }
    }
}

/// A duration as Go's `time.Duration.String()` writes whole seconds, which
/// is how cert-manager sends `ttl` (`2160h0m0s`, `1m30s`, `45s`).
pub fn go_duration(seconds: u64) -> String {
    let (hours, minutes, seconds) = (seconds / 3600, seconds / 60 % 60, seconds % 60);
    if hours > 0 {
        format!("{hours}h{minutes}m{seconds}s")
    } else if minutes > 0 {
        format!("{minutes}m{seconds}s")
    } else {
        format!("{seconds}s")
    }
}

/// The body of `POST /v1/<path>` (`pki/sign/<role>`), as cert-manager sends
/// it: the CSR, its names (used by roles that do not take them from the
/// CSR), the TTL, and `exclude_cn_from_sans` always true, since the CSR's
/// SANs already say whether the common name is one. The same path serves
/// `isCA` requests: whether a CA comes out is Vault's role's business.
pub fn sign_body(csr_pem: &str, names: &CsrNames, duration_seconds: u64) -> Value {
    json!({
        "csr": csr_pem,
        "common_name": names.common_name,
        "alt_names": names.dns_names.join(","),
        "ip_sans": names.ip_addresses.join(","),
        "uri_sans": names.uris.join(","),
        "ttl": go_duration(duration_seconds),
        "exclude_cn_from_sans": "true",
        "format": "pem",
    })
}

/// The body of an AppRole login.
pub fn approle_login_body(role_id: &str, secret_id: &str) -> Value {
    json!({"role_id": role_id, "secret_id": secret_id})
}

/// The body of a TLS certificate login: the certificate role (empty lets
/// Vault try every role), as cert-manager sends it.
pub fn client_certificate_login_body(name: &str) -> Value {
    json!({"name": name})
}

/// The body of a Kubernetes login.
pub fn kubernetes_login_body(role: &str, jwt: &str) -> Value {
    json!({"role": role, "jwt": jwt})
}

/// What went wrong talking to Vault.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum VaultError {
    /// No answer: refused, timed out, TLS, or refused by the host's egress
    /// policy (the host's wording).
    #[error("{0}")]
    Transport(String),
    /// Vault answered with an error status; `errors` is its `errors` array
    /// (or the body's text when it is not Vault's JSON). Worded like the
    /// Go client's error, on one line.
    #[error(
        "Error making API request. URL: {method} {url} Code: {status}. Errors: {}",
        bullet_list(errors)
    )]
    Api {
        method: String,
        url: String,
        status: u16,
        errors: Vec<String>,
    },
    /// Vault answered 2xx with something this plugin cannot read.
    #[error("{0}")]
    Decode(String),
}

fn bullet_list(errors: &[String]) -> String {
    if errors.is_empty() {
        return "(none given)".to_owned();
    }
    errors
        .iter()
        .map(|e| format!("* {e}"))
        .collect::<Vec<_>>()
        .join(" ")
}

impl VaultError {
    /// Whether the same call may succeed later with nothing changed: no
    /// answer, rate limiting, or a server error other than a sealed Vault
    /// (which needs an operator). A refusal (4xx) stays a refusal.
    pub fn retryable(&self) -> bool {
        match self {
            Self::Transport(_) => true,
            Self::Api { status, .. } if *status == 429 => true,
            Self::Api { status, .. } if *status >= 500 => !self.is_sealed(),
            Self::Api { .. } | Self::Decode(_) => false,
        }
    }

    /// Whether Vault refused the token (403: permission denied, or a
    /// token that is unknown, expired or revoked).
    pub fn is_forbidden(&self) -> bool {
        matches!(self, Self::Api { status: 403, .. })
    }

    /// Whether Vault said it is sealed.
    pub fn is_sealed(&self) -> bool {
        matches!(self, Self::Api { status: 503, errors, .. }
            if errors.iter().any(|e| e.to_ascii_lowercase().contains("sealed")))
    }

    /// Vault's own messages, for assertions and logs.
    pub fn vault_messages(&self) -> &[String] {
        match self {
            Self::Api { errors, .. } => errors,
            _ => &[],
        }
    }
}

/// Vault's `errors` array, or the body's text when it has none.
pub fn error_messages(body: &[u8]) -> Vec<String> {
    if let Ok(value) = serde_json::from_slice::<Value>(body)
        && let Some(errors) = value.get("errors").and_then(Value::as_array)
    {
        return errors
            .iter()
            .map(|e| match e {
                Value::String(s) => one_line(s),
                other => other.to_string(),
            })
            .filter(|e| !e.is_empty())
            .collect();
    }
    let text = one_line(&String::from_utf8_lossy(body));
    let text = text.as_str();
    if text.is_empty() {
        return Vec::new();
    }
    let mut end = text.len().min(MAX_QUOTED_BODY);
    while !text.is_char_boundary(end) {
        end -= 1;
    }
    vec![text[..end].to_owned()]
}

/// A message on one line: Vault nests multi-error text with newlines and
/// tabs (`1 error occurred:\n\t* permission denied\n\n`), which a
/// condition message should not carry.
fn one_line(message: &str) -> String {
    message.split_whitespace().collect::<Vec<_>>().join(" ")
}

/// The JSON of a successful response, or Vault's error.
pub fn read_response(request: &HttpRequest, response: &HttpResponse) -> Result<Value, VaultError> {
    if !(200..300).contains(&response.status) {
        return Err(VaultError::Api {
            method: request.method.to_string(),
            url: request.url.clone(),
            status: response.status,
            errors: error_messages(&response.body),
        });
    }
    if response.body.iter().all(u8::is_ascii_whitespace) {
        return Ok(Value::Null);
    }
    serde_json::from_slice(&response.body).map_err(|e| {
        VaultError::Decode(format!(
            "the response to {} {} is not JSON: {e}",
            request.method, request.url
        ))
    })
}

/// What a login returned.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Login {
    /// `auth.client_token`.
    pub token: String,
    /// `auth.lease_duration`: seconds the token lives; 0 means no expiry.
    pub lease_seconds: u64,
    /// `auth.num_uses`: how many requests the token may make; 0 means any.
    pub num_uses: u64,
}

impl Login {
    /// How long the token may be reused from the host's cache, if at all:
    /// most of its lease, ending early enough that a request never starts
    /// with a token about to expire; an hour for a token with no expiry
    /// (a revoked one is refused with 403 and replaced); never for a token
    /// with a use limit, which a shared cache would exhaust.
    pub fn cache_seconds(&self) -> Option<u32> {
        if self.num_uses > 0 {
            return None;
        }
        let seconds = match self.lease_seconds {
            0 => 3600,
            lease => (lease * 9 / 10).min(lease.saturating_sub(10)),
        };
        (seconds >= 10).then(|| u32::try_from(seconds).unwrap_or(u32::MAX))
    }
}

/// The token and lease of a login response (`auth`).
pub fn login(response: &Value) -> Result<Login, VaultError> {
    let auth = response.get("auth");
    let field = |name: &str| auth.and_then(|auth| auth.get(name));
    let token = field("client_token")
        .and_then(Value::as_str)
        .unwrap_or_default();
    if token.is_empty() {
        return Err(VaultError::Decode("no token returned".to_owned()));
    }
    Ok(Login {
        token: token.to_owned(),
        lease_seconds: field("lease_duration").and_then(Value::as_u64).unwrap_or(0),
        num_uses: field("num_uses").and_then(Value::as_u64).unwrap_or(0),
    })
}

/// Reads `GET /v1/sys/health` as cert-manager does: 200, and the standby
/// and replication codes 429, 472, 473 mean usable; 501 not initialized;
/// 503 sealed; anything else (or no answer) is an error.
pub fn health(request: &HttpRequest, response: Result<&HttpResponse, &str>) -> Result<(), String> {
    let response = response.map_err(str::to_owned)?;
    match response.status {
        200..=299 | 429 | 472 | 473 => Ok(()),
        501 => Err("Vault is not initialized".to_owned()),
        503 => Err("Vault is sealed".to_owned()),
        _ => Err(format!(
            "error calling Vault /v1/sys/health: {}",
            read_response(request, response)
                .err()
                .map(|e| e.to_string())
                .unwrap_or_default()
        )),
    }
}

/// The chain in a sign response, ordered as cert-manager orders it: leaf,
/// then intermediates up to (not including) a self-signed root; the CA is
/// the top of what Vault returned (`ca_chain`, then `issuing_ca`), which is
/// the root when Vault knows it.
pub fn issued(response: &Value) -> Result<Issued, VaultError> {
    let data = response.get("data").ok_or_else(|| {
        VaultError::Decode("failed to decode response returned by vault: no data".to_owned())
    })?;
    let text = |field: &str| data.get(field).and_then(Value::as_str).unwrap_or_default();
    let certificate = text("certificate");
    if certificate.trim().is_empty() {
        return Err(VaultError::Decode(
            "failed to decode response returned by vault: no certificate".to_owned(),
        ));
    }
    let mut pems: Vec<&str> = vec![certificate];
    if let Some(chain) = data.get("ca_chain").and_then(Value::as_array) {
        pems.extend(chain.iter().filter_map(Value::as_str));
    }
    pems.push(text("issuing_ca"));
    let mut certificates = Vec::new();
    for pem in pems.iter().filter(|p| !p.trim().is_empty()) {
        certificates.extend(x509::parse_chain(pem).map_err(|e| {
            VaultError::Decode(format!("failed to decode response returned by vault: {e}"))
        })?);
    }
    let (leaf, others) = certificates.split_first().ok_or_else(|| {
        VaultError::Decode("failed to decode response returned by vault: no certificate".into())
    })?;
    let bundle = PemBundle::from_chain(leaf, others).map_err(|e| {
        VaultError::Decode(format!("failed to parse certificate chain from vault: {e}"))
    })?;
    Ok(Issued {
        certificate_chain_pem: bundle.chain_pem,
        ca_pem: bundle.ca_pem,
    })
}

/// Vault's `warnings` (e.g. a TTL capped at the role's `max_ttl`).
pub fn warnings(response: &Value) -> Vec<String> {
    response
        .get("warnings")
        .and_then(Value::as_array)
        .map(|w| {
            w.iter()
                .filter_map(Value::as_str)
                .map(str::to_owned)
                .collect()
        })
        .unwrap_or_default()
}
