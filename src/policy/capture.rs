//! Captures bound to the principal: a rule's `{name}` path and host
//! captures compared with the subject or a claim (`subject_equals_capture`,
//! `equals_capture`, `contains_capture`). A capture compares only when it
//! is made of RFC 3986 unreserved characters once normalised (RFC 3986
//! §2.3, §6.2.2.2): anything still percent-encoded (a separator, a reserved
//! character, non-ASCII) cannot be compared, so the rule is unevaluable.

use serde_json::Value;

use super::compile::CompiledRule;
use super::document::{ClaimCondition, PathCase, PathProfile, Require, Rule};
use super::eval::Failure;
use super::pattern::{self, Segment};
use super::{PolicyError, clip};
use crate::oidc::Principal;

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
    pub(crate) target: Target,
    pub(crate) test: Test,
}

impl CaptureTest {
    /// How the failure names the comparison: `subject` or the pointer.
    fn with(&self) -> String {
        match &self.target {
            Target::Subject => "subject".to_owned(),
            Target::Claim { pointer, .. } => pointer.clone(),
        }
    }
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
            target: Target::Subject,
            test: Test::Equals,
        })
}

/// Checks that every capture a test names is bound whatever route the
/// request took: by every path pattern of the rule, or by every host
/// pattern. Records each path pattern's captures on the rule.
pub(crate) fn bind(
    rule: &Rule,
    compiled: &mut CompiledRule,
    tests: Vec<CaptureTest>,
) -> Result<(), PolicyError> {
    if tests.is_empty() {
        return Ok(());
    }
    let path_captures: Vec<Vec<(Box<str>, usize)>> = rule
        .route
        .paths
        .iter()
        .flatten()
        .map(|p| pattern::pattern_captures(p))
        .collect();
    for test in &tests {
        let name = &*test.capture;
        let in_paths = compiled.paths.is_some()
            && path_captures
                .iter()
                .all(|caps| caps.iter().any(|(n, _)| &**n == name));
        let in_hosts = compiled
            .hosts
            .as_ref()
            .is_some_and(|hs| hs.iter().all(|h| h.capture_name() == Some(name)));
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
    compiled.path_captures = path_captures;
    compiled.captures = tests;
    Ok(())
}

/// One value a capture took in this request.
#[derive(Clone, Copy, Default)]
struct Binding<'a> {
    name: &'a str,
    value: &'a str,
    /// Host labels compare case-insensitively.
    fold: bool,
}

/// Compares the rule's captures with the principal, pushing a failure per
/// comparison that does not hold. `body` is the normalised path body,
/// `host` the request host when valid.
pub(crate) fn check(
    rule: &CompiledRule,
    body: &str,
    host: Option<&str>,
    profile: &PathProfile,
    p: &Principal,
    failures: &mut Vec<Failure>,
) {
    let fold_path = profile.case == PathCase::Insensitive;
    // Collected once, on the stack while there are few (the usual case):
    // an allocation would cost more than the comparisons.
    let mut bindings = Bindings::default();
    if let Some(paths) = &rule.paths {
        for (segments, names) in paths.iter().zip(&rule.path_captures) {
            if !names.is_empty() {
                bind_path(segments, names, body, fold_path, &mut bindings);
            }
        }
    }
    if let (Some(hosts), Some(host)) = (&rule.hosts, host) {
        for h in hosts {
            if let (Some(name), Some(value)) = (h.capture_name(), h.capture(host)) {
                bindings.push(Binding {
                    name,
                    value,
                    fold: true,
                });
            }
        }
    }
    for test in &rule.captures {
        if let Some(f) = compare(test, &bindings, p) {
            failures.push(f);
        }
    }
}

