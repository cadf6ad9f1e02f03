//! The Gate in a Cloudflare Worker (workers-rs 0.8): one call,
//! `authorize`, runs the check → fetch keys → apply → check loop with
//! `worker::Fetch`, shares each issuer's key state between isolates through
//! Workers KV, refreshes keys after the response with `ctx.wait_until`, and
//! answers either the request to forward (with its [`Principal`]) or the
//! rejection `Response` (RFC 6750 challenge, `Cache-Control: no-store`).
//!
//! The runtime part (`authorize`, `Authorized`, `Settings::from_env`)
//! exists on `wasm32` only (so these names are not links in docs built for
//! another target). The rest is runtime-independent and tested
//! natively: [`Settings`] (the Worker's variables), [`WorkerGate`] (the
//! loop's decision steps and the KV state bookkeeping) and, with the
//! `httpsig` feature, [`Upstream`] (identity headers and the RFC 9421
//! signature of the forwarded request).
//!
//! A Worker's whole fetch handler:
//!
//! ```ignore
//! use edge_auth::driver::worker::{Settings, WorkerGate, authorize};
//! use worker::{Context, Env, HttpRequest, Response, event};
//!
//! #[event(fetch)]
//! async fn fetch(req: HttpRequest, env: Env, ctx: Context) -> worker::Result<Response> {
//!     // Build once per isolate in a real Worker (a `thread_local!` `OnceCell`).
//!     let gate = Settings::from_env(&env).and_then(|s| s.gate());
//!     let Ok(gate) = gate else { return Response::error("misconfigured", 500) };
//!     match authorize(req, &env, &ctx, &gate).await {
//!         Ok(authorized) => Response::ok(format!("hello {:?}", authorized.principal)),
//!         Err(rejection) => Ok(rejection),
//!     }
//! }
//! ```

mod error;
mod gate;
mod oauth;
#[cfg(target_arch = "wasm32")]
mod runtime;
mod settings;
#[cfg(feature = "httpsig")]
mod upstream;

pub use self::error::WorkerError;
pub use self::gate::{Step, WorkerGate, WorkerOptions, kv_key, time_from_unix_millis};
#[cfg(target_arch = "wasm32")]
pub use self::oauth::bearer_token;
pub use self::oauth::{WorkerTokens, oauth_kv_key};
#[cfg(target_arch = "wasm32")]
pub use self::runtime::{Authorized, authorize};
pub use self::settings::{
    ALLOW_HTTP_LOOPBACK_VAR, AUDIENCE_VAR, DEFAULT_KV_BINDING, ISSUER_VAR, JWKS_URI_VAR,
    ORIGIN_VAR, POLICY_VAR, ROLES_CLAIM_VAR, ROLES_PRESET_VAR, Settings, UPSTREAM_KEY_ID_VAR,
    UPSTREAM_KEY_VAR,
};
#[cfg(feature = "httpsig")]
pub use self::upstream::{
    DEFAULT_UPSTREAM_KEY_ID, ROLES_HEADER, SUBJECT_HEADER, UPSTREAM_SIGNATURE_LABEL, Upstream,
};

#[cfg(doc)]
use crate::Principal;
