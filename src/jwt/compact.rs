//! JWS Compact Serialization (RFC 7515 §7.1): exactly three segments of
//! strict base64url (RFC 7515 §2: no padding, no whitespace, no characters
//! outside the URL-safe alphabet, no non-zero trailing bits).

use super::error::{JwtError, Part};
use crate::jose::b64;

/// The three segments of a compact JWS, still encoded.
#[derive(Debug, Clone, Copy)]
pub struct Segments<'t> {
    /// `BASE64URL(UTF8(JWS Protected Header))`.
    pub header: &'t str,
    /// `BASE64URL(JWS Payload)`.
    pub payload: &'t str,
    /// `BASE64URL(JWS Signature)`.
    pub signature: &'t str,
    /// `header '.' payload`: the JWS Signing Input.
    pub signing_input: &'t str,
}

/// Splits a compact JWS into its three segments, enforcing `max_len`.
///
/// Only the first and the last dot are looked for here (a short scan of
/// the header and the signature); a dot inside the payload, which would
/// make more than three segments, is found by
/// [`Segments::decode_payload`], whose strict base64url pass reads every
/// payload byte anyway. Callers decode the payload right after splitting,
/// so that a token with extra segments is still refused before anything
/// else is read.
///
/// # Errors
/// [`JwtError::TooLarge`] over the limit; [`JwtError::Malformed`] for
/// fewer than three segments (JSON serialization has one) or an empty
/// header.
pub fn split(token: &str, max_len: usize) -> Result<Segments<'_>, JwtError> {
    if token.len() > max_len {
        return Err(JwtError::TooLarge {
            len: token.len(),
            max: max_len,
        });
    }
    let first = token.find('.');
    let last = token.rfind('.');
    let (Some(first), Some(last)) = (first, last) else {
        return Err(segment_count(token));
    };
    if first == last {
        return Err(segment_count(token));
    }
    let header = token.get(..first).unwrap_or_default();
    let payload = token.get(first.saturating_add(1)..last).unwrap_or_default();
    let signature = token.get(last.saturating_add(1)..).unwrap_or_default();
    let signing_input = token.get(..last).unwrap_or_default();
    if header.is_empty() {
        return Err(JwtError::malformed(Part::Header, "header segment is empty"));
    }
    Ok(Segments {
        header,
        payload,
        signature,
        signing_input,
    })
}

/// The error for a token that is not three dot-separated segments.
fn segment_count(token: &str) -> JwtError {
    segments_found(
        token
            .bytes()
            .filter(|&b| b == b'.')
            .count()
            .saturating_add(1),
    )
}

fn segments_found(n: usize) -> JwtError {
    JwtError::malformed(
        Part::Token,
        format!("expected 3 dot-separated segments (compact serialization), found {n}"),
    )
}

impl Segments<'_> {
    /// Decodes the payload segment. A dot in it (a token of more than
    /// three segments, such as a JWE) is reported as such, with
    /// [`Part::Token`]; any other decoding error names the claims.
    ///
    /// # Errors
    /// [`JwtError::Malformed`] as above.
    pub fn decode_payload(&self) -> Result<Vec<u8>, JwtError> {
        decode_vec(self.payload, Part::Claims).map_err(|e| self.payload_error(e))
    }

    /// [`decode_payload`](Self::decode_payload) into `out` (which must hold
    /// the payload's decoded length: three bytes for every four base64url
    /// characters, rounded down), returning the decoded length.
    ///
    /// # Errors
    /// As [`decode_payload`](Self::decode_payload).
    pub fn decode_payload_into(&self, out: &mut [u8]) -> Result<usize, JwtError> {
        decode_into(self.payload, out, Part::Claims).map_err(|e| self.payload_error(e))
    }

    #[cold]
    fn payload_error(&self, e: JwtError) -> JwtError {
        if self.payload.contains('.') {
            // The signing input's dots, plus the one before the signature.
            let dots = self.signing_input.bytes().filter(|&b| b == b'.').count();
            segments_found(dots.saturating_add(2))
        } else {
            e
        }
    }
}

pub(crate) use crate::jose::b64::decoded_len;

