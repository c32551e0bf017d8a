//! `certwasm bundle add|inspect|push|pull`, and the `--plugin-bundle`
//! options `certwasm run` and `certwasm controller` share.

use std::path::{Component, Path, PathBuf};
use std::time::Duration;

use anyhow::{Context, Result, bail};
use clap::{Args, Subcommand};

use crate::bundle::manifest::{self, API_VERSION, BundleDocument, EntryDocument, KIND};
use crate::bundle::oci::{self, RegistryOptions};
use crate::bundle::{self, sha256_hex};
use crate::controller::PluginSet;
use crate::plugin::grants::requested_interfaces;
use crate::plugin::{Grants, Plugin, PluginEngine};

#[derive(Debug, Subcommand)]
pub enum BundleCommand {
    /// Add (or update) a component in a bundle manifest, pinned by its
    /// SHA-256; creates the manifest if missing. Copies nothing: the entry
    /// records the component's path relative to the manifest.
    Add(Box<AddArgs>),
    /// Verify a bundle and show each plugin: version, contract, digest,
    /// what it asks for and what it is granted.
    Inspect(InspectArgs),
    /// Push a bundle and its components to an OCI registry; prints the
    /// pinned oci://...@sha256:... reference to deploy.
    Push(PushArgs),
    /// Pull a bundle from an OCI registry into a directory.
    Pull(PullArgs),
}

#[derive(Debug, Args)]
pub struct AddArgs {
    /// The bundle manifest (created if missing).
    pub manifest: PathBuf,
    /// The component (`.wasm`).
    pub component: PathBuf,
    /// The plugin's name (Issuers ask for it in `spec.plugin.name`);
    /// defaults to the file name.
    #[arg(long)]
    pub name: Option<String>,
    /// A host the plugin may reach (repeatable; `*.domain` for names under
    /// it): a ceiling over the hosts the issuer config names.
    #[arg(long = "allow-host")]
    pub allow_hosts: Vec<String>,
    /// Largest memory of a call, e.g. 32Mi.
    #[arg(long)]
    pub memory: Option<String>,
    /// Deadline of a call, e.g. 5s.
    #[arg(long)]
    pub timeout: Option<String>,
    /// A namespace whose Issuers may use the plugin (repeatable; none: all).
    #[arg(long = "namespace")]
    pub namespaces: Vec<String>,
    /// May read the Secrets its issuer config references.
    #[arg(long)]
    pub secrets: bool,
    /// May generate private keys.
    #[arg(long)]
    pub generate_keys: bool,
    /// Serve this bundled plugin's issuer type instead of it.
    #[arg(long)]
    pub replaces: Option<String>,
    /// Where compiled plugins are cached.
    #[arg(long, env = "CERTWASM_CACHE_DIR", alias = "plugin-cache")]
    pub cache_dir: Option<PathBuf>,
}

#[derive(Debug, Args)]
pub struct InspectArgs {
    /// The bundle manifest.
    pub manifest: PathBuf,
    /// Where compiled plugins are cached.
    #[arg(long, env = "CERTWASM_CACHE_DIR", alias = "plugin-cache")]
    pub cache_dir: Option<PathBuf>,
}

/// How registries are reached.
#[derive(Debug, Clone, Args)]
pub struct RegistryArgs {
    /// A docker-style config.json with registry credentials (default
    /// $DOCKER_CONFIG/config.json, else ~/.docker/config.json).
    #[arg(long)]
    pub registry_config: Option<PathBuf>,
    /// A PEM CA bundle to trust for registries besides the system roots.
    #[arg(long)]
    pub registry_ca: Option<PathBuf>,
    /// A registry (HOST:PORT) that may be reached over plain HTTP
    /// (loopback registries without TLS always may). Repeatable.
    #[arg(long = "insecure-registry")]
    pub insecure_registries: Vec<String>,
    /// Accept a bundle reference with a tag and no digest.
    #[arg(long)]
    pub allow_unpinned: bool,
}

impl RegistryArgs {
    fn options(&self) -> RegistryOptions {
        RegistryOptions {
            config: self.registry_config.clone(),
            ca_file: self.registry_ca.clone(),
            insecure: self.insecure_registries.clone(),
            allow_unpinned: self.allow_unpinned,
        }
    }
}

