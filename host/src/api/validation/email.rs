//! Email SANs, checked as cert-manager checks them: Go's
//! `net/mail.ParseAddress`, then the parsed address must equal the input.
//!
//! Written by hand because the point is Go's exact verdicts and messages
//! (a user migrating from cert-manager sees the same refusal word for
//! word), which no Rust email crate reproduces: Go accepts a group
//! (`team: ops@example.com;`), a display name and comments, and words each
//! refusal in its own way. The grammar is RFC 5322's address, reduced to
//! what Go's parser implements; the expected verdicts in the tests were
//! produced by Go 1.24's `mail.ParseAddress`.

/// cert-manager's verdict on one `spec.emailAddresses` entry.
pub(super) fn check_email_address(input: &str) -> Result<(), String> {
    match parse_single_address(input) {
        Err(why) => Err(format!("invalid email address: {why}")),
        Ok(address) if address != input => Err(
            "invalid email address: make sure the supplied value only contains the email address itself"
                .to_owned(),
        ),
        Ok(_) => Ok(()),
    }
}

/// `mail.ParseAddress`: one address (a group of exactly one counts), and
/// nothing after it but comments.
fn parse_single_address(input: &str) -> Result<String, String> {
    let mut p = Parser { s: input };
    let mut addresses = p.address(true)?;
    if !p.skip_cfws() {
        return Err("mail: misformatted parenthetical comment".to_owned());
    }
    if !p.s.is_empty() {
        return Err(format!("mail: expected single address, got {:?}", p.s));
    }
    match addresses.len() {
        0 => Err("mail: empty group".to_owned()),
        1 => Ok(addresses.remove(0)),
        _ => Err("mail: group with multiple addresses".to_owned()),
    }
}

struct Parser<'a> {
    s: &'a str,
}

impl Parser<'_> {
    fn peek(&self) -> Option<char> {
        self.s.chars().next()
    }

    fn consume(&mut self, c: char) -> bool {
        match self.s.strip_prefix(c) {
            Some(rest) => {
                self.s = rest;
                true
            }
            None => false,
        }
    }

    fn skip_space(&mut self) {
        self.s = self.s.trim_start_matches([' ', '\t']);
    }

    /// Skips folding white space and comments; false for an unclosed one.
    fn skip_cfws(&mut self) -> bool {
        self.skip_space();
        while self.peek() == Some('(') {
            if self.comment().is_none() {
                return false;
            }
            self.skip_space();
        }
        true
    }

    /// A parenthesised comment, nesting allowed; `None` if unclosed.
    fn comment(&mut self) -> Option<()> {
        let mut depth = 0usize;
        for (i, c) in self.s.char_indices() {
            match c {
                '(' => depth += 1,
                ')' => {
                    depth -= 1;
                    if depth == 0 {
                        self.s = &self.s[i + 1..];
                        return Some(());
                    }
                }
                _ => {}
            }
        }
        None
    }

    /// address = mailbox / group; a group only at the top level.
    fn address(&mut self, handle_group: bool) -> Result<Vec<String>, String> {
        self.skip_space();
        if self.s.is_empty() {
            return Err("mail: no address".to_owned());
        }
        // addr-spec is the stricter grammar: try it first.
        let start = self.s;
        match self.addr_spec() {
            Ok(spec) => {
                self.skip_space();
                if self.peek() == Some('(') && self.comment().is_none() {
                    return Err("mail: misformatted parenthetical comment".to_owned());
                }
                return Ok(vec![spec]);
            }
            Err(_) => self.s = start,
        }
        let display_name = if self.peek() == Some('<') {
            String::new()
        } else {
            self.phrase()?
        };
        self.skip_space();
        if handle_group && self.consume(':') {
            return self.group_list();
        }
        if !self.consume('<') {
            return Err(if display_name.chars().all(|c| is_atext(c, true)) {
                // "foo.bar": probably meant "foo.bar@domain".
                "mail: missing '@' or angle-addr".to_owned()
            } else {
                // "Full Name": probably meant "Full Name <...>".
                "mail: no angle-addr".to_owned()
            });
        }
        let spec = self.addr_spec()?;
        if !self.consume('>') {
            return Err("mail: unclosed angle-addr".to_owned());
        }
        Ok(vec![spec])
    }

    fn group_list(&mut self) -> Result<Vec<String>, String> {
        let mut addresses = Vec::new();
        self.skip_space();
        if self.consume(';') {
            self.skip_cfws();
            return Ok(addresses);
        }
        loop {
            self.skip_space();
            addresses.extend(self.address(false)?);
            if !self.skip_cfws() {
                return Err("mail: misformatted parenthetical comment".to_owned());
            }
            if self.consume(';') {
                self.skip_cfws();
                return Ok(addresses);
            }
            if !self.consume(',') {
                return Err("mail: expected comma".to_owned());
            }
        }
    }

    /// local-part "@" domain, the local part unquoted as Go returns it.
    fn addr_spec(&mut self) -> Result<String, String> {
        self.skip_space();
        if self.s.is_empty() {
            return Err("mail: no addr-spec".to_owned());
        }
        let local = if self.peek() == Some('"') {
            self.quoted_string()?
        } else {
            self.atom(true, false)?
        };
        if !self.consume('@') {
            return Err("mail: missing @ in addr-spec".to_owned());
        }
        self.skip_space();
        if self.s.is_empty() {
            return Err("mail: no domain in addr-spec".to_owned());
        }
        let domain = if self.peek() == Some('[') {
            self.domain_literal()?
        } else {
            self.atom(true, false)?
        };
        Ok(format!("{local}@{domain}"))
    }

    /// Words (atoms, dots allowed anywhere, or quoted strings) joined by
    /// single spaces.
    fn phrase(&mut self) -> Result<String, String> {
        let mut words = Vec::new();
        let failure = loop {
            self.skip_cfws();
            let word = if self.peek() == Some('"') {
                self.quoted_string()
            } else {
                self.atom(true, true)
            };
            match word {
                Ok(word) => words.push(word),
                Err(why) => break why,
            }
        };
        if words.is_empty() {
            return Err(format!("mail: missing word in phrase: {failure}"));
        }
        Ok(words.join(" "))
    }

    fn atom(&mut self, dot: bool, permissive: bool) -> Result<String, String> {
        let end = self
            .s
            .char_indices()
            .find(|(_, c)| !is_atext(*c, dot))
            .map_or(self.s.len(), |(i, _)| i);
        if end == 0 {
            return Err("mail: invalid string".to_owned());
        }
        let atom = &self.s[..end];
        if !permissive {
            if atom.starts_with('.') {
                return Err("mail: leading dot in atom".to_owned());
            }
            if atom.contains("..") {
                return Err("mail: double dot in atom".to_owned());
            }
            if atom.ends_with('.') {
                return Err("mail: trailing dot in atom".to_owned());
            }
        }
        self.s = &self.s[end..];
        Ok(atom.to_owned())
    }

    fn quoted_string(&mut self) -> Result<String, String> {
        let mut out = String::new();
        let mut chars = self.s.char_indices().skip(1);
        while let Some((i, c)) = chars.next() {
            match c {
                '"' => {
                    self.s = &self.s[i + 1..];
                    return Ok(out);
                }
                '\\' => match chars.next() {
                    Some((_, escaped)) => out.push(escaped),
                    None => break,
                },
                c if c == '\t' || c == ' ' || !c.is_control() => out.push(c),
                _ => return Err(format!("mail: bad character in quoted-string: {c:?}")),
            }
        }
        Err("mail: unclosed quoted-string".to_owned())
    }

    fn domain_literal(&mut self) -> Result<String, String> {
        match self.s.find(']') {
            Some(end) => {
                let literal = self.s[..=end].to_owned();
                self.s = &self.s[end + 1..];
                Ok(literal)
            }
            None => Err("mail: unclosed domain-literal".to_owned()),
        }
    }
}

