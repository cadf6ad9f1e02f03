//! Where TATs live. [`LimitStore`] is the contract every store meets (this
//! process's memory, and later Redis and Durable Objects in the drivers);
//! [`MemoryStore`] is the in-process one: sharded, bounded, evicting keys
//! whose TAT has passed.

use std::collections::HashMap;
use std::fmt;
use std::hash::{BuildHasher, BuildHasherDefault, Hasher, RandomState};
use std::sync::{Mutex, MutexGuard, PoisonError};

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

/// The in-process [`LimitStore`]: shards of `Mutex<HashMap>` keyed by one
/// keyed SipHash of the key (computed once per call; the map itself does
/// not hash again), bounded by [`MemoryStoreConfig::max_keys`]. It reads
/// no clock: idleness is judged against the `now` each call brings.
pub struct MemoryStore {
    shards: Box<[Mutex<Shard>]>,
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
    /// By the key's hash; the key is kept to tell collisions apart.
    entries: HashMap<u64, Entry, BuildHasherDefault<Prehashed>>,
    /// Keys whose hash another key already holds (keyed SipHash: in
    /// practice never used, and not steerable by clients).
    collisions: HashMap<Box<str>, i128>,
}

struct Entry {
    key: Box<str>,
    tat: i128,
}

impl Shard {
    fn len(&self) -> usize {
        self.entries.len() + self.collisions.len()
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
            shards: (0..shards).map(|_| Mutex::new(Shard::default())).collect(),
            mask: u64::try_from(shards - 1).unwrap_or(0),
            per_shard: max_keys.div_ceil(shards),
            hasher: RandomState::new(),
        }
    }

    /// Keys held now (idle ones included until they are dropped).
    pub fn len(&self) -> usize {
        self.shards.iter().map(|s| lock(s).len()).sum()
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
            let mut s = lock(shard);
            s.entries.retain(|_, e| e.tat > now);
            s.collisions.retain(|_, tat| *tat > now);
        }
    }

    fn shard(&self, hash: u64) -> Result<&Mutex<Shard>, LimitError> {
        // `mask` is `len - 1` with `len` a power of two: always in range.
        let index = usize::try_from(hash & self.mask).unwrap_or(0);
        self.shards.get(index).ok_or_else(|| LimitError::Store {
            reason: "the memory store has no shard".to_owned(),
        })
    }
}

fn lock(shard: &Mutex<Shard>) -> MutexGuard<'_, Shard> {
    // A panic while holding the lock leaves at worst one key's TAT
    // unwritten: keep serving.
    shard.lock().unwrap_or_else(PoisonError::into_inner)
}

impl LimitStore for MemoryStore {
    fn update(
        &self,
        key: &str,
        now: OffsetDateTime,
        f: &mut dyn FnMut(Option<Tat>) -> Option<Tat>,
    ) -> Result<(), LimitError> {
        self.update_with(key, now.unix_timestamp_nanos(), |tat| {
            f(tat.map(Tat::from_unix_nanos)).map(Tat::unix_nanos)
        })
    }

    /// The same decision as the trait's default, without the indirect
    /// call (this is the gate's hot path).
    fn check(&self, key: &str, limit: &Limit, now: OffsetDateTime) -> Result<Decision, LimitError> {
        let now = now.unix_timestamp_nanos();
        let mut out = None;
        self.update_with(key, now, |tat| {
            let (decision, new) = gcra::decide_nanos(limit, tat, now);
            out = Some(decision);
            if decision.allowed { new } else { None }
        })?;
        out.ok_or_else(|| LimitError::Store {
            reason: "the store did not decide".to_owned(),
        })
    }
}

impl MemoryStore {
    #[inline]
    fn update_with(
        &self,
        key: &str,
        now_nanos: i128,
        mut f: impl FnMut(Option<i128>) -> Option<i128>,
    ) -> Result<(), LimitError> {
        if key.len() > MAX_KEY_LEN {
            return Err(LimitError::InvalidKey {
                key: crate::text::printable(key, 64),
                reason: format!("longer than {MAX_KEY_LEN} bytes"),
            });
        }
        let hash = self.hasher.hash_one(key);
        let mut shard = lock(self.shard(hash)?);
        let current = match shard.entries.get(&hash) {
            Some(e) if &*e.key == key => Some(e.tat),
            Some(_) => shard.collisions.get(key).copied(),
            None => None,
        };
        let Some(new) = f(current) else {
            return Ok(());
        };
        let shard = &mut *shard;
        if let Some(e) = shard.entries.get_mut(&hash) {
            if &*e.key == key {
                e.tat = new;
                return Ok(());
            }
            if let Some(tat) = shard.collisions.get_mut(key) {
                *tat = new;
                return Ok(());
            }
        }
        if shard.len() >= self.per_shard {
            make_room(shard, now_nanos, self.per_shard);
        }
        match shard.entries.entry(hash) {
            std::collections::hash_map::Entry::Occupied(_) => {
                shard.collisions.insert(key.into(), new);
            }
            std::collections::hash_map::Entry::Vacant(slot) => {
                slot.insert(Entry {
                    key: key.into(),
                    tat: new,
                });
            }
        }
        Ok(())
    }
}

/// Frees at least one slot of a full shard: idle keys first, else the key
/// whose TAT passes soonest.
fn make_room(shard: &mut Shard, now: i128, per_shard: usize) {
    shard.entries.retain(|_, e| e.tat > now);
    shard.collisions.retain(|_, tat| *tat > now);
    while shard.len() >= per_shard {
        let oldest_entry = shard
            .entries
            .iter()
            .min_by_key(|(_, e)| e.tat)
            .map(|(h, e)| (*h, e.tat));
        let oldest_collision = shard
            .collisions
            .iter()
            .min_by_key(|(_, tat)| **tat)
            .map(|(k, tat)| (k.clone(), *tat));
        match (oldest_entry, oldest_collision) {
            (Some((_, a)), Some((k, b))) if b < a => {
                shard.collisions.remove(&k);
            }
            (Some((h, _)), _) => {
                shard.entries.remove(&h);
            }
            (None, Some((k, _))) => {
                shard.collisions.remove(&k);
            }
            (None, None) => return,
        }
    }
}
