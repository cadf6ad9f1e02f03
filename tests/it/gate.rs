//! The Gate pipeline: extraction, issuer selection, key fetching through
//! `FetchKeys`, validation, roles and policy, with a simulated clock and a
//! simulated IdP. Tokens are minted here with ring directly (not with the
//! crate's own code), ES256 over P-256.

use crate::support as common;
use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD as B64;
use common::es256::Key;
use edge_auth::gate::{FetchKind, FetchPlan, Gate, GateConfig, IssuerConfig, Outcome};
use edge_auth::oidc::{ClaimSource, RoleMapper};
use edge_auth::policy::{Policy, RequestFacts};
use edge_auth::response::RejectionKind;
use http::{HeaderMap, StatusCode};
use serde_json::{Value, json};
use time::macros::datetime;
use time::{Duration, OffsetDateTime};

const ISS: &str = "https://idp.example.com";
const AUD: &str = "api://orders";
const NOW: OffsetDateTime = datetime!(2026-11-23 10:00:00 UTC);

fn jwks(keys: &[&Key]) -> Vec<u8> {
    json!({"keys": keys.iter().map(|k| k.jwk()).collect::<Vec<_>>()})
        .to_string()
        .into_bytes()
}

fn claims(iss: &str, roles: &[&str]) -> Value {
    json!({
        "iss": iss, "aud": AUD, "sub": "user-1", "roles": roles,
        "iat": NOW.unix_timestamp(), "exp": (NOW + Duration::hours(1)).unix_timestamp(),
    })
}

fn request(path: &str, token: Option<&str>) -> http::request::Parts {
    let mut b = http::Request::get(path).header("host", "api.example.com");
    if let Some(t) = token {
        b = b.header("authorization", format!("Bearer {t}"));
    }
    b.body(()).unwrap().into_parts().0
}

