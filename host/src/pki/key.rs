//! Private keys: generation, PEM in both of cert-manager's encodings, and
//! signing. The only place private key material exists in certwasm.

use p256::pkcs8::{DecodePrivateKey, EncodePrivateKey, EncodePublicKey, LineEnding};
use rsa::pkcs1::{DecodeRsaPrivateKey, EncodeRsaPrivateKey};
use rsa::traits::PublicKeyParts;
use sha2::{Digest, Sha256, Sha384, Sha512};
use signature::Signer;

use super::error::PkiError;

/// A key type and size, as cert-manager's `spec.privateKey` names them.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum KeyAlgorithm {
    Rsa2048,
    Rsa3072,
    Rsa4096,
    EcdsaP256,
    EcdsaP384,
    Ed25519,
}

impl KeyAlgorithm {
    /// Resolves `privateKey.algorithm` and `privateKey.size` with
    /// cert-manager's defaults: RSA when no algorithm is given, 2048 bits
    /// for RSA and P-256 for ECDSA when no size is given; Ed25519 has no size.
    pub fn from_spec(algorithm: Option<&str>, size: Option<u32>) -> Result<Self, PkiError> {
        let size = size.filter(|s| *s != 0);
        match algorithm.unwrap_or("RSA") {
            "RSA" | "" => match size.unwrap_or(2048) {
                2048 => Ok(Self::Rsa2048),
                3072 => Ok(Self::Rsa3072),
                4096 => Ok(Self::Rsa4096),
                other => Err(PkiError::UnsupportedKeySize {
                    algorithm: "RSA",
                    size: other,
                    supported: "2048, 3072, 4096",
                }),
            },
            "ECDSA" => match size.unwrap_or(256) {
                256 => Ok(Self::EcdsaP256),
                384 => Ok(Self::EcdsaP384),
                other => Err(PkiError::UnsupportedKeySize {
                    algorithm: "ECDSA",
                    size: other,
                    supported: "256, 384 (P-521 is not supported yet)",
                }),
            },
            "Ed25519" => Ok(Self::Ed25519),
            other => Err(PkiError::UnsupportedAlgorithm(other.to_owned())),
        }
    }

    /// A short human name, e.g. `ECDSA P-256`.
    pub fn describe(self) -> &'static str {
        match self {
            Self::Rsa2048 => "RSA 2048",
            Self::Rsa3072 => "RSA 3072",
            Self::Rsa4096 => "RSA 4096",
            Self::EcdsaP256 => "ECDSA P-256",
            Self::EcdsaP384 => "ECDSA P-384",
            Self::Ed25519 => "Ed25519",
        }
    }
}

/// How a signature is made; mirrors the WIT `signature-algorithm`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum SignatureAlgorithm {
    EcdsaP256Sha256,
    EcdsaP384Sha384,
    RsaPkcs1Sha256,
    RsaPkcs1Sha384,
    RsaPkcs1Sha512,
    Ed25519,
}

impl SignatureAlgorithm {
    fn name(self) -> &'static str {
        match self {
            Self::EcdsaP256Sha256 => "ECDSA P-256 SHA-256",
            Self::EcdsaP384Sha384 => "ECDSA P-384 SHA-384",
            Self::RsaPkcs1Sha256 => "RSA PKCS#1 SHA-256",
            Self::RsaPkcs1Sha384 => "RSA PKCS#1 SHA-384",
            Self::RsaPkcs1Sha512 => "RSA PKCS#1 SHA-512",
            Self::Ed25519 => "Ed25519",
        }
    }
}

/// cert-manager's `privateKey.encoding`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default)]
pub enum KeyEncoding {
    /// `RSA PRIVATE KEY` for RSA, SEC1 `EC PRIVATE KEY` for ECDSA; Ed25519
    /// has no PKCS#1 form and is written as PKCS#8, as cert-manager does.
    #[default]
    Pkcs1,
    /// `PRIVATE KEY` for every algorithm.
    Pkcs8,
}

enum Material {
    Rsa(Box<rsa::RsaPrivateKey>),
    P256(p256::ecdsa::SigningKey),
    P384(p384::ecdsa::SigningKey),
    Ed25519(Box<ed25519_dalek::SigningKey>),
}

