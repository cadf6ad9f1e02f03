//! Counters of what the key driver and the layer did, read as a plain
//! [`Stats`] snapshot. The names follow Envoy's `jwt_authn` filter
//! (`allowed`, `denied`, `jwks_fetch_success`, `jwks_fetch_failed`) so an
//! operator who knows one knows the other.

use std::sync::atomic::{AtomicU64, Ordering};

use serde::{Deserialize, Serialize};

use crate::gate::{FetchKind, TokenCacheStats};
use crate::jwk::FetchReason;
use crate::response::{Rejection, RejectionKind};

/// A snapshot of the driver's counters since it was built
/// ([`KeyDriver::stats`](super::keys::KeyDriver::stats)). Every field
/// only grows.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
#[non_exhaustive]
pub struct Stats {
    /// Requests let through.
    pub allowed: u64,
    /// Requests turned away, whatever the reason (the sum of the
    /// `denied_*` counters).
    pub denied: u64,
    /// Denied: no token where one is needed (401, bare challenge).
    pub denied_missing_token: u64,
    /// Denied: malformed credentials (400 `invalid_request`).
    pub denied_invalid_request: u64,
    /// Denied: invalid, expired or unverifiable token (401 `invalid_token`).
    pub denied_invalid_token: u64,
    /// Denied by policy: insufficient scope or a deny rule (403).
    pub denied_forbidden: u64,
    /// Denied because the issuer's keys are unavailable (503).
    pub denied_unavailable: u64,
    /// Denied by a rate limit (429).
    pub denied_rate_limited: u64,
    /// JWKS fetches sent.
    pub jwks_fetch_started: u64,
    /// JWKS fetches whose key set was accepted (`200`).
    pub jwks_fetch_success: u64,
    /// JWKS fetches answered `304 Not Modified` (the cached set renewed).
    pub jwks_fetch_not_modified: u64,
    /// JWKS fetches that failed: network error, timeout, refused response,
    /// abandoned fetch.
    pub jwks_fetch_failed: u64,
    /// JWKS fetches sent because a token named a `kid` the cached set did
    /// not hold (also counted in `jwks_fetch_started`).
    pub unknown_kid_refetch: u64,
    /// Discovery document fetches sent.
    pub discovery_fetch_started: u64,
    /// Discovery documents accepted.
    pub discovery_fetch_success: u64,
    /// Discovery fetches that failed.
    pub discovery_fetch_failed: u64,
    /// Fetches (of either kind) that got no answer within the fetch
    /// timeout; also counted as failed.
    pub fetch_timeout: u64,
    /// Fetches that ended without an answer or a timeout: the HTTP client
    /// panicked or its task was cancelled; also counted as failed.
    pub fetch_abandoned: u64,
    /// Token introspection requests sent (RFC 7662, opaque tokens).
    pub introspection_started: u64,
    /// Introspection answers accepted (active or inactive).
    pub introspection_success: u64,
    /// Introspections that failed: no answer, timeout, refused answer.
    pub introspection_failed: u64,
    /// Times a request waited for a fetch already in flight in this
    /// process (the single flight) instead of sending its own.
    pub fetch_joined: u64,
    /// Fetches a request sent itself because the Gate needed keys to
    /// decide it (cold cache, expired set, unknown `kid`).
    pub request_fetch_started: u64,
    /// Fetches sent ahead of need from the Gate's `poll` (refresh-ahead,
    /// retries, discovery refresh).
    pub refresh_fetch_started: u64,
    /// Checks answered from the verified-token cache, no signature
    /// verified (0 when the cache is off; see
    /// [`GateConfig::with_token_cache`](crate::gate::GateConfig::with_token_cache)).
    pub jwt_cache_hit: u64,
    /// Checks of a token whose keys were at hand that the token cache could
    /// not answer (not held, verified under another key set, outside its
    /// validity window): the signature was verified.
    pub jwt_cache_miss: u64,
    /// Verified tokens evicted from a full token cache to make room.
    pub jwt_cache_eviction: u64,
}

/// The live counters behind [`Stats`].
#[derive(Debug, Default)]
pub(crate) struct Counters {
    allowed: AtomicU64,
    denied_missing_token: AtomicU64,
    denied_invalid_request: AtomicU64,
    denied_invalid_token: AtomicU64,
    denied_forbidden: AtomicU64,
    denied_unavailable: AtomicU64,
    denied_rate_limited: AtomicU64,
    jwks_fetch_started: AtomicU64,
    jwks_fetch_success: AtomicU64,
    jwks_fetch_not_modified: AtomicU64,
    jwks_fetch_failed: AtomicU64,
    unknown_kid_refetch: AtomicU64,
    discovery_fetch_started: AtomicU64,
    discovery_fetch_success: AtomicU64,
    discovery_fetch_failed: AtomicU64,
    fetch_timeout: AtomicU64,
    fetch_abandoned: AtomicU64,
    fetch_joined: AtomicU64,
    introspection_started: AtomicU64,
    introspection_success: AtomicU64,
    introspection_failed: AtomicU64,
    request_fetch_started: AtomicU64,
    refresh_fetch_started: AtomicU64,
}

fn bump(counter: &AtomicU64) {
    counter.fetch_add(1, Ordering::Relaxed);
}

/// How a fetch ended, for the counters.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum FetchEnd {
    Success,
    NotModified,
    Failed,
    TimedOut,
    Abandoned,
}

impl Counters {
    pub(crate) fn allowed(&self) {
        bump(&self.allowed);
    }

