//! Evaluation: the facts of one request and an optional principal in, a
//! [`Decision`] out. Authorization returns a decision, never an error: a
//! request the policy cannot judge is denied with a reason.

use std::net::IpAddr;

use http::{HeaderMap, Method};

use super::compile::{ClaimTest, CompiledPolicy, CompiledRule};
use super::document::Effect;
use super::outcome::{Decision, Failure, Reason};
use super::pattern::{self, PathOptions};
use crate::cors::Cors;
use crate::oidc::Principal;

/// What the policy looks at in a request. Borrows from the request; build it
/// with [`from_parts`](RequestFacts::from_parts) or [`new`](RequestFacts::new)
/// and the `with_*` setters.
#[derive(Debug, Clone, Copy)]
pub struct RequestFacts<'a> {
    method: &'a Method,
    host: Option<&'a str>,
    path: &'a str,
    client_ip: Option<IpAddr>,
    country: Option<&'a str>,
    headers: Option<&'a HeaderMap>,
    client_cert: Option<crate::mtls::ClientCert>,
}

impl<'a> RequestFacts<'a> {
    /// Facts with a method and a raw (percent-encoded) path; anything from
    /// `?` or `#` on is ignored. No host, client IP, country or headers:
    /// rules that need them cannot be evaluated until they are set.
    pub fn new(method: &'a Method, path: &'a str) -> Self {
        let end = path.find(['?', '#']).unwrap_or(path.len());
        Self {
            method,
            host: None,
            path: path.get(..end).unwrap_or(path),
            client_ip: None,
            country: None,
            headers: None,
            client_cert: None,
        }
    }

    /// The same facts for another method (a preflight's requested one).
    pub(crate) fn with_method(mut self, method: &'a Method) -> Self {
        self.method = method;
        self
    }

    /// Method, path and headers from a request, and the host from the
    /// request target's authority or else a single `Host` header (RFC 9112
    /// §3.2.2: an absolute-form target's authority wins over `Host`). The
    /// client IP and country are not in the request: set them with
    /// [`with_client_ip`](Self::with_client_ip) and
    /// [`with_country`](Self::with_country).
    pub fn from_parts(parts: &'a http::request::Parts) -> Self {
        let host = parts.uri.authority().map(|a| a.as_str()).or_else(|| {
            let mut values = parts.headers.get_all(http::header::HOST).iter();
            match (values.next(), values.next()) {
                (Some(v), None) => v.to_str().ok(),
                _ => None,
            }
        });
        // An authority may carry userinfo; it is never part of the host.
        let host = host.map(|h| h.rsplit_once('@').map_or(h, |(_, host)| host));
        let mut facts = Self::new(&parts.method, parts.uri.path());
        facts.host = host;
        facts.headers = Some(&parts.headers);
        facts
    }

    /// Sets the host (a `Host` header value; a port is ignored).
    #[must_use]
    pub fn with_host(mut self, host: &'a str) -> Self {
        self.host = Some(host);
        self
    }

    /// Sets the client IP, as your platform reports it (e.g. the socket peer
    /// or `CF-Connecting-IP`); never from a header the client controls.
    #[must_use]
    pub fn with_client_ip(mut self, ip: IpAddr) -> Self {
        self.client_ip = Some(ip);
        self
    }

    /// Sets the country, an ISO 3166-1 alpha-2 code (e.g. `CF-IPCountry`).
    /// `XX` (Cloudflare's "unknown") counts as unknown: country conditions
    /// are then unevaluable.
    #[must_use]
    pub fn with_country(mut self, country: &'a str) -> Self {
        self.country = Some(country);
        self
    }

    /// Sets the headers that header conditions look at.
    #[must_use]
    pub fn with_headers(mut self, headers: &'a HeaderMap) -> Self {
        self.headers = Some(headers);
        self
    }

    /// Sets the client certificate of the TLS connection the request came
    /// on (RFC 8705 §3): the driver's fact, from the handshake it
    /// terminated, never from a header the client controls. The
    /// [`Gate`](crate::gate::Gate) checks a token's `cnf.x5t#S256` against it.
    #[must_use]
    pub fn with_client_cert(mut self, cert: crate::mtls::ClientCert) -> Self {
        self.client_cert = Some(cert);
        self
    }

    /// The client certificate, if set.
    pub fn client_cert(&self) -> Option<&crate::mtls::ClientCert> {
        self.client_cert.as_ref()
    }

    /// The method.
    pub fn method(&self) -> &Method {
        self.method
    }

    /// The host as given, if any.
    pub fn host(&self) -> Option<&str> {
        self.host
    }

