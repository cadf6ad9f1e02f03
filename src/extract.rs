//! Bearer token extraction from a request (RFC 6750 §2): the `Authorization`
//! header (§2.1), a named header, a cookie (RFC 6265 §4.2) or a query
//! parameter (§2.3), with the token68 syntax of RFC 9110 §11.2.
//!
//! ```
//! use edge_auth::extract::{Extractor, TokenSource};
//!
//! let (parts, ()) = http::Request::get("/api")
//!     .header("authorization", "bearer mF_9.B5f-4.1JqM")
//!     .body(())
//!     .unwrap()
//!     .into_parts();
//! let token = edge_auth::extract(&parts, &[TokenSource::AuthorizationBearer])?.unwrap();
//! assert_eq!(token.as_str(), "mF_9.B5f-4.1JqM");
//!
//! // More places, a smaller limit:
//! let mut extractor = Extractor::new(vec![
//!     TokenSource::AuthorizationBearer,
//!     TokenSource::cookie("session"),
//! ]);
//! extractor.max_token_len = 4096;
//! assert!(extractor.extract(&parts)?.is_some());
//! # Ok::<(), edge_auth::extract::ExtractError>(())
//! ```
//!
//! Semantics worth knowing:
//! - An `Authorization` header with another scheme (`Basic`, `DPoP`, ...) is
//!   not a bearer token: it yields `Ok(None)`, not an error. RFC 6750 §3.1
//!   treats a request "attempted using an unsupported authentication method"
//!   like one without credentials (401 with a bare `Bearer` challenge and no
//!   error code), and RFC 9449 §7.2 lets a resource server that does not
//!   support DPoP answer a `DPoP` request with its `Bearer` challenge.
//! - Every configured source is inspected; a token found in more than one is
//!   [`ExtractError::MultipleMethods`] (RFC 6750 §2: "Clients MUST NOT use
//!   more than one method"; §3.1 `invalid_request`). A source present more
//!   than once (two `Authorization` headers, two cookies or query parameters
//!   of that name) is [`ExtractError::Duplicate`]: guessing which one counts
//!   is how cookie tossing and parameter pollution attacks work.
//! - Errors name the source and the byte offset of a bad character, never
//!   the token.

use std::borrow::Cow;
use std::fmt;

use crate::text::{hex_value, is_tchar};
use http::HeaderName;
use http::header::{AUTHORIZATION, COOKIE};
use http::request::Parts;

/// Default limit on a token's length in bytes: 16 KiB.
///
/// It admits the largest tokens mainstream identity providers issue in
/// practice, measured with RS256 in `tests/jwt.rs`
/// (`largest_idp_tokens_pass_the_default_limits`): Entra ID at 200 groups,
/// the most it puts in a JWT before the overage claim, with every optional
/// claim of a synced user (about 13.8 KB); Okta at its 100-group cap with
/// 80-character group names (about 12.0 KB); Keycloak with 100 realm
/// roles, 100 client roles and 100 groups (about 12.9 KB). The old 8 KiB
/// refused all three. It still bounds the work spent on a request before
/// its signature is checked (one base64 pass and one header parse over at
/// most 16 KiB), and larger tokens rarely arrive at all: many servers
/// refuse header fields or blocks over 16 KiB (Node.js, http.sys), nginx
/// and Apache lines over 8 KiB unless raised. Okta group names near their
/// 255-character maximum (about 35 KB) or an unbounded Keycloak mapper go
/// past it: raise the limit (the Gate follows a raised
/// `Validation::max_token_size`) or trim the claims at the IdP.
pub const DEFAULT_MAX_TOKEN_LEN: usize = 16 * 1024;

