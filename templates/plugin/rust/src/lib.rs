//! {{name}}: a certwasm issuer plugin that signs certificate requests with
//! a CA kept in a Secret, which the Issuer names in
//! `spec.plugin.config.caSecretRef.name` (`tls.crt` and `tls.key`).
//!
//! The plugin implements the SDK's typed `Issuer`: the SDK reads
//! `spec.plugin.config` into [`Config`] (a mistake there is an
//! `InvalidConfig` error naming the field, before this code runs) and turns
//! the result into what the host expects. The signing itself is the pure
//! function [`sign`], which the tests at the end run natively with keys made
//! by openssl; only [`load_ca`] talks to the host.

use certwasm_plugin_sdk::bindings::certwasm::issuer::{clock, secrets};
use certwasm_plugin_sdk::host::HostKey;
use certwasm_plugin_sdk::types::{
    CertificateRequest, Issued, IssuerConfig, PluginError, Readiness,
};
use certwasm_plugin_sdk::x509::{self, Certificate, CertificateParams, Signer};
use certwasm_plugin_sdk::{Issuer, Outcome, ResultExt, failed, host_failure};
use serde::Deserialize;

/// `spec.plugin.config`.
#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Config {
    /// The Secret holding the CA: `tls.crt` and `tls.key`.
    pub ca_secret_ref: SecretRef,
}

/// A Secret in the issuer's namespace.
#[derive(Debug, Deserialize)]
pub struct SecretRef {
    /// Its name.
    pub name: String,
}

/// The reasons a call gives when the CA cannot be used, as cert-manager's
/// CA issuer gives them: `validate` (the Issuer's Ready condition) and
/// `issue` (the request's) word the same failures differently.
#[derive(Debug, Clone, Copy)]
pub struct Reasons {
    /// The Secret or its key cannot be read.
    pub get: &'static str,
    /// The Secret is there, but what it holds cannot be the CA.
    pub invalid: &'static str,
}

/// For `validate`.
pub const ISSUER_REASONS: Reasons = Reasons {
    get: "ErrGetKeyPair",
    invalid: "ErrInvalidKeyPair",
};

/// For `issue`.
pub const REQUEST_REASONS: Reasons = Reasons {
    get: "SecretGetError",
    invalid: "SecretInvalidData",
};

/// Reads the CA certificate from the Secret's `tls.crt`. Fixing the Secret
/// is a change someone must make, so these errors are final; the host calls
/// `validate` again when the Secret changes.
pub fn read_ca(name: &str, tls_crt: Option<&[u8]>, reason: &str) -> Result<Certificate, PluginError> {
    let why = format!("Invalid CA in Secret {name}");
    let tls_crt = tls_crt.ok_or_else(|| failed(reason, format!("{why}: it has no tls.crt")))?;
    let ca = Certificate::from_pem(&String::from_utf8_lossy(tls_crt)).or_fail(reason, &why)?;
    if !ca.is_ca() {
        return Err(failed(reason, format!("{why}: tls.crt is not a CA certificate")));
    }
    Ok(ca)
}

/// Signs the request with the CA: the leaf is the chain, the CA is
/// `ca.crt`. Pure (the time, serial and key are arguments), so it is tested
/// natively.
pub fn sign(
    ca: &Certificate,
    key: &dyn Signer,
    request: &CertificateRequest,
    now_unix: i64,
    serial: [u8; 16],
) -> Result<Issued, PluginError> {
    let params = CertificateParams::for_request(request);
    let leaf = x509::sign_request(
        &request.csr_pem,
        &params,
        x509::IssuedBy::Ca(ca),
        key,
        now_unix,
        serial,
    )
    .or_fail("SigningError", "Error signing certificate")?;
    Ok(Issued {
        certificate_chain_pem: leaf,
        ca_pem: Some(ca.to_pem()),
    })
}

/// The CA certificate and a handle to its key, which stays in the host.
fn load_ca(secret: &SecretRef, reasons: Reasons) -> Result<(Certificate, HostKey), PluginError> {
    let name = &secret.name;
    let data = secrets::get(name)
        .map_err(host_failure(reasons.get, &format!("Failed to read the CA Secret {name}")))?
        .ok_or_else(|| {
            failed(
                reasons.get,
                format!("Failed to read the CA Secret {name}: it does not exist"),
            )
        })?;
    let ca = read_ca(name, data.field("tls.crt"), reasons.invalid)?;
    let key = HostKey::load(name, "tls.key").map_err(|e| PluginError {
        reason: reasons.get.into(),
        message: format!("Failed to load the CA key from Secret {name}: {e}"),
        retryable: e.is_retryable(),
    })?;
    if !ca.key_matches(&key) {
        return Err(failed(
            reasons.invalid,
            format!("Invalid CA in Secret {name}: tls.key is not the key of tls.crt"),
        ));
    }
    Ok((ca, key))
}

