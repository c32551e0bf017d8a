//! The builder's output read back by independent implementations:
//! x509-parser for every field and extension, `openssl verify` for the
//! signatures and the chain. CSRs and most keys come from openssl too.

use sha1::{Digest, Sha1};
use x509_parser::certificate::X509Certificate;
use x509_parser::extensions::{DistributionPointName, GeneralName, ParsedExtension};
use x509_parser::oid_registry::Oid;

use super::*;
use crate::testing::{KeyKind, OpensslKey, text, verify};

/// 2026-09-21T14:13:20Z.
const NOW: i64 = 1_790_000_000;
const DAY: i64 = 86_400;

/// A P-256 key signing in process, as the host's benchmark does natively.
struct P256Key {
    key: p256::ecdsa::SigningKey,
    spki: Vec<u8>,
}

impl P256Key {
    fn from_openssl(key: &OpensslKey) -> Self {
        use p256::pkcs8::{DecodePrivateKey, EncodePublicKey};
        let key = p256::ecdsa::SigningKey::from_pkcs8_pem(&key.private_key_pem()).unwrap();
        let spki = key.verifying_key().to_public_key_der().unwrap().into_vec();
        Self { key, spki }
    }
}

impl Signer for P256Key {
    fn public_key_der(&self) -> &[u8] {
        &self.spki
    }

    fn sign(&self, algorithm: SignatureAlgorithm, data: &[u8]) -> Result<Vec<u8>, String> {
        use p256::ecdsa::signature::Signer as _;
        assert_eq!(algorithm, SignatureAlgorithm::EcdsaP256Sha256);
        let signature: p256::ecdsa::Signature = self.key.sign(data);
        Ok(signature.to_der().as_bytes().to_vec())
    }
}

fn der_of(pem_text: &str) -> Vec<u8> {
    let (_, block) = x509_parser::pem::parse_x509_pem(pem_text.as_bytes()).unwrap();
    assert_eq!(block.label, "CERTIFICATE");
    block.contents
}

fn parse(der: &[u8]) -> X509Certificate<'_> {
    let (rest, cert) = x509_parser::parse_x509_certificate(der).unwrap();
    assert!(rest.is_empty());
    cert
}

fn oid(text: &str) -> Oid<'static> {
    text.parse().unwrap()
}

fn self_signed_ca(key: &dyn Signer, csr: &str, days: u64) -> String {
    let params = CertificateParams {
        duration_seconds: Some(days * 86_400),
        is_ca: true,
        ..CertificateParams::default()
    };
    sign_request(csr, &params, IssuedBy::SelfSigned, key, NOW, [0xff; 16]).unwrap()
}

fn sha1_key_id(cert: &X509Certificate<'_>) -> Vec<u8> {
    Sha1::digest(&cert.public_key().subject_public_key.data).to_vec()
}

