//! A real Pebble (Debian `pebble`) and `pebble-challtestsrv` on free
//! loopback ports, for the ACME tests and benchmarks: Pebble validates
//! HTTP-01 on the port it is given, and challtestsrv answers every name
//! with 127.0.0.1 — or Pebble resolves through a DNS server the test runs
//! (BIND for DNS-01), and no challtestsrv is started.

use std::net::TcpListener;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use super::text;

/// A free loopback port (bound, then released).
pub fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .map(|a| a.port())
        .unwrap()
}

fn openssl(dir: &Path, args: &[&str]) {
    let output = Command::new("openssl")
        .current_dir(dir)
        .args(args)
        .output()
        .unwrap();
    assert!(
        output.status.success(),
        "openssl {args:?}: {}",
        text(&output)
    );
}

/// Kills the process when the test ends, however it ends.
pub struct Killed(pub Child);

impl Drop for Killed {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

/// Pebble and its DNS, on free loopback ports.
pub struct Pebble {
    _pebble: Killed,
    _dns: Option<Killed>,
    /// The ACME directory URL.
    pub directory: String,
    /// The management API port (roots).
    pub management: u16,
    /// The DNS port Pebble resolves through: pebble-challtestsrv's (every
    /// name is 127.0.0.1) or the one given to [`Pebble::start_with_dns`].
    pub dns_port: u16,
    /// The CA of Pebble's serving certificate (an Issuer's caBundle).
    pub serving_ca: PathBuf,
}

impl Pebble {
    /// Pebble validating HTTP-01 on `http_port`, rejecting
    /// `nonce_reject` percent of nonces.
    pub fn start(dir: &Path, http_port: u16, nonce_reject: u8) -> Pebble {
        Pebble::start_with_dns(dir, http_port, nonce_reject, None)
    }

    /// As [`Pebble::start`], resolving names (and DNS-01 records) through
    /// the DNS server on loopback port `dns_server` when given.
    pub fn start_with_dns(
        dir: &Path,
        http_port: u16,
        nonce_reject: u8,
        dns_server: Option<u16>,
    ) -> Pebble {
        assert!(
            Path::new("/usr/bin/pebble").exists(),
            "pebble not found: run scripts/setup (it installs Debian's pebble)"
        );
        // A serving CA and a leaf for 127.0.0.1: rustls refuses a
        // self-signed CA certificate as a server's own.
        let ec = [
            "-newkey",
            "ec",
            "-pkeyopt",
            "ec_paramgen_curve:P-256",
            "-nodes",
        ];
        let mut args = vec!["req", "-x509"];
        args.extend(ec);
        args.extend(["-keyout", "ca.key", "-out", "ca.pem", "-days", "2"]);
        args.extend(["-subj", "/CN=certwasm e2e Pebble serving CA"]);
        openssl(dir, &args);
        let mut args = vec!["req", "-new"];
        args.extend(ec);
        args.extend([
            "-keyout",
            "key.pem",
            "-out",
            "serve.csr",
            "-subj",
            "/CN=localhost",
        ]);
        openssl(dir, &args);
        std::fs::write(
            dir.join("ext.cnf"),
            "subjectAltName=DNS:localhost,IP:127.0.0.1\nbasicConstraints=CA:FALSE\nextendedKeyUsage=serverAuth\n",
        )
        .unwrap();
        openssl(
            dir,
            &[
                "x509",
                "-req",
                "-in",
                "serve.csr",
                "-CA",
                "ca.pem",
                "-CAkey",
                "ca.key",
                "-CAcreateserial",
                "-out",
                "cert.pem",
                "-days",
                "2",
                "-extfile",
                "ext.cnf",
            ],
        );
        let (port, management) = (free_port(), free_port());
        let (dns_port, dns) = match dns_server {
            Some(dns_port) => (dns_port, None),
            None => {
                let dns_port = free_port();
                let dns = Command::new("pebble-challtestsrv")
                    .args(["-defaultIPv4", "127.0.0.1", "-defaultIPv6", ""])
                    .args(["-dns01", &format!("127.0.0.1:{dns_port}")])
                    .args(["-http01", "", "-https01", "", "-tlsalpn01", ""])
                    .args(["-management", &format!("127.0.0.1:{}", free_port())])
                    .stdout(Stdio::null())
                    .stderr(Stdio::null())
                    .spawn()
                    .expect("pebble-challtestsrv starts");
                (dns_port, Some(Killed(dns)))
            }
        };
        let config = serde_json::json!({"pebble": {
            "listenAddress": format!("127.0.0.1:{port}"),
            "managementListenAddress": format!("127.0.0.1:{management}"),
            "certificate": dir.join("cert.pem"),
            "privateKey": dir.join("key.pem"),
            "httpPort": http_port,
            "tlsPort": free_port(),
            "ocspResponderURL": "",
            "externalAccountBindingRequired": false,
        }});
        std::fs::write(dir.join("pebble.json"), config.to_string()).unwrap();
        let log = std::fs::File::create(dir.join("pebble.log")).unwrap();
        let pebble = Command::new("pebble")
            .arg("-config")
            .arg(dir.join("pebble.json"))
            .args(["-dnsserver", &format!("127.0.0.1:{dns_port}"), "-strict"])
            .env("PEBBLE_VA_NOSLEEP", "1")
            .env("PEBBLE_WFE_NONCEREJECT", nonce_reject.to_string())
            .stdout(log.try_clone().unwrap())
            .stderr(log)
            .spawn()
            .expect("pebble starts");
        let deadline = Instant::now() + Duration::from_secs(30);
        while std::net::TcpStream::connect(("127.0.0.1", port)).is_err() {
            assert!(Instant::now() < deadline, "pebble did not start");
            std::thread::sleep(Duration::from_millis(50));
        }
        Pebble {
            _pebble: Killed(pebble),
            _dns: dns,
            directory: format!("https://127.0.0.1:{port}/dir"),
            management,
            dns_port,
            serving_ca: dir.join("ca.pem"),
        }
    }

    /// Pebble's issuing root (regenerated at every start).
    pub fn root(&self) -> Vec<u8> {
        let output = Command::new("curl")
            .args(["-sS", "--fail", "--cacert"])
            .arg(&self.serving_ca)
            .arg(format!("https://127.0.0.1:{}/roots/0", self.management))
            .output()
            .unwrap();
        assert!(output.status.success(), "{}", text(&output));
        output.stdout
    }
}

impl Pebble {
    /// `certwasm run` on `data`, serving HTTP-01 on `solver_port`,
    /// self-checking on `self_check_port` and resolving through this
    /// Pebble's DNS; `extra` flags follow.
    pub fn certwasm_run(
        &self,
        data: &Path,
        solver_port: u16,
        self_check_port: u16,
        extra: &[&str],
    ) -> super::Embedded {
        std::fs::create_dir_all(data).unwrap();
        let solver = format!("127.0.0.1:{solver_port}");
        let self_check = self_check_port.to_string();
        let nameserver = format!("127.0.0.1:{}", self.dns_port);
        let mut flags = vec![
            "--http01-solver-address",
            &solver,
            "--http01-self-check-port",
            &self_check,
            "--dns-nameservers",
            &nameserver,
        ];
        flags.extend_from_slice(extra);
        super::Embedded::start_with(data, &flags)
    }
}
