//! The object store: one redb file in the data directory.
//!
//! Every write goes through a single writer thread that runs each request's
//! read-modify-write as a closure inside a transaction, batching whatever
//! requests are waiting into one durable commit (group commit). That gives
//! serializable writes without lock juggling in the handlers, monotonic
//! resourceVersions (one counter, stored in the same transaction as the
//! objects, so it survives restarts), and throughput that does not pay one
//! fsync per object. A request is answered only after its commit is durable,
//! so `kill -9` never loses an acknowledged write; redb's copy-on-write
//! commits never leave the file half-written.

use std::collections::{BTreeMap, HashMap};
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::mpsc;

use bytes::Bytes;
use redb::{Database, Durability, ReadableDatabase, ReadableTable, TableDefinition};
use serde_json::Value;
use tokio::sync::oneshot;

use super::object;
use super::status::StatusError;
use super::watch::{Change, ChangeKind, WatchHub};

const OBJECTS: TableDefinition<&str, &[u8]> = TableDefinition::new("objects");
const META: TableDefinition<&str, u64> = TableDefinition::new("meta");
const RESOURCE_VERSION: &str = "resourceVersion";
/// Dependents by owner, for garbage collection: `<owner uid>\0<dependent
/// key>` → nothing. Without it, deleting an object had to decode every
/// object of every type in its namespace (inside the single writer) to find
/// the ones it owns, so each delete cost O(namespace) and stalled all writes.
const DEPENDENTS: TableDefinition<&str, &[u8]> = TableDefinition::new("dependents");
/// The owner uids each owned object is indexed under (newline-separated),
/// so a write can update [`DEPENDENTS`] without decoding the old object.
const OWNERS: TableDefinition<&str, &str> = TableDefinition::new("owners");
/// Set in [`META`] once the owner index covers every object (a data
/// directory from before the index is indexed on open).
const OWNER_INDEX: &str = "ownerIndexVersion";

/// The store's page cache.
const STORE_CACHE_BYTES: usize = 16 << 20;

/// How many queued writes one commit may carry.
const MAX_BATCH: usize = 512;

/// Errors opening or reading the store.
#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    /// The database file could not be opened or created.
    #[error("cannot open the store {}: {source}", path.display())]
    Open {
        /// The database file.
        path: PathBuf,
        /// redb's error.
        source: redb::DatabaseError,
    },
    /// A file-system step around the database failed.
    #[error("cannot prepare the store {}: {source}", path.display())]
    Io {
        /// The file.
        path: PathBuf,
        /// The I/O error.
        source: std::io::Error,
    },
    /// A storage operation failed.
    #[error("store failure: {0}")]
    Storage(String),
    /// A stored object is not valid JSON (the file was tampered with).
    #[error("stored object {key} is corrupt: {source}")]
    Corrupt {
        /// Its key.
        key: String,
        /// The decode error.
        source: serde_json::Error,
    },
    /// The write was not committed (the writer failed or is shut down).
    #[error("the store did not commit the write; the server log says why")]
    Closed,
}

impl From<StoreError> for StatusError {
    fn from(err: StoreError) -> Self {
        StatusError::internal(err.to_string())
    }
}

fn storage<E: std::fmt::Display>(err: E) -> StoreError {
    StoreError::Storage(err.to_string())
}

