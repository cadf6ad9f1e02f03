//! The introspection answer (RFC 7662 §2.2), read strictly: a JSON object
//! with unique members whose `active` is a required boolean; the members
//! this crate reads have their registered types; `iss` and `aud` are
//! checked against the configuration as a JWT's would be.

use std::collections::BTreeSet;

use http::{HeaderMap, StatusCode, header};
use serde_json::{Map, Value};
use time::{Duration, OffsetDateTime};

use super::IntrospectError;

/// An active token as its introspection endpoint describes it.
#[derive(Debug, Clone, PartialEq)]
#[non_exhaustive]
pub struct ActiveToken {
    /// Every member of the answer (`sub`, `scope`, `client_id`, `aud`,
    /// custom members…): what the role mapper reads.
    pub claims: Map<String, Value>,
    /// `sub`, when present.
    pub subject: Option<String>,
    /// `scope`, split on spaces (RFC 6749 §3.3).
    pub scopes: BTreeSet<String>,
    /// `client_id`, when present.
    pub client_id: Option<String>,
    /// `exp`, when present: the answer is never served past it.
    pub expires_at: Option<OffsetDateTime>,
}

/// What the endpoint said about a token.
#[derive(Debug, Clone, PartialEq)]
#[non_exhaustive]
pub enum Introspection {
    /// `"active": true`, and the answer passed the checks.
    Active(std::sync::Arc<ActiveToken>),
    /// `"active": false`: revoked, expired, unknown, or not for this
    /// client to know (RFC 7662 §2.2 says no more).
    Inactive,
}

impl Introspection {
    /// `true` for [`Introspection::Active`].
    pub fn is_active(&self) -> bool {
        matches!(self, Self::Active(_))
    }
}

/// What [`parse`] checks against.
pub(crate) struct Expect<'a> {
    pub(crate) issuer: Option<&'a str>,
    pub(crate) audiences: &'a [String],
    pub(crate) require_issuer: bool,
    pub(crate) require_audience: bool,
    pub(crate) leeway: Duration,
    pub(crate) max_body_bytes: usize,
}

/// Reads and checks one answer at `now`.
pub(crate) fn parse(
    status: StatusCode,
    headers: &HeaderMap,
    body: &[u8],
    expect: &Expect<'_>,
    now: OffsetDateTime,
) -> Result<Introspection, IntrospectError> {
    if status != StatusCode::OK {
        return Err(IntrospectError::Status {
            status: status.as_u16(),
        });
    }
    if body.len() > expect.max_body_bytes {
        return Err(IntrospectError::TooLarge {
            size: body.len(),
            limit: expect.max_body_bytes,
        });
    }
    let content_type = headers
        .get(header::CONTENT_TYPE)
        .map(|v| crate::text::printable(&String::from_utf8_lossy(v.as_bytes()), 64));
    let not_json = || IntrospectError::NotJson {
        content_type: content_type.clone().unwrap_or_else(|| "none".to_owned()),
    };
    // RFC 7662 §2.2: `application/json`. A missing type is tolerated when
    // the body is JSON; a declared other type is not.
    if let Some(ct) = &content_type {
        let essence = ct.split(';').next().unwrap_or_default().trim();
        if !(essence.eq_ignore_ascii_case("application/json")
            || essence.to_ascii_lowercase().ends_with("+json"))
        {
            return Err(not_json());
        }
    }
    // The strict reader of JWT claims sets: one object, unique members,
    // bounded depth, and an error text that never quotes the body.
    let claims = crate::jwt::validate_parse_claims(body).map_err(|_| not_json())?;
    match claims.get("active") {
        Some(Value::Bool(true)) => {}
        Some(Value::Bool(false)) => return Ok(Introspection::Inactive),
        Some(_) => return Err(member("active", "it is not a boolean")),
        None => return Err(member("active", "it is missing")),
    }
    let expires_at = time_member(&claims, "exp")?;
    let not_before = time_member(&claims, "nbf")?;
    let issued_at = time_member(&claims, "iat")?;
    let subject = string_member(&claims, "sub")?;
    let client_id = string_member(&claims, "client_id")?;
    string_member(&claims, "username")?;
    string_member(&claims, "token_type")?;
    string_member(&claims, "jti")?;
    let scopes = string_member(&claims, "scope")?
        .map(|s| {
            s.split(' ')
                .filter(|s| !s.is_empty())
                .map(str::to_owned)
                .collect()
        })
        .unwrap_or_default();
    check_issuer(&claims, expect)?;
    check_audience(&claims, expect)?;
    if let Some(exp) = expires_at
        && exp <= now
    {
        // Never believed past `exp`, whatever `active` says.
        return Err(IntrospectError::Expired { exp });
    }
    for at in [not_before, issued_at].into_iter().flatten() {
        if at > now + expect.leeway {
            return Err(IntrospectError::NotYetValid {
                at,
                now,
                leeway: expect.leeway.whole_seconds(),
            });
        }
    }
    Ok(Introspection::Active(std::sync::Arc::new(ActiveToken {
        claims,
        subject,
        scopes,
        client_id,
        expires_at,
    })))
}

