//! Structured Field Values (RFC 9651, compatible with RFC 8941) through the
//! `sfv` crate: its parser (strict, RFC 9651 §4.2, Date and Display String
//! included) fills the owned model below through sfv's visitor API, and its
//! serialiser writes the canonical form (§4.1). The model is what component
//! parameters (`;sf`, `;key`) and the fuzz targets use; the verify path
//! reads Signature-Input, Signature and Content-Digest with visitors of its
//! own (`verify.rs`, `digest.rs`). See docs/adr/0009-structured-fields.md.

use sfv::visitor::{
    DictionaryVisitor, EntryVisitor, Ignored, InnerListVisitor, ItemVisitor, ListVisitor,
    ParameterVisitor,
};
use sfv::{BareItemFromInput, KeyRef, RefBareItem};
use std::convert::Infallible;

/// Why a structured field failed to parse or serialise.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum SfError {
    /// The input did not follow the RFC 9651 §4.2 grammar.
    #[error("malformed structured field: {0}")]
    Syntax(String),
    /// A value cannot be serialised (out of range or bad characters).
    #[error("cannot serialise structured field: {0}")]
    Unserialisable(&'static str),
}

/// sfv's parse error in ours (sfv's types stay out of the public API).
fn syntax(e: sfv::Error) -> SfError {
    SfError::Syntax(e.to_string())
}

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

impl From<BareItemFromInput<'_>> for BareItem {
    fn from(v: BareItemFromInput<'_>) -> Self {
        match v {
            BareItemFromInput::Integer(i) => Self::Integer(i64::from(i)),
            BareItemFromInput::Decimal(d) => Self::Decimal(i64::from(d.as_integer_scaled_1000())),
            BareItemFromInput::String(s) => Self::String(s.as_str().to_owned()),
            BareItemFromInput::Token(t) => Self::Token(t.as_str().to_owned()),
            BareItemFromInput::ByteSequence(b) => Self::ByteSequence(b),
            BareItemFromInput::Boolean(b) => Self::Boolean(b),
            BareItemFromInput::Date(d) => Self::Date(i64::from(d.unix_seconds())),
            BareItemFromInput::DisplayString(s) => Self::DisplayString(s.into_owned()),
        }
    }
}

/// RFC 9651: a repeated key overwrites the value and keeps the first position.
pub(crate) fn insert_overwrite<K: PartialEq, V>(map: &mut Vec<(K, V)>, key: K, value: V) {
    match map.iter_mut().find(|(k, _)| *k == key) {
        Some(slot) => slot.1 = value,
        None => map.push((key, value)),
    }
}

/// Where an item or inner list being read goes when its parameters are
/// done. The owned model has one item visitor and one parameter visitor, so
/// sfv's generic parsing steps are compiled once for it (Worker size).
enum Dest<'o> {
    /// An item of an inner list.
    ListItem(&'o mut Vec<Item>),
    /// A list member, dictionary value or top-level item.
    Entry(&'o mut Option<Entry>),
}

/// Reads one item into its destination.
struct ItemInto<'o>(Dest<'o>);

impl<'de> ItemVisitor<'de> for ItemInto<'_> {
    type Out = ();
    type Error = Infallible;

    fn bare_item(
        self,
        bare: BareItemFromInput<'de>,
    ) -> Result<impl ParameterVisitor<'de, Out = ()>, Infallible> {
        Ok(ParamsInto {
            value: Value::Item(bare.into()),
            params: Vec::new(),
            out: self.0,
        })
    }
}

/// What the parameters belong to.
enum Value {
    Item(BareItem),
    InnerList(Vec<Item>),
}

/// Reads the parameters, then stores the item or inner list with them.
struct ParamsInto<'o> {
    value: Value,
    params: Parameters,
    out: Dest<'o>,
}

impl<'de> ParameterVisitor<'de> for ParamsInto<'_> {
    type Out = ();
    type Error = Infallible;

    fn parameter(&mut self, key: &'de KeyRef, v: BareItemFromInput<'de>) -> Result<(), Infallible> {
        insert_overwrite(&mut self.params, key.as_str().to_owned(), v.into());
        Ok(())
    }

    fn finish(self) -> Result<(), Infallible> {
        let params = self.params;
        match (self.value, self.out) {
            (Value::Item(bare), Dest::ListItem(out)) => out.push(Item { bare, params }),
            (Value::Item(bare), Dest::Entry(out)) => {
                *out = Some(Entry::Item(Item { bare, params }))
            }
            (Value::InnerList(items), Dest::Entry(out)) => {
                *out = Some(Entry::InnerList(items, params));
            }
            // Inner lists do not nest (RFC 9651 §3.1.1): sfv never asks.
            (Value::InnerList(_), Dest::ListItem(_)) => {}
        }
        Ok(())
    }
}

