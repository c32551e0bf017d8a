//! Which Secrets a plugin may read, and the narrow store it reads them from.
//!
//! A plugin sees only the Secrets its issuer configuration references, and
//! never the private keys in them: those stay in the host and are lent to
//! the plugin as signer handles.

use std::collections::{BTreeMap, BTreeSet};

use serde_json::Value;

/// A Secret's decoded data.
pub type SecretData = BTreeMap<String, Vec<u8>>;

/// What storing a generated key did.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum StoredKey {
    /// The Secret did not exist and was created with the key.
    Created,
    /// The Secret existed without that field; the field was added.
    Added,
}

/// The Secrets a plugin call reads and writes: Kubernetes Secrets in a
/// cluster, the embedded store in `certwasm run`, YAML files in
/// `certwasm plugin test`.
///
/// Calls run on a blocking thread, so implementations may block.
pub trait SecretStore: Send + Sync {
    /// Reads Secret `name` in `namespace`; `Ok(None)` when it does not exist.
    fn get(&self, namespace: &str, name: &str) -> Result<Option<SecretData>, String>;

    /// Stores a private key PEM under `field` of Secret `name`, creating the
    /// Secret if needed. Must refuse (not overwrite) when `field` is already
    /// set: losing a key (an ACME account key, say) is not recoverable.
    fn store_key(
        &self,
        namespace: &str,
        name: &str,
        field: &str,
        pem: &str,
    ) -> Result<StoredKey, String>;
}

/// A store with no Secrets, for plugins that need none.
#[derive(Debug, Default, Clone, Copy)]
pub struct NoSecrets;

impl SecretStore for NoSecrets {
    fn get(&self, _namespace: &str, _name: &str) -> Result<Option<SecretData>, String> {
        Ok(None)
    }

    fn store_key(
        &self,
        namespace: &str,
        name: &str,
        _: &str,
        _: &str,
    ) -> Result<StoredKey, String> {
        Err(format!(
            "cannot store a key in Secret {namespace}/{name}: this host has no Secret store"
        ))
    }
}

/// An in-memory store, for `certwasm plugin test` and tests.
#[derive(Debug, Default)]
pub struct MemorySecrets {
    secrets: std::sync::Mutex<BTreeMap<(String, String), SecretData>>,
}

impl MemorySecrets {
    /// Adds or replaces a Secret.
    pub fn insert(&self, namespace: &str, name: &str, data: SecretData) {
        self.lock()
            .insert((namespace.to_owned(), name.to_owned()), data);
    }

    /// Every Secret, for writing out what a plugin created.
    pub fn snapshot(&self) -> BTreeMap<(String, String), SecretData> {
        self.lock().clone()
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, BTreeMap<(String, String), SecretData>> {
        // A poisoned lock only means another test thread panicked; the map
        // itself is still consistent (every write is a single insert).
        self.secrets
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
    }
}

impl SecretStore for MemorySecrets {
    fn get(&self, namespace: &str, name: &str) -> Result<Option<SecretData>, String> {
        Ok(self
            .lock()
            .get(&(namespace.to_owned(), name.to_owned()))
            .cloned())
    }

