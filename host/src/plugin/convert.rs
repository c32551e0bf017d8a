//! Conversions between the WIT types and the host's PKI types.

use super::bindings::types::{
    KeyAlgorithm as WitKeyAlgorithm, KeyUsage as WitKeyUsage,
    SignatureAlgorithm as WitSignatureAlgorithm,
};
use crate::pki::{KeyAlgorithm, KeyUsage, SignatureAlgorithm};

pub(crate) fn signature_algorithm(algorithm: WitSignatureAlgorithm) -> SignatureAlgorithm {
    match algorithm {
        WitSignatureAlgorithm::EcdsaP256Sha256 => SignatureAlgorithm::EcdsaP256Sha256,
        WitSignatureAlgorithm::EcdsaP384Sha384 => SignatureAlgorithm::EcdsaP384Sha384,
        WitSignatureAlgorithm::RsaPkcs1Sha256 => SignatureAlgorithm::RsaPkcs1Sha256,
        WitSignatureAlgorithm::RsaPkcs1Sha384 => SignatureAlgorithm::RsaPkcs1Sha384,
        WitSignatureAlgorithm::RsaPkcs1Sha512 => SignatureAlgorithm::RsaPkcs1Sha512,
        WitSignatureAlgorithm::Ed25519 => SignatureAlgorithm::Ed25519,
    }
}

pub(crate) fn key_algorithm(algorithm: WitKeyAlgorithm) -> KeyAlgorithm {
    match algorithm {
        WitKeyAlgorithm::Rsa2048 => KeyAlgorithm::Rsa2048,
        WitKeyAlgorithm::Rsa3072 => KeyAlgorithm::Rsa3072,
        WitKeyAlgorithm::Rsa4096 => KeyAlgorithm::Rsa4096,
        WitKeyAlgorithm::EcdsaP256 => KeyAlgorithm::EcdsaP256,
        WitKeyAlgorithm::EcdsaP384 => KeyAlgorithm::EcdsaP384,
        WitKeyAlgorithm::Ed25519 => KeyAlgorithm::Ed25519,
    }
}

/// The WIT usage for a cert-manager usage (the two enums share their order).
pub fn key_usage(usage: KeyUsage) -> WitKeyUsage {
    match usage {
        KeyUsage::Signing => WitKeyUsage::Signing,
        KeyUsage::DigitalSignature => WitKeyUsage::DigitalSignature,
        KeyUsage::ContentCommitment => WitKeyUsage::ContentCommitment,
        KeyUsage::KeyEncipherment => WitKeyUsage::KeyEncipherment,
        KeyUsage::KeyAgreement => WitKeyUsage::KeyAgreement,
        KeyUsage::DataEncipherment => WitKeyUsage::DataEncipherment,
        KeyUsage::CertSign => WitKeyUsage::CertSign,
        KeyUsage::CrlSign => WitKeyUsage::CrlSign,
        KeyUsage::EncipherOnly => WitKeyUsage::EncipherOnly,
        KeyUsage::DecipherOnly => WitKeyUsage::DecipherOnly,
        KeyUsage::Any => WitKeyUsage::Any,
        KeyUsage::ServerAuth => WitKeyUsage::ServerAuth,
        KeyUsage::ClientAuth => WitKeyUsage::ClientAuth,
        KeyUsage::CodeSigning => WitKeyUsage::CodeSigning,
        KeyUsage::EmailProtection => WitKeyUsage::EmailProtection,
        KeyUsage::Smime => WitKeyUsage::Smime,
        KeyUsage::IpsecEndSystem => WitKeyUsage::IpsecEndSystem,
        KeyUsage::IpsecTunnel => WitKeyUsage::IpsecTunnel,
        KeyUsage::IpsecUser => WitKeyUsage::IpsecUser,
        KeyUsage::Timestamping => WitKeyUsage::Timestamping,
        KeyUsage::OcspSigning => WitKeyUsage::OcspSigning,
        KeyUsage::MicrosoftSgc => WitKeyUsage::MicrosoftSgc,
        KeyUsage::NetscapeSgc => WitKeyUsage::NetscapeSgc,
    }
}

/// The method's name on the wire.
pub(crate) fn http_method(method: super::bindings::types::HttpMethod) -> &'static str {
    use super::bindings::types::HttpMethod;
    match method {
        HttpMethod::Get => "GET",
        HttpMethod::Head => "HEAD",
        HttpMethod::Post => "POST",
        HttpMethod::Put => "PUT",
        HttpMethod::Delete => "DELETE",
        HttpMethod::Patch => "PATCH",
    }
}

/// The resource kind, as Kubernetes spells it.
pub fn issuer_kind_name(kind: super::bindings::types::IssuerKind) -> &'static str {
    use super::bindings::types::IssuerKind;
    match kind {
        IssuerKind::Issuer => "Issuer",
        IssuerKind::ClusterIssuer => "ClusterIssuer",
    }
}
