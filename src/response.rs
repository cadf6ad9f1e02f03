//! Rejections to HTTP responses: 401 / 403 / 400 with an RFC 6750 §3
//! `WWW-Authenticate: Bearer` challenge (RFC 9110 §11.6.1), an optional
//! RFC 9457 problem body, and a serde audit record. Nothing internal reaches
//! the wire.
//!
//! ```
//! use edge_auth::response::Rejection;
//! let r = Rejection::invalid_token("signature did not verify with kid `k1`").with_realm("api");
//! let resp = r.to_response();
//! assert_eq!(resp.status(), 401);
//! assert_eq!(
//!     resp.headers()["www-authenticate"],
//!     r#"Bearer realm="api", error="invalid_token", error_description="the access token is invalid""#
//! );
//! // The reason is for the audit log only.
//! let audit = serde_json::to_value(&r).unwrap();
//! assert_eq!(audit["reason"], "signature did not verify with kid `k1`");
//! ```
//!
//! Extraction and rejection together (what a gateway does before validation):
//!
//! ```
//! use edge_auth::extract::TokenSource;
//! use edge_auth::response::Rejection;
//!
//! fn bearer(parts: &http::request::Parts) -> Result<String, http::Response<()>> {
//!     match edge_auth::extract(parts, &[TokenSource::AuthorizationBearer]) {
//!         Ok(Some(token)) => Ok(token.as_str().to_owned()),
//!         // No token, or another scheme (Basic, DPoP): bare challenge.
//!         Ok(None) => Err(Rejection::missing_token().with_realm("api").to_response()),
//!         Err(e) => Err(Rejection::invalid_request(&e).with_realm("api").to_response()),
//!     }
//! }
//! let (parts, ()) = http::Request::get("/orders")
//!     .header("authorization", "Basic QWxhZGRpbjpvcGVuIHNlc2FtZQ==")
//!     .body(())
//!     .unwrap()
//!     .into_parts();
//! let response = bearer(&parts).unwrap_err();
//! assert_eq!(response.status(), 401);
//! assert_eq!(response.headers()["www-authenticate"], r#"Bearer realm="api""#);
//! assert_eq!(response.headers()["cache-control"], "no-store");
//! ```
//!
//! What goes on the wire: the realm, the RFC 6750 error code, a fixed
//! description per kind and, for `insufficient_scope`, the scopes the rule
//! required. Never the token, a key id, a rule id or the internal reason:
//! those help an attacker probe the configuration and belong in the audit
//! record.
//!
//! | rejection | status | `WWW-Authenticate` |
//! |---|---|---|
//! | `missing_token()` | 401 | `Bearer realm="…"` |
//! | `invalid_request(&err)` | 400 | `Bearer realm="…", error="invalid_request", error_description="…"` |
//! | `invalid_token(reason)` / `expired_token(reason)` | 401 | `…, error="invalid_token", error_description="…"` |
//! | `insufficient_scope(scopes)` | 403 | `…, error="insufficient_scope", error_description="…", scope="a b"` |
//! | `forbidden(rule, reasons)` | 403 | none |
//! | `too_many_requests(..)` | 429 | none; `Retry-After`, `RateLimit`, `RateLimit-Policy` |
//! | `unavailable(reason)` | 503 | none (the issuer's keys cannot be had; not the token's fault); `Retry-After` from the key cache's backoff |

use http::header::{CACHE_CONTROL, CONTENT_TYPE, RETRY_AFTER, WWW_AUTHENTICATE};
use http::{HeaderMap, HeaderValue, Response, StatusCode};
use serde::Serialize;

use crate::cors::PreflightRefusal;
use crate::extract::ExtractError;
use crate::jwt::JwtError;
use crate::oidc::Principal;
use crate::policy::{Decision, Failure, Reason, RequestProblem};

/// The realm used until [`Rejection::with_realm`] sets another. RFC 6750 §3
/// requires at least one auth-param after `Bearer`, and a request without a
/// token gets no `error`, so the challenge always names a realm.
pub const DEFAULT_REALM: &str = "edge-auth";

