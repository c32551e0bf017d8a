//! Private keys: generation, PEM in both of cert-manager's encodings, and
//! signing. The only place private key material exists in certwasm: plugins
//! reach keys through handles (`signer.sign`), never their bytes.

use std::fmt;

use der::Decode;
use pkcs8::{EncodePrivateKey, EncodePublicKey, LineEnding, SecretDocument};
use rsa::pkcs1::{DecodeRsaPrivateKey, EncodeRsaPrivateKey};
use rsa::traits::PublicKeyParts;
use sha2::{Digest, Sha256, Sha384, Sha512};
use signature::Signer;
use zeroize::Zeroizing;

use super::PkiError;
use super::p256_key::P256Key;
use super::public_key::PublicKey;

const RSA_ENCRYPTION: &str = "1.2.840.113549.1.1.1";
const EC_PUBLIC_KEY: &str = "1.2.840.10045.2.1";
const ED25519: &str = "1.3.101.112";
const CURVE_P256: &str = "1.2.840.10045.3.1.7";
const CURVE_P384: &str = "1.3.132.0.34";
const CURVE_P521: &str = "1.3.132.0.35";

const RSA_SIZES: &str = "2048, 3072, 4096";

/// A key type and size, as cert-manager's `spec.privateKey` names them
/// (and as the WIT `key-algorithm` enum lists them).
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
    /// for RSA and P-256 for ECDSA when no size is given (a size of 0 is
    /// "not given"), and no size at all for Ed25519.
    ///
    /// cert-manager accepts any RSA size from 2048 to 8192 and ECDSA P-521;
    /// certwasm generates the sizes the WIT `key-algorithm` enum lists and
    /// refuses the others with a message naming what it supports.
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
                    supported: RSA_SIZES,
                }),
            },
            "ECDSA" => match size.unwrap_or(256) {
                256 => Ok(Self::EcdsaP256),
                384 => Ok(Self::EcdsaP384),
                other => Err(PkiError::UnsupportedKeySize {
                    algorithm: "ECDSA",
                    size: other,
                    supported: "256, 384; P-521 is not supported by certwasm",
                }),
            },
            "Ed25519" => Ok(Self::Ed25519),
            other => Err(PkiError::UnsupportedAlgorithm(other.to_owned())),
        }
    }

    /// cert-manager's `privateKey.algorithm` value for this key type, so
    /// policy code can compare an existing key with the spec.
    pub fn cert_manager_algorithm(self) -> &'static str {
        match self {
            Self::Rsa2048 | Self::Rsa3072 | Self::Rsa4096 => "RSA",
            Self::EcdsaP256 | Self::EcdsaP384 => "ECDSA",
            Self::Ed25519 => "Ed25519",
        }
    }

    /// cert-manager's `privateKey.size` for this key type (none for Ed25519).
    pub fn size(self) -> Option<u32> {
        match self {
            Self::Rsa2048 => Some(2048),
            Self::Rsa3072 => Some(3072),
            Self::Rsa4096 => Some(4096),
            Self::EcdsaP256 => Some(256),
            Self::EcdsaP384 => Some(384),
            Self::Ed25519 => None,
        }
    }

    /// A short human name, e.g. `ECDSA P-256`, as the CLI and errors show it.
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

impl fmt::Display for KeyAlgorithm {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.describe())
    }
}

/// How a signature is made; mirrors the WIT `signature-algorithm`, so a
/// plugin names exactly what the host computes.
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
    /// A short human name, e.g. `ECDSA P-256 SHA-256`, for errors.
    pub fn describe(self) -> &'static str {
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

impl fmt::Display for SignatureAlgorithm {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.describe())
    }
}

// cert-manager's `privateKey.encoding`, PKCS#1 by default: the API type
// of `spec.privateKey.encoding` (hence serde and the schema) and what
// `PrivateKey::to_pem` writes. The doc comment is the CRD's description.

/// How the private key is encoded in the Secret's `tls.key`.
#[derive(
    Debug,
    Clone,
    Copy,
    PartialEq,
    Eq,
    Hash,
    Default,
    serde::Serialize,
    serde::Deserialize,
    schemars::JsonSchema,
)]
pub enum KeyEncoding {
    /// `RSA PRIVATE KEY` for RSA, SEC1 `EC PRIVATE KEY` for ECDSA; Ed25519
    /// has no PKCS#1 form and is written as PKCS#8, as cert-manager does.
    #[default]
    #[serde(rename = "PKCS1")]
    Pkcs1,
    /// `PRIVATE KEY` for every algorithm.
    #[serde(rename = "PKCS8")]
    Pkcs8,
}

/// The key. RSA and Ed25519 are boxed to keep the enum small. The
/// RustCrypto variants zeroize their secret on drop (the crates implement
/// it); P-256 signs with ring (see [`P256Key`] for why and what that means
/// for zeroizing).
enum Material {
    Rsa(Box<rsa::RsaPrivateKey>),
    P256(Box<P256Key>),
    P384(p384::ecdsa::SigningKey),
    Ed25519(Box<ed25519_dalek::SigningKey>),
}

