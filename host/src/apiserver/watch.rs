//! Watch: every committed change, in resourceVersion order, to every
//! watcher that wants it.
//!
//! Each watcher has its own queue of the changes under its key prefix, so a
//! watcher that falls behind holds only the changes it has yet to send — a
//! Secrets watch lagging during a burst of Certificates holds Secrets, not
//! everything committed since. A queue that grows past
//! [`WATCHER_QUEUE_BYTES`] is cut off and its watcher resumes from the
//! history, or, when the history no longer reaches back that far, ends
//! with 410 Gone so the client lists again (an API server likewise closes a
//! watcher that cannot keep up).
//!
//! The hub also keeps a short window of recent changes so a client can
//! resume a watch from the resourceVersion it last saw (as kube-rs's watcher
//! and client-go's reflector do after a dropped connection). Publishing and
//! subscribing take the same lock, so a watcher gets the backlog and then
//! its queue with no gap and no duplicate.

use std::collections::VecDeque;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};

use bytes::Bytes;
use serde_json::Value;
use tokio::sync::mpsc;

/// How many recent changes are kept for resuming watches, at most.
pub const HISTORY: usize = 100_000;

/// How many bytes of JSON the kept changes may hold. The history is for
/// resuming a dropped watch, not for feeding slow watchers (their own
/// queues do that), so a few seconds of a busy store are enough; a client
/// resuming from older history lists again (410 Gone), as it would against
/// any API server. Bounding it by size keeps a burst of large objects
/// (Secrets, CertificateRequests with chains) from holding the memory.
pub const HISTORY_BYTES: usize = 16 << 20;

/// How many bytes of JSON one watcher's queue may hold before it is cut off
/// (see the module documentation).
pub const WATCHER_QUEUE_BYTES: usize = 32 << 20;

/// What happened to an object, as the watch event `type` says it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ChangeKind {
    /// Created.
    Added,
    /// Updated (including a deletion that only set deletionTimestamp).
    Modified,
    /// Removed from the store.
    Deleted,
}

impl ChangeKind {
    /// The watch event type.
    pub fn event_type(self) -> &'static str {
        match self {
            ChangeKind::Added => "ADDED",
            ChangeKind::Modified => "MODIFIED",
            ChangeKind::Deleted => "DELETED",
        }
    }
}

/// One committed change.
#[derive(Debug, Clone)]
pub struct Change {
    /// The store key (`group/plural/namespace/name`).
    pub key: String,
    /// Added, modified or deleted.
    pub kind: ChangeKind,
    /// The resourceVersion the change was committed at.
    pub revision: u64,
    /// The object after the change (its last state for a deletion), as
    /// JSON: serialised once at commit — the same bytes the store writes —
    /// and shared by every watcher and the history, which is several times
    /// smaller than a parsed tree and costs no re-encoding per watcher.
    pub json: Bytes,
}

impl Change {
    /// A change of the object at `key`, serialised as `json`.
    pub fn new(key: &str, kind: ChangeKind, revision: u64, json: Bytes) -> Change {
        Change {
            key: key.to_owned(),
            kind,
            revision,
            json,
        }
    }

    /// The object, parsed; for the watches that must look inside it
    /// (selectors, tables).
    pub fn object(&self) -> Value {
        serde_json::from_slice(&self.json).unwrap_or(Value::Null)
    }
}

/// Why a watch could not start.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum WatchError {
    /// The requested resourceVersion is older than the kept history.
    #[error("too old resource version: {requested} ({oldest})")]
    TooOld {
        /// What the client asked for.
        requested: u64,
        /// The oldest resourceVersion a watch can still start from.
        oldest: u64,
    },
}

#[derive(Debug)]
struct History {
    changes: VecDeque<Arc<Change>>,
    /// The JSON bytes `changes` hold.
    bytes: usize,
    /// A watch may start from any resourceVersion ≥ this one.
    floor: u64,
}

/// Fan-out of committed changes.
#[derive(Debug)]
pub struct WatchHub {
    state: Mutex<HubState>,
}

#[derive(Debug)]
struct HubState {
    history: History,
    watchers: Vec<Watcher>,
}

/// The hub's end of one watcher's queue.
#[derive(Debug)]
struct Watcher {
    prefix: String,
    sender: mpsc::UnboundedSender<Arc<Change>>,
    queue: Arc<QueueState>,
}

/// Shared by a watcher's queue ends.
#[derive(Debug, Default)]
struct QueueState {
    /// JSON bytes sent and not yet received.
    bytes: AtomicUsize,
    /// The hub cut the queue off for growing past [`WATCHER_QUEUE_BYTES`].
    cut_off: AtomicBool,
}