/// What kind of rejection, deciding the status and the challenge.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
#[non_exhaustive]
pub enum RejectionKind {
    /// No credentials (or only an unsupported scheme): 401, bare challenge
    /// without an error code (RFC 6750 §3.1).
    MissingToken,
    /// Malformed request (several tokens, bad `Authorization` syntax): 400
    /// `invalid_request`.
    InvalidRequest,
    /// The token is expired, revoked, malformed or otherwise invalid: 401
    /// `invalid_token`.
    InvalidToken,
    /// The token lacks the privileges the route requires: 403
    /// `insufficient_scope`, with the required scopes when known.
    InsufficientScope,
    /// Policy denied the request for a reason another token would not fix
    /// (deny rule, address, country): 403 without a challenge.
    Forbidden,
    /// The issuer's keys could not be obtained (IdP down past max-stale,
    /// discovery failing): 503 without a challenge. Not the token's fault,
    /// so it is not reported as `invalid_token`.
    Unavailable,
    /// A rate limit of the route refused the request: 429 without a
    /// challenge, with `Retry-After`, `RateLimit-Policy` and `RateLimit`.
    TooManyRequests,
    /// The allowing rule's `request` conditions refused the request's
    /// headers or its undeclared body length: 400 without a challenge.
    NonCompliantRequest,
    /// The declared body is larger than the allowing rule admits: 413.
    PayloadTooLarge,
    /// The body's media type is not one the allowing rule admits: 415.
    UnsupportedMediaType,
}

impl RejectionKind {
    /// The HTTP status.
    pub fn status(self) -> StatusCode {
        match self {
            Self::MissingToken | Self::InvalidToken => StatusCode::UNAUTHORIZED,
            Self::InvalidRequest => StatusCode::BAD_REQUEST,
            Self::InsufficientScope | Self::Forbidden => StatusCode::FORBIDDEN,
            Self::Unavailable => StatusCode::SERVICE_UNAVAILABLE,
            Self::TooManyRequests => StatusCode::TOO_MANY_REQUESTS,
            Self::NonCompliantRequest => StatusCode::BAD_REQUEST,
            Self::PayloadTooLarge => StatusCode::PAYLOAD_TOO_LARGE,
            Self::UnsupportedMediaType => StatusCode::UNSUPPORTED_MEDIA_TYPE,
        }
    }

    /// The RFC 6750 §3.1 error code, if any.
    pub fn error_code(self) -> Option<&'static str> {
        match self {
            Self::MissingToken
            | Self::Forbidden
            | Self::Unavailable
            | Self::TooManyRequests
            | Self::NonCompliantRequest
            | Self::PayloadTooLarge
            | Self::UnsupportedMediaType => None,
            Self::InvalidRequest => Some("invalid_request"),
            Self::InvalidToken => Some("invalid_token"),
            Self::InsufficientScope => Some("insufficient_scope"),
        }
    }
}

/// Why a request was turned away: what the Gate returns on a deny. Turn it
/// into a response with [`Rejection::to_response`] or
/// [`Rejection::to_problem_json`]; serialise it (serde) for the audit log.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Rejection {
    kind: RejectionKind,
    description: &'static str,
    realm: String,
    reason: Option<String>,
    rule: Option<String>,
    reasons: Vec<String>,
    scopes: Vec<String>,
    subject: Option<String>,
    issuer: Option<String>,
    retry_after: Option<u64>,
    /// CORS headers for the response (an allowed origin's), set by the gate.
    /// Boxed: rare, and a `HeaderMap` would double the size of every
    /// rejection (and of the outcomes that carry one).
    cors: Option<Box<HeaderMap>>,
    /// The limit that refused a 429, and every limit checked.
    limit: Option<String>,
    rate_limits: Vec<crate::limit::LimitReport>,
    /// A DPoP challenge (RFC 9449 §7.1) in place of the Bearer one.
    dpop: Option<Box<DpopChallenge>>,
    /// The `resource_metadata` challenge parameter (RFC 9728 §5.1).
    resource_metadata: Option<String>,
}

/// The `DPoP` challenge's parameters and the `DPoP-Nonce` to send.
#[derive(Debug, Clone, PartialEq, Eq)]
struct DpopChallenge {
    /// `None` for a request without credentials (a bare challenge).
    code: Option<&'static str>,
    algs: String,
    nonce: Option<String>,
}

