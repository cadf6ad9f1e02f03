//! Requests and headers built on `web_sys` / the JS objects directly, for
//! the rest of the Worker driver (key fetches, token requests, Durable
//! Object calls, the Gate's own answers): smaller than workers-rs'
//! conversions, which link serializers a Worker never uses
//! (docs/adr/0011-worker-size.md), and without their panics.

use http::HeaderMap;
use worker::{Headers, Request, web_sys};

/// `headers` as JS headers. A value that is not visible ASCII is refused
/// (workers-rs' `From<&HeaderMap>` would panic on it); the Gate's own
/// headers and a fetch plan's are ASCII.
pub(super) fn js_headers(headers: &HeaderMap) -> worker::Result<Headers> {
    let out = Headers::new();
    for (name, value) in headers {
        let value = value
            .to_str()
            .map_err(|_| worker::Error::RustError(format!("header `{name}` is not ASCII")))?;
        out.append(name.as_str(), value)?;
    }
    Ok(out)
}

/// An outbound request built on `web_sys` directly: workers-rs'
/// `Request::new_with_init` also links the serializer of its `cf` options
/// (image resizing, ...; ~12 KB) that a key fetch never sets. Redirects are
/// followed, as `RequestInit`'s default is.
pub(super) fn outbound(
    url: &str,
    method: &str,
    headers: &HeaderMap,
    body: Option<&[u8]>,
) -> worker::Result<Request> {
    let init = web_sys::RequestInit::new();
    init.set_method(method);
    init.set_headers(js_headers(headers)?.as_ref());
    if let Some(body) = body {
        init.set_body(&worker::js_sys::Uint8Array::from(body).into());
    }
    Ok(Request::from(web_sys::Request::new_with_str_and_init(
        url, &init,
    )?))
}
