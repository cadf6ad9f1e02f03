//! The serde side of the JSON reader: `&mut Reader` as a
//! `serde::Deserializer`, making the visitor calls serde_json makes (map
//! and sequence access, member names, enums, options, wide integers).
//! A typed target (struct, map, sequence, string, identifier) gets only
//! the visitor call its own JSON type makes, so that a derived type's
//! other visitor methods are never instantiated (Worker size): a struct
//! is read from an object only (serde_json also takes an array).

use std::borrow::Cow;
use std::collections::BTreeSet;

use serde::de::{
    self, DeserializeSeed, Deserializer, EnumAccess, Expected, MapAccess, SeqAccess, Unexpected,
    VariantAccess, Visitor,
};
use serde::forward_to_deserialize_any;

use super::{JsonError, Number, Reader, Result, Text};

impl<'de> Reader<'de> {
    /// After a visitor's map: the closing brace, or an error when the
    /// visitor left members unread (as serde_json).
    fn end_map(&mut self) -> Result<()> {
        match self.skip_ws() {
            Some(b'}') => {
                self.bump();
                Ok(())
            }
            Some(b',') => Err(self.error("trailing comma or unread members")),
            _ => Err(self.unexpected("`}`")),
        }
    }

    fn end_seq(&mut self) -> Result<()> {
        match self.skip_ws() {
            Some(b']') => {
                self.bump();
                Ok(())
            }
            Some(b',') => {
                self.bump();
                match self.skip_ws() {
                    Some(b']') => Err(self.error("trailing comma")),
                    _ => Err(self.error("trailing characters: more elements than expected")),
                }
            }
            _ => Err(self.unexpected("`,` or `]`")),
        }
    }

    /// Into the object or array whose opening byte is next: the depth
    /// check and the byte. Out of line, as [`close`](Self::close) and
    /// [`abandon`](Self::abandon): one copy for every visitor.
    #[inline(never)]
    fn open(&mut self) -> Result<()> {
        self.enter()?;
        self.bump();
        Ok(())
    }

    /// After a visitor read an object (`b'}'`) or array: out of it.
    #[inline(never)]
    fn close(&mut self, close: u8) -> Result<()> {
        self.leave();
        if close == b'}' {
            self.end_map()
        } else {
            self.end_seq()
        }
    }

    /// After a visitor failed inside an object or array: out of it, and
    /// the error placed here.
    #[cold]
    #[inline(never)]
    fn abandon(&mut self, e: JsonError) -> JsonError {
        self.leave();
        e.at(self.pos)
    }

