//! Watches: from a resourceVersion (waiting briefly for one from the
//! future), with bookmarks, encoded as newline-delimited watch events.

use super::*;

/// Waits until the store has reached `requested`, at most
/// [`FUTURE_VERSION_WAIT`]; past that, the 504 kube-apiserver answers for a
/// resourceVersion from the future.
pub(super) async fn wait_for_version(store: &Store, requested: u64) -> Result<(), StatusError> {
    /// How often the store's revision is looked at while waiting.
    const POLL: Duration = Duration::from_millis(20);
    let deadline = tokio::time::Instant::now() + FUTURE_VERSION_WAIT;
    loop {
        let current = store.revision();
        if current >= requested {
            return Ok(());
        }
        if tokio::time::Instant::now() >= deadline {
            return Err(StatusError::too_large_resource_version(requested, current));
        }
        tokio::time::sleep(POLL).await;
    }
}

pub(super) async fn watch(
    state: &Arc<ServerState>,
    resource: &Arc<ResourceType>,
    namespace: Option<&str>,
    request: &Incoming,
) -> Result<Response, StatusError> {
    let selectors = Selectors::parse(resource, &request.query)?;
    let prefix = collection_prefix(resource, namespace);
    let bookmarks = request.query.flag("allowWatchBookmarks");
    let send_initial = request.query.flag("sendInitialEvents");
    let timeout = request
        .query
        .get("timeoutSeconds")
        .and_then(|t| t.parse::<u64>().ok())
        .map_or(DEFAULT_WATCH_TIMEOUT, |t| {
            Duration::from_secs(t).min(MAX_WATCH_TIMEOUT)
        });
    let requested = request
        .query
        .get("resourceVersion")
        .filter(|rv| !rv.is_empty());
    // No version, "0", or sendInitialEvents: start with the current state as
    // ADDED events, then follow from that snapshot.
    let (initial, since) = match requested {
        Some(rv) if rv != "0" && !send_initial => {
            let since = rv.parse::<u64>().map_err(|_| {
                StatusError::bad_request(format!("invalid resource version {rv:?}"))
            })?;
            wait_for_version(&state.store, since).await?;
            (Vec::new(), since)
        }
        _ => {
            let listed = state
                .store
                .list(&prefix, None, None, |o| selectors.matches(o))?;
            (listed.items, listed.revision)
        }
    };
    let columns = request.accept_table.then(|| columns(resource));
    let encoder = EventEncoder {
        resource: Arc::clone(resource),
        columns,
        include: request.query.get("includeObject").map(str::to_owned),
    };
    let (sender, receiver) = tokio::sync::mpsc::channel::<Result<Bytes, Infallible>>(256);
    let subscription = state.store.watch().subscribe(&prefix, since);
    let store = state.store.clone();
    tokio::spawn(async move {
        let mut subscription = match subscription {
            Ok(subscription) => subscription,
            Err(err) => {
                let status = StatusError::expired(err.to_string()).to_status();
                let line = event_line("ERROR", &status);
                let _ = sender.send(Ok(line)).await;
                return;
            }
        };
        for object in initial {
            if sender
                .send(Ok(encoder.encode("ADDED", &object)))
                .await
                .is_err()
            {
                return;
            }
        }
        if send_initial {
            let mut mark = encoder.bookmark(since);
            mark["metadata"]["annotations"] = json!({"k8s.io/initial-events-end": "true"});
            if sender
                .send(Ok(event_line("BOOKMARK", &mark)))
                .await
                .is_err()
            {
                return;
            }
        }
        // The event line for a change this watch wants, if it wants it.
        let line = |change: &Change| {
            if !change.key.starts_with(&prefix) {
                return None;
            }
            if !selectors.any() && encoder.columns.is_none() {
                return Some(raw_event_line(change));
            }
            let object = change.object();
            selectors
                .matches(&object)
                .then(|| encoder.encode(change.kind.event_type(), &object))
        };
        let deadline = tokio::time::Instant::now() + timeout;
        let mut ticker = tokio::time::interval(BOOKMARK_INTERVAL);
        ticker.tick().await;
        loop {
            tokio::select! {
                _ = tokio::time::sleep_until(deadline) => return,
                _ = ticker.tick(), if bookmarks => {
                    let mark = encoder.bookmark(store.revision());
                    if sender.send(Ok(event_line("BOOKMARK", &mark))).await.is_err() {
                        return;
                    }
                }
                received = subscription.next() => match received {
                    Ok(Some(change)) => {
                        if let Some(line) = line(&change)
                            && sender.send(Ok(line)).await.is_err()
                        {
                            return;
                        }
                    }
                    Ok(None) => return,
                    // So far behind that the history no longer has what it
                    // missed: the client must list again.
                    Err(err) => {
                        let status = StatusError::expired(err.to_string()).to_status();
                        let _ = sender.send(Ok(event_line("ERROR", &status))).await;
                        return;
                    }
                },
            }
        }
    });
    let stream = futures_util::stream::unfold(receiver, |mut receiver| async move {
        receiver.recv().await.map(|item| (item, receiver))
    });
    let mut response = Response::new(Body::from_stream(stream));
    response.headers_mut().insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("application/json"),
    );
    Ok(response)
}

pub(super) struct EventEncoder {
    resource: Arc<ResourceType>,
    columns: Option<table::TableColumns>,
    include: Option<String>,
}

impl EventEncoder {
    pub(super) fn encode(&self, event_type: &str, object: &Value) -> Bytes {
        match &self.columns {
            Some(columns) => {
                let include = match self.include.as_deref() {
                    Some("None") => table::IncludeObject::None,
                    Some("Object") => table::IncludeObject::Object,
                    _ => table::IncludeObject::Metadata,
                };
                let rv = object::resource_version(object)
                    .unwrap_or_default()
                    .to_owned();
                let rendered = table::table(
                    columns,
                    std::slice::from_ref(object),
                    time::OffsetDateTime::now_utc(),
                    include,
                    json!({"resourceVersion": rv}),
                );
                event_line(event_type, &rendered)
            }
            _ => event_line(event_type, object),
        }
    }

    pub(super) fn bookmark(&self, revision: u64) -> Value {
        json!({
            "kind": self.resource.kind,
            "apiVersion": self.resource.api_version(),
            "metadata": {"resourceVersion": revision.to_string()},
        })
    }
}

pub(super) fn event_line(event_type: &str, object: &Value) -> Bytes {
    let mut line = format!("{{\"type\":\"{event_type}\",\"object\":").into_bytes();
    // Writing a `Value` into a Vec cannot fail.
    let _ = serde_json::to_writer(&mut line, object);
    line.extend_from_slice(b"}\n");
    Bytes::from(line)
}

/// The watch event for a change, around the JSON the store committed: no
/// parse, no re-encoding.
pub(super) fn raw_event_line(change: &Change) -> Bytes {
    let head = format!("{{\"type\":\"{}\",\"object\":", change.kind.event_type());
    let mut line = Vec::with_capacity(head.len() + change.json.len() + 2);
    line.extend_from_slice(head.as_bytes());
    line.extend_from_slice(&change.json);
    line.extend_from_slice(b"}\n");
    Bytes::from(line)
}
