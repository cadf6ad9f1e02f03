//! `Gate`: extraction, key lookup, validation, roles and policy composed into
//! one sans-IO check (RFC 6750 for the token, RFC 7519 / RFC 8725 for its
//! validation, OpenID Connect Discovery 1.0 for finding keys).
//!
//! The gate never fetches anything. When it needs an issuer's discovery
//! document or key set it answers [`Outcome::FetchKeys`]; the caller performs
//! the GET with its own client, feeds the response to
//! [`Gate::apply_fetch_response`] (or the failure to
//! [`Gate::apply_fetch_failure`]) and checks the request again.
//! [`Gate::poll`], called from a timer, hands out the fetches no request
//! should wait for: key sets before they expire, retries, and the periodic
//! refresh of discovery documents (so a moved `jwks_uri` is followed).
//!
//! ```
//! use edge_auth::gate::{Gate, GateConfig, IssuerConfig, Outcome};
//! use edge_auth::policy::RequestFacts;
//! use time::macros::datetime;
//!
//! let issuer = IssuerConfig::new("https://idp.example.com", ["api://orders"])
//!     .with_jwks_uri("https://idp.example.com/jwks");
//! let gate = Gate::new(GateConfig::new([issuer]))?;
//! let now = datetime!(2026-11-23 10:00:00 UTC);
//!
//! // No token: 401 with a Bearer challenge, before any key is fetched.
//! let (parts, ()) = http::Request::get("/orders").body(())?.into_parts();
//! let Outcome::Deny(rejection) = gate.check(&parts, &RequestFacts::from_parts(&parts), now) else {
//!     unreachable!()
//! };
//! assert_eq!(rejection.to_response().status(), 401);
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! ```

use std::sync::{Arc, Mutex, MutexGuard, PoisonError};

use http::request::Parts;
use http::{HeaderMap, StatusCode};
use jsonwebtoken::Algorithm;
use serde_json::{Map, Value};
use time::{Duration, OffsetDateTime};

use crate::error::Error;
use crate::extract::{self, TokenSource};
use crate::jwk::cache::{CacheConfig, CacheState};
use crate::jwk::discovery::{self, DiscoveryOptions};
pub use crate::jwk::{FetchKind, FetchPlan};
use crate::jwk::{IssuerKeys, IssuerKeysConfig, KeyLookup, KeySet, KeysError};
use crate::jwt::{self, JwtError, Validation, Validator};
use crate::oidc::{Principal, RoleMapper};
use crate::policy::{CompiledPolicy, Decision, Failure, Policy, Reason, RequestFacts};
use crate::response::{DEFAULT_REALM, Rejection};

/// The placeholder in an issuer that stands for the token's tenant (Entra ID
/// multi-tenant applications).
const TENANT: &str = "{tenantid}";

/// The policy used when [`GateConfig::policy`] is `None`: every request needs
/// a valid token.
const AUTHENTICATED_ONLY: &str = r#"{"rules":[{"id":"authenticated","match":{"paths":["/**"]},"require":{"authenticated":true},"effect":"allow"}]}"#;

/// One trusted token issuer.
#[derive(Debug, Clone)]
#[non_exhaustive]
pub struct IssuerConfig {
    /// The issuer, compared exactly with the token's `iss`; or an Entra ID
    /// multi-tenant template such as
    /// `https://login.microsoftonline.com/{tenantid}/v2.0`, matched with the
    /// token's `tid` in place of `{tenantid}`.
    pub issuer: String,
    /// Accepted `aud` values. Must not be empty: a token for another API of
    /// the same issuer must not pass.
    pub audiences: Vec<String>,
    /// The JWKS endpoint. `None`: found through the discovery document.
    pub jwks_uri: Option<String>,
    /// Where the discovery document is. `None`:
    /// `{issuer}/.well-known/openid-configuration`. Required (or
    /// `jwks_uri`) for a `{tenantid}` template.
    pub discovery_url: Option<String>,
    /// Algorithms, leeway, `typ`, max age and required claims. Its
    /// `issuers` and `audiences` are replaced by the ones above.
    pub validation: Validation,
    /// How claims become roles, scopes and groups.
    pub roles: RoleMapper,
}