/// The plugin.
#[derive(Debug)]
pub struct Plugin;

impl Issuer for Plugin {
    type Config = Config;
    /// Everything happens in one call: no state.
    type State = ();
    const NAME: &'static str = "{{name}}";
    const VERSION: &'static str = env!("CARGO_PKG_VERSION");
    const DESCRIPTION: &'static str = "Certificates signed by a CA kept in a Secret.";

    fn validate(config: &Config, _issuer: &IssuerConfig) -> Result<Readiness, PluginError> {
        let (ca, _key) = load_ca(&config.ca_secret_ref, ISSUER_REASONS)?;
        let subject = x509::distinguished_name(ca.subject_der()).unwrap_or_default();
        Ok(Readiness {
            reason: "KeyPairVerified".into(),
            message: format!("Signing CA verified: {subject}"),
        })
    }

    fn issue(
        config: &Config,
        request: &CertificateRequest,
        _state: Option<()>,
    ) -> Result<Outcome<()>, PluginError> {
        let (ca, key) = load_ca(&config.ca_secret_ref, REQUEST_REASONS)?;
        let serial = x509::random_serial().or_retry("SigningError", "Error signing certificate")?;
        sign(&ca, &key, request, clock::now_unix_seconds(), serial).map(Outcome::from)
    }
}

certwasm_plugin_sdk::export_issuer!(Plugin);

#[cfg(test)]
mod tests {
    use certwasm_plugin_sdk::testing::{self, KeyKind, OpensslKey};
    use certwasm_plugin_sdk::x509::DEFAULT_DURATION_SECONDS;

    use super::*;

    const NOW: i64 = 1_790_000_000;
    const SPEC: &str = r#"{"plugin":{"name":"{{name}}","config":{"caSecretRef":{"name":"the-ca"}}}}"#;

    /// A self-signed CA made with the SDK itself, and its key.
    fn test_ca() -> (Certificate, OpensslKey) {
        let key = OpensslKey::generate(KeyKind::EcdsaP256);
        let params = CertificateParams {
            is_ca: true,
            ..CertificateParams::default()
        };
        let pem = x509::sign_request(
            &key.csr("/CN=Test CA", &[]),
            &params,
            x509::IssuedBy::SelfSigned,
            &key,
            NOW - 60,
            [1; 16],
        )
        .unwrap();
        (Certificate::from_pem(&pem).unwrap(), key)
    }

    #[test]
    fn a_leaf_signed_by_the_ca_verifies() {
        let (ca, ca_key) = test_ca();
        let leaf_key = OpensslKey::generate(KeyKind::EcdsaP256);
        let csr = leaf_key.csr("/CN=example.com", &["subjectAltName=DNS:example.com"]);
        let issued = sign(&ca, &ca_key, &testing::request(SPEC, &csr), NOW, [2; 16]).unwrap();
        let ca_pem = issued.ca_pem.clone().unwrap();
        testing::verify(&ca_pem, &issued.certificate_chain_pem, NOW + 60).unwrap();
        // cert-manager's default lifetime: 90 days, and not a day more.
        let after = NOW + DEFAULT_DURATION_SECONDS as i64 + 60;
        assert!(testing::verify(&ca_pem, &issued.certificate_chain_pem, after).is_err());
        assert!(testing::text(&issued.certificate_chain_pem).contains("DNS:example.com"));
    }

    #[test]
    fn a_leaf_certificate_is_not_a_ca() {
        let (_, key) = test_ca();
        let leaf = x509::sign_request(
            &key.csr("/CN=leaf", &[]),
            &CertificateParams::default(),
            x509::IssuedBy::SelfSigned,
            &key,
            NOW,
            [3; 16],
        )
        .unwrap();
        let error = read_ca("the-ca", Some(leaf.as_bytes()), "ErrInvalidKeyPair").unwrap_err();
        assert_eq!(error.reason, "ErrInvalidKeyPair");
        assert_eq!(
            error.message,
            "Invalid CA in Secret the-ca: tls.crt is not a CA certificate"
        );
        assert!(!error.retryable);
        assert!(read_ca("the-ca", None, "ErrInvalidKeyPair").is_err());
    }

    #[test]
    fn the_config_is_read_by_the_sdk() {
        let request = testing::request(SPEC, "");
        let config = certwasm_plugin_sdk::issuer::read_config::<Plugin>(&request.issuer).unwrap();
        assert_eq!(config.ca_secret_ref.name, "the-ca");
        let wrong = testing::request(r#"{"plugin":{"name":"{{name}}","config":{}}}"#, "");
        let error = certwasm_plugin_sdk::issuer::read_config::<Plugin>(&wrong.issuer).unwrap_err();
        assert_eq!(error.reason, "InvalidConfig");
        assert!(error.message.contains("caSecretRef"), "{}", error.message);
    }
}
