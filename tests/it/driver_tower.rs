//! The tower layer and its key driver against real JWKS servers on loopback
//! (a tiny hyper server per test that counts its hits): single flight on a
//! cold cache, key rotation under load, an issuer going down, panicking and
//! hanging fetches, the Stats counters, and the axum extractors over HTTP.
//! Every loop is bounded and every wait has a timeout.
//!
//! Run with `cargo test --test it -- driver_tower::`.

use crate::support::jwt as jwt_support;

use std::collections::HashMap;
use std::net::SocketAddr;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use aws_lc_rs::rsa::KeySize;
use axum::Router;
use axum::body::Body;
use axum::routing::get;
use bytes::Bytes;
use edge_auth::driver::axum::{Authenticated, MaybeAuthenticated};
use edge_auth::driver::client::HyperClient;
use edge_auth::driver::keys::{
    DriverOptions, FetchFuture, FetchRequest, HttpClient, KeyDriver, SystemClock,
};
use edge_auth::driver::stats::Stats;
use edge_auth::driver::tower::GateLayer;
use edge_auth::gate::{Gate, GateConfig, IssuerConfig, TokenCacheConfig};
use edge_auth::jwt::Algorithm;
use edge_auth::oidc::{ClaimSource, RoleMapper};
use edge_auth::policy::Policy;
use http::{Request, StatusCode, header};
use http_body_util::{BodyExt, Full};
use hyper::body::Incoming;
use hyper::server::conn::http1;
use hyper::service::service_fn;
use hyper_util::rt::TokioIo;
use jwt_support::{TestKey, jwks};
use serde_json::json;
use tower::ServiceExt;

const AUDIENCE: &str = "api://driver-test";
const ISSUER_A: &str = "https://issuer-a.test";
const ISSUER_B: &str = "https://issuer-b.test";
/// Every request made by a test finishes within this, or the test fails.
const REQUEST_BOUND: Duration = Duration::from_secs(10);

const POLICY: &str = r#"{"rules":[
  {"id":"public","match":{"paths":["/public"]},"require":{"anonymous":true},"effect":"allow"},
  {"id":"admin","match":{"paths":["/admin"]},"require":{"any_roles":["admin"]},"effect":"allow"},
  {"id":"admin-block","match":{"paths":["/admin"]},"effect":"deny"},
  {"id":"api","match":{"paths":["/**"]},"require":{"authenticated":true},"effect":"allow"}]}"#;

/// How the JWKS server answers.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Mode {
    /// 200 with the current key set.
    Serve,
    /// Closes the connection without an answer (the issuer is down).
    Refuse,
    /// Never answers (until the test ends).
    Hang,
}

struct JwksState {
    /// The key set served on each path.
    sets: HashMap<String, Vec<u8>>,
    mode: Mode,
    /// `max-age` sent with each set.
    max_age: u32,
    /// Bumped by each publish; the `ETag` is `"v{version}"`.
    version: u64,
}

/// A JWKS server on loopback that counts its hits per path.
struct JwksServer {
    addr: SocketAddr,
    state: Arc<Mutex<JwksState>>,
    hits: Arc<Mutex<HashMap<String, u64>>>,
    task: tokio::task::JoinHandle<()>,
}

impl Drop for JwksServer {
    fn drop(&mut self) {
        self.task.abort();
    }
}

impl JwksServer {
    async fn start() -> Self {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        let state = Arc::new(Mutex::new(JwksState {
            sets: HashMap::new(),
            mode: Mode::Serve,
            max_age: 300,
            version: 0,
        }));
        let hits = Arc::new(Mutex::new(HashMap::new()));
        let (s, h) = (Arc::clone(&state), Arc::clone(&hits));
        let task = tokio::spawn(async move {
            let mut connections = tokio::task::JoinSet::new();
            loop {
                let Ok((stream, _)) = listener.accept().await else {
                    continue;
                };
                let (s, h) = (Arc::clone(&s), Arc::clone(&h));
                let service = service_fn(move |request: Request<Incoming>| {
                    let (s, h) = (Arc::clone(&s), Arc::clone(&h));
                    async move {
                        let path = request.uri().path().to_owned();
                        *h.lock().unwrap().entry(path.clone()).or_insert(0) += 1;
                        let (mode, body, max_age, version) = {
                            let s = s.lock().unwrap();
                            (s.mode, s.sets.get(&path).cloned(), s.max_age, s.version)
                        };
                        let etag = format!("\"v{version}\"");
                        let fresh = request
                            .headers()
                            .get(header::IF_NONE_MATCH)
                            .is_some_and(|v| v.as_bytes() == etag.as_bytes());
                        match mode {
                            Mode::Refuse => return Err("down".to_owned()),
                            Mode::Hang => tokio::time::sleep(Duration::from_secs(120)).await,
                            Mode::Serve => {}
                        }
                        let response = match body {
                            Some(_) if fresh => http::Response::builder()
                                .status(StatusCode::NOT_MODIFIED)
                                .header(header::ETAG, etag)
                                .header(header::CACHE_CONTROL, format!("max-age={max_age}"))
                                .body(Full::new(Bytes::new())),
                            Some(body) => http::Response::builder()
                                .header(header::ETAG, etag)
                                .header(header::CONTENT_TYPE, "application/json")
                                .header(header::CACHE_CONTROL, format!("max-age={max_age}"))
                                .body(Full::new(Bytes::from(body))),
                            None => http::Response::builder()
                                .status(StatusCode::NOT_FOUND)
                                .body(Full::new(Bytes::new())),
                        };
                        Ok::<_, String>(response.unwrap())
                    }
                });
                connections.spawn(async move {
                    let _ = http1::Builder::new()
                        .serve_connection(TokioIo::new(stream), service)
                        .await;
                });
            }
        });
        Self {
            addr,
            state,
            hits,
            task,
        }
    }

