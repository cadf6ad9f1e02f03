//! HTTP Message Signatures (RFC 9421) with Content-Digest (RFC 9530).

/// Why httpsig failed.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum HttpSigError {}
