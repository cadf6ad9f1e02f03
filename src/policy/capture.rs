//! Captures bound to the principal: a rule's `{name}` path and host
//! captures compared with the subject or a claim (`subject_equals_capture`,
//! `equals_capture`, `contains_capture`). A capture compares only when it
//! is made of RFC 3986 unreserved characters once normalised (RFC 3986
//! §2.3, §6.2.2.2): anything still percent-encoded (a separator, a reserved
//! character, non-ASCII) cannot be compared, so the rule is unevaluable.
//! This file compiles the comparisons; `bindings` runs them per request.

use super::document::{ClaimCondition, Require, Rule};
use super::pattern::{self, HostPattern, Segment};
use super::{PolicyError, clip};

/// What a capture is compared with.
#[derive(Debug, Clone)]
pub(crate) enum Target {
    /// The principal's subject.
    Subject,
    /// A claim, by JSON Pointer, with its top-level name decoded and the
    /// rest of the pointer split off once at compile time.
    Claim {
        pointer: String,
        top: String,
        rest: Option<String>,
    },
}

/// How it is compared.
#[derive(Debug, Clone, Copy)]
pub(crate) enum Test {
    /// The subject or claim is a string equal to the capture.
    Equals,
    /// The claim is an array holding a string equal to the capture.
    Contains,
}

/// One comparison of a capture with the principal.
#[derive(Debug, Clone)]
pub(crate) struct CaptureTest {
    pub(crate) capture: Box<str>,
    /// The capture's index among the rule's compared captures, so that a
    /// request's bindings are matched by number, not by name.
    pub(super) slot: usize,
    pub(crate) target: Target,
    pub(crate) test: Test,
}

/// Where a rule's compared captures are bound, worked out at compile time.
#[derive(Debug, Clone, Default)]
pub(crate) struct Plan {
    /// Per path pattern (parallel to the rule's `paths`).
    pub(super) paths: Vec<PathBinds>,
    /// Per host pattern (parallel to the rule's `hosts`): the slot its
    /// `{name}` label binds, if compared.
    pub(super) hosts: Vec<Option<usize>>,
}

/// One path pattern's compared captures.
#[derive(Debug, Clone, Default)]
pub(super) struct PathBinds {
    /// `(slot, segment index)`, in segment order.
    pub(super) binds: Vec<(usize, usize)>,
    /// The pattern's segment count, and whether it ends in `**`.
    pub(super) len: usize,
    pub(super) rest: bool,
}

/// The capture comparison of a claim condition, if it is one.
pub(crate) fn claim_capture(c: &ClaimCondition) -> Option<CaptureTest> {
    let (capture, test) = match (&c.equals_capture, &c.contains_capture) {
        (Some(name), None) => (name, Test::Equals),
        (None, Some(name)) => (name, Test::Contains),
        _ => return None,
    };
    let body = c.pointer.strip_prefix('/').unwrap_or(&c.pointer);
    let (first, rest) = match body.split_once('/') {
        Some((first, rest)) => (first, Some(format!("/{rest}"))),
        None => (body, None),
    };
    Some(CaptureTest {
        capture: capture.as_str().into(),
        slot: 0,
        target: Target::Claim {
            pointer: c.pointer.clone(),
            top: first.replace("~1", "/").replace("~0", "~"),
            rest,
        },
        test,
    })
}

/// The rule's subject comparison, if any.
pub(crate) fn subject_capture(require: &Require) -> Option<CaptureTest> {
    require
        .subject_equals_capture
        .as_ref()
        .map(|name| CaptureTest {
            capture: name.as_str().into(),
            slot: 0,
            target: Target::Subject,
            test: Test::Equals,
        })
}

/// Checks that every capture a test names is bound whatever route the
/// request took: by every path pattern of the rule (`paths`, compiled), or
/// by every host pattern (`hosts`). Returns where each pattern binds them,
/// and the tests with their slots.
pub(crate) fn bind(
    rule: &Rule,
    paths: Option<&[Vec<Segment>]>,
    hosts: Option<&[HostPattern]>,
    tests: Vec<CaptureTest>,
) -> Result<(Plan, Vec<CaptureTest>), PolicyError> {
    if tests.is_empty() {
        return Ok((Plan::default(), tests));
    }
    let mut path_captures: Vec<Vec<(Box<str>, usize)>> = Vec::new();
    for p in rule.route.paths.iter().flatten() {
        path_captures.push(pattern::pattern_captures(p));
    }
    for test in &tests {
        let name = &*test.capture;
        let in_paths = paths.is_some()
            && path_captures
                .iter()
                .all(|caps| caps.iter().any(|(n, _)| &**n == name));
        let in_hosts = hosts.is_some_and(|hs| hs.iter().all(|h| h.capture_name() == Some(name)));
        if !in_paths && !in_hosts {
            return Err(PolicyError::InvalidValue {
                rule: rule.id.clone(),
                field: "capture",
                value: clip(name),
                reason: "not bound by every path pattern (`{name}`) or every host pattern \
                         (`{name}.example.com`) of the rule"
                    .to_owned(),
            });
        }
    }
    // Slots: one per distinct compared capture name, in first-use order.
    let mut names: Vec<Box<str>> = Vec::new();
    let mut tests = tests;
    for test in &mut tests {
        test.slot = match names.iter().position(|n| *n == test.capture) {
            Some(slot) => slot,
            None => {
                names.push(test.capture.clone());
                names.len() - 1
            }
        };
    }
    let slot_of = |name: &str| names.iter().position(|n| &**n == name);
    // Plain loops: this runs once per rule at compile time, and iterator
    // chains here cost a Worker more code than they save.
    let mut plan = Plan::default();
    for (segments, caps) in paths.unwrap_or_default().iter().zip(&path_captures) {
        let mut binds = Vec::new();
        for (name, at) in caps {
            if let Some(slot) = slot_of(name) {
                binds.push((slot, *at));
            }
        }
        plan.paths.push(PathBinds {
            binds,
            len: segments.len(),
            rest: segments.last() == Some(&Segment::Rest),
        });
    }
    for h in hosts.unwrap_or_default() {
        plan.hosts.push(h.capture_name().and_then(slot_of));
    }
    Ok((plan, tests))
}
