//! The crate's one JSON reader (RFC 8259, docs/adr/0002): every JSON
//! document the library reads (the JWT header and claims, key sets,
//! discovery documents, policies, saved state) goes through it, as a
//! `serde::Deserializer` that makes the visitor calls serde_json makes, so
//! every `Deserialize` type reads the same. It checks nesting depth as it
//! goes and scans strings sixteen bytes at a time. The serde glue
//! (`&mut Reader` as a `Deserializer`) is in `de_impl.rs`.
//!
//! Refused: duplicate member names (after unescaping), trailing commas,
//! comments, leading zeros, `NaN` / `Infinity`, raw control characters and
//! invalid escapes in strings, lone UTF-16 surrogates, numbers beyond
//! `f64`, anything after the value. Unlike serde_json, skipped values
//! (`IgnoredAny`) are held to the same rules as read ones (lone
//! surrogates, numbers out of range), so whether a document is well formed
//! does not depend on which members the caller reads; and a struct is read
//! from an object only, never from an array of its fields.

use std::fmt;

use serde::de::{self, Expected, Unexpected, Visitor};

mod de_impl;

pub(crate) use de_impl::Name;

/// Nesting limit for documents (key sets, discovery, policies, saved
/// state): serde_json's.
pub(crate) const MAX_DOCUMENT_DEPTH: usize = 128;

/// A JSON document that is not well formed or does not fit what the
/// library expected, with where: the line and column in multi-line
/// documents, else the byte offset.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct JsonError {
    msg: String,
    at: Option<usize>,
    /// 1-based line and column (in characters), set by the document
    /// entry points from the text on the error path only.
    line_column: Option<(usize, usize)>,
    /// The name, when the error is a repeated member name.
    duplicate: Option<String>,
}

impl JsonError {
    // Errors are the rare path: kept out of line so that the reader's hot
    // code stays dense in the instruction cache (validation shares it with
    // the signature check, which evicts what it does not need).
    #[cold]
    #[inline(never)]
    pub(crate) fn new(msg: impl fmt::Display, at: usize) -> Self {
        Self {
            msg: msg.to_string(),
            at: Some(at),
            line_column: None,
            duplicate: None,
        }
    }

    /// A member name seen twice in one object, at byte `at` (escaped
    /// and clipped in the message: documents come off the wire).
    #[cold]
    #[inline(never)]
    pub(crate) fn duplicate(name: String, at: usize) -> Self {
        let shown = crate::text::printable(&name, 128);
        let mut e = Self::new(format_args!("duplicate member `{shown}`"), at);
        e.duplicate = Some(name);
        e
    }

    /// The repeated member name, when that is the error.
    pub(crate) fn duplicate_name(&self) -> Option<&str> {
        self.duplicate.as_deref()
    }

    /// Places an error raised by a visitor (which knows no position).
    pub(crate) fn at(mut self, pos: usize) -> Self {
        self.at.get_or_insert(pos);
        self
    }

    /// Adds the line and column of the error's offset in `text`, for
    /// documents read by people (a policy file).
    #[cold]
    #[inline(never)]
    pub(crate) fn locate(mut self, text: &str) -> Self {
        if let Some(at) = self.at {
            let before = text.get(..at).unwrap_or(text);
            let line_start = before.rfind('\n').map_or(0, |i| i.saturating_add(1));
            let line = before.matches('\n').count().saturating_add(1);
            let column = before
                .get(line_start..)
                .map_or(0, |l| l.chars().count())
                .saturating_add(1);
            self.line_column = Some((line, column));
        }
        self
    }

    /// What was wrong, without the position.
    pub fn message(&self) -> &str {
        &self.msg
    }

    /// The byte offset in the document where the error was found, when
    /// known.
    pub fn offset(&self) -> Option<usize> {
        self.at
    }

    /// The 1-based line of the error, for documents read with lines.
    pub fn line(&self) -> Option<usize> {
        self.line_column.map(|(l, _)| l)
    }

    /// The 1-based column (in characters) of the error, for documents
    /// read with lines.
    pub fn column(&self) -> Option<usize> {
        self.line_column.map(|(_, c)| c)
    }
}

