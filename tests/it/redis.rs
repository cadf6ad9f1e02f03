//! The Redis stores (feature `redis`) against a real `redis-server` on
//! loopback: each test starts its own on a free port (no persistence) and
//! kills it on drop. Without the binary the tests fail, naming the Debian
//! package to install.

use std::convert::Infallible;
use std::sync::Arc;
use std::time::{Duration as StdDuration, Instant};

use edge_auth::driver::keys::{
    DriverError, DriverOptions, FetchFuture, FetchRequest, HttpClient, KeyDriver, SystemClock,
};
use edge_auth::driver::limit::AsyncLimitStore;
use edge_auth::driver::redis::{RedisConfig, RedisLimitStore, RedisReplayGuard};
use edge_auth::driver::replay::AsyncReplayGuard;
use edge_auth::driver::tower::{ClientIp, GateLayer};
use edge_auth::gate::{Gate, GateConfig, IssuerConfig};
use edge_auth::httpsig::HttpSigError;
use edge_auth::limit::{Decision, Limit, LimitCall, LimitStore, MemoryStore};
use edge_auth::policy::Policy;
use http::{Request, Response, StatusCode};
use serde_json::json;
use time::macros::datetime;
use time::{Duration, OffsetDateTime};
use tower::{Layer, ServiceExt};

use crate::support::redis_server::RedisServer;

const T0: OffsetDateTime = datetime!(2026-12-07 10:00:00.123456789 UTC);

/// Counting, not timing, is tested with these: a timeout with room for a
/// loaded machine (the timeout tests stop the server instead).
fn patient() -> RedisConfig {
    RedisConfig::default().with_timeout(StdDuration::from_secs(2))
}

async fn limit_store(server: &RedisServer) -> RedisLimitStore {
    RedisLimitStore::connect(&server.url(), patient())
        .await
        .unwrap()
}

async fn replay_guard(server: &RedisServer) -> RedisReplayGuard {
    RedisReplayGuard::connect(&server.url(), patient())
        .await
        .unwrap()
}

/// A 500 ms timeout: the first, successful, call must not fail on a
/// loaded machine; a stopped Redis refuses connections at once anyway.
async fn steady_store(server: &RedisServer) -> RedisLimitStore {
    let config = RedisConfig::default().with_timeout(StdDuration::from_millis(500));
    RedisLimitStore::connect(&server.url(), config)
        .await
        .unwrap()
}

async fn raw(server: &RedisServer) -> redis::aio::MultiplexedConnection {
    redis::Client::open(server.url())
        .unwrap()
        .get_multiplexed_async_connection()
        .await
        .unwrap()
}

fn limit(rate: &str, burst: u32) -> Limit {
    Limit::new(rate.parse().unwrap(), burst).unwrap()
}

async fn decide_one(
    store: &dyn AsyncLimitStore,
    key: &str,
    limit: &Limit,
    now: OffsetDateTime,
) -> Decision {
    let calls = [LimitCall::new("l", key, *limit)];
    let mut answers = store.check_all(&calls, now).await;
    assert_eq!(answers.len(), 1);
    answers.remove(0).unwrap()
}

#[tokio::test]
async fn gcra_over_redis_admits_exactly_burst_plus_rate_times_t() {
    let server = RedisServer::start();
    let store = limit_store(&server).await;
    // T = 100 ms, burst 5: over [T0, T0 + 2 s] exactly 5 + 20 admitted
    // for a client sending every millisecond (simulated clock).
    let l = limit("10/s", 5);
    let mut admitted = 0;
    for ms in 0..=2000 {
        let d = decide_one(&store, "k", &l, T0 + Duration::milliseconds(ms)).await;
        admitted += u32::from(d.allowed);
    }
    assert_eq!(admitted, 5 + 20);
}

#[tokio::test]
async fn redis_decisions_equal_the_memory_store_decisions() {
    let server = RedisServer::start();
    let store = limit_store(&server).await;
    let memory = MemoryStore::default();
    // Uneven arrivals, an emission interval that is not a whole
    // millisecond (1/3 s), nanosecond offsets.
    let l = limit("3/1s", 4);
    let mut now = T0;
    for i in 0..400i64 {
        now += Duration::nanoseconds((i * 7_919_113) % 250_000_001);
        let redis = decide_one(&store, "k", &l, now).await;
        let mem = memory.check("k", &l, now).unwrap();
        assert_eq!(redis, mem, "arrival {i}");
    }
}