impl IssuerConfig {
    /// An issuer with its accepted audiences, default validation
    /// (asymmetric algorithms, 60 s leeway, `exp` required) and a role
    /// mapper that takes only `sub` and `iss`.
    pub fn new<I, S>(issuer: impl Into<String>, audiences: I) -> Self
    where
        I: IntoIterator<Item = S>,
        S: Into<String>,
    {
        Self {
            issuer: issuer.into(),
            audiences: audiences.into_iter().map(Into::into).collect(),
            jwks_uri: None,
            discovery_url: None,
            validation: Validation::default(),
            roles: RoleMapper::default(),
        }
    }

    /// Sets the JWKS endpoint (skips discovery).
    #[must_use]
    pub fn with_jwks_uri(mut self, uri: impl Into<String>) -> Self {
        self.jwks_uri = Some(uri.into());
        self
    }

    /// Sets the discovery document's URL.
    #[must_use]
    pub fn with_discovery_url(mut self, url: impl Into<String>) -> Self {
        self.discovery_url = Some(url.into());
        self
    }

    /// Sets the accepted algorithms.
    #[must_use]
    pub fn with_algorithms(mut self, algorithms: impl IntoIterator<Item = Algorithm>) -> Self {
        self.validation.algorithms = algorithms.into_iter().collect();
        self
    }

    /// Sets the validation rules (its issuers and audiences are replaced).
    #[must_use]
    pub fn with_validation(mut self, validation: Validation) -> Self {
        self.validation = validation;
        self
    }

    /// Sets the role mapper (e.g. a preset from [`crate::oidc`]).
    #[must_use]
    pub fn with_roles(mut self, roles: RoleMapper) -> Self {
        self.roles = roles;
        self
    }
}

/// What a [`Gate`] enforces.
#[derive(Debug, Clone)]
#[non_exhaustive]
pub struct GateConfig {
    /// The trusted issuers. A token's unverified `iss` only chooses among
    /// them; one issuer's keys never verify another issuer's tokens.
    pub issuers: Vec<IssuerConfig>,
    /// Where tokens are looked for (default: `Authorization: Bearer`).
    pub sources: Vec<TokenSource>,
    /// The `realm` of `WWW-Authenticate` challenges (default `edge-auth`).
    pub realm: String,
    /// The route policy. `None`: every request needs a valid token and any
    /// valid token is enough.
    pub policy: Option<CompiledPolicy>,
    /// How each issuer's key set is cached and refreshed.
    pub cache: CacheConfig,
    /// What discovery documents must satisfy.
    pub discovery: DiscoveryOptions,
    /// How long a handed-out discovery fetch may stay unanswered before
    /// another is handed out (default 30 s, must not be negative).
    pub discovery_timeout: Duration,
    /// Delay before retrying a failed discovery fetch (default 30 s, must
    /// not be negative).
    pub discovery_retry: Duration,
    /// How often [`Gate::poll`] fetches an issuer's discovery document
    /// again once it has one (default 24 h, must be positive), so that a
    /// moved `jwks_uri` is followed without a restart. Requests never wait
    /// for this refresh.
    pub discovery_refresh: Duration,
}

impl GateConfig {
    /// A gate for these issuers with default sources, realm and caching,
    /// and no policy (any valid token is allowed).
    pub fn new(issuers: impl IntoIterator<Item = IssuerConfig>) -> Self {
        Self {
            issuers: issuers.into_iter().collect(),
            sources: vec![TokenSource::AuthorizationBearer],
            realm: DEFAULT_REALM.to_owned(),
            policy: None,
            cache: CacheConfig::default(),
            discovery: DiscoveryOptions::default(),
            discovery_timeout: Duration::seconds(30),
            discovery_retry: Duration::seconds(30),
            discovery_refresh: Duration::hours(24),
        }
    }

