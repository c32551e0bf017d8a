//! CFSSL's HTTP API as this plugin uses it, as pure functions: the three
//! endpoints, their JSON bodies, and the reading of CFSSL's response
//! envelope (`{"success", "result", "errors": [{"code", "message"}]}`,
//! `api/api.go`). Nothing here calls the host.

use certwasm_plugin_sdk::types::{HttpMethod, HttpRequest, HttpResponse};
use serde::Deserialize;
use serde::de::DeserializeOwned;

/// `info`: the signer's certificate (`api/info`).
pub const INFO_PATH: &str = "/api/v1/cfssl/info";
/// `sign`: a CSR signed under a profile without an auth key.
pub const SIGN_PATH: &str = "/api/v1/cfssl/sign";
/// `authsign`: the same, wrapped in an HMAC token (`api/signhandler`).
pub const AUTHSIGN_PATH: &str = "/api/v1/cfssl/authsign";
/// Longest part of a body that is not CFSSL's JSON quoted in a message.
const MAX_QUOTED_BODY: usize = 256;

/// Where requests go.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Endpoint {
    /// The base URL without a trailing slash.
    pub url: String,
    /// Extra roots for CFSSL's TLS certificate, PEM.
    pub ca_bundle_pem: Option<String>,
}

impl Endpoint {
    /// A JSON `POST` to `path`, as every CFSSL endpoint takes.
    pub fn post(&self, path: &str, body: Vec<u8>) -> HttpRequest {
        HttpRequest {
            method: HttpMethod::Post,
            url: format!("{}{path}", self.url),
            headers: vec![("Content-Type".to_owned(), "application/json".to_owned())],
            body,
            ca_bundle_pem: self.ca_bundle_pem.clone(),
            timeout_ms: None,
        }
    }
}

/// `info`'s request (`info.Req`); empty fields mean CFSSL's defaults.
pub fn info_body(label: &str, profile: &str) -> Vec<u8> {
    serde_json::json!({"label": label, "profile": profile})
        .to_string()
        .into_bytes()
}

/// The JSON of a sign request (`signhandler.jsonSignRequest`): the body of
/// `sign`, and the bytes the token of `authsign` covers. `hosts` replaces
/// the certificate's SANs in CFSSL, so it is left out when the CSR names
/// nothing and CFSSL keeps what the CSR has.
pub fn sign_request(csr_pem: &str, hosts: &[String], profile: &str, label: &str) -> Vec<u8> {
    let mut body = serde_json::json!({
        "certificate_request": csr_pem,
        "profile": profile,
        "label": label,
    });
    if !hosts.is_empty() {
        body["hosts"] = serde_json::json!(hosts);
    }
    body.to_string().into_bytes()
}

/// One entry of CFSSL's `errors` (`api.ResponseMessage`).
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
pub struct ResponseMessage {
    #[serde(default)]
    pub code: i64,
    #[serde(default)]
    pub message: String,
}

/// `info`'s result (`info.Resp`).
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
pub struct InfoResult {
    /// The signer's certificate, PEM.
    pub certificate: String,
    #[serde(default)]
    pub usages: Vec<String>,
    #[serde(default)]
    pub expiry: String,
}

/// `sign`'s and `authsign`'s result.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
pub struct SignResult {
    /// The signed certificate, PEM (the leaf alone).
    pub certificate: String,
}

#[derive(Debug, Deserialize)]
struct Envelope<T> {
    #[serde(default)]
    success: bool,
    result: Option<T>,
    #[serde(default)]
    errors: Vec<ResponseMessage>,
}

/// Why a call to CFSSL gave no result.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum CfsslError {
    /// The request never got an answer (refused, timed out, TLS, or the
    /// host's egress rules), as the host worded it.
    #[error("{0}")]
    Transport(String),
    /// CFSSL answered with its error envelope.
    #[error("{}", refusal(.status, .errors))]
    Refused {
        status: u16,
        errors: Vec<ResponseMessage>,
    },
    /// Something answered, but not with CFSSL's JSON (a proxy, another
    /// server on the port).
    #[error("HTTP {status} with a body that is not CFSSL's JSON: {body:?}")]
    Unreadable { status: u16, body: String },
}

fn refusal(status: &u16, errors: &[ResponseMessage]) -> String {
    if errors.is_empty() {
        return format!("HTTP {status} without an error message");
    }
    errors
        .iter()
        .map(|e| format!("{} (CFSSL error code {}, HTTP {status})", e.message, e.code))
        .collect::<Vec<_>>()
        .join("; ")
}

impl CfsslError {
    /// Whether calling again with nothing changed can succeed: a server
    /// that was unreachable or failed (5xx), or asked for patience (408,
    /// 429). Any other answer is CFSSL refusing this request for good.
    pub fn retryable(&self) -> bool {
        match self {
            Self::Transport(_) => true,
            Self::Refused { status, .. } | Self::Unreadable { status, .. } => {
                *status >= 500 || *status == 408 || *status == 429
            }
        }
    }

