//! Parsing and matching of the pieces a rule is made of: request paths and
//! path patterns (RFC 3986 §3.3, §6.2.2), methods (RFC 9110 §9.1), hosts
//! (RFC 9110 §7.2), CIDR blocks (RFC 4632, RFC 4291 §2.5.5.2), countries.

use super::document::PathProfile;
pub(crate) use super::profile::apply_profile;
use crate::text::hex_value;
use std::borrow::Cow;
use std::fmt;
use std::net::IpAddr;

/// One compiled segment of a path pattern.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum Segment {
    /// A literal, percent-normalised like request paths are.
    Literal(Box<str>),
    /// `*` or `{name}`: exactly one non-empty segment.
    One,
    /// A final `**`: zero or more segments.
    Rest,
}

/// The ways a request path is refused before any rule is looked at.
pub(crate) struct PathOptions {
    pub(crate) max_len: usize,
    pub(crate) max_segments: usize,
    /// Refuse `%2F`.
    pub(crate) reject_encoded_slash: bool,
    /// Refuse `%5C`.
    pub(crate) reject_encoded_backslash: bool,
    pub(crate) reject_path_parameters: bool,
}

/// What a refused `%2F` tells the operator to do.
pub(crate) const ENCODED_SLASH_HINT: &str = "to admit it on a route whose origin treats `%2F` as data, set `allow_encoded_slash: true` in that rule's `match`";

pub(super) const fn is_unreserved(b: u8) -> bool {
    b.is_ascii_alphanumeric() || matches!(b, b'-' | b'.' | b'_' | b'~')
}

/// RFC 3986 `pchar` minus `%` (handled apart), plus `/`.
fn is_path_char(b: u8) -> bool {
    is_unreserved(b)
        || matches!(
            b,
            b'!' | b'$'
                | b'&'
                | b'\''
                | b'('
                | b')'
                | b'*'
                | b'+'
                | b','
                | b';'
                | b'='
                | b':'
                | b'@'
        )
        || b == b'/'
}

/// Bytes outside RFC 3986 that clients send unencoded and `http::Uri`
/// accepts in a path: browsers leave `|`, `[`, `]` and `^` as they are
/// (WHATWG URL path percent-encode set), and `"`, `{`, `}` come from
/// clients embedding JSON. They are matched as their percent-encoded forms,
/// which is how an origin decoding the path reads them too. (`\` stays
/// refused: Windows origins read it as a separator.)
fn is_lenient_path_byte(b: u8) -> bool {
    matches!(b, b'|' | b'[' | b']' | b'^' | b'"' | b'{' | b'}') || !b.is_ascii()
}

const HEX_UPPER: &[u8; 16] = b"0123456789ABCDEF";

pub(super) fn push_encoded(out: &mut String, b: u8) {
    out.push('%');
    out.push(char::from(
        HEX_UPPER.get(usize::from(b >> 4)).copied().unwrap_or(b'0'),
    ));
    out.push(char::from(
        HEX_UPPER.get(usize::from(b & 15)).copied().unwrap_or(b'0'),
    ));
}

