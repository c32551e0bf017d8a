//! The plugin templates (`templates/plugin/{rust,js,python}`) as a plugin
//! author uses them: a fresh project made by `certwasm plugin new`, built
//! with the template's own build command, its native unit tests run, then
//! `certwasm plugin test` with a CA that `openssl` made, the issued
//! certificate checked with `openssl verify`, and `certwasm plugin
//! conformance`, which must find no failing row. A Secret that holds no CA,
//! and a host error (a Secret with no key), must come back as the plugin's
//! own error (the language's error mapping), not as a trap.
//!
//! The toolchains (the wasm32-wasip2 target, componentize-js in
//! `.tools/node`, componentize-py and asn1crypto in `.tools/py`) come from
//! `scripts/setup`. Without them the tests say so and pass, except under
//! `CI`, where they fail.

// Test code: a failed unwrap is a failed test.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::Arc;
use std::time::{Duration, Instant};

use certwasm::pki::{self, CsrSpec, KeyAlgorithm, PrivateKey, Subject};
use certwasm::plugin::bindings::types::{
    CertificateRequest, IssueOutcome, IssuerConfig, IssuerKind,
};
use certwasm::plugin::secrets::{MemorySecrets, SecretData};
use certwasm::plugin::{CallEffects, CallLimits, IssueCall, Plugin, PluginEngine};
use clap::Parser as _;

/// The name the projects are made with: the `-` checks that `{{module}}`
/// differs from `{{name}}` where it must.
const NAME: &str = "test-ca";
const WIT_PACKAGE: &str = "certwasm:issuer@0.4.0";

fn workspace() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .parent()
        .expect("tests/ lives in the workspace")
        .to_path_buf()
}

fn tools() -> PathBuf {
    workspace().join(".tools")
}

/// Makes project `name` in `dir` as an author would: `certwasm plugin new
/// NAME --lang LANG --dir DIR`, a Rust project depending on this
/// workspace's SDK.
fn scaffold(lang: &str, name: &str, dir: &Path) {
    let sdk = workspace().join("plugins/sdk");
    let cli = certwasm::cli::Cli::try_parse_from([
        "certwasm",
        "plugin",
        "new",
        name,
        "--lang",
        lang,
        "--dir",
        dir.to_str().unwrap(),
        "--sdk",
        sdk.to_str().unwrap(),
    ])
    .unwrap();
    assert_eq!(certwasm::cli::run(cli).unwrap(), 0, "plugin new fails");
}

/// Whether `program args` runs and succeeds (saying why not, if not).
fn runs(program: impl AsRef<std::ffi::OsStr>, args: &[&str]) -> bool {
    match Command::new(program.as_ref()).args(args).output() {
        Ok(output) if output.status.success() => true,
        Ok(output) => {
            eprintln!(
                "{:?} {args:?}: {}",
                program.as_ref(),
                String::from_utf8_lossy(&output.stderr)
            );
            false
        }
        Err(e) => {
            eprintln!("{:?}: {e}", program.as_ref());
            false
        }
    }
}

/// Whether the toolchain is there; when it is not, panics under `CI` and
/// otherwise says why the test does nothing.
fn toolchain_ready(lang: &str, missing: Option<String>) -> bool {
    let Some(missing) = missing else {
        return true;
    };
    let message = format!("the {lang} plugin template test needs {missing} (run scripts/setup)");
    let ci = std::env::var("CI").is_ok_and(|v| !v.is_empty() && v != "false");
    assert!(!ci, "{message}");
    eprintln!("SKIPPED: {message}");
    false
}

/// Runs a command in `dir`, failing the test with its output if it fails.
fn run_in(dir: &Path, command: &mut Command, what: &str) {
    let output = command.current_dir(dir).output().unwrap_or_else(|e| {
        panic!("{what}: cannot start {:?}: {e}", command.get_program());
    });
    assert!(
        output.status.success(),
        "{what} failed:\n{}{}",
        String::from_utf8_lossy(&output.stdout),
        String::from_utf8_lossy(&output.stderr)
    );
}

fn openssl(dir: &Path, args: &[&str]) -> String {
    let output = Command::new("openssl")
        .args(args)
        .current_dir(dir)
        .output()
        .unwrap();
    let text = format!(
        "{}{}",
        String::from_utf8_lossy(&output.stdout),
        String::from_utf8_lossy(&output.stderr)
    );
    assert!(output.status.success(), "openssl {args:?} failed:\n{text}");
    text
}

