//! Plugin bundles in an OCI registry, through the `oci-client` crate.
//!
//! Layout (what `certwasm bundle push` writes, `pull` reads):
//! - each component is a CNCF wasm OCI artifact: an image manifest whose
//!   config has media type `application/vnd.wasm.config.v0+json` and whose
//!   one layer is the component (`application/wasm`). Its layer digest is
//!   the component's SHA-256, the very digest the bundle entry pins, so a
//!   component is fetched by the digest the operator reviewed.
//! - the bundle is an image manifest whose config (media type
//!   `application/vnd.certwasm.bundle.v1+yaml`) is the bundle manifest with
//!   every `component:` rewritten to `oci://REGISTRY/REPO@sha256:<component
//!   manifest digest>`, and whose layers are the components' layers, so the
//!   registry keeps them as long as it keeps the bundle.
//!
//! Pulls go by digest; a tag alone is refused unless the caller allows
//! unpinned references. What was pulled is kept in a local cache keyed by
//! digest, so a restart whose digests are cached needs no registry.

use std::collections::BTreeMap;
use std::net::IpAddr;
use std::path::{Path, PathBuf};

use oci_client::client::{Certificate, CertificateEncoding, ClientConfig, ClientProtocol};
use oci_client::manifest::{OCI_IMAGE_MEDIA_TYPE, OciDescriptor, OciImageManifest};
use oci_client::secrets::RegistryAuth;
use oci_client::{Client, Reference};
use serde_json::Value;

use super::manifest::{self, BundleDocument, ComponentSource};
use super::sha256_hex;

/// Media type of a wasm component's artifact config (CNCF wasm OCI artifact).
pub const WASM_CONFIG_MEDIA_TYPE: &str = "application/vnd.wasm.config.v0+json";
/// Media type of a wasm component layer.
pub const WASM_LAYER_MEDIA_TYPE: &str = "application/wasm";
/// Media type of a bundle's config: the bundle manifest itself.
pub const BUNDLE_MEDIA_TYPE: &str = "application/vnd.certwasm.bundle.v1+yaml";

/// Why a registry operation failed.
#[derive(Debug, thiserror::Error)]
pub enum OciError {
    #[error("{0:?} is not an oci://REGISTRY/REPOSITORY[:TAG][@sha256:DIGEST] reference: {1}")]
    Reference(String, String),
    #[error(
        "{0} is not pinned by digest; use oci://...@sha256:... (or --allow-unpinned to trust the tag)"
    )]
    Unpinned(String),
    #[error("registry {registry}: {reason}")]
    Registry { registry: String, reason: String },
    #[error("{what} {path}: {source}")]
    Io {
        what: &'static str,
        path: PathBuf,
        source: std::io::Error,
    },
    #[error("registry config {path}: {reason}")]
    Config { path: PathBuf, reason: String },
    #[error("{reference}: {reason}")]
    Content { reference: String, reason: String },
    #[error(transparent)]
    Bundle(#[from] super::BundleError),
}

/// How to reach registries.
#[derive(Debug, Clone, Default)]
pub struct RegistryOptions {
    /// A docker-style `config.json` with credentials; `None` uses
    /// `$DOCKER_CONFIG/config.json`, else `~/.docker/config.json`, if present.
    pub config: Option<PathBuf>,
    /// A PEM CA bundle to trust besides the system roots.
    pub ca_file: Option<PathBuf>,
    /// Registries (`HOST[:PORT]`) that may be reached over plain HTTP.
    pub insecure: Vec<String>,
    /// Accept a tag without a digest.
    pub allow_unpinned: bool,
}

/// An `oci://` reference, parsed.
#[derive(Debug, Clone)]
pub struct OciReference {
    pub text: String,
    pub reference: Reference,
}

impl OciReference {
    /// Parses `oci://REGISTRY/REPO[:TAG][@sha256:...]`.
    pub fn parse(text: &str) -> Result<Self, OciError> {
        let bare = text.strip_prefix("oci://").ok_or_else(|| {
            OciError::Reference(text.to_owned(), "it must start with oci://".into())
        })?;
        let reference: Reference = bare.parse().map_err(|e: oci_client::ParseError| {
            OciError::Reference(text.to_owned(), e.to_string())
        })?;
        Ok(Self {
            text: text.to_owned(),
            reference,
        })
    }

