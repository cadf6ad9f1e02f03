//! The introspection cache: answers keyed by the SHA-256 of the token
//! (the token itself is never kept), positive ones until
//! `min(exp, fetched + ceiling)`, negative ones for a short TTL, each kind
//! bounded on its own so that a flood of unknown tokens cannot push the
//! active ones out.

use std::collections::HashMap;
use std::fmt;
use std::sync::Arc;

use time::OffsetDateTime;

use super::ActiveToken;

/// The SHA-256 of a token's bytes: the cache's key and the single-flight
/// key. Its `Debug` shows a short prefix only.
#[derive(Clone, Copy, PartialEq, Eq, Hash)]
pub struct TokenHash([u8; 32]);

impl TokenHash {
    /// The hash of `token`.
    pub fn of(token: &str) -> Self {
        let digest = ring::digest::digest(&ring::digest::SHA256, token.as_bytes());
        let mut out = [0u8; 32];
        out.copy_from_slice(digest.as_ref());
        Self(out)
    }

    /// The 32 bytes.
    pub fn as_bytes(&self) -> &[u8; 32] {
        &self.0
    }

    /// Lowercase hex (64 characters).
    pub fn to_hex(&self) -> String {
        use std::fmt::Write as _;
        self.0.iter().fold(String::with_capacity(64), |mut s, b| {
            let _ = write!(s, "{b:02x}");
            s
        })
    }
}

impl fmt::Debug for TokenHash {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let hex = self.to_hex();
        write!(f, "TokenHash({}…)", hex.get(..12).unwrap_or_default())
    }
}

/// A cached answer.
#[derive(Debug, Clone)]
pub(crate) enum Cached {
    Active(Arc<ActiveToken>),
    /// Inactive, or refused for this token: the reason said in the 401.
    Refused(Arc<str>),
}

struct Entry {
    value: Cached,
    until: OffsetDateTime,
}

/// One bounded map (the positive or the negative side).
struct Side {
    map: HashMap<TokenHash, Entry>,
    capacity: usize,
}

impl Side {
    fn new(capacity: usize) -> Self {
        Self {
            map: HashMap::new(),
            capacity,
        }
    }

    fn insert(&mut self, key: TokenHash, entry: Entry, now: OffsetDateTime) -> usize {
        let mut evicted = 0;
        if !self.map.contains_key(&key) && self.map.len() >= self.capacity {
            let before = self.map.len();
            self.map.retain(|_, e| e.until > now);
            evicted += before - self.map.len();
            // Still full: the entry that would expire first goes.
            while self.map.len() >= self.capacity {
                let Some(oldest) = self
                    .map
                    .iter()
                    .min_by_key(|(_, e)| e.until)
                    .map(|(k, _)| *k)
                else {
                    break;
                };
                self.map.remove(&oldest);
                evicted += 1;
            }
        }
        if self.capacity > 0 {
            self.map.insert(key, entry);
        }
        evicted
    }
}

/// Counters of an introspection cache.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
#[non_exhaustive]
pub struct IntrospectionStats {
    /// Answers served from the cache.
    pub hits: u64,
    /// Lookups that needed the endpoint.
    pub misses: u64,
    /// Entries evicted to stay within the bounds (expired ones included).
    pub evictions: u64,
    /// Active entries held now.
    pub active_entries: usize,
    /// Negative (inactive or refused) entries held now.
    pub negative_entries: usize,
}

pub(crate) struct Cache {
    positive: Side,
    negative: Side,
    pub(crate) stats: IntrospectionStats,
}

impl fmt::Debug for Cache {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Cache")
            .field("active_entries", &self.positive.map.len())
            .field("negative_entries", &self.negative.map.len())
            .finish_non_exhaustive()
    }
}

impl Cache {
    pub(crate) fn new(capacity: usize, negative_capacity: usize) -> Self {
        Self {
            positive: Side::new(capacity),
            negative: Side::new(negative_capacity),
            stats: IntrospectionStats::default(),
        }
    }

    /// The answer for `key` if it is still good at `now` (an expired entry
    /// is dropped on the way).
    pub(crate) fn get(&mut self, key: &TokenHash, now: OffsetDateTime) -> Option<Cached> {
        for side in [&mut self.positive, &mut self.negative] {
            match side.map.get(key) {
                Some(e) if e.until > now => {
                    self.stats.hits += 1;
                    return Some(e.value.clone());
                }
                Some(_) => {
                    side.map.remove(key);
                    self.stats.evictions += 1;
                }
                None => {}
            }
        }
        self.stats.misses += 1;
        None
    }

    /// Holds an active answer until `until` (already `min(exp, now +
    /// ceiling)`); drops a negative entry for the same token.
    pub(crate) fn insert_active(
        &mut self,
        key: TokenHash,
        token: Arc<ActiveToken>,
        until: OffsetDateTime,
        now: OffsetDateTime,
    ) {
        self.negative.map.remove(&key);
        if until <= now {
            return;
        }
        let entry = Entry {
            value: Cached::Active(token),
            until,
        };
        self.stats.evictions += self.positive.insert(key, entry, now) as u64;
    }

    /// Holds a negative answer until `until`; drops an active entry for
    /// the same token (it was revoked).
    pub(crate) fn insert_refused(
        &mut self,
        key: TokenHash,
        reason: Arc<str>,
        until: OffsetDateTime,
        now: OffsetDateTime,
    ) {
        self.positive.map.remove(&key);
        if until <= now {
            return;
        }
        let entry = Entry {
            value: Cached::Refused(reason),
            until,
        };
        self.stats.evictions += self.negative.insert(key, entry, now) as u64;
    }

    pub(crate) fn stats(&self) -> IntrospectionStats {
        IntrospectionStats {
            active_entries: self.positive.map.len(),
            negative_entries: self.negative.map.len(),
            ..self.stats
        }
    }

    /// Forgets every answer (e.g. after a credential change).
    pub(crate) fn clear(&mut self) {
        self.positive.map.clear();
        self.negative.map.clear();
    }
}
