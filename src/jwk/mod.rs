//! JSON Web Key sets (RFC 7517 §5): tolerant parsing into keys decoded once
//! for ring (and, with the `aws-lc-rs` feature, parsed once by aws-lc-rs,
//! which then verifies RSA, ECDSA and EdDSA signatures), looked up by `kid`
//! and `alg`. Keys this crate cannot or must not use are skipped with a
//! [`Diagnostic`]; the rest of the set loads.
//!
//! ```
//! use edge_auth::jwk::{KeySet, KeySetOptions};
//!
//! let jwks = br#"{"keys":[
//!   {"kty":"OKP","crv":"Ed25519","kid":"ed","x":"11qYAYKxCrfVS_7TyWQHOg7hcvPapiMlrwIaaPcHURo"},
//!   {"kty":"EC","crv":"P-521","kid":"p521","x":"AA","y":"AA"}
//! ]}"#;
//! let keys = KeySet::from_jwks(jwks, &KeySetOptions::default())?;
//! assert_eq!(keys.len(), 1);
//! assert!(keys.contains_kid("ed"));
//! assert_eq!(keys.diagnostics()[0].kid.as_deref(), Some("p521"));
//! # Ok::<(), edge_auth::jwk::JwkError>(())
//! ```
//!
//! # Key sets that refresh themselves (without doing I/O)
//!
//! [`cache::JwksCache`] holds one issuer's key set and says when to fetch it;
//! [`IssuerKeys`] adds OpenID Connect discovery in front of it (the document's
//! `issuer` must equal the configured issuer exactly, OIDC Discovery §4.3, and
//! `jwks_uri` must be https; loopback http only when enabled for development).
//! Freshness comes from the response's Cache-Control / Expires / Age
//! (RFC 9111, as a private cache), clamped to 5 min – 24 h; the set refreshes
//! ahead at 80 % of its lifetime while it keeps serving; an unknown `kid`
//! triggers at most one refetch per 30 s (a flood of random kids never evicts
//! good keys); when the IdP is down the last good set keeps serving for up to
//! 24 h past expiry with exponential backoff; `ETag` / `If-None-Match` renew
//! with `304`. Call `poll(now)` from a timer (the drivers do) and run the plans
//! it hands out: key sets are renewed before they expire, failed fetches are
//! retried after their backoff, and discovery documents are fetched again every
//! 24 h, so an IdP that moves its `jwks_uri` is followed without a restart.
//! docs/adr/0004 records the cache's choices.

pub mod cache;
pub mod discovery;
mod issuer;
mod plan;

pub use issuer::{IssuerKeys, IssuerKeysConfig, KeyLookup, KeysError};
pub use plan::{FetchKind, FetchPlan, FetchReason};

use std::fmt;

use serde_json::{Map, Value};

use crate::crypto::VerifyKey;
use crate::jose::{ALL, Alg, KeyError, b64};

/// What a key set accepts.
#[derive(Debug, Clone)]
#[non_exhaustive]
pub struct KeySetOptions {
    /// Load `kty: oct` (HMAC) keys. Off by default: a shared secret in a
    /// public JWKS is almost always a mistake. Even when on, `oct` keys in a
    /// set that also holds public keys are skipped (a mixed set invites
    /// algorithm confusion).
    pub allow_symmetric: bool,
    /// The most keys a set may hold (default 100); more is an error.
    pub max_keys: usize,
    /// The largest JWKS document accepted, in bytes (default 256 KiB).
    pub max_document_size: usize,
}

impl Default for KeySetOptions {
    fn default() -> Self {
        Self {
            allow_symmetric: false,
            max_keys: 100,
            max_document_size: 256 * 1024,
        }
    }
}

/// Why one key of a set was skipped.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct Diagnostic {
    /// The key's position in the `keys` array.
    pub index: usize,
    /// The key's `kid`, if it had a string one.
    pub kid: Option<String>,
    /// Why it was skipped.
    pub reason: String,
}