/// An inner list being read: its items, then its parameters.
struct InnerInto<'o> {
    items: Vec<Item>,
    out: &'o mut Option<Entry>,
}

impl<'de> InnerListVisitor<'de> for InnerInto<'_> {
    type Error = Infallible;

    fn item(&mut self) -> Result<impl ItemVisitor<'de>, Infallible> {
        Ok(ItemInto(Dest::ListItem(&mut self.items)))
    }

    fn finish(self) -> Result<impl ParameterVisitor<'de>, Infallible> {
        Ok(ParamsInto {
            value: Value::InnerList(self.items),
            params: Vec::new(),
            out: Dest::Entry(self.out),
        })
    }
}

/// One list member or dictionary value, written to `out` when complete.
struct EntryInto<'o>(&'o mut Option<Entry>);

impl<'de> EntryVisitor<'de> for EntryInto<'_> {
    type Error = Infallible;

    fn item(self) -> Result<impl ItemVisitor<'de>, Infallible> {
        Ok(ItemInto(Dest::Entry(self.0)))
    }

    fn inner_list(self) -> Result<impl InnerListVisitor<'de>, Infallible> {
        Ok(InnerInto {
            items: Vec::new(),
            out: self.0,
        })
    }
}

/// Collects dictionary members, repeated keys kept (in order).
#[derive(Default)]
struct DictInto {
    members: Vec<(String, Option<Entry>)>,
}

impl<'de> DictionaryVisitor<'de> for DictInto {
    type Out = Dictionary;
    type Error = Infallible;

    fn entry(&mut self, key: &'de KeyRef) -> Result<impl EntryVisitor<'de>, Infallible> {
        self.members.push((key.as_str().to_owned(), None));
        // Just pushed, so there is a last member.
        let slot = self.members.last_mut().map(|(_, e)| e);
        Ok(slot.map(EntryInto))
    }

    fn finish(self) -> Result<Dictionary, Infallible> {
        // sfv calls `finish` only after every member parsed, so each slot is
        // filled; an empty one would be a bug, never a silent default.
        Ok(self
            .members
            .into_iter()
            .filter_map(|(k, e)| e.map(|e| (k, e)))
            .collect())
    }
}

#[derive(Default)]
struct ListInto {
    members: Vec<Option<Entry>>,
}

impl<'de> ListVisitor<'de> for ListInto {
    type Out = Vec<Entry>;
    type Error = Infallible;

    fn entry(&mut self) -> Result<impl EntryVisitor<'de>, Infallible> {
        self.members.push(None);
        Ok(self.members.last_mut().map(EntryInto))
    }

    fn finish(self) -> Result<Vec<Entry>, Infallible> {
        Ok(self.members.into_iter().flatten().collect())
    }
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
    sfv::Parser::new(input)
        .parse_dictionary_with_visitor(DictInto::default())
        .map_err(syntax)
}

/// Parses an sf-list (RFC 9651 §4.2.1).
///
/// # Errors
/// [`SfError::Syntax`] when the input does not follow the grammar.
pub fn parse_list(input: &str) -> Result<Vec<Entry>, SfError> {
    sfv::Parser::new(input)
        .parse_list_with_visitor(ListInto::default())
        .map_err(syntax)
}

/// Parses an sf-item (RFC 9651 §4.2.3).
///
/// # Errors
/// [`SfError::Syntax`] when the input does not follow the grammar.
pub fn parse_item(input: &str) -> Result<Item, SfError> {
    let mut out = None;
    sfv::Parser::new(input)
        .parse_item_with_visitor(ItemInto(Dest::Entry(&mut out)))
        .map_err(syntax)?;
    match out {
        Some(Entry::Item(item)) => Ok(item),
        _ => Err(SfError::Syntax("no item".into())),
    }
}

/// The members of a dictionary of byte sequences (Signature, Content-Digest):
/// each key, repeats kept, with its bytes (`None` when the value is not a
/// byte sequence; parameters are ignored). sfv decodes sf-binary leniently
/// on padding and pad bits, as RFC 9651 §4.2.7 asks. One visitor for both
/// fields: one copy of sfv's generic parser in the Worker's wasm.
#[derive(Default)]
pub(crate) struct ByteMembers<'t> {
    pub(crate) members: Vec<(&'t str, Option<Vec<u8>>)>,
}

