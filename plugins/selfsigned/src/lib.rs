//! certwasm's `selfSigned` issuer: signs each request with the request's
//! own private key, which the host lends as a handle, as cert-manager's
//! SelfSigned issuer does, with its reasons and messages
//! (`pkg/issuer/selfsigned/setup.go`,
//! `pkg/controller/certificaterequests/selfsigned/selfsigned.go`).

use certwasm_plugin_sdk::bindings::certwasm::issuer::{clock, log};
use certwasm_plugin_sdk::host::HostKey;
use certwasm_plugin_sdk::types::{
    CertificateRequest, Issued, IssuerConfig, Need, PluginError, Readiness,
};
use certwasm_plugin_sdk::x509::{self, CertificateParams, Csr, Signer, X509Error};
use certwasm_plugin_sdk::{
    Issuer, Outcome, PRIVATE_KEY_SECRET_ANNOTATION, ResultExt, failed, retry_later,
};
use serde::Deserialize;

/// `spec.selfSigned`.
#[derive(Debug, Default, Deserialize)]
#[serde(rename_all = "camelCase")]
struct SelfSignedConfig {
    #[serde(default)]
    crl_distribution_points: Vec<String>,
}

/// cert-manager's warning for a self-signed certificate with an empty
/// subject (its `BadConfig` event).
const EMPTY_DN_MESSAGE: &str = "Certificate will be issued with an empty Issuer DN, which contravenes RFC 5280 and could break some strict clients";

/// A selfSigned issuer has nothing to reach or load: well-formed (which the
/// SDK checked when it read the config) is ready, with cert-manager's
/// reason and its empty message.
fn ready() -> Readiness {
    Readiness {
        reason: "IsReady".into(),
        message: String::new(),
    }
}

/// Why there is no key to sign with: cert-manager's wording for a request
/// without the annotation, or whose Secret (or key in it) is missing.
fn missing_key(request: &CertificateRequest) -> PluginError {
    match request
        .annotation(PRIVATE_KEY_SECRET_ANNOTATION)
        .filter(|name| !name.is_empty())
    {
        None => failed(
            "MissingAnnotation",
            format!(
                "Annotation \"{PRIVATE_KEY_SECRET_ANNOTATION}\" missing or reference empty: secret name missing"
            ),
        ),
        Some(name) => retry_later(
            "MissingSecret",
            format!(
                "Referenced secret {}/{name} not found: the host holds no private key for it",
                request.namespace
            ),
        ),
    }
}

/// Signs the request's CSR with its own key: the certificate is its own CA.
fn issue(
    settings: &SelfSignedConfig,
    request: &CertificateRequest,
    key: &dyn Signer,
    now_unix: i64,
    serial: [u8; 16],
) -> Result<Issued, PluginError> {
    let params = CertificateParams {
        crl_distribution_points: &settings.crl_distribution_points,
        ..CertificateParams::for_request(request)
    };
    let template_error = |e: X509Error| {
        failed(
            "ErrorGenerating",
            format!("Error generating certificate template: {e}"),
        )
    };
    let der = x509::decode_csr_pem(&request.csr_pem).map_err(template_error)?;
    let csr = Csr::from_der(&der).map_err(template_error)?;
    if csr.subject_is_empty() {
        log::write(log::Level::Warn, EMPTY_DN_MESSAGE);
    }
    let certificate = x509::sign_csr(
        &csr,
        &params,
        x509::IssuedBy::SelfSigned,
        key,
        now_unix,
        serial,
    )
    .map_err(|e| match e {
        X509Error::RequestKeyMismatch => failed(
            "ErrorKeyMatch",
            format!("Error generating certificate template: {e}"),
        ),
        X509Error::Pem(_)
        | X509Error::Malformed(_)
        | X509Error::BadUrl { .. }
        | X509Error::Time(_) => template_error(e),
        other => failed(
            "ErrorSigning",
            format!("Error signing certificate: {other}"),
        ),
    })?;
    let pem = x509::pem::encode("CERTIFICATE", &certificate);
    Ok(Issued {
        ca_pem: Some(pem.clone()),
        certificate_chain_pem: pem,
    })
}

struct SelfSigned;

impl Issuer for SelfSigned {
    type Config = SelfSignedConfig;
    type State = ();
    const NAME: &'static str = "selfsigned";
    const VERSION: &'static str = env!("CARGO_PKG_VERSION");
    const DESCRIPTION: &'static str = "Self-signed certificates, signed with each request's own private key (cert-manager's SelfSigned issuer).";
    const CONFIG_PATH: &'static [&'static str] = &["selfSigned"];
    // Self-signing means signing with the request's own key.
    const NEEDS: &'static [Need] = &[Need::RequestKey];

    fn validate(_: &SelfSignedConfig, _: &IssuerConfig) -> Result<Readiness, PluginError> {
        Ok(ready())
    }

    fn issue(
        settings: &SelfSignedConfig,
        request: &CertificateRequest,
        _state: Option<()>,
    ) -> Result<Outcome<()>, PluginError> {
        let Some(handle) = request.request_key.clone() else {
            return Err(missing_key(request));
        };
        let key = HostKey::new(handle).or_fail(
            "ErrorPublicKey",
            "Failed to get public key from private key",
        )?;
        let serial = x509::random_serial().or_retry("ErrorSigning", "Error signing certificate")?;
        issue(settings, request, &key, clock::now_unix_seconds(), serial).map(Outcome::from)
    }
}

certwasm_plugin_sdk::export_issuer!(SelfSigned);

