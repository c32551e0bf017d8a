//! One object: get, create, update, patch (the four patch dialects) and
//! delete, through the admission and write paths.

use super::*;

pub(super) async fn serve_object(
    state: &Arc<ServerState>,
    target: Target,
    request: Incoming,
) -> Result<Response, StatusError> {
    for (what, segment) in [("Namespace", &target.namespace), ("Name", &target.name)] {
        if let Some(segment) = segment
            && let Some(problem) = object::path_segment_problem(segment)
        {
            return Err(StatusError::bad_request(format!(
                "{what} parameter invalid: {segment:?}: {problem}"
            )));
        }
    }
    let resource = Arc::clone(&target.resource);
    let namespace = target.namespace.clone().unwrap_or_default();
    let status_sub = target.subresource.as_deref() == Some("status");
    match (&request.method, &target.name) {
        (&Method::GET, None) if request.query.flag("watch") => {
            watch(state, &resource, target.namespace.as_deref(), &request).await
        }
        (&Method::GET, None) => list(state, &resource, target.namespace.as_deref(), &request).await,
        (&Method::GET, Some(name)) => {
            let key = resource.key(&namespace, name);
            let object = state
                .store
                .get(&key)?
                .ok_or_else(|| StatusError::not_found(&resource.qualified_plural(), name))?;
            if request.accept_table {
                let table = render_table(&resource, &[object], &request, json!({}));
                return Ok(json_response(StatusCode::OK, &table, &[]));
            }
            Ok(json_response(StatusCode::OK, &object, &[]))
        }
        (&Method::POST, None) => {
            if resource.namespaced && target.namespace.is_none() {
                return Err(StatusError::method_not_allowed(
                    "create needs a namespace: POST to /namespaces/{namespace}/...",
                ));
            }
            let body = request.json_body()?;
            let ctx = context(state, &request)?;
            let op_ctx = ctx.clone();
            let op_resource = Arc::clone(&resource);
            let op: WriteOp =
                Box::new(move |txn| writes::create(txn, &op_ctx, &op_resource, &namespace, body));
            let stored = run(state, op, &request).await?;
            Ok(json_response(StatusCode::CREATED, &stored, &warnings(&ctx)))
        }
        (&Method::PUT, Some(name)) => {
            let body = request.json_body()?;
            let ctx = context(state, &request)?;
            let op_ctx = ctx.clone();
            let op_resource = Arc::clone(&resource);
            let name = name.clone();
            let sub = if status_sub {
                Subresource::Status
            } else {
                Subresource::Main
            };
            let op: WriteOp = Box::new(move |txn| {
                writes::update(
                    txn,
                    &op_ctx,
                    &op_resource,
                    &namespace,
                    &name,
                    body,
                    UpdateMode {
                        subresource: sub,
                        require_version: true,
                    },
                )
            });
            let stored = run(state, op, &request).await?;
            Ok(json_response(StatusCode::OK, &stored, &warnings(&ctx)))
        }
        (&Method::PATCH, Some(name)) => {
            patch_object(
                state,
                &resource,
                namespace,
                name.clone(),
                status_sub,
                request,
            )
            .await
        }
        (&Method::DELETE, Some(name)) => {
            let options = delete_options(&request)?;
            let ctx = context(state, &request)?;
            let op_resource = Arc::clone(&resource);
            let name = name.clone();
            let op: WriteOp = Box::new(move |txn| {
                writes::delete(txn, &ctx, &op_resource, &namespace, &name, &options)
            });
            let last = run(state, op, &request).await?;
            Ok(json_response(StatusCode::OK, &last, &[]))
        }
        (&Method::DELETE, None) => {
            let options = delete_options(&request)?;
            let ctx = context(state, &request)?;
            let selectors = Selectors::parse(&resource, &request.query)?;
            let listed = state.store.list(
                &collection_prefix(&resource, target.namespace.as_deref()),
                None,
                None,
                |o| selectors.matches(o),
            )?;
            let names: Vec<(String, String)> = listed
                .items
                .iter()
                .map(|o| (object::namespace(o).to_owned(), object::name(o).to_owned()))
                .collect();
            let op_resource = Arc::clone(&resource);
            let op: WriteOp = Box::new(move |txn| {
                let mut deleted = Vec::new();
                for (ns, name) in names {
                    let each = DeleteOptions {
                        propagation: options.propagation,
                        ..DeleteOptions::default()
                    };
                    match writes::delete(txn, &ctx, &op_resource, &ns, &name, &each) {
                        Ok(last) => deleted.push(last),
                        // Gone meanwhile (deleted with an owner): fine.
                        Err(err) if err.code == 404 => {}
                        Err(err) => return Err(err),
                    }
                }
                Ok(json!({
                    "kind": format!("{}List", op_resource.kind),
                    "apiVersion": op_resource.api_version(),
                    "metadata": {},
                    "items": deleted,
                }))
            });
            let deleted = run(state, op, &request).await?;
            Ok(json_response(StatusCode::OK, &deleted, &[]))
        }
        _ => Err(StatusError::method_not_allowed(format!(
            "{} is not supported on this path",
            request.method
        ))),
    }
}

