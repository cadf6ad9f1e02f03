//! Structured Field Values (RFC 9651, compatible with RFC 8941): the parts that
//! Signature-Input, Signature and Content-Digest use. Parsing follows the
//! algorithms of RFC 9651 §4.2 to the letter (strict: any deviation fails);
//! serialisation follows §4.1 and is canonical, so parse → serialise → parse
//! is the identity on values.

use base64::Engine as _;
use base64::engine::{DecodePaddingMode, GeneralPurpose, GeneralPurposeConfig};
use std::fmt::Write as _;

/// Why a structured field failed to parse or serialise.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum SfError {
    /// The input did not follow the RFC 9651 §4.2 grammar.
    #[error("malformed structured field at byte {at}: {what}")]
    Syntax {
        /// Byte offset of the failure.
        at: usize,
        /// What was expected.
        what: &'static str,
    },
    /// A value cannot be serialised (out of range or bad characters).
    #[error("cannot serialise structured field: {0}")]
    Unserialisable(&'static str),
}

/// Largest absolute value of an sf-integer (RFC 9651 §3.3.1).
pub(crate) const MAX_INTEGER: i64 = 999_999_999_999_999;
/// Largest absolute value of an sf-decimal, in thousandths (12 integer digits).
const MAX_DECIMAL_MILLIS: i64 = 999_999_999_999_999;

/// A bare item (RFC 9651 §3.3).
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum BareItem {
    /// sf-integer.
    Integer(i64),
    /// sf-decimal, held exactly as thousandths (three fractional digits at most).
    Decimal(i64),
    /// sf-string (printable ASCII).
    String(String),
    /// sf-token.
    Token(String),
    /// sf-binary.
    ByteSequence(Vec<u8>),
    /// sf-boolean.
    Boolean(bool),
    /// sf-date (RFC 9651 §3.3.7): seconds since the epoch.
    Date(i64),
    /// sf-displaystring (RFC 9651 §3.3.8).
    DisplayString(String),
}

/// Parameters: an ordered map from key to bare item.
pub type Parameters = Vec<(String, BareItem)>;

/// An item with its parameters.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Item {
    /// The value.
    pub bare: BareItem,
    /// Its parameters, in order, keys unique.
    pub params: Parameters,
}

/// A list member or dictionary value.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Entry {
    /// A single item.
    Item(Item),
    /// An inner list with its parameters.
    InnerList(Vec<Item>, Parameters),
}

/// An sf-dictionary: ordered, keys unique after [`parse_dictionary`].
pub type Dictionary = Vec<(String, Entry)>;

// ---------------------------------------------------------------- parsing

struct Parser<'a> {
    input: &'a [u8],
    pos: usize,
}

impl<'a> Parser<'a> {
    fn new(input: &'a str) -> Self {
        Self {
            input: input.as_bytes(),
            pos: 0,
        }
    }

    fn peek(&self) -> Option<u8> {
        self.input.get(self.pos).copied()
    }

    fn next(&mut self) -> Option<u8> {
        let c = self.peek()?;
        self.pos += 1;
        Some(c)
    }

    fn err<T>(&self, what: &'static str) -> Result<T, SfError> {
        Err(SfError::Syntax { at: self.pos, what })
    }

    fn skip_sp(&mut self) {
        while self.peek() == Some(b' ') {
            self.pos += 1;
        }
    }

    fn skip_ows(&mut self) {
        while matches!(self.peek(), Some(b' ' | b'\t')) {
            self.pos += 1;
        }
    }

    fn is_empty(&self) -> bool {
        self.pos >= self.input.len()
    }

