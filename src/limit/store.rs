//! Where TATs live. [`LimitStore`] is the contract every store meets (this
//! process's memory, and later Redis and Durable Objects in the drivers);
//! [`MemoryStore`] is the in-process one: sharded, bounded, evicting keys
//! whose TAT has passed, deciding a known key with one compare-exchange
//! under a shared read lock (as `governor` does).

use std::collections::HashMap;
use std::collections::hash_map::Entry as MapEntry;
use std::fmt;
use std::hash::{BuildHasher, BuildHasherDefault, Hasher, RandomState};
use std::sync::atomic::{AtomicI64, Ordering};
use std::sync::{Mutex, MutexGuard, PoisonError, RwLock, RwLockReadGuard, RwLockWriteGuard};

use time::OffsetDateTime;

use super::LimitError;
use super::gcra::{self, Decision, Limit, Tat};

/// Longest key a [`MemoryStore`] accepts (the gate's keys stay under 200
/// bytes).
pub const MAX_KEY_LEN: usize = 512;

/// A store of TATs, shared by every request (and, for a networked store,
/// every replica). Synchronous: an in-process store answers at once, a
/// networked one is called from a driver that may block a worker thread or
/// run it on its own executor.
///
/// The contract is a compare-and-set: [`update`](Self::update) reads a
/// key's TAT, calls `f` with it and stores what `f` returns, with no other
/// update of that key in between (a mutex here; `WATCH`/`MULTI`, `SET ...
/// GET` with a retry, or a Lua script in Redis; one Durable Object per key
/// shard in a Worker). [`check`](Self::check) is the GCRA decision on top
/// of it; a store with its own atomic primitive (a Redis Lua script running
/// the same [`decide`](super::decide) arithmetic) overrides `check` to
/// decide in one round trip.
pub trait LimitStore: Send + Sync + fmt::Debug {
    /// Reads `key`'s TAT (`None` when absent or dropped), calls `f` once
    /// with it, and stores `f`'s answer when it is `Some`, atomically per
    /// key. `now` lets the store drop idle keys (TAT at or before `now`).
    ///
    /// # Errors
    /// [`LimitError::Store`] when the store cannot be read or written (a
    /// networked store that is down or too slow), and
    /// [`LimitError::InvalidKey`] for a key the store refuses (too long);
    /// `f` is then not called or its answer is not stored.
    fn update(
        &self,
        key: &str,
        now: OffsetDateTime,
        f: &mut dyn FnMut(Option<Tat>) -> Option<Tat>,
    ) -> Result<(), LimitError>;

    /// Decides one request for `key` under `limit` at `now`, storing the
    /// new TAT when admitted.
    ///
    /// # Errors
    /// As [`update`](Self::update).
    fn check(&self, key: &str, limit: &Limit, now: OffsetDateTime) -> Result<Decision, LimitError> {
        let mut out = None;
        self.update(key, now, &mut |tat| {
            let (decision, new) = gcra::decide(limit, tat, now);
            out = Some(decision);
            if decision.allowed { new } else { None }
        })?;
        out.ok_or_else(|| LimitError::Store {
            reason: "the store did not call the update function".to_owned(),
        })
    }
}

/// Settings of a [`MemoryStore`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub struct MemoryStoreConfig {
    /// Most keys held at once (default 100 000, about 10 MB at worst).
    /// When a shard is full, keys whose TAT has passed are dropped; when
    /// none has, the key closest to passing is (it carries the least
    /// state: its client gets at most that much more burst).
    pub max_keys: usize,
    /// Number of independently locked shards, rounded up to a power of
    /// two (default 16).
    pub shards: usize,
}

impl Default for MemoryStoreConfig {
    fn default() -> Self {
        Self {
            max_keys: 100_000,
            shards: 16,
        }
    }
}

impl MemoryStoreConfig {
    /// Sets the key bound.
    #[must_use]
    pub fn with_max_keys(mut self, max_keys: usize) -> Self {
        self.max_keys = max_keys;
        self
    }

