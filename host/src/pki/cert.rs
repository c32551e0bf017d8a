//! Reading certificates: what the CLI summary shows and what renewal
//! policy compares, plus signature verification shared with CSR parsing.

use std::net::IpAddr;

use p256::pkcs8::DecodePublicKey;
use sha2::{Digest, Sha256, Sha384, Sha512};
use signature::Verifier;
use time::OffsetDateTime;
use x509_parser::extensions::GeneralName;

use super::error::PkiError;
use super::key::PrivateKey;
use super::usage::KeyUsage;

/// The parts of a certificate certwasm looks at.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CertificateInfo {
    /// RFC 4514-style, e.g. `CN=example.com, O=Example`.
    pub subject: String,
    pub issuer: String,
    pub common_name: Option<String>,
    pub dns_names: Vec<String>,
    pub ip_addresses: Vec<IpAddr>,
    pub uris: Vec<String>,
    pub emails: Vec<String>,
    /// Lower-case hex, colon-free.
    pub serial: String,
    pub not_before: OffsetDateTime,
    pub not_after: OffsetDateTime,
    pub is_ca: bool,
    /// E.g. `ECDSA P-256`, `RSA 2048`, `Ed25519`.
    pub key_algorithm: String,
    /// The subject public key, DER SubjectPublicKeyInfo.
    pub public_key_der: Vec<u8>,
    /// Key usage bits and extended key usages, in cert-manager's terms.
    pub usages: Vec<KeyUsage>,
    /// E.g. `ecdsa-with-SHA256`.
    pub signature_algorithm: String,
    /// The certificate, DER.
    pub der: Vec<u8>,
}

fn invalid(err: impl std::fmt::Display) -> PkiError {
    PkiError::InvalidCertificate(err.to_string())
}

/// Parses every `CERTIFICATE` block in `pem_text`, in order.
pub fn parse_certificate_chain(pem_text: &str) -> Result<Vec<CertificateInfo>, PkiError> {
    let blocks = pem::parse_many(pem_text).map_err(|e| PkiError::InvalidPem {
        what: "certificate",
        reason: e.to_string(),
    })?;
    let certs: Vec<CertificateInfo> = blocks
        .iter()
        .filter(|block| block.tag() == "CERTIFICATE")
        .map(|block| parse_der(block.contents()))
        .collect::<Result<_, _>>()?;
    if certs.is_empty() {
        return Err(PkiError::InvalidPem {
            what: "certificate",
            reason: "no CERTIFICATE block found".into(),
        });
    }
    Ok(certs)
}

fn parse_der(der: &[u8]) -> Result<CertificateInfo, PkiError> {
    let (_, cert) = x509_parser::parse_x509_certificate(der).map_err(invalid)?;
    let mut info = CertificateInfo {
        subject: cert.subject().to_string(),
        issuer: cert.issuer().to_string(),
        common_name: cert
            .subject()
            .iter_common_name()
            .next()
            .and_then(|cn| cn.as_str().ok())
            .map(str::to_owned),
        dns_names: Vec::new(),
        ip_addresses: Vec::new(),
        uris: Vec::new(),
        emails: Vec::new(),
        serial: hex::encode(cert.raw_serial()),
        not_before: cert.validity().not_before.to_datetime(),
        not_after: cert.validity().not_after.to_datetime(),
        is_ca: cert.is_ca(),
        key_algorithm: describe_key(cert.public_key().raw),
        public_key_der: cert.public_key().raw.to_vec(),
        usages: Vec::new(),
        signature_algorithm: signature_name(&cert.signature_algorithm.algorithm.to_id_string()).to_owned(),
        der: der.to_vec(),
    };
    if let Ok(Some(san)) = cert.subject_alternative_name() {
        for name in &san.value.general_names {
            match name {
                GeneralName::DNSName(dns) => info.dns_names.push((*dns).to_owned()),
                GeneralName::URI(uri) => info.uris.push((*uri).to_owned()),
                GeneralName::RFC822Name(email) => info.emails.push((*email).to_owned()),
                GeneralName::IPAddress(bytes) => info.ip_addresses.extend(ip_from_bytes(bytes)),
                _ => {}
            }
        }
    }
    if let Ok(Some(ku)) = cert.key_usage() {
        let ku = ku.value;
        let bits = [
            (ku.digital_signature(), KeyUsage::DigitalSignature),
            (ku.non_repudiation(), KeyUsage::ContentCommitment),
            (ku.key_encipherment(), KeyUsage::KeyEncipherment),
            (ku.key_agreement(), KeyUsage::KeyAgreement),
            (ku.data_encipherment(), KeyUsage::DataEncipherment),
            (ku.key_cert_sign(), KeyUsage::CertSign),
            (ku.crl_sign(), KeyUsage::CrlSign),
            (ku.encipher_only(), KeyUsage::EncipherOnly),
            (ku.decipher_only(), KeyUsage::DecipherOnly),
        ];
        info.usages.extend(bits.iter().filter(|(set, _)| *set).map(|(_, usage)| *usage));
    }
    if let Ok(Some(eku)) = cert.extended_key_usage() {
        let eku = eku.value;
        let flags = [
            (eku.any, KeyUsage::Any),
            (eku.server_auth, KeyUsage::ServerAuth),
            (eku.client_auth, KeyUsage::ClientAuth),
            (eku.code_signing, KeyUsage::CodeSigning),
            (eku.email_protection, KeyUsage::EmailProtection),
            (eku.time_stamping, KeyUsage::Timestamping),
            (eku.ocsp_signing, KeyUsage::OcspSigning),
        ];
        info.usages.extend(flags.iter().filter(|(set, _)| *set).map(|(_, usage)| *usage));
        for other in &eku.other {
            let id = other.to_id_string();
            if let Some(usage) = KeyUsage::all().find(|u| {
                u.extended_oid()
                    .is_some_and(|oid| oid.iter().map(u64::to_string).collect::<Vec<_>>().join(".") == id)
            }) {
                info.usages.push(usage);
            }
        }
    }
    Ok(info)
}

