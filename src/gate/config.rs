//! What a [`Gate`](super::Gate) enforces: the trusted issuers and the
//! gate's own settings, plain structs with secure defaults and `with_*`
//! builders.

use std::sync::Arc;

use crate::jwt::Algorithm;
use time::Duration;

use crate::extract::TokenSource;
use crate::jwk::cache::CacheConfig;
use crate::jwk::discovery::DiscoveryOptions;
use crate::jwt::{AudienceClaim, Validation};
use crate::limit::LimitStore;
use crate::oidc::RoleMapper;
#[cfg(feature = "policy")]
use crate::policy::CompiledPolicy;
use crate::response::DEFAULT_REALM;

use super::cache::TokenCacheConfig;

/// One trusted token issuer.
#[derive(Debug, Clone)]
#[non_exhaustive]
pub struct IssuerConfig {
    /// The issuer, compared exactly with the token's `iss`; or an Entra ID
    /// multi-tenant template such as
    /// `https://login.microsoftonline.com/{tenantid}/v2.0`, matched with the
    /// token's `tid` in place of `{tenantid}`.
    pub issuer: String,
    /// Accepted `aud` values (`client_id` values with
    /// [`with_audience_claim`](Self::with_audience_claim)`(AudienceClaim::ClientId)`).
    /// Must not be empty: a token for another API of the same issuer must
    /// not pass.
    pub audiences: Vec<String>,
    /// The JWKS endpoint. `None`: found through the discovery document.
    pub jwks_uri: Option<String>,
    /// Where the discovery document is. `None`:
    /// `{issuer}/.well-known/openid-configuration`. Required (or
    /// `jwks_uri`) for a `{tenantid}` template.
    pub discovery_url: Option<String>,
    /// Algorithms, leeway, `typ`, max age and required claims. Its
    /// `issuers` and `audiences` are replaced by the ones above.
    pub validation: Validation,
    /// How claims become roles, scopes and groups.
    pub roles: RoleMapper,
    /// Accept this issuer's tokens only sender-constrained (DPoP, RFC 9449):
    /// a Bearer-presented token is refused. Needs [`GateConfig::dpop`].
    /// Default `false`.
    pub sender_constrained: bool,
    /// Accept this issuer's tokens only certificate-bound (RFC 8705 §3):
    /// a token without `cnf.x5t#S256` is refused. Whatever this says, a
    /// token that carries `cnf.x5t#S256` must come with that client
    /// certificate ([`crate::mtls`]). Default `false`.
    pub certificate_bound: bool,
    /// Token introspection (RFC 7662) for this issuer's opaque tokens.
    /// `None` (the default): every token must be a JWT. With it, a token
    /// that is not three dot-separated base64url segments is introspected
    /// at this issuer's endpoint (JWTs are still validated locally). Its
    /// `issuer` and `audiences` are replaced by the ones above. At most
    /// one issuer of a gate may introspect.
    #[cfg(feature = "introspect")]
    pub introspection: Option<crate::introspect::IntrospectionConfig>,
}

impl IssuerConfig {
    /// An issuer with its accepted audiences, default validation
    /// (asymmetric algorithms, 60 s leeway, `exp` required) and a role
    /// mapper that takes only `sub` and `iss`.
    pub fn new<I, S>(issuer: impl Into<String>, audiences: I) -> Self
    where
        I: IntoIterator<Item = S>,
        S: Into<String>,
    {
        Self {
            issuer: issuer.into(),
            audiences: audiences.into_iter().map(Into::into).collect(),
            jwks_uri: None,
            discovery_url: None,
            validation: Validation::default(),
            roles: RoleMapper::default(),
            sender_constrained: false,
            certificate_bound: false,
            #[cfg(feature = "introspect")]
            introspection: None,
        }
    }

    /// Sets [`certificate_bound`](Self::certificate_bound).
    #[must_use]
    pub fn with_certificate_bound(mut self, required: bool) -> Self {
        self.certificate_bound = required;
        self
    }

    /// Sends this issuer's opaque tokens to introspection (see
    /// [`introspection`](Self::introspection)).
    #[cfg(feature = "introspect")]
    #[must_use]
    pub fn with_introspection(mut self, config: crate::introspect::IntrospectionConfig) -> Self {
        self.introspection = Some(config);
        self
    }

    /// Sets [`sender_constrained`](Self::sender_constrained).
    #[must_use]
    pub fn with_sender_constrained(mut self, required: bool) -> Self {
        self.sender_constrained = required;
        self
    }

    /// Sets the JWKS endpoint (skips discovery).
    #[must_use]
    pub fn with_jwks_uri(mut self, uri: impl Into<String>) -> Self {
        self.jwks_uri = Some(uri.into());
        self
    }

