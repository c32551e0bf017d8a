//! Public keys read from a DER SubjectPublicKeyInfo: described for people,
//! compared with the host's private keys, and used to check X.509
//! signatures (CSR self-signatures, a certificate's issuer signature).
//!
//! Keys are read with RustCrypto. ECDSA signatures with SHA-256 and SHA-384
//! are checked with ring, whose P-256 and P-384 assembly is several times
//! faster than RustCrypto's portable arithmetic: every CSR is verified at
//! admission and again before it is signed, and verification was the
//! largest single cost in the lifecycle benchmark. ring has no ECDSA with
//! SHA-512, so those (rare) signatures go through RustCrypto.

use der::Decode;
use rsa::traits::PublicKeyParts;
use sha2::{Digest, Sha256, Sha384, Sha512};
use signature::hazmat::PrehashVerifier;

use super::PkiError;

const RSA_ENCRYPTION: &str = "1.2.840.113549.1.1.1";
const EC_PUBLIC_KEY: &str = "1.2.840.10045.2.1";
const ED25519: &str = "1.3.101.112";
const CURVE_P256: &str = "1.2.840.10045.3.1.7";
const CURVE_P384: &str = "1.3.132.0.34";
const CURVE_P521: &str = "1.3.132.0.35";

/// The largest RSA modulus certwasm reads: cert-manager's own limit.
const MAX_RSA_BITS: usize = 8192;

/// A public key of one of the four kinds certwasm signs with.
#[derive(Debug, Clone, PartialEq)]
pub(crate) enum PublicKey {
    Rsa(rsa::RsaPublicKey),
    P256(p256::ecdsa::VerifyingKey),
    P384(p384::ecdsa::VerifyingKey),
    Ed25519(ed25519_dalek::VerifyingKey),
}

/// Why a signature was not accepted; callers turn it into the error that
/// fits what they were checking (a CSR, a certificate).
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum VerifyError {
    /// certwasm does not accept this signature algorithm (SHA-1, RSA-PSS,
    /// or unknown); the string names it.
    Unsupported(String),
    /// The public key cannot be read, or is of a kind that cannot make
    /// this algorithm's signatures.
    WrongKey(String),
    /// The signature does not verify.
    Invalid,
}

impl PublicKey {
    /// Reads a DER SubjectPublicKeyInfo. Keys certwasm cannot use (P-521,
    /// Ed448, DSA, ...) are [`PkiError::UnsupportedKey`], naming the kind.
    pub(crate) fn from_spki_der(der: &[u8]) -> Result<Self, PkiError> {
        let spki = spki::SubjectPublicKeyInfoRef::from_der(der)
            .map_err(|e| PkiError::InvalidKey(format!("public key: {e}")))?;
        let bits = spki.subject_public_key.raw_bytes();
        let bad = |e: &dyn std::fmt::Display| PkiError::InvalidKey(format!("public key: {e}"));
        match kind(der).as_str() {
            "RSA" => {
                let key = pkcs1::RsaPublicKey::from_der(bits).map_err(|e| bad(&e))?;
                rsa::RsaPublicKey::new_with_max_size(
                    rsa::BigUint::from_bytes_be(key.modulus.as_bytes()),
                    rsa::BigUint::from_bytes_be(key.public_exponent.as_bytes()),
                    MAX_RSA_BITS,
                )
                .map(Self::Rsa)
                .map_err(|e| bad(&e))
            }
            "ECDSA P-256" => p256::ecdsa::VerifyingKey::from_sec1_bytes(bits)
                .map(Self::P256)
                .map_err(|e| bad(&e)),
            "ECDSA P-384" => p384::ecdsa::VerifyingKey::from_sec1_bytes(bits)
                .map(Self::P384)
                .map_err(|e| bad(&e)),
            "Ed25519" => ed25519_dalek::VerifyingKey::try_from(bits)
                .map(Self::Ed25519)
                .map_err(|e| bad(&e)),
            other => Err(PkiError::UnsupportedKey(format!(
                "{other} public keys are not supported (supported: RSA, ECDSA P-256, \
                 ECDSA P-384, Ed25519)"
            ))),
        }
    }

    /// E.g. `RSA 2048`, `ECDSA P-256`, `Ed25519`.
    pub(crate) fn describe(&self) -> String {
        match self {
            Self::Rsa(key) => format!("RSA {}", key.n().bits()),
            Self::P256(_) => "ECDSA P-256".to_owned(),
            Self::P384(_) => "ECDSA P-384".to_owned(),
            Self::Ed25519(_) => "Ed25519".to_owned(),
        }
    }

