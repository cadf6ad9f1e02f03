//! Declarative route policy: documents, compiled matchers, decisions.

/// Why policy failed.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum PolicyError {}
