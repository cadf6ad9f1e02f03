//! Forwarding hygiene for a gateway: which request headers the gateway owns,
//! stripping every inbound copy of them before it adds its own, the identity
//! headers it sets for the upstream (Envoy's `claim_to_headers`), and the
//! request-line checks of RFC 9112 §3.2 / §6.1 that must run before a request
//! is judged. Pure functions over `http` types: no I/O, no clock.
//!
//! # Names are compared the way CGI compares them
//!
//! CGI/1.1 (RFC 3875 §4.1.18) and everything built on it (WSGI `environ`,
//! Rack, PSGI, PHP `$_SERVER`) turn a header name into a variable by folding
//! case and mapping `-` to `_`, so `X-Auth-Roles`, `X_Auth_Roles` and
//! `x-auth_roles` all become `HTTP_X_AUTH_ROLES`; Apache's `http2env` maps
//! every character other than a letter or digit. The [`Forwarder`] therefore
//! compares names after folding ASCII case and mapping every character other
//! than a letter or digit to `-`: a look-alike of an owned header is that
//! header.
//!
//! # Headers the gateway owns
//!
//! | class | headers (and their look-alikes) | inbound copies | what the gateway sends |
//! |---|---|---|---|
//! | identity | every name under [`ForwardConfig::identity_prefix`] (default `x-auth-`), and every configured [`IdentityHeader`] name | stripped | on an authenticated request, one header per [`IdentityHeader`] (default `x-auth-subject`, `x-auth-roles`), values escaped; nothing on an anonymous one |
//! | forwarding | `Forwarded`, `X-Forwarded`, every `X-Forwarded-*` (`-For`, `-Host`, `-Proto`, `-Port`, `-Prefix`, `-Server`, `-Uri`, …), `X-Real-IP`, `True-Client-IP`, `CF-Connecting-IP`, `CF-Connecting-IPv6`, `CF-Pseudo-IPv4`, `CF-IPCountry`, `CF-Visitor`, `Fastly-Client-IP`, `X-Client-IP`, `Client-IP`, `X-Cluster-Client-IP`, `X-Originating-IP`, `X-Remote-IP`, `X-Remote-Addr`, `Proxy-Client-IP`, `WL-Proxy-Client-IP`, `HTTP-Client-IP`, `Forwarded-For`, `X-ProxyUser-IP`, `X-Envoy-External-Address`, `X-Envoy-Internal`, `X-AppEngine-User-IP`, `X-Azure-ClientIP`, `X-Azure-SocketIP`, `CloudFront-Viewer-Address`, `CloudFront-Viewer-Country` | stripped (a [`TrustedProxy`]'s one address header, and its country header, are read first when the peer is that proxy) | with [`ClientAddress::Replace`] (default): `X-Forwarded-For` (the client address), `X-Forwarded-Host` (the request's Host), `X-Forwarded-Proto` when [`ForwardConfig::forwarded_proto`] is set; nothing with [`ClientAddress::Strip`] |
//! | method / URL override | `X-HTTP-Method-Override`, `X-HTTP-Method`, `X-Method-Override`, `X-Original-Method`, `X-Original-URL`, `X-Original-URI`, `X-Rewrite-URL`, `X-Override-URL`, `X-HTTP-DestinationURL`, `X-Proxy-URL`, `X-Original-Path`, `X-Envoy-Original-Path`, `X-Host`, `X-HTTP-Host-Override`, `X-Original-Host` | stripped unless named in [`ForwardConfig::allow_override`] (the policy judged the request line, not what these claim) | nothing |
//! | signature | `Signature`, `Signature-Input` always; with [`UpstreamSignature::HttpSig`] also `Content-Digest`, `Repr-Digest`, `Digest`; with [`UpstreamSignature::SigV4`] also `Authorization` and every `X-Amz-*` | stripped | the signer's own, added after [`Forwarder::forward`] |
//! | credentials | `Authorization` (unless [`ForwardConfig::forward_authorization`]) | stripped: the bearer token stays at the gateway | nothing |
//! | edge assertion | [`ForwardConfig::assertion_header`] (default `x-edge-assertion`) | stripped | the assertion, when the caller mints one |
//! | hop-by-hop | `Connection` and the names it lists, `Keep-Alive`, `Proxy-Authenticate`, `Proxy-Authorization`, `Proxy-Connection`, `TE`, `Trailer`, `Transfer-Encoding`, `Upgrade` (RFC 9110 §7.6.1) | stripped | nothing (the client connection to the upstream adds its own) |
//! | extra | [`ForwardConfig::also_owned`] | stripped | whatever the caller sets |
//!
//! # Request-line checks
//!
//! [`check_request_line`] runs before the Gate judges a request:
//! an absolute-form target's authority replaces `Host` (RFC 9112 §3.2.2), so
//! the policy and the upstream see the same host; a missing, repeated or
//! list-valued `Host` on HTTP/1.1 is a 400 (RFC 9112 §3.2); a transfer coding
//! other than `chunked` is a 501 (RFC 9112 §6.1). [`ForwardError::status`]
//! gives the status and [`ForwardError::to_response`] the response.
//!
//! ```
//! use edge_auth::forward::{ForwardConfig, Forwarder, check_request_line};
//!
//! let forwarder = Forwarder::new(ForwardConfig::default()).unwrap();
//! let request = http::Request::get("/api/items")
//!     .header("host", "api.example")
//!     .header("x_auth_roles", "admin")
//!     .header("x-forwarded-for", "10.0.0.1")
//!     .body(())
//!     .unwrap();
//! let (mut parts, ()) = request.into_parts();
//! check_request_line(&mut parts).unwrap();
//! let client = forwarder.resolve_client(&parts.headers, "192.0.2.7".parse().unwrap());
//! let principal = edge_auth::Principal::new("alice").with_roles(["reader"]);
//! let forwarded = forwarder.forward(&mut parts, &client, Some(&principal)).unwrap();
//! assert_eq!(parts.headers["x-auth-roles"], "reader");
//! assert_eq!(parts.headers["x-forwarded-for"], "192.0.2.7");
//! assert!(!parts.headers.contains_key("x_auth_roles"));
//! // What an upstream signature should cover:
//! assert_eq!(forwarded.identity().len(), 2);
//! ```

