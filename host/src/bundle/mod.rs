//! Plugin bundles: the operator's list of pinned components and their
//! grants, read from a file (with the components beside it) or pulled from
//! an OCI registry. See `docs/plugins/bundles.md`.
//!
//! Why everything is verified before anything is compiled: a bundle is one
//! reviewed unit. A single component whose bytes differ from the digest the
//! manifest pins refuses the whole bundle, so a half-tampered bundle never
//! runs in part.

pub mod manifest;
pub mod oci;

use std::path::{Path, PathBuf};

use sha2::{Digest, Sha256};

use manifest::{Bundle, ComponentSource, ManifestError, PluginEntry};

/// Why a bundle cannot be used.
#[derive(Debug, thiserror::Error)]
pub enum BundleError {
    #[error("reading plugin bundle {path}: {source}")]
    Read {
        path: PathBuf,
        source: std::io::Error,
    },
    #[error("plugin bundle {path}: {source}")]
    Manifest {
        path: PathBuf,
        source: ManifestError,
    },
    #[error(
        "plugin bundle {bundle}: plugin {plugin:?}: cannot read its component {file}: {source}; nothing from this bundle was loaded"
    )]
    Component {
        bundle: PathBuf,
        plugin: String,
        file: PathBuf,
        source: std::io::Error,
    },
    #[error(
        "plugin bundle {bundle}: plugin {plugin:?}: component {file} has sha256 {actual}, but the bundle pins sha256 {expected}; nothing from this bundle was loaded"
    )]
    DigestMismatch {
        bundle: PathBuf,
        plugin: String,
        file: String,
        expected: String,
        actual: String,
    },
    #[error(
        "plugin bundle {bundle}: plugin {plugin:?}: component {reference} is in a registry; pull the bundle with `certwasm bundle pull` or load it as oci://"
    )]
    RemoteComponent {
        bundle: PathBuf,
        plugin: String,
        reference: String,
    },
    #[error("plugin bundle {bundle}: plugin {plugin:?} is also provided by plugin bundle {other}")]
    Conflict {
        bundle: String,
        plugin: String,
        other: String,
    },
}

/// One entry with its verified component bytes.
#[derive(Debug, Clone)]
pub struct VerifiedComponent {
    pub entry: PluginEntry,
    pub bytes: Vec<u8>,
}

/// A bundle whose every component matched its digest.
#[derive(Debug, Clone)]
pub struct VerifiedBundle {
    /// The manifest file.
    pub path: PathBuf,
    /// SHA-256 of the manifest's bytes: what a reload compares.
    pub manifest_sha256: String,
    pub bundle: Bundle,
    pub components: Vec<VerifiedComponent>,
}

/// Lower-case hex SHA-256 of `bytes`.
pub fn sha256_hex(bytes: &[u8]) -> String {
    hex::encode(Sha256::digest(bytes))
}

/// Where a file component lives: relative to the manifest's directory.
pub fn component_path(manifest: &Path, component: &str) -> PathBuf {
    let component = Path::new(component);
    if component.is_absolute() {
        component.to_owned()
    } else {
        manifest
            .parent()
            .unwrap_or_else(|| Path::new("."))
            .join(component)
    }
}

/// Reads and validates a manifest file.
pub fn read_manifest(path: &Path) -> Result<(Bundle, Vec<u8>), BundleError> {
    let bytes = std::fs::read(path).map_err(|source| BundleError::Read {
        path: path.to_owned(),
        source,
    })?;
    let text = String::from_utf8_lossy(&bytes);
    let bundle = manifest::parse(&text).map_err(|source| BundleError::Manifest {
        path: path.to_owned(),
        source,
    })?;
    Ok((bundle, bytes))
}

/// Reads a bundle and every component it names, checking each against its
/// pinned digest; the first mismatch or missing file refuses the bundle.
pub fn read_verified(path: &Path) -> Result<VerifiedBundle, BundleError> {
    let (bundle, manifest_bytes) = read_manifest(path)?;
    let mut components = Vec::with_capacity(bundle.plugins.len());
    for entry in &bundle.plugins {
        let file = match &entry.component {
            ComponentSource::Path(file) => component_path(path, file),
            ComponentSource::Oci(reference) => {
                return Err(BundleError::RemoteComponent {
                    bundle: path.to_owned(),
                    plugin: entry.name.clone(),
                    reference: reference.clone(),
                });
            }
        };
        let bytes = std::fs::read(&file).map_err(|source| BundleError::Component {
            bundle: path.to_owned(),
            plugin: entry.name.clone(),
            file: file.clone(),
            source,
        })?;
        check_digest(path, entry, &file.display().to_string(), &bytes)?;
        components.push(VerifiedComponent {
            entry: entry.clone(),
            bytes,
        });
    }
    Ok(VerifiedBundle {
        path: path.to_owned(),
        manifest_sha256: sha256_hex(&manifest_bytes),
        bundle,
        components,
    })
}

/// Compares a component's bytes with the digest its entry pins.
pub fn check_digest(
    bundle: &Path,
    entry: &PluginEntry,
    file: &str,
    bytes: &[u8],
) -> Result<(), BundleError> {
    let actual = sha256_hex(bytes);
    if actual == entry.sha256 {
        Ok(())
    } else {
        Err(BundleError::DigestMismatch {
            bundle: bundle.to_owned(),
            plugin: entry.name.clone(),
            file: file.to_owned(),
            expected: entry.sha256.clone(),
            actual,
        })
    }
}
