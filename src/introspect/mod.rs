//! Token introspection (RFC 7662) for opaque access tokens: the resource
//! server asks the authorization server whether a token is active and what
//! it stands for. Sans-IO like key fetching: [`Introspector::lookup`]
//! answers from its cache or hands out an [`IntrospectionRequest`] (a form
//! POST, `token=…&token_type_hint=access_token`, with the client
//! authentication of [`crate::oauth`]); the caller sends it and feeds the
//! answer to [`Introspector::apply`] with `now`.
//!
//! The answer is read strictly (RFC 7662 §2.2): `active` is a required
//! boolean, `exp` / `nbf` / `iat` are numbers, `iss` must be the
//! configured issuer and `aud` must name one of the configured audiences,
//! as a JWT's claims must. A 4xx / 5xx, a non-JSON body or a body over the
//! limit is a typed error.
//!
//! The cache is keyed by the SHA-256 of the token (the token is never
//! kept): an active answer until `min(exp, now + cache_ceiling)` and never
//! past `exp`; an inactive one for [`IntrospectionConfig::negative_ttl`];
//! each side bounded. The ceiling is how long a revocation can go
//! unnoticed.
//!
//! ```
//! use edge_auth::Secret;
//! use edge_auth::introspect::{Introspection, IntrospectionConfig, Introspector, Lookup};
//! use edge_auth::oauth::ClientAuth;
//! use http::{HeaderMap, StatusCode};
//! use time::macros::datetime;
//!
//! let config = IntrospectionConfig::new(
//!     "https://idp.example.com/oauth2/introspect",
//!     "gateway",
//!     ClientAuth::secret_basic(Secret::new("s3cret".to_owned())),
//! )?
//! .with_issuer("https://idp.example.com")
//! .with_audiences(["api://orders"]);
//! let mut introspector = Introspector::new(config)?;
//! let now = datetime!(2026-11-23 10:00:00 UTC);
//!
//! let Lookup::Fetch(plan) = introspector.lookup("2YotnFZFEjr1zCsicMWpAA", now)? else {
//!     panic!("a cold cache asks the endpoint");
//! };
//! assert_eq!(plan.to_request().method(), http::Method::POST); // send it with your client
//! let body = br#"{"active":true,"sub":"alice","scope":"orders:read",
//!   "iss":"https://idp.example.com","aud":"api://orders","exp":1795431600}"#;
//! let answer = introspector.apply(&plan, StatusCode::OK, &HeaderMap::new(), body, now)?;
//! assert!(answer.is_active());
//! // The same token again: answered from the cache.
//! match introspector.lookup("2YotnFZFEjr1zCsicMWpAA", now)? {
//!     Lookup::Active(token) => assert!(token.scopes.contains("orders:read")),
//!     other => panic!("not cached: {other:?}"),
//! }
//! # Ok::<(), edge_auth::introspect::IntrospectError>(())
//! ```

mod cache;
mod error;
mod response;

use std::collections::HashMap;
use std::fmt;
use std::sync::Arc;

use http::{HeaderMap, HeaderValue, Method, Request, StatusCode, header};
use time::{Duration, OffsetDateTime};
use url::form_urlencoded;

use self::cache::{Cache, Cached};
pub use self::cache::{IntrospectionStats, TokenHash};
pub use self::error::IntrospectError;
pub use self::response::{ActiveToken, Introspection};
use crate::jwk::discovery::ProviderMetadata;
use crate::oauth::ClientAuth;
use crate::oidc::{Principal, RoleMapper};