#[test]
fn a_leaf_from_a_ca_carries_everything_cert_manager_puts_in() {
    let ca_openssl = OpensslKey::generate(KeyKind::EcdsaP256);
    let ca_key = P256Key::from_openssl(&ca_openssl);
    let ca_pem = self_signed_ca(&ca_key, &ca_openssl.csr("/CN=Test CA/O=certwasm", &[]), 365);
    let ca = Certificate::from_pem(&ca_pem).unwrap();

    let leaf_key = OpensslKey::generate(KeyKind::EcdsaP256);
    let csr = leaf_key.csr(
        "/C=GB/O=Example Org/CN=leaf.example",
        &["subjectAltName=DNS:leaf.example,DNS:www.leaf.example,IP:192.0.2.10,IP:2001:db8::1,URI:spiffe://cluster.local/ns/default/sa/web,email:ops@example.com"],
    );
    let usages = [
        KeyUsage::DigitalSignature,
        KeyUsage::KeyEncipherment,
        KeyUsage::ServerAuth,
        KeyUsage::ClientAuth,
        KeyUsage::Smime,
        KeyUsage::EmailProtection,
    ];
    let crl = ["http://crl.example/ca.crl".to_owned()];
    let ocsp = ["http://ocsp.example".to_owned()];
    let issuing = ["http://ca.example/ca.crt".to_owned()];
    let params = CertificateParams {
        duration_seconds: Some(400 * 86_400),
        is_ca: false,
        usages: &usages,
        crl_distribution_points: &crl,
        ocsp_servers: &ocsp,
        issuing_certificate_urls: &issuing,
    };
    let leaf_pem = sign_request(&csr, &params, IssuedBy::Ca(&ca), &ca_key, NOW, [7; 16]).unwrap();

    let ca_der = der_of(&ca_pem);
    let ca_x509 = parse(&ca_der);
    let der = der_of(&leaf_pem);
    let leaf = parse(&der);
    assert_eq!(leaf.version().0, 2, "v3");
    assert_eq!(leaf.raw_serial(), [7; 16]);
    assert_eq!(leaf.issuer().as_raw(), ca_x509.subject().as_raw());
    assert_eq!(
        leaf.subject().to_string(),
        "C=GB, O=Example Org, CN=leaf.example"
    );
    assert_eq!(leaf.validity().not_before.timestamp(), NOW);
    // 400 days asked, but the CA expires after 365: capped.
    assert_eq!(leaf.validity().not_after.timestamp(), NOW + 365 * DAY);
    let ecdsa_sha256 = oid("1.2.840.10045.4.3.2");
    assert_eq!(leaf.signature_algorithm.algorithm, ecdsa_sha256);
    assert_eq!(leaf.tbs_certificate.signature.algorithm, ecdsa_sha256);
    assert!(leaf.signature_algorithm.parameters.is_none());

    let mut seen = Vec::new();
    for ext in leaf.extensions() {
        match ext.parsed_extension() {
            ParsedExtension::KeyUsage(ku) => {
                assert!(ext.critical);
                assert_eq!(ku.flags, 0b101, "digital signature + key encipherment only");
                seen.push("ku");
            }
            ParsedExtension::ExtendedKeyUsage(eku) => {
                assert!(!ext.critical);
                assert!(eku.server_auth && eku.client_auth && eku.email_protection);
                assert!(
                    !eku.any && !eku.code_signing && !eku.time_stamping && eku.other.is_empty()
                );
                seen.push("eku");
            }
            ParsedExtension::BasicConstraints(bc) => {
                assert!(ext.critical && !bc.ca && bc.path_len_constraint.is_none());
                seen.push("bc");
            }
            ParsedExtension::SubjectKeyIdentifier(ski) => {
                assert_eq!(ski.0, sha1_key_id(&leaf).as_slice(), "RFC 5280 method 1");
                seen.push("ski");
            }
            ParsedExtension::AuthorityKeyIdentifier(aki) => {
                assert_eq!(
                    aki.key_identifier.as_ref().unwrap().0,
                    sha1_key_id(&ca_x509).as_slice()
                );
                assert!(aki.authority_cert_issuer.is_none() && aki.authority_cert_serial.is_none());
                seen.push("aki");
            }
            ParsedExtension::AuthorityInfoAccess(aia) => {
                let found: Vec<_> = aia
                    .accessdescs
                    .iter()
                    .map(|d| (d.access_method.to_id_string(), d.access_location.clone()))
                    .collect();
                assert_eq!(
                    found,
                    [
                        (
                            "1.3.6.1.5.5.7.48.1".to_owned(),
                            GeneralName::URI("http://ocsp.example")
                        ),
                        (
                            "1.3.6.1.5.5.7.48.2".to_owned(),
                            GeneralName::URI("http://ca.example/ca.crt")
                        ),
                    ]
                );
                seen.push("aia");
            }
            ParsedExtension::CRLDistributionPoints(points) => {
                assert_eq!(points.points.len(), 1);
                assert_eq!(
                    points.points[0].distribution_point,
                    Some(DistributionPointName::FullName(vec![GeneralName::URI(
                        "http://crl.example/ca.crl"
                    )]))
                );
                seen.push("crl");
            }
            ParsedExtension::SubjectAlternativeName(san) => {
                assert!(!ext.critical, "the subject is not empty");
                assert_eq!(
                    san.general_names,
                    [
                        GeneralName::DNSName("leaf.example"),
                        GeneralName::DNSName("www.leaf.example"),
                        GeneralName::IPAddress(&[192, 0, 2, 10]),
                        GeneralName::IPAddress(&[
                            0x20, 0x01, 0x0d, 0xb8, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 1
                        ]),
                        GeneralName::URI("spiffe://cluster.local/ns/default/sa/web"),
                        GeneralName::RFC822Name("ops@example.com"),
                    ]
                );
                seen.push("san");
            }
            other => panic!("unexpected extension {other:?}"),
        }
    }
    assert_eq!(seen, ["ku", "eku", "bc", "ski", "aki", "aia", "crl", "san"]);

    // The CA: CA:TRUE, cert sign + CRL sign added to the default usages,
    // its own key id as authority key id.
    let ku = ca_x509.key_usage().unwrap().unwrap();
    assert!(ku.critical);
    assert!(ku.value.digital_signature() && ku.value.key_encipherment());
    assert!(ku.value.key_cert_sign() && ku.value.crl_sign());
    let bc = ca_x509.basic_constraints().unwrap().unwrap();
    assert!(bc.critical && bc.value.ca && bc.value.path_len_constraint.is_none());
    assert_eq!(
        ca_x509.raw_serial(),
        [&[0][..], &[0xff; 16]].concat(),
        "positive 128-bit serial"
    );
    assert_eq!(ca.subject_key_id(), Some(sha1_key_id(&ca_x509).as_slice()));
    assert!(ca.is_ca() && ca.is_self_issued());
    assert_eq!(ca.not_after_unix(), NOW + 365 * DAY);

    // openssl agrees: both signatures verify, and the chain does.
    verify(&ca_pem, &ca_pem, NOW + 60).unwrap();
    let verified = verify(&ca_pem, &leaf_pem, NOW + 60).unwrap();
    assert!(verified.contains(": OK"), "{verified}");
    assert!(
        verify(&ca_pem, &leaf_pem, NOW + 366 * DAY).is_err(),
        "expired after the CA"
    );
    let leaf_text = text(&leaf_pem);
    assert!(
        leaf_text.contains(
            "TLS Web Server Authentication, TLS Web Client Authentication, E-mail Protection"
        ),
        "{leaf_text}"
    );
}

