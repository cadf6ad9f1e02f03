//! The gateway: every request goes through the Gate (extract -> keys ->
//! validate -> roles -> policy); allowed ones are forwarded to the upstream with
//! identity headers and, optionally, a signature. The Gate's key fetches are
//! the library's `KeyDriver` (single flight, timeouts, refresh-ahead task) on
//! its `HyperClient`.
//!
//! The wire hygiene is the library's: `edge_auth::driver::server` serves the
//! clients (timeouts, connection limit, RFC 9112 request-line checks) and
//! `edge_auth::forward` strips every header the gateway owns, look-alikes
//! included, before it sets its own (see that module's table).

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use bytes::Bytes;
use edge_auth::driver::client::HyperClient;
use edge_auth::driver::keys::{DriverOptions, KeyDriver, RefreshTask, SystemClock, Verdict};
use edge_auth::driver::server::{RequestBody, ServerConfig, body_error_status};
use edge_auth::driver::stats::Stats;
use edge_auth::forward::{ClientInfo, ForwardConfig, Forwarder, UpstreamSignature};
use edge_auth::gate::{Gate, GateConfig, IssuerConfig};
use edge_auth::oidc::{ClaimSource, RoleMapper};
use edge_auth::policy::{Policy, RequestFacts};
use edge_auth::{Principal, Secret};
use http::header::{self, HeaderMap, HeaderValue};
use http::{Request, Response, StatusCode, Uri};
use http_body_util::{BodyExt, Full, Limited};
use hyper_util::client::legacy::Client;
use hyper_util::client::legacy::connect::HttpConnector;
use hyper_util::rt::TokioExecutor;

use super::net::{Body, ServerHandle, full, serve_front_door, text_response};
use super::sign::Signing;

/// The upstream client: plain HTTP (loopback or a private network).
type UpstreamClient = Client<HttpConnector, Full<Bytes>>;

/// The gateway's clock (any `Fn() -> OffsetDateTime` is one): the library
/// never reads one; the test swaps in one it can move forward.
pub type Clock = Arc<dyn edge_auth::driver::keys::Clock>;

/// One trusted token issuer.
#[derive(Debug, Clone)]
pub struct IssuerSettings {
    /// The issuer identifier, exactly as in `iss` (Entra ID:
    /// `https://login.microsoftonline.com/{tenant}/v2.0`).
    pub issuer: String,
    /// The audience tokens must carry (`aud`).
    pub audience: String,
    /// The JWKS URL; `None` = OIDC discovery at `{issuer}/.well-known/openid-configuration`.
    pub jwks_uri: Option<String>,
    /// How claims become roles ([`role_mapper`] builds one from a flag).
    pub roles: RoleMapper,
}

/// A role mapper from the `--roles` flag: a provider preset (`entra-id:CLIENT_ID`,
/// `okta`, `keycloak:CLIENT_ID`, `auth0:NAMESPACE`, `cognito`, `google`) or the
/// claim holding roles, by name (`roles`) or JSON Pointer (`/realm_access/roles`).
///
/// # Errors
/// When the claim path is not valid (empty, or a bad `~` escape).
pub fn role_mapper(spec: &str) -> Result<RoleMapper, String> {
    let (preset, arg) = spec.split_once(':').unwrap_or((spec, ""));
    Ok(match (preset, arg) {
        ("entra-id", client) if !client.is_empty() => RoleMapper::entra_id(client),
        ("keycloak", client) if !client.is_empty() => RoleMapper::keycloak(client),
        ("auth0", namespace) => RoleMapper::auth0(namespace),
        ("okta", "") => RoleMapper::okta(),
        ("cognito", "") => RoleMapper::cognito(),
        ("google", "") => RoleMapper::google(),
        _ => RoleMapper::new()
            .with_source(ClaimSource::roles(spec).map_err(|e| format!("roles `{spec}`: {e}"))?),
    })
}

/// How the gateway proves to the upstream that a request came through it.
#[derive(Debug, Clone)]
#[non_exhaustive]
pub enum SignUpstream {
    /// No signature.
    None,
    /// RFC 9421 HTTP Message Signature, `hmac-sha256` with a shared secret.
    HttpSigHmac {
        /// The `keyid` parameter.
        key_id: String,
        /// The shared secret.
        secret: Secret<Vec<u8>>,
    },
    /// AWS SigV4 (for an upstream behind API Gateway / Lambda URLs).
    SigV4 {
        /// Access key id.
        access_key_id: String,
        /// Secret access key.
        secret_access_key: Secret<String>,
        /// Session token of temporary (STS) credentials.
        session_token: Option<Secret<String>>,
        /// Region, e.g. `eu-west-1`.
        region: String,
        /// Service, e.g. `execute-api`.
        service: String,
    },
}

