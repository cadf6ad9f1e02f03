//! The JOSE header (RFC 7515 §4), read by a small purpose-built
//! deserializer: only the members validation needs are kept; duplicate
//! members are an error (RFC 7515 §5.2 step 4), `crit` (§4.1.11) and
//! `b64: false` (RFC 7797) are refused because no extension is implemented.

use std::borrow::Cow;
use std::fmt;
use std::ops::Range;

use serde::Deserialize as _;
use serde::de::{self, Deserializer, Visitor};

use super::error::{JwtError, Part};
use crate::json::{JsonError, Reader, Text};

pub(crate) use crate::jose::ALL;
pub use crate::jose::Algorithm as Alg;

/// The header members validation uses, borrowed from the decoded header
/// where the JSON has no escapes.
#[derive(Debug, Clone, Default)]
pub struct Header<'a> {
    /// `alg`, as sent.
    pub alg: Cow<'a, str>,
    /// `kid`.
    pub kid: Option<Cow<'a, str>>,
    /// `typ`.
    pub typ: Option<Cow<'a, str>>,
}

/// The most members a header may have.
const MAX_MEMBERS: usize = 32;
/// The deepest nesting of arrays / objects in a header.
const MAX_DEPTH: usize = 8;

/// Parses a decoded JOSE header.
///
/// # Errors
/// [`JwtError::Malformed`] (part header) for JSON that is not an object,
/// duplicate members, a missing or non-string `alg`, non-string `kid` /
/// `typ`, more than 32 members; [`JwtError::UnsupportedHeader`] for `crit`
/// and `b64` other than `true`.
pub fn parse(json: &[u8]) -> Result<Header<'_>, JwtError> {
    // UTF-8 checked once, so that strings need no per-string check.
    let text = std::str::from_utf8(json)
        .map_err(|e| JwtError::malformed(Part::Header, format!("not UTF-8: {e}")))?;
    // The reader limits nesting as it goes, skipped members included: a
    // header has no business nesting deeper than an embedded JWK.
    let mut r = Reader::new(text, MAX_DEPTH);
    let raw = read_header(&mut r)
        .and_then(|h| r.end().map(|()| h))
        .map_err(|e| JwtError::malformed(Part::Header, e.to_string()))?;
    if let Some(crit) = raw.crit {
        let reason = if crit.is_empty() {
            "`crit` must not be empty".to_owned()
        } else {
            format!(
                "critical extension {} is not supported",
                crit.iter()
                    .map(|c| format!("`{c}`"))
                    .collect::<Vec<_>>()
                    .join(", ")
            )
        };
        return Err(JwtError::UnsupportedHeader {
            member: "crit".to_owned(),
            reason,
        });
    }
    if raw.b64 == Some(false) {
        return Err(JwtError::UnsupportedHeader {
            member: "b64".to_owned(),
            reason: "unencoded payload (RFC 7797) is not supported".to_owned(),
        });
    }
    let alg = raw
        .alg
        .ok_or_else(|| JwtError::malformed(Part::Header, "`alg` is missing"))?;
    Ok(Header {
        alg,
        kid: raw.kid,
        typ: raw.typ,
    })
}

#[derive(Default)]
struct RawHeader<'a> {
    alg: Option<Cow<'a, str>>,
    kid: Option<Cow<'a, str>>,
    typ: Option<Cow<'a, str>>,
    crit: Option<Vec<Cow<'a, str>>>,
    b64: Option<bool>,
}

/// `crit` is rare and refused anyway: read out of line, so that the serde
/// machinery it needs stays out of the header's hot code.
#[cold]
#[inline(never)]
fn read_crit<'a>(r: &mut Reader<'a>) -> Result<Vec<Cow<'a, str>>, JsonError> {
    Ok(Vec::<StrValue<'a>>::deserialize(&mut *r)?
        .into_iter()
        .map(|s| s.0)
        .collect())
}

/// Reads the header object straight off the reader (no visitor: a header
/// is read for every token).
fn read_header<'a>(r: &mut Reader<'a>) -> Result<RawHeader<'a>, JsonError> {
    if r.skip_ws() != Some(b'{') {
        return Err(r.error("the header is not a JSON object"));
    }
    r.enter()?;
    r.bump();
    let mut out = RawHeader::default();
    // The members read below are tracked by bit; other names in a list
    // that allocates only when there are any.
    let mut known = 0u8;
    let mut others: Vec<Cow<'a, str>> = Vec::new();
    let mut count = 0usize;
    let mut first = true;
    while r.next_member(&mut first, b'}')? {
        let at = r.pos();
        r.bump();
        let key = match r.read_str()? {
            Text::Borrowed(k) => Cow::Borrowed(k),
            Text::Copied(k) => Cow::Owned(k.to_owned()),
        };
        let bit = match &*key {
            "alg" => 1,
            "kid" => 2,
            "typ" => 4,
            "crit" => 8,
            "b64" => 16,
            _ => 0,
        };
        let duplicate = if bit == 0 {
            others.contains(&key)
        } else {
            known & bit != 0
        };
        if duplicate {
            return Err(JsonError::new(format_args!("duplicate member `{key}`"), at));
        }
        if count >= MAX_MEMBERS {
            return Err(JsonError::new(
                format_args!("more than {MAX_MEMBERS} members"),
                at,
            ));
        }
        count = count.saturating_add(1);
        known |= bit;
        r.expect_colon()?;
        match bit {
            1 => out.alg = Some(string_value(r, "alg")?),
            2 => out.kid = Some(string_value(r, "kid")?),
            4 => out.typ = Some(string_value(r, "typ")?),
            8 => out.crit = Some(read_crit(r)?),
            16 => out.b64 = Some(bool::deserialize(&mut *r)?),
            // jku, x5u, jwk, x5c and the rest are never used to find a
            // key: the caller's key set is the only source of trust.
            _ => {
                r.skip_value()?;
                others.push(key);
            }
        }
    }
    r.bump();
    r.leave();
    Ok(out)
}

