//! `GateError`: a gate that cannot be built, or a fetch answer or saved
//! state it cannot place. Errors of the key machines and of the default
//! policy are kept as the [`source`](std::error::Error::source).

use crate::jwk::KeysError;
#[cfg(feature = "policy")]
use crate::policy::PolicyError;

/// A gate that cannot be built, or an answer it cannot place.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum GateError {
    /// The configuration is inconsistent (no issuer, an issuer twice or
    /// without audience or key source, a bad duration).
    #[error("invalid gate configuration: {reason}")]
    Config {
        /// What is wrong.
        reason: String,
    },
    /// A plan, response or state names an issuer this gate does not have.
    #[error("issuer `{issuer}` is not configured")]
    UnknownIssuer {
        /// The issuer as given, control and non-ASCII characters escaped.
        issuer: String,
    },
    /// An issuer's keys refused a configuration, a fetch answer or a
    /// saved state (its discovery document, key set or cache). The message
    /// repeats the source's, so that a log line says what was refused.
    #[error("issuer `{issuer}`: {source}")]
    Keys {
        /// The issuer as configured.
        issuer: String,
        /// What the key machine refused.
        #[source]
        source: KeysError,
    },
    /// An issuer's introspector refused its configuration or an answer.
    #[cfg(feature = "introspect")]
    #[error("issuer `{issuer}`: {source}")]
    Introspect {
        /// The issuer as configured.
        issuer: String,
        /// What the introspector refused.
        #[source]
        source: crate::introspect::IntrospectError,
    },
    /// The built-in default policy did not compile (a bug in this crate).
    /// `policy` feature: without it the Gate compiles no policy.
    #[cfg(feature = "policy")]
    #[error("the default policy does not compile: {source}")]
    Policy {
        /// The compiler's error.
        #[source]
        source: PolicyError,
    },
}

impl GateError {
    pub(super) fn config(reason: impl Into<String>) -> Self {
        Self::Config {
            reason: reason.into(),
        }
    }

    pub(super) fn issuer(issuer: &str, what: &str) -> Self {
        Self::config(format!("issuer `{issuer}` {what}"))
    }

    pub(super) fn unknown(issuer: &str) -> Self {
        Self::UnknownIssuer {
            issuer: crate::text::printable(issuer, 256),
        }
    }

    #[cfg(feature = "introspect")]
    pub(super) fn introspect(issuer: &str, source: crate::introspect::IntrospectError) -> Self {
        Self::Introspect {
            issuer: issuer.to_owned(),
            source,
        }
    }

    pub(super) fn keys(issuer: &str, source: KeysError) -> Self {
        Self::Keys {
            issuer: issuer.to_owned(),
            source,
        }
    }
}
