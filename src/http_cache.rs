//! HTTP caching primitives shared by the JWKS cache and SigV4 (neutral, so
//! neither reaches into the other): a strict Cache-Control parser
//! (RFC 9111 §5.2), an HTTP-date parser (RFC 9110 §5.6.7) and the freshness
//! lifetime and age arithmetic of RFC 9111 §4.2. The HTTP-date parser is
//! ours rather than `httpdate`'s: see docs/adr/0007-http-date-parser.md.

use crate::text::is_tchar;
use http::HeaderMap;
use http::header::{AGE, CACHE_CONTROL, DATE, EXPIRES};
use time::{Date, Month, OffsetDateTime, PrimitiveDateTime, Time, Weekday};

/// RFC 9111 §1.2.2: a delta-seconds value that does not fit is taken as 2^31.
const DELTA_SECONDS_CAP: u32 = 1 << 31;

/// The Cache-Control directives that decide a JWKS response's lifetime.
/// Unrecognised directives are ignored (RFC 9111 §5.2.3).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
#[non_exhaustive]
pub struct CacheControl {
    /// `max-age` in seconds (capped at 2^31).
    pub max_age: Option<u32>,
    /// `s-maxage` in seconds (capped at 2^31).
    pub s_maxage: Option<u32>,
    /// `no-store` was present.
    pub no_store: bool,
    /// `no-cache` was present (with or without field names).
    pub no_cache: bool,
    /// `private` was present (with or without field names).
    pub private: bool,
}

/// Why a Cache-Control field value was refused. A refused value makes the
/// response count as stale (RFC 9111 §4.2.1).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum CacheControlError {
    /// The value does not follow `#( token [ "=" ( token / quoted-string ) ] )`.
    #[error("cache-control syntax error at byte {at}")]
    Syntax {
        /// Byte offset of the first offending byte.
        at: usize,
    },
    /// A directive that takes one value appeared more than once.
    #[error("cache-control directive `{name}` appears more than once")]
    Duplicate {
        /// The directive name, lowercased.
        name: String,
    },
    /// A directive's argument is missing or not of the required form.
    #[error("cache-control directive `{name}` has an invalid argument")]
    InvalidArgument {
        /// The directive name, lowercased.
        name: String,
    },
}

fn is_ows(b: u8) -> bool {
    b == b' ' || b == b'\t'
}

/// An argument as written: token form or quoted-string form (unescaped).
enum Arg {
    Token(Vec<u8>),
    Quoted(Vec<u8>),
}

/// Parses a Cache-Control field value (all field lines joined with `,`).
///
/// Strict: directive names are case-insensitive tokens; arguments are a
/// token or a quoted-string; `max-age` and `s-maxage` take delta-seconds in
/// either form (RFC 9111 §5.2: senders generate the token form, recipients
/// accept both) and may appear once (RFC 9111 §4.2.1); flag directives such as `no-store` take no
/// argument. Empty list elements are allowed (RFC 9110 §5.6.1).
///
/// # Errors
/// [`CacheControlError`] naming the first problem.
pub fn parse_cache_control(value: &[u8]) -> Result<CacheControl, CacheControlError> {
    let mut cc = CacheControl::default();
    let mut i = 0usize;
    let at = |i: usize| value.get(i).copied();
    loop {
        while at(i).is_some_and(is_ows) {
            i += 1;
        }
        match at(i) {
            None => return Ok(cc),
            Some(b',') => {
                i += 1;
                continue;
            }
            Some(_) => {}
        }
        let start = i;
        while at(i).is_some_and(is_tchar) {
            i += 1;
        }
        if i == start {
            return Err(CacheControlError::Syntax { at: i });
        }
        let name = value.get(start..i).unwrap_or_default().to_ascii_lowercase();
        let arg = if at(i) == Some(b'=') {
            i += 1;
            if at(i) == Some(b'"') {
                let (end, unescaped) = quoted_string(value, i)?;
                i = end;
                Some(Arg::Quoted(unescaped))
            } else {
                let vstart = i;
                while at(i).is_some_and(is_tchar) {
                    i += 1;
                }
                if i == vstart {
                    return Err(CacheControlError::Syntax { at: i });
                }
                Some(Arg::Token(
                    value.get(vstart..i).unwrap_or_default().to_vec(),
                ))
            }
        } else {
            None
        };
        while at(i).is_some_and(is_ows) {
            i += 1;
        }
        match at(i) {
            None | Some(b',') => {}
            Some(_) => return Err(CacheControlError::Syntax { at: i }),
        }
        apply_directive(&mut cc, &name, arg)?;
    }
}

