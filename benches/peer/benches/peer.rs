//! The same axum 0.8 app, in-process (`tower::ServiceExt::oneshot` on a
//! current-thread runtime, as benches/tower.rs): bare (the floor), behind
//! edge-auth's `GateLayer` (without and with the token cache), and behind
//! jwt-authorizer 0.15. Same RS256 token (2048-bit key,
//! tests/vectors/keys/rsa2048-pkcs1.pem), same JWKS text given to both up
//! front (no fetch during the bench), same checks: signature, `iss`, `aud`,
//! `exp`, `nbf`. Each handler reads the subject. The four apps are measured
//! in two interleaved rounds (`.../1`, then `.../2`) because the CPU is
//! shared.
//!
//! `cd benches/peer && cargo bench`

use std::convert::Infallible;
use std::sync::Arc;

use criterion::BenchmarkGroup;
use criterion::measurement::WallTime;
use tokio::runtime::Runtime;
use tower::Service;

use axum::body::Body;
use axum::routing::get;
use axum::{Extension, Router};
use base64::Engine as _;
use base64::engine::general_purpose::{STANDARD, URL_SAFE_NO_PAD};
use criterion::Criterion;
use edge_auth::driver::axum::Authenticated;
use edge_auth::driver::keys::{FetchFuture, FetchRequest, HttpClient, KeyDriver};
use edge_auth::driver::tower::GateLayer;
use edge_auth::gate::{Gate, GateConfig, IssuerConfig, TokenCacheConfig};
use edge_auth::oidc::RoleMapper;
use http::{HeaderMap, Request, StatusCode, header};
use jsonwebtoken9::TokenData;
use jwt_authorizer::{
    AuthError, Authorizer, IntoLayer, JwtAuthorizer, RegisteredClaims, Validation,
};
use ring::signature::{self, KeyPair, RsaKeyPair};
use serde_json::json;
use tower::{ServiceBuilder, ServiceExt};

const TENANT: &str = "72f988bf-86f1-41af-91ab-2d7cd011db47";
const AUDIENCE: &str = "api://2f5a6b1c-0000-4000-8000-00000000edge";
const KID: &str = "bench-1";
const KEY_PEM: &str = include_str!("../../../tests/vectors/keys/rsa2048-pkcs1.pem");

/// Never called: the key set is applied to the gate up front.
struct NoFetch;

impl HttpClient for NoFetch {
    fn get(&self, _: FetchRequest) -> FetchFuture<'_> {
        panic!("the bench fetched keys")
    }
}

/// The response type of the jwt-authorizer app. jwt-authorizer 0.15 is
/// built on axum 0.7: its layer answers a rejection with
/// `S::Response: From<AuthError>` (an axum 0.7 response), so it wraps the
/// axum 0.8 router as a tower service whose response is this newtype.
struct PeerResponse(http::Response<Body>);

impl From<AuthError> for PeerResponse {
    fn from(error: AuthError) -> Self {
        use axum07::response::IntoResponse as _;
        let (parts, body) = error.into_response().into_parts();
        PeerResponse(http::Response::from_parts(parts, Body::new(body)))
    }
}

fn b64(bytes: &[u8]) -> String {
    URL_SAFE_NO_PAD.encode(bytes)
}

