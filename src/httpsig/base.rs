//! Component values (RFC 9421 §2.1 fields, §2.2 derived components) taken
//! from `http` message parts, and the signature base built from them (§2.5).
//! Nothing here signs or verifies.

use super::HttpSigError;
use super::components::Component;
use super::fields::{self, BareItem, Entry};
use base64::Engine as _;
use http::{HeaderMap, HeaderValue};

/// The request side of a message, with the scheme to assume when the URI is
/// in origin form (as servers see it).
#[derive(Debug, Clone, Copy)]
pub(crate) struct RequestView<'a> {
    pub(crate) method: &'a http::Method,
    pub(crate) uri: &'a http::Uri,
    pub(crate) headers: &'a HeaderMap,
    pub(crate) assumed_scheme: &'a str,
    /// A Content-Digest the signer is about to set, used instead of the
    /// field in `headers` (saves copying the header map).
    pub(crate) content_digest: Option<&'a HeaderValue>,
}

/// The message a signature base is built from.
#[derive(Debug, Clone, Copy)]
pub(crate) enum Message<'a> {
    Request(RequestView<'a>),
    Response {
        status: http::StatusCode,
        headers: &'a HeaderMap,
        request: Option<RequestView<'a>>,
        /// As [`RequestView::content_digest`].
        content_digest: Option<&'a HeaderValue>,
    },
}

impl<'a> Message<'a> {
    /// The same message with its own Content-Digest field given as this
    /// one line (see [`RequestView::content_digest`]).
    pub(crate) fn with_content_digest(self, line: &'a HeaderValue) -> Self {
        match self {
            Message::Request(r) => Message::Request(RequestView {
                content_digest: Some(line),
                ..r
            }),
            Message::Response {
                status,
                headers,
                request,
                ..
            } => Message::Response {
                status,
                headers,
                request,
                content_digest: Some(line),
            },
        }
    }

    pub(crate) fn headers(&self) -> &'a HeaderMap {
        match self {
            Message::Request(r) => r.headers,
            Message::Response { headers, .. } => headers,
        }
    }
}