/// Normalises a raw request path per RFC 3986 §6.2.2.1-2: decodes
/// percent-encoded unreserved characters and upper-cases the hex digits of
/// the rest, percent-encodes the few bytes clients send raw although
/// RFC 3986 does not allow them ([`is_lenient_path_byte`]), then checks its
/// segments. Borrows when nothing changes.
pub(crate) fn normalize_path<'a>(raw: &'a str, opts: &PathOptions) -> Result<Cow<'a, str>, String> {
    if raw.len() > opts.max_len {
        return Err(format!(
            "path is {} bytes, over the limit of {}",
            raw.len(),
            opts.max_len
        ));
    }
    if !raw.starts_with('/') {
        return Err(format!(
            "path `{}` does not start with `/`",
            super::clip(raw)
        ));
    }
    let bytes = raw.as_bytes();
    let mut out: Option<String> = None;
    let mut i = 0;
    while let Some(&b) = bytes.get(i) {
        if b == b'%' {
            let hi = bytes.get(i + 1).copied().and_then(hex_value);
            let lo = bytes.get(i + 2).copied().and_then(hex_value);
            let (Some(hi), Some(lo)) = (hi, lo) else {
                return Err(format!(
                    "path `{}` has malformed percent-encoding",
                    super::clip(raw)
                ));
            };
            let value = hi * 16 + lo;
            if value == 0 {
                return Err("path contains an encoded NUL (`%00`)".to_owned());
            }
            if opts.reject_encoded_slash && value == b'/' {
                return Err(format!(
                    "path `{}` contains an encoded separator (`%2F`); {ENCODED_SLASH_HINT}",
                    super::clip(raw),
                ));
            }
            if opts.reject_encoded_backslash && value == b'\\' {
                return Err(format!(
                    "path `{}` contains an encoded separator (`%5C`); set `PolicyConfig::reject_encoded_separators` to `false` to match it as data",
                    super::clip(raw),
                ));
            }
            if is_unreserved(value) {
                out.get_or_insert_with(|| raw.get(..i).unwrap_or_default().to_owned())
                    .push(char::from(value));
            } else {
                let canonical = [
                    b'%',
                    HEX_UPPER.get(usize::from(hi)).copied().unwrap_or(b'0'),
                    HEX_UPPER.get(usize::from(lo)).copied().unwrap_or(b'0'),
                ];
                let original = bytes.get(i..i + 3).unwrap_or_default();
                if out.is_none() && original != canonical {
                    out = Some(raw.get(..i).unwrap_or_default().to_owned());
                }
                if let Some(o) = out.as_mut() {
                    o.extend(canonical.iter().map(|&c| char::from(c)));
                }
            }
            i += 3;
        } else if b == b';' && opts.reject_path_parameters {
            return Err(format!(
                "path `{}` has a `;` path parameter",
                super::clip(raw)
            ));
        } else if is_path_char(b) {
            if let Some(o) = out.as_mut() {
                o.push(char::from(b));
            }
            i += 1;
        } else if is_lenient_path_byte(b) {
            let o = out.get_or_insert_with(|| raw.get(..i).unwrap_or_default().to_owned());
            push_encoded(o, b);
            i += 1;
        } else {
            return Err(format!(
                "path contains `{}`, which is not allowed in a URI path",
                std::ascii::escape_default(b)
            ));
        }
    }
    let path = out.map_or(Cow::Borrowed(raw), Cow::Owned);
    // Raw characters percent-encoded above make the path longer.
    if path.len() > opts.max_len {
        return Err(format!(
            "path is {} bytes once percent-encoded, over the limit of {}",
            path.len(),
            opts.max_len
        ));
    }
    check_segments(&path, opts.max_segments)?;
    Ok(path)
}

/// The part of a normalised path after its leading `/`; split it on `/` to
/// get the segments (`/` has one empty segment).
pub(crate) fn path_body(path: &str) -> &str {
    path.get(1..).unwrap_or_default()
}

fn check_segments(path: &str, max_segments: usize) -> Result<(), String> {
    let mut segments = path_body(path).split('/').peekable();
    let mut count = 0usize;
    while let Some(seg) = segments.next() {
        count += 1;
        if count > max_segments {
            return Err(format!("path has more than {max_segments} segments"));
        }
        if seg.is_empty() && segments.peek().is_some() {
            return Err(format!(
                "path `{}` has an empty segment (`//`)",
                super::clip(path)
            ));
        }
        if is_dot_segment(seg) {
            return Err(format!(
                "path `{}` has a dot segment (`{}`)",
                super::clip(path),
                super::clip(seg)
            ));
        }
        if !encoded_parts_ok(seg) {
            return Err(format!(
                "path `{}` has a dot or empty segment behind an encoded separator (`{}`)",
                super::clip(path),
                super::clip(seg)
            ));
        }
    }
    Ok(())
}

/// Where `%2F` / `%5C` are let through, an origin that decodes them and
/// then resolves dot segments must not be walked out of the route:
/// `group%2F..%2F..%2Fadmin` is refused like `../..`, and so is an empty
/// part (`a%2F%2Fb`, `a%2F`).
pub(super) fn encoded_parts_ok(seg: &str) -> bool {
    if !(seg.contains("%2F") || seg.contains("%5C")) {
        return true;
    }
    let mut parts = seg.split("%2F").flat_map(|p| p.split("%5C"));
    !parts.any(|p| p.is_empty() || is_dot_segment(p))
}

/// `.` and `..`, also with a `;` parameter (`..;x`), which servlet
/// containers strip before resolving dot segments.
pub(super) fn is_dot_segment(seg: &str) -> bool {
    let head = seg.split(';').next().unwrap_or_default();
    head == "." || head == ".."
}