    fn store_key(
        &self,
        namespace: &str,
        name: &str,
        field: &str,
        pem: &str,
    ) -> Result<StoredKey, String> {
        let mut secrets = self.lock();
        match secrets.entry((namespace.to_owned(), name.to_owned())) {
            std::collections::btree_map::Entry::Vacant(slot) => {
                slot.insert(BTreeMap::from([(
                    field.to_owned(),
                    pem.as_bytes().to_vec(),
                )]));
                Ok(StoredKey::Created)
            }
            std::collections::btree_map::Entry::Occupied(mut slot) => {
                if slot.get().contains_key(field) {
                    return Err(format!("Secret {namespace}/{name} already has {field}"));
                }
                slot.get_mut()
                    .insert(field.to_owned(), pem.as_bytes().to_vec());
                Ok(StoredKey::Added)
            }
        }
    }
}

/// The names of the Secrets an issuer spec references, by cert-manager's
/// naming conventions: the value of every `secretName` field, and the `name`
/// of every `secretRef` or `...SecretRef` object (`privateKeySecretRef`,
/// `tokenSecretRef`, `appRole.secretRef`, `caBundleSecretRef`,
/// `keySecretRef`, DNS-01 providers' `...SecretRef`s), and of every
/// `credentialsRef` (Venafi TPP's and NGTS's credentials Secret).
/// Third-party plugins follow the same convention in `spec.plugin.config`.
pub fn referenced_secrets(spec: &Value) -> BTreeSet<String> {
    let mut names = BTreeSet::new();
    collect_references(spec, &mut names);
    names
}

fn collect_references(value: &Value, names: &mut BTreeSet<String>) {
    match value {
        Value::Object(map) => {
            for (key, item) in map {
                if key == "secretName" {
                    if let Some(name) = item.as_str() {
                        names.insert(name.to_owned());
                    }
                } else if (key == "secretRef"
                    || key.ends_with("SecretRef")
                    || key == "credentialsRef")
                    && let Some(name) = item.get("name").and_then(Value::as_str)
                {
                    names.insert(name.to_owned());
                }
                collect_references(item, names);
            }
        }
        Value::Array(items) => items
            .iter()
            .for_each(|item| collect_references(item, names)),
        _ => {}
    }
}

/// Whether a Secret value is a private key the plugin must not see: the
/// `tls.key` field, or any value holding a PEM private key block.
pub fn is_private_key(field: &str, value: &[u8]) -> bool {
    field == "tls.key" || contains(value, b"PRIVATE KEY-----")
}

fn contains(haystack: &[u8], needle: &[u8]) -> bool {
    haystack
        .windows(needle.len())
        .any(|window| window == needle)
}

/// The Secret as a plugin may see it: private keys removed.
pub fn redact(data: &SecretData) -> Vec<(String, Vec<u8>)> {
    data.iter()
        .filter(|(field, value)| !is_private_key(field, value))
        .map(|(field, value)| (field.clone(), value.clone()))
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn finds_references_by_convention() {
        let spec = json!({
            "acme": {
                "privateKeySecretRef": {"name": "acme-account"},
                "externalAccountBinding": {"keyID": "k", "keySecretRef": {"name": "eab", "key": "secret"}},
                "solvers": [{"dns01": {"rfc2136": {"tsigSecretSecretRef": {"name": "tsig", "key": "k"}}}}]
            },
            "ca": {"secretName": "ca-key-pair"},
            "vault": {"auth": {"appRole": {"roleId": "r", "secretRef": {"name": "approle", "key": "secretId"}}}},
            "venafi": {
                "tpp": {"credentialsRef": {"name": "tpp-login"}, "caBundleSecretRef": {"name": "tpp-ca", "key": "ca.crt"}},
                "cloud": {"apiTokenSecretRef": {"name": "cloud-key", "key": "api-key"}}
            },
            "other": {"name": "not-a-secret"}
        });
        let names: Vec<_> = referenced_secrets(&spec).into_iter().collect();
        assert_eq!(
            names,
            [
                "acme-account",
                "approle",
                "ca-key-pair",
                "cloud-key",
                "eab",
                "tpp-ca",
                "tpp-login",
                "tsig"
            ]
        );
    }

    #[test]
    fn redacts_private_keys() {
        let data = SecretData::from([
            ("tls.crt".into(), b"-----BEGIN CERTIFICATE-----".to_vec()),
            ("tls.key".into(), b"anything".to_vec()),
            ("other".into(), b"-----BEGIN EC PRIVATE KEY-----\n".to_vec()),
            ("token".into(), b"s.123".to_vec()),
        ]);
        let visible: Vec<_> = redact(&data).into_iter().map(|(k, _)| k).collect();
        assert_eq!(visible, ["tls.crt", "token"]);
    }

    #[test]
    fn memory_store_never_overwrites_a_key() {
        let store = MemorySecrets::default();
        assert_eq!(
            store.store_key("ns", "acct", "tls.key", "A"),
            Ok(StoredKey::Created)
        );
        assert!(store.store_key("ns", "acct", "tls.key", "B").is_err());
        assert_eq!(
            store.store_key("ns", "acct", "other", "C"),
            Ok(StoredKey::Added)
        );
        let data = store.get("ns", "acct").unwrap().unwrap();
        assert_eq!(data["tls.key"], b"A");
    }
}
