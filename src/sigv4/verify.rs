//! Verifying SigV4 requests, in both the `Authorization` header form and the
//! presigned query form: strict parsing, scope, time and expiry checks, then
//! the signature recomputed with the signer's canonicalisation and compared
//! in constant time (`ring::hmac::verify`).

use std::borrow::Cow;

use http::request::Parts;
use ring::hmac;

use super::canonical::{
    self, ALGORITHM, CanonicalHeader, CanonicalParts, HeaderSource, QueryPairs, TERMINATOR,
    UNSIGNED_PAYLOAD,
};
use super::sign::{PRESIGN_PARAMS, signing_key, valid_scope_part};
use super::{Credentials, Payload, SigV4Error, SigningSettings, VerifyParams};
use crate::secret::Secret;

/// Optional whitespace around a field value (RFC 9110 §5.6.3: SP / HTAB).
const OWS: &[char] = &[' ', '\t'];

/// Who signed a request that verified.
#[derive(Debug, Clone)]
#[non_exhaustive]
pub struct VerifiedSigner {
    /// The access key id the signature was made with.
    pub access_key_id: String,
    /// Region of the credential scope.
    pub region: String,
    /// Service of the credential scope.
    pub service: String,
    /// When the request was signed.
    pub signed_at: time::OffsetDateTime,
    /// When a presigned URL stops being valid (`None` for header signatures).
    pub expires_at: Option<time::OffsetDateTime>,
    /// The signed header names, lowercase and sorted.
    pub signed_headers: Vec<String>,
    /// The session token the request carried (temporary credentials), only
    /// when the signature covers it: in the signed headers, or in the
    /// signed query of a presigned URL. Check it belongs to the access key
    /// id. With [`sign_session_token`](super::SigningSettings::sign_session_token)
    /// on (the default) an unsigned token is refused
    /// ([`SigV4Error::MissingSignedHeader`]); with it off, an unsigned token
    /// is in [`unsigned_session_token`](Self::unsigned_session_token).
    pub session_token: Option<Secret<String>>,
    /// A session token the request carried outside the signature, accepted
    /// only because `sign_session_token` is off (services such as IoT add
    /// the token after signing). Anyone on the path could have put it there.
    pub unsigned_session_token: Option<Secret<String>>,
    /// Whether the signature came in the query string (presigned URL).
    pub presigned: bool,
}

/// The three parts of an `Authorization: AWS4-HMAC-SHA256 ...` header.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub struct AuthorizationHeader<'a> {
    /// `Credential=`: access key id and credential scope.
    pub credential: &'a str,
    /// `SignedHeaders=`.
    pub signed_headers: &'a str,
    /// `Signature=`.
    pub signature: &'a str,
}

/// Parses an `Authorization` header value strictly: the algorithm, then
/// `Credential=`, `SignedHeaders=` and `Signature=` once each (any order),
/// separated by commas with optional spaces, nothing else.
///
/// # Errors
/// [`SigV4Error::UnsupportedAlgorithm`], [`SigV4Error::MalformedAuthorization`],
/// [`SigV4Error::DuplicateAuthorizationPart`].
pub fn parse_authorization(value: &[u8]) -> Result<AuthorizationHeader<'_>, SigV4Error> {
    let value = std::str::from_utf8(value)
        .map_err(|_| SigV4Error::MalformedAuthorization("not utf-8".into()))?;
    let (algorithm, rest) = value
        .split_once(' ')
        .ok_or_else(|| SigV4Error::MalformedAuthorization("no space after the algorithm".into()))?;
    if algorithm != ALGORITHM {
        return Err(SigV4Error::UnsupportedAlgorithm(truncate(algorithm)));
    }
    let (mut credential, mut signed_headers, mut signature) = (None, None, None);
    for piece in rest.split(',') {
        let piece = piece.trim_matches(' ');
        let (key, val) = piece.split_once('=').ok_or_else(|| {
            SigV4Error::MalformedAuthorization(format!(
                "part `{}` is not `name=value`",
                truncate(piece)
            ))
        })?;
        let slot = match key {
            "Credential" => &mut credential,
            "SignedHeaders" => &mut signed_headers,
            "Signature" => &mut signature,
            other => {
                return Err(SigV4Error::MalformedAuthorization(format!(
                    "unknown part `{}`",
                    truncate(other)
                )));
            }
        };
        if slot.replace(val).is_some() {
            return Err(SigV4Error::DuplicateAuthorizationPart(key.to_owned()));
        }
    }
    let missing = |name: &str| SigV4Error::MalformedAuthorization(format!("missing `{name}`"));
    Ok(AuthorizationHeader {
        credential: credential.ok_or_else(|| missing("Credential"))?,
        signed_headers: signed_headers.ok_or_else(|| missing("SignedHeaders"))?,
        signature: signature.ok_or_else(|| missing("Signature"))?,
    })
}