#[derive(Debug, Args)]
pub struct PushArgs {
    /// The bundle manifest.
    pub manifest: PathBuf,
    /// Where to: oci://REGISTRY/REPOSITORY:TAG.
    pub target: String,
    #[command(flatten)]
    pub registry: RegistryArgs,
}

#[derive(Debug, Args)]
pub struct PullArgs {
    /// The bundle: oci://REGISTRY/REPOSITORY@sha256:DIGEST.
    pub source: String,
    /// The directory to write plugins.yaml and the components to.
    #[arg(long)]
    pub out: PathBuf,
    /// Where compiled plugins are cached: each pulled component is compiled
    /// into it now, so that no controller start pays for it.
    #[arg(long, env = "CERTWASM_CACHE_DIR", alias = "plugin-cache")]
    pub cache_dir: Option<PathBuf>,
    #[command(flatten)]
    pub registry: RegistryArgs,
}

/// The `--plugin-bundle` options of `certwasm run` and `certwasm controller`.
#[derive(Debug, Clone, Args)]
pub struct PluginBundleArgs {
    /// A plugin bundle to serve besides the bundled plugins: a manifest
    /// path (watched and reloaded when it changes) or
    /// oci://REGISTRY/REPOSITORY@sha256:DIGEST. Repeatable.
    #[arg(long = "plugin-bundle", value_name = "PATH|oci://...")]
    pub plugin_bundles: Vec<String>,
    /// Where pulled bundles and compiled plugins are kept.
    #[arg(long, env = "CERTWASM_PLUGIN_CACHE")]
    pub plugin_cache: Option<PathBuf>,
    /// How often bundle files are checked for changes (Go duration).
    #[arg(long, default_value = "3s", value_parser = parse_poll)]
    pub plugin_bundle_poll: Duration,
    #[command(flatten)]
    pub registry: RegistryArgs,
}

fn parse_poll(text: &str) -> Result<Duration, String> {
    crate::go_duration::parse(text).map_err(|e| e.to_string())
}

impl PluginBundleArgs {
    /// A plugin set with the bundled plugins and every `--plugin-bundle`,
    /// compiled plugins cached in `cache_dir` and pulled bundles under
    /// `cache_dir/bundles`. Any bundle that does not verify stops the start.
    pub async fn plugin_set(&self, cache_dir: Option<PathBuf>) -> Result<PluginSet> {
        let plugins =
            PluginSet::new(cache_dir.clone())?.with_poll_interval(self.plugin_bundle_poll);
        let options = self.registry.options();
        for source in &self.plugin_bundles {
            let (path, watched) = if source.starts_with("oci://") {
                let Some(cache) = &cache_dir else {
                    bail!(
                        "--plugin-bundle {source} needs a plugin cache directory (--plugin-cache)"
                    );
                };
                let path = oci::pull_cached(source, &cache.join("bundles"), &options)
                    .await
                    .with_context(|| format!("--plugin-bundle {source}"))?;
                (path, false)
            } else {
                (PathBuf::from(source), true)
            };
            let set = plugins.clone();
            tokio::task::spawn_blocking(move || set.add_bundle(&path, watched))
                .await
                .context("loading a plugin bundle")??;
            tracing::info!(bundle = %source, "plugin bundle loaded");
        }
        Ok(plugins)
    }
}

/// Runs a `bundle` subcommand.
pub fn run(command: BundleCommand) -> Result<i32> {
    match command {
        BundleCommand::Add(args) => add(*args),
        BundleCommand::Inspect(args) => {
            print!(
                "{}",
                inspect(
                    &args.manifest,
                    args.cache_dir.or_else(super::default_cache_dir)
                )?
            );
            Ok(0)
        }
        BundleCommand::Push(args) => {
            let pinned = block_on(oci::push(
                &args.manifest,
                &args.target,
                &args.registry.options(),
            ))??;
            println!("{pinned}");
            Ok(0)
        }
        BundleCommand::Pull(args) => {
            let pulled = block_on(oci::pull(&args.source, &args.registry.options()))??;
            let path = oci::write_bundle_dir(&pulled, &args.out)?;
            precompile(&path, args.cache_dir.or_else(super::default_cache_dir))?;
            println!("{}", path.display());
            Ok(0)
        }
    }
}

