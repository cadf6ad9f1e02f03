//! The Worker driver's runtime-independent half (`edge_auth::driver::worker`)
//! with a simulated IdP: tokens minted with ring (ES256), key fetches
//! answered by hand, the KV state round-tripped between two "isolates". The
//! Workers runtime itself is exercised end to end by tests/worker.rs.

use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD as B64;
use edge_auth::driver::worker::*;
use edge_auth::gate::{FetchKind, Outcome};
use edge_auth::httpsig::{Component, KeyRing, Verifier, VerifierConfig, VerifyingKey};
use edge_auth::{Principal, Secret};
use http::request::Parts;
use http::{HeaderMap, HeaderValue, StatusCode, header};
use ring::rand::SystemRandom;
use ring::signature::{ECDSA_P256_SHA256_FIXED_SIGNING, EcdsaKeyPair, KeyPair};
use serde_json::json;
use time::OffsetDateTime;

const ISS: &str = "https://idp.example.com";
const AUD: &str = "api://orders";
const UPSTREAM_KEY: &str = "0123456789abcdef0123456789abcdef-test";
const POLICY: &str = r#"{"rules": [
  {"id": "health", "match": {"paths": ["/healthz"]}, "require": {"anonymous": true}, "effect": "allow"},
  {"id": "api", "match": {"paths": ["/api/**"]}, "require": {"any_roles": ["reader"]}, "effect": "allow"}
]}"#;

fn now() -> OffsetDateTime {
    time_from_unix_millis(1_795_000_000_000).unwrap()
}

struct Idp {
    pair: EcdsaKeyPair,
}

impl Idp {
    fn new() -> Self {
        let rng = SystemRandom::new();
        let pkcs8 = EcdsaKeyPair::generate_pkcs8(&ECDSA_P256_SHA256_FIXED_SIGNING, &rng).unwrap();
        let pair = EcdsaKeyPair::from_pkcs8(&ECDSA_P256_SHA256_FIXED_SIGNING, pkcs8.as_ref(), &rng)
            .unwrap();
        Self { pair }
    }

    fn jwks(&self) -> Vec<u8> {
        let public = self.pair.public_key().as_ref();
        json!({"keys": [{
            "kty": "EC", "crv": "P-256", "alg": "ES256", "kid": "k1", "use": "sig",
            "x": B64.encode(&public[1..33]), "y": B64.encode(&public[33..65]),
        }]})
        .to_string()
        .into_bytes()
    }

    fn token(&self, sub: &str, roles: &[&str]) -> String {
        self.sign(&json!({
            "iss": ISS, "aud": AUD, "sub": sub, "roles": roles,
            "iat": now().unix_timestamp(), "exp": now().unix_timestamp() + 3600,
        }))
    }

    fn sign(&self, claims: &serde_json::Value) -> String {
        let header = json!({"alg": "ES256", "typ": "JWT", "kid": "k1"});
        let input = format!(
            "{}.{}",
            B64.encode(header.to_string()),
            B64.encode(claims.to_string())
        );
        let sig = self
            .pair
            .sign(&SystemRandom::new(), input.as_bytes())
            .unwrap();
        format!("{input}.{}", B64.encode(sig.as_ref()))
    }
}

fn vars(extra: &[(&str, &str)]) -> impl Fn(&str) -> Option<String> {
    let mut all: Vec<(String, String)> = vec![
        (POLICY_VAR.into(), POLICY.into()),
        (ISSUER_VAR.into(), ISS.into()),
        (AUDIENCE_VAR.into(), AUD.into()),
        (JWKS_URI_VAR.into(), format!("{ISS}/jwks")),
        (ROLES_CLAIM_VAR.into(), "roles".into()),
    ];
    for (n, v) in extra {
        all.retain(|(name, _)| name != n);
        all.push(((*n).into(), (*v).into()));
    }
    move |name| all.iter().find(|(n, _)| n == name).map(|(_, v)| v.clone())
}

fn settings(extra: &[(&str, &str)]) -> Settings {
    Settings::from_vars(vars(extra)).unwrap()
}

fn gate(extra: &[(&str, &str)]) -> WorkerGate {
    settings(extra).gate().unwrap()
}

