//! The Venafi issuer end to end against the local Venafi server
//! (`tests/peers/venafi/server.py`: TPP's WebSDK and Venafi Cloud's API
//! with vcert's shapes, signing with a CA it makes at start, over HTTPS).
//! `certwasm run` runs as a process (so it can be killed with SIGKILL);
//! Issuers and Certificates are applied with the real kubectl; leaves are
//! checked with `openssl verify` against the server's root.
//!
//! TPP trusts the server through `caBundle` / `caBundleSecretRef`; Venafi
//! Cloud has no CA bundle field in cert-manager's API, so the process gets
//! the server's root as its system roots (`SSL_CERT_FILE`).

// Test code: a failed unwrap is a failed test.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use std::io::{Read, Write};
use std::net::TcpStream;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use base64::Engine as _;
use common::{Embedded, text};
use serde_json::{Value, json};

/// The local Venafi server; killed on drop.
struct Venafi {
    child: Child,
    api: String,
    control: String,
    ca: PathBuf,
}

impl Venafi {
    fn start(dir: &Path, args: &[&str]) -> Venafi {
        let script = Path::new(env!("CARGO_MANIFEST_DIR")).join("../tests/peers/venafi/server.py");
        let state = dir.join("venafi");
        let child = Command::new("python3")
            .arg(script)
            .arg("--state-dir")
            .arg(&state)
            .args([
                "--password",
                "hunter2",
                "--access-token",
                "static-token",
                "--api-key",
                "cloud-key",
                "--zones",
                "devops\\certwasm",
                "--cloud-zones",
                "certwasm\\Default",
                "--max-seconds",
                "900",
            ])
            .args(args)
            .stdout(Stdio::null())
            .spawn()
            .expect("python3 runs");
        let ready = state.join("ready.json");
        let deadline = Instant::now() + Duration::from_secs(60);
        while !ready.exists() {
            assert!(Instant::now() < deadline, "the Venafi server did not start");
            std::thread::sleep(Duration::from_millis(100));
        }
        let info: Value = serde_json::from_slice(&std::fs::read(&ready).unwrap()).unwrap();
        Venafi {
            child,
            api: info["api"].as_str().unwrap().to_owned(),
            control: info["control"].as_str().unwrap().to_owned(),
            ca: PathBuf::from(info["ca"].as_str().unwrap()),
        }
    }

    fn ca_pem(&self) -> String {
        std::fs::read_to_string(&self.ca).unwrap()
    }

    /// One plain-HTTP call to the control port.
    fn control(&self, method: &str, path: &str, body: &Value) -> Value {
        let address = self
            .control
            .trim_start_matches("http://")
            .trim_end_matches('/');
        let mut stream = TcpStream::connect(address).unwrap();
        let body = body.to_string();
        write!(
            stream,
            "{method} {path} HTTP/1.1\r\nHost: {address}\r\nContent-Type: application/json\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{body}",
            body.len()
        )
        .unwrap();
        let mut answer = String::new();
        stream.read_to_string(&mut answer).unwrap();
        let (_, json) = answer.split_once("\r\n\r\n").unwrap();
        serde_json::from_str(json).unwrap()
    }

    fn configure(&self, changes: Value) {
        self.control("POST", "/config", &changes);
    }

    fn stats(&self) -> Value {
        self.control("GET", "/stats", &json!({}))
    }

    fn count(&self, route: &str) -> u64 {
        self.stats()["requests"][route].as_u64().unwrap_or(0)
    }
}