/// A certificate and key made by `openssl req -x509` in `dir`
/// (`<name>.crt`, `<name>.key`), with the given basic constraints.
fn make_certificate(dir: &Path, name: &str, constraints: &str) -> (String, String) {
    openssl(
        dir,
        &[
            "req",
            "-x509",
            "-newkey",
            "ec",
            "-pkeyopt",
            "ec_paramgen_curve:P-256",
            "-nodes",
            "-keyout",
            &format!("{name}.key"),
            "-out",
            &format!("{name}.crt"),
            "-subj",
            &format!("/CN={name}"),
            "-days",
            "30",
            "-addext",
            constraints,
        ],
    );
    let read = |file: String| std::fs::read_to_string(dir.join(file)).unwrap();
    (read(format!("{name}.crt")), read(format!("{name}.key")))
}

/// A `kubernetes.io/tls` Secret manifest holding `crt` and `key`.
fn secret_yaml(name: &str, crt: &str, key: &str) -> String {
    let block = |pem: &str| {
        pem.lines()
            .map(|line| format!("    {line}\n"))
            .collect::<String>()
    };
    format!(
        "apiVersion: v1\nkind: Secret\nmetadata:\n  name: {name}\n  namespace: default\n\
         type: kubernetes.io/tls\nstringData:\n  tls.crt: |\n{}  tls.key: |\n{}",
        block(crt),
        block(key)
    )
}

/// The Issuer of the template's `issuer.yaml`, as the host hands it over.
fn issuer_config() -> IssuerConfig {
    IssuerConfig {
        kind: IssuerKind::Issuer,
        name: NAME.into(),
        namespace: "default".into(),
        spec_json: serde_json::json!({
            "plugin": {"name": NAME, "config": {"caSecretRef": {"name": format!("{NAME}-ca")}}}
        })
        .to_string(),
    }
}

