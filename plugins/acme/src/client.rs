//! The ACME request layer (RFC 8555 6-7): directory, nonces, signed POSTs,
//! problem documents, and the one retry on `badNonce`.
//!
//! It does no IO itself: requests go through a [`Transport`] (the host's
//! `http.send` in the component, a native client in tests) and signatures
//! through an [`x509::Signer`](certwasm_plugin_sdk::x509::Signer) (the
//! host's `signer.sign`). So the same code runs in the component and
//! against a real Pebble in native tests.

use std::fmt;

use certwasm_plugin_sdk::types::HttpMethod;
use certwasm_plugin_sdk::x509::Signer;
use serde::{Deserialize, Serialize};

use crate::jose::{self, AccountJwk, JoseError, KeyId};

/// How many times one request is sent when the server keeps answering
/// `badNonce`. Servers reject some nonces at random (Pebble 5% by default,
/// as a test of clients); one retry would fail a whole issuance at a 50%
/// rejection rate with near certainty over its dozen requests, five make
/// that rare while still giving up on a server that rejects everything.
pub const BAD_NONCE_ATTEMPTS: u32 = 5;
/// One HTTP request the protocol wants sent.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct HttpRequest {
    pub method: HttpMethod,
    pub url: String,
    pub headers: Vec<(String, String)>,
    pub body: Vec<u8>,
}

/// The response, whatever its status.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct HttpResponse {
    pub status: u16,
    /// Names in any case; looked up case-insensitively.
    pub headers: Vec<(String, String)>,
    pub body: Vec<u8>,
}

impl HttpResponse {
    /// The first value of header `name`.
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(n, _)| n.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.as_str())
    }

    /// Every value of header `name`, in order.
    pub fn headers<'a>(&'a self, name: &'a str) -> impl Iterator<Item = &'a str> + 'a {
        self.headers
            .iter()
            .filter(move |(n, _)| n.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.as_str())
    }
}

/// Sends HTTP requests. The only way the protocol core reaches the network.
pub trait Transport {
    /// Sends `request`; an error is a transport failure (refused, TLS,
    /// timeout), worded for a user.
    fn send(&self, request: HttpRequest) -> Result<HttpResponse, String>;
}

/// An RFC 7807 problem document, as ACME servers report errors (RFC 8555
/// 6.7).
#[derive(Debug, Clone, Default, PartialEq, Eq, Deserialize)]
pub struct Problem {
    #[serde(rename = "type", default)]
    pub kind: String,
    #[serde(default)]
    pub detail: String,
    #[serde(default)]
    pub status: Option<u16>,
    #[serde(default)]
    pub subproblems: Vec<Problem>,
}

impl Problem {
    /// Whether the problem is of the ACME error type `name` (e.g.
    /// `badNonce`).
    pub fn is(&self, name: &str) -> bool {
        self.kind.strip_prefix(ACME_ERROR) == Some(name)
    }
}

const ACME_ERROR: &str = "urn:ietf:params:acme:error:";

/// Why an ACME exchange failed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum AcmeError {
    /// The request did not reach the server, or no response came back.
    Transport(String),
    /// The server answered with an error (a problem document, or a bare
    /// status when it sent none). `retry_after` is the Retry-After header
    /// in seconds, when given.
    Server {
        status: u16,
        problem: Problem,
        retry_after: Option<u64>,
    },
    /// A response this client cannot use (missing header, bad JSON).
    Protocol(String),
    /// The account key cannot sign.
    Key(JoseError),
}

impl AcmeError {
    /// Whether trying again later, unchanged, can succeed: transport
    /// failures, rate limits, server errors and stale nonces. A 4xx is the
    /// server refusing the request itself, which retrying will not change
    /// (cert-manager does not retry those either).
    pub fn retryable(&self) -> bool {
        match self {
            Self::Transport(_) => true,
            Self::Server {
                status, problem, ..
            } => {
                *status == 429
                    || *status >= 500
                    || problem.is("rateLimited")
                    || problem.is("badNonce")
            }
            Self::Protocol(_) | Self::Key(_) => false,
        }
    }

    /// Whether the server said to slow down (429 or `rateLimited`).
    pub fn rate_limited(&self) -> bool {
        matches!(self, Self::Server { status, problem, .. } if *status == 429 || problem.is("rateLimited"))
    }

