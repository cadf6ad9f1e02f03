//! The async side of the rate-limit seam: [`AsyncLimitStore`], a store a
//! driver awaits (Redis, and later Durable Objects) without blocking a
//! worker thread, and the loop that runs the Gate's
//! [`Staged::Limits`](crate::gate::Staged) against it
//! ([`KeyDriver::check_with_limits`](super::keys::KeyDriver::check_with_limits),
//! and `GateLayer::with_limit_store` with the `tower` feature).
//! The in-process [`MemoryStore`] implements it too (it answers at once).

use std::fmt;
use std::future::Future;
use std::pin::Pin;

use time::OffsetDateTime;

use crate::limit::{Decision, LimitCall, LimitError, LimitStore, MemoryStore};

/// What [`AsyncLimitStore::check_all`] returns: the answers, in the order
/// of the calls.
pub type LimitAnswers<'a> =
    Pin<Box<dyn Future<Output = Vec<Result<Decision, LimitError>>> + Send + 'a>>;

/// A rate-limit store a driver awaits. One call decides all the limits of
/// one request, so that a networked store can do it in one round trip.
pub trait AsyncLimitStore: Send + Sync + fmt::Debug {
    /// Decides `calls` in order at `now`, each as
    /// [`limit::decide`](crate::limit::decide) would against its key's
    /// TAT, storing the new TAT of each admitted call. Stops after the
    /// first call that is refused or fails (later calls must not count
    /// the request); the answers are in the order of the calls, so there
    /// may be fewer answers than calls. A store that cannot answer in
    /// time answers [`LimitError::Store`] (the Gate then fails open or
    /// closed as configured); it never hangs.
    fn check_all<'a>(&'a self, calls: &'a [LimitCall], now: OffsetDateTime) -> LimitAnswers<'a>;
}

impl AsyncLimitStore for MemoryStore {
    fn check_all<'a>(&'a self, calls: &'a [LimitCall], now: OffsetDateTime) -> LimitAnswers<'a> {
        let answers = check_in_order(self, calls, now);
        Box::pin(std::future::ready(answers))
    }
}

/// Decides `calls` in order against a synchronous store, stopping after
/// the first refusal or failure: what [`AsyncLimitStore::check_all`] asks,
/// for a store that answers at once.
pub fn check_in_order(
    store: &dyn LimitStore,
    calls: &[LimitCall],
    now: OffsetDateTime,
) -> Vec<Result<Decision, LimitError>> {
    let mut answers = Vec::with_capacity(calls.len());
    for call in calls {
        let answer = store.check(call.key(), call.limit(), now);
        let stop = !matches!(answer, Ok(Decision { allowed: true, .. }));
        answers.push(answer);
        if stop {
            break;
        }
    }
    answers
}
