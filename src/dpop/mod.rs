//! DPoP at the resource server (RFC 9449): the `DPoP` authorization scheme
//! (§7.1), proof validation (§4.3), the access token's key binding
//! (`cnf.jkt`, §6.1) with the RFC 7638 thumbprint, and the bearer downgrade
//! check (§7.2). Sans-IO: the caller gives `now`, the request's method and
//! target URI, and a [`ReplayGuard`] for `jti`s.
//!
//! ```
//! use edge_auth::dpop::{DpopConfig, ProofRequest, verify_proof};
//! use edge_auth::httpsig::MemoryReplayGuard;
//!
//! // RFC 9449 §7.1, figure 13: a proof for a protected resource request.
//! let proof = "eyJ0eXAiOiJkcG9wK2p3dCIsImFsZyI6IkVTMjU2IiwiandrIjp7Imt0eSI6IkVDIiwieCI6Imw4dEZyaHgtMzR0VjNoUklDUkRZOXpDa0RscEJoRjQyVVFVZldWQVdCRnMiLCJ5IjoiOVZFNGpmX09rX282NHpiVFRsY3VOSmFqSG10NnY5VERWclUwQ2R2R1JEQSIsImNydiI6IlAtMjU2In19.eyJqdGkiOiJlMWozVl9iS2ljOC1MQUVCIiwiaHRtIjoiR0VUIiwiaHR1IjoiaHR0cHM6Ly9yZXNvdXJjZS5leGFtcGxlLm9yZy9wcm90ZWN0ZWRyZXNvdXJjZSIsImlhdCI6MTU2MjI2MjYxOCwiYXRoIjoiZlVIeU8ycjJaM0RaNTNFc05yV0JiMHhXWG9hTnk1OUlpS0NBcWtzbVFFbyJ9.2oW9RP35yRqzhrtNP86L-Ey71EOptxRimPPToA1plemAgR6pxHF8y6-yqyVnmcw6Fy1dqd-jfxSYoMxhAJpLjA";
//! let request = ProofRequest::new(
//!     &http::Method::GET,
//!     "https://resource.example.org/protectedresource",
//! )
//! .with_access_token("Kz~8mXK1EalYznwH-LC-1fBAo.4Ljp~zsPE_NeO.gxU");
//! let now = time::OffsetDateTime::from_unix_timestamp(1_562_262_620)?;
//! let mut replay = MemoryReplayGuard::with_capacity(10_000);
//! let verified = verify_proof(proof, &DpopConfig::default(), &request, &mut replay, now)?;
//! assert_eq!(verified.jkt(), "0ZcOCORZNYy-DWpqq30jZyJGHTN0d2HglBV3uiguA4I");
//! // The same proof again is a replay.
//! assert!(verify_proof(proof, &DpopConfig::default(), &request, &mut replay, now).is_err());
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! ```
//!
//! Checks, in order (§4.3): one well-formed JWS; `typ` is `dpop+jwt`; `alg`
//! is asymmetric and in the allow-list (before any key is touched); the
//! header's `jwk` is a public key (a private member is refused); the
//! signature verifies with that key; `jti`, `htm`, `htu`, `iat` present;
//! `htm` equals the method; `htu` equals the target URI without query and
//! fragment after RFC 3986 §6.2.2/§6.2.3 normalisation (scheme and host
//! case, default port, empty path); `iat` within `max_age` and `leeway`;
//! `nonce` when the server requires one; `ath` equals the base64url SHA-256
//! of the access token; then `jti` is remembered and a repeat refused.

mod error;

pub use error::DpopError;

use crate::jwt::Algorithm;
use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use http::HeaderName;
use http::request::Parts;
use serde_json::{Map, Value};
use time::{Duration, OffsetDateTime};

use crate::httpsig::ReplayGuard;
use crate::jwk::{KeySet, KeySetOptions};

/// The `DPoP` request header (RFC 9449 §4.1).
pub const DPOP: HeaderName = HeaderName::from_static("dpop");
/// The `DPoP-Nonce` response header (RFC 9449 §8.1).
pub const DPOP_NONCE: HeaderName = HeaderName::from_static("dpop-nonce");

/// Private JWK members (RFC 7518 §6): a proof carrying one is refused.
const PRIVATE_MEMBERS: [&str; 8] = ["d", "p", "q", "dp", "dq", "qi", "oth", "k"];

/// How proofs are checked.
#[derive(Debug, Clone)]
#[non_exhaustive]
pub struct DpopConfig {
    /// Proof signature algorithms accepted (asymmetric only; an HMAC entry
    /// never admits a proof). Default: ES256, ES384, EdDSA, PS256, RS256.
    pub algorithms: Vec<Algorithm>,
    /// How old a proof may be (from its `iat`). Default: 60 s.
    pub max_age: Duration,
    /// Clock skew allowed on `iat`, both ways. Default: 5 s.
    pub leeway: Duration,
    /// The largest proof accepted, in bytes. Default: 8 KiB.
    pub max_proof_size: usize,
}

impl Default for DpopConfig {
    fn default() -> Self {
        Self {
            algorithms: vec![
                Algorithm::ES256,
                Algorithm::ES384,
                Algorithm::EdDSA,
                Algorithm::PS256,
                Algorithm::RS256,
            ],
            max_age: Duration::seconds(60),
            leeway: Duration::seconds(5),
            max_proof_size: 8 * 1024,
        }
    }
}

impl DpopConfig {
    /// With this algorithm allow-list.
    pub fn with_algorithms(mut self, algorithms: Vec<Algorithm>) -> Self {
        self.algorithms = algorithms;
        self
    }

    /// With this maximum proof age.
    pub fn with_max_age(mut self, max_age: Duration) -> Self {
        self.max_age = max_age;
        self
    }

    /// With this clock leeway.
    pub fn with_leeway(mut self, leeway: Duration) -> Self {
        self.leeway = leeway;
        self
    }

    /// The `WWW-Authenticate` challenge for a request without DPoP
    /// credentials: `DPoP algs="…"` (RFC 9449 §7.1).
    pub fn challenge(&self) -> String {
        format!("DPoP algs=\"{}\"", error::algs_list(&self.algorithms))
    }
}

/// DPoP in the [`Gate`](crate::gate::Gate): how proofs are checked, where
/// their `jti`s are remembered, and the scheme of the target URI when the
/// request line carries only a path (the edge terminated TLS: `https`).
///
/// With DPoP on, the gate accepts `Authorization: DPoP` with a valid proof
/// bound to the token's `cnf.jkt`, refuses a token with `cnf.jkt` presented
/// as Bearer, and refuses Bearer tokens of issuers configured
/// [`sender_constrained`](crate::gate::IssuerConfig::sender_constrained).
/// The verified-token cache is bypassed for every token (the binding is
/// checked on each request).
#[derive(Clone)]
#[non_exhaustive]
pub struct GateDpop {
    /// How proofs are checked.
    pub config: DpopConfig,
    /// Where proof `jti`s are remembered (share one across the gate's
    /// replicas, e.g. Redis, for a fleet).
    pub replay: std::sync::Arc<std::sync::Mutex<dyn ReplayGuard + Send>>,
    /// The scheme of the target URI for an origin-form request line.
    /// Default `https`.
    pub scheme: String,
}

impl GateDpop {
    /// DPoP with default checks and an in-memory replay store of
    /// `capacity` live `jti`s.
    pub fn new(capacity: usize) -> Self {
        Self {
            config: DpopConfig::default(),
            replay: std::sync::Arc::new(std::sync::Mutex::new(
                crate::httpsig::MemoryReplayGuard::with_capacity(capacity),
            )),
            scheme: "https".to_owned(),
        }
    }

    /// With this proof configuration.
    #[must_use]
    pub fn with_config(mut self, config: DpopConfig) -> Self {
        self.config = config;
        self
    }

    /// With this replay store.
    #[must_use]
    pub fn with_replay(
        mut self,
        replay: std::sync::Arc<std::sync::Mutex<dyn ReplayGuard + Send>>,
    ) -> Self {
        self.replay = replay;
        self
    }

    /// With this target-URI scheme (`http` behind a plain-HTTP listener).
    #[must_use]
    pub fn with_scheme(mut self, scheme: impl Into<String>) -> Self {
        self.scheme = scheme.into();
        self
    }

    /// The `algs` of the gate's `DPoP` challenges.
    pub(crate) fn algs(&self) -> String {
        error::algs_list(&self.config.algorithms)
    }

    /// The gate's rejection for a DPoP error.
    pub(crate) fn rejection(&self, error: &DpopError) -> crate::response::Rejection {
        crate::response::Rejection::dpop(
            error.code(),
            error::algs_list(&self.config.algorithms),
            error.nonce().map(str::to_owned),
            error.to_string(),
        )
    }
}

impl std::fmt::Debug for GateDpop {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("GateDpop")
            .field("config", &self.config)
            .field("scheme", &self.scheme)
            .finish_non_exhaustive()
    }
}

/// The request a proof must match.
#[derive(Debug, Clone)]
pub struct ProofRequest<'a> {
    method: &'a str,
    htu: &'a str,
    access_token: Option<&'a str>,
    nonce: Option<&'a str>,
}

impl<'a> ProofRequest<'a> {
    /// A request with this method and absolute target URI (query and
    /// fragment are ignored in the comparison).
    pub fn new(method: &'a http::Method, htu: &'a str) -> Self {
        Self {
            method: method.as_str(),
            htu,
            access_token: None,
            nonce: None,
        }
    }

    /// The access token presented with the proof: `ath` must be its hash.
    pub fn with_access_token(mut self, access_token: &'a str) -> Self {
        self.access_token = Some(access_token);
        self
    }

    /// The nonce the server requires in the proof (RFC 9449 §9); a proof
    /// without it, or with another, is [`DpopError::UseNonce`].
    pub fn with_nonce(mut self, nonce: &'a str) -> Self {
        self.nonce = Some(nonce);
        self
    }
}

/// A proof that passed every check.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct VerifiedProof {
    jkt: String,
    jti: String,
    iat: OffsetDateTime,
}

impl VerifiedProof {
    /// The RFC 7638 SHA-256 thumbprint of the proof's key (base64url), to
    /// compare with the access token's `cnf.jkt`.
    pub fn jkt(&self) -> &str {
        &self.jkt
    }

    /// The proof's `jti`.
    pub fn jti(&self) -> &str {
        &self.jti
    }

    /// The proof's `iat`.
    pub fn iat(&self) -> OffsetDateTime {
        self.iat
    }
}

/// The DPoP credentials of a request: the access token of
/// `Authorization: DPoP <token>` and the proof of the `DPoP` header.
#[derive(Debug, Clone, Copy)]
pub struct DpopCredentials<'a> {
    /// The access token (a secret: never log it).
    pub access_token: &'a str,
    /// The proof JWT.
    pub proof: &'a str,
}

/// Reads `Authorization: DPoP <token>` and the `DPoP` header (RFC 9449
/// §7.1). `Ok(None)` when the `Authorization` header does not use the
/// `DPoP` scheme (and there is no `DPoP` header).
///
/// # Errors
/// [`DpopError::InvalidRequest`] for several `Authorization` or `DPoP`
/// headers, a `DPoP` scheme without a `DPoP` header (or the reverse), a
/// `DPoP` header beside a `Bearer` token, or a token that is not token68.
pub fn extract(parts: &Parts) -> Result<Option<DpopCredentials<'_>>, DpopError> {
    let bad = |reason: &str| DpopError::InvalidRequest {
        reason: reason.to_owned(),
    };
    let mut auth = parts.headers.get_all(http::header::AUTHORIZATION).iter();
    let first = auth.next();
    if auth.next().is_some() {
        return Err(bad("more than one authorization header"));
    }
    let mut proofs = parts.headers.get_all(&DPOP).iter();
    let proof = proofs.next();
    if proofs.next().is_some() {
        return Err(bad("more than one `DPoP` header"));
    }
    let token = match first.map(|v| v.as_bytes()) {
        Some(value) => match value.iter().position(|&b| b == b' ') {
            Some(at) => {
                let (scheme, rest) = value.split_at(at);
                if scheme.eq_ignore_ascii_case(b"dpop") {
                    Some(rest.get(1..).unwrap_or_default())
                } else {
                    None
                }
            }
            None => None,
        },
        None => None,
    };
    match (token, proof) {
        (None, None) => Ok(None),
        (None, Some(_)) => Err(bad(
            "a `DPoP` header without an `Authorization: DPoP` access token",
        )),
        (Some(_), None) => Err(bad("`Authorization: DPoP` without a `DPoP` proof header")),
        (Some(token), Some(proof)) => {
            let token = token.trim_ascii();
            if token.is_empty() || !token.iter().all(|&b| is_token68(b)) {
                return Err(bad("the dpop access token is not token68"));
            }
            let token = std::str::from_utf8(token).map_err(|_| bad("token is not ascii"))?;
            let proof = proof
                .to_str()
                .map_err(|_| bad("the `DPoP` header is not visible ascii"))?;
            Ok(Some(DpopCredentials {
                access_token: token,
                proof,
            }))
        }
    }
}

fn is_token68(b: u8) -> bool {
    b.is_ascii_alphanumeric() || matches!(b, b'-' | b'.' | b'_' | b'~' | b'+' | b'/' | b'=')
}

/// The absolute target URI of a request, for [`ProofRequest::new`]: the
/// request URI when it is absolute, otherwise `scheme://<Host><path>`.
///
/// # Errors
/// [`DpopError::InvalidRequest`] without an authority (absolute URI or
/// `Host` header).
pub fn target_uri(parts: &Parts, scheme: &str) -> Result<String, DpopError> {
    if parts.uri.scheme().is_some() && parts.uri.authority().is_some() {
        return Ok(parts.uri.to_string());
    }
    let host = parts
        .headers
        .get(http::header::HOST)
        .and_then(|h| h.to_str().ok())
        .ok_or_else(|| DpopError::InvalidRequest {
            reason: "no `Host` header to build the dpop target uri".to_owned(),
        })?;
    let path = parts.uri.path_and_query().map_or("/", |p| p.as_str());
    Ok(format!("{scheme}://{host}{path}"))
}