    /// The server's Retry-After, in seconds.
    pub fn retry_after(&self) -> Option<u64> {
        match self {
            Self::Server { retry_after, .. } => *retry_after,
            _ => None,
        }
    }

    /// The problem, when the server sent one.
    pub fn problem(&self) -> Option<&Problem> {
        match self {
            Self::Server { problem, .. } => Some(problem),
            _ => None,
        }
    }
}

impl fmt::Display for AcmeError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Transport(why) => f.write_str(why),
            // As Go's golang.org/x/crypto/acme words it, which is what
            // cert-manager's messages carry.
            Self::Server {
                status, problem, ..
            } => {
                write!(f, "{status} {}: {}", problem.kind, problem.detail)?;
                for sub in &problem.subproblems {
                    write!(f, "; {}: {}", sub.kind, sub.detail)?;
                }
                Ok(())
            }
            Self::Protocol(why) => write!(f, "unexpected response from the ACME server: {why}"),
            Self::Key(e) => e.fmt(f),
        }
    }
}

impl std::error::Error for AcmeError {}

impl From<JoseError> for AcmeError {
    fn from(e: JoseError) -> Self {
        Self::Key(e)
    }
}

/// The directory's URLs this client uses (RFC 8555 7.1.1). Kept in the
/// order state so that later calls skip fetching it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Directory {
    pub new_nonce: String,
    pub new_account: String,
    pub new_order: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub meta: Option<DirectoryMeta>,
}

/// The directory's `meta` object, for the fields that change what a client
/// must send.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct DirectoryMeta {
    #[serde(default)]
    pub external_account_required: bool,
}

/// Seconds from a Retry-After header: delta-seconds, or an HTTP-date
/// (IMF-fixdate) relative to `now_unix`.
pub fn parse_retry_after(value: &str, now_unix: i64) -> Option<u64> {
    let value = value.trim();
    if let Ok(seconds) = value.parse::<u64>() {
        return Some(seconds);
    }
    // "Sun, 06 Nov 1994 08:49:37 GMT"
    let mut parts = value.split_whitespace().skip(1);
    let day: i64 = parts.next()?.parse().ok()?;
    let month = match parts.next()? {
        "Jan" => 1,
        "Feb" => 2,
        "Mar" => 3,
        "Apr" => 4,
        "May" => 5,
        "Jun" => 6,
        "Jul" => 7,
        "Aug" => 8,
        "Sep" => 9,
        "Oct" => 10,
        "Nov" => 11,
        "Dec" => 12,
        _ => return None,
    };
    let year: i64 = parts.next()?.parse().ok()?;
    let mut clock = parts.next()?.split(':').map(|p| p.parse::<i64>().ok());
    let (h, m, s) = (clock.next()??, clock.next()??, clock.next()??);
    // An HTTP-date's fields are small; out of range, the date is not one
    // (and the arithmetic below would overflow).
    let in_range = (1..=31).contains(&day)
        && (1..=9999).contains(&year)
        && (0..24).contains(&h)
        && (0..60).contains(&m)
        && (0..=60).contains(&s);
    if !in_range {
        return None;
    }
    let at = crate::time::days_from_civil(year, month, day) * 86_400 + h * 3600 + m * 60 + s;
    Some(u64::try_from(at.saturating_sub(now_unix)).unwrap_or(0))
}

/// Reads an ACME error response into [`AcmeError::Server`].
fn server_error(response: &HttpResponse, now_unix: i64) -> AcmeError {
    let problem = serde_json::from_slice::<Problem>(&response.body)
        .ok()
        .filter(|p| !p.kind.is_empty() || !p.detail.is_empty())
        .unwrap_or_else(|| Problem {
            kind: String::new(),
            detail: String::from_utf8_lossy(&response.body)
                .chars()
                .take(200)
                .collect(),
            status: Some(response.status),
            subproblems: Vec::new(),
        });
    AcmeError::Server {
        status: response.status,
        problem,
        retry_after: response
            .header("retry-after")
            .and_then(|v| parse_retry_after(v, now_unix)),
    }
}