/// Matches `body` against one path pattern and, when it matches, binds the
/// pattern's captures (in segment order), in one pass over the path.
fn bind_path<'a>(
    segments: &[Segment],
    names: &'a [(Box<str>, usize)],
    body: &'a str,
    fold: bool,
    bindings: &mut Bindings<'a>,
) {
    let mark = bindings.len();
    let mut parts = body.split('/');
    let mut names = names.iter().peekable();
    for (index, want) in segments.iter().enumerate() {
        let part = parts.next();
        let ok = match (want, part) {
            (Segment::Rest, _) => {
                return;
            }
            (_, None) => false,
            (Segment::One, Some(seg)) => !seg.is_empty(),
            (Segment::Literal(lit), Some(seg)) => **lit == *seg,
        };
        if !ok {
            bindings.truncate(mark);
            return;
        }
        if let (Some((name, at)), Some(value)) = (names.peek(), part)
            && *at == index
        {
            bindings.push(Binding { name, value, fold });
            names.next();
        }
    }
    if parts.next().is_some() {
        bindings.truncate(mark);
    }
}

/// The captures of one request: the first few inline, the rest spilled.
#[derive(Default)]
struct Bindings<'a> {
    inline: [Binding<'a>; 4],
    len: usize,
    spill: Vec<Binding<'a>>,
}

impl<'a> Bindings<'a> {
    fn push(&mut self, b: Binding<'a>) {
        match self.inline.get_mut(self.len) {
            Some(slot) => {
                *slot = b;
                self.len += 1;
            }
            None => self.spill.push(b),
        }
    }

    fn len(&self) -> usize {
        self.len + self.spill.len()
    }

    fn truncate(&mut self, len: usize) {
        if len <= self.len {
            self.spill.clear();
            self.len = len;
        } else {
            self.spill.truncate(len - self.len);
        }
    }

    fn iter(&self) -> impl Iterator<Item = &Binding<'a>> {
        self.inline
            .get(..self.len)
            .unwrap_or_default()
            .iter()
            .chain(&self.spill)
    }
}

fn unevaluable(detail: String) -> Option<Failure> {
    Some(Failure::Unevaluable { detail })
}

/// What the capture is compared with.
enum Against<'p> {
    Str(&'p str),
    Json(&'p Value),
}

fn compare(test: &CaptureTest, bindings: &Bindings<'_>, p: &Principal) -> Option<Failure> {
    let name = &*test.capture;
    let values = || bindings.iter().filter(|b| b.name == name);
    let Some(first) = values().next().map(|b| b.value) else {
        return unevaluable(format!("capture `{name}` is not bound by this request"));
    };
    if let Some(b) = values().find(|b| !comparable(b.value)) {
        return unevaluable(format!(
            "capture `{name}` holds `{}`, which is not only unreserved characters \
             (letters, digits, `-`, `.`, `_`, `~`) and cannot be compared",
            clip(b.value)
        ));
    }
    let against = match &test.target {
        Target::Subject => match &p.subject {
            Some(sub) => Against::Str(sub),
            None => return unevaluable(format!("capture `{name}`: the principal has no subject")),
        },
        Target::Claim { pointer, top, rest } => {
            if crate::oidc::distributed(&p.claims, top) {
                return Some(Failure::IncompleteSet {
                    set: pointer.clone(),
                });
            }
            let claim = p.claims.get(top.as_str());
            let claim = match rest {
                None => claim,
                Some(rest) => claim.and_then(|v| v.pointer(rest)),
            };
            match claim {
                Some(v) => Against::Json(v),
                None => {
                    return unevaluable(format!(
                        "capture `{name}`: claim `{}` is missing",
                        clip(pointer)
                    ));
                }
            }
        }
    };
    let holds = values().all(|b| match (test.test, &against) {
        (Test::Equals, Against::Str(s)) => same(b, s),
        (Test::Equals, Against::Json(Value::String(s))) => same(b, s),
        (Test::Contains, Against::Json(Value::Array(items))) => {
            items.iter().any(|i| i.as_str().is_some_and(|s| same(b, s)))
        }
        _ => false,
    });
    if holds {
        return None;
    }
    Some(Failure::CaptureMismatch {
        capture: name.to_owned(),
        value: clip(first),
        with: test.with(),
    })
}

fn same(binding: &Binding<'_>, want: &str) -> bool {
    if binding.fold {
        binding.value.eq_ignore_ascii_case(want)
    } else {
        binding.value == want
    }
}

/// A normalised capture holds only unreserved characters: what remains
/// percent-encoded is a separator, a reserved character or non-ASCII, on
/// which the origin and the policy could read different values.
fn comparable(value: &str) -> bool {
    !value.is_empty() && value.bytes().all(pattern::is_unreserved)
}