    /// §4.2 top level: strip leading and trailing SP, the value must use all input.
    fn top<T>(mut self, f: impl FnOnce(&mut Self) -> Result<T, SfError>) -> Result<T, SfError> {
        // Structured fields are ASCII; a non-ASCII byte anywhere is a parse failure.
        if let Some(i) = self.input.iter().position(|b| !b.is_ascii()) {
            return Err(SfError::Syntax {
                at: i,
                what: "non-ASCII byte",
            });
        }
        self.skip_sp();
        let out = f(&mut self)?;
        self.skip_sp();
        if !self.is_empty() {
            return self.err("unexpected trailing characters");
        }
        Ok(out)
    }

    // §4.2.1.2 / §4.2.2 share the "member, OWS, comma, OWS" loop.
    fn list(&mut self) -> Result<Vec<Entry>, SfError> {
        let mut out = Vec::new();
        while !self.is_empty() {
            out.push(self.item_or_inner_list()?);
            if self.comma_or_end()? {
                break;
            }
        }
        Ok(out)
    }

    /// After a member: true at end of input, false after a comma (more follow).
    fn comma_or_end(&mut self) -> Result<bool, SfError> {
        self.skip_ows();
        if self.is_empty() {
            return Ok(true);
        }
        if self.next() != Some(b',') {
            return self.err("expected `,`");
        }
        self.skip_ows();
        if self.is_empty() {
            return self.err("trailing `,`");
        }
        Ok(false)
    }

    fn dictionary_raw(&mut self) -> Result<Dictionary, SfError> {
        let mut out = Vec::new();
        while !self.is_empty() {
            let key = self.key()?;
            let entry = if self.peek() == Some(b'=') {
                self.pos += 1;
                self.item_or_inner_list()?
            } else {
                Entry::Item(Item {
                    bare: BareItem::Boolean(true),
                    params: self.parameters()?,
                })
            };
            out.push((key, entry));
            if self.comma_or_end()? {
                break;
            }
        }
        Ok(out)
    }

    fn item_or_inner_list(&mut self) -> Result<Entry, SfError> {
        if self.peek() == Some(b'(') {
            self.inner_list()
        } else {
            Ok(Entry::Item(self.item()?))
        }
    }

    fn inner_list(&mut self) -> Result<Entry, SfError> {
        if self.next() != Some(b'(') {
            return self.err("expected `(`");
        }
        // Signature-Input inner lists usually hold a handful of components.
        let mut items = Vec::with_capacity(8);
        loop {
            self.skip_sp();
            match self.peek() {
                None => return self.err("unterminated inner list"),
                Some(b')') => {
                    self.pos += 1;
                    let params = self.parameters()?;
                    return Ok(Entry::InnerList(items, params));
                }
                Some(_) => {
                    items.push(self.item()?);
                    match self.peek() {
                        Some(b' ' | b')') => {}
                        _ => return self.err("expected SP or `)` in inner list"),
                    }
                }
            }
        }
    }

    fn item(&mut self) -> Result<Item, SfError> {
        let bare = self.bare_item()?;
        let params = self.parameters()?;
        Ok(Item { bare, params })
    }

    fn parameters(&mut self) -> Result<Parameters, SfError> {
        if self.peek() != Some(b';') {
            return Ok(Vec::new());
        }
        let mut params: Parameters = Vec::with_capacity(6);
        while self.peek() == Some(b';') {
            self.pos += 1;
            self.skip_sp();
            let key = self.key()?;
            let value = if self.peek() == Some(b'=') {
                self.pos += 1;
                self.bare_item()?
            } else {
                BareItem::Boolean(true)
            };
            insert_overwrite(&mut params, key, value);
        }
        Ok(params)
    }

    fn key(&mut self) -> Result<String, SfError> {
        let start = self.pos;
        match self.peek() {
            Some(c) if c.is_ascii_lowercase() || c == b'*' => {}
            _ => return self.err("expected key (lowercase letter or `*`)"),
        }
        while let Some(c) = self.peek() {
            if is_key_char(c) {
                self.pos += 1;
            } else {
                break;
            }
        }
        Ok(self.slice(start))
    }

