//! The HTTP shell: authenticate, parse the path and query, call the verb,
//! encode the answer (JSON, a Table for `kubectl get`, or a watch stream).
//! Decisions live in the modules it calls; this file only moves data.

use std::collections::BTreeMap;
use std::convert::Infallible;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use axum::body::{Body, Bytes};
use axum::extract::{Request, State};
use axum::http::{HeaderMap, HeaderValue, Method, StatusCode, header};
use axum::response::{IntoResponse, Response};
use base64::Engine;
use serde_json::{Value, json};

use super::admission::FieldValidation;
use super::discovery;
use super::object;
use super::patch;
use super::resource::{Registry, ResourceType};
use super::route::{self, Route, Target};
use super::selector::{FieldSelector, LabelSelector};
use super::status::StatusError;
use super::store::{Store, WriteOp};
use super::table;
use super::watch::Change;
use super::writes::{self, DeleteOptions, Propagation, Subresource, UpdateMode, WriteContext};
use crate::api::defaults::UserInfo;

mod list;
mod objects;
mod watch;

use list::*;
use objects::*;
use watch::*;

/// Largest request body accepted: kube-apiserver's `maxRequestBodyBytes`
/// (3 MiB), so a manifest that one accepts, this accepts, and a larger body
/// is refused with the same 413 before it is buffered.
pub const MAX_BODY: usize = 3 * 1024 * 1024;
/// How much of a refused body is still read and thrown away, after the
/// 413 is sent, before the connection is closed. A client that writes its
/// whole body before reading the answer (curl, many HTTP/1.1 clients)
/// would otherwise have its connection reset under it and never see the
/// status (the kernel discards unread data on a reset). Go's server lingers
/// the same way; past this budget the connection is simply dropped.
pub const REFUSED_BODY_DRAIN: usize = 64 * 1024 * 1024;
/// How long the drain of a refused body may take (see [`REFUSED_BODY_DRAIN`]).
pub const REFUSED_BODY_DRAIN_TIME: Duration = Duration::from_secs(10);
/// How long reading a request body may take: kube-apiserver's default
/// `--request-timeout` (1 minute) for a request that is not a watch. A
/// client trickling its body would otherwise hold its task and buffer for
/// ever.
pub const BODY_READ_TIMEOUT: Duration = Duration::from_secs(60);
/// How long a watch lasts when the client does not say.
const DEFAULT_WATCH_TIMEOUT: Duration = Duration::from_secs(30 * 60);
/// The longest watch a client may ask for with `timeoutSeconds`: a larger
/// value is clamped (a week), so an absurd one (`u64::MAX`) cannot overflow
/// the deadline.
const MAX_WATCH_TIMEOUT: Duration = Duration::from_secs(7 * 24 * 60 * 60);
/// How long a watch or list from a resourceVersion the store has not reached
/// waits for it before answering 504 (kube-apiserver's watch cache
/// `blockTimeout`).
pub const FUTURE_VERSION_WAIT: Duration = Duration::from_secs(3);
/// How often a watch that allows bookmarks gets one.
const BOOKMARK_INTERVAL: Duration = Duration::from_secs(15);

/// What every request needs: the types, the store, the credentials.
#[derive(Debug)]
pub struct ServerState {
    /// Served types.
    pub registry: Arc<Registry>,
    /// The object store.
    pub store: Store,
    /// The bearer token clients must present.
    pub token: String,
    /// `host:port` the server listens on, for `/api`'s address list.
    pub address: String,
}

/// The identity behind the token: one administrator, as a single-user
/// local API needs (kube-apiserver's `system:masters`).
fn admin() -> UserInfo {
    UserInfo {
        username: "certwasm:admin".to_owned(),
        uid: String::new(),
        groups: vec![
            "system:masters".to_owned(),
            "system:authenticated".to_owned(),
        ],
        extra: BTreeMap::new(),
    }
}

