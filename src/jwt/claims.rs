//! Reading a JWT Claims Set (RFC 7519 §4): a JSON object with unique member
//! names (duplicates are rejected, which §4 allows), nesting at most 64
//! deep. Validation reads it once: the caller's type `C` is deserialized
//! while the registered claims it checks (`exp`, `nbf`, `iat`, `iss`,
//! `aud`, `tid`) and every top-level member name are recorded on the way.

use std::borrow::Cow;
use std::fmt;
use std::marker::PhantomData;

use serde::de::value::{BorrowedStrDeserializer, MapAccessDeserializer, SeqAccessDeserializer};
use serde::de::{
    self, DeserializeOwned, DeserializeSeed, Deserializer, IgnoredAny, IntoDeserializer, MapAccess,
    Visitor,
};
use serde::{Deserialize, forward_to_deserialize_any};
use serde_json::{Map, Number, Value};

use super::error::{JwtError, Part};
use super::header::{self, Str};

/// The deepest nesting of arrays / objects accepted in a claims set.
const MAX_CLAIMS_DEPTH: usize = 64;

/// The slot of a registered claim validation reads, in `Registered::values`.
fn registered_index(name: &str) -> Option<usize> {
    // Every registered name has three bytes: compare them as one integer
    // rather than string by string (this runs for every top-level member).
    let &[a, b, c] = name.as_bytes() else {
        return None;
    };
    const fn key(n: &[u8; 3]) -> u32 {
        u32::from_le_bytes([n[0], n[1], n[2], 0])
    }
    const EXP: u32 = key(b"exp");
    const NBF: u32 = key(b"nbf");
    const IAT: u32 = key(b"iat");
    const ISS: u32 = key(b"iss");
    const AUD: u32 = key(b"aud");
    const TID: u32 = key(b"tid");
    match u32::from_le_bytes([a, b, c, 0]) {
        EXP => Some(0),
        NBF => Some(1),
        IAT => Some(2),
        ISS => Some(3),
        AUD => Some(4),
        TID => Some(5),
        _ => None,
    }
}

/// A registered claim's value as sent: strings borrowed from the payload
/// when unescaped, numbers as JSON numbers, anything else as a `Value`.
#[derive(Debug, Clone)]
pub(crate) enum Captured<'a> {
    /// A JSON string.
    Str(Cow<'a, str>),
    /// A JSON number.
    Num(Number),
    /// Any other JSON value (array, object, bool, null).
    Other(Value),
}

impl<'a> Captured<'a> {
    pub(crate) fn as_str(&self) -> Option<&str> {
        match self {
            Captured::Str(s) => Some(s),
            _ => None,
        }
    }

    /// Hands the value to the caller's type as serde_json would have.
    fn feed<'de, S, E>(&self, seed: S) -> Result<S::Value, E>
    where
        'a: 'de,
        S: DeserializeSeed<'de>,
        E: de::Error,
    {
        match self {
            Captured::Str(Cow::Borrowed(s)) => seed.deserialize(BorrowedStrDeserializer::new(s)),
            Captured::Str(Cow::Owned(s)) => seed.deserialize(s.as_str().into_deserializer()),
            Captured::Num(n) => seed.deserialize(n.clone()).map_err(E::custom),
            Captured::Other(v) => seed.deserialize(v.clone()).map_err(E::custom),
        }
    }
}

impl<'de> Deserialize<'de> for Captured<'de> {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        d.deserialize_any(CapturedVisitor)
    }
}

struct CapturedVisitor;

