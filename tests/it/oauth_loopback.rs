//! The OAuth client end to end on loopback: the token driver
//! (`edge_auth::driver::oauth`) gets tokens from the hyper example's dev
//! issuer (`examples/gateway/token_endpoint.rs`) with `client_secret_basic`,
//! `client_secret_post` and `private_key_jwt`, and requests through the
//! `BearerLayer` reach an echo upstream carrying them. Bad token endpoint
//! answers give a clear error and no cached token.

use crate::gateway_example as gateway;
use crate::support as common;

use std::net::SocketAddr;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};

use bytes::Bytes;
use common::es256::Key;
use edge_auth::Secret;
use edge_auth::driver::keys::SystemClock;
use edge_auth::driver::oauth::{BearerLayer, HyperTokenClient, TokenDriver, TokenDriverOptions};
use edge_auth::jwk::KeySet;
use edge_auth::jwt::{Validation, Validator};
use edge_auth::oauth::{ClientAuth, ClientCredentials, TokenCache, TokenCacheConfig};
use gateway::token_endpoint::TokenMode;
use gateway::{DevIssuer, start_dev_issuer, start_echo};
use http::Request;
use http_body_util::{BodyExt, Full};
use hyper_util::client::legacy::Client;
use hyper_util::rt::TokioExecutor;
use serde_json::{Value, json};
use tower::{Layer, ServiceExt};

const LOOPBACK: SocketAddr =
    SocketAddr::new(std::net::IpAddr::V4(std::net::Ipv4Addr::LOCALHOST), 0);
const SECRET: &str = "dev secret: p@ss+word/=";

async fn issuer() -> DevIssuer {
    start_dev_issuer(LOOPBACK, "api://orders").await.unwrap()
}

fn driver_for(client: ClientCredentials) -> TokenDriver {
    let http = HyperTokenClient::new().unwrap().with_plain_http_loopback();
    TokenDriver::from_parts(
        TokenCache::new(client, TokenCacheConfig::default()),
        Arc::new(http),
        Arc::new(SystemClock),
        TokenDriverOptions::default().with_fetch_timeout(std::time::Duration::from_secs(5)),
    )
}

fn basic_client(dev: &DevIssuer) -> ClientCredentials {
    dev.token_endpoint().register_secret("gw-basic", SECRET);
    ClientCredentials::with_http_loopback(
        &dev.token_endpoint_url(),
        "gw-basic",
        ClientAuth::secret_basic(Secret::new(SECRET.to_owned())),
    )
    .unwrap()
    .with_scope("api://orders")
}

fn jwt_client(dev: &DevIssuer) -> ClientCredentials {
    let key = Arc::new(Key::new("client-key-1"));
    dev.token_endpoint()
        .register_jwks("gw-jwt", &json!({ "keys": [key.jwk()] }))
        .unwrap();
    let counter = Arc::new(AtomicU64::new(0));
    let source = move |audience: &str,
                       now: time::OffsetDateTime|
          -> Result<Secret<String>, Box<dyn std::error::Error + Send + Sync>> {
        let n = counter.fetch_add(1, Ordering::SeqCst);
        let iat = now.unix_timestamp();
        Ok(Secret::new(key.sign(&json!({
            "iss": "gw-jwt", "sub": "gw-jwt", "aud": audience,
            "jti": format!("assertion-{n}"), "iat": iat, "exp": iat + 60,
        }))))
    };
    ClientCredentials::with_http_loopback(
        &dev.token_endpoint_url(),
        "gw-jwt",
        ClientAuth::assertion(source),
    )
    .unwrap()
    .with_scope("api://orders")
}

/// Sends one request through `BearerLayer` to an echo upstream and returns
/// the `Authorization` header the upstream saw.
async fn through_layer(driver: &TokenDriver) -> String {
    let echo = start_echo(LOOPBACK).await.unwrap();
    let client: Client<_, Full<Bytes>> = Client::builder(TokioExecutor::new()).build_http();
    let service = BearerLayer::new(driver.clone()).layer(client);
    let request = Request::get(format!("http://{}/orders", echo.addr()))
        .body(Full::new(Bytes::new()))
        .unwrap();
    let response = service.oneshot(request).await.unwrap();
    let body = response.into_body().collect().await.unwrap().to_bytes();
    let seen: Value = serde_json::from_slice(&body).unwrap();
    let headers = &seen["headers"];
    headers["authorization"]
        .as_str()
        .or_else(|| headers["authorization"][0].as_str())
        .unwrap_or_else(|| panic!("no authorization header upstream: {seen}"))
        .to_owned()
}

