//! Keys held by the host, used through the `signer` import.

use crate::bindings::certwasm::issuer::signer;
use crate::types::{KeyHandle, SignatureAlgorithm};
use crate::x509::Signer;

/// A private key the host holds; the plugin has only its handle.
#[derive(Debug, Clone)]
pub struct HostKey {
    handle: KeyHandle,
    public_key_der: Vec<u8>,
}

impl HostKey {
    /// Wraps a handle the host granted (the request's key, or one from
    /// `signer::load` / `signer::generate`), fetching its public half once.
    pub fn new(handle: KeyHandle) -> Result<Self, String> {
        let public_key_der = signer::public_key(&handle)?;
        Ok(Self {
            handle,
            public_key_der,
        })
    }

    /// Loads the key in field `field` of Secret `secret`.
    pub fn load(secret: &str, field: &str) -> Result<Self, String> {
        Self::new(signer::load(secret, field)?)
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
        signer::sign(&self.handle, algorithm, data)
    }
}