/// Error text shows at most 64 characters of attacker-controlled input.
fn truncate(s: &str) -> String {
    s.chars().take(64).collect()
}

/// `AKID/YYYYMMDD/region/service/aws4_request`.
struct Scope<'a> {
    access_key_id: &'a str,
    date: &'a str,
    region: &'a str,
    service: &'a str,
}

fn parse_credential(credential: &str) -> Result<Scope<'_>, SigV4Error> {
    let bad = || SigV4Error::MalformedCredential(truncate(credential));
    let mut it = credential.split('/');
    let (Some(access_key_id), Some(date), Some(region), Some(service), Some(term), None) = (
        it.next(),
        it.next(),
        it.next(),
        it.next(),
        it.next(),
        it.next(),
    ) else {
        return Err(bad());
    };
    if term != TERMINATOR
        || date.len() != 8
        || !date.bytes().all(|b| b.is_ascii_digit())
        || ![access_key_id, region, service]
            .iter()
            .all(|p| valid_scope_part(p))
    {
        return Err(bad());
    }
    Ok(Scope {
        access_key_id,
        date,
        region,
        service,
    })
}

fn parse_signed_headers(list: &str) -> Result<Vec<&str>, SigV4Error> {
    let bad = || SigV4Error::MalformedSignedHeaders(truncate(list));
    let names: Vec<&str> = list.split(';').collect();
    let token = |n: &str| {
        !n.is_empty()
            && n.bytes().all(|b| {
                // RFC 9110 token characters, lowercase only.
                matches!(
                    b,
                    b'a'..=b'z' | b'0'..=b'9' | b'!' | b'#'..=b'\'' | b'*' | b'+' | b'-' | b'.'
                        | b'^' | b'_' | b'`' | b'|' | b'~'
                )
            })
    };
    if !names.iter().all(|n| token(n)) || !names.windows(2).all(|w| matches!(w, [a, b] if a < b)) {
        return Err(bad());
    }
    Ok(names)
}

/// The signature-bearing fields, from the header or the query.
struct Fields<'a> {
    presigned: bool,
    credential: Cow<'a, str>,
    signed_headers: Cow<'a, str>,
    signature: Cow<'a, str>,
    /// `YYYYMMDDTHHMMSSZ` as used in the string to sign.
    amz_date: Cow<'a, str>,
    signed_at: time::OffsetDateTime,
    /// Header that carried the date (must be signed), header form only.
    date_header: Option<&'static str>,
    expires_secs: Option<i64>,
    /// `X-Amz-Security-Token` (presigned form only; the header is read by
    /// [`session_token`]).
    session_token: Option<Cow<'a, str>>,
    query: QueryPairs<'a>,
}

fn utf8<'a>(v: Cow<'a, [u8]>, name: &str) -> Result<Cow<'a, str>, SigV4Error> {
    match v {
        Cow::Borrowed(b) => std::str::from_utf8(b)
            .map(Cow::Borrowed)
            .map_err(|_| SigV4Error::MalformedAuthorization(format!("`{name}` is not utf-8"))),
        Cow::Owned(b) => String::from_utf8(b)
            .map(Cow::Owned)
            .map_err(|_| SigV4Error::MalformedAuthorization(format!("`{name}` is not utf-8"))),
    }
}

/// `now` resolves the two-digit year of an RFC 850 `Date`.
fn extract(parts: &Parts, now: time::OffsetDateTime) -> Result<Fields<'_>, SigV4Error> {
    let query = canonical::parse_query(parts.uri.query().unwrap_or_default());
    let presigned = query
        .iter()
        .any(|(k, _)| PRESIGN_PARAMS.contains(&k.as_ref()));
    let all_auth = parts.headers.get_all(http::header::AUTHORIZATION);
    let mut auth = all_auth.iter();
    match (auth.next(), presigned) {
        (None, false) => Err(SigV4Error::MissingAuthentication),
        (Some(_), true) => Err(SigV4Error::AmbiguousAuthentication),
        (Some(value), false) => match auth.count() {
            0 => header_fields(parts, value, query, now),
            more => Err(SigV4Error::DuplicateAuthorization(more + 1)),
        },
        (None, true) => query_fields(query),
    }
}

