//! Inbound RFC 9421 signatures in the Worker (issue 17): [`SignedRequests`]
//! verifies a request's signature with one configured key (`hmac-sha256`
//! or `ed25519`, from a Worker secret), the required covered components and
//! the `created` / `expires` window (RFC 9421 §3.2), then checks its
//! `nonce` in Durable Objects (`durable::check_nonce`, one object per nonce
//! shard), so a nonce one isolate accepted is refused by every other
//! (RFC 9421 §7.2.2).
//!
//! The configuration, the verification and the refusal
//! ([`signature_rejection`]) are runtime-independent and tested natively;
//! `verify_signed`, which reads the clock and the body and asks the
//! objects, exists on `wasm32` only.
//!
//! A Worker that accepts only signed requests (the object class is the same
//! `serve_object` wiring as the rate-limit one):
//!
//! ```ignore
//! use edge_auth::driver::worker::{SignedRequests, verify_signed};
//!
//! #[event(fetch)]
//! async fn fetch(req: HttpRequest, env: Env, _ctx: Context) -> worker::Result<Response> {
//!     // Build once per isolate in a real Worker.
//!     let Ok(Some(signed)) = SignedRequests::from_env(&env) else {
//!         return Response::error("misconfigured", 500);
//!     };
//!     match verify_signed(req, &env, &signed).await {
//!         Ok(request) => Response::ok(format!("signed by {}", request.verified.keyid)),
//!         Err(refusal) => Ok(refusal),
//!     }
//! }
//! ```

use base64::Engine as _;
use base64::engine::general_purpose::{STANDARD, STANDARD_NO_PAD, URL_SAFE, URL_SAFE_NO_PAD};
use http::header::{CACHE_CONTROL, CONTENT_TYPE};
use http::{HeaderValue, StatusCode};
use time::OffsetDateTime;

use super::WorkerError;
use crate::Secret;
use crate::httpsig::{
    Algorithm, Component, HttpSigError, KeyRing, Verified, Verifier, VerifierConfig, VerifyingKey,
};

/// The verification key of inbound signatures (a secret): for
/// `hmac-sha256` the key's bytes as written (at least 32); for `ed25519`
/// the public key, base64 of its 32 bytes or a PEM `PUBLIC KEY`. Unset:
/// inbound signatures are not checked.
pub const HTTPSIG_KEY_VAR: &str = "EDGE_AUTH_HTTPSIG_KEY";
/// The `keyid` signatures must name (required with [`HTTPSIG_KEY_VAR`]).
pub const HTTPSIG_KEY_ID_VAR: &str = "EDGE_AUTH_HTTPSIG_KEY_ID";
/// The key's algorithm: `hmac-sha256` (default) or `ed25519`.
pub const HTTPSIG_ALG_VAR: &str = "EDGE_AUTH_HTTPSIG_ALG";
/// The components a signature must cover, separated by spaces or commas,
/// as names (`@method`) or identifiers (`"x-tenant";sf`). Default:
/// `@method @authority @path` (and the query when there is one,
/// `content-digest` when there is a body).
pub const HTTPSIG_COMPONENTS_VAR: &str = "EDGE_AUTH_HTTPSIG_COMPONENTS";
/// Seconds a signature is accepted after its `created` (plus 60 s of
/// skew). Default: 300.
pub const HTTPSIG_MAX_AGE_VAR: &str = "EDGE_AUTH_HTTPSIG_MAX_AGE";
/// `1` requires the `expires` parameter (default: honoured when present).
pub const HTTPSIG_REQUIRE_EXPIRES_VAR: &str = "EDGE_AUTH_HTTPSIG_REQUIRE_EXPIRES";
/// `0` accepts signatures without a `nonce` (default `1`: required). A
/// nonce that is present is always checked for replay.
pub const HTTPSIG_REQUIRE_NONCE_VAR: &str = "EDGE_AUTH_HTTPSIG_REQUIRE_NONCE";
/// The Durable Object namespace binding that keeps nonces (required with
/// [`HTTPSIG_KEY_VAR`]: a nonce kept in one isolate's memory would be
/// accepted again by the next).
pub const NONCES_DO_VAR: &str = "EDGE_AUTH_NONCES_DO";
/// The largest body read to check its `content-digest`, in bytes.
pub const DEFAULT_MAX_SIGNED_BODY_BYTES: usize = 1024 * 1024;
/// The default maximum age of a signature, in seconds.
pub const DEFAULT_HTTPSIG_MAX_AGE_SECS: i64 = 300;
/// Largest accepted [`HTTPSIG_MAX_AGE_VAR`] (a day): the nonce objects
/// remember each nonce this long.
const MAX_HTTPSIG_MAX_AGE_SECS: i64 = 86_400;

