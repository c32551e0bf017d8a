//! Watch: every committed change, in resourceVersion order, to every
//! watcher that wants it.
//!
//! The hub keeps a window of recent changes so a client can resume a watch
//! from the resourceVersion it last saw (as kube-rs's watcher and client-go's
//! reflector do after a dropped connection); asking for history older than
//! the window is answered with 410 Gone, which tells the client to list
//! again. Publishing and subscribing take the same lock, so a watcher gets
//! the backlog and then the live stream with no gap and no duplicate.

use std::collections::VecDeque;
use std::sync::{Arc, Mutex};

use bytes::Bytes;
use serde_json::Value;
use tokio::sync::broadcast;

/// How many recent changes are kept for resuming watches, at most.
pub const HISTORY: usize = 100_000;

/// How many bytes of JSON the kept changes may hold. The history is for
/// resuming a dropped watch, not an archive; bounding it by size keeps a
/// burst of large objects (Secrets, CertificateRequests with chains) from
/// holding the process's memory, and a client resuming from older history
/// lists again (410 Gone), as it would against any API server.
pub const HISTORY_BYTES: usize = 64 << 20;

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
    history: Mutex<History>,
    live: broadcast::Sender<Arc<Change>>,
}

/// A started watch: the backlog after the requested resourceVersion, then
/// the live stream.
#[derive(Debug)]
pub struct Subscription {
    /// Changes already committed after the requested resourceVersion.
    pub backlog: Vec<Arc<Change>>,
    /// Changes committed from now on.
    pub live: broadcast::Receiver<Arc<Change>>,
}

impl WatchHub {
    /// A hub whose history starts at `revision` (the store's revision when
    /// the process started: older history is gone with the old process).
    pub fn new(revision: u64) -> WatchHub {
        let (live, _) = broadcast::channel(16_384);
        WatchHub {
            history: Mutex::new(History {
                changes: VecDeque::new(),
                bytes: 0,
                floor: revision,
            }),
            live,
        }
    }

    /// Publishes committed changes, in order.
    pub fn publish(&self, changes: Vec<Change>) {
        if changes.is_empty() {
            return;
        }
        let mut history = self.history.lock().unwrap_or_else(|e| e.into_inner());
        for change in changes {
            let change = Arc::new(change);
            history.bytes += change.json.len();
            history.changes.push_back(Arc::clone(&change));
            // Nobody listening is fine.
            let _ = self.live.send(change);
        }
        while history.changes.len() > HISTORY || history.bytes > HISTORY_BYTES {
            let Some(old) = history.changes.pop_front() else {
                break;
            };
            history.bytes -= old.json.len();
            history.floor = old.revision;
        }
    }

    /// Starts a watch after `since` (exclusive): every kept change with a
    /// greater resourceVersion, then the live stream.
    pub fn subscribe(&self, since: u64) -> Result<Subscription, WatchError> {
        let history = self.history.lock().unwrap_or_else(|e| e.into_inner());
        if since < history.floor {
            return Err(WatchError::TooOld {
                requested: since,
                oldest: history.floor,
            });
        }
        let backlog = history
            .changes
            .iter()
            .filter(|c| c.revision > since)
            .cloned()
            .collect();
        Ok(Subscription {
            backlog,
            live: self.live.subscribe(),
        })
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

    #[test]
    fn history_is_bounded_by_bytes_and_the_floor_follows() {
        let hub = WatchHub::new(0);
        let big = Bytes::from(vec![b' '; HISTORY_BYTES / 2 + 1]);
        let changes = (1..=3)
            .map(|r| Change::new("core/secrets/ns/a", ChangeKind::Modified, r, big.clone()))
            .collect();
        hub.publish(changes);
        // Only the newest fits; resuming from before it must list again.
        assert!(hub.subscribe(2).is_ok());
        assert_eq!(
            hub.subscribe(1).err(),
            Some(WatchError::TooOld {
                requested: 1,
                oldest: 2
            })
        );
    }

    #[test]
    fn resumes_after_the_requested_version_and_refuses_older_history() {
        let hub = WatchHub::new(10);
        hub.publish(vec![change(11), change(12), change(13)]);
        let sub = hub.subscribe(11).expect("within history");
        let revisions: Vec<u64> = sub.backlog.iter().map(|c| c.revision).collect();
        assert_eq!(revisions, vec![12, 13]);
        assert_eq!(
            hub.subscribe(9).err(),
            Some(WatchError::TooOld {
                requested: 9,
                oldest: 10
            })
        );
    }

    #[tokio::test]
    async fn live_changes_follow_the_backlog() {
        let hub = WatchHub::new(0);
        hub.publish(vec![change(1)]);
        let mut sub = hub.subscribe(0).expect("subscribe");
        hub.publish(vec![change(2)]);
        assert_eq!(sub.backlog.len(), 1);
        let next = sub.live.recv().await.expect("live change");
        assert_eq!(next.revision, 2);
    }
}
