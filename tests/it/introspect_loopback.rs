//! Introspection end to end on loopback: the dev issuer (examples/gateway)
//! mints opaque tokens and answers `POST /introspect`; an axum app behind
//! `GateLayer` checks them through the key driver, which POSTs the
//! introspection with `HyperClient`. Calls are counted at the endpoint.

use crate::gateway_example as gateway;

use std::net::SocketAddr;
use std::sync::Arc;
use std::sync::atomic::{AtomicI64, Ordering};
use std::time::Duration as StdDuration;

use axum::Router;
use axum::routing::get;
use bytes::Bytes;
use edge_auth::Secret;
use edge_auth::driver::axum::Authenticated;
use edge_auth::driver::client::HyperClient;
use edge_auth::driver::keys::{DriverOptions, KeyDriver};
use edge_auth::driver::tower::GateLayer;
use edge_auth::gate::{Gate, GateConfig, IssuerConfig};
use edge_auth::introspect::IntrospectionConfig;
use edge_auth::oauth::ClientAuth;
use http::{Request, StatusCode, header};
use http_body_util::{BodyExt, Full};
use serde_json::{Map, Value, json};
use time::{Duration, OffsetDateTime};

const LOOPBACK: SocketAddr =
    SocketAddr::new(std::net::IpAddr::V4(std::net::Ipv4Addr::LOCALHOST), 0);
const BOUND: StdDuration = StdDuration::from_secs(10);
const AUDIENCE: &str = "api://orders";
const SECRET: &str = "introspection-secret";

type Client = hyper_util::client::legacy::Client<
    hyper_util::client::legacy::connect::HttpConnector,
    Full<Bytes>,
>;

async fn me(Authenticated(who): Authenticated) -> String {
    who.subject.clone().unwrap_or_default()
}

struct Setup {
    dev: gateway::DevIssuer,
    url: String,
    client: Client,
    /// Seconds the driver's clock is ahead of the wall clock.
    skew: Arc<AtomicI64>,
    serving: tokio::task::JoinHandle<std::io::Result<()>>,
}

impl Setup {
    async fn new() -> Self {
        let dev = gateway::start_dev_issuer(LOOPBACK, AUDIENCE).await.unwrap();
        dev.introspection().register_client("gateway", SECRET);
        let introspection = IntrospectionConfig::with_http_loopback(
            &dev.introspection_url(),
            "gateway",
            ClientAuth::secret_basic(Secret::new(SECRET.to_owned())),
        )
        .unwrap()
        .with_cache_ceiling(Duration::seconds(60))
        .with_negative_ttl(Duration::seconds(10));
        let issuer = IssuerConfig::new(dev.issuer(), [AUDIENCE])
            .with_jwks_uri(dev.jwks_uri())
            .with_introspection(introspection);
        let mut config = GateConfig::new([issuer]);
        config.cache.allow_http_loopback = true;
        let gate = Arc::new(Gate::new(config).unwrap());
        let skew = Arc::new(AtomicI64::new(0));
        let clock_skew = Arc::clone(&skew);
        let clock = move || {
            OffsetDateTime::now_utc() + Duration::seconds(clock_skew.load(Ordering::SeqCst))
        };
        let driver = KeyDriver::from_parts(
            gate,
            Arc::new(HyperClient::new().unwrap().with_plain_http_loopback()),
            Arc::new(clock),
            DriverOptions::default().with_fetch_timeout(StdDuration::from_secs(5)),
        );
        let app = Router::new()
            .route("/me", get(me))
            .layer(GateLayer::new(driver));
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        let serving = tokio::spawn(async move { axum::serve(listener, app).await });
        let client =
            hyper_util::client::legacy::Client::builder(hyper_util::rt::TokioExecutor::new())
                .build_http();
        Self {
            dev,
            url: format!("http://{addr}/me"),
            client,
            skew,
            serving,
        }
    }

    fn opaque(&self, sub: &str) -> String {
        let now = OffsetDateTime::now_utc().unix_timestamp();
        let claims: Map<String, Value> = serde_json::from_value(json!({
            "iss": self.dev.issuer(), "aud": AUDIENCE, "sub": sub,
            "scope": "orders:read", "iat": now, "exp": now + 3600,
        }))
        .unwrap();
        self.dev.introspection().mint(&claims)
    }

    async fn get(&self, token: &str) -> (StatusCode, http::HeaderMap, String) {
        let request = Request::get(&self.url)
            .header(header::AUTHORIZATION, format!("Bearer {token}"))
            .body(Full::new(Bytes::new()))
            .unwrap();
        let response = tokio::time::timeout(BOUND, self.client.request(request))
            .await
            .unwrap()
            .unwrap();
        let (parts, body) = response.into_parts();
        let body = body.collect().await.unwrap().to_bytes();
        (
            parts.status,
            parts.headers,
            String::from_utf8_lossy(&body).into_owned(),
        )
    }

    fn calls(&self) -> u64 {
        self.dev.introspection().requests()
    }

    fn advance(&self, seconds: i64) {
        self.skew.fetch_add(seconds, Ordering::SeqCst);
    }
}

