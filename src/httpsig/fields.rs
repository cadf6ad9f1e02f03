//! Structured Field Values (RFC 9651, compatible with RFC 8941): the parts that
//! Signature-Input, Signature and Content-Digest use. Parsing follows the
//! algorithms of RFC 9651 §4.2 to the letter (strict: any deviation fails);
//! serialisation follows §4.1 and is canonical, so parse → serialise → parse
//! is the identity on values.

use crate::text::is_tchar;
use base64::Engine as _;
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

mod parse;

pub(crate) use parse::{
    BareRef, EntryRef, ItemRef, MemberScan, NoScan, ParamsRef, Parser, decode_bytes,
    single_byte_sequence_member,
};

impl BareRef<'_> {
    fn to_owned_item(self) -> BareItem {
        match self {
            Self::Integer(i) => BareItem::Integer(i),
            Self::Decimal(d) => BareItem::Decimal(d),
            Self::String(raw) => BareItem::String(BareRef::unescaped(raw).into_owned()),
            Self::Token(t) => BareItem::Token(t.to_owned()),
            Self::ByteSequence(b64) => BareItem::ByteSequence(
                decode_bytes(b64)
                    .map(|d| d.as_slice().to_vec())
                    .unwrap_or_default(),
            ),
            Self::Boolean(b) => BareItem::Boolean(b),
            Self::Date(d) => BareItem::Date(d),
            Self::DisplayString(raw) => {
                BareItem::DisplayString(parse::decode_display(raw).unwrap_or_default())
            }
        }
    }
}

impl ParamsRef<'_> {
    pub(crate) fn to_owned_params(self) -> Parameters {
        let mut out = Vec::new();
        for (k, v) in self.iter() {
            insert_overwrite(&mut out, k.to_owned(), v.to_owned_item());
        }
        out
    }
}

impl ItemRef<'_> {
    pub(crate) fn to_owned_item(self) -> Item {
        Item {
            bare: self.bare.to_owned_item(),
            params: self.params.to_owned_params(),
        }
    }
}

impl EntryRef<'_> {
    fn to_owned_entry(self) -> Entry {
        match self {
            Self::Item(i) => Entry::Item(i.to_owned_item()),
            Self::InnerList(l) => Entry::InnerList(
                l.items().map(ItemRef::to_owned_item).collect(),
                l.params.to_owned_params(),
            ),
        }
    }
}

/// RFC 9651 §4.2.7: parsers SHOULD NOT fail on missing padding or non-zero
/// pad bits; the value (not the spelling) is what round-trips. The engine
/// `parse::decode_bytes` decodes byte sequences with.
const LENIENT_B64: base64::engine::GeneralPurpose = base64::engine::GeneralPurpose::new(
    &base64::alphabet::STANDARD,
    base64::engine::GeneralPurposeConfig::new()
        .with_decode_padding_mode(base64::engine::DecodePaddingMode::Indifferent)
        .with_decode_allow_trailing_bits(true),
);

