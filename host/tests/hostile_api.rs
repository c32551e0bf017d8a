//! Hostile requests to the embedded API, over raw TLS connections so that
//! nothing a friendly client library would fix up gets fixed up: missing
//! and misplaced credentials, oversized, deep, malformed and explosive
//! bodies, names that try to escape their path, ten thousand watches, a
//! slow-loris client and a watch from the future. Each is answered with the
//! status kube-apiserver gives, stores nothing, and leaves the server
//! serving the next request.

// Test code: a failed unwrap is a failed test.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use std::path::Path;
use std::sync::Arc;
use std::time::Duration;

use certwasm::apiserver::{ApiConfig, ApiServer, Limits};
use serde_json::{Value, json};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;
use tokio_rustls::TlsConnector;
use tokio_rustls::client::TlsStream;

/// kube-apiserver's body limit, which the server must share.
const LIMIT: usize = 3 * 1024 * 1024;

/// A client of one embedded API: its address, token and CA.
#[derive(Clone)]
struct Client {
    address: String,
    token: String,
    tls: Arc<rustls::ClientConfig>,
}

/// One HTTP/1.1 answer.
#[derive(Debug)]
struct Answer {
    status: u16,
    head: String,
    body: Vec<u8>,
}

impl Answer {
    fn json(&self) -> Value {
        serde_json::from_slice(&self.body).unwrap_or_else(|e| {
            panic!(
                "not JSON ({e}): {} {}",
                self.head,
                String::from_utf8_lossy(&self.body)
            )
        })
    }

    fn header(&self, name: &str) -> Option<String> {
        self.head.lines().find_map(|line| {
            let (key, value) = line.split_once(':')?;
            key.trim()
                .eq_ignore_ascii_case(name)
                .then(|| value.trim().to_owned())
        })
    }
}

impl Client {
    fn for_dir(dir: &Path, address: String) -> Client {
        let token = std::fs::read_to_string(dir.join("token"))
            .unwrap()
            .trim()
            .to_owned();
        let ca = std::fs::read(dir.join("pki/ca.crt")).unwrap();
        let mut roots = rustls::RootCertStore::empty();
        for cert in rustls_pemfile_certs(&ca) {
            roots.add(cert).unwrap();
        }
        let provider = Arc::new(rustls::crypto::ring::default_provider());
        let mut config = rustls::ClientConfig::builder_with_provider(provider)
            .with_safe_default_protocol_versions()
            .unwrap()
            .with_root_certificates(roots)
            .with_no_client_auth();
        config.alpn_protocols = vec![b"http/1.1".to_vec()];
        Client {
            address,
            token,
            tls: Arc::new(config),
        }
    }

    async fn connect(&self) -> TlsStream<TcpStream> {
        let tcp = TcpStream::connect(&self.address).await.unwrap();
        self.handshake(tcp).await
    }

    async fn handshake(&self, tcp: TcpStream) -> TlsStream<TcpStream> {
        let name = rustls::pki_types::ServerName::try_from("127.0.0.1").unwrap();
        TlsConnector::from(Arc::clone(&self.tls))
            .connect(name, tcp)
            .await
            .unwrap()
    }

    /// The request head for `method path` with the token and `extra`
    /// header lines.
    fn head(&self, method: &str, path: &str, extra: &[String]) -> String {
        let token = format!("Bearer {}", self.token);
        self.head_as(method, path, Some(&token), extra)
    }

    /// The request head with `authorization` as the Authorization header,
    /// or none.
    fn head_as(
        &self,
        method: &str,
        path: &str,
        authorization: Option<&str>,
        extra: &[String],
    ) -> String {
        let mut head = format!("{method} {path} HTTP/1.1\r\nHost: {}\r\n", self.address);
        if let Some(value) = authorization {
            head.push_str(&format!("Authorization: {value}\r\n"));
        }
        for line in extra {
            head.push_str(line);
            head.push_str("\r\n");
        }
        head.push_str("Connection: close\r\n\r\n");
        head
    }