/// How an [`Introspector`] asks and what it believes. Secure, bounded
/// defaults; adjust with the `with_*` methods.
#[derive(Debug, Clone)]
#[non_exhaustive]
pub struct IntrospectionConfig {
    /// The introspection endpoint (https; `http` only on a loopback host
    /// with [`with_http_loopback`](Self::with_http_loopback)).
    pub endpoint: String,
    /// The resource server's client id at the authorization server.
    pub client_id: String,
    /// How it authenticates (RFC 7662 §2.1 requires some authorization).
    pub auth: ClientAuth,
    /// The `aud` of a client assertion; `None`: the endpoint.
    pub assertion_audience: Option<String>,
    /// `token_type_hint` sent with each request (default `access_token`;
    /// `None` sends none).
    pub token_type_hint: Option<String>,
    /// The issuer an answer's `iss` must equal. Set by the gate from its
    /// [`IssuerConfig`](crate::gate::IssuerConfig).
    pub issuer: Option<String>,
    /// The audiences an answer's `aud` must name one of. Set by the gate
    /// from its [`IssuerConfig`](crate::gate::IssuerConfig).
    pub audiences: Vec<String>,
    /// Refuse an active answer without `iss` (default `false`: the
    /// endpoint is the issuer's own, reached over TLS; a present `iss`
    /// must always match).
    pub require_issuer: bool,
    /// Refuse an active answer without `aud` (default `true`: without it a
    /// token issued for another resource server of the same issuer would
    /// pass).
    pub require_audience: bool,
    /// Clock leeway for `nbf` and `iat` (default 60 s). `exp` gets none:
    /// an answer is never served past it.
    pub leeway: Duration,
    /// The longest an active answer is served from the cache (default
    /// 60 s): how long a revoked token may still pass.
    pub cache_ceiling: Duration,
    /// How long an inactive (or refused) answer is served (default 10 s).
    pub negative_ttl: Duration,
    /// Most active answers held (default 10 000).
    pub capacity: usize,
    /// Most negative answers held (default 1 000).
    pub negative_capacity: usize,
    /// Largest answer read, in bytes (default 64 KiB).
    pub max_body_bytes: usize,
    /// How long a handed-out request may stay unanswered before another
    /// is handed out for the same token (default 10 s).
    pub request_timeout: Duration,
    /// After the endpoint failed (no answer, 5xx, 401/403, not JSON), how
    /// long tokens not in the cache get 503 before it is asked again
    /// (default 5 s).
    pub failure_backoff: Duration,
}

impl IntrospectionConfig {
    /// Introspection at `endpoint` as client `client_id` with `auth`.
    ///
    /// # Errors
    /// [`IntrospectError::Config`] when the endpoint is not an absolute
    /// `https` URL without credentials or fragment, or the client id is
    /// empty.
    pub fn new(endpoint: &str, client_id: &str, auth: ClientAuth) -> Result<Self, IntrospectError> {
        Self::build(endpoint, client_id, auth, false)
    }

    /// Like [`new`](Self::new), but also accepts `http://` on a loopback
    /// host: development issuers and tests only.
    ///
    /// # Errors
    /// As [`new`](Self::new).
    pub fn with_http_loopback(
        endpoint: &str,
        client_id: &str,
        auth: ClientAuth,
    ) -> Result<Self, IntrospectError> {
        Self::build(endpoint, client_id, auth, true)
    }

    /// Introspection at the `introspection_endpoint` of a discovery
    /// document (RFC 8414 §2); its `issuer` becomes [`issuer`](Self::issuer).
    ///
    /// # Errors
    /// [`IntrospectError::Config`] when the document names no
    /// introspection endpoint; as [`new`](Self::new) otherwise.
    pub fn from_discovery(
        metadata: &ProviderMetadata,
        client_id: &str,
        auth: ClientAuth,
    ) -> Result<Self, IntrospectError> {
        let endpoint = metadata.introspection_endpoint.as_deref().ok_or_else(|| {
            IntrospectError::config("the discovery document has no `introspection_endpoint`")
        })?;
        Ok(Self::new(endpoint, client_id, auth)?.with_issuer(metadata.issuer.as_str()))
    }

