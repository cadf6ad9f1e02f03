//! OpenID Connect Discovery 1.0: the discovery URL for an issuer (§4) and the
//! provider metadata document (§3), checked against the configured issuer
//! (§4.3) before its `jwks_uri` is trusted.
//!
//! ```
//! use edge_auth::jwk::discovery::{discovery_url, DiscoveryOptions, ProviderMetadata};
//!
//! let options = DiscoveryOptions::default();
//! let issuer = "https://idp.example.com/realms/main";
//! assert_eq!(
//!     discovery_url(issuer, &options)?,
//!     "https://idp.example.com/realms/main/.well-known/openid-configuration"
//! );
//! let doc = br#"{"issuer":"https://idp.example.com/realms/main",
//!     "jwks_uri":"https://idp.example.com/realms/main/certs",
//!     "id_token_signing_alg_values_supported":["RS256"]}"#;
//! let meta = ProviderMetadata::from_json(doc, issuer, &options)?;
//! assert_eq!(meta.jwks_uri, "https://idp.example.com/realms/main/certs");
//! # Ok::<(), edge_auth::jwk::discovery::DiscoveryError>(())
//! ```

use std::fmt;

use crate::jose::Algorithm;
use serde::de::{Deserialize, Deserializer, MapAccess, Visitor};
use serde_json::Value;

const WELL_KNOWN: &str = "/.well-known/openid-configuration";

/// How discovery documents are read.
#[derive(Debug, Clone)]
#[non_exhaustive]
pub struct DiscoveryOptions {
    /// Accept `http://` issuers and endpoints on a loopback host
    /// (`localhost`, 127.0.0.0/8, `::1`), for development issuers only.
    /// Off by default: keys fetched in the clear can be swapped in transit.
    pub allow_http_loopback: bool,
    /// The largest discovery document accepted, in bytes (default 64 KiB;
    /// real providers publish 1-10 KiB).
    pub max_bytes: usize,
}

impl Default for DiscoveryOptions {
    fn default() -> Self {
        Self {
            allow_http_loopback: false,
            max_bytes: 64 * 1024,
        }
    }
}

/// The OpenID Provider metadata this crate uses (OpenID Connect Discovery
/// 1.0 §3). Members not listed here are ignored.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct ProviderMetadata {
    /// `issuer`, identical to the configured issuer.
    pub issuer: String,
    /// `jwks_uri`: where the signing keys are (https).
    pub jwks_uri: String,
    /// `authorization_endpoint`, when present.
    pub authorization_endpoint: Option<String>,
    /// `token_endpoint`, when present.
    pub token_endpoint: Option<String>,
    /// `userinfo_endpoint`, when present.
    pub userinfo_endpoint: Option<String>,
    /// `introspection_endpoint` (RFC 8414 §2, RFC 7662), when present.
    pub introspection_endpoint: Option<String>,
    /// `id_token_signing_alg_values_supported`, as published (may name
    /// algorithms this crate does not implement).
    pub id_token_signing_alg_values_supported: Vec<String>,
    /// `response_types_supported`.
    pub response_types_supported: Vec<String>,
    /// `subject_types_supported`.
    pub subject_types_supported: Vec<String>,
    /// `scopes_supported`.
    pub scopes_supported: Vec<String>,
    /// `claims_supported`.
    pub claims_supported: Vec<String>,
    /// `grant_types_supported`.
    pub grant_types_supported: Vec<String>,
    /// `token_endpoint_auth_methods_supported`.
    pub token_endpoint_auth_methods_supported: Vec<String>,
}

/// A discovery document or issuer that cannot be used.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum DiscoveryError {
    /// The document is larger than [`DiscoveryOptions::max_bytes`].
    #[error("discovery document is {size} bytes, over the limit of {limit}")]
    TooLarge {
        /// The document's size.
        size: usize,
        /// The configured limit.
        limit: usize,
    },
    /// Not a JSON object, or not well formed (the error says what and
    /// where).
    #[error("discovery document is not a json object")]
    NotJson(#[source] crate::json::JsonError),
    /// A member name appears more than once in one object (refused for
    /// every member, as in every JSON document the crate reads).
    #[error("discovery document has member `{name}` more than once")]
    DuplicateMember {
        /// The member name.
        name: String,
    },
    /// A required member is absent.
    #[error("discovery document lacks `{name}`")]
    Missing {
        /// The member name.
        name: &'static str,
    },
    /// A member has the wrong JSON type.
    #[error("discovery member `{name}` must be {expected}")]
    WrongType {
        /// The member name.
        name: &'static str,
        /// What it should have been.
        expected: &'static str,
    },
    /// The document's issuer differs from the configured one (§4.3).
    #[error("discovery issuer `{found}` does not match the configured issuer `{expected}`")]
    IssuerMismatch {
        /// The configured issuer.
        expected: String,
        /// The document's issuer, control and non-ASCII characters escaped
        /// and clipped to 256 bytes.
        found: String,
    },
    /// An issuer or endpoint URL is not acceptable.
    #[error("`{name}` url `{url}` is not acceptable: {reason}")]
    BadUrl {
        /// Which URL (`issuer`, `jwks_uri`, ...).
        name: &'static str,
        /// The URL as given, control and non-ASCII characters escaped and
        /// clipped to 256 bytes.
        url: String,
        /// Why it was refused.
        reason: &'static str,
    },
}