#[test]
fn defaults_follow_cert_manager() {
    let key = OpensslKey::generate(KeyKind::EcdsaP256);
    let pem_text = sign_request(
        &key.csr("/CN=x.example", &["subjectAltName=DNS:x.example"]),
        &CertificateParams::default(),
        IssuedBy::SelfSigned,
        &key,
        NOW,
        [0; 16],
    )
    .unwrap();
    let der = der_of(&pem_text);
    let cert = parse(&der);
    assert_eq!(cert.validity().not_after.timestamp() - NOW, 90 * DAY);
    let ku = cert.key_usage().unwrap().unwrap();
    assert!(ku.critical);
    assert_eq!(
        ku.value.flags, 0b101,
        "digital signature + key encipherment"
    );
    assert!(cert.extended_key_usage().unwrap().is_none());
    assert!(!cert.basic_constraints().unwrap().unwrap().value.ca);
    assert_eq!(cert.issuer(), cert.subject());
    assert_eq!(
        cert.raw_serial(),
        [1],
        "a zero serial becomes 1: serials are positive"
    );
    let aki = cert
        .extensions()
        .iter()
        .find_map(|e| match e.parsed_extension() {
            ParsedExtension::AuthorityKeyIdentifier(aki) => aki.key_identifier.clone(),
            _ => None,
        })
        .unwrap();
    assert_eq!(
        aki.0,
        sha1_key_id(&cert).as_slice(),
        "self-signed: its own key id"
    );
    assert!(
        cert.extensions()
            .iter()
            .all(|e| e.oid != oid("1.3.6.1.5.5.7.1.1") && e.oid != oid("2.5.29.31"))
    );
    verify(&pem_text, &pem_text, NOW + 1).unwrap();
}

