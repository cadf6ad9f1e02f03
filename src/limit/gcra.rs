//! GCRA (the Generic Cell Rate Algorithm of ITU-T I.371, the virtual
//! scheduling form) as a pure function: the theoretical arrival time (TAT)
//! of a key in, a decision and the TAT to store out.

use std::fmt;
use std::str::FromStr;

use serde::{Deserialize, Serialize};
use time::{Duration, OffsetDateTime};

use super::LimitError;

const NANOS_PER_SECOND: i128 = 1_000_000_000;

/// The longest period a rate may name: one year. Longer windows are
/// quotas, not rate limits, and would keep state alive for as long.
const MAX_PERIOD_NANOS: i128 = 366 * 86_400 * NANOS_PER_SECOND;

/// The longest `burst × T` a limit may span (about 36 years): the decision
/// runs on 64-bit nanoseconds (128-bit division costs more than the rest).
const MAX_TOLERANCE: i64 = i64::MAX / 8;

/// The largest burst and request count a limit may declare.
pub const MAX_BURST: u32 = 1_000_000;

/// A rate: `count` requests per `period`. Written `"100/60s"`, `"10/s"`,
/// `"5000/h"` (units `ms`, `s`, `m`, `h`, `d`; a unit without a number
/// means one).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct Rate {
    count: u32,
    period: Duration,
}

impl Rate {
    /// `count` requests per `period`.
    ///
    /// # Errors
    /// [`LimitError::InvalidRate`] when `count` is zero or over
    /// [`MAX_BURST`], or `period` is not positive or longer than a year.
    pub fn new(count: u32, period: Duration) -> Result<Self, LimitError> {
        let bad = |reason: &str| LimitError::InvalidRate {
            rate: format!("{count}/{}", crate::time::display_duration(period)),
            reason: reason.to_owned(),
        };
        if count == 0 || count > MAX_BURST {
            return Err(bad("the count must be 1 to 1000000"));
        }
        if !period.is_positive() || period.whole_nanoseconds() > MAX_PERIOD_NANOS {
            return Err(bad("the period must be positive and at most a year"));
        }
        Ok(Self { count, period })
    }

    /// Requests per period.
    pub fn count(&self) -> u32 {
        self.count
    }

    /// The period.
    pub fn period(&self) -> Duration {
        self.period
    }
}

impl FromStr for Rate {
    type Err = LimitError;

    /// Parses `"<count>/<number?><unit>"`.
    fn from_str(text: &str) -> Result<Self, LimitError> {
        let bad = |reason: &str| invalid_rate(text, reason);
        let (count, period) = text
            .split_once('/')
            .ok_or_else(|| bad("expected `<count>/<period>`, e.g. `100/60s`"))?;
        let count: u32 = digits(count)
            .ok_or_else(|| bad("the count is not a whole number"))?
            .try_into()
            .map_err(|_| bad("the count is too large"))?;
        let unit_at = period
            .find(|c: char| !c.is_ascii_digit())
            .ok_or_else(|| bad("the period has no unit (`ms`, `s`, `m`, `h`, `d`)"))?;
        let (number, unit) = period.split_at(unit_at);
        let number = if number.is_empty() {
            1
        } else {
            digits(number).ok_or_else(|| bad("the period is not a whole number"))?
        };
        let unit_nanos: i128 = match unit {
            "ms" => 1_000_000,
            "s" => NANOS_PER_SECOND,
            "m" => 60 * NANOS_PER_SECOND,
            "h" => 3600 * NANOS_PER_SECOND,
            "d" => 86_400 * NANOS_PER_SECOND,
            _ => return Err(bad("the unit is not one of `ms`, `s`, `m`, `h`, `d`")),
        };
        let nanos = i128::from(number).saturating_mul(unit_nanos);
        if nanos > MAX_PERIOD_NANOS {
            return Err(bad("the period must be at most a year"));
        }
        Self::new(count, duration(nanos)).map_err(|e| match e {
            LimitError::InvalidRate { reason, .. } => bad(&reason),
            other => other,
        })
    }
}

impl fmt::Display for Rate {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let nanos = self.period.whole_nanoseconds();
        if nanos % NANOS_PER_SECOND == 0 {
            write!(f, "{}/{}s", self.count, nanos / NANOS_PER_SECOND)
        } else {
            write!(f, "{}/{}ms", self.count, nanos / 1_000_000)
        }
    }
}

