//! The one error type of the `jwt` module. Messages name what failed and the
//! offending (non-secret) value; time errors carry the times and the leeway.

use std::fmt;

/// The part of a compact JWS a [`JwtError::Malformed`] refers to.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum Part {
    /// The token as a whole (size, number of segments).
    Token,
    /// The JOSE header (first segment).
    Header,
    /// The payload / claims set (second segment).
    Claims,
    /// The signature (third segment).
    Signature,
}

impl fmt::Display for Part {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Part::Token => "token",
            Part::Header => "header",
            Part::Claims => "claims",
            Part::Signature => "signature",
        })
    }
}

/// A token that failed validation.
///
/// Match on the variant; the messages are for humans. No variant carries the
/// token, a signature or key material. Values taken from the token (`kid`,
/// `alg`, `typ`, `iss`, `aud`) are kept as sent in the fields but printed
/// with control and non-ASCII characters escaped and clipped to 256 bytes,
/// so that the message is safe to log.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum JwtError {
    /// The token is longer than [`Validation::max_token_size`](crate::jwt::Validation::max_token_size).
    #[error("token is {len} bytes, more than the limit of {max}")]
    TooLarge {
        /// The token's length in bytes.
        len: usize,
        /// The configured limit.
        max: usize,
    },
    /// A part of the token is not well formed.
    #[error("malformed {part}: {}", shown(reason))]
    Malformed {
        /// Which part.
        part: Part,
        /// What was wrong.
        reason: String,
    },
    /// `alg: none` (in any casing): unsecured JWS are never accepted.
    #[error("unsecured token (`alg` is `{}`) is never accepted", shown(alg))]
    Unsecured {
        /// The `alg` value as sent.
        alg: String,
    },
    /// The `alg` is not one this crate implements (e.g. `ES512`, `ES256K`).
    #[error("unsupported algorithm `{}`", shown(alg))]
    UnsupportedAlgorithm {
        /// The `alg` value as sent.
        alg: String,
    },
    /// The `alg` is supported but not in the configured allow-list.
    #[error("algorithm `{}` is not allowed", shown(alg))]
    AlgorithmNotAllowed {
        /// The `alg` value.
        alg: String,
    },
    /// A header member this crate does not implement and must not ignore
    /// (`crit`, `b64: false`).
    #[error("unsupported header member `{}`: {}", shown(member), shown(reason))]
    UnsupportedHeader {
        /// The member's name.
        member: String,
        /// Why it cannot be processed.
        reason: String,
    },
    /// No key in the set has the token's `kid` (or, without `kid`, fits the `alg`).
    #[error("no key for kid `{}` and algorithm `{}`", shown_kid(kid), shown(alg))]
    UnknownKey {
        /// The token's `kid`, if any.
        kid: Option<String>,
        /// The token's `alg`.
        alg: String,
    },
    /// More than one key fits the token's `kid` and `alg`.
    #[error(
        "{count} keys fit kid `{}` and algorithm `{}`; refusing to guess",
        shown_kid(kid),
        shown(alg)
    )]
    AmbiguousKey {
        /// The token's `kid`, if any.
        kid: Option<String>,
        /// The token's `alg`.
        alg: String,
        /// How many keys fit.
        count: usize,
    },
    /// The key named by `kid` cannot be used with the token's `alg` (type,
    /// curve, size, or the key's own `alg`).
    #[error(
        "key `{}` cannot verify `{}`: {}",
        shown_kid(kid),
        shown(alg),
        shown(reason)
    )]
    KeyMismatch {
        /// The token's `kid`, if any.
        kid: Option<String>,
        /// The token's `alg`.
        alg: String,
        /// Why the key does not fit.
        reason: String,
    },
    /// The signature does not verify.
    #[error("bad signature")]
    BadSignature,
    /// The header `typ` is not the expected one.
    #[error("token type is `{}`, expected `{}`", shown_kid(seen), shown(expected))]
    TypeMismatch {
        /// The configured type.
        expected: String,
        /// The token's `typ`, if any.
        seen: Option<String>,
    },
    /// `exp` is in the past (beyond the leeway).
    #[error(
        "token expired at {}, {} s before now, leeway {} s",
        crate::time::display(*exp),
        crate::time::seconds_between(*exp, *now),
        leeway.whole_seconds()
    )]
    Expired {
        /// The token's `exp`.
        exp: time::OffsetDateTime,
        /// The time of the check.
        now: time::OffsetDateTime,
        /// The configured leeway.
        leeway: time::Duration,
    },
    /// `nbf` is in the future (beyond the leeway).
    #[error(
        "token not valid before {}, {} s after now, leeway {} s",
        crate::time::display(*nbf),
        crate::time::seconds_between(*now, *nbf),
        leeway.whole_seconds()
    )]
    NotYetValid {
        /// The token's `nbf`.
        nbf: time::OffsetDateTime,
        /// The time of the check.
        now: time::OffsetDateTime,
        /// The configured leeway.
        leeway: time::Duration,
    },
    /// `iat` is in the future (beyond the leeway).
    #[error(
        "token issued in the future at {}, {} s after now, leeway {} s",
        crate::time::display(*iat),
        crate::time::seconds_between(*now, *iat),
        leeway.whole_seconds()
    )]
    IssuedInFuture {
        /// The token's `iat`.
        iat: time::OffsetDateTime,
        /// The time of the check.
        now: time::OffsetDateTime,
        /// The configured leeway.
        leeway: time::Duration,
    },
    /// `iat` is older than [`Validation::max_age`](crate::jwt::Validation::max_age).
    #[error(
        "token issued at {} is {} s old, more than the maximum age of {} s (leeway {} s)",
        crate::time::display(*iat),
        crate::time::seconds_between(*iat, *now),
        max_age.whole_seconds(),
        leeway.whole_seconds()
    )]
    TooOld {
        /// The token's `iat`.
        iat: time::OffsetDateTime,
        /// The time of the check.
        now: time::OffsetDateTime,
        /// The configured maximum age.
        max_age: time::Duration,
        /// The configured leeway.
        leeway: time::Duration,
    },
    /// A required claim is absent.
    #[error("required claim `{}` is missing", shown(claim))]
    MissingClaim {
        /// The claim's name.
        claim: String,
    },
    /// `iss` is not one of the configured issuers.
    #[error("issuer `{}` is not one of {}", shown(seen), list(expected))]
    IssuerMismatch {
        /// The configured issuers (templates as configured).
        expected: Vec<String>,
        /// The token's `iss`.
        seen: String,
    },
    /// No `aud` value is one of the configured audiences.
    #[error("audience {} is not one of {}", list(seen), list(expected))]
    AudienceMismatch {
        /// The configured audiences.
        expected: Vec<String>,
        /// The token's `aud` values.
        seen: Vec<String>,
    },
    /// A claim checked against configured values (`client_id`,
    /// `token_use`) holds another value.
    #[error(
        "claim `{}` is `{}`, not one of {}",
        shown(claim),
        shown(seen),
        list(expected)
    )]
    ClaimMismatch {
        /// The claim's name.
        claim: String,
        /// The accepted values.
        expected: Vec<String>,
        /// The token's value.
        seen: String,
    },
}

