//! `FetchPlan`: the one GET the key machines ([`IssuerKeys`](super::IssuerKeys),
//! [`JwksCache`](super::cache::JwksCache)) hand to the caller, for a
//! discovery document (OpenID Connect Discovery 1.0 §4) or a key set
//! (RFC 7517 §5). The caller performs it and feeds the answer back.

use http::{HeaderMap, HeaderValue};
use serde::{Deserialize, Serialize};
use time::OffsetDateTime;

/// What a [`FetchPlan`] fetches.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum FetchKind {
    /// The issuer's OpenID Connect discovery document.
    Discovery,
    /// The issuer's JSON Web Key Set.
    Jwks,
    /// A token introspection (RFC 7662): POST
    /// [`FetchPlan::introspection`]'s request instead of a GET of the URL.
    Introspection,
}

/// Why a fetch is needed.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[non_exhaustive]
pub enum FetchReason {
    /// Nothing has been loaded yet (no key set, or no discovery document).
    Cold,
    /// The key set's freshness lifetime has passed.
    Expired,
    /// The key set is still fresh but past the refresh-ahead point, or the
    /// discovery document in use is due for its periodic refresh.
    RefreshAhead,
    /// A token named a `kid` the set does not hold.
    UnknownKid,
    /// A previous fetch failed and its backoff has passed.
    Retry,
}

/// A GET the caller should perform, then report with the machine's
/// `apply` (response) or `apply_failure` (no response).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FetchPlan {
    issuer: String,
    url: String,
    kind: FetchKind,
    reason: FetchReason,
    in_flight: bool,
    if_none_match: Option<String>,
    headers: HeaderMap,
    issued_at: OffsetDateTime,
    /// Boxed: plans for keys are the common case and stay small.
    #[cfg(feature = "introspect")]
    introspection: Option<Box<crate::introspect::IntrospectionRequest>>,
}

impl FetchPlan {
    /// A plan for the key set at `url`; `if_none_match` is the cached
    /// set's `ETag`.
    pub(crate) fn jwks(
        issuer: &str,
        url: &str,
        reason: FetchReason,
        if_none_match: Option<String>,
        now: OffsetDateTime,
    ) -> Self {
        let mut headers = HeaderMap::new();
        headers.insert(
            http::header::ACCEPT,
            HeaderValue::from_static("application/jwk-set+json, application/json"),
        );
        if let Some(v) = if_none_match
            .as_deref()
            .and_then(|e| HeaderValue::from_str(e).ok())
        {
            headers.insert(http::header::IF_NONE_MATCH, v);
        }
        Self {
            issuer: issuer.to_owned(),
            url: url.to_owned(),
            kind: FetchKind::Jwks,
            reason,
            in_flight: false,
            if_none_match,
            headers,
            issued_at: now,
            #[cfg(feature = "introspect")]
            introspection: None,
        }
    }

    /// A plan for the discovery document at `url`.
    pub(crate) fn discovery(
        issuer: &str,
        url: &str,
        reason: FetchReason,
        now: OffsetDateTime,
    ) -> Self {
        Self {
            issuer: issuer.to_owned(),
            url: url.to_owned(),
            kind: FetchKind::Discovery,
            reason,
            in_flight: false,
            if_none_match: None,
            headers: HeaderMap::new(),
            issued_at: now,
            #[cfg(feature = "introspect")]
            introspection: None,
        }
    }

    /// A plan for the introspection `request` of `issuer`'s opaque token.
    #[cfg(feature = "introspect")]
    pub(crate) fn for_introspection(
        issuer: &str,
        request: crate::introspect::IntrospectionRequest,
    ) -> Self {
        Self {
            issuer: issuer.to_owned(),
            url: request.endpoint().to_owned(),
            kind: FetchKind::Introspection,
            reason: FetchReason::Cold,
            in_flight: request.is_in_flight(),
            if_none_match: None,
            headers: HeaderMap::new(),
            issued_at: request.issued_at(),
            introspection: Some(Box::new(request)),
        }
    }

    /// For a [`FetchKind::Introspection`] plan, the introspection to send:
    /// POST its [`request`](crate::introspect::IntrospectionRequest::to_request)
    /// (it carries the token and the client's credentials: never log it)
    /// and feed the answer to the gate as for any plan.
    #[cfg(feature = "introspect")]
    pub fn introspection(&self) -> Option<&crate::introspect::IntrospectionRequest> {
        self.introspection.as_deref()
    }

    /// What identifies this fetch for single flight: the URL, and for an
    /// introspection the token's hash too.
    #[cfg(any(feature = "tokio", feature = "worker"))]
    pub(crate) fn flight_key(&self) -> String {
        #[cfg(feature = "introspect")]
        if let Some(req) = &self.introspection {
            return format!("{} {}", self.url, req.token_hash().to_hex());
        }
        self.url.clone()
    }

    /// The same fetch, marked as already handed out to another caller:
    /// it carries no request headers (the caller joins, it does not send).
    pub(crate) fn joined(mut self) -> Self {
        self.in_flight = true;
        self.headers = HeaderMap::new();
        self.if_none_match = None;
        self
    }

    /// The issuer (as configured) whose keys this fetch serves: route the
    /// answer back to that issuer.
    pub fn issuer(&self) -> &str {
        &self.issuer
    }

    /// The URL to GET.
    pub fn url(&self) -> &str {
        &self.url
    }

    /// Discovery document or key set.
    pub fn kind(&self) -> FetchKind {
        self.kind
    }

    /// Why the fetch is needed.
    pub fn reason(&self) -> FetchReason {
        self.reason
    }

    /// The `ETag` of the cached set, sent as `If-None-Match`; a `304`
    /// answer then renews the cached set.
    pub fn if_none_match(&self) -> Option<&str> {
        self.if_none_match.as_deref()
    }

    /// Headers to send: for a key set `Accept` and, when there is a cached
    /// set with an `ETag`, `If-None-Match`; none for a discovery document
    /// or a plan that is already in flight.
    pub fn headers(&self) -> &HeaderMap {
        &self.headers
    }

    /// When the plan was handed out. A key set response to a plan handed
    /// out before the set was last fetched is ignored (it answers an older
    /// request).
    pub fn issued_at(&self) -> OffsetDateTime {
        self.issued_at
    }

    /// `true` when this fetch was already handed out to another request
    /// and has not been answered yet: wait for that fetch if you can
    /// (single flight), then check again. A caller that cannot join it
    /// (another process) may wait briefly and check again, or fetch anyway:
    /// applying a duplicate response is harmless.
    pub fn is_in_flight(&self) -> bool {
        self.in_flight
    }
}
