//! The async key driver: runs the Gate's `check → FetchKeys → fetch → apply
//! → check` loop for one process, once and correctly.
//!
//! - **Single flight.** One fetch in flight per (issuer, URL) in this
//!   process; concurrent requests on a cold cache wait for it.
//! - **Bounded.** Each fetch has a timeout ([`DriverOptions::fetch_timeout`]),
//!   each request a bounded number of fetch rounds
//!   ([`DriverOptions::max_fetch_rounds`]) and a bounded wait for fetches
//!   it did not send ([`DriverOptions::max_wait`]); then the answer is the
//!   Gate's own 503 with `Retry-After`.
//! - **Never wedged.** A fetch runs on its own tokio task, so a request that
//!   goes away does not cancel it halfway; a fetch that panics, hangs or is
//!   cancelled is recorded as failed with the Gate and its waiters wake up.
//! - **Refresh-ahead.** [`KeyDriver::spawn_refresh`] runs the Gate's
//!   [`poll`](crate::gate::Gate::poll) on an interval; without that task, a
//!   request starts the due fetches at most once per
//!   [`DriverOptions::refresh_interval`] (in the background: the request does
//!   not wait for them).
//!
//! The HTTP client is the user's, behind the small [`HttpClient`] trait
//! (`driver::client::HyperClient` with the `hyper-client` feature). The driver
//! needs a tokio runtime with its time driver enabled (for timeouts); it
//! answers 503 rather than panic when polled outside a runtime.
//!
//! Plugging [reqwest](https://docs.rs/reqwest) instead of hyper (a sketch;
//! reqwest is not a dependency of this crate):
//!
//! ```ignore
//! use edge_auth::driver::keys::{DriverError, FetchFuture, FetchRequest, FetchResponse, HttpClient};
//!
//! struct Reqwest(reqwest::Client);
//!
//! impl HttpClient for Reqwest {
//!     fn get(&self, request: FetchRequest) -> FetchFuture<'_> {
//!         Box::pin(async move {
//!             let fail = |e: reqwest::Error| DriverError::fetch(e.without_url().to_string());
//!             let mut response = self.0.get(&request.url).headers(request.headers).send().await.map_err(fail)?;
//!             let (status, headers) = (response.status(), response.headers().clone());
//!             let mut body = Vec::new();
//!             while let Some(chunk) = response.chunk().await.map_err(fail)? {
//!                 if body.len() + chunk.len() > request.max_body_bytes {
//!                     return Err(DriverError::body_too_large(request.max_body_bytes));
//!                 }
//!                 body.extend_from_slice(&chunk);
//!             }
//!             Ok(FetchResponse::new(status, headers, body))
//!         })
//!     }
//! }
//! ```

use std::collections::HashMap;
use std::fmt;
use std::future::Future;
use std::pin::Pin;
use std::sync::atomic::{AtomicI64, AtomicU64, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex, PoisonError};
use std::time::{Duration, Instant};

use http::request::Parts;
use http::{HeaderMap, StatusCode};
use time::OffsetDateTime;
use tokio::sync::{Notify, watch};

use super::limit::AsyncLimitStore;
use super::stats::{Counters, FetchEnd, Stats};
use crate::Principal;
use crate::gate::{FetchPlan, Gate, Outcome, Staged};
use crate::policy::{Decision, RequestFacts};
use crate::response::Rejection;
use crate::seal::Sealer;

/// Where the driver reads the time. Only `src/driver/` reads a clock; the
/// Gate is handed the time on every call. [`SystemClock`] by default; any
/// `Fn() -> OffsetDateTime` is a clock (tests move time forward with one).
pub trait Clock: Send + Sync + 'static {
    /// The current time.
    fn now(&self) -> OffsetDateTime;
}

/// The wall clock (UTC).
#[derive(Debug, Clone, Copy, Default)]
pub struct SystemClock;

impl Clock for SystemClock {
    fn now(&self) -> OffsetDateTime {
        OffsetDateTime::now_utc()
    }
}

impl<F> Clock for F
where
    F: Fn() -> OffsetDateTime + Send + Sync + 'static,
{
    fn now(&self) -> OffsetDateTime {
        self()
    }
}

/// A GET the driver asks its [`HttpClient`] to perform.
#[derive(Debug, Clone)]
#[non_exhaustive]
pub struct FetchRequest {
    /// The URL (the Gate's discovery or JWKS endpoint).
    pub url: String,
    /// Headers to send: `Accept: application/json` and the Gate's
    /// conditional-request headers (`If-None-Match`).
    pub headers: HeaderMap,
    /// The largest body to read: a client must stop and answer
    /// [`DriverError::body_too_large`] past it.
    pub max_body_bytes: usize,
}