/// Decodes a strict base64url segment into `out`, returning the decoded
/// length.
///
/// # Errors
/// [`JwtError::Malformed`] naming `part` for padding, characters outside the
/// URL-safe alphabet (including whitespace), an impossible length, non-zero
/// trailing bits, or a result that does not fit `out`.
pub fn decode_into(segment: &str, out: &mut [u8], part: Part) -> Result<usize, JwtError> {
    b64::decode_into(segment, out).map_err(|e| JwtError::malformed(part, e.to_string()))
}

/// Decodes a strict base64url segment into a new vector.
///
/// # Errors
/// As [`decode_into`].
pub fn decode_vec(segment: &str, part: Part) -> Result<Vec<u8>, JwtError> {
    b64::decode_vec(segment).map_err(|e| JwtError::malformed(part, e.to_string()))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn strict_base64url() {
        let mut buf = [0u8; 16];
        assert_eq!(decode_into("Zm9v", &mut buf, Part::Claims).unwrap(), 3);
        assert!(decode_into("Zm9v\n", &mut buf, Part::Claims).is_err());
        assert!(decode_into("Zg==", &mut buf, Part::Claims).is_err());
        assert!(decode_into("Zh", &mut buf, Part::Claims).is_err()); // trailing bits
        assert!(decode_into("Z+8", &mut buf, Part::Claims).is_err());
        assert!(decode_into("Z/8", &mut buf, Part::Claims).is_err());
        assert!(decode_into("Z", &mut buf, Part::Claims).is_err());
        assert_eq!(decode_into("", &mut buf, Part::Claims).unwrap(), 0);
        assert!(decode_into("Zm9vZm9vZm9v", &mut buf[..8], Part::Claims).is_err());
        assert_eq!(
            decode_into("Zm9vZm9vZm9v", &mut buf[..9], Part::Claims).unwrap(),
            9
        );
    }

    /// The hand-written decoder agrees with the base64 crate's strict
    /// engine on every input: same bytes when both accept, both refuse
    /// otherwise (including invalid characters in every position of the
    /// 8- and 4-character blocks and the tail).
    #[test]
    fn agrees_with_base64_crate() {
        use base64::Engine as _;
        use base64::engine::general_purpose::URL_SAFE_NO_PAD;
        let alphabet = b"AZaz09-_=+/ .\0\xff";
        let mut buf = [0u8; 64];
        for len in 0..=19usize {
            for pos in 0..len.max(1) {
                for &bad in alphabet.iter() {
                    for &fill in b"AQgw_-" {
                        let mut s = vec![fill; len];
                        if let Some(c) = s.get_mut(pos) {
                            *c = bad;
                        }
                        let Ok(s) = String::from_utf8(s) else {
                            continue;
                        };
                        let ours = decode_into(&s, &mut buf, Part::Claims)
                            .ok()
                            .map(|n| buf[..n].to_vec());
                        let theirs = URL_SAFE_NO_PAD.decode(&s).ok();
                        assert_eq!(ours, theirs, "{s:?}");
                    }
                }
            }
        }
    }

    #[test]
    fn three_segments() {
        assert!(split("a.b.c", 100).is_ok());
        assert!(split("a.b", 100).is_err());
        // Extra segments surface when the payload is decoded.
        for token in ["a.b.c.d", "a.b.c.d.e", "eyJ9.AAAA.AAAA.AAAA.x"] {
            let seg = split(token, 100).unwrap();
            let err = seg.decode_payload().unwrap_err();
            let found = token.split('.').count();
            assert!(
                matches!(&err, JwtError::Malformed { part: Part::Token, reason }
                    if reason.ends_with(&format!("found {found}"))),
                "{token}: {err:?}"
            );
        }
        assert!(split("a.b.c", 100).unwrap().decode_payload().is_err());
        assert_eq!(
            split("a.AAAA.c", 100).unwrap().decode_payload().unwrap(),
            [0, 0, 0]
        );
        assert!(split(".b.c", 100).is_err());
        assert!(matches!(split("a.b.c", 2), Err(JwtError::TooLarge { .. })));
    }
}
