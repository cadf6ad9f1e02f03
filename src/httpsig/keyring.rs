//! Keys for HTTP Message Signatures (RFC 9421 §3.3): `hmac-sha256` and
//! `ed25519` signing keys; verification keys for those and for
//! `rsa-pss-sha512`, `rsa-v1_5-sha256`, `ecdsa-p256-sha256` and
//! `ecdsa-p384-sha384`; and a `KeyRing` of keys by `keyid` that supports
//! rotation (several active keys) and retirement.

use super::HttpSigError;
use crate::secret::Secret;
use ring::signature::{
    ECDSA_P256_SHA256_FIXED, ECDSA_P384_SHA384_FIXED, ED25519, Ed25519KeyPair, KeyPair as _,
    RSA_PKCS1_2048_8192_SHA256, RSA_PSS_2048_8192_SHA512, RsaPublicKeyComponents,
    UnparsedPublicKey,
};
use std::collections::HashMap;
use std::fmt;

/// A signature algorithm from the HTTP Signature Algorithms registry.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum Algorithm {
    /// `hmac-sha256` (RFC 9421 §3.3.3).
    HmacSha256,
    /// `ed25519` (RFC 9421 §3.3.6).
    Ed25519,
    /// `rsa-pss-sha512` (RFC 9421 §3.3.1): RSASSA-PSS, SHA-512, MGF1 with
    /// SHA-512, 64-byte salt. Verification only.
    RsaPssSha512,
    /// `rsa-v1_5-sha256` (RFC 9421 §3.3.2): RSASSA-PKCS1-v1_5 with SHA-256.
    /// Verification only.
    RsaV15Sha256,
    /// `ecdsa-p256-sha256` (RFC 9421 §3.3.4): ECDSA on P-256 with SHA-256,
    /// signature `r || s` (64 bytes). Verification only.
    EcdsaP256Sha256,
    /// `ecdsa-p384-sha384` (RFC 9421 §3.3.5): ECDSA on P-384 with SHA-384,
    /// signature `r || s` (96 bytes). Verification only.
    EcdsaP384Sha384,
}

impl Algorithm {
    /// The registered name, e.g. `hmac-sha256`.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::HmacSha256 => "hmac-sha256",
            Self::Ed25519 => "ed25519",
            Self::RsaPssSha512 => "rsa-pss-sha512",
            Self::RsaV15Sha256 => "rsa-v1_5-sha256",
            Self::EcdsaP256Sha256 => "ecdsa-p256-sha256",
            Self::EcdsaP384Sha384 => "ecdsa-p384-sha384",
        }
    }

    pub(crate) fn from_name(name: &str) -> Option<Self> {
        match name {
            "hmac-sha256" => Some(Self::HmacSha256),
            "ed25519" => Some(Self::Ed25519),
            "rsa-pss-sha512" => Some(Self::RsaPssSha512),
            "rsa-v1_5-sha256" => Some(Self::RsaV15Sha256),
            "ecdsa-p256-sha256" => Some(Self::EcdsaP256Sha256),
            "ecdsa-p384-sha384" => Some(Self::EcdsaP384Sha384),
            _ => None,
        }
    }
}

/// HMAC keys shorter than this are refused: RFC 2104 §3 and RFC 9421 §3.3.3
/// (the key should be at least the hash output length).
const MIN_HMAC_KEY: usize = 32;

enum SigningInner {
    Hmac(ring::hmac::Key),
    Ed25519(Box<Ed25519KeyPair>),
}

/// A key that signs: the `keyid` it is published under and the key material.
pub struct SigningKey {
    keyid: String,
    inner: SigningInner,
}

impl fmt::Debug for SigningKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("SigningKey")
            .field("keyid", &self.keyid)
            .field("alg", &self.algorithm())
            .field("key", &"** redacted **")
            .finish()
    }
}

impl SigningKey {
    /// An `hmac-sha256` key from a shared secret (at least 32 bytes).
    ///
    /// # Errors
    /// [`HttpSigError::InvalidKey`] when the secret is shorter than 32 bytes.
    pub fn try_from_hmac_sha256(
        keyid: &str,
        secret: &Secret<Vec<u8>>,
    ) -> Result<Self, HttpSigError> {
        Ok(Self {
            keyid: keyid.to_owned(),
            inner: SigningInner::Hmac(hmac_key(secret)?),
        })
    }