/// A started watch: the backlog after the requested resourceVersion, then
/// every later change under the prefix, in order.
#[derive(Debug)]
pub struct Subscription {
    hub: Arc<WatchHub>,
    prefix: String,
    backlog: VecDeque<Arc<Change>>,
    receiver: mpsc::UnboundedReceiver<Arc<Change>>,
    queue: Arc<QueueState>,
    /// The resourceVersion of the last change returned.
    last: u64,
}

impl WatchHub {
    /// A hub whose history starts at `revision` (the store's revision when
    /// the process started: older history is gone with the old process).
    pub fn new(revision: u64) -> WatchHub {
        WatchHub {
            state: Mutex::new(HubState {
                history: History {
                    changes: VecDeque::new(),
                    bytes: 0,
                    floor: revision,
                },
                watchers: Vec::new(),
            }),
        }
    }

    /// Publishes committed changes, in order.
    pub fn publish(&self, changes: Vec<Change>) {
        if changes.is_empty() {
            return;
        }
        let mut state = self.state.lock().unwrap_or_else(|e| e.into_inner());
        let HubState { history, watchers } = &mut *state;
        for change in changes {
            let change = Arc::new(change);
            let size = change.json.len();
            watchers.retain(|watcher| {
                if !change.key.starts_with(&watcher.prefix) {
                    return !watcher.sender.is_closed();
                }
                let queued = watcher.queue.bytes.fetch_add(size, Ordering::AcqRel) + size;
                if queued > WATCHER_QUEUE_BYTES {
                    // Dropping the sender ends the queue after what it holds.
                    watcher.queue.cut_off.store(true, Ordering::Release);
                    return false;
                }
                watcher.sender.send(Arc::clone(&change)).is_ok()
            });
            history.bytes += size;
            history.changes.push_back(change);
        }
        while history.changes.len() > HISTORY || history.bytes > HISTORY_BYTES {
            let Some(old) = history.changes.pop_front() else {
                break;
            };
            history.bytes -= old.json.len();
            history.floor = old.revision;
        }
    }

    /// Starts a watch of the keys under `prefix` after `since` (exclusive):
    /// every kept change with a greater resourceVersion, then each change
    /// as it is committed.
    pub fn subscribe(
        self: &Arc<Self>,
        prefix: &str,
        since: u64,
    ) -> Result<Subscription, WatchError> {
        let mut state = self.state.lock().unwrap_or_else(|e| e.into_inner());
        let history = &state.history;
        if since < history.floor {
            return Err(WatchError::TooOld {
                requested: since,
                oldest: history.floor,
            });
        }
        let backlog = history
            .changes
            .iter()
            .filter(|c| c.revision > since && c.key.starts_with(prefix))
            .cloned()
            .collect();
        let (sender, receiver) = mpsc::unbounded_channel();
        let queue = Arc::new(QueueState::default());
        state.watchers.push(Watcher {
            prefix: prefix.to_owned(),
            sender,
            queue: Arc::clone(&queue),
        });
        Ok(Subscription {
            hub: Arc::clone(self),
            prefix: prefix.to_owned(),
            backlog,
            receiver,
            queue,
            last: since,
        })
    }
}

