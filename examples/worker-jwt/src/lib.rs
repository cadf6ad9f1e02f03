//! The smallest edge-auth Worker: the Gate (JWT validation and role
//! mapping; no route policy, so any valid token is allowed) built with
//! `default-features = false, features = ["worker"]`, answering allowed
//! requests with the caller's subject. It exists to measure what a JWT-only
//! Worker weighs (tests/worker.rs builds it); the full example is
//! `examples/worker`. Same variables as that example, without the origin
//! and without `EDGE_AUTH_POLICY` (refused without the `policy` feature).
#![deny(missing_docs, missing_debug_implementations, unreachable_pub)]

#[cfg(target_arch = "wasm32")]
mod glue {
    use std::cell::OnceCell;
    use std::rc::Rc;

    use edge_auth::driver::worker::{Settings, WorkerError, WorkerGate, authorize};
    use worker::{Context, Env, HttpRequest, Response, event};

    thread_local! {
        static GATE: OnceCell<Rc<Result<WorkerGate, WorkerError>>> = const { OnceCell::new() };
    }

    #[event(fetch)]
    async fn fetch(req: HttpRequest, env: Env, ctx: Context) -> worker::Result<Response> {
        let gate = GATE.with(|cell| {
            Rc::clone(cell.get_or_init(|| Rc::new(Settings::from_env(&env).and_then(|s| s.gate()))))
        });
        let Ok(gate) = gate.as_ref() else {
            return Response::error("internal server error\n", 500);
        };
        match authorize(req, &env, &ctx, gate).await {
            // Display, not `{:?}`: scripts/worker-build.sh builds with
            // `-Zfmt-debug=shallow`, which prints `Some(..)` as `Some`.
            Ok(allowed) => Response::ok(format!(
                "hello {}\n",
                allowed
                    .principal
                    .and_then(|p| p.subject)
                    .unwrap_or_else(|| "anonymous".to_owned())
            )),
            Err(rejection) => Ok(rejection),
        }
    }
}
