//! Subject names: cert-manager's `spec.subject`, written into requests the
//! way Go's `crypto/x509` writes them, and read back from CSRs and
//! certificates so that policy code can compare them field by field.

use rcgen::{DistinguishedName, DnType, DnValue};
use x509_parser::x509::{AttributeTypeAndValue, X509Name};

use super::PkiError;

/// cert-manager's `spec.subject` (an `X509Subject`), without the common
/// name, which cert-manager keeps in `spec.commonName`.
///
/// Every field but the serial number is a list because cert-manager's API
/// allows several values; see [`super::build_csr`] for what is written.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Subject {
    pub organizations: Vec<String>,
    pub countries: Vec<String>,
    pub organizational_units: Vec<String>,
    pub localities: Vec<String>,
    pub provinces: Vec<String>,
    pub street_addresses: Vec<String>,
    pub postal_codes: Vec<String>,
    pub serial_number: Option<String>,
}

const OID_CN: &[u64] = &[2, 5, 4, 3];
const OID_SERIAL: &[u64] = &[2, 5, 4, 5];
const OID_C: &[u64] = &[2, 5, 4, 6];
const OID_L: &[u64] = &[2, 5, 4, 7];
const OID_ST: &[u64] = &[2, 5, 4, 8];
const OID_STREET: &[u64] = &[2, 5, 4, 9];
const OID_O: &[u64] = &[2, 5, 4, 10];
const OID_OU: &[u64] = &[2, 5, 4, 11];
const OID_POSTAL: &[u64] = &[2, 5, 4, 17];

/// The short names Go's `pkix.Name.String()` uses; other attributes are
/// shown by dotted OID.
const SHORT_NAMES: &[(&[u64], &str)] = &[
    (OID_CN, "CN"),
    (OID_SERIAL, "SERIALNUMBER"),
    (OID_C, "C"),
    (OID_L, "L"),
    (OID_ST, "ST"),
    (OID_STREET, "STREET"),
    (OID_O, "O"),
    (OID_OU, "OU"),
    (OID_POSTAL, "POSTALCODE"),
];

