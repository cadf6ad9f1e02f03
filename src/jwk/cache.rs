//! `JwksCache`: a sans-IO state machine, one per issuer, that says when to
//! fetch the issuer's JWKS and serves the last good key set meanwhile.
//! Freshness follows RFC 9111 (§4.2 lifetime and age, §5.2 Cache-Control,
//! §5.3 Expires); conditional refresh uses `If-None-Match` (RFC 9110 §13.1.2).
//!
//! The cache never performs I/O: [`JwksCache::lookup`] and
//! [`JwksCache::poll`] hand out a [`FetchPlan`], the caller performs the GET
//! with its own client and feeds the result back through
//! [`JwksCache::apply_response`] or [`JwksCache::apply_failure`].
//!
//! ```
//! use edge_auth::jwk::cache::{CacheConfig, JwksCache, Lookup};
//! use edge_auth::jwt::Algorithm;
//! use time::macros::datetime;
//!
//! let now = datetime!(2026-11-23 10:00:00 UTC);
//! let mut cache = JwksCache::new(
//!     "https://idp.example.com",
//!     "https://idp.example.com/jwks",
//!     CacheConfig::default(),
//! )?;
//! // Cold cache: the first lookup asks the caller to fetch.
//! let Lookup::Fetch(plan) = cache.lookup(Some("k1"), Algorithm::ES256, now) else {
//!     unreachable!()
//! };
//! assert_eq!(plan.url(), "https://idp.example.com/jwks");
//! // ... the caller GETs plan.url() with plan.headers() and applies the response:
//! # let body = br#"{"keys":[{"kty":"EC","crv":"P-256","kid":"k1","use":"sig",
//! #   "x":"MKBCTNIcKUSDii11ySs3526iDZ8AiTo7Tu6KPAqv7D4",
//! #   "y":"4Etl6SRW2YiLUrN5vfvVHuhp7x8PxltmWWlbbM4IFyM"}]}"#;
//! let mut headers = http::HeaderMap::new();
//! headers.insert(http::header::CACHE_CONTROL, "public, max-age=3600".parse()?);
//! cache.apply_response(http::StatusCode::OK, &headers, body, now)?;
//! assert!(matches!(cache.lookup(Some("k1"), Algorithm::ES256, now), Lookup::Key(_)));
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! ```

mod state;

pub use super::plan::{FetchPlan, FetchReason};
pub use state::CacheState;

use crate::jose::Algorithm;
use http::{HeaderMap, StatusCode};
use time::{Duration, OffsetDateTime};

use super::discovery::check_endpoint;
use super::{JwkError, KeySet, KeySetOptions};
use crate::http_cache::{self as freshness, Freshness};

/// How the cache refreshes, limits and tolerates failure.
#[derive(Debug, Clone)]
#[non_exhaustive]
pub struct CacheConfig {
    /// Shortest time a key set counts as fresh, whatever the headers say
    /// (default 5 min). `no-store`, `no-cache` and invalid freshness
    /// information give this.
    pub min_ttl: Duration,
    /// Longest time a key set counts as fresh (default 24 h).
    pub max_ttl: Duration,
    /// Freshness for a response with neither Cache-Control max-age /
    /// s-maxage nor Expires (default 1 h), then clamped to
    /// `min_ttl..=max_ttl`.
    pub default_ttl: Duration,
    /// Refresh ahead once this share of the freshness lifetime has passed
    /// while the current set keeps serving (default 80, range 1-100).
    pub refresh_ahead_percent: u8,
    /// At most one fetch for an unknown `kid` per this interval, counted
    /// from the last fetch of any kind (default 30 s).
    pub unknown_kid_cooldown: Duration,
    /// A handed-out fetch that has seen neither response nor failure after
    /// this long is considered lost (the caller may have crashed) and
    /// another may be handed out (default 30 s).
    pub in_flight_timeout: Duration,
    /// How long past its expiry the last good set keeps serving while
    /// refreshes fail (default 24 h).
    pub max_stale: Duration,
    /// The first retry delay after a failed fetch; it doubles with each
    /// further failure (default 5 s).
    pub retry_base: Duration,
    /// The longest retry delay (default 5 min).
    pub retry_cap: Duration,
    /// Act as a shared cache (RFC 9111 §3): `s-maxage` wins over `max-age`
    /// and `private` responses are kept only for `min_ttl`. Default false:
    /// the gateway fetching its own key set is the user agent, so RFC 9111
    /// makes this a private cache (and Entra ID's `private, max-age=86400`
    /// key set stays a day). Set it when the cached response is served on
    /// to other clients.
    pub shared: bool,
    /// The largest JWKS response body accepted, in bytes (default 512 KiB).
    pub max_body_bytes: usize,
    /// Accept an `http://` `jwks_uri` on a loopback host, for development
    /// issuers only (default false).
    pub allow_http_loopback: bool,
    /// How the key set is parsed.
    pub key_set: KeySetOptions,
}

