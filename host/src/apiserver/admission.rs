//! Admission: what cert-manager's webhook and kube-apiserver's built-in
//! rules do to an object before it is stored — decode it against its type
//! (naming the field that does not fit), apply defaults, validate, and
//! report fields the schema does not know (refused under
//! `fieldValidation=Strict`, a warning otherwise, as kube-apiserver does).
//!
//! cert-manager's kinds are round-tripped through their Rust types, which
//! also prunes unknown fields exactly as a structural CRD schema does.

use serde::Serialize;
use serde::de::DeserializeOwned;
use serde_json::{Map, Value};

use super::resource::{Admission, ResourceType};
use super::status::StatusError;
use crate::api::defaults::{self, UserInfo};
use crate::api::{self, ApiError, FieldError, validation};

/// How unknown fields are treated (the `fieldValidation` query parameter).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum FieldValidation {
    /// Drop them silently.
    Ignore,
    /// Drop them and say so in a `Warning` header (kube-apiserver's default).
    #[default]
    Warn,
    /// Refuse the request.
    Strict,
}

impl FieldValidation {
    /// Parses the query parameter; unknown values are a bad request.
    pub fn parse(value: Option<&str>) -> Result<FieldValidation, StatusError> {
        match value {
            None | Some("") | Some("Warn") => Ok(FieldValidation::Warn),
            Some("Ignore") => Ok(FieldValidation::Ignore),
            Some("Strict") => Ok(FieldValidation::Strict),
            Some(other) => Err(StatusError::bad_request(format!(
                "fieldValidation must be one of \"Ignore\", \"Warn\" or \"Strict\", not {other:?}"
            ))),
        }
    }
}

/// The write being admitted.
#[derive(Debug, Clone, Copy)]
pub enum Operation<'a> {
    /// A new object.
    Create,
    /// A change to `old`.
    Update(&'a Value),
    /// A change to `old` through its status subresource. The spec cannot
    /// change, so the spec rules are not applied (as a webhook sees no
    /// status writes): a controller can still record why an object that
    /// reached the store without admission is refused. Rules about status
    /// transitions (a CertificateRequest's approval) still apply.
    UpdateStatus(&'a Value),
}

impl<'a> Operation<'a> {
    /// The object before the write, for updates.
    fn old(self) -> Option<&'a Value> {
        match self {
            Self::Create => None,
            Self::Update(old) | Self::UpdateStatus(old) => Some(old),
        }
    }

    fn spec_may_change(self) -> bool {
        !matches!(self, Self::UpdateStatus(_))
    }
}

/// What admission made of the object: the object to store, and warnings
/// for the client.
#[derive(Debug)]
pub struct Admitted {
    /// The defaulted, validated object.
    pub object: Value,
    /// `Warning` header texts.
    pub warnings: Vec<String>,
}

/// Admits `object` of type `resource`.
pub fn admit(
    resource: &ResourceType,
    operation: Operation<'_>,
    object: Value,
    user: &UserInfo,
    fields: FieldValidation,
) -> Result<Admitted, StatusError> {
    match resource.admission {
        Admission::Certificate => typed::<api::Certificate>(resource, object, fields, |c| {
            defaults::set_certificate_defaults(c);
            Ok(if operation.spec_may_change() {
                validation::validate_certificate(c)
            } else {
                Vec::new()
            })
        }),
        Admission::CertificateRequest => {
            let old = operation
                .old()
                .map(|old| decode::<api::CertificateRequest>(resource, old))
                .transpose()?;
            typed::<api::CertificateRequest>(resource, object, fields, |r| {
                match &old {
                    None => defaults::set_certificate_request_identity(r, user),
                    Some(old) => {
                        // The requester fields are set once, by the server.
                        r.spec.uid.clone_from(&old.spec.uid);
                        r.spec.username.clone_from(&old.spec.username);
                        r.spec.groups.clone_from(&old.spec.groups);
                        r.spec.extra.clone_from(&old.spec.extra);
                    }
                }
                defaults::set_certificate_request_defaults(r);
                let mut errors = if operation.spec_may_change() {
                    validation::validate_certificate_request(r)
                } else {
                    Vec::new()
                };
                if let Some(old) = &old {
                    errors.extend(validation::validate_certificate_request_update(old, r));
                }
                Ok(errors)
            })
        }
        Admission::Issuer => {
            let mut warnings = Vec::new();
            let mut admitted = typed::<api::Issuer>(resource, object, fields, |i| {
                defaults::set_issuer_schema_defaults(&mut i.spec);
                if !operation.spec_may_change() {
                    return Ok(Vec::new());
                }
                warnings = validation::issuer_spec_warnings(&i.spec);
                Ok(validation::validate_issuer(i))
            })?;
            admitted.warnings.extend(warnings);
            Ok(admitted)
        }
        Admission::ClusterIssuer => {
            let mut warnings = Vec::new();
            let mut admitted = typed::<api::ClusterIssuer>(resource, object, fields, |i| {
                defaults::set_issuer_schema_defaults(&mut i.spec);
                if !operation.spec_may_change() {
                    return Ok(Vec::new());
                }
                warnings = validation::issuer_spec_warnings(&i.spec);
                Ok(validation::validate_cluster_issuer(i))
            })?;
            admitted.warnings.extend(warnings);
            Ok(admitted)
        }
        Admission::Order => {
            let old = operation
                .old()
                .map(|old| decode::<api::Order>(resource, old))
                .transpose()?;
            typed::<api::Order>(resource, object, fields, |o| {
                Ok(old
                    .as_ref()
                    .map(|old| validation::validate_order_update(old, o))
                    .unwrap_or_default())
            })
        }
        Admission::Challenge => {
            let old = operation
                .old()
                .map(|old| decode::<api::Challenge>(resource, old))
                .transpose()?;
            typed::<api::Challenge>(resource, object, fields, |c| {
                Ok(old
                    .as_ref()
                    .map(|old| validation::validate_challenge_update(old, c))
                    .unwrap_or_default())
            })
        }
        Admission::Secret => admit_secret(resource, object),
        Admission::None => Ok(Admitted {
            object,
            warnings: Vec::new(),
        }),
    }
}

