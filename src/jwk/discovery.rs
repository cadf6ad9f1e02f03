//! OpenID Connect Discovery 1.0 documents.

/// A discovery document that cannot be used.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum DiscoveryError {}