fn is_key_char(c: u8) -> bool {
    c.is_ascii_lowercase() || c.is_ascii_digit() || matches!(c, b'_' | b'-' | b'.' | b'*')
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
/// `Err(None)` for bytes that are not UTF-8 (the parser refuses non-ASCII),
/// `Err(Some(len))` when longer than `max`.
pub(crate) fn combine_lines<'h>(
    headers: &'h http::HeaderMap,
    name: &http::HeaderName,
    max: usize,
) -> Result<Option<std::borrow::Cow<'h, str>>, Option<usize>> {
    let mut lines = headers.get_all(name).iter();
    let Some(first) = lines.next() else {
        return Ok(None);
    };
    // A field value has no leading or trailing whitespace (RFC 9110 §5.5); a
    // parser strips it off the wire, but a `HeaderValue` built in code can
    // still carry it, and RFC 9651 parsing only skips leading spaces.
    // Only UTF-8 is checked here (a fast scan); the structured-field parser
    // then refuses anything that is not ASCII, controls included.
    let ows = |v: &'h http::HeaderValue| line_text(v).ok_or(None);
    let mut combined = std::borrow::Cow::Borrowed(ows(first)?);
    for v in lines {
        let s = ows(v)?;
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

/// One field line without leading or trailing whitespace (see
/// [`combine_lines`]); `None` when it is not UTF-8.
pub(crate) fn line_text(v: &http::HeaderValue) -> Option<&str> {
    let mut b = v.as_bytes();
    while let [b' ' | b'\t', rest @ ..] = b {
        b = rest;
    }
    while let [rest @ .., b' ' | b'\t'] = b {
        b = rest;
    }
    std::str::from_utf8(b).ok()
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
    Ok(parse_dictionary_ref(input)?
        .into_iter()
        .map(|(k, v)| (k.to_owned(), v.to_owned_entry()))
        .collect())
}

/// Parses an sf-dictionary borrowing from `input`, repeated keys kept.
pub(crate) fn parse_dictionary_ref(input: &str) -> Result<Vec<(&str, EntryRef<'_>)>, SfError> {
    Parser::new(input).top(Parser::dictionary)
}

/// Parses an sf-list (RFC 9651 §4.2.1).
///
/// # Errors
/// [`SfError::Syntax`] when the input does not follow the grammar.
pub fn parse_list(input: &str) -> Result<Vec<Entry>, SfError> {
    Ok(Parser::new(input)
        .top(Parser::list)?
        .into_iter()
        .map(EntryRef::to_owned_entry)
        .collect())
}

/// Parses an sf-item (RFC 9651 §4.2.3).
///
/// # Errors
/// [`SfError::Syntax`] when the input does not follow the grammar.
pub fn parse_item(input: &str) -> Result<Item, SfError> {
    Ok(Parser::new(input).top(Parser::item)?.to_owned_item())
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

/// Writes borrowed parameters (already one per key, see
/// [`ParamsRef::to_unique`]) in canonical form (§4.1.1.2): what the verifier
/// needs for `@signature-params` without copying the field into owned values.
pub(crate) fn write_parameters_ref<'a>(
    out: &mut String,
    params: impl IntoIterator<Item = (&'a str, BareRef<'a>)>,
) {
    for (key, value) in params {
        out.push(';');
        // Keys were checked by the parser, so they are canonical as written.
        out.push_str(key);
        if value != BareRef::Boolean(true) {
            out.push('=');
            write_bare_ref(out, value);
        }
    }
}

/// Writes a borrowed bare item in canonical form (§4.1.3.1). Strings and
/// tokens are canonical as parsed; numbers, byte sequences and display
/// strings are re-serialised.
pub(crate) fn write_bare_ref(out: &mut String, bare: BareRef<'_>) {
    match bare {
        BareRef::String(raw) => {
            out.push('"');
            out.push_str(raw);
            out.push('"');
        }
        BareRef::Token(t) => out.push_str(t),
        BareRef::Integer(i) => push_integer(out, i),
        BareRef::Date(d) => {
            out.push('@');
            push_integer(out, d);
        }
        BareRef::Boolean(b) => out.push_str(if b { "?1" } else { "?0" }),
        BareRef::ByteSequence(b64) => {
            out.push(':');
            if let Some(bytes) = decode_bytes(b64) {
                base64::engine::general_purpose::STANDARD.encode_string(bytes.as_slice(), out);
            }
            out.push(':');
        }
        // Parsed values are in range, so these cannot fail.
        other => {
            let _ = write_bare(out, &other.to_owned_item());
        }
    }
}

fn write_integer(out: &mut String, i: i64) -> Result<(), SfError> {
    if !(-MAX_INTEGER..=MAX_INTEGER).contains(&i) {
        return Err(SfError::Unserialisable("integer out of range"));
    }
    push_integer(out, i);
    Ok(())
}

/// Appends the decimal digits of `i` without the `fmt` machinery: signature
/// parameters carry two timestamps and this runs on every signature.
pub(crate) fn push_integer(out: &mut String, i: i64) {
    if i < 0 {
        out.push('-');
    }
    let mut n = i.unsigned_abs();
    let mut digits = [0u8; 20];
    let mut at = digits.len();
    loop {
        at -= 1;
        if let Some(d) = digits.get_mut(at) {
            // `n % 10` is below 10, so the cast cannot truncate.
            *d = b'0' + (n % 10) as u8;
        }
        n /= 10;
        if n == 0 || at == 0 {
            break;
        }
    }
    if let Some(Ok(s)) = digits.get(at..).map(std::str::from_utf8) {
        out.push_str(s);
    }
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
    fn borrowed_parameters_serialise_like_owned() {
        // The verifier writes @signature-params from borrowed values; it must
        // give the same canonical text as the owned model.
        for input in [
            "(\"a\");a=1;b;c=?0;a=2",
            "(\"a\"); a=1.50;b=-0.0;c=007",
            "(\"a\");b=:aGVsbG8:;c=:aGVsbG8=:",
            "(\"a\");d=%\"f%c3%bc\";e=\"q\\\"x\\\\\"",
            "(\"a\");f=@-5;g=tok/en:x;h=?1",
            "()",
        ] {
            let owned = match parse_item_or_list(input) {
                Entry::InnerList(_, params) => params,
                Entry::Item(_) => unreachable!(),
            };
            let mut want = String::new();
            write_parameters(&mut want, &owned).unwrap();
            let text = format!("k={input}");
            let dict = parse_dictionary_ref(&text).unwrap();
            let Some((_, EntryRef::InnerList(list))) = dict.first() else {
                panic!("{input}")
            };
            let mut got = String::new();
            write_parameters_ref(&mut got, list.params.to_unique().as_slice().iter().copied());
            assert_eq!(got, want, "{input}");
        }
    }

    proptest::proptest! {
        // Random (often non-canonical) parameter spellings: the borrowed
        // writer used for @signature-params must agree with the owned model.
        #[test]
        fn borrowed_parameters_agree_with_owned(
            params in r#"(; ?[a-c*][a-c0-9]?(=(-?[0-9]{1,4}(\.[0-9]{1,3})?|"[a-z\\\\"]{0,3}"|\?[01]|:[A-Za-z0-9+/]{0,6}={0,2}:|[a-z*][a-z/:]{0,3}|@-?[0-9]{1,3}|%"[a-z%0-9]{0,4}"))?){0,6}"#
        ) {
            let input = format!("k=(\"a\"){params}");
            let parsed = parse_dictionary(&input);
            // Fails the test if most generated spellings do not even parse.
            proptest::prop_assume!(parsed.is_ok());
            if let Ok(owned) = parsed {
                let Some((_, Entry::InnerList(_, owned))) = owned.first() else {
                    panic!("{input}")
                };
                let mut want = String::new();
                write_parameters(&mut want, owned).unwrap();
                let dict = parse_dictionary_ref(&input).unwrap();
                let Some((_, EntryRef::InnerList(list))) = dict.first() else {
                    panic!("{input}")
                };
                let mut got = String::new();
                write_parameters_ref(&mut got, list.params.to_unique().as_slice().iter().copied());
                proptest::prop_assert_eq!(got, want);
            }
        }
    }

    fn parse_item_or_list(input: &str) -> Entry {
        let dict = parse_dictionary(&format!("k={input}")).unwrap();
        dict.into_iter().next().unwrap().1
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