/// A private key, with its public half precomputed (signing is on the hot
/// path of every issuance; re-deriving the SPKI per call would not be).
///
/// `Debug` shows the algorithm only; the key material zeroizes on drop
/// (the RustCrypto types do it themselves).
pub struct PrivateKey {
    material: Material,
    algorithm: KeyAlgorithm,
    public_key_der: Vec<u8>,
}

impl std::fmt::Debug for PrivateKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("PrivateKey").field("algorithm", &self.algorithm).finish_non_exhaustive()
    }
}

fn encode_err(err: impl std::fmt::Display) -> PkiError {
    PkiError::Encode(err.to_string())
}

impl PrivateKey {
    fn from_material(material: Material) -> Result<Self, PkiError> {
        let (algorithm, public_key_der) = match &material {
            Material::Rsa(key) => {
                let algorithm = match key.size() * 8 {
                    2048 => KeyAlgorithm::Rsa2048,
                    3072 => KeyAlgorithm::Rsa3072,
                    4096 => KeyAlgorithm::Rsa4096,
                    other => {
                        return Err(PkiError::UnsupportedKeySize {
                            algorithm: "RSA",
                            size: u32::try_from(other).unwrap_or(u32::MAX),
                            supported: "2048, 3072, 4096",
                        });
                    }
                };
                let der = key.to_public_key().to_public_key_der().map_err(encode_err)?;
                (algorithm, der.into_vec())
            }
            Material::P256(key) => (
                KeyAlgorithm::EcdsaP256,
                key.verifying_key().to_public_key_der().map_err(encode_err)?.into_vec(),
            ),
            Material::P384(key) => (
                KeyAlgorithm::EcdsaP384,
                key.verifying_key().to_public_key_der().map_err(encode_err)?.into_vec(),
            ),
            Material::Ed25519(key) => (
                KeyAlgorithm::Ed25519,
                key.verifying_key().to_public_key_der().map_err(encode_err)?.into_vec(),
            ),
        };
        Ok(Self {
            material,
            algorithm,
            public_key_der,
        })
    }

    /// Generates a fresh key from the operating system's CSPRNG.
    pub fn generate(algorithm: KeyAlgorithm) -> Result<Self, PkiError> {
        let mut rng = rand::rngs::OsRng;
        let rsa = |bits: usize| {
            rsa::RsaPrivateKey::new(&mut rand::rngs::OsRng, bits)
                .map(|key| Material::Rsa(Box::new(key)))
                .map_err(|e| PkiError::Generate {
                    algorithm: algorithm.describe(),
                    reason: e.to_string(),
                })
        };
        let material = match algorithm {
            KeyAlgorithm::Rsa2048 => rsa(2048)?,
            KeyAlgorithm::Rsa3072 => rsa(3072)?,
            KeyAlgorithm::Rsa4096 => rsa(4096)?,
            KeyAlgorithm::EcdsaP256 => Material::P256(p256::ecdsa::SigningKey::random(&mut rng)),
            KeyAlgorithm::EcdsaP384 => Material::P384(p384::ecdsa::SigningKey::random(&mut rng)),
            KeyAlgorithm::Ed25519 => Material::Ed25519(Box::new(ed25519_dalek::SigningKey::generate(&mut rng))),
        };
        Self::from_material(material)
    }

    /// Reads a PEM private key: PKCS#1 `RSA PRIVATE KEY`, SEC1 `EC PRIVATE
    /// KEY` or PKCS#8 `PRIVATE KEY` (RSA, P-256, P-384, Ed25519). The first
    /// PEM block that is a private key is used; others (a certificate in the
    /// same file) are skipped, as cert-manager does with `tls.key`.
    pub fn from_pem(text: &str) -> Result<Self, PkiError> {
        let blocks = pem::parse_many(text).map_err(|e| PkiError::InvalidPem {
            what: "private key",
            reason: e.to_string(),
        })?;
        let block = blocks
            .iter()
            .find(|b| b.tag().ends_with("PRIVATE KEY"))
            .ok_or_else(|| PkiError::InvalidPem {
                what: "private key",
                reason: "no PRIVATE KEY block found".into(),
            })?;
        let der = block.contents();
        let invalid = |e: &dyn std::fmt::Display| PkiError::InvalidKey(e.to_string());
        let material = match block.tag() {
            "RSA PRIVATE KEY" => Material::Rsa(Box::new(rsa::RsaPrivateKey::from_pkcs1_der(der).map_err(|e| invalid(&e))?)),
            "EC PRIVATE KEY" => {
                if let Ok(key) = p256::SecretKey::from_sec1_der(der) {
                    Material::P256(key.into())
                } else {
                    let key = p384::SecretKey::from_sec1_der(der)
                        .map_err(|_| PkiError::InvalidKey("EC key is neither P-256 nor P-384 (or is malformed)".into()))?;
                    Material::P384(key.into())
                }
            }
            "PRIVATE KEY" => Self::material_from_pkcs8(der)?,
            other => return Err(PkiError::InvalidKey(format!("unsupported PEM block {other:?}"))),
        };
        Self::from_material(material)
    }