/// The longest `Retry-After` a rejection announces, in seconds: a client
/// told to wait longer would rather be told to try again soon.
const MAX_RETRY_AFTER: u64 = 3600;

impl Rejection {
    fn new(kind: RejectionKind, description: &'static str) -> Self {
        Self {
            kind,
            description,
            realm: DEFAULT_REALM.to_owned(),
            reason: None,
            rule: None,
            reasons: Vec::new(),
            scopes: Vec::new(),
            subject: None,
            issuer: None,
            retry_after: None,
            cors: None,
            limit: None,
            rate_limits: Vec::new(),
            dpop: None,
            resource_metadata: None,
        }
    }

    /// A DPoP refusal (RFC 9449 §7.1): 400 `invalid_request` or 401 with
    /// `WWW-Authenticate: DPoP error="<code>", algs="<algs>"`, and a
    /// `DPoP-Nonce` header when `nonce` is given (`use_dpop_nonce`).
    #[cfg(feature = "dpop")]
    pub(crate) fn dpop(
        code: &'static str,
        algs: String,
        nonce: Option<String>,
        reason: String,
    ) -> Self {
        let (kind, description) = match code {
            "invalid_request" => (RejectionKind::InvalidRequest, "malformed dpop request"),
            "use_dpop_nonce" => (
                RejectionKind::InvalidToken,
                "resource server requires nonce in dpop proof",
            ),
            "invalid_dpop_proof" => (RejectionKind::InvalidToken, "invalid dpop proof"),
            _ => (RejectionKind::InvalidToken, "the access token is not valid"),
        };
        let mut r = Self::new(kind, description);
        r.reason = Some(reason);
        r.dpop = Some(Box::new(DpopChallenge {
            code: Some(code),
            algs,
            nonce,
        }));
        r
    }

    /// A certificate-bound token (RFC 8705 §3) refused: 401
    /// `invalid_token` with a fixed `description`; `reason` goes to the
    /// audit record only.
    pub(crate) fn certificate_bound(description: &'static str, reason: String) -> Self {
        let mut r = Self::new(RejectionKind::InvalidToken, description);
        r.reason = Some(reason);
        r
    }

    /// This policy refusal re-expressed for a route that needs a
    /// sender-constrained token (RFC 9449 §7.1): 401 with
    /// `WWW-Authenticate: DPoP algs="…"`, bare when the request had no
    /// token, `error="invalid_token"` when it presented one as a bearer
    /// token. The audit fields (rule, reasons, subject) stay.
    #[cfg(feature = "dpop")]
    pub(crate) fn sender_constraint_required(mut self, had_token: bool, algs: String) -> Self {
        let code = if had_token {
            self.kind = RejectionKind::InvalidToken;
            self.description = "this resource requires a dpop-bound access token";
            self.reason = Some("the route requires a sender-constrained token".to_owned());
            Some("invalid_token")
        } else {
            self.kind = RejectionKind::MissingToken;
            self.description = "no access token";
            None
        };
        self.scopes.clear();
        self.dpop = Some(Box::new(DpopChallenge {
            code,
            algs,
            nonce: None,
        }));
        self
    }

    /// The nonce of a `use_dpop_nonce` refusal, sent as `DPoP-Nonce`.
    pub fn dpop_nonce(&self) -> Option<&str> {
        self.dpop.as_ref().and_then(|d| d.nonce.as_deref())
    }

    /// A CORS preflight was refused (see [`PreflightRefusal`]): 403, no
    /// challenge and no CORS headers, so the browser blocks the actual
    /// request. The refusal goes to the audit record only.
    pub fn preflight_refused(refusal: &PreflightRefusal) -> Self {
        Self::new(
            RejectionKind::Forbidden,
            "the cross-origin request is not allowed",
        )
        .with_reason(refusal.to_string())
    }

    /// Adds CORS headers to the response (from
    /// [`Cors::response_headers`](crate::cors::Cors::response_headers)), so
    /// that browser code of an allowed origin can read the 401/403/503. The
    /// gate sets them itself on its rejections.
    #[must_use]
    pub fn with_cors(mut self, headers: HeaderMap) -> Self {
        self.cors = Some(Box::new(headers));
        self
    }