/// Fetches the directory.
pub fn fetch_directory(transport: &dyn Transport, url: &str) -> Result<Directory, AcmeError> {
    let response = transport
        .send(HttpRequest {
            method: HttpMethod::Get,
            url: url.to_owned(),
            headers: Vec::new(),
            body: Vec::new(),
        })
        .map_err(AcmeError::Transport)?;
    if response.status != 200 {
        return Err(server_error(&response, 0));
    }
    serde_json::from_slice(&response.body)
        .map_err(|e| AcmeError::Protocol(format!("directory {url}: {e}")))
}

/// A signed-request session with one account key. Holds the next nonce
/// between requests.
pub struct Client<'a> {
    transport: &'a dyn Transport,
    signer: &'a dyn Signer,
    jwk: AccountJwk,
    new_nonce_url: String,
    nonce: Option<String>,
    /// The account URL, once known; requests are then signed with `kid`.
    account_url: Option<String>,
    now_unix: i64,
}

impl fmt::Debug for Client<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Client")
            .field("jwk", &self.jwk)
            .field("nonce", &self.nonce)
            .field("account_url", &self.account_url)
            .finish_non_exhaustive()
    }
}

impl<'a> Client<'a> {
    /// A session for the key `signer`; `now_unix` dates Retry-After values.
    pub fn new(
        transport: &'a dyn Transport,
        signer: &'a dyn Signer,
        new_nonce_url: &str,
        now_unix: i64,
    ) -> Result<Self, AcmeError> {
        Ok(Self {
            transport,
            signer,
            jwk: AccountJwk::from_spki(signer.public_key_der())?,
            new_nonce_url: new_nonce_url.to_owned(),
            nonce: None,
            account_url: None,
            now_unix,
        })
    }

    /// The account key's JWK.
    pub fn jwk(&self) -> &AccountJwk {
        &self.jwk
    }

    /// Uses `nonce` (e.g. one saved in the order state) for the next
    /// request; a stale one costs a `badNonce` retry, no more.
    pub fn set_nonce(&mut self, nonce: Option<String>) {
        self.nonce = nonce;
    }

    /// The unused nonce the server last gave, to save for the next call.
    pub fn take_nonce(&mut self) -> Option<String> {
        self.nonce.take()
    }

    /// Signs later requests with this account URL (`kid`).
    pub fn set_account_url(&mut self, url: &str) {
        self.account_url = Some(url.to_owned());
    }

    /// The account URL, once known.
    pub fn account_url(&self) -> Option<&str> {
        self.account_url.as_deref()
    }

    fn remember_nonce(&mut self, response: &HttpResponse) {
        if let Some(nonce) = response.header("replay-nonce") {
            self.nonce = Some(nonce.to_owned());
        }
    }

    fn fresh_nonce(&mut self) -> Result<String, AcmeError> {
        if let Some(nonce) = self.nonce.take() {
            return Ok(nonce);
        }
        let response = self
            .transport
            .send(HttpRequest {
                method: HttpMethod::Head,
                url: self.new_nonce_url.clone(),
                headers: Vec::new(),
                body: Vec::new(),
            })
            .map_err(AcmeError::Transport)?;
        if !(200..300).contains(&response.status) {
            return Err(server_error(&response, self.now_unix));
        }
        response
            .header("replay-nonce")
            .map(str::to_owned)
            .ok_or_else(|| AcmeError::Protocol("newNonce returned no Replay-Nonce header".into()))
    }

    /// A signed POST of `payload` (empty: POST-as-GET) to `url`, with the
    /// JWK instead of the account URL when `use_jwk` (newAccount). A
    /// `badNonce` rejection is retried with the nonce it carried, as RFC
    /// 8555 6.5 asks, up to [`BAD_NONCE_ATTEMPTS`] times; other errors are
    /// returned as [`AcmeError`].
    fn post_signed(
        &mut self,
        url: &str,
        payload: &[u8],
        use_jwk: bool,
        accept: Option<&str>,
    ) -> Result<HttpResponse, AcmeError> {
        let mut attempt = 0;
        loop {
            attempt += 1;
            let nonce = self.fresh_nonce()?;
            let key_id = match (&self.account_url, use_jwk) {
                (Some(kid), false) => KeyId::Kid(kid),
                _ => KeyId::Jwk,
            };
            let body = jose::sign_jws(self.signer, &self.jwk, key_id, &nonce, url, payload)?;
            let mut headers = vec![(
                "content-type".to_owned(),
                "application/jose+json".to_owned(),
            )];
            if let Some(accept) = accept {
                headers.push(("accept".to_owned(), accept.to_owned()));
            }
            let response = self
                .transport
                .send(HttpRequest {
                    method: HttpMethod::Post,
                    url: url.to_owned(),
                    headers,
                    body,
                })
                .map_err(AcmeError::Transport)?;
            self.remember_nonce(&response);
            if response.status < 400 {
                return Ok(response);
            }
            let error = server_error(&response, self.now_unix);
            let bad_nonce = error.problem().is_some_and(|p| p.is("badNonce"));
            if bad_nonce && attempt < BAD_NONCE_ATTEMPTS {
                continue;
            }
            return Err(error);
        }
    }