#[test]
fn key_usage_is_only_what_was_asked() {
    let key = OpensslKey::generate(KeyKind::EcdsaP256);
    let csr = key.csr("/CN=x", &[]);
    let issue = |usages: &[KeyUsage], is_ca: bool| {
        let params = CertificateParams {
            usages,
            is_ca,
            ..CertificateParams::default()
        };
        der_of(&sign_request(&csr, &params, IssuedBy::SelfSigned, &key, NOW, [1; 16]).unwrap())
    };
    // Only extended usages: no key usage extension at all (Go omits a zero one).
    let der = issue(&[KeyUsage::ServerAuth], false);
    assert!(parse(&der).key_usage().unwrap().is_none());
    let der = issue(
        &[
            KeyUsage::ServerAuth,
            KeyUsage::Any,
            KeyUsage::MicrosoftSgc,
            KeyUsage::NetscapeSgc,
        ],
        true,
    );
    let cert = parse(&der);
    let ku = cert.key_usage().unwrap().unwrap().value;
    assert_eq!(ku.flags, 1 << 5 | 1 << 6, "isCA: cert sign and CRL sign");
    let eku = cert.extended_key_usage().unwrap().unwrap().value;
    assert!(eku.server_auth && eku.any);
    assert_eq!(
        eku.other,
        [oid("1.3.6.1.4.1.311.10.3.3"), oid("2.16.840.1.113730.4.1")]
    );
    // Every key usage bit, including decipher only (the second byte).
    let all = [
        KeyUsage::Signing,
        KeyUsage::ContentCommitment,
        KeyUsage::KeyEncipherment,
        KeyUsage::DataEncipherment,
        KeyUsage::KeyAgreement,
        KeyUsage::CertSign,
        KeyUsage::CrlSign,
        KeyUsage::EncipherOnly,
        KeyUsage::DecipherOnly,
    ];
    let der = issue(&all, false);
    assert_eq!(parse(&der).key_usage().unwrap().unwrap().value.flags, 0x1ff);
    let der = issue(&[KeyUsage::DecipherOnly], false);
    assert_eq!(
        parse(&der).key_usage().unwrap().unwrap().value.flags,
        1 << 8
    );
    let der = issue(
        &[
            KeyUsage::CodeSigning,
            KeyUsage::IpsecEndSystem,
            KeyUsage::IpsecTunnel,
            KeyUsage::IpsecUser,
            KeyUsage::Timestamping,
            KeyUsage::OcspSigning,
        ],
        false,
    );
    let cert = parse(&der);
    let eku = cert.extended_key_usage().unwrap().unwrap().value;
    assert!(eku.code_signing && eku.time_stamping && eku.ocsp_signing);
    assert_eq!(
        eku.other,
        [
            oid("1.3.6.1.5.5.7.3.5"),
            oid("1.3.6.1.5.5.7.3.6"),
            oid("1.3.6.1.5.5.7.3.7")
        ]
    );
}