/// The key pair, its JWKS text, and an Entra-ID-shaped access token.
fn key_jwks_token(issuer: &str, now: i64) -> (String, String) {
    let body: String = KEY_PEM
        .lines()
        .filter(|l| !l.starts_with("-----"))
        .collect();
    let der = STANDARD.decode(body).unwrap();
    let pair = RsaKeyPair::from_der(&der).unwrap();
    assert_eq!(pair.public().modulus_len(), 256, "a 2048-bit key");
    let public = signature::RsaPublicKeyComponents::<Vec<u8>>::from(pair.public_key());
    let jwks = json!({"keys": [{
        "kty": "RSA", "kid": KID, "use": "sig", "alg": "RS256",
        "n": b64(&public.n), "e": b64(&public.e),
    }]})
    .to_string();
    let header = json!({"alg": "RS256", "typ": "JWT", "kid": KID});
    let claims = json!({
        "aud": AUDIENCE, "iss": issuer,
        "iat": now - 60, "nbf": now - 60, "exp": now + 3600,
        "aio": "AWQAm/8YAAAAbH4G2H3lqB1q4nE6o0c2Z5rTJf3jLz2u6ZJ0kqv1W9sYh8bXcA1lJ7m0p6K3eT2y",
        "azp": "1950a258-227b-4e31-a9cf-717495945fc2", "azpacr": "0",
        "name": "Alice Example", "oid": "00000000-0000-0000-66f3-3332eca7ea81",
        "preferred_username": "alice@contoso.example",
        "rh": "0.AXEAv4j5cvGGr0GRqy180BHbR1oWUhkgIk5K...AA.",
        "roles": ["Gateway.Read", "Gateway.Write"],
        "scp": "access_as_user openid profile",
        "sub": "AAAAAAAAAAAAAAAAAAAAAIkzqFVrSaSaFHy782bbtaQ",
        "tid": TENANT, "uti": "fqiBqXLPj0eQa82S-IYFAA", "ver": "2.0",
        "wids": ["b79fbf4d-3ef9-4689-8143-76b194e85509"],
    });
    let input = format!(
        "{}.{}",
        b64(header.to_string().as_bytes()),
        b64(claims.to_string().as_bytes())
    );
    let mut sig = vec![0; pair.public().modulus_len()];
    pair.sign(
        &signature::RSA_PKCS1_SHA256,
        &ring::rand::SystemRandom::new(),
        input.as_bytes(),
        &mut sig,
    )
    .unwrap();
    (jwks, format!("{input}.{}", b64(&sig)))
}

fn request(token: &str) -> Request<Body> {
    Request::get("/orders")
        .header(header::AUTHORIZATION, format!("Bearer {token}"))
        .body(Body::empty())
        .unwrap()
}

/// `keep_claims: false` gives the handler what jwt-authorizer's
/// `RegisteredClaims` gives it (subject and issuer, not every claim).
fn gated(issuer: &str, jwks: &str, token_cache: bool, keep_claims: bool) -> (Router, KeyDriver) {
    let mut roles = RoleMapper::default();
    roles.keep_claims = keep_claims;
    let mut config = GateConfig::new([IssuerConfig::new(issuer, [AUDIENCE])
        .with_jwks_uri("https://login.microsoftonline.com/common/discovery/v2.0/keys")
        .with_algorithms([edge_auth::jwt::Algorithm::RS256])
        .with_roles(roles)]);
    if token_cache {
        config = config.with_token_cache(TokenCacheConfig::new(1024));
    }
    let gate = Gate::new(config).unwrap();
    let mut headers = HeaderMap::new();
    headers.insert(header::CACHE_CONTROL, "max-age=86400".parse().unwrap());
    gate.apply_jwks_response(
        issuer,
        StatusCode::OK,
        &headers,
        jwks.as_bytes(),
        time::OffsetDateTime::now_utc(),
    )
    .unwrap();
    let driver = KeyDriver::new(Arc::new(gate), NoFetch);
    let app = Router::new()
        .route(
            "/orders",
            get(|Authenticated(who): Authenticated| async move {
                who.subject.clone().unwrap_or_default()
            }),
        )
        .layer(GateLayer::new(driver.clone()));
    (app, driver)
}

impl From<PeerResponse> for http::Response<Body> {
    fn from(response: PeerResponse) -> Self {
        response.0
    }
}

fn status<S>(runtime: &Runtime, app: &S, token: &str) -> StatusCode
where
    S: Service<Request<Body>, Error = Infallible> + Clone,
    S::Response: Into<http::Response<Body>>,
{
    let response = runtime.block_on(app.clone().oneshot(request(token)));
    let Ok(response) = response;
    response.into().status()
}

fn one<S>(
    group: &mut BenchmarkGroup<'_, WallTime>,
    runtime: &Runtime,
    name: &str,
    round: u32,
    app: &S,
    token: &str,
) where
    S: Service<Request<Body>, Error = Infallible> + Clone,
{
    group.bench_function(format!("{name}/{round}"), |b| {
        b.iter(|| runtime.block_on(app.clone().oneshot(request(token))))
    });
}

