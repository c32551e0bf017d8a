//! Kubernetes `Status` errors: the one shape every client (kubectl, client-go,
//! kube-rs) understands, so a refusal reads the same as kube-apiserver's.

use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use serde_json::{Value, json};

use crate::api::FieldError;

/// A failed request, rendered as a `v1 Status` with the HTTP code and
/// `reason` kube-apiserver uses for the same failure.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
#[error("{message}")]
pub struct StatusError {
    /// HTTP status code.
    pub code: u16,
    /// Machine-readable reason (`NotFound`, `AlreadyExists`, `Conflict`, ...).
    pub reason: &'static str,
    /// Human-readable message, shown by kubectl as `Error from server (...)`.
    pub message: String,
    /// `details` of the Status: name, group, kind and field causes.
    pub details: Option<Value>,
}

impl StatusError {
    fn new(code: u16, reason: &'static str, message: impl Into<String>) -> Self {
        StatusError {
            code,
            reason,
            message: message.into(),
            details: None,
        }
    }

    /// 404: the object (or namespace) does not exist.
    pub fn not_found(resource: &str, name: &str) -> Self {
        StatusError::new(404, "NotFound", format!("{resource} \"{name}\" not found"))
            .with_details(json!({"name": name, "kind": resource_kind(resource)}))
    }

    /// 404 for a path that names no resource this server knows.
    pub fn no_route(path: &str) -> Self {
        StatusError::new(
            404,
            "NotFound",
            format!("the server could not find the requested resource ({path})"),
        )
    }

    /// 409: create of a name that exists.
    pub fn already_exists(resource: &str, name: &str) -> Self {
        StatusError::new(
            409,
            "AlreadyExists",
            format!("{resource} \"{name}\" already exists"),
        )
        .with_details(json!({"name": name, "kind": resource_kind(resource)}))
    }

    /// 409: optimistic concurrency failed.
    pub fn conflict(resource: &str, name: &str, why: &str) -> Self {
        StatusError::new(
            409,
            "Conflict",
            format!("Operation cannot be fulfilled on {resource} \"{name}\": {why}"),
        )
        .with_details(json!({"name": name, "kind": resource_kind(resource)}))
    }

    /// 422: the object breaks a validation rule; `causes` name the fields.
    pub fn invalid(kind: &str, group: &str, name: &str, errors: &[FieldError]) -> Self {
        let causes: Vec<Value> = errors
            .iter()
            .map(|e| {
                json!({
                    "reason": format!("Field{}", e.kind.reason()),
                    "message": e.body(),
                    "field": e.path,
                })
            })
            .collect();
        StatusError::new(
            422,
            "Invalid",
            crate::api::invalid_message(kind, group, name, errors),
        )
        .with_details(json!({"name": name, "group": group, "kind": kind, "causes": causes}))
    }

    /// 400: the request itself is malformed (bad JSON, wrong content).
    pub fn bad_request(message: impl Into<String>) -> Self {
        StatusError::new(400, "BadRequest", message)
    }

    /// 401: no or wrong bearer token.
    pub fn unauthorized() -> Self {
        StatusError::new(401, "Unauthorized", "Unauthorized")
    }

    /// 403: the request is understood but not allowed (e.g. a namespace
    /// that is being deleted).
    pub fn forbidden(message: impl Into<String>) -> Self {
        StatusError::new(403, "Forbidden", message)
    }

    /// 405: the verb is not served for this path.
    pub fn method_not_allowed(message: impl Into<String>) -> Self {
        StatusError::new(405, "MethodNotAllowed", message)
    }

    /// 410: a watch asked for history the server no longer keeps.
    pub fn expired(message: impl Into<String>) -> Self {
        StatusError::new(410, "Expired", message)
    }

    /// 413: the request body is larger than the server reads
    /// (kube-apiserver's message, with its limit).
    pub fn entity_too_large(limit: usize) -> Self {
        StatusError::new(
            413,
            "RequestEntityTooLarge",
            format!("Request entity too large: limit is {limit}"),
        )
    }

    /// 504: the request took longer than the server allows
    /// (kube-apiserver's `NewTimeoutError`).
    pub fn timeout(message: impl Into<String>) -> Self {
        StatusError::new(504, "Timeout", format!("Timeout: {}", message.into()))
    }

    /// 504 with `Retry-After: 1`: a watch or list asked for a
    /// resourceVersion the store has not reached within the wait
    /// kube-apiserver's watch cache allows (its
    /// `NewTooLargeResourceVersionError`). Clients (client-go's reflector,
    /// kube-rs's watcher) recognise the `ResourceVersionTooLarge` cause and
    /// retry; a request that simply hung would never tell them.
    pub fn too_large_resource_version(requested: u64, current: u64) -> Self {
        StatusError::new(
            504,
            "Timeout",
            format!("Timeout: Too large resource version: {requested}, current: {current}"),
        )
        .with_details(json!({
            "causes": [{"reason": "ResourceVersionTooLarge", "message": "Too large resource version"}],
            "retryAfterSeconds": 1,
        }))
    }

    /// 415: a patch type the resource does not support.
    pub fn unsupported_media_type(message: impl Into<String>) -> Self {
        StatusError::new(415, "UnsupportedMediaType", message)
    }

    /// 500: the server failed (storage error); the message says how.
    pub fn internal(message: impl Into<String>) -> Self {
        StatusError::new(500, "InternalError", message)
    }

    fn with_details(mut self, details: Value) -> Self {
        self.details = Some(details);
        self
    }

    /// The `v1 Status` object.
    pub fn to_status(&self) -> Value {
        let mut status = json!({
            "kind": "Status",
            "apiVersion": "v1",
            "metadata": {},
            "status": "Failure",
            "message": self.message,
            "reason": self.reason,
            "code": self.code,
        });
        if let Some(details) = &self.details {
            status["details"] = details.clone();
        }
        status
    }
}

/// `certificates.cert-manager.io` → `certificates`: the `details.kind` field
/// of a Status carries the plural resource name, as kube-apiserver does.
fn resource_kind(resource: &str) -> &str {
    resource.split('.').next().unwrap_or(resource)
}

impl IntoResponse for StatusError {
    fn into_response(self) -> Response {
        let code = StatusCode::from_u16(self.code).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR);
        let retry_after = self
            .details
            .as_ref()
            .and_then(|d| d.get("retryAfterSeconds"))
            .and_then(Value::as_u64);
        let mut response = (code, axum::Json(self.to_status())).into_response();
        // kube-apiserver repeats `details.retryAfterSeconds` as the header
        // generic HTTP clients honour.
        if let Some(seconds) = retry_after {
            response
                .headers_mut()
                .insert(axum::http::header::RETRY_AFTER, seconds.into());
        }
        response
    }
}