#[test]
fn the_signature_algorithm_follows_the_signing_key() {
    let cases = [
        (
            KeyKind::EcdsaP384,
            SignatureAlgorithm::EcdsaP384Sha384,
            "1.2.840.10045.4.3.3",
            "ecdsa-with-SHA384",
        ),
        (
            KeyKind::Rsa(2048),
            SignatureAlgorithm::RsaPkcs1Sha256,
            "1.2.840.113549.1.1.11",
            "sha256WithRSAEncryption",
        ),
        (
            KeyKind::Rsa(3072),
            SignatureAlgorithm::RsaPkcs1Sha384,
            "1.2.840.113549.1.1.12",
            "sha384WithRSAEncryption",
        ),
        (
            KeyKind::Rsa(4096),
            SignatureAlgorithm::RsaPkcs1Sha512,
            "1.2.840.113549.1.1.13",
            "sha512WithRSAEncryption",
        ),
        (
            KeyKind::Ed25519,
            SignatureAlgorithm::Ed25519,
            "1.3.101.112",
            "ED25519",
        ),
    ];
    // Leaves use P-256 keys: the algorithm depends on the signer only.
    let leaf_key = OpensslKey::generate(KeyKind::EcdsaP256);
    let leaf_csr = leaf_key.csr("/CN=leaf", &["subjectAltName=DNS:leaf.example"]);
    for (kind, algorithm, algorithm_oid, openssl_name) in cases {
        let key = OpensslKey::generate(kind);
        assert_eq!(
            signature_algorithm_for(key.public_key_der()),
            Ok(algorithm),
            "{kind:?}"
        );
        let ca_pem = self_signed_ca(&key, &key.csr("/CN=CA", &[]), 30);
        let ca = Certificate::from_pem(&ca_pem).unwrap();
        let leaf_pem = sign_request(
            &leaf_csr,
            &CertificateParams::default(),
            IssuedBy::Ca(&ca),
            &key,
            NOW,
            [9; 16],
        )
        .unwrap();
        let der = der_of(&leaf_pem);
        let leaf = parse(&der);
        assert_eq!(
            leaf.signature_algorithm.algorithm,
            oid(algorithm_oid),
            "{kind:?}"
        );
        // RSA identifiers carry NULL parameters, ECDSA and Ed25519 none (RFC 4055, 5758, 8410).
        assert_eq!(
            leaf.signature_algorithm.parameters.is_some(),
            matches!(kind, KeyKind::Rsa(_)),
            "{kind:?}"
        );
        assert!(verify(&ca_pem, &leaf_pem, NOW + 60).is_ok(), "{kind:?}");
        assert!(text(&leaf_pem).contains(openssl_name), "{kind:?}");
    }
    let small = OpensslKey::generate(KeyKind::Rsa(1024));
    assert_eq!(
        signature_algorithm_for(small.public_key_der())
            .unwrap_err()
            .to_string(),
        "invalid size 1024 for RSA key on signing certificate"
    );
    let p521 = crate::testing::openssl(&[
        "genpkey",
        "-algorithm",
        "EC",
        "-pkeyopt",
        "ec_paramgen_curve:P-521",
    ]);
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("p521.pem");
    std::fs::write(&path, p521).unwrap();
    let spki = crate::testing::openssl(&[
        "pkey",
        "-in",
        path.to_str().unwrap(),
        "-pubout",
        "-outform",
        "DER",
    ]);
    assert!(matches!(
        signature_algorithm_for(&spki),
        Err(X509Error::UnsupportedKey(_))
    ));
}

#[test]
fn signing_with_the_wrong_key_is_refused() {
    let key = OpensslKey::generate(KeyKind::EcdsaP256);
    let other = OpensslKey::generate(KeyKind::EcdsaP256);
    let csr = key.csr("/CN=x", &[]);
    let err = sign_request(
        &csr,
        &CertificateParams::default(),
        IssuedBy::SelfSigned,
        &other,
        NOW,
        [1; 16],
    )
    .unwrap_err();
    assert_eq!(err, X509Error::RequestKeyMismatch);
    assert_eq!(err.to_string(), "CSR not signed by referenced private key");

    let ca = Certificate::from_pem(&self_signed_ca(&key, &csr, 30)).unwrap();
    assert!(ca.key_matches(&key) && !ca.key_matches(&other));
    let err = sign_request(
        &csr,
        &CertificateParams::default(),
        IssuedBy::Ca(&ca),
        &other,
        NOW,
        [1; 16],
    )
    .unwrap_err();
    assert_eq!(err, X509Error::IssuerKeyMismatch);
}

