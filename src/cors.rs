//! Cross-origin resource sharing decisions and headers (Fetch standard, §3.2
//! "CORS protocol"): which origins may read a route's responses, how a
//! preflight is answered, and the headers an actual response carries.
//!
//! [`CorsSettings`] is the document form (named entries of the policy's
//! top-level `cors` map); [`Cors`] is its compiled form, built once. The
//! decisions are pure: [`Cors::preflight`] answers an `OPTIONS` request with
//! `Origin` and `Access-Control-Request-Method` (the 204's headers, or a
//! [`PreflightRefusal`] that says why), and [`Cors::response_headers`]
//! gives the headers for any other response of the route.
//!
//! - Origins are compared as parsed serialized origins: `scheme://host[:port]`
//!   exactly (the host case-insensitively), nothing else. An `Origin` with a
//!   path, userinfo, a default port, a trailing slash or trailing garbage is
//!   malformed ([`CorsError::MalformedOrigin`]) and never allowed.
//! - A pattern `https://*.example.com` allows one or more labels below
//!   `example.com` with that scheme and port, never `example.com` itself and
//!   never `evil-example.com`.
//! - The `null` origin (sandboxed frames, `file:`, redirects) is allowed only
//!   when `null` is listed literally.
//! - The allowed origin is sent back as its canonical serialization, never
//!   an arbitrary value; `*` is sent only for `"origins": ["*"]`, which
//!   cannot be combined with credentials.
//! - Every answer varies by origin (`Vary: Origin`); preflights also vary by
//!   `Access-Control-Request-Method` and `Access-Control-Request-Headers`.
//!
//! ```
//! use edge_auth::cors::{Cors, CorsSettings};
//! use http::header::{ACCESS_CONTROL_ALLOW_ORIGIN, ORIGIN};
//!
//! let cors = Cors::new(
//!     &CorsSettings::new(["https://app.example.com", "https://*.example.org"])
//!         .with_methods(["GET", "PUT"])
//!         .with_headers(["authorization", "content-type"])
//!         .with_credentials(true),
//! )?;
//! let mut request = http::HeaderMap::new();
//! request.insert(ORIGIN, "https://eu.example.org".parse()?);
//! request.insert("access-control-request-method", "PUT".parse()?);
//! request.insert("access-control-request-headers", "Authorization".parse()?);
//! let answer = cors.preflight(&request)?;
//! assert_eq!(answer[ACCESS_CONTROL_ALLOW_ORIGIN], "https://eu.example.org");
//!
//! request.insert(ORIGIN, "https://evil-example.org".parse()?);
//! assert!(cors.preflight(&request).is_err());
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! ```

use std::fmt;

use http::header::{
    ACCESS_CONTROL_ALLOW_CREDENTIALS, ACCESS_CONTROL_ALLOW_HEADERS, ACCESS_CONTROL_ALLOW_METHODS,
    ACCESS_CONTROL_ALLOW_ORIGIN, ACCESS_CONTROL_EXPOSE_HEADERS, ACCESS_CONTROL_MAX_AGE,
    ACCESS_CONTROL_REQUEST_HEADERS, ACCESS_CONTROL_REQUEST_METHOD, ORIGIN, VARY,
};
use http::{HeaderMap, HeaderName, HeaderValue, Method};
use serde::{Deserialize, Serialize};

use crate::text::printable;

/// The longest `Origin` value considered; longer ones are malformed (a host
/// name is at most 253 bytes).
pub const MAX_ORIGIN_LEN: usize = 512;
/// The most names an `Access-Control-Request-Headers` may list; a preflight
/// asking for more is refused.
pub const MAX_REQUEST_HEADERS: usize = 64;
/// The longest `Access-Control-Request-Headers` value considered (all field
/// lines together); a preflight sending more is refused.
pub const MAX_REQUEST_HEADERS_LEN: usize = 4096;

const VARY_PREFLIGHT: &str =
    "Origin, Access-Control-Request-Method, Access-Control-Request-Headers";

/// What went wrong with CORS settings or a request's `Origin`.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum CorsError {
    /// An origin (in a request or in the settings) is not a serialized
    /// origin `scheme://host[:port]`.
    #[error("malformed origin `{value}`: {reason}")]
    MalformedOrigin {
        /// The offending value, escaped and clipped.
        value: String,
        /// What is wrong with it.
        reason: &'static str,
    },
    /// The settings cannot be compiled.
    #[error("invalid cors settings: {reason}")]
    InvalidSettings {
        /// What is wrong.
        reason: String,
    },
}