    /// The raw path, without the query.
    pub fn path(&self) -> &str {
        self.path
    }

    /// The client IP, if set.
    pub fn client_ip(&self) -> Option<IpAddr> {
        self.client_ip
    }

    /// The country, if set.
    pub fn country(&self) -> Option<&str> {
        self.country
    }
}

impl CompiledPolicy {
    /// The CORS settings of the route `facts` reach: those named by the
    /// first rule, in document order, whose `match` (method, host, path)
    /// covers the request and that names `cors`. Requirements are not
    /// looked at: a preflight carries no credentials, and the settings
    /// belong to the route, not to the caller. `None` when no such rule
    /// exists or the path is refused.
    ///
    /// For a preflight, pass facts whose method is the requested one
    /// (`Access-Control-Request-Method`); the gate does this itself.
    pub fn cors_for(&self, facts: &RequestFacts<'_>) -> Option<&Cors> {
        if !self.cors_rules {
            return None;
        }
        let reject = self.config.reject_encoded_separators;
        let opts = PathOptions {
            max_len: self.config.max_path_len,
            max_segments: self.config.max_path_segments,
            reject_encoded_slash: reject && !self.encoded_slash_rules,
            reject_encoded_backslash: reject,
            reject_path_parameters: self.config.reject_path_parameters,
        };
        let path = pattern::normalize_path(facts.path, &opts)
            .and_then(|path| pattern::apply_profile(path, &self.profile, opts.max_len))
            .ok()?;
        let encoded_slash = reject && self.encoded_slash_rules && path.contains("%2F");
        let mut candidates = Vec::new();
        self.trie
            .collect(0, pattern::path_body(&path).split('/'), &mut candidates);
        candidates.sort_unstable();
        candidates.dedup();
        let host = facts.host.map(pattern::request_host);
        for index in candidates {
            let Some(rule) = usize::try_from(index).ok().and_then(|i| self.rules.get(i)) else {
                continue;
            };
            let Some(cors) = rule.cors.as_deref() else {
                continue;
            };
            if let Some(methods) = &rule.methods
                && !method_matches(rule.effect, methods, facts.method.as_str())
            {
                continue;
            }
            if encoded_slash && rule.effect != Effect::Deny && !rule.allow_encoded_slash {
                continue;
            }
            if let Some(hosts) = &rule.hosts {
                match host {
                    Some(Some(h)) if hosts.iter().any(|p| p.matches(h)) => {}
                    _ => continue,
                }
            }
            return Some(cors);
        }
        None
    }

    /// Whether some rule names CORS settings.
    pub fn has_cors(&self) -> bool {
        self.cors_rules
    }

