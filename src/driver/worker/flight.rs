//! In-isolate single flight: while one request reads an issuer's state
//! from KV or fetches its keys, the isolate's other requests for that
//! issuer wait for it instead of fetching too. Runtime-independent (a
//! `Mutex` and wakers; a Worker isolate runs one thread, so the lock is
//! never contended there), so it is tested natively.

use std::collections::HashMap;
use std::fmt;
use std::future::Future;
use std::pin::Pin;
use std::sync::{Arc, Mutex, MutexGuard, PoisonError};
use std::task::{Context, Poll, Waker};

/// One flight's end: done, and the wakers of those waiting for it.
#[derive(Debug, Default)]
struct End {
    done: bool,
    waiters: Vec<Waker>,
}

#[derive(Debug, Default)]
struct State {
    end: Mutex<End>,
}

impl State {
    fn end(&self) -> MutexGuard<'_, End> {
        // Every update is whole (a flag and a list): a poisoned lock holds
        // nothing half-written.
        self.end.lock().unwrap_or_else(PoisonError::into_inner)
    }
}

/// The flights under way, by issuer.
#[derive(Debug, Default)]
pub(super) struct Flights {
    running: Arc<Mutex<HashMap<String, Arc<State>>>>,
}

impl Flights {
    fn running(&self) -> MutexGuard<'_, HashMap<String, Arc<State>>> {
        self.running.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// A wait for the flight under way for `issuer`, if there is one.
    pub(super) fn wait(&self, issuer: &str) -> Option<FlightWait> {
        self.running().get(issuer).map(|state| FlightWait {
            state: Arc::clone(state),
        })
    }

    /// Starts `issuer`'s flight; the caller leads it until the returned
    /// [`Flight`] is dropped.
    pub(super) fn lead(&self, issuer: &str) -> Flight {
        let state = Arc::new(State::default());
        self.running().insert(issuer.to_owned(), Arc::clone(&state));
        Flight {
            running: Arc::clone(&self.running),
            issuer: issuer.to_owned(),
            state,
        }
    }
}

/// The lead of an issuer's key work in this isolate (a KV read or a key
/// fetch). Hold it while doing the work: dropping it (done, failed or
/// cancelled alike) ends the flight and wakes every [`FlightWait`], so a
/// lost request never wedges the others.
pub struct Flight {
    running: Arc<Mutex<HashMap<String, Arc<State>>>>,
    issuer: String,
    state: Arc<State>,
}

impl fmt::Debug for Flight {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Flight")
            .field("issuer", &self.issuer)
            .finish_non_exhaustive()
    }
}

impl Drop for Flight {
    fn drop(&mut self) {
        {
            let mut running = self.running.lock().unwrap_or_else(PoisonError::into_inner);
            // Only this flight's own entry: a later flight may hold the name.
            if running
                .get(&self.issuer)
                .is_some_and(|s| Arc::ptr_eq(s, &self.state))
            {
                running.remove(&self.issuer);
            }
        }
        let waiters = {
            let mut end = self.state.end();
            end.done = true;
            std::mem::take(&mut end.waiters)
        };
        for waker in waiters {
            waker.wake();
        }
    }
}

/// Resolves when the flight it waits for ends; then step again.
#[derive(Debug)]
pub struct FlightWait {
    state: Arc<State>,
}

impl FlightWait {
    /// Whether the flight ended. In workerd a request must not await a
    /// promise that another request resolves (the runtime sees no I/O of
    /// its own pending and cancels it as hung), so the Worker runtime
    /// polls this between short timers instead of awaiting the future.
    pub fn is_done(&self) -> bool {
        self.state.end().done
    }
}

impl Future for FlightWait {
    type Output = ();

    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<()> {
        let mut end = self.state.end();
        if end.done {
            return Poll::Ready(());
        }
        if !end.waiters.iter().any(|w| w.will_wake(cx.waker())) {
            end.waiters.push(cx.waker().clone());
        }
        Poll::Pending
    }
}

#[cfg(test)]
mod tests {
    use std::task::Wake;

    use super::*;

    struct Count(Mutex<usize>);

    impl Wake for Count {
        fn wake(self: Arc<Self>) {
            *self.0.lock().unwrap() += 1;
        }
    }

    fn poll(wait: &mut FlightWait, waker: &Waker) -> Poll<()> {
        Pin::new(wait).poll(&mut Context::from_waker(waker))
    }

    #[test]
    fn waiters_wake_when_the_flight_ends() {
        let flights = Flights::default();
        assert!(flights.wait("https://idp").is_none());
        let flight = flights.lead("https://idp");
        // Two waiting requests, each with its own task's waker.
        let (count_a, count_b) = (
            Arc::new(Count(Mutex::new(0))),
            Arc::new(Count(Mutex::new(0))),
        );
        let (waker_a, waker_b) = (
            Waker::from(Arc::clone(&count_a)),
            Waker::from(Arc::clone(&count_b)),
        );
        let mut a = flights.wait("https://idp").unwrap();
        let mut b = flights.wait("https://idp").unwrap();
        assert!(poll(&mut a, &waker_a).is_pending());
        assert!(poll(&mut b, &waker_b).is_pending());
        assert!(!a.is_done());
        drop(flight);
        assert!(a.is_done() && b.is_done());
        assert_eq!(*count_a.0.lock().unwrap(), 1);
        assert_eq!(*count_b.0.lock().unwrap(), 1);
        assert!(poll(&mut a, &waker_a).is_ready());
        assert!(poll(&mut b, &waker_b).is_ready());
        assert!(flights.wait("https://idp").is_none());
    }

    #[test]
    fn an_old_flight_does_not_end_a_newer_one() {
        let flights = Flights::default();
        let old = flights.lead("https://idp");
        let new = flights.lead("https://idp");
        drop(old);
        let mut wait = flights.wait("https://idp").expect("the newer flight runs");
        let waker = Waker::from(Arc::new(Count(Mutex::new(0))));
        assert!(poll(&mut wait, &waker).is_pending());
        drop(new);
        assert!(poll(&mut wait, &waker).is_ready());
    }

    #[test]
    fn issuers_fly_apart() {
        let flights = Flights::default();
        let _a = flights.lead("https://a");
        assert!(flights.wait("https://b").is_none());
    }
}
