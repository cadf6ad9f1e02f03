//! Private keys that sign JWS (RFC 7515 §5.1) with ring: RS256/384/512,
//! PS256/384/512, ES256, ES384 and EdDSA (Ed25519), loaded from PKCS#8 or
//! PKCS#1 DER, PEM (`rustls-pki-types`) or a private JWK (RFC 7517 §6,
//! RFC 7518 §6.2.2 / §6.3.2, RFC 8037 §2).

use std::fmt;
use std::sync::Arc;

use crate::jose::Algorithm;
use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD as B64;
use ring::rand::SecureRandom;
use ring::signature::{
    self, EcdsaKeyPair, EcdsaSigningAlgorithm, Ed25519KeyPair, KeyPair as _, RsaEncoding,
    RsaKeyPair,
};
use rustls_pki_types::PrivateKeyDer;
use rustls_pki_types::pem::PemObject as _;
use serde_json::{Map, Value, json};

use crate::jose::{Alg, b64};
use crate::secret::Secret;

/// Why a key could not be loaded or could not sign. Never carries key
/// material.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum KeyError {
    /// The algorithm cannot sign here (HMAC, or one this crate does not know).
    #[error("algorithm `{0}` cannot sign with an asymmetric key")]
    UnsupportedAlgorithm(String),
    /// The key document is not a usable private key for the algorithm.
    #[error("invalid {alg} key: {reason}")]
    InvalidKey {
        /// The algorithm the key was loaded for.
        alg: &'static str,
        /// What was wrong (never key material).
        reason: String,
    },
    /// The random source failed.
    #[error("the random source failed")]
    Randomness,
    /// ring refused to sign (an RSA key whose modulus is too small for the
    /// padding).
    #[error("{0} signing failed")]
    Signing(&'static str),
}

/// How a key was given, kept to export it again (sealed by the caller).
#[derive(Clone)]
enum Material {
    Pkcs8(Secret<Vec<u8>>),
    Pkcs1(Secret<Vec<u8>>),
    Jwk(Secret<String>),
}

enum Pair {
    Rsa(Box<RsaKeyPair>, &'static dyn RsaEncoding),
    Ecdsa(Box<EcdsaKeyPair>),
    Ed25519(Box<Ed25519KeyPair>),
}

/// A private key that signs JWS with one algorithm, with the `kid` it is
/// published under and, optionally, the SHA-256 thumbprint of its X.509
/// certificate (`x5t#S256`, RFC 7515 §4.1.8, which Entra ID certificate
/// credentials name).
///
/// The key material never shows in `Debug` or in errors. Cloning is cheap
/// (the parsed key is shared).
///
/// ```
/// use edge_auth::crypto::SigningKey;
/// use edge_auth::jwt::Algorithm;
///
/// let rng = ring::rand::SystemRandom::new();
/// let key = SigningKey::generate(Algorithm::ES256, &rng)?;
/// // The kid defaults to the RFC 7638 thumbprint of the public key.
/// assert_eq!(key.kid(), key.thumbprint());
/// assert_eq!(key.public_jwk()["kty"], "EC");
/// assert!(!format!("{key:?}").contains("\"d\""));
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
#[derive(Clone)]
pub struct SigningKey {
    alg: Alg,
    kid: String,
    thumbprint: String,
    x5t_s256: Option<String>,
    public: Map<String, Value>,
    pair: Arc<Pair>,
    material: Material,
}

impl fmt::Debug for SigningKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("SigningKey")
            .field("alg", &self.alg.name())
            .field("kid", &self.kid)
            .field("x5t#S256", &self.x5t_s256)
            .field("key", &"** redacted **")
            .finish()
    }
}

fn alg_of(alg: Algorithm) -> Result<Alg, KeyError> {
    if alg.is_hmac() {
        Err(KeyError::UnsupportedAlgorithm(format!("{alg:?}")))
    } else {
        Ok(alg)
    }
}