impl<'t> DictionaryVisitor<'t> for &mut ByteMembers<'t> {
    type Out = ();
    type Error = Infallible;

    fn entry(&mut self, key: &'t KeyRef) -> Result<impl EntryVisitor<'t>, Infallible> {
        self.members.push((key.as_str(), None));
        Ok(self
            .members
            .last_mut()
            .map(|(_, bytes)| SignatureReader(bytes)))
    }

    fn finish(self) -> Result<(), Infallible> {
        Ok(())
    }
}

struct SignatureReader<'m>(&'m mut Option<Vec<u8>>);

impl<'t> EntryVisitor<'t> for SignatureReader<'_> {
    type Error = Infallible;

    fn item(self) -> Result<impl ItemVisitor<'t>, Infallible> {
        Ok(self)
    }

    fn inner_list(self) -> Result<impl InnerListVisitor<'t>, Infallible> {
        Ok(Ignored)
    }
}

impl<'t> ItemVisitor<'t> for SignatureReader<'_> {
    type Out = ();
    type Error = Infallible;

    fn bare_item(
        self,
        bare: BareItemFromInput<'t>,
    ) -> Result<impl ParameterVisitor<'t, Out = ()>, Infallible> {
        if let BareItemFromInput::ByteSequence(b) = bare {
            *self.0 = Some(b);
        }
        Ok(Ignored)
    }
}

// ---------------------------------------------------------------- serialising

/// Our value as sfv's borrowed, validated one (§4.1.3.1 checks the ranges
/// and characters; sfv's types refuse what cannot be serialised).
fn to_ref(bare: &BareItem) -> Result<RefBareItem<'_>, SfError> {
    let int = |i: i64| {
        sfv::Integer::try_from(i).map_err(|_| SfError::Unserialisable("integer out of range"))
    };
    Ok(match bare {
        BareItem::Integer(i) => RefBareItem::Integer(int(*i)?),
        BareItem::Decimal(millis) => RefBareItem::Decimal(sfv::Decimal::from_integer_scaled_1000(
            sfv::Integer::try_from(*millis)
                .map_err(|_| SfError::Unserialisable("decimal out of range"))?,
        )),
        BareItem::String(s) => RefBareItem::String(sfv::StringRef::from_str(s).map_err(|_| {
            SfError::Unserialisable("string has a non-printable or non-ASCII character")
        })?),
        BareItem::Token(t) => RefBareItem::Token(sfv::TokenRef::from_str(t).map_err(|_| {
            SfError::Unserialisable(
                "token must start with a letter or `*` and hold only token characters",
            )
        })?),
        BareItem::ByteSequence(b) => RefBareItem::ByteSequence(b),
        BareItem::Boolean(b) => RefBareItem::Boolean(*b),
        BareItem::Date(d) => RefBareItem::Date(sfv::Date::from_unix_seconds(int(*d)?)),
        BareItem::DisplayString(s) => RefBareItem::DisplayString(s),
    })
}

fn to_key(key: &str) -> Result<&KeyRef, SfError> {
    KeyRef::from_str(key).map_err(|_| {
        SfError::Unserialisable("key must be a lowercase letter or `*` then lcalpha, DIGIT, `_-.*`")
    })
}

/// The parameters as sfv's validated pairs; a repeated key is refused (the
/// model holds each key once).
fn to_params(params: &[(String, BareItem)]) -> Result<Vec<(&KeyRef, RefBareItem<'_>)>, SfError> {
    let mut out = Vec::with_capacity(params.len());
    for (i, (key, value)) in params.iter().enumerate() {
        if params.iter().take(i).any(|(k, _)| k == key) {
            return Err(SfError::Unserialisable("repeated parameter key"));
        }
        out.push((to_key(key)?, to_ref(value)?));
    }
    Ok(out)
}

fn write_inner_list(
    ser: sfv::InnerListSerializer<'_>,
    items: &[Item],
    params: &[(String, BareItem)],
) -> Result<(), SfError> {
    let mut ser = ser;
    for item in items {
        let _ = ser
            .bare_item(to_ref(&item.bare)?)
            .parameters(to_params(&item.params)?);
    }
    let _ = ser.finish().parameters(to_params(params)?);
    Ok(())
}

/// Serialises a dictionary (RFC 9651 §4.1.2) with sfv's serialiser.
///
/// # Errors
/// [`SfError::Unserialisable`] for out-of-range numbers, bad keys or strings.
pub fn serialize_dictionary(dict: &[(String, Entry)]) -> Result<String, SfError> {
    // Every serialiser here writes into a `&mut String` (never owns one):
    // one instance of each of sfv's generic serialisers in the Worker.
    let mut out = String::new();
    let mut ser = sfv::DictSerializer::with_buffer(&mut out);
    for (key, entry) in dict {
        let key = to_key(key)?;
        match entry {
            Entry::Item(item) => {
                let _ = ser
                    .bare_item(key, to_ref(&item.bare)?)
                    .parameters(to_params(&item.params)?);
            }
            Entry::InnerList(items, params) => {
                write_inner_list(ser.inner_list(key), items, params)?
            }
        }
    }
    let _ = ser.finish();
    Ok(out)
}