/// The error of a rate that does not parse: one body for every reason.
#[inline(never)]
fn invalid_rate(text: &str, reason: &str) -> LimitError {
    LimitError::InvalidRate {
        rate: crate::text::printable(text, 64),
        reason: reason.to_owned(),
    }
}

/// ASCII digits only (no sign, no space), at most nine of them.
fn digits(s: &str) -> Option<u64> {
    if s.is_empty() || s.len() > 9 || !s.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    s.parse().ok()
}

/// A rate limit: a [`Rate`] and a burst. The emission interval
/// `T = period / count` (in whole nanoseconds, rounded up, so the limit
/// never admits more than its rate); `burst` requests may arrive at once.
///
/// The guarantee, for any window of length `t` (both ends included): at
/// most `burst + floor(t / T)` requests are admitted, and a client whose
/// requests are at least `T` apart is never refused.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct Limit {
    rate: Rate,
    burst: u32,
    /// `T`, nanoseconds, at least 1.
    emission: i64,
    /// `burst × T`: how far ahead of now the TAT may run; at most
    /// [`MAX_TOLERANCE`], so the arithmetic stays in `i64`.
    tolerance: i64,
    /// `floor((2^64 - 1) / T)`: divides by `T` with a multiplication (a
    /// 64-bit division costs more than the rest of the decision).
    reciprocal: u64,
}

impl Limit {
    /// A limit of `rate` with `burst` requests at once.
    ///
    /// # Errors
    /// [`LimitError::InvalidBurst`] when `burst` is zero or over
    /// [`MAX_BURST`], or `burst × period / count` is over about 36 years.
    pub fn new(rate: Rate, burst: u32) -> Result<Self, LimitError> {
        if burst == 0 || burst > MAX_BURST {
            return Err(LimitError::InvalidBurst { burst });
        }
        let period = rate.period.whole_nanoseconds();
        let count = i128::from(rate.count);
        // Rounded up; `count >= 1` and `period >= 1` (checked by `Rate`).
        let emission = (period.saturating_add(count - 1) / count.max(1)).max(1);
        let tolerance = emission.saturating_mul(i128::from(burst));
        match (i64::try_from(emission), i64::try_from(tolerance)) {
            (Ok(emission), Ok(tolerance)) if tolerance <= MAX_TOLERANCE => Ok(Self {
                rate,
                burst,
                emission,
                tolerance,
                reciprocal: u64::MAX / emission.unsigned_abs().max(1),
            }),
            _ => Err(LimitError::InvalidBurst { burst }),
        }
    }

    /// `n / T` for `0 <= n <= tau`, by the reciprocal: the estimate
    /// `n * floor((2^64 - 1) / T) / 2^64` is the quotient or one less
    /// (its error is under `2n / 2^64 < 1` for `n < 2^63`), and one
    /// comparison corrects it.
    #[inline]
    fn div_emission(&self, n: i64) -> i64 {
        let (Ok(n), Ok(t)) = (u64::try_from(n), u64::try_from(self.emission)) else {
            return 0;
        };
        let q = ((u128::from(n) * u128::from(self.reciprocal)) >> 64) as u64;
        let q = if n - q * t >= t { q + 1 } else { q };
        i64::try_from(q).unwrap_or(i64::MAX)
    }

    /// The rate.
    pub fn rate(&self) -> Rate {
        self.rate
    }

    /// The burst.
    pub fn burst(&self) -> u32 {
        self.burst
    }

    /// The emission interval `T`.
    pub fn emission_interval(&self) -> Duration {
        Duration::nanoseconds(self.emission)
    }
}

/// A key's theoretical arrival time: Unix time in nanoseconds. What a store
/// keeps per key; once it lies in the past it carries no information (a
/// missing entry decides the same) and the store may drop it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(transparent)]
pub struct Tat(i128);

impl Tat {
    /// From Unix nanoseconds (what a Redis store keeps).
    pub fn from_unix_nanos(nanos: i128) -> Self {
        Self(nanos)
    }

    /// Unix nanoseconds.
    pub fn unix_nanos(self) -> i128 {
        self.0
    }

    /// Whether the TAT is at or before `now`: the entry can be dropped.
    pub fn is_idle(self, now: OffsetDateTime) -> bool {
        self.0 <= now.unix_timestamp_nanos()
    }
}

/// What GCRA decided for one request.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[non_exhaustive]
pub struct Decision {
    /// Whether the request is admitted.
    pub allowed: bool,
    /// When refused, how long until the same request would be admitted;
    /// zero when admitted.
    pub retry_after: Duration,
    /// How many more requests would be admitted right now.
    pub remaining: u32,
    /// How long until the whole burst is available again.
    pub reset: Duration,
    /// How long until `remaining` grows by one (`retry_after` when
    /// refused); zero when the whole burst is available.
    pub next: Duration,
}