/// A member's value that must be a string.
fn string_value<'a>(r: &mut Reader<'a>, name: &str) -> Result<Cow<'a, str>, JsonError> {
    if r.skip_ws() != Some(b'"') {
        return Err(r.error(format_args!("`{name}` is not a string")));
    }
    r.bump();
    Ok(match r.read_str()? {
        Text::Borrowed(s) => Cow::Borrowed(s),
        Text::Copied(s) => Cow::Owned(s.to_owned()),
    })
}

/// A string member value; the error names the expectation.
struct StrValue<'a>(Cow<'a, str>);

impl<'de> de::Deserialize<'de> for StrValue<'de> {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        d.deserialize_str(StrVisitor).map(StrValue)
    }
}

struct StrVisitor;

impl<'de> Visitor<'de> for StrVisitor {
    type Value = Cow<'de, str>;

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("a string")
    }

    fn visit_borrowed_str<E: de::Error>(self, v: &'de str) -> Result<Self::Value, E> {
        Ok(Cow::Borrowed(v))
    }

    fn visit_str<E: de::Error>(self, v: &str) -> Result<Self::Value, E> {
        Ok(Cow::Owned(v.to_owned()))
    }

    fn visit_string<E: de::Error>(self, v: String) -> Result<Self::Value, E> {
        Ok(Cow::Owned(v))
    }
}

/// A header string: where it is in the decoded header when it has no
/// escapes (nearly always), so that parsing allocates nothing for it.
#[derive(Debug, Clone)]
pub(super) enum Slot {
    None,
    At(Range<usize>),
    Owned(String),
}

impl Slot {
    /// A value read from a header that is a prefix of `decoded`.
    pub(super) fn from_header(value: Option<Cow<'_, str>>, decoded: &[u8]) -> Slot {
        match value {
            None => Slot::None,
            Some(Cow::Borrowed(v)) => {
                // The offset of a borrowed slice inside the buffer it borrows from.
                let start = (v.as_ptr() as usize).wrapping_sub(decoded.as_ptr() as usize);
                match start.checked_add(v.len()) {
                    Some(end) if end <= decoded.len() => Slot::At(start..end),
                    _ => Slot::Owned(v.to_owned()),
                }
            }
            Some(Cow::Owned(v)) => Slot::Owned(v),
        }
    }

    pub(super) fn as_str<'a>(&'a self, decoded: &'a [u8]) -> Option<&'a str> {
        match self {
            Slot::None => None,
            // The header was UTF-8 (checked when parsed); this re-check of a
            // few bytes happens only when asked.
            Slot::At(r) => decoded
                .get(r.clone())
                .and_then(|b| std::str::from_utf8(b).ok()),
            Slot::Owned(v) => Some(v),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_and_borrows() {
        let h = parse(br#"{"alg":"RS256","kid":"k1","typ":"JWT","x5u":"https://evil"}"#).unwrap();
        assert_eq!(h.alg, "RS256");
        assert!(matches!(h.kid, Some(Cow::Borrowed("k1"))));
    }

    #[test]
    fn ed25519_is_eddsa() {
        assert_eq!(Alg::from_name("Ed25519"), Some(Alg::EdDSA));
        assert_eq!(Alg::from_name("EdDSA"), Some(Alg::EdDSA));
        assert_eq!(Alg::from_name("ed25519"), None);
        assert_eq!(Alg::from_name("Ed448"), None);
    }

    #[test]
    fn refuses_duplicates_crit_b64() {
        assert!(parse(br#"{"alg":"RS256","alg":"none"}"#).is_err());
        assert!(parse(br#"{"alg":"RS256","x":1,"x":2}"#).is_err());
        assert!(matches!(
            parse(br#"{"alg":"RS256","crit":["exp"],"exp":1}"#),
            Err(JwtError::UnsupportedHeader { .. })
        ));
        assert!(matches!(
            parse(br#"{"alg":"RS256","b64":false}"#),
            Err(JwtError::UnsupportedHeader { .. })
        ));
        assert!(parse(br#"{"alg":"RS256"} x"#).is_err());
        assert!(parse(br#"{"alg":5}"#).is_err());
        assert!(parse(br#"{"kid":"a"}"#).is_err());
        assert!(parse(br#"[]"#).is_err());
        assert!(parse(br#"{"alg":"RS256","x":[[[[[[[[[]]]]]]]]]}"#).is_err());
        assert!(parse(br#"{"alg":"RS256","x":"[[[[[[[[[[[[[["}"#).is_ok());
        assert!(parse(br#"{"alg":"RS256","x":"\"[[[[[[[[[[[[[["}"#).is_ok());
        let err = parse(br#"{"alg":"RS256","kid":7}"#)
            .unwrap_err()
            .to_string();
        assert_eq!(err, "malformed header: `kid` is not a string at byte 21");
        let err = parse(br#"{"alg":"RS256","\u0061lg":"none"}"#)
            .unwrap_err()
            .to_string();
        assert_eq!(err, "malformed header: duplicate member `alg` at byte 15");
        assert!(parse(br#"{"alg":"RS256","crit":[5]}"#).is_err());
        assert!(parse(br#"{"alg":"RS256","b64":"no"}"#).is_err());
    }
}
