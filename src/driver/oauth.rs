//! The async token driver: runs a [`TokenCache`]'s `poll → POST → apply`
//! loop for one process, and (feature `tower`) a layer that puts the token
//! on outbound requests as `Authorization: Bearer`.
//!
//! - **Single flight.** One token request in flight per cache; concurrent
//!   callers on a cold cache wait for it (at most
//!   [`TokenDriverOptions::max_wait`]).
//! - **Bounded.** Each request has a timeout
//!   ([`TokenDriverOptions::fetch_timeout`]) and a body limit; it runs on its
//!   own task, so a caller that goes away does not cancel it, and a request
//!   that panics or is cancelled is recorded as failed.
//! - **Refresh-ahead.** [`TokenDriver::spawn_refresh`] renews the token at
//!   the cache's refresh-ahead point (~80 % of its lifetime); without it, a
//!   caller starts the refresh and keeps using the still-valid token.
//!
//! ```no_run
//! # #[cfg(all(feature = "tower", feature = "hyper-client"))]
//! # async fn example() -> Result<(), Box<dyn std::error::Error>> {
//! use edge_auth::Secret;
//! use edge_auth::driver::oauth::{BearerLayer, HyperTokenClient, TokenDriver};
//! use edge_auth::oauth::{ClientAuth, ClientCredentials, TokenCache, TokenCacheConfig};
//!
//! let client = ClientCredentials::new(
//!     "https://login.microsoftonline.com/TENANT/oauth2/v2.0/token",
//!     "CLIENT-ID",
//!     ClientAuth::secret_basic(Secret::new(std::env::var("CLIENT_SECRET")?)),
//! )?
//! .with_scope("api://orders/.default");
//! let driver = TokenDriver::new(TokenCache::new(client, TokenCacheConfig::default()), HyperTokenClient::new()?);
//! let _refresh = driver.spawn_refresh()?;
//! let layer = BearerLayer::new(driver); // wrap your outbound client service
//! # Ok(()) }
//! ```

use std::fmt;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, MutexGuard, PoisonError};
use std::time::Duration;

use http::Request;
use time::OffsetDateTime;
use tokio::sync::Notify;

use super::keys::{Clock, DriverError, FetchFuture, SystemClock};
use crate::Secret;
use crate::oauth::{TokenCache, TokenPlan};

/// The HTTP client the token driver POSTs token requests with. Implement it
/// to plug your own client; the `hyper-client` feature brings
/// [`HyperTokenClient`]. Timeouts are the driver's.
pub trait TokenClient: Send + Sync + 'static {
    /// Sends `request` (a form POST) and reads at most `max_body_bytes` of
    /// the answer.
    ///
    /// # Errors
    /// [`DriverError`] when there is no complete response. Never put the
    /// request's body or `Authorization` header in it.
    fn post(&self, request: Request<Vec<u8>>, max_body_bytes: usize) -> FetchFuture<'_>;
}

/// How the token driver runs. Bounded defaults; adjust with `with_*`.
#[derive(Debug, Clone)]
#[non_exhaustive]
pub struct TokenDriverOptions {
    /// Longest wait for one token response (default 10 s).
    pub fetch_timeout: Duration,
    /// Longest a caller waits for a token being fetched before it gets an
    /// error (default 15 s).
    pub max_wait: Duration,
    /// Largest response body read (default 64 KiB).
    pub max_body_bytes: usize,
    /// The refresh task's longest sleep between two looks at the cache
    /// (default 60 s); it wakes earlier when a refresh is due sooner.
    pub refresh_interval: Duration,
}

impl Default for TokenDriverOptions {
    fn default() -> Self {
        Self {
            fetch_timeout: Duration::from_secs(10),
            max_wait: Duration::from_secs(15),
            max_body_bytes: 64 * 1024,
            refresh_interval: Duration::from_secs(60),
        }
    }
}

impl TokenDriverOptions {
    /// Sets [`fetch_timeout`](Self::fetch_timeout).
    #[must_use]
    pub fn with_fetch_timeout(mut self, timeout: Duration) -> Self {
        self.fetch_timeout = timeout;
        self
    }