impl fmt::Display for JsonError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match (self.line_column, self.at) {
            (Some((line, column)), _) => write!(f, "{} at line {line} column {column}", self.msg),
            (None, Some(at)) => write!(f, "{} at byte {at}", self.msg),
            (None, None) => f.write_str(&self.msg),
        }
    }
}

impl std::error::Error for JsonError {}

impl de::Error for JsonError {
    #[cold]
    #[inline(never)]
    fn custom<T: fmt::Display>(msg: T) -> Self {
        Self {
            msg: msg.to_string(),
            at: None,
            line_column: None,
            duplicate: None,
        }
    }

    // serde's defaults print an unexpected float with core's float
    // formatting and a string with `Debug`, which nothing else in a Worker
    // needs (kilobytes of code and tables): the kind of value is named,
    // never the number, and a string is escaped and clipped.
    #[cold]
    #[inline(never)]
    fn invalid_type(unexp: Unexpected<'_>, exp: &dyn Expected) -> Self {
        Self::custom(format_args!(
            "invalid type: {}, expected {exp}",
            Kind(unexp)
        ))
    }

    #[cold]
    #[inline(never)]
    fn invalid_value(unexp: Unexpected<'_>, exp: &dyn Expected) -> Self {
        Self::custom(format_args!(
            "invalid value: {}, expected {exp}",
            Kind(unexp)
        ))
    }
}

/// An unexpected value as serde words it, except that a float is named
/// without its value.
struct Kind<'a>(Unexpected<'a>);

impl fmt::Display for Kind<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self.0 {
            Unexpected::Bool(b) => write!(f, "boolean `{b}`"),
            Unexpected::Unsigned(i) => write!(f, "integer `{i}`"),
            Unexpected::Signed(i) => write!(f, "integer `{i}`"),
            Unexpected::Float(_) => f.write_str("floating point number"),
            Unexpected::Char(c) => write!(f, "character `{c}`"),
            Unexpected::Str(s) => write!(f, "string `{}`", crate::text::printable(s, 128)),
            Unexpected::Bytes(_) => f.write_str("byte array"),
            Unexpected::Unit => f.write_str("null"),
            Unexpected::Option => f.write_str("Option value"),
            Unexpected::NewtypeStruct => f.write_str("newtype struct"),
            Unexpected::Seq => f.write_str("sequence"),
            Unexpected::Map => f.write_str("map"),
            Unexpected::Enum => f.write_str("enum"),
            Unexpected::UnitVariant => f.write_str("unit variant"),
            Unexpected::NewtypeVariant => f.write_str("newtype variant"),
            Unexpected::TupleVariant => f.write_str("tuple variant"),
            Unexpected::StructVariant => f.write_str("struct variant"),
            Unexpected::Other(other) => f.write_str(other),
        }
    }
}

type Result<T> = std::result::Result<T, JsonError>;

/// A JSON number as serde_json classifies it: non-negative integers that
/// fit are `U64`, negative ones that fit `I64`, everything else (fractions,
/// exponents, larger integers, `-0`) `F64`.
#[derive(Debug, Clone, Copy, PartialEq)]
pub(crate) enum Number {
    /// A non-negative integer.
    U64(u64),
    /// A negative integer.
    I64(i64),
    /// Anything else, correctly rounded.
    F64(f64),
}

impl Number {
    /// The value as an `i64`, if it is an integer that fits.
    pub(crate) fn as_i64(self) -> Option<i64> {
        match self {
            Number::U64(u) => i64::try_from(u).ok(),
            Number::I64(i) => Some(i),
            Number::F64(_) => None,
        }
    }

    /// The value as an `f64` (possibly rounded).
    pub(crate) fn as_f64(self) -> f64 {
        match self {
            Number::U64(u) => u as f64,
            Number::I64(i) => i as f64,
            Number::F64(f) => f,
        }
    }

    fn visit<'de, V: Visitor<'de>>(self, visitor: V) -> Result<V::Value> {
        match self {
            Number::U64(u) => visitor.visit_u64(u),
            Number::I64(i) => visitor.visit_i64(i),
            Number::F64(f) => visitor.visit_f64(f),
        }
    }
}

