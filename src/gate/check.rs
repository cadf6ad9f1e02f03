//! The pipeline of [`Gate::check`]: token extraction (RFC 6750), issuer
//! selection by the unverified `iss`, key lookup, validation (RFC 7519,
//! RFC 8725), role mapping and the policy.

use std::sync::Arc;

use crate::jwt::Algorithm;
use http::request::Parts;
#[cfg(feature = "dpop")]
use serde_json::{Map, Value};
use time::OffsetDateTime;

use super::cache::Key;
use super::limits::{Staged, limit_unavailable, limited};
use super::reload::Authz;
use super::select::Selected;
use super::{Gate, Issuer, Outcome};
use crate::extract;
use crate::jwk::{FetchKind, FetchPlan, KeyLookup, KeySet};
use crate::jwt::{JwtError, Unverified};
use crate::oidc::Principal;
use crate::policy::RequestFacts;
use crate::response::Rejection;

/// Why key selection did not hand the validator a key set.
enum KeyStep {
    /// The token is refused (unknown key, or a validation error on the way).
    Invalid(JwtError),
    /// The gate answers otherwise: fetch keys, wait, or 503.
    Stop(Box<Authn>),
}

impl KeyStep {
    /// Boxed: the answer is rare (cold cache) and large.
    fn stop(authn: Authn) -> Self {
        Self::Stop(Box::new(authn))
    }
}

/// Result of the authentication stage.
enum Authn {
    Principal(Box<Principal>),
    Fetch(FetchPlan),
    Reject(Rejection),
}

impl Gate {
    /// Checks one request at time `now`: token extraction, issuer
    /// selection by the token's unverified `iss`, key lookup, validation,
    /// role mapping, then the policy with `facts`.
    ///
    /// A request without a token is evaluated anonymously (anonymous
    /// routes pass; others get 401 with a bare challenge). A request with a
    /// token that fails validation gets 401 `invalid_token` even on an
    /// anonymous route: a client sending a bad token should learn of it.
    /// Likewise a token on an anonymous route waits for its issuer's keys
    /// ([`Outcome::FetchKeys`], or 503 when they are unavailable) instead of
    /// passing as anonymous: an origin must never receive a token the gate
    /// has not verified.
    ///
    /// With CORS settings in the policy, a preflight (`OPTIONS` with
    /// `Origin` and `Access-Control-Request-Method`) is answered without a
    /// token: [`Outcome::Preflight`] when the route allows it, else
    /// [`Outcome::Deny`] (403, no CORS headers). The gate's own rejections
    /// carry the route's CORS headers (`Vary: Origin`, and
    /// `Access-Control-Allow-Origin` for an allowed origin); for an allowed
    /// request, add [`Gate::cors_headers`] to the upstream's response.
    ///
    /// The policy and role mappings are read once, at the start: a check
    /// finishes on them even when [`Gate::replace_policy`] swaps them
    /// meanwhile.
    pub fn check(&self, parts: &Parts, facts: &RequestFacts<'_>, now: OffsetDateTime) -> Outcome {
        match self.check_inner(parts, facts, now, false) {
            Staged::Done(outcome) => outcome,
            // Not produced without deferring; decided here against the
            // gate's own store should that ever change. Without `policy`
            // there are no limits at all: the constant keeps the limit
            // machinery out of that build, failing closed.
            Staged::Limits(pending) if cfg!(feature = "policy") => {
                self.run_limits(pending, parts, facts, now)
            }
            Staged::Limits(_) => Outcome::Deny(Rejection::unavailable(
                "rate limits need the `policy` feature",
            )),
        }
    }