impl Drop for Setup {
    fn drop(&mut self) {
        self.serving.abort();
        self.dev.stop();
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn loopback_same_opaque_token_is_introspected_once() {
    let s = Setup::new().await;
    let token = s.opaque("alice");
    // Concurrent first requests share one introspection (single flight).
    let first: Vec<_> = futures_join(&s, &token, 8).await;
    for (status, body) in &first {
        assert_eq!(*status, StatusCode::OK, "{body}");
        assert_eq!(body, "alice");
    }
    for _ in 0..20 {
        let (status, _, body) = s.get(&token).await;
        assert_eq!(status, StatusCode::OK, "{body}");
    }
    assert_eq!(s.calls(), 1, "28 requests, one introspection");
}

/// `n` requests at once, each on its own task.
async fn futures_join(s: &Setup, token: &str, n: usize) -> Vec<(StatusCode, String)> {
    let mut set = tokio::task::JoinSet::new();
    for _ in 0..n {
        let (client, url, token) = (s.client.clone(), s.url.clone(), token.to_owned());
        set.spawn(async move {
            let request = Request::get(&url)
                .header(header::AUTHORIZATION, format!("Bearer {token}"))
                .body(Full::new(Bytes::new()))
                .unwrap();
            let response = tokio::time::timeout(BOUND, client.request(request))
                .await
                .unwrap()
                .unwrap();
            let status = response.status();
            let body = response.into_body().collect().await.unwrap().to_bytes();
            (status, String::from_utf8_lossy(&body).into_owned())
        });
    }
    set.join_all().await
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn loopback_unknown_opaque_token_gets_401_invalid_token() {
    let s = Setup::new().await;
    let (status, headers, _) = s.get("not-a-token-the-issuer-knows").await;
    assert_eq!(status, StatusCode::UNAUTHORIZED);
    let challenge = headers[header::WWW_AUTHENTICATE].to_str().unwrap();
    assert!(challenge.contains("error=\"invalid_token\""), "{challenge}");
    assert_eq!(s.calls(), 1);
    // Negative-cached: asked again only after the negative TTL.
    let (status, _, _) = s.get("not-a-token-the-issuer-knows").await;
    assert_eq!(status, StatusCode::UNAUTHORIZED);
    assert_eq!(s.calls(), 1);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn loopback_revoked_token_is_refused_after_the_ceiling_and_rechecked_after_the_negative_ttl()
{
    let s = Setup::new().await;
    let token = s.opaque("bob");
    assert_eq!(s.get(&token).await.0, StatusCode::OK);
    s.dev.introspection().revoke(&token);
    // Within the ceiling the cached answer still serves (the documented
    // revocation delay).
    assert_eq!(s.get(&token).await.0, StatusCode::OK);
    assert_eq!(s.calls(), 1);
    // Past the ceiling (60 s): asked again, now inactive.
    s.advance(61);
    assert_eq!(s.get(&token).await.0, StatusCode::UNAUTHORIZED);
    assert_eq!(s.calls(), 2);
    // Within the negative TTL (10 s): refused from the cache.
    s.advance(5);
    assert_eq!(s.get(&token).await.0, StatusCode::UNAUTHORIZED);
    assert_eq!(s.calls(), 2);
    // Past it: re-checked at the endpoint.
    s.advance(6);
    assert_eq!(s.get(&token).await.0, StatusCode::UNAUTHORIZED);
    assert_eq!(s.calls(), 3);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn loopback_endpoint_down_gives_503_with_retry_after() {
    let s = Setup::new().await;
    s.dev.introspection().set_down(true);
    let token = s.opaque("carol");
    let (status, headers, _) = s.get(&token).await;
    assert_eq!(status, StatusCode::SERVICE_UNAVAILABLE);
    assert!(headers.contains_key(header::RETRY_AFTER));
    // Back up and past the backoff: served.
    s.dev.introspection().set_down(false);
    s.advance(6);
    let (status, _, body) = s.get(&token).await;
    assert_eq!(status, StatusCode::OK, "{body}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn loopback_token_endpoint_issues_opaque_tokens_on_request() {
    let s = Setup::new().await;
    s.dev.token_endpoint().register_secret("spa", "spa-secret");
    let request = Request::post(s.dev.token_endpoint_url())
        .header(header::CONTENT_TYPE, "application/x-www-form-urlencoded")
        .body(Full::new(Bytes::from(format!(
            "grant_type=client_credentials&client_id=spa&client_secret=spa-secret&scope={}&token_format=opaque",
            "api%3A%2F%2Forders"
        ))))
        .unwrap();
    let response = tokio::time::timeout(BOUND, s.client.request(request))
        .await
        .unwrap()
        .unwrap();
    assert_eq!(response.status(), StatusCode::OK);
    let body = response.into_body().collect().await.unwrap().to_bytes();
    let body: Value = serde_json::from_slice(&body).unwrap();
    let token = body["access_token"].as_str().unwrap().to_owned();
    assert!(!token.contains('.'), "not opaque: {token}");
    let (status, _, who) = s.get(&token).await;
    assert_eq!(status, StatusCode::OK, "{who}");
    assert_eq!(who, "spa");
    assert_eq!(s.calls(), 1);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn loopback_wrong_client_secret_gives_503_not_a_pass() {
    let s = Setup::new().await;
    s.dev
        .introspection()
        .register_client("gateway", "another-secret");
    let token = s.opaque("dave");
    let (status, _, _) = s.get(&token).await;
    assert_eq!(status, StatusCode::SERVICE_UNAVAILABLE);
    assert_eq!(s.calls(), 1);
}
