//! A Cloudflare Worker that puts the edge-auth [`Gate`] in front of an origin.
//!
//! All auth logic is the library's (RFC 6750 bearer extraction, JWKS caching,
//! RFC 7519 / RFC 8725 validation, OIDC roles, the route policy, RFC 9421
//! signing of the forwarded request). This crate is wiring: [`Settings`] reads
//! the Worker's variables, [`Authorizer`] holds the Gate and the upstream
//! signer and is a pure function of the request head, the saved key state and
//! `now` (tested natively), and the `#[event(fetch)]` glue, built only for
//! `wasm32`, does the Workers I/O: the clock (`worker::Date::now()`), the JWKS
//! fetches the Gate asks for, the KV namespace that shares key state between
//! isolates, and the request to the origin.
//!
//! ```
//! use edge_auth::gate::Outcome;
//! use edge_auth_worker::{Authorizer, Settings};
//!
//! let vars = [
//!     ("EDGE_AUTH_ISSUER", "https://idp.example.com"),
//!     ("EDGE_AUTH_AUDIENCE", "api://orders"),
//!     ("EDGE_AUTH_JWKS_URI", "https://idp.example.com/jwks"),
//!     ("EDGE_AUTH_POLICY", r#"{"rules": [{"id": "api", "match": {"paths": ["/api/**"]},
//!         "require": {"any_roles": ["reader"]}, "effect": "allow"}]}"#),
//! ];
//! let settings = Settings::from_vars(|name| {
//!     vars.iter().find(|(n, _)| *n == name).map(|(_, v)| (*v).to_owned())
//! })?;
//! let authorizer = Authorizer::from_settings(&settings)?;
//!
//! // No token: 401 with a Bearer challenge, before any key is fetched.
//! let (parts, ()) = http::Request::get("https://example.com/api/orders").body(())?.into_parts();
//! let Outcome::Deny(rejection) = authorizer.check(&parts, None, time::OffsetDateTime::UNIX_EPOCH)
//! else {
//!     return Err("a request without a token must be refused".into());
//! };
//! let response = edge_auth_worker::rejection_response(&rejection);
//! assert_eq!(response.status(), 401);
//! assert_eq!(response.headers()["www-authenticate"], r#"Bearer realm="edge-auth""#);
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! ```
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

use std::cell::RefCell;
use std::net::IpAddr;

use edge_auth::gate::{FetchKind, FetchPlan, Gate, GateConfig, IssuerConfig, Outcome};
use edge_auth::httpsig::{Component, Signer, SignerConfig, SigningKey};
use edge_auth::jwk::cache::{CacheConfig, CacheState};
use edge_auth::oidc::{ClaimSource, RoleMapper};
use edge_auth::policy::{Policy, RequestFacts};
use edge_auth::response::Rejection;
use edge_auth::{Principal, Secret};
use http::header::{self, HeaderName};
use http::request::Parts;
use http::{HeaderMap, HeaderValue, Response, StatusCode, Uri};
use time::OffsetDateTime;

/// The variable that holds the policy document as JSON (required: without a
/// valid policy the Worker answers 500 to everything).
pub const POLICY_VAR: &str = "EDGE_AUTH_POLICY";
/// The trusted issuer, compared exactly with the token's `iss` (required).
pub const ISSUER_VAR: &str = "EDGE_AUTH_ISSUER";
/// Accepted `aud` values, comma-separated (required).
pub const AUDIENCE_VAR: &str = "EDGE_AUTH_AUDIENCE";
/// The issuer's JWKS endpoint (optional; without it, OpenID Connect discovery
/// at `{issuer}/.well-known/openid-configuration`).
pub const JWKS_URI_VAR: &str = "EDGE_AUTH_JWKS_URI";
/// The claim that holds roles: a name (`roles`) or a JSON Pointer
/// (`/realm_access/roles`) (optional).
pub const ROLES_CLAIM_VAR: &str = "EDGE_AUTH_ROLES_CLAIM";
/// A role-mapping preset: `okta`, `cognito`, `google`, `entra_id:<client id>`,
/// `keycloak:<client id>` or `auth0:<namespace>` (optional; combined with
/// [`ROLES_CLAIM_VAR`] when both are set).
pub const ROLES_PRESET_VAR: &str = "EDGE_AUTH_ROLES_PRESET";
/// The origin allowed requests go to, `scheme://host[:port]` (optional;
/// without it the Worker answers allowed requests itself).
pub const ORIGIN_VAR: &str = "EDGE_AUTH_ORIGIN";
/// The `hmac-sha256` key that signs forwarded requests (RFC 9421): the
/// variable's bytes as written, at least 32 (a secret; required with
/// [`ORIGIN_VAR`]).
pub const UPSTREAM_KEY_VAR: &str = "EDGE_AUTH_UPSTREAM_KEY";
/// The `keyid` sent with the upstream signature (optional, default
/// [`DEFAULT_UPSTREAM_KEY_ID`]).
pub const UPSTREAM_KEY_ID_VAR: &str = "EDGE_AUTH_UPSTREAM_KEY_ID";
/// `1` accepts an `http://` JWKS or discovery URL on a loopback host. For
/// local development and tests only.
pub const ALLOW_HTTP_LOOPBACK_VAR: &str = "EDGE_AUTH_ALLOW_HTTP_LOOPBACK";
/// The KV namespace binding where the serialised JWKS cache state is shared
/// across isolates (key [`Authorizer::kv_key`]).
pub const JWKS_KV_BINDING: &str = "EDGE_AUTH_JWKS";