fn header_fields<'a>(
    parts: &'a Parts,
    auth: &'a http::HeaderValue,
    query: QueryPairs<'a>,
    now: time::OffsetDateTime,
) -> Result<Fields<'a>, SigV4Error> {
    let auth = parse_authorization(auth.as_bytes())?;
    let mut dates = parts.headers.get_all("x-amz-date").iter();
    let (amz_date, signed_at, date_header) = match (dates.next(), dates.next()) {
        (Some(_), Some(_)) => {
            return Err(SigV4Error::MalformedDate("repeated `x-amz-date`".into()));
        }
        (Some(v), None) => {
            // A field value excludes surrounding whitespace (RFC 9110 §5.5),
            // as the canonical headers the signature covers do; an
            // `http::HeaderValue` built by hand may still carry it.
            let s = v
                .to_str()
                .map_err(|_| SigV4Error::MalformedDate("non-ascii `x-amz-date`".into()))?
                .trim_matches(OWS);
            let t = canonical::parse_amz_date(s)
                .ok_or_else(|| SigV4Error::MalformedDate(truncate(s)))?;
            (Cow::Borrowed(s), t, "x-amz-date")
        }
        (None, _) => {
            let mut all = parts.headers.get_all(http::header::DATE).iter();
            let v = match (all.next(), all.next()) {
                (None, _) => return Err(SigV4Error::MissingDate),
                (Some(_), Some(_)) => {
                    return Err(SigV4Error::MalformedDate("repeated `date`".into()));
                }
                (Some(v), None) => v,
            };
            let s = v
                .to_str()
                .map_err(|_| SigV4Error::MalformedDate("non-ascii `date`".into()))?
                .trim_matches(OWS);
            let t =
                parse_date_header(s, now).ok_or_else(|| SigV4Error::MalformedDate(truncate(s)))?;
            let iso = canonical::format_amz_date(t)
                .ok_or_else(|| SigV4Error::MalformedDate(truncate(s)))?;
            (Cow::Owned(iso), t, "date")
        }
    };
    Ok(Fields {
        presigned: false,
        credential: Cow::Borrowed(auth.credential),
        signed_headers: Cow::Borrowed(auth.signed_headers),
        signature: Cow::Borrowed(auth.signature),
        amz_date,
        signed_at,
        date_header: Some(date_header),
        expires_secs: None,
        session_token: None,
        query,
    })
}

/// A `Date` header: any of the three HTTP-date forms a recipient must
/// accept (RFC 9110 §5.6.7), or IMF-fixdate with the zone written `-0000` /
/// `+0000`, the RFC 5322 form botocore's SigV4 signer sends
/// (`email.utils.formatdate` without `usegmt`). Those zones are UTC too, and
/// the value itself is covered by the signature.
fn parse_date_header(s: &str, now: time::OffsetDateTime) -> Option<time::OffsetDateTime> {
    use crate::http_cache::parse_http_date;
    parse_http_date(s.as_bytes(), now).or_else(|| {
        let head = s
            .strip_suffix(" -0000")
            .or_else(|| s.strip_suffix(" +0000"))?;
        // Only the IMF-fixdate layout (29 bytes with ` GMT`).
        (head.len() == 25 && head.as_bytes().get(3) == Some(&b','))
            .then(|| parse_http_date(format!("{head} GMT").as_bytes(), now))?
    })
}

