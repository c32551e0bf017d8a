//! A chain as Venafi returns it (PEM, leaf first, often ending with the
//! root) split the way cert-manager's `ParseSingleCertificateChainPEM`
//! splits it: the root is not sent in `tls.crt` but becomes `ca.crt`; a
//! chain that stops below its root keeps its last certificate and names it
//! as the CA.

use certwasm_plugin_sdk::types::Issued;
use certwasm_plugin_sdk::x509::{Certificate, X509Error, pem};

/// Why Venafi's answer is not a usable chain.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ChainError {
    #[error("the returned certificate is not PEM: {0}")]
    Pem(X509Error),
    #[error("the returned bundle holds no certificate")]
    Empty,
    #[error("the returned certificate cannot be parsed: {0}")]
    Certificate(X509Error),
}

/// Splits a PEM chain into the certificate chain and the CA.
pub fn split(chain_pem: &str) -> Result<Issued, ChainError> {
    let blocks = pem::decode_all(chain_pem).map_err(ChainError::Pem)?;
    let certificates = blocks
        .into_iter()
        .filter(|block| block.label == "CERTIFICATE")
        .map(|block| Certificate::from_der(block.der).map_err(ChainError::Certificate))
        .collect::<Result<Vec<_>, _>>()?;
    let Some(last) = certificates.last() else {
        return Err(ChainError::Empty);
    };
    let (chain, ca) = if certificates.len() == 1 {
        (&certificates[..], None)
    } else if last.is_self_signed() {
        (&certificates[..certificates.len() - 1], Some(last))
    } else {
        (&certificates[..], Some(last))
    };
    Ok(Issued {
        certificate_chain_pem: chain.iter().map(Certificate::to_pem).collect(),
        ca_pem: ca.map(Certificate::to_pem),
    })
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;
    use certwasm_plugin_sdk::testing::openssl;

    /// A root, an intermediate it signed and a leaf, made by openssl.
    pub(crate) fn pki() -> (String, String, String) {
        static NEXT: std::sync::atomic::AtomicUsize = std::sync::atomic::AtomicUsize::new(0);
        let n = NEXT.fetch_add(1, std::sync::atomic::Ordering::SeqCst);
        let dir = std::env::temp_dir().join(format!("venafi-chain-{}-{n}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let path = |name: &str| dir.join(name).to_str().unwrap().to_owned();
        let ext = path("ext.cnf");
        std::fs::write(&ext, "[ca]\nbasicConstraints=critical,CA:TRUE\n").unwrap();
        openssl(&[
            "req",
            "-x509",
            "-newkey",
            "ec",
            "-pkeyopt",
            "ec_paramgen_curve:P-256",
            "-nodes",
            "-keyout",
            &path("root.key"),
            "-out",
            &path("root.pem"),
            "-subj",
            "/CN=Root",
            "-days",
            "2",
        ]);
        for (name, issuer, extensions) in [("int", "root", "-extfile"), ("leaf", "int", "")] {
            openssl(&[
                "req",
                "-newkey",
                "ec",
                "-pkeyopt",
                "ec_paramgen_curve:P-256",
                "-nodes",
                "-keyout",
                &path(&format!("{name}.key")),
                "-out",
                &path(&format!("{name}.csr")),
                "-subj",
                &format!("/CN={name}"),
            ]);
            let mut args = vec![
                "x509".to_owned(),
                "-req".into(),
                "-in".into(),
                path(&format!("{name}.csr")),
                "-CA".into(),
                path(&format!("{issuer}.pem")),
                "-CAkey".into(),
                path(&format!("{issuer}.key")),
                "-days".into(),
                "1".into(),
                "-out".into(),
                path(&format!("{name}.pem")),
            ];
            if !extensions.is_empty() {
                args.extend([
                    extensions.to_owned(),
                    ext.clone(),
                    "-extensions".into(),
                    "ca".into(),
                ]);
            }
            let args: Vec<&str> = args.iter().map(String::as_str).collect();
            openssl(&args);
        }
        let read = |name: &str| std::fs::read_to_string(path(&format!("{name}.pem"))).unwrap();
        let out = (read("leaf"), read("int"), read("root"));
        let _ = std::fs::remove_dir_all(&dir);
        out
    }

    #[test]
    fn the_root_becomes_ca_crt() {
        let (leaf, int, root) = pki();
        let issued = split(&format!("{leaf}{int}{root}")).unwrap();
        assert_eq!(issued.certificate_chain_pem, format!("{leaf}{int}"));
        assert_eq!(issued.ca_pem.as_deref(), Some(root.as_str()));
        // Without the root, the intermediate stays in the chain and is the CA.
        let issued = split(&format!("{leaf}{int}")).unwrap();
        assert_eq!(issued.certificate_chain_pem, format!("{leaf}{int}"));
        assert_eq!(issued.ca_pem.as_deref(), Some(int.as_str()));
        let issued = split(&leaf).unwrap();
        assert_eq!((issued.certificate_chain_pem, issued.ca_pem), (leaf, None));
    }

    #[test]
    fn garbage_is_refused() {
        assert!(matches!(split("no pem here"), Err(ChainError::Empty)));
        assert!(split("-----BEGIN CERTIFICATE-----\nAAAA\n-----END CERTIFICATE-----\n").is_err());
    }
}