impl Drop for Venafi {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn b64(text: &str) -> String {
    base64::engine::general_purpose::STANDARD.encode(text)
}

fn start_certwasm(dir: &Path, venafi: &Venafi) -> Embedded {
    Embedded::start_with_env(dir, &[], &[("SSL_CERT_FILE", &venafi.ca)])
}

/// Secrets and Issuers: TPP with a password and with a token, Cloud, and
/// three that must fail (unknown zone, unknown token, unknown template).
fn issuers(venafi: &Venafi) -> String {
    let tpp_url = format!("{}vedsdk", venafi.api);
    let ca = b64(&venafi.ca_pem());
    format!(
        r#"apiVersion: v1
kind: Secret
metadata: {{name: tpp-login, namespace: default}}
stringData: {{username: certwasm, password: hunter2}}
---
apiVersion: v1
kind: Secret
metadata: {{name: tpp-token, namespace: default}}
stringData: {{access-token: static-token}}
---
apiVersion: v1
kind: Secret
metadata: {{name: tpp-bad-token, namespace: default}}
stringData: {{access-token: not-a-token}}
---
apiVersion: v1
kind: Secret
metadata: {{name: tpp-ca, namespace: default}}
data: {{ca.crt: {ca}}}
---
apiVersion: v1
kind: Secret
metadata: {{name: cloud-key, namespace: default}}
stringData: {{api-key: cloud-key}}
---
apiVersion: cert-manager.io/v1
kind: Issuer
metadata: {{name: tpp, namespace: default}}
spec:
  venafi:
    zone: devops\certwasm
    tpp:
      url: {tpp_url}
      credentialsRef: {{name: tpp-login}}
      caBundle: {ca}
---
apiVersion: cert-manager.io/v1
kind: Issuer
metadata: {{name: tpp-token, namespace: default}}
spec:
  venafi:
    zone: devops\certwasm
    tpp:
      url: {tpp_url}
      credentialsRef: {{name: tpp-token}}
      caBundleSecretRef: {{name: tpp-ca, key: ca.crt}}
---
apiVersion: cert-manager.io/v1
kind: Issuer
metadata: {{name: cloud, namespace: default}}
spec:
  venafi:
    zone: certwasm\Default
    cloud:
      url: {api}
      apiTokenSecretRef: {{name: cloud-key, key: api-key}}
---
apiVersion: cert-manager.io/v1
kind: Issuer
metadata: {{name: tpp-bad-zone, namespace: default}}
spec:
  venafi:
    zone: devops\nowhere
    tpp:
      url: {tpp_url}
      credentialsRef: {{name: tpp-login}}
      caBundle: {ca}
---
apiVersion: cert-manager.io/v1
kind: Issuer
metadata: {{name: tpp-bad-token, namespace: default}}
spec:
  venafi:
    zone: devops\certwasm
    tpp:
      url: {tpp_url}
      credentialsRef: {{name: tpp-bad-token}}
      caBundle: {ca}
---
apiVersion: cert-manager.io/v1
kind: Issuer
metadata: {{name: cloud-bad-zone, namespace: default}}
spec:
  venafi:
    zone: certwasm\Nope
    cloud:
      url: {api}
      apiTokenSecretRef: {{name: cloud-key, key: api-key}}
"#,
        api = venafi.api,
    )
}

fn certificate(name: &str, issuer: &str) -> String {
    format!(
        r#"apiVersion: cert-manager.io/v1
kind: Certificate
metadata: {{name: {name}, namespace: default}}
spec:
  secretName: {name}-tls
  commonName: {name}.example.com
  dnsNames: [{name}.example.com]
  privateKey: {{algorithm: ECDSA}}
  issuerRef: {{name: {issuer}, kind: Issuer}}
"#
    )
}

/// The issuer's Ready condition as `status|reason|message`.
fn issuer_ready(server: &Embedded, name: &str, status: &str) -> String {
    let path = "jsonpath={.status.conditions[?(@.type==\"Ready\")].status}|{.status.conditions[?(@.type==\"Ready\")].reason}|{.status.conditions[?(@.type==\"Ready\")].message}";
    server.kubectl_until(&["get", "issuer", name, "-o", path], |out| {
        out.starts_with(&format!("{status}|"))
    })
}

/// The Secret's chain verified against the server's root: `openssl
/// verify` output, and `ca.crt` must be that root.
fn verify(server: &Embedded, venafi: &Venafi, certificate: &str) -> String {
    let field = |key: &str| {
        let encoded = server.jsonpath(
            "secret",
            &format!("{certificate}-tls"),
            &format!(".data.{}", key.replace('.', "\\.")),
        );
        String::from_utf8(
            base64::engine::general_purpose::STANDARD
                .decode(encoded.trim())
                .unwrap(),
        )
        .unwrap()
    };
    let chain = field("tls.crt");
    assert_eq!(
        chain.matches("BEGIN CERTIFICATE").count(),
        2,
        "tls.crt is leaf + issuing CA: {chain}"
    );
    assert_eq!(
        field("ca.crt").trim(),
        venafi.ca_pem().trim(),
        "ca.crt is the root"
    );
    common::openssl_verify(&server.dir, venafi.ca_pem().as_bytes(), chain.as_bytes())
}

/// The Ready condition of a CertificateRequest as `reason|message` once
/// `done` accepts it.
fn request_condition(server: &Embedded, name: &str, done: impl Fn(&str) -> bool) -> String {
    let path = "jsonpath={.status.conditions[?(@.type==\"Ready\")].reason}|{.status.conditions[?(@.type==\"Ready\")].message}";
    server.kubectl_until(&["get", "certificaterequest", name, "-o", path], done)
}

#[test]
fn tpp_and_cloud_issue_and_show_venafis_errors() {
    let dir = tempfile::tempdir().unwrap();
    let venafi = Venafi::start(dir.path(), &[]);
    let server = start_certwasm(&dir.path().join("certwasm"), &venafi);
    server.apply_ok(&issuers(&venafi));

    for name in ["tpp", "tpp-token", "cloud"] {
        assert_eq!(
            issuer_ready(&server, name, "True"),
            "True|Verified|Venafi issuer started",
            "{name}"
        );
    }
    // Venafi's own words on the issuers that cannot work.
    for (name, says) in [
        (
            "tpp-bad-zone",
            "error reading zone \"devops\\nowhere\": PolicyDN: \\VED\\Policy\\devops\\nowhere does not exist",
        ),
        (
            "tpp-bad-token",
            "client.VerifyCredentials: The access token is not valid (invalid_token)",
        ),
        (
            "cloud-bad-zone",
            "Unable to find certificate issuing template with alias Nope in application certwasm (code 10051)",
        ),
    ] {
        let ready = issuer_ready(&server, name, "False");
        assert!(
            ready.starts_with("False|ErrorSetup|Failed to setup Venafi issuer: ")
                && ready.contains(says),
            "{name}: {ready}"
        );
    }

    // A Certificate through each issuer.
    let manifests = [
        certificate("web-tpp", "tpp"),
        certificate("web-token", "tpp-token"),
        certificate("web-cloud", "cloud"),
    ]
    .join("---\n");
    server.apply_ok(&manifests);
    for name in ["web-tpp", "web-token", "web-cloud"] {
        server.wait_ready(name);
        let verdict = verify(&server, &venafi, name);
        assert!(verdict.contains(": OK"), "{name}: {verdict}");
    }
    let tpp_requests = venafi.count("POST /vedsdk/certificates/request");
    assert_eq!(tpp_requests, 2, "{}", venafi.stats());

    // TPP answers 500: Venafi's message on the request, which is retried.
    venafi.configure(json!({"fail": {
        "count": 1, "route": "certificates/request", "message": "database unavailable (simulated)"
    }}));
    // The Pending condition lasts only until the retry, which may come
    // before a poll sees it; the Warning event stays.
    server.apply_ok(&certificate("web-500", "tpp"));
    server.kubectl_until(
        &[
            "get",
            "events",
            "-o",
            "jsonpath={range .items[*]}{.involvedObject.name}|{.type}|{.reason}|{.message}{\"\\n\"}{end}",
        ],
        |out| {
            out.lines().any(|line| {
                line == "web-500-1|Warning|RequestError|Failed to request venafi certificate: database unavailable (simulated)"
            })
        },
    );
    server.wait_ready("web-500");

    // Venafi Cloud refuses a request: FAILED, with its reason, fails it.
    venafi.configure(json!({"cloud_outcome": {
        "status": "FAILED", "message": "Common name web-refused.example.com is not allowed by policy"
    }}));
    server.apply_ok(&certificate("web-refused", "cloud"));
    let condition = request_condition(&server, "web-refused-1", |out| out.starts_with("Failed|"));
    assert!(
        condition.contains("Failed to obtain venafi certificate: certificate request ")
            && condition.contains(
                "is FAILED: Common name web-refused.example.com is not allowed by policy (code 10731)"
            ),
        "{condition}"
    );
    let described = text(&server.kubectl(&["describe", "certificaterequest", "web-refused-1"]));
    assert!(described.contains("RetrieveError"), "{described}");
    venafi.configure(json!({"cloud_outcome": null}));

    // Every TPP token expires: the next request logs in again, once.
    let logins = venafi.count("POST /vedauth/authorize/oauth");
    venafi.configure(json!({"expire_tokens": true}));
    server.apply_ok(&certificate("web-relogin", "tpp"));
    server.wait_ready("web-relogin");
    let stats = venafi.stats();
    assert_eq!(
        venafi.count("POST /vedauth/authorize/oauth"),
        logins + 1,
        "{stats}"
    );
    assert_eq!(
        stats["statuses"]["POST /vedsdk/certificates/request 401"], 1,
        "{stats}"
    );
    let verdict = verify(&server, &venafi, "web-relogin");
    assert!(verdict.contains(": OK"), "{verdict}");
}

#[test]
fn a_slow_pickup_survives_sigkill_and_is_requested_once() {
    let dir = tempfile::tempdir().unwrap();
    let venafi = Venafi::start(dir.path(), &["--processing-polls", "5"]);
    let data = dir.path().join("certwasm");
    let server = start_certwasm(&data, &venafi);
    server.apply_ok(&issuers(&venafi));
    issuer_ready(&server, "tpp", "True");
    issuer_ready(&server, "cloud", "True");
    server.apply_ok(
        &[
            certificate("slow-tpp", "tpp"),
            certificate("slow-cloud", "cloud"),
        ]
        .join("---\n"),
    );

    // Wait until both pickups have been polled at least twice, then kill.
    let deadline = Instant::now() + Duration::from_secs(90);
    loop {
        let stats = venafi.stats();
        let tpp = stats["pickups"]
            .as_object()
            .and_then(|p| p.values().next())
            .map_or(0, |p| p["retrieves"].as_u64().unwrap());
        let cloud = stats["cloud_requests"]
            .as_object()
            .and_then(|p| p.values().next())
            .map_or(0, |p| p["polls"].as_u64().unwrap());
        if tpp >= 2 && cloud >= 2 {
            break;
        }
        assert!(Instant::now() < deadline, "pickups never polled: {stats}");
        std::thread::sleep(Duration::from_millis(200));
    }
    let state = server.jsonpath(
        "certificaterequest",
        "slow-tpp-1",
        ".metadata.annotations.certwasm\\.io/plugin-state",
    );
    let state = String::from_utf8(
        base64::engine::general_purpose::STANDARD
            .decode(state.trim())
            .unwrap(),
    )
    .unwrap();
    assert!(
        state.contains(r#""pickupId":"\\VED\\Policy\\devops\\certwasm\\slow-tpp.example.com""#),
        "{state}"
    );
    server.kill9();

    let server = start_certwasm(&data, &venafi);
    for name in ["slow-tpp", "slow-cloud"] {
        server.wait_ready(name);
        let verdict = verify(&server, &venafi, name);
        assert!(verdict.contains(": OK"), "{name}: {verdict}");
    }
    let stats = venafi.stats();
    // One request each, polled until issued: the pickup was resumed.
    assert_eq!(
        venafi.count("POST /vedsdk/certificates/request"),
        1,
        "{stats}"
    );
    assert_eq!(
        venafi.count("POST /outagedetection/v1/certificaterequests"),
        1,
        "{stats}"
    );
    let pickup = stats["pickups"]["\\VED\\Policy\\devops\\certwasm\\slow-tpp.example.com"].clone();
    assert_eq!(pickup["requests"], 1, "{stats}");
    assert_eq!(
        pickup["retrieves"], 6,
        "5 processing answers, then the certificate: {stats}"
    );
}

/// Waits until `count` Certificates named `<prefix>-N` are Ready.
fn wait_all_ready(server: &Embedded, prefix: &str, count: usize) {
    let deadline = Instant::now() + Duration::from_secs(900);
    loop {
        let out = server.kubectl_ok(&["get", "certificates", "-o", "json"]);
        let list: Value = serde_json::from_str(&out).unwrap();
        let ready = list["items"]
            .as_array()
            .unwrap()
            .iter()
            .filter(|c| {
                c["metadata"]["name"]
                    .as_str()
                    .is_some_and(|n| n.starts_with(&format!("{prefix}-")))
                    && c["status"]["conditions"].as_array().is_some_and(|cs| {
                        cs.iter()
                            .any(|c| c["type"] == "Ready" && c["status"] == "True")
                    })
            })
            .count();
        if ready == count {
            return;
        }
        assert!(Instant::now() < deadline, "only {ready} of {count} Ready");
        std::thread::sleep(Duration::from_millis(250));
    }
}

/// 100 Certificates through a TPP issuer, then 100 through a Cloud issuer:
/// wall time until all are Ready, and the time the server spent answering
/// (its handlers' time, signing included), by call.
/// `cargo test -p certwasm --test venafi_e2e -- --ignored --nocapture`
#[test]
#[ignore = "benchmark: run with --ignored --nocapture"]
fn bench_100_certificates_through_tpp_and_cloud() {
    const COUNT: usize = 100;
    let dir = tempfile::tempdir().unwrap();
    let venafi = Venafi::start(dir.path(), &[]);
    let server = start_certwasm(&dir.path().join("certwasm"), &venafi);
    server.apply_ok(&issuers(&venafi));
    issuer_ready(&server, "tpp", "True");
    issuer_ready(&server, "cloud", "True");
    for (mode, issuer) in [("tpp", "tpp"), ("cloud", "cloud")] {
        venafi.control("POST", "/reset", &json!({}));
        let manifests: Vec<String> = (0..COUNT)
            .map(|i| certificate(&format!("bench-{mode}-{i}"), issuer))
            .collect();
        let started = Instant::now();
        server.apply_ok(&manifests.join("---\n"));
        wait_all_ready(&server, &format!("bench-{mode}"), COUNT);
        let wall = started.elapsed().as_secs_f64();
        let stats = venafi.stats();
        println!(
            "venafi {mode}: {COUNT} Certificates Ready in {wall:.2}s ({:.1}/s)",
            COUNT as f64 / wall
        );
        let mut total = 0.0;
        for (route, calls) in stats["requests"].as_object().unwrap() {
            let seconds = stats["busy_seconds"][route].as_f64().unwrap();
            let calls = calls.as_u64().unwrap();
            total += seconds;
            println!(
                "  {route:<72} {calls:5} calls, {seconds:6.2}s in the server ({:.1} ms each)",
                seconds * 1000.0 / calls.max(1) as f64
            );
        }
        println!(
            "  all calls: {total:.2}s in the server = {:.1}% of wall time (calls overlap)",
            100.0 * total / wall
        );
    }
}
