//! The client credentials token request (RFC 6749 §4.4.2) and client
//! authentication: `client_secret_basic` (§2.3.1, id and secret
//! form-urlencoded before base64), `client_secret_post`, and a JWT client
//! assertion (RFC 7523 §2.2) from a caller-supplied [`AssertionSource`].

use std::fmt;
use std::sync::Arc;

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD;
use http::{HeaderValue, Method, Request, header};
use time::OffsetDateTime;
use url::form_urlencoded;

use super::OAuthError;
use crate::Secret;
use crate::jwk::discovery::ProviderMetadata;

/// `client_assertion_type` for a JWT client assertion (RFC 7523 §2.2).
pub const JWT_BEARER_ASSERTION_TYPE: &str =
    "urn:ietf:params:oauth:client-assertion-type:jwt-bearer";

/// Makes client assertions: a JWT signed with the client's key
/// (`private_key_jwt`) or one obtained from another issuer (Entra workload
/// identity federation, a Kubernetes or GitHub OIDC token). Called once per
/// token request with the audience the assertion must name (the token
/// endpoint by default, see [`ClientCredentials::with_assertion_audience`]).
pub trait AssertionSource: Send + Sync {
    /// A fresh assertion for `audience` at `now`.
    ///
    /// # Errors
    /// Whatever stops the source from making one; it is reported as
    /// [`OAuthError::Assertion`]. The error must not carry the assertion or
    /// key material.
    fn assertion(
        &self,
        audience: &str,
        now: OffsetDateTime,
    ) -> Result<Secret<String>, Box<dyn std::error::Error + Send + Sync>>;
}

impl<F> AssertionSource for F
where
    F: Fn(&str, OffsetDateTime) -> Result<Secret<String>, Box<dyn std::error::Error + Send + Sync>>
        + Send
        + Sync,
{
    fn assertion(
        &self,
        audience: &str,
        now: OffsetDateTime,
    ) -> Result<Secret<String>, Box<dyn std::error::Error + Send + Sync>> {
        self(audience, now)
    }
}

/// How the client authenticates to the token endpoint.
#[derive(Clone)]
#[non_exhaustive]
pub enum ClientAuth {
    /// HTTP Basic with the form-urlencoded client id and secret (RFC 6749
    /// §2.3.1): the method every server must support.
    SecretBasic {
        /// The client secret.
        secret: Secret<String>,
    },
    /// `client_id` and `client_secret` in the form body (RFC 6749 §2.3.1;
    /// NOT RECOMMENDED by the RFC, but what some servers require).
    SecretPost {
        /// The client secret.
        secret: Secret<String>,
    },
    /// A JWT client assertion (RFC 7523 §2.2; `private_key_jwt` in OpenID
    /// Connect Core §9) from `source`, sent with `client_id`.
    Assertion {
        /// Where assertions come from.
        source: Arc<dyn AssertionSource>,
    },
}

impl ClientAuth {
    /// `client_secret_basic` with `secret`.
    pub fn secret_basic(secret: Secret<String>) -> Self {
        Self::SecretBasic { secret }
    }

    /// `client_secret_post` with `secret`.
    pub fn secret_post(secret: Secret<String>) -> Self {
        Self::SecretPost { secret }
    }

    /// A JWT client assertion from `source` (`private_key_jwt` or a
    /// federated token).
    pub fn assertion(source: impl AssertionSource + 'static) -> Self {
        Self::Assertion {
            source: Arc::new(source),
        }
    }

    /// The method's registered name (`token_endpoint_auth_methods_supported`).
    pub fn method_name(&self) -> &'static str {
        match self {
            Self::SecretBasic { .. } => "client_secret_basic",
            Self::SecretPost { .. } => "client_secret_post",
            Self::Assertion { .. } => "private_key_jwt",
        }
    }
}

impl fmt::Debug for ClientAuth {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("ClientAuth")
            .field("method", &self.method_name())
            .finish_non_exhaustive()
    }
}

/// A confidential client's client credentials grant: where to ask, who is
/// asking, how it authenticates, and for what (`scope`, RFC 8707
/// `resource`). `Debug` never shows the secret.
#[derive(Debug, Clone)]
#[non_exhaustive]
pub struct ClientCredentials {
    /// The token endpoint (https; `http` only on a loopback host with
    /// [`with_http_loopback`](Self::with_http_loopback)).
    pub token_endpoint: String,
    /// The client id.
    pub client_id: String,
    /// How the client authenticates.
    pub auth: ClientAuth,
    /// Scopes asked for, sent space-separated (`scope`); for Entra ID the
    /// single `{resource}/.default`. Empty: no `scope` parameter.
    pub scopes: Vec<String>,
    /// RFC 8707 resource indicators (absolute URIs), one `resource`
    /// parameter each.
    pub resources: Vec<String>,
    /// The `aud` a client assertion must carry; `None` (the default) is the
    /// token endpoint (OpenID Connect Core §9). FAPI 2.0 wants the
    /// authorization server's issuer identifier instead.
    pub assertion_audience: Option<String>,
}

