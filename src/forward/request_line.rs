//! The request-line checks of RFC 9112 §3.2 (Host), §3.2.2 (absolute-form)
//! and §6.1 (transfer codings).

use http::Version;
use http::header::{self, HeaderMap, HeaderValue};
use http::request::Parts;

use super::ForwardError;
use crate::text::printable;

/// The request-line checks to run before a request is judged: a transfer
/// coding other than `chunked` is refused with 501 (RFC 9112 §6.1), and
/// `chunked` not last or repeated with 400; on HTTP/1.x a missing (1.1),
/// repeated or invalid `Host` (a list, userinfo, bad syntax) is a 400
/// (RFC 9112 §3.2); an absolute-form target must be `http` / `https`
/// without userinfo, and its authority replaces `Host` (RFC 9112 §3.2.2);
/// authority-form (`CONNECT`) is refused. On success `Host` holds the one
/// authority the request is for.
///
/// # Errors
/// The [`ForwardError`] request variants, whose
/// [`status`](ForwardError::status) is 400 or 501.
pub fn check_request_line(parts: &mut Parts) -> Result<(), ForwardError> {
    check_transfer_encoding(&parts.headers)?;
    let http1 = matches!(
        parts.version,
        Version::HTTP_11 | Version::HTTP_10 | Version::HTTP_09
    );
    let count = parts.headers.get_all(header::HOST).iter().count();
    if http1 {
        if count == 0 && parts.version == Version::HTTP_11 {
            return Err(ForwardError::MissingHost);
        }
        if count > 1 {
            return Err(ForwardError::RepeatedHost(count));
        }
    }
    let target = parts.uri.to_string();
    if let Some(authority) = parts.uri.authority() {
        match parts.uri.scheme_str() {
            None => {
                return Err(ForwardError::InvalidTarget(
                    printable(&target, 128),
                    "authority-form targets are not served",
                ));
            }
            Some(scheme)
                if scheme.eq_ignore_ascii_case("http") || scheme.eq_ignore_ascii_case("https") => {}
            Some(_) => {
                return Err(ForwardError::InvalidTarget(
                    printable(&target, 128),
                    "scheme is not http or https",
                ));
            }
        }
        if authority.as_str().contains('@') {
            return Err(ForwardError::InvalidTarget(
                printable(&target, 128),
                "userinfo in the authority",
            ));
        }
        if authority.host().is_empty() || !valid_port(authority.as_str(), authority.host()) {
            return Err(ForwardError::InvalidTarget(
                printable(&target, 128),
                "not a host and port",
            ));
        }
        let host = HeaderValue::from_str(authority.as_str()).map_err(|_| {
            ForwardError::InvalidTarget(printable(&target, 128), "authority is not a field value")
        })?;
        parts.headers.insert(header::HOST, host);
        return Ok(());
    }
    if let Some(host) = parts.headers.get(header::HOST) {
        let text = host.to_str().unwrap_or_default();
        let valid = !text.is_empty()
            && !text.contains(['@', ',', ' ', '\t'])
            && text
                .parse::<http::uri::Authority>()
                .is_ok_and(|a| !a.host().is_empty() && valid_port(text, a.host()));
        if !valid {
            return Err(ForwardError::InvalidHost(printable(
                &String::from_utf8_lossy(host.as_bytes()),
                128,
            )));
        }
    }
    Ok(())
}

/// After the host, nothing or `:` and a port number (`http` accepts any
/// text there).
fn valid_port(authority: &str, host: &str) -> bool {
    match authority.get(host.len()..) {
        Some("") => true,
        Some(rest) => rest
            .strip_prefix(':')
            .is_some_and(|port| port.is_empty() || port.parse::<u16>().is_ok()),
        None => false,
    }
}

fn check_transfer_encoding(headers: &HeaderMap) -> Result<(), ForwardError> {
    let mut codings: Vec<String> = Vec::new();
    for value in headers.get_all(header::TRANSFER_ENCODING) {
        let text = String::from_utf8_lossy(value.as_bytes());
        for coding in text.split(',') {
            // A coding's parameters (`;q=…`) do not change its name.
            let name = coding.split(';').next().unwrap_or_default().trim();
            if !name.is_empty() {
                codings.push(name.to_ascii_lowercase());
            }
        }
    }
    if let Some(unknown) = codings.iter().find(|c| c.as_str() != "chunked") {
        return Err(ForwardError::UnsupportedTransferCoding(printable(
            unknown, 64,
        )));
    }
    if codings.len() > 1 {
        return Err(ForwardError::InvalidTransferEncoding(codings.join(", ")));
    }
    Ok(())
}