fn query_fields<'a>(query: QueryPairs<'a>) -> Result<Fields<'a>, SigV4Error> {
    let one = |name: &'static str| -> Result<Option<Cow<'a, [u8]>>, SigV4Error> {
        let mut it = query.iter().filter(|(k, _)| k.as_ref() == name.as_bytes());
        match (it.next(), it.next()) {
            (Some(_), Some(_)) => Err(SigV4Error::DuplicateQueryParam(name.to_owned())),
            (Some((_, v)), None) => Ok(Some(v.clone())),
            (None, _) => Ok(None),
        }
    };
    let required = |name: &'static str| -> Result<Cow<'a, str>, SigV4Error> {
        let v = one(name)?.ok_or_else(|| SigV4Error::MissingQueryParam(name.to_owned()))?;
        utf8(v, name)
    };
    let algorithm = required("X-Amz-Algorithm")?;
    let credential = required("X-Amz-Credential")?;
    let amz_date = required("X-Amz-Date")?;
    let expires = required("X-Amz-Expires")?;
    let signed_headers = required("X-Amz-SignedHeaders")?;
    let signature = required("X-Amz-Signature")?;
    let session_token = match one("X-Amz-Security-Token")? {
        Some(v) => Some(utf8(v, "X-Amz-Security-Token")?),
        None => None,
    };
    if algorithm != ALGORITHM {
        return Err(SigV4Error::UnsupportedAlgorithm(truncate(&algorithm)));
    }
    let signed_at = canonical::parse_amz_date(&amz_date)
        .ok_or_else(|| SigV4Error::MalformedDate(truncate(&amz_date)))?;
    let expires_secs = Some(expires.as_ref())
        .filter(|e| !e.is_empty() && e.len() <= 6 && e.bytes().all(|b| b.is_ascii_digit()))
        .and_then(|e| e.parse::<i64>().ok())
        .filter(|e| (1..=super::MAX_PRESIGN_EXPIRES.whole_seconds()).contains(e))
        .ok_or_else(|| SigV4Error::MalformedExpires(truncate(&expires)))?;
    Ok(Fields {
        presigned: true,
        credential,
        signed_headers,
        signature,
        amz_date,
        signed_at,
        date_header: None,
        expires_secs: Some(expires_secs),
        session_token,
        query,
    })
}

/// The parsed, canonicalised request, before any policy or key is applied.
struct Prepared {
    signature: [u8; 32],
    canonical_request: Vec<u8>,
}

fn prepare(
    parts: &Parts,
    fields: &Fields<'_>,
    signed_headers: &[&str],
    payload_hash: &str,
    settings: &SigningSettings,
) -> Result<Prepared, SigV4Error> {
    let signature = canonical::decode_hex32(&fields.signature)
        .ok_or_else(|| SigV4Error::MalformedSignature(truncate(&fields.signature)))?;

    let has_host_header = parts.headers.contains_key(http::header::HOST);
    let uri_host = if has_host_header {
        None
    } else {
        canonical::host_from_uri(&parts.uri)
    };
    // One pass over the request's names (the signed list is sorted), rather
    // than parsing and hashing every signed name for a map lookup.
    let mut sources: Vec<Option<HeaderSource<'_>>> = vec![None; signed_headers.len()];
    for name in parts.headers.keys() {
        if let Some(slot) = signed_headers
            .binary_search(&name.as_str())
            .ok()
            .and_then(|i| sources.get_mut(i))
        {
            *slot = Some(HeaderSource::Request(name));
        }
    }
    let mut headers = Vec::with_capacity(signed_headers.len());
    for (&name, source) in signed_headers.iter().zip(sources) {
        let source = match source {
            Some(s) => s,
            None if name == "host" && !has_host_header => HeaderSource::Value(
                uri_host
                    .as_deref()
                    .ok_or_else(|| SigV4Error::SignedHeaderAbsent(name.to_owned()))?
                    .as_bytes(),
            ),
            None => return Err(SigV4Error::SignedHeaderAbsent(name.to_owned())),
        };
        headers.push(CanonicalHeader { name, source });
    }

    let skip_token = !settings.sign_session_token;
    let query = canonical::canonical_query(
        fields
            .query
            .iter()
            .filter(|(k, _)| {
                !(fields.presigned
                    && (k.as_ref() == b"X-Amz-Signature"
                        || (skip_token && k.as_ref() == b"X-Amz-Security-Token")))
            })
            .map(|(k, v)| (k.as_ref(), v.as_ref())),
    );
    let canonical_request = canonical::canonical_request(
        &CanonicalParts {
            method: parts.method.as_str(),
            path: parts.uri.path(),
            normalize: settings.normalize_path,
            double_encode: settings.double_uri_encode,
            query: &query,
            headers: &headers,
            signed_headers: &fields.signed_headers,
            payload_hash,
        },
        &parts.headers,
    );
    Ok(Prepared {
        signature,
        canonical_request,
    })
}

