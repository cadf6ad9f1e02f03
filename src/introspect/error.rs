//! `IntrospectError`: a configuration that cannot be used, a request that
//! cannot be made, or an introspection answer that is refused. Messages
//! never carry the token, a client secret or an assertion.

use crate::oauth::OAuthError;

/// Why an introspection could not be configured, asked or believed.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum IntrospectError {
    /// The configuration cannot be used (endpoint, client id, durations).
    #[error("introspection is misconfigured: {reason}")]
    Config {
        /// What is wrong.
        reason: String,
    },
    /// The request could not be built (the client assertion source failed,
    /// a bad endpoint).
    #[error("introspection request could not be made: {source}")]
    Request {
        /// The OAuth client error.
        #[source]
        source: OAuthError,
    },
    /// The endpoint answered a status other than 200.
    #[error("introspection endpoint answered status `{status}`")]
    Status {
        /// The HTTP status.
        status: u16,
    },
    /// The answer is larger than
    /// [`IntrospectionConfig::max_body_bytes`](super::IntrospectionConfig::max_body_bytes).
    #[error("introspection response is `{size}` bytes, over the limit of `{limit}`")]
    TooLarge {
        /// The body's size.
        size: usize,
        /// The limit.
        limit: usize,
    },
    /// The answer is not a JSON object with unique members (or says it is
    /// not JSON).
    #[error("introspection response is not a json object (content type `{content_type}`)")]
    NotJson {
        /// The response's `Content-Type` (sanitised), or `none`.
        content_type: String,
    },
    /// A member of the answer is missing or has the wrong type (RFC 7662
    /// §2.2: `active` is a required boolean, times are numbers, `aud` a
    /// string or an array of strings).
    #[error("introspection response member `{name}` is invalid: {reason}")]
    Member {
        /// The member's name.
        name: &'static str,
        /// Why.
        reason: &'static str,
    },
    /// The answer's `iss` is not the configured issuer (or is missing
    /// when required).
    #[error("introspection response is from issuer `{found}`, expected `{expected}`")]
    Issuer {
        /// The `iss` given (sanitised), or `none`.
        found: String,
        /// The configured issuer.
        expected: String,
    },
    /// The answer's `aud` names none of the configured audiences (or is
    /// missing when required).
    #[error("introspection response is for audience `{found}`, not one of this resource's")]
    Audience {
        /// The `aud` given (sanitised, clipped), or `none`.
        found: String,
    },
    /// The answer says the token is active but its `exp` has passed.
    #[error("token expired at `{exp}` although the introspection response says it is active")]
    Expired {
        /// The token's `exp`.
        exp: time::OffsetDateTime,
    },
    /// The answer's `nbf` (or `iat`) is later than now plus the leeway.
    #[error("token is not valid before `{at}`, now is `{now}` (leeway `{leeway}` s)")]
    NotYetValid {
        /// The `nbf` or `iat`.
        at: time::OffsetDateTime,
        /// The time of the check.
        now: time::OffsetDateTime,
        /// The leeway, in seconds.
        leeway: i64,
    },
    /// The answer is for another request (another introspector's plan).
    #[error("introspection plan is not this introspector's")]
    OtherPlan,
}

impl IntrospectError {
    pub(crate) fn config(reason: impl Into<String>) -> Self {
        Self::Config {
            reason: reason.into(),
        }
    }

    /// `true` when the answer speaks about the token (it is refused for
    /// this token only and cached as such); `false` when the endpoint or
    /// our side failed (a backoff, then 503).
    pub fn is_about_token(&self) -> bool {
        matches!(
            self,
            Self::Issuer { .. }
                | Self::Audience { .. }
                | Self::Expired { .. }
                | Self::NotYetValid { .. }
        )
    }
}