/// The base64url SHA-256 of an access token, the proof's `ath`.
pub fn access_token_hash(access_token: &str) -> String {
    let digest = ring::digest::digest(&ring::digest::SHA256, access_token.as_bytes());
    URL_SAFE_NO_PAD.encode(digest.as_ref())
}

/// The RFC 7638 SHA-256 thumbprint (base64url) of a public JWK given as a
/// JSON object.
///
/// # Errors
/// [`DpopError::InvalidProof`] for an unknown `kty` or a missing or
/// non-string required member.
pub fn thumbprint(jwk: &Map<String, Value>) -> Result<String, DpopError> {
    let kty = jwk.get("kty").and_then(Value::as_str).unwrap_or_default();
    // RFC 7638 §3.2: the required members, in lexicographic order.
    let members: &[&str] = match kty {
        "EC" => &["crv", "kty", "x", "y"],
        "RSA" => &["e", "kty", "n"],
        "OKP" => &["crv", "kty", "x"],
        other => {
            return Err(DpopError::proof(format!(
                "`jwk` has unsupported `kty` `{other}`"
            )));
        }
    };
    // Written directly: members in lexicographic order, no whitespace,
    // each value a JSON string (serde_json escapes it).
    let mut text = String::with_capacity(256);
    text.push('{');
    for (i, m) in members.iter().enumerate() {
        let value = jwk.get(*m).and_then(Value::as_str).ok_or_else(|| {
            DpopError::proof(format!("`jwk` member `{m}` missing or not a string"))
        })?;
        if i > 0 {
            text.push(',');
        }
        text.push('"');
        text.push_str(m);
        text.push_str("\":");
        text.push_str(&Value::from(value).to_string());
    }
    text.push('}');
    let digest = ring::digest::digest(&ring::digest::SHA256, text.as_bytes());
    Ok(URL_SAFE_NO_PAD.encode(digest.as_ref()))
}

