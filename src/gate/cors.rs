//! CORS at the gate (Fetch standard, CORS protocol): preflights answered
//! without a token when the route's settings allow them, and the route's
//! CORS headers on the gate's own rejections and on forwarded responses.

use http::header::ACCESS_CONTROL_REQUEST_METHOD;
use http::request::Parts;
use http::{HeaderMap, Method, Response, StatusCode};

use super::{Gate, Outcome};
use crate::cors::{self, PreflightRefusal};
use crate::policy::{CompiledPolicy, RequestFacts};
use crate::response::Rejection;

impl Gate {
    /// The answer to a CORS preflight, or `None` when the request is not
    /// one (or the policy has no CORS settings, so preflights are ordinary
    /// requests as before).
    pub(super) fn check_preflight(
        &self,
        parts: &Parts,
        facts: &RequestFacts<'_>,
        policy: &CompiledPolicy,
    ) -> Option<Outcome> {
        // Without the `policy` feature the Gate's policy has no rules: the
        // constant lets the compiler drop the CORS steps from the binary.
        if !cfg!(feature = "policy")
            || !policy.has_cors()
            || !cors::is_preflight(&parts.method, &parts.headers)
        {
            return None;
        }
        let refuse = |refusal: PreflightRefusal| {
            Some(Outcome::Deny(
                self.realm(Rejection::preflight_refused(&refusal)),
            ))
        };
        let mut values = parts.headers.get_all(ACCESS_CONTROL_REQUEST_METHOD).iter();
        let method = match (values.next(), values.next()) {
            (Some(v), None) => Method::from_bytes(v.as_bytes()).ok(),
            _ => None,
        };
        let Some(method) = method else {
            return refuse(PreflightRefusal::MethodNotAllowed {
                method: "malformed or repeated access-control-request-method".to_owned(),
            });
        };
        let Some(settings) = policy.cors_for(&facts.with_method(&method)) else {
            return refuse(PreflightRefusal::NotCorsRoute);
        };
        match settings.preflight(&parts.headers) {
            Ok(headers) => {
                let mut response = Response::new(Vec::new());
                *response.status_mut() = StatusCode::NO_CONTENT;
                *response.headers_mut() = headers;
                Some(Outcome::Preflight(response))
            }
            Err(refusal) => refuse(refusal),
        }
    }

    /// The CORS headers for a response to this (non-preflight) request: the
    /// route's `Vary: Origin` and, for an allowed origin,
    /// `Access-Control-Allow-Origin`, `-Allow-Credentials` and
    /// `-Expose-Headers`. Empty when the route has no CORS settings.
    ///
    /// A driver calls it on the response path of an [`Outcome::Allow`] and
    /// copies the result onto the upstream's response with
    /// [`cors::apply_to`] (which appends `Vary` and replaces any
    /// `Access-Control-*` the upstream set). The gate's own rejections
    /// already carry these headers.
    pub fn cors_headers(&self, parts: &Parts, facts: &RequestFacts<'_>) -> HeaderMap {
        if !cfg!(feature = "policy") {
            return HeaderMap::new();
        }
        self.policy()
            .cors_for(facts)
            .map(|settings| settings.response_headers(&parts.headers))
            .unwrap_or_default()
    }

    /// A rejection with the route's CORS headers, so browser code of an
    /// allowed origin can read the 401/403/503.
    pub(super) fn cors_rejection(
        &self,
        rejection: Rejection,
        parts: &Parts,
        facts: &RequestFacts<'_>,
        policy: &CompiledPolicy,
    ) -> Rejection {
        if !cfg!(feature = "policy") {
            return rejection;
        }
        // A refused preflight must carry no CORS headers.
        if cors::is_preflight(&parts.method, &parts.headers) && policy.has_cors() {
            return rejection;
        }
        match policy.cors_for(facts) {
            Some(settings) => rejection.with_cors(settings.response_headers(&parts.headers)),
            None => rejection,
        }
    }
}
