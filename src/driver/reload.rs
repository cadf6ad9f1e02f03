//! Policy reload without a redeploy (feature `tokio`): read the policy
//! document from a file (or a URL, through the key driver's
//! [`HttpClient`]) on an interval and swap it into the [`Gate`] with
//! [`Gate::replace_policy`]. A document that does not parse, does not
//! compile or fails its own embedded `tests` is refused: the old policy
//! keeps serving, and the refusal is returned, logged (feature `tracing`)
//! and counted.
//!
//! ```no_run
//! # #[cfg(feature = "tower")]
//! # async fn run(layer: edge_auth::driver::tower::GateLayer) -> Result<(), Box<dyn std::error::Error>> {
//! use std::time::Duration;
//! use edge_auth::driver::reload::PolicyReloader;
//!
//! let reloader = PolicyReloader::from_file(layer.driver().gate().clone(), "/etc/edge/policy.json");
//! reloader.reload().await?; // fail fast at start-up
//! let _task = reloader.spawn(Duration::from_secs(10))?; // dropping it stops the reloads
//! # Ok(()) }
//! ```

use std::fmt;
use std::io::Read;
use std::path::PathBuf;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, PoisonError};
use std::time::Duration;

use http::{HeaderMap, HeaderValue, StatusCode};

use super::keys::{DriverError, FetchRequest, HttpClient};
use crate::gate::Gate;
use crate::policy::{Policy, PolicyConfig, PolicyError};

/// The largest policy document read by default: 4 MiB.
pub const DEFAULT_MAX_POLICY_BYTES: usize = 4 << 20;

/// Where the policy document comes from.
#[derive(Clone)]
enum Source {
    File(PathBuf),
    Url {
        url: String,
        client: Arc<dyn HttpClient>,
    },
}

impl fmt::Debug for Source {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::File(path) => f.debug_tuple("File").field(path).finish(),
            Self::Url { url, .. } => f.debug_struct("Url").field("url", url).finish(),
        }
    }
}

/// Why a reload was refused; the gate keeps its policy.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum ReloadError {
    /// The file could not be read.
    #[error("cannot read policy file `{path}`: {reason}")]
    Read {
        /// The file.
        path: String,
        /// The I/O error.
        reason: String,
    },
    /// The document is larger than the reloader accepts.
    #[error("policy document is larger than {max} bytes")]
    TooLarge {
        /// The limit.
        max: usize,
    },
    /// The URL could not be fetched.
    #[error("cannot fetch policy from `{url}`: {source}")]
    Fetch {
        /// The URL.
        url: String,
        /// The client's error.
        #[source]
        source: DriverError,
    },
    /// The URL answered another status than 200.
    #[error("policy URL `{url}` answered {status}")]
    Status {
        /// The URL.
        url: String,
        /// The status.
        status: StatusCode,
    },
    /// The document does not parse, does not compile or fails one of its
    /// own tests.
    #[error("new policy refused, old one kept: {0}")]
    Policy(#[from] PolicyError),
    /// Called outside a tokio runtime.
    #[error("{0}")]
    Runtime(DriverError),
}

/// What a reload did.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum Reloaded {
    /// The document is the one already applied: nothing done.
    Unchanged,
    /// The new policy is in place; the gate's policy generation is now
    /// this.
    Replaced {
        /// [`Gate::policy_generation`] after the swap.
        generation: u64,
    },
}

/// Counters of a [`PolicyReloader`].
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
#[non_exhaustive]
pub struct ReloadStats {
    /// Policies swapped in.
    pub replaced: u64,
    /// Reloads that found the document unchanged.
    pub unchanged: u64,
    /// Reloads refused (old policy kept).
    pub failed: u64,
}

/// Reloads a gate's policy from a file or a URL. Cheap to clone (an
/// `Arc`).
#[derive(Debug, Clone)]
pub struct PolicyReloader {
    inner: Arc<Inner>,
}