    /// Sets the policy.
    #[must_use]
    pub fn with_policy(mut self, policy: CompiledPolicy) -> Self {
        self.policy = Some(policy);
        self
    }

    /// Sets the token sources.
    #[must_use]
    pub fn with_sources(mut self, sources: impl IntoIterator<Item = TokenSource>) -> Self {
        self.sources = sources.into_iter().collect();
        self
    }

    /// Sets the challenge realm.
    #[must_use]
    pub fn with_realm(mut self, realm: impl Into<String>) -> Self {
        self.realm = realm.into();
        self
    }

    /// Sets the cache configuration.
    #[must_use]
    pub fn with_cache(mut self, cache: CacheConfig) -> Self {
        self.cache = cache;
        self
    }
}

/// What the gate decided about a request.
#[derive(Debug)]
#[non_exhaustive]
pub enum Outcome {
    /// Let the request through. `principal` is `None` on an anonymous route
    /// reached without a token.
    Allow {
        /// Who made the request.
        principal: Option<Box<Principal>>,
        /// The policy decision, for the audit log.
        decision: Decision,
    },
    /// Turn the request away with [`Rejection::to_response`].
    Deny(Rejection),
    /// Fetch [`FetchPlan::url`], give the response to
    /// [`Gate::apply_fetch_response`], then check the request again.
    FetchKeys(FetchPlan),
}

#[derive(Debug)]
struct Issuer {
    config: IssuerConfig,
    /// `{tenantid}` template split around the placeholder.
    template: Option<(String, String)>,
    validator: Validator,
    keys: Mutex<IssuerKeys>,
}

impl Issuer {
    fn matches(&self, iss: &str, tid: Option<&str>) -> bool {
        match &self.template {
            None => iss == self.config.issuer,
            Some((prefix, suffix)) => tid.is_some_and(|tid| {
                valid_tenant(tid)
                    && iss
                        .strip_prefix(prefix.as_str())
                        .and_then(|rest| rest.strip_suffix(suffix.as_str()))
                        == Some(tid)
            }),
        }
    }

    fn lock(&self) -> MutexGuard<'_, IssuerKeys> {
        // A panic elsewhere while holding the lock cannot leave the cache
        // half-updated in a way that accepts a bad token: every update is a
        // whole-value replacement. Keep serving.
        self.keys.lock().unwrap_or_else(PoisonError::into_inner)
    }
}

/// Whether `tid` can stand in for `{tenantid}`: the validator's own rule
/// (an Entra tenant id: 1-64 ASCII letters, digits and `-`), applied at
/// selection too, so a `tid` holding `/`, `..` or nothing cannot steer a
/// token that names another configured issuer into the template.
fn valid_tenant(tid: &str) -> bool {
    !tid.is_empty()
        && tid.len() <= 64
        && tid.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'-')
}

/// Extraction, issuer selection, key lookup, JWT validation, role mapping
/// and policy in one sans-IO check. `Send + Sync`: share one gate across
/// requests; each issuer's key cache sits behind its own short lock.
#[derive(Debug)]
pub struct Gate {
    issuers: Vec<Issuer>,
    sources: Vec<TokenSource>,
    realm: String,
    policy: CompiledPolicy,
    max_token_size: usize,
}

/// Why key selection did not hand the validator a key set.
enum KeyStep {
    /// The token is refused (unknown key, or a validation error on the way).
    Invalid(JwtError),
    /// The gate answers otherwise: fetch keys, wait, or 503.
    Stop(Box<Authn>),
}

impl KeyStep {
    /// Boxed: the answer is rare (cold cache) and large.
    fn stop(authn: Authn) -> Self {
        Self::Stop(Box::new(authn))
    }
}

