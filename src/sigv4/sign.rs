//! Signing and presigning (SigV4 "Add the signature to the request": the
//! `Authorization` header form and the query-string form), plus the signing
//! key derivation and its caller-owned cache.

use std::fmt;
use std::sync::Mutex;

use http::request::Parts;
use http::{HeaderName, HeaderValue};
use ring::hmac;

use super::canonical::{
    self, ALGORITHM, CanonicalHeader, CanonicalParts, HeaderSource, TERMINATOR,
};
use super::{Credentials, MAX_PRESIGN_EXPIRES, Payload, SigV4Error, SigningParams};

const X_AMZ_DATE: &str = "x-amz-date";
const X_AMZ_SECURITY_TOKEN: &str = "x-amz-security-token";
const X_AMZ_CONTENT_SHA256: &str = "x-amz-content-sha256";

/// The query parameters a presigned URL carries.
pub(crate) const PRESIGN_PARAMS: [&[u8]; 7] = [
    b"X-Amz-Algorithm",
    b"X-Amz-Credential",
    b"X-Amz-Date",
    b"X-Amz-Expires",
    b"X-Amz-SignedHeaders",
    b"X-Amz-Signature",
    b"X-Amz-Security-Token",
];

/// Derived SigV4 signing keys, keyed by (secret, date, region, service).
///
/// Deriving a key costs four HMACs; a cache turns that into a lookup for
/// every request of the same day, region and service. The cache is owned by
/// the caller (no global state), bounded (oldest entry evicted first) and
/// keyed by a SHA-256 fingerprint of the secret, never the secret itself.
/// It is `Sync`: share one per process or per Worker isolate.
pub struct SigningKeyCache {
    entries: Mutex<Vec<CacheEntry>>,
    capacity: usize,
}

struct CacheEntry {
    fingerprint: [u8; 32],
    date: [u8; 8],
    region: Box<str>,
    service: Box<str>,
    key: hmac::Key,
}

impl SigningKeyCache {
    /// The default number of keys kept.
    pub const DEFAULT_CAPACITY: usize = 32;

    /// A cache holding at most `capacity` keys (at least one).
    pub fn new(capacity: usize) -> Self {
        Self {
            entries: Mutex::new(Vec::new()),
            capacity: capacity.max(1),
        }
    }

    /// Number of keys currently cached.
    pub fn len(&self) -> usize {
        self.lock().len()
    }

    /// Whether no key is cached.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, Vec<CacheEntry>> {
        // A panic while holding the lock cannot leave an entry half-written
        // (entries are pushed whole), so a poisoned cache is still sound.
        self.entries
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
    }

    pub(crate) fn get_or_derive(
        &self,
        fingerprint: &[u8; 32],
        secret: &[u8],
        date: &str,
        region: &str,
        service: &str,
    ) -> hmac::Key {
        let date8: [u8; 8] = date_bytes(date);
        {
            let entries = self.lock();
            if let Some(e) = entries.iter().find(|e| {
                e.date == date8
                    && &e.fingerprint == fingerprint
                    && &*e.region == region
                    && &*e.service == service
            }) {
                return e.key.clone();
            }
        }
        let key = derive_signing_key(secret, date, region, service);
        let mut entries = self.lock();
        if entries.len() >= self.capacity {
            entries.remove(0);
        }
        entries.push(CacheEntry {
            fingerprint: *fingerprint,
            date: date8,
            region: region.into(),
            service: service.into(),
            key: key.clone(),
        });
        key
    }
}

impl Default for SigningKeyCache {
    fn default() -> Self {
        Self::new(Self::DEFAULT_CAPACITY)
    }
}

impl fmt::Debug for SigningKeyCache {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("SigningKeyCache")
            .field("len", &self.len())
            .field("capacity", &self.capacity)
            .finish_non_exhaustive()
    }
}

fn date_bytes(date: &str) -> [u8; 8] {
    let mut out = [0u8; 8];
    out.iter_mut()
        .zip(date.as_bytes())
        .for_each(|(o, b)| *o = *b);
    out
}

