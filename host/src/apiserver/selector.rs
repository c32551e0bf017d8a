//! Label and field selectors, parsed and matched the way kube-apiserver does it.
//!
//! kubectl, client-go informers and controllers (cert-manager included) send
//! `?labelSelector=` / `?fieldSelector=` and rely on kube's exact grammar, matching rules
//! and error texts, so this follows `k8s.io/apimachinery/pkg/labels` and `pkg/fields`.

use std::collections::{BTreeMap, BTreeSet};
use std::fmt;

use serde_json::Value;

/// A selector the client sent is malformed or asks for something we refuse; the text is
/// what kube-apiserver puts in its 400 Bad Request `Status` message.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum SelectorError {
    /// Label selector syntax or validation error, worded like kube's parser.
    #[error("{0}")]
    Label(String),
    /// A field selector term without `=`, `==` or `!=`.
    #[error("invalid selector: '{selector}'; can't understand '{term}'")]
    FieldTerm { selector: String, term: String },
    /// A field selector value with a bad `\` escape.
    #[error("invalid field selector: invalid escape sequence: {0}")]
    InvalidEscape(String),
    /// A field selector value with an unescaped `,` or `=`.
    #[error("invalid field selector: unescaped character in value: {0}")]
    UnescapedChar(char),
    /// The field is not one this resource can be selected by.
    #[error("field label not supported: {0}")]
    UnsupportedField(String),
    /// A `metav1.LabelSelector` with an unknown `matchExpressions[].operator`.
    #[error("{0:?} is not a valid label selector operator")]
    InvalidOperator(String),
    /// A `metav1.LabelSelector` JSON value of the wrong shape.
    #[error("invalid label selector: {0}")]
    InvalidJson(String),
}

/// The relation one label requirement expresses.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Operator {
    In,
    NotIn,
    Equals,
    DoubleEquals,
    NotEquals,
    Exists,
    DoesNotExist,
    GreaterThan,
    LessThan,
}

/// One comma-separated clause of a label selector; `values` are sorted and unique.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Requirement {
    pub key: String,
    pub operator: Operator,
    pub values: Vec<String>,
}

/// A parsed label selector: all requirements must hold (an empty one matches everything).
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct LabelSelector {
    requirements: Vec<Requirement>,
    /// `metav1.LabelSelectorAsSelector(nil)` selects nothing.
    nothing: bool,
}

/// Returns a label-selector error built like `format!`.
macro_rules! bail {
    ($($fmt:tt)*) => { return Err(SelectorError::Label(format!($($fmt)*))) };
}

impl Requirement {
    /// `labels.NewRequirement`: validates key, value count for the operator, and values.
    fn new(key: &str, op: Operator, values: BTreeSet<String>) -> Result<Self, SelectorError> {
        use Operator::*;
        let mut errs: Vec<String> = validate_key(key).err().into_iter().collect();
        let bad = |msg: &str| format!("values: Invalid value: {values:?}: {msg}");
        match (op, values.len()) {
            (In | NotIn, 0) => errs.push(bad(
                "for 'in', 'notin' operators, values set can't be empty",
            )),
            (Equals | DoubleEquals | NotEquals, n) if n != 1 => {
                errs.push(bad("exact-match compatibility requires one single value"))
            }
            (Exists | DoesNotExist, n) if n != 0 => errs.push(bad(
                "values set must be empty for exists and does not exist",
            )),
            (GreaterThan | LessThan, n) => {
                if n != 1 {
                    errs.push(bad(
                        "for 'Gt', 'Lt' operators, exactly one value is required",
                    ));
                }
                for (i, v) in values
                    .iter()
                    .enumerate()
                    .filter(|(_, v)| v.parse::<i64>().is_err())
                {
                    errs.push(format!("values[{i}]: Invalid value: {v:?}: for 'Gt', 'Lt' operators, the value must be an integer"));
                }
            }
            _ => {}
        }
        for (i, v) in values.iter().enumerate() {
            if let Some(msg) = label_value_error(v) {
                errs.push(format!("values[{i}][{key}]: Invalid value: {v:?}: {msg}"));
            }
        }
        match errs.len() {
            0 => Ok(Self {
                key: key.to_string(),
                operator: op,
                values: values.into_iter().collect(),
            }),
            1 => bail!("{}", errs[0]),
            _ => bail!("[{}]", errs.join(", ")),
        }
    }

