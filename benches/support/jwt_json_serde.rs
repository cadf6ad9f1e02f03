//! Issue 19 item 1 (JSON reader decision): serde_json prototypes of the
//! header and claims reads that `src/json/` does, timed by
//! `benches/jwt.rs` in the same rounds as the validator (docs/adr/0002).
//!
//! - `strict`: every object, at every depth, through a map visitor that
//!   refuses duplicate names, into a `serde_json::Value`; the header fields
//!   and the registered claims are read from it and `C` is built from
//!   `&Value`. As strict as our reader about duplicates (skipped members
//!   included), one parse.
//! - `lax`: `#[derive(Deserialize)]` structs straight off the bytes: `C`
//!   in one pass and the registered claims in a second. serde refuses a
//!   repeated name only among the struct's own fields; members either
//!   struct skips (`IgnoredAny`) are syntax-checked but their duplicates are
//!   not refused, nor nested ones.

use serde::Deserialize;
use serde::de::{self, DeserializeOwned, Deserializer, MapAccess, SeqAccess, Visitor};
use serde_json::{Map, Value};
use std::borrow::Cow;
use std::fmt;

/// A JSON value whose objects, at every depth, have unique member names.
pub struct Strict(pub Value);

impl<'de> Deserialize<'de> for Strict {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        d.deserialize_any(StrictVisitor).map(Strict)
    }
}

struct StrictVisitor;

impl<'de> Visitor<'de> for StrictVisitor {
    type Value = Value;

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("a JSON value")
    }

    fn visit_bool<E>(self, v: bool) -> Result<Value, E> {
        Ok(Value::Bool(v))
    }

    fn visit_i64<E>(self, v: i64) -> Result<Value, E> {
        Ok(Value::from(v))
    }

    fn visit_u64<E>(self, v: u64) -> Result<Value, E> {
        Ok(Value::from(v))
    }

    fn visit_f64<E>(self, v: f64) -> Result<Value, E> {
        Ok(Value::from(v))
    }

    fn visit_str<E>(self, v: &str) -> Result<Value, E> {
        Ok(Value::String(v.to_owned()))
    }

    fn visit_string<E>(self, v: String) -> Result<Value, E> {
        Ok(Value::String(v))
    }

    fn visit_unit<E>(self) -> Result<Value, E> {
        Ok(Value::Null)
    }

    fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<Value, A::Error> {
        let mut out = Vec::new();
        while let Some(Strict(v)) = seq.next_element()? {
            out.push(v);
        }
        Ok(Value::Array(out))
    }

    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Value, A::Error> {
        let mut out = Map::new();
        while let Some(key) = map.next_key::<Cow<'de, str>>()? {
            if out.contains_key(&*key) {
                return Err(de::Error::custom(format_args!("duplicate member `{key}`")));
            }
            let Strict(v) = map.next_value()?;
            out.insert(key.into_owned(), v);
        }
        Ok(Value::Object(out))
    }
}

/// The header members validation reads.
#[derive(Deserialize)]
#[allow(dead_code)]
struct Header<'a> {
    #[serde(borrow)]
    alg: Cow<'a, str>,
    #[serde(borrow, default)]
    kid: Option<Cow<'a, str>>,
    #[serde(borrow, default)]
    typ: Option<Cow<'a, str>>,
    #[serde(default)]
    crit: Option<Vec<String>>,
    #[serde(default)]
    b64: Option<bool>,
}

/// `aud`: one string or an array of them.
#[allow(dead_code)]
enum Aud<'a> {
    One(Cow<'a, str>),
    Many(Vec<Cow<'a, str>>),
}

impl<'de: 'a, 'a> Deserialize<'de> for Aud<'a> {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct V<'a>(std::marker::PhantomData<&'a ()>);
        impl<'de: 'a, 'a> Visitor<'de> for V<'a> {
            type Value = Aud<'a>;
            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str("a string or an array of strings")
            }
            fn visit_borrowed_str<E>(self, v: &'de str) -> Result<Aud<'a>, E> {
                Ok(Aud::One(Cow::Borrowed(v)))
            }
            fn visit_str<E>(self, v: &str) -> Result<Aud<'a>, E> {
                Ok(Aud::One(Cow::Owned(v.to_owned())))
            }
            fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<Aud<'a>, A::Error> {
                let mut out = Vec::new();
                while let Some(s) = seq.next_element::<Cow<'de, str>>()? {
                    out.push(s);
                }
                Ok(Aud::Many(out))
            }
        }
        d.deserialize_any(V(std::marker::PhantomData))
    }
}

/// The registered claims validation reads (RFC 7519 §4.1).
#[derive(Deserialize)]
#[allow(dead_code)]
struct Registered<'a> {
    #[serde(borrow, default)]
    iss: Option<Cow<'a, str>>,
    #[serde(borrow, default)]
    sub: Option<Cow<'a, str>>,
    #[serde(borrow, default)]
    aud: Option<Aud<'a>>,
    #[serde(default)]
    exp: Option<i64>,
    #[serde(default)]
    nbf: Option<i64>,
    #[serde(default)]
    iat: Option<i64>,
    #[serde(borrow, default)]
    jti: Option<Cow<'a, str>>,
}

/// The registered claims read from a parsed object (what `strict` does).
fn registered_from(map: &Map<String, Value>) -> Option<(Option<&str>, Option<i64>, Option<i64>)> {
    let int = |k: &str| map.get(k).and_then(Value::as_i64);
    let aud_ok = match map.get("aud") {
        None | Some(Value::String(_)) => true,
        Some(Value::Array(a)) => a.iter().all(Value::is_string),
        Some(_) => false,
    };
    aud_ok.then(|| {
        (
            map.get("iss").and_then(Value::as_str),
            int("exp"),
            int("nbf"),
        )
    })
}

/// Header and claims, strict: duplicate names refused at every depth.
pub fn strict<C: DeserializeOwned>(header: &[u8], payload: &[u8]) -> bool {
    let Ok(Strict(h)) = serde_json::from_slice::<Strict>(header) else {
        return false;
    };
    let Ok(h) = Header::deserialize(&h) else {
        return false;
    };
    if h.crit.is_some() || h.b64 == Some(false) {
        return false;
    }
    let Ok(Strict(Value::Object(claims))) = serde_json::from_slice::<Strict>(payload) else {
        return false;
    };
    if registered_from(&claims).is_none() {
        return false;
    }
    let claims = Value::Object(claims);
    C::deserialize(&claims).is_ok()
}

/// Header and claims, lax: derive-based, skipped members' duplicates not
/// refused; the claims are read twice (`C`, then the registered ones).
pub fn lax<C: DeserializeOwned>(header: &[u8], payload: &[u8]) -> bool {
    let Ok(h) = serde_json::from_slice::<Header<'_>>(header) else {
        return false;
    };
    if h.crit.is_some() || h.b64 == Some(false) {
        return false;
    }
    serde_json::from_slice::<C>(payload).is_ok()
        && serde_json::from_slice::<Registered<'_>>(payload).is_ok()
}

/// The same two reads with edge-auth's reader (as `Validator` runs them).
pub fn ours<C: DeserializeOwned>(header: &[u8], payload: &[u8]) -> bool {
    edge_auth::__fuzz::parse_header(header).is_ok()
        && edge_auth::__fuzz::parse_claims_typed::<C>(payload).is_ok()
}