    fn visit_map_here<V: Visitor<'de>>(&mut self, visitor: V) -> Result<V::Value> {
        self.open()?;
        match visitor.visit_map(Members {
            r: self,
            first: true,
            names: Names::default(),
        }) {
            Ok(value) => self.close(b'}').map(|()| value),
            Err(e) => Err(self.abandon(e)),
        }
    }

    fn visit_seq_here<V: Visitor<'de>>(&mut self, visitor: V) -> Result<V::Value> {
        self.open()?;
        match visitor.visit_seq(Elements {
            r: self,
            first: true,
        }) {
            Ok(value) => self.close(b']').map(|()| value),
            Err(e) => Err(self.abandon(e)),
        }
    }

    /// `deserialize_any` without placing a visitor's error.
    fn any<V: Visitor<'de>>(&mut self, visitor: V) -> Result<V::Value> {
        match self.skip_ws() {
            Some(b'"') => {
                self.bump();
                match self.read_str()? {
                    Text::Borrowed(s) => visitor.visit_borrowed_str(s),
                    Text::Copied(s) => visitor.visit_str(s),
                }
            }
            Some(b'{') => self.visit_map_here(visitor),
            Some(b'[') => self.visit_seq_here(visitor),
            Some(b't') => {
                self.literal("true")?;
                visitor.visit_bool(true)
            }
            Some(b'f') => {
                self.literal("false")?;
                visitor.visit_bool(false)
            }
            Some(b'n') => {
                self.literal("null")?;
                visitor.visit_unit()
            }
            Some(b'-' | b'0'..=b'9') => self.read_number(false)?.visit(visitor),
            _ => Err(self.unexpected("a JSON value")),
        }
    }

    /// The error for a value that is not of the type the target reads
    /// (one copy for every target: `exp` is the visitor).
    #[cold]
    #[inline(never)]
    fn invalid_here(&mut self, exp: &dyn Expected) -> JsonError {
        let pos = self.pos;
        let unexpected = match self.skip_ws() {
            Some(b'"') => {
                self.bump();
                match self.read_str() {
                    Ok(Text::Borrowed(s) | Text::Copied(s)) => {
                        return de::Error::invalid_type(Unexpected::Str(s), exp);
                    }
                    Err(e) => return e,
                }
            }
            Some(b'{') => Unexpected::Map,
            Some(b'[') => Unexpected::Seq,
            Some(b't') => Unexpected::Bool(true),
            Some(b'f') => Unexpected::Bool(false),
            Some(b'n') => Unexpected::Unit,
            Some(b'-' | b'0'..=b'9') => match self.read_number(false) {
                Ok(Number::U64(u)) => Unexpected::Unsigned(u),
                Ok(Number::I64(i)) => Unexpected::Signed(i),
                Ok(Number::F64(f)) => Unexpected::Float(f),
                Err(e) => return e,
            },
            _ => return self.unexpected("a JSON value"),
        };
        <JsonError as de::Error>::invalid_type(unexpected, exp).at(pos)
    }

    /// A number for a numeric target.
    fn number_only<V: Visitor<'de>>(&mut self, visitor: V) -> Result<V::Value> {
        let pos = self.pos;
        match self.skip_ws() {
            Some(b'-' | b'0'..=b'9') => self.read_number(false)?.visit(visitor),
            _ => Err(self.invalid_here(&visitor)),
        }
        .map_err(|e: JsonError| e.at(pos))
    }

    /// `true` / `false` for a bool target, `null` for a unit one.
    fn literal_only<V: Visitor<'de>>(&mut self, visitor: V, unit: bool) -> Result<V::Value> {
        let pos = self.pos;
        match self.skip_ws() {
            Some(b'n') if unit => {
                self.literal("null")?;
                visitor.visit_unit()
            }
            Some(b't') if !unit => {
                self.literal("true")?;
                visitor.visit_bool(true)
            }
            Some(b'f') if !unit => {
                self.literal("false")?;
                visitor.visit_bool(false)
            }
            _ => Err(self.invalid_here(&visitor)),
        }
        .map_err(|e: JsonError| e.at(pos))
    }

    /// A string for a string or identifier target.
    fn string<V: Visitor<'de>>(&mut self, visitor: V) -> Result<V::Value> {
        let pos = self.pos;
        if self.skip_ws() != Some(b'"') {
            return Err(self.invalid_here(&visitor));
        }
        self.bump();
        match self.read_str()? {
            Text::Borrowed(s) => visitor.visit_borrowed_str(s),
            Text::Copied(s) => visitor.visit_str(s),
        }
        .map_err(|e: JsonError| e.at(pos))
    }

    /// An integer for `i128` / `u128` targets, read exactly (as serde_json,
    /// which refuses any `-` for `u128`).
    fn wide_integer<V: Visitor<'de>>(&mut self, visitor: V, unsigned: bool) -> Result<V::Value> {
        if self.skip_ws() == Some(b'-') && unsigned {
            return Err(de::Error::invalid_type(
                Unexpected::Other("negative number"),
                &visitor,
            ));
        }
        let start = self.pos;
        let number = self.read_number(false)?;
        let text = self.text.get(start..self.pos).unwrap_or_default();
        if let Number::F64(_) = number
            && !text.contains(['.', 'e', 'E'])
        {
            if let Ok(u) = text.parse::<u128>() {
                return visitor.visit_u128(u);
            }
            if let Ok(i) = text.parse::<i128>() {
                return visitor.visit_i128(i);
            }
            return Err(JsonError::new("number out of range", start));
        }
        number.visit(visitor)
    }
}