/// A write: runs inside the writer's transaction and returns the object to
/// answer with, or a refusal that leaves the store as it was.
pub type WriteOp = Box<dyn FnOnce(&mut Txn<'_>) -> Result<Value, StatusError> + Send>;

struct Job {
    op: WriteOp,
    /// False for a dry run: the write is checked, answered, and discarded.
    commit: bool,
    reply: oneshot::Sender<Result<Value, StatusError>>,
}

/// Handle to the store; cheap to clone.
#[derive(Clone, Debug)]
pub struct Store {
    db: Arc<Database>,
    writer: mpsc::Sender<Job>,
    watch: Arc<WatchHub>,
    revision: Arc<AtomicU64>,
}

impl Store {
    /// Opens (or creates) the store at `path`; the file is made 0600 since
    /// it holds Secrets.
    pub fn open(path: &Path) -> Result<Store, StoreError> {
        let io = |source| StoreError::Io {
            path: path.to_owned(),
            source,
        };
        if !path.exists() {
            let mut options = std::fs::OpenOptions::new();
            options.write(true).create_new(true);
            #[cfg(unix)]
            std::os::unix::fs::OpenOptionsExt::mode(&mut options, 0o600);
            options.open(path).map_err(io)?;
        }
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt;
            std::fs::set_permissions(path, std::fs::Permissions::from_mode(0o600)).map_err(io)?;
        }
        // redb's default page cache is 1 GiB; the watch history and the
        // controllers' caches already keep what is hot, so a small one
        // keeps the process's memory near its working set.
        let db = redb::Builder::new()
            .set_cache_size(STORE_CACHE_BYTES)
            .create(path)
            .map_err(|source| StoreError::Open {
                path: path.to_owned(),
                source,
            })?;
        let db = Arc::new(db);
        let revision = {
            let txn = db.begin_write().map_err(storage)?;
            let rv = {
                let objects = txn.open_table(OBJECTS).map_err(storage)?;
                let mut meta = txn.open_table(META).map_err(storage)?;
                let mut dependents = txn.open_table(DEPENDENTS).map_err(storage)?;
                let mut owners = txn.open_table(OWNERS).map_err(storage)?;
                if meta.get(OWNER_INDEX).map_err(storage)?.is_none() {
                    for entry in objects.iter().map_err(storage)? {
                        let (key, value) = entry.map_err(storage)?;
                        let object = decode(key.value(), value.value())?;
                        reindex(&mut dependents, &mut owners, key.value(), Some(&object))?;
                    }
                    meta.insert(OWNER_INDEX, 1).map_err(storage)?;
                }
                meta.get(RESOURCE_VERSION)
                    .map_err(storage)?
                    .map(|v| v.value())
                    .unwrap_or(0)
            };
            txn.commit().map_err(storage)?;
            rv
        };
        let revision = Arc::new(AtomicU64::new(revision));
        let watch = Arc::new(WatchHub::new(revision.load(Ordering::SeqCst)));
        let (writer, jobs) = mpsc::channel::<Job>();
        {
            let db = Arc::clone(&db);
            let watch = Arc::clone(&watch);
            let revision = Arc::clone(&revision);
            std::thread::Builder::new()
                .name("certwasm-store".to_owned())
                .spawn(move || writer_loop(&db, &jobs, &watch, &revision))
                .map_err(io)?;
        }
        Ok(Store {
            db,
            writer,
            watch,
            revision,
        })
    }

    /// The watch hub fed by this store's commits.
    pub fn watch(&self) -> &Arc<WatchHub> {
        &self.watch
    }

    /// The newest committed resourceVersion.
    pub fn revision(&self) -> u64 {
        self.revision.load(Ordering::SeqCst)
    }

    /// Runs a write and waits for it to be durable.
    pub async fn write(&self, op: WriteOp) -> Result<Value, StatusError> {
        self.submit(op, true).await
    }

    /// Runs a write with every check and answers as if it were stored, but
    /// stores nothing (`dryRun=All`).
    pub async fn dry_run(&self, op: WriteOp) -> Result<Value, StatusError> {
        self.submit(op, false).await
    }

    async fn submit(&self, op: WriteOp, commit: bool) -> Result<Value, StatusError> {
        let (reply, answer) = oneshot::channel();
        self.writer
            .send(Job { op, commit, reply })
            .map_err(|_| StoreError::Closed)?;
        answer.await.map_err(|_| StoreError::Closed)?
    }

    /// One object by key.
    pub fn get(&self, key: &str) -> Result<Option<Value>, StoreError> {
        let txn = self.db.begin_read().map_err(storage)?;
        let table = txn.open_table(OBJECTS).map_err(storage)?;
        match table.get(key).map_err(storage)? {
            Some(bytes) => decode(key, bytes.value()).map(Some),
            None => Ok(None),
        }
    }

    /// Every object whose key starts with `prefix`, in key order, with the
    /// resourceVersion of the snapshot they were read from; objects from
    /// `after` (exclusive) on, at most `limit` of them when given.
    pub fn list(
        &self,
        prefix: &str,
        after: Option<&str>,
        limit: Option<usize>,
        mut keep: impl FnMut(&Value) -> bool,
    ) -> Result<Listed, StoreError> {
        let txn = self.db.begin_read().map_err(storage)?;
        let table = txn.open_table(OBJECTS).map_err(storage)?;
        let meta = txn.open_table(META).map_err(storage)?;
        let revision = meta
            .get(RESOURCE_VERSION)
            .map_err(storage)?
            .map(|v| v.value())
            .unwrap_or(0);
        let start = after.map_or_else(|| prefix.to_owned(), |a| format!("{a}\0"));
        let mut items = Vec::new();
        let mut more = None;
        for entry in table.range(start.as_str()..).map_err(storage)? {
            let (key, value) = entry.map_err(storage)?;
            let key = key.value();
            if !key.starts_with(prefix) {
                break;
            }
            let object = decode(key, value.value())?;
            if !keep(&object) {
                continue;
            }
            if limit.is_some_and(|l| items.len() >= l) {
                more = items.last().map(|(k, _): &(String, Value)| k.clone());
                break;
            }
            items.push((key.to_owned(), object));
        }
        Ok(Listed {
            items: items.into_iter().map(|(_, v)| v).collect(),
            revision,
            continue_after: more,
        })
    }
}