impl Default for CacheConfig {
    fn default() -> Self {
        Self {
            min_ttl: Duration::minutes(5),
            max_ttl: Duration::hours(24),
            default_ttl: Duration::hours(1),
            refresh_ahead_percent: 80,
            unknown_kid_cooldown: Duration::seconds(30),
            in_flight_timeout: Duration::seconds(30),
            max_stale: Duration::hours(24),
            retry_base: Duration::seconds(5),
            retry_cap: Duration::minutes(5),
            shared: false,
            max_body_bytes: 512 * 1024,
            allow_http_loopback: false,
            key_set: KeySetOptions::default(),
        }
    }
}

/// What [`JwksCache::lookup`] found.
#[derive(Debug)]
#[non_exhaustive]
pub enum Lookup<'a> {
    /// The set that holds the `kid` (or, for a token without `kid`, the
    /// current set): hand it to the validator.
    Key(&'a KeySet),
    /// Fetch the JWKS, apply the result, then look up again.
    Fetch(FetchPlan),
    /// Another caller's fetch is in flight and may bring the key: wait for
    /// it (or give up) and look up again.
    Pending,
    /// The set holds no such key and no fetch is allowed now (unknown
    /// `kid` within the cooldown after a successful fetch, a token without
    /// `kid`, or an algorithm no JWKS key can serve): reject the token.
    Unknown,
    /// The next fetch waits out a backoff after a failure, and either no
    /// key set is usable at all (never loaded, or past max-stale) or the
    /// token names a `kid` the held set lacks (the issuer may have rotated
    /// while unreachable): the issuer's keys are unavailable, which is the
    /// service's problem rather than the token's.
    Unavailable,
}

/// What an applied response changed.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum Applied {
    /// A new key set replaced the old one.
    Updated {
        /// Usable keys in the new set.
        keys: usize,
        /// When the new set stops being fresh.
        expires_at: OffsetDateTime,
    },
    /// `304 Not Modified`: the cached set was renewed.
    NotModified {
        /// When the renewed set stops being fresh.
        expires_at: OffsetDateTime,
    },
}

