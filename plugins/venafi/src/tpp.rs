//! Venafi Trust Protection Platform's WebSDK, as vcert's TPP connector
//! speaks it (`pkg/venafi/tpp`): request bodies and the decoding of every
//! answer, with no I/O. Paths are relative to the base URL
//! ([`crate::config::tpp_base_url`]).

use base64::Engine as _;
use certwasm_plugin_sdk::types::{HttpMethod, HttpRequest, HttpResponse};
use serde::Deserialize;
use serde_json::{Value, json};

use crate::config::CustomField;

/// WebSDK paths (vcert's `urlResource...`).
pub const PING: &str = "vedsdk/";
pub const AUTHORIZE_OAUTH: &str = "vedauth/authorize/oauth";
pub const AUTHORIZE_VERIFY: &str = "vedauth/authorize/verify";
pub const CHECK_POLICY: &str = "vedsdk/certificates/checkpolicy";
pub const REQUEST: &str = "vedsdk/certificates/request";
pub const RETRIEVE: &str = "vedsdk/certificates/retrieve";

/// The OAuth client cert-manager registers as, and the scope it asks for.
pub const CLIENT_ID: &str = "cert-manager.io";
pub const SCOPE: &str = "certificate:manage";
/// What TPP records as the requesting application (`Origin`).
pub const ORIGIN: &str = "certwasm";

/// What went wrong talking to TPP, in TPP's own words where it gave some.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum TppError {
    /// The request never got an answer (refused, timed out, TLS).
    #[error("{0}")]
    Transport(String),
    /// 401: the token is unknown, expired or revoked.
    #[error("{0}")]
    Unauthorized(String),
    /// The zone's policy folder does not exist.
    #[error("{0}")]
    ZoneNotFound(String),
    /// Another status TPP answered with; 5xx are worth retrying.
    #[error("{message}")]
    Status { status: u16, message: String },
    /// A 200 whose body is not what vcert expects.
    #[error("{0}")]
    Decode(String),
}

impl TppError {
    /// Whether the same call later, with nothing changed, may succeed.
    pub fn retryable(&self) -> bool {
        match self {
            Self::Transport(_) => true,
            Self::Status { status, .. } => *status >= 500 || *status == 429,
            Self::Unauthorized(_) | Self::ZoneNotFound(_) | Self::Decode(_) => false,
        }
    }
}

/// A JSON request to TPP, with a bearer token when there is one.
pub fn request(
    method: HttpMethod,
    base_url: &str,
    path: &str,
    token: Option<&str>,
    body: Option<&Value>,
    ca_bundle_pem: Option<&str>,
) -> HttpRequest {
    let mut headers = vec![
        ("content-type".to_owned(), "application/json".to_owned()),
        ("cache-control".to_owned(), "no-cache".to_owned()),
    ];
    if let Some(token) = token {
        headers.push(("authorization".to_owned(), format!("Bearer {token}")));
    }
    HttpRequest {
        method,
        url: format!("{base_url}{path}"),
        headers,
        body: body.map(|b| b.to_string().into_bytes()).unwrap_or_default(),
        ca_bundle_pem: ca_bundle_pem.map(str::to_owned),
        timeout_ms: Some(30_000),
    }
}

/// `POST vedauth/authorize/oauth`.
pub fn oauth_body(username: &str, password: &str) -> Value {
    json!({
        "client_id": CLIENT_ID,
        "username": username,
        "password": password,
        "scope": SCOPE,
    })
}

/// `POST vedsdk/certificates/checkpolicy`.
pub fn check_policy_body(policy_dn: &str) -> Value {
    json!({ "PolicyDN": policy_dn })
}

