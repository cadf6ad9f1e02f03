//! Content-Digest (RFC 9530 §2): create and check `sha-256` / `sha-512`
//! digests of the message content. Unknown algorithms are skipped when a
//! known one is present; with none known the check fails.

use super::HttpSigError;
use super::fields::{self, BareItem, Entry, Item};
use base64::Engine as _;
use http::HeaderMap;

/// Largest Content-Digest field accepted, in bytes.
const MAX_FIELD_BYTES: usize = 8 * 1024;

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
    // Written directly: the keys are fixed tokens and the values byte
    // sequences, so this is already the canonical serialisation.
    let mut out = String::with_capacity(100 * algorithms.len());
    for (i, alg) in algorithms.iter().enumerate() {
        if i > 0 {
            out.push_str(", ");
        }
        let d = ring::digest::digest(alg.ring(), body);
        out.push_str(alg.as_str());
        out.push_str("=:");
        base64::engine::general_purpose::STANDARD.encode_string(d.as_ref(), &mut out);
        out.push(':');
    }
    out
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
    // Bounded like the signature fields: a digest field is small.
    let combined = match fields::combine_lines(headers, "content-digest", MAX_FIELD_BYTES) {
        Ok(Some(c)) => c,
        Ok(None) => return Err(HttpSigError::MissingContentDigest),
        Err(None) => {
            return Err(HttpSigError::MalformedField {
                field: "content-digest",
                reason: "non-ASCII bytes".into(),
            });
        }
        Err(Some(_)) => {
            return Err(HttpSigError::FieldTooLarge {
                field: "content-digest",
                max: MAX_FIELD_BYTES,
            });
        }
    };
    let dict = fields::parse_dictionary(&combined).map_err(|e| HttpSigError::MalformedField {
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