    fn slice(&self, start: usize) -> String {
        self.input
            .get(start..self.pos)
            .map(|b| String::from_utf8_lossy(b).into_owned())
            .unwrap_or_default()
    }

    fn bare_item(&mut self) -> Result<BareItem, SfError> {
        match self.peek() {
            Some(b'-' | b'0'..=b'9') => self.number(),
            Some(b'"') => Ok(BareItem::String(self.string()?)),
            Some(b':') => self.byte_sequence(),
            Some(b'?') => self.boolean(),
            Some(b'@') => self.date(),
            Some(b'%') => self.display_string(),
            Some(c) if c.is_ascii_alphabetic() || c == b'*' => self.token(),
            _ => self.err("expected a bare item"),
        }
    }

    // §4.2.4
    fn number(&mut self) -> Result<BareItem, SfError> {
        let negative = if self.peek() == Some(b'-') {
            self.pos += 1;
            true
        } else {
            false
        };
        if !matches!(self.peek(), Some(b'0'..=b'9')) {
            return self.err("expected digit");
        }
        let mut int_digits = 0usize;
        let mut frac_digits = 0usize;
        let mut seen_dot = false;
        let mut value: i64 = 0;
        while let Some(c) = self.peek() {
            match c {
                b'0'..=b'9' => {
                    if seen_dot {
                        frac_digits += 1;
                        if frac_digits > 3 {
                            return self.err("more than 3 fractional digits");
                        }
                    } else {
                        int_digits += 1;
                        if int_digits > 15 {
                            return self.err("integer too long");
                        }
                    }
                    value = value * 10 + i64::from(c - b'0');
                    self.pos += 1;
                }
                b'.' if !seen_dot => {
                    if int_digits > 12 {
                        return self.err("decimal has more than 12 integer digits");
                    }
                    seen_dot = true;
                    self.pos += 1;
                }
                _ => break,
            }
        }
        let sign = if negative { -1 } else { 1 };
        if !seen_dot {
            return Ok(BareItem::Integer(sign * value));
        }
        if frac_digits == 0 {
            return self.err("decimal ends with `.`");
        }
        // Scale to thousandths so the value is held exactly.
        for _ in frac_digits..3 {
            value *= 10;
        }
        Ok(BareItem::Decimal(sign * value))
    }

    // §4.2.5
    fn string(&mut self) -> Result<String, SfError> {
        if self.next() != Some(b'"') {
            return self.err("expected `\"`");
        }
        let mut out = String::new();
        loop {
            // Copy runs of plain characters at once: strings are hot (every
            // component identifier is one).
            let rest = self.input.get(self.pos..).unwrap_or_default();
            let run = rest
                .iter()
                .position(|&c| c == b'"' || c == b'\\' || !(0x20..=0x7e).contains(&c))
                .unwrap_or(rest.len());
            if let Some(Ok(plain)) = rest.get(..run).map(std::str::from_utf8) {
                out.push_str(plain);
            }
            self.pos += run;
            match self.next() {
                None => return self.err("unterminated string"),
                Some(b'\\') => match self.next() {
                    Some(c @ (b'"' | b'\\')) => out.push(char::from(c)),
                    _ => return self.err("bad escape in string"),
                },
                Some(b'"') => return Ok(out),
                Some(_) => return self.err("control character in string"),
            }
        }
    }

    // §4.2.6
    fn token(&mut self) -> Result<BareItem, SfError> {
        let start = self.pos;
        self.pos += 1;
        while let Some(c) = self.peek() {
            if is_tchar(c) || c == b':' || c == b'/' {
                self.pos += 1;
            } else {
                break;
            }
        }
        Ok(BareItem::Token(self.slice(start)))
    }