#[tokio::test]
async fn redis_limit_keys_expire_when_idle() {
    let server = RedisServer::start();
    let store = limit_store(&server).await;
    let l = limit("1/60s", 3);
    decide_one(&store, "idle", &l, T0).await;
    let mut conn = raw(&server).await;
    let ttl: i64 = redis::cmd("PTTL")
        .arg(store.redis_key("idle"))
        .query_async(&mut conn)
        .await
        .unwrap();
    // TAT - now = T = 60 s after one request, plus 1 s for clock skew.
    assert!((60_000..=61_000).contains(&ttl), "{ttl}");
}

#[tokio::test]
async fn redis_limits_of_one_request_stop_at_the_first_refusal() {
    let server = RedisServer::start();
    let store = limit_store(&server).await;
    let tight = limit("1/60s", 1);
    let wide = limit("100/s", 100);
    let calls = [
        LimitCall::new("tight", "a", tight),
        LimitCall::new("wide", "b", wide),
    ];
    let first = store.check_all(&calls, T0).await;
    assert_eq!(first.len(), 2);
    let second = store.check_all(&calls, T0).await;
    assert_eq!(second.len(), 1, "stops at the refusal");
    assert!(!second[0].as_ref().unwrap().allowed);
    // `b` was counted by the first request only (this is its second).
    let d = decide_one(&store, "b", &wide, T0).await;
    assert_eq!(d.remaining, 98);
}

#[tokio::test]
async fn hostile_key_values_stay_escaped_and_bounded_in_redis() {
    let server = RedisServer::start();
    let store = limit_store(&server).await;
    let l = limit("10/s", 10);
    let hostile = [
        "a\r\nSET evil 1\r\n".to_owned(),
        "with spaces and {hash} tags".to_owned(),
        "x".repeat(10 * 1024),
        "\u{0}\u{7f}é".to_owned(),
    ];
    for key in &hostile {
        assert!(decide_one(&store, key, &l, T0).await.allowed);
        // The same value is the same counter.
        assert_eq!(decide_one(&store, key, &l, T0).await.remaining, 8);
    }
    let mut conn = raw(&server).await;
    let keys: Vec<Vec<u8>> = redis::cmd("KEYS")
        .arg("*")
        .query_async(&mut conn)
        .await
        .unwrap();
    assert_eq!(keys.len(), hostile.len(), "{keys:?}");
    for key in keys {
        assert!(key.len() <= 10 + 3 + 201 + 3, "{} bytes", key.len());
        assert!(
            key.iter()
                .all(|b| b.is_ascii_graphic() && *b != b'{' && *b != b'}'),
            "{}",
            String::from_utf8_lossy(&key)
        );
    }
    let evil: Option<String> = redis::cmd("GET")
        .arg("evil")
        .query_async(&mut conn)
        .await
        .unwrap();
    assert_eq!(evil, None);
}

#[tokio::test]
async fn redis_config_refuses_a_bad_prefix() {
    let err = RedisLimitStore::connect(
        "redis://127.0.0.1:1/",
        RedisConfig::default().with_prefix("a{b}"),
    )
    .await
    .unwrap_err();
    assert!(err.to_string().contains("prefix"), "{err}");
}

#[tokio::test]
async fn redis_url_errors_do_not_repeat_the_url() {
    let err = RedisLimitStore::connect("redis://:s3cret@[bad", RedisConfig::default())
        .await
        .unwrap_err();
    assert!(!err.to_string().contains("s3cret"), "{err}");
}

// ---- through the tower layer: two gateways, one Redis ----

/// No key fetch happens in these tests (anonymous routes).
struct NoFetch;

impl HttpClient for NoFetch {
    fn get(&self, _: FetchRequest) -> FetchFuture<'_> {
        Box::pin(async { Err(DriverError::fetch("no key fetch in these tests")) })
    }
}