impl CorsError {
    fn origin(value: &str, reason: &'static str) -> Self {
        Self::MalformedOrigin {
            value: printable(value, 128),
            reason,
        }
    }

    fn settings(reason: impl Into<String>) -> Self {
        Self::InvalidSettings {
            reason: reason.into(),
        }
    }
}

/// A parsed serialized origin (RFC 6454 §6.2, Fetch "serialization of an
/// origin"): scheme and host lower-cased, port only when not the scheme's
/// default; or the opaque origin `null`.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct Origin {
    /// The canonical serialization: what an allowed origin is answered with.
    serialized: String,
    /// `(scheme, host, port)`; `None` for `null`.
    tuple: Option<(String, String, Option<u16>)>,
}

impl Origin {
    /// Parses an `Origin` value strictly: `null`, or exactly the
    /// serialization of a tuple origin (scheme, host and port case aside).
    ///
    /// # Errors
    /// [`CorsError::MalformedOrigin`] for anything else: empty or over
    /// [`MAX_ORIGIN_LEN`], several values, a path (even `/`), a query,
    /// userinfo, a default port written out, a host that is not in its
    /// canonical ASCII form (IDNA, percent-encoding, short IPv4 forms), or a
    /// scheme without a tuple origin (`data:`, `file:`).
    pub fn parse(value: &str) -> Result<Self, CorsError> {
        if value.is_empty() {
            return Err(CorsError::origin(value, "empty"));
        }
        if value.len() > MAX_ORIGIN_LEN {
            return Err(CorsError::origin(value, "too long"));
        }
        if value == "null" {
            return Ok(Self {
                serialized: value.to_owned(),
                tuple: None,
            });
        }
        if !value.bytes().all(|b| b.is_ascii_graphic()) {
            return Err(CorsError::origin(
                value,
                "holds a space, control or non-ASCII character",
            ));
        }
        if value.contains(',') {
            return Err(CorsError::origin(value, "lists more than one origin"));
        }
        let url = url::Url::parse(value).map_err(|_| CorsError::origin(value, "not a URL"))?;
        let origin = url.origin();
        let (scheme, host) = match &origin {
            url::Origin::Tuple(scheme, host, _) => (scheme, host),
            url::Origin::Opaque(_) => {
                return Err(CorsError::origin(value, "has no tuple origin"));
            }
        };
        if let url::Host::Domain(domain) = host {
            let name = domain.strip_suffix('.').unwrap_or(domain);
            if !name
                .split('.')
                .all(|label| !label.is_empty() && label.bytes().all(is_label_byte))
            {
                return Err(CorsError::origin(
                    value,
                    "has a host that is not a DNS name (empty label or a character outside letters, digits, `-` and `_`)",
                ));
            }
        }
        let serialized = origin.ascii_serialization();
        // Anything the URL parser dropped or rewrote (path, userinfo,
        // default port, IDNA, IPv4 short forms) makes the value differ from
        // its own serialization: not what a browser sends.
        if !serialized.eq_ignore_ascii_case(value) {
            return Err(CorsError::origin(
                value,
                "is not a bare `scheme://host[:port]` in canonical form",
            ));
        }
        // `Url::port` is `None` for the scheme's default port, so
        // `https://a.example` and an explicit other port never compare equal.
        let port = url.port();
        Ok(Self {
            tuple: Some((scheme.clone(), host.to_string(), port)),
            serialized,
        })
    }

    /// The canonical serialization (`https://app.example.com`, `null`).
    pub fn as_str(&self) -> &str {
        &self.serialized
    }

    /// Whether this is the opaque origin `null`.
    pub fn is_null(&self) -> bool {
        self.tuple.is_none()
    }
}

impl fmt::Display for Origin {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.serialized)
    }
}

