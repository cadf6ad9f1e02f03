//! The forwarding configuration: identity headers, signing mode, client
//! address handling, the trusted front proxy.

use super::{DEFAULT_ASSERTION_HEADER, DEFAULT_IDENTITY_PREFIX, DEFAULT_MAX_IDENTITY_VALUE_LEN};

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
