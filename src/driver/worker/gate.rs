//! [`WorkerGate`]: the runtime-independent half of the Worker driver. It
//! decides each step of the check → fetch → apply → check loop (restore
//! from KV first, a bounded number of fetches, then 503) and keeps the
//! bookkeeping of the key state shared through KV (write only on change),
//! sealed when a [`Sealer`] is configured, and keeps one key fetch in
//! flight per issuer in the isolate (single flight).

use std::collections::HashMap;
use std::net::IpAddr;
use std::sync::{Arc, Mutex, MutexGuard, PoisonError};

use http::request::Parts;
use http::{HeaderMap, StatusCode};
use time::OffsetDateTime;

use super::WorkerError;
use super::flight::{Flight, FlightWait, Flights};
use crate::Principal;
use crate::gate::{FetchKind, FetchPlan, Gate, GateError, Outcome, PendingLimits, Staged};
use crate::jwk::cache::CacheState;
use crate::limit::{Decision as LimitDecision, LimitError};
use crate::policy::{Decision, RequestFacts};
use crate::response::Rejection;
use crate::seal::Sealer;

/// The client certificate of a request from Cloudflare's
/// `request.cf.tlsClientAuth` (mTLS / API Shield), for certificate-bound
/// tokens (RFC 8705): only when `certPresented` is `"1"` and `certVerified`
/// is `"SUCCESS"` (the certificate chains to a CA of the zone), from the
/// hex `certFingerprintSHA256`. `None` otherwise, or when the fingerprint
/// is not 64 hex digits: a certificate-bound token is then refused.
pub fn client_cert_from_cf(
    cert_presented: &str,
    cert_verified: &str,
    fingerprint_sha256: &str,
) -> Option<crate::mtls::ClientCert> {
    if cert_presented != "1" || cert_verified != "SUCCESS" {
        return None;
    }
    crate::mtls::ClientCert::from_sha256_hex(fingerprint_sha256).ok()
}

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
    /// Seals the key state written to KV and the Cache API, and refuses
    /// any state read back that is not sealed by it (default `None`: plain
    /// JSON). Set from the Worker secret
    /// [`SEAL_SECRET_VAR`](super::SEAL_SECRET_VAR) by
    /// [`Settings`](super::Settings). Whoever can write the KV namespace
    /// but does not hold the secret can then neither plant a key nor read
    /// the state; whoever holds the secret or can change the Worker's code
    /// is not kept out (see [`crate::seal`]).
    pub sealer: Option<Arc<Sealer>>,
    /// Also keeps each issuer's key state in the Cache API (key
    /// [`cache_key`]), read before KV: cheaper and closer (per data
    /// center), while KV stays the shared copy (default `false`).
    pub cache_api: bool,
    /// The Durable Object namespace binding that holds rate-limit state
    /// for every isolate (one object per key shard; see
    /// [`durable`](super::durable)). `None` (default): each isolate limits
    /// in its own memory, so N isolates admit up to N times a limit.
    pub limits_binding: Option<String>,
}

