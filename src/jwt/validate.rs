//! `Validation` (the policy) and `Validator` (the policy compiled once):
//! RFC 7519 §7.2 validation of a compact JWS, in the order RFC 8725 §3.1
//! asks for: the header is parsed and the `alg` checked against the
//! allow-list before any key is touched; the key is found by `kid` and
//! `alg`; the signature is verified; only then are the claims read.

use std::ops::Range;
use std::sync::OnceLock;

use serde::de::{DeserializeOwned, DeserializeSeed};
use serde_json::{Map, Value};
use time::{Duration, OffsetDateTime};

use super::claims::{self, Captured, Registered};
use super::compact;
use super::error::{JwtError, Part};
use super::header::{self, ALL, Alg, Slot};
use crate::jose::Algorithm;
use crate::jwk::KeySet;

/// What a token must satisfy. Start from [`Validation::default`] and set the
/// fields you need; compile it with [`Validator::new`].
#[derive(Debug, Clone)]
#[non_exhaustive]
pub struct Validation {
    /// Accepted `iss` values, compared exactly. An entry containing
    /// `{tenantid}` (e.g. `https://login.microsoftonline.com/{tenantid}/v2.0`,
    /// Entra ID multi-tenant) matches when `iss` equals the entry with
    /// `{tenantid}` replaced by the token's own `tid` claim, which must be a
    /// non-empty run of ASCII letters, digits and `-`. Empty (the default):
    /// `iss` is not checked, so use one key set per issuer.
    pub issuers: Vec<String>,
    /// Accepted `aud` values; the token's `aud` (a string or an array of
    /// strings) must contain one of them. Empty (the default): a token that
    /// carries `aud` is rejected, as RFC 7519 §4.1.3 requires of a recipient
    /// that does not identify itself with any value. With
    /// [`audience_claim`](Self::audience_claim) set to
    /// [`AudienceClaim::ClientId`], the accepted `client_id` values instead.
    pub audiences: Vec<String>,
    /// The claim [`audiences`](Self::audiences) is matched against: `aud`
    /// (the default) or `client_id` (Amazon Cognito access tokens, which
    /// carry no `aud`).
    pub audience_claim: AudienceClaim,
    /// The required value of the `token_use` claim (Amazon Cognito: `access`
    /// for access tokens, `id` for ID tokens). `None` (the default): not
    /// checked.
    pub token_use: Option<String>,
    /// Clock-skew allowance for `exp`, `nbf`, `iat` (default 60 s).
    pub leeway: Duration,
    /// Claims that must be present (default: `exp`). Empty it to accept
    /// tokens without an expiry, e.g. to check signatures of test vectors;
    /// present time claims are still checked.
    pub required_claims: Vec<String>,
    /// Accepted `alg` values (default: RS256/384/512, PS256/384/512, ES256,
    /// ES384, EdDSA). Add HS256/384/512 only for HMAC-signed tokens, and
    /// then keep the key sets symmetric-only. `EdDSA` also admits RFC 9864's
    /// `Ed25519`, the same algorithm (only Ed25519 keys are ever loaded).
    pub algorithms: Vec<Algorithm>,
    /// The required header `typ`, compared ASCII case-insensitively with an
    /// optional `application/` prefix ignored (RFC 7515 §4.1.9), e.g.
    /// `at+jwt` for RFC 9068 access tokens. `None` (the default): not checked.
    pub typ: Option<String>,
    /// The oldest a token may be, from its `iat` (which then becomes
    /// required). `None` (the default): not checked.
    pub max_age: Option<Duration>,
    /// The longest token accepted, in bytes (default
    /// [`DEFAULT_MAX_TOKEN_LEN`](crate::extract::DEFAULT_MAX_TOKEN_LEN),
    /// 16 KiB: the largest Entra ID, Okta and Keycloak tokens with it, see
    /// there).
    pub max_token_size: usize,
}

impl Default for Validation {
    fn default() -> Self {
        Self {
            issuers: Vec::new(),
            audiences: Vec::new(),
            audience_claim: AudienceClaim::Aud,
            token_use: None,
            leeway: crate::time::DEFAULT_LEEWAY,
            required_claims: vec!["exp".to_owned()],
            algorithms: ALL.iter().filter(|a| !a.is_hmac()).copied().collect(),
            typ: None,
            max_age: None,
            max_token_size: crate::extract::DEFAULT_MAX_TOKEN_LEN,
        }
    }
}