    fn build(
        endpoint: &str,
        client_id: &str,
        auth: ClientAuth,
        allow_http_loopback: bool,
    ) -> Result<Self, IntrospectError> {
        crate::oauth::check_endpoint(endpoint, allow_http_loopback).map_err(|e| {
            IntrospectError::config(e.to_string().replace("token endpoint", "endpoint"))
        })?;
        if client_id.is_empty() {
            return Err(IntrospectError::config("the client id is empty"));
        }
        Ok(Self {
            endpoint: endpoint.to_owned(),
            client_id: client_id.to_owned(),
            auth,
            assertion_audience: None,
            token_type_hint: Some("access_token".to_owned()),
            issuer: None,
            audiences: Vec::new(),
            require_issuer: false,
            require_audience: true,
            leeway: Duration::seconds(60),
            cache_ceiling: Duration::seconds(60),
            negative_ttl: Duration::seconds(10),
            capacity: 10_000,
            negative_capacity: 1_000,
            max_body_bytes: 64 * 1024,
            request_timeout: Duration::seconds(10),
            failure_backoff: Duration::seconds(5),
        })
    }

    /// Sets [`issuer`](Self::issuer).
    #[must_use]
    pub fn with_issuer(mut self, issuer: impl Into<String>) -> Self {
        self.issuer = Some(issuer.into());
        self
    }

    /// Sets [`audiences`](Self::audiences).
    #[must_use]
    pub fn with_audiences<I, S>(mut self, audiences: I) -> Self
    where
        I: IntoIterator<Item = S>,
        S: Into<String>,
    {
        self.audiences = audiences.into_iter().map(Into::into).collect();
        self
    }

    /// Sets [`require_issuer`](Self::require_issuer).
    #[must_use]
    pub fn with_require_issuer(mut self, required: bool) -> Self {
        self.require_issuer = required;
        self
    }

    /// Sets [`require_audience`](Self::require_audience).
    #[must_use]
    pub fn with_require_audience(mut self, required: bool) -> Self {
        self.require_audience = required;
        self
    }

    /// Sets [`token_type_hint`](Self::token_type_hint).
    #[must_use]
    pub fn with_token_type_hint(mut self, hint: Option<String>) -> Self {
        self.token_type_hint = hint;
        self
    }

    /// Sets [`assertion_audience`](Self::assertion_audience).
    #[must_use]
    pub fn with_assertion_audience(mut self, audience: impl Into<String>) -> Self {
        self.assertion_audience = Some(audience.into());
        self
    }

    /// Sets [`cache_ceiling`](Self::cache_ceiling).
    #[must_use]
    pub fn with_cache_ceiling(mut self, ceiling: Duration) -> Self {
        self.cache_ceiling = ceiling;
        self
    }

    /// Sets [`negative_ttl`](Self::negative_ttl).
    #[must_use]
    pub fn with_negative_ttl(mut self, ttl: Duration) -> Self {
        self.negative_ttl = ttl;
        self
    }

    /// Sets [`capacity`](Self::capacity) and
    /// [`negative_capacity`](Self::negative_capacity).
    #[must_use]
    pub fn with_capacity(mut self, active: usize, negative: usize) -> Self {
        self.capacity = active;
        self.negative_capacity = negative;
        self
    }

    /// Sets [`leeway`](Self::leeway).
    #[must_use]
    pub fn with_leeway(mut self, leeway: Duration) -> Self {
        self.leeway = leeway;
        self
    }

    /// Sets [`max_body_bytes`](Self::max_body_bytes).
    #[must_use]
    pub fn with_max_body_bytes(mut self, bytes: usize) -> Self {
        self.max_body_bytes = bytes;
        self
    }

    /// Sets [`request_timeout`](Self::request_timeout).
    #[must_use]
    pub fn with_request_timeout(mut self, timeout: Duration) -> Self {
        self.request_timeout = timeout;
        self
    }

    /// Sets [`failure_backoff`](Self::failure_backoff).
    #[must_use]
    pub fn with_failure_backoff(mut self, backoff: Duration) -> Self {
        self.failure_backoff = backoff;
        self
    }
}