impl fmt::Display for Diagnostic {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match &self.kid {
            Some(kid) => write!(f, "key {} (`{kid}`) skipped: {}", self.index, self.reason),
            None => write!(f, "key {} skipped: {}", self.index, self.reason),
        }
    }
}

/// A parsed JSON Web Key Set: verification keys decoded once, ready for
/// ring. Cloning is cheap enough to do per key-set refresh, not per request.
#[derive(Debug, Clone, Default)]
pub struct KeySet {
    keys: Vec<Key>,
    diagnostics: Vec<Diagnostic>,
}

/// A key or key set that cannot be used.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum JwkError {
    /// The document is over [`KeySetOptions::max_document_size`].
    #[error("key set document is {len} bytes, more than the limit of {max}")]
    TooLarge {
        /// The document's size.
        len: usize,
        /// The limit.
        max: usize,
    },
    /// The `keys` array is longer than [`KeySetOptions::max_keys`].
    #[error("key set has {count} keys, more than the limit of {max}")]
    TooManyKeys {
        /// The number of keys in the document.
        count: usize,
        /// The limit.
        max: usize,
    },
    /// Not a JWKS at all (not JSON, not an object, no `keys` array).
    #[error("not a JSON Web Key Set: {reason}")]
    Malformed {
        /// What was wrong.
        reason: String,
    },
    /// A single key ([`KeySet::from_jwk`], [`KeySet::from_hmac_secret`]) is unusable.
    #[error("unusable key{}: {reason}", kid.as_deref().map(|k| format!(" `{k}`")).unwrap_or_default())]
    Unusable {
        /// The key's `kid`, if any.
        kid: Option<String>,
        /// Why it cannot be used.
        reason: String,
    },
}

impl KeySet {
    /// Parses a JWKS document (`{"keys":[...]}`), skipping keys that cannot
    /// be used for signature verification, each with a [`Diagnostic`].
    ///
    /// Loaded: RSA (2048 to 8192 bits, not ROCA-weak), EC P-256 / P-384,
    /// OKP Ed25519, and `oct` when [`KeySetOptions::allow_symmetric`] is on.
    /// Skipped: other `kty` / curves, `use` other than `sig`, `key_ops`
    /// without `verify`, an `alg` that is unknown or does not fit the key,
    /// private key material, malformed members, two different keys of one
    /// `kty` under one `kid` (both), and a second listing of the same key.
    ///
    /// # Errors
    /// [`JwkError::TooLarge`], [`JwkError::TooManyKeys`], or
    /// [`JwkError::Malformed`] when the document is not a JSON object with a
    /// `keys` array.
    pub fn from_jwks(json: &[u8], options: &KeySetOptions) -> Result<Self, JwkError> {
        if json.len() > options.max_document_size {
            return Err(JwkError::TooLarge {
                len: json.len(),
                max: options.max_document_size,
            });
        }
        let doc: Value =
            crate::json::from_document_bytes(json).map_err(|e| JwkError::Malformed {
                reason: e.to_string(),
            })?;
        let keys = doc
            .as_object()
            .ok_or_else(|| JwkError::Malformed {
                reason: "the document is not a JSON object".to_owned(),
            })?
            .get("keys")
            .ok_or_else(|| JwkError::Malformed {
                reason: "`keys` is missing".to_owned(),
            })?
            .as_array()
            .ok_or_else(|| JwkError::Malformed {
                reason: "`keys` is not an array".to_owned(),
            })?;
        if keys.len() > options.max_keys {
            return Err(JwkError::TooManyKeys {
                count: keys.len(),
                max: options.max_keys,
            });
        }
        let mut set = KeySet::default();
        // RFC 7517 §4.5: keys of one set should have distinct `kid`s; the
        // same `kid` on keys of different `kty` is a legitimate alternative,
        // on two different keys of the same `kty` it leaves the verifier
        // guessing, so neither is used. The same key listed twice (it
        // happens during rotations) is used once.
        for (index, jwk) in keys.iter().enumerate() {
            let kid = jwk.get("kid").and_then(Value::as_str).map(str::to_owned);
            let id = kid_kty(jwk);
            let same_id = |other: &Value| id.0.is_some() && kid_kty(other) == id;
            if keys
                .iter()
                .enumerate()
                .any(|(i, other)| i != index && same_id(other) && !same_material(jwk, other))
            {
                set.diagnostics.push(Diagnostic {
                    index,
                    kid,
                    reason: format!(
                        "another `{}` key in the set has the same kid",
                        id.1.unwrap_or("?")
                    ),
                });
                continue;
            }
            let first = set
                .keys
                .iter()
                .find(|k| keys.get(k.index).is_some_and(same_id))
                .map(|k| k.index);
            match (Key::from_value(jwk, options), first) {
                (Ok(_), Some(first)) => set.diagnostics.push(Diagnostic {
                    index,
                    kid,
                    reason: format!(
                        "the same key as the one at index {first} (same kid and key material); used once"
                    ),
                }),
                (Ok(key), None) => set.keys.push(Key { index, ..key }),
                (Err(reason), _) => set.diagnostics.push(Diagnostic { index, kid, reason }),
            }
        }
        // Shared secrets beside public keys: one misrouted `alg` away from
        // key confusion. Keep the public keys.
        let has_public = set
            .keys
            .iter()
            .any(|k| !matches!(k.material, Material::Hmac(_)));
        if has_public {
            let (keep, drop): (Vec<_>, Vec<_>) = std::mem::take(&mut set.keys)
                .into_iter()
                .partition(|k| !matches!(k.material, Material::Hmac(_)));
            set.keys = keep;
            for key in drop {
                set.diagnostics.push(Diagnostic {
                    index: key.index,
                    kid: key.kid,
                    reason: "symmetric key in a set that also holds public keys".to_owned(),
                });
            }
            set.diagnostics.sort_by_key(|d| d.index);
        }
        Ok(set)
    }