fn block_on<T>(future: impl std::future::Future<Output = T>) -> Result<T> {
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .context("cannot start the async runtime")?;
    Ok(runtime.block_on(future))
}

/// `bundle add`: checks the component loads, then records it.
pub fn add(args: AddArgs) -> Result<i32> {
    let bytes = std::fs::read(&args.component)
        .with_context(|| format!("reading component {}", args.component.display()))?;
    let name = match &args.name {
        Some(name) => name.clone(),
        None => args
            .component
            .file_stem()
            .map(|stem| {
                stem.to_string_lossy()
                    .replace('_', "-")
                    .to_ascii_lowercase()
            })
            .unwrap_or_default(),
    };
    let sha256 = sha256_hex(&bytes);
    let mut document = if args.manifest.exists() {
        let text = std::fs::read_to_string(&args.manifest)
            .with_context(|| format!("reading {}", args.manifest.display()))?;
        manifest::parse_document(&text)
            .with_context(|| format!("plugin bundle {}", args.manifest.display()))?
    } else {
        BundleDocument {
            api_version: API_VERSION.to_owned(),
            kind: KIND.to_owned(),
            plugins: Vec::new(),
        }
    };
    let entry = EntryDocument {
        name: name.clone(),
        component: relative_path(&args.manifest, &args.component)?,
        sha256: Some(sha256.clone()),
        allow_hosts: args.allow_hosts.clone(),
        secrets: args.secrets,
        generate_keys: args.generate_keys,
        memory: args.memory.clone(),
        timeout: args.timeout.clone(),
        namespaces: (!args.namespaces.is_empty()).then(|| args.namespaces.clone()),
        replaces: args.replaces.clone(),
    };
    match document.plugins.iter_mut().find(|e| e.name == name) {
        Some(existing) => *existing = entry,
        None => document.plugins.push(entry),
    }
    manifest::validate(&document)
        .with_context(|| format!("plugin bundle {}", args.manifest.display()))?;
    // Loading once checks the component links against a contract this host
    // loads, and leaves it precompiled in the cache for the controllers.
    let engine = PluginEngine::new(args.cache_dir.clone().or_else(super::default_cache_dir))?;
    let (plugin, _) = Plugin::load(&engine, &name, &bytes)?;
    let yaml = manifest::to_yaml(&document)?;
    std::fs::write(&args.manifest, yaml)
        .with_context(|| format!("writing {}", args.manifest.display()))?;
    println!(
        "{name}: {} {} sha256:{sha256} added to {}",
        plugin.info().version,
        plugin.wit_version(),
        args.manifest.display()
    );
    Ok(0)
}

/// Compiles every component of a verified bundle into the cache (a JavaScript
/// or Python component takes seconds), saying on stderr what each took, so
/// stdout stays the bundle's path for scripts.
fn precompile(manifest_path: &Path, cache_dir: Option<PathBuf>) -> Result<()> {
    let Some(cache_dir) = cache_dir else {
        return Ok(());
    };
    let verified = bundle::read_verified(manifest_path)?;
    let engine = PluginEngine::new(Some(cache_dir))?;
    for component in &verified.components {
        let started = std::time::Instant::now();
        let (plugin, source) = Plugin::load(&engine, &component.entry.name, &component.bytes)?;
        eprintln!(
            "{}: {} {} ready in {:.0} ms ({source:?})",
            component.entry.name,
            plugin.info().version,
            plugin.wit_version(),
            started.elapsed().as_secs_f64() * 1e3
        );
    }
    Ok(())
}

/// `component` as the manifest records it: relative to the manifest's
/// directory (with `..` when outside it).
fn relative_path(manifest: &Path, component: &Path) -> Result<String> {
    let absolute = |path: &Path| -> Result<PathBuf> {
        let path = if path.is_absolute() {
            path.to_owned()
        } else {
            std::env::current_dir()?.join(path)
        };
        Ok(normalize(&path))
    };
    let base = absolute(manifest)?
        .parent()
        .map(Path::to_owned)
        .unwrap_or_default();
    let target = absolute(component)?;
    let base: Vec<_> = base.components().collect();
    let target_parts: Vec<_> = target.components().collect();
    let common = base
        .iter()
        .zip(&target_parts)
        .take_while(|(a, b)| a == b)
        .count();
    let mut relative = PathBuf::new();
    for _ in common..base.len() {
        relative.push("..");
    }
    for part in &target_parts[common..] {
        relative.push(part);
    }
    Ok(relative.to_string_lossy().into_owned())
}