/// Serialises a list (RFC 9651 §4.1.1) with sfv's serialiser.
///
/// # Errors
/// [`SfError::Unserialisable`] for out-of-range numbers, bad keys or strings.
pub fn serialize_list(list: &[Entry]) -> Result<String, SfError> {
    let mut out = String::new();
    let mut ser = sfv::ListSerializer::with_buffer(&mut out);
    for entry in list {
        match entry {
            Entry::Item(item) => {
                let _ = ser
                    .bare_item(to_ref(&item.bare)?)
                    .parameters(to_params(&item.params)?);
            }
            Entry::InnerList(items, params) => write_inner_list(ser.inner_list(), items, params)?,
        }
    }
    let _ = ser.finish();
    Ok(out)
}

/// Serialises an item (RFC 9651 §4.1.3) with sfv's serialiser.
///
/// # Errors
/// [`SfError::Unserialisable`] for out-of-range numbers, bad keys or strings.
pub fn serialize_item(item: &Item) -> Result<String, SfError> {
    let mut out = String::new();
    let _ = sfv::ItemSerializer::with_buffer(&mut out)
        .bare_item(to_ref(&item.bare)?)
        .parameters(to_params(&item.params)?);
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
    let mut ser = sfv::ListSerializer::with_buffer(&mut out);
    write_inner_list(ser.inner_list(), items, params)?;
    let _ = ser.finish();
    Ok(out)
}

/// Appends `;key=value` parameters (RFC 9651 §4.1.1.2) with sfv's
/// serialiser. sfv hands out a parameter serialiser only after a bare item,
/// so one (`?0`, two bytes) is written first and taken out again.
pub(crate) fn write_sfv_parameters<'b, K: AsRef<KeyRef>>(
    out: &mut String,
    params: impl IntoIterator<Item = (K, RefBareItem<'b>)>,
) {
    let start = out.len();
    let _ = sfv::ItemSerializer::with_buffer(out)
        .bare_item(false)
        .parameters(params);
    out.replace_range(start..start + 2, "");
}

/// Our parameters in canonical form (for component identifiers).
pub(crate) fn write_parameters(
    out: &mut String,
    params: &[(String, BareItem)],
) -> Result<(), SfError> {
    write_sfv_parameters(out, to_params(params)?);
    Ok(())
}

/// An sf-string in canonical form (§4.1.6).
pub(crate) fn write_string(out: &mut String, s: &str) -> Result<(), SfError> {
    let s = sfv::StringRef::from_str(s).map_err(|_| {
        SfError::Unserialisable("string has a non-printable or non-ASCII character")
    })?;
    let _ = sfv::ItemSerializer::with_buffer(out).bare_item(s);
    Ok(())
}

/// An sf-integer in canonical form (§4.1.4).
pub(crate) fn write_integer(out: &mut String, i: i64) -> Result<(), SfError> {
    let i =
        sfv::Integer::try_from(i).map_err(|_| SfError::Unserialisable("integer out of range"))?;
    let _ = sfv::ItemSerializer::with_buffer(out).bare_item(i);
    Ok(())
}

// ---------------------------------------------------------------- field lines

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
    std::str::from_utf8(trim_ows(v.as_bytes())).ok()
}

/// `b` without leading or trailing spaces and tabs (OWS, RFC 9110 §5.6.3).
pub(crate) fn trim_ows(mut b: &[u8]) -> &[u8] {
    while let [b' ' | b'\t', rest @ ..] = b {
        b = rest;
    }
    while let [rest @ .., b' ' | b'\t'] = b {
        b = rest;
    }
    b
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
            BareItem::Integer(999_999_999_999_999)
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

    #[test]
    fn parameters_are_written_with_sfv() {
        let mut out = String::from("(\"a\")");
        write_parameters(
            &mut out,
            &[
                ("b".into(), BareItem::Boolean(true)),
                ("c".into(), BareItem::Decimal(1500)),
            ],
        )
        .unwrap();
        assert_eq!(out, "(\"a\");b;c=1.5");
        assert!(write_parameters(&mut out, &[("B".into(), BareItem::Boolean(true))]).is_err());
        let mut s = String::new();
        write_string(&mut s, "q\"x\\").unwrap();
        assert_eq!(s, "\"q\\\"x\\\\\"");
        assert!(write_integer(&mut s, 1_000_000_000_000_000).is_err());
    }
}
