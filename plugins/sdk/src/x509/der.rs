//! The sliver of DER that certificates need: a zero-copy [`Reader`] and an
//! appending [`Writer`]. Hand-written rather than generic so that a plugin
//! stays small (every generic ASN.1 type a crate instantiates is code in the
//! component) and the issue path allocates only the output.
//!
//! Public so that a plugin that reads other DER (a public key for a JWK, an
//! ECDSA signature, a name) uses the reader the SDK already links in,
//! rather than carrying a copy. Only what X.509 uses is supported:
//! low tag numbers and definite lengths.
//!
//! ```
//! use certwasm_plugin_sdk::x509::der::{self, Reader};
//! // SEQUENCE { INTEGER 0x00ff, INTEGER 1 }: an ECDSA signature's shape.
//! let signature = [0x30, 0x07, 0x02, 0x02, 0x00, 0xff, 0x02, 0x01, 0x01];
//! let mut fields = Reader::new(&signature).expect(der::SEQUENCE)?.reader();
//! let r = der::unsigned(fields.expect(der::INTEGER)?.value);
//! let s = der::unsigned(fields.expect(der::INTEGER)?.value);
//! assert_eq!((r, s), (&[0xff][..], &[1][..]));
//! assert!(fields.is_empty());
//! # Ok::<(), certwasm_plugin_sdk::x509::X509Error>(())
//! ```

use super::X509Error;

/// Tag of a BOOLEAN.
pub const BOOLEAN: u8 = 0x01;
/// Tag of an INTEGER.
pub const INTEGER: u8 = 0x02;
/// Tag of a BIT STRING.
pub const BIT_STRING: u8 = 0x03;
/// Tag of an OCTET STRING.
pub const OCTET_STRING: u8 = 0x04;
/// Tag of a NULL.
pub const NULL: u8 = 0x05;
/// Tag of an OBJECT IDENTIFIER.
pub const OID: u8 = 0x06;
/// Tag of a UTF8String.
pub const UTF8_STRING: u8 = 0x0c;
/// Tag of a PrintableString.
pub const PRINTABLE_STRING: u8 = 0x13;
/// Tag of a UTCTime.
pub const UTC_TIME: u8 = 0x17;
/// Tag of a GeneralizedTime.
pub const GENERALIZED_TIME: u8 = 0x18;
/// Tag of a SEQUENCE (or SEQUENCE OF), constructed.
pub const SEQUENCE: u8 = 0x30;
/// Tag of a SET (or SET OF), constructed.
pub const SET: u8 = 0x31;

/// `[n]` constructed, context-specific (EXPLICIT tags, and IMPLICIT ones on
/// constructed types).
pub const fn context(n: u8) -> u8 {
    0xa0 | n
}

/// `[n]` primitive, context-specific (IMPLICIT tags on primitive types).
pub const fn context_primitive(n: u8) -> u8 {
    0x80 | n
}

/// One element: its tag, its contents and its whole encoding, borrowed
/// from the input.
#[derive(Debug, Clone, Copy)]
pub struct Tlv<'a> {
    /// The identifier octet, e.g. [`SEQUENCE`].
    pub tag: u8,
    /// The contents octets.
    pub value: &'a [u8],
    /// The whole element: identifier, length and contents (to hash or copy
    /// it as it was).
    pub raw: &'a [u8],
}

impl<'a> Tlv<'a> {
    /// A reader over the contents of a constructed element.
    pub fn reader(&self) -> Reader<'a> {
        Reader::new(self.value)
    }
}

/// Reads consecutive elements from a byte string. Errors are
/// [`X509Error::Malformed`], prefixed with what is being read.
#[derive(Debug, Clone)]
pub struct Reader<'a> {
    data: &'a [u8],
    what: &'static str,
}

impl<'a> Reader<'a> {
    /// A reader over `data`, whose errors say `DER`.
    pub fn new(data: &'a [u8]) -> Self {
        Self { data, what: "DER" }
    }

    /// Names what is being read, for error messages.
    pub fn named(data: &'a [u8], what: &'static str) -> Self {
        Self { data, what }
    }

    /// Whether every element has been read.
    pub fn is_empty(&self) -> bool {
        self.data.is_empty()
    }

