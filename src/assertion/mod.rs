//! Assertions the edge signs: `private_key_jwt` client assertions for a
//! token endpoint ([`ClientAssertion`], RFC 7523 §2.2 / OpenID Connect
//! Core §9) and edge assertions for the upstream ([`EdgeAssertions`]: the
//! principal the Gate allowed, as a short-lived JWT the upstream's own
//! gateway policy checks), with the JWKS and discovery document that
//! publish their keys and key rotation with overlap.
//!
//! Nothing here reads a clock or a global: `now` and the random source
//! (`ring::rand::SecureRandom`, e.g. `SystemRandom`) come from the caller.
//! Keys are [`SigningKey`](crate::crypto::SigningKey)s; minted tokens are
//! [`Secret`](crate::Secret)s, redacted in `Debug`.
//!
#![doc = include_str!("recipes.md")]

mod client;
mod edge;
mod jws;

pub use client::{ClientAssertion, DEFAULT_CLIENT_ASSERTION_LIFETIME};
pub use edge::{
    DEFAULT_EDGE_ASSERTION_LIFETIME, DEFAULT_PUBLISH_LEAD, DEFAULT_RETIRE_MARGIN,
    EDGE_KEYS_SEAL_PURPOSE, EdgeAssertions, Rotation,
};

use time::Duration;

/// Why an assertion could not be minted, or a key state not restored.
/// Never carries a key or a token.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum MintError {
    /// The settings cannot produce a valid assertion (the message says
    /// which).
    #[error("invalid assertion settings: {0}")]
    Config(String),
    /// The principal has no subject to put in `sub`.
    #[error("the principal has no subject")]
    NoSubject,
    /// A key with this `kid` is already published.
    #[error("a key with kid `{0}` is already published")]
    DuplicateKid(String),
    /// `now` plus the lifetime is past the representable dates.
    #[error("issue time `{0}` plus the lifetime is out of range")]
    Time(i64),
    /// The random source failed.
    #[error("the random source failed")]
    Randomness,
    /// The key could not sign.
    #[error("signing failed: {0}")]
    Key(#[from] crate::crypto::KeyError),
    /// An exported key state does not restore.
    #[error("invalid key state: {0}")]
    State(String),
}

/// The longest lifetime an assertion may have.
const MAX_LIFETIME: Duration = Duration::hours(1);

fn check_lifetime(lifetime: Duration) -> Result<(), MintError> {
    if lifetime < Duration::seconds(1) || lifetime > MAX_LIFETIME {
        return Err(MintError::Config(format!(
            "lifetime `{} s` is outside 1 s ..= 3600 s",
            lifetime.whole_seconds()
        )));
    }
    Ok(())
}
