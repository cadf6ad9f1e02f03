//! The token endpoint's answer: a successful response (RFC 6749 §5.1) or an
//! error response (§5.2). The body is read as a JSON object member by
//! member, never through a parser whose error text could quote a token.

use std::fmt;

use http::{HeaderMap, StatusCode, header};
use serde_json::{Map, Value};
use time::Duration;

use super::OAuthError;
use crate::Secret;

/// Limits and defaults for reading token responses.
#[derive(Debug, Clone)]
#[non_exhaustive]
pub struct ResponseLimits {
    /// The largest response body accepted, in bytes (default 64 KiB).
    pub max_body_bytes: usize,
    /// The longest access token accepted, in bytes (default 16 KiB).
    pub max_token_bytes: usize,
    /// The lifetime assumed when `expires_in` is missing (default 5 min:
    /// short, so a token whose lifetime the server did not state is
    /// renewed early rather than used past its real expiry).
    pub default_lifetime: Duration,
    /// The longest lifetime believed (default 24 h); a larger `expires_in`
    /// is capped to it, so a bogus value cannot pin a token for years.
    pub max_lifetime: Duration,
    /// The longest `error_description` kept, in characters (default 256).
    pub max_description_chars: usize,
}

impl Default for ResponseLimits {
    fn default() -> Self {
        Self {
            max_body_bytes: 64 * 1024,
            max_token_bytes: 16 * 1024,
            default_lifetime: Duration::minutes(5),
            max_lifetime: Duration::hours(24),
            max_description_chars: 256,
        }
    }
}

/// An OAuth `error` code (RFC 6749 §5.2, RFC 8707 §2).
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum ErrorCode {
    /// `invalid_request`.
    InvalidRequest,
    /// `invalid_client`: client authentication failed.
    InvalidClient,
    /// `invalid_grant`.
    InvalidGrant,
    /// `unauthorized_client`: the client may not use this grant.
    UnauthorizedClient,
    /// `unsupported_grant_type`.
    UnsupportedGrantType,
    /// `invalid_scope`.
    InvalidScope,
    /// `invalid_target` (RFC 8707): a `resource` was refused.
    InvalidTarget,
    /// Another code (sanitised, at most 64 characters).
    Other(String),
}

impl ErrorCode {
    fn parse(code: &str) -> Self {
        match code {
            "invalid_request" => Self::InvalidRequest,
            "invalid_client" => Self::InvalidClient,
            "invalid_grant" => Self::InvalidGrant,
            "unauthorized_client" => Self::UnauthorizedClient,
            "unsupported_grant_type" => Self::UnsupportedGrantType,
            "invalid_scope" => Self::InvalidScope,
            "invalid_target" => Self::InvalidTarget,
            other => Self::Other(sanitise(other, 64)),
        }
    }

    /// The code as registered.
    pub fn as_str(&self) -> &str {
        match self {
            Self::InvalidRequest => "invalid_request",
            Self::InvalidClient => "invalid_client",
            Self::InvalidGrant => "invalid_grant",
            Self::UnauthorizedClient => "unauthorized_client",
            Self::UnsupportedGrantType => "unsupported_grant_type",
            Self::InvalidScope => "invalid_scope",
            Self::InvalidTarget => "invalid_target",
            Self::Other(s) => s,
        }
    }
}

impl fmt::Display for ErrorCode {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// A successful token response (RFC 6749 §5.1), checked: a non-empty
/// Bearer access token and a positive lifetime. `Debug` never shows the
/// token.
#[non_exhaustive]
pub struct TokenResponse {
    /// The access token.
    pub access_token: Secret<String>,
    /// The lifetime: `expires_in`, capped at
    /// [`ResponseLimits::max_lifetime`], or
    /// [`ResponseLimits::default_lifetime`] when absent.
    pub lifetime: Duration,
    /// Whether `expires_in` was present.
    pub lifetime_stated: bool,
    /// The granted scope, when the server states it.
    pub scope: Option<String>,
}

impl fmt::Debug for TokenResponse {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("TokenResponse")
            .field("access_token", &self.access_token)
            .field("lifetime", &self.lifetime)
            .field("lifetime_stated", &self.lifetime_stated)
            .field("scope", &self.scope)
            .finish()
    }
}

