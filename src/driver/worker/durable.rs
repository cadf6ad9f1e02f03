//! Durable Objects stores for the Worker (issue 17): rate-limit state and
//! RFC 9421 replay nonces shared by every isolate, one object per key
//! shard. An object serialises the requests it gets, so its read, decide,
//! write of one key is atomic; the decision is the core's
//! [`limit::decide`] (GCRA) over the TAT kept in the
//! object's storage. Each write also sweeps a batch of the object's
//! entries ([`sweep`]), deleting idle limits and expired nonces, so an
//! object's storage holds the live keys, not every key it ever saw.
//!
//! This half is runtime-independent: the protocol between the Worker and
//! its objects ([`ObjectRequest`]), the object's decision over its stored
//! value ([`answer`]) and the shard of a key ([`shard_name`]). The Workers
//! calls (`check_limits`, `check_nonce`, `serve_object`) are wasm32-only.
//!
//! # The messages
//!
//! The Worker `POST`s an [`ObjectRequest`] to the object's stub and the
//! object answers 200 with an [`ObjectAnswer`], both as
//! `application/x-www-form-urlencoded` text (`url`'s `form_urlencoded`
//! writes and reads it; no serde code in the Worker for them):
//!
//! | message | fields |
//! |---|---|
//! | limit request | `op=limit&key=..&count=..&period_nanos=..&burst=..&now_nanos=..` |
//! | nonce request | `op=nonce&key=..&expires_nanos=..&now_nanos=..` |
//! | limit answer | `op=limit&allowed=1&retry_after_nanos=..&remaining=..&reset_nanos=..&next_nanos=..` |
//! | nonce answer | `op=nonce&fresh=1` |
//!
//! Integers are decimal (`*_nanos` are `i64` nanoseconds, exact: never a
//! JS number), flags `1` or `0`. A missing, repeated, unknown or malformed
//! field refuses the message with [`WorkerError::Invalid`] naming the
//! field; the object answers such a request 400. The object class ships in
//! the same script as the Worker, so both sides always speak one version.
//!
//! The Worker exports the object class with one line,
//! [`durable_object_class!`](crate::durable_object_class) (see
//! examples/worker): its `fetch` calls `serve_object`.

use std::borrow::Cow;
use std::str::FromStr;

use time::{Duration, OffsetDateTime};

use super::WorkerError;
use crate::limit::{self, Decision, Limit, LimitCall, Rate, Tat};

/// Key shards (objects) the limit and nonce keys are spread over.
pub const DEFAULT_SHARDS: u32 = 16;

/// What the Worker asks one object: form-encoded text in the body of a
/// `POST` to the object's stub ([`to_form`](Self::to_form); the format is
/// in the [module docs](self)).
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum ObjectRequest {
    /// Decide one rate limit for one key at `now_nanos`, and count the
    /// request when it is admitted.
    Limit {
        /// The store key ([`LimitCall::key`]).
        key: String,
        /// Requests per period.
        count: u32,
        /// The period, in nanoseconds.
        period_nanos: i64,
        /// The burst.
        burst: u32,
        /// The gate's `now`, in nanoseconds since the Unix epoch.
        now_nanos: i64,
    },
    /// Refuse a nonce seen before and not yet expired, else remember it
    /// until `expires_nanos`.
    Nonce {
        /// The `keyid` and nonce, joined by [`nonce_key`].
        key: String,
        /// When the signature stops being acceptable (Unix nanoseconds).
        expires_nanos: i64,
        /// The verifier's `now` (Unix nanoseconds).
        now_nanos: i64,
    },
}

impl ObjectRequest {
    /// The request for one [`LimitCall`] at `now`.
    pub fn limit(call: &LimitCall, now: OffsetDateTime) -> Self {
        let limit = call.limit();
        Self::Limit {
            key: call.key().to_owned(),
            count: limit.rate().count(),
            period_nanos: clamp_nanos(limit.rate().period().whole_nanoseconds()),
            burst: limit.burst(),
            now_nanos: clamp_nanos(now.unix_timestamp_nanos()),
        }
    }

    /// The key this request reads and writes in the object's storage.
    pub fn storage_key(&self) -> String {
        match self {
            Self::Limit { key, .. } => format!("limit:{key}"),
            Self::Nonce { key, .. } => format!("nonce:{key}"),
        }
    }

    /// The caller's `now`, in nanoseconds since the Unix epoch.
    pub fn now_nanos(&self) -> i64 {
        match self {
            Self::Limit { now_nanos, .. } | Self::Nonce { now_nanos, .. } => *now_nanos,
        }
    }

    /// The store key the shard is chosen by.
    pub fn key(&self) -> &str {
        match self {
            Self::Limit { key, .. } | Self::Nonce { key, .. } => key,
        }
    }

