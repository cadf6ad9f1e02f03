//! Compiles a [`Policy`] into a [`CompiledPolicy`]: validated conditions and
//! one segment trie over every rule's path patterns, so that finding the
//! candidate rules for a path costs the depth of the path, not the rule count.

use std::collections::{HashMap, HashSet};
use std::sync::Arc;

use http::HeaderName;
use serde::{Deserialize, Serialize};
use serde_json::Value;

use super::document::{Effect, PathProfile, Policy, Require, Rule};
use super::pattern::{self, Cidr, HostPattern, Segment};
use super::{PolicyConfig, PolicyError, clip};
use crate::cors::Cors;

/// A policy ready to evaluate: build it once with [`Policy::compile`], share
/// it (it is `Send + Sync`) and call [`evaluate`](CompiledPolicy::evaluate)
/// per request.
#[derive(Debug, Clone)]
pub struct CompiledPolicy {
    pub(crate) rules: Vec<CompiledRule>,
    pub(crate) trie: Trie,
    pub(crate) config: PolicyConfig,
    /// How the origin reads paths; patterns were compiled through it.
    pub(crate) profile: PathProfile,
    /// Some rule sets `allow_encoded_slash`.
    pub(crate) encoded_slash_rules: bool,
    /// Some rule names CORS settings.
    pub(crate) cors_rules: bool,
    warnings: Vec<PolicyWarning>,
    /// Each rule's rate limits.
    limits: super::limits::LimitTable,
}

/// Something legal but suspicious found while compiling.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
#[non_exhaustive]
pub enum PolicyWarning {
    /// The rule can never decide: an earlier rule without conditions matches
    /// every request it matches.
    ShadowedRule {
        /// The unreachable rule.
        rule_id: String,
        /// The earlier rule that always decides first.
        shadowed_by: String,
    },
}

impl std::fmt::Display for PolicyWarning {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Self::ShadowedRule {
                rule_id,
                shadowed_by,
            } => write!(
                f,
                "rule `{rule_id}` is unreachable: earlier rule `{shadowed_by}` has no conditions and matches every request it matches"
            ),
        }
    }
}

#[derive(Debug, Clone)]
pub(crate) struct CompiledRule {
    pub(crate) id: String,
    pub(crate) effect: Effect,
    pub(crate) methods: Option<Vec<String>>,
    pub(crate) hosts: Option<Vec<HostPattern>>,
    pub(crate) paths: Option<Vec<Vec<Segment>>>,
    pub(crate) allow_encoded_slash: bool,
    pub(crate) needs_principal: bool,
    /// The token must have been presented sender-constrained (DPoP).
    pub(crate) sender_constrained: bool,
    pub(crate) any_roles: Option<Vec<String>>,
    pub(crate) all_roles: Option<Vec<String>>,
    pub(crate) scopes: Option<Vec<String>>,
    pub(crate) claims: Vec<CompiledClaim>,
    pub(crate) client_ip: Option<Vec<Cidr>>,
    pub(crate) country: Option<Vec<[u8; 2]>>,
    pub(crate) headers: Vec<CompiledHeader>,
    /// The rule's CORS settings, shared with every rule naming them.
    pub(crate) cors: Option<Arc<Cors>>,
    /// Where the compared captures are bound (path and host patterns);
    /// empty unless the rule compares captures.
    pub(crate) path_captures: super::capture::Plan,
    /// Comparisons of captures with the principal.
    pub(crate) captures: Vec<super::capture::CaptureTest>,
    /// What an allowed request must look like.
    pub(crate) shape: Option<super::shape::CompiledShape>,
}

impl CompiledRule {
    /// No condition at all: the rule applies whenever its route matches.
    fn unconditional(&self) -> bool {
        !self.needs_principal
            && self.claims.is_empty()
            && self.client_ip.is_none()
            && self.country.is_none()
            && self.headers.is_empty()
            && self.captures.is_empty()
    }
}

#[derive(Debug, Clone)]
pub(crate) struct CompiledClaim {
    pub(crate) pointer: String,
    pub(crate) test: ClaimTest,
}

#[derive(Debug, Clone)]
pub(crate) enum ClaimTest {
    Equals(Value),
    Contains(Value),
}

#[derive(Debug, Clone)]
pub(crate) struct CompiledHeader {
    pub(crate) name: HeaderName,
    pub(crate) equals: Option<Vec<u8>>,
}