/// Where to look for a token.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum TokenSource {
    /// `Authorization: Bearer <token>` (RFC 6750 §2.1), scheme compared
    /// case-insensitively.
    AuthorizationBearer,
    /// A named header carrying the token raw (`scheme: None`) or as
    /// `<scheme> <token>` (scheme compared case-insensitively).
    Header {
        /// The header's name.
        name: HeaderName,
        /// The scheme in front of the token, e.g. `Bearer`; `None` when the
        /// header's whole value is the token.
        scheme: Option<Cow<'static, str>>,
    },
    /// A cookie of this name (RFC 6265 §4.2; names are case-sensitive).
    Cookie(Cow<'static, str>),
    /// A query parameter of this name, `application/x-www-form-urlencoded`
    /// (RFC 6750 §2.3 uses `access_token`). Tokens in URLs end up in logs and
    /// `Referer` headers (RFC 6750 §5.3): prefer the other sources.
    Query(Cow<'static, str>),
}

impl TokenSource {
    /// A named header whose whole value is the token.
    pub fn header(name: HeaderName) -> Self {
        Self::Header { name, scheme: None }
    }

    /// A named header carrying `<scheme> <token>`.
    pub fn header_with_scheme(name: HeaderName, scheme: impl Into<Cow<'static, str>>) -> Self {
        Self::Header {
            name,
            scheme: Some(scheme.into()),
        }
    }

    /// A cookie of this name.
    pub fn cookie(name: impl Into<Cow<'static, str>>) -> Self {
        Self::Cookie(name.into())
    }

    /// A query parameter of this name.
    pub fn query(name: impl Into<Cow<'static, str>>) -> Self {
        Self::Query(name.into())
    }
}

impl fmt::Display for TokenSource {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::AuthorizationBearer => f.write_str("the authorization header"),
            Self::Header { name, .. } => write!(f, "header `{name}`"),
            Self::Cookie(name) => write!(f, "cookie `{}`", Printable(name)),
            Self::Query(name) => write!(f, "query parameter `{}`", Printable(name)),
        }
    }
}

/// A token found in a request. Borrowed from the request except for a query
/// parameter that needed percent-decoding.
#[derive(Clone, PartialEq, Eq)]
pub struct Token<'a> {
    value: Cow<'a, str>,
    source: TokenSource,
}

impl<'a> Token<'a> {
    /// The token text (token68 characters only).
    pub fn as_str(&self) -> &str {
        &self.value
    }

    /// The token text, borrowed from the request unless it was
    /// percent-decoded.
    pub fn into_value(self) -> Cow<'a, str> {
        self.value
    }

    /// Where the token was found.
    pub fn source(&self) -> &TokenSource {
        &self.source
    }
}

// The token is a credential: never print it.
impl fmt::Debug for Token<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Token")
            .field("value", &"** redacted **")
            .field("len", &self.value.len())
            .field("source", &self.source)
            .finish()
    }
}

/// Why no usable token could be taken from a request. Every variant is a
/// malformed request in RFC 6750 §3.1 terms (`invalid_request`, 400).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum ExtractError {
    /// A source appears more than once (headers, cookies or parameters).
    #[error("{origin} appears {count} times, expected exactly one")]
    Duplicate {
        /// The repeated source.
        origin: TokenSource,
        /// How many times it appears (capped at 2 for cookies and parameters).
        count: usize,
    },
    /// Tokens were sent by more than one method (RFC 6750 §2).
    #[error("request carries a token in both {first} and {second}, expected one method")]
    MultipleMethods {
        /// The first source (in configuration order) with a token.
        first: TokenSource,
        /// Another source with a token.
        second: TokenSource,
    },
    /// A header that should carry `<scheme> <token>` has another scheme.
    #[error("{origin} has scheme `{found}`, expected `{expected}`")]
    WrongScheme {
        /// The header.
        origin: TokenSource,
        /// The scheme found when it is a registered scheme name, otherwise
        /// `(none)` or `(not shown)`: never the token.
        found: String,
        /// The scheme configured.
        expected: String,
    },
    /// The header's value does not have the `scheme token` shape.
    #[error("{origin} is malformed: {problem}")]
    Malformed {
        /// Where.
        origin: TokenSource,
        /// What is wrong, e.g. "no token after the scheme".
        problem: &'static str,
    },
    /// The token is empty.
    #[error("token in {origin} is empty")]
    Empty {
        /// Where.
        origin: TokenSource,
    },
    /// The token has a byte outside the token68 set (RFC 9110 §11.2).
    #[error("token in {origin} contains a character outside token68 at byte {offset}")]
    InvalidCharacter {
        /// Where.
        origin: TokenSource,
        /// The offset of the first bad byte within the token.
        offset: usize,
    },
    /// The token is longer than the configured limit.
    #[error("token in {origin} is {len} bytes, more than the limit of {max}")]
    TooLong {
        /// Where.
        origin: TokenSource,
        /// The token's length (bytes).
        len: usize,
        /// The limit.
        max: usize,
    },
    /// A query parameter has a `%` not followed by two hex digits.
    #[error("{origin} has an invalid percent-encoding at byte {offset}")]
    InvalidPercentEncoding {
        /// Where.
        origin: TokenSource,
        /// The offset of the bad `%` within the raw value.
        offset: usize,
    },
}