use std::net::IpAddr;

use http::header::{self, HeaderMap, HeaderName, HeaderValue};
use http::request::Parts;
use http::{StatusCode, Version};
use serde_json::Value;

use crate::oidc::Principal;
use crate::policy::pattern::{Cidr, canonical_ip};
use crate::text::printable;

/// Forwarding headers (client address, host, scheme): exact names, folded.
const FORWARDING: &[&str] = &[
    "forwarded",
    "x-forwarded",
    "x-real-ip",
    "true-client-ip",
    "cf-connecting-ip",
    "cf-connecting-ipv6",
    "cf-pseudo-ipv4",
    "cf-ipcountry",
    "cf-visitor",
    "fastly-client-ip",
    "x-client-ip",
    "client-ip",
    "x-cluster-client-ip",
    "x-originating-ip",
    "x-remote-ip",
    "x-remote-addr",
    "proxy-client-ip",
    "wl-proxy-client-ip",
    "http-client-ip",
    "forwarded-for",
    "x-proxyuser-ip",
    "x-envoy-external-address",
    "x-envoy-internal",
    "x-appengine-user-ip",
    "x-azure-clientip",
    "x-azure-socketip",
    "cloudfront-viewer-address",
    "cloudfront-viewer-country",
];

/// Forwarding headers by prefix, folded.
const FORWARDING_PREFIX: &str = "x-forwarded-";

/// Headers that make some frameworks run another method or path than the
/// request line's, folded.
pub const OVERRIDE_HEADERS: &[&str] = &[
    "x-http-method-override",
    "x-http-method",
    "x-method-override",
    "x-original-method",
    "x-original-url",
    "x-original-uri",
    "x-rewrite-url",
    "x-override-url",
    "x-http-destinationurl",
    "x-proxy-url",
    "x-original-path",
    "x-envoy-original-path",
    "x-host",
    "x-http-host-override",
    "x-original-host",
];

/// Hop-by-hop fields (RFC 9110 §7.6.1), folded.
const HOP_BY_HOP: &[&str] = &[
    "connection",
    "keep-alive",
    "proxy-authenticate",
    "proxy-authorization",
    "proxy-connection",
    "te",
    "trailer",
    "transfer-encoding",
    "upgrade",
];

/// Default identity header prefix.
pub const DEFAULT_IDENTITY_PREFIX: &str = "x-auth-";

/// Default edge assertion header.
pub const DEFAULT_ASSERTION_HEADER: &str = "x-edge-assertion";

/// Default bound on one identity header value, after escaping.
pub const DEFAULT_MAX_IDENTITY_VALUE_LEN: usize = 4096;

/// Errors of this module: request-line problems (with the status to answer),
/// configuration mistakes and identity values that cannot be sent.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum ForwardError {
    /// An HTTP/1.1 request without a Host header (RFC 9112 §3.2).
    #[error("request has no host header")]
    MissingHost,
    /// More than one Host field line (RFC 9112 §3.2).
    #[error("request has {0} host headers, expected one")]
    RepeatedHost(usize),
    /// A Host value that is not one authority (a list, userinfo, bad syntax).
    #[error("host header `{0}` is not a single valid authority")]
    InvalidHost(String),
    /// A request target this gateway does not serve (authority-form, a
    /// scheme other than http / https, userinfo in the authority).
    #[error("request target `{0}` is not accepted: {1}")]
    InvalidTarget(String, &'static str),
    /// A transfer coding other than `chunked` (RFC 9112 §6.1: 501).
    #[error("transfer coding `{0}` is not implemented")]
    UnsupportedTransferCoding(String),
    /// `chunked` not last, or more than once (RFC 9112 §6.1 / §6.3: 400).
    #[error("transfer-encoding `{0}` must end with chunked, applied once")]
    InvalidTransferEncoding(String),
    /// A header name in the configuration is not a valid field name.
    #[error("`{0}` is not a valid header name")]
    InvalidHeaderName(String),
    /// A name in [`ForwardConfig::allow_override`] is not an override header.
    #[error("`{0}` is not a method or URL override header")]
    NotAnOverrideHeader(String),
    /// A [`TrustedProxy`] address block that does not parse.
    #[error("trusted proxy address `{0}`: {1}")]
    InvalidProxyAddress(String, String),
    /// An identity value longer than [`ForwardConfig::max_identity_value_len`]
    /// once escaped: the request is not forwarded with a clipped identity.
    #[error("identity header `{header}` would be {len} bytes, limit {max}")]
    IdentityTooLong {
        /// The header.
        header: String,
        /// Its escaped length.
        len: usize,
        /// The limit.
        max: usize,
    },
}