/// Parses a path pattern into segments; literal segments are normalised the
/// way requests are, so `/%7Euser` and `/~user` are the same pattern.
pub(crate) fn parse_path_pattern(
    pattern: &str,
    max_len: usize,
    max_segments: usize,
    profile: &PathProfile,
) -> Result<Vec<Segment>, String> {
    if pattern.len() > max_len {
        return Err(format!("longer than {max_len} bytes"));
    }
    let Some(body) = pattern.strip_prefix('/') else {
        return Err("must start with `/`".to_owned());
    };
    let parts: Vec<&str> = body.split('/').collect();
    if parts.len() > max_segments {
        return Err(format!("more than {max_segments} segments"));
    }
    let mut names: Vec<&str> = Vec::new();
    let mut segments = Vec::with_capacity(parts.len());
    let last = parts.len().saturating_sub(1);
    for (index, part) in parts.iter().copied().enumerate() {
        let segment = match part {
            "**" if index == last => Segment::Rest,
            "**" => return Err("`**` is only allowed as the last segment".to_owned()),
            "*" => Segment::One,
            _ if part.starts_with('{') && part.ends_with('}') && part.len() >= 2 => {
                let name = part.get(1..part.len() - 1).unwrap_or_default();
                validate_capture_name(name)?;
                if names.contains(&name) {
                    return Err(format!("parameter `{name}` appears twice"));
                }
                names.push(name);
                Segment::One
            }
            _ if part.contains(['*', '{', '}']) => {
                return Err(format!(
                    "wildcards and parameters must be whole segments, not `{}`",
                    super::clip(part)
                ));
            }
            _ if part.is_empty() && index != last => {
                return Err("empty segment (`//`)".to_owned());
            }
            _ => {
                let opts = PathOptions {
                    max_len,
                    max_segments: 1,
                    reject_encoded_slash: false,
                    reject_encoded_backslash: false,
                    reject_path_parameters: false,
                };
                let raw = format!("/{part}");
                let normalised = normalize_path(&raw, &opts)?;
                let read = apply_profile(normalised, profile, max_len)?;
                Segment::Literal(path_body(&read).into())
            }
        };
        segments.push(segment);
    }
    Ok(segments)
}

/// Checks a capture name: `[A-Za-z_][A-Za-z0-9_]*`.
pub(crate) fn validate_capture_name(name: &str) -> Result<(), String> {
    let mut chars = name.chars();
    let valid = chars
        .next()
        .is_some_and(|c| c.is_ascii_alphabetic() || c == '_')
        && chars.all(|c| c.is_ascii_alphanumeric() || c == '_');
    if valid {
        Ok(())
    } else {
        Err(format!(
            "parameter name `{}` must be [A-Za-z_][A-Za-z0-9_]*",
            super::clip(name)
        ))
    }
}

/// The `{name}` captures of a path pattern that compiled, with their
/// segment index (in the pattern's body, split on `/`).
pub(crate) fn pattern_captures(pattern: &str) -> Vec<(Box<str>, usize)> {
    pattern
        .strip_prefix('/')
        .unwrap_or(pattern)
        .split('/')
        .enumerate()
        .filter_map(|(i, part)| {
            let name = part.strip_prefix('{')?.strip_suffix('}')?;
            Some((Box::from(name), i))
        })
        .collect()
}

/// A compiled host pattern, lower-case.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum HostPattern {
    /// This name exactly.
    Exact(Box<str>),
    /// Any name ending in this suffix, which starts with `.`.
    Suffix(Box<str>),
    /// `{name}.suffix`: one label, captured as `name`, then the suffix
    /// (which starts with `.`).
    Capture {
        /// The capture's name.
        name: Box<str>,
        /// What follows the captured label, starting with `.`.
        suffix: Box<str>,
    },
}

impl HostPattern {
    pub(crate) fn parse(pattern: &str) -> Result<Self, String> {
        let lower = pattern.to_ascii_lowercase();
        if let Some(inner) = pattern.strip_prefix('{') {
            let (name, rest) = inner
                .split_once("}.")
                .ok_or("a host capture is a whole leading label (`{tenant}.example.com`)")?;
            validate_capture_name(name)?;
            let rest = rest.to_ascii_lowercase();
            validate_host(&rest)?;
            if rest.starts_with('[') {
                return Err("a host capture needs a host name, not an IP literal".to_owned());
            }
            return Ok(Self::Capture {
                name: name.into(),
                suffix: format!(".{rest}").into(),
            });
        }
        if let Some(rest) = lower.strip_prefix("*.") {
            validate_host(rest)?;
            Ok(Self::Suffix(format!(".{rest}").into()))
        } else {
            validate_host(&lower)?;
            Ok(Self::Exact(lower.into()))
        }
    }