fn invalid(alg: Alg, reason: impl Into<String>) -> KeyError {
    KeyError::InvalidKey {
        alg: alg.name(),
        reason: reason.into(),
    }
}

fn rsa_encoding(alg: Alg) -> Option<&'static dyn RsaEncoding> {
    Some(match alg {
        Alg::RS256 => &signature::RSA_PKCS1_SHA256,
        Alg::RS384 => &signature::RSA_PKCS1_SHA384,
        Alg::RS512 => &signature::RSA_PKCS1_SHA512,
        Alg::PS256 => &signature::RSA_PSS_SHA256,
        Alg::PS384 => &signature::RSA_PSS_SHA384,
        Alg::PS512 => &signature::RSA_PSS_SHA512,
        _ => return None,
    })
}

fn ecdsa_alg(alg: Alg) -> Option<(&'static EcdsaSigningAlgorithm, &'static str, usize)> {
    match alg {
        Alg::ES256 => Some((&signature::ECDSA_P256_SHA256_FIXED_SIGNING, "P-256", 32)),
        Alg::ES384 => Some((&signature::ECDSA_P384_SHA384_FIXED_SIGNING, "P-384", 48)),
        _ => None,
    }
}

/// RSA keys below this many bits are refused (RFC 7518 §3.3).
const MIN_RSA_BYTES: usize = 256;

impl SigningKey {
    /// A key from a PKCS#8 document (DER): `rsaEncryption` for the RS and PS
    /// algorithms (2048 to 8192 bits), an EC key on the algorithm's curve
    /// with its public key (as `openssl pkcs8 -topk8` writes it), or an
    /// Ed25519 key (v1 or v2) for `EdDSA`.
    ///
    /// # Errors
    /// [`KeyError::UnsupportedAlgorithm`] for an HMAC algorithm;
    /// [`KeyError::InvalidKey`] when the document is not such a key.
    pub fn from_pkcs8_der(alg: Algorithm, der: &Secret<Vec<u8>>) -> Result<Self, KeyError> {
        let alg = alg_of(alg)?;
        Self::from_material(alg, Material::Pkcs8(der.clone()))
    }

    /// A key from PEM: `PRIVATE KEY` (PKCS#8) for every algorithm, or
    /// `RSA PRIVATE KEY` (PKCS#1) for the RS and PS algorithms. The first
    /// private-key section counts; certificates and other sections around
    /// it are skipped. SEC 1 `EC PRIVATE KEY` is refused: convert it with
    /// `openssl pkcs8 -topk8 -nocrypt`. Encrypted keys are refused.
    ///
    /// # Errors
    /// [`KeyError::InvalidKey`] when the text holds no usable private key
    /// for the algorithm; as [`SigningKey::from_pkcs8_der`].
    pub fn from_pem(alg: Algorithm, pem: &Secret<String>) -> Result<Self, KeyError> {
        let alg = alg_of(alg)?;
        let text = pem.expose();
        if text.contains("ENCRYPTED PRIVATE KEY") || text.contains("Proc-Type: 4,ENCRYPTED") {
            return Err(invalid(
                alg,
                "encrypted PEM keys are not supported: decrypt it first \
                 (`openssl pkcs8 -topk8 -nocrypt`)",
            ));
        }
        let der = PrivateKeyDer::from_pem_slice(text.as_bytes()).map_err(|e| {
            invalid(
                alg,
                match e {
                    rustls_pki_types::pem::Error::NoItemsFound => {
                        "no `PRIVATE KEY` or `RSA PRIVATE KEY` section in the PEM text".to_owned()
                    }
                    _ => "the PEM text does not decode".to_owned(),
                },
            )
        })?;
        let material = match der {
            PrivateKeyDer::Pkcs8(d) => Material::Pkcs8(Secret::new(d.secret_pkcs8_der().to_vec())),
            PrivateKeyDer::Pkcs1(d) => Material::Pkcs1(Secret::new(d.secret_pkcs1_der().to_vec())),
            PrivateKeyDer::Sec1(_) => {
                return Err(invalid(
                    alg,
                    "SEC 1 `EC PRIVATE KEY` is not supported: convert it to PKCS#8 \
                     (`openssl pkcs8 -topk8 -nocrypt`)",
                ));
            }
            _ => return Err(invalid(alg, "unsupported private key section")),
        };
        Self::from_material(alg, material)
    }

