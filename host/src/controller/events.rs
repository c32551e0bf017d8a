//! Events as cert-manager records them: core/v1 Events on the object, with
//! cert-manager's reasons and messages and a `cert-manager-<controller>`
//! source, repeated occurrences counted on one Event (so `kubectl describe`
//! shows `(x3 over 5m)` rather than three lines).

use std::collections::{HashMap, VecDeque};
use std::sync::{Arc, Mutex};

use k8s_openapi::api::core::v1::{Event, EventSource, ObjectReference};
use k8s_openapi::apimachinery::pkg::apis::meta::v1::ObjectMeta;
use kube::api::{Api, Patch, PatchParams, PostParams};
use kube::{Resource, ResourceExt};
use serde_json::json;

use crate::policy::conditions::to_time;

/// `Normal` or `Warning`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum EventType {
    /// Progress.
    Normal,
    /// Something went wrong.
    Warning,
}

impl EventType {
    fn as_str(self) -> &'static str {
        match self {
            EventType::Normal => "Normal",
            EventType::Warning => "Warning",
        }
    }
}

/// (object uid, reason, message): what makes two Events the same.
type EventKey = (String, String, String);

/// How many distinct Events are remembered for counting repeats. Like
/// client-go's event correlator (an LRU of 4096), this bounds memory however
/// many objects pass through; an Event that fell out of the window is
/// recorded afresh, as a new Event, which costs only a line in `describe`.
const SEEN_LIMIT: usize = 4096;

/// The Events recorded recently: (object uid, reason, message) → (event
/// name, count), forgetting the oldest first beyond [`SEEN_LIMIT`].
#[derive(Debug, Default)]
struct Seen {
    events: HashMap<EventKey, (String, i32)>,
    order: VecDeque<EventKey>,
}

impl Seen {
    fn get(&self, key: &EventKey) -> Option<(String, i32)> {
        self.events.get(key).cloned()
    }

    fn insert(&mut self, key: EventKey, value: (String, i32)) {
        if self.events.insert(key.clone(), value).is_none() {
            self.order.push_back(key);
        }
        while self.events.len() > SEEN_LIMIT {
            let Some(oldest) = self.order.pop_front() else {
                break;
            };
            self.events.remove(&oldest);
        }
    }
}

/// Records Events; cheap to clone.
#[derive(Clone)]
pub struct Recorder {
    client: kube::Client,
    seen: Arc<Mutex<Seen>>,
}

impl std::fmt::Debug for Recorder {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Recorder").finish_non_exhaustive()
    }
}

impl Recorder {
    /// A recorder writing through `client`.
    pub fn new(client: kube::Client) -> Recorder {
        Recorder {
            client,
            seen: Arc::default(),
        }
    }

    /// Records an Event on `object` from `component` (e.g.
    /// `cert-manager-certificates-trigger`). Failures are logged, never
    /// returned: an Event is worth less than the work it reports.
    pub async fn publish<K>(
        &self,
        object: &K,
        component: &str,
        kind: EventType,
        reason: &str,
        message: &str,
    ) where
        K: Resource<DynamicType = ()>,
    {
        let namespace = object.namespace().unwrap_or_else(|| "default".to_owned());
        let uid = object.uid().unwrap_or_default();
        let now = time::OffsetDateTime::now_utc();
        let api: Api<Event> = Api::namespaced(self.client.clone(), &namespace);
        let key = (uid.clone(), reason.to_owned(), message.to_owned());
        let known = self
            .seen
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .get(&key);
        if let Some((name, count)) = known {
            let patch = json!({"count": count + 1, "lastTimestamp": to_time(now)});
            if api
                .patch(&name, &PatchParams::default(), &Patch::Merge(&patch))
                .await
                .is_ok()
            {
                self.seen
                    .lock()
                    .unwrap_or_else(|e| e.into_inner())
                    .insert(key, (name, count + 1));
                return;
            }
        }
        let name = format!("{}.{:016x}", object.name_any(), rand::random::<u64>());
        let event = Event {
            metadata: ObjectMeta {
                name: Some(name.clone()),
                namespace: Some(namespace.clone()),
                ..ObjectMeta::default()
            },
            involved_object: ObjectReference {
                api_version: Some(K::api_version(&()).into_owned()),
                kind: Some(K::kind(&()).into_owned()),
                name: Some(object.name_any()),
                namespace: object.namespace(),
                uid: Some(uid),
                resource_version: object.resource_version(),
                field_path: None,
            },
            reason: Some(reason.to_owned()),
            message: Some(message.to_owned()),
            type_: Some(kind.as_str().to_owned()),
            source: Some(EventSource {
                component: Some(component.to_owned()),
                host: None,
            }),
            reporting_component: Some(component.to_owned()),
            reporting_instance: Some(component.to_owned()),
            first_timestamp: Some(to_time(now)),
            last_timestamp: Some(to_time(now)),
            event_time: None,
            count: Some(1),
            action: None,
            related: None,
            series: None,
        };
        match api.create(&PostParams::default(), &event).await {
            Ok(_) => {
                self.seen
                    .lock()
                    .unwrap_or_else(|e| e.into_inner())
                    .insert(key, (name, 1));
            }
            Err(err) => tracing::warn!(%reason, error = %err, "cannot record event"),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn key(i: usize) -> EventKey {
        (format!("uid-{i}"), "Issuing".to_owned(), "m".to_owned())
    }

    #[test]
    fn remembers_at_most_the_limit_forgetting_the_oldest() {
        let mut seen = Seen::default();
        for i in 0..=SEEN_LIMIT {
            seen.insert(key(i), (format!("e{i}"), 1));
        }
        assert_eq!(seen.events.len(), SEEN_LIMIT);
        assert_eq!(seen.get(&key(0)), None);
        assert_eq!(
            seen.get(&key(SEEN_LIMIT)),
            Some((format!("e{SEEN_LIMIT}"), 1))
        );
        // A repeat updates its count without taking a second place.
        seen.insert(key(1), ("e1".to_owned(), 2));
        assert_eq!(seen.order.len(), SEEN_LIMIT);
        assert_eq!(seen.get(&key(1)), Some(("e1".to_owned(), 2)));
    }
}
