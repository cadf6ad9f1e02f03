//! TEMPORARY STAND-IN for `edge_auth::gate` (and the bits of `edge_auth::policy`
//! and `edge_auth::oidc` the gateway touches), written to the Gate contract so
//! the gateway can be built and tested before the real Gate lands. Delete this
//! file when it does (see `mod.rs`).
//!
//! DO NOT USE FOR ANYTHING REAL: it does NOT verify token signatures. It reads
//! the token's header and payload unverified, checks `alg`/`iss`/`aud`/`exp`/
//! `nbf` and whether the `kid` is in the issuer's published JWKS, and models the
//! key-fetch state machine (cold start via discovery, unknown-kid refetch with a
//! cooldown, refresh-ahead, stale keys kept when a fetch fails) closely enough
//! for the gateway's fetch plumbing to be exercised end to end.

use std::collections::{HashMap, HashSet};
use std::net::IpAddr;
use std::sync::{Mutex, PoisonError};

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use edge_auth::{Principal, TokenSource};
use http::{HeaderMap, HeaderValue, Method, Response, StatusCode, header, request::Parts};
use jsonwebtoken::Algorithm;
use serde::Deserialize;
use serde_json::{Map, Value};
use time::{Duration, OffsetDateTime};

/// A token naming a kid we do not know triggers at most one refetch per this.
const UNKNOWN_KID_COOLDOWN: Duration = Duration::seconds(30);
/// After a failed fetch, a cold issuer is not asked again for this long.
const FAILURE_BACKOFF: Duration = Duration::seconds(5);
/// Refresh-ahead is not re-planned more often than this while one is pending.
const REFRESH_RETRY: Duration = Duration::seconds(10);
/// Used when the JWKS response has no usable `Cache-Control: max-age`.
const DEFAULT_MAX_AGE: Duration = Duration::seconds(300);
const LEEWAY: Duration = Duration::seconds(60);

fn failure(detail: impl std::fmt::Display) -> edge_auth::Error {
    // The library's error types are still empty skeletons; keep the contract's
    // signature and say what happened on stderr instead.
    eprintln!("gate stand-in: {detail}");
    edge_auth::Error::Jwk(edge_auth::jwk::JwkError::Malformed)
}

// ----- policy (stand-in for edge_auth::policy) -----

/// A policy document: ordered rules, first applying rule wins, default deny.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Policy {
    /// The rules, in order.
    pub rules: Vec<Rule>,
}

/// One rule.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Rule {
    /// Unique id, named in decisions.
    pub id: String,
    /// Which requests the rule is about.
    #[serde(rename = "match")]
    pub matcher: Match,
    /// What must hold for the rule to apply.
    #[serde(default)]
    pub require: Require,
    /// What the rule decides.
    pub effect: Effect,
}

/// Request matcher: every non-empty list must contain a match.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Match {
    /// Methods, case-sensitive.
    #[serde(default)]
    pub methods: Vec<String>,
    /// Hosts, case-insensitive.
    #[serde(default)]
    pub hosts: Vec<String>,
    /// Path patterns: literal segments, `{param}` and `*` (one segment), `**` (the rest).
    #[serde(default)]
    pub paths: Vec<String>,
}

/// Requirements; all given ones must hold.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Require {
    /// No principal needed.
    #[serde(default)]
    pub anonymous: bool,
    /// A principal is needed.
    #[serde(default)]
    pub authenticated: bool,
    /// At least one of these roles.
    #[serde(default)]
    pub any_roles: Vec<String>,
    /// All of these roles.
    #[serde(default)]
    pub all_roles: Vec<String>,
}

/// Allow or deny.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Effect {
    /// Let the request through.
    Allow,
    /// Stop it.
    Deny,
}

impl Policy {
    /// Checks the document.
    ///
    /// # Errors
    /// On duplicate rule ids or patterns not starting with `/`.
    pub fn compile(self) -> Result<CompiledPolicy, edge_auth::Error> {
        let mut ids = HashSet::new();
        for rule in &self.rules {
            if !ids.insert(rule.id.clone()) {
                return Err(failure(format!("duplicate rule id `{}`", rule.id)));
            }
            if let Some(bad) = rule.matcher.paths.iter().find(|p| !p.starts_with('/')) {
                return Err(failure(format!(
                    "path pattern `{bad}` does not start with `/`"
                )));
            }
        }
        Ok(CompiledPolicy { rules: self.rules })
    }
}

