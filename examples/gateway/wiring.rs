//! The gateway wiring: Gate + `KeyDriver` → `GateLayer` around the library's
//! `Proxy` → the library's hardened `Server`. Everything with a rule to
//! enforce is in the library (`edge_auth::driver::{proxy, tower, server, edge}`).

use std::sync::Arc;

use edge_auth::driver::client::HyperClient;
use edge_auth::driver::keys::{DriverOptions, KeyDriver, RefreshTask};
use edge_auth::driver::proxy::{Proxy, ProxyConfig};
use edge_auth::driver::server::Server;
use edge_auth::driver::tower::{GateLayer, ProblemJsonLayer};
use tower::{ServiceBuilder, ServiceExt};

use super::flags::{Failure, GatewayConfig};
use super::net::{ServerHandle, check_loopback};
use super::upstream_auth::UpstreamAuth;

/// A running gateway; dropping it stops it.
#[derive(Debug)]
pub struct GatewayHandle(ServerHandle, RefreshTask, KeyDriver, UpstreamAuth);

impl GatewayHandle {
    pub fn addr(&self) -> std::net::SocketAddr {
        self.0.addr()
    }

    /// Key-document fetches sent so far (on request and refresh-ahead).
    pub fn fetches(&self) -> u64 {
        let stats = self.2.stats();
        stats.request_fetch_started + stats.refresh_fetch_started
    }

    /// The gateway's own token and edge assertion minter, if configured.
    pub fn upstream_auth(&self) -> &UpstreamAuth {
        &self.3
    }
}

/// Starts the gateway on `config.listen` (loopback only).
pub async fn start_gateway(config: GatewayConfig) -> Result<GatewayHandle, Failure> {
    check_loopback(config.listen)?;
    let server = Server::bind(config.listen, config.server.clone()).await?;
    let addr = server.local_addr()?;
    let (token, edge) = (
        config.upstream_token.as_ref(),
        config.edge_assertion.as_ref(),
    );
    let upstream_auth = UpstreamAuth::start(token, edge, &format!("http://{addr}"), &config.clock)?;
    let proxy = upstream_auth
        .apply(ProxyConfig::default())
        .with_forward(config.forward.clone())
        .with_clock(Arc::clone(&config.clock))
        .with_upstream_timeout(config.upstream_timeout)
        .with_max_body_bytes(config.max_body);
    let proxy = match config.sign_upstream.signer() {
        Some(signer) => Proxy::new(&config.upstream, proxy.with_signer(signer))?,
        None => Proxy::new(&config.upstream, proxy)?,
    };
    let key_client = match config.plain_http() {
        true => HyperClient::new()?.with_plain_http_loopback(),
        false => HyperClient::new()?,
    };
    let options = DriverOptions::default()
        .with_fetch_timeout(config.fetch_timeout)
        .with_refresh_interval(config.poll_interval);
    let gate = Arc::new(config.build_gate()?);
    let keys = KeyDriver::from_parts(gate, Arc::new(key_client), config.clock, options);
    let refresh = keys.spawn_refresh()?;
    // Outside in: problem+json bodies for rejections, the client address
    // (peer or trusted proxy), the edge key documents (when minting), the
    // Gate (unless `--gate off`), the upstream.
    let service = ServiceBuilder::new()
        .layer(ProblemJsonLayer)
        .layer(proxy.client_layer())
        .option_layer(upstream_auth.documents())
        .option_layer(config.gate_enabled.then(|| GateLayer::new(keys.clone())))
        .service(proxy);
    let hyper_service = hyper::service::service_fn(move |request| service.clone().oneshot(request));
    let task = tokio::spawn(server.serve(hyper_service));
    Ok(GatewayHandle(
        ServerHandle::new(addr, task),
        refresh,
        keys,
        upstream_auth,
    ))
}
