//! The pieces of the hyper gateway example, as a module that both
//! `examples/hyper_gateway.rs` and `tests/gateway.rs` include with `#[path]`, so
//! the end-to-end test starts exactly what `cargo run --example hyper_gateway`
//! starts: a development issuer, an echo upstream and the gateway itself, each on
//! its own loopback listener.
//!
//! `flags.rs` parses the options into a `GatewayConfig` (the test builds one
//! directly, with a clock it can move); `wiring.rs` builds the gateway from
//! the library's drivers. The development issuer and the echo upstream are
//! stand-ins for a real IdP and API.
#![allow(
    dead_code,
    reason = "shared by the example binary and the test, each using a different subset"
)]

pub mod client_auth;
pub mod dev_issuer;
pub mod echo;
pub mod flags;
pub mod introspection;
pub mod net;
pub mod token_endpoint;
pub mod upstream_auth;
pub mod wiring;

#[allow(unused_imports, reason = "each includer uses some of these")]
pub use dev_issuer::{DevIssuer, start_dev_issuer};
#[allow(unused_imports, reason = "each includer uses some of these")]
pub use echo::{EchoHandle, start_echo};
#[allow(unused_imports, reason = "each includer uses some of these")]
pub use flags::{Flags, GatewayConfig, IssuerSettings, SignUpstream, role_mapper};
#[allow(unused_imports, reason = "each includer uses some of these")]
pub use wiring::{GatewayHandle, start_gateway};
