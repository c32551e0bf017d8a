//! The write verbs — create, update, patch, delete — as they run inside the
//! store's transaction: kube-apiserver's rules for metadata (uid,
//! creationTimestamp, generation, resourceVersion preconditions), the status
//! subresource, finalizers and deletionTimestamp, namespace lifecycle, and
//! garbage collection of dependents through ownerReferences.

use std::sync::{Arc, Mutex};

use serde_json::{Value, json};

use super::admission::{self, FieldValidation, Operation};
use super::object;
use super::resource::{Registry, ResourceType};
use super::status::StatusError;
use super::store::Txn;
use super::watch::ChangeKind;
use crate::api::defaults::UserInfo;

/// Who is writing, when, and how strictly: what every write verb needs
/// besides the object.
#[derive(Debug, Clone)]
pub struct WriteContext {
    /// Every served type (garbage collection crosses types).
    pub registry: Arc<Registry>,
    /// The authenticated user.
    pub user: UserInfo,
    /// Unknown-field handling.
    pub fields: FieldValidation,
    /// The time of the request.
    pub now: time::OffsetDateTime,
    /// `fieldManager`, recorded in managedFields.
    pub manager: String,
    /// Warnings for the response's `Warning` headers.
    pub warnings: Arc<Mutex<Vec<String>>>,
}

impl WriteContext {
    fn warn(&self, texts: Vec<String>) {
        if texts.is_empty() {
            return;
        }
        let mut warnings = self.warnings.lock().unwrap_or_else(|e| e.into_inner());
        warnings.extend(texts);
    }
}

/// Which part of the object a write may change.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Subresource {
    /// The object; status changes are ignored when `/status` exists.
    Main,
    /// `/status`: only status changes are kept.
    Status,
}

/// How dependents are treated when their owner is deleted.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Propagation {
    /// Delete dependents (kubectl's and the API's default).
    #[default]
    Background,
    /// Delete dependents (treated as Background: the owner is removed at
    /// once rather than after its dependents).
    Foreground,
    /// Keep dependents, removing their reference to the owner.
    Orphan,
}

impl Propagation {
    /// From `propagationPolicy` (query or DeleteOptions body).
    pub fn parse(value: Option<&str>) -> Result<Propagation, StatusError> {
        match value {
            None | Some("") | Some("Background") => Ok(Propagation::Background),
            Some("Foreground") => Ok(Propagation::Foreground),
            Some("Orphan") => Ok(Propagation::Orphan),
            Some(other) => Err(StatusError::bad_request(format!(
                "propagationPolicy must be Orphan, Background or Foreground, not {other:?}"
            ))),
        }
    }
}

/// Whether the namespace exists and accepts new objects.
fn check_namespace(txn: &Txn<'_>, ctx: &WriteContext, namespace: &str) -> Result<(), StatusError> {
    let Some(namespaces) = ctx.registry.lookup("", "v1", "namespaces") else {
        return Ok(());
    };
    match txn.get(&namespaces.key("", namespace))? {
        None => Err(StatusError::not_found("namespaces", namespace)),
        Some(ns) if object::is_deleting(&ns) => Err(StatusError::forbidden(format!(
            "unable to create new content in namespace {namespace} because it is being terminated"
        ))),
        Some(_) => Ok(()),
    }
}

fn check_type(resource: &ResourceType, body: &mut Value) -> Result<(), StatusError> {
    let Some(map) = body.as_object_mut() else {
        return Err(StatusError::bad_request(format!(
            "the body of a {} must be a JSON object",
            resource.kind
        )));
    };
    let api_version = resource.api_version();
    match map.get("apiVersion").and_then(Value::as_str) {
        None | Some("") => {
            map.insert("apiVersion".to_owned(), Value::String(api_version));
        }
        Some(sent) if sent != api_version => {
            return Err(StatusError::bad_request(format!(
                "the API version in the data ({sent}) does not match the expected API version ({api_version})"
            )));
        }
        Some(_) => {}
    }
    match map.get("kind").and_then(Value::as_str) {
        None | Some("") => {
            map.insert("kind".to_owned(), Value::String(resource.kind.clone()));
        }
        Some(sent) if sent != resource.kind => {
            return Err(StatusError::bad_request(format!(
                "the kind in the data ({sent}) does not match the expected kind ({})",
                resource.kind
            )));
        }
        Some(_) => {}
    }
    Ok(())
}

