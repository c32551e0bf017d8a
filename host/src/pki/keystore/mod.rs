//! Keystores cert-manager writes next to the PEM files of a Certificate's
//! Secret (`spec.keystores`): PKCS#12 (`keystore.p12`, `truststore.p12`) and
//! Java KeyStore (`keystore.jks`, `truststore.jks`). Pure encoders: key,
//! chain, CA, password and options in, bytes out; reading the password
//! Secret and choosing which files to write is the controller's job
//! (`crate::controller::secret_outputs`).

pub mod jks;
pub mod pkcs12;

/// Why a keystore could not be encoded. The messages go into the error the
/// controller reports (an event on the Certificate), so they name the
/// keystore and the input at fault.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum KeystoreError {
    /// The key, a certificate or the password cannot be used.
    #[error("{0}")]
    Input(String),
    /// Writing the ASN.1 structures failed.
    #[error("encoding the keystore failed: {0}")]
    Encode(String),
    /// The requested PKCS#12 profile is not one certwasm can write.
    #[error("PKCS#12 profile {0} is not supported by certwasm")]
    UnsupportedProfile(&'static str),
}

impl KeystoreError {
    fn der(error: der::Error) -> KeystoreError {
        KeystoreError::Encode(error.to_string())
    }
}

/// Creation time stamps for entries: now, in milliseconds (what Java's
/// `KeyStore` records and `keytool -list` shows as "Creation date").
pub fn now_millis() -> u64 {
    u64::try_from(time::OffsetDateTime::now_utc().unix_timestamp_nanos() / 1_000_000).unwrap_or(0)
}

#[cfg(test)]
mod tests;