/// The default `keyid` of the upstream signature.
pub const DEFAULT_UPSTREAM_KEY_ID: &str = "edge-auth";
/// The label of the upstream signature (RFC 9421 §4.1).
pub const UPSTREAM_SIGNATURE_LABEL: &str = "edge-auth";
/// Header naming the authenticated subject on a forwarded request
/// (percent-encoded, see [`Authorizer::prepare_upstream`]).
pub const SUBJECT_HEADER: &str = "x-auth-subject";
/// Header listing the principal's roles on a forwarded request
/// (comma-separated, each percent-encoded).
pub const ROLES_HEADER: &str = "x-auth-roles";

/// The most key fetches one request may cause (discovery document + key set).
pub const MAX_FETCHES_PER_REQUEST: usize = 2;

/// Inbound headers removed before forwarding: identity headers only the Worker
/// may set, signature fields only the Worker's signature may fill (a client's
/// `edge-auth` label would clash with ours), and `host` (the origin's comes
/// from its URL).
const STRIPPED_HEADERS: [&str; 5] = [
    SUBJECT_HEADER,
    ROLES_HEADER,
    "signature",
    "signature-input",
    "host",
];

/// The Worker's configuration, read from its variables once per isolate.
#[derive(Debug, Clone)]
#[non_exhaustive]
pub struct Settings {
    /// The policy document ([`POLICY_VAR`]).
    pub policy: String,
    /// The trusted issuer ([`ISSUER_VAR`]).
    pub issuer: String,
    /// Accepted audiences ([`AUDIENCE_VAR`]).
    pub audiences: Vec<String>,
    /// The JWKS endpoint ([`JWKS_URI_VAR`]); `None`: discovery.
    pub jwks_uri: Option<String>,
    /// The roles claim ([`ROLES_CLAIM_VAR`]).
    pub roles_claim: Option<String>,
    /// The role-mapping preset ([`ROLES_PRESET_VAR`]).
    pub roles_preset: Option<String>,
    /// The origin ([`ORIGIN_VAR`]).
    pub origin: Option<String>,
    /// The upstream signing key ([`UPSTREAM_KEY_VAR`]); never printed.
    pub upstream_key: Option<Secret<Vec<u8>>>,
    /// The upstream signature's `keyid` ([`UPSTREAM_KEY_ID_VAR`]).
    pub upstream_key_id: String,
    /// [`ALLOW_HTTP_LOOPBACK_VAR`] is `1`.
    pub allow_http_loopback: bool,
}