    fn material_from_pkcs8(der: &[u8]) -> Result<Material, PkiError> {
        if let Ok(key) = p256::ecdsa::SigningKey::from_pkcs8_der(der) {
            return Ok(Material::P256(key));
        }
        if let Ok(key) = p384::ecdsa::SigningKey::from_pkcs8_der(der) {
            return Ok(Material::P384(key));
        }
        if let Ok(key) = ed25519_dalek::SigningKey::from_pkcs8_der(der) {
            return Ok(Material::Ed25519(Box::new(key)));
        }
        rsa::RsaPrivateKey::from_pkcs8_der(der)
            .map(|key| Material::Rsa(Box::new(key)))
            .map_err(|e| PkiError::InvalidKey(format!("PKCS#8 key is not RSA, P-256, P-384 or Ed25519: {e}")))
    }

    /// Writes the key as PEM in cert-manager's `privateKey.encoding`.
    pub fn to_pem(&self, encoding: KeyEncoding) -> Result<String, PkiError> {
        let pem = match (&self.material, encoding) {
            (Material::Rsa(key), KeyEncoding::Pkcs1) => key.to_pkcs1_pem(LineEnding::LF).map_err(encode_err)?,
            (Material::P256(key), KeyEncoding::Pkcs1) => sec1_pem(
                &key.to_bytes(),
                P256_OID,
                key.verifying_key().to_encoded_point(false).as_bytes(),
            )?
            .into(),
            (Material::P384(key), KeyEncoding::Pkcs1) => sec1_pem(
                &key.to_bytes(),
                P384_OID,
                key.verifying_key().to_encoded_point(false).as_bytes(),
            )?
            .into(),
            (Material::Rsa(key), _) => key.to_pkcs8_pem(LineEnding::LF).map_err(encode_err)?,
            (Material::P256(key), _) => key.to_pkcs8_pem(LineEnding::LF).map_err(encode_err)?,
            (Material::P384(key), _) => key.to_pkcs8_pem(LineEnding::LF).map_err(encode_err)?,
            (Material::Ed25519(key), _) => ed25519_pkcs8_v1_pem(key)?,
        };
        Ok(pem.to_string())
    }

    /// The key as PKCS#8 DER (for keystores and `key.der` output).
    pub fn to_der_pkcs8(&self) -> Result<Vec<u8>, PkiError> {
        let doc = match &self.material {
            Material::Rsa(key) => key.to_pkcs8_der(),
            Material::P256(key) => key.to_pkcs8_der(),
            Material::P384(key) => key.to_pkcs8_der(),
            Material::Ed25519(key) => return ed25519_pkcs8_v1_der(key).map(|der| der.to_vec()),
        }
        .map_err(encode_err)?;
        Ok(doc.as_bytes().to_vec())
    }

    /// The key's type and size.
    pub fn algorithm(&self) -> KeyAlgorithm {
        self.algorithm
    }

    /// The public half, DER SubjectPublicKeyInfo.
    pub fn public_key_der(&self) -> Vec<u8> {
        self.public_key_der.clone()
    }

    /// The public half, borrowed.
    pub fn public_key_der_ref(&self) -> &[u8] {
        &self.public_key_der
    }

