//! Keys for HTTP Message Signatures (RFC 9421 §3.3): signing and
//! verification keys for `hmac-sha256`, `ed25519`, `rsa-pss-sha512`,
//! `rsa-v1_5-sha256`, `ecdsa-p256-sha256` and `ecdsa-p384-sha384`, and a
//! `KeyRing` of keys by `keyid` that supports rotation (several active keys)
//! and retirement.
//!
//! RSA-PSS and ECDSA signing draw randomness (the PSS salt, the ECDSA
//! nonce) from `ring::rand::SystemRandom`: the operating system's generator,
//! or `crypto.getRandomValues` in a Worker. That is not I/O in the sense of
//! this crate's sans-IO rule (nothing is sent, awaited or read from the
//! clock), but it is the one input that does not come from the caller.

use super::HttpSigError;
use super::keydoc::{self as der, RsaPkcs8, classify_rsa};
use crate::crypto::VerifyKey;
use crate::jose::Alg;
use crate::secret::Secret;
use ring::rand::SystemRandom;
use ring::signature::{
    ECDSA_P256_SHA256_FIXED_SIGNING, ECDSA_P384_SHA384_FIXED_SIGNING, EcdsaKeyPair,
    EcdsaSigningAlgorithm, Ed25519KeyPair, KeyPair as _, RSA_PKCS1_SHA256, RSA_PSS_SHA512,
    RsaKeyPair, RsaPublicKeyComponents,
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
    /// SHA-512, 64-byte salt.
    RsaPssSha512,
    /// `rsa-v1_5-sha256` (RFC 9421 §3.3.2): RSASSA-PKCS1-v1_5 with SHA-256.
    ///
    RsaV15Sha256,
    /// `ecdsa-p256-sha256` (RFC 9421 §3.3.4): ECDSA on P-256 with SHA-256,
    /// signature `r || s` (64 bytes).
    EcdsaP256Sha256,
    /// `ecdsa-p384-sha384` (RFC 9421 §3.3.5): ECDSA on P-384 with SHA-384,
    /// signature `r || s` (96 bytes).
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

    /// The same algorithm under its JOSE name (RFC 7518), as the crypto
    /// seam verifies it: RFC 9421's six are all JOSE algorithms.
    fn jose(self) -> Alg {
        match self {
            Self::HmacSha256 => Alg::HS256,
            Self::Ed25519 => Alg::EdDSA,
            Self::RsaPssSha512 => Alg::PS512,
            Self::RsaV15Sha256 => Alg::RS256,
            Self::EcdsaP256Sha256 => Alg::ES256,
            Self::EcdsaP384Sha384 => Alg::ES384,
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
    Rsa {
        alg: Algorithm,
        pair: Box<RsaKeyPair>,
    },
    Ecdsa {
        alg: Algorithm,
        pair: Box<EcdsaKeyPair>,
    },
}

/// A key that signs: the `keyid` it is published under and the key material.
///
/// An ECDSA P-256 key from PKCS#8 signs an outbound request; the receiver
/// verifies with the public key (here taken from the signing key; a
/// receiver would build it with [`VerifyingKey::try_from_ecdsa_public`]):
///
/// ```
/// use edge_auth::Secret;
/// use edge_auth::httpsig::{Algorithm, KeyRing, Signer, SignerConfig, SigningKey, Verifier};
///
/// // PKCS#8 DER, e.g. `openssl genpkey -algorithm EC -pkeyopt ec_paramgen_curve:P-256
/// // -outform DER`; made by ring for this example.
/// let pkcs8 = ring::signature::EcdsaKeyPair::generate_pkcs8(
///     &ring::signature::ECDSA_P256_SHA256_FIXED_SIGNING,
///     &ring::rand::SystemRandom::new(),
/// )
/// .map_err(|_| "no randomness")?;
/// let key = SigningKey::try_from_ecdsa_pkcs8(
///     "edge-1",
///     Algorithm::EcdsaP256Sha256,
///     &Secret::new(pkcs8.as_ref().to_vec()),
/// )?;
/// let mut keys = KeyRing::new();
/// keys.insert("edge-1", key.verifying_key());
///
/// let signer = Signer::new(key, SignerConfig::default())?;
/// let now = time::OffsetDateTime::from_unix_timestamp(1_795_428_000)?;
/// let req = http::Request::post("https://origin.example/v1/orders").body(br#"{"qty":1}"#.to_vec())?;
/// let (parts, body) = req.into_parts();
/// let out = signer.sign(&parts, &body, None, now)?;
/// let mut req = http::Request::from_parts(parts, body);
/// out.apply_to(&mut req);
///
/// let (parts, body) = req.into_parts();
/// let verified = Verifier::default().verify(&parts, &body, &keys, None, now)?;
/// assert_eq!(verified.algorithm, Algorithm::EcdsaP256Sha256);
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
pub struct SigningKey {
    keyid: String,
    inner: SigningInner,
    /// The matching verification key, built (parsed) once with the key.
    public: VerifyKey,
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
        let inner = SigningInner::Hmac(hmac_key(secret)?);
        let public = VerifyKey::hmac(Alg::HS256, secret.expose());
        Self::assemble(keyid, inner, public)
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
        let public = VerifyKey::ed25519(pair.public_key().as_ref());
        Self::assemble(keyid, SigningInner::Ed25519(Box::new(pair)), public)
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
        let public = VerifyKey::ed25519(pair.public_key().as_ref());
        Self::assemble(keyid, SigningInner::Ed25519(Box::new(pair)), public)
    }

    /// An `rsa-pss-sha512` or `rsa-v1_5-sha256` key from a PKCS#8 document
    /// (v1, DER) of 2048 to 4096 bits. The algorithm identifier may be
    /// `rsaEncryption` or, for `rsa-pss-sha512` only, `id-RSASSA-PSS` without
    /// parameters (RFC 9421 B.1.2's form; RFC 4055 §1.2 forbids using such a
    /// key for PKCS#1 v1.5). Signing draws the PSS salt from the system
    /// random generator (see the module docs); PKCS#1 v1.5 is deterministic.
    ///
    /// # Errors
    /// [`HttpSigError::InvalidKey`] for another algorithm, a document ring
    /// refuses (encoding, size, inconsistent or unbalanced primes), or an
    /// `id-RSASSA-PSS` key with parameters or used for `rsa-v1_5-sha256`.
    pub fn try_from_rsa_pkcs8(
        keyid: &str,
        algorithm: Algorithm,
        pkcs8: &Secret<Vec<u8>>,
    ) -> Result<Self, HttpSigError> {
        if !matches!(algorithm, Algorithm::RsaPssSha512 | Algorithm::RsaV15Sha256) {
            return Err(HttpSigError::InvalidKey(format!(
                "`{}` is not an RSA algorithm",
                algorithm.as_str()
            )));
        }
        let rejected = |e: ring::error::KeyRejected| {
            HttpSigError::InvalidKey(format!("not a usable RSA PKCS#8 key: {e}"))
        };
        let pair = match (classify_rsa(pkcs8.expose()), algorithm) {
            (RsaPkcs8::PssUnrestricted(inner), Algorithm::RsaPssSha512) => {
                RsaKeyPair::from_der(inner).map_err(rejected)?
            }
            (RsaPkcs8::PssUnrestricted(_) | RsaPkcs8::PssRestricted, Algorithm::RsaV15Sha256) => {
                return Err(HttpSigError::InvalidKey(
                    "an id-RSASSA-PSS key cannot sign `rsa-v1_5-sha256`".into(),
                ));
            }
            (RsaPkcs8::PssRestricted, _) => {
                return Err(HttpSigError::InvalidKey(
                    "id-RSASSA-PSS key parameters are not supported (use an unrestricted key)"
                        .into(),
                ));
            }
            _ => RsaKeyPair::from_pkcs8(pkcs8.expose()).map_err(rejected)?,
        };
        Self::rsa(keyid, algorithm, pair)
    }

    /// An `ecdsa-p256-sha256` or `ecdsa-p384-sha384` key from a PKCS#8
    /// document (v1, DER, with the public key, as `openssl pkcs8 -topk8`
    /// writes it). Signing draws the nonce from the system random generator
    /// (see the module docs) and yields `r || s`.
    ///
    /// # Errors
    /// [`HttpSigError::InvalidKey`] for another algorithm or a document that
    /// is not a key on that algorithm's curve.
    pub fn try_from_ecdsa_pkcs8(
        keyid: &str,
        algorithm: Algorithm,
        pkcs8: &Secret<Vec<u8>>,
    ) -> Result<Self, HttpSigError> {
        let (signing, _) = ecdsa_signing(algorithm)?;
        let pair = EcdsaKeyPair::from_pkcs8(signing, pkcs8.expose(), &SystemRandom::new())
            .map_err(|e| {
                HttpSigError::InvalidKey(format!("not a `{}` PKCS#8 key: {e}", algorithm.as_str()))
            })?;
        Self::ecdsa(keyid, algorithm, pair)
    }

    fn ecdsa(keyid: &str, alg: Algorithm, pair: EcdsaKeyPair) -> Result<Self, HttpSigError> {
        let public = VerifyKey::ecdsa(alg.jose(), pair.public_key().as_ref());
        let pair = Box::new(pair);
        Self::assemble(keyid, SigningInner::Ecdsa { alg, pair }, public)
    }

    fn rsa(keyid: &str, alg: Algorithm, pair: RsaKeyPair) -> Result<Self, HttpSigError> {
        let numbers = RsaPublicKeyComponents::<Vec<u8>>::from(pair.public());
        let public = VerifyKey::rsa(minimal(&numbers.n), minimal(&numbers.e), [alg.jose()]);
        let pair = Box::new(pair);
        Self::assemble(keyid, SigningInner::Rsa { alg, pair }, public)
    }

    fn assemble(
        keyid: &str,
        inner: SigningInner,
        public: Result<VerifyKey, String>,
    ) -> Result<Self, HttpSigError> {
        Ok(Self {
            keyid: keyid.to_owned(),
            inner,
            public: public.map_err(HttpSigError::InvalidKey)?,
        })
    }

    /// A private key of `algorithm` from DER in any of the forms keys come
    /// in: PKCS#8 (as the `try_from_*_pkcs8` constructors take it), PKCS#1
    /// `RSAPrivateKey` (`-----BEGIN RSA PRIVATE KEY-----`, RFC 9421 B.1.1's
    /// form) or SEC 1 `ECPrivateKey` with its public key
    /// (`-----BEGIN EC PRIVATE KEY-----`, B.1.3's form, as `openssl ecparam
    /// -genkey` writes it). The form is read from the document.
    ///
    /// # Errors
    /// [`HttpSigError::InvalidKey`] for `hmac-sha256` (a shared secret: see
    /// [`try_from_hmac_sha256`](Self::try_from_hmac_sha256)), a document
    /// that is none of these, a key of another type or curve than
    /// `algorithm`'s, a SEC 1 key without its public key, or a key ring
    /// refuses.
    pub fn try_from_private_key_der(
        keyid: &str,
        algorithm: Algorithm,
        der: &Secret<Vec<u8>>,
    ) -> Result<Self, HttpSigError> {
        let kind = der::private_key(der.expose()).map_err(HttpSigError::InvalidKey)?;
        match (kind, algorithm) {
            (_, Algorithm::HmacSha256) => Err(HttpSigError::InvalidKey(
                "`hmac-sha256` keys are shared secrets, not private key documents".into(),
            )),
            (der::PrivateKey::Pkcs8, Algorithm::Ed25519) => {
                Self::try_from_ed25519_pkcs8(keyid, der)
            }
            (der::PrivateKey::Pkcs8, Algorithm::EcdsaP256Sha256 | Algorithm::EcdsaP384Sha384) => {
                Self::try_from_ecdsa_pkcs8(keyid, algorithm, der)
            }
            (der::PrivateKey::Pkcs8, _) => Self::try_from_rsa_pkcs8(keyid, algorithm, der),
            (der::PrivateKey::Pkcs1, Algorithm::RsaPssSha512 | Algorithm::RsaV15Sha256) => {
                let pair = RsaKeyPair::from_der(der.expose()).map_err(|e| {
                    HttpSigError::InvalidKey(format!("not a usable PKCS#1 RSA private key: {e}"))
                })?;
                Self::rsa(keyid, algorithm, pair)
            }
            (
                der::PrivateKey::Sec1 {
                    scalar,
                    curve,
                    point,
                },
                Algorithm::EcdsaP256Sha256 | Algorithm::EcdsaP384Sha384,
            ) => {
                let (signing, want) = ecdsa_signing(algorithm)?;
                if let Some(curve) = curve.filter(|&c| c != want) {
                    return Err(HttpSigError::InvalidKey(format!(
                        "a {} key cannot sign `{}`",
                        curve.name(),
                        algorithm.as_str()
                    )));
                }
                let point = point.ok_or_else(|| {
                    HttpSigError::InvalidKey(
                        "SEC 1 EC key without its public key: convert it with `openssl pkcs8 -topk8 -nocrypt`"
                            .into(),
                    )
                })?;
                let pair = EcdsaKeyPair::from_private_key_and_public_key(
                    signing,
                    scalar,
                    point,
                    &SystemRandom::new(),
                )
                .map_err(|e| {
                    HttpSigError::InvalidKey(format!(
                        "not a `{}` SEC 1 key: {e}",
                        algorithm.as_str()
                    ))
                })?;
                Self::ecdsa(keyid, algorithm, pair)
            }
            (der::PrivateKey::Pkcs1, _) => Err(HttpSigError::InvalidKey(format!(
                "an RSA key cannot sign `{}`",
                algorithm.as_str()
            ))),
            (der::PrivateKey::Sec1 { .. }, _) => Err(HttpSigError::InvalidKey(format!(
                "an EC key cannot sign `{}`",
                algorithm.as_str()
            ))),
        }
    }

    /// [`try_from_private_key_der`](Self::try_from_private_key_der) from
    /// PEM (RFC 7468): a `PRIVATE KEY`, `RSA PRIVATE KEY` or `EC PRIVATE
    /// KEY` block, such as `openssl genpkey` writes. Encrypted keys are
    /// refused (decrypt them first).
    ///
    /// ```
    /// use edge_auth::Secret;
    /// use edge_auth::httpsig::{Algorithm, SigningKey};
    ///
    /// // RFC 9421 B.1.4 `test-key-ed25519`.
    /// let pem = "-----BEGIN PRIVATE KEY-----\n\
    ///            MC4CAQAwBQYDK2VwBCIEIJ+DYvh6SEqVTm50DFtMDoQikTmiCqirVv9mWG9qfSnF\n\
    ///            -----END PRIVATE KEY-----\n";
    /// let key = SigningKey::try_from_private_key_pem(
    ///     "test-key-ed25519",
    ///     Algorithm::Ed25519,
    ///     &Secret::new(pem.to_owned()),
    /// )?;
    /// assert_eq!(key.algorithm(), Algorithm::Ed25519);
    /// # Ok::<(), edge_auth::httpsig::HttpSigError>(())
    /// ```
    ///
    /// # Errors
    /// [`HttpSigError::InvalidKey`]: not PEM, another label, or as
    /// [`try_from_private_key_der`](Self::try_from_private_key_der).
    pub fn try_from_private_key_pem(
        keyid: &str,
        algorithm: Algorithm,
        pem: &Secret<String>,
    ) -> Result<Self, HttpSigError> {
        let (label, der) = der::pem(pem.expose()).map_err(HttpSigError::InvalidKey)?;
        match label {
            "PRIVATE KEY" | "RSA PRIVATE KEY" | "EC PRIVATE KEY" => {
                Self::try_from_private_key_der(keyid, algorithm, &der)
            }
            "ENCRYPTED PRIVATE KEY" => Err(HttpSigError::InvalidKey(
                "an encrypted PKCS#8 key: decrypt it first (`openssl pkey`)".into(),
            )),
            other => Err(HttpSigError::InvalidKey(format!(
                "a PEM `{other}` block, not a private key"
            ))),
        }
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
            SigningInner::Rsa { alg, .. } | SigningInner::Ecdsa { alg, .. } => alg,
        }
    }

    /// The matching verification key (for HMAC, the same secret; otherwise
    /// the public key).
    pub fn verifying_key(&self) -> VerifyingKey {
        VerifyingKey {
            alg: self.algorithm(),
            key: self.public.clone(),
        }
    }

    /// Signs the signature base. Only the randomized algorithms can fail,
    /// and only when the system random generator does.
    pub(crate) fn sign(&self, base: &[u8]) -> Result<Vec<u8>, HttpSigError> {
        let failed = |_: ring::error::Unspecified| HttpSigError::SigningFailed {
            alg: self.algorithm().as_str(),
        };
        match &self.inner {
            SigningInner::Hmac(k) => Ok(ring::hmac::sign(k, base).as_ref().to_vec()),
            SigningInner::Ed25519(pair) => Ok(pair.sign(base).as_ref().to_vec()),
            SigningInner::Rsa { alg, pair } => {
                let padding: &'static dyn ring::signature::RsaEncoding = match alg {
                    Algorithm::RsaPssSha512 => &RSA_PSS_SHA512,
                    _ => &RSA_PKCS1_SHA256,
                };
                let mut sig = vec![0; pair.public().modulus_len()];
                pair.sign(padding, &SystemRandom::new(), base, &mut sig)
                    .map_err(failed)?;
                Ok(sig)
            }
            SigningInner::Ecdsa { pair, .. } => pair
                .sign(&SystemRandom::new(), base)
                .map(|s| s.as_ref().to_vec())
                .map_err(failed),
        }
    }
}