/// A segment trie over path patterns. A node is reached by exactly one
/// sequence of edges, so a lookup visits each node at most once.
#[derive(Debug, Clone, Default)]
pub(crate) struct Trie {
    nodes: Vec<Node>,
}

#[derive(Debug, Clone, Default)]
struct Node {
    literals: HashMap<Box<str>, usize>,
    one: Option<usize>,
    /// Rules whose pattern ends here.
    exact: Vec<u32>,
    /// Rules whose pattern ends here with `**`.
    rest: Vec<u32>,
}

impl Trie {
    fn new() -> Self {
        Self {
            nodes: vec![Node::default()],
        }
    }

    fn child(&mut self, node: usize, segment: &Segment) -> usize {
        let next = self.nodes.len();
        let slot = match (self.nodes.get_mut(node), segment) {
            (Some(n), Segment::Literal(lit)) => *n.literals.entry(lit.clone()).or_insert(next),
            (Some(n), _) => *n.one.get_or_insert(next),
            (None, _) => return node,
        };
        if slot == next {
            self.nodes.push(Node::default());
        }
        slot
    }

    fn insert(&mut self, segments: &[Segment], rule: u32) {
        let mut node = 0;
        for segment in segments {
            if *segment == Segment::Rest {
                if let Some(n) = self.nodes.get_mut(node) {
                    n.rest.push(rule);
                }
                return;
            }
            node = self.child(node, segment);
        }
        if let Some(n) = self.nodes.get_mut(node) {
            n.exact.push(rule);
        }
    }

    /// Pushes every rule whose pattern matches the path (split segments of
    /// a normalised path body) onto `out`, unordered, maybe repeated.
    pub(crate) fn collect<'p>(
        &self,
        node: usize,
        mut segments: std::str::Split<'p, char>,
        out: &mut Vec<u32>,
    ) {
        let Some(n) = self.nodes.get(node) else {
            return;
        };
        out.extend_from_slice(&n.rest);
        match segments.next() {
            None => out.extend_from_slice(&n.exact),
            Some(segment) => {
                if let Some(&child) = n.literals.get(segment) {
                    self.collect(child, segments.clone(), out);
                }
                if let Some(child) = n.one.filter(|_| !segment.is_empty()) {
                    self.collect(child, segments, out);
                }
            }
        }
    }
}

/// Compiles `policy` (without running its embedded tests; the caller,
/// [`Policy::compile_with`], does that).
pub(super) fn compile(
    policy: &Policy,
    config: &PolicyConfig,
) -> Result<CompiledPolicy, PolicyError> {
    if policy.rules.len() > config.max_rules {
        return Err(PolicyError::TooManyRules {
            count: policy.rules.len(),
            max: config.max_rules,
        });
    }
    let cors = compile_cors(policy)?;
    // `String`, not `&str`: the one set type the discovery document's
    // member check already links (a Worker carries one hash set less).
    let mut ids: HashSet<String> = HashSet::with_capacity(policy.rules.len());
    let mut rules = Vec::with_capacity(policy.rules.len());
    let mut trie = Trie::new();
    for (index, rule) in policy.rules.iter().enumerate() {
        if rule.id.is_empty() {
            return Err(PolicyError::InvalidId {
                id: String::new(),
                reason: "ids must not be empty",
            });
        }
        if rule.id.len() > config.max_id_len {
            return Err(PolicyError::InvalidId {
                id: clip(&rule.id),
                reason: "id is too long",
            });
        }
        if !ids.insert(rule.id.clone()) {
            return Err(PolicyError::DuplicateId {
                id: rule.id.clone(),
            });
        }
        let mut compiled = compile_rule(rule, config, &policy.paths)?;
        if let Some(name) = &rule.cors {
            let Ok(at) = cors.binary_search_by(|(n, _)| (*n).cmp(name.as_str())) else {
                return Err(PolicyError::UnknownCors {
                    rule: rule.id.clone(),
                    name: clip(name),
                });
            };
            compiled.cors = cors.get(at).map(|(_, c)| Arc::clone(c));
        }
        let index = u32::try_from(index).map_err(|_| PolicyError::TooManyRules {
            count: policy.rules.len(),
            max: config.max_rules,
        })?;
        match &compiled.paths {
            Some(paths) => paths.iter().for_each(|p| trie.insert(p, index)),
            None => trie.insert(&[Segment::Rest], index),
        }
        rules.push(compiled);
    }
    let warnings = shadow_warnings(&rules);
    let encoded_slash_rules = rules.iter().any(|r| r.allow_encoded_slash);
    let cors_rules = rules.iter().any(|r| r.cors.is_some());
    let limits = super::limits::LimitTable::compile(&policy.rules, config)?;
    Ok(CompiledPolicy {
        rules,
        trie,
        config: config.clone(),
        profile: policy.paths,
        encoded_slash_rules,
        cors_rules,
        warnings,
        limits,
    })
}