    pub(crate) fn matches(&self, host: &str) -> bool {
        match self {
            // An IPv6 literal has many spellings (`[::1]`, `[0:0::1]`,
            // `[::0001]`): compare addresses, or a deny rule is bypassed.
            Self::Exact(name) if name.starts_with('[') => {
                ipv6_literal(name).is_some_and(|a| ipv6_literal(host) == Some(a))
            }
            Self::Exact(name) => host.eq_ignore_ascii_case(name),
            Self::Suffix(suffix) => {
                host.len() > suffix.len()
                    && host
                        .get(host.len() - suffix.len()..)
                        .is_some_and(|tail| tail.eq_ignore_ascii_case(suffix))
            }
            Self::Capture { .. } => self.capture(host).is_some(),
        }
    }

    /// For a `{name}.suffix` pattern matching `host`, the captured label.
    pub(crate) fn capture<'h>(&self, host: &'h str) -> Option<&'h str> {
        let Self::Capture { suffix, .. } = self else {
            return None;
        };
        let cut = host.len().checked_sub(suffix.len())?;
        let (label, tail) = (host.get(..cut)?, host.get(cut..)?);
        (!label.is_empty() && !label.contains('.') && tail.eq_ignore_ascii_case(suffix))
            .then_some(label)
    }

    /// The capture name of a `{name}.suffix` pattern.
    pub(crate) fn capture_name(&self) -> Option<&str> {
        match self {
            Self::Capture { name, .. } => Some(name),
            _ => None,
        }
    }

    /// Whether every host this pattern matches is matched by `self`.
    pub(crate) fn covers(&self, other: &Self) -> bool {
        match (self, other) {
            (Self::Exact(a), Self::Exact(b)) => a == b,
            (Self::Exact(_), Self::Suffix(_) | Self::Capture { .. }) => false,
            (Self::Suffix(_) | Self::Capture { .. }, Self::Exact(b)) => self.matches(b),
            (Self::Suffix(a), Self::Suffix(b) | Self::Capture { suffix: b, .. }) => {
                b.ends_with(&**a)
            }
            (Self::Capture { suffix: a, .. }, Self::Capture { suffix: b, .. }) => a == b,
            (Self::Capture { .. }, Self::Suffix(_)) => false,
        }
    }
}

impl fmt::Display for HostPattern {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Exact(name) => f.write_str(name),
            Self::Suffix(suffix) => write!(f, "*{suffix}"),
            Self::Capture { name, suffix } => write!(f, "{{{name}}}{suffix}"),
        }
    }
}

fn validate_host(host: &str) -> Result<(), String> {
    if host.contains('*') {
        return Err("`*` is only allowed as a whole leading label (`*.example.com`)".to_owned());
    }
    if let Some(inner) = host.strip_prefix('[') {
        let literal = inner.strip_suffix(']').ok_or("unclosed `[`")?;
        literal
            .parse::<std::net::Ipv6Addr>()
            .map_err(|_| "not an IPv6 literal".to_owned())?;
        return Ok(());
    }
    if host.contains(':') {
        return Err("ports are not matched; leave the `:port` out".to_owned());
    }
    if host.is_empty() || host.len() > 253 {
        return Err("a host name has 1 to 253 characters".to_owned());
    }
    for label in host.split('.') {
        if label.is_empty() || label.len() > 63 {
            return Err("a label has 1 to 63 characters".to_owned());
        }
        if !label
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_')
        {
            return Err("a label holds only letters, digits, `-` and `_`".to_owned());
        }
    }
    Ok(())
}

fn ipv6_literal(host: &str) -> Option<std::net::Ipv6Addr> {
    host.strip_prefix('[')?.strip_suffix(']')?.parse().ok()
}

