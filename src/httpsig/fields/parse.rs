//! The RFC 9651 §4.2 parsing algorithms, strict, producing values that borrow
//! from the field text: the verify path reads Signature-Input, Signature and
//! Content-Digest without copying them. The owned model in `fields` is built
//! from these values, so there is one grammar for both.

use super::{LENIENT_B64, SfError};
use base64::Engine as _;

/// A bare item borrowed from the field text (RFC 9651 §3.3).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum BareRef<'a> {
    /// sf-integer.
    Integer(i64),
    /// sf-decimal in thousandths.
    Decimal(i64),
    /// sf-string: the text between the quotes with its escapes in place.
    /// Only `\"` and `\\` exist and both are required, so this text is also
    /// the canonical serialisation (§4.1.6).
    String(&'a str),
    /// sf-token.
    Token(&'a str),
    /// sf-binary: the base64 text between the colons, known to decode.
    ByteSequence(&'a str),
    /// sf-boolean.
    Boolean(bool),
    /// sf-date.
    Date(i64),
    /// sf-displaystring: the text between the quotes, known to decode.
    DisplayString(&'a str),
}

impl<'a> BareRef<'a> {
    /// The string value, unescaped (borrowed unless it had escapes).
    pub(crate) fn unescaped(raw: &'a str) -> std::borrow::Cow<'a, str> {
        if !raw.contains('\\') {
            return std::borrow::Cow::Borrowed(raw);
        }
        let mut out = String::with_capacity(raw.len());
        let mut chars = raw.chars();
        while let Some(c) = chars.next() {
            if c == '\\' {
                if let Some(n) = chars.next() {
                    out.push(n);
                }
            } else {
                out.push(c);
            }
        }
        std::borrow::Cow::Owned(out)
    }
}

/// Parameters borrowed from the field text: the validated text from the first
/// `;` on. Lookups and iteration re-scan it (it is short and already known to
/// be valid), which keeps parsing free of allocation.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct ParamsRef<'a> {
    text: &'a str,
}

impl<'a> ParamsRef<'a> {
    pub(crate) fn is_empty(&self) -> bool {
        self.text.is_empty()
    }

    /// Every `(key, value)` as written, repeats included.
    pub(crate) fn iter(&self) -> impl Iterator<Item = (&'a str, BareRef<'a>)> + 'a {
        let mut p = Parser::new(self.text);
        std::iter::from_fn(move || p.parameter().ok().flatten())
    }

    /// The parameters with each key once, at its first position, holding its
    /// last value (§4.2.3.2): the shape they are serialised in (§4.1.1.2).
    pub(crate) fn to_unique(self) -> Vec<(&'a str, BareRef<'a>)> {
        let mut out: Vec<(&'a str, BareRef<'a>)> = Vec::with_capacity(8);
        for (k, v) in self.iter() {
            match out.iter_mut().find(|(e, _)| *e == k) {
                Some(slot) => slot.1 = v,
                None => out.push((k, v)),
            }
        }
        out
    }
}

/// An item with its parameters.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct ItemRef<'a> {
    pub(crate) bare: BareRef<'a>,
    pub(crate) params: ParamsRef<'a>,
}

/// An inner list: the validated text between the parentheses, how many items
/// it holds, and its parameters.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct InnerListRef<'a> {
    items: &'a str,
    len: usize,
    pub(crate) params: ParamsRef<'a>,
}

impl<'a> InnerListRef<'a> {
    pub(crate) fn len(&self) -> usize {
        self.len
    }

    pub(crate) fn items(&self) -> impl Iterator<Item = ItemRef<'a>> + 'a {
        let mut p = Parser::new(self.items);
        std::iter::from_fn(move || {
            p.skip_sp();
            if p.is_empty() { None } else { p.item().ok() }
        })
    }
}

/// A list member or dictionary value.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum EntryRef<'a> {
    Item(ItemRef<'a>),
    InnerList(InnerListRef<'a>),
}

pub(crate) struct Parser<'a> {
    text: &'a str,
    input: &'a [u8],
    pos: usize,
}

