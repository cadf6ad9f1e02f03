//! `GateLayer` / `GateService`: the Gate as tower 0.5 middleware over
//! `http::Request<B>`, for axum 0.8, hyper 1 (through hyper-util's
//! `TowerToHyperService`) and tonic.
//!
//! On allow, the request's extensions get the [`Principal`] as an
//! `Arc<Principal>` (when the request carried a token) and the policy
//! [`Decision`], and the inner service is called; axum handlers read them
//! with the `axum` feature's extractors (`Authenticated`,
//! `MaybeAuthenticated`) or `Extension<Arc<Principal>>`. The inner
//! service's response gets the route's CORS headers (policy `cors`
//! settings) and, when the rule has rate limits, the `RateLimit` /
//! `RateLimit-Policy` fields. On deny, the layer
//! answers [`Rejection::to_response`] itself (401 / 403 / 400 / 429 / 503
//! with an empty body of the service's body type, the [`Rejection`] in the
//! response's extensions): a denial is a response, never a
//! `Service::Error` (tower-http's auth middleware does the same).
//! [`ProblemJsonLayer`] outside it turns those into
//! `application/problem+json` bodies that browser code can read.
//!
//! **The client address** the policy's address rules see is read from the
//! request's extensions: a [`ClientIp`] the server inserted, else a
//! [`ClientInfo`] (with the country, from the proxy driver's client
//! layer), else (feature
//! `axum`) axum's `ConnectInfo<SocketAddr>` (serve with
//! `into_make_service_with_connect_info::<SocketAddr>()`). Never from
//! `X-Forwarded-For`, which any client can write: behind a trusted proxy,
//! insert a [`ClientIp`] from its header in a layer of your own before this
//! one. Without either, address rules cannot match.
//!
//! **The client certificate** (RFC 8705 certificate-bound tokens) is read
//! from a [`ClientCert`](crate::mtls::ClientCert) extension, which the
//! `hyper-server` driver's TLS acceptor inserts. A header the gate trusts
//! for it ([`GateConfig::with_client_cert_header`](crate::gate::GateConfig::with_client_cert_header))
//! is removed before the inner service sees an allowed request.

use std::fmt;
use std::future::Future;
use std::net::IpAddr;
use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll};

use http::{Request, Response};
use tower::{Layer, Service};

use super::keys::{KeyDriver, Verdict};
use super::limit::AsyncLimitStore;
use crate::Principal;
use crate::forward::ClientInfo;
use crate::policy::{Decision, RequestFacts};
use crate::response::Rejection;

/// The client's address, as a request extension the layer reads for the
/// policy's address rules. Insert it from the accepted connection (or from
/// a trusted proxy's header) before [`GateLayer`] runs.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ClientIp(pub IpAddr);

/// The tower layer: wraps a service in a [`GateService`]. Cheap to clone
/// (it holds the [`KeyDriver`] and the limit store, two `Arc`s).
#[derive(Debug, Clone)]
pub struct GateLayer {
    driver: KeyDriver,
    limit_store: Option<Arc<dyn AsyncLimitStore>>,
}

impl GateLayer {
    /// A layer checking requests with `driver`.
    pub fn new(driver: KeyDriver) -> Self {
        Self {
            driver,
            limit_store: None,
        }
    }

    /// Decides the policy's rate limits against `store` (Redis, shared by
    /// every replica), awaited, instead of the Gate's own synchronous
    /// store ([`KeyDriver::check_with_limits`]).
    #[must_use]
    pub fn with_limit_store(mut self, store: Arc<dyn AsyncLimitStore>) -> Self {
        self.limit_store = Some(store);
        self
    }

    /// The key driver (for its [`stats`](KeyDriver::stats), or to
    /// [`spawn_refresh`](KeyDriver::spawn_refresh)).
    pub fn driver(&self) -> &KeyDriver {
        &self.driver
    }
}

impl<S> Layer<S> for GateLayer {
    type Service = GateService<S>;

    fn layer(&self, inner: S) -> Self::Service {
        GateService {
            inner,
            driver: self.driver.clone(),
            limit_store: self.limit_store.clone(),
        }
    }
}