fn member(name: &'static str, reason: &'static str) -> IntrospectError {
    IntrospectError::Member { name, reason }
}

fn string_member(
    claims: &Map<String, Value>,
    name: &'static str,
) -> Result<Option<String>, IntrospectError> {
    match claims.get(name) {
        None => Ok(None),
        Some(Value::String(s)) => Ok(Some(s.clone())),
        Some(_) => Err(member(name, "it is not a string")),
    }
}

/// A NumericDate (RFC 7519 §2): a JSON number of seconds since the epoch,
/// fractions allowed (truncated).
fn time_member(
    claims: &Map<String, Value>,
    name: &'static str,
) -> Result<Option<OffsetDateTime>, IntrospectError> {
    let Some(value) = claims.get(name) else {
        return Ok(None);
    };
    let seconds = match value {
        Value::Number(n) => match (n.as_i64(), n.as_f64()) {
            (Some(i), _) => i,
            (None, Some(f)) if f.is_finite() && f.abs() < 1e15 => {
                // Truncation to whole seconds is the intent; the range is
                // checked just above.
                #[allow(clippy::cast_possible_truncation, reason = "bounded above")]
                let i = f.trunc() as i64;
                i
            }
            _ => return Err(member(name, "it is not a numeric date in range")),
        },
        _ => return Err(member(name, "it is not a number")),
    };
    OffsetDateTime::from_unix_timestamp(seconds)
        .map(Some)
        .map_err(|_| member(name, "it is not a numeric date in range"))
}

fn check_issuer(claims: &Map<String, Value>, expect: &Expect<'_>) -> Result<(), IntrospectError> {
    let Some(expected) = expect.issuer else {
        return Ok(());
    };
    let found = string_member(claims, "iss")?;
    match found.as_deref() {
        Some(iss) if iss == expected => Ok(()),
        None if !expect.require_issuer => Ok(()),
        other => Err(IntrospectError::Issuer {
            found: other.map_or_else(|| "none".to_owned(), |s| crate::text::printable(s, 128)),
            expected: expected.to_owned(),
        }),
    }
}

fn check_audience(claims: &Map<String, Value>, expect: &Expect<'_>) -> Result<(), IntrospectError> {
    if expect.audiences.is_empty() {
        return Ok(());
    }
    let found: Vec<&str> = match claims.get("aud") {
        None if !expect.require_audience => return Ok(()),
        None => Vec::new(),
        Some(Value::String(s)) => vec![s.as_str()],
        Some(Value::Array(items)) => items
            .iter()
            .map(|v| {
                v.as_str()
                    .ok_or_else(|| member("aud", "it is not a string or an array of strings"))
            })
            .collect::<Result<_, _>>()?,
        Some(_) => return Err(member("aud", "it is not a string or an array of strings")),
    };
    if found
        .iter()
        .any(|a| expect.audiences.iter().any(|e| e == a))
    {
        return Ok(());
    }
    Err(IntrospectError::Audience {
        found: if found.is_empty() {
            "none".to_owned()
        } else {
            crate::text::printable(&found.join(" "), 128)
        },
    })
}
