//! Replay protection for signature nonces (RFC 9421 §7.2.2): a trait the
//! verifier calls after a signature verifies, and a bounded in-memory guard.
//! Time comes from the caller; nothing here reads a clock.

use super::HttpSigError;
use std::collections::{BTreeSet, HashMap};
use time::OffsetDateTime;

/// Remembers `(keyid, nonce)` pairs until the signature they came with can no
/// longer be accepted, and refuses a pair seen before.
///
/// The verifier calls this only for a signature that has already verified, so
/// an attacker cannot fill the store with forged nonces.
pub trait ReplayGuard {
    /// Refuses a pair already remembered and not yet expired; otherwise
    /// remembers it until `expires_at`.
    ///
    /// # Errors
    /// [`HttpSigError::Replayed`] for a pair seen before,
    /// [`HttpSigError::ReplayCacheFull`] when the pair cannot be remembered.
    fn check_and_remember(
        &mut self,
        keyid: &str,
        nonce: &str,
        expires_at: OffsetDateTime,
        now: OffsetDateTime,
    ) -> Result<(), HttpSigError>;
}

/// A bounded in-memory [`ReplayGuard`] for one process or Worker isolate.
///
/// Entries whose `expires_at` has passed (by the `now` the caller gives) are
/// evicted first. When the guard is still full it **fails closed**: the new
/// signature is refused with [`HttpSigError::ReplayCacheFull`] rather than
/// evicting a live entry, because forgetting a live nonce would let that
/// request be replayed. Size the capacity for the request rate times the
/// acceptance window (`max_age` plus skew).
#[derive(Debug)]
pub struct MemoryReplayGuard {
    capacity: usize,
    seen: HashMap<(String, String), OffsetDateTime>,
    by_expiry: BTreeSet<(OffsetDateTime, String, String)>,
}

impl MemoryReplayGuard {
    /// A guard that holds at most `capacity` live nonces.
    pub fn with_capacity(capacity: usize) -> Self {
        Self {
            capacity,
            seen: HashMap::new(),
            by_expiry: BTreeSet::new(),
        }
    }

    /// Number of remembered nonces (including expired ones not yet evicted).
    pub fn len(&self) -> usize {
        self.seen.len()
    }

    /// True when nothing is remembered.
    pub fn is_empty(&self) -> bool {
        self.seen.is_empty()
    }

    fn evict_expired(&mut self, now: OffsetDateTime) {
        while let Some(first) = self.by_expiry.first() {
            if first.0 > now {
                break;
            }
            if let Some((_, keyid, nonce)) = self.by_expiry.pop_first() {
                self.seen.remove(&(keyid, nonce));
            }
        }
    }
}

impl ReplayGuard for MemoryReplayGuard {
    fn check_and_remember(
        &mut self,
        keyid: &str,
        nonce: &str,
        expires_at: OffsetDateTime,
        now: OffsetDateTime,
    ) -> Result<(), HttpSigError> {
        self.evict_expired(now);
        let key = (keyid.to_owned(), nonce.to_owned());
        if self.seen.contains_key(&key) {
            return Err(HttpSigError::Replayed {
                keyid: keyid.to_owned(),
                nonce: nonce.to_owned(),
            });
        }
        if expires_at <= now {
            // Already outside the window: nothing to remember.
            return Ok(());
        }
        if self.seen.len() >= self.capacity {
            return Err(HttpSigError::ReplayCacheFull {
                capacity: self.capacity,
            });
        }
        self.by_expiry
            .insert((expires_at, key.0.clone(), key.1.clone()));
        self.seen.insert(key, expires_at);
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn evicts_and_fails_closed() {
        let t0 = OffsetDateTime::from_unix_timestamp(1_000).unwrap();
        let mut g = MemoryReplayGuard::with_capacity(2);
        let later = t0 + time::Duration::seconds(10);
        g.check_and_remember("k", "a", later, t0).unwrap();
        assert!(matches!(
            g.check_and_remember("k", "a", later, t0),
            Err(HttpSigError::Replayed { .. })
        ));
        g.check_and_remember("k", "b", later, t0).unwrap();
        assert!(matches!(
            g.check_and_remember("k", "c", later, t0),
            Err(HttpSigError::ReplayCacheFull { .. })
        ));
        // After expiry the entries are evicted and room is made.
        g.check_and_remember("k", "c", later + time::Duration::seconds(10), later)
            .unwrap();
        assert_eq!(g.len(), 1);
    }
}