    /// CFSSL's own messages, for callers that show them alone.
    pub fn messages(&self) -> Vec<&str> {
        match self {
            Self::Refused { errors, .. } => errors.iter().map(|e| e.message.as_str()).collect(),
            _ => Vec::new(),
        }
    }
}

/// The `result` of a successful answer, or why there is none. CFSSL sends
/// its envelope with every status (errors as `text/plain`, from Go's
/// `http.Error`), so the body is read whatever the content type.
pub fn read_result<T: DeserializeOwned>(response: &HttpResponse) -> Result<T, CfsslError> {
    let unreadable = || CfsslError::Unreadable {
        status: response.status,
        body: quote(&response.body),
    };
    let envelope: Envelope<T> = serde_json::from_slice(&response.body).map_err(|_| unreadable())?;
    let ok = (200..300).contains(&response.status);
    match envelope.result {
        Some(result) if ok && envelope.success => Ok(result),
        _ if !ok || !envelope.success => Err(CfsslError::Refused {
            status: response.status,
            errors: envelope.errors,
        }),
        _ => Err(unreadable()),
    }
}

fn quote(body: &[u8]) -> String {
    let text = String::from_utf8_lossy(body);
    let text = text.trim();
    let mut end = text.len().min(MAX_QUOTED_BODY);
    while !text.is_char_boundary(end) {
        end -= 1;
    }
    text[..end].to_owned()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn response(status: u16, body: &str) -> HttpResponse {
        HttpResponse {
            status,
            headers: Vec::new(),
            body: body.as_bytes().to_vec(),
        }
    }

    #[test]
    fn requests_are_json_posts_to_cfssl_paths() {
        let endpoint = Endpoint {
            url: "https://cfssl.test:8888".into(),
            ca_bundle_pem: Some("PEM".into()),
        };
        let request = endpoint.post(INFO_PATH, info_body("primary", "server"));
        assert_eq!(request.method, HttpMethod::Post);
        assert_eq!(request.url, "https://cfssl.test:8888/api/v1/cfssl/info");
        assert_eq!(request.ca_bundle_pem.as_deref(), Some("PEM"));
        let body: serde_json::Value = serde_json::from_slice(&request.body).unwrap();
        assert_eq!(
            body,
            serde_json::json!({"label": "primary", "profile": "server"})
        );
    }

    #[test]
    fn sign_requests_carry_hosts_only_when_there_are_some() {
        let hosts = vec!["example.com".to_owned(), "10.0.0.1".to_owned()];
        let body: serde_json::Value =
            serde_json::from_slice(&sign_request("CSR", &hosts, "server", "")).unwrap();
        assert_eq!(
            body,
            serde_json::json!({"certificate_request": "CSR", "hosts": hosts, "profile": "server", "label": ""})
        );
        let body: serde_json::Value =
            serde_json::from_slice(&sign_request("CSR", &[], "", "")).unwrap();
        assert!(body.get("hosts").is_none(), "{body}");
    }

    #[test]
    fn a_success_gives_its_result() {
        let result: SignResult = read_result(&response(
            200,
            r#"{"success":true,"result":{"certificate":"PEM"},"errors":[],"messages":[]}"#,
        ))
        .unwrap();
        assert_eq!(result.certificate, "PEM");
    }

    #[test]
    fn cfssl_errors_keep_their_message_and_code() {
        let error = read_result::<SignResult>(&response(
            400,
            r#"{"success":false,"result":null,"errors":[{"code":400,"message":"invalid token"}],"messages":[]}"#,
        ))
        .unwrap_err();
        assert_eq!(error.messages(), ["invalid token"]);
        assert_eq!(
            error.to_string(),
            "invalid token (CFSSL error code 400, HTTP 400)"
        );
        assert!(!error.retryable());
        let server = read_result::<SignResult>(&response(
            500,
            r#"{"success":false,"errors":[{"code":2000,"message":"signing failed"}]}"#,
        ))
        .unwrap_err();
        assert!(server.retryable(), "{server}");
        let empty = read_result::<SignResult>(&response(503, r#"{"success":false}"#)).unwrap_err();
        assert_eq!(empty.to_string(), "HTTP 503 without an error message");
        assert!(empty.retryable());
    }

    #[test]
    fn bodies_that_are_not_cfssl_json_are_quoted() {
        let error = read_result::<SignResult>(&response(404, "404 page not found\n")).unwrap_err();
        assert_eq!(
            error,
            CfsslError::Unreadable {
                status: 404,
                body: "404 page not found".into()
            }
        );
        assert!(!error.retryable());
        let gateway = read_result::<SignResult>(&response(502, &"x".repeat(1000))).unwrap_err();
        assert!(gateway.retryable());
        assert!(gateway.to_string().len() < 400, "{gateway}");
        let missing = read_result::<SignResult>(&response(200, r#"{"success":true}"#)).unwrap_err();
        assert!(matches!(
            missing,
            CfsslError::Unreadable { status: 200, .. }
        ));
        assert!(CfsslError::Transport("connection refused".into()).retryable());
    }
}
