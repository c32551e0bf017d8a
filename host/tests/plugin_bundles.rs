//! Plugin bundles: manifests pinned by digest, grants enforced in calls,
//! reload without restart, a real OCI registry (Debian `docker-registry`,
//! plain and with TLS and basic auth), and `certwasm run --plugin-bundle`
//! issuing through a plugin loaded from a bundle.

#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use std::io::{Read, Write};
use std::net::{TcpListener, TcpStream};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, Instant};

use certwasm::bundle::oci::{self, RegistryOptions};
use certwasm::bundle::{BundleError, sha256_hex};
use certwasm::controller::PluginSet;
use certwasm::controller::plugins::PluginResolveError;
use certwasm::plugin::bindings::types::{IssuerConfig, IssuerKind};
use certwasm::plugin::secrets::MemorySecrets;
use certwasm::plugin::{BUNDLED, CallEffects, CallLimits, PluginCallError, WitVersion};
use common::cfssl::Cfssl;
use common::{Embedded, openssl_verify, text};

fn bundled(name: &str) -> &'static [u8] {
    BUNDLED.iter().find(|p| p.name == name).unwrap().wasm
}

fn certwasm() -> Command {
    Command::new(env!("CARGO_BIN_EXE_certwasm"))
}

/// Writes `plugins.yaml` in `dir` with these entries (YAML list items).
fn write_manifest(dir: &Path, entries: &str) -> PathBuf {
    let path = dir.join("plugins.yaml");
    std::fs::write(
        &path,
        format!("apiVersion: certwasm.io/v1alpha1\nkind: PluginBundle\nplugins:\n{entries}"),
    )
    .unwrap();
    path
}

/// Writes a component and returns its digest.
fn write_component(dir: &Path, file: &str, bytes: &[u8]) -> String {
    std::fs::write(dir.join(file), bytes).unwrap();
    sha256_hex(bytes)
}

fn plugin_set(cache: &Path) -> PluginSet {
    PluginSet::new(Some(cache.to_owned())).unwrap()
}

#[test]
fn a_tampered_component_refuses_the_whole_bundle() {
    let dir = tempfile::tempdir().unwrap();
    let ca = write_component(dir.path(), "my_ca.wasm", bundled("ca"));
    let selfsigned = write_component(dir.path(), "mine.wasm", bundled("selfsigned"));
    let manifest = write_manifest(
        dir.path(),
        &format!(
            "- {{name: my-ca, component: my_ca.wasm, sha256: {ca}}}\n\
             - {{name: mine, component: mine.wasm, sha256: {selfsigned}}}\n"
        ),
    );
    // One byte changed in the second component after it was pinned.
    let mut tampered = bundled("selfsigned").to_vec();
    let last = tampered.len() - 1;
    tampered[last] ^= 1;
    let actual = write_component(dir.path(), "mine.wasm", &tampered);

    let plugins = plugin_set(&dir.path().join("cache"));
    let err = plugins.add_bundle(&manifest, false).unwrap_err();
    assert!(matches!(err, BundleError::DigestMismatch { .. }), "{err}");
    let message = err.to_string();
    assert!(message.contains("mine.wasm"), "{message}");
    assert!(message.contains(&selfsigned), "{message}");
    assert!(message.contains(&actual), "{message}");
    // Nothing from the bundle runs, not even the intact component.
    assert!(matches!(
        plugins.resolve("my-ca", None),
        Err(PluginResolveError::NotFound { .. })
    ));
    // Nor was anything compiled: the cache holds no artifact.
    let cached = std::fs::read_dir(dir.path().join("cache"))
        .map(|entries| entries.count())
        .unwrap_or(0);
    assert_eq!(cached, 0);
}

#[test]
fn a_missing_component_file_is_named() {
    let dir = tempfile::tempdir().unwrap();
    let digest = sha256_hex(bundled("ca"));
    let manifest = write_manifest(
        dir.path(),
        &format!("- {{name: my-ca, component: wasm/absent.wasm, sha256: {digest}}}\n"),
    );
    let err = plugin_set(&dir.path().join("cache"))
        .add_bundle(&manifest, false)
        .unwrap_err();
    let message = err.to_string();
    assert!(message.contains("wasm/absent.wasm"), "{message}");
    assert!(message.contains("\"my-ca\""), "{message}");
}

#[test]
fn a_manifest_error_names_the_field() {
    let dir = tempfile::tempdir().unwrap();
    let manifest = write_manifest(
        dir.path(),
        "- {name: my-ca, component: my_ca.wasm, memory: 32MB}\n",
    );
    let err = plugin_set(&dir.path().join("cache"))
        .add_bundle(&manifest, false)
        .unwrap_err()
        .to_string();
    assert!(err.contains("plugins[0].sha256: Required value"), "{err}");
    assert!(
        err.contains("plugins[0].memory: Invalid value: \"32MB\""),
        "{err}"
    );
}

/// The ca plugin with every `certwasm:issuer/...@<current>` import renamed
/// to a contract version no host loads (same length, so still a valid
/// component).
fn future_contract_component() -> Vec<u8> {
    let mut bytes = bundled("ca").to_vec();
    let from = b"certwasm:issuer/";
    let current = WitVersion::CURRENT.as_str().as_bytes();
    let mut i = 0;
    let mut patched = 0;
    while i + from.len() < bytes.len() {
        if &bytes[i..i + from.len()] == from {
            let rest = &bytes[i + from.len()..];
            if let Some(at) = rest.iter().take(40).position(|&b| b == b'@')
                && rest[at + 1..].starts_with(current)
            {
                let start = i + from.len() + at + 1;
                bytes[start..start + 5].copy_from_slice(b"9.9.0");
                patched += 1;
            }
        }
        i += 1;
    }
    assert!(patched > 0, "the ca plugin imports the current contract");
    bytes
}

