//! certwasm's `selfSigned` issuer: signs each request with the request's
//! own private key, which the host lends as a handle.

use certwasm_plugin_sdk::bindings::Guest;
use certwasm_plugin_sdk::bindings::certwasm::issuer::clock;
use certwasm_plugin_sdk::host::HostKey;
use certwasm_plugin_sdk::types::{
    CertificateRequest, IssueOutcome, Issued, IssuerConfig, PluginError, PluginInfo, Readiness,
};
use certwasm_plugin_sdk::x509::{self, CertificateParams, Issuer};
use certwasm_plugin_sdk::{config, permanent};
use serde::Deserialize;

/// `spec.selfSigned`.
#[derive(Debug, Default, Deserialize)]
#[serde(rename_all = "camelCase")]
struct SelfSignedConfig {
    #[serde(default)]
    crl_distribution_points: Vec<String>,
}

struct SelfSigned;

impl Guest for SelfSigned {
    fn info() -> PluginInfo {
        PluginInfo {
            name: "selfsigned".into(),
            version: env!("CARGO_PKG_VERSION").into(),
            issuer_types: vec!["selfSigned".into()],
            description: "Self-signed certificates, signed with each request's own private key.".into(),
        }
    }

    fn validate(config: IssuerConfig) -> Result<Readiness, PluginError> {
        // Nothing to reach or load: a well-formed selfSigned issuer is ready,
        // with cert-manager's reason and (empty) message.
        config::issuer_section::<SelfSignedConfig>(&config, "selfSigned")?;
        Ok(Readiness {
            reason: "IsReady".into(),
            message: String::new(),
        })
    }

    fn issue(request: CertificateRequest, _state: Option<Vec<u8>>) -> Result<IssueOutcome, PluginError> {
        let settings: SelfSignedConfig = config::issuer_section(&request.issuer, "selfSigned")?;
        let handle = request.request_key.clone().ok_or_else(|| {
            permanent(
                "ErrorMissingPrivateKey",
                "the request carries no private key: a selfSigned issuer signs with the key named by the \
                 cert-manager.io/private-key-secret-name annotation",
            )
        })?;
        let key = HostKey::new(handle).map_err(|e| permanent("ErrorPrivateKey", e))?;
        let params = CertificateParams {
            duration_seconds: request.duration_seconds,
            is_ca: request.is_ca,
            usages: &request.usages,
            crl_distribution_points: &settings.crl_distribution_points,
            ..CertificateParams::default()
        };
        let pem = x509::sign_request(
            &request.csr_pem,
            &params,
            Issuer::SelfSigned,
            &key,
            clock::now_unix_seconds(),
            random_serial()?,
        )
        .map_err(|e| match e {
            x509::X509Error::KeyMismatch => permanent(
                "ErrorKeyMismatch",
                "the private key does not match the public key in the certificate request",
            ),
            other => permanent("ErrorSigning", other.to_string()),
        })?;
        Ok(IssueOutcome::Issued(Issued {
            ca_pem: Some(pem.clone()),
            certificate_chain_pem: pem,
        }))
    }
}

fn random_serial() -> Result<[u8; 16], PluginError> {
    let mut serial = [0u8; 16];
    getrandom::fill(&mut serial).map_err(|e| permanent("ErrorSigning", format!("no randomness for a serial: {e}")))?;
    Ok(serial)
}

certwasm_plugin_sdk::export!(SelfSigned);