    /// The request as form-encoded text (the [module docs](self) give the
    /// fields).
    pub fn to_form(&self) -> String {
        let mut form = url::form_urlencoded::Serializer::new(String::new());
        match self {
            Self::Limit {
                key,
                count,
                period_nanos,
                burst,
                now_nanos,
            } => form
                .append_pair("op", "limit")
                .append_pair("key", key)
                .append_pair("count", &count.to_string())
                .append_pair("period_nanos", &period_nanos.to_string())
                .append_pair("burst", &burst.to_string())
                .append_pair("now_nanos", &now_nanos.to_string()),
            Self::Nonce {
                key,
                expires_nanos,
                now_nanos,
            } => form
                .append_pair("op", "nonce")
                .append_pair("key", key)
                .append_pair("expires_nanos", &expires_nanos.to_string())
                .append_pair("now_nanos", &now_nanos.to_string()),
        };
        form.finish()
    }

    /// Reads a request written by [`to_form`](Self::to_form).
    ///
    /// # Errors
    /// [`WorkerError::Invalid`] naming the field when one is missing,
    /// repeated, unknown or malformed, or `op` names no request.
    pub fn from_form(text: &str) -> Result<Self, WorkerError> {
        let form = Form::parse(text, REQUEST)?;
        match form.text("op")? {
            "limit" => {
                form.only(&["op", "key", "count", "period_nanos", "burst", "now_nanos"])?;
                Ok(Self::Limit {
                    key: form.text("key")?.to_owned(),
                    count: form.number("count")?,
                    period_nanos: form.number("period_nanos")?,
                    burst: form.number("burst")?,
                    now_nanos: form.number("now_nanos")?,
                })
            }
            "nonce" => {
                form.only(&["op", "key", "expires_nanos", "now_nanos"])?;
                Ok(Self::Nonce {
                    key: form.text("key")?.to_owned(),
                    expires_nanos: form.number("expires_nanos")?,
                    now_nanos: form.number("now_nanos")?,
                })
            }
            other => Err(form.unknown_op(other)),
        }
    }
}

const REQUEST: &str = "durable object request";
const ANSWER: &str = "durable object answer";

/// The fields of one form-encoded message, each name at most once.
struct Form<'a> {
    what: &'static str,
    pairs: Vec<(Cow<'a, str>, Cow<'a, str>)>,
}

impl<'a> Form<'a> {
    fn parse(text: &'a str, what: &'static str) -> Result<Self, WorkerError> {
        let mut pairs: Vec<(Cow<'a, str>, Cow<'a, str>)> = Vec::new();
        for (name, value) in url::form_urlencoded::parse(text.as_bytes()) {
            if pairs.iter().any(|(seen, _)| *seen == name) {
                return Err(invalid(
                    what,
                    format!("field `{}` is repeated", printable(&name)),
                ));
            }
            pairs.push((name, value));
        }
        Ok(Self { what, pairs })
    }

    /// Refuses a field not in `known`.
    fn only(&self, known: &[&str]) -> Result<(), WorkerError> {
        match self
            .pairs
            .iter()
            .find(|(name, _)| !known.contains(&name.as_ref()))
        {
            Some((name, _)) => Err(invalid(
                self.what,
                format!("unknown field `{}`", printable(name)),
            )),
            None => Ok(()),
        }
    }

    fn text(&self, name: &'static str) -> Result<&str, WorkerError> {
        self.pairs
            .iter()
            .find(|(seen, _)| seen == name)
            .map(|(_, value)| value.as_ref())
            .ok_or_else(|| invalid(self.what, format!("field `{name}` is missing")))
    }

    fn number<T: FromStr>(&self, name: &'static str) -> Result<T, WorkerError> {
        let value = self.text(name)?;
        value.parse().map_err(|_| {
            invalid(
                self.what,
                format!(
                    "field `{name}` is not an integer in range: `{}`",
                    printable(value)
                ),
            )
        })
    }

    fn flag(&self, name: &'static str) -> Result<bool, WorkerError> {
        match self.text(name)? {
            "1" => Ok(true),
            "0" => Ok(false),
            other => Err(invalid(
                self.what,
                format!("field `{name}` is not `1` or `0`: `{}`", printable(other)),
            )),
        }
    }

    fn unknown_op(&self, op: &str) -> WorkerError {
        invalid(self.what, format!("unknown op `{}`", printable(op)))
    }
}

fn invalid(what: &'static str, reason: String) -> WorkerError {
    WorkerError::Invalid { var: what, reason }
}

/// A wire value, safe and short enough to quote in an error.
fn printable(value: &str) -> String {
    crate::text::printable(value, 64)
}

fn duration_nanos(duration: Duration) -> i64 {
    clamp_nanos(duration.whole_nanoseconds())
}

fn clamp_nanos(nanos: i128) -> i64 {
    i64::try_from(nanos).unwrap_or(if nanos < 0 { i64::MIN } else { i64::MAX })
}

/// What an object answers: form-encoded text as [`ObjectRequest`]
/// ([`to_form`](Self::to_form); the format is in the [module docs](self)).
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum ObjectAnswer {
    /// The limit's decision.
    Limit(Decision),
    /// Whether the nonce is new (`false`: a replay).
    Nonce {
        /// `true`: first seen, now remembered.
        fresh: bool,
    },
}

