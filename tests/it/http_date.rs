//! Our HTTP-date parser (RFC 9110 §5.6.7) against the `httpdate` crate:
//! where they agree, and each place they differ, one test per case (the
//! record is docs/adr/0007-http-date-parser.md).

use std::time::UNIX_EPOCH;

use edge_auth::__fuzz::parse_http_date;
use time::OffsetDateTime;
use time::macros::datetime;

const NOW: OffsetDateTime = datetime!(2026-12-07 12:00:00 UTC);

fn ours(s: &str) -> Option<i64> {
    parse_http_date(s.as_bytes(), NOW).map(OffsetDateTime::unix_timestamp)
}

fn theirs(s: &str) -> Option<i64> {
    httpdate::parse_http_date(s)
        .ok()
        .and_then(|t| t.duration_since(UNIX_EPOCH).ok())
        .and_then(|d| i64::try_from(d.as_secs()).ok())
}

#[test]
fn http_date_three_forms_agree_with_httpdate() {
    for s in [
        "Sun, 06 Nov 1994 08:49:37 GMT",
        "Sunday, 06-Nov-94 08:49:37 GMT",
        "Sun Nov  6 08:49:37 1994",
        "Fri, 31 Dec 9999 23:59:59 GMT",
        "Thu, 01 Jan 1970 00:00:00 GMT",
        "Thu, 29 Feb 2024 00:00:00 GMT",
    ] {
        assert_eq!(ours(s), theirs(s), "{s}");
        assert!(ours(s).is_some(), "{s}");
    }
    assert_eq!(ours("Sun, 06 Nov 1994 08:49:37 GMT"), Some(784_111_777));
}

#[test]
fn http_date_both_refuse_a_wrong_weekday_or_bad_layout() {
    for s in [
        "Mon, 06 Nov 1994 08:49:37 GMT",
        "Monday, 06-Nov-94 08:49:37 GMT",
        "Mon Nov  6 08:49:37 1994",
        "sun, 06 Nov 1994 08:49:37 GMT",
        "Sun, 06 Nov 1994 08:49:37 gmt",
        "Sun, 06 Nov 1994 08:49:37 UTC",
        "Sun, 6 Nov 1994 08:49:37 GMT",
        "Sun, 31 Feb 1994 08:49:37 GMT",
        "Sun, 06 Nov 1994 24:00:00 GMT",
        "",
    ] {
        assert_eq!(ours(s), None, "{s}");
        assert_eq!(theirs(s), None, "{s}");
    }
}

/// httpdate trims surrounding whitespace; we take the field value as the
/// `http` crate gives it (already without OWS) and refuse anything else.
#[test]
fn http_date_httpdate_trims_whitespace_we_refuse() {
    let s = " Sun, 06 Nov 1994 08:49:37 GMT\t";
    assert_eq!(ours(s), None);
    assert_eq!(theirs(s), Some(784_111_777));
}

/// RFC 9110 §5.6.7: a two-digit RFC 850 year more than 50 years ahead of
/// now is the most recent past year with those digits. httpdate pivots at
/// 1970 whatever the date: in 2026 `70` is 2070 (44 years ahead) for us and
/// 1970 for httpdate.
#[test]
fn http_date_rfc850_year_follows_the_fifty_year_rule_not_a_fixed_pivot() {
    let s = "Thursday, 01-Jan-70 00:00:00 GMT";
    let year = parse_http_date(s.as_bytes(), NOW).map(|t| t.year());
    assert_eq!(year, None, "2070-01-01 is a Wednesday");
    let s = "Wednesday, 01-Jan-70 00:00:00 GMT";
    assert_eq!(
        parse_http_date(s.as_bytes(), NOW).map(|t| t.year()),
        Some(2070)
    );
    assert_eq!(theirs(s), None, "httpdate reads 1970-01-01, a Thursday");
    assert_eq!(theirs("Thursday, 01-Jan-70 00:00:00 GMT"), Some(0));
}

/// A leap second (`:60`) reads as `:59` for us (RFC 9110 allows 60 in
/// `second`); httpdate refuses it.
#[test]
fn http_date_leap_second_we_read_as_59_httpdate_refuses() {
    let s = "Wed, 31 Dec 2008 23:59:60 GMT";
    assert_eq!(ours(s), ours("Wed, 31 Dec 2008 23:59:59 GMT"));
    assert!(ours(s).is_some());
    assert_eq!(theirs(s), None);
}

/// httpdate cannot represent years before 1970 (its `SystemTime` starts
/// there) and refuses them; ours reads them, which matters to a cache only
/// as "long expired".
#[test]
fn http_date_before_1970_we_read_httpdate_refuses() {
    let s = "Sat, 01 Jan 1966 00:00:00 GMT";
    assert!(ours(s).is_some_and(|t| t < 0));
    assert_eq!(theirs(s), None);
}
