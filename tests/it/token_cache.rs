//! The gate's verified-token cache (`gate::cache`): hits skip verification,
//! and a hit is never served where full validation would refuse: past
//! `exp + leeway`, before `nbf - leeway`, past `max_age`, after the key left
//! the JWKS, for another issuer, or for a token that failed. A property test
//! runs random checks and rotations through a gate with the cache and one
//! without and requires the same decisions. Simulated clock and IdP; tokens
//! minted with ring directly, ES256 over P-256.

use crate::support as common;
use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD as B64;
use common::es256::Key;
use edge_auth::gate::{
    FetchPlan, Gate, GateConfig, GateError, IssuerConfig, Outcome, TokenCacheConfig,
    TokenCacheStats,
};
use edge_auth::jwt::Validation;
use edge_auth::oidc::{ClaimSource, Principal, RoleMapper};
use edge_auth::policy::{Policy, RequestFacts};
use edge_auth::response::RejectionKind;
use http::{HeaderMap, StatusCode};
use proptest::prelude::*;
use serde_json::{Value, json};
use time::macros::datetime;
use time::{Duration, OffsetDateTime};

const ISS: &str = "https://idp.example.com";
const ISS_B: &str = "https://b.example.com";
const AUD: &str = "api://orders";
const NOW: OffsetDateTime = datetime!(2026-11-23 10:00:00 UTC);
const LEEWAY: Duration = Duration::seconds(60);

fn jwks(keys: &[&Key]) -> Vec<u8> {
    json!({"keys": keys.iter().map(|k| k.jwk()).collect::<Vec<_>>()})
        .to_string()
        .into_bytes()
}

/// A reader's claims, valid from `NOW` for an hour; `extra` overrides.
fn claims(iss: &str, extra: Value) -> Value {
    let mut c = json!({
        "iss": iss, "aud": AUD, "sub": "user-1", "roles": ["reader"],
        "iat": NOW.unix_timestamp(), "exp": (NOW + Duration::hours(1)).unix_timestamp(),
    });
    if let (Some(c), Value::Object(extra)) = (c.as_object_mut(), extra) {
        c.extend(extra);
    }
    c
}

fn policy() -> Policy {
    Policy::from_json(
        &json!({"rules": [
            {"id": "admin", "match": {"paths": ["/admin/**"]}, "require": {"any_roles": ["admin"]}, "effect": "allow"},
            {"id": "orders", "match": {"paths": ["/orders/**"]}, "require": {"any_roles": ["reader", "admin"]}, "effect": "allow"},
        ]})
        .to_string(),
    )
    .unwrap()
}

fn issuer(iss: &str) -> IssuerConfig {
    IssuerConfig::new(iss, [AUD])
        .with_jwks_uri(format!("{iss}/jwks"))
        .with_roles(RoleMapper::new().with_source(ClaimSource::roles("roles").unwrap()))
}

fn config(issuers: Vec<IssuerConfig>) -> GateConfig {
    GateConfig::new(issuers).with_policy(policy().compile().unwrap())
}

fn cached_gate(issuers: Vec<IssuerConfig>, capacity: usize) -> Gate {
    Gate::new(config(issuers).with_token_cache(TokenCacheConfig::new(capacity))).unwrap()
}

fn check(gate: &Gate, path: &str, token: &str, now: OffsetDateTime) -> Outcome {
    let parts = http::Request::get(path)
        .header("host", "api.example.com")
        .header("authorization", format!("Bearer {token}"))
        .body(())
        .unwrap()
        .into_parts()
        .0;
    gate.check(&parts, &RequestFacts::from_parts(&parts), now)
}

fn serve_issuer(gate: &Gate, iss: &str, body: &[u8], now: OffsetDateTime) {
    let mut headers = HeaderMap::new();
    headers.insert("cache-control", "max-age=3600".parse().unwrap());
    gate.apply_jwks_response(iss, StatusCode::OK, &headers, body, now)
        .unwrap();
}

fn serve(gate: &Gate, body: &[u8], now: OffsetDateTime) {
    serve_issuer(gate, ISS, body, now);
}

fn serve_plan(gate: &Gate, plan: &FetchPlan, body: &[u8], now: OffsetDateTime) {
    let mut headers = HeaderMap::new();
    headers.insert("cache-control", "max-age=3600".parse().unwrap());
    gate.apply_fetch_response(plan, StatusCode::OK, &headers, body, now)
        .unwrap();
}

