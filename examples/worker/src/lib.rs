//! A Cloudflare Worker that puts edge-auth in front of an origin.
//!
//! The request path is split in two so the library stays sans-IO: [`authorize`]
//! is a pure function of the request head, the Worker's settings and `now`
//! (compiled and tested natively like any other Rust code), and the
//! `#[event(fetch)]` handler, built only for `wasm32`, does the Workers I/O:
//! it reads the clock with `worker::Date::now()` (`SystemTime::now()` panics on
//! `wasm32-unknown-unknown`), reads the bindings from `Env` and turns the
//! result into a response.
//!
//! For now [`authorize`] only asks [`edge_auth::extract`] for a bearer token
//! (RFC 6750 §2.1): no token answers 401 with a `Bearer` challenge (§3), a
//! malformed one 400 `invalid_request` (§3.1), and any token passes. The
//! edge-auth Gate (extract → JWKS cache → validate → roles → policy) replaces
//! its body; nothing else in the Worker has to change shape.
//!
//! ```
//! use edge_auth_worker::{Settings, authorize};
//!
//! let (parts, ()) = http::Request::get("https://example.com/api")
//!     .body(())
//!     .map_err(|e| e.to_string())?
//!     .into_parts();
//! let settings = Settings::from_vars(None).map_err(|e| e.to_string())?;
//! let denied = authorize(&parts, &settings, time::OffsetDateTime::UNIX_EPOCH)
//!     .err()
//!     .ok_or("a request without a token must be refused")?;
//! let response = denied.into_response();
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

use edge_auth::TokenSource;
use http::{HeaderValue, Response, StatusCode, header, request::Parts};
use time::OffsetDateTime;

/// The variable that holds the policy document as JSON (wrangler.toml `[vars]`,
/// or a secret for a policy that should not be visible in the dashboard).
pub const POLICY_VAR: &str = "EDGE_AUTH_POLICY";

/// The KV namespace binding where the serialised JWKS cache state is shared
/// across isolates (one key per issuer).
pub const JWKS_KV_BINDING: &str = "EDGE_AUTH_JWKS";

/// The realm named in every `WWW-Authenticate: Bearer` challenge (RFC 6750 §3).
pub const REALM: &str = "edge-auth";

/// The body of an authorized response while the Worker is a placeholder.
pub const ALLOWED_BODY: &str = "edge-auth worker: bearer token present\n";

/// The Worker's configuration, read from its bindings once per request.
#[derive(Debug, Clone, Default)]
#[non_exhaustive]
pub struct Settings {
    /// The policy document from [`POLICY_VAR`], parsed as JSON; `None` when the
    /// variable is unset or empty. The Gate will compile it (and deny everything
    /// when it is absent).
    pub policy: Option<serde_json::Value>,
}

impl Settings {
    /// Builds the settings from the raw variable values.
    ///
    /// # Errors
    /// When the policy variable is set but is not a JSON object.
    pub fn from_vars(policy: Option<&str>) -> Result<Self, SettingsError> {
        let policy = match policy.map(str::trim) {
            None | Some("") => None,
            Some(text) => {
                let value: serde_json::Value =
                    serde_json::from_str(text).map_err(|e| SettingsError::PolicyJson {
                        line: e.line(),
                        column: e.column(),
                    })?;
                if !value.is_object() {
                    return Err(SettingsError::PolicyNotObject);
                }
                Some(value)
            }
        };
        Ok(Self { policy })
    }
}

/// Why the Worker's configuration is unusable. The detail goes to the log; the
/// client only ever sees a bare 500.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum SettingsError {
    /// The policy variable is not valid JSON.
    PolicyJson {
        /// Line of the syntax error (1-based).
        line: usize,
        /// Column of the syntax error (1-based).
        column: usize,
    },
    /// The policy variable is JSON but not an object.
    PolicyNotObject,
    /// The clock reading is outside what `time` can represent.
    Clock {
        /// The reading, in milliseconds since the Unix epoch.
        unix_millis: u64,
    },
}

impl std::fmt::Display for SettingsError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Self::PolicyJson { line, column } => write!(
                f,
                "`{POLICY_VAR}` is not valid JSON (line {line}, column {column})"
            ),
            Self::PolicyNotObject => write!(f, "`{POLICY_VAR}` is not a JSON object"),
            Self::Clock { unix_millis } => {
                write!(f, "clock reading `{unix_millis}` ms is out of range")
            }
        }
    }
}

