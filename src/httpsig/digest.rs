//! Content-Digest (RFC 9530 §2): create and check `sha-256` / `sha-512`
//! digests of the message content. Unknown algorithms are skipped when a
//! known one is present; with none known the check fails.

use super::HttpSigError;
use super::fields::{self, BareRef, EntryRef, ItemRef};
use base64::Engine as _;
use http::{HeaderMap, HeaderValue};

pub(crate) const CONTENT_DIGEST: http::HeaderName = http::HeaderName::from_static("content-digest");

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
    check_content_digest(headers, body).map(|d| d.as_slice().to_vec())
}

/// The algorithms a Content-Digest check compared, in field order: at most
/// one of each known algorithm, held inline (no allocation per request).
#[derive(Debug, Clone, Copy)]
pub(crate) struct DigestsChecked {
    /// The first `len` are meaningful.
    algorithms: [DigestAlgorithm; 2],
    len: usize,
}

impl DigestsChecked {
    pub(crate) const NONE: Self = Self {
        algorithms: [DigestAlgorithm::Sha256; 2],
        len: 0,
    };

    pub(crate) fn as_slice(&self) -> &[DigestAlgorithm] {
        self.algorithms.get(..self.len).unwrap_or_default()
    }

    fn push(&mut self, alg: DigestAlgorithm) {
        if let Some(slot) = self.algorithms.get_mut(self.len) {
            *slot = alg;
            self.len += 1;
        }
    }
}

