//! Request-shape conditions of an allow rule ([`RequestShape`]): required
//! headers with value patterns, a `Content-Type` allow-list (RFC 9110
//! §8.3) and a maximum declared `Content-Length` (RFC 9110 §8.6). A request
//! the rule allows but that fails them is refused with 400, 413 or 415.

use http::{HeaderMap, HeaderName};
use serde::{Deserialize, Serialize};

use super::document::{Effect, RequestShape, Rule};
use super::{PolicyConfig, PolicyError, clip};

/// Why an allowed request was refused for its shape.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
#[non_exhaustive]
pub enum RequestProblem {
    /// A required header is missing (400).
    MissingHeader {
        /// The header.
        name: String,
    },
    /// A required header's value does not match its pattern (400).
    HeaderMismatch {
        /// The header.
        name: String,
        /// The pattern.
        pattern: String,
    },
    /// A required header appears more than once (400).
    RepeatedHeader {
        /// The header.
        name: String,
    },
    /// The body's length is not declared, or declared ambiguously (400).
    LengthUndeclared {
        /// What is wrong.
        detail: String,
    },
    /// The declared body is larger than the rule allows (413).
    BodyTooLarge {
        /// The declared `Content-Length`.
        declared: u64,
        /// The rule's `max_body_bytes`.
        max: u64,
    },
    /// The body's media type is not in the rule's list, or not declared
    /// (415).
    UnsupportedMediaType {
        /// The declared `Content-Type` (clipped), or `None`.
        content_type: Option<String>,
    },
    /// The headers were not supplied to the policy, so the shape could
    /// not be checked (400: fail closed).
    HeadersUnknown,
}

impl RequestProblem {
    /// The HTTP status the refusal answers with: 400, 413 or 415.
    pub fn status(&self) -> http::StatusCode {
        match self {
            Self::BodyTooLarge { .. } => http::StatusCode::PAYLOAD_TOO_LARGE,
            Self::UnsupportedMediaType { .. } => http::StatusCode::UNSUPPORTED_MEDIA_TYPE,
            _ => http::StatusCode::BAD_REQUEST,
        }
    }
}

impl std::fmt::Display for RequestProblem {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Self::MissingHeader { name } => write!(f, "required header `{name}` is missing"),
            Self::HeaderMismatch { name, pattern } => {
                write!(f, "header `{name}` does not match `{pattern}`")
            }
            Self::RepeatedHeader { name } => write!(f, "header `{name}` appears more than once"),
            Self::LengthUndeclared { detail } => write!(f, "body length: {detail}"),
            Self::BodyTooLarge { declared, max } => {
                write!(
                    f,
                    "declared body of {declared} bytes is over the limit of {max}"
                )
            }
            Self::UnsupportedMediaType {
                content_type: Some(ct),
            } => write!(f, "content type `{ct}` is not allowed"),
            Self::UnsupportedMediaType { content_type: None } => {
                write!(f, "the body has no content type")
            }
            Self::HeadersUnknown => write!(f, "request headers were not supplied to the policy"),
        }
    }
}

#[derive(Debug, Clone)]
pub(crate) struct CompiledShape {
    headers: Vec<(HeaderName, Option<String>)>,
    /// Lower-case `type/subtype` or `type/*`.
    content_types: Option<Vec<String>>,
    max_body_bytes: Option<u64>,
}

/// Compiles a rule's `request` block.
pub(crate) fn compile(
    rule: &Rule,
    config: &PolicyConfig,
) -> Result<Option<CompiledShape>, PolicyError> {
    let Some(shape) = &rule.request else {
        return Ok(None);
    };
    if rule.effect != Effect::Allow {
        return Err(PolicyError::InvalidRule {
            rule: rule.id.clone(),
            reason: "`request` conditions are for allow rules".to_owned(),
        });
    }
    let RequestShape {
        headers,
        content_types,
        max_body_bytes,
    } = shape;
    let too_long = |field: &str, len: usize| -> Result<(), PolicyError> {
        if len == 0 || len > config.max_list_len {
            return Err(PolicyError::InvalidRule {
                rule: rule.id.clone(),
                reason: format!(
                    "`request.{field}` has {len} entries; give 1 to {}",
                    config.max_list_len
                ),
            });
        }
        Ok(())
    };
    let mut compiled_headers = Vec::new();
    if let Some(hs) = headers {
        too_long("headers", hs.len())?;
        for h in hs {
            let name = HeaderName::from_bytes(h.name.as_bytes()).map_err(|e| {
                PolicyError::InvalidValue {
                    rule: rule.id.clone(),
                    field: "header name",
                    value: clip(&h.name),
                    reason: e.to_string(),
                }
            })?;
            compiled_headers.push((name, h.pattern.clone()));
        }
    }
    let content_types = match content_types {
        None => None,
        Some(cts) => {
            too_long("content_types", cts.len())?;
            let mut out = Vec::with_capacity(cts.len());
            for ct in cts {
                let lower = ct.trim().to_ascii_lowercase();
                let valid = lower.split_once('/').is_some_and(|(t, s)| {
                    !t.is_empty()
                        && !s.is_empty()
                        && t.bytes().all(crate::text::is_tchar)
                        && s.bytes().all(crate::text::is_tchar)
                        && t != "*"
                });
                if !valid {
                    return Err(PolicyError::InvalidValue {
                        rule: rule.id.clone(),
                        field: "content type",
                        value: clip(ct),
                        reason: "write `type/subtype` or `type/*`, without parameters".to_owned(),
                    });
                }
                out.push(lower);
            }
            Some(out)
        }
    };
    Ok(Some(CompiledShape {
        headers: compiled_headers,
        content_types,
        max_body_bytes: *max_body_bytes,
    }))
}