/// A JWKS response or restored state the cache refused.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum CacheError {
    /// The configuration is inconsistent.
    #[error("invalid cache configuration: {reason}")]
    Config {
        /// What is wrong.
        reason: &'static str,
    },
    /// The `jwks_uri` is not acceptable.
    #[error("jwks uri `{uri}` is not acceptable: {reason}")]
    BadUri {
        /// The URI as given, control and non-ASCII characters escaped and
        /// clipped to 256 bytes (it may come from a saved state).
        uri: String,
        /// Why it was refused.
        reason: &'static str,
    },
    /// The JWKS endpoint answered with a status other than 200 or 304.
    #[error("jwks fetch answered with status `{status}`")]
    Status {
        /// The status received.
        status: StatusCode,
    },
    /// The body is over [`CacheConfig::max_body_bytes`].
    #[error("jwks response is {size} bytes, over the limit of {limit}")]
    TooLarge {
        /// The body size.
        size: usize,
        /// The limit.
        limit: usize,
    },
    /// The body is not a usable JWKS document.
    #[error("jwks response is not a usable key set")]
    KeySet(#[source] JwkError),
    /// The body is not UTF-8 (JSON must be, RFC 8259 §8.1).
    #[error("jwks response is not utf-8")]
    NotUtf8,
    /// The body parsed but held no usable key.
    #[error("jwks response holds no usable key")]
    EmptyKeySet,
    /// `304 Not Modified` without a cached set it could refer to.
    #[error("jwks fetch answered `304 Not Modified` but no validated key set is cached")]
    UnexpectedNotModified,
    /// A restored state has a version this build does not read.
    #[error("cache state version `{found}` is not supported (expected `{expected}`)")]
    StateVersion {
        /// The version found.
        found: u32,
        /// The version this build reads.
        expected: u32,
    },
    /// A restored state belongs to another issuer or key URI.
    #[error("cache state is for {what} `{found}`, not `{expected}`")]
    StateMismatch {
        /// `issuer` or `jwks_uri`.
        what: &'static str,
        /// The configured value.
        expected: String,
        /// The value in the state.
        found: String,
    },
    /// A restored state is internally inconsistent.
    #[error("cache state is corrupt: {reason}")]
    StateCorrupt {
        /// What is inconsistent.
        reason: &'static str,
    },
    /// A restored state's key set is past its expiry plus max-stale.
    #[error(
        "cache state expired at {expired_at}, {stale_secs} s before now, beyond max-stale {max_stale_secs} s"
    )]
    StateExpired {
        /// When the set stopped being fresh (RFC 3339).
        expired_at: String,
        /// Seconds from expiry to now.
        stale_secs: i64,
        /// The configured max-stale, in seconds.
        max_stale_secs: i64,
    },
}

/// The loaded key set and what we know of its freshness.
#[derive(Clone)]
struct Current {
    keys: KeySet,
    raw: String,
    fetched_at: OffsetDateTime,
    expires_at: OffsetDateTime,
    etag: Option<String>,
}

// The raw JWKS may hold `oct` secrets when symmetric keys are enabled: Debug
// shows its size only.
impl std::fmt::Debug for Current {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Current")
            .field("keys", &self.keys)
            .field("raw_bytes", &self.raw.len())
            .field("fetched_at", &self.fetched_at)
            .field("expires_at", &self.expires_at)
            .field("etag", &self.etag)
            .finish()
    }
}

/// A per-issuer JWKS cache. See the module docs for the protocol.
#[derive(Debug, Clone)]
pub struct JwksCache {
    issuer: String,
    jwks_uri: String,
    config: CacheConfig,
    current: Option<Current>,
    in_flight_since: Option<OffsetDateTime>,
    last_fetch_at: Option<OffsetDateTime>,
    failures: u32,
    next_retry_at: Option<OffsetDateTime>,
    last_error: Option<String>,
}

impl JwksCache {
    /// An empty cache for one issuer's key set at `jwks_uri`.
    ///
    /// # Errors
    /// [`CacheError::BadUri`] when `jwks_uri` is not https (or loopback http
    /// with [`CacheConfig::allow_http_loopback`]); [`CacheError::Config`]
    /// when the configuration is inconsistent (e.g. `min_ttl > max_ttl`).
    pub fn new(issuer: &str, jwks_uri: &str, config: CacheConfig) -> Result<Self, CacheError> {
        check_config(&config)?;
        check_endpoint("jwks_uri", jwks_uri, config.allow_http_loopback).map_err(|e| {
            CacheError::BadUri {
                uri: super::discovery::printable(jwks_uri),
                reason: match e {
                    super::discovery::DiscoveryError::BadUrl { reason, .. } => reason,
                    _ => "not acceptable",
                },
            }
        })?;
        Ok(Self {
            issuer: issuer.to_owned(),
            jwks_uri: jwks_uri.to_owned(),
            config,
            current: None,
            in_flight_since: None,
            last_fetch_at: None,
            failures: 0,
            next_retry_at: None,
            last_error: None,
        })
    }

    /// The issuer this cache serves.
    pub fn issuer(&self) -> &str {
        &self.issuer
    }

    /// The key set URI this cache fetches.
    pub fn jwks_uri(&self) -> &str {
        &self.jwks_uri
    }

    /// The current key set, if one was loaded and is within max-stale.
    pub fn key_set(&self, now: OffsetDateTime) -> Option<&KeySet> {
        self.usable(now).map(|c| &c.keys)
    }