/// Builds the discovery URL for an issuer: the issuer with any trailing `/`
/// removed, then `/.well-known/openid-configuration` (OpenID Connect
/// Discovery 1.0 §4).
///
/// # Errors
/// [`DiscoveryError::BadUrl`] when the issuer is not an https URL without
/// query or fragment (§3), or http on loopback when allowed.
pub fn discovery_url(issuer: &str, options: &DiscoveryOptions) -> Result<String, DiscoveryError> {
    check_issuer(issuer, options.allow_http_loopback)?;
    Ok(format!("{}{WELL_KNOWN}", issuer.trim_end_matches('/')))
}

impl ProviderMetadata {
    /// Parses a discovery document and checks it against the issuer it was
    /// fetched for: `issuer` must equal `expected_issuer` byte for byte
    /// (§4.3) and `jwks_uri` must be https (§3). Unknown members are
    /// ignored; the members read here must have the types §3 gives them.
    ///
    /// # Errors
    /// [`DiscoveryError`] saying what was wrong: size, JSON, a missing or
    /// mistyped member, an issuer mismatch or an unacceptable URL.
    pub fn from_json(
        json: &[u8],
        expected_issuer: &str,
        options: &DiscoveryOptions,
    ) -> Result<Self, DiscoveryError> {
        if json.len() > options.max_bytes {
            return Err(DiscoveryError::TooLarge {
                size: json.len(),
                limit: options.max_bytes,
            });
        }
        check_issuer(expected_issuer, options.allow_http_loopback)?;
        let Members(members) =
            crate::json::from_document_bytes(json).map_err(|e| match e.duplicate_name() {
                Some(name) => DiscoveryError::DuplicateMember {
                    name: printable(name),
                },
                None => DiscoveryError::NotJson(e),
            })?;
        let mut doc = Doc::default();
        for (name, value) in members {
            if !KNOWN.contains(&name.as_str()) {
                continue;
            }
            doc.set(&name, value)?;
        }
        let issuer = doc
            .issuer
            .ok_or(DiscoveryError::Missing { name: "issuer" })?;
        if issuer != expected_issuer {
            return Err(DiscoveryError::IssuerMismatch {
                expected: expected_issuer.to_owned(),
                found: printable(&issuer),
            });
        }
        let jwks_uri = doc
            .jwks_uri
            .ok_or(DiscoveryError::Missing { name: "jwks_uri" })?;
        check_endpoint("jwks_uri", &jwks_uri, options.allow_http_loopback)?;
        Ok(Self {
            issuer,
            jwks_uri,
            authorization_endpoint: doc.authorization_endpoint,
            token_endpoint: doc.token_endpoint,
            userinfo_endpoint: doc.userinfo_endpoint,
            introspection_endpoint: doc.introspection_endpoint,
            id_token_signing_alg_values_supported: doc.id_token_signing_alg_values_supported,
            response_types_supported: doc.response_types_supported,
            subject_types_supported: doc.subject_types_supported,
            scopes_supported: doc.scopes_supported,
            claims_supported: doc.claims_supported,
            grant_types_supported: doc.grant_types_supported,
            token_endpoint_auth_methods_supported: doc.token_endpoint_auth_methods_supported,
        })
    }

    /// The published ID token signing algorithms this crate implements, in
    /// the document's order, each once; others (`none`, `ES512`, `ES256K`,
    /// ...) are left out. RFC 9864's `Ed25519` is listed as `EdDSA`, the
    /// algorithm that admits it.
    pub fn id_token_signing_algorithms(&self) -> Vec<Algorithm> {
        let mut out: Vec<Algorithm> = Vec::new();
        let found = self
            .id_token_signing_alg_values_supported
            .iter()
            .filter_map(|a| match a.as_str() {
                "RS256" => Some(Algorithm::RS256),
                "RS384" => Some(Algorithm::RS384),
                "RS512" => Some(Algorithm::RS512),
                "PS256" => Some(Algorithm::PS256),
                "PS384" => Some(Algorithm::PS384),
                "PS512" => Some(Algorithm::PS512),
                "ES256" => Some(Algorithm::ES256),
                "ES384" => Some(Algorithm::ES384),
                "EdDSA" | "Ed25519" => Some(Algorithm::EdDSA),
                "HS256" => Some(Algorithm::HS256),
                "HS384" => Some(Algorithm::HS384),
                "HS512" => Some(Algorithm::HS512),
                _ => None,
            });
        for alg in found {
            if !out.contains(&alg) {
                out.push(alg);
            }
        }
        out
    }
}

