//! A Cloudflare Worker that puts the edge-auth Gate in front of an origin.
//!
//! All auth logic is the library's ([`edge_auth::driver::worker`]): RFC 6750
//! bearer extraction, JWKS caching shared across isolates through KV,
//! RFC 7519 / RFC 8725 validation, OIDC roles, the route policy and RFC 9421
//! signing of the forwarded request. This crate is wiring: it reads the
//! Worker's variables once per isolate (see wrangler.toml for the list),
//! calls [`authorize`](edge_auth::driver::worker::authorize), and forwards
//! what is allowed (or, without an origin, answers with the identity).
//!
//! Natively the crate only holds [`identity_response`]: the Workers runtime
//! exists on `wasm32` only.
#![deny(missing_docs, missing_debug_implementations, unreachable_pub)]
#![cfg_attr(
    not(test),
    deny(
        clippy::unwrap_used,
        clippy::expect_used,
        clippy::panic,
        clippy::indexing_slicing
    )
)]

use edge_auth::Principal;
use http::{HeaderValue, Response, header};

/// The answer to an allowed request when no origin is configured: 200 with
/// `{"subject": .., "roles": [..]}`, never cached (it depends on the
/// caller's credentials).
pub fn identity_response(principal: Option<&Principal>) -> Response<String> {
    let body = serde_json::json!({
        "subject": principal.and_then(|p| p.subject.as_deref()),
        "roles": principal.map(|p| p.roles.iter().collect::<Vec<_>>()).unwrap_or_default(),
    });
    let mut response = Response::new(body.to_string());
    let headers = response.headers_mut();
    headers.insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("application/json"),
    );
    headers.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    response
}

/// The Workers glue: built once per isolate, then one call per request.
#[cfg(target_arch = "wasm32")]
mod glue {
    use std::cell::OnceCell;
    use std::rc::Rc;

    use edge_auth::driver::worker::{
        Settings, Upstream, WorkerError, WorkerGate, authorize, respond,
    };
    use worker::{Context, Env, HttpRequest, Response, console_error, event};

    /// What an isolate builds from its variables (they do not change within
    /// an isolate: a new deployment starts new isolates).
    struct App {
        gate: WorkerGate,
        upstream: Option<Upstream>,
    }

    thread_local! {
        static APP: OnceCell<Rc<Result<App, WorkerError>>> = const { OnceCell::new() };
    }

    fn app(env: &Env) -> Rc<Result<App, WorkerError>> {
        APP.with(|cell| {
            let build = || {
                let settings = Settings::from_env(env)?;
                Ok(App {
                    gate: settings.gate()?,
                    upstream: settings.upstream()?,
                })
            };
            Rc::clone(cell.get_or_init(|| Rc::new(build())))
        })
    }

    edge_auth::durable_object_class!(
        /// The Durable Object class that `EDGE_AUTH_LIMITS_DO` names the
        /// binding of: rate limits (and RFC 9421 nonces) shared by every isolate.
        pub EdgeAuthLimits
    );

    #[event(fetch)]
    async fn fetch(req: HttpRequest, env: Env, ctx: Context) -> worker::Result<Response> {
        let app = app(&env);
        let app = match app.as_ref() {
            Ok(app) => app,
            Err(why) => {
                console_error!("edge-auth worker misconfigured: {why}");
                return Response::error("internal server error\n", 500);
            }
        };
        let authorized = match authorize(req, &env, &ctx, &app.gate).await {
            Ok(authorized) => authorized,
            Err(rejection) => return Ok(rejection),
        };
        match &app.upstream {
            Some(upstream) => Ok(authorized.forward(upstream).await),
            None => Ok(respond(
                super::identity_response(authorized.principal.as_deref()).map(String::into_bytes),
            )),
        }
    }
}