impl ClientCredentials {
    /// A client of `token_endpoint` with id `client_id`.
    ///
    /// # Errors
    /// [`OAuthError::Endpoint`] when the endpoint is not an absolute
    /// `https` URL without a fragment; [`OAuthError::Config`] for an empty
    /// client id.
    pub fn new(
        token_endpoint: &str,
        client_id: &str,
        auth: ClientAuth,
    ) -> Result<Self, OAuthError> {
        Self::build(token_endpoint, client_id, auth, false)
    }

    fn build(
        token_endpoint: &str,
        client_id: &str,
        auth: ClientAuth,
        allow_http_loopback: bool,
    ) -> Result<Self, OAuthError> {
        check_endpoint(token_endpoint, allow_http_loopback)?;
        if client_id.is_empty() {
            return Err(OAuthError::Config {
                what: "client id",
                reason: "it is empty",
            });
        }
        Ok(Self {
            token_endpoint: token_endpoint.to_owned(),
            client_id: client_id.to_owned(),
            auth,
            scopes: Vec::new(),
            resources: Vec::new(),
            assertion_audience: None,
        })
    }

    /// A client of the token endpoint a discovery document names.
    ///
    /// # Errors
    /// [`OAuthError::Config`] when the document has no `token_endpoint`;
    /// as [`new`](Self::new) otherwise.
    pub fn from_discovery(
        metadata: &ProviderMetadata,
        client_id: &str,
        auth: ClientAuth,
    ) -> Result<Self, OAuthError> {
        let endpoint = metadata
            .token_endpoint
            .as_deref()
            .ok_or(OAuthError::Config {
                what: "token endpoint",
                reason: "the discovery document has no `token_endpoint`",
            })?;
        Self::new(endpoint, client_id, auth)
    }

    /// Like [`new`](Self::new), but also accepts an `http://` endpoint on a
    /// loopback host (`localhost`, 127.0.0.0/8, `::1`): development issuers
    /// and tests only. A secret sent in the clear is a secret given away.
    ///
    /// # Errors
    /// As [`new`](Self::new).
    pub fn with_http_loopback(
        token_endpoint: &str,
        client_id: &str,
        auth: ClientAuth,
    ) -> Result<Self, OAuthError> {
        Self::build(token_endpoint, client_id, auth, true)
    }

    /// Adds a scope (Entra ID: `api://orders/.default`).
    #[must_use]
    pub fn with_scope(mut self, scope: impl Into<String>) -> Self {
        self.scopes.push(scope.into());
        self
    }

    /// Adds an RFC 8707 resource indicator.
    #[must_use]
    pub fn with_resource(mut self, resource: impl Into<String>) -> Self {
        self.resources.push(resource.into());
        self
    }

    /// Sets the `aud` client assertions must carry (default: the token
    /// endpoint).
    #[must_use]
    pub fn with_assertion_audience(mut self, audience: impl Into<String>) -> Self {
        self.assertion_audience = Some(audience.into());
        self
    }

    /// The audience a client assertion for this client names.
    pub fn assertion_audience(&self) -> &str {
        self.assertion_audience
            .as_deref()
            .unwrap_or(&self.token_endpoint)
    }

    /// What identifies this client's tokens: endpoint, client id, scopes and
    /// resources. The token cache's state carries it, and sealed state is
    /// bound to it (the seal subject).
    pub fn cache_key(&self) -> String {
        let mut scopes = self.scopes.clone();
        scopes.sort();
        let mut resources = self.resources.clone();
        resources.sort();
        format!(
            "{} client_id={} scope={} resource={}",
            self.token_endpoint,
            self.client_id,
            scopes.join(" "),
            resources.join(" ")
        )
    }