/// One introspection request to send: a form POST carrying the token and
/// the client's credentials. `Debug` shows neither; do not log the body.
#[derive(Clone)]
pub struct IntrospectionRequest {
    key: TokenHash,
    endpoint: Arc<str>,
    /// The POST's URI, headers and form body; `None` when in flight.
    /// Kept as parts (not an `http::Request`, whose extensions would make
    /// every plan `!UnwindSafe`).
    request: Option<Arc<Prepared>>,
    issued_at: OffsetDateTime,
}

/// The parts of an introspection POST.
struct Prepared {
    uri: http::Uri,
    headers: HeaderMap,
    body: Vec<u8>,
}

impl fmt::Debug for IntrospectionRequest {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("IntrospectionRequest")
            .field("endpoint", &self.endpoint)
            .field("token", &self.key)
            .field("in_flight", &self.is_in_flight())
            .finish_non_exhaustive()
    }
}

impl PartialEq for IntrospectionRequest {
    fn eq(&self, other: &Self) -> bool {
        self.key == other.key
            && self.endpoint == other.endpoint
            && self.issued_at == other.issued_at
            && self.is_in_flight() == other.is_in_flight()
    }
}

impl Eq for IntrospectionRequest {}

impl IntrospectionRequest {
    /// The HTTP request to send: a POST to the endpoint with the form body
    /// and `Accept: application/json`, credentials marked sensitive. For a
    /// plan [in flight](Self::is_in_flight), an empty POST with no
    /// credentials (there is nothing to send: wait for the other one).
    pub fn to_request(&self) -> Request<Vec<u8>> {
        let mut request = Request::new(Vec::new());
        *request.method_mut() = Method::POST;
        if let Some(prepared) = &self.request {
            *request.uri_mut() = prepared.uri.clone();
            *request.headers_mut() = prepared.headers.clone();
            request.body_mut().clone_from(&prepared.body);
        } else if let Ok(uri) = http::Uri::try_from(&*self.endpoint) {
            *request.uri_mut() = uri;
        }
        request
    }

    /// The endpoint.
    pub fn endpoint(&self) -> &str {
        &self.endpoint
    }

    /// The hash of the token asked about: the single-flight key.
    pub fn token_hash(&self) -> &TokenHash {
        &self.key
    }

    /// When it was handed out.
    pub fn issued_at(&self) -> OffsetDateTime {
        self.issued_at
    }

    /// `true` when the same token's request was already handed out and not
    /// answered yet: wait for it and look up again (it carries no request).
    pub fn is_in_flight(&self) -> bool {
        self.request.is_none()
    }
}

/// What [`Introspector::lookup`] found.
#[derive(Debug, Clone)]
#[non_exhaustive]
pub enum Lookup {
    /// Active, from the cache.
    Active(Arc<ActiveToken>),
    /// Inactive or refused, from the cache: 401 `invalid_token` with this
    /// reason.
    Inactive {
        /// Why (never the token).
        reason: Arc<str>,
    },
    /// Ask the endpoint: send [`IntrospectionRequest::to_request`], then
    /// [`Introspector::apply`] the answer (or
    /// [`Introspector::apply_failure`]).
    Fetch(IntrospectionRequest),
    /// The endpoint failed recently: answer 503 until `retry_at`.
    Unavailable {
        /// When the endpoint will be asked again.
        retry_at: OffsetDateTime,
    },
}

/// The introspection machine of one endpoint: cache, single flight and
/// backoff. Sans-IO: every call takes `now`.
#[derive(Debug)]
pub struct Introspector {
    config: IntrospectionConfig,
    endpoint: Arc<str>,
    cache: Cache,
    /// Requests handed out and not answered, by token hash.
    pending: HashMap<TokenHash, OffsetDateTime>,
    /// Until when the endpoint is not asked (after a failure).
    backoff_until: Option<OffsetDateTime>,
}