impl Settings {
    /// Reads the settings through `var` (a variable's value, `None` when
    /// unbound; an empty or blank value counts as unset).
    ///
    /// # Errors
    /// [`WorkerError::Missing`] when the policy, issuer or audience is unset,
    /// or the origin is set without an upstream key.
    pub fn from_vars(var: impl Fn(&str) -> Option<String>) -> Result<Self, WorkerError> {
        let get = |name: &str| {
            var(name)
                .map(|v| v.trim().to_owned())
                .filter(|v| !v.is_empty())
        };
        let required = |name: &'static str| get(name).ok_or(WorkerError::Missing { var: name });
        let settings = Self {
            policy: required(POLICY_VAR)?,
            issuer: required(ISSUER_VAR)?,
            audiences: required(AUDIENCE_VAR)?
                .split(',')
                .map(str::trim)
                .filter(|a| !a.is_empty())
                .map(str::to_owned)
                .collect(),
            jwks_uri: get(JWKS_URI_VAR),
            roles_claim: get(ROLES_CLAIM_VAR),
            roles_preset: get(ROLES_PRESET_VAR),
            origin: get(ORIGIN_VAR),
            // The key is used as written: trimming could change a secret.
            upstream_key: var(UPSTREAM_KEY_VAR)
                .filter(|k| !k.is_empty())
                .map(|k| Secret::new(k.into_bytes())),
            upstream_key_id: get(UPSTREAM_KEY_ID_VAR)
                .unwrap_or_else(|| DEFAULT_UPSTREAM_KEY_ID.to_owned()),
            allow_http_loopback: get(ALLOW_HTTP_LOOPBACK_VAR).as_deref() == Some("1"),
        };
        if settings.audiences.is_empty() {
            return Err(WorkerError::Missing { var: AUDIENCE_VAR });
        }
        if settings.origin.is_some() && settings.upstream_key.is_none() {
            return Err(WorkerError::Missing {
                var: UPSTREAM_KEY_VAR,
            });
        }
        Ok(settings)
    }

    fn role_mapper(&self) -> Result<RoleMapper, WorkerError> {
        let mut mapper = match self.roles_preset.as_deref() {
            None => RoleMapper::default(),
            Some(preset) => {
                let (name, arg) = preset.split_once(':').unwrap_or((preset, ""));
                match (name, arg) {
                    ("okta", "") => RoleMapper::okta(),
                    ("cognito", "") => RoleMapper::cognito(),
                    ("google", "") => RoleMapper::google(),
                    ("entra_id", id) if !id.is_empty() => RoleMapper::entra_id(id),
                    ("keycloak", id) if !id.is_empty() => RoleMapper::keycloak(id),
                    ("auth0", namespace) => RoleMapper::auth0(namespace),
                    _ => {
                        return Err(WorkerError::Invalid {
                            var: ROLES_PRESET_VAR,
                            reason: format!("unknown preset `{preset}`"),
                        });
                    }
                }
            }
        };
        if let Some(claim) = &self.roles_claim {
            let source = ClaimSource::roles(claim).map_err(|e| WorkerError::Invalid {
                var: ROLES_CLAIM_VAR,
                reason: e.to_string(),
            })?;
            mapper = mapper.with_source(source);
        }
        Ok(mapper)
    }
}

/// Why the Worker cannot serve: its configuration is unusable, or a forwarded
/// request could not be prepared. The detail goes to the log; the client only
/// ever sees a bare 500.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum WorkerError {
    /// A required variable is unset or empty.
    Missing {
        /// The variable.
        var: &'static str,
    },
    /// A variable's value is refused.
    Invalid {
        /// The variable.
        var: &'static str,
        /// What was wrong (never the value of a secret).
        reason: String,
    },
    /// The clock reading is outside what `time` can represent.
    Clock {
        /// The reading, in milliseconds since the Unix epoch.
        unix_millis: u64,
    },
    /// The request to the origin could not be built or signed.
    Upstream {
        /// What was wrong.
        reason: String,
    },
}

impl std::fmt::Display for WorkerError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Self::Missing { var } => write!(f, "`{var}` is not set"),
            Self::Invalid { var, reason } => write!(f, "`{var}` is invalid: {reason}"),
            Self::Clock { unix_millis } => {
                write!(f, "clock reading `{unix_millis}` ms is out of range")
            }
            Self::Upstream { reason } => write!(f, "cannot forward to the origin: {reason}"),
        }
    }
}

impl std::error::Error for WorkerError {}

/// Converts the Workers clock (`worker::Date::now().as_millis()`) into the
/// `now` that every edge-auth check takes.
///
/// # Errors
/// When the reading is past what `time` represents (year 9999).
pub fn time_from_unix_millis(unix_millis: u64) -> Result<OffsetDateTime, WorkerError> {
    let nanos = i128::from(unix_millis) * 1_000_000;
    OffsetDateTime::from_unix_timestamp_nanos(nanos).map_err(|_| WorkerError::Clock { unix_millis })
}

/// Where an allowed request goes.
#[derive(Debug)]
#[non_exhaustive]
pub enum Route {
    /// To the origin: the request head was rewritten to the origin's URL,
    /// carries the identity headers and is signed; send it with its body.
    Origin,
    /// No origin is configured: answer with this (200, JSON naming the
    /// subject and roles).
    Respond(Response<String>),
}

