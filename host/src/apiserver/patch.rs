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

use std::collections::{BTreeMap, BTreeSet};

use serde_json::{Map, Value, json};

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

// ------------------------------------------------------------ strategic merge

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

// ------------------------------------------------------ server-side apply

/// One step of a FieldsV1 path: `f:<field>`, `k:{"type":"Ready"}` or `.`.
type FieldPath = Vec<String>;

/// The key field of an associative list at this field name.
fn list_key(field: &str) -> Option<&'static str> {
    match field {
        "conditions" => Some("type"),
        "ownerReferences" => Some("uid"),
        _ => None,
    }
}

/// Fields the apply machinery never treats as owned.
fn ignored(path: &[String]) -> bool {
    matches!(
        path.iter()
            .map(String::as_str)
            .collect::<Vec<_>>()
            .as_slice(),
        ["f:apiVersion"]
            | ["f:kind"]
            | ["f:metadata", "f:name"]
            | ["f:metadata", "f:namespace"]
            | ["f:metadata", "f:resourceVersion"]
            | ["f:metadata", "f:managedFields", ..]
            | ["f:metadata", "f:uid"]
            | ["f:metadata", "f:generation"]
            | ["f:metadata", "f:creationTimestamp"]
    )
}

fn leaves(value: &Value, path: &mut FieldPath, out: &mut BTreeSet<FieldPath>) {
    match value {
        Value::Object(map) if !map.is_empty() => {
            for (k, v) in map {
                path.push(format!("f:{k}"));
                if !ignored(path) {
                    match (v, list_key(k)) {
                        (Value::Array(items), Some(key)) => {
                            for item in items {
                                let Some(id) = item.get(key) else { continue };
                                path.push(format!("k:{}", json!({ key: id })));
                                path.push(".".to_owned());
                                out.insert(path.clone());
                                path.pop();
                                leaves(item, path, out);
                                path.pop();
                            }
                        }
                        _ => leaves(v, path, out),
                    }
                }
                path.pop();
            }
        }
        _ => {
            if !path.is_empty() {
                out.insert(path.clone());
            }
        }
    }
}

fn field_set(value: &Value) -> BTreeSet<FieldPath> {
    let mut out = BTreeSet::new();
    leaves(value, &mut Vec::new(), &mut out);
    out
}

/// Encodes a field set as FieldsV1.
fn encode(set: &BTreeSet<FieldPath>) -> Value {
    let mut root = Map::new();
    for path in set {
        let mut node = &mut root;
        for step in path {
            let next = node
                .entry(step.clone())
                .or_insert_with(|| Value::Object(Map::new()));
            let Value::Object(map) = next else { break };
            node = map;
        }
    }
    Value::Object(root)
}

/// Decodes FieldsV1 into a field set.
fn decode(fields: &Value) -> BTreeSet<FieldPath> {
    fn walk(node: &Value, path: &mut FieldPath, out: &mut BTreeSet<FieldPath>) {
        match node.as_object() {
            Some(map) if !map.is_empty() => {
                for (k, v) in map {
                    path.push(k.clone());
                    walk(v, path, out);
                    path.pop();
                }
            }
            _ => {
                if !path.is_empty() {
                    out.insert(path.clone());
                }
            }
        }
    }
    let mut out = BTreeSet::new();
    walk(fields, &mut Vec::new(), &mut out);
    out
}

/// The value at a field path, if present.
fn lookup<'a>(value: &'a Value, path: &[String]) -> Option<&'a Value> {
    let mut current = value;
    for step in path {
        if step == "." {
            continue;
        }
        if let Some(field) = step.strip_prefix("f:") {
            current = current.get(field)?;
        } else if let Some(key) = step.strip_prefix("k:") {
            let wanted: Value = serde_json::from_str(key).ok()?;
            let (name, id) = wanted.as_object()?.iter().next()?;
            current = current
                .as_array()?
                .iter()
                .find(|item| item.get(name) == Some(id))?;
        } else {
            return None;
        }
    }
    Some(current)
}

