//! DNS-01 through RFC 2136 against real servers: BIND (`named`, Debian
//! `bind9`) serves `example.com` on a loopback port and accepts updates
//! signed with a `tsig-keygen` key; Pebble validates DNS-01 against that
//! BIND; `certwasm run` self-checks through it (`--dns-nameservers`). An
//! Issuer with a `dns01.rfc2136` solver and a Certificate with a wildcard
//! must become Ready with a chain that verifies against Pebble's root, and
//! the TXT records must be gone afterwards.

// Test code: a failed unwrap is a failed test.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use std::path::Path;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use base64::Engine as _;
use common::pebble::{Killed, Pebble, free_port};
use common::{Embedded, openssl_verify, text};

const KEY_NAME: &str = "certwasm-key";

/// BIND on a free loopback port, authoritative for `example.com`.
struct Bind {
    _named: Killed,
    dir: std::path::PathBuf,
    port: u16,
    secret: String,
}

impl Bind {
    fn start(dir: &Path) -> Bind {
        assert!(
            Path::new("/usr/sbin/named").exists(),
            "named not found: run scripts/setup (it installs Debian's bind9)"
        );
        let dir = dir.join("bind");
        std::fs::create_dir_all(&dir).unwrap();
        let keygen = Command::new("tsig-keygen")
            .args(["-a", "hmac-sha256", KEY_NAME])
            .output()
            .expect("tsig-keygen runs (bind9-utils)");
        assert!(keygen.status.success(), "{}", text(&keygen));
        let key_conf = String::from_utf8(keygen.stdout).unwrap();
        let secret = key_conf
            .split('"')
            .nth(3)
            .expect("tsig-keygen prints the secret")
            .to_owned();
        std::fs::write(
            dir.join("example.com.zone"),
            "$TTL 60
@ IN SOA ns.example.com. admin.example.com. 1 60 60 600 60
@ IN NS ns.example.com.
@ IN A 127.0.0.1
ns IN A 127.0.0.1
* IN A 127.0.0.1
",
        )
        .unwrap();
        let port = free_port();
        let d = dir.display();
        std::fs::write(
            dir.join("named.conf"),
            format!(
                "options {{
  directory \"{d}\";
  pid-file \"{d}/named.pid\";
  session-keyfile \"{d}/session.key\";
  managed-keys-directory \"{d}\";
  listen-on port {port} {{ 127.0.0.1; }};
  listen-on-v6 {{ none; }};
  recursion no;
  dnssec-validation no;
  allow-query {{ any; }};
}};
controls {{ }};
{key_conf}
zone \"example.com\" {{
  type primary;
  file \"{d}/example.com.zone\";
  update-policy {{ grant {KEY_NAME} zonesub TXT; }};
}};
"
            ),
        )
        .unwrap();
        let log = std::fs::File::create(dir.join("named.log")).unwrap();
        let named = Command::new("/usr/sbin/named")
            .arg("-g")
            .arg("-c")
            .arg(dir.join("named.conf"))
            .stdin(Stdio::null())
            .stdout(log.try_clone().unwrap())
            .stderr(log)
            .spawn()
            .expect("named starts");
        let bind = Bind {
            _named: Killed(named),
            dir: dir.clone(),
            port,
            secret,
        };
        let deadline = Instant::now() + Duration::from_secs(30);
        while !bind.dig("SOA", "example.com").contains("ns.example.com.") {
            assert!(
                Instant::now() < deadline,
                "named did not start: {}",
                std::fs::read_to_string(dir.join("named.log")).unwrap_or_default()
            );
            std::thread::sleep(Duration::from_millis(100));
        }
        bind
    }

    /// `dig +short` of one record at this BIND.
    fn dig(&self, kind: &str, name: &str) -> String {
        let output = Command::new("dig")
            .args([
                "@127.0.0.1",
                "-p",
                &self.port.to_string(),
                "+short",
                "+time=1",
                "+tries=1",
                kind,
                name,
            ])
            .output()
            .expect("dig runs (bind9-dnsutils)");
        String::from_utf8_lossy(&output.stdout).into_owned()
    }
}