/// The Gate, the upstream signers and the last key state seen in KV: built
/// once per isolate from [`Settings`], then shared by its requests.
#[derive(Debug)]
pub struct Authorizer {
    gate: Gate,
    issuer: String,
    origin: Option<(http::uri::Scheme, http::uri::Authority)>,
    /// Signs requests with a principal (identity headers covered) and
    /// anonymous ones (no identity headers to cover).
    signers: Option<(Signer, Signer)>,
    /// The state text last read from or written to KV: a put only when it
    /// changed.
    saved_state: RefCell<Option<String>>,
}

impl Authorizer {
    /// Compiles the policy, builds the Gate and the upstream signers.
    ///
    /// # Errors
    /// [`WorkerError::Invalid`] naming the variable that is refused (policy
    /// JSON or rules, issuer or endpoints, role preset or claim, origin URL,
    /// upstream key).
    pub fn from_settings(settings: &Settings) -> Result<Self, WorkerError> {
        let invalid = |var: &'static str| {
            move |e: edge_auth::gate::GateError| WorkerError::Invalid {
                var,
                reason: e.to_string(),
            }
        };
        let policy = Policy::from_json(&settings.policy)
            .and_then(|p| p.compile())
            .map_err(|e| WorkerError::Invalid {
                var: POLICY_VAR,
                reason: e.to_string(),
            })?;
        let mut issuer = IssuerConfig::new(settings.issuer.as_str(), settings.audiences.clone())
            .with_roles(settings.role_mapper()?);
        if let Some(uri) = &settings.jwks_uri {
            issuer = issuer.with_jwks_uri(uri.as_str());
        }
        let mut cache = CacheConfig::default();
        cache.allow_http_loopback = settings.allow_http_loopback;
        let mut config = GateConfig::new([issuer])
            .with_policy(policy)
            .with_cache(cache);
        config.discovery.allow_http_loopback = settings.allow_http_loopback;
        let var = if settings.jwks_uri.is_some() {
            JWKS_URI_VAR
        } else {
            ISSUER_VAR
        };
        let gate = Gate::new(config).map_err(invalid(var))?;
        let origin = settings.origin.as_deref().map(parse_origin).transpose()?;
        let signers = match (&origin, &settings.upstream_key) {
            (Some(_), Some(key)) => Some(signers(&settings.upstream_key_id, key)?),
            _ => None,
        };
        Ok(Self {
            gate,
            issuer: settings.issuer.clone(),
            origin,
            signers,
            saved_state: RefCell::new(None),
        })
    }

    /// The Gate.
    pub fn gate(&self) -> &Gate {
        &self.gate
    }

    /// The KV key that holds the issuer's key cache state.
    pub fn kv_key(&self) -> String {
        format!("jwks:{}", self.issuer)
    }

    /// Checks a request: the client IP from `CF-Connecting-IP`, the country
    /// from `country` (the Worker's `request.cf.country`), else from
    /// `CF-IPCountry`.
    pub fn check(&self, parts: &Parts, country: Option<&str>, now: OffsetDateTime) -> Outcome {
        let mut facts = RequestFacts::from_parts(parts);
        let header = |name: &str| {
            parts
                .headers
                .get(name)
                .and_then(|v| v.to_str().ok())
                .map(str::trim)
        };
        if let Some(ip) = header("cf-connecting-ip").and_then(|v| v.parse::<IpAddr>().ok()) {
            facts = facts.with_client_ip(ip);
        }
        // "XX" and "T1" are Cloudflare's unknown and Tor markers, passed on as
        // they are: a policy's country list decides what they mean.
        if let Some(country) = country.or_else(|| header("cf-ipcountry")) {
            facts = facts.with_country(country);
        }
        self.gate.check(parts, &facts, now)
    }

    /// Restores the key state saved in KV by this or another isolate.
    ///
    /// # Errors
    /// [`WorkerError::Invalid`] when the text is not a state or the Gate
    /// refuses it (another issuer or endpoint, too old, corrupt): ignore it,
    /// the Gate then fetches the keys itself.
    pub fn restore_state(&self, saved: &str, now: OffsetDateTime) -> Result<(), WorkerError> {
        let invalid = |reason: String| WorkerError::Invalid {
            var: JWKS_KV_BINDING,
            reason,
        };
        let state: CacheState =
            serde_json::from_str(saved).map_err(|e| invalid(format!("not a key state: {e}")))?;
        self.gate
            .import_state(&self.issuer, &state, now)
            .map_err(|e| invalid(e.to_string()))?;
        *self.saved_state.borrow_mut() = Some(saved.to_owned());
        Ok(())
    }

    /// Applies a fetch response to the Gate. Returns the state to put to KV
    /// when a key set fetch changed it (`None`: nothing to write; always for a
    /// discovery document).
    ///
    /// # Errors
    /// The Gate's refusal of the response (already recorded by the Gate:
    /// only log it).
    pub fn apply_fetch_response(
        &self,
        plan: &FetchPlan,
        status: StatusCode,
        headers: &HeaderMap,
        body: &[u8],
        now: OffsetDateTime,
    ) -> Result<Option<String>, edge_auth::Error> {
        self.gate
            .apply_fetch_response(plan, status, headers, body, now)?;
        // After a discovery document the cache exists but holds no keys: writing
        // that would overwrite another isolate's good state in KV.
        if plan.kind() != FetchKind::Jwks {
            return Ok(None);
        }
        let Some(state) = self.gate.export_state(&self.issuer) else {
            return Ok(None);
        };
        let Ok(text) = serde_json::to_string(&state) else {
            return Ok(None);
        };
        let mut saved = self.saved_state.borrow_mut();
        if saved.as_deref() == Some(text.as_str()) {
            return Ok(None);
        }
        *saved = Some(text.clone());
        Ok(Some(text))
    }

    /// Records a failed fetch (network error, timeout) with the Gate.
    pub fn apply_fetch_failure(&self, plan: &FetchPlan, reason: &str, now: OffsetDateTime) {
        self.gate.apply_fetch_failure(plan, reason, now);
    }

    /// The fetches to run after the response (`waitUntil`) so that no
    /// request waits for them: the key set's refresh before it expires,
    /// retries, the periodic discovery refresh ([`Gate::poll`]). Only once
    /// this isolate holds a key state: a cold isolate first tries KV, then
    /// fetches on the request path, and a request without a valid token
    /// never sets off a fetch.
    pub fn background_fetches(&self, now: OffsetDateTime) -> Vec<FetchPlan> {
        // A state was restored from KV or a key set applied.
        if self.saved_state.borrow().is_none() {
            return Vec::new();
        }
        self.gate.poll(now)
    }

    /// Prepares an allowed request. With an origin, rewrites `parts` to go
    /// there: inbound `x-auth-*`, `signature`, `signature-input` and `host`
    /// headers are removed; `x-auth-subject` and `x-auth-roles` are set from
    /// `principal` (each value percent-encoded: bytes outside visible ASCII,
    /// `%`, `,` and `"` become `%XX`, so the list splits on `,` without
    /// ambiguity); an RFC 9421 `hmac-sha256` signature labelled `edge-auth`
    /// covers `@method`, `@authority`, `@path` and the identity headers.
    /// Without an origin, answers 200 with `{"subject": .., "roles": [..]}`.
    ///
    /// # Errors
    /// [`WorkerError::Upstream`] when the request cannot be rewritten or
    /// signed.
    pub fn prepare_upstream(
        &self,
        parts: &mut Parts,
        principal: Option<&Principal>,
        now: OffsetDateTime,
    ) -> Result<Route, WorkerError> {
        let (Some((scheme, authority)), Some((with_identity, anonymous))) =
            (&self.origin, &self.signers)
        else {
            return Ok(Route::Respond(identity_response(principal)));
        };
        let upstream = |reason: String| WorkerError::Upstream { reason };
        let path_and_query = parts
            .uri
            .path_and_query()
            .cloned()
            .unwrap_or_else(|| http::uri::PathAndQuery::from_static("/"));
        parts.uri = Uri::builder()
            .scheme(scheme.clone())
            .authority(authority.clone())
            .path_and_query(path_and_query)
            .build()
            .map_err(|e| upstream(e.to_string()))?;
        for name in STRIPPED_HEADERS {
            parts.headers.remove(name);
        }
        let signer = match principal {
            Some(principal) => {
                let subject = principal.subject.as_deref().unwrap_or_default();
                let roles: Vec<String> = principal.roles.iter().map(|r| encode(r)).collect();
                for (name, value) in [
                    (SUBJECT_HEADER, encode(subject)),
                    (ROLES_HEADER, roles.join(",")),
                ] {
                    let value =
                        HeaderValue::try_from(value).map_err(|e| upstream(e.to_string()))?;
                    parts.headers.insert(HeaderName::from_static(name), value);
                }
                with_identity
            }
            None => anonymous,
        };
        let out = signer
            .sign(parts, &[], None, now)
            .map_err(|e| upstream(e.to_string()))?;
        parts
            .headers
            .append("signature-input", out.signature_input().clone());
        parts.headers.append("signature", out.signature().clone());
        Ok(Route::Origin)
    }
}

