//! An axum 0.8 API behind the Gate: `GateLayer` checks each request (token,
//! issuer keys, policy); handlers take the `Authenticated` caller. Usage:
//! `cargo run --example axum_api --features axum,hyper-client -- ISSUER AUDIENCE [LISTEN]`.
//! Keys come from the issuer's OIDC discovery over HTTPS (or plain HTTP
//! from a loopback development issuer).

use std::net::SocketAddr;
use std::sync::Arc;

use axum::{Router, routing::get};
use edge_auth::driver::axum::{Authenticated, MaybeAuthenticated};
use edge_auth::driver::{client::HyperClient, keys::KeyDriver, tower::GateLayer};
use edge_auth::gate::{Gate, GateConfig, IssuerConfig};
use edge_auth::policy::Policy;

const POLICY: &str = r#"{"rules":[
  {"id":"health","match":{"paths":["/health"]},"require":{"anonymous":true},"effect":"allow"},
  {"id":"api","match":{"paths":["/**"]},"require":{"authenticated":true},"effect":"allow"}]}"#;

async fn me(Authenticated(who): Authenticated) -> String {
    format!("subject {:?}, roles {:?}\n", who.subject, who.roles)
}

async fn health(MaybeAuthenticated(who): MaybeAuthenticated) -> String {
    let caller = if who.is_some() {
        "authenticated"
    } else {
        "anonymous"
    };
    format!("ok ({caller})\n")
}

#[tokio::main]
async fn main() -> Result<(), Box<dyn std::error::Error>> {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let [issuer, audience, rest @ ..] = args.as_slice() else {
        return Err("usage: axum_api ISSUER AUDIENCE [LISTEN, default 127.0.0.1:3000]".into());
    };
    let listen: SocketAddr = rest.first().map_or("127.0.0.1:3000", |s| s).parse()?;
    let dev = issuer.starts_with("http://");
    let mut config = GateConfig::new([IssuerConfig::new(issuer.as_str(), [audience.as_str()])])
        .with_policy(Policy::from_json(POLICY)?.compile()?);
    config.discovery.allow_http_loopback = dev;
    config.cache.allow_http_loopback = dev;
    let mut client = HyperClient::new()?;
    if dev {
        client = client.with_plain_http_loopback();
    }
    let driver = KeyDriver::new(Arc::new(Gate::new(config)?), client);
    let _refresh = driver.spawn_refresh()?;

    let app = Router::new()
        .route("/health", get(health))
        .route("/me", get(me))
        .layer(GateLayer::new(driver));
    let listener = tokio::net::TcpListener::bind(listen).await?;
    println!("listening on http://{listen}");
    let app = app.into_make_service_with_connect_info::<SocketAddr>();
    Ok(axum::serve(listener, app).await?)
}
