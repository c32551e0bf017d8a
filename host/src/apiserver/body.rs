//! Checks on request bodies that must happen before a decoder sees them.

/// How deeply flow collections (`[...]`, `{...}`) may nest in a YAML body
/// before it is refused unparsed. The YAML decoder refuses more than 128
/// levels anyway, but only after its scanner has tokenised the whole
/// document, and that scanner's work grows with the square of the flow
/// nesting: a 200 KB body of 100,000 `[` kept a server thread busy for
/// nearly a minute. No manifest comes near this depth.
pub const MAX_YAML_FLOW_DEPTH: usize = 200;

/// Whether `text` opens more than `limit` flow collections at once. The
/// count skips quoted scalars and comments and otherwise over-counts (a
/// `[` inside a plain scalar counts), which can only refuse a document
/// that is absurd anyway, never let a deep one through.
pub fn yaml_flow_depth_exceeds(text: &str, limit: usize) -> bool {
    let mut depth = 0usize;
    let mut bytes = text.bytes().peekable();
    let mut previous = b'\n';
    while let Some(byte) = bytes.next() {
        match byte {
            b'[' | b'{' => {
                depth += 1;
                if depth > limit {
                    return true;
                }
            }
            b']' | b'}' => depth = depth.saturating_sub(1),
            // A quoted scalar: skip to its end ('' and \" are escapes).
            b'\'' => {
                while let Some(inner) = bytes.next() {
                    if inner == b'\'' {
                        if bytes.peek() == Some(&b'\'') {
                            bytes.next();
                        } else {
                            break;
                        }
                    }
                }
            }
            b'"' => {
                while let Some(inner) = bytes.next() {
                    match inner {
                        b'\\' => {
                            bytes.next();
                        }
                        b'"' => break,
                        _ => {}
                    }
                }
            }
            // A comment starts at `#` after whitespace or a line start.
            b'#' if previous.is_ascii_whitespace() => {
                for inner in bytes.by_ref() {
                    if inner == b'\n' {
                        break;
                    }
                }
                previous = b'\n';
                continue;
            }
            _ => {}
        }
        previous = byte;
    }
    false
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn deep_flow_nesting_is_found_and_ordinary_yaml_passes() {
        let deep = format!("x: {}{}", "[".repeat(201), "]".repeat(201));
        assert!(yaml_flow_depth_exceeds(&deep, MAX_YAML_FLOW_DEPTH));
        let shallow = format!("x: {}{}", "[".repeat(200), "]".repeat(200));
        assert!(!yaml_flow_depth_exceeds(&shallow, MAX_YAML_FLOW_DEPTH));
        // Brackets in quotes and comments do not count; sequences in a
        // row do not add up.
        let quoted = format!(
            "a: '{0}'\nb: \"{0}\\\"\"\n# {0}\nc: [1, [2]]\nd: [{{}}, {{}}]\n",
            "[".repeat(500)
        );
        assert!(!yaml_flow_depth_exceeds(&quoted, MAX_YAML_FLOW_DEPTH));
        assert!(!yaml_flow_depth_exceeds(&"[] ".repeat(10_000), 1));
    }
}