/// kSigning = HMAC(HMAC(HMAC(HMAC("AWS4" + secret, date), region), service), "aws4_request").
pub(crate) fn derive_signing_key(
    secret: &[u8],
    date: &str,
    region: &str,
    service: &str,
) -> hmac::Key {
    // The "AWS4" + secret seed is key material: wiped when dropped.
    let seed = crate::secret::Secret::new({
        let mut v = Vec::with_capacity(4 + secret.len());
        v.extend_from_slice(b"AWS4");
        v.extend_from_slice(secret);
        v
    });
    let mut k = hmac::Key::new(hmac::HMAC_SHA256, seed.expose());
    drop(seed);
    for part in [date.as_bytes(), region.as_bytes(), service.as_bytes()] {
        let tag = hmac::sign(&k, part);
        k = hmac::Key::new(hmac::HMAC_SHA256, tag.as_ref());
    }
    let tag = hmac::sign(&k, TERMINATOR.as_bytes());
    hmac::Key::new(hmac::HMAC_SHA256, tag.as_ref())
}

pub(crate) fn signing_key(
    cache: Option<&SigningKeyCache>,
    fingerprint: &[u8; 32],
    secret: &[u8],
    date: &str,
    region: &str,
    service: &str,
) -> hmac::Key {
    match cache {
        Some(c) => c.get_or_derive(fingerprint, secret, date, region, service),
        None => derive_signing_key(secret, date, region, service),
    }
}

/// Region, service and access key id go into `/`-separated scopes and
/// headers: refuse what would make them ambiguous.
pub(crate) fn valid_scope_part(s: &str) -> bool {
    !s.is_empty()
        && s.bytes()
            .all(|b| b.is_ascii_graphic() && b != b'/' && b != b',' && b != b'=')
}

/// What [`sign`] or [`presign`] computed: the headers or query parameters to
/// add, the signature, and the intermediate strings (for debugging a
/// signature mismatch: AWS error responses quote their canonical request).
#[derive(Clone)]
pub struct SigningOutput {
    headers: Vec<(HeaderName, HeaderValue)>,
    params: Vec<(&'static str, String)>,
    presigned_uri: Option<http::Uri>,
    signature: String,
    canonical_request: Vec<u8>,
    string_to_sign: String,
}

impl fmt::Debug for SigningOutput {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        // The session token is a credential: it is redacted wherever it is.
        let params: Vec<(&str, &str)> = self
            .params
            .iter()
            .map(|(k, v)| {
                if *k == "X-Amz-Security-Token" {
                    (*k, "** redacted **")
                } else {
                    (*k, v.as_str())
                }
            })
            .collect();
        f.debug_struct("SigningOutput")
            .field("headers", &self.headers)
            .field("params", &params)
            .field("signature", &self.signature)
            .finish_non_exhaustive()
    }
}

impl SigningOutput {
    /// Headers [`apply_to`](Self::apply_to) sets (header signing): `x-amz-date`,
    /// `authorization`, and when applicable `x-amz-content-sha256` and
    /// `x-amz-security-token`. Values carrying credentials are marked
    /// sensitive.
    pub fn headers(&self) -> &[(HeaderName, HeaderValue)] {
        &self.headers
    }

