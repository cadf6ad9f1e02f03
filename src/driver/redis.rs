//! Rate-limit and replay state in Redis, shared by every replica (feature
//! `redis`; the `redis` crate's tokio [`ConnectionManager`], which
//! reconnects by itself).
//!
//! - [`RedisLimitStore`] is an [`AsyncLimitStore`]: all the limits of one
//!   request are decided in **one round trip**, by one Lua script (sent as
//!   `EVALSHA`; the `redis` crate loads it again on `NOSCRIPT`) running the
//!   GCRA arithmetic of [`limit::decide`](crate::limit::decide) on integer
//!   nanoseconds. The script is **atomic**: Redis runs nothing else while it
//!   runs, so two replicas deciding for one key never both take the last
//!   slot, and the limits of one request are decided in order, stopping at
//!   the first that refuses (later limits do not count the request), as the
//!   in-memory store does. Each admitted key is written with a TTL of its
//!   TAT minus now (rounded up to a millisecond) plus one second: an idle
//!   key expires by itself, never before its TAT passes even when the
//!   replicas' clocks and Redis's differ by up to a second (a key that
//!   expired early would hand out a whole burst again). The library then
//!   runs `decide` on the TAT the script read and checks it agrees with
//!   the script, so the `RateLimit` headers are the in-memory store's to
//!   the nanosecond.
//! - [`RedisReplayGuard`] is an
//!   [`AsyncReplayGuard`] for RFC 9421
//!   nonces: `SET key 1 NX PXAT <expiry>`, one atomic command, so a nonce is
//!   accepted once across all replicas.
//!
//! **Keys** are `<prefix>rl:<key>` and `<prefix>nonce:<keyid>:<nonce>`.
//! The gate's limit keys are already escaped and bounded (see
//! [`RuleLimit::key`](crate::limit::RuleLimit::key)); this module escapes
//! again what it is given (anything outside visible ASCII, space, `{`,
//! `}`), and replaces a key longer than 200 bytes by `#` and its SHA-256,
//! so no value (CR/LF, 10 KB claims) can reach another key or grow Redis.
//!
//! **When Redis is down or slow**, every call is bounded by
//! [`RedisConfig::timeout`] (default 50 ms, whatever the connection
//! manager's reconnection attempts): the limit store answers
//! [`LimitError::Store`], and the gate answers 503 (`limit_fail_open`
//! false, the default) or lets the request through unlimited (true), with
//! a `warn` event (feature `tracing`); the replay guard refuses the
//! signature ([`HttpSigError::ReplayStore`]). Never a hang, never a panic.
//!
//! **Time** is the caller's `now` (the driver's clock), as everywhere in
//! the library: replicas sharing a Redis should run NTP; a replica whose
//! clock runs `d` ahead of the others admits at most `d / T` extra
//! requests. Concurrent requests read the clock before their round trip:
//! one that read it a few microseconds before a request admitted ahead of
//! it may be refused for those microseconds (never admitted beyond the
//! limit).
//!
//! **Redis Cluster**: the keys of one request's limits may hash to
//! different slots; use one Redis (with replicas for failover) per gateway
//! fleet, or one limit per rule.
//!
//! ```no_run
//! # async fn run(driver: edge_auth::driver::keys::KeyDriver) -> Result<(), Box<dyn std::error::Error>> {
//! use std::sync::Arc;
//! use edge_auth::driver::redis::{RedisConfig, RedisLimitStore};
//! use edge_auth::driver::tower::GateLayer;
//!
//! let store = RedisLimitStore::connect("redis://127.0.0.1:6379/", RedisConfig::default()).await?;
//! let layer = GateLayer::new(driver).with_limit_store(Arc::new(store));
//! # let _ = layer; Ok(()) }
//! ```

use std::fmt::{self, Write as _};
use std::time::Duration;

use ::redis::aio::{ConnectionManager, ConnectionManagerConfig};
use ::redis::{Client, Script};
use time::OffsetDateTime;

use super::limit::{AsyncLimitStore, LimitAnswers};
use super::replay::{AsyncReplayGuard, ReplayAnswer};
use crate::httpsig::HttpSigError;
use crate::limit::{Decision, LimitCall, LimitError, Tat};