#[test]
fn an_empty_subject_makes_the_sans_critical_and_name_constraints_pass_through() {
    let key = OpensslKey::generate(KeyKind::EcdsaP256);
    let csr = key.csr(
        "/",
        &[
            "subjectAltName=DNS:only.example",
            "nameConstraints=critical,permitted;DNS:.example.com",
        ],
    );
    let params = CertificateParams {
        is_ca: true,
        ..CertificateParams::default()
    };
    let pem_text = sign_request(&csr, &params, IssuedBy::SelfSigned, &key, NOW, [3; 16]).unwrap();
    let der = der_of(&pem_text);
    let cert = parse(&der);
    assert!(cert.subject().as_raw().len() == 2, "empty Name");
    let san = cert.subject_alternative_name().unwrap().unwrap();
    assert!(san.critical);
    assert_eq!(
        san.value.general_names,
        [GeneralName::DNSName("only.example")]
    );
    let constraints = cert.name_constraints().unwrap().unwrap();
    assert!(constraints.critical);
    let permitted = constraints.value.permitted_subtrees.as_ref().unwrap();
    assert_eq!(permitted[0].base, GeneralName::DNSName(".example.com"));
}

#[test]
fn far_future_times_use_generalized_time_and_expired_cas_refuse() {
    let key = OpensslKey::generate(KeyKind::EcdsaP256);
    let csr = key.csr("/CN=long", &[]);
    let params = CertificateParams {
        duration_seconds: Some(30 * 365 * 86_400),
        is_ca: true,
        ..CertificateParams::default()
    };
    let pem_text = sign_request(&csr, &params, IssuedBy::SelfSigned, &key, NOW, [3; 16]).unwrap();
    let der = der_of(&pem_text);
    assert_eq!(
        parse(&der).validity().not_after.timestamp(),
        NOW + 30 * 365 * DAY
    );
    assert!(text(&pem_text).contains("2056 GMT"));
    verify(&pem_text, &pem_text, NOW).unwrap();

    let ca = Certificate::from_pem(&pem_text).unwrap();
    let later = ca.not_after_unix() + 1;
    let err = sign_request(
        &csr,
        &CertificateParams::default(),
        IssuedBy::Ca(&ca),
        &key,
        later,
        [3; 16],
    )
    .unwrap_err();
    assert_eq!(err, X509Error::IssuerExpired);
    // Issuing exactly at the CA's expiry is the last moment that works.
    sign_request(
        &csr,
        &CertificateParams::default(),
        IssuedBy::Ca(&ca),
        &key,
        later - 1,
        [3; 16],
    )
    .unwrap();
}