impl<'de> Visitor<'de> for CapturedVisitor {
    type Value = Captured<'de>;

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("a JSON value")
    }

    fn visit_borrowed_str<E: de::Error>(self, v: &'de str) -> Result<Self::Value, E> {
        Ok(Captured::Str(Cow::Borrowed(v)))
    }

    fn visit_str<E: de::Error>(self, v: &str) -> Result<Self::Value, E> {
        Ok(Captured::Str(Cow::Owned(v.to_owned())))
    }

    fn visit_string<E: de::Error>(self, v: String) -> Result<Self::Value, E> {
        Ok(Captured::Str(Cow::Owned(v)))
    }

    fn visit_u64<E: de::Error>(self, v: u64) -> Result<Self::Value, E> {
        Ok(Captured::Num(v.into()))
    }

    fn visit_i64<E: de::Error>(self, v: i64) -> Result<Self::Value, E> {
        Ok(Captured::Num(v.into()))
    }

    fn visit_f64<E: de::Error>(self, v: f64) -> Result<Self::Value, E> {
        // serde_json never yields a non-finite number from text.
        Ok(Number::from_f64(v).map_or(Captured::Other(Value::Null), Captured::Num))
    }

    fn visit_bool<E: de::Error>(self, v: bool) -> Result<Self::Value, E> {
        Ok(Captured::Other(Value::Bool(v)))
    }

    fn visit_unit<E: de::Error>(self) -> Result<Self::Value, E> {
        Ok(Captured::Other(Value::Null))
    }

    fn visit_seq<A: de::SeqAccess<'de>>(self, seq: A) -> Result<Self::Value, A::Error> {
        Value::deserialize(SeqAccessDeserializer::new(seq)).map(Captured::Other)
    }

    fn visit_map<A: MapAccess<'de>>(self, map: A) -> Result<Self::Value, A::Error> {
        Value::deserialize(MapAccessDeserializer::new(map)).map(Captured::Other)
    }
}

/// What validation reads from a claims set: every top-level member's name
/// (for duplicates and required claims) and the registered claims' values.
#[derive(Debug, Default)]
pub(crate) struct Registered<'a> {
    /// Top-level member names.
    names: Vec<Cow<'a, str>>,
    /// One bit per [`name_bit`] seen: most new names skip the scan.
    bloom: u64,
    values: [Option<Captured<'a>>; 6],
    /// Set once the whole object has been read.
    complete: bool,
}

/// A 64-bit filter bit for a member name from its length and first,
/// middle and last bytes (cheap, and spread well enough for claim names;
/// a collision only costs a scan).
fn name_bit(name: &str) -> u64 {
    let b = name.as_bytes();
    let at = |i: usize| u32::from(b.get(i).copied().unwrap_or(0));
    let len = b.len();
    let key = (len as u32) ^ (at(0) << 8) ^ (at(len / 2) << 16) ^ (at(len.saturating_sub(1)) << 24);
    1u64 << (key.wrapping_mul(0x9e37_79b1) >> 26)
}

impl<'a> Registered<'a> {
    fn new() -> Self {
        Self {
            names: Vec::with_capacity(24),
            ..Self::default()
        }
    }

    /// Records a top-level member name; returns its registered-claim slot.
    fn record<E: de::Error>(&mut self, name: Cow<'a, str>) -> Result<Option<usize>, E> {
        let bit = name_bit(&name);
        if self.bloom & bit != 0 && self.names.contains(&name) {
            return Err(E::custom(format_args!("duplicate claim `{name}`")));
        }
        self.bloom |= bit;
        let slot = registered_index(&name);
        self.names.push(name);
        Ok(slot)
    }

    /// Whether a member of this name is present.
    pub(crate) fn has(&self, name: &str) -> bool {
        self.names.iter().any(|n| n == name)
    }

    /// A registered claim's value (`exp`, `nbf`, `iat`, `iss`, `aud`, `tid`).
    pub(crate) fn get(&self, name: &str) -> Option<&Captured<'a>> {
        self.values.get(registered_index(name)?)?.as_ref()
    }
}

fn check_size_and_depth(payload: &[u8]) -> Result<&str, JwtError> {
    // Validated once here so that serde_json's string parsing need not
    // re-check UTF-8 for every string (`from_str` instead of `from_slice`).
    let text = std::str::from_utf8(payload)
        .map_err(|e| JwtError::malformed(Part::Claims, format!("not UTF-8: {e}")))?;
    // Skipped members are not subject to serde_json's recursion limit.
    if header::nesting_exceeds(payload, MAX_CLAIMS_DEPTH) {
        return Err(JwtError::malformed(
            Part::Claims,
            format!("JSON nests deeper than {MAX_CLAIMS_DEPTH} levels"),
        ));
    }
    Ok(text)
}