impl CompiledShape {
    /// The first way the request fails the shape, if any.
    pub(crate) fn check(&self, headers: Option<&HeaderMap>) -> Option<RequestProblem> {
        let Some(headers) = headers else {
            return Some(RequestProblem::HeadersUnknown);
        };
        for (name, pattern) in &self.headers {
            let mut values = headers.get_all(name).iter();
            let (Some(value), None) = (values.next(), values.next()) else {
                return Some(if headers.contains_key(name) {
                    RequestProblem::RepeatedHeader {
                        name: name.as_str().to_owned(),
                    }
                } else {
                    RequestProblem::MissingHeader {
                        name: name.as_str().to_owned(),
                    }
                });
            };
            if let Some(p) = pattern
                && !glob(p.as_bytes(), value.as_bytes())
            {
                return Some(RequestProblem::HeaderMismatch {
                    name: name.as_str().to_owned(),
                    pattern: clip(p),
                });
            }
        }
        let length = match declared_length(headers) {
            Ok(length) => length,
            Err(detail) => {
                // Only a rule that looks at the body cares how long it is.
                if self.max_body_bytes.is_some() || self.content_types.is_some() {
                    return Some(RequestProblem::LengthUndeclared { detail });
                }
                Some(0)
            }
        };
        if let (Some(max), Some(declared)) = (self.max_body_bytes, length)
            && declared > max
        {
            return Some(RequestProblem::BodyTooLarge { declared, max });
        }
        if self.max_body_bytes.is_some() && length.is_none() {
            return Some(RequestProblem::LengthUndeclared {
                detail:
                    "`transfer-encoding` without `content-length`; the rule limits the body size"
                        .to_owned(),
            });
        }
        let has_body = length != Some(0);
        if let Some(allowed) = &self.content_types
            && has_body
        {
            let declared = single(headers, &http::header::CONTENT_TYPE);
            let essence = declared.as_deref().map(media_type);
            let ok = essence.is_some_and(|e| {
                allowed.iter().any(|a| match a.strip_suffix("/*") {
                    Some(t) => e.split_once('/').is_some_and(|(et, _)| et == t),
                    None => *a == e,
                })
            });
            if !ok {
                return Some(RequestProblem::UnsupportedMediaType {
                    content_type: declared.map(|d| clip(&d)),
                });
            }
        }
        None
    }
}

/// A header that appears exactly once, as text.
fn single(headers: &HeaderMap, name: &HeaderName) -> Option<String> {
    let mut values = headers.get_all(name).iter();
    match (values.next(), values.next()) {
        (Some(v), None) => v.to_str().ok().map(str::to_owned),
        _ => None,
    }
}

/// `type/subtype` of a `Content-Type` value, lower-case.
fn media_type(value: &str) -> String {
    value
        .split(';')
        .next()
        .unwrap_or_default()
        .trim()
        .to_ascii_lowercase()
}

/// The declared body length: `Some(n)` from `Content-Length`, `None` for a
/// body of unknown length (`Transfer-Encoding`), `Some(0)` for no body.
/// Repeated or malformed `Content-Length` values, or both headers (RFC 9112
/// §6.3: a smuggling signal), are errors.
fn declared_length(headers: &HeaderMap) -> Result<Option<u64>, String> {
    let te = headers.contains_key(http::header::TRANSFER_ENCODING);
    let mut values = headers.get_all(http::header::CONTENT_LENGTH).iter();
    match (values.next(), values.next()) {
        (None, _) if te => Ok(None),
        (None, _) => Ok(Some(0)),
        (Some(_), _) if te => {
            Err("both `content-length` and `transfer-encoding` are present".to_owned())
        }
        (Some(_), Some(_)) => Err("`content-length` appears more than once".to_owned()),
        (Some(v), None) => {
            let text = v.to_str().unwrap_or_default();
            if text.is_empty() || !text.bytes().all(|b| b.is_ascii_digit()) {
                return Err(format!("`content-length` `{}` is not a number", clip(text)));
            }
            text.parse::<u64>()
                .map(Some)
                .map_err(|_| format!("`content-length` `{}` is too large", clip(text)))
        }
    }
}

/// Whether `value` matches `pattern`, where `*` stands for any run of
/// bytes. Linear backtracking over the last `*` only: O(len(pattern) x
/// len(value)) at worst, no exponential blow-up.
pub(crate) fn glob(pattern: &[u8], value: &[u8]) -> bool {
    let (mut p, mut v) = (0usize, 0usize);
    let mut star: Option<(usize, usize)> = None;
    while v < value.len() {
        match pattern.get(p) {
            Some(b'*') => {
                star = Some((p, v));
                p += 1;
            }
            Some(&c) if value.get(v) == Some(&c) => {
                p += 1;
                v += 1;
            }
            _ => match star {
                Some((sp, sv)) => {
                    p = sp + 1;
                    v = sv + 1;
                    star = Some((sp, sv + 1));
                }
                None => return false,
            },
        }
    }
    pattern
        .get(p..)
        .is_some_and(|rest| rest.iter().all(|&c| c == b'*'))
}

#[cfg(test)]
mod tests {
    use super::glob;

    #[test]
    fn glob_matches_literals_and_stars() {
        assert!(glob(b"abc", b"abc"));
        assert!(!glob(b"abc", b"abd"));
        assert!(glob(b"req-*", b"req-123"));
        assert!(glob(b"*", b""));
        assert!(glob(b"a*c*e", b"abcde"));
        assert!(!glob(b"a*c*e", b"abcdf"));
        assert!(glob(b"Bearer *", b"Bearer x"));
        assert!(!glob(b"", b"x"));
    }
}
