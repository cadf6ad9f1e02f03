//! The Worker's policy from Workers KV, reloaded without a redeploy: put a
//! new policy document under a KV key (`wrangler kv key put`), and each
//! isolate picks it up on its next [`KvPolicy::reload`] (call it from the
//! fetch handler, cheaply rate-limited by [`KvPolicy::due`], or from a
//! `scheduled` handler). A document that does not parse, compile or pass
//! its own embedded `tests` is refused and logged; the isolate keeps its
//! policy. KV is eventually consistent: isolates converge within KV's
//! propagation delay (about a minute).
//!
//! ```ignore
//! use edge_auth::driver::worker::KvPolicy;
//! thread_local! { static POLICY: KvPolicy = KvPolicy::new("edge-auth:policy"); }
//! // In the fetch handler, before `authorize`:
//! let policy = POLICY.with(KvPolicy::clone);
//! if policy.due(now) {
//!     // Refusals are logged; the isolate keeps its policy.
//!     let _ = policy.reload(&env, "EDGE_AUTH", gate.gate()).await;
//! }
//! ```

use std::sync::{Arc, Mutex, PoisonError};

use time::{Duration, OffsetDateTime};

use super::WorkerError;
use super::settings::POLICY_VAR;
use crate::gate::Gate;
use crate::policy::Policy;

/// The KV key the policy is read from by default.
pub const DEFAULT_POLICY_KV_KEY: &str = "edge-auth:policy";

/// How often [`KvPolicy::due`] says a reload is due by default: 30 s.
pub const DEFAULT_POLICY_RELOAD_EVERY: Duration = Duration::seconds(30);

/// The largest policy document accepted from KV: 4 MiB.
pub const MAX_KV_POLICY_BYTES: usize = 4 << 20;

/// What a reload did.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum PolicyReload {
    /// KV holds no policy under the key: the current one stays.
    Absent,
    /// KV holds the document already applied.
    Unchanged,
    /// The new policy is in place; [`Gate::policy_generation`] is now this.
    Replaced {
        /// The gate's policy generation after the swap.
        generation: u64,
    },
}

/// A policy kept in Workers KV under one key. Cheap to clone (an `Arc`).
#[derive(Debug, Clone)]
pub struct KvPolicy {
    inner: Arc<Inner>,
}

#[derive(Debug)]
struct Inner {
    key: String,
    every: Duration,
    state: Mutex<State>,
}

#[derive(Debug, Default)]
struct State {
    /// The document last applied.
    applied: Option<String>,
    /// When a reload was last started.
    last_try: Option<OffsetDateTime>,
}

impl KvPolicy {
    /// The policy under KV key `key`, due for a reload every
    /// [`DEFAULT_POLICY_RELOAD_EVERY`].
    pub fn new(key: impl Into<String>) -> Self {
        Self::with_interval(key, DEFAULT_POLICY_RELOAD_EVERY)
    }

    /// The policy under KV key `key`, due for a reload every `every`.
    pub fn with_interval(key: impl Into<String>, every: Duration) -> Self {
        Self {
            inner: Arc::new(Inner {
                key: key.into(),
                every,
                state: Mutex::new(State::default()),
            }),
        }
    }

    /// The KV key.
    pub fn key(&self) -> &str {
        &self.inner.key
    }

    fn state(&self) -> std::sync::MutexGuard<'_, State> {
        self.inner
            .state
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
    }

    /// Whether a reload is due at `now` (none yet, or the last one started
    /// at least the interval ago); when it is, records `now` as the start
    /// of one, so concurrent requests of the isolate do not all read KV.
    pub fn due(&self, now: OffsetDateTime) -> bool {
        let mut state = self.state();
        let due = state
            .last_try
            .is_none_or(|last| now - last >= self.inner.every || now < last);
        if due {
            state.last_try = Some(now);
        }
        due
    }

    /// Applies the value read from KV (`None`: no such key) to `gate`:
    /// unchanged or absent documents do nothing; a new one is compiled
    /// (its embedded tests run) and swapped in.
    ///
    /// # Errors
    /// [`WorkerError::Invalid`] (naming [`POLICY_VAR`]) when the document
    /// is too large, does not parse, does not compile or fails one of its
    /// tests; the gate keeps its policy.
    pub fn apply(&self, gate: &Gate, value: Option<&str>) -> Result<PolicyReload, WorkerError> {
        let Some(text) = value else {
            return Ok(PolicyReload::Absent);
        };
        if self.state().applied.as_deref() == Some(text) {
            return Ok(PolicyReload::Unchanged);
        }
        let refused = |reason: String| WorkerError::Invalid {
            var: POLICY_VAR,
            reason: format!(
                "policy in KV key `{}` refused, old one kept: {reason}",
                self.inner.key
            ),
        };
        if text.len() > MAX_KV_POLICY_BYTES {
            return Err(refused(format!(
                "the document is larger than {MAX_KV_POLICY_BYTES} bytes"
            )));
        }
        let compiled = Policy::from_json(text)
            .and_then(|p| p.compile())
            .map_err(|e| refused(e.to_string()))?;
        gate.replace_policy(compiled);
        self.state().applied = Some(text.to_owned());
        Ok(PolicyReload::Replaced {
            generation: gate.policy_generation(),
        })
    }

    /// Reads the policy from KV namespace `binding` and
    /// [`apply`](Self::apply)s it; logs what happened to the Worker's
    /// console.
    ///
    /// # Errors
    /// [`WorkerError::Invalid`] when the binding is missing, the read fails
    /// or the document is refused; the gate keeps its policy.
    #[cfg(target_arch = "wasm32")]
    pub async fn reload(
        &self,
        env: &worker::Env,
        binding: &str,
        gate: &Gate,
    ) -> Result<PolicyReload, WorkerError> {
        let kv = env.kv(binding).map_err(|e| WorkerError::Invalid {
            var: POLICY_VAR,
            reason: format!("no KV binding `{binding}`: {e}"),
        })?;
        let value = kv
            .get(self.key())
            .text()
            .await
            .map_err(|e| WorkerError::Invalid {
                var: POLICY_VAR,
                reason: format!("KV read of `{}` failed: {e}", self.key()),
            })?;
        let result = self.apply(gate, value.as_deref());
        match &result {
            Ok(PolicyReload::Replaced { generation }) => {
                worker::console_log!("edge-auth: policy reloaded from KV (generation {generation})")
            }
            Ok(_) => {}
            Err(e) => worker::console_warn!("edge-auth: {e}"),
        }
        result
    }
}
