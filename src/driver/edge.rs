//! Edge assertions on forwarded requests: an [`EdgeMinter`] shares one
//! [`EdgeAssertions`] between the [`Proxy`](super::proxy::Proxy) (which
//! mints one per authenticated request, see
//! [`ProxyConfig::with_edge_assertions`](super::proxy::ProxyConfig::with_edge_assertions))
//! and the listener that publishes its JWKS and discovery documents, and
//! [`EdgeMinter::spawn_rotation`] moves its keys along on a timer with the
//! overlap [`EdgeAssertions`] implements.

use std::fmt;
use std::sync::{Arc, PoisonError, RwLock, RwLockReadGuard, RwLockWriteGuard};
use std::time::Duration;

use ring::rand::SystemRandom;
use time::OffsetDateTime;

use super::keys::{Clock, DriverError};
use crate::Principal;
use crate::assertion::{EdgeAssertions, MintError, Rotation};
use crate::crypto::{KeyError, SigningKey};
use crate::secret::Secret;

/// A shared [`EdgeAssertions`] and the audience (the upstream) its
/// assertions are addressed to. Cheap to clone; `Debug` shows no key.
#[derive(Clone)]
pub struct EdgeMinter {
    edge: Arc<RwLock<EdgeAssertions>>,
    audience: String,
    rng: Arc<SystemRandom>,
}

impl fmt::Debug for EdgeMinter {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("EdgeMinter")
            .field("issuer", &self.read().issuer())
            .field("audience", &self.audience)
            .finish_non_exhaustive()
    }
}

/// Makes the next signing key for [`EdgeMinter::spawn_rotation`].
pub type NextKey = Box<dyn Fn() -> Result<SigningKey, KeyError> + Send + Sync>;

impl EdgeMinter {
    /// Assertions from `edge`, addressed to `audience`.
    pub fn new(edge: EdgeAssertions, audience: impl Into<String>) -> Self {
        Self {
            edge: Arc::new(RwLock::new(edge)),
            audience: audience.into(),
            rng: Arc::new(SystemRandom::new()),
        }
    }

    /// The audience the assertions are addressed to.
    pub fn audience(&self) -> &str {
        &self.audience
    }

    /// The key set, locked for reading (`jwks()`, `discovery()`). Keep it short.
    pub fn read(&self) -> RwLockReadGuard<'_, EdgeAssertions> {
        self.edge.read().unwrap_or_else(PoisonError::into_inner)
    }

    /// The key set, locked for writing (`add_next`, `rotate`). Keep it short.
    pub fn write(&self) -> RwLockWriteGuard<'_, EdgeAssertions> {
        self.edge.write().unwrap_or_else(PoisonError::into_inner)
    }

    /// The `X-Edge-Assertion` for `principal` at `now`.
    ///
    /// # Errors
    /// [`MintError`] when the assertion cannot be minted (no subject, a
    /// signing failure).
    pub fn mint(
        &self,
        principal: &Principal,
        now: OffsetDateTime,
    ) -> Result<Secret<String>, MintError> {
        self.read().mint(principal, &self.audience, now, &*self.rng)
    }

    /// One rotation step at `now`: [`EdgeAssertions::rotate`], then, when
    /// no next key is waiting, `next_key()` is published as the next one.
    ///
    /// # Errors
    /// [`MintError`] when the next key cannot be made or published; the
    /// rotation step itself has happened.
    pub fn rotate(
        &self,
        now: OffsetDateTime,
        next_key: &dyn Fn() -> Result<SigningKey, KeyError>,
    ) -> Result<Rotation, MintError> {
        let mut edge = self.write();
        let done = edge.rotate(now);
        if edge.next_key().is_none() {
            edge.add_next(next_key()?, now)?;
        }
        Ok(done)
    }

    /// Runs [`rotate`](Self::rotate) every `every` on the tokio runtime
    /// with `clock`, until the returned task is dropped. A failed step is
    /// retried on the next tick.
    ///
    /// # Errors
    /// [`DriverError`] when there is no tokio runtime or `every` is zero.
    pub fn spawn_rotation(
        &self,
        every: Duration,
        clock: Arc<dyn Clock>,
        next_key: NextKey,
    ) -> Result<RotationTask, DriverError> {
        if every.is_zero() {
            return Err(DriverError::fetch("the rotation interval is zero"));
        }
        let runtime = tokio::runtime::Handle::try_current()
            .map_err(|_| DriverError::fetch("edge key rotation needs a tokio runtime"))?;
        let minter = self.clone();
        let task = runtime.spawn(async move {
            let mut tick = tokio::time::interval(every);
            tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
            loop {
                tick.tick().await;
                let step = minter.rotate(clock.now(), &*next_key);
                #[cfg(feature = "tracing")]
                match &step {
                    Ok(done) if done.promoted.is_some() || !done.removed.is_empty() => {
                        tracing::info!(promoted = ?done.promoted, removed = ?done.removed, "edge keys rotated");
                    }
                    Ok(_) => {}
                    Err(e) => tracing::warn!(error = %e, "edge key rotation failed"),
                }
                let _ = step;
            }
        });
        Ok(RotationTask(task))
    }
}