/// Which claim names the token's intended recipient.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
#[non_exhaustive]
pub enum AudienceClaim {
    /// `aud` (RFC 7519 §4.1.3): a string or an array of strings, one of
    /// which must be an accepted audience. The default.
    #[default]
    Aud,
    /// `client_id` (RFC 9068 §2.2): a string that must be an accepted
    /// value. Amazon Cognito access tokens name the app client this way
    /// and carry no `aud`. A token that carries `aud` is refused: it names
    /// its recipient there, and this recipient has no `aud` value to match.
    ClientId,
}

/// A verified token's claims: the caller's typed view `C` and the raw map.
///
/// The raw map is built from the verified payload on first access, so a
/// caller that only needs `C` does not pay for it.
#[derive(Debug, Clone)]
pub struct Claims<C> {
    typed: C,
    /// The decoded header, then the decoded payload from `payload_at`.
    decoded: Vec<u8>,
    payload_at: usize,
    raw: OnceLock<Map<String, Value>>,
    alg: Algorithm,
    kid: Slot,
    window: TimeWindow,
}

/// The instants at which the time checks (`exp`, `nbf`, `iat`, `max_age`,
/// with the leeway) of a validated claims set pass, as Unix nanoseconds:
/// `from <= now < until`. The gate's token cache serves a verified token
/// only inside it, with the same comparisons as the validator.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct TimeWindow {
    from: Option<i128>,
    until: Option<i128>,
}

impl TimeWindow {
    /// No time bound (a claims set without `exp`, `nbf` or `iat`).
    #[cfg(test)]
    pub(crate) const ALWAYS: Self = Self {
        from: None,
        until: None,
    };

    /// Whether the time checks pass at `now`.
    pub(crate) fn contains(&self, now: OffsetDateTime) -> bool {
        let now = now.unix_timestamp_nanos();
        self.from.is_none_or(|from| now >= from) && self.until.is_none_or(|until| now < until)
    }

    /// Whether the time checks fail at `now` and at every later instant.
    pub(crate) fn is_over(&self, now: OffsetDateTime) -> bool {
        self.until
            .is_some_and(|until| now.unix_timestamp_nanos() >= until)
    }
}

impl<C> Claims<C> {
    /// The claims as the caller's type.
    pub fn typed(&self) -> &C {
        &self.typed
    }

    /// Every claim, as sent.
    pub fn raw(&self) -> &Map<String, Value> {
        // Validation already read the payload as a JSON object with unique
        // members and bounded nesting, so this parse succeeds.
        self.raw
            .get_or_init(|| claims::parse_claims(self.payload()).unwrap_or_default())
    }

    /// The typed claims, dropping the rest.
    pub fn into_typed(self) -> C {
        self.typed
    }

    /// The typed claims and the raw map.
    pub fn into_parts(mut self) -> (C, Map<String, Value>) {
        self.raw();
        (self.typed, self.raw.take().unwrap_or_default())
    }

    /// The algorithm the signature was verified with.
    pub fn algorithm(&self) -> Algorithm {
        self.alg
    }

    /// The `kid` of the key that verified the signature, when the token named one.
    pub fn kid(&self) -> Option<&str> {
        self.kid.as_str(&self.decoded)
    }

    fn payload(&self) -> &[u8] {
        self.decoded.get(self.payload_at..).unwrap_or_default()
    }

    /// The verified claims set, as signed.
    pub(crate) fn payload_bytes(&self) -> &[u8] {
        self.payload()
    }

    /// When the time checks that passed keep passing.
    pub(crate) fn window(&self) -> TimeWindow {
        self.window
    }
}

