//! [`WorkerGate`]: the runtime-independent half of the Worker driver. It
//! decides each step of the check → fetch → apply → check loop (restore
//! from KV first, a bounded number of fetches, then 503) and keeps the
//! bookkeeping of the key state shared through KV (write only on change).

use std::collections::HashMap;
use std::net::IpAddr;
use std::sync::{Arc, Mutex, MutexGuard, PoisonError};

use http::request::Parts;
use http::{HeaderMap, StatusCode};
use time::OffsetDateTime;

use super::WorkerError;
use crate::Principal;
use crate::gate::{FetchKind, FetchPlan, Gate, GateError, Outcome};
use crate::jwk::cache::CacheState;
use crate::policy::{Decision, RequestFacts};
use crate::response::Rejection;

/// How the Worker driver runs a [`Gate`].
#[derive(Debug, Clone)]
#[non_exhaustive]
pub struct WorkerOptions {
    /// The KV namespace binding where each issuer's key state is shared
    /// across isolates (keys from [`kv_key`]). `None`: no KV, every isolate
    /// fetches for itself.
    pub kv_binding: Option<String>,
    /// The most key fetches one request may wait for (default 2: a
    /// discovery document and a key set). Past it the request gets 503.
    pub max_fetches: usize,
}

impl Default for WorkerOptions {
    fn default() -> Self {
        Self {
            kv_binding: Some(super::DEFAULT_KV_BINDING.to_owned()),
            max_fetches: 2,
        }
    }
}

impl WorkerOptions {
    /// Sets the KV binding (`None`: no KV).
    #[must_use]
    pub fn with_kv_binding(mut self, binding: Option<String>) -> Self {
        self.kv_binding = binding;
        self
    }

    /// Sets the most fetches one request may wait for.
    #[must_use]
    pub fn with_max_fetches(mut self, max_fetches: usize) -> Self {
        self.max_fetches = max_fetches;
        self
    }
}

/// The KV key that holds `issuer`'s key state.
pub fn kv_key(issuer: &str) -> String {
    format!("jwks:{issuer}")
}

/// Converts the Workers clock (`worker::Date::now().as_millis()`) into the
/// `now` every check takes.
///
/// # Errors
/// [`WorkerError::Clock`] when the reading is past what `time` represents.
pub fn time_from_unix_millis(unix_millis: u64) -> Result<OffsetDateTime, WorkerError> {
    let nanos = i128::from(unix_millis) * 1_000_000;
    OffsetDateTime::from_unix_timestamp_nanos(nanos).map_err(|_| WorkerError::Clock { unix_millis })
}

/// What the driver does next for a request.
#[derive(Debug)]
pub enum Step {
    /// Let the request through.
    Allow {
        /// Who made it (`None`: an anonymous route reached without a token).
        principal: Option<Box<Principal>>,
        /// The policy decision, for the audit log.
        decision: Decision,
    },
    /// Answer with this rejection.
    Deny(Rejection),
    /// An allowed CORS preflight (policy `cors` settings): answer with this
    /// response; it never goes to the origin.
    Preflight(http::Response<()>),
    /// Read the issuer's state from KV (key [`kv_key`]), give it to
    /// [`WorkerGate::restore`], then step again. Asked once per issuer and
    /// isolate, before its first fetch.
    Restore {
        /// The issuer, as configured.
        issuer: String,
    },
    /// GET the plan's URL, give the answer to [`WorkerGate::apply_response`]
    /// (or the failure to [`WorkerGate::apply_failure`]), then step again.
    Fetch(FetchPlan),
}

/// Per issuer: whether KV was asked yet, and the state text last read from
/// or written to KV (a put only when it changed).
#[derive(Debug, Default)]
struct Book {
    asked_kv: bool,
    saved: Option<String>,
}

#[derive(Debug)]
struct Inner {
    gate: Gate,
    options: WorkerOptions,
    books: Mutex<HashMap<String, Book>>,
}

/// A [`Gate`] with the Worker driver's state: cheap to clone (an `Arc`),
/// built once per isolate and shared by its requests.
#[derive(Debug, Clone)]
pub struct WorkerGate {
    inner: Arc<Inner>,
}

impl WorkerGate {
    /// Wraps a gate.
    pub fn new(gate: Gate, options: WorkerOptions) -> Self {
        Self {
            inner: Arc::new(Inner {
                gate,
                options,
                books: Mutex::new(HashMap::new()),
            }),
        }
    }

    /// The gate.
    pub fn gate(&self) -> &Gate {
        &self.inner.gate
    }

    /// The options.
    pub fn options(&self) -> &WorkerOptions {
        &self.inner.options
    }

    /// The most steps one request can take: each issuer's KV restore, the
    /// fetches, and the final answer. A loop over [`step`](Self::step)
    /// bounded by this always ends.
    pub fn max_steps(&self) -> usize {
        self.inner
            .gate
            .issuers()
            .count()
            .saturating_add(self.inner.options.max_fetches)
            .saturating_add(1)
    }