/// The service [`GateLayer`] builds: checks each request with the Gate,
/// then calls the inner service or answers the rejection.
#[derive(Debug, Clone)]
pub struct GateService<S> {
    inner: S,
    driver: KeyDriver,
    limit_store: Option<Arc<dyn AsyncLimitStore>>,
}

impl<S> GateService<S> {
    /// `inner` behind the Gate of `driver`.
    pub fn new(inner: S, driver: KeyDriver) -> Self {
        Self {
            inner,
            driver,
            limit_store: None,
        }
    }

    /// Decides the rate limits against `store`, as
    /// [`GateLayer::with_limit_store`].
    #[must_use]
    pub fn with_limit_store(mut self, store: Arc<dyn AsyncLimitStore>) -> Self {
        self.limit_store = Some(store);
        self
    }

    /// The wrapped service.
    pub fn get_ref(&self) -> &S {
        &self.inner
    }
}

/// The future [`GateService`] returns.
pub struct ResponseFuture<R, E> {
    future: Pin<Box<dyn Future<Output = Result<R, E>> + Send>>,
}

impl<R, E> fmt::Debug for ResponseFuture<R, E> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("ResponseFuture").finish_non_exhaustive()
    }
}

impl<R, E> Future for ResponseFuture<R, E> {
    type Output = Result<R, E>;

