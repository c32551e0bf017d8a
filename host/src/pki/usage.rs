//! cert-manager's key usages (`spec.usages`), their X.509 encodings, and
//! cert-manager's defaults.
//!
//! [`KeyUsage`] is the one type for the concept: the API types carry it in
//! `spec.usages` (hence its serde spelling and schema), the PKI code encodes
//! it in CSRs and reads it back from certificates, and `plugin::convert`
//! converts it to and from the WIT `key-usage` enum. It lives here, not in
//! `api`, because `pki` depends on nothing else in the crate.

use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

use super::PkiError;

// Variants are in the order of cert-manager's API and of the WIT
// `key-usage` enum; the first ten are X.509 key usage bits, the rest
// extended key usages ([`KeyUsage::is_extended`] relies on the order).
// The doc comment below is the CRD's description of a usage.

/// A key usage or extended key usage, spelled as cert-manager spells them.
#[derive(
    Serialize, Deserialize, Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord, JsonSchema,
)]
pub enum KeyUsage {
    /// `signing`: digital signature.
    #[serde(rename = "signing")]
    Signing,
    /// `digital signature`.
    #[serde(rename = "digital signature")]
    DigitalSignature,
    /// `content commitment` (non-repudiation).
    #[serde(rename = "content commitment")]
    ContentCommitment,
    /// `key encipherment`.
    #[serde(rename = "key encipherment")]
    KeyEncipherment,
    /// `key agreement`.
    #[serde(rename = "key agreement")]
    KeyAgreement,
    /// `data encipherment`.
    #[serde(rename = "data encipherment")]
    DataEncipherment,
    /// `cert sign`.
    #[serde(rename = "cert sign")]
    CertSign,
    /// `crl sign`.
    #[serde(rename = "crl sign")]
    CrlSign,
    /// `encipher only`.
    #[serde(rename = "encipher only")]
    EncipherOnly,
    /// `decipher only`.
    #[serde(rename = "decipher only")]
    DecipherOnly,
    /// `any` extended key usage.
    #[serde(rename = "any")]
    Any,
    /// `server auth` extended key usage.
    #[serde(rename = "server auth")]
    ServerAuth,
    /// `client auth` extended key usage.
    #[serde(rename = "client auth")]
    ClientAuth,
    /// `code signing` extended key usage.
    #[serde(rename = "code signing")]
    CodeSigning,
    /// `email protection` extended key usage.
    #[serde(rename = "email protection")]
    EmailProtection,
    /// `s/mime` (email protection) extended key usage.
    #[serde(rename = "s/mime")]
    Smime,
    /// `ipsec end system` extended key usage.
    #[serde(rename = "ipsec end system")]
    IpsecEndSystem,
    /// `ipsec tunnel` extended key usage.
    #[serde(rename = "ipsec tunnel")]
    IpsecTunnel,
    /// `ipsec user` extended key usage.
    #[serde(rename = "ipsec user")]
    IpsecUser,
    /// `timestamping` extended key usage.
    #[serde(rename = "timestamping")]
    Timestamping,
    /// `ocsp signing` extended key usage.
    #[serde(rename = "ocsp signing")]
    OcspSigning,
    /// `microsoft sgc` extended key usage.
    #[serde(rename = "microsoft sgc")]
    MicrosoftSgc,
    /// `netscape sgc` extended key usage.
    #[serde(rename = "netscape sgc")]
    NetscapeSgc,
}

impl KeyUsage {
    /// Every usage, in cert-manager's order.
    pub const ALL: [KeyUsage; 23] = [
        Self::Signing,
        Self::DigitalSignature,
        Self::ContentCommitment,
        Self::KeyEncipherment,
        Self::KeyAgreement,
        Self::DataEncipherment,
        Self::CertSign,
        Self::CrlSign,
        Self::EncipherOnly,
        Self::DecipherOnly,
        Self::Any,
        Self::ServerAuth,
        Self::ClientAuth,
        Self::CodeSigning,
        Self::EmailProtection,
        Self::Smime,
        Self::IpsecEndSystem,
        Self::IpsecTunnel,
        Self::IpsecUser,
        Self::Timestamping,
        Self::OcspSigning,
        Self::MicrosoftSgc,
        Self::NetscapeSgc,
    ];

    /// The usages cert-manager requests when none are given.
    pub const DEFAULTS: [KeyUsage; 2] = [Self::DigitalSignature, Self::KeyEncipherment];

    /// The wire spelling (`digital signature`), as used in annotations.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Signing => "signing",
            Self::DigitalSignature => "digital signature",
            Self::ContentCommitment => "content commitment",
            Self::KeyEncipherment => "key encipherment",
            Self::KeyAgreement => "key agreement",
            Self::DataEncipherment => "data encipherment",
            Self::CertSign => "cert sign",
            Self::CrlSign => "crl sign",
            Self::EncipherOnly => "encipher only",
            Self::DecipherOnly => "decipher only",
            Self::Any => "any",
            Self::ServerAuth => "server auth",
            Self::ClientAuth => "client auth",
            Self::CodeSigning => "code signing",
            Self::EmailProtection => "email protection",
            Self::Smime => "s/mime",
            Self::IpsecEndSystem => "ipsec end system",
            Self::IpsecTunnel => "ipsec tunnel",
            Self::IpsecUser => "ipsec user",
            Self::Timestamping => "timestamping",
            Self::OcspSigning => "ocsp signing",
            Self::MicrosoftSgc => "microsoft sgc",
            Self::NetscapeSgc => "netscape sgc",
        }
    }

    /// Parses cert-manager's spelling (`"server auth"`); the match is exact,
    /// as cert-manager's API validation is.
    pub fn from_cert_manager(name: &str) -> Result<Self, PkiError> {
        Self::ALL
            .into_iter()
            .find(|usage| usage.as_str() == name)
            .ok_or_else(|| PkiError::UnknownUsage(name.to_owned()))
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
            Self::DEFAULTS.to_vec()
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

impl std::fmt::Display for KeyUsage {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
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
            let usage = KeyUsage::ALL
                .into_iter()
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
        for (index, usage) in KeyUsage::ALL.into_iter().enumerate() {
            assert_eq!(usage as usize, index);
            let name = usage.as_str();
            assert_eq!(KeyUsage::from_cert_manager(name), Ok(usage));
            // The API's spelling (serde) is the one the CLI and events use.
            assert_eq!(
                serde_json::to_value(usage).expect("serialize"),
                serde_json::Value::from(name)
            );
            assert_eq!(
                serde_json::from_value::<KeyUsage>(serde_json::Value::from(name)).ok(),
                Some(usage)
            );
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