/// Whether `key` is the private half of the certificate's public key.
pub fn public_key_matches(cert: &CertificateInfo, key: &PrivateKey) -> bool {
    cert.public_key_der == key.public_key_der_ref()
}

pub(crate) fn ip_from_bytes(bytes: &[u8]) -> Option<IpAddr> {
    match bytes.len() {
        4 => <[u8; 4]>::try_from(bytes).ok().map(IpAddr::from),
        16 => <[u8; 16]>::try_from(bytes).ok().map(IpAddr::from),
        _ => None,
    }
}

fn describe_key(spki_der: &[u8]) -> String {
    if p256::ecdsa::VerifyingKey::from_public_key_der(spki_der).is_ok() {
        return "ECDSA P-256".into();
    }
    if p384::ecdsa::VerifyingKey::from_public_key_der(spki_der).is_ok() {
        return "ECDSA P-384".into();
    }
    if ed25519_dalek::VerifyingKey::from_public_key_der(spki_der).is_ok() {
        return "Ed25519".into();
    }
    if let Ok(key) = rsa::RsaPublicKey::from_public_key_der(spki_der) {
        use rsa::traits::PublicKeyParts;
        return format!("RSA {}", key.size() * 8);
    }
    "unknown".into()
}

fn signature_name(oid: &str) -> &'static str {
    match oid {
        "1.2.840.10045.4.3.2" => "ecdsa-with-SHA256",
        "1.2.840.10045.4.3.3" => "ecdsa-with-SHA384",
        "1.2.840.10045.4.3.4" => "ecdsa-with-SHA512",
        "1.2.840.113549.1.1.11" => "sha256WithRSAEncryption",
        "1.2.840.113549.1.1.12" => "sha384WithRSAEncryption",
        "1.2.840.113549.1.1.13" => "sha512WithRSAEncryption",
        "1.2.840.113549.1.1.5" => "sha1WithRSAEncryption",
        "1.3.101.112" => "ED25519",
        _ => "unknown",
    }
}