    /// Query parameters (presigning), unencoded, in the order they are
    /// appended: `X-Amz-Algorithm`, `X-Amz-Credential`, `X-Amz-Date`,
    /// `X-Amz-Expires`, `X-Amz-SignedHeaders`, `X-Amz-Signature`, and
    /// `X-Amz-Security-Token` when there is a session token.
    pub fn query_params(&self) -> &[(&'static str, String)] {
        &self.params
    }

    /// The presigned URL ([`presign`] only).
    pub fn presigned_uri(&self) -> Option<&http::Uri> {
        self.presigned_uri.as_ref()
    }

    /// The signature, 64 lowercase hex digits.
    pub fn signature(&self) -> &str {
        &self.signature
    }

    /// The canonical request that was signed (bytes: header values may hold
    /// non-UTF-8 `obs-text`).
    pub fn canonical_request(&self) -> &[u8] {
        &self.canonical_request
    }

    /// The string to sign.
    pub fn string_to_sign(&self) -> &str {
        &self.string_to_sign
    }

    /// Adds the signature to `request`: sets the headers (replacing any of
    /// the same name) or, for a presigned request, appends the query
    /// parameters to its URI.
    ///
    /// # Errors
    /// [`SigV4Error::InvalidUri`] if the URI with the added parameters does
    /// not parse (it always does for a URI that parsed before).
    pub fn apply_to<B>(&self, request: &mut http::Request<B>) -> Result<(), SigV4Error> {
        for (name, value) in &self.headers {
            request.headers_mut().insert(name.clone(), value.clone());
        }
        if !self.params.is_empty() {
            *request.uri_mut() = append_query(request.uri(), &self.params)?;
        }
        Ok(())
    }
}

/// `uri` with `params` appended to its query, each name and value
/// SigV4-encoded.
fn append_query(
    uri: &http::Uri,
    params: &[(&'static str, String)],
) -> Result<http::Uri, SigV4Error> {
    let mut pq = Vec::with_capacity(uri.path().len() + 512);
    let path = uri.path();
    pq.extend_from_slice(if path.is_empty() { "/" } else { path }.as_bytes());
    pq.push(b'?');
    if let Some(q) = uri.query().filter(|q| !q.is_empty()) {
        pq.extend_from_slice(q.as_bytes());
        pq.push(b'&');
    }
    for (i, (k, v)) in params.iter().enumerate() {
        if i > 0 {
            pq.push(b'&');
        }
        canonical::encode_into(&mut pq, k.as_bytes(), false);
        pq.push(b'=');
        canonical::encode_into(&mut pq, v.as_bytes(), false);
    }
    let mut parts = uri.clone().into_parts();
    parts.path_and_query = Some(
        http::uri::PathAndQuery::try_from(pq).map_err(|e| SigV4Error::InvalidUri(e.to_string()))?,
    );
    http::Uri::from_parts(parts).map_err(|e| SigV4Error::InvalidUri(e.to_string()))
}

/// Signs `parts` with the `Authorization` header.
///
/// The request must carry a `Host` header or an absolute URI. Headers in
/// `settings.excluded_headers` are not signed; `x-amz-date` (and
/// `x-amz-security-token` / `x-amz-content-sha256` when used) are computed
/// here and replace any the request has. `x-amz-content-sha256` is added
/// and signed with the payload line whenever the payload is not
/// [`Payload::Bytes`] (e.g. `UNSIGNED-PAYLOAD`), when
/// `settings.sign_content_sha256` is set, or when the request already
/// carries one, so that a verifier always learns what was signed. Apply the
/// result with [`SigningOutput::apply_to`].
///
/// # Errors
/// [`SigV4Error::MissingHost`], [`SigV4Error::InvalidTime`],
/// [`SigV4Error::InvalidScope`], [`SigV4Error::InvalidPayloadHash`],
/// [`SigV4Error::InvalidHeaderValue`].
pub fn sign(
    parts: &Parts,
    payload: Payload<'_>,
    credentials: &Credentials,
    params: &SigningParams<'_>,
) -> Result<SigningOutput, SigV4Error> {
    sign_inner(parts, payload, credentials, params, None)
}

/// Presigns `parts`: the signature goes into the query string, valid for
/// `expires_in` (1 s to 7 days, whole seconds) from `params.time`. The
/// output's [`presigned_uri`](SigningOutput::presigned_uri) is the URL to
/// hand out. Pass [`Payload::Unsigned`] for S3 presigned URLs.
///
/// # Errors
/// As [`sign`], plus [`SigV4Error::InvalidExpires`].
pub fn presign(
    parts: &Parts,
    payload: Payload<'_>,
    credentials: &Credentials,
    params: &SigningParams<'_>,
    expires_in: time::Duration,
) -> Result<SigningOutput, SigV4Error> {
    if expires_in < time::Duration::SECOND
        || expires_in > MAX_PRESIGN_EXPIRES
        || expires_in.subsec_nanoseconds() != 0
    {
        return Err(SigV4Error::InvalidExpires(expires_in.to_string()));
    }
    let secs = u32::try_from(expires_in.whole_seconds())
        .map_err(|_| SigV4Error::InvalidExpires(expires_in.to_string()))?;
    sign_inner(parts, payload, credentials, params, Some(secs))
}

fn sensitive(name: &'static str, value: &str) -> Result<HeaderValue, SigV4Error> {
    let mut v = HeaderValue::from_str(value).map_err(|_| SigV4Error::InvalidHeaderValue(name))?;
    v.set_sensitive(true);
    Ok(v)
}

fn sign_inner(
    parts: &Parts,
    payload: Payload<'_>,
    credentials: &Credentials,
    params: &SigningParams<'_>,
    presign_expires: Option<u32>,
) -> Result<SigningOutput, SigV4Error> {
    let settings = &params.settings;
    let amz_date = canonical::format_amz_date(params.time)
        .ok_or_else(|| SigV4Error::InvalidTime(crate::time::display(params.time)))?;
    let date = amz_date.get(..8).unwrap_or_default();
    for (what, value) in [
        ("region", params.region),
        ("service", params.service),
        ("access key id", credentials.access_key_id.as_str()),
    ] {
        if !valid_scope_part(value) {
            return Err(SigV4Error::InvalidScope {
                what,
                value: value.to_owned(),
            });
        }
    }
    let scope = format!("{date}/{}/{}/{TERMINATOR}", params.region, params.service);
    let payload_hash = payload.hash()?;
    let token = credentials
        .session_token
        .as_ref()
        .map(|t| t.expose().as_str());
    let sign_token = token.filter(|_| settings.sign_session_token);

    // Canonical headers: the request's own, minus excluded ones and those we
    // compute, plus host (from the URI when there is no Host header).
    let header_form = presign_expires.is_none();
    // The payload line travels in `x-amz-content-sha256` (signed) whenever
    // a verifier could not recompute it from the body it receives
    // (`UNSIGNED-PAYLOAD`, a sentinel or a hash computed elsewhere), or the
    // request already carries one (replaced, so it always says what was
    // signed). Only a body given as bytes goes without, by default.
    let send_content_sha256 = header_form
        && (settings.sign_content_sha256
            || !matches!(payload, Payload::Bytes(_))
            || parts.headers.contains_key(X_AMZ_CONTENT_SHA256));
    let ours = |n: &str| {
        header_form
            && (n == X_AMZ_DATE
                || (n == X_AMZ_SECURITY_TOKEN && token.is_some())
                || (n == X_AMZ_CONTENT_SHA256 && send_content_sha256))
    };
    let mut headers: Vec<CanonicalHeader<'_>> = Vec::with_capacity(parts.headers.keys_len() + 4);
    for name in parts.headers.keys() {
        let n = name.as_str();
        if ours(n)
            || settings.excluded_headers.iter().any(|e| e == name)
            || (!settings.sign_session_token && n == X_AMZ_SECURITY_TOKEN)
            || (!header_form && (n == "x-amz-user-agent" || n == "x-amz-checksum-mode"))
        {
            continue;
        }
        headers.push(CanonicalHeader {
            name: n,
            source: HeaderSource::Request(name),
        });
    }
    let uri_host;
    if !parts.headers.contains_key(http::header::HOST) {
        uri_host = canonical::host_from_uri(&parts.uri).ok_or(SigV4Error::MissingHost)?;
        headers.push(CanonicalHeader {
            name: "host",
            source: HeaderSource::Value(uri_host.as_bytes()),
        });
    }
    if header_form {
        headers.push(CanonicalHeader {
            name: X_AMZ_DATE,
            source: HeaderSource::Value(amz_date.as_bytes()),
        });
        if let Some(t) = sign_token {
            headers.push(CanonicalHeader {
                name: X_AMZ_SECURITY_TOKEN,
                source: HeaderSource::Value(t.as_bytes()),
            });
        }
        if send_content_sha256 {
            headers.push(CanonicalHeader {
                name: X_AMZ_CONTENT_SHA256,
                source: HeaderSource::Value(payload_hash.as_bytes()),
            });
        }
    }
    headers.sort_unstable_by(|a, b| a.name.cmp(b.name));
    let mut signed_headers = String::with_capacity(headers.len() * 16);
    for (i, h) in headers.iter().enumerate() {
        if i > 0 {
            signed_headers.push(';');
        }
        signed_headers.push_str(h.name);
    }

    let credential = format!("{}/{scope}", credentials.access_key_id);
    let expires_str = presign_expires.map(|e| e.to_string());
    let query = match (&expires_str, parts.uri.query()) {
        (None, None) => Vec::new(),
        (None, Some(q)) => {
            let pairs = canonical::parse_query(q);
            canonical::canonical_query(pairs.iter().map(|(k, v)| (k.as_ref(), v.as_ref())))
        }
        (Some(expires), q) => {
            let pairs = canonical::parse_query(q.unwrap_or_default());
            // A URL that already carries presign parameters would end up with
            // two of them, which verifiers (this one included) refuse.
            if let Some((k, _)) = pairs
                .iter()
                .find(|(k, _)| PRESIGN_PARAMS.contains(&k.as_ref()))
            {
                return Err(SigV4Error::DuplicateQueryParam(
                    String::from_utf8_lossy(k).into_owned(),
                ));
            }
            let mut all: Vec<(&[u8], &[u8])> = pairs
                .iter()
                .map(|(k, v)| (k.as_ref(), v.as_ref()))
                .collect();
            all.push((b"X-Amz-Algorithm", ALGORITHM.as_bytes()));
            all.push((b"X-Amz-Credential", credential.as_bytes()));
            all.push((b"X-Amz-Date", amz_date.as_bytes()));
            all.push((b"X-Amz-Expires", expires.as_bytes()));
            all.push((b"X-Amz-SignedHeaders", signed_headers.as_bytes()));
            if let Some(t) = sign_token {
                all.push((b"X-Amz-Security-Token", t.as_bytes()));
            }
            canonical::canonical_query(all.into_iter())
        }
    };

    let canonical_request = canonical::canonical_request(
        &CanonicalParts {
            method: parts.method.as_str(),
            path: parts.uri.path(),
            normalize: settings.normalize_path,
            double_encode: settings.double_uri_encode,
            query: &query,
            headers: &headers,
            signed_headers: &signed_headers,
            payload_hash: &payload_hash,
        },
        &parts.headers,
    );
    let string_to_sign = canonical::string_to_sign(&amz_date, &scope, &canonical_request);
    let key = signing_key(
        params.key_cache,
        &credentials.fingerprint,
        credentials.secret_access_key.expose().as_bytes(),
        date,
        params.region,
        params.service,
    );
    let signature = canonical::hex(hmac::sign(&key, string_to_sign.as_bytes()).as_ref());

    let mut out_headers = Vec::new();
    let mut out_params = Vec::new();
    let mut presigned_uri = None;
    match &expires_str {
        None => {
            let date_value = HeaderValue::from_str(&amz_date)
                .map_err(|_| SigV4Error::InvalidHeaderValue(X_AMZ_DATE))?;
            out_headers.push((HeaderName::from_static(X_AMZ_DATE), date_value));
            let auth = format!(
                "{ALGORITHM} Credential={credential}, SignedHeaders={signed_headers}, Signature={signature}"
            );
            out_headers.push((
                http::header::AUTHORIZATION,
                sensitive("authorization", &auth)?,
            ));
            if send_content_sha256 {
                let v = HeaderValue::from_str(&payload_hash)
                    .map_err(|_| SigV4Error::InvalidHeaderValue(X_AMZ_CONTENT_SHA256))?;
                out_headers.push((HeaderName::from_static(X_AMZ_CONTENT_SHA256), v));
            }
            if let Some(t) = token {
                out_headers.push((
                    HeaderName::from_static(X_AMZ_SECURITY_TOKEN),
                    sensitive(X_AMZ_SECURITY_TOKEN, t)?,
                ));
            }
        }
        Some(expires) => {
            out_params.push(("X-Amz-Algorithm", ALGORITHM.to_owned()));
            out_params.push(("X-Amz-Credential", credential));
            out_params.push(("X-Amz-Date", amz_date.clone()));
            out_params.push(("X-Amz-Expires", expires.clone()));
            out_params.push(("X-Amz-SignedHeaders", signed_headers));
            out_params.push(("X-Amz-Signature", signature.clone()));
            if let Some(t) = token {
                out_params.push(("X-Amz-Security-Token", t.to_owned()));
            }
            presigned_uri = Some(append_query(&parts.uri, &out_params)?);
        }
    }
    Ok(SigningOutput {
        headers: out_headers,
        params: out_params,
        presigned_uri,
        signature,
        canonical_request,
        string_to_sign,
    })
}
