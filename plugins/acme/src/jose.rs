//! JOSE as ACME uses it (RFC 8555 6.2): the account key as a JWK, its
//! RFC 7638 thumbprint for key authorizations, flattened JWS requests
//! signed through the host, and the external account binding MAC.
//!
//! The private key never enters the plugin: signatures come from an
//! [`x509::Signer`](certwasm_plugin_sdk::x509::Signer) (the host's
//! `signer.sign` in the component). The host returns ECDSA signatures as
//! DER `Ecdsa-Sig-Value`, which X.509 wants; JWS wants the fixed-width
//! `r || s` (RFC 7518 3.4), so they are converted here.

use std::fmt;

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use certwasm_plugin_sdk::types::SignatureAlgorithm;
use certwasm_plugin_sdk::x509::der::{self, BIT_STRING, INTEGER, OID, Reader, SEQUENCE};
use certwasm_plugin_sdk::x509::{Signer, X509Error};
use hmac::{Hmac, Mac};
use sha2::{Digest, Sha256, Sha384, Sha512};

/// Why a key cannot sign ACME requests, or a signature is unusable.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum JoseError {
    /// A key type ACME servers do not take (or this client does not offer).
    UnsupportedKey(String),
    /// The public key or a signature is not the DER expected.
    Der(X509Error),
    /// The signer failed (the host's message).
    Sign(String),
    /// An external account binding algorithm other than HS256/384/512.
    UnsupportedMac(String),
}

impl fmt::Display for JoseError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::UnsupportedKey(why) => write!(f, "unsupported ACME account key: {why}"),
            Self::Der(e) => e.fmt(f),
            Self::Sign(why) => write!(f, "failed to sign the ACME request: {why}"),
            Self::UnsupportedMac(alg) => write!(
                f,
                "unsupported external account binding key algorithm {alg:?} (HS256, HS384 or HS512)"
            ),
        }
    }
}

impl std::error::Error for JoseError {}

impl From<X509Error> for JoseError {
    fn from(e: X509Error) -> Self {
        Self::Der(e)
    }
}

/// base64url without padding, JOSE's encoding for everything.
pub fn b64(data: &[u8]) -> String {
    URL_SAFE_NO_PAD.encode(data)
}

/// Decodes base64url, with or without padding.
pub fn b64_decode(text: &str) -> Result<Vec<u8>, String> {
    URL_SAFE_NO_PAD
        .decode(text.trim_end_matches('='))
        .map_err(|e| e.to_string())
}

const EC_PUBLIC_KEY: &[u8] = &[0x2a, 0x86, 0x48, 0xce, 0x3d, 0x02, 0x01];
const P256: &[u8] = &[0x2a, 0x86, 0x48, 0xce, 0x3d, 0x03, 0x01, 0x07];
const P384: &[u8] = &[0x2b, 0x81, 0x04, 0x00, 0x22];
const RSA_ENCRYPTION: &[u8] = &[0x2a, 0x86, 0x48, 0x86, 0xf7, 0x0d, 0x01, 0x01, 0x01];

/// The account key's public half as JOSE sees it: the JWS algorithm, the
/// JWK (in RFC 7638's canonical form, which is also valid to send) and its
/// thumbprint.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AccountJwk {
    alg: &'static str,
    signature_algorithm: SignatureAlgorithm,
    /// Width of r and s for ECDSA; none for RSA.
    ecdsa_width: Option<usize>,
    jwk_json: String,
    thumbprint: String,
}