/// How a Worker verifies inbound RFC 9421 signatures: the verifier, its
/// one key and the Durable Object namespace of the nonces.
#[derive(Debug)]
#[non_exhaustive]
pub struct SignedRequests {
    verifier: Verifier,
    config: VerifierConfig,
    keys: KeyRing,
    nonces_binding: String,
    /// The largest body read to check its `content-digest`
    /// ([`DEFAULT_MAX_SIGNED_BODY_BYTES`]); a larger one is refused (413).
    pub max_body_bytes: usize,
}

impl SignedRequests {
    /// Signatures verified under `config` with `key` named `keyid`, nonces
    /// kept in the Durable Object namespace `nonces_binding`.
    ///
    /// # Errors
    /// [`WorkerError::Invalid`] when the configured label is not a
    /// structured-field key.
    pub fn new(
        keyid: &str,
        key: VerifyingKey,
        config: VerifierConfig,
        nonces_binding: impl Into<String>,
    ) -> Result<Self, WorkerError> {
        let verifier = Verifier::new(config.clone()).map_err(|e| WorkerError::Invalid {
            var: HTTPSIG_COMPONENTS_VAR,
            reason: e.to_string(),
        })?;
        let mut keys = KeyRing::new();
        keys.insert(keyid, key);
        Ok(Self {
            verifier,
            config,
            keys,
            nonces_binding: nonces_binding.into(),
            max_body_bytes: DEFAULT_MAX_SIGNED_BODY_BYTES,
        })
    }

    /// Reads the settings through `var` (a variable's or secret's value,
    /// `None` when unbound): `None` without [`HTTPSIG_KEY_VAR`].
    ///
    /// # Errors
    /// [`WorkerError::Missing`] for a key without [`HTTPSIG_KEY_ID_VAR`] or
    /// [`NONCES_DO_VAR`]; [`WorkerError::Invalid`] naming the variable whose
    /// value is refused (algorithm, key, component, age, flag).
    pub fn from_vars(var: impl Fn(&str) -> Option<String>) -> Result<Option<Self>, WorkerError> {
        let get = |name: &str| {
            var(name)
                .map(|v| v.trim().to_owned())
                .filter(|v| !v.is_empty())
        };
        // The key is used as written: trimming could change a secret.
        let Some(key_text) = var(HTTPSIG_KEY_VAR).filter(|k| !k.trim().is_empty()) else {
            return Ok(None);
        };
        let keyid = get(HTTPSIG_KEY_ID_VAR).ok_or(WorkerError::Missing {
            var: HTTPSIG_KEY_ID_VAR,
        })?;
        let binding = get(NONCES_DO_VAR).ok_or(WorkerError::Missing { var: NONCES_DO_VAR })?;
        let key = parse_key(get(HTTPSIG_ALG_VAR).as_deref(), key_text)?;
        let mut config = VerifierConfig::default();
        if let Some(list) = get(HTTPSIG_COMPONENTS_VAR) {
            config.required_components = parse_components(&list)?;
        }
        if let Some(age) = get(HTTPSIG_MAX_AGE_VAR) {
            let secs = age
                .parse::<i64>()
                .ok()
                .filter(|s| (1..=MAX_HTTPSIG_MAX_AGE_SECS).contains(s))
                .ok_or_else(|| WorkerError::Invalid {
                    var: HTTPSIG_MAX_AGE_VAR,
                    reason: format!(
                        "`{age}` is not a number of seconds from 1 to {MAX_HTTPSIG_MAX_AGE_SECS}"
                    ),
                })?;
            config.max_age = Some(time::Duration::seconds(secs));
        }
        config.require_expires = flag(
            get(HTTPSIG_REQUIRE_EXPIRES_VAR),
            false,
            HTTPSIG_REQUIRE_EXPIRES_VAR,
        )?;
        config.require_nonce = flag(
            get(HTTPSIG_REQUIRE_NONCE_VAR),
            true,
            HTTPSIG_REQUIRE_NONCE_VAR,
        )?;
        Self::new(&keyid, key, config, binding).map(Some)
    }