fn decode<T: DeserializeOwned>(resource: &ResourceType, object: &Value) -> Result<T, StatusError> {
    api::decode::<T>(object.clone()).map_err(|err| decode_refusal(resource, object, err))
}

fn decode_refusal(resource: &ResourceType, object: &Value, err: ApiError) -> StatusError {
    let name = super::object::name(object);
    match err {
        ApiError::Decode(field) => {
            StatusError::invalid(&resource.kind, &resource.group, name, &[field])
        }
        other => StatusError::bad_request(other.to_string()),
    }
}

fn typed<T: DeserializeOwned + Serialize>(
    resource: &ResourceType,
    object: Value,
    fields: FieldValidation,
    check: impl FnOnce(&mut T) -> Result<Vec<FieldError>, StatusError>,
) -> Result<Admitted, StatusError> {
    let unknown = unknown_fields::<T>(&object);
    let mut warnings = Vec::new();
    if !unknown.is_empty() {
        let texts: Vec<String> = unknown
            .iter()
            .map(|f| format!("unknown field \"{f}\""))
            .collect();
        match fields {
            FieldValidation::Strict => {
                return Err(StatusError::bad_request(format!(
                    "{} in body: strict decoding error: {}",
                    resource.kind,
                    texts.join(", ")
                )));
            }
            FieldValidation::Warn => warnings = texts,
            FieldValidation::Ignore => {}
        }
    }
    let name = super::object::name(&object).to_owned();
    let mut typed: T = decode(resource, &object)?;
    let errors = check(&mut typed)?;
    if !errors.is_empty() {
        return Err(StatusError::invalid(
            &resource.kind,
            &resource.group,
            &name,
            &errors,
        ));
    }
    let object = serde_json::to_value(&typed)
        .map_err(|e| StatusError::internal(format!("cannot encode {}: {e}", resource.kind)))?;
    Ok(Admitted { object, warnings })
}

/// Paths of fields in `object` that `T` does not have.
fn unknown_fields<T: DeserializeOwned>(object: &Value) -> Vec<String> {
    let mut unknown = Vec::new();
    let result: Result<T, _> = serde_ignored::deserialize(object, |path| {
        let path = path.to_string().replace("?.", ".");
        // kube's derived types read the type fields through their own
        // deserializer, which serde_ignored reports as ignored.
        if path != "apiVersion" && path != "kind" {
            unknown.push(path);
        }
    });
    // Decode errors are reported (with the field) by the real decode.
    drop(result);
    unknown
}