    pub(super) fn check_inner(
        &self,
        parts: &Parts,
        facts: &RequestFacts<'_>,
        now: OffsetDateTime,
        defer: bool,
    ) -> Staged {
        if let Some(published) = &self.metadata
            && (parts.method == http::Method::GET || parts.method == http::Method::HEAD)
            && parts.uri.path() == published.path
        {
            let head = parts.method == http::Method::HEAD;
            return Staged::Done(Outcome::Preflight(published.response(head)));
        }
        let authz = self.authz.load();
        if let Some(outcome) = self.check_preflight(parts, facts, &authz.policy) {
            return Staged::Done(outcome);
        }
        match self.check_request(parts, facts, now, defer, &authz) {
            Staged::Done(Outcome::Deny(rejection)) => Staged::Done(Outcome::Deny(
                self.cors_rejection(rejection, parts, facts, &authz.policy),
            )),
            staged => staged,
        }
    }

    fn check_request(
        &self,
        parts: &Parts,
        facts: &RequestFacts<'_>,
        now: OffsetDateTime,
        defer: bool,
        authz: &Arc<Authz>,
    ) -> Staged {
        // A `max_token_size` raised above the extraction default (Entra
        // tokens with many groups) is honoured; a lowered one is left to the
        // validator, which answers 401 `invalid_token` rather than 400.
        let limit = self.max_token_size.max(extract::DEFAULT_MAX_TOKEN_LEN);
        let token = match extract::extract_with(parts, &self.sources, limit) {
            Ok(token) => token,
            Err(e) => {
                return Staged::Done(Outcome::Deny(self.realm(Rejection::invalid_request(&e))));
            }
        };
        // RFC 9449 §7.1: `Authorization: DPoP` and its proof, when DPoP is on.
        #[cfg(feature = "dpop")]
        if let Some(dpop) = &self.dpop {
            let creds = match crate::dpop::extract(parts) {
                Ok(creds) => creds,
                Err(e) => return Staged::Done(Outcome::Deny(self.realm(dpop.rejection(&e)))),
            };
            if let Some(creds) = creds {
                if token.is_some() {
                    let e = crate::dpop::DpopError::InvalidRequest {
                        reason: "a token presented both with dpop and in another way".to_owned(),
                    };
                    return Staged::Done(Outcome::Deny(self.realm(dpop.rejection(&e))));
                }
                let principal = match self.authenticate(
                    creds.access_token,
                    Some(creds.proof),
                    (parts, facts),
                    now,
                    authz,
                ) {
                    Authn::Principal(p) => p,
                    Authn::Fetch(plan) => return Staged::Done(Outcome::FetchKeys(plan)),
                    Authn::Reject(r) => return Staged::Done(Outcome::Deny(self.realm(r))),
                };
                return self.authorize(facts, Some(principal), now, defer, authz);
            }
        }
        let principal = match token {
            None => None,
            Some(token) => {
                match self.authenticate(token.as_str(), None, (parts, facts), now, authz) {
                    Authn::Principal(p) => Some(p),
                    Authn::Fetch(plan) => return Staged::Done(Outcome::FetchKeys(plan)),
                    Authn::Reject(r) => return Staged::Done(Outcome::Deny(self.realm(r))),
                }
            }
        };
        self.authorize(facts, principal, now, defer, authz)
    }

    /// The gate's own challenge parameters: the realm, and the RFC 9728
    /// metadata URL when the gate publishes one.
    pub(super) fn realm(&self, rejection: Rejection) -> Rejection {
        let rejection = rejection.with_realm(self.realm.as_str());
        match &self.metadata {
            Some(published) => rejection.with_resource_metadata(published.url.as_str()),
            None => rejection,
        }
    }

