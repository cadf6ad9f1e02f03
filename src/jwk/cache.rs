//! `JwksCache`: a sans-IO state machine that says when to fetch a JWKS.

/// A JWKS response or restored state the cache refused.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum CacheError {}
