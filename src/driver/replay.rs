//! RFC 9421 §7.2.2 replay protection against a shared store: an
//! [`AsyncReplayGuard`] a driver awaits (Redis: `RedisReplayGuard` of the
//! `redis` feature), so a nonce seen by one replica is refused by every
//! other. The verifier's own [`ReplayGuard`] stays synchronous;
//! [`verify_request`] runs the verifier without it and then awaits the
//! shared guard with the same arguments.

use std::fmt;
use std::future::Future;
use std::pin::Pin;
use std::sync::{Mutex, PoisonError};

use time::OffsetDateTime;

use crate::httpsig::{HttpSigError, KeyRing, MemoryReplayGuard, ReplayGuard, Verified, Verifier};

/// What [`AsyncReplayGuard::check_and_remember`] returns.
pub type ReplayAnswer<'a> = Pin<Box<dyn Future<Output = Result<(), HttpSigError>> + Send + 'a>>;

/// A replay guard a driver awaits: [`ReplayGuard`]'s contract through
/// `&self`, so that one guard serves every request (and, backed by a
/// shared store, every replica).
pub trait AsyncReplayGuard: Send + Sync + fmt::Debug {
    /// Refuses a `(keyid, nonce)` pair already remembered and not yet
    /// expired ([`HttpSigError::Replayed`]); otherwise remembers it until
    /// `expires_at`, atomically (two requests with one nonce: one wins).
    /// A store that cannot answer in time refuses
    /// ([`HttpSigError::ReplayStore`]: fail closed).
    fn check_and_remember<'a>(
        &'a self,
        keyid: &'a str,
        nonce: &'a str,
        expires_at: OffsetDateTime,
        now: OffsetDateTime,
    ) -> ReplayAnswer<'a>;
}

/// The in-memory guard behind a lock: one process.
impl AsyncReplayGuard for Mutex<MemoryReplayGuard> {
    fn check_and_remember<'a>(
        &'a self,
        keyid: &'a str,
        nonce: &'a str,
        expires_at: OffsetDateTime,
        now: OffsetDateTime,
    ) -> ReplayAnswer<'a> {
        let answer = self
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .check_and_remember(keyid, nonce, expires_at, now);
        Box::pin(std::future::ready(answer))
    }
}

/// [`Verifier::verify`] with an async `guard`: verifies the request, then,
/// when the accepted signature has a nonce, asks `guard` to refuse a
/// replay of it until [`Verifier::replay_until`].
///
/// # Errors
/// As [`Verifier::verify`]; [`HttpSigError::ReplayUnbounded`] for a nonce
/// whose signature has no end, [`HttpSigError::Replayed`] for a nonce seen
/// before (by any replica sharing the guard's store) and
/// [`HttpSigError::ReplayStore`] when the store cannot answer.
pub async fn verify_request<'r>(
    verifier: &Verifier,
    request: &'r http::request::Parts,
    body: &[u8],
    keys: &KeyRing,
    guard: &dyn AsyncReplayGuard,
    now: OffsetDateTime,
) -> Result<Verified<'r>, HttpSigError> {
    let verified = verifier.verify(request, body, keys, None, now)?;
    if let Some(nonce) = verified.nonce.as_ref() {
        let until = verifier.replay_until(&verified)?;
        guard
            .check_and_remember(verified.keyid.as_str(), nonce.as_str(), until, now)
            .await?;
    }
    Ok(verified)
}