/// Issues with the built project's component through `certwasm plugin
/// test` and checks the result with openssl, then checks that a Secret
/// with no CA is the plugin's error.
fn issue_through_template(project: &Path, work: &Path, wasm: &Path) {
    // The template's sample Issuer, as the user would run it: it names the
    // Secret `<name>-ca`.
    let issuer = project.join("issuer.yaml");
    let issuer_text = std::fs::read_to_string(&issuer).unwrap();
    assert!(
        issuer_text.contains(&format!("name: {NAME}-ca")),
        "{issuer_text}"
    );
    let (ca_crt, ca_key) = make_certificate(work, "ca", "basicConstraints=critical,CA:TRUE");
    let secret = work.join("ca-secret.yaml");
    std::fs::write(
        &secret,
        secret_yaml(&format!("{NAME}-ca"), &ca_crt, &ca_key),
    )
    .unwrap();

    let cache = work.join("cache");
    let path = |p: &Path| p.to_str().unwrap().to_owned();
    let out = work.join("out");
    let cli = certwasm::cli::Cli::try_parse_from([
        "certwasm",
        "plugin",
        "test",
        "--plugin",
        &path(wasm),
        "--issuer",
        &path(&issuer),
        "--secret",
        &path(&secret),
        "--dns-name",
        "example.com",
        "--dns-name",
        "www.example.com",
        "--ip-address",
        "127.0.0.1",
        "--out",
        &path(&out),
        "--cache-dir",
        &path(&cache),
    ])
    .unwrap();
    assert_eq!(certwasm::cli::run(cli).unwrap(), 0, "plugin test fails");

    // The conformance battery, as an author would run it before shipping:
    // no failing row (a warning, e.g. a duration capped at the CA's end,
    // is cert-manager's own behaviour).
    let conformance = certwasm::cli::Cli::try_parse_from([
        "certwasm",
        "plugin",
        "conformance",
        &path(wasm),
        "--issuer",
        &path(&issuer),
        "--secret",
        &path(&secret),
        "--output",
        "json",
        "--cache-dir",
        &path(&cache),
    ])
    .unwrap();
    let certwasm::cli::Command::Plugin(certwasm::cli::PluginCommand::Conformance(args)) =
        conformance.command
    else {
        panic!("not the conformance command");
    };
    let report = certwasm::cli::plugin_conformance::conform(&args).unwrap();
    assert!(
        report.passed,
        "plugin conformance found a failing row:\n{}",
        serde_json::to_string_pretty(&report).unwrap()
    );

    let verified = openssl(work, &["verify", "-CAfile", "ca.crt", "out/tls.crt"]);
    assert!(verified.contains("out/tls.crt: OK"), "{verified}");
    let text = openssl(work, &["x509", "-noout", "-text", "-in", "out/tls.crt"]);
    assert!(
        text.contains("DNS:example.com, DNS:www.example.com, IP Address:127.0.0.1"),
        "{text}"
    );
    assert!(text.contains("Issuer: CN = ca"), "{text}");
    assert_eq!(
        std::fs::read_to_string(out.join("ca.crt")).unwrap().trim(),
        ca_crt.trim(),
        "ca.crt is the CA"
    );

    // A Secret whose certificate is no CA: the plugin's error, worded as
    // the template words it, and final. (The compiled code is in the cache
    // now, so this load is quick.)
    let (leaf_crt, leaf_key) = make_certificate(work, "leaf", "basicConstraints=critical,CA:FALSE");
    let secrets = Arc::new(MemorySecrets::default());
    secrets.insert(
        "default",
        &format!("{NAME}-ca"),
        SecretData::from([
            ("tls.crt".to_owned(), leaf_crt.into_bytes()),
            ("tls.key".to_owned(), leaf_key.into_bytes()),
        ]),
    );
    let effects = CallEffects {
        secrets,
        ..CallEffects::default()
    };
    let engine = PluginEngine::new(Some(cache)).unwrap();
    let (plugin, _) = Plugin::load(&engine, NAME, &std::fs::read(wasm).unwrap()).unwrap();
    assert_eq!(plugin.info().name, NAME);
    let error = plugin
        .validate(&issuer_config(), &effects, &CallLimits::default())
        .expect("the call completes: an error, not a trap")
        .expect_err("a certificate that is no CA is refused");
    assert_eq!(error.reason, "ErrInvalidKeyPair");
    assert_eq!(
        error.message,
        format!("Invalid CA in Secret {NAME}-ca: tls.crt is not a CA certificate")
    );
    assert!(!error.retryable);

    // No tls.key: the host's `not-found` from `signer.load`, caught in the
    // language's way and turned into the plugin's error with the host's
    // sentence after its own words; final, as only `unavailable` is not.
    let secrets = Arc::new(MemorySecrets::default());
    secrets.insert(
        "default",
        &format!("{NAME}-ca"),
        SecretData::from([("tls.crt".to_owned(), ca_crt.into_bytes())]),
    );
    let effects = CallEffects {
        secrets,
        ..CallEffects::default()
    };
    let error = plugin
        .validate(&issuer_config(), &effects, &CallLimits::default())
        .expect("the call completes: an error, not a trap")
        .expect_err("a Secret with no key is refused");
    assert_eq!(error.reason, "ErrGetKeyPair");
    let prefix = format!("Failed to load the CA key from Secret {NAME}-ca: ");
    assert!(
        error.message.len() > prefix.len() && error.message.starts_with(&prefix),
        "{}",
        error.message
    );
    assert!(!error.retryable);
}

/// What is missing to build `lang`'s template, if anything.
fn missing_toolchain(lang: &str) -> Option<String> {
    let bin = tools().join("py/bin");
    let modules = tools().join("node/node_modules");
    match lang {
        "js" if !runs("node", &["--version"]) || !runs("npm", &["--version"]) => {
            Some("node and npm".to_owned())
        }
        "js" if !modules
            .join("@bytecodealliance/componentize-js/package.json")
            .exists() =>
        {
            Some(format!("componentize-js in {}", modules.display()))
        }
        "rust" if !runs("rustup", &["target", "list", "--installed"]) => Some("rustup".to_owned()),
        "rust"
            if !Command::new("rustup")
                .args(["target", "list", "--installed"])
                .output()
                .is_ok_and(|out| {
                    String::from_utf8_lossy(&out.stdout).contains("wasm32-wasip2")
                }) =>
        {
            Some("the wasm32-wasip2 target".to_owned())
        }
        "python" if !bin.join("componentize-py").exists() => {
            Some(format!("componentize-py in {}", bin.display()))
        }
        "python" if !runs(bin.join("python"), &["-c", "import asn1crypto"]) => {
            Some(format!("asn1crypto for {}", bin.join("python").display()))
        }
        _ => None,
    }
}