    /// Parses a single JWK into a one-key set.
    ///
    /// # Errors
    /// [`JwkError::Malformed`] when `json` is not a JSON object,
    /// [`JwkError::Unusable`] with the reason a JWKS would have skipped it.
    pub fn from_jwk(json: &[u8], options: &KeySetOptions) -> Result<Self, JwkError> {
        if json.len() > options.max_document_size {
            return Err(JwkError::TooLarge {
                len: json.len(),
                max: options.max_document_size,
            });
        }
        let jwk: Value =
            crate::json::from_document_bytes(json).map_err(|e| JwkError::Malformed {
                reason: e.to_string(),
            })?;
        let kid = jwk.get("kid").and_then(Value::as_str).map(str::to_owned);
        let key =
            Key::from_value(&jwk, options).map_err(|reason| JwkError::Unusable { kid, reason })?;
        Ok(KeySet {
            keys: vec![key],
            diagnostics: Vec::new(),
        })
    }

    /// The verification key of a JWK already read as JSON (a DPoP proof's
    /// `jwk` header member): parsed once, not written out and read again.
    #[cfg(feature = "dpop")]
    pub(crate) fn key_from_value(jwk: &Value, options: &KeySetOptions) -> Result<Key, String> {
        Key::from_value(jwk, options)
    }

    /// A one-key set holding an HMAC secret (for HS256/384/512), e.g. a
    /// dev issuer's shared secret kept outside any JWKS. The secret must be
    /// at least as long as the hash output of the algorithms it will verify
    /// (RFC 7518 §3.2); shorter secrets verify none.
    ///
    /// # Errors
    /// [`JwkError::Unusable`] when the secret is shorter than 32 bytes.
    pub fn from_hmac_secret(secret: &[u8], kid: Option<&str>) -> Result<Self, JwkError> {
        let keys = HmacKeys::new(secret, None).map_err(|reason| JwkError::Unusable {
            kid: kid.map(str::to_owned),
            reason,
        })?;
        Ok(KeySet {
            keys: vec![Key {
                index: 0,
                kid: kid.map(str::to_owned),
                alg: None,
                material: Material::Hmac(Box::new(keys)),
                public: None,
            }],
            diagnostics: Vec::new(),
        })
    }