    /// Evaluates a request: the first rule whose route and requirements hold
    /// decides; no such rule means deny. See the [module docs](super) for
    /// the exact semantics.
    pub fn evaluate(&self, facts: &RequestFacts<'_>, principal: Option<&Principal>) -> Decision {
        let reject = self.config.reject_encoded_separators;
        let opts = PathOptions {
            max_len: self.config.max_path_len,
            max_segments: self.config.max_path_segments,
            // With rules opting in, `%2F` gets as far as the rules; only
            // those rules may allow it (below).
            reject_encoded_slash: reject && !self.encoded_slash_rules,
            reject_encoded_backslash: reject,
            reject_path_parameters: self.config.reject_path_parameters,
        };
        let path = match pattern::normalize_path(facts.path, &opts)
            .and_then(|path| pattern::apply_profile(path, &self.profile, opts.max_len))
        {
            Ok(path) => path,
            Err(detail) => {
                let mut d = Decision::new(Effect::Deny, None, principal);
                d.reasons.push(Reason::RequestRejected { detail });
                return d;
            }
        };
        let encoded_slash = reject && self.encoded_slash_rules && path.contains("%2F");
        let mut passed_over = false;
        let mut candidates = Vec::new();
        self.trie
            .collect(0, pattern::path_body(&path).split('/'), &mut candidates);
        candidates.sort_unstable();
        candidates.dedup();

        let host = facts.host.map(pattern::request_host);
        let mut reasons = Vec::new();
        for index in candidates {
            let Some(rule) = usize::try_from(index).ok().and_then(|i| self.rules.get(i)) else {
                continue;
            };
            if let Some(methods) = &rule.methods
                && !method_matches(rule.effect, methods, facts.method.as_str())
            {
                continue;
            }
            if encoded_slash && rule.effect != Effect::Deny && !rule.allow_encoded_slash {
                passed_over = true;
                continue;
            }
            let mut failures = Vec::new();
            if let Some(hosts) = &rule.hosts {
                match host {
                    Some(Some(h)) if hosts.iter().any(|p| p.matches(h)) => {}
                    Some(Some(_)) => continue,
                    Some(None) => failures.push(Failure::Unevaluable {
                        detail: "request host is malformed".to_owned(),
                    }),
                    None => failures.push(Failure::Unevaluable {
                        detail: "request host is unknown".to_owned(),
                    }),
                }
            }
            check_conditions(rule, facts, principal, &mut failures);
            if !rule.captures.is_empty()
                && let Some(p) = principal
            {
                let valid_host = host.flatten();
                super::bindings::check(
                    rule,
                    pattern::path_body(&path),
                    valid_host,
                    &self.profile,
                    p,
                    &mut failures,
                );
            }
            if failures.is_empty() {
                let mut d = Decision::new(rule.effect, Some(rule.id.clone()), principal);
                if rule.effect == Effect::Deny {
                    d.reasons.push(Reason::DeniedByRule {
                        rule_id: rule.id.clone(),
                    });
                } else if let Some(problem) =
                    rule.shape.as_ref().and_then(|s| s.check(facts.headers))
                {
                    d.effect = Effect::Deny;
                    d.reasons.push(Reason::NonCompliantRequest {
                        rule_id: rule.id.clone(),
                        problem,
                    });
                }
                return d;
            }
            let unevaluable = failures.iter().any(Failure::unevaluable);
            let not_met = Reason::RequirementsNotMet {
                rule_id: rule.id.clone(),
                effect: rule.effect,
                failures,
            };
            if rule.effect == Effect::Deny && unevaluable {
                // Fail closed: skipping the deny would hand the request to
                // the allow rules after it.
                let mut d = Decision::new(Effect::Deny, Some(rule.id.clone()), principal);
                d.reasons.push(not_met);
                return d;
            }
            if reasons.len() < self.config.max_reasons {
                reasons.push(not_met);
            } else if reasons.len() == self.config.max_reasons {
                reasons.push(Reason::Truncated);
            }
        }
        let mut d = Decision::new(Effect::Deny, None, principal);
        if encoded_slash && (passed_over || reasons.is_empty()) {
            // As without any opting-in rule: the path is refused, and the
            // reason says how to admit it.
            reasons.insert(
                0,
                Reason::RequestRejected {
                    detail: format!(
                        "path `{}` contains an encoded separator (`%2F`) and no rule matching it sets `allow_encoded_slash`; {}",
                        super::clip(facts.path),
                        pattern::ENCODED_SLASH_HINT
                    ),
                },
            );
        }
        if reasons.is_empty() {
            reasons.push(Reason::NoMatchingRule);
        }
        d.reasons = reasons;
        d
    }
}

/// Whether a rule's method list names the request's method. Methods are
/// case-sensitive (RFC 9110 §9.1), but some origins upper-case them
/// (Django, gunicorn's `casefold_http_method`), so to a deny rule `delete`
/// is `DELETE`: otherwise it would slip past the deny to a broader allow.
/// Allow rules stay exact, so a mis-cased method never gains access.
fn method_matches(effect: Effect, methods: &[String], method: &str) -> bool {
    match effect {
        Effect::Deny => methods.iter().any(|m| m.eq_ignore_ascii_case(method)),
        _ => methods.iter().any(|m| m == method),
    }
}