#[derive(Debug)]
struct Inner {
    gate: Arc<Gate>,
    source: Source,
    config: PolicyConfig,
    max_bytes: usize,
    /// The document last applied, to skip recompiling an unchanged one.
    last: Mutex<Option<Vec<u8>>>,
    replaced: AtomicU64,
    unchanged: AtomicU64,
    failed: AtomicU64,
}

impl PolicyReloader {
    fn new(gate: Arc<Gate>, source: Source) -> Self {
        Self {
            inner: Arc::new(Inner {
                gate,
                source,
                config: PolicyConfig::default(),
                max_bytes: DEFAULT_MAX_POLICY_BYTES,
                last: Mutex::new(None),
                replaced: AtomicU64::new(0),
                unchanged: AtomicU64::new(0),
                failed: AtomicU64::new(0),
            }),
        }
    }

    /// Reloads `gate`'s policy from the JSON document at `path`.
    pub fn from_file(gate: Arc<Gate>, path: impl Into<PathBuf>) -> Self {
        Self::new(gate, Source::File(path.into()))
    }

    /// Reloads `gate`'s policy from the JSON document at `url`, fetched
    /// with `client` (e.g. the `hyper-client` feature's `HyperClient`).
    pub fn from_url(gate: Arc<Gate>, url: impl Into<String>, client: impl HttpClient) -> Self {
        Self::new(
            gate,
            Source::Url {
                url: url.into(),
                client: Arc::new(client),
            },
        )
    }

    fn with_inner(self, f: impl FnOnce(&mut Inner)) -> Self {
        let mut inner = Arc::try_unwrap(self.inner).unwrap_or_else(|shared| Inner {
            gate: Arc::clone(&shared.gate),
            source: shared.source.clone(),
            config: shared.config.clone(),
            max_bytes: shared.max_bytes,
            last: Mutex::new(None),
            replaced: AtomicU64::new(0),
            unchanged: AtomicU64::new(0),
            failed: AtomicU64::new(0),
        });
        f(&mut inner);
        Self {
            inner: Arc::new(inner),
        }
    }

    /// Compiles with `config` instead of the default [`PolicyConfig`].
    #[must_use]
    pub fn with_config(self, config: PolicyConfig) -> Self {
        self.with_inner(|i| i.config = config)
    }

    /// The largest document read; default [`DEFAULT_MAX_POLICY_BYTES`].
    #[must_use]
    pub fn with_max_bytes(self, max: usize) -> Self {
        self.with_inner(|i| i.max_bytes = max)
    }

    /// The counters.
    pub fn stats(&self) -> ReloadStats {
        ReloadStats {
            replaced: self.inner.replaced.load(Ordering::Relaxed),
            unchanged: self.inner.unchanged.load(Ordering::Relaxed),
            failed: self.inner.failed.load(Ordering::Relaxed),
        }
    }

    /// Reads the document once and, when it changed, compiles it (running
    /// its embedded tests) and swaps it in.
    ///
    /// # Errors
    /// [`ReloadError`] when the document cannot be read or fetched, is too
    /// large, or is refused ([`ReloadError::Policy`]); the gate keeps its
    /// policy.
    pub async fn reload(&self) -> Result<Reloaded, ReloadError> {
        let result = self.reload_inner().await;
        let inner = &self.inner;
        match &result {
            Ok(Reloaded::Replaced { generation }) => {
                inner.replaced.fetch_add(1, Ordering::Relaxed);
                #[cfg(feature = "tracing")]
                tracing::info!(source = ?inner.source, generation, "policy reloaded");
                #[cfg(not(feature = "tracing"))]
                let _ = generation;
            }
            Ok(Reloaded::Unchanged) => {
                inner.unchanged.fetch_add(1, Ordering::Relaxed);
            }
            Err(e) => {
                inner.failed.fetch_add(1, Ordering::Relaxed);
                #[cfg(feature = "tracing")]
                tracing::warn!(source = ?inner.source, error = %e, "policy reload refused; old policy kept");
                #[cfg(not(feature = "tracing"))]
                let _ = e;
            }
        }
        result
    }