fn parts(path: &str, token: Option<&str>) -> Parts {
    let mut builder = http::Request::get(format!("https://edge.example.com{path}"))
        .header("cf-connecting-ip", "192.0.2.7");
    if let Some(token) = token {
        builder = builder.header(header::AUTHORIZATION, format!("Bearer {token}"));
    }
    builder.body(()).unwrap().into_parts().0
}

/// Runs the driver's loop as `authorize` does, natively: KV holds `kv`
/// (written back on change), fetches are answered from `idp`.
fn run(
    g: &WorkerGate,
    idp: &Idp,
    parts: &Parts,
    kv: &mut Option<String>,
    fetches: &mut usize,
) -> Step {
    let mut mine = 0;
    for _ in 0..g.max_steps() {
        match g.step(parts, None, mine, now()) {
            Step::Restore { issuer, flight } => {
                assert_eq!(issuer, ISS);
                if let Some(text) = kv.as_deref() {
                    g.restore(&issuer, text, now()).unwrap();
                }
                drop(flight);
            }
            Step::Fetch {
                plan,
                flight: _flight,
            } => {
                mine += 1;
                *fetches += 1;
                assert_eq!(plan.url(), format!("{ISS}/jwks"));
                let state = g
                    .apply_response(&plan, StatusCode::OK, &HeaderMap::new(), &idp.jwks(), now())
                    .unwrap();
                if let Some(state) = state {
                    *kv = Some(state);
                }
            }
            done => return done,
        }
    }
    panic!("the loop did not end within max_steps")
}

#[test]
fn settings_require_policy_issuer_and_audience() {
    for var in [POLICY_VAR, ISSUER_VAR, AUDIENCE_VAR] {
        let err = Settings::from_vars(vars(&[(var, "  ")])).unwrap_err();
        assert_eq!(err, WorkerError::Missing { var });
        assert_eq!(err.to_string(), format!("`{var}` is not set"));
    }
    let err = Settings::from_vars(vars(&[(AUDIENCE_VAR, " , ")])).unwrap_err();
    assert_eq!(err, WorkerError::Missing { var: AUDIENCE_VAR });
}

#[test]
fn invalid_policy_is_a_configuration_error() {
    for policy in ["{", "[]", r#"{"rules": [{"id": "x"}]}"#] {
        let err = settings(&[(POLICY_VAR, policy)]).gate().unwrap_err();
        assert!(
            matches!(
                err,
                WorkerError::Invalid {
                    var: POLICY_VAR,
                    ..
                }
            ),
            "{policy}: {err}"
        );
    }
}

#[test]
fn audiences_are_comma_separated() {
    assert_eq!(
        settings(&[(AUDIENCE_VAR, "a, b,,c")]).audiences,
        ["a", "b", "c"]
    );
}

#[test]
fn origin_needs_an_upstream_key_and_a_bare_url() {
    let err = Settings::from_vars(vars(&[(ORIGIN_VAR, "https://origin.example")])).unwrap_err();
    assert_eq!(
        err,
        WorkerError::Missing {
            var: UPSTREAM_KEY_VAR
        }
    );
    for origin in [
        "origin.example",
        "ftp://o.example",
        "https://o.example/app",
        "https://u@o.example",
    ] {
        let err = settings(&[(ORIGIN_VAR, origin), (UPSTREAM_KEY_VAR, UPSTREAM_KEY)])
            .upstream()
            .unwrap_err();
        assert!(
            matches!(
                err,
                WorkerError::Invalid {
                    var: ORIGIN_VAR,
                    ..
                }
            ),
            "{origin}: {err}"
        );
    }
    let s = settings(&[
        (ORIGIN_VAR, "https://origin.example"),
        (UPSTREAM_KEY_VAR, "short"),
    ]);
    let err = s.upstream().unwrap_err();
    assert!(
        matches!(
            err,
            WorkerError::Invalid {
                var: UPSTREAM_KEY_VAR,
                ..
            }
        ),
        "{err}"
    );
    assert!(
        !format!("{s:?}").contains("short"),
        "the key must not be printed"
    );
    assert!(settings(&[]).upstream().unwrap().is_none());
}