impl CompiledPolicy {
    /// The first rule that requires a sender-constrained token
    /// (`require.sender_constrained`), if any.
    pub fn sender_constrained_rule(&self) -> Option<&str> {
        self.rules
            .iter()
            .find(|r| r.sender_constrained)
            .map(|r| r.id.as_str())
    }

    /// The policy of a Gate built without the `policy` feature: no rules,
    /// no CORS settings, no rate limits. The Gate does not evaluate it (it
    /// allows any authenticated request, [`Decision::authenticated_only`]);
    /// it only answers "no CORS" and "no limits" to the Gate's other steps.
    ///
    /// [`Decision::authenticated_only`]: super::Decision
    #[cfg(not(feature = "policy"))]
    pub(crate) fn empty() -> Self {
        Self {
            rules: Vec::new(),
            trie: Trie { nodes: Vec::new() },
            config: PolicyConfig::default(),
            profile: PathProfile::default(),
            encoded_slash_rules: false,
            cors_rules: false,
            warnings: Vec::new(),
            limits: super::limits::LimitTable::default(),
        }
    }

    /// Legal but suspicious things found while compiling, such as rules that
    /// can never decide because an earlier unconditional rule covers them.
    pub fn warnings(&self) -> &[PolicyWarning] {
        &self.warnings
    }

    /// The rate limits of rule `rule_id` (empty when it has none).
    pub fn limits(&self, rule_id: &str) -> &[crate::limit::RuleLimit] {
        self.limits.get(rule_id)
    }

    /// Whether any rule has rate limits.
    pub fn has_limits(&self) -> bool {
        !self.limits.is_empty()
    }

    /// The number of rules.
    pub fn len(&self) -> usize {
        self.rules.len()
    }

    /// Whether the policy has no rules (and so denies everything).
    pub fn is_empty(&self) -> bool {
        self.rules.is_empty()
    }
}

fn invalid(rule: &Rule, field: &'static str, value: &str, reason: String) -> PolicyError {
    PolicyError::InvalidValue {
        rule: rule.id.clone(),
        field,
        value: clip(value),
        reason,
    }
}

/// Checks an optional list: `None` stays `None`; an empty or over-long list
/// is an error (an empty list would silently match nothing or everything).
fn list<'a, T>(
    rule: &Rule,
    field: &str,
    items: Option<&'a Vec<T>>,
    config: &PolicyConfig,
) -> Result<Option<&'a [T]>, PolicyError> {
    match items {
        None => Ok(None),
        Some(v) if v.is_empty() => Err(PolicyError::InvalidRule {
            rule: rule.id.clone(),
            reason: format!("`{field}` is empty; leave it out to impose nothing"),
        }),
        Some(v) if v.len() > config.max_list_len => Err(PolicyError::InvalidRule {
            rule: rule.id.clone(),
            reason: format!(
                "`{field}` has {} entries, over the limit of {}",
                v.len(),
                config.max_list_len
            ),
        }),
        Some(v) => Ok(Some(v.as_slice())),
    }
}

/// [`list`], then each entry through `parse` (an error names the entry as
/// `field`). One loop for every kind of entry: the parser is a `dyn Fn`,
/// so only the collecting is compiled per entry type.
fn parse_list<T>(
    rule: &Rule,
    list_field: &str,
    items: Option<&Vec<String>>,
    config: &PolicyConfig,
    field: &'static str,
    parse: &dyn Fn(&str) -> Result<T, String>,
) -> Result<Option<Vec<T>>, PolicyError> {
    let Some(items) = list(rule, list_field, items, config)? else {
        return Ok(None);
    };
    let mut out = Vec::with_capacity(items.len());
    for item in items {
        out.push(parse(item).map_err(|e| invalid(rule, field, item, e))?);
    }
    Ok(Some(out))
}

