//! `TokenCache`: one access token per (client, scope/resource), fetched and
//! refreshed in the plan/apply shape of the key machines: [`TokenCache::poll`]
//! says when a token request is due (cold, expired, refresh-ahead at ~80 %
//! of the lifetime, retry after backoff), at most one at a time; the caller
//! POSTs the [`TokenPlan`] and feeds the answer to
//! [`TokenCache::apply_token_response`] (or [`TokenCache::apply_failure`]).

use std::fmt;

use http::{HeaderMap, Method, Request, StatusCode};
use serde::{Deserialize, Serialize};
use time::{Duration, OffsetDateTime};

use super::response::{ResponseLimits, TokenResponse};
use super::{ClientCredentials, OAuthError, PURPOSE_OAUTH_TOKEN};
use crate::Secret;
use crate::seal::Sealer;

/// How the token cache refreshes and tolerates failure.
#[derive(Debug, Clone)]
#[non_exhaustive]
pub struct TokenCacheConfig {
    /// Refresh ahead once this share of the token's lifetime has passed
    /// (default 80, range 1-100).
    pub refresh_ahead_percent: u8,
    /// A token is never handed out within this margin of its expiry
    /// (default 60 s), for clock skew with the upstream and for the time a
    /// request takes to reach it. A lifetime not longer than the margin is
    /// refused ([`OAuthError::TooShort`]).
    pub skew_margin: Duration,
    /// The first retry delay after a failed request; it doubles with each
    /// further failure (default 2 s).
    pub retry_base: Duration,
    /// The longest retry delay (default 60 s): the cache is back at most
    /// this long after the endpoint recovers.
    pub retry_cap: Duration,
    /// A handed-out request that has seen neither response nor failure
    /// after this long is considered lost and another may be handed out
    /// (default 30 s).
    pub in_flight_timeout: Duration,
    /// Limits and defaults for reading responses.
    pub limits: ResponseLimits,
}

impl Default for TokenCacheConfig {
    fn default() -> Self {
        Self {
            refresh_ahead_percent: 80,
            skew_margin: Duration::seconds(60),
            retry_base: Duration::seconds(2),
            retry_cap: Duration::seconds(60),
            in_flight_timeout: Duration::seconds(30),
            limits: ResponseLimits::default(),
        }
    }
}

impl TokenCacheConfig {
    /// Sets [`skew_margin`](Self::skew_margin).
    #[must_use]
    pub fn with_skew_margin(mut self, margin: Duration) -> Self {
        self.skew_margin = margin;
        self
    }

    /// Sets [`refresh_ahead_percent`](Self::refresh_ahead_percent)
    /// (clamped to 1-100).
    #[must_use]
    pub fn with_refresh_ahead_percent(mut self, percent: u8) -> Self {
        self.refresh_ahead_percent = percent.clamp(1, 100);
        self
    }

    /// Sets the retry backoff's first delay and cap.
    #[must_use]
    pub fn with_retry(mut self, base: Duration, cap: Duration) -> Self {
        self.retry_base = base;
        self.retry_cap = cap;
        self
    }

    /// Sets [`in_flight_timeout`](Self::in_flight_timeout).
    #[must_use]
    pub fn with_in_flight_timeout(mut self, timeout: Duration) -> Self {
        self.in_flight_timeout = timeout;
        self
    }

    /// Sets the response limits.
    #[must_use]
    pub fn with_limits(mut self, limits: ResponseLimits) -> Self {
        self.limits = limits;
        self
    }
}

/// Why a token request is due.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[non_exhaustive]
pub enum TokenReason {
    /// No token yet.
    Cold,
    /// The token is within the skew margin of its expiry, or past it.
    Expired,
    /// The token is still good but past the refresh-ahead point.
    RefreshAhead,
    /// A previous request failed and its backoff has passed.
    Retry,
}