/// A [`Validation`] compiled for repeated use.
///
/// ```
/// use edge_auth::jwt::{Algorithm, Validation, Validator};
///
/// let mut v = Validation::default();
/// v.issuers.push("https://login.microsoftonline.com/{tenantid}/v2.0".into());
/// v.audiences.push("api://edge".into());
/// v.typ = Some("at+jwt".into());
/// v.algorithms = vec![Algorithm::RS256];
/// let validator = Validator::new(v);
/// # let _ = validator;
/// ```
#[derive(Debug, Clone)]
pub struct Validator {
    validation: Validation,
    allowed: u16,
    issuers: Vec<IssuerMatch>,
}

#[derive(Debug, Clone)]
enum IssuerMatch {
    Exact(String),
    Tenant { prefix: String, suffix: String },
}

const TENANT: &str = "{tenantid}";

impl Validator {
    /// Compiles a validation policy.
    pub fn new(validation: Validation) -> Self {
        let allowed = validation
            .algorithms
            .iter()
            .map(|a| a.bit())
            .fold(0u16, |m, bit| m | bit);
        let issuers = validation
            .issuers
            .iter()
            .map(|iss| match iss.split_once(TENANT) {
                Some((prefix, suffix)) if !suffix.contains(TENANT) => IssuerMatch::Tenant {
                    prefix: prefix.to_owned(),
                    suffix: suffix.to_owned(),
                },
                _ => IssuerMatch::Exact(iss.clone()),
            })
            .collect();
        Self {
            validation,
            allowed,
            issuers,
        }
    }

    /// The policy this validator enforces.
    pub fn validation(&self) -> &Validation {
        &self.validation
    }

    /// Validates a compact JWS JWT against `keys` at time `now`.
    ///
    /// Order (RFC 8725): size and shape; header (duplicates, `crit`, `b64`);
    /// `alg` against the allow-list; the key by `kid` and `alg` (type,
    /// curve, size and the key's own `alg` must fit); strict base64url of
    /// all segments; the signature; `typ`; then the claims (a JSON object
    /// without duplicate members): required claims, `exp` / `nbf` / `iat`
    /// with the leeway, `max_age`, `iss`, `aud`; last, `C` is deserialized.
    /// (The claims are read in one pass that fills `C` while recording the
    /// registered claims; errors are still reported in this order.)
    /// `C` always receives the top-level JSON object: it is never offered
    /// an array (as serde_json would for a struct) or the raw text.
    /// Unauthenticated content never produces more detail than the header
    /// and "bad signature".
    ///
    /// The header and the claims are read by a strict JSON reader (RFC
    /// 8259): no trailing commas, comments, leading zeros, raw control
    /// characters, invalid escapes or lone surrogates, numbers within
    /// `f64`, nesting at most 64 deep, one object with unique member names
    /// (escaped spellings included). Errors name the byte offset:
    ///
    /// ```
    /// use base64::Engine as _;
    /// use base64::engine::general_purpose::URL_SAFE_NO_PAD as B64;
    /// use edge_auth::jwk::KeySet;
    /// use edge_auth::jwt::{Validation, Validator};
    ///
    /// let secret = [7u8; 32];
    /// let sign = |claims: &str| {
    ///     let input = format!("{}.{}", B64.encode(r#"{"alg":"HS256"}"#), B64.encode(claims));
    ///     let key = ring::hmac::Key::new(ring::hmac::HMAC_SHA256, &secret);
    ///     let tag = ring::hmac::sign(&key, input.as_bytes());
    ///     format!("{input}.{}", B64.encode(tag))
    /// };
    /// let keys = KeySet::from_hmac_secret(&secret, None)?;
    /// let mut validation = Validation::default();
    /// validation.algorithms = vec![edge_auth::jwt::Algorithm::HS256];
    /// let validator = Validator::new(validation);
    /// let now = time::macros::datetime!(2026-11-23 10:00 UTC);
    /// let refused = |claims: &str| {
    ///     let token = sign(claims);
    ///     validator.validate::<serde_json::Value>(&token, &keys, now).unwrap_err().to_string()
    /// };
    ///
    /// assert!(validator.validate::<serde_json::Value>(&sign(r#"{"exp":1795428000}"#), &keys, now).is_ok());
    /// // `\u0065xp` is `exp` again.
    /// assert_eq!(
    ///     refused(r#"{"exp":1795428000,"\u0065xp":1}"#),
    ///     "malformed claims: duplicate claim `exp` at byte 18"
    /// );
    /// assert_eq!(
    ///     refused(r#"{"exp":1795428000,}"#),
    ///     "malformed claims: trailing comma at byte 18"
    /// );
    /// assert_eq!(
    ///     refused(r#"{"exp":1795428000,"n":"\udc00"}"#),
    ///     "malformed claims: lone UTF-16 surrogate in `\\u` escape at byte 23"
    /// );
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    ///
    /// # Errors
    /// A [`JwtError`] naming the first check that failed.
    pub fn validate<C: DeserializeOwned>(
        &self,
        token: &str,
        keys: &KeySet,
        now: OffsetDateTime,
    ) -> Result<Claims<C>, JwtError> {
        self.parse(token)?.verify(self, keys, now)
    }