    /// The number of usable keys.
    pub fn len(&self) -> usize {
        self.keys.len()
    }

    /// Whether no key was usable.
    pub fn is_empty(&self) -> bool {
        self.keys.is_empty()
    }

    /// Whether a key with this `kid` was loaded.
    pub fn contains_kid(&self, kid: &str) -> bool {
        self.keys.iter().any(|k| k.kid.as_deref() == Some(kid))
    }

    /// The `kid`s of the loaded keys (keys without one are not listed).
    pub fn kids(&self) -> impl Iterator<Item = &str> {
        self.keys.iter().filter_map(|k| k.kid.as_deref())
    }

    /// Why keys of the document were skipped, in document order.
    pub fn diagnostics(&self) -> &[Diagnostic] {
        &self.diagnostics
    }

    /// Finds the one key that may verify a token with this `kid` and `alg`.
    ///
    /// With a `kid`, only keys with that `kid` are considered; without, every
    /// key. Exactly one key must fit: none is unknown (or a mismatch when the
    /// `kid` names a key of the wrong kind), several is ambiguous.
    pub(crate) fn find(&self, kid: Option<&str>, alg: Alg) -> Result<&Key, KeyError> {
        let mut found: Option<&Key> = None;
        let mut fits = 0usize;
        let mut named = 0usize;
        let mut mismatch: Option<String> = None;
        for key in &self.keys {
            if let Some(kid) = kid
                && key.kid.as_deref() != Some(kid)
            {
                continue;
            }
            named = named.saturating_add(1);
            match key.fits(alg) {
                Ok(()) => {
                    fits = fits.saturating_add(1);
                    found.get_or_insert(key);
                }
                Err(reason) => {
                    mismatch.get_or_insert(reason);
                }
            }
        }
        let kid_owned = || kid.map(str::to_owned);
        match (found, fits) {
            (Some(key), 1) => Ok(key),
            (Some(_), count) => Err(KeyError::AmbiguousKey {
                kid: kid_owned(),
                alg: alg.name().to_owned(),
                count,
            }),
            (None, _) => match mismatch {
                Some(reason) if kid.is_some() && named > 0 => Err(KeyError::KeyMismatch {
                    kid: kid_owned(),
                    alg: alg.name().to_owned(),
                    reason,
                }),
                _ => Err(KeyError::UnknownKey {
                    kid: kid_owned(),
                    alg: alg.name().to_owned(),
                }),
            },
        }
    }
}

/// One verification key, decoded once.
#[derive(Clone)]
pub(crate) struct Key {
    index: usize,
    kid: Option<String>,
    /// The key's own `alg`, when it named one.
    alg: Option<Alg>,
    material: Material,
    /// The public key, decoded (and with the `aws-lc-rs` feature parsed)
    /// once for the algorithms it fits; `None` for HMAC, whose keys are in
    /// its [`Material`].
    public: Option<VerifyKey>,
}

impl fmt::Debug for Key {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Key")
            .field("kid", &self.kid)
            .field("alg", &self.alg.map(Alg::name))
            .field("material", &self.material)
            .finish()
    }
}

#[derive(Clone)]
enum Material {
    Rsa { bits: usize },
    P256,
    P384,
    Ed25519,
    Hmac(Box<HmacKeys>),
}

/// The public key's numbers, between decoding and the [`VerifyKey`].
enum Raw {
    Rsa { n: Box<[u8]>, e: Box<[u8]> },
    Ec(Alg, Vec<u8>),
    Ed25519([u8; 32]),
    None,
}

impl fmt::Debug for Material {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Material::Rsa { bits, .. } => write!(f, "RSA {bits} bits"),
            Material::P256 => f.write_str("EC P-256"),
            Material::P384 => f.write_str("EC P-384"),
            Material::Ed25519 => f.write_str("OKP Ed25519"),
            Material::Hmac(_) => f.write_str("oct ** redacted **"),
        }
    }
}