#[test]
fn an_unknown_contract_version_is_reported_by_the_bundle() {
    let dir = tempfile::tempdir().unwrap();
    let future = future_contract_component();
    let digest = write_component(dir.path(), "future.wasm", &future);
    let ca = write_component(dir.path(), "my_ca.wasm", bundled("ca"));
    let manifest = write_manifest(
        dir.path(),
        &format!(
            "- {{name: future, component: future.wasm, sha256: {digest}}}\n\
             - {{name: my-ca, component: my_ca.wasm, sha256: {ca}, secrets: true}}\n"
        ),
    );
    let plugins = plugin_set(&dir.path().join("cache"));
    plugins.add_bundle(&manifest, false).unwrap();
    match plugins.resolve("future", None) {
        Err(PluginResolveError::LoadFailed { name, reason }) => {
            assert_eq!(name, "future");
            assert!(reason.contains("9.9.0"), "{reason}");
            assert!(
                reason.contains("contract version this host does not load"),
                "{reason}"
            );
        }
        other => panic!("expected LoadFailed, got {other:?}"),
    }
    // The other entry serves.
    let resolved = plugins.resolve("my-ca", None).unwrap();
    assert_eq!(resolved.digest.as_deref(), Some(ca.as_str()));

    // `bundle add` refuses it before writing anything.
    let added = certwasm()
        .args(["bundle", "add"])
        .arg(dir.path().join("new.yaml"))
        .arg(dir.path().join("future.wasm"))
        .arg("--cache-dir")
        .arg(dir.path().join("cache"))
        .output()
        .unwrap();
    assert!(!added.status.success());
    assert!(text(&added).contains("9.9.0"), "{}", text(&added));
    assert!(!dir.path().join("new.yaml").exists());
}

/// A loopback HTTP server that counts connections and answers 404.
fn counting_server() -> (u16, Arc<AtomicUsize>) {
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let port = listener.local_addr().unwrap().port();
    let count = Arc::new(AtomicUsize::new(0));
    let seen = Arc::clone(&count);
    std::thread::spawn(move || {
        for stream in listener.incoming() {
            let Ok(mut stream) = stream else { continue };
            seen.fetch_add(1, Ordering::SeqCst);
            let mut buf = [0u8; 4096];
            let _ = stream.read(&mut buf);
            let _ = stream.write_all(
                b"HTTP/1.1 404 Not Found\r\ncontent-length: 0\r\nconnection: close\r\n\r\n",
            );
        }
    });
    (port, count)
}

fn acme_config(port: u16) -> IssuerConfig {
    IssuerConfig {
        kind: IssuerKind::Issuer,
        name: "acme".into(),
        namespace: "default".into(),
        spec_json: serde_json::json!({"acme": {
            "server": format!("http://127.0.0.1:{port}/dir"),
            "email": "ops@example.com",
            "privateKeySecretRef": {"name": "acme-account"},
            "solvers": [{"http01": {"ingress": {}}}]
        }})
        .to_string(),
    }
}

fn validate_message(plugins: &PluginSet, name: &str, config: &IssuerConfig) -> String {
    let resolved = plugins.resolve(name, Some("default")).unwrap();
    let effects = CallEffects {
        secrets: Arc::new(MemorySecrets::default()),
        ..CallEffects::default()
    };
    match resolved
        .plugin
        .validate(config, &effects, &CallLimits::default())
    {
        Ok(Ok(ready)) => format!("ready: {}", ready.readiness.message),
        Ok(Err(failure)) => failure.message,
        Err(stopped) => stopped.to_string(),
    }
}

#[test]
fn grants_bound_hosts_secrets_and_key_generation() {
    let dir = tempfile::tempdir().unwrap();
    let acme = write_component(dir.path(), "acme.wasm", bundled("acme"));
    let manifest = write_manifest(
        dir.path(),
        &format!(
            "- {{name: fenced, component: acme.wasm, sha256: {acme}, secrets: true, generateKeys: true, allowHosts: [pki.example.com]}}\n\
             - {{name: open, component: acme.wasm, sha256: {acme}, secrets: true, generateKeys: true, allowHosts: ['127.0.0.1']}}\n\
             - {{name: keyless, component: acme.wasm, sha256: {acme}, secrets: true, allowHosts: ['127.0.0.1']}}\n\
             - {{name: secretless, component: acme.wasm, sha256: {acme}, generateKeys: true, allowHosts: ['127.0.0.1']}}\n"
        ),
    );
    let plugins = plugin_set(&dir.path().join("cache"));
    plugins.add_bundle(&manifest, false).unwrap();
    let (port, connections) = counting_server();
    let config = acme_config(port);

    // The issuer config names 127.0.0.1, the grant does not: refused
    // before anything leaves the host.
    let message = validate_message(&plugins, "fenced", &config);
    assert!(
        message.contains(
            r#"host "127.0.0.1" is not in the plugin bundle's allowHosts for plugin "fenced""#
        ),
        "{message}"
    );
    assert_eq!(connections.load(Ordering::SeqCst), 0);

    // Granted and named: the request goes out (and the server's 404 is
    // what the plugin reports).
    let message = validate_message(&plugins, "open", &config);
    assert!(!message.contains("allowHosts"), "{message}");
    assert!(connections.load(Ordering::SeqCst) >= 1, "{message}");

    // The account key needs generateKeys; reading Secrets needs secrets.
    let message = validate_message(&plugins, "keyless", &config);
    assert!(message.contains("generateKeys"), "{message}");
    let message = validate_message(&plugins, "secretless", &config);
    assert!(message.contains("may not read Secrets"), "{message}");
}