/// A token request the caller should POST, then report with
/// [`TokenCache::apply_token_response`] or [`TokenCache::apply_failure`].
/// `Debug` never shows the body (it may carry a secret or an assertion).
pub struct TokenPlan {
    reason: TokenReason,
    issued_at: OffsetDateTime,
    uri: String,
    headers: HeaderMap,
    body: Secret<Vec<u8>>,
}

impl fmt::Debug for TokenPlan {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("TokenPlan")
            .field("reason", &self.reason)
            .field("issued_at", &self.issued_at)
            .field("uri", &self.uri)
            .field("body", &self.body)
            .finish_non_exhaustive()
    }
}

impl TokenPlan {
    /// Why the request is due.
    pub fn reason(&self) -> TokenReason {
        self.reason
    }

    /// When the plan was handed out (the token's lifetime counts from here).
    pub fn issued_at(&self) -> OffsetDateTime {
        self.issued_at
    }

    /// The token endpoint.
    pub fn uri(&self) -> &str {
        &self.uri
    }

    /// The request to send: a form-encoded POST. Its body and
    /// `Authorization` header carry credentials: never log them.
    pub fn to_request(&self) -> Request<Vec<u8>> {
        let mut request = Request::new(self.body.expose().clone());
        *request.method_mut() = Method::POST;
        if let Ok(uri) = self.uri.parse() {
            *request.uri_mut() = uri;
        }
        *request.headers_mut() = self.headers.clone();
        request
    }
}

struct Current {
    token: Secret<String>,
    obtained_at: OffsetDateTime,
    expires_at: OffsetDateTime,
    scope: Option<String>,
}

/// A token cache for one client and scope set. `Debug` shows times and
/// counters, never the token.
pub struct TokenCache {
    client: ClientCredentials,
    key: String,
    config: TokenCacheConfig,
    current: Option<Current>,
    in_flight_since: Option<OffsetDateTime>,
    failures: u32,
    next_retry_at: Option<OffsetDateTime>,
    last_error: Option<String>,
    requests: u64,
}

impl fmt::Debug for TokenCache {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("TokenCache")
            .field("client", &self.client)
            .field("has_token", &self.current.is_some())
            .field("expires_at", &self.expires_at())
            .field("in_flight_since", &self.in_flight_since)
            .field("failures", &self.failures)
            .field("next_retry_at", &self.next_retry_at)
            .field("last_error", &self.last_error)
            .finish_non_exhaustive()
    }
}

impl TokenCache {
    /// An empty cache for `client`.
    pub fn new(client: ClientCredentials, config: TokenCacheConfig) -> Self {
        let key = client.cache_key();
        Self {
            client,
            key,
            config,
            current: None,
            in_flight_since: None,
            failures: 0,
            next_retry_at: None,
            last_error: None,
            requests: 0,
        }
    }

    /// The client.
    pub fn client(&self) -> &ClientCredentials {
        &self.client
    }

    /// The configuration.
    pub fn config(&self) -> &TokenCacheConfig {
        &self.config
    }

    /// The token to send at `now`: `None` when there is none or it is within
    /// the skew margin of its expiry.
    pub fn get(&self, now: OffsetDateTime) -> Option<&Secret<String>> {
        self.current
            .as_ref()
            .filter(|c| now < c.expires_at.saturating_sub(self.config.skew_margin))
            .map(|c| &c.token)
    }

    /// When the held token expires, if one is held.
    pub fn expires_at(&self) -> Option<OffsetDateTime> {
        self.current.as_ref().map(|c| c.expires_at)
    }

    /// The scope the server granted with the held token, when it said.
    pub fn granted_scope(&self) -> Option<&str> {
        self.current.as_ref().and_then(|c| c.scope.as_deref())
    }

    /// Failed requests since the last success.
    pub fn failures(&self) -> u32 {
        self.failures
    }

    /// Why the last request failed (no credential in it).
    pub fn last_error(&self) -> Option<&str> {
        self.last_error.as_deref()
    }