    // §4.2.7
    fn byte_sequence(&mut self) -> Result<BareItem, SfError> {
        self.pos += 1;
        let start = self.pos;
        loop {
            match self.next() {
                None => return self.err("unterminated byte sequence"),
                Some(b':') => break,
                Some(c) if c.is_ascii_alphanumeric() || c == b'+' || c == b'/' || c == b'=' => {}
                Some(_) => return self.err("bad character in byte sequence"),
            }
        }
        let b64 = self
            .input
            .get(start..self.pos.saturating_sub(1))
            .unwrap_or_default();
        match LENIENT_B64.decode(b64) {
            Ok(bytes) => Ok(BareItem::ByteSequence(bytes)),
            Err(_) => Err(SfError::Syntax {
                at: start,
                what: "invalid base64 in byte sequence",
            }),
        }
    }

    // §4.2.8
    fn boolean(&mut self) -> Result<BareItem, SfError> {
        self.pos += 1;
        match self.next() {
            Some(b'1') => Ok(BareItem::Boolean(true)),
            Some(b'0') => Ok(BareItem::Boolean(false)),
            _ => self.err("expected `?0` or `?1`"),
        }
    }

    // §4.2.9
    fn date(&mut self) -> Result<BareItem, SfError> {
        self.pos += 1;
        match self.number()? {
            BareItem::Integer(i) => Ok(BareItem::Date(i)),
            _ => self.err("date must be an integer"),
        }
    }

    // §4.2.10
    fn display_string(&mut self) -> Result<BareItem, SfError> {
        self.pos += 1;
        if self.next() != Some(b'"') {
            return self.err("expected `\"` after `%`");
        }
        let mut bytes = Vec::new();
        loop {
            match self.next() {
                None => return self.err("unterminated display string"),
                Some(b'%') => {
                    let hi = self.next().and_then(lower_hex);
                    let lo = self.next().and_then(lower_hex);
                    match (hi, lo) {
                        (Some(h), Some(l)) => bytes.push((h << 4) | l),
                        _ => return self.err("bad percent escape in display string"),
                    }
                }
                Some(b'"') => {
                    return String::from_utf8(bytes)
                        .map(BareItem::DisplayString)
                        .or_else(|_| self.err("display string is not UTF-8"));
                }
                Some(c) if (0x20..=0x7e).contains(&c) => bytes.push(c),
                Some(_) => return self.err("control character in display string"),
            }
        }
    }
}

fn lower_hex(c: u8) -> Option<u8> {
    match c {
        b'0'..=b'9' => Some(c - b'0'),
        b'a'..=b'f' => Some(c - b'a' + 10),
        _ => None,
    }
}

/// RFC 9651 §4.2.7: parsers SHOULD NOT fail on missing padding or non-zero
/// pad bits; the value (not the spelling) is what round-trips.
const LENIENT_B64: GeneralPurpose = GeneralPurpose::new(
    &base64::alphabet::STANDARD,
    GeneralPurposeConfig::new()
        .with_decode_padding_mode(DecodePaddingMode::Indifferent)
        .with_decode_allow_trailing_bits(true),
);

fn is_key_char(c: u8) -> bool {
    c.is_ascii_lowercase() || c.is_ascii_digit() || matches!(c, b'_' | b'-' | b'.' | b'*')
}

fn is_tchar(c: u8) -> bool {
    c.is_ascii_alphanumeric()
        || matches!(
            c,
            b'!' | b'#'
                | b'$'
                | b'%'
                | b'&'
                | b'\''
                | b'*'
                | b'+'
                | b'-'
                | b'.'
                | b'^'
                | b'_'
                | b'`'
                | b'|'
                | b'~'
        )
}

fn insert_overwrite<V>(map: &mut Vec<(String, V)>, key: String, value: V) {
    // RFC 9651: a repeated key overwrites the value and keeps the first position.
    match map.iter_mut().find(|(k, _)| *k == key) {
        Some(slot) => slot.1 = value,
        None => map.push((key, value)),
    }
}

