//! The limits a request met, as data (audit) and as the `RateLimit-Policy`
//! and `RateLimit` fields of draft-ietf-httpapi-ratelimit-headers-11 §3-4
//! (Structured Field Lists, RFC 9651, of Strings with parameters).

use http::{HeaderMap, HeaderName, HeaderValue};
use serde::{Deserialize, Serialize};
use time::Duration;

use super::gcra::Decision;

/// `RateLimit-Policy` (draft-ietf-httpapi-ratelimit-headers §3).
pub const RATELIMIT_POLICY: HeaderName = HeaderName::from_static("ratelimit-policy");
/// `RateLimit` (draft-ietf-httpapi-ratelimit-headers §4).
pub const RATELIMIT: HeaderName = HeaderName::from_static("ratelimit");

/// One limit applied to one request: which, and what it decided. Carried by
/// an allowed [`Decision`](crate::policy::Decision) and by a 429
/// [`Rejection`](crate::response::Rejection); serialise it for the audit
/// log.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[non_exhaustive]
pub struct LimitReport {
    /// The limit's id from the policy document.
    pub id: String,
    /// Requests per window (the rate's count): `q` of `RateLimit-Policy`.
    pub quota: u32,
    /// The rate's period in whole seconds, rounded up: `w`.
    pub window: u64,
    /// Whether this limit admitted the request.
    pub allowed: bool,
    /// Requests admitted right now after this one: `r` of `RateLimit`.
    pub remaining: u32,
    /// Seconds (rounded up) until `remaining` grows by one, or until the
    /// refused request would be admitted: `t` of `RateLimit`, and the
    /// `Retry-After` of a 429. Zero when the whole burst is available.
    pub next: u64,
    /// Seconds (rounded up) until the whole burst is available again.
    pub reset: u64,
}

impl LimitReport {
    /// The report of `decision` under the limit `id` of `quota` per
    /// `window`.
    pub fn new(id: &str, quota: u32, window: Duration, decision: &Decision) -> Self {
        Self {
            id: id.to_owned(),
            quota,
            window: ceil_seconds(window).max(1),
            allowed: decision.allowed,
            remaining: decision.remaining,
            next: ceil_seconds(decision.next),
            reset: ceil_seconds(decision.reset),
        }
    }

    /// The `RateLimit-Policy` list member: `"id";q=100;w=60`.
    pub fn policy_item(&self) -> String {
        format!("{};q={};w={}", sf_string(&self.id), self.quota, self.window)
    }

    /// The `RateLimit` list member: `"id";r=0;t=12` (`t` left out when the
    /// whole burst is available).
    pub fn limit_item(&self) -> String {
        if self.next == 0 {
            format!("{};r={}", sf_string(&self.id), self.remaining)
        } else {
            format!(
                "{};r={};t={}",
                sf_string(&self.id),
                self.remaining,
                self.next
            )
        }
    }
}

/// Sets `RateLimit-Policy` and `RateLimit` for `reports` (one list member
/// per limit, in order) on `headers`, replacing earlier values; sets
/// nothing for no report.
pub fn apply_headers(reports: &[LimitReport], headers: &mut HeaderMap) {
    if reports.is_empty() {
        return;
    }
    let join = |f: fn(&LimitReport) -> String| reports.iter().map(f).collect::<Vec<_>>().join(", ");
    // Ids are checked when the policy compiles and `sf_string` escapes
    // the rest: the values are visible ASCII.
    if let Ok(v) = HeaderValue::try_from(join(LimitReport::policy_item)) {
        headers.insert(RATELIMIT_POLICY, v);
    }
    if let Ok(v) = HeaderValue::try_from(join(LimitReport::limit_item)) {
        headers.insert(RATELIMIT, v);
    }
}

/// RFC 9651 §4.1.6 sf-string: `"` and `\` escaped, anything outside
/// visible ASCII and space dropped.
fn sf_string(s: &str) -> String {
    let mut out = String::with_capacity(s.len() + 2);
    out.push('"');
    for c in s.chars() {
        match c {
            '"' | '\\' => {
                out.push('\\');
                out.push(c);
            }
            ' '..='~' => out.push(c),
            _ => {}
        }
    }
    out.push('"');
    out
}

/// Whole seconds, rounded up, never negative.
pub(crate) fn ceil_seconds(d: Duration) -> u64 {
    if !d.is_positive() {
        return 0;
    }
    let whole = d.whole_seconds();
    let whole = if d > Duration::seconds(whole) {
        whole.saturating_add(1)
    } else {
        whole
    };
    u64::try_from(whole).unwrap_or(0)
}
