//! What evaluation returns: the [`Decision`], its [`Reason`]s and the
//! [`Failure`]s of a rule's requirements. Plain data, serialisable for an
//! audit log; every file of the policy that reports on a request uses them.

use std::net::IpAddr;

use serde::{Deserialize, Serialize};

use super::document::Effect;
use super::shape::RequestProblem;
use crate::oidc::Principal;

/// The outcome of evaluating a request: serialise it for an audit log. It
/// names rules and conditions, the subject and issuer, never a token.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[non_exhaustive]
pub struct Decision {
    /// Allow or deny.
    pub effect: Effect,
    /// The rule that decided; `None` for a default deny or a refused
    /// request.
    pub rule_id: Option<String>,
    /// Why: empty for an allow; for a deny, the deciding rule or why each
    /// rule whose route matched did not apply.
    pub reasons: Vec<Reason>,
    /// The principal's subject, for the audit record.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub subject: Option<String>,
    /// The principal's issuer, for the audit record.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub issuer: Option<String>,
    /// The deciding rule's rate limits and what each decided, when the
    /// [`Gate`](crate::gate::Gate) checked them (an allowed request); put
    /// them on the response with
    /// [`apply_rate_limit_headers`](Self::apply_rate_limit_headers).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub rate_limits: Vec<crate::limit::LimitReport>,
}

/// One reason in a [`Decision`].
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
#[non_exhaustive]
pub enum Reason {
    /// The request was refused before matching (bad or ambiguous path).
    RequestRejected {
        /// What was wrong.
        detail: String,
    },
    /// No rule's route matched the request.
    NoMatchingRule,
    /// A deny rule applied.
    DeniedByRule {
        /// The rule.
        rule_id: String,
    },
    /// A rule's route matched but its requirements did not all hold (or
    /// could not be evaluated), so it did not decide (or, for a deny rule
    /// that could not be evaluated, denied).
    RequirementsNotMet {
        /// The rule.
        rule_id: String,
        /// The rule's effect.
        effect: Effect,
        /// Every requirement that failed.
        failures: Vec<Failure>,
    },
    /// More rules matched than `PolicyConfig::max_reasons`; the rest are not
    /// listed.
    Truncated,
    /// The deciding allow rule's `request` conditions refused the request
    /// (400, 413 or 415; see [`RequestProblem::status`]).
    NonCompliantRequest {
        /// The rule.
        rule_id: String,
        /// What is wrong with the request.
        problem: RequestProblem,
    },
}

/// A requirement of a rule that did not hold.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
#[non_exhaustive]
pub enum Failure {
    /// The rule needs a principal and there was none. Role, scope and claim
    /// conditions are not evaluated without one.
    AuthenticationRequired,
    /// The rule needs a sender-constrained token (`require.sender_constrained`,
    /// DPoP) and the request had none, or presented its token as a bearer
    /// token.
    SenderConstraintRequired,
    /// The principal holds none of these roles.
    NoneOfRoles {
        /// The roles of which one was needed.
        any_of: Vec<String>,
    },
    /// The principal lacks these roles.
    MissingRoles {
        /// The roles missing.
        missing: Vec<String>,
    },
    /// The principal lacks scopes.
    MissingScopes {
        /// All scopes the rule requires (for `WWW-Authenticate: ... scope=`).
        required: Vec<String>,
        /// The ones missing.
        missing: Vec<String>,
    },
    /// A claim condition failed.
    ClaimMismatch {
        /// The JSON Pointer.
        pointer: String,
    },
    /// A capture comparison failed: the subject or claim is not the
    /// capture's value.
    CaptureMismatch {
        /// The capture's name.
        capture: String,
        /// Its value in the request (clipped).
        value: String,
        /// What it was compared with: `subject` or a claim's JSON Pointer.
        with: String,
    },
    /// The client IP is in none of the rule's CIDR blocks.
    ClientIpNotAllowed {
        /// The client IP.
        client_ip: IpAddr,
    },
    /// The country is not in the rule's list.
    CountryNotAllowed {
        /// The country.
        country: String,
    },
    /// A header condition failed.
    HeaderMismatch {
        /// The header name.
        name: String,
    },
    /// The rule needs a fact the request does not carry (or carries
    /// ambiguously), so it could not be evaluated.
    Unevaluable {
        /// What was missing.
        detail: String,
    },
    /// The rule reads a set of the principal that is incomplete
    /// ([`Principal::incomplete`]: the role mapper left values out past
    /// its limits, or the token moved the claim elsewhere, as in a groups
    /// overage), so it could not be evaluated: a deny rule applies, an
    /// allow rule does not. Raise `RoleMapper::max_values_per_claim` /
    /// `max_value_len`, or resolve the overage, if this denies real users.
    IncompleteSet {
        /// `roles`, `scopes`, or the claim's JSON Pointer.
        set: String,
    },
}