fn gate(fail_open: bool) -> Arc<Gate> {
    let policy = Policy::from_json(
        &json!({"rules": [
            {"id": "login", "match": {"paths": ["/login"]}, "require": {"anonymous": true},
             "effect": "allow",
             "limits": [{"id": "per-ip", "key": "ip", "rate": "5/60s", "burst": 5}]},
        ]})
        .to_string(),
    )
    .unwrap()
    .compile()
    .unwrap();
    let issuer = IssuerConfig::new("https://idp.example.com", ["api"])
        .with_jwks_uri("https://idp.example.com/jwks");
    let config = GateConfig::new([issuer])
        .with_policy(policy)
        .with_limit_fail_open(fail_open);
    Arc::new(Gate::new(config).unwrap())
}

/// A gateway: a Gate, a key driver and a `GateLayer` on `store` around a
/// service answering 200.
fn gateway(
    store: Arc<dyn AsyncLimitStore>,
    fail_open: bool,
) -> impl Fn(&str) -> std::pin::Pin<Box<dyn std::future::Future<Output = Response<String>> + Send>> + Clone
{
    let driver = KeyDriver::from_parts(
        gate(fail_open),
        Arc::new(NoFetch),
        Arc::new(SystemClock),
        DriverOptions::default(),
    );
    let layer = GateLayer::new(driver).with_limit_store(store);
    let service = layer.layer(tower::service_fn(|_req: Request<()>| async {
        Ok::<_, Infallible>(Response::new("ok".to_owned()))
    }));
    move |ip: &str| {
        let service = service.clone();
        let mut request = Request::get("/login").body(()).unwrap();
        request
            .extensions_mut()
            .insert(ClientIp(ip.parse().unwrap()));
        Box::pin(async move { service.oneshot(request).await.unwrap() })
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn two_gateways_sharing_redis_admit_no_more_than_the_limit() {
    let server = RedisServer::start();
    let a = gateway(Arc::new(limit_store(&server).await), false);
    let b = gateway(Arc::new(limit_store(&server).await), false);
    let started = Instant::now();
    let mut tasks = Vec::new();
    for i in 0..40 {
        let fut = if i % 2 == 0 {
            a("192.0.2.7")
        } else {
            b("192.0.2.7")
        };
        tasks.push(tokio::spawn(fut));
    }
    let mut ok = 0;
    let mut limited = 0;
    for t in tasks {
        let response = t.await.unwrap();
        match response.status() {
            StatusCode::OK => ok += 1,
            StatusCode::TOO_MANY_REQUESTS => {
                limited += 1;
                assert!(response.headers().contains_key("retry-after"));
                assert!(response.headers().contains_key("ratelimit"));
            }
            other => panic!("unexpected {other}"),
        }
    }
    // At most 5 at once, and one more per 12 s of the run. (Fewer is
    // possible: a request that read the clock a few microseconds before
    // one admitted ahead of it finds the TAT that much further ahead.)
    let extra = started.elapsed().as_secs() / 12;
    assert!(ok >= 1 && ok <= 5 + extra, "{ok} admitted");
    assert_eq!(ok + limited, 40);
    // Another address has its own counter, on either gateway.
    assert_eq!(b("192.0.2.8").await.status(), StatusCode::OK);
}

#[tokio::test]
async fn redis_stopped_fails_closed_with_503_within_the_timeout() {
    let mut server = RedisServer::start();
    let gw = gateway(Arc::new(steady_store(&server).await), false);
    assert_eq!(gw("192.0.2.1").await.status(), StatusCode::OK);
    server.stop();
    for _ in 0..3 {
        let started = Instant::now();
        let response = gw("192.0.2.1").await;
        let took = started.elapsed();
        assert_eq!(response.status(), StatusCode::SERVICE_UNAVAILABLE);
        // Connection refused at once; the timeout bounds it anyway.
        assert!(took < StdDuration::from_millis(2000), "{took:?}");
    }
}

#[tokio::test]
async fn redis_stopped_fails_open_when_configured() {
    let mut server = RedisServer::start();
    let gw = gateway(Arc::new(steady_store(&server).await), true);
    assert_eq!(gw("192.0.2.1").await.status(), StatusCode::OK);
    server.stop();
    for _ in 0..3 {
        let started = Instant::now();
        let response = gw("192.0.2.1").await;
        assert_eq!(response.status(), StatusCode::OK);
        assert!(!response.headers().contains_key("ratelimit"));
        assert!(started.elapsed() < StdDuration::from_millis(2000));
    }
}

#[tokio::test]
async fn redis_down_at_start_is_not_an_error_and_fails_closed() {
    let mut server = RedisServer::start();
    let url = server.url();
    server.stop();
    let store = RedisLimitStore::connect(&url, RedisConfig::default())
        .await
        .unwrap();
    let started = Instant::now();
    let answers = store
        .check_all(&[LimitCall::new("l", "k", limit("1/s", 1))], T0)
        .await;
    assert!(started.elapsed() < StdDuration::from_millis(1000));
    let err = answers[0].as_ref().unwrap_err();
    assert!(err.to_string().contains("redis"), "{err}");
}

// ---- RFC 9421 nonces across replicas ----

#[tokio::test]
async fn replay_guard_refuses_a_nonce_seen_by_the_other_instance() {
    let server = RedisServer::start();
    let (a, b) = (replay_guard(&server).await, replay_guard(&server).await);
    let now = OffsetDateTime::now_utc();
    let until = now + Duration::minutes(5);
    a.check_and_remember("k1", "n-1", until, now).await.unwrap();
    let err = b
        .check_and_remember("k1", "n-1", until, now)
        .await
        .unwrap_err();
    assert!(matches!(err, HttpSigError::Replayed { .. }), "{err:?}");
    // Another key's nonce of the same text is not a replay.
    b.check_and_remember("k2", "n-1", until, now).await.unwrap();
}

#[tokio::test]
async fn replay_guard_forgets_a_nonce_after_its_window() {
    let server = RedisServer::start();
    let guard = replay_guard(&server).await;
    let now = OffsetDateTime::now_utc();
    guard
        .check_and_remember("k1", "n-2", now + Duration::milliseconds(100), now)
        .await
        .unwrap();
    tokio::time::sleep(StdDuration::from_millis(250)).await;
    let later = OffsetDateTime::now_utc();
    guard
        .check_and_remember("k1", "n-2", later + Duration::seconds(5), later)
        .await
        .unwrap();
}

#[tokio::test]
async fn replay_guard_keys_of_hostile_nonces_are_bounded() {
    let server = RedisServer::start();
    let guard = replay_guard(&server).await;
    let nonce = format!("a\r\nb{}", "z".repeat(10 * 1024));
    let key = guard.redis_key("k1", &nonce);
    assert!(key.len() < 100, "{}", key.len());
    assert!(!key.contains('\r') && !key.contains(' '));
    let now = OffsetDateTime::now_utc();
    let until = now + Duration::minutes(1);
    guard
        .check_and_remember("k1", &nonce, until, now)
        .await
        .unwrap();
    assert!(matches!(
        guard.check_and_remember("k1", &nonce, until, now).await,
        Err(HttpSigError::Replayed { .. })
    ));
}

#[tokio::test]
async fn replay_guard_refuses_when_redis_is_down() {
    let mut server = RedisServer::start();
    let guard = RedisReplayGuard::connect(&server.url(), RedisConfig::default())
        .await
        .unwrap();
    server.stop();
    let now = OffsetDateTime::now_utc();
    let started = Instant::now();
    let err = guard
        .check_and_remember("k1", "n-3", now + Duration::minutes(1), now)
        .await
        .unwrap_err();
    assert!(matches!(err, HttpSigError::ReplayStore { .. }), "{err:?}");
    assert!(started.elapsed() < StdDuration::from_millis(1000));
}

#[tokio::test]
async fn signed_request_replayed_to_another_replica_is_refused() {
    use edge_auth::driver::replay::verify_request;
    use edge_auth::httpsig::{KeyRing, Signer, SignerConfig, SigningKey, Verifier, VerifyingKey};
    let server = RedisServer::start();
    let (a, b) = (replay_guard(&server).await, replay_guard(&server).await);
    let secret = edge_auth::Secret::new((0u8..32).collect::<Vec<u8>>());
    let signer = Signer::new(
        SigningKey::try_from_hmac_sha256("k1", &secret).unwrap(),
        SignerConfig::default(),
    )
    .unwrap();
    let mut keys = KeyRing::new();
    keys.insert("k1", VerifyingKey::try_from_hmac_sha256(&secret).unwrap());
    let now = OffsetDateTime::now_utc();
    let (parts, body) = Request::post("/orders")
        .header("host", "api.example.com")
        .body(b"{}".to_vec())
        .unwrap()
        .into_parts();
    let out = signer.sign(&parts, &body, Some("n-9"), now).unwrap();
    let mut request = Request::from_parts(parts, body);
    out.apply_to(&mut request);
    let (parts, body) = request.into_parts();
    let verifier = Verifier::default();
    let verified = verify_request(&verifier, &parts, &body, &keys, &a, now)
        .await
        .unwrap();
    assert_eq!(verified.nonce.as_deref(), Some("n-9"));
    let err = verify_request(
        &verifier,
        &parts,
        &body,
        &keys,
        &b,
        now + Duration::seconds(1),
    )
    .await
    .unwrap_err();
    assert!(matches!(err, HttpSigError::Replayed { .. }), "{err:?}");
}

/// Environment variable carrying the Redis URL to a gateway process that
/// [`two_gateway_processes_sharing_redis_admit_no_more_than_the_limit`]
/// starts (the same test, re-run as a child).
const CHILD_REDIS_URL: &str = "EDGE_AUTH_TEST_REDIS_CHILD_URL";

/// Two gateway *processes* (this test binary re-run twice, each with its own
/// Gate, key driver, `GateLayer` and Redis connection) send 20 requests each
/// from one client address at the same time: together they admit no more
/// than the limit.
#[test]
fn two_gateway_processes_sharing_redis_admit_no_more_than_the_limit() {
    const TEST: &str = "redis::two_gateway_processes_sharing_redis_admit_no_more_than_the_limit";
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .unwrap();
    if let Ok(url) = std::env::var(CHILD_REDIS_URL) {
        // The child: one gateway process.
        let (ok, limited) = runtime.block_on(async {
            let store = RedisLimitStore::connect(&url, patient()).await.unwrap();
            let gw = gateway(Arc::new(store), false);
            let tasks: Vec<_> = (0..20).map(|_| tokio::spawn(gw("192.0.2.9"))).collect();
            let (mut ok, mut limited) = (0, 0);
            for t in tasks {
                match t.await.unwrap().status() {
                    StatusCode::OK => ok += 1,
                    StatusCode::TOO_MANY_REQUESTS => limited += 1,
                    other => panic!("unexpected {other}"),
                }
            }
            (ok, limited)
        });
        println!("GATEWAY_RESULT {ok} {limited}");
        return;
    }
    let server = RedisServer::start();
    let started = Instant::now();
    let children: Vec<_> = (0..2)
        .map(|_| {
            std::process::Command::new(std::env::current_exe().unwrap())
                .args(["--exact", TEST, "--nocapture", "--test-threads=1"])
                .env(CHILD_REDIS_URL, server.url())
                .stdout(std::process::Stdio::piped())
                .stderr(std::process::Stdio::piped())
                .spawn()
                .unwrap()
        })
        .collect();
    let (mut ok, mut limited) = (0, 0);
    for child in children {
        let out = child.wait_with_output().unwrap();
        let stdout = String::from_utf8_lossy(&out.stdout);
        assert!(
            out.status.success(),
            "a gateway process failed:\n{stdout}\n{}",
            String::from_utf8_lossy(&out.stderr)
        );
        let line = stdout
            .lines()
            .find_map(|l| l.split("GATEWAY_RESULT ").nth(1))
            .unwrap_or_else(|| panic!("no result from a gateway process:\n{stdout}"));
        let mut numbers = line.split_whitespace().map(|n| n.parse::<u32>().unwrap());
        ok += numbers.next().unwrap();
        limited += numbers.next().unwrap();
    }
    // Burst 5, one more per 12 s of the run, across both processes.
    let extra = u32::try_from(started.elapsed().as_secs() / 12).unwrap();
    assert!(
        ok >= 1 && ok <= 5 + extra,
        "{ok} admitted by the two processes"
    );
    assert_eq!(ok + limited, 40);
}