/// Renders `lang`'s template as project `NAME` in `work`, builds it with
/// the template's own build command and, if `unit_tests`, runs its native
/// unit tests. Returns the component's path, or none (with a message)
/// when the toolchain is missing outside CI.
fn build_project(lang: &str, work: &Path, unit_tests: bool) -> Option<PathBuf> {
    let label = match lang {
        "rust" => "Rust",
        "js" => "JavaScript",
        _ => "Python",
    };
    if !toolchain_ready(label, missing_toolchain(lang)) {
        return None;
    }
    let project = work.join(NAME);
    scaffold(lang, NAME, &project);
    // The virtualenv first on PATH, as an activated one would have it.
    let path = format!(
        "{}:{}",
        tools().join("py/bin").display(),
        std::env::var("PATH").unwrap_or_default()
    );
    if lang == "rust" {
        // The workspace's lock file, so that the project builds with the
        // crate versions already fetched (offline once setup has run), and
        // one target directory for every run of this test.
        std::fs::copy(workspace().join("Cargo.lock"), project.join("Cargo.lock")).unwrap();
        let cargo = |args: &[&str]| {
            let mut command = Command::new(if args.is_empty() {
                "./build.sh"
            } else {
                "cargo"
            });
            command.args(args).env(
                "CARGO_TARGET_DIR",
                workspace().join("target/plugin-templates"),
            );
            // The outer test run's settings are not the project's.
            for var in [
                "RUSTC_WRAPPER",
                "RUSTC_WORKSPACE_WRAPPER",
                "CARGO_ENCODED_RUSTFLAGS",
                "RUSTFLAGS",
                "CARGO_BUILD_TARGET",
                "CARGO_MAKEFLAGS",
            ] {
                command.env_remove(var);
            }
            command
        };
        run_in(&project, &mut cargo(&[]), "./build.sh");
        if unit_tests {
            run_in(&project, &mut cargo(&["test"]), "cargo test");
        }
    } else if lang == "js" {
        // What `npm install` would fetch, from the copy scripts/setup made.
        std::os::unix::fs::symlink(
            tools().join("node/node_modules"),
            project.join("node_modules"),
        )
        .unwrap();
        let npm = |script: &str| {
            let mut command = Command::new("npm");
            command
                .args(["run", script])
                .env("npm_config_update_notifier", "false")
                .env("npm_config_offline", "true");
            command
        };
        run_in(&project, &mut npm("build"), "npm run build");
        if unit_tests {
            run_in(&project, &mut npm("test"), "npm test");
        }
    } else {
        run_in(
            &project,
            Command::new(project.join("build.sh")).env("PATH", &path),
            "./build.sh",
        );
        if unit_tests {
            run_in(
                &project,
                Command::new(tools().join("py/bin/python"))
                    .args(["-m", "unittest", "-v"])
                    .env("PATH", &path),
                "python -m unittest",
            );
        }
    }
    Some(project.join(format!("{NAME}.wasm")))
}

#[test]
fn rust_template_issues_a_certificate() {
    let work = tempfile::tempdir().unwrap();
    if let Some(wasm) = build_project("rust", work.path(), true) {
        issue_through_template(&work.path().join(NAME), work.path(), &wasm);
    }
}

#[test]
fn javascript_template_issues_a_certificate() {
    let work = tempfile::tempdir().unwrap();
    if let Some(wasm) = build_project("js", work.path(), true) {
        issue_through_template(&work.path().join(NAME), work.path(), &wasm);
    }
}

#[test]
fn python_template_issues_a_certificate() {
    let work = tempfile::tempdir().unwrap();
    if let Some(wasm) = build_project("python", work.path(), true) {
        issue_through_template(&work.path().join(NAME), work.path(), &wasm);
    }
}

fn median(mut samples: Vec<Duration>) -> Duration {
    samples.sort();
    samples[samples.len() / 2]
}