    /// A key from a private JWK (RFC 7517): `RSA` with `n`, `e`, `d`, `p`,
    /// `q`, `dp`, `dq`, `qi` (RFC 7518 §6.3.2; multi-prime keys refused),
    /// `EC` with `crv`, `x`, `y`, `d` (§6.2.2), or `OKP` with `crv` =
    /// `Ed25519`, `x`, `d` (RFC 8037 §2). The JWK's `kid`, when present,
    /// becomes the key's `kid`; a JWK `alg` other than `alg` is refused.
    ///
    /// # Errors
    /// [`KeyError::InvalidKey`] naming the missing or malformed member, a
    /// key type that does not fit the algorithm, or a key ring refuses
    /// (inconsistent public and private parts).
    pub fn from_jwk(alg: Algorithm, jwk: &Secret<String>) -> Result<Self, KeyError> {
        let alg = alg_of(alg)?;
        Self::from_material(alg, Material::Jwk(jwk.clone()))
    }

    /// A fresh ES256, ES384 or EdDSA key from `rng` (ring cannot generate
    /// RSA keys), kept as PKCS#8.
    ///
    /// # Errors
    /// [`KeyError::UnsupportedAlgorithm`] for RSA and HMAC;
    /// [`KeyError::Randomness`] when `rng` fails.
    pub fn generate(alg: Algorithm, rng: &dyn SecureRandom) -> Result<Self, KeyError> {
        let a = alg_of(alg)?;
        let doc = if let Some((signing, _, _)) = ecdsa_alg(a) {
            EcdsaKeyPair::generate_pkcs8(signing, rng)
        } else if a == Alg::EdDSA {
            Ed25519KeyPair::generate_pkcs8(rng)
        } else {
            return Err(KeyError::UnsupportedAlgorithm(format!("{alg:?}")));
        }
        .map_err(|_| KeyError::Randomness)?;
        Self::from_material(a, Material::Pkcs8(Secret::new(doc.as_ref().to_vec())))
    }

    /// Sets the `kid` (default: the RFC 7638 thumbprint, or the JWK's own
    /// `kid`).
    #[must_use]
    pub fn with_kid(mut self, kid: impl Into<String>) -> Self {
        self.kid = kid.into();
        self
    }

    /// Names the key's X.509 certificate (DER): its SHA-256 thumbprint
    /// becomes `x5t#S256` (RFC 7515 §4.1.8) in the public JWK and in the
    /// headers this key signs. Entra ID certificate credentials find the
    /// certificate by it. The certificate is not parsed: the caller pairs it
    /// with the key.
    #[must_use]
    pub fn with_certificate(mut self, cert_der: &[u8]) -> Self {
        self.x5t_s256 = Some(B64.encode(ring::digest::digest(&ring::digest::SHA256, cert_der)));
        self
    }

    /// The algorithm this key signs with.
    pub fn algorithm(&self) -> Algorithm {
        self.alg
    }

