//! certwasm's `ca` issuer: signs with the key pair in the Secret that
//! `spec.ca.secretName` names (`tls.crt`, `tls.key`, optional `ca.crt`), as
//! cert-manager's CA issuer does, with its reasons and messages
//! (`pkg/issuer/ca/setup.go`, `pkg/controller/certificaterequests/ca/ca.go`).
//! The key stays in the host; this plugin holds a handle.
//!
//! The logic is written against [`CaHost`] rather than the imports, so it
//! runs natively: in the unit tests, and in the host's benchmark
//! ([`load_material`] + [`sign`]), which measures exactly this code.

use certwasm_plugin_sdk::bindings::certwasm::issuer::{clock, secrets};
use certwasm_plugin_sdk::config::INVALID_CONFIG;
use certwasm_plugin_sdk::host::HostKey;
use certwasm_plugin_sdk::types::{
    CertificateRequest, Issued, IssuerConfig, PluginError, Readiness, Secret,
};
use certwasm_plugin_sdk::x509::{
    self, Certificate, CertificateParams, Csr, IssuedBy, PemBundle, Signer, X509Error,
};
use certwasm_plugin_sdk::{Outcome, failed, retry_later};
use serde::Deserialize;

/// `spec.ca` of an Issuer.
#[derive(Debug, Default, Clone, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct CaConfig {
    /// The Secret holding `tls.crt` and `tls.key` (and maybe `ca.crt`).
    #[serde(default)]
    pub secret_name: String,
    #[serde(default)]
    pub crl_distribution_points: Vec<String>,
    #[serde(default)]
    pub ocsp_servers: Vec<String>,
    #[serde(default, rename = "issuingCertificateURLs")]
    pub issuing_certificate_urls: Vec<String>,
}

/// The CA as read from its Secret: the signing certificate (the first of
/// `tls.crt`), then the rest of `tls.crt` and the first of `ca.crt`, which
/// are the candidates for the chain above it.
#[derive(Debug, Clone)]
pub struct CaMaterial {
    certificates: Vec<Certificate>,
}

impl CaMaterial {
    /// The signing certificate.
    pub fn ca(&self) -> &Certificate {
        &self.certificates[0]
    }

    /// The signing certificate, then the chain candidates.
    pub fn certificates(&self) -> &[Certificate] {
        &self.certificates
    }
}

/// What is wrong with a CA Secret's contents.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum MaterialError {
    /// `tls.crt` or `ca.crt` cannot be parsed (cert-manager's wording).
    Parse(String),
    /// The signing certificate is not a CA.
    NotCa,
    /// `tls.key` is not the key of the signing certificate.
    KeyMismatch,
}

impl std::fmt::Display for MaterialError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Self::Parse(why) => f.write_str(why),
            Self::NotCa => f.write_str("certificate is not a CA"),
            Self::KeyMismatch => {
                f.write_str("the private key (tls.key) does not match the certificate (tls.crt)")
            }
        }
    }
}

/// cert-manager's `DecodeX509CertificateChainBytes` errors.
fn parse_certificates(pem_bytes: &[u8]) -> Result<Vec<Certificate>, MaterialError> {
    let text = std::str::from_utf8(pem_bytes).map_err(|_| {
        MaterialError::Parse("error decoding certificate PEM block: not UTF-8 text".into())
    })?;
    let certificates = x509::parse_chain(text)
        .map_err(|e| MaterialError::Parse(format!("error parsing X.509 certificate: {e}")))?;
    if certificates.is_empty() {
        return Err(MaterialError::Parse(
            "error decoding certificate PEM block: no valid certificates found".into(),
        ));
    }
    Ok(certificates)
}

impl CaMaterial {
    /// Reads `tls.crt` (and `ca.crt`, whose first certificate joins the
    /// chain as in cert-manager's `SecretTLSKeyPairAndCA`) and checks that
    /// the signing certificate is a CA whose key `signer` holds.
    pub fn read(
        tls_crt: &[u8],
        ca_crt: Option<&[u8]>,
        signer: &dyn Signer,
    ) -> Result<Self, MaterialError> {
        Self::from_certificates(parse_certificates(tls_crt)?, ca_crt, signer)
    }