impl<'a> Parser<'a> {
    pub(crate) fn new(input: &'a str) -> Self {
        Self {
            text: input,
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

    /// The text from `start` to the current position. Every position the
    /// parser stops at is after an ASCII byte, so this is a char boundary.
    fn slice(&self, start: usize) -> &'a str {
        self.text.get(start..self.pos).unwrap_or_default()
    }

    /// §4.2 top level: strip leading and trailing SP, the value must use all input.
    pub(crate) fn top<T>(
        mut self,
        f: impl FnOnce(&mut Self) -> Result<T, SfError>,
    ) -> Result<T, SfError> {
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

    // §4.2.1 / §4.2.2 share the "member, OWS, comma, OWS" loop.
    pub(crate) fn list(&mut self) -> Result<Vec<EntryRef<'a>>, SfError> {
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

    /// §4.2.2, keeping repeated keys in order (the caller decides).
    pub(crate) fn dictionary(&mut self) -> Result<Vec<(&'a str, EntryRef<'a>)>, SfError> {
        let mut out = Vec::with_capacity(2);
        while !self.is_empty() {
            let key = self.key()?;
            let entry = if self.peek() == Some(b'=') {
                self.pos += 1;
                self.item_or_inner_list()?
            } else {
                EntryRef::Item(ItemRef {
                    bare: BareRef::Boolean(true),
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

    fn item_or_inner_list(&mut self) -> Result<EntryRef<'a>, SfError> {
        if self.peek() == Some(b'(') {
            self.inner_list().map(EntryRef::InnerList)
        } else {
            self.item().map(EntryRef::Item)
        }
    }

    // §4.2.1.2
    fn inner_list(&mut self) -> Result<InnerListRef<'a>, SfError> {
        if self.next() != Some(b'(') {
            return self.err("expected `(`");
        }
        let start = self.pos;
        let mut len = 0usize;
        loop {
            self.skip_sp();
            match self.peek() {
                None => return self.err("unterminated inner list"),
                Some(b')') => {
                    let items = self.slice(start);
                    self.pos += 1;
                    let params = self.parameters()?;
                    return Ok(InnerListRef { items, len, params });
                }
                Some(_) => {
                    self.item()?;
                    len += 1;
                    match self.peek() {
                        Some(b' ' | b')') => {}
                        _ => return self.err("expected SP or `)` in inner list"),
                    }
                }
            }
        }
    }

    // §4.2.3
    pub(crate) fn item(&mut self) -> Result<ItemRef<'a>, SfError> {
        let bare = self.bare_item()?;
        let params = self.parameters()?;
        Ok(ItemRef { bare, params })
    }

    // §4.2.3.2
    fn parameters(&mut self) -> Result<ParamsRef<'a>, SfError> {
        let start = self.pos;
        while self.parameter()?.is_some() {}
        Ok(ParamsRef {
            text: self.slice(start),
        })
    }

    /// One `;key[=value]`, or `None` when the next byte is not `;`.
    fn parameter(&mut self) -> Result<Option<(&'a str, BareRef<'a>)>, SfError> {
        if self.peek() != Some(b';') {
            return Ok(None);
        }
        self.pos += 1;
        self.skip_sp();
        let key = self.key()?;
        let value = if self.peek() == Some(b'=') {
            self.pos += 1;
            self.bare_item()?
        } else {
            BareRef::Boolean(true)
        };
        Ok(Some((key, value)))
    }

    // §4.2.3.3
    fn key(&mut self) -> Result<&'a str, SfError> {
        let start = self.pos;
        match self.peek() {
            Some(c) if c.is_ascii_lowercase() || c == b'*' => {}
            _ => return self.err("expected key (lowercase letter or `*`)"),
        }
        while self.peek().is_some_and(super::is_key_char) {
            self.pos += 1;
        }
        Ok(self.slice(start))
    }

    // §4.2.3.1
    pub(crate) fn bare_item(&mut self) -> Result<BareRef<'a>, SfError> {
        match self.peek() {
            Some(b'-' | b'0'..=b'9') => self.number(),
            Some(b'"') => self.string(),
            Some(b':') => self.byte_sequence(),
            Some(b'?') => self.boolean(),
            Some(b'@') => self.date(),
            Some(b'%') => self.display_string(),
            Some(c) if c.is_ascii_alphabetic() || c == b'*' => self.token(),
            _ => self.err("expected a bare item"),
        }
    }

    // §4.2.4
    fn number(&mut self) -> Result<BareRef<'a>, SfError> {
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
                    // At most 15 + 3 digits: cannot overflow an i64.
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
            return Ok(BareRef::Integer(sign * value));
        }
        if frac_digits == 0 {
            return self.err("decimal ends with `.`");
        }
        // Scale to thousandths so the value is held exactly.
        for _ in frac_digits..3 {
            value *= 10;
        }
        Ok(BareRef::Decimal(sign * value))
    }

    // §4.2.5
    fn string(&mut self) -> Result<BareRef<'a>, SfError> {
        self.pos += 1;
        let start = self.pos;
        loop {
            match self.next() {
                None => return self.err("unterminated string"),
                Some(b'\\') => match self.next() {
                    Some(b'"' | b'\\') => {}
                    _ => return self.err("bad escape in string"),
                },
                Some(b'"') => {
                    let raw = self.text.get(start..self.pos - 1).unwrap_or_default();
                    return Ok(BareRef::String(raw));
                }
                Some(0x20..=0x7e) => {}
                Some(_) => return self.err("control character in string"),
            }
        }
    }

    // §4.2.6
    fn token(&mut self) -> Result<BareRef<'a>, SfError> {
        let start = self.pos;
        self.pos += 1;
        while self
            .peek()
            .is_some_and(|c| super::is_tchar(c) || c == b':' || c == b'/')
        {
            self.pos += 1;
        }
        Ok(BareRef::Token(self.slice(start)))
    }

    // §4.2.7
    fn byte_sequence(&mut self) -> Result<BareRef<'a>, SfError> {
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
        let b64 = self.text.get(start..self.pos - 1).unwrap_or_default();
        if decodes(b64) {
            Ok(BareRef::ByteSequence(b64))
        } else {
            Err(SfError::Syntax {
                at: start,
                what: "invalid base64 in byte sequence",
            })
        }
    }

    // §4.2.8
    fn boolean(&mut self) -> Result<BareRef<'a>, SfError> {
        self.pos += 1;
        match self.next() {
            Some(b'1') => Ok(BareRef::Boolean(true)),
            Some(b'0') => Ok(BareRef::Boolean(false)),
            _ => self.err("expected `?0` or `?1`"),
        }
    }

    // §4.2.9
    fn date(&mut self) -> Result<BareRef<'a>, SfError> {
        self.pos += 1;
        match self.number()? {
            BareRef::Integer(i) => Ok(BareRef::Date(i)),
            _ => self.err("date must be an integer"),
        }
    }

    // §4.2.10
    fn display_string(&mut self) -> Result<BareRef<'a>, SfError> {
        self.pos += 1;
        if self.next() != Some(b'"') {
            return self.err("expected `\"` after `%`");
        }
        let start = self.pos;
        loop {
            match self.next() {
                None => return self.err("unterminated display string"),
                Some(b'%') => {
                    let hi = self.next().and_then(lower_hex);
                    let lo = self.next().and_then(lower_hex);
                    if hi.is_none() || lo.is_none() {
                        return self.err("bad percent escape in display string");
                    }
                }
                Some(b'"') => {
                    let raw = self.text.get(start..self.pos - 1).unwrap_or_default();
                    return if decode_display(raw).is_some() {
                        Ok(BareRef::DisplayString(raw))
                    } else {
                        self.err("display string is not UTF-8")
                    };
                }
                Some(0x20..=0x7e) => {}
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

/// Decodes the text of a display string already checked by the parser.
pub(crate) fn decode_display(raw: &str) -> Option<String> {
    let mut bytes = Vec::with_capacity(raw.len());
    let mut it = raw.bytes();
    while let Some(b) = it.next() {
        if b == b'%' {
            let hi = it.next().and_then(lower_hex)?;
            let lo = it.next().and_then(lower_hex)?;
            bytes.push((hi << 4) | lo);
        } else {
            bytes.push(b);
        }
    }
    String::from_utf8(bytes).ok()
}

/// Room for the byte sequences the verify path decodes (signatures, digests)
/// without touching the heap: an Ed25519 signature is 64 bytes, SHA-512 64.
pub(crate) const INLINE_BYTES: usize = 96;

/// Decoded sf-binary: on the stack when it fits, else on the heap.
#[derive(Debug)]
pub(crate) enum DecodedBytes {
    Inline([u8; INLINE_BYTES], usize),
    Heap(Vec<u8>),
}

impl DecodedBytes {
    pub(crate) fn as_slice(&self) -> &[u8] {
        match self {
            Self::Inline(buf, len) => buf.get(..*len).unwrap_or_default(),
            Self::Heap(v) => v,
        }
    }
}

/// Decodes the base64 text of a byte sequence (lenient on padding and pad
/// bits, §4.2.7). `None` when it is not base64.
pub(crate) fn decode_bytes(b64: &str) -> Option<DecodedBytes> {
    // The decoder wants room for its estimate, (len + 3) / 4 * 3 bytes.
    if b64.len() <= INLINE_BYTES / 3 * 4 {
        let mut buf = [0u8; INLINE_BYTES];
        let n = LENIENT_B64.decode_slice(b64, &mut buf).ok()?;
        Some(DecodedBytes::Inline(buf, n))
    } else {
        LENIENT_B64.decode(b64).ok().map(DecodedBytes::Heap)
    }
}

fn decodes(b64: &str) -> bool {
    decode_bytes(b64).is_some()
}
