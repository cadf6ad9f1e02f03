//! The RFC 9651 §4.2 parsing algorithms, strict, producing values that borrow
//! from the field text: the verify path reads Signature-Input, Signature and
//! Content-Digest without copying them. The owned model in `fields` is built
//! from these values, so there is one grammar for both.

use super::{LENIENT_B64, SfError};

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

    /// The parameters as written (validated), from the first `;` on.
    pub(crate) fn as_str(&self) -> &'a str {
        self.text
    }

    /// Every `(key, value)` as written, repeats included.
    pub(crate) fn iter(&self) -> impl Iterator<Item = (&'a str, BareRef<'a>)> + 'a {
        let mut p = Parser::new(self.text);
        std::iter::from_fn(move || p.parameter().ok().flatten())
    }

    /// The parameters with each key once, at its first position, holding its
    /// last value (§4.2.3.2): the shape they are serialised in (§4.1.1.2).
    /// Signature parameters are few, so they are collected on the stack.
    pub(crate) fn to_unique(self) -> UniqueParams<'a> {
        let mut out = UniqueParams {
            inline: [("", BareRef::Boolean(false)); INLINE_PARAMS],
            len: 0,
            spilled: Vec::new(),
        };
        for (k, v) in self.iter() {
            out.insert(k, v);
        }
        out
    }
}

const INLINE_PARAMS: usize = 8;

/// Parameters with unique keys, see [`ParamsRef::to_unique`].
#[derive(Debug)]
pub(crate) struct UniqueParams<'a> {
    inline: [(&'a str, BareRef<'a>); INLINE_PARAMS],
    len: usize,
    /// All of them, once there are more than fit inline.
    spilled: Vec<(&'a str, BareRef<'a>)>,
}

impl<'a> UniqueParams<'a> {
    pub(crate) fn as_slice(&self) -> &[(&'a str, BareRef<'a>)] {
        if self.spilled.is_empty() {
            self.inline.get(..self.len).unwrap_or_default()
        } else {
            &self.spilled
        }
    }

    fn insert(&mut self, key: &'a str, value: BareRef<'a>) {
        if !self.spilled.is_empty() {
            match self.spilled.iter_mut().find(|(k, _)| *k == key) {
                Some(slot) => slot.1 = value,
                None => self.spilled.push((key, value)),
            }
            return;
        }
        let len = self.len;
        if let Some(slot) = self
            .inline
            .get_mut(..len)
            .and_then(|s| s.iter_mut().find(|(k, _)| *k == key))
        {
            slot.1 = value;
        } else if let Some(slot) = self.inline.get_mut(len) {
            *slot = (key, value);
            self.len += 1;
        } else {
            self.spilled = self.inline.to_vec();
            self.spilled.push((key, value));
        }
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

    /// The items as written (validated), between the parentheses.
    pub(crate) fn items_text(&self) -> &'a str {
        self.items
    }