#[test]
fn role_presets_and_claims() {
    for preset in [
        "okta",
        "cognito",
        "google",
        "entra_id:abc",
        "keycloak:app",
        "auth0:https://ex.com",
    ] {
        settings(&[(ROLES_PRESET_VAR, preset)]).gate().unwrap();
    }
    for (var, value) in [
        (ROLES_PRESET_VAR, "entra_id"),
        (ROLES_PRESET_VAR, "nope"),
        (ROLES_CLAIM_VAR, "/a~2"),
    ] {
        let err = settings(&[(var, value)]).gate().unwrap_err();
        assert!(
            matches!(err, WorkerError::Invalid { var: v, .. } if v == var),
            "{value}: {err}"
        );
    }
}

#[test]
fn http_loopback_jwks_only_when_allowed() {
    let jwks = (JWKS_URI_VAR, "http://127.0.0.1:8080/jwks");
    assert!(settings(&[jwks]).gate().is_err());
    settings(&[jwks, (ALLOW_HTTP_LOOPBACK_VAR, "1")])
        .gate()
        .unwrap();
}

#[test]
fn no_token_is_401_and_anonymous_route_passes() {
    let g = gate(&[]);
    let Step::Deny(rejection) = g.step(&parts("/api/x", None), None, 0, now()) else {
        panic!("expected a deny");
    };
    let response = rejection.to_response();
    assert_eq!(response.status(), StatusCode::UNAUTHORIZED);
    assert_eq!(
        response.headers()[header::WWW_AUTHENTICATE],
        r#"Bearer realm="edge-auth""#
    );
    assert!(matches!(
        g.step(&parts("/healthz", None), None, 0, now()),
        Step::Allow {
            principal: None,
            ..
        }
    ));
}

#[test]
fn kv_is_asked_once_before_the_first_fetch() {
    let (g, idp) = (gate(&[]), Idp::new());
    let p = parts("/api/x", Some(&idp.token("alice", &["reader"])));
    assert!(matches!(g.step(&p, None, 0, now()), Step::Restore { .. }));
    // KV was empty: the next step fetches; once that fetch ended unanswered
    // (its flight dropped), the next request fetches again.
    assert!(matches!(g.step(&p, None, 0, now()), Step::Fetch { .. }));
    assert!(matches!(g.step(&p, None, 0, now()), Step::Fetch { .. }));
}

#[test]
fn without_kv_the_first_step_fetches() {
    let mut s = settings(&[]);
    s.options = s.options.with_kv_binding(None);
    let (g, idp) = (s.gate().unwrap(), Idp::new());
    let p = parts("/api/x", Some(&idp.token("alice", &["reader"])));
    assert!(matches!(g.step(&p, None, 0, now()), Step::Fetch { .. }));
}

#[test]
fn fetches_are_bounded_then_503() {
    let (g, idp) = (gate(&[]), Idp::new());
    let p = parts("/api/x", Some(&idp.token("alice", &["reader"])));
    assert!(matches!(g.step(&p, None, 0, now()), Step::Restore { .. }));
    let max = g.options().max_fetches;
    let Step::Deny(rejection) = g.step(&p, None, max, now()) else {
        panic!("expected 503 after {max} fetches");
    };
    assert_eq!(rejection.status(), StatusCode::SERVICE_UNAVAILABLE);
    // Restores and fetches, as many waits for other requests, the answer.
    assert_eq!(g.max_steps(), 2 * (1 + max) + 1);
}

#[test]
fn token_with_role_passes_wrong_role_is_403_and_keys_are_reused() {
    let (g, idp, mut kv, mut fetches) = (gate(&[]), Idp::new(), None, 0);
    let reader = parts("/api/x", Some(&idp.token("alice", &["reader"])));
    let Step::Allow {
        principal: Some(p), ..
    } = run(&g, &idp, &reader, &mut kv, &mut fetches)
    else {
        panic!("expected allow");
    };
    assert_eq!(p.subject.as_deref(), Some("alice"));
    let writer = parts("/api/x", Some(&idp.token("bob", &["writer"])));
    let Step::Deny(rejection) = run(&g, &idp, &writer, &mut kv, &mut fetches) else {
        panic!("expected deny");
    };
    assert_eq!(rejection.status(), StatusCode::FORBIDDEN);
    assert_eq!(fetches, 1, "the second token must reuse the keys");
}

