//! JWS Compact Serialization (RFC 7515 §7.1): exactly three segments of
//! strict base64url (RFC 7515 §2: no padding, no whitespace, no characters
//! outside the URL-safe alphabet, no non-zero trailing bits).

use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;

use super::error::{JwtError, Part};

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
/// # Errors
/// [`JwtError::TooLarge`] over the limit; [`JwtError::Malformed`] for any
/// other number of segments than three (JWE has five, JSON serialization
/// has none), or an empty header.
pub fn split(token: &str, max_len: usize) -> Result<Segments<'_>, JwtError> {
    if token.len() > max_len {
        return Err(JwtError::TooLarge {
            len: token.len(),
            max: max_len,
        });
    }
    let mut dots = token.match_indices('.').map(|(i, _)| i);
    let (Some(first), Some(second), None) = (dots.next(), dots.next(), dots.next()) else {
        let n = token
            .bytes()
            .filter(|&b| b == b'.')
            .count()
            .saturating_add(1);
        return Err(JwtError::malformed(
            Part::Token,
            format!("expected 3 dot-separated segments (compact serialization), found {n}"),
        ));
    };
    let header = token.get(..first).unwrap_or_default();
    let payload = token
        .get(first.saturating_add(1)..second)
        .unwrap_or_default();
    let signature = token.get(second.saturating_add(1)..).unwrap_or_default();
    let signing_input = token.get(..second).unwrap_or_default();
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

/// The number of bytes a strict base64url segment of `len` characters
/// decodes to, or `None` when no canonical encoding has that length.
pub(crate) fn decoded_len(len: usize) -> Option<usize> {
    let full = (len / 4).checked_mul(3)?;
    match len % 4 {
        0 => Some(full),
        2 => full.checked_add(1),
        3 => full.checked_add(2),
        _ => None,
    }
}

/// Decodes a strict base64url segment into `out`, returning the decoded
/// length.
///
/// # Errors
/// [`JwtError::Malformed`] naming `part` for padding, characters outside the
/// URL-safe alphabet (including whitespace), an impossible length, non-zero
/// trailing bits, or a result that does not fit `out`.
pub fn decode_into(segment: &str, out: &mut [u8], part: Part) -> Result<usize, JwtError> {
    let need = decoded_len(segment.len())
        .ok_or_else(|| JwtError::malformed(part, "base64url length is impossible"))?;
    if need > out.len() {
        return Err(JwtError::malformed(
            part,
            format!(
                "decodes to {need} bytes, more than the limit of {}",
                out.len()
            ),
        ));
    }
    URL_SAFE_NO_PAD
        .decode_slice(segment.as_bytes(), out)
        .map_err(|e| JwtError::malformed(part, format!("not canonical base64url: {e}")))
}

/// Decodes a strict base64url segment into a new vector.
///
/// # Errors
/// As [`decode_into`].
pub fn decode_vec(segment: &str, part: Part) -> Result<Vec<u8>, JwtError> {
    let need = decoded_len(segment.len())
        .ok_or_else(|| JwtError::malformed(part, "base64url length is impossible"))?;
    // The engine wants room for its own (rounded-up) estimate.
    let mut out = vec![0u8; need.saturating_add(3)];
    let n = decode_into(segment, &mut out, part)?;
    out.truncate(n);
    Ok(out)
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
    }

    #[test]
    fn three_segments() {
        assert!(split("a.b.c", 100).is_ok());
        assert!(split("a.b", 100).is_err());
        assert!(split("a.b.c.d", 100).is_err());
        assert!(split("a.b.c.d.e", 100).is_err());
        assert!(split(".b.c", 100).is_err());
        assert!(matches!(split("a.b.c", 2), Err(JwtError::TooLarge { .. })));
    }
}