pub(super) fn context(
    state: &ServerState,
    request: &Incoming,
) -> Result<WriteContext, StatusError> {
    Ok(WriteContext {
        registry: Arc::clone(&state.registry),
        user: admin(),
        fields: FieldValidation::parse(request.query.get("fieldValidation"))?,
        now: time::OffsetDateTime::now_utc(),
        manager: request.manager(),
        warnings: Arc::new(Mutex::new(Vec::new())),
    })
}

pub(super) fn warnings(ctx: &WriteContext) -> Vec<String> {
    ctx.warnings
        .lock()
        .unwrap_or_else(|e| e.into_inner())
        .clone()
}

pub(super) async fn run(
    state: &ServerState,
    op: WriteOp,
    request: &Incoming,
) -> Result<Value, StatusError> {
    match request.query.get("dryRun") {
        Some("All") => state.store.dry_run(op).await,
        Some("") | None => state.store.write(op).await,
        Some(other) => Err(StatusError::bad_request(format!(
            "dryRun must be \"All\", not {other:?}"
        ))),
    }
}

pub(super) fn delete_options(request: &Incoming) -> Result<DeleteOptions, StatusError> {
    let body: Value = if request.body.is_empty() {
        Value::Null
    } else {
        request.json_body()?
    };
    let policy = request
        .query
        .get("propagationPolicy")
        .or_else(|| body.get("propagationPolicy").and_then(Value::as_str));
    let mut propagation = Propagation::parse(policy)?;
    if policy.is_none()
        && (request.query.get("orphanDependents") == Some("true")
            || body.get("orphanDependents") == Some(&Value::Bool(true)))
    {
        propagation = Propagation::Orphan;
    }
    let precondition = |field: &str| {
        body.pointer(&format!("/preconditions/{field}"))
            .and_then(Value::as_str)
            .map(str::to_owned)
    };
    Ok(DeleteOptions {
        propagation,
        uid: precondition("uid"),
        resource_version: precondition("resourceVersion"),
    })
}