impl ObjectAnswer {
    /// The answer as form-encoded text (the [module docs](self) give the
    /// fields).
    pub fn to_form(&self) -> String {
        let mut form = url::form_urlencoded::Serializer::new(String::new());
        let flag = |on: bool| if on { "1" } else { "0" };
        match self {
            Self::Limit(decision) => form
                .append_pair("op", "limit")
                .append_pair("allowed", flag(decision.allowed))
                .append_pair(
                    "retry_after_nanos",
                    &duration_nanos(decision.retry_after).to_string(),
                )
                .append_pair("remaining", &decision.remaining.to_string())
                .append_pair("reset_nanos", &duration_nanos(decision.reset).to_string())
                .append_pair("next_nanos", &duration_nanos(decision.next).to_string()),
            Self::Nonce { fresh } => form
                .append_pair("op", "nonce")
                .append_pair("fresh", flag(*fresh)),
        };
        form.finish()
    }

    /// Reads an answer written by [`to_form`](Self::to_form).
    ///
    /// # Errors
    /// [`WorkerError::Invalid`] naming the field when one is missing,
    /// repeated, unknown or malformed, or `op` names no answer.
    pub fn from_form(text: &str) -> Result<Self, WorkerError> {
        let form = Form::parse(text, ANSWER)?;
        match form.text("op")? {
            "limit" => {
                form.only(&[
                    "op",
                    "allowed",
                    "retry_after_nanos",
                    "remaining",
                    "reset_nanos",
                    "next_nanos",
                ])?;
                Ok(Self::Limit(Decision {
                    allowed: form.flag("allowed")?,
                    retry_after: Duration::nanoseconds(form.number("retry_after_nanos")?),
                    remaining: form.number("remaining")?,
                    reset: Duration::nanoseconds(form.number("reset_nanos")?),
                    next: Duration::nanoseconds(form.number("next_nanos")?),
                }))
            }
            "nonce" => {
                form.only(&["op", "fresh"])?;
                Ok(Self::Nonce {
                    fresh: form.flag("fresh")?,
                })
            }
            other => Err(form.unknown_op(other)),
        }
    }
}

/// What an object does to its storage after [`answer`].
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum Write {
    /// Nothing changes.
    Keep,
    /// Store this value under [`ObjectRequest::storage_key`].
    Put(String),
    /// Delete the key (an idle limit: nothing to remember).
    Delete,
}

/// An object's decision for `request` over the value it holds under
/// [`ObjectRequest::storage_key`] (`None`: nothing stored), and what to
/// write back. Values are decimal nanoseconds (a TAT, or a nonce's
/// expiry); a value that does not parse counts as absent.
///
/// # Errors
/// [`WorkerError::Invalid`] when the request's limit is out of range.
pub fn answer(
    request: &ObjectRequest,
    stored: Option<&str>,
) -> Result<(ObjectAnswer, Write), WorkerError> {
    let stored = stored.and_then(|v| v.trim().parse::<i128>().ok());
    match request {
        ObjectRequest::Limit {
            count,
            period_nanos,
            burst,
            now_nanos,
            ..
        } => {
            let invalid = |e: limit::LimitError| WorkerError::Invalid {
                var: "durable object request",
                reason: e.to_string(),
            };
            let rate =
                Rate::new(*count, time::Duration::nanoseconds(*period_nanos)).map_err(invalid)?;
            let limit = Limit::new(rate, *burst).map_err(invalid)?;
            let now = OffsetDateTime::from_unix_timestamp_nanos(i128::from(*now_nanos)).map_err(
                |_| WorkerError::Clock {
                    unix_millis: u64::try_from(*now_nanos / 1_000_000).unwrap_or(0),
                },
            )?;
            let (decision, tat) = limit::decide(&limit, stored.map(Tat::from_unix_nanos), now);
            let write = match tat {
                Some(tat) if Some(tat.unix_nanos()) != stored => {
                    Write::Put(tat.unix_nanos().to_string())
                }
                Some(_) => Write::Keep,
                None if stored.is_some() => Write::Delete,
                None => Write::Keep,
            };
            Ok((ObjectAnswer::Limit(decision), write))
        }
        ObjectRequest::Nonce {
            expires_nanos,
            now_nanos,
            ..
        } => {
            if stored.is_some_and(|expires| expires > i128::from(*now_nanos)) {
                return Ok((ObjectAnswer::Nonce { fresh: false }, Write::Keep));
            }
            Ok((
                ObjectAnswer::Nonce { fresh: true },
                Write::Put(expires_nanos.to_string()),
            ))
        }
    }
}

/// The name of the object (shard) that holds `key`: `{prefix}-{n}` with
/// `n` from a SHA-256 of the key, below `shards` (at least 1).
pub fn shard_name(prefix: &str, key: &str, shards: u32) -> String {
    let digest = ring::digest::digest(&ring::digest::SHA256, key.as_bytes());
    let mut head = [0u8; 4];
    for (slot, byte) in head.iter_mut().zip(digest.as_ref()) {
        *slot = *byte;
    }
    let n = u32::from_be_bytes(head) % shards.max(1);
    format!("{prefix}-{n}")
}