/// HMAC keys for each hash the secret is long enough for.
#[derive(Clone)]
struct HmacKeys {
    len: usize,
    sha256: Option<VerifyKey>,
    sha384: Option<VerifyKey>,
    sha512: Option<VerifyKey>,
}

impl HmacKeys {
    fn new(secret: &[u8], only: Option<Alg>) -> Result<Self, String> {
        if secret.len() < 32 {
            return Err(format!(
                "HMAC secret is {} bytes; at least 32 are required (RFC 7518 §3.2)",
                secret.len()
            ));
        }
        let key = |alg: Alg, min: usize| {
            if only.is_none_or(|o| o == alg) && secret.len() >= min {
                VerifyKey::hmac(alg, secret).map(Some)
            } else {
                Ok(None)
            }
        };
        let keys = HmacKeys {
            len: secret.len(),
            sha256: key(Alg::HS256, 32)?,
            sha384: key(Alg::HS384, 48)?,
            sha512: key(Alg::HS512, 64)?,
        };
        if let Some(alg) = only
            && keys.for_alg(alg).is_none()
        {
            return Err(format!(
                "HMAC secret is {} bytes, shorter than the {} hash output (RFC 7518 §3.2)",
                secret.len(),
                alg.name()
            ));
        }
        Ok(keys)
    }

    fn for_alg(&self, alg: Alg) -> Option<&VerifyKey> {
        match alg {
            Alg::HS256 => self.sha256.as_ref(),
            Alg::HS384 => self.sha384.as_ref(),
            Alg::HS512 => self.sha512.as_ref(),
            _ => None,
        }
    }
}

impl Key {
    /// Whether this key may verify `alg`: right type, curve and size, and
    /// the key's own `alg` (if any) is `alg`.
    fn fits(&self, alg: Alg) -> Result<(), String> {
        let kind_ok = match (&self.material, alg) {
            (Material::Rsa { .. }, a) => a.is_rsa(),
            (Material::P256, a) => a == Alg::ES256,
            (Material::P384, a) => a == Alg::ES384,
            (Material::Ed25519, a) => a == Alg::EdDSA,
            (Material::Hmac(h), a) if a.is_hmac() => {
                if h.for_alg(a).is_none() {
                    return Err(format!(
                        "HMAC secret is {} bytes, shorter than the {} hash output",
                        h.len,
                        a.name()
                    ));
                }
                true
            }
            (Material::Hmac(_), _) => false,
        };
        if !kind_ok {
            return Err(format!("the key is {:?}", self.material));
        }
        match self.alg {
            Some(own) if own != alg => Err(format!("the key is for `{}` only", own.name())),
            _ => Ok(()),
        }
    }

    /// Checks that `alg` fits the key, then verifies `sig` over `message`.
    #[cfg(feature = "dpop")]
    pub(crate) fn verify_fitting(
        &self,
        alg: Alg,
        message: &[u8],
        sig: &[u8],
    ) -> Result<(), String> {
        self.fits(alg)?;
        self.verify(alg, message, sig).map_err(|e| match e {
            KeyError::SignatureForm(reason) => reason,
            _ => "the signature does not verify".to_owned(),
        })
    }

    /// Verifies `signature` over `message` with `alg` (which [`Key::fits`]),
    /// through the crypto seam.
    pub(crate) fn verify(&self, alg: Alg, message: &[u8], sig: &[u8]) -> Result<(), KeyError> {
        // The fixed-size check first, whichever backend verifies.
        match (&self.material, alg) {
            (Material::P256, Alg::ES256) | (Material::Ed25519, Alg::EdDSA) => {
                fixed_len(sig, 64, alg)?;
            }
            (Material::P384, Alg::ES384) => fixed_len(sig, 96, alg)?,
            _ => {}
        }
        let key = match &self.material {
            Material::Hmac(keys) => keys.for_alg(alg),
            _ => self.public.as_ref(),
        };
        if key.is_some_and(|k| k.verify(alg, message, sig)) {
            Ok(())
        } else {
            Err(KeyError::BadSignature)
        }
    }

