//! Native test helpers for plugin authors (feature `testing`): keys and
//! CSRs made by the `openssl` command, which stand in for the host's keys,
//! and `openssl verify` to check what a plugin issued.
//!
//! openssl is an implementation independent of this crate, so a test that
//! feeds it the plugin's output checks more than a round trip would. These
//! helpers panic on failure: they are for tests.
//!
//! ```no_run
//! use certwasm_plugin_sdk::testing::{KeyKind, OpensslKey, verify};
//! use certwasm_plugin_sdk::x509::{self, CertificateParams, IssuedBy};
//!
//! let key = OpensslKey::generate(KeyKind::EcdsaP256);
//! let csr = key.csr("/CN=example.com", &["subjectAltName=DNS:example.com"]);
//! let pem = x509::sign_request(&csr, &CertificateParams::default(), IssuedBy::SelfSigned, &key, 1_790_000_000, [7; 16]).unwrap();
//! verify(&pem, &pem, 1_790_000_100).unwrap();
//! ```

use std::path::PathBuf;
use std::process::{Command, Stdio};
use std::sync::atomic::{AtomicUsize, Ordering};

use crate::types::{CertificateRequest, IssuerConfig, IssuerKind, SignatureAlgorithm};
use crate::x509::Signer;

/// The kinds of key the host can hold.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum KeyKind {
    /// ECDSA on P-256.
    EcdsaP256,
    /// ECDSA on P-384.
    EcdsaP384,
    /// RSA with this many bits.
    Rsa(u32),
    /// Ed25519.
    Ed25519,
}

/// A private key in a temporary file, used through the openssl command.
#[derive(Debug)]
pub struct OpensslKey {
    dir: PathBuf,
    kind: KeyKind,
    public_key_der: Vec<u8>,
}

static NEXT: AtomicUsize = AtomicUsize::new(0);

/// Runs openssl; panics with its output if it fails.
pub fn openssl(args: &[&str]) -> Vec<u8> {
    let output = Command::new("openssl")
        .args(args)
        .stdin(Stdio::null())
        .output()
        .unwrap_or_else(|e| panic!("cannot run openssl (is it installed?): {e}"));
    assert!(
        output.status.success(),
        "openssl {args:?} failed: {}",
        String::from_utf8_lossy(&output.stderr)
    );
    output.stdout
}

fn path_str(path: &std::path::Path) -> &str {
    path.to_str()
        .unwrap_or_else(|| panic!("temporary path {path:?} is not UTF-8"))
}

impl OpensslKey {
    /// Generates a key.
    pub fn generate(kind: KeyKind) -> Self {
        let dir = std::env::temp_dir().join(format!(
            "certwasm-sdk-{}-{}",
            std::process::id(),
            NEXT.fetch_add(1, Ordering::Relaxed)
        ));
        std::fs::create_dir_all(&dir).unwrap_or_else(|e| panic!("cannot create {dir:?}: {e}"));
        let key = dir.join("key.pem");
        let bits;
        let mut args = vec!["genpkey", "-out", path_str(&key), "-algorithm"];
        match kind {
            KeyKind::EcdsaP256 => args.extend(["EC", "-pkeyopt", "ec_paramgen_curve:P-256"]),
            KeyKind::EcdsaP384 => args.extend(["EC", "-pkeyopt", "ec_paramgen_curve:P-384"]),
            KeyKind::Rsa(size) => {
                bits = format!("rsa_keygen_bits:{size}");
                args.extend(["RSA", "-pkeyopt", &bits]);
            }
            KeyKind::Ed25519 => args.push("ED25519"),
        }
        openssl(&args);
        let public_key_der =
            openssl(&["pkey", "-in", path_str(&key), "-pubout", "-outform", "DER"]);
        Self {
            dir,
            kind,
            public_key_der,
        }
    }

    fn key_path(&self) -> PathBuf {
        self.dir.join("key.pem")
    }

    /// The private key, PKCS#8 PEM (what a CA Secret's `tls.key` holds).
    pub fn private_key_pem(&self) -> String {
        std::fs::read_to_string(self.key_path())
            .unwrap_or_else(|e| panic!("cannot read the key: {e}"))
    }

    /// A CSR for this key with subject `subject` (openssl's `/CN=a/O=b`
    /// form; `/` for an empty one) and `-addext` extensions such as
    /// `subjectAltName=DNS:a.example,IP:192.0.2.1`.
    pub fn csr(&self, subject: &str, extensions: &[&str]) -> String {
        let key = self.key_path();
        let mut args = vec!["req", "-new", "-key", path_str(&key), "-subj", subject];
        for extension in extensions {
            args.extend(["-addext", extension]);
        }
        String::from_utf8(openssl(&args))
            .unwrap_or_else(|e| panic!("openssl printed non-UTF-8: {e}"))
    }
}

impl Drop for OpensslKey {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}

impl Signer for OpensslKey {
    fn public_key_der(&self) -> &[u8] {
        &self.public_key_der
    }