/// Numeric targets read a number only (as serde_json), so that their
/// visitors' other methods are not instantiated.
macro_rules! numeric_targets {
    ($($method:ident)*) => {
        $(
            fn $method<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value> {
                self.number_only(visitor)
            }
        )*
    };
}

impl<'de> Deserializer<'de> for &mut Reader<'de> {
    type Error = JsonError;

    fn deserialize_any<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value> {
        let pos = self.pos;
        self.any(visitor).map_err(|e| e.at(pos))
    }

    fn deserialize_option<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value> {
        if self.skip_ws() == Some(b'n') {
            self.literal("null")?;
            visitor.visit_none()
        } else {
            visitor.visit_some(self)
        }
    }

    fn deserialize_newtype_struct<V: Visitor<'de>>(
        self,
        _name: &'static str,
        visitor: V,
    ) -> Result<V::Value> {
        visitor.visit_newtype_struct(self)
    }

    fn deserialize_enum<V: Visitor<'de>>(
        self,
        _name: &'static str,
        _variants: &'static [&'static str],
        visitor: V,
    ) -> Result<V::Value> {
        let pos = self.pos;
        match self.skip_ws() {
            Some(b'"') => visitor.visit_enum(UnitVariant { r: self }),
            Some(b'{') => {
                self.enter()?;
                self.bump();
                let value = visitor.visit_enum(Variant { r: self });
                self.leave();
                let value = value.map_err(|e| e.at(pos))?;
                self.expect(b'}', "`}` after the variant's value")?;
                Ok(value)
            }
            _ => Err(self.unexpected("an enum variant (a string or an object)")),
        }
        .map_err(|e| e.at(pos))
    }

    fn deserialize_bytes<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value> {
        let pos = self.pos;
        match self.skip_ws() {
            Some(b'"') => {
                self.bump();
                match self.read_str()? {
                    Text::Borrowed(s) => visitor.visit_borrowed_bytes(s.as_bytes()),
                    Text::Copied(s) => visitor.visit_bytes(s.as_bytes()),
                }
            }
            _ => self.any(visitor),
        }
        .map_err(|e| e.at(pos))
    }

    fn deserialize_byte_buf<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value> {
        self.deserialize_bytes(visitor)
    }

    fn deserialize_i128<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value> {
        let pos = self.pos;
        match self.skip_ws() {
            Some(b'-' | b'0'..=b'9') => self.wide_integer(visitor, false),
            _ => self.any(visitor),
        }
        .map_err(|e: JsonError| e.at(pos))
    }

    fn deserialize_u128<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value> {
        let pos = self.pos;
        match self.skip_ws() {
            Some(b'-' | b'0'..=b'9') => self.wide_integer(visitor, true),
            _ => self.any(visitor),
        }
        .map_err(|e: JsonError| e.at(pos))
    }

    fn deserialize_ignored_any<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value> {
        self.skip_value()?;
        visitor.visit_unit()
    }

    fn deserialize_str<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value> {
        self.string(visitor)
    }

    fn deserialize_string<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value> {
        self.string(visitor)
    }

    fn deserialize_identifier<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value> {
        self.string(visitor)
    }

    fn deserialize_seq<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value> {
        let pos = self.pos;
        if self.skip_ws() != Some(b'[') {
            return Err(self.invalid_here(&visitor));
        }
        self.visit_seq_here(visitor).map_err(|e| e.at(pos))
    }

    fn deserialize_tuple<V: Visitor<'de>>(self, _len: usize, visitor: V) -> Result<V::Value> {
        self.deserialize_seq(visitor)
    }

    fn deserialize_tuple_struct<V: Visitor<'de>>(
        self,
        _name: &'static str,
        _len: usize,
        visitor: V,
    ) -> Result<V::Value> {
        self.deserialize_seq(visitor)
    }

    fn deserialize_map<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value> {
        let pos = self.pos;
        if self.skip_ws() != Some(b'{') {
            return Err(self.invalid_here(&visitor));
        }
        self.visit_map_here(visitor).map_err(|e| e.at(pos))
    }

    /// An object only: serde_json also reads a struct from an array of
    /// its fields in order, which no document here uses.
    fn deserialize_struct<V: Visitor<'de>>(
        self,
        _name: &'static str,
        _fields: &'static [&'static str],
        visitor: V,
    ) -> Result<V::Value> {
        self.deserialize_map(visitor)
    }

    fn deserialize_char<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value> {
        self.string(visitor)
    }

    fn deserialize_bool<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value> {
        self.literal_only(visitor, false)
    }

    fn deserialize_unit<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value> {
        self.literal_only(visitor, true)
    }

    fn deserialize_unit_struct<V: Visitor<'de>>(
        self,
        _name: &'static str,
        visitor: V,
    ) -> Result<V::Value> {
        self.literal_only(visitor, true)
    }

    numeric_targets!(
        deserialize_i8 deserialize_i16 deserialize_i32 deserialize_i64 deserialize_u8
        deserialize_u16 deserialize_u32 deserialize_u64 deserialize_f32 deserialize_f64
    );
}