    fn url(&self, path: &str) -> String {
        format!("http://{}{path}", self.addr)
    }

    fn publish(&self, path: &str, keys: &[&TestKey]) {
        self.publish_raw(path, jwks(keys));
    }

    fn publish_raw(&self, path: &str, body: Vec<u8>) {
        let mut state = self.state.lock().unwrap();
        state.sets.insert(path.to_owned(), body);
        state.version += 1;
    }

    fn set_mode(&self, mode: Mode) {
        self.state.lock().unwrap().mode = mode;
    }

    fn set_max_age(&self, seconds: u32) {
        self.state.lock().unwrap().max_age = seconds;
    }

    fn hits(&self, path: &str) -> u64 {
        self.hits.lock().unwrap().get(path).copied().unwrap_or(0)
    }
}

fn token(key: &TestKey, issuer: &str, subject: &str, roles: &[&str]) -> String {
    let now = time::OffsetDateTime::now_utc().unix_timestamp();
    key.mint(
        Algorithm::RS256,
        &json!({
            "iss": issuer, "aud": AUDIENCE, "sub": subject, "roles": roles,
            "iat": now - 10, "nbf": now - 10, "exp": now + 3600,
        }),
    )
}

/// Cache settings for tests: plain HTTP from loopback, short retries.
fn gate_config(issuers: Vec<IssuerConfig>, tune: impl FnOnce(&mut GateConfig)) -> GateConfig {
    let mut config =
        GateConfig::new(issuers).with_policy(Policy::from_json(POLICY).unwrap().compile().unwrap());
    config.cache.allow_http_loopback = true;
    config.cache.retry_base = time::Duration::milliseconds(100);
    config.cache.retry_cap = time::Duration::milliseconds(400);
    tune(&mut config);
    config
}

fn issuer(name: &str, jwks_uri: String) -> IssuerConfig {
    IssuerConfig::new(name, [AUDIENCE])
        .with_jwks_uri(jwks_uri)
        .with_algorithms([Algorithm::RS256])
        .with_roles(RoleMapper::new().with_source(ClaimSource::roles("roles").unwrap()))
}

fn client() -> HyperClient {
    HyperClient::new().unwrap().with_plain_http_loopback()
}

fn driver_with(
    config: GateConfig,
    client: Arc<dyn HttpClient>,
    options: DriverOptions,
) -> KeyDriver {
    let gate = Arc::new(Gate::new(config).unwrap());
    KeyDriver::from_parts(gate, client, Arc::new(SystemClock), options)
}

async fn me(Authenticated(who): Authenticated) -> String {
    who.subject.clone().unwrap_or_default()
}

async fn public(MaybeAuthenticated(who): MaybeAuthenticated) -> String {
    match who {
        Some(p) => format!("hello {}", p.subject.clone().unwrap_or_default()),
        None => "hello anonymous".to_owned(),
    }
}

fn app(driver: &KeyDriver) -> Router {
    Router::new()
        .route("/me", get(me))
        .route("/admin", get(me))
        .route("/public", get(public))
        .layer(GateLayer::new(driver.clone()))
}