/// The replay key of a `keyid` and a nonce: the `keyid`'s length, then
/// both, so no two pairs share a key.
pub fn nonce_key(keyid: &str, nonce: &str) -> String {
    format!("{}:{keyid}:{nonce}", keyid.len())
}

/// Entries an object looks at per write to delete what has expired.
pub const SWEEP_BATCH: usize = 16;
/// Where an object keeps the key its next sweep starts at.
pub const SWEEP_CURSOR_KEY: &str = "sweep:cursor";

/// What one sweep step does: delete `expired`, and start the next step at
/// `next_cursor` (`None`: from the first key again).
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct Sweep {
    /// Storage keys whose limit is idle or whose nonce has expired.
    pub expired: Vec<String>,
    /// The key the next step lists from (inclusive).
    pub next_cursor: Option<String>,
}

/// One step of an object's sweep over `listed`, the (at most `batch`)
/// entries its storage listed from the cursor, in key order: a limit whose
/// TAT is not after `now_nanos` is idle (the same as no entry) and a nonce
/// whose expiry is not after it can no longer be replayed, so both go.
/// Each write looks at `batch` entries and adds at most one, so the sweep
/// goes round faster than the storage grows: it holds the live keys plus
/// what expired since the sweep last passed.
pub fn sweep(listed: &[(String, String)], batch: usize, now_nanos: i64) -> Sweep {
    let expired = listed
        .iter()
        .filter(|(key, _)| key.starts_with("limit:") || key.starts_with("nonce:"))
        .filter(|(_, value)| {
            value
                .trim()
                .parse::<i128>()
                .is_ok_and(|at| at <= i128::from(now_nanos))
        })
        .map(|(key, _)| key.clone())
        .collect();
    let next_cursor = if listed.len() >= batch.max(1) {
        listed.last().map(|(key, _)| key.clone())
    } else {
        None
    };
    Sweep {
        expired,
        next_cursor,
    }
}

#[cfg(target_arch = "wasm32")]
pub use self::runtime::{check_limits, check_nonce, serve_object};

/// Declares, in a Worker crate, the Durable Object class of the
/// edge-auth stores (rate limits, RFC 9421 nonces): a struct holding the
/// object's `State` whose `fetch` is `serve_object`. The class name is
/// the one the Worker's `durable_objects` binding (or workerd's
/// `durableObjectNamespace`) names; doc comments and a visibility may come
/// first.
///
/// ```ignore
/// edge_auth::durable_object_class!(
///     /// Rate limits shared by every isolate.
///     pub EdgeAuthLimits
/// );
/// ```
///
/// The Worker crate depends on `worker` (workers-rs 0.8) under that name:
/// the expansion uses `#[worker::durable_object]`.
#[macro_export]
macro_rules! durable_object_class {
    ($(#[$meta:meta])* $vis:vis $name:ident) => {
        $(#[$meta])*
        #[::worker::durable_object]
        #[allow(
            unreachable_pub,
            missing_debug_implementations,
            reason = "exported to the Workers runtime; its State has no Debug"
        )]
        $vis struct $name {
            state: ::worker::State,
        }

        impl ::worker::DurableObject for $name {
            fn new(state: ::worker::State, _env: ::worker::Env) -> Self {
                Self { state }
            }

            async fn fetch(
                &self,
                req: ::worker::Request,
            ) -> ::worker::Result<::worker::Response> {
                $crate::driver::worker::durable::serve_object(&self.state, req).await
            }
        }
    };
}

#[cfg(target_arch = "wasm32")]
mod runtime {
    use time::OffsetDateTime;
    use worker::{Env, ListOptions, Request, Response, State, Storage, console_warn};

    use super::{
        DEFAULT_SHARDS, ObjectAnswer, ObjectRequest, SWEEP_BATCH, SWEEP_CURSOR_KEY, Write, answer,
        nonce_key, shard_name, sweep,
    };
    use crate::limit::{Decision, LimitCall, LimitError};

    /// Serves one [`ObjectRequest`] in a Durable Object: the object
    /// class's `fetch` calls this with its `State`.
    ///
    /// # Errors
    /// The Workers error when storage fails; a request that is not an
    /// [`ObjectRequest`] is answered 400.
    pub async fn serve_object(state: &State, mut req: Request) -> worker::Result<Response> {
        // Form text read in Rust: nanosecond times are past the exact
        // integer range of a JS number.
        let text = req.text().await?;
        let request = match ObjectRequest::from_form(&text) {
            Ok(request) => request,
            Err(e) => return Response::error(format!("not an edge-auth object request: {e}"), 400),
        };
        let storage = state.storage();
        let key = request.storage_key();
        let stored = get_string(&storage, &key).await;
        let (out, write) = match answer(&request, stored.as_deref()) {
            Ok(done) => done,
            Err(e) => return Response::error(e.to_string(), 400),
        };
        match write {
            Write::Put(value) => {
                storage.put(&key, value).await?;
                // A write may add a key: sweep a batch of expired ones.
                if let Err(e) = sweep_step(&storage, request.now_nanos()).await {
                    console_warn!("edge-auth: durable object sweep failed: {e}");
                }
            }
            Write::Delete => {
                storage.delete(&key).await?;
            }
            Write::Keep => {}
        }
        Response::ok(out.to_form())
    }

