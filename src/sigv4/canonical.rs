//! The SigV4 canonical request and string to sign (AWS SigV4 "Create a
//! canonical request" / "Create a string to sign"): URI path normalisation
//! and encoding, canonical query string, canonical headers. Shared by the
//! signer and the verifier so both canonicalise byte for byte alike.

use std::borrow::Cow;

use http::{HeaderMap, HeaderName};
use ring::digest;

pub(crate) const ALGORITHM: &str = "AWS4-HMAC-SHA256";
pub(crate) const TERMINATOR: &str = "aws4_request";
pub(crate) const UNSIGNED_PAYLOAD: &str = "UNSIGNED-PAYLOAD";

/// RFC 3986 unreserved characters: the only bytes SigV4 leaves unencoded.
fn is_unreserved(b: u8) -> bool {
    b.is_ascii_alphanumeric() || matches!(b, b'-' | b'.' | b'_' | b'~')
}

fn hex_upper(n: u8) -> u8 {
    if n < 10 { b'0' + n } else { b'A' + (n - 10) }
}

fn hex_lower(n: u8) -> u8 {
    if n < 10 { b'0' + n } else { b'a' + (n - 10) }
}

/// Lowercase hex, as SigV4 writes hashes and signatures.
pub(crate) fn hex(bytes: &[u8]) -> String {
    let mut v = Vec::with_capacity(bytes.len() * 2);
    for &b in bytes {
        v.extend_from_slice(&[hex_lower(b >> 4), hex_lower(b & 0x0f)]);
    }
    // Always ASCII; the fallback is unreachable.
    String::from_utf8(v).unwrap_or_default()
}

/// Decodes exactly 64 lowercase hex digits into 32 bytes.
pub(crate) fn decode_hex32(s: &str) -> Option<[u8; 32]> {
    fn nibble(c: u8) -> Option<u8> {
        match c {
            b'0'..=b'9' => Some(c - b'0'),
            b'a'..=b'f' => Some(c - b'a' + 10),
            _ => None,
        }
    }
    if s.len() != 64 {
        return None;
    }
    let mut out = [0u8; 32];
    for (o, pair) in out.iter_mut().zip(s.as_bytes().chunks_exact(2)) {
        let (hi, lo) = match pair {
            [hi, lo] => (*hi, *lo),
            _ => return None,
        };
        *o = (nibble(hi)? << 4) | nibble(lo)?;
    }
    Some(out)
}

pub(crate) fn sha256_hex(data: &[u8]) -> String {
    hex(digest::digest(&digest::SHA256, data).as_ref())
}

/// Percent-encodes everything but unreserved bytes (and `/` when
/// `keep_slash`), with uppercase hex as SigV4 requires.
pub(crate) fn encode_into(out: &mut Vec<u8>, input: &[u8], keep_slash: bool) {
    for &b in input {
        if is_unreserved(b) || (keep_slash && b == b'/') {
            out.push(b);
        } else {
            out.extend_from_slice(&[b'%', hex_upper(b >> 4), hex_upper(b & 0x0f)]);
        }
    }
}

/// Percent-decodes; `+` becomes a space when `plus_is_space` (query strings,
/// as `application/x-www-form-urlencoded` and the AWS SDKs read them). A `%`
/// not followed by two hex digits is kept literally.
pub(crate) fn percent_decode(input: &[u8], plus_is_space: bool) -> Cow<'_, [u8]> {
    if !input
        .iter()
        .any(|&b| b == b'%' || (plus_is_space && b == b'+'))
    {
        return Cow::Borrowed(input);
    }
    fn val(c: u8) -> Option<u8> {
        (c as char).to_digit(16).and_then(|d| u8::try_from(d).ok())
    }
    let mut out = Vec::with_capacity(input.len());
    let mut iter = input.iter().copied().enumerate();
    while let Some((i, b)) = iter.next() {
        match b {
            b'%' => {
                let hi = input.get(i + 1).copied().and_then(val);
                let lo = input.get(i + 2).copied().and_then(val);
                match (hi, lo) {
                    (Some(hi), Some(lo)) => {
                        out.push((hi << 4) | lo);
                        iter.next();
                        iter.next();
                    }
                    _ => out.push(b'%'),
                }
            }
            b'+' if plus_is_space => out.push(b' '),
            _ => out.push(b),
        }
    }
    Cow::Owned(out)
}

