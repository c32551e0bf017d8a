//! TLS for requests whose issuer pins a `caBundle`.
//!
//! cert-manager's Go client makes the bundle the only roots and accepts a
//! server whose certificate *is* one of them: Go does not check the basic
//! constraints of the end-entity certificate, so an internal ACME or Vault
//! server that serves a single self-signed CA certificate works. webpki
//! refuses that certificate (`CaUsedAsEndEntity`), so the verifier here
//! runs webpki first and, only when the server presented exactly one of the
//! pinned certificates, byte for byte, accepts it after checking what a
//! pinned certificate still needs: the name and the validity period. The
//! handshake signature (proof that the server holds the key) is verified by
//! webpki's algorithms as for any server.

use std::sync::Arc;

use rustls::client::WebPkiServerVerifier;
use rustls::client::danger::{HandshakeSignatureValid, ServerCertVerified, ServerCertVerifier};
use rustls::pki_types::pem::PemObject;
use rustls::pki_types::{CertificateDer, PrivateKeyDer, ServerName, UnixTime};
use rustls::{
    CertificateError, ClientConfig, DigitallySignedStruct, RootCertStore, SignatureScheme,
};

/// A client configuration that trusts exactly the certificates of
/// `bundle_pem` (and presents `identity_pem`, a certificate chain and its
/// key, when given).
pub(crate) fn client_config(
    bundle_pem: &str,
    identity_pem: Option<&[u8]>,
) -> Result<ClientConfig, String> {
    let pinned: Vec<CertificateDer<'static>> =
        CertificateDer::pem_slice_iter(bundle_pem.as_bytes())
            .collect::<Result<_, _>>()
            .map_err(|e| format!("the CA bundle is not valid PEM: {e}"))?;
    if pinned.is_empty() {
        return Err("the CA bundle holds no certificate".into());
    }
    let mut roots = RootCertStore::empty();
    for certificate in &pinned {
        roots
            .add(certificate.clone())
            .map_err(|e| format!("the CA bundle holds an unusable certificate: {e}"))?;
    }
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let webpki = WebPkiServerVerifier::builder_with_provider(Arc::new(roots), provider.clone())
        .build()
        .map_err(|e| format!("the CA bundle cannot be used: {e}"))?;
    let verifier = Arc::new(PinnedBundleVerifier { webpki, pinned });
    let builder = ClientConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()
        .map_err(|e| format!("configuring TLS: {e}"))?
        .dangerous()
        .with_custom_certificate_verifier(verifier);
    match identity_pem {
        None => Ok(builder.with_no_client_auth()),
        Some(pem) => {
            let chain: Vec<CertificateDer<'static>> = CertificateDer::pem_slice_iter(pem)
                .collect::<Result<_, _>>()
                .map_err(|e| format!("the client certificate is not valid PEM: {e}"))?;
            let key = PrivateKeyDer::from_pem_slice(pem)
                .map_err(|e| format!("the client key is not a usable PEM key: {e}"))?;
            builder
                .with_client_auth_cert(chain, key)
                .map_err(|e| format!("the client certificate and key do not match: {e}"))
        }
    }
}

/// webpki against the bundle, and the pinned-certificate exception.
#[derive(Debug)]
struct PinnedBundleVerifier {
    webpki: Arc<WebPkiServerVerifier>,
    pinned: Vec<CertificateDer<'static>>,
}

impl ServerCertVerifier for PinnedBundleVerifier {
    fn verify_server_cert(
        &self,
        end_entity: &CertificateDer<'_>,
        intermediates: &[CertificateDer<'_>],
        server_name: &ServerName<'_>,
        ocsp_response: &[u8],
        now: UnixTime,
    ) -> Result<ServerCertVerified, rustls::Error> {
        let refused = match self.webpki.verify_server_cert(
            end_entity,
            intermediates,
            server_name,
            ocsp_response,
            now,
        ) {
            Ok(verified) => return Ok(verified),
            Err(refused) => refused,
        };
        if !self.pinned.iter().any(|pinned| pinned == end_entity) {
            return Err(refused);
        }
        let parsed = rustls::server::ParsedCertificate::try_from(end_entity)?;
        rustls::client::verify_server_name(&parsed, server_name)?;
        check_validity(end_entity, now)?;
        Ok(ServerCertVerified::assertion())
    }

    fn verify_tls12_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        self.webpki.verify_tls12_signature(message, cert, dss)
    }

    fn verify_tls13_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        self.webpki.verify_tls13_signature(message, cert, dss)
    }

    fn supported_verify_schemes(&self) -> Vec<SignatureScheme> {
        self.webpki.supported_verify_schemes()
    }
}

/// The pinned certificate must be within its validity period, as Go checks
/// for every certificate of a chain.
fn check_validity(certificate: &CertificateDer<'_>, now: UnixTime) -> Result<(), rustls::Error> {
    let (_, parsed) = x509_parser::parse_x509_certificate(certificate.as_ref())
        .map_err(|_| rustls::Error::InvalidCertificate(CertificateError::BadEncoding))?;
    let now = i64::try_from(now.as_secs()).unwrap_or(i64::MAX);
    let validity = parsed.validity();
    if now < validity.not_before.timestamp() {
        return Err(rustls::Error::InvalidCertificate(
            CertificateError::NotValidYet,
        ));
    }
    if now > validity.not_after.timestamp() {
        return Err(rustls::Error::InvalidCertificate(CertificateError::Expired));
    }
    Ok(())
}