    /// The string stored under `key`; `None` when there is none, it is
    /// not a string, or storage failed. Read with `get_multiple`, which
    /// answers a plain JS `Map`: `Storage::get` goes through
    /// serde-wasm-bindgen, whose error path links core's float and string
    /// `Debug` formatting (~8 KB in the Worker).
    async fn get_string(storage: &Storage, key: &str) -> Option<String> {
        let map = storage.get_multiple(vec![key]).await.ok()?;
        map.get(&worker::wasm_bindgen::JsValue::from_str(key))
            .as_string()
    }

    /// One step of the object's sweep ([`sweep`]).
    async fn sweep_step(storage: &Storage, now_nanos: i64) -> worker::Result<()> {
        let cursor = get_string(storage, SWEEP_CURSOR_KEY).await;
        let mut options = ListOptions::new().limit(SWEEP_BATCH);
        if let Some(cursor) = cursor.as_deref() {
            options = options.start(cursor);
        }
        let map = storage.list_with_options(options).await?;
        let mut listed = Vec::with_capacity(SWEEP_BATCH);
        map.for_each(&mut |value, key| {
            if let (Some(key), Some(value)) = (key.as_string(), value.as_string()) {
                listed.push((key, value));
            }
        });
        let step = sweep(&listed, SWEEP_BATCH, now_nanos);
        if !step.expired.is_empty() {
            storage.delete_multiple(step.expired).await?;
        }
        match step.next_cursor {
            Some(next) => storage.put(SWEEP_CURSOR_KEY, next).await?,
            None if cursor.is_some() => {
                storage.delete(SWEEP_CURSOR_KEY).await?;
            }
            None => {}
        }
        Ok(())
    }

    async fn ask(
        env: &Env,
        binding: &str,
        prefix: &str,
        request: &ObjectRequest,
    ) -> worker::Result<ObjectAnswer> {
        let namespace = env.durable_object(binding)?;
        let id = namespace.id_from_name(&shard_name(prefix, request.key(), DEFAULT_SHARDS))?;
        let stub = id.get_stub()?;
        let req = crate::driver::worker::js::outbound(
            "https://edge-auth.invalid/object",
            "POST",
            &http::HeaderMap::new(),
            Some(request.to_form().as_bytes()),
        )?;
        let mut response = stub.fetch_with_request(req).await?;
        let status = response.status_code();
        let text = response.text().await?;
        if status != 200 {
            return Err(worker::Error::RustError(format!(
                "object answered {status}: {text}"
            )));
        }
        ObjectAnswer::from_form(&text).map_err(|e| worker::Error::RustError(e.to_string()))
    }

    /// Decides the Gate's limit calls in order through the objects of
    /// `binding`, stopping after the first refusal or failure (as
    /// [`Gate::finish_limits`](crate::gate::Gate::finish_limits) expects).
    pub async fn check_limits(
        env: &Env,
        binding: &str,
        calls: &[LimitCall],
        now: OffsetDateTime,
    ) -> Vec<Result<Decision, LimitError>> {
        let mut answers = Vec::with_capacity(calls.len());
        for call in calls {
            let answer = match ask(env, binding, "limits", &ObjectRequest::limit(call, now)).await {
                Ok(ObjectAnswer::Limit(decision)) => Ok(decision),
                Ok(_) => Err(LimitError::Store {
                    reason: "the object answered another operation".to_owned(),
                }),
                Err(e) => Err(LimitError::Store {
                    reason: format!("durable object `{binding}`: {e}"),
                }),
            };
            let stop = !matches!(answer, Ok(Decision { allowed: true, .. }));
            answers.push(answer);
            if stop {
                break;
            }
        }
        answers
    }

    /// Refuses a `(keyid, nonce)` pair any isolate saw before and that has
    /// not expired; otherwise remembers it until `expires_at`. Call it after
    /// the signature verified (RFC 9421 §7.2.2), so forged nonces never
    /// reach the store.
    ///
    /// `Ok(true)` for a new nonce, `Ok(false)` for a replay.
    ///
    /// # Errors
    /// A failing object is a Workers error: refuse the request (a nonce
    /// that cannot be checked may be a replay).
    pub async fn check_nonce(
        env: &Env,
        binding: &str,
        keyid: &str,
        nonce: &str,
        expires_at: OffsetDateTime,
        now: OffsetDateTime,
    ) -> worker::Result<bool> {
        let nanos = |t: OffsetDateTime| i64::try_from(t.unix_timestamp_nanos()).unwrap_or(i64::MAX);
        let request = ObjectRequest::Nonce {
            key: nonce_key(keyid, nonce),
            expires_nanos: nanos(expires_at),
            now_nanos: nanos(now),
        };
        match ask(env, binding, "nonces", &request).await? {
            ObjectAnswer::Nonce { fresh } => Ok(fresh),
            ObjectAnswer::Limit(_) => Err(worker::Error::RustError(
                "the object answered another operation".to_owned(),
            )),
        }
    }
}