    /// The CORS headers set with [`with_cors`](Self::with_cors).
    pub fn cors_headers(&self) -> Option<&HeaderMap> {
        self.cors.as_deref()
    }

    /// A rate limit refused the request: 429 (RFC 6585 §4) with
    /// `Retry-After` from the refusing limit, and `RateLimit-Policy` /
    /// `RateLimit` for every limit in `reports` (those checked, the
    /// refusing one last). `limit` names the refusing limit in the audit
    /// record.
    pub fn too_many_requests(limit: &str, reports: Vec<crate::limit::LimitReport>) -> Self {
        let mut r = Self::new(
            RejectionKind::TooManyRequests,
            "too many requests; retry later",
        );
        let retry = reports
            .iter()
            .find(|l| l.id == limit && !l.allowed)
            .map_or(1, |l| l.next.max(1));
        r.retry_after = Some(retry.min(MAX_RETRY_AFTER));
        r.limit = Some(limit.to_owned());
        r.reason = Some(format!("rate limit `{limit}` exceeded"));
        r.rate_limits = reports;
        r
    }

    /// The rate limit that refused a 429.
    pub fn limit(&self) -> Option<&str> {
        self.limit.as_deref()
    }

    /// The rate limits checked for a 429 (the refusing one last).
    pub fn rate_limits(&self) -> &[crate::limit::LimitReport] {
        &self.rate_limits
    }

    /// The request carried no token (or only another scheme): 401 with
    /// `Bearer realm="…"` and no error code.
    pub fn missing_token() -> Self {
        Self::new(RejectionKind::MissingToken, "no access token")
    }

    /// The request was malformed in the way `error` says: 400
    /// `invalid_request`. The error's text goes to the audit record only.
    pub fn invalid_request(error: &ExtractError) -> Self {
        let description = match error {
            ExtractError::MultipleMethods { .. } => {
                "the request carries more than one access token"
            }
            ExtractError::Duplicate { .. } => "a credential field appears more than once",
            ExtractError::TooLong { .. } => "the access token is too long",
            ExtractError::InvalidCharacter { .. } | ExtractError::Empty { .. } => {
                "the access token is not a valid bearer token"
            }
            _ => "the request's credentials are malformed",
        };
        let mut r = Self::new(RejectionKind::InvalidRequest, description);
        r.reason = Some(error.to_string());
        r
    }

    /// The token is invalid: 401 `invalid_token`. `reason` (e.g. the
    /// validator's error text) is kept for the audit log and never sent.
    pub fn invalid_token(reason: impl Into<String>) -> Self {
        let mut r = Self::new(RejectionKind::InvalidToken, "the access token is invalid");
        r.reason = Some(reason.into());
        r
    }

    /// The issuer's keys are unavailable (see
    /// [`RejectionKind::Unavailable`]): 503. `reason` goes to the audit
    /// record only.
    pub fn unavailable(reason: impl Into<String>) -> Self {
        Self::new(
            RejectionKind::Unavailable,
            "the service is temporarily unavailable",
        )
        .with_reason(reason)
    }

    /// The token has expired: 401 `invalid_token` with the description
    /// "the access token expired", which tells a client to refresh (the
    /// RFC 6750 §3 example). `reason` stays internal.
    pub fn expired_token(reason: impl Into<String>) -> Self {
        let mut r = Self::new(RejectionKind::InvalidToken, "the access token expired");
        r.reason = Some(reason.into());
        r
    }

    /// The token lacks privileges: 403 `insufficient_scope` with
    /// `scope="…"` listing `scopes` (those the rule required; may be empty,
    /// e.g. for a missing role). Scope values outside the RFC 6749 §3.3
    /// `scope-token` characters are left off the wire (kept in the audit).
    pub fn insufficient_scope<I, S>(scopes: I) -> Self
    where
        I: IntoIterator<Item = S>,
        S: Into<String>,
    {
        let mut r = Self::new(
            RejectionKind::InsufficientScope,
            "the access token lacks the privileges this request requires",
        );
        r.scopes = scopes.into_iter().map(Into::into).collect();
        r
    }

