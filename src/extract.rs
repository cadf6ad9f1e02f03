//! Bearer token extraction from a request (RFC 6750 §2): the `Authorization`
//! header, a named header, a cookie (RFC 6265) or a query parameter.

use http::request::Parts;

/// Where to look for a token.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum TokenSource {
    /// `Authorization: Bearer <token>` (RFC 6750 §2.1).
    AuthorizationBearer,
}

/// A token found in a request, borrowed from it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Token<'a> {
    value: &'a str,
}

impl<'a> Token<'a> {
    /// The token text.
    pub fn as_str(&self) -> &'a str {
        self.value
    }
}

/// Why no usable token could be taken from a request.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum ExtractError {}

/// Finds the request's token in the given sources.
///
/// # Errors
/// When a source is present but malformed.
pub fn extract<'a>(
    _parts: &'a Parts,
    _sources: &[TokenSource],
) -> Result<Option<Token<'a>>, ExtractError> {
    Ok(None)
}