/// Token extraction settings: where to look and how much to accept.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct Extractor {
    /// The places a token may come from. All are inspected; a token in more
    /// than one is an error. Default: `[AuthorizationBearer]`.
    pub sources: Vec<TokenSource>,
    /// Longest token accepted, in bytes (after percent-decoding). Default
    /// [`DEFAULT_MAX_TOKEN_LEN`] (16 KiB).
    pub max_token_len: usize,
}

impl Default for Extractor {
    fn default() -> Self {
        Self {
            sources: vec![TokenSource::AuthorizationBearer],
            max_token_len: DEFAULT_MAX_TOKEN_LEN,
        }
    }
}

impl Extractor {
    /// These sources with the default limits.
    pub fn new(sources: Vec<TokenSource>) -> Self {
        Self {
            sources,
            ..Self::default()
        }
    }

    /// Finds the request's token.
    ///
    /// # Errors
    /// [`ExtractError`] when a source is present but malformed, repeated,
    /// too long, or when more than one source carries a token.
    pub fn extract<'a>(&self, parts: &'a Parts) -> Result<Option<Token<'a>>, ExtractError> {
        extract_with(parts, &self.sources, self.max_token_len)
    }
}

/// Finds the request's token in the given sources, with the default limits
/// (see [`Extractor`]). `Ok(None)` when no source carries a token, including
/// an `Authorization` header with a scheme other than `Bearer`.
///
/// # Errors
/// [`ExtractError`] when a source is present but malformed, repeated, too
/// long, or when more than one source carries a token.
pub fn extract<'a>(
    parts: &'a Parts,
    sources: &[TokenSource],
) -> Result<Option<Token<'a>>, ExtractError> {
    extract_with(parts, sources, DEFAULT_MAX_TOKEN_LEN)
}

pub(crate) fn extract_with<'a>(
    parts: &'a Parts,
    sources: &[TokenSource],
    max: usize,
) -> Result<Option<Token<'a>>, ExtractError> {
    let mut found: Option<Token<'a>> = None;
    for source in sources {
        let Some(value) = find(parts, source)? else {
            continue;
        };
        if value.is_empty() {
            return Err(ExtractError::Empty {
                origin: source.clone(),
            });
        }
        if value.len() > max {
            return Err(ExtractError::TooLong {
                origin: source.clone(),
                len: value.len(),
                max,
            });
        }
        let value = check_token68(value, source)?;
        if let Some(first) = &found {
            // The same source listed twice is one method, not two.
            if first.source != *source {
                return Err(ExtractError::MultipleMethods {
                    first: first.source.clone(),
                    second: source.clone(),
                });
            }
            continue;
        }
        found = Some(Token {
            value,
            source: source.clone(),
        });
    }
    Ok(found)
}

