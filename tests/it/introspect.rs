//! Token introspection (RFC 7662): the request (§2.1), the strict reading
//! of the answer (§2.2), the cache rules, and the gate's routing of opaque
//! tokens. One named test per rule. The loopback test against the dev
//! issuer's endpoint is in `introspect_loopback`.

use std::sync::Arc;

use base64::Engine as _;
use edge_auth::Secret;
use edge_auth::gate::{FetchKind, Gate, GateConfig, IssuerConfig, Outcome};
use edge_auth::introspect::{
    IntrospectError, Introspection, IntrospectionConfig, IntrospectionRequest, Introspector, Lookup,
};
use edge_auth::jwk::discovery::{DiscoveryOptions, ProviderMetadata};
use edge_auth::oauth::ClientAuth;
use edge_auth::policy::RequestFacts;
use http::{HeaderMap, HeaderValue, StatusCode, header};
use serde_json::json;
use time::macros::datetime;
use time::{Duration, OffsetDateTime};

const ENDPOINT: &str = "https://idp.example.com/oauth2/introspect";
const ISSUER: &str = "https://idp.example.com";
const AUDIENCE: &str = "api://orders";
const TOKEN: &str = "2YotnFZFEjr1zCsicMWpAA";
const NOW: OffsetDateTime = datetime!(2026-11-23 10:00:00 UTC);

fn config() -> IntrospectionConfig {
    IntrospectionConfig::new(
        ENDPOINT,
        "gateway",
        ClientAuth::secret_basic(Secret::new("s3cret".to_owned())),
    )
    .unwrap()
    .with_issuer(ISSUER)
    .with_audiences([AUDIENCE])
}

fn introspector() -> Introspector {
    Introspector::new(config()).unwrap()
}

fn json_headers() -> HeaderMap {
    content_type("application/json")
}

/// An active answer for `ISSUER` / `AUDIENCE` expiring `exp_in` after NOW.
fn active(exp_in: Duration) -> Vec<u8> {
    json!({
        "active": true, "sub": "alice", "scope": "orders:read orders:write",
        "client_id": "spa", "iss": ISSUER, "aud": AUDIENCE,
        "exp": (NOW + exp_in).unix_timestamp(), "iat": NOW.unix_timestamp(),
    })
    .to_string()
    .into_bytes()
}

fn fetch(i: &mut Introspector, token: &str, now: OffsetDateTime) -> IntrospectionRequest {
    match i.lookup(token, now).unwrap() {
        Lookup::Fetch(plan) => plan,
        other => panic!("expected a fetch, got {other:?}"),
    }
}

/// `i`'s reading of `status`, `headers` and `body` answering its plan for
/// TOKEN at NOW.
fn answer_to(
    mut i: Introspector,
    status: StatusCode,
    headers: &HeaderMap,
    body: &[u8],
) -> Result<Introspection, IntrospectError> {
    let plan = fetch(&mut i, TOKEN, NOW);
    i.apply(&plan, status, headers, body, NOW)
}

/// The default introspector's reading of a 200 JSON `body`.
fn answer(body: &[u8]) -> Result<Introspection, IntrospectError> {
    answer_to(introspector(), StatusCode::OK, &json_headers(), body)
}

/// [`answer`] for a JSON value.
fn answer_json(body: &serde_json::Value) -> Result<Introspection, IntrospectError> {
    answer(body.to_string().as_bytes())
}

fn content_type(value: &'static str) -> HeaderMap {
    let mut headers = HeaderMap::new();
    headers.insert(header::CONTENT_TYPE, HeaderValue::from_static(value));
    headers
}

fn form(plan: &IntrospectionRequest) -> Vec<(String, String)> {
    let request = plan.to_request();
    url::form_urlencoded::parse(request.body())
        .into_owned()
        .collect()
}

// ---- RFC 7662 §2.1: the request ----