/// The members of an object for a visitor.
struct Members<'a, 'de> {
    r: &'a mut Reader<'de>,
    first: bool,
    names: Names<'de>,
}

impl<'de> MapAccess<'de> for Members<'_, 'de> {
    type Error = JsonError;

    fn next_key_seed<K: DeserializeSeed<'de>>(&mut self, seed: K) -> Result<Option<K::Value>> {
        match self.next_name()? {
            Some(name) => {
                let at = name.at;
                seed.deserialize(name).map(Some).map_err(|e| e.at(at))
            }
            None => Ok(None),
        }
    }

    fn next_value_seed<S: DeserializeSeed<'de>>(&mut self, seed: S) -> Result<S::Value> {
        self.r.colon()?;
        seed.deserialize(&mut *self.r)
    }
}

impl<'de> Members<'_, 'de> {
    /// The next member's name, read and, in documents, checked against
    /// the names before it; `None` on the closing brace. Out of line:
    /// one copy for every key type (which only gets the text).
    #[inline(never)]
    fn next_name(&mut self) -> Result<Option<Name<'de, '_>>> {
        if !self.r.next_member(&mut self.first, b'}')? {
            return Ok(None);
        }
        let (at, src, unique) = (self.r.pos, self.r.text, self.r.unique);
        self.r.bump();
        let text = self.r.read_str()?;
        if unique {
            let name = match text {
                Text::Borrowed(s) => Cow::Borrowed(s),
                Text::Copied(s) => Cow::Owned(s.to_owned()),
            };
            self.names.insert(name, at)?;
        }
        Ok(Some(Name::new(text, src, at)))
    }
}

/// The member names of one object so far, to refuse a repeated one (after
/// unescaping): a list while short, a tree beyond.
#[derive(Default)]
struct Names<'de> {
    list: Vec<Cow<'de, str>>,
    tree: BTreeSet<Cow<'de, str>>,
}

/// Names kept in a list before moving to the tree.
const LIST_NAMES: usize = 16;

impl<'de> Names<'de> {
    /// Records the member name `name` (unescaped) found at byte `at`, or
    /// refuses a duplicate.
    fn insert(&mut self, name: Cow<'de, str>, at: usize) -> Result<()> {
        let repeated = if self.tree.is_empty() && self.list.len() < LIST_NAMES {
            self.list.contains(&name)
        } else {
            self.tree.extend(self.list.drain(..));
            self.tree.contains(&name)
        };
        if repeated {
            return Err(duplicate(&name, at));
        }
        if self.tree.is_empty() {
            self.list.push(name);
        } else {
            self.tree.insert(name);
        }
        Ok(())
    }
}

#[cold]
#[inline(never)]
fn duplicate(name: &str, at: usize) -> JsonError {
    JsonError::duplicate(name.to_owned(), at)
}

/// The elements of an array for a visitor.
struct Elements<'a, 'de> {
    r: &'a mut Reader<'de>,
    first: bool,
}