    /// Whether `labels` satisfies this requirement (absent keys satisfy `!=` and `notin`).
    pub fn matches(&self, labels: &BTreeMap<String, String>) -> bool {
        use Operator::*;
        let got = labels.get(&self.key);
        let has = |v: &String| self.values.contains(v);
        let int = |v: Option<&String>| v.and_then(|v| v.parse::<i64>().ok());
        match self.operator {
            In | Equals | DoubleEquals => got.is_some_and(has),
            NotIn | NotEquals => !got.is_some_and(has),
            Exists => got.is_some(),
            DoesNotExist => got.is_none(),
            GreaterThan => int(got)
                .zip(int(self.values.first()))
                .is_some_and(|(l, r)| l > r),
            LessThan => int(got)
                .zip(int(self.values.first()))
                .is_some_and(|(l, r)| l < r),
        }
    }
}

/// kube's canonical form of one requirement (`a in (x,y)`, `!b`, `c=d`).
impl fmt::Display for Requirement {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        use Operator::*;
        let (k, v) = (&self.key, self.values.join(","));
        match self.operator {
            DoesNotExist => write!(f, "!{k}"),
            Exists => write!(f, "{k}"),
            In | NotIn => write!(
                f,
                "{k} {} ({v})",
                if self.operator == In { "in" } else { "notin" }
            ),
            Equals => write!(f, "{k}={v}"),
            DoubleEquals => write!(f, "{k}=={v}"),
            NotEquals => write!(f, "{k}!={v}"),
            GreaterThan => write!(f, "{k}>{v}"),
            LessThan => write!(f, "{k}<{v}"),
        }
    }
}

impl LabelSelector {
    /// Parses `?labelSelector=` exactly like `labels.Parse` (including `>`/`<` and the
    /// empty value in `a=` / `a in ()`), with kube's error texts.
    pub fn parse(s: &str) -> Result<Self, SelectorError> {
        let mut p = Parser {
            toks: lex(s),
            pos: 0,
        };
        Ok(Self::of(p.parse()?))
    }

    fn of(mut requirements: Vec<Requirement>) -> Self {
        requirements.sort_by(|a, b| a.key.cmp(&b.key));
        Self {
            requirements,
            nothing: false,
        }
    }

    /// Converts a `metav1.LabelSelector` (`matchLabels` + `matchExpressions`), as
    /// `metav1.LabelSelectorAsSelector` does: `null` selects nothing, `{}` everything.
    pub fn from_json(v: &Value) -> Result<Self, SelectorError> {
        let invalid = |m: String| SelectorError::InvalidJson(m);
        let obj = match v {
            Value::Null => return Ok(Self::nothing()),
            Value::Object(o) => o,
            other => return Err(invalid(format!("expected an object, got {other}"))),
        };
        let mut reqs = Vec::new();
        let labels = obj.get("matchLabels").filter(|l| !l.is_null());
        let labels = labels.map(|l| {
            l.as_object()
                .ok_or_else(|| invalid("matchLabels must be an object".into()))
        });
        for (k, v) in labels.transpose()?.into_iter().flatten() {
            let v = v
                .as_str()
                .ok_or_else(|| invalid(format!("matchLabels[{k}] must be a string")))?;
            reqs.push(Requirement::new(
                k,
                Operator::Equals,
                BTreeSet::from([v.to_string()]),
            )?);
        }
        let exprs = obj.get("matchExpressions").and_then(Value::as_array);
        for expr in exprs.into_iter().flatten() {
            let key = expr.get("key").and_then(Value::as_str).unwrap_or("");
            let op = match expr.get("operator").and_then(Value::as_str).unwrap_or("") {
                "In" => Operator::In,
                "NotIn" => Operator::NotIn,
                "Exists" => Operator::Exists,
                "DoesNotExist" => Operator::DoesNotExist,
                other => return Err(SelectorError::InvalidOperator(other.to_string())),
            };
            let values = expr
                .get("values")
                .and_then(Value::as_array)
                .into_iter()
                .flatten();
            let values: Option<BTreeSet<String>> =
                values.map(|v| v.as_str().map(String::from)).collect();
            let values =
                values.ok_or_else(|| invalid(format!("values of {key:?} must be strings")))?;
            reqs.push(Requirement::new(key, op, values)?);
        }
        Ok(Self::of(reqs))
    }