impl From<JwtError> for KeyStep {
    fn from(e: JwtError) -> Self {
        Self::Invalid(e)
    }
}

/// Result of the authentication stage.
enum Authn {
    Principal(Box<Principal>),
    Fetch(FetchPlan),
    Reject(Rejection),
}

impl Gate {
    /// Builds a gate.
    ///
    /// # Errors
    /// [`Error::Gate`] when there is no issuer, an issuer has no audience or
    /// no way to find its keys (a `{tenantid}` template needs `jwks_uri` or
    /// `discovery_url`), the same issuer is configured twice, or an
    /// endpoint is not acceptable, or a discovery duration is negative
    /// (or `discovery_refresh` is not positive);
    /// [`Error::Cache`] when the cache
    /// configuration is inconsistent.
    pub fn new(config: GateConfig) -> Result<Self, Error> {
        if config.issuers.is_empty() {
            return Err(GateError::new("no issuer configured").into());
        }
        if config.discovery_timeout.is_negative() || config.discovery_retry.is_negative() {
            return Err(GateError::new("discovery timeout and retry must not be negative").into());
        }
        if !config.discovery_refresh.is_positive() {
            return Err(GateError::new("discovery refresh must be positive").into());
        }
        let policy = match config.policy {
            Some(policy) => policy,
            None => Policy::from_json(AUTHENTICATED_ONLY)?.compile()?,
        };
        let keys_config = IssuerKeysConfig {
            cache: config.cache,
            discovery: config.discovery,
            discovery_timeout: config.discovery_timeout,
            discovery_retry: config.discovery_retry,
            discovery_refresh: config.discovery_refresh,
        };
        let mut issuers = Vec::with_capacity(config.issuers.len());
        let mut max_token_size = 0;
        for ic in config.issuers {
            if issuers
                .iter()
                .any(|i: &Issuer| i.config.issuer == ic.issuer)
            {
                return Err(GateError::issuer(&ic.issuer, "configured twice").into());
            }
            if ic.audiences.is_empty() {
                return Err(GateError::issuer(&ic.issuer, "has no audience").into());
            }
            let template = match ic.issuer.split_once(TENANT) {
                Some((prefix, suffix)) if !suffix.contains(TENANT) => {
                    Some((prefix.to_owned(), suffix.to_owned()))
                }
                Some(_) => {
                    return Err(GateError::issuer(&ic.issuer, "has `{tenantid}` twice").into());
                }
                None => None,
            };
            let discovery_url = match (&ic.jwks_uri, &ic.discovery_url, &template) {
                (Some(_), _, _) => None,
                (None, Some(url), _) => Some(url.clone()),
                (None, None, None) => Some(discovery::discovery_url(
                    &ic.issuer,
                    &keys_config.discovery,
                )?),
                (None, None, Some(_)) => {
                    return Err(GateError::issuer(
                        &ic.issuer,
                        "is a `{tenantid}` template and needs `jwks_uri` or `discovery_url`",
                    )
                    .into());
                }
            };
            let keys = match (&ic.jwks_uri, &discovery_url) {
                (Some(uri), _) => IssuerKeys::from_jwks_uri(&ic.issuer, uri, keys_config.clone())
                    .map_err(|e| GateError::keys(&ic.issuer, e))?,
                (None, Some(url)) => {
                    IssuerKeys::from_discovery(&ic.issuer, url, keys_config.clone())
                        .map_err(|e| GateError::keys(&ic.issuer, e))?
                }
                (None, None) => {
                    return Err(GateError::issuer(&ic.issuer, "has no key source").into());
                }
            };
            let mut validation = ic.validation.clone();
            validation.issuers = vec![ic.issuer.clone()];
            validation.audiences = ic.audiences.clone();
            max_token_size = max_token_size.max(validation.max_token_size);
            issuers.push(Issuer {
                template,
                validator: Validator::new(validation),
                keys: Mutex::new(keys),
                config: ic,
            });
        }
        Ok(Self {
            issuers,
            sources: config.sources,
            realm: config.realm,
            policy,
            max_token_size,
        })
    }

