//! The origin's way of reading paths ([`PathProfile`]): trailing dots and
//! spaces stripped, case folded, applied alike to request paths and to the
//! literal segments of path patterns, so that deny and allow rules both
//! meet every spelling the origin treats as one path.

use std::borrow::Cow;

use super::document::{PathCase, PathProfile};
use super::pattern::{encoded_parts_ok, is_dot_segment, is_unreserved, path_body, push_encoded};
use crate::text::hex_value;

/// Reads a normalised path the way the origin described by `profile` does
/// (see [`PathProfile`]): each segment loses its trailing dots and spaces
/// as configured, and is case-folded when the origin is case-insensitive.
/// A segment that becomes empty or a dot segment is refused: the origin
/// would resolve it to a parent or the same directory.
pub(crate) fn apply_profile<'a>(
    path: Cow<'a, str>,
    profile: &PathProfile,
    max_len: usize,
) -> Result<Cow<'a, str>, String> {
    if profile.is_default() {
        return Ok(path);
    }
    let mut out = String::with_capacity(path.len().saturating_add(1));
    for seg in path_body(&path).split('/') {
        out.push('/');
        profile_segment(seg, profile, &mut out)
            .map_err(|why| format!("path `{}` {why}", super::clip(&path)))?;
    }
    // A few characters fold to a longer encoding (`Ⱥ` to `ⱥ`).
    if out.len() > max_len {
        return Err(format!(
            "path is {} bytes once case-folded, over the limit of {max_len}",
            out.len()
        ));
    }
    Ok(Cow::Owned(out))
}

/// One segment of a normalised path through `profile`, appended to `out`.
fn profile_segment(seg: &str, profile: &PathProfile, out: &mut String) -> Result<(), String> {
    let mut rest = seg;
    loop {
        if profile.strip_trailing_dots
            && let Some(r) = rest.strip_suffix('.')
        {
            rest = r;
        } else if profile.strip_trailing_spaces
            && let Some(r) = rest.strip_suffix("%20")
        {
            rest = r;
        } else {
            break;
        }
    }
    // Stripping can make what the request path checks refuse: `a%2F.`
    // becomes `a%2F`, an empty part behind an encoded slash.
    if rest.is_empty() && !seg.is_empty() || is_dot_segment(rest) || !encoded_parts_ok(rest) {
        return Err(format!(
            "has a segment that is empty, a dot segment or ends in an encoded separator once trailing dots and spaces are stripped (`{}`)",
            super::clip(seg)
        ));
    }
    match profile.case {
        PathCase::Insensitive => fold_segment(rest, out),
        _ => out.push_str(rest),
    }
    Ok(())
}

/// Case-folds a normalised segment: ASCII letters to lower case, and
/// percent-encoded UTF-8 by each character's simple upper- then lower-case
/// mapping (so `ı`, `ſ` and the Kelvin sign fold to `i`, `s` and `k`, as an
/// upper-casing comparison equates them). Folded ASCII is written as is,
/// everything else re-encoded; bytes that are not UTF-8 are kept.
fn fold_segment(seg: &str, out: &mut String) {
    let bytes = seg.as_bytes();
    let mut i = 0;
    let mut run = Vec::new();
    while let Some(&b) = bytes.get(i) {
        if b != b'%' {
            out.push(char::from(b.to_ascii_lowercase()));
            i += 1;
            continue;
        }
        run.clear();
        while bytes.get(i) == Some(&b'%') {
            let hi = bytes.get(i + 1).copied().and_then(hex_value);
            let lo = bytes.get(i + 2).copied().and_then(hex_value);
            let (Some(hi), Some(lo)) = (hi, lo) else {
                break;
            };
            run.push(hi * 16 + lo);
            i += 3;
        }
        if run.is_empty() {
            // Not reached on a normalised path; keep the byte, never loop.
            out.push('%');
            i += 1;
            continue;
        }
        for chunk in run.utf8_chunks() {
            for c in chunk.valid().chars() {
                let folded = fold_char(c);
                if folded.is_ascii() && is_unreserved(folded as u8) {
                    out.push(folded);
                } else {
                    let mut buf = [0u8; 4];
                    for &b in folded.encode_utf8(&mut buf).as_bytes() {
                        push_encoded(out, b);
                    }
                }
            }
            for &b in chunk.invalid() {
                push_encoded(out, b);
            }
        }
    }
}

fn fold_char(c: char) -> char {
    if c.is_ascii() {
        return c.to_ascii_lowercase();
    }
    let upper = single_char(c.to_uppercase()).unwrap_or(c);
    single_char(upper.to_lowercase()).unwrap_or(upper)
}

/// The only character of a case mapping; `None` when it maps to several
/// (`ß` to `SS`), where the simple mapping keeps the character.
fn single_char(mut mapping: impl Iterator<Item = char>) -> Option<char> {
    let first = mapping.next()?;
    mapping.next().is_none().then_some(first)
}