/// The response for a rejection: the library's status, `WWW-Authenticate`
/// and `Cache-Control: no-store`, and an empty body.
pub fn rejection_response(rejection: &Rejection) -> Response<String> {
    rejection.to_response().map(|()| String::new())
}

/// The bare 500 for a configuration or upstream error (detail in the log).
pub fn server_error() -> Response<String> {
    let mut response = Response::new("internal server error\n".to_owned());
    *response.status_mut() = StatusCode::INTERNAL_SERVER_ERROR;
    response
        .headers_mut()
        .insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    response
}

/// The bare 502 when the origin cannot be reached (detail in the log).
pub fn bad_gateway() -> Response<String> {
    let mut response = Response::new("bad gateway\n".to_owned());
    *response.status_mut() = StatusCode::BAD_GATEWAY;
    response
        .headers_mut()
        .insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    response
}

fn identity_response(principal: Option<&Principal>) -> Response<String> {
    let body = serde_json::json!({
        "subject": principal.and_then(|p| p.subject.as_deref()),
        "roles": principal.map(|p| p.roles.iter().collect::<Vec<_>>()).unwrap_or_default(),
    });
    let mut response = Response::new(body.to_string());
    let headers = response.headers_mut();
    headers.insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("application/json"),
    );
    // The answer depends on the caller's credentials.
    headers.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    response
}

