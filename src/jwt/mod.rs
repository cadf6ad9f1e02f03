//! JWT validation (RFC 7519, RFC 7515 compact serialization, RFC 8725 best
//! current practice) with signatures verified by ring.

/// A token that failed validation.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum JwtError {}