#[test]
fn bad_input_is_refused_with_a_reason() {
    let key = OpensslKey::generate(KeyKind::EcdsaP256);
    let params = CertificateParams::default();
    let err = sign_request(
        "not a csr",
        &params,
        IssuedBy::SelfSigned,
        &key,
        NOW,
        [1; 16],
    )
    .unwrap_err();
    assert!(matches!(err, X509Error::Pem(_)), "{err:?}");
    let truncated = pem::encode("CERTIFICATE REQUEST", &[0x30, 0x82, 0x01, 0x00, 0x30]);
    let err = sign_request(
        &truncated,
        &params,
        IssuedBy::SelfSigned,
        &key,
        NOW,
        [1; 16],
    )
    .unwrap_err();
    assert!(matches!(err, X509Error::Malformed(_)), "{err:?}");
    assert!(
        err.to_string().starts_with("malformed certificate request"),
        "{err}"
    );
    let csr = key.csr("/CN=x", &[]);
    let bad_url = ["http://exämple/".to_owned()];
    let params = CertificateParams {
        crl_distribution_points: &bad_url,
        ..CertificateParams::default()
    };
    let err = sign_request(&csr, &params, IssuedBy::SelfSigned, &key, NOW, [1; 16]).unwrap_err();
    assert!(
        matches!(
            err,
            X509Error::BadUrl {
                field: "crlDistributionPoints",
                ..
            }
        ),
        "{err:?}"
    );
    assert!(matches!(
        Certificate::from_pem(&truncated),
        Err(X509Error::Pem(_))
    ));
    assert!(parse_chain("-----BEGIN PRIVATE KEY-----\nAAAA\n-----END PRIVATE KEY-----\n").is_err());

    struct Failing(Vec<u8>);
    impl Signer for Failing {
        fn public_key_der(&self) -> &[u8] {
            &self.0
        }
        fn sign(&self, _: SignatureAlgorithm, _: &[u8]) -> Result<Vec<u8>, String> {
            Err("the key is gone".into())
        }
    }
    let failing = Failing(key.public_key_der().to_vec());
    let err = sign_request(
        &csr,
        &CertificateParams::default(),
        IssuedBy::SelfSigned,
        &failing,
        NOW,
        [1; 16],
    )
    .unwrap_err();
    assert_eq!(
        err.to_string(),
        "error creating x509 certificate: the key is gone"
    );
}

#[test]
fn certificates_made_by_openssl_are_read_correctly() {
    let key = OpensslKey::generate(KeyKind::Rsa(2048));
    let dir = tempfile::tempdir().unwrap();
    let key_path = dir.path().join("key.pem");
    std::fs::write(&key_path, key.private_key_pem()).unwrap();
    let pem_text = String::from_utf8(crate::testing::openssl(&[
        "req",
        "-x509",
        "-new",
        "-key",
        key_path.to_str().unwrap(),
        "-subj",
        "/CN=OpenSSL CA",
        "-days",
        "10",
        "-addext",
        "basicConstraints=critical,CA:TRUE",
        "-addext",
        "subjectKeyIdentifier=hash",
    ]))
    .unwrap();
    let cert = Certificate::from_pem(&format!("# a comment\n{pem_text}")).unwrap();
    let der = der_of(&pem_text);
    let x509 = parse(&der);
    assert!(cert.is_ca() && cert.is_self_issued());
    assert_eq!(cert.der(), der.as_slice());
    assert_eq!(cert.subject_der(), x509.subject().as_raw());
    assert_eq!(cert.issuer_der(), x509.issuer().as_raw());
    assert_eq!(cert.public_key_der(), x509.public_key().raw);
    assert_eq!(cert.subject_key_id(), Some(sha1_key_id(&x509).as_slice()));
    assert_eq!(
        cert.not_before_unix(),
        x509.validity().not_before.timestamp()
    );
    assert_eq!(cert.not_after_unix(), x509.validity().not_after.timestamp());
    assert!(cert.key_matches(&key));
    assert_eq!(
        key_identifier(key.public_key_der()).unwrap().as_slice(),
        sha1_key_id(&x509).as_slice()
    );
    assert_eq!(Certificate::from_pem(&cert.to_pem()).unwrap(), cert);

    // A leaf without basic constraints is not a CA.
    let leaf_text = String::from_utf8(crate::testing::openssl(&[
        "req",
        "-x509",
        "-new",
        "-key",
        key_path.to_str().unwrap(),
        "-subj",
        "/CN=leaf",
        "-days",
        "1",
        "-addext",
        "basicConstraints=CA:FALSE",
    ]))
    .unwrap();
    assert!(!Certificate::from_pem(&leaf_text).unwrap().is_ca());
}

/// A root, an intermediate and a leaf, for chain tests.
struct Pki {
    root: Certificate,
    intermediate: Certificate,
    leaf: Certificate,
}