impl RequestView<'_> {
    /// The authority as received: the URI's (absolute form, without the
    /// deprecated userinfo, which RFC 9110 §4.2.4 keeps out of the target
    /// URI) or else the single Host field, trimmed.
    fn raw_authority(&self, c: &Component) -> Result<&str, HttpSigError> {
        match self.uri.authority() {
            Some(a) => Ok(a
                .as_str()
                .rsplit_once('@')
                .map_or(a.as_str(), |(_, host)| host)),
            None => {
                let mut hosts = self.headers.get_all(http::header::HOST).iter();
                match (hosts.next(), hosts.next()) {
                    (Some(h), None) => Ok(h
                        .to_str()
                        .map_err(|_| HttpSigError::NonAsciiField {
                            component: c.to_string(),
                        })?
                        .trim()),
                    _ => Err(HttpSigError::MissingComponent {
                        component: c.to_string(),
                    }),
                }
            }
        }
    }

    // §2.2.3: lowercase, default port removed. Written straight into the
    // base: this runs on every request.
    fn write_authority(&self, c: &Component, out: &mut String) -> Result<(), HttpSigError> {
        let raw = self.raw_authority(c)?;
        let start = out.len();
        if raw.bytes().any(|b| b.is_ascii_uppercase()) {
            out.push_str(&raw.to_ascii_lowercase());
        } else {
            out.push_str(raw);
        }
        let scheme = self.uri.scheme_str().unwrap_or(self.assumed_scheme);
        let default_port = if scheme.eq_ignore_ascii_case("https") {
            Some(":443")
        } else if scheme.eq_ignore_ascii_case("http") {
            Some(":80")
        } else {
            None
        };
        if let Some(port) = default_port
            && out.get(start..).is_some_and(|a| a.ends_with(port))
        {
            out.truncate(out.len() - port.len());
        }
        Ok(())
    }

    fn write_scheme(&self, out: &mut String) {
        let scheme = self.uri.scheme_str().unwrap_or(self.assumed_scheme);
        out.extend(scheme.chars().map(|ch| ch.to_ascii_lowercase()));
    }

    fn write_path_query(&self, out: &mut String) {
        out.push_str(self.path());
        if let Some(q) = self.uri.query() {
            out.push('?');
            out.push_str(q);
        }
    }

    // §2.2.5: the request-target as on the request line. CONNECT uses the
    // authority form and `OPTIONS *` the asterisk form; every other request
    // signs the origin form (path and query). An `http::Uri` cannot say how
    // a request travels: a client must give hyper an absolute URI yet sends
    // the origin form, while the server sees the origin form, so signing the
    // absolute form whenever the URI has a scheme would make signer and
    // verifier disagree. Requests sent in absolute form to a forward proxy
    // should cover `@target-uri` instead.
    fn write_request_target(&self, c: &Component, out: &mut String) -> Result<(), HttpSigError> {
        if self.method == http::Method::CONNECT {
            // Authority form, verbatim: no case or default-port normalisation.
            let authority = self
                .uri
                .authority()
                .ok_or_else(|| HttpSigError::MissingComponent {
                    component: c.to_string(),
                })?;
            out.push_str(authority.as_str());
        } else {
            self.write_path_query(out);
        }
        Ok(())
    }

    fn path(&self) -> &str {
        match self.uri.path() {
            "" => "/",
            p => p,
        }
    }

    fn write_derived(&self, c: &Component, out: &mut String) -> Result<(), HttpSigError> {
        match &*c.name {
            "@method" => out.push_str(self.method.as_str()),
            "@scheme" => self.write_scheme(out),
            "@authority" => self.write_authority(c, out)?,
            // §2.2.2: the target URI of RFC 9110 §7.1, whose authority is
            // the one received. Unlike @authority (§2.2.3) it is not
            // normalised: no lowercasing, no default-port removal, as the
            // independent stacks sign it (tests/interop_httpsig.rs).
            "@target-uri" => {
                self.write_scheme(out);
                out.push_str("://");
                out.push_str(self.raw_authority(c)?);
                self.write_path_query(out);
            }
            "@request-target" => self.write_request_target(c, out)?,
            "@path" => out.push_str(self.path()),
            // §2.2.7: an absent query is the empty query, serialised as `?`.
            "@query" => {
                out.push('?');
                out.push_str(self.uri.query().unwrap_or(""));
            }
            "@query-param" => out.push_str(&self.query_param(c)?),
            _ => {
                return Err(HttpSigError::MissingComponent {
                    component: c.to_string(),
                });
            }
        }
        Ok(())
    }

    // §2.2.8: decode with application/x-www-form-urlencoded parsing, then
    // percent-encode name and value again; a repeated name is refused.
    fn query_param(&self, c: &Component) -> Result<String, HttpSigError> {
        let Some(BareItem::String(wanted)) = c.param("name") else {
            return Err(c.bad("`name` is required on @query-param"));
        };
        let wanted = percent_encode(&decode_form(wanted));
        let query = self.uri.query().unwrap_or("");
        let mut found: Option<String> = None;
        for (name, value) in url::form_urlencoded::parse(query.as_bytes()) {
            if percent_encode(&name) == wanted {
                if found.is_some() {
                    return Err(HttpSigError::MalformedComponent {
                        component: c.to_string(),
                        reason: "query parameter occurs more than once".into(),
                    });
                }
                found = Some(percent_encode(&value));
            }
        }
        found.ok_or_else(|| HttpSigError::MissingComponent {
            component: c.to_string(),
        })
    }
}

/// Decodes one encoded name as application/x-www-form-urlencoded does (`+`
/// is a space, `%XX` a byte), without splitting on `&` or `=`.
fn decode_form(s: &str) -> String {
    let mut out = Vec::with_capacity(s.len());
    let mut bytes = s.bytes();
    while let Some(b) = bytes.next() {
        match b {
            b'+' => out.push(b' '),
            b'%' => {
                let mut look = bytes.clone();
                let hex = |c: Option<u8>| c.and_then(|c| char::from(c).to_digit(16));
                match (hex(look.next()), hex(look.next())) {
                    (Some(h), Some(l)) => {
                        out.push(u8::try_from(h * 16 + l).unwrap_or(b'%'));
                        bytes = look;
                    }
                    _ => out.push(b'%'),
                }
            }
            _ => out.push(b),
        }
    }
    String::from_utf8_lossy(&out).into_owned()
}