    /// Checks one request at time `now`: token extraction, issuer
    /// selection by the token's unverified `iss`, key lookup, validation,
    /// role mapping, then the policy with `facts`.
    ///
    /// A request without a token is evaluated anonymously (anonymous
    /// routes pass; others get 401 with a bare challenge). A request with a
    /// token that fails validation gets 401 `invalid_token` even on an
    /// anonymous route: a client sending a bad token should learn of it.
    /// Likewise a token on an anonymous route waits for its issuer's keys
    /// ([`Outcome::FetchKeys`], or 503 when they are unavailable) instead of
    /// passing as anonymous: an origin must never receive a token the gate
    /// has not verified.
    pub fn check(&self, parts: &Parts, facts: &RequestFacts<'_>, now: OffsetDateTime) -> Outcome {
        // A `max_token_size` raised above the extraction default (Entra
        // tokens with many groups) is honoured; a lowered one is left to the
        // validator, which answers 401 `invalid_token` rather than 400.
        let limit = self.max_token_size.max(extract::DEFAULT_MAX_TOKEN_LEN);
        let token = match extract::extract_with(parts, &self.sources, limit) {
            Ok(token) => token,
            Err(e) => return Outcome::Deny(self.realm(Rejection::invalid_request(&e))),
        };
        let principal = match token {
            None => None,
            Some(token) => match self.authenticate(token.as_str(), now) {
                Authn::Principal(p) => Some(p),
                Authn::Fetch(plan) => return Outcome::FetchKeys(plan),
                Authn::Reject(r) => return Outcome::Deny(self.realm(r)),
            },
        };
        self.authorize(facts, principal)
    }

    fn realm(&self, rejection: Rejection) -> Rejection {
        rejection.with_realm(self.realm.as_str())
    }

    fn authenticate(&self, token: &str, now: OffsetDateTime) -> Authn {
        let issuer = match self.select_issuer(token) {
            Ok(issuer) => issuer,
            Err(r) => return Authn::Reject(*r),
        };
        // The validator parses the header once and checks `alg` against
        // this issuer's allow-list before it asks for keys (RFC 8725,
        // STYLE.md 8): an `alg` the issuer does not accept never reaches
        // the cache, so it neither fetches nor names the issuer.
        let mut selected = false;
        // The role mapper reads the claims as a map: build it in the
        // validation pass itself rather than parsing the payload again. A
        // verified claims set that JSON allows but a map of `Value`s cannot
        // hold (a number beyond f64, a lone surrogate) is refused like any
        // other malformed claims set: mapping it from an empty map would
        // pass a principal with no subject and no roles (fail closed).
        let claims = issuer
            .validator
            .validate_selecting::<Map<String, Value>, _, _, _>(
                token,
                |kid, alg| {
                    selected = true;
                    self.keys_for(issuer, kid, alg, now)
                },
                now,
            );
        let raw = match claims {
            Ok(claims) => claims.into_typed(),
            Err(KeyStep::Stop(authn)) => return *authn,
            Err(KeyStep::Invalid(e)) if selected => return self.invalid(issuer, &e),
            Err(KeyStep::Invalid(e)) => return Authn::Reject(rejection_for(&e)),
        };
        let mut principal = issuer.config.roles.map_owned(raw);
        if principal.issuer.is_none() {
            principal.issuer = Some(issuer.config.issuer.clone());
        }
        Authn::Principal(Box::new(principal))
    }

    /// The rejection for a token that failed validation once its issuer's
    /// keys were asked for.
    fn invalid(&self, issuer: &Issuer, error: &JwtError) -> Authn {
        Authn::Reject(rejection_for(error).with_issuer(issuer.config.issuer.as_str()))
    }

