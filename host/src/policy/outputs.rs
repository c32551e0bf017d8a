//! What a Certificate's Secret holds beyond `tls.crt`, `tls.key` and
//! `ca.crt`: the additional output formats (`tls-combined.pem`, `key.der`)
//! and the keystores. cert-manager checks these after issuance (its
//! "post-issuance" policy chain) and, on a mismatch, rewrites the Secret
//! from the key and certificate it already holds, without a new
//! CertificateRequest; `violation` is that check, as a pure function.

use std::collections::BTreeMap;

use crate::api::Certificate;
use crate::api::certificate::CertificateOutputFormatType;

/// `spec.additionalOutputFormats` type `CombinedPEM`.
pub const COMBINED_PEM_KEY: &str = "tls-combined.pem";
/// `spec.additionalOutputFormats` type `DER`.
pub const DER_KEY: &str = "key.der";
/// `spec.keystores.pkcs12`.
pub const PKCS12_KEYSTORE_KEY: &str = "keystore.p12";
/// `spec.keystores.pkcs12`, when the issuer returned a CA.
pub const PKCS12_TRUSTSTORE_KEY: &str = "truststore.p12";
/// `spec.keystores.jks`.
pub const JKS_KEYSTORE_KEY: &str = "keystore.jks";
/// `spec.keystores.jks`, when the issuer returned a CA.
pub const JKS_TRUSTSTORE_KEY: &str = "truststore.jks";

/// Every data key this module manages: each is written only while the spec
/// asks for it, so a key the spec no longer names is dropped.
pub const MANAGED_KEYS: [&str; 6] = [
    COMBINED_PEM_KEY,
    DER_KEY,
    PKCS12_KEYSTORE_KEY,
    PKCS12_TRUSTSTORE_KEY,
    JKS_KEYSTORE_KEY,
    JKS_TRUSTSTORE_KEY,
];

/// cert-manager's reason for an output format mismatch.
pub const ADDITIONAL_OUTPUT_FORMATS_MISMATCH: &str = "AdditionalOutputFormatsMismatch";
/// cert-manager's reason for a keystore mismatch.
pub const SECRET_MISMATCH: &str = "SecretMismatch";

/// `tls-combined.pem`: the key PEM and the chain PEM joined by a newline,
/// byte for byte as cert-manager joins them.
pub fn combined_pem(key_pem: &[u8], chain_pem: &[u8]) -> Vec<u8> {
    let mut out = Vec::with_capacity(key_pem.len() + 1 + chain_pem.len());
    out.extend_from_slice(key_pem);
    out.push(b'\n');
    out.extend_from_slice(chain_pem);
    out
}

/// `key.der`: the DER inside `tls.key`'s first PEM block, so it follows
/// `privateKey.encoding` (PKCS#1 or SEC1 by default, PKCS#8 when asked),
/// as cert-manager does. `None` when `tls.key` is not PEM.
pub fn der_key(key_pem: &[u8]) -> Option<Vec<u8>> {
    pem::parse(key_pem).ok().map(pem::Pem::into_contents)
}

/// The additional output formats the spec asks for, computed from the
/// Secret's `tls.key` and `tls.crt`.
pub fn additional_output_formats(
    certificate: &Certificate,
    key_pem: &[u8],
    chain_pem: &[u8],
) -> BTreeMap<String, Vec<u8>> {
    let mut out = BTreeMap::new();
    for format in &certificate.spec.additional_output_formats {
        match format.type_ {
            CertificateOutputFormatType::CombinedPem => {
                out.insert(
                    COMBINED_PEM_KEY.to_owned(),
                    combined_pem(key_pem, chain_pem),
                );
            }
            CertificateOutputFormatType::Der => {
                if let Some(der) = der_key(key_pem) {
                    out.insert(DER_KEY.to_owned(), der);
                }
            }
        }
    }
    out
}