    /// When the next retry may go out after a failure.
    pub fn next_retry_at(&self) -> Option<OffsetDateTime> {
        self.next_retry_at
    }

    /// Token requests handed out so far.
    pub fn requests(&self) -> u64 {
        self.requests
    }

    /// When the next request will be due, ignoring one in flight: `None`
    /// when one is due now. A driver sleeps until then.
    pub fn next_due_at(&self, now: OffsetDateTime) -> Option<OffsetDateTime> {
        if self.due(now).is_some() {
            return None;
        }
        if self.failures > 0 {
            return self.next_retry_at;
        }
        self.current.as_ref().map(|c| self.refresh_at(c))
    }

    /// The token request due at `now`, if any: cold start, expiry,
    /// refresh-ahead or a retry whose backoff has passed. `None` while one
    /// is in flight (until [`TokenCacheConfig::in_flight_timeout`]).
    ///
    /// # Errors
    /// When the request cannot be built (the assertion source failed, a
    /// scope is invalid); the failure is recorded and backs off like a
    /// failed request.
    pub fn poll(&mut self, now: OffsetDateTime) -> Result<Option<TokenPlan>, OAuthError> {
        if self
            .in_flight_since
            .is_some_and(|t| now < t.saturating_add(self.config.in_flight_timeout))
        {
            return Ok(None);
        }
        let Some(reason) = self.due(now) else {
            return Ok(None);
        };
        let request = match self.client.token_request(now) {
            Ok(r) => r,
            Err(e) => {
                self.record_failure(e.to_string(), now);
                return Err(e);
            }
        };
        self.in_flight_since = Some(now);
        self.requests = self.requests.saturating_add(1);
        let (parts, body) = request.into_parts();
        Ok(Some(TokenPlan {
            reason,
            issued_at: now,
            uri: parts.uri.to_string(),
            headers: parts.headers,
            body: Secret::new(body),
        }))
    }

    /// Feeds the response to `plan`. A usable token replaces the held one;
    /// its lifetime counts from when the plan was handed out. Anything else
    /// counts as a failed request: a held token keeps serving until the
    /// skew margin of its expiry, and the next retry waits out a backoff.
    ///
    /// # Errors
    /// [`OAuthError`] saying why the response was refused (see
    /// [`TokenResponse::parse`]) or [`OAuthError::TooShort`]. The failure
    /// is recorded either way.
    pub fn apply_token_response(
        &mut self,
        plan: &TokenPlan,
        status: StatusCode,
        headers: &HeaderMap,
        body: &[u8],
        now: OffsetDateTime,
    ) -> Result<(), OAuthError> {
        self.end_flight(plan);
        let result = TokenResponse::parse(status, headers, body, &self.config.limits)
            .and_then(|r| self.accept(r, plan.issued_at.min(now)));
        match &result {
            Ok(()) => {
                self.failures = 0;
                self.next_retry_at = None;
                self.last_error = None;
            }
            Err(e) => self.record_failure(e.to_string(), now),
        }
        result
    }

    /// Reports that `plan` got no response (network error, timeout). The
    /// `reason` is kept as [`last_error`](Self::last_error): no credential
    /// in it.
    pub fn apply_failure(&mut self, plan: &TokenPlan, reason: &str, now: OffsetDateTime) {
        self.end_flight(plan);
        self.record_failure(reason.to_owned(), now);
    }

    /// Drops the held token (e.g. the upstream answered 401 to it): the
    /// next [`poll`](Self::poll) asks for a new one.
    pub fn invalidate(&mut self) {
        self.current = None;
    }

    /// The held token as state to share (KV, Redis). It carries the token:
    /// store it sealed ([`export_sealed`](Self::export_sealed)).
    pub fn export_state(&self) -> Option<TokenState> {
        self.current.as_ref().map(|c| TokenState {
            key: self.key.clone(),
            token: c.token.clone(),
            obtained_at: c.obtained_at,
            expires_at: c.expires_at,
            scope: c.scope.clone(),
        })
    }