fn check_namespace_field(
    resource: &ResourceType,
    body: &mut Value,
    namespace: &str,
) -> Result<(), StatusError> {
    let meta = object::metadata_mut(body);
    if resource.namespaced {
        match meta.get("namespace").and_then(Value::as_str) {
            Some(sent) if !sent.is_empty() && sent != namespace => {
                return Err(StatusError::bad_request(
                    "the namespace of the provided object does not match the namespace sent on the request",
                ));
            }
            _ => {
                meta.insert("namespace".to_owned(), Value::String(namespace.to_owned()));
            }
        }
    } else {
        meta.remove("namespace");
    }
    Ok(())
}

/// Creates an object (POST to a collection, or a server-side apply of a
/// new name).
pub fn create(
    txn: &mut Txn<'_>,
    ctx: &WriteContext,
    resource: &ResourceType,
    namespace: &str,
    mut body: Value,
) -> Result<Value, StatusError> {
    check_type(resource, &mut body)?;
    check_namespace_field(resource, &mut body, namespace)?;
    if resource.namespaced {
        check_namespace(txn, ctx, namespace)?;
    }
    let meta = object::metadata_mut(&mut body);
    let mut name = meta
        .get("name")
        .and_then(Value::as_str)
        .unwrap_or_default()
        .to_owned();
    if name.is_empty()
        && let Some(prefix) = meta.get("generateName").and_then(Value::as_str)
    {
        name = format!("{prefix}{}", object::generated_suffix());
        meta.insert("name".to_owned(), Value::String(name.clone()));
    }
    let name_error = if resource.kind == "Namespace" {
        object::validate_namespace_name(&name)
    } else {
        object::validate_name(&name)
    };
    if let Some(error) = name_error {
        return Err(StatusError::invalid(
            &resource.kind,
            &resource.group,
            &name,
            &[error],
        ));
    }
    for field in [
        "resourceVersion",
        "deletionTimestamp",
        "deletionGracePeriodSeconds",
        "selfLink",
    ] {
        meta.remove(field);
    }
    meta.insert("uid".to_owned(), Value::String(object::new_uid()));
    meta.insert(
        "creationTimestamp".to_owned(),
        Value::String(object::timestamp(ctx.now)),
    );
    if resource.has_status && resource.kind != "Namespace" {
        meta.insert("generation".to_owned(), json!(1));
        // As for CRDs with a status subresource: status is ignored on create.
        if resource.custom
            && let Some(map) = body.as_object_mut()
        {
            map.remove("status");
        }
    }
    if resource.kind == "Namespace" {
        body["status"] = json!({"phase": "Active"});
    }
    let key = resource.key(namespace, &name);
    if txn.get(&key)?.is_some() {
        return Err(StatusError::already_exists(
            &resource.qualified_plural(),
            &name,
        ));
    }
    let admitted = admission::admit(resource, Operation::Create, body, &ctx.user, ctx.fields)?;
    ctx.warn(admitted.warnings);
    let mut stored = admitted.object;
    super::patch::record_update(None, &mut stored, &ctx.manager);
    Ok(txn.put(&key, stored, ChangeKind::Added))
}

/// How an update is applied.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct UpdateMode {
    /// The object or its status.
    pub subresource: Subresource,
    /// True for PUT, where custom resources must name the resourceVersion
    /// they replace (a patch may leave it out).
    pub require_version: bool,
}