    fn from_certificates(
        mut certificates: Vec<Certificate>,
        ca_crt: Option<&[u8]>,
        signer: &dyn Signer,
    ) -> Result<Self, MaterialError> {
        let Some(ca) = certificates.first() else {
            return Err(MaterialError::Parse(
                "error decoding certificate PEM block: no valid certificates found".into(),
            ));
        };
        if !ca.is_ca() {
            return Err(MaterialError::NotCa);
        }
        if !ca.key_matches(signer) {
            return Err(MaterialError::KeyMismatch);
        }
        if let Some(ca_crt) = ca_crt.filter(|bytes| !bytes.is_empty()) {
            certificates.extend(parse_certificates(ca_crt)?.into_iter().take(1));
        }
        Ok(Self { certificates })
    }
}

const GET_KEY_PAIR: &str = "ErrGetKeyPair";
const INVALID_KEY_PAIR: &str = "ErrInvalidKeyPair";
/// cert-manager's `messageErrorGetKeyPair`, the prefix of every
/// validation failure (v1.15+; older versions also had "Invalid signing key
/// pair: ").
const GET_KEY_PAIR_MESSAGE: &str = "Error getting keypair for CA issuer";

fn validation_error(error: MaterialError) -> PluginError {
    match error {
        MaterialError::Parse(_) => {
            retry_later(GET_KEY_PAIR, format!("{GET_KEY_PAIR_MESSAGE}: {error}"))
        }
        MaterialError::NotCa | MaterialError::KeyMismatch => {
            failed(INVALID_KEY_PAIR, format!("{GET_KEY_PAIR_MESSAGE}: {error}"))
        }
    }
}

/// Reads the CA from `tls.crt` alone, with validation's wording. (The
/// issue path also reads `ca.crt`: see [`CaMaterial::read`].)
pub fn load_material(tls_crt: &str, signer: &dyn Signer) -> Result<CaMaterial, PluginError> {
    CaMaterial::read(tls_crt.as_bytes(), None, signer).map_err(validation_error)
}

/// Signs `request` with the CA: the leaf, the chain above it and the CA for
/// `ca.crt`, ordered as cert-manager's `SignCSRTemplate` does (leaf first,
/// intermediates, no self-signed root; the top of the chain as the CA).
pub fn sign(
    material: &CaMaterial,
    settings: &CaConfig,
    request: &CertificateRequest,
    signer: &dyn Signer,
    now_unix: i64,
    serial: [u8; 16],
) -> Result<Issued, PluginError> {
    let params = CertificateParams {
        crl_distribution_points: &settings.crl_distribution_points,
        ocsp_servers: &settings.ocsp_servers,
        issuing_certificate_urls: &settings.issuing_certificate_urls,
        ..CertificateParams::for_request(request)
    };
    let csr_der = x509::decode_csr_pem(&request.csr_pem).map_err(signing_error)?;
    let csr = Csr::from_der(&csr_der).map_err(signing_error)?;
    let leaf = x509::sign_csr(
        &csr,
        &params,
        IssuedBy::Ca(material.ca()),
        signer,
        now_unix,
        serial,
    )
    .map_err(signing_error)?;
    let leaf = Certificate::from_der(leaf).map_err(signing_error)?;
    let bundle = PemBundle::from_chain(&leaf, &material.certificates).map_err(signing_error)?;
    Ok(Issued {
        certificate_chain_pem: bundle.chain_pem,
        ca_pem: bundle.ca_pem,
    })
}

/// cert-manager fails the request with `SigningError` for both a bad
/// template (the CSR) and a failed signature.
fn signing_error(error: X509Error) -> PluginError {
    let context = match error {
        X509Error::Pem(_)
        | X509Error::Malformed(_)
        | X509Error::BadUrl { .. }
        | X509Error::Time(_) => "Error generating certificate template",
        _ => "Error signing certificate",
    };
    failed("SigningError", format!("{context}: {error}"))
}

/// What the plugin asks of the host; the imports in a plugin, fakes in tests.
pub trait CaHost {
    /// `secrets.get`.
    fn secret(&self, name: &str) -> Result<Option<Secret>, String>;
    /// `signer.load`, wrapped as a signer.
    fn load_key(&self, secret: &str, field: &str) -> Result<Box<dyn Signer + '_>, String>;
}

impl CaConfig {
    /// The Secret's name, which the config must give.
    fn secret_name(&self) -> Result<&str, PluginError> {
        if self.secret_name.is_empty() {
            return Err(failed(INVALID_CONFIG, "spec.ca.secretName: Required value"));
        }
        Ok(&self.secret_name)
    }
}