    /// The signature algorithm cert-manager would pick for this key: SHA-512
    /// for RSA 4096, SHA-384 for RSA 3072 and P-384, SHA-256 otherwise.
    pub fn default_signature_algorithm(&self) -> SignatureAlgorithm {
        match self.algorithm {
            KeyAlgorithm::Rsa2048 => SignatureAlgorithm::RsaPkcs1Sha256,
            KeyAlgorithm::Rsa3072 => SignatureAlgorithm::RsaPkcs1Sha384,
            KeyAlgorithm::Rsa4096 => SignatureAlgorithm::RsaPkcs1Sha512,
            KeyAlgorithm::EcdsaP256 => SignatureAlgorithm::EcdsaP256Sha256,
            KeyAlgorithm::EcdsaP384 => SignatureAlgorithm::EcdsaP384Sha384,
            KeyAlgorithm::Ed25519 => SignatureAlgorithm::Ed25519,
        }
    }

    /// Signs `data` (hashing it as `algorithm` requires). ECDSA signatures
    /// are ASN.1 DER, RSA is PKCS#1 v1.5 (blinded), Ed25519 is pure.
    pub fn sign(&self, algorithm: SignatureAlgorithm, data: &[u8]) -> Result<Vec<u8>, PkiError> {
        let mismatch = || PkiError::AlgorithmMismatch {
            signature: algorithm.name(),
            key: self.algorithm.describe(),
        };
        match (&self.material, algorithm) {
            (Material::P256(key), SignatureAlgorithm::EcdsaP256Sha256) => {
                let signature: p256::ecdsa::Signature = key.try_sign(data).map_err(|e| PkiError::Sign(e.to_string()))?;
                Ok(signature.to_der().as_bytes().to_vec())
            }
            (Material::P384(key), SignatureAlgorithm::EcdsaP384Sha384) => {
                let signature: p384::ecdsa::Signature = key.try_sign(data).map_err(|e| PkiError::Sign(e.to_string()))?;
                Ok(signature.to_der().as_bytes().to_vec())
            }
            (Material::Ed25519(key), SignatureAlgorithm::Ed25519) => Ok(key.sign(data).to_bytes().to_vec()),
            (Material::Rsa(key), SignatureAlgorithm::RsaPkcs1Sha256) => {
                rsa_sign(key, rsa::Pkcs1v15Sign::new::<Sha256>(), &Sha256::digest(data))
            }
            (Material::Rsa(key), SignatureAlgorithm::RsaPkcs1Sha384) => {
                rsa_sign(key, rsa::Pkcs1v15Sign::new::<Sha384>(), &Sha384::digest(data))
            }
            (Material::Rsa(key), SignatureAlgorithm::RsaPkcs1Sha512) => {
                rsa_sign(key, rsa::Pkcs1v15Sign::new::<Sha512>(), &Sha512::digest(data))
            }
            _ => Err(mismatch()),
        }
    }
}

/// Ed25519 as PKCS#8 v1 (RFC 8410 §7): the seed alone. ed25519-dalek writes
/// v2 with the public key attached, which OpenSSL 3.0 refuses to read.
fn ed25519_pkcs8_v1_der(key: &ed25519_dalek::SigningKey) -> Result<zeroize::Zeroizing<Vec<u8>>, PkiError> {
    use der::Encode;
    // CurvePrivateKey ::= OCTET STRING, itself carried in privateKey.
    let mut inner = zeroize::Zeroizing::new(vec![0x04, 0x20]);
    inner.extend_from_slice(&key.to_bytes());
    let info = pkcs8::PrivateKeyInfo {
        algorithm: pkcs8::AlgorithmIdentifierRef {
            oid: der::oid::ObjectIdentifier::new_unwrap("1.3.101.112"),
            parameters: None,
        },
        private_key: &inner,
        public_key: None,
    };
    Ok(zeroize::Zeroizing::new(info.to_der().map_err(encode_err)?))
}

fn ed25519_pkcs8_v1_pem(key: &ed25519_dalek::SigningKey) -> Result<zeroize::Zeroizing<String>, PkiError> {
    let der = ed25519_pkcs8_v1_der(key)?;
    Ok(zeroize::Zeroizing::new(pem::encode_config(
        &pem::Pem::new("PRIVATE KEY", der.to_vec()),
        pem::EncodeConfig::new().set_line_ending(pem::LineEnding::LF),
    )))
}

const P256_OID: &str = "1.2.840.10045.3.1.7";
const P384_OID: &str = "1.3.132.0.34";

