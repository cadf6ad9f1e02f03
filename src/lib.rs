#![doc = include_str!("../README.md")]
#![forbid(unsafe_code)]
#![deny(missing_docs, missing_debug_implementations, unreachable_pub)]
#![cfg_attr(
    not(test),
    deny(
        clippy::unwrap_used,
        clippy::expect_used,
        clippy::panic,
        clippy::indexing_slicing
    )
)]
#![cfg_attr(docsrs, feature(doc_cfg))]

// Cargo features and Worker size (docs/adr/0011-worker-size.md). A
// capability that a JWT-only Worker does not need gets its own feature,
// usually in `default` (so `cargo add edge-auth` keeps everything), and
// what gates it is the code that *reaches* it from the Gate or a driver,
// not only its module: the linker drops what nothing calls.
// - `sigv4`, `httpsig`, `dpop` (needs `httpsig`): the module is
//   `#[cfg(feature = ..)]` here, and so is every config field, builder and
//   Gate step that uses it (`GateConfig::dpop`, `Gate::check_sender`).
// - `policy`: the `policy` module's types stay (`RequestFacts`, `Decision`
//   are in the Gate's signature), but the Gate never compiles or evaluates
//   a policy without the feature: `GateConfig::with_policy`,
//   `Gate::replace_policy`, `driver::reload` and the Worker's KV policy
//   reload are cfg'd out, the decision is `Decision::authenticated_only`,
//   and the CORS and rate-limit steps are `if !cfg!(feature = "policy")`
//   early returns. A setting the build cannot enforce (the Worker's
//   `EDGE_AUTH_POLICY`) is refused, never ignored.
// A new optional capability (introspection, mTLS binding, resource
// metadata...): add `name = [..]` to `[features]` and to `default`, put
// `#[cfg(feature = "name")]` on its module, on its `GateConfig` field and
// builder and on the Gate step that calls it, add it to the loop in
// .ci/run, and keep examples/worker-jwt without it.
pub mod assertion;
pub mod cors;
pub mod crypto;
#[cfg(feature = "dpop")]
pub mod dpop;
#[cfg(any(feature = "tokio", feature = "hyper-server", feature = "worker"))]
pub mod driver;
pub mod error;
pub mod extract;
pub mod forward;
pub mod gate;
mod http_cache;
#[cfg(feature = "httpsig")]
pub mod httpsig;
#[cfg(feature = "introspect")]
pub mod introspect;
mod jose;
pub mod json;
pub mod jwk;
pub mod jwt;
pub mod limit;
pub mod mtls;
pub mod oauth;
pub mod oidc;
pub mod policy;
pub mod resource_metadata;
pub mod response;
pub mod seal;
pub mod secret;
#[cfg(feature = "sigv4")]
pub mod sigv4;
mod text;
pub mod time;

pub use error::Error;

// The crates whose types appear in this crate's public API, re-exported so
// that users name them at the versions edge-auth was built with, without a
// dependency of their own (`time`'s `OffsetDateTime` and `Duration` are in
// [`time`](crate::time)).
pub use extract::{ExtractError, Token, TokenSource, extract};
/// The `http` crate (1.x): requests, headers and responses in the API.
pub use http;
pub use oidc::Principal;
pub use secret::Secret;
/// The `serde_json` crate (1.x): claims are `serde_json::Value`s.
pub use serde_json;

/// Internal parsers exposed for the fuzz targets in `fuzz/`. Not part of the
/// public API: anything here may change in any release.
#[doc(hidden)]
pub mod __fuzz {
    pub use crate::extract::fuzz::{cookie_pairs, form_decode, token68_error};
    pub use crate::http_cache::{
        CacheControl, CacheControlError, parse_cache_control, parse_http_date,
    };
    #[cfg(feature = "httpsig")]
    pub use crate::httpsig::fields::{
        BareItem, Dictionary, Entry, Item, Parameters, parse_dictionary, parse_dictionary_raw,
        parse_item, parse_list, serialize_dictionary, serialize_inner_list, serialize_item,
        serialize_list,
    };
    pub use crate::jwt::compact::{Segments, decode_into, decode_vec, split};
    pub use crate::jwt::header::{Alg, Header, parse as parse_header};

    /// The JWT claims-set parser (JSON object, unique members).
    ///
    /// # Errors
    /// When the payload is not a JSON object with unique members.
    pub fn parse_claims(
        payload: &[u8],
    ) -> Result<serde_json::Map<String, serde_json::Value>, crate::jwt::JwtError> {
        crate::jwt::validate_parse_claims(payload)
    }

    /// The claims-set reader into any type `C`, as validation runs it
    /// (top-level object, unique members, registered claims recorded).
    ///
    /// # Errors
    /// When the payload is not a JSON object with unique members or does
    /// not fit `C`.
    pub fn parse_claims_typed<C: serde::de::DeserializeOwned>(
        payload: &[u8],
    ) -> Result<C, crate::jwt::JwtError> {
        crate::jwt::validate_parse_typed::<C>(payload).map(|(c, _)| c)
    }

    /// The strict JSON reader (depth limit 64, repeated member names
    /// refused in every object, as for documents), into any type: for
    /// differential tests against serde_json.
    ///
    /// # Errors
    /// The reader's error text, for JSON it refuses or that does not fit `T`.
    pub fn json_from_str<'de, T: serde::Deserialize<'de>>(text: &'de str) -> Result<T, String> {
        crate::json::read(text, 64, true).map_err(|e| e.to_string())
    }

    /// The same reader as it reads documents (key sets, discovery,
    /// policies, saved state): depth limit 128, errors with line and
    /// column.
    ///
    /// # Errors
    /// The reader's error, for JSON it refuses or that does not fit `T`.
    pub fn json_from_document<'de, T: serde::Deserialize<'de>>(
        text: &'de [u8],
    ) -> Result<T, crate::json::JsonError> {
        crate::json::from_document_bytes(text)
    }
    pub use crate::policy::pattern::fuzz::{
        normalize_request_path, parse_cidr, parse_path_pattern, profile_request_path,
    };
    #[cfg(feature = "sigv4")]
    pub use crate::sigv4::fuzz::{
        AuthorizationHeader as SigV4AuthorizationHeader, canonical_path as sigv4_canonical_path,
        canonical_query as sigv4_canonical_query, parse_authorization as sigv4_parse_authorization,
        trim_header_value as sigv4_trim_header_value,
        verifier_canonical_request as sigv4_verifier_canonical_request,
    };
}