/// One route's CORS settings as written in the policy document (an entry of
/// the top-level `cors` map). Unknown fields are errors.
///
/// ```json
/// { "origins": ["https://app.example.com", "https://*.example.com"],
///   "methods": ["GET", "POST", "DELETE"],
///   "headers": ["authorization", "content-type"],
///   "expose_headers": ["x-request-id"],
///   "credentials": true,
///   "max_age": 600 }
/// ```
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
#[non_exhaustive]
pub struct CorsSettings {
    /// Allowed origins: serialized origins (`https://app.example.com`,
    /// `http://localhost:8080`), subdomain patterns (`https://*.example.com`:
    /// one or more labels, not the parent), `null` (only if you mean it:
    /// sandboxed and `file:` pages share it), or `*` alone (any origin, never
    /// with credentials). Must not be empty.
    pub origins: Vec<String>,
    /// Methods a preflight may ask for, case-sensitive. `GET`, `HEAD` and
    /// `POST` are always allowed (CORS-safelisted). Default: none more.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub methods: Vec<String>,
    /// Request headers a preflight may ask for, case-insensitive (e.g.
    /// `authorization`, `content-type`). Default: none.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub headers: Vec<String>,
    /// Response headers beyond the CORS-safelisted ones that page scripts
    /// may read (`Access-Control-Expose-Headers`). Default: none.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub expose_headers: Vec<String>,
    /// Whether requests with credentials (cookies, `Authorization` through
    /// `fetch(..., { credentials: "include" })`) may read responses
    /// (`Access-Control-Allow-Credentials: true`). Default `false`.
    #[serde(default, skip_serializing_if = "is_false")]
    pub credentials: bool,
    /// How long, in seconds, a browser may cache a preflight answer
    /// (`Access-Control-Max-Age`; browsers cap it, Chromium at 7200).
    /// Default: not sent (browsers then cache for 5 s).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub max_age: Option<u64>,
}

fn is_false(b: &bool) -> bool {
    !*b
}

impl CorsSettings {
    /// Settings allowing these origins, with no extra methods or headers, no
    /// credentials and no max age.
    pub fn new<I, S>(origins: I) -> Self
    where
        I: IntoIterator<Item = S>,
        S: Into<String>,
    {
        Self {
            origins: origins.into_iter().map(Into::into).collect(),
            ..Self::default()
        }
    }

    /// Sets the methods a preflight may ask for.
    #[must_use]
    pub fn with_methods<I: IntoIterator<Item = S>, S: Into<String>>(mut self, methods: I) -> Self {
        self.methods = methods.into_iter().map(Into::into).collect();
        self
    }

    /// Sets the request headers a preflight may ask for.
    #[must_use]
    pub fn with_headers<I: IntoIterator<Item = S>, S: Into<String>>(mut self, headers: I) -> Self {
        self.headers = headers.into_iter().map(Into::into).collect();
        self
    }

    /// Sets the response headers scripts may read.
    #[must_use]
    pub fn with_expose_headers<I: IntoIterator<Item = S>, S: Into<String>>(
        mut self,
        headers: I,
    ) -> Self {
        self.expose_headers = headers.into_iter().map(Into::into).collect();
        self
    }

    /// Allows credentialed requests.
    #[must_use]
    pub fn with_credentials(mut self, credentials: bool) -> Self {
        self.credentials = credentials;
        self
    }

    /// Sets the preflight cache lifetime in seconds.
    #[must_use]
    pub fn with_max_age(mut self, seconds: u64) -> Self {
        self.max_age = Some(seconds);
        self
    }
}

/// `scheme://*.suffix[:port]`, compiled.
#[derive(Debug, Clone, PartialEq, Eq)]
struct Subdomains {
    scheme: String,
    /// `.example.com`, lower case.
    suffix: String,
    port: Option<u16>,
}

impl Subdomains {
    fn matches(&self, origin: &Origin) -> bool {
        let Some((scheme, host, port)) = &origin.tuple else {
            return false;
        };
        // The host came out of the URL parser in canonical form, so a
        // non-empty prefix before `.example.com` is one or more labels.
        *scheme == self.scheme
            && *port == self.port
            && host.len() > self.suffix.len()
            && host.ends_with(self.suffix.as_str())
    }
}