/// Replaces an object (PUT), or the result of a patch, after checking the
/// resourceVersion precondition.
pub fn update(
    txn: &mut Txn<'_>,
    ctx: &WriteContext,
    resource: &ResourceType,
    namespace: &str,
    name: &str,
    mut body: Value,
    mode: UpdateMode,
) -> Result<Value, StatusError> {
    let UpdateMode {
        subresource,
        require_version,
    } = mode;
    check_type(resource, &mut body)?;
    check_namespace_field(resource, &mut body, namespace)?;
    let key = resource.key(namespace, name);
    let Some(old) = txn.get(&key)? else {
        return Err(StatusError::not_found(&resource.qualified_plural(), name));
    };
    let sent_name = object::name(&body);
    if !sent_name.is_empty() && sent_name != name {
        return Err(StatusError::bad_request(format!(
            "the name of the object ({sent_name}) does not match the name on the URL ({name})"
        )));
    }
    match object::resource_version(&body) {
        Some(sent) if Some(sent) != object::resource_version(&old) => {
            return Err(StatusError::conflict(
                &resource.qualified_plural(),
                name,
                "the object has been modified; please apply your changes to the latest version and try again",
            ));
        }
        None if require_version && resource.custom => {
            return Err(StatusError::invalid(
                &resource.kind,
                &resource.group,
                name,
                &[crate::api::FieldError::invalid(
                    "metadata.resourceVersion",
                    "0x0".to_owned(),
                    "must be specified for an update",
                )],
            ));
        }
        _ => {}
    }
    let mut new = match subresource {
        Subresource::Main => {
            let mut new = body;
            if resource.has_status {
                match old.get("status") {
                    Some(status) => new["status"] = status.clone(),
                    None => {
                        if let Some(map) = new.as_object_mut() {
                            map.remove("status");
                        }
                    }
                }
            }
            new
        }
        Subresource::Status => {
            let mut new = old.clone();
            match body.get("status") {
                Some(status) => new["status"] = status.clone(),
                None => {
                    if let Some(map) = new.as_object_mut() {
                        map.remove("status");
                    }
                }
            }
            new
        }
    };
    // Server-owned metadata cannot be changed by clients.
    {
        let old_meta = old.get("metadata").cloned().unwrap_or_else(|| json!({}));
        let meta = object::metadata_mut(&mut new);
        for field in [
            "uid",
            "creationTimestamp",
            "deletionTimestamp",
            "deletionGracePeriodSeconds",
            "generation",
            "name",
            "namespace",
            "generateName",
        ] {
            match old_meta.get(field) {
                Some(value) => {
                    meta.insert(field.to_owned(), value.clone());
                }
                None => {
                    meta.remove(field);
                }
            }
        }
    }
    let operation = match subresource {
        Subresource::Main => Operation::Update(&old),
        Subresource::Status => Operation::UpdateStatus(&old),
    };
    let admitted = admission::admit(resource, operation, new, &ctx.user, ctx.fields)?;
    ctx.warn(admitted.warnings);
    let mut new = admitted.object;
    // Compared after defaulting: a write that only omits defaulted fields
    // does not change the spec.
    if resource.has_status
        && resource.kind != "Namespace"
        && object::spec_part(&new) != object::spec_part(&old)
    {
        let generation = object::generation(&old) + 1;
        object::metadata_mut(&mut new).insert("generation".to_owned(), json!(generation));
    }
    if object::is_deleting(&old) && object::finalizers(&new).is_empty() {
        // The last finalizer is gone: the deletion completes now.
        return finish_delete(txn, ctx, resource, &key, new, Propagation::Background);
    }
    if unchanged(&old, &new) {
        return Ok(old);
    }
    super::patch::record_update(Some(&old), &mut new, &ctx.manager);
    Ok(txn.put(&key, new, ChangeKind::Modified))
}

