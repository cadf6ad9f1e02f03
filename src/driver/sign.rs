//! [`UpstreamSigner`]: proves to the upstream that a request came through
//! the gateway, with the library's signers: RFC 9421 HTTP Message
//! Signatures (`hmac-sha256`, feature `httpsig`) or AWS SigV4 (feature
//! `sigv4`). Both cover the identity headers the [`Proxy`](super::proxy::Proxy)
//! sets, so they cannot be swapped between the gateway and the upstream.

use std::fmt;

use http::Request;
use http::request::Parts;
use time::OffsetDateTime;

#[cfg(feature = "httpsig")]
use crate::httpsig::{self, Component, Signer, SignerConfig, SigningKey};
#[cfg(feature = "sigv4")]
use crate::sigv4::{self, Credentials, Payload, SigningKeyCache, SigningParams};

/// RFC 9421 components covered on every request: the request line (method,
/// authority, path, query) and the body through Content-Digest (RFC 9530).
pub const SIGNED_COMPONENTS: [&str; 5] =
    ["@method", "@authority", "@path", "@query", "content-digest"];

/// Why an upstream request could not be signed. The message never holds a
/// secret.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum SignError {
    /// The signer could not be built (bad key id, bad component name).
    #[error("upstream signer: {0}")]
    Config(String),
    /// Signing one request failed.
    #[error("upstream signing failed: {0}")]
    Sign(String),
}

/// How the gateway signs upstream requests. Build one with
/// [`hmac_sha256`](Self::hmac_sha256) or [`sigv4`](Self::sigv4) and hand it
/// to [`ProxyConfig::with_signer`](super::proxy::ProxyConfig::with_signer);
/// the proxy compiles it once with its identity header names.
#[derive(Clone)]
#[non_exhaustive]
pub enum UpstreamSigner {
    /// RFC 9421 HTTP Message Signature, `hmac-sha256` with a shared secret,
    /// covering [`SIGNED_COMPONENTS`] and the identity headers.
    #[cfg(feature = "httpsig")]
    HttpSigHmac {
        /// The `keyid` parameter.
        key_id: String,
        /// The shared secret.
        secret: crate::Secret<Vec<u8>>,
    },
    /// AWS SigV4 (for an upstream behind API Gateway / Lambda URLs): signs
    /// every header sent, the identity headers included.
    #[cfg(feature = "sigv4")]
    SigV4 {
        /// The credentials (their `Debug` redacts the secret).
        credentials: Credentials,
        /// Region, e.g. `eu-west-1`.
        region: String,
        /// Service, e.g. `execute-api`.
        service: String,
    },
}

impl fmt::Debug for UpstreamSigner {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            #[cfg(feature = "httpsig")]
            Self::HttpSigHmac { key_id, .. } => f
                .debug_struct("HttpSigHmac")
                .field("key_id", key_id)
                .finish_non_exhaustive(),
            #[cfg(feature = "sigv4")]
            Self::SigV4 {
                region, service, ..
            } => f
                .debug_struct("SigV4")
                .field("region", region)
                .field("service", service)
                .finish_non_exhaustive(),
            #[allow(unreachable_patterns, reason = "no signer feature on")]
            _ => f.write_str("UpstreamSigner"),
        }
    }
}

impl UpstreamSigner {
    /// RFC 9421 `hmac-sha256` with `secret`, `keyid` `key_id`.
    #[cfg(feature = "httpsig")]
    pub fn hmac_sha256(key_id: impl Into<String>, secret: crate::Secret<Vec<u8>>) -> Self {
        Self::HttpSigHmac {
            key_id: key_id.into(),
            secret,
        }
    }

    /// AWS SigV4 with `credentials` for `region` and `service`.
    #[cfg(feature = "sigv4")]
    pub fn sigv4(
        credentials: Credentials,
        region: impl Into<String>,
        service: impl Into<String>,
    ) -> Self {
        Self::SigV4 {
            credentials,
            region: region.into(),
            service: service.into(),
        }
    }

    /// The `forward` setting whose signature headers this signer owns.
    pub(crate) fn forward_signature(&self) -> crate::forward::UpstreamSignature {
        match self {
            #[cfg(feature = "httpsig")]
            Self::HttpSigHmac { .. } => crate::forward::UpstreamSignature::HttpSig,
            #[cfg(feature = "sigv4")]
            Self::SigV4 { .. } => crate::forward::UpstreamSignature::SigV4,
            #[allow(unreachable_patterns, reason = "no signer feature on")]
            _ => crate::forward::UpstreamSignature::None,
        }
    }