/// Compiled CORS settings: build once with [`Cors::new`], share, and ask per
/// request.
#[derive(Debug, Clone)]
pub struct Cors {
    any: bool,
    null: bool,
    /// Sorted, no repeats: found by binary search.
    exact: Vec<String>,
    patterns: Vec<Subdomains>,
    methods: Vec<Method>,
    /// Sorted by name, no repeats: found by binary search.
    headers: Vec<HeaderName>,
    allow_methods: Option<HeaderValue>,
    allow_headers: Option<HeaderValue>,
    expose_headers: Option<HeaderValue>,
    credentials: bool,
    max_age: Option<HeaderValue>,
}

/// Why a preflight was refused. The gate answers it with 403 and no CORS
/// headers, so the browser blocks the actual request.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
#[non_exhaustive]
pub enum PreflightRefusal {
    /// `Origin` is not a serialized origin.
    MalformedOrigin {
        /// The parse error, with the escaped value.
        detail: String,
    },
    /// The origin is not allowed by the route.
    OriginNotAllowed {
        /// The origin, canonical.
        origin: String,
    },
    /// `Access-Control-Request-Method` is malformed or not allowed.
    MethodNotAllowed {
        /// The requested method, escaped and clipped.
        method: String,
    },
    /// A requested header is not allowed.
    HeaderNotAllowed {
        /// The header name, lower case.
        header: String,
    },
    /// `Access-Control-Request-Headers` is malformed or over the bounds
    /// ([`MAX_REQUEST_HEADERS`], [`MAX_REQUEST_HEADERS_LEN`]).
    MalformedRequestHeaders {
        /// What is wrong.
        detail: String,
    },
    /// The route has no CORS settings.
    NotCorsRoute,
}

impl fmt::Display for PreflightRefusal {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::MalformedOrigin { detail } => write!(f, "cors preflight refused: {detail}"),
            Self::OriginNotAllowed { origin } => {
                write!(
                    f,
                    "cors preflight refused: origin `{origin}` is not allowed"
                )
            }
            Self::MethodNotAllowed { method } => {
                write!(
                    f,
                    "cors preflight refused: method `{method}` is not allowed"
                )
            }
            Self::HeaderNotAllowed { header } => write!(
                f,
                "cors preflight refused: request header `{header}` is not allowed"
            ),
            Self::MalformedRequestHeaders { detail } => write!(
                f,
                "cors preflight refused: access-control-request-headers {detail}"
            ),
            Self::NotCorsRoute => f.write_str(
                "cors preflight refused: the route does not allow cross-origin requests",
            ),
        }
    }
}

impl std::error::Error for PreflightRefusal {}

/// Whether the request is a CORS preflight: `OPTIONS` with `Origin` and
/// `Access-Control-Request-Method` (Fetch §3.2.2). Other `OPTIONS` requests
/// are ordinary requests.
pub fn is_preflight(method: &Method, headers: &HeaderMap) -> bool {
    method == Method::OPTIONS
        && headers.contains_key(ORIGIN)
        && headers.contains_key(ACCESS_CONTROL_REQUEST_METHOD)
}

/// The request's `Origin`: `None` when absent.
///
/// # Errors
/// [`CorsError::MalformedOrigin`] when it is repeated, not visible ASCII
/// or not a serialized origin (see [`Origin::parse`]).
pub fn request_origin(headers: &HeaderMap) -> Result<Option<Origin>, CorsError> {
    let mut values = headers.get_all(ORIGIN).iter();
    let Some(value) = values.next() else {
        return Ok(None);
    };
    if values.next().is_some() {
        return Err(CorsError::origin("", "the header is repeated"));
    }
    let text = value
        .to_str()
        .map_err(|_| CorsError::origin("", "holds a byte that is not visible ASCII"))?;
    Origin::parse(text).map(Some)
}