/// RFC 5322 atext (any visible character but the specials; non-ASCII as
/// RFC 6532 allows), and `.` where the caller allows dots.
fn is_atext(c: char, dot: bool) -> bool {
    if c == '.' {
        return dot;
    }
    let visible = ('!'..='~').contains(&c) || !c.is_ascii();
    visible && !"()<>[]:;@\\,\"".contains(c)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Go 1.24's `mail.ParseAddress` on each input: the address, or the error.
    #[test]
    fn verdicts_match_go() {
        let cases: &[(&str, Result<&str, &str>)] = &[
            ("ops@example.com", Ok("ops@example.com")),
            (" ops@example.com", Ok("ops@example.com")),
            ("o.ps@example.com", Ok("o.ps@example.com")),
            ("\"o p\"@example.com", Ok("o p@example.com")),
            ("ops@[127.0.0.1]", Ok("ops@[127.0.0.1]")),
            ("Ops <ops@example.com>", Ok("ops@example.com")),
            ("<ops@example.com>", Ok("ops@example.com")),
            ("ops@example.com (comment)", Ok("ops@example.com")),
            ("a: b@c;", Ok("b@c")),
            ("mailto:ops@example.com", Err("mail: expected comma")),
            ("a:b", Err("mail: missing '@' or angle-addr")),
            ("a:", Err("mail: no address")),
            ("a:;", Err("mail: empty group")),
            ("not-an-email", Err("mail: missing '@' or angle-addr")),
            ("a@b@c", Err("mail: expected single address, got \"@c\"")),
            ("ops@", Err("mail: missing '@' or angle-addr")),
            (
                "@example.com",
                Err("mail: missing word in phrase: mail: invalid string"),
            ),
            ("ops@example.com.", Err("mail: missing '@' or angle-addr")),
            ("ops..x@example.com", Err("mail: missing '@' or angle-addr")),
            ("ops@example..com", Err("mail: missing '@' or angle-addr")),
            (".ops@example.com", Err("mail: missing '@' or angle-addr")),
            ("ops.@example.com", Err("mail: missing '@' or angle-addr")),
            ("o ps@example.com", Err("mail: no angle-addr")),
            ("", Err("mail: no address")),
            ("   ", Err("mail: no address")),
            ("Ops <ops@>", Err("mail: invalid string")),
            (
                "ops@exa mple.com",
                Err("mail: expected single address, got \"mple.com\""),
            ),
        ];
        for (input, expected) in cases {
            let got = parse_single_address(input);
            let expected = expected.map(str::to_owned).map_err(str::to_owned);
            assert_eq!(got, expected, "{input:?}");
        }
    }

    #[test]
    fn cert_manager_wants_the_bare_address() {
        assert_eq!(check_email_address("ops@example.com"), Ok(()));
        assert_eq!(
            check_email_address("mailto:ops@example.com"),
            Err("invalid email address: mail: expected comma".to_owned())
        );
        assert_eq!(
            check_email_address("Ops <ops@example.com>"),
            Err("invalid email address: make sure the supplied value only contains the email address itself".to_owned())
        );
    }
}