/// The first way the Secret's data disagrees with the spec's output
/// formats and keystores, as cert-manager's reason and message; `None`
/// when it agrees. Keystores are checked for presence only (their bytes
/// differ on every encoding), as cert-manager does.
pub fn violation(
    certificate: &Certificate,
    data: &BTreeMap<String, Vec<u8>>,
) -> Option<(&'static str, &'static str)> {
    const FORMATS: &str = "Certificate's AdditionalOutputFormats doesn't match Secret Data";
    let present = |key: &str| data.get(key).is_some_and(|v| !v.is_empty());
    let empty = Vec::new();
    let key_pem = data.get("tls.key").unwrap_or(&empty);
    let chain_pem = data.get("tls.crt").unwrap_or(&empty);
    let expected = additional_output_formats(certificate, key_pem, chain_pem);
    for key in [COMBINED_PEM_KEY, DER_KEY] {
        if expected.get(key) != data.get(key) {
            return Some((ADDITIONAL_OUTPUT_FORMATS_MISMATCH, FORMATS));
        }
    }

    let has_ca = data.contains_key("ca.crt");
    let keystores = certificate.spec.keystores.as_ref();
    let checks = [
        (
            keystores.and_then(|k| k.jks.as_ref()).map(|j| j.create),
            JKS_KEYSTORE_KEY,
            JKS_TRUSTSTORE_KEY,
            "JKS",
        ),
        (
            keystores.and_then(|k| k.pkcs12.as_ref()).map(|p| p.create),
            PKCS12_KEYSTORE_KEY,
            PKCS12_TRUSTSTORE_KEY,
            "PKCS12",
        ),
    ];
    if keystores.is_none() {
        return checks
            .iter()
            .any(|(_, k, t, _)| present(k) || present(t))
            .then_some((SECRET_MISMATCH, "Keystore is not defined"));
    }
    for (create, keystore, truststore, kind) in checks {
        let stored = present(keystore) || present(truststore);
        let message = match create {
            Some(true) if !present(keystore) || (has_ca && !present(truststore)) => match kind {
                "JKS" => "JKS Keystore key does not contain data",
                _ => "PKCS12 Keystore key does not contain data",
            },
            Some(false) if stored => match kind {
                "JKS" => "JKS Keystore create disabled",
                _ => "PKCS12 Keystore create disabled",
            },
            None if stored => match kind {
                "JKS" => "JKS Keystore not defined",
                _ => "PKCS12 Keystore not defined",
            },
            _ => continue,
        };
        return Some((SECRET_MISMATCH, message));
    }
    None
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::api::certificate::{
        CertificateAdditionalOutputFormat, CertificateKeystores, JksKeystore, Pkcs12Keystore,
    };

    const KEY: &[u8] = b"-----BEGIN EC PRIVATE KEY-----\nAQID\n-----END EC PRIVATE KEY-----\n";
    const CRT: &[u8] = b"-----BEGIN CERTIFICATE-----\nBAUG\n-----END CERTIFICATE-----\n";

    fn certificate(formats: &[CertificateOutputFormatType]) -> Certificate {
        let mut c: Certificate = serde_json::from_value(serde_json::json!({
            "apiVersion": "cert-manager.io/v1", "kind": "Certificate",
            "metadata": {"name": "c", "namespace": "n"},
            "spec": {"secretName": "s", "issuerRef": {"name": "i"}}
        }))
        .expect("certificate");
        c.spec.additional_output_formats = formats
            .iter()
            .map(|&type_| CertificateAdditionalOutputFormat { type_ })
            .collect();
        c
    }

    fn data(extra: &[(&str, &[u8])]) -> BTreeMap<String, Vec<u8>> {
        let mut d = BTreeMap::from([
            ("tls.key".to_owned(), KEY.to_vec()),
            ("tls.crt".to_owned(), CRT.to_vec()),
        ]);
        for (k, v) in extra {
            d.insert((*k).to_owned(), v.to_vec());
        }
        d
    }

    #[test]
    fn combined_pem_is_key_newline_chain_and_der_is_the_key_block() {
        assert_eq!(combined_pem(b"K", b"C"), b"K\nC");
        assert_eq!(der_key(KEY), Some(vec![1, 2, 3]));
        assert_eq!(der_key(b"not pem"), None);
    }

    #[test]
    fn formats_must_match_and_unasked_formats_must_be_gone() {
        use CertificateOutputFormatType::{CombinedPem, Der};
        let both = certificate(&[CombinedPem, Der]);
        let combined = combined_pem(KEY, CRT);
        let good = data(&[(COMBINED_PEM_KEY, &combined), (DER_KEY, &[1, 2, 3])]);
        assert_eq!(violation(&both, &good), None);
        let stale = data(&[(COMBINED_PEM_KEY, b"old"), (DER_KEY, &[1, 2, 3])]);
        assert_eq!(
            violation(&both, &stale).map(|v| v.0),
            Some(ADDITIONAL_OUTPUT_FORMATS_MISMATCH)
        );
        assert!(violation(&both, &data(&[])).is_some());
        // DER removed from the spec: key.der must go.
        assert_eq!(
            violation(&certificate(&[CombinedPem]), &good).map(|v| v.0),
            Some(ADDITIONAL_OUTPUT_FORMATS_MISMATCH)
        );
        assert_eq!(violation(&certificate(&[]), &data(&[])), None);
    }

    #[test]
    fn keystores_follow_create_and_the_ca() {
        let mut c = certificate(&[]);
        assert_eq!(
            violation(&c, &data(&[(JKS_KEYSTORE_KEY, b"x")])),
            Some((SECRET_MISMATCH, "Keystore is not defined"))
        );
        c.spec.keystores = Some(CertificateKeystores {
            jks: Some(JksKeystore {
                create: true,
                ..Default::default()
            }),
            pkcs12: Some(Pkcs12Keystore {
                create: false,
                ..Default::default()
            }),
        });
        assert_eq!(
            violation(&c, &data(&[])),
            Some((SECRET_MISMATCH, "JKS Keystore key does not contain data"))
        );
        assert_eq!(violation(&c, &data(&[(JKS_KEYSTORE_KEY, b"x")])), None);
        // With a CA the trust store is due too.
        assert!(violation(&c, &data(&[(JKS_KEYSTORE_KEY, b"x"), ("ca.crt", b"c")])).is_some());
        assert_eq!(
            violation(
                &c,
                &data(&[(JKS_KEYSTORE_KEY, b"x"), (PKCS12_KEYSTORE_KEY, b"p")])
            ),
            Some((SECRET_MISMATCH, "PKCS12 Keystore create disabled"))
        );
        c.spec.keystores.as_mut().expect("keystores").pkcs12 = None;
        assert_eq!(
            violation(
                &c,
                &data(&[(JKS_KEYSTORE_KEY, b"x"), (PKCS12_TRUSTSTORE_KEY, b"p")])
            ),
            Some((SECRET_MISMATCH, "PKCS12 Keystore not defined"))
        );
    }
}