    pub(crate) fn alg_name(&self) -> &'static str {
        self.alg.name()
    }

    /// The `kid` the key is published under.
    pub fn kid(&self) -> &str {
        &self.kid
    }

    /// The RFC 7638 JWK thumbprint (SHA-256, base64url) of the public key.
    pub fn thumbprint(&self) -> &str {
        &self.thumbprint
    }

    /// The `x5t#S256` certificate thumbprint, when a certificate was named.
    pub fn x5t_s256(&self) -> Option<&str> {
        self.x5t_s256.as_deref()
    }

    /// The public JWK (RFC 7517 §4): the key type's public members, `kid`,
    /// `alg`, `use` = `sig` and, with a certificate, `x5t#S256`.
    pub fn public_jwk(&self) -> Value {
        let mut jwk = self.public.clone();
        jwk.insert("kid".into(), Value::String(self.kid.clone()));
        jwk.insert("alg".into(), Value::String(self.alg.name().into()));
        jwk.insert("use".into(), Value::String("sig".into()));
        if let Some(x5t) = &self.x5t_s256 {
            jwk.insert("x5t#S256".into(), Value::String(x5t.clone()));
        }
        Value::Object(jwk)
    }

    /// Signs a JWS signing input (`BASE64URL(header) '.' BASE64URL(payload)`)
    /// and returns the signature bytes (RFC 7518 §3: ECDSA as `R || S`).
    /// RSA-PSS salts and ECDSA nonces come from `rng`.
    ///
    /// # Errors
    /// [`KeyError::Randomness`] when `rng` fails; [`KeyError::Signing`] when
    /// ring refuses.
    pub fn sign(&self, signing_input: &[u8], rng: &dyn SecureRandom) -> Result<Vec<u8>, KeyError> {
        match &*self.pair {
            Pair::Rsa(pair, encoding) => {
                let mut sig = vec![0; pair.public().modulus_len()];
                pair.sign(*encoding, rng, signing_input, &mut sig)
                    .map_err(|_| KeyError::Signing(self.alg.name()))?;
                Ok(sig)
            }
            Pair::Ecdsa(pair) => pair
                .sign(rng, signing_input)
                .map(|s| s.as_ref().to_vec())
                .map_err(|_| KeyError::Randomness),
            Pair::Ed25519(pair) => Ok(pair.sign(signing_input).as_ref().to_vec()),
        }
    }

    /// The key as a JSON document for storage (`alg`, `kid`, optional
    /// `x5t#S256`, and the private key as `pkcs8` / `pkcs1` base64url or as
    /// the private `jwk`), to be sealed by the caller
    /// ([`Sealer`](crate::seal::Sealer)) before it leaves the process.
    pub fn export(&self) -> Secret<String> {
        let mut doc = Map::new();
        doc.insert("alg".into(), Value::String(self.alg.name().into()));
        doc.insert("kid".into(), Value::String(self.kid.clone()));
        if let Some(x5t) = &self.x5t_s256 {
            doc.insert("x5t#S256".into(), Value::String(x5t.clone()));
        }
        match &self.material {
            Material::Pkcs8(d) => doc.insert("pkcs8".into(), B64.encode(d.expose()).into()),
            Material::Pkcs1(d) => doc.insert("pkcs1".into(), B64.encode(d.expose()).into()),
            Material::Jwk(j) => doc.insert("jwk".into(), Value::String(j.expose().clone())),
        };
        Secret::new(Value::Object(doc).to_string())
    }

    /// A key from [`SigningKey::export`]'s document.
    ///
    /// # Errors
    /// [`KeyError::InvalidKey`] when the document is not an exported key.
    pub fn import(doc: &Secret<String>) -> Result<Self, KeyError> {
        let bad = |reason: &str| KeyError::InvalidKey {
            alg: "exported",
            reason: reason.to_owned(),
        };
        let map: Map<String, Value> = crate::json::from_document(doc.expose())
            .map_err(|_| bad("the document is not a JSON object"))?;
        let alg = map
            .get("alg")
            .and_then(Value::as_str)
            .and_then(Alg::from_name)
            .filter(|a| !a.is_hmac())
            .ok_or_else(|| bad("`alg` is missing or not a signing algorithm"))?;
        let kid = map
            .get("kid")
            .and_then(Value::as_str)
            .ok_or_else(|| bad("`kid` is missing"))?;
        let der = |name: &str| -> Result<Option<Secret<Vec<u8>>>, KeyError> {
            match map.get(name) {
                None => Ok(None),
                Some(v) => v
                    .as_str()
                    .and_then(|s| b64::decode_vec(s).ok())
                    .map(|d| Some(Secret::new(d)))
                    .ok_or_else(|| bad("the key is not base64url")),
            }
        };
        let material = if let Some(d) = der("pkcs8")? {
            Material::Pkcs8(d)
        } else if let Some(d) = der("pkcs1")? {
            Material::Pkcs1(d)
        } else if let Some(j) = map.get("jwk").and_then(Value::as_str) {
            Material::Jwk(Secret::new(j.to_owned()))
        } else {
            return Err(bad("no `pkcs8`, `pkcs1` or `jwk` member"));
        };
        let mut key = Self::from_material(alg, material)?;
        kid.clone_into(&mut key.kid);
        key.x5t_s256 = map
            .get("x5t#S256")
            .and_then(Value::as_str)
            .map(str::to_owned);
        Ok(key)
    }

    fn from_material(alg: Alg, material: Material) -> Result<Self, KeyError> {
        let (pair, jwk_kid) = match &material {
            Material::Pkcs8(der) => (pair_from_pkcs8(alg, der.expose())?, None),
            Material::Pkcs1(der) => {
                let enc = rsa_encoding(alg)
                    .ok_or_else(|| invalid(alg, "a PKCS#1 document is an RSA key"))?;
                let pair = RsaKeyPair::from_der(der.expose())
                    .map_err(|e| invalid(alg, format!("not a usable RSA PKCS#1 key: {e}")))?;
                (Pair::Rsa(Box::new(pair), enc), None)
            }
            Material::Jwk(text) => pair_from_jwk(alg, text.expose())?,
        };
        if let Pair::Rsa(p, _) = &pair
            && p.public().modulus_len() < MIN_RSA_BYTES
        {
            return Err(invalid(alg, "RSA keys under 2048 bits are refused"));
        }
        let public = public_members(&pair);
        let thumbprint = thumbprint(&public);
        Ok(Self {
            alg,
            kid: jwk_kid.unwrap_or_else(|| thumbprint.clone()),
            thumbprint,
            x5t_s256: None,
            public,
            pair: Arc::new(pair),
            material,
        })
    }
}