/// Each template's component: its size, the first load with an empty
/// cache (compiling it), a load from the cache, and the medians of 50
/// `validate` and `issue` calls in one process (a fresh instance per call,
/// as the controllers make them; `issue` includes the host's signature).
/// `cargo test -p certwasm-tests --test plugin_templates -- --ignored --nocapture`
#[test]
#[ignore = "benchmark: prints figures"]
fn benchmark_template_plugins() {
    const CALLS: usize = 50;
    for lang in ["rust", "js", "python"] {
        let work = tempfile::tempdir().unwrap();
        let Some(wasm) = build_project(lang, work.path(), false) else {
            continue;
        };
        let bytes = std::fs::read(&wasm).unwrap();
        let cache = work.path().join("cache");
        let started = Instant::now();
        let engine = PluginEngine::new(Some(cache.clone())).unwrap();
        Plugin::load(&engine, NAME, &bytes).unwrap();
        let cold = started.elapsed();
        let started = Instant::now();
        let engine = PluginEngine::new(Some(cache)).unwrap();
        let (plugin, _) = Plugin::load(&engine, NAME, &bytes).unwrap();
        let warm = started.elapsed();

        let (ca_crt, ca_key) =
            make_certificate(work.path(), "ca", "basicConstraints=critical,CA:TRUE");
        let secrets = Arc::new(MemorySecrets::default());
        secrets.insert(
            "default",
            &format!("{NAME}-ca"),
            SecretData::from([
                ("tls.crt".to_owned(), ca_crt.into_bytes()),
                ("tls.key".to_owned(), ca_key.into_bytes()),
            ]),
        );
        let effects = CallEffects {
            secrets,
            ..CallEffects::default()
        };
        let key = PrivateKey::generate(KeyAlgorithm::EcdsaP256).unwrap();
        let csr_pem = pki::build_csr(
            &CsrSpec {
                common_name: Some("example.com".into()),
                literal_subject: None,
                subject: Subject::default(),
                dns_names: vec!["example.com".into()],
                ip_addresses: Vec::new(),
                uris: Vec::new(),
                email_addresses: Vec::new(),
                usages: Vec::new(),
                is_ca: false,
                encode_usages_in_request: true,
            },
            &key,
        )
        .unwrap();
        let call = || IssueCall {
            request: CertificateRequest {
                name: "bench-1".into(),
                namespace: "default".into(),
                csr_pem: csr_pem.clone(),
                duration_seconds: None,
                is_ca: false,
                usages: Vec::new(),
                issuer: issuer_config(),
                request_key: None,
                annotations: Vec::new(),
            },
            request_key: None,
            state: None,
            presented_challenges: Vec::new(),
        };
        let validations: Vec<Duration> = (0..CALLS)
            .map(|_| {
                let started = Instant::now();
                let outcome = plugin
                    .validate(&issuer_config(), &effects, &CallLimits::default())
                    .unwrap();
                let took = started.elapsed();
                assert!(outcome.is_ok(), "{outcome:?}");
                took
            })
            .collect();
        let mut peak_memory = 0;
        let calls: Vec<Duration> = (0..=CALLS)
            .map(|_| {
                let started = Instant::now();
                let (outcome, stats) = plugin
                    .issue_measured(call(), &effects, &CallLimits::default())
                    .unwrap();
                let took = started.elapsed();
                assert!(matches!(outcome, IssueOutcome::Issued(_)), "{outcome:?}");
                peak_memory = peak_memory.max(stats.peak_memory_bytes);
                took
            })
            .collect();
        let ms = |d: Duration| d.as_secs_f64() * 1e3;
        let mib = |n: usize| n as f64 / (1024.0 * 1024.0);
        println!(
            "{lang} template: component {:.1} MiB; cold load (compile) {:.0} ms; \
             warm load (cache) {:.1} ms; medians of {CALLS}: issue {:.2} ms (after a first \
             call of {:.2} ms), validate {:.2} ms; peak linear memory of an issue call {:.1} MiB",
            mib(bytes.len()),
            ms(cold),
            ms(warm),
            ms(median(calls[1..].to_vec())),
            ms(calls[0]),
            ms(median(validations)),
            mib(peak_memory)
        );
    }
}

/// The placeholder rules: file names and contents, `{{module}}` with `_`.
#[test]
fn scaffold_renders_names_and_contents() {
    let work = tempfile::tempdir().unwrap();
    scaffold("python", "my-ca", work.path());
    let module = work.path().join("my_ca.py");
    assert!(module.exists(), "{{{{module}}}}.py becomes my_ca.py");
    let app = std::fs::read_to_string(work.path().join("app.py")).unwrap();
    assert!(app.contains("import my_ca as logic"), "{app}");
    assert!(app.contains("name=\"my-ca\""), "{app}");
    let mut leftovers = Vec::new();
    for lang in ["js", "python"] {
        let dir = work.path().join(lang);
        scaffold(lang, "my-ca", &dir);
        let mut pending = vec![dir];
        while let Some(folder) = pending.pop() {
            for entry in std::fs::read_dir(&folder).unwrap() {
                let path = entry.unwrap().path();
                if path.is_dir() {
                    pending.push(path);
                } else if std::fs::read_to_string(&path).unwrap().contains("{{") {
                    leftovers.push(path.display().to_string());
                }
            }
        }
    }
    assert!(leftovers.is_empty(), "placeholders left: {leftovers:?}");
    assert!(
        std::fs::read_to_string(work.path().join("wit/issuer.wit"))
            .unwrap()
            .contains(&format!("package {WIT_PACKAGE};"))
    );
}
