//! The integration tests, one binary with a module per capability (one link,
//! one copy of the dependencies on disk). `support` holds what several
//! modules share: test vectors, keys and token minting.
//!
//! Run one capability with a filter: `cargo test --test it -- jwt::`.

mod support;

mod adversarial;
mod cors;
mod discovery;
mod extract;
mod forward;
mod gate;
mod http_date;
#[cfg(feature = "introspect")]
mod introspect;
mod json_reader;
mod jwks_cache;
mod jwt;
mod layering;
mod limit;
mod mint;
mod oauth;
mod oidc;
mod policy;
mod resource_metadata;
mod response;
mod seal;
mod token_cache;
mod vectors_jose;

#[cfg(feature = "sigv4")]
mod interop_sigv4;
#[cfg(feature = "sigv4")]
mod sigv4;

#[cfg(feature = "dpop")]
mod dpop;
#[cfg(feature = "httpsig")]
mod httpsig;
#[cfg(feature = "httpsig")]
mod httpsig_rfc;
#[cfg(feature = "httpsig")]
mod interop_httpsig;
#[cfg(feature = "httpsig")]
mod mtls;
#[cfg(feature = "httpsig")]
mod worker;
#[cfg(feature = "httpsig")]
mod worker_replay;

/// The hyper gateway example's modules, which the gateway and front-door
/// tests drive.
#[cfg(all(feature = "sigv4", feature = "httpsig", feature = "dpop"))]
#[path = "../../examples/gateway/mod.rs"]
mod gateway_example;

#[cfg(all(feature = "sigv4", feature = "httpsig", feature = "dpop"))]
mod browser;
#[cfg(all(feature = "sigv4", feature = "httpsig", feature = "dpop"))]
mod front_door;
#[cfg(all(feature = "sigv4", feature = "httpsig", feature = "dpop"))]
mod fuzz_replay;
#[cfg(all(feature = "sigv4", feature = "httpsig"))]
mod gateway;
#[cfg(all(
    feature = "sigv4",
    feature = "httpsig",
    feature = "tower",
    feature = "hyper-client"
))]
mod oauth_loopback;
#[cfg(all(feature = "sigv4", feature = "httpsig"))]
mod upstream_auth;

#[cfg(all(
    feature = "sigv4",
    feature = "dpop",
    feature = "axum",
    feature = "hyper-client"
))]
mod dpop_loopback;
#[cfg(all(feature = "axum", feature = "hyper-client"))]
mod driver_tower;
#[cfg(all(feature = "axum", feature = "tracing"))]
mod driver_tracing;
#[cfg(all(feature = "worker", feature = "httpsig"))]
mod driver_worker;
#[cfg(all(
    feature = "sigv4",
    feature = "httpsig",
    feature = "axum",
    feature = "hyper-client",
    feature = "introspect"
))]
mod introspect_loopback;
#[cfg(all(feature = "server-tls", feature = "tower", feature = "httpsig"))]
mod mtls_loopback;

/// Needs `redis-server` (Debian package `redis-server`) on PATH: the tests
/// start their own on a free loopback port and fail when it is missing.
#[cfg(all(feature = "redis", feature = "httpsig"))]
mod redis;