/// `POST vedsdk/certificates/request` for a CSR the user provides (vcert's
/// `prepareRequest` with `UserProvidedCSR`): plain custom fields grouped
/// by name, renewal left to cert-manager.
pub fn request_body(
    policy_dn: &str,
    object_name: &str,
    csr_pem: &str,
    custom_fields: &[CustomField],
) -> Value {
    let mut grouped: Vec<(String, Vec<String>)> = Vec::new();
    for field in custom_fields {
        match grouped.iter_mut().find(|(name, _)| *name == field.name) {
            Some((_, values)) => values.push(field.value.clone()),
            None => grouped.push((field.name.clone(), vec![field.value.clone()])),
        }
    }
    let mut body = json!({
        "PolicyDN": policy_dn,
        "ObjectName": object_name,
        "PKCS10": csr_pem,
        "CertificateType": "AUTO",
        "DisableAutomaticRenewal": true,
        "CASpecificAttributes": [{"Name": "Origin", "Value": ORIGIN}],
        "Origin": ORIGIN,
    });
    if !grouped.is_empty() {
        body["CustomFields"] = grouped
            .into_iter()
            .map(|(name, values)| json!({"Name": name, "Values": values}))
            .collect();
    }
    body
}

/// `POST vedsdk/certificates/retrieve`: base64 PEM, chain leaf first.
pub fn retrieve_body(certificate_dn: &str) -> Value {
    json!({
        "CertificateDN": certificate_dn,
        "Format": "base64",
        "IncludeChain": true,
        "RootFirstOrder": false,
    })
}

/// TPP's words in an error body: WebSDK's `Error`, OAuth's
/// `error_description` (with `error`), or the body itself.
fn message_of(response: &HttpResponse) -> String {
    let text = String::from_utf8_lossy(&response.body).trim().to_owned();
    if let Ok(value) = serde_json::from_str::<Value>(&text) {
        let field = |name: &str| {
            value
                .get(name)
                .and_then(Value::as_str)
                .filter(|s| !s.is_empty())
        };
        if let Some(error) = field("Error") {
            return error.to_owned();
        }
        if let Some(details) = field("ErrorDetails") {
            return details.to_owned();
        }
        match (field("error"), field("error_description")) {
            (Some(code), Some(description)) => return format!("{description} ({code})"),
            (None, Some(description)) | (Some(description), None) => {
                return description.to_owned();
            }
            (None, None) => {}
        }
    }
    if text.is_empty() {
        format!("HTTP {}", response.status)
    } else {
        format!("HTTP {}: {text}", response.status)
    }
}

/// A non-success answer as an error.
fn error_of(response: &HttpResponse) -> TppError {
    let message = message_of(response);
    match response.status {
        401 => TppError::Unauthorized(message),
        400 if message.contains("PolicyDN: ") && message.contains("does not exist") => {
            TppError::ZoneNotFound(message)
        }
        status => TppError::Status { status, message },
    }
}

fn decode<T: for<'de> Deserialize<'de>>(
    response: &HttpResponse,
    what: &str,
) -> Result<T, TppError> {
    serde_json::from_slice(&response.body)
        .map_err(|e| TppError::Decode(format!("failed to decode the {what} response: {e}")))
}

/// GET `vedsdk/` answers 200 when the WebSDK is up.
pub fn ping(response: &HttpResponse) -> Result<(), TppError> {
    if response.status == 200 {
        Ok(())
    } else {
        Err(error_of(response))
    }
}

/// An OAuth access token and how long to keep it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Token {
    pub access_token: String,
    /// Seconds the token stays valid, from `expires_in` or `expires`.
    pub lifetime_seconds: Option<i64>,
}

#[derive(Deserialize)]
struct OauthResponse {
    #[serde(default)]
    access_token: String,
    #[serde(default)]
    expires: Option<i64>,
    #[serde(default)]
    expires_in: Option<i64>,
}

/// The answer to `vedauth/authorize/oauth`; `now` (Unix seconds) turns an
/// absolute `expires` into a lifetime.
pub fn token(response: &HttpResponse, now: i64) -> Result<Token, TppError> {
    if response.status != 200 {
        return Err(error_of(response));
    }
    let answer: OauthResponse = decode(response, "authorize")?;
    if answer.access_token.is_empty() {
        return Err(TppError::Decode(
            "the authorize response has no access_token".to_owned(),
        ));
    }
    let lifetime_seconds = answer
        .expires_in
        .filter(|s| *s > 0)
        .or_else(|| answer.expires.map(|at| at - now).filter(|s| *s > 0));
    Ok(Token {
        access_token: answer.access_token,
        lifetime_seconds,
    })
}

/// `vedauth/authorize/verify` answers 200 for a valid token.
pub fn verified(response: &HttpResponse) -> Result<(), TppError> {
    if response.status == 200 {
        Ok(())
    } else {
        Err(error_of(response))
    }
}

