//! [`Proxy`]: the upstream half of a gateway, as a tower 0.5 service
//! (features `hyper-client`, `hyper-server` and `tower`). Put
//! [`GateLayer`](super::tower::GateLayer) around it and serve it with
//! [`Server`](super::server::Server):
//!
//! ```no_run
//! # async fn run(driver: edge_auth::driver::keys::KeyDriver) -> Result<(), Box<dyn std::error::Error>> {
//! use edge_auth::driver::proxy::{Proxy, ProxyConfig};
//! use edge_auth::driver::server::{Server, ServerConfig};
//! use edge_auth::driver::tower::{GateLayer, ProblemJsonLayer};
//! use tower::Layer;
//!
//! let proxy = Proxy::new("http://127.0.0.1:9000", ProxyConfig::default())?;
//! let service = ProblemJsonLayer.layer(proxy.client_layer().layer(GateLayer::new(driver).layer(proxy)));
//! let server = Server::bind("127.0.0.1:8080".parse()?, ServerConfig::default()).await?;
//! server.serve(hyper_util::service::TowerToHyperService::new(service)).await;
//! # Ok(()) }
//! ```
//!
//! For every request the proxy:
//! 1. takes the client from the [`ClientLayer`] (the peer, or a trusted
//!    front proxy's header: [`ForwardConfig::trusted_proxy`]) and the
//!    [`Principal`] the Gate put in the request's extensions;
//! 2. strips every header the gateway owns, look-alikes and hop-by-hop
//!    fields included, and sets the identity headers
//!    ([`Forwarder::forward`]; the bearer token stays at the gateway);
//! 3. points `Host` and the target at the upstream, buffers the body (at
//!    most [`ProxyConfig::max_body_bytes`]: 413; a slow body 408) and signs
//!    the request when an [`UpstreamSigner`] is set;
//! 4. sends it with a hyper-util client (HTTP/1.1, plain `http://`: the
//!    upstream is on loopback or a private network), strips hop-by-hop
//!    fields from the response and streams it back.
//!
//! Upstream failures are `application/problem+json` responses: 502 when the
//! upstream cannot be reached, 504 when its response head takes longer than
//! [`ProxyConfig::upstream_timeout`].

use std::convert::Infallible;
use std::fmt;
use std::future::Future;
use std::net::{IpAddr, Ipv4Addr};
use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll};
use std::time::Duration;

use bytes::Bytes;
use http::header::{self, HeaderName, HeaderValue};
use http::{Request, Response, StatusCode, Uri};
use http_body_util::combinators::BoxBody;
use http_body_util::{BodyExt, Empty, Full, Limited};
use hyper::body::{Body, Frame, SizeHint};
use hyper_util::client::legacy::Client;
use hyper_util::client::legacy::connect::HttpConnector;
use hyper_util::rt::TokioExecutor;
use tower::{Layer, Service};

use super::edge::EdgeMinter;
use super::keys::{Clock, SystemClock};
use super::oauth::TokenDriver;
use super::server::{PeerAddr, body_error_status};
use super::sign::{SignError, Signing, UpstreamSigner};
use super::tower::ClientIp;
use crate::Principal;
use crate::forward::{ClientInfo, ForwardConfig, ForwardError, Forwarder};

type BoxError = Box<dyn std::error::Error + Send + Sync>;

/// The body of the proxy's responses: the upstream's, streamed, or one the
/// proxy made (a problem document).
pub struct ProxyBody(BoxBody<Bytes, hyper::Error>);

impl fmt::Debug for ProxyBody {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("ProxyBody").finish_non_exhaustive()
    }
}

impl Default for ProxyBody {
    fn default() -> Self {
        Self(
            Empty::new()
                .map_err(|never: Infallible| match never {})
                .boxed(),
        )
    }
}

impl From<Bytes> for ProxyBody {
    fn from(bytes: Bytes) -> Self {
        Self(
            Full::new(bytes)
                .map_err(|never: Infallible| match never {})
                .boxed(),
        )
    }
}

impl From<Vec<u8>> for ProxyBody {
    fn from(bytes: Vec<u8>) -> Self {
        Self::from(Bytes::from(bytes))
    }
}