fn pair_from_pkcs8(alg: Alg, der: &[u8]) -> Result<Pair, KeyError> {
    if let Some(enc) = rsa_encoding(alg) {
        let pair = RsaKeyPair::from_pkcs8(der)
            .map_err(|e| invalid(alg, format!("not a usable RSA PKCS#8 key: {e}")))?;
        Ok(Pair::Rsa(Box::new(pair), enc))
    } else if let Some((signing, crv, _)) = ecdsa_alg(alg) {
        // ring draws the nonce key's seed from the system generator here;
        // signing itself takes the caller's `rng`.
        let pair = EcdsaKeyPair::from_pkcs8(signing, der, &ring::rand::SystemRandom::new())
            .map_err(|e| invalid(alg, format!("not a {crv} PKCS#8 key: {e}")))?;
        Ok(Pair::Ecdsa(Box::new(pair)))
    } else {
        let pair = Ed25519KeyPair::from_pkcs8_maybe_unchecked(der)
            .map_err(|e| invalid(alg, format!("not an Ed25519 PKCS#8 key: {e}")))?;
        Ok(Pair::Ed25519(Box::new(pair)))
    }
}

/// The JWK member `name`, base64url-decoded (kept in a `Secret` since it
/// may be private).
fn member(
    alg: Alg,
    jwk: &Map<String, Value>,
    name: &'static str,
) -> Result<Secret<Vec<u8>>, KeyError> {
    let text = jwk
        .get(name)
        .and_then(Value::as_str)
        .ok_or_else(|| invalid(alg, format!("the JWK has no string member `{name}`")))?;
    b64::decode_vec(text)
        .map(Secret::new)
        .map_err(|_| invalid(alg, format!("JWK member `{name}` is not base64url")))
}

