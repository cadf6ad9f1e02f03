//! JWT validation (RFC 7519) of JWS Compact Serialization (RFC 7515 §7.1),
//! following RFC 8725 (JWT best current practice), with signatures verified
//! by ring against a [`KeySet`](crate::jwk::KeySet).
//!
//! ```
//! use edge_auth::jwk::KeySet;
//! use edge_auth::jwt::{JwtError, Validation, Validator};
//!
//! // The RFC 8037 §A.4 Ed25519 example: its payload is not a claims set,
//! // so only the signature is checked here.
//! let keys = KeySet::from_jwk(
//!     br#"{"kty":"OKP","crv":"Ed25519","x":"11qYAYKxCrfVS_7TyWQHOg7hcvPapiMlrwIaaPcHURo"}"#,
//!     &Default::default(),
//! )?;
//! let token = "eyJhbGciOiJFZERTQSJ9.RXhhbXBsZSBvZiBFZDI1NTE5IHNpZ25pbmc.\
//!              hgyY0il_MGCjP0JzlnLWG1PPOt7-09PGcvMg3AIbQR6dWbhijcNR4ki4iylGjg5BhVsPt9g7sVvpAr_MuM0KAg";
//! let validator = Validator::new(Validation::default());
//! assert_eq!(validator.verify_jws(token, &keys)?, b"Example of Ed25519 signing");
//!
//! // A JWT without an expiry is refused by default, after its signature checks out.
//! let now = time::OffsetDateTime::UNIX_EPOCH;
//! let err = validator.validate::<serde_json::Value>(token, &keys, now).unwrap_err();
//! assert!(matches!(err, JwtError::Malformed { .. }));
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! ```
//!
//! # What is checked, in order
//!
//! RFC 8725's order: shape and size; header (duplicate members, `crit`, `b64`);
//! `alg` against the allow-list, before any key is touched; the key by `kid`
//! and `alg` (its type, curve, size and own `alg`/`use`/`key_ops` must fit);
//! strict base64url; the signature; `typ`; then the claims (no duplicate
//! members, `exp`/`nbf`/`iat` with leeway, max age, `iss`, `aud`). A forged
//! token only ever learns "bad signature".
//!
//! Errors say what failed with the values involved, e.g. `token expired at
//! 2026-11-23T09:57:56Z, 124 s before now, leeway 60 s`. For Entra ID
//! multi-tenant apps use the issuer
//! `https://login.microsoftonline.com/{tenantid}/v2.0` (matched with the
//! token's `tid`); for RFC 9068 access tokens set
//! `validation.typ = Some("at+jwt".into())`.
//!
//! # Strict JSON
//!
//! Header and claims are read by a strict RFC 8259 reader rather than
//! serde_json (docs/adr/0002): one JSON object, unique member names (an
//! escaped `\u0065xp` counts as `exp`), no trailing commas, comments, leading
//! zeros, raw control characters, invalid escapes or lone surrogates, numbers
//! within `f64` (correctly rounded), at most 64 levels of nesting, also in
//! members your type ignores. Errors say where, e.g. ``malformed claims:
//! duplicate claim `exp` at byte 18``. Your claims type sees the same serde
//! visitor calls as from serde_json; [`Claims::raw`] builds a
//! `serde_json::Map` only when asked.
//!
//! # Optional: aws-lc-rs for the public-key checks
//!
//! The default build's crypto is ring alone. With the `aws-lc-rs` feature,
//! [`KeySet`](crate::jwk::KeySet) also parses each RSA, EC and Ed25519 key
//! once with aws-lc-rs, and those signatures are verified with it; HMAC stays
//! on ring. The same seam (`crypto`) verifies RFC 9421 signatures, so
//! `httpsig` gets aws-lc-rs too. ring 0.17 has no parsed RSA public key and rebuilds the modulus'
//! Montgomery constants on every verification, so RS256 validation takes about
//! 0.78x jsonwebtoken's time instead of about 1.0x (benches/README.md).
//! Verdicts are the same (the JOSE suites run in CI with the feature on) with
//! one difference in *when*: an EC point that is not on its curve is refused
//! when the key set loads, with a diagnostic, rather than at verification.
//! aws-lc is C: the feature needs a C compiler, and it changes nothing on
//! wasm32, where ring verifies.

//!
//! A gateway with several issuers parses a token once with
//! [`Unverified::parse`], chooses the issuer and key set by its unverified
//! `iss`, `tid`, `kid` and `alg`, then calls [`Unverified::verify`] (see
//! there). Or it peeks at the (unverified) issuer with [`inspect`] to pick
//! that issuer's key set, then validates:
//!
//! ```
//! use edge_auth::jwk::KeySet;
//! use edge_auth::jwt::{self, Algorithm, Validation, Validator};
//! use jsonwebtoken::{EncodingKey, Header, encode};
//!
//! # let secret = [7u8; 32];
//! # let mut header = Header::new(jsonwebtoken::Algorithm::HS256);
//! # header.kid = Some("dev".into());
//! # let token = encode(&header, &serde_json::json!({
//! #     "iss": "https://dev-issuer.example", "aud": "api://edge",
//! #     "sub": "alice", "exp": 1_795_428_600,
//! # }), &EncodingKey::from_secret(&secret))?;
//! #[derive(serde::Deserialize)]
//! struct MyClaims {
//!     sub: String,
//! }
//!
//! // Unverified: only to choose the key set.
//! let peek = jwt::inspect(&token, 8 * 1024)?;
//! assert_eq!(peek.issuer.as_deref(), Some("https://dev-issuer.example"));
//! let keys = KeySet::from_hmac_secret(&secret, Some("dev"))?; // e.g. a JWKS per issuer
//!
//! let mut validation = Validation::default();
//! validation.issuers = vec!["https://dev-issuer.example".into()];
//! validation.audiences = vec!["api://edge".into()];
//! validation.algorithms = vec![Algorithm::HS256]; // default: asymmetric only
//! let validator = Validator::new(validation);
//!
//! let now = time::macros::datetime!(2026-11-23 10:00 UTC); // the caller's clock
//! let claims = validator.validate::<MyClaims>(&token, &keys, now)?;
//! assert_eq!(claims.typed().sub, "alice");
//! assert_eq!(claims.raw()["aud"], "api://edge");
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! ```

mod claims;
pub(crate) mod compact;
mod error;
pub(crate) mod header;
mod unverified;
mod validate;

pub use crate::jose::{Algorithm, UnknownAlgorithm};
pub use error::{JwtError, Part};
pub use unverified::Unverified;
pub(crate) use validate::TimeWindow;
pub use validate::{AudienceClaim, Claims, Inspected, Validation, Validator, inspect};

#[doc(hidden)]
pub(crate) use claims::parse_claims as validate_parse_claims;
#[cfg(test)]
pub(crate) use claims::parse_seeded as validate_parse_seeded;
#[doc(hidden)]
pub(crate) use claims::parse_typed as validate_parse_typed;
