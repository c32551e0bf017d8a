//! An issuer's `caBundle` against a real TLS server (`openssl s_server`):
//! the bundle is the only trust, and a server whose certificate is the one
//! self-signed CA certificate pinned there is accepted, as cert-manager's Go
//! client accepts it, while any other certificate is still refused.

// Test code: a failed unwrap is a failed test.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::net::{SocketAddr, TcpListener, TcpStream};
use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use certwasm::plugin::outbound::{Outbound, OutboundRequest, ReqwestOutbound};

/// `openssl s_server` serving `cert`/`key`, stopped on drop.
struct Server {
    child: Child,
    address: SocketAddr,
}

impl Drop for Server {
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

fn serve(cert: &Path, key: &Path) -> Server {
    let port = free_port();
    let child = Command::new("openssl")
        .args(["s_server", "-quiet", "-www", "-accept"])
        .arg(format!("127.0.0.1:{port}"))
        .arg("-cert")
        .arg(cert)
        .arg("-key")
        .arg(key)
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .expect("openssl s_server starts");
    let address: SocketAddr = format!("127.0.0.1:{port}").parse().unwrap();
    let started = Instant::now();
    while TcpStream::connect(address).is_err() {
        assert!(
            started.elapsed() < Duration::from_secs(20),
            "openssl s_server did not listen"
        );
        std::thread::sleep(Duration::from_millis(20));
    }
    Server { child, address }
}

/// A self-signed CA certificate (basicConstraints CA:TRUE) for `localhost`
/// and 127.0.0.1, as an internal ACME or Vault server might serve.
fn self_signed_ca(dir: &Path, name: &str) -> (std::path::PathBuf, std::path::PathBuf) {
    let cert = dir.join(format!("{name}.crt"));
    let key = dir.join(format!("{name}.key"));
    let status = Command::new("openssl")
        .args([
            "req",
            "-x509",
            "-newkey",
            "ec",
            "-pkeyopt",
            "ec_paramgen_curve:P-256",
        ])
        .args(["-nodes", "-days", "2", "-subj"])
        .arg(format!("/CN={name}"))
        .args(["-addext", "basicConstraints=critical,CA:TRUE"])
        .args(["-addext", "keyUsage=critical,keyCertSign,digitalSignature"])
        .args(["-addext", "subjectAltName=DNS:localhost,IP:127.0.0.1"])
        .arg("-keyout")
        .arg(&key)
        .arg("-out")
        .arg(&cert)
        .stderr(Stdio::null())
        .status()
        .unwrap();
    assert!(status.success());
    (cert, key)
}

fn get(server: &Server, bundle: &Path) -> Result<u16, String> {
    let request = OutboundRequest {
        method: "GET".into(),
        url: format!("https://localhost:{}/", server.address.port())
            .parse()
            .unwrap(),
        headers: Vec::new(),
        body: Vec::new(),
        ca_bundle_pem: Some(std::fs::read_to_string(bundle).unwrap()),
        timeout: Duration::from_secs(10),
        pinned: vec![server.address],
        client_identity: None,
        server_name: None,
    };
    ReqwestOutbound::default()
        .send(request)
        .map(|response| response.status)
}

#[test]
fn a_pinned_self_signed_ca_serving_itself_is_accepted() {
    let dir = tempfile::tempdir().unwrap();
    let (cert, key) = self_signed_ca(dir.path(), "internal-acme");
    let server = serve(&cert, &key);
    assert_eq!(get(&server, &cert), Ok(200));
}

#[test]
fn any_other_certificate_is_still_refused() {
    let dir = tempfile::tempdir().unwrap();
    let (cert, key) = self_signed_ca(dir.path(), "internal-acme");
    let (other, _) = self_signed_ca(dir.path(), "someone-else");
    let server = serve(&cert, &key);
    let err = get(&server, &other).unwrap_err();
    assert!(
        err.contains("cannot connect") || err.contains("failed"),
        "{err}"
    );
    assert!(
        err.to_lowercase().contains("certificate"),
        "the error should say the certificate was refused: {err}"
    );
}

#[test]
fn a_pinned_certificate_must_still_name_the_server() {
    let dir = tempfile::tempdir().unwrap();
    let (cert, key) = self_signed_ca(dir.path(), "internal-acme");
    let server = serve(&cert, &key);
    let request = OutboundRequest {
        method: "GET".into(),
        // Connects to the same server, under a name its certificate lacks.
        url: format!("https://acme.internal.test:{}/", server.address.port())
            .parse()
            .unwrap(),
        headers: Vec::new(),
        body: Vec::new(),
        ca_bundle_pem: Some(std::fs::read_to_string(&cert).unwrap()),
        timeout: Duration::from_secs(10),
        pinned: vec![server.address],
        client_identity: None,
        server_name: None,
    };
    let err = ReqwestOutbound::default().send(request).unwrap_err();
    assert!(
        err.contains("not valid for name") || err.contains("NotValidForName"),
        "{err}"
    );
}