/// The raw token bytes a source carries, before the token68 check.
fn find<'a>(parts: &'a Parts, source: &TokenSource) -> Result<Option<Cow<'a, [u8]>>, ExtractError> {
    match source {
        TokenSource::AuthorizationBearer => {
            let Some(value) = single_header(parts, &AUTHORIZATION, source)? else {
                return Ok(None);
            };
            match split_credentials(value) {
                Credentials::Empty => Err(malformed(source, "the value is empty")),
                Credentials::BadScheme => Err(malformed(source, "the scheme is not a token")),
                Credentials::Scheme { scheme, rest } => {
                    if !scheme.eq_ignore_ascii_case(b"bearer") {
                        // RFC 6750 §3.1: another method is "no bearer credentials".
                        return Ok(None);
                    }
                    match rest {
                        Some(token) => Ok(Some(Cow::Borrowed(token))),
                        None => Err(malformed(source, "no token after the scheme")),
                    }
                }
            }
        }
        TokenSource::Header { name, scheme } => {
            let Some(value) = single_header(parts, name, source)? else {
                return Ok(None);
            };
            let Some(expected) = scheme else {
                return Ok(Some(Cow::Borrowed(trim_ows(value))));
            };
            match split_credentials(value) {
                Credentials::Empty => Err(malformed(source, "the value is empty")),
                Credentials::BadScheme => Err(malformed(source, "the scheme is not a token")),
                Credentials::Scheme { scheme, rest } => {
                    if !scheme.eq_ignore_ascii_case(expected.as_bytes()) {
                        return Err(wrong_scheme(source, scheme, rest.is_some(), expected));
                    }
                    match rest {
                        Some(token) => Ok(Some(Cow::Borrowed(token))),
                        None => Err(malformed(source, "no token after the scheme")),
                    }
                }
            }
        }
        TokenSource::Cookie(name) => {
            let mut value = None;
            for header in parts.headers.get_all(COOKIE) {
                for (n, v) in cookie_pairs(header.as_bytes()) {
                    if n == name.as_bytes() {
                        if value.is_some() {
                            return Err(ExtractError::Duplicate {
                                origin: source.clone(),
                                count: 2,
                            });
                        }
                        value = Some(v);
                    }
                }
            }
            Ok(value.map(Cow::Borrowed))
        }
        TokenSource::Query(name) => {
            let Some(query) = parts.uri.query() else {
                return Ok(None);
            };
            let mut value = None;
            for (n, v) in query_pairs(query.as_bytes()) {
                if form_name_eq(n, name.as_bytes()) {
                    if value.is_some() {
                        return Err(ExtractError::Duplicate {
                            origin: source.clone(),
                            count: 2,
                        });
                    }
                    value = Some(v);
                }
            }
            match value {
                None => Ok(None),
                Some(raw) => form_decode(raw).map(Some).map_err(|offset| {
                    ExtractError::InvalidPercentEncoding {
                        origin: source.clone(),
                        offset,
                    }
                }),
            }
        }
    }
}

fn malformed(source: &TokenSource, problem: &'static str) -> ExtractError {
    ExtractError::Malformed {
        origin: source.clone(),
        problem,
    }
}

fn wrong_scheme(
    source: &TokenSource,
    found: &[u8],
    had_rest: bool,
    expected: &str,
) -> ExtractError {
    // Without a space the "scheme" is likely a raw token: do not echo it.
    // With one it may still be a credential (`<api-key> <signature>`), so
    // only a registered scheme name is echoed; the error text reaches logs.
    let found = if !had_rest {
        String::from("(none)")
    } else if let Some(name) = KNOWN_SCHEMES
        .iter()
        .find(|name| name.as_bytes().eq_ignore_ascii_case(found))
    {
        (*name).to_owned()
    } else {
        String::from("(not shown)")
    };
    ExtractError::WrongScheme {
        origin: source.clone(),
        found,
        expected: expected.to_owned(),
    }
}