/// RFC 3986 §5.2.4 dot-segment removal as the AWS SDKs apply it: also merges
/// empty segments (`//`) and keeps a trailing slash.
pub(crate) fn normalize_path(path: &str) -> Cow<'_, str> {
    let path: Cow<'_, str> = if path.starts_with('/') {
        Cow::Borrowed(path)
    } else {
        Cow::Owned(format!("/{path}"))
    };
    if !(path.contains('.') || path.contains("//")) {
        return path;
    }
    let mut segments: Vec<&str> = Vec::new();
    for segment in path.split('/') {
        match segment {
            "" | "." => {}
            ".." => {
                segments.pop();
            }
            other => segments.push(other),
        }
    }
    let mut out = String::with_capacity(path.len());
    for segment in &segments {
        out.push('/');
        out.push_str(segment);
    }
    let ends_with_slash = ["/", "/.", "/./", "/..", "/../"]
        .iter()
        .any(|s| path.ends_with(s));
    if out.is_empty() || (ends_with_slash && !out.ends_with('/')) {
        out.push('/');
    }
    Cow::Owned(out)
}

/// The canonical URI. `path` is the path as sent on the wire (already
/// percent-encoded once).
///
/// Double encoding (every service but S3) encodes the wire path again, as
/// the services that check it do not decode it first. Single encoding (S3)
/// is the object key encoded once: each segment is decoded and re-encoded
/// with the SigV4 rules, which is what S3 recomputes on its side, so a
/// literal `=` or `:` in the wire path signs as `%3D` / `%3A` there too.
pub(crate) fn append_canonical_path(out: &mut Vec<u8>, path: &str, normalize: bool, double: bool) {
    let path = if path.is_empty() { "/" } else { path };
    let path = if normalize {
        normalize_path(path)
    } else {
        Cow::Borrowed(path)
    };
    if double {
        encode_into(out, path.as_bytes(), true);
    } else {
        for (i, segment) in path.split('/').enumerate() {
            if i > 0 {
                out.push(b'/');
            }
            encode_into(out, &percent_decode(segment.as_bytes(), false), false);
        }
    }
}

/// Decoded `(name, value)` pairs of a raw query string, in order. Empty
/// pieces (`a=1&&b=2`) are skipped; a piece without `=` has an empty value.
/// Decoded query `(name, value)` pairs, borrowing from the URI when nothing
/// needed decoding.
pub(crate) type QueryPairs<'a> = Vec<(Cow<'a, [u8]>, Cow<'a, [u8]>)>;

pub(crate) fn parse_query(query: &str) -> QueryPairs<'_> {
    query
        .split('&')
        .filter(|piece| !piece.is_empty())
        .map(|piece| {
            let (k, v) = piece.split_once('=').unwrap_or((piece, ""));
            (
                percent_decode(k.as_bytes(), true),
                percent_decode(v.as_bytes(), true),
            )
        })
        .collect()
}

/// The canonical query string: each decoded name and value encoded with the
/// SigV4 rules, sorted by encoded name then encoded value, joined by `&`.
pub(crate) fn canonical_query<'a>(pairs: impl Iterator<Item = (&'a [u8], &'a [u8])>) -> Vec<u8> {
    let mut encoded: Vec<(Vec<u8>, Vec<u8>)> = pairs
        .map(|(k, v)| {
            let mut ek = Vec::with_capacity(k.len());
            encode_into(&mut ek, k, false);
            let mut ev = Vec::with_capacity(v.len());
            encode_into(&mut ev, v, false);
            (ek, ev)
        })
        .collect();
    encoded.sort_unstable();
    let mut out = Vec::new();
    for (i, (k, v)) in encoded.iter().enumerate() {
        if i > 0 {
            out.push(b'&');
        }
        out.extend_from_slice(k);
        out.push(b'=');
        out.extend_from_slice(v);
    }
    out
}

/// Appends a header value with leading/trailing spaces removed and runs of
/// spaces collapsed to one. Only SP (0x20), as the AWS SDKs and S3 do: tabs
/// and other whitespace are kept.
pub(crate) fn append_trimmed(out: &mut Vec<u8>, value: &[u8]) {
    let start = value.iter().position(|&b| b != b' ').unwrap_or(value.len());
    let end = value
        .iter()
        .rposition(|&b| b != b' ')
        .map_or(start, |p| p + 1);
    let mut prev_space = false;
    for &b in value.get(start..end).unwrap_or_default() {
        let space = b == b' ';
        if !(space && prev_space) {
            out.push(b);
        }
        prev_space = space;
    }
}