/// The end of the quoted-string opening at `open` and its unescaped content.
fn quoted_string(value: &[u8], open: usize) -> Result<(usize, Vec<u8>), CacheControlError> {
    let mut i = open + 1;
    let mut out = Vec::new();
    loop {
        match value.get(i).copied() {
            None => return Err(CacheControlError::Syntax { at: i }),
            Some(b'"') => return Ok((i + 1, out)),
            Some(b'\\') => match value.get(i + 1).copied() {
                Some(b) if b == b'\t' || b == b' ' || (0x21..=0x7e).contains(&b) || b >= 0x80 => {
                    out.push(b);
                    i += 2;
                }
                _ => return Err(CacheControlError::Syntax { at: i + 1 }),
            },
            Some(b) if b == b'\t' || b == b' ' || (0x21..=0x7e).contains(&b) || b >= 0x80 => {
                out.push(b);
                i += 1;
            }
            Some(_) => return Err(CacheControlError::Syntax { at: i }),
        }
    }
}

fn apply_directive(
    cc: &mut CacheControl,
    name: &[u8],
    arg: Option<Arg>,
) -> Result<(), CacheControlError> {
    let name_str = || String::from_utf8_lossy(name).into_owned();
    let invalid = || CacheControlError::InvalidArgument { name: name_str() };
    match name {
        // RFC 9111 §5.2: senders must use the token form, but "recipients
        // ought to accept both forms", so `max-age="60"` is 60 seconds.
        b"max-age" | b"s-maxage" => {
            let (Some(Arg::Token(digits)) | Some(Arg::Quoted(digits))) = arg else {
                return Err(invalid());
            };
            let secs = parse_delta_seconds(&digits).ok_or_else(invalid)?;
            let slot = if name == b"max-age" {
                &mut cc.max_age
            } else {
                &mut cc.s_maxage
            };
            if slot.is_some() {
                return Err(CacheControlError::Duplicate { name: name_str() });
            }
            *slot = Some(secs);
        }
        b"no-store" => {
            if arg.is_some() {
                return Err(invalid());
            }
            cc.no_store = true;
        }
        // Both take an optional quoted list of field names (RFC 9111
        // §5.2.2.4, §5.2.2.7); either form makes us refetch at the minimum.
        b"no-cache" | b"private" => {
            if matches!(arg, Some(Arg::Token(_))) {
                return Err(invalid());
            }
            if name == b"no-cache" {
                cc.no_cache = true;
            } else {
                cc.private = true;
            }
        }
        _ => {}
    }
    Ok(())
}

/// `delta-seconds = 1*DIGIT`, saturating at 2^31 (RFC 9111 §1.2.2).
fn parse_delta_seconds(digits: &[u8]) -> Option<u32> {
    if digits.is_empty() || !digits.iter().all(u8::is_ascii_digit) {
        return None;
    }
    let mut v: u64 = 0;
    for d in digits {
        v = v * 10 + u64::from(d - b'0');
        if v >= u64::from(DELTA_SECONDS_CAP) {
            return Some(DELTA_SECONDS_CAP);
        }
    }
    u32::try_from(v).ok()
}

const DAY_NAMES: [&[u8]; 7] = [b"Mon", b"Tue", b"Wed", b"Thu", b"Fri", b"Sat", b"Sun"];
const DAY_NAMES_LONG: [&[u8]; 7] = [
    b"Monday",
    b"Tuesday",
    b"Wednesday",
    b"Thursday",
    b"Friday",
    b"Saturday",
    b"Sunday",
];
const MONTHS: [&[u8]; 12] = [
    b"Jan", b"Feb", b"Mar", b"Apr", b"May", b"Jun", b"Jul", b"Aug", b"Sep", b"Oct", b"Nov", b"Dec",
];