/// A checked policy.
#[derive(Debug, Clone)]
pub struct CompiledPolicy {
    rules: Vec<Rule>,
}

/// What the policy decided.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Decision {
    /// Allow or deny.
    pub effect: Effect,
    /// The rule that decided; `None` for the default deny.
    pub rule: Option<String>,
    /// A matching rule failed only for want of a principal.
    pub needs_authentication: bool,
}

impl CompiledPolicy {
    /// First applying rule wins; default deny.
    pub fn evaluate(&self, facts: &RequestFacts<'_>, principal: Option<&Principal>) -> Decision {
        let mut needs_authentication = false;
        for rule in &self.rules {
            if !rule.matcher.matches(facts) {
                continue;
            }
            let r = &rule.require;
            let wants_principal =
                r.authenticated || !r.any_roles.is_empty() || !r.all_roles.is_empty();
            let holds = match principal {
                None => r.anonymous || !wants_principal,
                Some(p) => {
                    (r.any_roles.is_empty() || r.any_roles.iter().any(|x| p.has_role(x)))
                        && r.all_roles.iter().all(|x| p.has_role(x))
                }
            };
            if holds {
                return Decision {
                    effect: rule.effect,
                    rule: Some(rule.id.clone()),
                    needs_authentication: false,
                };
            }
            needs_authentication |= principal.is_none() && wants_principal;
        }
        Decision {
            effect: Effect::Deny,
            rule: None,
            needs_authentication,
        }
    }
}

impl Match {
    fn matches(&self, facts: &RequestFacts<'_>) -> bool {
        (self.methods.is_empty() || self.methods.iter().any(|m| m == facts.method.as_str()))
            && (self.hosts.is_empty()
                || facts
                    .host
                    .is_some_and(|h| self.hosts.iter().any(|x| x.eq_ignore_ascii_case(h))))
            && (self.paths.is_empty() || self.paths.iter().any(|p| path_matches(p, facts.path)))
    }
}

fn path_matches(pattern: &str, path: &str) -> bool {
    let mut want = pattern.split('/');
    let mut have = path.split('/');
    loop {
        match (want.next(), have.next()) {
            (Some("**"), _) => return true,
            (None, None) => return true,
            (Some(w), Some(h))
                if w == h
                    || w == "*"
                    || (w.starts_with('{') && w.ends_with('}') && !h.is_empty()) => {}
            _ => return false,
        }
    }
}

/// What the policy sees of a request (stand-in for `edge_auth::policy::RequestFacts`).
#[derive(Debug, Clone)]
pub struct RequestFacts<'a> {
    /// The method.
    pub method: &'a Method,
    /// The host, without port.
    pub host: Option<&'a str>,
    /// The raw path.
    pub path: &'a str,
    /// The client address.
    pub client_ip: Option<IpAddr>,
    /// ISO 3166-1 alpha-2 country, when the caller knows it.
    pub country: Option<&'a str>,
    /// The request headers.
    pub headers: &'a HeaderMap,
}

impl<'a> RequestFacts<'a> {
    /// Facts from the request head.
    pub fn from_parts(parts: &'a Parts) -> Self {
        let host = parts
            .uri
            .host()
            .or_else(|| {
                parts
                    .headers
                    .get(header::HOST)
                    .and_then(|h| h.to_str().ok())
            })
            .map(|h| match h.rsplit_once(':') {
                Some((name, port)) if !port.contains(']') => name,
                _ => h,
            });
        Self {
            method: &parts.method,
            host,
            path: parts.uri.path(),
            client_ip: None,
            country: None,
            headers: &parts.headers,
        }
    }

    /// Sets the client address.
    #[must_use]
    pub fn with_client_ip(mut self, ip: IpAddr) -> Self {
        self.client_ip = Some(ip);
        self
    }
}

// ----- roles (stand-in for edge_auth::oidc::RoleMapper) -----

/// Roles from one top-level claim (array or space-separated string).
#[derive(Debug, Clone)]
pub struct RoleMapper {
    /// The claim name.
    pub claim: String,
}

impl Default for RoleMapper {
    fn default() -> Self {
        Self {
            claim: "roles".into(),
        }
    }
}