#[test]
fn key_state_round_trips_through_kv_and_is_written_only_on_change() {
    let (a, idp, mut kv, mut fetches) = (gate(&[]), Idp::new(), None, 0);
    let token = idp.token("alice", &["reader"]);
    let p = parts("/api/x", Some(&token));
    assert!(matches!(
        run(&a, &idp, &p, &mut kv, &mut fetches),
        Step::Allow { .. }
    ));
    assert_eq!(fetches, 1);
    let saved = kv.clone().expect("a state written to KV");
    assert_eq!(kv_key(ISS), format!("jwks:{ISS}"));

    // The same answer again leaves the state as it was: nothing to write.
    let Outcome::Allow { .. } = a.check(&p, None, now()) else {
        panic!("keys are held");
    };
    let b = gate(&[]);
    let Step::Restore { .. } = b.step(&p, None, 0, now()) else {
        panic!("a cold isolate asks KV first");
    };
    b.restore(ISS, &saved, now()).unwrap();
    let Step::Allow { .. } = b.step(&p, None, 0, now()) else {
        panic!("another isolate starts from KV and needs no fetch");
    };

    // Corrupt or foreign states are refused (and the Gate fetches instead).
    let c = gate(&[]);
    assert!(c.restore(ISS, "{", now()).is_err());
    let foreign = saved.replace(ISS, "https://evil.example");
    let err = c.restore(ISS, &foreign, now()).unwrap_err();
    assert!(matches!(err, WorkerError::State { .. }), "{err}");
    assert!(matches!(c.check(&p, None, now()), Outcome::FetchKeys(_)));
}

#[test]
fn an_unchanged_key_set_is_not_written_again() {
    let (g, idp) = (gate(&[]), Idp::new());
    let p = parts("/api/x", Some(&idp.token("alice", &["reader"])));
    let Outcome::FetchKeys(plan) = g.check(&p, None, now()) else {
        panic!("expected a fetch");
    };
    let first = g
        .apply_response(&plan, StatusCode::OK, &HeaderMap::new(), &idp.jwks(), now())
        .unwrap();
    assert!(first.is_some());
    let again = g
        .apply_response(&plan, StatusCode::OK, &HeaderMap::new(), &idp.jwks(), now())
        .unwrap();
    assert_eq!(again, None);
}

#[test]
fn discovery_writes_no_state_then_the_key_set_does() {
    let g = gate(&[(JWKS_URI_VAR, "")]);
    let idp = Idp::new();
    let p = parts("/api/x", Some(&idp.token("alice", &["reader"])));
    let Outcome::FetchKeys(plan) = g.check(&p, None, now()) else {
        panic!("expected discovery");
    };
    assert_eq!(plan.kind(), FetchKind::Discovery);
    assert_eq!(
        plan.url(),
        format!("{ISS}/.well-known/openid-configuration")
    );
    let doc = json!({
        "issuer": ISS, "jwks_uri": format!("{ISS}/keys"),
        "authorization_endpoint": format!("{ISS}/authorize"),
        "response_types_supported": ["code"], "subject_types_supported": ["public"],
        "id_token_signing_alg_values_supported": ["ES256"],
    });
    let written = g
        .apply_response(
            &plan,
            StatusCode::OK,
            &HeaderMap::new(),
            doc.to_string().as_bytes(),
            now(),
        )
        .unwrap();
    assert_eq!(written, None, "an empty key state must not reach KV");
    let Outcome::FetchKeys(plan) = g.check(&p, None, now()) else {
        panic!("expected the key set fetch");
    };
    assert_eq!(
        (plan.kind(), plan.url()),
        (FetchKind::Jwks, format!("{ISS}/keys").as_str())
    );
    let written = g
        .apply_response(&plan, StatusCode::OK, &HeaderMap::new(), &idp.jwks(), now())
        .unwrap();
    assert!(written.is_some());
    assert!(matches!(g.check(&p, None, now()), Outcome::Allow { .. }));
}

