//! Rate limits: GCRA (the algorithm behind `governor`) as pure decisions
//! over caller-held state, the theoretical arrival time (TAT) of each key,
//! and the stores that hold that state.
//!
//! - [`decide`] is the whole algorithm: a [`Limit`], the key's stored
//!   [`Tat`] (or none) and `now` in, a [`Decision`] and the TAT to store
//!   out. No clock, no I/O, so the same arithmetic runs in a hyper server,
//!   a Worker and a Redis Lua script.
//! - [`LimitStore`] is the store contract (an atomic read-modify-write of
//!   one key's TAT); [`MemoryStore`] is the in-process one, sharded and
//!   bounded. Redis and Durable Objects stores belong to the drivers.
//! - [`LimitReport`] and [`apply_headers`] turn decisions into the
//!   `RateLimit-Policy` / `RateLimit` fields of
//!   draft-ietf-httpapi-ratelimit-headers-11.
//!
//! # The guarantee
//!
//! With emission interval `T` (the rate's period divided by its count,
//! rounded up to a whole nanosecond) and burst `b`: over any window of
//! length `t`, both ends included, at most `b + floor(t / T)` requests of
//! one key are admitted; a client starting from a fresh key that sends as
//! fast as it is let in gets exactly that many; and a client whose requests
//! are `T` or more apart is never refused. (Each admission moves the TAT
//! `T` further; an admission at `a` needs `TAT ≤ a + b·T`. `k` admissions
//! inside `[s, s + t]` push the TAT to at least `s + k·T` and it must stay
//! at most `s + t + b·T`.) The property test in `tests/limit.rs` checks
//! all three with a simulated clock.
//!
//! # In a policy
//!
//! Limits are declared per rule in the policy document (see
//! [`crate::policy`]) and enforced by the [`Gate`](crate::gate::Gate)
//! after the rule allows a request. Alone:
//!
//! ```
//! use edge_auth::limit::{LimitStore, Limit, MemoryStore, Rate};
//! use time::macros::datetime;
//!
//! let limit = Limit::new("2/10s".parse::<Rate>()?, 2)?;
//! let store = MemoryStore::default();
//! let now = datetime!(2026-11-23 10:00:00 UTC);
//! assert!(store.check("per-user/sub:alice", &limit, now)?.allowed);
//! assert!(store.check("per-user/sub:alice", &limit, now)?.allowed);
//! let third = store.check("per-user/sub:alice", &limit, now)?;
//! assert!(!third.allowed);
//! assert_eq!(third.retry_after, time::Duration::seconds(5));
//! # Ok::<(), edge_auth::limit::LimitError>(())
//! ```

mod call;
mod gcra;
mod key;
mod report;
mod store;

use std::net::IpAddr;

pub use call::LimitCall;
pub use gcra::{Decision, Limit, MAX_BURST, Rate, Tat, decide};
pub use key::{KeyKind, MAX_KEY_PART, MISSING, escape_part};
pub use report::{LimitReport, RATELIMIT, RATELIMIT_POLICY, apply_headers};
pub use store::{LimitStore, MAX_KEY_LEN, MemoryStore, MemoryStoreConfig};

use crate::oidc::Principal;

/// Longest limit id, in bytes.
pub const MAX_ID_LEN: usize = 64;

/// Why a limit could not be built, or a store could not decide.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum LimitError {
    /// A rate that does not parse or is out of range.
    #[error("invalid rate `{rate}`: {reason}")]
    InvalidRate {
        /// The rate as written (escaped, clipped).
        rate: String,
        /// What is wrong.
        reason: String,
    },
    /// A burst of zero or over [`MAX_BURST`].
    #[error("invalid burst `{burst}`: it must be 1 to 1000000")]
    InvalidBurst {
        /// The burst.
        burst: u32,
    },
    /// A key kind that does not parse, or a store key a store refuses.
    #[error("invalid key `{key}`: {reason}")]
    InvalidKey {
        /// The key (escaped, clipped).
        key: String,
        /// What is wrong.
        reason: String,
    },
    /// A limit id that is empty, too long or holds other characters than
    /// ASCII letters, digits, `-`, `_` and `.`.
    #[error("invalid limit id `{id}`: {reason}")]
    InvalidId {
        /// The id (escaped, clipped).
        id: String,
        /// What is wrong.
        reason: &'static str,
    },
    /// The store could not be read or written.
    #[error("rate-limit store failed: {reason}")]
    Store {
        /// What failed (never a key value).
        reason: String,
    },
}

/// One limit of a policy rule, compiled: what it counts by and how much.
/// Limits with the same id share their counters across rules.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RuleLimit {
    id: String,
    kind: KeyKind,
    limit: Limit,
}

impl RuleLimit {
    /// A limit named `id`, counting by `kind`.
    ///
    /// # Errors
    /// [`LimitError::InvalidId`] for an empty id, one longer than
    /// [`MAX_ID_LEN`] or with characters other than ASCII letters, digits,
    /// `-`, `_` and `.` (the id appears in response headers and store
    /// keys).
    pub fn new(id: &str, kind: KeyKind, limit: Limit) -> Result<Self, LimitError> {
        let bad = |reason| LimitError::InvalidId {
            id: crate::text::printable(id, 64),
            reason,
        };
        if id.is_empty() {
            return Err(bad("ids must not be empty"));
        }
        if id.len() > MAX_ID_LEN {
            return Err(bad("longer than 64 bytes"));
        }
        if !id
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'-' | b'_' | b'.'))
        {
            return Err(bad("use ASCII letters, digits, `-`, `_` and `.` only"));
        }
        Ok(Self {
            id: id.to_owned(),
            kind,
            limit,
        })
    }

    /// The id.
    pub fn id(&self) -> &str {
        &self.id
    }

    /// What it counts by.
    pub fn kind(&self) -> &KeyKind {
        &self.kind
    }

    /// The limit.
    pub fn limit(&self) -> &Limit {
        &self.limit
    }

    /// The store key of a request that `rule` admitted:
    /// `<id>/<kind>:<value>`, the value escaped ([`escape_part`]) or
    /// hashed, [`MISSING`] when the request lacks it. At most about 140
    /// bytes whatever the request holds.
    pub fn key(
        &self,
        rule: &str,
        principal: Option<&Principal>,
        client_ip: Option<IpAddr>,
    ) -> String {
        let mut out = String::with_capacity(48);
        key::write_key(&mut out, &self.id, &self.kind, rule, principal, client_ip);
        out
    }

    /// Decides one request against `store` and reports it.
    ///
    /// # Errors
    /// The store's [`LimitError`].
    pub fn check(
        &self,
        store: &dyn LimitStore,
        rule: &str,
        principal: Option<&Principal>,
        client_ip: Option<IpAddr>,
        now: time::OffsetDateTime,
    ) -> Result<LimitReport, LimitError> {
        let key = self.key(rule, principal, client_ip);
        let decision = store.check(&key, &self.limit, now)?;
        let rate = self.limit.rate();
        Ok(LimitReport::new(
            &self.id,
            rate.count(),
            rate.period(),
            &decision,
        ))
    }
}
