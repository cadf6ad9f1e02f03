//! DPoP end to end on loopback: the dev issuer (examples/gateway) issues a
//! DPoP-bound token (`cnf.jkt`) for a token request with a proof; an axum
//! app behind `GateLayer` with DPoP on accepts that token with a fresh
//! proof and refuses it as Bearer, and refuses a replayed proof.

use crate::gateway_example as gateway;
use crate::support::es256::Key;

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use axum::Router;
use axum::routing::get;
use bytes::Bytes;
use edge_auth::dpop::{GateDpop, access_token_hash};
use edge_auth::driver::axum::Authenticated;
use edge_auth::driver::client::HyperClient;
use edge_auth::driver::keys::{DriverOptions, KeyDriver, SystemClock};
use edge_auth::driver::tower::GateLayer;
use edge_auth::gate::{Gate, GateConfig, IssuerConfig};
use edge_auth::jwt::Algorithm;
use http::{Request, StatusCode, header};
use http_body_util::{BodyExt, Full};
use serde_json::{Value, json};

const LOOPBACK: SocketAddr =
    SocketAddr::new(std::net::IpAddr::V4(std::net::Ipv4Addr::LOCALHOST), 0);
const BOUND: Duration = Duration::from_secs(10);
const SECRET: &str = "dpop-dev-secret";

fn proof(key: &Key, htm: &str, htu: &str, jti: &str, token: Option<&str>) -> String {
    let jwk = key.jwk();
    let mut claims = json!({
        "jti": jti, "htm": htm, "htu": htu,
        "iat": time::OffsetDateTime::now_utc().unix_timestamp(),
    });
    if let Some(token) = token {
        claims["ath"] = json!(access_token_hash(token));
    }
    key.sign_with_header(
        &json!({"typ": "dpop+jwt", "alg": "ES256",
                "jwk": {"kty": "EC", "crv": "P-256", "x": jwk["x"], "y": jwk["y"]}}),
        &claims,
    )
}

async fn me(Authenticated(who): Authenticated) -> String {
    who.subject.clone().unwrap_or_default()
}

type Client = hyper_util::client::legacy::Client<
    hyper_util::client::legacy::connect::HttpConnector,
    Full<Bytes>,
>;

async fn send(
    client: &Client,
    request: Request<Full<Bytes>>,
) -> (StatusCode, http::HeaderMap, String) {
    let response = tokio::time::timeout(BOUND, client.request(request))
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

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn dev_issuer_dpop_token_accepted_with_proof_and_refused_as_bearer() {
    let dev = gateway::start_dev_issuer(LOOPBACK, "api://orders")
        .await
        .unwrap();
    dev.token_endpoint().register_secret("gw", SECRET);
    let client: Client =
        hyper_util::client::legacy::Client::builder(hyper_util::rt::TokioExecutor::new())
            .build_http();
    let holder = Key::new("client");

    // Token request with a proof (RFC 9449 §5).
    let token_url = dev.token_endpoint_url();
    let request = Request::post(&token_url)
        .header(header::CONTENT_TYPE, "application/x-www-form-urlencoded")
        .header("dpop", proof(&holder, "POST", &token_url, "t-1", None))
        .body(Full::new(Bytes::from(format!(
            "grant_type=client_credentials&client_id=gw&client_secret={SECRET}&scope=api%3A%2F%2Forders"
        ))))
        .unwrap();
    let (status, _, body) = send(&client, request).await;
    assert_eq!(status, StatusCode::OK, "{body}");
    let body: Value = serde_json::from_str(&body).unwrap();
    assert_eq!(body["token_type"], "DPoP");
    let token = body["access_token"].as_str().unwrap().to_owned();

    // The resource server: axum behind GateLayer, DPoP on.
    let issuer = IssuerConfig::new(dev.issuer(), ["api://orders"])
        .with_jwks_uri(dev.jwks_uri())
        .with_algorithms([Algorithm::RS256]);
    let mut config = GateConfig::new([issuer]).with_dpop(GateDpop::new(1000).with_scheme("http"));
    config.cache.allow_http_loopback = true;
    let gate = Arc::new(Gate::new(config).unwrap());
    let driver = KeyDriver::from_parts(
        gate,
        Arc::new(HyperClient::new().unwrap().with_plain_http_loopback()),
        Arc::new(SystemClock),
        DriverOptions::default(),
    );
    let app = Router::new()
        .route("/me", get(me))
        .layer(GateLayer::new(driver));
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let serving = tokio::spawn(async move { axum::serve(listener, app).await });
    let url = format!("http://{addr}/me");

    let dpop_request = |proof: String| {
        Request::get(&url)
            .header(header::AUTHORIZATION, format!("DPoP {token}"))
            .header("dpop", proof)
            .body(Full::new(Bytes::new()))
            .unwrap()
    };
    let first = proof(&holder, "GET", &url, "r-1", Some(&token));
    let (status, _, body) = send(&client, dpop_request(first.clone())).await;
    assert_eq!(status, StatusCode::OK, "{body}");
    assert_eq!(body, "gw");

    // The same token as Bearer: refused (downgrade), DPoP challenge.
    let bearer = Request::get(&url)
        .header(header::AUTHORIZATION, format!("Bearer {token}"))
        .body(Full::new(Bytes::new()))
        .unwrap();
    let (status, headers, _) = send(&client, bearer).await;
    assert_eq!(status, StatusCode::UNAUTHORIZED);
    let challenge = headers[header::WWW_AUTHENTICATE].to_str().unwrap();
    assert!(challenge.starts_with("DPoP "), "{challenge}");
    assert!(challenge.contains("error=\"invalid_token\""), "{challenge}");

    // The first proof again: a replay.
    let (status, headers, _) = send(&client, dpop_request(first)).await;
    assert_eq!(status, StatusCode::UNAUTHORIZED);
    let challenge = headers[header::WWW_AUTHENTICATE].to_str().unwrap();
    assert!(
        challenge.contains("error=\"invalid_dpop_proof\""),
        "{challenge}"
    );

    // A proof by another key: refused.
    let thief = Key::new("thief");
    let (status, _, _) = send(
        &client,
        dpop_request(proof(&thief, "GET", &url, "r-2", Some(&token))),
    )
    .await;
    assert_eq!(status, StatusCode::UNAUTHORIZED);

    serving.abort();
    dev.stop();
}