#[cfg(test)]
mod tests {
    use std::collections::HashMap;

    use super::*;

    /// One object's storage, natively.
    fn run(storage: &mut HashMap<String, String>, request: &ObjectRequest) -> ObjectAnswer {
        let key = request.storage_key();
        let (out, write) = answer(request, storage.get(&key).map(String::as_str)).unwrap();
        match write {
            Write::Put(v) => {
                storage.insert(key, v);
            }
            Write::Delete => {
                storage.remove(&key);
            }
            Write::Keep => {}
        }
        out
    }

    fn limit_request(now_nanos: i64) -> ObjectRequest {
        ObjectRequest::Limit {
            key: "route:/limited".to_owned(),
            count: 1,
            period_nanos: 60_000_000_000,
            burst: 2,
            now_nanos,
        }
    }

    #[test]
    fn object_admits_the_burst_then_refuses() {
        let mut storage = HashMap::new();
        let now = 1_795_000_000_000_000_000;
        let allowed: Vec<bool> = (0..4)
            .map(|_| match run(&mut storage, &limit_request(now)) {
                ObjectAnswer::Limit(d) => d.allowed,
                other => panic!("{other:?}"),
            })
            .collect();
        assert_eq!(allowed, [true, true, false, false]);
        // A minute later one more is admitted.
        let later = run(&mut storage, &limit_request(now + 60_000_000_000));
        assert!(matches!(later, ObjectAnswer::Limit(d) if d.allowed));
    }

    fn nonce_request(expires_nanos: i64, now_nanos: i64) -> ObjectRequest {
        ObjectRequest::Nonce {
            key: nonce_key("k", "n"),
            expires_nanos,
            now_nanos,
        }
    }

    fn limit_decision() -> Decision {
        Decision {
            allowed: false,
            retry_after: Duration::nanoseconds(1_500_000_001),
            remaining: 0,
            reset: Duration::nanoseconds(119_999_999_999),
            next: Duration::nanoseconds(1_500_000_001),
        }
    }

    fn refusal(result: Result<impl std::fmt::Debug, WorkerError>) -> String {
        match result {
            Err(WorkerError::Invalid { reason, .. }) => reason,
            other => panic!("not refused as invalid: {other:?}"),
        }
    }

    #[test]
    fn limit_request_round_trips_as_form() {
        let request = limit_request(5);
        let text = request.to_form();
        assert_eq!(
            text,
            "op=limit&key=route%3A%2Flimited&count=1&period_nanos=60000000000&burst=2&now_nanos=5"
        );
        assert_eq!(ObjectRequest::from_form(&text).unwrap(), request);
    }

    #[test]
    fn nonce_request_round_trips_as_form() {
        let request = nonce_request(9, 1);
        let text = request.to_form();
        assert_eq!(text, "op=nonce&key=1%3Ak%3An&expires_nanos=9&now_nanos=1");
        assert_eq!(ObjectRequest::from_form(&text).unwrap(), request);
    }

    #[test]
    fn a_key_with_form_characters_round_trips() {
        let request = ObjectRequest::Nonce {
            key: nonce_key("a&b=c", "n+1 %2F\u{e9}\n"),
            expires_nanos: 2,
            now_nanos: 1,
        };
        assert_eq!(
            ObjectRequest::from_form(&request.to_form()).unwrap(),
            request
        );
    }

    #[test]
    fn limit_answer_round_trips_as_form() {
        let answer = ObjectAnswer::Limit(limit_decision());
        let text = answer.to_form();
        assert_eq!(
            text,
            "op=limit&allowed=0&retry_after_nanos=1500000001&remaining=0\
             &reset_nanos=119999999999&next_nanos=1500000001"
        );
        assert_eq!(ObjectAnswer::from_form(&text).unwrap(), answer);
        // A decision the object made round-trips too.
        let mut storage = HashMap::new();
        let decided = run(&mut storage, &limit_request(5));
        assert!(decided.to_form().starts_with("op=limit&allowed=1&"));
        assert_eq!(
            ObjectAnswer::from_form(&decided.to_form()).unwrap(),
            decided
        );
    }

    #[test]
    fn nonce_answers_round_trip_as_form() {
        for fresh in [true, false] {
            let answer = ObjectAnswer::Nonce { fresh };
            let text = answer.to_form();
            assert_eq!(text, format!("op=nonce&fresh={}", u8::from(fresh)));
            assert_eq!(ObjectAnswer::from_form(&text).unwrap(), answer);
        }
    }