    /// A signed POST of a JSON payload.
    pub fn post(
        &mut self,
        url: &str,
        payload: &serde_json::Value,
    ) -> Result<HttpResponse, AcmeError> {
        self.post_signed(url, payload.to_string().as_bytes(), false, None)
    }

    /// A signed POST of a JSON payload, naming the key by its JWK.
    pub fn post_with_jwk(
        &mut self,
        url: &str,
        payload: &serde_json::Value,
    ) -> Result<HttpResponse, AcmeError> {
        self.post_signed(url, payload.to_string().as_bytes(), true, None)
    }

    /// POST-as-GET (RFC 8555 6.3), optionally with an Accept header.
    pub fn post_as_get(
        &mut self,
        url: &str,
        accept: Option<&str>,
    ) -> Result<HttpResponse, AcmeError> {
        self.post_signed(url, b"", false, accept)
    }
}

/// Parses a JSON response body as `T`.
pub fn json<T: serde::de::DeserializeOwned>(
    response: &HttpResponse,
    what: &str,
) -> Result<T, AcmeError> {
    serde_json::from_slice(&response.body).map_err(|e| AcmeError::Protocol(format!("{what}: {e}")))
}

/// The `Link` URLs with relation `rel` (RFC 8288), e.g. the `alternate`
/// certificate chains of RFC 8555 7.4.2.
pub fn links(response: &HttpResponse, rel: &str) -> Vec<String> {
    let mut urls = Vec::new();
    for header in response.headers("link") {
        // Commas may join several links in one header; URLs are in <...>.
        let mut rest = header;
        while let Some(start) = rest.find('<') {
            let Some(end) = rest[start..].find('>') else {
                break;
            };
            let url = &rest[start + 1..start + end];
            let after = &rest[start + end + 1..];
            let params_end = after.find('<').unwrap_or(after.len());
            let params = &after[..params_end];
            let matches = params.split(';').any(|param| {
                let mut kv = param.splitn(2, '=');
                let key = kv.next().unwrap_or("").trim();
                let value = kv
                    .next()
                    .unwrap_or("")
                    .trim()
                    .trim_end_matches(',')
                    .trim()
                    .trim_matches('"');
                key.eq_ignore_ascii_case("rel")
                    && value
                        .split_whitespace()
                        .any(|r| r.eq_ignore_ascii_case(rel))
            });
            if matches {
                urls.push(url.to_owned());
            }
            rest = &after[params_end..];
        }
    }
    urls
}

#[cfg(test)]
mod tests {
    use std::cell::RefCell;
    use std::collections::VecDeque;

    use super::*;

    /// A transport that answers from a script and records what was sent.
    #[derive(Default)]
    pub(crate) struct Script {
        pub responses: RefCell<VecDeque<HttpResponse>>,
        pub sent: RefCell<Vec<HttpRequest>>,
    }

    impl Transport for Script {
        fn send(&self, request: HttpRequest) -> Result<HttpResponse, String> {
            self.sent.borrow_mut().push(request);
            self.responses
                .borrow_mut()
                .pop_front()
                .ok_or_else(|| "connection refused".to_owned())
        }
    }

    fn response(status: u16, headers: &[(&str, &str)], body: &str) -> HttpResponse {
        HttpResponse {
            status,
            headers: headers
                .iter()
                .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
                .collect(),
            body: body.as_bytes().to_vec(),
        }
    }

