//! Proving to the upstream that a request came through the gateway, with the
//! library's signers: RFC 9421 HTTP Message Signatures
//! (`edge_auth::httpsig::Signer`, `hmac-sha256`) or AWS SigV4
//! (`edge_auth::sigv4::sign`). Both cover the identity headers, so they cannot
//! be swapped between the gateway and the upstream.

use edge_auth::httpsig::{self, Component, Signer, SignerConfig, SigningKey};
use edge_auth::sigv4::{self, Credentials, Payload, SigningKeyCache, SigningParams};
use http::Request;
use http::request::Parts;
use time::OffsetDateTime;

use super::proxy::SignUpstream;

/// RFC 9421 components covered on every request: the request line (method,
/// authority, path, query) and the body through Content-Digest (RFC 9530).
pub const SIGNED_COMPONENTS: [&str; 5] =
    ["@method", "@authority", "@path", "@query", "content-digest"];

/// Signers built once from [`SignUpstream`] (key derivation, component
/// lists), used for every request.
pub(super) enum Signing {
    None,
    HttpSig {
        /// Covers [`SIGNED_COMPONENTS`] and the identity headers.
        identity: Box<Signer>,
        /// The identity headers (`edge_auth::forward::Forwarder::identity_names`).
        identity_names: Vec<String>,
        /// Covers [`SIGNED_COMPONENTS`]: anonymous routes have no identity
        /// headers to cover (a covered component must be present).
        anonymous: Box<Signer>,
    },
    SigV4 {
        credentials: Credentials,
        region: String,
        service: String,
        /// Derived signing keys, one per day and scope.
        keys: SigningKeyCache,
    },
}

/// A computed signature, applied once the request is assembled.
pub(super) enum Signature {
    HttpSig(httpsig::SigningOutput),
    SigV4(sigv4::SigningOutput),
}

impl Signature {
    pub(super) fn apply_to<B>(&self, request: &mut Request<B>) -> Result<(), String> {
        match self {
            Self::HttpSig(out) => {
                out.apply_to(request);
                Ok(())
            }
            Self::SigV4(out) => out.apply_to(request).map_err(|e| e.to_string()),
        }
    }
}

fn components(names: &[&str]) -> Result<Vec<Component>, String> {
    names
        .iter()
        .map(|name| Component::try_from_name(name).map_err(|e| e.to_string()))
        .collect()
}

fn http_signer(
    key_id: &str,
    secret: &edge_auth::Secret<Vec<u8>>,
    names: &[&str],
) -> Result<Signer, String> {
    let key = SigningKey::try_from_hmac_sha256(key_id, secret).map_err(|e| e.to_string())?;
    let mut config = SignerConfig::default();
    config.components = components(names)?;
    // `alg` is optional (RFC 9421 §3.2), but upstreams on other RFC 9421
    // stacks often key their algorithm choice on it; the library's verifier
    // checks it against the key either way.
    config.include_alg = true;
    // The upstream is reached over plain http (loopback or a private network).
    config.assumed_scheme = "http".to_owned();
    Signer::new(key, config).map_err(|e| e.to_string())
}

impl Signing {
    /// `identity`: the identity headers the forwarder sets, covered on
    /// authenticated requests.
    pub(super) fn new(how: &SignUpstream, identity: &[String]) -> Result<Self, String> {
        Ok(match how {
            SignUpstream::None => Self::None,
            SignUpstream::HttpSigHmac { key_id, secret } => {
                let with_identity: Vec<&str> = SIGNED_COMPONENTS
                    .iter()
                    .copied()
                    .chain(identity.iter().map(String::as_str))
                    .collect();
                Self::HttpSig {
                    identity: Box::new(http_signer(key_id, secret, &with_identity)?),
                    identity_names: identity.to_vec(),
                    anonymous: Box::new(http_signer(key_id, secret, &SIGNED_COMPONENTS)?),
                }
            }
            SignUpstream::SigV4 {
                access_key_id,
                secret_access_key,
                session_token,
                region,
                service,
            } => Self::SigV4 {
                credentials: {
                    let credentials =
                        Credentials::new(access_key_id.clone(), secret_access_key.expose().clone());
                    match session_token {
                        Some(token) => credentials.with_session_token(token.expose().clone()),
                        None => credentials,
                    }
                },
                region: region.clone(),
                service: service.clone(),
                keys: SigningKeyCache::default(),
            },
        })
    }

    /// Signs the request about to be sent (`parts` with its final headers,
    /// `body` the bytes that will be sent). `None`: no signing configured.
    pub(super) fn sign(
        &self,
        parts: &Parts,
        body: &[u8],
        now: OffsetDateTime,
    ) -> Result<Option<Signature>, String> {
        match self {
            Self::None => Ok(None),
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
                    .map_err(|e| e.to_string())
            }
            Self::SigV4 {
                credentials,
                region,
                service,
                keys,
            } => {
                // SigV4 signs every header the request carries (bar the
                // SDKs' excluded set), the identity headers included.
                let mut params = SigningParams::new(region, service, now);
                params.key_cache = Some(keys);
                sigv4::sign(parts, Payload::Bytes(body), credentials, &params)
                    .map(|out| Some(Signature::SigV4(out)))
                    .map_err(|e| e.to_string())
            }
        }
    }
}
