//! cert-manager's admission webhook for a real cluster (`certwasm
//! webhook`): AdmissionReview v1 on `/mutate` (defaults, and a
//! CertificateRequest's requester identity) and `/validate`, decided by the
//! same [`crate::apiserver::admission::admit`] the embedded API runs on
//! every write, so that `kubectl apply` refuses the same objects with the
//! same field errors in a cluster as under `certwasm run`. Its TLS is
//! bootstrapped by itself ([`bootstrap`]): no cainjector.

pub mod bootstrap;

use std::net::SocketAddr;
use std::sync::Arc;

use axum::Router;
use axum::extract::State;
use axum::routing::{get, post};
use base64::Engine as _;
use serde_json::{Value, json};

use crate::api::defaults::UserInfo;
use crate::apiserver::admission::{FieldValidation, Operation, admit};
use crate::apiserver::resource::Registry;
use crate::apiserver::status::StatusError;

/// The API groups the webhook answers for: cert-manager's. Anything else
/// sent to it is allowed unchanged.
pub const GROUPS: [&str; 2] = ["cert-manager.io", "acme.cert-manager.io"];

/// Why the webhook could not serve.
#[derive(Debug, thiserror::Error)]
pub enum WebhookError {
    /// The port is taken or not ours.
    #[error("cannot listen on {address}: {source}")]
    Bind {
        address: SocketAddr,
        source: std::io::Error,
    },
    /// The serving certificate or key is unusable.
    #[error("cannot serve TLS: {0}")]
    Tls(String),
}

/// Which of the two webhooks a review is for.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kind {
    /// `/mutate`: answers with a JSON patch of the defaults.
    Mutating,
    /// `/validate`: allows or refuses.
    Validating,
}

fn user_info(request: &Value) -> UserInfo {
    let user = &request["userInfo"];
    let strings = |v: &Value| -> Vec<String> {
        v.as_array()
            .map(|a| {
                a.iter()
                    .filter_map(|s| s.as_str().map(str::to_owned))
                    .collect()
            })
            .unwrap_or_default()
    };
    UserInfo {
        username: user["username"].as_str().unwrap_or_default().to_owned(),
        uid: user["uid"].as_str().unwrap_or_default().to_owned(),
        groups: strings(&user["groups"]),
        extra: user["extra"]
            .as_object()
            .map(|m| m.iter().map(|(k, v)| (k.clone(), strings(v))).collect())
            .unwrap_or_default(),
    }
}

fn refusal(err: &StatusError) -> Value {
    let mut status = json!({
        "metadata": {},
        "status": "Failure",
        "message": err.message,
        "reason": err.reason,
        "code": err.code,
    });
    if let Some(details) = &err.details {
        status["details"] = details.clone();
    }
    status
}

/// Answers one AdmissionReview (`body`), as kube-apiserver expects:
/// `response.uid` echoes the request's; a mutation carries a base64 JSON
/// patch; a refusal carries a Status whose message and causes are those
/// the embedded API gives for the same object.
pub fn review(registry: &Registry, kind: Kind, body: &Value) -> Value {
    let request = &body["request"];
    let mut response = decide(registry, kind, request);
    response["uid"] = request["uid"].clone();
    json!({
        "apiVersion": "admission.k8s.io/v1",
        "kind": "AdmissionReview",
        "response": response,
    })
}