    /// Reads the settings from a Worker's variables and secrets.
    ///
    /// # Errors
    /// As [`from_vars`](Self::from_vars).
    #[cfg(target_arch = "wasm32")]
    pub fn from_env(env: &worker::Env) -> Result<Option<Self>, WorkerError> {
        Self::from_vars(|name| {
            env.var(name)
                .ok()
                .map(|v| v.to_string())
                .or_else(|| env.secret(name).ok().map(|v| v.to_string()))
        })
    }

    /// The same, reading bodies of at most `max` bytes.
    pub fn with_max_body_bytes(mut self, max: usize) -> Self {
        self.max_body_bytes = max;
        self
    }

    /// The Durable Object namespace binding that keeps nonces.
    pub fn nonces_binding(&self) -> &str {
        &self.nonces_binding
    }

    /// The verification policy.
    pub fn config(&self) -> &VerifierConfig {
        &self.config
    }

    /// Verifies `request`'s signature over `body` at `now`, without the
    /// replay check: on success, a nonce must still go to the objects
    /// until [`replay_until`](Self::replay_until) (`verify_signed` does).
    ///
    /// # Errors
    /// Why the signature is refused ([`HttpSigError`]).
    pub fn verify<'r>(
        &self,
        request: &'r http::request::Parts,
        body: &[u8],
        now: OffsetDateTime,
    ) -> Result<Verified<'r>, HttpSigError> {
        self.verifier.verify(request, body, &self.keys, None, now)
    }

    /// Until when the nonce of `verified` must be refused.
    ///
    /// # Errors
    /// [`HttpSigError::ReplayUnbounded`] when the signature has no end.
    pub fn replay_until(&self, verified: &Verified<'_>) -> Result<OffsetDateTime, HttpSigError> {
        self.verifier.replay_until(verified)
    }

    /// The refusal of a request whose signature failed with `error`
    /// ([`signature_rejection`] with this policy's `Accept-Signature`).
    pub fn rejection(&self, error: &HttpSigError) -> http::Response<String> {
        signature_rejection(error, Some(&self.config))
    }
}

/// `1` / `0` (or `true` / `false`), `default` when unset.
fn flag(value: Option<String>, default: bool, var: &'static str) -> Result<bool, WorkerError> {
    match value.as_deref() {
        None => Ok(default),
        Some("1" | "true") => Ok(true),
        Some("0" | "false") => Ok(false),
        Some(other) => Err(WorkerError::Invalid {
            var,
            reason: format!("`{other}` is not 1 or 0"),
        }),
    }
}

fn parse_key(alg: Option<&str>, text: String) -> Result<VerifyingKey, WorkerError> {
    let invalid = |reason: String| WorkerError::Invalid {
        var: HTTPSIG_KEY_VAR,
        reason,
    };
    match alg.unwrap_or("hmac-sha256") {
        "hmac-sha256" => VerifyingKey::try_from_hmac_sha256(&Secret::new(text.into_bytes()))
            .map_err(|e| invalid(e.to_string())),
        "ed25519" => {
            let text = text.trim();
            if text.starts_with("-----BEGIN") {
                return VerifyingKey::try_from_public_key_pem(Algorithm::Ed25519, text)
                    .map_err(|e| invalid(e.to_string()));
            }
            let bytes = [STANDARD, STANDARD_NO_PAD, URL_SAFE, URL_SAFE_NO_PAD]
                .iter()
                .find_map(|engine| engine.decode(text).ok())
                .ok_or_else(|| {
                    invalid("an ed25519 key is base64 of 32 bytes or a PEM public key".to_owned())
                })?;
            VerifyingKey::try_from_ed25519_public(&bytes).map_err(|e| invalid(e.to_string()))
        }
        other => Err(WorkerError::Invalid {
            var: HTTPSIG_ALG_VAR,
            reason: format!("`{other}` is not `hmac-sha256` or `ed25519`"),
        }),
    }
}

fn parse_components(list: &str) -> Result<Vec<Component>, WorkerError> {
    list.split(|c: char| c == ',' || c.is_ascii_whitespace())
        .filter(|item| !item.is_empty())
        .map(|item| {
            let parsed = if item.starts_with('"') {
                Component::try_from_identifier(item)
            } else {
                Component::try_from_name(item)
            };
            parsed.map_err(|e| WorkerError::Invalid {
                var: HTTPSIG_COMPONENTS_VAR,
                reason: e.to_string(),
            })
        })
        .collect()
}

