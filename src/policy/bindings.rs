//! Runs a rule's capture comparisons (compiled in `capture`) for one
//! request: binds the values its path and host patterns capture, then
//! compares them with the subject or a claim of the principal.

use serde_json::Value;

use super::capture::{CaptureTest, PathBinds, Target, Test};
use super::clip;
use super::compile::CompiledRule;
use super::document::{PathCase, PathProfile};
use super::outcome::Failure;
use super::pattern::{self, Segment};
use crate::oidc::Principal;

impl CaptureTest {
    /// How the failure names the comparison: `subject` or the pointer.
    fn with(&self) -> String {
        match &self.target {
            Target::Subject => "subject".to_owned(),
            Target::Claim { pointer, .. } => pointer.clone(),
        }
    }
}

/// One value a capture took in this request.
#[derive(Clone, Copy, Default)]
struct Binding<'a> {
    slot: usize,
    value: &'a str,
    /// Host labels compare case-insensitively.
    fold: bool,
}

/// Compares the rule's captures with the principal, pushing a failure per
/// comparison that does not hold. `body` is the normalised path body,
/// `host` the request host when valid.
///
/// The rule is a candidate because the path trie matched one of its path
/// patterns on this `body`; with a single pattern that is the one, so its
/// captures are read off by segment index without comparing its literals
/// again. No allocation unless more than four values are bound.
pub(crate) fn check(
    rule: &CompiledRule,
    body: &str,
    host: Option<&str>,
    profile: &PathProfile,
    p: &Principal,
    failures: &mut Vec<Failure>,
) {
    let fold_path = profile.case == PathCase::Insensitive;
    let plan = &rule.path_captures;
    let mut bindings = Bindings::default();
    if let Some(paths) = &rule.paths {
        match plan.paths.as_slice() {
            [only] if only.binds.is_empty() => {}
            [only] => only.bind_matched(body, fold_path, &mut bindings),
            all => {
                for (segments, binds) in paths.iter().zip(all) {
                    if !binds.binds.is_empty() {
                        binds.bind(segments, body, fold_path, &mut bindings);
                    }
                }
            }
        }
    }
    if let (Some(hosts), Some(host)) = (&rule.hosts, host) {
        for (h, slot) in hosts.iter().zip(&plan.hosts) {
            if let (Some(slot), Some(value)) = (slot, h.capture(host)) {
                bindings.push(Binding {
                    slot: *slot,
                    value,
                    fold: true,
                });
            }
        }
    }
    // `_claim_names` (distributed claims) is looked up once per request,
    // not once per comparison.
    let mut claim_names = None;
    for test in &rule.captures {
        if let Some(f) = compare(test, &bindings, p, &mut claim_names) {
            failures.push(f);
        }
    }
}