impl Failure {
    /// Whether the rule could not be evaluated (a deny rule then applies).
    pub(crate) fn unevaluable(&self) -> bool {
        matches!(self, Self::Unevaluable { .. } | Self::IncompleteSet { .. })
    }
}

impl Decision {
    pub(crate) fn new(
        effect: Effect,
        rule_id: Option<String>,
        principal: Option<&Principal>,
    ) -> Self {
        Self {
            effect,
            rule_id,
            reasons: Vec::new(),
            subject: principal.and_then(|p| p.subject.clone()),
            issuer: principal.and_then(|p| p.issuer.clone()),
            rate_limits: Vec::new(),
        }
    }

    /// The decision of the Gate's built-in "authenticated" rule (every
    /// path, any valid token), without the policy engine: what a Gate
    /// built without the `policy` feature decides. The same decision as the
    /// compiled one-rule policy (a unit test compares them).
    #[cfg(any(test, not(feature = "policy")))]
    pub(crate) fn authenticated_only(principal: Option<&Principal>) -> Self {
        const RULE: &str = "authenticated";
        if principal.is_some() {
            return Self::new(Effect::Allow, Some(RULE.to_owned()), principal);
        }
        let mut decision = Self::new(Effect::Deny, None, None);
        decision.reasons.push(Reason::RequirementsNotMet {
            rule_id: RULE.to_owned(),
            effect: Effect::Allow,
            failures: vec![Failure::AuthenticationRequired],
        });
        decision
    }

    /// Sets `RateLimit-Policy` and `RateLimit` (draft-ietf-httpapi-ratelimit-headers)
    /// for [`rate_limits`](Self::rate_limits) on `headers`, e.g. those of
    /// the origin's response before it goes back to the client. Sets
    /// nothing when the rule has no limits.
    pub fn apply_rate_limit_headers(&self, headers: &mut http::HeaderMap) {
        crate::limit::apply_headers(&self.rate_limits, headers);
    }

    /// Whether the request is allowed.
    pub fn is_allowed(&self) -> bool {
        self.effect == Effect::Allow
    }

    /// Whether authenticating could change a default deny into an allow: an
    /// allow rule's route matched and its only failure was the missing
    /// principal. A gateway answers such a deny with 401.
    pub fn authentication_required(&self) -> bool {
        self.effect == Effect::Deny
            && self.rule_id.is_none()
            && self.reasons.iter().any(|r| {
                matches!(r, Reason::RequirementsNotMet { effect: Effect::Allow, failures, .. }
                    if matches!(failures.as_slice(), [Failure::AuthenticationRequired]
                        | [Failure::AuthenticationRequired, Failure::SenderConstraintRequired]))
            })
    }

    /// For a default deny, whether an allow rule matching the route failed
    /// because it needs a sender-constrained (DPoP) token the request did
    /// not present: the gate answers 401 with a `DPoP` challenge
    /// (RFC 9449 §7.1).
    pub fn sender_constraint_required(&self) -> bool {
        self.effect == Effect::Deny
            && self.rule_id.is_none()
            && self.reasons.iter().any(|r| {
                matches!(r, Reason::RequirementsNotMet { effect: Effect::Allow, failures, .. }
                    if failures.contains(&Failure::SenderConstraintRequired))
            })
    }

    /// When the deciding allow rule refused the request for its shape
    /// (`request` conditions), what was wrong: the gate answers
    /// [`RequestProblem::status`] (400, 413 or 415).
    pub fn request_problem(&self) -> Option<&RequestProblem> {
        self.reasons.iter().find_map(|r| match r {
            Reason::NonCompliantRequest { problem, .. } => Some(problem),
            _ => None,
        })
    }

    /// For a default deny, the scopes of the first allow rule that failed for
    /// want of scopes: what a 403 `insufficient_scope` response names
    /// (RFC 6750 §3.1).
    pub fn required_scopes(&self) -> Option<&[String]> {
        if self.effect != Effect::Deny || self.rule_id.is_some() {
            return None;
        }
        self.reasons.iter().find_map(|r| match r {
            Reason::RequirementsNotMet {
                effect: Effect::Allow,
                failures,
                ..
            } => failures.iter().find_map(|f| match f {
                Failure::MissingScopes { required, .. } => Some(required.as_slice()),
                _ => None,
            }),
            _ => None,
        })
    }
}
