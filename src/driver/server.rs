//! A hardened HTTP/1.1 front door for any hyper 1 service (feature
//! `hyper-server`): slow clients are cut off, connections are capped, and
//! the request-line checks of [`crate::forward::check_request_line`] run
//! before the service sees a request.
//!
//! ```no_run
//! # async fn run() -> std::io::Result<()> {
//! use edge_auth::driver::server::{RequestBody, Server, ServerConfig};
//! use hyper::service::service_fn;
//!
//! let server = Server::bind("127.0.0.1:8080".parse().unwrap(), ServerConfig::default()).await?;
//! server
//!     .serve(service_fn(|request: http::Request<RequestBody>| async move {
//!         let _ = request;
//!         Ok::<_, std::convert::Infallible>(http::Response::new(
//!             http_body_util::Full::new(bytes::Bytes::from_static(b"hello")),
//!         ))
//!     }))
//!     .await;
//! # Ok(()) }
//! ```
//!
//! A tower service runs through hyper-util's `TowerToHyperService`.
//!
//! # Limits and their defaults
//!
//! | [`ServerConfig`] field | default | hyper's own setting (default) | what happens |
//! |---|---|---|---|
//! | `header_read_timeout` | 10 s | `http1::Builder::header_read_timeout` (30 s, needs a timer) | hyper starts it when it begins waiting for a request head (on a kept-alive connection too) and closes the connection when the head is not complete in time |
//! | `keep_alive_timeout` | 5 s | none (hyper keeps an idle connection until `header_read_timeout`) | a connection with no request in progress and no byte received for this long is closed |
//! | `body_idle_timeout` | 10 s | none | the body yields [`RequestBodyError::IdleTimeout`] when no frame arrives for this long (the clock starts when the service first reads) |
//! | `body_read_timeout` | 60 s | none | the body yields [`RequestBodyError::ReadTimeout`] when it is not complete this long after the head; with `header_read_timeout` this bounds reading one request |
//! | `max_connections` | 512 | none | at the limit a new connection takes the place of the connection idle the longest (no request in progress: kept alive, or still sending its head); when every connection is busy it gets a best-effort `503` with `Retry-After: 1` and is closed; keep it well under the process's file-descriptor limit (`ulimit -n`) |
//! | `max_headers` | 100 | `http1::Builder::max_headers` (100) | more header fields: 431 |
//! | `max_header_size` | 32 KiB | `http1::Builder::max_header_size` (none: `max_buf_size`, ~400 KiB) | a longer head (request line included): 431 |
//! | `check_request_line` | `true` | none | [`check_request_line`] answers 400 / 501 with `Connection: close` before the service runs, and puts an absolute-form target's authority in `Host` |
//!
//! Over TLS ([`Server::with_tls`], feature `server-tls`) the handshake must
//! finish within `header_read_timeout`, and the client's certificate, when
//! it presented one, is in each request's extensions as a [`ClientCert`].
//!
//! When accepting fails because the process is out of file descriptors
//! (`EMFILE` / `ENFILE`), the longest-idle connection is closed to make room.
//! A timeout on the body is the service's to answer:
//! [`body_error_status`] maps it (408), a malformed chunked body (400) and
//! http-body-util's `LengthLimitError` (413) to a status.

use std::collections::HashMap;
use std::convert::Infallible;
use std::error::Error as StdError;
use std::future::Future;
use std::io;
use std::net::SocketAddr;
use std::pin::Pin;
use std::sync::atomic::{AtomicBool, AtomicU64, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex, PoisonError};
use std::task::{Context, Poll};
use std::time::Duration;

use bytes::Bytes;
use http::{HeaderValue, Request, Response, StatusCode, header};
use hyper::body::{Body, Frame, Incoming, SizeHint};
use hyper::service::Service;
use hyper_util::rt::{TokioIo, TokioTimer};
use tokio::io::{AsyncRead, AsyncWrite, ReadBuf};
use tokio::net::TcpListener;
#[cfg(feature = "server-tls")]
use tokio::net::TcpStream;
use tokio::sync::{Notify, Semaphore};
use tokio::task::JoinSet;
use tokio::time::{Instant, Sleep};

use crate::forward::check_request_line;
use crate::mtls::ClientCert;