/// Copies CORS headers computed by [`Cors::response_headers`] (or the
/// gate's `cors_headers`) onto a response: each `Access-Control-*` field
/// replaces any the upstream set (the gate's settings are the truth), `Vary`
/// is appended so the upstream's own `Vary` survives. An empty `cors` (a
/// route without CORS settings) changes nothing: the upstream's own CORS
/// headers then pass through.
pub fn apply_to(cors: &HeaderMap, response: &mut HeaderMap) {
    if cors.is_empty() {
        return;
    }
    for name in [
        ACCESS_CONTROL_ALLOW_ORIGIN,
        ACCESS_CONTROL_ALLOW_CREDENTIALS,
        ACCESS_CONTROL_EXPOSE_HEADERS,
    ] {
        response.remove(&name);
    }
    for (name, value) in cors {
        if *name == VARY {
            response.append(VARY, value.clone());
        } else {
            response.insert(name.clone(), value.clone());
        }
    }
}

impl Cors {
    /// Compiles settings.
    ///
    /// # Errors
    /// [`CorsError::InvalidSettings`] when `origins` is empty, `*` is mixed
    /// with other origins or combined with credentials, a method or header
    /// name is not an RFC 9110 token (or is `*`), or a pattern's suffix has
    /// fewer than two labels; [`CorsError::MalformedOrigin`] for an origin
    /// that is not in canonical form (write `https://app.example.com`, not
    /// `https://App.example.com:443/`).
    pub fn new(settings: &CorsSettings) -> Result<Self, CorsError> {
        if settings.origins.is_empty() {
            return Err(CorsError::settings("`origins` is empty"));
        }
        let mut cors = Self {
            any: false,
            null: false,
            exact: Vec::new(),
            patterns: Vec::new(),
            methods: Vec::new(),
            headers: Vec::new(),
            allow_methods: None,
            allow_headers: None,
            expose_headers: None,
            credentials: settings.credentials,
            max_age: settings.max_age.map(HeaderValue::from),
        };
        for origin in &settings.origins {
            cors.add_origin(origin)?;
        }
        if cors.any && settings.origins.len() > 1 {
            return Err(CorsError::settings(
                "`*` allows every origin and cannot be listed with others",
            ));
        }
        if cors.any && settings.credentials {
            return Err(CorsError::settings(
                "`*` cannot be combined with credentials: list the origins",
            ));
        }
        for m in &settings.methods {
            let method = Method::from_bytes(m.as_bytes())
                .ok()
                .filter(|_| m != "*")
                .ok_or_else(|| {
                    CorsError::settings(format!("method `{}` is not a token", printable(m, 64)))
                })?;
            if !cors.methods.contains(&method) {
                cors.methods.push(method);
            }
        }
        cors.exact.sort_unstable();
        cors.exact.dedup();
        cors.headers = names("headers", &settings.headers)?;
        cors.headers
            .sort_unstable_by(|a, b| a.as_str().cmp(b.as_str()));
        let expose = names("expose_headers", &settings.expose_headers)?;
        cors.allow_methods = join(&mut cors.methods.iter().map(Method::as_str))?;
        cors.allow_headers = join(&mut cors.headers.iter().map(HeaderName::as_str))?;
        cors.expose_headers = join(&mut expose.iter().map(HeaderName::as_str))?;
        Ok(cors)
    }

    fn add_origin(&mut self, origin: &str) -> Result<(), CorsError> {
        match origin {
            "*" => self.any = true,
            "null" => self.null = true,
            _ => match origin.split_once("://*.") {
                Some((scheme, rest)) => {
                    // Parse the pattern as the origin of a stand-in label,
                    // so it meets the same strict grammar.
                    let sample = Origin::parse(&format!("{scheme}://x.{rest}"))
                        .map_err(|_| CorsError::origin(origin, "is not a valid pattern"))?;
                    let Some((scheme, host, port)) = sample.tuple else {
                        return Err(CorsError::origin(origin, "is not a valid pattern"));
                    };
                    let suffix = host.strip_prefix('x').unwrap_or(&host).to_owned();
                    if suffix.matches('.').count() < 2 || suffix.ends_with('.') {
                        return Err(CorsError::settings(format!(
                            "pattern `{}` must name a domain of at least two labels",
                            printable(origin, 64)
                        )));
                    }
                    self.patterns.push(Subdomains {
                        scheme,
                        suffix,
                        port,
                    });
                }
                None => {
                    let parsed = Origin::parse(origin)?;
                    if parsed.as_str() != origin {
                        return Err(CorsError::origin(
                            origin,
                            "write the origin in lower case, as browsers send it",
                        ));
                    }
                    self.exact.push(parsed.serialized);
                }
            },
        }
        Ok(())
    }

