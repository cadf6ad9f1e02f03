//! The development issuer's token endpoint (RFC 6749 §4.4, client
//! credentials): clients registered with a secret (`client_secret_basic`,
//! `client_secret_post`) or a JWKS (`private_key_jwt`, RFC 7523 §2.2: the
//! assertion is verified with edge-auth's own `Validator`, `iss` = `sub` =
//! client id, `aud` = this endpoint, `jti` never seen before). Tokens are
//! RS256 JWTs from the issuer's current key. A switch makes it answer badly
//! (HTML, 500, odd `expires_in`, no `access_token`) for the client's tests.
//! A token request with a `DPoP` proof (RFC 9449 §5, checked with
//! edge-auth's `dpop::verify_proof`) gets a DPoP-bound token: `cnf.jkt` is
//! the proof key's thumbprint and `token_type` is `DPoP`. A form parameter
//! `x5t_s256` (a certificate's base64url SHA-256 thumbprint, as
//! `edge_auth::mtls::ClientCert::thumbprint` gives) gets a certificate-bound
//! token (RFC 8705 §3: `cnf.x5t#S256`); a real authorization server takes it
//! from its own mutual-TLS connection, this development one is told. With
//! `token_format=opaque` the token is opaque, for the introspection
//! endpoint (`introspection.rs`) to answer about.

use std::collections::{HashMap, HashSet};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Mutex, PoisonError};

use edge_auth::jwk::{KeySet, KeySetOptions};
use edge_auth::jwt::{Validation, Validator};
use http::{HeaderValue, Method, Request, Response, StatusCode, header};
use http_body_util::{BodyExt, Limited};
use hyper::body::Incoming;
use serde_json::{Map, Value, json};
use url::form_urlencoded;

use super::client_auth::basic_credentials;
use super::net::{Body, full, json_response, text_response};

/// The `client_assertion_type` of a JWT client assertion.
const JWT_BEARER: &str = "urn:ietf:params:oauth:client-assertion-type:jwt-bearer";

/// How the endpoint answers a well-formed, authenticated request.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum TokenMode {
    /// A token with `expires_in` = the configured lifetime.
    Normal,
    /// 200 with an HTML page.
    Html,
    /// 500 with an HTML page.
    ServerError,
    /// A token with this `expires_in` (0, negative, huge).
    ExpiresIn(i64),
    /// 200 with a JSON object lacking `access_token`.
    NoAccessToken,
}

enum Registered {
    Secret(String),
    Jwks(Box<KeySet>),
}

/// The token endpoint's state: registered clients, seen `jti`s, counters.
pub struct TokenEndpoint {
    clients: Mutex<HashMap<String, Registered>>,
    seen_jti: Mutex<HashSet<String>>,
    mode: Mutex<TokenMode>,
    lifetime: AtomicU64,
    requests: AtomicU64,
    issued: AtomicU64,
    /// `jti`s of the DPoP proofs seen.
    dpop_replay: Mutex<edge_auth::httpsig::MemoryReplayGuard>,
}

impl std::fmt::Debug for TokenEndpoint {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("TokenEndpoint")
            .field("requests", &self.requests())
            .finish_non_exhaustive()
    }
}

impl Default for TokenEndpoint {
    fn default() -> Self {
        Self {
            clients: Mutex::default(),
            seen_jti: Mutex::default(),
            mode: Mutex::new(TokenMode::Normal),
            lifetime: AtomicU64::new(3600),
            requests: AtomicU64::new(0),
            issued: AtomicU64::new(0),
            dpop_replay: Mutex::new(edge_auth::httpsig::MemoryReplayGuard::with_capacity(10_000)),
        }
    }
}

impl TokenEndpoint {
    /// Registers a client that authenticates with `secret`.
    pub fn register_secret(&self, client_id: &str, secret: &str) {
        self.lock_clients()
            .insert(client_id.to_owned(), Registered::Secret(secret.to_owned()));
    }

    /// Registers a client that authenticates with assertions signed by a
    /// key in `jwks` (`private_key_jwt`).
    ///
    /// # Errors
    /// When `jwks` is not a usable key set.
    pub fn register_jwks(&self, client_id: &str, jwks: &Value) -> Result<(), String> {
        let keys = KeySet::from_jwks(jwks.to_string().as_bytes(), &KeySetOptions::default())
            .map_err(|e| e.to_string())?;
        self.lock_clients()
            .insert(client_id.to_owned(), Registered::Jwks(Box::new(keys)));
        Ok(())
    }

    /// Sets how authenticated requests are answered.
    pub fn set_mode(&self, mode: TokenMode) {
        *self.mode.lock().unwrap_or_else(PoisonError::into_inner) = mode;
    }

    /// Sets the `expires_in` of tokens in [`TokenMode::Normal`] (seconds).
    pub fn set_lifetime(&self, seconds: u64) {
        self.lifetime.store(seconds, Ordering::SeqCst);
    }

    /// Token requests received (answered or not).
    pub fn requests(&self) -> u64 {
        self.requests.load(Ordering::SeqCst)
    }

    /// Tokens issued.
    pub fn issued(&self) -> u64 {
        self.issued.load(Ordering::SeqCst)
    }