/// The host name of a request's `Host` / authority: port, userinfo-free,
/// one trailing dot removed. `None` when it is not a plausible host: an
/// empty label (`a..b`, `.a`, `a..`) or a bracketed value that is not an
/// IPv6 address. Origins disagree on such names (some strip every trailing
/// dot), so they must not slip past a host-scoped deny rule.
pub(crate) fn request_host(raw: &str) -> Option<&str> {
    let host = if raw.starts_with('[') {
        let end = raw.find(']')?;
        let (literal, rest) = raw.split_at(end.checked_add(1)?);
        if !(rest.is_empty() || valid_port(rest.strip_prefix(':')?)) {
            return None;
        }
        ipv6_literal(literal)?;
        return Some(literal);
    } else {
        let host = match raw.split_once(':') {
            Some((host, port)) if valid_port(port) => host,
            Some(_) => return None,
            None => raw,
        };
        host.strip_suffix('.').unwrap_or(host)
    };
    let valid = !host.is_empty()
        && host.split('.').all(|label| !label.is_empty())
        && host
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'-' | b'.' | b'_'));
    valid.then_some(host)
}

// RFC 3986 §3.2.3: `port = *DIGIT`, so `example.com:` is legal.
fn valid_port(port: &str) -> bool {
    port.len() <= 5 && port.bytes().all(|b| b.is_ascii_digit())
}

const STANDARD_METHODS: [&str; 9] = [
    "GET", "HEAD", "POST", "PUT", "DELETE", "CONNECT", "OPTIONS", "TRACE", "PATCH",
];

/// Checks a method is an RFC 9110 token and not a mis-cased standard method
/// (which could never match, since methods are case-sensitive).
pub(crate) fn validate_method(method: &str) -> Result<(), String> {
    let tchar = crate::text::is_tchar;
    if method.is_empty() || !method.bytes().all(tchar) {
        return Err("not an RFC 9110 method token".to_owned());
    }
    if let Some(standard) = STANDARD_METHODS
        .iter()
        .find(|s| s.eq_ignore_ascii_case(method) && **s != method)
    {
        return Err(format!(
            "methods are case-sensitive (RFC 9110 §9.1); write `{standard}`"
        ));
    }
    Ok(())
}

/// An IP block. IPv4-mapped IPv6 blocks are stored as IPv4.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Cidr {
    V4 { network: u32, len: u8 },
    V6 { network: u128, len: u8 },
}

fn mask32(len: u8) -> u32 {
    u32::MAX
        .checked_shl(32 - u32::from(len.min(32)))
        .unwrap_or(0)
}

fn mask128(len: u8) -> u128 {
    u128::MAX
        .checked_shl(128 - u32::from(len.min(128)))
        .unwrap_or(0)
}

/// IPv4-mapped IPv6 (`::ffff:a.b.c.d`) becomes IPv4.
pub(crate) fn canonical_ip(ip: IpAddr) -> IpAddr {
    match ip {
        IpAddr::V6(v6) => v6.to_ipv4_mapped().map_or(ip, IpAddr::V4),
        v4 @ IpAddr::V4(_) => v4,
    }
}

impl Cidr {
    pub(crate) fn parse(text: &str) -> Result<Self, String> {
        let (addr, len) = match text.split_once('/') {
            Some((addr, len)) => {
                let digits_ok = !len.is_empty()
                    && len.len() <= 3
                    && len.bytes().all(|b| b.is_ascii_digit())
                    && (len == "0" || !len.starts_with('0'));
                if !digits_ok {
                    return Err("prefix length must be a decimal number".to_owned());
                }
                (
                    addr,
                    Some(len.parse::<u8>().map_err(|_| "prefix length too large")?),
                )
            }
            None => (text, None),
        };
        let ip: IpAddr = addr
            .parse()
            .map_err(|_| format!("`{}` is not an IP address", super::clip(addr)))?;
        let cidr = match (ip, ip_mapped(ip)) {
            (_, Some(v4)) => {
                let len = len.unwrap_or(128);
                if !(96..=128).contains(&len) {
                    return Err("an IPv4-mapped block needs a prefix of /96 to /128".to_owned());
                }
                Self::V4 {
                    network: u32::from(v4),
                    len: len - 96,
                }
            }
            (IpAddr::V4(v4), None) => {
                let len = len.unwrap_or(32);
                if len > 32 {
                    return Err("IPv4 prefix length is at most 32".to_owned());
                }
                Self::V4 {
                    network: u32::from(v4),
                    len,
                }
            }
            (IpAddr::V6(v6), None) => {
                let len = len.unwrap_or(128);
                if len > 128 {
                    return Err("IPv6 prefix length is at most 128".to_owned());
                }
                Self::V6 {
                    network: u128::from(v6),
                    len,
                }
            }
        };
        let host_bits = match cidr {
            Self::V4 { network, len } => network & !mask32(len) != 0,
            Self::V6 { network, len } => network & !mask128(len) != 0,
        };
        if host_bits {
            return Err("address has bits set beyond the prefix length".to_owned());
        }
        Ok(cidr)
    }