    /// The manifest digest's hex, when pinned.
    pub fn digest_hex(&self) -> Option<&str> {
        self.reference
            .digest()
            .and_then(|digest| digest.strip_prefix("sha256:"))
    }

    fn registry(&self) -> &str {
        self.reference.resolve_registry()
    }

    /// The same repository, at `digest` (`sha256:...`).
    fn at(&self, digest: &str) -> Reference {
        Reference::with_digest(
            self.reference.registry().to_owned(),
            self.reference.repository().to_owned(),
            digest.to_owned(),
        )
    }

    /// `oci://REGISTRY/REPO@digest`.
    fn pinned_text(&self, digest: &str) -> String {
        format!(
            "oci://{}/{}@{digest}",
            self.reference.registry(),
            self.reference.repository()
        )
    }
}

/// Whether a registry host (`HOST[:PORT]`) is on this machine.
pub fn is_loopback(registry: &str) -> bool {
    let host = match registry.rsplit_once(':') {
        Some((host, port)) if port.bytes().all(|b| b.is_ascii_digit()) => host,
        _ => registry,
    };
    let host = host.trim_start_matches('[').trim_end_matches(']');
    host.eq_ignore_ascii_case("localhost")
        || host.parse::<IpAddr>().is_ok_and(|ip| ip.is_loopback())
}

/// The credentials a docker-style `config.json` holds for `registry`:
/// `auth` (base64 `user:password`) or `username`/`password` as basic auth,
/// `registrytoken` as a bearer token. Keys may carry a scheme and path
/// (`https://host:5000/v1/`).
pub fn auth_from_docker_config(config: &Value, registry: &str) -> Result<RegistryAuth, String> {
    let Some(auths) = config.get("auths").and_then(Value::as_object) else {
        return Ok(RegistryAuth::Anonymous);
    };
    let normalize = |key: &str| -> String {
        let key = key.split_once("://").map_or(key, |(_, rest)| rest);
        key.split('/').next().unwrap_or(key).to_ascii_lowercase()
    };
    let Some(entry) = auths
        .iter()
        .find(|(key, _)| normalize(key) == registry.to_ascii_lowercase())
        .map(|(_, entry)| entry)
    else {
        return Ok(RegistryAuth::Anonymous);
    };
    let text = |field: &str| {
        entry
            .get(field)
            .and_then(Value::as_str)
            .filter(|v| !v.is_empty())
    };
    if let Some(token) = text("registrytoken") {
        return Ok(RegistryAuth::Bearer(token.to_owned()));
    }
    if let Some(encoded) = text("auth") {
        use base64::Engine;
        let decoded = base64::engine::general_purpose::STANDARD
            .decode(encoded)
            .map_err(|e| format!("auths[{registry:?}].auth is not base64: {e}"))?;
        let decoded = String::from_utf8(decoded)
            .map_err(|_| format!("auths[{registry:?}].auth is not text"))?;
        let (user, password) = decoded
            .split_once(':')
            .ok_or_else(|| format!("auths[{registry:?}].auth is not user:password"))?;
        return Ok(RegistryAuth::Basic(user.to_owned(), password.to_owned()));
    }
    if let (Some(user), Some(password)) = (text("username"), text("password")) {
        return Ok(RegistryAuth::Basic(user.to_owned(), password.to_owned()));
    }
    Ok(RegistryAuth::Anonymous)
}

fn default_docker_config() -> Option<PathBuf> {
    std::env::var_os("DOCKER_CONFIG")
        .map(|dir| PathBuf::from(dir).join("config.json"))
        .or_else(|| {
            std::env::var_os("HOME").map(|home| PathBuf::from(home).join(".docker/config.json"))
        })
}

/// A client for one registry with its credentials.
struct Session {
    client: Client,
    auth: RegistryAuth,
    registry: String,
}

