//! The cache's persisted form (raw JWKS JSON plus fetch bookkeeping) and
//! its validation on restore: a state from another issuer, another key URI,
//! another version or with inconsistent times is refused, never repaired.

use serde::{Deserialize, Serialize};
use time::{Duration, OffsetDateTime};

use super::{CacheConfig, CacheError, Current, JwksCache, add, freshness, parse_keys};

/// The version of [`CacheState`] this build writes and reads.
const STATE_VERSION: u32 = 1;

/// How far in the future a restored state's times may lie: another isolate's
/// clock may run slightly ahead of ours.
const STATE_CLOCK_SKEW: Duration = Duration::minutes(5);

/// The cache's state in a serialisable form: the raw JWKS JSON and the
/// fetch bookkeeping, never parsed keys. Store it in KV or the Cache API and
/// give it to [`JwksCache::from_state`] in another isolate.
///
/// With [`KeySetOptions::allow_symmetric`](crate::jwk::KeySetOptions::allow_symmetric) the raw JWKS may carry `oct`
/// secrets: store the state where you would store them. `Debug` shows the
/// JWKS size only.
#[derive(Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct CacheState {
    version: u32,
    issuer: String,
    jwks_uri: String,
    jwks: Option<String>,
    fetched_at: Option<i64>,
    expires_at: Option<i64>,
    etag: Option<String>,
    in_flight_since: Option<i64>,
    last_fetch_at: Option<i64>,
    failures: u32,
    next_retry_at: Option<i64>,
}

impl CacheState {
    /// The JWKS endpoint this state was fetched from. A restored state is
    /// only accepted for the same endpoint, so a gate whose issuer learns
    /// its `jwks_uri` from discovery can adopt it from a state it exported.
    pub fn jwks_uri(&self) -> &str {
        &self.jwks_uri
    }
}

impl std::fmt::Debug for CacheState {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("CacheState")
            .field("version", &self.version)
            .field("issuer", &self.issuer)
            .field("jwks_uri", &self.jwks_uri)
            .field("jwks_bytes", &self.jwks.as_ref().map(String::len))
            .field("fetched_at", &self.fetched_at)
            .field("expires_at", &self.expires_at)
            .field("etag", &self.etag)
            .field("in_flight_since", &self.in_flight_since)
            .field("last_fetch_at", &self.last_fetch_at)
            .field("failures", &self.failures)
            .field("next_retry_at", &self.next_retry_at)
            .finish()
    }
}

impl JwksCache {
    /// The state to persist (raw JWKS and fetch times, never parsed keys).
    pub fn state(&self) -> CacheState {
        let c = self.current.as_ref();
        CacheState {
            version: STATE_VERSION,
            issuer: self.issuer.clone(),
            jwks_uri: self.jwks_uri.clone(),
            jwks: c.map(|c| c.raw.clone()),
            fetched_at: c.map(|c| c.fetched_at.unix_timestamp()),
            expires_at: c.map(|c| c.expires_at.unix_timestamp()),
            etag: c.and_then(|c| c.etag.clone()),
            in_flight_since: self.in_flight_since.map(OffsetDateTime::unix_timestamp),
            last_fetch_at: self.last_fetch_at.map(OffsetDateTime::unix_timestamp),
            failures: self.failures,
            next_retry_at: self.next_retry_at.map(OffsetDateTime::unix_timestamp),
        }
    }

