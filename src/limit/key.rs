//! What a limit counts by, and the store key of one request: escaped and
//! bounded, so that a hostile claim can neither grow memory nor reach into
//! another key's namespace (or a Redis hash tag) of a shared store.

use std::fmt::Write as _;
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};

use serde_json::Value;

use super::LimitError;
use crate::oidc::{ClaimPath, Principal};

/// Longest escaped key part kept as is; longer ones are replaced by `#`
/// and the hex SHA-256 of the raw value (65 bytes).
pub const MAX_KEY_PART: usize = 64;

/// The part of a store key standing for a request without the value the
/// key counts by (no principal, no client IP, no such claim). Such
/// requests share one counter per limit. `!` is always escaped in values,
/// so no value can spell it.
pub const MISSING: &str = "!none";

/// What a limit counts requests by.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum KeyKind {
    /// The principal's subject (`sub`).
    Subject,
    /// The OAuth client: the `azp` claim, else `client_id`.
    ClientId,
    /// The client IP; IPv4 addresses (and IPv4-mapped IPv6 ones) by
    /// `ipv4_prefix` bits, IPv6 ones by `ipv6_prefix` bits (a /64 is one
    /// customer's network, and an attacker holds all of it).
    Ip {
        /// Default 32.
        ipv4_prefix: u8,
        /// Default 64.
        ipv6_prefix: u8,
    },
    /// The rule: every request the rule admits shares one counter.
    Route,
    /// A claim, found by RFC 6901 JSON Pointer; a string claim counts by
    /// its text, any other value by its JSON.
    Claim(ClaimPath),
}

impl KeyKind {
    /// Counting by IP with the default prefixes (/32, /64).
    pub fn ip() -> Self {
        Self::Ip {
            ipv4_prefix: 32,
            ipv6_prefix: 64,
        }
    }

    /// Parses the policy document's `key`: `subject`, `client_id`, `ip`,
    /// `route` or `claim:<JSON Pointer>`.
    ///
    /// # Errors
    /// [`LimitError::InvalidKey`] for anything else, or a bad pointer.
    pub fn parse(text: &str) -> Result<Self, LimitError> {
        let bad = |reason: String| LimitError::InvalidKey {
            key: crate::text::printable(text, 64),
            reason,
        };
        match text {
            "subject" => Ok(Self::Subject),
            "client_id" => Ok(Self::ClientId),
            "ip" => Ok(Self::ip()),
            "route" => Ok(Self::Route),
            _ => match text.strip_prefix("claim:") {
                Some(pointer) if pointer.starts_with('/') => ClaimPath::try_from_pointer(pointer)
                    .map(Self::Claim)
                    .map_err(|e| bad(e.to_string())),
                Some(_) => Err(bad(
                    "a claim key is a JSON Pointer: `claim:/tenant/id`".into()
                )),
                None => Err(bad(
                    "expected `subject`, `client_id`, `ip`, `route` or `claim:<JSON Pointer>`"
                        .into(),
                )),
            },
        }
    }

    /// The short name used in store keys.
    fn tag(&self) -> &'static str {
        match self {
            Self::Subject => "sub",
            Self::ClientId => "cid",
            Self::Ip { .. } => "ip",
            Self::Route => "route",
            Self::Claim(_) => "claim",
        }
    }
}

/// Appends the store key of one request to `out`: `prefix` (the limit's
/// escaped id), the kind and the escaped (or hashed) value.
pub(crate) fn write_key(
    out: &mut String,
    prefix: &str,
    kind: &KeyKind,
    rule: &str,
    principal: Option<&Principal>,
    client_ip: Option<IpAddr>,
) {
    out.push_str(prefix);
    out.push('/');
    out.push_str(kind.tag());
    out.push(':');
    match kind {
        KeyKind::Subject => part(out, principal.and_then(|p| p.subject.as_deref())),
        KeyKind::ClientId => {
            let claims = principal.map(|p| &p.claims);
            let id = claims.and_then(|c| {
                c.get("azp")
                    .and_then(Value::as_str)
                    .or_else(|| c.get("client_id").and_then(Value::as_str))
            });
            part(out, id);
        }
        KeyKind::Ip {
            ipv4_prefix,
            ipv6_prefix,
        } => match client_ip {
            Some(ip) => write_ip(out, ip, *ipv4_prefix, *ipv6_prefix),
            None => out.push_str(MISSING),
        },
        KeyKind::Route => part(out, Some(rule)),
        KeyKind::Claim(path) => match principal.and_then(|p| path.resolve(&p.claims)) {
            Some(Value::String(s)) => part(out, Some(s)),
            Some(Value::Null) | None => out.push_str(MISSING),
            Some(other) => part(out, Some(&other.to_string())),
        },
    }
}