    /// Whether the allow-list admits `alg`.
    pub(super) fn allows(&self, alg: Alg) -> bool {
        self.allowed & alg.bit() != 0
    }

    /// Reads and checks the claims of a verified payload.
    pub(super) fn read_claims<C, S>(
        &self,
        alg: Alg,
        kid: Slot,
        decoded: Vec<u8>,
        payload: Range<usize>,
        now: OffsetDateTime,
        seed: S,
    ) -> Result<Claims<C>, JwtError>
    where
        S: for<'de> DeserializeSeed<'de, Value = C>,
    {
        let bytes = decoded.get(payload.clone()).unwrap_or_default();
        // One pass reads `C` and the registered claims together. When it
        // fails, the registered claims are read on their own so that the
        // error is the first in validation order (a malformed or expired
        // token is reported as such, not as a `C` mismatch).
        let (typed, window) = match claims::parse_seeded(bytes, seed) {
            Ok((typed, registered)) => {
                let window = self.check_claims(&registered, now)?;
                (typed, window)
            }
            Err(typed_err) => {
                let registered = claims::parse_registered(bytes)?;
                self.check_claims(&registered, now)?;
                return Err(typed_err);
            }
        };
        Ok(Claims {
            typed,
            decoded,
            payload_at: payload.start,
            raw: OnceLock::new(),
            alg,
            kid,
            window,
        })
    }

    /// Verifies a compact JWS (header, `alg`, key, signature, `typ`) and
    /// returns its payload without reading it as claims: for JWS payloads
    /// that are not JWT claims sets (e.g. test vectors). Use
    /// [`validate`](Self::validate) for JWTs.
    ///
    /// # Errors
    /// As [`validate`](Self::validate), up to and including `typ`.
    pub fn verify_jws(&self, token: &str, keys: &KeySet) -> Result<Vec<u8>, JwtError> {
        let (_, _, mut decoded, payload) = self.parse(token)?.verify_signature(self, keys)?;
        decoded.truncate(payload.end);
        decoded.drain(..payload.start);
        Ok(decoded)
    }

