//! PEM (RFC 7468) and its base64, for certificates and requests.

use super::X509Error;

const ALPHABET: &[u8; 64] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";

/// One PEM block: its label (`CERTIFICATE`) and its decoded contents.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Block {
    /// The word after `BEGIN`, e.g. `CERTIFICATE`.
    pub label: String,
    /// The base64 contents, decoded.
    pub der: Vec<u8>,
}

/// Decodes every PEM block in `text`, in order. Text between blocks
/// (comments, `openssl x509 -text` output) is ignored, as Go's decoder does.
pub fn decode_all(text: &str) -> Result<Vec<Block>, X509Error> {
    let mut blocks = Vec::new();
    let mut rest = text;
    while let Some(start) = rest.find("-----BEGIN ") {
        let after_begin = &rest[start + 11..];
        let label_end = after_begin
            .find("-----")
            .ok_or_else(|| X509Error::Pem("unterminated BEGIN line".into()))?;
        let label = &after_begin[..label_end];
        let body = &after_begin[label_end + 5..];
        let end_marker = format!("-----END {label}-----");
        let body_end = body
            .find(&end_marker)
            .ok_or_else(|| X509Error::Pem(format!("no END line for {label}")))?;
        let der = base64_decode(&body[..body_end])
            .map_err(|why| X509Error::Pem(format!("{label}: {why}")))?;
        blocks.push(Block {
            label: label.to_owned(),
            der,
        });
        rest = &body[body_end + end_marker.len()..];
    }
    Ok(blocks)
}

/// Decodes the first PEM block whose label is one of `labels`.
pub fn decode_first(text: &str, labels: &[&str]) -> Result<Vec<u8>, X509Error> {
    decode_all(text)?
        .into_iter()
        .find(|block| labels.contains(&block.label.as_str()))
        .map(|block| block.der)
        .ok_or_else(|| {
            X509Error::Pem(format!(
                "no {} PEM block found",
                labels.first().copied().unwrap_or("PEM")
            ))
        })
}

/// Appends `der` as a PEM block with 64-character lines and `\n` endings.
pub fn encode_into(out: &mut String, label: &str, der: &[u8]) {
    let body_len = der.len().div_ceil(3) * 4;
    out.reserve(body_len + body_len / 64 + 2 * label.len() + 32);
    out.push_str("-----BEGIN ");
    out.push_str(label);
    out.push_str("-----\n");
    for chunk in der.chunks(48) {
        base64_encode_into(out, chunk);
        out.push('\n');
    }
    out.push_str("-----END ");
    out.push_str(label);
    out.push_str("-----\n");
}

/// `der` as a PEM block.
pub fn encode(label: &str, der: &[u8]) -> String {
    let mut out = String::new();
    encode_into(&mut out, label, der);
    out
}

fn base64_encode_into(out: &mut String, bytes: &[u8]) {
    for chunk in bytes.chunks(3) {
        let b = [
            chunk[0],
            chunk.get(1).copied().unwrap_or(0),
            chunk.get(2).copied().unwrap_or(0),
        ];
        let n = u32::from(b[0]) << 16 | u32::from(b[1]) << 8 | u32::from(b[2]);
        let symbols = [(n >> 18) & 63, (n >> 12) & 63, (n >> 6) & 63, n & 63];
        for (i, symbol) in symbols.iter().enumerate() {
            if i <= chunk.len() {
                out.push(char::from(ALPHABET[*symbol as usize]));
            } else {
                out.push('=');
            }
        }
    }
}

fn base64_decode(text: &str) -> Result<Vec<u8>, &'static str> {
    let mut out = Vec::with_capacity(text.len() / 4 * 3);
    let mut acc = 0u32;
    let mut bits = 0u32;
    let mut padding = 0usize;
    for byte in text.bytes() {
        let value = match byte {
            b'A'..=b'Z' => byte - b'A',
            b'a'..=b'z' => byte - b'a' + 26,
            b'0'..=b'9' => byte - b'0' + 52,
            b'+' => 62,
            b'/' => 63,
            b'=' => {
                padding += 1;
                continue;
            }
            b' ' | b'\t' | b'\r' | b'\n' => continue,
            // RFC 1421 headers (Proc-Type, DEK-Info) mean an encrypted block.
            b':' => return Err("PEM headers (encrypted blocks) are not supported"),
            _ => return Err("invalid base64"),
        };
        if padding > 0 {
            return Err("data after base64 padding");
        }
        acc = (acc << 6) | u32::from(value);
        bits += 6;
        if bits >= 8 {
            bits -= 8;
            out.push((acc >> bits) as u8);
        }
    }
    if padding > 2 || bits >= 6 {
        return Err("truncated base64");
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn base64_round_trips_every_length() {
        let data: Vec<u8> = (0..=255u8).collect();
        for len in 0..100 {
            let mut text = String::new();
            base64_encode_into(&mut text, &data[..len]);
            assert_eq!(text.len(), len.div_ceil(3) * 4);
            assert_eq!(base64_decode(&text).unwrap(), &data[..len], "{len}: {text}");
        }
        assert_eq!(
            {
                let mut s = String::new();
                base64_encode_into(&mut s, b"foobar!");
                s
            },
            "Zm9vYmFyIQ=="
        );
        assert!(base64_decode("Zm9v!mFy").is_err());
        assert!(base64_decode("Zm9vY").is_err());
        assert!(base64_decode("Zg==Zg==").is_err());
    }

    #[test]
    fn blocks_are_found_between_comments_and_lines_wrap_at_64() {
        let der: Vec<u8> = (0..200u8).collect();
        let one = encode("CERTIFICATE", &der);
        assert!(one.lines().all(|line| line.len() <= 64));
        let text = format!(
            "subject=CN=a\n{one}\ntrailing words\n{}",
            encode("X509 CRL", &[1, 2, 3])
        );
        let blocks = decode_all(&text).unwrap();
        assert_eq!(blocks.len(), 2);
        assert_eq!(
            blocks[0],
            Block {
                label: "CERTIFICATE".into(),
                der
            }
        );
        assert_eq!(blocks[1].label, "X509 CRL");
        assert_eq!(decode_first(&text, &["X509 CRL"]).unwrap(), [1, 2, 3]);
        assert!(decode_first(&text, &["CERTIFICATE REQUEST"]).is_err());
        assert!(decode_all("-----BEGIN CERTIFICATE-----\nAAAA\n").is_err());
    }
}