    /// What is left to read.
    pub fn remaining(&self) -> &'a [u8] {
        self.data
    }

    fn malformed(&self, why: &str) -> X509Error {
        X509Error::Malformed(format!("{}: {why}", self.what))
    }

    /// The tag of the next element, without reading it.
    pub fn peek_tag(&self) -> Option<u8> {
        self.data.first().copied()
    }

    /// The next element, whatever its tag. Only low tag numbers (< 31) and
    /// definite lengths are accepted, which is all X.509 uses.
    pub fn read(&mut self) -> Result<Tlv<'a>, X509Error> {
        let data = self.data;
        let (&tag, rest) = data
            .split_first()
            .ok_or_else(|| self.malformed("truncated"))?;
        if tag & 0x1f == 0x1f {
            return Err(self.malformed("high tag numbers are not supported"));
        }
        let (&first, mut rest) = rest
            .split_first()
            .ok_or_else(|| self.malformed("truncated"))?;
        let len = if first < 0x80 {
            usize::from(first)
        } else {
            let count = usize::from(first & 0x7f);
            if count == 0 || count > 4 || rest.len() < count {
                return Err(self.malformed("bad length"));
            }
            let (bytes, after) = rest.split_at(count);
            rest = after;
            bytes
                .iter()
                .fold(0usize, |acc, b| (acc << 8) | usize::from(*b))
        };
        if rest.len() < len {
            return Err(self.malformed("truncated"));
        }
        let header = data.len() - rest.len();
        let (value, after) = rest.split_at(len);
        self.data = after;
        Ok(Tlv {
            tag,
            value,
            raw: &data[..header + len],
        })
    }

    /// The next element, which must have tag `tag`.
    pub fn expect(&mut self, tag: u8) -> Result<Tlv<'a>, X509Error> {
        let element = self.read()?;
        if element.tag != tag {
            return Err(self.malformed(&format!(
                "expected tag 0x{tag:02x}, found 0x{:02x}",
                element.tag
            )));
        }
        Ok(element)
    }

    /// The next element if it has tag `tag`.
    pub fn optional(&mut self, tag: u8) -> Result<Option<Tlv<'a>>, X509Error> {
        if self.peek_tag() == Some(tag) {
            self.read().map(Some)
        } else {
            Ok(None)
        }
    }
}

/// The contents of a BIT STRING without its unused-bits octet, for the
/// byte-aligned bit strings keys and signatures are.
pub fn bit_string_bytes<'a>(element: &Tlv<'a>) -> Result<&'a [u8], X509Error> {
    match element.value.split_first() {
        Some((0, bytes)) => Ok(bytes),
        _ => Err(X509Error::Malformed("BIT STRING: not byte-aligned".into())),
    }
}

/// An unsigned INTEGER's magnitude: its contents without the zero octets
/// DER puts in front of a value whose top bit is set (for the fixed-width
/// forms JOSE and raw keys want). Zero stays one octet.
pub fn unsigned(integer: &[u8]) -> &[u8] {
    let zeros = integer
        .iter()
        .take(integer.len().saturating_sub(1))
        .take_while(|b| **b == 0)
        .count();
    &integer[zeros..]
}

/// An X.509 extension as read from a certificate or a request.
#[derive(Debug, Clone, Copy)]
pub struct Extension<'a> {
    /// The OID's contents (without tag and length).
    pub oid: &'a [u8],
    /// Whether a reader that does not understand it must refuse the whole.
    pub critical: bool,
    /// The contents of `extnValue`: the extension's own DER.
    pub value: &'a [u8],
}

/// Reads a `SEQUENCE OF Extension`'s contents.
pub fn extensions(data: &[u8]) -> impl Iterator<Item = Result<Extension<'_>, X509Error>> {
    let mut reader = Reader::named(data, "extensions");
    std::iter::from_fn(move || {
        if reader.is_empty() {
            return None;
        }
        Some((|| {
            let mut ext = reader.expect(SEQUENCE)?.reader();
            let oid = ext.expect(OID)?.value;
            let critical = match ext.optional(BOOLEAN)? {
                Some(flag) => flag.value.first().is_some_and(|b| *b != 0),
                None => false,
            };
            let value = ext.expect(OCTET_STRING)?.value;
            Ok(Extension {
                oid,
                critical,
                value,
            })
        })())
    })
}

/// Appends DER to a buffer. Lengths are patched in after the contents are
/// written, so nested structures cost one pass and no intermediate buffers.
#[derive(Debug, Default)]
pub struct Writer {
    /// What has been written so far.
    pub buf: Vec<u8>,
}

impl Writer {
    /// A writer whose buffer starts with room for `capacity` bytes.
    pub fn with_capacity(capacity: usize) -> Self {
        Self {
            buf: Vec::with_capacity(capacity),
        }
    }

    /// Writes an element whose contents `contents` writes.
    pub fn nested(&mut self, tag: u8, contents: impl FnOnce(&mut Self)) {
        self.buf.push(tag);
        let len_at = self.buf.len();
        self.buf.push(0);
        contents(self);
        let len = self.buf.len() - len_at - 1;
        if len < 0x80 {
            // Fits the placeholder: short form.
            self.buf[len_at] = len as u8;
        } else {
            let bytes = len.to_be_bytes();
            let skip = bytes.iter().take_while(|b| **b == 0).count();
            let long = &bytes[skip..];
            self.buf[len_at] = 0x80 | long.len() as u8;
            self.buf
                .splice(len_at + 1..len_at + 1, long.iter().copied());
        }
    }

