//! JOSE primitives that both [`jwk`](crate::jwk) and [`jwt`](crate::jwt)
//! use, kept here so that neither imports the other for them: the
//! algorithm names (RFC 7518 §3), strict base64url (RFC 7515 §2), and why a
//! key set could not verify a signature.

mod alg;
pub(crate) mod b64;

pub(crate) use alg::ALL;
pub(crate) use alg::Algorithm as Alg;
pub use alg::{Algorithm, UnknownAlgorithm};

/// Why a key set could not verify a signature: the token's validation
/// reports it as the [`JwtError`](crate::jwt::JwtError) variant of the same
/// name.
#[derive(Debug)]
pub(crate) enum KeyError {
    /// No key fits the `kid` and `alg`.
    UnknownKey { kid: Option<String>, alg: String },
    /// More than one key fits.
    AmbiguousKey {
        kid: Option<String>,
        alg: String,
        count: usize,
    },
    /// The key named by `kid` cannot serve the `alg`.
    KeyMismatch {
        kid: Option<String>,
        alg: String,
        reason: String,
    },
    /// A fixed-size signature of the wrong size (the reason says which).
    SignatureForm(String),
    /// The signature does not verify.
    BadSignature,
}
