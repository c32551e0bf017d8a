//! PROVISIONAL: replaced by the full module.
use serde_json::Value;

#[derive(Debug, thiserror::Error)]
pub enum PatchError {
    #[error("json patch: {0}")]
    Json(String),
    #[error("conflict on {field} with {manager}")]
    Conflict { field: String, manager: String },
    #[error("strategic merge patch is not supported for {kind}")]
    StrategicMergeUnsupported { kind: String },
}

pub fn merge_patch(target: &mut Value, patch: &Value) {
    json_patch::merge(target, patch);
}

pub fn json_patch(target: &mut Value, patch: &Value) -> Result<(), PatchError> {
    let p: json_patch::Patch =
        serde_json::from_value(patch.clone()).map_err(|e| PatchError::Json(e.to_string()))?;
    json_patch::patch(target, &p).map_err(|e| PatchError::Json(e.to_string()))
}

#[derive(Debug)]
pub struct PatchSchema;
impl PatchSchema {
    pub fn for_kind(_a: &str, kind: &str) -> Result<PatchSchema, PatchError> {
        let _ = kind;
        Ok(PatchSchema)
    }
}
pub fn strategic_merge_patch(
    target: &mut Value,
    patch: &Value,
    _s: &PatchSchema,
) -> Result<(), PatchError> {
    json_patch::merge(target, patch);
    Ok(())
}
pub fn server_side_apply(
    live: Option<&Value>,
    applied: &Value,
    _m: &str,
    _f: bool,
) -> Result<Value, PatchError> {
    let mut v = live.cloned().unwrap_or(Value::Null);
    json_patch::merge(&mut v, applied);
    Ok(v)
}
pub fn record_update(_old: Option<&Value>, _new: &mut Value, _m: &str) {}
