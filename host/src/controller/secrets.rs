//! The Secret store plugin calls read through: Secrets from the Kubernetes
//! API (the cluster's or the embedded one). Plugin calls run on blocking
//! threads, so this bridges back into the async client with the runtime
//! handle.

use k8s_openapi::ByteString;
use k8s_openapi::api::core::v1::Secret;
use kube::api::{Api, PostParams};

use crate::plugin::secrets::{SecretData, SecretStore, StoredKey};

/// Secrets read from (and keys stored to) the API.
#[derive(Clone)]
pub struct ApiSecrets {
    client: kube::Client,
    runtime: tokio::runtime::Handle,
}

impl std::fmt::Debug for ApiSecrets {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ApiSecrets").finish_non_exhaustive()
    }
}

impl ApiSecrets {
    /// A store over `client`, blocking on `runtime`.
    pub fn new(client: kube::Client, runtime: tokio::runtime::Handle) -> ApiSecrets {
        ApiSecrets { client, runtime }
    }
}

impl SecretStore for ApiSecrets {
    fn get(&self, namespace: &str, name: &str) -> Result<Option<SecretData>, String> {
        let api: Api<Secret> = Api::namespaced(self.client.clone(), namespace);
        let secret = self
            .runtime
            .block_on(api.get_opt(name))
            .map_err(|e| format!("cannot read Secret {namespace}/{name}: {e}"))?;
        Ok(secret.map(|s| {
            s.data
                .unwrap_or_default()
                .into_iter()
                .map(|(k, v)| (k, v.0))
                .collect()
        }))
    }

    fn store_key(
        &self,
        namespace: &str,
        name: &str,
        field: &str,
        pem: &str,
    ) -> Result<StoredKey, String> {
        let api: Api<Secret> = Api::namespaced(self.client.clone(), namespace);
        let existing = self
            .runtime
            .block_on(api.get_opt(name))
            .map_err(|e| format!("cannot read Secret {namespace}/{name}: {e}"))?;
        match existing {
            Some(mut secret) => {
                let data = secret.data.get_or_insert_with(Default::default);
                if data.get(field).is_some_and(|v| !v.0.is_empty()) {
                    return Err(format!(
                        "Secret {namespace}/{name} already has {field}; refusing to overwrite a key"
                    ));
                }
                data.insert(field.to_owned(), ByteString(pem.as_bytes().to_vec()));
                self.runtime
                    .block_on(api.replace(name, &PostParams::default(), &secret))
                    .map_err(|e| format!("cannot update Secret {namespace}/{name}: {e}"))?;
                Ok(StoredKey::Added)
            }
            None => {
                let mut secret = Secret::default();
                secret.metadata.name = Some(name.to_owned());
                secret.metadata.namespace = Some(namespace.to_owned());
                secret.data = Some(
                    [(field.to_owned(), ByteString(pem.as_bytes().to_vec()))]
                        .into_iter()
                        .collect(),
                );
                self.runtime
                    .block_on(api.create(&PostParams::default(), &secret))
                    .map_err(|e| format!("cannot create Secret {namespace}/{name}: {e}"))?;
                Ok(StoredKey::Created)
            }
        }
    }
}