#[test]
fn allowed_request_is_rewritten_signed_and_verifiable() {
    let upstream = settings(&[
        (ORIGIN_VAR, "http://127.0.0.1:9000"),
        (UPSTREAM_KEY_VAR, UPSTREAM_KEY),
    ])
    .upstream()
    .unwrap()
    .unwrap();
    let mut p = parts("/api/x?q=1", None);
    p.headers
        .insert(SUBJECT_HEADER, HeaderValue::from_static("mallory"));
    p.headers
        .insert("signature", HeaderValue::from_static("edge-auth=:AAAA:"));
    let mut principal = Principal::new("ali,ce\u{e9}");
    principal.roles.insert("reader".into());
    principal.roles.insert("a b".into());
    upstream.prepare(&mut p, Some(&principal), now()).unwrap();
    assert_eq!(p.uri, "http://127.0.0.1:9000/api/x?q=1");
    assert_eq!(p.headers[SUBJECT_HEADER], "ali%2Cce%C3%A9");
    assert_eq!(p.headers[ROLES_HEADER], "a%20b,reader");
    assert_eq!(p.headers.get_all("signature").iter().count(), 1);

    // The origin's view: origin-form target, Host header.
    let mut origin_view = p.clone();
    origin_view.uri = "/api/x?q=1".parse().unwrap();
    origin_view
        .headers
        .insert(header::HOST, HeaderValue::from_static("127.0.0.1:9000"));
    let mut keys = KeyRing::new();
    keys.insert(
        DEFAULT_UPSTREAM_KEY_ID,
        VerifyingKey::try_from_hmac_sha256(&Secret::new(UPSTREAM_KEY.as_bytes().to_vec())).unwrap(),
    );
    let mut config = VerifierConfig::default();
    config.require_content_digest = false;
    config.assumed_scheme = "http".into();
    config.required_components = [
        "@method",
        "@authority",
        "@path",
        "@query",
        SUBJECT_HEADER,
        ROLES_HEADER,
    ]
    .iter()
    .map(|n| Component::try_from_name(n).unwrap())
    .collect();
    let verified = Verifier::new(config)
        .unwrap()
        .verify(&origin_view, &[], &keys, None, now())
        .unwrap();
    assert_eq!(verified.label, UPSTREAM_SIGNATURE_LABEL);

    // A changed identity header breaks it.
    origin_view
        .headers
        .insert(SUBJECT_HEADER, HeaderValue::from_static("mallory"));
    let mut config = VerifierConfig::default();
    config.require_content_digest = false;
    assert!(
        Verifier::new(config)
            .unwrap()
            .verify(&origin_view, &[], &keys, None, now())
            .is_err()
    );

    // Anonymous: no identity headers, still signed.
    let mut p = parts("/healthz", None);
    upstream.prepare(&mut p, None, now()).unwrap();
    assert!(p.headers.get(SUBJECT_HEADER).is_none());
    assert!(p.headers.contains_key("signature-input"));
}

#[test]
fn country_comes_from_cf_then_header() {
    let policy = r#"{"rules": [{"id": "de", "match": {"paths": ["/**"]},
        "require": {"anonymous": true, "country": ["DE"]}, "effect": "allow"}]}"#;
    let g = gate(&[(POLICY_VAR, policy)]);
    let mut p = parts("/x", None);
    assert!(matches!(
        g.check(&p, Some("DE"), now()),
        Outcome::Allow { .. }
    ));
    assert!(matches!(g.check(&p, None, now()), Outcome::Deny(_)));
    p.headers
        .insert("cf-ipcountry", HeaderValue::from_static("DE"));
    assert!(matches!(g.check(&p, None, now()), Outcome::Allow { .. }));
}

#[test]
fn clock_millis_convert_exactly() {
    let now = time_from_unix_millis(1_795_000_000_123).unwrap();
    assert_eq!(now.unix_timestamp(), 1_795_000_000);
    assert_eq!(now.millisecond(), 123);
    assert_eq!(
        time_from_unix_millis(u64::MAX).unwrap_err(),
        WorkerError::Clock {
            unix_millis: u64::MAX
        }
    );
}

#[test]
fn background_fetches_refresh_ahead_only_once_keys_are_held() {
    let (g, idp, mut kv, mut fetches) = (gate(&[]), Idp::new(), None, 0);
    // A cold isolate runs nothing in the background.
    assert!(g.background_fetches(now()).is_empty());
    let p = parts("/api/x", Some(&idp.token("alice", &["reader"])));
    assert!(matches!(
        run(&g, &idp, &p, &mut kv, &mut fetches),
        Step::Allow { .. }
    ));
    assert_eq!(fetches, 1);
    // Fresh keys: nothing due yet.
    assert!(g.background_fetches(now()).is_empty());
    // Near the end of the key set's lifetime the refresh is handed out
    // once, to run after a response.
    let later = now() + time::Duration::hours(23);
    let plans = g.background_fetches(later);
    assert_eq!(plans.len(), 1, "{plans:?}");
    assert_eq!(plans[0].url(), format!("{ISS}/jwks"));
    assert!(g.background_fetches(later).is_empty());
}