/// Longest key part written as is; longer ones are hashed.
const MAX_KEY: usize = 200;

/// Longest key prefix.
const MAX_PREFIX: usize = 64;

const NANOS_PER_SECOND: i128 = 1_000_000_000;

/// GCRA over several keys, in order, stopping at the first refusal.
/// Times are (seconds, nanoseconds) pairs: Lua numbers are doubles, exact
/// to 2^53 only, and Unix nanoseconds are about 2^61.
/// KEYS: the limits' keys. ARGV: now (s, ns), then per key T (s, ns) and
/// tau = burst × T (s, ns). Returns per key decided {admitted 1/0, the TAT
/// read ("" when none)}.
const GCRA_LUA: &str = r"
local B = 1000000000
local function split(v)
  if not v or #v == 0 or #v > 20 or string.find(v, '^%d+$') == nil then return nil end
  local n = #v
  if n <= 9 then return 0, tonumber(v) end
  return tonumber(string.sub(v, 1, n - 9)), tonumber(string.sub(v, n - 8))
end
local function le(as, an, bs, bn) return as < bs or (as == bs and an <= bn) end
local function add(as, an, bs, bn)
  local s, n = as + bs, an + bn
  if n >= B then return s + 1, n - B end
  return s, n
end
local function sub(as, an, bs, bn)
  local s, n = as - bs, an - bn
  if n < 0 then return s - 1, n + B end
  return s, n
end
local ns, nn = tonumber(ARGV[1]), tonumber(ARGV[2])
local out = {}
for i, key in ipairs(KEYS) do
  local j = 2 + (i - 1) * 4
  local ts, tn = tonumber(ARGV[j + 1]), tonumber(ARGV[j + 2])
  local us, un = tonumber(ARGV[j + 3]), tonumber(ARGV[j + 4])
  local raw = redis.call('GET', key)
  local seen = ''
  local ls, ln = 0, 0
  local vs, vn = split(raw)
  if vs then
    seen = raw
    ls, ln = sub(vs, vn, ns, nn)
    if le(ls, ln, 0, 0) then ls, ln = 0, 0 elseif le(us, un, ls, ln) then ls, ln = us, un end
  end
  local as, an = add(ls, ln, ts, tn)
  if le(as, an, us, un) then
    local ks, kn = add(ns, nn, as, an)
    local ms = as * 1000 + math.ceil(an / 1000000) + 1000
    redis.call('SET', key, string.format('%d%09d', ks, kn), 'PX', ms)
    out[#out + 1] = {1, seen}
  else
    out[#out + 1] = {0, seen}
    return out
  end
end
return out
";

/// Settings of the Redis stores.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct RedisConfig {
    /// Prefix of every key (default `edge-auth:`): visible ASCII without
    /// space, `{` or `}`, at most 64 bytes.
    pub prefix: String,
    /// The longest one decision (or nonce check) waits for Redis,
    /// reconnection included (default 50 ms). Past it the call fails: the
    /// gate fails open or closed as configured, the replay guard refuses.
    pub timeout: Duration,
    /// The longest one connection attempt waits (default 1 s).
    pub connect_timeout: Duration,
}

impl Default for RedisConfig {
    fn default() -> Self {
        Self {
            prefix: "edge-auth:".to_owned(),
            timeout: Duration::from_millis(50),
            connect_timeout: Duration::from_secs(1),
        }
    }
}

impl RedisConfig {
    /// Sets [`prefix`](Self::prefix).
    #[must_use]
    pub fn with_prefix(mut self, prefix: impl Into<String>) -> Self {
        self.prefix = prefix.into();
        self
    }

    /// Sets [`timeout`](Self::timeout).
    #[must_use]
    pub fn with_timeout(mut self, timeout: Duration) -> Self {
        self.timeout = timeout;
        self
    }

    /// Sets [`connect_timeout`](Self::connect_timeout).
    #[must_use]
    pub fn with_connect_timeout(mut self, timeout: Duration) -> Self {
        self.connect_timeout = timeout;
        self
    }
}

/// Why a Redis store could not be built.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum RedisStoreError {
    /// The URL does not parse (it is not repeated: it may hold a
    /// password).
    #[error("invalid redis url: {reason}")]
    InvalidUrl {
        /// What is wrong.
        reason: String,
    },
    /// A configuration value is out of range.
    #[error("invalid redis store setting `{setting}`: {reason}")]
    Config {
        /// The setting.
        setting: &'static str,
        /// What is wrong.
        reason: &'static str,
    },
}