    /// Whether `origin` may read this route's responses.
    pub fn allows(&self, origin: &Origin) -> bool {
        if origin.is_null() {
            return self.null;
        }
        self.any
            || self
                .exact
                .binary_search_by(|o| o.as_str().cmp(origin.as_str()))
                .is_ok()
            || self.patterns.iter().any(|p| p.matches(origin))
    }

    /// Whether credentialed requests are allowed.
    pub fn credentials(&self) -> bool {
        self.credentials
    }

    /// The `Access-Control-Allow-Origin` value for an allowed origin.
    fn allow_origin(&self, origin: &Origin) -> Option<HeaderValue> {
        if !self.allows(origin) {
            return None;
        }
        if self.any {
            return Some(HeaderValue::from_static("*"));
        }
        HeaderValue::from_str(origin.as_str()).ok()
    }

    /// Answers a preflight with the headers of its 204 response, from the
    /// request's headers (`Origin`, `Access-Control-Request-Method`,
    /// `Access-Control-Request-Headers`).
    ///
    /// # Errors
    /// A [`PreflightRefusal`] naming the first thing not allowed: answer
    /// 403 without CORS headers.
    pub fn preflight(&self, request: &HeaderMap) -> Result<HeaderMap, PreflightRefusal> {
        let origin = match request_origin(request) {
            Ok(Some(origin)) => origin,
            Ok(None) => {
                return Err(PreflightRefusal::MalformedOrigin {
                    detail: "no `Origin` header".to_owned(),
                });
            }
            Err(e) => {
                return Err(PreflightRefusal::MalformedOrigin {
                    detail: e.to_string(),
                });
            }
        };
        let Some(allow_origin) = self.allow_origin(&origin) else {
            return Err(PreflightRefusal::OriginNotAllowed {
                origin: origin.serialized,
            });
        };
        let method = request_method(request)?;
        if !is_safelisted_method(&method) && !self.methods.contains(&method) {
            return Err(PreflightRefusal::MethodNotAllowed {
                method: method.to_string(),
            });
        }
        for name in request_headers(request)? {
            if self
                .headers
                .binary_search_by(|h| h.as_str().cmp(name.as_str()))
                .is_err()
            {
                return Err(PreflightRefusal::HeaderNotAllowed {
                    header: name.as_str().to_owned(),
                });
            }
        }
        let mut headers = HeaderMap::new();
        headers.insert(ACCESS_CONTROL_ALLOW_ORIGIN, allow_origin);
        if self.credentials {
            headers.insert(
                ACCESS_CONTROL_ALLOW_CREDENTIALS,
                HeaderValue::from_static("true"),
            );
        }
        if let Some(v) = &self.allow_methods {
            headers.insert(ACCESS_CONTROL_ALLOW_METHODS, v.clone());
        }
        if let Some(v) = &self.allow_headers {
            headers.insert(ACCESS_CONTROL_ALLOW_HEADERS, v.clone());
        }
        if let Some(v) = &self.max_age {
            headers.insert(ACCESS_CONTROL_MAX_AGE, v.clone());
        }
        headers.insert(VARY, HeaderValue::from_static(VARY_PREFLIGHT));
        Ok(headers)
    }

    /// The headers an actual (non-preflight) response of the route carries,
    /// whoever produced it (the upstream or the gate's own 401/403/503):
    /// `Vary: Origin` always, and for an allowed origin
    /// `Access-Control-Allow-Origin`, `-Allow-Credentials` and
    /// `-Expose-Headers`. A missing or malformed `Origin` gets only `Vary`.
    pub fn response_headers(&self, request: &HeaderMap) -> HeaderMap {
        let mut headers = HeaderMap::new();
        headers.insert(VARY, HeaderValue::from_static("Origin"));
        let Some(allow_origin) = request_origin(request)
            .ok()
            .flatten()
            .and_then(|o| self.allow_origin(&o))
        else {
            return headers;
        };
        headers.insert(ACCESS_CONTROL_ALLOW_ORIGIN, allow_origin);
        if self.credentials {
            headers.insert(
                ACCESS_CONTROL_ALLOW_CREDENTIALS,
                HeaderValue::from_static("true"),
            );
        }
        if let Some(v) = &self.expose_headers {
            headers.insert(ACCESS_CONTROL_EXPOSE_HEADERS, v.clone());
        }
        headers
    }
}

