//! Small text helpers shared by the parsers: RFC 9110 token characters, hex
//! digits, and making wire values safe to quote in error and audit text.

/// `tchar` (RFC 9110 §5.6.2): the characters of a `token`.
pub(crate) fn is_tchar(b: u8) -> bool {
    b.is_ascii_alphanumeric() || b"!#$%&'*+-.^_`|~".contains(&b)
}

/// The value of one hex digit, either case.
pub(crate) fn hex_value(b: u8) -> Option<u8> {
    match b {
        b'0'..=b'9' => Some(b - b'0'),
        b'a'..=b'f' => Some(b - b'a' + 10),
        b'A'..=b'F' => Some(b - b'A' + 10),
        _ => None,
    }
}

/// `value` with control and non-ASCII characters escaped (a CR LF from the
/// wire must not forge a log line) and clipped to about `max` bytes (a
/// hostile value must not fill the log).
pub(crate) fn printable(value: &str, max: usize) -> String {
    let mut out = String::new();
    for c in value.chars() {
        if out.len() >= max {
            out.push('…');
            break;
        }
        if c.is_ascii() && !c.is_ascii_control() {
            out.push(c);
        } else {
            out.extend(c.escape_default());
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tchar_is_rfc_9110() {
        let tchars: String = (0u8..=127)
            .filter(|&b| is_tchar(b))
            .map(char::from)
            .collect();
        assert_eq!(
            tchars,
            "!#$%&'*+-.0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZ^_`abcdefghijklmnopqrstuvwxyz|~"
        );
    }

    #[test]
    fn hex_digits() {
        assert_eq!(hex_value(b'7'), Some(7));
        assert_eq!(hex_value(b'c'), Some(12));
        assert_eq!(hex_value(b'F'), Some(15));
        assert_eq!(hex_value(b'g'), None);
    }

    #[test]
    fn printable_escapes_and_clips() {
        assert_eq!(printable("a\r\nb", 100), "a\\r\\nb");
        assert_eq!(printable("é", 100), "\\u{e9}");
        assert_eq!(printable(&"x".repeat(10), 4), "xxxx…");
    }
}