/// `checkpolicy` answers 200 with `Error` empty when the zone exists.
pub fn policy(response: &HttpResponse) -> Result<(), TppError> {
    if response.status != 200 {
        return Err(error_of(response));
    }
    let value: Value = decode(response, "checkpolicy")?;
    match value.get("Error").and_then(Value::as_str) {
        Some(error) if !error.is_empty() => Err(TppError::ZoneNotFound(error.to_owned())),
        _ => Ok(()),
    }
}

#[derive(Deserialize)]
#[serde(rename_all = "PascalCase")]
struct RequestResponse {
    #[serde(default, rename = "CertificateDN")]
    certificate_dn: String,
    #[serde(default)]
    error: String,
}

/// The pickup ID (the certificate's DN) from `certificates/request`.
pub fn pickup_id(response: &HttpResponse) -> Result<String, TppError> {
    if !matches!(response.status, 200 | 201) {
        return Err(error_of(response));
    }
    let answer: RequestResponse = decode(response, "request")?;
    if !answer.error.is_empty() {
        return Err(TppError::Status {
            status: response.status,
            message: answer.error,
        });
    }
    if answer.certificate_dn.is_empty() {
        return Err(TppError::Decode(
            "the request response has no CertificateDN".to_owned(),
        ));
    }
    Ok(answer.certificate_dn)
}

/// What `certificates/retrieve` said.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Retrieved {
    /// The chain, PEM, leaf first.
    Issued(String),
    /// Still being processed; TPP's status text (`Status`, with `Stage`).
    Pending(String),
}

#[derive(Deserialize)]
#[serde(rename_all = "PascalCase")]
struct RetrieveResponse {
    #[serde(default)]
    certificate_data: String,
    #[serde(default)]
    status: String,
    #[serde(default)]
    stage: Option<i64>,
}