fn parse_origin(text: &str) -> Result<(http::uri::Scheme, http::uri::Authority), WorkerError> {
    let invalid = |reason: &str| WorkerError::Invalid {
        var: ORIGIN_VAR,
        reason: format!("`{text}` {reason}"),
    };
    let uri: Uri = text.parse().map_err(|_| invalid("is not a URL"))?;
    let scheme = uri
        .scheme()
        .cloned()
        .ok_or_else(|| invalid("has no scheme"))?;
    if scheme != http::uri::Scheme::HTTP && scheme != http::uri::Scheme::HTTPS {
        return Err(invalid("is not http or https"));
    }
    let authority = uri
        .authority()
        .cloned()
        .ok_or_else(|| invalid("has no host"))?;
    if authority.as_str().contains('@') {
        return Err(invalid("has user information"));
    }
    if !matches!(uri.path(), "" | "/") || uri.query().is_some() {
        return Err(invalid(
            "has a path or query (give scheme://host[:port] only)",
        ));
    }
    Ok((scheme, authority))
}

fn signers(keyid: &str, key: &Secret<Vec<u8>>) -> Result<(Signer, Signer), WorkerError> {
    let invalid = |e: edge_auth::httpsig::HttpSigError| WorkerError::Invalid {
        var: UPSTREAM_KEY_VAR,
        reason: e.to_string(),
    };
    let make = |names: &[&str]| -> Result<Signer, WorkerError> {
        let mut config = SignerConfig::default();
        config.label = UPSTREAM_SIGNATURE_LABEL.to_owned();
        config.components = names
            .iter()
            .map(|n| Component::try_from_name(n))
            .collect::<Result<_, _>>()
            .map_err(invalid)?;
        // The body streams through unread; it is not covered.
        config.content_digest = None;
        let key = SigningKey::try_from_hmac_sha256(keyid, key).map_err(invalid)?;
        Signer::new(key, config).map_err(invalid)
    };
    // `@query` always (signed as `?` when there is none): a verifier
    // refuses, by default, a request whose query the signature leaves open.
    Ok((
        make(&[
            "@method",
            "@authority",
            "@path",
            "@query",
            SUBJECT_HEADER,
            ROLES_HEADER,
        ])?,
        make(&["@method", "@authority", "@path", "@query"])?,
    ))
}

/// Percent-encodes what could not stand in a comma-separated header value.
fn encode(value: &str) -> String {
    const HEX: &[u8; 16] = b"0123456789ABCDEF";
    let mut out = String::with_capacity(value.len());
    for byte in value.bytes() {
        if byte.is_ascii_graphic() && !matches!(byte, b'%' | b',' | b'"') {
            out.push(char::from(byte));
        } else {
            out.push('%');
            for nibble in [byte >> 4, byte & 0x0f] {
                out.push(HEX.get(usize::from(nibble)).map_or('0', |&h| char::from(h)));
            }
        }
    }
    out
}

