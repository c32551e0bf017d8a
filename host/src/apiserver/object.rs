//! Reading and writing the `metadata` of objects kept as JSON. The server
//! stores objects as they were sent (after admission), so it works on
//! `serde_json::Value` rather than typed structs: one code path serves every
//! kind, and fields the server does not know survive untouched.

use std::collections::BTreeMap;

use rand::Rng;
use serde_json::{Map, Value, json};

use crate::api::FieldError;

/// `metadata.name`, or `""`.
pub fn name(object: &Value) -> &str {
    object
        .pointer("/metadata/name")
        .and_then(Value::as_str)
        .unwrap_or("")
}

/// `metadata.namespace`, or `""`.
pub fn namespace(object: &Value) -> &str {
    object
        .pointer("/metadata/namespace")
        .and_then(Value::as_str)
        .unwrap_or("")
}

/// `metadata.uid`, or `""`.
pub fn uid(object: &Value) -> &str {
    object
        .pointer("/metadata/uid")
        .and_then(Value::as_str)
        .unwrap_or("")
}

/// `metadata.resourceVersion` as sent; `None` when absent or empty.
pub fn resource_version(object: &Value) -> Option<&str> {
    object
        .pointer("/metadata/resourceVersion")
        .and_then(Value::as_str)
        .filter(|rv| !rv.is_empty())
}

/// The object's `metadata` map, created when missing.
pub fn metadata_mut(object: &mut Value) -> &mut Map<String, Value> {
    if !object.is_object() {
        *object = json!({});
    }
    let Some(map) = object.as_object_mut() else {
        unreachable!("made an object above")
    };
    let meta = map
        .entry("metadata")
        .or_insert_with(|| Value::Object(Map::new()));
    if !meta.is_object() {
        *meta = Value::Object(Map::new());
    }
    match meta {
        Value::Object(m) => m,
        _ => unreachable!("made an object above"),
    }
}

/// Sets `metadata.resourceVersion`.
pub fn set_resource_version(object: &mut Value, revision: u64) {
    metadata_mut(object).insert(
        "resourceVersion".to_owned(),
        Value::String(revision.to_string()),
    );
}

/// `metadata.labels`.
pub fn labels(object: &Value) -> BTreeMap<String, String> {
    string_map(object.pointer("/metadata/labels"))
}

fn string_map(value: Option<&Value>) -> BTreeMap<String, String> {
    value
        .and_then(Value::as_object)
        .map(|m| {
            m.iter()
                .map(|(k, v)| (k.clone(), v.as_str().unwrap_or_default().to_owned()))
                .collect()
        })
        .unwrap_or_default()
}

/// `metadata.finalizers`.
pub fn finalizers(object: &Value) -> Vec<String> {
    object
        .pointer("/metadata/finalizers")
        .and_then(Value::as_array)
        .map(|a| {
            a.iter()
                .filter_map(|f| f.as_str().map(str::to_owned))
                .collect()
        })
        .unwrap_or_default()
}

/// Whether `metadata.deletionTimestamp` is set.
pub fn is_deleting(object: &Value) -> bool {
    object
        .pointer("/metadata/deletionTimestamp")
        .is_some_and(|v| !v.is_null())
}

/// The uids in `metadata.ownerReferences`.
pub fn owner_uids(object: &Value) -> Vec<String> {
    object
        .pointer("/metadata/ownerReferences")
        .and_then(Value::as_array)
        .map(|refs| {
            refs.iter()
                .filter_map(|r| r.get("uid").and_then(Value::as_str).map(str::to_owned))
                .collect()
        })
        .unwrap_or_default()
}

/// `metadata.generation`, 0 when unset.
pub fn generation(object: &Value) -> i64 {
    object
        .pointer("/metadata/generation")
        .and_then(Value::as_i64)
        .unwrap_or(0)
}

/// The time as Kubernetes writes timestamps: see [`crate::clock::timestamp`].
pub use crate::clock::timestamp;

/// A fresh object uid (RFC 4122 version 4, as kube-apiserver's).
pub fn new_uid() -> String {
    uuid::Uuid::new_v4().to_string()
}