fn hmac_key(secret: &Secret<Vec<u8>>) -> Result<ring::hmac::Key, HttpSigError> {
    hmac_len(secret)?;
    Ok(ring::hmac::Key::new(
        ring::hmac::HMAC_SHA256,
        secret.expose(),
    ))
}

fn hmac_len(secret: &Secret<Vec<u8>>) -> Result<(), HttpSigError> {
    let len = secret.expose().len();
    if len < MIN_HMAC_KEY {
        return Err(HttpSigError::InvalidKey(format!(
            "hmac-sha256 secret is {len} bytes, at least {MIN_HMAC_KEY} required"
        )));
    }
    Ok(())
}

/// ring's signing algorithm and the curve of an ECDSA `algorithm`.
fn ecdsa_signing(
    algorithm: Algorithm,
) -> Result<(&'static EcdsaSigningAlgorithm, der::Curve), HttpSigError> {
    match algorithm {
        Algorithm::EcdsaP256Sha256 => Ok((&ECDSA_P256_SHA256_FIXED_SIGNING, der::Curve::P256)),
        Algorithm::EcdsaP384Sha384 => Ok((&ECDSA_P384_SHA384_FIXED_SIGNING, der::Curve::P384)),
        other => Err(HttpSigError::InvalidKey(format!(
            "`{}` is not an ECDSA algorithm",
            other.as_str()
        ))),
    }
}