impl Session {
    async fn open(reference: &OciReference, options: &RegistryOptions) -> Result<Self, OciError> {
        let registry = reference.registry().to_owned();
        let auth = match options.config.clone().or_else(default_docker_config) {
            Some(path) if options.config.is_some() || path.exists() => {
                let text = std::fs::read(&path).map_err(|source| OciError::Io {
                    what: "reading registry config",
                    path: path.clone(),
                    source,
                })?;
                let json: Value = serde_json::from_slice(&text).map_err(|e| OciError::Config {
                    path: path.clone(),
                    reason: e.to_string(),
                })?;
                auth_from_docker_config(&json, &registry)
                    .map_err(|reason| OciError::Config { path, reason })?
            }
            _ => RegistryAuth::Anonymous,
        };
        let mut extra_root_certificates = Vec::new();
        if let Some(path) = &options.ca_file {
            let data = std::fs::read(path).map_err(|source| OciError::Io {
                what: "reading registry CA",
                path: path.clone(),
                source,
            })?;
            extra_root_certificates.push(Certificate {
                encoding: CertificateEncoding::Pem,
                data,
            });
        }
        let named = options
            .insecure
            .iter()
            .any(|host| host.eq_ignore_ascii_case(&registry));
        // Plain HTTP only where nothing travels over a network: a loopback
        // registry that does not speak TLS (as Docker treats localhost), or
        // a registry the operator named.
        let plain = named || (is_loopback(&registry) && !speaks_tls(&registry).await);
        let protocol = if plain {
            ClientProtocol::Http
        } else {
            ClientProtocol::Https
        };
        let client = Client::new(ClientConfig {
            protocol,
            extra_root_certificates,
            platform_resolver: None,
            connect_timeout: Some(std::time::Duration::from_secs(5)),
            read_timeout: Some(std::time::Duration::from_secs(30)),
            ..ClientConfig::default()
        });
        client.store_auth_if_needed(&registry, &auth).await;
        Ok(Self {
            client,
            auth,
            registry,
        })
    }

    fn fail(&self, err: impl std::fmt::Display) -> OciError {
        OciError::Registry {
            registry: self.registry.clone(),
            reason: err.to_string(),
        }
    }

    async fn push_blob(&self, at: &Reference, data: &[u8]) -> Result<String, OciError> {
        let digest = format!("sha256:{}", sha256_hex(data));
        self.client
            .push_blob(at, data, &digest)
            .await
            .map_err(|e| self.fail(format!("pushing blob {digest}: {}", chain(&e))))?;
        Ok(digest)
    }

    /// Pushes a manifest under `tag`, or by its own digest when `tag` is
    /// `None`; returns its digest.
    async fn push_manifest(
        &self,
        base: &OciReference,
        manifest: &OciImageManifest,
        tag: Option<&str>,
    ) -> Result<String, OciError> {
        let body = serde_json::to_vec(manifest).map_err(|e| self.fail(e))?;
        let digest = format!("sha256:{}", sha256_hex(&body));
        let at = match tag {
            Some(tag) => Reference::with_tag(
                base.reference.registry().to_owned(),
                base.reference.repository().to_owned(),
                tag.to_owned(),
            ),
            None => base.at(&digest),
        };
        self.client
            .push_manifest_raw(
                &at,
                body,
                OCI_IMAGE_MEDIA_TYPE
                    .parse()
                    .map_err(|e: reqwest::header::InvalidHeaderValue| self.fail(e))?,
            )
            .await
            .map_err(|e| self.fail(format!("pushing manifest {at}: {}", chain(&e))))?;
        Ok(digest)
    }

    async fn pull_blob(&self, at: &Reference, digest: &str) -> Result<Vec<u8>, OciError> {
        let mut out = Vec::new();
        // oci-client checks the bytes against the digest as they arrive.
        self.client
            .pull_blob(at, digest, &mut out)
            .await
            .map_err(|e| self.fail(format!("pulling blob {digest}: {}", chain(&e))))?;
        Ok(out)
    }
}

/// An error with its causes (a TLS failure hides under "error sending
/// request").
fn chain(err: &dyn std::error::Error) -> String {
    let mut text = err.to_string();
    let mut source = err.source();
    while let Some(cause) = source {
        let cause_text = cause.to_string();
        if !text.contains(&cause_text) {
            text.push_str(": ");
            text.push_str(&cause_text);
        }
        source = cause.source();
    }
    text
}

