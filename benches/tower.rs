//! Requests through an axum 0.8 app in-process (`tower::ServiceExt::oneshot`
//! on a current-thread runtime): the bare app (the floor) against the same
//! app behind `GateLayer` with an Entra-ID-shaped RS256 access token, keys
//! warm (served once by an in-memory `HttpClient`, no network). The same
//! app and token serve the comparison with other tower auth layers.
//!
//! `cargo bench --bench tower --features axum`

#[path = "../tests/it/support/jwt.rs"]
mod jwt_support;

use std::sync::Arc;

use aws_lc_rs::rsa::KeySize;
use axum::Router;
use axum::body::Body;
use axum::routing::get;
use criterion::Criterion;
use edge_auth::driver::axum::Authenticated;
use edge_auth::driver::keys::{FetchFuture, FetchRequest, FetchResponse, HttpClient, KeyDriver};
use edge_auth::driver::tower::GateLayer;
use edge_auth::gate::{Gate, GateConfig, IssuerConfig};
use edge_auth::jwt::Algorithm;
use http::{HeaderMap, Request, StatusCode, header};
use jwt_support::{TestKey, jwks};
use tower::ServiceExt;

const TENANT: &str = "72f988bf-86f1-41af-91ab-2d7cd011db47";
const AUDIENCE: &str = "api://2f5a6b1c-0000-4000-8000-00000000edge";

/// Serves one key set from memory.
struct StaticJwks(Vec<u8>);

impl HttpClient for StaticJwks {
    fn get(&self, _: FetchRequest) -> FetchFuture<'_> {
        let mut headers = HeaderMap::new();
        headers.insert(header::CACHE_CONTROL, "max-age=86400".parse().unwrap());
        let response = FetchResponse::new(StatusCode::OK, headers, self.0.clone());
        Box::pin(async move { Ok(response) })
    }
}

async fn handler(Authenticated(who): Authenticated) -> String {
    who.subject.clone().unwrap_or_default()
}

fn request(token: &str) -> Request<Body> {
    Request::get("/orders")
        .header(header::AUTHORIZATION, format!("Bearer {token}"))
        .body(Body::empty())
        .unwrap()
}

fn bench(c: &mut Criterion) {
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    let key = TestKey::rsa("bench-1", KeySize::Rsa2048);
    let now = time::OffsetDateTime::now_utc().unix_timestamp();
    let token = key.mint(
        Algorithm::RS256,
        &jwt_support::entra_access_token_claims(TENANT, AUDIENCE, now),
    );
    let issuer = format!("https://login.microsoftonline.com/{TENANT}/v2.0");
    let config = GateConfig::new([IssuerConfig::new(issuer, [AUDIENCE])
        .with_jwks_uri("https://login.microsoftonline.com/common/discovery/v2.0/keys")
        .with_algorithms([Algorithm::RS256])]);
    let driver = KeyDriver::new(
        Arc::new(Gate::new(config).unwrap()),
        StaticJwks(jwks(&[&key])),
    );
    let bare = Router::new().route("/orders", get(|| async { "ok" }));
    let gated = Router::new()
        .route("/orders", get(handler))
        .layer(GateLayer::new(driver.clone()));
    // Warm the key set, and check both apps answer 200.
    for app in [&bare, &gated] {
        let response = runtime
            .block_on(app.clone().oneshot(request(&token)))
            .unwrap();
        assert_eq!(response.status(), StatusCode::OK);
    }
    let mut group = c.benchmark_group("axum");
    group.bench_function("bare_app", |b| {
        b.iter(|| runtime.block_on(bare.clone().oneshot(request(&token))))
    });
    group.bench_function("gate_layer_rs256", |b| {
        b.iter(|| runtime.block_on(gated.clone().oneshot(request(&token))))
    });
    group.finish();
    assert_eq!(driver.stats().jwks_fetch_started, 1);
}

criterion::criterion_group!(benches, bench);
criterion::criterion_main!(benches);