#[test]
fn memory_and_timeout_grants_bound_each_call() {
    let dir = tempfile::tempdir().unwrap();
    let ca = write_component(dir.path(), "ca.wasm", bundled("ca"));
    let manifest = write_manifest(
        dir.path(),
        &format!(
            "- {{name: small, component: ca.wasm, sha256: {ca}, secrets: true, memory: 1Mi, timeout: 3s}}\n"
        ),
    );
    let plugins = plugin_set(&dir.path().join("cache"));
    plugins.add_bundle(&manifest, false).unwrap();
    let resolved = plugins.resolve("small", None).unwrap();
    assert_eq!(resolved.grants.timeout, Some(Duration::from_secs(3)));
    let config = IssuerConfig {
        kind: IssuerKind::ClusterIssuer,
        name: "ca".into(),
        namespace: "cert-manager".into(),
        spec_json: r#"{"ca":{"secretName":"root"}}"#.into(),
    };
    // The caller asks for the default 64 MiB; the grant's 1 MiB applies.
    let outcome =
        resolved
            .plugin
            .validate(&config, &CallEffects::default(), &CallLimits::default());
    match outcome {
        Err(PluginCallError::MemoryExceeded { limit_mib, .. }) => assert_eq!(limit_mib, 1),
        other => panic!("expected the 1Mi grant to stop the call, got {other:?}"),
    }
}

#[test]
fn namespaces_limit_issuers_not_cluster_issuers() {
    let dir = tempfile::tempdir().unwrap();
    let ca = write_component(dir.path(), "ca.wasm", bundled("ca"));
    let manifest = write_manifest(
        dir.path(),
        &format!("- {{name: team-ca, component: ca.wasm, sha256: {ca}, namespaces: [team-a]}}\n"),
    );
    let plugins = plugin_set(&dir.path().join("cache"));
    plugins.add_bundle(&manifest, false).unwrap();
    assert!(plugins.resolve("team-ca", Some("team-a")).is_ok());
    assert!(plugins.resolve("team-ca", None).is_ok());
    match plugins.resolve("team-ca", Some("team-b")) {
        Err(PluginResolveError::NamespaceNotGranted {
            name,
            namespace,
            allowed,
        }) => {
            assert_eq!((name.as_str(), namespace.as_str()), ("team-ca", "team-b"));
            assert_eq!(allowed, vec!["team-a".to_owned()]);
        }
        other => panic!("expected NamespaceNotGranted, got {other:?}"),
    }
    match plugins.resolve("nope", Some("team-a")) {
        Err(PluginResolveError::NotFound { available, .. }) => {
            assert!(available.contains(&"team-ca".to_owned()), "{available:?}");
            assert!(available.contains(&"acme".to_owned()), "{available:?}");
        }
        other => panic!("expected NotFound, got {other:?}"),
    }
}

#[test]
fn a_changed_bundle_is_swapped_in_and_a_bad_one_refused() {
    let dir = tempfile::tempdir().unwrap();
    let ca = write_component(dir.path(), "ca.wasm", bundled("ca"));
    let selfsigned = write_component(dir.path(), "selfsigned.wasm", bundled("selfsigned"));
    let manifest = write_manifest(
        dir.path(),
        &format!("- {{name: mine, component: ca.wasm, sha256: {ca}}}\n"),
    );
    let plugins = plugin_set(&dir.path().join("cache"));
    plugins.add_bundle(&manifest, true).unwrap();
    let changes = plugins.subscribe();
    let generation = *changes.borrow();
    let before = plugins.resolve("mine", None).unwrap();
    assert_eq!(plugins.reload_changed(), 0, "nothing changed yet");

    write_manifest(
        dir.path(),
        &format!(
            "- {{name: mine, component: selfsigned.wasm, sha256: {selfsigned}, timeout: 2s}}\n"
        ),
    );
    assert_eq!(plugins.reload_changed(), 1);
    let after = plugins.resolve("mine", None).unwrap();
    assert_eq!(after.digest.as_deref(), Some(selfsigned.as_str()));
    assert_eq!(after.grants.timeout, Some(Duration::from_secs(2)));
    assert!(*changes.borrow() > generation);
    // A call that holds the old plugin keeps it.
    assert_eq!(before.digest.as_deref(), Some(ca.as_str()));
    assert!(!before.plugin.info().version.is_empty());

    // A bad bundle (its digest does not match) is refused; the last good
    // one stays, and the refusal is not retried until the file changes.
    write_manifest(
        dir.path(),
        &format!("- {{name: mine, component: ca.wasm, sha256: {selfsigned}}}\n"),
    );
    let generation = *changes.borrow();
    assert_eq!(plugins.reload_changed(), 0);
    assert_eq!(plugins.reload_changed(), 0);
    let still = plugins.resolve("mine", None).unwrap();
    assert_eq!(still.digest.as_deref(), Some(selfsigned.as_str()));
    assert_eq!(*changes.borrow(), generation);
}