/// Reads only the registered claims (and the member names), skipping the
/// rest: for [`inspect`](super::inspect) and for error reporting.
pub(crate) fn parse_registered(payload: &[u8]) -> Result<Registered<'_>, JwtError> {
    let text = check_size_and_depth(payload)?;
    let mut de = serde_json::Deserializer::from_str(text);
    let mut reg = Registered::new();
    let fused = Fused {
        de: &mut de,
        reg: &mut reg,
    };
    IgnoredAny::deserialize(fused)
        .and_then(|_| de.end())
        .map_err(|e| JwtError::malformed(Part::Claims, e.to_string()))?;
    Ok(reg)
}

/// The one pass of validation: `C` and the registered claims together.
///
/// # Errors
/// [`JwtError::Malformed`] for a payload that is not UTF-8, nests too
/// deep, is not one JSON object with unique members, or does not fit `C`.
/// The validator reports it only after re-reading the registered claims
/// alone, so that, say, an expired token is reported as expired rather
/// than as not fitting `C`.
pub(crate) fn parse_typed<C: DeserializeOwned>(
    payload: &[u8],
) -> Result<(C, Registered<'_>), JwtError> {
    let text = check_size_and_depth(payload)?;
    let mut de = serde_json::Deserializer::from_str(text);
    let mut reg = Registered::new();
    let fused = Fused {
        de: &mut de,
        reg: &mut reg,
    };
    let typed = C::deserialize(fused)
        .and_then(|c| de.end().map(|()| c))
        .map_err(|e| {
            JwtError::malformed(
                Part::Claims,
                format!("claims do not fit the expected type: {e}"),
            )
        })?;
    if !reg.complete {
        // `C` finished without reading the object at all (a hand-written
        // Deserialize); read the registered claims on their own.
        let reg = parse_registered(payload)?;
        return Ok((typed, reg));
    }
    Ok((typed, reg))
}

/// A deserializer for the top-level claims object that records member
/// names (refusing duplicates) and the registered claims' values while
/// forwarding everything to the caller's visitor. Nested values go to the
/// caller untouched: an `exp` inside an object is not the registered `exp`.
struct Fused<'r, 'de, D> {
    de: D,
    reg: &'r mut Registered<'de>,
}

impl<'de, D: Deserializer<'de>> Deserializer<'de> for Fused<'_, 'de, D> {
    type Error = D::Error;

    fn deserialize_any<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value, D::Error> {
        // Always an object: arrays (which serde_json would take for a
        // struct) and scalars are refused by the caller's visitor.
        self.de.deserialize_map(FusedVisitor {
            inner: visitor,
            reg: self.reg,
        })
    }

    fn deserialize_option<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value, D::Error> {
        visitor.visit_some(self)
    }

    fn deserialize_newtype_struct<V: Visitor<'de>>(
        self,
        _name: &'static str,
        visitor: V,
    ) -> Result<V::Value, D::Error> {
        visitor.visit_newtype_struct(self)
    }

    forward_to_deserialize_any! {
        bool i8 i16 i32 i64 i128 u8 u16 u32 u64 u128 f32 f64 char str string
        bytes byte_buf unit unit_struct seq tuple tuple_struct map struct enum
        identifier ignored_any
    }
}

struct FusedVisitor<'r, 'de, V> {
    inner: V,
    reg: &'r mut Registered<'de>,
}

impl<'de, V: Visitor<'de>> Visitor<'de> for FusedVisitor<'_, 'de, V> {
    type Value = V::Value;

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        self.inner.expecting(f)
    }

    fn visit_map<A: MapAccess<'de>>(self, access: A) -> Result<Self::Value, A::Error> {
        let mut fused = FusedAccess {
            access,
            reg: &mut *self.reg,
            slot: None,
            awaiting_value: false,
        };
        let value = self.inner.visit_map(&mut fused)?;
        // Whatever the caller's visitor left unread is still checked.
        if fused.awaiting_value {
            fused.next_value_seed(PhantomData::<IgnoredAny>)?;
        }
        while fused.next_key_seed(PhantomData::<IgnoredAny>)?.is_some() {
            fused.next_value_seed(PhantomData::<IgnoredAny>)?;
        }
        self.reg.complete = true;
        Ok(value)
    }
}

