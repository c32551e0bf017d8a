//! Java KeyStore (JKS) encoding for `keystore.jks` and `truststore.jks`.
//!
//! Written by hand rather than with a crate: the crates.io JKS encoders are
//! small, rarely maintained and would bring a second crypto stack, while the
//! format itself is a few dozen lines: a big-endian header (magic
//! `FEEDFEED`, version 2, entry count), the entries, and a SHA-1 over the
//! password, the fixed salt "Mighty Aphrodite" and everything before it.
//! Private keys are protected with Sun's proprietary JKS key protector
//! (OID 1.3.6.1.4.1.42.2.17.1.1): a SHA-1 keystream XORed over the PKCS#8
//! key, framed by a random salt and a SHA-1 check value. Java (`keytool`)
//! reads the result; the unit tests check that with `keytool -list`.

use der::Encode;
use der::asn1::{Null, ObjectIdentifier, OctetStringRef};
use rand_core::{OsRng, RngCore};
use sha1::{Digest, Sha1};
use zeroize::Zeroizing;

use super::KeystoreError;

const MAGIC: u32 = 0xFEED_FEED;
const VERSION: u32 = 2;
const TAG_PRIVATE_KEY: u32 = 1;
const TAG_TRUSTED_CERT: u32 = 2;
/// The salt Sun's JKS implementation mixes into the integrity digest.
const INTEGRITY_SALT: &[u8] = b"Mighty Aphrodite";
/// Sun's JKS key protector algorithm.
const KEY_PROTECTOR: ObjectIdentifier = ObjectIdentifier::new_unwrap("1.3.6.1.4.1.42.2.17.1.1");
const CERT_TYPE: &str = "X.509";

/// The alias cert-manager gives the CA certificate in both JKS files.
pub const CA_ALIAS: &str = "ca";

/// The entries and creation time of one JKS file.
#[derive(Debug, Clone, Copy)]
pub struct JksInput<'a> {
    /// The key entry's alias (`spec.keystores.jks.alias`, default
    /// `certificate`); Java lowercases aliases, so it is stored lowercased.
    pub alias: &'a str,
    /// PKCS#8 DER of the private key; `None` writes a trust store.
    pub private_key_pkcs8: Option<&'a [u8]>,
    /// The certificate chain, leaf first, DER.
    pub chain: &'a [Vec<u8>],
    /// The CA certificate, DER, stored as a trusted entry `ca` when known.
    pub ca: Option<&'a [u8]>,
    /// Entry creation time, milliseconds since the Unix epoch.
    pub created_millis: u64,
}

/// Encodes a JKS keystore protected by `password`. The key entry (when a
/// key is given) uses the same password, as cert-manager does.
pub fn encode(input: &JksInput<'_>, password: &[u8]) -> Result<Vec<u8>, KeystoreError> {
    let password = password_bytes(password)?;
    let mut out = Vec::new();
    let count = u32::from(input.private_key_pkcs8.is_some()) + u32::from(input.ca.is_some());
    out.extend_from_slice(&MAGIC.to_be_bytes());
    out.extend_from_slice(&VERSION.to_be_bytes());
    out.extend_from_slice(&count.to_be_bytes());
    if let Some(key) = input.private_key_pkcs8 {
        if input.chain.is_empty() {
            return Err(KeystoreError::Input(
                "a JKS key entry needs at least one certificate".to_owned(),
            ));
        }
        out.extend_from_slice(&TAG_PRIVATE_KEY.to_be_bytes());
        write_utf(&mut out, &input.alias.to_lowercase())?;
        out.extend_from_slice(&input.created_millis.to_be_bytes());
        let protected = protect_key(key, &password)?;
        write_bytes(&mut out, &protected)?;
        out.extend_from_slice(&len_u32(input.chain.len())?.to_be_bytes());
        for cert in input.chain {
            write_utf(&mut out, CERT_TYPE)?;
            write_bytes(&mut out, cert)?;
        }
    }
    if let Some(ca) = input.ca {
        out.extend_from_slice(&TAG_TRUSTED_CERT.to_be_bytes());
        write_utf(&mut out, CA_ALIAS)?;
        out.extend_from_slice(&input.created_millis.to_be_bytes());
        write_utf(&mut out, CERT_TYPE)?;
        write_bytes(&mut out, ca)?;
    }
    let mut digest = Sha1::new();
    digest.update(password.as_slice());
    digest.update(INTEGRITY_SALT);
    digest.update(&out);
    out.extend_from_slice(&digest.finalize());
    Ok(out)
}

/// Java turns the `char[]` password into bytes as UTF-16 big-endian code
/// units, both for the integrity digest and the key protector.
fn password_bytes(password: &[u8]) -> Result<Zeroizing<Vec<u8>>, KeystoreError> {
    let text = std::str::from_utf8(password)
        .map_err(|_| KeystoreError::Input("the JKS password is not valid UTF-8".to_owned()))?;
    Ok(Zeroizing::new(
        text.encode_utf16().flat_map(u16::to_be_bytes).collect(),
    ))
}

/// Sun's key protector: salt ‖ (key XOR keystream) ‖ SHA-1(password ‖ key),
/// where the keystream is SHA-1(password ‖ previous block), seeded with
/// the salt; the whole is wrapped in an `EncryptedPrivateKeyInfo`.
fn protect_key(key: &[u8], password: &[u8]) -> Result<Vec<u8>, KeystoreError> {
    let mut salt = [0u8; 20];
    OsRng.fill_bytes(&mut salt);
    protect_key_with_salt(key, password, salt)
}