/// Built-in rules for Secrets: `stringData` is folded into `data` (and
/// dropped), values must be base64, the type defaults to `Opaque`, and a
/// `kubernetes.io/tls` Secret must carry `tls.crt` and `tls.key`.
fn admit_secret(resource: &ResourceType, mut object: Value) -> Result<Admitted, StatusError> {
    use base64::Engine;
    let engine = base64::engine::general_purpose::STANDARD;
    let name = super::object::name(&object).to_owned();
    let mut errors = Vec::new();
    let Some(map) = object.as_object_mut() else {
        return Err(StatusError::bad_request("a Secret must be a JSON object"));
    };
    let mut data = match map.remove("data") {
        Some(Value::Object(data)) => data,
        None | Some(Value::Null) => Map::new(),
        Some(_) => {
            errors.push(FieldError::invalid(
                "data",
                String::new(),
                "must be a map of keys to base64 values",
            ));
            Map::new()
        }
    };
    for (key, value) in &data {
        let valid = value.as_str().is_some_and(|v| engine.decode(v).is_ok());
        if !valid {
            errors.push(FieldError::invalid(
                format!("data[{key}]"),
                "\"<secret contents redacted>\"".to_owned(),
                "must be base64-encoded bytes",
            ));
        }
    }
    if let Some(Value::Object(string_data)) = map.remove("stringData") {
        for (key, value) in string_data {
            let text = value.as_str().unwrap_or_default();
            data.insert(key, Value::String(engine.encode(text)));
        }
    }
    for key in data.keys() {
        let ok = !key.is_empty()
            && key.len() <= 253
            && key
                .bytes()
                .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'-' | b'_' | b'.'));
        if !ok {
            errors.push(FieldError::invalid(
                format!("data[{key}]"),
                format!("{key:?}"),
                "a valid config key must consist of alphanumeric characters, '-', '_' or '.'",
            ));
        }
    }
    let secret_type = map
        .entry("type")
        .or_insert_with(|| Value::String("Opaque".to_owned()))
        .as_str()
        .unwrap_or("Opaque")
        .to_owned();
    if secret_type == "kubernetes.io/tls" {
        for key in ["tls.crt", "tls.key"] {
            if !data.contains_key(key) {
                errors.push(FieldError::required(format!("data[{key}]"), ""));
            }
        }
    }
    if !data.is_empty() {
        map.insert("data".to_owned(), Value::Object(data));
    }
    if !errors.is_empty() {
        return Err(StatusError::invalid(&resource.kind, "", &name, &errors));
    }
    Ok(Admitted {
        object,
        warnings: Vec::new(),
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::apiserver::resource::Registry;
    use serde_json::json;

    fn certificates() -> std::sync::Arc<ResourceType> {
        Registry::standard()
            .lookup("cert-manager.io", "v1", "certificates")
            .expect("served")
    }

    fn certificate(spec: Value) -> Value {
        json!({"apiVersion": "cert-manager.io/v1", "kind": "Certificate",
               "metadata": {"name": "web", "namespace": "default"}, "spec": spec})
    }

    #[test]
    fn a_valid_certificate_is_admitted() {
        let admitted = admit(
            &certificates(),
            Operation::Create,
            certificate(json!({"secretName": "web-tls", "dnsNames": ["example.com"],
                "issuerRef": {"name": "ca"}})),
            &UserInfo::default(),
            FieldValidation::Strict,
        )
        .expect("admitted");
        assert_eq!(admitted.object["spec"]["secretName"], "web-tls");
        assert!(admitted.warnings.is_empty());
    }

    #[test]
    fn a_short_duration_is_refused_with_the_field_named() {
        let err = admit(
            &certificates(),
            Operation::Create,
            certificate(json!({"secretName": "web-tls", "dnsNames": ["example.com"],
                "issuerRef": {"name": "ca"}, "duration": "30m"})),
            &UserInfo::default(),
            FieldValidation::Warn,
        )
        .expect_err("refused");
        assert_eq!(err.code, 422);
        assert!(err.message.contains("spec.duration"), "{}", err.message);
        assert!(
            err.message
                .starts_with("Certificate.cert-manager.io \"web\" is invalid")
        );
    }

    #[test]
    fn unknown_fields_warn_or_refuse() {
        let object = certificate(json!({"secretName": "web-tls", "dnsNames": ["example.com"],
            "issuerRef": {"name": "ca"}, "colour": "blue"}));
        let warned = admit(
            &certificates(),
            Operation::Create,
            object.clone(),
            &UserInfo::default(),
            FieldValidation::Warn,
        )
        .expect("admitted");
        assert_eq!(warned.warnings, vec!["unknown field \"spec.colour\""]);
        assert!(warned.object["spec"].get("colour").is_none());
        let err = admit(
            &certificates(),
            Operation::Create,
            object,
            &UserInfo::default(),
            FieldValidation::Strict,
        )
        .expect_err("strict");
        assert_eq!(err.code, 400);
        assert!(err.message.contains("unknown field \"spec.colour\""));
    }

    #[test]
    fn secrets_fold_string_data_and_check_tls_keys() {
        let secrets = Registry::standard()
            .lookup("", "v1", "secrets")
            .expect("served");
        let admitted = admit(
            &secrets,
            Operation::Create,
            json!({"metadata": {"name": "s"}, "stringData": {"a": "hello"}}),
            &UserInfo::default(),
            FieldValidation::Warn,
        )
        .expect("admitted");
        assert_eq!(admitted.object["data"]["a"], "aGVsbG8=");
        assert_eq!(admitted.object["type"], "Opaque");
        assert!(admitted.object.get("stringData").is_none());
        let err = admit(
            &secrets,
            Operation::Create,
            json!({"metadata": {"name": "s"}, "type": "kubernetes.io/tls", "data": {"tls.crt": "eA=="}}),
            &UserInfo::default(),
            FieldValidation::Warn,
        )
        .expect_err("missing tls.key");
        assert!(err.message.contains("data[tls.key]"), "{}", err.message);
    }
}
