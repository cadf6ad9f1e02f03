//! The crate-wide error: one variant per module error, each convertible with
//! `?`. Match on the module error when you need the detail.

/// Any error edge-auth returns.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    /// Token extraction failed.
    #[error(transparent)]
    Extract(#[from] crate::extract::ExtractError),
    /// A JSON Web Key or key set was unusable.
    #[error(transparent)]
    Jwk(#[from] crate::jwk::JwkError),
    /// The JWKS cache refused a response or a restored state.
    #[error(transparent)]
    Cache(#[from] crate::jwk::cache::CacheError),
    /// An issuer's key machine refused a configuration, response or state.
    #[error(transparent)]
    Keys(#[from] crate::jwk::KeysError),
    /// An OIDC discovery document was unusable.
    #[error(transparent)]
    Discovery(#[from] crate::jwk::discovery::DiscoveryError),
    /// A JWT failed validation.
    #[error(transparent)]
    Jwt(#[from] crate::jwt::JwtError),
    /// A role mapping could not be configured.
    #[error(transparent)]
    Oidc(#[from] crate::oidc::OidcError),
    /// CORS settings or an `Origin` were malformed.
    #[error(transparent)]
    Cors(#[from] crate::cors::CorsError),
    /// A policy document could not be compiled.
    #[error(transparent)]
    Policy(#[from] crate::policy::PolicyError),
    /// AWS SigV4 signing or verification failed.
    #[cfg(feature = "sigv4")]
    #[error(transparent)]
    SigV4(#[from] crate::sigv4::SigV4Error),
    /// A gate could not be built, or was fed a response it cannot place.
    #[error(transparent)]
    Gate(#[from] crate::gate::GateError),
    /// A rate limit could not be built, or its store failed.
    #[error(transparent)]
    Limit(#[from] crate::limit::LimitError),
    /// A certificate-bound token (RFC 8705) or a client certificate fact
    /// was refused.
    #[error(transparent)]
    Mtls(#[from] crate::mtls::MtlsError),
    /// HTTP Message Signatures signing or verification failed.
    #[cfg(feature = "httpsig")]
    #[error(transparent)]
    HttpSig(#[from] crate::httpsig::HttpSigError),
    /// A request could not be forwarded (request line, Host, transfer
    /// coding, forwarding configuration, identity headers).
    #[error(transparent)]
    Forward(#[from] crate::forward::ForwardError),
    /// Sealing state failed, or a sealed blob was refused.
    #[error(transparent)]
    Seal(#[from] crate::seal::SealError),
    /// An OAuth client error.
    #[error(transparent)]
    OAuth(#[from] crate::oauth::OAuthError),
    /// Token introspection was misconfigured, or its answer refused.
    #[cfg(feature = "introspect")]
    #[error(transparent)]
    Introspect(#[from] crate::introspect::IntrospectError),
    /// A signing key could not be loaded or could not sign.
    #[error(transparent)]
    Key(#[from] crate::crypto::KeyError),
    /// Protected resource metadata (RFC 9728) is not acceptable.
    #[error(transparent)]
    ResourceMetadata(#[from] crate::resource_metadata::ResourceMetadataError),
    /// Minting a client or edge assertion failed.
    #[error(transparent)]
    Mint(#[from] crate::assertion::MintError),
}