/// Big-endian unsigned bytes without leading zeros.
fn minimal(bytes: &[u8]) -> &[u8] {
    let skip = bytes.iter().take_while(|&&b| b == 0).count();
    bytes.get(skip..).unwrap_or_default()
}

/// A key that verifies signatures of one algorithm, decoded (with the
/// `aws-lc-rs` feature, parsed) once, when it is built: verification goes
/// through the crate's crypto seam, as JWT verification does.
pub struct VerifyingKey {
    alg: Algorithm,
    key: VerifyKey,
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
        hmac_len(secret)?;
        Self::new(
            Algorithm::HmacSha256,
            VerifyKey::hmac(Alg::HS256, secret.expose()),
        )
    }

    fn new(alg: Algorithm, key: Result<VerifyKey, String>) -> Result<Self, HttpSigError> {
        let key = key.map_err(HttpSigError::InvalidKey)?;
        Ok(Self { alg, key })
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
        Self::new(Algorithm::Ed25519, VerifyKey::ed25519(raw))
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
        Self::new(algorithm, VerifyKey::rsa(n, e, [algorithm.jose()]))
    }

    /// An ECDSA public key for `ecdsa-p256-sha256` (65 bytes) or
    /// `ecdsa-p384-sha384` (97 bytes): the uncompressed SEC 1 point
    /// `0x04 || x || y` (a JWK's `x` and `y` decoded, after `0x04`).
    ///
    /// # Errors
    /// [`HttpSigError::InvalidKey`] for another algorithm or a point of the
    /// wrong form or length.
    pub fn try_from_ecdsa_public(algorithm: Algorithm, point: &[u8]) -> Result<Self, HttpSigError> {
        let len = match algorithm {
            Algorithm::EcdsaP256Sha256 => 65,
            Algorithm::EcdsaP384Sha384 => 97,
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
        Self::new(algorithm, VerifyKey::ecdsa(algorithm.jose(), point))
    }

    /// A public key of `algorithm` from DER: an X.509
    /// `SubjectPublicKeyInfo` (`-----BEGIN PUBLIC KEY-----`) holding an RSA
    /// (`rsaEncryption`, or `id-RSASSA-PSS` without parameters for
    /// `rsa-pss-sha512` only), EC P-256 / P-384 or Ed25519 key, or a PKCS#1
    /// `RSAPublicKey` (`-----BEGIN RSA PUBLIC KEY-----`, RFC 9421 B.1.1's
    /// form). The key's type and curve must be `algorithm`'s.
    ///
    /// # Errors
    /// [`HttpSigError::InvalidKey`] for `hmac-sha256`, a document that is
    /// neither form, another key type or curve, or a key the component
    /// constructors refuse (RSA size, exponent, point form).
    pub fn try_from_public_key_der(algorithm: Algorithm, der: &[u8]) -> Result<Self, HttpSigError> {
        let key = der::public_key(der).map_err(HttpSigError::InvalidKey)?;
        let misfit = |what: &str| {
            Err(HttpSigError::InvalidKey(format!(
                "{what} cannot verify `{}`",
                algorithm.as_str()
            )))
        };
        match (key, algorithm) {
            (
                der::PublicKey::Rsa { n, e }
                | der::PublicKey::RsaPss {
                    n,
                    e,
                    restricted: false,
                },
                Algorithm::RsaPssSha512,
            )
            | (der::PublicKey::Rsa { n, e }, Algorithm::RsaV15Sha256) => {
                Self::try_from_rsa_components(algorithm, n, e)
            }
            (
                der::PublicKey::RsaPss {
                    restricted: true, ..
                },
                _,
            ) => Err(HttpSigError::InvalidKey(
                "id-RSASSA-PSS key parameters are not supported (use an unrestricted key)".into(),
            )),
            (der::PublicKey::RsaPss { .. }, _) => misfit("an id-RSASSA-PSS key"),
            (der::PublicKey::Rsa { .. }, _) => misfit("an RSA key"),
            (
                der::PublicKey::Ec { curve, point },
                Algorithm::EcdsaP256Sha256 | Algorithm::EcdsaP384Sha384,
            ) => {
                if ecdsa_signing(algorithm).is_ok_and(|(_, want)| want == curve) {
                    Self::try_from_ecdsa_public(algorithm, point)
                } else {
                    misfit(&format!("a {} key", curve.name()))
                }
            }
            (der::PublicKey::Ec { curve, .. }, _) => misfit(&format!("a {} key", curve.name())),
            (der::PublicKey::Ed25519(raw), Algorithm::Ed25519) => {
                Self::try_from_ed25519_public(raw)
            }
            (der::PublicKey::Ed25519(_), _) => misfit("an Ed25519 key"),
        }
    }

    /// [`try_from_public_key_der`](Self::try_from_public_key_der) from PEM
    /// (RFC 7468): a `PUBLIC KEY` or `RSA PUBLIC KEY` block.
    ///
    /// ```
    /// use edge_auth::httpsig::{Algorithm, VerifyingKey};
    ///
    /// // RFC 9421 B.1.4 `test-key-ed25519`.
    /// let pem = "-----BEGIN PUBLIC KEY-----
    /// MCowBQYDK2VwAyEAJrQLj5P/89iXES9+vFgrIy29clF9CC/oPPsw3c5D0bs=
    /// -----END PUBLIC KEY-----";
    /// let key = VerifyingKey::try_from_public_key_pem(Algorithm::Ed25519, pem)?;
    /// assert_eq!(key.algorithm(), Algorithm::Ed25519);
    /// # Ok::<(), edge_auth::httpsig::HttpSigError>(())
    /// ```
    ///
    /// # Errors
    /// [`HttpSigError::InvalidKey`]: not PEM, another label, or as
    /// [`try_from_public_key_der`](Self::try_from_public_key_der).
    pub fn try_from_public_key_pem(algorithm: Algorithm, pem: &str) -> Result<Self, HttpSigError> {
        let (label, der) = der::pem(pem).map_err(HttpSigError::InvalidKey)?;
        match label {
            "PUBLIC KEY" | "RSA PUBLIC KEY" => {
                Self::try_from_public_key_der(algorithm, der.expose())
            }
            other => Err(HttpSigError::InvalidKey(format!(
                "a PEM `{other}` block, not a public key"
            ))),
        }
    }

    /// The algorithm this key verifies.
    pub fn algorithm(&self) -> Algorithm {
        self.alg
    }

    /// True when `signature` is valid for `base`. HMACs are compared in
    /// constant time by `ring::hmac::verify`.
    pub(crate) fn verify(&self, base: &[u8], signature: &[u8]) -> bool {
        self.key.verify(self.alg.jose(), base, signature)
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