    /// Calls `f` on each item, stopping at its first error. Inlined into the
    /// caller: an iterator's `next` returned each item through memory, and
    /// copying it back out stalled store forwarding on every item.
    #[inline(always)]
    pub(crate) fn try_for_each_item<E>(
        &self,
        mut f: impl FnMut(ItemRef<'a>) -> Result<(), E>,
    ) -> Result<(), E> {
        let mut p = Parser::new(self.items);
        loop {
            p.skip_sp();
            if p.is_empty() {
                return Ok(());
            }
            match p.item() {
                Ok(item) => f(item)?,
                // Validated text: cannot happen; the caller counts items.
                Err(Fail) => return Ok(()),
            }
        }
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

/// Receives the parts of chosen dictionary members while they are parsed
/// (see [`Parser::dictionary_scan`]).
pub(crate) trait MemberScan<'a> {
    /// Called with the key of each member whose value is an inner list,
    /// before the list is parsed; true to receive its items and parameters.
    fn begin(&mut self, key: &'a str) -> bool;
    /// Each item of the chosen inner list, in order.
    fn item(&mut self, item: ItemRef<'a>);
    /// Each parameter of the chosen inner list (not of its items), in order,
    /// repeats included.
    fn param(&mut self, key: &'a str, value: BareRef<'a>);
}

/// Asks for nothing.
pub(crate) struct NoScan;

impl<'a> MemberScan<'a> for NoScan {
    #[inline(always)]
    fn begin(&mut self, _: &'a str) -> bool {
        false
    }

    #[inline(always)]
    fn item(&mut self, _: ItemRef<'a>) {}

    #[inline(always)]
    fn param(&mut self, _: &'a str, _: BareRef<'a>) {}
}

/// A parse step failed; the reason is in [`Parser`]'s `error`.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Fail;

type R<T> = Result<T, Fail>;

pub(crate) struct Parser<'a> {
    text: &'a str,
    input: &'a [u8],
    pos: usize,
    error: Option<SfError>,
}

impl<'a> Parser<'a> {
    pub(crate) fn new(input: &'a str) -> Self {
        Self {
            text: input,
            input: input.as_bytes(),
            pos: 0,
            error: None,
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

    /// Records why parsing failed and fails. The error travels beside the
    /// results, not in them, so every step returns a small `Result`.
    fn err<T>(&mut self, what: &'static str) -> R<T> {
        self.fail_at(self.pos, what)
    }

    fn fail_at<T>(&mut self, at: usize, what: &'static str) -> R<T> {
        self.error = Some(SfError::Syntax { at, what });
        Err(Fail)
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
    #[inline(always)]
    fn slice(&self, start: usize) -> &'a str {
        self.text.get(start..self.pos).unwrap_or_default()
    }

    /// §4.2 top level: strip leading and trailing SP, the value must use all input.
    pub(crate) fn top<T>(mut self, f: impl FnOnce(&mut Self) -> R<T>) -> Result<T, SfError> {
        // Structured fields are ASCII; a non-ASCII byte anywhere is a parse failure.
        if !self.input.is_ascii() {
            return Err(SfError::Syntax {
                at: self.input.iter().position(|b| !b.is_ascii()).unwrap_or(0),
                what: "non-ASCII byte",
            });
        }
        self.skip_sp();
        let parsed = f(&mut self).and_then(|out| {
            self.skip_sp();
            if self.is_empty() {
                Ok(out)
            } else {
                self.err("unexpected trailing characters")
            }
        });
        parsed.map_err(|Fail| {
            self.error.take().unwrap_or(SfError::Syntax {
                at: self.pos,
                what: "malformed",
            })
        })
    }

    // §4.2.1 / §4.2.2 share the "member, OWS, comma, OWS" loop.
    pub(crate) fn list(&mut self) -> R<Vec<EntryRef<'a>>> {
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
    fn comma_or_end(&mut self) -> R<bool> {
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
    pub(crate) fn dictionary(&mut self) -> R<Vec<(&'a str, EntryRef<'a>)>> {
        let mut out = Vec::with_capacity(2);
        self.dictionary_each(|key, entry| out.push((key, entry)))?;
        Ok(out)
    }

    /// §4.2.2, handing each member to `f` as it is parsed (nothing is
    /// collected). The whole dictionary is still checked.
    pub(crate) fn dictionary_each(&mut self, f: impl FnMut(&'a str, EntryRef<'a>)) -> R<()> {
        self.dictionary_scan(&mut NoScan, f)
    }

    /// [`Parser::dictionary_each`] that also hands the items and parameters
    /// of the inner lists `scan` asks for to it, in the same pass: a caller
    /// that needs them (the verifier, for the signature it will check)
    /// does not scan the member a second time.
    #[inline(always)]
    pub(crate) fn dictionary_scan(
        &mut self,
        scan: &mut impl MemberScan<'a>,
        mut f: impl FnMut(&'a str, EntryRef<'a>),
    ) -> R<()> {
        while !self.is_empty() {
            let key = self.key()?;
            let entry = if self.peek() == Some(b'=') {
                self.pos += 1;
                if self.peek() == Some(b'(') && scan.begin(key) {
                    EntryRef::InnerList(self.inner_list_with(scan)?)
                } else {
                    self.item_or_inner_list()?
                }
            } else {
                EntryRef::Item(ItemRef {
                    bare: BareRef::Boolean(true),
                    params: self.parameters()?,
                })
            };
            f(key, entry);
            if self.comma_or_end()? {
                break;
            }
        }
        Ok(())
    }

    fn item_or_inner_list(&mut self) -> R<EntryRef<'a>> {
        if self.peek() == Some(b'(') {
            self.inner_list().map(EntryRef::InnerList)
        } else {
            self.item().map(EntryRef::Item)
        }
    }

    // §4.2.1.2
    fn inner_list(&mut self) -> R<InnerListRef<'a>> {
        self.inner_list_with(&mut NoScan)
    }

    /// §4.2.1.2, handing each item and each parameter of the list to `scan`.
    #[inline(always)]
    fn inner_list_with(&mut self, scan: &mut impl MemberScan<'a>) -> R<InnerListRef<'a>> {
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
                    let params = self.parameters_each(scan)?;
                    return Ok(InnerListRef { items, len, params });
                }
                // Strings (every component identifier) by their own step,
                // so the item is built with its variant known: a value
                // merged from `bare_item`'s arms goes through memory and is
                // copied back out in pieces that store forwarding cannot
                // serve.
                Some(b'"') => {
                    let bare = BareRef::String(self.string_text()?);
                    let params = self.parameters()?;
                    scan.item(ItemRef { bare, params });
                    len += 1;
                    match self.peek() {
                        Some(b' ' | b')') => {}
                        _ => return self.err("expected SP or `)` in inner list"),
                    }
                }
                Some(_) => {
                    let item = self.item()?;
                    scan.item(item);
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
    #[inline(always)]
    pub(crate) fn item(&mut self) -> R<ItemRef<'a>> {
        let bare = self.bare_item()?;
        let params = self.parameters()?;
        Ok(ItemRef { bare, params })
    }

    // §4.2.3.2
    /// The parameters at the start of the input, for unit tests elsewhere.
    #[cfg(test)]
    pub(crate) fn item_params_for_test(&mut self) -> ParamsRef<'a> {
        self.parameters().unwrap_or(ParamsRef { text: "" })
    }

    /// §4.2.3.2, handing each parameter to `scan`. Strings and plain
    /// integers (the usual signature parameters) are read by their own
    /// steps, so `scan` sees the variant as a constant (see
    /// `inner_list_with`; a closure here was not inlined, which undid that).
    #[inline(always)]
    fn parameters_each(&mut self, scan: &mut impl MemberScan<'a>) -> R<ParamsRef<'a>> {
        let start = self.pos;
        while self.peek() == Some(b';') {
            self.pos += 1;
            self.skip_sp();
            let key = self.key()?;
            if self.peek() != Some(b'=') {
                scan.param(key, BareRef::Boolean(true));
                continue;
            }
            self.pos += 1;
            match self.peek() {
                Some(b'"') => scan.param(key, BareRef::String(self.string_text()?)),
                Some(b'0'..=b'9') if let Some(i) = self.plain_integer() => {
                    scan.param(key, BareRef::Integer(i));
                }
                _ => scan.param(key, self.bare_item()?),
            }
        }
        Ok(ParamsRef {
            text: self.slice(start),
        })
    }

    #[inline(always)]
    fn parameters(&mut self) -> R<ParamsRef<'a>> {
        let start = self.pos;
        while self.parameter()?.is_some() {}
        Ok(ParamsRef {
            text: self.slice(start),
        })
    }

    /// One `;key[=value]`, or `None` when the next byte is not `;`.
    #[inline(always)]
    fn parameter(&mut self) -> R<Option<(&'a str, BareRef<'a>)>> {
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
    #[inline(always)]
    fn key(&mut self) -> R<&'a str> {
        let start = self.pos;
        match self.peek() {
            Some(c) if c.is_ascii_lowercase() || c == b'*' => {}
            _ => return self.err("expected key (lowercase letter or `*`)"),
        }
        self.skip_class(KEY);
        Ok(self.slice(start))
    }

    // §4.2.3.1. Inlined, like the other per-item steps: small values returned
    // through memory and re-read at once stall store forwarding, which cost
    // more than the code.
    #[inline(always)]
    pub(crate) fn bare_item(&mut self) -> R<BareRef<'a>> {
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
    fn number(&mut self) -> R<BareRef<'a>> {
        let negative = if self.peek() == Some(b'-') {
            self.pos += 1;
            true
        } else {
            false
        };
        if !matches!(self.peek(), Some(b'0'..=b'9')) {
            return self.err("expected digit");
        }
        if let Some(value) = self.plain_integer() {
            return Ok(BareRef::Integer(if negative { -value } else { value }));
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

    /// The common integer (`created`, `expires`) at the current position: a
    /// run of one to 15 digits not followed by `.`, which §4.2.4 reads as
    /// that integer. `None` (nothing consumed) for anything else.
    #[inline(always)]
    fn plain_integer(&mut self) -> Option<i64> {
        let rest = self.input.get(self.pos..).unwrap_or_default();
        let run = rest
            .iter()
            .position(|c| !c.is_ascii_digit())
            .unwrap_or(rest.len());
        if run == 0 || run > 15 || rest.get(run) == Some(&b'.') {
            return None;
        }
        let value = rest
            .get(..run)?
            .iter()
            .fold(0i64, |v, &c| v * 10 + i64::from(c - b'0'));
        self.pos += run;
        Some(value)
    }

    // §4.2.5
    #[inline(always)]
    fn string(&mut self) -> R<BareRef<'a>> {
        self.string_text().map(BareRef::String)
    }

    /// §4.2.5: the text between the quotes, escapes in place.
    #[inline(always)]
    fn string_text(&mut self) -> R<&'a str> {
        self.pos += 1;
        let start = self.pos;
        loop {
            // Skip a run of plain characters at once: every component
            // identifier and most parameters are strings.
            self.skip_class(STRING_PLAIN);
            match self.next() {
                None => return self.err("unterminated string"),
                Some(b'\\') => match self.next() {
                    Some(b'"' | b'\\') => {}
                    _ => return self.err("bad escape in string"),
                },
                Some(b'"') => {
                    return Ok(self.text.get(start..self.pos - 1).unwrap_or_default());
                }
                Some(_) => return self.err("control character in string"),
            }
        }
    }

    /// Advances over the bytes in character class `class` (one table load
    /// per byte: strings, keys, tokens and base64 are most of a field).
    #[inline(always)]
    fn skip_class(&mut self, class: u8) {
        let rest = self.input.get(self.pos..).unwrap_or_default();
        self.pos += rest
            .iter()
            .position(|&c| CLASSES.get(usize::from(c)).copied().unwrap_or(0) & class == 0)
            .unwrap_or(rest.len());
    }

    // §4.2.6
    fn token(&mut self) -> R<BareRef<'a>> {
        let start = self.pos;
        self.pos += 1;
        self.skip_class(TOKEN);
        Ok(BareRef::Token(self.slice(start)))
    }

    // §4.2.7
    fn byte_sequence(&mut self) -> R<BareRef<'a>> {
        self.pos += 1;
        let start = self.pos;
        // One pass: the data characters, then the padding, then `:`, with
        // the lenient decoder's rules (padding only at the end, never more
        // than canonical, no lone trailing symbol);
        // `tests::byte_sequence_parser_matches_the_decoder` holds it to them.
        self.skip_class(BASE64_DATA);
        let data = self.pos - start;
        while self.peek() == Some(b'=') {
            self.pos += 1;
        }
        let pad = self.pos - start - data;
        match self.next() {
            None => return self.err("unterminated byte sequence"),
            Some(b':') => {}
            // Data after padding.
            Some(c) if CLASSES.get(usize::from(c)).is_some_and(|k| k & BASE64 != 0) => {
                return self.fail_at(start, "invalid base64 in byte sequence");
            }
            Some(_) => return self.err("bad character in byte sequence"),
        }
        if data % 4 == 1 || pad > (4 - data % 4) % 4 {
            return self.fail_at(start, "invalid base64 in byte sequence");
        }
        Ok(BareRef::ByteSequence(
            self.text.get(start..self.pos - 1).unwrap_or_default(),
        ))
    }

    // §4.2.8
    fn boolean(&mut self) -> R<BareRef<'a>> {
        self.pos += 1;
        match self.next() {
            Some(b'1') => Ok(BareRef::Boolean(true)),
            Some(b'0') => Ok(BareRef::Boolean(false)),
            _ => self.err("expected `?0` or `?1`"),
        }
    }

    // §4.2.9
    fn date(&mut self) -> R<BareRef<'a>> {
        self.pos += 1;
        match self.number()? {
            BareRef::Integer(i) => Ok(BareRef::Date(i)),
            _ => self.err("date must be an integer"),
        }
    }

