//! The development issuer's introspection endpoint (RFC 7662): opaque
//! tokens it minted (on request: `POST /token` with `token_format=opaque`,
//! or [`Introspection::mint`]) are answered with their claims and
//! `"active": true` until they expire or are revoked; anything else is
//! `{"active": false}`. Callers authenticate with a registered secret
//! (`client_secret_basic` or `client_secret_post`). Every request is
//! counted, so a test can see how often the gateway asks.

use std::collections::HashMap;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Mutex, PoisonError};

use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use http::{Method, Request, Response, StatusCode};
use http_body_util::{BodyExt, Limited};
use hyper::body::Incoming;
use serde_json::{Map, Value, json};
use url::form_urlencoded;

use super::client_auth::basic_credentials;
use super::net::{Body, json_response, text_response};

/// The introspection endpoint's state.
#[derive(Default)]
pub struct Introspection {
    /// Active opaque tokens and their claims.
    tokens: Mutex<HashMap<String, Map<String, Value>>>,
    /// Clients allowed to introspect, with their secrets.
    clients: Mutex<HashMap<String, String>>,
    requests: AtomicU64,
    down: AtomicBool,
}

impl std::fmt::Debug for Introspection {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Introspection")
            .field("requests", &self.requests())
            .finish_non_exhaustive()
    }
}

impl Introspection {
    /// Lets `client_id` introspect with `secret`.
    pub fn register_client(&self, client_id: &str, secret: &str) {
        self.clients
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .insert(client_id.to_owned(), secret.to_owned());
    }

    /// Mints an opaque token standing for `claims` (no dots: it does not
    /// look like a JWT).
    pub fn mint(&self, claims: &Map<String, Value>) -> String {
        let mut raw = [0u8; 32];
        let _ = aws_lc_rs::rand::fill(&mut raw);
        let token = format!("dev-opaque-{}", URL_SAFE_NO_PAD.encode(raw));
        self.tokens
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .insert(token.clone(), claims.clone());
        token
    }

    /// Revokes `token`: from now on it is inactive.
    pub fn revoke(&self, token: &str) {
        self.tokens
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .remove(token);
    }

    /// Makes the endpoint answer 503 (or work again).
    pub fn set_down(&self, down: bool) {
        self.down.store(down, Ordering::SeqCst);
    }

    /// Introspection requests received (answered or not).
    pub fn requests(&self) -> u64 {
        self.requests.load(Ordering::SeqCst)
    }

    /// Answers `POST /introspect`.
    pub async fn handle(&self, request: Request<Incoming>) -> Response<Body> {
        self.requests.fetch_add(1, Ordering::SeqCst);
        if request.method() != Method::POST {
            return text_response(StatusCode::METHOD_NOT_ALLOWED, "only POST here");
        }
        if self.down.load(Ordering::SeqCst) {
            return text_response(StatusCode::SERVICE_UNAVAILABLE, "introspection is down");
        }
        let (parts, body) = request.into_parts();
        let Ok(body) = Limited::new(body, 64 * 1024).collect().await else {
            return error(StatusCode::BAD_REQUEST, "invalid_request");
        };
        let form: HashMap<String, String> = form_urlencoded::parse(&body.to_bytes())
            .into_owned()
            .collect();
        let basic = basic_credentials(&parts.headers);
        let (id, secret) = match (&basic, form.get("client_id"), form.get("client_secret")) {
            (Some((id, secret)), None, None) => (id.clone(), secret.clone()),
            (None, Some(id), Some(secret)) => (id.clone(), secret.clone()),
            _ => return error(StatusCode::UNAUTHORIZED, "invalid_client"),
        };
        let known = self
            .clients
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .get(&id)
            .is_some_and(|s| *s == secret);
        if !known {
            return error(StatusCode::UNAUTHORIZED, "invalid_client");
        }
        let Some(token) = form.get("token") else {
            return error(StatusCode::BAD_REQUEST, "invalid_request");
        };
        let claims = self
            .tokens
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .get(token)
            .cloned();
        let now = time::OffsetDateTime::now_utc().unix_timestamp();
        match claims {
            Some(claims)
                if claims
                    .get("exp")
                    .and_then(Value::as_i64)
                    .is_none_or(|exp| exp > now) =>
            {
                let mut answer = claims;
                answer.insert("active".into(), true.into());
                answer.insert("token_type".into(), "Bearer".into());
                json_response(StatusCode::OK, &Value::Object(answer))
            }
            _ => json_response(StatusCode::OK, &json!({ "active": false })),
        }
    }
}

fn error(status: StatusCode, code: &str) -> Response<Body> {
    json_response(status, &json!({ "error": code }))
}