#[cfg(test)]
mod tests {
    use certwasm_plugin_sdk::testing::{KeyKind, OpensslKey, verify};
    use certwasm_plugin_sdk::types::IssuerKind;

    use super::*;

    /// What the export does before [`issue`]: the config, read by the SDK.
    fn issue(
        request: &CertificateRequest,
        key: &dyn Signer,
        now_unix: i64,
        serial: [u8; 16],
    ) -> Result<Issued, PluginError> {
        let settings = certwasm_plugin_sdk::issuer::read_config::<SelfSigned>(&request.issuer)?;
        super::issue(&settings, request, key, now_unix, serial)
    }

    fn validate(config: &IssuerConfig) -> Result<Readiness, PluginError> {
        certwasm_plugin_sdk::issuer::validate::<SelfSigned>(config)
    }

    const NOW: i64 = 1_790_000_000;

    fn request(spec: &str, csr_pem: String, annotations: &[(&str, &str)]) -> CertificateRequest {
        CertificateRequest {
            name: "ca-1".into(),
            namespace: "sandbox".into(),
            csr_pem,
            duration_seconds: Some(3600),
            is_ca: true,
            usages: Vec::new(),
            issuer: IssuerConfig {
                kind: IssuerKind::ClusterIssuer,
                name: "selfsigned".into(),
                namespace: "cert-manager".into(),
                spec_json: spec.into(),
            },
            request_key: None,
            annotations: annotations
                .iter()
                .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
                .collect(),
        }
    }

    #[test]
    fn info_serves_self_signed_with_the_request_key() {
        let info = certwasm_plugin_sdk::issuer::info::<SelfSigned>();
        assert_eq!(info.name, "selfsigned");
        assert_eq!(info.issuer_types, ["selfSigned"]);
        assert_eq!(info.needs, [Need::RequestKey]);
    }

    #[test]
    fn a_selfsigned_issuer_is_ready_as_cert_manager_says() {
        let config = request(r#"{"selfSigned":{}}"#, String::new(), &[]).issuer;
        let ready = validate(&config).unwrap();
        assert_eq!(
            (ready.reason.as_str(), ready.message.as_str()),
            ("IsReady", "")
        );
        let wrong = request(
            r#"{"selfSigned":{"crlDistributionPoints":"x"}}"#,
            String::new(),
            &[],
        )
        .issuer;
        assert_eq!(validate(&wrong).unwrap_err().reason, "InvalidConfig");
    }

    #[test]
    fn the_certificate_is_its_own_ca() {
        let key = OpensslKey::generate(KeyKind::Rsa(2048));
        let spec = r#"{"selfSigned":{"crlDistributionPoints":["http://crl.example/root.crl"]}}"#;
        let issued = issue(
            &request(spec, key.csr("/CN=Root", &[]), &[]),
            &key,
            NOW,
            [1; 16],
        )
        .unwrap();
        assert_eq!(
            issued.ca_pem.as_deref(),
            Some(issued.certificate_chain_pem.as_str())
        );
        verify(
            &issued.certificate_chain_pem,
            &issued.certificate_chain_pem,
            NOW + 60,
        )
        .unwrap();
        assert!(
            verify(
                &issued.certificate_chain_pem,
                &issued.certificate_chain_pem,
                NOW + 3601
            )
            .is_err(),
            "one hour"
        );
        let text = certwasm_plugin_sdk::testing::text(&issued.certificate_chain_pem);
        for expected in [
            "CA:TRUE",
            "URI:http://crl.example/root.crl",
            "sha256WithRSAEncryption",
            "Certificate Sign",
        ] {
            assert!(text.contains(expected), "missing {expected:?} in\n{text}");
        }
    }

    #[test]
    fn failures_use_cert_managers_reasons() {
        let key = OpensslKey::generate(KeyKind::EcdsaP256);
        let other = OpensslKey::generate(KeyKind::EcdsaP256);
        let spec = r#"{"selfSigned":{}}"#;
        let error = issue(
            &request(spec, key.csr("/CN=x", &[]), &[]),
            &other,
            NOW,
            [1; 16],
        )
        .unwrap_err();
        assert_eq!(
            (
                error.reason.as_str(),
                error.message.as_str(),
                error.retryable
            ),
            (
                "ErrorKeyMatch",
                "Error generating certificate template: CSR not signed by referenced private key",
                false
            )
        );
        let error = issue(&request(spec, "garbage".into(), &[]), &key, NOW, [1; 16]).unwrap_err();
        assert_eq!(error.reason, "ErrorGenerating");

        let error = missing_key(&request(spec, String::new(), &[]));
        assert_eq!(
            (
                error.reason.as_str(),
                error.message.as_str(),
                error.retryable
            ),
            (
                "MissingAnnotation",
                "Annotation \"cert-manager.io/private-key-secret-name\" missing or reference empty: secret name missing",
                false
            )
        );
        let error = missing_key(&request(
            spec,
            String::new(),
            &[(PRIVATE_KEY_SECRET_ANNOTATION, "")],
        ));
        assert_eq!(error.reason, "MissingAnnotation");
        let error = missing_key(&request(
            spec,
            String::new(),
            &[(PRIVATE_KEY_SECRET_ANNOTATION, "ca-key")],
        ));
        assert_eq!(error.reason, "MissingSecret");
        assert!(
            error
                .message
                .starts_with("Referenced secret sandbox/ca-key not found"),
            "{}",
            error.message
        );
        assert!(error.retryable);
    }
}