    /// The issuer's current key set for a token with this `kid` and `alg`,
    /// or what to do instead (fetch, wait, refuse). The lock is released
    /// before the signature is verified.
    fn keys_for(
        &self,
        issuer: &Issuer,
        kid: Option<&str>,
        alg: Algorithm,
        now: OffsetDateTime,
    ) -> Result<Arc<KeySet>, KeyStep> {
        let lookup = issuer.lock().lookup(kid, alg, now);
        let unavailable = |what: &str, retry_at| {
            let rejection = Rejection::unavailable(what).with_issuer(issuer.config.issuer.as_str());
            Err(KeyStep::stop(Authn::Reject(retry_after(
                rejection, retry_at, now,
            ))))
        };
        match lookup {
            KeyLookup::Keys(keys) => Ok(keys),
            KeyLookup::Fetch(plan) => Err(KeyStep::stop(Authn::Fetch(plan))),
            KeyLookup::Unavailable {
                kind: FetchKind::Discovery,
                retry_at,
            } => unavailable("the issuer's discovery document is unavailable", retry_at),
            KeyLookup::Unavailable { retry_at, .. } => {
                unavailable("the issuer's keys are unavailable", retry_at)
            }
            KeyLookup::Unknown => Err(KeyStep::Invalid(JwtError::UnknownKey {
                kid: kid.map(str::to_owned),
                alg: format!("{alg:?}"),
            })),
        }
    }

    /// Chooses the issuer by the token's unverified `iss` (and `tid` for a
    /// template). With one issuer there is nothing to choose: the validator
    /// checks `iss` itself, and the claims are parsed only once.
    fn select_issuer(&self, token: &str) -> Result<&Issuer, Box<Rejection>> {
        if let [only] = self.issuers.as_slice() {
            return Ok(only);
        }
        let inspected =
            jwt::inspect(token, self.max_token_size).map_err(|e| Box::new(rejection_for(&e)))?;
        let iss = inspected.issuer.as_deref().unwrap_or_default();
        self.issuers
            .iter()
            .find(|i| i.matches(iss, inspected.tenant_id.as_deref()))
            .ok_or_else(|| {
                Box::new(Rejection::invalid_token(format!(
                    "issuer `{}` is not trusted",
                    for_audit(iss)
                )))
            })
    }

    fn authorize(&self, facts: &RequestFacts<'_>, principal: Option<Box<Principal>>) -> Outcome {
        let decision = self.policy.evaluate(facts, principal.as_deref());
        if decision.is_allowed() {
            return Outcome::Allow {
                principal,
                decision,
            };
        }
        Outcome::Deny(self.realm(rejection_for_decision(&decision, principal.as_deref())))
    }

    /// Feeds the response to a [`FetchPlan`] back to the gate.
    ///
    /// # Errors
    /// [`Error::Gate`] when the plan names an issuer this gate does not
    /// have or a URL that is not that issuer's endpoint (a plan from another
    /// gate); [`Error::Discovery`] when a discovery document is refused;
    /// [`Error::Cache`] when a key set response is refused (the cache then
    /// keeps serving its last good set and backs off). In every error case
    /// the failure is recorded, so the caller only needs to log it.
    pub fn apply_fetch_response(
        &self,
        plan: &FetchPlan,
        status: StatusCode,
        headers: &HeaderMap,
        body: &[u8],
        now: OffsetDateTime,
    ) -> Result<(), Error> {
        let issuer = self.issuer(plan.issuer())?;
        let result = issuer.lock().apply(plan, status, headers, body, now);
        result.map_err(|e| GateError::keys(plan.issuer(), e).into())
    }