impl From<String> for ProxyBody {
    fn from(text: String) -> Self {
        Self::from(Bytes::from(text))
    }
}

impl Body for ProxyBody {
    type Data = Bytes;
    type Error = hyper::Error;

    fn poll_frame(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
    ) -> Poll<Option<Result<Frame<Bytes>, hyper::Error>>> {
        Pin::new(&mut self.0).poll_frame(cx)
    }

    fn is_end_stream(&self) -> bool {
        self.0.is_end_stream()
    }

    fn size_hint(&self) -> SizeHint {
        self.0.size_hint()
    }
}

/// Why a [`Proxy`] could not be built.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum ProxyError {
    /// The upstream is not an `http://host[:port]` URL.
    #[error("upstream `{0}` must be an http://host[:port] URL")]
    InvalidUpstream(String),
    /// The forwarding configuration does not compile.
    #[error("forwarding: {0}")]
    Forward(#[from] ForwardError),
    /// The upstream signer could not be built.
    #[error(transparent)]
    Signer(#[from] SignError),
}

/// The proxy's settings. `Default`: the secure [`ForwardConfig`], no
/// signature, wall clock, 30 s upstream timeout, 1 MiB bodies.
#[derive(Clone)]
#[non_exhaustive]
pub struct ProxyConfig {
    /// Header hygiene and identity headers; its `signature` is set from
    /// [`signer`](Self::signer).
    pub forward: ForwardConfig,
    /// Signs each upstream request (RFC 9421 or SigV4). Default: none.
    pub signer: Option<UpstreamSigner>,
    /// The time a signature carries (tests move it).
    pub clock: Arc<dyn Clock>,
    /// How long the upstream may take to send its response head: 504 after.
    pub upstream_timeout: Duration,
    /// Largest request body forwarded (it is buffered to be signed): 413
    /// over it.
    pub max_body_bytes: usize,
    /// Sends the gateway's own access token to the upstream as
    /// `Authorization: Bearer` (the caller's is never forwarded). A token
    /// the upstream answers 401 to is dropped. Default: none. Not with a
    /// SigV4 signer, which owns `Authorization`.
    pub bearer: Option<TokenDriver>,
    /// Mints an edge assertion for each authenticated request, sent in
    /// [`ForwardConfig::assertion_header`] (default `x-edge-assertion`).
    /// Default: none.
    pub edge_assertions: Option<EdgeMinter>,
}

impl fmt::Debug for ProxyConfig {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("ProxyConfig")
            .field("forward", &self.forward)
            .field("signer", &self.signer)
            .field("upstream_timeout", &self.upstream_timeout)
            .field("max_body_bytes", &self.max_body_bytes)
            .field("bearer", &self.bearer.is_some())
            .field("edge_assertions", &self.edge_assertions)
            .finish_non_exhaustive()
    }
}

impl Default for ProxyConfig {
    fn default() -> Self {
        Self {
            forward: ForwardConfig::default(),
            signer: None,
            clock: Arc::new(SystemClock),
            upstream_timeout: Duration::from_secs(30),
            max_body_bytes: 1024 * 1024,
            bearer: None,
            edge_assertions: None,
        }
    }
}

impl ProxyConfig {
    /// Sets [`forward`](Self::forward).
    #[must_use]
    pub fn with_forward(mut self, forward: ForwardConfig) -> Self {
        self.forward = forward;
        self
    }

    /// Sets [`signer`](Self::signer).
    #[must_use]
    pub fn with_signer(mut self, signer: UpstreamSigner) -> Self {
        self.signer = Some(signer);
        self
    }

    /// Sets [`clock`](Self::clock).
    #[must_use]
    pub fn with_clock(mut self, clock: Arc<dyn Clock>) -> Self {
        self.clock = clock;
        self
    }

    /// Sets [`upstream_timeout`](Self::upstream_timeout).
    #[must_use]
    pub fn with_upstream_timeout(mut self, timeout: Duration) -> Self {
        self.upstream_timeout = timeout;
        self
    }