/// Schemes of the IANA HTTP Authentication Scheme Registry (plus AWS
/// SigV4, NTLM and `Token`): the only "schemes" an error may name.
const KNOWN_SCHEMES: [&str; 18] = [
    "Basic",
    "Bearer",
    "Concealed",
    "Digest",
    "DPoP",
    "GNAP",
    "HOBA",
    "Mutual",
    "Negotiate",
    "OAuth",
    "PrivateToken",
    "SCRAM-SHA-1",
    "SCRAM-SHA-256",
    "vapid",
    "AWS4-HMAC-SHA256",
    "NTLM",
    "Token",
    "ApiKey",
];

/// The one value of a header that must not repeat (RFC 9110 §5.3: a
/// singleton field sent twice is an error, not a list).
fn single_header<'a>(
    parts: &'a Parts,
    name: &HeaderName,
    source: &TokenSource,
) -> Result<Option<&'a [u8]>, ExtractError> {
    let mut values = parts.headers.get_all(name).iter();
    let Some(first) = values.next() else {
        return Ok(None);
    };
    let rest = values.count();
    if rest > 0 {
        return Err(ExtractError::Duplicate {
            origin: source.clone(),
            count: rest.saturating_add(1),
        });
    }
    Ok(Some(first.as_bytes()))
}

enum Credentials<'a> {
    Empty,
    BadScheme,
    Scheme {
        scheme: &'a [u8],
        rest: Option<&'a [u8]>,
    },
}

/// `credentials = auth-scheme [ 1*SP ( token68 / #auth-param ) ]` (RFC 9110
/// §11.4). Field values carry no leading or trailing whitespace (§5.5), so it
/// is trimmed; inside, only SP separates (RFC 6750 §2.1 `1*SP`).
fn split_credentials(value: &[u8]) -> Credentials<'_> {
    let value = trim_ows(value);
    if value.is_empty() {
        return Credentials::Empty;
    }
    let end = value.iter().position(|&b| b == b' ').unwrap_or(value.len());
    let (scheme, rest) = value.split_at(end);
    if !scheme.iter().all(|&b| is_tchar(b)) {
        return Credentials::BadScheme;
    }
    let spaces = rest.iter().take_while(|&&b| b == b' ').count();
    let rest = rest.get(spaces..).unwrap_or_default();
    Credentials::Scheme {
        scheme,
        rest: (!rest.is_empty()).then_some(rest),
    }
}

fn trim_ows(value: &[u8]) -> &[u8] {
    let start = value
        .iter()
        .position(|&b| b != b' ' && b != b'\t')
        .unwrap_or(value.len());
    let end = value
        .iter()
        .rposition(|&b| b != b' ' && b != b'\t')
        .map_or(start, |i| i.saturating_add(1));
    value.get(start..end).unwrap_or_default()
}

/// Bytes of the token68 body: `ALPHA / DIGIT / "-" / "." / "_" / "~" / "+" /
/// "/"`. A table, because this scan is most of the cost of extraction.
#[allow(
    clippy::indexing_slicing,
    reason = "evaluated at compile time: a bad index fails the build, never a request"
)]
static TOKEN68_BODY: [bool; 256] = {
    let mut table = [false; 256];
    let mut b = 0usize;
    while b < 256 {
        let c = b as u8;
        table[b] = c.is_ascii_alphanumeric()
            || c == b'-'
            || c == b'.'
            || c == b'_'
            || c == b'~'
            || c == b'+'
            || c == b'/';
        b += 1;
    }
    table
};

fn is_token68_body(b: u8) -> bool {
    TOKEN68_BODY.get(usize::from(b)).copied().unwrap_or(false)
}