fn normalize(path: &Path) -> PathBuf {
    let mut out = PathBuf::new();
    for component in path.components() {
        match component {
            Component::CurDir => {}
            Component::ParentDir => {
                out.pop();
            }
            other => out.push(other),
        }
    }
    out
}

/// `bundle inspect`'s table. Public so tests check the very text printed.
pub fn inspect(manifest_path: &Path, cache_dir: Option<PathBuf>) -> Result<String> {
    let verified = bundle::read_verified(manifest_path)?;
    let engine = PluginEngine::new(cache_dir)?;
    let mut rows = vec![[
        "NAME".to_owned(),
        "VERSION".to_owned(),
        "WIT".to_owned(),
        "SHA256".to_owned(),
        "ASKS FOR".to_owned(),
        "GRANTED".to_owned(),
    ]];
    for component in &verified.components {
        let entry = &component.entry;
        let (version, wit, asks) = match Plugin::load(&engine, &entry.name, &component.bytes) {
            Ok((plugin, _)) => (
                plugin.info().version.clone(),
                plugin.wit_version().as_str().to_owned(),
                requested_interfaces(&engine, &entry.name, &component.bytes)
                    .map(|list| list.join(","))
                    .unwrap_or_default(),
            ),
            Err(err) => (
                "-".to_owned(),
                "-".to_owned(),
                format!("does not load: {err}"),
            ),
        };
        let mut name = entry.name.clone();
        if let Some(replaced) = &entry.replaces {
            name = format!("{name} (replaces {replaced})");
        }
        rows.push([
            name,
            version,
            wit,
            entry.sha256[..12].to_owned(),
            if asks.is_empty() {
                "-".to_owned()
            } else {
                asks
            },
            describe_grants(&entry.grants),
        ]);
    }
    let widths: Vec<usize> = (0..6)
        .map(|col| rows.iter().map(|row| row[col].len()).max().unwrap_or(0))
        .collect();
    let mut out = String::new();
    for row in rows {
        let mut line = String::new();
        for (col, cell) in row.iter().enumerate() {
            if col == 5 {
                line.push_str(cell);
            } else {
                line.push_str(&format!("{cell:<width$}  ", width = widths[col]));
            }
        }
        out.push_str(line.trim_end());
        out.push('\n');
    }
    Ok(out)
}

/// One line naming every grant.
pub fn describe_grants(grants: &Grants) -> String {
    let mut parts = Vec::new();
    match &grants.allow_hosts {
        Some(hosts) if hosts.is_empty() => parts.push("hosts=none".to_owned()),
        Some(hosts) => parts.push(format!(
            "hosts={}",
            hosts.iter().cloned().collect::<Vec<_>>().join(",")
        )),
        None => parts.push("hosts=any".to_owned()),
    }
    if grants.secrets {
        parts.push("secrets".to_owned());
    }
    if grants.generate_keys {
        parts.push("generateKeys".to_owned());
    }
    if let Some(memory) = grants.memory_bytes {
        parts.push(format!("memory={}Mi", memory >> 20));
    }
    if let Some(timeout) = grants.timeout {
        parts.push(format!("timeout={}", crate::go_duration::format(timeout)));
    }
    if let Some(namespaces) = &grants.namespaces {
        parts.push(format!(
            "namespaces={}",
            namespaces.iter().cloned().collect::<Vec<_>>().join(",")
        ));
    }
    parts.join(" ")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn component_paths_are_relative_to_the_manifest() {
        let rel = |m: &str, c: &str| relative_path(Path::new(m), Path::new(c)).unwrap();
        assert_eq!(rel("/b/plugins.yaml", "/b/my_ca.wasm"), "my_ca.wasm");
        assert_eq!(rel("/b/plugins.yaml", "/b/wasm/x.wasm"), "wasm/x.wasm");
        assert_eq!(rel("/b/c/plugins.yaml", "/b/x.wasm"), "../x.wasm");
        assert_eq!(rel("/b/./plugins.yaml", "/b/d/../x.wasm"), "x.wasm");
    }
}