    /// Sets [`max_wait`](Self::max_wait).
    #[must_use]
    pub fn with_max_wait(mut self, wait: Duration) -> Self {
        self.max_wait = wait;
        self
    }

    /// Sets [`max_body_bytes`](Self::max_body_bytes).
    #[must_use]
    pub fn with_max_body_bytes(mut self, bytes: usize) -> Self {
        self.max_body_bytes = bytes;
        self
    }

    /// Sets [`refresh_interval`](Self::refresh_interval).
    #[must_use]
    pub fn with_refresh_interval(mut self, every: Duration) -> Self {
        self.refresh_interval = every;
        self
    }
}

/// Counters of a token driver.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
#[non_exhaustive]
pub struct TokenStats {
    /// Token requests sent.
    pub token_fetch_started: u64,
    /// Token requests answered with a usable token.
    pub token_fetch_success: u64,
    /// Token requests that failed (no response, refused, unusable answer).
    pub token_fetch_failed: u64,
    /// Tokens handed out to callers.
    pub token_served: u64,
}

#[derive(Default)]
struct Counters {
    started: AtomicU64,
    success: AtomicU64,
    failed: AtomicU64,
    served: AtomicU64,
}

struct Inner {
    cache: Mutex<TokenCache>,
    client: Arc<dyn TokenClient>,
    clock: Arc<dyn Clock>,
    options: TokenDriverOptions,
    changed: Notify,
    counters: Counters,
}

/// Keeps one client's access token fresh: single-flight token requests,
/// timeouts, refresh-ahead. Cheap to clone (one `Arc`). `Debug` never shows
/// the token.
#[derive(Clone)]
pub struct TokenDriver {
    inner: Arc<Inner>,
}

impl fmt::Debug for TokenDriver {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let mut d = f.debug_struct("TokenDriver");
        if let Ok(cache) = self.inner.cache.try_lock() {
            d.field("cache", &*cache);
        }
        d.field("options", &self.inner.options)
            .finish_non_exhaustive()
    }
}

impl TokenDriver {
    /// A driver for `cache` posting with `client`, default options and the
    /// wall clock.
    pub fn new(cache: TokenCache, client: impl TokenClient) -> Self {
        Self::from_parts(
            cache,
            Arc::new(client),
            Arc::new(SystemClock),
            TokenDriverOptions::default(),
        )
    }

    /// A driver with a shared client, a clock of your own and `options`.
    pub fn from_parts(
        cache: TokenCache,
        client: Arc<dyn TokenClient>,
        clock: Arc<dyn Clock>,
        options: TokenDriverOptions,
    ) -> Self {
        Self {
            inner: Arc::new(Inner {
                cache: Mutex::new(cache),
                client,
                clock,
                options,
                changed: Notify::new(),
                counters: Counters::default(),
            }),
        }
    }