/// Percent-encodes with the application/x-www-form-urlencoded percent-encode
/// set (WHATWG URL), spaces as `%20`, upper-case hex (RFC 9421 §2.2.8 examples).
pub(crate) fn percent_encode(s: &str) -> String {
    const HEX: &[u8; 16] = b"0123456789ABCDEF";
    let mut out = String::with_capacity(s.len());
    for b in s.bytes() {
        if b.is_ascii_alphanumeric() || matches!(b, b'*' | b'-' | b'.' | b'_') {
            out.push(char::from(b));
        } else {
            out.push('%');
            out.push(char::from(
                HEX.get(usize::from(b >> 4)).copied().unwrap_or(b'0'),
            ));
            out.push(char::from(
                HEX.get(usize::from(b & 15)).copied().unwrap_or(b'0'),
            ));
        }
    }
    out
}

/// Fields whose structured type we know, for `;sf` (RFC 9421 §2.1.1).
fn sf_type(name: &str) -> Option<SfType> {
    match name {
        "signature"
        | "signature-input"
        | "accept-signature"
        | "content-digest"
        | "repr-digest"
        | "want-content-digest"
        | "want-repr-digest"
        | "priority"
        | "cache-control"
        | "cdn-cache-control"
        | "example-dict" => Some(SfType::Dictionary),
        "proxy-status" | "cache-status" | "accept-ch" | "example-list" => Some(SfType::List),
        "example-item" => Some(SfType::Item),
        _ => None,
    }
}

enum SfType {
    Dictionary,
    List,
    Item,
}

/// The lines of the field `c` names, by its pre-parsed header name.
fn field_get_all<'h>(
    c: &Component,
    headers: &'h HeaderMap,
) -> http::header::GetAll<'h, HeaderValue> {
    match &c.header {
        Some(h) => headers.get_all(h),
        None => headers.get_all(&*c.name),
    }
}

/// §2.1: each field line trimmed, obs-fold replaced by a space, lines joined
/// with `, `. `None` when the field is absent.
fn field_lines(headers: &HeaderMap, c: &Component) -> Option<Vec<Vec<u8>>> {
    let lines: Vec<Vec<u8>> = field_get_all(c, headers)
        .iter()
        .map(|v| normalise_line(v.as_bytes()))
        .collect();
    if lines.is_empty() { None } else { Some(lines) }
}

fn normalise_line(raw: &[u8]) -> Vec<u8> {
    let mut out = Vec::with_capacity(raw.len());
    let mut iter = raw.iter().copied().peekable();
    while let Some(b) = iter.next() {
        if b == b'\r' || b == b'\n' {
            // obs-fold: CRLF (or bare LF) followed by whitespace becomes one SP.
            while matches!(iter.peek(), Some(b'\r' | b'\n' | b' ' | b'\t')) {
                iter.next();
            }
            out.push(b' ');
        } else {
            out.push(b);
        }
    }
    let start = out
        .iter()
        .position(|b| !matches!(b, b' ' | b'\t'))
        .unwrap_or(out.len());
    let end = out
        .iter()
        .rposition(|b| !matches!(b, b' ' | b'\t'))
        .map_or(start, |i| i + 1);
    out.get(start..end).map(<[u8]>::to_vec).unwrap_or_default()
}

fn join(lines: &[Vec<u8>]) -> Vec<u8> {
    lines.join(&b", "[..])
}

fn ascii(c: &Component, bytes: Vec<u8>) -> Result<String, HttpSigError> {
    // The signature base is ASCII (§2.5); other bytes need `;bs` (§2.1.3).
    if bytes
        .iter()
        .all(|b| (0x20..0x7f).contains(b) || *b == b'\t')
    {
        String::from_utf8(bytes).map_err(|_| HttpSigError::NonAsciiField {
            component: c.to_string(),
        })
    } else {
        Err(HttpSigError::NonAsciiField {
            component: c.to_string(),
        })
    }
}

fn write_field(
    c: &Component,
    headers: &HeaderMap,
    content_digest: Option<&HeaderValue>,
    out: &mut String,
) -> Result<(), HttpSigError> {
    if c.params.is_empty() {
        // Fast path: one field line, no parameters, nothing to unfold.
        let mut lines = match content_digest {
            Some(v) if c.name == "content-digest" => {
                let one: &[u8] = v.as_bytes();
                return write_plain_line(c, one, out);
            }
            _ => field_get_all(c, headers).iter(),
        };
        if let (Some(line), None) = (lines.next(), lines.next()) {
            return write_plain_line(c, line.as_bytes(), out);
        }
    }
    let value = field_value(c, headers, content_digest)?;
    if value.contains('\n') {
        return Err(HttpSigError::NonAsciiField {
            component: c.to_string(),
        });
    }
    out.push_str(&value);
    Ok(())
}