impl PathBinds {
    /// Binds the captures of a pattern known to match `body` (the trie
    /// matched it), by segment index, in one pass over the bytes; the
    /// segment count is checked as a guard.
    fn bind_matched<'a>(&self, body: &'a str, fold: bool, bindings: &mut Bindings<'a>) {
        let mark = bindings.len();
        // A segment holds at most one capture: `binds` has one entry per
        // index, in order.
        let mut binds = self.binds.iter();
        let mut want = binds.next();
        let (mut index, mut start) = (0usize, 0usize);
        for (at, &b) in body.as_bytes().iter().enumerate() {
            if b != b'/' {
                continue;
            }
            if let Some(&(slot, i)) = want
                && i == index
            {
                if let Some(value) = body.get(start..at) {
                    bindings.push(Binding { slot, value, fold });
                }
                want = binds.next();
            }
            index += 1;
            start = at + 1;
        }
        if let Some(&(slot, i)) = want
            && i == index
        {
            if let Some(value) = body.get(start..) {
                bindings.push(Binding { slot, value, fold });
            }
            want = binds.next();
        }
        let segments = index + 1;
        let fits = if self.rest {
            segments + 1 >= self.len
        } else {
            segments == self.len
        };
        if !fits || want.is_some() {
            bindings.truncate(mark);
        }
    }

    /// Binds this pattern's captures from `body` when the pattern matches
    /// it (a rule with several patterns), in one pass.
    fn bind<'a>(
        &self,
        segments: &[Segment],
        body: &'a str,
        fold: bool,
        bindings: &mut Bindings<'a>,
    ) {
        let mark = bindings.len();
        let mut parts = body.split('/');
        let mut binds = self.binds.iter().peekable();
        for (index, want) in segments.iter().enumerate() {
            let part = parts.next();
            let ok = match (want, part) {
                (Segment::Rest, _) => return,
                (_, None) => false,
                (Segment::One, Some(seg)) => !seg.is_empty(),
                (Segment::Literal(lit), Some(seg)) => **lit == *seg,
            };
            if !ok {
                bindings.truncate(mark);
                return;
            }
            while let (Some(&&(slot, at)), Some(value)) = (binds.peek(), part)
                && at == index
            {
                bindings.push(Binding { slot, value, fold });
                binds.next();
            }
        }
        if parts.next().is_some() {
            bindings.truncate(mark);
        }
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

    /// Whether `f` holds for every value bound to `slot` (in binding
    /// order, stopping at the first that fails).
    fn all(&self, slot: usize, mut f: impl FnMut(&Binding<'a>) -> bool) -> bool {
        let inline = self.inline.get(..self.len).unwrap_or_default();
        for b in inline.iter().chain(&self.spill) {
            if b.slot == slot && !f(b) {
                return false;
            }
        }
        true
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

/// `claim_names` caches the principal's `_claim_names` object across the
/// rule's comparisons (`None`: not looked up yet).
fn compare<'p>(
    test: &CaptureTest,
    bindings: &Bindings<'_>,
    p: &'p Principal,
    claim_names: &mut Option<Option<&'p serde_json::Map<String, Value>>>,
) -> Option<Failure> {
    let name = &*test.capture;
    let (mut first, mut odd) = (None, None);
    bindings.all(test.slot, |b| {
        first = first.or(Some(b.value));
        let ok = comparable(b.value);
        if !ok {
            odd = Some(b.value);
        }
        ok
    });
    if let Some(odd) = odd {
        return unevaluable(format!(
            "capture `{name}` holds `{}`, which is not only unreserved characters \
             (letters, digits, `-`, `.`, `_`, `~`) and cannot be compared",
            clip(odd)
        ));
    }
    let Some(first) = first else {
        return unevaluable(format!("capture `{name}` is not bound by this request"));
    };
    let against = match &test.target {
        Target::Subject => match &p.subject {
            Some(sub) => Against::Str(sub),
            None => return unevaluable(format!("capture `{name}`: the principal has no subject")),
        },
        Target::Claim { pointer, top, rest } => {
            let names = *claim_names.get_or_insert_with(|| match p.claims.get("_claim_names") {
                Some(Value::Object(names)) => Some(names),
                _ => None,
            });
            // As `oidc::distributed`: a claim named in `_claim_names`, or
            // Entra's `hasgroups` overage marker for `groups`.
            let distributed = names.is_some_and(|n| n.contains_key(top.as_str()))
                || (top == "groups" && p.claims.get("hasgroups") == Some(&Value::Bool(true)));
            if distributed {
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
    let holds = bindings.all(test.slot, |b| match (test.test, &against) {
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
    !value.is_empty()
        && value
            .bytes()
            .all(|b| UNRESERVED.get(usize::from(b)) == Some(&true))
}

/// [`pattern::is_unreserved`] as a table: one load per byte, no branches.
#[allow(
    clippy::indexing_slicing,
    reason = "evaluated at compile time: an index out of range fails the build"
)]
static UNRESERVED: [bool; 256] = {
    let mut table = [false; 256];
    let mut b = 0u8;
    loop {
        table[b as usize] = pattern::is_unreserved(b);
        if b == u8::MAX {
            break table;
        }
        b += 1;
    }
};