/// Checks the CA Secret: cert-manager's CA issuer `Setup`, which also
/// checks here that `tls.key` is the certificate's key.
pub fn validate(
    settings: &CaConfig,
    config: &IssuerConfig,
    host: &dyn CaHost,
) -> Result<Readiness, PluginError> {
    let name = settings.secret_name()?;
    let get_error = |detail: &dyn std::fmt::Display| {
        retry_later(GET_KEY_PAIR, format!("{GET_KEY_PAIR_MESSAGE}: {detail}"))
    };
    let secret = host
        .secret(name)
        .map_err(|e| get_error(&e))?
        .ok_or_else(|| get_error(&format!("secrets \"{name}\" not found")))?;
    let tls_crt = secret.field("tls.crt").ok_or_else(|| {
        get_error(&format!(
            "no data for \"tls.crt\" in secret '{}/{name}'",
            config.namespace
        ))
    })?;
    // The certificate first, then the key, as cert-manager reads them.
    let certificates = parse_certificates(tls_crt).map_err(validation_error)?;
    let key = host.load_key(name, "tls.key").map_err(|e| get_error(&e))?;
    CaMaterial::from_certificates(certificates, None, &*key).map_err(validation_error)?;
    Ok(Readiness {
        reason: "KeyPairVerified".into(),
        message: "Signing CA verified".into(),
    })
}

/// Signs a request: cert-manager's CA `Sign`, with its reasons. A Secret
/// that is missing or broken leaves the request pending (retryable); a
/// request that cannot be signed fails it.
pub fn issue(
    settings: &CaConfig,
    request: &CertificateRequest,
    host: &dyn CaHost,
    now_unix: i64,
    serial: [u8; 16],
) -> Result<Issued, PluginError> {
    let name = settings.secret_name()?;
    let namespace = &request.issuer.namespace;
    let secret = host
        .secret(name)
        .map_err(|e| {
            retry_later(
                "SecretGetError",
                format!("Failed to get certificate key pair from secret {namespace}/{name}: {e}"),
            )
        })?
        .ok_or_else(|| {
            retry_later(
                "SecretMissing",
                format!(
                    "Referenced secret {namespace}/{name} not found: secrets \"{name}\" not found"
                ),
            )
        })?;
    let invalid = |detail: &dyn std::fmt::Display| {
        retry_later(
            "SecretInvalidData",
            format!("Failed to parse signing CA keypair from secret {namespace}/{name}: {detail}"),
        )
    };
    let key = host.load_key(name, "tls.key").map_err(|e| invalid(&e))?;
    let tls_crt = secret.field("tls.crt").ok_or_else(|| {
        invalid(&format!(
            "no certificate data for \"tls.crt\" in secret '{namespace}/{name}'"
        ))
    })?;
    let material =
        CaMaterial::read(tls_crt, secret.field("ca.crt"), &*key).map_err(|e| match e {
            MaterialError::KeyMismatch => signing_error(X509Error::IssuerKeyMismatch),
            other => invalid(&other),
        })?;
    sign(&material, settings, request, &*key, now_unix, serial)
}

/// The imports.
struct Imports;

impl CaHost for Imports {
    fn secret(&self, name: &str) -> Result<Option<Secret>, String> {
        secrets::get(name).map_err(|e| e.message().to_owned())
    }

    fn load_key(&self, secret: &str, field: &str) -> Result<Box<dyn Signer + '_>, String> {
        HostKey::load(secret, field)
            .map(|key| Box::new(key) as Box<dyn Signer>)
            .map_err(|e| e.to_string())
    }
}

/// The plugin, on the SDK's typed [`certwasm_plugin_sdk::Issuer`].
struct Ca;

impl certwasm_plugin_sdk::Issuer for Ca {
    type Config = CaConfig;
    type State = ();
    const NAME: &'static str = "ca";
    const VERSION: &'static str = env!("CARGO_PKG_VERSION");
    const DESCRIPTION: &'static str =
        "Certificates signed by a CA key pair kept in a Secret (cert-manager's CA issuer).";
    const CONFIG_PATH: &'static [&'static str] = &["ca"];

    fn validate(settings: &CaConfig, config: &IssuerConfig) -> Result<Readiness, PluginError> {
        validate(settings, config, &Imports)
    }

    fn issue(
        settings: &CaConfig,
        request: &CertificateRequest,
        _state: Option<()>,
    ) -> Result<Outcome<()>, PluginError> {
        let serial = x509::random_serial()
            .map_err(|e| retry_later("SigningError", format!("Error signing certificate: {e}")))?;
        issue(
            settings,
            request,
            &Imports,
            clock::now_unix_seconds(),
            serial,
        )
        .map(Outcome::from)
    }
}

certwasm_plugin_sdk::export_issuer!(Ca);

#[cfg(test)]
mod tests;