/// A string as read: borrowed from the input when it has no escapes,
/// else decoded into the reader's scratch buffer.
#[derive(Clone, Copy)]
pub(crate) enum Text<'de, 's> {
    Borrowed(&'de str),
    Copied(&'s str),
}

const ONES: u64 = 0x0101_0101_0101_0101;
const HIGHS: u64 = 0x8080_8080_8080_8080;

/// The JSON reader over one text; `&mut Reader` is the deserializer.
pub(crate) struct Reader<'de> {
    text: &'de str,
    pos: usize,
    depth: usize,
    max_depth: usize,
    /// Refuse a member name repeated in any object (documents); the JWT
    /// claims refuse top-level repeats themselves and leave nested
    /// objects to the caller's type, as validation always has.
    unique: bool,
    scratch: String,
    /// Escapes read or skipped so far: a string value without any is
    /// its own span minus the quotes.
    escapes: usize,
}

impl<'de> Reader<'de> {
    /// A reader of `text` allowing `max_depth` nested arrays / objects.
    pub(crate) fn new(text: &'de str, max_depth: usize) -> Self {
        Self {
            text,
            pos: 0,
            depth: 0,
            max_depth,
            unique: false,
            scratch: String::new(),
            escapes: 0,
        }
    }

    /// How many escapes were read or skipped so far.
    pub(crate) fn escapes(&self) -> usize {
        self.escapes
    }

    /// The byte offset of the next unread byte.
    pub(crate) fn pos(&self) -> usize {
        self.pos
    }

    #[cold]
    #[inline(never)]
    pub(crate) fn error(&self, msg: impl fmt::Display) -> JsonError {
        JsonError::new(msg, self.pos)
    }

    fn peek(&self) -> Option<u8> {
        self.text.as_bytes().get(self.pos).copied()
    }

    pub(crate) fn bump(&mut self) {
        self.pos = self.pos.saturating_add(1);
    }

    /// Skips whitespace (RFC 8259 §2: space, tab, LF, CR); the next byte.
    #[inline(always)]
    pub(crate) fn skip_ws(&mut self) -> Option<u8> {
        loop {
            match self.peek() {
                Some(b' ' | b'\n' | b'\t' | b'\r') => self.bump(),
                other => return other,
            }
        }
    }

    /// Refuses anything but whitespace after the value.
    pub(crate) fn end(&mut self) -> Result<()> {
        match self.skip_ws() {
            None => Ok(()),
            Some(_) => Err(self.error("trailing characters after the JSON value")),
        }
    }

    /// Consumes the `:` after a member name.
    #[inline]
    pub(crate) fn expect_colon(&mut self) -> Result<()> {
        self.expect(b':', "`:`")
    }

    /// [`expect_colon`](Self::expect_colon) out of line, for the map
    /// access of every derived type.
    #[inline(never)]
    pub(crate) fn colon(&mut self) -> Result<()> {
        self.expect_colon()
    }

    #[cold]
    #[inline(never)]
    fn unexpected(&self, what: &str) -> JsonError {
        match self.peek() {
            None => self.error(format_args!("unexpected end of JSON, expected {what}")),
            Some(b) => self.error(format_args!("expected {what}, found {}", Shown(b))),
        }
    }

    /// Consumes `byte` (after whitespace) or says what was there instead.
    #[inline]
    fn expect(&mut self, byte: u8, what: &str) -> Result<()> {
        if self.skip_ws() == Some(byte) {
            self.bump();
            Ok(())
        } else {
            Err(self.unexpected(what))
        }
    }

    pub(crate) fn enter(&mut self) -> Result<()> {
        if self.depth >= self.max_depth {
            return Err(self.error(format_args!(
                "JSON nests deeper than {} levels",
                self.max_depth
            )));
        }
        self.depth = self.depth.saturating_add(1);
        Ok(())
    }

    pub(crate) fn leave(&mut self) {
        self.depth = self.depth.saturating_sub(1);
    }

    fn literal(&mut self, word: &'static str) -> Result<()> {
        let end = self.pos.saturating_add(word.len());
        if self.text.as_bytes().get(self.pos..end) == Some(word.as_bytes()) {
            self.pos = end;
            Ok(())
        } else {
            Err(self.error(format_args!("invalid literal, expected `{word}`")))
        }
    }