/// Equal but for the resourceVersion and managedFields: a no-op write,
/// which kube-apiserver does not store (so controllers that write what is
/// already there do not wake every watcher).
fn unchanged(old: &Value, new: &Value) -> bool {
    let strip = |v: &Value| {
        let mut v = v.clone();
        let meta = object::metadata_mut(&mut v);
        meta.remove("resourceVersion");
        meta.remove("managedFields");
        v
    };
    strip(old) == strip(new)
}

/// DeleteOptions: how dependents are treated, and what the object must
/// still be for the deletion to go ahead.
#[derive(Debug, Clone, Default)]
pub struct DeleteOptions {
    /// Background, Foreground or Orphan.
    pub propagation: Propagation,
    /// `preconditions.uid`.
    pub uid: Option<String>,
    /// `preconditions.resourceVersion`.
    pub resource_version: Option<String>,
}

/// Deletes an object: with finalizers it is only marked (deletionTimestamp)
/// until they are removed; without, it is removed and its dependents are
/// garbage collected. Returns the object's last state.
pub fn delete(
    txn: &mut Txn<'_>,
    ctx: &WriteContext,
    resource: &ResourceType,
    namespace: &str,
    name: &str,
    options: &DeleteOptions,
) -> Result<Value, StatusError> {
    let propagation = options.propagation;
    let precondition_uid = options.uid.as_deref();
    let precondition_version = options.resource_version.as_deref();
    let key = resource.key(namespace, name);
    let Some(current) = txn.get(&key)? else {
        return Err(StatusError::not_found(&resource.qualified_plural(), name));
    };
    if let Some(uid) = precondition_uid
        && uid != object::uid(&current)
    {
        return Err(StatusError::conflict(
            &resource.qualified_plural(),
            name,
            &format!(
                "Precondition failed: UID in precondition: {uid}, UID in object meta: {}",
                object::uid(&current)
            ),
        ));
    }
    if let Some(version) = precondition_version
        && Some(version) != object::resource_version(&current)
    {
        return Err(StatusError::conflict(
            &resource.qualified_plural(),
            name,
            &format!(
                "Precondition failed: ResourceVersion in precondition: {version}, ResourceVersion in object meta: {}",
                object::resource_version(&current).unwrap_or_default()
            ),
        ));
    }
    mark_or_delete(txn, ctx, resource, &key, current, propagation)
}

fn mark_or_delete(
    txn: &mut Txn<'_>,
    ctx: &WriteContext,
    resource: &ResourceType,
    key: &str,
    current: Value,
    propagation: Propagation,
) -> Result<Value, StatusError> {
    let namespace_type = resource.kind == "Namespace" && resource.group.is_empty();
    if namespace_type {
        return delete_namespace(txn, ctx, resource, key, current);
    }
    if !object::finalizers(&current).is_empty() {
        if object::is_deleting(&current) {
            return Ok(current);
        }
        let mut marked = current;
        let meta = object::metadata_mut(&mut marked);
        meta.insert(
            "deletionTimestamp".to_owned(),
            Value::String(object::timestamp(ctx.now)),
        );
        meta.insert("deletionGracePeriodSeconds".to_owned(), json!(0));
        return Ok(txn.put(key, marked, ChangeKind::Modified));
    }
    finish_delete(txn, ctx, resource, key, current, propagation)
}

fn finish_delete(
    txn: &mut Txn<'_>,
    ctx: &WriteContext,
    resource: &ResourceType,
    key: &str,
    last: Value,
    propagation: Propagation,
) -> Result<Value, StatusError> {
    let uid = object::uid(&last).to_owned();
    let namespace = object::namespace(&last).to_owned();
    let removed = txn.delete(key, last);
    collect_dependents(txn, ctx, resource.namespaced, &namespace, &uid, propagation)?;
    if resource.namespaced {
        finish_terminating_namespace(txn, ctx, &namespace)?;
    }
    Ok(removed)
}