    /// The claims checks; on success, the window of instants at which the
    /// time checks pass (each bound the exact negation of its check below).
    fn check_claims(
        &self,
        reg: &Registered<'_>,
        now: OffsetDateTime,
    ) -> Result<TimeWindow, JwtError> {
        let v = &self.validation;
        let raw = reg;
        if let Some(missing) = v.required_claims.iter().find(|c| !reg.has(c)) {
            return Err(JwtError::MissingClaim {
                claim: missing.clone(),
            });
        }
        // Compared as Unix nanoseconds (exact, and far from overflowing
        // i128); times are built only for an error.
        let leeway = v.leeway;
        let slack = leeway.whole_nanoseconds();
        let now_ns = now.unix_timestamp_nanos();
        let mut window = TimeWindow {
            from: None,
            until: None,
        };
        let exp = numeric_date(raw, "exp")?;
        // Refused from `exp + leeway` on.
        window.until = exp.map(|exp| exp.saturating_add(slack));
        if let Some(exp) = exp
            && now_ns >= exp.saturating_add(slack)
        {
            let exp = utc(exp);
            return Err(JwtError::Expired { exp, now, leeway });
        }
        let nbf = numeric_date(raw, "nbf")?;
        // Refused before `nbf - leeway`.
        window.from = nbf.map(|nbf| nbf.saturating_sub(slack));
        if let Some(nbf) = nbf
            && now_ns < nbf.saturating_sub(slack)
        {
            let nbf = utc(nbf);
            return Err(JwtError::NotYetValid { nbf, now, leeway });
        }
        let iat = numeric_date(raw, "iat")?;
        // Refused while `iat > now + leeway`, i.e. before `iat - leeway`
        // (the nanosecond values are far inside i128: nothing saturates).
        if let Some(iat) = iat {
            let from = iat.saturating_sub(slack);
            window.from = Some(window.from.map_or(from, |f| f.max(from)));
        }
        if let Some(iat) = iat
            && iat > now_ns.saturating_add(slack)
        {
            let iat = utc(iat);
            return Err(JwtError::IssuedInFuture { iat, now, leeway });
        }
        if let Some(max_age) = v.max_age {
            let iat = iat.ok_or_else(|| JwtError::MissingClaim {
                claim: "iat".to_owned(),
            })?;
            let oldest = iat
                .saturating_add(max_age.whole_nanoseconds())
                .saturating_add(slack);
            // Refused after `oldest`, i.e. from `oldest + 1 ns` on.
            let until = oldest.saturating_add(1);
            window.until = Some(window.until.map_or(until, |u| u.min(until)));
            if now_ns > oldest {
                return Err(JwtError::TooOld {
                    iat: utc(iat),
                    now,
                    max_age,
                    leeway,
                });
            }
        }
        if !self.issuers.is_empty() {
            self.check_issuer(raw)?;
        }
        match v.audience_claim {
            AudienceClaim::Aud => self.check_audience(raw)?,
            AudienceClaim::ClientId => self.check_client_id(raw)?,
        }
        if let Some(want) = &v.token_use {
            check_string_claim(raw, "token_use", std::slice::from_ref(want))?;
        }
        Ok(window)
    }

    /// `client_id` in place of `aud`: it must be one of `audiences`, and the
    /// token must not carry `aud` (it would be checked against no value,
    /// as with empty `audiences`).
    fn check_client_id(&self, raw: &Registered<'_>) -> Result<(), JwtError> {
        if raw.get("aud").is_some() {
            let seen = match raw.get("aud") {
                Some(Captured::Str(s)) => vec![s.to_string()],
                Some(Captured::Other(Value::Array(items))) => items
                    .iter()
                    .map(|i| i.as_str().unwrap_or("(not a string)").to_owned())
                    .collect(),
                _ => vec!["(not a string)".to_owned()],
            };
            return Err(JwtError::AudienceMismatch {
                expected: Vec::new(),
                seen,
            });
        }
        check_string_claim(raw, "client_id", &self.validation.audiences)
    }

    fn check_issuer(&self, raw: &Registered<'_>) -> Result<(), JwtError> {
        let iss = match raw.get("iss") {
            None => {
                return Err(JwtError::MissingClaim {
                    claim: "iss".to_owned(),
                });
            }
            Some(Captured::Str(s)) => &**s,
            Some(_) => return Err(JwtError::malformed(Part::Claims, "`iss` is not a string")),
        };
        let tid = raw.get("tid").and_then(Captured::as_str);
        let ok = self.issuers.iter().any(|m| match m {
            IssuerMatch::Exact(e) => e == iss,
            IssuerMatch::Tenant { prefix, suffix } => tid.is_some_and(|tid| {
                valid_tenant(tid)
                    && iss.len() == prefix.len() + tid.len() + suffix.len()
                    && iss.starts_with(prefix.as_str())
                    && iss.ends_with(suffix.as_str())
                    && iss.get(prefix.len()..iss.len() - suffix.len()) == Some(tid)
            }),
        });
        if ok {
            Ok(())
        } else {
            Err(JwtError::IssuerMismatch {
                expected: self.validation.issuers.clone(),
                seen: iss.to_owned(),
            })
        }
    }