    /// Policy denied the request: 403, no challenge, no detail on the wire.
    /// `rule` and `reasons` are for the audit record.
    pub fn forbidden<I, S>(rule: Option<&str>, reasons: I) -> Self
    where
        I: IntoIterator<Item = S>,
        S: Into<String>,
    {
        let mut r = Self::new(
            RejectionKind::Forbidden,
            "access to this resource is denied",
        );
        r.rule = rule.map(str::to_owned);
        r.reasons = reasons.into_iter().map(Into::into).collect();
        r
    }

    /// Sets the realm of the challenge (RFC 9110 §11.5); default
    /// [`DEFAULT_REALM`].
    #[must_use]
    pub fn with_realm(mut self, realm: impl Into<String>) -> Self {
        self.realm = realm.into();
        self
    }

    /// Adds `resource_metadata="<url>"` (RFC 9728 §5.1) to the challenge,
    /// so a client finds the resource's metadata document; the gate sets it
    /// when it serves one
    /// ([`GateConfig::with_resource_metadata`](crate::gate::GateConfig::with_resource_metadata)).
    #[must_use]
    pub fn with_resource_metadata(mut self, url: impl Into<String>) -> Self {
        self.resource_metadata = Some(url.into());
        self
    }

    /// Sets the policy rule that decided, for the audit record.
    #[must_use]
    pub fn with_rule(mut self, rule: impl Into<String>) -> Self {
        self.rule = Some(rule.into());
        self
    }

    /// Adds reasons for the audit record.
    #[must_use]
    pub fn with_reasons<I, S>(mut self, reasons: I) -> Self
    where
        I: IntoIterator<Item = S>,
        S: Into<String>,
    {
        self.reasons.extend(reasons.into_iter().map(Into::into));
        self
    }

    /// Sets the internal reason, for the audit record.
    #[must_use]
    pub fn with_reason(mut self, reason: impl Into<String>) -> Self {
        self.reason = Some(reason.into());
        self
    }

    /// Announces when to try again (RFC 9110 §10.2.3 `Retry-After`, in
    /// whole seconds, at least 1 and at most an hour): the Gate sets it on
    /// [`RejectionKind::Unavailable`] from the key cache's backoff.
    #[must_use]
    pub fn with_retry_after(mut self, after: time::Duration) -> Self {
        let whole = after.whole_seconds();
        let ceil = if after > time::Duration::seconds(whole) {
            whole.saturating_add(1)
        } else {
            whole
        };
        self.retry_after = Some(u64::try_from(ceil).unwrap_or(0).clamp(1, MAX_RETRY_AFTER));
        self
    }

    /// The `Retry-After` delay in seconds, when one was set.
    pub fn retry_after(&self) -> Option<u64> {
        self.retry_after
    }

    /// Sets the subject, when known, for the audit record.
    #[must_use]
    pub fn with_subject(mut self, subject: impl Into<String>) -> Self {
        self.subject = Some(subject.into());
        self
    }

    /// Sets the issuer, when known, for the audit record.
    #[must_use]
    pub fn with_issuer(mut self, issuer: impl Into<String>) -> Self {
        self.issuer = Some(issuer.into());
        self
    }

    /// The kind.
    pub fn kind(&self) -> RejectionKind {
        self.kind
    }

    /// The HTTP status.
    pub fn status(&self) -> StatusCode {
        self.kind.status()
    }

    /// The internal reason (audit only).
    pub fn reason(&self) -> Option<&str> {
        self.reason.as_deref()
    }

    /// The realm of the challenge.
    pub fn realm(&self) -> &str {
        &self.realm
    }

    /// The rule that decided (audit only).
    pub fn rule(&self) -> Option<&str> {
        self.rule.as_deref()
    }

    /// The scopes an `insufficient_scope` rejection asks for.
    pub fn scopes(&self) -> &[String] {
        &self.scopes
    }