fn check_conditions(
    rule: &CompiledRule,
    facts: &RequestFacts<'_>,
    principal: Option<&Principal>,
    failures: &mut Vec<Failure>,
) {
    if let Some(cidrs) = &rule.client_ip {
        match facts.client_ip {
            Some(ip) if cidrs.iter().any(|c| c.contains(ip)) => {}
            Some(ip) => failures.push(Failure::ClientIpNotAllowed {
                client_ip: pattern::canonical_ip(ip),
            }),
            None => failures.push(Failure::Unevaluable {
                detail: "client IP is unknown".to_owned(),
            }),
        }
    }
    if let Some(countries) = &rule.country {
        match facts
            .country
            .map(|c| pattern::parse_country(c).map_err(|_| c))
        {
            Some(Ok(code)) if countries.contains(&code) => {}
            Some(Ok(code)) => failures.push(Failure::CountryNotAllowed {
                country: String::from_utf8_lossy(&code).into_owned(),
            }),
            Some(Err(bad)) => failures.push(Failure::Unevaluable {
                detail: format!(
                    "country `{}` is unknown or not an ISO 3166-1 alpha-2 code",
                    super::clip(bad)
                ),
            }),
            None => failures.push(Failure::Unevaluable {
                detail: "country is unknown".to_owned(),
            }),
        }
    }
    for header in &rule.headers {
        let Some(headers) = facts.headers else {
            failures.push(Failure::Unevaluable {
                detail: format!("headers not supplied; needed for `{}`", header.name),
            });
            continue;
        };
        let mut values = headers.get_all(&header.name).iter();
        let first = values.next();
        let ok = match (&header.equals, first, values.next()) {
            (_, None, _) => false,
            (None, Some(_), _) => true,
            (Some(want), Some(v), None) => v.as_bytes() == want.as_slice(),
            (Some(_), Some(_), Some(_)) => {
                // Which copy would the origin read? Refuse to guess.
                failures.push(Failure::Unevaluable {
                    detail: format!("header `{}` appears more than once", header.name),
                });
                continue;
            }
        };
        if !ok {
            failures.push(Failure::HeaderMismatch {
                name: header.name.as_str().to_owned(),
            });
        }
    }
    if !rule.needs_principal {
        return;
    }
    let Some(p) = principal else {
        failures.push(Failure::AuthenticationRequired);
        if rule.sender_constrained {
            failures.push(Failure::SenderConstraintRequired);
        }
        return;
    };
    if rule.sender_constrained && !p.sender_constrained {
        failures.push(Failure::SenderConstraintRequired);
    }
    // A set the mapper could not take in full cannot tell "does not hold
    // `suspended`" from "held it past the limit": such a condition is
    // unevaluable, whatever the values present say.
    let reads_roles = rule.any_roles.is_some() || rule.all_roles.is_some();
    if reads_roles && !p.roles_complete() {
        failures.push(Failure::IncompleteSet {
            set: "roles".to_owned(),
        });
    } else {
        check_roles(rule, p, failures);
    }
    if let Some(scopes) = &rule.scopes {
        let missing: Vec<String> = scopes.iter().filter(|s| !p.has_scope(s)).cloned().collect();
        if !p.scopes_complete() {
            failures.push(Failure::IncompleteSet {
                set: "scopes".to_owned(),
            });
        } else if !missing.is_empty() {
            failures.push(Failure::MissingScopes {
                required: scopes.clone(),
                missing,
            });
        }
    }
    for claim in &rule.claims {
        if claim_distributed(p, &claim.pointer) {
            failures.push(Failure::IncompleteSet {
                set: claim.pointer.clone(),
            });
            continue;
        }
        let value = p.claims_pointer(&claim.pointer);
        let ok = match (&claim.test, value) {
            (_, None) => false,
            (ClaimTest::Equals(want), Some(v)) => v == want,
            (ClaimTest::Contains(want), Some(v)) => {
                v.as_array().is_some_and(|items| items.contains(want))
            }
        };
        if !ok {
            failures.push(Failure::ClaimMismatch {
                pointer: claim.pointer.clone(),
            });
        }
    }
}

fn check_roles(rule: &CompiledRule, p: &Principal, failures: &mut Vec<Failure>) {
    if let Some(any) = &rule.any_roles
        && !any.iter().any(|r| p.has_role(r))
    {
        failures.push(Failure::NoneOfRoles {
            any_of: any.clone(),
        });
    }
    if let Some(all) = &rule.all_roles {
        let missing: Vec<String> = all.iter().filter(|r| !p.has_role(r)).cloned().collect();
        if !missing.is_empty() {
            failures.push(Failure::MissingRoles { missing });
        }
    }
}

/// Whether the token moved the top-level claim the pointer starts at to a
/// distributed claim (a groups overage): its absence then says nothing.
fn claim_distributed(p: &Principal, pointer: &str) -> bool {
    let rest = pointer.strip_prefix('/').unwrap_or(pointer);
    let first = rest.split('/').next().unwrap_or_default();
    let name = first.replace("~1", "/").replace("~0", "~");
    crate::oidc::distributed(&p.claims, &name)
}

/// JSON Pointer lookup over a principal's claims map.
trait ClaimsPointer {
    fn claims_pointer(&self, pointer: &str) -> Option<&serde_json::Value>;
}

impl ClaimsPointer for Principal {
    fn claims_pointer(&self, pointer: &str) -> Option<&serde_json::Value> {
        // The claims are a map, not a `Value`; resolve the first token here
        // and let serde_json resolve the rest.
        let rest = pointer.strip_prefix('/')?;
        let (first, tail) = rest.split_once('/').map_or((rest, ""), |(f, t)| (f, t));
        let key = first.replace("~1", "/").replace("~0", "~");
        let value = self.claims.get(&key)?;
        if tail.is_empty() && !rest.contains('/') {
            Some(value)
        } else {
            value.pointer(&format!("/{tail}"))
        }
    }
}