impl AccountJwk {
    /// Reads a DER SubjectPublicKeyInfo: ECDSA P-256 (ES256), P-384
    /// (ES384) or RSA (RS256), the keys RFC 8555 servers accept.
    pub fn from_spki(spki_der: &[u8]) -> Result<Self, JoseError> {
        let mut outer = Reader::named(spki_der, "public key");
        let mut spki = outer.expect(SEQUENCE)?.reader();
        let mut algorithm = spki.expect(SEQUENCE)?.reader();
        let oid = algorithm.expect(OID)?.value;
        let bits = der::bit_string_bytes(&spki.expect(BIT_STRING)?)?;
        match oid {
            EC_PUBLIC_KEY => {
                let curve = algorithm.expect(OID)?.value;
                let (crv, width, alg, signature_algorithm) = match curve {
                    P256 => ("P-256", 32, "ES256", SignatureAlgorithm::EcdsaP256Sha256),
                    P384 => ("P-384", 48, "ES384", SignatureAlgorithm::EcdsaP384Sha384),
                    _ => {
                        return Err(JoseError::UnsupportedKey(
                            "an ECDSA curve other than P-256 or P-384".into(),
                        ));
                    }
                };
                if bits.len() != 1 + 2 * width || bits[0] != 0x04 {
                    return Err(JoseError::UnsupportedKey(
                        "a compressed or malformed EC point".into(),
                    ));
                }
                let (x, y) = bits[1..].split_at(width);
                Ok(Self::new(
                    alg,
                    signature_algorithm,
                    Some(width),
                    ec_jwk_json(crv, x, y),
                ))
            }
            RSA_ENCRYPTION => {
                let mut outer = Reader::new(bits);
                let mut rsa = outer.expect(SEQUENCE)?.reader();
                let n = der::unsigned(rsa.expect(INTEGER)?.value);
                let e = der::unsigned(rsa.expect(INTEGER)?.value);
                Ok(Self::new(
                    "RS256",
                    SignatureAlgorithm::RsaPkcs1Sha256,
                    None,
                    rsa_jwk_json(n, e),
                ))
            }
            _ => Err(JoseError::UnsupportedKey(
                "only ECDSA P-256/P-384 and RSA account keys are supported".into(),
            )),
        }
    }

    fn new(
        alg: &'static str,
        signature_algorithm: SignatureAlgorithm,
        ecdsa_width: Option<usize>,
        jwk_json: String,
    ) -> Self {
        let thumbprint = b64(&Sha256::digest(jwk_json.as_bytes()));
        Self {
            alg,
            signature_algorithm,
            ecdsa_width,
            jwk_json,
            thumbprint,
        }
    }

    /// The JWS `alg`.
    pub fn alg(&self) -> &'static str {
        self.alg
    }

    /// The JWK, canonical JSON.
    pub fn jwk_json(&self) -> &str {
        &self.jwk_json
    }

    /// RFC 7638 thumbprint (SHA-256, base64url).
    pub fn thumbprint(&self) -> &str {
        &self.thumbprint
    }

    /// The key authorization for a challenge token (RFC 8555 8.1).
    pub fn key_authorization(&self, token: &str) -> String {
        format!("{token}.{}", self.thumbprint)
    }

    /// Signs `data` through `signer`, in JWS form.
    fn sign(&self, signer: &dyn Signer, data: &[u8]) -> Result<Vec<u8>, JoseError> {
        let signature = signer
            .sign(self.signature_algorithm, data)
            .map_err(JoseError::Sign)?;
        match self.ecdsa_width {
            Some(width) => ecdsa_der_to_fixed(&signature, width),
            None => Ok(signature),
        }
    }
}

/// The DNS-01 TXT record value for a key authorization (RFC 8555 8.4).
pub fn dns01_value(key_authorization: &str) -> String {
    b64(&Sha256::digest(key_authorization.as_bytes()))
}

/// RFC 7638 canonical JWK of an EC key: required members only, sorted.
fn ec_jwk_json(crv: &str, x: &[u8], y: &[u8]) -> String {
    format!(
        r#"{{"crv":"{crv}","kty":"EC","x":"{}","y":"{}"}}"#,
        b64(x),
        b64(y)
    )
}