type BoxError = Box<dyn StdError + Send + Sync>;

/// Limits of the serve loop. `Default` is the safe setting; see the module
/// table for each default next to hyper's own.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct ServerConfig {
    /// Time to receive a complete request head (hyper's `header_read_timeout`).
    pub header_read_timeout: Duration,
    /// Time a connection may sit with no request in progress and no byte received.
    pub keep_alive_timeout: Duration,
    /// Longest gap between two body frames once the service reads the body.
    pub body_idle_timeout: Duration,
    /// Time to receive the whole body, counted from the complete head.
    pub body_read_timeout: Duration,
    /// Most connections open at once (at least 1).
    pub max_connections: usize,
    /// Most header fields in a request head.
    pub max_headers: usize,
    /// Largest request head in bytes (request line included).
    pub max_header_size: usize,
    /// Run [`check_request_line`]
    /// before the service.
    pub check_request_line: bool,
}

impl Default for ServerConfig {
    fn default() -> Self {
        Self {
            header_read_timeout: Duration::from_secs(10),
            keep_alive_timeout: Duration::from_secs(5),
            body_idle_timeout: Duration::from_secs(10),
            body_read_timeout: Duration::from_secs(60),
            max_connections: 512,
            max_headers: 100,
            max_header_size: 32 * 1024,
            check_request_line: true,
        }
    }
}

impl ServerConfig {
    /// Sets `header_read_timeout`.
    #[must_use]
    pub fn with_header_read_timeout(mut self, timeout: Duration) -> Self {
        self.header_read_timeout = timeout;
        self
    }

    /// Sets `keep_alive_timeout`.
    #[must_use]
    pub fn with_keep_alive_timeout(mut self, timeout: Duration) -> Self {
        self.keep_alive_timeout = timeout;
        self
    }

    /// Sets `body_idle_timeout`.
    #[must_use]
    pub fn with_body_idle_timeout(mut self, timeout: Duration) -> Self {
        self.body_idle_timeout = timeout;
        self
    }

    /// Sets `body_read_timeout`.
    #[must_use]
    pub fn with_body_read_timeout(mut self, timeout: Duration) -> Self {
        self.body_read_timeout = timeout;
        self
    }

    /// Sets `max_connections`.
    #[must_use]
    pub fn with_max_connections(mut self, max: usize) -> Self {
        self.max_connections = max;
        self
    }
}

/// The client's address, in every request's extensions.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct PeerAddr(pub SocketAddr);

/// Why reading a request body failed.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum RequestBodyError {
    /// No body frame for `body_idle_timeout`.
    #[error("request body idle for more than {0:?}")]
    IdleTimeout(Duration),
    /// The body was not complete `body_read_timeout` after the head.
    #[error("request body not complete within {0:?}")]
    ReadTimeout(Duration),
    /// The body is malformed (bad chunked framing) or the client went away.
    #[error("request body unreadable: {0}")]
    Read(#[source] hyper::Error),
}

impl RequestBodyError {
    /// 408 for a timeout, 400 for a malformed body.
    pub fn status(&self) -> StatusCode {
        match self {
            Self::IdleTimeout(_) | Self::ReadTimeout(_) => StatusCode::REQUEST_TIMEOUT,
            Self::Read(_) => StatusCode::BAD_REQUEST,
        }
    }
}