fn part(out: &mut String, value: Option<&str>) {
    match value {
        Some(v) => escape_part(out, v),
        None => out.push_str(MISSING),
    }
}

/// Appends `value` percent-encoded: only ASCII letters, digits and
/// `-._~@` stay as they are, so the result holds no `/`, `:`, `{`, `}`,
/// space or control character. When that is longer than
/// [`MAX_KEY_PART`], appends `#` and the hex SHA-256 of the raw value
/// instead.
pub fn escape_part(out: &mut String, value: &str) {
    let start = out.len();
    for b in value.bytes() {
        if out.len() - start > MAX_KEY_PART {
            break;
        }
        if b.is_ascii_alphanumeric() || matches!(b, b'-' | b'.' | b'_' | b'~' | b'@') {
            out.push(char::from(b));
        } else {
            let _ = write!(out, "%{b:02X}");
        }
    }
    if out.len() - start > MAX_KEY_PART {
        out.truncate(start);
        out.push('#');
        let digest = ring::digest::digest(&ring::digest::SHA256, value.as_bytes());
        for b in digest.as_ref() {
            let _ = write!(out, "{b:02x}");
        }
    }
}

/// The network of `ip`: IPv4 (and IPv4-mapped IPv6) masked to `v4` bits,
/// IPv6 to `v6` bits, written with the prefix length.
fn write_ip(out: &mut String, ip: IpAddr, v4: u8, v6: u8) {
    let ip = match ip {
        IpAddr::V6(v6addr) => v6addr
            .to_ipv4_mapped()
            .map_or(IpAddr::V6(v6addr), IpAddr::V4),
        v4addr => v4addr,
    };
    match ip {
        IpAddr::V4(a) => {
            let bits = u32::from(a) & mask32(v4);
            let _ = write!(out, "{}/{}", Ipv4Addr::from(bits), v4.min(32));
        }
        IpAddr::V6(a) => {
            let bits = u128::from(a) & mask128(v6);
            // `::` and `.` only: the text is safe in any store key.
            let _ = write!(out, "{}/{}", Ipv6Addr::from(bits), v6.min(128));
        }
    }
}

fn mask32(prefix: u8) -> u32 {
    match prefix {
        0 => 0,
        p if p >= 32 => u32::MAX,
        p => u32::MAX << (32 - u32::from(p)),
    }
}

fn mask128(prefix: u8) -> u128 {
    match prefix {
        0 => 0,
        p if p >= 128 => u128::MAX,
        p => u128::MAX << (128 - u32::from(p)),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ip_key(ip: &str, v6: u8) -> String {
        let mut s = String::new();
        write_ip(&mut s, ip.parse().unwrap(), 32, v6);
        s
    }

    #[test]
    fn ipv6_grouped_by_prefix() {
        assert_eq!(ip_key("2001:db8:1:2:3:4:5:6", 64), "2001:db8:1:2::/64");
        assert_eq!(ip_key("2001:db8:1:2:3:4:5:6", 48), "2001:db8:1::/48");
        assert_eq!(ip_key("::ffff:10.1.2.3", 64), "10.1.2.3/32");
        assert_eq!(ip_key("10.1.2.3", 64), "10.1.2.3/32");
    }

    #[test]
    fn long_values_are_hashed() {
        let mut s = String::new();
        escape_part(&mut s, &"a".repeat(65));
        assert!(s.starts_with('#'));
        assert_eq!(s.len(), 65);
        let mut s = String::new();
        escape_part(&mut s, "a b/{x}");
        assert_eq!(s, "a%20b%2F%7Bx%7D");
    }
}
