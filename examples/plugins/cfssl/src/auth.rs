//! CFSSL's "standard" authentication provider (`auth/auth.go`), client side:
//! a profile with an `auth_key` only signs through `/api/v1/cfssl/authsign`,
//! whose body is `{"token": base64(HMAC-SHA-256(key, request)), "request":
//! base64(request)}` — Go's JSON encoding of the `[]byte` fields of
//! `auth.AuthenticatedRequest`. The key is the hex string of CFSSL's
//! `auth_keys.<name>.key`; CFSSL's config passes no additional data.

use base64::Engine as _;
use hmac::{Hmac, Mac};
use sha2::Sha256;

/// Why an HMAC key cannot be used.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum AuthKeyError {
    #[error("the key is empty")]
    Empty,
    #[error("the key is not hex (CFSSL's auth_keys hold hex strings): {0}")]
    NotHex(String),
}

/// An HMAC key, decoded from the hex text CFSSL's config holds (surrounding
/// white space, such as a file's final newline, is ignored).
#[derive(Clone, PartialEq, Eq)]
pub struct AuthKey(Vec<u8>);

impl std::fmt::Debug for AuthKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("AuthKey(..)")
    }
}

impl AuthKey {
    /// Decodes the hex text of a key.
    pub fn from_hex(text: &[u8]) -> Result<Self, AuthKeyError> {
        let text = String::from_utf8_lossy(text);
        let text = text.trim();
        if text.is_empty() {
            return Err(AuthKeyError::Empty);
        }
        if !text.len().is_multiple_of(2) {
            return Err(AuthKeyError::NotHex("odd number of digits".to_owned()));
        }
        let digit = |c: u8| match c {
            b'0'..=b'9' => Ok(c - b'0'),
            b'a'..=b'f' => Ok(c - b'a' + 10),
            b'A'..=b'F' => Ok(c - b'A' + 10),
            other => Err(AuthKeyError::NotHex(format!(
                "invalid character {:?}",
                char::from(other)
            ))),
        };
        text.as_bytes()
            .chunks_exact(2)
            .map(|pair| Ok((digit(pair[0])? << 4) | digit(pair[1])?))
            .collect::<Result<Vec<u8>, _>>()
            .map(Self)
    }

    /// HMAC-SHA-256 of `request` under this key: CFSSL's `Standard.Token`.
    pub fn token(&self, request: &[u8]) -> [u8; 32] {
        // HMAC takes keys of any length; new_from_slice cannot fail for it.
        let mut mac = match Hmac::<Sha256>::new_from_slice(&self.0) {
            Ok(mac) => mac,
            Err(_) => unreachable!("HMAC accepts keys of every length"),
        };
        mac.update(request);
        mac.finalize().into_bytes().into()
    }

    /// The body of an `authsign` request wrapping `request` (the JSON of a
    /// plain sign request, exactly the bytes the token covers).
    pub fn authenticated_body(&self, request: &[u8]) -> Vec<u8> {
        let b64 = base64::engine::general_purpose::STANDARD;
        serde_json::json!({
            "token": b64.encode(self.token(request)),
            "request": b64.encode(request),
        })
        .to_string()
        .into_bytes()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn hex_keys_decode_and_bad_ones_are_refused() {
        assert_eq!(
            AuthKey::from_hex(b"00ff10Ab\n").unwrap(),
            AuthKey(vec![0x00, 0xff, 0x10, 0xab])
        );
        assert_eq!(AuthKey::from_hex(b"  \n"), Err(AuthKeyError::Empty));
        assert!(matches!(
            AuthKey::from_hex(b"abc"),
            Err(AuthKeyError::NotHex(_))
        ));
        assert!(matches!(
            AuthKey::from_hex(b"zz"),
            Err(AuthKeyError::NotHex(_))
        ));
    }

    /// RFC 4231 test case 2: key "Jefe", data "what do ya want for nothing?".
    #[test]
    fn the_token_is_hmac_sha256() {
        let key = AuthKey::from_hex(b"4a656665").unwrap();
        let token = key.token(b"what do ya want for nothing?");
        let hex: String = token.iter().map(|b| format!("{b:02x}")).collect();
        assert_eq!(
            hex,
            "5bdcc146bf60754e6a042426089575c75a003f089d2739839dec58b964ec3843"
        );
    }

    #[test]
    fn the_authenticated_body_carries_the_request_and_its_token() {
        let key = AuthKey::from_hex(b"0123456789abcdef").unwrap();
        let request = br#"{"certificate_request":"x","profile":"p"}"#;
        let body: serde_json::Value =
            serde_json::from_slice(&key.authenticated_body(request)).unwrap();
        let b64 = base64::engine::general_purpose::STANDARD;
        let decode = |field: &str| b64.decode(body[field].as_str().unwrap()).unwrap();
        assert_eq!(decode("request"), request.to_vec());
        assert_eq!(decode("token"), key.token(request).to_vec());
        let other = AuthKey::from_hex(b"0123456789abcdee").unwrap();
        assert_ne!(other.token(request), key.token(request));
    }
}