/// Removes the value at a field path (a map key, or a keyed list element).
fn remove(value: &mut Value, path: &[String]) {
    let Some((last, parents)) = path.split_last() else {
        return;
    };
    if last == "." {
        // The element itself: remove it from its list.
        let Some((element, list_path)) = parents.split_last() else {
            return;
        };
        let Some(key) = element.strip_prefix("k:") else {
            return;
        };
        let Ok(wanted) = serde_json::from_str::<Value>(key) else {
            return;
        };
        let Some((name, id)) = wanted.as_object().and_then(|m| m.iter().next()) else {
            return;
        };
        if let Some(Value::Array(list)) = lookup_mut(value, list_path) {
            list.retain(|item| item.get(name) != Some(id));
        }
        return;
    }
    if let (Some(field), Some(Value::Object(map))) =
        (last.strip_prefix("f:"), lookup_mut(value, parents))
    {
        map.remove(field);
    }
}

fn lookup_mut<'a>(value: &'a mut Value, path: &[String]) -> Option<&'a mut Value> {
    let mut current = value;
    for step in path {
        if step == "." {
            continue;
        }
        if let Some(field) = step.strip_prefix("f:") {
            current = current.get_mut(field)?;
        } else if let Some(key) = step.strip_prefix("k:") {
            let wanted: Value = serde_json::from_str(key).ok()?;
            let (name, id) = wanted.as_object()?.iter().next()?;
            let (name, id) = (name.clone(), id.clone());
            current = current
                .as_array_mut()?
                .iter_mut()
                .find(|item| item.get(&name) == Some(&id))?;
        } else {
            return None;
        }
    }
    Some(current)
}

/// The merge an apply performs: maps merge, keyed lists merge by key,
/// other lists and scalars replace.
fn apply_merge(target: &mut Value, applied: &Value, field: Option<&str>) {
    match (target, applied) {
        (Value::Object(target), Value::Object(applied)) => {
            for (k, v) in applied {
                if v.is_null() {
                    target.remove(k);
                    continue;
                }
                match target.get_mut(k) {
                    Some(slot) => apply_merge(slot, v, Some(k)),
                    None => {
                        target.insert(k.clone(), v.clone());
                    }
                }
            }
        }
        (Value::Array(target), Value::Array(applied)) if field.and_then(list_key).is_some() => {
            let key = field.and_then(list_key).unwrap_or("type");
            for item in applied {
                let id = item.get(key);
                match target.iter_mut().find(|e| id.is_some() && e.get(key) == id) {
                    Some(existing) => apply_merge(existing, item, None),
                    None => target.push(item.clone()),
                }
            }
        }
        (target, applied) => *target = applied.clone(),
    }
}

#[derive(Debug, Clone)]
struct ManagerEntry {
    manager: String,
    operation: String,
    api_version: String,
    fields: BTreeSet<FieldPath>,
}

fn managers(object: &Value) -> Vec<ManagerEntry> {
    object
        .pointer("/metadata/managedFields")
        .and_then(Value::as_array)
        .into_iter()
        .flatten()
        .map(|entry| ManagerEntry {
            manager: entry["manager"].as_str().unwrap_or_default().to_owned(),
            operation: entry["operation"].as_str().unwrap_or("Update").to_owned(),
            api_version: entry["apiVersion"].as_str().unwrap_or_default().to_owned(),
            fields: entry.get("fieldsV1").map(decode).unwrap_or_default(),
        })
        .collect()
}

fn write_managers(object: &mut Value, entries: &[ManagerEntry], now: &str) {
    let list: Vec<Value> = entries
        .iter()
        .filter(|e| !e.fields.is_empty())
        .map(|e| {
            json!({
                "manager": e.manager,
                "operation": e.operation,
                "apiVersion": e.api_version,
                "time": now,
                "fieldsType": "FieldsV1",
                "fieldsV1": encode(&e.fields),
            })
        })
        .collect();
    if list.is_empty() {
        if let Some(meta) = object.get_mut("metadata").and_then(Value::as_object_mut) {
            meta.remove("managedFields");
        }
    } else {
        super::object::metadata_mut(object).insert("managedFields".to_owned(), Value::Array(list));
    }
}

fn now_stamp() -> String {
    super::object::timestamp(time::OffsetDateTime::now_utc())
}

fn display(path: &[String]) -> String {
    path.iter()
        .filter(|s| *s != ".")
        .map(|s| match s.strip_prefix("f:") {
            Some(field) => format!(".{field}"),
            None => format!("[{}]", s.trim_start_matches("k:")),
        })
        .collect()
}