impl ForwardError {
    /// The status to answer: 400 for a bad request line or Host, 501 for an
    /// unknown transfer coding, 500 for configuration and identity errors
    /// (not the client's fault).
    pub fn status(&self) -> StatusCode {
        match self {
            Self::MissingHost
            | Self::RepeatedHost(_)
            | Self::InvalidHost(_)
            | Self::InvalidTarget(..)
            | Self::InvalidTransferEncoding(_) => StatusCode::BAD_REQUEST,
            Self::UnsupportedTransferCoding(_) => StatusCode::NOT_IMPLEMENTED,
            Self::InvalidHeaderName(_)
            | Self::NotAnOverrideHeader(_)
            | Self::InvalidProxyAddress(..)
            | Self::IdentityTooLong { .. } => StatusCode::INTERNAL_SERVER_ERROR,
        }
    }

    /// A plain-text response with [`status`](Self::status), the reason as
    /// body for client errors (a generic one for server errors) and
    /// `Connection: close` (the request's framing may not be trusted).
    pub fn to_response(&self) -> http::Response<String> {
        let status = self.status();
        let body = if status == StatusCode::INTERNAL_SERVER_ERROR {
            "the gateway cannot forward this request\n".to_owned()
        } else {
            format!("{self}\n")
        };
        let mut response = http::Response::new(body);
        *response.status_mut() = status;
        let headers = response.headers_mut();
        headers.insert(
            header::CONTENT_TYPE,
            HeaderValue::from_static("text/plain; charset=utf-8"),
        );
        headers.insert(header::CONNECTION, HeaderValue::from_static("close"));
        response
    }
}

/// A principal field or claim sent to the upstream as a header.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum IdentityField {
    /// `Principal::subject`.
    Subject,
    /// `Principal::issuer`.
    Issuer,
    /// `Principal::tenant`.
    Tenant,
    /// `Principal::email` (only set when verified).
    Email,
    /// `Principal::roles`, comma-separated.
    Roles,
    /// `Principal::scopes`, comma-separated.
    Scopes,
    /// `Principal::groups`, comma-separated.
    Groups,
    /// A claim by top-level name (`department`) or RFC 6901 JSON Pointer
    /// (`/realm_access/roles`): strings, numbers and booleans, or an array of
    /// them (comma-separated); objects and null send an empty value.
    Claim(String),
}

/// One identity header: a field and the header name it travels in.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct IdentityHeader {
    /// What is sent.
    pub field: IdentityField,
    /// The header name (owned by the gateway: inbound copies are stripped).
    pub name: String,
}

impl IdentityHeader {
    /// `field` sent as `name`.
    pub fn new(field: IdentityField, name: impl Into<String>) -> Self {
        Self {
            field,
            name: name.into(),
        }
    }
}

/// Which upstream signature the gateway adds: its headers are owned.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
#[non_exhaustive]
pub enum UpstreamSignature {
    /// No signature (`Signature` / `Signature-Input` are still owned).
    #[default]
    None,
    /// RFC 9421 (owns `Content-Digest`, `Repr-Digest`, `Digest` too).
    HttpSig,
    /// AWS SigV4 (owns `Authorization` and every `X-Amz-*`).
    SigV4,
}

/// What the gateway sends about the client's address.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
#[non_exhaustive]
pub enum ClientAddress {
    /// `X-Forwarded-For` (the resolved client address), `X-Forwarded-Host`
    /// (the request's Host) and, when configured, `X-Forwarded-Proto`.
    #[default]
    Replace,
    /// No forwarding header at all.
    Strip,
}

/// A front proxy (a CDN, a load balancer) whose client-address header is
/// believed, when and only when the connection comes from it.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct TrustedProxy {
    /// The proxy's addresses, as IPs or CIDR blocks (`173.245.48.0/20`).
    pub peers: Vec<String>,
    /// The one header carrying the client address (`cf-connecting-ip`,
    /// `true-client-ip`, `x-real-ip`; for `x-forwarded-for` the last
    /// element, the one the proxy appended, is used).
    pub address_header: String,
    /// The header carrying the client's country (`cf-ipcountry`), if any.
    pub country_header: Option<String>,
}