/// The same class without branches or table lookups, so a whole chunk can
/// be checked with SIMD compares.
fn is_token68_body_branchless(b: u8) -> bool {
    let lower = b | 0x20;
    (lower.wrapping_sub(b'a') < 26)
        | (b.wrapping_sub(b'0') < 10)
        | (b == b'-')
        | (b == b'.')
        | (b == b'_')
        | (b == b'~')
        | (b == b'+')
        | (b == b'/')
}

/// Length of the leading run of token68 body bytes: fixed 32-byte chunks
/// are checked branch-free (LLVM vectorises the fold); only the chunk with
/// the first other byte is scanned one byte at a time.
fn token68_body_len(token: &[u8]) -> usize {
    let mut chunks = token.chunks_exact(32);
    let mut offset = 0usize;
    for chunk in chunks.by_ref() {
        let bad = chunk.iter().fold(0u8, |acc, &b| {
            acc | u8::from(!is_token68_body_branchless(b))
        });
        if bad != 0 {
            break;
        }
        offset = offset.saturating_add(32);
    }
    let rest = token.get(offset..).unwrap_or_default();
    offset.saturating_add(
        rest.iter()
            .position(|&b| !is_token68_body(b))
            .unwrap_or(rest.len()),
    )
}

/// `token68 = 1*( ALPHA / DIGIT / "-" / "." / "_" / "~" / "+" / "/" ) *"="`
/// (RFC 9110 §11.2, RFC 6750 §2.1 `b64token`). Returns the offset of the
/// first byte that breaks it.
fn token68_error(token: &[u8]) -> Option<usize> {
    let body = token68_body_len(token);
    if body == 0 {
        return Some(0);
    }
    let tail = token.get(body..).unwrap_or_default();
    tail.iter()
        .position(|&b| b != b'=')
        .map(|i| body.saturating_add(i))
}

fn check_token68<'a>(
    value: Cow<'a, [u8]>,
    source: &TokenSource,
) -> Result<Cow<'a, str>, ExtractError> {
    if let Some(offset) = token68_error(&value) {
        return Err(ExtractError::InvalidCharacter {
            origin: source.clone(),
            offset,
        });
    }
    // token68 is ASCII, so these conversions cannot fail; map defensively.
    let bad = || ExtractError::InvalidCharacter {
        origin: source.clone(),
        offset: 0,
    };
    match value {
        Cow::Borrowed(b) => std::str::from_utf8(b).map(Cow::Borrowed).map_err(|_| bad()),
        Cow::Owned(v) => String::from_utf8(v).map(Cow::Owned).map_err(|_| bad()),
    }
}

/// The `name=value` pairs of one `Cookie` header (RFC 6265 §4.2.1 /
/// §5.4): pairs separated by `;` and optional whitespace, the name up to the
/// first `=`, a value in double quotes unwrapped. Pairs without `=` are
/// skipped. Borrows; never allocates.
pub(crate) fn cookie_pairs(header: &[u8]) -> impl Iterator<Item = (&[u8], &[u8])> {
    header.split(|&b| b == b';').filter_map(|pair| {
        let pair = trim_ows(pair);
        let eq = pair.iter().position(|&b| b == b'=')?;
        let (name, value) = pair.split_at(eq);
        let value = trim_ows(value.get(1..).unwrap_or_default());
        let value = match value {
            [b'"', inner @ .., b'"'] => inner,
            other => other,
        };
        Some((trim_ows(name), value))
    })
}

/// The raw `name=value` pairs of a query string, split on `&`.
fn query_pairs(query: &[u8]) -> impl Iterator<Item = (&[u8], &[u8])> {
    query
        .split(|&b| b == b'&')
        .map(|pair| match pair.iter().position(|&b| b == b'=') {
            Some(eq) => (
                pair.get(..eq).unwrap_or_default(),
                pair.get(eq.saturating_add(1)..).unwrap_or_default(),
            ),
            None => (pair, &[][..]),
        })
}

