//! One rate limit of one request as data: what an external store is asked
//! to decide when the gate hands its limit work to a driver
//! ([`Gate::check_staged`](crate::gate::Gate::check_staged)).

use super::gcra::Limit;

/// One limit to decide for one request: the limit's id, the request's
/// store key under it (escaped and bounded, see [`RuleLimit::key`]) and
/// the [`Limit`]. A store decides it as [`decide`](super::decide) would
/// against the key's TAT at the gate's `now`.
///
/// [`RuleLimit::key`]: super::RuleLimit::key
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LimitCall {
    id: String,
    key: String,
    limit: Limit,
}

impl LimitCall {
    /// The call for limit `id` on store key `key`.
    pub fn new(id: impl Into<String>, key: impl Into<String>, limit: Limit) -> Self {
        Self {
            id: id.into(),
            key: key.into(),
            limit,
        }
    }

    /// The limit's id from the policy document.
    pub fn id(&self) -> &str {
        &self.id
    }

    /// The store key (at most about 140 bytes, no control character, space,
    /// `{` or `}`, when it comes from the gate).
    pub fn key(&self) -> &str {
        &self.key
    }

    /// The limit.
    pub fn limit(&self) -> &Limit {
        &self.limit
    }
}
