//! Field errors worded as the Kubernetes API server words them
//! (`k8s.io/apimachinery/pkg/util/validation/field`), so that a manifest
//! certwasm refuses reads the same as one cert-manager's webhook refuses:
//! `spec.secretName: Required value: must be specified`.

use std::fmt;

/// The kind of a field error; each has the wording and the machine-readable
/// cause type (`FieldValueRequired`, ...) of the Kubernetes API.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum FieldErrorKind {
    /// A required value is missing.
    Required,
    /// A value is malformed or out of range.
    Invalid,
    /// A value is well-formed but not allowed here.
    Forbidden,
    /// A value is not one of an enumerated set.
    NotSupported,
    /// A value that must be unique appears twice.
    Duplicate,
    /// A value is longer than allowed.
    TooLong,
}

impl FieldErrorKind {
    /// The human wording Kubernetes prints (`Invalid value`).
    pub fn label(self) -> &'static str {
        match self {
            Self::Required => "Required value",
            Self::Invalid => "Invalid value",
            Self::Forbidden => "Forbidden",
            Self::NotSupported => "Unsupported value",
            Self::Duplicate => "Duplicate value",
            Self::TooLong => "Too long",
        }
    }

    /// The cause type of a Kubernetes `Status` (`details.causes[].reason`).
    pub fn reason(self) -> &'static str {
        match self {
            Self::Required => "FieldValueRequired",
            Self::Invalid => "FieldValueInvalid",
            Self::Forbidden => "FieldValueForbidden",
            Self::NotSupported => "FieldValueNotSupported",
            Self::Duplicate => "FieldValueDuplicate",
            Self::TooLong => "FieldValueTooLong",
        }
    }

    /// Whether the rejected value is printed (Kubernetes omits it for
    /// required, forbidden and too-long errors).
    fn shows_value(self) -> bool {
        matches!(self, Self::Invalid | Self::NotSupported | Self::Duplicate)
    }
}

/// One validation failure, naming the field by its JSON path
/// (`spec.privateKey.size`, `spec.dnsNames[2]`).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct FieldError {
    /// Path of the field, e.g. `spec.duration`.
    pub path: String,
    /// What is wrong with it.
    pub kind: FieldErrorKind,
    /// The rejected value as Kubernetes prints it: strings quoted, numbers
    /// and booleans bare, other values as JSON. `None` when not shown.
    pub value: Option<String>,
    /// The explanation (Kubernetes' "detail"); may be empty.
    pub message: String,
}

impl FieldError {
    /// A required field is missing.
    pub fn required(path: impl Into<String>, message: impl Into<String>) -> Self {
        Self {
            path: path.into(),
            kind: FieldErrorKind::Required,
            value: None,
            message: message.into(),
        }
    }

    /// A value is invalid; `value` is rendered with [`quote`], [`bare`] or
    /// [`json`].
    pub fn invalid(path: impl Into<String>, value: String, message: impl Into<String>) -> Self {
        Self {
            path: path.into(),
            kind: FieldErrorKind::Invalid,
            value: Some(value),
            message: message.into(),
        }
    }

    /// A value is not allowed here.
    pub fn forbidden(path: impl Into<String>, message: impl Into<String>) -> Self {
        Self {
            path: path.into(),
            kind: FieldErrorKind::Forbidden,
            value: None,
            message: message.into(),
        }
    }

    /// A value is not one of `supported`.
    pub fn not_supported(path: impl Into<String>, value: String, supported: &[&str]) -> Self {
        let message = if supported.is_empty() {
            String::new()
        } else {
            let quoted: Vec<String> = supported.iter().map(|s| quote(s)).collect();
            format!("supported values: {}", quoted.join(", "))
        };
        Self {
            path: path.into(),
            kind: FieldErrorKind::NotSupported,
            value: Some(value),
            message,
        }
    }

    /// A value that must be unique is repeated.
    pub fn duplicate(path: impl Into<String>, value: String) -> Self {
        Self {
            path: path.into(),
            kind: FieldErrorKind::Duplicate,
            value: Some(value),
            message: String::new(),
        }
    }

    /// A value is longer than `max` bytes.
    pub fn too_long(path: impl Into<String>, max: usize) -> Self {
        let unit = if max == 1 { "byte" } else { "bytes" };
        Self {
            path: path.into(),
            kind: FieldErrorKind::TooLong,
            value: None,
            message: format!("may not be more than {max} {unit}"),
        }
    }

    /// The message without the path, as Kubernetes' `ErrorBody`.
    pub fn body(&self) -> String {
        let mut text = self.kind.label().to_owned();
        if self.kind.shows_value()
            && let Some(value) = &self.value
        {
            text.push_str(": ");
            text.push_str(value);
        }
        if !self.message.is_empty() {
            text.push_str(": ");
            text.push_str(&self.message);
        }
        text
    }
}

impl fmt::Display for FieldError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}: {}", self.path, self.body())
    }
}

impl std::error::Error for FieldError {}

/// Renders a string value as Kubernetes does (Go's `%q`).
pub fn quote(value: &str) -> String {
    format!("{value:?}")
}

/// Renders a number or boolean as Kubernetes does (bare).
pub fn bare(value: impl fmt::Display) -> String {
    value.to_string()
}

/// Renders a structured value as Kubernetes does (JSON).
pub fn json<T: serde::Serialize + ?Sized>(value: &T) -> String {
    serde_json::to_string(value).unwrap_or_else(|_| "<unprintable>".to_owned())
}

/// The message of the API server's 422 `Invalid` status:
/// `Certificate.cert-manager.io "web" is invalid: spec.duration: ...`, with
/// several errors in brackets, as `apierrors.NewInvalid` writes it.
pub fn invalid_message(kind: &str, group: &str, name: &str, errors: &[FieldError]) -> String {
    let qualified = if group.is_empty() {
        kind.to_owned()
    } else {
        format!("{kind}.{group}")
    };
    let mut unique: Vec<String> = Vec::with_capacity(errors.len());
    for error in errors {
        let text = error.to_string();
        if !unique.contains(&text) {
            unique.push(text);
        }
    }
    let aggregate = match unique.as_slice() {
        [] => String::new(),
        [one] => one.clone(),
        many => format!("[{}]", many.join(", ")),
    };
    format!("{qualified} {name:?} is invalid: {aggregate}")
}

/// A JSON path under construction, spelled as Kubernetes' `field.Path`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) struct FieldPath(String);

impl FieldPath {
    pub(crate) fn new(root: &str) -> Self {
        Self(root.to_owned())
    }

    pub(crate) fn child(&self, name: &str) -> Self {
        if self.0.is_empty() {
            Self(name.to_owned())
        } else {
            Self(format!("{}.{name}", self.0))
        }
    }

    pub(crate) fn children(&self, names: &[&str]) -> Self {
        names
            .iter()
            .fold(self.clone(), |path, name| path.child(name))
    }

    pub(crate) fn index(&self, index: usize) -> Self {
        Self(format!("{}[{index}]", self.0))
    }

    pub(crate) fn key(&self, key: &str) -> Self {
        Self(format!("{}[{key}]", self.0))
    }
}

impl From<&FieldPath> for String {
    fn from(path: &FieldPath) -> Self {
        path.0.clone()
    }
}

impl From<FieldPath> for String {
    fn from(path: FieldPath) -> Self {
        path.0
    }
}

impl fmt::Display for FieldPath {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}
