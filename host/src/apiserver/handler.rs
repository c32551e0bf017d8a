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

async fn serve_object(
    state: &Arc<ServerState>,
    target: Target,
    request: Incoming,
) -> Result<Response, StatusError> {
    for (what, segment) in [("Namespace", &target.namespace), ("Name", &target.name)] {
        if let Some(segment) = segment
            && let Some(problem) = object::path_segment_problem(segment)
        {
            return Err(StatusError::bad_request(format!(
                "{what} parameter invalid: {segment:?}: {problem}"
            )));
        }
    }
    let resource = Arc::clone(&target.resource);
    let namespace = target.namespace.clone().unwrap_or_default();
    let status_sub = target.subresource.as_deref() == Some("status");
    match (&request.method, &target.name) {
        (&Method::GET, None) if request.query.flag("watch") => {
            watch(state, &resource, target.namespace.as_deref(), &request).await
        }
        (&Method::GET, None) => list(state, &resource, target.namespace.as_deref(), &request).await,
        (&Method::GET, Some(name)) => {
            let key = resource.key(&namespace, name);
            let object = state
                .store
                .get(&key)?
                .ok_or_else(|| StatusError::not_found(&resource.qualified_plural(), name))?;
            if request.accept_table {
                let table = render_table(&resource, &[object], &request, json!({}));
                return Ok(json_response(StatusCode::OK, &table, &[]));
            }
            Ok(json_response(StatusCode::OK, &object, &[]))
        }
        (&Method::POST, None) => {
            if resource.namespaced && target.namespace.is_none() {
                return Err(StatusError::method_not_allowed(
                    "create needs a namespace: POST to /namespaces/{namespace}/...",
                ));
            }
            let body = request.json_body()?;
            let ctx = context(state, &request)?;
            let op_ctx = ctx.clone();
            let op_resource = Arc::clone(&resource);
            let op: WriteOp =
                Box::new(move |txn| writes::create(txn, &op_ctx, &op_resource, &namespace, body));
            let stored = run(state, op, &request).await?;
            Ok(json_response(StatusCode::CREATED, &stored, &warnings(&ctx)))
        }
        (&Method::PUT, Some(name)) => {
            let body = request.json_body()?;
            let ctx = context(state, &request)?;
            let op_ctx = ctx.clone();
            let op_resource = Arc::clone(&resource);
            let name = name.clone();
            let sub = if status_sub {
                Subresource::Status
            } else {
                Subresource::Main
            };
            let op: WriteOp = Box::new(move |txn| {
                writes::update(
                    txn,
                    &op_ctx,
                    &op_resource,
                    &namespace,
                    &name,
                    body,
                    UpdateMode {
                        subresource: sub,
                        require_version: true,
                    },
                )
            });
            let stored = run(state, op, &request).await?;
            Ok(json_response(StatusCode::OK, &stored, &warnings(&ctx)))
        }
        (&Method::PATCH, Some(name)) => {
            patch_object(
                state,
                &resource,
                namespace,
                name.clone(),
                status_sub,
                request,
            )
            .await
        }
        (&Method::DELETE, Some(name)) => {
            let options = delete_options(&request)?;
            let ctx = context(state, &request)?;
            let op_resource = Arc::clone(&resource);
            let name = name.clone();
            let op: WriteOp = Box::new(move |txn| {
                writes::delete(txn, &ctx, &op_resource, &namespace, &name, &options)
            });
            let last = run(state, op, &request).await?;
            Ok(json_response(StatusCode::OK, &last, &[]))
        }
        (&Method::DELETE, None) => {
            let options = delete_options(&request)?;
            let ctx = context(state, &request)?;
            let selectors = Selectors::parse(&resource, &request.query)?;
            let listed = state.store.list(
                &collection_prefix(&resource, target.namespace.as_deref()),
                None,
                None,
                |o| selectors.matches(o),
            )?;
            let names: Vec<(String, String)> = listed
                .items
                .iter()
                .map(|o| (object::namespace(o).to_owned(), object::name(o).to_owned()))
                .collect();
            let op_resource = Arc::clone(&resource);
            let op: WriteOp = Box::new(move |txn| {
                let mut deleted = Vec::new();
                for (ns, name) in names {
                    let each = DeleteOptions {
                        propagation: options.propagation,
                        ..DeleteOptions::default()
                    };
                    match writes::delete(txn, &ctx, &op_resource, &ns, &name, &each) {
                        Ok(last) => deleted.push(last),
                        // Gone meanwhile (deleted with an owner): fine.
                        Err(err) if err.code == 404 => {}
                        Err(err) => return Err(err),
                    }
                }
                Ok(json!({
                    "kind": format!("{}List", op_resource.kind),
                    "apiVersion": op_resource.api_version(),
                    "metadata": {},
                    "items": deleted,
                }))
            });
            let deleted = run(state, op, &request).await?;
            Ok(json_response(StatusCode::OK, &deleted, &[]))
        }
        _ => Err(StatusError::method_not_allowed(format!(
            "{} is not supported on this path",
            request.method
        ))),
    }
}