    /// Sets the shard count.
    #[must_use]
    pub fn with_shards(mut self, shards: usize) -> Self {
        self.shards = shards;
        self
    }
}

/// The in-process [`LimitStore`]: shards keyed by one keyed SipHash of the
/// key (computed once per call; the maps do not hash again), bounded by
/// [`MemoryStoreConfig::max_keys`]. It reads no clock: idleness is judged
/// against the `now` each call brings.
///
/// A known key is decided under the shard's *read* lock with one
/// compare-exchange of its TAT (an `AtomicI64` of Unix nanoseconds), so
/// requests of different keys, and of the same key, never wait on each
/// other's lock; the write lock is taken only to add a key, to make room,
/// and by [`LimitStore::update`] (whose function must run exactly once).
pub struct MemoryStore {
    shards: Box<[Shard]>,
    mask: u64,
    per_shard: usize,
    hasher: RandomState,
}

impl fmt::Debug for MemoryStore {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("MemoryStore")
            .field("shards", &self.shards.len())
            .field("per_shard", &self.per_shard)
            .finish_non_exhaustive()
    }
}

#[derive(Default)]
struct Shard {
    /// Keys by their hash, TATs as atomics. Read-locked to decide a held
    /// key; write-locked to add or drop one.
    fast: RwLock<FastMap>,
    /// Keys whose hash another key already holds (keyed SipHash: in
    /// practice never used, and not steerable by clients), and TATs beyond
    /// `i64` nanoseconds (after the year 2262). Only touched under `fast`'s
    /// write lock, so a key lives in one of the two maps at a time.
    wide: Mutex<Wide>,
}

/// The keys of [`Shard::wide`]: a list, as it is empty in practice (a
/// scan of it costs less than hashing the key; it is bounded by the
/// shard's key limit like the rest), and one hash map type fewer in a
/// Worker.
#[derive(Default)]
struct Wide(Vec<(Box<str>, i128)>);

impl Wide {
    fn len(&self) -> usize {
        self.0.len()
    }

    fn get(&self, key: &str) -> Option<i128> {
        self.0
            .iter()
            .find(|(k, _)| **k == *key)
            .map(|(_, tat)| *tat)
    }

    fn insert(&mut self, key: &str, tat: i128) {
        match self.0.iter_mut().find(|(k, _)| **k == *key) {
            Some(entry) => entry.1 = tat,
            None => self.0.push((key.into(), tat)),
        }
    }

    fn remove(&mut self, key: &str) {
        if let Some(at) = self.0.iter().position(|(k, _)| **k == *key) {
            self.0.swap_remove(at);
        }
    }

    /// Drops the keys whose TAT is at or before `now`.
    fn retain_after(&mut self, now: i128) {
        self.0.retain(|(_, tat)| *tat > now);
    }

    /// The key whose TAT passes soonest.
    fn oldest(&self) -> Option<(&str, i128)> {
        self.0
            .iter()
            .min_by_key(|(_, tat)| *tat)
            .map(|(k, tat)| (&**k, *tat))
    }
}

type FastMap = HashMap<u64, Slot, BuildHasherDefault<Prehashed>>;

struct Slot {
    key: Box<str>,
    /// Unix nanoseconds.
    tat: AtomicI64,
}

impl Slot {
    fn tat(&self) -> i128 {
        i128::from(self.tat.load(Ordering::Relaxed))
    }
}

/// The map key is already a hash: pass it through.
#[derive(Default)]
struct Prehashed(u64);

impl Hasher for Prehashed {
    fn finish(&self) -> u64 {
        self.0
    }
    fn write(&mut self, bytes: &[u8]) {
        for &b in bytes {
            self.0 = self.0.rotate_left(8) ^ u64::from(b);
        }
    }
    fn write_u64(&mut self, n: u64) {
        self.0 = n;
    }
}

impl Default for MemoryStore {
    fn default() -> Self {
        Self::new(MemoryStoreConfig::default())
    }
}