    pub(crate) fn denied(&self, rejection: &Rejection) {
        bump(match rejection.kind() {
            RejectionKind::MissingToken => &self.denied_missing_token,
            // A request refused for its shape (400/413/415) is a malformed
            // request too.
            RejectionKind::InvalidRequest
            | RejectionKind::NonCompliantRequest
            | RejectionKind::PayloadTooLarge
            | RejectionKind::UnsupportedMediaType => &self.denied_invalid_request,
            RejectionKind::InvalidToken => &self.denied_invalid_token,
            RejectionKind::InsufficientScope | RejectionKind::Forbidden => &self.denied_forbidden,
            RejectionKind::Unavailable => &self.denied_unavailable,
            RejectionKind::TooManyRequests => &self.denied_rate_limited,
        });
    }

    pub(crate) fn joined(&self) {
        bump(&self.fetch_joined);
    }

    pub(crate) fn started(&self, kind: FetchKind, reason: FetchReason, refresh: bool) {
        if reason == FetchReason::UnknownKid {
            bump(&self.unknown_kid_refetch);
        }
        bump(if refresh {
            &self.refresh_fetch_started
        } else {
            &self.request_fetch_started
        });
        bump(match kind {
            FetchKind::Discovery => &self.discovery_fetch_started,
            FetchKind::Jwks => &self.jwks_fetch_started,
            FetchKind::Introspection => &self.introspection_started,
        });
    }

    pub(crate) fn ended(&self, kind: FetchKind, end: FetchEnd) {
        match end {
            FetchEnd::TimedOut => bump(&self.fetch_timeout),
            FetchEnd::Abandoned => bump(&self.fetch_abandoned),
            FetchEnd::Success | FetchEnd::NotModified | FetchEnd::Failed => {}
        }
        let counter = match (kind, end) {
            (FetchKind::Jwks, FetchEnd::Success) => &self.jwks_fetch_success,
            (FetchKind::Jwks, FetchEnd::NotModified) => &self.jwks_fetch_not_modified,
            (FetchKind::Jwks, _) => &self.jwks_fetch_failed,
            (FetchKind::Discovery, FetchEnd::Success | FetchEnd::NotModified) => {
                &self.discovery_fetch_success
            }
            (FetchKind::Discovery, _) => &self.discovery_fetch_failed,
            (FetchKind::Introspection, FetchEnd::Success | FetchEnd::NotModified) => {
                &self.introspection_success
            }
            (FetchKind::Introspection, _) => &self.introspection_failed,
        };
        bump(counter);
    }

    /// The counters, with the token cache's when the Gate has one.
    pub(crate) fn snapshot(&self, cache: Option<TokenCacheStats>) -> Stats {
        let read = |c: &AtomicU64| c.load(Ordering::Relaxed);
        let denied = [
            &self.denied_missing_token,
            &self.denied_invalid_request,
            &self.denied_invalid_token,
            &self.denied_forbidden,
            &self.denied_unavailable,
            &self.denied_rate_limited,
        ]
        .into_iter()
        .map(read)
        .sum();
        Stats {
            allowed: read(&self.allowed),
            denied,
            denied_missing_token: read(&self.denied_missing_token),
            denied_invalid_request: read(&self.denied_invalid_request),
            denied_invalid_token: read(&self.denied_invalid_token),
            denied_forbidden: read(&self.denied_forbidden),
            denied_unavailable: read(&self.denied_unavailable),
            denied_rate_limited: read(&self.denied_rate_limited),
            jwks_fetch_started: read(&self.jwks_fetch_started),
            jwks_fetch_success: read(&self.jwks_fetch_success),
            jwks_fetch_not_modified: read(&self.jwks_fetch_not_modified),
            jwks_fetch_failed: read(&self.jwks_fetch_failed),
            unknown_kid_refetch: read(&self.unknown_kid_refetch),
            discovery_fetch_started: read(&self.discovery_fetch_started),
            discovery_fetch_success: read(&self.discovery_fetch_success),
            discovery_fetch_failed: read(&self.discovery_fetch_failed),
            fetch_timeout: read(&self.fetch_timeout),
            fetch_abandoned: read(&self.fetch_abandoned),
            fetch_joined: read(&self.fetch_joined),
            introspection_started: read(&self.introspection_started),
            introspection_success: read(&self.introspection_success),
            introspection_failed: read(&self.introspection_failed),
            request_fetch_started: read(&self.request_fetch_started),
            refresh_fetch_started: read(&self.refresh_fetch_started),
            jwt_cache_hit: cache.map_or(0, |c| c.hits),
            jwt_cache_miss: cache.map_or(0, |c| c.misses),
            jwt_cache_eviction: cache.map_or(0, |c| c.evictions),
        }
    }
}

/// The reason class of a rejection, as the `reason` field of a trace and
/// the suffix of its `denied_*` counter.
#[cfg(feature = "tracing")]
pub(crate) fn reason_class(rejection: &Rejection) -> &'static str {
    match rejection.kind() {
        RejectionKind::MissingToken => "missing_token",
        RejectionKind::InvalidRequest
        | RejectionKind::NonCompliantRequest
        | RejectionKind::PayloadTooLarge
        | RejectionKind::UnsupportedMediaType => "invalid_request",
        RejectionKind::InvalidToken => "invalid_token",
        RejectionKind::InsufficientScope | RejectionKind::Forbidden => "forbidden",
        RejectionKind::Unavailable => "unavailable",
        RejectionKind::TooManyRequests => "rate_limited",
    }
}
