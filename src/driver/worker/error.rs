//! [`WorkerError`]: why the Worker driver cannot serve.

/// Why the Worker cannot serve: its configuration is unusable, a saved key
/// state is refused, or a forwarded request could not be prepared. The
/// detail is for the log; clients only ever see a bare 500.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum WorkerError {
    /// A required variable is unset or empty.
    #[error("`{var}` is not set")]
    Missing {
        /// The variable.
        var: &'static str,
    },
    /// A variable's value is refused.
    #[error("`{var}` is invalid: {reason}")]
    Invalid {
        /// The variable.
        var: &'static str,
        /// What was wrong (never the value of a secret).
        reason: String,
    },
    /// The clock reading is outside what `time` can represent.
    #[error("clock reading `{unix_millis}` ms is out of range")]
    Clock {
        /// The reading, in milliseconds since the Unix epoch.
        unix_millis: u64,
    },
    /// A key state read from KV is refused (not a state, another issuer or
    /// endpoint, too old); the Gate then fetches the keys itself.
    #[error("key state for `{issuer}` refused: {reason}")]
    State {
        /// The issuer the state was read for.
        issuer: String,
        /// What was wrong.
        reason: String,
    },
    /// The request to the origin could not be built or signed.
    #[error("cannot forward to the origin: {reason}")]
    Upstream {
        /// What was wrong.
        reason: String,
    },
    /// No OAuth access token for the upstream could be had: the token
    /// endpoint failed or refused, or the token state in KV was refused.
    #[error("no access token for the upstream: {reason}")]
    Token {
        /// What was wrong (never a secret or token).
        reason: String,
    },
}
