//! The crate's crypto seam (issue 19), below every module that signs or
//! verifies; it imports neither `jwt`, `jwk` nor `httpsig`.
//!
//! - Verifying: a key decoded (with the `aws-lc-rs` feature, parsed) once
//!   and `verify(alg, message, signature)`, on ring or aws-lc-rs; JWT,
//!   JWKS and RFC 9421 all verify through it.
//! - Signing: [`SigningKey`] loads RS256, PS256, ES256 and EdDSA private
//!   keys (PKCS#8 or PKCS#1 DER, PEM, JWK), publishes the public JWK
//!   (RFC 7517) with its RFC 7638 thumbprint as the default `kid`, and signs
//!   JWS signing inputs with ring.

mod sign;
mod verify;

pub use sign::{KeyError, SigningKey};
pub(crate) use verify::VerifyKey;
