//! AWS Signature Version 4 (`AWS4-HMAC-SHA256`): sign, presign and verify
//! HTTP requests, byte-compatible with the AWS SDKs (AWS General Reference,
//! "Signature Version 4 signing process"; AWS Common Runtime test suite).
//!
//! Pure functions: the signing time and the verifier's `now` come from the
//! caller, and derived signing keys are cached in a [`SigningKeyCache`] the
//! caller owns.
//!
//! ```
//! use edge_auth::Secret;
//! use edge_auth::sigv4::{self, Credentials, Payload, SigningKeyCache, SigningParams, VerifyParams};
//! use time::macros::datetime;
//!
//! let now = datetime!(2026-11-23 10:00:00 UTC);
//! let creds = Credentials::new("AKIDEXAMPLE", "wJalrXUtnFEMI/K7MDENG+bPxRfiCYEXAMPLEKEY");
//! let cache = SigningKeyCache::default(); // share one per process / isolate
//!
//! // Sign: compute, then apply.
//! let (parts, body) = http::Request::post("https://api.example.com/prod/items?limit=10")
//!     .header("content-type", "application/json")
//!     .body(br#"{"hello":"world"}"#.to_vec())
//!     .unwrap()
//!     .into_parts();
//! let mut params = SigningParams::new("us-east-1", "execute-api", now);
//! params.key_cache = Some(&cache);
//! let output = sigv4::sign(&parts, Payload::Bytes(&body), &creds, &params)?;
//! let mut request = http::Request::from_parts(parts, body);
//! output.apply_to(&mut request)?;
//!
//! // Verify on the receiving side.
//! let (parts, body) = request.into_parts();
//! let signer = sigv4::verify(
//!     &parts,
//!     Payload::Bytes(&body),
//!     |akid| (akid == "AKIDEXAMPLE")
//!         .then(|| Secret::new("wJalrXUtnFEMI/K7MDENG+bPxRfiCYEXAMPLEKEY".to_owned())),
//!     &VerifyParams::new("us-east-1", "execute-api", now),
//! )?;
//! assert_eq!(signer.access_key_id, "AKIDEXAMPLE");
//! # Ok::<(), edge_auth::sigv4::SigV4Error>(())
//! ```
//!
//! For S3 use `SigningSettings::s3()` on both sides (no path normalisation,
//! single URI encoding). Presigned URLs last 1 s to 7 days; the AWS signing
//! test suite passes in both the header and the presigned form.

mod canonical;
mod error;
mod sign;
mod verify;

use std::fmt;

use http::HeaderName;
use ring::digest;

use crate::secret::Secret;

pub use error::SigV4Error;
pub use sign::{SigningKeyCache, SigningOutput, presign, sign};
pub use verify::{VerifiedSigner, verify, verify_with_credentials};

/// Internal parsers, reachable only through `edge_auth::__fuzz`.
#[doc(hidden)]
pub mod fuzz {
    pub use super::verify::{AuthorizationHeader, parse_authorization};

    /// The canonical URI of a wire path.
    pub fn canonical_path(path: &str, normalize: bool, double_encode: bool) -> Vec<u8> {
        let mut out = Vec::new();
        super::canonical::append_canonical_path(&mut out, path, normalize, double_encode);
        out
    }

    /// The canonical query string of a raw query.
    pub fn canonical_query(query: &str) -> Vec<u8> {
        let pairs = super::canonical::parse_query(query);
        super::canonical::canonical_query(pairs.iter().map(|(k, v)| (k.as_ref(), v.as_ref())))
    }

    /// A header value trimmed as SigV4 canonical headers are.
    pub fn trim_header_value(value: &[u8]) -> Vec<u8> {
        let mut out = Vec::new();
        super::canonical::append_trimmed(&mut out, value);
        out
    }

    /// The canonical request a verifier reconstructs for `parts`, or why it
    /// cannot (parses the `Authorization` header or the presigned query).
    ///
    /// # Errors
    /// Any parse error of [`super::verify`].
    pub fn verifier_canonical_request(
        parts: &http::request::Parts,
    ) -> Result<Vec<u8>, super::SigV4Error> {
        super::verify::canonical_request_for_fuzz(parts)
    }
}

/// AWS credentials: an access key id, its secret access key and, for
/// temporary credentials, a session token. `Debug` shows the access key id
/// only.
#[derive(Clone)]
pub struct Credentials {
    access_key_id: String,
    secret_access_key: Secret<String>,
    session_token: Option<Secret<String>>,
    /// SHA-256 of the secret: the [`SigningKeyCache`] key, so the cache
    /// never holds the secret itself.
    fingerprint: [u8; 32],
}