    /// The cache, locked: for its state ([`TokenCache::export_sealed`],
    /// [`TokenCache::import_sealed`]) and diagnostics. Keep the lock short.
    pub fn cache(&self) -> MutexGuard<'_, TokenCache> {
        self.inner
            .cache
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
    }

    /// The counters so far.
    pub fn stats(&self) -> TokenStats {
        let c = &self.inner.counters;
        TokenStats {
            token_fetch_started: c.started.load(Ordering::SeqCst),
            token_fetch_success: c.success.load(Ordering::SeqCst),
            token_fetch_failed: c.failed.load(Ordering::SeqCst),
            token_served: c.served.load(Ordering::SeqCst),
        }
    }

    /// A token to send now: the cached one, or one fetched (or being
    /// fetched) within [`TokenDriverOptions::max_wait`]. Starts a due
    /// refresh in the background without waiting for it.
    ///
    /// # Errors
    /// [`DriverError`] when no token can be had: the endpoint failed or
    /// refused (the message says why, never with a credential), the retry
    /// backoff has not passed, the wait ran out, or there is no tokio
    /// runtime.
    pub async fn token(&self) -> Result<Secret<String>, DriverError> {
        let deadline = tokio::time::Instant::now() + self.inner.options.max_wait;
        loop {
            let notified = self.inner.changed.notified();
            tokio::pin!(notified);
            notified.as_mut().enable();
            let (token, waiting, error) = {
                let mut cache = self.cache();
                let now = self.inner.clock.now();
                let polled = cache.poll(now);
                let token = cache.get(now).cloned();
                let error = cache.last_error().map(str::to_owned);
                match polled {
                    Ok(Some(plan)) => {
                        drop(cache);
                        self.start(plan)?;
                        (token, true, error)
                    }
                    Ok(None) => {
                        let in_flight = cache.next_retry_at().is_none_or(|t| now >= t);
                        (token, in_flight, error)
                    }
                    Err(e) => (token, false, Some(e.to_string())),
                }
            };
            if let Some(token) = token {
                self.inner.counters.served.fetch_add(1, Ordering::Relaxed);
                return Ok(token);
            }
            let fail = || {
                DriverError::fetch(format!(
                    "no access token: {}",
                    error
                        .as_deref()
                        .unwrap_or("the token request did not finish in time")
                ))
            };
            if !waiting {
                return Err(fail());
            }
            if tokio::time::timeout_at(deadline, notified).await.is_err() {
                return Err(fail());
            }
        }
    }

    /// Drops the cached token if it is `used` (the upstream answered 401
    /// to it), so the next caller fetches a new one.
    pub fn invalidate(&self, used: &Secret<String>) {
        let mut cache = self.cache();
        let now = self.inner.clock.now();
        if cache.get(now).is_some_and(|t| t.expose() == used.expose()) {
            cache.invalidate();
        }
    }

    /// Runs the due token request, if any, and waits for it. Returns
    /// whether one was sent.
    ///
    /// # Errors
    /// [`DriverError`] when the request cannot be built or there is no
    /// tokio runtime.
    pub async fn refresh(&self) -> Result<bool, DriverError> {
        let now = self.inner.clock.now();
        let plan = self
            .cache()
            .poll(now)
            .map_err(|e| DriverError::fetch(e.to_string()))?;
        let Some(plan) = plan else {
            return Ok(false);
        };
        let task = self.start(plan)?;
        let _ = task.await;
        Ok(true)
    }

    /// Spawns a task that refreshes the token ahead of expiry (and retries
    /// after failures), sleeping until the cache's next due time (at most
    /// [`TokenDriverOptions::refresh_interval`]). Dropping the handle stops
    /// it.
    ///
    /// # Errors
    /// [`DriverError`] outside a tokio runtime.
    pub fn spawn_refresh(&self) -> Result<TokenRefreshTask, DriverError> {
        let runtime = tokio::runtime::Handle::try_current()
            .map_err(|_| DriverError::fetch("no tokio runtime: the token driver runs on tokio"))?;
        let driver = self.clone();
        let task = runtime.spawn(async move {
            loop {
                let _ = driver.refresh().await;
                let now = driver.inner.clock.now();
                let longest = driver.inner.options.refresh_interval;
                let sleep = driver
                    .cache()
                    .next_due_at(now)
                    .map_or(Duration::from_millis(100), |due| {
                        Duration::try_from(due - now).unwrap_or(Duration::ZERO)
                    })
                    .clamp(
                        Duration::from_millis(100),
                        longest.max(Duration::from_millis(100)),
                    );
                tokio::time::sleep(sleep).await;
            }
        });
        Ok(TokenRefreshTask { task })
    }

    fn start(&self, plan: TokenPlan) -> Result<tokio::task::JoinHandle<()>, DriverError> {
        let guard = FlightGuard {
            inner: Arc::clone(&self.inner),
            plan: Some(plan),
        };
        let runtime = tokio::runtime::Handle::try_current()
            .map_err(|_| DriverError::fetch("no tokio runtime: the token driver runs on tokio"))?;
        self.inner.counters.started.fetch_add(1, Ordering::Relaxed);
        Ok(runtime.spawn(guard.run()))
    }
}

/// The refresh task ([`TokenDriver::spawn_refresh`]); dropping it stops it.
#[derive(Debug)]
pub struct TokenRefreshTask {
    task: tokio::task::JoinHandle<()>,
}