    /// An `ed25519` key from a PKCS#8 document (v1 or v2, DER).
    ///
    /// # Errors
    /// [`HttpSigError::InvalidKey`] when the document is not an Ed25519 key.
    pub fn try_from_ed25519_pkcs8(
        keyid: &str,
        pkcs8: &Secret<Vec<u8>>,
    ) -> Result<Self, HttpSigError> {
        // RFC 9421 B.1.5's key is PKCS#8 v1 (no public key), which ring only
        // reads through the "maybe unchecked" entry point.
        let pair = Ed25519KeyPair::from_pkcs8_maybe_unchecked(pkcs8.expose())
            .map_err(|e| HttpSigError::InvalidKey(format!("not an Ed25519 PKCS#8 key: {e}")))?;
        Ok(Self {
            keyid: keyid.to_owned(),
            inner: SigningInner::Ed25519(Box::new(pair)),
        })
    }

    /// An `ed25519` key from its 32-byte seed.
    ///
    /// # Errors
    /// [`HttpSigError::InvalidKey`] when the seed is not 32 bytes.
    pub fn try_from_ed25519_seed(
        keyid: &str,
        seed: &Secret<Vec<u8>>,
    ) -> Result<Self, HttpSigError> {
        let pair = Ed25519KeyPair::from_seed_unchecked(seed.expose())
            .map_err(|e| HttpSigError::InvalidKey(format!("not an Ed25519 seed: {e}")))?;
        Ok(Self {
            keyid: keyid.to_owned(),
            inner: SigningInner::Ed25519(Box::new(pair)),
        })
    }

    /// The key identifier sent as the `keyid` parameter.
    pub fn keyid(&self) -> &str {
        &self.keyid
    }

    /// The algorithm this key signs with.
    pub fn algorithm(&self) -> Algorithm {
        match self.inner {
            SigningInner::Hmac(_) => Algorithm::HmacSha256,
            SigningInner::Ed25519(_) => Algorithm::Ed25519,
        }
    }

    /// The matching verification key (for Ed25519, the public key; for HMAC,
    /// the same secret).
    pub fn verifying_key(&self) -> VerifyingKey {
        match &self.inner {
            SigningInner::Hmac(k) => VerifyingKey {
                inner: VerifyingInner::Hmac(k.clone()),
            },
            SigningInner::Ed25519(pair) => VerifyingKey {
                inner: VerifyingInner::Ed25519(UnparsedPublicKey::new(
                    &ED25519,
                    pair.public_key().as_ref().to_vec(),
                )),
            },
        }
    }

    pub(crate) fn sign(&self, base: &[u8]) -> Vec<u8> {
        match &self.inner {
            SigningInner::Hmac(k) => ring::hmac::sign(k, base).as_ref().to_vec(),
            SigningInner::Ed25519(pair) => pair.sign(base).as_ref().to_vec(),
        }
    }
}

fn hmac_key(secret: &Secret<Vec<u8>>) -> Result<ring::hmac::Key, HttpSigError> {
    let len = secret.expose().len();
    if len < MIN_HMAC_KEY {
        return Err(HttpSigError::InvalidKey(format!(
            "hmac-sha256 secret is {len} bytes, at least {MIN_HMAC_KEY} required"
        )));
    }
    Ok(ring::hmac::Key::new(
        ring::hmac::HMAC_SHA256,
        secret.expose(),
    ))
}

enum VerifyingInner {
    Hmac(ring::hmac::Key),
    Ed25519(UnparsedPublicKey<Vec<u8>>),
    Rsa {
        alg: Algorithm,
        n: Box<[u8]>,
        e: Box<[u8]>,
    },
    Ecdsa {
        alg: Algorithm,
        key: UnparsedPublicKey<Vec<u8>>,
    },
}

/// Big-endian unsigned bytes without leading zeros.
fn minimal(bytes: &[u8]) -> &[u8] {
    let skip = bytes.iter().take_while(|&&b| b == 0).count();
    bytes.get(skip..).unwrap_or_default()
}

/// A key that verifies signatures of one algorithm.
pub struct VerifyingKey {
    inner: VerifyingInner,
}

impl fmt::Debug for VerifyingKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("VerifyingKey")
            .field("alg", &self.algorithm())
            .field("key", &"** redacted **")
            .finish()
    }
}

impl VerifyingKey {
    /// An `hmac-sha256` verification key from the shared secret.
    ///
    /// # Errors
    /// [`HttpSigError::InvalidKey`] when the secret is shorter than 32 bytes.
    pub fn try_from_hmac_sha256(secret: &Secret<Vec<u8>>) -> Result<Self, HttpSigError> {
        Ok(Self {
            inner: VerifyingInner::Hmac(hmac_key(secret)?),
        })
    }

