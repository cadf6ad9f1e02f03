//! JWS compact serialization of a JSON claims set (RFC 7515 §3.1, §5.1),
//! and the random `jti` (RFC 7519 §4.1.7).

use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD as B64;
use ring::rand::SecureRandom;
use serde_json::{Map, Value};
use time::OffsetDateTime;

use super::MintError;
use crate::crypto::SigningKey;
use crate::secret::Secret;

/// Random bytes in a `jti`: 128 bits, so collisions are negligible for any
/// number of assertions a key signs.
const JTI_BYTES: usize = 16;

/// A fresh `jti` from `rng`.
pub(super) fn jti(rng: &dyn SecureRandom) -> Result<String, MintError> {
    let mut bytes = [0u8; JTI_BYTES];
    rng.fill(&mut bytes).map_err(|_| MintError::Randomness)?;
    Ok(B64.encode(bytes))
}

/// `now` as a NumericDate (RFC 7519 §2), whole seconds.
pub(super) fn numeric_date(t: OffsetDateTime) -> Value {
    Value::from(t.unix_timestamp())
}

/// The protected header: `alg`, `typ`, `kid` and, when the key names a
/// certificate, `x5t#S256`.
fn header(key: &SigningKey) -> Map<String, Value> {
    let mut h = Map::new();
    h.insert("alg".into(), Value::String(key.alg_name().into()));
    h.insert("typ".into(), Value::String("JWT".into()));
    h.insert("kid".into(), Value::String(key.kid().into()));
    if let Some(x5t) = key.x5t_s256() {
        h.insert("x5t#S256".into(), Value::String(x5t.into()));
    }
    h
}

/// Signs `claims` with `key`: `BASE64URL(header) . BASE64URL(claims) .
/// BASE64URL(signature)`.
pub(super) fn sign(
    key: &SigningKey,
    claims: &Map<String, Value>,
    rng: &dyn SecureRandom,
) -> Result<Secret<String>, MintError> {
    let header = Value::Object(header(key)).to_string();
    let payload = Value::Object(claims.clone()).to_string();
    // The signing input is not secret until it carries a signature.
    let mut token = String::with_capacity((header.len() + payload.len()) * 4 / 3 + 700);
    B64.encode_string(header.as_bytes(), &mut token);
    token.push('.');
    B64.encode_string(payload.as_bytes(), &mut token);
    let signature = key.sign(token.as_bytes(), rng)?;
    token.push('.');
    B64.encode_string(signature, &mut token);
    Ok(Secret::new(token))
}