    #[test]
    fn nanosecond_extremes_stay_exact() {
        for nanos in [i64::MIN, i64::MAX, -1, 0, 9_007_199_254_740_993] {
            let request = ObjectRequest::Limit {
                key: "k".to_owned(),
                count: u32::MAX,
                period_nanos: nanos,
                burst: u32::MAX,
                now_nanos: nanos,
            };
            assert_eq!(
                ObjectRequest::from_form(&request.to_form()).unwrap(),
                request
            );
            let request = nonce_request(nanos, nanos);
            assert_eq!(
                ObjectRequest::from_form(&request.to_form()).unwrap(),
                request
            );
            let answer = ObjectAnswer::Limit(Decision {
                allowed: true,
                retry_after: Duration::nanoseconds(nanos),
                remaining: u32::MAX,
                reset: Duration::nanoseconds(nanos),
                next: Duration::nanoseconds(nanos),
            });
            assert_eq!(ObjectAnswer::from_form(&answer.to_form()).unwrap(), answer);
        }
        assert!(
            nonce_request(i64::MIN, i64::MAX)
                .to_form()
                .contains("expires_nanos=-9223372036854775808&now_nanos=9223372036854775807")
        );
    }

    #[test]
    fn a_request_with_a_missing_field_is_refused() {
        let reason = refusal(ObjectRequest::from_form(
            "op=limit&key=k&count=1&period_nanos=1&now_nanos=5",
        ));
        assert_eq!(reason, "field `burst` is missing");
        let reason = refusal(ObjectRequest::from_form(
            "key=k&expires_nanos=1&now_nanos=1",
        ));
        assert_eq!(reason, "field `op` is missing");
        let reason = refusal(ObjectRequest::from_form(""));
        assert_eq!(reason, "field `op` is missing");
    }

    #[test]
    fn a_request_with_a_repeated_field_is_refused() {
        let reason = refusal(ObjectRequest::from_form(
            "op=nonce&key=a&key=b&expires_nanos=1&now_nanos=1",
        ));
        assert_eq!(reason, "field `key` is repeated");
        let reason = refusal(ObjectRequest::from_form(
            "op=nonce&op=limit&key=a&expires_nanos=1&now_nanos=1",
        ));
        assert_eq!(reason, "field `op` is repeated");
    }

    #[test]
    fn a_request_with_an_unknown_field_is_refused() {
        let reason = refusal(ObjectRequest::from_form(
            "op=nonce&key=a&expires_nanos=1&now_nanos=1&count=1",
        ));
        assert_eq!(reason, "unknown field `count`");
        let reason = refusal(ObjectRequest::from_form(
            "op=nonce&key=a&expires_nanos=1&now_nanos=1&x%0Ay=1",
        ));
        assert_eq!(reason, "unknown field `x\\ny`");
    }

    #[test]
    fn a_request_with_an_unknown_op_is_refused() {
        let reason = refusal(ObjectRequest::from_form("op=sweep&key=a"));
        assert_eq!(reason, "unknown op `sweep`");
    }

    #[test]
    fn a_request_with_a_malformed_number_is_refused() {
        for (text, field, value) in [
            (
                "op=nonce&key=a&expires_nanos=1.5&now_nanos=1",
                "expires_nanos",
                "1.5",
            ),
            ("op=nonce&key=a&expires_nanos=1&now_nanos=", "now_nanos", ""),
            (
                "op=nonce&key=a&expires_nanos=9223372036854775808&now_nanos=1",
                "expires_nanos",
                "9223372036854775808",
            ),
            (
                "op=limit&key=k&count=-1&period_nanos=1&burst=1&now_nanos=5",
                "count",
                "-1",
            ),
            (
                "op=limit&key=k&count=1&period_nanos=1&burst=4294967296&now_nanos=5",
                "burst",
                "4294967296",
            ),
        ] {
            let reason = refusal(ObjectRequest::from_form(text));
            assert_eq!(
                reason,
                format!("field `{field}` is not an integer in range: `{value}`"),
                "{text}"
            );
        }
    }

    #[test]
    fn an_answer_with_a_missing_field_is_refused() {
        let reason = refusal(ObjectAnswer::from_form(
            "op=limit&allowed=1&retry_after_nanos=0&remaining=1&reset_nanos=1",
        ));
        assert_eq!(reason, "field `next_nanos` is missing");
        let reason = refusal(ObjectAnswer::from_form("op=nonce"));
        assert_eq!(reason, "field `fresh` is missing");
    }

    #[test]
    fn an_answer_with_a_repeated_field_is_refused() {
        let reason = refusal(ObjectAnswer::from_form("op=nonce&fresh=1&fresh=0"));
        assert_eq!(reason, "field `fresh` is repeated");
    }

    #[test]
    fn an_answer_with_an_unknown_field_is_refused() {
        let reason = refusal(ObjectAnswer::from_form("op=nonce&fresh=1&allowed=1"));
        assert_eq!(reason, "unknown field `allowed`");
        let reason = refusal(ObjectAnswer::from_form("op=replay&fresh=1"));
        assert_eq!(reason, "unknown op `replay`");
    }

