//! Conversions between the WIT types and the host's PKI types.
//!
//! The PKI types are the host's one type per concept ([`KeyUsage`] is also
//! the API's); the WIT enums are their spelling on the contract. Both
//! directions are `From` impls written by one macro from one variant list,
//! so a variant cannot be mapped to a differently named one.

use super::bindings::types::{
    KeyAlgorithm as WitKeyAlgorithm, KeyUsage as WitKeyUsage,
    SignatureAlgorithm as WitSignatureAlgorithm,
};
use crate::pki::{KeyAlgorithm, KeyUsage, SignatureAlgorithm};

/// `From` both ways between a host enum and the WIT enum whose variants
/// carry the same names.
macro_rules! same_variants {
    ($host:ident <=> $wit:ident { $($variant:ident),+ $(,)? }) => {
        impl From<$host> for $wit {
            fn from(value: $host) -> Self {
                match value {
                    $($host::$variant => $wit::$variant,)+
                }
            }
        }

        impl From<$wit> for $host {
            fn from(value: $wit) -> Self {
                match value {
                    $($wit::$variant => $host::$variant,)+
                }
            }
        }
    };
}

same_variants!(SignatureAlgorithm <=> WitSignatureAlgorithm {
    EcdsaP256Sha256, EcdsaP384Sha384, RsaPkcs1Sha256, RsaPkcs1Sha384, RsaPkcs1Sha512, Ed25519,
});
same_variants!(KeyAlgorithm <=> WitKeyAlgorithm {
    Rsa2048, Rsa3072, Rsa4096, EcdsaP256, EcdsaP384, Ed25519,
});
same_variants!(KeyUsage <=> WitKeyUsage {
    Signing, DigitalSignature, ContentCommitment, KeyEncipherment, KeyAgreement,
    DataEncipherment, CertSign, CrlSign, EncipherOnly, DecipherOnly, Any, ServerAuth,
    ClientAuth, CodeSigning, EmailProtection, Smime, IpsecEndSystem, IpsecTunnel,
    IpsecUser, Timestamping, OcspSigning, MicrosoftSgc, NetscapeSgc,
});

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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn key_usages_convert_to_the_wit_enum_and_back() {
        let mut seen = std::collections::HashSet::new();
        for usage in KeyUsage::ALL {
            let wit = WitKeyUsage::from(usage);
            // The WIT enum lists the usages in the API's order.
            assert_eq!(wit as usize, usage as usize, "{usage:?}");
            assert!(
                seen.insert(wit as usize),
                "{usage:?} maps to a taken variant"
            );
            assert_eq!(KeyUsage::from(wit), usage);
        }
    }

    #[test]
    fn key_algorithms_convert_to_the_wit_enum_and_back() {
        use KeyAlgorithm::*;
        for algorithm in [Rsa2048, Rsa3072, Rsa4096, EcdsaP256, EcdsaP384, Ed25519] {
            assert_eq!(
                KeyAlgorithm::from(WitKeyAlgorithm::from(algorithm)),
                algorithm
            );
        }
    }
}
