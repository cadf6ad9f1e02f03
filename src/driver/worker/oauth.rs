//! OAuth client credentials in a Worker: [`WorkerTokens`] keeps one
//! client's [`TokenCache`] per isolate and shares the token through Workers
//! KV (sealed with a [`Sealer`] when one is given: a cached access token in
//! KV is readable by anyone who can read the namespace otherwise), and
//! `bearer_token` (wasm32 only) fetches with `worker::Fetch` when needed and
//! refreshes ahead of expiry after the response with `ctx.wait_until`.
//!
//! ```ignore
//! use edge_auth::driver::worker::{WorkerTokens, bearer_token};
//!
//! // Once per isolate: the client, the sealer from a Worker secret, the KV binding.
//! let tokens = WorkerTokens::new(cache, Some(sealer), Some("EDGE_AUTH_KV".into()));
//! // Per request to the upstream:
//! let token = bearer_token(&tokens, &env, &ctx).await?;
//! headers.set("authorization", &format!("Bearer {}", token.expose()))?;
//! ```

use std::fmt;
use std::sync::{Arc, Mutex, MutexGuard, PoisonError};

use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use http::{HeaderMap, StatusCode};
use time::OffsetDateTime;

use super::WorkerError;
use crate::Secret;
use crate::oauth::{OAuthError, TokenCache, TokenPlan, TokenState};
use crate::seal::Sealer;

/// The KV key under which the token of the client with `cache_key`
/// ([`ClientCredentials::cache_key`](crate::oauth::ClientCredentials::cache_key))
/// is shared: a digest, so the key stays short and names no scope.
pub fn oauth_kv_key(cache_key: &str) -> String {
    let digest = ring::digest::digest(&ring::digest::SHA256, cache_key.as_bytes());
    format!("oauth-token:{}", URL_SAFE_NO_PAD.encode(digest.as_ref()))
}

/// One client's token cache in a Worker isolate, with its KV sharing.
/// Cheap to clone. `Debug` never shows the token.
#[derive(Clone)]
pub struct WorkerTokens {
    cache: Arc<Mutex<TokenCache>>,
    sealer: Option<Arc<Sealer>>,
    kv_binding: Option<String>,
    kv_key: String,
}

impl fmt::Debug for WorkerTokens {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("WorkerTokens")
            .field("sealed", &self.sealer.is_some())
            .field("kv_binding", &self.kv_binding)
            .field("kv_key", &self.kv_key)
            .finish_non_exhaustive()
    }
}

impl WorkerTokens {
    /// Tokens from `cache`, shared through the KV namespace `kv_binding`
    /// (`None`: no sharing), sealed with `sealer` (`None`: plain JSON, which
    /// exposes the token to readers of the namespace).
    pub fn new(cache: TokenCache, sealer: Option<Sealer>, kv_binding: Option<String>) -> Self {
        let kv_key = oauth_kv_key(&cache.client().cache_key());
        Self {
            cache: Arc::new(Mutex::new(cache)),
            sealer: sealer.map(Arc::new),
            kv_binding,
            kv_key,
        }
    }

    /// The cache, locked. Keep the lock short.
    pub fn cache(&self) -> MutexGuard<'_, TokenCache> {
        self.cache.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// The KV binding, if any.
    pub fn kv_binding(&self) -> Option<&str> {
        self.kv_binding.as_deref()
    }

    /// The KV key of this client's token ([`oauth_kv_key`]).
    pub fn kv_key(&self) -> &str {
        &self.kv_key
    }

    /// The token to send at `now`, if the cache holds a usable one.
    pub fn get(&self, now: OffsetDateTime) -> Option<Secret<String>> {
        self.cache().get(now).cloned()
    }

    /// The token request due at `now`, if any.
    ///
    /// # Errors
    /// [`WorkerError::Token`] when the request cannot be built.
    pub fn poll(&self, now: OffsetDateTime) -> Result<Option<TokenPlan>, WorkerError> {
        self.cache().poll(now).map_err(token_error)
    }

    /// Takes a token from the text read from KV. With a sealer, only a blob
    /// sealed for this client opens (plain JSON is refused). Returns whether
    /// the token was taken.
    ///
    /// # Errors
    /// [`WorkerError::Token`] when the text is refused; nothing changes and
    /// the token is fetched instead.
    pub fn restore(&self, text: &str, now: OffsetDateTime) -> Result<bool, WorkerError> {
        let mut cache = self.cache();
        match &self.sealer {
            Some(sealer) => cache.import_sealed(sealer, text, now),
            None => TokenState::from_json(text.as_bytes()).and_then(|s| cache.import_state(s, now)),
        }
        .map_err(token_error)
    }

    /// Feeds the answer to `plan`; on success, the text to write to KV
    /// (sealed when a sealer is set), or `None` without a KV binding.
    ///
    /// # Errors
    /// [`WorkerError::Token`] when the answer is refused (recorded as a
    /// failed request) or the state cannot be sealed.
    pub fn apply(
        &self,
        plan: &TokenPlan,
        status: StatusCode,
        headers: &HeaderMap,
        body: &[u8],
        now: OffsetDateTime,
    ) -> Result<Option<String>, WorkerError> {
        let mut cache = self.cache();
        cache
            .apply_token_response(plan, status, headers, body, now)
            .map_err(token_error)?;
        if self.kv_binding.is_none() {
            return Ok(None);
        }
        match &self.sealer {
            Some(sealer) => cache.export_sealed(sealer).map_err(token_error),
            None => Ok(cache
                .export_state()
                .map(|s| String::from_utf8_lossy(&s.to_json()).into_owned())),
        }
    }