    fn from_value(jwk: &Value, options: &KeySetOptions) -> Result<Key, String> {
        let obj = jwk.as_object().ok_or("not a JSON object")?;
        let kid = match obj.get("kid") {
            None => None,
            Some(Value::String(s)) => Some(s.clone()),
            Some(_) => return Err("`kid` is not a string".to_owned()),
        };
        let kty = str_member(obj, "kty")?.ok_or("`kty` is missing")?;
        if let Some(usage) = str_member(obj, "use")?
            && usage != "sig"
        {
            return Err(format!("`use` is `{usage}`, not `sig`"));
        }
        if let Some(ops) = obj.get("key_ops") {
            let ops = ops.as_array().ok_or("`key_ops` is not an array")?;
            if !ops.iter().any(|o| o.as_str() == Some("verify")) {
                return Err("`key_ops` does not include `verify`".to_owned());
            }
        }
        let alg =
            match str_member(obj, "alg")? {
                None => None,
                Some(name) => Some(Alg::from_name(name).ok_or_else(|| {
                    format!("`alg` `{name}` is not a supported signature algorithm")
                })?),
            };
        let (material, raw) = match kty {
            "RSA" => {
                refuse_private(obj, &["d", "p", "q", "dp", "dq", "qi", "oth"])?;
                rsa(obj)?
            }
            "EC" => {
                refuse_private(obj, &["d"])?;
                let crv = str_member(obj, "crv")?.ok_or("`crv` is missing")?;
                let size = match crv {
                    "P-256" => 32,
                    "P-384" => 48,
                    other => return Err(format!("unsupported curve `{other}`")),
                };
                let x = b64_member(obj, "x")?;
                let y = b64_member(obj, "y")?;
                if x.len() != size || y.len() != size {
                    return Err(format!(
                        "`x` / `y` are {} / {} bytes; {crv} needs {size} each (RFC 7518 §6.2.1)",
                        x.len(),
                        y.len()
                    ));
                }
                let mut point = Vec::with_capacity(1 + 2 * size);
                point.push(4);
                point.extend_from_slice(&x);
                point.extend_from_slice(&y);
                if size == 32 {
                    (Material::P256, Raw::Ec(Alg::ES256, point))
                } else {
                    (Material::P384, Raw::Ec(Alg::ES384, point))
                }
            }
            "OKP" => {
                refuse_private(obj, &["d"])?;
                let crv = str_member(obj, "crv")?.ok_or("`crv` is missing")?;
                if crv != "Ed25519" {
                    return Err(format!("unsupported curve `{crv}`"));
                }
                let x = b64_member(obj, "x")?;
                let x: [u8; 32] = x
                    .as_slice()
                    .try_into()
                    .map_err(|_| format!("Ed25519 `x` is {} bytes, not 32", x.len()))?;
                (Material::Ed25519, Raw::Ed25519(x))
            }
            "oct" => {
                if !options.allow_symmetric {
                    return Err("symmetric (`oct`) keys are not allowed by the options".to_owned());
                }
                let k = crate::Secret::new(b64_member(obj, "k")?);
                (
                    Material::Hmac(Box::new(HmacKeys::new(k.expose(), alg)?)),
                    Raw::None,
                )
            }
            other => return Err(format!("unsupported `kty` `{other}`")),
        };
        let key = Key {
            index: 0,
            kid,
            alg: None,
            material,
            public: None,
        };
        if let Some(alg) = alg {
            key.fits(alg)
                .map_err(|r| format!("`alg` `{}` does not fit the key: {r}", alg.name()))?;
        }
        let key = Key { alg, ..key };
        // Decoded (parsed, with aws-lc-rs) once, for the algorithms it fits.
        let public = match raw {
            Raw::Rsa { n, e } => Some(VerifyKey::rsa(
                &n,
                &e,
                ALL.into_iter()
                    .filter(|&a| a.is_rsa() && key.fits(a).is_ok()),
            )?),
            Raw::Ec(alg, point) => Some(VerifyKey::ecdsa(alg, &point)?),
            Raw::Ed25519(x) => Some(VerifyKey::ed25519(&x)?),
            Raw::None => None,
        };
        Ok(Key { public, ..key })
    }
}