fn pair_from_jwk(alg: Alg, text: &str) -> Result<(Pair, Option<String>), KeyError> {
    let jwk: Map<String, Value> = crate::json::from_document(text)
        .map_err(|_| invalid(alg, "the JWK is not a JSON object"))?;
    let kty = jwk.get("kty").and_then(Value::as_str).unwrap_or_default();
    if let Some(named) = jwk.get("alg").and_then(Value::as_str)
        && Alg::from_name(named) != Some(alg)
    {
        return Err(invalid(alg, format!("the JWK is for `{named}`")));
    }
    let kid = jwk.get("kid").and_then(Value::as_str).map(str::to_owned);
    let pair = if let Some(enc) = rsa_encoding(alg) {
        if kty != "RSA" {
            return Err(invalid(alg, format!("JWK `kty` is `{kty}`, not `RSA`")));
        }
        if jwk.contains_key("oth") {
            return Err(invalid(
                alg,
                "multi-prime RSA keys (`oth`) are not supported",
            ));
        }
        let [n, e, d, p, q, dp, dq, qi] = ["n", "e", "d", "p", "q", "dp", "dq", "qi"];
        let (n, e, d) = (
            member(alg, &jwk, n)?,
            member(alg, &jwk, e)?,
            member(alg, &jwk, d)?,
        );
        let (p, q) = (member(alg, &jwk, p)?, member(alg, &jwk, q)?);
        let (dp, dq, qi) = (
            member(alg, &jwk, dp)?,
            member(alg, &jwk, dq)?,
            member(alg, &jwk, qi)?,
        );
        let components = ring::rsa::KeyPairComponents {
            public_key: ring::rsa::PublicKeyComponents {
                n: n.expose().as_slice(),
                e: e.expose().as_slice(),
            },
            d: d.expose().as_slice(),
            p: p.expose().as_slice(),
            q: q.expose().as_slice(),
            dP: dp.expose().as_slice(),
            dQ: dq.expose().as_slice(),
            qInv: qi.expose().as_slice(),
        };
        let pair = RsaKeyPair::from_components(&components)
            .map_err(|e| invalid(alg, format!("ring refuses the RSA JWK: {e}")))?;
        Pair::Rsa(Box::new(pair), enc)
    } else if let Some((signing, crv, size)) = ecdsa_alg(alg) {
        let named = jwk.get("crv").and_then(Value::as_str).unwrap_or_default();
        if kty != "EC" || named != crv {
            return Err(invalid(
                alg,
                format!("JWK `kty`/`crv` are `{kty}`/`{named}`, not `EC`/`{crv}`"),
            ));
        }
        let (x, y, d) = (
            member(alg, &jwk, "x")?,
            member(alg, &jwk, "y")?,
            member(alg, &jwk, "d")?,
        );
        if x.expose().len() != size || y.expose().len() != size || d.expose().len() != size {
            return Err(invalid(
                alg,
                format!("JWK `x`, `y` and `d` must be {size} bytes each"),
            ));
        }
        let mut point = Vec::with_capacity(1 + 2 * size);
        point.push(4);
        point.extend_from_slice(x.expose());
        point.extend_from_slice(y.expose());
        let pair = EcdsaKeyPair::from_private_key_and_public_key(
            signing,
            d.expose(),
            &point,
            &ring::rand::SystemRandom::new(),
        )
        .map_err(|e| invalid(alg, format!("ring refuses the EC JWK: {e}")))?;
        Pair::Ecdsa(Box::new(pair))
    } else {
        let named = jwk.get("crv").and_then(Value::as_str).unwrap_or_default();
        if kty != "OKP" || named != "Ed25519" {
            return Err(invalid(
                alg,
                format!("JWK `kty`/`crv` are `{kty}`/`{named}`, not `OKP`/`Ed25519`"),
            ));
        }
        let (x, d) = (member(alg, &jwk, "x")?, member(alg, &jwk, "d")?);
        let pair = Ed25519KeyPair::from_seed_and_public_key(d.expose(), x.expose())
            .map_err(|e| invalid(alg, format!("ring refuses the Ed25519 JWK: {e}")))?;
        Pair::Ed25519(Box::new(pair))
    };
    Ok((pair, kid))
}