impl Default for WorkerOptions {
    fn default() -> Self {
        Self {
            kv_binding: Some(super::DEFAULT_KV_BINDING.to_owned()),
            max_fetches: 2,
            sealer: None,
            cache_api: false,
            limits_binding: None,
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

    /// Seals the key state with `sealer` (see [`sealer`](Self::sealer)).
    #[must_use]
    pub fn with_sealer(mut self, sealer: Sealer) -> Self {
        self.sealer = Some(Arc::new(sealer));
        self
    }

    /// Decides rate limits in the Durable Object namespace `binding`.
    #[must_use]
    pub fn with_limits_binding(mut self, binding: Option<String>) -> Self {
        self.limits_binding = binding;
        self
    }

    /// Keeps the key state in the Cache API too.
    #[must_use]
    pub fn with_cache_api(mut self, cache_api: bool) -> Self {
        self.cache_api = cache_api;
        self
    }
}

/// The KV key that holds `issuer`'s key state.
pub fn kv_key(issuer: &str) -> String {
    format!("jwks:{issuer}")
}

/// The Cache API key (a URL that is never fetched) that holds `issuer`'s
/// key state.
pub fn cache_key(issuer: &str) -> String {
    let issuer: String = url::form_urlencoded::byte_serialize(issuer.as_bytes()).collect();
    format!("https://edge-auth.invalid/issuer-keys/{issuer}")
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
    /// The gate answers itself (an allowed CORS preflight, or the RFC 9728
    /// metadata document): answer with this response; it never goes to the
    /// origin.
    Preflight(http::Response<Vec<u8>>),
    /// Read the issuer's state from the Cache API (key [`cache_key`], when
    /// [`WorkerOptions::cache_api`]) or KV (key [`kv_key`]), give it to
    /// [`WorkerGate::restore`], then drop the flight and step again. Asked
    /// once per issuer and isolate, before its first fetch.
    Restore {
        /// The issuer, as configured.
        issuer: String,
        /// This request leads the issuer's key work until it drops this.
        flight: Flight,
    },
    /// GET the plan's URL, give the answer to [`WorkerGate::apply_response`]
    /// (or the failure to [`WorkerGate::apply_failure`]), then drop the
    /// flight and step again.
    Fetch {
        /// What to fetch.
        plan: FetchPlan,
        /// This request leads the issuer's key work until it drops this.
        flight: Flight,
    },
    /// Another request of this isolate is reading or fetching the issuer's
    /// keys: await this, then step again (single flight: concurrent
    /// requests on a cold isolate make one fetch).
    Wait(FlightWait),
    /// The policy allows the request under rate limits kept in Durable
    /// Objects ([`WorkerOptions::limits_binding`]): decide the calls there
    /// and give the answers to [`WorkerGate::finish_limits`].
    Limits(PendingLimits),
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
    flights: Flights,
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
                flights: Flights::default(),
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

    /// The most steps one request takes: each issuer's KV restore and
    /// the fetches, as many waits for other requests' flights, and the
    /// final answer. A loop over [`step`](Self::step) bounded by this
    /// always ends (past it, answer 503).
    pub fn max_steps(&self) -> usize {
        self.inner
            .gate
            .issuers()
            .count()
            .saturating_add(self.inner.options.max_fetches)
            .saturating_mul(2)
            .saturating_add(1)
    }

    /// Whether key state is kept outside the isolate (KV or Cache API).
    fn persists(&self) -> bool {
        self.inner.options.kv_binding.is_some() || self.inner.options.cache_api
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
        self.inner
            .gate
            .check(parts, &Self::facts(parts, country), now)
    }

    /// The request's facts: the client IP from `CF-Connecting-IP`, the
    /// country from `country`, else from `CF-IPCountry`.
    fn facts<'a>(parts: &'a Parts, country: Option<&'a str>) -> RequestFacts<'a> {
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
        // A certificate already read, put there by whoever drives this
        // gate; a client cannot send extensions. The runtime instead puts a
        // lazy `CertSource` over `request.cf.tlsClientAuth`
        // ([`client_cert_from_cf`]), which the Gate reads only for a
        // certificate-bound token.
        if let Some(cert) = parts.extensions.get::<crate::mtls::ClientCert>() {
            facts = facts.with_client_cert(*cert);
        }
        facts
    }

    /// Concludes a [`Step::Limits`] with the store's answers (in the
    /// order of [`PendingLimits::calls`]): allow, 429 naming the limit, or
    /// 503 when the store failed (fail closed unless the policy's gate
    /// fails open).
    pub fn finish_limits(
        &self,
        pending: PendingLimits,
        answers: Vec<Result<LimitDecision, LimitError>>,
        parts: &Parts,
        country: Option<&str>,
    ) -> Step {
        let facts = Self::facts(parts, country);
        match self
            .inner
            .gate
            .finish_limits(pending, answers, parts, &facts)
        {
            Outcome::Allow {
                principal,
                decision,
            } => Step::Allow {
                principal,
                decision,
            },
            Outcome::Deny(rejection) => Step::Deny(rejection),
            Outcome::Preflight(response) => Step::Preflight(response),
            Outcome::FetchKeys(_) => {
                Step::Deny(Rejection::unavailable("the issuer's keys are unavailable"))
            }
        }
    }

    /// The next step for a request that already caused `fetches` fetches:
    /// [`check`](Self::check), and when keys are missing: wait when
    /// another request of the isolate is getting them, else the stored
    /// state first (once per issuer), then a fetch, and 503 once
    /// `max_fetches` is reached.
    pub fn step(
        &self,
        parts: &Parts,
        country: Option<&str>,
        fetches: usize,
        now: OffsetDateTime,
    ) -> Step {
        // Without `policy` there are no rate limits to stage: the staged
        // check (and the Durable Object path behind it) stays out.
        let outcome = if cfg!(feature = "policy") && self.inner.options.limits_binding.is_some() {
            match self
                .inner
                .gate
                .check_staged(parts, &Self::facts(parts, country), now)
            {
                Staged::Done(outcome) => outcome,
                Staged::Limits(pending) => return Step::Limits(pending),
            }
        } else {
            self.check(parts, country, now)
        };
        let plan = match outcome {
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
        let flights = &self.inner.flights;
        // An introspection flies per token (its hash), not per issuer, and
        // has no key state in KV to restore.
        let introspection = plan.kind() == FetchKind::Introspection;
        let name = if introspection {
            format!("{} {}", plan.issuer(), plan.flight_key())
        } else {
            plan.issuer().to_owned()
        };
        if let Some(wait) = flights.wait(&name) {
            return Step::Wait(wait);
        }
        if self.persists() && !introspection {
            let mut books = self.books();
            let book = books.entry(plan.issuer().to_owned()).or_default();
            if !book.asked_kv {
                book.asked_kv = true;
                return Step::Restore {
                    flight: flights.lead(plan.issuer()),
                    issuer: plan.issuer().to_owned(),
                };
            }
        }
        if fetches >= self.inner.options.max_fetches {
            return Step::Deny(Rejection::unavailable("the issuer's keys are unavailable"));
        }
        Step::Fetch {
            flight: flights.lead(&name),
            plan,
        }
    }

    /// The key state as this isolate holds it, as JSON: what is compared
    /// to decide whether to write (a sealed text differs at every seal).
    fn state_json(&self, issuer: &str) -> Option<String> {
        let state = self.inner.gate.export_state(issuer)?;
        serde_json::to_string(&state).ok()
    }

    /// Restores `issuer`'s key state as read from KV or the Cache API:
    /// with a sealer, only a state sealed for this issuer under one of its
    /// secrets; without, plain JSON.
    ///
    /// # Errors
    /// [`WorkerError::State`] when the text is not a state, is not sealed
    /// or does not open (with a sealer: a forged or foreign blob), or the
    /// Gate refuses it (another issuer or endpoint, too old, corrupt):
    /// nothing is applied; log it, the Gate then fetches the keys itself.
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
        let gate = &self.inner.gate;
        match &self.inner.options.sealer {
            Some(sealer) => gate.import_sealed(issuer, sealer, saved, now),
            None => {
                // The crate's one JSON reader (docs/adr/0002), as for
                // every document the Worker reads.
                let state: CacheState = crate::json::from_document(saved)
                    .map_err(|e| refused(format!("not a key state: {e}")))?;
                gate.import_state(issuer, &state, now)
            }
        }
        .map_err(|e| refused(e.to_string()))?;
        let json = self.state_json(issuer);
        self.books().entry(issuer.to_owned()).or_default().saved = json;
        Ok(())
    }

    /// Applies a fetch response. Returns the key state to put to KV
    /// (key [`kv_key`] of [`FetchPlan::issuer`]; sealed with a sealer) when
    /// a key set fetch changed it; `None` otherwise, always for a discovery
    /// document (a state without keys would overwrite another isolate's
    /// good one).
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
        let Some(json) = self.state_json(plan.issuer()) else {
            return Ok(None);
        };
        {
            let mut books = self.books();
            let book = books.entry(plan.issuer().to_owned()).or_default();
            if book.saved.as_deref() == Some(json.as_str()) {
                return Ok(None);
            }
            book.saved = Some(json.clone());
        }
        match &self.inner.options.sealer {
            Some(sealer) => self.inner.gate.export_sealed(plan.issuer(), sealer),
            None => Ok(Some(json)),
        }
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