    /// The token request (RFC 6749 §4.4.2): a form-encoded POST to the token
    /// endpoint with `Accept: application/json`. Headers that carry a
    /// credential are marked sensitive. The body carries the secret or
    /// assertion for `client_secret_post` and assertions: do not log it.
    ///
    /// # Errors
    /// [`OAuthError::Assertion`] when the assertion source fails;
    /// [`OAuthError::Config`] when a scope is not valid RFC 6749 §3.3 scope
    /// token text or the request cannot be built.
    pub fn token_request(&self, now: OffsetDateTime) -> Result<Request<Vec<u8>>, OAuthError> {
        for scope in &self.scopes {
            if scope.is_empty()
                || !scope
                    .bytes()
                    .all(|b| b == 0x21 || (0x23..=0x5b).contains(&b) || (0x5d..=0x7e).contains(&b))
            {
                return Err(OAuthError::Config {
                    what: "scope",
                    reason: "a scope must be non-empty printable ascii without space, `\"` or `\\`",
                });
            }
        }
        let mut form = form_urlencoded::Serializer::new(String::new());
        form.append_pair("grant_type", "client_credentials");
        if !self.scopes.is_empty() {
            form.append_pair("scope", &self.scopes.join(" "));
        }
        for resource in &self.resources {
            form.append_pair("resource", resource);
        }
        let authorization = authenticate(
            &self.auth,
            &self.client_id,
            self.assertion_audience(),
            &mut form,
            now,
        )?;
        let body = form.finish().into_bytes();
        let mut request = Request::builder()
            .method(Method::POST)
            .uri(self.token_endpoint.as_str())
            .header(
                header::CONTENT_TYPE,
                HeaderValue::from_static("application/x-www-form-urlencoded"),
            )
            .header(header::ACCEPT, HeaderValue::from_static("application/json"))
            .body(body)
            .map_err(|_| OAuthError::Endpoint {
                url: self.token_endpoint.clone(),
                reason: "it is not a valid request uri",
            })?;
        if let Some(value) = authorization {
            request.headers_mut().insert(header::AUTHORIZATION, value);
        }
        Ok(request)
    }
}

/// Adds client authentication (RFC 6749 §2.3.1, RFC 7523 §2.2) to a form
/// request: the `Authorization` header to send (marked sensitive) for
/// `client_secret_basic`, or form members for the others. Shared by the
/// token request and the introspection request (RFC 7662 §2.1).
pub(crate) fn authenticate(
    auth: &ClientAuth,
    client_id: &str,
    assertion_audience: &str,
    form: &mut form_urlencoded::Serializer<'_, String>,
    now: OffsetDateTime,
) -> Result<Option<HeaderValue>, OAuthError> {
    match auth {
        ClientAuth::SecretBasic { secret } => {
            let id: String = form_urlencoded::byte_serialize(client_id.as_bytes()).collect();
            let pw = Secret::new(
                form_urlencoded::byte_serialize(secret.expose().as_bytes()).collect::<String>(),
            );
            let joined = Secret::new(format!("{id}:{}", pw.expose()));
            let value = Secret::new(format!("Basic {}", STANDARD.encode(joined.expose())));
            let mut header =
                HeaderValue::from_str(value.expose()).map_err(|_| OAuthError::Config {
                    what: "authorization header",
                    reason: "it cannot be built",
                })?;
            header.set_sensitive(true);
            Ok(Some(header))
        }
        ClientAuth::SecretPost { secret } => {
            form.append_pair("client_id", client_id);
            form.append_pair("client_secret", secret.expose());
            Ok(None)
        }
        ClientAuth::Assertion { source } => {
            let assertion = source
                .assertion(assertion_audience, now)
                .map_err(|source| OAuthError::Assertion {
                    audience: assertion_audience.to_owned(),
                    source,
                })?;
            form.append_pair("client_id", client_id);
            form.append_pair("client_assertion_type", JWT_BEARER_ASSERTION_TYPE);
            form.append_pair("client_assertion", assertion.expose());
            Ok(None)
        }
    }
}

pub(crate) fn check_endpoint(endpoint: &str, allow_http_loopback: bool) -> Result<(), OAuthError> {
    let fail = |reason| OAuthError::Endpoint {
        url: endpoint.to_owned(),
        reason,
    };
    let url = url::Url::parse(endpoint).map_err(|_| fail("it is not an absolute url"))?;
    if url.fragment().is_some() {
        return Err(fail("it has a fragment"));
    }
    if !url.username().is_empty() || url.password().is_some() {
        return Err(fail("it carries credentials"));
    }
    match url.scheme() {
        "https" => Ok(()),
        "http" if allow_http_loopback && is_loopback(&url) => Ok(()),
        "http" => Err(fail(
            "plain http is allowed only to a loopback host, when asked",
        )),
        _ => Err(fail("it is not an https url")),
    }
}

fn is_loopback(url: &url::Url) -> bool {
    match url.host() {
        Some(url::Host::Domain(d)) => d.eq_ignore_ascii_case("localhost"),
        Some(url::Host::Ipv4(ip)) => ip.is_loopback(),
        Some(url::Host::Ipv6(ip)) => ip.is_loopback(),
        None => false,
    }
}
