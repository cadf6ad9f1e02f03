//! The Workers I/O around [`WorkerGate`]: the clock (`Date::now`), the key
//! fetches (`Fetch`), KV and Cache API reads and writes, `waitUntil`
//! refreshes, and the request to the origin.

use http::{HeaderMap, StatusCode};
use time::OffsetDateTime;
use worker::{
    Cache, Context, Date, Delay, Env, Fetch, Headers, HttpRequest, Response, console_error,
    console_log, console_warn,
};

use super::js::{js_headers, outbound};
use super::{Step, WorkerGate, cache_key, kv_key, time_from_unix_millis};
use crate::Principal;
use crate::gate::FetchPlan;
use crate::policy::Decision;
use crate::response::Rejection;

/// How often a request waiting for another's key fetch looks again, and
/// how many times before it steps again (10 s).
const WAIT_POLL: std::time::Duration = std::time::Duration::from_millis(10);
const WAIT_POLLS: usize = 1000;

/// The client certificate in `request.cf.tlsClientAuth`, read field by
/// field with `Reflect`: workers-rs' `TlsClientAuth` getters unwrap, so a
/// field that is absent or not a string would panic and take the isolate
/// down. Any such gap reads as no certificate (a bound token is refused).
/// It costs a JS request, so the Gate calls it (through a
/// [`CertSource`](crate::mtls::CertSource)) only for a certificate-bound
/// token.
fn cf_client_cert(cf: worker::Cf) -> Option<crate::mtls::ClientCert> {
    use worker::js_sys::Reflect;
    use worker::wasm_bindgen::JsValue;

    // workers-rs keeps the raw `cf` object private; a request built with it
    // as its `cf` hands it back.
    let probe = http::Request::builder()
        .uri("https://cf.invalid/")
        .extension(cf)
        .body(worker::Body::empty())
        .ok()?;
    let probe = worker::Request::try_from(probe).ok()?;
    let cf = Reflect::get(probe.inner().as_ref(), &JsValue::from_str("cf")).ok()?;
    let auth = Reflect::get(&cf, &JsValue::from_str("tlsClientAuth")).ok()?;
    if !auth.is_object() {
        return None;
    }
    let field = |name: &str| {
        Reflect::get(&auth, &JsValue::from_str(name))
            .ok()?
            .as_string()
    };
    super::client_cert_from_cf(
        &field("certPresented")?,
        &field("certVerified")?,
        &field("certFingerprintSHA256")?,
    )
}

/// A request the Gate let through.
#[derive(Debug)]
#[non_exhaustive]
pub struct Authorized {
    /// The request as received, to forward or answer.
    pub request: HttpRequest,
    /// Who made it (`None`: an anonymous route reached without a token).
    pub principal: Option<Box<Principal>>,
    /// The policy decision, for the audit log.
    pub decision: Decision,
    /// The `now` the request was checked at.
    pub now: OffsetDateTime,
}

