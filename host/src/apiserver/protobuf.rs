//! Request bodies in Kubernetes protobuf. kubectl's typed commands —
//! `kubectl create secret|configmap|namespace` — encode their object as
//! protobuf (the `k8s\0` envelope around a `runtime.Unknown`), and client-go
//! has no fallback to JSON for them. This module decodes just those kinds
//! into the JSON the rest of the server works with. Responses are always
//! JSON, which client-go accepts whatever it asked for.
//!
//! The messages are declared with prost's derive, field numbers as in
//! Kubernetes' `generated.proto`; unknown fields are skipped by prost, so a
//! newer kubectl does not break decoding.

use std::collections::BTreeMap;

use base64::Engine;
use prost::Message;
use serde_json::{Map, Value, json};

/// The 4-byte prefix of every Kubernetes protobuf body.
pub const MAGIC: &[u8] = b"k8s\0";

/// Why a protobuf body could not be read.
#[derive(Debug, thiserror::Error)]
pub enum ProtobufError {
    /// The body does not start with the Kubernetes magic.
    #[error("not a Kubernetes protobuf body (no k8s\\0 prefix)")]
    NoMagic,
    /// The envelope or object is malformed.
    #[error("malformed protobuf: {0}")]
    Decode(#[from] prost::DecodeError),
    /// A kind this server cannot read as protobuf.
    #[error(
        "protobuf bodies are accepted for Secret, ConfigMap and Namespace only, not {0}; send JSON"
    )]
    Unsupported(String),
}

#[derive(Clone, PartialEq, Message)]
struct Unknown {
    #[prost(message, optional, tag = "1")]
    type_meta: Option<TypeMeta>,
    #[prost(bytes = "vec", optional, tag = "2")]
    raw: Option<Vec<u8>>,
}

#[derive(Clone, PartialEq, Message)]
struct TypeMeta {
    #[prost(string, optional, tag = "1")]
    api_version: Option<String>,
    #[prost(string, optional, tag = "2")]
    kind: Option<String>,
}

#[derive(Clone, PartialEq, Message)]
struct ObjectMeta {
    #[prost(string, optional, tag = "1")]
    name: Option<String>,
    #[prost(string, optional, tag = "2")]
    generate_name: Option<String>,
    #[prost(string, optional, tag = "3")]
    namespace: Option<String>,
    #[prost(string, optional, tag = "6")]
    resource_version: Option<String>,
    #[prost(btree_map = "string, string", tag = "11")]
    labels: BTreeMap<String, String>,
    #[prost(btree_map = "string, string", tag = "12")]
    annotations: BTreeMap<String, String>,
    #[prost(message, repeated, tag = "13")]
    owner_references: Vec<OwnerReference>,
    #[prost(string, repeated, tag = "14")]
    finalizers: Vec<String>,
}

#[derive(Clone, PartialEq, Message)]
struct OwnerReference {
    #[prost(string, optional, tag = "1")]
    kind: Option<String>,
    #[prost(string, optional, tag = "3")]
    name: Option<String>,
    #[prost(string, optional, tag = "4")]
    uid: Option<String>,
    #[prost(string, optional, tag = "5")]
    api_version: Option<String>,
    #[prost(bool, optional, tag = "6")]
    controller: Option<bool>,
    #[prost(bool, optional, tag = "7")]
    block_owner_deletion: Option<bool>,
}

#[derive(Clone, PartialEq, Message)]
struct Secret {
    #[prost(message, optional, tag = "1")]
    metadata: Option<ObjectMeta>,
    #[prost(btree_map = "string, bytes", tag = "2")]
    data: BTreeMap<String, Vec<u8>>,
    #[prost(string, optional, tag = "3")]
    r#type: Option<String>,
    #[prost(btree_map = "string, string", tag = "4")]
    string_data: BTreeMap<String, String>,
    #[prost(bool, optional, tag = "5")]
    immutable: Option<bool>,
}

#[derive(Clone, PartialEq, Message)]
struct ConfigMap {
    #[prost(message, optional, tag = "1")]
    metadata: Option<ObjectMeta>,
    #[prost(btree_map = "string, string", tag = "2")]
    data: BTreeMap<String, String>,
    #[prost(btree_map = "string, bytes", tag = "3")]
    binary_data: BTreeMap<String, Vec<u8>>,
    #[prost(bool, optional, tag = "4")]
    immutable: Option<bool>,
}

#[derive(Clone, PartialEq, Message)]
struct Namespace {
    #[prost(message, optional, tag = "1")]
    metadata: Option<ObjectMeta>,
}

