//! The one error type of the `sigv4` module. Messages name the offending
//! non-secret value; secrets (secret access keys, session tokens, signing
//! keys) never appear in them.

/// Why signing or verifying an AWS SigV4 request failed.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum SigV4Error {
    // ---- signing-side input problems ----
    /// The request has neither a `Host` header nor an authority in its URI.
    #[error("request has no `host` header and no authority in its uri")]
    MissingHost,
    /// The signing time cannot be written as an AWS timestamp (years 0-9999).
    #[error("time `{0}` cannot be written as an aws timestamp")]
    InvalidTime(String),
    /// A region, service or access key id is empty or holds characters that
    /// cannot appear in a credential scope.
    #[error("invalid {what} `{value}` for a credential scope")]
    InvalidScope {
        /// `region`, `service` or `access key id`.
        what: &'static str,
        /// The rejected value.
        value: String,
    },
    /// A precomputed payload hash is neither 64 lowercase hex digits nor an
    /// AWS payload sentinel such as `UNSIGNED-PAYLOAD`.
    #[error("invalid precomputed payload hash `{0}`")]
    InvalidPayloadHash(String),
    /// Presigned URL lifetime outside 1 s ..= 7 days, or not whole seconds.
    #[error("presign expiry `{0}` is outside 1 s ..= 604800 s (7 days) or not whole seconds")]
    InvalidExpires(String),
    /// A value we must put in a header (e.g. a session token) is not a valid
    /// header value. The value itself is not shown: it may be a credential.
    #[error("value for header `{0}` is not a valid http header value")]
    InvalidHeaderValue(&'static str),
    /// The signed URI could not be rebuilt.
    #[error("cannot rebuild the request uri with the signing query parameters: {0}")]
    InvalidUri(String),

    // ---- verification: finding and parsing the signature ----
    /// Neither an `Authorization` header nor a presigned query string.
    #[error(
        "request carries no aws sigv4 signature (no `authorization` header, no `X-Amz-Signature` query parameter)"
    )]
    MissingAuthentication,
    /// Both an `Authorization` header and presigned query parameters.
    #[error(
        "request carries both an `authorization` header and presigned `X-Amz-*` query parameters"
    )]
    AmbiguousAuthentication,
    /// More than one `Authorization` header.
    #[error("request has {0} `authorization` headers, expected one")]
    DuplicateAuthorization(usize),
    /// The algorithm is not `AWS4-HMAC-SHA256`.
    #[error("unsupported signing algorithm `{0}`, expected `AWS4-HMAC-SHA256`")]
    UnsupportedAlgorithm(String),
    /// The `Authorization` header does not have the SigV4 shape.
    #[error("malformed authorization header: {0}")]
    MalformedAuthorization(String),
    /// `Credential`, `SignedHeaders` or `Signature` appears twice in the
    /// `Authorization` header.
    #[error("authorization header repeats `{0}`")]
    DuplicateAuthorizationPart(String),
    /// A presigned `X-Amz-*` query parameter appears more than once.
    #[error("query parameter `{0}` appears more than once")]
    DuplicateQueryParam(String),
    /// A presigned URL lacks a required `X-Amz-*` query parameter.
    #[error("presigned url lacks query parameter `{0}`")]
    MissingQueryParam(String),
    /// The credential is not `AKID/YYYYMMDD/region/service/aws4_request`.
    #[error(
        "malformed credential `{0}`, expected `<access key id>/<yyyymmdd>/<region>/<service>/aws4_request`"
    )]
    MalformedCredential(String),
    /// The signed headers list is empty, not lowercase, not sorted or repeats a name.
    #[error(
        "malformed signed headers `{0}`: expected lowercase names, sorted, separated by `;`, no repeats"
    )]
    MalformedSignedHeaders(String),
    /// The signature is not 64 lowercase hex digits.
    #[error("malformed signature `{0}`, expected 64 lowercase hex digits")]
    MalformedSignature(String),
    /// `X-Amz-Date` (or `Date`) is missing.
    #[error("request has no `x-amz-date` (or `date`) header")]
    MissingDate,
    /// `X-Amz-Date` / `Date` does not parse, or appears more than once.
    #[error("malformed request date `{0}`")]
    MalformedDate(String),
    /// `X-Amz-Expires` is not an integer in 1 ..= 604800.
    #[error("malformed `X-Amz-Expires` `{0}`, expected whole seconds in 1 ..= 604800")]
    MalformedExpires(String),

    // ---- verification: the checks ----
    /// The credential scope's date is not the date of the request timestamp.
    #[error("credential scope date `{scope_date}` does not match request date `{request_date}`")]
    ScopeDateMismatch {
        /// `YYYYMMDD` from the credential scope.
        scope_date: String,
        /// The request timestamp.
        request_date: String,
    },
    /// The credential scope names another region.
    #[error("credential scope region `{found}` is not the expected `{expected}`")]
    WrongRegion {
        /// The region this verifier accepts.
        expected: String,
        /// The region in the credential scope.
        found: String,
    },
    /// The credential scope names another service.
    #[error("credential scope service `{found}` is not the expected `{expected}`")]
    WrongService {
        /// The service this verifier accepts.
        expected: String,
        /// The service in the credential scope.
        found: String,
    },
    /// The request time is further from `now` than the allowed skew.
    #[error(
        "request signed at {signed_at}, {skew_secs} s from now ({now}), allowed skew {max_skew_secs} s"
    )]
    RequestTimeSkewed {
        /// The request timestamp (RFC 3339).
        signed_at: String,
        /// The verifier's `now` (RFC 3339).
        now: String,
        /// Signed time minus now, in seconds (negative: signed in the past).
        skew_secs: i64,
        /// The allowed skew in seconds.
        max_skew_secs: i64,
    },
    /// A presigned URL has expired.
    #[error("presigned url expired at {expires_at}, {secs_past} s before now ({now})")]
    Expired {
        /// `X-Amz-Date` + `X-Amz-Expires` (RFC 3339).
        expires_at: String,
        /// The verifier's `now` (RFC 3339).
        now: String,
        /// How long ago it expired, in seconds.
        secs_past: i64,
    },
    /// A header that must be signed (`host`, `x-amz-date` / `date`, and
    /// `x-amz-security-token` when present and
    /// [`sign_session_token`](super::SigningSettings::sign_session_token)
    /// is on) is not in the signed headers.
    #[error("header `{0}` must be signed but is not in the signed headers")]
    MissingSignedHeader(&'static str),
    /// A header that decides what the request means (`x-amz-security-token`,
    /// `x-amz-content-sha256`) appears more than once: a reader could take
    /// either value.
    #[error("header `{0}` appears more than once")]
    DuplicateHeader(&'static str),
    /// The session token is both in the `x-amz-security-token` header and in
    /// the `X-Amz-Security-Token` query parameter.
    #[error(
        "request carries a session token in both the `x-amz-security-token` header and the `X-Amz-Security-Token` query parameter"
    )]
    AmbiguousSessionToken,
    /// A signed header is not present in the request.
    #[error("signed header `{0}` is not present in the request")]
    SignedHeaderAbsent(String),
    /// The lookup has no secret for this access key id.
    #[error("unknown access key id `{0}`")]
    UnknownAccessKey(String),
    /// The body does not hash to the signed `x-amz-content-sha256`.
    #[error("body hashes to `{computed}` but the signed `x-amz-content-sha256` is `{signed}`")]
    PayloadHashMismatch {
        /// The signed `x-amz-content-sha256` value.
        signed: String,
        /// SHA-256 of the body the verifier was given.
        computed: String,
    },
    /// The signature verifies, but over another payload line than the
    /// request's `x-amz-content-sha256`: that header does not say what was
    /// signed (a signer that sent one value and signed another).
    #[error(
        "header `x-amz-content-sha256` is `{header}` but the signature covers the payload line `{signed}`"
    )]
    ContentSha256Mismatch {
        /// The request's `x-amz-content-sha256`.
        header: String,
        /// The payload line the signature was made over.
        signed: String,
    },
    /// The signature verifies over `UNSIGNED-PAYLOAD` (as S3 presigned URLs
    /// and some signers without `x-amz-content-sha256` sign), not over the
    /// body the verifier was given, and unsigned payloads are not allowed.
    #[error(
        "request was signed with an unsigned payload (`UNSIGNED-PAYLOAD`) that no `x-amz-content-sha256` declares: verify it with `Payload::Unsigned` (s3 presigned urls) or set `allow_unsigned_payload`"
    )]
    UndeclaredUnsignedPayload,
    /// The request declares `UNSIGNED-PAYLOAD` but the verifier requires a
    /// signed body.
    #[error("request declares an unsigned payload (`{0}`) and unsigned payloads are not allowed")]
    UnsignedPayloadNotAllowed(String),
    /// The recomputed signature differs: the method, path, query, a signed
    /// header, the body or the secret is not what was signed.
    #[error(
        "signature does not match the request (method, path, query, signed headers, body or key differ)"
    )]
    SignatureMismatch,
}
