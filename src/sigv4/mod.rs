//! AWS Signature Version 4: sign, presign and verify.

/// Why sigv4 failed.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum SigV4Error {}