    /// Feeds a JWKS response for `issuer` (as configured) to the gate: the
    /// same as [`apply_fetch_response`](Self::apply_fetch_response) with a
    /// [`FetchKind::Jwks`] plan, for callers that route fetches by issuer.
    ///
    /// # Errors
    /// As [`apply_fetch_response`](Self::apply_fetch_response); also
    /// [`Error::Gate`] when the issuer's `jwks_uri` is not known yet (its
    /// discovery document has not been applied).
    pub fn apply_jwks_response(
        &self,
        issuer: &str,
        status: StatusCode,
        headers: &HeaderMap,
        body: &[u8],
        now: OffsetDateTime,
    ) -> Result<(), Error> {
        let entry = self.issuer(issuer)?;
        let result = entry.lock().apply_jwks_response(status, headers, body, now);
        result.map_err(|e| GateError::keys(issuer, e).into())
    }

    /// Records that the fetch for `plan` failed (network error, timeout).
    /// Keys already held keep serving; the next fetch waits out a backoff.
    pub fn apply_fetch_failure(&self, plan: &FetchPlan, reason: &str, now: OffsetDateTime) {
        let Ok(issuer) = self.issuer(plan.issuer()) else {
            return;
        };
        issuer.lock().apply_failure(plan, reason, now);
    }

    /// Fetches due now without any request asking: key sets (cold start,
    /// refresh-ahead of expiry, retries) and discovery documents (an
    /// issuer's first, and every [`GateConfig::discovery_refresh`] after
    /// that). Call it from a timer (or a Worker's `waitUntil`) and feed
    /// each answer to [`apply_fetch_response`](Self::apply_fetch_response)
    /// or [`apply_fetch_failure`](Self::apply_fetch_failure). Each plan is
    /// handed out once until it is answered or times out.
    pub fn poll(&self, now: OffsetDateTime) -> Vec<FetchPlan> {
        let mut plans = Vec::new();
        for issuer in &self.issuers {
            plans.extend(issuer.lock().poll(now));
        }
        plans
    }

    /// The key cache state of `issuer`, to persist (e.g. in Workers KV) and
    /// share across processes. `None` before the issuer's keys were found.
    pub fn export_state(&self, issuer: &str) -> Option<CacheState> {
        self.issuer(issuer).ok()?.lock().export_state()
    }

    /// Restores a state saved with [`export_state`](Self::export_state).
    /// A state whose key set is older than the one already held is ignored.
    /// For an issuer found through discovery that has not run yet in this
    /// process, the state's own `jwks_uri` is adopted, so a Worker isolate
    /// restoring from KV needs no discovery fetch; keep the state where
    /// only the gateway can write it.
    ///
    /// # Errors
    /// [`Error::Gate`] for an unknown issuer; [`Error::Cache`] when the state
    /// is corrupt, belongs to another issuer or endpoint, or is too old.
    pub fn import_state(
        &self,
        issuer: &str,
        saved: &CacheState,
        now: OffsetDateTime,
    ) -> Result<(), Error> {
        let entry = self.issuer(issuer)?;
        let result = entry.lock().import_state(saved, now);
        result.map_err(|e| GateError::keys(issuer, e).into())
    }

    /// The configured issuers, in order.
    pub fn issuers(&self) -> impl Iterator<Item = &str> {
        self.issuers.iter().map(|i| i.config.issuer.as_str())
    }

    fn issuer(&self, issuer: &str) -> Result<&Issuer, GateError> {
        self.issuers
            .iter()
            .find(|i| i.config.issuer == issuer)
            .ok_or_else(|| GateError::issuer(issuer, "is not configured"))
    }
}

/// A 503 announces when the next fetch will be tried (the end of the
/// backoff), so that clients and load balancers do not retry in a loop.
fn retry_after(
    rejection: Rejection,
    next_try: Option<OffsetDateTime>,
    now: OffsetDateTime,
) -> Rejection {
    match next_try {
        Some(at) if at > now => rejection.with_retry_after(at - now),
        _ => rejection,
    }
}

