//! The memory behind the `cache` import (`certwasm:issuer@0.2.0`): small
//! values a plugin keeps between calls for one issuer, such as a Vault
//! login token, so that a stateless plugin need not log in on every call.
//!
//! Why in the host's memory and nowhere else: what plugins keep here is
//! typically a credential. The persisted alternative (`pending.state`) ends
//! up in the resource's status, readable by anyone who may read the
//! resource; this never leaves the process, is zeroed when dropped, and a
//! restart simply empties it (plugins log in again).
//!
//! Why scoped by a digest of the issuer: calls only ever see the scope of
//! the issuer they are made for, derived by the host (never named by the
//! plugin) from the plugin, the issuer's kind, namespace, name and whole
//! spec. Another issuer therefore cannot read a value, and an issuer whose
//! spec changes (another server, role or Secret) starts empty. An issuer
//! deleted and recreated with the same name and spec shares the scope; it
//! could obtain the same credentials from the same Secrets anyway, which is
//! why the spec and not the object's UID is what matters (the UID is also
//! not known to `certwasm plugin test`, which has no API objects).
//!
//! Why bounded: a plugin must not be able to grow the host's memory, so
//! keys, values, entries per issuer, total bytes and lifetimes are capped,
//! and the host may drop values at any time (the contract says a miss is
//! normal).

use std::collections::HashMap;
use std::sync::{Mutex, PoisonError};
use std::time::{Duration, Instant};

use sha2::{Digest, Sha256};
use zeroize::Zeroizing;

use super::bindings::types::IssuerConfig;
#[cfg(test)]
use super::bindings::types::IssuerKind;

/// Longest key, in bytes.
pub const MAX_KEY_BYTES: usize = 256;
/// Largest value, in bytes.
pub const MAX_VALUE_BYTES: usize = 16 << 10;
/// Most values one issuer may keep.
pub const MAX_ENTRIES_PER_ISSUER: usize = 64;
/// Longest lifetime of a value.
pub const MAX_TTL: Duration = Duration::from_secs(24 * 3600);
/// Most bytes (keys and values) kept for all issuers together.
pub const MAX_TOTAL_BYTES: usize = 32 << 20;

/// Why a value was not stored; the message goes back to the plugin.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum CacheError {
    #[error("cache key of {0} bytes is longer than the limit of {MAX_KEY_BYTES}")]
    KeyTooLong(usize),
    #[error("cache value of {0} bytes is larger than the limit of {MAX_VALUE_BYTES}")]
    ValueTooLarge(usize),
    #[error("this issuer already keeps {MAX_ENTRIES_PER_ISSUER} cached values, the limit")]
    IssuerFull,
    #[error("the host's plugin cache is full")]
    HostFull,
}

/// Whose values a call sees: a digest of the issuer's identity and spec.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct CacheScope([u8; 32]);

impl CacheScope {
    /// The scope of calls that plugin `plugin` makes for `issuer`.
    pub fn for_issuer(plugin: &str, issuer: &IssuerConfig) -> Self {
        let mut digest = Sha256::new();
        let kind = super::convert::issuer_kind_name(issuer.kind);
        // Length-prefixed, so that no two different tuples hash alike.
        for part in [
            plugin,
            kind,
            &issuer.namespace,
            &issuer.name,
            &issuer.spec_json,
        ] {
            digest.update((part.len() as u64).to_be_bytes());
            digest.update(part.as_bytes());
        }
        Self(digest.finalize().into())
    }
}

struct Entry {
    value: Zeroizing<Vec<u8>>,
    expires: Instant,
}

impl Entry {
    fn size(&self, key: &str) -> usize {
        key.len() + self.value.len()
    }
}

#[derive(Default)]
struct Inner {
    scopes: HashMap<CacheScope, HashMap<String, Entry>>,
    bytes: usize,
}

impl Inner {
    fn remove(&mut self, scope: CacheScope, key: &str) {
        if let Some(entries) = self.scopes.get_mut(&scope) {
            if let Some(entry) = entries.remove(key) {
                self.bytes -= entry.size(key);
            }
            if entries.is_empty() {
                self.scopes.remove(&scope);
            }
        }
    }

    fn purge_expired(&mut self, now: Instant) {
        let mut freed = 0;
        self.scopes.retain(|_, entries| {
            entries.retain(|key, entry| {
                let keep = entry.expires > now;
                if !keep {
                    freed += entry.size(key);
                }
                keep
            });
            !entries.is_empty()
        });
        self.bytes -= freed;
    }
}

/// Every issuer's cached values; one per engine, shared by all calls.
#[derive(Default)]
pub struct IssuerCache {
    inner: Mutex<Inner>,
}

impl std::fmt::Debug for IssuerCache {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let inner = self.lock();
        f.debug_struct("IssuerCache")
            .field("issuers", &inner.scopes.len())
            .field("bytes", &inner.bytes)
            .finish()
    }
}

