//! End to end: the hyper gateway example's pieces (development issuer, echo
//! upstream, gateway) started in-process on ephemeral loopback ports, driven
//! with real HTTP. Every loop is bounded and every request has a timeout.
//!
//! The gateway runs the library's real `edge_auth::gate::Gate`, signs upstream
//! requests with `edge_auth::httpsig` / `edge_auth::sigv4`, and fetches keys
//! with a TLS-capable client.

use crate::gateway_example as gateway;

use std::net::SocketAddr;
use std::sync::Arc;
use std::sync::atomic::{AtomicI64, Ordering};
use std::time::Duration;

use base64::Engine;
use base64::engine::general_purpose::{STANDARD, URL_SAFE_NO_PAD};
use bytes::Bytes;
use edge_auth::Secret;
use edge_auth::httpsig::{Component, KeyRing, Verifier, VerifierConfig, VerifyingKey};
use edge_auth::sigv4::{self, Payload, VerifyParams};
use gateway::{DevIssuer, EchoHandle, GatewayConfig, GatewayHandle, IssuerSettings, SignUpstream};
use http::{HeaderMap, Request, StatusCode, header};
use http_body_util::{BodyExt, Full};
use hyper_util::client::legacy::Client;
use hyper_util::client::legacy::connect::HttpConnector;
use hyper_util::rt::TokioExecutor;
use serde_json::Value;

const POLICY: &str = include_str!("../../examples/gateway/policy.toml");
const AUDIENCE: &str = "api://edge-auth-test";
const HMAC_SECRET: &[u8] = b"test-only shared secret, 32 bytes";
const REQUEST_TIMEOUT: Duration = Duration::from_secs(10);
/// Past any JWKS TTL (the dev issuer says 300 s) and any unknown-kid cooldown.
const LATER: time::Duration = time::Duration::minutes(10);

fn loopback() -> SocketAddr {
    SocketAddr::from(([127, 0, 0, 1], 0))
}

/// A clock the test moves forward; the gateway and the tokens both use it.
#[derive(Clone, Default)]
struct TestClock(Arc<AtomicI64>);

impl TestClock {
    fn now(&self) -> time::OffsetDateTime {
        time::OffsetDateTime::now_utc() + time::Duration::seconds(self.0.load(Ordering::SeqCst))
    }
    fn advance(&self, by: time::Duration) {
        self.0.fetch_add(by.whole_seconds(), Ordering::SeqCst);
    }
}

struct Rig {
    issuer: DevIssuer,
    _echo: EchoHandle,
    gateway: GatewayHandle,
    clock: TestClock,
    client: Client<HttpConnector, Full<Bytes>>,
}

struct Reply {
    status: StatusCode,
    headers: HeaderMap,
    body: Bytes,
}

impl Reply {
    /// The echo's report of the request it received.
    fn echoed(&self) -> Value {
        serde_json::from_slice(&self.body).unwrap_or(Value::Null)
    }
    /// Values of a header as the upstream saw it.
    fn upstream_header(&self, name: &str) -> Vec<String> {
        self.echoed()["headers"][name]
            .as_array()
            .map(|values| {
                values
                    .iter()
                    .filter_map(|v| v.as_str().map(str::to_owned))
                    .collect()
            })
            .unwrap_or_default()
    }
}

async fn rig_with(configure: impl FnOnce(&mut GatewayConfig)) -> Rig {
    let issuer = gateway::start_dev_issuer(loopback(), AUDIENCE)
        .await
        .unwrap();
    let echo = gateway::start_echo(loopback()).await.unwrap();
    let clock = TestClock::default();
    let mut config = GatewayConfig::new(loopback(), format!("http://{}", echo.addr()), POLICY);
    config.issuers.push(IssuerSettings {
        issuer: issuer.issuer().to_owned(),
        audience: AUDIENCE.to_owned(),
        jwks_uri: None,
        roles: gateway::role_mapper("roles").unwrap(),
    });
    let test_clock = clock.clone();
    config.clock = Arc::new(move || test_clock.now());
    config.poll_interval = Duration::from_millis(100);
    config.fetch_timeout = Duration::from_secs(2);
    configure(&mut config);
    let gateway = gateway::start_gateway(config).await.unwrap();
    let client = Client::builder(TokioExecutor::new()).build_http();
    Rig {
        issuer,
        _echo: echo,
        gateway,
        clock,
        client,
    }
}