    /// An `ed25519` public key: 32 raw bytes, or an X.509
    /// SubjectPublicKeyInfo (DER) holding one.
    ///
    /// # Errors
    /// [`HttpSigError::InvalidKey`] when the bytes are neither.
    pub fn try_from_ed25519_public(key: &[u8]) -> Result<Self, HttpSigError> {
        // SPKI for Ed25519 is a fixed 12-byte prefix (RFC 8410 §4) + the key.
        const SPKI_PREFIX: [u8; 12] = [
            0x30, 0x2a, 0x30, 0x05, 0x06, 0x03, 0x2b, 0x65, 0x70, 0x03, 0x21, 0x00,
        ];
        let raw = match key.len() {
            32 => key,
            44 if key.starts_with(&SPKI_PREFIX) => key.get(12..).unwrap_or_default(),
            n => {
                return Err(HttpSigError::InvalidKey(format!(
                    "ed25519 public key must be 32 raw bytes or a 44-byte SPKI, got {n} bytes"
                )));
            }
        };
        Ok(Self {
            inner: VerifyingInner::Ed25519(UnparsedPublicKey::new(&ED25519, raw.to_vec())),
        })
    }

    /// An RSA public key for `rsa-pss-sha512` or `rsa-v1_5-sha256` from
    /// its modulus `n` and public exponent `e` (big-endian unsigned bytes,
    /// e.g. a JWK's `n` and `e` decoded). The modulus must have 2048 to 8192
    /// bits; the exponent must be odd and at least 3.
    ///
    /// # Errors
    /// [`HttpSigError::InvalidKey`] for another algorithm, a modulus out of
    /// range or an unusable exponent.
    pub fn try_from_rsa_components(
        algorithm: Algorithm,
        n: &[u8],
        e: &[u8],
    ) -> Result<Self, HttpSigError> {
        if !matches!(algorithm, Algorithm::RsaPssSha512 | Algorithm::RsaV15Sha256) {
            return Err(HttpSigError::InvalidKey(format!(
                "`{}` is not an RSA algorithm",
                algorithm.as_str()
            )));
        }
        let (n, e) = (minimal(n), minimal(e));
        let bits = n.first().map_or(0, |&top| {
            (n.len() - 1) * 8 + (8 - top.leading_zeros() as usize)
        });
        if !(2048..=8192).contains(&bits) {
            return Err(HttpSigError::InvalidKey(format!(
                "RSA modulus has {bits} bits, expected 2048 to 8192"
            )));
        }
        let odd = e.last().is_some_and(|&low| low & 1 == 1);
        if !odd || e.len() > 4 || e == [1] {
            return Err(HttpSigError::InvalidKey(
                "RSA public exponent must be odd, at least 3 and at most 32 bits".into(),
            ));
        }
        Ok(Self {
            inner: VerifyingInner::Rsa {
                alg: algorithm,
                n: n.into(),
                e: e.into(),
            },
        })
    }