/// [`verify_content_digest`] without the allocation of its result.
pub(crate) fn check_content_digest(
    headers: &HeaderMap,
    body: &[u8],
) -> Result<DigestsChecked, HttpSigError> {
    // Bounded like the signature fields: a digest field is small.
    let combined = match fields::combine_lines(headers, &CONTENT_DIGEST, MAX_FIELD_BYTES) {
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
    check_text(&combined, body)
}

/// [`check_content_digest`] for a message whose Content-Digest field is
/// this one line (the caller has looked it up already).
pub(crate) fn check_content_digest_line(
    line: &HeaderValue,
    body: &[u8],
) -> Result<DigestsChecked, HttpSigError> {
    let text = fields::line_text(line).ok_or_else(|| HttpSigError::MalformedField {
        field: "content-digest",
        reason: "non-ASCII bytes".into(),
    })?;
    if text.len() > MAX_FIELD_BYTES {
        return Err(HttpSigError::FieldTooLarge {
            field: "content-digest",
            max: MAX_FIELD_BYTES,
        });
    }
    check_text(text, body)
}

/// Checks the combined field text against `body`.
fn check_text(combined: &str, body: &[u8]) -> Result<DigestsChecked, HttpSigError> {
    let algorithms = [DigestAlgorithm::Sha256, DigestAlgorithm::Sha512];
    // Usually one member, `sha-256=:...:`, taken without the parser: a
    // known key, then text the byte-sequence decoder accepts, which is
    // exactly what the parser accepts between the colons
    // (`parse::tests::byte_sequence_parser_matches_the_decoder`). Anything
    // else, errors included, goes through the parser.
    for alg in algorithms {
        if let Some(b64) = combined
            .strip_prefix(alg.as_str())
            .and_then(|rest| rest.strip_prefix("=:"))
            .and_then(|rest| rest.strip_suffix(':'))
            && let Some(expected) = fields::decode_bytes(b64)
        {
            compare(alg, expected.as_slice(), body)?;
            let mut checked = DigestsChecked::NONE;
            checked.push(alg);
            return Ok(checked);
        }
    }
    check_parsed(combined, body)
}

/// [`check_text`] through the structured-field parser.
fn check_parsed(combined: &str, body: &[u8]) -> Result<DigestsChecked, HttpSigError> {
    let mut checked = DigestsChecked::NONE;
    let algorithms = [DigestAlgorithm::Sha256, DigestAlgorithm::Sha512];
    // Parsed in place and not collected; a repeated key keeps its last
    // value at its first position (RFC 9651 §4.2.2), and each known
    // algorithm's digest is computed once.
    let mut found: [Option<(usize, DigestAlgorithm, EntryRef<'_>)>; 2] = [None, None];
    let mut index = 0usize;
    fields::Parser::new(combined)
        .top(|p| {
            p.dictionary_each(|key, entry| {
                for (slot, alg) in found.iter_mut().zip(algorithms) {
                    if key == alg.as_str() {
                        let first = slot.as_ref().map_or(index, |(first, _, _)| *first);
                        *slot = Some((first, alg, entry));
                    }
                }
                index += 1;
            })
        })
        .map_err(|e| HttpSigError::MalformedField {
            field: "content-digest",
            reason: e.to_string(),
        })?;
    // Report in the order the field lists them.
    found.sort_by_key(|f| f.as_ref().map_or(usize::MAX, |(first, _, _)| *first));
    for (_, alg, entry) in found.into_iter().flatten() {
        check_member(alg, entry, body)?;
        checked.push(alg);
    }
    if checked.len == 0 {
        return Err(HttpSigError::NoKnownDigest);
    }
    Ok(checked)
}

/// Compares the digest of `body` with one member of the field.
#[inline(always)]
fn check_member(
    alg: DigestAlgorithm,
    entry: EntryRef<'_>,
    body: &[u8],
) -> Result<(), HttpSigError> {
    let expected = match entry {
        EntryRef::Item(ItemRef {
            bare: BareRef::ByteSequence(b64),
            ..
        }) => fields::decode_bytes(b64),
        _ => None,
    }
    .ok_or_else(|| HttpSigError::MalformedField {
        field: "content-digest",
        reason: format!("member `{}` is not a byte sequence", alg.as_str()),
    })?;
    compare(alg, expected.as_slice(), body)
}

/// Compares the digest of `body` with `expected`.
#[inline(always)]
fn compare(alg: DigestAlgorithm, expected: &[u8], body: &[u8]) -> Result<(), HttpSigError> {
    let actual = ring::digest::digest(alg.ring(), body);
    // Digests of the content are not secrets: a plain comparison is fine.
    if actual.as_ref() != expected {
        return Err(HttpSigError::DigestMismatch {
            algorithm: alg.as_str(),
        });
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The one-member shortcut of `check_text` decides as the parser does.
    #[test]
    fn shortcut_agrees_with_the_parser() {
        let body = b"{\"hello\": \"world\"}";
        let good = content_digest(body, &[DigestAlgorithm::Sha256]);
        let good512 = content_digest(body, &[DigestAlgorithm::Sha512]);
        let b64 = good.trim_start_matches("sha-256=:").trim_end_matches(':');
        let mut texts = vec![
            good.clone(),
            good512.clone(),
            format!("{good}, {good512}"),
            format!("{good};p"),
            format!("{good} "),
            format!("sha-256=:{}:", b64.trim_end_matches('=')),
            format!("sha-256=:{b64}=:"),
            format!("sha-256=:{}:", &b64[1..]),
            format!("sha-256=:A{}:", &b64[1..]),
            format!("sha-256=:{}-:", &b64[..b64.len() - 1]),
            format!("sha-256=:{b64}::"),
            format!("sha-256=:{b64}"),
            format!("sha-256=:{b64}:, sha-256=:AAAA:"),
            format!("sha-256=:{b64}:, x=1"),
            format!("md5=:{b64}:"),
            "sha-256=::".to_owned(),
            "sha-256=:A:".to_owned(),
            "sha-256=:AA==:".to_owned(),
            "sha-256=1".to_owned(),
        ];
        texts.push(good512.replacen(':', ":A", 1));
        for text in &texts {
            let fast = check_text(text, body).map(|c| c.as_slice().to_vec());
            let full = check_parsed(text, body).map(|c| c.as_slice().to_vec());
            assert_eq!(format!("{fast:?}"), format!("{full:?}"), "{text}");
        }
        assert!(check_text(&good, body).is_ok());
    }
}