fn context(state: &ServerState, request: &Incoming) -> Result<WriteContext, StatusError> {
    Ok(WriteContext {
        registry: Arc::clone(&state.registry),
        user: admin(),
        fields: FieldValidation::parse(request.query.get("fieldValidation"))?,
        now: time::OffsetDateTime::now_utc(),
        manager: request.manager(),
        warnings: Arc::new(Mutex::new(Vec::new())),
    })
}

fn warnings(ctx: &WriteContext) -> Vec<String> {
    ctx.warnings
        .lock()
        .unwrap_or_else(|e| e.into_inner())
        .clone()
}

async fn run(state: &ServerState, op: WriteOp, request: &Incoming) -> Result<Value, StatusError> {
    match request.query.get("dryRun") {
        Some("All") => state.store.dry_run(op).await,
        Some("") | None => state.store.write(op).await,
        Some(other) => Err(StatusError::bad_request(format!(
            "dryRun must be \"All\", not {other:?}"
        ))),
    }
}

fn delete_options(request: &Incoming) -> Result<DeleteOptions, StatusError> {
    let body: Value = if request.body.is_empty() {
        Value::Null
    } else {
        request.json_body()?
    };
    let policy = request
        .query
        .get("propagationPolicy")
        .or_else(|| body.get("propagationPolicy").and_then(Value::as_str));
    let mut propagation = Propagation::parse(policy)?;
    if policy.is_none()
        && (request.query.get("orphanDependents") == Some("true")
            || body.get("orphanDependents") == Some(&Value::Bool(true)))
    {
        propagation = Propagation::Orphan;
    }
    let precondition = |field: &str| {
        body.pointer(&format!("/preconditions/{field}"))
            .and_then(Value::as_str)
            .map(str::to_owned)
    };
    Ok(DeleteOptions {
        propagation,
        uid: precondition("uid"),
        resource_version: precondition("resourceVersion"),
    })
}