/// Whether a loopback registry answers TLS at all (any HTTP answer over
/// HTTPS). Certificates are not checked by this probe, which sends nothing
/// but `GET /v2/`: a registry whose certificate is not trusted must fail
/// its verification later, not be taken for a plain-HTTP one (credentials
/// would then travel in clear).
async fn speaks_tls(registry: &str) -> bool {
    let Ok(client) = reqwest::Client::builder()
        .connect_timeout(std::time::Duration::from_secs(3))
        .timeout(std::time::Duration::from_secs(5))
        .danger_accept_invalid_certs(true)
        .build()
    else {
        return false;
    };
    client
        .get(format!("https://{registry}/v2/"))
        .send()
        .await
        .is_ok()
}

fn descriptor(media_type: &str, data: &[u8], title: Option<&str>) -> OciDescriptor {
    OciDescriptor {
        media_type: media_type.to_owned(),
        digest: format!("sha256:{}", sha256_hex(data)),
        size: i64::try_from(data.len()).unwrap_or(i64::MAX),
        urls: None,
        annotations: title.map(|title| {
            BTreeMap::from([(
                "org.opencontainers.image.title".to_owned(),
                title.to_owned(),
            )])
        }),
    }
}

/// Pushes a bundle file and its components to `target`
/// (`oci://REGISTRY/REPO:TAG`); returns the pinned
/// `oci://REGISTRY/REPO@sha256:...`.
pub async fn push(
    bundle_path: &Path,
    target: &str,
    options: &RegistryOptions,
) -> Result<String, OciError> {
    let target = OciReference::parse(target)?;
    let verified = super::read_verified(bundle_path)?;
    let (_, manifest_bytes) = super::read_manifest(bundle_path)?;
    let mut document = manifest::parse_document(&String::from_utf8_lossy(&manifest_bytes))
        .map_err(|source| super::BundleError::Manifest {
            path: bundle_path.to_owned(),
            source,
        })?;
    let session = Session::open(&target, options).await?;
    let mut layers = Vec::new();
    for component in &verified.components {
        let wasm = &component.bytes;
        let layer_digest = session.push_blob(&target.reference, wasm).await?;
        let config = serde_json::to_vec(&serde_json::json!({
            "created": "1970-01-01T00:00:00Z",
            "architecture": "wasm",
            "os": "wasip2",
            "layerDigests": [layer_digest],
            "component": {"target": "certwasm:issuer/issuer"},
        }))
        .map_err(|e| session.fail(e))?;
        session.push_blob(&target.reference, &config).await?;
        let title = format!("{}.wasm", component.entry.name);
        let layer = descriptor(WASM_LAYER_MEDIA_TYPE, wasm, Some(&title));
        let artifact = OciImageManifest {
            media_type: Some(OCI_IMAGE_MEDIA_TYPE.to_owned()),
            config: descriptor(WASM_CONFIG_MEDIA_TYPE, &config, None),
            layers: vec![layer.clone()],
            ..OciImageManifest::default()
        };
        let digest = session.push_manifest(&target, &artifact, None).await?;
        if let Some(entry) = document
            .plugins
            .iter_mut()
            .find(|entry| entry.name == component.entry.name)
        {
            entry.component = target.pinned_text(&digest);
        }
        layers.push(layer);
    }
    let yaml = manifest::to_yaml(&document).map_err(|e| session.fail(e))?;
    session
        .push_blob(&target.reference, yaml.as_bytes())
        .await?;
    let bundle = OciImageManifest {
        media_type: Some(OCI_IMAGE_MEDIA_TYPE.to_owned()),
        config: descriptor(BUNDLE_MEDIA_TYPE, yaml.as_bytes(), None),
        layers,
        ..OciImageManifest::default()
    };
    let tag = target.reference.tag().unwrap_or("latest").to_owned();
    let digest = session.push_manifest(&target, &bundle, Some(&tag)).await?;
    Ok(target.pinned_text(&digest))
}