const SEAL_SECRET: &str = "q83vEjRWeJq83vEjRWeJq83vEjRWeJq83vEjRWeJq80=";
const OTHER_SECRET: &str = "another sealing secret, long enough: 0123456789";

/// Polls a future once with a waker that does nothing.
fn poll_once<F: std::future::Future + Unpin>(f: &mut F) -> std::task::Poll<F::Output> {
    let mut cx = std::task::Context::from_waker(std::task::Waker::noop());
    std::pin::Pin::new(f).poll(&mut cx)
}

#[test]
fn concurrent_requests_wait_for_the_kv_read_then_the_one_fetch() {
    let (g, idp) = (gate(&[]), Idp::new());
    let p = parts("/api/x", Some(&idp.token("alice", &["reader"])));
    let Step::Restore { flight, .. } = g.step(&p, None, 0, now()) else {
        panic!("the first request reads KV");
    };
    let Step::Wait(mut wait) = g.step(&p, None, 0, now()) else {
        panic!("a concurrent request waits for the KV read");
    };
    assert!(poll_once(&mut wait).is_pending());
    drop(flight);
    assert!(poll_once(&mut wait).is_ready());
    let Step::Fetch { plan, flight } = g.step(&p, None, 0, now()) else {
        panic!("KV was empty: one request fetches");
    };
    let Step::Wait(mut wait) = g.step(&p, None, 0, now()) else {
        panic!("the others wait for that fetch");
    };
    g.apply_response(&plan, StatusCode::OK, &HeaderMap::new(), &idp.jwks(), now())
        .unwrap();
    drop(flight);
    assert!(poll_once(&mut wait).is_ready());
    assert!(matches!(g.step(&p, None, 0, now()), Step::Allow { .. }));
}

#[test]
fn a_dropped_fetch_lets_a_waiter_fetch_itself() {
    let (g, idp) = (gate(&[]), Idp::new());
    let p = parts("/api/x", Some(&idp.token("alice", &["reader"])));
    drop(g.step(&p, None, 0, now()));
    let Step::Fetch { flight, .. } = g.step(&p, None, 0, now()) else {
        panic!("expected a fetch");
    };
    let Step::Wait(mut wait) = g.step(&p, None, 0, now()) else {
        panic!("expected a wait");
    };
    // The leading request went away (cancelled, failed): the waiter wakes
    // and leads the next fetch.
    drop(flight);
    assert!(poll_once(&mut wait).is_ready());
    assert!(matches!(g.step(&p, None, 0, now()), Step::Fetch { .. }));
}

#[test]
fn sealed_state_is_written_sealed_and_opens_in_another_isolate() {
    let sealed = [(SEAL_SECRET_VAR, SEAL_SECRET)];
    let (a, idp, mut kv, mut fetches) = (gate(&sealed), Idp::new(), None, 0);
    let p = parts("/api/x", Some(&idp.token("alice", &["reader"])));
    assert!(matches!(
        run(&a, &idp, &p, &mut kv, &mut fetches),
        Step::Allow { .. }
    ));
    let text = kv.clone().expect("a sealed state written to KV");
    assert!(!text.starts_with('{'), "{text}");
    assert!(!text.contains("P-256") && !text.contains("jwks"), "{text}");
    let b = gate(&sealed);
    assert!(matches!(
        run(&b, &idp, &p, &mut kv, &mut fetches),
        Step::Allow { .. }
    ));
    assert_eq!(fetches, 1, "the second isolate opened the sealed state");
}

#[test]
fn sealed_gate_refuses_a_plain_state() {
    let (plain, idp, mut kv, mut fetches) = (gate(&[]), Idp::new(), None, 0);
    let p = parts("/api/x", Some(&idp.token("alice", &["reader"])));
    run(&plain, &idp, &p, &mut kv, &mut fetches);
    let json = kv.expect("a plain state");
    let g = gate(&[(SEAL_SECRET_VAR, SEAL_SECRET)]);
    let err = g.restore(ISS, &json, now()).unwrap_err();
    assert!(err.to_string().contains("not sealed"), "{err}");
    assert!(matches!(g.check(&p, None, now()), Outcome::FetchKeys(_)));
}