/// How long a value from the token may be in an error text.
const SHOWN_MAX: usize = 256;

/// A value from the token (unverified: the header is read before the
/// signature is checked) made safe to print: control and non-ASCII
/// characters escaped, so that a `kid` with a CR LF cannot forge a log
/// line, and clipped, so that 8 KiB of `kid` cannot flood the log.
fn shown(value: &str) -> String {
    crate::text::printable(value, SHOWN_MAX)
}

/// [`shown`] for an optional value, `(none)` when absent.
fn shown_kid(value: &Option<String>) -> String {
    value.as_deref().map_or_else(|| "(none)".to_owned(), shown)
}

/// Formats a list as "`a`, `b`" (or "(none)"), each item [`shown`].
fn list(items: &[String]) -> String {
    if items.is_empty() {
        return "(none)".to_owned();
    }
    items
        .iter()
        .map(|s| format!("`{}`", shown(s)))
        .collect::<Vec<_>>()
        .join(", ")
}

impl JwtError {
    #[cold]
    #[inline(never)]
    pub(crate) fn malformed(part: Part, reason: impl Into<String>) -> Self {
        JwtError::Malformed {
            part,
            reason: reason.into(),
        }
    }
}

impl From<crate::jose::KeyError> for JwtError {
    fn from(e: crate::jose::KeyError) -> Self {
        use crate::jose::KeyError as K;
        match e {
            K::UnknownKey { kid, alg } => JwtError::UnknownKey { kid, alg },
            K::AmbiguousKey { kid, alg, count } => JwtError::AmbiguousKey { kid, alg, count },
            K::KeyMismatch { kid, alg, reason } => JwtError::KeyMismatch { kid, alg, reason },
            K::SignatureForm(reason) => JwtError::malformed(Part::Signature, reason),
            K::BadSignature => JwtError::BadSignature,
        }
    }
}