impl MemoryStore {
    /// A store with these settings (a zero bound or shard count counts as
    /// one).
    pub fn new(config: MemoryStoreConfig) -> Self {
        let max_keys = config.max_keys.max(1);
        let mut shards = config.shards.clamp(1, 1024).next_power_of_two();
        while shards > max_keys {
            shards /= 2;
        }
        let shards = shards.max(1);
        Self {
            shards: (0..shards).map(|_| Shard::default()).collect(),
            mask: u64::try_from(shards - 1).unwrap_or(0),
            per_shard: max_keys.div_ceil(shards),
            hasher: RandomState::new(),
        }
    }

    /// Keys held now (idle ones included until they are dropped).
    pub fn len(&self) -> usize {
        self.shards
            .iter()
            .map(|s| {
                let fast = read(&s.fast);
                fast.len() + lock(&s.wide).len()
            })
            .sum()
    }

    /// Whether no key is held.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// The most keys the store holds at once: `max_keys` rounded up to a
    /// multiple of the shard count.
    pub fn max_keys(&self) -> usize {
        self.per_shard.saturating_mul(self.shards.len())
    }

    /// Drops every key whose TAT is at or before `now` (they decide as
    /// absent keys do). Call it from a timer to give memory back early;
    /// a full shard does it by itself.
    pub fn sweep(&self, now: OffsetDateTime) {
        let now = now.unix_timestamp_nanos();
        for shard in self.shards.iter() {
            let mut fast = write(&shard.fast);
            fast.retain(|_, e| e.tat() > now);
            lock(&shard.wide).retain_after(now);
        }
    }

    fn shard(&self, hash: u64) -> Result<&Shard, LimitError> {
        // `mask` is `len - 1` with `len` a power of two: always in range.
        let index = usize::try_from(hash & self.mask).unwrap_or(0);
        self.shards.get(index).ok_or_else(|| LimitError::Store {
            reason: "the memory store has no shard".to_owned(),
        })
    }

    fn check_key(&self, key: &str) -> Result<u64, LimitError> {
        if key.len() > MAX_KEY_LEN {
            return Err(LimitError::InvalidKey {
                key: crate::text::printable(key, 64),
                reason: format!("longer than {MAX_KEY_LEN} bytes"),
            });
        }
        // The key's bytes alone: `hash_one(key)` would also feed `str`'s
        // 0xff terminator, which only matters when several fields are
        // hashed in a row (one SipHash tail round fewer per decision).
        let mut hasher = self.hasher.build_hasher();
        hasher.write(key.as_bytes());
        Ok(hasher.finish())
    }
}

// A panic while holding a lock leaves at worst one key's TAT unwritten:
// keep serving.
fn lock<T>(m: &Mutex<T>) -> MutexGuard<'_, T> {
    m.lock().unwrap_or_else(PoisonError::into_inner)
}

fn read<T>(m: &RwLock<T>) -> RwLockReadGuard<'_, T> {
    m.read().unwrap_or_else(PoisonError::into_inner)
}

fn write<T>(m: &RwLock<T>) -> RwLockWriteGuard<'_, T> {
    m.write().unwrap_or_else(PoisonError::into_inner)
}

impl LimitStore for MemoryStore {
    fn update(
        &self,
        key: &str,
        now: OffsetDateTime,
        f: &mut dyn FnMut(Option<Tat>) -> Option<Tat>,
    ) -> Result<(), LimitError> {
        let hash = self.check_key(key)?;
        let shard = self.shard(hash)?;
        update_locked(
            shard,
            self.per_shard,
            key,
            hash,
            now.unix_timestamp_nanos(),
            |tat| f(tat.map(Tat::from_unix_nanos)).map(Tat::unix_nanos),
        );
        Ok(())
    }