fn digits(s: &[u8]) -> Option<u32> {
    if s.is_empty() || !s.iter().all(u8::is_ascii_digit) {
        return None;
    }
    s.iter().try_fold(0u32, |acc, d| {
        acc.checked_mul(10)?.checked_add(u32::from(d - b'0'))
    })
}

fn month(s: &[u8]) -> Option<Month> {
    let idx = MONTHS.iter().position(|m| *m == s)?;
    Month::try_from(u8::try_from(idx + 1).ok()?).ok()
}

fn weekday_index(w: Weekday) -> usize {
    usize::from(w.number_days_from_monday())
}

/// `hour ":" minute ":" second`, each two digits. A leap second (`60`) is
/// read as `59`: the time crate has no leap seconds.
fn time_of_day(s: &[u8]) -> Option<Time> {
    if s.len() != 8 || s.get(2) != Some(&b':') || s.get(5) != Some(&b':') {
        return None;
    }
    let h = digits(s.get(0..2)?)?;
    let m = digits(s.get(3..5)?)?;
    let sec = digits(s.get(6..8)?)?;
    if sec > 60 {
        return None;
    }
    Time::from_hms(
        u8::try_from(h).ok()?,
        u8::try_from(m).ok()?,
        u8::try_from(sec.min(59)).ok()?,
    )
    .ok()
}

fn assemble(
    day_name: usize,
    year: i32,
    month: Month,
    day: u32,
    tod: Time,
) -> Option<OffsetDateTime> {
    let date = Date::from_calendar_date(year, month, u8::try_from(day).ok()?).ok()?;
    // A weekday that contradicts the date means the value was not produced
    // by a conforming clock; treat it as invalid rather than guess.
    if weekday_index(date.weekday()) != day_name {
        return None;
    }
    Some(PrimitiveDateTime::new(date, tod).assume_utc())
}

/// Parses an HTTP-date in any of the three forms a recipient must accept
/// (RFC 9110 §5.6.7): IMF-fixdate (`Sun, 06 Nov 1994 08:49:37 GMT`), the
/// obsolete RFC 850 form (`Sunday, 06-Nov-94 08:49:37 GMT`, two-digit year
/// resolved against `now`: more than 50 years ahead means the previous
/// century) and asctime (`Sun Nov  6 08:49:37 1994`). Case-sensitive, exact
/// spacing, and the weekday must match the date.
pub fn parse_http_date(value: &[u8], now: OffsetDateTime) -> Option<OffsetDateTime> {
    if let Some(t) = imf_fixdate(value) {
        return Some(t);
    }
    if let Some(t) = rfc850(value, now) {
        return Some(t);
    }
    asctime(value)
}

fn imf_fixdate(s: &[u8]) -> Option<OffsetDateTime> {
    // "Sun, 06 Nov 1994 08:49:37 GMT"
    if s.len() != 29
        || s.get(3..5)? != b", "
        || s.get(7) != Some(&b' ')
        || s.get(11) != Some(&b' ')
        || s.get(16) != Some(&b' ')
        || s.get(25..29)? != b" GMT"
    {
        return None;
    }
    let name = s.get(0..3)?;
    let wd = DAY_NAMES.iter().position(|d| *d == name)?;
    let day = digits(s.get(5..7)?)?;
    let mon = month(s.get(8..11)?)?;
    let year = i32::try_from(digits(s.get(12..16)?)?).ok()?;
    let tod = time_of_day(s.get(17..25)?)?;
    assemble(wd, year, mon, day, tod)
}