/// The `error` code of a refused signature, as the 401's body names it.
pub fn signature_error_code(error: &HttpSigError) -> &'static str {
    match error {
        HttpSigError::Replayed { .. } => "replayed_nonce",
        HttpSigError::Expired { .. }
        | HttpSigError::TooOld { .. }
        | HttpSigError::CreatedInFuture { .. } => "expired_signature",
        HttpSigError::MissingSignatureInput
        | HttpSigError::MissingSignature { .. }
        | HttpSigError::LabelNotFound { .. } => "missing_signature",
        HttpSigError::RequiredComponentMissing { .. }
        | HttpSigError::ContentDigestNotCovered
        | HttpSigError::QueryNotCovered
        | HttpSigError::MissingParameter { .. } => "insufficient_coverage",
        HttpSigError::ReplayStore { .. } => "replay_store_unavailable",
        _ => "invalid_signature",
    }
}

/// What the client is told for each code: fixed text, never the key id,
/// the nonce or the internal reason (those go to the log).
fn description(code: &str) -> &'static str {
    match code {
        "replayed_nonce" => "the signature's nonce was already used",
        "expired_signature" => "the signature is outside its validity window",
        "missing_signature" => "the request is not signed",
        "insufficient_coverage" => {
            "the signature does not cover the required components and parameters"
        }
        "replay_store_unavailable" => "the signature's nonce cannot be checked now",
        _ => "the signature is invalid",
    }
}

/// The response to a request whose RFC 9421 signature is refused: 401
/// (503 when the nonce store cannot answer: the request may be fine, it
/// cannot be checked), `Cache-Control: no-store`, a JSON body
/// `{"error": code, "error_description": text}` with the code of
/// [`signature_error_code`] and, given the policy, an `Accept-Signature`
/// field (RFC 9421 §5.1) asking for the required components and `created`.
pub fn signature_rejection(
    error: &HttpSigError,
    config: Option<&VerifierConfig>,
) -> http::Response<String> {
    let code = signature_error_code(error);
    let status = if code == "replay_store_unavailable" {
        StatusCode::SERVICE_UNAVAILABLE
    } else {
        StatusCode::UNAUTHORIZED
    };
    let body = serde_json::json!({"error": code, "error_description": description(code)});
    let mut response = http::Response::new(body.to_string());
    *response.status_mut() = status;
    let headers = response.headers_mut();
    headers.insert(CONTENT_TYPE, HeaderValue::from_static("application/json"));
    headers.insert(CACHE_CONTROL, HeaderValue::from_static("no-store"));
    if let Some(value) = config
        .filter(|_| status == StatusCode::UNAUTHORIZED)
        .and_then(accept_signature)
    {
        headers.insert("accept-signature", value);
    }
    response
}

/// `sig1=("@method" "@authority" "@path");created` for the policy.
fn accept_signature(config: &VerifierConfig) -> Option<HeaderValue> {
    let label = config.label.as_deref().unwrap_or("sig1");
    let ids: Vec<&str> = config.required_components.iter().map(|c| c.id()).collect();
    let mut value = format!("{label}=({})", ids.join(" "));
    if config.require_created {
        value.push_str(";created");
    }
    if config.require_expires {
        value.push_str(";expires");
    }
    HeaderValue::try_from(value).ok()
}

#[cfg(target_arch = "wasm32")]
pub use self::runtime::{SignedRequest, verify_signed};

#[cfg(target_arch = "wasm32")]
mod runtime {
    use time::OffsetDateTime;
    use worker::{Date, Env, HttpRequest, Response, console_error, console_log};

    use super::SignedRequests;
    use crate::driver::worker::durable::check_nonce;
    use crate::driver::worker::time_from_unix_millis;
    use crate::httpsig::{HttpSigError, Verified};

    /// A request whose signature verified and whose nonce (if any) no
    /// isolate had seen.
    #[non_exhaustive]
    pub struct SignedRequest {
        /// The request, its body read (to check its `content-digest`).
        pub request: http::Request<Vec<u8>>,
        /// The accepted signature: label, `keyid`, nonce, components.
        pub verified: Verified<'static>,
        /// The `now` it was checked at.
        pub now: OffsetDateTime,
    }