    /// Takes a token from shared state when it is for this client and
    /// scope, usable at `now`, and expires later than the held one.
    /// Returns whether it was taken.
    ///
    /// # Errors
    /// [`OAuthError::WrongState`] when the state is another client's.
    pub fn import_state(
        &mut self,
        state: TokenState,
        now: OffsetDateTime,
    ) -> Result<bool, OAuthError> {
        if state.key != self.key {
            return Err(OAuthError::WrongState);
        }
        if now >= state.expires_at.saturating_sub(self.config.skew_margin)
            || state.token.expose().is_empty()
            || self
                .current
                .as_ref()
                .is_some_and(|c| c.expires_at >= state.expires_at)
        {
            return Ok(false);
        }
        self.current = Some(Current {
            token: state.token,
            // Another process' clock may run a little ahead of ours.
            obtained_at: state.obtained_at.min(now),
            expires_at: state.expires_at,
            scope: state.scope,
        });
        Ok(true)
    }

    /// The held token's state as JSON sealed with `sealer` (purpose
    /// [`PURPOSE_OAUTH_TOKEN`], subject [`ClientCredentials::cache_key`]),
    /// in the sealer's text form; `None` without a token.
    ///
    /// # Errors
    /// [`OAuthError::Seal`] when sealing fails.
    pub fn export_sealed(&self, sealer: &Sealer) -> Result<Option<String>, OAuthError> {
        let Some(state) = self.export_state() else {
            return Ok(None);
        };
        let json = Secret::new(state.to_json());
        Ok(Some(sealer.seal_to_string(
            PURPOSE_OAUTH_TOKEN,
            &self.key,
            json.expose(),
        )?))
    }

    /// Opens state sealed by [`export_sealed`](Self::export_sealed) (by
    /// this or another process) and imports it as
    /// [`import_state`](Self::import_state) does. A blob that does not open
    /// is an error and nothing changes: treat the state as absent.
    ///
    /// # Errors
    /// [`OAuthError::Seal`] when the blob does not open (tampered, another
    /// client's, unknown key, plain JSON); [`OAuthError::StateJson`];
    /// [`OAuthError::WrongState`].
    pub fn import_sealed(
        &mut self,
        sealer: &Sealer,
        sealed: &str,
        now: OffsetDateTime,
    ) -> Result<bool, OAuthError> {
        let json = Secret::new(sealer.open_str(PURPOSE_OAUTH_TOKEN, &self.key, sealed)?);
        let state = TokenState::from_json(json.expose())?;
        self.import_state(state, now)
    }

    fn end_flight(&mut self, plan: &TokenPlan) {
        if self.in_flight_since == Some(plan.issued_at) {
            self.in_flight_since = None;
        }
    }

    fn accept(
        &mut self,
        response: TokenResponse,
        obtained_at: OffsetDateTime,
    ) -> Result<(), OAuthError> {
        if response.lifetime <= self.config.skew_margin {
            return Err(OAuthError::TooShort {
                lifetime: response.lifetime.whole_seconds(),
                margin: self.config.skew_margin.whole_seconds(),
            });
        }
        let expires_at = obtained_at.saturating_add(response.lifetime);
        // A response to a stale plan never replaces a longer-lived token.
        if self
            .current
            .as_ref()
            .is_some_and(|c| c.expires_at > expires_at)
        {
            return Ok(());
        }
        self.current = Some(Current {
            token: response.access_token,
            obtained_at,
            expires_at,
            scope: response.scope,
        });
        Ok(())
    }