/// The value of a header that may appear at most once.
fn single_header<'a>(
    parts: &'a Parts,
    name: &'static str,
) -> Result<Option<&'a http::HeaderValue>, SigV4Error> {
    let mut all = parts.headers.get_all(name).iter();
    match (all.next(), all.next()) {
        (Some(_), Some(_)) => Err(SigV4Error::DuplicateHeader(name)),
        (v, _) => Ok(v),
    }
}

/// The request's session token (header or presigned query) and whether the
/// signature covers it.
fn session_token<'a>(
    parts: &'a Parts,
    fields: &Fields<'a>,
    signed_headers: &[&str],
    settings: &SigningSettings,
) -> Result<Option<(Cow<'a, str>, bool)>, SigV4Error> {
    let header = match single_header(parts, X_AMZ_SECURITY_TOKEN)? {
        Some(v) => Some(
            v.to_str()
                .map_err(|_| {
                    SigV4Error::MalformedAuthorization("non-ascii `x-amz-security-token`".into())
                })?
                .trim_matches(OWS),
        ),
        None => None,
    };
    let token = match (&fields.session_token, header) {
        (Some(_), Some(_)) => return Err(SigV4Error::AmbiguousSessionToken),
        // The verifier puts the query parameter in the canonical query
        // exactly when `sign_session_token` is on.
        (Some(q), None) => Some((q.clone(), settings.sign_session_token)),
        (None, Some(h)) => Some((
            Cow::Borrowed(h),
            signed_headers.contains(&X_AMZ_SECURITY_TOKEN),
        )),
        (None, None) => None,
    };
    if settings.sign_session_token && token.as_ref().is_some_and(|(_, signed)| !signed) {
        // Reporting it as the signer's would let anyone on the path choose
        // the session the request is attributed to.
        return Err(SigV4Error::MissingSignedHeader(X_AMZ_SECURITY_TOKEN));
    }
    Ok(token)
}

const X_AMZ_SECURITY_TOKEN: &str = "x-amz-security-token";
const X_AMZ_CONTENT_SHA256: &str = "x-amz-content-sha256";

/// The payload line the signer must have used. A request's
/// `x-amz-content-sha256` is what the signer says it hashed (signed or not:
/// the payload line is part of what the signature covers, so a changed
/// header fails the signature); when the verifier has the body it must
/// match it.
fn payload_line<'p>(
    declared: Option<Cow<'p, str>>,
    payload: Payload<'p>,
    allow_unsigned_payload: bool,
) -> Result<Cow<'p, str>, SigV4Error> {
    let Some(declared) = declared else {
        return payload.hash();
    };
    let is_hash = canonical::decode_hex32(&declared).is_some();
    match payload {
        Payload::Unsigned => Ok(declared),
        _ if !is_hash => {
            if allow_unsigned_payload && declared == UNSIGNED_PAYLOAD {
                Ok(declared)
            } else {
                Err(SigV4Error::UnsignedPayloadNotAllowed(truncate(&declared)))
            }
        }
        Payload::Bytes(_) | Payload::Precomputed(_) => {
            let computed = payload.hash()?;
            if computed == declared {
                Ok(declared)
            } else {
                Err(SigV4Error::PayloadHashMismatch {
                    signed: declared.into_owned(),
                    computed: computed.into_owned(),
                })
            }
        }
    }
}

