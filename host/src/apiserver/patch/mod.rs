//! The patch formats kube-apiserver accepts, applied to JSON objects:
//! JSON merge patch (RFC 7386), JSON patch (RFC 6902), strategic merge
//! patch (what `kubectl apply` and `kubectl patch` send for built-in kinds),
//! and server-side apply with field ownership in `metadata.managedFields`
//! (what kube-rs's `Patch::Apply` and `kubectl apply --server-side` send).
//!
//! Written here because no crate implements Kubernetes' strategic merge or
//! managed fields outside Go; json-patch provides RFC 6902 and 7386.
//!
//! Simplifications, relative to kube-apiserver: strategic merge knows the
//! merge keys of the kinds this server serves only (listed in
//! [`PatchSchema::for_kind`]); server-side apply treats every list as atomic
//! except `conditions` (keyed by `type`) and `ownerReferences` (keyed by
//! `uid`), which is how cert-manager's and most controllers' lists behave.

use serde_json::Value;

mod apply;
mod strategic;

pub use apply::{owners, record_update, server_side_apply};
pub use strategic::{PatchSchema, strategic_merge_patch};

/// Why a patch could not be applied.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum PatchError {
    /// A JSON patch is malformed or an operation failed.
    #[error("json patch: {0}")]
    Json(String),
    /// A strategic merge patch directive is unknown or misused.
    #[error("strategic merge patch: {0}")]
    Strategic(String),
    /// Server-side apply: another applier owns a field with another value.
    #[error("conflict with \"{manager}\": {field}")]
    Conflict {
        /// The field, as `.spec.secretName`.
        field: String,
        /// The manager owning it.
        manager: String,
    },
    /// Strategic merge patch on a custom resource, as kube-apiserver refuses.
    #[error(
        "strategic merge patch is not supported for {kind}: use a JSON merge patch (--type merge) or a JSON patch"
    )]
    StrategicMergeUnsupported {
        /// The kind.
        kind: String,
    },
}

/// RFC 7386 JSON merge patch: objects merge, `null` deletes, anything else
/// replaces.
pub fn merge_patch(target: &mut Value, patch: &Value) {
    json_patch::merge(target, patch);
}

/// RFC 6902 JSON patch, all-or-nothing: the operations run on a copy that
/// replaces `target` only when all succeed. (The crate's own undo log does
/// not undo a `move` that failed halfway — its source removed, its
/// destination out of range — and panics if an undo fails.)
pub fn json_patch(target: &mut Value, patch: &Value) -> Result<(), PatchError> {
    let operations: json_patch::Patch =
        serde_json::from_value(patch.clone()).map_err(|e| PatchError::Json(e.to_string()))?;
    let mut patched = target.clone();
    json_patch::patch_unsafe(&mut patched, &operations)
        .map_err(|e| PatchError::Json(e.to_string()))?;
    *target = patched;
    Ok(())
}

#[cfg(test)]
mod tests;