/// Decides one request at `now` for a key whose stored TAT is `tat` (`None`
/// for a key never seen or dropped). Returns the decision and the TAT to
/// store: the new one when admitted, `tat` unchanged when refused (a
/// refused request costs nothing, so a client hammering a limit is let in
/// again as soon as its rate allows).
///
/// A stored TAT further ahead than the limit allows (a corrupt or foreign
/// store value) is treated as the furthest valid one, so a bad value
/// refuses for at most one burst's worth of time and never overflows.
pub fn decide(limit: &Limit, tat: Option<Tat>, now: OffsetDateTime) -> (Decision, Option<Tat>) {
    let (decision, new) = decide_nanos(limit, tat.map(Tat::unix_nanos), now.unix_timestamp_nanos());
    (decision, new.map(Tat))
}

#[inline]
pub(crate) fn decide_nanos(
    limit: &Limit,
    tat: Option<i128>,
    now: i128,
) -> (Decision, Option<i128>) {
    // How far the stored TAT runs ahead of now, clamped to [0, tau]: a
    // TAT in the past is "now", one beyond tau (corrupt) is tau.
    let lead = tat.map_or(0, |tat| {
        let ahead = tat
            .saturating_sub(now)
            .clamp(0, i128::from(limit.tolerance));
        i64::try_from(ahead).unwrap_or(limit.tolerance)
    });
    match decide_lead(limit, lead) {
        (decision, Some(ahead)) => (decision, Some(now.saturating_add(i128::from(ahead)))),
        (decision, None) => (decision, tat),
    }
}

/// [`decide_nanos`] on 64-bit nanoseconds (the in-memory store's hot
/// path: no 128-bit arithmetic). `None` when the new TAT would not fit in
/// `i64` (after the year 2262): the caller then decides on 128 bits.
#[inline]
pub(crate) fn decide_nanos_i64(
    limit: &Limit,
    tat: i64,
    now: i64,
) -> Option<(Decision, Option<i64>)> {
    let lead = tat.saturating_sub(now).clamp(0, limit.tolerance);
    match decide_lead(limit, lead) {
        (decision, Some(ahead)) => Some((decision, Some(now.checked_add(ahead)?))),
        (decision, None) => Some((decision, None)),
    }
}

/// `now` as Unix nanoseconds in an `i64` (years 1678 to 2262), without
/// the 128-bit arithmetic of `unix_timestamp_nanos`.
#[inline]
pub(crate) fn unix_nanos_i64(now: OffsetDateTime) -> Option<i64> {
    now.unix_timestamp()
        .checked_mul(1_000_000_000)?
        .checked_add(i64::from(now.nanosecond()))
}

/// The decision for a TAT `lead` nanoseconds ahead of now (in `[0, tau]`),
/// and when admitted how far ahead of now the new TAT is. Everything is
/// 64-bit: tau + t cannot overflow (tau <= i64::MAX / 8).
#[inline]
fn decide_lead(limit: &Limit, lead: i64) -> (Decision, Option<i64>) {
    let t = limit.emission;
    let tau = limit.tolerance;
    let ahead = lead + t;
    if ahead <= tau {
        let remaining = limit.div_emission(tau - ahead);
        // `remaining` grows when `ahead` falls to `tau - (remaining + 1) T`.
        let next = ahead - tau + (remaining + 1) * t;
        let decision = Decision {
            allowed: true,
            retry_after: Duration::ZERO,
            remaining: u32::try_from(remaining).unwrap_or(u32::MAX),
            reset: Duration::nanoseconds(ahead),
            next: Duration::nanoseconds(next),
        };
        return (decision, Some(ahead));
    }
    let retry = Duration::nanoseconds(ahead - tau);
    let decision = Decision {
        allowed: false,
        retry_after: retry,
        remaining: 0,
        reset: Duration::nanoseconds(lead),
        next: retry,
    };
    (decision, None)
}