const KNOWN: [&str; 13] = [
    "issuer",
    "jwks_uri",
    "authorization_endpoint",
    "token_endpoint",
    "userinfo_endpoint",
    "introspection_endpoint",
    "id_token_signing_alg_values_supported",
    "response_types_supported",
    "subject_types_supported",
    "scopes_supported",
    "claims_supported",
    "grant_types_supported",
    "token_endpoint_auth_methods_supported",
];

#[derive(Default)]
struct Doc {
    issuer: Option<String>,
    jwks_uri: Option<String>,
    authorization_endpoint: Option<String>,
    token_endpoint: Option<String>,
    userinfo_endpoint: Option<String>,
    introspection_endpoint: Option<String>,
    id_token_signing_alg_values_supported: Vec<String>,
    response_types_supported: Vec<String>,
    subject_types_supported: Vec<String>,
    scopes_supported: Vec<String>,
    claims_supported: Vec<String>,
    grant_types_supported: Vec<String>,
    token_endpoint_auth_methods_supported: Vec<String>,
}

impl Doc {
    fn set(&mut self, name: &str, value: Value) -> Result<(), DiscoveryError> {
        fn string(name: &'static str, v: Value) -> Result<String, DiscoveryError> {
            match v {
                Value::String(s) => Ok(s),
                _ => Err(DiscoveryError::WrongType {
                    name,
                    expected: "a string",
                }),
            }
        }
        fn strings(name: &'static str, v: Value) -> Result<Vec<String>, DiscoveryError> {
            let wrong = || DiscoveryError::WrongType {
                name,
                expected: "an array of strings",
            };
            match v {
                Value::Array(items) => items
                    .into_iter()
                    .map(|i| match i {
                        Value::String(s) => Ok(s),
                        _ => Err(wrong()),
                    })
                    .collect(),
                _ => Err(wrong()),
            }
        }
        match name {
            "issuer" => self.issuer = Some(string("issuer", value)?),
            "jwks_uri" => self.jwks_uri = Some(string("jwks_uri", value)?),
            "authorization_endpoint" => {
                self.authorization_endpoint = Some(string("authorization_endpoint", value)?);
            }
            "token_endpoint" => self.token_endpoint = Some(string("token_endpoint", value)?),
            "userinfo_endpoint" => {
                self.userinfo_endpoint = Some(string("userinfo_endpoint", value)?);
            }
            "introspection_endpoint" => {
                self.introspection_endpoint = Some(string("introspection_endpoint", value)?);
            }
            "id_token_signing_alg_values_supported" => {
                self.id_token_signing_alg_values_supported =
                    strings("id_token_signing_alg_values_supported", value)?;
            }
            "response_types_supported" => {
                self.response_types_supported = strings("response_types_supported", value)?;
            }
            "subject_types_supported" => {
                self.subject_types_supported = strings("subject_types_supported", value)?;
            }
            "scopes_supported" => self.scopes_supported = strings("scopes_supported", value)?,
            "claims_supported" => self.claims_supported = strings("claims_supported", value)?,
            "grant_types_supported" => {
                self.grant_types_supported = strings("grant_types_supported", value)?;
            }
            "token_endpoint_auth_methods_supported" => {
                self.token_endpoint_auth_methods_supported =
                    strings("token_endpoint_auth_methods_supported", value)?;
            }
            _ => {}
        }
        Ok(())
    }
}

/// The top-level members in document order (the reader refuses
/// duplicates, so a repeated `issuer` cannot hide behind a last-one-wins).
struct Members(Vec<(String, Value)>);

impl<'de> Deserialize<'de> for Members {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct V;
        impl<'de> Visitor<'de> for V {
            type Value = Members;
            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str("a json object")
            }
            fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Members, A::Error> {
                let mut members = Vec::new();
                while let Some(entry) = map.next_entry::<String, Value>()? {
                    members.push(entry);
                }
                Ok(Members(members))
            }
        }
        d.deserialize_map(V)
    }
}