impl<'de> SeqAccess<'de> for Elements<'_, 'de> {
    type Error = JsonError;

    fn next_element_seed<S: DeserializeSeed<'de>>(&mut self, seed: S) -> Result<Option<S::Value>> {
        if !self.more()? {
            return Ok(None);
        }
        seed.deserialize(&mut *self.r).map(Some)
    }
}

impl Elements<'_, '_> {
    /// Whether an element comes next (past its comma). Out of line: one
    /// copy for every element type.
    #[inline(never)]
    fn more(&mut self) -> Result<bool> {
        self.r.next_element(&mut self.first)
    }
}

/// A member name already read, for a key's visitor: always a string, as
/// serde_json's map keys (integer and bool targets parse the text). The
/// reading and checking is done once, out of line, for every key type.
pub(crate) struct Name<'de, 's> {
    text: Text<'de, 's>,
    /// The document, and the offset of the name's opening quote in it
    /// (numeric keys are read from there).
    src: &'de str,
    at: usize,
}

impl<'de, 's> Name<'de, 's> {
    /// The name `text`, whose opening quote is at byte `at` of `src`.
    pub(crate) fn new(text: Text<'de, 's>, src: &'de str, at: usize) -> Self {
        Self { text, src, at }
    }

    fn visit_name<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value> {
        match self.text {
            Text::Borrowed(s) => visitor.visit_borrowed_str(s),
            Text::Copied(s) => visitor.visit_str(s),
        }
    }

    /// A number spelled inside the quotes (serde_json's integer keys),
    /// read again from the document. `wide`: `Some(unsigned)` for
    /// `i128` / `u128`.
    fn numeric<V: Visitor<'de>>(self, visitor: V, wide: Option<bool>) -> Result<V::Value> {
        let mut r = Reader::new(self.src, 0);
        r.pos = self.at.saturating_add(1);
        let value = match r.skip_ws() {
            Some(b'-' | b'0'..=b'9') if wide.is_some() => {
                r.wide_integer(visitor, wide == Some(true))
            }
            Some(b'-' | b'0'..=b'9') => r.read_number(false)?.visit(visitor),
            _ => return Err(r.error("expected a number in the quoted member name")),
        }
        .map_err(|e| e.at(self.at))?;
        if r.peek() != Some(b'"') {
            return Err(r.error("expected a number in the quoted member name"));
        }
        Ok(value)
    }
}

macro_rules! numeric_keys {
    ($($method:ident: $wide:expr),*) => {
        $(
            fn $method<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value> {
                self.numeric(visitor, $wide)
            }
        )*
    };
}

impl<'de> Deserializer<'de> for Name<'de, '_> {
    type Error = JsonError;

    fn deserialize_any<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value> {
        self.visit_name(visitor)
    }

    numeric_keys!(
        deserialize_i8: None, deserialize_i16: None, deserialize_i32: None,
        deserialize_i64: None, deserialize_u8: None, deserialize_u16: None,
        deserialize_u32: None, deserialize_u64: None, deserialize_f32: None,
        deserialize_f64: None, deserialize_i128: Some(false), deserialize_u128: Some(true)
    );

    fn deserialize_bool<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value> {
        match self.text {
            Text::Borrowed("true") | Text::Copied("true") => visitor.visit_bool(true),
            Text::Borrowed("false") | Text::Copied("false") => visitor.visit_bool(false),
            Text::Borrowed(s) | Text::Copied(s) => {
                Err(de::Error::invalid_type(Unexpected::Str(s), &visitor))
            }
        }
    }

    fn deserialize_option<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value> {
        visitor.visit_some(self)
    }