impl FetchRequest {
    /// A GET of `url` with `headers`, reading at most `max_body_bytes`.
    pub fn new(url: impl Into<String>, headers: HeaderMap, max_body_bytes: usize) -> Self {
        Self {
            url: url.into(),
            headers,
            max_body_bytes,
        }
    }
}

/// What the [`HttpClient`] got back.
#[derive(Debug, Clone)]
#[non_exhaustive]
pub struct FetchResponse {
    /// The status.
    pub status: StatusCode,
    /// The response headers (`Cache-Control`, `ETag`, …).
    pub headers: HeaderMap,
    /// The body, at most [`FetchRequest::max_body_bytes`] long.
    pub body: Vec<u8>,
}

impl FetchResponse {
    /// A response from its parts.
    pub fn new(status: StatusCode, headers: HeaderMap, body: Vec<u8>) -> Self {
        Self {
            status,
            headers,
            body,
        }
    }
}

/// The future an [`HttpClient`] returns.
pub type FetchFuture<'a> =
    Pin<Box<dyn Future<Output = Result<FetchResponse, DriverError>> + Send + 'a>>;

/// The HTTP client the key driver fetches discovery documents and key sets
/// with: one GET, its status, headers and body (capped). Implement it to
/// plug reqwest or your own client (see the [module docs](self)); the
/// `hyper-client` feature brings one on hyper-util and rustls. Timeouts are
/// the driver's: a client need not add its own.
pub trait HttpClient: Send + Sync + 'static {
    /// Performs the GET.
    ///
    /// # Errors
    /// [`DriverError`] (built with [`DriverError::fetch`] or
    /// [`DriverError::body_too_large`]) when there is no complete response.
    fn get(&self, request: FetchRequest) -> FetchFuture<'_>;

    /// Sends a form POST (a token introspection, RFC 7662) and reads at
    /// most `max_body_bytes` of the answer. The default refuses: a gate
    /// with an introspecting issuer needs a client that implements it
    /// (`HyperClient` does).
    ///
    /// # Errors
    /// [`DriverError`] when there is no complete response. Never put the
    /// request's body or `Authorization` header in it: they carry the
    /// token and the client's credentials.
    fn post(&self, request: http::Request<Vec<u8>>, max_body_bytes: usize) -> FetchFuture<'_> {
        let _ = (request, max_body_bytes);
        Box::pin(async {
            Err(DriverError::fetch(
                "this http client cannot send post requests (token introspection)",
            ))
        })
    }
}

/// The key driver's error: a fetch that got no usable response, or a
/// driver that cannot run here.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{message}")]
#[non_exhaustive]
pub struct DriverError {
    message: String,
}

impl DriverError {
    /// A fetch failed: connection refused, TLS error, refused URL… The
    /// message is logged and kept by the Gate as the failure reason: never
    /// put a credential in it.
    pub fn fetch(message: impl Into<String>) -> Self {
        Self {
            message: message.into(),
        }
    }

    /// The response body was longer than `limit` bytes.
    pub fn body_too_large(limit: usize) -> Self {
        Self::fetch(format!("response body larger than {limit} bytes"))
    }

    fn no_runtime() -> Self {
        Self::fetch("no tokio runtime: the key driver runs on tokio")
    }
}

/// How the key driver runs. Secure, bounded defaults; adjust with the
/// `with_*` methods.
#[derive(Debug, Clone)]
#[non_exhaustive]
pub struct DriverOptions {
    /// Longest wait for one fetch's complete response (default 5 s); then
    /// the fetch counts as failed.
    pub fetch_timeout: Duration,
    /// Fetches one request may send or wait for before it is answered
    /// with the Gate's 503 (default 3: discovery, key set, one retry).
    pub max_fetch_rounds: usize,
    /// Longest a request waits, in all, for fetches the Gate says are in
    /// flight but this process is not running (another process' fetch, or
    /// one about to start), before it is answered 503 (default 1 s).
    pub max_wait: Duration,
    /// Largest discovery document or key set read (default 512 KiB, the
    /// Gate's own default limit).
    pub max_body_bytes: usize,
    /// How often the Gate's `poll` runs: the refresh task's period, and
    /// without the task, the least time between two polls on request
    /// (default 1 s).
    pub refresh_interval: Duration,
    /// Seals the key state [`KeyDriver::export_state`] hands out and
    /// requires it sealed in [`KeyDriver::import_state`] (default `None`:
    /// plain JSON). Build it with [`Sealer::from_env`] or
    /// [`Sealer::from_file`]; what it protects is said in [`crate::seal`].
    pub sealer: Option<Arc<Sealer>>,
}