async fn patch_object(
    state: &Arc<ServerState>,
    resource: &Arc<ResourceType>,
    namespace: String,
    name: String,
    status_sub: bool,
    request: Incoming,
) -> Result<Response, StatusError> {
    let kind = match request.content_type.as_str() {
        "application/json-patch+json" => PatchKind::Json,
        "application/merge-patch+json" => PatchKind::Merge,
        "application/strategic-merge-patch+json" => {
            if resource.custom {
                return Err(StatusError::unsupported_media_type(
                    "the body of the request was in an unknown format - accepted media types include: application/json-patch+json, application/merge-patch+json, application/apply-patch+yaml",
                ));
            }
            PatchKind::Strategic
        }
        "application/apply-patch+yaml" | "application/apply-patch+cbor" => {
            if request.query.get("fieldManager").is_none_or(str::is_empty) {
                return Err(StatusError::bad_request(
                    "PATCH, fieldManager is required for apply requests",
                ));
            }
            PatchKind::Apply {
                force: request.query.flag("force"),
            }
        }
        other => {
            return Err(StatusError::unsupported_media_type(format!(
                "the body of the request was in an unknown format ({other}) - accepted media types include: application/json-patch+json, application/merge-patch+json, application/apply-patch+yaml"
            )));
        }
    };
    let patch_body = request.json_body()?;
    let ctx = context(state, &request)?;
    let op_ctx = ctx.clone();
    let op_resource = Arc::clone(resource);
    let sub = if status_sub {
        Subresource::Status
    } else {
        Subresource::Main
    };
    let op: WriteOp = Box::new(move |txn| {
        let resource = op_resource;
        let key = resource.key(&namespace, &name);
        let current = txn.get(&key)?;
        let Some(current) = current else {
            if let PatchKind::Apply { force } = kind
                && sub == Subresource::Main
            {
                let applied = patch::server_side_apply(None, &patch_body, &op_ctx.manager, force)
                    .map_err(patch_error)?;
                let mut applied = applied;
                object::metadata_mut(&mut applied)
                    .insert("name".to_owned(), Value::String(name.clone()));
                return writes::create(txn, &op_ctx, &resource, &namespace, applied);
            }
            return Err(StatusError::not_found(&resource.qualified_plural(), &name));
        };
        let mut patched = current.clone();
        match kind {
            PatchKind::Json => patch::json_patch(&mut patched, &patch_body).map_err(patch_error)?,
            PatchKind::Merge => patch::merge_patch(&mut patched, &patch_body),
            PatchKind::Strategic => {
                let schema = patch::PatchSchema::for_kind(&resource.api_version(), &resource.kind)
                    .map_err(patch_error)?;
                patch::strategic_merge_patch(&mut patched, &patch_body, &schema)
                    .map_err(patch_error)?;
            }
            PatchKind::Apply { force } => {
                patched =
                    patch::server_side_apply(Some(&current), &patch_body, &op_ctx.manager, force)
                        .map_err(patch_error)?;
                // A resourceVersion in the applied config is a precondition.
                if let Some(rv) = object::resource_version(&patch_body) {
                    object::metadata_mut(&mut patched)
                        .insert("resourceVersion".to_owned(), Value::String(rv.to_owned()));
                } else if let Some(rv) = object::resource_version(&current) {
                    object::metadata_mut(&mut patched)
                        .insert("resourceVersion".to_owned(), Value::String(rv.to_owned()));
                }
            }
        }
        let mode = UpdateMode {
            subresource: sub,
            require_version: false,
        };
        writes::update(txn, &op_ctx, &resource, &namespace, &name, patched, mode)
    });
    let stored = run(state, op, &request).await?;
    Ok(json_response(StatusCode::OK, &stored, &warnings(&ctx)))
}

#[derive(Debug, Clone, Copy)]
enum PatchKind {
    Json,
    Merge,
    Strategic,
    Apply { force: bool },
}

fn patch_error(err: patch::PatchError) -> StatusError {
    match err {
        patch::PatchError::Conflict { .. } => StatusError {
            code: 409,
            reason: "Conflict",
            message: format!("Apply failed with 1 conflict: {err}"),
            details: None,
        },
        patch::PatchError::StrategicMergeUnsupported { .. } => {
            StatusError::unsupported_media_type(err.to_string())
        }
        other => StatusError {
            code: 422,
            reason: "Invalid",
            message: other.to_string(),
            details: None,
        },
    }
}

fn collection_prefix(resource: &ResourceType, namespace: Option<&str>) -> String {
    match namespace {
        Some(ns) if resource.namespaced => format!("{}{ns}/", resource.key_prefix()),
        _ => resource.key_prefix(),
    }
}