#[test]
fn bundle_add_records_and_inspect_shows_asks_and_grants() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::create_dir(dir.path().join("wasm")).unwrap();
    let digest = write_component(&dir.path().join("wasm"), "my_ca.wasm", bundled("ca"));
    let manifest = dir.path().join("plugins.yaml");
    let cache = dir.path().join("cache");
    let added = certwasm()
        .args(["bundle", "add"])
        .arg(&manifest)
        .arg(dir.path().join("wasm/my_ca.wasm"))
        .args(["--name", "my-ca", "--allow-host", "pki.example.com"])
        .args([
            "--memory",
            "32Mi",
            "--timeout",
            "5s",
            "--namespace",
            "team-a",
            "--secrets",
        ])
        .arg("--cache-dir")
        .arg(&cache)
        .output()
        .unwrap();
    assert!(added.status.success(), "{}", text(&added));
    let written = std::fs::read_to_string(&manifest).unwrap();
    assert!(written.contains("component: wasm/my_ca.wasm"), "{written}");
    assert!(written.contains(&format!("sha256: {digest}")), "{written}");
    // Precompiled into the cache by the add.
    assert!(
        std::fs::read_dir(&cache)
            .unwrap()
            .flatten()
            .any(|e| e.file_name().to_string_lossy().starts_with(&digest)),
        "no compiled artifact for {digest} in the cache"
    );
    // A bad value is refused with the field named, and the file untouched.
    let refused = certwasm()
        .args(["bundle", "add"])
        .arg(&manifest)
        .arg(dir.path().join("wasm/my_ca.wasm"))
        .args(["--name", "other", "--memory", "32MB"])
        .arg("--cache-dir")
        .arg(&cache)
        .output()
        .unwrap();
    assert!(!refused.status.success());
    assert!(
        text(&refused).contains("plugins[1].memory: Invalid value: \"32MB\""),
        "{}",
        text(&refused)
    );
    assert_eq!(std::fs::read_to_string(&manifest).unwrap(), written);

    let inspected = certwasm()
        .args(["bundle", "inspect"])
        .arg(&manifest)
        .arg("--cache-dir")
        .arg(&cache)
        .output()
        .unwrap();
    assert!(inspected.status.success(), "{}", text(&inspected));
    let table = String::from_utf8_lossy(&inspected.stdout).into_owned();
    let row = table
        .lines()
        .find(|l| l.starts_with("my-ca"))
        .unwrap_or_else(|| panic!("{table}"));
    assert!(row.contains(WitVersion::CURRENT.as_str()), "{row}");
    assert!(row.contains(&digest[..12]), "{row}");
    assert!(row.contains("secrets") && row.contains("signer"), "{row}");
    assert!(row.contains("hosts=pki.example.com"), "{row}");
    assert!(
        row.contains("memory=32Mi") && row.contains("timeout=5s"),
        "{row}"
    );
    assert!(row.contains("namespaces=team-a"), "{row}");
}

/// A Debian `docker-registry` on a free loopback port, stopped on drop.
struct Registry {
    child: Child,
    address: String,
}