/// The Workers glue: clock, bindings, key fetches, KV and the origin, around
/// [`Authorizer`].
#[cfg(target_arch = "wasm32")]
mod glue {
    use std::cell::OnceCell;
    use std::rc::Rc;

    use edge_auth::gate::{FetchPlan, Outcome};
    use http::{HeaderMap, StatusCode};
    use time::OffsetDateTime;
    use worker::{
        Context, Date, Env, Fetch, Headers, HttpRequest, Method, Request, RequestInit, Response,
        console_error, console_log, console_warn, event,
    };

    use super::{
        Authorizer, JWKS_KV_BINDING, MAX_FETCHES_PER_REQUEST, Route, Settings, WorkerError,
        bad_gateway, rejection_response, server_error, time_from_unix_millis,
    };

    /// What the isolate built on its first request; variables do not change
    /// within an isolate (a new deployment starts new isolates).
    struct Isolate {
        authorizer: Result<Rc<Authorizer>, WorkerError>,
        /// Whether KV was asked for the key state yet.
        restored: std::cell::Cell<bool>,
    }

    thread_local! {
        static ISOLATE: OnceCell<Rc<Isolate>> = const { OnceCell::new() };
    }

    fn isolate(env: &Env) -> Rc<Isolate> {
        ISOLATE.with(|cell| {
            cell.get_or_init(|| {
                let settings = Settings::from_vars(|name| {
                    env.var(name)
                        .ok()
                        .map(|v| v.to_string())
                        .or_else(|| env.secret(name).ok().map(|v| v.to_string()))
                });
                let authorizer = settings
                    .and_then(|s| Authorizer::from_settings(&s))
                    .map(Rc::new);
                Rc::new(Isolate {
                    authorizer,
                    restored: std::cell::Cell::new(false),
                })
            })
            .clone()
        })
    }

    fn respond(response: http::Response<String>) -> worker::Result<Response> {
        Response::try_from(response)
    }

    async fn restore(authorizer: &Authorizer, env: &Env, now: OffsetDateTime) {
        let kv = match env.kv(JWKS_KV_BINDING) {
            Ok(kv) => kv,
            Err(e) => return console_warn!("edge-auth: no KV binding `{JWKS_KV_BINDING}`: {e}"),
        };
        match kv.get(&authorizer.kv_key()).text().await {
            Ok(Some(text)) => match authorizer.restore_state(&text, now) {
                Ok(()) => console_log!("edge-auth: key state restored from KV"),
                Err(e) => console_warn!("edge-auth: ignoring the key state in KV: {e}"),
            },
            Ok(None) => {}
            Err(e) => console_warn!("edge-auth: KV read failed: {e}"),
        }
    }

    /// GETs what the Gate asked for and applies the answer; a changed key
    /// state goes to KV after the response (`waitUntil`).
    async fn fetch_keys(
        authorizer: &Rc<Authorizer>,
        plan: &FetchPlan,
        env: &Env,
        ctx: &Context,
        now: OffsetDateTime,
    ) {
        if let Some(state) = fetch_and_apply(authorizer, plan, now).await {
            ctx.wait_until(persist(env.clone(), authorizer.kv_key(), state));
        }
    }

    /// Writes the key state to KV for other isolates.
    async fn persist(env: Env, key: String, state: String) {
        let kv = match env.kv(JWKS_KV_BINDING) {
            Ok(kv) => kv,
            Err(e) => return console_warn!("edge-auth: no KV binding `{JWKS_KV_BINDING}`: {e}"),
        };
        let put = match kv.put(&key, state) {
            Ok(put) => put,
            Err(e) => return console_warn!("edge-auth: KV write failed: {e}"),
        };
        if let Err(e) = put.execute().await {
            console_warn!("edge-auth: KV write failed: {e}");
        }
    }

    /// Runs the Gate's background fetches after the response is sent.
    fn refresh_in_background(authorizer: &Rc<Authorizer>, env: &Env, ctx: &Context) {
        let Ok(now) = time_from_unix_millis(Date::now().as_millis()) else {
            return;
        };
        let plans = authorizer.background_fetches(now);
        if plans.is_empty() {
            return;
        }
        let (authorizer, env) = (Rc::clone(authorizer), env.clone());
        ctx.wait_until(async move {
            for plan in plans {
                if let Some(state) = fetch_and_apply(&authorizer, &plan, now).await {
                    persist(env.clone(), authorizer.kv_key(), state).await;
                }
            }
        });
    }