    /// Sets [`max_body_bytes`](Self::max_body_bytes).
    #[must_use]
    pub fn with_max_body_bytes(mut self, bytes: usize) -> Self {
        self.max_body_bytes = bytes;
        self
    }

    /// Sets [`bearer`](Self::bearer).
    #[must_use]
    pub fn with_bearer(mut self, driver: TokenDriver) -> Self {
        self.bearer = Some(driver);
        self
    }

    /// Sets [`edge_assertions`](Self::edge_assertions).
    #[must_use]
    pub fn with_edge_assertions(mut self, minter: EdgeMinter) -> Self {
        self.edge_assertions = Some(minter);
        self
    }
}

struct Inner {
    client: Client<HttpConnector, Full<Bytes>>,
    upstream: Uri,
    host: HeaderValue,
    forwarder: Arc<Forwarder>,
    signing: Signing,
    clock: Arc<dyn Clock>,
    upstream_timeout: Duration,
    max_body_bytes: usize,
    bearer: Option<TokenDriver>,
    edge: Option<(EdgeMinter, HeaderName)>,
}

/// Forwards requests to one upstream (see the module docs). Cheap to clone
/// (one `Arc`); never fails as a service: every failure is a response.
#[derive(Clone)]
pub struct Proxy {
    inner: Arc<Inner>,
}

impl fmt::Debug for Proxy {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Proxy")
            .field("upstream", &self.inner.upstream)
            .finish_non_exhaustive()
    }
}

impl Proxy {
    /// A proxy to `upstream` (`http://host[:port]`; a path is ignored: the
    /// request's own path and query are sent).
    ///
    /// # Errors
    /// [`ProxyError::InvalidUpstream`] for anything but an `http://` URL
    /// with a host, [`ProxyError::Forward`] when `config.forward` does not
    /// compile, [`ProxyError::Signer`] when the signer cannot be built.
    pub fn new(upstream: &str, config: ProxyConfig) -> Result<Self, ProxyError> {
        let invalid = || ProxyError::InvalidUpstream(crate::text::printable(upstream, 200));
        let uri: Uri = upstream.parse().map_err(|_| invalid())?;
        let authority = match (uri.scheme_str(), uri.authority()) {
            (Some("http"), Some(authority)) => authority.clone(),
            _ => return Err(invalid()),
        };
        let host = HeaderValue::from_str(authority.as_str()).map_err(|_| invalid())?;
        let upstream = Uri::builder()
            .scheme("http")
            .authority(authority)
            .path_and_query("/")
            .build()
            .map_err(|_| invalid())?;
        let assertion_header = config
            .forward
            .assertion_header
            .as_deref()
            .unwrap_or(crate::forward::DEFAULT_ASSERTION_HEADER);
        let assertion_header =
            HeaderName::from_bytes(assertion_header.to_ascii_lowercase().as_bytes()).map_err(
                |_| ForwardError::InvalidHeaderName(crate::text::printable(assertion_header, 64)),
            )?;
        let mut forward = config.forward;
        if let Some(signer) = &config.signer {
            forward.signature = signer.forward_signature();
        }
        let forwarder = Forwarder::new(forward)?;
        let identity: Vec<String> = forwarder
            .identity_names()
            .map(|name| name.as_str().to_owned())
            .collect();
        let signing = match &config.signer {
            Some(signer) => signer.compile(&identity)?,
            None => Signing::None,
        };
        Ok(Self {
            inner: Arc::new(Inner {
                client: Client::builder(TokioExecutor::new()).build_http(),
                upstream,
                host,
                forwarder: Arc::new(forwarder),
                signing,
                clock: config.clock,
                upstream_timeout: config.upstream_timeout,
                max_body_bytes: config.max_body_bytes,
                bearer: config.bearer,
                edge: config
                    .edge_assertions
                    .map(|minter| (minter, assertion_header)),
            }),
        })
    }

    /// The layer that resolves the client before the Gate runs (so the
    /// policy's address and country rules see it), with this proxy's
    /// trusted-proxy settings.
    pub fn client_layer(&self) -> ClientLayer {
        ClientLayer {
            forwarder: Arc::clone(&self.inner.forwarder),
        }
    }