/// Whether a raw (form-encoded) parameter name decodes to `want`.
fn form_name_eq(raw: &[u8], want: &[u8]) -> bool {
    if !raw.iter().any(|&b| b == b'%' || b == b'+') {
        return raw == want;
    }
    matches!(form_decode(raw), Ok(decoded) if *decoded == *want)
}

/// `application/x-www-form-urlencoded` decoding: `+` is a space, `%XX` a
/// byte. Borrows when there is nothing to decode; `Err(offset)` for a `%`
/// without two hex digits.
pub(crate) fn form_decode(raw: &[u8]) -> Result<Cow<'_, [u8]>, usize> {
    if !raw.iter().any(|&b| b == b'%' || b == b'+') {
        return Ok(Cow::Borrowed(raw));
    }
    let mut out = Vec::with_capacity(raw.len());
    let mut i = 0;
    while let Some(&b) = raw.get(i) {
        match b {
            b'+' => out.push(b' '),
            b'%' => {
                let hi = raw.get(i.saturating_add(1)).and_then(|&h| hex_value(h));
                let lo = raw.get(i.saturating_add(2)).and_then(|&l| hex_value(l));
                match (hi, lo) {
                    (Some(hi), Some(lo)) => out.push(hi << 4 | lo),
                    _ => return Err(i),
                }
                i = i.saturating_add(2);
            }
            other => out.push(other),
        }
        i = i.saturating_add(1);
    }
    Ok(Cow::Owned(out))
}

/// Prints a configured name with control characters escaped, so an error
/// message cannot forge log lines.
struct Printable<'a>(&'a str);

impl fmt::Display for Printable<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        for c in self.0.chars() {
            if c.is_control() {
                write!(f, "{}", c.escape_default())?;
            } else {
                write!(f, "{c}")?;
            }
        }
        Ok(())
    }
}

#[doc(hidden)]
pub mod fuzz {
    //! Entry points for the fuzz targets (re-exported from `__fuzz`).
    use std::borrow::Cow;

    /// The `(name, value)` pairs of a `Cookie` header.
    pub fn cookie_pairs(header: &[u8]) -> Vec<(&[u8], &[u8])> {
        super::cookie_pairs(header).collect()
    }

    /// Form-decodes a query component; `Err(offset)` for a bad `%`.
    pub fn form_decode(raw: &[u8]) -> Result<Cow<'_, [u8]>, usize> {
        super::form_decode(raw)
    }

    /// The offset of the first byte breaking token68, if any.
    pub fn token68_error(token: &[u8]) -> Option<usize> {
        super::token68_error(token)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn branchless_class_matches_table() {
        for b in 0..=255u8 {
            assert_eq!(
                is_token68_body(b),
                is_token68_body_branchless(b),
                "byte {b}"
            );
        }
    }

    #[test]
    fn token68_shapes() {
        assert_eq!(token68_error(b"abc"), None);
        assert_eq!(token68_error(b"a.b-c_d~e+f/g=="), None);
        assert_eq!(token68_error(b"="), Some(0));
        assert_eq!(token68_error(b"ab=c"), Some(3));
        assert_eq!(token68_error(b"ab c"), Some(2));
        assert_eq!(token68_error(b""), Some(0));
    }

    #[test]
    fn cookie_pairs_borrow_and_unquote() {
        let pairs: Vec<_> = cookie_pairs(b"a=1; b=\"two\";c; d = 4 ").collect();
        assert_eq!(
            pairs,
            vec![
                (&b"a"[..], &b"1"[..]),
                (&b"b"[..], &b"two"[..]),
                (&b"d"[..], &b"4"[..])
            ]
        );
    }

    #[test]
    fn form_decode_cases() {
        assert!(matches!(form_decode(b"abc"), Ok(Cow::Borrowed(b"abc"))));
        assert_eq!(form_decode(b"a%2Bb+c").unwrap().as_ref(), b"a+b c");
        assert_eq!(form_decode(b"a%2"), Err(1));
        assert_eq!(form_decode(b"%zz"), Err(0));
    }
}