/// Where a canonical header's value comes from.
#[derive(Debug, Clone, Copy)]
pub(crate) enum HeaderSource<'a> {
    /// Every value of this name in the request, in order, joined by `,`.
    Request(&'a HeaderName),
    /// A value the signer adds (or the URI authority standing in for `host`).
    Value(&'a [u8]),
}

/// One line of the canonical headers block.
#[derive(Debug, Clone, Copy)]
pub(crate) struct CanonicalHeader<'a> {
    pub(crate) name: &'a str,
    pub(crate) source: HeaderSource<'a>,
}

/// `host` for a request without a `Host` header: the URI authority, without
/// the port when it is the scheme's default (as HTTP clients send it).
pub(crate) fn host_from_uri(uri: &http::Uri) -> Option<String> {
    let authority = uri.authority()?;
    let host = authority.host();
    match (uri.scheme_str(), authority.port_u16()) {
        (Some("http"), Some(80)) | (Some("https"), Some(443)) | (_, None) => Some(host.to_owned()),
        _ => Some(
            authority
                .as_str()
                .rsplit('@')
                .next()
                .unwrap_or(host)
                .to_owned(),
        ),
    }
}

/// Inputs of a canonical request beyond the request itself.
pub(crate) struct CanonicalParts<'a> {
    pub(crate) method: &'a str,
    pub(crate) path: &'a str,
    pub(crate) normalize: bool,
    pub(crate) double_encode: bool,
    pub(crate) query: &'a [u8],
    /// Sorted by name, names unique.
    pub(crate) headers: &'a [CanonicalHeader<'a>],
    pub(crate) signed_headers: &'a str,
    pub(crate) payload_hash: &'a str,
}

/// Writes the canonical request.
pub(crate) fn canonical_request(parts: &CanonicalParts<'_>, map: &HeaderMap) -> Vec<u8> {
    let mut out = Vec::with_capacity(640 + 3 * parts.path.len() + parts.query.len());
    out.extend_from_slice(parts.method.as_bytes());
    out.push(b'\n');
    append_canonical_path(&mut out, parts.path, parts.normalize, parts.double_encode);
    out.push(b'\n');
    out.extend_from_slice(parts.query);
    out.push(b'\n');
    for header in parts.headers {
        out.extend_from_slice(header.name.as_bytes());
        out.push(b':');
        match header.source {
            HeaderSource::Value(v) => append_trimmed(&mut out, v),
            HeaderSource::Request(name) => append_values(&mut out, map.get_all(name)),
        }
        out.push(b'\n');
    }
    out.push(b'\n');
    out.extend_from_slice(parts.signed_headers.as_bytes());
    out.push(b'\n');
    out.extend_from_slice(parts.payload_hash.as_bytes());
    out
}

fn append_values(out: &mut Vec<u8>, values: http::header::GetAll<'_, http::HeaderValue>) {
    for (i, v) in values.iter().enumerate() {
        if i > 0 {
            out.push(b',');
        }
        append_trimmed(out, v.as_bytes());
    }
}

/// The string to sign: algorithm, timestamp, scope, hash of the canonical request.
pub(crate) fn string_to_sign(amz_date: &str, scope: &str, canonical_request: &[u8]) -> String {
    let digest = digest::digest(&digest::SHA256, canonical_request);
    let mut s = String::with_capacity(ALGORITHM.len() + amz_date.len() + scope.len() + 67);
    s.push_str(ALGORITHM);
    s.push('\n');
    s.push_str(amz_date);
    s.push('\n');
    s.push_str(scope);
    s.push('\n');
    s.push_str(&hex(digest.as_ref()));
    s
}

/// Replaces the canonical request in `buf` with the string to sign, reusing
/// its allocation (the verifier needs the text only to MAC it).
pub(crate) fn canonical_request_into_string_to_sign(
    buf: &mut Vec<u8>,
    amz_date: &str,
    scope: &str,
) {
    let digest = digest::digest(&digest::SHA256, buf);
    buf.clear();
    buf.extend_from_slice(ALGORITHM.as_bytes());
    buf.push(b'\n');
    buf.extend_from_slice(amz_date.as_bytes());
    buf.push(b'\n');
    buf.extend_from_slice(scope.as_bytes());
    buf.push(b'\n');
    for &b in digest.as_ref() {
        buf.extend_from_slice(&[hex_lower(b >> 4), hex_lower(b & 0x0f)]);
    }
}

/// `YYYYMMDDTHHMMSSZ` for a time (converted to UTC).
pub(crate) fn format_amz_date(t: time::OffsetDateTime) -> Option<String> {
    let t = t.to_offset(time::UtcOffset::UTC);
    let year = t.year();
    if !(0..=9999).contains(&year) {
        return None;
    }
    Some(format!(
        "{year:04}{:02}{:02}T{:02}{:02}{:02}Z",
        u8::from(t.month()),
        t.day(),
        t.hour(),
        t.minute(),
        t.second()
    ))
}