async fn rig() -> Rig {
    rig_with(|_| {}).await
}

impl Rig {
    fn token(&self, subject: &str, roles: &[&str]) -> String {
        self.issuer
            .mint(subject, roles, self.clock.now(), time::Duration::hours(1))
    }

    async fn send(
        &self,
        method: &str,
        path: &str,
        token: Option<&str>,
        extra: &[(&str, &str)],
    ) -> Reply {
        self.send_with(method, path, token, extra, Bytes::new())
            .await
    }

    async fn send_with(
        &self,
        method: &str,
        path: &str,
        token: Option<&str>,
        extra: &[(&str, &str)],
        body: Bytes,
    ) -> Reply {
        let mut request = Request::builder()
            .method(method)
            .uri(format!("http://{}{path}", self.gateway.addr()));
        if let Some(token) = token {
            request = request.header(header::AUTHORIZATION, format!("Bearer {token}"));
        }
        for (name, value) in extra {
            request = request.header(*name, *value);
        }
        let request = request.body(Full::new(body)).unwrap();
        let work = async {
            let response = self.client.request(request).await.unwrap();
            let (head, body) = response.into_parts();
            let body = body.collect().await.unwrap().to_bytes();
            Reply {
                status: head.status,
                headers: head.headers,
                body,
            }
        };
        tokio::time::timeout(REQUEST_TIMEOUT, work)
            .await
            .expect("request timed out")
    }

    async fn send_body(
        &self,
        method: &str,
        path: &str,
        token: Option<&str>,
        extra: &[(&str, &str)],
        body: &[u8],
    ) -> Reply {
        self.send_with(method, path, token, extra, Bytes::copy_from_slice(body))
            .await
    }

    async fn get(&self, path: &str, token: Option<&str>) -> Reply {
        self.send("GET", path, token, &[]).await
    }