impl Default for DriverOptions {
    fn default() -> Self {
        Self {
            fetch_timeout: Duration::from_secs(5),
            max_fetch_rounds: 3,
            max_wait: Duration::from_secs(1),
            max_body_bytes: 512 * 1024,
            refresh_interval: Duration::from_secs(1),
            sealer: None,
        }
    }
}

impl DriverOptions {
    /// Sets [`fetch_timeout`](Self::fetch_timeout).
    #[must_use]
    pub fn with_fetch_timeout(mut self, timeout: Duration) -> Self {
        self.fetch_timeout = timeout;
        self
    }

    /// Sets [`max_fetch_rounds`](Self::max_fetch_rounds).
    #[must_use]
    pub fn with_max_fetch_rounds(mut self, rounds: usize) -> Self {
        self.max_fetch_rounds = rounds;
        self
    }

    /// Sets [`max_wait`](Self::max_wait).
    #[must_use]
    pub fn with_max_wait(mut self, wait: Duration) -> Self {
        self.max_wait = wait;
        self
    }

    /// Sets [`max_body_bytes`](Self::max_body_bytes).
    #[must_use]
    pub fn with_max_body_bytes(mut self, bytes: usize) -> Self {
        self.max_body_bytes = bytes;
        self
    }

    /// Sets [`refresh_interval`](Self::refresh_interval).
    #[must_use]
    pub fn with_refresh_interval(mut self, every: Duration) -> Self {
        self.refresh_interval = every;
        self
    }

    /// Sets [`sealer`](Self::sealer).
    #[must_use]
    pub fn with_sealer(mut self, sealer: Sealer) -> Self {
        self.sealer = Some(Arc::new(sealer));
        self
    }
}

/// What the driver decided about a request: the Gate's
/// [`Outcome`] once its key fetches are done.
#[derive(Debug)]
pub enum Verdict {
    /// Let the request through.
    Allow {
        /// Who made the request; `None` on an anonymous route reached
        /// without a token.
        principal: Option<Box<Principal>>,
        /// The policy decision, for the audit log.
        decision: Decision,
    },
    /// Answer [`Rejection::to_response`].
    Deny(Rejection),
    /// The gate answers itself ([`Outcome::Preflight`]: an allowed CORS
    /// preflight, 204, or the RFC 9728 metadata document, 200): send this
    /// response, do not call the service.
    Preflight(http::Response<Vec<u8>>),
}

/// A pause between two looks at a fetch the Gate says is in flight but
/// this process does not run (it wakes early when one of ours ends).
const IN_FLIGHT_PAUSE: Duration = Duration::from_millis(20);

/// How long past the fetch timeout a waiter waits for the fetch task to
/// report (it always does, by its timeout or its drop guard).
const REPORT_GRACE: Duration = Duration::from_secs(1);

/// Runs the Gate with its key fetches: the I/O half of
/// [`Gate::check`](crate::gate::Gate::check). Cheap to clone (one `Arc`);
/// share one per Gate across the process.
#[derive(Clone)]
pub struct KeyDriver {
    inner: Arc<Inner>,
}

impl fmt::Debug for KeyDriver {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("KeyDriver")
            .field("options", &self.inner.options)
            .field("stats", &self.stats())
            .finish_non_exhaustive()
    }
}

struct Inner {
    gate: Arc<Gate>,
    client: Arc<dyn HttpClient>,
    clock: Arc<dyn Clock>,
    options: DriverOptions,
    /// The fetches running in this process, by (issuer, URL), and for an
    /// introspection (issuer, URL and token hash).
    flights: Mutex<HashMap<(String, String), Arc<Flight>>>,
    /// Flight ids, so that a finished flight removes only its own entry.
    next_flight: AtomicU64,
    /// Bumped each time a fetch ends (after the Gate has its answer).
    completed: AtomicU64,
    /// Woken when a fetch starts or ends.
    changed: Notify,
    counters: Counters,
    /// Refresh tasks running ([`KeyDriver::spawn_refresh`]).
    refresh_tasks: AtomicUsize,
    /// When the Gate was last polled on request (unix ms).
    last_poll_ms: AtomicI64,
}

struct Flight {
    id: u64,
    done: watch::Receiver<bool>,
}