    /// The `WWW-Authenticate` value, or `None` for [`RejectionKind::Forbidden`].
    pub fn challenge(&self) -> Option<String> {
        if matches!(
            self.kind,
            RejectionKind::Forbidden
                | RejectionKind::Unavailable
                | RejectionKind::TooManyRequests
                | RejectionKind::NonCompliantRequest
                | RejectionKind::PayloadTooLarge
                | RejectionKind::UnsupportedMediaType
        ) {
            return None;
        }
        let mut params = vec![format!("realm={}", quoted_string(&self.realm))];
        if let Some(dpop) = &self.dpop {
            if let Some(code) = dpop.code {
                params.push(format!("error=\"{code}\""));
                params.push(format!(
                    "error_description=\"{}\"",
                    restricted(self.description)
                ));
            }
            params.push(format!("algs={}", quoted_string(&dpop.algs)));
            if let Some(url) = &self.resource_metadata {
                params.push(format!("resource_metadata={}", quoted_string(url)));
            }
            return Some(format!("DPoP {}", params.join(", ")));
        }
        if let Some(code) = self.kind.error_code() {
            params.push(format!("error=\"{code}\""));
            params.push(format!(
                "error_description=\"{}\"",
                restricted(self.description)
            ));
        }
        let scope = self
            .scopes
            .iter()
            .filter(|s| is_scope_token(s))
            .map(String::as_str)
            .collect::<Vec<_>>()
            .join(" ");
        if self.kind == RejectionKind::InsufficientScope && !scope.is_empty() {
            params.push(format!("scope=\"{scope}\""));
        }
        if let Some(url) = &self.resource_metadata {
            params.push(format!("resource_metadata={}", quoted_string(url)));
        }
        Some(format!("Bearer {}", params.join(", ")))
    }

    /// The response: status, `WWW-Authenticate` (except for
    /// [`RejectionKind::Forbidden`] and [`RejectionKind::Unavailable`]),
    /// `Retry-After` when [set](Self::with_retry_after), and
    /// `Cache-Control: no-store`, the CORS headers when
    /// [set](Self::with_cors), empty body.
    pub fn to_response(&self) -> Response<()> {
        let mut response = Response::new(());
        *response.status_mut() = self.status();
        let headers = response.headers_mut();
        headers.insert(CACHE_CONTROL, HeaderValue::from_static("no-store"));
        if let Some(seconds) = self.retry_after {
            headers.insert(RETRY_AFTER, HeaderValue::from(seconds));
        }
        crate::limit::apply_headers(&self.rate_limits, headers);
        if let Some(challenge) = self.challenge() {
            // Every part was escaped or filtered to visible ASCII, so this
            // cannot fail; a minimal challenge is the fallback regardless.
            let value = HeaderValue::try_from(challenge)
                .unwrap_or_else(|_| HeaderValue::from_static("Bearer realm=\"edge-auth\""));
            headers.insert(WWW_AUTHENTICATE, value);
        }
        if let Some(nonce) = self.dpop_nonce()
            && let Ok(value) = HeaderValue::try_from(nonce)
        {
            headers.insert(http::HeaderName::from_static("dpop-nonce"), value);
        }
        if let Some(cors) = &self.cors {
            crate::cors::apply_to(cors, headers);
        }
        response
    }

    /// [`Rejection::to_response`] with an RFC 9457 problem body
    /// (`application/problem+json`): `type` `about:blank`, `title` the
    /// status phrase, `status`, `detail` the fixed description and, as an
    /// extension member, the RFC 6750 `error` code.
    pub fn to_problem_json(&self) -> Response<Vec<u8>> {
        let status = self.status();
        let mut body = serde_json::Map::new();
        body.insert("type".into(), "about:blank".into());
        body.insert(
            "title".into(),
            status.canonical_reason().unwrap_or("Error").into(),
        );
        body.insert("status".into(), status.as_u16().into());
        body.insert("detail".into(), self.description.into());
        if let Some(code) = self.kind.error_code() {
            body.insert("error".into(), code.into());
        }
        let bytes = serde_json::to_vec(&serde_json::Value::Object(body)).unwrap_or_default();
        let (parts, ()) = self.to_response().into_parts();
        let mut response = Response::from_parts(parts, bytes);
        response.headers_mut().insert(
            CONTENT_TYPE,
            HeaderValue::from_static("application/problem+json"),
        );
        response
    }
}

