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
mod json;
mod unverified;
mod validate;

pub use crate::jose::{Algorithm, UnknownAlgorithm};
pub use error::{JwtError, Part};
pub use unverified::Unverified;
pub(crate) use validate::TimeWindow;
pub use validate::{AudienceClaim, Claims, Inspected, Validation, Validator, inspect};

#[doc(hidden)]
pub(crate) use claims::parse_claims as validate_parse_claims;
#[doc(hidden)]
pub(crate) use claims::parse_typed as validate_parse_typed;
#[doc(hidden)]
pub(crate) use json::from_str as json_from_str;