/// The rotation timer of [`EdgeMinter::spawn_rotation`]; dropping it stops it.
#[derive(Debug)]
pub struct RotationTask(tokio::task::JoinHandle<()>);

impl Drop for RotationTask {
    fn drop(&mut self) {
        self.0.abort();
    }
}

#[cfg(feature = "tower")]
pub use layer::{DISCOVERY_PATH, EdgeDocumentsLayer, EdgeDocumentsService, JWKS_PATH};

#[cfg(feature = "tower")]
mod layer {
    use std::future::Future;
    use std::pin::Pin;
    use std::task::{Context, Poll};

    use http::{HeaderValue, Method, Request, Response, StatusCode, header};
    use tower::{Layer, Service};

    use super::EdgeMinter;

    /// Where [`EdgeDocumentsLayer`] serves the key set.
    pub const JWKS_PATH: &str = "/.well-known/jwks.json";
    /// Where [`EdgeDocumentsLayer`] serves the discovery document.
    pub const DISCOVERY_PATH: &str = "/.well-known/openid-configuration";

    /// Answers `GET /.well-known/jwks.json` and `GET
    /// /.well-known/openid-configuration` from an [`EdgeMinter`] (so the
    /// upstream can verify the edge assertions), before the Gate; every
    /// other request goes on. Cache lifetime: 60 s (the publish lead
    /// covers longer caches).
    #[derive(Debug, Clone)]
    pub struct EdgeDocumentsLayer {
        minter: EdgeMinter,
    }

    impl EdgeDocumentsLayer {
        /// A layer serving `minter`'s documents.
        pub fn new(minter: EdgeMinter) -> Self {
            Self { minter }
        }
    }

    impl<S> Layer<S> for EdgeDocumentsLayer {
        type Service = EdgeDocumentsService<S>;

        fn layer(&self, inner: S) -> Self::Service {
            EdgeDocumentsService {
                inner,
                minter: self.minter.clone(),
            }
        }
    }

    /// The service of an [`EdgeDocumentsLayer`].
    #[derive(Debug, Clone)]
    pub struct EdgeDocumentsService<S> {
        inner: S,
        minter: EdgeMinter,
    }