/// Everything the gateway needs.
#[derive(Clone)]
pub struct GatewayConfig {
    /// Where to listen (loopback).
    pub listen: SocketAddr,
    /// The upstream's base URL, `http://host:port`.
    pub upstream: String,
    /// Trusted issuers.
    pub issuers: Vec<IssuerSettings>,
    /// The route policy (TOML text).
    pub policy_toml: String,
    /// The `realm` in challenges.
    pub realm: String,
    /// `false` skips the Gate entirely (plain proxy), for load comparisons only.
    pub gate_enabled: bool,
    /// Upstream request signing.
    pub sign_upstream: SignUpstream,
    /// The clock.
    pub clock: Clock,
    /// How often to ask the Gate for refresh-ahead work.
    pub poll_interval: Duration,
    /// Timeout for one discovery / JWKS fetch.
    pub fetch_timeout: Duration,
    /// Timeout for the upstream's response head.
    pub upstream_timeout: Duration,
    /// Largest request body forwarded (it is buffered to be signed).
    pub max_body: usize,
    /// The client-facing limits (timeouts, connection cap).
    pub server: ServerConfig,
    /// Header hygiene and identity headers; `signature` is set from
    /// `sign_upstream`.
    pub forward: ForwardConfig,
}

impl std::fmt::Debug for GatewayConfig {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("GatewayConfig")
            .field("listen", &self.listen)
            .field("upstream", &self.upstream)
            .field("issuers", &self.issuers)
            .field("gate_enabled", &self.gate_enabled)
            .field("sign_upstream", &self.sign_upstream)
            .finish_non_exhaustive()
    }
}

impl GatewayConfig {
    /// Defaults: realm `edge-auth`, Gate on, no signing, wall clock, 1 s poll,
    /// 5 s fetch timeout, 30 s upstream timeout, 1 MiB bodies.
    pub fn new(
        listen: SocketAddr,
        upstream: impl Into<String>,
        policy_toml: impl Into<String>,
    ) -> Self {
        Self {
            listen,
            upstream: upstream.into(),
            issuers: Vec::new(),
            policy_toml: policy_toml.into(),
            realm: "edge-auth".into(),
            gate_enabled: true,
            sign_upstream: SignUpstream::None,
            clock: Arc::new(SystemClock),
            poll_interval: Duration::from_secs(1),
            fetch_timeout: Duration::from_secs(5),
            upstream_timeout: Duration::from_secs(30),
            max_body: 1024 * 1024,
            server: ServerConfig::default(),
            forward: ForwardConfig::default(),
        }
    }
}

/// A running gateway; dropping it stops it.
#[derive(Debug)]
pub struct GatewayHandle {
    server: ServerHandle,
    _refresh: RefreshTask,
    keys: KeyDriver,
}

impl GatewayHandle {
    /// The bound address.
    pub fn addr(&self) -> SocketAddr {
        self.server.addr()
    }

    /// The key driver's counters.
    pub fn stats(&self) -> Stats {
        self.keys.stats()
    }

    /// Key-document fetches sent so far (on request and refresh-ahead).
    pub fn fetches(&self) -> u64 {
        let stats = self.stats();
        stats.request_fetch_started + stats.refresh_fetch_started
    }
}

struct Shared {
    keys: KeyDriver,
    client: UpstreamClient,
    upstream: Uri,
    gate_enabled: bool,
    signing: Signing,
    forwarder: Forwarder,
    upstream_timeout: Duration,
    max_body: usize,
}

/// Builds the Gate from the gateway's settings: the policy document (TOML,
/// the library's `Policy` model) compiled once, one `IssuerConfig` per
/// trusted issuer.
///
/// # Errors
/// When the policy does not parse or compile, or the Gate refuses the config.
pub fn build_gate(
    config: &GatewayConfig,
) -> Result<Gate, Box<dyn std::error::Error + Send + Sync>> {
    let policy: Policy = toml::from_str(&config.policy_toml)?;
    let issuers = config.issuers.iter().map(|settings| {
        let issuer = IssuerConfig::new(settings.issuer.clone(), [settings.audience.clone()])
            .with_roles(settings.roles.clone());
        match &settings.jwks_uri {
            Some(uri) => issuer.with_jwks_uri(uri.clone()),
            None => issuer,
        }
    });
    let mut gate_config = GateConfig::new(issuers)
        .with_policy(policy.compile()?)
        .with_realm(config.realm.clone());
    // Plain-HTTP discovery and JWKS only when an issuer is configured that
    // way (the development issuer), and then only on loopback: the library
    // refuses any other http:// endpoint.
    let plain_http = plain_http(config);
    gate_config.discovery.allow_http_loopback = plain_http;
    gate_config.cache.allow_http_loopback = plain_http;
    Ok(Gate::new(gate_config)?)
}