/// The token verifies under the dev issuer's published keys.
async fn assert_issued_by(dev: &DevIssuer, token: &str, client_id: &str) {
    let jwks: Value = {
        let client: Client<_, Full<Bytes>> = Client::builder(TokioExecutor::new()).build_http();
        let response = client.get(dev.jwks_uri().parse().unwrap()).await.unwrap();
        serde_json::from_slice(&response.into_body().collect().await.unwrap().to_bytes()).unwrap()
    };
    let keys = KeySet::from_jwks(jwks.to_string().as_bytes(), &Default::default()).unwrap();
    let mut validation = Validation::default();
    validation.issuers = vec![dev.issuer().to_owned()];
    validation.audiences = vec!["api://orders".into()];
    let claims = Validator::new(validation)
        .validate::<Value>(token, &keys, time::OffsetDateTime::now_utc())
        .unwrap();
    assert_eq!(claims.raw()["sub"], client_id);
}

#[tokio::test]
async fn secret_basic_token_reaches_the_upstream() {
    let dev = issuer().await;
    let driver = driver_for(basic_client(&dev));
    let auth = through_layer(&driver).await;
    let token = auth.strip_prefix("Bearer ").unwrap();
    assert_issued_by(&dev, token, "gw-basic").await;
    assert_eq!(dev.token_endpoint().issued(), 1);
}

#[tokio::test]
async fn secret_post_token_reaches_the_upstream() {
    let dev = issuer().await;
    dev.token_endpoint().register_secret("gw-post", SECRET);
    let client = ClientCredentials::with_http_loopback(
        &dev.token_endpoint_url(),
        "gw-post",
        ClientAuth::secret_post(Secret::new(SECRET.to_owned())),
    )
    .unwrap()
    .with_scope("api://orders");
    let driver = driver_for(client);
    let auth = through_layer(&driver).await;
    assert_issued_by(&dev, auth.strip_prefix("Bearer ").unwrap(), "gw-post").await;
}

#[tokio::test]
async fn private_key_jwt_token_reaches_the_upstream() {
    let dev = issuer().await;
    let driver = driver_for(jwt_client(&dev));
    let auth = through_layer(&driver).await;
    assert_issued_by(&dev, auth.strip_prefix("Bearer ").unwrap(), "gw-jwt").await;
}

#[tokio::test]
async fn wrong_secret_is_invalid_client() {
    let dev = issuer().await;
    dev.token_endpoint()
        .register_secret("gw-basic", "the real one");
    let client = ClientCredentials::with_http_loopback(
        &dev.token_endpoint_url(),
        "gw-basic",
        ClientAuth::secret_basic(Secret::new(SECRET.to_owned())),
    )
    .unwrap();
    let driver = driver_for(client);
    let err = driver.token().await.unwrap_err().to_string();
    assert!(err.contains("`invalid_client` (status 401)"), "{err}");
    assert!(!err.contains("p@ss"), "{err}");
    assert!(
        driver
            .cache()
            .get(time::OffsetDateTime::now_utc())
            .is_none()
    );
}

#[tokio::test]
async fn assertion_for_another_audience_is_refused() {
    let dev = issuer().await;
    let client = jwt_client(&dev).with_assertion_audience("https://elsewhere.example.com/token");
    let driver = driver_for(client);
    let err = driver.token().await.unwrap_err().to_string();
    assert!(err.contains("invalid_client"), "{err}");
}

#[tokio::test]
async fn replayed_assertion_jti_is_refused() {
    let dev = issuer().await;
    let key = Arc::new(Key::new("client-key-1"));
    dev.token_endpoint()
        .register_jwks("gw-jwt", &json!({ "keys": [key.jwk()] }))
        .unwrap();
    let source = move |audience: &str,
                       now: time::OffsetDateTime|
          -> Result<Secret<String>, Box<dyn std::error::Error + Send + Sync>> {
        let iat = now.unix_timestamp();
        Ok(Secret::new(key.sign(&json!({
            "iss": "gw-jwt", "sub": "gw-jwt", "aud": audience,
            "jti": "always-the-same", "iat": iat, "exp": iat + 60,
        }))))
    };
    let client = ClientCredentials::with_http_loopback(
        &dev.token_endpoint_url(),
        "gw-jwt",
        ClientAuth::assertion(source),
    )
    .unwrap();
    let driver = driver_for(client);
    driver.token().await.unwrap();
    driver.cache().invalidate();
    let err = driver.token().await.unwrap_err().to_string();
    assert!(err.contains("`jti` was used before"), "{err}");
}

#[tokio::test]
async fn concurrent_callers_share_one_token_request() {
    let dev = issuer().await;
    let driver = driver_for(jwt_client(&dev));
    let calls = (0..32).map(|_| {
        let d = driver.clone();
        tokio::spawn(async move { d.token().await.map(|t| t.expose().clone()) })
    });
    let tokens: Vec<String> = futures_join(calls).await;
    assert!(tokens.windows(2).all(|w| w[0] == w[1]));
    assert_eq!(dev.token_endpoint().requests(), 1);
    assert_eq!(driver.stats().token_fetch_started, 1);
    assert_eq!(driver.stats().token_served, 32);
}

async fn futures_join(
    handles: impl Iterator<
        Item = tokio::task::JoinHandle<Result<String, edge_auth::driver::keys::DriverError>>,
    >,
) -> Vec<String> {
    let mut out = Vec::new();
    for h in handles {
        out.push(h.await.unwrap().unwrap());
    }
    out
}

