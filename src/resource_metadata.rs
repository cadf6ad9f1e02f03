//! OAuth 2.0 Protected Resource Metadata (RFC 9728): the document a
//! resource server publishes at `/.well-known/oauth-protected-resource`
//! (§2, §3) so that clients (MCP clients, newer OAuth clients) find its
//! authorization servers, scopes and token requirements, and the
//! `resource_metadata` parameter of its `WWW-Authenticate` challenges
//! (§5.1) that points them there. Sans-IO: this module builds and checks
//! the document and its URL; [`GateConfig::with_resource_metadata`] makes
//! the gate serve it.
//!
//! [`GateConfig::with_resource_metadata`]: crate::gate::GateConfig::with_resource_metadata
//!
//! ```
//! use edge_auth::resource_metadata::ResourceMetadata;
//!
//! let metadata = ResourceMetadata::new("https://api.example.com/orders")
//!     .with_authorization_servers(["https://idp.example.com"])
//!     .with_scopes_supported(["orders:read", "orders:write"])
//!     .with_bearer_methods_supported(["header"]);
//! // §3: the well-known string goes between the host and the path.
//! assert_eq!(
//!     metadata.well_known_url()?,
//!     "https://api.example.com/.well-known/oauth-protected-resource/orders"
//! );
//! let doc: serde_json::Value = serde_json::from_slice(&metadata.to_json()?)?;
//! assert_eq!(doc["resource"], "https://api.example.com/orders");
//! assert_eq!(doc["authorization_servers"][0], "https://idp.example.com");
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! ```

use serde::{Deserialize, Serialize};

/// The well-known URI suffix of RFC 9728 §3.1.
pub const WELL_KNOWN: &str = "/.well-known/oauth-protected-resource";

/// The `Cache-Control` of the document the gate serves: public, one hour
/// (the document changes with deployments, not per request).
pub const CACHE_CONTROL: &str = "public, max-age=3600";

/// The RFC 9728 §2 metadata of a protected resource. Fields left empty or
/// `None` are left out of the document. Build it with
/// [`new`](Self::new) and the `with_*` methods; [`validate`](Self::validate)
/// (called by [`to_json`](Self::to_json), [`well_known_url`](Self::well_known_url)
/// and the gate) checks it.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[non_exhaustive]
pub struct ResourceMetadata {
    /// The resource identifier (§1.2): an `https` URL without query or
    /// fragment, in normal form (lowercase scheme and host, no default
    /// port, no dot segments). Required. The document is served at the URL
    /// §3 derives from it.
    pub resource: String,
    /// Issuer identifiers of the authorization servers whose tokens the
    /// resource accepts (`https` URLs).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub authorization_servers: Vec<String>,
    /// The resource's own JWK Set (`https` URL), for signed responses.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub jwks_uri: Option<String>,
    /// OAuth scope values used in requests to the resource.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub scopes_supported: Vec<String>,
    /// How a bearer token may be sent (RFC 6750): `header`, `body`,
    /// `query`. Left empty, it is left out of the document.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub bearer_methods_supported: Vec<String>,
    /// JWS `alg` values the resource signs responses with.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub resource_signing_alg_values_supported: Vec<String>,
    /// A human-readable name of the resource.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub resource_name: Option<String>,
    /// A page of documentation for developers (`https` URL).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub resource_documentation: Option<String>,
    /// Whether the resource supports certificate-bound access tokens
    /// (RFC 8705). Default `false` (left out).
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub tls_client_certificate_bound_access_tokens: bool,
    /// DPoP proof `alg` values accepted (RFC 9449). Left empty, the gate
    /// fills it from its DPoP settings when DPoP is on.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub dpop_signing_alg_values_supported: Vec<String>,
    /// Whether the resource accepts DPoP-bound tokens only. Default
    /// `false` (left out).
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub dpop_bound_access_tokens_required: bool,
}

/// Why protected resource metadata is not acceptable.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum ResourceMetadataError {
    /// The resource identifier is not an `https` URL in normal form without
    /// query and fragment (RFC 9728 §1.2).
    #[error("resource `{resource}` is not acceptable: {reason}")]
    Resource {
        /// The identifier given.
        resource: String,
        /// What is wrong with it.
        reason: String,
    },
    /// A URL-valued member is not an `https` URL.
    #[error("`{member}` value `{value}` is not an https url")]
    NotHttps {
        /// The member.
        member: &'static str,
        /// The value given.
        value: String,
    },
    /// The document could not be serialised.
    #[error("the metadata document could not be serialised: {reason}")]
    Serialize {
        /// Why.
        reason: String,
    },
}

impl ResourceMetadata {
    /// Metadata for the resource identified by `resource`, with no other
    /// member.
    pub fn new(resource: impl Into<String>) -> Self {
        Self {
            resource: resource.into(),
            ..Self::default()
        }
    }

    /// Sets [`authorization_servers`](Self::authorization_servers).
    #[must_use]
    pub fn with_authorization_servers<I, S>(mut self, servers: I) -> Self
    where
        I: IntoIterator<Item = S>,
        S: Into<String>,
    {
        self.authorization_servers = servers.into_iter().map(Into::into).collect();
        self
    }

    /// Sets [`jwks_uri`](Self::jwks_uri).
    #[must_use]
    pub fn with_jwks_uri(mut self, uri: impl Into<String>) -> Self {
        self.jwks_uri = Some(uri.into());
        self
    }

    /// Sets [`scopes_supported`](Self::scopes_supported).
    #[must_use]
    pub fn with_scopes_supported<I, S>(mut self, scopes: I) -> Self
    where
        I: IntoIterator<Item = S>,
        S: Into<String>,
    {
        self.scopes_supported = scopes.into_iter().map(Into::into).collect();
        self
    }

    /// Sets [`bearer_methods_supported`](Self::bearer_methods_supported).
    #[must_use]
    pub fn with_bearer_methods_supported<I, S>(mut self, methods: I) -> Self
    where
        I: IntoIterator<Item = S>,
        S: Into<String>,
    {
        self.bearer_methods_supported = methods.into_iter().map(Into::into).collect();
        self
    }

    /// Sets [`resource_signing_alg_values_supported`](Self::resource_signing_alg_values_supported).
    #[must_use]
    pub fn with_resource_signing_alg_values_supported<I, S>(mut self, algs: I) -> Self
    where
        I: IntoIterator<Item = S>,
        S: Into<String>,
    {
        self.resource_signing_alg_values_supported = algs.into_iter().map(Into::into).collect();
        self
    }

    /// Sets [`resource_name`](Self::resource_name).
    #[must_use]
    pub fn with_resource_name(mut self, name: impl Into<String>) -> Self {
        self.resource_name = Some(name.into());
        self
    }

    /// Sets [`resource_documentation`](Self::resource_documentation).
    #[must_use]
    pub fn with_resource_documentation(mut self, url: impl Into<String>) -> Self {
        self.resource_documentation = Some(url.into());
        self
    }

    /// Sets [`tls_client_certificate_bound_access_tokens`](Self::tls_client_certificate_bound_access_tokens).
    #[must_use]
    pub fn with_tls_client_certificate_bound_access_tokens(mut self, supported: bool) -> Self {
        self.tls_client_certificate_bound_access_tokens = supported;
        self
    }

    /// Sets [`dpop_signing_alg_values_supported`](Self::dpop_signing_alg_values_supported).
    #[must_use]
    pub fn with_dpop_signing_alg_values_supported(
        mut self,
        algs: impl IntoIterator<Item = crate::jwt::Algorithm>,
    ) -> Self {
        self.dpop_signing_alg_values_supported =
            algs.into_iter().map(|a| a.name().to_owned()).collect();
        self
    }

    /// Sets [`dpop_bound_access_tokens_required`](Self::dpop_bound_access_tokens_required).
    #[must_use]
    pub fn with_dpop_bound_access_tokens_required(mut self, required: bool) -> Self {
        self.dpop_bound_access_tokens_required = required;
        self
    }

    /// Checks the resource identifier and the URL-valued members.
    ///
    /// # Errors
    /// [`ResourceMetadataError::Resource`] when `resource` is not an
    /// `https` URL, carries a query, fragment or user information, or is
    /// not in normal form (its parsed form differs from it);
    /// [`ResourceMetadataError::NotHttps`] for an authorization server,
    /// `jwks_uri` or `resource_documentation` that is not an `https` URL.
    pub fn validate(&self) -> Result<(), ResourceMetadataError> {
        self.resource_url()?;
        let urls = self
            .authorization_servers
            .iter()
            .map(|s| ("authorization_servers", s))
            .chain(self.jwks_uri.iter().map(|s| ("jwks_uri", s)))
            .chain(
                self.resource_documentation
                    .iter()
                    .map(|s| ("resource_documentation", s)),
            );
        for (member, value) in urls {
            let ok =
                url::Url::parse(value).is_ok_and(|u| u.scheme() == "https" && u.host().is_some());
            if !ok {
                return Err(ResourceMetadataError::NotHttps {
                    member,
                    value: crate::text::printable(value, 256),
                });
            }
        }
        Ok(())
    }

    /// The URL the document is published at (RFC 9728 §3): the
    /// resource's scheme and authority, then `/.well-known/oauth-protected-resource`,
    /// then the resource's path (none for `https://host` or `https://host/`).
    ///
    /// # Errors
    /// As [`validate`](Self::validate) for the resource identifier.
    pub fn well_known_url(&self) -> Result<String, ResourceMetadataError> {
        let url = self.resource_url()?;
        let path = well_known_path_of(&url);
        let origin = url.origin().ascii_serialization();
        Ok(format!("{origin}{path}"))
    }

    /// The path of [`well_known_url`](Self::well_known_url): what the gate
    /// answers `GET` on.
    ///
    /// # Errors
    /// As [`validate`](Self::validate) for the resource identifier.
    pub fn well_known_path(&self) -> Result<String, ResourceMetadataError> {
        self.resource_url().map(|u| well_known_path_of(&u))
    }

    /// The document as JSON (RFC 9728 §2), after [`validate`](Self::validate).
    ///
    /// # Errors
    /// As [`validate`](Self::validate).
    pub fn to_json(&self) -> Result<Vec<u8>, ResourceMetadataError> {
        self.validate()?;
        serde_json::to_vec(self).map_err(|e| ResourceMetadataError::Serialize {
            reason: e.to_string(),
        })
    }

    fn resource_url(&self) -> Result<url::Url, ResourceMetadataError> {
        let bad = |reason: &str| ResourceMetadataError::Resource {
            resource: crate::text::printable(&self.resource, 256),
            reason: reason.to_owned(),
        };
        let url = url::Url::parse(&self.resource).map_err(|e| bad(&e.to_string()))?;
        if url.scheme() != "https" {
            return Err(bad("the scheme must be https"));
        }
        if url.host().is_none() {
            return Err(bad("it has no host"));
        }
        if !url.username().is_empty() || url.password().is_some() {
            return Err(bad("it carries user information"));
        }
        if url.query().is_some() {
            return Err(bad("it has a query component"));
        }
        if url.fragment().is_some() {
            return Err(bad("it has a fragment component"));
        }
        // `https://host` parses as `https://host/`; anything else must be
        // already normal, so the document's `resource` is the identifier
        // the client derives the well-known URL from (§3.3).
        let normal = url.as_str();
        let same = normal == self.resource
            || (url.path() == "/" && normal.strip_suffix('/') == Some(self.resource.as_str()));
        if !same {
            return Err(bad(&format!(
                "it is not in normal form (`{}`)",
                crate::text::printable(normal, 256)
            )));
        }
        Ok(url)
    }
}

