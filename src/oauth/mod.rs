//! The edge as an OAuth 2.0 client: client credentials (RFC 6749 §4.4) with
//! `client_secret_basic`, `client_secret_post` or a JWT client assertion
//! (RFC 7523 §2.2, `private_key_jwt`), and a [`TokenCache`] that says when
//! to fetch a token and holds it. Sans-IO: the cache hands out a
//! [`TokenPlan`] (an `http::Request<Vec<u8>>` to POST), the caller sends it
//! and feeds the answer back; every call takes `now`.
//!
//! ```
//! use edge_auth::Secret;
//! use edge_auth::oauth::{ClientAuth, ClientCredentials, TokenCache, TokenCacheConfig};
//! use http::{HeaderMap, StatusCode};
//! use time::macros::datetime;
//!
//! let now = datetime!(2026-11-23 10:00:00 UTC);
//! let client = ClientCredentials::new(
//!     "https://login.example.com/oauth2/token",
//!     "gateway",
//!     ClientAuth::secret_basic(Secret::new("s3cret".to_owned())),
//! )?
//! .with_scope("api://orders/.default");
//! let mut cache = TokenCache::new(client, TokenCacheConfig::default());
//! let plan = cache.poll(now)?.expect("cold cache: a token request is due");
//! let request = plan.to_request(); // POST it with your HTTP client
//! assert_eq!(request.method(), http::Method::POST);
//! let body = br#"{"access_token":"eyJ...","token_type":"Bearer","expires_in":3600}"#;
//! cache.apply_token_response(&plan, StatusCode::OK, &HeaderMap::new(), body, now)?;
//! assert_eq!(cache.get(now).map(|t| t.expose().as_str()), Some("eyJ..."));
//! # Ok::<(), edge_auth::oauth::OAuthError>(())
//! ```
//!
//! Secrets, assertions and tokens never appear in `Debug` output or error
//! messages; the token endpoint's `error_description` is length-bounded and
//! reduced to the characters RFC 6749 §5.2 allows.

mod cache;
mod client;
mod response;

pub use cache::{TokenCache, TokenCacheConfig, TokenPlan, TokenReason, TokenState};
pub use client::{AssertionSource, ClientAuth, ClientCredentials, JWT_BEARER_ASSERTION_TYPE};
#[cfg(feature = "introspect")]
pub(crate) use client::{authenticate, check_endpoint};
pub use response::{ErrorCode, ResponseLimits, TokenResponse};

/// The seal purpose under which token cache state is sealed
/// ([`TokenCache::export_sealed`]); the subject is
/// [`ClientCredentials::cache_key`].
pub const PURPOSE_OAUTH_TOKEN: &str = "edge-auth/oauth-token/v1";

/// An OAuth client error: bad configuration, a refused or unusable token
/// endpoint response, or state that cannot be used. Messages never carry a
/// secret, an assertion or a token.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum OAuthError {
    /// The token endpoint URL cannot be used.
    #[error("token endpoint `{url}` is not usable: {reason}")]
    Endpoint {
        /// The URL as given.
        url: String,
        /// Why.
        reason: &'static str,
    },
    /// A configured value cannot be sent (empty, or not form-safe).
    #[error("oauth client {what} is invalid: {reason}")]
    Config {
        /// Which value.
        what: &'static str,
        /// Why.
        reason: &'static str,
    },
    /// The assertion source failed to produce a client assertion.
    #[error("client assertion for audience `{audience}` could not be made")]
    Assertion {
        /// The audience asked for.
        audience: String,
        /// The source's error.
        #[source]
        source: Box<dyn std::error::Error + Send + Sync>,
    },
    /// The token endpoint answered an OAuth error (RFC 6749 §5.2).
    #[error("token endpoint refused the request with `{code}` (status {status}){}", description_suffix(.description.as_deref()))]
    Refused {
        /// The HTTP status.
        status: u16,
        /// The `error` code.
        code: ErrorCode,
        /// The `error_description`, sanitised and length-bounded.
        description: Option<String>,
    },
    /// A non-success status without an OAuth error body (a 500, an HTML
    /// error page, a proxy's answer).
    #[error(
        "token endpoint answered status {status} without an oauth error (content type `{content_type}`)"
    )]
    Status {
        /// The HTTP status.
        status: u16,
        /// The response's `Content-Type` (sanitised), or `none`.
        content_type: String,
    },
    /// A success status whose body is not a JSON object (e.g. an HTML page).
    #[error(
        "token endpoint answered status {status} with a body that is not a json object (content type `{content_type}`)"
    )]
    NotJson {
        /// The HTTP status.
        status: u16,
        /// The response's `Content-Type` (sanitised), or `none`.
        content_type: String,
    },
    /// The response body is larger than [`ResponseLimits::max_body_bytes`].
    #[error("token endpoint response is `{size}` bytes, over the limit of `{limit}`")]
    TooLarge {
        /// The body's size.
        size: usize,
        /// The limit.
        limit: usize,
    },
    /// A required member of a successful response is missing or empty.
    #[error("token response lacks `{name}`")]
    Missing {
        /// The member's name.
        name: &'static str,
    },
    /// A member of a successful response has the wrong type or form.
    #[error("token response member `{name}` is invalid: {reason}")]
    Invalid {
        /// The member's name.
        name: &'static str,
        /// Why (never the member's value when it may be a credential).
        reason: &'static str,
    },
    /// `token_type` is not `Bearer`.
    #[error("token response has token_type `{found}`, only `Bearer` is supported")]
    TokenType {
        /// The `token_type` given (sanitised).
        found: String,
    },
    /// `expires_in` is zero or negative: the token is already expired.
    #[error("token response has expires_in `{found}`, which must be positive")]
    NotPositive {
        /// The value given.
        found: i64,
    },
    /// The token's lifetime is not longer than the cache's skew margin, so
    /// it could never be handed out.
    #[error("token lifetime of `{lifetime}` s is not longer than the skew margin of `{margin}` s")]
    TooShort {
        /// The lifetime, in seconds.
        lifetime: i64,
        /// The skew margin, in seconds.
        margin: i64,
    },
    /// Imported state belongs to another client or scope.
    #[error("token state is for another client or scope")]
    WrongState,
    /// Imported state is not valid JSON for a [`TokenState`].
    #[error("token state is not valid json")]
    StateJson,
    /// Sealing or opening the state failed.
    #[error("token state could not be sealed or opened")]
    Seal(#[from] crate::seal::SealError),
}

fn description_suffix(description: Option<&str>) -> String {
    description.map(|d| format!(": {d}")).unwrap_or_default()
}