    fn poll(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Self::Output> {
        self.future.as_mut().poll(cx)
    }
}

impl<S, B, ResBody> Service<Request<B>> for GateService<S>
where
    S: Service<Request<B>, Response = Response<ResBody>> + Clone + Send + 'static,
    S::Future: Send + 'static,
    S::Error: 'static,
    B: Send + 'static,
    // `From<String>`: the documents the gate answers itself (RFC 9728
    // metadata) have a body (axum's `Body`, `Full`, `String` qualify).
    ResBody: Default + From<String> + Send + 'static,
{
    type Response = Response<ResBody>;
    type Error = S::Error;
    type Future = ResponseFuture<Response<ResBody>, S::Error>;

    fn poll_ready(&mut self, cx: &mut Context<'_>) -> Poll<Result<(), Self::Error>> {
        self.inner.poll_ready(cx)
    }

    fn call(&mut self, request: Request<B>) -> Self::Future {
        // The service that was polled ready serves this request; the clone
        // stays for the next one (tower's usual pattern).
        let clone = self.inner.clone();
        let mut inner = std::mem::replace(&mut self.inner, clone);
        let driver = self.driver.clone();
        let limit_store = self.limit_store.clone();
        let future = async move {
            let (mut parts, body) = request.into_parts();
            let (verdict, cors) = {
                let mut facts = RequestFacts::from_parts(&parts);
                if let Some(ip) = client_ip(&parts.extensions) {
                    facts = facts.with_client_ip(ip);
                }
                if let Some(country) = parts
                    .extensions
                    .get::<ClientInfo>()
                    .and_then(|c| c.country.as_deref())
                {
                    facts = facts.with_country(country);
                }
                // The TLS driver's certificate (RFC 8705); a client cannot
                // send extensions.
                if let Some(cert) = parts.extensions.get::<crate::mtls::ClientCert>() {
                    facts = facts.with_client_cert(*cert);
                }
                let verdict = match limit_store.as_deref() {
                    Some(store) => driver.check_with_limits(&parts, &facts, store).await,
                    None => driver.check(&parts, &facts).await,
                };
                // The route's CORS headers for the allowed response
                // (empty when the route has no `cors` settings).
                let cors = match &verdict {
                    Verdict::Allow { .. } => driver.gate().cors_headers(&parts, &facts),
                    _ => http::HeaderMap::new(),
                };
                (verdict, cors)
            };
            match verdict {
                Verdict::Allow {
                    principal,
                    decision,
                } => {
                    let limits = decision.rate_limits.clone();
                    insert_identity(&mut parts.extensions, principal, decision);
                    // The proxy's certificate header is for the gate only.
                    #[cfg(feature = "httpsig")]
                    if let Some(name) = driver.gate().client_cert_header() {
                        parts.headers.remove(name);
                    }
                    let mut response = inner.call(Request::from_parts(parts, body)).await?;
                    let headers = response.headers_mut();
                    crate::limit::apply_headers(&limits, headers);
                    crate::cors::apply_to(&cors, headers);
                    Ok(response)
                }
                Verdict::Deny(rejection) => {
                    let mut response = rejection_response(&rejection);
                    response.extensions_mut().insert(rejection);
                    Ok(response)
                }
                Verdict::Preflight(response) => {
                    let (head, body) = response.into_parts();
                    // The gate's answers are JSON (UTF-8) or empty.
                    let body = String::from_utf8(body).unwrap_or_default();
                    Ok(Response::from_parts(head, ResBody::from(body)))
                }
            }
        };
        ResponseFuture {
            future: Box::pin(future),
        }
    }
}

/// The Principal (when there is one) and the Decision, where handlers find
/// them. A client cannot send extensions, so a Principal found there was
/// put by the layer.
fn insert_identity(
    extensions: &mut http::Extensions,
    principal: Option<Box<Principal>>,
    decision: Decision,
) {
    // A Principal left by an outer layer must not stand for this request.
    extensions.remove::<Arc<Principal>>();
    if let Some(principal) = principal {
        extensions.insert(Arc::<Principal>::from(principal));
    }
    extensions.insert(decision);
}

fn client_ip(extensions: &http::Extensions) -> Option<IpAddr> {
    if let Some(ClientIp(ip)) = extensions.get::<ClientIp>() {
        return Some(*ip);
    }
    if let Some(client) = extensions.get::<ClientInfo>() {
        return Some(client.ip);
    }
    #[cfg(feature = "axum")]
    if let Some(axum::extract::ConnectInfo(addr)) =
        extensions.get::<axum::extract::ConnectInfo<std::net::SocketAddr>>()
    {
        return Some(addr.ip());
    }
    None
}

/// [`Rejection::to_response`] with an empty body of the service's type.
pub(crate) fn rejection_response<B: Default>(rejection: &Rejection) -> Response<B> {
    let (head, ()) = rejection.to_response().into_parts();
    Response::from_parts(head, B::default())
}

/// Renders the [`Rejection`]s of an inner [`GateService`] as RFC 9457
/// `application/problem+json` bodies ([`Rejection::to_problem_json`]: same
/// status and headers, CORS included), so browser code can read why it was
/// turned away. Other responses pass through untouched.
#[derive(Debug, Clone, Copy, Default)]
pub struct ProblemJsonLayer;

impl<S> Layer<S> for ProblemJsonLayer {
    type Service = ProblemJson<S>;

    fn layer(&self, inner: S) -> ProblemJson<S> {
        ProblemJson { inner }
    }
}

/// The service [`ProblemJsonLayer`] builds.
#[derive(Debug, Clone)]
pub struct ProblemJson<S> {
    inner: S,
}

impl<S, B, ResBody> Service<Request<B>> for ProblemJson<S>
where
    S: Service<Request<B>, Response = Response<ResBody>>,
    S::Future: Send + 'static,
    ResBody: From<Vec<u8>> + Send + 'static,
{
    type Response = Response<ResBody>;
    type Error = S::Error;
    type Future = ResponseFuture<Response<ResBody>, S::Error>;

    fn poll_ready(&mut self, cx: &mut Context<'_>) -> Poll<Result<(), Self::Error>> {
        self.inner.poll_ready(cx)
    }

    fn call(&mut self, request: Request<B>) -> Self::Future {
        let future = self.inner.call(request);
        ResponseFuture {
            future: Box::pin(async move {
                let mut response = future.await?;
                Ok(match response.extensions_mut().remove::<Rejection>() {
                    Some(rejection) => {
                        let (head, body) = rejection.to_problem_json().into_parts();
                        Response::from_parts(head, ResBody::from(body))
                    }
                    None => response,
                })
            }),
        }
    }
}