    fn check_audience(&self, raw: &Registered<'_>) -> Result<(), JwtError> {
        let expected = &self.validation.audiences;
        let wanted = |s: &str| expected.iter().any(|e| e == s);
        let mismatch = |seen: Vec<String>| JwtError::AudienceMismatch {
            expected: expected.clone(),
            seen,
        };
        match raw.get("aud") {
            None if expected.is_empty() => Ok(()),
            None => Err(JwtError::MissingClaim {
                claim: "aud".to_owned(),
            }),
            Some(Captured::Str(s)) if wanted(s) => Ok(()),
            Some(Captured::Str(s)) => Err(mismatch(vec![s.to_string()])),
            Some(Captured::Other(Value::Array(items))) => {
                let seen = items
                    .iter()
                    .map(|i| {
                        i.as_str().ok_or_else(|| {
                            JwtError::malformed(Part::Claims, "`aud` array holds a non-string")
                        })
                    })
                    .collect::<Result<Vec<&str>, _>>()?;
                if seen.iter().any(|s| wanted(s)) {
                    Ok(())
                } else {
                    Err(mismatch(seen.into_iter().map(str::to_owned).collect()))
                }
            }
            Some(_) => Err(JwtError::malformed(
                Part::Claims,
                "`aud` is neither a string nor an array of strings",
            )),
        }
    }
}

/// A string claim that must be one of `expected` (an empty list accepts
/// nothing).
fn check_string_claim(
    raw: &Registered<'_>,
    claim: &str,
    expected: &[String],
) -> Result<(), JwtError> {
    match raw.get(claim) {
        None => Err(JwtError::MissingClaim {
            claim: claim.to_owned(),
        }),
        Some(Captured::Str(s)) if expected.iter().any(|e| e == s) => Ok(()),
        Some(Captured::Str(s)) => Err(JwtError::ClaimMismatch {
            claim: claim.to_owned(),
            expected: expected.to_vec(),
            seen: s.to_string(),
        }),
        Some(_) => Err(JwtError::malformed(
            Part::Claims,
            format!("`{claim}` is not a string"),
        )),
    }
}

/// Headers up to this size decode on the stack.
const HEADER_STACK: usize = 512;

/// A decoded header: on the stack when small, else on the heap.
struct HeaderBuf {
    stack: [u8; HEADER_STACK],
    heap: Vec<u8>,
}

impl Default for HeaderBuf {
    fn default() -> Self {
        Self {
            stack: [0; HEADER_STACK],
            heap: Vec::new(),
        }
    }
}

impl HeaderBuf {
    fn decode(&mut self, segment: &str) -> Result<&[u8], JwtError> {
        let fits = compact::decoded_len(segment.len()).is_some_and(|n| n + 3 <= HEADER_STACK);
        if fits {
            let n = compact::decode_into(segment, &mut self.stack, Part::Header)?;
            Ok(self.stack.get(..n).unwrap_or_default())
        } else {
            self.heap = compact::decode_vec(segment, Part::Header)?;
            Ok(&self.heap)
        }
    }
}

/// ASCII letters, digits and `-`: one lookup per byte of a tenant id
/// (this runs for every Entra ID token).
#[allow(
    clippy::indexing_slicing,
    reason = "const initializer, the index runs over the table's own range"
)]
const TENANT_BYTES: [bool; 256] = {
    let mut t = [false; 256];
    let mut b = 0;
    while b < 256 {
        let c = b as u8;
        t[b] = c.is_ascii_alphanumeric() || c == b'-';
        b += 1;
    }
    t
};

fn valid_tenant(tid: &str) -> bool {
    !tid.is_empty()
        && tid.len() <= 64
        && tid
            .bytes()
            .all(|b| TENANT_BYTES.get(usize::from(b)) == Some(&true))
}

/// The Unix seconds `time` represents (years -9999 to 9999).
const MIN_UNIX: i64 = -377_705_116_800;
const MAX_UNIX: i64 = 253_402_300_799;
const NANOS: i128 = 1_000_000_000;

/// A time from Unix nanoseconds that [`numeric_date`] range-checked.
fn utc(nanos: i128) -> OffsetDateTime {
    OffsetDateTime::from_unix_timestamp_nanos(nanos).unwrap_or(OffsetDateTime::UNIX_EPOCH)
}