/// The field lines of `name` combined with `, ` (RFC 9651 §4.2, step 1),
/// borrowed when there is one line. `Ok(None)` when the field is absent;
/// `Err(None)` for non-ASCII bytes, `Err(Some(len))` when longer than `max`.
pub(crate) fn combine_lines<'h>(
    headers: &'h http::HeaderMap,
    name: &str,
    max: usize,
) -> Result<Option<std::borrow::Cow<'h, str>>, Option<usize>> {
    let mut lines = headers.get_all(name).iter();
    let Some(first) = lines.next() else {
        return Ok(None);
    };
    let mut combined = std::borrow::Cow::Borrowed(first.to_str().map_err(|_| None)?);
    for v in lines {
        let s = v.to_str().map_err(|_| None)?;
        let owned = combined.to_mut();
        owned.push_str(", ");
        owned.push_str(s);
        if owned.len() > max {
            return Err(Some(owned.len()));
        }
    }
    if combined.len() > max {
        return Err(Some(combined.len()));
    }
    Ok(Some(combined))
}

/// Parses an sf-dictionary (RFC 9651 §4.2.2); a repeated key overwrites.
///
/// # Errors
/// [`SfError::Syntax`] when the input does not follow the grammar.
pub fn parse_dictionary(input: &str) -> Result<Dictionary, SfError> {
    let raw = parse_dictionary_raw(input)?;
    let mut out = Vec::with_capacity(raw.len());
    for (k, v) in raw {
        insert_overwrite(&mut out, k, v);
    }
    Ok(out)
}

/// Like [`parse_dictionary`] but keeps repeated keys, so a caller that must
/// refuse ambiguity (duplicate signature labels) can see them.
///
/// # Errors
/// [`SfError::Syntax`] when the input does not follow the grammar.
pub fn parse_dictionary_raw(input: &str) -> Result<Dictionary, SfError> {
    Parser::new(input).top(Parser::dictionary_raw)
}

/// Parses an sf-list (RFC 9651 §4.2.1).
///
/// # Errors
/// [`SfError::Syntax`] when the input does not follow the grammar.
pub fn parse_list(input: &str) -> Result<Vec<Entry>, SfError> {
    Parser::new(input).top(Parser::list)
}

/// Parses an sf-item (RFC 9651 §4.2.3).
///
/// # Errors
/// [`SfError::Syntax`] when the input does not follow the grammar.
pub fn parse_item(input: &str) -> Result<Item, SfError> {
    Parser::new(input).top(Parser::item)
}

// ---------------------------------------------------------------- serialising

/// Serialises a dictionary (RFC 9651 §4.1.2).
///
/// # Errors
/// [`SfError::Unserialisable`] for out-of-range numbers, bad keys or strings.
pub fn serialize_dictionary(dict: &[(String, Entry)]) -> Result<String, SfError> {
    let mut out = String::new();
    for (i, (key, entry)) in dict.iter().enumerate() {
        if i > 0 {
            out.push_str(", ");
        }
        write_key(&mut out, key)?;
        match entry {
            Entry::Item(Item {
                bare: BareItem::Boolean(true),
                params,
            }) => write_parameters(&mut out, params)?,
            _ => {
                out.push('=');
                write_entry(&mut out, entry)?;
            }
        }
    }
    Ok(out)
}

/// Serialises a list (RFC 9651 §4.1.1).
///
/// # Errors
/// [`SfError::Unserialisable`] for out-of-range numbers, bad keys or strings.
pub fn serialize_list(list: &[Entry]) -> Result<String, SfError> {
    let mut out = String::new();
    for (i, entry) in list.iter().enumerate() {
        if i > 0 {
            out.push_str(", ");
        }
        write_entry(&mut out, entry)?;
    }
    Ok(out)
}

/// Serialises an item (RFC 9651 §4.1.3).
///
/// # Errors
/// [`SfError::Unserialisable`] for out-of-range numbers, bad keys or strings.
pub fn serialize_item(item: &Item) -> Result<String, SfError> {
    let mut out = String::new();
    write_item(&mut out, item)?;
    Ok(out)
}