fn principal(outcome: Outcome) -> Box<Principal> {
    match outcome {
        Outcome::Allow {
            principal: Some(p), ..
        } => p,
        other => panic!("expected Allow with a principal, got {other:?}"),
    }
}

fn denied(outcome: Outcome) -> RejectionKind {
    match outcome {
        Outcome::Deny(r) => r.kind(),
        other => panic!("expected Deny, got {other:?}"),
    }
}

fn stats(gate: &Gate) -> TokenCacheStats {
    gate.token_cache_stats().expect("the token cache is on")
}

/// A gate with the cache on and `key`'s set loaded at `NOW`.
fn warm(capacity: usize, key: &Key) -> Gate {
    let g = cached_gate(vec![issuer(ISS)], capacity);
    serve(&g, &jwks(&[key]), NOW);
    g
}

#[test]
fn off_by_default() {
    let g = Gate::new(config(vec![issuer(ISS)])).unwrap();
    assert_eq!(g.token_cache_stats(), None);
}

#[test]
fn zero_capacity_is_a_config_error() {
    let err = Gate::new(config(vec![issuer(ISS)]).with_token_cache(TokenCacheConfig::new(0)))
        .unwrap_err();
    assert!(matches!(err, GateError::Config { .. }), "{err}");
    assert_eq!(
        err.to_string(),
        "invalid gate configuration: token cache capacity must be positive"
    );
}

#[test]
fn a_hit_skips_verification_and_gives_the_same_principal() {
    let k = Key::new("k1");
    let g = warm(16, &k);
    let token = k.sign(&claims(ISS, json!({})));
    let first = principal(check(&g, "/orders/1", &token, NOW));
    let s = stats(&g);
    assert_eq!((s.hits, s.misses, s.inserts, s.len), (0, 1, 1, 1));
    let second = principal(check(&g, "/orders/1", &token, NOW + Duration::seconds(5)));
    assert_eq!(first, second);
    let s = stats(&g);
    assert_eq!((s.hits, s.misses, s.inserts, s.len), (1, 1, 1, 1));
}

#[test]
fn policy_is_evaluated_on_every_hit() {
    let k = Key::new("k1");
    let g = warm(16, &k);
    let token = k.sign(&claims(ISS, json!({})));
    principal(check(&g, "/orders/1", &token, NOW));
    // Served from the cache, refused by the policy all the same.
    assert_eq!(
        denied(check(&g, "/admin/x", &token, NOW)),
        RejectionKind::InsufficientScope
    );
    assert_eq!(stats(&g).hits, 1);
}

#[test]
fn never_served_at_or_past_exp_plus_leeway() {
    let k = Key::new("k1");
    let g = warm(16, &k);
    let exp = NOW + Duration::minutes(10);
    let token = k.sign(&claims(ISS, json!({"exp": exp.unix_timestamp()})));
    principal(check(&g, "/orders/1", &token, NOW));
    let last = exp + LEEWAY - Duration::nanoseconds(1);
    principal(check(&g, "/orders/1", &token, last));
    assert_eq!(stats(&g).hits, 1);
    assert_eq!(
        denied(check(&g, "/orders/1", &token, exp + LEEWAY)),
        RejectionKind::InvalidToken
    );
    let s = stats(&g);
    assert_eq!((s.hits, s.len, s.invalidations), (1, 0, 1));
    // Nor later (the key set is still fresh).
    assert_eq!(
        denied(check(&g, "/orders/1", &token, exp + Duration::minutes(30))),
        RejectionKind::InvalidToken
    );
    assert_eq!(stats(&g).hits, 1);
}

#[test]
fn never_served_before_nbf_minus_leeway() {
    let k = Key::new("k1");
    let g = warm(16, &k);
    let nbf = NOW + Duration::minutes(10);
    let token = k.sign(&claims(
        ISS,
        json!({"nbf": nbf.unix_timestamp(), "iat": nbf.unix_timestamp()}),
    ));
    let first = nbf - LEEWAY;
    principal(check(&g, "/orders/1", &token, first));
    principal(check(&g, "/orders/1", &token, first));
    assert_eq!(stats(&g).hits, 1);
    // A clock stepping back before `nbf - leeway`: refused, not served.
    assert_eq!(
        denied(check(
            &g,
            "/orders/1",
            &token,
            first - Duration::nanoseconds(1)
        )),
        RejectionKind::InvalidToken
    );
    assert_eq!(stats(&g).hits, 1);
}