impl Serialize for Rejection {
    fn serialize<S: serde::Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        #[derive(Serialize)]
        struct Audit<'a> {
            kind: RejectionKind,
            status: u16,
            #[serde(skip_serializing_if = "Option::is_none")]
            error: Option<&'static str>,
            description: &'static str,
            #[serde(skip_serializing_if = "Option::is_none")]
            reason: Option<&'a str>,
            #[serde(skip_serializing_if = "Option::is_none")]
            rule: Option<&'a str>,
            #[serde(skip_serializing_if = "<[_]>::is_empty")]
            reasons: &'a [String],
            #[serde(skip_serializing_if = "<[_]>::is_empty")]
            scopes: &'a [String],
            #[serde(skip_serializing_if = "Option::is_none")]
            subject: Option<&'a str>,
            #[serde(skip_serializing_if = "Option::is_none")]
            issuer: Option<&'a str>,
            #[serde(skip_serializing_if = "Option::is_none")]
            retry_after: Option<u64>,
            #[serde(skip_serializing_if = "Option::is_none")]
            limit: Option<&'a str>,
            #[serde(skip_serializing_if = "<[_]>::is_empty")]
            rate_limits: &'a [crate::limit::LimitReport],
            realm: &'a str,
        }
        Audit {
            kind: self.kind,
            status: self.status().as_u16(),
            error: self.kind.error_code(),
            description: self.description,
            reason: self.reason.as_deref(),
            rule: self.rule.as_deref(),
            reasons: &self.reasons,
            scopes: &self.scopes,
            subject: self.subject.as_deref(),
            issuer: self.issuer.as_deref(),
            retry_after: self.retry_after,
            limit: self.limit.as_deref(),
            rate_limits: &self.rate_limits,
            realm: &self.realm,
        }
        .serialize(serializer)
    }
}

/// RFC 9110 §5.6.4 `quoted-string`: `"` and `\` escaped with `\`; bytes
/// that may not appear in a field value (controls other than HTAB, DEL) and
/// non-ASCII are replaced with `?` so the result is always a valid header.
fn quoted_string(s: &str) -> String {
    let mut out = String::with_capacity(s.len().saturating_add(2));
    out.push('"');
    for c in s.chars() {
        match c {
            '"' | '\\' => {
                out.push('\\');
                out.push(c);
            }
            ' ' | '\t' | '!'..='~' => out.push(c),
            _ => out.push('?'),
        }
    }
    out.push('"');
    out
}

/// RFC 6750 §3: `error_description` uses `%x20-21 / %x23-5B / %x5D-7E` only
/// (no `"`, no `\`, so no escaping); anything else is dropped.
fn restricted(s: &str) -> String {
    s.chars()
        .filter(|&c| matches!(c, ' ' | '!' | '#'..='[' | ']'..='~'))
        .collect()
}

/// RFC 6749 §3.3 `scope-token = 1*( %x21 / %x23-5B / %x5D-7E )`.
fn is_scope_token(s: &str) -> bool {
    !s.is_empty() && s.chars().all(|c| matches!(c, '!' | '#'..='[' | ']'..='~'))
}

/// The mapping from validation errors and policy decisions to rejections,
/// as the [`Gate`](crate::gate::Gate) applies it.
impl Rejection {
    /// The rejection for a token that failed validation. The wire shows only
    /// RFC 6750's `invalid_token`; the error text goes to the audit record.
    pub fn for_jwt_error(error: &JwtError) -> Self {
        // The text quotes unverified header and claim values (`kid`, `iss`,
        // `typ`): escape and clip it before it reaches the audit log.
        let reason = crate::text::printable(&error.to_string(), 512);
        match error {
            JwtError::Expired { .. } => Self::expired_token(reason),
            _ => Self::invalid_token(reason),
        }
    }

