//! Key documents over HTTP for the sans-IO Gate: runs its `FetchPlan`s with a
//! per-issuer single-flight (one discovery / JWKS fetch in flight per issuer,
//! concurrent requests wait for it) and feeds the answers back.

use std::collections::HashMap;
use std::net::IpAddr;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, PoisonError};
use std::time::Duration;

use bytes::Bytes;
use http::{HeaderMap, Request, StatusCode, Uri, header};
use http_body_util::{BodyExt, Full, Limited};
use hyper_util::client::legacy::Client;
use hyper_util::client::legacy::connect::HttpConnector;

use super::gate_standin::{FetchPlan, Gate};
use super::proxy::{Clock, Stats};

/// Largest discovery document or JWKS we read.
const MAX_KEY_DOCUMENT: usize = 256 * 1024;

pub(super) type HttpClient = Client<HttpConnector, Full<Bytes>>;

/// One key fetch in flight per issuer; the others wait for it.
pub(super) struct Fetcher {
    client: HttpClient,
    flights: Mutex<HashMap<String, Arc<Flight>>>,
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
    pub(super) fn new(client: HttpClient, timeout: Duration, stats: Arc<Stats>) -> Self {
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

    /// Runs `plan` unless a fetch for its issuer completed after `seen`, and
    /// feeds the result to the Gate.
    pub(super) async fn run(
        self: &Arc<Self>,
        gate: &Arc<Gate>,
        clock: &Clock,
        plan: &FetchPlan,
        seen: u64,
    ) {
        let flight = {
            let mut flights = self.flights.lock().unwrap_or_else(PoisonError::into_inner);
            // Keyed by issuer: issuers come from configuration, so the map is bounded.
            Arc::clone(flights.entry(plan.issuer().to_owned()).or_default())
        };
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
            match fetcher.fetch(plan.url()).await {
                Ok((status, headers, body)) => {
                    if let Err(e) =
                        gate.apply_fetch_response(&plan, status, &headers, &body, clock())
                    {
                        eprintln!("keys from `{}` refused: {e}", plan.url());
                    }
                }
                Err(reason) => gate.apply_fetch_failure(&plan, &reason, clock()),
            }
            let done = fetcher.sequence.fetch_add(1, Ordering::SeqCst) + 1;
            flight.completed.store(done, Ordering::SeqCst);
        });
        let _ = task.await;
    }

    async fn fetch(&self, url: &str) -> Result<(StatusCode, HeaderMap, Bytes), String> {
        let uri: Uri = url.parse().map_err(|e| format!("bad URL `{url}`: {e}"))?;
        check_key_url(&uri)?;
        let request = Request::get(uri)
            .header(header::ACCEPT, "application/json")
            .body(Full::new(Bytes::new()))
            .map_err(|e| e.to_string())?;
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
        Some("https") => Err(format!(
            "`{uri}` needs an HTTPS client; this example ships plain HTTP only (a TLS client \
             means hyper-rustls + rustls + a root store; add them to fetch from a real IdP)"
        )),
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