impl Drop for TokenRefreshTask {
    fn drop(&mut self) {
        self.task.abort();
    }
}

/// One token request: sends it, applies the answer, wakes the waiters.
/// Dropped before it reported (panic, cancellation, no runtime), it
/// records the request as failed.
struct FlightGuard {
    inner: Arc<Inner>,
    plan: Option<TokenPlan>,
}

impl FlightGuard {
    async fn run(mut self) {
        let Some(plan) = self.plan.take() else {
            return;
        };
        let options = &self.inner.options;
        let sent = tokio::time::timeout(
            options.fetch_timeout,
            self.inner
                .client
                .post(plan.to_request(), options.max_body_bytes),
        )
        .await;
        let now = self.inner.clock.now();
        let ok = {
            let mut cache = self
                .inner
                .cache
                .lock()
                .unwrap_or_else(PoisonError::into_inner);
            match sent {
                Ok(Ok(response)) => cache
                    .apply_token_response(
                        &plan,
                        response.status,
                        &response.headers,
                        &response.body,
                        now,
                    )
                    .is_ok(),
                Ok(Err(e)) => {
                    cache.apply_failure(&plan, &e.to_string(), now);
                    false
                }
                Err(_) => {
                    cache.apply_failure(&plan, "token request timed out", now);
                    false
                }
            }
        };
        let counter = if ok {
            &self.inner.counters.success
        } else {
            &self.inner.counters.failed
        };
        counter.fetch_add(1, Ordering::Relaxed);
        #[cfg(feature = "tracing")]
        tracing::debug!(
            token_endpoint = plan.uri(),
            reason = ?plan.reason(),
            ok,
            "edge_auth token request finished"
        );
        self.inner.changed.notify_waiters();
    }
}

impl Drop for FlightGuard {
    fn drop(&mut self) {
        if let Some(plan) = self.plan.take() {
            let now: OffsetDateTime = self.inner.clock.now();
            self.inner
                .cache
                .lock()
                .unwrap_or_else(PoisonError::into_inner)
                .apply_failure(&plan, "token request ended without an answer", now);
            self.inner.counters.failed.fetch_add(1, Ordering::Relaxed);
            self.inner.changed.notify_waiters();
        }
    }
}

#[cfg(feature = "hyper-client")]
pub use hyper_client::HyperTokenClient;

#[cfg(feature = "hyper-client")]
mod hyper_client {
    use bytes::Bytes;
    use http::{Request, Uri};
    use http_body_util::Full;
    use hyper_rustls::HttpsConnector;
    use hyper_util::client::legacy::Client;
    use hyper_util::client::legacy::connect::HttpConnector;
    use hyper_util::rt::TokioExecutor;

    use super::TokenClient;
    use crate::driver::client;
    use crate::driver::keys::{DriverError, FetchFuture, FetchResponse};

    /// A [`TokenClient`] on hyper-util + hyper-rustls (ring, webpki roots,
    /// HTTP/1.1). HTTPS only unless
    /// [`with_plain_http_loopback`](Self::with_plain_http_loopback).
    #[derive(Clone)]
    pub struct HyperTokenClient {
        client: Client<HttpsConnector<HttpConnector>, Full<Bytes>>,
        plain_http_loopback: bool,
    }