    fn books(&self) -> MutexGuard<'_, HashMap<String, Book>> {
        // Every update replaces a whole value: a poisoned lock holds
        // nothing half-written.
        self.inner
            .books
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
    }

    /// Checks a request: the client IP from `CF-Connecting-IP`, the country
    /// from `country` (the Worker's `request.cf.country`), else from
    /// `CF-IPCountry`.
    pub fn check(&self, parts: &Parts, country: Option<&str>, now: OffsetDateTime) -> Outcome {
        let header = |name: &str| {
            parts
                .headers
                .get(name)
                .and_then(|v| v.to_str().ok())
                .map(str::trim)
        };
        let mut facts = RequestFacts::from_parts(parts);
        if let Some(ip) = header("cf-connecting-ip").and_then(|v| v.parse::<IpAddr>().ok()) {
            facts = facts.with_client_ip(ip);
        }
        // "XX" and "T1" are Cloudflare's unknown and Tor markers, passed on as
        // they are: a policy's country list decides what they mean.
        if let Some(country) = country.or_else(|| header("cf-ipcountry")) {
            facts = facts.with_country(country);
        }
        self.inner.gate.check(parts, &facts, now)
    }

    /// The next step for a request that already caused `fetches` fetches:
    /// [`check`](Self::check), and when keys are missing, KV first (once
    /// per issuer), then a fetch, and 503 once `max_fetches` is reached.
    pub fn step(
        &self,
        parts: &Parts,
        country: Option<&str>,
        fetches: usize,
        now: OffsetDateTime,
    ) -> Step {
        let plan = match self.check(parts, country, now) {
            Outcome::Allow {
                principal,
                decision,
            } => {
                return Step::Allow {
                    principal,
                    decision,
                };
            }
            Outcome::Deny(rejection) => return Step::Deny(rejection),
            Outcome::Preflight(response) => return Step::Preflight(response),
            Outcome::FetchKeys(plan) => plan,
        };
        if self.inner.options.kv_binding.is_some() {
            let mut books = self.books();
            let book = books.entry(plan.issuer().to_owned()).or_default();
            if !book.asked_kv {
                book.asked_kv = true;
                return Step::Restore {
                    issuer: plan.issuer().to_owned(),
                };
            }
        }
        if fetches >= self.inner.options.max_fetches {
            return Step::Deny(Rejection::unavailable("the issuer's keys are unavailable"));
        }
        Step::Fetch(plan)
    }

    /// Restores `issuer`'s key state as read from KV.
    ///
    /// # Errors
    /// [`WorkerError::State`] when the text is not a state or the Gate
    /// refuses it (another issuer or endpoint, too old, corrupt): log it,
    /// the Gate then fetches the keys itself.
    pub fn restore(
        &self,
        issuer: &str,
        saved: &str,
        now: OffsetDateTime,
    ) -> Result<(), WorkerError> {
        let refused = |reason: String| WorkerError::State {
            issuer: issuer.to_owned(),
            reason,
        };
        let state: CacheState =
            serde_json::from_str(saved).map_err(|e| refused(format!("not a key state: {e}")))?;
        self.inner
            .gate
            .import_state(issuer, &state, now)
            .map_err(|e| refused(e.to_string()))?;
        self.books().entry(issuer.to_owned()).or_default().saved = Some(saved.to_owned());
        Ok(())
    }

    /// Applies a fetch response. Returns the key state to put to KV
    /// (key [`kv_key`] of [`FetchPlan::issuer`]) when a key set fetch
    /// changed it; `None` otherwise, always for a discovery document (a
    /// state without keys would overwrite another isolate's good one).
    ///
    /// # Errors
    /// The Gate's refusal of the response, already recorded by the Gate:
    /// only log it.
    pub fn apply_response(
        &self,
        plan: &FetchPlan,
        status: StatusCode,
        headers: &HeaderMap,
        body: &[u8],
        now: OffsetDateTime,
    ) -> Result<Option<String>, GateError> {
        self.inner
            .gate
            .apply_fetch_response(plan, status, headers, body, now)?;
        if plan.kind() != FetchKind::Jwks {
            return Ok(None);
        }
        let Some(state) = self.inner.gate.export_state(plan.issuer()) else {
            return Ok(None);
        };
        let Ok(text) = serde_json::to_string(&state) else {
            return Ok(None);
        };
        let mut books = self.books();
        let book = books.entry(plan.issuer().to_owned()).or_default();
        if book.saved.as_deref() == Some(text.as_str()) {
            return Ok(None);
        }
        book.saved = Some(text.clone());
        Ok(Some(text))
    }

    /// Records a failed fetch (network error, timeout) with the Gate.
    pub fn apply_failure(&self, plan: &FetchPlan, reason: &str, now: OffsetDateTime) {
        self.inner.gate.apply_fetch_failure(plan, reason, now);
    }

    /// The fetches to run after the response (`waitUntil`) so no request
    /// waits for them: refresh-ahead, retries, the periodic discovery
    /// refresh ([`Gate::poll`]). Empty until this isolate holds a key
    /// state (restored from KV or fetched): a cold isolate fetches on the
    /// request path, and a request without a valid token never sets off a
    /// fetch.
    pub fn background_fetches(&self, now: OffsetDateTime) -> Vec<FetchPlan> {
        if !self.books().values().any(|b| b.saved.is_some()) {
            return Vec::new();
        }
        self.inner.gate.poll(now)
    }
}