impl TrustedProxy {
    /// A proxy at `peers` that reports the client address in `address_header`.
    pub fn new<I, S>(peers: I, address_header: impl Into<String>) -> Self
    where
        I: IntoIterator<Item = S>,
        S: Into<String>,
    {
        Self {
            peers: peers.into_iter().map(Into::into).collect(),
            address_header: address_header.into(),
            country_header: None,
        }
    }

    /// Also reads the client's country from `header`.
    #[must_use]
    pub fn with_country_header(mut self, header: impl Into<String>) -> Self {
        self.country_header = Some(header.into());
        self
    }
}

/// The forwarding configuration. `Default` is the secure setting: every
/// owned header stripped, override headers stripped, the client address
/// taken from the connection.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct ForwardConfig {
    /// The identity namespace: every inbound header under this prefix is
    /// stripped. Default `x-auth-`.
    pub identity_prefix: String,
    /// The identity headers set on an authenticated request. Default:
    /// subject as `x-auth-subject`, roles as `x-auth-roles`.
    pub identity: Vec<IdentityHeader>,
    /// Longest identity value sent, in bytes after escaping (default 4096);
    /// a longer one is an error, never clipped.
    pub max_identity_value_len: usize,
    /// The upstream signature the caller adds (its headers are owned).
    pub signature: UpstreamSignature,
    /// Forward the client's `Authorization` header (default `false`: the
    /// token stays at the gateway, so a compromised upstream cannot replay it).
    /// Ignored with [`UpstreamSignature::SigV4`], which owns it.
    pub forward_authorization: bool,
    /// The edge assertion header (default `x-edge-assertion`).
    pub assertion_header: Option<String>,
    /// Override headers to forward anyway (each must be one of the
    /// module's override headers). Default: none.
    pub allow_override: Vec<String>,
    /// What the gateway sends about the client's address.
    pub client_address: ClientAddress,
    /// The front proxy whose address header is believed. Default: none,
    /// the client address is the connection's peer.
    pub trusted_proxy: Option<TrustedProxy>,
    /// `X-Forwarded-Proto` to send (`https` behind a TLS terminator); none
    /// by default.
    pub forwarded_proto: Option<String>,
    /// More names the gateway owns (stripped inbound).
    pub also_owned: Vec<String>,
}

impl Default for ForwardConfig {
    fn default() -> Self {
        Self {
            identity_prefix: DEFAULT_IDENTITY_PREFIX.to_owned(),
            identity: vec![
                IdentityHeader::new(IdentityField::Subject, "x-auth-subject"),
                IdentityHeader::new(IdentityField::Roles, "x-auth-roles"),
            ],
            max_identity_value_len: DEFAULT_MAX_IDENTITY_VALUE_LEN,
            signature: UpstreamSignature::None,
            forward_authorization: false,
            assertion_header: Some(DEFAULT_ASSERTION_HEADER.to_owned()),
            allow_override: Vec::new(),
            client_address: ClientAddress::Replace,
            trusted_proxy: None,
            forwarded_proto: None,
            also_owned: Vec::new(),
        }
    }
}

impl ForwardConfig {
    /// Sets the identity prefix.
    #[must_use]
    pub fn with_identity_prefix(mut self, prefix: impl Into<String>) -> Self {
        self.identity_prefix = prefix.into();
        self
    }

    /// Replaces the identity headers.
    #[must_use]
    pub fn with_identity<I: IntoIterator<Item = IdentityHeader>>(mut self, headers: I) -> Self {
        self.identity = headers.into_iter().collect();
        self
    }

    /// Sets the upstream signature.
    #[must_use]
    pub fn with_signature(mut self, signature: UpstreamSignature) -> Self {
        self.signature = signature;
        self
    }

    /// Sets the trusted front proxy.
    #[must_use]
    pub fn with_trusted_proxy(mut self, proxy: TrustedProxy) -> Self {
        self.trusted_proxy = Some(proxy);
        self
    }

    /// Sets what is sent about the client address.
    #[must_use]
    pub fn with_client_address(mut self, client_address: ClientAddress) -> Self {
        self.client_address = client_address;
        self
    }

    /// Forwards these override headers.
    #[must_use]
    pub fn with_allow_override<I, S>(mut self, names: I) -> Self
    where
        I: IntoIterator<Item = S>,
        S: Into<String>,
    {
        self.allow_override = names.into_iter().map(Into::into).collect();
        self
    }
}

/// Why the gateway owns a header (see the module table).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum HeaderClass {
    /// An identity header.
    Identity,
    /// A forwarding / client-address header.
    Forwarding,
    /// A method or URL override header (not allowed by the configuration).
    Override,
    /// An upstream signature header.
    Signature,
    /// The client's credentials (`Authorization`).
    Credentials,
    /// The edge assertion header.
    Assertion,
    /// A hop-by-hop header.
    HopByHop,
    /// Named in [`ForwardConfig::also_owned`].
    Extra,
}

/// ASCII case folded, every character other than a letter or digit mapped to
/// `-`: how CGI-style servers see a name.
fn fold(b: u8) -> u8 {
    if b.is_ascii_alphanumeric() {
        b.to_ascii_lowercase()
    } else {
        b'-'
    }
}

fn folded(name: &str) -> String {
    name.bytes().map(|b| char::from(fold(b))).collect()
}