/// Whether an issuer is configured over plain HTTP (the development issuer).
fn plain_http(config: &GatewayConfig) -> bool {
    config.issuers.iter().any(|i| {
        i.issuer.starts_with("http://")
            || i.jwks_uri
                .as_deref()
                .is_some_and(|u| u.starts_with("http://"))
    })
}

/// Starts the gateway.
///
/// # Errors
/// When the Gate cannot be built, the upstream URL is not `http://host[:port]`
/// or the listener cannot be bound.
pub async fn start_gateway(
    config: GatewayConfig,
) -> Result<GatewayHandle, Box<dyn std::error::Error + Send + Sync>> {
    let gate = build_gate(&config)?;
    let upstream: Uri = config.upstream.parse()?;
    if upstream.scheme_str() != Some("http") || upstream.authority().is_none() {
        return Err(format!(
            "upstream `{}` must be an http://host:port URL",
            config.upstream
        )
        .into());
    }
    let mut forward = config.forward.clone();
    forward.signature = match config.sign_upstream {
        SignUpstream::None => UpstreamSignature::None,
        SignUpstream::HttpSigHmac { .. } => UpstreamSignature::HttpSig,
        SignUpstream::SigV4 { .. } => UpstreamSignature::SigV4,
    };
    let forwarder = Forwarder::new(forward)?;
    let identity: Vec<String> = forwarder
        .identity_names()
        .map(|name| name.as_str().to_owned())
        .collect();
    let signing = Signing::new(&config.sign_upstream, &identity)?;
    let client: UpstreamClient = Client::builder(TokioExecutor::new()).build_http();
    let key_client = HyperClient::new()?;
    // Plain HTTP only for the loopback dev issuer (the Gate allows it then).
    let key_client = if plain_http(&config) {
        key_client.with_plain_http_loopback()
    } else {
        key_client
    };
    let options = DriverOptions::default()
        .with_fetch_timeout(config.fetch_timeout)
        .with_refresh_interval(config.poll_interval);
    let keys = KeyDriver::from_parts(
        Arc::new(gate),
        Arc::new(key_client),
        Arc::clone(&config.clock),
        options,
    );
    let refresh = keys.spawn_refresh()?;
    let shared = Arc::new(Shared {
        keys: keys.clone(),
        client,
        upstream,
        gate_enabled: config.gate_enabled,
        signing,
        forwarder,
        upstream_timeout: config.upstream_timeout,
        max_body: config.max_body,
    });
    let handler_shared = Arc::clone(&shared);
    let server = serve_front_door(
        config.listen,
        config.server.clone(),
        move |request, peer| {
            let shared = Arc::clone(&handler_shared);
            async move { handle(shared, request, peer).await }
        },
    )
    .await?;
    Ok(GatewayHandle {
        server,
        _refresh: refresh,
        keys,
    })
}

async fn handle(
    shared: Arc<Shared>,
    request: Request<RequestBody>,
    peer: SocketAddr,
) -> Response<Body> {
    // The server already ran the request-line checks: one Host, the
    // absolute-form target's authority in it, no unknown transfer coding.
    let (parts, body) = request.into_parts();
    // The client address: the peer, or a trusted front proxy's header.
    let client = shared.forwarder.resolve_client(&parts.headers, peer.ip());
    let (principal, cors) = if shared.gate_enabled {
        match authorize(&shared, &parts, &client).await {
            // The route's CORS headers (policy `cors` settings), computed
            // before the request moves upstream, added to its response.
            Ok(principal) => (
                principal,
                shared
                    .keys
                    .gate()
                    .cors_headers(&parts, &RequestFacts::from_parts(&parts)),
            ),
            Err(response) => return response,
        }
    } else {
        (None, HeaderMap::new())
    };
    let mut response = forward(&shared, parts, body, principal.as_deref(), &client).await;
    edge_auth::cors::apply_to(&cors, response.headers_mut());
    response
}

