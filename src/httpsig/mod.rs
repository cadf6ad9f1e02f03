//! HTTP Message Signatures (RFC 9421) with Content-Digest (RFC 9530): sign
//! requests and responses and verify them, under a verification policy,
//! with every algorithm of RFC 9421 §3.3 (`hmac-sha256`, `ed25519`,
//! `rsa-pss-sha512`, `rsa-v1_5-sha256`, `ecdsa-p256-sha256`,
//! `ecdsa-p384-sha384`), with structured fields parsed per RFC 9651 §4.2.
//! RSA-PSS and ECDSA signing draw randomness from the system (see
//! [`SigningKey::try_from_rsa_pkcs8`]); nothing else does.
//!
//! Which signature is verified: with [`VerifierConfig::label`] set, exactly
//! that one (others are ignored); otherwise the signatures are tried in
//! Signature-Input order and the first that passes *every* check (policy,
//! time, key, signature, digest) is accepted. Either way the accepted
//! signature alone must satisfy the policy, so an extra, weaker or foreign
//! signature can neither help nor hurt. Duplicate labels are refused outright.
//!
//! ```
//! use edge_auth::Secret;
//! use edge_auth::httpsig::{KeyRing, Signer, SignerConfig, SigningKey, Verifier, VerifyingKey};
//! let secret = Secret::new(vec![42u8; 32]);
//! let signer = Signer::new(SigningKey::try_from_hmac_sha256("k1", &secret)?, SignerConfig::default())?;
//! let mut keys = KeyRing::new();
//! keys.insert("k1", VerifyingKey::try_from_hmac_sha256(&secret)?);
//!
//! let now = time::OffsetDateTime::from_unix_timestamp(1_795_428_000)?;
//! let (parts, body) = http::Request::post("https://api.example/orders").body(b"{}".to_vec())?.into_parts();
//! let out = signer.sign(&parts, &body, None, now)?;
//! let mut request = http::Request::from_parts(parts, body);
//! out.apply_to(&mut request);
//!
//! let (parts, body) = request.into_parts();
//! let verified = Verifier::default().verify(&parts, &body, &keys, None, now)?;
//! assert_eq!((verified.label.as_str(), verified.keyid.as_str()), ("sig1", "k1"));
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! ```
//!
//! # Keys
//!
//! Signing keys come from a shared secret, an Ed25519 seed or a private key
//! document, PEM or DER, in the forms OpenSSL writes: PKCS#8 (including RSA-PSS
//! keys as `openssl genpkey -algorithm RSA-PSS` writes them), PKCS#1
//! `RSA PRIVATE KEY` or SEC 1 `EC PRIVATE KEY`
//! ([`SigningKey::try_from_private_key_pem`] / `_der`). Verification keys come
//! from the secret, a `PUBLIC KEY` (SPKI) or `RSA PUBLIC KEY` document
//! ([`VerifyingKey::try_from_public_key_pem`] / `_der`), or the key's numbers
//! (e.g. a client's JWK). Encrypted PEM is refused with a hint to decrypt it
//! first. A [`KeyRing`] holds several active keys by `keyid` for rotation;
//! retired keys are refused.
//!
//! Verification applies a strict policy (required components, created /
//! expires windows with skew, `tag`, `alg`, replay defence through a
//! [`ReplayGuard`]) and, when the signature covers `content-digest`
//! (RFC 9530), checks the body against it, so a caller cannot forget. The
//! replay guard only sees nonces of signatures that already verified, and when
//! full of live nonces it fails closed. Every RFC 9421 example (Appendix
//! B.2.1-B.2.6, B.3, B.4, §2-§4) is a test.

mod base;
mod components;
mod digest;
pub(crate) mod fields;
mod keydoc;
mod keyring;
mod replay;
mod sign;
mod verify;

pub use components::Component;
pub use digest::{DigestAlgorithm, content_digest, verify_content_digest};
pub use fields::SfError;
pub use keyring::{Algorithm, KeyRing, SigningKey, VerifyingKey};
pub use replay::{MemoryReplayGuard, ReplayGuard};
pub use sign::{Signer, SignerConfig, SigningOutput};
pub use verify::{FieldText, Verified, Verifier, VerifierConfig};

/// Why signing or verifying an HTTP message signature failed. Each rejection
/// has its own variant; messages never contain key material or signatures.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum HttpSigError {
    /// A Signature-Input, Signature or Content-Digest field is not a valid
    /// structured field of the expected shape.
    #[error("malformed `{field}` field: {reason}")]
    MalformedField {
        /// The field name.
        field: &'static str,
        /// What was wrong.
        reason: String,
    },
    /// A Signature-Input member is not an inner list of component
    /// identifiers with well-typed parameters.
    #[error("malformed signature input `{label}`: {reason}")]
    MalformedSignatureInput {
        /// The signature label.
        label: String,
        /// What was wrong.
        reason: String,
    },
    /// A component identifier is unknown, badly typed or has unknown or
    /// conflicting parameters, or its field value cannot be used as asked.
    #[error("malformed component `{component}`: {reason}")]
    MalformedComponent {
        /// The component identifier.
        component: String,
        /// What was wrong.
        reason: String,
    },
    /// The same component identifier is covered twice (RFC 9421 §2.5).
    #[error("component `{component}` is covered more than once")]
    DuplicateComponent {
        /// The repeated identifier.
        component: String,
    },
    /// Two signatures share a label.
    #[error("signature label `{label}` appears more than once")]
    DuplicateLabel {
        /// The repeated label.
        label: String,
    },
    /// A label is not a structured-field key.
    #[error("invalid signature label `{label}`")]
    InvalidLabel {
        /// The label.
        label: String,
    },
    /// The message has no Signature-Input field.
    #[error("no `signature-input` field")]
    MissingSignatureInput,
    /// There is no Signature member for a label in Signature-Input.
    #[error("no `signature` for label `{label}`")]
    MissingSignature {
        /// The label.
        label: String,
    },
    /// The configured label is not in Signature-Input.
    #[error("no signature with label `{label}`")]
    LabelNotFound {
        /// The configured label.
        label: String,
    },
    /// More signatures than [`VerifierConfig::max_signatures`].
    #[error("{count} signatures, at most {max} allowed")]
    TooManySignatures {
        /// How many were present.
        count: usize,
        /// The limit.
        max: usize,
    },
    /// More covered components than [`VerifierConfig::max_components`].
    #[error("{count} covered components, at most {max} allowed")]
    TooManyComponents {
        /// How many were present.
        count: usize,
        /// The limit.
        max: usize,
    },
    /// A signature field is larger than [`VerifierConfig::max_field_bytes`].
    #[error("`{field}` field exceeds {max} bytes")]
    FieldTooLarge {
        /// The field name.
        field: &'static str,
        /// The limit.
        max: usize,
    },
    /// A covered component is not present in the message.
    #[error("covered component `{component}` is not in the message")]
    MissingComponent {
        /// The component identifier.
        component: String,
    },
    /// A field value has bytes that cannot go into the signature base
    /// without `;bs`.
    #[error("component `{component}` has non-ASCII or control bytes (use `;bs`)")]
    NonAsciiField {
        /// The component identifier.
        component: String,
    },
    /// The policy requires a component the signature does not cover.
    #[error("required component `{component}` is not covered by the signature")]
    RequiredComponentMissing {
        /// The required component identifier.
        component: String,
    },
    /// The message has a body but the signature does not cover
    /// `content-digest`.
    #[error("message has a body but `content-digest` is not covered")]
    ContentDigestNotCovered,
    /// The request has a query but the signature covers none of `@query`,
    /// `@target-uri`, `@request-target`
    /// ([`VerifierConfig::require_query`]).
    #[error(
        "request has a query but the signature covers none of `@query`, `@target-uri`, `@request-target`"
    )]
    QueryNotCovered,
    /// A required signature parameter is absent.
    #[error("signature parameter `{parameter}` is required")]
    MissingParameter {
        /// The parameter name.
        parameter: &'static str,
    },
    /// `expires` has passed (beyond the skew).
    #[error("signature expired at {expires}, now {now}, skew {skew_secs} s")]
    Expired {
        /// `expires`, RFC 3339.
        expires: String,
        /// The verification time, RFC 3339.
        now: String,
        /// The allowed skew in seconds.
        skew_secs: i64,
    },
    /// `created` is in the future beyond the skew.
    #[error("signature created at {created}, in the future of now {now} beyond skew {skew_secs} s")]
    CreatedInFuture {
        /// `created`, RFC 3339.
        created: String,
        /// The verification time, RFC 3339.
        now: String,
        /// The allowed skew in seconds.
        skew_secs: i64,
    },
    /// `created` is older than the maximum age (plus skew).
    #[error(
        "signature created at {created} is older than {max_age_secs} s at {now}, skew {skew_secs} s"
    )]
    TooOld {
        /// `created`, RFC 3339.
        created: String,
        /// The verification time, RFC 3339.
        now: String,
        /// The maximum age in seconds.
        max_age_secs: i64,
        /// The allowed skew in seconds.
        skew_secs: i64,
    },
    /// The `tag` parameter is not the one required.
    #[error(
        "signature tag {} is not the required `{expected}`",
        found.as_deref().map_or_else(|| "(none)".to_owned(), |f| format!("`{f}`"))
    )]
    TagMismatch {
        /// The required tag.
        expected: String,
        /// The tag found, if any.
        found: Option<String>,
    },
    /// No key with this `keyid` in the key ring.
    #[error("unknown keyid `{keyid}`")]
    UnknownKeyId {
        /// The key identifier.
        keyid: String,
    },
    /// The key with this `keyid` has been retired.
    #[error("key `{keyid}` is retired")]
    KeyRetired {
        /// The key identifier.
        keyid: String,
    },
    /// The `alg` parameter names an algorithm this crate does not support.
    #[error("unsupported signature algorithm `{alg}`")]
    UnsupportedAlgorithm {
        /// The `alg` value.
        alg: String,
    },
    /// The `alg` parameter disagrees with the key's algorithm.
    #[error("signature `alg` `{alg}` does not match the key's algorithm `{key_alg}`")]
    AlgorithmMismatch {
        /// The `alg` value.
        alg: String,
        /// The key's algorithm.
        key_alg: &'static str,
    },
    /// The signature does not verify over the signature base.
    #[error("signature `{label}` does not verify")]
    BadSignature {
        /// The label.
        label: String,
    },
    /// A Content-Digest value does not match the body.
    #[error("content-digest `{algorithm}` does not match the body")]
    DigestMismatch {
        /// The algorithm whose digest differed.
        algorithm: &'static str,
    },
    /// Content-Digest has no member with a supported algorithm.
    #[error("content-digest has no supported algorithm (sha-256, sha-512)")]
    NoKnownDigest,
    /// The message has no Content-Digest field.
    #[error("no `content-digest` field")]
    MissingContentDigest,
    /// The nonce was seen before for this key.
    #[error("nonce `{nonce}` for key `{keyid}` was already used")]
    Replayed {
        /// The key identifier.
        keyid: String,
        /// The nonce.
        nonce: String,
    },
    /// The replay guard is full of live nonces and fails closed.
    #[error("replay guard is full ({capacity} live nonces)")]
    ReplayCacheFull {
        /// The guard's capacity.
        capacity: usize,
    },
    /// A nonce cannot be checked for replay because the signature has no
    /// end to its validity (no `expires` and no `created` with a max age).
    #[error("nonce cannot be guarded: the signature has neither `expires` nor a bounded age")]
    ReplayUnbounded,
    /// The shared replay store (Redis) could not be asked in time: the
    /// signature is refused (fail closed).
    #[error("replay store failed: {reason}")]
    ReplayStore {
        /// What failed (never a nonce).
        reason: String,
    },
    /// Key material was unusable.
    #[error("invalid key: {0}")]
    InvalidKey(String),
    /// A randomized signature (RSA-PSS, ECDSA) could not be made because
    /// the system random generator failed.
    #[error("signing with `{alg}` failed: no randomness available")]
    SigningFailed {
        /// The algorithm.
        alg: &'static str,
    },
    /// A value could not be serialised into a field (e.g. a nonce with
    /// non-printable characters).
    #[error("cannot serialise `{0}` into a structured field")]
    Unserialisable(String),
}
