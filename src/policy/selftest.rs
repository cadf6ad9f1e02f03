//! Embedded policy tests (`tests` in the document): each sample request is
//! evaluated against the compiled policy and must get the expected effect
//! (and deciding rule). [`Policy::compile`] runs them, so a policy whose own
//! tests fail never reaches a gate, in a deploy or in a reload.

use http::{HeaderMap, HeaderName, HeaderValue, Method};

use super::compile::CompiledPolicy;
use super::document::{Effect, Policy, PolicyTest, TestPrincipal};
use super::eval::RequestFacts;
use super::outcome::Decision;
use super::{PolicyError, clip};
use crate::oidc::Principal;

/// The result of one embedded test.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct TestOutcome {
    /// The test's name.
    pub name: String,
    /// Whether it got the decision it expects.
    pub passed: bool,
    /// What it expected, e.g. `allow by rule `orders``.
    pub expected: String,
    /// The decision it got, with the deciding rule and every reason.
    pub got: String,
}

/// A request parsed from a test's `METHOD /path`.
pub(crate) struct SampleRequest {
    method: Method,
    path: String,
    headers: HeaderMap,
}

impl SampleRequest {
    /// Parses `METHOD /path` and the headers.
    ///
    /// # Errors
    /// A message naming what is wrong.
    pub(crate) fn parse<'h>(
        request: &str,
        headers: impl IntoIterator<Item = (&'h str, &'h str)>,
    ) -> Result<Self, String> {
        let (method, path) = request
            .trim()
            .split_once(' ')
            .ok_or_else(|| format!("request `{}` is not `METHOD /path`", clip(request)))?;
        let method = Method::from_bytes(method.as_bytes())
            .map_err(|_| format!("method `{}` is not a method token", clip(method)))?;
        let path = path.trim();
        if !path.starts_with('/') {
            return Err(format!("path `{}` does not start with `/`", clip(path)));
        }
        let mut map = HeaderMap::new();
        for (name, value) in headers {
            let n = HeaderName::from_bytes(name.as_bytes())
                .map_err(|_| format!("header name `{}` is invalid", clip(name)))?;
            let v = HeaderValue::from_str(value)
                .map_err(|_| format!("header `{}` has an invalid value", clip(name)))?;
            map.append(n, v);
        }
        Ok(Self {
            method,
            path: path.to_owned(),
            headers: map,
        })
    }

    /// The facts of the request.
    pub(crate) fn facts(&self) -> RequestFacts<'_> {
        RequestFacts::new(&self.method, &self.path).with_headers(&self.headers)
    }
}

/// The principal a test describes.
pub(crate) fn principal(t: &TestPrincipal) -> Principal {
    let subject = t.subject.clone().or_else(|| {
        t.claims
            .get("sub")
            .and_then(|v| v.as_str())
            .map(str::to_owned)
    });
    let mut p = Principal::new(subject.unwrap_or_default())
        .with_roles(t.roles.iter().cloned())
        .with_scopes(t.scopes.iter().cloned())
        .with_claims(t.claims.clone());
    if t.subject.is_none() && !t.claims.contains_key("sub") {
        p.subject = None;
    }
    p.sender_constrained = t.sender_constrained;
    p
}

impl Decision {
    /// One line for people: the effect, the deciding rule and every reason
    /// (as JSON), e.g. `deny (no rule decided); {"kind":"requirements_not_met",…}`.
    pub fn explain(&self) -> String {
        describe(self)
    }
}

/// One line for a decision: effect, deciding rule, every reason.
fn describe(decision: &Decision) -> String {
    let effect = match decision.effect {
        Effect::Allow => "allow",
        _ => "deny",
    };
    let mut out = match &decision.rule_id {
        Some(rule) => format!("{effect} by rule `{rule}`"),
        None => format!("{effect} (no rule decided)"),
    };
    for reason in &decision.reasons {
        out.push_str("; ");
        out.push_str(&serde_json::to_string(reason).unwrap_or_default());
    }
    out
}

fn expected(t: &PolicyTest) -> String {
    let effect = match t.expect {
        Effect::Allow => "allow",
        _ => "deny",
    };
    match &t.rule {
        Some(rule) => format!("{effect} by rule `{rule}`"),
        None => effect.to_owned(),
    }
}

/// Runs one test.
fn run(compiled: &CompiledPolicy, t: &PolicyTest) -> Result<TestOutcome, PolicyError> {
    let invalid = |reason: String| PolicyError::InvalidTest {
        name: clip(&t.name),
        reason,
    };
    let sample = SampleRequest::parse(
        &t.request,
        t.headers.iter().map(|(k, v)| (k.as_str(), v.as_str())),
    )
    .map_err(invalid)?;
    let mut facts = sample.facts();
    if let Some(host) = &t.host {
        facts = facts.with_host(host);
    }
    if let Some(ip) = t.client_ip {
        facts = facts.with_client_ip(ip);
    }
    if let Some(country) = &t.country {
        facts = facts.with_country(country);
    }
    let principal = t.principal.as_ref().map(principal);
    let decision = compiled.evaluate(&facts, principal.as_ref());
    let passed = decision.effect == t.expect
        && t.rule
            .as_ref()
            .is_none_or(|r| decision.rule_id.as_deref() == Some(r.as_str()));
    Ok(TestOutcome {
        name: t.name.clone(),
        passed,
        expected: expected(t),
        got: describe(&decision),
    })
}

impl Policy {
    /// Runs the document's embedded tests against `compiled` (this
    /// policy, compiled), failing or not; [`compile`](Policy::compile)
    /// runs them and refuses a policy with a failing one.
    ///
    /// # Errors
    /// [`PolicyError::InvalidTest`] when a test's request is malformed.
    pub fn run_tests(&self, compiled: &CompiledPolicy) -> Result<Vec<TestOutcome>, PolicyError> {
        self.tests.iter().map(|t| run(compiled, t)).collect()
    }
}

/// Runs every test; the first failure refuses the policy.
pub(crate) fn check(policy: &Policy, compiled: &CompiledPolicy) -> Result<(), PolicyError> {
    // `String`: the set type compile's id check uses.
    let mut names: std::collections::HashSet<String> = std::collections::HashSet::new();
    for t in &policy.tests {
        if !names.insert(t.name.clone()) {
            return Err(PolicyError::InvalidTest {
                name: clip(&t.name),
                reason: "the name is used by more than one test".to_owned(),
            });
        }
        let outcome = run(compiled, t)?;
        if !outcome.passed {
            return Err(PolicyError::TestFailed {
                name: outcome.name,
                expected: outcome.expected,
                got: outcome.got,
            });
        }
    }
    Ok(())
}