/// A bundle fetched from a registry: its manifest digest and the bundle
/// document (components still `oci://`).
#[derive(Debug, Clone)]
pub struct PulledBundle {
    pub digest_hex: String,
    pub document: BundleDocument,
    /// Component bytes by entry name, each checked against its `sha256`.
    pub components: BTreeMap<String, Vec<u8>>,
}

/// Fetches a bundle and its components by digest.
pub async fn pull(reference: &str, options: &RegistryOptions) -> Result<PulledBundle, OciError> {
    let source = OciReference::parse(reference)?;
    if source.digest_hex().is_none() && !options.allow_unpinned {
        return Err(OciError::Unpinned(reference.to_owned()));
    }
    let session = Session::open(&source, options).await?;
    let (body, _) = session
        .client
        .pull_manifest_raw(&source.reference, &session.auth, &[OCI_IMAGE_MEDIA_TYPE])
        .await
        .map_err(|e| session.fail(format!("pulling {reference}: {}", chain(&e))))?;
    let digest_hex = sha256_hex(&body);
    if let Some(pinned) = source.digest_hex()
        && pinned != digest_hex
    {
        return Err(OciError::Content {
            reference: reference.to_owned(),
            reason: format!("the registry answered a manifest with digest sha256:{digest_hex}"),
        });
    }
    let bundle: OciImageManifest =
        serde_json::from_slice(&body).map_err(|e| OciError::Content {
            reference: reference.to_owned(),
            reason: format!("not an OCI image manifest: {e}"),
        })?;
    if bundle.config.media_type != BUNDLE_MEDIA_TYPE {
        return Err(OciError::Content {
            reference: reference.to_owned(),
            reason: format!(
                "not a certwasm plugin bundle (config media type {:?}, expected {BUNDLE_MEDIA_TYPE:?})",
                bundle.config.media_type
            ),
        });
    }
    let yaml = session
        .pull_blob(&source.reference, &bundle.config.digest)
        .await?;
    let yaml = String::from_utf8(yaml).map_err(|_| OciError::Content {
        reference: reference.to_owned(),
        reason: "the bundle config is not UTF-8".into(),
    })?;
    let document = manifest::parse_document(&yaml).map_err(|e| OciError::Content {
        reference: reference.to_owned(),
        reason: e.to_string(),
    })?;
    let validated = manifest::validate(&document).map_err(|e| OciError::Content {
        reference: reference.to_owned(),
        reason: e.to_string(),
    })?;
    let mut components = BTreeMap::new();
    for entry in &validated.plugins {
        let ComponentSource::Oci(component) = &entry.component else {
            return Err(OciError::Content {
                reference: reference.to_owned(),
                reason: format!(
                    "plugin {:?} names a file, not a registry component",
                    entry.name
                ),
            });
        };
        let component = OciReference::parse(component)?;
        if component.registry() != source.registry() {
            return Err(OciError::Content {
                reference: reference.to_owned(),
                reason: format!(
                    "plugin {:?} lives in another registry ({}); a bundle is pulled from one",
                    entry.name,
                    component.registry()
                ),
            });
        }
        // The layer digest is the component's SHA-256: the pin itself.
        let bytes = session
            .pull_blob(&component.reference, &format!("sha256:{}", entry.sha256))
            .await?;
        super::check_digest(Path::new(reference), entry, &component.text, &bytes)?;
        components.insert(entry.name.clone(), bytes);
    }
    Ok(PulledBundle {
        digest_hex,
        document,
        components,
    })
}

/// Writes a pulled bundle as a self-contained directory: `plugins.yaml`
/// naming `<name>.wasm` files beside it. Returns the manifest's path.
pub fn write_bundle_dir(pulled: &PulledBundle, dir: &Path) -> Result<PathBuf, OciError> {
    let io = |path: &Path| {
        let path = path.to_owned();
        move |source| OciError::Io {
            what: "writing",
            path,
            source,
        }
    };
    std::fs::create_dir_all(dir).map_err(io(dir))?;
    let mut document = pulled.document.clone();
    for entry in &mut document.plugins {
        let file = format!("{}.wasm", entry.name);
        let bytes = pulled
            .components
            .get(&entry.name)
            .ok_or_else(|| OciError::Content {
                reference: entry.component.clone(),
                reason: "not pulled".into(),
            })?;
        let path = dir.join(&file);
        std::fs::write(&path, bytes).map_err(io(&path))?;
        entry.component = file;
    }
    let yaml = manifest::to_yaml(&document).map_err(|e| OciError::Content {
        reference: dir.display().to_string(),
        reason: e.to_string(),
    })?;
    let path = dir.join("plugins.yaml");
    std::fs::write(&path, yaml).map_err(io(&path))?;
    Ok(path)
}

