//! certwasm's `selfSigned` issuer: signs each request with the request's
//! own private key, which the host lends as a handle, as cert-manager's
//! SelfSigned issuer does, with its reasons and messages
//! (`pkg/issuer/selfsigned/setup.go`,
//! `pkg/controller/certificaterequests/selfsigned/selfsigned.go`).

use certwasm_plugin_sdk::bindings::Guest;
use certwasm_plugin_sdk::bindings::certwasm::issuer::{clock, log};
use certwasm_plugin_sdk::host::HostKey;
use certwasm_plugin_sdk::types::{
    CertificateRequest, IssueOutcome, Issued, IssuerConfig, Need, PluginError, PluginInfo,
    Readiness,
};
use certwasm_plugin_sdk::x509::{self, CertificateParams, Csr, Issuer, Signer, X509Error};
use certwasm_plugin_sdk::{PRIVATE_KEY_SECRET_ANNOTATION, ResultExt, config, failed, retry_later};
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

/// A selfSigned issuer has nothing to reach or load: well-formed is ready,
/// with cert-manager's reason and its empty message.
fn validate(config: &IssuerConfig) -> Result<Readiness, PluginError> {
    config::issuer_section::<SelfSignedConfig>(config, "selfSigned")?;
    Ok(Readiness {
        reason: "IsReady".into(),
        message: String::new(),
    })
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
    request: &CertificateRequest,
    key: &dyn Signer,
    now_unix: i64,
    serial: [u8; 16],
) -> Result<Issued, PluginError> {
    let settings: SelfSignedConfig = config::issuer_section(&request.issuer, "selfSigned")?;
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
    let certificate = x509::sign_csr(&csr, &params, Issuer::SelfSigned, key, now_unix, serial)
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

impl Guest for SelfSigned {
    fn info() -> PluginInfo {
        PluginInfo {
            name: "selfsigned".into(),
            version: env!("CARGO_PKG_VERSION").into(),
            issuer_types: vec!["selfSigned".into()],
            description: "Self-signed certificates, signed with each request's own private key (cert-manager's SelfSigned issuer).".into(),
            // Self-signing means signing with the request's own key.
            needs: vec![Need::RequestKey],
        }
    }

    fn validate(config: IssuerConfig) -> Result<Readiness, PluginError> {
        validate(&config)
    }

    fn issue(
        request: CertificateRequest,
        _state: Option<Vec<u8>>,
    ) -> Result<IssueOutcome, PluginError> {
        let Some(handle) = request.request_key.clone() else {
            return Err(missing_key(&request));
        };
        let key = HostKey::new(handle).or_fail(
            "ErrorPublicKey",
            "Failed to get public key from private key",
        )?;
        let serial = x509::random_serial().or_retry("ErrorSigning", "Error signing certificate")?;
        issue(&request, &key, clock::now_unix_seconds(), serial).map(IssueOutcome::Issued)
    }
}

certwasm_plugin_sdk::export!(SelfSigned);

#[cfg(test)]
mod tests {
    use certwasm_plugin_sdk::testing::{KeyKind, OpensslKey, verify};
    use certwasm_plugin_sdk::types::IssuerKind;

    use super::*;

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