fn metadata_json(meta: Option<ObjectMeta>) -> Value {
    let meta = meta.unwrap_or_default();
    let mut out = Map::new();
    let mut put = |key: &str, value: Option<String>| {
        if let Some(value) = value.filter(|v| !v.is_empty()) {
            out.insert(key.to_owned(), Value::String(value));
        }
    };
    put("name", meta.name);
    put("generateName", meta.generate_name);
    put("namespace", meta.namespace);
    put("resourceVersion", meta.resource_version);
    if !meta.labels.is_empty() {
        out.insert("labels".to_owned(), json!(meta.labels));
    }
    if !meta.annotations.is_empty() {
        out.insert("annotations".to_owned(), json!(meta.annotations));
    }
    if !meta.finalizers.is_empty() {
        out.insert("finalizers".to_owned(), json!(meta.finalizers));
    }
    if !meta.owner_references.is_empty() {
        let refs: Vec<Value> = meta
            .owner_references
            .into_iter()
            .map(|r| {
                let mut value = json!({
                    "apiVersion": r.api_version.unwrap_or_default(),
                    "kind": r.kind.unwrap_or_default(),
                    "name": r.name.unwrap_or_default(),
                    "uid": r.uid.unwrap_or_default(),
                });
                if let Some(controller) = r.controller {
                    value["controller"] = json!(controller);
                }
                if let Some(block) = r.block_owner_deletion {
                    value["blockOwnerDeletion"] = json!(block);
                }
                value
            })
            .collect();
        out.insert("ownerReferences".to_owned(), Value::Array(refs));
    }
    Value::Object(out)
}

fn base64_map(map: BTreeMap<String, Vec<u8>>) -> Value {
    let engine = base64::engine::general_purpose::STANDARD;
    Value::Object(
        map.into_iter()
            .map(|(k, v)| (k, Value::String(engine.encode(v))))
            .collect(),
    )
}

/// Decodes a protobuf request body into the object's JSON.
pub fn decode(body: &[u8]) -> Result<Value, ProtobufError> {
    let payload = body.strip_prefix(MAGIC).ok_or(ProtobufError::NoMagic)?;
    let envelope = Unknown::decode(payload)?;
    let type_meta = envelope.type_meta.unwrap_or_default();
    let api_version = type_meta.api_version.unwrap_or_default();
    let kind = type_meta.kind.unwrap_or_default();
    let raw = envelope.raw.unwrap_or_default();
    let mut object = match (api_version.as_str(), kind.as_str()) {
        ("v1", "Secret") => {
            let secret = Secret::decode(raw.as_slice())?;
            let mut object = json!({"metadata": metadata_json(secret.metadata)});
            if !secret.data.is_empty() {
                object["data"] = base64_map(secret.data);
            }
            if !secret.string_data.is_empty() {
                object["stringData"] = json!(secret.string_data);
            }
            if let Some(kind) = secret.r#type.filter(|t| !t.is_empty()) {
                object["type"] = json!(kind);
            }
            if let Some(immutable) = secret.immutable {
                object["immutable"] = json!(immutable);
            }
            object
        }
        ("v1", "ConfigMap") => {
            let map = ConfigMap::decode(raw.as_slice())?;
            let mut object = json!({"metadata": metadata_json(map.metadata)});
            if !map.data.is_empty() {
                object["data"] = json!(map.data);
            }
            if !map.binary_data.is_empty() {
                object["binaryData"] = base64_map(map.binary_data);
            }
            if let Some(immutable) = map.immutable {
                object["immutable"] = json!(immutable);
            }
            object
        }
        ("v1", "Namespace") => {
            let namespace = Namespace::decode(raw.as_slice())?;
            json!({"metadata": metadata_json(namespace.metadata)})
        }
        _ => return Err(ProtobufError::Unsupported(format!("{api_version} {kind}"))),
    };
    object["apiVersion"] = json!(api_version);
    object["kind"] = json!(kind);
    Ok(object)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn envelope(kind: &str, raw: Vec<u8>) -> Vec<u8> {
        let unknown = Unknown {
            type_meta: Some(TypeMeta {
                api_version: Some("v1".to_owned()),
                kind: Some(kind.to_owned()),
            }),
            raw: Some(raw),
        };
        let mut body = MAGIC.to_vec();
        body.extend(unknown.encode_to_vec());
        body
    }

    #[test]
    fn a_tls_secret_decodes_with_base64_data() {
        let secret = Secret {
            metadata: Some(ObjectMeta {
                name: Some("ca-key-pair".to_owned()),
                namespace: Some("default".to_owned()),
                labels: BTreeMap::from([("app".to_owned(), "ca".to_owned())]),
                ..Default::default()
            }),
            data: BTreeMap::from([("tls.key".to_owned(), b"key".to_vec())]),
            r#type: Some("kubernetes.io/tls".to_owned()),
            ..Default::default()
        };
        let object = decode(&envelope("Secret", secret.encode_to_vec())).expect("decodes");
        assert_eq!(object["kind"], "Secret");
        assert_eq!(object["metadata"]["name"], "ca-key-pair");
        assert_eq!(object["metadata"]["labels"]["app"], "ca");
        assert_eq!(object["data"]["tls.key"], "a2V5");
        assert_eq!(object["type"], "kubernetes.io/tls");
    }

    #[test]
    fn other_kinds_and_garbage_are_refused() {
        assert!(matches!(
            decode(&envelope("Pod", Vec::new())),
            Err(ProtobufError::Unsupported(_))
        ));
        assert!(matches!(decode(b"{}"), Err(ProtobufError::NoMagic)));
    }
}