    /// The compiled forwarding settings.
    pub fn forwarder(&self) -> &Forwarder {
        &self.inner.forwarder
    }
}

/// A response the proxy made: an RFC 9457 problem document.
pub fn problem(status: StatusCode, detail: &str) -> Response<ProxyBody> {
    let body = serde_json::json!({
        "type": "about:blank",
        "title": status.canonical_reason().unwrap_or("Error"),
        "status": status.as_u16(),
        "detail": detail,
    });
    let mut response = Response::new(ProxyBody::from(body.to_string().into_bytes()));
    *response.status_mut() = status;
    let headers = response.headers_mut();
    headers.insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("application/problem+json"),
    );
    headers.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    response
}

impl<B> Service<Request<B>> for Proxy
where
    B: Body<Data = Bytes> + Send + 'static,
    B::Error: Into<BoxError>,
{
    type Response = Response<ProxyBody>;
    type Error = Infallible;
    type Future = Pin<Box<dyn Future<Output = Result<Response<ProxyBody>, Infallible>> + Send>>;

    fn poll_ready(&mut self, _cx: &mut Context<'_>) -> Poll<Result<(), Infallible>> {
        Poll::Ready(Ok(()))
    }

    fn call(&mut self, request: Request<B>) -> Self::Future {
        let inner = Arc::clone(&self.inner);
        Box::pin(async move { Ok(inner.forward(request).await) })
    }
}

impl Inner {
    async fn forward<B>(&self, request: Request<B>) -> Response<ProxyBody>
    where
        B: Body<Data = Bytes> + Send + 'static,
        B::Error: Into<BoxError>,
    {
        let (mut parts, body) = request.into_parts();
        let principal = parts.extensions.remove::<Arc<Principal>>();
        let client = match parts.extensions.remove::<ClientInfo>() {
            Some(client) => client,
            None => self
                .forwarder
                .resolve_client(&parts.headers, peer_ip(&parts.extensions)),
        };
        // Every header the gateway owns goes (identity, forwarding,
        // override, signature, Authorization), then its own are set.
        if let Err(e) = self
            .forwarder
            .forward(&mut parts, &client, principal.as_deref())
        {
            return problem(e.status(), &e.to_string());
        }
        // The gateway's own credentials for the upstream, after the strip.
        if let (Some((minter, name)), Some(principal)) = (&self.edge, principal.as_ref()) {
            match minter.mint(principal, self.clock.now()) {
                Ok(assertion) => match HeaderValue::from_str(assertion.expose()) {
                    Ok(mut value) => {
                        value.set_sensitive(true);
                        parts.headers.insert(name.clone(), value);
                    }
                    Err(_) => {
                        return problem(StatusCode::INTERNAL_SERVER_ERROR, "edge assertion failed");
                    }
                },
                Err(e) => {
                    #[cfg(feature = "tracing")]
                    tracing::error!(error = %e, "edge assertion failed");
                    let _ = e;
                    return problem(StatusCode::INTERNAL_SERVER_ERROR, "edge assertion failed");
                }
            }
        }
        let bearer = match &self.bearer {
            Some(driver) => match driver.token().await {
                Ok(token) => match HeaderValue::from_str(&format!("Bearer {}", token.expose())) {
                    Ok(mut value) => {
                        value.set_sensitive(true);
                        parts.headers.insert(header::AUTHORIZATION, value);
                        Some((driver, token))
                    }
                    Err(_) => return problem(StatusCode::BAD_GATEWAY, "upstream token unusable"),
                },
                Err(e) => {
                    #[cfg(feature = "tracing")]
                    tracing::warn!(error = %e, "no token for the upstream");
                    let _ = e;
                    return problem(StatusCode::BAD_GATEWAY, "no token for the upstream");
                }
            },
            None => None,
        };
        // The Host the upstream will see, set here so that it is what gets signed.
        parts.headers.insert(header::HOST, self.host.clone());
        let mut uri = self.upstream.clone().into_parts();
        uri.path_and_query = parts.uri.path_and_query().cloned();
        parts.uri = match Uri::from_parts(uri) {
            Ok(uri) => uri,
            Err(_) => return problem(StatusCode::BAD_REQUEST, "bad request target"),
        };
        let body = match Limited::new(body, self.max_body_bytes).collect().await {
            Ok(collected) => collected.to_bytes(),
            Err(e) => return body_error(&*e),
        };
        let signature = match self.signing.sign(&parts, &body, self.clock.now()) {
            Ok(signature) => signature,
            Err(e) => return signing_failed(&e),
        };
        let mut request = Request::from_parts(parts, Full::new(body));
        if let Some(signature) = signature
            && let Err(e) = signature.apply_to(&mut request)
        {
            return signing_failed(&e);
        }
        let sent = tokio::time::timeout(self.upstream_timeout, self.client.request(request));
        let response = match sent.await {
            Ok(Ok(response)) => response,
            Ok(Err(e)) => {
                #[cfg(feature = "tracing")]
                tracing::warn!(error = %e, "upstream unreachable");
                let _ = e;
                return problem(StatusCode::BAD_GATEWAY, "upstream unreachable");
            }
            Err(_) => return problem(StatusCode::GATEWAY_TIMEOUT, "upstream timed out"),
        };
        if response.status() == StatusCode::UNAUTHORIZED
            && let Some((driver, token)) = &bearer
        {
            driver.invalidate(token);
        }
        let (mut head, body) = response.into_parts();
        crate::forward::strip_hop_by_hop(&mut head.headers);
        Response::from_parts(head, ProxyBody(body.boxed()))
    }
}