/// Label and field selectors from the query, checked against the fields
/// the type allows.
struct Selectors {
    labels: Option<LabelSelector>,
    fields: Option<FieldSelector>,
}

impl Selectors {
    fn parse(resource: &ResourceType, query: &Query) -> Result<Selectors, StatusError> {
        let labels = match query.get("labelSelector").filter(|s| !s.is_empty()) {
            Some(text) => Some(LabelSelector::parse(text).map_err(|e| {
                StatusError::bad_request(format!("unable to parse requirement: {e}"))
            })?),
            None => None,
        };
        let fields = match query.get("fieldSelector").filter(|s| !s.is_empty()) {
            Some(text) => {
                let selector = FieldSelector::parse(text)
                    .map_err(|e| StatusError::bad_request(e.to_string()))?;
                let mut allowed = vec!["metadata.name", "metadata.namespace"];
                allowed.extend(resource.selectable_fields.iter().map(String::as_str));
                selector.validate_fields(&allowed).map_err(|e| {
                    StatusError::bad_request(format!(
                        "\"{text}\" is not a known field selector: {e}"
                    ))
                })?;
                Some(selector)
            }
            None => None,
        };
        Ok(Selectors { labels, fields })
    }

    /// Whether any selector was given (else every object matches).
    fn any(&self) -> bool {
        self.labels.is_some() || self.fields.is_some()
    }

    fn matches(&self, object: &Value) -> bool {
        self.labels
            .as_ref()
            .is_none_or(|s| s.matches(&object::labels(object)))
            && self.fields.as_ref().is_none_or(|s| s.matches(object))
    }
}

async fn list(
    state: &Arc<ServerState>,
    resource: &Arc<ResourceType>,
    namespace: Option<&str>,
    request: &Incoming,
) -> Result<Response, StatusError> {
    let selectors = Selectors::parse(resource, &request.query)?;
    // A list "not older than" a version (kube's default match for a
    // non-zero resourceVersion without a continue token) waits for the store
    // to reach it, as a watch does.
    if request.query.get("continue").is_none_or(str::is_empty)
        && request.query.get("resourceVersionMatch") != Some("Exact")
        && let Some(rv) = request
            .query
            .get("resourceVersion")
            .and_then(|rv| rv.parse::<u64>().ok())
    {
        wait_for_version(&state.store, rv).await?;
    }
    let limit = request
        .query
        .get("limit")
        .and_then(|l| l.parse::<usize>().ok())
        .filter(|l| *l > 0);
    let after = match request.query.get("continue").filter(|c| !c.is_empty()) {
        Some(token) => Some(decode_continue(token)?),
        None => None,
    };
    let listed = state.store.list(
        &collection_prefix(resource, namespace),
        after.as_deref(),
        limit,
        |o| selectors.matches(o),
    )?;
    let mut metadata = json!({"resourceVersion": listed.revision.to_string()});
    if let Some(last) = &listed.continue_after {
        metadata["continue"] =
            json!(base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(last.as_bytes()));
    }
    if request.accept_table {
        let table = render_table(resource, &listed.items, request, metadata);
        return Ok(json_response(StatusCode::OK, &table, &[]));
    }
    let list = json!({
        "kind": format!("{}List", resource.kind),
        "apiVersion": resource.api_version(),
        "metadata": metadata,
        "items": listed.items,
    });
    Ok(json_response(StatusCode::OK, &list, &[]))
}

fn decode_continue(token: &str) -> Result<String, StatusError> {
    base64::engine::general_purpose::URL_SAFE_NO_PAD
        .decode(token)
        .ok()
        .and_then(|b| String::from_utf8(b).ok())
        .ok_or_else(|| StatusError::bad_request("the continue token is not valid"))
}

fn render_table(
    resource: &ResourceType,
    objects: &[Value],
    request: &Incoming,
    list_meta: Value,
) -> Value {
    let include = match request.query.get("includeObject") {
        Some("None") => table::IncludeObject::None,
        Some("Object") => table::IncludeObject::Object,
        _ => table::IncludeObject::Metadata,
    };
    table::table(
        &columns(resource),
        objects,
        time::OffsetDateTime::now_utc(),
        include,
        list_meta,
    )
}