    /// Sends a request and reads the whole answer. The body is written
    /// while the answer is read, as Go's and hyper's clients do; a server
    /// that answers early still gets the rest written at it.
    async fn send(&self, head: String, body: Vec<u8>) -> Answer {
        let stream = self.connect().await;
        let (mut reader, mut writer) = tokio::io::split(stream);
        let write = tokio::spawn(async move {
            if writer.write_all(head.as_bytes()).await.is_err() {
                return;
            }
            for chunk in body.chunks(64 * 1024) {
                if writer.write_all(chunk).await.is_err() {
                    return;
                }
            }
            let _ = writer.flush().await;
        });
        let mut raw = Vec::new();
        // A reset after the answer arrived still leaves the answer read.
        let _ = reader.read_to_end(&mut raw).await;
        write.abort();
        parse_answer(&raw)
    }

    async fn request(&self, method: &str, path: &str, content_type: &str, body: &[u8]) -> Answer {
        let extra = [
            format!("Content-Type: {content_type}"),
            format!("Content-Length: {}", body.len()),
        ];
        let head = self.head(method, path, &extra);
        self.send(head, body.to_vec()).await
    }

    async fn get(&self, path: &str) -> Answer {
        self.send(self.head("GET", path, &[]), Vec::new()).await
    }

    /// The server still serves: a read answers 200.
    async fn assert_serving(&self) {
        let answer = self.get("/api/v1/namespaces/default").await;
        assert_eq!(answer.status, 200, "{answer:?}");
    }

    async fn assert_absent(&self, path: &str) {
        let answer = self.get(path).await;
        assert_eq!(answer.status, 404, "{path} exists: {answer:?}");
    }
}

fn rustls_pemfile_certs(pem: &[u8]) -> Vec<rustls::pki_types::CertificateDer<'static>> {
    use rustls::pki_types::pem::PemObject;
    rustls::pki_types::CertificateDer::pem_slice_iter(pem)
        .collect::<Result<_, _>>()
        .unwrap()
}

fn parse_answer(raw: &[u8]) -> Answer {
    let split = raw
        .windows(4)
        .position(|w| w == b"\r\n\r\n")
        .unwrap_or_else(|| panic!("no answer head in {:?}", String::from_utf8_lossy(raw)));
    let head = String::from_utf8_lossy(&raw[..split]).into_owned();
    let status = head
        .split_whitespace()
        .nth(1)
        .and_then(|s| s.parse().ok())
        .unwrap();
    let mut body = raw[split + 4..].to_vec();
    let chunked = head
        .to_ascii_lowercase()
        .contains("transfer-encoding: chunked");
    if chunked {
        body = dechunk(&body);
    }
    Answer { status, head, body }
}

fn dechunk(mut raw: &[u8]) -> Vec<u8> {
    let mut out = Vec::new();
    while let Some(end) = raw.windows(2).position(|w| w == b"\r\n") {
        let size = usize::from_str_radix(std::str::from_utf8(&raw[..end]).unwrap().trim(), 16)
            .unwrap_or(0);
        if size == 0 || raw.len() < end + 2 + size {
            let take = raw.len().min(end + 2 + size);
            out.extend_from_slice(&raw[(end + 2).min(take)..take]);
            break;
        }
        out.extend_from_slice(&raw[end + 2..end + 2 + size]);
        raw = &raw[(end + 4 + size).min(raw.len())..];
    }
    out
}

struct InProcess {
    server: ApiServer,
    client: Client,
    dir: tempfile::TempDir,
}

async fn start(limits: Limits) -> InProcess {
    let dir = tempfile::tempdir().unwrap();
    let server = ApiServer::start_with_limits(
        ApiConfig {
            data_dir: dir.path().to_owned(),
            address: "127.0.0.1:0".parse().unwrap(),
        },
        limits,
    )
    .await
    .unwrap();
    let client = Client::for_dir(dir.path(), server.address.to_string());
    InProcess {
        server,
        client,
        dir,
    }
}