impl RoleMapper {
    /// The principal the claims describe.
    pub fn map(&self, claims: &Map<String, Value>) -> Principal {
        let roles: Vec<String> = match claims.get(&self.claim) {
            Some(Value::Array(values)) => values
                .iter()
                .filter_map(Value::as_str)
                .map(str::to_owned)
                .collect(),
            Some(Value::String(s)) => s
                .split(' ')
                .filter(|r| !r.is_empty())
                .map(str::to_owned)
                .collect(),
            _ => Vec::new(),
        };
        let mut principal = Principal::default().with_roles(roles);
        principal.subject = claims.get("sub").and_then(Value::as_str).map(str::to_owned);
        principal.issuer = claims.get("iss").and_then(Value::as_str).map(str::to_owned);
        principal
    }
}

// ----- the Gate contract -----

/// One trusted issuer.
#[derive(Debug, Clone)]
pub struct IssuerConfig {
    /// The `iss` value, exactly.
    pub issuer: String,
    /// Accepted audiences; one must be in `aud`.
    pub audiences: Vec<String>,
    /// The JWKS URL; `None` = discovery at `{issuer}/.well-known/openid-configuration`.
    pub jwks_uri: Option<String>,
    /// Accepted algorithms.
    pub algorithms: Vec<Algorithm>,
    /// Claims to roles.
    pub roles: RoleMapper,
}

impl IssuerConfig {
    /// An issuer with RS256, default role mapping and discovery.
    pub fn new(issuer: impl Into<String>) -> Self {
        Self {
            issuer: issuer.into(),
            audiences: Vec::new(),
            jwks_uri: None,
            algorithms: vec![Algorithm::RS256],
            roles: RoleMapper::default(),
        }
    }
}

/// The Gate's configuration.
#[derive(Debug, Clone)]
pub struct GateConfig {
    /// Trusted issuers.
    pub issuers: Vec<IssuerConfig>,
    /// Where tokens are looked for.
    pub sources: Vec<TokenSource>,
    /// The `realm` of challenges.
    pub realm: String,
    /// Route policy.
    pub policy: CompiledPolicy,
}

impl GateConfig {
    /// A configuration with this policy, no issuers, bearer tokens, realm `edge-auth`.
    pub fn new(policy: CompiledPolicy) -> Self {
        Self {
            issuers: Vec::new(),
            sources: vec![TokenSource::AuthorizationBearer],
            realm: "edge-auth".into(),
            policy,
        }
    }
}

/// Why the gate wants a document fetched.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum FetchReason {
    /// No keys yet.
    ColdStart,
    /// A token named a key we do not have.
    UnknownKid,
    /// The keys are about to go stale.
    RefreshAhead,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum PlanKind {
    Discovery,
    Jwks,
}

/// A document the caller should fetch and feed back.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FetchPlan {
    issuer: String,
    url: String,
    kind: PlanKind,
    reason: FetchReason,
}

impl FetchPlan {
    /// The issuer the document is for.
    pub fn issuer(&self) -> &str {
        &self.issuer
    }
    /// What to GET.
    pub fn url(&self) -> &str {
        &self.url
    }
    /// Why.
    pub fn reason(&self) -> FetchReason {
        self.reason
    }
}

/// What to do with a request.
#[derive(Debug)]
pub enum Outcome {
    /// Let it through.
    Allow {
        /// Who; `None` on anonymous routes.
        principal: Option<Principal>,
        /// Why.
        decision: Decision,
    },
    /// Answer with the rejection.
    Deny(Rejection),
    /// Fetch this, feed it back, check again.
    FetchKeys(FetchPlan),
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum RejectionKind {
    MissingToken,
    InvalidToken,
    Forbidden,
}

/// A denial, as an RFC 6750 §3 response.
#[derive(Debug, Clone)]
pub struct Rejection {
    kind: RejectionKind,
    realm: String,
    /// Kept for logs, never sent.
    reason: String,
}

impl Rejection {
    /// The reason, for logs (never on the wire).
    pub fn reason(&self) -> &str {
        &self.reason
    }