/// Checks `req` with `gate`: fetches the keys it needs (the Cache API and
/// KV first, then the issuer, at most
/// [`WorkerOptions::max_fetches`](super::WorkerOptions) times; concurrent
/// requests of the isolate wait for one fetch), writes a changed key state
/// to KV and the Cache API (sealed with a sealer) and refreshes keys after
/// the response (`ctx.wait_until`).
///
/// # Errors
/// The response to send back when the request is refused: 401 / 403 with
/// an RFC 6750 challenge, 400, or 503 when the issuer's keys cannot be
/// had; 500 when the clock cannot be read. The reason goes to the log,
/// never to the client.
pub async fn authorize(
    req: HttpRequest,
    env: &Env,
    ctx: &Context,
    gate: &WorkerGate,
) -> Result<Authorized, Response> {
    let now = match time_from_unix_millis(Date::now().as_millis()) {
        Ok(now) => now,
        Err(why) => {
            console_error!("edge-auth: {why}");
            return Err(plain(500, "internal server error\n"));
        }
    };
    let (mut parts, body) = req.into_parts();
    let country = parts
        .extensions
        .get::<worker::Cf>()
        .and_then(worker::Cf::country);
    // The client certificate of an mTLS zone, for certificate-bound
    // tokens: read when the Gate verifies one, not on every request.
    parts.extensions.remove::<crate::mtls::ClientCert>();
    parts.extensions.remove::<crate::mtls::CertSource>();
    if let Some(cf) = parts.extensions.get::<worker::Cf>().cloned() {
        parts
            .extensions
            .insert(crate::mtls::CertSource::new(move || {
                cf_client_cert(cf.clone())
            }));
    }
    let mut fetches = 0;
    for _ in 0..gate.max_steps() {
        match gate.step(&parts, country.as_deref(), fetches, now) {
            Step::Allow {
                principal,
                decision,
            } => {
                if principal.is_some() {
                    // A verified token: keys are held, keep them fresh.
                    refresh_in_background(gate, env, ctx);
                }
                return Ok(Authorized {
                    request: http::Request::from_parts(parts, body),
                    principal,
                    decision,
                    now,
                });
            }
            Step::Deny(rejection) => {
                console_log!(
                    "edge-auth: {} {} denied {}: {}",
                    parts.method,
                    parts.uri.path(),
                    rejection.status().as_u16(),
                    rejection.reason().unwrap_or("-")
                );
                return Err(rejection_response(&rejection));
            }
            Step::Preflight(response) => {
                let (head, body) = response.into_parts();
                return Err(answer(head.status, &head.headers, body));
            }
            Step::Restore { issuer, flight } => {
                restore(gate, env, &issuer, now).await;
                drop(flight);
            }
            Step::Fetch { plan, flight } => {
                fetches += 1;
                if let Some(state) = fetch_and_apply(gate, &plan, now).await {
                    let issuer = plan.issuer().to_owned();
                    ctx.wait_until(persist(gate.clone(), env.clone(), issuer, state));
                }
                drop(flight);
            }
            Step::Wait(wait) => {
                // Timers of this request's own: workerd cancels a request
                // that only awaits what another request resolves.
                for _ in 0..WAIT_POLLS {
                    if wait.is_done() {
                        break;
                    }
                    Delay::from(WAIT_POLL).await;
                }
            }
            // Only a policy's rules have rate limits, and without `policy`
            // the Gate never stages any: the Durable Object client stays
            // out of that build (a `cfg!` constant would not do: the
            // awaited future would stay in the state machine).
            #[cfg(not(feature = "policy"))]
            Step::Limits(_) => return Err(plain(500, "internal server error\n")),
            #[cfg(feature = "policy")]
            Step::Limits(pending) => {
                let Some(binding) = gate.options().limits_binding.as_deref() else {
                    return Err(plain(500, "internal server error\n"));
                };
                let answers =
                    super::durable::check_limits(env, binding, pending.calls(), now).await;
                for answer in &answers {
                    if let Err(e) = answer {
                        console_warn!("edge-auth: rate-limit store: {e}");
                    }
                }
                match gate.finish_limits(pending, answers, &parts, country.as_deref()) {
                    Step::Allow {
                        principal,
                        decision,
                    } => {
                        if principal.is_some() {
                            refresh_in_background(gate, env, ctx);
                        }
                        return Ok(Authorized {
                            request: http::Request::from_parts(parts, body),
                            principal,
                            decision,
                            now,
                        });
                    }
                    Step::Deny(rejection) => {
                        console_log!(
                            "edge-auth: {} {} denied {}: {}",
                            parts.method,
                            parts.uri.path(),
                            rejection.status().as_u16(),
                            rejection.reason().unwrap_or("-")
                        );
                        return Err(rejection_response(&rejection));
                    }
                    _ => return Err(plain(500, "internal server error\n")),
                }
            }
        }
    }
    console_warn!("edge-auth: keys still missing after {fetches} fetches");
    Err(rejection_response(&Rejection::unavailable(
        "the issuer's keys are unavailable",
    )))
}

#[cfg(feature = "httpsig")]
impl Authorized {
    /// Sends the request to `upstream`'s origin, rewritten and signed
    /// ([`Upstream::prepare`](super::Upstream::prepare)), and returns its
    /// answer; 500 when the request cannot be prepared, 502 when the origin
    /// does not answer (the reason goes to the log).
    pub async fn forward(self, upstream: &super::Upstream) -> Response {
        let (mut parts, body) = self.request.into_parts();
        if let Err(why) = upstream.prepare(&mut parts, self.principal.as_deref(), self.now) {
            console_error!("edge-auth: {why}");
            return plain(500, "internal server error\n");
        }
        let sent = async {
            let request = worker::Request::try_from(http::Request::from_parts(parts, body))?;
            Fetch::Request(request).send().await
        };
        match sent.await {
            Ok(response) => response,
            Err(e) => {
                console_error!("edge-auth: the origin did not answer: {e}");
                plain(502, "bad gateway\n")
            }
        }
    }
}