    /// The same decision as the trait's default. A held key is decided
    /// lock-free under the shard's read lock: load the TAT, decide,
    /// compare-exchange the new TAT in (deciding again if another request
    /// of the key got there first). This is the gate's hot path.
    fn check(&self, key: &str, limit: &Limit, now: OffsetDateTime) -> Result<Decision, LimitError> {
        let hash = self.check_key(key)?;
        let shard = self.shard(hash)?;
        // Before 2262 the held key is decided on 64-bit nanoseconds.
        if let Some(now) = gcra::unix_nanos_i64(now) {
            let fast = read(&shard.fast);
            if let Some(slot) = fast.get(&hash)
                && *slot.key == *key
            {
                let mut current = slot.tat.load(Ordering::Relaxed);
                // A TAT past `i64` (after 2262) moves to the wide map:
                // `decide_nanos_i64` is `None` and the locked path runs.
                while let Some((decision, new)) = gcra::decide_nanos_i64(limit, current, now) {
                    let Some(new) = new else {
                        // Refused: nothing is stored.
                        return Ok(decision);
                    };
                    match slot.tat.compare_exchange_weak(
                        current,
                        new,
                        Ordering::Relaxed,
                        Ordering::Relaxed,
                    ) {
                        Ok(_) => return Ok(decision),
                        Err(seen) => current = seen,
                    }
                }
            }
        }
        let now = now.unix_timestamp_nanos();
        let mut out = None;
        update_locked(shard, self.per_shard, key, hash, now, |tat| {
            let (decision, new) = gcra::decide_nanos(limit, tat, now);
            out = Some(decision);
            if decision.allowed { new } else { None }
        });
        out.ok_or_else(|| LimitError::Store {
            reason: "the store did not decide".to_owned(),
        })
    }
}

/// The read-modify-write of one key under the shard's write lock: `f` runs
/// exactly once. Adds the key (making room first when the shard is full),
/// and keeps it in the map its hash and TAT call for.
fn update_locked(
    shard: &Shard,
    per_shard: usize,
    key: &str,
    hash: u64,
    now: i128,
    f: impl FnOnce(Option<i128>) -> Option<i128>,
) {
    let mut fast = write(&shard.fast);
    let mut wide = lock(&shard.wide);
    let in_fast = fast.get(&hash).is_some_and(|s| *s.key == *key);
    let current = if in_fast {
        fast.get(&hash).map(Slot::tat)
    } else {
        wide.get(key)
    };
    let Some(new) = f(current) else {
        return;
    };
    if current.is_none() && fast.len() + wide.len() >= per_shard {
        make_room(&mut fast, &mut wide, now, per_shard);
    }
    match (i64::try_from(new), fast.entry(hash)) {
        (Ok(new), MapEntry::Occupied(slot)) if in_fast => {
            slot.get().tat.store(new, Ordering::Relaxed);
        }
        (Ok(new), MapEntry::Vacant(slot)) => {
            wide.remove(key);
            slot.insert(Slot {
                key: key.into(),
                tat: AtomicI64::new(new),
            });
        }
        (_, slot) => {
            if in_fast && let MapEntry::Occupied(slot) = slot {
                slot.remove();
            }
            wide.insert(key, new);
        }
    }
}

/// Frees at least one slot of a full shard: idle keys first, else the key
/// whose TAT passes soonest.
fn make_room(fast: &mut FastMap, wide: &mut Wide, now: i128, per_shard: usize) {
    fast.retain(|_, e| e.tat() > now);
    wide.retain_after(now);
    while fast.len() + wide.len() >= per_shard {
        let oldest_fast = fast
            .iter()
            .map(|(h, e)| (*h, e.tat()))
            .min_by_key(|(_, tat)| *tat);
        let oldest_wide = wide.oldest().map(|(k, tat)| (Box::<str>::from(k), tat));
        match (oldest_fast, oldest_wide) {
            (Some((_, a)), Some((k, b))) if b < a => {
                wide.remove(&k);
            }
            (Some((h, _)), _) => {
                fast.remove(&h);
            }
            (None, Some((k, _))) => {
                wide.remove(&k);
            }
            (None, None) => return,
        }
    }
}