/// The status for an error met while reading a request body through any
/// stack of body wrappers: 413 for http-body-util's `LengthLimitError`, the
/// [`RequestBodyError`]'s own status (408 / 400), else 400.
pub fn body_error_status(error: &(dyn StdError + 'static)) -> StatusCode {
    let mut current = Some(error);
    while let Some(error) = current {
        if error.is::<http_body_util::LengthLimitError>() {
            return StatusCode::PAYLOAD_TOO_LARGE;
        }
        if let Some(body) = error.downcast_ref::<RequestBodyError>() {
            return body.status();
        }
        current = error.source();
    }
    StatusCode::BAD_REQUEST
}

/// A request body with the idle and total read deadlines.
#[derive(Debug)]
pub struct RequestBody {
    inner: Incoming,
    idle: Duration,
    total: Duration,
    deadline: Instant,
    timer: Option<Pin<Box<Sleep>>>,
}

impl RequestBody {
    fn new(inner: Incoming, idle: Duration, total: Duration) -> Self {
        Self {
            inner,
            idle,
            total,
            deadline: Instant::now() + total,
            timer: None,
        }
    }

    fn next_wake(&self) -> (Instant, bool) {
        let idle = Instant::now() + self.idle;
        if idle < self.deadline {
            (idle, true)
        } else {
            (self.deadline, false)
        }
    }
}

impl Body for RequestBody {
    type Data = Bytes;
    type Error = RequestBodyError;

    fn poll_frame(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
    ) -> Poll<Option<Result<Frame<Bytes>, RequestBodyError>>> {
        let this = self.get_mut();
        match Pin::new(&mut this.inner).poll_frame(cx) {
            Poll::Ready(Some(Ok(frame))) => {
                let (wake, _) = this.next_wake();
                if let Some(timer) = &mut this.timer {
                    timer.as_mut().reset(wake);
                }
                Poll::Ready(Some(Ok(frame)))
            }
            Poll::Ready(Some(Err(e))) => Poll::Ready(Some(Err(RequestBodyError::Read(e)))),
            Poll::Ready(None) => Poll::Ready(None),
            Poll::Pending => {
                let (wake, _) = this.next_wake();
                let timer = this
                    .timer
                    .get_or_insert_with(|| Box::pin(tokio::time::sleep_until(wake)));
                if timer.as_mut().poll(cx).is_ready() {
                    let error = if Instant::now() >= this.deadline {
                        RequestBodyError::ReadTimeout(this.total)
                    } else {
                        RequestBodyError::IdleTimeout(this.idle)
                    };
                    return Poll::Ready(Some(Err(error)));
                }
                Poll::Pending
            }
        }
    }

    fn is_end_stream(&self) -> bool {
        self.inner.is_end_stream()
    }

    fn size_hint(&self) -> SizeHint {
        self.inner.size_hint()
    }
}

/// Counters of the serve loop.
#[derive(Debug, Default)]
pub struct ServerStats {
    accepted: AtomicU64,
    open: AtomicUsize,
    evicted: AtomicU64,
    refused: AtomicU64,
    idle_closed: AtomicU64,
    rejected_requests: AtomicU64,
}

/// A snapshot of [`ServerStats`].
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
#[non_exhaustive]
pub struct ServerStatsSnapshot {
    /// Connections accepted.
    pub accepted: u64,
    /// Connections open now.
    pub open: usize,
    /// Idle connections closed to make room for a new one.
    pub evicted: u64,
    /// Connections refused at the limit (503).
    pub refused: u64,
    /// Connections closed by `keep_alive_timeout`.
    pub idle_closed: u64,
    /// Requests answered 400 / 501 by the request-line checks.
    pub rejected_requests: u64,
}

impl ServerStats {
    /// The counters now.
    pub fn snapshot(&self) -> ServerStatsSnapshot {
        ServerStatsSnapshot {
            accepted: self.accepted.load(Ordering::Relaxed),
            open: self.open.load(Ordering::Relaxed),
            evicted: self.evicted.load(Ordering::Relaxed),
            refused: self.refused.load(Ordering::Relaxed),
            idle_closed: self.idle_closed.load(Ordering::Relaxed),
            rejected_requests: self.rejected_requests.load(Ordering::Relaxed),
        }
    }
}

/// One connection's state, shared by its task, its I/O and its requests.
#[derive(Debug)]
struct ConnState {
    /// Requests whose response has not finished.
    in_flight: AtomicUsize,
    /// When the connection last went idle, in ms since the server started.
    idle_since_ms: AtomicU64,
    /// A byte arrived since the connection went idle (a head is coming).
    read_since_idle: AtomicBool,
    evicted: AtomicBool,
    evict: Notify,
}

#[derive(Debug)]
struct Shared {
    config: ServerConfig,
    epoch: Instant,
    connections: Mutex<HashMap<u64, Arc<ConnState>>>,
    limit: Arc<Semaphore>,
    stats: Arc<ServerStats>,
}

impl Shared {
    fn now_ms(&self) -> u64 {
        u64::try_from(self.epoch.elapsed().as_millis()).unwrap_or(u64::MAX)
    }

    /// Asks the connection idle the longest to close. `false`: none is idle.
    fn evict_one(&self) -> bool {
        let connections = self
            .connections
            .lock()
            .unwrap_or_else(PoisonError::into_inner);
        let victim = connections
            .values()
            .filter(|c| {
                c.in_flight.load(Ordering::Acquire) == 0 && !c.evicted.load(Ordering::Acquire)
            })
            .min_by_key(|c| c.idle_since_ms.load(Ordering::Acquire));
        match victim {
            Some(victim) => {
                victim.evicted.store(true, Ordering::Release);
                victim.evict.notify_one();
                self.stats.evicted.fetch_add(1, Ordering::Relaxed);
                true
            }
            None => false,
        }
    }
}

/// The socket (or its TLS stream), noting when bytes arrive.
struct Tracked<T> {
    stream: T,
    state: Arc<ConnState>,
}

impl<T: AsyncRead + Unpin> AsyncRead for Tracked<T> {
    fn poll_read(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<io::Result<()>> {
        let this = self.get_mut();
        let before = buf.filled().len();
        let result = Pin::new(&mut this.stream).poll_read(cx, buf);
        if buf.filled().len() > before {
            this.state.read_since_idle.store(true, Ordering::Release);
        }
        result
    }
}

impl<T: AsyncWrite + Unpin> AsyncWrite for Tracked<T> {
    fn poll_write(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<io::Result<usize>> {
        Pin::new(&mut self.get_mut().stream).poll_write(cx, buf)
    }

    fn poll_flush(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.get_mut().stream).poll_flush(cx)
    }

    fn poll_shutdown(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.get_mut().stream).poll_shutdown(cx)
    }

    fn poll_write_vectored(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        bufs: &[io::IoSlice<'_>],
    ) -> Poll<io::Result<usize>> {
        Pin::new(&mut self.get_mut().stream).poll_write_vectored(cx, bufs)
    }

    fn is_write_vectored(&self) -> bool {
        self.stream.is_write_vectored()
    }
}

/// A request in progress; dropped when its response body ends.
#[derive(Debug)]
struct InFlight {
    state: Arc<ConnState>,
    shared: Arc<Shared>,
}

impl InFlight {
    fn new(state: Arc<ConnState>, shared: Arc<Shared>) -> Self {
        state.in_flight.fetch_add(1, Ordering::AcqRel);
        Self { state, shared }
    }
}

impl Drop for InFlight {
    fn drop(&mut self) {
        if self.state.in_flight.fetch_sub(1, Ordering::AcqRel) == 1 {
            self.state
                .idle_since_ms
                .store(self.shared.now_ms(), Ordering::Release);
            self.state.read_since_idle.store(false, Ordering::Release);
        }
    }
}

/// The response body the server sends: the service's, or its own for a
/// refused request. Holds the request's in-flight mark until it ends.
#[derive(Debug)]
pub struct ServerBody<B> {
    kind: BodyKind<B>,
    _in_flight: InFlight,
}

#[derive(Debug)]
enum BodyKind<B> {
    Service(Pin<Box<B>>),
    Local(Option<Bytes>),
}

impl<B> Body for ServerBody<B>
where
    B: Body<Data = Bytes>,
    B::Error: Into<BoxError>,
{
    type Data = Bytes;
    type Error = BoxError;

    fn poll_frame(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
    ) -> Poll<Option<Result<Frame<Bytes>, BoxError>>> {
        match &mut self.get_mut().kind {
            BodyKind::Service(body) => body.as_mut().poll_frame(cx).map_err(Into::into),
            BodyKind::Local(bytes) => Poll::Ready(bytes.take().map(|b| Ok(Frame::data(b)))),
        }
    }

    fn is_end_stream(&self) -> bool {
        match &self.kind {
            BodyKind::Service(body) => body.is_end_stream(),
            BodyKind::Local(bytes) => bytes.is_none(),
        }
    }

    fn size_hint(&self) -> SizeHint {
        match &self.kind {
            BodyKind::Service(body) => body.size_hint(),
            BodyKind::Local(bytes) => {
                SizeHint::with_exact(bytes.as_ref().map_or(0, |b| b.len() as u64))
            }
        }
    }
}

/// A bound listener and its limits.
#[derive(Debug)]
pub struct Server {
    listener: TcpListener,
    shared: Arc<Shared>,
    #[cfg(feature = "server-tls")]
    tls: Option<Arc<rustls::ServerConfig>>,
}

/// The bytes sent to a connection refused at the limit.
const REFUSAL: &[u8] = b"HTTP/1.1 503 Service Unavailable\r\ncontent-type: text/plain\r\n\
retry-after: 1\r\nconnection: close\r\ncontent-length: 20\r\n\r\ntoo many connections";

impl Server {
    /// Binds `addr`.
    ///
    /// # Errors
    /// When the address cannot be bound.
    pub async fn bind(addr: SocketAddr, config: ServerConfig) -> io::Result<Self> {
        Ok(Self::from_listener(TcpListener::bind(addr).await?, config))
    }

    /// Serves on an already bound listener.
    pub fn from_listener(listener: TcpListener, config: ServerConfig) -> Self {
        let permits = config.max_connections.clamp(1, Semaphore::MAX_PERMITS);
        Self {
            listener,
            shared: Arc::new(Shared {
                config,
                epoch: Instant::now(),
                connections: Mutex::new(HashMap::new()),
                limit: Arc::new(Semaphore::new(permits)),
                stats: Arc::new(ServerStats::default()),
            }),
            #[cfg(feature = "server-tls")]
            tls: None,
        }
    }

    /// Serves TLS with `config` (see [`driver::tls`](super::tls) to build
    /// one): each connection's handshake must finish within
    /// `header_read_timeout`, and when the client presented a certificate,
    /// the first one (its own) is in every request's extensions as a
    /// [`ClientCert`], for certificate-bound tokens (RFC 8705).
    #[cfg(feature = "server-tls")]
    #[must_use]
    pub fn with_tls(mut self, config: Arc<rustls::ServerConfig>) -> Self {
        self.tls = Some(config);
        self
    }

    /// The bound address.
    ///
    /// # Errors
    /// When the socket cannot report it.
    pub fn local_addr(&self) -> io::Result<SocketAddr> {
        self.listener.local_addr()
    }

    /// The counters, live.
    pub fn stats(&self) -> Arc<ServerStats> {
        Arc::clone(&self.shared.stats)
    }

    /// Accepts and serves connections until the returned future is dropped
    /// (dropping it closes every connection). Each request reaches `service`
    /// with a [`RequestBody`] and a [`PeerAddr`] extension (and, over TLS, a
    /// [`ClientCert`] when the client presented a certificate).
    pub async fn serve<S, B>(self, service: S)
    where
        S: Service<Request<RequestBody>, Response = Response<B>> + Clone + Send + 'static,
        S::Future: Send + 'static,
        S::Error: Into<BoxError>,
        B: Body<Data = Bytes> + Send + 'static,
        B::Error: Into<BoxError>,
    {
        let Self {
            listener,
            shared,
            #[cfg(feature = "server-tls")]
            tls,
        } = self;
        let mut tasks = JoinSet::new();
        let mut next_id: u64 = 0;
        loop {
            while tasks.try_join_next().is_some() {}
            let (stream, peer) = match listener.accept().await {
                Ok(accepted) => accepted,
                Err(e) => {
                    // Out of file descriptors: free the longest-idle
                    // connection's, then retry shortly; anything else is one
                    // failed handshake.
                    if matches!(e.raw_os_error(), Some(23 | 24)) {
                        shared.evict_one();
                        tokio::time::sleep(Duration::from_millis(10)).await;
                    } else {
                        tokio::time::sleep(Duration::from_millis(1)).await;
                    }
                    continue;
                }
            };
            shared.stats.accepted.fetch_add(1, Ordering::Relaxed);
            let permit = match Arc::clone(&shared.limit).try_acquire_owned() {
                Ok(permit) => Some(permit),
                Err(_) if shared.evict_one() => tokio::time::timeout(
                    Duration::from_millis(100),
                    Arc::clone(&shared.limit).acquire_owned(),
                )
                .await
                .ok()
                .and_then(Result::ok),
                Err(_) => None,
            };
            let Some(permit) = permit else {
                shared.stats.refused.fetch_add(1, Ordering::Relaxed);
                // Best effort on a fresh socket's empty send buffer; never waits.
                let _ = stream.try_write(REFUSAL);
                drop(stream);
                continue;
            };
            let _ = stream.set_nodelay(true);
            next_id = next_id.wrapping_add(1);
            let id = next_id;
            let state = Arc::new(ConnState {
                in_flight: AtomicUsize::new(0),
                idle_since_ms: AtomicU64::new(shared.now_ms()),
                read_since_idle: AtomicBool::new(false),
                evicted: AtomicBool::new(false),
                evict: Notify::new(),
            });
            shared
                .connections
                .lock()
                .unwrap_or_else(PoisonError::into_inner)
                .insert(id, Arc::clone(&state));
            shared.stats.open.fetch_add(1, Ordering::Relaxed);
            let shared = Arc::clone(&shared);
            let service = service.clone();
            #[cfg(feature = "server-tls")]
            let tls = tls.clone();
            tasks.spawn(async move {
                #[cfg(feature = "server-tls")]
                match tls {
                    Some(config) => {
                        serve_tls(&shared, &state, stream, peer, service, config).await;
                    }
                    None => {
                        let conn = (Arc::clone(&shared), Arc::clone(&state));
                        serve_connection(conn, stream, peer, None, service).await;
                    }
                }
                #[cfg(not(feature = "server-tls"))]
                serve_connection(
                    (Arc::clone(&shared), Arc::clone(&state)),
                    stream,
                    peer,
                    None,
                    service,
                )
                .await;
                shared
                    .connections
                    .lock()
                    .unwrap_or_else(PoisonError::into_inner)
                    .remove(&id);
                shared.stats.open.fetch_sub(1, Ordering::Relaxed);
                drop(permit);
            });
        }
    }
}

/// The TLS handshake (bounded by `header_read_timeout`, given up when the
/// connection is evicted meanwhile), then the connection with the client's
/// certificate.
#[cfg(feature = "server-tls")]
async fn serve_tls<S, B>(
    shared: &Arc<Shared>,
    state: &Arc<ConnState>,
    stream: TcpStream,
    peer: SocketAddr,
    service: S,
    config: Arc<rustls::ServerConfig>,
) where
    S: Service<Request<RequestBody>, Response = Response<B>> + Send + 'static,
    S::Future: Send + 'static,
    S::Error: Into<BoxError>,
    B: Body<Data = Bytes> + Send + 'static,
    B::Error: Into<BoxError>,
{
    let acceptor = tokio_rustls::TlsAcceptor::from(config);
    let handshake =
        tokio::time::timeout(shared.config.header_read_timeout, acceptor.accept(stream));
    let stream = tokio::select! {
        result = handshake => match result {
            Ok(Ok(stream)) => stream,
            // A failed or slow handshake is the client's; nothing to answer.
            Ok(Err(_)) | Err(_) => return,
        },
        () = state.evict.notified() => return,
    };
    let cert = stream
        .get_ref()
        .1
        .peer_certificates()
        .and_then(<[_]>::first)
        .map(|der| ClientCert::from_der(der.as_ref()));
    let conn = (Arc::clone(shared), Arc::clone(state));
    serve_connection(conn, stream, peer, cert, service).await;
}

async fn serve_connection<T, S, B>(
    (shared, state): (Arc<Shared>, Arc<ConnState>),
    stream: T,
    peer: SocketAddr,
    client_cert: Option<ClientCert>,
    service: S,
) where
    T: AsyncRead + AsyncWrite + Unpin + Send + 'static,
    S: Service<Request<RequestBody>, Response = Response<B>> + Send + 'static,
    S::Future: Send + 'static,
    S::Error: Into<BoxError>,
    B: Body<Data = Bytes> + Send + 'static,
    B::Error: Into<BoxError>,
{
    let config = &shared.config;
    let mut builder = hyper::server::conn::http1::Builder::new();
    builder
        .timer(TokioTimer::new())
        .header_read_timeout(config.header_read_timeout)
        .keep_alive(true)
        .max_headers(config.max_headers)
        .max_header_size(config.max_header_size);
    let handler = Handler {
        shared: Arc::clone(&shared),
        state: Arc::clone(&state),
        peer,
        client_cert,
        service,
    };
    let io = TokioIo::new(Tracked {
        stream,
        state: Arc::clone(&state),
    });
    let connection = builder.serve_connection(io, handler);
    tokio::pin!(connection);
    let keep_alive = config.keep_alive_timeout;
    loop {
        let idle = state.in_flight.load(Ordering::Acquire) == 0
            && !state.read_since_idle.load(Ordering::Acquire);
        let wake = if idle {
            let since = state.idle_since_ms.load(Ordering::Acquire);
            shared.epoch + Duration::from_millis(since) + keep_alive
        } else {
            Instant::now() + keep_alive
        };
        tokio::select! {
            // A client that goes away mid-request is not worth a log line.
            _ = connection.as_mut() => return,
            () = state.evict.notified() => {
                // A request may have started since it was chosen: keep it.
                if state.in_flight.load(Ordering::Acquire) == 0 {
                    return;
                }
                state.evicted.store(false, Ordering::Release);
            }
            () = tokio::time::sleep_until(wake) => {
                // Idle now, and for the whole timeout since the last
                // response ended: requests may have come and gone since
                // `wake` was computed, so the deadline is read again.
                let still_idle = state.in_flight.load(Ordering::Acquire) == 0
                    && !state.read_since_idle.load(Ordering::Acquire);
                let since = state.idle_since_ms.load(Ordering::Acquire);
                let deadline = shared.epoch + Duration::from_millis(since) + keep_alive;
                if still_idle && Instant::now() >= deadline {
                    shared.stats.idle_closed.fetch_add(1, Ordering::Relaxed);
                    return;
                }
            }
        }
    }
}

/// The per-connection hyper service: marks the request in flight, runs the
/// request-line checks, wraps the body and calls the user's service.
struct Handler<S> {
    shared: Arc<Shared>,
    state: Arc<ConnState>,
    peer: SocketAddr,
    /// The TLS client's certificate, the same for every request.
    client_cert: Option<ClientCert>,
    service: S,
}

type HandlerFuture<B> =
    Pin<Box<dyn Future<Output = Result<Response<ServerBody<B>>, Infallible>> + Send>>;

impl<S, B> Service<Request<Incoming>> for Handler<S>
where
    S: Service<Request<RequestBody>, Response = Response<B>>,
    S::Future: Send + 'static,
    S::Error: Into<BoxError>,
    B: Body<Data = Bytes> + Send + 'static,
    B::Error: Into<BoxError>,
{
    type Response = Response<ServerBody<B>>;
    type Error = Infallible;
    type Future = HandlerFuture<B>;

    fn call(&self, request: Request<Incoming>) -> Self::Future {
        let in_flight = InFlight::new(Arc::clone(&self.state), Arc::clone(&self.shared));
        let config = &self.shared.config;
        let (mut parts, body) = request.into_parts();
        if config.check_request_line
            && let Err(e) = check_request_line(&mut parts)
        {
            self.shared
                .stats
                .rejected_requests
                .fetch_add(1, Ordering::Relaxed);
            let (head, text) = e.to_response().into_parts();
            let response = Response::from_parts(
                head,
                ServerBody {
                    kind: BodyKind::Local(Some(Bytes::from(text))),
                    _in_flight: in_flight,
                },
            );
            return Box::pin(async move { Ok(response) });
        }
        parts.extensions.insert(PeerAddr(self.peer));
        if let Some(cert) = self.client_cert {
            parts.extensions.insert(cert);
        }
        let body = RequestBody::new(body, config.body_idle_timeout, config.body_read_timeout);
        let future = self.service.call(Request::from_parts(parts, body));
        Box::pin(async move {
            let response = match future.await {
                Ok(response) => {
                    let (head, body) = response.into_parts();
                    Response::from_parts(
                        head,
                        ServerBody {
                            kind: BodyKind::Service(Box::pin(body)),
                            _in_flight: in_flight,
                        },
                    )
                }
                Err(_) => {
                    let mut response = Response::new(ServerBody {
                        kind: BodyKind::Local(Some(Bytes::from_static(b"internal server error\n"))),
                        _in_flight: in_flight,
                    });
                    *response.status_mut() = StatusCode::INTERNAL_SERVER_ERROR;
                    response
                        .headers_mut()
                        .insert(header::CONNECTION, HeaderValue::from_static("close"));
                    response
                }
            };
            Ok(response)
        })
    }
}
