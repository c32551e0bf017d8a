//! What cert-manager writes on a certificate's Secret besides the PEM
//! data: the annotations describing the certificate and its issuer, the
//! `controller.cert-manager.io/fao` label, and the secretTemplate.

use std::collections::BTreeMap;
use std::net::IpAddr;

use crate::api::Certificate;
use crate::pki::CertificateInfo;

/// Annotation: the Certificate the Secret belongs to.
pub const CERTIFICATE_NAME: &str = "cert-manager.io/certificate-name";
/// Annotation: issuer name.
pub const ISSUER_NAME: &str = "cert-manager.io/issuer-name";
/// Annotation: issuer kind.
pub const ISSUER_KIND: &str = "cert-manager.io/issuer-kind";
/// Annotation: issuer group.
pub const ISSUER_GROUP: &str = "cert-manager.io/issuer-group";
/// Label cert-manager puts on Secrets it manages ("for attention of").
pub const FAO_LABEL: &str = "controller.cert-manager.io/fao";
/// Label on the temporary next-private-key Secret.
pub const NEXT_PRIVATE_KEY_LABEL: &str = "cert-manager.io/next-private-key";
/// CertificateRequest annotation: its Certificate's revision.
pub const CERTIFICATE_REVISION: &str = "cert-manager.io/certificate-revision";
/// CertificateRequest annotation: the Secret holding the request's key.
pub const PRIVATE_KEY_SECRET_NAME: &str = "cert-manager.io/private-key-secret-name";

/// The annotations for a Secret holding `info`, issued for `certificate`.
pub fn annotations(certificate: &Certificate, info: &CertificateInfo) -> BTreeMap<String, String> {
    let mut out = BTreeMap::new();
    let name = certificate.metadata.name.clone().unwrap_or_default();
    let issuer = &certificate.spec.issuer_ref;
    out.insert(CERTIFICATE_NAME.to_owned(), name);
    out.insert(ISSUER_NAME.to_owned(), issuer.name.clone());
    out.insert(ISSUER_KIND.to_owned(), issuer.effective_kind().to_owned());
    out.insert(ISSUER_GROUP.to_owned(), issuer.effective_group().to_owned());
    out.insert(
        "cert-manager.io/common-name".to_owned(),
        info.common_name.clone().unwrap_or_default(),
    );
    out.insert(
        "cert-manager.io/alt-names".to_owned(),
        info.dns_names.join(","),
    );
    out.insert(
        "cert-manager.io/ip-sans".to_owned(),
        info.ip_addresses
            .iter()
            .map(IpAddr::to_string)
            .collect::<Vec<_>>()
            .join(","),
    );
    out.insert("cert-manager.io/uri-sans".to_owned(), info.uris.join(","));
    let optional = [
        ("cert-manager.io/email-sans", &info.emails),
        (
            "cert-manager.io/subject-organizations",
            &info.subject_fields.organizations,
        ),
        (
            "cert-manager.io/subject-organizationalunits",
            &info.subject_fields.organizational_units,
        ),
        (
            "cert-manager.io/subject-countries",
            &info.subject_fields.countries,
        ),
        (
            "cert-manager.io/subject-provinces",
            &info.subject_fields.provinces,
        ),
        (
            "cert-manager.io/subject-localities",
            &info.subject_fields.localities,
        ),
        (
            "cert-manager.io/subject-streetaddresses",
            &info.subject_fields.street_addresses,
        ),
        (
            "cert-manager.io/subject-postalcodes",
            &info.subject_fields.postal_codes,
        ),
    ];
    for (key, values) in optional {
        if !values.is_empty() {
            out.insert(key.to_owned(), values.join(","));
        }
    }
    if let Some(serial) = info
        .subject_fields
        .serial_number
        .as_ref()
        .filter(|s| !s.is_empty())
    {
        out.insert(
            "cert-manager.io/subject-serialnumber".to_owned(),
            serial.clone(),
        );
    }
    if let Some(template) = &certificate.spec.secret_template {
        for (k, v) in &template.annotations {
            out.entry(k.clone()).or_insert_with(|| v.clone());
        }
    }
    out
}

/// The labels for the Secret: the fao label and the secretTemplate's.
pub fn labels(certificate: &Certificate) -> BTreeMap<String, String> {
    let mut out = BTreeMap::new();
    if let Some(template) = &certificate.spec.secret_template {
        out.extend(template.labels.clone());
    }
    out.insert(FAO_LABEL.to_owned(), "true".to_owned());
    out
}