/// SEC1 `EC PRIVATE KEY` with the curve named, as OpenSSL and Go write it.
/// (The RustCrypto encoder omits the optional curve parameters, and OpenSSL
/// then cannot read a P-384 key.)
fn sec1_pem(secret: &[u8], curve_oid: &str, public_point: &[u8]) -> Result<zeroize::Zeroizing<String>, PkiError> {
    use der::Encode;
    let oid = der::oid::ObjectIdentifier::new(curve_oid).map_err(encode_err)?;
    let key = sec1::EcPrivateKey {
        private_key: secret,
        parameters: Some(sec1::EcParameters::NamedCurve(oid)),
        public_key: Some(public_point),
    };
    let der = zeroize::Zeroizing::new(key.to_der().map_err(encode_err)?);
    Ok(zeroize::Zeroizing::new(pem::encode_config(
        &pem::Pem::new("EC PRIVATE KEY", der.to_vec()),
        pem::EncodeConfig::new().set_line_ending(pem::LineEnding::LF),
    )))
}

fn rsa_sign(key: &rsa::RsaPrivateKey, padding: rsa::Pkcs1v15Sign, digest: &[u8]) -> Result<Vec<u8>, PkiError> {
    key.sign_with_rng(&mut rand::rngs::OsRng, padding, digest)
        .map_err(|e| PkiError::Sign(e.to_string()))
}

#[cfg(test)]
mod tests {
    use super::*;
    use p256::pkcs8::DecodePublicKey;
    use signature::Verifier;

    const ALL: [KeyAlgorithm; 6] = [
        KeyAlgorithm::Rsa2048,
        KeyAlgorithm::Rsa3072,
        KeyAlgorithm::Rsa4096,
        KeyAlgorithm::EcdsaP256,
        KeyAlgorithm::EcdsaP384,
        KeyAlgorithm::Ed25519,
    ];

    fn verify(spki: &[u8], algorithm: SignatureAlgorithm, data: &[u8], signature: &[u8]) -> bool {
        match algorithm {
            SignatureAlgorithm::EcdsaP256Sha256 => {
                let key = p256::ecdsa::VerifyingKey::from_public_key_der(spki).unwrap();
                let sig = p256::ecdsa::Signature::from_der(signature).unwrap();
                key.verify(data, &sig).is_ok()
            }
            SignatureAlgorithm::EcdsaP384Sha384 => {
                let key = p384::ecdsa::VerifyingKey::from_public_key_der(spki).unwrap();
                let sig = p384::ecdsa::Signature::from_der(signature).unwrap();
                key.verify(data, &sig).is_ok()
            }
            SignatureAlgorithm::Ed25519 => {
                let key = ed25519_dalek::VerifyingKey::from_public_key_der(spki).unwrap();
                let sig = ed25519_dalek::Signature::from_slice(signature).unwrap();
                key.verify(data, &sig).is_ok()
            }
            rsa_alg => {
                let key = rsa::RsaPublicKey::from_public_key_der(spki).unwrap();
                let (padding, digest) = match rsa_alg {
                    SignatureAlgorithm::RsaPkcs1Sha256 => (rsa::Pkcs1v15Sign::new::<Sha256>(), Sha256::digest(data).to_vec()),
                    SignatureAlgorithm::RsaPkcs1Sha384 => (rsa::Pkcs1v15Sign::new::<Sha384>(), Sha384::digest(data).to_vec()),
                    _ => (rsa::Pkcs1v15Sign::new::<Sha512>(), Sha512::digest(data).to_vec()),
                };
                rsa::traits::SignatureScheme::verify(padding, &key, &digest, signature).is_ok()
            }
        }
    }

    #[test]
    fn every_algorithm_generates_signs_and_round_trips() {
        for algorithm in ALL {
            let key = PrivateKey::generate(algorithm).unwrap();
            assert_eq!(key.algorithm(), algorithm);
            let sig_alg = key.default_signature_algorithm();
            let data = b"to be signed";
            let signature = key.sign(sig_alg, data).unwrap();
            assert!(verify(key.public_key_der_ref(), sig_alg, data, &signature), "{algorithm:?}");
            assert!(!verify(key.public_key_der_ref(), sig_alg, b"something else", &signature), "{algorithm:?}");
            for encoding in [KeyEncoding::Pkcs1, KeyEncoding::Pkcs8] {
                let pem = key.to_pem(encoding).unwrap();
                let back = PrivateKey::from_pem(&pem).unwrap();
                assert_eq!(back.public_key_der(), key.public_key_der(), "{algorithm:?} {encoding:?}");
            }
        }
    }