    #[test]
    fn an_answer_with_a_malformed_field_is_refused() {
        let reason = refusal(ObjectAnswer::from_form("op=nonce&fresh=true"));
        assert_eq!(reason, "field `fresh` is not `1` or `0`: `true`");
        let reason = refusal(ObjectAnswer::from_form(
            "op=limit&allowed=1&retry_after_nanos=x&remaining=1&reset_nanos=1&next_nanos=1",
        ));
        assert_eq!(
            reason,
            "field `retry_after_nanos` is not an integer in range: `x`"
        );
    }

    #[test]
    fn a_refusal_names_the_message() {
        let err = ObjectAnswer::from_form("op=nonce").unwrap_err();
        assert_eq!(
            err.to_string(),
            "`durable object answer` is invalid: field `fresh` is missing"
        );
        let err = ObjectRequest::from_form("").unwrap_err();
        assert_eq!(
            err.to_string(),
            "`durable object request` is invalid: field `op` is missing"
        );
    }

    /// The JSON messages of earlier versions are refused (the object class
    /// ships in the same script as the Worker).
    #[test]
    fn a_json_message_is_refused() {
        let old = r#"{"nonce":{"key":"1:k:n","expires_nanos":9,"now_nanos":1}}"#;
        assert!(ObjectRequest::from_form(old).is_err());
        assert!(ObjectAnswer::from_form(r#"{"nonce":{"fresh":true}}"#).is_err());
    }

    #[test]
    fn a_replayed_nonce_is_refused_until_it_expires() {
        let mut storage = HashMap::new();
        let nonce = |now_nanos| ObjectRequest::Nonce {
            key: nonce_key("client-1", "n-123"),
            expires_nanos: 1_000,
            now_nanos,
        };
        assert_eq!(
            run(&mut storage, &nonce(10)),
            ObjectAnswer::Nonce { fresh: true }
        );
        assert_eq!(
            run(&mut storage, &nonce(20)),
            ObjectAnswer::Nonce { fresh: false }
        );
        assert_eq!(
            run(&mut storage, &nonce(1_000)),
            ObjectAnswer::Nonce { fresh: true }
        );
    }

    #[test]
    fn an_out_of_range_limit_is_an_error_not_a_panic() {
        let bad = ObjectRequest::Limit {
            key: "k".to_owned(),
            count: 0,
            period_nanos: -1,
            burst: 0,
            now_nanos: 0,
        };
        assert!(answer(&bad, Some("garbage")).is_err());
    }

    fn entry(key: &str, value: &str) -> (String, String) {
        (key.to_owned(), value.to_owned())
    }

    #[test]
    fn sweep_deletes_idle_limits_and_expired_nonces_only() {
        let listed = [
            entry("limit:route:/a", "100"),
            entry("limit:route:/b", "101"),
            entry("nonce:1:k:n-1", "99"),
            entry("nonce:1:k:n-2", "500"),
            entry("nonce:1:k:n-3", "not a number"),
            entry(SWEEP_CURSOR_KEY, "limit:route:/a"),
        ];
        let step = sweep(&listed, 16, 100);
        assert_eq!(step.expired, ["limit:route:/a", "nonce:1:k:n-1"]);
        // Fewer entries than a batch: the next step starts from the first key.
        assert_eq!(step.next_cursor, None);
    }

    #[test]
    fn sweep_continues_after_a_full_batch() {
        let listed = [entry("nonce:a", "1"), entry("nonce:b", "999")];
        let step = sweep(&listed, 2, 10);
        assert_eq!(step.expired, ["nonce:a"]);
        assert_eq!(step.next_cursor.as_deref(), Some("nonce:b"));
        assert_eq!(sweep(&[], 0, 10).next_cursor, None);
    }

    #[test]
    fn a_swept_store_keeps_only_live_keys() {
        // 1000 nonces, each live for 10 ticks, one written per tick, a sweep
        // step after each write: storage stays near the live count.
        let mut storage: std::collections::BTreeMap<String, String> = Default::default();
        let mut cursor: Option<String> = None;
        let mut largest = 0;
        for tick in 0..1000_i64 {
            storage.insert(format!("nonce:{tick:05}"), (tick + 10).to_string());
            let listed: Vec<(String, String)> = storage
                .range(cursor.clone().unwrap_or_default()..)
                .take(SWEEP_BATCH)
                .map(|(k, v)| (k.clone(), v.clone()))
                .collect();
            let step = sweep(&listed, SWEEP_BATCH, tick);
            for key in step.expired {
                storage.remove(&key);
            }
            cursor = step.next_cursor;
            largest = largest.max(storage.len());
        }
        assert!(largest <= 10 + SWEEP_BATCH, "storage grew to {largest}");
    }

    #[test]
    fn shards_are_stable_and_bounded() {
        assert_eq!(shard_name("limits", "a", 16), shard_name("limits", "a", 16));
        for key in ["a", "b", "c", "d"] {
            let name = shard_name("limits", key, 16);
            let n: u32 = name.trim_start_matches("limits-").parse().unwrap();
            assert!(n < 16);
        }
        assert_eq!(shard_name("x", "a", 0), "x-0");
        assert_ne!(nonce_key("a:b", "c"), nonce_key("a", "b:c"));
    }
}
