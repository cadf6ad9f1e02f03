//! [`HyperClient`]: the key driver's [`HttpClient`] on hyper-util's pooled
//! client with rustls (ring provider, the Mozilla roots from webpki-roots,
//! HTTP/1.1). HTTPS only, with certificate and host name verification;
//! plain HTTP only when you opt in with
//! [`HyperClient::with_plain_http_loopback`], and then only to loopback
//! hosts (a development issuer, tests).
//!
//! ```no_run
//! use std::sync::Arc;
//! use edge_auth::driver::client::HyperClient;
//! use edge_auth::driver::keys::KeyDriver;
//! use edge_auth::gate::{Gate, GateConfig, IssuerConfig};
//!
//! let issuer = IssuerConfig::new("https://idp.example.com", ["api://orders"]);
//! let gate = Arc::new(Gate::new(GateConfig::new([issuer]))?);
//! let driver = KeyDriver::new(gate, HyperClient::new()?);
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! ```

use std::net::IpAddr;
use std::sync::Arc;

use bytes::Bytes;
use http::{Request, Uri};
use http_body_util::{BodyExt, Empty, Full, Limited};
use hyper_rustls::{HttpsConnector, HttpsConnectorBuilder};
use hyper_util::client::legacy::Client;
use hyper_util::client::legacy::connect::HttpConnector;
use hyper_util::rt::TokioExecutor;

use super::keys::{DriverError, FetchFuture, FetchRequest, FetchResponse, HttpClient};

/// An [`HttpClient`] on hyper-util + hyper-rustls. Cheap to clone (the
/// connection pool is shared).
#[derive(Clone)]
pub struct HyperClient {
    client: Client<HttpsConnector<HttpConnector>, Empty<Bytes>>,
    /// Form POSTs (token introspection), on the same connector.
    post_client: Client<HttpsConnector<HttpConnector>, Full<Bytes>>,
    plain_http_loopback: bool,
}

impl std::fmt::Debug for HyperClient {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("HyperClient")
            .field("plain_http_loopback", &self.plain_http_loopback)
            .finish_non_exhaustive()
    }
}

impl HyperClient {
    /// An HTTPS-only client: rustls on ring, webpki roots, HTTP/1.1.
    ///
    /// # Errors
    /// [`DriverError`] when the ring provider does not support rustls'
    /// default protocol versions (it does; the error is kept, not unwrapped).
    pub fn new() -> Result<Self, DriverError> {
        let connector = connector()?;
        Ok(Self {
            client: Client::builder(TokioExecutor::new()).build(connector.clone()),
            post_client: Client::builder(TokioExecutor::new()).build(connector),
            plain_http_loopback: false,
        })
    }

    /// Also allows plain `http://` URLs whose host is `localhost` or a
    /// loopback address: for a development issuer and tests only. Keys
    /// decide who gets in; anywhere else they come over TLS.
    #[must_use]
    pub fn with_plain_http_loopback(mut self) -> Self {
        self.plain_http_loopback = true;
        self
    }

    fn check_url(&self, uri: &Uri) -> Result<(), DriverError> {
        match uri.scheme_str() {
            Some("https") => Ok(()),
            Some("http") if self.plain_http_loopback && is_loopback(uri) => Ok(()),
            Some("http") => Err(DriverError::fetch(format!(
                "refusing plain-HTTP key fetch from `{uri}`"
            ))),
            _ => Err(DriverError::fetch(format!("unsupported URL `{uri}`"))),
        }
    }

    async fn fetch(&self, request: FetchRequest) -> Result<FetchResponse, DriverError> {
        let uri: Uri = request
            .url
            .parse()
            .map_err(|e| DriverError::fetch(format!("bad URL `{}`: {e}", request.url)))?;
        self.check_url(&uri)?;
        let mut outbound = Request::get(uri)
            .body(Empty::new())
            .map_err(|e| DriverError::fetch(e.to_string()))?;
        *outbound.headers_mut() = request.headers;
        let response =
            self.client.request(outbound).await.map_err(|e| {
                DriverError::fetch(format!("request to `{}` failed: {e}", request.url))
            })?;
        read(response, request.max_body_bytes, "body", &request.url).await
    }

    async fn post_form(
        &self,
        request: Request<Vec<u8>>,
        max_body_bytes: usize,
    ) -> Result<FetchResponse, DriverError> {
        let uri = request.uri().clone();
        self.check_url(&uri)?;
        let (parts, body) = request.into_parts();
        let outbound = Request::from_parts(parts, Full::new(Bytes::from(body)));
        // The error names the endpoint only: the body carries the token.
        let response = self
            .post_client
            .request(outbound)
            .await
            .map_err(|e| DriverError::fetch(format!("request to `{uri}` failed: {e}")))?;
        read(response, max_body_bytes, "body", &uri.to_string()).await
    }
}

/// The TLS connector both hyper clients (keys here, tokens in
/// `oauth`) are built on: rustls on ring, webpki roots, HTTP/1.1. The scheme
/// is checked per request: plain HTTP passes only to loopback hosts, and
/// only after the opt-in.
pub(super) fn connector() -> Result<HttpsConnector<HttpConnector>, DriverError> {
    Ok(HttpsConnectorBuilder::new()
        .with_provider_and_webpki_roots(Arc::new(rustls::crypto::ring::default_provider()))
        .map_err(|e| DriverError::fetch(format!("TLS client: {e}")))?
        .https_or_http()
        .enable_http1()
        .build())
}

/// Reads a response body of at most `max_body_bytes`; a read error says
/// which `what` (the body, the token response) failed from `url`.
pub(super) async fn read(
    response: http::Response<hyper::body::Incoming>,
    max_body_bytes: usize,
    what: &str,
    url: &str,
) -> Result<FetchResponse, DriverError> {
    let (head, body) = response.into_parts();
    let body = Limited::new(body, max_body_bytes)
        .collect()
        .await
        .map_err(|e| {
            if e.is::<http_body_util::LengthLimitError>() {
                DriverError::body_too_large(max_body_bytes)
            } else {
                DriverError::fetch(format!("reading the {what} from `{url}`: {e}"))
            }
        })?
        .to_bytes();
    Ok(FetchResponse::new(head.status, head.headers, body.to_vec()))
}

impl HttpClient for HyperClient {
    fn get(&self, request: FetchRequest) -> FetchFuture<'_> {
        Box::pin(self.fetch(request))
    }

    fn post(&self, request: Request<Vec<u8>>, max_body_bytes: usize) -> FetchFuture<'_> {
        Box::pin(self.post_form(request, max_body_bytes))
    }
}

/// Whether `uri`'s host is `localhost` or a loopback address.
pub(super) fn is_loopback(uri: &Uri) -> bool {
    let host = uri.host().unwrap_or_default().trim_matches(['[', ']']);
    host.eq_ignore_ascii_case("localhost")
        || host.parse::<IpAddr>().is_ok_and(|ip| ip.is_loopback())
}