fn decide(registry: &Registry, kind: Kind, request: &Value) -> Value {
    let allowed = json!({"allowed": true});
    let group = request["resource"]["group"].as_str().unwrap_or_default();
    let version = request["resource"]["version"].as_str().unwrap_or_default();
    let plural = request["resource"]["resource"].as_str().unwrap_or_default();
    let sub = request["subResource"].as_str().unwrap_or_default();
    if !GROUPS.contains(&group) || !sub.is_empty() {
        return allowed;
    }
    let Some(resource) = registry.lookup(group, version, plural) else {
        return allowed;
    };
    let object = request["object"].clone();
    let old = request["oldObject"].clone();
    let operation = match request["operation"].as_str() {
        Some("CREATE") => Operation::Create,
        Some("UPDATE") if old.is_object() => Operation::Update(&old),
        _ => return allowed,
    };
    let user = user_info(request);
    match admit(
        &resource,
        operation,
        object.clone(),
        &user,
        FieldValidation::Ignore,
    ) {
        Ok(admitted) => {
            let mut response = json!({"allowed": true});
            if !admitted.warnings.is_empty() {
                response["warnings"] = json!(admitted.warnings);
            }
            if kind == Kind::Mutating {
                let patch = json_patch::diff(&object, &admitted.object);
                if !patch.0.is_empty() {
                    let bytes = serde_json::to_vec(&patch).unwrap_or_default();
                    response["patchType"] = json!("JSONPatch");
                    response["patch"] =
                        json!(base64::engine::general_purpose::STANDARD.encode(bytes));
                }
            }
            response
        }
        Err(err) => json!({"allowed": false, "status": refusal(&err)}),
    }
}

#[derive(Clone)]
struct Shared {
    registry: Arc<Registry>,
}

async fn mutate(State(shared): State<Shared>, body: axum::Json<Value>) -> axum::Json<Value> {
    axum::Json(review(&shared.registry, Kind::Mutating, &body))
}

async fn validate(State(shared): State<Shared>, body: axum::Json<Value>) -> axum::Json<Value> {
    axum::Json(review(&shared.registry, Kind::Validating, &body))
}

/// The webhook's routes: `/mutate`, `/validate`, and `/livez`, `/readyz`
/// for the kubelet.
pub fn router() -> Router {
    Router::new()
        .route("/mutate", post(mutate))
        .route("/validate", post(validate))
        .route("/livez", get(|| async { "ok" }))
        .route("/readyz", get(|| async { "ok" }))
        .with_state(Shared {
            registry: Arc::new(Registry::standard()),
        })
}