    /// Builds the signers once (key derivation, component lists).
    /// `identity`: the identity header names the proxy sets, covered on
    /// authenticated requests.
    pub(crate) fn compile(&self, identity: &[String]) -> Result<Signing, SignError> {
        let _ = identity;
        match self {
            #[cfg(feature = "httpsig")]
            Self::HttpSigHmac { key_id, secret } => {
                let with_identity: Vec<&str> = SIGNED_COMPONENTS
                    .iter()
                    .copied()
                    .chain(identity.iter().map(String::as_str))
                    .collect();
                Ok(Signing::HttpSig {
                    identity: Box::new(http_signer(key_id, secret, &with_identity)?),
                    identity_names: identity.to_vec(),
                    anonymous: Box::new(http_signer(key_id, secret, &SIGNED_COMPONENTS)?),
                })
            }
            #[cfg(feature = "sigv4")]
            Self::SigV4 {
                credentials,
                region,
                service,
            } => Ok(Signing::SigV4 {
                credentials: credentials.clone(),
                region: region.clone(),
                service: service.clone(),
                keys: SigningKeyCache::default(),
            }),
            #[allow(unreachable_patterns, reason = "no signer feature on")]
            _ => Ok(Signing::None),
        }
    }
}

#[cfg(feature = "httpsig")]
fn http_signer(
    key_id: &str,
    secret: &crate::Secret<Vec<u8>>,
    names: &[&str],
) -> Result<Signer, SignError> {
    let config_error = |e: &dyn fmt::Display| SignError::Config(e.to_string());
    let key = SigningKey::try_from_hmac_sha256(key_id, secret).map_err(|e| config_error(&e))?;
    let components = names
        .iter()
        .map(|name| Component::try_from_name(name).map_err(|e| config_error(&e)))
        .collect::<Result<_, _>>()?;
    let config = SignerConfig {
        components,
        // `alg` is optional (RFC 9421 §3.2), but upstreams on other RFC 9421
        // stacks often key their algorithm choice on it.
        include_alg: true,
        // The upstream is reached over plain http (loopback or a private network).
        assumed_scheme: "http".to_owned(),
        ..SignerConfig::default()
    };
    Signer::new(key, config).map_err(|e| config_error(&e))
}

/// A compiled [`UpstreamSigner`].
pub(crate) enum Signing {
    #[allow(dead_code, reason = "built only when no signer feature is on")]
    None,
    #[cfg(feature = "httpsig")]
    HttpSig {
        identity: Box<Signer>,
        identity_names: Vec<String>,
        /// Anonymous routes have no identity headers to cover (a covered
        /// component must be present).
        anonymous: Box<Signer>,
    },
    #[cfg(feature = "sigv4")]
    SigV4 {
        credentials: Credentials,
        region: String,
        service: String,
        /// Derived signing keys, one per day and scope.
        keys: SigningKeyCache,
    },
}

/// A computed signature, applied once the request is assembled.
pub(crate) enum Signature {
    #[cfg(feature = "httpsig")]
    HttpSig(httpsig::SigningOutput),
    #[cfg(feature = "sigv4")]
    SigV4(sigv4::SigningOutput),
}

impl Signature {
    pub(crate) fn apply_to<B>(&self, request: &mut Request<B>) -> Result<(), SignError> {
        let _ = &request;
        match self {
            #[cfg(feature = "httpsig")]
            Self::HttpSig(out) => {
                out.apply_to(request);
                Ok(())
            }
            #[cfg(feature = "sigv4")]
            Self::SigV4(out) => out
                .apply_to(request)
                .map_err(|e| SignError::Sign(e.to_string())),
            #[allow(unreachable_patterns, reason = "no signer feature on")]
            _ => Ok(()),
        }
    }
}

impl Signing {
    /// Signs the request about to be sent (`parts` with its final headers,
    /// `body` the bytes that will be sent).
    pub(crate) fn sign(
        &self,
        parts: &Parts,
        body: &[u8],
        now: OffsetDateTime,
    ) -> Result<Option<Signature>, SignError> {
        let _ = (parts, body, now);
        match self {
            Self::None => Ok(None),
            #[cfg(feature = "httpsig")]
            Self::HttpSig {
                identity,
                identity_names,
                anonymous,
            } => {
                let signer = if identity_names
                    .iter()
                    .any(|name| parts.headers.contains_key(name.as_str()))
                {
                    identity
                } else {
                    anonymous
                };
                signer
                    .sign(parts, body, None, now)
                    .map(|out| Some(Signature::HttpSig(out)))
                    .map_err(|e| SignError::Sign(e.to_string()))
            }
            #[cfg(feature = "sigv4")]
            Self::SigV4 {
                credentials,
                region,
                service,
                keys,
            } => {
                let mut params = SigningParams::new(region, service, now);
                params.key_cache = Some(keys);
                sigv4::sign(parts, Payload::Bytes(body), credentials, &params)
                    .map(|out| Some(Signature::SigV4(out)))
                    .map_err(|e| SignError::Sign(e.to_string()))
            }
        }
    }
}
