//! Key documents over HTTPS for the sans-IO Gate: runs its `FetchPlan`s with a
//! per-issuer single-flight (one discovery / JWKS fetch in flight per issuer,
//! concurrent requests wait for it) and feeds the answers back. TLS is rustls
//! on ring with the Mozilla roots (webpki-roots); plain HTTP only to loopback.

use std::collections::HashMap;
use std::net::IpAddr;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, PoisonError};
use std::time::Duration;

use bytes::Bytes;
use edge_auth::gate::{FetchKind, FetchPlan, Gate};
use http::{HeaderMap, Request, StatusCode, Uri, header};
use http_body_util::{BodyExt, Full, Limited};
use hyper_rustls::{HttpsConnector, HttpsConnectorBuilder};
use hyper_util::client::legacy::Client;
use hyper_util::client::legacy::connect::HttpConnector;
use hyper_util::rt::TokioExecutor;

use super::proxy::{Clock, Stats};

/// Largest discovery document or JWKS we read.
const MAX_KEY_DOCUMENT: usize = 256 * 1024;

pub(super) type KeyClient = Client<HttpsConnector<HttpConnector>, Full<Bytes>>;

/// The key client: HTTPS with certificate and host name verification
/// (rustls, ring provider, webpki-roots), and plain HTTP, which
/// [`check_key_url`] allows only for loopback hosts (the dev issuer).
///
/// # Errors
/// When the ring provider does not support rustls' default protocol versions.
pub(super) fn key_client() -> Result<KeyClient, String> {
    let connector = HttpsConnectorBuilder::new()
        .with_provider_and_webpki_roots(Arc::new(rustls::crypto::ring::default_provider()))
        .map_err(|e| format!("TLS client: {e}"))?
        .https_or_http()
        .enable_http1()
        .build();
    Ok(Client::builder(TokioExecutor::new()).build(connector))
}

/// One key fetch in flight per issuer; the others wait for it.
pub(super) struct Fetcher {
    client: KeyClient,
    flights: Mutex<HashMap<(String, FetchKind), Arc<Flight>>>,
    /// Bumped when any fetch completes; `Flight::completed` records the value.
    sequence: AtomicU64,
    timeout: Duration,
    stats: Arc<Stats>,
}

#[derive(Default)]
struct Flight {
    lock: Arc<tokio::sync::Mutex<()>>,
    completed: AtomicU64,
}

impl Fetcher {
    pub(super) fn new(client: KeyClient, timeout: Duration, stats: Arc<Stats>) -> Self {
        Self {
            client,
            flights: Mutex::default(),
            sequence: AtomicU64::new(0),
            timeout,
            stats,
        }
    }

    /// Completed fetches so far; read it before `Gate::check` and pass it to `run`.
    pub(super) fn sequence(&self) -> u64 {
        self.sequence.load(Ordering::SeqCst)
    }

    /// Waits for the fetch in flight for `plan`'s issuer, without sending one:
    /// until this process' fetch completes, or `pause` when none of ours is
    /// running (the Gate handed the plan out and its answer is on the way).
    pub(super) async fn join(&self, plan: &FetchPlan, seen: u64, pause: Duration) {
        let flight = self.flight(plan);
        let guard = flight.lock.lock().await;
        if flight.completed.load(Ordering::SeqCst) > seen {
            self.stats.joined.fetch_add(1, Ordering::Relaxed);
            return;
        }
        drop(guard);
        tokio::time::sleep(pause).await;
    }

    fn flight(&self, plan: &FetchPlan) -> Arc<Flight> {
        let mut flights = self.flights.lock().unwrap_or_else(PoisonError::into_inner);
        // Keyed by issuer and kind (a discovery refresh and a key set
        // refresh may be due together): issuers come from configuration, so
        // the map is bounded.
        let key = (plan.issuer().to_owned(), plan.kind());
        Arc::clone(flights.entry(key).or_default())
    }

    /// Runs `plan` unless a fetch for its issuer completed after `seen`, and
    /// feeds the result to the Gate.
    pub(super) async fn run(
        self: &Arc<Self>,
        gate: &Arc<Gate>,
        clock: &Clock,
        plan: &FetchPlan,
        seen: u64,
    ) {
        let flight = self.flight(plan);
        let guard = Arc::clone(&flight.lock).lock_owned().await;
        if flight.completed.load(Ordering::SeqCst) > seen {
            self.stats.joined.fetch_add(1, Ordering::Relaxed);
            return;
        }
        // The fetch runs in its own task holding the lock, so a client that
        // hangs up cannot cancel it halfway and set every waiter fetching.
        let (fetcher, gate, clock, plan) = (
            Arc::clone(self),
            Arc::clone(gate),
            Arc::clone(clock),
            plan.clone(),
        );
        let task = tokio::spawn(async move {
            let _guard = guard;
            fetcher.stats.fetches.fetch_add(1, Ordering::Relaxed);
            match fetcher.fetch(plan.url(), plan.headers()).await {
                Ok((status, headers, body)) => {
                    if let Err(e) =
                        gate.apply_fetch_response(&plan, status, &headers, &body, clock())
                    {
                        eprintln!("keys from `{}` refused: {e}", plan.url());
                    }
                }
                Err(reason) => {
                    eprintln!("keys from `{}` not fetched: {reason}", plan.url());
                    gate.apply_fetch_failure(&plan, &reason, clock());
                }
            }
            let done = fetcher.sequence.fetch_add(1, Ordering::SeqCst) + 1;
            flight.completed.store(done, Ordering::SeqCst);
        });
        let _ = task.await;
    }

    async fn fetch(
        &self,
        url: &str,
        extra: &HeaderMap,
    ) -> Result<(StatusCode, HeaderMap, Bytes), String> {
        let uri: Uri = url.parse().map_err(|e| format!("bad URL `{url}`: {e}"))?;
        check_key_url(&uri)?;
        let mut request = Request::get(uri)
            .header(header::ACCEPT, "application/json")
            .body(Full::new(Bytes::new()))
            .map_err(|e| e.to_string())?;
        // The Gate's conditional-request headers (If-None-Match): a 304
        // keeps the cached set without downloading it again.
        for (name, value) in extra {
            request.headers_mut().insert(name, value.clone());
        }
        let work = async {
            let response = self
                .client
                .request(request)
                .await
                .map_err(|e| format!("request failed: {e}"))?;
            let (head, body) = response.into_parts();
            let body = Limited::new(body, MAX_KEY_DOCUMENT)
                .collect()
                .await
                .map_err(|e| format!("body: {e}"))?
                .to_bytes();
            Ok((head.status, head.headers, body))
        };
        tokio::time::timeout(self.timeout, work)
            .await
            .map_err(|_| format!("no answer within {:?}", self.timeout))?
    }
}

/// Keys decide who gets in, so they come over TLS, or over plain HTTP only
/// from this machine (the development issuer).
fn check_key_url(uri: &Uri) -> Result<(), String> {
    match uri.scheme_str() {
        Some("https") => Ok(()),
        Some("http") => {
            let host = uri.host().unwrap_or_default().trim_matches(['[', ']']);
            let loopback = host.eq_ignore_ascii_case("localhost")
                || host.parse::<IpAddr>().is_ok_and(|ip| ip.is_loopback());
            if loopback {
                Ok(())
            } else {
                Err(format!(
                    "refusing plain-HTTP key fetch from non-loopback `{uri}`"
                ))
            }
        }
        _ => Err(format!("unsupported URL `{uri}`")),
    }
}
