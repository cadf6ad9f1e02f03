//! The verifying half of the crate's crypto seam (issue 19): a key decoded
//! once (and, with the `aws-lc-rs` feature, parsed once) and
//! [`VerifyKey::verify`]`(alg, message, signature)`. JWT / JWKS (`jwk`)
//! and RFC 9421 (`httpsig`) verify
//! through it alone, so both get whichever backend the build has:
//!
//! - ring (the default, and always on wasm32);
//! - aws-lc-rs for RSA, ECDSA and EdDSA with the `aws-lc-rs` feature on
//!   native targets: its `ParsedPublicKey` keeps an RSA key's Montgomery
//!   constants, which ring 0.17 rebuilds on every verification.
//!
//! HMAC is ring's on both: `ring::hmac::verify` compares in constant time.
//! The algorithm is the JOSE one ([`Alg`]); RFC 9421's six are JOSE
//! algorithms under other names, which `httpsig` maps.

#[cfg(all(feature = "aws-lc-rs", not(target_arch = "wasm32")))]
#[path = "lc.rs"]
mod backend;

#[cfg(not(all(feature = "aws-lc-rs", not(target_arch = "wasm32"))))]
#[path = "ring.rs"]
mod backend;

use ring::hmac;

use crate::jose::Alg;

/// A verification key for one algorithm family: an HMAC secret (one hash)
/// or a public key (RSA for the algorithms it was built for, ECDSA P-256 /
/// P-384, Ed25519). Cloning is cheap enough per key-set refresh.
#[derive(Clone)]
pub(crate) struct VerifyKey(Inner);

#[derive(Clone)]
enum Inner {
    Hmac { alg: Alg, key: hmac::Key },
    Public(backend::PublicKey),
}

impl VerifyKey {
    /// An HMAC key for `alg` (HS256, HS384 or HS512). The minimum secret
    /// length is the caller's policy (JOSE and RFC 9421 differ in wording).
    ///
    /// # Errors
    /// When `alg` is not an HMAC algorithm.
    pub(crate) fn hmac(alg: Alg, secret: &[u8]) -> Result<Self, String> {
        let algorithm = match alg {
            Alg::HS256 => hmac::HMAC_SHA256,
            Alg::HS384 => hmac::HMAC_SHA384,
            Alg::HS512 => hmac::HMAC_SHA512,
            other => return Err(format!("`{}` is not an HMAC algorithm", other.name())),
        };
        Ok(Self(Inner::Hmac {
            alg,
            key: hmac::Key::new(algorithm, secret),
        }))
    }

    /// An RSA public key from its modulus and exponent (big-endian, no
    /// leading zero bytes) that verifies each of `algs` (RS* / PS*; the
    /// backends take moduli of 2048 to 8192 bits).
    ///
    /// # Errors
    /// When one of `algs` is not an RSA algorithm, or aws-lc-rs refuses
    /// the key.
    pub(crate) fn rsa(
        n: &[u8],
        e: &[u8],
        algs: impl IntoIterator<Item = Alg>,
    ) -> Result<Self, String> {
        let algs: Vec<Alg> = algs.into_iter().collect();
        if let Some(other) = algs.iter().find(|a| !a.is_rsa()) {
            return Err(format!("`{}` is not an RSA algorithm", other.name()));
        }
        backend::PublicKey::rsa(n, e, &algs).map(|k| Self(Inner::Public(k)))
    }

    /// An ECDSA public key for `alg` (ES256 or ES384): the uncompressed
    /// SEC 1 point `04 || x || y` (65 or 97 bytes).
    ///
    /// # Errors
    /// When `alg` is not ES256 / ES384, the point is not of that form and
    /// length, or aws-lc-rs refuses it (not on the curve).
    pub(crate) fn ecdsa(alg: Alg, point: &[u8]) -> Result<Self, String> {
        let len = match alg {
            Alg::ES256 => 65,
            Alg::ES384 => 97,
            other => return Err(format!("`{}` is not an ECDSA algorithm", other.name())),
        };
        if point.len() != len || point.first() != Some(&0x04) {
            return Err(format!(
                "`{}` public key must be an uncompressed point of {len} bytes (0x04 || x || y), got {} bytes",
                alg.name(),
                point.len()
            ));
        }
        backend::PublicKey::ecdsa(alg, point).map(|k| Self(Inner::Public(k)))
    }

    /// An Ed25519 public key (32 bytes).
    ///
    /// # Errors
    /// When `x` is not 32 bytes, or aws-lc-rs refuses it.
    pub(crate) fn ed25519(x: &[u8]) -> Result<Self, String> {
        let x: [u8; 32] = x
            .try_into()
            .map_err(|_| format!("Ed25519 public key is {} bytes, not 32", x.len()))?;
        backend::PublicKey::ed25519(x).map(|k| Self(Inner::Public(k)))
    }

    /// Whether `signature` is `alg`'s valid signature of `message` under
    /// this key; false as well when the key was not built for `alg`.
    pub(crate) fn verify(&self, alg: Alg, message: &[u8], signature: &[u8]) -> bool {
        match &self.0 {
            Inner::Hmac { alg: own, key } => {
                *own == alg && hmac::verify(key, message, signature).is_ok()
            }
            Inner::Public(key) => key.verify(alg, message, signature),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn hmac_verifies_only_its_own_algorithm() {
        let key = VerifyKey::hmac(Alg::HS256, &[7; 32]).unwrap();
        let tag = hmac::sign(&hmac::Key::new(hmac::HMAC_SHA256, &[7; 32]), b"m");
        assert!(key.verify(Alg::HS256, b"m", tag.as_ref()));
        assert!(!key.verify(Alg::HS384, b"m", tag.as_ref()));
        assert!(!key.verify(Alg::HS256, b"n", tag.as_ref()));
        assert!(VerifyKey::hmac(Alg::RS256, &[7; 32]).is_err());
    }

    #[test]
    fn ed25519_verifies_and_refuses_other_algorithms() {
        use ring::signature::{Ed25519KeyPair, KeyPair as _};
        let pair = Ed25519KeyPair::from_seed_unchecked(&[9; 32]).unwrap();
        let key = VerifyKey::ed25519(pair.public_key().as_ref()).unwrap();
        let sig = pair.sign(b"m");
        assert!(key.verify(Alg::EdDSA, b"m", sig.as_ref()));
        assert!(!key.verify(Alg::ES256, b"m", sig.as_ref()));
        assert!(!key.verify(Alg::EdDSA, b"n", sig.as_ref()));
        assert!(VerifyKey::ed25519(&[0; 31]).is_err());
    }

    #[test]
    fn keys_of_the_wrong_form_are_refused() {
        assert!(VerifyKey::ecdsa(Alg::ES256, &[4; 64]).is_err());
        assert!(VerifyKey::ecdsa(Alg::ES384, &[3; 97]).is_err());
        assert!(VerifyKey::ecdsa(Alg::EdDSA, &[4; 65]).is_err());
        assert!(VerifyKey::rsa(&[0xc5; 256], &[1, 0, 1], [Alg::ES256]).is_err());
    }
}