fn policy() -> Policy {
    Policy::from_json(
        &json!({"rules": [
            {"id": "health", "match": {"paths": ["/health"]}, "require": {"anonymous": true}, "effect": "allow"},
            {"id": "admin", "match": {"paths": ["/admin/**"]}, "require": {"any_roles": ["admin"]}, "effect": "allow"},
            {"id": "orders", "match": {"paths": ["/orders/**"]}, "require": {"any_roles": ["reader", "admin"]}, "effect": "allow"},
            {"id": "write", "match": {"paths": ["/write"]}, "require": {"scopes": ["orders:write"]}, "effect": "allow"},
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

fn gate(issuers: Vec<IssuerConfig>) -> Gate {
    Gate::new(GateConfig::new(issuers).with_policy(policy().compile().unwrap())).unwrap()
}

fn check(gate: &Gate, path: &str, token: Option<&str>, now: OffsetDateTime) -> Outcome {
    let parts = request(path, token);
    gate.check(&parts, &RequestFacts::from_parts(&parts), now)
}

fn fetch(outcome: Outcome) -> FetchPlan {
    match outcome {
        Outcome::FetchKeys(plan) => plan,
        other => panic!("expected FetchKeys, got {other:?}"),
    }
}

fn deny(outcome: Outcome) -> edge_auth::response::Rejection {
    match outcome {
        Outcome::Deny(r) => r,
        other => panic!("expected Deny, got {other:?}"),
    }
}

fn serve(gate: &Gate, plan: &FetchPlan, body: &[u8], now: OffsetDateTime) {
    let mut headers = HeaderMap::new();
    headers.insert("cache-control", "max-age=3600".parse().unwrap());
    gate.apply_fetch_response(plan, StatusCode::OK, &headers, body, now)
        .unwrap();
}

/// Checks, fulfilling FetchKeys from `body` until the gate decides.
fn check_fetching(gate: &Gate, path: &str, token: &str, body: &[u8]) -> Outcome {
    for _ in 0..3 {
        match check(gate, path, Some(token), NOW) {
            Outcome::FetchKeys(plan) => serve(gate, &plan, body, NOW),
            decided => return decided,
        }
    }
    panic!("gate kept asking for keys")
}

#[test]
fn no_token_is_401_with_bare_challenge_and_no_fetch() {
    let g = gate(vec![issuer(ISS)]);
    let r = deny(check(&g, "/orders/1", None, NOW));
    assert_eq!(r.kind(), RejectionKind::MissingToken);
    let resp = r.to_response();
    assert_eq!(resp.status(), 401);
    assert_eq!(
        resp.headers()["www-authenticate"],
        r#"Bearer realm="edge-auth""#
    );
}

#[test]
fn anonymous_route_passes_without_token() {
    let g = gate(vec![issuer(ISS)]);
    match check(&g, "/health", None, NOW) {
        Outcome::Allow {
            principal,
            decision,
        } => {
            assert!(principal.is_none());
            assert_eq!(decision.rule_id.as_deref(), Some("health"));
        }
        other => panic!("{other:?}"),
    }
}

#[test]
fn cold_cache_fetches_then_allows() {
    let k = Key::new("k1");
    let g = gate(vec![issuer(ISS)]);
    let token = k.sign(&claims(ISS, &["reader"]));
    let plan = fetch(check(&g, "/orders/1", Some(&token), NOW));
    assert_eq!(plan.kind(), FetchKind::Jwks);
    assert_eq!(plan.url(), "https://idp.example.com/jwks");
    assert_eq!(plan.issuer(), ISS);
    assert!(!plan.is_in_flight());
    // A second request while the fetch is out joins it.
    assert!(fetch(check(&g, "/orders/1", Some(&token), NOW)).is_in_flight());
    serve(&g, &plan, &jwks(&[&k]), NOW);
    match check(&g, "/orders/1", Some(&token), NOW) {
        Outcome::Allow {
            principal,
            decision,
        } => {
            let p = principal.unwrap();
            assert_eq!(p.subject.as_deref(), Some("user-1"));
            assert!(p.has_role("reader"));
            assert_eq!(decision.rule_id.as_deref(), Some("orders"));
        }
        other => panic!("{other:?}"),
    }
}

#[test]
fn discovery_then_jwks() {
    let k = Key::new("k1");
    let g = gate(vec![IssuerConfig::new(ISS, [AUD]).with_roles(
        RoleMapper::new().with_source(ClaimSource::roles("roles").unwrap()),
    )]);
    let token = k.sign(&claims(ISS, &["admin"]));
    let plan = fetch(check(&g, "/admin/x", Some(&token), NOW));
    assert_eq!(plan.kind(), FetchKind::Discovery);
    assert_eq!(
        plan.url(),
        "https://idp.example.com/.well-known/openid-configuration"
    );
    let doc = json!({
        "issuer": ISS, "jwks_uri": "https://keys.example.com/k",
        "authorization_endpoint": "https://idp.example.com/authorize",
        "response_types_supported": ["code"], "subject_types_supported": ["public"],
        "id_token_signing_alg_values_supported": ["ES256"],
    });
    g.apply_fetch_response(
        &plan,
        StatusCode::OK,
        &HeaderMap::new(),
        doc.to_string().as_bytes(),
        NOW,
    )
    .unwrap();
    let plan = fetch(check(&g, "/admin/x", Some(&token), NOW));
    assert_eq!(plan.kind(), FetchKind::Jwks);
    assert_eq!(plan.url(), "https://keys.example.com/k");
    serve(&g, &plan, &jwks(&[&k]), NOW);
    assert!(matches!(
        check(&g, "/admin/x", Some(&token), NOW),
        Outcome::Allow { .. }
    ));
}

#[test]
fn discovery_with_another_issuer_is_refused_and_backs_off() {
    let k = Key::new("k1");
    let g = gate(vec![IssuerConfig::new(ISS, [AUD])]);
    let token = k.sign(&claims(ISS, &[]));
    let plan = fetch(check(&g, "/orders/1", Some(&token), NOW));
    assert!(refused_discovery(&g, &plan, NOW));
    let r = deny(check(&g, "/orders/1", Some(&token), NOW));
    assert_eq!(r.kind(), RejectionKind::Unavailable);
    assert_eq!(r.to_response().status(), 503);
    // The 503 says when discovery will be tried again (RFC 9110 §10.2.3).
    assert_eq!(r.retry_after(), Some(30));
    assert_eq!(r.to_response().headers()["retry-after"], "30");
    let later = deny(check(
        &g,
        "/orders/1",
        Some(&token),
        NOW + Duration::milliseconds(10_500),
    ));
    assert_eq!(later.retry_after(), Some(20), "rounded up to whole seconds");
    // After the retry delay, discovery is tried again.
    assert_eq!(
        fetch(check(
            &g,
            "/orders/1",
            Some(&token),
            NOW + Duration::seconds(31)
        ))
        .kind(),
        FetchKind::Discovery
    );
}

#[test]
fn reader_on_admin_route_is_403_insufficient_scope() {
    let k = Key::new("k1");
    let g = gate(vec![issuer(ISS)]);
    let token = k.sign(&claims(ISS, &["reader"]));
    let r = deny(check_fetching(&g, "/admin/x", &token, &jwks(&[&k])));
    assert_eq!(r.kind(), RejectionKind::InsufficientScope);
    assert_eq!(r.to_response().status(), 403);
    assert_eq!(r.rule(), None);
}

#[test]
fn missing_scope_names_the_scope() {
    let k = Key::new("k1");
    let g = gate(vec![issuer(ISS)]);
    let token = k.sign(&claims(ISS, &["reader"]));
    let r = deny(check_fetching(&g, "/write", &token, &jwks(&[&k])));
    assert_eq!(r.kind(), RejectionKind::InsufficientScope);
    let challenge = r.to_response().headers()["www-authenticate"]
        .to_str()
        .unwrap()
        .to_owned();
    assert!(
        challenge.contains(r#"error="insufficient_scope""#),
        "{challenge}"
    );
    assert!(challenge.contains(r#"scope="orders:write""#), "{challenge}");
}

#[test]
fn expired_token_is_401_invalid_token() {
    let k = Key::new("k1");
    let g = gate(vec![issuer(ISS)]);
    let mut c = claims(ISS, &["reader"]);
    c["exp"] = json!((NOW - Duration::minutes(5)).unix_timestamp());
    let r = deny(check_fetching(&g, "/orders/1", &k.sign(&c), &jwks(&[&k])));
    assert_eq!(r.kind(), RejectionKind::InvalidToken);
    let challenge = r.to_response().headers()["www-authenticate"]
        .to_str()
        .unwrap()
        .to_owned();
    assert!(challenge.contains(r#"error="invalid_token""#));
}

#[test]
fn invalid_token_on_anonymous_route_is_still_401() {
    let k = Key::new("k1");
    let g = gate(vec![issuer(ISS)]);
    let mut c = claims(ISS, &[]);
    c["aud"] = json!("api://other");
    let r = deny(check_fetching(&g, "/health", &k.sign(&c), &jwks(&[&k])));
    assert_eq!(r.kind(), RejectionKind::InvalidToken);
}

#[test]
fn disallowed_algorithm_is_refused_before_any_fetch() {
    let g = gate(vec![issuer(ISS)]);
    let header = B64.encode(r#"{"alg":"HS256","kid":"k1"}"#);
    let body = B64.encode(claims(ISS, &["admin"]).to_string());
    let token = format!("{header}.{body}.{}", B64.encode([0u8; 32]));
    let r = deny(check(&g, "/orders/1", Some(&token), NOW));
    assert_eq!(r.kind(), RejectionKind::InvalidToken);
    let none = format!("{}.{body}.", B64.encode(r#"{"alg":"none"}"#));
    assert_eq!(
        deny(check(&g, "/orders/1", Some(&none), NOW)).kind(),
        RejectionKind::InvalidToken
    );
}

#[test]
fn one_issuers_keys_never_verify_another_issuers_tokens() {
    const OTHER: &str = "https://other.example.com";
    let a = Key::new("shared-kid");
    let b = Key::new("shared-kid");
    let g = gate(vec![issuer(ISS), issuer(OTHER)]);
    // Load each issuer's keys.
    let ta = a.sign(&claims(ISS, &["admin"]));
    let tb = b.sign(&claims(OTHER, &["admin"]));
    assert!(matches!(
        check_fetching(&g, "/orders/1", &ta, &jwks(&[&a])),
        Outcome::Allow { .. }
    ));
    for _ in 0..3 {
        match check(&g, "/orders/1", Some(&tb), NOW) {
            Outcome::FetchKeys(plan) => {
                assert_eq!(plan.issuer(), OTHER);
                serve(&g, &plan, &jwks(&[&b]), NOW);
            }
            Outcome::Allow { .. } => break,
            other => panic!("{other:?}"),
        }
    }
    // A token claiming OTHER but signed with ISS's key (same kid) fails.
    let forged = a.sign(&claims(OTHER, &["admin"]));
    assert_eq!(
        deny(check(&g, "/orders/1", Some(&forged), NOW)).kind(),
        RejectionKind::InvalidToken
    );
    // An unknown issuer is refused without a fetch.
    let stranger = a.sign(&claims("https://stranger.example.com", &["admin"]));
    assert_eq!(
        deny(check(&g, "/orders/1", Some(&stranger), NOW)).kind(),
        RejectionKind::InvalidToken
    );
}

#[test]
fn entra_tenant_template() {
    const TEMPLATE: &str = "https://login.microsoftonline.com/{tenantid}/v2.0";
    const TID: &str = "9188040d-6c67-4c5b-b112-36a304b66dad";
    let k = Key::new("k1");
    let g = gate(vec![
        IssuerConfig::new(TEMPLATE, [AUD])
            .with_jwks_uri("https://login.microsoftonline.com/common/discovery/v2.0/keys")
            .with_roles(RoleMapper::new().with_source(ClaimSource::roles("roles").unwrap())),
        issuer(ISS),
    ]);
    let iss = format!("https://login.microsoftonline.com/{TID}/v2.0");
    let mut c = claims(&iss, &["reader"]);
    c["tid"] = json!(TID);
    let ok = check_fetching(&g, "/orders/1", &k.sign(&c), &jwks(&[&k]));
    assert!(matches!(ok, Outcome::Allow { .. }), "{ok:?}");
    c["tid"] = json!("00000000-0000-0000-0000-000000000000");
    assert_eq!(
        deny(check(&g, "/orders/1", Some(&k.sign(&c)), NOW)).kind(),
        RejectionKind::InvalidToken
    );
}

#[test]
fn template_without_key_source_is_a_config_error() {
    let err = Gate::new(GateConfig::new([IssuerConfig::new(
        "https://login.microsoftonline.com/{tenantid}/v2.0",
        [AUD],
    )]))
    .unwrap_err();
    assert!(err.to_string().contains("jwks_uri"), "{err}");
    assert!(
        Gate::new(GateConfig::new([IssuerConfig::new(
            ISS,
            Vec::<String>::new()
        )]))
        .is_err()
    );
    assert!(Gate::new(GateConfig::new([])).is_err());
}

#[test]
fn unknown_kid_flood_fetches_at_most_once_per_cooldown() {
    let k = Key::new("k1");
    let g = gate(vec![issuer(ISS)]);
    let good = k.sign(&claims(ISS, &["reader"]));
    check_fetching(&g, "/orders/1", &good, &jwks(&[&k]));
    let mut fetches = 0;
    for i in 0..1000 {
        let now = NOW + Duration::milliseconds(i * 100); // 100 s in all
        let attacker = Key::new(&format!("random-{i}"));
        let token = attacker.sign(&claims(ISS, &["admin"]));
        match check(&g, "/orders/1", Some(&token), now) {
            Outcome::FetchKeys(plan) if !plan.is_in_flight() => {
                fetches += 1;
                serve(&g, &plan, &jwks(&[&k]), now);
            }
            Outcome::FetchKeys(_) => {}
            Outcome::Deny(r) => assert_eq!(r.kind(), RejectionKind::InvalidToken),
            other => panic!("{other:?}"),
        }
        if i % 100 == 0 {
            assert!(matches!(
                check(&g, "/orders/1", Some(&good), now),
                Outcome::Allow { .. }
            ));
        }
    }
    assert!(fetches <= 100 / 30 + 1, "{fetches} fetches in 100 s");
}

#[test]
fn keys_survive_idp_outage_and_rotation_applies() {
    let k1 = Key::new("k1");
    let k2 = Key::new("k2");
    let g = gate(vec![issuer(ISS)]);
    let mut c1 = claims(ISS, &["reader"]);
    c1["exp"] = json!((NOW + Duration::hours(12)).unix_timestamp());
    let t1 = k1.sign(&c1);
    check_fetching(&g, "/orders/1", &t1, &jwks(&[&k1]));
    // The set expires (max-age 1 h) and the IdP is down for 6 h.
    let mut now = NOW;
    for _ in 0..72 {
        now += Duration::minutes(5);
        for plan in g.poll(now) {
            g.apply_fetch_failure(&plan, "connection refused", now);
        }
        match check(&g, "/orders/1", Some(&t1), now) {
            Outcome::Allow { .. } => {}
            Outcome::FetchKeys(plan) => g.apply_fetch_failure(&plan, "connection refused", now),
            other => panic!("{other:?} at {now}"),
        }
    }
    // Recovery with a rotated set: k2 verifies as soon as it is applied.
    let mut c = claims(ISS, &["reader"]);
    c["exp"] = json!((now + Duration::hours(1)).unix_timestamp());
    let t2 = k2.sign(&c);
    for _ in 0..3 {
        match check(&g, "/orders/1", Some(&t2), now) {
            Outcome::FetchKeys(plan) => serve(&g, &plan, &jwks(&[&k2]), now),
            Outcome::Allow { .. } => return,
            Outcome::Deny(r) => {
                // In backoff: the held set lacks k2 and the issuer could
                // not be asked, so the answer is 503 with the retry time
                // (not 401: the token may well be good). Wait it out.
                assert_eq!(r.kind(), RejectionKind::Unavailable, "{r:?}");
                assert!(r.retry_after().is_some(), "{r:?}");
                now += Duration::minutes(5);
            }
            Outcome::Preflight(r) => panic!("not a preflight: {r:?}"),
        }
    }
    panic!("rotated key never verified");
}

#[test]
fn state_round_trips_between_gates() {
    let k = Key::new("k1");
    let a = gate(vec![issuer(ISS)]);
    let token = k.sign(&claims(ISS, &["reader"]));
    check_fetching(&a, "/orders/1", &token, &jwks(&[&k]));
    let state = a.export_state(ISS).unwrap();
    let json = serde_json::to_string(&state).unwrap();
    let b = gate(vec![issuer(ISS)]);
    b.import_state(ISS, &serde_json::from_str(&json).unwrap(), NOW)
        .unwrap();
    assert!(matches!(
        check(&b, "/orders/1", Some(&token), NOW),
        Outcome::Allow { .. }
    ));
    assert!(
        b.import_state("https://nope.example.com", &state, NOW)
            .is_err()
    );
}

/// A token with 300 roles, `suspended` last: the mapper keeps 256, and the
/// deny rule on `suspended` must still apply (issue 15, item 1).
#[test]
fn truncated_role_list_meets_the_deny_rule() {
    let k = Key::new("k1");
    let policy = Policy::from_json(
        &json!({"rules": [
            {"id": "suspended", "require": {"any_roles": ["suspended"]}, "effect": "deny"},
            {"id": "orders", "match": {"paths": ["/orders/**"]}, "require": {"authenticated": true}, "effect": "allow"},
        ]})
        .to_string(),
    )
    .unwrap();
    let g = Gate::new(GateConfig::new(vec![issuer(ISS)]).with_policy(policy.compile().unwrap()))
        .unwrap();
    let mut roles: Vec<String> = (0..299).map(|i| format!("role-{i:03}")).collect();
    roles.push("suspended".to_owned());
    let refs: Vec<&str> = roles.iter().map(String::as_str).collect();
    let token = k.sign(&claims(ISS, &refs));
    let r = deny(check_fetching(&g, "/orders/1", &token, &jwks(&[&k])));
    assert_eq!(r.kind(), RejectionKind::Forbidden);
    assert_eq!(r.rule(), Some("suspended"));
    // Fewer roles: the same user passes.
    let token = k.sign(&claims(ISS, &refs[..10]));
    assert!(matches!(
        check_fetching(&g, "/orders/1", &token, &jwks(&[&k])),
        Outcome::Allow { .. }
    ));
}

#[test]
fn several_tokens_is_400() {
    let g = gate(vec![issuer(ISS)]);
    let parts = http::Request::get("/orders/1?access_token=abc")
        .header("authorization", "Bearer abc")
        .body(())
        .unwrap()
        .into_parts()
        .0;
    let g2 = Gate::new(
        GateConfig::new([issuer(ISS)])
            .with_sources([
                edge_auth::TokenSource::AuthorizationBearer,
                edge_auth::TokenSource::Query("access_token".into()),
            ])
            .with_policy(policy().compile().unwrap()),
    )
    .unwrap();
    let r = deny(g2.check(&parts, &RequestFacts::from_parts(&parts), NOW));
    assert_eq!(r.kind(), RejectionKind::InvalidRequest);
    assert_eq!(r.to_response().status(), 400);
    drop(g);
}

#[test]
fn gate_is_send_and_sync() {
    fn assert_send_sync<T: Send + Sync>() {}
    assert_send_sync::<Gate>();
}

/// The gate verifies outside its lock against a shared copy of the key set;
/// the copy must never outlive the set. When the IdP replaces a key under the
/// same `kid` (the lookup then still finds the `kid`), tokens of the old key
/// stop verifying as soon as the new set is applied, and an imported state
/// replaces the keys at once.
#[test]
fn a_replaced_key_stops_verifying_at_once() {
    let old = Key::new("k1");
    let new = Key::new("k1"); // same kid, new key material
    let g = gate(vec![issuer(ISS)]);
    let mut c = claims(ISS, &["reader"]);
    c["exp"] = json!((NOW + Duration::hours(12)).unix_timestamp());
    let (t_old, t_new) = (old.sign(&c), new.sign(&c));
    check_fetching(&g, "/orders/1", &t_old, &jwks(&[&old]));
    assert!(matches!(
        check(&g, "/orders/1", Some(&t_old), NOW),
        Outcome::Allow { .. }
    ));
    // Refresh-ahead brings the set with the new key under the same kid.
    let later = NOW + Duration::minutes(61);
    let plans = g.poll(later);
    assert_eq!(plans.len(), 1, "{plans:?}");
    for plan in &plans {
        serve(&g, plan, &jwks(&[&new]), later);
    }
    let r = deny(check(&g, "/orders/1", Some(&t_old), later));
    assert_eq!(r.kind(), RejectionKind::InvalidToken, "{r:?}");
    assert!(matches!(
        check(&g, "/orders/1", Some(&t_new), later),
        Outcome::Allow { .. }
    ));

    // Import: gate `b` has served the old key from its copy; the imported
    // state (new key only) takes over at once.
    let b = gate(vec![issuer(ISS)]);
    check_fetching(&b, "/orders/1", &t_old, &jwks(&[&old]));
    let state = g.export_state(ISS).unwrap();
    b.import_state(ISS, &state, later).unwrap();
    let r = deny(check(&b, "/orders/1", Some(&t_old), later));
    assert_eq!(r.kind(), RejectionKind::InvalidToken, "{r:?}");
    assert!(matches!(
        check(&b, "/orders/1", Some(&t_new), later),
        Outcome::Allow { .. }
    ));
}

#[test]
fn apply_jwks_response_by_issuer() {
    let k = Key::new("k1");
    let g = gate(vec![issuer(ISS)]);
    let token = k.sign(&claims(ISS, &["reader"]));
    assert!(matches!(
        check(&g, "/orders/1", Some(&token), NOW),
        Outcome::FetchKeys(_)
    ));
    g.apply_jwks_response(ISS, StatusCode::OK, &HeaderMap::new(), &jwks(&[&k]), NOW)
        .unwrap();
    assert!(matches!(
        check(&g, "/orders/1", Some(&token), NOW),
        Outcome::Allow { .. }
    ));
    assert!(
        g.apply_jwks_response(
            "https://nope.example.com",
            StatusCode::OK,
            &HeaderMap::new(),
            b"{}",
            NOW
        )
        .is_err()
    );
}

#[test]
fn state_import_skips_discovery_for_a_discovered_issuer() {
    let k = Key::new("k1");
    let discovered = || {
        IssuerConfig::new(ISS, [AUD])
            .with_roles(RoleMapper::new().with_source(ClaimSource::roles("roles").unwrap()))
    };
    let a = gate(vec![discovered()]);
    let token = k.sign(&claims(ISS, &["reader"]));
    let plan = fetch(check(&a, "/orders/1", Some(&token), NOW));
    let doc = json!({"issuer": ISS, "jwks_uri": "https://keys.example.com/k"});
    a.apply_fetch_response(
        &plan,
        StatusCode::OK,
        &HeaderMap::new(),
        doc.to_string().as_bytes(),
        NOW,
    )
    .unwrap();
    let plan = fetch(check(&a, "/orders/1", Some(&token), NOW));
    serve(&a, &plan, &jwks(&[&k]), NOW);
    let state = a.export_state(ISS).unwrap();
    assert_eq!(state.jwks_uri(), "https://keys.example.com/k");

    let b = gate(vec![discovered()]);
    b.import_state(ISS, &state, NOW).unwrap();
    assert!(matches!(
        check(&b, "/orders/1", Some(&token), NOW),
        Outcome::Allow { .. }
    ));
}

#[test]
fn discovery_at_the_end_of_time_does_not_panic() {
    // `now` comes from the caller: the discovery timeout and retry added to
    // it must saturate, not overflow.
    let end = time::PrimitiveDateTime::MAX.assume_utc() - Duration::seconds(10);
    let k = Key::new("k1");
    let g = gate(vec![IssuerConfig::new(ISS, [AUD])]);
    let token = k.sign(&claims(ISS, &[]));
    let plan = fetch(check(&g, "/orders/1", Some(&token), end));
    assert_eq!(plan.kind(), FetchKind::Discovery);
    assert!(fetch(check(&g, "/orders/1", Some(&token), end)).is_in_flight());
    g.apply_fetch_failure(&plan, "timeout", end);
    assert_eq!(
        deny(check(&g, "/orders/1", Some(&token), end)).kind(),
        RejectionKind::Unavailable
    );
    assert!(
        g.apply_fetch_response(&plan, StatusCode::BAD_GATEWAY, &HeaderMap::new(), b"", end)
            .is_err()
    );
}

#[test]
fn negative_discovery_durations_are_a_config_error() {
    let mut config = GateConfig::new([issuer(ISS)]);
    config.discovery_retry = Duration::seconds(-1);
    assert!(Gate::new(config).is_err());
    let mut config = GateConfig::new([issuer(ISS)]);
    config.discovery_timeout = Duration::seconds(-1);
    assert!(Gate::new(config).is_err());
}

#[test]
fn template_does_not_capture_a_tid_that_is_not_a_tenant_id() {
    // The template comes first; a token of the exact issuer whose `tid`
    // happens to spell the rest of its `iss` must still reach that issuer.
    const TEMPLATE: &str = "https://idp.example.com/{tenantid}";
    const SPECIAL: &str = "https://idp.example.com/tenants/special";
    let g = gate(vec![
        IssuerConfig::new(TEMPLATE, [AUD]).with_jwks_uri("https://idp.example.com/common/keys"),
        issuer(SPECIAL),
    ]);
    let k = Key::new("k1");
    let mut c = claims(SPECIAL, &["reader"]);
    c["tid"] = json!("tenants/special");
    let plan = fetch(check(&g, "/orders/1", Some(&k.sign(&c)), NOW));
    assert_eq!(plan.issuer(), SPECIAL);
    // An empty `tid` selects nothing through the template.
    let mut c = claims("https://idp.example.com/", &["reader"]);
    c["tid"] = json!("");
    let r = deny(check(&g, "/orders/1", Some(&k.sign(&c)), NOW));
    assert_eq!(r.kind(), RejectionKind::InvalidToken);
}

#[test]
fn a_late_response_to_an_older_plan_does_not_roll_keys_back() {
    let old = Key::new("old");
    let new = Key::new("new");
    let g = gate(vec![issuer(ISS)]);
    let token_new = new.sign(&claims(ISS, &["reader"]));
    let token_old = old.sign(&claims(ISS, &["reader"]));
    let first = fetch(check(&g, "/orders/1", Some(&token_new), NOW));
    // The first fetch is lost for longer than the in-flight timeout: a
    // second is handed out and answered with the rotated set.
    let t1 = NOW + Duration::seconds(31);
    let second = fetch(check(&g, "/orders/1", Some(&token_new), t1));
    assert!(!second.is_in_flight());
    serve(&g, &second, &jwks(&[&new]), t1 + Duration::seconds(1));
    // Then the first fetch's answer, from before the rotation, turns up.
    let t2 = t1 + Duration::seconds(2);
    g.apply_fetch_response(
        &first,
        StatusCode::OK,
        &HeaderMap::new(),
        &jwks(&[&old]),
        t2,
    )
    .unwrap();
    assert!(matches!(
        check(&g, "/orders/1", Some(&token_new), t2),
        Outcome::Allow { .. }
    ));
    assert!(!matches!(
        check(&g, "/orders/1", Some(&token_old), t2),
        Outcome::Allow { .. }
    ));
}

#[test]
fn untrusted_issuer_in_the_audit_reason_is_escaped_and_clipped() {
    let k = Key::new("k1");
    let g = gate(vec![issuer(ISS), issuer("https://other.example.com")]);
    let forged = format!(
        "https://x.example\nlevel=info msg=allowed{}",
        "a".repeat(4000)
    );
    let r = deny(check(
        &g,
        "/orders/1",
        Some(&k.sign(&claims(&forged, &[]))),
        NOW,
    ));
    assert_eq!(r.kind(), RejectionKind::InvalidToken);
    let reason = r.reason().unwrap();
    assert!(!reason.contains('\n'), "{reason}");
    assert!(reason.len() < 512, "{} bytes", reason.len());
    assert!(reason.contains("is not trusted"), "{reason}");
}

#[test]
fn a_plan_for_another_endpoint_is_refused() {
    // Two gates trust the same issuer name with different key endpoints: a
    // plan (and its response) from one must not load keys into the other.
    let k = Key::new("k1");
    let token = k.sign(&claims(ISS, &["reader"]));
    let a = gate(vec![issuer(ISS)]);
    let b = gate(vec![
        IssuerConfig::new(ISS, [AUD]).with_jwks_uri("https://other-keys.example.com/jwks"),
    ]);
    let plan_a = fetch(check(&a, "/orders/1", Some(&token), NOW));
    let _ = fetch(check(&b, "/orders/1", Some(&token), NOW));
    let mut headers = HeaderMap::new();
    headers.insert("cache-control", "max-age=3600".parse().unwrap());
    assert!(
        b.apply_fetch_response(&plan_a, StatusCode::OK, &headers, &jwks(&[&k]), NOW)
            .is_err()
    );
    assert!(b.export_state(ISS).unwrap().jwks_uri() == "https://other-keys.example.com/jwks");
    assert!(!matches!(
        check(&b, "/orders/1", Some(&token), NOW),
        Outcome::Allow { .. }
    ));
}

#[test]
fn a_raised_max_token_size_is_honoured_by_extraction() {
    let k = Key::new("k1");
    let mut validation = edge_auth::jwt::Validation::default();
    validation.max_token_size = 32 * 1024;
    let g = gate(vec![issuer(ISS).with_validation(validation)]);
    let mut c = claims(ISS, &["reader"]);
    // Past the 16 KiB extraction default (it was 8 KiB when written).
    c["padding"] = json!("x".repeat(20 * 1024));
    let token = k.sign(&c);
    assert!(token.len() > 8 * 1024);
    assert!(token.len() > edge_auth::extract::DEFAULT_MAX_TOKEN_LEN);
    let ok = check_fetching(&g, "/orders/1", &token, &jwks(&[&k]));
    assert!(matches!(ok, Outcome::Allow { .. }), "{ok:?}");
}

#[test]
fn token_on_anonymous_route_with_unavailable_keys_is_503_not_anonymous() {
    // Passing it as anonymous would hand an unverified token to the origin.
    let k = Key::new("k1");
    let g = gate(vec![issuer(ISS)]);
    let token = k.sign(&claims(ISS, &[]));
    let plan = fetch(check(&g, "/health", Some(&token), NOW));
    g.apply_fetch_failure(&plan, "connection refused", NOW);
    let r = deny(check(&g, "/health", Some(&token), NOW));
    assert_eq!(r.kind(), RejectionKind::Unavailable);
    let wait = r
        .retry_after()
        .expect("a 503 from a key outage says when to retry");
    assert!((1..=3600).contains(&wait), "{wait}");
    assert_eq!(
        r.to_response().headers()["retry-after"],
        wait.to_string().as_str()
    );
    assert!(matches!(
        check(&g, "/health", None, NOW),
        Outcome::Allow { .. }
    ));
}

#[test]
fn importing_an_older_state_does_not_roll_keys_back() {
    let old = Key::new("old");
    let new = Key::new("new");
    let g = gate(vec![issuer(ISS)]);
    let token_old = old.sign(&claims(ISS, &["reader"]));
    let plan = fetch(check(&g, "/orders/1", Some(&token_old), NOW));
    serve(&g, &plan, &jwks(&[&old]), NOW);
    let saved = g.export_state(ISS).unwrap();
    // The issuer rotates; this process fetches the new set.
    let t1 = NOW + Duration::minutes(10);
    let token_new = new.sign(&claims(ISS, &["reader"]));
    let plan = fetch(check(&g, "/orders/1", Some(&token_new), t1));
    serve(&g, &plan, &jwks(&[&new]), t1);
    // A stale copy of the state (saved before the rotation) is imported.
    let t2 = t1 + Duration::minutes(1);
    g.import_state(ISS, &saved, t2).unwrap();
    assert!(matches!(
        check(&g, "/orders/1", Some(&token_new), t2),
        Outcome::Allow { .. }
    ));
    assert!(!matches!(
        check(&g, "/orders/1", Some(&token_old), t2),
        Outcome::Allow { .. }
    ));
}

#[test]
fn unverified_kid_in_the_audit_reason_is_escaped_and_clipped() {
    let k = Key::new("k1");
    let g = gate(vec![issuer(ISS)]);
    let good = k.sign(&claims(ISS, &["reader"]));
    assert!(matches!(
        check_fetching(&g, "/orders/1", &good, &jwks(&[&k])),
        Outcome::Allow { .. }
    ));
    let kid = format!("nope\nlevel=info msg=allowed{}", "z".repeat(3000));
    let forged = k.sign_with_header(
        &json!({"alg": "ES256", "typ": "JWT", "kid": kid}),
        &claims(ISS, &["reader"]),
    );
    let r = deny(check(&g, "/orders/1", Some(&forged), NOW));
    assert_eq!(r.kind(), RejectionKind::InvalidToken);
    let reason = r.reason().unwrap();
    assert!(!reason.contains('\n'), "{reason}");
    assert!(reason.len() < 1024, "{} bytes", reason.len());
}

/// A verified claims set with JSON a `Value` cannot hold (a number beyond
/// f64, a lone surrogate) is refused as malformed, never mapped from an empty
/// claims map into a principal without subject or roles.
#[test]
fn unrepresentable_claims_are_refused() {
    let k = Key::new("k1");
    let g = gate(vec![issuer(ISS)]);
    let exp = (NOW + Duration::hours(1)).unix_timestamp();
    for extra in [r#""big":1e400"#, r#""odd":"\ud800""#] {
        let claims = format!(
            r#"{{"iss":"{ISS}","aud":"{AUD}","sub":"user-1","roles":["admin"],"exp":{exp},{extra}}}"#
        );
        let token = k.sign_raw(&format!(r#"{{"alg":"ES256","kid":"{}"}}"#, k.kid), &claims);
        // Signed, but the claims cannot be read as a map: no principal
        // with an empty identity, a 401 like any malformed claims set.
        let r = deny(check_fetching(&g, "/health", &token, &jwks(&[&k])));
        assert_eq!(r.kind(), RejectionKind::InvalidToken, "{extra}");
        let r = deny(check(&g, "/admin/x", Some(&token), NOW));
        assert_eq!(r.kind(), RejectionKind::InvalidToken, "{extra}");
    }
}

/// Answers `plan` with a discovery document for another issuer, which the
/// gate must refuse.
fn refused_discovery(g: &Gate, plan: &FetchPlan, now: OffsetDateTime) -> bool {
    let evil =
        json!({"issuer": "https://evil.example.com", "jwks_uri": "https://evil.example.com/k"});
    g.apply_fetch_response(
        plan,
        StatusCode::OK,
        &HeaderMap::new(),
        evil.to_string().as_bytes(),
        now,
    )
    .is_err()
}

fn discovered_issuer() -> IssuerConfig {
    IssuerConfig::new(ISS, [AUD])
        .with_roles(RoleMapper::new().with_source(ClaimSource::roles("roles").unwrap()))
}

fn discovery_doc(jwks_uri: &str) -> Vec<u8> {
    json!({"issuer": ISS, "jwks_uri": jwks_uri})
        .to_string()
        .into_bytes()
}

/// Runs `poll` every 30 minutes over `(from, to]`, serving key set plans
/// with `keys`; returns the discovery plans handed out, unanswered.
fn poll_until(
    g: &Gate,
    from: OffsetDateTime,
    to: OffsetDateTime,
    keys: &[u8],
) -> Vec<(OffsetDateTime, FetchPlan)> {
    let mut discovery = Vec::new();
    let mut now = from;
    while now < to {
        now = (now + Duration::minutes(30)).min(to);
        for plan in g.poll(now) {
            match plan.kind() {
                FetchKind::Jwks => serve(g, &plan, keys, now),
                _ => discovery.push((now, plan)),
            }
        }
    }
    discovery
}

#[test]
fn poll_discovers_a_cold_issuer_before_any_request() {
    let k = Key::new("k1");
    let g = gate(vec![discovered_issuer()]);
    let plans = g.poll(NOW);
    assert_eq!(plans.len(), 1, "{plans:?}");
    assert_eq!(plans[0].kind(), FetchKind::Discovery);
    assert!(g.poll(NOW).is_empty(), "handed out once while in flight");
    // A request meanwhile joins the fetch that is out.
    let token = k.sign(&claims(ISS, &["reader"]));
    assert!(fetch(check(&g, "/orders/1", Some(&token), NOW)).is_in_flight());
    serve(
        &g,
        &plans[0],
        &discovery_doc("https://keys.example.com/a"),
        NOW,
    );
    // Then the key set, still before any request waits for it.
    let plans = g.poll(NOW);
    assert_eq!(plans.len(), 1, "{plans:?}");
    assert_eq!(plans[0].kind(), FetchKind::Jwks);
    assert_eq!(plans[0].url(), "https://keys.example.com/a");
    serve(&g, &plans[0], &jwks(&[&k]), NOW);
    assert!(matches!(
        check(&g, "/orders/1", Some(&token), NOW),
        Outcome::Allow { .. }
    ));
}

#[test]
fn discovery_is_refreshed_and_a_moved_jwks_uri_is_followed() {
    let (k1, k2) = (Key::new("k1"), Key::new("k2"));
    let g = gate(vec![discovered_issuer()]);
    let mut c = claims(ISS, &["reader"]);
    c["exp"] = json!((NOW + Duration::days(3)).unix_timestamp());
    let (t1, t2) = (k1.sign(&c), k2.sign(&c));
    let plan = fetch(check(&g, "/orders/1", Some(&t1), NOW));
    serve(&g, &plan, &discovery_doc("https://keys.example.com/a"), NOW);
    let plan = fetch(check(&g, "/orders/1", Some(&t1), NOW));
    serve(&g, &plan, &jwks(&[&k1]), NOW);

    // No discovery refresh within the 24 h default; one at 24 h, once.
    let day = NOW + Duration::hours(24);
    let due = poll_until(&g, NOW, day, &jwks(&[&k1]));
    assert_eq!(due.len(), 1, "{due:?}");
    let (at, plan) = &due[0];
    assert_eq!(*at, day);
    assert_eq!(plan.kind(), FetchKind::Discovery);
    assert_eq!(
        plan.url(),
        "https://idp.example.com/.well-known/openid-configuration"
    );
    // The same endpoint: the key set in use stays, no request waits.
    serve(&g, plan, &discovery_doc("https://keys.example.com/a"), day);
    assert!(matches!(
        check(&g, "/orders/1", Some(&t1), day),
        Outcome::Allow { .. }
    ));

    // A day later the IdP has moved its keys: the next request fetches
    // from the new endpoint, whose keys alone verify from then on.
    let two_days = day + Duration::hours(24);
    let due = poll_until(&g, day, two_days, &jwks(&[&k1]));
    assert_eq!(due.len(), 1, "{due:?}");
    serve(
        &g,
        &due[0].1,
        &discovery_doc("https://keys.example.com/b"),
        two_days,
    );
    let plan = fetch(check(&g, "/orders/1", Some(&t2), two_days));
    assert_eq!(plan.kind(), FetchKind::Jwks);
    assert_eq!(plan.url(), "https://keys.example.com/b");
    serve(&g, &plan, &jwks(&[&k2]), two_days);
    assert!(matches!(
        check(&g, "/orders/1", Some(&t2), two_days),
        Outcome::Allow { .. }
    ));
    let r = deny(check(&g, "/orders/1", Some(&t1), two_days));
    assert_eq!(r.kind(), RejectionKind::InvalidToken, "{r:?}");
}

#[test]
fn a_failed_discovery_refresh_keeps_the_keys_and_retries_later() {
    let k = Key::new("k1");
    let g = gate(vec![discovered_issuer()]);
    let mut c = claims(ISS, &["reader"]);
    c["exp"] = json!((NOW + Duration::days(3)).unix_timestamp());
    let token = k.sign(&c);
    let plan = fetch(check(&g, "/orders/1", Some(&token), NOW));
    serve(&g, &plan, &discovery_doc("https://keys.example.com/a"), NOW);
    let plan = fetch(check(&g, "/orders/1", Some(&token), NOW));
    serve(&g, &plan, &jwks(&[&k]), NOW);
    let day = NOW + Duration::hours(24);
    let due = poll_until(&g, NOW, day, &jwks(&[&k]));
    assert_eq!(due.len(), 1, "{due:?}");

    // The IdP is down: keys keep serving, the retry waits 30 s.
    g.apply_fetch_failure(&due[0].1, "connection refused", day);
    assert!(matches!(
        check(&g, "/orders/1", Some(&token), day),
        Outcome::Allow { .. }
    ));
    let soon = day + Duration::seconds(10);
    assert!(
        g.poll(soon)
            .iter()
            .all(|p| p.kind() != FetchKind::Discovery)
    );
    let retry = day + Duration::seconds(31);
    let plan = g
        .poll(retry)
        .into_iter()
        .find(|p| p.kind() == FetchKind::Discovery)
        .expect("discovery retried after the delay");

    // A document for another issuer is refused; the keys still serve.
    assert!(refused_discovery(&g, &plan, retry));
    assert!(matches!(
        check(&g, "/orders/1", Some(&token), retry),
        Outcome::Allow { .. }
    ));
    assert_eq!(
        g.export_state(ISS).unwrap().jwks_uri(),
        "https://keys.example.com/a"
    );
}

#[test]
fn discovery_refresh_must_be_positive() {
    let mut config = GateConfig::new([issuer(ISS)]);
    config.discovery_refresh = Duration::ZERO;
    let err = Gate::new(config).unwrap_err().to_string();
    assert!(err.contains("discovery refresh must be positive"), "{err}");
}

const COGNITO_ISS: &str = "https://cognito-idp.us-west-2.amazonaws.com/us-west-2_example";
const COGNITO_CLIENT: &str = "1example23456789";

/// An Amazon Cognito access token (the shape AWS documents): `client_id`
/// and `token_use`, no `aud`.
fn cognito_access(client_id: &str, token_use: &str) -> Value {
    json!({
        "sub": "aaaaaaaa-bbbb-cccc-dddd-eeeeeeeeeeee",
        "cognito:groups": ["reader"],
        "iss": COGNITO_ISS,
        "version": 2,
        "client_id": client_id,
        "origin_jti": "aaaaaaaa-bbbb-cccc-dddd-eeeeeeeeeeee",
        "event_id": "aaaaaaaa-bbbb-cccc-dddd-eeeeeeeeeeee",
        "token_use": token_use,
        "scope": "aws.cognito.signin.user.admin",
        "auth_time": NOW.unix_timestamp(),
        "iat": NOW.unix_timestamp(),
        "exp": (NOW + Duration::hours(1)).unix_timestamp(),
        "jti": "aaaaaaaa-bbbb-cccc-dddd-eeeeeeeeeeee",
        "username": "my-test-user"
    })
}

/// Issue 15 item 9: Cognito access tokens carry `client_id` and
/// `token_use: "access"` and no `aud`. An issuer configured to match its
/// audiences against `client_id` (IssuerConfig builders, or the
/// `Validation::cognito_access` preset) accepts them; a token for another
/// client, an ID token or a token with another `token_use` is refused.
#[test]
fn cognito_access_tokens_are_checked_by_client_id_and_token_use() {
    use edge_auth::jwt::{AudienceClaim, Validation};
    let k = Key::new("k1");
    let body = jwks(&[&k]);
    let base = || {
        IssuerConfig::new(COGNITO_ISS, [COGNITO_CLIENT])
            .with_jwks_uri(format!("{COGNITO_ISS}/.well-known/jwks.json"))
            .with_roles(RoleMapper::cognito())
    };
    let by_builders = base()
        .with_audience_claim(AudienceClaim::ClientId)
        .with_token_use("access");
    let by_preset = base().with_validation(Validation::cognito_access());
    for config in [by_builders, by_preset] {
        let g = gate(vec![config]);
        let ok = check_fetching(
            &g,
            "/orders/1",
            &k.sign(&cognito_access(COGNITO_CLIENT, "access")),
            &body,
        );
        assert!(matches!(ok, Outcome::Allow { .. }), "{ok:?}");

        // Another app client of the same pool.
        let r = deny(check_fetching(
            &g,
            "/orders/1",
            &k.sign(&cognito_access("another-client", "access")),
            &body,
        ));
        assert_eq!(r.kind(), RejectionKind::InvalidToken);
        assert!(r.reason().unwrap().contains("client_id"), "{r:?}");
        // An ID token: `aud` is the client id, no `client_id`, `token_use` id.
        let mut id_token = cognito_access(COGNITO_CLIENT, "id");
        id_token["aud"] = json!(COGNITO_CLIENT);
        id_token.as_object_mut().unwrap().remove("client_id");
        let r = deny(check_fetching(&g, "/orders/1", &k.sign(&id_token), &body));
        assert_eq!(r.kind(), RejectionKind::InvalidToken);
        // The right client, the wrong token use.
        let r = deny(check_fetching(
            &g,
            "/orders/1",
            &k.sign(&cognito_access(COGNITO_CLIENT, "id")),
            &body,
        ));
        assert!(r.reason().unwrap().contains("token_use"), "{r:?}");
        // `client_id` present and right, but an `aud` too: refused (it names
        // another recipient this one cannot match).
        let mut both = cognito_access(COGNITO_CLIENT, "access");
        both["aud"] = json!("api://someone-else");
        let r = deny(check_fetching(&g, "/orders/1", &k.sign(&both), &body));
        assert_eq!(r.kind(), RejectionKind::InvalidToken);
    }
}

#[test]
fn gate_error_keeps_the_key_machine_error_as_source() {
    use edge_auth::gate::GateError;
    use edge_auth::jwk::KeysError;
    use std::error::Error as _;
    let err = Gate::new(GateConfig::new([
        IssuerConfig::new(ISS, [AUD]).with_jwks_uri("http://keys.example.com/jwks")
    ]))
    .unwrap_err();
    assert!(matches!(err, GateError::Keys { .. }), "{err}");
    let source = err.source().unwrap();
    assert!(source.downcast_ref::<KeysError>().is_some(), "{source}");
    assert!(err.to_string().contains("jwks uri"), "{err}");
    // `?` into the crate error and into `Box<dyn Error>` keeps working.
    let boxed: Box<dyn std::error::Error> = err.into();
    assert!(boxed.to_string().starts_with("issuer `"), "{boxed}");
}

#[test]
fn fetch_answer_for_an_unknown_issuer_is_refused() {
    let g = gate(vec![issuer(ISS)]);
    let err = g
        .apply_jwks_response(
            "https://nope.example.com",
            StatusCode::OK,
            &HeaderMap::new(),
            b"{}",
            NOW,
        )
        .unwrap_err();
    assert!(
        matches!(err, edge_auth::gate::GateError::UnknownIssuer { .. }),
        "{err}"
    );
}

// ---- rate limits (issue 17) ----

fn limited_policy() -> Policy {
    Policy::from_json(
        &json!({"rules": [
            {"id": "login", "match": {"paths": ["/login"]}, "require": {"anonymous": true},
             "effect": "allow",
             "limits": [{"id": "per-net", "key": "ip", "rate": "2/60s", "burst": 2}]},
            {"id": "orders", "match": {"paths": ["/orders/**"]}, "require": {"any_roles": ["reader"]},
             "effect": "allow",
             "limits": [
                {"id": "per-route", "key": "route", "rate": "1000/s"},
                {"id": "per-user", "key": "subject", "rate": "3/60s", "burst": 3}
             ]},
        ]})
        .to_string(),
    )
    .unwrap()
}

fn limited_gate(tweak: impl FnOnce(GateConfig) -> GateConfig) -> Gate {
    let config = GateConfig::new([issuer(ISS)]).with_policy(limited_policy().compile().unwrap());
    Gate::new(tweak(config)).unwrap()
}

fn allow(outcome: Outcome) -> edge_auth::policy::Decision {
    match outcome {
        Outcome::Allow { decision, .. } => decision,
        other => panic!("expected Allow, got {other:?}"),
    }
}

fn user_token(key: &Key, sub: &str) -> String {
    let mut c = claims(ISS, &["reader"]);
    c["sub"] = json!(sub);
    key.sign(&c)
}

#[test]
fn rate_limit_burst_plus_one_is_429_with_retry_after_and_ratelimit_headers() {
    let key = Key::new("k1");
    let gate = limited_gate(|c| c);
    let token = user_token(&key, "alice");
    let body = jwks(&[&key]);
    for i in 0..3u32 {
        let d = allow(check_fetching(&gate, "/orders/1", &token, &body));
        let per_user = d.rate_limits.iter().find(|r| r.id == "per-user").unwrap();
        assert_eq!(per_user.remaining, 2 - i);
    }
    let r = deny(check(&gate, "/orders/1", Some(&token), NOW));
    assert_eq!(r.kind(), RejectionKind::TooManyRequests);
    assert_eq!(r.limit(), Some("per-user"));
    assert_eq!(r.rule(), Some("orders"));
    let response = r.to_response();
    assert_eq!(response.status(), StatusCode::TOO_MANY_REQUESTS);
    let h = response.headers();
    assert_eq!(h["retry-after"], "20");
    assert_eq!(
        h["ratelimit-policy"],
        r#""per-route";q=1000;w=1, "per-user";q=3;w=60"#
    );
    assert_eq!(
        h["ratelimit"],
        r#""per-route";r=996;t=1, "per-user";r=0;t=20"#
    );
    assert!(h.get("www-authenticate").is_none());
    let audit = serde_json::to_value(&r).unwrap();
    assert_eq!(audit["limit"], "per-user");
    assert_eq!(audit["subject"], "alice");
}

#[test]
fn rate_limit_allowed_decision_carries_ratelimit_headers() {
    let key = Key::new("k1");
    let gate = limited_gate(|c| c);
    let d = allow(check_fetching(
        &gate,
        "/orders/1",
        &user_token(&key, "alice"),
        &jwks(&[&key]),
    ));
    let mut headers = HeaderMap::new();
    d.apply_rate_limit_headers(&mut headers);
    assert_eq!(
        headers["ratelimit-policy"],
        r#""per-route";q=1000;w=1, "per-user";q=3;w=60"#
    );
    assert_eq!(
        headers["ratelimit"],
        r#""per-route";r=999;t=1, "per-user";r=2;t=20"#
    );
    let audit = serde_json::to_value(&d).unwrap();
    assert_eq!(audit["rate_limits"][1]["id"], "per-user");
}

#[test]
fn rate_limit_counts_each_subject_apart() {
    let key = Key::new("k1");
    let gate = limited_gate(|c| c);
    let body = jwks(&[&key]);
    let alice = user_token(&key, "alice");
    for _ in 0..3 {
        allow(check_fetching(&gate, "/orders/1", &alice, &body));
    }
    assert_eq!(
        deny(check(&gate, "/orders/1", Some(&alice), NOW)).status(),
        StatusCode::TOO_MANY_REQUESTS
    );
    allow(check(
        &gate,
        "/orders/1",
        Some(&user_token(&key, "bob")),
        NOW,
    ));
}

#[test]
fn rate_limit_admits_again_after_retry_after() {
    let key = Key::new("k1");
    let gate = limited_gate(|c| c);
    let token = user_token(&key, "alice");
    let body = jwks(&[&key]);
    for _ in 0..3 {
        allow(check_fetching(&gate, "/orders/1", &token, &body));
    }
    let r = deny(check(&gate, "/orders/1", Some(&token), NOW));
    let after = Duration::seconds(i64::try_from(r.retry_after().unwrap()).unwrap());
    allow(check(&gate, "/orders/1", Some(&token), NOW + after));
}

#[test]
fn rate_limit_by_ip_on_an_anonymous_route() {
    let gate = limited_gate(|c| c);
    let parts = request("/login", None);
    let from = |ip: &str| {
        let facts = RequestFacts::from_parts(&parts).with_client_ip(ip.parse().unwrap());
        gate.check(&parts, &facts, NOW)
    };
    allow(from("2001:db8:1:2::1"));
    allow(from("2001:db8:1:2::99"));
    // The same /64: its third request is over the burst of 2.
    let r = deny(from("2001:db8:1:2:ffff::1"));
    assert_eq!(r.limit(), Some("per-net"));
    allow(from("2001:db8:1:3::1"));
}

#[test]
fn rate_limit_uses_the_configured_store() {
    use edge_auth::limit::{LimitStore, MemoryStore};
    let store = std::sync::Arc::new(MemoryStore::default());
    let shared: std::sync::Arc<dyn LimitStore> = store.clone();
    let gate = limited_gate(|c| c.with_limit_store(shared));
    let parts = request("/login", None);
    let facts = RequestFacts::from_parts(&parts).with_client_ip("192.0.2.1".parse().unwrap());
    allow(gate.check(&parts, &facts, NOW));
    assert_eq!(store.len(), 1);
    // A second gate on the same store (another replica) sees the count.
    let other = limited_gate(|c| c.with_limit_store(store.clone()));
    allow(other.check(&parts, &facts, NOW));
    assert_eq!(
        deny(gate.check(&parts, &facts, NOW)).status(),
        StatusCode::TOO_MANY_REQUESTS
    );
}

#[derive(Debug)]
struct DownStore;

impl edge_auth::limit::LimitStore for DownStore {
    fn update(
        &self,
        _key: &str,
        _now: OffsetDateTime,
        _f: &mut dyn FnMut(Option<edge_auth::limit::Tat>) -> Option<edge_auth::limit::Tat>,
    ) -> Result<(), edge_auth::limit::LimitError> {
        Err(edge_auth::limit::LimitError::Store {
            reason: "connection refused".to_owned(),
        })
    }
}

#[test]
fn rate_limit_store_failure_is_503_by_default() {
    let gate = limited_gate(|c| c.with_limit_store(std::sync::Arc::new(DownStore)));
    let parts = request("/login", None);
    let r = deny(gate.check(&parts, &RequestFacts::from_parts(&parts), NOW));
    assert_eq!(r.status(), StatusCode::SERVICE_UNAVAILABLE);
    assert!(r.reason().unwrap().contains("connection refused"), "{r:?}");
}

#[test]
fn rate_limit_store_failure_fails_open_when_configured() {
    let gate = limited_gate(|c| {
        c.with_limit_store(std::sync::Arc::new(DownStore))
            .with_limit_fail_open(true)
    });
    let parts = request("/login", None);
    let d = allow(gate.check(&parts, &RequestFacts::from_parts(&parts), NOW));
    assert!(d.rate_limits.is_empty());
}

#[test]
fn rate_limit_not_checked_on_a_denied_request() {
    let key = Key::new("k1");
    let gate = limited_gate(|c| c);
    let body = jwks(&[&key]);
    let mut c = claims(ISS, &["nobody"]);
    c["sub"] = json!("alice");
    let no_role = key.sign(&c);
    for _ in 0..10 {
        let r = deny(check_fetching(&gate, "/orders/1", &no_role, &body));
        assert_eq!(r.status(), StatusCode::FORBIDDEN);
    }
    // Alice's burst is untouched.
    allow(check(
        &gate,
        "/orders/1",
        Some(&user_token(&key, "alice")),
        NOW,
    ));
}

// ---- rate limits against an external store: the staged pair (issue 17) ----

/// `check_staged` / `finish_limits` with `store` standing for an external
/// store, fulfilling FetchKeys from `body` (when given) on the way.
fn staged(
    gate: &Gate,
    store: &dyn edge_auth::limit::LimitStore,
    parts: &http::request::Parts,
    facts: &RequestFacts<'_>,
    body: Option<&[u8]>,
) -> Outcome {
    use edge_auth::gate::Staged;
    for _ in 0..3 {
        match gate.check_staged(parts, facts, NOW) {
            Staged::Done(Outcome::FetchKeys(plan)) if body.is_some() => {
                serve(gate, &plan, body.unwrap_or_default(), NOW);
            }
            Staged::Done(outcome) => return outcome,
            Staged::Limits(pending) => {
                let answers: Vec<_> = pending
                    .calls()
                    .iter()
                    .map(|c| store.check(c.key(), c.limit(), NOW))
                    .collect();
                return gate.finish_limits(pending, answers, parts, facts);
            }
        }
    }
    panic!("gate kept asking for keys")
}

#[test]
fn staged_limits_answer_as_check_does() {
    let key = Key::new("k1");
    let body = jwks(&[&key]);
    let token = user_token(&key, "alice");
    let sync_gate = limited_gate(|c| c);
    let staged_gate = limited_gate(|c| c);
    let store = edge_auth::limit::MemoryStore::default();
    let parts = request("/orders/1", Some(&token));
    let facts = RequestFacts::from_parts(&parts);
    for _ in 0..3 {
        let a = allow(check_fetching(&sync_gate, "/orders/1", &token, &body));
        let b = allow(staged(&staged_gate, &store, &parts, &facts, Some(&body)));
        assert_eq!(a.rate_limits, b.rate_limits);
    }
    let a = deny(check(&sync_gate, "/orders/1", Some(&token), NOW));
    let b = deny(staged(&staged_gate, &store, &parts, &facts, None));
    assert_eq!(b.limit(), Some("per-user"));
    assert_eq!(
        serde_json::to_value(&b).unwrap()["subject"],
        serde_json::to_value(&a).unwrap()["subject"]
    );
    let (a, b) = (a.to_response(), b.to_response());
    assert_eq!(b.status(), StatusCode::TOO_MANY_REQUESTS);
    for h in ["retry-after", "ratelimit", "ratelimit-policy"] {
        assert_eq!(a.headers()[h], b.headers()[h], "{h}");
    }
}

#[test]
fn staged_rule_without_limits_is_done() {
    let gate = gate(vec![issuer(ISS)]);
    let parts = request("/health", None);
    match gate.check_staged(&parts, &RequestFacts::from_parts(&parts), NOW) {
        edge_auth::gate::Staged::Done(Outcome::Allow { .. }) => {}
        other => panic!("expected Done(Allow), got {other:?}"),
    }
}

#[test]
fn staged_limits_hand_over_keys_and_limits_in_rule_order() {
    let key = Key::new("k1");
    let body = jwks(&[&key]);
    let gate = limited_gate(|c| c);
    // Fetch the keys first, through the sync check of another subject.
    allow(check_fetching(
        &gate,
        "/orders/1",
        &user_token(&key, "warm"),
        &body,
    ));
    let parts = request("/orders/1", Some(&user_token(&key, "alice")));
    match gate.check_staged(&parts, &RequestFacts::from_parts(&parts), NOW) {
        edge_auth::gate::Staged::Limits(pending) => {
            let calls: Vec<_> = pending.calls().iter().map(|c| (c.id(), c.key())).collect();
            assert_eq!(
                calls,
                [
                    ("per-route", "per-route/route:orders"),
                    ("per-user", "per-user/sub:alice")
                ]
            );
            assert_eq!(
                pending.principal().unwrap().subject.as_deref(),
                Some("alice")
            );
            assert_eq!(pending.calls()[1].limit().burst(), 3);
        }
        other => panic!("expected Limits, got {other:?}"),
    }
}

#[test]
fn staged_limits_store_failure_is_503_by_default() {
    let gate = limited_gate(|c| c);
    let parts = request("/login", None);
    let facts = RequestFacts::from_parts(&parts);
    let r = deny(staged(&gate, &DownStore, &parts, &facts, None));
    assert_eq!(r.status(), StatusCode::SERVICE_UNAVAILABLE);
    assert!(r.reason().unwrap().contains("connection refused"), "{r:?}");
}

#[test]
fn staged_limits_store_failure_fails_open_when_configured() {
    let gate = limited_gate(|c| c.with_limit_fail_open(true));
    let parts = request("/login", None);
    let facts = RequestFacts::from_parts(&parts);
    let d = allow(staged(&gate, &DownStore, &parts, &facts, None));
    assert!(d.rate_limits.is_empty());
}

#[test]
fn staged_limits_missing_answers_are_a_store_failure() {
    let gate = limited_gate(|c| c);
    let parts = request("/login", None);
    let facts = RequestFacts::from_parts(&parts);
    let edge_auth::gate::Staged::Limits(pending) = gate.check_staged(&parts, &facts, NOW) else {
        panic!("expected Limits");
    };
    let r = deny(gate.finish_limits(pending, Vec::new(), &parts, &facts));
    assert_eq!(r.status(), StatusCode::SERVICE_UNAVAILABLE);
    assert!(r.reason().unwrap().contains("answered 0 of 1"), "{r:?}");
}

/// `Principal::claims` holds every claim of the verified token, including
/// those the role mapper does not read (the gate reads only the mapper's
/// claims up front and the rest on first access), and a policy condition
/// on such a claim decides.
#[test]
fn principal_claims_hold_every_claim_and_policy_conditions_read_them() {
    let k = Key::new("k1");
    let mut claims = claims(ISS, &["reader"]);
    let extra = json!({
        "department": "sales", "n\u{e9}e": "escaped-name", "nested": {"deep": [1, 2.5, null, true]},
        "big": 12345678901234567u64,
    });
    for (name, value) in extra.as_object().unwrap() {
        claims[name] = value.clone();
    }
    let token = k.sign(&claims);
    let policy = Policy::from_json(
        &json!({"rules": [
            {"id": "sales", "match": {"paths": ["/sales"]},
             "require": {"claims": [{"claim": "/department", "equals": "sales"}]}, "effect": "allow"},
            {"id": "hr", "match": {"paths": ["/hr"]},
             "require": {"claims": [{"claim": "/department", "equals": "hr"}]}, "effect": "allow"},
        ]})
        .to_string(),
    )
    .unwrap();
    let g = Gate::new(GateConfig::new(vec![issuer(ISS)]).with_policy(policy.compile().unwrap()))
        .unwrap();
    match check_fetching(&g, "/sales", &token, &jwks(&[&k])) {
        Outcome::Allow { principal, .. } => {
            let p = principal.unwrap();
            assert_eq!(&*p.claims, claims.as_object().unwrap());
            assert_eq!(p.claims.get("department"), Some(&json!("sales")));
        }
        other => panic!("{other:?}"),
    }
    assert_eq!(
        deny(check(&g, "/hr", Some(&token), NOW)).status(),
        StatusCode::FORBIDDEN
    );
}

/// With `keep_claims = false` the principal carries no claims.
#[test]
fn principal_without_kept_claims_is_empty() {
    let k = Key::new("k1");
    let mut roles = RoleMapper::new().with_source(ClaimSource::roles("roles").unwrap());
    roles.keep_claims = false;
    let g = gate(vec![issuer(ISS).with_roles(roles)]);
    let token = k.sign(&claims(ISS, &["reader"]));
    match check_fetching(&g, "/orders/1", &token, &jwks(&[&k])) {
        Outcome::Allow { principal, .. } => {
            let p = principal.unwrap();
            assert!(p.claims.is_empty());
            assert!(p.has_role("reader"));
            assert_eq!(p.subject.as_deref(), Some("user-1"));
        }
        other => panic!("{other:?}"),
    }
}
