//! `IssuerKeys`: one issuer's keys as one sans-IO machine, the discovery
//! document (OpenID Connect Discovery 1.0 §4, refreshed periodically so a
//! moved `jwks_uri` is followed) and the key set cache ([`JwksCache`],
//! RFC 9111 freshness) behind one [`FetchPlan`] type.
//!
//! The machine never fetches: [`IssuerKeys::lookup`] and
//! [`IssuerKeys::poll`] hand out plans, the caller performs the GET and
//! feeds the answer to [`IssuerKeys::apply`] or
//! [`IssuerKeys::apply_failure`].
//!
//! ```
//! use edge_auth::jwk::{FetchKind, IssuerKeys, IssuerKeysConfig, KeyLookup};
//! use edge_auth::jwt::Algorithm;
//! use time::macros::datetime;
//!
//! let now = datetime!(2026-11-23 10:00:00 UTC);
//! let mut keys = IssuerKeys::from_discovery(
//!     "https://idp.example.com",
//!     "https://idp.example.com/.well-known/openid-configuration",
//!     IssuerKeysConfig::default(),
//! )?;
//! // Cold: the discovery document first.
//! let KeyLookup::Fetch(plan) = keys.lookup(Some("k1"), Algorithm::ES256, now) else {
//!     unreachable!()
//! };
//! assert_eq!(plan.kind(), FetchKind::Discovery);
//! let doc = br#"{"issuer":"https://idp.example.com","jwks_uri":"https://idp.example.com/jwks"}"#;
//! keys.apply(&plan, http::StatusCode::OK, &http::HeaderMap::new(), doc, now)?;
//! // Then the key set it names.
//! let KeyLookup::Fetch(plan) = keys.lookup(Some("k1"), Algorithm::ES256, now) else {
//!     unreachable!()
//! };
//! assert_eq!(plan.url(), "https://idp.example.com/jwks");
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! ```

use std::sync::Arc;

use crate::jose::Algorithm;
use http::{HeaderMap, StatusCode};
use time::{Duration, OffsetDateTime};

use super::KeySet;
use super::cache::{CacheConfig, CacheError, CacheState, JwksCache, Lookup, add};
use super::discovery::{DiscoveryError, DiscoveryOptions, ProviderMetadata, printable};
use super::plan::{FetchKind, FetchPlan, FetchReason};
use crate::seal::{PURPOSE_ISSUER_KEYS, SealError, Sealer};

/// How an issuer's keys are found, cached and refreshed.
#[derive(Debug, Clone)]
#[non_exhaustive]
pub struct IssuerKeysConfig {
    /// How the key set is cached and refreshed.
    pub cache: CacheConfig,
    /// What discovery documents must satisfy.
    pub discovery: DiscoveryOptions,
    /// How long a handed-out discovery fetch may stay unanswered before
    /// another is handed out (default 30 s, must not be negative).
    pub discovery_timeout: Duration,
    /// Delay before retrying a failed discovery fetch (default 30 s, must
    /// not be negative).
    pub discovery_retry: Duration,
    /// How often [`IssuerKeys::poll`] fetches the discovery document again
    /// once it has one (default 24 h, must be positive). Lookups never
    /// wait for this refresh.
    pub discovery_refresh: Duration,
}

impl Default for IssuerKeysConfig {
    fn default() -> Self {
        Self {
            cache: CacheConfig::default(),
            discovery: DiscoveryOptions::default(),
            discovery_timeout: Duration::seconds(30),
            discovery_retry: Duration::seconds(30),
            discovery_refresh: Duration::hours(24),
        }
    }
}

impl IssuerKeysConfig {
    /// Sets the cache configuration.
    #[must_use]
    pub fn with_cache(mut self, cache: CacheConfig) -> Self {
        self.cache = cache;
        self
    }

    /// Sets the discovery options.
    #[must_use]
    pub fn with_discovery(mut self, discovery: DiscoveryOptions) -> Self {
        self.discovery = discovery;
        self
    }
}

/// What [`IssuerKeys::lookup`] found. A closed protocol, like the Gate's
/// `Outcome`: match it exhaustively.
#[derive(Debug)]
pub enum KeyLookup {
    /// The issuer's current key set, which holds the `kid` (or, for a token
    /// without `kid`, the current set). A shared copy: verify the signature
    /// with it after releasing any lock around the machine.
    Keys(Arc<KeySet>),
    /// Fetch this, apply the answer, then look up again. When
    /// [`FetchPlan::is_in_flight`] the fetch was already handed out: join it
    /// (or give up) rather than fetch again.
    Fetch(FetchPlan),
    /// The set holds no such key and no fetch is allowed now: refuse the
    /// token.
    Unknown,
    /// The issuer's keys cannot be had now (no usable set, or no discovery
    /// document, and the next fetch waits out a backoff): the service's
    /// problem rather than the token's.
    Unavailable {
        /// What is missing: the discovery document or the key set.
        kind: FetchKind,
        /// When the next fetch will be tried, if known.
        retry_at: Option<OffsetDateTime>,
    },
}

/// A configuration, response or state [`IssuerKeys`] refused.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum KeysError {
    /// The key set cache refused a response, a state or its configuration.
    #[error(transparent)]
    Cache(#[from] CacheError),
    /// A discovery document or URL was refused.
    #[error(transparent)]
    Discovery(#[from] DiscoveryError),
    /// The configuration is inconsistent.
    #[error("invalid issuer keys configuration: {reason}")]
    Config {
        /// What is wrong.
        reason: &'static str,
    },
    /// The plan was handed out for another issuer.
    #[error("fetch plan is for issuer `{found}`, not `{expected}`")]
    OtherIssuer {
        /// This machine's issuer.
        expected: String,
        /// The plan's issuer, control and non-ASCII characters escaped.
        found: String,
    },
    /// The plan names a URL that is not this issuer's endpoint for its kind
    /// (a plan from another gate, or from before a reconfiguration).
    #[error("fetch plan url `{url}` is not this issuer's {kind} endpoint")]
    OtherUrl {
        /// `discovery` or `jwks`.
        kind: &'static str,
        /// The plan's URL, control and non-ASCII characters escaped.
        url: String,
    },
    /// The discovery document fetch answered with a status other than 200.
    #[error("discovery document fetch answered with status `{status}`")]
    DiscoveryStatus {
        /// The status received.
        status: StatusCode,
    },
    /// A key set arrived (or a state was imported) before the issuer's
    /// `jwks_uri` was known.
    #[error("the issuer's jwks uri is not known yet")]
    NoJwksUri,
    /// A sealed state could not be sealed or opened (altered, sealed for
    /// another issuer, under an unknown or retired key, or not sealed at
    /// all). Nothing was applied: treat the state as absent and refetch.
    #[error(transparent)]
    Sealed(#[from] SealError),
}

/// Discovery progress for an issuer whose `jwks_uri` comes from discovery.
#[derive(Debug, Default, Clone)]
struct DiscoveryStatus {
    in_flight_since: Option<OffsetDateTime>,
    retry_at: Option<OffsetDateTime>,
    /// When the discovery document in use was applied (or the key state
    /// naming its `jwks_uri` imported): the refresh is due a
    /// `discovery_refresh` later.
    applied_at: Option<OffsetDateTime>,
}

/// One issuer's keys: discovery (when configured) and the key set cache as
/// one machine. See the module docs for the protocol.
#[derive(Debug)]
pub struct IssuerKeys {
    issuer: String,
    /// `None`: the `jwks_uri` was configured and `cache` is always there.
    discovery_url: Option<String>,
    config: IssuerKeysConfig,
    cache: Option<JwksCache>,
    discovery: DiscoveryStatus,
    /// A shared copy of the cache's current key set, so signatures are
    /// verified after a caller's lock is released: holding it through an
    /// RSA or ECDSA verify would serialise every request of the issuer on
    /// one core. Taken on the first lookup that hands out keys; cleared by
    /// everything that can change the set (applying a response or failure,
    /// discovery, import), so it never outlives the set it copies.
    copy: Option<Arc<KeySet>>,
    /// See [`key_set_version`](IssuerKeys::key_set_version).
    version: u64,
    /// SHA-256 of the endpoint and JWKS document behind `version`
    /// (`None`: no set).
    identity: Option<[u8; 32]>,
}

impl IssuerKeys {
    /// The keys of `issuer`, published at the configured `jwks_uri` (no
    /// discovery).
    ///
    /// # Errors
    /// [`KeysError::Config`] for a negative discovery duration or a
    /// non-positive refresh; [`KeysError::Cache`] when `jwks_uri` is not
    /// acceptable or the cache configuration is inconsistent.
    pub fn from_jwks_uri(
        issuer: &str,
        jwks_uri: &str,
        config: IssuerKeysConfig,
    ) -> Result<Self, KeysError> {
        check_config(&config)?;
        let cache = JwksCache::new(issuer, jwks_uri, config.cache.clone())?;
        Ok(Self {
            issuer: issuer.to_owned(),
            discovery_url: None,
            config,
            cache: Some(cache),
            discovery: DiscoveryStatus::default(),
            copy: None,
            version: 0,
            identity: None,
        })
    }

    /// The keys of `issuer`, found through the discovery document at
    /// `discovery_url` (see
    /// [`discovery_url`](super::discovery::discovery_url) for the usual one).
    ///
    /// # Errors
    /// [`KeysError::Config`] for a negative discovery duration or a
    /// non-positive refresh; [`KeysError::Cache`] when the cache
    /// configuration is inconsistent.
    pub fn from_discovery(
        issuer: &str,
        discovery_url: &str,
        config: IssuerKeysConfig,
    ) -> Result<Self, KeysError> {
        check_config(&config)?;
        // The cache's own checks, once, before any discovery: a bad cache
        // configuration is a startup error, not a failed fetch later.
        super::cache::check_config(&config.cache)?;
        Ok(Self {
            issuer: issuer.to_owned(),
            discovery_url: Some(discovery_url.to_owned()),
            config,
            cache: None,
            discovery: DiscoveryStatus::default(),
            copy: None,
            version: 0,
            identity: None,
        })
    }

    /// The issuer these keys belong to.
    pub fn issuer(&self) -> &str {
        &self.issuer
    }

    /// The key set endpoint, once known (configured, discovered or
    /// adopted from an imported state).
    pub fn jwks_uri(&self) -> Option<&str> {
        self.cache.as_ref().map(JwksCache::jwks_uri)
    }

    /// The discovery document's URL, when the keys are found through
    /// discovery.
    pub fn discovery_url(&self) -> Option<&str> {
        self.discovery_url.as_deref()
    }

    /// A counter that changes whenever the key set changes: a response
    /// with another JWKS document, an imported state holding another set,
    /// a discovery document moving the endpoint (which empties the set).
    /// A `304`, a failure, or a `200` repeating the same document leave it
    /// as it is. Two lookups that saw the same version saw the same keys,
    /// so a result verified under one version holds under it (the gate's
    /// token cache relies on this); it starts at 0 with no set.
    pub fn key_set_version(&self) -> u64 {
        self.version
    }

    /// Bumps [`key_set_version`](Self::key_set_version) when the set
    /// (endpoint and document) is not the one it was last time.
    fn track_version(&mut self) {
        let identity = self.cache.as_ref().and_then(|cache| {
            let raw = cache.raw_key_set()?;
            let mut ctx = ring::digest::Context::new(&ring::digest::SHA256);
            ctx.update(cache.jwks_uri().as_bytes());
            ctx.update(&[0]);
            ctx.update(raw.as_bytes());
            <[u8; 32]>::try_from(ctx.finish().as_ref()).ok()
        });
        if identity != self.identity {
            self.identity = identity;
            self.version = self.version.wrapping_add(1);
        }
    }

    /// The key set cache, once the `jwks_uri` is known: freshness, failures
    /// and the last error, for diagnostics.
    pub fn cache(&self) -> Option<&JwksCache> {
        self.cache.as_ref()
    }

    /// The key set for a token's `kid` and `alg`, or what to do instead.
    /// Check the `alg` against the validator's allow-list before calling
    /// this (RFC 8725): an `alg` no policy accepts must never cause a fetch.
    ///
    /// Without a `jwks_uri` yet, the discovery document is fetched first
    /// (one fetch in flight, a failed one retried after
    /// [`IssuerKeysConfig::discovery_retry`]); then
    /// [`JwksCache::lookup`] decides.
    pub fn lookup(&mut self, kid: Option<&str>, alg: Algorithm, now: OffsetDateTime) -> KeyLookup {
        let Some(cache) = self.cache.as_mut() else {
            return self.discovery_step(now);
        };
        let copy = &mut self.copy;
        match cache.lookup(kid, alg, now) {
            Lookup::Key(keys) => KeyLookup::Keys(Arc::clone(
                copy.get_or_insert_with(|| Arc::new(keys.clone())),
            )),
            Lookup::Fetch(plan) => KeyLookup::Fetch(plan),
            Lookup::Pending => {
                // Waiting for a set at all, or for one holding this kid.
                let reason = if cache.key_set(now).is_some() {
                    FetchReason::UnknownKid
                } else {
                    FetchReason::Cold
                };
                let plan = FetchPlan::jwks(&self.issuer, cache.jwks_uri(), reason, None, now);
                KeyLookup::Fetch(plan.joined())
            }
            Lookup::Unavailable => KeyLookup::Unavailable {
                kind: FetchKind::Jwks,
                retry_at: cache.next_retry_at(),
            },
            // `Unknown` and anything a later version adds: no key, no accept.
            _ => KeyLookup::Unknown,
        }
    }

    fn discovery_step(&mut self, now: OffsetDateTime) -> KeyLookup {
        let Some(url) = self.discovery_url.as_deref() else {
            // Unreachable by construction: without discovery the cache is
            // there from the start.
            return KeyLookup::Unavailable {
                kind: FetchKind::Jwks,
                retry_at: None,
            };
        };
        let reason = self.discovery_reason();
        let plan = FetchPlan::discovery(&self.issuer, url, reason, now);
        if self.discovery_in_flight(now) {
            return KeyLookup::Fetch(plan.joined());
        }
        if self.discovery.retry_at.is_some_and(|at| now < at) {
            return KeyLookup::Unavailable {
                kind: FetchKind::Discovery,
                retry_at: self.discovery.retry_at,
            };
        }
        self.discovery.in_flight_since = Some(now);
        KeyLookup::Fetch(plan)
    }

    fn discovery_reason(&self) -> FetchReason {
        if self.discovery.retry_at.is_some() {
            FetchReason::Retry
        } else if self.cache.is_none() {
            FetchReason::Cold
        } else {
            FetchReason::RefreshAhead
        }
    }

    /// A discovery fetch was handed out less than the timeout ago: join it.
    fn discovery_in_flight(&self, now: OffsetDateTime) -> bool {
        self.discovery
            .in_flight_since
            .is_some_and(|since| now < add(since, self.config.discovery_timeout))
    }

    /// Fetches due now without any request asking: the discovery document
    /// (the first, and every [`IssuerKeysConfig::discovery_refresh`] after
    /// that) and the key set (cold start, refresh-ahead of expiry,
    /// retries), at most one of each. Each plan is handed out once until it
    /// is answered or times out.
    pub fn poll(&mut self, now: OffsetDateTime) -> Vec<FetchPlan> {
        let mut plans = Vec::new();
        if let Some(plan) = self.discovery_due(now) {
            plans.push(plan);
        }
        if let Some(plan) = self.cache.as_mut().and_then(|c| c.poll(now)) {
            plans.push(plan);
        }
        plans
    }

    /// The discovery fetch [`poll`](Self::poll) hands out, if one is due:
    /// none in flight, no retry pending, and either no key endpoint yet or
    /// the document in use older than the refresh period.
    fn discovery_due(&mut self, now: OffsetDateTime) -> Option<FetchPlan> {
        let url = self.discovery_url.as_deref()?;
        let stale = self
            .discovery
            .applied_at
            .is_none_or(|at| now >= add(at, self.config.discovery_refresh));
        if self.discovery_in_flight(now)
            || self.discovery.retry_at.is_some_and(|at| now < at)
            || (self.cache.is_some() && !stale)
        {
            return None;
        }
        let plan = FetchPlan::discovery(&self.issuer, url, self.discovery_reason(), now);
        self.discovery.in_flight_since = Some(now);
        Some(plan)
    }

    /// Feeds the response to a [`FetchPlan`] this machine handed out.
    ///
    /// A key set response replaces or renews the set (see
    /// [`JwksCache::apply_response`]); one answering a plan handed out
    /// before the set was last fetched is ignored, so it cannot roll a
    /// rotation back. A discovery document that names a new `jwks_uri`
    /// starts a new, empty cache there; one naming the same endpoint keeps
    /// the set.
    ///
    /// # Errors
    /// [`KeysError::OtherIssuer`] / [`KeysError::OtherUrl`] for a plan this
    /// machine did not hand out (nothing changes);
    /// [`KeysError::DiscoveryStatus`] / [`KeysError::Discovery`] when a
    /// discovery document is refused, [`KeysError::Cache`] when a key set
    /// response is refused: then the failure is recorded (the keys in use
    /// keep serving, the next fetch waits out a backoff), so the caller
    /// only needs to log it. [`KeysError::NoJwksUri`] for a key set before
    /// any `jwks_uri` is known.
    pub fn apply(
        &mut self,
        plan: &FetchPlan,
        status: StatusCode,
        headers: &HeaderMap,
        body: &[u8],
        now: OffsetDateTime,
    ) -> Result<(), KeysError> {
        if plan.issuer() != self.issuer {
            return Err(KeysError::OtherIssuer {
                expected: self.issuer.clone(),
                found: printable(plan.issuer()),
            });
        }
        // A plan names what was fetched: a response from another endpoint
        // must not become this issuer's keys or discovery document.
        let (expected, kind) = match plan.kind() {
            FetchKind::Jwks => (self.jwks_uri(), "jwks"),
            FetchKind::Discovery => (self.discovery_url.as_deref(), "discovery"),
            // Not a key machine's fetch: the gate routes it elsewhere.
            FetchKind::Introspection => (None, "introspection"),
        };
        let known = match (plan.kind(), expected) {
            (_, Some(url)) => url == plan.url(),
            // A key set before its endpoint is known: refused below.
            (FetchKind::Jwks, None) => true,
            (FetchKind::Discovery | FetchKind::Introspection, None) => false,
        };
        if !known {
            return Err(KeysError::OtherUrl {
                kind,
                url: printable(plan.url()),
            });
        }
        match plan.kind() {
            FetchKind::Jwks => {
                // A response to a plan handed out before the set was last
                // fetched answers an older request: applying it could roll
                // a rotation back to keys the issuer has since withdrawn.
                if self
                    .cache
                    .as_ref()
                    .and_then(JwksCache::fetched_at)
                    .is_some_and(|fetched| fetched > plan.issued_at())
                {
                    return Ok(());
                }
                self.apply_jwks_response(status, headers, body, now)
            }
            FetchKind::Discovery => self.apply_discovery(status, body, now),
            FetchKind::Introspection => Err(KeysError::OtherUrl {
                kind,
                url: printable(plan.url()),
            }),
        }
    }

    /// Feeds a key set response that was not fetched through a plan (a
    /// caller routing fetches by issuer): as [`apply`](Self::apply) for a
    /// key set, without the plan's checks.
    ///
    /// # Errors
    /// [`KeysError::NoJwksUri`] before the `jwks_uri` is known (discovery
    /// has not run); [`KeysError::Cache`] when the response is refused (the
    /// failure is recorded).
    pub fn apply_jwks_response(
        &mut self,
        status: StatusCode,
        headers: &HeaderMap,
        body: &[u8],
        now: OffsetDateTime,
    ) -> Result<(), KeysError> {
        let cache = self.cache.as_mut().ok_or(KeysError::NoJwksUri)?;
        // Whatever the response does to the set, the copy is retaken from it.
        self.copy = None;
        let result = cache.apply_response(status, headers, body, now);
        self.track_version();
        result?;
        Ok(())
    }

    fn apply_discovery(
        &mut self,
        status: StatusCode,
        body: &[u8],
        now: OffsetDateTime,
    ) -> Result<(), KeysError> {
        self.discovery.in_flight_since = None;
        match self.discovered(status, body) {
            Ok(fresh) => {
                self.discovery.retry_at = None;
                self.discovery.applied_at = Some(now);
                match &self.cache {
                    // A refresh (or a duplicate of the first fetch) naming
                    // the same endpoint: keep the key set.
                    Some(cache) if cache.jwks_uri() == fresh.jwks_uri() => {}
                    // First discovery, or the endpoint moved: keys come from
                    // the new endpoint only (the next lookup fetches them).
                    _ => self.set_cache(fresh),
                }
                Ok(())
            }
            Err(e) => {
                // The key set in use (if any) keeps serving.
                self.discovery.retry_at = Some(add(now, self.config.discovery_retry));
                Err(e)
            }
        }
    }

    fn discovered(&self, status: StatusCode, body: &[u8]) -> Result<JwksCache, KeysError> {
        if status != StatusCode::OK {
            return Err(KeysError::DiscoveryStatus { status });
        }
        let metadata = ProviderMetadata::from_json(body, &self.issuer, &self.config.discovery)?;
        Ok(JwksCache::new(
            &self.issuer,
            &metadata.jwks_uri,
            self.config.cache.clone(),
        )?)
    }

    /// Replaces the cache (discovery, import); the old set's copy goes.
    fn set_cache(&mut self, cache: JwksCache) {
        self.cache = Some(cache);
        self.copy = None;
        self.track_version();
    }

    /// Records that the fetch for `plan` failed without a response
    /// (network error, timeout). Keys already held keep serving; the next
    /// fetch waits out a backoff. A plan for another issuer is ignored.
    pub fn apply_failure(&mut self, plan: &FetchPlan, reason: &str, now: OffsetDateTime) {
        if plan.issuer() != self.issuer {
            return;
        }
        self.copy = None;
        match (plan.kind(), &mut self.cache) {
            (FetchKind::Jwks, Some(cache)) => cache.apply_failure(reason, now),
            (FetchKind::Discovery, _) => {
                self.discovery.in_flight_since = None;
                self.discovery.retry_at = Some(add(now, self.config.discovery_retry));
            }
            (FetchKind::Jwks, None) | (FetchKind::Introspection, _) => {}
        }
    }

    /// The key set state to persist (e.g. in Workers KV) and share across
    /// processes. `None` before the `jwks_uri` is known.
    pub fn export_state(&self) -> Option<CacheState> {
        self.cache.as_ref().map(JwksCache::state)
    }

    /// Restores a state saved with [`export_state`](Self::export_state).
    /// A state whose key set is older than the one already held is ignored
    /// (no roll-back across a rotation). Keys found through discovery that
    /// has not run yet adopt the state's own `jwks_uri`, so a Worker
    /// isolate restoring from KV needs no discovery fetch; keep the state
    /// where only the gateway can write it.
    ///
    /// # Errors
    /// [`KeysError::Cache`] when the state is corrupt, belongs to another
    /// issuer or endpoint, or is too old; [`KeysError::NoJwksUri`] when no
    /// endpoint is known and none may be adopted.
    pub fn import_state(
        &mut self,
        saved: &CacheState,
        now: OffsetDateTime,
    ) -> Result<(), KeysError> {
        let jwks_uri = match (&self.cache, &self.discovery_url) {
            (Some(cache), _) => cache.jwks_uri().to_owned(),
            // Discovery has not run in this process: adopt the endpoint the
            // saved state was fetched from. The state is one an
            // `export_state` produced after a validated discovery document
            // (keep it in storage only the gateway can write), and
            // `from_state` still checks it against the issuer and the limits.
            (None, Some(_)) => saved.jwks_uri().to_owned(),
            (None, None) => return Err(KeysError::NoJwksUri),
        };
        let cache = JwksCache::from_state(
            &self.issuer,
            &jwks_uri,
            self.config.cache.clone(),
            saved,
            now,
        )?;
        // A state older than the set held here (another process saved it
        // before a rotation this process has already fetched) must not roll
        // the keys back.
        if let Some(current) = self.cache.as_ref().and_then(JwksCache::fetched_at)
            && cache.fetched_at().is_none_or(|saved_at| saved_at < current)
        {
            return Ok(());
        }
        self.set_cache(cache);
        // An adopted endpoint counts as discovered now: the refresh period
        // runs from here.
        self.discovery.applied_at.get_or_insert(now);
        Ok(())
    }
}

impl IssuerKeys {
    /// The key set state sealed with `sealer` for this issuer (purpose
    /// [`PURPOSE_ISSUER_KEYS`], subject the issuer), as unpadded base64url
    /// text to persist in KV or Redis. `None` before the `jwks_uri` is
    /// known. See [`crate::seal`] for what sealing protects.
    ///
    /// # Errors
    /// [`KeysError::Sealed`] when sealing fails (state over the sealer's
    /// size limit, random number generator failure).
    pub fn export_sealed(&self, sealer: &Sealer) -> Result<Option<String>, KeysError> {
        let Some(state) = self.export_state() else {
            return Ok(None);
        };
        let json = serde_json::to_vec(&state).map_err(|_| CacheError::StateCorrupt {
            reason: "state does not serialise",
        })?;
        Ok(Some(sealer.seal_to_string(
            PURPOSE_ISSUER_KEYS,
            &self.issuer,
            &json,
        )?))
    }

    /// Opens a state sealed by [`export_sealed`](Self::export_sealed) for
    /// this issuer and restores it as [`import_state`](Self::import_state)
    /// does (an older key set never rolls the keys back). Sealing is
    /// required: a plain JSON state is refused.
    ///
    /// # Errors
    /// [`KeysError::Sealed`] when the text does not open for this issuer
    /// (altered, truncated, another issuer's or purpose's, an unknown or
    /// retired key id, or not sealed); nothing is applied and the state is
    /// to be treated as absent (refetch). [`KeysError::Cache`] with
    /// [`CacheError::StateCorrupt`] when the opened text is not a key state,
    /// and what [`import_state`](Self::import_state) returns.
    pub fn import_sealed(
        &mut self,
        sealer: &Sealer,
        sealed: &str,
        now: OffsetDateTime,
    ) -> Result<(), KeysError> {
        let json = sealer.open_str(PURPOSE_ISSUER_KEYS, &self.issuer, sealed)?;
        let state: CacheState =
            crate::json::from_document_bytes(&json).map_err(|_| CacheError::StateCorrupt {
                reason: "sealed state is not a key state",
            })?;
        self.import_state(&state, now)
    }
}

fn check_config(c: &IssuerKeysConfig) -> Result<(), KeysError> {
    if c.discovery_timeout.is_negative() || c.discovery_retry.is_negative() {
        return Err(KeysError::Config {
            reason: "discovery timeout and retry must not be negative",
        });
    }
    if !c.discovery_refresh.is_positive() {
        return Err(KeysError::Config {
            reason: "discovery refresh must be positive",
        });
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use time::macros::datetime;

    const ISS: &str = "https://idp.example.com";
    const DISCOVERY: &str = "https://idp.example.com/.well-known/openid-configuration";
    const JWKS: &str = "https://idp.example.com/jwks";
    const T0: OffsetDateTime = datetime!(2026-11-23 10:00:00 UTC);
    const DOC: &[u8] =
        br#"{"issuer":"https://idp.example.com","jwks_uri":"https://idp.example.com/jwks"}"#;
    const SET: &[u8] = br#"{"keys":[{"kty":"EC","crv":"P-256","kid":"k1","use":"sig",
        "x":"MKBCTNIcKUSDii11ySs3526iDZ8AiTo7Tu6KPAqv7D4",
        "y":"4Etl6SRW2YiLUrN5vfvVHuhp7x8PxltmWWlbbM4IFyM"}]}"#;

    fn discovered() -> IssuerKeys {
        IssuerKeys::from_discovery(ISS, DISCOVERY, IssuerKeysConfig::default()).unwrap()
    }

    fn fetch(lookup: KeyLookup) -> FetchPlan {
        match lookup {
            KeyLookup::Fetch(plan) => plan,
            other => panic!("expected a fetch, got {other:?}"),
        }
    }

    fn ok(keys: &mut IssuerKeys, plan: &FetchPlan, body: &[u8], now: OffsetDateTime) {
        keys.apply(plan, StatusCode::OK, &HeaderMap::new(), body, now)
            .unwrap();
    }

    /// A machine that went through discovery and holds the key set.
    fn warm() -> IssuerKeys {
        let mut keys = discovered();
        let plan = fetch(keys.lookup(Some("k1"), Algorithm::ES256, T0));
        ok(&mut keys, &plan, DOC, T0);
        let plan = fetch(keys.lookup(Some("k1"), Algorithm::ES256, T0));
        ok(&mut keys, &plan, SET, T0);
        keys
    }

    #[test]
    fn discovery_then_key_set_then_keys() {
        let mut keys = discovered();
        assert_eq!(keys.jwks_uri(), None);
        let plan = fetch(keys.lookup(Some("k1"), Algorithm::ES256, T0));
        assert_eq!(
            (plan.kind(), plan.url(), plan.reason(), plan.is_in_flight()),
            (FetchKind::Discovery, DISCOVERY, FetchReason::Cold, false)
        );
        ok(&mut keys, &plan, DOC, T0);
        assert_eq!(keys.jwks_uri(), Some(JWKS));
        let plan = fetch(keys.lookup(Some("k1"), Algorithm::ES256, T0));
        assert_eq!((plan.kind(), plan.url()), (FetchKind::Jwks, JWKS));
        assert!(plan.headers().contains_key(http::header::ACCEPT));
        ok(&mut keys, &plan, SET, T0);
        let KeyLookup::Keys(set) = keys.lookup(Some("k1"), Algorithm::ES256, T0) else {
            panic!("expected keys")
        };
        assert!(set.contains_kid("k1"));
        // The same shared copy until the set changes.
        let KeyLookup::Keys(again) = keys.lookup(Some("k1"), Algorithm::ES256, T0) else {
            panic!("expected keys")
        };
        assert!(Arc::ptr_eq(&set, &again));
    }

    #[test]
    fn one_discovery_in_flight_until_it_times_out() {
        let mut keys = discovered();
        let first = fetch(keys.lookup(None, Algorithm::ES256, T0));
        assert!(!first.is_in_flight());
        let joined = fetch(keys.lookup(None, Algorithm::ES256, T0 + Duration::seconds(29)));
        assert!(joined.is_in_flight());
        assert!(keys.poll(T0 + Duration::seconds(29)).is_empty());
        let next = fetch(keys.lookup(None, Algorithm::ES256, T0 + Duration::seconds(30)));
        assert!(!next.is_in_flight());
    }

    #[test]
    fn failed_discovery_backs_off_then_retries() {
        let mut keys = discovered();
        let plan = fetch(keys.lookup(None, Algorithm::ES256, T0));
        keys.apply_failure(&plan, "connection refused", T0);
        let retry_at = T0 + Duration::seconds(30);
        assert!(matches!(
            keys.lookup(None, Algorithm::ES256, T0),
            KeyLookup::Unavailable { kind: FetchKind::Discovery, retry_at: Some(at) } if at == retry_at
        ));
        let plan = fetch(keys.lookup(None, Algorithm::ES256, retry_at));
        assert_eq!(plan.reason(), FetchReason::Retry);
        // A refused document backs off the same way.
        let err = keys
            .apply(
                &plan,
                StatusCode::BAD_GATEWAY,
                &HeaderMap::new(),
                b"",
                retry_at,
            )
            .unwrap_err();
        assert!(matches!(err, KeysError::DiscoveryStatus { .. }), "{err}");
        assert!(matches!(
            keys.lookup(None, Algorithm::ES256, retry_at),
            KeyLookup::Unavailable { .. }
        ));
    }

    #[test]
    fn poll_hands_out_discovery_then_key_set_then_the_refresh() {
        let mut keys = discovered();
        let plans = keys.poll(T0);
        assert_eq!(plans.len(), 1);
        assert_eq!(plans[0].kind(), FetchKind::Discovery);
        ok(&mut keys, &plans[0], DOC, T0);
        let plans = keys.poll(T0);
        assert_eq!(plans.len(), 1);
        assert_eq!(
            (plans[0].kind(), plans[0].reason()),
            (FetchKind::Jwks, FetchReason::Cold)
        );
        ok(&mut keys, &plans[0], SET, T0);
        assert!(keys.poll(T0 + Duration::minutes(1)).is_empty());
        let day = T0 + Duration::hours(24);
        let plans = keys.poll(day);
        let discovery = plans
            .iter()
            .find(|p| p.kind() == FetchKind::Discovery)
            .unwrap();
        assert_eq!(discovery.reason(), FetchReason::RefreshAhead);
        // The same endpoint again: the key set stays.
        ok(&mut keys, discovery, DOC, day);
        assert!(keys.cache().unwrap().fetched_at().is_some());
    }

    #[test]
    fn export_import_round_trip_adopts_the_endpoint() {
        let warm = warm();
        let state = warm.export_state().unwrap();
        let json = serde_json::to_string(&state).unwrap();
        let mut cold = discovered();
        cold.import_state(&serde_json::from_str(&json).unwrap(), T0)
            .unwrap();
        assert_eq!(cold.jwks_uri(), Some(JWKS));
        assert!(matches!(
            cold.lookup(Some("k1"), Algorithm::ES256, T0),
            KeyLookup::Keys(_)
        ));
        // The adopted endpoint counts as discovered: no discovery fetch due.
        assert!(cold.poll(T0).is_empty());
        assert_eq!(cold.export_state(), Some(state));
    }

    #[test]
    fn import_of_an_older_state_keeps_the_newer_keys() {
        let old = warm().export_state().unwrap();
        let mut keys = warm();
        let later = T0 + Duration::hours(2);
        let plan = fetch(keys.lookup(Some("k1"), Algorithm::ES256, later));
        ok(&mut keys, &plan, SET, later);
        keys.import_state(&old, later).unwrap();
        assert_eq!(keys.cache().unwrap().fetched_at(), Some(later));
    }

    #[test]
    fn response_to_an_older_plan_is_ignored() {
        let mut keys = warm();
        let later = T0 + Duration::hours(2);
        let stale_plan = fetch(keys.lookup(Some("k1"), Algorithm::ES256, later));
        let newer = later + Duration::seconds(40);
        let plan = fetch(keys.lookup(Some("k2"), Algorithm::ES256, newer));
        ok(&mut keys, &plan, SET, newer);
        keys.apply(&stale_plan, StatusCode::OK, &HeaderMap::new(), b"{}", newer)
            .unwrap();
        assert_eq!(keys.cache().unwrap().fetched_at(), Some(newer));
    }

    #[test]
    fn plans_for_another_issuer_or_url_are_refused() {
        let mut keys = warm();
        let mut other = IssuerKeys::from_jwks_uri(
            ISS,
            "https://keys.example.net/jwks",
            IssuerKeysConfig::default(),
        )
        .unwrap();
        let plan = fetch(other.lookup(Some("k1"), Algorithm::ES256, T0));
        let err = keys
            .apply(&plan, StatusCode::OK, &HeaderMap::new(), SET, T0)
            .unwrap_err();
        assert!(
            matches!(err, KeysError::OtherUrl { kind: "jwks", .. }),
            "{err}"
        );
        let mut stranger = IssuerKeys::from_jwks_uri(
            "https://other.example.com",
            JWKS,
            IssuerKeysConfig::default(),
        )
        .unwrap();
        let plan = fetch(stranger.lookup(Some("k1"), Algorithm::ES256, T0));
        let err = keys
            .apply(&plan, StatusCode::OK, &HeaderMap::new(), SET, T0)
            .unwrap_err();
        assert!(matches!(err, KeysError::OtherIssuer { .. }), "{err}");
        // A discovery plan for keys that are not discovered.
        let mut d = discovered();
        let plan = fetch(d.lookup(None, Algorithm::ES256, T0));
        assert!(
            other
                .apply(&plan, StatusCode::OK, &HeaderMap::new(), DOC, T0)
                .is_err()
        );
    }

    #[test]
    fn key_set_before_the_endpoint_is_known_is_refused() {
        let mut keys = discovered();
        let err = keys
            .apply_jwks_response(StatusCode::OK, &HeaderMap::new(), SET, T0)
            .unwrap_err();
        assert!(matches!(err, KeysError::NoJwksUri), "{err}");
    }

    #[test]
    fn key_set_version_changes_with_the_set_only() {
        let mut keys = discovered();
        assert_eq!(keys.key_set_version(), 0);
        let plan = fetch(keys.lookup(Some("k1"), Algorithm::ES256, T0));
        ok(&mut keys, &plan, DOC, T0);
        // A new, empty cache at the discovered endpoint: still no set.
        assert_eq!(keys.key_set_version(), 0);
        keys.apply_jwks_response(StatusCode::OK, &HeaderMap::new(), SET, T0)
            .unwrap();
        let v1 = keys.key_set_version();
        assert_ne!(v1, 0);
        // The same document again, a failure, a refused response: no change.
        keys.apply_jwks_response(StatusCode::OK, &HeaderMap::new(), SET, T0)
            .unwrap();
        let plan = fetch(keys.lookup(Some("k9"), Algorithm::ES256, T0));
        keys.apply_failure(&plan, "timeout", T0);
        assert!(
            keys.apply_jwks_response(StatusCode::BAD_GATEWAY, &HeaderMap::new(), b"", T0)
                .is_err()
        );
        assert_eq!(keys.key_set_version(), v1);
        // Another document: a change.
        let other = br#"{"keys":[{"kty":"EC","crv":"P-256","kid":"k2","use":"sig",
        "x":"MKBCTNIcKUSDii11ySs3526iDZ8AiTo7Tu6KPAqv7D4",
        "y":"4Etl6SRW2YiLUrN5vfvVHuhp7x8PxltmWWlbbM4IFyM"}]}"#;
        keys.apply_jwks_response(StatusCode::OK, &HeaderMap::new(), other, T0)
            .unwrap();
        let v2 = keys.key_set_version();
        assert_ne!(v2, v1);
        // Importing the state of the same set: no change; of another: a change.
        let same = keys.export_state().unwrap();
        keys.import_state(&same, T0).unwrap();
        assert_eq!(keys.key_set_version(), v2);
        let later = T0 + Duration::minutes(1);
        let mut newer = warm();
        newer
            .apply_jwks_response(StatusCode::OK, &HeaderMap::new(), SET, later)
            .unwrap();
        keys.import_state(&newer.export_state().unwrap(), later)
            .unwrap();
        assert_ne!(keys.key_set_version(), v2);
        let v3 = keys.key_set_version();
        // Discovery moving the endpoint empties the set: a change.
        let moved =
            br#"{"issuer":"https://idp.example.com","jwks_uri":"https://idp.example.com/jwks2"}"#;
        let day = later + Duration::hours(25);
        let plan = keys
            .poll(day)
            .into_iter()
            .find(|p| p.kind() == FetchKind::Discovery)
            .unwrap();
        ok(&mut keys, &plan, moved, day);
        assert_ne!(keys.key_set_version(), v3);
    }

    #[test]
    fn bad_durations_are_a_config_error() {
        let config = IssuerKeysConfig {
            discovery_refresh: Duration::ZERO,
            ..IssuerKeysConfig::default()
        };
        assert!(matches!(
            IssuerKeys::from_discovery(ISS, DISCOVERY, config),
            Err(KeysError::Config { .. })
        ));
    }
}