#[test]
fn request_is_a_form_post_of_token_and_hint() {
    let plan = introspector().plan(TOKEN, NOW).unwrap();
    let request = plan.to_request();
    assert_eq!(request.method(), http::Method::POST);
    assert_eq!(request.uri(), ENDPOINT);
    assert_eq!(
        request.headers()[header::CONTENT_TYPE],
        "application/x-www-form-urlencoded"
    );
    assert_eq!(request.headers()[header::ACCEPT], "application/json");
    assert_eq!(
        form(&plan),
        vec![
            ("token".to_owned(), TOKEN.to_owned()),
            ("token_type_hint".to_owned(), "access_token".to_owned())
        ]
    );
}

#[test]
fn request_authenticates_with_client_secret_basic() {
    let plan = introspector().plan(TOKEN, NOW).unwrap();
    let request = plan.to_request();
    let value = &request.headers()[header::AUTHORIZATION];
    assert!(value.is_sensitive());
    let expected = base64::engine::general_purpose::STANDARD.encode("gateway:s3cret");
    assert_eq!(value.to_str().unwrap(), format!("Basic {expected}"));
}

#[test]
fn request_authenticates_with_client_secret_post() {
    let mut config = config();
    config.auth = ClientAuth::secret_post(Secret::new("s3cret".to_owned()));
    let plan = Introspector::new(config).unwrap().plan(TOKEN, NOW).unwrap();
    assert!(
        plan.to_request()
            .headers()
            .get(header::AUTHORIZATION)
            .is_none()
    );
    let form = form(&plan);
    assert!(form.contains(&("client_id".to_owned(), "gateway".to_owned())));
    assert!(form.contains(&("client_secret".to_owned(), "s3cret".to_owned())));
}

#[test]
fn request_authenticates_with_a_client_assertion() {
    let mut config = config();
    config.auth = ClientAuth::assertion(|aud: &str, _now: OffsetDateTime| {
        assert_eq!(aud, ENDPOINT);
        Ok(Secret::new("assertion.jwt.here".to_owned()))
    });
    let plan = Introspector::new(config).unwrap().plan(TOKEN, NOW).unwrap();
    let form = form(&plan);
    assert!(form.contains(&(
        "client_assertion".to_owned(),
        "assertion.jwt.here".to_owned()
    )));
    assert!(form.contains(&(
        "client_assertion_type".to_owned(),
        edge_auth::oauth::JWT_BEARER_ASSERTION_TYPE.to_owned()
    )));
}

#[test]
fn request_without_hint_when_none_is_configured() {
    let config = config().with_token_type_hint(None);
    let plan = Introspector::new(config).unwrap().plan(TOKEN, NOW).unwrap();
    assert_eq!(form(&plan), vec![("token".to_owned(), TOKEN.to_owned())]);
}

#[test]
fn endpoint_must_be_https() {
    let auth = || ClientAuth::secret_basic(Secret::new("x".to_owned()));
    assert!(matches!(
        IntrospectionConfig::new("http://idp.example.com/introspect", "gw", auth()),
        Err(IntrospectError::Config { .. })
    ));
    assert!(IntrospectionConfig::new("http://127.0.0.1:8080/introspect", "gw", auth()).is_err());
    assert!(
        IntrospectionConfig::with_http_loopback("http://127.0.0.1:8080/introspect", "gw", auth())
            .is_ok()
    );
}

#[test]
fn endpoint_from_discovery_introspection_endpoint() {
    let doc = json!({
        "issuer": ISSUER, "jwks_uri": format!("{ISSUER}/jwks"),
        "introspection_endpoint": ENDPOINT,
    });
    let metadata = ProviderMetadata::from_json(
        doc.to_string().as_bytes(),
        ISSUER,
        &DiscoveryOptions::default(),
    )
    .unwrap();
    assert_eq!(metadata.introspection_endpoint.as_deref(), Some(ENDPOINT));
    let auth = ClientAuth::secret_basic(Secret::new("x".to_owned()));
    let config = IntrospectionConfig::from_discovery(&metadata, "gw", auth).unwrap();
    assert_eq!(config.endpoint, ENDPOINT);
    assert_eq!(config.issuer.as_deref(), Some(ISSUER));
}