    fn sign(&self, algorithm: SignatureAlgorithm, data: &[u8]) -> Result<Vec<u8>, String> {
        let digest = match (self.kind, algorithm) {
            (KeyKind::EcdsaP256, SignatureAlgorithm::EcdsaP256Sha256) => "-sha256",
            (KeyKind::EcdsaP384, SignatureAlgorithm::EcdsaP384Sha384) => "-sha384",
            (KeyKind::Rsa(_), SignatureAlgorithm::RsaPkcs1Sha256) => "-sha256",
            (KeyKind::Rsa(_), SignatureAlgorithm::RsaPkcs1Sha384) => "-sha384",
            (KeyKind::Rsa(_), SignatureAlgorithm::RsaPkcs1Sha512) => "-sha512",
            (KeyKind::Ed25519, SignatureAlgorithm::Ed25519) => "",
            (kind, algorithm) => return Err(format!("{algorithm:?} does not fit a {kind:?} key")),
        };
        let input = self.dir.join("data");
        let output = self.dir.join("signature");
        std::fs::write(&input, data).map_err(|e| e.to_string())?;
        let key = self.key_path();
        if digest.is_empty() {
            openssl(&[
                "pkeyutl",
                "-sign",
                "-rawin",
                "-inkey",
                path_str(&key),
                "-in",
                path_str(&input),
                "-out",
                path_str(&output),
            ]);
        } else {
            openssl(&[
                "dgst",
                digest,
                "-sign",
                path_str(&key),
                "-out",
                path_str(&output),
                path_str(&input),
            ]);
        }
        std::fs::read(&output).map_err(|e| e.to_string())
    }
}

/// Runs `openssl verify` of the first certificate of `chain_pem` against
/// the trust anchor `ca_pem`, with the rest of the chain as untrusted
/// intermediates, at time `at_unix`. Returns openssl's output, or its
/// complaint.
pub fn verify(ca_pem: &str, chain_pem: &str, at_unix: i64) -> Result<String, String> {
    let dir = std::env::temp_dir().join(format!(
        "certwasm-sdk-verify-{}-{}",
        std::process::id(),
        NEXT.fetch_add(1, Ordering::Relaxed)
    ));
    std::fs::create_dir_all(&dir).map_err(|e| e.to_string())?;
    let ca = dir.join("ca.pem");
    let leaf = dir.join("leaf.pem");
    let chain = dir.join("chain.pem");
    let blocks: Vec<&str> = chain_pem
        .split_inclusive("-----END CERTIFICATE-----\n")
        .collect();
    std::fs::write(&ca, ca_pem).map_err(|e| e.to_string())?;
    std::fs::write(&leaf, blocks.first().copied().unwrap_or("")).map_err(|e| e.to_string())?;
    std::fs::write(&chain, blocks.get(1..).unwrap_or(&[]).concat()).map_err(|e| e.to_string())?;
    let at = at_unix.to_string();
    let mut command = Command::new("openssl");
    command.args(["verify", "-attime", &at, "-CAfile", path_str(&ca)]);
    if blocks.len() > 1 {
        command.args(["-untrusted", path_str(&chain)]);
    }
    let output = command
        .arg(path_str(&leaf))
        .output()
        .map_err(|e| e.to_string());
    let _ = std::fs::remove_dir_all(&dir);
    let output = output?;
    let text = format!(
        "{}{}",
        String::from_utf8_lossy(&output.stdout),
        String::from_utf8_lossy(&output.stderr)
    );
    if output.status.success() {
        Ok(text)
    } else {
        Err(text)
    }
}

/// `openssl x509 -text` of the first certificate in `pem`.
pub fn text(pem: &str) -> String {
    let dir = std::env::temp_dir().join(format!(
        "certwasm-sdk-text-{}-{}",
        std::process::id(),
        NEXT.fetch_add(1, Ordering::Relaxed)
    ));
    std::fs::create_dir_all(&dir).unwrap_or_else(|e| panic!("cannot create {dir:?}: {e}"));
    let file = dir.join("cert.pem");
    std::fs::write(&file, pem).unwrap_or_else(|e| panic!("cannot write {file:?}: {e}"));
    let out = openssl(&["x509", "-noout", "-text", "-in", path_str(&file)]);
    let _ = std::fs::remove_dir_all(&dir);
    String::from_utf8_lossy(&out).into_owned()
}

/// A CertificateRequest as the host would build it for an `Issuer` named
/// `test` in namespace `default` whose `spec` is `spec_json`: no duration
/// (the issuer's default), not a CA, default usages, no annotations. Change
/// the fields a test is about.
///
/// ```
/// let request = certwasm_plugin_sdk::testing::request(r#"{"plugin":{"name":"my-ca"}}"#, "");
/// assert_eq!(request.issuer.namespace, "default");
/// ```
pub fn request(spec_json: &str, csr_pem: &str) -> CertificateRequest {
    CertificateRequest {
        name: "test-1".into(),
        namespace: "default".into(),
        csr_pem: csr_pem.into(),
        duration_seconds: None,
        is_ca: false,
        usages: Vec::new(),
        issuer: IssuerConfig {
            kind: IssuerKind::Issuer,
            name: "test".into(),
            namespace: "default".into(),
            spec_json: spec_json.into(),
        },
        request_key: None,
        annotations: Vec::new(),
    }
}