/// Whether every byte is printable ASCII or a tab. Eight bytes at a time:
/// field values are the longest text in a typical base.
fn is_printable(line: &[u8]) -> bool {
    const ONES: u64 = 0x0101_0101_0101_0101;
    const HIGH: u64 = 0x8080_8080_8080_8080;
    let byte_ok = |b: &u8| (0x20..0x7f).contains(b) || *b == b'\t';
    let chunks = line.chunks_exact(8);
    let rest = chunks.remainder();
    for chunk in chunks {
        let mut word = [0u8; 8];
        word.copy_from_slice(chunk);
        let x = u64::from_le_bytes(word);
        // A high bit where some byte is below 0x20, or at least 0x7f; exact
        // as to *whether* there is one (the classic has-less / has-more
        // word tricks), then the bytes decide, since tabs are allowed.
        let below = x.wrapping_sub(0x20 * ONES) & !x & HIGH;
        let above = (x.wrapping_add(ONES) | x) & HIGH;
        if below | above != 0 && !chunk.iter().all(byte_ok) {
            return false;
        }
    }
    rest.iter().all(byte_ok)
}

/// One field line, trimmed, when it needs no unfolding; else the general path.
fn write_plain_line(c: &Component, line: &[u8], out: &mut String) -> Result<(), HttpSigError> {
    // One pass for the common case: printable ASCII (and tabs) only, which
    // also rules out line folds.
    if !is_printable(line) {
        if line.iter().any(|b| matches!(b, b'\r' | b'\n')) {
            out.push_str(&ascii(c, normalise_line(line))?);
            return Ok(());
        }
        return Err(HttpSigError::NonAsciiField {
            component: c.to_string(),
        });
    }
    match std::str::from_utf8(line.trim_ascii()) {
        Ok(s) => {
            out.push_str(s);
            Ok(())
        }
        Err(_) => Err(HttpSigError::NonAsciiField {
            component: c.to_string(),
        }),
    }
}

fn field_value(
    c: &Component,
    headers: &HeaderMap,
    content_digest: Option<&HeaderValue>,
) -> Result<String, HttpSigError> {
    let missing = || HttpSigError::MissingComponent {
        component: c.to_string(),
    };
    let lines = match content_digest {
        Some(v) if c.name == "content-digest" => vec![normalise_line(v.as_bytes())],
        _ => field_lines(headers, c).ok_or_else(missing)?,
    };
    if c.flag("bs") {
        let encoded: Vec<String> = lines
            .iter()
            .map(|l| format!(":{}:", base64::engine::general_purpose::STANDARD.encode(l)))
            .collect();
        return Ok(encoded.join(", "));
    }
    let value = ascii(c, join(&lines))?;
    let sf_err = |e: fields::SfError| HttpSigError::MalformedComponent {
        component: c.to_string(),
        reason: e.to_string(),
    };
    if let Some(BareItem::String(key)) = c.param("key") {
        let dict = fields::parse_dictionary(&value).map_err(sf_err)?;
        let (_, entry) = dict.iter().find(|(k, _)| k == key).ok_or_else(missing)?;
        return match entry {
            Entry::Item(item) => fields::serialize_item(item),
            Entry::InnerList(items, params) => fields::serialize_inner_list(items, params),
        }
        .map_err(sf_err);
    }
    if c.flag("sf") {
        return match sf_type(&c.name) {
            Some(SfType::Dictionary) => {
                fields::serialize_dictionary(&fields::parse_dictionary(&value).map_err(sf_err)?)
            }
            Some(SfType::List) => {
                fields::serialize_list(&fields::parse_list(&value).map_err(sf_err)?)
            }
            Some(SfType::Item) => {
                fields::serialize_item(&fields::parse_item(&value).map_err(sf_err)?)
            }
            None => return Err(c.bad("structured type of this field is not known")),
        }
        .map_err(sf_err);
    }
    Ok(value)
}