    fn refresh_at(&self, c: &Current) -> OffsetDateTime {
        let life_ms =
            i64::try_from((c.expires_at - c.obtained_at).whole_milliseconds()).unwrap_or(i64::MAX);
        let ahead_ms = life_ms
            .saturating_mul(i64::from(self.config.refresh_ahead_percent.clamp(1, 100)))
            / 100;
        let ahead = c
            .obtained_at
            .saturating_add(Duration::milliseconds(ahead_ms));
        ahead.min(c.expires_at.saturating_sub(self.config.skew_margin))
    }

    fn due(&self, now: OffsetDateTime) -> Option<TokenReason> {
        if self.failures > 0 {
            return self
                .next_retry_at
                .is_none_or(|t| now >= t)
                .then_some(TokenReason::Retry);
        }
        let Some(c) = &self.current else {
            return Some(TokenReason::Cold);
        };
        if now >= c.expires_at.saturating_sub(self.config.skew_margin) {
            return Some(TokenReason::Expired);
        }
        (now >= self.refresh_at(c)).then_some(TokenReason::RefreshAhead)
    }

    fn record_failure(&mut self, reason: String, now: OffsetDateTime) {
        self.failures = self.failures.saturating_add(1);
        let shift = self.failures.saturating_sub(1).min(20);
        let delay = self
            .config
            .retry_base
            .saturating_mul(1_i32 << shift)
            .min(self.config.retry_cap);
        self.next_retry_at = Some(now.saturating_add(delay));
        self.last_error = Some(reason);
    }
}

/// A cached token as state to share between processes. Serialises to JSON
/// with the token in the clear: seal it ([`TokenCache::export_sealed`]).
/// `Debug` never shows the token.
#[derive(Clone)]
#[non_exhaustive]
pub struct TokenState {
    /// Whose token: [`ClientCredentials::cache_key`].
    pub key: String,
    /// The access token.
    pub token: Secret<String>,
    /// When it was requested.
    pub obtained_at: OffsetDateTime,
    /// When it expires.
    pub expires_at: OffsetDateTime,
    /// The granted scope, when stated.
    pub scope: Option<String>,
}

impl fmt::Debug for TokenState {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("TokenState")
            .field("key", &self.key)
            .field("token", &self.token)
            .field("obtained_at", &self.obtained_at)
            .field("expires_at", &self.expires_at)
            .field("scope", &self.scope)
            .finish()
    }
}

#[derive(Serialize, Deserialize)]
struct Wire<'a> {
    v: u8,
    key: std::borrow::Cow<'a, str>,
    token: std::borrow::Cow<'a, str>,
    #[serde(with = "time::serde::timestamp")]
    obtained_at: OffsetDateTime,
    #[serde(with = "time::serde::timestamp")]
    expires_at: OffsetDateTime,
    scope: Option<std::borrow::Cow<'a, str>>,
}

impl TokenState {
    /// The state as JSON. It carries the token in the clear.
    pub fn to_json(&self) -> Vec<u8> {
        let wire = Wire {
            v: 1,
            key: self.key.as_str().into(),
            token: self.token.expose().as_str().into(),
            obtained_at: self.obtained_at,
            expires_at: self.expires_at,
            scope: self.scope.as_deref().map(Into::into),
        };
        serde_json::to_vec(&wire).unwrap_or_default()
    }

    /// State from [`to_json`](Self::to_json)'s output.
    ///
    /// # Errors
    /// [`OAuthError::StateJson`] when it is not such a document.
    pub fn from_json(json: &[u8]) -> Result<Self, OAuthError> {
        let wire: Wire<'_> =
            crate::json::from_document_bytes(json).map_err(|_| OAuthError::StateJson)?;
        if wire.v != 1 {
            return Err(OAuthError::StateJson);
        }
        Ok(Self {
            key: wire.key.into_owned(),
            token: Secret::new(wire.token.into_owned()),
            obtained_at: wire.obtained_at,
            expires_at: wire.expires_at,
            scope: wire.scope.map(std::borrow::Cow::into_owned),
        })
    }
}
