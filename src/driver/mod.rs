//! The I/O half: drivers that run the sans-IO [`Gate`](crate::gate::Gate)
//! for one runtime each. Everything here is behind a cargo feature and none
//! is in the default build, which stays tokio-free and wasm32-clean; only
//! this module reads a clock or does I/O.
//!
//! | feature        | module | brings |
//! |----------------|--------|--------|
//! | `tokio`        | `oauth` | `TokenDriver`: single-flight OAuth token requests, timeouts, refresh-ahead task (`BearerLayer` with `tower`, `HyperTokenClient` with `hyper-client`) |
//! | `tokio`        | `keys`, `limit`, `reload` (with `policy`), `stats` | `KeyDriver`: single-flight key fetches, timeouts, refresh-ahead task; `AsyncLimitStore`, the seam for external rate-limit stores; `PolicyReloader`: the policy from a file or URL on an interval; tokio (`sync`, `time`, `rt`) |
//! | `tower`        | `tower` | `GateLayer` / `GateService` (tower 0.5); implies `tokio` |
//! | `hyper-client` | `client` | `HyperClient`: the key client on hyper-util + rustls (ring, webpki roots); implies `tokio` |
//! | `axum`         | `axum` | `Authenticated` / `MaybeAuthenticated` extractors, `ConnectInfo` client addresses (axum 0.8); implies `tower` |
//! | `redis`        | `redis`, `replay` | `RedisLimitStore` (GCRA in one Lua script per request) and `RedisReplayGuard` (RFC 9421 nonces), shared by replicas; implies `tokio` |
//! | `hyper-server` | `server` | a hardened HTTP/1.1 serve loop (hyper 1 on tokio) |
//! | `server-tls`   | `tls` | the serve loop over TLS (tokio-rustls, ring) with optional client-certificate verification; the client certificate reaches the Gate (RFC 8705); implies `hyper-server` |
//! | `worker`       | `worker` | the Gate in a Cloudflare Worker (workers-rs 0.8): key fetches with `Fetch` (one per issuer per isolate), key state in KV and the Cache API (sealed with a secret), refresh with `waitUntil`, rate limits and RFC 9421 nonces in Durable Objects; wasm32 only for the runtime part |
//! | `tokio` or `worker` | `sealing` | `Sealer::from_env` / `from_file` / `from_secret_text`: the sealing secret (and the one being retired) from the environment, a file or a Worker secret |
//! | `hyper-client` + `hyper-server` + `tower` | `proxy`, `sign` | `Proxy`: the upstream half of a gateway (header hygiene, identity headers, `UpstreamSigner` for RFC 9421 / SigV4, 502 / 504 problem responses) as a tower service behind `GateLayer` |
//! | `tracing`      | — | a span per check (outcome, issuer, rule, reason class, fetch rounds, duration) and events per key fetch; never a token |
//!
//! An axum API behind the Gate (features `axum` and `hyper-client`):
//!
//! ```no_run
//! # #[cfg(all(feature = "axum", feature = "hyper-client"))]
//! # async fn quick_start() -> Result<(), Box<dyn std::error::Error>> {
//! use std::sync::Arc;
//! use axum::{Router, routing::get};
//! use edge_auth::driver::{axum::Authenticated, client::HyperClient, keys::KeyDriver, tower::GateLayer};
//! use edge_auth::gate::{Gate, GateConfig, IssuerConfig};
//!
//! let gate = Gate::new(GateConfig::new([IssuerConfig::new("https://idp.example.com", ["api://orders"])]))?;
//! let driver = KeyDriver::new(Arc::new(gate), HyperClient::new()?);
//! let hello = |Authenticated(who): Authenticated| async move { format!("hello {:?}", who.subject) };
//! let app = Router::new().route("/orders", get(hello)).layer(GateLayer::new(driver));
//! axum::serve(tokio::net::TcpListener::bind("127.0.0.1:3000").await?, app).await?;
//! # Ok(()) }
//! ```
//!
//! The layer fetches the issuer's discovery document and key set on the
//! first request (one fetch, whatever the number of concurrent requests),
//! and again as the Gate asks; `driver.spawn_refresh()` renews keys ahead
//! of expiry on a background task.

#[cfg(feature = "axum")]
pub mod axum;
#[cfg(feature = "hyper-client")]
pub mod client;
#[cfg(feature = "tokio")]
pub mod edge;
#[cfg(feature = "tokio")]
pub mod keys;
#[cfg(feature = "tokio")]
pub mod limit;
#[cfg(feature = "tokio")]
pub mod oauth;
#[cfg(all(feature = "hyper-client", feature = "hyper-server", feature = "tower"))]
pub mod proxy;
#[cfg(feature = "redis")]
pub mod redis;
#[cfg(all(feature = "tokio", feature = "policy"))]
pub mod reload;
#[cfg(all(feature = "tokio", feature = "httpsig"))]
pub mod replay;
#[cfg(any(feature = "tokio", feature = "worker"))]
pub mod sealing;
#[cfg(feature = "hyper-server")]
pub mod server;
#[cfg(all(feature = "hyper-client", feature = "hyper-server", feature = "tower"))]
pub mod sign;
#[cfg(feature = "tokio")]
pub mod stats;
#[cfg(feature = "server-tls")]
pub mod tls;
#[cfg(feature = "tower")]
pub mod tower;
#[cfg(feature = "worker")]
pub mod worker;