/// An unverified value from a token made fit for the audit record and
/// logs: control and non-ASCII characters escaped (no forged log lines),
/// clipped to 128 bytes (the token may be 8 KiB of `iss`).
fn for_audit(value: &str) -> String {
    clipped(value, 128)
}

/// `value` with control and non-ASCII characters escaped, clipped to about
/// `max` bytes.
fn clipped(value: &str, max: usize) -> String {
    crate::text::printable(value, max)
}

/// The rejection for a token that failed validation. The wire shows only
/// RFC 6750's `invalid_token`; the error text goes to the audit record.
fn rejection_for(error: &JwtError) -> Rejection {
    // The text quotes unverified header and claim values (`kid`, `iss`,
    // `typ`): escape and clip it before it reaches the audit log.
    let reason = clipped(&error.to_string(), 512);
    match error {
        JwtError::Expired { .. } => Rejection::expired_token(reason),
        _ => Rejection::invalid_token(reason),
    }
}

/// The rejection for a policy deny: 401 when a token would help, 403
/// `insufficient_scope` when the token lacks roles, scopes or claims the
/// route needs, 403 without a challenge otherwise (deny rule, address,
/// country, a malformed path).
fn rejection_for_decision(decision: &Decision, principal: Option<&Principal>) -> Rejection {
    let reasons = decision
        .reasons
        .iter()
        .map(|r| serde_json::to_string(r).unwrap_or_default());
    let rejection = if principal.is_none()
        && (decision.authentication_required() || decision.rule_id.is_none() && !refused(decision))
    {
        Rejection::missing_token()
    } else if let Some(scopes) = decision.required_scopes() {
        Rejection::insufficient_scope(scopes.iter().map(String::as_str))
    } else if principal.is_some() && decision.rule_id.is_none() && lacks_privilege(decision) {
        Rejection::insufficient_scope(std::iter::empty::<&str>())
    } else {
        Rejection::forbidden(decision.rule_id.as_deref(), std::iter::empty::<&str>())
    };
    let rejection = rejection.with_reasons(reasons);
    let rejection = match decision.rule_id.as_deref() {
        Some(rule) => rejection.with_rule(rule),
        None => rejection,
    };
    match principal {
        Some(p) => {
            let r = match &p.subject {
                Some(sub) => rejection.with_subject(sub.as_str()),
                None => rejection,
            };
            match &p.issuer {
                Some(iss) => r.with_issuer(iss.as_str()),
                None => r,
            }
        }
        None => rejection,
    }
}

/// Whether the request itself was refused before matching (bad path).
fn refused(decision: &Decision) -> bool {
    decision
        .reasons
        .iter()
        .any(|r| matches!(r, Reason::RequestRejected { .. }))
}

/// Whether an allow rule matched the route and failed only on what the token
/// grants (roles, scopes, claims).
fn lacks_privilege(decision: &Decision) -> bool {
    decision.reasons.iter().any(|r| match r {
        Reason::RequirementsNotMet { failures, .. } => failures.iter().all(|f| {
            matches!(
                f,
                Failure::NoneOfRoles { .. }
                    | Failure::MissingRoles { .. }
                    | Failure::MissingScopes { .. }
                    | Failure::ClaimMismatch { .. }
            )
        }),
        _ => false,
    })
}

/// A gate that cannot be built, or a fetch response for an unknown issuer.
#[derive(Debug, thiserror::Error)]
#[error("{message}")]
pub struct GateError {
    message: String,
}

impl GateError {
    fn new(message: &str) -> Self {
        Self {
            message: message.to_owned(),
        }
    }

    fn keys(issuer: &str, source: KeysError) -> Self {
        Self {
            message: format!("issuer `{issuer}`: {source}"),
        }
    }

    fn issuer(issuer: &str, what: &str) -> Self {
        Self {
            message: format!("issuer `{issuer}` {what}"),
        }
    }
}
