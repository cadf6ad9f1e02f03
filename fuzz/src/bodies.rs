//! Fuzz target bodies, shared by the cargo-fuzz targets and the stable replay
//! test. Each checks invariants, not just the absence of panics.
#![allow(dead_code)]
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use edge_auth::{TokenSource, extract as extract_token};

/// Splits fuzz input into a request: first line is the request target, the
/// rest are `name: value` header lines.
fn request_from(data: &[u8]) -> Option<http::request::Parts> {
    let mut lines = data.split(|&b| b == b'\n');
    let target = lines.next()?;
    let uri = http::Uri::try_from(target).ok()?;
    let mut builder = http::Request::builder().uri(uri);
    for line in lines {
        let Some(colon) = line.iter().position(|&b| b == b':') else {
            continue;
        };
        let (name, value) = line.split_at(colon);
        let value = value.get(1..).unwrap_or_default();
        let (Ok(name), Ok(value)) = (
            http::HeaderName::from_bytes(name),
            http::HeaderValue::from_bytes(value),
        ) else {
            continue;
        };
        builder = builder.header(name, value);
    }
    Some(builder.body(()).ok()?.into_parts().0)
}

/// Token extraction from arbitrary headers, cookies and query strings: never
/// panics, is deterministic, and any token it returns satisfies the size limit.
pub fn extract(data: &[u8]) {
    let Some(parts) = request_from(data) else {
        return;
    };
    let sources = [TokenSource::AuthorizationBearer];
    let first = extract_token(&parts, &sources);
    let second = extract_token(&parts, &sources);
    match (&first, &second) {
        (Ok(a), Ok(b)) => assert_eq!(a, b, "extraction is not deterministic"),
        (Err(a), Err(b)) => assert_eq!(a.to_string(), b.to_string()),
        _ => panic!("extraction is not deterministic"),
    }
    if let Ok(Some(token)) = first {
        assert!(!token.as_str().is_empty(), "empty token accepted");
        assert!(
            token.as_str().len() <= 8 * 1024,
            "token over the default limit accepted"
        );
    }
}