    /// Records that `plan` got no answer.
    pub fn apply_failure(&self, plan: &TokenPlan, reason: &str, now: OffsetDateTime) {
        self.cache().apply_failure(plan, reason, now);
    }
}

fn token_error(e: OAuthError) -> WorkerError {
    WorkerError::Token {
        reason: e.to_string(),
    }
}

#[cfg(target_arch = "wasm32")]
pub use runtime::bearer_token;

#[cfg(target_arch = "wasm32")]
mod runtime {
    use http::{HeaderMap, StatusCode};
    use time::OffsetDateTime;
    use worker::{Context, Date, Env, Fetch, console_warn};

    use super::WorkerTokens;
    use crate::Secret;
    use crate::driver::worker::{WorkerError, time_from_unix_millis};
    use crate::oauth::TokenPlan;

    /// The access token to send upstream: the isolate's, else the one in
    /// KV, else one fetched now (`worker::Fetch`, the new state written to
    /// KV after the response). A due refresh runs after the response with
    /// `ctx.wait_until` while the still-valid token is used.
    ///
    /// # Errors
    /// [`WorkerError::Token`] when no token can be had (the endpoint failed
    /// or refused; the retry backoff has not passed);
    /// [`WorkerError::Clock`].
    pub async fn bearer_token(
        tokens: &WorkerTokens,
        env: &Env,
        ctx: &Context,
    ) -> Result<Secret<String>, WorkerError> {
        let now = time_from_unix_millis(Date::now().as_millis())?;
        if tokens.get(now).is_none() {
            restore(tokens, env, now).await;
        }
        let plan = tokens.poll(now)?;
        if let Some(token) = tokens.get(now) {
            if let Some(plan) = plan {
                let (tokens, env) = (tokens.clone(), env.clone());
                ctx.wait_until(async move {
                    if let Some(state) = fetch_and_apply(&tokens, &plan, now).await {
                        persist(&tokens, &env, state).await;
                    }
                });
            }
            return Ok(token);
        }
        let Some(plan) = plan else {
            return Err(WorkerError::Token {
                reason: tokens
                    .cache()
                    .last_error()
                    .unwrap_or("a token request is in flight")
                    .to_owned(),
            });
        };
        if let Some(state) = fetch_and_apply(tokens, &plan, now).await {
            let (tokens2, env) = (tokens.clone(), env.clone());
            ctx.wait_until(async move { persist(&tokens2, &env, state).await });
        }
        tokens.get(now).ok_or_else(|| WorkerError::Token {
            reason: tokens.cache().last_error().unwrap_or("no token").to_owned(),
        })
    }

    async fn restore(tokens: &WorkerTokens, env: &Env, now: OffsetDateTime) {
        let Some(binding) = tokens.kv_binding() else {
            return;
        };
        let read = crate::driver::worker::runtime::kv_get_text(env, binding, tokens.kv_key());
        match read.await {
            Ok(Some(text)) => {
                if let Err(e) = tokens.restore(&text, now) {
                    console_warn!("edge-auth: ignoring the token state in KV: {e}");
                }
            }
            Ok(None) => {}
            Err(e) => console_warn!("edge-auth: KV read from `{binding}` failed: {e}"),
        }
    }

    async fn persist(tokens: &WorkerTokens, env: &Env, state: String) {
        let Some(binding) = tokens.kv_binding() else {
            return;
        };
        // As the key state is written (see `runtime::kv_put`).
        let written =
            crate::driver::worker::runtime::kv_put(env, binding, tokens.kv_key(), state.as_bytes());
        if let Err(e) = written.await {
            console_warn!("edge-auth: KV write to `{binding}` failed: {e}");
        }
    }

    /// POSTs `plan` and applies the answer; the state to write to KV.
    async fn fetch_and_apply(
        tokens: &WorkerTokens,
        plan: &TokenPlan,
        now: OffsetDateTime,
    ) -> Option<String> {
        let request = plan.to_request();
        let result = async {
            let request = crate::driver::worker::js::outbound(
                plan.uri(),
                "POST",
                request.headers(),
                Some(request.body().as_slice()),
            )?;
            let mut response = Fetch::Request(request).send().await?;
            let status = StatusCode::from_u16(response.status_code())?;
            let headers = HeaderMap::from(response.headers());
            let body = response.bytes().await?;
            Ok::<_, worker::Error>((status, headers, body))
        }
        .await;
        match result {
            Ok((status, headers, body)) => match tokens.apply(plan, status, &headers, &body, now) {
                Ok(state) => state,
                Err(e) => {
                    console_warn!("edge-auth: token request to {} refused: {e}", plan.uri());
                    None
                }
            },
            Err(e) => {
                console_warn!("edge-auth: token request to {} failed: {e}", plan.uri());
                tokens.apply_failure(plan, &e.to_string(), now);
                None
            }
        }
    }
}
