//! The pieces of the hyper gateway example, as a module that both
//! `examples/hyper_gateway.rs` and `tests/gateway.rs` include with `#[path]`, so
//! the end-to-end test starts exactly what `cargo run --example hyper_gateway`
//! starts: a development issuer, an echo upstream and the gateway itself, each on
//! its own loopback listener.
//!
//! Time and I/O live here, never in the library: the gateway owns the clock
//! (a [`proxy::Clock`] the test can move), the sockets and the JWKS client, and
//! hands the library's sans-IO [`Gate`](edge_auth::gate::Gate) plain values.
#![allow(
    dead_code,
    reason = "shared by the example binary and the test, each using a different subset"
)]

pub mod dev_issuer;
pub mod echo;
pub mod net;
pub mod proxy;
pub mod sign;
pub mod token_endpoint;

#[allow(unused_imports, reason = "each includer uses some of these")]
pub use dev_issuer::{DevIssuer, start_dev_issuer};
#[allow(unused_imports, reason = "each includer uses some of these")]
pub use echo::{EchoHandle, start_echo};
#[allow(unused_imports, reason = "each includer uses some of these")]
pub use proxy::{
    Clock, GatewayConfig, GatewayHandle, IssuerSettings, SignUpstream, role_mapper, start_gateway,
};
