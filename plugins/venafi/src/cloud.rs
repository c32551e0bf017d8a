//! Venafi Cloud's REST API, as vcert's cloud connector speaks it
//! (`pkg/venafi/cloud`): request bodies and the decoding of every answer,
//! with no I/O. Paths are relative to the base URL
//! ([`crate::config::cloud_base_url`]).

use certwasm_plugin_sdk::types::{HttpMethod, HttpRequest, HttpResponse};
use serde::Deserialize;
use serde_json::{Value, json};

/// The header that carries the API key (vcert's `HeaderTpplApikey`).
pub const API_KEY_HEADER: &str = "tppl-api-key";
/// `GET`: the account behind the API key (vcert's `Authenticate`).
pub const USER_ACCOUNTS: &str = "v1/useraccounts";
/// `POST`: a certificate request.
pub const CERTIFICATE_REQUESTS: &str = "outagedetection/v1/certificaterequests";

/// Path-segment escaping (Go's `url.PathEscape`): unreserved characters
/// stay, everything else is percent-encoded.
pub fn path_escape(segment: &str) -> String {
    let mut out = String::with_capacity(segment.len());
    for byte in segment.bytes() {
        if byte.is_ascii_alphanumeric() || b"-_.~".contains(&byte) {
            out.push(char::from(byte));
        } else {
            out.push_str(&format!("%{byte:02X}"));
        }
    }
    out
}

/// `GET`: an application by name.
pub fn application_path(application: &str) -> String {
    format!(
        "outagedetection/v1/applications/name/{}",
        path_escape(application)
    )
}

/// `GET`: an issuing template by its alias in an application (vcert's
/// `urlResourceTemplate`, which names the application).
pub fn template_path(application: &str, alias: &str) -> String {
    format!(
        "outagedetection/v1/applications/{}/certificateissuingtemplates/{}",
        path_escape(application),
        path_escape(alias)
    )
}

/// `GET`: a certificate request's status.
pub fn request_status_path(request_id: &str) -> String {
    format!("{CERTIFICATE_REQUESTS}/{}", path_escape(request_id))
}

/// `GET`: an issued certificate with its chain, PEM, leaf first.
pub fn contents_path(certificate_id: &str) -> String {
    format!(
        "outagedetection/v1/certificates/{}/contents?format=PEM&chainOrder=EE_FIRST",
        path_escape(certificate_id)
    )
}

/// What went wrong talking to Venafi Cloud, in its own words.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum CloudError {
    #[error("{0}")]
    Transport(String),
    /// 401: the API key is wrong or revoked.
    #[error("{0}")]
    Unauthorized(String),
    /// The application or the template does not exist.
    #[error("{0}")]
    ZoneNotFound(String),
    /// The request ended FAILED or REJECTED.
    #[error("{0}")]
    Failed(String),
    #[error("{message}")]
    Status { status: u16, message: String },
    #[error("{0}")]
    Decode(String),
}

impl CloudError {
    /// Whether the same call later, with nothing changed, may succeed.
    pub fn retryable(&self) -> bool {
        match self {
            Self::Transport(_) => true,
            Self::Status { status, .. } => *status >= 500 || *status == 429,
            Self::Unauthorized(_) | Self::ZoneNotFound(_) | Self::Failed(_) | Self::Decode(_) => {
                false
            }
        }
    }
}

/// A request to Venafi Cloud with the API key.
pub fn request(
    method: HttpMethod,
    base_url: &str,
    path: &str,
    api_key: &str,
    body: Option<&Value>,
) -> HttpRequest {
    let mut headers = vec![
        (API_KEY_HEADER.to_owned(), api_key.to_owned()),
        ("cache-control".to_owned(), "no-cache".to_owned()),
    ];
    if body.is_some() {
        headers.push(("content-type".to_owned(), "application/json".to_owned()));
        headers.push(("accept".to_owned(), "application/json".to_owned()));
    } else {
        headers.push(("accept".to_owned(), "*/*".to_owned()));
    }
    HttpRequest {
        method,
        url: format!("{base_url}{path}"),
        headers,
        body: body.map(|b| b.to_string().into_bytes()).unwrap_or_default(),
        ca_bundle_pem: None,
        timeout_ms: Some(30_000),
    }
}

/// An ISO 8601 validity period: whole days as `P<n>D` (what vcert sends,
/// since some CAs ignore hours), else hours.
pub fn validity_period(seconds: u64) -> String {
    let hours = seconds.div_ceil(3600).max(1);
    if hours.is_multiple_of(24) {
        format!("P{}D", hours / 24)
    } else {
        format!("PT{hours}H")
    }
}