impl KeyDriver {
    /// A driver for `gate` fetching with `client`, default options and the
    /// wall clock.
    pub fn new(gate: Arc<Gate>, client: impl HttpClient) -> Self {
        Self::with_options(gate, client, DriverOptions::default())
    }

    /// A driver with `options`.
    pub fn with_options(gate: Arc<Gate>, client: impl HttpClient, options: DriverOptions) -> Self {
        Self::from_parts(gate, Arc::new(client), Arc::new(SystemClock), options)
    }

    /// A driver with a shared client and a clock of your own (tests move
    /// time with one; production uses [`SystemClock`]).
    pub fn from_parts(
        gate: Arc<Gate>,
        client: Arc<dyn HttpClient>,
        clock: Arc<dyn Clock>,
        options: DriverOptions,
    ) -> Self {
        Self {
            inner: Arc::new(Inner {
                gate,
                client,
                clock,
                options,
                flights: Mutex::default(),
                next_flight: AtomicU64::new(0),
                completed: AtomicU64::new(0),
                changed: Notify::new(),
                counters: Counters::default(),
                refresh_tasks: AtomicUsize::new(0),
                last_poll_ms: AtomicI64::new(i64::MIN),
            }),
        }
    }

    /// The Gate.
    pub fn gate(&self) -> &Arc<Gate> {
        &self.inner.gate
    }

    /// The driver's clock, read now.
    pub fn now(&self) -> OffsetDateTime {
        self.inner.clock.now()
    }

    /// The options.
    pub fn options(&self) -> &DriverOptions {
        &self.inner.options
    }

    /// The counters so far. A fetch is counted when it ends, a moment
    /// after the Gate has its answer (and requests may already pass).
    pub fn stats(&self) -> Stats {
        self.inner
            .counters
            .snapshot(self.inner.gate.token_cache_stats())
    }

    /// `issuer`'s key state as text to persist where other processes read
    /// it (a file, Redis): sealed when [`DriverOptions::sealer`] is set,
    /// else plain JSON. `None` before the issuer's keys were found.
    ///
    /// # Errors
    /// [`DriverError`] naming the issuer when it is unknown or sealing
    /// fails.
    pub fn export_state(&self, issuer: &str) -> Result<Option<String>, DriverError> {
        let gate = &self.inner.gate;
        match &self.inner.options.sealer {
            Some(sealer) => gate
                .export_sealed(issuer, sealer)
                .map_err(|e| DriverError::fetch(e.to_string())),
            None => Ok(gate
                .export_state(issuer)
                .and_then(|state| serde_json::to_string(&state).ok())),
        }
    }

    /// Restores `issuer`'s key state from text written by
    /// [`export_state`](Self::export_state). With a sealer a plain or
    /// foreign blob is refused, nothing is applied, and the keys are
    /// fetched as if there were no state.
    ///
    /// # Errors
    /// [`DriverError`] saying why the state is refused (unknown issuer, not
    /// sealed, does not open, not a key state, another endpoint).
    pub fn import_state(&self, issuer: &str, text: &str) -> Result<(), DriverError> {
        let (gate, now) = (&self.inner.gate, self.now());
        let result = match &self.inner.options.sealer {
            Some(sealer) => gate.import_sealed(issuer, sealer, text, now),
            None => {
                let state = crate::json::from_document(text).map_err(|e| {
                    DriverError::fetch(format!("key state for `{issuer}` is not a key state: {e}"))
                })?;
                gate.import_state(issuer, &state, now)
            }
        };
        result.map_err(|e| DriverError::fetch(e.to_string()))
    }

    /// Fetches running now in this process (a gauge; 0 when idle).
    pub fn fetches_in_flight(&self) -> usize {
        self.inner
            .flights
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .len()
    }

    /// Checks a request with the Gate, fetching keys as it asks: at most
    /// one fetch per (issuer, URL) in flight in this process, bounded in
    /// time and rounds. Never fails: a request whose keys cannot be had is
    /// denied with the Gate's 503 (`Retry-After` while it backs off).
    pub async fn check(&self, parts: &Parts, facts: &RequestFacts<'_>) -> Verdict {
        self.check_inner(parts, facts, None).await
    }

