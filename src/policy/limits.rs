//! Rate limits in the policy document: each rule's `limits` list, compiled
//! into [`RuleLimit`]s that the [`Gate`](crate::gate::Gate) checks after
//! the rule allows a request.

use std::collections::HashMap;

use serde::{Deserialize, Serialize};

use super::document::{Effect, Rule};
use super::{PolicyConfig, PolicyError, clip};
use crate::limit::{KeyKind, Limit, Rate, RuleLimit};

/// One rate limit of a rule, as written:
///
/// ```json
/// { "id": "per-user", "key": "subject", "rate": "100/60s", "burst": 20 }
/// ```
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
#[non_exhaustive]
pub struct LimitSpec {
    /// Named in `RateLimit` headers, decisions and store keys: 1-64 ASCII
    /// letters, digits, `-`, `_`, `.`. Limits with the same id in several
    /// rules share their counters and must be written identically.
    pub id: String,
    /// What to count by: `subject`, `client_id` (`azp`, else `client_id`),
    /// `ip`, `route` (everyone on the rule together) or
    /// `claim:<JSON Pointer>`.
    pub key: String,
    /// `<count>/<period>`: `100/60s`, `10/s`, `5000/h` (units `ms`, `s`,
    /// `m`, `h`, `d`).
    pub rate: String,
    /// Requests admitted at once. Default: the rate's count.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub burst: Option<u32>,
    /// With `key: "ip"`: how many leading bits of an IPv6 address count as
    /// one client. Default 64.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub ipv6_prefix: Option<u8>,
    /// With `key: "ip"`: how many leading bits of an IPv4 address count as
    /// one client. Default 32.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub ipv4_prefix: Option<u8>,
}

/// The compiled limits of every rule that has some, sorted by rule id
/// (ids are unique) and found by binary search.
#[derive(Debug, Clone, Default)]
pub(crate) struct LimitTable {
    by_rule: Vec<(Box<str>, Box<[RuleLimit]>)>,
}

impl LimitTable {
    pub(crate) fn get(&self, rule: &str) -> &[RuleLimit] {
        match self.by_rule.binary_search_by(|(id, _)| (**id).cmp(rule)) {
            Ok(at) => self.by_rule.get(at).map_or(&[], |(_, l)| &l[..]),
            Err(_) => &[],
        }
    }

    pub(crate) fn is_empty(&self) -> bool {
        self.by_rule.is_empty()
    }

    /// Compiles every rule's `limits`.
    pub(crate) fn compile(rules: &[Rule], config: &PolicyConfig) -> Result<Self, PolicyError> {
        let mut by_rule: Vec<(Box<str>, Box<[RuleLimit]>)> = Vec::new();
        // Each limit id's first spec, as an index into `specs`: the map
        // type of the path trie, so a Worker links one map type less.
        let mut by_id: HashMap<Box<str>, usize> = HashMap::new();
        let mut specs: Vec<&LimitSpec> = Vec::new();
        for rule in rules {
            if rule.limits.is_empty() {
                continue;
            }
            let invalid_rule = |reason: String| PolicyError::InvalidRule {
                rule: rule.id.clone(),
                reason,
            };
            if rule.effect == Effect::Deny {
                return Err(invalid_rule(
                    "a deny rule admits nothing, so it cannot have `limits`".to_owned(),
                ));
            }
            if rule.limits.len() > config.max_list_len {
                return Err(invalid_rule(format!(
                    "`limits` has {} entries, over the limit of {}",
                    rule.limits.len(),
                    config.max_list_len
                )));
            }
            let mut compiled = Vec::with_capacity(rule.limits.len());
            for spec in &rule.limits {
                if compiled.iter().any(|c: &RuleLimit| c.id() == spec.id) {
                    return Err(invalid_rule(format!(
                        "limit `{}` is listed twice",
                        clip(&spec.id)
                    )));
                }
                // Every spec kept under an id equals the first one (else
                // this fails), so comparing with the first is enough.
                let next = specs.len();
                let first = *by_id.entry(spec.id.as_str().into()).or_insert(next);
                if first == next {
                    specs.push(spec);
                } else if specs.get(first).is_some_and(|other| *other != spec) {
                    return Err(invalid_rule(format!(
                        "limit `{}` is written differently in another rule; limits with one id share counters and must be identical",
                        clip(&spec.id)
                    )));
                }
                compiled.push(compile_limit(rule, spec)?);
            }
            by_rule.push((rule.id.as_str().into(), compiled.into_boxed_slice()));
        }
        by_rule.sort_unstable_by(|a, b| a.0.cmp(&b.0));
        Ok(Self { by_rule })
    }
}

fn compile_limit(rule: &Rule, spec: &LimitSpec) -> Result<RuleLimit, PolicyError> {
    let invalid =
        |field: &'static str, value: &str, e: crate::limit::LimitError| PolicyError::InvalidValue {
            rule: rule.id.clone(),
            field,
            value: clip(value),
            reason: e.to_string(),
        };
    let rate: Rate = spec
        .rate
        .parse()
        .map_err(|e| invalid("limit rate", &spec.rate, e))?;
    let burst = spec.burst.unwrap_or(rate.count());
    let limit =
        Limit::new(rate, burst).map_err(|e| invalid("limit burst", &burst.to_string(), e))?;
    let mut kind = KeyKind::parse(&spec.key).map_err(|e| invalid("limit key", &spec.key, e))?;
    match &mut kind {
        KeyKind::Ip {
            ipv4_prefix,
            ipv6_prefix,
        } => {
            if let Some(p) = spec.ipv4_prefix {
                if p > 32 {
                    return Err(prefix_error(rule, "ipv4_prefix", p, 32));
                }
                *ipv4_prefix = p;
            }
            if let Some(p) = spec.ipv6_prefix {
                if p > 128 {
                    return Err(prefix_error(rule, "ipv6_prefix", p, 128));
                }
                *ipv6_prefix = p;
            }
        }
        _ if spec.ipv4_prefix.is_some() || spec.ipv6_prefix.is_some() => {
            return Err(PolicyError::InvalidRule {
                rule: rule.id.clone(),
                reason: format!(
                    "limit `{}`: `ipv4_prefix` / `ipv6_prefix` need `key: \"ip\"`",
                    clip(&spec.id)
                ),
            });
        }
        _ => {}
    }
    RuleLimit::new(&spec.id, kind, limit).map_err(|e| invalid("limit id", &spec.id, e))
}

fn prefix_error(rule: &Rule, field: &'static str, value: u8, max: u8) -> PolicyError {
    PolicyError::InvalidValue {
        rule: rule.id.clone(),
        field,
        value: value.to_string(),
        reason: format!("a prefix length is at most {max}"),
    }
}