impl Credentials {
    /// Long-term credentials (no session token).
    pub fn new(access_key_id: impl Into<String>, secret_access_key: impl Into<String>) -> Self {
        let secret_access_key = Secret::new(secret_access_key.into());
        let fingerprint = fingerprint(secret_access_key.expose().as_bytes());
        Self {
            access_key_id: access_key_id.into(),
            secret_access_key,
            session_token: None,
            fingerprint,
        }
    }

    /// Adds the session token of temporary (STS) credentials.
    #[must_use]
    pub fn with_session_token(mut self, session_token: impl Into<String>) -> Self {
        self.session_token = Some(Secret::new(session_token.into()));
        self
    }

    /// The access key id (not secret).
    pub fn access_key_id(&self) -> &str {
        &self.access_key_id
    }

    /// The session token, if these are temporary credentials.
    pub fn session_token(&self) -> Option<&Secret<String>> {
        self.session_token.as_ref()
    }
}

impl fmt::Debug for Credentials {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Credentials")
            .field("access_key_id", &self.access_key_id)
            .field("secret_access_key", &"** redacted **")
            .field(
                "session_token",
                &self.session_token.as_ref().map(|_| "** redacted **"),
            )
            .finish()
    }
}

pub(crate) fn fingerprint(secret: &[u8]) -> [u8; 32] {
    let d = digest::digest(&digest::SHA256, secret);
    let mut out = [0u8; 32];
    out.iter_mut().zip(d.as_ref()).for_each(|(o, b)| *o = *b);
    out
}

/// The request body as SigV4 sees it.
#[derive(Clone, Copy)]
#[non_exhaustive]
pub enum Payload<'a> {
    /// The body bytes: hashed with SHA-256.
    Bytes(&'a [u8]),
    /// A SHA-256 of the body computed elsewhere, as 64 lowercase hex digits
    /// (or an AWS payload sentinel such as
    /// `STREAMING-AWS4-HMAC-SHA256-PAYLOAD`).
    Precomputed(&'a str),
    /// The body is not signed: `UNSIGNED-PAYLOAD` (S3 presigned URLs,
    /// streaming uploads).
    Unsigned,
}

impl fmt::Debug for Payload<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        // Bodies can carry secrets of their own: show the length only.
        match self {
            Self::Bytes(b) => write!(f, "Bytes({} bytes)", b.len()),
            Self::Precomputed(h) => f.debug_tuple("Precomputed").field(h).finish(),
            Self::Unsigned => f.write_str("Unsigned"),
        }
    }
}

impl<'a> Payload<'a> {
    /// The payload line of the canonical request.
    pub(crate) fn hash(&self) -> Result<std::borrow::Cow<'a, str>, SigV4Error> {
        match self {
            Self::Bytes(b) => Ok(canonical::sha256_hex(b).into()),
            Self::Unsigned => Ok(canonical::UNSIGNED_PAYLOAD.into()),
            Self::Precomputed(h) => {
                let is_hash = canonical::decode_hex32(h).is_some();
                let is_sentinel = !h.is_empty()
                    && h.len() <= 64
                    && h.bytes()
                        .all(|b| b.is_ascii_uppercase() || b.is_ascii_digit() || b == b'-');
                if is_hash || is_sentinel {
                    Ok((*h).into())
                } else {
                    Err(SigV4Error::InvalidPayloadHash((*h).to_owned()))
                }
            }
        }
    }
}

/// How requests are canonicalised and which headers are signed.
///
/// The default is right for every AWS service but S3; use
/// [`SigningSettings::s3`] for S3. A verifier must use the settings the
/// signer used.
#[derive(Clone, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub struct SigningSettings {
    /// Remove `.`/`..` segments and merge `//` in the path before encoding.
    /// Default `true`; S3 needs `false`.
    pub normalize_path: bool,
    /// Percent-encode the (already encoded) wire path a second time.
    /// Default `true`; S3 needs `false` (the object key is encoded once).
    pub double_uri_encode: bool,
    /// Add `x-amz-content-sha256` with the payload hash and sign it (header
    /// signing only) even for a body given as [`Payload::Bytes`]. Default
    /// `false`; S3 requires it. Any other payload (`UNSIGNED-PAYLOAD`, a
    /// precomputed hash) always gets the header, whatever this says.
    pub sign_content_sha256: bool,
    /// Include the session token in the signature. Default `true`; a few
    /// services (IoT) want it added after signing, unsigned.
    pub sign_session_token: bool,
    /// Headers never signed, because proxies and clients change them. The
    /// default is botocore's set (`SIGNED_HEADERS_BLACKLIST`) plus
    /// `authorization` and `proxy-connection`: `user-agent`,
    /// `x-amzn-trace-id`; the hop-by-hop fields intermediaries remove (RFC
    /// 9110 §7.6.1: `connection`, `keep-alive`, `proxy-authenticate`,
    /// `proxy-authorization`, `proxy-connection`, `te`, `trailer`,
    /// `transfer-encoding`, `upgrade`) and `expect`, which proxies answer
    /// themselves; and the W3C Trace Context fields every hop rewrites
    /// (`traceparent`, `tracestate`, `baggage`). A signed header a proxy
    /// drops makes the request unverifiable. Presigning also skips
    /// `x-amz-user-agent` and `x-amz-checksum-mode`, as the SDKs do.
    pub excluded_headers: Vec<HeaderName>,
}