/// `POST outagedetection/v1/certificaterequests`.
pub fn request_body(
    csr_pem: &str,
    application_id: &str,
    template_id: &str,
    duration_seconds: Option<u64>,
) -> Value {
    let mut body = json!({
        "certificateSigningRequest": csr_pem,
        "applicationId": application_id,
        "certificateIssuingTemplateId": template_id,
        "apiClientInformation": {"type": "certwasm", "identifier": ""},
    });
    if let Some(seconds) = duration_seconds {
        body["validityPeriod"] = Value::String(validity_period(seconds));
    }
    body
}

#[derive(Deserialize)]
struct ErrorList {
    #[serde(default)]
    errors: Vec<ErrorItem>,
}

#[derive(Deserialize)]
struct ErrorItem {
    #[serde(default)]
    code: i64,
    #[serde(default)]
    message: String,
}

/// Venafi Cloud's words: `errors[].message` (with its code), else the body.
fn message_of(response: &HttpResponse) -> String {
    if let Ok(list) = serde_json::from_slice::<ErrorList>(&response.body)
        && !list.errors.is_empty()
    {
        return list
            .errors
            .iter()
            .map(|e| format!("{} (code {})", e.message, e.code))
            .collect::<Vec<_>>()
            .join("; ");
    }
    let text = String::from_utf8_lossy(&response.body).trim().to_owned();
    if text.is_empty() {
        format!("HTTP {}", response.status)
    } else {
        format!("HTTP {}: {text}", response.status)
    }
}

/// A non-success answer; `zone` says whether a 400/404 means the zone is
/// not there (application and template look-ups).
fn error_of(response: &HttpResponse, zone: bool) -> CloudError {
    let message = message_of(response);
    match response.status {
        401 => CloudError::Unauthorized(message),
        400 | 404 if zone => CloudError::ZoneNotFound(message),
        status => CloudError::Status { status, message },
    }
}

fn decode<T: for<'de> Deserialize<'de>>(
    response: &HttpResponse,
    what: &str,
) -> Result<T, CloudError> {
    serde_json::from_slice(&response.body)
        .map_err(|e| CloudError::Decode(format!("failed to decode the {what} response: {e}")))
}

/// The API key works (`GET v1/useraccounts` answers 200).
pub fn account(response: &HttpResponse) -> Result<(), CloudError> {
    if response.status == 200 {
        Ok(())
    } else {
        Err(error_of(response, false))
    }
}

/// An application and its templates' alias → ID map.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
pub struct Application {
    #[serde(default)]
    pub id: String,
    #[serde(default, rename = "certificateIssuingTemplateAliasIdMap")]
    pub template_ids: std::collections::BTreeMap<String, String>,
}

/// `GET applications/name/{name}`.
pub fn application(response: &HttpResponse) -> Result<Application, CloudError> {
    if response.status != 200 {
        return Err(error_of(response, true));
    }
    let application: Application = decode(response, "application")?;
    if application.id.is_empty() {
        return Err(CloudError::Decode("the application has no id".to_owned()));
    }
    Ok(application)
}

#[derive(Deserialize)]
struct Template {
    #[serde(default)]
    id: String,
}