impl Introspector {
    /// An introspector for `config`.
    ///
    /// # Errors
    /// [`IntrospectError::Config`] when a duration is not positive
    /// (`negative_ttl` may be zero: no negative caching) or the active
    /// capacity is zero.
    pub fn new(config: IntrospectionConfig) -> Result<Self, IntrospectError> {
        if !config.cache_ceiling.is_positive()
            || !config.request_timeout.is_positive()
            || config.negative_ttl.is_negative()
            || config.failure_backoff.is_negative()
            || config.leeway.is_negative()
        {
            return Err(IntrospectError::config(
                "cache ceiling and request timeout must be positive; ttl, backoff and leeway not negative",
            ));
        }
        if config.capacity == 0 {
            return Err(IntrospectError::config("cache capacity must be positive"));
        }
        if let Some(hint) = &config.token_type_hint
            && (hint.is_empty() || !hint.bytes().all(|b| b.is_ascii_graphic()))
        {
            return Err(IntrospectError::config(
                "token_type_hint must be printable ascii without space",
            ));
        }
        Ok(Self {
            endpoint: Arc::from(config.endpoint.as_str()),
            cache: Cache::new(config.capacity, config.negative_capacity),
            pending: HashMap::new(),
            backoff_until: None,
            config,
        })
    }

    /// The configuration.
    pub fn config(&self) -> &IntrospectionConfig {
        &self.config
    }

    /// The cache's counters.
    pub fn stats(&self) -> IntrospectionStats {
        self.cache.stats()
    }

    /// Forgets every cached answer.
    pub fn clear(&mut self) {
        self.cache.clear();
    }

    /// The cached answer for `token`, or the request to send, or 503.
    ///
    /// # Errors
    /// [`IntrospectError::Request`] when the request cannot be built (the
    /// client assertion source failed).
    pub fn lookup(&mut self, token: &str, now: OffsetDateTime) -> Result<Lookup, IntrospectError> {
        let key = TokenHash::of(token);
        match self.cache.get(&key, now) {
            Some(Cached::Active(t)) => return Ok(Lookup::Active(t)),
            Some(Cached::Refused(reason)) => return Ok(Lookup::Inactive { reason }),
            None => {}
        }
        if let Some(until) = self.backoff_until {
            if now < until {
                return Ok(Lookup::Unavailable { retry_at: until });
            }
            self.backoff_until = None;
        }
        if let Some(at) = self.pending.get(&key)
            && now < *at + self.config.request_timeout
        {
            return Ok(Lookup::Fetch(IntrospectionRequest {
                key,
                endpoint: Arc::clone(&self.endpoint),
                request: None,
                issued_at: *at,
            }));
        }
        let plan = self.plan(token, now)?;
        // Bounded like the negative cache: past it, stale entries go, and
        // a request that cannot be recorded is still handed out (no single
        // flight for it rather than no answer).
        let bound = self.config.negative_capacity.max(64);
        if self.pending.len() >= bound {
            let timeout = self.config.request_timeout;
            self.pending.retain(|_, at| now < *at + timeout);
        }
        if self.pending.len() < bound {
            self.pending.insert(key, now);
        }
        Ok(Lookup::Fetch(plan))
    }

    /// The introspection request for `token` (RFC 7662 §2.1), without
    /// looking at the cache.
    ///
    /// # Errors
    /// [`IntrospectError::Request`] when the client assertion source fails
    /// or the request cannot be built.
    pub fn plan(
        &self,
        token: &str,
        now: OffsetDateTime,
    ) -> Result<IntrospectionRequest, IntrospectError> {
        let mut form = form_urlencoded::Serializer::new(String::new());
        form.append_pair("token", token);
        if let Some(hint) = &self.config.token_type_hint {
            form.append_pair("token_type_hint", hint);
        }
        let audience = self
            .config
            .assertion_audience
            .as_deref()
            .unwrap_or(&self.config.endpoint);
        let authorization = crate::oauth::authenticate(
            &self.config.auth,
            &self.config.client_id,
            audience,
            &mut form,
            now,
        )
        .map_err(|source| IntrospectError::Request { source })?;
        let uri = http::Uri::try_from(self.config.endpoint.as_str())
            .map_err(|_| IntrospectError::config("the endpoint is not a valid request uri"))?;
        let mut headers = HeaderMap::new();
        headers.insert(
            header::CONTENT_TYPE,
            HeaderValue::from_static("application/x-www-form-urlencoded"),
        );
        headers.insert(header::ACCEPT, HeaderValue::from_static("application/json"));
        if let Some(value) = authorization {
            headers.insert(header::AUTHORIZATION, value);
        }
        let request = Prepared {
            uri,
            headers,
            body: form.finish().into_bytes(),
        };
        Ok(IntrospectionRequest {
            key: TokenHash::of(token),
            endpoint: Arc::clone(&self.endpoint),
            request: Some(Arc::new(request)),
            issued_at: now,
        })
    }

