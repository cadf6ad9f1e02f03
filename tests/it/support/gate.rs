//! Driving a `Gate` in a test: access-token claims, request parts, and a
//! check that answers the gate's key fetch with the IdP's key set.

use edge_auth::gate::{Gate, Outcome};
use edge_auth::policy::RequestFacts;
use http::request::Parts;
use http::{HeaderMap, StatusCode};
use serde_json::{Value, json};
use time::OffsetDateTime;

/// The issuer the Gate tests trust.
pub const ISS: &str = "https://idp.example.com";
/// The audience the Gate tests expect.
pub const AUD: &str = "api://orders";

/// An access token's claims for [`ISS`] and [`AUD`], about `sub`, issued at
/// `iat`, expiring at `exp`, bound by `cnf` (RFC 7800) when given.
pub fn access_claims(sub: &str, iat: i64, exp: i64, cnf: Option<Value>) -> Value {
    let mut claims = json!({"iss": ISS, "aud": AUD, "sub": sub, "iat": iat, "exp": exp});
    if let Some(cnf) = cnf {
        claims["cnf"] = cnf;
    }
    claims
}

/// The parts of a `method` request for `path` on `host` with `headers`.
pub fn request_parts(method: &str, host: &str, path: &str, headers: &[(&str, &str)]) -> Parts {
    let mut b = http::Request::builder()
        .method(method)
        .uri(path)
        .header("host", host);
    for (k, v) in headers {
        b = b.header(*k, *v);
    }
    b.body(()).unwrap().into_parts().0
}

/// Checks `parts` with `facts` at `now`; when the gate asks for keys, feeds
/// it `jwks` (a 200 answer to its plan) and checks again.
pub fn check_fetching_keys(
    gate: &Gate,
    parts: &Parts,
    facts: &RequestFacts,
    jwks: &[u8],
    now: OffsetDateTime,
) -> Outcome {
    match gate.check(parts, facts, now) {
        Outcome::FetchKeys(plan) => {
            gate.apply_fetch_response(&plan, StatusCode::OK, &HeaderMap::new(), jwks, now)
                .unwrap();
            gate.check(parts, facts, now)
        }
        other => other,
    }
}