impl std::error::Error for SettingsError {}

/// Converts the Workers clock (`worker::Date::now().as_millis()`) into the
/// `now` that every edge-auth check takes.
///
/// # Errors
/// When the reading is past what `time` represents (year 9999).
pub fn time_from_unix_millis(unix_millis: u64) -> Result<OffsetDateTime, SettingsError> {
    let nanos = i128::from(unix_millis) * 1_000_000;
    OffsetDateTime::from_unix_timestamp_nanos(nanos)
        .map_err(|_| SettingsError::Clock { unix_millis })
}

/// A request that may go on to the origin.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct Allowed {}

impl Allowed {
    /// The response the placeholder gives for an authorized request.
    pub fn into_response(self) -> Response<String> {
        let mut response = Response::new(ALLOWED_BODY.to_owned());
        response.headers_mut().insert(
            header::CONTENT_TYPE,
            HeaderValue::from_static("text/plain; charset=utf-8"),
        );
        response
    }
}

/// Why a request was refused. The Gate's `Rejection` takes its place.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum Denied {
    /// No token in the request (RFC 6750 §3.1: a challenge without an error code).
    MissingToken,
    /// A token was offered but malformed, or offered more than once (RFC 6750
    /// §3.1 `invalid_request`).
    InvalidRequest,
}