#[test]
fn sealed_gate_refuses_a_state_sealed_under_another_secret() {
    let (other, idp, mut kv, mut fetches) = (
        gate(&[(SEAL_SECRET_VAR, OTHER_SECRET)]),
        Idp::new(),
        None,
        0,
    );
    let p = parts("/api/x", Some(&idp.token("alice", &["reader"])));
    run(&other, &idp, &p, &mut kv, &mut fetches);
    let foreign = kv.expect("a sealed state");
    let g = gate(&[(SEAL_SECRET_VAR, SEAL_SECRET)]);
    let err = g.restore(ISS, &foreign, now()).unwrap_err();
    assert!(matches!(err, WorkerError::State { .. }), "{err}");
    assert!(matches!(g.check(&p, None, now()), Outcome::FetchKeys(_)));
}

#[test]
fn old_seal_secret_opens_during_rotation() {
    let (old, idp, mut kv, mut fetches) = (
        gate(&[(SEAL_SECRET_VAR, OTHER_SECRET)]),
        Idp::new(),
        None,
        0,
    );
    let p = parts("/api/x", Some(&idp.token("alice", &["reader"])));
    run(&old, &idp, &p, &mut kv, &mut fetches);
    let g = gate(&[
        (SEAL_SECRET_VAR, SEAL_SECRET),
        (SEAL_SECRET_OLD_VAR, OTHER_SECRET),
    ]);
    g.restore(ISS, kv.as_deref().unwrap(), now()).unwrap();
    assert!(matches!(g.check(&p, None, now()), Outcome::Allow { .. }));
}

#[test]
fn seal_settings_are_checked() {
    let err = Settings::from_vars(vars(&[(SEAL_SECRET_OLD_VAR, OTHER_SECRET)])).unwrap_err();
    assert_eq!(
        err,
        WorkerError::Missing {
            var: SEAL_SECRET_VAR
        }
    );
    let err = settings(&[(SEAL_SECRET_VAR, "too short")])
        .gate()
        .unwrap_err();
    assert!(
        matches!(err, WorkerError::Invalid { var, .. } if var == SEAL_SECRET_VAR),
        "{err}"
    );
    assert!(!err.to_string().contains("too short"), "{err}");
    let s = settings(&[(SEAL_SECRET_VAR, SEAL_SECRET)]);
    assert!(!format!("{s:?}").contains(SEAL_SECRET));
    assert!(s.gate().unwrap().options().sealer.is_some());
}

#[test]
fn cache_api_alone_still_restores_before_fetching() {
    let mut s = settings(&[(CACHE_API_VAR, "1")]);
    s.options = s.options.with_kv_binding(None);
    let (g, idp) = (s.gate().unwrap(), Idp::new());
    assert!(g.options().cache_api);
    let p = parts("/api/x", Some(&idp.token("alice", &["reader"])));
    assert!(matches!(g.step(&p, None, 0, now()), Step::Restore { .. }));
    assert!(cache_key(ISS).starts_with("https://edge-auth.invalid/issuer-keys/https%3A%2F%2F"));
}

const LIMITED_POLICY: &str = r#"{"rules": [
  {"id": "limited", "match": {"paths": ["/limited"]}, "require": {"anonymous": true}, "effect": "allow",
   "limits": [{"id": "per-route", "key": "route", "rate": "1/60s", "burst": 1}]}
]}"#;

#[test]
fn with_a_durable_object_binding_limits_are_handed_to_the_driver() {
    use edge_auth::limit::{LimitStore, MemoryStore};
    let g = gate(&[
        (POLICY_VAR, LIMITED_POLICY),
        (LIMITS_DO_VAR, "EDGE_AUTH_LIMITS"),
    ]);
    assert_eq!(
        g.options().limits_binding.as_deref(),
        Some("EDGE_AUTH_LIMITS")
    );
    // The store stands for the Durable Objects: shared by every isolate.
    let store = MemoryStore::default();
    let p = parts("/limited", None);
    let mut statuses = Vec::new();
    for _ in 0..2 {
        let Step::Limits(pending) = g.step(&p, None, 0, now()) else {
            panic!("the limit is the driver's to decide");
        };
        let answers = pending
            .calls()
            .iter()
            .map(|call| store.check(call.key(), call.limit(), now()))
            .collect();
        statuses.push(match g.finish_limits(pending, answers, &p, None) {
            Step::Allow { .. } => 200,
            Step::Deny(rejection) => rejection.status().as_u16(),
            other => panic!("{other:?}"),
        });
    }
    assert_eq!(statuses, [200, 429]);
}