impl TokenResponse {
    /// Reads a token endpoint response.
    ///
    /// Defined behaviour for `expires_in`: zero or negative is refused
    /// ([`OAuthError::NotPositive`]); larger than
    /// [`ResponseLimits::max_lifetime`] is capped to it; missing gives
    /// [`ResponseLimits::default_lifetime`]. A JSON number or a string of
    /// decimal digits (older Entra ID endpoints) is accepted; a fraction is
    /// rounded down.
    ///
    /// # Errors
    /// [`OAuthError::Refused`] for an OAuth error body (any status);
    /// [`OAuthError::Status`] for another non-2xx answer (a 500, an HTML
    /// page); [`OAuthError::NotJson`] for a 2xx whose body is not a JSON
    /// object; [`OAuthError::TooLarge`]; [`OAuthError::Missing`] /
    /// [`OAuthError::Invalid`] for a missing or malformed `access_token`,
    /// `token_type` or `expires_in`; [`OAuthError::TokenType`] for a token
    /// type other than Bearer; [`OAuthError::NotPositive`].
    pub fn parse(
        status: StatusCode,
        headers: &HeaderMap,
        body: &[u8],
        limits: &ResponseLimits,
    ) -> Result<Self, OAuthError> {
        if body.len() > limits.max_body_bytes {
            return Err(OAuthError::TooLarge {
                size: body.len(),
                limit: limits.max_body_bytes,
            });
        }
        let content_type = || {
            headers
                .get(header::CONTENT_TYPE)
                .and_then(|v| v.to_str().ok())
                .map_or_else(|| "none".to_owned(), |v| sanitise(v, 64))
        };
        // The reader's error text may quote the input: it is dropped.
        let object = crate::json::from_document_bytes::<Value>(body)
            .ok()
            .and_then(|v| match v {
                Value::Object(m) => Some(m),
                _ => None,
            });
        if let Some(Value::String(code)) = object.as_ref().and_then(|o| o.get("error")) {
            let description = object
                .as_ref()
                .and_then(|o| o.get("error_description"))
                .and_then(Value::as_str)
                .map(|d| sanitise(d, limits.max_description_chars))
                .filter(|d| !d.is_empty());
            return Err(OAuthError::Refused {
                status: status.as_u16(),
                code: ErrorCode::parse(code),
                description,
            });
        }
        if !status.is_success() {
            return Err(OAuthError::Status {
                status: status.as_u16(),
                content_type: content_type(),
            });
        }
        let Some(object) = object else {
            return Err(OAuthError::NotJson {
                status: status.as_u16(),
                content_type: content_type(),
            });
        };
        Self::from_object(&object, limits)
    }

    fn from_object(
        object: &Map<String, Value>,
        limits: &ResponseLimits,
    ) -> Result<Self, OAuthError> {
        let access_token = match object.get("access_token") {
            None | Some(Value::Null) => {
                return Err(OAuthError::Missing {
                    name: "access_token",
                });
            }
            Some(Value::String(s)) if s.is_empty() => {
                return Err(OAuthError::Missing {
                    name: "access_token",
                });
            }
            Some(Value::String(s)) => s,
            Some(_) => {
                return Err(OAuthError::Invalid {
                    name: "access_token",
                    reason: "it is not a string",
                });
            }
        };
        if access_token.len() > limits.max_token_bytes {
            return Err(OAuthError::Invalid {
                name: "access_token",
                reason: "it is longer than the token limit",
            });
        }
        // It goes into an Authorization header: visible ASCII only (the
        // RFC 6750 b64token alphabet is a subset).
        if !access_token.bytes().all(|b| (0x21..=0x7e).contains(&b)) {
            return Err(OAuthError::Invalid {
                name: "access_token",
                reason: "it has characters a header value cannot carry",
            });
        }
        match object.get("token_type") {
            None | Some(Value::Null) => return Err(OAuthError::Missing { name: "token_type" }),
            Some(Value::String(t)) if t.eq_ignore_ascii_case("bearer") => {}
            Some(Value::String(t)) => {
                return Err(OAuthError::TokenType {
                    found: sanitise(t, 32),
                });
            }
            Some(_) => {
                return Err(OAuthError::Invalid {
                    name: "token_type",
                    reason: "it is not a string",
                });
            }
        }
        let (lifetime, lifetime_stated) = match object.get("expires_in") {
            None | Some(Value::Null) => (limits.default_lifetime, false),
            Some(v) => {
                let seconds = expires_in(v)?;
                if seconds <= 0 {
                    return Err(OAuthError::NotPositive { found: seconds });
                }
                (Duration::seconds(seconds).min(limits.max_lifetime), true)
            }
        };
        let scope = object
            .get("scope")
            .and_then(Value::as_str)
            .map(|s| sanitise(s, 1024));
        Ok(Self {
            access_token: Secret::new(access_token.clone()),
            lifetime,
            lifetime_stated,
            scope,
        })
    }
}

fn expires_in(value: &Value) -> Result<i64, OAuthError> {
    let invalid = |reason| OAuthError::Invalid {
        name: "expires_in",
        reason,
    };
    match value {
        Value::Number(n) => {
            if let Some(i) = n.as_i64() {
                Ok(i)
            } else if n.as_u64().is_some() {
                Ok(i64::MAX)
            } else {
                let f = n.as_f64().ok_or(invalid("it is not a number"))?;
                if !f.is_finite() {
                    return Err(invalid("it is not a finite number"));
                }
                #[allow(
                    clippy::cast_possible_truncation,
                    reason = "saturating float to integer conversion is the intent"
                )]
                Ok(f.floor() as i64)
            }
        }
        Value::String(s) => {
            let digits = s.strip_prefix('-').unwrap_or(s);
            if digits.is_empty() || digits.len() > 30 || !digits.bytes().all(|b| b.is_ascii_digit())
            {
                return Err(invalid("it is not a number of seconds"));
            }
            Ok(s.parse::<i64>().unwrap_or(if s.starts_with('-') {
                i64::MIN
            } else {
                i64::MAX
            }))
        }
        _ => Err(invalid("it is not a number of seconds")),
    }
}

/// Keeps the RFC 6749 §5.2 `error_description` characters (%x20-21,
/// %x23-5B, %x5D-7E), replacing others with `?`, and at most `max` of them.
pub(super) fn sanitise(text: &str, max: usize) -> String {
    let mut out: String = text
        .chars()
        .take(max)
        .map(|c| match c {
            ' ' | '!' | '#'..='[' | ']'..='~' => c,
            _ => '?',
        })
        .collect();
    if text.chars().nth(max).is_some() {
        out.push_str("...");
    }
    out
}