fn rfc850(s: &[u8], now: OffsetDateTime) -> Option<OffsetDateTime> {
    // "Sunday, 06-Nov-94 08:49:37 GMT"
    let comma = s.iter().position(|&b| b == b',')?;
    let name = s.get(..comma)?;
    let wd = DAY_NAMES_LONG.iter().position(|d| *d == name)?;
    let rest = s.get(comma..)?;
    if rest.len() != 24
        || rest.get(0..2)? != b", "
        || rest.get(4) != Some(&b'-')
        || rest.get(8) != Some(&b'-')
        || rest.get(11) != Some(&b' ')
        || rest.get(20..24)? != b" GMT"
    {
        return None;
    }
    let day = digits(rest.get(2..4)?)?;
    let mon = month(rest.get(5..8)?)?;
    let yy = i32::try_from(digits(rest.get(9..11)?)?).ok()?;
    let tod = time_of_day(rest.get(12..20)?)?;
    let century = now.year() - now.year().rem_euclid(100);
    let mut year = century + yy;
    // RFC 9110 §5.6.7: a timestamp that *appears* more than 50 years in the
    // future is in the previous century; compare the whole timestamp, not
    // just the year (31-Dec-76 is over 50 years after 23-Nov-2026).
    let limit = (now.year() + 50, now.month(), now.day(), now.time());
    if (year, mon, u8::try_from(day).ok()?, tod) > limit {
        year -= 100;
    }
    assemble(wd, year, mon, day, tod)
}

fn asctime(s: &[u8]) -> Option<OffsetDateTime> {
    // "Sun Nov  6 08:49:37 1994"
    if s.len() != 24
        || s.get(3) != Some(&b' ')
        || s.get(7) != Some(&b' ')
        || s.get(10) != Some(&b' ')
        || s.get(19) != Some(&b' ')
    {
        return None;
    }
    let name = s.get(0..3)?;
    let wd = DAY_NAMES.iter().position(|d| *d == name)?;
    let mon = month(s.get(4..7)?)?;
    let day = match s.get(8..10)? {
        [b' ', d] => digits(&[*d])?,
        two => digits(two)?,
    };
    let tod = time_of_day(s.get(11..19)?)?;
    let year = i32::try_from(digits(s.get(20..24)?)?).ok()?;
    assemble(wd, year, mon, day, tod)
}

/// What the response headers say about how long the key set stays fresh,
/// measured from when the response was received.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Freshness {
    /// Fresh for this many more seconds (0: already stale).
    Seconds(i64),
    /// The response carries no explicit freshness information.
    Unspecified,
}

/// The remaining freshness lifetime of a response received at
/// `response_time` for a request sent at `request_time` (RFC 9111 §4.2.1
/// lifetime, §4.2.3 age). Invalid or conflicting freshness information
/// counts as stale (RFC 9111 §4.2.1); `no-store`, `no-cache` and, for a
/// shared cache, `private` too (most restrictive directive wins).
pub(crate) fn freshness(
    headers: &HeaderMap,
    request_time: Option<OffsetDateTime>,
    response_time: OffsetDateTime,
    shared: bool,
) -> Freshness {
    let stale = Freshness::Seconds(0);
    let mut cc_value = Vec::new();
    for (n, v) in headers.get_all(CACHE_CONTROL).iter().enumerate() {
        if n > 0 {
            cc_value.push(b',');
        }
        cc_value.extend_from_slice(v.as_bytes());
    }
    let cc = if headers.contains_key(CACHE_CONTROL) {
        match parse_cache_control(&cc_value) {
            Ok(cc) => cc,
            Err(_) => return stale,
        }
    } else {
        CacheControl::default()
    };
    if cc.no_store || cc.no_cache || (shared && cc.private) {
        return stale;
    }

    // Date: a singleton; several lines or a bad value are ignored and the
    // receipt time stands in (RFC 9110 §6.6.1).
    let mut dates = headers.get_all(DATE).iter();
    let date_value = match (dates.next(), dates.next()) {
        (Some(d), None) => parse_http_date(d.as_bytes(), response_time),
        _ => None,
    }
    .unwrap_or(response_time);

    let lifetime: i64 = if let Some(s) = cc.s_maxage.filter(|_| shared) {
        i64::from(s)
    } else if let Some(m) = cc.max_age {
        i64::from(m)
    } else if headers.contains_key(EXPIRES) {
        let mut all = headers.get_all(EXPIRES).iter();
        let expires = match (all.next(), all.next()) {
            (Some(e), None) => parse_http_date(e.as_bytes(), response_time),
            // Several Expires lines: RFC 9111 §4.2.1 lets us call it stale.
            _ => None,
        };
        // RFC 9111 §5.3: an invalid Expires (e.g. "0") is in the past.
        match expires {
            Some(e) => (e - date_value).whole_seconds().max(0),
            None => return stale,
        }
    } else {
        return Freshness::Unspecified;
    };

    // RFC 9111 §5.1: use the first member of a list-valued Age; ignore an
    // invalid one.
    let age_value = headers
        .get(AGE)
        .and_then(|v| {
            let first = v.as_bytes().split(|&b| b == b',').next()?;
            let trimmed = first.trim_ascii();
            parse_delta_seconds(trimmed)
        })
        .map_or(0, i64::from);
    let apparent_age = (response_time - date_value).whole_seconds().max(0);
    let response_delay = request_time
        .map_or(0, |rt| (response_time - rt).whole_seconds())
        .max(0);
    let corrected_age_value = age_value.saturating_add(response_delay);
    let current_age = apparent_age.max(corrected_age_value);
    Freshness::Seconds(lifetime.saturating_sub(current_age).max(0))
}