    /// Sets the discovery document's URL.
    #[must_use]
    pub fn with_discovery_url(mut self, url: impl Into<String>) -> Self {
        self.discovery_url = Some(url.into());
        self
    }

    /// Sets the accepted algorithms.
    #[must_use]
    pub fn with_algorithms(mut self, algorithms: impl IntoIterator<Item = Algorithm>) -> Self {
        self.validation.algorithms = algorithms.into_iter().collect();
        self
    }

    /// Sets the validation rules (its issuers and audiences are replaced).
    #[must_use]
    pub fn with_validation(mut self, validation: Validation) -> Self {
        self.validation = validation;
        self
    }

    /// Sets the role mapper (e.g. a preset from [`crate::oidc`]).
    #[must_use]
    pub fn with_roles(mut self, roles: RoleMapper) -> Self {
        self.roles = roles;
        self
    }

    /// Matches [`audiences`](Self::audiences) against another claim than
    /// `aud`: [`AudienceClaim::ClientId`] for Amazon Cognito access tokens,
    /// which carry the app client id in `client_id` and no `aud` (list the
    /// client ids as the audiences). Sets `validation.audience_claim`: call
    /// it after [`with_validation`](Self::with_validation).
    #[must_use]
    pub fn with_audience_claim(mut self, claim: AudienceClaim) -> Self {
        self.validation.audience_claim = claim;
        self
    }

    /// Requires the `token_use` claim to be `token_use` (Amazon Cognito:
    /// `access`). Sets `validation.token_use`: call it after
    /// [`with_validation`](Self::with_validation).
    #[must_use]
    pub fn with_token_use(mut self, token_use: impl Into<String>) -> Self {
        self.validation.token_use = Some(token_use.into());
        self
    }
}

/// What a [`Gate`](super::Gate) enforces.
#[derive(Debug, Clone)]
#[non_exhaustive]
pub struct GateConfig {
    /// The trusted issuers. A token's unverified `iss` only chooses among
    /// them; one issuer's keys never verify another issuer's tokens.
    pub issuers: Vec<IssuerConfig>,
    /// Where tokens are looked for (default: `Authorization: Bearer`).
    pub sources: Vec<TokenSource>,
    /// The `realm` of `WWW-Authenticate` challenges (default `edge-auth`).
    pub realm: String,
    /// The route policy. `None`: every request needs a valid token and any
    /// valid token is enough. Only with the `policy` feature.
    #[cfg(feature = "policy")]
    pub policy: Option<CompiledPolicy>,
    /// How each issuer's key set is cached and refreshed.
    pub cache: CacheConfig,
    /// What discovery documents must satisfy.
    pub discovery: DiscoveryOptions,
    /// How long a handed-out discovery fetch may stay unanswered before
    /// another is handed out (default 30 s, must not be negative).
    pub discovery_timeout: Duration,
    /// Delay before retrying a failed discovery fetch (default 30 s, must
    /// not be negative).
    pub discovery_retry: Duration,
    /// How often [`Gate::poll`](super::Gate::poll) fetches an issuer's discovery document
    /// again once it has one (default 24 h, must be positive), so that a
    /// moved `jwks_uri` is followed without a restart. Requests never wait
    /// for this refresh.
    pub discovery_refresh: Duration,
    /// The verified-token cache (see [`gate::cache`](super::cache) for why
    /// it is safe and what it costs). `None` (the default): every token is
    /// verified on every request.
    pub token_cache: Option<TokenCacheConfig>,
    /// Where the policy's rate limits keep their state. `None`: a
    /// [`MemoryStore`](crate::limit::MemoryStore) with default bounds when the policy declares limits
    /// (one process; give every replica one shared store to limit a fleet).
    pub limit_store: Option<Arc<dyn LimitStore>>,
    /// What a request gets when the limit store fails (down, too slow):
    /// `false` (default) answers 503 with the store's error in the audit
    /// record (fail closed); `true` lets it through unlimited.
    pub limit_fail_open: bool,
    /// DPoP (RFC 9449) checks. `None` (the default): `Authorization: DPoP`
    /// counts as no token, and `cnf.jkt` is not looked at.
    #[cfg(feature = "dpop")]
    pub dpop: Option<crate::dpop::GateDpop>,
    /// A request header a TLS-terminating proxy in front of the gate sets
    /// to the client certificate (RFC 9440 `Client-Cert`, a structured-field
    /// Byte Sequence of the DER certificate), read when the driver gives no
    /// certificate fact. `None` (the default): no header is ever trusted.
    /// Name it only when that proxy overwrites the header a client sends;
    /// the tower driver removes it before the request goes upstream.
    #[cfg(feature = "httpsig")]
    pub client_cert_header: Option<http::HeaderName>,
    /// Protected resource metadata (RFC 9728) the gate publishes. `Some`:
    /// the gate answers `GET` and `HEAD` on its well-known path
    /// ([`ResourceMetadata::well_known_path`](crate::resource_metadata::ResourceMetadata::well_known_path))
    /// itself with [`Outcome::Preflight`](super::Outcome::Preflight) (200,
    /// `application/json`, `Cache-Control: public, max-age=3600`), and every
    /// `WWW-Authenticate` challenge it sends carries
    /// `resource_metadata="<url>"` (§5.1). With DPoP on, an empty
    /// `dpop_signing_alg_values_supported` is filled from the DPoP
    /// algorithms. Default `None`.
    pub resource_metadata: Option<crate::resource_metadata::ResourceMetadata>,
}