/// Runs the Gate through the key driver.
async fn authorize(
    shared: &Arc<Shared>,
    parts: &http::request::Parts,
    client: &ClientInfo,
) -> Result<Option<Box<Principal>>, Response<Body>> {
    let mut facts = RequestFacts::from_parts(parts).with_client_ip(client.ip);
    if let Some(country) = &client.country {
        facts = facts.with_country(country);
    }
    match shared.keys.check(parts, &facts).await {
        Verdict::Allow { principal, .. } => Ok(principal),
        // 401 / 403 with the challenge, or 503 when the keys cannot be had;
        // with the route's CORS headers when the policy has `cors` settings.
        Verdict::Deny(rejection) => {
            let (head, ()) = rejection.to_response().into_parts();
            Err(Response::from_parts(head, full(Bytes::new())))
        }
        // An allowed CORS preflight: answered here, never forwarded.
        Verdict::Preflight(response) => {
            let (head, ()) = response.into_parts();
            Err(Response::from_parts(head, full(Bytes::new())))
        }
    }
}

async fn forward(
    shared: &Shared,
    mut parts: http::request::Parts,
    body: RequestBody,
    principal: Option<&Principal>,
    client: &ClientInfo,
) -> Response<Body> {
    // Every header the gateway owns goes (identity, forwarding, override,
    // signature, Authorization: the bearer token stays here, so a
    // compromised upstream cannot replay it; look-alikes such as
    // `X_Auth_Roles` too), then the gateway's own are set: x-auth-*,
    // x-forwarded-for / -host.
    if let Err(e) = shared.forwarder.forward(&mut parts, client, principal) {
        eprintln!("forwarding refused: {e}");
        let (head, text) = e.to_response().into_parts();
        return Response::from_parts(head, full(text));
    }
    // The Host the upstream will see, set here so that it is what gets signed.
    parts.headers.remove(header::HOST);
    if let Some(authority) = shared.upstream.authority()
        && let Ok(host) = HeaderValue::from_str(authority.as_str())
    {
        parts.headers.insert(header::HOST, host);
    }
    let path_and_query = parts.uri.path_and_query().map_or("/", |p| p.as_str());
    let mut uri = shared.upstream.clone().into_parts();
    uri.path_and_query = path_and_query.parse().ok();
    parts.uri = match Uri::from_parts(uri) {
        Ok(uri) => uri,
        Err(_) => return text_response(StatusCode::BAD_REQUEST, "bad request target"),
    };
    let body = match Limited::new(body, shared.max_body).collect().await {
        Ok(collected) => collected.to_bytes(),
        // 413 over the limit, 408 for a slow body, 400 for a malformed one
        // (bad chunked framing).
        Err(e) => {
            let status = body_error_status(&*e);
            let text = match status {
                StatusCode::PAYLOAD_TOO_LARGE => "request body too large",
                StatusCode::REQUEST_TIMEOUT => "request body too slow",
                _ => "malformed request body",
            };
            let mut response = text_response(status, text);
            response
                .headers_mut()
                .insert(header::CONNECTION, HeaderValue::from_static("close"));
            return response;
        }
    };
    let signature = match shared.signing.sign(&parts, &body, shared.keys.now()) {
        Ok(signature) => signature,
        Err(e) => {
            eprintln!("upstream signing failed: {e}");
            return text_response(StatusCode::INTERNAL_SERVER_ERROR, "upstream signing failed");
        }
    };
    let mut request = Request::from_parts(parts, Full::new(body));
    if let Some(signature) = signature
        && let Err(e) = signature.apply_to(&mut request)
    {
        eprintln!("upstream signing failed: {e}");
        return text_response(StatusCode::INTERNAL_SERVER_ERROR, "upstream signing failed");
    }
    let response =
        match tokio::time::timeout(shared.upstream_timeout, shared.client.request(request)).await {
            Ok(Ok(response)) => response,
            Ok(Err(e)) => {
                eprintln!("upstream: {e}");
                return text_response(StatusCode::BAD_GATEWAY, "upstream unreachable");
            }
            Err(_) => return text_response(StatusCode::GATEWAY_TIMEOUT, "upstream timed out"),
        };
    let (mut head, body) = response.into_parts();
    edge_auth::forward::strip_hop_by_hop(&mut head.headers);
    Response::from_parts(head, body.boxed())
}