fn check_issuer(issuer: &str, allow_http_loopback: bool) -> Result<(), DiscoveryError> {
    let url = check_endpoint("issuer", issuer, allow_http_loopback)?;
    if url.query().is_some() || issuer.contains('?') {
        return Err(bad("issuer", issuer, "an issuer has no query"));
    }
    Ok(())
}

fn bad(name: &'static str, url: &str, reason: &'static str) -> DiscoveryError {
    DiscoveryError::BadUrl {
        name,
        url: printable(url),
        reason,
    }
}

/// A value from the fetched document made safe for error text and logs:
/// control and non-ASCII characters escaped (a CR LF in `issuer` must not
/// forge a log line), clipped to 256 bytes (the document may be 64 KiB).
pub(crate) fn printable(value: &str) -> String {
    crate::text::printable(value, 256)
}

/// Checks that a URL we will fetch keys from (or compare issuers against)
/// is https, or http on a loopback host when allowed; no credentials, no
/// fragment, nothing the URL parser would silently strip.
pub(crate) fn check_endpoint(
    name: &'static str,
    raw: &str,
    allow_http_loopback: bool,
) -> Result<url::Url, DiscoveryError> {
    if raw.bytes().any(|b| b <= b' ' || b == 0x7f) || !raw.is_ascii() {
        return Err(bad(
            name,
            raw,
            "contains whitespace, control or non-ascii characters",
        ));
    }
    // The WHATWG parser repairs `https:/host`, `https:host` and `\` for `/`
    // into `https://host`, but we keep and hand out the raw text, which
    // other clients read differently: require the RFC 3986 form itself.
    let authority_follows = raw
        .split_once(':')
        .is_some_and(|(_, rest)| rest.starts_with("//"));
    if !authority_follows || raw.contains('\\') {
        return Err(bad(name, raw, "not an absolute url with `//` authority"));
    }
    let url = url::Url::parse(raw).map_err(|_| bad(name, raw, "not an absolute url"))?;
    if !url.username().is_empty() || url.password().is_some() {
        return Err(bad(name, raw, "carries credentials"));
    }
    if url.fragment().is_some() || raw.contains('#') {
        return Err(bad(name, raw, "has a fragment"));
    }
    let loopback = match url.host() {
        Some(url::Host::Domain(d)) => d.eq_ignore_ascii_case("localhost"),
        Some(url::Host::Ipv4(ip)) => ip.is_loopback(),
        Some(url::Host::Ipv6(ip)) => ip.is_loopback(),
        None => return Err(bad(name, raw, "has no host")),
    };
    match url.scheme() {
        "https" => Ok(url),
        "http" if allow_http_loopback && loopback => Ok(url),
        "http" if loopback => Err(bad(
            name,
            raw,
            "http is allowed only on loopback with allow_http_loopback",
        )),
        _ => Err(bad(name, raw, "must be https")),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn urls_the_parser_would_repair_are_refused() {
        for raw in [
            "https:/idp.example/p",
            "https:idp.example",
            "https:\\\\idp.example\\p",
            "https://idp.example\\p",
        ] {
            assert!(
                matches!(
                    check_endpoint("jwks_uri", raw, false),
                    Err(DiscoveryError::BadUrl { .. })
                ),
                "{raw}"
            );
        }
        assert!(check_endpoint("jwks_uri", "https://idp.example/keys", false).is_ok());
        assert!(check_endpoint("jwks_uri", "HTTPS://idp.example/keys", false).is_ok());
    }

    #[test]
    fn trailing_slash_removed_before_well_known() {
        let o = DiscoveryOptions::default();
        assert_eq!(
            discovery_url("https://a.example/", &o).unwrap(),
            "https://a.example/.well-known/openid-configuration"
        );
        assert_eq!(
            discovery_url("https://a.example/t/v2.0/", &o).unwrap(),
            "https://a.example/t/v2.0/.well-known/openid-configuration"
        );
        assert!(discovery_url("https://a.example/?x=1", &o).is_err());
        assert!(discovery_url("http://a.example", &o).is_err());
    }

    #[test]
    fn loopback_http_only_when_enabled() {
        let mut o = DiscoveryOptions::default();
        assert!(discovery_url("http://127.0.0.1:8080", &o).is_err());
        o.allow_http_loopback = true;
        assert!(discovery_url("http://127.0.0.1:8080", &o).is_ok());
        assert!(discovery_url("http://[::1]:8080", &o).is_ok());
        assert!(discovery_url("http://localhost:8080", &o).is_ok());
        assert!(discovery_url("http://10.0.0.1", &o).is_err());
        assert!(discovery_url("http://localhost.evil.example", &o).is_err());
    }
}