fn bench(c: &mut Criterion) {
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    let issuer = format!("https://login.microsoftonline.com/{TENANT}/v2.0");
    let now = time::OffsetDateTime::now_utc().unix_timestamp();
    let (jwks, token) = key_jwks_token(&issuer, now);

    let bare = Router::new().route("/orders", get(|| async { "ok" }));
    let (gate, gate_driver) = gated(&issuer, &jwks, false, true);
    let (gate_registered, registered_driver) = gated(&issuer, &jwks, false, false);
    let (gate_cached, cached_driver) = gated(&issuer, &jwks, true, true);
    let authorizer: Authorizer<RegisteredClaims> = runtime
        .block_on(
            JwtAuthorizer::from_jwks_text(&jwks)
                .validation(
                    Validation::new()
                        .iss(&[issuer.as_str()])
                        .aud(&[AUDIENCE])
                        .exp(true)
                        .nbf(true)
                        .algs(vec![jsonwebtoken9::Algorithm::RS256]),
                )
                .build(),
        )
        .unwrap();
    // The same handler body; jwt-authorizer's `JwtClaims` extractor is an
    // axum 0.7 one, so the handler reads the extension it inserts.
    let peer_app = Router::new().route(
        "/orders",
        get(
            |Extension(data): Extension<TokenData<RegisteredClaims>>| async move {
                data.claims.sub.unwrap_or_default()
            },
        ),
    );
    let peer = ServiceBuilder::new()
        .layer(authorizer.into_layer())
        .map_response(PeerResponse)
        .service(peer_app);

    // Each app answers 200 to the token, and 401 to a token signed by
    // nobody (the last signature byte changed), so both check signatures.
    let mut forged = token.clone().into_bytes();
    if let Some(last) = forged.last_mut() {
        *last = if *last == b'A' { b'B' } else { b'A' };
    }
    let forged = String::from_utf8(forged).unwrap();
    assert_eq!(status(&runtime, &bare, &token), StatusCode::OK);
    for (name, ok, bad) in [
        (
            "gate",
            status(&runtime, &gate, &token),
            status(&runtime, &gate, &forged),
        ),
        (
            "gate_registered",
            status(&runtime, &gate_registered, &token),
            status(&runtime, &gate_registered, &forged),
        ),
        (
            "gate_cached",
            status(&runtime, &gate_cached, &token),
            status(&runtime, &gate_cached, &forged),
        ),
        (
            "peer",
            status(&runtime, &peer, &token),
            status(&runtime, &peer, &forged),
        ),
    ] {
        assert_eq!(
            (ok, bad),
            (StatusCode::OK, StatusCode::UNAUTHORIZED),
            "{name}"
        );
    }

    // Instruction counts (stable under load): `EDGE_AUTH_COUNT=APP` with
    // `EDGE_AUTH_COUNT_N=N` only sends N requests to that app (`bare`,
    // `gate`, `gate_registered`, `gate_cached`, `peer`) and returns;
    // ../icount.sh turns two such runs under cachegrind into instructions
    // per request.
    if let Ok(app) = std::env::var("EDGE_AUTH_COUNT") {
        let n: usize = std::env::var("EDGE_AUTH_COUNT_N")
            .ok()
            .and_then(|n| n.parse().ok())
            .unwrap_or(1_000);
        for _ in 0..n {
            let status = match app.as_str() {
                "bare" => status(&runtime, &bare, &token),
                "gate" => status(&runtime, &gate, &token),
                "gate_registered" => status(&runtime, &gate_registered, &token),
                "gate_cached" => status(&runtime, &gate_cached, &token),
                "peer" => status(&runtime, &peer, &token),
                other => panic!("unknown EDGE_AUTH_COUNT app `{other}`"),
            };
            assert_eq!(status, StatusCode::OK);
        }
        return;
    }

    let mut group = c.benchmark_group("peer");
    for round in 1..=2 {
        one(&mut group, &runtime, "bare_app", round, &bare, &token);
        one(
            &mut group,
            &runtime,
            "gate_layer_rs256",
            round,
            &gate,
            &token,
        );
        one(
            &mut group,
            &runtime,
            "gate_layer_rs256_sub_iss_only",
            round,
            &gate_registered,
            &token,
        );
        one(
            &mut group,
            &runtime,
            "gate_layer_rs256_token_cache",
            round,
            &gate_cached,
            &token,
        );
        one(
            &mut group,
            &runtime,
            "jwt_authorizer_rs256",
            round,
            &peer,
            &token,
        );
    }
    group.finish();
    assert_eq!(gate_driver.stats().jwks_fetch_started, 0);
    assert_eq!(cached_driver.stats().jwks_fetch_started, 0);
    assert_eq!(registered_driver.stats().jwks_fetch_started, 0);
}

criterion::criterion_group!(benches, bench);
criterion::criterion_main!(benches);