/// A private key, parsed once and kept ready to sign: `sign` is on the hot
/// path of every issuance, so nothing is re-parsed or re-derived per call.
/// The public half (DER SubjectPublicKeyInfo) is computed at construction.
///
/// `Debug` shows the algorithm only, never key material; the secret is
/// zeroized on drop.
pub struct PrivateKey {
    material: Material,
    algorithm: KeyAlgorithm,
    public_key_der: Vec<u8>,
}

impl fmt::Debug for PrivateKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("PrivateKey")
            .field("algorithm", &self.algorithm)
            .finish_non_exhaustive()
    }
}

fn encode_err(what: &'static str) -> impl Fn(&dyn fmt::Display) -> PkiError {
    move |e| PkiError::Encode {
        what,
        reason: e.to_string(),
    }
}

fn invalid_key(e: impl fmt::Display) -> PkiError {
    PkiError::InvalidKey(e.to_string())
}

impl PrivateKey {
    fn from_material(material: Material) -> Result<Self, PkiError> {
        let spki_err = encode_err("public key");
        let (algorithm, public_key_der) = match &material {
            Material::Rsa(key) => {
                let algorithm = match key.n().bits() {
                    2048 => KeyAlgorithm::Rsa2048,
                    3072 => KeyAlgorithm::Rsa3072,
                    4096 => KeyAlgorithm::Rsa4096,
                    other => {
                        return Err(PkiError::UnsupportedKeySize {
                            algorithm: "RSA",
                            size: u32::try_from(other).unwrap_or(u32::MAX),
                            supported: RSA_SIZES,
                        });
                    }
                };
                let der = key.to_public_key().to_public_key_der();
                (algorithm, der.map_err(|e| spki_err(&e))?)
            }
            Material::P256(key) => (
                KeyAlgorithm::EcdsaP256,
                p256::PublicKey::from_sec1_bytes(key.public_point())
                    .map_err(|e| spki_err(&e))?
                    .to_public_key_der()
                    .map_err(|e| spki_err(&e))?,
            ),
            Material::P384(key) => (
                KeyAlgorithm::EcdsaP384,
                key.verifying_key()
                    .to_public_key_der()
                    .map_err(|e| spki_err(&e))?,
            ),
            Material::Ed25519(key) => (
                KeyAlgorithm::Ed25519,
                key.verifying_key()
                    .to_public_key_der()
                    .map_err(|e| spki_err(&e))?,
            ),
        };
        Ok(Self {
            material,
            algorithm,
            public_key_der: public_key_der.into_vec(),
        })
    }