/// The random suffix `generateName` gets: five characters from
/// kube-apiserver's alphabet (no vowels, no look-alike digits).
pub fn generated_suffix() -> String {
    const ALPHABET: &[u8] = b"bcdfghjklmnpqrstvwxz2456789";
    let mut rng = rand::thread_rng();
    (0..5)
        .map(|_| char::from(ALPHABET[rng.gen_range(0..ALPHABET.len())]))
        .collect()
}

/// Why a name or namespace taken from a request path cannot name anything
/// (kube-apiserver's `IsValidPathSegmentName`): `.` and `..` would
/// address another path and `/` or `%` cannot survive one. The request is
/// refused with 400 before any lookup, as kube-apiserver's key function
/// does.
pub fn path_segment_problem(segment: &str) -> Option<&'static str> {
    if segment == "." || segment == ".." {
        return Some("may not be '.' or '..'");
    }
    if segment.contains('/') {
        return Some("may not contain '/'");
    }
    if segment.contains('%') {
        return Some("may not contain '%'");
    }
    None
}

/// Checks a name as a DNS-1123 subdomain (what kube-apiserver requires of
/// most kinds' names), naming `metadata.name` on failure.
pub fn validate_name(name: &str) -> Option<FieldError> {
    if name.is_empty() {
        return Some(FieldError::required(
            "metadata.name",
            "name or generateName is required",
        ));
    }
    let valid_label = |label: &str| {
        !label.is_empty()
            && label
                .bytes()
                .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-')
            && !label.starts_with('-')
            && !label.ends_with('-')
    };
    if name.len() > 253 || !name.split('.').all(valid_label) {
        return Some(FieldError::invalid(
            "metadata.name",
            format!("{name:?}"),
            "a lowercase RFC 1123 subdomain must consist of lower case alphanumeric characters, '-' or '.', and must start and end with an alphanumeric character (e.g. 'example.com', regex used for validation is '[a-z0-9]([-a-z0-9]*[a-z0-9])?(\\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*')",
        ));
    }
    None
}

/// Checks a namespace name as a DNS-1123 label.
pub fn validate_namespace_name(name: &str) -> Option<FieldError> {
    let ok = !name.is_empty()
        && name.len() <= 63
        && name
            .bytes()
            .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-')
        && !name.starts_with('-')
        && !name.ends_with('-');
    (!ok).then(|| {
        FieldError::invalid(
            "metadata.name",
            format!("{name:?}"),
            "a lowercase RFC 1123 label must consist of lower case alphanumeric characters or '-', and must start and end with an alphanumeric character (e.g. 'my-name',  or '123-abc', regex used for validation is '[a-z0-9]([-a-z0-9]*[a-z0-9])?')",
        )
    })
}

/// Everything but `metadata` and `status`: what `metadata.generation`
/// counts changes of.
pub fn spec_part(object: &Value) -> Value {
    let mut copy = object.clone();
    if let Some(map) = copy.as_object_mut() {
        map.remove("metadata");
        map.remove("status");
    }
    copy
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_follow_dns_rules() {
        assert!(validate_name("example.com").is_none());
        assert!(validate_name("my-cert").is_none());
        let err = validate_name("My_Cert").expect("invalid");
        assert_eq!(err.path, "metadata.name");
        assert!(validate_name("").is_some());
        assert!(validate_namespace_name("a.b").is_some());
        assert!(validate_namespace_name("team-a").is_none());
    }

    #[test]
    fn timestamps_are_rfc3339_seconds_utc() {
        let t = time::macros::datetime!(2026-11-23 03:04:05.678 UTC);
        assert_eq!(timestamp(t), "2026-11-23T03:04:05Z");
    }

    #[test]
    fn metadata_accessors_read_what_is_there() {
        let mut object = json!({"metadata": {"name": "a", "namespace": "ns", "finalizers": ["x"],
            "ownerReferences": [{"uid": "u1"}], "labels": {"app": "web"}}});
        assert_eq!(name(&object), "a");
        assert_eq!(namespace(&object), "ns");
        assert_eq!(finalizers(&object), vec!["x"]);
        assert_eq!(owner_uids(&object), vec!["u1"]);
        assert_eq!(labels(&object).get("app").map(String::as_str), Some("web"));
        set_resource_version(&mut object, 7);
        assert_eq!(resource_version(&object), Some("7"));
        assert_eq!(generated_suffix().len(), 5);
    }
}
