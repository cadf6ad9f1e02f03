//! How the gateway proves itself to its upstream, beyond the request
//! signature: its own access token (OAuth client credentials, with
//! `private_key_jwt` or a client secret) as `Authorization: Bearer`, and an
//! edge assertion per allowed request (`x-edge-assertion`) whose keys it
//! publishes and rotates. The rules live in the library
//! (`ProxyConfig::with_bearer` / `with_edge_assertions`, `EdgeMinter`,
//! `EdgeDocumentsLayer`); this file only builds them from the settings.

use std::sync::Arc;
use std::time::Duration;

use edge_auth::Secret;
use edge_auth::assertion::{ClientAssertion, EdgeAssertions};
use edge_auth::crypto::SigningKey;
use edge_auth::driver::edge::{EdgeDocumentsLayer, EdgeMinter, RotationTask};
use edge_auth::driver::keys::Clock;
use edge_auth::driver::oauth::{
    HyperTokenClient, TokenDriver, TokenDriverOptions, TokenRefreshTask,
};
use edge_auth::driver::proxy::ProxyConfig;
use edge_auth::jwt::Algorithm;
use edge_auth::oauth::{ClientAuth, ClientCredentials, TokenCache, TokenCacheConfig};

use super::flags::Failure;

/// How the gateway authenticates at the token endpoint.
#[derive(Clone)]
pub enum TokenAuth {
    /// `private_key_jwt` (RFC 7523) with this key.
    PrivateKeyJwt(SigningKey),
    /// `client_secret_basic` with this secret (from the environment only).
    ClientSecret(Secret<String>),
}

/// The gateway's own access token for the upstream.
#[derive(Clone)]
pub struct UpstreamToken {
    /// The token endpoint; empty = the development issuer's.
    pub token_endpoint: String,
    /// The gateway's client id.
    pub client_id: String,
    /// How it authenticates.
    pub auth: TokenAuth,
    /// The scope asked for (the development issuer makes it the `aud`).
    pub scope: Option<String>,
}

/// Edge assertions for the upstream.
#[derive(Debug, Clone)]
pub struct EdgeAssertionSettings {
    /// The upstream's identifier (`aud`).
    pub audience: String,
    /// How often the rotation step runs (real time).
    pub rotate_every: Duration,
    /// How long a next key is published before it signs.
    pub publish_lead: time::Duration,
}

/// A new ES256 key.
pub fn generate_key() -> Result<SigningKey, Failure> {
    Ok(SigningKey::generate(
        Algorithm::ES256,
        &ring::rand::SystemRandom::new(),
    )?)
}

/// What runs for the upstream's sake while the gateway runs.
#[derive(Debug, Default)]
pub struct UpstreamAuth {
    token: Option<(TokenDriver, TokenRefreshTask)>,
    edge: Option<(EdgeMinter, RotationTask)>,
}

impl UpstreamAuth {
    /// Starts the token driver and the edge key rotation, as configured;
    /// `gateway_url` is the edge assertions' issuer.
    pub fn start(
        token: Option<&UpstreamToken>,
        edge: Option<&EdgeAssertionSettings>,
        gateway_url: &str,
        clock: &Arc<dyn Clock>,
    ) -> Result<Self, Failure> {
        let mut started = Self::default();
        if let Some(settings) = token {
            let auth = match &settings.auth {
                TokenAuth::ClientSecret(secret) => ClientAuth::secret_basic(secret.clone()),
                TokenAuth::PrivateKeyJwt(key) => ClientAuth::assertion(ClientAssertion::new(
                    settings.client_id.clone(),
                    settings.token_endpoint.clone(),
                    key.clone(),
                )),
            };
            let mut client = ClientCredentials::with_http_loopback(
                &settings.token_endpoint,
                &settings.client_id,
                auth,
            )?;
            if let Some(scope) = &settings.scope {
                client = client.with_scope(scope.clone());
            }
            let cache = TokenCache::new(client, TokenCacheConfig::default());
            let http = HyperTokenClient::new()?.with_plain_http_loopback();
            let options = TokenDriverOptions::default();
            let driver = TokenDriver::from_parts(cache, Arc::new(http), Arc::clone(clock), options);
            let refresh = driver.spawn_refresh()?;
            started.token = Some((driver, refresh));
        }
        if let Some(settings) = edge {
            let edge = EdgeAssertions::new(gateway_url, generate_key()?)?
                .with_publish_lead(settings.publish_lead);
            let minter = EdgeMinter::new(edge, settings.audience.clone());
            let next = Box::new(|| {
                SigningKey::generate(Algorithm::ES256, &ring::rand::SystemRandom::new())
            });
            let rotation = minter.spawn_rotation(settings.rotate_every, Arc::clone(clock), next)?;
            started.edge = Some((minter, rotation));
        }
        Ok(started)
    }

    /// The proxy settings with the bearer and the edge assertions added.
    pub fn apply(&self, mut proxy: ProxyConfig) -> ProxyConfig {
        if let Some((driver, _)) = &self.token {
            proxy = proxy.with_bearer(driver.clone());
        }
        if let Some((minter, _)) = &self.edge {
            proxy = proxy.with_edge_assertions(minter.clone());
        }
        proxy
    }

    /// The layer serving the edge assertions' JWKS and discovery document.
    pub fn documents(&self) -> Option<EdgeDocumentsLayer> {
        self.edge
            .as_ref()
            .map(|(minter, _)| EdgeDocumentsLayer::new(minter.clone()))
    }

    /// The token driver, if the gateway has its own token.
    pub fn token_driver(&self) -> Option<&TokenDriver> {
        self.token.as_ref().map(|(driver, _)| driver)
    }

    /// The edge assertion minter, if there is one.
    pub fn minter(&self) -> Option<&EdgeMinter> {
        self.edge.as_ref().map(|(minter, _)| minter)
    }
}
