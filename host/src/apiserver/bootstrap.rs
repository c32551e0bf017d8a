//! The data directory's credentials, made at first start and reused after:
//! a CA and a serving certificate for 127.0.0.1/localhost, the bearer
//! token, and the kubeconfig that hands both to kubectl and kube-rs.
//!
//! ```text
//! DIR/
//!   kubeconfig         0600  cluster, CA, token, context "certwasm"
//!   token              0600  the bearer token
//!   pki/ca.crt, ca.key       the API's own CA (key 0600)
//!   pki/serving.crt, .key    127.0.0.1 / localhost, signed by the CA
//!   store.redb         0600  every object (Secrets included)
//! ```

use std::io::Write;
use std::path::{Path, PathBuf};

use base64::Engine;
use rand::RngCore;

/// Errors preparing the data directory.
#[derive(Debug, thiserror::Error)]
pub enum BootstrapError {
    /// A file could not be read or written.
    #[error("{}: {source}", path.display())]
    Io {
        /// The file.
        path: PathBuf,
        /// The I/O error.
        source: std::io::Error,
    },
    /// The serving certificate could not be made.
    #[error("cannot make the API serving certificate: {0}")]
    Certificate(#[from] rcgen::Error),
    /// A stored key or certificate does not parse.
    #[error("{}: {message}", path.display())]
    Invalid {
        /// The file.
        path: PathBuf,
        /// What is wrong.
        message: String,
    },
}

/// The credentials the server needs.
#[derive(Debug, Clone)]
pub struct Credentials {
    /// PEM of the CA clients trust.
    pub ca_pem: String,
    /// PEM chain the server presents (serving certificate, then the CA).
    pub chain_pem: String,
    /// PEM of the serving key.
    pub key_pem: String,
    /// The bearer token.
    pub token: String,
}

fn io(path: &Path) -> impl FnOnce(std::io::Error) -> BootstrapError + '_ {
    move |source| BootstrapError::Io {
        path: path.to_owned(),
        source,
    }
}

/// Writes `contents` to `path` atomically (temp file, fsync, rename), with
/// `mode` on Unix: a crash leaves the old file or the new, never half.
pub fn write_atomic(path: &Path, contents: &[u8], mode: u32) -> Result<(), BootstrapError> {
    let dir = path.parent().unwrap_or(Path::new("."));
    std::fs::create_dir_all(dir).map_err(io(dir))?;
    let file_name = path
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_default();
    let temp = dir.join(format!(".{file_name}.tmp{}", std::process::id()));
    {
        let mut options = std::fs::OpenOptions::new();
        options.write(true).create(true).truncate(true);
        #[cfg(unix)]
        std::os::unix::fs::OpenOptionsExt::mode(&mut options, mode);
        let mut file = options.open(&temp).map_err(io(&temp))?;
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt;
            file.set_permissions(std::fs::Permissions::from_mode(mode))
                .map_err(io(&temp))?;
        }
        file.write_all(contents).map_err(io(&temp))?;
        file.sync_all().map_err(io(&temp))?;
    }
    #[cfg(not(unix))]
    let _ = mode;
    std::fs::rename(&temp, path).map_err(io(path))?;
    Ok(())
}

fn read(path: &Path) -> Result<Option<String>, BootstrapError> {
    match std::fs::read_to_string(path) {
        Ok(text) => Ok(Some(text)),
        Err(err) if err.kind() == std::io::ErrorKind::NotFound => Ok(None),
        Err(source) => Err(BootstrapError::Io {
            path: path.to_owned(),
            source,
        }),
    }
}