#[test]
fn discovery_without_introspection_endpoint_is_a_config_error() {
    let doc = json!({ "issuer": ISSUER, "jwks_uri": format!("{ISSUER}/jwks") });
    let metadata = ProviderMetadata::from_json(
        doc.to_string().as_bytes(),
        ISSUER,
        &DiscoveryOptions::default(),
    )
    .unwrap();
    let auth = ClientAuth::secret_basic(Secret::new("x".to_owned()));
    let e = IntrospectionConfig::from_discovery(&metadata, "gw", auth).unwrap_err();
    assert!(e.to_string().contains("introspection_endpoint"), "{e}");
}

#[test]
fn debug_never_shows_the_token_or_the_secret() {
    let mut i = introspector();
    let plan = fetch(&mut i, TOKEN, NOW);
    let shown = format!("{plan:?} {i:?}");
    assert!(!shown.contains(TOKEN), "{shown}");
    assert!(!shown.contains("s3cret"), "{shown}");
}

// ---- RFC 7662 §2.2: the answer ----

#[test]
fn active_true_is_an_active_token_with_subject_and_scopes() {
    let Introspection::Active(token) = answer(&active(Duration::hours(1))).unwrap() else {
        panic!("not active");
    };
    assert_eq!(token.subject.as_deref(), Some("alice"));
    assert_eq!(token.client_id.as_deref(), Some("spa"));
    assert!(token.scopes.contains("orders:read") && token.scopes.contains("orders:write"));
    assert_eq!(token.expires_at, Some(NOW + Duration::hours(1)));
}