/// Serialises an inner list with its parameters (RFC 9651 §4.1.1.1).
///
/// # Errors
/// [`SfError::Unserialisable`] for out-of-range numbers, bad keys or strings.
pub fn serialize_inner_list(
    items: &[Item],
    params: &[(String, BareItem)],
) -> Result<String, SfError> {
    let mut out = String::new();
    write_inner_list(&mut out, items, params)?;
    Ok(out)
}

fn write_entry(out: &mut String, entry: &Entry) -> Result<(), SfError> {
    match entry {
        Entry::Item(item) => write_item(out, item),
        Entry::InnerList(items, params) => write_inner_list(out, items, params),
    }
}

fn write_inner_list(
    out: &mut String,
    items: &[Item],
    params: &[(String, BareItem)],
) -> Result<(), SfError> {
    out.push('(');
    for (i, item) in items.iter().enumerate() {
        if i > 0 {
            out.push(' ');
        }
        write_item(out, item)?;
    }
    out.push(')');
    write_parameters(out, params)
}

fn write_item(out: &mut String, item: &Item) -> Result<(), SfError> {
    write_bare(out, &item.bare)?;
    write_parameters(out, &item.params)
}

pub(crate) fn write_parameters(
    out: &mut String,
    params: &[(String, BareItem)],
) -> Result<(), SfError> {
    for (i, (key, value)) in params.iter().enumerate() {
        if params.iter().take(i).any(|(k, _)| k == key) {
            return Err(SfError::Unserialisable("repeated parameter key"));
        }
        out.push(';');
        write_key(out, key)?;
        if *value != BareItem::Boolean(true) {
            out.push('=');
            write_bare(out, value)?;
        }
    }
    Ok(())
}

fn write_key(out: &mut String, key: &str) -> Result<(), SfError> {
    let mut bytes = key.bytes();
    match bytes.next() {
        Some(c) if c.is_ascii_lowercase() || c == b'*' => {}
        _ => {
            return Err(SfError::Unserialisable(
                "key must start with a lowercase letter or `*`",
            ));
        }
    }
    if !bytes.all(is_key_char) {
        return Err(SfError::Unserialisable("bad character in key"));
    }
    out.push_str(key);
    Ok(())
}

fn write_bare(out: &mut String, bare: &BareItem) -> Result<(), SfError> {
    match bare {
        BareItem::Integer(i) => write_integer(out, *i),
        BareItem::Decimal(millis) => {
            if !(-MAX_DECIMAL_MILLIS..=MAX_DECIMAL_MILLIS).contains(millis) {
                return Err(SfError::Unserialisable("decimal out of range"));
            }
            if *millis < 0 {
                out.push('-');
            }
            let abs = millis.unsigned_abs();
            let _ = write!(out, "{}.", abs / 1000);
            let frac = format!("{:03}", abs % 1000);
            let trimmed = frac.trim_end_matches('0');
            out.push_str(if trimmed.is_empty() { "0" } else { trimmed });
            Ok(())
        }
        BareItem::String(s) => write_string(out, s),
        BareItem::Token(t) => {
            let mut bytes = t.bytes();
            match bytes.next() {
                Some(c) if c.is_ascii_alphabetic() || c == b'*' => {}
                _ => {
                    return Err(SfError::Unserialisable(
                        "token must start with a letter or `*`",
                    ));
                }
            }
            if !bytes.all(|c| is_tchar(c) || c == b':' || c == b'/') {
                return Err(SfError::Unserialisable("bad character in token"));
            }
            out.push_str(t);
            Ok(())
        }
        BareItem::ByteSequence(b) => {
            out.push(':');
            out.push_str(&base64::engine::general_purpose::STANDARD.encode(b));
            out.push(':');
            Ok(())
        }
        BareItem::Boolean(b) => {
            out.push_str(if *b { "?1" } else { "?0" });
            Ok(())
        }
        BareItem::Date(d) => {
            out.push('@');
            write_integer(out, *d)
        }
        BareItem::DisplayString(s) => {
            out.push_str("%\"");
            for b in s.bytes() {
                if b == b'%' || b == b'"' || !(0x20..=0x7e).contains(&b) {
                    let _ = write!(out, "%{b:02x}");
                } else {
                    out.push(char::from(b));
                }
            }
            out.push('"');
            Ok(())
        }
    }
}