impl Drop for Registry {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

fn start_registry(dir: &Path, extra: &str) -> Registry {
    let port = free_port();
    let address = format!("127.0.0.1:{port}");
    std::fs::create_dir_all(dir.join("data")).unwrap();
    let config = dir.join("registry.yml");
    std::fs::write(
        &config,
        format!(
            "version: 0.1\nlog: {{level: error}}\nstorage: {{filesystem: {{rootdirectory: {}}}}}\nhttp:\n  addr: {address}\n{extra}",
            dir.join("data").display()
        ),
    )
    .unwrap();
    let child = Command::new("docker-registry")
        .arg("serve")
        .arg(&config)
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .expect("docker-registry runs (scripts/setup installs Debian docker-registry)");
    let deadline = Instant::now() + Duration::from_secs(30);
    while TcpStream::connect(&address).is_err() {
        assert!(Instant::now() < deadline, "docker-registry did not listen");
        std::thread::sleep(Duration::from_millis(50));
    }
    Registry { child, address }
}

fn run_ok(command: &mut Command) -> String {
    let output = command.output().unwrap();
    assert!(output.status.success(), "{command:?}: {}", text(&output));
    String::from_utf8_lossy(&output.stdout).trim().to_owned()
}

/// A bundle of two components in `dir`.
fn two_plugin_bundle(dir: &Path) -> PathBuf {
    let ca = write_component(dir, "my_ca.wasm", bundled("ca"));
    let selfsigned = write_component(dir, "mine.wasm", bundled("selfsigned"));
    write_manifest(
        dir,
        &format!(
            "- {{name: my-ca, component: my_ca.wasm, sha256: {ca}, secrets: true, replaces: ca}}\n\
             - {{name: mine, component: mine.wasm, sha256: {selfsigned}, generateKeys: true}}\n"
        ),
    )
}

#[test]
fn push_and_pull_through_a_plain_loopback_registry() {
    let dir = tempfile::tempdir().unwrap();
    let registry = start_registry(&dir.path().join("registry"), "");
    let manifest = two_plugin_bundle(dir.path());
    let pinned = run_ok(
        certwasm()
            .args(["bundle", "push"])
            .arg(&manifest)
            .arg(format!("oci://{}/team/issuers:1.0", registry.address)),
    );
    assert!(
        pinned.starts_with(&format!("oci://{}/team/issuers@sha256:", registry.address)),
        "{pinned}"
    );

    let out = dir.path().join("pulled");
    let pull_cache = dir.path().join("pull-cache");
    let path = run_ok(
        certwasm()
            .args(["bundle", "pull", &pinned, "--out"])
            .arg(&out)
            .arg("--cache-dir")
            .arg(&pull_cache),
    );
    assert_eq!(PathBuf::from(&path), out.join("plugins.yaml"));
    // Pulling precompiled both components, so no controller start pays.
    let compiled = std::fs::read_dir(&pull_cache)
        .unwrap()
        .filter(|entry| {
            entry
                .as_ref()
                .is_ok_and(|e| e.path().extension().is_some_and(|ext| ext == "cwasm"))
        })
        .count();
    assert_eq!(compiled, 2);
    assert_eq!(
        std::fs::read(out.join("my-ca.wasm")).unwrap(),
        bundled("ca")
    );
    assert_eq!(
        std::fs::read(out.join("mine.wasm")).unwrap(),
        bundled("selfsigned")
    );
    let pulled = std::fs::read_to_string(out.join("plugins.yaml")).unwrap();
    assert!(
        pulled.contains("replaces: ca") && pulled.contains("generateKeys: true"),
        "{pulled}"
    );
    // The pulled bundle loads as any other.
    let plugins = plugin_set(&dir.path().join("cache"));
    plugins
        .add_bundle(&out.join("plugins.yaml"), false)
        .unwrap();
    assert!(plugins.resolve("ca", None).unwrap().digest.is_some());

    // A tag alone is refused unless allowed.
    let tagged = format!("oci://{}/team/issuers:1.0", registry.address);
    let refused = certwasm()
        .args(["bundle", "pull", &tagged, "--out"])
        .arg(dir.path().join("tagged"))
        .output()
        .unwrap();
    assert!(!refused.status.success());
    assert!(
        text(&refused).contains("not pinned by digest"),
        "{}",
        text(&refused)
    );
    run_ok(
        certwasm()
            .args(["bundle", "pull", &tagged, "--allow-unpinned", "--out"])
            .arg(dir.path().join("tagged")),
    );
}

#[test]
fn components_are_cncf_wasm_artifacts() {
    let dir = tempfile::tempdir().unwrap();
    let registry = start_registry(&dir.path().join("registry"), "");
    let manifest = two_plugin_bundle(dir.path());
    let pinned = run_ok(
        certwasm()
            .args(["bundle", "push"])
            .arg(&manifest)
            .arg(format!("oci://{}/team/issuers:1.0", registry.address)),
    );
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    let pulled = runtime
        .block_on(oci::pull(&pinned, &RegistryOptions::default()))
        .unwrap();
    for entry in &pulled.document.plugins {
        // Each component is an artifact pinned by its manifest digest;
        // read that manifest back over the registry's HTTP API.
        let (_, digest) = entry.component.rsplit_once('@').unwrap();
        let body = http_get(
            &registry.address,
            &format!("/v2/team/issuers/manifests/{digest}"),
            "application/vnd.oci.image.manifest.v1+json",
        );
        let artifact: serde_json::Value = serde_json::from_str(&body).unwrap();
        assert_eq!(
            artifact["config"]["mediaType"],
            "application/vnd.wasm.config.v0+json"
        );
        let layers = artifact["layers"].as_array().unwrap();
        assert_eq!(layers.len(), 1);
        assert_eq!(layers[0]["mediaType"], "application/wasm");
        assert_eq!(
            layers[0]["digest"],
            format!("sha256:{}", entry.sha256.as_deref().unwrap())
        );
    }
}

/// A plain-HTTP GET on loopback, returning the body.
fn http_get(address: &str, path: &str, accept: &str) -> String {
    let mut stream = TcpStream::connect(address).unwrap();
    write!(
        stream,
        "GET {path} HTTP/1.1\r\nHost: {address}\r\nAccept: {accept}\r\nConnection: close\r\n\r\n"
    )
    .unwrap();
    let mut response = String::new();
    stream.read_to_string(&mut response).unwrap();
    let (head, body) = response.split_once("\r\n\r\n").unwrap();
    assert!(head.starts_with("HTTP/1.1 200"), "{head}");
    body.to_owned()
}

fn openssl(dir: &Path, args: &[&str]) {
    let output = Command::new("openssl")
        .args(args)
        .current_dir(dir)
        .output()
        .expect("openssl runs");
    assert!(
        output.status.success(),
        "openssl {args:?}: {}",
        text(&output)
    );
}

#[test]
fn push_and_pull_over_tls_with_basic_auth() {
    let dir = tempfile::tempdir().unwrap();
    let tls = dir.path().join("tls");
    std::fs::create_dir(&tls).unwrap();
    // A CA and a serving certificate for 127.0.0.1 signed by it.
    openssl(
        &tls,
        &[
            "req",
            "-x509",
            "-newkey",
            "ec",
            "-pkeyopt",
            "ec_paramgen_curve:P-256",
            "-nodes",
            "-keyout",
            "ca.key",
            "-out",
            "ca.pem",
            "-days",
            "1",
            "-subj",
            "/CN=registry test CA",
        ],
    );
    openssl(
        &tls,
        &[
            "req",
            "-newkey",
            "ec",
            "-pkeyopt",
            "ec_paramgen_curve:P-256",
            "-nodes",
            "-keyout",
            "leaf.key",
            "-out",
            "leaf.csr",
            "-subj",
            "/CN=127.0.0.1",
        ],
    );
    std::fs::write(
        tls.join("ext.cnf"),
        "subjectAltName=IP:127.0.0.1,DNS:localhost\nbasicConstraints=CA:FALSE\nkeyUsage=digitalSignature\nextendedKeyUsage=serverAuth\n",
    )
    .unwrap();
    openssl(
        &tls,
        &[
            "x509",
            "-req",
            "-in",
            "leaf.csr",
            "-CA",
            "ca.pem",
            "-CAkey",
            "ca.key",
            "-CAcreateserial",
            "-out",
            "leaf.pem",
            "-days",
            "1",
            "-extfile",
            "ext.cnf",
        ],
    );
    let htpasswd = Command::new("htpasswd")
        .args(["-Bbn", "pusher", "s3cret-pw"])
        .output()
        .expect("htpasswd runs (scripts/setup installs apache2-utils)");
    assert!(htpasswd.status.success());
    std::fs::write(tls.join("htpasswd"), &htpasswd.stdout).unwrap();
    let registry = start_registry(
        &dir.path().join("registry"),
        &format!(
            "  tls: {{certificate: {}, key: {}}}\nauth:\n  htpasswd: {{realm: certwasm-test, path: {}}}\n",
            tls.join("leaf.pem").display(),
            tls.join("leaf.key").display(),
            tls.join("htpasswd").display()
        ),
    );
    use base64::Engine;
    let docker_config = dir.path().join("config.json");
    std::fs::write(
        &docker_config,
        serde_json::json!({"auths": {registry.address.clone(): {
            "auth": base64::engine::general_purpose::STANDARD.encode("pusher:s3cret-pw")
        }}})
        .to_string(),
    )
    .unwrap();
    let empty_config = dir.path().join("empty.json");
    std::fs::write(&empty_config, "{}").unwrap();
    let manifest = two_plugin_bundle(dir.path());
    let target = format!("oci://{}/team/issuers:2.0", registry.address);

    // Without credentials the registry refuses.
    let anonymous = certwasm()
        .args(["bundle", "push"])
        .arg(&manifest)
        .arg(&target)
        .arg("--registry-ca")
        .arg(tls.join("ca.pem"))
        .arg("--registry-config")
        .arg(&empty_config)
        .output()
        .unwrap();
    assert!(!anonymous.status.success(), "{}", text(&anonymous));
    assert!(
        text(&anonymous).contains("UNAUTHORIZED"),
        "{}",
        text(&anonymous)
    );
    // Without the CA, TLS fails (and nothing falls back to plain HTTP).
    let untrusted = certwasm()
        .args(["bundle", "push"])
        .arg(&manifest)
        .arg(&target)
        .arg("--registry-config")
        .arg(&docker_config)
        .output()
        .unwrap();
    assert!(!untrusted.status.success(), "{}", text(&untrusted));
    assert!(
        text(&untrusted).contains("https://"),
        "{}",
        text(&untrusted)
    );
    assert!(
        !text(&untrusted).contains("http://"),
        "{}",
        text(&untrusted)
    );
    assert!(
        text(&untrusted).contains("certificate"),
        "{}",
        text(&untrusted)
    );

    let pinned = run_ok(
        certwasm()
            .args(["bundle", "push"])
            .arg(&manifest)
            .arg(&target)
            .arg("--registry-ca")
            .arg(tls.join("ca.pem"))
            .arg("--registry-config")
            .arg(&docker_config),
    );
    let out = dir.path().join("pulled");
    run_ok(
        certwasm()
            .args(["bundle", "pull", &pinned, "--out"])
            .arg(&out)
            .arg("--registry-ca")
            .arg(tls.join("ca.pem"))
            .env("DOCKER_CONFIG", dir.path()),
    );
    assert_eq!(
        std::fs::read(out.join("my-ca.wasm")).unwrap(),
        bundled("ca")
    );
}

#[test]
fn an_unreachable_registry_is_survived_only_with_a_cache() {
    let dir = tempfile::tempdir().unwrap();
    let registry = start_registry(&dir.path().join("registry"), "");
    let manifest = two_plugin_bundle(dir.path());
    let pinned = run_ok(
        certwasm()
            .args(["bundle", "push"])
            .arg(&manifest)
            .arg(format!("oci://{}/team/issuers:1.0", registry.address)),
    );
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    let options = RegistryOptions::default();
    let cache = dir.path().join("bundles");
    let first = runtime
        .block_on(oci::pull_cached(&pinned, &cache, &options))
        .unwrap();
    drop(registry);

    // The same digest again: from the cache, no registry needed.
    let again = runtime
        .block_on(oci::pull_cached(&pinned, &cache, &options))
        .unwrap();
    assert_eq!(first, again);
    plugin_set(&dir.path().join("compiled"))
        .add_bundle(&again, false)
        .unwrap();

    // No cache: the outage is an error naming the registry.
    let err = runtime
        .block_on(oci::pull_cached(
            &pinned,
            &dir.path().join("empty"),
            &options,
        ))
        .unwrap_err()
        .to_string();
    let registry_host = pinned
        .trim_start_matches("oci://")
        .split('/')
        .next()
        .unwrap()
        .to_owned();
    assert!(err.contains(&registry_host), "{err}");
}

/// The CA Issuer manifests for one namespace: a CA Certificate from the
/// self-signed ClusterIssuer, and an Issuer signing with it.
fn team_manifests(namespace: &str) -> String {
    format!(
        "apiVersion: v1
kind: Namespace
metadata: {{name: {namespace}}}
---
apiVersion: cert-manager.io/v1
kind: Certificate
metadata: {{name: team-ca, namespace: {namespace}}}
spec:
  isCA: true
  commonName: {namespace} CA
  secretName: team-ca
  privateKey: {{algorithm: ECDSA, size: 256}}
  issuerRef: {{name: selfsigned, kind: ClusterIssuer}}
---
apiVersion: cert-manager.io/v1
kind: Issuer
metadata: {{name: team-issuer, namespace: {namespace}}}
spec:
  ca: {{secretName: team-ca}}
"
    )
}

const SELFSIGNED: &str = "apiVersion: cert-manager.io/v1
kind: ClusterIssuer
metadata: {name: selfsigned}
spec: {selfSigned: {}}
";

fn ready_condition(server: &Embedded, namespace: &str, issuer: &str) -> String {
    server.kubectl_ok(&[
        "get",
        "issuer",
        issuer,
        "-n",
        namespace,
        "-o",
        "jsonpath={.status.conditions[?(@.type==\"Ready\")].status}|{.status.conditions[?(@.type==\"Ready\")].reason}|{.status.conditions[?(@.type==\"Ready\")].message}",
    ])
}

fn wait_issuer(server: &Embedded, namespace: &str, issuer: &str, prefix: &str) -> String {
    server.kubectl_until(
        &[
            "get",
            "issuer",
            issuer,
            "-n",
            namespace,
            "-o",
            "jsonpath={.status.conditions[?(@.type==\"Ready\")].status}|{.status.conditions[?(@.type==\"Ready\")].reason}|{.status.conditions[?(@.type==\"Ready\")].message}",
        ],
        |out| out.starts_with(prefix),
    )
}

#[test]
fn certwasm_run_issues_through_a_plugin_from_a_bundle_file() {
    let dir = tempfile::tempdir().unwrap();
    let bundle_dir = dir.path().join("bundle");
    std::fs::create_dir(&bundle_dir).unwrap();
    let ca = write_component(&bundle_dir, "my_ca.wasm", bundled("ca"));
    let entry = |namespaces: &str| {
        format!(
            "- {{name: my-ca, replaces: ca, component: my_ca.wasm, sha256: {ca}, secrets: true, namespaces: [{namespaces}]}}\n"
        )
    };
    let manifest = write_manifest(&bundle_dir, &entry("team-a"));
    let data = dir.path().join("data");
    let server = Embedded::start_with(
        &data,
        &[
            "--plugin-bundle",
            manifest.to_str().unwrap(),
            "--plugin-bundle-poll",
            "300ms",
        ],
    );
    server.apply_ok(SELFSIGNED);
    server.apply_ok(&team_manifests("team-a"));
    server.apply_ok(&team_manifests("team-b"));
    server.apply_ok(
        "apiVersion: cert-manager.io/v1
kind: Issuer
metadata: {name: ghost, namespace: team-a}
spec:
  plugin: {name: no-such-plugin, config: {}}
---
apiVersion: cert-manager.io/v1
kind: Certificate
metadata: {name: web, namespace: team-a}
spec:
  secretName: web-tls
  dnsNames: [web.team-a.example]
  issuerRef: {name: team-issuer, kind: Issuer}
",
    );

    // Served by the bundle's my-ca (it replaces the bundled ca): Ready,
    // naming the plugin, its version and its digest.
    let ready = wait_issuer(&server, "team-a", "team-issuer", "True|");
    assert!(ready.contains("(plugin my-ca "), "{ready}");
    assert!(ready.contains(&format!("sha256:{ca})")), "{ready}");
    server.kubectl_until(
        &[
            "get",
            "certificate",
            "web",
            "-n",
            "team-a",
            "-o",
            "jsonpath={.status.conditions[?(@.type==\"Ready\")].status}",
        ],
        |out| out.trim() == "True",
    );

    // Not granted to team-b; an unknown plugin names those there are.
    let refused = wait_issuer(&server, "team-b", "team-issuer", "False|PluginNotGranted|");
    assert!(refused.contains("team-a"), "{refused}");
    let ghost = wait_issuer(&server, "team-a", "ghost", "False|PluginNotFound|");
    assert!(
        ghost.contains("my-ca") && ghost.contains("selfsigned"),
        "{ghost}"
    );

    // The operator grants team-b: the bundle is reloaded and team-b's
    // Issuer re-validated, with no restart.
    write_manifest(&bundle_dir, &entry("team-a, team-b"));
    let granted = wait_issuer(&server, "team-b", "team-issuer", "True|");
    assert!(granted.contains(&format!("sha256:{ca}")), "{granted}");
    assert!(ready_condition(&server, "team-a", "team-issuer").starts_with("True|"));
}

#[test]
fn certwasm_run_loads_a_pinned_bundle_from_a_registry_and_restarts_from_its_cache() {
    let dir = tempfile::tempdir().unwrap();
    let registry = start_registry(&dir.path().join("registry"), "");
    let bundle_dir = dir.path().join("bundle");
    std::fs::create_dir(&bundle_dir).unwrap();
    let ca = write_component(&bundle_dir, "my_ca.wasm", bundled("ca"));
    let manifest = write_manifest(
        &bundle_dir,
        &format!(
            "- {{name: my-ca, replaces: ca, component: my_ca.wasm, sha256: {ca}, secrets: true}}\n"
        ),
    );
    let pinned = run_ok(
        certwasm()
            .args(["bundle", "push"])
            .arg(&manifest)
            .arg(format!("oci://{}/team/issuers:1.0", registry.address)),
    );
    let data = dir.path().join("data");
    {
        let server = Embedded::start_with(&data, &["--plugin-bundle", &pinned]);
        server.apply_ok(SELFSIGNED);
        server.apply_ok(&team_manifests("team-a"));
        let ready = wait_issuer(&server, "team-a", "team-issuer", "True|");
        assert!(ready.contains(&format!("sha256:{ca}")), "{ready}");
    }
    drop(registry);

    // The registry is gone; the digest is cached under the data dir.
    let server = Embedded::start_with(&data, &["--plugin-bundle", &pinned]);
    let ready = wait_issuer(&server, "team-a", "team-issuer", "True|");
    assert!(ready.contains(&format!("sha256:{ca}")), "{ready}");
    drop(server);

    // A fresh data dir has no cache: the start fails, naming the registry.
    let output = certwasm()
        .args([
            "run",
            "--api-address",
            "127.0.0.1:0",
            "--metrics-listen-address",
            "off",
        ])
        .arg("--data-dir")
        .arg(dir.path().join("fresh"))
        .args(["--plugin-bundle", &pinned])
        .output()
        .unwrap();
    assert!(!output.status.success());
    assert!(
        text(&output).contains("--plugin-bundle"),
        "{}",
        text(&output)
    );
}

/// A bundle of ten entries over the four bundled components.
fn ten_plugin_bundle(dir: &Path) -> PathBuf {
    let mut entries = String::new();
    for i in 0..10 {
        let source = BUNDLED[i % BUNDLED.len()];
        let file = format!("{}.wasm", source.name);
        let digest = write_component(dir, &file, source.wasm);
        entries.push_str(&format!(
            "- {{name: plugin-{i}, component: {file}, sha256: {digest}, secrets: true}}\n"
        ));
    }
    write_manifest(dir, &entries)
}

/// Start-up of a plugin set with a ten-plugin bundle from the compiled
/// cache (target: at most 50 ms), and a cold pull + compile from the
/// registry. Prints figures; run with
/// `cargo test -p certwasm --release --test plugin_bundles -- --ignored --nocapture bench`.
#[test]
#[ignore = "benchmark: prints figures"]
fn bench_bundle_start_up() {
    let dir = tempfile::tempdir().unwrap();
    let manifest = ten_plugin_bundle(dir.path());
    let cache = dir.path().join("compiled");
    let started = Instant::now();
    plugin_set(&cache).add_bundle(&manifest, false).unwrap();
    println!(
        "10-plugin bundle, cold compile (4 distinct components): {:.1} ms",
        started.elapsed().as_secs_f64() * 1e3
    );
    let mut warm = Vec::new();
    for _ in 0..10 {
        let started = Instant::now();
        let plugins = plugin_set(&cache);
        plugins.add_bundle(&manifest, false).unwrap();
        warm.push(started.elapsed().as_secs_f64() * 1e3);
        assert!(plugins.resolve("plugin-9", None).is_ok());
    }
    warm.sort_by(f64::total_cmp);
    println!(
        "10-plugin bundle from the compiled cache (engine included): median {:.1} ms, min {:.1} ms, max {:.1} ms over {} starts",
        warm[warm.len() / 2],
        warm[0],
        warm[warm.len() - 1],
        warm.len()
    );

    let registry = start_registry(&dir.path().join("registry"), "");
    let pinned = run_ok(
        certwasm()
            .args(["bundle", "push"])
            .arg(&manifest)
            .arg(format!("oci://{}/bench/issuers:1.0", registry.address)),
    );
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    let started = Instant::now();
    let path = runtime
        .block_on(oci::pull_cached(
            &pinned,
            &dir.path().join("cold/bundles"),
            &RegistryOptions::default(),
        ))
        .unwrap();
    let pulled = started.elapsed();
    plugin_set(&dir.path().join("cold/compiled"))
        .add_bundle(&path, false)
        .unwrap();
    println!(
        "cold pull + compile of the 10-plugin bundle from a loopback registry: {:.1} ms (pull {:.1} ms)",
        started.elapsed().as_secs_f64() * 1e3,
        pulled.as_secs_f64() * 1e3
    );
}

/// Builds the third-party CFSSL plugin as its author would
/// (`examples/plugins/cfssl/README.md`), into the directory the test
/// crate's build script uses for guests, so a built copy is reused.
fn build_cfssl_plugin() -> PathBuf {
    let workspace = Path::new(env!("CARGO_MANIFEST_DIR")).parent().unwrap();
    let target = workspace.join("target").join("guests");
    let cargo = std::env::var_os("CARGO").unwrap_or_else(|| "cargo".into());
    let output = Command::new(cargo)
        .current_dir(workspace)
        .env_remove("CARGO_TARGET_DIR")
        .args([
            "build",
            "--target",
            "wasm32-wasip2",
            "--profile",
            "plugin",
            "-p",
            "certwasm-plugin-cfssl",
            "--target-dir",
        ])
        .arg(&target)
        .output()
        .unwrap();
    assert!(
        output.status.success(),
        "building the plugin: {}",
        text(&output)
    );
    target.join("wasm32-wasip2/plugin/certwasm_plugin_cfssl.wasm")
}

/// The story a third party follows, end to end with real peers: the author
/// builds the CFSSL plugin with cargo; the operator adds it to a bundle with
/// its grants and pushes the bundle to a registry (Debian
/// `docker-registry`); `certwasm run --plugin-bundle oci://…@sha256:…`
/// serves an Issuer naming it in `spec.plugin`, and the Certificate is
/// signed by a real `cfssl serve`, its chain verified against CFSSL's CA.
#[test]
fn a_third_party_plugin_pushed_to_a_registry_issues_through_cfssl() {
    let dir = tempfile::tempdir().unwrap();
    let cache = dir.path().join("cache");

    // 1. The author builds the component.
    let built = build_cfssl_plugin();
    let bundle_dir = dir.path().join("bundle");
    std::fs::create_dir(&bundle_dir).unwrap();
    let component = bundle_dir.join("cfssl.wasm");
    std::fs::copy(&built, &component).unwrap();

    // 2. The operator adds it to a bundle with its grants.
    let manifest = bundle_dir.join("plugins.yaml");
    run_ok(
        certwasm()
            .args(["bundle", "add"])
            .arg(&manifest)
            .arg(&component)
            .args(["--name", "cfssl", "--allow-host", "127.0.0.1"])
            .args(["--memory", "32Mi", "--timeout", "5s", "--cache-dir"])
            .arg(&cache),
    );
    let digest = sha256_hex(&std::fs::read(&component).unwrap());
    let inspect = run_ok(
        certwasm()
            .args(["bundle", "inspect"])
            .arg(&manifest)
            .arg("--cache-dir")
            .arg(&cache),
    );
    assert!(
        inspect.contains("cfssl") && inspect.contains(&digest[..12]),
        "{inspect}"
    );

    // 3. ... pushes it, and gets the pinned reference.
    let registry = start_registry(&dir.path().join("registry"), "");
    let pinned = run_ok(
        certwasm()
            .args(["bundle", "push"])
            .arg(&manifest)
            .arg(format!("oci://{}/team/issuers:1.0", registry.address)),
    );
    assert!(
        pinned.starts_with(&format!("oci://{}/team/issuers@sha256:", registry.address)),
        "{pinned}"
    );

    // 4. certwasm run with the pinned bundle; an Issuer names the plugin.
    let cfssl = Cfssl::start(false);
    let server = Embedded::start_with(&dir.path().join("data"), &["--plugin-bundle", &pinned]);
    server.apply_ok(&format!(
        "apiVersion: cert-manager.io/v1
kind: Issuer
metadata: {{name: cfssl, namespace: default}}
spec:
  plugin:
    name: cfssl
    config: {{url: \"{}\", profile: server}}
---
apiVersion: cert-manager.io/v1
kind: Certificate
metadata: {{name: web, namespace: default}}
spec:
  secretName: web-tls
  dnsNames: [web.example.com]
  issuerRef: {{name: cfssl, kind: Issuer}}
",
        cfssl.url()
    ));
    let ready = wait_issuer(&server, "default", "cfssl", "True|");
    assert!(
        ready.contains("(plugin cfssl ") && ready.contains(&format!("sha256:{digest})")),
        "{ready}"
    );
    server.wait_ready("web");
    let chain = server.jsonpath("secret", "web-tls", ".data.tls\\.crt");
    let chain =
        base64::Engine::decode(&base64::engine::general_purpose::STANDARD, chain.trim()).unwrap();
    let ca_pem = std::fs::read(cfssl.ca_pem_path()).unwrap();
    let verified = openssl_verify(dir.path(), &ca_pem, &chain);
    assert!(verified.contains(": OK"), "{verified}\n{}", cfssl.log());
}