/// One connection manager and the settings, shared by both stores.
#[derive(Clone)]
struct Conn {
    manager: ConnectionManager,
    config: RedisConfig,
}

impl Conn {
    /// A lazy connection: nothing is sent until the first call, so a Redis
    /// that is down at start-up is not an error (calls fail until it is
    /// back).
    fn open(url: &str, config: RedisConfig) -> Result<Self, RedisStoreError> {
        check_config(&config)?;
        let client = Client::open(url).map_err(|e| RedisStoreError::InvalidUrl {
            reason: redis_reason(&e),
        })?;
        let manager_config = ConnectionManagerConfig::new()
            .set_connection_timeout(Some(config.connect_timeout))
            .set_response_timeout(Some(config.timeout))
            .set_number_of_retries(1)
            .set_max_delay(config.timeout);
        let manager =
            ConnectionManager::new_lazy_with_config(client, manager_config).map_err(|e| {
                RedisStoreError::InvalidUrl {
                    reason: redis_reason(&e),
                }
            })?;
        Ok(Self { manager, config })
    }
}

fn check_config(config: &RedisConfig) -> Result<(), RedisStoreError> {
    let bad = |setting, reason| Err(RedisStoreError::Config { setting, reason });
    if config.prefix.len() > MAX_PREFIX
        || !config
            .prefix
            .bytes()
            .all(|b| b.is_ascii_graphic() && b != b'{' && b != b'}')
    {
        return bad(
            "prefix",
            "use at most 64 bytes of visible ASCII without `{` or `}`",
        );
    }
    if config.timeout.is_zero() || config.connect_timeout.is_zero() {
        return bad("timeout", "timeouts must be positive");
    }
    Ok(())
}

/// A redis error as a reason: its kind and detail (redis errors carry no
/// URL or key value).
fn redis_reason(e: &::redis::RedisError) -> String {
    crate::text::printable(&e.to_string(), 200)
}

/// Appends `part` escaped (bytes outside visible ASCII, `%`, `{` and `}`
/// as `%XX`), or `#` and its hex SHA-256 when that is longer than
/// [`MAX_KEY`].
fn push_key_part(out: &mut String, part: &str) {
    let start = out.len();
    for b in part.bytes() {
        if out.len() - start > MAX_KEY {
            break;
        }
        if b.is_ascii_graphic() && !matches!(b, b'%' | b'{' | b'}') {
            out.push(char::from(b));
        } else {
            let _ = write!(out, "%{b:02X}");
        }
    }
    if out.len() - start > MAX_KEY {
        out.truncate(start);
        out.push('#');
        let digest = ring::digest::digest(&ring::digest::SHA256, part.as_bytes());
        for b in digest.as_ref() {
            let _ = write!(out, "{b:02x}");
        }
    }
}

/// `nanos` as (seconds, nanoseconds), both non-negative for a
/// non-negative input.
fn split_nanos(nanos: i128) -> (i64, i64) {
    let s = i64::try_from(nanos / NANOS_PER_SECOND).unwrap_or(i64::MAX);
    let n = i64::try_from(nanos % NANOS_PER_SECOND).unwrap_or(0);
    (s, n)
}

/// The shared [`AsyncLimitStore`]: GCRA in Redis, one Lua script per
/// request (see the [module docs](self)). Cheap to clone.
#[derive(Clone)]
pub struct RedisLimitStore {
    conn: Conn,
    script: Script,
}

impl fmt::Debug for RedisLimitStore {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("RedisLimitStore")
            .field("prefix", &self.conn.config.prefix)
            .field("timeout", &self.conn.config.timeout)
            .finish_non_exhaustive()
    }
}