    /// GETs `plan` and applies the answer; the key state to write to KV
    /// when it changed.
    async fn fetch_and_apply(
        authorizer: &Rc<Authorizer>,
        plan: &FetchPlan,
        now: OffsetDateTime,
    ) -> Option<String> {
        let result = async {
            let mut init = RequestInit::new();
            init.with_method(Method::Get)
                .with_headers(Headers::from(plan.headers()));
            let request = Request::new_with_init(plan.url(), &init)?;
            let mut response = Fetch::Request(request).send().await?;
            let status = StatusCode::from_u16(response.status_code())?;
            let headers = HeaderMap::from(response.headers());
            let body = response.bytes().await?;
            Ok::<_, worker::Error>((status, headers, body))
        }
        .await;
        let (status, headers, body) = match result {
            Ok(answer) => answer,
            Err(e) => {
                console_warn!("edge-auth: fetching {} failed: {e}", plan.url());
                authorizer.apply_fetch_failure(plan, &e.to_string(), now);
                return None;
            }
        };
        match authorizer.apply_fetch_response(plan, status, &headers, &body, now) {
            Ok(state) => state,
            Err(e) => {
                console_warn!("edge-auth: {} refused: {e}", plan.url());
                None
            }
        }
    }

    #[event(fetch)]
    async fn fetch(req: HttpRequest, env: Env, ctx: Context) -> worker::Result<Response> {
        let now = match time_from_unix_millis(Date::now().as_millis()) {
            Ok(now) => now,
            Err(why) => {
                console_error!("edge-auth: {why}");
                return respond(server_error());
            }
        };
        let isolate = isolate(&env);
        let authorizer = match &isolate.authorizer {
            Ok(authorizer) => Rc::clone(authorizer),
            Err(why) => {
                console_error!("edge-auth worker misconfigured: {why}");
                return respond(server_error());
            }
        };
        let (mut parts, body) = req.into_parts();
        let country = parts
            .extensions
            .get::<worker::Cf>()
            .and_then(worker::Cf::country);
        let mut fetches = 0;
        let outcome = loop {
            match authorizer.check(&parts, country.as_deref(), now) {
                Outcome::FetchKeys(plan) => {
                    // The first time this isolate needs keys, another isolate
                    // may already have them in KV: try that before fetching.
                    // (Possible once the key endpoint is known: at once with
                    // a configured JWKS URI, after discovery otherwise.)
                    if !isolate.restored.get()
                        && authorizer.gate().export_state(plan.issuer()).is_some()
                    {
                        isolate.restored.set(true);
                        restore(&authorizer, &env, now).await;
                        continue;
                    }
                    if fetches == MAX_FETCHES_PER_REQUEST {
                        console_warn!("edge-auth: keys still missing after {fetches} fetches");
                        let rejection = edge_auth::response::Rejection::unavailable(
                            "the issuer's keys are unavailable",
                        );
                        return respond(rejection_response(&rejection));
                    }
                    fetches += 1;
                    fetch_keys(&authorizer, &plan, &env, &ctx, now).await;
                }
                outcome => break outcome,
            }
        };
        let principal = match outcome {
            Outcome::Allow { principal, .. } => {
                if principal.is_some() {
                    // A verified token: keys are held, keep them fresh.
                    refresh_in_background(&authorizer, &env, &ctx);
                }
                principal
            }
            Outcome::Deny(rejection) => {
                console_log!(
                    "edge-auth: {} {} denied {}: {}",
                    parts.method,
                    parts.uri.path(),
                    rejection.status().as_u16(),
                    rejection.reason().unwrap_or("-")
                );
                return respond(rejection_response(&rejection));
            }
            // An allowed CORS preflight (policy `cors` settings): answered
            // here, never sent to the origin.
            Outcome::Preflight(response) => {
                return respond(response.map(|()| String::new()));
            }
            // The loop above only ends on the other three.
            Outcome::FetchKeys(_) => return respond(server_error()),
        };
        match authorizer.prepare_upstream(&mut parts, principal.as_deref(), now) {
            Ok(Route::Origin) => {
                let request = Request::try_from(http::Request::from_parts(parts, body))?;
                match Fetch::Request(request).send().await {
                    Ok(response) => Ok(response),
                    Err(e) => {
                        console_error!("edge-auth: the origin did not answer: {e}");
                        respond(bad_gateway())
                    }
                }
            }
            Ok(Route::Respond(response)) => respond(response),
            Err(why) => {
                console_error!("edge-auth: {why}");
                respond(server_error())
            }
        }
    }
}

#[cfg(test)]
mod tests;