    /// [`check`](Self::check) with the rate limits decided against
    /// `limits`, an external store awaited without blocking the thread
    /// (the Gate's own store is not used): the Gate's
    /// [`check_staged`](crate::gate::Gate::check_staged) /
    /// [`finish_limits`](crate::gate::Gate::finish_limits) pair. A store
    /// failure (down, too slow) gives the Gate's configured answer: 503,
    /// or an unlimited pass with `limit_fail_open`; with the `tracing`
    /// feature it is logged as a `warn` event (`edge_auth::limit`).
    pub async fn check_with_limits(
        &self,
        parts: &Parts,
        facts: &RequestFacts<'_>,
        limits: &dyn AsyncLimitStore,
    ) -> Verdict {
        self.check_inner(parts, facts, Some(limits)).await
    }

    async fn check_inner(
        &self,
        parts: &Parts,
        facts: &RequestFacts<'_>,
        limits: Option<&dyn AsyncLimitStore>,
    ) -> Verdict {
        #[cfg(feature = "tracing")]
        let span = tracing::debug_span!(
            "edge_auth.check",
            outcome = tracing::field::Empty,
            issuer = tracing::field::Empty,
            rule = tracing::field::Empty,
            reason = tracing::field::Empty,
            fetch_rounds = tracing::field::Empty,
            duration_us = tracing::field::Empty,
        );
        #[cfg(feature = "tracing")]
        let started = Instant::now();
        let (verdict, rounds) = if tokio::runtime::Handle::try_current().is_ok() {
            // One clock read serves the poll and the first check.
            let now = self.inner.clock.now();
            self.poll_on_request(now);
            self.run_checks(parts, facts, limits, now).await
        } else {
            let reason = DriverError::no_runtime().to_string();
            (Verdict::Deny(Rejection::unavailable(reason)), 0)
        };
        match &verdict {
            Verdict::Allow { .. } => self.inner.counters.allowed(),
            Verdict::Deny(rejection) => self.inner.counters.denied(rejection),
            // Answered without a token: neither allowed nor denied traffic.
            Verdict::Preflight(_) => {}
        }
        #[cfg(feature = "tracing")]
        trace_verdict(&span, &verdict, rounds, started.elapsed());
        let _ = rounds;
        verdict
    }

    /// One check of the Gate: [`Gate::check`], or with an external limit
    /// store, [`Gate::check_staged`] and the store awaited.
    async fn gate_check(
        &self,
        parts: &Parts,
        facts: &RequestFacts<'_>,
        limits: Option<&dyn AsyncLimitStore>,
        now: OffsetDateTime,
    ) -> Outcome {
        let gate = &self.inner.gate;
        let Some(store) = limits else {
            return gate.check(parts, facts, now);
        };
        match gate.check_staged(parts, facts, now) {
            Staged::Done(outcome) => outcome,
            Staged::Limits(pending) => {
                let answers = store.check_all(pending.calls(), now).await;
                #[cfg(feature = "tracing")]
                for (call, answer) in pending.calls().iter().zip(&answers) {
                    if let Err(error) = answer {
                        tracing::warn!(
                            target: "edge_auth::limit",
                            limit = call.id(),
                            rule = pending.decision().rule_id.as_deref().unwrap_or_default(),
                            %error,
                            "rate-limit store failed; the gate fails open or closed as configured"
                        );
                    }
                }
                gate.finish_limits(pending, answers, parts, facts)
            }
        }
    }

    async fn run_checks(
        &self,
        parts: &Parts,
        facts: &RequestFacts<'_>,
        limits: Option<&dyn AsyncLimitStore>,
        now: OffsetDateTime,
    ) -> (Verdict, usize) {
        let inner = &self.inner;
        // The request's wait budget starts when it first needs keys (the
        // clock is not read on the usual path, where keys are at hand).
        let mut deadline = None;
        let mut rounds = 0;
        let mut now = Some(now);
        loop {
            // Read before check(): a fetch that ends between the two is
            // then seen, and the request checks again at once.
            let seen = inner.completed.load(Ordering::SeqCst);
            let at = now.take().unwrap_or_else(|| inner.clock.now());
            let plan = match self.gate_check(parts, facts, limits, at).await {
                Outcome::Allow {
                    principal,
                    decision,
                } => {
                    return (
                        Verdict::Allow {
                            principal,
                            decision,
                        },
                        rounds,
                    );
                }
                Outcome::Deny(rejection) => return (Verdict::Deny(rejection), rounds),
                Outcome::Preflight(response) => return (Verdict::Preflight(response), rounds),
                Outcome::FetchKeys(plan) => plan,
            };
            let deadline = *deadline.get_or_insert_with(|| Instant::now() + inner.options.max_wait);
            if !plan.is_in_flight() {
                // The Gate handed this fetch to us: send it, or report it
                // failed, never leave it dangling.
                if rounds >= inner.options.max_fetch_rounds {
                    inner.gate.apply_fetch_failure(
                        &plan,
                        "too many key fetch rounds for one request",
                        inner.clock.now(),
                    );
                    return (self.last_check(parts, facts, limits).await, rounds);
                }
                rounds += 1;
                let flight = self.start(plan, false);
                self.wait(&flight).await;
                continue;
            }
            if let Some(flight) = self.flight_for(&plan) {
                if rounds >= inner.options.max_fetch_rounds {
                    return (unavailable(), rounds);
                }
                rounds += 1;
                inner.counters.joined();
                self.wait(&flight).await;
                continue;
            }
            // In flight, but not here: another process' fetch, a fetch
            // that just ended, or one about to be registered. Wait for a
            // change, briefly and within the request's budget.
            let now = Instant::now();
            if now >= deadline {
                return (unavailable(), rounds);
            }
            let notified = inner.changed.notified();
            tokio::pin!(notified);
            notified.as_mut().enable();
            if inner.completed.load(Ordering::SeqCst) != seen || self.flight_for(&plan).is_some() {
                continue;
            }
            let pause = IN_FLIGHT_PAUSE.min(deadline - now);
            let _ = tokio::time::timeout(pause, notified).await;
        }
    }

