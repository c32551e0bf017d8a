//! Collections: lists with label and field selectors, pagination, and the
//! Table `kubectl get` asks for.

use super::*;

pub(super) fn collection_prefix(resource: &ResourceType, namespace: Option<&str>) -> String {
    match namespace {
        Some(ns) if resource.namespaced => format!("{}{ns}/", resource.key_prefix()),
        _ => resource.key_prefix(),
    }
}

/// Label and field selectors from the query, checked against the fields
/// the type allows.
pub(super) struct Selectors {
    labels: Option<LabelSelector>,
    fields: Option<FieldSelector>,
}

impl Selectors {
    pub(super) fn parse(resource: &ResourceType, query: &Query) -> Result<Selectors, StatusError> {
        let labels = match query.get("labelSelector").filter(|s| !s.is_empty()) {
            Some(text) => Some(LabelSelector::parse(text).map_err(|e| {
                StatusError::bad_request(format!("unable to parse requirement: {e}"))
            })?),
            None => None,
        };
        let fields = match query.get("fieldSelector").filter(|s| !s.is_empty()) {
            Some(text) => {
                let selector = FieldSelector::parse(text)
                    .map_err(|e| StatusError::bad_request(e.to_string()))?;
                let mut allowed = vec!["metadata.name", "metadata.namespace"];
                allowed.extend(resource.selectable_fields.iter().map(String::as_str));
                selector.validate_fields(&allowed).map_err(|e| {
                    StatusError::bad_request(format!(
                        "\"{text}\" is not a known field selector: {e}"
                    ))
                })?;
                Some(selector)
            }
            None => None,
        };
        Ok(Selectors { labels, fields })
    }

    /// Whether any selector was given (else every object matches).
    pub(super) fn any(&self) -> bool {
        self.labels.is_some() || self.fields.is_some()
    }

    pub(super) fn matches(&self, object: &Value) -> bool {
        self.labels
            .as_ref()
            .is_none_or(|s| s.matches(&object::labels(object)))
            && self.fields.as_ref().is_none_or(|s| s.matches(object))
    }
}

pub(super) async fn list(
    state: &Arc<ServerState>,
    resource: &Arc<ResourceType>,
    namespace: Option<&str>,
    request: &Incoming,
) -> Result<Response, StatusError> {
    let selectors = Selectors::parse(resource, &request.query)?;
    // A list "not older than" a version (kube's default match for a
    // non-zero resourceVersion without a continue token) waits for the store
    // to reach it, as a watch does.
    if request.query.get("continue").is_none_or(str::is_empty)
        && request.query.get("resourceVersionMatch") != Some("Exact")
        && let Some(rv) = request
            .query
            .get("resourceVersion")
            .and_then(|rv| rv.parse::<u64>().ok())
    {
        wait_for_version(&state.store, rv).await?;
    }
    let limit = request
        .query
        .get("limit")
        .and_then(|l| l.parse::<usize>().ok())
        .filter(|l| *l > 0);
    let after = match request.query.get("continue").filter(|c| !c.is_empty()) {
        Some(token) => Some(decode_continue(token)?),
        None => None,
    };
    let listed = state.store.list(
        &collection_prefix(resource, namespace),
        after.as_deref(),
        limit,
        |o| selectors.matches(o),
    )?;
    let mut metadata = json!({"resourceVersion": listed.revision.to_string()});
    if let Some(last) = &listed.continue_after {
        metadata["continue"] =
            json!(base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(last.as_bytes()));
    }
    if request.accept_table {
        let table = render_table(resource, &listed.items, request, metadata);
        return Ok(json_response(StatusCode::OK, &table, &[]));
    }
    let list = json!({
        "kind": format!("{}List", resource.kind),
        "apiVersion": resource.api_version(),
        "metadata": metadata,
        "items": listed.items,
    });
    Ok(json_response(StatusCode::OK, &list, &[]))
}

pub(super) fn decode_continue(token: &str) -> Result<String, StatusError> {
    base64::engine::general_purpose::URL_SAFE_NO_PAD
        .decode(token)
        .ok()
        .and_then(|b| String::from_utf8(b).ok())
        .ok_or_else(|| StatusError::bad_request("the continue token is not valid"))
}

pub(super) fn render_table(
    resource: &ResourceType,
    objects: &[Value],
    request: &Incoming,
    list_meta: Value,
) -> Value {
    let include = match request.query.get("includeObject") {
        Some("None") => table::IncludeObject::None,
        Some("Object") => table::IncludeObject::Object,
        _ => table::IncludeObject::Metadata,
    };
    table::table(
        &columns(resource),
        objects,
        time::OffsetDateTime::now_utc(),
        include,
        list_meta,
    )
}

pub(super) fn columns(resource: &ResourceType) -> table::TableColumns {
    if !resource.custom
        && let Some(columns) = table::builtin_columns(&resource.group, &resource.kind)
    {
        return columns;
    }
    table::custom_columns(
        resource
            .printer_columns
            .iter()
            .map(|c| table::Column {
                name: c.name.clone(),
                type_: c.type_.clone(),
                format: c.format.clone().unwrap_or_default(),
                description: c.description.clone().unwrap_or_default(),
                priority: c.priority.unwrap_or(0),
                json_path: Some(c.json_path.clone()),
            })
            .collect(),
    )
}
