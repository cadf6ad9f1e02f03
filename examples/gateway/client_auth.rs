//! Client authentication at the development issuer's endpoints (token,
//! introspection): the `client_secret_basic` header of RFC 6749 §2.3.1,
//! whose client id and secret are form-urlencoded before base64.

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD;
use http::{HeaderMap, header};
use url::form_urlencoded;

/// The client id and secret of an `Authorization: Basic` header, decoded;
/// `None` without one, or when it is not base64 of UTF-8 `id:secret`.
pub fn basic_credentials(headers: &HeaderMap) -> Option<(String, String)> {
    let value = headers.get(header::AUTHORIZATION)?.to_str().ok()?;
    let raw = STANDARD.decode(value.strip_prefix("Basic ")?).ok()?;
    let pair = String::from_utf8(raw).ok()?;
    let (id, secret) = pair.split_once(':')?;
    Some((form_decode(id), form_decode(secret)))
}

/// `application/x-www-form-urlencoded` decoding of one value.
fn form_decode(text: &str) -> String {
    form_urlencoded::parse(text.as_bytes())
        .next()
        .map(|(k, _)| k.into_owned())
        .unwrap_or_default()
}