fn folded_eq(name: &[u8], owned: &[u8]) -> bool {
    name.len() == owned.len() && name.iter().zip(owned).all(|(a, b)| fold(*a) == *b)
}

fn folded_starts_with(name: &[u8], prefix: &[u8]) -> bool {
    name.get(..prefix.len())
        .is_some_and(|head| folded_eq(head, prefix))
}

fn header_name(name: &str) -> Result<HeaderName, ForwardError> {
    HeaderName::from_bytes(name.to_ascii_lowercase().as_bytes())
        .map_err(|_| ForwardError::InvalidHeaderName(printable(name, 64)))
}

/// The client as the gateway resolved it: from the connection, or from a
/// trusted proxy's header when the connection comes from that proxy.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct ClientInfo {
    /// The client address (for `RequestFacts::with_client_ip` and
    /// `X-Forwarded-For`).
    pub ip: IpAddr,
    /// The client's country, from the trusted proxy's country header.
    pub country: Option<String>,
    /// Whether `ip` came from the trusted proxy's header.
    pub from_proxy: bool,
}

/// The result of [`Forwarder::forward`]: the headers the gateway set, for an
/// upstream signature to cover.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Forwarded {
    identity: Vec<HeaderName>,
    forwarding: Vec<HeaderName>,
    stripped: usize,
}

impl Forwarded {
    /// The identity headers set (empty on an anonymous request).
    pub fn identity(&self) -> &[HeaderName] {
        &self.identity
    }

    /// The forwarding headers set (`x-forwarded-*`).
    pub fn forwarding(&self) -> &[HeaderName] {
        &self.forwarding
    }

    /// Every header the gateway set: what an upstream signature should cover.
    pub fn covered(&self) -> impl Iterator<Item = &HeaderName> {
        self.identity.iter().chain(&self.forwarding)
    }

    /// How many inbound header fields were stripped.
    pub fn stripped(&self) -> usize {
        self.stripped
    }
}

/// A compiled [`ForwardConfig`]: build once, use for every request.
#[derive(Debug, Clone)]
pub struct Forwarder {
    exact: Vec<(String, HeaderClass)>,
    prefixes: Vec<(String, HeaderClass)>,
    identity: Vec<(IdentityField, HeaderName)>,
    max_identity_value_len: usize,
    client_address: ClientAddress,
    proxy: Option<CompiledProxy>,
    forwarded_proto: Option<HeaderValue>,
}

#[derive(Debug, Clone)]
struct CompiledProxy {
    peers: Vec<Cidr>,
    address_header: HeaderName,
    country_header: Option<HeaderName>,
}

impl Forwarder {
    /// Compiles `config`.
    ///
    /// # Errors
    /// [`ForwardError::InvalidHeaderName`] for a name that is not a field
    /// name (or an empty identity prefix), [`ForwardError::NotAnOverrideHeader`]
    /// for an `allow_override` entry that is not an override header,
    /// [`ForwardError::InvalidProxyAddress`] for a trusted proxy block that
    /// does not parse.
    pub fn new(config: ForwardConfig) -> Result<Self, ForwardError> {
        let mut exact: Vec<(String, HeaderClass)> = Vec::new();
        let mut prefixes = Vec::new();
        if config.identity_prefix.is_empty() {
            return Err(ForwardError::InvalidHeaderName(String::new()));
        }
        header_name(&config.identity_prefix)?;
        prefixes.push((folded(&config.identity_prefix), HeaderClass::Identity));
        prefixes.push((FORWARDING_PREFIX.to_owned(), HeaderClass::Forwarding));
        let mut identity = Vec::with_capacity(config.identity.len());
        for header in &config.identity {
            let name = header_name(&header.name)?;
            exact.push((folded(&header.name), HeaderClass::Identity));
            identity.push((header.field.clone(), name));
        }
        exact.extend(
            FORWARDING
                .iter()
                .map(|n| ((*n).to_owned(), HeaderClass::Forwarding)),
        );
        let mut allowed = Vec::new();
        for name in &config.allow_override {
            let name = folded(name);
            if !OVERRIDE_HEADERS.contains(&name.as_str()) {
                return Err(ForwardError::NotAnOverrideHeader(printable(&name, 64)));
            }
            allowed.push(name);
        }
        exact.extend(
            OVERRIDE_HEADERS
                .iter()
                .filter(|n| !allowed.iter().any(|a| a == *n))
                .map(|n| ((*n).to_owned(), HeaderClass::Override)),
        );
        for name in ["signature", "signature-input"] {
            exact.push((name.to_owned(), HeaderClass::Signature));
        }
        match config.signature {
            UpstreamSignature::None => {}
            UpstreamSignature::HttpSig => {
                for name in ["content-digest", "repr-digest", "digest"] {
                    exact.push((name.to_owned(), HeaderClass::Signature));
                }
            }
            UpstreamSignature::SigV4 => {
                exact.push(("authorization".to_owned(), HeaderClass::Signature));
                prefixes.push(("x-amz-".to_owned(), HeaderClass::Signature));
            }
        }
        if !config.forward_authorization {
            exact.push(("authorization".to_owned(), HeaderClass::Credentials));
        }
        if let Some(name) = &config.assertion_header {
            header_name(name)?;
            exact.push((folded(name), HeaderClass::Assertion));
        }
        exact.extend(
            HOP_BY_HOP
                .iter()
                .map(|n| ((*n).to_owned(), HeaderClass::HopByHop)),
        );
        for name in &config.also_owned {
            header_name(name)?;
            exact.push((folded(name), HeaderClass::Extra));
        }
        let proxy = match &config.trusted_proxy {
            None => None,
            Some(proxy) => Some(CompiledProxy {
                peers: proxy
                    .peers
                    .iter()
                    .map(|p| {
                        Cidr::parse(p)
                            .map_err(|e| ForwardError::InvalidProxyAddress(printable(p, 64), e))
                    })
                    .collect::<Result<_, _>>()?,
                address_header: header_name(&proxy.address_header)?,
                country_header: proxy
                    .country_header
                    .as_deref()
                    .map(header_name)
                    .transpose()?,
            }),
        };
        let forwarded_proto = match &config.forwarded_proto {
            None => None,
            Some(proto) => Some(
                HeaderValue::from_str(proto)
                    .map_err(|_| ForwardError::InvalidHeaderName(printable(proto, 64)))?,
            ),
        };
        Ok(Self {
            exact,
            prefixes,
            identity,
            max_identity_value_len: config.max_identity_value_len,
            client_address: config.client_address,
            proxy,
            forwarded_proto,
        })
    }