struct FusedAccess<'r, 'de, A> {
    access: A,
    reg: &'r mut Registered<'de>,
    /// The registered-claim slot of the member whose value comes next.
    slot: Option<usize>,
    awaiting_value: bool,
}

impl<'de, A: MapAccess<'de>> MapAccess<'de> for FusedAccess<'_, 'de, A> {
    type Error = A::Error;

    fn next_key_seed<K: DeserializeSeed<'de>>(
        &mut self,
        seed: K,
    ) -> Result<Option<K::Value>, A::Error> {
        let Some(Str(name)) = self.access.next_key::<Str<'de>>()? else {
            return Ok(None);
        };
        let key = match &name {
            Cow::Borrowed(s) => seed.deserialize(BorrowedStrDeserializer::new(s))?,
            Cow::Owned(s) => seed.deserialize(s.as_str().into_deserializer())?,
        };
        self.slot = self.reg.record(name)?;
        self.awaiting_value = true;
        Ok(Some(key))
    }

    fn next_value_seed<S: DeserializeSeed<'de>>(&mut self, seed: S) -> Result<S::Value, A::Error> {
        self.awaiting_value = false;
        match self.slot.take() {
            Some(slot) => {
                let captured: Captured<'de> = self.access.next_value()?;
                let value = captured.feed(seed)?;
                if let Some(v) = self.reg.values.get_mut(slot) {
                    *v = Some(captured);
                }
                Ok(value)
            }
            None => self.access.next_value_seed(seed),
        }
    }

    fn size_hint(&self) -> Option<usize> {
        self.access.size_hint()
    }
}

/// Parses the claims set into a map: a JSON object whose members are
/// unique (RFC 7519 §4: duplicates must be rejected or the last taken; we
/// reject), nesting at most 64 deep.
pub(crate) fn parse_claims(payload: &[u8]) -> Result<Map<String, Value>, JwtError> {
    parse_typed::<Map<String, Value>>(payload).map(|(m, _)| m)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn claims_unique() {
        assert!(parse_claims(br#"{"a":1,"a":2}"#).is_err());
        assert!(parse_claims(br#"{"exp":1,"exp":2}"#).is_err());
        assert!(parse_claims(br#"{"\u0061":1,"a":2}"#).is_err());
        assert!(parse_claims(br#"[1]"#).is_err());
        assert!(parse_claims(br#"{"a":1} "#).is_ok());
        assert!(parse_registered(br#"{"a":1,"a":2}"#).is_err());
        assert!(parse_registered(br#"[]"#).is_err());
        assert!(parse_registered(br#"{} x"#).is_err());
    }

    #[test]
    fn nested_registered_names_do_not_count() {
        let (v, reg) = parse_typed::<Value>(br#"{"x":{"exp":1,"exp":2},"exp":5}"#).unwrap();
        assert_eq!(v["x"]["exp"], 2);
        assert_eq!(
            reg.get("exp").and_then(|c| match c {
                Captured::Num(n) => n.as_i64(),
                _ => None,
            }),
            Some(5)
        );
        let reg = parse_registered(br#"{"x":{"iss":"a"}}"#).unwrap();
        assert!(reg.get("iss").is_none());
        assert!(!reg.has("iss"));
    }

    #[test]
    fn typed_sees_registered_claims() {
        #[derive(Deserialize)]
        struct C {
            iss: String,
            exp: i64,
            aud: Vec<String>,
            other: u8,
        }
        let (c, reg) =
            parse_typed::<C>(br#"{"iss":"i\"s","exp":7,"aud":["a"],"other":1}"#).unwrap();
        assert_eq!(
            (c.iss.as_str(), c.exp, c.aud.len(), c.other),
            ("i\"s", 7, 1, 1)
        );
        assert_eq!(reg.get("iss").and_then(Captured::as_str), Some("i\"s"));
        assert!(reg.has("other"));
    }
}