impl Default for SigningSettings {
    fn default() -> Self {
        Self {
            normalize_path: true,
            double_uri_encode: true,
            sign_content_sha256: false,
            sign_session_token: true,
            excluded_headers: vec![
                http::header::AUTHORIZATION,
                http::header::USER_AGENT,
                HeaderName::from_static("x-amzn-trace-id"),
                http::header::TRANSFER_ENCODING,
                // Hop-by-hop (RFC 9110 §7.6.1) and `expect`: gone after a proxy.
                http::header::CONNECTION,
                HeaderName::from_static("keep-alive"),
                http::header::PROXY_AUTHENTICATE,
                http::header::PROXY_AUTHORIZATION,
                HeaderName::from_static("proxy-connection"),
                http::header::TE,
                http::header::TRAILER,
                http::header::UPGRADE,
                http::header::EXPECT,
                // W3C Trace Context / Baggage: each traced hop rewrites them.
                HeaderName::from_static("traceparent"),
                HeaderName::from_static("tracestate"),
                HeaderName::from_static("baggage"),
            ],
        }
    }
}

impl SigningSettings {
    /// S3: no path normalisation, single URI encoding, signed
    /// `x-amz-content-sha256`.
    pub fn s3() -> Self {
        Self {
            normalize_path: false,
            double_uri_encode: false,
            sign_content_sha256: true,
            ..Self::default()
        }
    }
}

/// What to sign for: credential scope, time and settings.
#[derive(Clone, Debug)]
#[non_exhaustive]
pub struct SigningParams<'a> {
    /// Region of the credential scope, e.g. `us-east-1`.
    pub region: &'a str,
    /// Service of the credential scope, e.g. `execute-api`, `s3`, `lambda`.
    pub service: &'a str,
    /// The signing time (any offset; written in UTC).
    pub time: time::OffsetDateTime,
    /// Canonicalisation and header choices.
    pub settings: SigningSettings,
    /// Where derived signing keys are cached; `None` derives one per call.
    pub key_cache: Option<&'a SigningKeyCache>,
}

impl<'a> SigningParams<'a> {
    /// Params with default settings and no key cache.
    pub fn new(region: &'a str, service: &'a str, time: time::OffsetDateTime) -> Self {
        Self {
            region,
            service,
            time,
            settings: SigningSettings::default(),
            key_cache: None,
        }
    }
}

/// The default allowed clock skew between a request's signing time and the
/// verifier's `now`, as AWS services allow.
pub const DEFAULT_MAX_SKEW: time::Duration = time::Duration::minutes(15);

/// The longest presigned URL lifetime SigV4 allows: 7 days.
pub const MAX_PRESIGN_EXPIRES: time::Duration = time::Duration::days(7);

/// What a verifier accepts.
#[derive(Clone, Debug)]
#[non_exhaustive]
pub struct VerifyParams<'a> {
    /// The region the credential scope must name.
    pub region: &'a str,
    /// The service the credential scope must name.
    pub service: &'a str,
    /// The verifier's current time.
    pub now: time::OffsetDateTime,
    /// Allowed distance between the request's signing time and `now`
    /// (header signatures; for presigned URLs, how far in the future the
    /// signing time may be). Default [`DEFAULT_MAX_SKEW`] (15 minutes).
    pub max_skew: time::Duration,
    /// The signer's settings; only the path rules (`normalize_path`,
    /// `double_uri_encode`) and `sign_session_token` matter here.
    pub settings: SigningSettings,
    /// Accept requests whose signed `x-amz-content-sha256` is
    /// `UNSIGNED-PAYLOAD` (the body is then not covered). Default `false`.
    pub allow_unsigned_payload: bool,
    /// Where derived signing keys are cached; `None` derives one per call.
    pub key_cache: Option<&'a SigningKeyCache>,
}

impl<'a> VerifyParams<'a> {
    /// Params with a 15-minute skew, default settings, signed payloads only
    /// and no key cache.
    pub fn new(region: &'a str, service: &'a str, now: time::OffsetDateTime) -> Self {
        Self {
            region,
            service,
            now,
            max_skew: DEFAULT_MAX_SKEW,
            settings: SigningSettings::default(),
            allow_unsigned_payload: false,
            key_cache: None,
        }
    }
}