/// An `ETag` value worth sending back in `If-None-Match`: a single
/// syntactically valid entity-tag (RFC 9110 §8.8.3) of sane length.
pub(crate) fn entity_tag(headers: &HeaderMap) -> Option<String> {
    let mut all = headers.get_all(http::header::ETAG).iter();
    let (Some(v), None) = (all.next(), all.next()) else {
        return None;
    };
    let s = v.to_str().ok()?;
    valid_entity_tag(s).then(|| s.to_owned())
}

pub(crate) fn valid_entity_tag(s: &str) -> bool {
    let opaque = s.strip_prefix("W/").unwrap_or(s);
    let b = opaque.as_bytes();
    s.len() <= 256
        && b.len() >= 2
        && b.first() == Some(&b'"')
        && b.last() == Some(&b'"')
        && b.get(1..b.len() - 1).is_some_and(|inner| {
            inner
                .iter()
                .all(|&c| c == 0x21 || (0x23..=0x7e).contains(&c))
        })
}

#[cfg(test)]
mod tests {
    use super::*;
    use http::HeaderValue;
    use time::macros::datetime;

    const NOW: OffsetDateTime = datetime!(2026-11-23 10:00:00 UTC);

    fn cc(s: &str) -> Result<CacheControl, CacheControlError> {
        parse_cache_control(s.as_bytes())
    }

    #[test]
    fn cache_control_basic() {
        let c = cc("public, max-age=3600, s-maxage=600").unwrap();
        assert_eq!(c.max_age, Some(3600));
        assert_eq!(c.s_maxage, Some(600));
        assert!(!c.no_cache);
    }

    #[test]
    fn cache_control_case_insensitive_names_and_empty_elements() {
        let c = cc(" ,MAX-AGE=5 ,, No-Store,").unwrap();
        assert_eq!(c.max_age, Some(5));
        assert!(c.no_store);
    }

