//! ECDSA P-256 private keys, signed with ring.
//!
//! P-256 is cert-manager's most common key and certwasm's hot path: every
//! issuance generates one, signs a CSR with it and reads it back from the
//! Secret on later passes. With RustCrypto's `p256` every construction
//! re-derives the public point and every signature runs portable field
//! arithmetic; together with verification that was a quarter of the CPU in
//! the lifecycle benchmark. ring's P-256 is hand-written assembly and checks
//! a key pair at a fraction of the cost, so this module keeps the scalar and
//! the public point for encoding and lends ring the signing.
//!
//! ring does not zeroize its own copy of the scalar when the key pair is
//! dropped (rustls's TLS keys share that property); the copy this module
//! keeps for encoding is zeroized.

use std::fmt;

use der::Decode;
use p256::elliptic_curve::sec1::ToEncodedPoint;
use ring::rand::SystemRandom;
use ring::signature::{ECDSA_P256_SHA256_ASN1_SIGNING, EcdsaKeyPair, KeyPair};
use zeroize::Zeroizing;

use super::PkiError;

/// An ECDSA P-256 key pair: the scalar and uncompressed public point for
/// encoding, and ring's key pair for signing.
pub(super) struct P256Key {
    scalar: Zeroizing<Vec<u8>>,
    public_point: Vec<u8>,
    signer: EcdsaKeyPair,
}

impl fmt::Debug for P256Key {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("P256Key").finish_non_exhaustive()
    }
}

fn invalid(e: impl fmt::Display) -> PkiError {
    PkiError::InvalidKey(format!("EC private key: {e}"))
}

impl P256Key {
    /// A fresh key from the operating system's CSPRNG.
    pub(super) fn generate() -> Result<Self, PkiError> {
        let failed = |reason: String| PkiError::Generate {
            algorithm: "ECDSA P-256",
            reason,
        };
        let rng = SystemRandom::new();
        let pkcs8 = EcdsaKeyPair::generate_pkcs8(&ECDSA_P256_SHA256_ASN1_SIGNING, &rng)
            .map_err(|e| failed(e.to_string()))?;
        let info = pkcs8::PrivateKeyInfo::try_from(pkcs8.as_ref())
            .map_err(|e| failed(format!("reading ring's PKCS#8: {e}")))?;
        let sec1 = sec1::EcPrivateKey::from_der(info.private_key)
            .map_err(|e| failed(format!("reading ring's SEC1: {e}")))?;
        let signer =
            EcdsaKeyPair::from_pkcs8(&ECDSA_P256_SHA256_ASN1_SIGNING, pkcs8.as_ref(), &rng)
                .map_err(|e| failed(e.to_string()))?;
        Ok(Self {
            scalar: Zeroizing::new(sec1.private_key.to_vec()),
            public_point: signer.public_key().as_ref().to_vec(),
            signer,
        })
    }

    /// A key from its scalar and, when the encoding carries it, its public
    /// point. ring checks that the point is the scalar's own (a forged or
    /// corrupted pair is refused); a key without one derives it, which is
    /// the slow path (Go, OpenSSL and certwasm always write the point).
    pub(super) fn from_parts(scalar: &[u8], public_point: Option<&[u8]>) -> Result<Self, PkiError> {
        let derived;
        let public_point = match public_point {
            Some(point) => point,
            None => {
                let secret = p256::SecretKey::from_slice(scalar).map_err(invalid)?;
                derived = secret.public_key().to_sec1_bytes();
                &derived
            }
        };
        // ring reads only the uncompressed form; a compressed point is
        // re-encoded (rare: Go and OpenSSL write it uncompressed).
        let uncompressed;
        let public_point = if public_point.first() == Some(&0x04) {
            public_point
        } else {
            let point = p256::PublicKey::from_sec1_bytes(public_point).map_err(invalid)?;
            uncompressed = point.to_encoded_point(false);
            uncompressed.as_bytes()
        };
        let signer = EcdsaKeyPair::from_private_key_and_public_key(
            &ECDSA_P256_SHA256_ASN1_SIGNING,
            scalar,
            public_point,
            &SystemRandom::new(),
        )
        .map_err(|_| {
            PkiError::InvalidKey(
                "the EC private key is not a valid P-256 key, or its embedded public key is not \
                 its own"
                    .into(),
            )
        })?;
        Ok(Self {
            scalar: Zeroizing::new(scalar.to_vec()),
            public_point: public_point.to_vec(),
            signer,
        })
    }

    /// The private scalar, big-endian (for SEC1 and PKCS#8 encoding).
    pub(super) fn scalar(&self) -> &[u8] {
        &self.scalar
    }

    /// The public point, uncompressed SEC1.
    pub(super) fn public_point(&self) -> &[u8] {
        &self.public_point
    }

    /// ECDSA with SHA-256 over `data`, ASN.1 DER (`Ecdsa-Sig-Value`). ring
    /// draws the nonce from the CSPRNG.
    pub(super) fn sign(&self, data: &[u8]) -> Result<Vec<u8>, String> {
        self.signer
            .sign(&SystemRandom::new(), data)
            .map(|signature| signature.as_ref().to_vec())
            .map_err(|e| e.to_string())
    }
}