    /// Writes an element with the given contents.
    pub fn element(&mut self, tag: u8, contents: &[u8]) {
        self.buf.push(tag);
        self.length(contents.len());
        self.buf.extend_from_slice(contents);
    }

    fn length(&mut self, len: usize) {
        if len < 0x80 {
            self.buf.push(len as u8);
        } else {
            let bytes = len.to_be_bytes();
            let skip = bytes.iter().take_while(|b| **b == 0).count();
            self.buf.push(0x80 | (bytes.len() - skip) as u8);
            self.buf.extend_from_slice(&bytes[skip..]);
        }
    }

    /// Copies an already encoded element.
    pub fn raw(&mut self, der: &[u8]) {
        self.buf.extend_from_slice(der);
    }

    /// A non-negative INTEGER from big-endian magnitude bytes.
    pub fn unsigned(&mut self, magnitude: &[u8]) {
        let skip = magnitude.iter().take_while(|b| **b == 0).count();
        let digits = &magnitude[skip..];
        self.buf.push(INTEGER);
        match digits.first() {
            None => self.buf.extend_from_slice(&[1, 0]),
            Some(top) if top & 0x80 != 0 => {
                self.length(digits.len() + 1);
                self.buf.push(0);
                self.buf.extend_from_slice(digits);
            }
            Some(_) => {
                self.length(digits.len());
                self.buf.extend_from_slice(digits);
            }
        }
    }

    /// A BIT STRING of whole bytes.
    pub fn bit_string(&mut self, bytes: &[u8]) {
        self.buf.push(BIT_STRING);
        self.length(bytes.len() + 1);
        self.buf.push(0);
        self.buf.extend_from_slice(bytes);
    }

    /// One extension: `SEQUENCE { extnID, critical DEFAULT FALSE, extnValue }`
    /// whose value `value` writes.
    pub fn extension(&mut self, oid: &[u8], critical: bool, value: impl FnOnce(&mut Self)) {
        self.nested(SEQUENCE, |w| {
            w.element(OID, oid);
            if critical {
                w.raw(&[BOOLEAN, 1, 0xff]);
            }
            w.nested(OCTET_STRING, value);
        });
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn lengths_use_the_shortest_form() {
        for (len, header) in [
            (0usize, vec![0x04, 0x00]),
            (127, vec![0x04, 0x7f]),
            (128, vec![0x04, 0x81, 0x80]),
            (300, vec![0x04, 0x82, 0x01, 0x2c]),
        ] {
            let contents = vec![0xab; len];
            let mut nested = Writer::default();
            nested.nested(OCTET_STRING, |w| w.raw(&contents));
            let mut flat = Writer::default();
            flat.element(OCTET_STRING, &contents);
            assert_eq!(&nested.buf[..header.len()], header.as_slice(), "{len}");
            assert_eq!(nested.buf, flat.buf, "{len}");
            let mut reader = Reader::new(&nested.buf);
            let element = reader.expect(OCTET_STRING).unwrap();
            assert_eq!(element.value, contents.as_slice());
            assert_eq!(element.raw, nested.buf.as_slice());
            assert!(reader.is_empty());
        }
    }

    #[test]
    fn integers_are_minimal_and_positive() {
        let encode = |bytes: &[u8]| {
            let mut w = Writer::default();
            w.unsigned(bytes);
            w.buf
        };
        assert_eq!(encode(&[0, 0, 0x7f]), [0x02, 0x01, 0x7f]);
        assert_eq!(encode(&[0x80, 1]), [0x02, 0x03, 0x00, 0x80, 0x01]);
        assert_eq!(encode(&[0, 0]), [0x02, 0x01, 0x00]);
    }

    #[test]
    fn unsigned_strips_sign_padding_only() {
        assert_eq!(unsigned(&[0, 0x80, 1]), &[0x80, 1]);
        assert_eq!(unsigned(&[0, 0, 5]), &[5]);
        assert_eq!(unsigned(&[0]), &[0]);
        assert_eq!(unsigned(&[0x7f]), &[0x7f]);
        assert_eq!(unsigned(&[]), &[] as &[u8]);
    }

    #[test]
    fn truncated_and_indefinite_input_is_refused() {
        for bad in [
            &[0x30, 0x05, 0x01][..],
            &[0x30, 0x80, 0x00, 0x00],
            &[0x30],
            &[0x1f, 0x01, 0x00],
            &[0x30, 0x85, 1, 1, 1, 1, 1],
        ] {
            assert!(Reader::new(bad).read().is_err(), "{bad:02x?}");
        }
    }
}