    /// Matches every object (an empty `labelSelector`).
    pub fn everything() -> Self {
        Self::default()
    }

    /// Matches no object (a `null` `metav1.LabelSelector`).
    pub fn nothing() -> Self {
        Self {
            requirements: Vec::new(),
            nothing: true,
        }
    }

    /// True when the selector matches everything, so callers can skip filtering.
    pub fn is_everything(&self) -> bool {
        !self.nothing && self.requirements.is_empty()
    }

    /// The requirements, sorted by key.
    pub fn requirements(&self) -> &[Requirement] {
        &self.requirements
    }

    /// Whether an object with these labels is selected.
    pub fn matches(&self, labels: &BTreeMap<String, String>) -> bool {
        !self.nothing && self.requirements.iter().all(|r| r.matches(labels))
    }

    /// Convenience for JSON objects: matches `metadata.labels` (absent = no labels).
    pub fn matches_object(&self, obj: &Value) -> bool {
        let labels = obj
            .pointer("/metadata/labels")
            .and_then(Value::as_object)
            .into_iter()
            .flatten();
        let labels = labels.map(|(k, v)| (k.clone(), v.as_str().unwrap_or("").to_string()));
        self.matches(&labels.collect())
    }
}

/// kube's canonical string form (`a=b,c in (x,y),!d`), e.g. for printing selectors.
impl fmt::Display for LabelSelector {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let parts: Vec<String> = self.requirements.iter().map(ToString::to_string).collect();
        f.write_str(&parts.join(","))
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Tok {
    End,
    ClosedPar,
    Comma,
    Not,
    DoubleEquals,
    Equals,
    Gt,
    Ident,
    In,
    Lt,
    NotEquals,
    NotIn,
    OpenPar,
}

fn symbol(s: &str) -> Option<Tok> {
    let tok = match s {
        ")" => Tok::ClosedPar,
        "," => Tok::Comma,
        "!" => Tok::Not,
        "==" => Tok::DoubleEquals,
        "=" => Tok::Equals,
        ">" => Tok::Gt,
        "<" => Tok::Lt,
        "!=" => Tok::NotEquals,
        "(" => Tok::OpenPar,
        _ => return None,
    };
    Some(tok)
}

/// kube's lexer: whitespace-separated words, `in`/`notin` keywords, and the longest run
/// of `=!(),><` that is still an operator.
fn lex(s: &str) -> Vec<(Tok, String)> {
    let special = |c: char| "=!(),><".contains(c);
    let mut out = Vec::new();
    let mut rest = s;
    loop {
        rest = rest.trim_start_matches([' ', '\t', '\r', '\n']);
        let Some(c) = rest.chars().next() else {
            out.push((Tok::End, String::new()));
            return out;
        };
        let end = if special(c) {
            let run = rest.find(|c| !special(c)).unwrap_or(rest.len());
            (1..=run)
                .rev()
                .find(|&n| symbol(&rest[..n]).is_some())
                .unwrap_or(1)
        } else {
            rest.find(|c: char| special(c) || matches!(c, ' ' | '\t' | '\r' | '\n'))
                .unwrap_or(rest.len())
        };
        let word = &rest[..end];
        let tok = match word {
            "in" => Tok::In,
            "notin" => Tok::NotIn,
            w => symbol(w).unwrap_or(Tok::Ident),
        };
        out.push((tok, word.to_string()));
        rest = &rest[end..];
    }
}

struct Parser {
    toks: Vec<(Tok, String)>,
    pos: usize,
}

impl Parser {
    /// `values` = true is kube's "Values" context, where `in`/`notin` are identifiers.
    fn peek(&self, values: bool) -> (Tok, String) {
        let (t, l) = self.toks[self.pos.min(self.toks.len() - 1)].clone();
        match t {
            Tok::In | Tok::NotIn if values => (Tok::Ident, l),
            t => (t, l),
        }
    }