    /// The offset of the first `"`, `\` or control character at or after
    /// `i` (or the end): sixteen bytes per step while none is near.
    #[inline]
    fn scan_plain(&self, mut i: usize) -> usize {
        let bytes = self.text.as_bytes();
        while let Some(chunk) = i.checked_add(16).and_then(|end| bytes.get(i..end)) {
            let (lo, hi) = chunk.split_at(8);
            let (lo, hi) = (special(word(lo)), special(word(hi)));
            if lo | hi != 0 {
                let skip = if lo != 0 {
                    lo.trailing_zeros()
                } else {
                    64 + hi.trailing_zeros()
                };
                return i.saturating_add(skip as usize / 8);
            }
            i = i.saturating_add(16);
        }
        while let Some(&b) = bytes.get(i) {
            if b == b'"' || b == b'\\' || b < 0x20 {
                break;
            }
            i = i.saturating_add(1);
        }
        i
    }

    /// Reads a string whose opening quote was consumed. The common case,
    /// no escapes, is inlined into callers; the rest is out of line.
    #[inline(always)]
    pub(crate) fn read_str<'s>(&'s mut self) -> Result<Text<'de, 's>> {
        let start = self.pos;
        let i = self.scan_plain(start);
        if self.text.as_bytes().get(i) == Some(&b'"') {
            self.pos = i.saturating_add(1);
            return Ok(Text::Borrowed(self.text.get(start..i).unwrap_or_default()));
        }
        self.read_str_escaped(start, i)
    }