/// The result of a list: the objects, the snapshot's resourceVersion, and
/// the key to continue after when a limit cut the list short.
#[derive(Debug)]
pub struct Listed {
    /// Matching objects, in key order.
    pub items: Vec<Value>,
    /// The resourceVersion of the snapshot.
    pub revision: u64,
    /// Set when more objects follow.
    pub continue_after: Option<String>,
}

/// Points the owner index at `object`'s owners (none when it is gone).
fn reindex(
    dependents: &mut redb::Table<'_, &'static str, &'static [u8]>,
    owners: &mut redb::Table<'_, &'static str, &'static str>,
    key: &str,
    object: Option<&Value>,
) -> Result<(), StoreError> {
    let new = object
        .map(object::owner_uids)
        .unwrap_or_default()
        .join("\n");
    let old = owners
        .get(key)
        .map_err(storage)?
        .map(|v| v.value().to_owned())
        .unwrap_or_default();
    if old == new {
        return Ok(());
    }
    for uid in old.split('\n').filter(|u| !u.is_empty()) {
        dependents
            .remove(format!("{uid}\0{key}").as_str())
            .map_err(storage)?;
    }
    for uid in new.split('\n').filter(|u| !u.is_empty()) {
        dependents
            .insert(format!("{uid}\0{key}").as_str(), [].as_slice())
            .map_err(storage)?;
    }
    if new.is_empty() {
        owners.remove(key).map_err(storage)?;
    } else {
        owners.insert(key, new.as_str()).map_err(storage)?;
    }
    Ok(())
}

/// An object's JSON. Encoding a `Value` cannot fail (its keys are strings).
fn encode(object: &Value) -> Bytes {
    Bytes::from(serde_json::to_vec(object).unwrap_or_default())
}

fn decode(key: &str, bytes: &[u8]) -> Result<Value, StoreError> {
    serde_json::from_slice(bytes).map_err(|source| StoreError::Corrupt {
        key: key.to_owned(),
        source,
    })
}

/// The view a write has of the store: reads see its own and its batch's
/// earlier writes; writes are kept until the batch commits.
pub struct Txn<'a> {
    table: &'a redb::Table<'a, &'static str, &'static [u8]>,
    dependents: &'a redb::Table<'a, &'static str, &'static [u8]>,
    batch: &'a BTreeMap<String, Option<Value>>,
    own: BTreeMap<String, Option<Value>>,
    next_revision: u64,
    changes: Vec<Change>,
}

impl std::fmt::Debug for Txn<'_> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Txn")
            .field("next_revision", &self.next_revision)
            .finish_non_exhaustive()
    }
}