    /// The check after a request's fetch rounds ran out and its last plan
    /// was reported failed: the Gate's own answer (503 with `Retry-After`
    /// while it backs off), or the driver's 503 if it still wants keys.
    async fn last_check(
        &self,
        parts: &Parts,
        facts: &RequestFacts<'_>,
        limits: Option<&dyn AsyncLimitStore>,
    ) -> Verdict {
        let now = self.inner.clock.now();
        match self.gate_check(parts, facts, limits, now).await {
            Outcome::Allow {
                principal,
                decision,
            } => Verdict::Allow {
                principal,
                decision,
            },
            Outcome::Deny(rejection) => Verdict::Deny(rejection),
            Outcome::Preflight(response) => Verdict::Preflight(response),
            Outcome::FetchKeys(plan) => {
                if !plan.is_in_flight() {
                    self.inner.gate.apply_fetch_failure(
                        &plan,
                        "too many key fetch rounds for one request",
                        self.inner.clock.now(),
                    );
                }
                unavailable()
            }
        }
    }

    /// Runs the fetches the Gate's [`poll`](crate::gate::Gate::poll) hands
    /// out now (refresh-ahead, retries, discovery refresh) and waits for
    /// them; returns how many there were. Call it from your own timer when
    /// you do not use [`spawn_refresh`](Self::spawn_refresh).
    ///
    /// # Errors
    /// [`DriverError`] when called outside a tokio runtime.
    pub async fn refresh(&self) -> Result<usize, DriverError> {
        tokio::runtime::Handle::try_current().map_err(|_| DriverError::no_runtime())?;
        let flights: Vec<Arc<Flight>> = self
            .inner
            .gate
            .poll(self.inner.clock.now())
            .into_iter()
            .map(|plan| self.start(plan, true))
            .collect();
        for flight in &flights {
            self.wait(flight).await;
        }
        Ok(flights.len())
    }

    /// Starts a task on the current tokio runtime that runs
    /// [`refresh`](Self::refresh) every
    /// [`refresh_interval`](DriverOptions::refresh_interval), so keys are
    /// renewed before they expire rather than on a request's time. While
    /// it runs, requests no longer poll. Dropping the handle stops it.
    ///
    /// # Errors
    /// [`DriverError`] when called outside a tokio runtime.
    pub fn spawn_refresh(&self) -> Result<RefreshTask, DriverError> {
        let runtime =
            tokio::runtime::Handle::try_current().map_err(|_| DriverError::no_runtime())?;
        self.inner.refresh_tasks.fetch_add(1, Ordering::SeqCst);
        let driver = self.clone();
        let every = self
            .inner
            .options
            .refresh_interval
            .max(Duration::from_millis(1));
        let task = runtime.spawn(async move {
            let mut ticker = tokio::time::interval(every);
            ticker.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
            loop {
                ticker.tick().await;
                let _ = driver.refresh().await;
            }
        });
        Ok(RefreshTask {
            task,
            inner: Arc::clone(&self.inner),
        })
    }