    async fn reload_inner(&self) -> Result<Reloaded, ReloadError> {
        let inner = &self.inner;
        let bytes = self.read().await?;
        let last = inner.last.lock().unwrap_or_else(PoisonError::into_inner);
        if last.as_deref() == Some(bytes.as_slice()) {
            return Ok(Reloaded::Unchanged);
        }
        drop(last);
        let text = std::str::from_utf8(&bytes).map_err(|e| {
            PolicyError::Parse(crate::json::JsonError::not_utf8(&bytes, e.valid_up_to()))
        })?;
        let compiled = Policy::from_json(text)?.compile_with(&inner.config)?;
        inner.gate.replace_policy(compiled);
        *inner.last.lock().unwrap_or_else(PoisonError::into_inner) = Some(bytes);
        Ok(Reloaded::Replaced {
            generation: inner.gate.policy_generation(),
        })
    }

    async fn read(&self) -> Result<Vec<u8>, ReloadError> {
        let max = self.inner.max_bytes;
        match &self.inner.source {
            Source::File(path) => {
                let path = path.clone();
                let shown = path.display().to_string();
                let read = tokio::task::spawn_blocking(move || -> std::io::Result<Vec<u8>> {
                    let mut bytes = Vec::new();
                    std::fs::File::open(&path)?
                        .take(u64::try_from(max).unwrap_or(u64::MAX).saturating_add(1))
                        .read_to_end(&mut bytes)?;
                    Ok(bytes)
                })
                .await
                .map_err(|e| ReloadError::Read {
                    path: shown.clone(),
                    reason: e.to_string(),
                })?;
                let bytes = read.map_err(|e| ReloadError::Read {
                    path: shown,
                    reason: e.to_string(),
                })?;
                if bytes.len() > max {
                    return Err(ReloadError::TooLarge { max });
                }
                Ok(bytes)
            }
            Source::Url { url, client } => {
                let mut headers = HeaderMap::new();
                headers.insert(
                    http::header::ACCEPT,
                    HeaderValue::from_static("application/json"),
                );
                let response = client
                    .get(FetchRequest::new(url.clone(), headers, max))
                    .await
                    .map_err(|source| ReloadError::Fetch {
                        url: url.clone(),
                        source,
                    })?;
                if response.status != StatusCode::OK {
                    return Err(ReloadError::Status {
                        url: url.clone(),
                        status: response.status,
                    });
                }
                if response.body.len() > max {
                    return Err(ReloadError::TooLarge { max });
                }
                Ok(response.body)
            }
        }
    }

    /// Starts a task on the current tokio runtime that calls
    /// [`reload`](Self::reload) every `every` (the first time at once).
    /// Refused documents are logged and counted; the task keeps going.
    /// Dropping the handle stops it.
    ///
    /// # Errors
    /// [`ReloadError::Runtime`] outside a tokio runtime.
    pub fn spawn(&self, every: Duration) -> Result<ReloadTask, ReloadError> {
        let runtime = tokio::runtime::Handle::try_current().map_err(|_| {
            ReloadError::Runtime(DriverError::fetch(
                "no tokio runtime: the policy reloader runs on tokio",
            ))
        })?;
        let reloader = self.clone();
        let every = every.max(Duration::from_millis(1));
        let task = runtime.spawn(async move {
            let mut ticker = tokio::time::interval(every);
            ticker.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
            loop {
                ticker.tick().await;
                let _ = reloader.reload().await;
            }
        });
        Ok(ReloadTask { task })
    }
}

/// The handle of [`PolicyReloader::spawn`]'s task: dropping it stops the
/// reloads.
#[derive(Debug)]
pub struct ReloadTask {
    task: tokio::task::JoinHandle<()>,
}

impl Drop for ReloadTask {
    fn drop(&mut self) {
        self.task.abort();
    }
}
