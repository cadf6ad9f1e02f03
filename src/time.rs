//! Time arithmetic for validity windows. The library never reads a clock:
//! every check takes `now` from the caller (`SystemTime::now()` panics on
//! `wasm32-unknown-unknown`, where Workers run).

use time::UtcOffset;

pub use time::{Duration, OffsetDateTime};

/// The default clock-skew allowance for `exp`, `nbf`, `iat`, `created` and
/// `expires` checks.
pub const DEFAULT_LEEWAY: Duration = Duration::seconds(60);

/// Converts a NumericDate (seconds since the Unix epoch) to a time, or `None`
/// when it is out of the representable range.
#[cfg(feature = "httpsig")]
pub(crate) fn from_unix(secs: i64) -> Option<OffsetDateTime> {
    OffsetDateTime::from_unix_timestamp(secs).ok()
}

/// A duration for an error message in whole units, as a rate or setting
/// spells it (`60s`, `1500ms`, `7ns`): `time`'s own `Display` links core's
/// float formatting (~8 KB in a Worker) for its precision form.
pub(crate) fn display_duration(d: Duration) -> String {
    let nanos = d.whole_nanoseconds();
    if nanos % 1_000_000_000 == 0 {
        format!("{}s", nanos / 1_000_000_000)
    } else if nanos % 1_000_000 == 0 {
        format!("{}ms", nanos / 1_000_000)
    } else {
        format!("{nanos}ns")
    }
}

/// Formats a time as RFC 3339 in UTC (`2026-11-23T10:00:00Z`, with the
/// fraction of a second only when there is one) for error messages; falls
/// back to the Unix timestamp outside years 0000-9999. Written out here
/// rather than with `time`'s formatter, which weighs ~10 KB in a Worker.
pub(crate) fn display(t: OffsetDateTime) -> String {
    let utc = t
        .checked_to_offset(UtcOffset::UTC)
        .filter(|u| (0..=9999).contains(&u.year()));
    let Some(u) = utc else {
        return t.unix_timestamp().to_string();
    };
    let mut out = format!(
        "{:04}-{:02}-{:02}T{:02}:{:02}:{:02}",
        u.year(),
        u8::from(u.month()),
        u.day(),
        u.hour(),
        u.minute(),
        u.second()
    );
    let nanos = u.nanosecond();
    if nanos != 0 {
        let digits = format!("{nanos:09}");
        out.push('.');
        out.push_str(digits.trim_end_matches('0'));
    }
    out.push('Z');
    out
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
    fn durations_print_in_whole_units() {
        assert_eq!(display_duration(Duration::minutes(2)), "120s");
        assert_eq!(display_duration(Duration::milliseconds(-1500)), "-1500ms");
        assert_eq!(display_duration(Duration::nanoseconds(7)), "7ns");
        assert_eq!(display_duration(Duration::ZERO), "0s");
    }

    #[test]
    fn formats_rfc3339() {
        let t = from_unix(1_795_428_000).unwrap();
        assert_eq!(display(t), "2026-11-23T10:00:00Z");
        assert_eq!(seconds_between(t, t + Duration::seconds(124)), 124);
    }

    #[test]
    fn formats_rfc3339_in_utc_with_the_fraction() {
        let t = OffsetDateTime::from_unix_timestamp(1_795_428_000).unwrap()
            + Duration::milliseconds(250);
        let t = t.to_offset(time::macros::offset!(+2));
        assert_eq!(display(t), "2026-11-23T10:00:00.25Z");
    }

    #[test]
    fn formats_years_before_0000_as_unix_seconds() {
        let t = OffsetDateTime::from_unix_timestamp(-62_167_305_600).unwrap();
        assert_eq!(t.year(), -1);
        assert_eq!(display(t), "-62167305600");
    }

    #[test]
    fn out_of_range_is_none() {
        assert!(from_unix(i64::MAX).is_none());
    }
}