    /// The rejection for a policy deny: 401 when a token would help, 403
    /// `insufficient_scope` when the token lacks roles, scopes or claims the
    /// route needs, 403 without a challenge otherwise (deny rule, address,
    /// country, a malformed path).
    pub fn for_decision(decision: &Decision, principal: Option<&Principal>) -> Self {
        let reasons = decision
            .reasons
            .iter()
            .map(|r| serde_json::to_string(r).unwrap_or_default());
        let rejection = if let Some(problem) = decision.request_problem() {
            Self::non_compliant(problem)
        } else if principal.is_none()
            && (decision.authentication_required()
                || decision.rule_id.is_none() && !refused(decision))
        {
            Self::missing_token()
        } else if let Some(scopes) = decision.required_scopes() {
            Self::insufficient_scope(scopes.iter().map(String::as_str))
        } else if principal.is_some() && decision.rule_id.is_none() && lacks_privilege(decision) {
            Self::insufficient_scope(std::iter::empty::<&str>())
        } else {
            Self::forbidden(decision.rule_id.as_deref(), std::iter::empty::<&str>())
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
}

/// The reason [`Decision::authenticated_only`] gives a request without a
/// principal, as serde_json serialises it (a unit test compares).
const AUTHENTICATED_ONLY_REASON: &str = r#"{"kind":"requirements_not_met","rule_id":"authenticated","effect":"allow","failures":[{"kind":"authentication_required"}]}"#;

impl Rejection {
    /// [`for_decision`](Self::for_decision) of the one deny a Gate built
    /// without the `policy` feature makes (`Decision::authenticated_only`
    /// without a principal: 401, no token), built without serialising the
    /// decision, so the policy's reason serialisers stay out of such a
    /// build (a JWT-only Worker).
    pub(crate) fn for_authenticated_only() -> Self {
        Self::missing_token().with_reasons([AUTHENTICATED_ONLY_REASON])
    }

    /// The allowing rule's `request` conditions refused the request: 400,
    /// 413 or 415 ([`RequestProblem::status`]), no challenge. What was
    /// wrong goes to the audit record (`reason`).
    pub fn non_compliant(problem: &RequestProblem) -> Self {
        let (kind, description) = match problem.status() {
            StatusCode::PAYLOAD_TOO_LARGE => (
                RejectionKind::PayloadTooLarge,
                "the request body is larger than this resource accepts",
            ),
            StatusCode::UNSUPPORTED_MEDIA_TYPE => (
                RejectionKind::UnsupportedMediaType,
                "the request body's media type is not accepted here",
            ),
            _ => (
                RejectionKind::NonCompliantRequest,
                "the request does not have the form this resource requires",
            ),
        };
        Self::new(kind, description).with_reason(problem.to_string())
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
                    | Failure::CaptureMismatch { .. }
            )
        }),
        _ => false,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Without `policy` the Gate answers its one deny with
    /// `for_authenticated_only`: the same rejection, reasons included, as
    /// `for_decision` of that decision.
    #[test]
    fn for_authenticated_only_is_for_decision_of_authenticated_only() {
        let decision = Decision::authenticated_only(None);
        assert_eq!(
            Rejection::for_authenticated_only(),
            Rejection::for_decision(&decision, None)
        );
    }

    #[test]
    fn quoting() {
        assert_eq!(quoted_string(r#"a"b\c"#), r#""a\"b\\c""#);
        assert_eq!(quoted_string("a\r\nb\u{e9}"), "\"a??b?\"");
        assert_eq!(restricted("a\"b\\c\u{7f}d"), "abcd");
        assert!(is_scope_token("read:orders"));
        assert!(!is_scope_token("a b"));
        assert!(!is_scope_token("a\"b"));
        assert!(!is_scope_token(""));
    }

    #[test]
    fn retry_after_is_whole_seconds_rounded_up_and_bounded() {
        let r = |d| {
            Rejection::unavailable("x")
                .with_retry_after(d)
                .retry_after()
        };
        assert_eq!(r(time::Duration::seconds(30)), Some(30));
        assert_eq!(r(time::Duration::milliseconds(29_001)), Some(30));
        assert_eq!(r(time::Duration::ZERO), Some(1));
        assert_eq!(r(time::Duration::seconds(-5)), Some(1));
        assert_eq!(r(time::Duration::days(2)), Some(3600));
        let response = Rejection::unavailable("x")
            .with_retry_after(time::Duration::seconds(7))
            .to_response();
        assert_eq!(response.status(), StatusCode::SERVICE_UNAVAILABLE);
        assert_eq!(response.headers()[RETRY_AFTER], "7");
        assert!(response.headers().get(WWW_AUTHENTICATE).is_none());
        assert!(
            Rejection::unavailable("x")
                .to_response()
                .headers()
                .get(RETRY_AFTER)
                .is_none()
        );
        let audit = serde_json::to_value(
            Rejection::unavailable("x").with_retry_after(time::Duration::seconds(7)),
        )
        .unwrap_or_default();
        assert_eq!(audit["retry_after"], 7);
    }
}
