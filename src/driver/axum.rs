//! axum 0.8 extractors for what [`GateLayer`](super::tower::GateLayer) put
//! in the request's extensions.
//!
//! Both hold an `Arc<Principal>` (the layer puts one in the extensions), so
//! extracting is a reference-count increment, not a copy of the claims.
//!
//! - [`Authenticated`]: the request's [`Principal`]; a request without one
//!   (an anonymous route, or a handler the layer does not cover) is
//!   answered 401 with a bare `Bearer` challenge.
//! - [`MaybeAuthenticated`]: the Principal if there is one, for routes the
//!   policy opens to anonymous callers.
//!
//! `Extension<Decision>` gives the policy decision for the audit log.

use std::convert::Infallible;
use std::ops::Deref;
use std::sync::Arc;

use axum::extract::FromRequestParts;
use axum::response::Response;
use http::request::Parts;

use super::tower::rejection_response;
use crate::Principal;
use crate::response::Rejection;

/// The authenticated caller, shared with the request's extensions (it
/// derefs to [`Principal`]). Extracting it fails with 401 when the request
/// has no Principal.
#[derive(Debug, Clone)]
pub struct Authenticated(pub Arc<Principal>);

impl Deref for Authenticated {
    type Target = Principal;

    fn deref(&self) -> &Principal {
        &self.0
    }
}

impl<S: Send + Sync> FromRequestParts<S> for Authenticated {
    type Rejection = Response;

    async fn from_request_parts(parts: &mut Parts, _state: &S) -> Result<Self, Self::Rejection> {
        parts
            .extensions
            .get::<Arc<Principal>>()
            .cloned()
            .map(Self)
            .ok_or_else(|| rejection_response(&Rejection::missing_token()))
    }
}

/// The caller if the request was authenticated (shared, as in
/// [`Authenticated`]); never fails.
#[derive(Debug, Clone)]
pub struct MaybeAuthenticated(pub Option<Arc<Principal>>);

impl<S: Send + Sync> FromRequestParts<S> for MaybeAuthenticated {
    type Rejection = Infallible;

    async fn from_request_parts(parts: &mut Parts, _state: &S) -> Result<Self, Self::Rejection> {
        Ok(Self(parts.extensions.get::<Arc<Principal>>().cloned()))
    }
}