fn secret(name: &str, value: &str) -> Vec<u8> {
    serde_json::to_vec(&json!({
        "apiVersion": "v1", "kind": "Secret",
        "metadata": {"name": name},
        "stringData": {"value": value},
    }))
    .unwrap()
}

fn config_map_body(name: &str) -> Vec<u8> {
    serde_json::to_vec(&json!({
        "apiVersion": "v1", "kind": "ConfigMap",
        "metadata": {"name": name},
        "data": {"k": "v"},
    }))
    .unwrap()
}

const SECRETS: &str = "/api/v1/namespaces/default/secrets";
const CONFIG_MAPS: &str = "/api/v1/namespaces/default/configmaps";

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn missing_wrong_or_misplaced_tokens_are_401_and_store_nothing() {
    let api = start(Limits::default()).await;
    let client = &api.client;
    let body = config_map_body("sneaky");
    let extra = [
        "Content-Type: application/json".to_owned(),
        format!("Content-Length: {}", body.len()),
    ];
    let wrong = format!("Bearer {}", "0".repeat(client.token.len()));
    let basic = "Basic YWRtaW46YWRtaW4=".to_owned();
    let empty = "Bearer ".to_owned();
    // The token in the query string, as some clients try: kube-apiserver
    // takes bearer tokens from the Authorization header only.
    let in_query = format!("{CONFIG_MAPS}?access_token={0}&token={0}", client.token);
    let cases: Vec<(String, Option<String>)> = vec![
        (CONFIG_MAPS.to_owned(), None),
        (CONFIG_MAPS.to_owned(), Some(wrong)),
        (CONFIG_MAPS.to_owned(), Some(basic)),
        (CONFIG_MAPS.to_owned(), Some(empty)),
        (in_query, None),
    ];
    for (path, authorization) in cases {
        let head = client.head_as("POST", &path, authorization.as_deref(), &extra);
        let answer = client.send(head, body.clone()).await;
        assert_eq!(answer.status, 401, "{path}: {answer:?}");
        let status = answer.json();
        assert_eq!(status["reason"], "Unauthorized", "{status}");
        assert_eq!(status["kind"], "Status", "{status}");
    }
    client.assert_absent(&format!("{CONFIG_MAPS}/sneaky")).await;
    client.assert_serving().await;
    api.server.shutdown();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn bodies_of_3_mib_and_more_are_413_and_the_connection_answers() {
    let api = start(Limits::default()).await;
    let client = &api.client;
    let status_of = |answer: &Answer| {
        assert_eq!(answer.status, 413, "{answer:?}");
        let status = answer.json();
        assert_eq!(status["reason"], "RequestEntityTooLarge", "{status}");
        assert_eq!(
            status["message"],
            format!("Request entity too large: limit is {LIMIT}"),
            "{status}"
        );
    };
    // Just over the limit, and 8 MiB, each announced by Content-Length
    // and written in full while the answer is read.
    for size in [LIMIT + 1, 8 * 1024 * 1024] {
        let padding = "a".repeat(size);
        let body = secret("big", &padding);
        assert!(body.len() > LIMIT);
        let answer = client
            .request("POST", SECRETS, "application/json", &body)
            .await;
        status_of(&answer);
        client.assert_absent(&format!("{SECRETS}/big")).await;
    }
    // 8 MiB in chunks, with no length announced: the limit is found while
    // reading.
    let body = secret("chunked", &"b".repeat(8 * 1024 * 1024));
    let mut chunked = Vec::new();
    for chunk in body.chunks(256 * 1024) {
        chunked.extend_from_slice(format!("{:x}\r\n", chunk.len()).as_bytes());
        chunked.extend_from_slice(chunk);
        chunked.extend_from_slice(b"\r\n");
    }
    chunked.extend_from_slice(b"0\r\n\r\n");
    let extra = [
        "Content-Type: application/json".to_owned(),
        "Transfer-Encoding: chunked".to_owned(),
    ];
    let answer = client
        .send(client.head("POST", SECRETS, &extra), chunked)
        .await;
    status_of(&answer);
    client.assert_absent(&format!("{SECRETS}/chunked")).await;
    // A client that asks before sending (Expect: 100-continue) is refused
    // without sending anything.
    let extra = [
        "Content-Type: application/json".to_owned(),
        format!("Content-Length: {}", 8 * 1024 * 1024),
        "Expect: 100-continue".to_owned(),
    ];
    let answer = client
        .send(client.head("POST", SECRETS, &extra), Vec::new())
        .await;
    status_of(&answer);
    // The real kubectl (over HTTP/2) reads the same refusal.
    let manifest = api.dir.path().join("big.json");
    std::fs::write(
        &manifest,
        serde_json::to_vec(&json!({
            "apiVersion": "v1", "kind": "ConfigMap",
            "metadata": {"name": "big", "namespace": "default"},
            "data": {"k": "d".repeat(4 * 1024 * 1024)},
        }))
        .unwrap(),
    )
    .unwrap();
    let kubeconfig = api.dir.path().join("kubeconfig");
    let output = tokio::process::Command::new(common::kubectl_binary())
        .arg("--kubeconfig")
        .arg(&kubeconfig)
        .args(["create", "--validate=false", "-f"])
        .arg(&manifest)
        .output()
        .await
        .unwrap();
    let said = common::text(&output);
    assert!(!output.status.success(), "{said}");
    assert!(said.contains("Request entity too large"), "{said}");
    client.assert_absent(&format!("{CONFIG_MAPS}/big")).await;
    // Under the limit is not refused for its size.
    let body = secret("under", &"c".repeat(LIMIT - 4096));
    let answer = client
        .request("POST", SECRETS, "application/json", &body)
        .await;
    assert_ne!(answer.status, 413, "{answer:?}");
    client.assert_serving().await;
    api.server.shutdown();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn deep_nesting_invalid_utf8_and_yaml_bombs_are_400() {
    let api = start(Limits::default()).await;
    let client = &api.client;
    const DEPTH: usize = 100_000;
    let deep_json = format!(
        "{{\"apiVersion\":\"v1\",\"kind\":\"ConfigMap\",\"metadata\":{{\"name\":\"deep\"}},\"x\":{}{}}}",
        "[".repeat(DEPTH),
        "]".repeat(DEPTH)
    );
    let deep_yaml = format!(
        "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: deep\nx: {}{}\n",
        "[".repeat(DEPTH),
        "]".repeat(DEPTH)
    );
    let deep_objects = format!(
        "{{\"metadata\":{{\"labels\":{}1{}}}}}",
        "{\"a\":".repeat(DEPTH),
        "}".repeat(DEPTH)
    );
    // Invalid UTF-8 inside a JSON string and in a YAML document.
    let mut bad_json =
        br#"{"apiVersion":"v1","kind":"ConfigMap","metadata":{"name":"utf"},"data":{"k":""#
            .to_vec();
    bad_json.extend_from_slice(&[0xff, 0xfe, 0xc0, 0x80]);
    bad_json.extend_from_slice(br#""}}"#);
    let mut bad_yaml =
        b"apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: utf\ndata:\n  k: ".to_vec();
    bad_yaml.extend_from_slice(&[0xff, 0xfe, b'\n']);
    // Billion laughs: nine levels of ten aliases each, 10^9 strings if
    // expanded.
    let mut bomb = String::from(
        "a: &a [\"lol\",\"lol\",\"lol\",\"lol\",\"lol\",\"lol\",\"lol\",\"lol\",\"lol\",\"lol\"]\n",
    );
    for level in 1..9u8 {
        let name = char::from(b'a' + level);
        let prev = char::from(b'a' + level - 1);
        let refs = vec![format!("*{prev}"); 10].join(",");
        bomb.push_str(&format!("{name}: &{name} [{refs}]\n"));
    }
    let bomb_object = format!(
        "{bomb}apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: bomb\n  annotations:\n    x: \"1\"\ndata:\n  k: v\n"
    );
    let cases: Vec<(&str, &str, &str, Vec<u8>)> = vec![
        (
            "POST",
            CONFIG_MAPS,
            "application/json",
            deep_json.into_bytes(),
        ),
        (
            "POST",
            CONFIG_MAPS,
            "application/yaml",
            deep_yaml.into_bytes(),
        ),
        ("POST", CONFIG_MAPS, "application/json", bad_json),
        ("POST", CONFIG_MAPS, "application/yaml", bad_yaml),
        (
            "POST",
            CONFIG_MAPS,
            "application/yaml",
            bomb_object.clone().into_bytes(),
        ),
    ];
    for (method, path, content_type, body) in cases {
        let answer = client.request(method, path, content_type, &body).await;
        assert_eq!(answer.status, 400, "{content_type}: {answer:?}");
        assert_eq!(answer.json()["reason"], "BadRequest");
    }
    for name in ["deep", "utf", "bomb"] {
        client.assert_absent(&format!("{CONFIG_MAPS}/{name}")).await;
    }
    // The same through every patch dialect on an existing object: refused,
    // the object unchanged.
    let created = client
        .request(
            "POST",
            CONFIG_MAPS,
            "application/json",
            &config_map_body("target"),
        )
        .await;
    assert_eq!(created.status, 201, "{created:?}");
    let version = created.json()["metadata"]["resourceVersion"].clone();
    let target = format!("{CONFIG_MAPS}/target?fieldManager=hostile");
    let patches: Vec<(&str, Vec<u8>)> = vec![
        (
            "application/merge-patch+json",
            deep_objects.clone().into_bytes(),
        ),
        (
            "application/strategic-merge-patch+json",
            deep_objects.into_bytes(),
        ),
        (
            "application/json-patch+json",
            format!("[{}]", "[".repeat(DEPTH)).into_bytes(),
        ),
        ("application/apply-patch+yaml", bomb_object.into_bytes()),
    ];
    for (content_type, body) in patches {
        let answer = client.request("PATCH", &target, content_type, &body).await;
        assert_eq!(answer.status, 400, "{content_type}: {answer:?}");
    }
    let after = client.get(&format!("{CONFIG_MAPS}/target")).await;
    assert_eq!(after.json()["metadata"]["resourceVersion"], version);
    client.assert_serving().await;
    api.server.shutdown();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn names_that_escape_their_path_or_run_long_are_4xx() {
    let api = start(Limits::default()).await;
    let client = &api.client;
    // In the path: kube-apiserver's IsValidPathSegmentName refuses these
    // with 400 before any lookup.
    for name in ["..", ".", "a%2Fb", "%2E%2E", "a%00b", "%2F"] {
        for method in ["GET", "DELETE", "PUT"] {
            let body = config_map_body("x");
            let answer = client
                .request(
                    method,
                    &format!("{CONFIG_MAPS}/{name}"),
                    "application/json",
                    &body,
                )
                .await;
            assert!(
                answer.status == 400 || answer.status == 404,
                "{method} {name}: {answer:?}"
            );
        }
    }
    for name in ["..", "."] {
        let answer = client.get(&format!("{CONFIG_MAPS}/{name}")).await;
        assert_eq!(answer.status, 400, "{name}: {answer:?}");
        let answer = client
            .get(&format!("/api/v1/namespaces/{name}/configmaps/x"))
            .await;
        assert_eq!(answer.status, 400, "namespace {name}: {answer:?}");
    }
    // A long name in the path names nothing: 404.
    let answer = client
        .get(&format!("{CONFIG_MAPS}/{}", "a".repeat(300)))
        .await;
    assert_eq!(answer.status, 404, "{answer:?}");
    // In the body: the object is invalid (422), as kube-apiserver's
    // ValidateObjectMeta says; 253 for subdomain names, 63 for a
    // namespace (a label).
    let long = "a".repeat(254);
    let longest_ok = format!(
        "{}.{}.{}.{}",
        "a".repeat(63),
        "b".repeat(63),
        "c".repeat(63),
        "d".repeat(61)
    );
    assert_eq!(longest_ok.len(), 253);
    for name in [
        "a/b",
        "..",
        ".",
        "a\u{0}b",
        "a%2Fb",
        long.as_str(),
        "UPPER",
        "-a",
        "",
    ] {
        let body = serde_json::to_vec(&json!({
            "apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": name},
        }))
        .unwrap();
        let answer = client
            .request("POST", CONFIG_MAPS, "application/json", &body)
            .await;
        assert_eq!(answer.status, 422, "{name:?}: {answer:?}");
        assert_eq!(answer.json()["reason"], "Invalid");
    }
    let body = serde_json::to_vec(&json!({
        "apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": longest_ok},
    }))
    .unwrap();
    let answer = client
        .request("POST", CONFIG_MAPS, "application/json", &body)
        .await;
    assert_eq!(answer.status, 201, "{answer:?}");
    for name in ["a".repeat(64), "a.b".to_owned(), "a/b".to_owned()] {
        let body = serde_json::to_vec(&json!({
            "apiVersion": "v1", "kind": "Namespace", "metadata": {"name": name},
        }))
        .unwrap();
        let answer = client
            .request("POST", "/api/v1/namespaces", "application/json", &body)
            .await;
        assert_eq!(answer.status, 422, "{name:?}: {answer:?}");
    }
    let listed = client.get(CONFIG_MAPS).await.json();
    let names: Vec<&str> = listed["items"]
        .as_array()
        .unwrap()
        .iter()
        .filter_map(|o| o["metadata"]["name"].as_str())
        .collect();
    assert_eq!(names, [longest_ok.as_str()], "{listed}");
    client.assert_serving().await;
    api.server.shutdown();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_slow_loris_is_cut_off_and_others_are_served() {
    let timeout = Duration::from_secs(2);
    let api = start(Limits {
        header_read_timeout: timeout,
    })
    .await;
    let client = api.client.clone();
    // Headers trickled one byte a second, far longer than the timeout.
    let loris = {
        let client = client.clone();
        tokio::spawn(async move {
            let mut stream = client.connect().await;
            let head = client.head("GET", "/api/v1/namespaces/default", &[]);
            let started = tokio::time::Instant::now();
            for byte in head.bytes() {
                if stream.write_all(&[byte]).await.is_err() || stream.flush().await.is_err() {
                    return (true, started.elapsed());
                }
                // A closed connection shows as a read of 0 bytes or an error.
                let mut probe = vec![0u8; 512];
                if let Ok(read) =
                    tokio::time::timeout(Duration::from_secs(1), stream.read(&mut probe)).await
                {
                    let cut_off = match read {
                        Ok(0) | Err(_) => true,
                        // An answer before the headers are complete can
                        // only be the server giving up on them.
                        Ok(n) => String::from_utf8_lossy(&probe[..n]).contains(" 408 "),
                    };
                    return (cut_off, started.elapsed());
                }
            }
            (false, started.elapsed())
        })
    };
    // A TCP connection that never starts its TLS handshake is cut off too.
    let silent = tokio::spawn({
        let address = client.address.clone();
        async move {
            let mut tcp = TcpStream::connect(&address).await.unwrap();
            let mut buf = [0u8; 16];
            tokio::time::timeout(Duration::from_secs(30), tcp.read(&mut buf))
                .await
                .is_ok()
        }
    });
    // Others are served meanwhile.
    for _ in 0..3 {
        client.assert_serving().await;
        tokio::time::sleep(Duration::from_millis(500)).await;
    }
    let (cut_off, after) = loris.await.unwrap();
    assert!(cut_off, "the trickling client was never cut off");
    // It was cut off by the header timeout, not after sending everything.
    let head_len = client.head("GET", "/api/v1/namespaces/default", &[]).len();
    assert!(
        after < Duration::from_secs(head_len as u64),
        "cut off only after {after:?}"
    );
    assert!(
        silent.await.unwrap(),
        "a silent connection was never closed"
    );
    client.assert_serving().await;
    api.server.shutdown();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_watch_from_a_future_resource_version_is_504_with_retry_after() {
    let api = start(Limits::default()).await;
    let client = &api.client;
    let listed = client.get(CONFIG_MAPS).await.json();
    let current: u64 = listed["metadata"]["resourceVersion"]
        .as_str()
        .unwrap()
        .parse()
        .unwrap();
    let future = current + 1_000_000;
    for path in [
        format!("{CONFIG_MAPS}?watch=true&resourceVersion={future}"),
        format!("{CONFIG_MAPS}?resourceVersion={future}"),
    ] {
        let answer = client.get(&path).await;
        assert_eq!(answer.status, 504, "{path}: {answer:?}");
        assert_eq!(
            answer.header("retry-after").as_deref(),
            Some("1"),
            "{answer:?}"
        );
        let status = answer.json();
        assert_eq!(status["reason"], "Timeout", "{status}");
        assert_eq!(status["details"]["retryAfterSeconds"], 1, "{status}");
        assert_eq!(
            status["details"]["causes"][0]["reason"], "ResourceVersionTooLarge",
            "{status}"
        );
        let message = status["message"].as_str().unwrap();
        assert!(
            message.starts_with(&format!(
                "Timeout: Too large resource version: {future}, current: "
            )),
            "{message}"
        );
    }
    // A version reached while the watch waits is served: the watch starts
    // and delivers what comes after it.
    let next = current + 1;
    let watcher = {
        let client = client.clone();
        tokio::spawn(async move {
            let path = format!("{CONFIG_MAPS}?watch=true&resourceVersion={next}&timeoutSeconds=3");
            client.get(&path).await
        })
    };
    tokio::time::sleep(Duration::from_millis(300)).await;
    for name in ["first", "second"] {
        let created = client
            .request(
                "POST",
                CONFIG_MAPS,
                "application/json",
                &config_map_body(name),
            )
            .await;
        assert_eq!(created.status, 201, "{created:?}");
    }
    let answer = watcher.await.unwrap();
    assert_eq!(answer.status, 200, "{answer:?}");
    let events = String::from_utf8_lossy(&answer.body).into_owned();
    assert!(events.contains("\"second\""), "{events}");
    assert!(!events.contains("\"first\""), "{events}");
    // An absurd timeout is clamped, not an overflow.
    let mut stream = client.connect().await;
    let head = client.head(
        "GET",
        &format!("{CONFIG_MAPS}?watch=true&timeoutSeconds={}", u64::MAX),
        &[],
    );
    stream.write_all(head.as_bytes()).await.unwrap();
    stream.flush().await.unwrap();
    let mut buf = vec![0u8; 1024];
    let read = stream.read(&mut buf).await.unwrap();
    let text = String::from_utf8_lossy(&buf[..read]).into_owned();
    assert!(text.starts_with("HTTP/1.1 200"), "{text}");
    drop(stream);
    client.assert_serving().await;
    api.server.shutdown();
}

/// Raises this process's open-file limit to its hard limit; returns it.
fn raise_open_files() -> u64 {
    let mut limit = libc::rlimit {
        rlim_cur: 0,
        rlim_max: 0,
    };
    // SAFETY: plain system calls on a struct we own.
    unsafe {
        assert_eq!(libc::getrlimit(libc::RLIMIT_NOFILE, &mut limit), 0);
        limit.rlim_cur = limit.rlim_max;
        assert_eq!(libc::setrlimit(libc::RLIMIT_NOFILE, &limit), 0);
    }
    limit.rlim_cur
}

fn proc_status(pid: u32, field: &str) -> u64 {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).unwrap();
    status
        .lines()
        .find_map(|l| l.strip_prefix(field))
        .and_then(|v| v.split_whitespace().next())
        .and_then(|v| v.parse().ok())
        .unwrap()
}

#[test]
fn ten_thousand_watches_leave_the_server_answering() {
    const WATCHES: usize = 10_000;
    let limit = raise_open_files();
    assert!(
        limit >= WATCHES as u64 + 512,
        "the hard open-file limit ({limit}) is too low for {WATCHES} watches in this process"
    );
    let dir = tempfile::tempdir().unwrap();
    let api = common::Embedded::start(dir.path());
    let pid = api.pid();
    let address = std::fs::read_to_string(dir.path().join("kubeconfig"))
        .unwrap()
        .lines()
        .find_map(|l| l.trim().strip_prefix("server: https://").map(str::to_owned))
        .unwrap();
    let client = Client::for_dir(dir.path(), address);
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .unwrap();
    runtime.block_on(async move {
        let rss_before = proc_status(pid, "VmRSS:");
        let gate = Arc::new(tokio::sync::Semaphore::new(256));
        let mut opening = tokio::task::JoinSet::new();
        for _ in 0..WATCHES {
            let client = client.clone();
            let gate = Arc::clone(&gate);
            opening.spawn(async move {
                let _permit = gate.acquire().await.unwrap();
                let mut stream = client.connect().await;
                let head = client
                    .head("GET", &format!("{CONFIG_MAPS}?watch=true"), &[])
                    .replace("Connection: close\r\n", "");
                stream.write_all(head.as_bytes()).await.unwrap();
                stream.flush().await.unwrap();
                let mut buf = vec![0u8; 1024];
                let read = stream.read(&mut buf).await.unwrap();
                let text = String::from_utf8_lossy(&buf[..read]).into_owned();
                assert!(text.starts_with("HTTP/1.1 200"), "{text}");
                stream
            });
        }
        let mut streams = Vec::with_capacity(WATCHES);
        while let Some(stream) = opening.join_next().await {
            streams.push(stream.unwrap());
        }
        assert_eq!(streams.len(), WATCHES);
        let fds = std::fs::read_dir(format!("/proc/{pid}/fd")).unwrap().count();
        let rss = proc_status(pid, "VmRSS:");
        println!(
            "{WATCHES} open watches: server holds {fds} file descriptors, {} MiB resident ({} MiB before)",
            rss / 1024,
            rss_before / 1024
        );
        assert!(fds > WATCHES, "the watches are not all open ({fds} fds)");
        // The server still answers, and a change reaches the watchers.
        client.assert_serving().await;
        let created = client
            .request("POST", CONFIG_MAPS, "application/json", &config_map_body("seen"))
            .await;
        assert_eq!(created.status, 201, "{created:?}");
        for stream in streams.iter_mut().step_by(WATCHES / 20) {
            let mut seen = Vec::new();
            let mut buf = vec![0u8; 4096];
            while !String::from_utf8_lossy(&seen).contains("\"seen\"") {
                let read = tokio::time::timeout(Duration::from_secs(30), stream.read(&mut buf))
                    .await
                    .expect("the event reaches every watcher")
                    .unwrap();
                assert!(read > 0, "a watch ended");
                seen.extend_from_slice(&buf[..read]);
            }
        }
        drop(streams);
        client.assert_serving().await;
    });
}
