//! Content-Digest (RFC 9530 §2): create and check `sha-256` / `sha-512`
//! digests of the message content. Unknown algorithms are skipped when a
//! known one is present; with none known the check fails.

use super::HttpSigError;
use super::fields::{self, BareItem, Entry, Item};
use http::HeaderMap;

/// A Content-Digest algorithm (RFC 9530 §5, "active" algorithms).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum DigestAlgorithm {
    /// `sha-256`.
    Sha256,
    /// `sha-512`.
    Sha512,
}

impl DigestAlgorithm {
    /// The registered key, e.g. `sha-256`.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Sha256 => "sha-256",
            Self::Sha512 => "sha-512",
        }
    }

    fn from_key(key: &str) -> Option<Self> {
        match key {
            "sha-256" => Some(Self::Sha256),
            "sha-512" => Some(Self::Sha512),
            _ => None,
        }
    }

    fn ring(self) -> &'static ring::digest::Algorithm {
        match self {
            Self::Sha256 => &ring::digest::SHA256,
            Self::Sha512 => &ring::digest::SHA512,
        }
    }
}

/// The Content-Digest field value for `body`, one member per algorithm, e.g.
/// `sha-256=:X48E9qOokqqrvdts8nOJRJN3OWDUoyWxBf7kbu9DBPE=:`.
///
/// ```
/// use edge_auth::httpsig::{content_digest, DigestAlgorithm};
/// let v = content_digest(br#"{"hello": "world"}"#, &[DigestAlgorithm::Sha256]);
/// assert_eq!(v, "sha-256=:X48E9qOokqqrvdts8nOJRJN3OWDUoyWxBf7kbu9DBPE=:");
/// ```
pub fn content_digest(body: &[u8], algorithms: &[DigestAlgorithm]) -> String {
    let dict: fields::Dictionary = algorithms
        .iter()
        .map(|alg| {
            let d = ring::digest::digest(alg.ring(), body);
            (
                alg.as_str().to_owned(),
                Entry::Item(Item {
                    bare: BareItem::ByteSequence(d.as_ref().to_vec()),
                    params: Vec::new(),
                }),
            )
        })
        .collect();
    // Keys and values here are always serialisable.
    fields::serialize_dictionary(&dict).unwrap_or_default()
}

/// Checks the Content-Digest field(s) in `headers` against `body`. Every
/// member with a known algorithm must match; unknown algorithms are ignored.
/// Returns the algorithms that were checked.
///
/// # Errors
/// [`HttpSigError::MissingContentDigest`] when the field is absent,
/// [`HttpSigError::MalformedField`] when it is not a dictionary of byte
/// sequences, [`HttpSigError::NoKnownDigest`] when no member uses a known
/// algorithm and [`HttpSigError::DigestMismatch`] when a digest differs.
pub fn verify_content_digest(
    headers: &HeaderMap,
    body: &[u8],
) -> Result<Vec<DigestAlgorithm>, HttpSigError> {
    let mut lines = Vec::new();
    for v in headers.get_all("content-digest") {
        lines.push(v.to_str().map_err(|_| HttpSigError::MalformedField {
            field: "content-digest",
            reason: "non-ASCII bytes".into(),
        })?);
    }
    if lines.is_empty() {
        return Err(HttpSigError::MissingContentDigest);
    }
    let dict =
        fields::parse_dictionary(&lines.join(", ")).map_err(|e| HttpSigError::MalformedField {
            field: "content-digest",
            reason: e.to_string(),
        })?;
    let mut checked = Vec::new();
    for (key, entry) in &dict {
        let Some(alg) = DigestAlgorithm::from_key(key) else {
            continue;
        };
        let Entry::Item(Item {
            bare: BareItem::ByteSequence(expected),
            ..
        }) = entry
        else {
            return Err(HttpSigError::MalformedField {
                field: "content-digest",
                reason: format!("member `{key}` is not a byte sequence"),
            });
        };
        let actual = ring::digest::digest(alg.ring(), body);
        // Digests of the content are not secrets: a plain comparison is fine.
        if actual.as_ref() != expected.as_slice() {
            return Err(HttpSigError::DigestMismatch {
                algorithm: alg.as_str(),
            });
        }
        checked.push(alg);
    }
    if checked.is_empty() {
        return Err(HttpSigError::NoKnownDigest);
    }
    Ok(checked)
}