    /// Authenticates an access token; `proof` is its DPoP proof when it
    /// came as `Authorization: DPoP` (checked once the token verifies, so
    /// that a key fetch does not spend the proof's `jti`). The facts carry
    /// the client certificate of a certificate-bound token (RFC 8705).
    fn authenticate(
        &self,
        bytes: &str,
        proof: Option<&str>,
        (parts, facts): (&Parts, &RequestFacts<'_>),
        now: OffsetDateTime,
        authz: &Authz,
    ) -> Authn {
        #[cfg(not(feature = "dpop"))]
        let _ = (proof, parts);
        // An opaque token (not a JWS compact serialization) goes to the
        // introspecting issuer, if there is one (RFC 7662).
        #[cfg(feature = "introspect")]
        if !jws_shaped(bytes)
            && let Some(issuer) = self.issuers.iter().find(|i| i.introspector.is_some())
        {
            return self.introspect(issuer, bytes, proof, (parts, facts), now, authz);
        }
        // Parsed once, whatever the number of issuers; each issuer's own
        // size limit is checked again below.
        let token = match Unverified::parse(bytes, self.max_token_size) {
            Ok(token) => token,
            Err(e) => return Authn::Reject(Rejection::for_jwt_error(&e)),
        };
        let issuer = match self.select_issuer(&token) {
            Ok(issuer) => issuer,
            Err(r) => return Authn::Reject(*r),
        };
        // `alg` against this issuer's allow-list before any key is looked
        // up (RFC 8725, STYLE.md 8): an `alg` the issuer does not accept
        // never reaches the cache, so it neither fetches nor names the
        // issuer.
        let alg = match token.check_alg(&issuer.validator) {
            Ok(alg) => alg,
            Err(e) => return Authn::Reject(Rejection::for_jwt_error(&e)),
        };
        let (keys, version) = match self.keys_for(issuer, token.kid(), alg, now) {
            Ok(keys) => keys,
            Err(KeyStep::Stop(authn)) => return *authn,
            Err(KeyStep::Invalid(e)) => return self.invalid(issuer, &e),
        };
        // A principal cached under other role mappers is not served.
        let version = authz.cache_version(version);
        // Everything above ran as without the cache (so a key set that
        // must be fetched or is gone answers the same); the cache stands in
        // for the verification only (see `gate::cache`).
        // With DPoP on, the binding is checked on every request: no cache.
        #[cfg(feature = "dpop")]
        let use_cache = self.dpop.is_none();
        #[cfg(not(feature = "dpop"))]
        let use_cache = true;
        // Certificate-bound tokens are never cached (see below), so a hit is
        // an unbound token; an issuer that requires binding skips the cache.
        let use_cache = use_cache && !issuer.config.certificate_bound;
        let cached = self
            .token_cache
            .as_ref()
            .filter(|_| use_cache)
            .map(|c| (c, Key::new(issuer.index, bytes)));
        if let Some((cache, key)) = &cached
            && let Some(principal) = cache.get(key, version, now)
        {
            return Authn::Principal(Box::new(Principal::clone(&principal)));
        }
        // The role mapper and the binding checks read a few members as a
        // map: build that in the validation pass itself, skipping the rest
        // (still read strictly); `Principal::claims` keeps the verified
        // text and reads it into a map only when asked. A verified claims
        // set that JSON allows but a map of `Value`s cannot hold (a number
        // beyond f64, a lone surrogate) is refused like any other
        // malformed claims set (the reader refuses both, so the lazy map
        // is never built from a set the validator did not read).
        let mapper = authz
            .roles
            .get(issuer.index)
            .unwrap_or(&issuer.config.roles);
        let claims = match token.verify_seeded(&issuer.validator, &keys, now, Selected(mapper)) {
            Ok(claims) => claims,
            Err(e) => return self.invalid(issuer, &e),
        };
        let window = claims.window();
        let selected = claims.typed();
        #[cfg(feature = "dpop")]
        if let Err(r) = self.check_sender(issuer, selected, bytes, proof, parts, now) {
            return Authn::Reject(*r);
        }
        // RFC 8705 §3: checked on every request, so a bound token stays out
        // of the cache.
        let bound = match self.check_certificate(issuer, selected, parts, facts) {
            Ok(bound) => bound,
            Err(r) => return Authn::Reject(*r),
        };
        let mut principal = mapper.map_verified(selected, || Arc::from(claims.payload_bytes()));
        if principal.issuer.is_none() {
            principal.issuer = Some(issuer.config.issuer.clone());
        }
        // `check_sender` verified the proof and its binding above.
        principal.sender_constrained = proof.is_some();
        if let Some((cache, key)) = cached.filter(|_| !bound) {
            cache.insert(key, version, window, Arc::new(principal.clone()));
        }
        Authn::Principal(Box::new(principal))
    }

    /// Authenticates an opaque token by introspection: the cached answer,
    /// or a [`FetchPlan`] of kind `Introspection` (the driver POSTs its
    /// request and applies the answer like a key fetch), or 503 while the
    /// endpoint backs off.
    #[cfg(feature = "introspect")]
    fn introspect(
        &self,
        issuer: &Issuer,
        bytes: &str,
        proof: Option<&str>,
        (parts, facts): (&Parts, &RequestFacts<'_>),
        now: OffsetDateTime,
        authz: &Authz,
    ) -> Authn {
        #[cfg(not(feature = "dpop"))]
        let _ = (proof, parts);
        use crate::introspect::{Introspector, Lookup};
        let name = issuer.config.issuer.as_str();
        let lookup = match issuer.introspector() {
            Some(mut introspector) => introspector.lookup(bytes, now),
            None => return Authn::Reject(Rejection::invalid_token("the token is not a jwt")),
        };
        let token = match lookup {
            Ok(Lookup::Active(token)) => token,
            Ok(Lookup::Inactive { reason }) => {
                return Authn::Reject(Rejection::invalid_token(&*reason).with_issuer(name));
            }
            Ok(Lookup::Fetch(request)) => {
                return Authn::Fetch(FetchPlan::for_introspection(name, request));
            }
            Ok(Lookup::Unavailable { retry_at }) => {
                let r =
                    Rejection::unavailable("the issuer's introspection endpoint is unavailable")
                        .with_issuer(name);
                return Authn::Reject(retry_after(r, Some(retry_at), now));
            }
            Err(e) => {
                return Authn::Reject(
                    Rejection::unavailable(format!("introspection: {e}")).with_issuer(name),
                );
            }
        };
        // DPoP binding (`cnf.jkt`) read from the introspection answer, as
        // RFC 9449 §6.2 provides.
        #[cfg(feature = "dpop")]
        if let Err(r) = self.check_sender(issuer, &token.claims, bytes, proof, parts, now) {
            return Authn::Reject(*r);
        }
        // RFC 8705 §3.2: a certificate-bound answer (`cnf.x5t#S256`) needs
        // the client certificate the driver saw.
        if let Err(r) = self.check_certificate(issuer, &token.claims, parts, facts) {
            return Authn::Reject(*r);
        }
        let principal = match authz.roles.get(issuer.index) {
            Some(mapper) => Introspector::principal(&token, mapper, Some(name)),
            None => Introspector::principal(&token, &issuer.config.roles, Some(name)),
        };
        Authn::Principal(Box::new(principal))
    }

    /// DPoP (RFC 9449): the proof of a DPoP-presented token and its
    /// `cnf.jkt` binding; a bound token presented as Bearer, or a Bearer
    /// token of a sender-constrained issuer, is refused.
    #[cfg(feature = "dpop")]
    fn check_sender(
        &self,
        issuer: &Issuer,
        claims: &Map<String, Value>,
        access_token: &str,
        proof: Option<&str>,
        parts: &Parts,
        now: OffsetDateTime,
    ) -> Result<(), Box<Rejection>> {
        use crate::dpop::{DpopError, ProofRequest, check_binding, target_uri, verify_proof};
        let Some(dpop) = &self.dpop else {
            return Ok(());
        };
        let refuse =
            |e: &DpopError| Box::new(dpop.rejection(e).with_issuer(issuer.config.issuer.as_str()));
        let verified = match proof {
            Some(proof) => {
                let uri = target_uri(parts, &dpop.scheme).map_err(|e| refuse(&e))?;
                let request =
                    ProofRequest::new(&parts.method, &uri).with_access_token(access_token);
                // A poisoned lock only means another request panicked
                // mid-check; the store itself stays consistent.
                let mut replay = dpop
                    .replay
                    .lock()
                    .unwrap_or_else(std::sync::PoisonError::into_inner);
                Some(
                    verify_proof(proof, &dpop.config, &request, &mut *replay, now)
                        .map_err(|e| refuse(&e))?,
                )
            }
            None if issuer.config.sender_constrained => {
                return Err(refuse(&DpopError::Binding {
                    reason: format!(
                        "issuer `{}` requires sender-constrained tokens; bearer refused",
                        issuer.config.issuer
                    ),
                }));
            }
            None => None,
        };
        check_binding(claims, verified.as_ref()).map_err(|e| refuse(&e))
    }

    /// The rejection for a token that failed validation once its issuer's
    /// keys were asked for.
    fn invalid(&self, issuer: &Issuer, error: &JwtError) -> Authn {
        Authn::Reject(Rejection::for_jwt_error(error).with_issuer(issuer.config.issuer.as_str()))
    }

    /// The issuer's current key set for a token with this `kid` and `alg`
    /// and its version, or what to do instead (fetch, wait, refuse). The
    /// lock is released before the signature is verified.
    fn keys_for(
        &self,
        issuer: &Issuer,
        kid: Option<&str>,
        alg: Algorithm,
        now: OffsetDateTime,
    ) -> Result<(Arc<KeySet>, u64), KeyStep> {
        // The version is read under the same lock as the keys: the pair
        // names the set the signature is verified with.
        let (lookup, version) = {
            let mut keys = issuer.lock();
            let lookup = keys.lookup(kid, alg, now);
            (lookup, keys.key_set_version())
        };
        let unavailable = |what: &str, retry_at| {
            let rejection = Rejection::unavailable(what).with_issuer(issuer.config.issuer.as_str());
            Err(KeyStep::stop(Authn::Reject(retry_after(
                rejection, retry_at, now,
            ))))
        };
        match lookup {
            KeyLookup::Keys(keys) => Ok((keys, version)),
            KeyLookup::Fetch(plan) => Err(KeyStep::stop(Authn::Fetch(plan))),
            KeyLookup::Unavailable {
                kind: FetchKind::Discovery,
                retry_at,
            } => unavailable("the issuer's discovery document is unavailable", retry_at),
            KeyLookup::Unavailable { retry_at, .. } => {
                unavailable("the issuer's keys are unavailable", retry_at)
            }
            KeyLookup::Unknown => Err(KeyStep::Invalid(JwtError::UnknownKey {
                kid: kid.map(str::to_owned),
                alg: format!("{alg:?}"),
            })),
        }
    }

    /// Chooses the issuer by the token's unverified `iss` (and `tid` for a
    /// template). With one issuer there is nothing to choose: the validator
    /// checks `iss` itself, and the claims are parsed only once.
    fn select_issuer(&self, token: &Unverified<'_>) -> Result<&Issuer, Box<Rejection>> {
        if let [only] = self.issuers.as_slice() {
            return Ok(only);
        }
        let iss = token
            .iss()
            .map_err(|e| Box::new(Rejection::for_jwt_error(e)))?
            .unwrap_or_default();
        let tid = token.tid().ok().flatten();
        self.issuers
            .iter()
            .find(|i| i.matches(iss, tid))
            .ok_or_else(|| {
                Box::new(Rejection::invalid_token(format!(
                    "issuer `{}` is not trusted",
                    for_audit(iss)
                )))
            })
    }

    fn authorize(
        &self,
        facts: &RequestFacts<'_>,
        principal: Option<Box<Principal>>,
        now: OffsetDateTime,
        defer: bool,
        authz: &Arc<Authz>,
    ) -> Staged {
        let policy = &authz.policy;
        #[cfg(feature = "policy")]
        let mut decision = policy.evaluate(facts, principal.as_deref());
        #[cfg(not(feature = "policy"))]
        let mut decision = crate::policy::Decision::authenticated_only(principal.as_deref());
        if decision.is_allowed() {
            if defer {
                return self.stage_limits(principal, decision, facts, authz);
            }
            if let Err(rejection) =
                self.rate_limit(policy, &mut decision, facts, principal.as_deref(), now)
            {
                return Staged::Done(Outcome::Deny(*rejection));
            }
            return Staged::Done(Outcome::Allow {
                principal,
                decision,
            });
        }
        // Without `policy` the only deny is `authenticated_only`'s (no
        // principal): the constant keeps the decision's reason serialisers
        // out of that build, with the same rejection.
        let rejection = if cfg!(feature = "policy") {
            Rejection::for_decision(&decision, principal.as_deref())
        } else {
            Rejection::for_authenticated_only()
        };
        #[cfg(feature = "dpop")]
        let rejection = match &self.dpop {
            // RFC 9449 §7.1: the route takes DPoP tokens only; say so.
            Some(dpop) if decision.sender_constraint_required() => {
                rejection.sender_constraint_required(principal.is_some(), dpop.algs())
            }
            _ => rejection,
        };
        Staged::Done(Outcome::Deny(self.realm(rejection)))
    }
}

impl Gate {
    /// Checks the deciding rule's rate limits in order, recording each in
    /// `decision.rate_limits`. The first limit that refuses stops the
    /// check (limits before it have counted the request): 429 naming it.
    fn rate_limit(
        &self,
        policy: &crate::policy::CompiledPolicy,
        decision: &mut crate::policy::Decision,
        facts: &RequestFacts<'_>,
        principal: Option<&Principal>,
        now: OffsetDateTime,
    ) -> Result<(), Box<Rejection>> {
        let (Some(store), Some(rule)) = (&self.limit_store, decision.rule_id.as_deref()) else {
            return Ok(());
        };
        // Rate limits are policy rules: without the `policy` feature there
        // are none, and the constant drops this step from the binary.
        if !cfg!(feature = "policy") {
            return Ok(());
        }
        let limits = policy.limits(rule);
        if limits.is_empty() {
            return Ok(());
        }
        let mut reports = Vec::with_capacity(limits.len());
        for limit in limits {
            match limit.check(store.as_ref(), rule, principal, facts.client_ip(), now) {
                Ok(report) if report.allowed => reports.push(report),
                Ok(report) => {
                    reports.push(report);
                    return Err(Box::new(limited(limit.id(), reports, rule, principal)));
                }
                Err(_) if self.limit_fail_open => return Ok(()),
                Err(e) => return Err(Box::new(limit_unavailable(limit.id(), &e, rule))),
            }
        }
        decision.rate_limits = reports;
        Ok(())
    }
}

/// A 503 announces when the next fetch will be tried (the end of the
/// backoff), so that clients and load balancers do not retry in a loop.
fn retry_after(
    rejection: Rejection,
    next_try: Option<OffsetDateTime>,
    now: OffsetDateTime,
) -> Rejection {
    match next_try {
        Some(at) if at > now => rejection.with_retry_after(at - now),
        _ => rejection,
    }
}

/// Whether `token` has the shape of a JWS compact serialization: three
/// non-empty base64url segments (a JWE has five; anything else is opaque).
#[cfg(feature = "introspect")]
fn jws_shaped(token: &str) -> bool {
    let mut segments = 0;
    for segment in token.split('.') {
        segments += 1;
        if segments > 3
            || segment.is_empty()
            || !segment
                .bytes()
                .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_')
        {
            return false;
        }
    }
    segments == 3
}

/// An unverified value from a token made fit for the audit record and
/// logs: control and non-ASCII characters escaped (no forged log lines),
/// clipped to 128 bytes (the token may be 8 KiB of `iss`).
fn for_audit(value: &str) -> String {
    crate::text::printable(value, 128)
}