/// Serves [`router`] over TLS with `chain_pem`/`key_pem` on `address` in
/// the background; returns the bound address.
pub async fn serve(
    address: SocketAddr,
    chain_pem: &str,
    key_pem: &str,
) -> Result<SocketAddr, WebhookError> {
    let acceptor = crate::apiserver::server::tls_acceptor_for(chain_pem, key_pem)
        .map_err(|e| WebhookError::Tls(e.to_string()))?;
    let listener = tokio::net::TcpListener::bind(address)
        .await
        .map_err(|source| WebhookError::Bind { address, source })?;
    let bound = listener
        .local_addr()
        .map_err(|source| WebhookError::Bind { address, source })?;
    tokio::spawn(crate::apiserver::server::accept_loop(
        listener,
        acceptor,
        router(),
        crate::apiserver::server::Limits::default(),
    ));
    Ok(bound)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn request(operation: &str, resource: &str, object: Value) -> Value {
        json!({
            "apiVersion": "admission.k8s.io/v1",
            "kind": "AdmissionReview",
            "request": {
                "uid": "0d3c-1",
                "kind": {"group": "cert-manager.io", "version": "v1", "kind": "X"},
                "resource": {"group": "cert-manager.io", "version": "v1", "resource": resource},
                "operation": operation,
                "userInfo": {"username": "alice", "uid": "u-1", "groups": ["devs", "system:authenticated"]},
                "object": object,
            }
        })
    }

    fn certificate(spec: Value) -> Value {
        json!({
            "apiVersion": "cert-manager.io/v1", "kind": "Certificate",
            "metadata": {"name": "web", "namespace": "default"},
            "spec": spec,
        })
    }

    fn patch_of(response: &Value) -> Vec<Value> {
        let text = response["response"]["patch"].as_str().expect("a patch");
        let bytes = base64::engine::general_purpose::STANDARD
            .decode(text)
            .unwrap();
        serde_json::from_slice(&bytes).unwrap()
    }

    #[test]
    fn invalid_objects_are_refused_with_the_embedded_apis_field_errors() {
        let registry = Registry::standard();
        let bad = certificate(json!({"secretName": "web-tls", "issuerRef": {"name": "ca"}}));
        let answer = review(
            &registry,
            Kind::Validating,
            &request("CREATE", "certificates", bad.clone()),
        );
        assert_eq!(answer["response"]["uid"], "0d3c-1");
        assert_eq!(answer["response"]["allowed"], false);
        let status = &answer["response"]["status"];
        assert_eq!(status["code"], 422);
        assert_eq!(status["reason"], "Invalid");
        // The same words as the embedded API's refusal of the same object.
        let resource = registry
            .lookup("cert-manager.io", "v1", "certificates")
            .unwrap();
        let embedded = admit(
            &resource,
            Operation::Create,
            bad,
            &UserInfo::default(),
            FieldValidation::Ignore,
        )
        .expect_err("refused");
        assert_eq!(status["message"], embedded.message.as_str());
        assert!(
            status["message"]
                .as_str()
                .unwrap()
                .contains("at least one of commonName")
                || status["details"]["causes"].is_array(),
            "{status}"
        );

        let good = certificate(
            json!({"secretName": "web-tls", "dnsNames": ["example.com"], "issuerRef": {"name": "ca"}}),
        );
        let answer = review(
            &registry,
            Kind::Validating,
            &request("CREATE", "certificates", good),
        );
        assert_eq!(answer["response"]["allowed"], true);
    }

    #[test]
    fn mutation_sets_the_requester_of_a_certificate_request() {
        let registry = Registry::standard();
        let key = rcgen::KeyPair::generate_for(&rcgen::PKCS_ECDSA_P256_SHA256).unwrap();
        let csr = rcgen::CertificateParams::new(vec!["example.com".to_owned()])
            .unwrap()
            .serialize_request(&key)
            .unwrap()
            .pem()
            .unwrap();
        let object = json!({
            "apiVersion": "cert-manager.io/v1", "kind": "CertificateRequest",
            "metadata": {"name": "r", "namespace": "default"},
            "spec": {
                "request": base64::engine::general_purpose::STANDARD.encode(csr),
                "issuerRef": {"name": "ca"},
                "username": "mallory",
            },
        });
        let answer = review(
            &registry,
            Kind::Mutating,
            &request("CREATE", "certificaterequests", object.clone()),
        );
        assert_eq!(answer["response"]["allowed"], true, "{answer}");
        assert_eq!(answer["response"]["patchType"], "JSONPatch");
        let patch = patch_of(&answer);
        let patched = {
            let mut doc = object;
            let ops: json_patch::Patch = serde_json::from_value(Value::Array(patch)).unwrap();
            json_patch::patch(&mut doc, &ops).unwrap();
            doc
        };
        assert_eq!(patched["spec"]["username"], "alice");
        assert_eq!(patched["spec"]["uid"], "u-1");
        assert_eq!(
            patched["spec"]["groups"],
            json!(["devs", "system:authenticated"])
        );
    }

    #[test]
    fn other_groups_subresources_and_deletes_are_allowed_untouched() {
        let registry = Registry::standard();
        let mut secret = request("CREATE", "secrets", json!({"kind": "Secret"}));
        secret["request"]["resource"]["group"] = json!("");
        let answer = review(&registry, Kind::Mutating, &secret);
        assert_eq!(
            answer["response"],
            json!({"allowed": true, "uid": "0d3c-1"})
        );
        let mut status = request("UPDATE", "certificates", certificate(json!({})));
        status["request"]["subResource"] = json!("status");
        assert_eq!(
            review(&registry, Kind::Validating, &status)["response"]["allowed"],
            true
        );
        let delete = request("DELETE", "certificates", Value::Null);
        assert_eq!(
            review(&registry, Kind::Validating, &delete)["response"]["allowed"],
            true
        );
    }
}