/// Builds the subject of a request in Go's `pkix.Name.ToRDNSequence`
/// order (C, ST, L, STREET, POSTALCODE, O, OU, CN, SERIALNUMBER), so that
/// certwasm's requests read like cert-manager's.
///
/// rcgen keeps one value per attribute type, so a field with more than one
/// value is refused (naming the field) rather than silently truncated.
pub(super) fn distinguished_name(
    common_name: Option<&str>,
    subject: &Subject,
) -> Result<DistinguishedName, PkiError> {
    let serial: Vec<String> = subject.serial_number.iter().cloned().collect();
    let common_name: Vec<String> = common_name
        .filter(|cn| !cn.is_empty())
        .map(str::to_owned)
        .into_iter()
        .collect();
    let attributes: [(&[String], &[u64], &'static str); 9] = [
        (&subject.countries, OID_C, "subject.countries"),
        (&subject.provinces, OID_ST, "subject.provinces"),
        (&subject.localities, OID_L, "subject.localities"),
        (
            &subject.street_addresses,
            OID_STREET,
            "subject.streetAddresses",
        ),
        (&subject.postal_codes, OID_POSTAL, "subject.postalCodes"),
        (&subject.organizations, OID_O, "subject.organizations"),
        (
            &subject.organizational_units,
            OID_OU,
            "subject.organizationalUnits",
        ),
        (&common_name, OID_CN, "commonName"),
        (&serial, OID_SERIAL, "subject.serialNumber"),
    ];
    let mut name = DistinguishedName::new();
    for (values, oid, field) in attributes {
        match values {
            [] => {}
            [value] => name.push(dn_type(oid), dn_value(value)),
            _ => {
                return Err(PkiError::InvalidSpec {
                    field,
                    reason: format!(
                        "{} values given, but certwasm can only write one value per subject \
                         attribute (its CSR encoder, rcgen, has no multi-valued attributes)",
                        values.len()
                    ),
                });
            }
        }
    }
    Ok(name)
}

fn dn_type(oid: &[u64]) -> DnType {
    match oid {
        OID_CN => DnType::CommonName,
        OID_C => DnType::CountryName,
        OID_L => DnType::LocalityName,
        OID_ST => DnType::StateOrProvinceName,
        OID_O => DnType::OrganizationName,
        OID_OU => DnType::OrganizationalUnitName,
        other => DnType::CustomDnType(other.to_vec()),
    }
}

/// A PrintableString when the value fits its alphabet, a UTF8String
/// otherwise: what Go's `encoding/asn1` does for untyped strings.
fn dn_value(value: &str) -> DnValue {
    match rcgen::string::PrintableString::try_from(value) {
        Ok(printable) => DnValue::PrintableString(printable),
        Err(_) => DnValue::Utf8String(value.to_owned()),
    }
}

/// The subject fields and common name of a parsed name, for comparing a
/// CSR or certificate with a Certificate's spec. Attributes outside
/// cert-manager's `X509Subject` are ignored here (they still show in
/// [`rfc4514`]).
pub(super) fn read_subject(name: &X509Name<'_>) -> (Subject, Option<String>) {
    let mut subject = Subject::default();
    let mut common_name = None;
    for attribute in name.iter_attributes() {
        let Some(arcs) = attribute.attr_type().iter() else {
            continue;
        };
        let arcs: Vec<u64> = arcs.collect();
        let value = attribute_value(attribute);
        match arcs.as_slice() {
            OID_CN => {
                common_name.get_or_insert(value);
            }
            OID_SERIAL => {
                subject.serial_number.get_or_insert(value);
            }
            OID_C => subject.countries.push(value),
            OID_L => subject.localities.push(value),
            OID_ST => subject.provinces.push(value),
            OID_STREET => subject.street_addresses.push(value),
            OID_O => subject.organizations.push(value),
            OID_OU => subject.organizational_units.push(value),
            OID_POSTAL => subject.postal_codes.push(value),
            _ => {}
        }
    }
    (subject, common_name)
}

/// The name as an RFC 4514 string, formatted like Go's
/// `pkix.Name.String()` (last RDN first, `,` between RDNs, `+` inside a
/// multi-valued RDN), which is how cert-manager and `cmctl` show names.
pub(super) fn rfc4514(name: &X509Name<'_>) -> String {
    let mut rdns: Vec<String> = name
        .iter()
        .map(|rdn| {
            rdn.iter()
                .map(|attribute| {
                    let arcs: Option<Vec<u64>> =
                        attribute.attr_type().iter().map(Iterator::collect);
                    let short = arcs.as_deref().and_then(|arcs| {
                        SHORT_NAMES
                            .iter()
                            .find(|(oid, _)| *oid == arcs)
                            .map(|(_, short)| *short)
                    });
                    match short {
                        Some(short) => format!("{short}={}", escape(&attribute_value(attribute))),
                        None => format!(
                            "{}=#{}",
                            attribute.attr_type().to_id_string(),
                            hex::encode(attribute.attr_value().data)
                        ),
                    }
                })
                .collect::<Vec<_>>()
                .join("+")
        })
        .collect();
    rdns.reverse();
    rdns.join(",")
}

/// An attribute's text: the string types x509-parser decodes, BMPString
/// (UTF-16), else the hex of the raw value.
fn attribute_value(attribute: &AttributeTypeAndValue<'_>) -> String {
    if let Ok(text) = attribute.as_str() {
        return text.to_owned();
    }
    let value = attribute.attr_value();
    if value.tag() == x509_parser::asn1_rs::Tag::BmpString {
        let units: Vec<u16> = value
            .data
            .chunks_exact(2)
            .map(|pair| u16::from_be_bytes([pair[0], pair[1]]))
            .collect();
        if let Ok(text) = String::from_utf16(&units) {
            return text;
        }
    }
    format!("#{}", hex::encode(value.data))
}

/// RFC 4514 escaping, as Go does it.
fn escape(value: &str) -> String {
    let last = value.chars().count().saturating_sub(1);
    let mut out = String::with_capacity(value.len());
    for (index, c) in value.chars().enumerate() {
        let escaped = match c {
            ',' | '+' | '"' | '\\' | '<' | '>' | ';' => true,
            ' ' => index == 0 || index == last,
            '#' => index == 0,
            _ => false,
        };
        if escaped {
            out.push('\\');
        }
        if c.is_control() {
            for byte in c.to_string().bytes() {
                out.push_str(&format!("\\{byte:02x}"));
            }
        } else {
            out.push(c);
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn escaping_follows_rfc_4514() {
        assert_eq!(escape("Example, Inc."), "Example\\, Inc.");
        assert_eq!(escape(" padded "), "\\ padded\\ ");
        assert_eq!(escape("#1 a#b"), "\\#1 a#b");
        assert_eq!(escape("a+b=c;d"), "a\\+b=c\\;d");
        assert_eq!(escape("tab\there"), "tab\\09here");
        assert_eq!(escape("plain"), "plain");
    }

    #[test]
    fn more_than_one_value_is_refused_by_field_name() {
        let subject = Subject {
            organizational_units: vec!["a".into(), "b".into()],
            ..Subject::default()
        };
        let err = distinguished_name(Some("cn"), &subject).unwrap_err();
        assert!(
            err.to_string()
                .contains("subject.organizationalUnits: 2 values given"),
            "{err}"
        );
        assert!(distinguished_name(Some("cn"), &Subject::default()).is_ok());
    }

    #[test]
    fn strings_use_printable_string_when_they_can() {
        assert!(matches!(
            dn_value("Example Org"),
            DnValue::PrintableString(_)
        ));
        assert!(matches!(dn_value("*.example.com"), DnValue::Utf8String(_)));
        assert!(matches!(dn_value("Zürich"), DnValue::Utf8String(_)));
    }
}