/// Normalises an `htu` for comparison (RFC 9449 §4.3 step 9): parsed as a
/// URL (scheme and host lowercased, the default port dropped, an empty path
/// made `/`), query and fragment removed.
///
/// # Errors
/// [`DpopError::InvalidProof`] when `uri` is not an absolute http(s) URI.
pub fn normalize_htu(uri: &str) -> Result<String, DpopError> {
    let mut url = url::Url::parse(uri)
        .map_err(|e| DpopError::proof(format!("`htu` `{uri}` is not an absolute uri: {e}")))?;
    if !matches!(url.scheme(), "http" | "https") || url.host().is_none() {
        return Err(DpopError::proof(format!(
            "`htu` `{uri}` is not an http(s) uri"
        )));
    }
    url.set_query(None);
    url.set_fragment(None);
    Ok(url.into())
}

/// Validates a DPoP proof for `request` (RFC 9449 §4.3) and remembers its
/// `jti` in `replay` until it can no longer be accepted.
///
/// # Errors
/// [`DpopError::InvalidProof`] naming the failed check,
/// [`DpopError::UseNonce`] when `request` requires a nonce the proof lacks,
/// [`DpopError::Replayed`] for a `jti` seen before with the same key.
pub fn verify_proof(
    proof: &str,
    config: &DpopConfig,
    request: &ProofRequest<'_>,
    replay: &mut dyn ReplayGuard,
    now: OffsetDateTime,
) -> Result<VerifiedProof, DpopError> {
    if proof.len() > config.max_proof_size {
        return Err(DpopError::proof(format!(
            "proof of {} bytes exceeds the limit of {} bytes",
            proof.len(),
            config.max_proof_size
        )));
    }
    let mut segments = proof.split('.');
    let (Some(header_b64), Some(payload_b64), Some(signature_b64), None) = (
        segments.next(),
        segments.next(),
        segments.next(),
        segments.next(),
    ) else {
        return Err(DpopError::proof("not a compact jws of three segments"));
    };
    // The header is read once: the checks below and the key come from
    // this one parse (no second pass through the JWT validator).
    let header_json = crate::jose::b64::decode_vec(header_b64)
        .map_err(|_| DpopError::proof("header is not base64url"))?;
    let header: Map<String, Value> = strict_object(&header_json, "header")?;
    // RFC 7515 §4.1.11: no extension is understood here.
    if header.contains_key("crit") {
        return Err(DpopError::proof(
            "critical header extensions are not supported",
        ));
    }

    // §4.3 step 4: `typ`.
    match header.get("typ").and_then(Value::as_str) {
        Some("dpop+jwt") => {}
        Some(other) => {
            return Err(DpopError::proof(format!(
                "`typ` `{other}` is not `dpop+jwt`"
            )));
        }
        None => return Err(DpopError::proof("`typ` is missing")),
    }
    // Step 5: `alg`, before any key is touched.
    let alg_name = header
        .get("alg")
        .and_then(Value::as_str)
        .ok_or_else(|| DpopError::proof("`alg` is missing"))?;
    let alg = crate::jose::Alg::from_name(alg_name)
        .filter(|a| !a.is_hmac())
        .filter(|a| config.algorithms.contains(a))
        .ok_or_else(|| DpopError::proof(format!("`alg` `{alg_name}` is not allowed")))?;
    // Step 6: the public key.
    let jwk_value = header
        .get("jwk")
        .filter(|v| v.is_object())
        .ok_or_else(|| DpopError::proof("`jwk` is missing or not an object"))?;
    let jwk = jwk_value
        .as_object()
        .ok_or_else(|| DpopError::proof("`jwk` is not an object"))?;
    if let Some(member) = PRIVATE_MEMBERS.iter().find(|m| jwk.contains_key(**m)) {
        return Err(DpopError::proof(format!(
            "`jwk` carries the private key member `{member}`"
        )));
    }
    let jkt = thumbprint(jwk)?;
    // The key straight from the parsed member (no JSON round trip); the
    // key set's rules apply (RSA ≥ 2048 bits, curves, `use`, `alg`).
    let key = KeySet::key_from_value(jwk_value, &KeySetOptions::default())
        .map_err(|e| DpopError::proof(format!("`jwk` is not a usable public key: {e}")))?;
    // Step 7: the signature, over the signing input as sent.
    let signing_input_len = header_b64.len() + 1 + payload_b64.len();
    let signing_input = proof
        .get(..signing_input_len)
        .ok_or_else(|| DpopError::proof("not a compact jws of three segments"))?;
    let signature = crate::jose::b64::decode_vec(signature_b64)
        .map_err(|_| DpopError::proof("signature is not base64url"))?;
    if signature.is_empty() {
        return Err(DpopError::proof("signature is empty"));
    }
    key.verify_fitting(alg, signing_input.as_bytes(), &signature)
        .map_err(|e| DpopError::proof(format!("signature check failed: {e}")))?;
    let payload = crate::jose::b64::decode_vec(payload_b64)
        .map_err(|_| DpopError::proof("payload is not base64url"))?;
    let claims: Map<String, Value> = strict_object(&payload, "claims")?;
    let string_claim = |name: &str| -> Result<&str, DpopError> {
        claims
            .get(name)
            .and_then(Value::as_str)
            .ok_or_else(|| DpopError::proof(format!("`{name}` is missing or not a string")))
    };
    let jti = string_claim("jti")?;
    if jti.is_empty() || jti.len() > 256 {
        return Err(DpopError::proof("`jti` must have 1 to 256 characters"));
    }
    // Step 8: `htm`.
    let htm = string_claim("htm")?;
    if htm != request.method {
        return Err(DpopError::proof(format!(
            "`htm` `{htm}` does not match the request method `{}`",
            request.method
        )));
    }
    // Step 9: `htu`.
    let htu = string_claim("htu")?;
    let expected = normalize_htu(request.htu).map_err(|_| DpopError::InvalidRequest {
        reason: format!("request target `{}` is not an absolute uri", request.htu),
    })?;
    // The usual case, `htu` written as the normal form itself, needs no
    // second parse: equal text normalises equally.
    if htu != expected && normalize_htu(htu)? != expected {
        return Err(DpopError::proof(format!(
            "`htu` `{htu}` does not match the request uri `{expected}`"
        )));
    }
    // Step 11: `iat` window.
    let iat = claims
        .get("iat")
        .and_then(Value::as_i64)
        .ok_or_else(|| DpopError::proof("`iat` is missing or not an integer"))?;
    let iat = OffsetDateTime::from_unix_timestamp(iat)
        .map_err(|_| DpopError::proof(format!("`iat` `{iat}` is out of range")))?;
    if iat > now + config.leeway {
        return Err(DpopError::proof(format!(
            "`iat` {iat} is {} s in the future, leeway {} s",
            (iat - now).whole_seconds(),
            config.leeway.whole_seconds()
        )));
    }
    let expires_at = iat + config.max_age + config.leeway;
    if now >= expires_at {
        return Err(DpopError::proof(format!(
            "`iat` {iat} is {} s old, max age {} s, leeway {} s",
            (now - iat).whole_seconds(),
            config.max_age.whole_seconds(),
            config.leeway.whole_seconds()
        )));
    }
    // Step 10: `nonce`.
    if let Some(required) = request.nonce
        && claims.get("nonce").and_then(Value::as_str) != Some(required)
    {
        return Err(DpopError::UseNonce {
            nonce: required.to_owned(),
        });
    }
    // Step 12: `ath`.
    if let Some(token) = request.access_token {
        let ath = string_claim("ath")?;
        let want = access_token_hash(token);
        // `ath` is a hash the client sent, not a secret: a plain comparison.
        if ath != want {
            return Err(DpopError::proof("`ath` does not match the access token"));
        }
    }
    // §11.1: a `jti` once per key, remembered while the proof is acceptable.
    replay
        .check_and_remember(&jkt, jti, expires_at, now)
        .map_err(|e| match e {
            crate::httpsig::HttpSigError::Replayed { .. } => DpopError::Replayed {
                jti: jti.to_owned(),
            },
            other => DpopError::proof(format!("`jti` could not be checked: {other}")),
        })?;
    Ok(VerifiedProof {
        jkt,
        jti: jti.to_owned(),
        iat,
    })
}