/// Server-side apply of `applied` by `manager` onto `live` (or onto
/// nothing, creating). Fields this manager applied before and no longer
/// applies are removed unless another manager owns them; a field another
/// applier owns with a different value is a conflict unless `force`.
pub fn server_side_apply(
    live: Option<&Value>,
    applied: &Value,
    manager: &str,
    force: bool,
) -> Result<Value, PatchError> {
    let mut result = live.cloned().unwrap_or_else(|| json!({}));
    let mut entries = managers(&result);
    let applied_fields = field_set(applied);
    let api_version = applied["apiVersion"]
        .as_str()
        .unwrap_or_default()
        .to_owned();

    // Conflicts with other appliers.
    for other in entries
        .iter()
        .filter(|e| e.manager != manager && e.operation == "Apply")
    {
        for field in applied_fields.intersection(&other.fields) {
            if lookup(&result, field) != lookup(applied, field) && !force {
                return Err(PatchError::Conflict {
                    field: display(field),
                    manager: other.manager.clone(),
                });
            }
        }
    }

    // Fields this manager stopped applying, owned by nobody else, go.
    let previous = entries
        .iter()
        .find(|e| e.manager == manager && e.operation == "Apply")
        .map(|e| e.fields.clone())
        .unwrap_or_default();
    let others: BTreeSet<FieldPath> = entries
        .iter()
        .filter(|e| !(e.manager == manager && e.operation == "Apply"))
        .flat_map(|e| e.fields.iter().cloned())
        .collect();
    // Remove deepest paths first, so an element's fields go before it.
    let mut dropped: Vec<&FieldPath> = previous
        .difference(&applied_fields)
        .filter(|f| !others.contains(*f))
        .collect();
    dropped.sort_by_key(|f| std::cmp::Reverse(f.len()));
    for field in dropped {
        remove(&mut result, field);
    }

    let mut body = applied.clone();
    if let Some(meta) = body.get_mut("metadata").and_then(Value::as_object_mut) {
        for skip in [
            "managedFields",
            "resourceVersion",
            "uid",
            "creationTimestamp",
            "generation",
        ] {
            meta.remove(skip);
        }
    }
    apply_merge(&mut result, &body, None);

    // Ownership: this manager owns what it applied; others lose it.
    for entry in &mut entries {
        if entry.manager != manager || entry.operation != "Apply" {
            entry.fields.retain(|f| !applied_fields.contains(f));
        }
    }
    match entries
        .iter_mut()
        .find(|e| e.manager == manager && e.operation == "Apply")
    {
        Some(entry) => {
            entry.fields = applied_fields;
            entry.api_version = api_version;
        }
        None => entries.push(ManagerEntry {
            manager: manager.to_owned(),
            operation: "Apply".to_owned(),
            api_version,
            fields: applied_fields,
        }),
    }
    write_managers(&mut result, &entries, &now_stamp());
    Ok(result)
}

/// Records that `manager` wrote `new` over `old` with a plain update or
/// patch: it now owns the fields that changed (others lose them), so a later
/// apply sees who set what.
pub fn record_update(old: Option<&Value>, new: &mut Value, manager: &str) {
    let new_fields = field_set(&strip_managed(new));
    let changed: BTreeSet<FieldPath> = match old {
        Some(old) => {
            let old_stripped = strip_managed(old);
            new_fields
                .iter()
                .filter(|f| lookup(&old_stripped, f) != lookup(new, f))
                .cloned()
                .collect()
        }
        None => new_fields.clone(),
    };
    // managedFields that differ from the old ones were computed by an apply
    // (or reset by the client): kube-apiserver keeps them as sent.
    let sent = new.pointer("/metadata/managedFields").cloned();
    let before = old.and_then(|o| o.pointer("/metadata/managedFields").cloned());
    if sent.is_some() && sent != before {
        return;
    }
    let mut entries = managers(old.unwrap_or(new));
    if changed.is_empty() && old.is_some() {
        write_managers(new, &entries, &now_stamp());
        return;
    }
    for entry in &mut entries {
        if entry.manager != manager || entry.operation != "Update" {
            entry.fields.retain(|f| !changed.contains(f));
        }
        // Fields that no longer exist are owned by nobody.
        entry.fields.retain(|f| new_fields.contains(f));
    }
    let api_version = new["apiVersion"].as_str().unwrap_or_default().to_owned();
    match entries
        .iter_mut()
        .find(|e| e.manager == manager && e.operation == "Update")
    {
        Some(entry) => entry.fields.extend(changed),
        None => entries.push(ManagerEntry {
            manager: manager.to_owned(),
            operation: "Update".to_owned(),
            api_version,
            fields: changed,
        }),
    }
    write_managers(new, &entries, &now_stamp());
}