    // §4.2.10
    fn display_string(&mut self) -> R<BareRef<'a>> {
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

/// Character classes, as bits of [`CLASSES`].
const KEY: u8 = 1; // lcalpha / DIGIT / "_" / "-" / "." / "*" (§3.1.2)
const TOKEN: u8 = 2; // tchar / ":" / "/" (§3.3.4)
const STRING_PLAIN: u8 = 4; // printable ASCII except `"` and `\` (§3.3.3)
const BASE64: u8 = 8; // ALPHA / DIGIT / "+" / "/" / "=" (§3.3.5)
const BASE64_DATA: u8 = 16; // the same without "="

/// The class bits of every byte, built at compile time; the unit test
/// `classes_match_the_predicates` holds it to the serialiser's predicates.
#[allow(
    clippy::indexing_slicing,
    reason = "evaluated at compile time, `i` < 256"
)]
static CLASSES: [u8; 256] = {
    let mut t = [0u8; 256];
    let mut i = 0;
    while i < 256 {
        let c = i as u8;
        let mut bits = 0;
        if c.is_ascii_lowercase() || c.is_ascii_digit() || matches!(c, b'_' | b'-' | b'.' | b'*') {
            bits |= KEY;
        }
        if c.is_ascii_alphanumeric()
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
                    | b':'
                    | b'/'
            )
        {
            bits |= TOKEN;
        }
        if c != b'"' && c != b'\\' && c >= 0x20 && c <= 0x7e {
            bits |= STRING_PLAIN;
        }
        if c.is_ascii_alphanumeric() || c == b'+' || c == b'/' {
            bits |= BASE64 | BASE64_DATA;
        }
        if c == b'=' {
            bits |= BASE64;
        }
        t[i] = bits;
        i += 1;
    }
    t
};

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