/// Reads a JSON object with the crate's strict reader (duplicate members
/// refused, RFC 7515 §5.2), so no check reads a different member than the
/// signature covered.
fn strict_object(json: &[u8], part: &str) -> Result<Map<String, Value>, DpopError> {
    crate::jwt::validate_parse_claims(json)
        .map_err(|e| DpopError::proof(format!("{part} is not a json object: {e}")))
}

/// Checks the access token's `cnf.jkt` (RFC 9449 §6.1) against the proof.
/// `proof` is `None` when the token came as a bearer token: a token bound
/// to a key is then refused (§7.2 downgrade), as is a DPoP-presented token
/// without a binding.
///
/// # Errors
/// [`DpopError::Binding`] saying which case failed.
pub fn check_binding(
    claims: &Map<String, Value>,
    proof: Option<&VerifiedProof>,
) -> Result<(), DpopError> {
    let jkt = claims
        .get("cnf")
        .and_then(Value::as_object)
        .and_then(|c| c.get("jkt"));
    match (jkt, proof) {
        (None, None) => Ok(()),
        (Some(_), None) => Err(DpopError::Binding {
            reason: "a dpop-bound token (`cnf.jkt`) was presented as a bearer token".to_owned(),
        }),
        (None, Some(_)) => Err(DpopError::Binding {
            reason: "the access token has no `cnf.jkt` binding".to_owned(),
        }),
        (Some(Value::String(jkt)), Some(p)) if jkt == p.jkt() => Ok(()),
        (Some(Value::String(jkt)), Some(p)) => Err(DpopError::Binding {
            reason: format!(
                "`cnf.jkt` `{jkt}` is not the thumbprint `{}` of the proof key",
                p.jkt()
            ),
        }),
        (Some(_), Some(_)) => Err(DpopError::Binding {
            reason: "`cnf.jkt` is not a string".to_owned(),
        }),
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used, reason = "tests")]
mod tests {
    use super::*;

    #[test]
    fn duplicate_members_are_refused() {
        assert!(strict_object(br#"{"a":1,"a":2}"#, "claims").is_err());
        assert!(strict_object(br#"{"jti":"a","htm":"POST","htm":"GET"}"#, "claims").is_err());
    }

    #[test]
    fn htu_normalisation() {
        assert_eq!(
            normalize_htu("HTTPS://Resource.Example.ORG:443/a?x=1#f").unwrap(),
            "https://resource.example.org/a"
        );
        assert_eq!(
            normalize_htu("http://h.example:80").unwrap(),
            "http://h.example/"
        );
        assert!(normalize_htu("/relative").is_err());
    }
}