#[tokio::test]
async fn many_requests_reuse_one_token() {
    let dev = issuer().await;
    let driver = driver_for(basic_client(&dev));
    for _ in 0..50 {
        driver.token().await.unwrap();
    }
    assert_eq!(dev.token_endpoint().requests(), 1);
}

async fn bad_answer(mode: TokenMode) -> String {
    let dev = issuer().await;
    dev.token_endpoint().set_mode(mode);
    let driver = driver_for(basic_client(&dev));
    let err = driver.token().await.unwrap_err().to_string();
    let cache = driver.cache();
    assert!(
        cache.get(time::OffsetDateTime::now_utc()).is_none(),
        "a token was cached"
    );
    assert!(cache.export_state().is_none());
    assert_eq!(cache.failures(), 1);
    err
}

#[tokio::test]
async fn html_answer_is_a_clear_error_and_caches_nothing() {
    let err = bad_answer(TokenMode::Html).await;
    assert!(
        err.contains("not a json object (content type `text/html`)"),
        "{err}"
    );
}

#[tokio::test]
async fn server_error_is_a_clear_error_and_caches_nothing() {
    let err = bad_answer(TokenMode::ServerError).await;
    assert!(err.contains("status 500 without an oauth error"), "{err}");
}

#[tokio::test]
async fn expires_in_zero_is_a_clear_error_and_caches_nothing() {
    let err = bad_answer(TokenMode::ExpiresIn(0)).await;
    assert!(
        err.contains("expires_in `0`, which must be positive"),
        "{err}"
    );
}

#[tokio::test]
async fn expires_in_negative_is_a_clear_error_and_caches_nothing() {
    let err = bad_answer(TokenMode::ExpiresIn(-60)).await;
    assert!(
        err.contains("expires_in `-60`, which must be positive"),
        "{err}"
    );
}

#[tokio::test]
async fn ok_without_access_token_is_a_clear_error_and_caches_nothing() {
    let err = bad_answer(TokenMode::NoAccessToken).await;
    assert!(err.contains("lacks `access_token`"), "{err}");
}

#[tokio::test]
async fn expires_in_huge_is_capped_at_a_day() {
    let dev = issuer().await;
    dev.token_endpoint()
        .set_mode(TokenMode::ExpiresIn(i64::MAX / 2));
    let driver = driver_for(basic_client(&dev));
    driver.token().await.unwrap();
    let now = time::OffsetDateTime::now_utc();
    let expires = driver.cache().expires_at().unwrap();
    assert!(expires <= now + time::Duration::hours(24), "{expires}");
    assert!(expires > now + time::Duration::hours(23), "{expires}");
}

#[tokio::test]
async fn token_endpoint_down_is_an_error_and_backs_off() {
    let dev = issuer().await;
    let url = dev.token_endpoint_url();
    dev.token_endpoint().register_secret("gw-basic", SECRET);
    dev.stop();
    let client = ClientCredentials::with_http_loopback(
        &url,
        "gw-basic",
        ClientAuth::secret_basic(Secret::new(SECRET.to_owned())),
    )
    .unwrap();
    let driver = driver_for(client);
    let err = driver.token().await.unwrap_err().to_string();
    assert!(
        err.starts_with("no access token: token request to"),
        "{err}"
    );
    assert!(driver.cache().next_retry_at().is_some());
}

#[tokio::test]
async fn refresh_task_renews_ahead_of_expiry() {
    let dev = issuer().await;
    // 65 s tokens with a 60 s margin: usable for 5 s, renewed at 4 s (80 %).
    dev.token_endpoint().set_lifetime(65);
    let driver = driver_for(basic_client(&dev));
    let first = driver.token().await.unwrap().expose().clone();
    let task = driver.spawn_refresh().unwrap();
    let mut renewed = false;
    for _ in 0..100 {
        tokio::time::sleep(std::time::Duration::from_millis(100)).await;
        if dev.token_endpoint().issued() >= 2 {
            renewed = true;
            break;
        }
    }
    drop(task);
    assert!(renewed, "no refresh within 10 s");
    let second = driver.token().await.unwrap().expose().clone();
    assert_ne!(first, second);
}

#[tokio::test]
async fn debug_of_driver_layer_and_client_shows_no_secret_or_token() {
    let dev = issuer().await;
    let driver = driver_for(jwt_client(&dev));
    let token = driver.token().await.unwrap();
    let basic = driver_for(basic_client(&dev));
    basic.token().await.unwrap();
    let layer = BearerLayer::new(driver.clone());
    let out = format!(
        "{driver:?} {basic:?} {layer:?} {:?} {:?} {token:?}",
        HyperTokenClient::new().unwrap(),
        driver.cache().export_state()
    );
    assert!(!out.contains(token.expose().as_str()), "{out}");
    assert!(!out.contains("p@ss"), "{out}");
    assert!(!out.contains("eyJ"), "{out}");
}