    #[test]
    fn encodings_use_cert_managers_pem_labels() {
        let label = |alg, enc| {
            let pem = PrivateKey::generate(alg).unwrap().to_pem(enc).unwrap();
            pem.lines().next().unwrap().to_owned()
        };
        assert_eq!(label(KeyAlgorithm::Rsa2048, KeyEncoding::Pkcs1), "-----BEGIN RSA PRIVATE KEY-----");
        assert_eq!(label(KeyAlgorithm::EcdsaP256, KeyEncoding::Pkcs1), "-----BEGIN EC PRIVATE KEY-----");
        assert_eq!(label(KeyAlgorithm::Ed25519, KeyEncoding::Pkcs1), "-----BEGIN PRIVATE KEY-----");
        assert_eq!(label(KeyAlgorithm::EcdsaP384, KeyEncoding::Pkcs8), "-----BEGIN PRIVATE KEY-----");
    }

    #[test]
    fn a_mismatched_algorithm_is_refused_by_name() {
        let key = PrivateKey::generate(KeyAlgorithm::EcdsaP256).unwrap();
        let err = key.sign(SignatureAlgorithm::RsaPkcs1Sha256, b"x").unwrap_err();
        assert_eq!(err.to_string(), "signature algorithm RSA PKCS#1 SHA-256 cannot be used with a ECDSA P-256 key");
        assert!(key.sign(SignatureAlgorithm::EcdsaP384Sha384, b"x").is_err());
    }

    #[test]
    fn spec_defaults_and_limits_follow_cert_manager() {
        assert_eq!(KeyAlgorithm::from_spec(None, None), Ok(KeyAlgorithm::Rsa2048));
        assert_eq!(KeyAlgorithm::from_spec(Some("ECDSA"), None), Ok(KeyAlgorithm::EcdsaP256));
        assert_eq!(KeyAlgorithm::from_spec(Some("ECDSA"), Some(384)), Ok(KeyAlgorithm::EcdsaP384));
        assert_eq!(KeyAlgorithm::from_spec(Some("RSA"), Some(4096)), Ok(KeyAlgorithm::Rsa4096));
        assert_eq!(KeyAlgorithm::from_spec(Some("Ed25519"), Some(999)), Ok(KeyAlgorithm::Ed25519));
        assert!(matches!(KeyAlgorithm::from_spec(Some("RSA"), Some(1024)), Err(PkiError::UnsupportedKeySize { .. })));
        assert!(matches!(KeyAlgorithm::from_spec(Some("DSA"), None), Err(PkiError::UnsupportedAlgorithm(_))));
    }

    #[test]
    fn garbage_is_refused_and_debug_hides_the_key() {
        assert!(PrivateKey::from_pem("not pem").is_err());
        assert!(PrivateKey::from_pem("-----BEGIN CERTIFICATE-----\nAAAA\n-----END CERTIFICATE-----\n").is_err());
        let key = PrivateKey::generate(KeyAlgorithm::EcdsaP256).unwrap();
        let shown = format!("{key:?}");
        assert_eq!(shown, "PrivateKey { algorithm: EcdsaP256, .. }");
    }

    #[test]
    fn openssl_reads_what_we_write() {
        let dir = tempfile::tempdir().unwrap();
        for algorithm in [KeyAlgorithm::Rsa2048, KeyAlgorithm::EcdsaP384, KeyAlgorithm::Ed25519] {
            for encoding in [KeyEncoding::Pkcs1, KeyEncoding::Pkcs8] {
                let path = dir.path().join("key.pem");
                std::fs::write(&path, PrivateKey::generate(algorithm).unwrap().to_pem(encoding).unwrap()).unwrap();
                let out = std::process::Command::new("openssl").args(["pkey", "-noout", "-in"]).arg(&path).output().unwrap();
                assert!(out.status.success(), "{algorithm:?} {encoding:?}: {}", String::from_utf8_lossy(&out.stderr));
            }
        }
    }
}