impl RedisLimitStore {
    /// A store on the Redis at `url` (`redis://[:password@]host:port/db`).
    /// Connects and loads the script, waiting at most
    /// [`RedisConfig::connect_timeout`]; the connection is made again
    /// whenever it breaks, and a Redis that is down now is not an error
    /// (calls fail until it is back). Call it inside a tokio runtime.
    ///
    /// # Errors
    /// [`RedisStoreError::InvalidUrl`] for a URL that does not parse,
    /// [`RedisStoreError::Config`] for a bad prefix or a zero timeout.
    pub async fn connect(url: &str, config: RedisConfig) -> Result<Self, RedisStoreError> {
        let store = Self {
            conn: Conn::open(url, config)?,
            script: Script::new(GCRA_LUA),
        };
        // Best effort, bounded by the connect timeout: connect and load the
        // script now, so the first requests do not pay for it (the calls
        // load it again after a Redis restart).
        let mut manager = store.conn.manager.clone();
        let _ = tokio::time::timeout(
            store.conn.config.connect_timeout,
            store.script.load_async(&mut manager),
        )
        .await;
        Ok(store)
    }

    /// The Redis key of a limit key.
    pub fn redis_key(&self, key: &str) -> String {
        let prefix = &self.conn.config.prefix;
        let mut out = String::with_capacity(prefix.len() + 3 + key.len().min(MAX_KEY + 3));
        out.push_str(prefix);
        out.push_str("rl:");
        push_key_part(&mut out, key);
        out
    }

    async fn run(
        &self,
        calls: &[LimitCall],
        now: OffsetDateTime,
    ) -> Vec<Result<Decision, LimitError>> {
        let fail = |reason: String| vec![Err(LimitError::Store { reason })];
        if calls.is_empty() {
            return Vec::new();
        }
        let now_nanos = now.unix_timestamp_nanos();
        if now_nanos < 0 {
            return fail("the clock is before 1970".to_owned());
        }
        let (now_s, now_ns) = split_nanos(now_nanos);
        let mut invocation = self.script.prepare_invoke();
        invocation.arg(now_s).arg(now_ns);
        for call in calls {
            let limit = call.limit();
            let (t_s, t_ns) = split_nanos(limit.emission_interval().whole_nanoseconds());
            let tau = limit
                .emission_interval()
                .whole_nanoseconds()
                .saturating_mul(i128::from(limit.burst()));
            let (u_s, u_ns) = split_nanos(tau);
            invocation
                .key(self.redis_key(call.key()))
                .arg(t_s)
                .arg(t_ns)
                .arg(u_s)
                .arg(u_ns);
        }
        let mut manager = self.conn.manager.clone();
        let timeout = self.conn.config.timeout;
        let reply: Vec<(i64, String)> =
            match tokio::time::timeout(timeout, invocation.invoke_async(&mut manager)).await {
                Ok(Ok(reply)) => reply,
                Ok(Err(e)) => return fail(format!("redis: {}", redis_reason(&e))),
                Err(_) => {
                    return fail(format!(
                        "redis did not answer within {} ms",
                        timeout.as_millis()
                    ));
                }
            };
        let mut answers = Vec::with_capacity(reply.len());
        for (call, (admitted, seen)) in calls.iter().zip(reply) {
            let tat = if seen.is_empty() {
                None
            } else {
                match seen.parse::<i128>() {
                    Ok(tat) => Some(tat),
                    Err(_) => {
                        answers.push(Err(LimitError::Store {
                            reason: "the redis script returned a malformed tat".to_owned(),
                        }));
                        break;
                    }
                }
            };
            let (decision, _) =
                crate::limit::decide(call.limit(), tat.map(Tat::from_unix_nanos), now);
            if decision.allowed != (admitted == 1) {
                answers.push(Err(LimitError::Store {
                    reason: "the redis script and the library disagree".to_owned(),
                }));
                break;
            }
            answers.push(Ok(decision));
            if !decision.allowed {
                break;
            }
        }
        answers
    }
}

impl AsyncLimitStore for RedisLimitStore {
    fn check_all<'a>(&'a self, calls: &'a [LimitCall], now: OffsetDateTime) -> LimitAnswers<'a> {
        Box::pin(self.run(calls, now))
    }
}