    /// Why the gateway owns `name`, if it does (compared after folding case
    /// and mapping non-alphanumerics to `-`). Allowed override headers are
    /// not owned.
    pub fn classify(&self, name: &str) -> Option<HeaderClass> {
        let bytes = name.as_bytes();
        self.exact
            .iter()
            .find(|(owned, _)| folded_eq(bytes, owned.as_bytes()))
            .or_else(|| {
                self.prefixes
                    .iter()
                    .find(|(prefix, _)| folded_starts_with(bytes, prefix.as_bytes()))
            })
            .map(|(_, class)| *class)
    }

    /// The identity header names configured, in order (what an upstream
    /// signature must cover on an authenticated request).
    pub fn identity_names(&self) -> impl Iterator<Item = &HeaderName> {
        self.identity.iter().map(|(_, name)| name)
    }

    /// Removes every inbound header the gateway owns, look-alikes included,
    /// and the headers `Connection` names. Returns how many field lines went.
    pub fn strip_inbound(&self, headers: &mut HeaderMap) -> usize {
        let mut doomed: Vec<HeaderName> = headers
            .get_all(header::CONNECTION)
            .iter()
            .filter_map(|v| v.to_str().ok())
            .flat_map(|v| v.split(','))
            .filter_map(|name| HeaderName::from_bytes(name.trim().as_bytes()).ok())
            .collect();
        doomed.extend(
            headers
                .keys()
                .filter(|name| self.classify(name.as_str()).is_some())
                .cloned(),
        );
        let mut count = 0;
        for name in doomed {
            if let header::Entry::Occupied(entry) = headers.entry(name) {
                count += entry.remove_entry_mult().1.count();
            }
        }
        count
    }

    /// The client: the connection's `peer`, unless a [`TrustedProxy`] is
    /// configured, `peer` is one of its addresses and its address header
    /// holds exactly one valid address (for `X-Forwarded-For`, the last
    /// element). Call before [`forward`](Self::forward), which strips the
    /// header.
    pub fn resolve_client(&self, headers: &HeaderMap, peer: IpAddr) -> ClientInfo {
        let direct = ClientInfo {
            ip: canonical_ip(peer),
            country: None,
            from_proxy: false,
        };
        let Some(proxy) = &self.proxy else {
            return direct;
        };
        if !proxy.peers.iter().any(|block| block.contains(peer)) {
            return direct;
        }
        let mut values = headers.get_all(&proxy.address_header).iter();
        let (Some(value), None) = (values.next(), values.next()) else {
            return direct;
        };
        let Some(ip) = value
            .to_str()
            .ok()
            .and_then(|v| v.rsplit(',').next())
            .and_then(|v| v.trim().parse::<IpAddr>().ok())
        else {
            return direct;
        };
        let country = proxy.country_header.as_ref().and_then(|name| {
            let mut values = headers.get_all(name).iter();
            match (values.next(), values.next()) {
                (Some(v), None) => v
                    .to_str()
                    .ok()
                    .filter(|c| c.len() == 2 && c.bytes().all(|b| b.is_ascii_alphabetic()))
                    .map(str::to_ascii_uppercase),
                _ => None,
            }
        });
        ClientInfo {
            ip: canonical_ip(ip),
            country,
            from_proxy: true,
        }
    }