/// The counters once no fetch is running (a fetch is counted a moment
/// after the Gate has its answer). Bounded: 2 s.
async fn settled(driver: &KeyDriver) -> Stats {
    for _ in 0..200 {
        if driver.fetches_in_flight() == 0 {
            break;
        }
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    driver.stats()
}

struct Answer {
    status: StatusCode,
    headers: http::HeaderMap,
    body: String,
}

/// One request through the app in-process (tower `oneshot`), bounded.
async fn call(app: &Router, path: &str, token: Option<&str>) -> Answer {
    let mut request = Request::get(path);
    if let Some(token) = token {
        request = request.header(header::AUTHORIZATION, format!("Bearer {token}"));
    }
    let request = request.body(Body::empty()).unwrap();
    let response = tokio::time::timeout(REQUEST_BOUND, app.clone().oneshot(request))
        .await
        .expect("request finished in time")
        .unwrap();
    let (head, body) = response.into_parts();
    let body = body.collect().await.unwrap().to_bytes();
    Answer {
        status: head.status,
        headers: head.headers,
        body: String::from_utf8_lossy(&body).into_owned(),
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn cold_cache_1000_concurrent_requests_make_one_jwks_fetch_per_issuer() {
    let server = JwksServer::start().await;
    let (key_a, key_b) = (
        TestKey::rsa("a1", KeySize::Rsa2048),
        TestKey::rsa("b1", KeySize::Rsa2048),
    );
    server.publish("/a/jwks", &[&key_a]);
    server.publish("/b/jwks", &[&key_b]);
    let config = gate_config(
        vec![
            issuer(ISSUER_A, server.url("/a/jwks")),
            issuer(ISSUER_B, server.url("/b/jwks")),
        ],
        |_| {},
    );
    let driver = driver_with(config, Arc::new(client()), DriverOptions::default());
    let app = app(&driver);
    let tokens = [
        Arc::new(token(&key_a, ISSUER_A, "alice", &[])),
        Arc::new(token(&key_b, ISSUER_B, "bob", &[])),
    ];
    let mut tasks = tokio::task::JoinSet::new();
    for i in 0..1000 {
        let (app, token) = (app.clone(), Arc::clone(&tokens[i % 2]));
        tasks.spawn(async move { call(&app, "/me", Some(&token)).await.status });
    }
    let mut ok = 0;
    while let Some(status) = tasks.join_next().await {
        assert_eq!(status.unwrap(), StatusCode::OK);
        ok += 1;
    }
    assert_eq!(ok, 1000);
    assert_eq!(server.hits("/a/jwks"), 1, "one JWKS fetch for issuer A");
    assert_eq!(server.hits("/b/jwks"), 1, "one JWKS fetch for issuer B");
    let stats = settled(&driver).await;
    assert_eq!(stats.allowed, 1000);
    assert_eq!(stats.denied, 0);
    assert_eq!(stats.jwks_fetch_started, 2);
    assert_eq!(stats.jwks_fetch_success, 2);
    assert_eq!(stats.jwks_fetch_failed, 0);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn cold_cache_with_discovery_makes_one_discovery_and_one_jwks_fetch() {
    let server = JwksServer::start().await;
    let key = TestKey::rsa("d1", KeySize::Rsa2048);
    let issuer_url = server.url("");
    server.publish("/jwks", &[&key]);
    let discovery = json!({"issuer": issuer_url, "jwks_uri": server.url("/jwks")});
    server.publish_raw(
        "/.well-known/openid-configuration",
        discovery.to_string().into_bytes(),
    );
    let config = gate_config(
        vec![IssuerConfig::new(issuer_url.as_str(), [AUDIENCE])],
        |c| {
            c.discovery.allow_http_loopback = true;
        },
    );
    let driver = driver_with(config, Arc::new(client()), DriverOptions::default());
    let app = app(&driver);
    let token = Arc::new(token(&key, &issuer_url, "carol", &[]));
    let mut tasks = tokio::task::JoinSet::new();
    for _ in 0..300 {
        let (app, token) = (app.clone(), Arc::clone(&token));
        tasks.spawn(async move { call(&app, "/me", Some(&token)).await.status });
    }
    while let Some(status) = tasks.join_next().await {
        assert_eq!(status.unwrap(), StatusCode::OK);
    }
    assert_eq!(server.hits("/.well-known/openid-configuration"), 1);
    assert_eq!(server.hits("/jwks"), 1);
    let stats = settled(&driver).await;
    assert_eq!(stats.discovery_fetch_started, 1, "{stats:?}");
    assert_eq!(stats.discovery_fetch_success, 1, "{stats:?}");
    assert_eq!(stats.jwks_fetch_success, 1, "{stats:?}");
    assert_eq!(stats.allowed, 300, "{stats:?}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn key_rotation_under_continuous_load_gives_no_401() {
    let server = JwksServer::start().await;
    let (old, new) = (
        TestKey::rsa("old", KeySize::Rsa2048),
        TestKey::rsa("new", KeySize::Rsa2048),
    );
    server.publish("/jwks", &[&old]);
    // Keys expire after 1 s and are refreshed ahead (80 %) by the refresh task.
    server.set_max_age(1);
    let config = gate_config(vec![issuer(ISSUER_A, server.url("/jwks"))], |c| {
        c.cache.min_ttl = time::Duration::seconds(1);
        c.cache.unknown_kid_cooldown = time::Duration::milliseconds(200);
    });
    let options = DriverOptions::default().with_refresh_interval(Duration::from_millis(50));
    let driver = driver_with(config, Arc::new(client()), options);
    let _refresh = driver.spawn_refresh().unwrap();
    let app = app(&driver);
    let signing = Arc::new(Mutex::new(Arc::new(token(&old, ISSUER_A, "alice", &[]))));
    let stop = Arc::new(AtomicBool::new(false));
    let (sent, refused) = (Arc::new(AtomicU64::new(0)), Arc::new(AtomicU64::new(0)));
    let mut load = tokio::task::JoinSet::new();
    for _ in 0..8 {
        let (app, signing, stop) = (app.clone(), Arc::clone(&signing), Arc::clone(&stop));
        let (sent, refused) = (Arc::clone(&sent), Arc::clone(&refused));
        load.spawn(async move {
            // Bounded: at most 20 000 requests per task.
            for _ in 0..20_000 {
                if stop.load(Ordering::SeqCst) {
                    break;
                }
                let token = Arc::clone(&signing.lock().unwrap());
                let answer = call(&app, "/me", Some(&token)).await;
                sent.fetch_add(1, Ordering::Relaxed);
                if answer.status != StatusCode::OK {
                    refused.fetch_add(1, Ordering::Relaxed);
                    eprintln!("refused: {} {:?}", answer.status, answer.headers);
                }
                // A request that never waits on I/O never yields: let the
                // test's timers run.
                tokio::task::yield_now().await;
            }
        });
    }
    // The IdP publishes the new key beside the old one, then signs with
    // it, then withdraws the old one: the usual rotation.
    tokio::time::sleep(Duration::from_millis(500)).await;
    server.publish("/jwks", &[&old, &new]);
    tokio::time::sleep(Duration::from_millis(1500)).await;
    *signing.lock().unwrap() = Arc::new(token(&new, ISSUER_A, "alice", &[]));
    tokio::time::sleep(Duration::from_millis(500)).await;
    server.publish("/jwks", &[&new]);
    tokio::time::sleep(Duration::from_millis(1500)).await;
    stop.store(true, Ordering::SeqCst);
    while let Some(result) = load.join_next().await {
        result.unwrap();
    }
    let sent = sent.load(Ordering::Relaxed);
    assert!(sent > 100, "the load ran ({sent} requests)");
    assert_eq!(
        refused.load(Ordering::Relaxed),
        0,
        "no request refused out of {sent}"
    );
    // The old key is gone from the set: its tokens no longer pass.
    let stale = call(&app, "/me", Some(&token(&old, ISSUER_A, "alice", &[]))).await;
    assert_eq!(stale.status, StatusCode::UNAUTHORIZED);
    let stats = settled(&driver).await;
    assert!(stats.jwks_fetch_success >= 3, "{stats:?}");
    assert_eq!(stats.jwks_fetch_failed, 0, "{stats:?}");
}

/// The refresh task renews an unchanged key set with a conditional GET:
/// `304 Not Modified`, counted as such, and tokens keep passing.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn refresh_task_renews_an_unchanged_set_with_304() {
    let server = JwksServer::start().await;
    let key = TestKey::rsa("k1", KeySize::Rsa2048);
    server.publish("/jwks", &[&key]);
    server.set_max_age(1);
    let config = gate_config(vec![issuer(ISSUER_A, server.url("/jwks"))], |c| {
        c.cache.min_ttl = time::Duration::seconds(1);
    });
    let options = DriverOptions::default().with_refresh_interval(Duration::from_millis(50));
    let driver = driver_with(config, Arc::new(client()), options);
    let app = app(&driver);
    let good = token(&key, ISSUER_A, "alice", &[]);
    assert_eq!(call(&app, "/me", Some(&good)).await.status, StatusCode::OK);
    let refresh = driver.spawn_refresh().unwrap();
    // Bounded: at most 5 s for two refreshes at 80 % of a 1 s lifetime.
    for _ in 0..100 {
        if driver.stats().jwks_fetch_not_modified >= 2 {
            break;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    drop(refresh);
    let stats = settled(&driver).await;
    assert!(stats.jwks_fetch_not_modified >= 2, "{stats:?}");
    assert_eq!(stats.jwks_fetch_success, 1, "{stats:?}");
    assert_eq!(stats.jwks_fetch_failed, 0, "{stats:?}");
    assert!(stats.refresh_fetch_started >= 2, "{stats:?}");
    assert_eq!(call(&app, "/me", Some(&good)).await.status, StatusCode::OK);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn issuer_down_keeps_known_keys_and_answers_503_with_retry_after_for_missing_keys() {
    let (server_a, server_b) = (JwksServer::start().await, JwksServer::start().await);
    let (known, other) = (
        TestKey::rsa("k1", KeySize::Rsa2048),
        TestKey::rsa("k2", KeySize::Rsa2048),
    );
    server_a.publish("/jwks", &[&known]);
    server_b.publish("/jwks", &[&other]);
    // Issuer B is down from the start.
    server_b.set_mode(Mode::Refuse);
    let config = gate_config(
        vec![
            issuer(ISSUER_A, server_a.url("/jwks")),
            issuer(ISSUER_B, server_b.url("/jwks")),
        ],
        |c| {
            c.cache.retry_base = time::Duration::seconds(2);
            c.cache.retry_cap = time::Duration::seconds(2);
        },
    );
    let driver = driver_with(config, Arc::new(client()), DriverOptions::default());
    let app = app(&driver);
    let good = token(&known, ISSUER_A, "alice", &[]);
    assert_eq!(call(&app, "/me", Some(&good)).await.status, StatusCode::OK);

    server_a.set_mode(Mode::Refuse);
    // Known keys keep serving while their issuer is down.
    for _ in 0..5 {
        let answer = call(&app, "/me", Some(&good)).await;
        assert_eq!(answer.status, StatusCode::OK);
        assert_eq!(answer.body, "alice");
    }
    // Issuer B's keys could never be fetched: 503 with Retry-After (not
    // 401: the token is not at fault), and no challenge.
    let cold = token(&other, ISSUER_B, "bob", &[]);
    for _ in 0..3 {
        let answer = call(&app, "/me", Some(&cold)).await;
        assert_eq!(answer.status, StatusCode::SERVICE_UNAVAILABLE);
        let retry: u64 = answer.headers[header::RETRY_AFTER]
            .to_str()
            .unwrap()
            .parse()
            .unwrap();
        assert!((1..=2).contains(&retry), "Retry-After {retry}");
        assert!(answer.headers.get(header::WWW_AUTHENTICATE).is_none());
    }
    // One failed fetch, then the Gate backs off: the issuer is not hammered.
    assert_eq!(server_b.hits("/jwks"), 1);
    assert_eq!(server_a.hits("/jwks"), 1);
    let stats = settled(&driver).await;
    assert_eq!(stats.denied_unavailable, 3, "{stats:?}");
    assert_eq!(stats.jwks_fetch_failed, 1, "{stats:?}");
    assert_eq!(stats.jwks_fetch_success, 1, "{stats:?}");
    assert_eq!(stats.allowed, 6, "{stats:?}");

    // Issuer B comes back: after the backoff its tokens pass.
    server_b.set_mode(Mode::Serve);
    tokio::time::sleep(Duration::from_millis(2100)).await;
    assert_eq!(call(&app, "/me", Some(&cold)).await.status, StatusCode::OK);
}

/// A client that panics on its first call, then fetches with `HyperClient`.
struct PanicsOnce {
    panicked: AtomicBool,
    inner: HyperClient,
}

impl HttpClient for PanicsOnce {
    fn get(&self, request: FetchRequest) -> FetchFuture<'_> {
        if !self.panicked.swap(true, Ordering::SeqCst) {
            panic!("test client panics on its first fetch");
        }
        self.inner.get(request)
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn panicking_client_never_wedges_later_requests() {
    let server = JwksServer::start().await;
    let key = TestKey::rsa("k1", KeySize::Rsa2048);
    server.publish("/jwks", &[&key]);
    let config = gate_config(vec![issuer(ISSUER_A, server.url("/jwks"))], |_| {});
    let client = Arc::new(PanicsOnce {
        panicked: AtomicBool::new(false),
        inner: client(),
    });
    let driver = driver_with(config, client, DriverOptions::default());
    let app = app(&driver);
    let good = token(&key, ISSUER_A, "alice", &[]);
    // The first request's fetch panics: it is answered (503), promptly.
    let started = Instant::now();
    let first = call(&app, "/me", Some(&good)).await;
    assert_eq!(first.status, StatusCode::SERVICE_UNAVAILABLE);
    assert!(
        started.elapsed() < Duration::from_secs(3),
        "{:?}",
        started.elapsed()
    );
    // Once the retry backoff (100 ms) has passed, the next request fetches and passes.
    tokio::time::sleep(Duration::from_millis(150)).await;
    let next = call(&app, "/me", Some(&good)).await;
    assert_eq!(next.status, StatusCode::OK);
    assert_eq!(server.hits("/jwks"), 1);
    let stats = settled(&driver).await;
    assert_eq!(stats.fetch_abandoned, 1, "{stats:?}");
    assert_eq!(stats.jwks_fetch_failed, 1, "{stats:?}");
    assert_eq!(stats.jwks_fetch_success, 1, "{stats:?}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn hanging_jwks_server_never_wedges_later_requests() {
    let server = JwksServer::start().await;
    let key = TestKey::rsa("k1", KeySize::Rsa2048);
    server.publish("/jwks", &[&key]);
    server.set_mode(Mode::Hang);
    let config = gate_config(vec![issuer(ISSUER_A, server.url("/jwks"))], |_| {});
    let options = DriverOptions::default().with_fetch_timeout(Duration::from_millis(300));
    let driver = driver_with(config, Arc::new(client()), options);
    let app = app(&driver);
    let good = token(&key, ISSUER_A, "alice", &[]);
    // Concurrent requests on the hanging fetch all get their answer after
    // the fetch timeout, and only one fetch was sent.
    let started = Instant::now();
    let mut tasks = tokio::task::JoinSet::new();
    for _ in 0..20 {
        let (app, good) = (app.clone(), good.clone());
        tasks.spawn(async move { call(&app, "/me", Some(&good)).await.status });
    }
    while let Some(status) = tasks.join_next().await {
        assert_eq!(status.unwrap(), StatusCode::SERVICE_UNAVAILABLE);
    }
    assert!(
        started.elapsed() < Duration::from_secs(3),
        "{:?}",
        started.elapsed()
    );
    assert_eq!(server.hits("/jwks"), 1);
    server.set_mode(Mode::Serve);
    tokio::time::sleep(Duration::from_millis(150)).await;
    assert_eq!(call(&app, "/me", Some(&good)).await.status, StatusCode::OK);
    let stats = settled(&driver).await;
    assert_eq!(stats.fetch_timeout, 1, "{stats:?}");
    assert_eq!(stats.jwks_fetch_failed, 1, "{stats:?}");
    assert_eq!(stats.jwks_fetch_success, 1, "{stats:?}");
    assert_eq!(stats.denied_unavailable, 20, "{stats:?}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn stats_count_what_the_requests_did() {
    let server = JwksServer::start().await;
    let key = TestKey::rsa("k1", KeySize::Rsa2048);
    let stranger = TestKey::rsa("k1", KeySize::Rsa2048);
    let unpublished = TestKey::rsa("k9", KeySize::Rsa2048);
    server.publish("/jwks", &[&key]);
    // Unknown kids may trigger a refetch right away (the cold fetch was
    // just made), but only one per 200 ms.
    let config = gate_config(vec![issuer(ISSUER_A, server.url("/jwks"))], |c| {
        c.cache.unknown_kid_cooldown = time::Duration::milliseconds(200);
    });
    let driver = driver_with(config, Arc::new(client()), DriverOptions::default());
    let app = app(&driver);
    let user = token(&key, ISSUER_A, "alice", &["reader"]);
    let admin = token(&key, ISSUER_A, "root", &["admin"]);
    // Same kid, another key: the signature does not verify.
    let forged = token(&stranger, ISSUER_A, "mallory", &["admin"]);

    assert_eq!(call(&app, "/me", Some(&user)).await.status, StatusCode::OK);
    assert_eq!(
        call(&app, "/admin", Some(&admin)).await.status,
        StatusCode::OK
    );
    assert_eq!(call(&app, "/public", None).await.body, "hello anonymous");
    let missing = call(&app, "/me", None).await;
    assert_eq!(missing.status, StatusCode::UNAUTHORIZED);
    assert!(
        missing.headers[header::WWW_AUTHENTICATE]
            .to_str()
            .unwrap()
            .starts_with("Bearer")
    );
    assert_eq!(
        call(&app, "/me", Some(&forged)).await.status,
        StatusCode::UNAUTHORIZED
    );
    assert_eq!(
        call(&app, "/admin", Some(&user)).await.status,
        StatusCode::FORBIDDEN
    );
    // A kid the set does not hold: one refetch (304, the set has not
    // changed), then 401.
    let unknown = token(&unpublished, ISSUER_A, "eve", &[]);
    tokio::time::sleep(Duration::from_millis(250)).await;
    assert_eq!(
        call(&app, "/me", Some(&unknown)).await.status,
        StatusCode::UNAUTHORIZED
    );
    let malformed = call(&app, "/me", Some("not a token")).await;
    assert_eq!(malformed.status, StatusCode::BAD_REQUEST);

    let expected = {
        let mut s = Stats::default();
        s.allowed = 3;
        s.denied = 5;
        s.denied_missing_token = 1;
        s.denied_invalid_token = 2;
        s.denied_forbidden = 1;
        s.denied_invalid_request = 1;
        s.jwks_fetch_started = 2;
        s.jwks_fetch_success = 1;
        s.jwks_fetch_not_modified = 1;
        s.unknown_kid_refetch = 1;
        s.request_fetch_started = 1;
        // The first request polled the Gate, which handed out the cold
        // fetch (then the request waited for it, unless it had already
        // landed: `fetch_joined` is 0 or 1).
        s.refresh_fetch_started = 1;
        s
    };
    let mut stats = settled(&driver).await;
    assert!(stats.fetch_joined <= 1, "{stats:?}");
    stats.fetch_joined = 0;
    assert_eq!(stats, expected);
    assert_eq!(server.hits("/jwks"), 2);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn stats_count_token_cache_hits_misses_and_evictions() {
    let server = JwksServer::start().await;
    let key = TestKey::rsa("k1", KeySize::Rsa2048);
    server.publish("/jwks", &[&key]);
    // Room for two tokens (one shard): the third evicts one.
    let config = gate_config(vec![issuer(ISSUER_A, server.url("/jwks"))], |c| {
        *c = c.clone().with_token_cache(TokenCacheConfig::new(2));
    });
    let driver = driver_with(config, Arc::new(client()), DriverOptions::default());
    let app = app(&driver);
    let (alice, bob, carol) = (
        token(&key, ISSUER_A, "alice", &["reader"]),
        token(&key, ISSUER_A, "bob", &["reader"]),
        token(&key, ISSUER_A, "carol", &["reader"]),
    );
    // alice: miss then two hits; bob: miss; carol: miss, and the cache is
    // full, so one entry is evicted.
    for t in [&alice, &alice, &alice, &bob, &carol] {
        assert_eq!(call(&app, "/me", Some(t)).await.status, StatusCode::OK);
    }
    let stats = settled(&driver).await;
    assert_eq!(
        (
            stats.allowed,
            stats.jwt_cache_hit,
            stats.jwt_cache_miss,
            stats.jwt_cache_eviction
        ),
        (5, 2, 3, 1),
        "{stats:?}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn stats_token_cache_counters_stay_zero_without_the_cache() {
    let server = JwksServer::start().await;
    let key = TestKey::rsa("k1", KeySize::Rsa2048);
    server.publish("/jwks", &[&key]);
    let config = gate_config(vec![issuer(ISSUER_A, server.url("/jwks"))], |_| {});
    let driver = driver_with(config, Arc::new(client()), DriverOptions::default());
    let app = app(&driver);
    let alice = token(&key, ISSUER_A, "alice", &["reader"]);
    for _ in 0..2 {
        assert_eq!(call(&app, "/me", Some(&alice)).await.status, StatusCode::OK);
    }
    let stats = settled(&driver).await;
    assert_eq!(
        (
            stats.allowed,
            stats.jwt_cache_hit,
            stats.jwt_cache_miss,
            stats.jwt_cache_eviction
        ),
        (2, 0, 0, 0),
        "{stats:?}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn axum_app_over_http_puts_the_principal_in_the_handler() {
    let server = JwksServer::start().await;
    let key = TestKey::rsa("k1", KeySize::Rsa2048);
    server.publish("/jwks", &[&key]);
    let config = gate_config(vec![issuer(ISSUER_A, server.url("/jwks"))], |_| {});
    let driver = driver_with(config, Arc::new(client()), DriverOptions::default());
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let service = app(&driver).into_make_service_with_connect_info::<SocketAddr>();
    let serving = tokio::spawn(async move { axum::serve(listener, service).await });

    let client = hyper_util::client::legacy::Client::builder(hyper_util::rt::TokioExecutor::new())
        .build_http::<Full<Bytes>>();
    let get = |path: &str, token: Option<&str>| {
        let mut request = Request::get(format!("http://{addr}{path}"));
        if let Some(token) = token {
            request = request.header(header::AUTHORIZATION, format!("Bearer {token}"));
        }
        let request = request.body(Full::new(Bytes::new())).unwrap();
        let client = client.clone();
        async move {
            let response = tokio::time::timeout(REQUEST_BOUND, client.request(request))
                .await
                .unwrap()
                .unwrap();
            let status = response.status();
            let body = response.into_body().collect().await.unwrap().to_bytes();
            (status, String::from_utf8_lossy(&body).into_owned())
        }
    };
    let good = token(&key, ISSUER_A, "alice", &[]);
    assert_eq!(
        get("/me", Some(&good)).await,
        (StatusCode::OK, "alice".to_owned())
    );
    assert_eq!(
        get("/public", Some(&good)).await,
        (StatusCode::OK, "hello alice".to_owned())
    );
    assert_eq!(
        get("/public", None).await,
        (StatusCode::OK, "hello anonymous".to_owned())
    );
    assert_eq!(get("/me", None).await.0, StatusCode::UNAUTHORIZED);
    serving.abort();
}

/// `Authenticated` on a route the layer does not cover answers 401 rather
/// than run the handler with nobody.
#[tokio::test]
async fn authenticated_extractor_without_the_layer_is_401() {
    let app = Router::new().route("/me", get(me));
    let response = app
        .oneshot(Request::get("/me").body(Body::empty()).unwrap())
        .await
        .unwrap();
    assert_eq!(response.status(), StatusCode::UNAUTHORIZED);
    assert!(response.headers().contains_key(header::WWW_AUTHENTICATE));
}

#[tokio::test]
async fn hyper_client_refuses_plain_http_without_the_opt_in() {
    let server = JwksServer::start().await;
    server.publish("/jwks", &[&TestKey::rsa("k1", KeySize::Rsa2048)]);
    let strict = HyperClient::new().unwrap();
    let request = |url: String| FetchRequest::new(url, http::HeaderMap::new(), 64 * 1024);
    let refused = strict.get(request(server.url("/jwks"))).await.unwrap_err();
    assert!(refused.to_string().contains("plain-HTTP"), "{refused}");
    assert_eq!(server.hits("/jwks"), 0);
    let loopback = client().get(request(server.url("/jwks"))).await.unwrap();
    assert_eq!(loopback.status, StatusCode::OK);
    // Plain HTTP stays refused to a host that is not loopback, even opted in.
    let remote = client()
        .get(request("http://example.com/jwks".into()))
        .await
        .unwrap_err();
    assert!(remote.to_string().contains("plain-HTTP"), "{remote}");
    // The body cap holds.
    let mut small = request(server.url("/jwks"));
    small.max_body_bytes = 16;
    let too_large = client().get(small).await.unwrap_err();
    assert!(
        too_large.to_string().contains("larger than 16 bytes"),
        "{too_large}"
    );
}

/// While the issuer is down, a token naming a key the cached set does not
/// hold cannot be checked: 503 with Retry-After (the token may be good),
/// for the request that tried the fetch and for those during the backoff.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn issuer_down_answers_503_with_retry_after_for_an_unknown_kid() {
    let server = JwksServer::start().await;
    let (known, rotated) = (
        TestKey::rsa("k1", KeySize::Rsa2048),
        TestKey::rsa("k2", KeySize::Rsa2048),
    );
    server.publish("/jwks", &[&known]);
    let config = gate_config(vec![issuer(ISSUER_A, server.url("/jwks"))], |c| {
        c.cache.unknown_kid_cooldown = time::Duration::ZERO;
        c.cache.retry_base = time::Duration::seconds(2);
        c.cache.retry_cap = time::Duration::seconds(2);
    });
    let driver = driver_with(config, Arc::new(client()), DriverOptions::default());
    let app = app(&driver);
    let good = token(&known, ISSUER_A, "alice", &[]);
    assert_eq!(call(&app, "/me", Some(&good)).await.status, StatusCode::OK);
    server.set_mode(Mode::Refuse);
    let new_kid = token(&rotated, ISSUER_A, "bob", &[]);
    for _ in 0..3 {
        let answer = call(&app, "/me", Some(&new_kid)).await;
        assert_eq!(answer.status, StatusCode::SERVICE_UNAVAILABLE);
        assert!(answer.headers.contains_key(header::RETRY_AFTER));
    }
    assert_eq!(call(&app, "/me", Some(&good)).await.status, StatusCode::OK);
}

/// Outside a tokio runtime the driver answers 503 and refuses to spawn,
/// rather than panic.
#[test]
fn outside_a_runtime_the_driver_answers_503_and_spawns_nothing() {
    let key = TestKey::rsa("k1", KeySize::Rsa2048);
    let config = gate_config(
        vec![issuer(ISSUER_A, "https://issuer-a.test/jwks".into())],
        |_| {},
    );
    let driver = driver_with(
        config,
        Arc::new(client_without_runtime()),
        DriverOptions::default(),
    );
    assert!(driver.spawn_refresh().is_err());
    let (parts, ()) = Request::get("/me")
        .header(
            header::AUTHORIZATION,
            format!("Bearer {}", token(&key, ISSUER_A, "alice", &[])),
        )
        .body(())
        .unwrap()
        .into_parts();
    let facts = edge_auth::policy::RequestFacts::from_parts(&parts);
    let check = driver.check(&parts, &facts);
    let mut check = std::pin::pin!(check);
    let mut cx = std::task::Context::from_waker(std::task::Waker::noop());
    let std::task::Poll::Ready(verdict) = check.as_mut().poll(&mut cx) else {
        panic!("the check waited for something outside a runtime");
    };
    let edge_auth::driver::keys::Verdict::Deny(rejection) = verdict else {
        panic!("allowed outside a runtime");
    };
    assert_eq!(rejection.status(), StatusCode::SERVICE_UNAVAILABLE);
    assert_eq!(driver.stats().jwks_fetch_started, 0);
}

/// A client that must never be called.
struct Unreachable;

impl HttpClient for Unreachable {
    fn get(&self, _: FetchRequest) -> FetchFuture<'_> {
        panic!("no fetch outside a runtime");
    }
}

fn client_without_runtime() -> Unreachable {
    Unreachable
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sealed_key_state_moves_between_drivers_and_a_forged_one_is_refused() {
    use edge_auth::seal::Sealer;
    const SECRET: &str = "a sealing secret for the tower driver, 0123456789";
    let server = JwksServer::start().await;
    let key = TestKey::rsa("a1", KeySize::Rsa2048);
    server.publish("/a/jwks", &[&key]);
    let sealed =
        || DriverOptions::default().with_sealer(Sealer::from_secret_text(SECRET, None).unwrap());
    let config = || gate_config(vec![issuer(ISSUER_A, server.url("/a/jwks"))], |_| {});
    let first = driver_with(config(), Arc::new(client()), sealed());
    let answer = call(
        &app(&first),
        "/me",
        Some(&token(&key, ISSUER_A, "alice", &[])),
    )
    .await;
    assert_eq!(answer.status, StatusCode::OK, "{}", answer.body);
    let text = first.export_state(ISSUER_A).unwrap().expect("a state");
    assert!(!text.starts_with('{'), "the state is sealed: {text}");

    // A second process opens it and needs no fetch.
    let second = driver_with(config(), Arc::new(client()), sealed());
    second.import_state(ISSUER_A, &text).unwrap();
    let answer = call(
        &app(&second),
        "/me",
        Some(&token(&key, ISSUER_A, "bob", &[])),
    )
    .await;
    assert_eq!(answer.status, StatusCode::OK, "{}", answer.body);
    assert_eq!(server.hits("/a/jwks"), 1);

    // A plain state (as an attacker with store access would write) and one
    // sealed under another secret are refused.
    let plain = driver_with(config(), Arc::new(client()), DriverOptions::default());
    call(
        &app(&plain),
        "/me",
        Some(&token(&key, ISSUER_A, "carol", &[])),
    )
    .await;
    let json = plain
        .export_state(ISSUER_A)
        .unwrap()
        .expect("a plain state");
    assert!(json.starts_with('{'));
    let third = driver_with(config(), Arc::new(client()), sealed());
    let err = third.import_state(ISSUER_A, &json).unwrap_err();
    assert!(err.to_string().contains("not sealed"), "{err}");
    let other = DriverOptions::default().with_sealer(
        Sealer::from_secret_text("another secret, also long enough 0123456789", None).unwrap(),
    );
    let foreign = driver_with(config(), Arc::new(client()), other);
    call(
        &app(&foreign),
        "/me",
        Some(&token(&key, ISSUER_A, "dave", &[])),
    )
    .await;
    let foreign_text = foreign.export_state(ISSUER_A).unwrap().unwrap();
    assert!(third.import_state(ISSUER_A, &foreign_text).is_err());
}

/// `ProblemJsonLayer` outside `GateLayer`: a denial gets an RFC 9457 body
/// (same status and challenge); an allowed response passes untouched.
#[tokio::test]
async fn problem_json_layer_gives_denials_a_problem_body() {
    let driver = driver_with(
        gate_config(
            vec![issuer(ISSUER_A, "http://127.0.0.1:9/jwks".into())],
            |_| {},
        ),
        Arc::new(client()),
        DriverOptions::default(),
    );
    let app = Router::new()
        .route("/me", get(me))
        .route("/public", get(public))
        .layer(GateLayer::new(driver))
        .layer(edge_auth::driver::tower::ProblemJsonLayer);
    let denied = call(&app, "/me", None).await;
    assert_eq!(denied.status, StatusCode::UNAUTHORIZED);
    assert!(denied.headers.contains_key(header::WWW_AUTHENTICATE));
    assert_eq!(
        denied.headers[header::CONTENT_TYPE],
        "application/problem+json"
    );
    let problem: serde_json::Value = serde_json::from_str(&denied.body).unwrap();
    assert_eq!(problem["status"], 401);
    let allowed = call(&app, "/public", None).await;
    assert_eq!(allowed.status, StatusCode::OK);
    assert_eq!(allowed.body, "hello anonymous");
}