impl Txn<'_> {
    /// One object by key, as this write sees it.
    pub fn get(&self, key: &str) -> Result<Option<Value>, StatusError> {
        if let Some(entry) = self.own.get(key).or_else(|| self.batch.get(key)) {
            return Ok(entry.clone());
        }
        match self.table.get(key).map_err(storage)? {
            Some(bytes) => Ok(Some(decode(key, bytes.value())?)),
            None => Ok(None),
        }
    }

    /// Every object under `prefix`, as this write sees them.
    pub fn list(&self, prefix: &str) -> Result<Vec<(String, Value)>, StatusError> {
        let mut found: BTreeMap<String, Option<Value>> = BTreeMap::new();
        for entry in self.table.range(prefix..).map_err(storage)? {
            let (key, value) = entry.map_err(storage)?;
            let key = key.value();
            if !key.starts_with(prefix) {
                break;
            }
            found.insert(key.to_owned(), Some(decode(key, value.value())?));
        }
        for layer in [self.batch, &self.own] {
            for (key, value) in layer.range(prefix.to_owned()..) {
                if !key.starts_with(prefix) {
                    break;
                }
                found.insert(key.clone(), value.clone());
            }
        }
        Ok(found
            .into_iter()
            .filter_map(|(k, v)| v.map(|v| (k, v)))
            .collect())
    }

    /// Every object that names `owner_uid` among its owners, as this write
    /// sees them: the committed index, plus this batch's own writes.
    pub fn dependents(&self, owner_uid: &str) -> Result<Vec<(String, Value)>, StatusError> {
        let prefix = format!("{owner_uid}\0");
        let mut keys = std::collections::BTreeSet::new();
        for entry in self.dependents.range(prefix.as_str()..).map_err(storage)? {
            let (entry, _) = entry.map_err(storage)?;
            match entry.value().strip_prefix(prefix.as_str()) {
                Some(key) => keys.insert(key.to_owned()),
                None => break,
            };
        }
        for layer in [self.batch, &self.own] {
            for (key, value) in layer {
                if value
                    .as_ref()
                    .is_some_and(|v| object::owner_uids(v).iter().any(|u| u == owner_uid))
                {
                    keys.insert(key.clone());
                }
            }
        }
        let mut found = Vec::new();
        for key in keys {
            // The index may predate this batch's writes: check the object.
            if let Some(object) = self.get(&key)?
                && object::owner_uids(&object).iter().any(|u| u == owner_uid)
            {
                found.push((key, object));
            }
        }
        Ok(found)
    }

    /// Stores `object` under `key` with the next resourceVersion; returns
    /// the object as stored.
    pub fn put(&mut self, key: &str, mut object: Value, kind: ChangeKind) -> Value {
        self.next_revision += 1;
        object::set_resource_version(&mut object, self.next_revision);
        self.changes
            .push(Change::new(key, kind, self.next_revision, encode(&object)));
        self.own.insert(key.to_owned(), Some(object.clone()));
        object
    }

    /// Removes the object under `key`; `last` is its final state, which
    /// watchers receive with the deletion's resourceVersion.
    pub fn delete(&mut self, key: &str, mut last: Value) -> Value {
        self.next_revision += 1;
        object::set_resource_version(&mut last, self.next_revision);
        self.own.insert(key.to_owned(), None);
        self.changes.push(Change::new(
            key,
            ChangeKind::Deleted,
            self.next_revision,
            encode(&last),
        ));
        last
    }
}

fn writer_loop(db: &Database, jobs: &mpsc::Receiver<Job>, watch: &WatchHub, revision: &AtomicU64) {
    while let Ok(first) = jobs.recv() {
        let mut batch = vec![first];
        while batch.len() < MAX_BATCH {
            match jobs.try_recv() {
                Ok(job) => batch.push(job),
                Err(_) => break,
            }
        }
        run_batch(db, batch, watch, revision);
    }
}