    /// Rebuilds a cache from a persisted state, re-parsing the keys and
    /// checking that the state belongs to this issuer and `jwks_uri` and
    /// that its times are consistent.
    ///
    /// # Errors
    /// [`CacheError::StateVersion`], [`CacheError::StateMismatch`] (another
    /// issuer's state), [`CacheError::StateCorrupt`],
    /// [`CacheError::StateExpired`] (beyond max-stale: start a new cache),
    /// [`CacheError::KeySet`] / [`CacheError::EmptyKeySet`], and what
    /// [`JwksCache::new`] returns.
    pub fn from_state(
        issuer: &str,
        jwks_uri: &str,
        config: CacheConfig,
        state: &CacheState,
        now: OffsetDateTime,
    ) -> Result<Self, CacheError> {
        let mut cache = Self::new(issuer, jwks_uri, config)?;
        if state.version != STATE_VERSION {
            return Err(CacheError::StateVersion {
                found: state.version,
                expected: STATE_VERSION,
            });
        }
        if state.issuer != issuer {
            return Err(mismatch("issuer", issuer, &state.issuer));
        }
        if state.jwks_uri != jwks_uri {
            return Err(mismatch("jwks_uri", jwks_uri, &state.jwks_uri));
        }
        let latest = add(now, STATE_CLOCK_SKEW);
        let time =
            |t: Option<i64>, what: &'static str| -> Result<Option<OffsetDateTime>, CacheError> {
                t.map(|s| {
                    OffsetDateTime::from_unix_timestamp(s)
                        .map_err(|_| CacheError::StateCorrupt { reason: what })
                })
                .transpose()
            };
        let fetched_at = time(state.fetched_at, "fetched_at is out of range")?;
        let expires_at = time(state.expires_at, "expires_at is out of range")?;
        let cfg = &cache.config;
        cache.current = match (&state.jwks, fetched_at, expires_at) {
            (None, None, None) => {
                if state.etag.is_some() {
                    return Err(corrupt("etag without a key set"));
                }
                None
            }
            (Some(raw), Some(fetched_at), Some(expires_at)) => {
                if fetched_at > latest {
                    return Err(corrupt("fetched_at is in the future"));
                }
                if expires_at < fetched_at || expires_at - fetched_at > cfg.max_ttl {
                    return Err(corrupt("expires_at is outside fetched_at + max_ttl"));
                }
                if now >= add(expires_at, cfg.max_stale) {
                    return Err(CacheError::StateExpired {
                        expired_at: crate::time::display(expires_at),
                        stale_secs: crate::time::seconds_between(expires_at, now),
                        max_stale_secs: cfg.max_stale.whole_seconds(),
                    });
                }
                if state
                    .etag
                    .as_deref()
                    .is_some_and(|e| !freshness::valid_entity_tag(e))
                {
                    return Err(corrupt("etag is not a valid entity-tag"));
                }
                if raw.len() > cfg.max_body_bytes {
                    return Err(CacheError::TooLarge {
                        size: raw.len(),
                        limit: cfg.max_body_bytes,
                    });
                }
                let keys = parse_keys(raw.as_bytes(), &cfg.key_set)?;
                Some(Current {
                    keys,
                    raw: raw.clone(),
                    fetched_at,
                    expires_at,
                    etag: state.etag.clone(),
                })
            }
            _ => return Err(corrupt("key set and its times must be present together")),
        };
        let in_flight_since = time(state.in_flight_since, "in_flight_since is out of range")?;
        let last_fetch_at = time(state.last_fetch_at, "last_fetch_at is out of range")?;
        let next_retry_at = time(state.next_retry_at, "next_retry_at is out of range")?;
        if in_flight_since.is_some_and(|t| t > latest) || last_fetch_at.is_some_and(|t| t > latest)
        {
            return Err(corrupt("a fetch time is in the future"));
        }
        if next_retry_at.is_some_and(|t| t > add(latest, cfg.retry_cap)) {
            return Err(corrupt("next_retry_at is beyond the retry cap"));
        }
        if (state.failures == 0) != next_retry_at.is_none() {
            return Err(corrupt("failures and next_retry_at disagree"));
        }
        cache.in_flight_since = in_flight_since;
        cache.last_fetch_at = last_fetch_at;
        cache.failures = state.failures;
        cache.next_retry_at = next_retry_at;
        Ok(cache)
    }
}

fn mismatch(what: &'static str, expected: &str, found: &str) -> CacheError {
    CacheError::StateMismatch {
        what,
        expected: expected.to_owned(),
        // The saved state is data from storage: keep it out of log lines.
        found: crate::jwk::discovery::printable(found),
    }
}

fn corrupt(reason: &'static str) -> CacheError {
    CacheError::StateCorrupt { reason }
}