#[test]
fn dns01_rfc2136_issues_a_wildcard_through_bind_and_removes_the_records() {
    let dir = tempfile::tempdir().unwrap();
    let bind = Bind::start(dir.path());
    let pebble = Pebble::start_with_dns(dir.path(), free_port(), 5, Some(bind.port));
    let data = dir.path().join("data");
    std::fs::create_dir_all(&data).unwrap();
    let nameserver = format!("127.0.0.1:{}", bind.port);
    let api = Embedded::start_with(&data, &["--dns-nameservers", &nameserver]);

    api.kubectl_ok(&[
        "create",
        "secret",
        "generic",
        "tsig",
        "--namespace",
        "default",
        &format!("--from-literal=tsig-secret-key={}", bind.secret),
    ]);
    let ca_bundle = base64::engine::general_purpose::STANDARD
        .encode(std::fs::read(&pebble.serving_ca).unwrap());
    api.apply_ok(&format!(
        "apiVersion: cert-manager.io/v1
kind: Issuer
metadata:
  name: pebble-dns
  namespace: default
spec:
  acme:
    server: {}
    email: user@example.com
    caBundle: {ca_bundle}
    privateKeySecretRef:
      name: pebble-dns-account
    solvers:
    - dns01:
        rfc2136:
          nameserver: {nameserver}
          tsigKeyName: {KEY_NAME}
          tsigAlgorithm: HMACSHA256
          tsigSecretSecretRef:
            name: tsig
            key: tsig-secret-key
---
apiVersion: cert-manager.io/v1
kind: Certificate
metadata:
  name: wild
  namespace: default
spec:
  secretName: wild-tls
  dnsNames: [example.com, '*.example.com', www.example.com]
  issuerRef:
    name: pebble-dns
",
        pebble.directory
    ));
    api.wait_ready("wild");
    let chain = base64::engine::general_purpose::STANDARD
        .decode(api.jsonpath("secret", "wild-tls", ".data.tls\\.crt").trim())
        .unwrap();
    let verified = openssl_verify(dir.path(), &pebble.root(), &chain);
    assert!(verified.contains(": OK"), "{verified}");
    let leaf = Command::new("openssl")
        .args(["x509", "-noout", "-ext", "subjectAltName"])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .spawn()
        .and_then(|mut child| {
            use std::io::Write as _;
            child.stdin.take().unwrap().write_all(&chain)?;
            child.wait_with_output()
        })
        .unwrap();
    assert!(text(&leaf).contains("DNS:*.example.com"), "{}", text(&leaf));

    // The challenges were presented with DNS-01, and their records are gone.
    let events = api.kubectl_ok(&["get", "events", "-o", "wide"]);
    assert!(
        events.contains("Presented challenge using DNS-01 challenge mechanism"),
        "{events}"
    );
    // BIND saw TSIG-signed updates add and delete the records.
    let log = std::fs::read_to_string(bind.dir.join("named.log")).unwrap();
    for expected in [
        "/key certwasm-key: updating zone 'example.com/IN': adding an RR at '_acme-challenge.example.com' TXT",
        "/key certwasm-key: updating zone 'example.com/IN': adding an RR at '_acme-challenge.www.example.com' TXT",
        "/key certwasm-key: updating zone 'example.com/IN': deleting an RR at _acme-challenge.example.com TXT",
    ] {
        assert!(log.contains(expected), "{expected}: {log}");
    }
    for name in [
        "_acme-challenge.example.com",
        "_acme-challenge.www.example.com",
    ] {
        let deadline = Instant::now() + Duration::from_secs(20);
        loop {
            let txt = bind.dig("TXT", name);
            if txt.trim().is_empty() {
                break;
            }
            assert!(Instant::now() < deadline, "{name} still has {txt}");
            std::thread::sleep(Duration::from_millis(200));
        }
    }
}