    /// [`read_str`](Self::read_str) from the first byte that is not plain.
    #[inline(never)]
    fn read_str_escaped<'s>(&'s mut self, start: usize, mut i: usize) -> Result<Text<'de, 's>> {
        if self.text.as_bytes().get(i) != Some(&b'\\') {
            return Err(self.string_broken_at(i));
        }
        let mut out = std::mem::take(&mut self.scratch);
        out.clear();
        let mut run = start;
        let result = loop {
            out.push_str(self.text.get(run..i).unwrap_or_default());
            match self.text.as_bytes().get(i) {
                Some(b'"') => {
                    self.pos = i.saturating_add(1);
                    break Ok(());
                }
                Some(b'\\') => {
                    self.pos = i.saturating_add(1);
                    if let Err(e) = self.escape(Some(&mut out)) {
                        break Err(e);
                    }
                    run = self.pos;
                    i = self.scan_plain(run);
                }
                _ => break Err(self.string_broken_at(i)),
            }
        };
        self.scratch = out;
        result.map(|()| Text::Copied(&self.scratch))
    }

    /// The error for a string that stops at `i` without its closing quote:
    /// a control character there, or the end of the text.
    fn string_broken_at(&mut self, i: usize) -> JsonError {
        self.pos = i;
        if i < self.text.len() {
            self.error("control character in string")
        } else {
            self.error("unexpected end of JSON in a string")
        }
    }

    /// Skips a string whose opening quote was consumed, with the same
    /// checks as [`read_str`](Self::read_str).
    #[inline]
    fn skip_str(&mut self) -> Result<()> {
        let i = self.scan_plain(self.pos);
        if self.text.as_bytes().get(i) == Some(&b'"') {
            self.pos = i.saturating_add(1);
            return Ok(());
        }
        self.skip_str_escaped(i)
    }

    #[inline(never)]
    fn skip_str_escaped(&mut self, mut i: usize) -> Result<()> {
        loop {
            match self.text.as_bytes().get(i) {
                Some(b'"') => {
                    self.pos = i.saturating_add(1);
                    return Ok(());
                }
                Some(b'\\') => {
                    self.pos = i.saturating_add(1);
                    self.escape(None)?;
                    i = self.scan_plain(self.pos);
                }
                _ => return Err(self.string_broken_at(i)),
            }
        }
    }

    /// One escape after its backslash (RFC 8259 §7), appended to `out`.
    fn escape(&mut self, out: Option<&mut String>) -> Result<()> {
        self.escapes = self.escapes.wrapping_add(1);
        let c = match self.peek() {
            Some(b'"') => '"',
            Some(b'\\') => '\\',
            Some(b'/') => '/',
            Some(b'b') => '\u{8}',
            Some(b'f') => '\u{c}',
            Some(b'n') => '\n',
            Some(b'r') => '\r',
            Some(b't') => '\t',
            Some(b'u') => {
                self.bump();
                let c = self.unicode_escape()?;
                if let Some(out) = out {
                    out.push(c);
                }
                return Ok(());
            }
            Some(b) => return Err(self.error(format_args!("invalid escape {}", Shown(b)))),
            None => return Err(self.error("unexpected end of JSON in a string")),
        };
        self.bump();
        if let Some(out) = out {
            out.push(c);
        }
        Ok(())
    }

    fn hex4(&mut self) -> Result<u32> {
        let mut n = 0u32;
        for _ in 0..4 {
            let digit = self.peek().and_then(|b| char::from(b).to_digit(16));
            let Some(d) = digit else {
                return Err(self.error("invalid `\\u` escape: expected four hex digits"));
            };
            n = (n << 4) | d;
            self.bump();
        }
        Ok(n)
    }

    /// `\uXXXX` after its `u`; a UTF-16 surrogate must be a high one
    /// followed by `\u` and a low one (serde_json's rule).
    fn unicode_escape(&mut self) -> Result<char> {
        let at = self.pos.saturating_sub(2);
        let lone = |at| JsonError::new("lone UTF-16 surrogate in `\\u` escape", at);
        let n = self.hex4()?;
        if !(0xD800..=0xDFFF).contains(&n) {
            return char::from_u32(n).ok_or_else(|| lone(at));
        }
        if n >= 0xDC00 {
            return Err(lone(at));
        }
        let bytes = self.text.as_bytes();
        let end = self.pos.saturating_add(2);
        if bytes.get(self.pos..end) != Some(b"\\u".as_slice()) {
            return Err(lone(at));
        }
        self.pos = end;
        let low = self.hex4()?;
        if !(0xDC00..=0xDFFF).contains(&low) {
            return Err(lone(at));
        }
        let c = 0x1_0000 + ((n - 0xD800) << 10) + (low - 0xDC00);
        char::from_u32(c).ok_or_else(|| lone(at))
    }

    fn digits(&mut self) -> usize {
        let start = self.pos;
        let rest = self.text.as_bytes().get(start..).unwrap_or_default();
        let n = rest.iter().take_while(|b| b.is_ascii_digit()).count();
        self.pos = start.saturating_add(n);
        n
    }

    /// Reads a number (RFC 8259 §6). With `range_only`, the value is not
    /// wanted and only refused when out of `f64` range (for skipping).
    pub(crate) fn number(&mut self) -> Result<Number> {
        self.read_number(false)
    }

    fn read_number(&mut self, range_only: bool) -> Result<Number> {
        let start = self.pos;
        let negative = self.peek() == Some(b'-');
        if negative {
            self.bump();
        }
        let int_start = self.pos;
        match self.peek() {
            Some(b'0') => {
                self.bump();
                if matches!(self.peek(), Some(b'0'..=b'9')) {
                    return Err(self.error("invalid number: leading zero"));
                }
            }
            Some(b'1'..=b'9') => {
                self.digits();
            }
            _ => return Err(self.unexpected("a digit")),
        }
        let int_text = self
            .text
            .as_bytes()
            .get(int_start..self.pos)
            .unwrap_or_default();
        // Up to 19 digits cannot overflow a u64; 20 may; more do.
        let (significand, big) = match int_text.len() {
            _ if range_only => (0, false),
            0..=19 => (fold_digits(int_text), false),
            20 => int_text
                .iter()
                .try_fold(0u64, |n, &d| {
                    n.checked_mul(10)?.checked_add(u64::from(d - b'0'))
                })
                .map_or((0, true), |n| (n, false)),
            _ => (0, true),
        };
        let int_digits = self.pos.saturating_sub(int_start);
        let mut fraction = false;
        if self.peek() == Some(b'.') {
            self.bump();
            if self.digits() == 0 {
                return Err(self.unexpected("a digit after `.`"));
            }
            fraction = true;
        }
        let mut exponent = false;
        if matches!(self.peek(), Some(b'e' | b'E')) {
            self.bump();
            if matches!(self.peek(), Some(b'+' | b'-')) {
                self.bump();
            }
            if self.digits() == 0 {
                return Err(self.unexpected("a digit in the exponent"));
            }
            exponent = true;
        }
        if !(fraction || exponent || big) {
            return Ok(if !negative {
                Number::U64(significand)
            } else if significand == 0 || significand > 1 << 63 {
                Number::F64(-(significand as f64))
            } else {
                // 2^63 wraps to i64::MIN, which is exactly -2^63.
                Number::I64((significand as i64).wrapping_neg())
            });
        }
        // Without an exponent, fewer than 309 integer digits cannot overflow.
        if range_only && !exponent && int_digits < 300 {
            return Ok(Number::F64(0.0));
        }
        let text = self.text.get(start..self.pos).unwrap_or_default();
        match text.parse::<f64>() {
            Ok(f) if f.is_finite() => Ok(Number::F64(f)),
            _ => Err(JsonError::new("number out of range", start)),
        }
    }

    /// Skips one value, checking it as strictly as reading it would.
    pub(crate) fn skip_value(&mut self) -> Result<()> {
        match self.skip_ws() {
            Some(b'"') => {
                self.bump();
                self.skip_str()
            }
            Some(b'{') => {
                self.enter()?;
                self.bump();
                let mut first = true;
                while self.next_member(&mut first, b'}')? {
                    self.bump();
                    self.skip_str()?;
                    self.expect(b':', "`:`")?;
                    self.skip_value()?;
                }
                self.bump();
                self.leave();
                Ok(())
            }
            Some(b'[') => {
                self.enter()?;
                self.bump();
                let mut first = true;
                while self.next_element(&mut first)? {
                    self.skip_value()?;
                }
                self.bump();
                self.leave();
                Ok(())
            }
            Some(b't') => self.literal("true"),
            Some(b'f') => self.literal("false"),
            Some(b'n') => self.literal("null"),
            Some(b'1'..=b'9') => {
                // A plain integer (the usual NumericDate) is checked by
                // its digits alone; anything else by the full reader.
                let start = self.pos;
                self.digits();
                if matches!(self.peek(), Some(b'.' | b'e' | b'E')) || self.pos - start >= 300 {
                    self.pos = start;
                    return self.read_number(true).map(drop);
                }
                Ok(())
            }
            Some(b'-' | b'0') => self.read_number(true).map(drop),
            _ => Err(self.unexpected("a JSON value")),
        }
    }

    /// Before an object member: `Ok(true)` with the reader on the name's
    /// opening quote, `Ok(false)` on the closing brace (not consumed).
    #[inline(always)]
    pub(crate) fn next_member(&mut self, first: &mut bool, close: u8) -> Result<bool> {
        match self.skip_ws() {
            Some(b) if b == close => return Ok(false),
            Some(b',') if !*first => {
                self.bump();
                match self.skip_ws() {
                    Some(b'"') => {}
                    Some(b) if b == close => return Err(self.error("trailing comma")),
                    _ => return Err(self.unexpected("a member name (a string)")),
                }
            }
            Some(b'"') if *first => {}
            _ if *first => return Err(self.unexpected("a member name (a string) or `}`")),
            _ => return Err(self.unexpected("`,` or `}`")),
        }
        *first = false;
        Ok(true)
    }

    /// Before an array element: `Ok(true)` at the element, `Ok(false)` on
    /// the closing bracket (not consumed).
    fn next_element(&mut self, first: &mut bool) -> Result<bool> {
        match self.skip_ws() {
            Some(b']') => return Ok(false),
            Some(b',') if !*first => {
                self.bump();
                if self.skip_ws() == Some(b']') {
                    return Err(self.error("trailing comma"));
                }
            }
            Some(_) if *first => {}
            _ if *first => return Err(self.unexpected("a JSON value or `]`")),
            _ => return Err(self.unexpected("`,` or `]`")),
        }
        *first = false;
        Ok(true)
    }
}