/// `response` as a Workers response, its body sent as one fixed buffer:
/// workers-rs' `TryFrom<http::Response>` streams the body through Rust
/// (and links its stream glue) even for a few bytes. A header value that
/// is not visible ASCII gives a plain 500 (workers-rs' conversion would
/// panic on some of them); an empty body is sent as none.
pub fn respond(response: http::Response<Vec<u8>>) -> Response {
    let (parts, body) = response.into_parts();
    answer(parts.status, &parts.headers, body)
}

/// The response for a rejection: the library's status, `WWW-Authenticate`
/// and `Cache-Control: no-store`, an empty body.
fn rejection_response(rejection: &Rejection) -> Response {
    let response = rejection.to_response();
    answer(response.status(), response.headers(), Vec::new())
}

/// A response the Gate made. Built with workers-rs' `ResponseBuilder`, not
/// its `TryFrom<http::Response>`: that one streams the body and links the
/// stream glue (~5 KB) for bodies that are a few bytes at most.
fn answer(status: StatusCode, headers: &HeaderMap, body: Vec<u8>) -> Response {
    match js_headers(headers) {
        Ok(headers) => {
            let builder = Response::builder()
                .with_status(status.as_u16())
                .with_headers(headers);
            // A null body, not an empty one: a 204 (preflight) must have none.
            if body.is_empty() {
                builder.empty()
            } else {
                builder.fixed(body)
            }
        }
        Err(_) => plain(500, "internal server error\n"),
    }
}

/// A bare text answer that no cache keeps.
fn plain(status: u16, body: &str) -> Response {
    let headers = Headers::new();
    // Setting a valid name to a valid value does not fail.
    let _ = headers.set("content-type", "text/plain; charset=utf-8");
    let _ = headers.set("cache-control", "no-store");
    Response::builder()
        .with_status(status)
        .with_headers(headers)
        .fixed(body.as_bytes().to_vec())
}

/// Restores the issuer's state from the Cache API (when enabled), else
/// from KV.
async fn restore(gate: &WorkerGate, env: &Env, issuer: &str, now: OffsetDateTime) {
    if gate.options().cache_api {
        match read_cache(issuer).await {
            Ok(Some(text)) => match gate.restore(issuer, &text, now) {
                Ok(()) => return console_log!("edge-auth: key state restored from the cache"),
                Err(e) => console_warn!("edge-auth: ignoring the key state in the cache: {e}"),
            },
            Ok(None) => {}
            Err(e) => console_warn!("edge-auth: cache read failed: {e}"),
        }
    }
    let Some(binding) = gate.options().kv_binding.as_deref() else {
        return;
    };
    match kv_get_text(env, binding, &kv_key(issuer)).await {
        Ok(Some(text)) => match gate.restore(issuer, &text, now) {
            Ok(()) => console_log!("edge-auth: key state restored from KV"),
            Err(e) => console_warn!("edge-auth: ignoring the key state in KV: {e}"),
        },
        Ok(None) => {}
        Err(e) => console_warn!("edge-auth: KV read from `{binding}` failed: {e}"),
    }
}

async fn read_cache(issuer: &str) -> worker::Result<Option<String>> {
    match Cache::default().get(cache_key(issuer), false).await? {
        Some(mut response) => response.text().await.map(Some),
        None => Ok(None),
    }
}

/// How long the Cache API keeps a state (the state itself says when its
/// keys expire; this only bounds how long a stale copy stays around).
const CACHE_TTL_SECS: u32 = 24 * 3600;

/// Writes a key state to KV and the Cache API for other isolates.
async fn persist(gate: WorkerGate, env: Env, issuer: String, state: String) {
    if gate.options().cache_api {
        let headers = Headers::new();
        let _ = headers.set("cache-control", &format!("max-age={CACHE_TTL_SECS}"));
        let response = Response::builder()
            .with_headers(headers)
            .fixed(state.clone().into_bytes());
        if let Err(e) = Cache::default().put(cache_key(&issuer), response).await {
            console_warn!("edge-auth: cache write failed: {e}");
        }
    }
    let Some(binding) = gate.options().kv_binding.as_deref() else {
        return;
    };
    if let Err(e) = kv_put(&env, binding, &kv_key(&issuer), state.as_bytes()).await {
        console_warn!("edge-auth: KV write to `{binding}` failed: {e}");
    }
}

