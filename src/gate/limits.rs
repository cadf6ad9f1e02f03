//! The gate's rate limits against an external store, sans-IO: the async
//! seam. [`Gate::check_staged`] runs everything [`Gate::check`] does up to
//! the deciding rule's rate limits and hands those over as data
//! ([`PendingLimits`]: one [`LimitCall`] per limit, in order); the driver
//! decides them against its store, asynchronously, and gives the answers
//! to [`Gate::finish_limits`], which concludes exactly as `check` does
//! with a synchronous store: `Allow` with `decision.rate_limits`, the 429
//! naming the limit that fired (`RateLimit`, `RateLimit-Policy`,
//! `Retry-After`), or, when the store failed, 503 (fail closed) or an
//! unlimited `Allow` ([`GateConfig::limit_fail_open`]).
//!
//! ```
//! use edge_auth::gate::{Gate, GateConfig, IssuerConfig, Outcome, Staged};
//! use edge_auth::limit::{LimitStore, MemoryStore};
//! use edge_auth::policy::{Policy, RequestFacts};
//! use time::macros::datetime;
//!
//! let policy = Policy::from_json(r#"{ "rules": [ { "id": "public",
//!     "match": { "paths": ["/status"] }, "require": { "anonymous": true }, "effect": "allow",
//!     "limits": [ { "id": "per-route", "key": "route", "rate": "1/s", "burst": 1 } ] } ] }"#)?
//!     .compile()?;
//! let issuer = IssuerConfig::new("https://idp.example.com", ["api"])
//!     .with_jwks_uri("https://idp.example.com/jwks");
//! let gate = Gate::new(GateConfig::new([issuer]).with_policy(policy))?;
//! let store = MemoryStore::default(); // stands for Redis, a Durable Object...
//! let now = datetime!(2026-11-23 10:00:00 UTC);
//! let (parts, ()) = http::Request::get("/status").body(())?.into_parts();
//! let facts = RequestFacts::from_parts(&parts);
//! for expected in [200, 429] {
//!     let outcome = match gate.check_staged(&parts, &facts, now) {
//!         Staged::Done(outcome) => outcome,
//!         Staged::Limits(pending) => {
//!             // A driver awaits its store here.
//!             let answers: Vec<_> = pending
//!                 .calls()
//!                 .iter()
//!                 .map(|call| store.check(call.key(), call.limit(), now))
//!                 .collect();
//!             gate.finish_limits(pending, answers, &parts, &facts)
//!         }
//!     };
//!     match outcome {
//!         Outcome::Allow { .. } => assert_eq!(expected, 200),
//!         Outcome::Deny(r) => assert_eq!(r.to_response().status(), expected),
//!         Outcome::FetchKeys(_) | Outcome::Preflight(_) => unreachable!(),
//!     }
//! }
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! ```
//!
//! [`GateConfig::limit_fail_open`]: super::GateConfig::limit_fail_open

use http::request::Parts;
use time::OffsetDateTime;

use std::sync::Arc;

use super::reload::Authz;
use super::{Gate, Outcome};
use crate::limit::{Decision, LimitCall, LimitError, LimitReport};
use crate::oidc::Principal;
use crate::policy::{self, RequestFacts};
use crate::response::Rejection;

/// What [`Gate::check_staged`] decided: the final answer, or a request the
/// policy allows that still has rate limits to meet.
/// A closed protocol: match it exhaustively.
#[derive(Debug)]
pub enum Staged {
    /// The gate's answer, as [`Gate::check`] gives it (the deciding rule
    /// has no rate limit, or the request is not allowed, or keys must be
    /// fetched first).
    Done(Outcome),
    /// The policy allows the request; decide
    /// [`PendingLimits::calls`] against the store, in order, and give the
    /// answers to [`Gate::finish_limits`].
    Limits(PendingLimits),
}

/// A request the policy allows, waiting for its rate limits: the calls to
/// make (in the rule's order) and what [`Gate::finish_limits`] needs to
/// conclude.
#[derive(Debug)]
pub struct PendingLimits {
    principal: Option<Box<Principal>>,
    decision: policy::Decision,
    calls: Vec<LimitCall>,
    /// The policy and role mappings the check started with: the request
    /// finishes on them even if a reload swaps them meanwhile.
    authz: Arc<Authz>,
}

impl PendingLimits {
    /// The limits to decide, in order. A store may stop after the first
    /// that refuses or fails (the later ones then do not count the
    /// request, as with [`Gate::check`]).
    pub fn calls(&self) -> &[LimitCall] {
        &self.calls
    }

    /// Who made the request (`None`: anonymous).
    pub fn principal(&self) -> Option<&Principal> {
        self.principal.as_deref()
    }

    /// The policy's decision (an allow; `rate_limits` not yet filled).
    pub fn decision(&self) -> &policy::Decision {
        &self.decision
    }
}

impl Gate {
    /// [`Gate::check`] for a driver whose rate-limit store is external and
    /// asynchronous (Redis, Durable Objects): the same pipeline, except
    /// that a request the policy allows under a rule with rate limits is
    /// not decided against the gate's own store but handed back as
    /// [`Staged::Limits`]. Every other answer is [`Staged::Done`] with the
    /// outcome `check` would give.
    pub fn check_staged(
        &self,
        parts: &Parts,
        facts: &RequestFacts<'_>,
        now: OffsetDateTime,
    ) -> Staged {
        self.check_inner(parts, facts, now, true)
    }

    /// Concludes a [`Staged::Limits`] with the store's `answers`, one per
    /// [`PendingLimits::calls`] entry, in order: the first refusal gives
    /// the 429 naming that limit (with `RateLimit`, `RateLimit-Policy` and
    /// `Retry-After` over the limits decided so far); a failed or missing
    /// answer gives 503, or an `Allow` without limit reports when the gate
    /// fails open; otherwise `Allow` with `decision.rate_limits` filled.
    /// Answers after a refusal or failure are ignored. `parts` and `facts`
    /// are the request's, as given to `check_staged` (for the CORS headers
    /// of a rejection).
    pub fn finish_limits(
        &self,
        pending: PendingLimits,
        answers: impl IntoIterator<Item = Result<Decision, LimitError>>,
        parts: &Parts,
        facts: &RequestFacts<'_>,
    ) -> Outcome {
        let PendingLimits {
            principal,
            mut decision,
            calls,
            authz,
        } = pending;
        let rule = decision.rule_id.clone().unwrap_or_default();
        let mut answers = answers.into_iter();
        let mut reports = Vec::with_capacity(calls.len());
        let total = calls.len();
        for (done, call) in calls.iter().enumerate() {
            let answer = answers.next().unwrap_or_else(|| {
                Err(LimitError::Store {
                    reason: format!("the store answered {done} of {total} limits"),
                })
            });
            let failure = match answer {
                Ok(d) => {
                    let rate = call.limit().rate();
                    let report = LimitReport::new(call.id(), rate.count(), rate.period(), &d);
                    let allowed = report.allowed;
                    reports.push(report);
                    if allowed {
                        continue;
                    }
                    limited(call.id(), reports, &rule, principal.as_deref())
                }
                Err(_) if self.limit_fail_open => {
                    return Outcome::Allow {
                        principal,
                        decision,
                    };
                }
                Err(e) => limit_unavailable(call.id(), &e, &rule),
            };
            return Outcome::Deny(self.cors_rejection(failure, parts, facts, &authz.policy));
        }
        decision.rate_limits = reports;
        Outcome::Allow {
            principal,
            decision,
        }
    }

    /// The limit work of an allowed request, or the `Allow` itself when
    /// its rule has no limit.
    pub(super) fn stage_limits(
        &self,
        principal: Option<Box<Principal>>,
        decision: policy::Decision,
        facts: &RequestFacts<'_>,
        authz: &Arc<Authz>,
    ) -> Staged {
        let limits = match decision.rule_id.as_deref() {
            Some(rule) if cfg!(feature = "policy") => authz.policy.limits(rule),
            _ => &[],
        };
        if limits.is_empty() {
            return Staged::Done(Outcome::Allow {
                principal,
                decision,
            });
        }
        let rule = decision.rule_id.as_deref().unwrap_or_default();
        let calls = limits
            .iter()
            .map(|l| {
                let key = l.key(rule, principal.as_deref(), facts.client_ip());
                LimitCall::new(l.id(), key, *l.limit())
            })
            .collect();
        Staged::Limits(PendingLimits {
            principal,
            decision,
            calls,
            authz: Arc::clone(authz),
        })
    }

    /// Decides pending limits against the gate's own store, in order,
    /// stopping at the first refusal or failure.
    pub(super) fn run_limits(
        &self,
        pending: PendingLimits,
        parts: &Parts,
        facts: &RequestFacts<'_>,
        now: OffsetDateTime,
    ) -> Outcome {
        let Some(store) = self.limit_store.as_deref() else {
            let decision = pending.decision;
            return Outcome::Allow {
                principal: pending.principal,
                decision,
            };
        };
        let mut answers = Vec::with_capacity(pending.calls.len());
        for call in &pending.calls {
            let answer = store.check(call.key(), call.limit(), now);
            let stop = !matches!(answer, Ok(Decision { allowed: true, .. }));
            answers.push(answer);
            if stop {
                break;
            }
        }
        self.finish_limits(pending, answers, parts, facts)
    }
}

/// The 429 of a request that the limit `id` refused; `reports` are the
/// limits checked so far, the refusing one last.
pub(super) fn limited(
    id: &str,
    reports: Vec<crate::limit::LimitReport>,
    rule: &str,
    principal: Option<&Principal>,
) -> Rejection {
    let mut r = Rejection::too_many_requests(id, reports).with_rule(rule);
    if let Some(p) = principal {
        if let Some(sub) = &p.subject {
            r = r.with_subject(sub.as_str());
        }
        if let Some(iss) = &p.issuer {
            r = r.with_issuer(iss.as_str());
        }
    }
    r
}

/// The 503 of a request whose limit `id` the store could not decide
/// (failing closed).
pub(super) fn limit_unavailable(
    id: &str,
    error: &crate::limit::LimitError,
    rule: &str,
) -> Rejection {
    Rejection::unavailable(format!("rate limit `{id}`: {error}")).with_rule(rule)
}