/// Deletes (or orphans) every object that names `owner_uid` among its
/// owners; an object with other owners only loses the reference.
fn collect_dependents(
    txn: &mut Txn<'_>,
    ctx: &WriteContext,
    owner_namespaced: bool,
    namespace: &str,
    owner_uid: &str,
    propagation: Propagation,
) -> Result<(), StatusError> {
    if owner_uid.is_empty() {
        return Ok(());
    }
    let registry = Arc::clone(&ctx.registry);
    for (key, dependent) in txn.dependents(owner_uid)? {
        let Some(resource) = registry
            .types()
            .iter()
            .find(|t| key.starts_with(&t.key_prefix()))
        else {
            continue;
        };
        // A namespaced owner owns only objects in its own namespace.
        if owner_namespaced && (!resource.namespaced || object::namespace(&dependent) != namespace)
        {
            continue;
        }
        let owners = object::owner_uids(&dependent);
        if owners.len() > 1 || propagation == Propagation::Orphan {
            let mut kept = dependent;
            if let Some(refs) = kept
                .pointer_mut("/metadata/ownerReferences")
                .and_then(Value::as_array_mut)
            {
                refs.retain(|r| r.get("uid").and_then(Value::as_str) != Some(owner_uid));
            }
            txn.put(&key, kept, ChangeKind::Modified);
        } else {
            mark_or_delete(txn, ctx, resource, &key, dependent, propagation)?;
        }
    }
    Ok(())
}

/// Deleting a Namespace marks it Terminating, deletes everything in it,
/// and removes it once nothing (no finalizer-held object) is left.
fn delete_namespace(
    txn: &mut Txn<'_>,
    ctx: &WriteContext,
    resource: &ResourceType,
    key: &str,
    current: Value,
) -> Result<Value, StatusError> {
    let name = object::name(&current).to_owned();
    let mut marked = current;
    if !object::is_deleting(&marked) {
        object::metadata_mut(&mut marked).insert(
            "deletionTimestamp".to_owned(),
            Value::String(object::timestamp(ctx.now)),
        );
        marked["status"] = json!({"phase": "Terminating"});
        marked = txn.put(key, marked, ChangeKind::Modified);
    }
    let registry = Arc::clone(&ctx.registry);
    for member_type in registry.types().iter().filter(|t| t.namespaced) {
        let prefix = format!("{}{name}/", member_type.key_prefix());
        for (member_key, member) in txn.list(&prefix)? {
            if !object::is_deleting(&member) {
                mark_or_delete(
                    txn,
                    ctx,
                    member_type,
                    &member_key,
                    member,
                    Propagation::Background,
                )?;
            }
        }
    }
    if namespace_is_empty(txn, &registry, &name)? && object::finalizers(&marked).is_empty() {
        return Ok(txn.delete(key, marked));
    }
    let _ = resource;
    Ok(marked)
}

fn namespace_is_empty(
    txn: &Txn<'_>,
    registry: &Registry,
    namespace: &str,
) -> Result<bool, StatusError> {
    for member_type in registry.types().iter().filter(|t| t.namespaced) {
        let prefix = format!("{}{namespace}/", member_type.key_prefix());
        if !txn.list(&prefix)?.is_empty() {
            return Ok(false);
        }
    }
    Ok(true)
}

fn finish_terminating_namespace(
    txn: &mut Txn<'_>,
    ctx: &WriteContext,
    namespace: &str,
) -> Result<(), StatusError> {
    let Some(namespaces) = ctx.registry.lookup("", "v1", "namespaces") else {
        return Ok(());
    };
    let key = namespaces.key("", namespace);
    if let Some(ns) = txn.get(&key)?
        && object::is_deleting(&ns)
        && object::finalizers(&ns).is_empty()
        && namespace_is_empty(txn, &ctx.registry, namespace)?
    {
        txn.delete(&key, ns);
    }
    Ok(())
}