    /// ECDSA with SHA-256 or SHA-384 on P-256 or P-384 through ring:
    /// `Some(valid)`, or `None` for a combination ring does not verify
    /// (SHA-512, or a key that is not ECDSA).
    fn verify_ecdsa_with_ring(
        &self,
        algorithm_oid: &str,
        signed: &[u8],
        signature: &[u8],
    ) -> Option<bool> {
        use ring::signature as ring_sig;
        const SHA256: &str = "1.2.840.10045.4.3.2";
        const SHA384: &str = "1.2.840.10045.4.3.3";
        let (algorithm, point): (&ring_sig::EcdsaVerificationAlgorithm, Vec<u8>) = match self {
            Self::P256(key) => (
                match algorithm_oid {
                    SHA256 => &ring_sig::ECDSA_P256_SHA256_ASN1,
                    SHA384 => &ring_sig::ECDSA_P256_SHA384_ASN1,
                    _ => return None,
                },
                key.to_encoded_point(false).as_bytes().to_vec(),
            ),
            Self::P384(key) => (
                match algorithm_oid {
                    SHA256 => &ring_sig::ECDSA_P384_SHA256_ASN1,
                    SHA384 => &ring_sig::ECDSA_P384_SHA384_ASN1,
                    _ => return None,
                },
                key.to_encoded_point(false).as_bytes().to_vec(),
            ),
            _ => return None,
        };
        Some(
            ring_sig::UnparsedPublicKey::new(algorithm, point)
                .verify(signed, signature)
                .is_ok(),
        )
    }

    /// Checks an X.509 signature made with the algorithm `algorithm_oid`
    /// (dotted) over `signed`. ECDSA accepts SHA-256, -384 and -512 on
    /// either curve (as Go's `CheckSignature` does); SHA-1 and RSA-PSS are
    /// refused as unsupported.
    pub(crate) fn verify(
        &self,
        algorithm_oid: &str,
        signed: &[u8],
        signature: &[u8],
    ) -> Result<(), VerifyError> {
        let wrong_key = || {
            VerifyError::WrongKey(format!(
                "a {} key cannot make {} signatures",
                self.describe(),
                signature_algorithm_name(algorithm_oid)
            ))
        };
        match algorithm_oid {
            "1.2.840.10045.4.3.2" | "1.2.840.10045.4.3.3" | "1.2.840.10045.4.3.4" => {
                if let Some(ok) = self.verify_ecdsa_with_ring(algorithm_oid, signed, signature) {
                    return ok.then_some(()).ok_or(VerifyError::Invalid);
                }
                let digest = match algorithm_oid {
                    "1.2.840.10045.4.3.2" => Sha256::digest(signed).to_vec(),
                    "1.2.840.10045.4.3.3" => Sha384::digest(signed).to_vec(),
                    _ => Sha512::digest(signed).to_vec(),
                };
                let ok = match self {
                    Self::P256(key) => p256::ecdsa::DerSignature::try_from(signature)
                        .is_ok_and(|sig| key.verify_prehash(&digest, &sig).is_ok()),
                    Self::P384(key) => p384::ecdsa::DerSignature::try_from(signature)
                        .is_ok_and(|sig| key.verify_prehash(&digest, &sig).is_ok()),
                    _ => return Err(wrong_key()),
                };
                ok.then_some(()).ok_or(VerifyError::Invalid)
            }
            "1.2.840.113549.1.1.11" | "1.2.840.113549.1.1.12" | "1.2.840.113549.1.1.13" => {
                let Self::Rsa(key) = self else {
                    return Err(wrong_key());
                };
                let (scheme, digest) = match algorithm_oid {
                    "1.2.840.113549.1.1.11" => (
                        rsa::Pkcs1v15Sign::new::<Sha256>(),
                        Sha256::digest(signed).to_vec(),
                    ),
                    "1.2.840.113549.1.1.12" => (
                        rsa::Pkcs1v15Sign::new::<Sha384>(),
                        Sha384::digest(signed).to_vec(),
                    ),
                    _ => (
                        rsa::Pkcs1v15Sign::new::<Sha512>(),
                        Sha512::digest(signed).to_vec(),
                    ),
                };
                key.verify(scheme, &digest, signature)
                    .map_err(|_| VerifyError::Invalid)
            }
            ED25519 => {
                let Self::Ed25519(key) = self else {
                    return Err(wrong_key());
                };
                let sig = ed25519_dalek::Signature::from_slice(signature)
                    .map_err(|_| VerifyError::Invalid)?;
                key.verify_strict(signed, &sig)
                    .map_err(|_| VerifyError::Invalid)
            }
            other => Err(VerifyError::Unsupported(signature_algorithm_name(other))),
        }
    }
}

/// Checks a signature by the key in `spki_der` (see [`PublicKey::verify`]).
pub(crate) fn verify_signature(
    spki_der: &[u8],
    algorithm_oid: &str,
    signed: &[u8],
    signature: &[u8],
) -> Result<(), VerifyError> {
    PublicKey::from_spki_der(spki_der)
        .map_err(|e| VerifyError::WrongKey(e.to_string()))?
        .verify(algorithm_oid, signed, signature)
}

