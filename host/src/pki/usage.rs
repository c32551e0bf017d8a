//! cert-manager's key usages.

use super::error::PkiError;

/// A usage from cert-manager's `spec.usages`, in the order of its API (and
/// of the WIT `key-usage` enum). The first ten are X.509 key usage bits,
/// the rest extended key usages.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum KeyUsage {
    Signing,
    DigitalSignature,
    ContentCommitment,
    KeyEncipherment,
    KeyAgreement,
    DataEncipherment,
    CertSign,
    CrlSign,
    EncipherOnly,
    DecipherOnly,
    Any,
    ServerAuth,
    ClientAuth,
    CodeSigning,
    EmailProtection,
    Smime,
    IpsecEndSystem,
    IpsecTunnel,
    IpsecUser,
    Timestamping,
    OcspSigning,
    MicrosoftSgc,
    NetscapeSgc,
}

/// Every usage with cert-manager's spelling.
const NAMES: &[(KeyUsage, &str)] = &[
    (KeyUsage::Signing, "signing"),
    (KeyUsage::DigitalSignature, "digital signature"),
    (KeyUsage::ContentCommitment, "content commitment"),
    (KeyUsage::KeyEncipherment, "key encipherment"),
    (KeyUsage::KeyAgreement, "key agreement"),
    (KeyUsage::DataEncipherment, "data encipherment"),
    (KeyUsage::CertSign, "cert sign"),
    (KeyUsage::CrlSign, "crl sign"),
    (KeyUsage::EncipherOnly, "encipher only"),
    (KeyUsage::DecipherOnly, "decipher only"),
    (KeyUsage::Any, "any"),
    (KeyUsage::ServerAuth, "server auth"),
    (KeyUsage::ClientAuth, "client auth"),
    (KeyUsage::CodeSigning, "code signing"),
    (KeyUsage::EmailProtection, "email protection"),
    (KeyUsage::Smime, "s/mime"),
    (KeyUsage::IpsecEndSystem, "ipsec end system"),
    (KeyUsage::IpsecTunnel, "ipsec tunnel"),
    (KeyUsage::IpsecUser, "ipsec user"),
    (KeyUsage::Timestamping, "timestamping"),
    (KeyUsage::OcspSigning, "ocsp signing"),
    (KeyUsage::MicrosoftSgc, "microsoft sgc"),
    (KeyUsage::NetscapeSgc, "netscape sgc"),
];

impl KeyUsage {
    /// Every usage, in API order.
    pub fn all() -> impl Iterator<Item = KeyUsage> {
        NAMES.iter().map(|(usage, _)| *usage)
    }

    /// Parses cert-manager's spelling (`"server auth"`).
    pub fn from_cert_manager(name: &str) -> Result<Self, PkiError> {
        NAMES
            .iter()
            .find(|(_, n)| *n == name)
            .map(|(usage, _)| *usage)
            .ok_or_else(|| PkiError::UnknownUsage(name.to_owned()))
    }

    /// cert-manager's spelling.
    pub fn as_cert_manager(self) -> &'static str {
        NAMES
            .iter()
            .find(|(usage, _)| *usage == self)
            .map_or("", |(_, name)| name)
    }

    /// Whether this is an extended key usage rather than a key usage bit.
    pub fn is_extended(self) -> bool {
        self >= KeyUsage::Any
    }

    /// The X.509 extended key usage OID, for extended usages.
    pub fn extended_oid(self) -> Option<&'static [u64]> {
        Some(match self {
            KeyUsage::Any => &[2, 5, 29, 37, 0],
            KeyUsage::ServerAuth => &[1, 3, 6, 1, 5, 5, 7, 3, 1],
            KeyUsage::ClientAuth => &[1, 3, 6, 1, 5, 5, 7, 3, 2],
            KeyUsage::CodeSigning => &[1, 3, 6, 1, 5, 5, 7, 3, 3],
            KeyUsage::EmailProtection | KeyUsage::Smime => &[1, 3, 6, 1, 5, 5, 7, 3, 4],
            KeyUsage::IpsecEndSystem => &[1, 3, 6, 1, 5, 5, 7, 3, 5],
            KeyUsage::IpsecTunnel => &[1, 3, 6, 1, 5, 5, 7, 3, 6],
            KeyUsage::IpsecUser => &[1, 3, 6, 1, 5, 5, 7, 3, 7],
            KeyUsage::Timestamping => &[1, 3, 6, 1, 5, 5, 7, 3, 8],
            KeyUsage::OcspSigning => &[1, 3, 6, 1, 5, 5, 7, 3, 9],
            KeyUsage::MicrosoftSgc => &[1, 3, 6, 1, 4, 1, 311, 10, 3, 3],
            KeyUsage::NetscapeSgc => &[2, 16, 840, 1, 113730, 4, 1],
            _ => return None,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_round_trip_and_all_23_exist() {
        assert_eq!(KeyUsage::all().count(), 23);
        for usage in KeyUsage::all() {
            assert_eq!(KeyUsage::from_cert_manager(usage.as_cert_manager()), Ok(usage));
            assert_eq!(usage.is_extended(), usage.extended_oid().is_some(), "{usage:?}");
        }
        assert_eq!(KeyUsage::from_cert_manager("server auth"), Ok(KeyUsage::ServerAuth));
        assert!(KeyUsage::from_cert_manager("Server Auth").is_err());
    }
}
