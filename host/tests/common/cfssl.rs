//! A real CFSSL server (`cfssl serve`, Debian golang-cfssl) with a CA of its
//! own, for the tests of the third-party CFSSL plugin
//! (`examples/plugins/cfssl`): shared by `host/tests/plugin_bundles.rs` and
//! `tests/tests/cfssl_plugin.rs` (which includes this file by path).

use std::io::Write;
use std::net::{TcpListener, TcpStream};
use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

/// The HMAC key of the `authed` profile, hex as CFSSL's config holds it.
pub const AUTH_KEY: &str = "0123456789abcdef0123456789abcdef";

/// Signing profiles: a default, one that only signs `*.internal` names,
/// and (with auth) one that needs an HMAC token.
pub fn cfssl_config(with_auth: bool) -> String {
    let usages = r#"["digital signature", "key encipherment", "server auth"]"#;
    let mut profiles = format!(
        r#""server": {{"expiry": "720h", "usages": {usages}}},
           "restricted": {{"expiry": "720h", "usages": {usages}, "name_whitelist": "\\.internal$"}}"#
    );
    let mut auth_keys = String::new();
    if with_auth {
        profiles.push_str(&format!(
            r#", "authed": {{"expiry": "720h", "usages": {usages}, "auth_key": "primary"}}"#
        ));
        auth_keys =
            format!(r#", "auth_keys": {{"primary": {{"type": "standard", "key": "{AUTH_KEY}"}}}}"#);
    }
    format!(
        r#"{{"signing": {{"default": {{"expiry": "168h", "usages": {usages}}}, "profiles": {{{profiles}}}}}{auth_keys}}}"#
    )
}

/// A running `cfssl serve` with its own CA; stopped when dropped.
pub struct Cfssl {
    child: Child,
    port: u16,
    pub dir: tempfile::TempDir,
}

impl Cfssl {
    pub fn start(with_auth: bool) -> Self {
        let dir = tempfile::tempdir().unwrap();
        let genkey = Command::new("cfssl")
            .args(["genkey", "-initca", "-"])
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::null())
            .spawn()
            .expect("cfssl is installed (scripts/setup: golang-cfssl)");
        genkey
            .stdin
            .as_ref()
            .unwrap()
            .write_all(br#"{"CN": "certwasm CFSSL test CA", "names": [{"O": "certwasm tests"}], "key": {"algo": "ecdsa", "size": 256}}"#)
            .unwrap();
        let genkey = genkey.wait_with_output().unwrap();
        assert!(genkey.status.success(), "cfssl genkey -initca failed");
        let mut cfssljson = Command::new("cfssljson")
            .args(["-bare", "ca"])
            .current_dir(dir.path())
            .stdin(Stdio::piped())
            .spawn()
            .unwrap();
        cfssljson
            .stdin
            .take()
            .unwrap()
            .write_all(&genkey.stdout)
            .unwrap();
        assert!(cfssljson.wait().unwrap().success(), "cfssljson failed");
        std::fs::write(dir.path().join("config.json"), cfssl_config(with_auth)).unwrap();

        let port = free_port();
        let log = std::fs::File::create(dir.path().join("cfssl.log")).unwrap();
        let child = Command::new("cfssl")
            .args(["serve", "-address", "127.0.0.1", "-port", &port.to_string()])
            .args([
                "-ca",
                "ca.pem",
                "-ca-key",
                "ca-key.pem",
                "-config",
                "config.json",
            ])
            .current_dir(dir.path())
            .stdout(log.try_clone().unwrap())
            .stderr(log)
            .spawn()
            .unwrap();
        let server = Self { child, port, dir };
        let started = Instant::now();
        while TcpStream::connect(("127.0.0.1", port)).is_err() {
            assert!(
                started.elapsed() < Duration::from_secs(30),
                "cfssl serve did not listen on {port}:\n{}",
                server.log()
            );
            std::thread::sleep(Duration::from_millis(50));
        }
        server
    }

    pub fn url(&self) -> String {
        format!("http://127.0.0.1:{}", self.port)
    }

    pub fn ca_pem_path(&self) -> PathBuf {
        self.dir.path().join("ca.pem")
    }

    pub fn log(&self) -> String {
        std::fs::read_to_string(self.dir.path().join("cfssl.log")).unwrap_or_default()
    }
}

impl Drop for Cfssl {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

pub fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}
