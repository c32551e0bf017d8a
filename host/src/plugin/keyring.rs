//! The keys a single call may use, by handle.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};

use sha2::{Digest, Sha256};

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

/// Keys parsed from Secret PEM, by the SHA-256 of the PEM text, shared by
/// every call of every plugin on an engine.
///
/// Parsing a key is most of the fixed cost of a CA issuance (an ECDSA key's
/// public point is a scalar multiplication; RSA keys are checked), and a CA
/// issuer signs with the same key call after call. Keying by content means a
/// rotated Secret is simply a new entry; the cache never serves a key the
/// Secret no longer holds. Bounded: it is cleared when full.
#[derive(Default)]
pub(crate) struct ParsedKeyCache {
    keys: Mutex<HashMap<[u8; 32], Arc<PrivateKey>>>,
}

/// Distinct keys kept before the cache starts over.
const PARSED_KEY_CAPACITY: usize = 1024;

impl ParsedKeyCache {
    /// The key in `pem`, parsed once per distinct content.
    pub(crate) fn parse(&self, pem: &str) -> Result<Arc<PrivateKey>, crate::pki::PkiError> {
        let digest: [u8; 32] = Sha256::digest(pem.as_bytes()).into();
        if let Some(key) = self.lock().get(&digest) {
            return Ok(Arc::clone(key));
        }
        let key = Arc::new(PrivateKey::from_pem(pem)?);
        let mut keys = self.lock();
        if keys.len() >= PARSED_KEY_CAPACITY {
            keys.clear();
        }
        keys.insert(digest, Arc::clone(&key));
        Ok(key)
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, HashMap<[u8; 32], Arc<PrivateKey>>> {
        self.keys.lock().unwrap_or_else(|e| e.into_inner())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::pki::{KeyAlgorithm, KeyEncoding};

    #[test]
    fn the_same_pem_is_parsed_once_and_a_new_pem_is_a_new_key() {
        let cache = ParsedKeyCache::default();
        let key = PrivateKey::generate(KeyAlgorithm::EcdsaP256).expect("key");
        let pem = key.to_pem(KeyEncoding::Pkcs8).expect("pem");
        let first = cache.parse(&pem).expect("parsed");
        let second = cache.parse(&pem).expect("cached");
        assert!(Arc::ptr_eq(&first, &second));
        let other = PrivateKey::generate(KeyAlgorithm::EcdsaP256).expect("key");
        let third = cache
            .parse(&other.to_pem(KeyEncoding::Pkcs8).expect("pem"))
            .expect("parsed");
        assert!(!Arc::ptr_eq(&first, &third));
        assert!(cache.parse("not a key").is_err());
    }
}