    pub(crate) fn contains(&self, ip: IpAddr) -> bool {
        match (self, canonical_ip(ip)) {
            (Self::V4 { network, len }, IpAddr::V4(v4)) => u32::from(v4) & mask32(*len) == *network,
            (Self::V6 { network, len }, IpAddr::V6(v6)) => {
                u128::from(v6) & mask128(*len) == *network
            }
            _ => false,
        }
    }
}

fn ip_mapped(ip: IpAddr) -> Option<std::net::Ipv4Addr> {
    match ip {
        IpAddr::V6(v6) => v6.to_ipv4_mapped(),
        IpAddr::V4(_) => None,
    }
}

impl fmt::Display for Cidr {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::V4 { network, len } => write!(f, "{}/{len}", std::net::Ipv4Addr::from(*network)),
            Self::V6 { network, len } => write!(f, "{}/{len}", std::net::Ipv6Addr::from(*network)),
        }
    }
}

/// An ISO 3166-1 alpha-2 code, upper-cased. Only the shape is checked: the
/// caller's source (e.g. `CF-IPCountry`) also uses `T1` (Tor). `XX` is
/// refused: Cloudflare sends it when it does not know the country, and an
/// unknown country must be handled as unevaluable, not as one more code.
pub(crate) fn parse_country(code: &str) -> Result<[u8; 2], String> {
    match code.as_bytes() {
        [a, b] if a.is_ascii_alphabetic() && b.is_ascii_alphanumeric() => {
            let code = [a.to_ascii_uppercase(), b.to_ascii_uppercase()];
            if code == *b"XX" {
                return Err("`XX` means the country is unknown".to_owned());
            }
            Ok(code)
        }
        _ => Err("a country is a two-letter ISO 3166-1 alpha-2 code".to_owned()),
    }
}

/// RFC 6901, `/`-prefixed, with `~` only as `~0` / `~1`.
pub(crate) fn validate_pointer(pointer: &str) -> Result<(), String> {
    // The empty pointer would name the whole claims set, never a claim.
    if !pointer.starts_with('/') {
        return Err("a claim pointer starts with `/`".to_owned());
    }
    let mut bytes = pointer.bytes();
    while let Some(b) = bytes.next() {
        if b == b'~' && !matches!(bytes.next(), Some(b'0' | b'1')) {
            return Err("`~` must be followed by `0` or `1`".to_owned());
        }
    }
    Ok(())
}

/// Entry points for the fuzz targets; not public API.
pub(crate) mod fuzz {
    /// Normalises a request path with the default options; `Some` holds the
    /// normalised path. Invariant: normalising the output again returns it
    /// unchanged.
    pub fn normalize_request_path(path: &str) -> Option<String> {
        let opts = super::PathOptions {
            max_len: 8192,
            max_segments: 128,
            reject_encoded_slash: false,
            reject_encoded_backslash: false,
            reject_path_parameters: false,
        };
        super::normalize_path(path, &opts)
            .ok()
            .map(std::borrow::Cow::into_owned)
    }

    /// [`normalize_request_path`] read through the Windows origin profile
    /// (case-insensitive, trailing dots and spaces stripped). Invariant:
    /// reading the output again returns it unchanged.
    pub fn profile_request_path(path: &str) -> Option<String> {
        let normalised = normalize_request_path(path)?;
        let profile = super::PathProfile::windows();
        super::apply_profile(std::borrow::Cow::Owned(normalised), &profile, 8192)
            .ok()
            .map(std::borrow::Cow::into_owned)
    }

    /// Whether a path pattern compiles.
    pub fn parse_path_pattern(pattern: &str) -> bool {
        super::parse_path_pattern(pattern, 1024, 32, &super::PathProfile::default()).is_ok()
    }

    /// Parses a CIDR block and prints it back canonically.
    pub fn parse_cidr(text: &str) -> Option<String> {
        super::Cidr::parse(text).ok().map(|c| c.to_string())
    }
}
