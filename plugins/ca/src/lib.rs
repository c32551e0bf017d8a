//! certwasm's `ca` issuer: signs with the key pair in the Secret that
//! `spec.ca.secretName` names (`tls.crt`, `tls.key`), as cert-manager's CA
//! issuer does. The key stays in the host; this plugin holds a handle.

use certwasm_plugin_sdk::bindings::Guest;
use certwasm_plugin_sdk::bindings::certwasm::issuer::{clock, secrets};
use certwasm_plugin_sdk::host::HostKey;
use certwasm_plugin_sdk::types::{
    CertificateRequest, IssueOutcome, Issued, IssuerConfig, PluginError, PluginInfo, Readiness,
};
use certwasm_plugin_sdk::x509::{self, Certificate, CertificateParams, Issuer, IssuingCa, Signer};
use certwasm_plugin_sdk::{config, permanent, transient};
use serde::Deserialize;

/// `spec.ca`.
#[derive(Debug, Default, Clone, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct CaConfig {
    pub secret_name: String,
    #[serde(default)]
    pub crl_distribution_points: Vec<String>,
    #[serde(default)]
    pub ocsp_servers: Vec<String>,
    #[serde(default, rename = "issuingCertificateURLs")]
    pub issuing_certificate_urls: Vec<String>,
}

/// The CA certificate chain from the Secret's `tls.crt`.
#[derive(Debug, Clone)]
pub struct CaMaterial {
    /// The signing CA.
    pub ca: IssuingCa,
    /// The signing CA's certificate, PEM (`ca.crt` when it is the top).
    pub ca_pem: String,
    /// `tls.crt` after the signing CA: intermediates, maybe a root.
    pub chain: Vec<Certificate>,
}

const GET_KEY_PAIR: &str = "ErrGetKeyPair";
const INVALID_KEY_PAIR: &str = "ErrInvalidKeyPair";

fn get_key_pair_error(detail: impl std::fmt::Display) -> PluginError {
    permanent(GET_KEY_PAIR, format!("Error getting keypair for CA issuer: {detail}"))
}

fn invalid_key_pair_error(detail: impl std::fmt::Display) -> PluginError {
    permanent(INVALID_KEY_PAIR, format!("Invalid signing key pair: {detail}"))
}

/// Reads the CA chain and checks it can sign: a CA certificate whose public
/// key is the signer's.
pub fn load_material(tls_crt: &str, signer: &dyn Signer) -> Result<CaMaterial, PluginError> {
    let certs = x509::parse_chain(tls_crt).map_err(get_key_pair_error)?;
    let (first, rest) = certs
        .split_first()
        .ok_or_else(|| get_key_pair_error("tls.crt holds no certificate"))?;
    let ca = IssuingCa::from_certificate(first).map_err(get_key_pair_error)?;
    if !x509::key_matches(first, signer) {
        return Err(invalid_key_pair_error("the private key (tls.key) does not match the certificate (tls.crt)"));
    }
    if !ca.is_ca {
        return Err(invalid_key_pair_error("the certificate (tls.crt) is not a CA (basicConstraints CA:TRUE)"));
    }
    Ok(CaMaterial {
        ca,
        ca_pem: x509::to_pem(first).map_err(get_key_pair_error)?,
        chain: rest.to_vec(),
    })
}

/// Signs `request` with the CA. Returns the chain (leaf, then the CA's
/// intermediates; a self-signed root is left out, as cert-manager does) and
/// the CA for `ca.crt` (the top of the chain).
pub fn sign(
    material: &CaMaterial,
    settings: &CaConfig,
    request: &CertificateRequest,
    signer: &dyn Signer,
    now_unix: i64,
    serial: [u8; 16],
) -> Result<Issued, PluginError> {
    let params = CertificateParams {
        duration_seconds: request.duration_seconds,
        is_ca: request.is_ca,
        usages: &request.usages,
        crl_distribution_points: &settings.crl_distribution_points,
        ocsp_servers: &settings.ocsp_servers,
        issuing_certificate_urls: &settings.issuing_certificate_urls,
    };
    let leaf = x509::sign_request(&request.csr_pem, &params, Issuer::Ca(&material.ca), signer, now_unix, serial)
        .map_err(|e| permanent("ErrorSigning", e.to_string()))?;
    let encode = |cert| x509::to_pem(cert).map_err(|e| permanent("ErrorSigning", e.to_string()));
    let mut chain = leaf;
    let mut top = None;
    for cert in &material.chain {
        let pem = encode(cert)?;
        if !x509::is_self_issued(cert) {
            chain.push_str(&pem);
        }
        top = Some(pem);
    }
    let ca_pem = top.unwrap_or_else(|| material.ca_pem.clone());
    Ok(Issued {
        certificate_chain_pem: chain,
        ca_pem: Some(ca_pem),
    })
}

/// Reads the Secret and loads the key: the work both exports share.
fn open(config: &IssuerConfig) -> Result<(CaConfig, CaMaterial, HostKey), PluginError> {
    let settings: CaConfig = config::issuer_section(config, "ca")?;
    if settings.secret_name.is_empty() {
        return Err(permanent("InvalidConfig", "spec.ca.secretName: Required value"));
    }
    let name = &settings.secret_name;
    let secret = secrets::get(name)
        .map_err(get_key_pair_error)?
        .ok_or_else(|| get_key_pair_error(format!("secrets \"{name}\" not found")))?;
    let tls_crt = secret
        .data
        .iter()
        .find(|(field, _)| field == "tls.crt")
        .map(|(_, value)| String::from_utf8_lossy(value).into_owned())
        .ok_or_else(|| get_key_pair_error(format!("secret \"{name}\" has no tls.crt")))?;
    let key = HostKey::load(name, "tls.key").map_err(get_key_pair_error)?;
    let material = load_material(&tls_crt, &key)?;
    Ok((settings, material, key))
}

struct Ca;

impl Guest for Ca {
    fn info() -> PluginInfo {
        PluginInfo {
            name: "ca".into(),
            version: env!("CARGO_PKG_VERSION").into(),
            issuer_types: vec!["ca".into()],
            description: "Certificates signed by a CA key pair kept in a Secret (cert-manager's CA issuer).".into(),
        }
    }

    fn validate(config: IssuerConfig) -> Result<Readiness, PluginError> {
        open(&config)?;
        Ok(Readiness {
            reason: "KeyPairVerified".into(),
            message: "Signing CA verified".into(),
        })
    }

    fn issue(request: CertificateRequest, _state: Option<Vec<u8>>) -> Result<IssueOutcome, PluginError> {
        // A missing or broken CA Secret may be fixed by the user: retry.
        let (settings, material, key) = open(&request.issuer).map_err(|mut e| {
            e.retryable = e.reason == GET_KEY_PAIR;
            e
        })?;
        let mut serial = [0u8; 16];
        getrandom::fill(&mut serial).map_err(|e| transient("ErrorSigning", format!("no randomness for a serial: {e}")))?;
        sign(&material, &settings, &request, &key, clock::now_unix_seconds(), serial).map(IssueOutcome::Issued)
    }
}

certwasm_plugin_sdk::export!(Ca);