/// Verifies a SigV4-signed request, header or presigned form.
///
/// `lookup` maps an access key id to its secret access key (`None`: unknown
/// key). `payload` is the body as received ([`Payload::Bytes`]), its hash, or
/// [`Payload::Unsigned`] when the body is not checked here; a signed
/// `x-amz-content-sha256` must match a body that is given. `params` holds the
/// expected region and service, `now`, the allowed skew and the signer's
/// canonicalisation settings.
///
/// Checks, in order: one signature form, strict parsing, credential scope
/// date = request date, region, service, time (skew; presigned: not
/// expired), `host`, the date header and (with `sign_session_token`, the
/// default) a session token signed, the payload line against the body,
/// the key, then the signature in constant time. When the signature fails,
/// it is tried once more over `UNSIGNED-PAYLOAD` and over the body's hash
/// to tell a payload problem ([`SigV4Error::UndeclaredUnsignedPayload`],
/// [`SigV4Error::ContentSha256Mismatch`]) from a bad signature.
///
/// An S3 presigned URL signs `UNSIGNED-PAYLOAD` without saying so in the
/// request: verify it with [`Payload::Unsigned`] (or allow unsigned
/// payloads); given the body instead, it is refused with
/// [`SigV4Error::UndeclaredUnsignedPayload`], which says so.
///
/// With a [`SigningKeyCache`](super::SigningKeyCache) this hashes the
/// returned secret on every call to find its cached key;
/// [`verify_with_credentials`] skips that (the fingerprint is computed once,
/// in [`Credentials::new`]).
///
/// # Errors
/// A [`SigV4Error`] naming the first check that failed.
pub fn verify<F>(
    parts: &Parts,
    payload: Payload<'_>,
    lookup: F,
    params: &VerifyParams<'_>,
) -> Result<VerifiedSigner, SigV4Error>
where
    F: FnOnce(&str) -> Option<Secret<String>>,
{
    verify_inner(parts, payload, params, |scope| {
        let secret = lookup(scope.access_key_id)?;
        let secret_bytes = secret.expose().as_bytes();
        let fingerprint = match params.key_cache {
            Some(_) => super::fingerprint(secret_bytes),
            None => [0u8; 32],
        };
        Some(signing_key(
            params.key_cache,
            &fingerprint,
            secret_bytes,
            scope.date,
            scope.region,
            scope.service,
        ))
    })
}

/// Verifies a SigV4-signed request as [`verify`] does, with `lookup`
/// returning the signer's stored [`Credentials`] instead of a fresh secret:
/// no allocation for the secret and, with a
/// [`SigningKeyCache`](super::SigningKeyCache), no hashing of it per request.
///
/// The credentials must carry the access key id they were looked up by
/// (anything else counts as an unknown key). Their session token, if any,
/// is not compared with the request's: check
/// [`VerifiedSigner::session_token`] where that matters.
///
/// ```
/// # use edge_auth::sigv4::{self, Credentials, Payload, SigningParams, VerifyParams};
/// # use time::macros::datetime;
/// # let now = datetime!(2026-11-23 10:00:00 UTC);
/// let keys = std::collections::HashMap::from([(
///     "AKIDEXAMPLE".to_owned(),
///     Credentials::new("AKIDEXAMPLE", "wJalrXUtnFEMI/K7MDENG+bPxRfiCYEXAMPLEKEY"),
/// )]);
/// # let (parts, body) = http::Request::get("https://api.example.com/items")
/// #     .body(Vec::new()).unwrap().into_parts();
/// # let out = sigv4::sign(&parts, Payload::Bytes(&body), &keys["AKIDEXAMPLE"],
/// #     &SigningParams::new("us-east-1", "execute-api", now))?;
/// # let mut request = http::Request::from_parts(parts, body);
/// # out.apply_to(&mut request)?;
/// # let (parts, body) = request.into_parts();
/// let signer = sigv4::verify_with_credentials(
///     &parts,
///     Payload::Bytes(&body),
///     |akid| keys.get(akid),
///     &VerifyParams::new("us-east-1", "execute-api", now),
/// )?;
/// assert_eq!(signer.access_key_id, "AKIDEXAMPLE");
/// # Ok::<(), edge_auth::sigv4::SigV4Error>(())
/// ```
///
/// # Errors
/// As [`verify`].
pub fn verify_with_credentials<'c, F>(
    parts: &Parts,
    payload: Payload<'_>,
    lookup: F,
    params: &VerifyParams<'_>,
) -> Result<VerifiedSigner, SigV4Error>
where
    F: FnOnce(&str) -> Option<&'c Credentials>,
{
    verify_inner(parts, payload, params, |scope| {
        let creds = lookup(scope.access_key_id)
            .filter(|c| c.access_key_id.as_str() == scope.access_key_id)?;
        Some(signing_key(
            params.key_cache,
            &creds.fingerprint,
            creds.secret_access_key.expose().as_bytes(),
            scope.date,
            scope.region,
            scope.service,
        ))
    })
}

