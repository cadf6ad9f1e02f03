//! The verified-token cache: an opt-in, bounded memory of tokens the gate
//! has verified, so that a client repeating the same bearer token skips the
//! signature verification, the claims parse and the role mapping. Only
//! authentication is cached: the policy is evaluated on every request.
//!
//! Turn it on with [`GateConfig::with_token_cache`](super::GateConfig::with_token_cache);
//! it is off by default.
//!
//! ```
//! use edge_auth::gate::{Gate, GateConfig, IssuerConfig, TokenCacheConfig};
//!
//! let issuer = IssuerConfig::new("https://idp.example.com", ["api://orders"])
//!     .with_jwks_uri("https://idp.example.com/jwks");
//! let gate = Gate::new(GateConfig::new([issuer]).with_token_cache(TokenCacheConfig::new(10_000)))?;
//! let stats = gate.token_cache_stats().expect("the cache is on");
//! assert_eq!((stats.len, stats.capacity), (0, 10_000));
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! ```
//!
//! # Why it is safe
//!
//! Every step of [`Gate::check`](super::Gate::check) up to the key lookup
//! still runs on a hit: extraction, parsing, issuer selection, the `alg`
//! allow-list and the issuer's key lookup at `now` (so a key set past
//! max-stale, or a lookup that must fetch, answers exactly as without the
//! cache). Only then is the cache asked, and an entry is served only when
//!
//! - it was stored for **the exact same token bytes** (the entry is found by
//!   the SHA-256 of the token, within the selected issuer: one issuer's
//!   entries never answer for another), after that token passed the full
//!   validation — a token that failed is never stored;
//! - it was verified under **the same key-set version** the lookup sees now
//!   ([`IssuerKeys::key_set_version`](crate::jwk::IssuerKeys::key_set_version)
//!   changes with every change of the issuer's key set: a new JWKS document,
//!   an imported state, a moved endpoint). Same version, same keys, same
//!   signature result. A rotation or a revoked key also empties the
//!   issuer's entries at once;
//! - `now` is still **inside the token's validity window**: `exp` and `nbf`
//!   with the issuer's leeway, `iat` not in the future and within
//!   `max_age` when the validation asks for it, compared exactly as the
//!   validator compares them. Every other check (`iss`, `aud`, `typ`,
//!   required claims, `token_use`) does not depend on time.
//!
//! So a hit gives the answer full validation would give at `now`. The cache
//! reads no clock: it takes the `now` of the check.
//!
//! # What it costs
//!
//! - Memory: per entry about the size of the mapped
//!   [`Principal`] (its claims map, roles, scopes, groups; typically a few
//!   hundred bytes to a few KiB) plus a 32-byte digest and some 60 bytes of
//!   bookkeeping, for at most [`TokenCacheConfig::capacity`] entries.
//! - A token revoked at its identity provider but not expired is served
//!   until `exp` (plus leeway): exactly as without the cache, since a JWT is
//!   not revocable without introspection. Keep access tokens short-lived.
//! - A hit clones the principal into [`Outcome::Allow`](super::Outcome::Allow).
//!
//! # Concurrency
//!
//! Entries are spread over up to 16 shards by digest, each behind its own
//! mutex held only for one lookup or insert (never through a signature
//! verification). Eviction is CLOCK (second chance): a hit marks its entry,
//! and an insert into a full shard evicts the first unmarked entry.

use std::collections::HashMap;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, MutexGuard, PoisonError};

use time::OffsetDateTime;

use crate::jwt::TimeWindow;
use crate::oidc::Principal;

/// The most shards a cache is split into.
const MAX_SHARDS: usize = 16;
/// The fewest entries per shard before the cache is split further.
const MIN_PER_SHARD: usize = 64;

/// The verified-token cache's settings.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct TokenCacheConfig {
    /// The most entries held, over all issuers (must be positive). Past it
    /// the least recently hit entries are evicted (CLOCK).
    pub capacity: usize,
}

impl TokenCacheConfig {
    /// A cache of at most `capacity` verified tokens.
    pub fn new(capacity: usize) -> Self {
        Self { capacity }
    }
}

/// A snapshot of the token cache's counters
/// ([`Gate::token_cache_stats`](super::Gate::token_cache_stats)).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
#[non_exhaustive]
pub struct TokenCacheStats {
    /// Checks answered from the cache (no signature verified).
    pub hits: u64,
    /// Checks of a token whose keys were available that the cache could not
    /// answer (not held, verified under another key set, or outside its
    /// validity window); the token was then verified.
    pub misses: u64,
    /// Verified tokens stored.
    pub inserts: u64,
    /// Entries evicted to make room.
    pub evictions: u64,
    /// Entries dropped because their issuer's key set changed or their
    /// token expired.
    pub invalidations: u64,
    /// Entries held now.
    pub len: usize,
    /// The configured capacity.
    pub capacity: usize,
}

/// Where an entry is found: the selected issuer (its index in the gate)
/// and the SHA-256 of the exact token bytes.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub(super) struct Key {
    issuer: usize,
    digest: [u8; 32],
}

impl Key {
    pub(super) fn new(issuer: usize, token: &str) -> Self {
        let d = ring::digest::digest(&ring::digest::SHA256, token.as_bytes());
        Self {
            issuer,
            digest: <[u8; 32]>::try_from(d.as_ref()).unwrap_or([0; 32]),
        }
    }

    fn shard(&self, shards: usize) -> usize {
        usize::from(self.digest.first().copied().unwrap_or(0)) % shards.max(1)
    }
}

/// A verified token: the mapped principal, the key-set version it was
/// verified under and the instants its time checks pass.
#[derive(Debug)]
struct Entry {
    version: u64,
    window: TimeWindow,
    principal: Arc<Principal>,
}

#[derive(Debug)]
struct Slot {
    key: Key,
    entry: Entry,
    /// CLOCK's second chance: set by a hit, cleared by the sweeping hand.
    referenced: bool,
}

#[derive(Debug, Default)]
struct Shard {
    index: HashMap<Key, usize>,
    slots: Vec<Option<Slot>>,
    /// Empty slots below `slots.len()`, reused first.
    free: Vec<usize>,
    hand: usize,
    capacity: usize,
}

impl Shard {
    fn remove(&mut self, at: usize) -> bool {
        match self.slots.get_mut(at).and_then(Option::take) {
            Some(slot) => {
                self.index.remove(&slot.key);
                self.free.push(at);
                true
            }
            None => false,
        }
    }

    /// The slot for a new entry: a free one, a new one while under
    /// capacity, else the CLOCK victim (evicted: the bool says so).
    fn free_slot(&mut self) -> Option<(usize, bool)> {
        if let Some(at) = self.free.pop() {
            return Some((at, false));
        }
        if self.slots.len() < self.capacity {
            self.slots.push(None);
            return Some((self.slots.len().saturating_sub(1), false));
        }
        // One sweep clears every mark, so the second finds a victim.
        let n = self.slots.len();
        for _ in 0..=2 * n {
            let at = self.hand % n.max(1);
            self.hand = (at + 1) % n.max(1);
            match self.slots.get_mut(at) {
                Some(Some(slot)) if slot.referenced => slot.referenced = false,
                Some(_) => {
                    let evicted = self.remove(at);
                    // Taken at once, not left free.
                    self.free.retain(|&f| f != at);
                    return Some((at, evicted));
                }
                None => return None,
            }
        }
        None
    }
}

/// The cache itself; see the module docs.
#[derive(Debug)]
pub(super) struct TokenCache {
    shards: Box<[Mutex<Shard>]>,
    capacity: usize,
    hits: AtomicU64,
    misses: AtomicU64,
    inserts: AtomicU64,
    evictions: AtomicU64,
    invalidations: AtomicU64,
}

impl TokenCache {
    /// A cache for a positive `capacity` (checked by the gate).
    pub(super) fn new(config: &TokenCacheConfig) -> Self {
        let capacity = config.capacity.max(1);
        let n = (capacity / MIN_PER_SHARD).clamp(1, MAX_SHARDS);
        // The capacity split exactly: the first shards take the remainder.
        let shards = (0..n)
            .map(|i| {
                Mutex::new(Shard {
                    capacity: capacity / n + usize::from(i < capacity % n),
                    ..Shard::default()
                })
            })
            .collect();
        Self {
            shards,
            capacity,
            hits: AtomicU64::new(0),
            misses: AtomicU64::new(0),
            inserts: AtomicU64::new(0),
            evictions: AtomicU64::new(0),
            invalidations: AtomicU64::new(0),
        }
    }

    fn shard(&self, key: &Key) -> Option<MutexGuard<'_, Shard>> {
        // Every update replaces whole values: a shard a panic left locked
        // holds no half-made entry. Keep serving.
        self.shards
            .get(key.shard(self.shards.len()))
            .map(|m| m.lock().unwrap_or_else(PoisonError::into_inner))
    }

    /// The principal verified for `key` under key-set `version`, when `now`
    /// is inside the token's validity window.
    pub(super) fn get(
        &self,
        key: &Key,
        version: u64,
        now: OffsetDateTime,
    ) -> Option<Arc<Principal>> {
        let found = self.shard(key).and_then(|mut shard| {
            let at = *shard.index.get(key)?;
            let slot = shard.slots.get_mut(at)?.as_mut()?;
            if slot.entry.version == version && slot.entry.window.contains(now) {
                slot.referenced = true;
                return Some(Ok(Arc::clone(&slot.entry.principal)));
            }
            // Verified under another key set, or expired: never again
            // (a clock running backwards only costs a verification).
            let stale = slot.entry.version != version || slot.entry.window.is_over(now);
            Some(Err(stale && shard.remove(at)))
        });
        match found {
            Some(Ok(principal)) => {
                self.hits.fetch_add(1, Ordering::Relaxed);
                Some(principal)
            }
            Some(Err(dropped)) => {
                if dropped {
                    self.invalidations.fetch_add(1, Ordering::Relaxed);
                }
                self.misses.fetch_add(1, Ordering::Relaxed);
                None
            }
            None => {
                self.misses.fetch_add(1, Ordering::Relaxed);
                None
            }
        }
    }

    /// Stores a token that passed full validation under key-set `version`.
    pub(super) fn insert(
        &self,
        key: Key,
        version: u64,
        window: TimeWindow,
        principal: Arc<Principal>,
    ) {
        let Some(mut shard) = self.shard(&key) else {
            return;
        };
        let entry = Entry {
            version,
            window,
            principal,
        };
        if let Some(&at) = shard.index.get(&key)
            && let Some(Some(slot)) = shard.slots.get_mut(at)
        {
            slot.entry = entry;
            return;
        }
        let Some((at, evicted)) = shard.free_slot() else {
            return;
        };
        if let Some(place) = shard.slots.get_mut(at) {
            *place = Some(Slot {
                key,
                entry,
                referenced: false,
            });
            shard.index.insert(key, at);
        }
        drop(shard);
        self.inserts.fetch_add(1, Ordering::Relaxed);
        if evicted {
            self.evictions.fetch_add(1, Ordering::Relaxed);
        }
    }

    /// Drops every entry of `issuer` (its key set changed).
    pub(super) fn purge_issuer(&self, issuer: usize) {
        let mut dropped = 0u64;
        for shard in self.shards.iter() {
            let mut shard = shard.lock().unwrap_or_else(PoisonError::into_inner);
            let Shard {
                index, slots, free, ..
            } = &mut *shard;
            for (at, place) in slots.iter_mut().enumerate() {
                if place.as_ref().is_some_and(|s| s.key.issuer == issuer)
                    && let Some(slot) = place.take()
                {
                    index.remove(&slot.key);
                    free.push(at);
                    dropped += 1;
                }
            }
        }
        if dropped > 0 {
            self.invalidations.fetch_add(dropped, Ordering::Relaxed);
        }
    }

    pub(super) fn stats(&self) -> TokenCacheStats {
        let len = self
            .shards
            .iter()
            .map(|s| s.lock().unwrap_or_else(PoisonError::into_inner).index.len())
            .sum();
        TokenCacheStats {
            hits: self.hits.load(Ordering::Relaxed),
            misses: self.misses.load(Ordering::Relaxed),
            inserts: self.inserts.load(Ordering::Relaxed),
            evictions: self.evictions.load(Ordering::Relaxed),
            invalidations: self.invalidations.load(Ordering::Relaxed),
            len,
            capacity: self.capacity,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use time::macros::datetime;

    const NOW: OffsetDateTime = datetime!(2026-11-23 10:00:00 UTC);
    const ALWAYS: TimeWindow = TimeWindow::ALWAYS;

    fn principal(sub: &str) -> Arc<Principal> {
        Arc::new(Principal {
            subject: Some(sub.to_owned()),
            ..Principal::default()
        })
    }

    #[test]
    fn same_token_bytes_under_another_issuer_miss() {
        let cache = TokenCache::new(&TokenCacheConfig::new(8));
        cache.insert(Key::new(0, "t"), 1, ALWAYS, principal("a"));
        assert!(cache.get(&Key::new(1, "t"), 1, NOW).is_none());
        assert!(cache.get(&Key::new(0, "t"), 1, NOW).is_some());
        assert_ne!(Key::new(0, "t"), Key::new(1, "t"));
    }

    #[test]
    fn another_key_set_version_misses_and_drops_the_entry() {
        let cache = TokenCache::new(&TokenCacheConfig::new(8));
        cache.insert(Key::new(0, "t"), 1, ALWAYS, principal("a"));
        assert!(cache.get(&Key::new(0, "t"), 2, NOW).is_none());
        let s = cache.stats();
        assert_eq!((s.len, s.invalidations, s.misses), (0, 1, 1));
    }

    #[test]
    fn purge_drops_only_that_issuers_entries_and_frees_their_slots() {
        let cache = TokenCache::new(&TokenCacheConfig::new(4));
        cache.insert(Key::new(0, "a"), 1, ALWAYS, principal("a"));
        cache.insert(Key::new(1, "b"), 1, ALWAYS, principal("b"));
        cache.purge_issuer(0);
        assert_eq!(cache.stats().len, 1);
        for t in ["c", "d", "e"] {
            cache.insert(Key::new(0, t), 1, ALWAYS, principal(t));
        }
        let s = cache.stats();
        assert_eq!((s.len, s.evictions), (4, 0));
        assert!(cache.get(&Key::new(1, "b"), 1, NOW).is_some());
    }

    #[test]
    fn capacity_is_split_exactly_over_the_shards() {
        for capacity in [1, 63, 64, 129, 1000, 5000] {
            let cache = TokenCache::new(&TokenCacheConfig::new(capacity));
            let total: usize = cache
                .shards
                .iter()
                .map(|s| s.lock().unwrap().capacity)
                .sum();
            assert_eq!(total, capacity);
            assert!(cache.shards.len() <= MAX_SHARDS);
        }
    }
}