    /// The current set's JWKS document as received (usable or not), to
    /// tell one set from another.
    pub(crate) fn raw_key_set(&self) -> Option<&str> {
        self.current.as_ref().map(|c| c.raw.as_str())
    }

    /// When the current set stops being fresh.
    pub fn expires_at(&self) -> Option<OffsetDateTime> {
        self.current.as_ref().map(|c| c.expires_at)
    }

    /// When the current set was last fetched or renewed (a `304`).
    pub fn fetched_at(&self) -> Option<OffsetDateTime> {
        self.current.as_ref().map(|c| c.fetched_at)
    }

    /// Consecutive failed fetches since the last success.
    pub fn failures(&self) -> u32 {
        self.failures
    }

    /// The reason given for the last failure, cleared by a success.
    pub fn last_error(&self) -> Option<&str> {
        self.last_error.as_deref()
    }

    /// Finds the key set for a token's `kid` and `alg`, or says what to do.
    ///
    /// A token without `kid` gets the current set (the validator then
    /// picks by `alg`) and never triggers an unknown-kid fetch: a refetch
    /// could not tell us which key it meant. An unknown `kid` triggers at
    /// most one fetch per [`CacheConfig::unknown_kid_cooldown`], none during
    /// backoff, and none for an HMAC `alg` when the key set does not load
    /// symmetric keys (no JWKS key could ever serve it). A known `kid` in an
    /// expired set asks for one fetch when one is due, and otherwise keeps
    /// serving the stale set up to [`CacheConfig::max_stale`].
    pub fn lookup(&mut self, kid: Option<&str>, alg: Algorithm, now: OffsetDateTime) -> Lookup<'_> {
        let in_flight = self.in_flight(now);
        let due = if in_flight { None } else { self.due(now) };
        let fresh = self.current.as_ref().is_some_and(|c| now < c.expires_at);
        let holds = self.usable(now).is_some_and(|c| match kid {
            Some(k) => c.keys.contains_kid(k),
            None => !c.keys.is_empty(),
        });
        if holds {
            // Only a stale set blocks on a fetch; a fresh one refreshes
            // ahead through poll() while it serves.
            if !fresh && let Some(reason) = due {
                return Lookup::Fetch(self.hand_out(reason, now));
            }
            return match self.usable(now) {
                Some(c) => Lookup::Key(&c.keys),
                None => Lookup::Unknown,
            };
        }
        if in_flight {
            return Lookup::Pending;
        }
        if let Some(reason) = due {
            return Lookup::Fetch(self.hand_out(reason, now));
        }
        if self.usable(now).is_none() {
            return Lookup::Unavailable;
        }
        let symmetric_unservable =
            matches!(alg, Algorithm::HS256 | Algorithm::HS384 | Algorithm::HS512)
                && !self.config.key_set.allow_symmetric;
        if kid.is_none() || symmetric_unservable {
            return Lookup::Unknown;
        }
        // The last fetch failed: whether the issuer has published this kid
        // (a rotation) cannot be known until a fetch succeeds. That is the
        // service's problem, not the token's: 503 with the retry time, not
        // 401. Known kids keep serving from the held set meanwhile.
        if self.backing_off(now) {
            return Lookup::Unavailable;
        }
        if !self.cooled_down(now) {
            return Lookup::Unknown;
        }
        Lookup::Fetch(self.hand_out(FetchReason::UnknownKid, now))
    }

    /// The fetch to run in the background now, if any: cold start, expiry,
    /// refresh-ahead or a retry whose backoff has passed. `None` while a
    /// fetch is in flight.
    pub fn poll(&mut self, now: OffsetDateTime) -> Option<FetchPlan> {
        if self.in_flight(now) {
            return None;
        }
        let reason = self.due(now)?;
        Some(self.hand_out(reason, now))
    }

    /// Feeds the response to a [`FetchPlan`]. `200` with a usable JWKS
    /// replaces the set at once (keys missing from it stop verifying, new
    /// ones verify); `304` renews the cached set. Anything else counts as a
    /// failed fetch: the last good set keeps serving up to max-stale and the
    /// next retry waits out an exponential backoff.
    ///
    /// # Errors
    /// [`CacheError`] saying why the response was refused (status, size,
    /// unparseable or empty key set, unexpected `304`). The cache has
    /// recorded the failure either way.
    pub fn apply_response(
        &mut self,
        status: StatusCode,
        headers: &HeaderMap,
        body: &[u8],
        now: OffsetDateTime,
    ) -> Result<Applied, CacheError> {
        let request_time = self.in_flight_since.take().filter(|t| *t <= now);
        let result = self.accept(status, headers, body, request_time, now);
        match &result {
            Ok(_) => {
                self.failures = 0;
                self.next_retry_at = None;
                self.last_error = None;
            }
            Err(e) => self.record_failure(e.to_string(), now),
        }
        result
    }

    /// Reports that the fetch failed without a response (network error,
    /// timeout). The last good set keeps serving up to max-stale; the next
    /// retry waits out an exponential backoff.
    pub fn apply_failure(&mut self, reason: &str, now: OffsetDateTime) {
        self.in_flight_since = None;
        self.record_failure(reason.to_owned(), now);
    }

    fn usable(&self, now: OffsetDateTime) -> Option<&Current> {
        self.current
            .as_ref()
            .filter(|c| now < add(c.expires_at, self.config.max_stale))
    }

    /// When the next fetch may be tried after a failure (the end of the
    /// current backoff), or `None` when no fetch has failed since the last
    /// success. A gateway can announce it as `Retry-After` on a 503.
    pub fn next_retry_at(&self) -> Option<OffsetDateTime> {
        self.next_retry_at
    }

    fn in_flight(&self, now: OffsetDateTime) -> bool {
        self.in_flight_since
            .is_some_and(|t| now < add(t, self.config.in_flight_timeout))
    }

    fn backing_off(&self, now: OffsetDateTime) -> bool {
        self.next_retry_at.is_some_and(|t| now < t)
    }

    fn cooled_down(&self, now: OffsetDateTime) -> bool {
        self.last_fetch_at
            .is_none_or(|t| now >= add(t, self.config.unknown_kid_cooldown))
    }

    /// The scheduled fetch due now, ignoring any in flight.
    fn due(&self, now: OffsetDateTime) -> Option<FetchReason> {
        if self.failures > 0 {
            return (!self.backing_off(now)).then_some(FetchReason::Retry);
        }
        let Some(c) = &self.current else {
            return Some(FetchReason::Cold);
        };
        if now >= c.expires_at {
            return Some(FetchReason::Expired);
        }
        // In milliseconds, not whole seconds: a 1 s lifetime must not be
        // due for refresh the moment it is fetched (every unknown-kid
        // lookup would then ride a refresh past the cooldown).
        let ttl_ms =
            i64::try_from((c.expires_at - c.fetched_at).whole_milliseconds()).unwrap_or(i64::MAX);
        let ahead_ms = ttl_ms.saturating_mul(i64::from(self.config.refresh_ahead_percent)) / 100;
        let ahead = add(c.fetched_at, Duration::milliseconds(ahead_ms));
        (now >= ahead).then_some(FetchReason::RefreshAhead)
    }

    fn hand_out(&mut self, reason: FetchReason, now: OffsetDateTime) -> FetchPlan {
        self.in_flight_since = Some(now);
        self.last_fetch_at = Some(now);
        FetchPlan::jwks(
            &self.issuer,
            &self.jwks_uri,
            reason,
            self.current.as_ref().and_then(|c| c.etag.clone()),
            now,
        )
    }

    fn record_failure(&mut self, reason: String, now: OffsetDateTime) {
        self.failures = self.failures.saturating_add(1);
        let exp = self.failures.saturating_sub(1).min(30);
        let delay = self
            .config
            .retry_base
            .checked_mul(1_i32 << exp)
            .unwrap_or(self.config.retry_cap)
            .min(self.config.retry_cap);
        self.next_retry_at = Some(add(now, delay));
        self.last_error = Some(reason);
    }

    fn ttl(
        &self,
        headers: &HeaderMap,
        request_time: Option<OffsetDateTime>,
        now: OffsetDateTime,
    ) -> Option<Duration> {
        match freshness::freshness(headers, request_time, now, self.config.shared) {
            Freshness::Seconds(s) => Some(self.clamp(Duration::seconds(s))),
            Freshness::Unspecified => None,
        }
    }

    fn clamp(&self, ttl: Duration) -> Duration {
        ttl.clamp(self.config.min_ttl, self.config.max_ttl)
    }

    fn accept(
        &mut self,
        status: StatusCode,
        headers: &HeaderMap,
        body: &[u8],
        request_time: Option<OffsetDateTime>,
        now: OffsetDateTime,
    ) -> Result<Applied, CacheError> {
        match status {
            StatusCode::OK => {
                if body.len() > self.config.max_body_bytes {
                    return Err(CacheError::TooLarge {
                        size: body.len(),
                        limit: self.config.max_body_bytes,
                    });
                }
                let keys = parse_keys(body, &self.config.key_set)?;
                let raw = String::from_utf8(body.to_vec()).map_err(|_| CacheError::NotUtf8)?;
                let ttl = self
                    .ttl(headers, request_time, now)
                    .unwrap_or_else(|| self.clamp(self.config.default_ttl));
                let expires_at = add(now, ttl);
                let n = keys.len();
                self.current = Some(Current {
                    keys,
                    raw,
                    fetched_at: now,
                    expires_at,
                    etag: freshness::entity_tag(headers),
                });
                Ok(Applied::Updated {
                    keys: n,
                    expires_at,
                })
            }
            StatusCode::NOT_MODIFIED => {
                let ttl = self.ttl(headers, request_time, now);
                let default_ttl = self.clamp(self.config.default_ttl);
                let Some(c) = self.current.as_mut().filter(|c| c.etag.is_some()) else {
                    return Err(CacheError::UnexpectedNotModified);
                };
                // RFC 9111 §4.3.4: freshen with the 304's headers; without
                // freshness information keep the previous lifetime.
                let previous = c.expires_at - c.fetched_at;
                let ttl = ttl.unwrap_or(if previous > Duration::ZERO {
                    previous
                } else {
                    default_ttl
                });
                c.fetched_at = now;
                c.expires_at = add(now, ttl);
                if let Some(etag) = freshness::entity_tag(headers) {
                    c.etag = Some(etag);
                }
                Ok(Applied::NotModified {
                    expires_at: c.expires_at,
                })
            }
            status => Err(CacheError::Status { status }),
        }
    }
}