    impl<S, B, ResBody> Service<Request<B>> for EdgeDocumentsService<S>
    where
        S: Service<Request<B>, Response = Response<ResBody>>,
        S::Future: Send + 'static,
        S::Error: Send + 'static,
        ResBody: From<Vec<u8>> + Send + 'static,
    {
        type Response = Response<ResBody>;
        type Error = S::Error;
        type Future = Pin<Box<dyn Future<Output = Result<Response<ResBody>, S::Error>> + Send>>;

        fn poll_ready(&mut self, cx: &mut Context<'_>) -> Poll<Result<(), Self::Error>> {
            self.inner.poll_ready(cx)
        }

        fn call(&mut self, request: Request<B>) -> Self::Future {
            let document = match request.uri().path() {
                JWKS_PATH => Some(self.minter.read().jwks()),
                DISCOVERY_PATH => Some(self.minter.read().discovery()),
                _ => None,
            };
            let read = matches!(*request.method(), Method::GET | Method::HEAD);
            match document.filter(|_| read) {
                Some(document) => {
                    let mut response = Response::new(ResBody::from(document.into_bytes()));
                    *response.status_mut() = StatusCode::OK;
                    let headers = response.headers_mut();
                    headers.insert(
                        header::CONTENT_TYPE,
                        HeaderValue::from_static("application/json"),
                    );
                    headers.insert(
                        header::CACHE_CONTROL,
                        HeaderValue::from_static("public, max-age=60"),
                    );
                    Box::pin(std::future::ready(Ok(response)))
                }
                None => Box::pin(self.inner.call(request)),
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use std::sync::atomic::{AtomicI64, Ordering};

    use super::*;
    use crate::jwt::Algorithm;

    fn key() -> Result<SigningKey, KeyError> {
        SigningKey::generate(Algorithm::ES256, &SystemRandom::new())
    }

    #[test]
    fn rotate_publishes_one_next_key_and_promotes_it_after_the_lead() {
        let now = time::macros::datetime!(2026-12-07 10:00 UTC);
        let edge = EdgeAssertions::new("https://edge.example.com", key().unwrap())
            .unwrap()
            .with_publish_lead(time::Duration::minutes(10));
        let minter = EdgeMinter::new(edge, "api://upstream");
        let first = minter.read().current_key().kid().to_owned();
        assert_eq!(minter.rotate(now, &key).unwrap().promoted, None);
        let next = minter.read().next_key().unwrap().kid().to_owned();
        // A waiting next key is kept, not replaced.
        minter
            .rotate(now + time::Duration::minutes(5), &key)
            .unwrap();
        assert_eq!(minter.read().next_key().unwrap().kid(), next);
        let done = minter
            .rotate(now + time::Duration::minutes(10), &key)
            .unwrap();
        assert_eq!(done.promoted.as_deref(), Some(next.as_str()));
        let jwks: serde_json::Value = serde_json::from_str(&minter.read().jwks()).unwrap();
        let kids: Vec<&str> = jwks["keys"]
            .as_array()
            .unwrap()
            .iter()
            .filter_map(|k| k["kid"].as_str())
            .collect();
        assert!(
            kids.contains(&first.as_str()),
            "the retiring key stays published"
        );
        assert_eq!(kids.len(), 3);
    }

    #[tokio::test]
    async fn the_rotation_timer_rotates_with_its_clock_and_stops_when_dropped() {
        let offset = Arc::new(AtomicI64::new(0));
        let start = time::macros::datetime!(2026-12-07 10:00 UTC);
        let seen = Arc::clone(&offset);
        let clock: Arc<dyn Clock> =
            Arc::new(move || start + time::Duration::seconds(seen.load(Ordering::SeqCst)));
        let edge = EdgeAssertions::new("https://edge.example.com", key().unwrap())
            .unwrap()
            .with_publish_lead(time::Duration::minutes(1));
        let minter = EdgeMinter::new(edge, "api://upstream");
        let first = minter.read().current_key().kid().to_owned();
        let task = minter
            .spawn_rotation(Duration::from_millis(10), clock, Box::new(key))
            .unwrap();
        let mut rotated = false;
        for _ in 0..200 {
            tokio::time::sleep(Duration::from_millis(10)).await;
            if minter.read().next_key().is_some() {
                offset.store(120, Ordering::SeqCst);
            }
            if minter.read().current_key().kid() != first {
                rotated = true;
                break;
            }
        }
        assert!(rotated, "the timer never promoted the next key");
        drop(task);
        assert!(
            minter
                .spawn_rotation(
                    Duration::ZERO,
                    Arc::new(crate::driver::keys::SystemClock),
                    Box::new(key)
                )
                .is_err()
        );
    }
}