    fn next(&mut self, values: bool) -> (Tok, String) {
        let t = self.peek(values);
        self.pos += 1;
        t
    }

    fn parse(&mut self) -> Result<Vec<Requirement>, SelectorError> {
        let mut reqs = Vec::new();
        loop {
            match self.peek(true) {
                (Tok::Ident | Tok::Not, _) => {
                    reqs.push(self.requirement().map_err(|e| match e {
                        SelectorError::Label(m) => {
                            SelectorError::Label(format!("unable to parse requirement: {m}"))
                        }
                        other => other,
                    })?);
                    match self.next(true) {
                        (Tok::End, _) => return Ok(reqs),
                        (Tok::Comma, _) => match self.peek(true) {
                            (Tok::Ident | Tok::Not, _) => {}
                            (_, l) => bail!("found '{l}', expected: identifier after ','"),
                        },
                        (_, l) => bail!("found '{l}', expected: ',' or 'end of string'"),
                    }
                }
                (Tok::End, _) => return Ok(reqs),
                (_, l) => bail!("found '{l}', expected: !, identifier, or 'end of string'"),
            }
        }
    }

    fn requirement(&mut self) -> Result<Requirement, SelectorError> {
        let (mut tok, mut key) = self.next(true);
        let mut op = None;
        if tok == Tok::Not {
            op = Some(Operator::DoesNotExist);
            (tok, key) = self.next(true);
        }
        if tok != Tok::Ident {
            bail!("found '{key}', expected: identifier");
        }
        if let Err(e) = validate_key(&key) {
            bail!("{e}");
        }
        if op.is_none() && matches!(self.peek(true).0, Tok::End | Tok::Comma) {
            op = Some(Operator::Exists);
        }
        if let Some(op) = op {
            return Requirement::new(&key, op, BTreeSet::new());
        }
        let op = match self.next(false) {
            (Tok::In, _) => Operator::In,
            (Tok::NotIn, _) => Operator::NotIn,
            (Tok::Equals, _) => Operator::Equals,
            (Tok::DoubleEquals, _) => Operator::DoubleEquals,
            (Tok::NotEquals, _) => Operator::NotEquals,
            (Tok::Gt, _) => Operator::GreaterThan,
            (Tok::Lt, _) => Operator::LessThan,
            (_, l) => bail!("found '{l}', expected: in, notin, =, ==, !=, gt, lt"),
        };
        let values = match op {
            Operator::In | Operator::NotIn => self.set_values()?,
            _ => self.exact_value()?,
        };
        Requirement::new(&key, op, values)
    }

    fn set_values(&mut self) -> Result<BTreeSet<String>, SelectorError> {
        if let (t, l) = self.next(true)
            && t != Tok::OpenPar
        {
            bail!("found '{l}' expected: '('");
        }
        match self.peek(true) {
            (Tok::Ident | Tok::Comma, l) => {
                let s = self.identifiers()?;
                if self.next(true).0 != Tok::ClosedPar {
                    bail!("found '{l}', expected: ')'");
                }
                Ok(s)
            }
            (Tok::ClosedPar, _) => {
                self.next(true);
                Ok(BTreeSet::from([String::new()]))
            }
            (_, l) => bail!("found '{l}', expected: ',', ')' or identifier"),
        }
    }