    /// Feeds the endpoint's answer to `plan` at `now`: an active answer is
    /// cached until `min(exp, now + cache_ceiling)`, an inactive one (or one
    /// refused for this token: wrong `iss` or `aud`, expired, not yet
    /// valid) for `negative_ttl`; an endpoint failure (status, not JSON,
    /// too large, a bad member) starts the backoff.
    ///
    /// # Errors
    /// The [`IntrospectError`] saying why the answer is refused
    /// ([`IntrospectError::is_about_token`] tells the two kinds apart);
    /// [`IntrospectError::OtherPlan`] for a plan of another endpoint.
    pub fn apply(
        &mut self,
        plan: &IntrospectionRequest,
        status: StatusCode,
        headers: &HeaderMap,
        body: &[u8],
        now: OffsetDateTime,
    ) -> Result<Introspection, IntrospectError> {
        if plan.endpoint != self.endpoint {
            return Err(IntrospectError::OtherPlan);
        }
        self.pending.remove(&plan.key);
        let expect = response::Expect {
            issuer: self.config.issuer.as_deref(),
            audiences: &self.config.audiences,
            require_issuer: self.config.require_issuer,
            require_audience: self.config.require_audience,
            leeway: self.config.leeway,
            max_body_bytes: self.config.max_body_bytes,
        };
        let negative_until = now + self.config.negative_ttl;
        match response::parse(status, headers, body, &expect, now) {
            Ok(Introspection::Active(token)) => {
                let ceiling = now + self.config.cache_ceiling;
                let until = token.expires_at.map_or(ceiling, |exp| exp.min(ceiling));
                self.cache
                    .insert_active(plan.key, Arc::clone(&token), until, now);
                Ok(Introspection::Active(token))
            }
            Ok(Introspection::Inactive) => {
                self.cache.insert_refused(
                    plan.key,
                    Arc::from("the token is not active"),
                    negative_until,
                    now,
                );
                Ok(Introspection::Inactive)
            }
            Err(e) if e.is_about_token() => {
                let reason: Arc<str> = Arc::from(e.to_string());
                self.cache
                    .insert_refused(plan.key, reason, negative_until, now);
                Err(e)
            }
            Err(e) => {
                self.backoff_until = Some(now + self.config.failure_backoff);
                Err(e)
            }
        }
    }

    /// Records that `plan` got no answer (network error, timeout): tokens
    /// not in the cache get 503 for [`IntrospectionConfig::failure_backoff`].
    pub fn apply_failure(&mut self, plan: &IntrospectionRequest, now: OffsetDateTime) {
        if plan.endpoint != self.endpoint {
            return;
        }
        self.pending.remove(&plan.key);
        self.backoff_until = Some(now + self.config.failure_backoff);
    }

    /// The [`Principal`] of an active token: `mapper` over its members,
    /// `scope` added to the scopes, `issuer` when the answer names none.
    pub fn principal(token: &ActiveToken, mapper: &RoleMapper, issuer: Option<&str>) -> Principal {
        let mut principal = mapper.map_owned(token.claims.clone());
        principal.scopes.extend(token.scopes.iter().cloned());
        if principal.subject.is_none() {
            principal.subject.clone_from(&token.subject);
        }
        if principal.issuer.is_none() {
            principal.issuer = issuer.map(str::to_owned);
        }
        principal
    }
}