fn run_batch(db: &Database, jobs: Vec<Job>, watch: &WatchHub, revision: &AtomicU64) {
    let start = revision.load(Ordering::SeqCst);
    let result = (|| -> Result<_, StoreError> {
        let mut txn = db.begin_write().map_err(storage)?;
        txn.set_durability(Durability::Immediate).map_err(storage)?;
        let mut answers = Vec::with_capacity(jobs.len());
        let mut changes = Vec::new();
        let mut next = start;
        {
            let mut table = txn.open_table(OBJECTS).map_err(storage)?;
            let mut dependents = txn.open_table(DEPENDENTS).map_err(storage)?;
            let mut owners = txn.open_table(OWNERS).map_err(storage)?;
            let mut batch: BTreeMap<String, Option<Value>> = BTreeMap::new();
            for job in jobs {
                let mut view = Txn {
                    table: &table,
                    dependents: &dependents,
                    batch: &batch,
                    own: BTreeMap::new(),
                    next_revision: next,
                    changes: Vec::new(),
                };
                let outcome = (job.op)(&mut view);
                if outcome.is_ok() && job.commit {
                    next = view.next_revision;
                    let own = std::mem::take(&mut view.own);
                    changes.append(&mut view.changes);
                    batch.extend(own);
                }
                answers.push((job.reply, outcome));
            }
            // Every put made a change holding the object's JSON; the last
            // one for a key is what the key holds now, so it is stored as is.
            let latest: HashMap<&str, &Bytes> = changes
                .iter()
                .map(|c: &Change| (c.key.as_str(), &c.json))
                .collect();
            for (key, value) in &batch {
                reindex(&mut dependents, &mut owners, key, value.as_ref())?;
                match value {
                    Some(_) => {
                        let bytes = latest
                            .get(key.as_str())
                            .ok_or_else(|| storage(format!("no change recorded for {key}")))?;
                        table
                            .insert(key.as_str(), bytes.as_ref())
                            .map_err(storage)?;
                    }
                    None => {
                        table.remove(key.as_str()).map_err(storage)?;
                    }
                }
            }
            let mut meta = txn.open_table(META).map_err(storage)?;
            meta.insert(RESOURCE_VERSION, next).map_err(storage)?;
        }
        txn.commit().map_err(storage)?;
        Ok((answers, changes, next))
    })();
    match result {
        Ok((answers, changes, next)) => {
            revision.store(next, Ordering::SeqCst);
            watch.publish(changes);
            for (reply, outcome) in answers {
                // The requester may have gone away; the write stands.
                let _ = reply.send(outcome);
            }
        }
        Err(err) => {
            tracing::error!(error = %err, "store commit failed");
            // The jobs were consumed by the failed attempt; their reply
            // channels dropped with them, so each requester sees the store
            // as unavailable (500) and nothing was acknowledged.
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn object(name: &str, owners: &[&str]) -> Value {
        let refs: Vec<Value> = owners.iter().map(|u| json!({"uid": u})).collect();
        json!({"metadata": {"name": name, "ownerReferences": refs}})
    }

    async fn put(store: &Store, key: &'static str, value: Value) {
        store
            .write(Box::new(move |txn: &mut Txn<'_>| {
                Ok(txn.put(key, value, ChangeKind::Added))
            }))
            .await
            .expect("put");
    }

    /// Opens the file again once the previous handle's writer thread has
    /// let go of it (it exits when the last handle drops).
    fn reopen(path: &Path) -> Store {
        for _ in 0..100 {
            if let Ok(store) = Store::open(path) {
                return store;
            }
            std::thread::sleep(std::time::Duration::from_millis(20));
        }
        Store::open(path).expect("reopen")
    }

    async fn dependents(store: &Store, owner: &'static str) -> Vec<String> {
        let found = store
            .write(Box::new(move |txn: &mut Txn<'_>| {
                let keys: Vec<String> =
                    txn.dependents(owner)?.into_iter().map(|(k, _)| k).collect();
                Ok(json!(keys))
            }))
            .await
            .expect("dependents");
        serde_json::from_value(found).expect("keys")
    }

    #[tokio::test]
    async fn dependents_follow_owner_references_across_writes_and_reopens() {
        let dir = tempfile::tempdir().expect("tempdir");
        let path = dir.path().join("store.redb");
        {
            let store = Store::open(&path).expect("open");
            put(&store, "core/secrets/ns/a", object("a", &["u1"])).await;
            put(&store, "core/secrets/ns/b", object("b", &["u1", "u2"])).await;
            put(&store, "core/secrets/ns/c", object("c", &[])).await;
            assert_eq!(
                dependents(&store, "u1").await,
                ["core/secrets/ns/a", "core/secrets/ns/b"]
            );
            // Dropping a reference takes the object out of the owner's list.
            put(&store, "core/secrets/ns/b", object("b", &["u2"])).await;
            assert_eq!(dependents(&store, "u1").await, ["core/secrets/ns/a"]);
            assert_eq!(dependents(&store, "u2").await, ["core/secrets/ns/b"]);
        }
        // The index is in the file: it survives a restart.
        let store = reopen(&path);
        assert_eq!(dependents(&store, "u2").await, ["core/secrets/ns/b"]);
    }

    #[tokio::test]
    async fn a_store_from_before_the_index_is_indexed_on_open() {
        let dir = tempfile::tempdir().expect("tempdir");
        let path = dir.path().join("store.redb");
        {
            let store = Store::open(&path).expect("open");
            put(&store, "core/configmaps/ns/x", object("x", &["owner"])).await;
        }
        {
            // Forget the index, as a data directory written before it.
            let db = (0..100)
                .find_map(|_| {
                    Database::create(&path)
                        .inspect_err(|_| std::thread::sleep(std::time::Duration::from_millis(20)))
                        .ok()
                })
                .expect("db");
            let txn = db.begin_write().expect("txn");
            txn.delete_table(DEPENDENTS).expect("drop dependents");
            txn.delete_table(OWNERS).expect("drop owners");
            txn.open_table(META)
                .expect("meta")
                .remove(OWNER_INDEX)
                .expect("unmark");
            txn.commit().expect("commit");
        }
        let store = reopen(&path);
        assert_eq!(dependents(&store, "owner").await, ["core/configmaps/ns/x"]);
    }
}