/// Loads the credentials in `dir`, making whatever is missing.
pub fn credentials(dir: &Path) -> Result<Credentials, BootstrapError> {
    std::fs::create_dir_all(dir).map_err(io(dir))?;
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        std::fs::set_permissions(dir, std::fs::Permissions::from_mode(0o700)).map_err(io(dir))?;
    }
    let pki = dir.join("pki");
    let ca_crt = pki.join("ca.crt");
    let ca_key = pki.join("ca.key");
    let serving_crt = pki.join("serving.crt");
    let serving_key = pki.join("serving.key");

    let (ca_pem, ca_key_pem) = match (read(&ca_crt)?, read(&ca_key)?) {
        (Some(cert), Some(key)) => (cert, key),
        _ => {
            let key = rcgen::KeyPair::generate_for(&rcgen::PKCS_ECDSA_P256_SHA256)?;
            let cert = ca_params()?.self_signed(&key)?;
            write_atomic(&ca_key, key.serialize_pem().as_bytes(), 0o600)?;
            write_atomic(&ca_crt, cert.pem().as_bytes(), 0o644)?;
            // A new CA invalidates any old serving certificate.
            let _ = std::fs::remove_file(&serving_crt);
            (cert.pem(), key.serialize_pem())
        }
    };
    let (serving_pem, key_pem) = match (read(&serving_crt)?, read(&serving_key)?) {
        (Some(cert), Some(key)) => (cert, key),
        _ => {
            let ca_key =
                rcgen::KeyPair::from_pem(&ca_key_pem).map_err(|e| BootstrapError::Invalid {
                    path: ca_key.clone(),
                    message: e.to_string(),
                })?;
            // The issuer's name and key identifier come from the CA's
            // subject and key, which these parameters reproduce.
            let issuer = rcgen::Issuer::new(ca_params()?, ca_key);
            let key = rcgen::KeyPair::generate_for(&rcgen::PKCS_ECDSA_P256_SHA256)?;
            let mut params = rcgen::CertificateParams::new(vec![
                "localhost".to_owned(),
                "127.0.0.1".to_owned(),
                "::1".to_owned(),
            ])?;
            params
                .distinguished_name
                .push(rcgen::DnType::CommonName, "certwasm-api");
            params.extended_key_usages = vec![rcgen::ExtendedKeyUsagePurpose::ServerAuth];
            params.not_before = time::OffsetDateTime::now_utc() - time::Duration::hours(1);
            params.not_after = params.not_before + time::Duration::days(3650);
            let cert = params.signed_by(&key, &issuer)?;
            write_atomic(&serving_key, key.serialize_pem().as_bytes(), 0o600)?;
            write_atomic(&serving_crt, cert.pem().as_bytes(), 0o644)?;
            (cert.pem(), key.serialize_pem())
        }
    };
    let token_path = dir.join("token");
    let token = match read(&token_path)? {
        Some(token) if !token.trim().is_empty() => token.trim().to_owned(),
        _ => {
            let mut bytes = [0u8; 32];
            rand::thread_rng().fill_bytes(&mut bytes);
            let token = hex::encode(bytes);
            write_atomic(&token_path, token.as_bytes(), 0o600)?;
            token
        }
    };
    Ok(Credentials {
        chain_pem: format!("{serving_pem}{ca_pem}"),
        ca_pem,
        key_pem,
        token,
    })
}

fn ca_params() -> Result<rcgen::CertificateParams, rcgen::Error> {
    let mut params = rcgen::CertificateParams::new(Vec::<String>::new())?;
    params
        .distinguished_name
        .push(rcgen::DnType::CommonName, "certwasm-api-ca");
    params.is_ca = rcgen::IsCa::Ca(rcgen::BasicConstraints::Unconstrained);
    params.key_usages = vec![
        rcgen::KeyUsagePurpose::KeyCertSign,
        rcgen::KeyUsagePurpose::CrlSign,
        rcgen::KeyUsagePurpose::DigitalSignature,
    ];
    params.not_before = time::OffsetDateTime::now_utc() - time::Duration::hours(1);
    params.not_after = params.not_before + time::Duration::days(3650);
    Ok(params)
}

/// The kubeconfig for `server` (`https://127.0.0.1:PORT`).
pub fn kubeconfig(server: &str, credentials: &Credentials) -> String {
    let ca = base64::engine::general_purpose::STANDARD.encode(credentials.ca_pem.as_bytes());
    format!(
        "apiVersion: v1
kind: Config
clusters:
- name: certwasm
  cluster:
    server: {server}
    certificate-authority-data: {ca}
users:
- name: certwasm-admin
  user:
    token: {token}
contexts:
- name: certwasm
  context:
    cluster: certwasm
    user: certwasm-admin
    namespace: default
current-context: certwasm
",
        token = credentials.token
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn credentials_are_made_once_and_reused() {
        let dir = tempfile::tempdir().expect("tempdir");
        let first = credentials(dir.path()).expect("made");
        let second = credentials(dir.path()).expect("reused");
        assert_eq!(first.token, second.token);
        assert_eq!(first.chain_pem, second.chain_pem);
        assert_eq!(first.token.len(), 64);
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt;
            let mode = |p: &str| {
                std::fs::metadata(dir.path().join(p))
                    .expect("exists")
                    .permissions()
                    .mode()
                    & 0o777
            };
            assert_eq!(mode("token"), 0o600);
            assert_eq!(mode("pki/serving.key"), 0o600);
            assert_eq!(mode("pki/ca.key"), 0o600);
        }
        let config = kubeconfig("https://127.0.0.1:1234", &first);
        assert!(config.contains("server: https://127.0.0.1:1234"));
        assert!(config.contains(&first.token));
    }
}
