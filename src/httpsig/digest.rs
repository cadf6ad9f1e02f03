//! Content-Digest (RFC 9530 §2): create and check `sha-256` / `sha-512`
//! digests of the message content. Unknown algorithms are skipped when a
//! known one is present; with none known the check fails.

use super::HttpSigError;
use super::fields;
use http::{HeaderMap, HeaderValue};
use sfv::KeyRef;

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

    fn key(self) -> &'static KeyRef {
        match self {
            Self::Sha256 => sfv::key_ref("sha-256"),
            Self::Sha512 => sfv::key_ref("sha-512"),
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
    let mut out = String::with_capacity(100 * algorithms.len());
    let mut ser = sfv::DictSerializer::with_buffer(&mut out);
    for alg in algorithms {
        let d = ring::digest::digest(alg.ring(), body);
        let _ = ser.bare_item(alg.key(), d.as_ref());
    }
    let _ = ser.finish();
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
    let raw = fields::trim_ows(line.as_bytes());
    let sha256 = match canonical_check(raw, body) {
        Ok(checked) => return Ok(checked),
        Err(sha256) => sha256,
    };
    let text = std::str::from_utf8(raw).map_err(|_| HttpSigError::MalformedField {
        field: "content-digest",
        reason: "non-ASCII bytes".into(),
    })?;
    if text.len() > MAX_FIELD_BYTES {
        return Err(HttpSigError::FieldTooLarge {
            field: "content-digest",
            max: MAX_FIELD_BYTES,
        });
    }
    parse_and_check(text, body, sha256)
}

/// Checks the combined field text against `body`; see [`canonical_check`]
/// and [`parse_and_check`].
fn check_text(combined: &str, body: &[u8]) -> Result<DigestsChecked, HttpSigError> {
    match canonical_check(combined.as_bytes(), body) {
        Ok(checked) => Ok(checked),
        Err(sha256) => parse_and_check(combined, body, sha256),
    }
}

/// The usual field, one `sha-256` member in canonical form, recognised
/// without parsing: when the text *equals* the canonical serialisation
/// (RFC 9651 §4.1.2) of `sha-256` with the body's digest, it is a valid
/// dictionary that sfv would read as exactly that member, and it matches.
/// `Err` for anything else (other spellings, other or more members, a
/// mismatch), with the body's SHA-256 when it was computed; the general
/// path then gives the same answer as without this shortcut.
fn canonical_check(
    text: &[u8],
    body: &[u8],
) -> Result<DigestsChecked, Option<ring::digest::Digest>> {
    if text.len() != CANONICAL_SHA256_LEN || !text.starts_with(b"sha-256=:") {
        return Err(None);
    }
    let digest = ring::digest::digest(&ring::digest::SHA256, body);
    if text == canonical_sha256(digest.as_ref()) {
        let mut checked = DigestsChecked::NONE;
        checked.push(DigestAlgorithm::Sha256);
        return Ok(checked);
    }
    Err(Some(digest))
}

/// The general path: the text parsed by sfv, each known algorithm's member
/// compared, in field order. A repeated key keeps its last value at its
/// first position (RFC 9651 §4.2.2); each digest is computed once
/// (`sha256` is the body's SHA-256 when already known).
fn parse_and_check(
    combined: &str,
    body: &[u8],
    sha256: Option<ring::digest::Digest>,
) -> Result<DigestsChecked, HttpSigError> {
    let mut found = fields::ByteMembers::default();
    sfv::Parser::new(combined)
        .parse_dictionary_with_visitor(&mut found)
        .map_err(|e| HttpSigError::MalformedField {
            field: "content-digest",
            reason: e.to_string(),
        })?;
    // Per known algorithm: where it first appeared and its last value.
    let mut members: [Option<Member<'_>>; 2] = [None, None];
    let algorithms = [DigestAlgorithm::Sha256, DigestAlgorithm::Sha512];
    for (index, (key, value)) in found.members.iter().enumerate() {
        for (slot, alg) in members.iter_mut().zip(algorithms) {
            if *key == alg.as_str() {
                let first = slot.as_ref().map_or(index, |(first, _, _)| *first);
                *slot = Some((first, alg, value.as_deref()));
            }
        }
    }
    // Report in the order the field lists them.
    members.sort_by_key(|f| f.as_ref().map_or(usize::MAX, |(first, _, _)| *first));
    let mut checked = DigestsChecked::NONE;
    for (_, alg, expected) in members.into_iter().flatten() {
        let expected = expected.ok_or_else(|| HttpSigError::MalformedField {
            field: "content-digest",
            reason: format!("member `{}` is not a byte sequence", alg.as_str()),
        })?;
        match (alg, &sha256) {
            (DigestAlgorithm::Sha256, Some(d)) => compare_digest(alg, d.as_ref(), expected)?,
            _ => compare(alg, expected, body)?,
        }
        checked.push(alg);
    }
    if checked.len == 0 {
        return Err(HttpSigError::NoKnownDigest);
    }
    Ok(checked)
}

/// `sha-256=:` + 44 base64 characters + `:`.
const CANONICAL_SHA256_LEN: usize = 9 + 44 + 1;

/// The canonical Content-Digest field for one SHA-256 digest, built on the
/// stack (what [`content_digest`] writes for `[Sha256]`).
fn canonical_sha256(digest: &[u8]) -> [u8; CANONICAL_SHA256_LEN] {
    use base64::Engine as _;
    let mut out = [b':'; CANONICAL_SHA256_LEN];
    let (head, rest) = out.split_at_mut(9);
    head.copy_from_slice(b"sha-256=:");
    if let Some(b64) = rest.get_mut(..44) {
        // 32 bytes are exactly 44 characters: this cannot fail; if it did,
        // the text would not compare equal and the general path would run.
        let _ = base64::engine::general_purpose::STANDARD.encode_slice(digest, b64);
    }
    out
}

/// A known algorithm's member: where it first appeared, the algorithm and
/// its last value (`None` when that is not a byte sequence).
type Member<'a> = (usize, DigestAlgorithm, Option<&'a [u8]>);