fn parse_keys(body: &[u8], options: &KeySetOptions) -> Result<KeySet, CacheError> {
    let keys = KeySet::from_jwks(body, options).map_err(CacheError::KeySet)?;
    if keys.is_empty() {
        return Err(CacheError::EmptyKeySet);
    }
    Ok(keys)
}

pub(crate) fn check_config(c: &CacheConfig) -> Result<(), CacheError> {
    let reason = if c.min_ttl <= Duration::ZERO {
        "min_ttl must be positive"
    } else if c.min_ttl > c.max_ttl {
        "min_ttl is greater than max_ttl"
    } else if !(1..=100).contains(&c.refresh_ahead_percent) {
        "refresh_ahead_percent must be 1-100"
    } else if c.unknown_kid_cooldown < Duration::ZERO
        || c.in_flight_timeout <= Duration::ZERO
        || c.max_stale < Duration::ZERO
    {
        "cooldown, in-flight timeout and max-stale must not be negative"
    } else if c.retry_base <= Duration::ZERO || c.retry_cap < c.retry_base {
        "retry_base must be positive and no greater than retry_cap"
    } else {
        return Ok(());
    };
    Err(CacheError::Config { reason })
}

/// `t + d`, saturating at the ends of the representable range: `now` comes
/// from the caller and must not be able to make us panic.
pub(crate) fn add(t: OffsetDateTime, d: Duration) -> OffsetDateTime {
    t.checked_add(d).unwrap_or_else(|| {
        if d.is_negative() {
            time::PrimitiveDateTime::MIN.assume_utc()
        } else {
            time::PrimitiveDateTime::MAX.assume_utc()
        }
    })
}