/// The local bundle for `reference`, pulling it into `cache_dir` unless a
/// copy of that digest is already there; a registry outage does not stop a
/// restart whose digest is cached. Returns the bundle manifest's path.
pub async fn pull_cached(
    reference: &str,
    cache_dir: &Path,
    options: &RegistryOptions,
) -> Result<PathBuf, OciError> {
    let source = OciReference::parse(reference)?;
    if let Some(digest) = source.digest_hex() {
        let cached = cache_dir
            .join(format!("sha256-{digest}"))
            .join("plugins.yaml");
        if cached.exists() {
            tracing::info!(bundle = reference, path = %cached.display(), "plugin bundle from the local cache");
            return Ok(cached);
        }
    }
    let pulled = pull(reference, options).await?;
    let dir = cache_dir.join(format!("sha256-{}", pulled.digest_hex));
    // Written beside, then renamed: a crash never leaves a half bundle
    // under the digest's name.
    let staging = cache_dir.join(format!(
        ".pull-{}-{}",
        std::process::id(),
        pulled.digest_hex
    ));
    let _ = std::fs::remove_dir_all(&staging);
    write_bundle_dir(&pulled, &staging)?;
    match std::fs::rename(&staging, &dir) {
        Ok(()) => {}
        Err(_) if dir.join("plugins.yaml").exists() => {
            let _ = std::fs::remove_dir_all(&staging);
        }
        Err(source) => {
            return Err(OciError::Io {
                what: "caching pulled bundle",
                path: dir,
                source,
            });
        }
    }
    Ok(dir.join("plugins.yaml"))
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn credentials_come_from_the_docker_config() {
        let config = json!({"auths": {
            "127.0.0.1:5000": {"auth": "YWxpY2U6czNjcmV0"},
            "https://reg.example.com/v1/": {"username": "bob", "password": "pw"},
            "tok.example.com": {"registrytoken": "abc"}
        }});
        assert_eq!(
            auth_from_docker_config(&config, "127.0.0.1:5000").unwrap(),
            RegistryAuth::Basic("alice".into(), "s3cret".into())
        );
        assert_eq!(
            auth_from_docker_config(&config, "reg.example.com").unwrap(),
            RegistryAuth::Basic("bob".into(), "pw".into())
        );
        assert_eq!(
            auth_from_docker_config(&config, "tok.example.com").unwrap(),
            RegistryAuth::Bearer("abc".into())
        );
        assert_eq!(
            auth_from_docker_config(&config, "other:1").unwrap(),
            RegistryAuth::Anonymous
        );
        let broken = json!({"auths": {"x": {"auth": "!!"}}});
        assert!(auth_from_docker_config(&broken, "x").is_err());
    }

    #[test]
    fn references_and_loopback() {
        let pinned = OciReference::parse(
            "oci://127.0.0.1:5000/team/issuers@sha256:0f1e2d3c4b5a69788796a5b4c3d2e1f00f1e2d3c4b5a69788796a5b4c3d2e1f0",
        )
        .unwrap();
        assert_eq!(pinned.registry(), "127.0.0.1:5000");
        assert!(pinned.digest_hex().unwrap().starts_with("0f1e"));
        let tagged = OciReference::parse("oci://127.0.0.1:5000/team/issuers:1.0").unwrap();
        assert!(tagged.digest_hex().is_none());
        assert!(OciReference::parse("127.0.0.1:5000/x").is_err());
        assert!(is_loopback("127.0.0.1:5000"));
        assert!(is_loopback("localhost:5000"));
        assert!(is_loopback("[::1]:5000"));
        assert!(!is_loopback("registry.example.com:5000"));
        assert!(!is_loopback("10.0.0.1"));
    }
}