    /// The identity headers for `principal`, values escaped: visible ASCII
    /// other than `,` (the list separator) and `%` passes, every other byte
    /// of the UTF-8 text is percent-encoded (so no CR, LF, NUL or
    /// obs-text reaches the upstream). An absent value is an empty field, so
    /// every configured header is present and a signature can cover it.
    ///
    /// # Errors
    /// [`ForwardError::IdentityTooLong`] when a value exceeds the limit.
    pub fn identity_headers(
        &self,
        principal: &Principal,
    ) -> Result<Vec<(HeaderName, HeaderValue)>, ForwardError> {
        let mut out = Vec::with_capacity(self.identity.len());
        for (field, name) in &self.identity {
            let mut text = String::new();
            identity_value(field, principal, &mut text);
            if text.len() > self.max_identity_value_len {
                return Err(ForwardError::IdentityTooLong {
                    header: name.as_str().to_owned(),
                    len: text.len(),
                    max: self.max_identity_value_len,
                });
            }
            // Escaped text is visible ASCII only, always a valid value.
            let value =
                HeaderValue::from_str(&text).map_err(|_| ForwardError::IdentityTooLong {
                    header: name.as_str().to_owned(),
                    len: text.len(),
                    max: self.max_identity_value_len,
                })?;
            out.push((name.clone(), value));
        }
        Ok(out)
    }

    /// Prepares `parts` for the upstream: computes the identity and
    /// forwarding headers, then strips every owned inbound header
    /// ([`strip_inbound`](Self::strip_inbound)) and sets them.
    /// `X-Forwarded-Host` is the request's `Host` (run
    /// [`check_request_line`] first); `Host` itself is left for the caller
    /// to point at the upstream. Nothing changes when it fails.
    ///
    /// # Errors
    /// [`ForwardError::IdentityTooLong`] from
    /// [`identity_headers`](Self::identity_headers).
    pub fn forward(
        &self,
        parts: &mut Parts,
        client: &ClientInfo,
        principal: Option<&Principal>,
    ) -> Result<Forwarded, ForwardError> {
        let identity = match principal {
            Some(principal) => self.identity_headers(principal)?,
            None => Vec::new(),
        };
        let mut forwarding: Vec<(HeaderName, HeaderValue)> = Vec::new();
        if self.client_address == ClientAddress::Replace {
            if let Ok(ip) = HeaderValue::from_str(&client.ip.to_string()) {
                forwarding.push((HeaderName::from_static("x-forwarded-for"), ip));
            }
            if let Some(host) = parts.headers.get(header::HOST) {
                forwarding.push((HeaderName::from_static("x-forwarded-host"), host.clone()));
            }
            if let Some(proto) = &self.forwarded_proto {
                forwarding.push((HeaderName::from_static("x-forwarded-proto"), proto.clone()));
            }
        }
        let stripped = self.strip_inbound(&mut parts.headers);
        let mut result = Forwarded {
            stripped,
            ..Forwarded::default()
        };
        for (name, value) in identity {
            parts.headers.insert(name.clone(), value);
            result.identity.push(name);
        }
        for (name, value) in forwarding {
            parts.headers.insert(name.clone(), value);
            result.forwarding.push(name);
        }
        Ok(result)
    }
}

/// Appends `value` escaped (see [`Forwarder::identity_headers`]).
pub fn escape_identity_value(value: &str, out: &mut String) {
    const HEX: &[u8; 16] = b"0123456789ABCDEF";
    for byte in value.bytes() {
        if (0x21..=0x7e).contains(&byte) && byte != b',' && byte != b'%' {
            out.push(char::from(byte));
        } else {
            out.push('%');
            for nibble in [byte >> 4, byte & 0x0f] {
                if let Some(&digit) = HEX.get(usize::from(nibble)) {
                    out.push(char::from(digit));
                }
            }
        }
    }
}

fn push_list<'a>(items: impl Iterator<Item = &'a str>, out: &mut String) {
    for (i, item) in items.enumerate() {
        if i > 0 {
            out.push(',');
        }
        escape_identity_value(item, out);
    }
}

fn push_json(value: &Value, out: &mut String) {
    match value {
        Value::String(s) => escape_identity_value(s, out),
        Value::Number(n) => escape_identity_value(&n.to_string(), out),
        Value::Bool(b) => out.push_str(if *b { "true" } else { "false" }),
        Value::Array(items) => {
            let mut first = true;
            for item in items {
                if matches!(item, Value::String(_) | Value::Number(_) | Value::Bool(_)) {
                    if !first {
                        out.push(',');
                    }
                    first = false;
                    push_json(item, out);
                }
            }
        }
        Value::Null | Value::Object(_) => {}
    }
}

fn claim<'a>(principal: &'a Principal, path: &str) -> Option<&'a Value> {
    let Some(pointer) = path.strip_prefix('/') else {
        return principal.claims.get(path);
    };
    let (first, rest) = match pointer.split_once('/') {
        Some((first, rest)) => (first, Some(rest)),
        None => (pointer, None),
    };
    let first = first.replace("~1", "/").replace("~0", "~");
    let top = principal.claims.get(&first)?;
    match rest {
        None => Some(top),
        Some(rest) => top.pointer(&format!("/{rest}")),
    }
}