/// `put(key, bytes)` on the KV binding.
pub(super) async fn kv_put(
    env: &Env,
    binding: &str,
    key: &str,
    value: &[u8],
) -> Result<(), String> {
    let bytes = worker::js_sys::Uint8Array::from(value).buffer();
    kv_call(env, binding, "put", key, &bytes).await.map(drop)
}

/// `get(key, "text")` on the KV binding: the value, `None` when absent.
pub(super) async fn kv_get_text(
    env: &Env,
    binding: &str,
    key: &str,
) -> Result<Option<String>, String> {
    let text = worker::wasm_bindgen::JsValue::from("text");
    Ok(kv_call(env, binding, "get", key, &text).await?.as_string())
}

/// Calls `method(key, arg)` on the KV binding and awaits its promise.
/// Called directly: workers-rs' `KvStore` builders serialize their options
/// (empty here) with serde-wasm-bindgen, which links a JS serializer the
/// Worker does not otherwise need.
async fn kv_call(
    env: &Env,
    binding: &str,
    method: &str,
    key: &str,
    arg: &worker::wasm_bindgen::JsValue,
) -> Result<worker::wasm_bindgen::JsValue, String> {
    use worker::js_sys::{Function, Promise, Reflect};
    use worker::wasm_bindgen::{JsCast, JsValue};
    use worker::wasm_bindgen_futures::JsFuture;

    let failed = |e: JsValue| match e.dyn_ref::<worker::js_sys::Error>() {
        Some(error) => String::from(error.message()),
        None => e
            .as_string()
            .unwrap_or_else(|| "a JavaScript error".to_owned()),
    };
    let kv = Reflect::get(env, &JsValue::from(binding)).map_err(failed)?;
    if kv.is_undefined() {
        return Err("no such binding".to_owned());
    }
    let function: Function = Reflect::get(&kv, &JsValue::from(method))
        .map_err(failed)?
        .dyn_into()
        .map_err(|_| format!("the binding has no `{method}`"))?;
    let promise: Promise = function
        .call2(&kv, &JsValue::from(key), arg)
        .map_err(failed)?
        .dyn_into()
        .map_err(|_| format!("`{method}` did not return a promise"))?;
    JsFuture::from(promise).await.map_err(failed)
}

/// Runs the Gate's background fetches after the response is sent.
fn refresh_in_background(gate: &WorkerGate, env: &Env, ctx: &Context) {
    let Ok(now) = time_from_unix_millis(Date::now().as_millis()) else {
        return;
    };
    let plans = gate.background_fetches(now);
    if plans.is_empty() {
        return;
    }
    let (gate, env) = (gate.clone(), env.clone());
    ctx.wait_until(async move {
        for plan in plans {
            let Some(state) = fetch_and_apply(&gate, &plan, now).await else {
                continue;
            };
            persist(gate.clone(), env.clone(), plan.issuer().to_owned(), state).await;
        }
    });
}

/// GETs `plan` and applies the answer; the key state to write to KV when
/// it changed.
async fn fetch_and_apply(
    gate: &WorkerGate,
    plan: &FetchPlan,
    now: OffsetDateTime,
) -> Option<String> {
    let result = async {
        #[cfg(not(feature = "introspect"))]
        let request = outbound(plan.url(), "GET", plan.headers(), None)?;
        #[cfg(feature = "introspect")]
        let request = match plan.introspection() {
            // A token introspection (RFC 7662): the form POST it carries.
            Some(introspection) => {
                let form = introspection.to_request();
                outbound(
                    plan.url(),
                    "POST",
                    form.headers(),
                    Some(form.body().as_slice()),
                )?
            }
            None => outbound(plan.url(), "GET", plan.headers(), None)?,
        };
        let mut response = Fetch::Request(request).send().await?;
        let status = StatusCode::from_u16(response.status_code())?;
        let headers = HeaderMap::from(response.headers());
        let body = response.bytes().await?;
        Ok::<_, worker::Error>((status, headers, body))
    }
    .await;
    let (status, headers, body) = match result {
        Ok(answer) => answer,
        Err(e) => {
            console_warn!("edge-auth: fetching {} failed: {e}", plan.url());
            gate.apply_failure(plan, &e.to_string(), now);
            return None;
        }
    };
    match gate.apply_response(plan, status, &headers, &body, now) {
        Ok(state) => state,
        Err(e) => {
            console_warn!("edge-auth: {} refused: {e}", plan.url());
            None
        }
    }
}