    #[test]
    fn cache_control_quoted_values() {
        let c = cc(r#"no-cache="set-cookie, x-a", private="a\"b", ext="x,y""#).unwrap();
        assert!(c.no_cache && c.private);
        assert!(matches!(
            cc(r#"max-age="5x""#),
            Err(CacheControlError::InvalidArgument { .. })
        ));
        assert!(matches!(
            cc(r#"ext="open"#),
            Err(CacheControlError::Syntax { .. })
        ));
    }

    #[test]
    fn quoted_delta_seconds_are_accepted() {
        // RFC 9111 §5.2: recipients ought to accept both argument forms.
        assert_eq!(cc(r#"max-age="600""#).unwrap().max_age, Some(600));
        assert_eq!(cc(r#"s-maxage="6\0""#).unwrap().s_maxage, Some(60));
        for bad in ["max-age=\"\"", "max-age=\" 5\"", "max-age=\"-5\""] {
            assert!(cc(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn cache_control_rejects_bad_syntax() {
        for bad in [
            "max-age=",
            "=5",
            "max-age = 5",
            "max-age=5 6",
            "max-age=-1",
            "max-age=5;x",
            "no-store=1",
            "a\u{7f}",
        ] {
            assert!(cc(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn cache_control_duplicate_max_age_is_invalid() {
        assert!(matches!(
            cc("max-age=5, max-age=5"),
            Err(CacheControlError::Duplicate { .. })
        ));
        assert!(cc("no-store, no-store").is_ok());
    }

    #[test]
    fn delta_seconds_saturate() {
        assert_eq!(
            cc("max-age=99999999999999999999").unwrap().max_age,
            Some(1 << 31)
        );
        assert_eq!(cc("max-age=0007").unwrap().max_age, Some(7));
    }

    #[test]
    fn http_date_three_forms() {
        let want = datetime!(1994-11-06 08:49:37 UTC);
        assert_eq!(
            parse_http_date(b"Sun, 06 Nov 1994 08:49:37 GMT", NOW),
            Some(want)
        );
        // 2094 would be more than 50 years ahead of 2026: 1994.
        assert_eq!(
            parse_http_date(b"Sunday, 06-Nov-94 08:49:37 GMT", NOW),
            Some(want)
        );
        assert_eq!(
            parse_http_date(b"Sun Nov  6 08:49:37 1994", NOW),
            Some(want)
        );
        assert_eq!(
            parse_http_date(b"Monday, 23-Nov-26 10:00:00 GMT", NOW),
            Some(datetime!(2026-11-23 10:00:00 UTC))
        );
    }

    #[test]
    fn http_date_rejects_variants() {
        for bad in [
            "Mon, 06 Nov 1994 08:49:37 GMT", // wrong weekday
            "Sun, 06 Nov 1994 08:49:37 UTC",
            "Sun, 6 Nov 1994 08:49:37 GMT",
            "sun, 06 Nov 1994 08:49:37 GMT",
            "Sun, 06 Nov 1994 24:00:00 GMT",
            "Sun, 31 Feb 1994 08:49:37 GMT",
            "0",
            "",
            "Sun,  06 Nov 1994 08:49:37 GMT",
        ] {
            assert_eq!(parse_http_date(bad.as_bytes(), NOW), None, "{bad}");
        }
    }

    #[test]
    fn rfc850_fifty_year_window_compares_the_whole_timestamp() {
        // NOW is 2026-11-23: 2076-01-01 is within 50 years, 2076-12-31 is not.
        assert_eq!(
            parse_http_date(b"Wednesday, 01-Jan-76 00:00:00 GMT", NOW),
            Some(datetime!(2076-01-01 00:00:00 UTC))
        );
        assert_eq!(
            parse_http_date(b"Friday, 31-Dec-76 00:00:00 GMT", NOW),
            Some(datetime!(1976-12-31 00:00:00 UTC))
        );
    }

    #[test]
    fn leap_second_reads_as_59() {
        assert_eq!(
            parse_http_date(b"Wed, 31 Dec 2008 23:59:60 GMT", NOW),
            Some(datetime!(2008-12-31 23:59:59 UTC))
        );
    }

    fn headers(pairs: &[(&str, &str)]) -> HeaderMap {
        let mut h = HeaderMap::new();
        for (k, v) in pairs {
            h.append(
                http::header::HeaderName::from_bytes(k.as_bytes()).unwrap(),
                HeaderValue::from_str(v).unwrap(),
            );
        }
        h
    }

    #[test]
    fn s_maxage_wins_only_for_shared() {
        let h = headers(&[("cache-control", "max-age=100, s-maxage=50")]);
        assert_eq!(freshness(&h, None, NOW, true), Freshness::Seconds(50));
        assert_eq!(freshness(&h, None, NOW, false), Freshness::Seconds(100));
    }

    #[test]
    fn expires_relative_to_date_minus_age() {
        let h = headers(&[
            ("date", "Mon, 23 Nov 2026 09:59:00 GMT"),
            ("expires", "Mon, 23 Nov 2026 10:59:00 GMT"),
        ]);
        // Lifetime 3600 s, apparent age 60 s.
        assert_eq!(freshness(&h, None, NOW, true), Freshness::Seconds(3540));
        let h = headers(&[("cache-control", "max-age=600"), ("age", "100, 7")]);
        assert_eq!(freshness(&h, None, NOW, true), Freshness::Seconds(500));
        let h = headers(&[("cache-control", "max-age=600"), ("age", "junk")]);
        assert_eq!(freshness(&h, None, NOW, true), Freshness::Seconds(600));
        let h = headers(&[("expires", "0")]);
        assert_eq!(freshness(&h, None, NOW, true), Freshness::Seconds(0));
        assert_eq!(
            freshness(&HeaderMap::new(), None, NOW, true),
            Freshness::Unspecified
        );
    }

    mod props {
        use super::*;
        use proptest::prelude::*;
        use time::format_description::parse_borrowed;

        fn render(t: OffsetDateTime, form: &str) -> String {
            let f = parse_borrowed::<2>(form).unwrap();
            t.format(&f).unwrap()
        }

        proptest! {
            #[test]
            fn parsers_never_panic(bytes in prop::collection::vec(any::<u8>(), 0..64)) {
                let _ = parse_cache_control(&bytes);
                let _ = parse_http_date(&bytes, NOW);
            }

            #[test]
            fn cache_control_round_trip(
                max_age in proptest::option::of(0u32..(1 << 31)),
                s_maxage in proptest::option::of(0u32..(1 << 31)),
                no_store: bool,
                no_cache: bool,
                private: bool,
                upper: bool,
            ) {
                let mut parts = vec!["public".to_owned(), "ext=\"a, \\\"b\"".to_owned()];
                if let Some(m) = max_age { parts.push(format!("max-age={m}")); }
                if let Some(m) = s_maxage { parts.push(format!("s-maxage={m}")); }
                if no_store { parts.push("no-store".into()); }
                if no_cache { parts.push("no-cache".into()); }
                if private { parts.push("private=\"set-cookie\"".into()); }
                let mut value = parts.join(" , ");
                if upper { value = value.to_ascii_uppercase(); }
                let cc = parse_cache_control(value.as_bytes()).unwrap();
                prop_assert_eq!(cc.max_age, max_age);
                prop_assert_eq!(cc.s_maxage, s_maxage);
                prop_assert_eq!((cc.no_store, cc.no_cache, cc.private), (no_store, no_cache, private));
            }

            #[test]
            fn http_date_round_trip(secs in -2_208_988_800i64..253_402_300_799) {
                let t = OffsetDateTime::from_unix_timestamp(secs).unwrap();
                let imf = render(t, "[weekday repr:short], [day] [month repr:short] [year] [hour]:[minute]:[second] GMT");
                prop_assert_eq!(parse_http_date(imf.as_bytes(), NOW), Some(t), "{}", imf);
                let asc = render(t, "[weekday repr:short] [month repr:short] [day padding:space] [hour]:[minute]:[second] [year]");
                prop_assert_eq!(parse_http_date(asc.as_bytes(), NOW), Some(t), "{}", asc);
                // RFC 850's two-digit year only round-trips within 50 years of now.
                if t > datetime!(1976-11-23 10:00:00 UTC) && t <= datetime!(2076-11-23 10:00:00 UTC) {
                    let rfc850 = render(t, "[weekday], [day]-[month repr:short]-[year repr:last_two] [hour]:[minute]:[second] GMT");
                    prop_assert_eq!(parse_http_date(rfc850.as_bytes(), NOW), Some(t), "{}", rfc850);
                }
            }
        }
    }

    #[test]
    fn etag_validation() {
        assert!(valid_entity_tag("\"abc\""));
        assert!(valid_entity_tag("W/\"abc\""));
        assert!(!valid_entity_tag("abc"));
        assert!(!valid_entity_tag("\""));
        assert!(!valid_entity_tag("\"a\"b\""));
    }
}
