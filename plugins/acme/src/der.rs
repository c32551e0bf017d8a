//! The little DER reading ACME needs: public keys for the JWK, ECDSA
//! signatures for JWS, names in CSRs and certificates.
//!
//! The SDK's DER reader is private to its X.509 builder, and what is needed
//! here is a few dozen lines, so a plugin that only speaks ACME does not
//! need an ASN.1 framework.

use std::fmt;

pub const INTEGER: u8 = 0x02;
pub const BIT_STRING: u8 = 0x03;
pub const OID: u8 = 0x06;
pub const SEQUENCE: u8 = 0x30;
pub const SET: u8 = 0x31;

/// DER that is not what was expected.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DerError(pub String);

impl fmt::Display for DerError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "malformed DER: {}", self.0)
    }
}

impl std::error::Error for DerError {}

/// One tag-length-value, its contents borrowed.
#[derive(Debug, Clone, Copy)]
pub struct Tlv<'a> {
    pub tag: u8,
    pub value: &'a [u8],
}

/// Reads TLVs one after another from a buffer.
#[derive(Debug, Clone)]
pub struct Reader<'a> {
    data: &'a [u8],
}

impl<'a> Reader<'a> {
    pub fn new(data: &'a [u8]) -> Self {
        Self { data }
    }

    pub fn is_empty(&self) -> bool {
        self.data.is_empty()
    }

    /// The next TLV (single-byte tags only, which is all X.509 uses).
    pub fn read(&mut self) -> Result<Tlv<'a>, DerError> {
        let short = || DerError("truncated".into());
        let (&tag, rest) = self.data.split_first().ok_or_else(short)?;
        let (&first, rest) = rest.split_first().ok_or_else(short)?;
        let (len, rest) = if first < 0x80 {
            (usize::from(first), rest)
        } else {
            let count = usize::from(first & 0x7f);
            if count == 0 || count > 4 || rest.len() < count {
                return Err(DerError("bad length".into()));
            }
            let len = rest[..count]
                .iter()
                .fold(0usize, |acc, b| (acc << 8) | usize::from(*b));
            (len, &rest[count..])
        };
        if rest.len() < len {
            return Err(short());
        }
        let (value, rest) = rest.split_at(len);
        self.data = rest;
        Ok(Tlv { tag, value })
    }

    /// The next TLV, which must have tag `tag`.
    pub fn expect(&mut self, tag: u8) -> Result<Tlv<'a>, DerError> {
        let tlv = self.read()?;
        if tlv.tag == tag {
            Ok(tlv)
        } else {
            Err(DerError(format!(
                "expected tag {tag:#04x}, found {:#04x}",
                tlv.tag
            )))
        }
    }
}

impl<'a> Tlv<'a> {
    /// A reader over this TLV's contents (for constructed types).
    pub fn reader(&self) -> Reader<'a> {
        Reader::new(self.value)
    }
}

/// An unsigned INTEGER's magnitude, without DER's sign-padding zeros.
pub fn unsigned(integer: &[u8]) -> &[u8] {
    let zeros = integer
        .iter()
        .take(integer.len().saturating_sub(1))
        .take_while(|b| **b == 0)
        .count();
    &integer[zeros..]
}

/// The OID of commonName (2.5.4.3), as DER contents.
const COMMON_NAME: &[u8] = &[0x55, 0x04, 0x03];

/// The first commonName of a DER `Name`, if any (as text; the string types
/// X.509 uses for it are all ASCII-compatible).
pub fn common_name(name_der: &[u8]) -> Result<Option<String>, DerError> {
    let mut outer = Reader::new(name_der);
    let mut rdns = outer.expect(SEQUENCE)?.reader();
    while !rdns.is_empty() {
        let mut set = rdns.expect(SET)?.reader();
        while !set.is_empty() {
            let mut attribute = set.expect(SEQUENCE)?.reader();
            if attribute.expect(OID)?.value == COMMON_NAME {
                let value = attribute.read()?;
                return Ok(Some(String::from_utf8_lossy(value.value).into_owned()));
            }
        }
    }
    Ok(None)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn long_lengths_and_truncation() {
        let mut data = vec![0x04, 0x81, 0x80];
        data.extend([7u8; 0x80]);
        let tlv = Reader::new(&data).read().unwrap();
        assert_eq!((tlv.tag, tlv.value.len()), (0x04, 0x80));
        assert!(Reader::new(&data[..50]).read().is_err());
        assert!(Reader::new(&[0x30]).read().is_err());
        assert!(Reader::new(&[0x30, 0x80]).read().is_err());
    }

    #[test]
    fn unsigned_strips_sign_padding_only() {
        assert_eq!(unsigned(&[0, 0x80, 1]), &[0x80, 1]);
        assert_eq!(unsigned(&[0]), &[0]);
        assert_eq!(unsigned(&[0x7f]), &[0x7f]);
    }

    #[test]
    fn common_name_is_found_among_other_attributes() {
        // SEQUENCE { SET { SEQ { O = "x" } }, SET { SEQ { CN = "ab" } } }
        let name = [
            0x30, 0x1a, 0x31, 0x0a, 0x30, 0x08, 0x06, 0x03, 0x55, 0x04, 0x0a, 0x0c, 0x01, b'x',
            0x31, 0x0c, 0x30, 0x0a, 0x06, 0x03, 0x55, 0x04, 0x03, 0x0c, 0x03, b'a', b'b', b'c',
        ];
        assert_eq!(common_name(&name).unwrap().as_deref(), Some("abc"));
        assert_eq!(common_name(&[0x30, 0x00]).unwrap(), None);
    }
}