#[test]
fn never_served_past_max_age() {
    let k = Key::new("k1");
    let mut validation = Validation::default();
    validation.max_age = Some(Duration::minutes(5));
    let g = cached_gate(vec![issuer(ISS).with_validation(validation)], 16);
    serve(&g, &jwks(&[&k]), NOW);
    let token = k.sign(&claims(ISS, json!({})));
    principal(check(&g, "/orders/1", &token, NOW));
    let oldest = NOW + Duration::minutes(5) + LEEWAY;
    principal(check(&g, "/orders/1", &token, oldest));
    assert_eq!(stats(&g).hits, 1);
    assert_eq!(
        denied(check(
            &g,
            "/orders/1",
            &token,
            oldest + Duration::nanoseconds(1)
        )),
        RejectionKind::InvalidToken
    );
    assert_eq!(stats(&g).hits, 1);
}

#[test]
fn never_served_after_its_key_left_the_jwks() {
    let (k1, k2) = (Key::new("k1"), Key::new("k2"));
    let g = warm(16, &k1);
    let token = k1.sign(&claims(ISS, json!({})));
    principal(check(&g, "/orders/1", &token, NOW));
    principal(check(&g, "/orders/1", &token, NOW));
    assert_eq!(stats(&g).hits, 1);
    // k1 revoked: the new set holds k2 only.
    let later = NOW + Duration::minutes(2);
    serve(&g, &jwks(&[&k2]), later);
    let s = stats(&g);
    assert_eq!((s.len, s.invalidations), (0, 1));
    let outcome = match check(&g, "/orders/1", &token, later) {
        // The unknown kid may be refetched once: the IdP still says k2 only.
        Outcome::FetchKeys(plan) => {
            serve_plan(&g, &plan, &jwks(&[&k2]), later);
            check(&g, "/orders/1", &token, later)
        }
        decided => decided,
    };
    assert_eq!(denied(outcome), RejectionKind::InvalidToken);
    assert_eq!(stats(&g).hits, 1);
}

#[test]
fn never_served_after_its_kid_names_another_key() {
    // The IdP reuses the kid for a new key: the old token no longer verifies.
    let (old, new) = (Key::new("k1"), Key::new("k1"));
    let g = warm(16, &old);
    let token = old.sign(&claims(ISS, json!({})));
    principal(check(&g, "/orders/1", &token, NOW));
    serve(&g, &jwks(&[&new]), NOW);
    assert_eq!(
        denied(check(&g, "/orders/1", &token, NOW)),
        RejectionKind::InvalidToken
    );
    let s = stats(&g);
    assert_eq!((s.hits, s.inserts, s.len), (0, 1, 0));
}

#[test]
fn a_rotation_that_keeps_the_key_reverifies_once() {
    let (k1, k2) = (Key::new("k1"), Key::new("k2"));
    let g = warm(16, &k1);
    let token = k1.sign(&claims(ISS, json!({})));
    principal(check(&g, "/orders/1", &token, NOW));
    serve(&g, &jwks(&[&k1, &k2]), NOW);
    assert_eq!(stats(&g).len, 0);
    principal(check(&g, "/orders/1", &token, NOW));
    principal(check(&g, "/orders/1", &token, NOW));
    let s = stats(&g);
    assert_eq!((s.hits, s.misses, s.inserts), (1, 2, 2));
}

#[test]
fn the_same_key_set_again_keeps_the_entries() {
    let k = Key::new("k1");
    let g = warm(16, &k);
    let token = k.sign(&claims(ISS, json!({})));
    principal(check(&g, "/orders/1", &token, NOW));
    // A refresh answering the same document is not a change of keys.
    serve(&g, &jwks(&[&k]), NOW + Duration::minutes(50));
    principal(check(&g, "/orders/1", &token, NOW + Duration::minutes(50)));
    let s = stats(&g);
    assert_eq!((s.hits, s.len, s.invalidations), (1, 1, 0));
}

