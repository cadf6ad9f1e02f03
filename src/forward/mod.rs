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

use http::StatusCode;
use http::header::{self, HeaderMap, HeaderName, HeaderValue};
use http::request::Parts;

use crate::oidc::Principal;
use crate::policy::pattern::{Cidr, canonical_ip};
use crate::text::printable;

mod config;
mod identity;
mod request_line;

pub use config::{
    ClientAddress, ForwardConfig, IdentityField, IdentityHeader, TrustedProxy, UpstreamSignature,
};

pub use identity::escape_identity_value;
use identity::identity_value;
pub use request_line::check_request_line;

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
    // The client's TLS certificate as a TLS-terminating proxy conveys it
    // (RFC 9440; nginx, ALB, Traefik): an upstream that trusts one must
    // never get a client's own.
    "client-cert",
    "client-cert-chain",
    "ssl-client-cert",
    "x-ssl-client-cert",
    "x-ssl-cert",
    "x-client-cert",
    "x-amzn-mtls-clientcert",
    "x-amzn-mtls-clientcert-leaf",
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

/// The header names a message's `Connection` fields list (RFC 9110 §7.6.1).
fn connection_named(headers: &HeaderMap) -> Vec<HeaderName> {
    headers
        .get_all(header::CONNECTION)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(','))
        .filter_map(|name| HeaderName::from_bytes(name.trim().as_bytes()).ok())
        .collect()
}

/// Removes the hop-by-hop fields (RFC 9110 §7.6.1) of a message passed on to
/// the next hop: `Connection`, the fields it names, and the fixed list in the
/// table above. [`Forwarder::strip_inbound`] does this for requests; use this
/// for the upstream's response before it goes back to the client. Returns
/// how many field lines went.
pub fn strip_hop_by_hop(headers: &mut HeaderMap) -> usize {
    let mut doomed = connection_named(headers);
    doomed.extend(
        HOP_BY_HOP
            .iter()
            .filter_map(|n| HeaderName::from_bytes(n.as_bytes()).ok()),
    );
    let mut count = 0;
    for name in doomed {
        if let header::Entry::Occupied(entry) = headers.entry(name) {
            count += entry.remove_entry_mult().1.count();
        }
    }
    count
}

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
        let mut doomed = connection_named(headers);
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