    /// Generates a fresh key from the operating system's CSPRNG. RSA 4096
    /// takes a while (seconds in a debug build); callers run it off the
    /// async executor.
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
            KeyAlgorithm::EcdsaP256 => Material::P256(Box::new(P256Key::generate()?)),
            KeyAlgorithm::EcdsaP384 => Material::P384(p384::ecdsa::SigningKey::random(&mut rng)),
            KeyAlgorithm::Ed25519 => {
                Material::Ed25519(Box::new(ed25519_dalek::SigningKey::generate(&mut rng)))
            }
        };
        Self::from_material(material)
    }

    /// Reads a PEM private key, as found in a Secret's `tls.key`: PKCS#1
    /// `RSA PRIVATE KEY`, SEC1 `EC PRIVATE KEY`, or PKCS#8 `PRIVATE KEY`
    /// (RSA, P-256, P-384, Ed25519). The first private key block is used;
    /// other blocks (a certificate in the same file) are skipped.
    ///
    /// Keys of other kinds (P-521, Ed448, DSA, encrypted keys) are refused
    /// as [`PkiError::UnsupportedKey`], naming the kind, and RSA keys of
    /// sizes other than 2048, 3072 and 4096 as
    /// [`PkiError::UnsupportedKeySize`].
    pub fn from_pem(text: &str) -> Result<Self, PkiError> {
        let blocks = pem::parse_many(text).map_err(|e| PkiError::InvalidPem {
            what: "private key",
            reason: e.to_string(),
        })?;
        let Some(block) = blocks
            .into_iter()
            .find(|b| b.tag().ends_with("PRIVATE KEY"))
        else {
            return Err(PkiError::InvalidPem {
                what: "private key",
                reason: "no PRIVATE KEY block found".into(),
            });
        };
        let tag = block.tag().to_owned();
        let der = Zeroizing::new(block.into_contents());
        let material = match tag.as_str() {
            "RSA PRIVATE KEY" => rsa_from_pkcs1(&der)?,
            "EC PRIVATE KEY" => ec_from_sec1(&der, None)?,
            "PRIVATE KEY" => from_pkcs8(&der)?,
            "ENCRYPTED PRIVATE KEY" => {
                return Err(PkiError::UnsupportedKey(
                    "the private key is encrypted (ENCRYPTED PRIVATE KEY); certwasm, like \
                     cert-manager, needs it unencrypted"
                        .into(),
                ));
            }
            other => {
                return Err(PkiError::UnsupportedKey(format!(
                    "{other} blocks are not supported (use PKCS#1 RSA PRIVATE KEY, SEC1 EC \
                     PRIVATE KEY or PKCS#8 PRIVATE KEY)"
                )));
            }
        };
        Self::from_material(material)
    }

    /// Writes the key as PEM in cert-manager's `privateKey.encoding`, with
    /// the labels and layout Go's `crypto/x509` uses (so tools that read
    /// cert-manager's Secrets read certwasm's).
    ///
    /// The returned string is the secret: callers store it and drop it.
    pub fn to_pem(&self, encoding: KeyEncoding) -> Result<String, PkiError> {
        let pem: Zeroizing<String> = match (&self.material, encoding) {
            (Material::Rsa(key), KeyEncoding::Pkcs1) => key
                .to_pkcs1_pem(LineEnding::LF)
                .map_err(|e| encode_err("RSA private key")(&e))?,
            (Material::P256(key), KeyEncoding::Pkcs1) => {
                sec1_pem(key.scalar(), CURVE_P256, key.public_point())?
            }
            (Material::P384(key), KeyEncoding::Pkcs1) => sec1_pem(
                &Zeroizing::new(key.to_bytes()),
                CURVE_P384,
                key.verifying_key().to_encoded_point(false).as_bytes(),
            )?,
            _ => self
                .pkcs8_document()?
                .to_pem("PRIVATE KEY", LineEnding::LF)
                .map_err(|e| encode_err("PKCS#8 private key")(&e))?,
        };
        Ok(String::from(pem.as_str()))
    }

    /// The key as PKCS#8 DER (for keystores and `key.der` output), in a
    /// buffer that is zeroized when dropped.
    pub fn to_der_pkcs8(&self) -> Result<Zeroizing<Vec<u8>>, PkiError> {
        Ok(Zeroizing::new(self.pkcs8_document()?.as_bytes().to_vec()))
    }

    /// PKCS#8 v1 for every key type. For Ed25519 that means no embedded
    /// public key (what Go and OpenSSL write; some readers refuse the v2
    /// form that ed25519-dalek writes by default).
    fn pkcs8_document(&self) -> Result<SecretDocument, PkiError> {
        match &self.material {
            Material::Rsa(key) => key.to_pkcs8_der(),
            Material::P256(key) => return ec_pkcs8(key.scalar(), CURVE_P256, key.public_point()),
            Material::P384(key) => key.to_pkcs8_der(),
            Material::Ed25519(key) => ed25519_dalek::pkcs8::KeypairBytes {
                secret_key: key.to_bytes(),
                public_key: None,
            }
            .to_pkcs8_der(),
        }
        .map_err(|e| encode_err("PKCS#8 private key")(&e))
    }

    /// The key's type and size.
    pub fn algorithm(&self) -> KeyAlgorithm {
        self.algorithm
    }

    /// The public half, DER SubjectPublicKeyInfo (what the WIT
    /// `signer.public-key` returns and what a CSR carries).
    pub fn public_key_der(&self) -> Vec<u8> {
        self.public_key_der.clone()
    }

    /// The public half, borrowed: for comparisons that need no copy.
    pub fn public_key_der_ref(&self) -> &[u8] {
        &self.public_key_der
    }

    /// Whether `spki_der` (a DER SubjectPublicKeyInfo, e.g. from a
    /// certificate) is this key's public half. Compares the keys, not the
    /// bytes, so a compressed EC point or a different but valid encoding
    /// of the same key still matches.
    pub fn matches_public_key(&self, spki_der: &[u8]) -> bool {
        if spki_der == self.public_key_der.as_slice() {
            return true;
        }
        let Ok(theirs) = PublicKey::from_spki_der(spki_der) else {
            return false;
        };
        match (&self.material, theirs) {
            (Material::Rsa(key), PublicKey::Rsa(public)) => key.to_public_key() == public,
            (Material::P256(key), PublicKey::P256(public)) => {
                public.to_encoded_point(false).as_bytes() == key.public_point()
            }
            (Material::P384(key), PublicKey::P384(public)) => *key.verifying_key() == public,
            (Material::Ed25519(key), PublicKey::Ed25519(public)) => key.verifying_key() == public,
            _ => false,
        }
    }

    /// The signature algorithm cert-manager picks for a key of this type
    /// (its `pki.SignatureAlgorithm`): RSA ≥ 4096 bits SHA-512, ≥ 3072
    /// SHA-384, else SHA-256; P-256 with SHA-256; P-384 with SHA-384;
    /// Ed25519.
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

    /// Signs `data`, hashing it as `algorithm` requires (the plugin passes
    /// the exact bytes, e.g. a TBSCertificate). ECDSA signatures are ASN.1
    /// DER (P-256 by ring with CSPRNG nonces, P-384 with RFC 6979), RSA is PKCS#1 v1.5 (blinded), Ed25519 is pure.
    /// An algorithm that does not fit the key is
    /// [`PkiError::AlgorithmMismatch`], naming both.
    pub fn sign(&self, algorithm: SignatureAlgorithm, data: &[u8]) -> Result<Vec<u8>, PkiError> {
        let failed = |e: &dyn fmt::Display| PkiError::Sign {
            key: self.algorithm.describe(),
            reason: e.to_string(),
        };
        match (&self.material, algorithm) {
            (Material::P256(key), SignatureAlgorithm::EcdsaP256Sha256) => {
                key.sign(data).map_err(|e| failed(&e))
            }
            (Material::P384(key), SignatureAlgorithm::EcdsaP384Sha384) => {
                let signature: p384::ecdsa::Signature =
                    key.try_sign(data).map_err(|e| failed(&e))?;
                Ok(signature.to_der().as_bytes().to_vec())
            }
            (Material::Ed25519(key), SignatureAlgorithm::Ed25519) => {
                let signature = key.try_sign(data).map_err(|e| failed(&e))?;
                Ok(signature.to_bytes().to_vec())
            }
            (Material::Rsa(key), SignatureAlgorithm::RsaPkcs1Sha256) => {
                let digest = Sha256::digest(data);
                rsa_sign(key, rsa::Pkcs1v15Sign::new::<Sha256>(), &digest).map_err(|e| failed(&e))
            }
            (Material::Rsa(key), SignatureAlgorithm::RsaPkcs1Sha384) => {
                let digest = Sha384::digest(data);
                rsa_sign(key, rsa::Pkcs1v15Sign::new::<Sha384>(), &digest).map_err(|e| failed(&e))
            }
            (Material::Rsa(key), SignatureAlgorithm::RsaPkcs1Sha512) => {
                let digest = Sha512::digest(data);
                rsa_sign(key, rsa::Pkcs1v15Sign::new::<Sha512>(), &digest).map_err(|e| failed(&e))
            }
            _ => Err(PkiError::AlgorithmMismatch {
                signature: algorithm.describe(),
                key: self.algorithm.describe(),
            }),
        }
    }
}

