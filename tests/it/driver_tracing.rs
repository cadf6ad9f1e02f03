//! The driver's traces (feature `tracing`): a span per check with its
//! outcome, issuer and reason class, events for key fetches, and never a
//! token. The test runs in a process of its own (`support::in_own_process`):
//! tracing's per-callsite interest cache is process-wide, and a thread-local
//! subscriber beside concurrently running tests can miss events.
//!
//! Run with `cargo test --test it -- driver_tracing::`.

use crate::support::jwt as jwt_support;

use std::sync::Arc;

use aws_lc_rs::rsa::KeySize;
use axum::Router;
use axum::body::Body;
use axum::routing::get;
use edge_auth::driver::axum::Authenticated;
use edge_auth::driver::keys::{FetchFuture, FetchRequest, FetchResponse, HttpClient, KeyDriver};
use edge_auth::driver::tower::GateLayer;
use edge_auth::gate::{Gate, GateConfig, IssuerConfig};
use edge_auth::jwt::Algorithm;
use http::{HeaderMap, Request, StatusCode, header};
use jwt_support::{TestKey, jwks};
use serde_json::json;
use tower::ServiceExt;

const ISSUER: &str = "https://issuer.test";
const AUDIENCE: &str = "api://driver-test";

/// Serves one key set from memory.
struct StaticJwks(Vec<u8>);

impl HttpClient for StaticJwks {
    fn get(&self, _: FetchRequest) -> FetchFuture<'_> {
        let response = FetchResponse::new(StatusCode::OK, HeaderMap::new(), self.0.clone());
        Box::pin(async move { Ok(response) })
    }
}

fn token(key: &TestKey, subject: &str) -> String {
    let now = time::OffsetDateTime::now_utc().unix_timestamp();
    key.mint(
        Algorithm::RS256,
        &json!({"iss": ISSUER, "aud": AUDIENCE, "sub": subject, "iat": now, "exp": now + 600}),
    )
}

async fn status(app: &Router, token: Option<&str>) -> StatusCode {
    let mut request = Request::get("/me");
    if let Some(token) = token {
        request = request.header(header::AUTHORIZATION, format!("Bearer {token}"));
    }
    let request = request.body(Body::empty()).unwrap();
    app.clone().oneshot(request).await.unwrap().status()
}

async fn me(Authenticated(who): Authenticated) -> String {
    who.subject.clone().unwrap_or_default()
}

/// Everything the driver traces, as `name` and `field=value` lines.
mod capture {
    use std::sync::atomic::{AtomicU64, Ordering};
    use std::sync::{Arc, Mutex};

    use tracing::field::{Field, Visit};
    use tracing::span::{Attributes, Id, Record};
    use tracing::{Event, Metadata, Subscriber};

    #[derive(Clone, Default)]
    pub struct Capture {
        pub lines: Arc<Mutex<Vec<String>>>,
        next: Arc<AtomicU64>,
    }

    struct Lines<'a>(&'a mut Vec<String>);

    impl Visit for Lines<'_> {
        fn record_debug(&mut self, field: &Field, value: &dyn std::fmt::Debug) {
            self.0.push(format!("{}={value:?}", field.name()));
        }
        fn record_str(&mut self, field: &Field, value: &str) {
            self.0.push(format!("{}={value}", field.name()));
        }
    }

    impl Subscriber for Capture {
        fn enabled(&self, _: &Metadata<'_>) -> bool {
            true
        }
        fn new_span(&self, span: &Attributes<'_>) -> Id {
            let mut lines = self.lines.lock().unwrap();
            lines.push(format!("span {}", span.metadata().name()));
            span.record(&mut Lines(&mut lines));
            Id::from_u64(self.next.fetch_add(1, Ordering::Relaxed) + 1)
        }
        fn record(&self, _: &Id, values: &Record<'_>) {
            values.record(&mut Lines(&mut self.lines.lock().unwrap()));
        }
        fn record_follows_from(&self, _: &Id, _: &Id) {}
        fn event(&self, event: &Event<'_>) {
            event.record(&mut Lines(&mut self.lines.lock().unwrap()));
        }
        fn enter(&self, _: &Id) {}
        fn exit(&self, _: &Id) {}
    }
}

/// A span per check with its outcome and reason class, events for key
/// fetches, and never a token (or a piece of one) in any of them.
#[test]
fn traces_name_outcomes_and_fetches_but_never_a_token() {
    if !crate::support::in_own_process(
        "driver_tracing::traces_name_outcomes_and_fetches_but_never_a_token",
    ) {
        return;
    }
    tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap()
        .block_on(traces());
}

async fn traces() {
    let capture = capture::Capture::default();
    let _default = tracing::subscriber::set_default(capture.clone());
    let key = TestKey::rsa("k1", KeySize::Rsa2048);
    let issuer = IssuerConfig::new(ISSUER, [AUDIENCE])
        .with_jwks_uri("https://issuer.test/jwks")
        .with_algorithms([Algorithm::RS256]);
    let gate = Gate::new(GateConfig::new([issuer])).unwrap();
    let driver = KeyDriver::new(Arc::new(gate), StaticJwks(jwks(&[&key])));
    let app = Router::new()
        .route("/me", get(me))
        .layer(GateLayer::new(driver));
    let good = token(&key, "alice");
    let forged = token(&TestKey::rsa("k1", KeySize::Rsa2048), "mallory");
    assert_eq!(status(&app, Some(&good)).await, StatusCode::OK);
    assert_eq!(status(&app, Some(&forged)).await, StatusCode::UNAUTHORIZED);
    assert_eq!(status(&app, None).await, StatusCode::UNAUTHORIZED);

    let lines = capture.lines.lock().unwrap().clone();
    let has = |line: &str| lines.iter().any(|l| l == line);
    assert!(has("span edge_auth.check"), "{lines:#?}");
    assert!(has("outcome=allow"), "{lines:#?}");
    assert!(has(&format!("issuer={ISSUER}")), "{lines:#?}");
    assert!(has("outcome=deny"), "{lines:#?}");
    assert!(has("reason=invalid_token"), "{lines:#?}");
    assert!(has("reason=missing_token"), "{lines:#?}");
    assert!(has("message=edge_auth key fetch started"), "{lines:#?}");
    assert!(has("message=edge_auth key fetch applied"), "{lines:#?}");
    for token in [&good, &forged] {
        for part in token.split('.') {
            assert!(
                !lines.iter().any(|l| l.contains(part)),
                "a token segment reached the traces"
            );
        }
    }
}