    /// Without a refresh task, a request starts the Gate's due fetches
    /// (without waiting for them) at most once per refresh interval.
    fn poll_on_request(&self, now: OffsetDateTime) {
        let inner = &self.inner;
        if inner.refresh_tasks.load(Ordering::SeqCst) > 0 {
            return;
        }
        let now_ms = i64::try_from(now.unix_timestamp_nanos() / 1_000_000).unwrap_or(i64::MAX);
        let every = i64::try_from(inner.options.refresh_interval.as_millis()).unwrap_or(i64::MAX);
        let last = inner.last_poll_ms.load(Ordering::SeqCst);
        if now_ms.saturating_sub(last) < every
            || inner
                .last_poll_ms
                .compare_exchange(last, now_ms, Ordering::SeqCst, Ordering::SeqCst)
                .is_err()
        {
            return;
        }
        for plan in inner.gate.poll(now) {
            drop(self.start(plan, true));
        }
    }

    fn flight_for(&self, plan: &FetchPlan) -> Option<Arc<Flight>> {
        let flights = self
            .inner
            .flights
            .lock()
            .unwrap_or_else(PoisonError::into_inner);
        flights
            .get(&(plan.issuer().to_owned(), plan.flight_key()))
            .cloned()
    }

    /// Registers `plan`'s fetch and runs it on its own task, so a request
    /// that goes away cannot cancel it halfway.
    fn start(&self, plan: FetchPlan, refresh: bool) -> Arc<Flight> {
        let inner = &self.inner;
        let (report, done) = watch::channel(false);
        let flight = Arc::new(Flight {
            id: inner.next_flight.fetch_add(1, Ordering::Relaxed),
            done,
        });
        let key = (plan.issuer().to_owned(), plan.flight_key());
        inner
            .flights
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .insert(key.clone(), Arc::clone(&flight));
        inner.counters.started(plan.kind(), plan.reason(), refresh);
        #[cfg(feature = "tracing")]
        tracing::debug!(
            issuer = plan.issuer(),
            url = plan.url(),
            kind = ?plan.kind(),
            reason = ?plan.reason(),
            refresh,
            "edge_auth key fetch started"
        );
        inner.changed.notify_waiters();
        let guard = FlightGuard {
            inner: Arc::clone(inner),
            key,
            id: flight.id,
            plan,
            report,
            ended: false,
        };
        if let Ok(runtime) = tokio::runtime::Handle::try_current() {
            runtime.spawn(guard.run());
        }
        // Outside a runtime the guard is dropped here, which records the
        // fetch as failed: no plan is left dangling.
        flight
    }

    /// Waits until `flight` has reported (or gave up: its task always
    /// reports within the fetch timeout, this is a second bound).
    async fn wait(&self, flight: &Flight) {
        let mut done = flight.done.clone();
        let bound = self.inner.options.fetch_timeout + REPORT_GRACE;
        let _ = tokio::time::timeout(bound, done.wait_for(|ended| *ended)).await;
    }
}

/// A background refresh task ([`KeyDriver::spawn_refresh`]); dropping it
/// stops the task.
#[derive(Debug)]
pub struct RefreshTask {
    task: tokio::task::JoinHandle<()>,
    inner: Arc<Inner>,
}

impl fmt::Debug for Inner {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("KeyDriver").finish_non_exhaustive()
    }
}

impl Drop for RefreshTask {
    fn drop(&mut self) {
        self.task.abort();
        self.inner.refresh_tasks.fetch_sub(1, Ordering::SeqCst);
    }
}

/// One fetch: sends it, feeds the answer to the Gate, reports to the
/// waiters. Dropped without having reported (the client panicked, the
/// task was cancelled, no runtime), it records the fetch as failed with
/// the Gate so that nothing waits for it.
struct FlightGuard {
    inner: Arc<Inner>,
    key: (String, String),
    id: u64,
    plan: FetchPlan,
    report: watch::Sender<bool>,
    ended: bool,
}

impl FlightGuard {
    async fn run(mut self) {
        let end = self.fetch_and_apply().await;
        self.finish(end);
    }