fn peer_ip(extensions: &http::Extensions) -> IpAddr {
    extensions
        .get::<PeerAddr>()
        .map_or(IpAddr::V4(Ipv4Addr::UNSPECIFIED), |peer| peer.0.ip())
}

/// 413 over the limit, 408 for a slow body, 400 for a malformed one; the
/// connection is closed (the rest of the body is not read).
fn body_error(error: &(dyn std::error::Error + 'static)) -> Response<ProxyBody> {
    let status = body_error_status(error);
    let detail = match status {
        StatusCode::PAYLOAD_TOO_LARGE => "request body too large",
        StatusCode::REQUEST_TIMEOUT => "request body too slow",
        _ => "malformed request body",
    };
    let mut response = problem(status, detail);
    response
        .headers_mut()
        .insert(header::CONNECTION, HeaderValue::from_static("close"));
    response
}

fn signing_failed(error: &SignError) -> Response<ProxyBody> {
    #[cfg(feature = "tracing")]
    tracing::error!(error = %error, "upstream signing failed");
    let _ = error;
    problem(StatusCode::INTERNAL_SERVER_ERROR, "upstream signing failed")
}

/// Resolves the client (the peer, or a trusted front proxy's header) and
/// puts it in the request's extensions as a [`ClientInfo`] and a
/// [`ClientIp`], for the Gate's policy and the [`Proxy`]. Made by
/// [`Proxy::client_layer`].
#[derive(Debug, Clone)]
pub struct ClientLayer {
    forwarder: Arc<Forwarder>,
}

impl<S> Layer<S> for ClientLayer {
    type Service = ClientService<S>;

    fn layer(&self, inner: S) -> ClientService<S> {
        ClientService {
            inner,
            forwarder: Arc::clone(&self.forwarder),
        }
    }
}

/// The service [`ClientLayer`] builds.
#[derive(Debug, Clone)]
pub struct ClientService<S> {
    inner: S,
    forwarder: Arc<Forwarder>,
}

impl<S, B> Service<Request<B>> for ClientService<S>
where
    S: Service<Request<B>>,
{
    type Response = S::Response;
    type Error = S::Error;
    type Future = S::Future;

    fn poll_ready(&mut self, cx: &mut Context<'_>) -> Poll<Result<(), S::Error>> {
        self.inner.poll_ready(cx)
    }

    fn call(&mut self, mut request: Request<B>) -> S::Future {
        let peer = peer_ip(request.extensions());
        let client = self.forwarder.resolve_client(request.headers(), peer);
        let extensions = request.extensions_mut();
        extensions.insert(ClientIp(client.ip));
        extensions.insert(client);
        self.inner.call(request)
    }
}