#[test]
fn a_failed_durable_object_fails_closed() {
    use edge_auth::limit::LimitError;
    let g = gate(&[
        (POLICY_VAR, LIMITED_POLICY),
        (LIMITS_DO_VAR, "EDGE_AUTH_LIMITS"),
    ]);
    let p = parts("/limited", None);
    let Step::Limits(pending) = g.step(&p, None, 0, now()) else {
        panic!("the limit is the driver's to decide");
    };
    let failed = vec![Err(LimitError::Store {
        reason: "durable object `EDGE_AUTH_LIMITS`: unreachable".to_owned(),
    })];
    let Step::Deny(rejection) = g.finish_limits(pending, failed, &p, None) else {
        panic!("expected a deny");
    };
    assert_eq!(rejection.status(), StatusCode::SERVICE_UNAVAILABLE);
}

#[test]
fn without_a_durable_object_binding_the_isolate_limits_in_memory() {
    let g = gate(&[(POLICY_VAR, LIMITED_POLICY)]);
    let p = parts("/limited", None);
    assert!(matches!(g.step(&p, None, 0, now()), Step::Allow { .. }));
    let Step::Deny(rejection) = g.step(&p, None, 0, now()) else {
        panic!("the in-memory limit refuses the second request");
    };
    assert_eq!(rejection.status(), StatusCode::TOO_MANY_REQUESTS);
}

// ---- Certificate-bound tokens (RFC 8705) from `request.cf.tlsClientAuth`.

/// A certificate's SHA-256 as Cloudflare gives it: upper-case hex.
const CF_FINGERPRINT: &str = "BFAF1F7E070F9FA8DD62905F158DA73F84A1136624FBAFCC9393C8F7287A69EB";
/// The same digest as a token's `cnf.x5t#S256` (base64url, computed outside
/// this crate).
const CF_X5T: &str = "v68ffgcPn6jdYpBfFY2nP4ShE2Yk-6_Mk5PI9yh6aes";

#[test]
fn worker_cf_fingerprint_hex_is_the_certificate_digest() {
    let cert = client_cert_from_cf("1", "SUCCESS", CF_FINGERPRINT).unwrap();
    assert_eq!(cert.thumbprint(), CF_X5T);
    let lower = client_cert_from_cf("1", "SUCCESS", &CF_FINGERPRINT.to_lowercase()).unwrap();
    assert_eq!(lower, cert);
}

#[test]
fn worker_cf_certificate_needs_presented_verified_and_well_formed() {
    assert!(client_cert_from_cf("0", "NONE", "").is_none());
    assert!(client_cert_from_cf("1", "FAILED:self signed certificate", CF_FINGERPRINT).is_none());
    assert!(client_cert_from_cf("0", "SUCCESS", CF_FINGERPRINT).is_none());
    assert!(client_cert_from_cf("1", "SUCCESS", &CF_FINGERPRINT[..62]).is_none());
    assert!(client_cert_from_cf("1", "SUCCESS", &"Z".repeat(64)).is_none());
}

#[test]
fn worker_gate_checks_bound_token_against_cf_certificate() {
    let idp = Idp::new();
    let g = gate(&[]);
    let token = idp.sign(&json!({
        "iss": ISS, "aud": AUD, "sub": "svc", "roles": ["reader"],
        "iat": now().unix_timestamp(), "exp": now().unix_timestamp() + 3600,
        "cnf": {"x5t#S256": CF_X5T},
    }));
    let (mut kv, mut fetches) = (None, 0);
    // The runtime's extension: the verified certificate of the connection.
    let mut with_cert = parts("/api/orders", Some(&token));
    with_cert
        .extensions
        .insert(client_cert_from_cf("1", "SUCCESS", CF_FINGERPRINT).unwrap());
    let step = run(&g, &idp, &with_cert, &mut kv, &mut fetches);
    assert!(matches!(step, Step::Allow { .. }), "{step:?}");
    let without = parts("/api/orders", Some(&token));
    match run(&g, &idp, &without, &mut kv, &mut fetches) {
        Step::Deny(r) => assert_eq!(r.status(), StatusCode::UNAUTHORIZED),
        other => panic!("a bound token passed without its certificate: {other:?}"),
    }
}