/// RFC 7638 canonical JWK of an RSA key.
fn rsa_jwk_json(n: &[u8], e: &[u8]) -> String {
    format!(r#"{{"e":"{}","kty":"RSA","n":"{}"}}"#, b64(e), b64(n))
}

/// DER `Ecdsa-Sig-Value` to JWS's `r || s`, each left-padded to `width`.
pub fn ecdsa_der_to_fixed(der_signature: &[u8], width: usize) -> Result<Vec<u8>, JoseError> {
    let mut outer = Reader::new(der_signature);
    let mut sequence = outer.expect(SEQUENCE)?.reader();
    let r = der::unsigned(sequence.expect(INTEGER)?.value);
    let s = der::unsigned(sequence.expect(INTEGER)?.value);
    if !outer.is_empty() || !sequence.is_empty() || r.len() > width || s.len() > width {
        return Err(X509Error::Malformed("DER: ECDSA signature".into()).into());
    }
    let mut fixed = vec![0u8; 2 * width];
    fixed[width - r.len()..width].copy_from_slice(r);
    fixed[2 * width - s.len()..].copy_from_slice(s);
    Ok(fixed)
}

/// How the JWS names its key: the JWK itself (newAccount, revocation by
/// certificate key) or the account URL (everything else).
#[derive(Debug, Clone, Copy)]
pub enum KeyId<'a> {
    Jwk,
    Kid(&'a str),
}

fn json_string(text: &str) -> String {
    serde_json::Value::from(text).to_string()
}

/// A flattened JWS (RFC 7515 7.2.2) of `payload` for `url`, the body of an
/// ACME POST. An empty payload is POST-as-GET.
pub fn sign_jws(
    signer: &dyn Signer,
    jwk: &AccountJwk,
    key_id: KeyId<'_>,
    nonce: &str,
    url: &str,
    payload: &[u8],
) -> Result<Vec<u8>, JoseError> {
    let key = match key_id {
        KeyId::Jwk => format!(r#""jwk":{}"#, jwk.jwk_json),
        KeyId::Kid(kid) => format!(r#""kid":{}"#, json_string(kid)),
    };
    let protected = format!(
        r#"{{"alg":"{}",{key},"nonce":{},"url":{}}}"#,
        jwk.alg,
        json_string(nonce),
        json_string(url)
    );
    let protected = b64(protected.as_bytes());
    let payload = b64(payload);
    let signature = jwk.sign(signer, format!("{protected}.{payload}").as_bytes())?;
    Ok(format!(
        r#"{{"protected":"{protected}","payload":"{payload}","signature":"{}"}}"#,
        b64(&signature)
    )
    .into_bytes())
}

/// The `externalAccountBinding` member of a newAccount payload (RFC 8555
/// 7.3.4): the account JWK, MACed with the CA-issued key `mac_key` under
/// `key_id`. `algorithm` is cert-manager's `keyAlgorithm` (HS256 default).
pub fn external_account_binding(
    jwk: &AccountJwk,
    key_id: &str,
    mac_key: &[u8],
    algorithm: &str,
    url: &str,
) -> Result<serde_json::Value, JoseError> {
    let algorithm = if algorithm.is_empty() {
        "HS256"
    } else {
        algorithm
    };
    let protected = format!(
        r#"{{"alg":"{algorithm}","kid":{},"url":{}}}"#,
        json_string(key_id),
        json_string(url)
    );
    let protected = b64(protected.as_bytes());
    let payload = b64(jwk.jwk_json.as_bytes());
    let input = format!("{protected}.{payload}");
    let mac = match algorithm {
        "HS256" => hmac_sign::<Hmac<Sha256>>(mac_key, input.as_bytes()),
        "HS384" => hmac_sign::<Hmac<Sha384>>(mac_key, input.as_bytes()),
        "HS512" => hmac_sign::<Hmac<Sha512>>(mac_key, input.as_bytes()),
        other => return Err(JoseError::UnsupportedMac(other.to_owned())),
    };
    Ok(serde_json::json!({
        "protected": protected,
        "payload": payload,
        "signature": b64(&mac),
    }))
}

fn hmac_sign<M: Mac + hmac::digest::KeyInit>(key: &[u8], data: &[u8]) -> Vec<u8> {
    // HMAC takes keys of any length, so this cannot fail.
    let mut mac = <M as hmac::digest::KeyInit>::new_from_slice(key)
        .unwrap_or_else(|_| unreachable!("HMAC accepts any key length"));
    mac.update(data);
    mac.finalize().into_bytes().to_vec()
}

#[cfg(test)]
mod tests {
    use super::*;

    /// RFC 7638 section 3.1's example RSA key and its thumbprint.
    const RFC7638_N: &str = "0vx7agoebGcQSuuPiLJXZptN9nndrQmbXEps2aiAFbWhM78LhWx4cbbfAAtVT86zwu1RK7aPFFxuhDR1L6tSoc_BJECPebWKRXjBZCiFV4n3oknjhMstn64tZ_2W-5JsGY4Hc5n9yBXArwl93lqt7_RN5w6Cf0h4QyQ5v-65YGjQR0_FDW2QvzqY368QQMicAtaSqzs8KJZgnYb9c7d0zgdAZHzu6qMQvRL5hajrn1n91CbOpbISD08qNLyrdkt-bFTWhAI4vMQFh6WeZu0fM4lFd2NcRwr3XPksINHaQ-G_xBniIqbw0Ls1jF44-csFCur-kEgU8awapJzKnqDKgw";
    const RFC7638_THUMBPRINT: &str = "NzbLsXh8uDCcd-6MNwXF4W_7noWXFZAfHkxZsRGC9Xs";

    /// A DER TLV (test-side encoder, independent of the reader).
    fn tlv(tag: u8, value: &[u8]) -> Vec<u8> {
        let mut out = vec![tag];
        match value.len() {
            n @ 0..0x80 => out.push(n as u8),
            n @ 0x80..0x100 => out.extend([0x81, n as u8]),
            n => out.extend([0x82, (n >> 8) as u8, n as u8]),
        }
        out.extend(value);
        out
    }

    fn rsa_spki(n: &[u8], e: &[u8]) -> Vec<u8> {
        let mut n_int = vec![0];
        n_int.extend(n);
        let key = tlv(SEQUENCE, &[tlv(INTEGER, &n_int), tlv(INTEGER, e)].concat());
        let mut bits = vec![0];
        bits.extend(key);
        let algorithm = tlv(
            SEQUENCE,
            &[tlv(OID, RSA_ENCRYPTION), vec![0x05, 0x00]].concat(),
        );
        tlv(SEQUENCE, &[algorithm, tlv(BIT_STRING, &bits)].concat())
    }

    #[test]
    fn thumbprint_matches_rfc_7638_example() {
        let n = b64_decode(RFC7638_N).unwrap();
        let jwk = AccountJwk::from_spki(&rsa_spki(&n, &[1, 0, 1])).unwrap();
        assert_eq!(jwk.alg(), "RS256");
        assert_eq!(
            jwk.jwk_json(),
            format!(r#"{{"e":"AQAB","kty":"RSA","n":"{RFC7638_N}"}}"#)
        );
        assert_eq!(jwk.thumbprint(), RFC7638_THUMBPRINT);
        assert_eq!(
            jwk.key_authorization("tok"),
            format!("tok.{RFC7638_THUMBPRINT}")
        );
    }

    #[test]
    fn ec_jwk_from_p256_spki() {
        let x = [0x11u8; 32];
        let y = [0x22u8; 32];
        let mut point = vec![0, 0x04];
        point.extend(x);
        point.extend(y);
        let algorithm = tlv(
            SEQUENCE,
            &[tlv(OID, EC_PUBLIC_KEY), tlv(OID, P256)].concat(),
        );
        let spki = tlv(SEQUENCE, &[algorithm, tlv(BIT_STRING, &point)].concat());
        let jwk = AccountJwk::from_spki(&spki).unwrap();
        assert_eq!(jwk.alg(), "ES256");
        assert_eq!(
            jwk.jwk_json(),
            format!(
                r#"{{"crv":"P-256","kty":"EC","x":"{}","y":"{}"}}"#,
                b64(&x),
                b64(&y)
            )
        );
        // Ed25519 is refused.
        let ed = tlv(
            SEQUENCE,
            &[
                tlv(SEQUENCE, &tlv(OID, &[0x2b, 0x65, 0x70])),
                tlv(BIT_STRING, &[0; 33]),
            ]
            .concat(),
        );
        assert!(matches!(
            AccountJwk::from_spki(&ed),
            Err(JoseError::UnsupportedKey(_))
        ));
    }

    #[test]
    fn der_ecdsa_signatures_become_fixed_width() {
        // r has a sign-padding zero, s is short: both end up 32 bytes.
        let mut r = vec![0x00, 0x80];
        r.extend([0xaa; 31]);
        let s = vec![0x01, 0x02];
        let der = tlv(SEQUENCE, &[tlv(INTEGER, &r), tlv(INTEGER, &s)].concat());
        let fixed = ecdsa_der_to_fixed(&der, 32).unwrap();
        assert_eq!(fixed.len(), 64);
        assert_eq!(&fixed[..32], &r[1..]);
        assert_eq!(&fixed[32..62], &[0u8; 30]);
        assert_eq!(&fixed[62..], &[1, 2]);
        // Too wide for the curve, or trailing garbage: refused.
        let wide = tlv(
            SEQUENCE,
            &[tlv(INTEGER, &[1; 33]), tlv(INTEGER, &s)].concat(),
        );
        assert!(ecdsa_der_to_fixed(&wide, 32).is_err());
        let mut trailing = der.clone();
        trailing.push(0);
        assert!(ecdsa_der_to_fixed(&trailing, 32).is_err());
    }

    /// Signs with a fixed "signature" so the encoding can be checked exactly.
    struct FixedSigner(Vec<u8>, Vec<u8>);

    impl Signer for FixedSigner {
        fn public_key_der(&self) -> &[u8] {
            &self.0
        }
        fn sign(&self, algorithm: SignatureAlgorithm, data: &[u8]) -> Result<Vec<u8>, String> {
            assert_eq!(algorithm, SignatureAlgorithm::RsaPkcs1Sha256);
            assert!(!data.is_empty());
            Ok(self.1.clone())
        }
    }

    #[test]
    fn jws_is_flattened_json_with_the_protected_header() {
        let n = b64_decode(RFC7638_N).unwrap();
        let spki = rsa_spki(&n, &[1, 0, 1]);
        let jwk = AccountJwk::from_spki(&spki).unwrap();
        let signer = FixedSigner(spki, vec![9, 9, 9]);
        let body = sign_jws(
            &signer,
            &jwk,
            KeyId::Kid("https://ca/acct/1"),
            "n\"once",
            "https://ca/order",
            b"{}",
        )
        .unwrap();
        let jws: serde_json::Value = serde_json::from_slice(&body).unwrap();
        let protected: serde_json::Value =
            serde_json::from_slice(&b64_decode(jws["protected"].as_str().unwrap()).unwrap())
                .unwrap();
        assert_eq!(
            protected,
            serde_json::json!({"alg":"RS256","kid":"https://ca/acct/1","nonce":"n\"once","url":"https://ca/order"})
        );
        assert_eq!(jws["payload"], "e30");
        assert_eq!(jws["signature"], "CQkJ");
        // POST-as-GET has an empty payload; newAccount carries the JWK.
        let body = sign_jws(&signer, &jwk, KeyId::Jwk, "n", "u", b"").unwrap();
        let jws: serde_json::Value = serde_json::from_slice(&body).unwrap();
        assert_eq!(jws["payload"], "");
        let protected: serde_json::Value =
            serde_json::from_slice(&b64_decode(jws["protected"].as_str().unwrap()).unwrap())
                .unwrap();
        assert_eq!(protected["jwk"]["kty"], "RSA");
        assert!(protected.get("kid").is_none());
    }

    #[test]
    fn external_account_binding_is_an_hs256_mac_over_the_jwk() {
        let n = b64_decode(RFC7638_N).unwrap();
        let jwk = AccountJwk::from_spki(&rsa_spki(&n, &[1, 0, 1])).unwrap();
        let eab =
            external_account_binding(&jwk, "kid-1", b"secret", "", "https://ca/new-acct").unwrap();
        let protected = eab["protected"].as_str().unwrap();
        let payload = eab["payload"].as_str().unwrap();
        assert_eq!(b64_decode(payload).unwrap(), jwk.jwk_json().as_bytes());
        let header: serde_json::Value =
            serde_json::from_slice(&b64_decode(protected).unwrap()).unwrap();
        assert_eq!(
            header,
            serde_json::json!({"alg":"HS256","kid":"kid-1","url":"https://ca/new-acct"})
        );
        let mut mac = <Hmac<Sha256> as hmac::digest::KeyInit>::new_from_slice(b"secret").unwrap();
        mac.update(format!("{protected}.{payload}").as_bytes());
        mac.verify_slice(&b64_decode(eab["signature"].as_str().unwrap()).unwrap())
            .unwrap();
        assert!(external_account_binding(&jwk, "k", b"s", "HS1", "u").is_err());
    }

    #[test]
    fn dns01_value_is_the_sha256_of_the_key_authorization() {
        // RFC 8555 8.4's recipe, checked against a value computed with
        // `printf %s 'token.thumb' | openssl dgst -sha256 -binary | basenc --base64url`.
        assert_eq!(
            dns01_value("token.thumb"),
            "lCdftpJCXapaZHkBGIZbcubeKW8RmA0jSG_aZN01zbU"
        );
    }
}
