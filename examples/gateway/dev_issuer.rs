//! A development OpenID provider on loopback: an RSA 2048 key made at start
//! (aws-lc-rs; ring cannot generate RSA), its OIDC discovery document
//! (OpenID Connect Discovery 1.0 §4) and JWKS (RFC 7517), RS256 tokens (RFC 7519)
//! on demand, key rotation, an outage switch and a count of JWKS requests, so
//! the test can see how hard the gateway leans on it. Opaque tokens and
//! their introspection endpoint (RFC 7662) are in `introspection.rs`.

use std::net::SocketAddr;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex, PoisonError};

use aws_lc_rs::rand::SystemRandom;
use aws_lc_rs::rsa::{KeySize, PublicKeyComponents};
use aws_lc_rs::signature::{KeyPair, RSA_PKCS1_SHA256, RsaKeyPair};
use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use http::{HeaderValue, Method, Request, Response, StatusCode, header};
use hyper::body::Incoming;
use serde_json::{Map, Value, json};

use super::net::{Body, ServerHandle, json_response, serve, text_response};

/// How long clients may cache the JWKS (`Cache-Control: max-age`), seconds.
pub const JWKS_MAX_AGE: u64 = 300;

/// A running development issuer.
#[derive(Debug)]
pub struct DevIssuer {
    state: Arc<State>,
    server: ServerHandle,
}

struct SigningKey {
    kid: String,
    pair: RsaKeyPair,
    jwk: Value,
}

impl std::fmt::Debug for SigningKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SigningKey")
            .field("kid", &self.kid)
            .field("private", &"** redacted **")
            .finish()
    }
}

#[derive(Debug)]
struct State {
    issuer: String,
    audience: String,
    /// Published keys, oldest first; the last one signs new tokens. Two at most:
    /// after a rotation the previous key stays published so tokens it signed
    /// keep verifying until they expire.
    keys: Mutex<Vec<SigningKey>>,
    jwks_requests: AtomicU64,
    discovery_requests: AtomicU64,
    down: AtomicBool,
    hanging: AtomicBool,
    /// `POST /token` (client credentials).
    token: super::token_endpoint::TokenEndpoint,
    /// `POST /introspect` (RFC 7662) for the opaque tokens it mints.
    introspection: super::introspection::Introspection,
}

impl State {
    fn keys(&self) -> std::sync::MutexGuard<'_, Vec<SigningKey>> {
        self.keys.lock().unwrap_or_else(PoisonError::into_inner)
    }
}

/// Starts a development issuer on `addr` (loopback; port 0 picks one) whose
/// tokens carry `aud: audience`. The issuer URL is `http://{bound addr}`.
///
/// # Errors
/// When the address cannot be bound or the key cannot be generated.
pub async fn start_dev_issuer(addr: SocketAddr, audience: &str) -> std::io::Result<DevIssuer> {
    // Bind first: the issuer URL needs the real port.
    let slot: Arc<std::sync::OnceLock<Arc<State>>> = Arc::default();
    let handler_slot = Arc::clone(&slot);
    let server = serve(addr, move |request, _peer| {
        let state = handler_slot.get().cloned();
        async move {
            match state {
                Some(state) => {
                    if request.uri().path() == "/token" {
                        let url = format!("{}/token", state.issuer);
                        let sign =
                            |claims: &Map<String, Value>| sign_claims(&state, claims, None, None);
                        let opaque = |claims: &Map<String, Value>| state.introspection.mint(claims);
                        return state
                            .token
                            .handle(&url, &state.issuer, sign, opaque, request)
                            .await;
                    }
                    if request.uri().path() == "/introspect" {
                        return state.introspection.handle(request).await;
                    }
                    if state.hanging.load(Ordering::SeqCst) {
                        // Count it, then never answer in any useful time.
                        let response = handle(&state, &request);
                        tokio::time::sleep(std::time::Duration::from_secs(120)).await;
                        return response;
                    }
                    handle(&state, &request)
                }
                None => text_response(StatusCode::SERVICE_UNAVAILABLE, "starting"),
            }
        }
    })
    .await?;
    let key = tokio::task::spawn_blocking(generate_key)
        .await
        .map_err(std::io::Error::other)??;
    let state = Arc::new(State {
        issuer: format!("http://{}", server.addr()),
        audience: audience.to_owned(),
        keys: Mutex::new(vec![key]),
        jwks_requests: AtomicU64::new(0),
        discovery_requests: AtomicU64::new(0),
        down: AtomicBool::new(false),
        hanging: AtomicBool::new(false),
        token: super::token_endpoint::TokenEndpoint::default(),
        introspection: super::introspection::Introspection::default(),
    });
    let _ = slot.set(Arc::clone(&state));
    Ok(DevIssuer { state, server })
}