impl GateConfig {
    /// A gate for these issuers with default sources, realm and caching,
    /// and no policy (any valid token is allowed).
    pub fn new(issuers: impl IntoIterator<Item = IssuerConfig>) -> Self {
        Self {
            issuers: issuers.into_iter().collect(),
            sources: vec![TokenSource::AuthorizationBearer],
            realm: DEFAULT_REALM.to_owned(),
            #[cfg(feature = "policy")]
            policy: None,
            cache: CacheConfig::default(),
            discovery: DiscoveryOptions::default(),
            discovery_timeout: Duration::seconds(30),
            discovery_retry: Duration::seconds(30),
            discovery_refresh: Duration::hours(24),
            token_cache: None,
            limit_store: None,
            limit_fail_open: false,
            #[cfg(feature = "dpop")]
            dpop: None,
            #[cfg(feature = "httpsig")]
            client_cert_header: None,
            resource_metadata: None,
        }
    }

    /// Trusts `header` for the client certificate (see
    /// [`client_cert_header`](Self::client_cert_header)), e.g.
    /// `HeaderName::from_static("client-cert")`.
    #[cfg(feature = "httpsig")]
    #[must_use]
    pub fn with_client_cert_header(mut self, header: http::HeaderName) -> Self {
        self.client_cert_header = Some(header);
        self
    }

    /// Publishes protected resource metadata (see
    /// [`resource_metadata`](Self::resource_metadata)).
    #[must_use]
    pub fn with_resource_metadata(
        mut self,
        metadata: crate::resource_metadata::ResourceMetadata,
    ) -> Self {
        self.resource_metadata = Some(metadata);
        self
    }

    /// Turns on DPoP (see [`dpop`](Self::dpop)).
    #[cfg(feature = "dpop")]
    #[must_use]
    pub fn with_dpop(mut self, dpop: crate::dpop::GateDpop) -> Self {
        self.dpop = Some(dpop);
        self
    }

    /// Sets the store of rate-limit state (see [`limit_store`](Self::limit_store)).
    #[must_use]
    pub fn with_limit_store(mut self, store: Arc<dyn LimitStore>) -> Self {
        self.limit_store = Some(store);
        self
    }

    /// Sets [`limit_fail_open`](Self::limit_fail_open).
    #[must_use]
    pub fn with_limit_fail_open(mut self, fail_open: bool) -> Self {
        self.limit_fail_open = fail_open;
        self
    }

    /// Sets the policy (`policy` feature).
    #[cfg(feature = "policy")]
    #[must_use]
    pub fn with_policy(mut self, policy: CompiledPolicy) -> Self {
        self.policy = Some(policy);
        self
    }

    /// Sets the token sources.
    #[must_use]
    pub fn with_sources(mut self, sources: impl IntoIterator<Item = TokenSource>) -> Self {
        self.sources = sources.into_iter().collect();
        self
    }

    /// Sets the challenge realm.
    #[must_use]
    pub fn with_realm(mut self, realm: impl Into<String>) -> Self {
        self.realm = realm.into();
        self
    }

    /// Sets the cache configuration.
    #[must_use]
    pub fn with_cache(mut self, cache: CacheConfig) -> Self {
        self.cache = cache;
        self
    }

    /// Turns on the verified-token cache: a token seen again skips its
    /// signature verification while its issuer's key set is unchanged and
    /// the token is inside its validity window. The policy still runs on
    /// every request. See [`gate::cache`](super::cache).
    #[must_use]
    pub fn with_token_cache(mut self, cache: TokenCacheConfig) -> Self {
        self.token_cache = Some(cache);
        self
    }
}
