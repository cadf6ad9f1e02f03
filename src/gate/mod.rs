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
//! **Opaque tokens.** An issuer configured with
//! [`IssuerConfig::with_introspection`] receives every token that is not
//! shaped like a JWT (three dot-separated base64url segments). The gate
//! asks for it with the same [`Outcome::FetchKeys`]: a plan of kind
//! [`FetchKind::Introspection`] whose [`FetchPlan::introspection`] request
//! the caller POSTs (instead of a GET of [`FetchPlan::url`]); the answer
//! goes to [`Gate::apply_fetch_response`] and the request is checked again,
//! as for keys. An inactive token gets 401 `invalid_token`; an endpoint
//! that fails, 503 with `Retry-After`. See [`crate::introspect`] for the
//! cache rules.
//!
//! An opt-in verified-token cache
//! ([`GateConfig::with_token_cache`]) lets a repeated token skip its
//! signature verification; [`cache`] says why that is safe and what it
//! costs.
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
//! match gate.check(&parts, &RequestFacts::from_parts(&parts), now) {
//!     Outcome::Deny(rejection) => assert_eq!(rejection.to_response().status(), 401),
//!     // `Outcome` is closed: these arms are all the rest.
//!     Outcome::Allow { .. } | Outcome::FetchKeys(_) | Outcome::Preflight(_) => {
//!         panic!("a request without a token passed")
//!     }
//! }
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! ```
//!
//! # CORS
//!
//! With `cors` settings in the policy (see [`crate::policy`] and
//! [`crate::cors`]), a driver does three things: send the response of
//! [`Outcome::Preflight`] as it is (204, never forwarded); send a
//! [`Outcome::Deny`]'s `to_response()` / `to_problem_json()` as usual (its
//! CORS headers are already in it); and on [`Outcome::Allow`], add
//! [`Gate::cors_headers`] to the upstream's response with
//! [`cors::apply_to`](crate::cors::apply_to).
//!
//! ```
//! use edge_auth::gate::{Gate, GateConfig, IssuerConfig, Outcome};
//! use edge_auth::policy::{Policy, RequestFacts};
//! use time::macros::datetime;
//!
//! let policy = Policy::from_json(r#"{
//!   "cors": { "app": { "origins": ["https://app.example.com"],
//!                      "methods": ["PUT"], "headers": ["authorization"] } },
//!   "rules": [ { "id": "orders", "match": { "paths": ["/orders/{id}"] },
//!                "require": { "authenticated": true }, "effect": "allow", "cors": "app" } ]
//! }"#)?.compile()?;
//! let issuer = IssuerConfig::new("https://idp.example.com", ["api://orders"])
//!     .with_jwks_uri("https://idp.example.com/jwks");
//! let gate = Gate::new(GateConfig::new([issuer]).with_policy(policy))?;
//! let now = datetime!(2026-11-23 10:00:00 UTC);
//!
//! let (parts, ()) = http::Request::options("/orders/7")
//!     .header("origin", "https://app.example.com")
//!     .header("access-control-request-method", "PUT")
//!     .header("access-control-request-headers", "authorization")
//!     .body(())?
//!     .into_parts();
//! match gate.check(&parts, &RequestFacts::from_parts(&parts), now) {
//!     Outcome::Preflight(response) => {
//!         assert_eq!(response.status(), 204);
//!         assert_eq!(response.headers()["access-control-allow-origin"], "https://app.example.com");
//!     }
//!     Outcome::Allow { .. } | Outcome::Deny(_) | Outcome::FetchKeys(_) => panic!("not answered"),
//! }
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! ```

pub mod cache;
mod check;
mod config;
mod cors;
mod error;
mod limits;
mod mtls;
mod presets;
mod reload;
mod select;

use std::sync::{Arc, Mutex, MutexGuard, PoisonError};

use http::{HeaderMap, Response, StatusCode};
use time::OffsetDateTime;

use self::cache::TokenCache;
pub use self::cache::{TokenCacheConfig, TokenCacheStats};
pub use self::config::{GateConfig, IssuerConfig};
pub use self::error::GateError;
pub use self::limits::{PendingLimits, Staged};
pub use self::presets::CF_ACCESS_JWT_ASSERTION;
use crate::extract::TokenSource;
use crate::jwk::cache::CacheState;
use crate::jwk::discovery;
pub use crate::jwk::{FetchKind, FetchPlan};
use crate::jwk::{IssuerKeys, IssuerKeysConfig};
use crate::jwt::Validator;
use crate::limit::{LimitStore, MemoryStore};
use crate::oidc::Principal;
use crate::policy::Decision;
#[cfg(feature = "policy")]
use crate::policy::Policy;
use crate::response::Rejection;

/// The placeholder in an issuer that stands for the token's tenant (Entra ID
/// multi-tenant applications).
const TENANT: &str = "{tenantid}";

/// The policy used when [`GateConfig::policy`] is `None`: every request needs
/// a valid token. Without the `policy` feature the Gate decides the same
/// with [`Decision::authenticated_only`](crate::policy::Decision).
#[cfg(any(test, feature = "policy"))]
const AUTHENTICATED_ONLY: &str = r#"{"rules":[{"id":"authenticated","match":{"paths":["/**"]},"require":{"authenticated":true},"effect":"allow"}]}"#;

/// What the gate decided about a request.
/// A closed protocol: match it exhaustively, no wildcard arm needed.
#[derive(Debug)]
pub enum Outcome {
    /// Let the request through. `principal` is `None` on an anonymous route
    /// reached without a token. When the rule has rate limits,
    /// `decision.rate_limits` says what each decided; copy them onto the
    /// response with [`Decision::apply_rate_limit_headers`].
    Allow {
        /// Who made the request.
        principal: Option<Box<Principal>>,
        /// The policy decision, for the audit log.
        decision: Decision,
    },
    /// Turn the request away with [`Rejection::to_response`].
    Deny(Rejection),
    /// Fetch [`FetchPlan::url`] (for an introspection, POST
    /// [`FetchPlan::introspection`]'s request), give the response to
    /// [`Gate::apply_fetch_response`], then check the request again.
    FetchKeys(FetchPlan),
    /// The gate answers the request itself: send this response and do not
    /// forward the request. An allowed CORS preflight (204 with the
    /// `Access-Control-*` and `Vary` headers, empty body; only a policy
    /// with `cors` settings produces it, and a refused preflight is an
    /// [`Outcome::Deny`] (403)), or, with
    /// [`GateConfig::with_resource_metadata`], `GET` of the RFC 9728
    /// metadata document (200 `application/json`). Not a denial: no token
    /// is needed for either.
    Preflight(Response<Vec<u8>>),
}

#[derive(Debug)]
struct Issuer {
    /// Its place in `Gate::issuers`: the token cache's name for it.
    index: usize,
    config: IssuerConfig,
    /// `{tenantid}` template split around the placeholder.
    template: Option<(String, String)>,
    validator: Validator,
    keys: Mutex<IssuerKeys>,
    /// Present when the issuer's opaque tokens are introspected.
    #[cfg(feature = "introspect")]
    introspector: Option<Mutex<crate::introspect::Introspector>>,
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

    #[cfg(feature = "introspect")]
    fn introspector(&self) -> Option<MutexGuard<'_, crate::introspect::Introspector>> {
        // As for the keys: every update replaces whole entries.
        self.introspector
            .as_ref()
            .map(|m| m.lock().unwrap_or_else(PoisonError::into_inner))
    }

    fn lock(&self) -> MutexGuard<'_, IssuerKeys> {
        // A panic elsewhere while holding the lock cannot leave the cache
        // half-updated in a way that accepts a bad token: every update is a
        // whole-value replacement. Keep serving.
        self.keys.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// Runs `f` on the key machine and says whether the key set changed.
    fn update<T>(&self, f: impl FnOnce(&mut IssuerKeys) -> T) -> (T, bool) {
        let mut keys = self.lock();
        let before = keys.key_set_version();
        let out = f(&mut keys);
        let changed = keys.key_set_version() != before;
        (out, changed)
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
    /// The policy and role mappers, swapped whole by a reload.
    authz: reload::AuthzCell,
    max_token_size: usize,
    token_cache: Option<TokenCache>,
    /// Present when the policy declares rate limits.
    limit_store: Option<Arc<dyn LimitStore>>,
    limit_fail_open: bool,
    #[cfg(feature = "dpop")]
    dpop: Option<crate::dpop::GateDpop>,
    #[cfg(feature = "httpsig")]
    client_cert_header: Option<http::HeaderName>,
    /// The RFC 9728 document the gate serves, and its URL.
    metadata: Option<crate::resource_metadata::Published>,
}

impl Gate {
    /// Builds a gate.
    ///
    /// # Errors
    /// [`GateError::Config`] when there is no issuer, an issuer has no
    /// audience or no way to find its keys (a `{tenantid}` template needs
    /// `jwks_uri` or `discovery_url`), the same issuer is configured twice,
    /// a discovery duration is negative (or `discovery_refresh` is not
    /// positive), an issuer or a policy rule requires sender-constrained
    /// tokens without [`GateConfig::dpop`], the
    /// [resource metadata](GateConfig::resource_metadata) is not
    /// acceptable, or two issuers introspect; [`GateError::Keys`] when an
    /// endpoint is not acceptable or the cache configuration is
    /// inconsistent; [`GateError::Introspect`] when an introspection
    /// configuration is refused.
    pub fn new(config: GateConfig) -> Result<Self, GateError> {
        if config.issuers.is_empty() {
            return Err(GateError::config("no issuer configured"));
        }
        if config.discovery_timeout.is_negative() || config.discovery_retry.is_negative() {
            return Err(GateError::config(
                "discovery timeout and retry must not be negative",
            ));
        }
        if !config.discovery_refresh.is_positive() {
            return Err(GateError::config("discovery refresh must be positive"));
        }
        if config.token_cache.as_ref().is_some_and(|c| c.capacity == 0) {
            return Err(GateError::config("token cache capacity must be positive"));
        }
        #[cfg(feature = "policy")]
        let policy = match config.policy {
            Some(policy) => policy,
            None => Policy::from_json(AUTHENTICATED_ONLY)
                .and_then(|p| p.compile())
                .map_err(|source| GateError::Policy { source })?,
        };
        // Without the policy engine: no rules to evaluate (the Gate decides
        // with `Decision::authenticated_only`), no CORS, no limits.
        #[cfg(not(feature = "policy"))]
        let policy = crate::policy::CompiledPolicy::empty();
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
                return Err(GateError::issuer(&ic.issuer, "configured twice"));
            }
            if ic.audiences.is_empty() {
                return Err(GateError::issuer(&ic.issuer, "has no audience"));
            }
            let template = match ic.issuer.split_once(TENANT) {
                Some((prefix, suffix)) if !suffix.contains(TENANT) => {
                    Some((prefix.to_owned(), suffix.to_owned()))
                }
                Some(_) => {
                    return Err(GateError::issuer(&ic.issuer, "has `{tenantid}` twice"));
                }
                None => None,
            };
            let discovery_url = match (&ic.jwks_uri, &ic.discovery_url, &template) {
                (Some(_), _, _) => None,
                (None, Some(url), _) => Some(url.clone()),
                (None, None, None) => Some(
                    discovery::discovery_url(&ic.issuer, &keys_config.discovery)
                        .map_err(|e| GateError::keys(&ic.issuer, e.into()))?,
                ),
                (None, None, Some(_)) => {
                    return Err(GateError::issuer(
                        &ic.issuer,
                        "is a `{tenantid}` template and needs `jwks_uri` or `discovery_url`",
                    ));
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
                    return Err(GateError::issuer(&ic.issuer, "has no key source"));
                }
            };
            let mut validation = ic.validation.clone();
            validation.issuers = vec![ic.issuer.clone()];
            validation.audiences = ic.audiences.clone();
            max_token_size = max_token_size.max(validation.max_token_size);
            #[cfg(feature = "introspect")]
            let introspector = match &ic.introspection {
                None => None,
                Some(_) if issuers.iter().any(|i: &Issuer| i.introspector.is_some()) => {
                    return Err(GateError::issuer(
                        &ic.issuer,
                        "introspects, and so does another issuer: opaque tokens could not be routed",
                    ));
                }
                Some(config) => {
                    let config = config
                        .clone()
                        .with_issuer(ic.issuer.as_str())
                        .with_audiences(ic.audiences.iter().cloned());
                    let introspector = crate::introspect::Introspector::new(config)
                        .map_err(|e| GateError::introspect(&ic.issuer, e))?;
                    Some(Mutex::new(introspector))
                }
            };
            issuers.push(Issuer {
                #[cfg(feature = "introspect")]
                introspector,
                index: issuers.len(),
                template,
                validator: Validator::new(validation),
                keys: Mutex::new(keys),
                config: ic,
            });
        }
        #[cfg(feature = "dpop")]
        let dpop_on = config.dpop.is_some();
        #[cfg(not(feature = "dpop"))]
        let dpop_on = false;
        if let Some(i) = issuers
            .iter()
            .find(|i| i.config.sender_constrained && !dpop_on)
        {
            return Err(GateError::issuer(
                &i.config.issuer,
                "requires sender-constrained tokens but dpop is not configured",
            ));
        }
        if let (Some(rule), false) = (policy.sender_constrained_rule(), dpop_on) {
            return Err(GateError::config(format!(
                "policy rule `{rule}` requires sender-constrained tokens but dpop is not configured"
            )));
        }
        // With `policy` always present (a reloaded policy may bring limits);
        // without it no rule has limits: no default store, so that
        // its code (reached through the `dyn LimitStore`) stays out.
        let limit_store = match config.limit_store {
            Some(store) => Some(store),
            None if cfg!(feature = "policy") => {
                Some(Arc::new(MemoryStore::default()) as Arc<dyn LimitStore>)
            }
            None => None,
        };
        let metadata = match config.resource_metadata {
            Some(metadata) => {
                #[cfg(feature = "dpop")]
                let metadata = match &config.dpop {
                    Some(dpop) if metadata.dpop_signing_alg_values_supported.is_empty() => metadata
                        .with_dpop_signing_alg_values_supported(
                            dpop.config.algorithms.iter().copied(),
                        ),
                    _ => metadata,
                };
                Some(
                    crate::resource_metadata::Published::new(&metadata)
                        .map_err(|e| GateError::config(format!("resource metadata: {e}")))?,
                )
            }
            None => None,
        };
        let roles = issuers.iter().map(|i| i.config.roles.clone()).collect();
        Ok(Self {
            issuers,
            sources: config.sources,
            realm: config.realm,
            authz: reload::AuthzCell::new(policy, roles),
            max_token_size,
            token_cache: config.token_cache.as_ref().map(TokenCache::new),
            limit_store,
            limit_fail_open: config.limit_fail_open,
            #[cfg(feature = "dpop")]
            dpop: config.dpop,
            #[cfg(feature = "httpsig")]
            client_cert_header: config.client_cert_header,
            metadata,
        })
    }

    /// The token cache's counters, or `None` when it is off.
    pub fn token_cache_stats(&self) -> Option<TokenCacheStats> {
        self.token_cache.as_ref().map(TokenCache::stats)
    }

    /// Empties the token cache of `issuer` when its key set `changed`.
    fn key_set_changed(&self, issuer: &Issuer, changed: bool) {
        if changed && let Some(cache) = &self.token_cache {
            cache.purge_issuer(issuer.index);
        }
    }

    /// Feeds the response to a [`FetchPlan`] back to the gate.
    ///
    /// # Errors
    /// [`GateError::UnknownIssuer`] when the plan names an issuer this gate
    /// does not have; [`GateError::Keys`] with [`KeysError::OtherUrl`](crate::jwk::KeysError::OtherUrl) for a
    /// URL that is not that issuer's endpoint (a plan from another gate),
    /// [`KeysError::Discovery`](crate::jwk::KeysError::Discovery) / [`KeysError::DiscoveryStatus`](crate::jwk::KeysError::DiscoveryStatus) when a
    /// discovery document is refused, [`KeysError::Cache`](crate::jwk::KeysError::Cache) when a key set
    /// response is refused (the cache then
    /// keeps serving its last good set and backs off);
    /// [`GateError::Introspect`] when an introspection answer shows the
    /// endpoint failing (status, not JSON, too large: it backs off). An
    /// answer about the token (inactive, another audience) is not an error:
    /// the next check answers 401. In every error case
    /// the failure is recorded, so the caller only needs to log it.
    pub fn apply_fetch_response(
        &self,
        plan: &FetchPlan,
        status: StatusCode,
        headers: &HeaderMap,
        body: &[u8],
        now: OffsetDateTime,
    ) -> Result<(), GateError> {
        let issuer = self.issuer(plan.issuer())?;
        #[cfg(feature = "introspect")]
        if let Some(request) = plan.introspection() {
            return self.apply_introspection(issuer, request, status, headers, body, now);
        }
        let (result, changed) = issuer.update(|k| k.apply(plan, status, headers, body, now));
        self.key_set_changed(issuer, changed);
        result.map_err(|e| GateError::keys(plan.issuer(), e))
    }

    /// Feeds a JWKS response for `issuer` (as configured) to the gate: the
    /// same as [`apply_fetch_response`](Self::apply_fetch_response) with a
    /// [`FetchKind::Jwks`] plan, for callers that route fetches by issuer.
    ///
    /// # Errors
    /// As [`apply_fetch_response`](Self::apply_fetch_response); also
    /// [`GateError::Keys`] with [`KeysError::NoJwksUri`](crate::jwk::KeysError::NoJwksUri) when the issuer's
    /// `jwks_uri` is not known yet (its
    /// discovery document has not been applied).
    pub fn apply_jwks_response(
        &self,
        issuer: &str,
        status: StatusCode,
        headers: &HeaderMap,
        body: &[u8],
        now: OffsetDateTime,
    ) -> Result<(), GateError> {
        let entry = self.issuer(issuer)?;
        let (result, changed) = entry.update(|k| k.apply_jwks_response(status, headers, body, now));
        self.key_set_changed(entry, changed);
        result.map_err(|e| GateError::keys(issuer, e))
    }

    /// Records that the fetch for `plan` failed (network error, timeout).
    /// Keys already held keep serving; the next fetch waits out a backoff.
    pub fn apply_fetch_failure(&self, plan: &FetchPlan, reason: &str, now: OffsetDateTime) {
        let Ok(issuer) = self.issuer(plan.issuer()) else {
            return;
        };
        #[cfg(feature = "introspect")]
        if let Some(request) = plan.introspection() {
            if let Some(mut introspector) = issuer.introspector() {
                introspector.apply_failure(request, now);
            }
            return;
        }
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
    /// [`GateError::UnknownIssuer`] for an unknown issuer;
    /// [`GateError::Keys`] with [`KeysError::Cache`](crate::jwk::KeysError::Cache) when the state
    /// is corrupt, belongs to another issuer or endpoint, or is too old.
    pub fn import_state(
        &self,
        issuer: &str,
        saved: &CacheState,
        now: OffsetDateTime,
    ) -> Result<(), GateError> {
        let entry = self.issuer(issuer)?;
        let (result, changed) = entry.update(|k| k.import_state(saved, now));
        self.key_set_changed(entry, changed);
        result.map_err(|e| GateError::keys(issuer, e))
    }

    /// The issuer's key state sealed with `sealer` (see
    /// [`IssuerKeys::export_sealed`](crate::jwk::IssuerKeys::export_sealed)):
    /// unpadded base64url text to persist in KV or Redis. `None` before the
    /// issuer's `jwks_uri` is known.
    ///
    /// # Errors
    /// [`GateError::UnknownIssuer`] for an unknown issuer;
    /// [`GateError::Keys`] with
    /// [`KeysError::Sealed`](crate::jwk::KeysError::Sealed) when sealing fails.
    pub fn export_sealed(
        &self,
        issuer: &str,
        sealer: &crate::seal::Sealer,
    ) -> Result<Option<String>, GateError> {
        let entry = self.issuer(issuer)?;
        let result = entry.lock().export_sealed(sealer);
        result.map_err(|e| GateError::keys(issuer, e))
    }

    /// Opens a state sealed by [`export_sealed`](Self::export_sealed) for
    /// `issuer` and restores it as [`import_state`](Self::import_state)
    /// does. Sealing is required: a plain JSON state is refused. On any
    /// error nothing is applied; treat the stored state as absent and let
    /// the gate fetch the keys.
    ///
    /// # Errors
    /// [`GateError::UnknownIssuer`] for an unknown issuer;
    /// [`GateError::Keys`] with
    /// [`KeysError::Sealed`](crate::jwk::KeysError::Sealed) when the text
    /// does not open for this issuer (altered, truncated, another issuer's,
    /// an unknown or retired key id, not sealed), and the errors of
    /// [`import_state`](Self::import_state).
    pub fn import_sealed(
        &self,
        issuer: &str,
        sealer: &crate::seal::Sealer,
        sealed: &str,
        now: OffsetDateTime,
    ) -> Result<(), GateError> {
        let entry = self.issuer(issuer)?;
        let (result, changed) = entry.update(|k| k.import_sealed(sealer, sealed, now));
        self.key_set_changed(entry, changed);
        result.map_err(|e| GateError::keys(issuer, e))
    }

    /// The introspection cache counters of `issuer`, or `None` when it
    /// does not introspect (or is unknown).
    #[cfg(feature = "introspect")]
    pub fn introspection_stats(
        &self,
        issuer: &str,
    ) -> Option<crate::introspect::IntrospectionStats> {
        self.issuer(issuer).ok()?.introspector().map(|i| i.stats())
    }

    /// An introspection answer for `issuer`; an answer refused for the
    /// token itself (inactive, wrong `iss` or `aud`, expired) is not an
    /// error here: it is cached, and the check that follows answers 401.
    #[cfg(feature = "introspect")]
    fn apply_introspection(
        &self,
        issuer: &Issuer,
        request: &crate::introspect::IntrospectionRequest,
        status: StatusCode,
        headers: &HeaderMap,
        body: &[u8],
        now: OffsetDateTime,
    ) -> Result<(), GateError> {
        let Some(mut introspector) = issuer.introspector() else {
            return Err(GateError::introspect(
                &issuer.config.issuer,
                crate::introspect::IntrospectError::OtherPlan,
            ));
        };
        match introspector.apply(request, status, headers, body, now) {
            Ok(_) => Ok(()),
            Err(e) if e.is_about_token() => Ok(()),
            Err(e) => Err(GateError::introspect(&issuer.config.issuer, e)),
        }
    }

    /// The configured issuers, in order.
    pub fn issuers(&self) -> impl Iterator<Item = &str> {
        self.issuers.iter().map(|i| i.config.issuer.as_str())
    }

    fn issuer(&self, issuer: &str) -> Result<&Issuer, GateError> {
        self.issuers
            .iter()
            .find(|i| i.config.issuer == issuer)
            .ok_or_else(|| GateError::unknown(issuer))
    }
}

#[cfg(test)]
mod tests {
    use super::AUTHENTICATED_ONLY;
    use crate::Principal;
    use crate::policy::{Decision, Policy, RequestFacts};

    /// Without the `policy` feature the Gate decides with
    /// `Decision::authenticated_only`: the same decisions as the compiled
    /// default policy, with and without a principal.
    #[test]
    fn authenticated_only_decides_as_the_default_policy() {
        let policy = Policy::from_json(AUTHENTICATED_ONLY)
            .and_then(|p| p.compile())
            .unwrap();
        let method = http::Method::GET;
        let facts = RequestFacts::new(&method, "/any/path");
        let principal = Principal::new("alice");
        for who in [None, Some(&principal)] {
            assert_eq!(
                Decision::authenticated_only(who),
                policy.evaluate(&facts, who),
                "principal {who:?}"
            );
        }
    }
}