impl IssuerCache {
    fn lock(&self) -> std::sync::MutexGuard<'_, Inner> {
        // Every update leaves the maps consistent before it can panic.
        self.inner.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// The live value under `key` in `scope`.
    pub fn get(&self, scope: CacheScope, key: &str) -> Option<Vec<u8>> {
        let now = Instant::now();
        let mut inner = self.lock();
        let entry = inner.scopes.get(&scope)?.get(key)?;
        if entry.expires > now {
            return Some(entry.value.to_vec());
        }
        inner.remove(scope, key);
        None
    }

    /// Stores `value` under `key` in `scope` for `ttl` (capped at
    /// [`MAX_TTL`]); a zero `ttl` removes the key.
    pub fn set(
        &self,
        scope: CacheScope,
        key: &str,
        value: Vec<u8>,
        ttl: Duration,
    ) -> Result<(), CacheError> {
        if key.len() > MAX_KEY_BYTES {
            return Err(CacheError::KeyTooLong(key.len()));
        }
        if value.len() > MAX_VALUE_BYTES {
            return Err(CacheError::ValueTooLarge(value.len()));
        }
        let value = Zeroizing::new(value);
        let mut inner = self.lock();
        inner.remove(scope, key);
        if ttl.is_zero() {
            return Ok(());
        }
        let now = Instant::now();
        let entry = Entry {
            value,
            expires: now + ttl.min(MAX_TTL),
        };
        let size = entry.size(key);
        if inner.bytes + size > MAX_TOTAL_BYTES {
            inner.purge_expired(now);
            if inner.bytes + size > MAX_TOTAL_BYTES {
                return Err(CacheError::HostFull);
            }
        }
        let entries = inner.scopes.entry(scope).or_default();
        let mut freed = 0;
        if entries.len() >= MAX_ENTRIES_PER_ISSUER {
            entries.retain(|key, entry| {
                let keep = entry.expires > now;
                if !keep {
                    freed += entry.size(key);
                }
                keep
            });
        }
        let full = entries.len() >= MAX_ENTRIES_PER_ISSUER;
        if !full {
            entries.insert(key.to_owned(), entry);
        }
        inner.bytes -= freed;
        if full {
            return Err(CacheError::IssuerFull);
        }
        inner.bytes += size;
        Ok(())
    }

    /// Forgets `key` in `scope`.
    pub fn remove(&self, scope: CacheScope, key: &str) {
        self.lock().remove(scope, key);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn issuer(name: &str, spec: &str) -> IssuerConfig {
        IssuerConfig {
            kind: IssuerKind::Issuer,
            name: name.into(),
            namespace: "default".into(),
            spec_json: spec.into(),
        }
    }

    #[test]
    fn scopes_separate_issuers_and_specs() {
        let cache = IssuerCache::default();
        let a = CacheScope::for_issuer("vault", &issuer("a", "{}"));
        let b = CacheScope::for_issuer("vault", &issuer("b", "{}"));
        let a_changed = CacheScope::for_issuer("vault", &issuer("a", r#"{"x":1}"#));
        let other_plugin = CacheScope::for_issuer("acme", &issuer("a", "{}"));
        cache
            .set(a, "token", b"s.1".to_vec(), Duration::from_secs(60))
            .unwrap();
        assert_eq!(cache.get(a, "token").as_deref(), Some(&b"s.1"[..]));
        for scope in [b, a_changed, other_plugin] {
            assert_eq!(cache.get(scope, "token"), None);
        }
        cache.remove(a, "token");
        assert_eq!(cache.get(a, "token"), None);
    }

    #[test]
    fn values_expire_and_zero_ttl_removes() {
        let cache = IssuerCache::default();
        let scope = CacheScope::for_issuer("vault", &issuer("a", "{}"));
        cache
            .set(scope, "k", b"v".to_vec(), Duration::from_millis(1))
            .unwrap();
        std::thread::sleep(Duration::from_millis(5));
        assert_eq!(cache.get(scope, "k"), None);
        cache
            .set(scope, "k", b"v".to_vec(), Duration::from_secs(60))
            .unwrap();
        cache.set(scope, "k", Vec::new(), Duration::ZERO).unwrap();
        assert_eq!(cache.get(scope, "k"), None);
        assert_eq!(cache.lock().bytes, 0);
    }

    #[test]
    fn limits_hold() {
        let cache = IssuerCache::default();
        let scope = CacheScope::for_issuer("vault", &issuer("a", "{}"));
        let hour = Duration::from_secs(3600);
        assert_eq!(
            cache.set(scope, &"k".repeat(MAX_KEY_BYTES + 1), Vec::new(), hour),
            Err(CacheError::KeyTooLong(MAX_KEY_BYTES + 1))
        );
        assert_eq!(
            cache.set(scope, "k", vec![0; MAX_VALUE_BYTES + 1], hour),
            Err(CacheError::ValueTooLarge(MAX_VALUE_BYTES + 1))
        );
        for i in 0..MAX_ENTRIES_PER_ISSUER {
            cache.set(scope, &format!("k{i}"), vec![1], hour).unwrap();
        }
        assert_eq!(
            cache.set(scope, "one-more", vec![1], hour),
            Err(CacheError::IssuerFull)
        );
        // Replacing an existing key is not a new entry.
        cache.set(scope, "k0", vec![2], hour).unwrap();
        assert_eq!(cache.get(scope, "k0"), Some(vec![2]));
    }
}