    async fn fetch_and_apply(&self) -> FetchEnd {
        let inner = &self.inner;
        let plan = &self.plan;
        let mut headers = plan.headers().clone();
        headers
            .entry(http::header::ACCEPT)
            .or_insert(http::HeaderValue::from_static("application/json"));
        let request = FetchRequest {
            url: plan.url().to_owned(),
            headers,
            max_body_bytes: inner.options.max_body_bytes,
        };
        let timeout = inner.options.fetch_timeout;
        #[cfg(feature = "introspect")]
        let send = match plan.introspection() {
            Some(introspection) => inner
                .client
                .post(introspection.to_request(), inner.options.max_body_bytes),
            None => inner.client.get(request),
        };
        #[cfg(not(feature = "introspect"))]
        let send = inner.client.get(request);
        let result = tokio::time::timeout(timeout, send).await;
        let now = inner.clock.now();
        let failure = match result {
            Ok(Ok(response)) if response.body.len() <= inner.options.max_body_bytes => {
                return match inner.gate.apply_fetch_response(
                    plan,
                    response.status,
                    &response.headers,
                    &response.body,
                    now,
                ) {
                    Ok(()) if response.status == StatusCode::NOT_MODIFIED => FetchEnd::NotModified,
                    Ok(()) => FetchEnd::Success,
                    Err(_e) => {
                        #[cfg(feature = "tracing")]
                        tracing::warn!(
                            issuer = plan.issuer(),
                            url = plan.url(),
                            status = response.status.as_u16(),
                            error = %_e,
                            "edge_auth key fetch refused"
                        );
                        FetchEnd::Failed
                    }
                };
            }
            Ok(Ok(_)) => (
                DriverError::body_too_large(inner.options.max_body_bytes).to_string(),
                FetchEnd::Failed,
            ),
            Ok(Err(e)) => (e.to_string(), FetchEnd::Failed),
            Err(_) => (
                format!("no answer within {} ms", timeout.as_millis()),
                FetchEnd::TimedOut,
            ),
        };
        let (reason, end) = failure;
        #[cfg(feature = "tracing")]
        tracing::warn!(
            issuer = plan.issuer(),
            url = plan.url(),
            reason = reason.as_str(),
            "edge_auth key fetch failed"
        );
        inner.gate.apply_fetch_failure(plan, &reason, now);
        end
    }

    fn finish(&mut self, end: FetchEnd) {
        self.ended = true;
        let inner = &self.inner;
        inner.counters.ended(self.plan.kind(), end);
        #[cfg(feature = "tracing")]
        if matches!(end, FetchEnd::Success | FetchEnd::NotModified) {
            tracing::debug!(
                issuer = self.plan.issuer(),
                url = self.plan.url(),
                not_modified = end == FetchEnd::NotModified,
                "edge_auth key fetch applied"
            );
        }
        {
            let mut flights = inner.flights.lock().unwrap_or_else(PoisonError::into_inner);
            if flights.get(&self.key).is_some_and(|f| f.id == self.id) {
                flights.remove(&self.key);
            }
        }
        inner.completed.fetch_add(1, Ordering::SeqCst);
        self.report.send_replace(true);
        inner.changed.notify_waiters();
    }
}

impl Drop for FlightGuard {
    fn drop(&mut self) {
        if self.ended {
            return;
        }
        #[cfg(feature = "tracing")]
        tracing::warn!(
            issuer = self.plan.issuer(),
            url = self.plan.url(),
            "edge_auth key fetch abandoned (the client panicked or its task was cancelled)"
        );
        let now = self.inner.clock.now();
        self.inner
            .gate
            .apply_fetch_failure(&self.plan, "key fetch abandoned", now);
        self.finish(FetchEnd::Abandoned);
    }
}

/// The driver's own 503, for a request that ran out of fetch rounds or of
/// time waiting for a fetch it does not run.
fn unavailable() -> Verdict {
    Verdict::Deny(
        Rejection::unavailable("the issuer's keys did not arrive in time")
            .with_retry_after(time::Duration::seconds(1)),
    )
}

#[cfg(feature = "tracing")]
fn trace_verdict(span: &tracing::Span, verdict: &Verdict, rounds: usize, took: Duration) {
    span.record("fetch_rounds", rounds);
    span.record(
        "duration_us",
        u64::try_from(took.as_micros()).unwrap_or(u64::MAX),
    );
    match verdict {
        Verdict::Allow {
            principal,
            decision,
        } => {
            span.record("outcome", "allow");
            if let Some(issuer) = principal.as_ref().and_then(|p| p.issuer.as_deref()) {
                span.record("issuer", issuer);
            }
            if let Some(rule) = decision.rule_id.as_deref() {
                span.record("rule", rule);
            }
        }
        Verdict::Deny(rejection) => {
            span.record("outcome", "deny");
            span.record("reason", super::stats::reason_class(rejection));
            if let Some(rule) = rejection.rule() {
                span.record("rule", rule);
            }
        }
        Verdict::Preflight(_) => {
            span.record("outcome", "preflight");
        }
    }
    let _entered = span.enter();
    tracing::debug!("edge_auth check done");
}
