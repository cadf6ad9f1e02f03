//! The members of a verified claims set the gate itself reads: those its
//! role mapper looks at and `cnf` (the DPoP and certificate bindings).
//! The rest are checked by the validator's reader and skipped; the whole
//! set stays available, read on first use, in `Principal::claims`.

use std::borrow::Cow;
use std::fmt;

use serde::de::{self, DeserializeSeed, Deserializer, IgnoredAny, MapAccess, Visitor};
use serde_json::{Map, Value};

use crate::oidc::RoleMapper;

/// Reads the claims object into a map of the members `mapper` reads.
#[derive(Debug, Clone, Copy)]
pub(super) struct Selected<'m>(pub(super) &'m RoleMapper);

impl<'de> DeserializeSeed<'de> for Selected<'_> {
    type Value = Map<String, Value>;

    fn deserialize<D: Deserializer<'de>>(self, d: D) -> Result<Self::Value, D::Error> {
        d.deserialize_map(self)
    }
}

impl<'de> Visitor<'de> for Selected<'_> {
    type Value = Map<String, Value>;

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("a JSON object")
    }

    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Self::Value, A::Error> {
        let mut selected = Map::new();
        while let Some(Name(name)) = map.next_key()? {
            if name == "cnf" || self.0.reads(&name) {
                let value: Value = map.next_value()?;
                selected.insert(name.into_owned(), value);
            } else {
                map.next_value::<IgnoredAny>()?;
            }
        }
        Ok(selected)
    }
}

/// A member name, borrowed from the claims text when it has no escapes.
struct Name<'de>(Cow<'de, str>);

impl<'de> de::Deserialize<'de> for Name<'de> {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        d.deserialize_str(NameVisitor)
    }
}

struct NameVisitor;

impl<'de> Visitor<'de> for NameVisitor {
    type Value = Name<'de>;

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("a member name")
    }

    fn visit_borrowed_str<E: de::Error>(self, v: &'de str) -> Result<Self::Value, E> {
        Ok(Name(Cow::Borrowed(v)))
    }

    fn visit_str<E: de::Error>(self, v: &str) -> Result<Self::Value, E> {
        Ok(Name(Cow::Owned(v.to_owned())))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::jwt::validate_parse_claims;
    use crate::oidc::{ClaimSource, Principal};

    /// Claims every preset and the custom mapper below read, and some
    /// none reads.
    const CLAIMS: &str = r#"{
        "sub": "s1", "oid": "o1", "iss": "https://issuer.example", "tid": "t1",
        "aud": ["api://edge", "other"], "email": "a@example.com", "email_verified": "true",
        "hd": "example.com", "roles": ["Reader", "Writer"], "scp": "read write",
        "scope": "openid orders:read", "groups": ["g1", "g2"], "wids": ["w1"],
        "realm_access": {"roles": ["realm-admin"]},
        "resource_access": {"client": {"roles": ["client-role"]}},
        "https://example.com/roles": ["ns-role"], "cognito:groups": ["cg"],
        "permissions": ["p:read"], "custom": {"deep": ["c1"]},
        "_claim_names": {"groups": "src1"},
        "_claim_sources": {"src1": {"endpoint": "https://graph.example/groups"}},
        "hasgroups": true, "cnf": {"jkt": "abc"}, "ignored": {"x": [1, 2.5, null]},
        "token_use": "access", "client_id": "c", "common_name": "svc"
    }"#;

    fn mappers() -> Vec<RoleMapper> {
        let mut custom = RoleMapper::new()
            .with_source(ClaimSource::roles("/custom/deep").unwrap())
            .with_source(
                ClaimSource::groups("groups")
                    .unwrap()
                    .with_audience_scoped(true),
            );
        custom.audiences = vec!["api://edge".to_owned()];
        custom.email = Some(crate::oidc::ClaimPath::from_name("email"));
        vec![
            RoleMapper::default(),
            RoleMapper::entra_id("api://edge"),
            RoleMapper::okta(),
            RoleMapper::keycloak("client"),
            RoleMapper::auth0("https://example.com/"),
            RoleMapper::cognito(),
            RoleMapper::google(),
            RoleMapper::cloudflare_access(),
            custom,
        ]
    }

    fn selected(mapper: &RoleMapper) -> Map<String, Value> {
        crate::jwt::validate_parse_seeded(CLAIMS.as_bytes(), Selected(mapper))
            .unwrap()
            .0
    }

    #[test]
    fn selected_members_map_like_the_whole_set() {
        let all = validate_parse_claims(CLAIMS.as_bytes()).unwrap();
        for mapper in mappers() {
            let selected = selected(&mapper);
            assert!(selected.len() < all.len(), "{mapper:?}");
            let lazy = mapper.map_verified(&selected, || std::sync::Arc::from(CLAIMS.as_bytes()));
            let eager: Principal = mapper.map(&all);
            assert_eq!(lazy, eager, "{mapper:?}");
            assert_eq!(*lazy.claims, all);
        }
    }

    #[test]
    fn selected_keeps_cnf_and_skips_the_rest() {
        let selected = selected(&RoleMapper::default());
        assert_eq!(
            selected.get("cnf"),
            Some(&serde_json::json!({"jkt": "abc"}))
        );
        assert!(selected.contains_key("sub") && selected.contains_key("iss"));
        assert!(!selected.contains_key("ignored") && !selected.contains_key("roles"));
    }

    #[test]
    fn selected_reads_escaped_names() {
        let text = r#"{"s\u0075b":"u1","x":1}"#;
        let map =
            crate::jwt::validate_parse_seeded(text.as_bytes(), Selected(&RoleMapper::default()))
                .unwrap()
                .0;
        assert_eq!(map.get("sub"), Some(&Value::from("u1")));
        assert_eq!(map.len(), 1);
    }
}
