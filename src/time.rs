//! Time arithmetic for validity windows. The library never reads a clock:
//! every check takes `now` from the caller (`SystemTime::now()` panics on
//! `wasm32-unknown-unknown`, where Workers run).

use time::OffsetDateTime;
use time::format_description::well_known::Rfc3339;

pub use time::Duration;

/// The default clock-skew allowance for `exp`, `nbf`, `iat`, `created` and
/// `expires` checks.
pub const DEFAULT_LEEWAY: Duration = Duration::seconds(60);

/// Converts a NumericDate (seconds since the Unix epoch) to a time, or `None`
/// when it is out of the representable range.
#[cfg(feature = "httpsig")]
pub(crate) fn from_unix(secs: i64) -> Option<OffsetDateTime> {
    OffsetDateTime::from_unix_timestamp(secs).ok()
}

/// Formats a time as RFC 3339 for error messages; falls back to the Unix
/// timestamp if formatting fails.
pub(crate) fn display(t: OffsetDateTime) -> String {
    t.format(&Rfc3339)
        .unwrap_or_else(|_| t.unix_timestamp().to_string())
}

/// Whole seconds from `earlier` to `later` (negative when `later` is before
/// `earlier`), saturating.
pub(crate) fn seconds_between(earlier: OffsetDateTime, later: OffsetDateTime) -> i64 {
    (later - earlier).whole_seconds()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn formats_rfc3339() {
        let t = from_unix(1_795_428_000).unwrap();
        assert_eq!(display(t), "2026-11-23T10:00:00Z");
        assert_eq!(seconds_between(t, t + Duration::seconds(124)), 124);
    }

    #[test]
    fn out_of_range_is_none() {
        assert!(from_unix(i64::MAX).is_none());
    }
}