fn identity_value(field: &IdentityField, principal: &Principal, out: &mut String) {
    let scalar = |v: &Option<String>, out: &mut String| {
        if let Some(v) = v {
            escape_identity_value(v, out);
        }
    };
    match field {
        IdentityField::Subject => scalar(&principal.subject, out),
        IdentityField::Issuer => scalar(&principal.issuer, out),
        IdentityField::Tenant => scalar(&principal.tenant, out),
        IdentityField::Email => scalar(&principal.email, out),
        IdentityField::Roles => push_list(principal.roles.iter().map(String::as_str), out),
        IdentityField::Scopes => push_list(principal.scopes.iter().map(String::as_str), out),
        IdentityField::Groups => push_list(principal.groups.iter().map(String::as_str), out),
        IdentityField::Claim(path) => {
            if let Some(value) = claim(principal, path) {
                push_json(value, out);
            }
        }
    }
}

/// The request-line checks to run before a request is judged: a transfer
/// coding other than `chunked` is refused with 501 (RFC 9112 §6.1), and
/// `chunked` not last or repeated with 400; on HTTP/1.x a missing (1.1),
/// repeated or invalid `Host` (a list, userinfo, bad syntax) is a 400
/// (RFC 9112 §3.2); an absolute-form target must be `http` / `https`
/// without userinfo, and its authority replaces `Host` (RFC 9112 §3.2.2);
/// authority-form (`CONNECT`) is refused. On success `Host` holds the one
/// authority the request is for.
///
/// # Errors
/// The [`ForwardError`] request variants, whose
/// [`status`](ForwardError::status) is 400 or 501.
pub fn check_request_line(parts: &mut Parts) -> Result<(), ForwardError> {
    check_transfer_encoding(&parts.headers)?;
    let http1 = matches!(
        parts.version,
        Version::HTTP_11 | Version::HTTP_10 | Version::HTTP_09
    );
    let count = parts.headers.get_all(header::HOST).iter().count();
    if http1 {
        if count == 0 && parts.version == Version::HTTP_11 {
            return Err(ForwardError::MissingHost);
        }
        if count > 1 {
            return Err(ForwardError::RepeatedHost(count));
        }
    }
    let target = parts.uri.to_string();
    if let Some(authority) = parts.uri.authority() {
        match parts.uri.scheme_str() {
            None => {
                return Err(ForwardError::InvalidTarget(
                    printable(&target, 128),
                    "authority-form targets are not served",
                ));
            }
            Some(scheme)
                if scheme.eq_ignore_ascii_case("http") || scheme.eq_ignore_ascii_case("https") => {}
            Some(_) => {
                return Err(ForwardError::InvalidTarget(
                    printable(&target, 128),
                    "scheme is not http or https",
                ));
            }
        }
        if authority.as_str().contains('@') {
            return Err(ForwardError::InvalidTarget(
                printable(&target, 128),
                "userinfo in the authority",
            ));
        }
        if authority.host().is_empty() || !valid_port(authority.as_str(), authority.host()) {
            return Err(ForwardError::InvalidTarget(
                printable(&target, 128),
                "not a host and port",
            ));
        }
        let host = HeaderValue::from_str(authority.as_str()).map_err(|_| {
            ForwardError::InvalidTarget(printable(&target, 128), "authority is not a field value")
        })?;
        parts.headers.insert(header::HOST, host);
        return Ok(());
    }
    if let Some(host) = parts.headers.get(header::HOST) {
        let text = host.to_str().unwrap_or_default();
        let valid = !text.is_empty()
            && !text.contains(['@', ',', ' ', '\t'])
            && text
                .parse::<http::uri::Authority>()
                .is_ok_and(|a| !a.host().is_empty() && valid_port(text, a.host()));
        if !valid {
            return Err(ForwardError::InvalidHost(printable(
                &String::from_utf8_lossy(host.as_bytes()),
                128,
            )));
        }
    }
    Ok(())
}

/// After the host, nothing or `:` and a port number (`http` accepts any
/// text there).
fn valid_port(authority: &str, host: &str) -> bool {
    match authority.get(host.len()..) {
        Some("") => true,
        Some(rest) => rest
            .strip_prefix(':')
            .is_some_and(|port| port.is_empty() || port.parse::<u16>().is_ok()),
        None => false,
    }
}

fn check_transfer_encoding(headers: &HeaderMap) -> Result<(), ForwardError> {
    let mut codings: Vec<String> = Vec::new();
    for value in headers.get_all(header::TRANSFER_ENCODING) {
        let text = String::from_utf8_lossy(value.as_bytes());
        for coding in text.split(',') {
            // A coding's parameters (`;q=…`) do not change its name.
            let name = coding.split(';').next().unwrap_or_default().trim();
            if !name.is_empty() {
                codings.push(name.to_ascii_lowercase());
            }
        }
    }
    if let Some(unknown) = codings.iter().find(|c| c.as_str() != "chunked") {
        return Err(ForwardError::UnsupportedTransferCoding(printable(
            unknown, 64,
        )));
    }
    if codings.len() > 1 {
        return Err(ForwardError::InvalidTransferEncoding(codings.join(", ")));
    }
    Ok(())
}