    #[test]
    fn problems_map_to_errors_with_the_servers_detail() {
        let body = r#"{"type":"urn:ietf:params:acme:error:rejectedIdentifier","detail":"Error creating new order :: policy forbids issuing for \"bad.example\"","status":400}"#;
        let error = server_error(
            &response(400, &[("Content-Type", "application/problem+json")], body),
            0,
        );
        assert_eq!(
            error.to_string(),
            "400 urn:ietf:params:acme:error:rejectedIdentifier: Error creating new order :: policy forbids issuing for \"bad.example\""
        );
        assert!(!error.retryable());
        let limited = server_error(
            &response(
                429,
                &[("Retry-After", "120")],
                r#"{"type":"urn:ietf:params:acme:error:rateLimited","detail":"too many"}"#,
            ),
            0,
        );
        assert!(limited.retryable() && limited.rate_limited());
        assert_eq!(limited.retry_after(), Some(120));
        let down = server_error(&response(503, &[], "<html>down</html>"), 0);
        assert!(down.retryable());
        assert_eq!(down.to_string(), "503 : <html>down</html>");
    }

    #[test]
    fn retry_after_takes_seconds_or_an_http_date() {
        assert_eq!(parse_retry_after(" 30 ", 0), Some(30));
        // 1994-11-06T08:49:37Z is 784111777.
        assert_eq!(
            parse_retry_after("Sun, 06 Nov 1994 08:49:37 GMT", 784_111_700),
            Some(77)
        );
        assert_eq!(
            parse_retry_after("Sun, 06 Nov 1994 08:49:37 GMT", 784_111_800),
            Some(0)
        );
        assert_eq!(parse_retry_after("soon", 0), None);
    }

    #[test]
    fn link_headers_yield_alternate_urls() {
        let r = response(
            200,
            &[
                ("Link", r#"<https://ca/dir>;rel="index""#),
                (
                    "link",
                    r#"<https://ca/cert/1/1>;rel="alternate", <https://ca/cert/1/2>; rel=alternate"#,
                ),
            ],
            "",
        );
        assert_eq!(
            links(&r, "alternate"),
            vec!["https://ca/cert/1/1", "https://ca/cert/1/2"]
        );
        assert_eq!(links(&r, "index"), vec!["https://ca/dir"]);
    }

    #[test]
    fn bad_nonce_is_retried_with_the_new_nonce_until_the_attempts_run_out() {
        let key = certwasm_plugin_sdk::testing::OpensslKey::generate(
            certwasm_plugin_sdk::testing::KeyKind::EcdsaP256,
        );
        let bad = r#"{"type":"urn:ietf:params:acme:error:badNonce","detail":"JWS has an invalid anti-replay nonce"}"#;
        let script = Script::default();
        script.responses.borrow_mut().extend([
            response(200, &[("Replay-Nonce", "n1")], ""),
            response(400, &[("Replay-Nonce", "n2")], bad),
            response(200, &[("Replay-Nonce", "n3")], "{}"),
        ]);
        let mut client = Client::new(&script, &key, "https://ca/nonce", 0).unwrap();
        client.set_account_url("https://ca/acct/1");
        client.post_as_get("https://ca/order/1", None).unwrap();
        let sent = script.sent.borrow();
        assert_eq!(sent.len(), 3);
        assert_eq!(sent[0].method, HttpMethod::Head);
        let nonce_of = |request: &HttpRequest| {
            let jws: serde_json::Value = serde_json::from_slice(&request.body).unwrap();
            let protected: serde_json::Value = serde_json::from_slice(
                &jose::b64_decode(jws["protected"].as_str().unwrap()).unwrap(),
            )
            .unwrap();
            protected["nonce"].as_str().unwrap().to_owned()
        };
        assert_eq!(nonce_of(&sent[1]), "n1");
        assert_eq!(nonce_of(&sent[2]), "n2");
        drop(sent);
        assert_eq!(client.take_nonce().as_deref(), Some("n3"));

        // Every attempt rejected: the last badNonce is returned.
        script.responses.borrow_mut().extend(
            (0..BAD_NONCE_ATTEMPTS)
                .map(|n| response(400, &[("Replay-Nonce", &format!("r{n}"))], bad)),
        );
        client.set_nonce(Some("stale".into()));
        let error = client.post_as_get("https://ca/order/1", None).unwrap_err();
        assert!(error.problem().unwrap().is("badNonce") && error.retryable());
    }
}