/// Decodes `certificates/retrieve` as vcert does: 200 or 202 with
/// `CertificateData` is the certificate, without it is still pending.
pub fn retrieved(response: &HttpResponse) -> Result<Retrieved, TppError> {
    if !matches!(response.status, 200 | 202) {
        return Err(error_of(response));
    }
    let answer: RetrieveResponse = decode(response, "retrieve")?;
    if answer.certificate_data.is_empty() {
        let status = match (answer.status.as_str(), answer.stage) {
            ("", None) => "the certificate is being processed".to_owned(),
            ("", Some(stage)) => format!("stage {stage}"),
            (status, None) => status.to_owned(),
            (status, Some(stage)) => format!("{status} (stage {stage})"),
        };
        return Ok(Retrieved::Pending(status));
    }
    let bytes = base64::engine::general_purpose::STANDARD
        .decode(answer.certificate_data.trim())
        .map_err(|e| TppError::Decode(format!("CertificateData is not base64: {e}")))?;
    let pem = String::from_utf8(bytes)
        .map_err(|_| TppError::Decode("CertificateData is not PEM text".to_owned()))?;
    Ok(Retrieved::Issued(pem))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn answer(status: u16, body: &str) -> HttpResponse {
        HttpResponse {
            status,
            headers: vec![],
            body: body.as_bytes().to_vec(),
        }
    }

    #[test]
    fn request_body_has_vcerts_fields() {
        let fields = [
            CustomField {
                name: "Env".into(),
                value: "prod".into(),
                kind: String::new(),
            },
            CustomField {
                name: "Env".into(),
                value: "eu".into(),
                kind: "Plain".into(),
            },
        ];
        let body = request_body("\\VED\\Policy\\z", "www.example.com", "CSR", &fields);
        assert_eq!(body["PolicyDN"], "\\VED\\Policy\\z");
        assert_eq!(body["ObjectName"], "www.example.com");
        assert_eq!(body["PKCS10"], "CSR");
        assert_eq!(body["DisableAutomaticRenewal"], true);
        assert_eq!(
            body["CustomFields"],
            json!([{"Name": "Env", "Values": ["prod", "eu"]}])
        );
        assert!(
            request_body("p", "o", "c", &[])
                .get("CustomFields")
                .is_none()
        );
        let retrieve = retrieve_body("\\VED\\Policy\\z\\www");
        assert_eq!(retrieve["Format"], "base64");
        assert_eq!(retrieve["IncludeChain"], true);
        assert_eq!(retrieve["RootFirstOrder"], false);
        let oauth = oauth_body("u", "p");
        assert_eq!(oauth["client_id"], "cert-manager.io");
        assert_eq!(oauth["scope"], "certificate:manage");
    }

    #[test]
    fn requests_carry_the_token_and_bundle() {
        let r = request(
            HttpMethod::Post,
            "https://t/",
            REQUEST,
            Some("tok"),
            Some(&json!({})),
            Some("PEM"),
        );
        assert_eq!(r.url, "https://t/vedsdk/certificates/request");
        assert!(
            r.headers
                .contains(&("authorization".into(), "Bearer tok".into()))
        );
        assert_eq!(r.ca_bundle_pem.as_deref(), Some("PEM"));
        assert_eq!(r.body, b"{}");
    }

    #[test]
    fn tokens_and_their_lifetimes() {
        let t = token(&answer(200, r#"{"access_token":"a","expires":1100}"#), 1000).unwrap();
        assert_eq!(t.access_token, "a");
        assert_eq!(t.lifetime_seconds, Some(100));
        let t = token(
            &answer(200, r#"{"access_token":"a","expires_in":60}"#),
            1000,
        )
        .unwrap();
        assert_eq!(t.lifetime_seconds, Some(60));
        let refused = token(
            &answer(
                400,
                r#"{"error":"invalid_grant","error_description":"Username/password combination not valid"}"#,
            ),
            0,
        )
        .unwrap_err();
        assert_eq!(
            refused.to_string(),
            "Username/password combination not valid (invalid_grant)"
        );
        assert!(!refused.retryable());
        assert!(token(&answer(200, r#"{"expires":1}"#), 0).is_err());
    }

    #[test]
    fn pickup_ids_and_zone_errors() {
        assert_eq!(
            pickup_id(&answer(
                200,
                r#"{"CertificateDN":"\\VED\\Policy\\z\\w","Guid":"{1}"}"#
            ))
            .unwrap(),
            "\\VED\\Policy\\z\\w"
        );
        let zone = pickup_id(&answer(
            400,
            r#"{"Error":"PolicyDN: \\VED\\Policy\\nope does not exist"}"#,
        ))
        .unwrap_err();
        assert!(matches!(zone, TppError::ZoneNotFound(_)), "{zone:?}");
        assert_eq!(
            zone.to_string(),
            "PolicyDN: \\VED\\Policy\\nope does not exist"
        );
        let outage = pickup_id(&answer(500, r#"{"Error":"database down"}"#)).unwrap_err();
        assert!(outage.retryable());
        assert_eq!(outage.to_string(), "database down");
        let unauthorized = pickup_id(&answer(401, "")).unwrap_err();
        assert_eq!(unauthorized, TppError::Unauthorized("HTTP 401".into()));
        assert!(policy(&answer(200, r#"{"Error":null,"Policy":{}}"#)).is_ok());
        assert!(matches!(
            policy(&answer(200, r#"{"Error":"PolicyDN: x does not exist"}"#)),
            Err(TppError::ZoneNotFound(_))
        ));
    }

    #[test]
    fn retrieve_pending_then_issued() {
        assert_eq!(
            retrieved(&answer(202, r#"{"Stage":500,"Status":"Post CSR"}"#)).unwrap(),
            Retrieved::Pending("Post CSR (stage 500)".into())
        );
        assert_eq!(
            retrieved(&answer(200, r#"{}"#)).unwrap(),
            Retrieved::Pending("the certificate is being processed".into())
        );
        let data =
            base64::engine::general_purpose::STANDARD.encode("-----BEGIN CERTIFICATE-----\n");
        assert_eq!(
            retrieved(&answer(200, &format!(r#"{{"CertificateData":"{data}"}}"#))).unwrap(),
            Retrieved::Issued("-----BEGIN CERTIFICATE-----\n".into())
        );
        assert!(matches!(
            retrieved(&answer(200, r#"{"CertificateData":"!!"}"#)),
            Err(TppError::Decode(_))
        ));
        let gone =
            retrieved(&answer(400, r#"{"Error":"Certificate does not exist"}"#)).unwrap_err();
        assert!(!gone.retryable());
    }
}