    fn identifiers(&mut self) -> Result<BTreeSet<String>, SelectorError> {
        let mut s = BTreeSet::new();
        loop {
            match self.next(true) {
                (Tok::Ident, lit) => {
                    s.insert(lit);
                    match self.peek(true) {
                        (Tok::Comma, _) => {}
                        (Tok::ClosedPar, _) => return Ok(s),
                        (_, l) => bail!("found '{l}', expected: ',' or ')'"),
                    }
                }
                (Tok::Comma, _) => {
                    // "(,", ",)" and ",," all contribute the empty value.
                    let t2 = self.peek(true).0;
                    if s.is_empty() || t2 == Tok::ClosedPar || t2 == Tok::Comma {
                        s.insert(String::new());
                    }
                    if t2 == Tok::ClosedPar {
                        return Ok(s);
                    }
                }
                (_, l) => bail!("found '{l}', expected: ',', or identifier"),
            }
        }
    }

    fn exact_value(&mut self) -> Result<BTreeSet<String>, SelectorError> {
        if matches!(self.peek(true).0, Tok::End | Tok::Comma) {
            return Ok(BTreeSet::from([String::new()]));
        }
        match self.next(true) {
            (Tok::Ident, lit) => Ok(BTreeSet::from([lit])),
            (_, l) => bail!("found '{l}', expected: identifier"),
        }
    }
}

const NAME_FMT: &str = "([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9]";
const NAME_RULE: &str = "must consist of alphanumeric characters, '-', '_' or '.', and must start and end with an alphanumeric character";

fn is_label_name(s: &str) -> bool {
    let ok = |c: char| c.is_ascii_alphanumeric();
    s.starts_with(ok) && s.ends_with(ok) && s.chars().all(|c| ok(c) || "-_.".contains(c))
}

fn is_dns1123_subdomain(s: &str) -> bool {
    let ok = |c: char| c.is_ascii_lowercase() || c.is_ascii_digit();
    let label =
        |l: &str| l.starts_with(ok) && l.ends_with(ok) && l.chars().all(|c| ok(c) || c == '-');
    s.len() <= 253 && s.split('.').all(label)
}

/// `validateLabelKey` (`[prefix/]name`), worded as kube's field error.
fn validate_key(key: &str) -> Result<(), String> {
    let examples = format!(
        "(e.g. 'MyName',  or 'my.name',  or '123-abc', regex used for validation is '{NAME_FMT}')"
    );
    let mut errs = Vec::new();
    let name = match key.split('/').collect::<Vec<_>>()[..] {
        [name] => name,
        [prefix, name] => {
            if prefix.is_empty() {
                errs.push("prefix part must be non-empty".to_string());
            } else if !is_dns1123_subdomain(prefix) {
                errs.push("prefix part a lowercase RFC 1123 subdomain must consist of lower case alphanumeric characters, '-' or '.', and must start and end with an alphanumeric character (e.g. 'example.com', regex used for validation is '[a-z0-9]([-a-z0-9]*[a-z0-9])?(\\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*')".into());
            }
            name
        }
        _ => {
            let msg = format!(
                "a valid label key {NAME_RULE} {examples} with an optional DNS subdomain prefix and '/' (e.g. 'example.com/MyName')"
            );
            return Err(format!("key: Invalid value: {key:?}: {msg}"));
        }
    };
    if name.is_empty() {
        errs.push("name part must be non-empty".into());
    } else if name.len() > 63 {
        errs.push("name part must be no more than 63 bytes".into());
    }
    if !is_label_name(name) {
        errs.push(format!("name part {NAME_RULE} {examples}"));
    }
    match errs.is_empty() {
        true => Ok(()),
        false => Err(format!("key: Invalid value: {key:?}: {}", errs.join("; "))),
    }
}

fn label_value_error(v: &str) -> Option<String> {
    let mut errs = Vec::new();
    if v.len() > 63 {
        errs.push("must be no more than 63 bytes".to_string());
    }
    if !v.is_empty() && !is_label_name(v) {
        errs.push(format!("a valid label must be an empty string or consist of alphanumeric characters, '-', '_' or '.', and must start and end with an alphanumeric character (e.g. 'MyValue',  or 'my_value',  or '12345', regex used for validation is '({NAME_FMT})?')"));
    }
    (!errs.is_empty()).then(|| errs.join("; "))
}

/// One `field=value` / `field!=value` term of a field selector.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FieldTerm {
    pub field: String,
    pub value: String,
    /// `!=` rather than `=`/`==`.
    pub negated: bool,
}