/// The public members RFC 7638 §3.2 hashes (and the JWK publishes).
fn public_members(pair: &Pair) -> Map<String, Value> {
    let value = match pair {
        Pair::Rsa(p, _) => {
            let c: ring::rsa::PublicKeyComponents<Vec<u8>> = p.public().into();
            json!({"kty": "RSA", "n": B64.encode(&c.n), "e": B64.encode(&c.e)})
        }
        Pair::Ecdsa(p) => {
            let point = p.public_key().as_ref();
            let size = point.len().saturating_sub(1) / 2;
            let crv = if size == 48 { "P-384" } else { "P-256" };
            let x = point.get(1..=size).unwrap_or_default();
            let y = point.get(1 + size..).unwrap_or_default();
            json!({"kty": "EC", "crv": crv, "x": B64.encode(x), "y": B64.encode(y)})
        }
        Pair::Ed25519(p) => {
            json!({"kty": "OKP", "crv": "Ed25519", "x": B64.encode(p.public_key().as_ref())})
        }
    };
    match value {
        Value::Object(map) => map,
        _ => Map::new(),
    }
}

/// RFC 7638 §3: SHA-256 over the required members in lexicographic order,
/// no whitespace. Written out by hand so that no serde_json feature
/// (`preserve_order`) can change the order; the values are base64url or
/// fixed names, which need no escaping.
fn thumbprint(public: &Map<String, Value>) -> String {
    let m = |name: &str| public.get(name).and_then(Value::as_str).unwrap_or_default();
    let canonical = match m("kty") {
        "RSA" => format!(r#"{{"e":"{}","kty":"RSA","n":"{}"}}"#, m("e"), m("n")),
        "EC" => format!(
            r#"{{"crv":"{}","kty":"EC","x":"{}","y":"{}"}}"#,
            m("crv"),
            m("x"),
            m("y")
        ),
        _ => format!(r#"{{"crv":"{}","kty":"OKP","x":"{}"}}"#, m("crv"), m("x")),
    };
    B64.encode(ring::digest::digest(
        &ring::digest::SHA256,
        canonical.as_bytes(),
    ))
}

#[cfg(test)]
mod tests {
    use super::*;

    /// RFC 7638 §3.1: the example RSA key and its thumbprint.
    #[test]
    fn thumbprint_rfc7638_example() {
        let n = "0vx7agoebGcQSuuPiLJXZptN9nndrQmbXEps2aiAFbWhM78LhWx4cbbfAAtVT86zwu1RK7aPFFxuhDR1L6tSoc_BJECPebWKRXjBZCiFV4n3oknjhMstn64tZ_2W-5JsGY4Hc5n9yBXArwl93lqt7_RN5w6Cf0h4QyQ5v-65YGjQR0_FDW2QvzqY368QQMicAtaSqzs8KJZgnYb9c7d0zgdAZHzu6qMQvRL5hajrn1n91CbOpbISD08qNLyrdkt-bFTWhAI4vMQFh6WeZu0fM4lFd2NcRwr3XPksINHaQ-G_xBniIqbw0Ls1jF44-csFCur-kEgU8awapJzKnqDKgw";
        let Value::Object(public) = json!({"kty": "RSA", "n": n, "e": "AQAB"}) else {
            unreachable!()
        };
        assert_eq!(
            thumbprint(&public),
            "NzbLsXh8uDCcd-6MNwXF4W_7noWXFZAfHkxZsRGC9Xs"
        );
    }
}
