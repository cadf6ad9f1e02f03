//! Reading a JWT Claims Set (RFC 7519 §4): a JSON object with unique member
//! names (duplicates are rejected, which §4 allows), nesting at most 64
//! deep. Validation reads it once, with the strict reader in `crate::json`:
//! the caller's type `C` is deserialized while the registered claims it
//! checks (`exp`, `nbf`, `iat`, `iss`, `aud`, `tid`) and every top-level
//! member name are recorded on the way.

use std::borrow::Cow;
use std::fmt;
use std::marker::PhantomData;

use serde::de::value::{MapAccessDeserializer, SeqAccessDeserializer};
use serde::de::{
    self, DeserializeOwned, DeserializeSeed, Deserializer, IgnoredAny, MapAccess, Visitor,
};
use serde::{Deserialize, forward_to_deserialize_any};
use serde_json::{Map, Value};

use super::error::{JwtError, Part};
use crate::json::{self, JsonError, Name, Number, Reader, Text};

/// The deepest nesting of arrays / objects accepted in a claims set.
const MAX_CLAIMS_DEPTH: usize = 64;

/// The slot of a registered claim validation reads, in `Registered::values`.
fn registered_index(name: &str) -> Option<usize> {
    // Nearly every name validation reads has three bytes: compare them as
    // one integer rather than string by string (this runs for every
    // top-level member). Cognito's two nine-byte names are compared whole.
    let &[a, b, c] = name.as_bytes() else {
        return match name {
            "client_id" => Some(6),
            "token_use" => Some(7),
            _ => None,
        };
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

impl Captured<'_> {
    pub(crate) fn as_str(&self) -> Option<&str> {
        match self {
            Captured::Str(s) => Some(s),
            _ => None,
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

    fn visit_u64<E: de::Error>(self, v: u64) -> Result<Self::Value, E> {
        Ok(Captured::Num(Number::U64(v)))
    }

    fn visit_i64<E: de::Error>(self, v: i64) -> Result<Self::Value, E> {
        Ok(Captured::Num(Number::I64(v)))
    }

    fn visit_f64<E: de::Error>(self, v: f64) -> Result<Self::Value, E> {
        Ok(Captured::Num(Number::F64(v)))
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

/// Member names kept inline before spilling to the heap (an Entra ID
/// access token has about 20).
const INLINE_NAMES: usize = 24;

/// What validation reads from a claims set: every top-level member's name
/// (for duplicates and required claims) and where the registered claims'
/// values are, read again (they are short) only when checked.
#[derive(Debug)]
pub(crate) struct Registered<'a> {
    text: &'a str,
    /// Unescaped top-level member names, in order.
    inline: [&'a str; INLINE_NAMES],
    inline_len: usize,
    /// Names with escapes, and any beyond `INLINE_NAMES`.
    spill: Vec<Cow<'a, str>>,
    /// One bit per [`name_bit`] seen: most new names skip the scan.
    /// Two words rather than a `u128`, whose variable shifts are slow.
    bloom: (u64, u64),
    /// The registered claims' values.
    values: [Option<Captured<'a>>; 8],
    /// Set once the whole object has been read.
    complete: bool,
}

/// A filter bit (of 128: word, then bit) for a member name from its
/// length and first, middle and last bytes (cheap, and spread well enough
/// for claim names; a collision only costs a scan).
fn name_bit(name: &str) -> (bool, u64) {
    let b = name.as_bytes();
    let at = |i: usize| u32::from(b.get(i).copied().unwrap_or(0));
    let len = b.len();
    let key = (len as u32) ^ (at(0) << 8) ^ (at(len / 2) << 16) ^ (at(len.saturating_sub(1)) << 24);
    let h = key.wrapping_mul(0x9e37_79b1);
    (h >> 31 != 0, 1u64 << ((h >> 25) & 63))
}

impl<'a> Registered<'a> {
    fn new(text: &'a str) -> Self {
        Self {
            text,
            inline: [""; INLINE_NAMES],
            inline_len: 0,
            spill: Vec::new(),
            bloom: (0, 0),
            values: [None, None, None, None, None, None, None, None],
            complete: false,
        }
    }

    fn seen(&self, name: &str) -> bool {
        let inline = self.inline.get(..self.inline_len).unwrap_or_default();
        inline.iter().any(|n| n.len() == name.len() && *n == name)
            || self.spill.iter().any(|n| **n == *name)
    }

    /// Records a top-level member name found at byte `at`; returns its
    /// registered-claim slot.
    #[inline(always)]
    fn record(&mut self, name: Cow<'a, str>, at: usize) -> Result<Option<usize>, JsonError> {
        let (high, bit) = name_bit(&name);
        let filter = if high { self.bloom.1 } else { self.bloom.0 };
        if filter & bit != 0 && self.seen(&name) {
            return Err(JsonError::new(format_args!("duplicate claim `{name}`"), at));
        }
        if high {
            self.bloom.1 |= bit;
        } else {
            self.bloom.0 |= bit;
        }
        let slot = registered_index(&name);
        match name {
            Cow::Borrowed(n) if self.inline_len < INLINE_NAMES => {
                if let Some(free) = self.inline.get_mut(self.inline_len) {
                    *free = n;
                }
                self.inline_len = self.inline_len.saturating_add(1);
            }
            name => self.spill.push(name),
        }
        Ok(slot)
    }

    /// Whether a member of this name is present.
    pub(crate) fn has(&self, name: &str) -> bool {
        self.seen(name)
    }

    /// A registered claim's value (`exp`, `nbf`, `iat`, `iss`, `aud`, `tid`,
    /// `client_id`, `token_use`).
    pub(crate) fn get(&self, name: &str) -> Option<&Captured<'a>> {
        self.values.get(registered_index(name)?)?.as_ref()
    }

    /// Keeps a registered claim's value, already read as valid JSON:
    /// strings without escapes and numbers (nearly every registered
    /// claim) are taken directly from the text.
    fn capture(&mut self, slot: usize, value: &'a str, escaped: bool) {
        let captured = match value.as_bytes() {
            [b'"', ..] if !escaped => value
                .get(1..value.len().saturating_sub(1))
                .map(|s| Captured::Str(Cow::Borrowed(s))),
            // A plain integer (the usual NumericDate) without the reader:
            // checked and summed in one pass (the reader has already
            // refused leading zeros).
            digits @ [b'1'..=b'9', ..] if digits.len() < 20 => digits
                .iter()
                .try_fold(0u64, |n, &d| {
                    let d = d.wrapping_sub(b'0');
                    (d < 10).then(|| n * 10 + u64::from(d))
                })
                .map(|n| Captured::Num(Number::U64(n)))
                .or_else(|| Reader::new(value, 0).number().ok().map(Captured::Num)),
            [b'-' | b'0'..=b'9', ..] => Reader::new(value, 0).number().ok().map(Captured::Num),
            _ => json::from_str(value, MAX_CLAIMS_DEPTH).ok(),
        };
        // Each slot is filled once (duplicates were refused before), so
        // there is no old value to drop.
        if let Some(v @ None) = self.values.get_mut(slot) {
            *v = captured;
        }
    }
}

fn utf8(payload: &[u8]) -> Result<&str, JwtError> {
    // Checked once here, so that strings need no per-string check.
    std::str::from_utf8(payload)
        .map_err(|e| JwtError::malformed(Part::Claims, format!("not UTF-8: {e}")))
}

/// Reads only the registered claims (and the member names), skipping the
/// rest: for [`inspect`](super::inspect) and for error reporting.
pub(crate) fn parse_registered(payload: &[u8]) -> Result<Registered<'_>, JwtError> {
    let text = utf8(payload)?;
    let mut r = Reader::new(text, MAX_CLAIMS_DEPTH);
    let mut reg = Registered::new(text);
    IgnoredAny::deserialize(Top {
        r: &mut r,
        reg: &mut reg,
    })
    .and_then(|_| r.end())
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
// Inlined into the validator so that `Registered` (several hundred bytes)
// is built in place rather than moved out through the `Result`.
#[inline(always)]
pub(crate) fn parse_typed<C: DeserializeOwned>(
    payload: &[u8],
) -> Result<(C, Registered<'_>), JwtError> {
    parse_seeded(payload, PhantomData::<C>)
}

/// [`parse_typed`] with a seed: what the caller reads from the claims
/// object may depend on its state (the gate reads only the members its
/// role mapper looks at).
#[inline(always)]
pub(crate) fn parse_seeded<'p, S: DeserializeSeed<'p>>(
    payload: &'p [u8],
    seed: S,
) -> Result<(S::Value, Registered<'p>), JwtError> {
    let text = utf8(payload)?;
    let mut r = Reader::new(text, MAX_CLAIMS_DEPTH);
    let mut reg = Registered::new(text);
    let typed = seed
        .deserialize(Top {
            r: &mut r,
            reg: &mut reg,
        })
        .and_then(|c| r.end().map(|()| c))
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

/// The deserializer of the top-level claims object: records member names
/// (refusing duplicates) and where the registered claims are, while the
/// caller's visitor reads the members. Nested values go to the caller
/// untouched: an `exp` inside an object is not the registered `exp`.
struct Top<'r, 'de> {
    r: &'r mut Reader<'de>,
    reg: &'r mut Registered<'de>,
}

impl<'de> Deserializer<'de> for Top<'_, 'de> {
    type Error = JsonError;

    fn deserialize_any<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value, JsonError> {
        // Always an object: arrays (which serde_json would take for a
        // struct) and scalars are refused.
        if self.r.skip_ws() != Some(b'{') {
            return Err(self.r.error("claims are not a JSON object"));
        }
        self.r.enter()?;
        self.r.bump();
        let mut access = Members {
            r: self.r,
            reg: self.reg,
            first: true,
            slot: None,
            awaiting_value: false,
        };
        let value = visitor
            .visit_map(&mut access)
            .map_err(|e| e.at(access.r.pos()))?;
        // Whatever the caller's visitor left unread is still checked.
        if access.awaiting_value {
            access.next_value_seed(PhantomData::<IgnoredAny>)?;
        }
        while access.next_key_seed(PhantomData::<IgnoredAny>)?.is_some() {
            access.next_value_seed(PhantomData::<IgnoredAny>)?;
        }
        access.r.bump();
        access.r.leave();
        access.reg.complete = true;
        Ok(value)
    }

    fn deserialize_option<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value, JsonError> {
        visitor.visit_some(self)
    }

    fn deserialize_newtype_struct<V: Visitor<'de>>(
        self,
        _name: &'static str,
        visitor: V,
    ) -> Result<V::Value, JsonError> {
        visitor.visit_newtype_struct(self)
    }

    forward_to_deserialize_any! {
        bool i8 i16 i32 i64 i128 u8 u16 u32 u64 u128 f32 f64 char str string
        bytes byte_buf unit unit_struct seq tuple tuple_struct map struct enum
        identifier ignored_any
    }
}

/// The top-level members for the caller's visitor.
struct Members<'r, 'de> {
    r: &'r mut Reader<'de>,
    reg: &'r mut Registered<'de>,
    first: bool,
    /// The registered-claim slot of the member whose value comes next.
    slot: Option<usize>,
    awaiting_value: bool,
}

impl<'de> MapAccess<'de> for Members<'_, 'de> {
    type Error = JsonError;

    fn next_key_seed<K: DeserializeSeed<'de>>(
        &mut self,
        seed: K,
    ) -> Result<Option<K::Value>, JsonError> {
        match self.next_name()? {
            // Member names reach `C` as strings, as from serde_json.
            Some((at, name)) => seed.deserialize(name).map(Some).map_err(|e| e.at(at)),
            None => Ok(None),
        }
    }

    fn next_value_seed<S: DeserializeSeed<'de>>(&mut self, seed: S) -> Result<S::Value, JsonError> {
        let (start, escapes) = self.before_value()?;
        let value = seed.deserialize(&mut *self.r)?;
        self.after_value(start, escapes);
        Ok(value)
    }
}

// The key's visitor gets the name as text (`Name`), as in `crate::json`;
// the reading stays inlined, on the hot path of validation.
impl<'de> Members<'_, 'de> {
    /// The next member's name, read and recorded (refusing a repeat);
    /// `None` on the closing brace. Inlined: a call per member costs
    /// validation ~1 % of its instructions (HS256), and there are only
    /// three key types here.
    #[inline(always)]
    fn next_name(&mut self) -> Result<Option<(usize, Name<'de, '_>)>, JsonError> {
        if !self.r.next_member(&mut self.first, b'}')? {
            return Ok(None);
        }
        let at = self.r.pos();
        self.r.bump();
        let text = self.r.read_str()?;
        self.slot = match text {
            Text::Borrowed(name) => self.reg.record(Cow::Borrowed(name), at)?,
            Text::Copied(name) => self.reg.record(Cow::Owned(name.to_owned()), at)?,
        };
        self.awaiting_value = true;
        Ok(Some((at, Name::new(text, self.reg.text, at))))
    }

    /// The colon before a value; where the value starts and the escape
    /// count there.
    #[inline(always)]
    fn before_value(&mut self) -> Result<(usize, usize), JsonError> {
        self.awaiting_value = false;
        self.r.expect_colon()?;
        self.r.skip_ws();
        Ok((self.r.pos(), self.r.escapes()))
    }

    /// Keeps the value just read from `start` when it is a registered
    /// claim's.
    #[inline(always)]
    fn after_value(&mut self, start: usize, escapes: usize) {
        if let Some(slot) = self.slot.take() {
            let text = self.reg.text.get(start..self.r.pos()).unwrap_or_default();
            self.reg.capture(slot, text, self.r.escapes() != escapes);
        }
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
