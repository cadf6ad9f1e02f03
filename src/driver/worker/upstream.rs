//! [`Upstream`]: a request allowed by the Gate, rewritten for the origin
//! with identity headers (inbound copies stripped first, values escaped)
//! and an RFC 9421 `hmac-sha256` signature that covers them.

use http::request::Parts;
use http::uri::{Authority, PathAndQuery, Scheme};
use http::{HeaderName, HeaderValue, Uri};
use time::OffsetDateTime;

use super::{ORIGIN_VAR, UPSTREAM_KEY_VAR, WorkerError};
use crate::httpsig::{Component, HttpSigError, Signer, SignerConfig, SigningKey};
use crate::{Principal, Secret};

/// The default `keyid` of the upstream signature.
pub const DEFAULT_UPSTREAM_KEY_ID: &str = "edge-auth";
/// The label of the upstream signature (RFC 9421 §4.1).
pub const UPSTREAM_SIGNATURE_LABEL: &str = "edge-auth";
/// Header naming the authenticated subject on a forwarded request
/// (percent-encoded).
pub const SUBJECT_HEADER: &str = "x-auth-subject";
/// Header listing the principal's roles on a forwarded request
/// (comma-separated, each percent-encoded).
pub const ROLES_HEADER: &str = "x-auth-roles";

/// Inbound headers removed before forwarding: identity headers only the
/// Worker may set, signature fields only its signature may fill (a client's
/// `edge-auth` label would clash with ours), and `host` (the origin's comes
/// from its URL).
const STRIPPED_HEADERS: [&str; 5] = [
    SUBJECT_HEADER,
    ROLES_HEADER,
    "signature",
    "signature-input",
    "host",
];

/// Where allowed requests go and how they are signed.
#[derive(Debug)]
pub struct Upstream {
    scheme: Scheme,
    authority: Authority,
    /// Signs requests with a principal (identity headers covered).
    with_identity: Signer,
    /// Signs anonymous requests (no identity headers to cover).
    anonymous: Signer,
}

impl Upstream {
    /// An upstream at `origin` (`scheme://host[:port]`), signing with the
    /// `hmac-sha256` `key` (at least 32 bytes) under `key_id`.
    ///
    /// # Errors
    /// [`WorkerError::Invalid`] naming [`ORIGIN_VAR`] for an origin that is
    /// not an http(s) URL without path, query or user information, or
    /// [`UPSTREAM_KEY_VAR`] for a refused key.
    pub fn new(origin: &str, key_id: &str, key: &Secret<Vec<u8>>) -> Result<Self, WorkerError> {
        let (scheme, authority) = parse_origin(origin)?;
        let invalid = |e: HttpSigError| WorkerError::Invalid {
            var: UPSTREAM_KEY_VAR,
            reason: e.to_string(),
        };
        let make = |names: &[&str]| -> Result<Signer, WorkerError> {
            let config = SignerConfig {
                label: UPSTREAM_SIGNATURE_LABEL.to_owned(),
                components: names
                    .iter()
                    .map(|n| Component::try_from_name(n))
                    .collect::<Result<_, _>>()
                    .map_err(invalid)?,
                // The body streams through unread; it is not covered.
                content_digest: None,
                ..SignerConfig::default()
            };
            let key = SigningKey::try_from_hmac_sha256(key_id, key).map_err(invalid)?;
            Signer::new(key, config).map_err(invalid)
        };
        // `@query` always (signed as `?` when there is none): a verifier
        // refuses, by default, a request whose query the signature leaves open.
        let base = ["@method", "@authority", "@path", "@query"];
        Ok(Self {
            scheme,
            authority,
            with_identity: make(&[
                base[0],
                base[1],
                base[2],
                base[3],
                SUBJECT_HEADER,
                ROLES_HEADER,
            ])?,
            anonymous: make(&base)?,
        })
    }

    /// Rewrites an allowed request's head for the origin: its URL points
    /// there (path and query kept); inbound `x-auth-*`, `signature`,
    /// `signature-input` and `host` headers are removed; `x-auth-subject`
    /// and `x-auth-roles` are set from `principal` (each value
    /// percent-encoded: bytes outside visible ASCII, `%`, `,` and `"`
    /// become `%XX`, so the list splits on `,` without ambiguity); an
    /// RFC 9421 signature labelled `edge-auth` covers `@method`,
    /// `@authority`, `@path`, `@query` and the identity headers.
    ///
    /// # Errors
    /// [`WorkerError::Upstream`] when the request cannot be rewritten or
    /// signed.
    pub fn prepare(
        &self,
        parts: &mut Parts,
        principal: Option<&Principal>,
        now: OffsetDateTime,
    ) -> Result<(), WorkerError> {
        let upstream = |reason: String| WorkerError::Upstream { reason };
        let path_and_query = parts
            .uri
            .path_and_query()
            .cloned()
            .unwrap_or_else(|| PathAndQuery::from_static("/"));
        parts.uri = Uri::builder()
            .scheme(self.scheme.clone())
            .authority(self.authority.clone())
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
                &self.with_identity
            }
            None => &self.anonymous,
        };
        let out = signer
            .sign(parts, &[], None, now)
            .map_err(|e| upstream(e.to_string()))?;
        parts
            .headers
            .append("signature-input", out.signature_input().clone());
        parts.headers.append("signature", out.signature().clone());
        Ok(())
    }
}

fn parse_origin(text: &str) -> Result<(Scheme, Authority), WorkerError> {
    let invalid = |reason: &str| WorkerError::Invalid {
        var: ORIGIN_VAR,
        reason: format!("`{text}` {reason}"),
    };
    let uri: Uri = text.parse().map_err(|_| invalid("is not a URL"))?;
    let scheme = uri
        .scheme()
        .cloned()
        .ok_or_else(|| invalid("has no scheme"))?;
    if scheme != Scheme::HTTP && scheme != Scheme::HTTPS {
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
