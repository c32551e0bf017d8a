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

use std::future::Future;
use std::sync::{Arc, Mutex};

use futures_util::StreamExt;
use kube::api::Api;
use kube::runtime::reflector::{self, ObjectRef, ReflectHandle, Store};
use kube::runtime::{WatchStreamExt, watcher};

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
        let api: Api<CertificateRequest> = Api::all(client);
        let driver = watcher(api, watcher::Config::default())
            .default_backoff()
            .reflect_shared(writer)
            .for_each(|event| async move {
                if let Err(err) = event {
                    tracing::debug!(error = %err, "CertificateRequest watch failed; retrying");
                }
            });
        Some(Started {
            driver,
            for_requests,
            for_certificates,
        })
    }
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