#[test]
fn bounded_by_capacity() {
    let k = Key::new("k1");
    for capacity in [5usize, 130] {
        let g = warm(capacity, &k);
        let extra = 20;
        for i in 0..capacity + extra {
            let token = k.sign(&claims(ISS, json!({"sub": format!("user-{i}")})));
            principal(check(&g, "/orders/1", &token, NOW));
            assert!(stats(&g).len <= capacity, "capacity {capacity}, token {i}");
        }
        let s = stats(&g);
        assert_eq!(s.capacity, capacity);
        assert_eq!(s.inserts, (capacity + extra) as u64);
        assert_eq!(s.evictions as usize, s.inserts as usize - s.len);
        assert!(s.len <= capacity && s.len > 0, "{s:?}");
    }
}

#[test]
fn recently_hit_entries_survive_eviction() {
    let k = Key::new("k1");
    let g = warm(4, &k);
    let tokens: Vec<String> = (0..4)
        .map(|i| k.sign(&claims(ISS, json!({"sub": format!("user-{i}")}))))
        .collect();
    for t in &tokens {
        principal(check(&g, "/orders/1", t, NOW));
    }
    // Token 0 is hit; the next insert evicts another one.
    principal(check(&g, "/orders/1", &tokens[0], NOW));
    let newcomer = k.sign(&claims(ISS, json!({"sub": "user-new"})));
    principal(check(&g, "/orders/1", &newcomer, NOW));
    let hits = stats(&g).hits;
    principal(check(&g, "/orders/1", &tokens[0], NOW));
    assert_eq!(stats(&g).hits, hits + 1);
}

#[test]
fn issuers_keep_separate_entries() {
    // Two issuers publishing the same key: a token is cached under the
    // issuer that verified it, and only that issuer's rotation drops it.
    let k = Key::new("k1");
    let g = cached_gate(vec![issuer(ISS), issuer(ISS_B)], 16);
    serve_issuer(&g, ISS, &jwks(&[&k]), NOW);
    serve_issuer(&g, ISS_B, &jwks(&[&k]), NOW);
    let a = k.sign(&claims(ISS, json!({})));
    let b = k.sign(&claims(ISS_B, json!({})));
    assert_eq!(
        principal(check(&g, "/orders/1", &a, NOW)).issuer.as_deref(),
        Some(ISS)
    );
    assert_eq!(
        principal(check(&g, "/orders/1", &b, NOW)).issuer.as_deref(),
        Some(ISS_B)
    );
    assert_eq!(stats(&g).len, 2);
    let k2 = Key::new("k2");
    serve_issuer(&g, ISS_B, &jwks(&[&k, &k2]), NOW);
    assert_eq!(stats(&g).len, 1);
    principal(check(&g, "/orders/1", &a, NOW));
    assert_eq!(stats(&g).hits, 1);
}

#[test]
fn a_token_that_failed_is_never_cached() {
    let (k1, k2) = (Key::new("k1"), Key::new("k2"));
    let g = warm(16, &k1);
    let wrong_audience = k1.sign(&claims(ISS, json!({"aud": "api://other"})));
    let expired = k1.sign(&claims(
        ISS,
        json!({"exp": (NOW - Duration::hours(1)).unix_timestamp()}),
    ));
    // Signed by k2 under k1's kid: a bad signature.
    let forged = {
        let mut t = k2.sign(&claims(ISS, json!({})));
        t = t.replacen(
            &B64.encode(json!({"alg": "ES256", "typ": "JWT", "kid": "k2"}).to_string()),
            &B64.encode(json!({"alg": "ES256", "typ": "JWT", "kid": "k1"}).to_string()),
            1,
        );
        t
    };
    for token in [&wrong_audience, &expired, &forged] {
        for _ in 0..2 {
            assert_eq!(
                denied(check(&g, "/orders/1", token, NOW)),
                RejectionKind::InvalidToken
            );
        }
    }
    let s = stats(&g);
    assert_eq!((s.hits, s.inserts, s.len), (0, 0, 0));
}

/// What a check decided, comparable across gates.
#[derive(Debug, PartialEq)]
enum Seen {
    Allow(Option<Box<Principal>>, Option<String>),
    Deny(Value),
    Fetch(String, bool),
}