fn rsa_sign(
    key: &rsa::RsaPrivateKey,
    padding: rsa::Pkcs1v15Sign,
    digest: &[u8],
) -> rsa::Result<Vec<u8>> {
    key.sign_with_rng(&mut rand::rngs::OsRng, padding, digest)
}

fn rsa_from_pkcs1(der: &[u8]) -> Result<Material, PkiError> {
    rsa::RsaPrivateKey::from_pkcs1_der(der)
        .map(|key| Material::Rsa(Box::new(key)))
        .map_err(|e| PkiError::InvalidKey(format!("RSA private key: {e}")))
}

/// Reads a PKCS#8 `PrivateKeyInfo`, choosing the key type by its algorithm
/// OID so that the error names the actual problem (a P-521 key is
/// "unsupported", not "malformed").
fn from_pkcs8(der: &[u8]) -> Result<Material, PkiError> {
    let info = pkcs8::PrivateKeyInfo::try_from(der)
        .map_err(|e| PkiError::InvalidKey(format!("PKCS#8 private key: {e}")))?;
    let oid = info.algorithm.oid.to_string();
    match oid.as_str() {
        RSA_ENCRYPTION => rsa_from_pkcs1(info.private_key),
        EC_PUBLIC_KEY => {
            let curve = info
                .algorithm
                .parameters_oid()
                .map_err(|e| PkiError::InvalidKey(format!("PKCS#8 EC key names no curve: {e}")))?;
            ec_from_sec1(info.private_key, Some(&curve.to_string()))
        }
        ED25519 => ed25519_dalek::pkcs8::KeypairBytes::try_from(info)
            .and_then(|pair| ed25519_dalek::SigningKey::try_from(&pair))
            .map(|key| Material::Ed25519(Box::new(key)))
            .map_err(|e| PkiError::InvalidKey(format!("Ed25519 private key: {e}"))),
        other => Err(PkiError::UnsupportedKey(format!(
            "{} private keys are not supported (supported: RSA, ECDSA P-256, ECDSA P-384, \
             Ed25519)",
            key_kind_name(other)
        ))),
    }
}

fn key_kind_name(oid: &str) -> String {
    match oid {
        "1.3.101.113" => "Ed448".to_owned(),
        "1.3.101.110" => "X25519".to_owned(),
        "1.3.101.111" => "X448".to_owned(),
        "1.2.840.10040.4.1" => "DSA".to_owned(),
        "1.2.840.113549.1.1.10" => "RSA-PSS".to_owned(),
        other => format!("algorithm {other}"),
    }
}

/// Reads a SEC1 `ECPrivateKey`. The curve comes from the PKCS#8 algorithm
/// (`curve_hint`), the key's own parameters, or failing both its length.
/// The scalar is read directly and an embedded public key is checked
/// against it, which costs one scalar multiplication instead of two.
fn ec_from_sec1(der: &[u8], curve_hint: Option<&str>) -> Result<Material, PkiError> {
    let parsed = sec1::EcPrivateKey::from_der(der)
        .map_err(|e| PkiError::InvalidKey(format!("EC private key: {e}")))?;
    let own_curve = parsed
        .parameters
        .and_then(|p| p.named_curve())
        .map(|oid| oid.to_string());
    let curve = match (curve_hint, own_curve.as_deref()) {
        (Some(hint), Some(own)) if hint != own => {
            return Err(PkiError::InvalidKey(format!(
                "EC private key names curve {own} inside a PKCS#8 wrapper for curve {hint}"
            )));
        }
        (Some(curve), _) | (None, Some(curve)) => curve.to_owned(),
        (None, None) => match parsed.private_key.len() {
            32 => CURVE_P256.to_owned(),
            48 => CURVE_P384.to_owned(),
            66 => CURVE_P521.to_owned(),
            n => {
                return Err(PkiError::InvalidKey(format!(
                    "EC private key of {n} bytes names no curve"
                )));
            }
        },
    };
    let mismatch =
        || PkiError::InvalidKey("the EC private key's embedded public key is not its own".into());
    match curve.as_str() {
        CURVE_P256 => P256Key::from_parts(parsed.private_key, parsed.public_key)
            .map(|key| Material::P256(Box::new(key))),
        CURVE_P384 => {
            let key =
                p384::ecdsa::SigningKey::from_slice(parsed.private_key).map_err(invalid_key)?;
            if let Some(public) = parsed.public_key
                && p384::ecdsa::VerifyingKey::from_sec1_bytes(public)
                    .ok()
                    .as_ref()
                    != Some(key.verifying_key())
            {
                return Err(mismatch());
            }
            Ok(Material::P384(key))
        }
        CURVE_P521 => Err(PkiError::UnsupportedKey(
            "ECDSA P-521 private keys are not supported (use P-256 or P-384)".into(),
        )),
        other => Err(PkiError::UnsupportedKey(format!(
            "ECDSA private keys on curve {other} are not supported (use P-256 or P-384)"
        ))),
    }
}

