//! Shared caches: one watch and one in-memory store of CertificateRequests
//! for every controller that needs them, as client-go's shared informers
//! give cert-manager's controllers.
//!
//! The Certificate controller must find a Certificate's requests on every
//! pass. Listing them from the API each time made a pass cost O(requests in
//! the namespace) — quadratic over an issuance of many Certificates — so it
//! reads them from this store instead. The store is the CertificateRequest
//! controller's own cache too, so there is one watch and one copy.
//!
//! A shared reflector applies each event to the store *before* handing it
//! to its subscribers, so a reconcile triggered by a request's change always
//! reads a store at least as new as that change. That ordering is why this
//! uses kube-runtime's shared streams (feature `unstable-runtime-subscribe`)
//! rather than a second, independent reflector, which could lag the trigger
//! and leave a Certificate waiting on a change it had already been told of.

use std::fmt::Debug;
use std::future::Future;
use std::hash::Hash;
use std::sync::{Arc, Mutex};

use futures_util::StreamExt;
use kube::Resource;
use kube::api::Api;
use kube::runtime::reflector::{self, ObjectRef, ReflectHandle, Store};
use kube::runtime::{WatchStreamExt, watcher};
use serde::de::DeserializeOwned;

use crate::api::CertificateRequest;

/// How many events a slow subscriber may lag before the watch waits for it.
const SUBSCRIBER_BUFFER: usize = 1024;

/// The shared stores, created with the [`super::Context`] and started by
/// [`super::run`].
pub struct Informers {
    requests: Store<CertificateRequest>,
    writer: Mutex<Option<reflector::store::Writer<CertificateRequest>>>,
}

/// The running watch and one trigger stream per controller that follows it.
pub(crate) struct Started<D> {
    /// Drives the watch; must be polled for the subscribers to see anything.
    pub driver: D,
    /// Triggers the CertificateRequest controller.
    pub for_requests: ReflectHandle<CertificateRequest>,
    /// Triggers the Certificate controller (through the requests' owners).
    pub for_certificates: ReflectHandle<CertificateRequest>,
}

impl Informers {
    /// Empty stores, not yet watching.
    pub fn new() -> Self {
        let (requests, writer) = reflector::store_shared(SUBSCRIBER_BUFFER);
        Informers {
            requests,
            writer: Mutex::new(Some(writer)),
        }
    }

    /// Every CertificateRequest the watch has seen.
    pub fn requests(&self) -> &Store<CertificateRequest> {
        &self.requests
    }

    /// The request `name` in `namespace`, from the cache.
    pub fn request(&self, namespace: &str, name: &str) -> Option<Arc<CertificateRequest>> {
        self.requests.get(&ObjectRef::new(name).within(namespace))
    }

    /// Starts the watch; `None` when it was already started.
    pub(crate) fn start(
        &self,
        client: kube::Client,
    ) -> Option<Started<impl Future<Output = ()> + Send + 'static>> {
        let writer = self
            .writer
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .take()?;
        // Subscribed before the watch runs, so neither misses an event.
        let for_requests = writer.subscribe()?;
        let for_certificates = writer.subscribe()?;
        let driver = drive(Api::<CertificateRequest>::all(client), writer);
        Some(Started {
            driver,
            for_requests,
            for_certificates,
        })
    }
}

/// A cache of every `K` and the stream that triggers its controller.
///
/// kube-runtime's `Controller::new` triggers a reconcile for each object of a
/// relist as it arrives, but its store swaps the new list in only when the
/// relist is done; a trigger for an object created since the last list finds
/// no object in the store and is dropped, so that object waits for its next
/// change (a Certificate applied during a relist was never issued). A shared
/// reflector triggers from the store after the swap, for every object.
pub(crate) fn cached<K>(api: Api<K>) -> Cached<K, impl Future<Output = ()> + Send + 'static>
where
    K: Resource + Clone + DeserializeOwned + Debug + Send + Sync + 'static,
    K::DynamicType: Default + Eq + Hash + Clone + Send + Sync,
{
    let (store, writer) = reflector::store_shared(SUBSCRIBER_BUFFER);
    let trigger = writer
        .subscribe()
        .expect("a shared store can be subscribed to");
    Cached {
        store,
        trigger,
        driver: drive(api, writer),
    }
}

/// What [`cached`] returns.
pub(crate) struct Cached<K: Resource + Clone + 'static, D>
where
    K::DynamicType: Eq + Hash + Clone,
{
    /// Every object the watch has seen.
    pub store: Store<K>,
    /// One trigger per change, after the store has it.
    pub trigger: ReflectHandle<K>,
    /// Drives the watch; must be polled for the others to see anything.
    pub driver: D,
}

/// Watches every `K` into `writer`, retrying with backoff.
fn drive<K>(api: Api<K>, writer: reflector::store::Writer<K>) -> impl Future<Output = ()> + Send
where
    K: Resource + Clone + DeserializeOwned + Debug + Send + Sync + 'static,
    K::DynamicType: Default + Eq + Hash + Clone + Send + Sync,
{
    watcher(api, watcher::Config::default())
        .default_backoff()
        .modify(without_managed_fields)
        .reflect_shared(writer)
        .for_each(|event| async move {
            if let Err(err) = event {
                tracing::debug!(
                    kind = %K::kind(&K::DynamicType::default()),
                    error = %err,
                    "watch failed; retrying"
                );
            }
        })
}

/// Drops `metadata.managedFields` from a watched object before it is
/// cached. The controllers never read them, and they are the largest part
/// of these objects' metadata (a JSON tree of fields per manager): with
/// them, the typed caches of Certificates and CertificateRequests were the
/// largest use of memory at scale (the pattern kube-rs's documentation
/// recommends for reflectors). The field is left unset, not emptied, so
/// that a write sent from a cached copy leaves the server's managedFields
/// as they are (an empty list would ask for them to be replaced).
pub(crate) fn without_managed_fields<K: Resource>(object: &mut K) {
    object.meta_mut().managed_fields = None;
}

impl Default for Informers {
    fn default() -> Self {
        Self::new()
    }
}

impl std::fmt::Debug for Informers {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Informers")
            .field("requests", &self.requests.len())
            .finish_non_exhaustive()
    }
}