fn columns(resource: &ResourceType) -> table::TableColumns {
    if !resource.custom
        && let Some(columns) = table::builtin_columns(&resource.group, &resource.kind)
    {
        return columns;
    }
    table::custom_columns(
        resource
            .printer_columns
            .iter()
            .map(|c| table::Column {
                name: c.name.clone(),
                type_: c.type_.clone(),
                format: c.format.clone().unwrap_or_default(),
                description: c.description.clone().unwrap_or_default(),
                priority: c.priority.unwrap_or(0),
                json_path: Some(c.json_path.clone()),
            })
            .collect(),
    )
}

/// Waits until the store has reached `requested`, at most
/// [`FUTURE_VERSION_WAIT`]; past that, the 504 kube-apiserver answers for a
/// resourceVersion from the future.
async fn wait_for_version(store: &Store, requested: u64) -> Result<(), StatusError> {
    /// How often the store's revision is looked at while waiting.
    const POLL: Duration = Duration::from_millis(20);
    let deadline = tokio::time::Instant::now() + FUTURE_VERSION_WAIT;
    loop {
        let current = store.revision();
        if current >= requested {
            return Ok(());
        }
        if tokio::time::Instant::now() >= deadline {
            return Err(StatusError::too_large_resource_version(requested, current));
        }
        tokio::time::sleep(POLL).await;
    }
}

async fn watch(
    state: &Arc<ServerState>,
    resource: &Arc<ResourceType>,
    namespace: Option<&str>,
    request: &Incoming,
) -> Result<Response, StatusError> {
    let selectors = Selectors::parse(resource, &request.query)?;
    let prefix = collection_prefix(resource, namespace);
    let bookmarks = request.query.flag("allowWatchBookmarks");
    let send_initial = request.query.flag("sendInitialEvents");
    let timeout = request
        .query
        .get("timeoutSeconds")
        .and_then(|t| t.parse::<u64>().ok())
        .map_or(DEFAULT_WATCH_TIMEOUT, |t| {
            Duration::from_secs(t).min(MAX_WATCH_TIMEOUT)
        });
    let requested = request
        .query
        .get("resourceVersion")
        .filter(|rv| !rv.is_empty());
    // No version, "0", or sendInitialEvents: start with the current state as
    // ADDED events, then follow from that snapshot.
    let (initial, since) = match requested {
        Some(rv) if rv != "0" && !send_initial => {
            let since = rv.parse::<u64>().map_err(|_| {
                StatusError::bad_request(format!("invalid resource version {rv:?}"))
            })?;
            wait_for_version(&state.store, since).await?;
            (Vec::new(), since)
        }
        _ => {
            let listed = state
                .store
                .list(&prefix, None, None, |o| selectors.matches(o))?;
            (listed.items, listed.revision)
        }
    };
    let columns = request.accept_table.then(|| columns(resource));
    let encoder = EventEncoder {
        resource: Arc::clone(resource),
        columns,
        include: request.query.get("includeObject").map(str::to_owned),
    };
    let (sender, receiver) = tokio::sync::mpsc::channel::<Result<Bytes, Infallible>>(256);
    let subscription = state.store.watch().subscribe(&prefix, since);
    let store = state.store.clone();
    tokio::spawn(async move {
        let mut subscription = match subscription {
            Ok(subscription) => subscription,
            Err(err) => {
                let status = StatusError::expired(err.to_string()).to_status();
                let line = event_line("ERROR", &status);
                let _ = sender.send(Ok(line)).await;
                return;
            }
        };
        for object in initial {
            if sender
                .send(Ok(encoder.encode("ADDED", &object)))
                .await
                .is_err()
            {
                return;
            }
        }
        if send_initial {
            let mut mark = encoder.bookmark(since);
            mark["metadata"]["annotations"] = json!({"k8s.io/initial-events-end": "true"});
            if sender
                .send(Ok(event_line("BOOKMARK", &mark)))
                .await
                .is_err()
            {
                return;
            }
        }
        // The event line for a change this watch wants, if it wants it.
        let line = |change: &Change| {
            if !change.key.starts_with(&prefix) {
                return None;
            }
            if !selectors.any() && encoder.columns.is_none() {
                return Some(raw_event_line(change));
            }
            let object = change.object();
            selectors
                .matches(&object)
                .then(|| encoder.encode(change.kind.event_type(), &object))
        };
        let deadline = tokio::time::Instant::now() + timeout;
        let mut ticker = tokio::time::interval(BOOKMARK_INTERVAL);
        ticker.tick().await;
        loop {
            tokio::select! {
                _ = tokio::time::sleep_until(deadline) => return,
                _ = ticker.tick(), if bookmarks => {
                    let mark = encoder.bookmark(store.revision());
                    if sender.send(Ok(event_line("BOOKMARK", &mark))).await.is_err() {
                        return;
                    }
                }
                received = subscription.next() => match received {
                    Ok(Some(change)) => {
                        if let Some(line) = line(&change)
                            && sender.send(Ok(line)).await.is_err()
                        {
                            return;
                        }
                    }
                    Ok(None) => return,
                    // So far behind that the history no longer has what it
                    // missed: the client must list again.
                    Err(err) => {
                        let status = StatusError::expired(err.to_string()).to_status();
                        let _ = sender.send(Ok(event_line("ERROR", &status))).await;
                        return;
                    }
                },
            }
        }
    });
    let stream = futures_util::stream::unfold(receiver, |mut receiver| async move {
        receiver.recv().await.map(|item| (item, receiver))
    });
    let mut response = Response::new(Body::from_stream(stream));
    response.headers_mut().insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("application/json"),
    );
    Ok(response)
}

