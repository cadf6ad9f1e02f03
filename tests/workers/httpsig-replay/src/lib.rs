//! A test Worker for inbound RFC 9421 signatures: every request but
//! `GET /healthz` must carry a signature made with the configured key
//! (`EDGE_AUTH_HTTPSIG_*`), and its `nonce` is checked in the Durable
//! Objects of `EDGE_AUTH_NONCES_DO` (class `EdgeAuthNonces`, exported
//! here), so a nonce accepted by one isolate is refused by every other.
//! tests/it/worker_replay.rs builds it with `worker-build --profile worker`
//! and serves it with workerd (two services: two isolates, one object
//! namespace).
//!
//! Natively the crate only holds [`accepted_body`].
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

/// The 200 body for an accepted request: the signature's `keyid` and
/// nonce, and which service (isolate) answered.
pub fn accepted_body(keyid: &str, nonce: Option<&str>, service: &str) -> String {
    serde_json::json!({"keyid": keyid, "nonce": nonce, "service": service}).to_string()
}

/// The Workers glue: settings once per isolate, one call per request.
#[cfg(target_arch = "wasm32")]
mod glue {
    use std::cell::OnceCell;
    use std::rc::Rc;

    use edge_auth::driver::worker::{SignedRequests, WorkerError, verify_signed};
    use worker::{Context, Env, HttpRequest, Response, console_error, event};

    thread_local! {
        static SIGNED: OnceCell<Rc<Result<Option<SignedRequests>, WorkerError>>> =
            const { OnceCell::new() };
    }

    fn signed(env: &Env) -> Rc<Result<Option<SignedRequests>, WorkerError>> {
        SIGNED.with(|cell| Rc::clone(cell.get_or_init(|| Rc::new(SignedRequests::from_env(env)))))
    }

    edge_auth::durable_object_class!(
        /// The Durable Object class that `EDGE_AUTH_NONCES_DO` names the
        /// binding of: RFC 9421 nonces shared by every isolate.
        pub EdgeAuthNonces
    );

    #[event(fetch)]
    async fn fetch(req: HttpRequest, env: Env, _ctx: Context) -> worker::Result<Response> {
        if req.method() == http::Method::GET && req.uri().path() == "/healthz" {
            return Response::ok("ok\n");
        }
        let signed = signed(&env);
        let signed = match signed.as_ref() {
            Ok(Some(signed)) => signed,
            Ok(None) => {
                console_error!("edge-auth: EDGE_AUTH_HTTPSIG_KEY is not set");
                return Response::error("internal server error\n", 500);
            }
            Err(why) => {
                console_error!("edge-auth test worker misconfigured: {why}");
                return Response::error("internal server error\n", 500);
            }
        };
        let request = match verify_signed(req, &env, signed).await {
            Ok(request) => request,
            Err(refusal) => return Ok(refusal),
        };
        let service = env
            .var("SERVICE")
            .map(|v| v.to_string())
            .unwrap_or_default();
        Response::ok(super::accepted_body(
            &request.verified.keyid,
            request.verified.nonce.as_deref(),
            &service,
        ))
    }
}