impl Subscription {
    /// The next change: `Ok(None)` when the hub is gone, `Err` when this
    /// watcher fell so far behind that the history no longer holds what it
    /// has yet to see (the client must list again).
    pub async fn next(&mut self) -> Result<Option<Arc<Change>>, WatchError> {
        loop {
            if let Some(change) = self.backlog.pop_front() {
                self.last = change.revision;
                return Ok(Some(change));
            }
            match self.receiver.recv().await {
                Some(change) => {
                    self.queue
                        .bytes
                        .fetch_sub(change.json.len(), Ordering::AcqRel);
                    self.last = change.revision;
                    return Ok(Some(change));
                }
                None if self.queue.cut_off.load(Ordering::Acquire) => {
                    // Cut off for lagging: catch up from the history, as an
                    // API server's watch cache would.
                    let hub = Arc::clone(&self.hub);
                    *self = hub.subscribe(&self.prefix, self.last)?;
                }
                None => return Ok(None),
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn change(revision: u64) -> Change {
        Change::new(
            "core/secrets/ns/a",
            ChangeKind::Added,
            revision,
            Bytes::from_static(b"{}"),
        )
    }

    const SECRETS: &str = "core/secrets/";

    fn collect_backlog(sub: &mut Subscription) -> Vec<u64> {
        sub.backlog.iter().map(|c| c.revision).collect()
    }

    #[test]
    fn history_is_bounded_by_bytes_and_the_floor_follows() {
        let hub = Arc::new(WatchHub::new(0));
        let big = Bytes::from(vec![b' '; HISTORY_BYTES / 2 + 1]);
        let changes = (1..=3)
            .map(|r| Change::new("core/secrets/ns/a", ChangeKind::Modified, r, big.clone()))
            .collect();
        hub.publish(changes);
        // Only the newest fits; resuming from before it must list again.
        assert!(hub.subscribe(SECRETS, 2).is_ok());
        assert_eq!(
            hub.subscribe(SECRETS, 1).err(),
            Some(WatchError::TooOld {
                requested: 1,
                oldest: 2
            })
        );
    }

    #[test]
    fn resumes_after_the_requested_version_and_refuses_older_history() {
        let hub = Arc::new(WatchHub::new(10));
        hub.publish(vec![change(11), change(12), change(13)]);
        let mut sub = hub.subscribe(SECRETS, 11).expect("within history");
        assert_eq!(collect_backlog(&mut sub), vec![12, 13]);
        assert_eq!(
            hub.subscribe(SECRETS, 9).err(),
            Some(WatchError::TooOld {
                requested: 9,
                oldest: 10
            })
        );
    }

    #[tokio::test]
    async fn live_changes_follow_the_backlog() {
        let hub = Arc::new(WatchHub::new(0));
        hub.publish(vec![change(1)]);
        let mut sub = hub.subscribe(SECRETS, 0).expect("subscribe");
        hub.publish(vec![change(2)]);
        let first = sub.next().await.expect("kept").expect("backlog change");
        let second = sub.next().await.expect("kept").expect("live change");
        assert_eq!((first.revision, second.revision), (1, 2));
    }

    #[tokio::test]
    async fn a_watcher_is_sent_only_the_changes_under_its_prefix() {
        let hub = Arc::new(WatchHub::new(0));
        let mut sub = hub.subscribe(SECRETS, 0).expect("subscribe");
        hub.publish(vec![
            Change::new(
                "cert-manager.io/certificates/ns/a",
                ChangeKind::Added,
                1,
                Bytes::new(),
            ),
            change(2),
        ]);
        let next = sub.next().await.expect("kept").expect("change");
        assert_eq!(next.revision, 2);
        assert_eq!(sub.queue.bytes.load(Ordering::Acquire), 0);
    }

    #[tokio::test]
    async fn a_watcher_cut_off_for_lagging_catches_up_from_the_history() {
        let hub = Arc::new(WatchHub::new(0));
        let mut sub = hub.subscribe(SECRETS, 0).expect("subscribe");
        let quarter = Bytes::from(vec![b' '; WATCHER_QUEUE_BYTES / 4]);
        // Five quarters: the fifth overflows the queue and is not sent to it,
        // but the history (half the queue's bound here) still holds it.
        const { assert!(HISTORY_BYTES >= WATCHER_QUEUE_BYTES / 2) };
        let changes = (1..=5)
            .map(|r| {
                Change::new(
                    "core/secrets/ns/a",
                    ChangeKind::Modified,
                    r,
                    quarter.clone(),
                )
            })
            .collect();
        hub.publish(changes);
        let mut seen = Vec::new();
        for _ in 0..5 {
            seen.push(
                sub.next()
                    .await
                    .expect("in history")
                    .expect("change")
                    .revision,
            );
        }
        assert_eq!(seen, vec![1, 2, 3, 4, 5]);
    }

    #[tokio::test]
    async fn a_watcher_cut_off_beyond_the_history_must_list_again() {
        let hub = Arc::new(WatchHub::new(0));
        let mut sub = hub.subscribe(SECRETS, 0).expect("subscribe");
        let half = Bytes::from(vec![b' '; WATCHER_QUEUE_BYTES / 2]);
        let changes = (1..=8)
            .map(|r| Change::new("core/secrets/ns/a", ChangeKind::Modified, r, half.clone()))
            .collect();
        hub.publish(changes);
        // Two halves were queued before the cut; the history has only the
        // newest change, so what followed them is gone.
        assert_eq!(
            sub.next().await.expect("queued").map(|c| c.revision),
            Some(1)
        );
        assert_eq!(
            sub.next().await.expect("queued").map(|c| c.revision),
            Some(2)
        );
        assert!(matches!(
            sub.next().await,
            Err(WatchError::TooOld { requested: 2, .. })
        ));
    }

    #[test]
    fn a_dropped_watcher_is_forgotten_on_the_next_publish() {
        let hub = Arc::new(WatchHub::new(0));
        drop(hub.subscribe(SECRETS, 0).expect("subscribe"));
        hub.publish(vec![change(1)]);
        let state = hub.state.lock().expect("lock");
        assert!(state.watchers.is_empty());
    }
}