fn compile_rule(
    rule: &Rule,
    config: &PolicyConfig,
    profile: &PathProfile,
) -> Result<CompiledRule, PolicyError> {
    let route = &rule.route;
    let methods = parse_list(
        rule,
        "methods",
        route.methods.as_ref(),
        config,
        "method",
        &|m| pattern::validate_method(m).map(|()| m.to_owned()),
    )?;
    let hosts = parse_list(
        rule,
        "hosts",
        route.hosts.as_ref(),
        config,
        "host",
        &HostPattern::parse,
    )?;
    let paths = parse_list(
        rule,
        "paths",
        route.paths.as_ref(),
        config,
        "path pattern",
        &|p| {
            pattern::parse_path_pattern(
                p,
                config.max_pattern_len,
                config.max_pattern_segments,
                profile,
            )
        },
    )?;
    let mut compiled = compile_require(rule, &rule.require, config, methods, hosts, paths)?;
    compiled.allow_encoded_slash = route.allow_encoded_slash;
    let mut captures = Vec::new();
    captures.extend(super::capture::subject_capture(&rule.require));
    for claim in rule.require.claims.iter().flatten() {
        captures.extend(super::capture::claim_capture(claim));
    }
    (compiled.path_captures, compiled.captures) = super::capture::bind(
        rule,
        compiled.paths.as_deref(),
        compiled.hosts.as_deref(),
        captures,
    )?;
    compiled.shape = super::shape::compile(rule, config)?;
    Ok(compiled)
}

fn compile_require(
    rule: &Rule,
    require: &Require,
    config: &PolicyConfig,
    methods: Option<Vec<String>>,
    hosts: Option<Vec<HostPattern>>,
    paths: Option<Vec<Vec<Segment>>>,
) -> Result<CompiledRule, PolicyError> {
    let strings =
        |field: &str, v: Option<&Vec<String>>| -> Result<Option<Vec<String>>, PolicyError> {
            Ok(list(rule, field, v, config)?.map(<[String]>::to_vec))
        };
    let any_roles = strings("any_roles", require.any_roles.as_ref())?;
    let all_roles = strings("all_roles", require.all_roles.as_ref())?;
    let scopes = strings("scopes", require.scopes.as_ref())?;
    let mut claims = Vec::new();
    for c in list(rule, "claims", require.claims.as_ref(), config)?.unwrap_or_default() {
        if let Err(e) = pattern::validate_pointer(&c.pointer) {
            return Err(invalid(rule, "claim pointer", &c.pointer, e));
        }
        let test = match (
            &c.equals,
            &c.contains,
            &c.equals_capture,
            &c.contains_capture,
        ) {
            (Some(v), None, None, None) => ClaimTest::Equals(v.clone()),
            (None, Some(v), None, None) => ClaimTest::Contains(v.clone()),
            // Capture comparisons are compiled apart (`capture::bind`).
            (None, None, Some(_), None) | (None, None, None, Some(_)) => continue,
            _ => {
                return Err(invalid(
                    rule,
                    "claim condition",
                    &c.pointer,
                    "give exactly one of `equals`, `contains`, `equals_capture` and `contains_capture`"
                        .to_owned(),
                ));
            }
        };
        claims.push(CompiledClaim {
            pointer: c.pointer.clone(),
            test,
        });
    }
    let client_ip = parse_list(
        rule,
        "client_ip",
        require.client_ip.as_ref(),
        config,
        "cidr",
        &Cidr::parse,
    )?;
    let country = parse_list(
        rule,
        "country",
        require.country.as_ref(),
        config,
        "country",
        &pattern::parse_country,
    )?;
    let mut headers = Vec::new();
    for h in list(rule, "headers", require.headers.as_ref(), config)?.unwrap_or_default() {
        let name = HeaderName::from_bytes(h.name.as_bytes())
            .map_err(|e| invalid(rule, "header name", &h.name, e.to_string()))?;
        headers.push(CompiledHeader {
            name,
            equals: h.equals.as_ref().map(|v| v.as_bytes().to_vec()),
        });
    }

    let principal_conditions = any_roles.is_some()
        || all_roles.is_some()
        || scopes.is_some()
        || require.claims.is_some()
        || require.subject_equals_capture.is_some()
        || require.sender_constrained;
    if require.anonymous && (require.authenticated || principal_conditions) {
        return Err(PolicyError::InvalidRule {
            rule: rule.id.clone(),
            reason: "`anonymous` cannot be combined with `authenticated`, roles, scopes, claims, captures or `sender_constrained`"
                .to_owned(),
        });
    }
    // An allow rule opens a route to the world only when it says so.
    let needs_principal = require.authenticated
        || principal_conditions
        || (rule.effect == Effect::Allow && !require.anonymous);
    Ok(CompiledRule {
        id: rule.id.clone(),
        effect: rule.effect,
        methods,
        hosts,
        paths,
        allow_encoded_slash: false,
        needs_principal,
        sender_constrained: require.sender_constrained,
        any_roles,
        all_roles,
        scopes,
        claims,
        client_ip,
        country,
        headers,
        cors: None,
        path_captures: super::capture::Plan::default(),
        captures: Vec::new(),
        shape: None,
    })
}