/// Verifies `signature` over `data` by the key in `spki_der`, for the X.509
/// signature algorithm `oid`. Done with RustCrypto so the host needs no
/// second crypto stack.
pub(crate) fn verify_signature(spki_der: &[u8], oid: &str, data: &[u8], signature: &[u8]) -> Result<(), PkiError> {
    let bad = |_| PkiError::CsrSignatureInvalid;
    match oid {
        "1.2.840.10045.4.3.2" => {
            let key = p256::ecdsa::VerifyingKey::from_public_key_der(spki_der).map_err(|_| PkiError::CsrSignatureInvalid)?;
            let sig = p256::ecdsa::Signature::from_der(signature).map_err(bad)?;
            key.verify(data, &sig).map_err(bad)
        }
        "1.2.840.10045.4.3.3" => {
            let key = p384::ecdsa::VerifyingKey::from_public_key_der(spki_der).map_err(|_| PkiError::CsrSignatureInvalid)?;
            let sig = p384::ecdsa::Signature::from_der(signature).map_err(bad)?;
            key.verify(data, &sig).map_err(bad)
        }
        "1.3.101.112" => {
            let key = ed25519_dalek::VerifyingKey::from_public_key_der(spki_der).map_err(|_| PkiError::CsrSignatureInvalid)?;
            let sig = ed25519_dalek::Signature::from_slice(signature).map_err(|_| PkiError::CsrSignatureInvalid)?;
            key.verify(data, &sig).map_err(|_| PkiError::CsrSignatureInvalid)
        }
        "1.2.840.113549.1.1.11" | "1.2.840.113549.1.1.12" | "1.2.840.113549.1.1.13" => {
            let key = rsa::RsaPublicKey::from_public_key_der(spki_der).map_err(|_| PkiError::CsrSignatureInvalid)?;
            let (padding, digest) = match oid {
                "1.2.840.113549.1.1.11" => (rsa::Pkcs1v15Sign::new::<Sha256>(), Sha256::digest(data).to_vec()),
                "1.2.840.113549.1.1.12" => (rsa::Pkcs1v15Sign::new::<Sha384>(), Sha384::digest(data).to_vec()),
                _ => (rsa::Pkcs1v15Sign::new::<Sha512>(), Sha512::digest(data).to_vec()),
            };
            rsa::traits::SignatureScheme::verify(padding, &key, &digest, signature).map_err(|_| PkiError::CsrSignatureInvalid)
        }
        other => Err(PkiError::InvalidCsr(format!("unsupported signature algorithm {other}"))),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A certificate made by openssl, so parsing is checked against an
    /// independent implementation.
    #[test]
    fn reads_an_openssl_certificate() {
        let dir = tempfile::tempdir().unwrap();
        let out = std::process::Command::new("openssl")
            .args([
                "req", "-x509", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:P-256", "-nodes", "-days", "7",
                "-subj", "/CN=openssl.example/O=Example", "-addext",
                "subjectAltName=DNS:openssl.example,IP:127.0.0.1,URI:spiffe://x/y,email:a@b.example",
                "-addext", "extendedKeyUsage=serverAuth,clientAuth", "-addext", "keyUsage=digitalSignature",
                "-keyout",
            ])
            .arg(dir.path().join("key.pem"))
            .arg("-out")
            .arg(dir.path().join("cert.pem"))
            .output()
            .unwrap();
        assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
        let pem_text = std::fs::read_to_string(dir.path().join("cert.pem")).unwrap();
        let chain = parse_certificate_chain(&pem_text).unwrap();
        assert_eq!(chain.len(), 1);
        let cert = &chain[0];
        assert_eq!(cert.common_name.as_deref(), Some("openssl.example"));
        assert!(cert.subject.contains("O=Example"), "{}", cert.subject);
        assert_eq!(cert.dns_names, ["openssl.example"]);
        assert_eq!(cert.ip_addresses, ["127.0.0.1".parse::<IpAddr>().unwrap()]);
        assert_eq!(cert.uris, ["spiffe://x/y"]);
        assert_eq!(cert.emails, ["a@b.example"]);
        assert_eq!(cert.key_algorithm, "ECDSA P-256");
        assert_eq!(cert.signature_algorithm, "ecdsa-with-SHA256");
        assert_eq!(cert.usages, [KeyUsage::DigitalSignature, KeyUsage::ServerAuth, KeyUsage::ClientAuth]);
        assert_eq!((cert.not_after - cert.not_before).whole_days(), 7);
        let key = PrivateKey::from_pem(&std::fs::read_to_string(dir.path().join("key.pem")).unwrap()).unwrap();
        assert!(public_key_matches(cert, &key));
        let other = PrivateKey::generate(crate::pki::KeyAlgorithm::EcdsaP256).unwrap();
        assert!(!public_key_matches(cert, &other));
    }

    #[test]
    fn refuses_non_certificates() {
        assert!(parse_certificate_chain("").is_err());
        assert!(parse_certificate_chain("-----BEGIN CERTIFICATE-----\nAAAA\n-----END CERTIFICATE-----\n").is_err());
    }
}