/// A parsed `?fieldSelector=`: every term must hold.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct FieldSelector {
    terms: Vec<FieldTerm>,
}

impl FieldSelector {
    /// Parses like `fields.ParseSelector`: comma-separated terms (`\,` escapes a comma),
    /// split at the first `!=`, `==` or `=`, values unescaped.
    pub fn parse(selector: &str) -> Result<Self, SelectorError> {
        let mut parts = split_terms(selector);
        parts.sort();
        let mut terms = Vec::new();
        for part in parts.into_iter().filter(|p| !p.is_empty()) {
            let split = part.char_indices().find_map(|(i, _)| {
                let op = ["!=", "==", "="]
                    .into_iter()
                    .find(|op| part[i..].starts_with(op))?;
                Some((&part[..i], op, &part[i + op.len()..]))
            });
            let Some((field, op, raw)) = split else {
                let (selector, term) = (selector.to_string(), part.to_string());
                return Err(SelectorError::FieldTerm { selector, term });
            };
            let (field, value, negated) = (field.to_string(), unescape(raw)?, op == "!=");
            terms.push(FieldTerm {
                field,
                value,
                negated,
            });
        }
        Ok(Self { terms })
    }

    /// The parsed terms, sorted as kube sorts them.
    pub fn terms(&self) -> &[FieldTerm] {
        &self.terms
    }

    /// The value a `field=value` term pins, so a store can look up by name directly.
    pub fn requires_exact_match(&self, field: &str) -> Option<&str> {
        let t = self.terms.iter().find(|t| t.field == field && !t.negated)?;
        Some(&t.value)
    }

    /// Whether `obj` satisfies every term; the field is a dotted path into the JSON and
    /// a missing or non-scalar field compares as `""`.
    pub fn matches(&self, obj: &Value) -> bool {
        self.terms.iter().all(|t| {
            let got = match t.field.split('.').try_fold(obj, |v, k| v.get(k)) {
                Some(Value::String(s)) => s.clone(),
                Some(Value::Number(n)) => n.to_string(),
                Some(Value::Bool(b)) => b.to_string(),
                _ => String::new(),
            };
            (got == t.value) != t.negated
        })
    }

    /// Refuses fields the resource does not support, as kube does per kind (400 Bad Request).
    pub fn validate_fields(&self, allowed: &[&str]) -> Result<(), SelectorError> {
        match self
            .terms
            .iter()
            .find(|t| !allowed.contains(&t.field.as_str()))
        {
            Some(t) => Err(SelectorError::UnsupportedField(t.field.clone())),
            None => Ok(()),
        }
    }
}

/// Splits at commas not escaped by a backslash (the backslash stays for [`unescape`]).
fn split_terms(s: &str) -> Vec<&str> {
    let (mut terms, mut start, mut in_slash) = (Vec::new(), 0, false);
    for (i, c) in s.char_indices() {
        match c {
            _ if in_slash => in_slash = false,
            '\\' => in_slash = true,
            ',' => {
                terms.push(&s[start..i]);
                start = i + 1;
            }
            _ => {}
        }
    }
    terms.push(&s[start..]);
    terms
}