fn write_integer(out: &mut String, i: i64) -> Result<(), SfError> {
    if !(-MAX_INTEGER..=MAX_INTEGER).contains(&i) {
        return Err(SfError::Unserialisable("integer out of range"));
    }
    let _ = write!(out, "{i}");
    Ok(())
}

pub(crate) fn write_string(out: &mut String, s: &str) -> Result<(), SfError> {
    out.push('"');
    if s.bytes()
        .all(|b| (0x20..=0x7e).contains(&b) && b != b'"' && b != b'\\')
    {
        out.push_str(s);
        out.push('"');
        return Ok(());
    }
    for c in s.chars() {
        if !(' '..='~').contains(&c) {
            return Err(SfError::Unserialisable(
                "string has a non-printable or non-ASCII character",
            ));
        }
        if c == '"' || c == '\\' {
            out.push('\\');
        }
        out.push(c);
    }
    out.push('"');
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn roundtrip_dict(s: &str) -> String {
        serialize_dictionary(&parse_dictionary(s).unwrap()).unwrap()
    }

    #[test]
    fn dictionary_canonical() {
        assert_eq!(
            roundtrip_dict("a=1,  b;x=?1 , c=(1 2);q"),
            "a=1, b;x, c=(1 2);q"
        );
        assert_eq!(roundtrip_dict("a=1, a=2"), "a=2");
        assert_eq!(roundtrip_dict("a=?0"), "a=?0");
    }

    #[test]
    fn numbers() {
        assert_eq!(parse_item("1.5").unwrap().bare, BareItem::Decimal(1500));
        assert_eq!(
            serialize_item(&parse_item("-1.50").unwrap()).unwrap(),
            "-1.5"
        );
        assert_eq!(serialize_item(&parse_item("2.0").unwrap()).unwrap(), "2.0");
        assert!(parse_item("1.").is_err());
        assert!(parse_item("1.2345").is_err());
        assert!(parse_item("1234567890123456").is_err());
        assert!(parse_item("1234567890123.1").is_err());
        assert!(parse_item("-").is_err());
        assert_eq!(
            parse_item("999999999999999").unwrap().bare,
            BareItem::Integer(MAX_INTEGER)
        );
    }

    #[test]
    fn strict_failures() {
        for bad in [
            "a=1,",
            "a=1,,b",
            "A=1",
            "a=\"x",
            "a=\"\\n\"",
            "a=:#:",
            "a=(1",
            "a=(1,2)",
            "a=?2",
            "a=1 b",
            "\ta=1",
            "a=é",
        ] {
            assert!(parse_dictionary(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn byte_sequence_and_display() {
        let item = parse_item(":aGVsbG8=:").unwrap();
        assert_eq!(item.bare, BareItem::ByteSequence(b"hello".to_vec()));
        assert_eq!(parse_item(":aGVsbG8:").unwrap(), item);
        let ds = parse_item("%\"f%c3%bc%c3%bc\"").unwrap();
        assert_eq!(ds.bare, BareItem::DisplayString("füü".into()));
        assert_eq!(serialize_item(&ds).unwrap(), "%\"f%c3%bc%c3%bc\"");
        assert!(parse_item("%\"%C3%BC\"").is_err());
        assert_eq!(parse_item("@-5").unwrap().bare, BareItem::Date(-5));
    }
}