/// The usual shape of a Signature field, one member
/// `key=:base64:` without parameters, recognised without the general
/// parser. `None` for anything else (the caller then parses the field in
/// full); what it accepts, the parser accepts as the same single member
/// (`tests::single_byte_sequence_member_agrees_with_the_parser`).
#[inline(always)]
pub(crate) fn single_byte_sequence_member(text: &str) -> Option<(&str, EntryRef<'_>)> {
    let bytes = text.as_bytes();
    let class = |c: u8| CLASSES.get(usize::from(c)).copied().unwrap_or(0);
    match bytes.first() {
        Some(c) if c.is_ascii_lowercase() || *c == b'*' => {}
        _ => return None,
    }
    let key_len = bytes.iter().position(|&c| class(c) & KEY == 0)?;
    let inner = bytes
        .get(key_len..)?
        .strip_prefix(b"=:")?
        .strip_suffix(b":")?;
    // The byte-sequence rules of `Parser::byte_sequence`: data characters,
    // then at most the canonical padding, no lone trailing symbol. Every
    // data byte is looked up with no early exit: leaving a per-byte loop at
    // a data-dependent point is a mispredicted branch, dearer than the loop.
    let pad = inner.iter().rev().take_while(|&&c| c == b'=').count();
    let (data, _) = inner.split_at_checked(inner.len() - pad)?;
    let bad = data.iter().fold(0u8, |acc, &c| acc | !class(c)) & BASE64_DATA;
    if bad != 0 || data.len() % 4 == 1 || pad > (4 - data.len() % 4) % 4 {
        return None;
    }
    let key = text.get(..key_len)?;
    let b64 = text.get(key_len + 2..text.len() - 1)?;
    Some((
        key,
        EntryRef::Item(ItemRef {
            bare: BareRef::ByteSequence(b64),
            params: ParamsRef { text: "" },
        }),
    ))
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
/// bits, §4.2.7) with the `base64` crate's `fields::LENIENT_B64` engine.
/// `None` when it is not base64. The padding rule the parser applies
/// (padding only at the end, never more than canonical, no lone trailing
/// symbol) is checked first, so both refuse the same texts. Measured
/// against the hand-rolled table decoder this replaced (issue 19): 44 and
/// 88 characters (a SHA-256 digest, an Ed25519 signature) within noise,
/// 0.85x-1.12x.
#[inline(always)] // the result is large: built in the caller's frame, not copied
pub(crate) fn decode_bytes(b64: &str) -> Option<DecodedBytes> {
    use base64::Engine as _;
    let input = b64.as_bytes();
    let data_len = input.len() - input.iter().rev().take_while(|&&c| c == b'=').count();
    let pad = input.len() - data_len;
    if data_len % 4 == 1 || pad > (4 - data_len % 4) % 4 {
        return None;
    }
    let len = data_len / 4 * 3 + (data_len % 4).saturating_sub(1);
    if len <= INLINE_BYTES {
        let mut inline = [0u8; INLINE_BYTES];
        let n = LENIENT_B64.decode_slice(input, &mut inline).ok()?;
        Some(DecodedBytes::Inline(inline, n))
    } else {
        LENIENT_B64.decode(input).ok().map(DecodedBytes::Heap)
    }
}

/// Whether `b64` (characters already limited to the base64 alphabet and `=`)
/// decodes under `LENIENT_B64`: padding only at the end and never more
/// than canonical, and no lone trailing symbol. The rule the parser and
/// `decode_bytes` apply inline, stated once for the tests
/// (`tests::base64_check_matches_decoder` holds it to the decoder).
#[cfg(test)]
fn is_base64(b64: &[u8]) -> bool {
    let data = b64.iter().position(|&c| c == b'=').unwrap_or(b64.len());
    let pad = b64.len() - data;
    let canonical_pad = (4 - data % 4) % 4;
    b64.get(data..)
        .is_some_and(|p| p.iter().all(|&c| c == b'='))
        && data % 4 != 1
        && pad <= canonical_pad
}

#[cfg(test)]
mod tests {
    use super::*;
    use base64::Engine as _;

    #[test]
    fn classes_match_the_predicates() {
        for c in 0..=255u8 {
            let has = |class: u8| CLASSES[usize::from(c)] & class != 0;
            assert_eq!(has(KEY), super::super::is_key_char(c), "{c}");
            assert_eq!(
                has(TOKEN),
                crate::text::is_tchar(c) || c == b':' || c == b'/',
                "{c}"
            );
            assert_eq!(
                has(STRING_PLAIN),
                c != b'"' && c != b'\\' && (0x20..=0x7e).contains(&c),
                "{c}"
            );
            assert_eq!(
                has(BASE64),
                c.is_ascii_alphanumeric() || c == b'+' || c == b'/' || c == b'=',
                "{c}"
            );
            assert_eq!(has(BASE64_DATA), has(BASE64) && c != b'=', "{c}");
        }
    }

    #[test]
    fn decoder_matches_the_engine() {
        let alphabet = [b'A', b'z', b'9', b'+', b'/', b'=', b'-', b'Q'];
        for len in 0..=7u32 {
            for n in 0..8usize.pow(len) {
                let s: Vec<u8> = (0..len).map(|i| alphabet[n / 8usize.pow(i) % 8]).collect();
                let s = String::from_utf8(s).unwrap();
                let ours = decode_bytes(&s).map(|d| d.as_slice().to_vec());
                assert_eq!(ours, LENIENT_B64.decode(&s).ok(), "{s}");
            }
        }
        // Long inputs (heap) and a real 32-byte digest.
        let bytes: Vec<u8> = (0..=255u8).cycle().take(1000).collect();
        for len in [0, 1, 2, 3, 31, 32, 33, 64, 95, 96, 97, 200, 1000] {
            let b = bytes.get(..len).unwrap();
            let plain = base64::engine::general_purpose::STANDARD.encode(b);
            let bare = base64::engine::general_purpose::STANDARD_NO_PAD.encode(b);
            assert_eq!(decode_bytes(&plain).unwrap().as_slice(), b);
            assert_eq!(decode_bytes(&bare).unwrap().as_slice(), b);
        }
    }

    #[test]
    fn single_byte_sequence_member_agrees_with_the_parser() {
        let alphabet = [b'A', b'z', b'9', b'+', b'/', b'=', b'-', b':'];
        let mut hits = 0;
        for key in ["sig1", "*", "a-b.c_*", "A", "1a", "", "a b"] {
            for tail in ["", " ", ";p", ", b=:AA:", "x", ":"] {
                for len in 0..=5u32 {
                    for n in 0..8usize.pow(len) {
                        let inner: Vec<u8> =
                            (0..len).map(|i| alphabet[n / 8usize.pow(i) % 8]).collect();
                        let inner = String::from_utf8(inner).unwrap();
                        let text = format!("{key}=:{inner}:{tail}");
                        let full = Parser::new(&text).top(Parser::dictionary);
                        let Some(fast) = single_byte_sequence_member(&text) else {
                            // Every field of that exact shape is taken.
                            assert!(
                                !tail.is_empty() || !full.as_ref().is_ok_and(|f| f.len() == 1),
                                "{text}"
                            );
                            continue;
                        };
                        hits += 1;
                        assert_eq!(full.unwrap(), [fast], "{text}");
                    }
                }
            }
        }
        assert!(hits > 2000, "{hits}");
        let sig = "sig1=:K2qGT5srn2OGbOIDzQ6kYT+ruaycnDAAUpKv+ePFfD0=:";
        assert!(single_byte_sequence_member(sig).is_some());
    }

    #[test]
    fn byte_sequence_parser_matches_the_decoder() {
        let alphabet = [b'A', b'z', b'9', b'+', b'/', b'=', b'-', b':'];
        for len in 0..=7u32 {
            for n in 0..8usize.pow(len) {
                let inner: Vec<u8> = (0..len).map(|i| alphabet[n / 8usize.pow(i) % 8]).collect();
                let inner = String::from_utf8(inner).unwrap();
                let text = format!(":{inner}:");
                let parsed = Parser::new(&text).top(|p| p.bare_item());
                let expected = !inner.contains(':') && LENIENT_B64.decode(&inner).is_ok();
                assert_eq!(parsed.is_ok(), expected, "{text}");
                if let Ok(BareRef::ByteSequence(b64)) = parsed {
                    assert_eq!(b64, inner);
                }
            }
        }
    }

    #[test]
    fn base64_check_matches_decoder() {
        let alphabet = [b'A', b'Q', b'/', b'='];
        for len in 0..=9u32 {
            for n in 0..4usize.pow(len) {
                let s: Vec<u8> = (0..len).map(|i| alphabet[n / 4usize.pow(i) % 4]).collect();
                assert_eq!(
                    is_base64(&s),
                    LENIENT_B64.decode(&s).is_ok(),
                    "{}",
                    String::from_utf8_lossy(&s)
                );
            }
        }
    }
}
