//! Key handling shared by the modules that sign: the signing half of the
//! crate's crypto seam (issue 19). [`SigningKey`] loads RS256, PS256, ES256
//! and EdDSA private keys (PKCS#8 or PKCS#1 DER, PEM, JWK), publishes the
//! public JWK (RFC 7517) with its RFC 7638 thumbprint as the default `kid`,
//! and signs JWS signing inputs with ring.

mod sign;

pub use sign::{KeyError, SigningKey};