/// `GET .../certificateissuingtemplates/{alias}`: the template's ID.
pub fn template_id(response: &HttpResponse) -> Result<String, CloudError> {
    if response.status != 200 {
        return Err(error_of(response, true));
    }
    let template: Template = decode(response, "issuing template")?;
    if template.id.is_empty() {
        return Err(CloudError::Decode("the template has no id".to_owned()));
    }
    Ok(template.id)
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct RequestList {
    #[serde(default)]
    certificate_requests: Vec<RequestStatus>,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct RequestStatus {
    #[serde(default)]
    id: String,
    #[serde(default)]
    status: String,
    #[serde(default)]
    certificate_ids: Vec<String>,
    #[serde(default)]
    error_information: Option<ErrorInformation>,
}

#[derive(Deserialize)]
struct ErrorInformation {
    #[serde(default)]
    code: i64,
    #[serde(default)]
    message: String,
}

/// The new request's ID, from the 201 of `certificaterequests`.
pub fn request_id(response: &HttpResponse) -> Result<String, CloudError> {
    if response.status != 201 {
        return Err(error_of(response, false));
    }
    let list: RequestList = decode(response, "certificate request")?;
    list.certificate_requests
        .into_iter()
        .next()
        .map(|r| r.id)
        .filter(|id| !id.is_empty())
        .ok_or_else(|| CloudError::Decode("the response has no certificate request".to_owned()))
}

/// Where a certificate request stands.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Progress {
    /// Signed: the certificate to download.
    Issued(String),
    /// Not yet; Venafi's status (`REQUESTED`, `PENDING`, ...).
    Pending(String),
}

/// `GET certificaterequests/{id}`: ISSUED with a certificate, FAILED or
/// REJECTED with Venafi's reason, anything else still pending.
pub fn progress(response: &HttpResponse) -> Result<Progress, CloudError> {
    if response.status != 200 {
        return Err(error_of(response, false));
    }
    let status: RequestStatus = decode(response, "certificate request status")?;
    match status.status.as_str() {
        "ISSUED" => status
            .certificate_ids
            .into_iter()
            .next()
            .map(Progress::Issued)
            .ok_or_else(|| {
                CloudError::Decode(format!(
                    "certificate request {} is ISSUED but names no certificate",
                    status.id
                ))
            }),
        "FAILED" | "REJECTED" => {
            let why = status
                .error_information
                .map(|e| {
                    if e.code != 0 {
                        format!("{} (code {})", e.message, e.code)
                    } else {
                        e.message
                    }
                })
                .filter(|m| !m.is_empty())
                .unwrap_or_else(|| "no reason given".to_owned());
            Err(CloudError::Failed(format!(
                "certificate request {} is {}: {why}",
                status.id, status.status
            )))
        }
        other => Ok(Progress::Pending(other.to_owned())),
    }
}

/// `GET certificates/{id}/contents`: the PEM chain.
pub fn contents(response: &HttpResponse) -> Result<String, CloudError> {
    if response.status != 200 {
        return Err(error_of(response, false));
    }
    String::from_utf8(response.body.clone())
        .map_err(|_| CloudError::Decode("the certificate is not PEM text".to_owned()))
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
    fn paths_escape_names() {
        assert_eq!(
            application_path("My App"),
            "outagedetection/v1/applications/name/My%20App"
        );
        assert_eq!(
            template_path("a/b", "Default"),
            "outagedetection/v1/applications/a%2Fb/certificateissuingtemplates/Default"
        );
        assert_eq!(
            contents_path("c1"),
            "outagedetection/v1/certificates/c1/contents?format=PEM&chainOrder=EE_FIRST"
        );
        let r = request(HttpMethod::Get, "https://api/", USER_ACCOUNTS, "k", None);
        assert_eq!(r.url, "https://api/v1/useraccounts");
        assert!(r.headers.contains(&("tppl-api-key".into(), "k".into())));
    }

    #[test]
    fn request_body_and_validity() {
        let body = request_body("CSR", "app", "tpl", Some(90 * 86400));
        assert_eq!(body["certificateSigningRequest"], "CSR");
        assert_eq!(body["applicationId"], "app");
        assert_eq!(body["certificateIssuingTemplateId"], "tpl");
        assert_eq!(body["validityPeriod"], "P90D");
        assert_eq!(validity_period(3600 * 5), "PT5H");
        assert_eq!(validity_period(10), "PT1H");
        assert!(
            request_body("c", "a", "t", None)
                .get("validityPeriod")
                .is_none()
        );
    }

    #[test]
    fn zone_lookups() {
        let app = application(&answer(
            200,
            r#"{"id":"a1","name":"x","certificateIssuingTemplateAliasIdMap":{"Default":"t1"}}"#,
        ))
        .unwrap();
        assert_eq!(app.id, "a1");
        assert_eq!(app.template_ids["Default"], "t1");
        let missing = application(&answer(
            404,
            r#"{"errors":[{"code":10051,"message":"Unable to find application"}]}"#,
        ))
        .unwrap_err();
        assert_eq!(
            missing,
            CloudError::ZoneNotFound("Unable to find application (code 10051)".into())
        );
        assert_eq!(template_id(&answer(200, r#"{"id":"t1"}"#)).unwrap(), "t1");
        let key = account(&answer(
            401,
            r#"{"errors":[{"code":10501,"message":"Invalid api key"}]}"#,
        ))
        .unwrap_err();
        assert!(matches!(key, CloudError::Unauthorized(_)));
    }

    #[test]
    fn request_progress() {
        assert_eq!(
            request_id(&answer(
                201,
                r#"{"certificateRequests":[{"id":"r1","status":"REQUESTED"}]}"#
            ))
            .unwrap(),
            "r1"
        );
        assert_eq!(
            progress(&answer(200, r#"{"id":"r1","status":"PENDING"}"#)).unwrap(),
            Progress::Pending("PENDING".into())
        );
        assert_eq!(
            progress(&answer(
                200,
                r#"{"id":"r1","status":"ISSUED","certificateIds":["c1"]}"#
            ))
            .unwrap(),
            Progress::Issued("c1".into())
        );
        let failed = progress(&answer(
            200,
            r#"{"id":"r1","status":"FAILED","errorInformation":{"code":10731,"message":"CA refused"}}"#,
        ))
        .unwrap_err();
        assert_eq!(
            failed.to_string(),
            "certificate request r1 is FAILED: CA refused (code 10731)"
        );
        assert!(!failed.retryable());
        let outage =
            request_id(&answer(500, r#"{"errors":[{"code":1,"message":"boom"}]}"#)).unwrap_err();
        assert!(outage.retryable());
        assert_eq!(outage.to_string(), "boom (code 1)");
    }
}