/// A byte of a DNS label as browsers send it (letters, digits, `-`, `_`).
fn is_label_byte(b: u8) -> bool {
    b.is_ascii_alphanumeric() || b == b'-' || b == b'_'
}

/// GET, HEAD and POST need no permission (Fetch "CORS-safelisted method").
fn is_safelisted_method(method: &Method) -> bool {
    *method == Method::GET || *method == Method::HEAD || *method == Method::POST
}

fn request_method(request: &HeaderMap) -> Result<Method, PreflightRefusal> {
    let mut values = request.get_all(ACCESS_CONTROL_REQUEST_METHOD).iter();
    let refuse = |raw: &[u8]| PreflightRefusal::MethodNotAllowed {
        method: printable(&String::from_utf8_lossy(raw), 64),
    };
    match (values.next(), values.next()) {
        (Some(v), None) => Method::from_bytes(v.as_bytes()).map_err(|_| refuse(v.as_bytes())),
        (Some(v), Some(_)) => Err(refuse(v.as_bytes())),
        (None, _) => Err(refuse(b"")),
    }
}

/// The names in `Access-Control-Request-Headers` (every field line),
/// lower-cased, bounded by [`MAX_REQUEST_HEADERS`] and
/// [`MAX_REQUEST_HEADERS_LEN`].
fn request_headers(request: &HeaderMap) -> Result<Vec<HeaderName>, PreflightRefusal> {
    let malformed = |detail: String| PreflightRefusal::MalformedRequestHeaders { detail };
    let mut total = 0usize;
    let mut names = Vec::new();
    for value in request.get_all(ACCESS_CONTROL_REQUEST_HEADERS) {
        total = total.saturating_add(value.len());
        if total > MAX_REQUEST_HEADERS_LEN {
            return Err(malformed(format!(
                "is over {MAX_REQUEST_HEADERS_LEN} bytes"
            )));
        }
        let text = value
            .to_str()
            .map_err(|_| malformed("holds a byte that is not visible ASCII".to_owned()))?;
        for item in text.split(',') {
            let item = item.trim_matches([' ', '\t']);
            if item.is_empty() {
                continue;
            }
            if names.len() >= MAX_REQUEST_HEADERS {
                return Err(malformed(format!(
                    "lists more than {MAX_REQUEST_HEADERS} names"
                )));
            }
            let name = HeaderName::from_bytes(item.as_bytes()).map_err(|_| {
                malformed(format!(
                    "holds `{}`, not a header name",
                    printable(item, 64)
                ))
            })?;
            names.push(name);
        }
    }
    Ok(names)
}

/// Header names from the settings, validated (`*` refused: its meaning
/// depends on credentials and browsers differ).
fn names(field: &str, values: &[String]) -> Result<Vec<HeaderName>, CorsError> {
    let mut out: Vec<HeaderName> = Vec::with_capacity(values.len());
    for v in values {
        let name = HeaderName::from_bytes(v.as_bytes())
            .ok()
            .filter(|_| v != "*")
            .ok_or_else(|| {
                CorsError::settings(format!(
                    "`{field}` holds `{}`, not a header name",
                    printable(v, 64)
                ))
            })?;
        if !out.contains(&name) {
            out.push(name);
        }
    }
    Ok(out)
}

/// A comma-separated header value, or `None` for no items. (`dyn`: one
/// body for the methods' and the header names' lists.)
fn join(items: &mut dyn Iterator<Item = &str>) -> Result<Option<HeaderValue>, CorsError> {
    let mut joined = String::new();
    for (i, item) in items.enumerate() {
        if i > 0 {
            joined.push_str(", ");
        }
        joined.push_str(item);
    }
    if joined.is_empty() {
        return Ok(None);
    }
    HeaderValue::from_str(&joined).map(Some).map_err(|_| {
        CorsError::settings(format!(
            "`{}` is not a header value",
            printable(&joined, 64)
        ))
    })
}