/// Parses `YYYYMMDDTHHMMSSZ`, strictly.
pub(crate) fn parse_amz_date(s: &str) -> Option<time::OffsetDateTime> {
    let b = s.as_bytes();
    if b.len() != 16 || b.get(8) != Some(&b'T') || b.get(15) != Some(&b'Z') {
        return None;
    }
    let num = |range: std::ops::Range<usize>| -> Option<u32> {
        let digits = b.get(range)?;
        if !digits.iter().all(u8::is_ascii_digit) {
            return None;
        }
        std::str::from_utf8(digits).ok()?.parse().ok()
    };
    let date = time::Date::from_calendar_date(
        i32::try_from(num(0..4)?).ok()?,
        time::Month::try_from(u8::try_from(num(4..6)?).ok()?).ok()?,
        u8::try_from(num(6..8)?).ok()?,
    )
    .ok()?;
    let t = time::Time::from_hms(
        u8::try_from(num(9..11)?).ok()?,
        u8::try_from(num(11..13)?).ok()?,
        u8::try_from(num(13..15)?).ok()?,
    )
    .ok()?;
    Some(time::PrimitiveDateTime::new(date, t).assume_utc())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn path(p: &str, normalize: bool, double: bool) -> String {
        let mut out = Vec::new();
        append_canonical_path(&mut out, p, normalize, double);
        String::from_utf8(out).unwrap()
    }

    #[test]
    fn paths() {
        assert_eq!(path("/a/b/../c/./d", true, true), "/a/c/d");
        assert_eq!(path("//foo//", true, true), "/foo/");
        assert_eq!(path("/foo/bar/..", true, true), "/foo/");
        assert_eq!(path("/../", true, true), "/");
        assert_eq!(path("", true, true), "/");
        assert_eq!(path("/a%3Ab", true, true), "/a%253Ab");
        assert_eq!(path("/a%3Ab", false, false), "/a%3Ab");
        assert_eq!(path("/a:b=c/%2F", false, false), "/a%3Ab%3Dc/%2F");
        assert_eq!(path("//x//", false, false), "//x//");
    }

    #[test]
    fn in_place_string_to_sign_matches_string_to_sign() {
        let creq = b"GET\n/\n\nhost:example.amazonaws.com\n\nhost\nUNSIGNED-PAYLOAD".to_vec();
        let (date, scope) = (
            "20150830T123600Z",
            "20150830/us-east-1/service/aws4_request",
        );
        let expected = string_to_sign(date, scope, &creq);
        let mut buf = creq;
        canonical_request_into_string_to_sign(&mut buf, date, scope);
        assert_eq!(buf, expected.as_bytes());
    }

    #[test]
    fn queries() {
        let q = |s: &str| {
            let pairs = parse_query(s);
            String::from_utf8(canonical_query(
                pairs.iter().map(|(k, v)| (k.as_ref(), v.as_ref())),
            ))
            .unwrap()
        };
        assert_eq!(
            q("list-type=2&prefix=~objprefix&single&k=&unreserved=-_.~"),
            "k=&list-type=2&prefix=~objprefix&single=&unreserved=-_.~"
        );
        assert_eq!(q("b=2&a=2&a=1&&c"), "a=1&a=2&b=2&c=");
        assert_eq!(q("a=x+y%2By%zz"), "a=x%20y%2By%25zz");
    }

    #[test]
    fn trims() {
        let t = |s: &str| {
            let mut out = Vec::new();
            append_trimmed(&mut out, s.as_bytes());
            String::from_utf8(out).unwrap()
        };
        assert_eq!(t("  Some  example   text  "), "Some example text");
        assert_eq!(t("   "), "");
        assert_eq!(t("\ta  b\t"), "\ta b\t");
    }

    #[test]
    fn dates() {
        let t = parse_amz_date("20150830T123600Z").unwrap();
        assert_eq!(format_amz_date(t).unwrap(), "20150830T123600Z");
        assert!(parse_amz_date("20150830T123600").is_none());
        assert!(parse_amz_date("20151330T123600Z").is_none());
        assert!(parse_amz_date("2015083OT123600Z").is_none());
    }

    #[test]
    fn hex_round_trip() {
        let h = sha256_hex(b"");
        assert_eq!(
            h,
            "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855"
        );
        assert_eq!(hex(&decode_hex32(&h).unwrap()), h);
        assert!(decode_hex32(&h.to_uppercase()).is_none());
    }
}
