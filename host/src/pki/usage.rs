//! cert-manager's key usages (`spec.usages`), their X.509 encodings, and
//! cert-manager's defaults.

use super::PkiError;

/// A usage from cert-manager's `spec.usages`, in the order of its API (and
/// of the WIT `key-usage` enum, which `plugin::convert` maps one to one).
/// The first ten are X.509 key usage bits, the rest extended key usages.
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

/// Every usage with cert-manager's spelling, in API order.
const NAMES: [(KeyUsage, &str); 23] = [
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

    /// Parses cert-manager's spelling (`"server auth"`); the match is exact,
    /// as cert-manager's API validation is.
    pub fn from_cert_manager(name: &str) -> Result<Self, PkiError> {
        NAMES
            .iter()
            .find(|(_, n)| *n == name)
            .map(|(usage, _)| *usage)
            .ok_or_else(|| PkiError::UnknownUsage(name.to_owned()))
    }

    /// cert-manager's spelling, for the API, events and the CLI.
    pub fn as_cert_manager(self) -> &'static str {
        NAMES[self as usize].1
    }

    /// Whether this is an extended key usage (written in the extKeyUsage
    /// extension) rather than a key usage bit.
    pub fn is_extended(self) -> bool {
        self >= KeyUsage::Any
    }

    /// The usages a request carries when `spec.usages` is `usages`, as
    /// cert-manager's `BuildKeyUsages` computes them: digital signature and
    /// key encipherment when none are given, plus cert sign for a CA.
    pub fn effective(usages: &[KeyUsage], is_ca: bool) -> Vec<KeyUsage> {
        let mut effective = if usages.is_empty() {
            vec![KeyUsage::DigitalSignature, KeyUsage::KeyEncipherment]
        } else {
            usages.to_vec()
        };
        if is_ca && !effective.contains(&KeyUsage::CertSign) {
            effective.push(KeyUsage::CertSign);
        }
        effective
    }

    /// The X.509 extended key usage OID, for extended usages. `s/mime` and
    /// `email protection` share one (id-kp-emailProtection), as in
    /// cert-manager.
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

/// The usages an X.509 keyUsage and extKeyUsage say, in cert-manager's
/// terms (as its `BuildCertManagerKeyUsages`): the digitalSignature bit
/// reads as `digital signature` (never `signing`), id-kp-emailProtection
/// as `email protection`. Unknown EKU OIDs are left out.
pub(super) fn from_x509(
    key_usage: Option<&x509_parser::extensions::KeyUsage>,
    extended: Option<&x509_parser::extensions::ExtendedKeyUsage<'_>>,
) -> Vec<KeyUsage> {
    let mut usages = Vec::new();
    if let Some(ku) = key_usage {
        let bits = [
            (ku.digital_signature(), KeyUsage::DigitalSignature),
            (ku.non_repudiation(), KeyUsage::ContentCommitment),
            (ku.key_encipherment(), KeyUsage::KeyEncipherment),
            (ku.key_agreement(), KeyUsage::KeyAgreement),
            (ku.data_encipherment(), KeyUsage::DataEncipherment),
            (ku.key_cert_sign(), KeyUsage::CertSign),
            (ku.crl_sign(), KeyUsage::CrlSign),
            (ku.encipher_only(), KeyUsage::EncipherOnly),
            (ku.decipher_only(), KeyUsage::DecipherOnly),
        ];
        usages.extend(bits.iter().filter(|(set, _)| *set).map(|(_, usage)| *usage));
    }
    if let Some(eku) = extended {
        let flags = [
            (eku.any, KeyUsage::Any),
            (eku.server_auth, KeyUsage::ServerAuth),
            (eku.client_auth, KeyUsage::ClientAuth),
            (eku.code_signing, KeyUsage::CodeSigning),
            (eku.email_protection, KeyUsage::EmailProtection),
            (eku.time_stamping, KeyUsage::Timestamping),
            (eku.ocsp_signing, KeyUsage::OcspSigning),
        ];
        usages.extend(
            flags
                .iter()
                .filter(|(set, _)| *set)
                .map(|(_, usage)| *usage),
        );
        for oid in &eku.other {
            let Some(arcs) = oid.iter() else { continue };
            let arcs: Vec<u64> = arcs.collect();
            let usage = KeyUsage::all()
                .filter(|u| !matches!(u, KeyUsage::Smime))
                .find(|u| u.extended_oid() == Some(arcs.as_slice()));
            usages.extend(usage);
        }
    }
    usages
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The WIT enum, copied in order: the host maps the two by position.
    const WIT_ORDER: [&str; 23] = [
        "signing",
        "digital-signature",
        "content-commitment",
        "key-encipherment",
        "key-agreement",
        "data-encipherment",
        "cert-sign",
        "crl-sign",
        "encipher-only",
        "decipher-only",
        "any",
        "server-auth",
        "client-auth",
        "code-signing",
        "email-protection",
        "smime",
        "ipsec-end-system",
        "ipsec-tunnel",
        "ipsec-user",
        "timestamping",
        "ocsp-signing",
        "microsoft-sgc",
        "netscape-sgc",
    ];

    #[test]
    fn names_round_trip_and_follow_the_wit_order() {
        assert_eq!(KeyUsage::all().count(), 23);
        for (index, usage) in KeyUsage::all().enumerate() {
            assert_eq!(usage as usize, index);
            let name = usage.as_cert_manager();
            assert_eq!(KeyUsage::from_cert_manager(name), Ok(usage));
            assert_eq!(
                name.replace(['/', ' '], "-").replace("s-mime", "smime"),
                WIT_ORDER[index]
            );
            assert_eq!(
                usage.is_extended(),
                usage.extended_oid().is_some(),
                "{usage:?}"
            );
        }
        assert_eq!(KeyUsage::from_cert_manager("s/mime"), Ok(KeyUsage::Smime));
        assert!(matches!(
            KeyUsage::from_cert_manager("Server Auth"),
            Err(PkiError::UnknownUsage(name)) if name == "Server Auth"
        ));
    }

    #[test]
    fn the_wit_file_lists_the_same_usages() {
        let wit = include_str!("../../../wit/issuer.wit");
        let start = wit.find("enum key-usage {").unwrap();
        let body = &wit[start..start + wit[start..].find('}').unwrap()];
        let listed: Vec<&str> = body
            .lines()
            .skip(1)
            .map(|line| line.trim().trim_end_matches(','))
            .filter(|line| !line.is_empty() && !line.starts_with("//"))
            .collect();
        assert_eq!(listed, WIT_ORDER);
    }

    #[test]
    fn defaults_are_cert_managers() {
        use KeyUsage::*;
        assert_eq!(
            KeyUsage::effective(&[], false),
            [DigitalSignature, KeyEncipherment]
        );
        assert_eq!(
            KeyUsage::effective(&[], true),
            [DigitalSignature, KeyEncipherment, CertSign]
        );
        assert_eq!(KeyUsage::effective(&[ServerAuth], false), [ServerAuth]);
        assert_eq!(KeyUsage::effective(&[CertSign], true), [CertSign]);
    }
}
