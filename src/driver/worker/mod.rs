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
//! # Sealed state
//!
//! With the secret [`SEAL_SECRET_VAR`] set (`npx wrangler secret put
//! EDGE_AUTH_SEAL_SECRET`, e.g. the output of `openssl rand -base64 32`),
//! the key state written to KV (and the Cache API) is sealed
//! ([`crate::seal`]: ChaCha20-Poly1305, bound to the issuer) and any state
//! read back that is not sealed under that secret (or
//! [`SEAL_SECRET_OLD_VAR`], the one being retired) is refused: the isolate
//! then fetches the keys from the issuer and overwrites it.
//!
//! **Protected**: whoever can write the KV namespace (another Worker bound
//! to it, a leaked API token, an operator tool) but does not hold the
//! secret cannot plant a signing key or redirect key fetches, nor read the
//! state. **Not protected**: whoever holds the secret, or can change the
//! Worker's code or configuration; putting back an *older* blob sealed by
//! this Worker (an isolate holding newer keys ignores it; a cold one may
//! use those once genuine keys until its next refresh); deleting the state
//! (a refetch). Without the secret the state is plain JSON and the KV
//! namespace must be writable by this Worker alone.
//!
//! # Single flight
//!
//! Concurrent requests of one isolate that need an issuer's keys make one
//! KV read and one fetch: the first leads ([`Step::Restore`],
//! [`Step::Fetch`]), the others wait for it ([`Step::Wait`]).
//!
//! # Rate limits and nonces across isolates
//!
//! With [`LIMITS_DO_VAR`] naming a Durable Object namespace binding, the
//! policy's rate limits are decided in Durable Objects ([`durable`]), so
//! all isolates share one count per key; the Worker exports the object
//! class (examples/worker shows the five lines). The same objects keep
//! RFC 9421 nonces for `durable::check_nonce`.
//!
//! # Signed requests (RFC 9421, feature `httpsig`)
//!
//! With [`HTTPSIG_KEY_VAR`] set, [`SignedRequests`] verifies inbound
//! request signatures (one `hmac-sha256` or `ed25519` key, required
//! components, `created` / `expires` window) and `verify_signed` refuses a
//! `nonce` any isolate accepted before, through the Durable Objects of
//! [`NONCES_DO_VAR`]. A JWT-only Worker (without `httpsig`) carries none of it.
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

pub mod durable;
mod error;
mod flight;
mod gate;
#[cfg(target_arch = "wasm32")]
mod js;
mod oauth;
#[cfg(feature = "policy")]
mod reload;
#[cfg(target_arch = "wasm32")]
mod runtime;
mod settings;
#[cfg(feature = "httpsig")]
mod signed;
#[cfg(feature = "httpsig")]
mod upstream;

pub use self::error::WorkerError;
pub use self::flight::{Flight, FlightWait};
pub use self::gate::{
    Step, WorkerGate, WorkerOptions, cache_key, client_cert_from_cf, kv_key, time_from_unix_millis,
};
#[cfg(target_arch = "wasm32")]
pub use self::oauth::bearer_token;
pub use self::oauth::{WorkerTokens, oauth_kv_key};
#[cfg(feature = "policy")]
pub use self::reload::{
    DEFAULT_POLICY_KV_KEY, DEFAULT_POLICY_RELOAD_EVERY, KvPolicy, MAX_KV_POLICY_BYTES, PolicyReload,
};
#[cfg(target_arch = "wasm32")]
pub use self::runtime::{Authorized, authorize, respond};
pub use self::settings::{
    ALLOW_HTTP_LOOPBACK_VAR, AUDIENCE_VAR, CACHE_API_VAR, DEFAULT_KV_BINDING, ISSUER_VAR,
    JWKS_URI_VAR, LIMITS_DO_VAR, ORIGIN_VAR, POLICY_VAR, ROLES_CLAIM_VAR, ROLES_PRESET_VAR,
    SEAL_SECRET_OLD_VAR, SEAL_SECRET_VAR, Settings, UPSTREAM_KEY_ID_VAR, UPSTREAM_KEY_VAR,
};
#[cfg(feature = "httpsig")]
pub use self::signed::{
    DEFAULT_HTTPSIG_MAX_AGE_SECS, DEFAULT_MAX_SIGNED_BODY_BYTES, HTTPSIG_ALG_VAR,
    HTTPSIG_COMPONENTS_VAR, HTTPSIG_KEY_ID_VAR, HTTPSIG_KEY_VAR, HTTPSIG_MAX_AGE_VAR,
    HTTPSIG_REQUIRE_EXPIRES_VAR, HTTPSIG_REQUIRE_NONCE_VAR, NONCES_DO_VAR, SignedRequests,
    signature_error_code, signature_rejection,
};
#[cfg(all(feature = "httpsig", target_arch = "wasm32"))]
pub use self::signed::{SignedRequest, verify_signed};
#[cfg(feature = "httpsig")]
pub use self::upstream::{
    DEFAULT_UPSTREAM_KEY_ID, ROLES_HEADER, SUBJECT_HEADER, UPSTREAM_SIGNATURE_LABEL, Upstream,
};

#[cfg(doc)]
use crate::Principal;