fn pki() -> Pki {
    let root_key = OpensslKey::generate(KeyKind::EcdsaP256);
    let root = Certificate::from_pem(&self_signed_ca(
        &root_key,
        &root_key.csr("/CN=Root", &[]),
        60,
    ))
    .unwrap();
    let intermediate_key = OpensslKey::generate(KeyKind::EcdsaP256);
    let ca_params = CertificateParams {
        is_ca: true,
        ..CertificateParams::default()
    };
    let intermediate = Certificate::from_pem(
        &sign_request(
            &intermediate_key.csr("/CN=Intermediate", &[]),
            &ca_params,
            IssuedBy::Ca(&root),
            &root_key,
            NOW,
            [4; 16],
        )
        .unwrap(),
    )
    .unwrap();
    let leaf_key = OpensslKey::generate(KeyKind::EcdsaP256);
    let leaf = Certificate::from_pem(
        &sign_request(
            &leaf_key.csr("/CN=leaf", &[]),
            &CertificateParams::default(),
            IssuedBy::Ca(&intermediate),
            &intermediate_key,
            NOW,
            [5; 16],
        )
        .unwrap(),
    )
    .unwrap();
    Pki {
        root,
        intermediate,
        leaf,
    }
}

#[test]
fn bundles_are_ordered_like_cert_managers() {
    let Pki {
        root,
        intermediate,
        leaf,
    } = pki();
    let chain = |certs: &[&Certificate]| certs.iter().map(|c| c.to_pem()).collect::<String>();

    // Any order, duplicates: leaf then intermediate; the self-signed root is the CA only.
    let bundle = PemBundle::from_chain(
        &leaf,
        &[
            root.clone(),
            intermediate.clone(),
            root.clone(),
            leaf.clone(),
        ],
    )
    .unwrap();
    assert_eq!(bundle.chain_pem, chain(&[&leaf, &intermediate]));
    assert_eq!(bundle.ca_pem, Some(root.to_pem()));
    verify(
        bundle.ca_pem.as_deref().unwrap(),
        &bundle.chain_pem,
        NOW + 1,
    )
    .unwrap();

    // No root: the top intermediate is in the chain and is the CA.
    let bundle = PemBundle::from_chain(&leaf, std::slice::from_ref(&intermediate)).unwrap();
    assert_eq!(bundle.chain_pem, chain(&[&leaf, &intermediate]));
    assert_eq!(bundle.ca_pem, Some(intermediate.to_pem()));

    // A lone self-signed certificate is its own CA; a lone leaf has none.
    let bundle = PemBundle::from_chain(&root, &[]).unwrap();
    assert_eq!(
        (bundle.chain_pem.clone(), bundle.ca_pem),
        (root.to_pem(), Some(root.to_pem()))
    );
    assert_eq!(PemBundle::from_chain(&leaf, &[]).unwrap().ca_pem, None);

    // A certificate that is not part of the chain breaks it.
    let stranger = pki().root;
    let err = PemBundle::from_chain(&leaf, &[intermediate, root, stranger]).unwrap_err();
    assert_eq!(err.to_string(), "certificate chain is malformed or broken");
}

#[test]
fn parsing_a_request_finds_its_parts() {
    let key = OpensslKey::generate(KeyKind::Ed25519);
    let csr_pem = key.csr(
        "/CN=parts",
        &[
            "subjectAltName=DNS:parts.example",
            "keyUsage=digitalSignature",
        ],
    );
    let der = pem::decode_first(&csr_pem, &["CERTIFICATE REQUEST"]).unwrap();
    let csr = Csr::from_der(&der).unwrap();
    assert!(same_public_key(csr.public_key_der(), key.public_key_der()));
    assert!(!csr.subject_is_empty());
    // [2] dNSName "parts.example" inside GeneralNames.
    assert_eq!(csr.subject_alt_names_der().unwrap()[2..4], [0x82, 13]);
    assert!(!same_public_key(
        csr.public_key_der(),
        OpensslKey::generate(KeyKind::Ed25519).public_key_der()
    ));
    assert!(!same_public_key(b"junk", key.public_key_der()));
}