pub(super) async fn patch_object(
    state: &Arc<ServerState>,
    resource: &Arc<ResourceType>,
    namespace: String,
    name: String,
    status_sub: bool,
    request: Incoming,
) -> Result<Response, StatusError> {
    let kind = match request.content_type.as_str() {
        "application/json-patch+json" => PatchKind::Json,
        "application/merge-patch+json" => PatchKind::Merge,
        "application/strategic-merge-patch+json" => {
            if resource.custom {
                return Err(StatusError::unsupported_media_type(
                    "the body of the request was in an unknown format - accepted media types include: application/json-patch+json, application/merge-patch+json, application/apply-patch+yaml",
                ));
            }
            PatchKind::Strategic
        }
        "application/apply-patch+yaml" | "application/apply-patch+cbor" => {
            if request.query.get("fieldManager").is_none_or(str::is_empty) {
                return Err(StatusError::bad_request(
                    "PATCH, fieldManager is required for apply requests",
                ));
            }
            PatchKind::Apply {
                force: request.query.flag("force"),
            }
        }
        other => {
            return Err(StatusError::unsupported_media_type(format!(
                "the body of the request was in an unknown format ({other}) - accepted media types include: application/json-patch+json, application/merge-patch+json, application/apply-patch+yaml"
            )));
        }
    };
    let patch_body = request.json_body()?;
    let ctx = context(state, &request)?;
    let op_ctx = ctx.clone();
    let op_resource = Arc::clone(resource);
    let sub = if status_sub {
        Subresource::Status
    } else {
        Subresource::Main
    };
    let op: WriteOp = Box::new(move |txn| {
        let resource = op_resource;
        let key = resource.key(&namespace, &name);
        let current = txn.get(&key)?;
        let Some(current) = current else {
            if let PatchKind::Apply { force } = kind
                && sub == Subresource::Main
            {
                let applied = patch::server_side_apply(None, &patch_body, &op_ctx.manager, force)
                    .map_err(patch_error)?;
                let mut applied = applied;
                object::metadata_mut(&mut applied)
                    .insert("name".to_owned(), Value::String(name.clone()));
                return writes::create(txn, &op_ctx, &resource, &namespace, applied);
            }
            return Err(StatusError::not_found(&resource.qualified_plural(), &name));
        };
        let mut patched = current.clone();
        match kind {
            PatchKind::Json => patch::json_patch(&mut patched, &patch_body).map_err(patch_error)?,
            PatchKind::Merge => patch::merge_patch(&mut patched, &patch_body),
            PatchKind::Strategic => {
                let schema = patch::PatchSchema::for_kind(&resource.api_version(), &resource.kind)
                    .map_err(patch_error)?;
                patch::strategic_merge_patch(&mut patched, &patch_body, &schema)
                    .map_err(patch_error)?;
            }
            PatchKind::Apply { force } => {
                patched =
                    patch::server_side_apply(Some(&current), &patch_body, &op_ctx.manager, force)
                        .map_err(patch_error)?;
                // A resourceVersion in the applied config is a precondition.
                if let Some(rv) = object::resource_version(&patch_body) {
                    object::metadata_mut(&mut patched)
                        .insert("resourceVersion".to_owned(), Value::String(rv.to_owned()));
                } else if let Some(rv) = object::resource_version(&current) {
                    object::metadata_mut(&mut patched)
                        .insert("resourceVersion".to_owned(), Value::String(rv.to_owned()));
                }
            }
        }
        let mode = UpdateMode {
            subresource: sub,
            require_version: false,
        };
        writes::update(txn, &op_ctx, &resource, &namespace, &name, patched, mode)
    });
    let stored = run(state, op, &request).await?;
    Ok(json_response(StatusCode::OK, &stored, &warnings(&ctx)))
}

#[derive(Debug, Clone, Copy)]
pub(super) enum PatchKind {
    Json,
    Merge,
    Strategic,
    Apply { force: bool },
}

pub(super) fn patch_error(err: patch::PatchError) -> StatusError {
    match err {
        patch::PatchError::Conflict { .. } => StatusError {
            code: 409,
            reason: "Conflict",
            message: format!("Apply failed with 1 conflict: {err}"),
            details: None,
        },
        patch::PatchError::StrategicMergeUnsupported { .. } => {
            StatusError::unsupported_media_type(err.to_string())
        }
        other => StatusError {
            code: 422,
            reason: "Invalid",
            message: other.to_string(),
            details: None,
        },
    }
}
