//! `certwasm run --manifests DIR`: apply every YAML file in DIR at start,
//! like k3s's auto-deploy manifests, so one command brings up Issuers and
//! Certificates. Objects are created, or replaced when they exist (keeping
//! their status), through the same admission as API requests; a manifest
//! that is refused stops start-up with the file and the field named.

use std::path::{Path, PathBuf};
use std::sync::Arc;

use serde_json::Value;

use crate::apiserver::admission::FieldValidation;
use crate::apiserver::object;
use crate::apiserver::resource::Registry;
use crate::apiserver::store::Store;
use crate::apiserver::writes::{self, Subresource, UpdateMode, WriteContext};

/// Why a manifest could not be applied.
#[derive(Debug, thiserror::Error)]
pub enum ManifestError {
    /// The directory or a file could not be read.
    #[error("cannot read {}: {source}", path.display())]
    Read {
        /// The file or directory.
        path: PathBuf,
        /// The I/O error.
        source: std::io::Error,
    },
    /// A document is not valid YAML.
    #[error("{}: document {index}: {source}", path.display())]
    Yaml {
        /// The file.
        path: PathBuf,
        /// 1-based document number.
        index: usize,
        /// The parser's error.
        source: serde_yaml::Error,
    },
    /// A document names a kind the API does not serve.
    #[error("{}: document {index}: no kind {kind:?} is served in {api_version:?}", path.display())]
    UnknownKind {
        /// The file.
        path: PathBuf,
        /// 1-based document number.
        index: usize,
        /// `apiVersion` of the document.
        api_version: String,
        /// `kind` of the document.
        kind: String,
    },
    /// The API refused the object.
    #[error("{}: document {index}: {message}", path.display())]
    Refused {
        /// The file.
        path: PathBuf,
        /// 1-based document number.
        index: usize,
        /// The API's message (names the field).
        message: String,
    },
}

/// Applies every `*.yaml` / `*.yml` / `*.json` file in `dir`, in name order;
/// returns how many objects were applied.
pub async fn apply_dir(
    store: &Store,
    registry: &Arc<Registry>,
    dir: &Path,
) -> Result<usize, ManifestError> {
    let read_err = |source| ManifestError::Read {
        path: dir.to_owned(),
        source,
    };
    let mut files: Vec<PathBuf> = std::fs::read_dir(dir)
        .map_err(read_err)?
        .filter_map(Result::ok)
        .map(|e| e.path())
        .filter(|p| {
            p.extension()
                .and_then(|e| e.to_str())
                .is_some_and(|e| matches!(e, "yaml" | "yml" | "json"))
        })
        .collect();
    files.sort();
    let mut applied = 0;
    for file in files {
        applied += apply_file(store, registry, &file).await?;
    }
    Ok(applied)
}

/// Applies one multi-document YAML file.
pub async fn apply_file(
    store: &Store,
    registry: &Arc<Registry>,
    file: &Path,
) -> Result<usize, ManifestError> {
    let text = std::fs::read_to_string(file).map_err(|source| ManifestError::Read {
        path: file.to_owned(),
        source,
    })?;
    let mut applied = 0;
    for (index, document) in serde_yaml::Deserializer::from_str(&text).enumerate() {
        let index = index + 1;
        let value: Value =
            serde::Deserialize::deserialize(document).map_err(|source| ManifestError::Yaml {
                path: file.to_owned(),
                index,
                source,
            })?;
        if value.is_null() {
            continue;
        }
        let api_version = value["apiVersion"].as_str().unwrap_or_default().to_owned();
        let kind = value["kind"].as_str().unwrap_or_default().to_owned();
        let Some(resource) = registry.by_kind(&api_version, &kind) else {
            return Err(ManifestError::UnknownKind {
                path: file.to_owned(),
                index,
                api_version,
                kind,
            });
        };
        let namespace = if resource.namespaced {
            match object::namespace(&value) {
                "" => "default".to_owned(),
                ns => ns.to_owned(),
            }
        } else {
            String::new()
        };
        let ctx = WriteContext {
            registry: Arc::clone(registry),
            user: crate::api::defaults::UserInfo {
                username: "certwasm:manifests".to_owned(),
                ..Default::default()
            },
            fields: FieldValidation::Strict,
            now: time::OffsetDateTime::now_utc(),
            manager: "certwasm-manifests".to_owned(),
            warnings: Arc::default(),
        };
        let op_resource = Arc::clone(&resource);
        store
            .write(Box::new(move |txn| {
                let name = object::name(&value).to_owned();
                let key = op_resource.key(&namespace, &name);
                if !name.is_empty() && txn.get(&key)?.is_some() {
                    writes::update(
                        txn,
                        &ctx,
                        &op_resource,
                        &namespace,
                        &name,
                        value,
                        UpdateMode {
                            subresource: Subresource::Main,
                            require_version: false,
                        },
                    )
                } else {
                    writes::create(txn, &ctx, &op_resource, &namespace, value)
                }
            }))
            .await
            .map_err(|err| ManifestError::Refused {
                path: file.to_owned(),
                index,
                message: err.message,
            })?;
        applied += 1;
    }
    Ok(applied)
}