    fn lock_clients(&self) -> std::sync::MutexGuard<'_, HashMap<String, Registered>> {
        self.clients.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// Answers `POST {url}`: `url` is this endpoint's URL (the audience of
    /// assertions), `issuer` the `iss` of tokens, `sign` signs their claims.
    pub async fn handle(
        &self,
        url: &str,
        issuer: &str,
        sign: impl Fn(&Map<String, Value>) -> String,
        opaque: impl Fn(&Map<String, Value>) -> String,
        request: Request<Incoming>,
    ) -> Response<Body> {
        self.requests.fetch_add(1, Ordering::SeqCst);
        if request.method() != Method::POST {
            return text_response(StatusCode::METHOD_NOT_ALLOWED, "only POST here");
        }
        let (parts, body) = request.into_parts();
        let Ok(body) = Limited::new(body, 64 * 1024).collect().await else {
            return oauth_error(StatusCode::BAD_REQUEST, "invalid_request", "body too large");
        };
        let form: Vec<(String, String)> = form_urlencoded::parse(&body.to_bytes())
            .into_owned()
            .collect();
        let one = |name: &str| {
            let mut values = form
                .iter()
                .filter(|(k, _)| k == name)
                .map(|(_, v)| v.as_str());
            match (values.next(), values.next()) {
                (Some(v), None) => Ok(Some(v)),
                (None, _) => Ok(None),
                (Some(_), Some(_)) => Err(format!("`{name}` given more than once")),
            }
        };
        let params = (|| {
            Ok::<_, String>((
                one("grant_type")?,
                one("client_id")?,
                one("client_secret")?,
                one("client_assertion_type")?,
                one("client_assertion")?,
                one("scope")?,
                one("x5t_s256")?,
                one("token_format")?,
            ))
        })();
        let (grant_type, body_id, body_secret, assertion_type, assertion, scope, x5t, format) =
            match params {
                Ok(p) => p,
                Err(e) => return oauth_error(StatusCode::BAD_REQUEST, "invalid_request", &e),
            };
        if grant_type != Some("client_credentials") {
            return oauth_error(
                StatusCode::BAD_REQUEST,
                "unsupported_grant_type",
                "only client_credentials",
            );
        }
        let basic = basic_credentials(&parts.headers);
        let methods = usize::from(basic.is_some())
            + usize::from(body_secret.is_some())
            + usize::from(assertion.is_some());
        if methods != 1 {
            return oauth_error(
                StatusCode::BAD_REQUEST,
                "invalid_request",
                "exactly one client authentication method is required",
            );
        }
        let client_id = if let Some((id, secret)) = &basic {
            if body_id.is_some_and(|b| b != id) || !self.secret_matches(id, secret) {
                return invalid_client(true);
            }
            id.clone()
        } else if let Some(secret) = body_secret {
            let Some(id) = body_id else {
                return invalid_client(false);
            };
            if !self.secret_matches(id, secret) {
                return invalid_client(false);
            }
            id.to_owned()
        } else {
            if assertion_type != Some(JWT_BEARER) {
                return oauth_error(
                    StatusCode::BAD_REQUEST,
                    "invalid_request",
                    "client_assertion_type must be jwt-bearer",
                );
            }
            match self.verify_assertion(body_id, assertion.unwrap_or_default(), url) {
                Ok(id) => id,
                Err(reason) => {
                    return oauth_error(StatusCode::UNAUTHORIZED, "invalid_client", &reason);
                }
            }
        };
        let jkt = match parts.headers.get("dpop").map(|v| v.to_str()) {
            None => None,
            Some(Err(_)) => {
                return oauth_error(StatusCode::BAD_REQUEST, "invalid_dpop_proof", "not ascii");
            }
            Some(Ok(proof)) => {
                let request = edge_auth::dpop::ProofRequest::new(&Method::POST, url);
                let mut replay = self
                    .dpop_replay
                    .lock()
                    .unwrap_or_else(PoisonError::into_inner);
                match edge_auth::dpop::verify_proof(
                    proof,
                    &edge_auth::dpop::DpopConfig::default(),
                    &request,
                    &mut *replay,
                    time::OffsetDateTime::now_utc(),
                ) {
                    Ok(verified) => Some(verified.jkt().to_owned()),
                    Err(e) => {
                        return oauth_error(
                            StatusCode::BAD_REQUEST,
                            "invalid_dpop_proof",
                            &e.to_string(),
                        );
                    }
                }
            }
        };
        // A SHA-256 thumbprint: 43 base64url characters.
        if let Some(x5t) = x5t
            && (x5t.len() != 43
                || !x5t
                    .bytes()
                    .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_'))
        {
            return oauth_error(
                StatusCode::BAD_REQUEST,
                "invalid_request",
                "`x5t_s256` is not a base64url sha-256 thumbprint",
            );
        }
        // `token_format=opaque`: an opaque token, checked by introspection.
        if format == Some("opaque") {
            return self.answer(&client_id, scope, issuer, (jkt, x5t), opaque);
        }
        self.answer(&client_id, scope, issuer, (jkt, x5t), sign)
    }

    fn secret_matches(&self, client_id: &str, secret: &str) -> bool {
        matches!(self.lock_clients().get(client_id), Some(Registered::Secret(s)) if s == secret)
    }

    /// RFC 7523 §3: signature by a registered key, `iss` = `sub` = the
    /// client, `aud` = this endpoint, `exp` required, `jti` unique.
    fn verify_assertion(
        &self,
        body_id: Option<&str>,
        assertion: &str,
        url: &str,
    ) -> Result<String, String> {
        let unverified_iss = edge_auth::jwt::inspect(assertion, 16 * 1024)
            .ok()
            .and_then(|i| i.issuer)
            .ok_or_else(|| "assertion is not a jwt with `iss`".to_owned())?;
        let client_id = body_id.unwrap_or(&unverified_iss).to_owned();
        let clients = self.lock_clients();
        let Some(Registered::Jwks(keys)) = clients.get(&client_id) else {
            return Err(format!("client `{client_id}` has no registered keys"));
        };
        let mut validation = Validation::default();
        validation.issuers = vec![client_id.clone()];
        validation.audiences = vec![url.to_owned()];
        validation.required_claims = vec!["exp".into(), "sub".into(), "jti".into()];
        let claims = Validator::new(validation)
            .validate::<Value>(assertion, keys, time::OffsetDateTime::now_utc())
            .map_err(|e| format!("assertion refused: {e}"))?;
        drop(clients);
        let raw = claims.raw();
        if raw.get("sub").and_then(Value::as_str) != Some(client_id.as_str()) {
            return Err("assertion `sub` is not the client id".into());
        }
        let jti = raw
            .get("jti")
            .and_then(Value::as_str)
            .ok_or_else(|| "assertion `jti` is not a string".to_owned())?;
        if !self
            .seen_jti
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .insert(jti.to_owned())
        {
            return Err("assertion `jti` was used before".into());
        }
        Ok(client_id)
    }

    fn answer(
        &self,
        client_id: &str,
        scope: Option<&str>,
        issuer: &str,
        (jkt, x5t): (Option<String>, Option<&str>),
        sign: impl Fn(&Map<String, Value>) -> String,
    ) -> Response<Body> {
        let mode = self
            .mode
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .clone();
        let lifetime = match mode {
            TokenMode::Html => return html(StatusCode::OK),
            TokenMode::ServerError => return html(StatusCode::INTERNAL_SERVER_ERROR),
            TokenMode::NoAccessToken => {
                return json_response(
                    StatusCode::OK,
                    &json!({ "token_type": "Bearer", "expires_in": 3600 }),
                );
            }
            TokenMode::ExpiresIn(s) => s,
            TokenMode::Normal => {
                i64::try_from(self.lifetime.load(Ordering::SeqCst)).unwrap_or(i64::MAX)
            }
        };
        let now = time::OffsetDateTime::now_utc().unix_timestamp();
        let n = self.issued.fetch_add(1, Ordering::SeqCst);
        let mut claims = Map::new();
        claims.insert("iss".into(), issuer.into());
        claims.insert("sub".into(), client_id.into());
        claims.insert("client_id".into(), client_id.into());
        claims.insert("aud".into(), scope.unwrap_or(issuer).into());
        claims.insert("iat".into(), now.into());
        claims.insert(
            "exp".into(),
            now.saturating_add(lifetime.clamp(-1, 86_400)).into(),
        );
        claims.insert("jti".into(), format!("dev-token-{n}").into());
        let token_type = if jkt.is_some() { "DPoP" } else { "Bearer" };
        let mut cnf = Map::new();
        if let Some(jkt) = jkt {
            cnf.insert("jkt".into(), jkt.into());
        }
        if let Some(x5t) = x5t {
            cnf.insert("x5t#S256".into(), x5t.into());
        }
        if !cnf.is_empty() {
            claims.insert("cnf".into(), cnf.into());
        }
        let mut body = json!({
            "access_token": sign(&claims),
            "token_type": token_type,
            "expires_in": lifetime,
        });
        if let (Some(scope), Value::Object(map)) = (scope, &mut body) {
            map.insert("scope".into(), scope.into());
        }
        let mut response = json_response(StatusCode::OK, &body);
        response
            .headers_mut()
            .insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
        response
    }
}

fn oauth_error(status: StatusCode, code: &str, description: &str) -> Response<Body> {
    json_response(
        status,
        &json!({ "error": code, "error_description": description }),
    )
}

fn invalid_client(basic: bool) -> Response<Body> {
    let mut response = oauth_error(
        StatusCode::UNAUTHORIZED,
        "invalid_client",
        "client authentication failed",
    );
    if basic {
        response.headers_mut().insert(
            header::WWW_AUTHENTICATE,
            HeaderValue::from_static("Basic realm=\"dev-issuer\""),
        );
    }
    response
}

fn html(status: StatusCode) -> Response<Body> {
    let mut response = Response::new(full("<html><body>Something went wrong</body></html>"));
    *response.status_mut() = status;
    response
        .headers_mut()
        .insert(header::CONTENT_TYPE, HeaderValue::from_static("text/html"));
    response
}