/// Eight bytes as a little-endian word (zero-padded if fewer).
#[inline]
fn word(bytes: &[u8]) -> u64 {
    let mut w = [0u8; 8];
    for (d, s) in w.iter_mut().zip(bytes) {
        *d = *s;
    }
    u64::from_le_bytes(w)
}

/// The high bit of each byte of `w` that is `"`, `\` or a control
/// character. The lowest set bit is exact for each test (borrows only
/// propagate upwards), so the lowest of the union is too.
#[inline]
fn special(w: u64) -> u64 {
    let quote = w ^ (ONES * u64::from(b'"'));
    let slash = w ^ (ONES * u64::from(b'\\'));
    ((quote.wrapping_sub(ONES) & !quote)
        | (slash.wrapping_sub(ONES) & !slash)
        | (w.wrapping_sub(ONES * 0x20) & !w))
        & HIGHS
}

/// The value of at most 19 ASCII digits (which cannot overflow).
fn fold_digits(digits: &[u8]) -> u64 {
    digits.iter().fold(0u64, |n, &d| {
        n.wrapping_mul(10)
            .wrapping_add(u64::from(d.wrapping_sub(b'0')))
    })
}

/// A byte for an error message.
struct Shown(u8);

impl fmt::Display for Shown {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.0.is_ascii_graphic() {
            write!(f, "`{}`", char::from(self.0))
        } else {
            write!(f, "byte 0x{:02x}", self.0)
        }
    }
}