/// Compiles the document's named CORS settings once; rules share them.
/// Sorted by name (the document's map is), so a rule's name is found by
/// binary search.
fn compile_cors(policy: &Policy) -> Result<Vec<(&str, Arc<Cors>)>, PolicyError> {
    let mut compiled = Vec::with_capacity(policy.cors.len());
    for (name, settings) in &policy.cors {
        let cors = Cors::new(settings).map_err(|source| PolicyError::Cors {
            name: clip(name),
            source,
        })?;
        compiled.push((name.as_str(), Arc::new(cors)));
    }
    Ok(compiled)
}

/// Finds rules that an earlier unconditional rule covers entirely. Only
/// unconditional earlier rules are compared, so the cost is rules x
/// unconditional rules.
fn shadow_warnings(rules: &[CompiledRule]) -> Vec<PolicyWarning> {
    let mut warnings = Vec::new();
    let mut unconditional: Vec<&CompiledRule> = Vec::new();
    for rule in rules {
        if let Some(earlier) = unconditional.iter().find(|e| route_covers(e, rule)) {
            warnings.push(PolicyWarning::ShadowedRule {
                rule_id: rule.id.clone(),
                shadowed_by: earlier.id.clone(),
            });
        }
        if rule.unconditional() {
            unconditional.push(rule);
        }
    }
    warnings
}

/// Whether every request `b`'s route matches is matched by `a`'s route.
fn route_covers(a: &CompiledRule, b: &CompiledRule) -> bool {
    let methods = match (&a.methods, &b.methods) {
        (None, _) => true,
        (Some(_), None) => false,
        (Some(am), Some(bm)) => bm.iter().all(|m| am.contains(m)),
    };
    let hosts = match (&a.hosts, &b.hosts) {
        (None, _) => true,
        (Some(_), None) => false,
        (Some(ah), Some(bh)) => bh.iter().all(|h| ah.iter().any(|g| g.covers(h))),
    };
    // A rule without paths matches every path (`**`), which covers any
    // pattern.
    let covered = |bp: &[Segment]| match &a.paths {
        None => true,
        Some(aps) => aps.iter().any(|ap| pattern_covers(ap, bp)),
    };
    let paths = match &b.paths {
        None => covered(&[Segment::Rest]),
        Some(bps) => bps.iter().all(|bp| covered(bp)),
    };
    // For a path with `%2F`, an allow rule that does not opt in is passed
    // over, so it does not stand in front of one that does.
    let encoded_slash = !b.allow_encoded_slash || a.allow_encoded_slash || a.effect == Effect::Deny;
    methods && hosts && encoded_slash && paths
}

/// Whether every path pattern `b` matches is matched by pattern `a`.
fn pattern_covers(a: &[Segment], b: &[Segment]) -> bool {
    let mut bs = b.iter();
    for sa in a {
        let Some(sb) = bs.next() else {
            // `b` is shorter: only a trailing `**` in `a` accepts the end.
            return *sa == Segment::Rest;
        };
        let ok = match (sa, sb) {
            (Segment::Rest, _) => return true,
            (Segment::One, Segment::One) => true,
            (Segment::One, Segment::Literal(l)) => !l.is_empty(),
            (Segment::Literal(x), Segment::Literal(y)) => x == y,
            _ => false,
        };
        if !ok {
            return false;
        }
    }
    bs.next().is_none()
}
