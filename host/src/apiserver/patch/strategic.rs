//! Strategic merge patch: what `kubectl apply` and `kubectl patch` send for
//! built-in kinds; lists merge by the keys Kubernetes declares for them.

use serde_json::{Value, json};

use super::PatchError;

/// How lists merge in a strategic merge patch, by path (map keys only).
#[derive(Debug, Clone, Default)]
pub struct PatchSchema {
    /// `(path, merge key)`: lists merged by that key; `None` for a list of
    /// primitives merged as a set.
    merge_lists: Vec<(Vec<&'static str>, Option<&'static str>)>,
}

impl PatchSchema {
    /// The schema of a built-in kind; custom resources have none.
    pub fn for_kind(api_version: &str, kind: &str) -> Result<PatchSchema, PatchError> {
        let mut merge_lists: Vec<(Vec<&'static str>, Option<&'static str>)> = vec![
            (vec!["metadata", "finalizers"], None),
            (vec!["metadata", "ownerReferences"], Some("uid")),
        ];
        match (api_version, kind) {
            ("v1", "Service") => merge_lists.push((vec!["spec", "ports"], Some("port"))),
            ("v1", "Secret" | "ConfigMap" | "Namespace" | "Event")
            | ("events.k8s.io/v1", "Event")
            | ("networking.k8s.io/v1", "Ingress")
            | ("coordination.k8s.io/v1", "Lease") => {}
            _ => {
                return Err(PatchError::StrategicMergeUnsupported {
                    kind: format!("{kind}.{api_version}"),
                });
            }
        }
        Ok(PatchSchema { merge_lists })
    }

    fn list_strategy(&self, path: &[String]) -> Option<Option<&'static str>> {
        self.merge_lists
            .iter()
            .find(|(p, _)| p.len() == path.len() && p.iter().zip(path).all(|(a, b)| a == b))
            .map(|(_, key)| *key)
    }
}

/// Applies a strategic merge patch.
pub fn strategic_merge_patch(
    target: &mut Value,
    patch: &Value,
    schema: &PatchSchema,
) -> Result<(), PatchError> {
    let mut path = Vec::new();
    if smp_merge(target, patch, schema, &mut path)? == Outcome::Delete {
        *target = json!({});
    }
    Ok(())
}

#[derive(Debug, PartialEq, Eq)]
enum Outcome {
    Keep,
    Delete,
}

fn strip_directives(value: &Value) -> Value {
    match value {
        Value::Object(map) => Value::Object(
            map.iter()
                .filter(|(k, _)| !k.starts_with('$'))
                .map(|(k, v)| (k.clone(), strip_directives(v)))
                .collect(),
        ),
        Value::Array(items) => Value::Array(items.iter().map(strip_directives).collect()),
        other => other.clone(),
    }
}

fn smp_merge(
    target: &mut Value,
    patch: &Value,
    schema: &PatchSchema,
    path: &mut Vec<String>,
) -> Result<Outcome, PatchError> {
    let Value::Object(patch_map) = patch else {
        *target = patch.clone();
        return Ok(Outcome::Keep);
    };
    match patch_map.get("$patch").and_then(Value::as_str) {
        Some("replace") => {
            *target = strip_directives(patch);
            return Ok(Outcome::Keep);
        }
        Some("delete") => return Ok(Outcome::Delete),
        Some("merge") | None => {}
        Some(other) => {
            return Err(PatchError::Strategic(format!(
                "unknown $patch value {other:?}"
            )));
        }
    }
    if !target.is_object() {
        *target = json!({});
    }
    let mut orders: Vec<(String, Vec<Value>)> = Vec::new();
    let mut retain: Option<Vec<String>> = None;
    for (key, value) in patch_map {
        if let Some(field) = key.strip_prefix("$setElementOrder/") {
            orders.push((
                field.to_owned(),
                value.as_array().cloned().unwrap_or_default(),
            ));
            continue;
        }
        if let Some(field) = key.strip_prefix("$deleteFromPrimitiveList/") {
            let remove = value.as_array().cloned().unwrap_or_default();
            if let Some(Value::Array(list)) = target.get_mut(field) {
                list.retain(|v| !remove.contains(v));
            }
            continue;
        }
        if key == "$retainKeys" {
            retain = Some(
                value
                    .as_array()
                    .into_iter()
                    .flatten()
                    .filter_map(|v| v.as_str().map(str::to_owned))
                    .collect(),
            );
            continue;
        }
        if key == "$patch" {
            continue;
        }
        if key.starts_with('$') {
            return Err(PatchError::Strategic(format!("unknown directive {key:?}")));
        }
        let Some(target_map) = target.as_object_mut() else {
            continue;
        };
        if value.is_null() {
            target_map.remove(key);
            continue;
        }
        path.push(key.clone());
        match (value, schema.list_strategy(path)) {
            (Value::Array(items), Some(merge_key)) => {
                let list = target_map
                    .entry(key.clone())
                    .or_insert_with(|| Value::Array(Vec::new()));
                if !list.is_array() {
                    *list = Value::Array(Vec::new());
                }
                if let Value::Array(list) = list {
                    merge_list(list, items, merge_key, schema, path)?;
                }
            }
            (Value::Object(_), _) => {
                let slot = target_map.entry(key.clone()).or_insert(Value::Null);
                if smp_merge(slot, value, schema, path)? == Outcome::Delete {
                    target_map.remove(key);
                }
            }
            _ => {
                target_map.insert(key.clone(), strip_directives(value));
            }
        }
        path.pop();
    }
    for (field, order) in orders {
        if let Some(Value::Array(list)) = target.get_mut(&field) {
            path.push(field.clone());
            let key = schema.list_strategy(path).flatten();
            path.pop();
            reorder(list, &order, key);
        }
    }
    if let (Some(keep), Some(map)) = (retain, target.as_object_mut()) {
        map.retain(|k, _| keep.contains(k));
    }
    Ok(Outcome::Keep)
}

fn merge_list(
    list: &mut Vec<Value>,
    items: &[Value],
    merge_key: Option<&str>,
    schema: &PatchSchema,
    path: &mut Vec<String>,
) -> Result<(), PatchError> {
    let Some(key) = merge_key else {
        for item in items {
            if !list.contains(item) {
                list.push(item.clone());
            }
        }
        return Ok(());
    };
    for item in items {
        let id = item.get(key).cloned();
        let position = id
            .as_ref()
            .and_then(|id| list.iter().position(|e| e.get(key) == Some(id)));
        let delete = item.get("$patch").and_then(Value::as_str) == Some("delete");
        match (position, delete) {
            (Some(index), true) => {
                list.remove(index);
            }
            (None, true) => {}
            (Some(index), false) => {
                smp_merge(&mut list[index], item, schema, path)?;
            }
            (None, false) => list.push(strip_directives(item)),
        }
    }
    Ok(())
}

fn reorder(list: &mut Vec<Value>, order: &[Value], key: Option<&str>) {
    let identity = |v: &Value| match key {
        Some(key) => v.get(key).cloned().unwrap_or(Value::Null),
        None => v.clone(),
    };
    let wanted: Vec<Value> = order.iter().map(&identity).collect();
    let mut ordered: Vec<Value> = Vec::with_capacity(list.len());
    for id in &wanted {
        if let Some(index) = list.iter().position(|e| identity(e) == *id) {
            ordered.push(list.remove(index));
        }
    }
    ordered.append(list);
    *list = ordered;
}