/// Reads one value of type `T` from the whole of `text` (JWT values:
/// repeated names in objects are left to `T`).
pub(crate) fn from_str<'de, T: de::Deserialize<'de>>(
    text: &'de str,
    max_depth: usize,
) -> Result<T> {
    read(text, max_depth, false)
}

/// [`from_str`], refusing repeated member names in every object when
/// `unique`.
pub(crate) fn read<'de, T: de::Deserialize<'de>>(
    text: &'de str,
    max_depth: usize,
    unique: bool,
) -> Result<T> {
    let mut r = Reader::new(text, max_depth);
    r.unique = unique;
    let value = T::deserialize(&mut r)?;
    r.end()?;
    Ok(value)
}

/// Reads a JSON document (a key set, a discovery document, a policy,
/// saved state) into `T`: depth at most [`MAX_DOCUMENT_DEPTH`], member
/// names unique, errors with their line and column.
pub(crate) fn from_document<'de, T: de::Deserialize<'de>>(text: &'de str) -> Result<T> {
    read(text, MAX_DOCUMENT_DEPTH, true).map_err(|e| e.locate(text))
}

/// [`from_document`] over bytes, which must be UTF-8 (RFC 8259 §8.1).
pub(crate) fn from_document_bytes<'de, T: de::Deserialize<'de>>(bytes: &'de [u8]) -> Result<T> {
    match std::str::from_utf8(bytes) {
        Ok(text) => from_document(text),
        Err(e) => Err(JsonError::not_utf8(bytes, e.valid_up_to())),
    }
}

impl JsonError {
    /// The error for a document whose bytes are UTF-8 up to `valid`
    /// only.
    #[cold]
    #[inline(never)]
    pub(crate) fn not_utf8(bytes: &[u8], valid: usize) -> Self {
        let text = bytes
            .get(..valid)
            .and_then(|b| std::str::from_utf8(b).ok())
            .unwrap_or_default();
        Self::new("invalid UTF-8", valid).locate(text)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn scan_finds_the_first_special_byte_anywhere() {
        let naive = |t: &[u8], from: usize| {
            t.iter()
                .skip(from)
                .position(|&b| b == b'"' || b == b'\\' || b < 0x20)
                .map_or(t.len(), |p| p + from)
        };
        for len in 0..40 {
            for at in 0..len {
                for special in [b'"', b'\\', 0x00, 0x1f, b'\n'] {
                    for filler in [b'a', 0x7f, 0x20, b'!', b']', b'#'] {
                        let mut t = vec![filler; len];
                        t[at] = special;
                        // A second special byte after the first must not matter.
                        if at + 3 < len {
                            t[at + 3] = b'"';
                        }
                        let text = std::str::from_utf8(&t).unwrap();
                        let r = Reader::new(text, 1);
                        for from in 0..=at {
                            assert_eq!(r.scan_plain(from), naive(&t, from), "{t:?} from {from}");
                        }
                    }
                }
            }
            let plain = "é".repeat(len);
            let r = Reader::new(&plain, 1);
            assert_eq!(r.scan_plain(0), plain.len());
        }
    }
}