fn seen(outcome: &Outcome) -> Seen {
    match outcome {
        Outcome::Allow {
            principal,
            decision,
        } => Seen::Allow(principal.clone(), decision.rule_id.clone()),
        Outcome::Deny(r) => Seen::Deny(serde_json::to_value(r).unwrap()),
        Outcome::FetchKeys(plan) => Seen::Fetch(plan.url().to_owned(), plan.is_in_flight()),
        Outcome::Preflight(r) => panic!("not a preflight: {r:?}"),
    }
}

#[derive(Debug, Clone)]
enum Op {
    /// Check token `i` at `NOW + t` seconds on `/orders/1` or `/admin/x`.
    Check { token: usize, t: i64, admin: bool },
    /// The IdP now publishes this subset of the keys (a bit mask; bit 3
    /// swaps `k1` for another key under the same kid).
    Rotate { keys: u8, t: i64 },
}

fn op() -> impl Strategy<Value = Op> {
    prop_oneof![
        4 => (0usize..8, -600i64..9_000, any::<bool>())
            .prop_map(|(token, t, admin)| Op::Check { token, t, admin }),
        1 => (0u8..16, -600i64..9_000).prop_map(|(keys, t)| Op::Rotate { keys, t }),
    ]
}

/// Nine tokens over four keys (one signed by a key no set holds under its
/// kid, one by the key that replaces `k1` under the same kid), with short
/// and long lives, `nbf` in the future, an admin.
fn tokens(keys: &[Key]) -> Vec<String> {
    let at = |s: i64| (NOW + Duration::seconds(s)).unix_timestamp();
    let forged = {
        let t = keys[2].sign(&claims(ISS, json!({})));
        let (_, rest) = t.split_once('.').unwrap();
        format!(
            "{}.{rest}",
            B64.encode(json!({"alg": "ES256", "typ": "JWT", "kid": "k0"}).to_string())
        )
    };
    vec![
        keys[0].sign(&claims(ISS, json!({}))),
        keys[0].sign(&claims(ISS, json!({"exp": at(300)}))),
        keys[1].sign(&claims(ISS, json!({"nbf": at(1_200), "iat": at(1_200)}))),
        keys[1].sign(&claims(ISS, json!({"roles": ["admin"], "exp": at(7_200)}))),
        keys[2].sign(&claims(ISS, json!({"exp": at(-30)}))),
        keys[2].sign(&claims(ISS, json!({"aud": "api://other"}))),
        keys[0].sign(&claims(ISS, json!({"exp": at(3_000), "sub": "user-2"}))),
        forged,
        keys[3].sign(&claims(ISS, json!({"sub": "user-3"}))),
    ]
}

fn run(gate: &Gate, token: &str, path: &str, now: OffsetDateTime, body: &[u8]) -> Vec<Seen> {
    // Fetches fulfilled from the IdP's current set, boundedly.
    let mut trail = Vec::new();
    for _ in 0..3 {
        let outcome = check(gate, path, token, now);
        trail.push(seen(&outcome));
        match outcome {
            Outcome::FetchKeys(plan) if !plan.is_in_flight() => serve_plan(gate, &plan, body, now),
            _ => break,
        }
    }
    trail
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 48, ..ProptestConfig::default() })]

    /// Random checks (times moving both ways) and key rotations through a
    /// gate with a small cache and one without: every decision agrees.
    #[test]
    fn cache_on_and_off_always_agree(ops in prop::collection::vec(op(), 1..40), capacity in 1usize..6) {
        let keys = [Key::new("k0"), Key::new("k1"), Key::new("k2"), Key::new("k1")];
        let tokens = tokens(&keys);
        let on = cached_gate(vec![issuer(ISS)], capacity);
        let off = Gate::new(config(vec![issuer(ISS)])).unwrap();
        let mut published = jwks(&[&keys[0], &keys[1]]);
        for op in ops {
            match op {
                Op::Check { token, t, admin } => {
                    let now = NOW + Duration::seconds(t);
                    let path = if admin { "/admin/x" } else { "/orders/1" };
                    let a = run(&on, &tokens[token], path, now, &published);
                    let b = run(&off, &tokens[token], path, now, &published);
                    prop_assert_eq!(a, b);
                }
                Op::Rotate { keys: mask, t } => {
                    let k1 = if mask & 8 != 0 { &keys[3] } else { &keys[1] };
                    let chosen: Vec<&Key> = [&keys[0], k1, &keys[2]]
                        .into_iter()
                        .enumerate()
                        .filter(|(i, _)| mask & (1 << i) != 0)
                        .map(|(_, k)| k)
                        .collect();
                    if chosen.is_empty() {
                        continue;
                    }
                    published = jwks(&chosen);
                    let now = NOW + Duration::seconds(t);
                    serve(&on, &published, now);
                    serve(&off, &published, now);
                }
            }
            let s = stats(&on);
            prop_assert!(s.len <= capacity);
        }
        // Whatever came before, the hit path is exercised: every key
        // published, token 0 checked twice.
        let all = jwks(&[&keys[0], &keys[1], &keys[2]]);
        serve(&on, &all, NOW);
        serve(&off, &all, NOW);
        let hits = stats(&on).hits;
        for _ in 0..2 {
            let a = run(&on, &tokens[0], "/orders/1", NOW, &all);
            let b = run(&off, &tokens[0], "/orders/1", NOW, &all);
            prop_assert_eq!(a, b);
        }
        prop_assert!(stats(&on).hits > hits);
    }
}