    /// Waits (bounded) until the issuer has seen more than `before` JWKS requests.
    async fn await_jwks_request_after(&self, before: u64) -> bool {
        for _ in 0..50 {
            if self.issuer.jwks_requests() > before {
                return true;
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
        false
    }
}

fn challenge(reply: &Reply) -> String {
    reply
        .headers
        .get(header::WWW_AUTHENTICATE)
        .and_then(|v| v.to_str().ok())
        .unwrap_or_default()
        .to_owned()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn health_is_anonymous() {
    let rig = rig().await;
    let reply = rig.get("/health", None).await;
    assert_eq!(reply.status, StatusCode::OK);
    assert!(reply.upstream_header("x-auth-subject").is_empty());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn no_token_gets_401_with_bearer_challenge() {
    let rig = rig().await;
    let reply = rig.get("/api/items", None).await;
    assert_eq!(reply.status, StatusCode::UNAUTHORIZED);
    let challenge = challenge(&reply);
    assert!(
        challenge.starts_with("Bearer realm=\"edge-auth\""),
        "{challenge}"
    );
    // RFC 6750 §3.1: no error code when the request carried no credentials.
    assert!(!challenge.contains("error="), "{challenge}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn reader_on_admin_route_gets_403() {
    let rig = rig().await;
    let reader = rig.token("alice", &["reader"]);
    let reply = rig.get("/admin/users", Some(&reader)).await;
    assert_eq!(reply.status, StatusCode::FORBIDDEN);
    assert!(
        challenge(&reply).contains("error=\"insufficient_scope\""),
        "{}",
        challenge(&reply)
    );
    // And the same token where it is allowed.
    assert_eq!(
        rig.get("/api/items", Some(&reader)).await.status,
        StatusCode::OK
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn admin_passes_and_upstream_sees_identity() {
    let rig = rig().await;
    let admin = rig.token("bob", &["admin", "reader"]);
    let reply = rig.get("/admin/users?page=2", Some(&admin)).await;
    assert_eq!(reply.status, StatusCode::OK);
    let echoed = reply.echoed();
    assert_eq!(echoed["method"], "GET");
    assert_eq!(echoed["path"], "/admin/users");
    assert_eq!(echoed["query"], "page=2");
    assert_eq!(reply.upstream_header("x-auth-subject"), ["bob"]);
    assert_eq!(reply.upstream_header("x-auth-roles"), ["admin,reader"]);
    // The bearer token stays at the gateway.
    assert!(reply.upstream_header("authorization").is_empty());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn inbound_identity_and_hop_by_hop_headers_are_stripped() {
    let rig = rig().await;
    let reader = rig.token("alice", &["reader"]);
    let forged = [
        ("x-auth-subject", "mallory"),
        ("x-auth-roles", "admin"),
        ("x-auth-tenant", "evil"),
        ("signature", "sig1=:AAAA:"),
        ("signature-input", "sig1=();created=1"),
        ("connection", "x-private"),
        ("x-private", "for the gateway only"),
        ("x-forwarded-for", "10.9.9.9"),
    ];
    let reply = rig.send("GET", "/api/items", Some(&reader), &forged).await;
    assert_eq!(reply.status, StatusCode::OK);
    assert_eq!(reply.upstream_header("x-auth-subject"), ["alice"]);
    assert_eq!(reply.upstream_header("x-auth-roles"), ["reader"]);
    assert_eq!(reply.upstream_header("x-forwarded-for"), ["127.0.0.1"]);
    for name in ["x-auth-tenant", "signature", "signature-input", "x-private"] {
        assert!(
            reply.upstream_header(name).is_empty(),
            "`{name}` reached the upstream"
        );
    }
    // On an anonymous route nothing identity-like gets through either.
    let reply = rig.send("GET", "/health", None, &forged).await;
    assert_eq!(reply.status, StatusCode::OK);
    assert!(reply.upstream_header("x-auth-subject").is_empty());
    assert!(reply.upstream_header("x-auth-roles").is_empty());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn concurrent_cold_start_shares_one_fetch() {
    let rig = Arc::new(rig().await);
    let reader = rig.token("alice", &["reader"]);
    let mut tasks = tokio::task::JoinSet::new();
    for _ in 0..20 {
        let (rig, token) = (Arc::clone(&rig), reader.clone());
        tasks.spawn(async move { rig.get("/api/items", Some(&token)).await.status });
    }
    while let Some(status) = tasks.join_next().await {
        assert_eq!(status.unwrap(), StatusCode::OK);
    }
    assert_eq!(
        rig.issuer.discovery_requests(),
        1,
        "discovery fetched more than once"
    );
    assert_eq!(rig.issuer.jwks_requests(), 1, "JWKS fetched more than once");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn key_rotation_causes_no_failures() {
    let rig = rig().await;
    let old = rig.token("alice", &["reader"]);
    assert_eq!(
        rig.get("/api/items", Some(&old)).await.status,
        StatusCode::OK
    );

    let new_kid = rig.issuer.rotate().unwrap();
    rig.clock.advance(LATER);
    let new = rig.token("carol", &["reader"]);
    assert!(new.split('.').next().is_some_and(|h| {
        String::from_utf8(URL_SAFE_NO_PAD.decode(h).unwrap())
            .unwrap()
            .contains(&new_kid)
    }));
    let old = rig.token("alice", &["reader"]);
    for round in 0..10 {
        for (name, token) in [("new", &new), ("old", &old)] {
            let status = rig.get("/api/items", Some(token)).await.status;
            assert_eq!(
                status,
                StatusCode::OK,
                "{name}-key token failed in round {round}"
            );
        }
    }
    assert!(
        rig.issuer.jwks_requests() <= 3,
        "{} JWKS requests",
        rig.issuer.jwks_requests()
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn issuer_down_known_keys_keep_working() {
    let rig = rig().await;
    let reader = rig.token("alice", &["reader"]);
    assert_eq!(
        rig.get("/api/items", Some(&reader)).await.status,
        StatusCode::OK
    );

    rig.issuer.set_down(true);
    let before = rig.issuer.jwks_requests();
    // Past the JWKS TTL: a refresh (refresh-ahead or on request) tries and fails.
    rig.clock.advance(LATER);
    let reader = rig.token("alice", &["reader"]);
    for round in 0..20 {
        let status = rig.get("/api/items", Some(&reader)).await.status;
        assert_eq!(
            status,
            StatusCode::OK,
            "round {round} while the issuer is down"
        );
    }
    assert!(
        rig.await_jwks_request_after(before).await,
        "no refresh was attempted"
    );
    rig.issuer.set_down(false);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn unknown_kid_flood_keeps_jwks_fetches_bounded() {
    let rig = Arc::new(rig().await);
    let reader = rig.token("alice", &["reader"]);
    assert_eq!(
        rig.get("/api/items", Some(&reader)).await.status,
        StatusCode::OK
    );
    // Past the cooldown, so the first unknown kid may legitimately refetch once.
    rig.clock.advance(LATER);
    let before = rig.issuer.jwks_requests();
    let claims = rig.issuer.claims(
        "mallory",
        &["admin"],
        rig.clock.now(),
        time::Duration::hours(1),
    );
    for batch in 0..10 {
        let mut tasks = tokio::task::JoinSet::new();
        for i in 0..20 {
            let rig = Arc::clone(&rig);
            let token = rig
                .issuer
                .sign(&claims, None, Some(&format!("unknown-{batch}-{i}")));
            tasks.spawn(async move { rig.get("/admin/users", Some(&token)).await.status });
        }
        while let Some(status) = tasks.join_next().await {
            assert_eq!(status.unwrap(), StatusCode::UNAUTHORIZED);
        }
    }
    let fetched = rig.issuer.jwks_requests() - before;
    // One unknown-kid refetch, plus possibly one refresh-ahead (the TTL also passed).
    assert!(
        fetched <= 2,
        "{fetched} JWKS requests for 200 unknown-kid tokens"
    );
    // Known keys are unaffected by the flood.
    let reader = rig.token("alice", &["reader"]);
    assert_eq!(
        rig.get("/api/items", Some(&reader)).await.status,
        StatusCode::OK
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn wrong_audience_issuer_or_algorithm_is_401() {
    let rig = rig().await;
    let now = rig.clock.now();
    let mut claims = rig
        .issuer
        .claims("alice", &["admin"], now, time::Duration::hours(1));
    claims.insert("aud".into(), "api://someone-else".into());
    let wrong_aud = rig.issuer.sign(&claims, None, None);
    let mut claims = rig
        .issuer
        .claims("alice", &["admin"], now, time::Duration::hours(1));
    claims.insert("iss".into(), "http://127.0.0.1:1".into());
    let wrong_iss = rig.issuer.sign(&claims, None, None);
    let expired = rig.issuer.mint(
        "alice",
        &["admin"],
        now - time::Duration::hours(2),
        time::Duration::hours(1),
    );
    let claims = rig
        .issuer
        .claims("alice", &["admin"], now, time::Duration::hours(1));
    let payload = URL_SAFE_NO_PAD.encode(Value::Object(claims).to_string());
    let alg_none = format!(
        "{}.{payload}.",
        URL_SAFE_NO_PAD.encode(r#"{"alg":"none","typ":"JWT"}"#)
    );
    for (name, token) in [
        ("aud", wrong_aud),
        ("iss", wrong_iss),
        ("exp", expired),
        ("alg none", alg_none),
    ] {
        let reply = rig.get("/admin/users", Some(&token)).await;
        assert_eq!(reply.status, StatusCode::UNAUTHORIZED, "{name}");
        assert!(
            challenge(&reply).contains("error=\"invalid_token\""),
            "{name}: {}",
            challenge(&reply)
        );
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn forged_signature_is_401() {
    let rig = rig().await;
    let reader = rig.token("alice", &["reader"]);
    assert_eq!(
        rig.get("/api/items", Some(&reader)).await.status,
        StatusCode::OK
    );
    // Same header and signature, payload promoted to admin.
    let admin_claims = rig.issuer.claims(
        "alice",
        &["admin"],
        rig.clock.now(),
        time::Duration::hours(1),
    );
    let mut parts = reader.split('.');
    let (header, _, signature) = (parts.next().unwrap(), parts.next(), parts.next().unwrap());
    let payload = URL_SAFE_NO_PAD.encode(Value::Object(admin_claims).to_string());
    let forged = format!("{header}.{payload}.{signature}");
    let reply = rig.get("/admin/users", Some(&forged)).await;
    assert_eq!(reply.status, StatusCode::UNAUTHORIZED);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn token_signed_by_retired_key_is_401() {
    let rig = rig().await;
    let first_kid = rig.issuer.current_kid();
    let claims = rig.issuer.claims(
        "alice",
        &["reader"],
        rig.clock.now(),
        time::Duration::hours(1),
    );
    assert_eq!(
        rig.get("/api/items", Some(&rig.issuer.sign(&claims, None, None)))
            .await
            .status,
        StatusCode::OK
    );
    // Two rotations retire the first key; a token signed by the newest key but
    // naming the first key's kid must not verify against the first key.
    rig.issuer.rotate().unwrap();
    rig.issuer.rotate().unwrap();
    rig.clock.advance(LATER);
    let claims = rig.issuer.claims(
        "alice",
        &["reader"],
        rig.clock.now(),
        time::Duration::hours(1),
    );
    let mislabelled = rig.issuer.sign(&claims, None, Some(&first_kid));
    assert_eq!(
        rig.get("/api/items", Some(&mislabelled)).await.status,
        StatusCode::UNAUTHORIZED
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn gate_off_is_a_plain_proxy() {
    let rig = rig_with(|config| config.gate_enabled = false).await;
    let reply = rig
        .send(
            "GET",
            "/admin/users",
            None,
            &[("x-auth-subject", "mallory")],
        )
        .await;
    assert_eq!(reply.status, StatusCode::OK);
    assert!(reply.upstream_header("x-auth-subject").is_empty());
    assert_eq!(rig.issuer.jwks_requests(), 0);
}

/// The request the echo received, rebuilt as `http` parts (origin-form URI
/// plus the headers it saw), for a verifier on the upstream's side.
fn upstream_parts(reply: &Reply) -> http::request::Parts {
    let echoed = reply.echoed();
    let target = match echoed["query"].as_str() {
        Some(query) => format!("{}?{query}", echoed["path"].as_str().unwrap()),
        None => echoed["path"].as_str().unwrap().to_owned(),
    };
    let mut request = Request::builder()
        .method(echoed["method"].as_str().unwrap())
        .uri(target);
    for (name, values) in echoed["headers"].as_object().unwrap() {
        for value in values.as_array().unwrap() {
            request = request.header(name.as_str(), value.as_str().unwrap());
        }
    }
    request.body(()).unwrap().into_parts().0
}

/// An independent, minimal RFC 9421 §2.5 / §3.2 check of what the echo saw:
/// rebuild the signature base from the received request, check the
/// Content-Digest (RFC 9530) against the body sent, compare the HMAC.
fn check_signature_independently(reply: &Reply, body: &[u8]) {
    let input = reply.upstream_header("signature-input");
    let signature = reply.upstream_header("signature");
    let (Some(input), Some(signature)) = (input.first(), signature.first()) else {
        panic!("upstream saw no signature: {}", reply.echoed());
    };
    let params = input.strip_prefix("sig1=").expect("label sig1");
    assert!(
        params.contains("keyid=\"gateway\"") && params.contains("alg=\"hmac-sha256\""),
        "{params}"
    );
    let covered = params
        .strip_prefix('(')
        .and_then(|p| p.split_once(')'))
        .map(|(list, _)| list)
        .unwrap();
    let echoed = reply.echoed();
    let mut base = String::new();
    for component in covered.split(' ') {
        let name = component.trim_matches('"');
        let value = match name {
            "@method" => echoed["method"].as_str().unwrap().to_owned(),
            "@path" => echoed["path"].as_str().unwrap().to_owned(),
            // §2.2.7: the query with its leading `?`; an absent query is `?`.
            "@query" => format!("?{}", echoed["query"].as_str().unwrap_or_default()),
            "@authority" => reply
                .upstream_header("host")
                .first()
                .unwrap()
                .to_ascii_lowercase(),
            header => reply.upstream_header(header).join(", "),
        };
        base.push_str(&format!("{component}: {value}\n"));
    }
    for required in [
        "\"@method\"",
        "\"@path\"",
        "\"@query\"",
        "\"@authority\"",
        "\"content-digest\"",
        "\"x-auth-subject\"",
        "\"x-auth-roles\"",
    ] {
        assert!(
            covered.contains(required),
            "{required} not covered: {covered}"
        );
    }
    base.push_str(&format!("\"@signature-params\": {params}"));
    let digest = ring::digest::digest(&ring::digest::SHA256, body);
    assert_eq!(
        reply.upstream_header("content-digest"),
        [format!("sha-256=:{}:", STANDARD.encode(digest.as_ref()))]
    );
    let mac = signature
        .strip_prefix("sig1=:")
        .and_then(|s| s.strip_suffix(':'))
        .unwrap();
    let key = ring::hmac::Key::new(ring::hmac::HMAC_SHA256, HMAC_SECRET);
    ring::hmac::verify(&key, base.as_bytes(), &STANDARD.decode(mac).unwrap())
        .expect("signature does not verify");
}

fn hmac_signing(config: &mut GatewayConfig) {
    config.sign_upstream = SignUpstream::HttpSigHmac {
        key_id: "gateway".into(),
        secret: Secret::new(HMAC_SECRET.to_vec()),
    };
}

/// What an upstream would run: the library's verifier, requiring the request
/// line, the body digest and both identity headers to be covered.
fn upstream_verifier() -> Verifier {
    let mut config = VerifierConfig::default();
    config.required_components = [
        "@method",
        "@authority",
        "@path",
        "@query",
        "x-auth-subject",
        "x-auth-roles",
    ]
    .iter()
    .map(|name| Component::try_from_name(name).unwrap())
    .collect();
    config.assumed_scheme = "http".into();
    Verifier::new(config).unwrap()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn upstream_request_signature_verifies() {
    let rig = rig_with(hmac_signing).await;
    let admin = rig.token("bob", &["admin"]);
    let body = br#"{"name":"widget"}"#;
    let reply = rig
        .send_body("POST", "/api/items?dry_run=1", Some(&admin), &[], body)
        .await;
    assert_eq!(reply.status, StatusCode::OK);
    assert_eq!(reply.echoed()["body_len"], body.len());
    check_signature_independently(&reply, body);

    // The library's own verifier on the upstream side agrees.
    let mut keys = KeyRing::new();
    keys.insert(
        "gateway",
        VerifyingKey::try_from_hmac_sha256(&Secret::new(HMAC_SECRET.to_vec())).unwrap(),
    );
    let parts = upstream_parts(&reply);
    let verified = upstream_verifier()
        .verify(&parts, body, &keys, None, rig.clock.now())
        .expect("library verifier refuses the gateway's signature");
    assert_eq!(
        (verified.label.as_str(), verified.keyid.as_str()),
        ("sig1", "gateway")
    );
    // Swapping an identity header between gateway and upstream breaks it.
    let mut swapped = upstream_parts(&reply);
    swapped
        .headers
        .insert("x-auth-roles", http::HeaderValue::from_static("superuser"));
    assert!(
        upstream_verifier()
            .verify(&swapped, body, &keys, None, rig.clock.now())
            .is_err()
    );
    // So does a different body.
    assert!(
        upstream_verifier()
            .verify(&parts, b"{}", &keys, None, rig.clock.now())
            .is_err()
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn anonymous_route_is_signed_without_identity_headers() {
    let rig = rig_with(hmac_signing).await;
    let reply = rig.get("/health", None).await;
    assert_eq!(reply.status, StatusCode::OK);
    let input = reply.upstream_header("signature-input");
    let input = input.first().expect("anonymous request is signed");
    assert!(!input.contains("x-auth-"), "{input}");
    let mut keys = KeyRing::new();
    keys.insert(
        "gateway",
        VerifyingKey::try_from_hmac_sha256(&Secret::new(HMAC_SECRET.to_vec())).unwrap(),
    );
    let mut config = VerifierConfig::default();
    config.assumed_scheme = "http".into();
    Verifier::new(config)
        .unwrap()
        .verify(&upstream_parts(&reply), b"", &keys, None, rig.clock.now())
        .expect("anonymous request signature verifies");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn upstream_request_sigv4_verifies() {
    const AKID: &str = "AKIDEXAMPLE";
    const SECRET: &str = "wJalrXUtnFEMI/K7MDENG+bPxRfiCYEXAMPLEKEY";
    let rig = rig_with(|config| {
        config.sign_upstream = SignUpstream::SigV4 {
            access_key_id: AKID.into(),
            secret_access_key: Secret::new(SECRET.into()),
            session_token: None,
            region: "eu-west-1".into(),
            service: "execute-api".into(),
        };
    })
    .await;
    let admin = rig.token("bob", &["admin"]);
    let body = br#"{"name":"widget"}"#;
    let reply = rig
        .send_body("POST", "/api/items?dry_run=1", Some(&admin), &[], body)
        .await;
    assert_eq!(reply.status, StatusCode::OK);
    let authorization = reply.upstream_header("authorization");
    let authorization = authorization.first().expect("SigV4 Authorization header");
    assert!(
        authorization.starts_with("AWS4-HMAC-SHA256 Credential=AKIDEXAMPLE/")
            && authorization.contains("x-auth-roles")
            && authorization.contains("x-auth-subject"),
        "{authorization}"
    );
    let lookup = |akid: &str| (akid == AKID).then(|| Secret::new(SECRET.to_owned()));
    let parts = upstream_parts(&reply);
    let now = rig.clock.now();
    let params = VerifyParams::new("eu-west-1", "execute-api", now);
    let signer = sigv4::verify(&parts, Payload::Bytes(body), lookup, &params)
        .expect("library SigV4 verifier refuses the gateway's signature");
    assert_eq!(signer.access_key_id, AKID);
    let mut swapped = upstream_parts(&reply);
    swapped
        .headers
        .insert("x-auth-subject", http::HeaderValue::from_static("mallory"));
    assert!(sigv4::verify(&swapped, Payload::Bytes(body), lookup, &params).is_err());
}

/// Real IdPs serve keys over HTTPS: the key client must try TLS (a
/// ClientHello reaches the server) rather than refuse the URL. The "server"
/// here is a bare TCP listener that records the first byte and hangs up, so
/// the handshake fails and the Gate answers 503 (keys unavailable).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn https_key_urls_are_fetched_over_tls() {
    let listener = tokio::net::TcpListener::bind(loopback()).await.unwrap();
    let jwks_uri = format!("https://{}/jwks", listener.local_addr().unwrap());
    let first_byte = tokio::spawn(async move {
        let (socket, _) = listener.accept().await.unwrap();
        let mut byte = [0u8; 1];
        // readable() + try_read: no tokio io-util feature needed.
        loop {
            socket.readable().await?;
            match socket.try_read(&mut byte) {
                Ok(0) => return Err(std::io::ErrorKind::UnexpectedEof.into()),
                Ok(_) => return Ok(byte[0]),
                Err(e) if e.kind() == std::io::ErrorKind::WouldBlock => continue,
                Err(e) => return Err(e),
            }
        }
    });
    let rig = rig_with(|config| {
        config.issuers[0].jwks_uri = Some(jwks_uri);
        config.fetch_timeout = Duration::from_secs(2);
    })
    .await;
    let reader = rig.token("alice", &["reader"]);
    let reply = rig.get("/api/items", Some(&reader)).await;
    assert_eq!(reply.status, StatusCode::SERVICE_UNAVAILABLE);
    // 0x16: a TLS handshake record (RFC 8446 §5.1), i.e. the ClientHello.
    let byte = tokio::time::timeout(REQUEST_TIMEOUT, first_byte)
        .await
        .expect("no connection to the https key URL")
        .unwrap()
        .unwrap();
    assert_eq!(byte, 0x16);
    assert_eq!(rig.issuer.discovery_requests(), 0);
}

/// The dev issuer's tokens and JWKS check out with an independent JOSE library.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn dev_issuer_tokens_verify_with_jsonwebtoken() {
    let rig = rig().await;
    let client = &rig.client;
    let fetch = |url: String| async move {
        let request = Request::get(url).body(Full::new(Bytes::new())).unwrap();
        let response = tokio::time::timeout(REQUEST_TIMEOUT, client.request(request))
            .await
            .unwrap()
            .unwrap();
        let body = response.into_body().collect().await.unwrap().to_bytes();
        serde_json::from_slice::<Value>(&body).unwrap()
    };
    let discovery = fetch(format!(
        "{}/.well-known/openid-configuration",
        rig.issuer.issuer()
    ))
    .await;
    assert_eq!(discovery["issuer"], rig.issuer.issuer());
    let jwks: jsonwebtoken::jwk::JwkSet =
        serde_json::from_value(fetch(discovery["jwks_uri"].as_str().unwrap().to_owned()).await)
            .unwrap();
    // Real time here: jsonwebtoken reads the system clock.
    let token = rig.issuer.mint(
        "alice",
        &["reader"],
        time::OffsetDateTime::now_utc(),
        time::Duration::hours(1),
    );
    let kid = jsonwebtoken::decode_header(&token).unwrap().kid.unwrap();
    let jwk = jwks.find(&kid).expect("kid in JWKS");
    let mut validation = jsonwebtoken::Validation::new(jsonwebtoken::Algorithm::RS256);
    validation.set_audience(&[AUDIENCE]);
    validation.set_issuer(&[rig.issuer.issuer()]);
    let data = jsonwebtoken::decode::<Value>(
        &token,
        &jsonwebtoken::DecodingKey::from_jwk(jwk).unwrap(),
        &validation,
    )
    .unwrap();
    assert_eq!(data.claims["roles"], serde_json::json!(["reader"]));
    assert_eq!(data.claims["sub"], "alice");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn issuer_crash_known_keys_keep_working() {
    let rig = rig().await;
    let reader = rig.token("alice", &["reader"]);
    assert_eq!(
        rig.get("/api/items", Some(&reader)).await.status,
        StatusCode::OK
    );
    // Connection refused from now on: the fetch-failure path, not a 503.
    let fetches = rig.gateway.fetches();
    rig.issuer.stop();
    rig.clock.advance(LATER);
    let reader = rig.token("alice", &["reader"]);
    for round in 0..20 {
        let status = rig.get("/api/items", Some(&reader)).await.status;
        assert_eq!(
            status,
            StatusCode::OK,
            "round {round} after the issuer crashed"
        );
    }
    // Wait (bounded) until a refresh has tried the dead issuer.
    for _ in 0..50 {
        if rig.gateway.fetches() > fetches {
            break;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    assert!(rig.gateway.fetches() > fetches, "no refresh was attempted");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn stalled_issuer_at_cold_start_fails_fast_with_one_fetch() {
    let rig = Arc::new(rig_with(|config| config.fetch_timeout = Duration::from_millis(500)).await);
    rig.issuer.set_hanging(true);
    let reader = rig.token("alice", &["reader"]);
    let started = std::time::Instant::now();
    let mut tasks = tokio::task::JoinSet::new();
    for _ in 0..10 {
        let (rig, token) = (Arc::clone(&rig), reader.clone());
        tasks.spawn(async move { rig.get("/api/items", Some(&token)).await.status });
    }
    while let Some(status) = tasks.join_next().await {
        let status = status.unwrap();
        // No keys to be had: 503 (the token may be fine), never 401 or a pass.
        assert_eq!(
            status,
            StatusCode::SERVICE_UNAVAILABLE,
            "{status} with no keys"
        );
    }
    // One 500 ms fetch timeout shared by all, not ten in a row (5 s).
    assert!(
        started.elapsed() < Duration::from_secs(4),
        "took {:?}",
        started.elapsed()
    );
    assert_eq!(rig.issuer.discovery_requests(), 1);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn identity_header_values_are_escaped() {
    let rig = rig().await;
    // A comma inside a role would otherwise split it in two at the upstream.
    let token = rig.token("alice smith", &["reader", "a,b", "ü"]);
    let reply = rig.get("/api/items", Some(&token)).await;
    assert_eq!(reply.status, StatusCode::OK);
    assert_eq!(reply.upstream_header("x-auth-subject"), ["alice%20smith"]);
    assert_eq!(
        reply.upstream_header("x-auth-roles"),
        ["a%2Cb,reader,%C3%BC"]
    );
}