/// Compares the digest of `body` with `expected`.
fn compare(alg: DigestAlgorithm, expected: &[u8], body: &[u8]) -> Result<(), HttpSigError> {
    compare_digest(
        alg,
        ring::digest::digest(alg.ring(), body).as_ref(),
        expected,
    )
}

/// Compares a computed digest with the field's.
fn compare_digest(
    alg: DigestAlgorithm,
    actual: &[u8],
    expected: &[u8],
) -> Result<(), HttpSigError> {
    // Digests of the content are not secrets: a plain comparison is fine.
    if actual != expected {
        return Err(HttpSigError::DigestMismatch {
            algorithm: alg.as_str(),
        });
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn canonical_sha256_is_what_content_digest_writes() {
        for body in [&b""[..], b"x", br#"{"hello": "world"}"#, &[0xff; 1000]] {
            let digest = ring::digest::digest(&ring::digest::SHA256, body);
            let field = content_digest(body, &[DigestAlgorithm::Sha256]);
            assert_eq!(
                canonical_sha256(digest.as_ref()).as_slice(),
                field.as_bytes()
            );
            assert_eq!(field.len(), CANONICAL_SHA256_LEN);
        }
    }

    #[test]
    fn canonical_shaped_field_of_another_body_is_refused() {
        let other = content_digest(b"other", &[DigestAlgorithm::Sha256]);
        assert!(matches!(
            check_text(&other, b"body"),
            Err(HttpSigError::DigestMismatch {
                algorithm: "sha-256"
            })
        ));
        // Same length and prefix, not valid sf-binary: sfv's error.
        let bad = format!("sha-256=:{}:", "!".repeat(44));
        assert!(matches!(
            check_text(&bad, b"body"),
            Err(HttpSigError::MalformedField { .. })
        ));
    }

    #[test]
    fn members_are_read_as_rfc_9651_says() {
        let body = b"{\"hello\": \"world\"}";
        let good = content_digest(body, &[DigestAlgorithm::Sha256]);
        let good512 = content_digest(body, &[DigestAlgorithm::Sha512]);
        let b64 = good.trim_start_matches("sha-256=:").trim_end_matches(':');
        let ok = |t: &str| check_text(t, body).map(|c| c.as_slice().to_vec());
        assert_eq!(ok(&good).unwrap(), [DigestAlgorithm::Sha256]);
        assert_eq!(
            ok(&format!("{good512}, {good}")).unwrap(),
            [DigestAlgorithm::Sha512, DigestAlgorithm::Sha256]
        );
        // Lenient padding (RFC 9651 §4.2.7), parameters ignored.
        assert!(ok(&format!("sha-256=:{}:;p", b64.trim_end_matches('='))).is_ok());
        // Last value wins, at the first position.
        assert!(ok(&format!("sha-256=:AAAA:, md5=:AA==:, sha-256=:{b64}:")).is_ok());
        assert!(ok(&format!("sha-256=:{b64}:, sha-256=:AAAA:")).is_err());
        assert!(matches!(
            check_text(&format!("md5=:{b64}:"), body),
            Err(HttpSigError::NoKnownDigest)
        ));
        for bad in [
            "sha-256=1",
            "sha-256=(:AA==:)",
            "sha-256=:A:",
            "sha-256=:AA==:,",
        ] {
            assert!(ok(bad).is_err(), "{bad}");
        }
    }
}
