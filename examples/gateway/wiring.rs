//! The gateway wiring: Gate + `KeyDriver` → `GateLayer` around the library's
//! `Proxy` → the library's hardened `Server`. Everything with a rule to
//! enforce is in the library (`edge_auth::driver::{proxy, tower, server}`).

use std::sync::Arc;

use edge_auth::driver::client::HyperClient;
use edge_auth::driver::keys::{DriverOptions, KeyDriver, RefreshTask};
use edge_auth::driver::proxy::{Proxy, ProxyConfig};
use edge_auth::driver::server::Server;
use edge_auth::driver::tower::{GateLayer, ProblemJsonLayer};
use edge_auth::gate::{Gate, GateConfig, IssuerConfig};
use edge_auth::policy::Policy;
use tower::{ServiceBuilder, ServiceExt};

use super::flags::{Failure, GatewayConfig};
use super::net::{ServerHandle, check_loopback};

/// The Gate: the policy (TOML) compiled once, one `IssuerConfig` per issuer.
pub fn build_gate(config: &GatewayConfig) -> Result<Gate, Failure> {
    let policy: Policy = toml::from_str(&config.policy_toml)?;
    let issuers = config.issuers.iter().map(|settings| {
        let issuer = IssuerConfig::new(settings.issuer.clone(), [settings.audience.clone()])
            .with_roles(settings.roles.clone());
        match &settings.jwks_uri {
            Some(uri) => issuer.with_jwks_uri(uri.clone()),
            None => issuer,
        }
    });
    let mut gate = GateConfig::new(issuers)
        .with_policy(policy.compile()?)
        .with_realm(config.realm.clone());
    // Plain-HTTP key URLs only for a loopback development issuer.
    gate.discovery.allow_http_loopback = config.plain_http();
    gate.cache.allow_http_loopback = config.plain_http();
    Ok(Gate::new(gate)?)
}

/// A running gateway; dropping it stops it.
#[derive(Debug)]
pub struct GatewayHandle(ServerHandle, RefreshTask, KeyDriver);

impl GatewayHandle {
    pub fn addr(&self) -> std::net::SocketAddr {
        self.0.addr()
    }

    /// Key-document fetches sent so far (on request and refresh-ahead).
    pub fn fetches(&self) -> u64 {
        let stats = self.2.stats();
        stats.request_fetch_started + stats.refresh_fetch_started
    }
}

/// Starts the gateway on `config.listen` (loopback only).
pub async fn start_gateway(config: GatewayConfig) -> Result<GatewayHandle, Failure> {
    check_loopback(config.listen)?;
    let mut proxy = ProxyConfig::default()
        .with_forward(config.forward.clone())
        .with_clock(Arc::clone(&config.clock))
        .with_upstream_timeout(config.upstream_timeout)
        .with_max_body_bytes(config.max_body);
    if let Some(signer) = config.sign_upstream.signer() {
        proxy = proxy.with_signer(signer);
    }
    let proxy = Proxy::new(&config.upstream, proxy)?;
    let key_client = match config.plain_http() {
        true => HyperClient::new()?.with_plain_http_loopback(),
        false => HyperClient::new()?,
    };
    let options = DriverOptions::default()
        .with_fetch_timeout(config.fetch_timeout)
        .with_refresh_interval(config.poll_interval);
    let gate = Arc::new(build_gate(&config)?);
    let keys = KeyDriver::from_parts(gate, Arc::new(key_client), config.clock, options);
    let refresh = keys.spawn_refresh()?;
    // Outside in: problem+json bodies for rejections, the client address
    // (peer or trusted proxy), the Gate (unless `--gate off`), the upstream.
    let service = ServiceBuilder::new()
        .layer(ProblemJsonLayer)
        .layer(proxy.client_layer())
        .option_layer(config.gate_enabled.then(|| GateLayer::new(keys.clone())))
        .service(proxy);
    let server = Server::bind(config.listen, config.server).await?;
    let addr = server.local_addr()?;
    let hyper_service = hyper::service::service_fn(move |request| service.clone().oneshot(request));
    let task = tokio::spawn(server.serve(hyper_service));
    Ok(GatewayHandle(ServerHandle::new(addr, task), refresh, keys))
}
