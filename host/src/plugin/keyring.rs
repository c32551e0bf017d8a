//! The keys a single call may use, by handle.

use std::collections::HashMap;
use std::sync::Arc;

use crate::pki::PrivateKey;

/// Handles a plugin holds during one call. A handle is a name the host made
/// up; it is worthless outside the call, so a plugin cannot smuggle a key
/// reference into its persisted state.
#[derive(Default)]
pub(crate) struct KeyRing {
    keys: HashMap<String, Arc<PrivateKey>>,
}

impl KeyRing {
    pub(crate) fn insert(&mut self, handle: String, key: Arc<PrivateKey>) -> String {
        self.keys.insert(handle.clone(), key);
        handle
    }

    pub(crate) fn get(&self, handle: &str) -> Result<&Arc<PrivateKey>, String> {
        self.keys
            .get(handle)
            .ok_or_else(|| format!("no key with handle {handle:?} was granted to this call"))
    }
}

/// The handle of the request's own private key.
pub(crate) const REQUEST_KEY_HANDLE: &str = "request-key";

/// The handle of a key loaded from a Secret field.
pub(crate) fn secret_key_handle(secret: &str, field: &str) -> String {
    format!("secret:{secret}/{field}")
}