fn authorized(headers: &HeaderMap, token: &str) -> bool {
    let Some(sent) = headers
        .get(header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.strip_prefix("Bearer "))
    else {
        return false;
    };
    // Constant-time comparison: the token is the only credential.
    sent.len() == token.len()
        && sent
            .bytes()
            .zip(token.bytes())
            .fold(0u8, |acc, (a, b)| acc | (a ^ b))
            == 0
}

/// Query parameters, last value wins.
#[derive(Debug, Default)]
struct Query(BTreeMap<String, String>);

impl Query {
    fn parse(query: Option<&str>) -> Query {
        Query(
            url::form_urlencoded::parse(query.unwrap_or_default().as_bytes())
                .into_owned()
                .collect(),
        )
    }

    fn get(&self, name: &str) -> Option<&str> {
        self.0.get(name).map(String::as_str)
    }

    fn flag(&self, name: &str) -> bool {
        matches!(self.get(name), Some("true" | "1"))
    }
}

/// The single entry point for every request.
pub async fn handle(State(state): State<Arc<ServerState>>, request: Request) -> Response {
    let (parts, body) = request.into_parts();
    if !authorized(&parts.headers, &state.token) {
        return StatusError::unauthorized().into_response();
    }
    let query = Query::parse(parts.uri.query());
    let path = parts.uri.path().to_owned();
    let Some(route) = route::parse(&state.registry, &path) else {
        return StatusError::no_route(&path).into_response();
    };
    let body = match read_body(&parts.headers, body).await {
        Ok(body) => body,
        Err(refused) => return refused,
    };
    let accept_table = parts
        .headers
        .get(header::ACCEPT)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|a| a.contains("as=Table"));
    let content_type = parts
        .headers
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .unwrap_or("application/json")
        .split(';')
        .next()
        .unwrap_or_default()
        .trim()
        .to_owned();
    let user_agent = parts
        .headers
        .get(header::USER_AGENT)
        .and_then(|v| v.to_str().ok())
        .unwrap_or("unknown")
        .to_owned();
    let request = Incoming {
        method: parts.method,
        query,
        body,
        accept_table,
        content_type,
        user_agent,
    };
    super::audit::record(
        &route,
        &request.method,
        request.query.flag("watch"),
        &request.user_agent,
    );
    match route {
        Route::Version => json_response(StatusCode::OK, &discovery::version(), &[]),
        Route::Health => (StatusCode::OK, "ok").into_response(),
        Route::CoreVersions => json_response(
            StatusCode::OK,
            &discovery::core_versions(&state.address),
            &[],
        ),
        Route::Groups => {
            json_response(StatusCode::OK, &discovery::group_list(&state.registry), &[])
        }
        Route::Group(group) => found(discovery::group(&state.registry, &group), &path),
        Route::Resources { group, version } => found(
            discovery::resource_list(&state.registry, &group, &version),
            &path,
        ),
        Route::OpenApiV3Index => json_response(
            StatusCode::OK,
            &discovery::openapi_v3_index(&state.registry),
            &[],
        ),
        Route::OpenApiV3 { group, version } => found(
            discovery::openapi_v3(&state.registry, &group, &version),
            &path,
        ),
        Route::OpenApiV2 => StatusError::no_route(&path).into_response(),
        Route::Object(target) => match serve_object(&state, target, request).await {
            Ok(response) => response,
            Err(err) => err.into_response(),
        },
    }
}

