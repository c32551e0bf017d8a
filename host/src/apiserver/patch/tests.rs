use serde_json::json;

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

    let mut secret = json!({"metadata": {"finalizers": ["a", "b"]}, "data": {"x": "1", "y": "2"}});
    strategic_merge_patch(
        &mut secret,
        &json!({"metadata": {"$deleteFromPrimitiveList/finalizers": ["a"]},
                "data": {"$retainKeys": ["y"], "y": "3"}}),
        &schema("Secret"),
    )
    .expect("applies");
    assert_eq!(secret["metadata"]["finalizers"], json!(["b"]));
    assert_eq!(secret["data"], json!({"y": "3"}));
    assert!(strategic_merge_patch(&mut secret, &json!({"$bogus": 1}), &schema("Secret")).is_err());
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