/// SEC1 `EC PRIVATE KEY` with the named curve and the public key, as Go's
/// `x509.MarshalECPrivateKey` (cert-manager's PKCS#1 encoding for ECDSA)
/// and OpenSSL write it. RustCrypto's own SEC1 encoder leaves the curve
/// out, which OpenSSL cannot read for P-384.
fn sec1_pem(
    secret: &[u8],
    curve_oid: &str,
    public_point: &[u8],
) -> Result<Zeroizing<String>, PkiError> {
    let failed = encode_err("EC private key");
    let oid = der::oid::ObjectIdentifier::new(curve_oid).map_err(|e| failed(&e))?;
    let key = sec1::EcPrivateKey {
        private_key: secret,
        parameters: Some(sec1::EcParameters::NamedCurve(oid)),
        public_key: Some(public_point),
    };
    SecretDocument::encode_msg(&key)
        .and_then(|doc| doc.to_pem("EC PRIVATE KEY", LineEnding::LF))
        .map_err(|e| failed(&e))
}

/// PKCS#8 `PrivateKeyInfo` around a SEC1 key (curve in the algorithm, the
/// public point inside), what RustCrypto and Go write, built from the parts
/// so that encoding does not re-derive the public point.
fn ec_pkcs8(
    secret: &[u8],
    curve_oid: &str,
    public_point: &[u8],
) -> Result<SecretDocument, PkiError> {
    let failed = encode_err("PKCS#8 private key");
    let curve = der::oid::ObjectIdentifier::new(curve_oid).map_err(|e| failed(&e))?;
    let inner = SecretDocument::encode_msg(&sec1::EcPrivateKey {
        private_key: secret,
        parameters: None,
        public_key: Some(public_point),
    })
    .map_err(|e| failed(&e))?;
    let info = pkcs8::PrivateKeyInfo {
        algorithm: spki::AlgorithmIdentifierRef {
            oid: der::oid::ObjectIdentifier::new_unwrap(EC_PUBLIC_KEY),
            parameters: Some(der::AnyRef::from(&curve)),
        },
        private_key: inner.as_bytes(),
        public_key: None,
    };
    SecretDocument::encode_msg(&info).map_err(|e| failed(&e))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::pki::test_key;
    use p256::elliptic_curve::sec1::ToEncodedPoint;
    use pkcs8::DecodePublicKey;
    use signature::Verifier;
    use std::process::Command;

    const ALL: [KeyAlgorithm; 6] = [
        KeyAlgorithm::Rsa2048,
        KeyAlgorithm::Rsa3072,
        KeyAlgorithm::Rsa4096,
        KeyAlgorithm::EcdsaP256,
        KeyAlgorithm::EcdsaP384,
        KeyAlgorithm::Ed25519,
    ];

    const ALL_SIGNATURES: [SignatureAlgorithm; 6] = [
        SignatureAlgorithm::EcdsaP256Sha256,
        SignatureAlgorithm::EcdsaP384Sha384,
        SignatureAlgorithm::RsaPkcs1Sha256,
        SignatureAlgorithm::RsaPkcs1Sha384,
        SignatureAlgorithm::RsaPkcs1Sha512,
        SignatureAlgorithm::Ed25519,
    ];

    /// Verifies with the RustCrypto verifying keys directly (not with this
    /// module's verification code), from the SPKI the key reports.
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
            SignatureAlgorithm::RsaPkcs1Sha256 => {
                let key = rsa::pkcs1v15::VerifyingKey::<Sha256>::from_public_key_der(spki).unwrap();
                let sig = rsa::pkcs1v15::Signature::try_from(signature).unwrap();
                key.verify(data, &sig).is_ok()
            }
            SignatureAlgorithm::RsaPkcs1Sha384 => {
                let key = rsa::pkcs1v15::VerifyingKey::<Sha384>::from_public_key_der(spki).unwrap();
                let sig = rsa::pkcs1v15::Signature::try_from(signature).unwrap();
                key.verify(data, &sig).is_ok()
            }
            SignatureAlgorithm::RsaPkcs1Sha512 => {
                let key = rsa::pkcs1v15::VerifyingKey::<Sha512>::from_public_key_der(spki).unwrap();
                let sig = rsa::pkcs1v15::Signature::try_from(signature).unwrap();
                key.verify(data, &sig).is_ok()
            }
        }
    }

    fn openssl(args: &[&str]) -> Vec<u8> {
        let out = Command::new("openssl").args(args).output().unwrap();
        assert!(
            out.status.success(),
            "openssl {args:?}: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        out.stdout
    }

    #[test]
    fn every_algorithm_generates_and_signs_what_its_public_key_verifies() {
        for algorithm in ALL {
            let key = test_key(algorithm);
            assert_eq!(key.algorithm(), algorithm);
            let signature_algorithm = key.default_signature_algorithm();
            let signature = key.sign(signature_algorithm, b"to be signed").unwrap();
            let spki = key.public_key_der();
            assert!(
                verify(&spki, signature_algorithm, b"to be signed", &signature),
                "{algorithm}"
            );
            assert!(
                !verify(&spki, signature_algorithm, b"to be signed!", &signature),
                "{algorithm}"
            );
            let other = PrivateKey::generate(match algorithm {
                KeyAlgorithm::Rsa3072 | KeyAlgorithm::Rsa4096 => KeyAlgorithm::Rsa2048,
                same => same,
            })
            .unwrap();
            if other.algorithm() == algorithm {
                assert_ne!(other.public_key_der(), spki, "{algorithm}: two keys alike");
                assert!(!verify(
                    &other.public_key_der(),
                    signature_algorithm,
                    b"to be signed",
                    &signature
                ));
            }
        }
    }

    #[test]
    fn rsa_signs_with_every_rsa_hash() {
        let key = test_key(KeyAlgorithm::Rsa2048);
        for algorithm in [
            SignatureAlgorithm::RsaPkcs1Sha256,
            SignatureAlgorithm::RsaPkcs1Sha384,
            SignatureAlgorithm::RsaPkcs1Sha512,
        ] {
            let signature = key.sign(algorithm, b"data").unwrap();
            assert_eq!(signature.len(), 256);
            assert!(
                verify(&key.public_key_der(), algorithm, b"data", &signature),
                "{algorithm}"
            );
        }
        let sha256 = key
            .sign(SignatureAlgorithm::RsaPkcs1Sha256, b"data")
            .unwrap();
        assert!(!verify(
            &key.public_key_der(),
            SignatureAlgorithm::RsaPkcs1Sha512,
            b"data",
            &sha256
        ));
    }

    #[test]
    fn default_signature_algorithms_are_cert_managers() {
        let expected = [
            SignatureAlgorithm::RsaPkcs1Sha256,
            SignatureAlgorithm::RsaPkcs1Sha384,
            SignatureAlgorithm::RsaPkcs1Sha512,
            SignatureAlgorithm::EcdsaP256Sha256,
            SignatureAlgorithm::EcdsaP384Sha384,
            SignatureAlgorithm::Ed25519,
        ];
        for (algorithm, signature) in ALL.into_iter().zip(expected) {
            assert_eq!(
                test_key(algorithm).default_signature_algorithm(),
                signature,
                "{algorithm}"
            );
        }
    }

    #[test]
    fn every_mismatched_algorithm_is_refused_naming_both() {
        for algorithm in ALL {
            let key = test_key(algorithm);
            for signature in ALL_SIGNATURES {
                let fits = match algorithm {
                    KeyAlgorithm::Rsa2048 | KeyAlgorithm::Rsa3072 | KeyAlgorithm::Rsa4096 => {
                        signature.describe().starts_with("RSA")
                    }
                    _ => signature == key.default_signature_algorithm(),
                };
                let result = key.sign(signature, b"x");
                if fits {
                    assert!(result.is_ok(), "{algorithm} {signature}");
                } else {
                    let err = result.unwrap_err();
                    assert_eq!(
                        err,
                        PkiError::AlgorithmMismatch {
                            signature: signature.describe(),
                            key: algorithm.describe()
                        }
                    );
                    let message = err.to_string();
                    assert!(
                        message.contains(signature.describe())
                            && message.contains(algorithm.describe())
                    );
                }
            }
        }
    }

    #[test]
    fn pem_round_trips_in_both_encodings_with_cert_managers_labels() {
        for algorithm in ALL {
            let key = test_key(algorithm);
            for encoding in [KeyEncoding::Pkcs1, KeyEncoding::Pkcs8] {
                let pem_text = key.to_pem(encoding).unwrap();
                let label = match (algorithm, encoding) {
                    (_, KeyEncoding::Pkcs8) | (KeyAlgorithm::Ed25519, _) => "PRIVATE KEY",
                    (KeyAlgorithm::EcdsaP256 | KeyAlgorithm::EcdsaP384, _) => "EC PRIVATE KEY",
                    _ => "RSA PRIVATE KEY",
                };
                assert!(
                    pem_text.starts_with(&format!("-----BEGIN {label}-----\n")),
                    "{algorithm} {encoding:?}"
                );
                let back = PrivateKey::from_pem(&pem_text).unwrap();
                assert_eq!(back.algorithm(), algorithm);
                assert_eq!(
                    back.public_key_der(),
                    key.public_key_der(),
                    "{algorithm} {encoding:?}"
                );
                // The private half survived too: the reloaded key's signature
                // verifies with the original public key.
                let sig_alg = key.default_signature_algorithm();
                let signature = back.sign(sig_alg, b"round trip").unwrap();
                assert!(verify(
                    &key.public_key_der(),
                    sig_alg,
                    b"round trip",
                    &signature
                ));
            }
            let der = key.to_der_pkcs8().unwrap();
            let pem_text = pem::encode(&pem::Pem::new("PRIVATE KEY", der.to_vec()));
            assert_eq!(
                PrivateKey::from_pem(&pem_text).unwrap().public_key_der(),
                key.public_key_der()
            );
        }
    }

    #[test]
    fn ed25519_pkcs8_is_v1_like_go_and_openssl_write_it() {
        let der = test_key(KeyAlgorithm::Ed25519).to_der_pkcs8().unwrap();
        assert_eq!(der.len(), 48);
        assert_eq!(&der[..5], &[0x30, 0x2e, 0x02, 0x01, 0x00]);
    }

    #[test]
    fn openssl_reads_what_we_write_and_sees_the_same_public_key() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("key.pem");
        let path = path.to_str().unwrap();
        for algorithm in ALL {
            let key = test_key(algorithm);
            for encoding in [KeyEncoding::Pkcs1, KeyEncoding::Pkcs8] {
                std::fs::write(path, key.to_pem(encoding).unwrap()).unwrap();
                let public = openssl(&["pkey", "-in", path, "-pubout", "-outform", "DER"]);
                assert_eq!(public, key.public_key_der(), "{algorithm} {encoding:?}");
            }
        }
    }

    #[test]
    fn reads_what_openssl_writes_in_every_format() {
        let dir = tempfile::tempdir().unwrap();
        let key_path = dir.path().join("openssl.pem");
        let key_path = key_path.to_str().unwrap();
        let cases: [(&str, &[&str], KeyAlgorithm); 4] = [
            (
                "RSA",
                &["-pkeyopt", "rsa_keygen_bits:2048"],
                KeyAlgorithm::Rsa2048,
            ),
            (
                "EC",
                &["-pkeyopt", "ec_paramgen_curve:P-256"],
                KeyAlgorithm::EcdsaP256,
            ),
            (
                "EC",
                &["-pkeyopt", "ec_paramgen_curve:P-384"],
                KeyAlgorithm::EcdsaP384,
            ),
            ("ED25519", &[], KeyAlgorithm::Ed25519),
        ];
        for (kind, options, algorithm) in cases {
            let mut args = vec!["genpkey", "-algorithm", kind, "-out", key_path];
            args.extend_from_slice(options);
            openssl(&args);
            let public = openssl(&["pkey", "-in", key_path, "-pubout", "-outform", "DER"]);
            // PKCS#8 as generated, and the traditional form (PKCS#1 / SEC1),
            // which Ed25519 does not have.
            let mut texts = vec![std::fs::read_to_string(key_path).unwrap()];
            if algorithm != KeyAlgorithm::Ed25519 {
                let traditional = openssl(&["pkey", "-in", key_path, "-traditional"]);
                let traditional = String::from_utf8(traditional).unwrap();
                assert!(!traditional.contains("BEGIN PRIVATE KEY"), "{traditional}");
                texts.push(traditional);
            }
            for text in texts {
                let key = PrivateKey::from_pem(&text)
                    .unwrap_or_else(|e| panic!("{algorithm}: {e}\n{text}"));
                assert_eq!(key.algorithm(), algorithm);
                assert_eq!(key.public_key_der(), public, "{algorithm}");
                assert!(key.matches_public_key(&public));
            }
        }
    }

    #[test]
    fn unsupported_keys_are_named() {
        let p521 = String::from_utf8(openssl(&[
            "genpkey",
            "-algorithm",
            "EC",
            "-pkeyopt",
            "ec_paramgen_curve:P-521",
        ]))
        .unwrap();
        let err = PrivateKey::from_pem(&p521).unwrap_err();
        assert!(
            matches!(err, PkiError::UnsupportedKey(ref m) if m.contains("P-521")),
            "{err}"
        );
        let ed448 = String::from_utf8(openssl(&["genpkey", "-algorithm", "ED448"])).unwrap();
        let err = PrivateKey::from_pem(&ed448).unwrap_err();
        assert!(
            matches!(err, PkiError::UnsupportedKey(ref m) if m.contains("Ed448")),
            "{err}"
        );
        let rsa1024 = String::from_utf8(openssl(&[
            "genpkey",
            "-algorithm",
            "RSA",
            "-pkeyopt",
            "rsa_keygen_bits:1024",
        ]))
        .unwrap();
        assert!(matches!(
            PrivateKey::from_pem(&rsa1024),
            Err(PkiError::UnsupportedKeySize { size: 1024, .. })
        ));
        let encrypted =
            "-----BEGIN ENCRYPTED PRIVATE KEY-----\nMAA=\n-----END ENCRYPTED PRIVATE KEY-----\n";
        assert!(
            matches!(PrivateKey::from_pem(encrypted), Err(PkiError::UnsupportedKey(m)) if m.contains("encrypted"))
        );
    }

    #[test]
    fn garbage_and_tampered_keys_are_refused() {
        assert!(matches!(
            PrivateKey::from_pem("not pem"),
            Err(PkiError::InvalidPem { .. })
        ));
        let cert_only = "-----BEGIN CERTIFICATE-----\nAAAA\n-----END CERTIFICATE-----\n";
        assert!(matches!(
            PrivateKey::from_pem(cert_only),
            Err(PkiError::InvalidPem { .. })
        ));
        let junk = "-----BEGIN PRIVATE KEY-----\nAAAA\n-----END PRIVATE KEY-----\n";
        assert!(matches!(
            PrivateKey::from_pem(junk),
            Err(PkiError::InvalidKey(_))
        ));
        // A SEC1 key whose embedded public key belongs to another key.
        let ours = test_key(KeyAlgorithm::EcdsaP256);
        let Material::P256(secret) = &ours.material else {
            unreachable!()
        };
        let other = p256::ecdsa::SigningKey::random(&mut rand::rngs::OsRng);
        let forged = sec1_pem(
            secret.scalar(),
            CURVE_P256,
            other.verifying_key().to_encoded_point(false).as_bytes(),
        )
        .unwrap();
        assert!(
            matches!(PrivateKey::from_pem(&forged), Err(PkiError::InvalidKey(m)) if m.contains("not its own"))
        );
    }

    #[test]
    fn a_key_is_found_after_a_certificate_in_the_same_file() {
        let key = test_key(KeyAlgorithm::EcdsaP256);
        let text = format!(
            "-----BEGIN CERTIFICATE-----\nAAAA\n-----END CERTIFICATE-----\n{}",
            key.to_pem(KeyEncoding::Pkcs1).unwrap()
        );
        assert_eq!(
            PrivateKey::from_pem(&text).unwrap().public_key_der(),
            key.public_key_der()
        );
    }

    #[test]
    fn public_key_matching_compares_keys_not_bytes() {
        let key = test_key(KeyAlgorithm::EcdsaP256);
        let Material::P256(secret) = &key.material else {
            unreachable!()
        };
        let compressed = p256::PublicKey::from_sec1_bytes(secret.public_point())
            .unwrap()
            .to_encoded_point(true);
        let curve = der::oid::ObjectIdentifier::new_unwrap(CURVE_P256);
        let spki = spki::SubjectPublicKeyInfoRef {
            algorithm: spki::AlgorithmIdentifierRef {
                oid: der::oid::ObjectIdentifier::new_unwrap(EC_PUBLIC_KEY),
                parameters: Some(der::AnyRef::from(&curve)),
            },
            subject_public_key: der::asn1::BitStringRef::from_bytes(compressed.as_bytes()).unwrap(),
        };
        let compressed_der = der::Encode::to_der(&spki).unwrap();
        assert_ne!(compressed_der, key.public_key_der());
        assert!(key.matches_public_key(&compressed_der));
        assert!(!key.matches_public_key(&test_key(KeyAlgorithm::EcdsaP384).public_key_der()));
        assert!(!test_key(KeyAlgorithm::Rsa2048).matches_public_key(&compressed_der));
        assert!(!key.matches_public_key(b"junk"));
    }

    #[test]
    fn spec_defaults_and_limits_follow_cert_manager() {
        use KeyAlgorithm::*;
        assert_eq!(KeyAlgorithm::from_spec(None, None), Ok(Rsa2048));
        assert_eq!(KeyAlgorithm::from_spec(Some("RSA"), Some(0)), Ok(Rsa2048));
        assert_eq!(
            KeyAlgorithm::from_spec(Some("RSA"), Some(3072)),
            Ok(Rsa3072)
        );
        assert_eq!(
            KeyAlgorithm::from_spec(Some("RSA"), Some(4096)),
            Ok(Rsa4096)
        );
        assert_eq!(KeyAlgorithm::from_spec(Some("ECDSA"), None), Ok(EcdsaP256));
        assert_eq!(
            KeyAlgorithm::from_spec(Some("ECDSA"), Some(384)),
            Ok(EcdsaP384)
        );
        assert_eq!(
            KeyAlgorithm::from_spec(Some("Ed25519"), Some(999)),
            Ok(Ed25519)
        );
        let err = KeyAlgorithm::from_spec(Some("RSA"), Some(8192)).unwrap_err();
        assert_eq!(
            err.to_string(),
            "unsupported RSA key size 8192 (supported: 2048, 3072, 4096)"
        );
        assert!(KeyAlgorithm::from_spec(None, Some(1024)).is_err());
        let err = KeyAlgorithm::from_spec(Some("ECDSA"), Some(521)).unwrap_err();
        assert!(err.to_string().contains("P-521 is not supported"), "{err}");
        assert_eq!(
            KeyAlgorithm::from_spec(Some("rsa"), None),
            Err(PkiError::UnsupportedAlgorithm("rsa".into()))
        );
        for algorithm in ALL {
            assert_eq!(
                KeyAlgorithm::from_spec(Some(algorithm.cert_manager_algorithm()), algorithm.size()),
                Ok(algorithm)
            );
        }
    }

    #[test]
    fn debug_shows_no_key_material() {
        for algorithm in ALL {
            let key = test_key(algorithm);
            let shown = format!("{key:?}");
            assert_eq!(
                shown,
                format!("PrivateKey {{ algorithm: {algorithm:?}, .. }}")
            );
            let pem_body: String = key
                .to_pem(KeyEncoding::Pkcs8)
                .unwrap()
                .lines()
                .nth(1)
                .unwrap()
                .into();
            assert!(!shown.contains(&pem_body));
        }
    }
}