#[test]
fn active_false_is_inactive() {
    assert_eq!(
        answer(br#"{"active":false}"#).unwrap(),
        Introspection::Inactive
    );
}

#[test]
fn active_missing_is_refused() {
    let e = answer(br#"{"sub":"alice"}"#).unwrap_err();
    assert!(
        matches!(e, IntrospectError::Member { name: "active", .. }),
        "{e}"
    );
}

#[test]
fn active_as_a_string_is_refused() {
    let e = answer(br#"{"active":"true"}"#).unwrap_err();
    assert!(
        matches!(e, IntrospectError::Member { name: "active", .. }),
        "{e}"
    );
}

#[test]
fn exp_that_is_not_a_number_is_refused() {
    let body = json!({"active": true, "iss": ISSUER, "aud": AUDIENCE, "exp": "tomorrow"});
    let e = answer_json(&body).unwrap_err();
    assert!(
        matches!(e, IntrospectError::Member { name: "exp", .. }),
        "{e}"
    );
}

#[test]
fn scope_that_is_not_a_string_is_refused() {
    let body = json!({"active": true, "iss": ISSUER, "aud": AUDIENCE, "scope": ["a"]});
    let e = answer_json(&body).unwrap_err();
    assert!(
        matches!(e, IntrospectError::Member { name: "scope", .. }),
        "{e}"
    );
}

#[test]
fn active_but_expired_is_refused() {
    let e = answer(&active(Duration::seconds(-1))).unwrap_err();
    assert!(matches!(e, IntrospectError::Expired { .. }), "{e}");
    assert!(e.is_about_token());
}

#[test]
fn nbf_in_the_future_beyond_leeway_is_refused() {
    let body = json!({"active": true, "iss": ISSUER, "aud": AUDIENCE,
                      "nbf": (NOW + Duration::minutes(5)).unix_timestamp()});
    let e = answer_json(&body).unwrap_err();
    assert!(matches!(e, IntrospectError::NotYetValid { .. }), "{e}");
}

#[test]
fn iat_in_the_future_beyond_leeway_is_refused() {
    let body = json!({"active": true, "iss": ISSUER, "aud": AUDIENCE,
                      "iat": (NOW + Duration::minutes(5)).unix_timestamp()});
    let e = answer_json(&body).unwrap_err();
    assert!(matches!(e, IntrospectError::NotYetValid { .. }), "{e}");
}

#[test]
fn answer_from_another_issuer_is_refused() {
    let body = json!({"active": true, "iss": "https://evil.example", "aud": AUDIENCE});
    let e = answer_json(&body).unwrap_err();
    assert!(matches!(e, IntrospectError::Issuer { .. }), "{e}");
    assert!(e.to_string().contains("`https://evil.example`"), "{e}");
}

#[test]
fn answer_without_issuer_is_accepted_by_default() {
    let body = json!({"active": true, "aud": AUDIENCE});
    assert!(answer_json(&body).unwrap().is_active());
}

#[test]
fn answer_without_issuer_is_refused_when_required() {
    let i = Introspector::new(config().with_require_issuer(true)).unwrap();
    let body = json!({"active": true, "aud": AUDIENCE}).to_string();
    let e = answer_to(i, StatusCode::OK, &json_headers(), body.as_bytes()).unwrap_err();
    assert!(matches!(e, IntrospectError::Issuer { .. }), "{e}");
}

#[test]
fn answer_for_another_audience_is_refused() {
    let body = json!({"active": true, "iss": ISSUER, "aud": "api://billing"});
    let e = answer_json(&body).unwrap_err();
    assert!(matches!(e, IntrospectError::Audience { .. }), "{e}");
}

#[test]
fn answer_without_audience_is_refused_by_default() {
    let body = json!({"active": true, "iss": ISSUER});
    let e = answer_json(&body).unwrap_err();
    assert!(matches!(e, IntrospectError::Audience { .. }), "{e}");
}

#[test]
fn answer_with_audience_array_naming_ours_is_accepted() {
    let body = json!({"active": true, "iss": ISSUER, "aud": ["api://billing", AUDIENCE]});
    assert!(answer_json(&body).unwrap().is_active());
}

#[test]
fn html_body_is_not_json() {
    let headers = content_type("text/html");
    let e = answer_to(
        introspector(),
        StatusCode::OK,
        &headers,
        b"<html>oops</html>",
    )
    .unwrap_err();
    assert!(matches!(e, IntrospectError::NotJson { .. }), "{e}");
    assert!(e.to_string().contains("`text/html`"), "{e}");
}

#[test]
fn json_body_declared_as_another_type_is_refused() {
    let headers = content_type("text/plain");
    let e = answer_to(
        introspector(),
        StatusCode::OK,
        &headers,
        br#"{"active":false}"#,
    )
    .unwrap_err();
    assert!(matches!(e, IntrospectError::NotJson { .. }), "{e}");
}

#[test]
fn duplicate_members_are_refused() {
    let e = answer(br#"{"active":false,"active":true}"#).unwrap_err();
    assert!(matches!(e, IntrospectError::NotJson { .. }), "{e}");
}

#[test]
fn status_401_is_a_typed_error() {
    let e = answer_to(
        introspector(),
        StatusCode::UNAUTHORIZED,
        &json_headers(),
        br#"{"error":"invalid_client"}"#,
    )
    .unwrap_err();
    assert!(matches!(e, IntrospectError::Status { status: 401 }), "{e}");
    assert!(!e.is_about_token());
}

#[test]
fn status_503_is_a_typed_error() {
    let e = answer_to(
        introspector(),
        StatusCode::SERVICE_UNAVAILABLE,
        &HeaderMap::new(),
        b"",
    )
    .unwrap_err();
    assert!(matches!(e, IntrospectError::Status { status: 503 }), "{e}");
}

#[test]
fn body_over_the_limit_is_refused() {
    let i = Introspector::new(config().with_max_body_bytes(16)).unwrap();
    let body = active(Duration::hours(1));
    let e = answer_to(i, StatusCode::OK, &json_headers(), &body).unwrap_err();
    assert!(
        matches!(e, IntrospectError::TooLarge { limit: 16, .. }),
        "{e}"
    );
}

#[test]
fn answer_to_another_endpoints_plan_is_refused() {
    let mut other = Introspector::new(
        IntrospectionConfig::new(
            "https://other.example.com/introspect",
            "gw",
            ClientAuth::secret_basic(Secret::new("x".to_owned())),
        )
        .unwrap(),
    )
    .unwrap();
    let plan = fetch(&mut other, TOKEN, NOW);
    let e = introspector()
        .apply(
            &plan,
            StatusCode::OK,
            &json_headers(),
            br#"{"active":false}"#,
            NOW,
        )
        .unwrap_err();
    assert!(matches!(e, IntrospectError::OtherPlan), "{e}");
}

// ---- the cache ----

fn apply_active(i: &mut Introspector, token: &str, exp_in: Duration, now: OffsetDateTime) {
    let plan = fetch(i, token, now);
    i.apply(&plan, StatusCode::OK, &json_headers(), &active(exp_in), now)
        .unwrap();
}

fn apply_inactive(i: &mut Introspector, token: &str, now: OffsetDateTime) {
    let plan = fetch(i, token, now);
    i.apply(
        &plan,
        StatusCode::OK,
        &json_headers(),
        br#"{"active":false}"#,
        now,
    )
    .unwrap();
}

#[test]
fn cache_serves_an_active_answer_within_the_ceiling() {
    let mut i = introspector(); // ceiling 60 s
    apply_active(&mut i, TOKEN, Duration::hours(1), NOW);
    let later = NOW + Duration::seconds(59);
    assert!(matches!(i.lookup(TOKEN, later).unwrap(), Lookup::Active(_)));
    assert_eq!(i.stats().hits, 1);
}

#[test]
fn cache_ceiling_bounds_an_active_answer() {
    let mut i = introspector();
    apply_active(&mut i, TOKEN, Duration::hours(1), NOW);
    assert!(matches!(
        i.lookup(TOKEN, NOW + Duration::seconds(60)).unwrap(),
        Lookup::Fetch(_)
    ));
}

#[test]
fn cache_keeps_an_active_answer_until_exp_when_sooner() {
    let mut i = Introspector::new(config().with_cache_ceiling(Duration::hours(1))).unwrap();
    apply_active(&mut i, TOKEN, Duration::minutes(10), NOW);
    let before = NOW + Duration::minutes(10) - Duration::seconds(1);
    assert!(matches!(
        i.lookup(TOKEN, before).unwrap(),
        Lookup::Active(_)
    ));
}

#[test]
fn cache_never_serves_past_exp() {
    let mut i = Introspector::new(config().with_cache_ceiling(Duration::hours(1))).unwrap();
    apply_active(&mut i, TOKEN, Duration::minutes(10), NOW);
    let at_exp = NOW + Duration::minutes(10);
    assert!(matches!(i.lookup(TOKEN, at_exp).unwrap(), Lookup::Fetch(_)));
}

#[test]
fn cache_serves_an_inactive_answer_for_the_negative_ttl_then_asks_again() {
    let mut i = Introspector::new(config().with_negative_ttl(Duration::seconds(10))).unwrap();
    apply_inactive(&mut i, TOKEN, NOW);
    match i.lookup(TOKEN, NOW + Duration::seconds(9)).unwrap() {
        Lookup::Inactive { reason } => assert_eq!(&*reason, "the token is not active"),
        other => panic!("not negative-cached: {other:?}"),
    }
    assert!(matches!(
        i.lookup(TOKEN, NOW + Duration::seconds(10)).unwrap(),
        Lookup::Fetch(_)
    ));
}

#[test]
fn cache_holds_an_answer_refused_for_the_token_as_negative() {
    let mut i = introspector();
    let plan = fetch(&mut i, TOKEN, NOW);
    let body = json!({"active": true, "iss": ISSUER, "aud": "api://billing"}).to_string();
    assert!(
        i.apply(&plan, StatusCode::OK, &json_headers(), body.as_bytes(), NOW)
            .is_err()
    );
    match i.lookup(TOKEN, NOW).unwrap() {
        Lookup::Inactive { reason } => assert!(reason.contains("audience"), "{reason}"),
        other => panic!("not negative-cached: {other:?}"),
    }
}

#[test]
fn cache_capacity_evicts_the_entry_expiring_first() {
    let mut i = Introspector::new(
        config()
            .with_capacity(2, 2)
            .with_cache_ceiling(Duration::hours(1)),
    )
    .unwrap();
    apply_active(&mut i, "token-a", Duration::minutes(5), NOW);
    apply_active(&mut i, "token-b", Duration::minutes(30), NOW);
    apply_active(&mut i, "token-c", Duration::minutes(30), NOW);
    assert_eq!(i.stats().active_entries, 2);
    assert_eq!(i.stats().evictions, 1);
    assert!(matches!(
        i.lookup("token-a", NOW).unwrap(),
        Lookup::Fetch(_)
    ));
    assert!(matches!(
        i.lookup("token-b", NOW).unwrap(),
        Lookup::Active(_)
    ));
    assert!(matches!(
        i.lookup("token-c", NOW).unwrap(),
        Lookup::Active(_)
    ));
}

#[test]
fn cache_negative_entries_do_not_push_out_active_ones() {
    let mut i = Introspector::new(config().with_capacity(1, 2)).unwrap();
    apply_active(&mut i, TOKEN, Duration::hours(1), NOW);
    for n in 0..10 {
        apply_inactive(&mut i, &format!("garbage-{n}"), NOW);
    }
    assert_eq!(i.stats().negative_entries, 2);
    assert!(matches!(i.lookup(TOKEN, NOW).unwrap(), Lookup::Active(_)));
}

#[test]
fn cache_key_is_the_token_hash() {
    let mut i = introspector();
    let plan = fetch(&mut i, TOKEN, NOW);
    let digest = ring::digest::digest(&ring::digest::SHA256, TOKEN.as_bytes());
    assert_eq!(plan.token_hash().as_bytes().as_slice(), digest.as_ref());
    i.apply(
        &plan,
        StatusCode::OK,
        &json_headers(),
        &active(Duration::hours(1)),
        NOW,
    )
    .unwrap();
    // A token differing in one byte is another entry.
    let near = format!("{TOKEN}x");
    assert!(matches!(i.lookup(&near, NOW).unwrap(), Lookup::Fetch(_)));
    assert!(matches!(i.lookup(TOKEN, NOW).unwrap(), Lookup::Active(_)));
}

#[test]
fn single_flight_hands_the_same_token_out_once() {
    let mut i = introspector();
    let first = fetch(&mut i, TOKEN, NOW);
    assert!(!first.is_in_flight());
    let second = fetch(&mut i, TOKEN, NOW + Duration::seconds(1));
    assert!(second.is_in_flight());
    assert!(second.to_request().body().is_empty());
    // Another token is not held up.
    assert!(!fetch(&mut i, "another", NOW).is_in_flight());
    // Past the request timeout (10 s) it is handed out again.
    assert!(!fetch(&mut i, TOKEN, NOW + Duration::seconds(10)).is_in_flight());
}

#[test]
fn endpoint_failure_backs_off_then_asks_again() {
    let mut i = introspector(); // backoff 5 s
    apply_active(&mut i, "cached", Duration::hours(1), NOW);
    let plan = fetch(&mut i, TOKEN, NOW);
    i.apply_failure(&plan, NOW);
    match i.lookup(TOKEN, NOW + Duration::seconds(1)).unwrap() {
        Lookup::Unavailable { retry_at } => assert_eq!(retry_at, NOW + Duration::seconds(5)),
        other => panic!("no backoff: {other:?}"),
    }
    // Cached answers keep serving meanwhile.
    assert!(matches!(
        i.lookup("cached", NOW + Duration::seconds(1)).unwrap(),
        Lookup::Active(_)
    ));
    assert!(matches!(
        i.lookup(TOKEN, NOW + Duration::seconds(5)).unwrap(),
        Lookup::Fetch(_)
    ));
}

#[test]
fn server_error_answer_backs_off() {
    let mut i = introspector();
    let plan = fetch(&mut i, TOKEN, NOW);
    let _ = i.apply(&plan, StatusCode::BAD_GATEWAY, &HeaderMap::new(), b"", NOW);
    assert!(matches!(
        i.lookup(TOKEN, NOW).unwrap(),
        Lookup::Unavailable { .. }
    ));
}

#[test]
fn principal_maps_subject_scopes_and_issuer() {
    let Introspection::Active(token) = answer(&active(Duration::hours(1))).unwrap() else {
        panic!("not active");
    };
    let p = Introspector::principal(
        &token,
        &edge_auth::oidc::RoleMapper::default(),
        Some(ISSUER),
    );
    assert_eq!(p.subject.as_deref(), Some("alice"));
    assert!(p.has_scope("orders:write"));
    assert_eq!(p.issuer.as_deref(), Some(ISSUER));
}

#[test]
fn config_with_zero_ceiling_is_refused() {
    let e = Introspector::new(config().with_cache_ceiling(Duration::ZERO)).unwrap_err();
    assert!(matches!(e, IntrospectError::Config { .. }), "{e}");
}

// ---- the gate ----

fn gate() -> Gate {
    let issuer = IssuerConfig::new(ISSUER, [AUDIENCE])
        .with_jwks_uri(format!("{ISSUER}/jwks"))
        .with_introspection(config());
    Gate::new(GateConfig::new([issuer])).unwrap()
}

fn check(gate: &Gate, token: &str, now: OffsetDateTime) -> Outcome {
    let (parts, ()) = http::Request::get("/orders")
        .header(header::AUTHORIZATION, format!("Bearer {token}"))
        .body(())
        .unwrap()
        .into_parts();
    gate.check(&parts, &RequestFacts::from_parts(&parts), now)
}

/// The gate's outcome for TOKEN once the endpoint answered its plan with
/// a 200 JSON `body`.
fn check_answered(gate: &Gate, body: &[u8]) -> Outcome {
    let plan = introspection_plan(gate, TOKEN);
    gate.apply_fetch_response(&plan, StatusCode::OK, &json_headers(), body, NOW)
        .unwrap();
    check(gate, TOKEN, NOW)
}

fn introspection_plan(gate: &Gate, token: &str) -> edge_auth::gate::FetchPlan {
    match check(gate, token, NOW) {
        Outcome::FetchKeys(plan) => {
            assert_eq!(plan.kind(), FetchKind::Introspection);
            assert_eq!(plan.url(), ENDPOINT);
            plan
        }
        other => panic!("expected an introspection plan, got {other:?}"),
    }
}

#[test]
fn gate_sends_an_opaque_token_to_introspection() {
    let gate = gate();
    let plan = introspection_plan(&gate, TOKEN);
    let request = plan.introspection().unwrap().to_request();
    assert_eq!(request.method(), http::Method::POST);
    assert!(!format!("{plan:?}").contains(TOKEN));
}

#[test]
fn gate_allows_an_active_opaque_token_with_its_principal() {
    let gate = gate();
    match check_answered(&gate, &active(Duration::hours(1))) {
        Outcome::Allow { principal, .. } => {
            let p = principal.unwrap();
            assert_eq!(p.subject.as_deref(), Some("alice"));
            assert!(p.has_scope("orders:read"));
            assert_eq!(p.issuer.as_deref(), Some(ISSUER));
        }
        other => panic!("not allowed: {other:?}"),
    }
    assert_eq!(gate.introspection_stats(ISSUER).unwrap().hits, 1);
}

#[test]
fn gate_answers_401_invalid_token_for_an_inactive_token() {
    let gate = gate();
    match check_answered(&gate, br#"{"active":false}"#) {
        Outcome::Deny(r) => {
            let response = r.to_response();
            assert_eq!(response.status(), 401);
            let challenge = response.headers()[header::WWW_AUTHENTICATE]
                .to_str()
                .unwrap();
            assert!(challenge.contains("error=\"invalid_token\""), "{challenge}");
        }
        other => panic!("not denied: {other:?}"),
    }
}

#[test]
fn gate_answers_401_for_an_answer_about_another_audience() {
    let gate = gate();
    let body = json!({"active": true, "iss": ISSUER, "aud": "api://billing"}).to_string();
    match check_answered(&gate, body.as_bytes()) {
        Outcome::Deny(r) => {
            assert_eq!(r.status(), 401);
            assert!(r.reason().unwrap().contains("audience"), "{r:?}");
        }
        other => panic!("not denied: {other:?}"),
    }
}

#[test]
fn gate_answers_503_with_retry_after_when_the_endpoint_is_down() {
    let gate = gate();
    let plan = introspection_plan(&gate, TOKEN);
    gate.apply_fetch_failure(&plan, "connection refused", NOW);
    match check(&gate, TOKEN, NOW + Duration::seconds(1)) {
        Outcome::Deny(r) => {
            let response = r.to_response();
            assert_eq!(response.status(), 503);
            assert_eq!(response.headers()[header::RETRY_AFTER], "4");
        }
        other => panic!("not 503: {other:?}"),
    }
}

#[test]
fn gate_reports_an_endpoint_error_answer() {
    let gate = gate();
    let plan = introspection_plan(&gate, TOKEN);
    let e = gate
        .apply_fetch_response(
            &plan,
            StatusCode::INTERNAL_SERVER_ERROR,
            &HeaderMap::new(),
            b"",
            NOW,
        )
        .unwrap_err();
    assert!(e.to_string().contains("status `500`"), "{e}");
}

#[test]
fn gate_validates_a_jwt_shaped_token_locally() {
    let gate = gate();
    match check(&gate, "eyJhbGciOiJSUzI1NiJ9.eyJzdWIiOiJhIn0.c2ln", NOW) {
        Outcome::FetchKeys(plan) => assert_eq!(plan.kind(), FetchKind::Jwks),
        other => panic!("expected a key fetch, got {other:?}"),
    }
}

#[test]
fn gate_without_introspection_refuses_an_opaque_token() {
    let issuer = IssuerConfig::new(ISSUER, [AUDIENCE]).with_jwks_uri(format!("{ISSUER}/jwks"));
    let gate = Gate::new(GateConfig::new([issuer])).unwrap();
    match check(&gate, TOKEN, NOW) {
        Outcome::Deny(r) => assert_eq!(r.status(), 401),
        other => panic!("not denied: {other:?}"),
    }
}

#[test]
fn gate_refuses_two_introspecting_issuers() {
    let a = IssuerConfig::new(ISSUER, [AUDIENCE]).with_introspection(config());
    let b = IssuerConfig::new("https://other.example.com", [AUDIENCE]).with_introspection(config());
    let e = Gate::new(GateConfig::new([a, b])).unwrap_err();
    assert!(
        e.to_string().contains("opaque tokens could not be routed"),
        "{e}"
    );
}

#[test]
fn gate_checks_the_answer_against_the_issuer_config() {
    // The introspection config names no issuer or audience: the gate's
    // issuer config supplies both.
    let bare = IntrospectionConfig::new(
        ENDPOINT,
        "gateway",
        ClientAuth::secret_basic(Secret::new("s3cret".to_owned())),
    )
    .unwrap();
    let issuer = IssuerConfig::new(ISSUER, [AUDIENCE]).with_introspection(bare);
    let gate = Arc::new(Gate::new(GateConfig::new([issuer])).unwrap());
    let body = json!({"active": true, "iss": "https://evil.example", "aud": AUDIENCE}).to_string();
    match check_answered(&gate, body.as_bytes()) {
        Outcome::Deny(r) => assert!(r.reason().unwrap().contains("issuer"), "{r:?}"),
        other => panic!("not denied: {other:?}"),
    }
}