fn fixed_len(sig: &[u8], want: usize, alg: Alg) -> Result<(), KeyError> {
    if sig.len() == want {
        Ok(())
    } else {
        Err(KeyError::SignatureForm(format!(
            "{} signature is {} bytes; it must be exactly {want} (fixed-size form, not DER)",
            alg.name(),
            sig.len()
        )))
    }
}

fn str_member<'a>(obj: &'a Map<String, Value>, name: &str) -> Result<Option<&'a str>, String> {
    match obj.get(name) {
        None => Ok(None),
        Some(Value::String(s)) => Ok(Some(s)),
        Some(_) => Err(format!("`{name}` is not a string")),
    }
}

fn b64_member(obj: &Map<String, Value>, name: &str) -> Result<Vec<u8>, String> {
    let s = str_member(obj, name)?.ok_or_else(|| format!("`{name}` is missing"))?;
    b64::decode_vec(s).map_err(|_| format!("`{name}` is not canonical base64url"))
}

fn refuse_private(obj: &Map<String, Value>, members: &[&str]) -> Result<(), String> {
    match members.iter().find(|m| obj.contains_key(**m)) {
        Some(m) => Err(format!(
            "private key member `{m}` present; a verification key set must hold public keys only"
        )),
        None => Ok(()),
    }
}

fn kid_kty(jwk: &Value) -> (Option<&str>, Option<&str>) {
    (
        jwk.get("kid").and_then(Value::as_str),
        jwk.get("kty").and_then(Value::as_str),
    )
}

/// Whether two JWKs carry the same public key (or secret): the same `kty`
/// and the same members that define it, as sent.
fn same_material(a: &Value, b: &Value) -> bool {
    let members: &[&str] = match a.get("kty").and_then(Value::as_str) {
        Some("RSA") => &["n", "e"],
        Some("EC") => &["crv", "x", "y"],
        Some("OKP") => &["crv", "x"],
        Some("oct") => &["k"],
        _ => return false,
    };
    a.get("kty") == b.get("kty")
        && members
            .iter()
            .all(|m| a.get(*m).is_some_and(|v| b.get(*m) == Some(v)))
}

fn strip_zeros(b: &[u8]) -> &[u8] {
    let start = b.iter().position(|&x| x != 0).unwrap_or(b.len());
    b.get(start..).unwrap_or_default()
}

fn rsa(obj: &Map<String, Value>) -> Result<(Material, Raw), String> {
    let n_raw = b64_member(obj, "n")?;
    let e_raw = b64_member(obj, "e")?;
    // RFC 7518 §6.3.1 forbids leading zeros but some issuers send them;
    // the value is what matters.
    let n = strip_zeros(&n_raw);
    let e = strip_zeros(&e_raw);
    let bits = match n.first() {
        Some(&top) => (n.len() - 1)
            .saturating_mul(8)
            .saturating_add(8 - top.leading_zeros() as usize),
        None => 0,
    };
    if bits < 2048 {
        return Err(format!(
            "RSA modulus is {bits} bits; at least 2048 are required"
        ));
    }
    if bits > 8192 {
        return Err(format!(
            "RSA modulus is {bits} bits; at most 8192 are supported"
        ));
    }
    if n.last().is_none_or(|b| b & 1 == 0) {
        return Err("RSA modulus is even".to_owned());
    }
    let e_val = if e.len() <= 4 {
        e.iter().fold(0u64, |acc, &b| (acc << 8) | u64::from(b))
    } else {
        return Err("RSA exponent is larger than 32 bits".to_owned());
    };
    if e_val < 3 || e_val & 1 == 0 {
        return Err(format!(
            "RSA exponent {e_val} is not an odd number of at least 3"
        ));
    }
    if roca_fingerprint(n) {
        return Err("RSA modulus has the ROCA fingerprint (CVE-2017-15361)".to_owned());
    }
    Ok((
        Material::Rsa { bits },
        Raw::Rsa {
            n: n.into(),
            e: e.into(),
        },
    ))
}