    /// An ECDSA public key for `ecdsa-p256-sha256` (65 bytes) or
    /// `ecdsa-p384-sha384` (97 bytes): the uncompressed SEC 1 point
    /// `0x04 || x || y` (a JWK's `x` and `y` decoded, after `0x04`).
    ///
    /// # Errors
    /// [`HttpSigError::InvalidKey`] for another algorithm or a point of the
    /// wrong form or length.
    pub fn try_from_ecdsa_public(algorithm: Algorithm, point: &[u8]) -> Result<Self, HttpSigError> {
        let (verification, len): (&'static dyn ring::signature::VerificationAlgorithm, usize) =
            match algorithm {
                Algorithm::EcdsaP256Sha256 => (&ECDSA_P256_SHA256_FIXED, 65),
                Algorithm::EcdsaP384Sha384 => (&ECDSA_P384_SHA384_FIXED, 97),
                other => {
                    return Err(HttpSigError::InvalidKey(format!(
                        "`{}` is not an ECDSA algorithm",
                        other.as_str()
                    )));
                }
            };
        if point.len() != len || point.first() != Some(&0x04) {
            return Err(HttpSigError::InvalidKey(format!(
                "`{}` public key must be an uncompressed point of {len} bytes (0x04 || x || y), got {} bytes",
                algorithm.as_str(),
                point.len()
            )));
        }
        Ok(Self {
            inner: VerifyingInner::Ecdsa {
                alg: algorithm,
                key: UnparsedPublicKey::new(verification, point.to_vec()),
            },
        })
    }

    /// The algorithm this key verifies.
    pub fn algorithm(&self) -> Algorithm {
        match self.inner {
            VerifyingInner::Hmac(_) => Algorithm::HmacSha256,
            VerifyingInner::Ed25519(_) => Algorithm::Ed25519,
            VerifyingInner::Rsa { alg, .. } | VerifyingInner::Ecdsa { alg, .. } => alg,
        }
    }

    /// True when `signature` is valid for `base`. HMACs are compared in
    /// constant time by `ring::hmac::verify`.
    pub(crate) fn verify(&self, base: &[u8], signature: &[u8]) -> bool {
        match &self.inner {
            VerifyingInner::Hmac(k) => ring::hmac::verify(k, base, signature).is_ok(),
            VerifyingInner::Ed25519(k) => k.verify(base, signature).is_ok(),
            VerifyingInner::Rsa { alg, n, e } => {
                let params = match alg {
                    Algorithm::RsaPssSha512 => &RSA_PSS_2048_8192_SHA512,
                    _ => &RSA_PKCS1_2048_8192_SHA256,
                };
                RsaPublicKeyComponents { n: &**n, e: &**e }
                    .verify(params, base, signature)
                    .is_ok()
            }
            VerifyingInner::Ecdsa { key, .. } => key.verify(base, signature).is_ok(),
        }
    }
}

#[derive(Debug)]
struct Entry {
    key: VerifyingKey,
    retired: bool,
}

/// Verification keys by `keyid`. Several keys may be active at once (so a
/// new key can be rolled out before the old one is retired); a retired key is
/// kept only to give a precise error and never verifies.
#[derive(Debug, Default)]
pub struct KeyRing {
    keys: HashMap<String, Entry, std::hash::BuildHasherDefault<Fnv1a>>,
}

/// FNV-1a, for `keyid` lookups on every verification. The std SipHash
/// resists collision flooding, which needs an attacker to choose what is
/// *inserted*; here only the operator inserts, while the attacker-chosen
/// `keyid` is only looked up and cannot grow or degrade the table beyond
/// the operator's own keys. Short ids hash several times faster.
#[derive(Debug, Clone, Copy)]
struct Fnv1a(u64);

impl Default for Fnv1a {
    fn default() -> Self {
        Self(0xcbf2_9ce4_8422_2325)
    }
}

impl std::hash::Hasher for Fnv1a {
    fn finish(&self) -> u64 {
        self.0
    }

    fn write(&mut self, bytes: &[u8]) {
        for &b in bytes {
            self.0 = (self.0 ^ u64::from(b)).wrapping_mul(0x0000_0100_0000_01b3);
        }
    }
}

impl KeyRing {
    /// An empty key ring.
    pub fn new() -> Self {
        Self::default()
    }

    /// Adds (or replaces) an active key under `keyid`.
    pub fn insert(&mut self, keyid: &str, key: VerifyingKey) {
        self.keys.insert(
            keyid.to_owned(),
            Entry {
                key,
                retired: false,
            },
        );
    }

    /// Retires the key under `keyid`: signatures made with it are refused
    /// with [`HttpSigError::KeyRetired`]. Returns false when there is no such key.
    pub fn retire(&mut self, keyid: &str) -> bool {
        match self.keys.get_mut(keyid) {
            Some(e) => {
                e.retired = true;
                true
            }
            None => false,
        }
    }

    /// Removes the key under `keyid`; returns whether it was present.
    pub fn remove(&mut self, keyid: &str) -> bool {
        self.keys.remove(keyid).is_some()
    }

    /// Number of keys, active and retired.
    pub fn len(&self) -> usize {
        self.keys.len()
    }

    /// True when there are no keys.
    pub fn is_empty(&self) -> bool {
        self.keys.is_empty()
    }

    /// The active key for `keyid`.
    pub(crate) fn active(&self, keyid: &str) -> Result<&VerifyingKey, HttpSigError> {
        match self.keys.get(keyid) {
            None => Err(HttpSigError::UnknownKeyId {
                keyid: keyid.to_owned(),
            }),
            Some(e) if e.retired => Err(HttpSigError::KeyRetired {
                keyid: keyid.to_owned(),
            }),
            Some(e) => Ok(&e.key),
        }
    }
}