    fn deserialize_newtype_struct<V: Visitor<'de>>(
        self,
        _name: &'static str,
        visitor: V,
    ) -> Result<V::Value> {
        visitor.visit_newtype_struct(self)
    }

    /// A unit variant named by the member name.
    fn deserialize_enum<V: Visitor<'de>>(
        self,
        _name: &'static str,
        _variants: &'static [&'static str],
        visitor: V,
    ) -> Result<V::Value> {
        visitor.visit_enum(self)
    }

    fn deserialize_bytes<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value> {
        match self.text {
            Text::Borrowed(s) => visitor.visit_borrowed_bytes(s.as_bytes()),
            Text::Copied(s) => visitor.visit_bytes(s.as_bytes()),
        }
    }

    fn deserialize_byte_buf<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value> {
        self.deserialize_bytes(visitor)
    }

    forward_to_deserialize_any! {
        char str string unit unit_struct seq tuple tuple_struct map struct
        identifier ignored_any
    }
}

impl<'de> EnumAccess<'de> for Name<'de, '_> {
    type Error = JsonError;
    type Variant = NoValue;

    fn variant_seed<S: DeserializeSeed<'de>>(self, seed: S) -> Result<(S::Value, NoValue)> {
        Ok((seed.deserialize(self)?, NoValue))
    }
}

/// The rest of a unit variant: nothing.
pub(crate) struct NoValue;

impl<'de> VariantAccess<'de> for NoValue {
    type Error = JsonError;

    fn unit_variant(self) -> Result<()> {
        Ok(())
    }

    fn newtype_variant_seed<S: DeserializeSeed<'de>>(self, _seed: S) -> Result<S::Value> {
        Err(de::Error::invalid_type(
            Unexpected::UnitVariant,
            &"newtype variant",
        ))
    }

    fn tuple_variant<V: Visitor<'de>>(self, _len: usize, _visitor: V) -> Result<V::Value> {
        Err(de::Error::invalid_type(
            Unexpected::UnitVariant,
            &"tuple variant",
        ))
    }

    fn struct_variant<V: Visitor<'de>>(
        self,
        _fields: &'static [&'static str],
        _visitor: V,
    ) -> Result<V::Value> {
        Err(de::Error::invalid_type(
            Unexpected::UnitVariant,
            &"struct variant",
        ))
    }
}

/// `"Variant"`: a unit variant.
struct UnitVariant<'a, 'de> {
    r: &'a mut Reader<'de>,
}

impl<'de> EnumAccess<'de> for UnitVariant<'_, 'de> {
    type Error = JsonError;
    type Variant = NoValue;

    fn variant_seed<S: DeserializeSeed<'de>>(self, seed: S) -> Result<(S::Value, NoValue)> {
        let v = seed.deserialize(&mut *self.r)?;
        Ok((v, NoValue))
    }
}

/// `{"Variant": value}`: the reader is past the opening brace.
struct Variant<'a, 'de> {
    r: &'a mut Reader<'de>,
}

impl<'de> EnumAccess<'de> for Variant<'_, 'de> {
    type Error = JsonError;
    type Variant = Self;

    fn variant_seed<S: DeserializeSeed<'de>>(self, seed: S) -> Result<(S::Value, Self)> {
        // The variant is a member name: a string, read as map keys are
        // (serde_json: "key must be a string"), never a number or literal.
        if self.r.skip_ws() != Some(b'"') {
            return Err(self.r.unexpected("a variant name (a string)"));
        }
        let (at, src) = (self.r.pos, self.r.text);
        self.r.bump();
        let v = seed
            .deserialize(Name::new(self.r.read_str()?, src, at))
            .map_err(|e| e.at(at))?;
        self.r.colon()?;
        Ok((v, self))
    }
}

impl<'de> VariantAccess<'de> for Variant<'_, 'de> {
    type Error = JsonError;

    fn unit_variant(self) -> Result<()> {
        de::Deserialize::deserialize(self.r)
    }

    fn newtype_variant_seed<S: DeserializeSeed<'de>>(self, seed: S) -> Result<S::Value> {
        seed.deserialize(self.r)
    }

    fn tuple_variant<V: Visitor<'de>>(self, _len: usize, visitor: V) -> Result<V::Value> {
        self.r.deserialize_seq(visitor)
    }

    fn struct_variant<V: Visitor<'de>>(
        self,
        fields: &'static [&'static str],
        visitor: V,
    ) -> Result<V::Value> {
        self.r.deserialize_struct("", fields, visitor)
    }
}