/// The checks shared by both lookups; `key_for` returns the signing key of
/// the scope's access key id (`None`: unknown key).
fn verify_inner(
    parts: &Parts,
    payload: Payload<'_>,
    params: &VerifyParams<'_>,
    key_for: impl FnOnce(&Scope<'_>) -> Option<hmac::Key>,
) -> Result<VerifiedSigner, SigV4Error> {
    let fields = extract(parts, params.now)?;
    let scope = parse_credential(&fields.credential)?;
    if scope.date != fields.amz_date.get(..8).unwrap_or_default() {
        return Err(SigV4Error::ScopeDateMismatch {
            scope_date: scope.date.to_owned(),
            request_date: fields.amz_date.clone().into_owned(),
        });
    }
    if scope.region != params.region {
        return Err(SigV4Error::WrongRegion {
            expected: params.region.to_owned(),
            found: scope.region.to_owned(),
        });
    }
    if scope.service != params.service {
        return Err(SigV4Error::WrongService {
            expected: params.service.to_owned(),
            found: scope.service.to_owned(),
        });
    }
    let skew = fields.signed_at - params.now;
    let too_far = match fields.expires_secs {
        // Header form: either direction. Presigned: only signed in the future.
        None => skew.abs() > params.max_skew,
        Some(_) => skew > params.max_skew,
    };
    if too_far {
        return Err(SigV4Error::RequestTimeSkewed {
            signed_at: crate::time::display(fields.signed_at),
            now: crate::time::display(params.now),
            skew_secs: skew.whole_seconds(),
            max_skew_secs: params.max_skew.whole_seconds(),
        });
    }
    let expires_at = fields
        .expires_secs
        .map(|e| fields.signed_at.saturating_add(time::Duration::seconds(e)));
    if let Some(expires_at) = expires_at.filter(|e| params.now > *e) {
        return Err(SigV4Error::Expired {
            expires_at: crate::time::display(expires_at),
            now: crate::time::display(params.now),
            secs_past: (params.now - expires_at).whole_seconds(),
        });
    }
    let signed = parse_signed_headers(&fields.signed_headers)?;
    if !signed.contains(&"host") {
        return Err(SigV4Error::MissingSignedHeader("host"));
    }
    if let Some(date_header) = fields.date_header.filter(|d| !signed.contains(d)) {
        return Err(SigV4Error::MissingSignedHeader(date_header));
    }
    let token = session_token(parts, &fields, &signed, &params.settings)?;
    let declared =
        single_header(parts, X_AMZ_CONTENT_SHA256)?.map(|v| String::from_utf8_lossy(v.as_bytes()));
    let line = payload_line(declared.clone(), payload, params.allow_unsigned_payload)?;

    // The credential is `AKID/<scope>` and the parse checked the scope's
    // shape, so the scope is the text after the first `/`.
    let scope_str = fields
        .credential
        .split_once('/')
        .map_or("", |(_, scope)| scope);
    let mut key = None;
    let mut key_for = Some(key_for);
    let mut verifies = |line: &str| -> Result<bool, SigV4Error> {
        let prepared = prepare(parts, &fields, &signed, line, &params.settings)?;
        if key.is_none() {
            key = key_for.take().and_then(|f| f(&scope));
        }
        let key = key
            .as_ref()
            .ok_or_else(|| SigV4Error::UnknownAccessKey(truncate(scope.access_key_id)))?;
        // Compare raw MACs (the provided signature was hex-decoded while
        // parsing), in constant time.
        let mut string_to_sign = prepared.canonical_request;
        canonical::canonical_request_into_string_to_sign(
            &mut string_to_sign,
            &fields.amz_date,
            scope_str,
        );
        Ok(hmac::verify(key, &string_to_sign, &prepared.signature).is_ok())
    };
    if !verifies(&line)? {
        // Say why when the signature holds over another payload line: the
        // S3 presigned convention (`UNSIGNED-PAYLOAD`, no header) checked
        // against a body, or an `x-amz-content-sha256` that is not what was
        // signed. At most two more MACs, on the failure path only.
        let unsigned = (line != UNSIGNED_PAYLOAD).then_some(Cow::Borrowed(UNSIGNED_PAYLOAD));
        let body = match payload {
            Payload::Bytes(_) | Payload::Precomputed(_) if declared.is_some() => {
                payload.hash().ok().filter(|h| *h != line)
            }
            _ => None,
        };
        let mut signed_line = None;
        for alt in [unsigned, body].into_iter().flatten() {
            if verifies(&alt)? {
                signed_line = Some(alt);
                break;
            }
        }
        match (signed_line, &declared) {
            (None, _) => return Err(SigV4Error::SignatureMismatch),
            (Some(signed), Some(header)) => {
                return Err(SigV4Error::ContentSha256Mismatch {
                    header: truncate(header),
                    signed: signed.into_owned(),
                });
            }
            (Some(_), None) if !params.allow_unsigned_payload => {
                return Err(SigV4Error::UndeclaredUnsignedPayload);
            }
            // Signed over `UNSIGNED-PAYLOAD`, which the caller allows.
            (Some(_), None) => {}
        }
    }

    Ok(VerifiedSigner {
        access_key_id: scope.access_key_id.to_owned(),
        region: scope.region.to_owned(),
        service: scope.service.to_owned(),
        signed_at: fields.signed_at,
        expires_at,
        signed_headers: signed.iter().map(|s| (*s).to_owned()).collect(),
        session_token: token
            .as_ref()
            .filter(|(_, signed)| *signed)
            .map(|(t, _)| Secret::new(t.clone().into_owned())),
        unsigned_session_token: token
            .as_ref()
            .filter(|(_, signed)| !*signed)
            .map(|(t, _)| Secret::new(t.clone().into_owned())),
        presigned: fields.presigned,
    })
}

/// The canonical request a verifier builds for `parts` (fuzzing).
pub(crate) fn canonical_request_for_fuzz(parts: &Parts) -> Result<Vec<u8>, SigV4Error> {
    let fields = extract(parts, time::OffsetDateTime::UNIX_EPOCH)?;
    parse_credential(&fields.credential)?;
    let signed = parse_signed_headers(&fields.signed_headers)?;
    let declared =
        single_header(parts, X_AMZ_CONTENT_SHA256)?.map(|v| String::from_utf8_lossy(v.as_bytes()));
    let line = payload_line(declared, Payload::Unsigned, true)?;
    let prepared = prepare(parts, &fields, &signed, &line, &SigningSettings::default())?;
    Ok(prepared.canonical_request)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_authorization() {
        let a = parse_authorization(b"AWS4-HMAC-SHA256 Credential=AK/20150830/us-east-1/service/aws4_request, SignedHeaders=host;x-amz-date, Signature=abc").unwrap();
        assert_eq!(a.signed_headers, "host;x-amz-date");
        let a =
            parse_authorization(b"AWS4-HMAC-SHA256 Signature=abc,Credential=c,SignedHeaders=host")
                .unwrap();
        assert_eq!(a.signature, "abc");
        assert!(matches!(
            parse_authorization(b"AWS4-HMAC-SHA256 Credential=a, Credential=b, SignedHeaders=host, Signature=x"),
            Err(SigV4Error::DuplicateAuthorizationPart(p)) if p == "Credential"
        ));
        assert!(matches!(
            parse_authorization(b"AWS4-HMAC-SHA1 Credential=a"),
            Err(SigV4Error::UnsupportedAlgorithm(_))
        ));
        for bad in [
            &b"AWS4-HMAC-SHA256"[..],
            b"AWS4-HMAC-SHA256 Credential=a, SignedHeaders=host",
            b"AWS4-HMAC-SHA256 Credential=a, SignedHeaders=host, Signature=x, Extra=1",
            b"AWS4-HMAC-SHA256 Credential=a, SignedHeaders=host, Signature=x,",
            b"AWS4-HMAC-SHA256 Credential, SignedHeaders=host, Signature=x",
        ] {
            assert!(
                matches!(
                    parse_authorization(bad),
                    Err(SigV4Error::MalformedAuthorization(_))
                ),
                "{}",
                String::from_utf8_lossy(bad)
            );
        }
    }

    #[test]
    fn parses_credential_and_signed_headers() {
        assert!(parse_credential("AK/20150830/us-east-1/s3/aws4_request").is_ok());
        for bad in [
            "AK/2015083/us-east-1/s3/aws4_request",
            "AK/20150830/us-east-1/s3/aws4_reques",
            "/20150830/us-east-1/s3/aws4_request",
            "AK/20150830/us-east-1/s3/aws4_request/x",
            "AK/20150830//s3/aws4_request",
        ] {
            assert!(parse_credential(bad).is_err(), "{bad}");
        }
        assert!(parse_signed_headers("host;x-amz-date").is_ok());
        for bad in ["", "x-amz-date;host", "host;host", "Host", "host;;x"] {
            assert!(parse_signed_headers(bad).is_err(), "{bad}");
        }
    }
}