/// A NumericDate claim (RFC 7519 §2): a JSON number of seconds, integer or
/// fractional, as Unix nanoseconds. Anything else is malformed, and so is
/// a time outside years -9999 to 9999.
fn numeric_date(raw: &Registered<'_>, name: &str) -> Result<Option<i128>, JwtError> {
    let Some(v) = raw.get(name) else {
        return Ok(None);
    };
    let Captured::Num(n) = v else {
        return Err(JwtError::malformed(
            Part::Claims,
            format!("`{name}` is not a NumericDate (a JSON number)"),
        ));
    };
    let nanos = match n.as_i64() {
        Some(secs) => (MIN_UNIX..=MAX_UNIX)
            .contains(&secs)
            .then(|| i128::from(secs) * NANOS),
        None => {
            let f = n.as_f64();
            let nanos = (f * 1e9) as i128;
            let range = i128::from(MIN_UNIX) * NANOS..=i128::from(MAX_UNIX) * NANOS + (NANOS - 1);
            (f.is_finite() && range.contains(&nanos)).then_some(nanos)
        }
    };
    nanos.map(Some).ok_or_else(|| {
        JwtError::malformed(
            Part::Claims,
            format!("`{name}` is out of the representable range"),
        )
    })
}

/// What [`inspect`] read from a token, **unverified**.
///
/// Nothing here is authenticated: use it only to choose which issuer's key
/// set to validate with, then call [`Validator::validate`], and never to
/// authorize, log as fact, or pick a key from the token itself.
#[derive(Debug, Clone)]
#[non_exhaustive]
pub struct Inspected {
    /// The header `alg`, as sent.
    pub alg: String,
    /// The header `kid`.
    pub kid: Option<String>,
    /// The header `typ`.
    pub typ: Option<String>,
    /// The `iss` claim, when it is a string.
    pub issuer: Option<String>,
    /// The `tid` claim (Entra ID tenant), when it is a string.
    pub tenant_id: Option<String>,
}

/// Reads a token's header and its `iss` / `tid` claims **without verifying
/// anything**, so that a gateway can choose the issuer's key set before
/// validating. Uses the same parsers as [`Validator::validate`]: a token
/// that `inspect` refuses would be refused by `validate` too.
///
/// # Errors
/// [`JwtError::TooLarge`] over `max_token_size`; [`JwtError::Malformed`] for
/// a token that is not three strict base64url segments with a JSON object
/// header and claims set; [`JwtError::UnsupportedHeader`] for `crit` /
/// `b64: false`.
pub fn inspect(token: &str, max_token_size: usize) -> Result<Inspected, JwtError> {
    let seg = compact::split(token, max_token_size)?;
    let payload = seg.decode_payload();
    if let Err(
        e @ JwtError::Malformed {
            part: Part::Token, ..
        },
    ) = payload
    {
        return Err(e);
    }
    let mut hbuf = HeaderBuf::default();
    let hdr = header::parse(hbuf.decode(seg.header)?)?;
    let payload = payload?;
    let claims = claims::parse_registered(&payload)?;
    let string = |name: &str| {
        claims
            .get(name)
            .and_then(Captured::as_str)
            .map(str::to_owned)
    };
    Ok(Inspected {
        alg: hdr.alg.into_owned(),
        kid: hdr.kid.map(|k| k.into_owned()),
        typ: hdr.typ.map(|t| t.into_owned()),
        issuer: string("iss"),
        tenant_id: string("tid"),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn unix_range_is_times() {
        assert!(OffsetDateTime::from_unix_timestamp(MIN_UNIX).is_ok());
        assert!(OffsetDateTime::from_unix_timestamp(MAX_UNIX).is_ok());
        let last = i128::from(MAX_UNIX) * NANOS + NANOS - 1;
        assert_eq!(utc(last).unix_timestamp_nanos(), last);
    }

    #[test]
    fn tenant_bytes() {
        for b in 0..=255u8 {
            let ok = b.is_ascii_alphanumeric() || b == b'-';
            assert_eq!(TENANT_BYTES[usize::from(b)], ok, "{b}");
        }
        assert!(valid_tenant("72f988bf-86f1-41af-91ab-2d7cd011db47"));
        assert!(!valid_tenant("") && !valid_tenant("a/b") && !valid_tenant(&"a".repeat(65)));
    }
}