/// Reads a request body of at most [`MAX_BODY`] bytes; a larger one is
/// answered 413 as kube-apiserver does, without being buffered.
async fn read_body(headers: &HeaderMap, body: Body) -> Result<Bytes, Response> {
    use futures_util::StreamExt;
    let declared = headers
        .get(header::CONTENT_LENGTH)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.parse::<u64>().ok());
    let mut stream = body.into_data_stream();
    if declared.is_none_or(|n| n <= MAX_BODY as u64) {
        // Grown as the bytes arrive, not reserved from what the client
        // announces: a thousand clients announcing 3 MiB and sending
        // nothing must not hold 3 GiB.
        let mut buffer = Vec::new();
        let read = async {
            loop {
                match stream.next().await {
                    Some(Ok(chunk)) if buffer.len() + chunk.len() > MAX_BODY => break Ok(true),
                    Some(Ok(chunk)) => buffer.extend_from_slice(&chunk),
                    Some(Err(err)) => break Err(err),
                    None => break Ok(false),
                }
            }
        };
        match tokio::time::timeout(BODY_READ_TIMEOUT, read).await {
            Ok(Ok(false)) => return Ok(Bytes::from(buffer)),
            // Too large: answered below.
            Ok(Ok(true)) => {}
            Ok(Err(err)) => {
                return Err(StatusError::bad_request(format!(
                    "cannot read the request body: {err}"
                ))
                .into_response());
            }
            Err(_) => {
                return Err(StatusError::timeout(
                    "request did not complete within the allowed duration",
                )
                .into_response());
            }
        }
    }
    // A client that waits for `100 Continue` sends nothing more: the 413
    // alone answers it. Any other keeps writing; read on (bounded) so it
    // reads the answer instead of a reset connection.
    let expects_continue = headers
        .get(header::EXPECT)
        .is_some_and(|v| v.as_bytes().eq_ignore_ascii_case(b"100-continue"));
    if !expects_continue {
        tokio::spawn(async move {
            let drain = async {
                let mut drained = 0usize;
                while let Some(Ok(chunk)) = stream.next().await {
                    drained += chunk.len();
                    if drained > REFUSED_BODY_DRAIN {
                        break;
                    }
                }
            };
            let _ = tokio::time::timeout(REFUSED_BODY_DRAIN_TIME, drain).await;
        });
    }
    let mut response = StatusError::entity_too_large(MAX_BODY).into_response();
    response
        .headers_mut()
        .insert(header::CONNECTION, HeaderValue::from_static("close"));
    Err(response)
}

fn found(document: Option<Value>, path: &str) -> Response {
    match document {
        Some(document) => json_response(StatusCode::OK, &document, &[]),
        None => StatusError::no_route(path).into_response(),
    }
}

fn json_response(code: StatusCode, value: &Value, warnings: &[String]) -> Response {
    let mut response = (code, axum::Json(value)).into_response();
    for warning in warnings {
        let text = format!("299 - {:?}", warning);
        if let Ok(value) = HeaderValue::from_str(&text) {
            response.headers_mut().append(header::WARNING, value);
        }
    }
    response
}

#[derive(Debug)]
struct Incoming {
    method: Method,
    query: Query,
    body: Bytes,
    accept_table: bool,
    content_type: String,
    user_agent: String,
}

impl Incoming {
    fn json_body(&self) -> Result<Value, StatusError> {
        if self.content_type == "application/vnd.kubernetes.protobuf" {
            return super::protobuf::decode(&self.body)
                .map_err(|e| StatusError::unsupported_media_type(e.to_string()));
        }
        if self.content_type.contains("yaml") {
            let text = std::str::from_utf8(&self.body)
                .map_err(|_| StatusError::bad_request("the request body is not UTF-8"))?;
            if super::body::yaml_flow_depth_exceeds(text, super::body::MAX_YAML_FLOW_DEPTH) {
                return Err(StatusError::bad_request(format!(
                    "cannot decode the YAML body: nested deeper than {} levels",
                    super::body::MAX_YAML_FLOW_DEPTH
                )));
            }
            return serde_yaml::from_str(text).map_err(|e| {
                StatusError::bad_request(format!("cannot decode the YAML body: {e}"))
            });
        }
        serde_json::from_slice(&self.body)
            .map_err(|e| StatusError::bad_request(format!("cannot decode the JSON body: {e}")))
    }

    /// `fieldManager`, or what kube-apiserver derives from the user agent.
    fn manager(&self) -> String {
        self.query.get("fieldManager").map_or_else(
            || {
                self.user_agent
                    .split('/')
                    .next()
                    .unwrap_or("unknown")
                    .to_owned()
            },
            str::to_owned,
        )
    }
}
