//! Server-side apply, with field ownership in `metadata.managedFields`
//! (FieldsV1), and the ownership an ordinary update takes.

use std::collections::{BTreeMap, BTreeSet};

use serde_json::{Map, Value, json};

use super::PatchError;

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
        crate::apiserver::object::metadata_mut(object)
            .insert("managedFields".to_owned(), Value::Array(list));
    }
}

fn now_stamp() -> String {
    crate::apiserver::object::timestamp(time::OffsetDateTime::now_utc())
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