fn generate_key() -> std::io::Result<SigningKey> {
    let pair = RsaKeyPair::generate(KeySize::Rsa2048)
        .map_err(|_| std::io::Error::other("RSA 2048 key generation failed"))?;
    let public = PublicKeyComponents::<Vec<u8>>::from(pair.public_key());
    let n = URL_SAFE_NO_PAD.encode(&public.n);
    let e = URL_SAFE_NO_PAD.encode(&public.e);
    // RFC 7638 thumbprint as the kid: members in lexicographic order, no spaces.
    let canonical = format!(r#"{{"e":"{e}","kty":"RSA","n":"{n}"}}"#);
    let kid = URL_SAFE_NO_PAD.encode(aws_lc_rs::digest::digest(
        &aws_lc_rs::digest::SHA256,
        canonical.as_bytes(),
    ));
    let jwk = json!({ "kty": "RSA", "use": "sig", "alg": "RS256", "kid": kid, "n": n, "e": e });
    Ok(SigningKey { kid, pair, jwk })
}

fn handle(state: &State, request: &Request<Incoming>) -> Response<Body> {
    if request.method() != Method::GET {
        return text_response(StatusCode::METHOD_NOT_ALLOWED, "only GET here");
    }
    match request.uri().path() {
        "/.well-known/openid-configuration" => {
            state.discovery_requests.fetch_add(1, Ordering::SeqCst);
            if state.down.load(Ordering::SeqCst) {
                return text_response(StatusCode::SERVICE_UNAVAILABLE, "issuer is down");
            }
            let issuer = &state.issuer;
            json_response(
                StatusCode::OK,
                &json!({
                    "issuer": issuer,
                    "jwks_uri": format!("{issuer}/jwks"),
                    "authorization_endpoint": format!("{issuer}/authorize"),
                    "token_endpoint": format!("{issuer}/token"),
                    "introspection_endpoint": format!("{issuer}/introspect"),
                    "response_types_supported": ["code"],
                    "subject_types_supported": ["public"],
                    "id_token_signing_alg_values_supported": ["RS256"],
                }),
            )
        }
        "/jwks" => {
            state.jwks_requests.fetch_add(1, Ordering::SeqCst);
            if state.down.load(Ordering::SeqCst) {
                return text_response(StatusCode::SERVICE_UNAVAILABLE, "issuer is down");
            }
            let keys: Vec<Value> = state.keys().iter().map(|k| k.jwk.clone()).collect();
            let mut response = json_response(StatusCode::OK, &json!({ "keys": keys }));
            response.headers_mut().insert(
                header::CACHE_CONTROL,
                HeaderValue::from_str(&format!("public, max-age={JWKS_MAX_AGE}"))
                    .unwrap_or(HeaderValue::from_static("no-store")),
            );
            response
        }
        _ => text_response(StatusCode::NOT_FOUND, "not found"),
    }
}

impl DevIssuer {
    /// The issuer identifier (`iss`), `http://127.0.0.1:PORT`.
    pub fn issuer(&self) -> &str {
        &self.state.issuer
    }

    /// The audience its tokens carry.
    pub fn audience(&self) -> &str {
        &self.state.audience
    }

    /// The bound address.
    pub fn addr(&self) -> SocketAddr {
        self.server.addr()
    }

    /// The JWKS URL.
    pub fn jwks_uri(&self) -> String {
        format!("{}/jwks", self.state.issuer)
    }

    /// The kid of the key that signs new tokens.
    pub fn current_kid(&self) -> String {
        self.state
            .keys()
            .last()
            .map(|k| k.kid.clone())
            .unwrap_or_default()
    }

    /// The standard claims for a token issued `now` to `subject` with `roles`,
    /// valid for `lifetime`.
    pub fn claims(
        &self,
        subject: &str,
        roles: &[&str],
        now: time::OffsetDateTime,
        lifetime: time::Duration,
    ) -> Map<String, Value> {
        let iat = now.unix_timestamp();
        let exp = (now + lifetime).unix_timestamp();
        let value = json!({
            "iss": self.state.issuer,
            "aud": self.state.audience,
            "sub": subject,
            "roles": roles,
            "iat": iat,
            "nbf": iat,
            "exp": exp,
        });
        match value {
            Value::Object(map) => map,
            _ => Map::new(),
        }
    }

    /// An RS256 token for `subject` with `roles`, signed by the current key.
    pub fn mint(
        &self,
        subject: &str,
        roles: &[&str],
        now: time::OffsetDateTime,
        lifetime: time::Duration,
    ) -> String {
        let claims = self.claims(subject, roles, now, lifetime);
        self.sign(&claims, None, None)
    }

    /// Signs `claims` with the key `signing_kid` (default: the current key),
    /// putting `header_kid` (default: the signing key's kid) in the header, so a
    /// test can make tokens that name keys the issuer never published.
    /// Returns an empty string when `signing_kid` is not a published key.
    pub fn sign(
        &self,
        claims: &Map<String, Value>,
        signing_kid: Option<&str>,
        header_kid: Option<&str>,
    ) -> String {
        sign_claims(&self.state, claims, signing_kid, header_kid)
    }

    /// The token endpoint (`POST {issuer}/token`): register clients, switch
    /// its answers, count its requests.
    pub fn token_endpoint(&self) -> &super::token_endpoint::TokenEndpoint {
        &self.state.token
    }

    /// The introspection endpoint (`POST {issuer}/introspect`): register
    /// its clients, mint and revoke opaque tokens, count its requests.
    pub fn introspection(&self) -> &super::introspection::Introspection {
        &self.state.introspection
    }

    /// The introspection endpoint's URL.
    pub fn introspection_url(&self) -> String {
        format!("{}/introspect", self.state.issuer)
    }

    /// The token endpoint's URL.
    pub fn token_endpoint_url(&self) -> String {
        format!("{}/token", self.state.issuer)
    }

    /// Registers the gateway as a client of the token endpoint (its public
    /// key, or its secret) and points it here when it names no endpoint.
    ///
    /// # Errors
    /// When the key cannot be registered.
    pub fn register_gateway(
        &self,
        token: &mut super::upstream_auth::UpstreamToken,
    ) -> Result<(), super::flags::Failure> {
        if token.token_endpoint.is_empty() {
            token.token_endpoint = self.token_endpoint_url();
        }
        match &token.auth {
            super::upstream_auth::TokenAuth::PrivateKeyJwt(key) => {
                let jwks = json!({ "keys": [key.public_jwk()] });
                self.state.token.register_jwks(&token.client_id, &jwks)?;
            }
            super::upstream_auth::TokenAuth::ClientSecret(secret) => {
                self.state
                    .token
                    .register_secret(&token.client_id, secret.expose());
            }
        }
        Ok(())
    }
}

fn sign_claims(
    state: &State,
    claims: &Map<String, Value>,
    signing_kid: Option<&str>,
    header_kid: Option<&str>,
) -> String {
    {
        let keys = state.keys();
        let key = match signing_kid {
            Some(kid) => keys.iter().find(|k| k.kid == kid),
            None => keys.last(),
        };
        let Some(key) = key else {
            return String::new();
        };
        let header = json!({ "alg": "RS256", "typ": "JWT", "kid": header_kid.unwrap_or(&key.kid) });
        let signing_input = format!(
            "{}.{}",
            URL_SAFE_NO_PAD.encode(header.to_string()),
            URL_SAFE_NO_PAD.encode(Value::Object(claims.clone()).to_string())
        );
        let mut signature = vec![0; key.pair.public_modulus_len()];
        if key
            .pair
            .sign(
                &RSA_PKCS1_SHA256,
                &SystemRandom::new(),
                signing_input.as_bytes(),
                &mut signature,
            )
            .is_err()
        {
            return String::new();
        }
        format!("{signing_input}.{}", URL_SAFE_NO_PAD.encode(signature))
    }
}

impl DevIssuer {
    /// Rotates: a new key signs from now on; the previous one stays published
    /// (older ones are retired). Returns the new kid.
    ///
    /// # Errors
    /// When key generation fails.
    pub fn rotate(&self) -> std::io::Result<String> {
        let key = generate_key()?;
        let kid = key.kid.clone();
        let mut keys = self.state.keys();
        keys.push(key);
        let excess = keys.len().saturating_sub(2);
        keys.drain(..excess);
        Ok(kid)
    }

    /// Simulates an outage: while down, discovery and JWKS answer 503.
    pub fn set_down(&self, down: bool) {
        self.state.down.store(down, Ordering::SeqCst);
    }

    /// Simulates a stalled provider: requests are accepted (and counted) but
    /// answered only after two minutes.
    pub fn set_hanging(&self, hanging: bool) {
        self.state.hanging.store(hanging, Ordering::SeqCst);
    }

    /// Simulates a crash: stops listening and drops every connection, so
    /// fetches fail with a connection error. Tokens can still be minted.
    pub fn stop(&self) {
        self.server.stop();
    }

    /// JWKS requests received so far (answered or not).
    pub fn jwks_requests(&self) -> u64 {
        self.state.jwks_requests.load(Ordering::SeqCst)
    }

    /// Discovery requests received so far.
    pub fn discovery_requests(&self) -> u64 {
        self.state.discovery_requests.load(Ordering::SeqCst)
    }
}
