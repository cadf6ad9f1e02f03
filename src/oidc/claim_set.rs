//! `ClaimSet`: a principal's verified claims. The gate keeps the verified
//! claims JSON and reads it into a map only when something asks for a
//! claim (a policy condition, an identity header, a rate-limit key), so a
//! request that needs none pays no map.

use std::fmt;
use std::ops::Deref;
use std::sync::{Arc, OnceLock};

use serde::{Deserialize, Deserializer, Serialize, Serializer};
use serde_json::{Map, Value};

/// The claims of a [`Principal`](super::Principal): a read-only
/// [`Map`] of claim name to value (it derefs to one), built on first use
/// from the verified claims set when the gate made it.
///
/// ```
/// use edge_auth::oidc::{ClaimSet, Principal};
/// let claims = serde_json::json!({"sub": "u1", "department": "sales"});
/// let p = Principal::new("u1").with_claims(claims.as_object().cloned().unwrap_or_default());
/// assert_eq!(p.claims.get("department"), Some(&serde_json::json!("sales")));
/// assert_eq!(p.claims.len(), 2);
/// let mut map = p.claims.clone().into_map();
/// map.remove("department");
/// let claims = ClaimSet::from(map);
/// assert!(!claims.contains_key("department"));
/// ```
#[derive(Clone, Default)]
pub struct ClaimSet {
    /// The verified claims set as signed (a JSON object the validator
    /// already read strictly), when the map has not been built from it.
    text: Option<Arc<[u8]>>,
    map: OnceLock<Map<String, Value>>,
}

impl ClaimSet {
    /// No claims.
    pub fn new() -> Self {
        Self::default()
    }

    /// The claims of a verified claims set, read on first use. `text` must
    /// have passed the validator's strict reader (one JSON object, unique
    /// members, bounded nesting), so reading it again cannot fail.
    pub(crate) fn from_verified(text: Arc<[u8]>) -> Self {
        Self {
            text: Some(text),
            map: OnceLock::new(),
        }
    }

    /// The claims as a map (built now if it was not yet).
    pub fn as_map(&self) -> &Map<String, Value> {
        self.map.get_or_init(|| {
            // Validation read this text with the same reader, so this
            // parse succeeds; an empty map would only drop claims, and a
            // verified claims set never gets here unread.
            self.text
                .as_deref()
                .and_then(|text| crate::jwt::validate_parse_claims(text).ok())
                .unwrap_or_default()
        })
    }

    /// The claims as an owned map, e.g. to change them (then
    /// [`ClaimSet::from`] it back).
    pub fn into_map(self) -> Map<String, Value> {
        self.as_map();
        self.map.into_inner().unwrap_or_default()
    }
}

impl Deref for ClaimSet {
    type Target = Map<String, Value>;

    fn deref(&self) -> &Map<String, Value> {
        self.as_map()
    }
}

impl From<Map<String, Value>> for ClaimSet {
    fn from(map: Map<String, Value>) -> Self {
        Self {
            text: None,
            map: OnceLock::from(map),
        }
    }
}

impl From<ClaimSet> for Map<String, Value> {
    fn from(claims: ClaimSet) -> Self {
        claims.into_map()
    }
}

impl PartialEq for ClaimSet {
    fn eq(&self, other: &Self) -> bool {
        self.as_map() == other.as_map()
    }
}

impl fmt::Debug for ClaimSet {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Debug::fmt(self.as_map(), f)
    }
}

impl Serialize for ClaimSet {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        self.as_map().serialize(serializer)
    }
}

impl<'de> Deserialize<'de> for ClaimSet {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        Map::deserialize(deserializer).map(Self::from)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn verified_text_reads_as_the_map() {
        let text = r#"{"sub":"u1","roles":["a","b"],"n":{"x":1.5}}"#;
        let lazy = ClaimSet::from_verified(Arc::from(text.as_bytes()));
        let eager = ClaimSet::from(crate::jwt::validate_parse_claims(text.as_bytes()).unwrap());
        assert_eq!(lazy, eager);
        assert_eq!(lazy.get("sub"), Some(&Value::from("u1")));
        assert_eq!(format!("{lazy:?}"), format!("{eager:?}"));
        assert_eq!(lazy.clone().into_map().len(), 3);
        assert_eq!(
            serde_json::to_string(&lazy).unwrap(),
            serde_json::to_string(&eager).unwrap()
        );
    }

    #[test]
    fn default_is_empty() {
        assert!(ClaimSet::new().is_empty());
        assert!(ClaimSet::default().into_map().is_empty());
    }
}
