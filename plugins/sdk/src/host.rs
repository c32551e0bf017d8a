//! Private keys the host keeps, used through the `signer` import.

use crate::bindings::certwasm::issuer::signer;
use crate::types::{HostError, KeyAlgorithm, KeyHandle, SignatureAlgorithm};
use crate::x509::{self, Signer, X509Error};

/// A private key the host holds; the plugin has only its handle, its public
/// half and the signature algorithm certificates signed with it use.
///
/// It implements [`Signer`], so [`x509::sign_request`] signs through it with
/// one `signer.sign` call. Handles are valid for the current call only.
#[derive(Debug, Clone)]
pub struct HostKey {
    handle: KeyHandle,
    public_key_der: Vec<u8>,
    algorithm: SignatureAlgorithm,
}

/// Why a [`HostKey`] could not be had.
#[derive(Debug, Clone)]
pub enum HostKeyError {
    /// The host refused or failed (its error says which, worded for a user).
    Host(HostError),
    /// The key is one certificates cannot be signed with.
    Unsupported(X509Error),
}

impl std::fmt::Display for HostKeyError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Self::Host(error) => f.write_str(error.message()),
            Self::Unsupported(e) => e.fmt(f),
        }
    }
}

impl std::error::Error for HostKeyError {}

impl HostKeyError {
    /// Whether trying again later may succeed (the host's error was a
    /// passing fault, such as the cluster's API being unreachable).
    pub fn is_retryable(&self) -> bool {
        matches!(self, Self::Host(error) if error.is_retryable())
    }
}

impl HostKey {
    /// Wraps a handle the host granted (the request's `request-key`, or one
    /// from [`load`](Self::load) / [`generate`](Self::generate)), asking the
    /// host once for its public key.
    pub fn new(handle: KeyHandle) -> Result<Self, HostKeyError> {
        let public_key_der = signer::public_key(&handle).map_err(HostKeyError::Host)?;
        let algorithm =
            x509::signature_algorithm_for(&public_key_der).map_err(HostKeyError::Unsupported)?;
        Ok(Self {
            handle,
            public_key_der,
            algorithm,
        })
    }

    /// Loads the key in data key `field` (usually `tls.key`) of the Secret
    /// `secret`, which the issuer config must reference.
    pub fn load(secret: &str, field: &str) -> Result<Self, HostKeyError> {
        Self::new(signer::load(secret, field).map_err(HostKeyError::Host)?)
    }

    /// Generates a key kept in the Secret `secret` (`tls.key`), for keys a
    /// plugin needs across calls such as an ACME account key. An existing
    /// key is never overwritten: [`load`](Self::load) it instead.
    pub fn generate(secret: &str, algorithm: KeyAlgorithm) -> Result<Self, HostKeyError> {
        Self::new(signer::generate(secret, algorithm).map_err(HostKeyError::Host)?)
    }

    /// The handle, for calling the `signer` import directly.
    pub fn handle(&self) -> &str {
        &self.handle
    }
}

impl Signer for HostKey {
    fn public_key_der(&self) -> &[u8] {
        &self.public_key_der
    }

    fn sign(&self, algorithm: SignatureAlgorithm, data: &[u8]) -> Result<Vec<u8>, String> {
        signer::sign(&self.handle, algorithm, data).map_err(|e| e.message().to_owned())
    }

    fn signature_algorithm(&self) -> Result<SignatureAlgorithm, X509Error> {
        Ok(self.algorithm)
    }
}