impl Denied {
    /// The response to send: RFC 6750 §3 status and challenge, no detail about
    /// what was wrong (that goes to the log).
    pub fn into_response(self) -> Response<String> {
        let (status, challenge, body) = match self {
            Self::MissingToken => (
                StatusCode::UNAUTHORIZED,
                HeaderValue::from_static(r#"Bearer realm="edge-auth""#),
                "unauthorized\n",
            ),
            Self::InvalidRequest => (
                StatusCode::BAD_REQUEST,
                HeaderValue::from_static(r#"Bearer realm="edge-auth", error="invalid_request""#),
                "bad request\n",
            ),
        };
        let mut response = Response::new(body.to_owned());
        *response.status_mut() = status;
        let headers = response.headers_mut();
        headers.insert(header::WWW_AUTHENTICATE, challenge);
        headers.insert(
            header::CONTENT_TYPE,
            HeaderValue::from_static("text/plain; charset=utf-8"),
        );
        // A refusal depends on the request's credentials: no shared cache may keep it.
        headers.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
        response
    }
}

/// The auth step: decides from the request head alone whether the request may
/// go on. This is the one function the Gate wiring replaces.
///
/// `now` is unused until the Gate validates tokens; it is already threaded
/// through so the signature does not change.
///
/// # Errors
/// [`Denied`] when the request carries no token or a malformed one.
pub fn authorize(
    parts: &Parts,
    _settings: &Settings,
    _now: OffsetDateTime,
) -> Result<Allowed, Denied> {
    match edge_auth::extract(parts, &[TokenSource::AuthorizationBearer]) {
        Ok(Some(_token)) => Ok(Allowed {}),
        Ok(None) => Err(Denied::MissingToken),
        Err(_) => Err(Denied::InvalidRequest),
    }
}

/// The Workers glue: clock, bindings and the response, around [`authorize`].
#[cfg(target_arch = "wasm32")]
mod glue {
    use super::{POLICY_VAR, Settings, SettingsError, authorize, time_from_unix_millis};
    use worker::{Context, Date, Env, HttpRequest, console_error, event};

    /// Reads the settings from the bindings; an unbound variable is unset.
    fn settings_from_env(env: &Env) -> Result<Settings, SettingsError> {
        let policy = env.var(POLICY_VAR).ok().map(|var| var.to_string());
        Settings::from_vars(policy.as_deref())
    }

    fn server_error(why: &SettingsError) -> http::Response<String> {
        console_error!("edge-auth worker misconfigured: {why}");
        let mut response = http::Response::new("internal server error\n".to_owned());
        *response.status_mut() = http::StatusCode::INTERNAL_SERVER_ERROR;
        response
    }

    #[event(fetch)]
    async fn fetch(
        req: HttpRequest,
        env: Env,
        _ctx: Context,
    ) -> worker::Result<http::Response<String>> {
        let now = match time_from_unix_millis(Date::now().as_millis()) {
            Ok(now) => now,
            Err(why) => return Ok(server_error(&why)),
        };
        let settings = match settings_from_env(&env) {
            Ok(settings) => settings,
            Err(why) => return Ok(server_error(&why)),
        };
        let (parts, _body) = req.into_parts();
        Ok(match authorize(&parts, &settings, now) {
            Ok(allowed) => allowed.into_response(),
            Err(denied) => denied.into_response(),
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parts(authorization: Option<&str>) -> Parts {
        let mut builder = http::Request::get("https://example.com/api");
        if let Some(value) = authorization {
            builder = builder.header(header::AUTHORIZATION, value);
        }
        builder.body(()).unwrap().into_parts().0
    }

    #[test]
    fn missing_token_is_401_with_bearer_challenge() {
        let denied = authorize(
            &parts(None),
            &Settings::default(),
            OffsetDateTime::UNIX_EPOCH,
        )
        .unwrap_err();
        assert_eq!(denied, Denied::MissingToken);
        let response = denied.into_response();
        assert_eq!(response.status(), StatusCode::UNAUTHORIZED);
        assert_eq!(
            response.headers()[header::WWW_AUTHENTICATE],
            r#"Bearer realm="edge-auth""#
        );
        assert_eq!(response.headers()[header::CACHE_CONTROL], "no-store");
    }

    #[test]
    fn authorize_agrees_with_the_library_extractor() {
        // The placeholder accepts exactly what `edge_auth::extract` finds, so this
        // holds before and after the extractor is filled in.
        for value in [
            "Bearer abc.def.ghi",
            "bearer abc",
            "Basic dXNlcjpwYXNz",
            "Bearer",
        ] {
            let parts = parts(Some(value));
            let expected = edge_auth::extract(&parts, &[TokenSource::AuthorizationBearer]);
            let got = authorize(&parts, &Settings::default(), OffsetDateTime::UNIX_EPOCH);
            match expected {
                Ok(Some(_)) => assert_eq!(got, Ok(Allowed {}), "{value}"),
                Ok(None) => assert_eq!(got, Err(Denied::MissingToken), "{value}"),
                Err(_) => assert_eq!(got, Err(Denied::InvalidRequest), "{value}"),
            }
        }
    }

    #[test]
    fn invalid_request_is_400_with_error_code() {
        let response = Denied::InvalidRequest.into_response();
        assert_eq!(response.status(), StatusCode::BAD_REQUEST);
        assert_eq!(
            response.headers()[header::WWW_AUTHENTICATE],
            r#"Bearer realm="edge-auth", error="invalid_request""#
        );
    }

    #[test]
    fn allowed_response_has_the_fixed_body() {
        let response = Allowed {}.into_response();
        assert_eq!(response.status(), StatusCode::OK);
        assert_eq!(response.body(), ALLOWED_BODY);
    }

    #[test]
    fn policy_var_is_optional_json_object() {
        assert!(Settings::from_vars(None).unwrap().policy.is_none());
        assert!(Settings::from_vars(Some("  ")).unwrap().policy.is_none());
        let settings = Settings::from_vars(Some(r#"{"rules": []}"#)).unwrap();
        assert_eq!(settings.policy, Some(serde_json::json!({"rules": []})));
        assert_eq!(
            Settings::from_vars(Some("[]")).unwrap_err(),
            SettingsError::PolicyNotObject
        );
        let err = Settings::from_vars(Some("{\n  \"rules\": [,]}")).unwrap_err();
        assert_eq!(
            err,
            SettingsError::PolicyJson {
                line: 2,
                column: 13
            }
        );
        assert_eq!(
            err.to_string(),
            "`EDGE_AUTH_POLICY` is not valid JSON (line 2, column 13)"
        );
    }

    #[test]
    fn clock_millis_convert_exactly() {
        let now = time_from_unix_millis(1_795_000_000_123).unwrap();
        assert_eq!(now.unix_timestamp(), 1_795_000_000);
        assert_eq!(now.millisecond(), 123);
        assert_eq!(
            time_from_unix_millis(u64::MAX).unwrap_err(),
            SettingsError::Clock {
                unix_millis: u64::MAX
            }
        );
    }
}