/// The kind of key in a SubjectPublicKeyInfo, e.g. `RSA`, `ECDSA P-256`,
/// `ECDSA P-521`, `Ed448`, or `unknown (<oid>)`; never fails, so that a
/// summary can show keys certwasm does not use.
fn kind(spki_der: &[u8]) -> String {
    let Ok(spki) = spki::SubjectPublicKeyInfoRef::from_der(spki_der) else {
        return "unreadable".to_owned();
    };
    let oid = spki.algorithm.oid.to_string();
    let curve = spki.algorithm.parameters_oid().map(|o| o.to_string()).ok();
    match (oid.as_str(), curve.as_deref()) {
        (RSA_ENCRYPTION, _) => "RSA".to_owned(),
        (EC_PUBLIC_KEY, Some(CURVE_P256)) => "ECDSA P-256".to_owned(),
        (EC_PUBLIC_KEY, Some(CURVE_P384)) => "ECDSA P-384".to_owned(),
        (EC_PUBLIC_KEY, Some(CURVE_P521)) => "ECDSA P-521".to_owned(),
        (EC_PUBLIC_KEY, Some(curve)) => format!("ECDSA on curve {curve}"),
        (ED25519, _) => "Ed25519".to_owned(),
        ("1.3.101.113", _) => "Ed448".to_owned(),
        ("1.3.101.110", _) => "X25519".to_owned(),
        ("1.2.840.10040.4.1", _) => "DSA".to_owned(),
        ("1.2.840.113549.1.1.10", _) => "RSA-PSS".to_owned(),
        (other, _) => format!("unknown ({other})"),
    }
}

/// A person's description of the key in a SubjectPublicKeyInfo, with the
/// RSA size: `RSA 2048`, `ECDSA P-256`, `Ed25519`, or the kind of a key
/// certwasm cannot use (`ECDSA P-521`).
pub(crate) fn describe_spki(spki_der: &[u8]) -> String {
    PublicKey::from_spki_der(spki_der).map_or_else(|_| kind(spki_der), |key| key.describe())
}

/// The OpenSSL name of an X.509 signature algorithm (what `openssl x509
/// -text` prints), or the dotted OID when it has none here.
pub(crate) fn signature_algorithm_name(oid: &str) -> String {
    match oid {
        "1.2.840.10045.4.1" => "ecdsa-with-SHA1",
        "1.2.840.10045.4.3.2" => "ecdsa-with-SHA256",
        "1.2.840.10045.4.3.3" => "ecdsa-with-SHA384",
        "1.2.840.10045.4.3.4" => "ecdsa-with-SHA512",
        "1.2.840.113549.1.1.4" => "md5WithRSAEncryption",
        "1.2.840.113549.1.1.5" => "sha1WithRSAEncryption",
        "1.2.840.113549.1.1.10" => "rsassaPss",
        "1.2.840.113549.1.1.11" => "sha256WithRSAEncryption",
        "1.2.840.113549.1.1.12" => "sha384WithRSAEncryption",
        "1.2.840.113549.1.1.13" => "sha512WithRSAEncryption",
        ED25519 => "ED25519",
        "1.3.101.113" => "ED448",
        other => return other.to_owned(),
    }
    .to_owned()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::pki::KeyAlgorithm;
    use crate::pki::test_key;

    #[test]
    fn describes_every_host_key_and_reads_it_back_equal() {
        for (algorithm, expected) in [
            (KeyAlgorithm::Rsa2048, "RSA 2048"),
            (KeyAlgorithm::EcdsaP256, "ECDSA P-256"),
            (KeyAlgorithm::EcdsaP384, "ECDSA P-384"),
            (KeyAlgorithm::Ed25519, "Ed25519"),
        ] {
            let spki = test_key(algorithm).public_key_der();
            assert_eq!(describe_spki(&spki), expected);
            let key = PublicKey::from_spki_der(&spki).unwrap();
            assert_eq!(key.describe(), expected);
        }
        assert_eq!(describe_spki(b"junk"), "unreadable");
    }

    #[test]
    fn a_signature_verifies_only_with_its_algorithm_key_and_data() {
        let key = test_key(KeyAlgorithm::EcdsaP256);
        let public = PublicKey::from_spki_der(&key.public_key_der()).unwrap();
        let signature = key
            .sign(crate::pki::SignatureAlgorithm::EcdsaP256Sha256, b"data")
            .unwrap();
        assert_eq!(
            public.verify("1.2.840.10045.4.3.2", b"data", &signature),
            Ok(())
        );
        assert_eq!(
            public.verify("1.2.840.10045.4.3.2", b"datA", &signature),
            Err(VerifyError::Invalid)
        );
        // Same bytes under another hash: a different message.
        assert_eq!(
            public.verify("1.2.840.10045.4.3.3", b"data", &signature),
            Err(VerifyError::Invalid)
        );
        assert!(matches!(
            public.verify("1.2.840.113549.1.1.11", b"data", &signature),
            Err(VerifyError::WrongKey(message)) if message.contains("ECDSA P-256")
        ));
        assert_eq!(
            public.verify("1.2.840.113549.1.1.5", b"data", &signature),
            Err(VerifyError::Unsupported("sha1WithRSAEncryption".to_owned()))
        );
        let other = test_key(KeyAlgorithm::EcdsaP384);
        assert!(
            verify_signature(
                &other.public_key_der(),
                "1.2.840.10045.4.3.2",
                b"data",
                &signature
            )
            .is_err()
        );
    }
}