/// Nanoseconds to a `Duration` without a panicking path.
pub(crate) fn duration(nanos: i128) -> Duration {
    let seconds = i64::try_from(nanos / NANOS_PER_SECOND).unwrap_or(i64::MAX);
    let sub = i32::try_from(nanos % NANOS_PER_SECOND).unwrap_or(0);
    Duration::new(seconds, sub)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rates_parse() {
        let r: Rate = "100/60s".parse().unwrap();
        assert_eq!((r.count(), r.period()), (100, Duration::seconds(60)));
        let r: Rate = "10/s".parse().unwrap();
        assert_eq!(r.period(), Duration::seconds(1));
        let r: Rate = "5/250ms".parse().unwrap();
        assert_eq!(r.period(), Duration::milliseconds(250));
        assert_eq!(r.to_string(), "5/250ms");
        for bad in [
            "", "10", "/s", "0/s", "-1/s", "1/0s", "1/s2", "1/x", "1/1y", "1/400d", " 1/s",
        ] {
            assert!(bad.parse::<Rate>().is_err(), "{bad}");
        }
    }

    #[test]
    fn emission_interval_rounds_up() {
        let l = Limit::new("3/1s".parse().unwrap(), 1).unwrap();
        assert_eq!(l.emission_interval(), Duration::nanoseconds(333_333_334));
    }

    #[test]
    fn division_by_reciprocal_is_exact() {
        let emissions = [
            1_i64,
            2,
            3,
            7,
            1_000,
            333_333_334,
            1_000_000_007,
            86_400_000_000_000,
            MAX_TOLERANCE / 3,
            MAX_TOLERANCE,
        ];
        // A fixed xorshift sequence: deterministic, no clock or global.
        let mut x: u64 = 0x9e37_79b9_7f4a_7c15;
        for t in emissions {
            let l = Limit {
                rate: Rate::new(1, Duration::seconds(1)).unwrap(),
                burst: 1,
                emission: t,
                tolerance: MAX_TOLERANCE,
                reciprocal: u64::MAX / t.unsigned_abs(),
            };
            let mut ns = vec![0, 1, t - 1, t, t + 1, 2 * t - 1, 2 * t, MAX_TOLERANCE];
            ns.extend([
                MAX_TOLERANCE - 1,
                MAX_TOLERANCE / t * t,
                MAX_TOLERANCE / t * t - 1,
            ]);
            for _ in 0..2_000 {
                x ^= x << 13;
                x ^= x >> 7;
                x ^= x << 17;
                ns.push(i64::try_from(x % MAX_TOLERANCE.unsigned_abs()).unwrap());
            }
            for n in ns.into_iter().filter(|n| (0..=MAX_TOLERANCE).contains(n)) {
                assert_eq!(l.div_emission(n), n / t, "{n} / {t}");
            }
        }
    }

    #[test]
    fn i64_nanos_match_i128_nanos() {
        for now in [
            OffsetDateTime::UNIX_EPOCH,
            OffsetDateTime::UNIX_EPOCH - Duration::nanoseconds(1),
            OffsetDateTime::UNIX_EPOCH + Duration::new(1_765_000_000, 123_456_789),
            OffsetDateTime::UNIX_EPOCH - Duration::new(1_765_000_000, 987_654_321),
        ] {
            let wide = now.unix_timestamp_nanos();
            assert_eq!(unix_nanos_i64(now).map(i128::from), Some(wide));
        }
        let far = OffsetDateTime::UNIX_EPOCH + Duration::days(365 * 300);
        assert_eq!(unix_nanos_i64(far), None);
    }

    #[test]
    fn i64_decision_matches_i128_decision() {
        let l = Limit::new("10/1s".parse().unwrap(), 5).unwrap();
        let now: i64 = 1_765_000_000_000_000_000;
        for lead in [
            -1_000_000_000_i64,
            0,
            1,
            99_999_999,
            100_000_000,
            400_000_000,
            500_000_000,
            10_000_000_000,
        ] {
            let tat = now + lead;
            let (wide, wide_new) = decide_nanos(&l, Some(i128::from(tat)), i128::from(now));
            let (narrow, narrow_new) = decide_nanos_i64(&l, tat, now).unwrap();
            assert_eq!(wide, narrow, "lead {lead}");
            if wide.allowed {
                assert_eq!(wide_new, narrow_new.map(i128::from), "lead {lead}");
            } else {
                assert_eq!(narrow_new, None, "lead {lead}");
            }
        }
        // Refused near the end of `i64`: decided, nothing to store.
        let refused = decide_nanos_i64(&l, i64::MAX, i64::MAX - 500_000_000);
        assert!(refused.is_some_and(|(d, new)| !d.allowed && new.is_none()));
        // Admitted with a new TAT past `i64`: left to the 128-bit path.
        assert!(decide_nanos_i64(&l, i64::MAX, i64::MAX - 1).is_none());
        assert!(decide_nanos_i64(&l, 0, i64::MAX - 1).is_none());
    }
}