/// `/.well-known/oauth-protected-resource` followed by the resource's path
/// unless that path is `/` (§3.1: the slash after the host is dropped).
fn well_known_path_of(url: &url::Url) -> String {
    match url.path() {
        "/" | "" => WELL_KNOWN.to_owned(),
        path => format!("{WELL_KNOWN}{path}"),
    }
}

/// What the gate serves: the path it answers, the URL its challenges name,
/// and the document.
#[derive(Debug, Clone)]
pub(crate) struct Published {
    pub(crate) path: String,
    pub(crate) url: String,
    body: Vec<u8>,
}

impl Published {
    pub(crate) fn new(metadata: &ResourceMetadata) -> Result<Self, ResourceMetadataError> {
        Ok(Self {
            path: metadata.well_known_path()?,
            url: metadata.well_known_url()?,
            body: metadata.to_json()?,
        })
    }

    /// The answer to `GET` (or `HEAD`, without the body) on the path.
    pub(crate) fn response(&self, head: bool) -> http::Response<Vec<u8>> {
        use http::header::{CACHE_CONTROL as CC, CONTENT_LENGTH, CONTENT_TYPE};
        let body = if head { Vec::new() } else { self.body.clone() };
        let mut response = http::Response::new(body);
        let headers = response.headers_mut();
        headers.insert(
            CONTENT_TYPE,
            http::HeaderValue::from_static("application/json"),
        );
        headers.insert(CC, http::HeaderValue::from_static(CACHE_CONTROL));
        headers.insert(CONTENT_LENGTH, http::HeaderValue::from(self.body.len()));
        response
    }
}