#[test]
fn concurrent_checks_share_the_cache_and_count_every_check() {
    let k = Key::new("k1");
    let g = warm(16, &k);
    let tokens: Vec<String> = (0..24)
        .map(|i| k.sign(&claims(ISS, json!({"sub": format!("user-{i}")}))))
        .collect();
    let (threads, rounds) = (4usize, 60usize);
    std::thread::scope(|s| {
        for t in 0..threads {
            let (g, tokens) = (&g, &tokens);
            s.spawn(move || {
                for r in 0..rounds {
                    let i = (t * 7 + r) % tokens.len();
                    let p = principal(check(g, "/orders/1", &tokens[i], NOW));
                    assert_eq!(p.subject, Some(format!("user-{i}")));
                }
            });
        }
    });
    let s = stats(&g);
    assert_eq!(s.hits + s.misses, (threads * rounds) as u64);
    assert!(s.hits > 0 && s.len <= 16, "{s:?}");
}

/// A swapped role mapper (a policy reload) applies at once: principals
/// mapped by the old one are not served from the cache.
#[test]
fn replaced_role_mapper_is_not_bypassed_by_the_cache() {
    let k = Key::new("k1");
    let g = warm(16, &k);
    let token = k.sign(&claims(ISS, json!({"groups": ["admin"]})));
    assert_eq!(
        denied(check(&g, "/admin/x", &token, NOW)),
        RejectionKind::InsufficientScope
    );
    let admins_from_groups = RoleMapper::new().with_source(ClaimSource::roles("groups").unwrap());
    g.replace_authorization(policy().compile().unwrap(), [(ISS, admins_from_groups)])
        .unwrap();
    let p = principal(check(&g, "/admin/x", &token, NOW + Duration::seconds(1)));
    assert!(p.has_role("admin"));
    assert_eq!(stats(&g).hits, 0);
}

/// A policy swap alone keeps the cache: the principal did not change.
#[test]
fn replaced_policy_keeps_cached_principals() {
    let k = Key::new("k1");
    let g = warm(16, &k);
    let token = k.sign(&claims(ISS, json!({})));
    principal(check(&g, "/orders/1", &token, NOW));
    g.replace_policy(policy().compile().unwrap());
    principal(check(&g, "/orders/1", &token, NOW + Duration::seconds(1)));
    assert_eq!(stats(&g).hits, 1);
}

/// A hit serves the same principal as the miss, every claim included
/// (the cached principal shares the verified claims set, read on access).
#[test]
fn a_hit_serves_every_claim() {
    let k = Key::new("k1");
    let g = warm(8, &k);
    let claims = claims(
        ISS,
        json!({"department": "sales", "nested": {"a": [1, "b"]}}),
    );
    let token = k.sign(&claims);
    let miss = principal(check(&g, "/orders/1", &token, NOW));
    let hit = principal(check(&g, "/orders/1", &token, NOW));
    assert_eq!(stats(&g).hits, 1);
    assert_eq!(&*hit.claims, claims.as_object().unwrap());
    assert_eq!(hit, miss);
}