/// The shared RFC 9421 nonce guard: `SET <prefix>nonce:<keyid>:<nonce> 1
/// NX PXAT <expires_at>`, atomic across replicas (see the
/// [module docs](self)). Cheap to clone.
#[derive(Clone)]
pub struct RedisReplayGuard {
    conn: Conn,
}

impl fmt::Debug for RedisReplayGuard {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("RedisReplayGuard")
            .field("prefix", &self.conn.config.prefix)
            .field("timeout", &self.conn.config.timeout)
            .finish_non_exhaustive()
    }
}

impl RedisReplayGuard {
    /// A guard on the Redis at `url`; as [`RedisLimitStore::connect`].
    ///
    /// # Errors
    /// As [`RedisLimitStore::connect`].
    pub async fn connect(url: &str, config: RedisConfig) -> Result<Self, RedisStoreError> {
        Ok(Self {
            conn: Conn::open(url, config)?,
        })
    }

    /// The Redis key of a `(keyid, nonce)` pair: each part escaped, or
    /// hashed when long.
    pub fn redis_key(&self, keyid: &str, nonce: &str) -> String {
        let prefix = &self.conn.config.prefix;
        let mut out = String::with_capacity(prefix.len() + 8 + keyid.len() + nonce.len());
        out.push_str(prefix);
        out.push_str("nonce:");
        crate::limit::escape_part(&mut out, keyid);
        out.push(':');
        crate::limit::escape_part(&mut out, nonce);
        out
    }

    async fn run(
        &self,
        keyid: &str,
        nonce: &str,
        expires_at: OffsetDateTime,
        now: OffsetDateTime,
    ) -> Result<(), HttpSigError> {
        if expires_at <= now {
            // Already outside the window: nothing to remember.
            return Ok(());
        }
        let at_ms = expires_at.unix_timestamp_nanos().div_euclid(1_000_000) + 1;
        let mut cmd = ::redis::cmd("SET");
        cmd.arg(self.redis_key(keyid, nonce))
            .arg(1)
            .arg("NX")
            .arg("PXAT")
            .arg(i64::try_from(at_ms).unwrap_or(i64::MAX));
        let mut manager = self.conn.manager.clone();
        let timeout = self.conn.config.timeout;
        let reply: Option<String> =
            match tokio::time::timeout(timeout, cmd.query_async(&mut manager)).await {
                Ok(Ok(reply)) => reply,
                Ok(Err(e)) => {
                    return Err(HttpSigError::ReplayStore {
                        reason: format!("redis: {}", redis_reason(&e)),
                    });
                }
                Err(_) => {
                    return Err(HttpSigError::ReplayStore {
                        reason: format!("redis did not answer within {} ms", timeout.as_millis()),
                    });
                }
            };
        match reply {
            Some(_) => Ok(()),
            None => Err(HttpSigError::Replayed {
                keyid: keyid.to_owned(),
                nonce: nonce.to_owned(),
            }),
        }
    }
}

impl AsyncReplayGuard for RedisReplayGuard {
    fn check_and_remember<'a>(
        &'a self,
        keyid: &'a str,
        nonce: &'a str,
        expires_at: OffsetDateTime,
        now: OffsetDateTime,
    ) -> ReplayAnswer<'a> {
        Box::pin(self.run(keyid, nonce, expires_at, now))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn key_parts_are_escaped() {
        let mut s = String::new();
        push_key_part(&mut s, "a b\r\n{x}%");
        assert_eq!(s, "a%20b%0D%0A%7Bx%7D%25");
    }

    #[test]
    fn long_key_parts_are_hashed() {
        let mut s = String::new();
        push_key_part(&mut s, &"\n".repeat(10_000));
        assert!(s.starts_with('#'));
        assert_eq!(s.len(), 65);
    }

    #[test]
    fn nanos_split_into_seconds_and_nanoseconds() {
        assert_eq!(
            split_nanos(1_733_579_000_123_456_789),
            (1_733_579_000, 123_456_789)
        );
        assert_eq!(split_nanos(5), (0, 5));
    }
}