    impl std::fmt::Debug for HyperTokenClient {
        fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
            f.debug_struct("HyperTokenClient")
                .field("plain_http_loopback", &self.plain_http_loopback)
                .finish_non_exhaustive()
        }
    }

    impl HyperTokenClient {
        /// An HTTPS-only client.
        ///
        /// # Errors
        /// [`DriverError`] when the TLS configuration cannot be built.
        pub fn new() -> Result<Self, DriverError> {
            Ok(Self {
                client: Client::builder(TokioExecutor::new()).build(client::connector()?),
                plain_http_loopback: false,
            })
        }

        /// Also allows plain `http://` to loopback hosts: development
        /// issuers and tests only.
        #[must_use]
        pub fn with_plain_http_loopback(mut self) -> Self {
            self.plain_http_loopback = true;
            self
        }

        async fn send(
            &self,
            request: Request<Vec<u8>>,
            max_body_bytes: usize,
        ) -> Result<FetchResponse, DriverError> {
            let uri: Uri = request.uri().clone();
            match uri.scheme_str() {
                Some("https") => {}
                Some("http") if self.plain_http_loopback && client::is_loopback(&uri) => {}
                _ => {
                    return Err(DriverError::fetch(format!(
                        "refusing token request to `{uri}`: https only"
                    )));
                }
            }
            let (parts, body) = request.into_parts();
            let outbound = Request::from_parts(parts, Full::new(Bytes::from(body)));
            let response =
                self.client.request(outbound).await.map_err(|e| {
                    DriverError::fetch(format!("token request to `{uri}` failed: {e}"))
                })?;
            client::read(response, max_body_bytes, "token response", &uri.to_string()).await
        }
    }

    impl TokenClient for HyperTokenClient {
        fn post(&self, request: Request<Vec<u8>>, max_body_bytes: usize) -> FetchFuture<'_> {
            Box::pin(self.send(request, max_body_bytes))
        }
    }
}

#[cfg(feature = "tower")]
pub use layer::{BearerLayer, BearerService};

#[cfg(feature = "tower")]
mod layer {
    use std::future::Future;
    use std::pin::Pin;
    use std::task::{Context, Poll};

    use http::{HeaderValue, Request, Response, StatusCode, header};
    use tower::{Layer, Service};

    use super::TokenDriver;

    /// The boxed error of a [`BearerService`]: the inner service's, or the
    /// driver's when no token could be had.
    type BoxError = Box<dyn std::error::Error + Send + Sync>;

    /// Adds `Authorization: Bearer <token>` (marked sensitive) from a
    /// [`TokenDriver`] to every outbound request. When the upstream answers
    /// 401, the token it was sent is dropped so the next request fetches a
    /// new one. Cheap to clone.
    #[derive(Debug, Clone)]
    pub struct BearerLayer {
        driver: TokenDriver,
    }

    impl BearerLayer {
        /// A layer over `driver`.
        pub fn new(driver: TokenDriver) -> Self {
            Self { driver }
        }
    }

    impl<S> Layer<S> for BearerLayer {
        type Service = BearerService<S>;

        fn layer(&self, inner: S) -> Self::Service {
            BearerService {
                inner,
                driver: self.driver.clone(),
            }
        }
    }

    /// The service of a [`BearerLayer`].
    #[derive(Debug, Clone)]
    pub struct BearerService<S> {
        inner: S,
        driver: TokenDriver,
    }

    impl<S, B, ResBody> Service<Request<B>> for BearerService<S>
    where
        S: Service<Request<B>, Response = Response<ResBody>> + Clone + Send + 'static,
        S::Future: Send + 'static,
        S::Error: Into<BoxError>,
        B: Send + 'static,
    {
        type Response = Response<ResBody>;
        type Error = BoxError;
        type Future = Pin<Box<dyn Future<Output = Result<Self::Response, BoxError>> + Send>>;

        fn poll_ready(&mut self, cx: &mut Context<'_>) -> Poll<Result<(), Self::Error>> {
            self.inner.poll_ready(cx).map_err(Into::into)
        }

        fn call(&mut self, mut request: Request<B>) -> Self::Future {
            // The ready service goes with this call; its clone stays.
            let clone = self.inner.clone();
            let mut inner = std::mem::replace(&mut self.inner, clone);
            let driver = self.driver.clone();
            Box::pin(async move {
                let token = driver.token().await?;
                let mut value = HeaderValue::from_str(&format!("Bearer {}", token.expose()))
                    .map_err(|_| "access token cannot be sent in a header")?;
                value.set_sensitive(true);
                request.headers_mut().insert(header::AUTHORIZATION, value);
                let response = inner.call(request).await.map_err(Into::into)?;
                if response.status() == StatusCode::UNAUTHORIZED {
                    driver.invalidate(&token);
                }
                Ok(response)
            })
        }
    }
}