fn protect_key_with_salt(
    key: &[u8],
    password: &[u8],
    salt: [u8; 20],
) -> Result<Vec<u8>, KeystoreError> {
    let mut protected = Vec::with_capacity(20 + key.len() + 20);
    protected.extend_from_slice(&salt);
    let mut block: [u8; 20] = salt;
    for chunk in key.chunks(20) {
        let mut digest = Sha1::new();
        digest.update(password);
        digest.update(block);
        block = digest.finalize().into();
        protected.extend(chunk.iter().zip(block.iter()).map(|(k, s)| k ^ s));
    }
    let mut check = Sha1::new();
    check.update(password);
    check.update(key);
    protected.extend_from_slice(&check.finalize());
    // EncryptedPrivateKeyInfo (RFC 5208): SEQUENCE { SEQUENCE { OID, NULL },
    // OCTET STRING }.
    let mut algorithm = KEY_PROTECTOR.to_der().map_err(KeystoreError::der)?;
    algorithm.extend(Null.to_der().map_err(KeystoreError::der)?);
    let mut info = sequence(&algorithm)?;
    info.extend(
        OctetStringRef::new(&protected)
            .and_then(|o| o.to_der())
            .map_err(KeystoreError::der)?,
    );
    sequence(&info)
}

/// Wraps `content` in a DER SEQUENCE header.
fn sequence(content: &[u8]) -> Result<Vec<u8>, KeystoreError> {
    let len = der::Length::try_from(content.len()).map_err(KeystoreError::der)?;
    let mut out = der::Header::new(der::Tag::Sequence, len)
        .map_err(KeystoreError::der)?
        .to_der()
        .map_err(KeystoreError::der)?;
    out.extend_from_slice(content);
    Ok(out)
}

fn len_u32(len: usize) -> Result<u32, KeystoreError> {
    u32::try_from(len).map_err(|_| KeystoreError::Input("JKS entry too large".to_owned()))
}

fn write_bytes(out: &mut Vec<u8>, bytes: &[u8]) -> Result<(), KeystoreError> {
    out.extend_from_slice(&len_u32(bytes.len())?.to_be_bytes());
    out.extend_from_slice(bytes);
    Ok(())
}

/// Java's `DataOutput.writeUTF` (modified UTF-8 with a 16-bit length): NUL
/// and supplementary characters are encoded differently from UTF-8.
fn write_utf(out: &mut Vec<u8>, text: &str) -> Result<(), KeystoreError> {
    let mut encoded = Vec::with_capacity(text.len());
    for unit in text.encode_utf16() {
        match unit {
            0x0001..=0x007F => encoded.push(unit as u8),
            0x0000 | 0x0080..=0x07FF => {
                encoded.push(0xC0 | (unit >> 6) as u8);
                encoded.push(0x80 | (unit & 0x3F) as u8);
            }
            _ => {
                encoded.push(0xE0 | (unit >> 12) as u8);
                encoded.push(0x80 | ((unit >> 6) & 0x3F) as u8);
                encoded.push(0x80 | (unit & 0x3F) as u8);
            }
        }
    }
    let len = u16::try_from(encoded.len())
        .map_err(|_| KeystoreError::Input(format!("JKS alias {text:?} is too long")))?;
    out.extend_from_slice(&len.to_be_bytes());
    out.extend_from_slice(&encoded);
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn modified_utf8_matches_java() {
        let mut out = Vec::new();
        write_utf(&mut out, "a\u{0}é€😀").expect("utf");
        assert_eq!(
            out,
            [
                0, 14, b'a', 0xC0, 0x80, 0xC3, 0xA9, 0xE2, 0x82, 0xAC, 0xED, 0xA0, 0xBD, 0xED,
                0xB8, 0x80
            ]
        );
    }

    #[test]
    fn key_protector_round_trips_and_checks() {
        let password = password_bytes(b"changeit").expect("password");
        let key: Vec<u8> = (0u8..77).collect();
        let der = protect_key_with_salt(&key, &password, [7; 20]).expect("protect");
        // salt, then the XORed key, then the check value, at the end of
        // the DER (the OCTET STRING is the last element).
        let protected = &der[der.len() - (20 + key.len() + 20)..];
        assert_eq!(&protected[..20], &[7; 20]);
        let mut block = [7u8; 20];
        let mut plain = Vec::new();
        for chunk in protected[20..20 + key.len()].chunks(20) {
            let mut d = Sha1::new();
            d.update(password.as_slice());
            d.update(block);
            block = d.finalize().into();
            plain.extend(chunk.iter().zip(block.iter()).map(|(c, s)| c ^ s));
        }
        assert_eq!(plain, key);
        let mut check = Sha1::new();
        check.update(password.as_slice());
        check.update(&key);
        assert_eq!(&protected[20 + key.len()..], &check.finalize()[..]);
    }

    #[test]
    fn integrity_digest_covers_the_body() {
        let ca = vec![0x30, 0x00];
        let input = JksInput {
            alias: "certificate",
            private_key_pkcs8: None,
            chain: &[],
            ca: Some(&ca),
            created_millis: 1,
        };
        let out = encode(&input, b"pw").expect("encode");
        assert_eq!(
            &out[..12],
            &[0xFE, 0xED, 0xFE, 0xED, 0, 0, 0, 2, 0, 0, 0, 1]
        );
        let (body, tag) = out.split_at(out.len() - 20);
        let mut d = Sha1::new();
        d.update([0, b'p', 0, b'w']);
        d.update(INTEGRITY_SALT);
        d.update(body);
        assert_eq!(tag, &d.finalize()[..]);
    }
}