/// Appends the value of one component in `message` (§2.1, §2.2) to `out`.
fn write_component_value(
    c: &Component,
    message: &Message<'_>,
    out: &mut String,
) -> Result<(), HttpSigError> {
    let derived = c.name.starts_with('@');
    match message {
        Message::Request(req) => {
            if c.is_req() {
                return Err(c.bad("`req` is only for responses"));
            }
            if derived {
                req.write_derived(c, out)
            } else {
                write_field(c, req.headers, req.content_digest, out)
            }
        }
        Message::Response {
            status,
            headers,
            request,
            content_digest,
        } => {
            if c.is_req() {
                let req = request
                    .as_ref()
                    .ok_or_else(|| HttpSigError::MissingComponent {
                        component: c.to_string(),
                    })?;
                return if derived {
                    req.write_derived(c, out)
                } else {
                    write_field(c, req.headers, None, out)
                };
            }
            match &*c.name {
                "@status" => {
                    out.push_str(status.as_str());
                    Ok(())
                }
                _ if derived => Err(c.bad("request component on a response needs `req`")),
                _ => write_field(c, headers, *content_digest, out),
            }
        }
    }
}

/// Builds the signature base (§2.5). `params_line` is the serialised
/// `@signature-params` value (inner list with its parameters).
pub(crate) fn signature_base(
    components: &[Component],
    params_line: &str,
    message: &Message<'_>,
) -> Result<String, HttpSigError> {
    let mut base = String::with_capacity(64 * components.len() + 32 + params_line.len());
    write_base_lines(components, message, &mut base)?;
    base.push_str(params_line);
    Ok(base)
}

/// Writes the signature base up to and including `"@signature-params": `;
/// the caller appends the serialised signature parameters. `components`
/// must not repeat an identifier (§2.5); the callers check that.
pub(crate) fn write_base_lines<C: std::borrow::Borrow<Component>>(
    components: &[C],
    message: &Message<'_>,
    base: &mut String,
) -> Result<(), HttpSigError> {
    // Both callers have refused repeated identifiers already (`Signer::new`,
    // and the verifier right after parsing), so that is not re-checked here.
    for c in components {
        let c = c.borrow();
        if c.name == "@status" && matches!(message, Message::Request(_)) {
            return Err(c.bad("@status is only for responses"));
        }
        base.push_str(c.id());
        base.push_str(": ");
        write_component_value(c, message, base)?;
        base.push('\n');
    }
    // A value must not break its line (§2.5): the fast field path only
    // takes printable ASCII, `http` URIs, methods and (via `to_str`) hosts
    // cannot hold a newline, and the general field path checks its result.
    base.push_str("\"@signature-params\": ");
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn query_param_reencoding() {
        let uri: http::Uri = "/path?param=value&foo=bar&baz=batman&qux=&var=this%20is%20a%20big%0Avalue&bar=with+plus+whitespace&fa%C3%A7ade%22%3A%20=something"
            .parse()
            .unwrap();
        let headers = HeaderMap::new();
        let view = RequestView {
            method: &http::Method::GET,
            uri: &uri,
            headers: &headers,
            assumed_scheme: "https",
            content_digest: None,
        };
        let qp = |n: &str| {
            let c =
                Component::try_from_identifier(&format!("\"@query-param\";name=\"{n}\"")).unwrap();
            let mut out = String::new();
            view.write_derived(&c, &mut out).unwrap();
            out
        };
        assert_eq!(qp("var"), "this%20is%20a%20big%0Avalue");
        assert_eq!(qp("bar"), "with%20plus%20whitespace");
        assert_eq!(qp("fa%C3%A7ade%22%3A%20"), "something");
        assert_eq!(qp("qux"), "");
        assert_eq!(qp("baz"), "batman");
    }

    #[test]
    fn printable_check_matches_the_bytewise_one() {
        let byte_ok = |b: &u8| (0x20..0x7f).contains(b) || *b == b'\t';
        let mut lines: Vec<Vec<u8>> = (0..=255u8)
            .flat_map(|b| {
                (0..20).map(move |at| {
                    let mut l = b"application/json; charset=utf-8".to_vec();
                    l[at] = b;
                    l
                })
            })
            .collect();
        lines.push(Vec::new());
        lines.push(b"\t x \t".to_vec());
        for l in &lines {
            assert_eq!(is_printable(l), l.iter().all(byte_ok), "{l:?}");
        }
    }

    #[test]
    fn line_normalisation() {
        assert_eq!(normalise_line(b"  a\r\n  b \t"), b"a b");
    }
}
