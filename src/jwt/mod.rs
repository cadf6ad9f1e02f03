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

pub(crate) mod compact;
mod error;
pub(crate) mod header;
mod validate;

pub use error::{JwtError, Part};
pub use validate::{Claims, Inspected, Validation, Validator, inspect};

#[doc(hidden)]
pub(crate) use validate::parse_claims as validate_parse_claims;