/// Whether `n` has the structure of keys from the Infineon library with
/// CVE-2017-15361 (ROCA): `n mod p` lies in the subgroup generated by 65537
/// for each small prime `p` (the published detector's test). Random moduli
/// pass this for all 38 primes with negligible probability.
fn roca_fingerprint(n: &[u8]) -> bool {
    const PRIMES: [u32; 38] = [
        3, 5, 7, 11, 13, 17, 19, 23, 29, 31, 37, 41, 43, 47, 53, 59, 61, 67, 71, 73, 79, 83, 89,
        97, 101, 103, 107, 109, 113, 127, 131, 137, 139, 149, 151, 157, 163, 167,
    ];
    PRIMES.iter().all(|&p| {
        let r = n
            .iter()
            .fold(0u32, |acc, &b| ((acc << 8) | u32::from(b)) % p);
        let g = 65537 % p;
        let mut x = 1u32;
        for _ in 0..p {
            if x == r {
                return true;
            }
            x = x * g % p;
        }
        false
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn not_a_jwks_is_an_error() {
        let o = KeySetOptions::default();
        assert!(matches!(
            KeySet::from_jwks(b"[]", &o),
            Err(JwkError::Malformed { .. })
        ));
        assert!(matches!(
            KeySet::from_jwks(b"{}", &o),
            Err(JwkError::Malformed { .. })
        ));
        assert!(matches!(
            KeySet::from_jwks(br#"{"keys":{}}"#, &o),
            Err(JwkError::Malformed { .. })
        ));
        assert!(KeySet::from_jwks(br#"{"keys":[]}"#, &o).unwrap().is_empty());
    }

    const ED: &str = r#"{"kty":"OKP","crv":"Ed25519","kid":"ed","x":"11qYAYKxCrfVS_7TyWQHOg7hcvPapiMlrwIaaPcHURo"}"#;
    const ED_OTHER: &str = r#"{"kty":"OKP","crv":"Ed25519","kid":"ed","x":"6kpsY-KcUgq-9VB7Ey7F-ZVHdq6-vnuSQh7qaRRG0iw"}"#;

    fn set_of(keys: &[&str]) -> KeySet {
        let jwks = format!(r#"{{"keys":[{}]}}"#, keys.join(","));
        KeySet::from_jwks(jwks.as_bytes(), &KeySetOptions::default()).unwrap()
    }

    #[test]
    fn the_same_key_listed_twice_is_used_once() {
        let set = set_of(&[ED, ED]);
        assert_eq!(set.len(), 1);
        assert!(set.find(Some("ed"), Alg::EdDSA).is_ok());
        let [d] = set.diagnostics() else {
            panic!("{:?}", set.diagnostics())
        };
        assert_eq!((d.index, d.kid.as_deref()), (1, Some("ed")));
        assert!(d.reason.contains("same key as the one at index 0"), "{d}");
    }

    #[test]
    fn two_keys_under_one_kid_are_both_skipped() {
        let set = set_of(&[ED, ED_OTHER]);
        assert!(set.is_empty());
        assert_eq!(set.diagnostics().len(), 2);
        // Even when the same key is also listed twice.
        assert!(set_of(&[ED, ED, ED_OTHER]).is_empty());
    }

    #[test]
    fn a_duplicate_loads_when_the_first_listing_is_unusable() {
        let enc = ED.replace(r#""kid""#, r#""use":"enc","kid""#);
        let set = set_of(&[&enc, ED]);
        assert_eq!(set.len(), 1);
        assert_eq!(set.diagnostics()[0].index, 0);
        assert!(set.diagnostics()[0].reason.contains("`use`"));
    }

    #[test]
    fn debug_redacts_secrets() {
        let set = KeySet::from_hmac_secret(&[7u8; 32], Some("h")).unwrap();
        let dbg = format!("{set:?}");
        assert!(dbg.contains("redacted"), "{dbg}");
    }
}