    /// 401 / 403 with `WWW-Authenticate` and `Cache-Control: no-store`.
    pub fn to_response(&self) -> Response<()> {
        let realm = self.realm.replace(['"', '\\'], "");
        let (status, challenge) = match self.kind {
            RejectionKind::MissingToken => (
                StatusCode::UNAUTHORIZED,
                format!(r#"Bearer realm="{realm}""#),
            ),
            RejectionKind::InvalidToken => (
                StatusCode::UNAUTHORIZED,
                format!(
                    r#"Bearer realm="{realm}", error="invalid_token", error_description="the access token is invalid""#
                ),
            ),
            RejectionKind::Forbidden => (
                StatusCode::FORBIDDEN,
                format!(r#"Bearer realm="{realm}", error="insufficient_scope""#),
            ),
        };
        let mut response = Response::new(());
        *response.status_mut() = status;
        if let Ok(value) = HeaderValue::from_str(&challenge) {
            response
                .headers_mut()
                .insert(header::WWW_AUTHENTICATE, value);
        }
        response
            .headers_mut()
            .insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
        response
    }
}

#[derive(Debug, Default)]
struct KeyState {
    jwks_uri: Option<String>,
    kids: Option<HashSet<String>>,
    fetched_at: Option<OffsetDateTime>,
    max_age: Option<Duration>,
    last_failure: Option<OffsetDateTime>,
    refresh_planned_at: Option<OffsetDateTime>,
}

/// The gate (stand-in).
#[derive(Debug)]
pub struct Gate {
    config: GateConfig,
    state: Mutex<HashMap<String, KeyState>>,
}

impl Gate {
    /// Builds a gate.
    ///
    /// # Errors
    /// When an issuer has no audience or no algorithm.
    pub fn new(config: GateConfig) -> Result<Gate, edge_auth::Error> {
        let mut state = HashMap::new();
        for issuer in &config.issuers {
            if issuer.audiences.is_empty() || issuer.algorithms.is_empty() {
                return Err(failure(format!(
                    "issuer `{}` needs an audience and an algorithm",
                    issuer.issuer
                )));
            }
            state.insert(
                issuer.issuer.clone(),
                KeyState {
                    jwks_uri: issuer.jwks_uri.clone(),
                    ..KeyState::default()
                },
            );
        }
        Ok(Gate {
            config,
            state: Mutex::new(state),
        })
    }

    fn reject(&self, kind: RejectionKind, reason: impl Into<String>) -> Outcome {
        Outcome::Deny(Rejection {
            kind,
            realm: self.config.realm.clone(),
            reason: reason.into(),
        })
    }

    /// One request: extract -> keys -> validate (NOT the signature) -> roles -> policy.
    pub fn check(&self, parts: &Parts, facts: &RequestFacts<'_>, now: OffsetDateTime) -> Outcome {
        let token = match bearer(parts) {
            Ok(token) => token,
            Err(reason) => return self.reject(RejectionKind::InvalidToken, reason),
        };
        let Some(token) = token else {
            let decision = self.config.policy.evaluate(facts, None);
            return match decision.effect {
                Effect::Allow => Outcome::Allow {
                    principal: None,
                    decision,
                },
                Effect::Deny if decision.needs_authentication => {
                    self.reject(RejectionKind::MissingToken, "no token")
                }
                Effect::Deny => self.reject(RejectionKind::Forbidden, "denied by policy"),
            };
        };
        let (header, claims) = match decode_unverified(token) {
            Some(decoded) => decoded,
            None => return self.reject(RejectionKind::InvalidToken, "malformed token"),
        };
        let Some(issuer) = claims
            .get("iss")
            .and_then(Value::as_str)
            .and_then(|iss| self.config.issuers.iter().find(|i| i.issuer == iss))
        else {
            return self.reject(RejectionKind::InvalidToken, "unknown issuer");
        };
        let alg = header
            .get("alg")
            .and_then(Value::as_str)
            .and_then(|a| a.parse::<Algorithm>().ok());
        if !alg.is_some_and(|a| issuer.algorithms.contains(&a)) {
            return self.reject(RejectionKind::InvalidToken, "algorithm not allowed");
        }
        let audience_ok = match claims.get("aud") {
            Some(Value::String(aud)) => issuer.audiences.contains(aud),
            Some(Value::Array(auds)) => auds
                .iter()
                .filter_map(Value::as_str)
                .any(|a| issuer.audiences.iter().any(|x| x == a)),
            _ => false,
        };
        if !audience_ok {
            return self.reject(RejectionKind::InvalidToken, "audience not accepted");
        }
        let time_claim = |name: &str| {
            claims
                .get(name)
                .and_then(Value::as_i64)
                .and_then(|t| OffsetDateTime::from_unix_timestamp(t).ok())
        };
        match time_claim("exp") {
            Some(exp) if now <= exp + LEEWAY => {}
            _ => return self.reject(RejectionKind::InvalidToken, "expired or no exp"),
        }
        if time_claim("nbf").is_some_and(|nbf| now + LEEWAY < nbf) {
            return self.reject(RejectionKind::InvalidToken, "not yet valid");
        }
        let kid = header
            .get("kid")
            .and_then(Value::as_str)
            .unwrap_or_default();
        if let Some(outcome) = self.keys_for(issuer, kid, now) {
            return outcome;
        }
        // STAND-IN: this is where the real Gate verifies the signature with ring.
        let principal = issuer.roles.map(&claims);
        let decision = self.config.policy.evaluate(facts, Some(&principal));
        match decision.effect {
            Effect::Allow => Outcome::Allow {
                principal: Some(principal),
                decision,
            },
            Effect::Deny => self.reject(RejectionKind::Forbidden, "denied by policy"),
        }
    }

    /// `None` when `kid` is a known key of `issuer`, else what to do.
    fn keys_for(&self, issuer: &IssuerConfig, kid: &str, now: OffsetDateTime) -> Option<Outcome> {
        let mut all = self.state.lock().unwrap_or_else(PoisonError::into_inner);
        let state = all.entry(issuer.issuer.clone()).or_default();
        let plan = |kind, url: String, reason| {
            Some(Outcome::FetchKeys(FetchPlan {
                issuer: issuer.issuer.clone(),
                url,
                kind,
                reason,
            }))
        };
        let failed_recently = state
            .last_failure
            .is_some_and(|t| now - t < FAILURE_BACKOFF);
        let Some(jwks_uri) = state.jwks_uri.clone() else {
            if failed_recently {
                return Some(
                    self.reject(RejectionKind::InvalidToken, "issuer metadata unavailable"),
                );
            }
            let url = format!(
                "{}/.well-known/openid-configuration",
                issuer.issuer.trim_end_matches('/')
            );
            return plan(PlanKind::Discovery, url, FetchReason::ColdStart);
        };
        let Some(kids) = &state.kids else {
            if failed_recently {
                return Some(self.reject(RejectionKind::InvalidToken, "keys unavailable"));
            }
            return plan(PlanKind::Jwks, jwks_uri, FetchReason::ColdStart);
        };
        if kids.contains(kid) {
            return None;
        }
        let last = state.fetched_at.max(state.last_failure);
        if last.is_none_or(|t| now - t >= UNKNOWN_KID_COOLDOWN) {
            return plan(PlanKind::Jwks, jwks_uri, FetchReason::UnknownKid);
        }
        Some(self.reject(RejectionKind::InvalidToken, "unknown kid"))
    }

    /// Feeds the response to `plan`.
    ///
    /// # Errors
    /// On a non-2xx status or an unusable document; the failure is recorded.
    pub fn apply_fetch_response(
        &self,
        plan: &FetchPlan,
        status: StatusCode,
        headers: &HeaderMap,
        body: &[u8],
        now: OffsetDateTime,
    ) -> Result<(), edge_auth::Error> {
        let result = Self::parse(plan, status, headers, body);
        let mut all = self.state.lock().unwrap_or_else(PoisonError::into_inner);
        let state = all.entry(plan.issuer.clone()).or_default();
        match result {
            Ok(Parsed::JwksUri(uri)) => {
                state.jwks_uri = Some(uri);
                state.last_failure = None;
                Ok(())
            }
            Ok(Parsed::Kids(kids, max_age)) => {
                state.kids = Some(kids);
                state.fetched_at = Some(now);
                state.max_age = max_age;
                state.last_failure = None;
                state.refresh_planned_at = None;
                Ok(())
            }
            Err(detail) => {
                state.last_failure = Some(now);
                Err(failure(format!(
                    "{} from `{}`: {detail}",
                    plan.kind.name(),
                    plan.url
                )))
            }
        }
    }

    fn parse(
        plan: &FetchPlan,
        status: StatusCode,
        headers: &HeaderMap,
        body: &[u8],
    ) -> Result<Parsed, String> {
        if !status.is_success() {
            return Err(format!("status {status}"));
        }
        let doc: Value = serde_json::from_slice(body).map_err(|e| format!("not JSON: {e}"))?;
        match plan.kind {
            PlanKind::Discovery => {
                // OIDC Discovery §4.3: the document's issuer must be the one we asked about.
                if doc.get("issuer").and_then(Value::as_str) != Some(plan.issuer.as_str()) {
                    return Err("discovery `issuer` does not match".into());
                }
                doc.get("jwks_uri")
                    .and_then(Value::as_str)
                    .map(|u| Parsed::JwksUri(u.to_owned()))
                    .ok_or_else(|| "no `jwks_uri`".into())
            }
            PlanKind::Jwks => {
                let keys = doc
                    .get("keys")
                    .and_then(Value::as_array)
                    .ok_or("no `keys` array")?;
                let kids = keys
                    .iter()
                    .filter_map(|k| k.get("kid")?.as_str().map(str::to_owned))
                    .collect();
                Ok(Parsed::Kids(kids, max_age(headers)))
            }
        }
    }

    /// The fetch for `plan` failed.
    pub fn apply_fetch_failure(&self, plan: &FetchPlan, reason: &str, now: OffsetDateTime) {
        eprintln!(
            "gate stand-in: {} fetch from `{}` failed: {reason}",
            plan.kind.name(),
            plan.url
        );
        let mut all = self.state.lock().unwrap_or_else(PoisonError::into_inner);
        all.entry(plan.issuer.clone()).or_default().last_failure = Some(now);
    }

    /// Refresh-ahead: plans to run in the background now (at 80 % of the TTL).
    pub fn poll(&self, now: OffsetDateTime) -> Vec<FetchPlan> {
        let mut all = self.state.lock().unwrap_or_else(PoisonError::into_inner);
        let mut plans = Vec::new();
        for (issuer, state) in all.iter_mut() {
            let (Some(uri), Some(fetched_at)) = (&state.jwks_uri, state.fetched_at) else {
                continue;
            };
            let ttl = state.max_age.unwrap_or(DEFAULT_MAX_AGE);
            let due = now - fetched_at >= ttl * 0.8;
            let pending = state
                .refresh_planned_at
                .is_some_and(|t| now - t < REFRESH_RETRY);
            if due && !pending {
                state.refresh_planned_at = Some(now);
                plans.push(FetchPlan {
                    issuer: issuer.clone(),
                    url: uri.clone(),
                    kind: PlanKind::Jwks,
                    reason: FetchReason::RefreshAhead,
                });
            }
        }
        plans
    }
}

enum Parsed {
    JwksUri(String),
    Kids(HashSet<String>, Option<Duration>),
}

impl PlanKind {
    fn name(self) -> &'static str {
        match self {
            PlanKind::Discovery => "discovery document",
            PlanKind::Jwks => "JWKS",
        }
    }
}

fn max_age(headers: &HeaderMap) -> Option<Duration> {
    let value = headers.get(header::CACHE_CONTROL)?.to_str().ok()?;
    value.split(',').find_map(|d| {
        let seconds = d.trim().strip_prefix("max-age=")?.parse::<i64>().ok()?;
        Some(Duration::seconds(seconds))
    })
}

fn bearer(parts: &Parts) -> Result<Option<&str>, &'static str> {
    let mut values = parts.headers.get_all(header::AUTHORIZATION).iter();
    let Some(value) = values.next() else {
        return Ok(None);
    };
    if values.next().is_some() {
        return Err("several authorization headers");
    }
    let value = value
        .to_str()
        .map_err(|_| "authorization header is not ASCII")?;
    match value.split_once(' ') {
        Some((scheme, token)) if scheme.eq_ignore_ascii_case("bearer") && !token.is_empty() => {
            Ok(Some(token))
        }
        _ => Ok(None),
    }
}

fn decode_unverified(token: &str) -> Option<(Map<String, Value>, Map<String, Value>)> {
    let mut parts = token.split('.');
    let (header, payload, _signature) = (parts.next()?, parts.next()?, parts.next()?);
    if parts.next().is_some() {
        return None;
    }
    let json = |segment: &str| match serde_json::from_slice(&URL_SAFE_NO_PAD.decode(segment).ok()?)
        .ok()?
    {
        Value::Object(map) => Some(map),
        _ => None,
    };
    Some((json(header)?, json(payload)?))
}