fn strip_managed(object: &Value) -> Value {
    let mut copy = object.clone();
    if let Some(meta) = copy.get_mut("metadata").and_then(Value::as_object_mut) {
        meta.remove("managedFields");
    }
    copy
}

/// The owners of each field, for tests and diagnostics.
pub fn owners(object: &Value) -> BTreeMap<String, Vec<String>> {
    let mut out: BTreeMap<String, Vec<String>> = BTreeMap::new();
    for entry in managers(object) {
        for field in entry.fields {
            out.entry(display(&field))
                .or_default()
                .push(entry.manager.clone());
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn schema(kind: &str) -> PatchSchema {
        PatchSchema::for_kind("v1", kind).expect("built-in")
    }

    #[test]
    fn merge_patch_follows_rfc_7386() {
        let mut target = json!({"a": "b", "c": {"d": "e", "f": "g"}});
        merge_patch(&mut target, &json!({"a": "z", "c": {"f": null}}));
        assert_eq!(target, json!({"a": "z", "c": {"d": "e"}}));
    }

    #[test]
    fn json_patch_is_all_or_nothing() {
        let mut target = json!({"spec": {"secretName": "a"}});
        json_patch(
            &mut target,
            &json!([{"op": "replace", "path": "/spec/secretName", "value": "b"}]),
        )
        .expect("applies");
        assert_eq!(target["spec"]["secretName"], "b");
        let err = json_patch(
            &mut target,
            &json!([{"op": "replace", "path": "/spec/secretName", "value": "c"},
                    {"op": "test", "path": "/spec/secretName", "value": "x"}]),
        );
        assert!(err.is_err());
        assert_eq!(target["spec"]["secretName"], "b");
    }

    #[test]
    fn strategic_merge_unions_finalizers_and_merges_owner_references_by_uid() {
        let mut target = json!({"metadata": {"finalizers": ["a"], "ownerReferences": [
            {"uid": "1", "name": "x"}, {"uid": "2", "name": "y"}]}, "data": {"k": "v"}});
        strategic_merge_patch(
            &mut target,
            &json!({"metadata": {"finalizers": ["b", "a"], "ownerReferences": [
                {"uid": "1", "$patch": "delete"}, {"uid": "3", "name": "z"}, {"uid": "2", "name": "y2"}]},
                "data": {"k2": "v2"}}),
            &schema("ConfigMap"),
        )
        .expect("applies");
        assert_eq!(target["metadata"]["finalizers"], json!(["a", "b"]));
        assert_eq!(
            target["metadata"]["ownerReferences"],
            json!([{"uid": "2", "name": "y2"}, {"uid": "3", "name": "z"}])
        );
        assert_eq!(target["data"], json!({"k": "v", "k2": "v2"}));
    }

    #[test]
    fn strategic_merge_directives() {
        let mut service = json!({"spec": {"ports": [{"port": 80, "name": "http"}, {"port": 443, "name": "https"}],
            "selector": {"app": "web", "tier": "front"}}});
        strategic_merge_patch(
            &mut service,
            &json!({"spec": {"$setElementOrder/ports": [{"port": 443}, {"port": 80}],
                "ports": [{"port": 80, "name": "web"}],
                "selector": {"$patch": "replace", "app": "api"}}}),
            &PatchSchema::for_kind("v1", "Service").expect("service"),
        )
        .expect("applies");
        assert_eq!(
            service["spec"]["ports"],
            json!([{"port": 443, "name": "https"}, {"port": 80, "name": "web"}])
        );
        assert_eq!(service["spec"]["selector"], json!({"app": "api"}));

        let mut secret =
            json!({"metadata": {"finalizers": ["a", "b"]}, "data": {"x": "1", "y": "2"}});
        strategic_merge_patch(
            &mut secret,
            &json!({"metadata": {"$deleteFromPrimitiveList/finalizers": ["a"]},
                    "data": {"$retainKeys": ["y"], "y": "3"}}),
            &schema("Secret"),
        )
        .expect("applies");
        assert_eq!(secret["metadata"]["finalizers"], json!(["b"]));
        assert_eq!(secret["data"], json!({"y": "3"}));
        assert!(
            strategic_merge_patch(&mut secret, &json!({"$bogus": 1}), &schema("Secret")).is_err()
        );
        assert!(matches!(
            PatchSchema::for_kind("cert-manager.io/v1", "Certificate"),
            Err(PatchError::StrategicMergeUnsupported { .. })
        ));
    }

    #[test]
    fn apply_creates_records_ownership_and_drops_what_is_no_longer_applied() {
        let first = server_side_apply(
            None,
            &json!({"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "c", "labels": {"a": "1"}},
                    "data": {"x": "1", "y": "2"}}),
            "tool",
            false,
        )
        .expect("applies");
        assert_eq!(
            first["metadata"]["managedFields"][0]["fieldsV1"],
            json!({"f:data": {"f:x": {}, "f:y": {}}, "f:metadata": {"f:labels": {"f:a": {}}}})
        );
        let second = server_side_apply(
            Some(&first),
            &json!({"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "c"}, "data": {"x": "1"}}),
            "tool",
            false,
        )
        .expect("applies");
        assert_eq!(second["data"], json!({"x": "1"}));
        assert!(
            second["metadata"]
                .get("labels")
                .is_none_or(|l| l.get("a").is_none())
        );
    }

    #[test]
    fn appliers_conflict_unless_forced_and_conditions_merge_by_type() {
        let applied = server_side_apply(
            None,
            &json!({"apiVersion": "v1", "kind": "X", "spec": {"secretName": "a"},
                    "status": {"conditions": [{"type": "Ready", "status": "True"}]}}),
            "one",
            false,
        )
        .expect("applies");
        let conflict = server_side_apply(
            Some(&applied),
            &json!({"apiVersion": "v1", "kind": "X", "spec": {"secretName": "b"}}),
            "two",
            false,
        );
        assert_eq!(
            conflict,
            Err(PatchError::Conflict {
                field: ".spec.secretName".to_owned(),
                manager: "one".to_owned()
            })
        );
        let forced = server_side_apply(
            Some(&applied),
            &json!({"apiVersion": "v1", "kind": "X", "spec": {"secretName": "b"},
                    "status": {"conditions": [{"type": "Issuing", "status": "True"}]}}),
            "two",
            true,
        )
        .expect("forced");
        assert_eq!(forced["spec"]["secretName"], "b");
        let types: Vec<&str> = forced["status"]["conditions"]
            .as_array()
            .into_iter()
            .flatten()
            .filter_map(|c| c["type"].as_str())
            .collect();
        assert_eq!(types, ["Ready", "Issuing"]);
        let owners = owners(&forced);
        assert_eq!(owners[".spec.secretName"], vec!["two"]);
        assert_eq!(
            owners[r#".status.conditions[{"type":"Ready"}]"#],
            vec!["one"]
        );
    }

    #[test]
    fn updates_take_ownership_of_what_they_change() {
        let applied = server_side_apply(
            None,
            &json!({"apiVersion": "v1", "kind": "X", "spec": {"a": "1", "b": "2"}}),
            "applier",
            false,
        )
        .expect("applies");
        let mut updated = applied.clone();
        updated["spec"]["a"] = json!("changed");
        record_update(Some(&applied), &mut updated, "kubectl-edit");
        let owners = owners(&updated);
        assert_eq!(owners[".spec.a"], vec!["kubectl-edit"]);
        assert_eq!(owners[".spec.b"], vec!["applier"]);
        // No conflict for the applier re-applying b; a was taken by an
        // update, which never conflicts.
        server_side_apply(
            Some(&updated),
            &json!({"apiVersion": "v1", "kind": "X", "spec": {"a": "again", "b": "2"}}),
            "applier",
            false,
        )
        .expect("updates do not conflict");
    }
}