fn unescape(s: &str) -> Result<String, SelectorError> {
    let mut out = String::with_capacity(s.len());
    let mut chars = s.chars();
    while let Some(c) = chars.next() {
        match c {
            '\\' => match chars.next() {
                Some(e @ ('\\' | ',' | '=')) => out.push(e),
                Some(e) => return Err(SelectorError::InvalidEscape(format!("\\{e}"))),
                None => return Err(SelectorError::InvalidEscape("\\".into())),
            },
            ',' | '=' => return Err(SelectorError::UnescapedChar(c)),
            c => out.push(c),
        }
    }
    Ok(out)
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;
    use serde_json::json;

    /// Labels from `k=v,k2=v2`.
    fn labels(s: &str) -> BTreeMap<String, String> {
        let pairs = s
            .split(',')
            .filter(|p| !p.is_empty())
            .map(|p| p.split_once('=').unwrap());
        pairs.map(|(k, v)| (k.to_string(), v.to_string())).collect()
    }

    fn sel(s: &str) -> LabelSelector {
        LabelSelector::parse(s).unwrap()
    }

    fn perr(s: &str) -> String {
        LabelSelector::parse(s).unwrap_err().to_string()
    }

    #[test]
    fn label_parse_and_match() {
        let l = labels("app=web,tier=front,n=5");
        let yes = [
            "",
            "app=web",
            "app==web",
            "app!=db",
            "missing!=x",
            "app in (web,db)",
            "app notin (db)",
            "missing notin (db)",
            "app",
            "!missing",
            "  app = web ,  tier  in ( front , back ) ",
            "n>4",
        ];
        for s in yes {
            assert!(sel(s).matches(&l), "{s:?} should match");
        }
        let no = [
            "app!=web",
            "app in (db)",
            "!app",
            "app=web,tier=back",
            "n<4",
            "app>4",
            "missing=",
        ];
        for s in no {
            assert!(!sel(s).matches(&l), "{s:?} should not match");
        }
        assert!(sel("in in (in)").matches(&labels("in=in")));
        assert!(sel("missing in (,x)").matches(&labels("missing=")));
        let key = "cert-manager.io/next-private-key";
        assert!(sel(&format!("{key}=true")).matches(&labels(&format!("{key}=true"))));
        let s = sel("z=1,a in (y,x),!b, c");
        assert_eq!(s.to_string(), "a in (x,y),!b,c,z=1");
        assert_eq!(s.requirements()[0].values, ["x", "y"]);
        assert!(sel("").is_everything());
        assert!(sel("app").matches_object(&json!({"metadata": {"labels": {"app": ""}}})));
        assert!(!sel("app").matches_object(&json!({"metadata": {}})));
    }

    #[test]
    fn label_parse_errors() {
        let req = "unable to parse requirement: ";
        for (input, want) in [
            (
                "a=b=c",
                "found '=', expected: ',' or 'end of string'".to_string(),
            ),
            ("a,", "found '', expected: identifier after ','".into()),
            (
                ",a",
                "found ',', expected: !, identifier, or 'end of string'".into(),
            ),
            ("!a=b", "found '=', expected: ',' or 'end of string'".into()),
            ("a in b", format!("{req}found 'b' expected: '('")),
            ("a in (b", format!("{req}found '', expected: ',' or ')'")),
            (
                "a in (b c)",
                format!("{req}found 'c', expected: ',' or ')'"),
            ),
            (
                "a (b)",
                format!("{req}found '(', expected: in, notin, =, ==, !=, gt, lt"),
            ),
            ("a=(b)", format!("{req}found '(', expected: identifier")),
        ] {
            assert_eq!(perr(input), want, "{input:?}");
        }
        let want =
            r#"unable to parse requirement: key: Invalid value: "-bad": name part must consist"#;
        assert!(perr("-bad=x").starts_with(want));
        assert!(perr("a/b/c").contains("a valid label key"));
        let want = r#"values[0][a]: Invalid value: "-x": a valid label must be an empty string"#;
        assert!(perr("a=-x").contains(want));
        assert!(perr("a>b").contains("the value must be an integer"));
    }

    #[test]
    fn label_from_json() {
        let s = LabelSelector::from_json(&json!({
            "matchLabels": {"acme.cert-manager.io/http01-solver": "true"},
            "matchExpressions": [
                {"key": "env", "operator": "In", "values": ["prod", "staging"]},
                {"key": "legacy", "operator": "DoesNotExist"},
                {"key": "zone", "operator": "Exists"},
                {"key": "team", "operator": "NotIn", "values": ["x"]}]}))
        .unwrap();
        let ok = "acme.cert-manager.io/http01-solver=true,env=prod,zone=a";
        assert!(s.matches(&labels(ok)));
        assert!(!s.matches(&labels(&format!("{ok},legacy=1"))));
        assert!(!s.matches(&labels(&format!("{ok},team=x"))));
        let from = |v: Value| LabelSelector::from_json(&v);
        assert!(from(json!({})).unwrap().matches(&labels("")));
        assert!(from(json!({"matchLabels": null})).unwrap().is_everything());
        assert!(!from(Value::Null).unwrap().matches(&labels("")));
        let gt = json!({"matchExpressions": [{"key": "a", "operator": "Gt", "values": ["1"]}]});
        assert_eq!(from(gt), Err(SelectorError::InvalidOperator("Gt".into())));
        let e = from(json!({"matchExpressions": [{"key": "a", "operator": "In", "values": []}]}));
        assert!(
            e.unwrap_err()
                .to_string()
                .contains("values set can't be empty")
        );
        let e = from(
            json!({"matchExpressions": [{"key": "a", "operator": "Exists", "values": ["x"]}]}),
        );
        assert!(
            e.unwrap_err()
                .to_string()
                .contains("values set must be empty")
        );
        assert!(matches!(
            from(json!([])),
            Err(SelectorError::InvalidJson(_))
        ));
    }

    #[test]
    fn field_selectors() {
        let ev = json!({"metadata": {"name": "e1", "namespace": "default"}, "type": "Warning",
                        "involvedObject": {"kind": "Certificate", "name": "web"}, "count": 2,
                        "spec": {"issuerRef": {"name": "ca"}, "unschedulable": true}});
        let f = |s: &str| FieldSelector::parse(s).unwrap();
        let yes = [
            "",
            "metadata.name=e1",
            "metadata.name==e1,metadata.namespace=default",
            "involvedObject.kind=Certificate,type=Warning",
            "spec.issuerRef.name=ca",
            "status.phase=",
            "status.phase!=Active",
            "count=2,spec.unschedulable=true",
        ];
        for s in yes {
            assert!(f(s).matches(&ev), "{s:?} should match");
        }
        for s in [
            "metadata.name!=e1",
            "type=Normal",
            "metadata.name=e1,type!=Warning",
        ] {
            assert!(!f(s).matches(&ev), "{s:?} should not match");
        }
        assert!(f(r"metadata.name=a\,b").matches(&json!({"metadata": {"name": "a,b"}})));
        assert_eq!(
            f("metadata.name=x").requires_exact_match("metadata.name"),
            Some("x")
        );
        assert_eq!(
            f("metadata.name!=x").requires_exact_match("metadata.name"),
            None
        );
        assert_eq!(f("b=1,a!=2").terms()[0].field, "a");
        let err = |s: &str| FieldSelector::parse(s).unwrap_err().to_string();
        let want = "invalid selector: 'metadata.name'; can't understand 'metadata.name'";
        assert_eq!(err("metadata.name"), want);
        assert_eq!(
            err(r"a=b\x"),
            r"invalid field selector: invalid escape sequence: \x"
        );
        assert_eq!(
            FieldSelector::parse("a=b=c"),
            Err(SelectorError::UnescapedChar('='))
        );
        let allowed = ["metadata.name", "metadata.namespace", "type"];
        assert_eq!(
            f("type=Normal,metadata.name=x").validate_fields(&allowed),
            Ok(())
        );
        let e = f("metadata.name=x,foo=bar")
            .validate_fields(&allowed)
            .unwrap_err();
        assert_eq!(e.to_string(), "field label not supported: foo");
    }
}