struct EventEncoder {
    resource: Arc<ResourceType>,
    columns: Option<table::TableColumns>,
    include: Option<String>,
}

impl EventEncoder {
    fn encode(&self, event_type: &str, object: &Value) -> Bytes {
        match &self.columns {
            Some(columns) => {
                let include = match self.include.as_deref() {
                    Some("None") => table::IncludeObject::None,
                    Some("Object") => table::IncludeObject::Object,
                    _ => table::IncludeObject::Metadata,
                };
                let rv = object::resource_version(object)
                    .unwrap_or_default()
                    .to_owned();
                let rendered = table::table(
                    columns,
                    std::slice::from_ref(object),
                    time::OffsetDateTime::now_utc(),
                    include,
                    json!({"resourceVersion": rv}),
                );
                event_line(event_type, &rendered)
            }
            _ => event_line(event_type, object),
        }
    }

    fn bookmark(&self, revision: u64) -> Value {
        json!({
            "kind": self.resource.kind,
            "apiVersion": self.resource.api_version(),
            "metadata": {"resourceVersion": revision.to_string()},
        })
    }
}

fn event_line(event_type: &str, object: &Value) -> Bytes {
    let mut line = format!("{{\"type\":\"{event_type}\",\"object\":").into_bytes();
    // Writing a `Value` into a Vec cannot fail.
    let _ = serde_json::to_writer(&mut line, object);
    line.extend_from_slice(b"}\n");
    Bytes::from(line)
}

/// The watch event for a change, around the JSON the store committed: no
/// parse, no re-encoding.
fn raw_event_line(change: &Change) -> Bytes {
    let head = format!("{{\"type\":\"{}\",\"object\":", change.kind.event_type());
    let mut line = Vec::with_capacity(head.len() + change.json.len() + 2);
    line.extend_from_slice(head.as_bytes());
    line.extend_from_slice(&change.json);
    line.extend_from_slice(b"}\n");
    Bytes::from(line)
}