    impl std::fmt::Debug for SignedRequest {
        fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
            // The body may be anything the client sent: its length only.
            f.debug_struct("SignedRequest")
                .field("method", self.request.method())
                .field("uri", self.request.uri())
                .field("body_bytes", &self.request.body().len())
                .field("verified", &self.verified)
                .field("now", &self.now)
                .finish()
        }
    }

    /// Verifies `req`'s RFC 9421 signature with `signed`: reads the body
    /// (at most [`SignedRequests::max_body_bytes`]), verifies at
    /// `Date::now`, then refuses a nonce any isolate accepted before
    /// (Durable Objects of [`SignedRequests::nonces_binding`], one object
    /// per nonce shard) and remembers this one until the signature expires.
    ///
    /// # Errors
    /// The response to send back: 401 with the RFC 9421 reason's code
    /// ([`super::signature_rejection`]), 413 for a body over the limit,
    /// 503 when the nonce objects cannot answer (fail closed), 500 when
    /// the clock or the body cannot be read. The reason goes to the log.
    pub async fn verify_signed(
        req: HttpRequest,
        env: &Env,
        signed: &SignedRequests,
    ) -> Result<SignedRequest, Response> {
        let now = time_from_unix_millis(Date::now().as_millis()).map_err(|why| {
            console_error!("edge-auth: {why}");
            plain(500, "internal server error\n")
        })?;
        let (parts, body) = req.into_parts();
        let body = read_body(&parts, body, signed.max_body_bytes).await?;
        let refuse = |error: &HttpSigError| {
            console_log!(
                "edge-auth: {} {} signature refused: {error}",
                parts.method,
                parts.uri.path()
            );
            Response::try_from(signed.rejection(error))
                .unwrap_or_else(|_| plain(500, "internal server error\n"))
        };
        let verified = match signed.verify(&parts, &body, now) {
            Ok(verified) => verified.into_owned(),
            Err(error) => return Err(refuse(&error)),
        };
        if let Some(nonce) = verified.nonce.as_ref() {
            let until = signed.replay_until(&verified).map_err(|e| refuse(&e))?;
            let binding = signed.nonces_binding();
            match check_nonce(env, binding, &verified.keyid, nonce, until, now).await {
                Ok(true) => {}
                Ok(false) => {
                    return Err(refuse(&HttpSigError::Replayed {
                        keyid: verified.keyid.to_string(),
                        nonce: nonce.to_string(),
                    }));
                }
                Err(e) => {
                    return Err(refuse(&HttpSigError::ReplayStore {
                        reason: format!("durable object `{binding}`: {e}"),
                    }));
                }
            }
        }
        Ok(SignedRequest {
            request: http::Request::from_parts(parts, body),
            verified,
            now,
        })
    }

    /// The body, bounded by `max` (a declared length over it is refused
    /// before reading).
    async fn read_body(
        parts: &http::request::Parts,
        body: worker::Body,
        max: usize,
    ) -> Result<Vec<u8>, Response> {
        let declared = parts
            .headers
            .get(http::header::CONTENT_LENGTH)
            .and_then(|v| v.to_str().ok())
            .and_then(|v| v.parse::<u64>().ok());
        let too_large = || plain(413, "request body too large\n");
        if declared.is_some_and(|n| n > max as u64) {
            return Err(too_large());
        }
        if declared == Some(0) {
            return Ok(Vec::new());
        }
        let Some(stream) = body.into_inner() else {
            return Ok(Vec::new());
        };
        let mut request = http::Request::new(worker::Body::new(stream));
        *request.headers_mut() = parts.headers.clone();
        *request.method_mut() = parts.method.clone();
        *request.uri_mut() = parts.uri.clone();
        let bytes = match worker::Request::try_from(request) {
            Ok(mut request) => request.bytes().await,
            Err(e) => Err(e),
        }
        .map_err(|e| {
            console_error!("edge-auth: cannot read the request body: {e}");
            plain(500, "internal server error\n")
        })?;
        if bytes.len() > max {
            return Err(too_large());
        }
        Ok(bytes)
    }

    fn plain(status: u16, body: &str) -> Response {
        let headers = worker::Headers::new();
        // Setting a valid name to a valid value does not fail.
        let _ = headers.set("content-type", "text/plain; charset=utf-8");
        let _ = headers.set("cache-control", "no-store");
        Response::builder()
            .with_status(status)
            .with_headers(headers)
            .fixed(body.as_bytes().to_vec())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::httpsig::{Signer, SignerConfig, SigningKey};

    const KEY: &str = "an inbound hmac key of at least 32 bytes!";

    fn vars(pairs: &[(&str, &str)]) -> impl Fn(&str) -> Option<String> + use<> {
        let pairs: Vec<(String, String)> = pairs
            .iter()
            .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
            .collect();
        move |name| {
            pairs
                .iter()
                .find(|(k, _)| k == name)
                .map(|(_, v)| v.clone())
        }
    }

    fn hmac_vars() -> Vec<(&'static str, &'static str)> {
        vec![
            (HTTPSIG_KEY_VAR, KEY),
            (HTTPSIG_KEY_ID_VAR, "client-1"),
            (NONCES_DO_VAR, "EDGE_AUTH_NONCES"),
        ]
    }

    fn signed_parts(nonce: Option<&str>, now: OffsetDateTime) -> http::request::Parts {
        let key = SigningKey::try_from_hmac_sha256("client-1", &Secret::new(KEY.into())).unwrap();
        let signer = Signer::new(key, SignerConfig::default()).unwrap();
        let (parts, ()) = http::Request::get("https://api.example/orders")
            .body(())
            .unwrap()
            .into_parts();
        let out = signer.sign(&parts, &[], nonce, now).unwrap();
        let mut request = http::Request::from_parts(parts, ());
        out.apply_to(&mut request);
        request.into_parts().0
    }

    fn now() -> OffsetDateTime {
        OffsetDateTime::from_unix_timestamp(1_795_428_000).unwrap()
    }

    #[test]
    fn signed_requests_are_off_without_a_key() {
        assert!(SignedRequests::from_vars(vars(&[])).unwrap().is_none());
    }

    #[test]
    fn a_key_without_a_nonce_binding_is_refused() {
        let err = SignedRequests::from_vars(vars(&[
            (HTTPSIG_KEY_VAR, KEY),
            (HTTPSIG_KEY_ID_VAR, "client-1"),
        ]))
        .unwrap_err();
        assert_eq!(err, WorkerError::Missing { var: NONCES_DO_VAR });
    }

    #[test]
    fn a_key_without_a_keyid_is_refused() {
        let err = SignedRequests::from_vars(vars(&[
            (HTTPSIG_KEY_VAR, KEY),
            (NONCES_DO_VAR, "EDGE_AUTH_NONCES"),
        ]))
        .unwrap_err();
        assert_eq!(
            err,
            WorkerError::Missing {
                var: HTTPSIG_KEY_ID_VAR
            }
        );
    }

    #[test]
    fn a_short_hmac_key_is_refused_without_showing_it() {
        let mut v = hmac_vars();
        v[0] = (HTTPSIG_KEY_VAR, "short-secret");
        let err = SignedRequests::from_vars(vars(&v)).unwrap_err();
        assert!(
            matches!(&err, WorkerError::Invalid { var, .. } if *var == HTTPSIG_KEY_VAR),
            "{err}"
        );
        assert!(!err.to_string().contains("short-secret"), "{err}");
    }

    #[test]
    fn an_unknown_algorithm_is_refused() {
        let mut v = hmac_vars();
        v.push((HTTPSIG_ALG_VAR, "rsa-v1_5-sha256"));
        let err = SignedRequests::from_vars(vars(&v)).unwrap_err();
        assert_eq!(
            err.to_string(),
            "`EDGE_AUTH_HTTPSIG_ALG` is invalid: `rsa-v1_5-sha256` is not `hmac-sha256` or `ed25519`"
        );
    }

    #[test]
    fn an_out_of_range_max_age_is_refused() {
        for age in ["0", "-5", "86401", "soon"] {
            let mut v = hmac_vars();
            v.push((HTTPSIG_MAX_AGE_VAR, age));
            let err = SignedRequests::from_vars(vars(&v)).unwrap_err();
            assert!(err.to_string().contains(&format!("`{age}`")), "{err}");
        }
    }

    #[test]
    fn an_ed25519_key_is_read_from_base64_or_pem() {
        // RFC 9421 B.1.4 `test-key-ed25519`.
        let raw = "JrQLj5P/89iXES9+vFgrIy29clF9CC/oPPsw3c5D0bs=";
        let pem = "-----BEGIN PUBLIC KEY-----\nMCowBQYDK2VwAyEAJrQLj5P/89iXES9+vFgrIy29clF9CC/oPPsw3c5D0bs=\n-----END PUBLIC KEY-----\n";
        for key in [raw, pem] {
            let v = vars(&[
                (HTTPSIG_KEY_VAR, key),
                (HTTPSIG_ALG_VAR, "ed25519"),
                (HTTPSIG_KEY_ID_VAR, "test-key-ed25519"),
                (NONCES_DO_VAR, "N"),
            ]);
            assert!(SignedRequests::from_vars(v).unwrap().is_some());
        }
        let v = vars(&[
            (HTTPSIG_KEY_VAR, "not base64!"),
            (HTTPSIG_ALG_VAR, "ed25519"),
            (HTTPSIG_KEY_ID_VAR, "k"),
            (NONCES_DO_VAR, "N"),
        ]);
        assert!(SignedRequests::from_vars(v).is_err());
    }

    #[test]
    fn required_components_are_read_as_names_or_identifiers() {
        let mut v = hmac_vars();
        v.push((HTTPSIG_COMPONENTS_VAR, "@method, @path \"x-tenant\";sf"));
        let signed = SignedRequests::from_vars(vars(&v)).unwrap().unwrap();
        let names: Vec<&str> = signed
            .config()
            .required_components
            .iter()
            .map(Component::name)
            .collect();
        assert_eq!(names, ["@method", "@path", "x-tenant"]);
        let mut v = hmac_vars();
        v.push((HTTPSIG_COMPONENTS_VAR, "@nonsense"));
        assert!(SignedRequests::from_vars(vars(&v)).is_err());
    }

    #[test]
    fn a_signed_request_with_a_nonce_verifies_and_names_its_replay_window() {
        let signed = SignedRequests::from_vars(vars(&hmac_vars()))
            .unwrap()
            .unwrap();
        let parts = signed_parts(Some("n-1"), now());
        let verified = signed.verify(&parts, &[], now()).unwrap();
        assert_eq!(verified.keyid, "client-1");
        assert_eq!(verified.nonce.as_deref(), Some("n-1"));
        // created + 300 s max age + 60 s skew.
        assert_eq!(
            signed.replay_until(&verified).unwrap(),
            now() + time::Duration::seconds(360)
        );
    }

    #[test]
    fn a_signature_without_a_nonce_is_refused_by_default() {
        let signed = SignedRequests::from_vars(vars(&hmac_vars()))
            .unwrap()
            .unwrap();
        let err = signed
            .verify(&signed_parts(None, now()), &[], now())
            .unwrap_err();
        assert_eq!(signature_error_code(&err), "insufficient_coverage");
        let mut v = hmac_vars();
        v.push((HTTPSIG_REQUIRE_NONCE_VAR, "0"));
        let lenient = SignedRequests::from_vars(vars(&v)).unwrap().unwrap();
        assert!(
            lenient
                .verify(&signed_parts(None, now()), &[], now())
                .is_ok()
        );
    }

    #[test]
    fn an_old_signature_is_refused_as_expired() {
        let signed = SignedRequests::from_vars(vars(&hmac_vars()))
            .unwrap()
            .unwrap();
        let later = now() + time::Duration::seconds(361);
        let err = signed
            .verify(&signed_parts(Some("n"), now()), &[], later)
            .unwrap_err();
        assert_eq!(signature_error_code(&err), "expired_signature");
    }

    #[test]
    fn a_replayed_nonce_gets_401_with_its_code_and_no_nonce() {
        let signed = SignedRequests::from_vars(vars(&hmac_vars()))
            .unwrap()
            .unwrap();
        let response = signed.rejection(&HttpSigError::Replayed {
            keyid: "client-1".to_owned(),
            nonce: "secret-ish-nonce".to_owned(),
        });
        assert_eq!(response.status(), 401);
        assert_eq!(response.headers()["cache-control"], "no-store");
        assert_eq!(
            response.headers()["accept-signature"],
            r#"sig1=("@method" "@authority" "@path");created"#
        );
        let body: serde_json::Value = serde_json::from_str(response.body()).unwrap();
        assert_eq!(body["error"], "replayed_nonce");
        assert!(!response.body().contains("secret-ish-nonce"));
        assert!(!response.body().contains("client-1"));
    }

    #[test]
    fn a_failing_nonce_store_gets_503_not_401() {
        let response = signature_rejection(
            &HttpSigError::ReplayStore {
                reason: "down".to_owned(),
            },
            None,
        );
        assert_eq!(response.status(), 503);
        assert!(response.headers().get("accept-signature").is_none());
        assert!(!response.body().contains("down"));
    }
}
