//! Fuzz target bodies, shared by the cargo-fuzz targets and the stable replay
//! test. Each checks invariants, not just the absence of panics: a failed
//! `assert!` is a finding as much as a crash is.
//!
//! Only `edge_auth`, `http`, `serde` (derive), `serde_json`, `time` and `std` are used here: the
//! file is compiled both in the fuzz crate and in the root crate's tests.
#![allow(dead_code)]
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing
)]

use std::sync::OnceLock;

use edge_auth::__fuzz;
use edge_auth::extract::DEFAULT_MAX_TOKEN_LEN;
use edge_auth::{TokenSource, extract as extract_token};
use time::{Duration, OffsetDateTime};

// ------------------------------------------------------------------ helpers

/// The fixed "now" every target runs at: 2026-11-23T10:30:00Z, inside the
/// validity window of the fixed tokens below.
fn now() -> OffsetDateTime {
    OffsetDateTime::from_unix_timestamp(1_795_429_800).unwrap()
}

/// Reads the fuzz input front to back; running out yields zeros, so every
/// input is a valid program.
struct Input<'a> {
    data: &'a [u8],
}

impl<'a> Input<'a> {
    fn new(data: &'a [u8]) -> Self {
        Self { data }
    }

    fn byte(&mut self) -> u8 {
        match self.data.split_first() {
            Some((&b, rest)) => {
                self.data = rest;
                b
            }
            None => 0,
        }
    }

    fn u16(&mut self) -> u16 {
        u16::from(self.byte()) << 8 | u16::from(self.byte())
    }

    /// A length-prefixed (one byte) slice.
    fn bytes(&mut self) -> &'a [u8] {
        let n = usize::from(self.byte()).min(self.data.len());
        let (head, rest) = self.data.split_at(n);
        self.data = rest;
        head
    }

    fn rest(&mut self) -> &'a [u8] {
        std::mem::take(&mut self.data)
    }
}

/// Splits fuzz input into a request: first line is the request target, the
/// rest are `name: value` header lines.
fn request_from(data: &[u8]) -> Option<http::request::Parts> {
    let mut lines = data.split(|&b| b == b'\n');
    let target = lines.next()?;
    let uri = http::Uri::try_from(target).ok()?;
    let mut parts = http::Request::builder()
        .uri(uri)
        .body(())
        .ok()?
        .into_parts()
        .0;
    parts.headers = headers_from(lines);
    Some(parts)
}

/// `name: value` lines into a header map (invalid lines are skipped).
fn headers_from<'a>(lines: impl Iterator<Item = &'a [u8]>) -> http::HeaderMap {
    let mut headers = http::HeaderMap::new();
    for line in lines {
        let Some(colon) = line.iter().position(|&b| b == b':') else {
            continue;
        };
        let (name, value) = line.split_at(colon);
        let value = value.get(1..).unwrap_or_default();
        let value = value.strip_prefix(b" ").unwrap_or(value);
        let (Ok(name), Ok(value)) = (
            http::HeaderName::from_bytes(name),
            http::HeaderValue::from_bytes(value),
        ) else {
            continue;
        };
        headers.append(name, value);
    }
    headers
}

fn contains(haystack: &[u8], needle: &[u8]) -> bool {
    needle.is_empty() || haystack.windows(needle.len()).any(|w| w == needle)
}

const B64URL: &[u8; 64] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";
const B64STD: &[u8; 64] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";

/// Canonical base64 (RFC 4648 §4/§5), padded or not.
fn base64(bytes: &[u8], alphabet: &[u8; 64], pad: bool) -> String {
    let mut out = String::with_capacity(bytes.len().div_ceil(3) * 4);
    for chunk in bytes.chunks(3) {
        let n = chunk.len();
        let b = [
            chunk[0],
            *chunk.get(1).unwrap_or(&0),
            *chunk.get(2).unwrap_or(&0),
        ];
        let v = u32::from(b[0]) << 16 | u32::from(b[1]) << 8 | u32::from(b[2]);
        for i in 0..4 {
            if i <= n {
                out.push(char::from(alphabet[(v >> (18 - 6 * i) & 63) as usize]));
            } else if pad {
                out.push('=');
            }
        }
    }
    out
}

/// Applies one input-chosen edit to `bytes`: flip a byte, insert or delete
/// bytes, truncate, or replace everything.
fn mutate_bytes(input: &mut Input<'_>, bytes: &[u8]) -> Vec<u8> {
    let mut out = bytes.to_vec();
    let len = out.len();
    let at = if len == 0 {
        0
    } else {
        usize::from(input.u16()) % len
    };
    match input.byte() % 6 {
        0 if len > 0 => out[at] ^= input.byte(),
        1 => {
            let insert = input.bytes();
            out.splice(at..at, insert.iter().copied());
        }
        2 if len > 0 => {
            let n = usize::from(input.byte()).min(len - at);
            out.drain(at..at + n);
        }
        3 => out.truncate(at),
        4 => out = input.bytes().to_vec(),
        _ => {
            let extra = input.bytes();
            out.extend_from_slice(extra);
        }
    }
    out
}

// ------------------------------------------------------------------ extract

/// Token extraction from arbitrary headers, cookies and query strings over
/// all four source kinds (the first byte picks which are configured).
/// Invariants: deterministic; a token returned is non-empty, within the
/// limit, token68, comes from a configured source and appears in the
/// request where that source looks.
pub fn extract(data: &[u8]) {
    let Some((&mask, rest)) = data.split_first() else {
        return;
    };
    // The cookie and form parsers on their own.
    for (name, value) in __fuzz::cookie_pairs(rest) {
        assert!(contains(rest, name) && contains(rest, value));
        assert!(!name.contains(&b';') && !value.contains(&b';'));
    }
    match __fuzz::form_decode(rest) {
        Ok(decoded) => {
            assert!(decoded.len() <= rest.len());
            if !rest.iter().any(|&b| b == b'%' || b == b'+') {
                assert_eq!(&*decoded, rest);
            }
        }
        Err(offset) => assert_eq!(rest.get(offset), Some(&b'%')),
    }

    let Some(parts) = request_from(rest) else {
        return;
    };
    let all = [
        TokenSource::AuthorizationBearer,
        TokenSource::header(http::HeaderName::from_static("x-api-token")),
        TokenSource::header_with_scheme(http::HeaderName::from_static("x-auth"), "Token"),
        TokenSource::cookie("session"),
        TokenSource::query("access_token"),
    ];
    let sources: Vec<TokenSource> = all
        .iter()
        .enumerate()
        .filter(|(i, _)| mask & (1 << i) != 0)
        .map(|(_, s)| s.clone())
        .collect();
    let first = extract_token(&parts, &sources);
    let second = extract_token(&parts, &sources);
    match (&first, &second) {
        (Ok(a), Ok(b)) => assert_eq!(a, b, "extraction is not deterministic"),
        (Err(a), Err(b)) => assert_eq!(a.to_string(), b.to_string()),
        _ => panic!("extraction is not deterministic"),
    }
    let Ok(Some(token)) = first else {
        return;
    };
    let value = token.as_str().as_bytes();
    assert!(!value.is_empty(), "empty token accepted");
    assert!(
        value.len() <= DEFAULT_MAX_TOKEN_LEN,
        "token over the default limit accepted"
    );
    assert_eq!(
        __fuzz::token68_error(value),
        None,
        "token is not token68: {:?}",
        token.as_str()
    );
    assert!(
        sources.contains(token.source()),
        "token from an unconfigured source"
    );
    let in_header = |name: &str| {
        parts
            .headers
            .get_all(name)
            .iter()
            .any(|v| contains(v.as_bytes(), value))
    };
    match token.source() {
        TokenSource::AuthorizationBearer => assert!(in_header("authorization")),
        TokenSource::Header { name, .. } => assert!(in_header(name.as_str())),
        TokenSource::Cookie(_) => assert!(in_header("cookie")),
        TokenSource::Query(_) => {
            let query = parts.uri.query().unwrap_or_default().as_bytes();
            let decoded = __fuzz::form_decode(query);
            // The token's own `%` escapes decoded; the whole query might not
            // decode (another parameter's bad escape), so check piecewise.
            let found = query.split(|&b| b == b'&').any(|pair| {
                let v = pair.splitn(2, |&b| b == b'=').nth(1).unwrap_or_default();
                __fuzz::form_decode(v).is_ok_and(|d| *d == *value)
            });
            assert!(found || decoded.is_ok_and(|d| contains(&d, value)));
        }
        other => panic!("unknown source {other:?}"),
    }
}

// ------------------------------------------------------------- jwt_validate

const JWKS: &str = r#"{"keys":[{"kty":"EC","crv":"P-256","kid":"ec1","use":"sig","alg":"ES256","x":"vXxzuIsum0ztpiAistqL4TGTpbVu3Cbn33hC4kzQtes","y":"BgWtp72oOsaiuA1-MUBA-kf_Frg7rIXO2wFEUbt85xo"},{"kty":"OKP","crv":"Ed25519","kid":"ed1","use":"sig","x":"A6EHv_POEL4dcN0Y50vAmWfk1jCbpQ1fHdyGZBJVMbg"}]}"#;
const HMAC_SECRET: &[u8; 32] = b"edge-auth fuzz hmac secret 32 by";
/// Signed once (ES256 with the `ec1` key, EdDSA with `ed1`, HS256 with
/// [`HMAC_SECRET`]) over the same claims; valid at [`now`].
const VALID_TOKENS: [&str; 3] = [
    "eyJhbGciOiJFUzI1NiIsInR5cCI6IkpXVCIsImtpZCI6ImVjMSJ9.eyJpc3MiOiJodHRwczovL2lzc3Vlci5leGFtcGxlIiwiYXVkIjoiYXBpIiwic3ViIjoidXNlci0xIiwiaWF0IjoxNzk1NDI4MDAwLCJleHAiOjE3OTU0MzE2MDAsInNjb3BlIjoicmVhZCB3cml0ZSJ9.Xfh-NoWjKmv2z_M34K559koeZsKQGEYkj1aIhiYGS5ZWk0TflGrIli3sKM3kcByB4wTKTdchg5VwS3ZmKWbqXg",
    "eyJhbGciOiJFZERTQSIsInR5cCI6IkpXVCIsImtpZCI6ImVkMSJ9.eyJpc3MiOiJodHRwczovL2lzc3Vlci5leGFtcGxlIiwiYXVkIjoiYXBpIiwic3ViIjoidXNlci0xIiwiaWF0IjoxNzk1NDI4MDAwLCJleHAiOjE3OTU0MzE2MDAsInNjb3BlIjoicmVhZCB3cml0ZSJ9.FtowAghwwyci0E-gJLQOFqG6nPdsU4HIfF7zNVDb7UedA-KCNntc19zBHcAw9MyN2R2A41LTgl9YrG8hdJ5SBg",
    "eyJhbGciOiJIUzI1NiIsInR5cCI6IkpXVCIsImtpZCI6ImhrIn0.eyJpc3MiOiJodHRwczovL2lzc3Vlci5leGFtcGxlIiwiYXVkIjoiYXBpIiwic3ViIjoidXNlci0xIiwiaWF0IjoxNzk1NDI4MDAwLCJleHAiOjE3OTU0MzE2MDAsInNjb3BlIjoicmVhZCB3cml0ZSJ9.ihdWXlbgsQDH1AKeD7wUxo0ZZIDT_NM1JPBUE9K_Ipk",
];

struct JwtFixture {
    public: edge_auth::jwk::KeySet,
    hmac: edge_auth::jwk::KeySet,
    public_validator: edge_auth::jwt::Validator,
    hmac_validator: edge_auth::jwt::Validator,
}

fn jwt_fixture() -> &'static JwtFixture {
    static FIXTURE: OnceLock<JwtFixture> = OnceLock::new();
    FIXTURE.get_or_init(|| {
        use edge_auth::jwt::{Validation, Validator};
        let alg = |name| __fuzz::Alg::from_name(name).unwrap();
        let public = edge_auth::jwk::KeySet::from_jwks(JWKS.as_bytes(), &Default::default())
            .expect("fixed JWKS loads");
        assert_eq!(public.len(), 2);
        let hmac = edge_auth::jwk::KeySet::from_hmac_secret(HMAC_SECRET, Some("hk"))
            .expect("fixed HMAC secret loads");
        let validation = |algorithms| {
            let mut v = Validation::default();
            v.issuers = vec!["https://issuer.example".to_owned()];
            v.audiences = vec!["api".to_owned()];
            v.algorithms = algorithms;
            v
        };
        JwtFixture {
            public,
            hmac,
            public_validator: Validator::new(validation(vec![alg("ES256"), alg("EdDSA")])),
            hmac_validator: Validator::new(validation(vec![alg("HS256")])),
        }
    })
}

/// One of the valid tokens; mostly the HMAC one, whose verification is two
/// orders of magnitude cheaper than ECDSA's, for executions per second.
fn pick_token(choice: u8) -> &'static str {
    match choice % 16 {
        0 => VALID_TOKENS[0],
        1 => VALID_TOKENS[1],
        _ => VALID_TOKENS[2],
    }
}

/// Whether the token validates against either fixed key set (checking that
/// `inspect` accepts whatever validates).
fn jwt_accepts(token: &str) -> bool {
    let f = jwt_fixture();
    let now = now();
    let public = f
        .public_validator
        .validate::<serde_json::Value>(token, &f.public, now);
    let hmac = f
        .hmac_validator
        .validate::<serde_json::Value>(token, &f.hmac, now);
    // `inspect` refuses nothing that validation accepts (at the
    // validators' default size limit).
    let inspected = edge_auth::jwt::inspect(token, DEFAULT_MAX_TOKEN_LEN);
    if public.is_ok() || hmac.is_ok() {
        assert!(
            inspected.is_ok(),
            "inspect refused a token that validates: {inspected:?}"
        );
    }
    public.is_ok() || hmac.is_ok()
}

/// Compact JWT parsing and validation against fixed key sets (EC P-256 and
/// Ed25519 in a JWKS, an HMAC secret). The first byte picks the mode:
/// arbitrary text as a token, or one valid token with one segment's decoded
/// bytes (header, payload, signature) or its text mutated. Invariants: only
/// the unchanged valid tokens validate; `inspect` and the parsers agree.
pub fn jwt_validate(data: &[u8]) {
    let mut input = Input::new(data);
    let mode = input.byte();
    match mode % 4 {
        0 => {
            let Ok(token) = std::str::from_utf8(input.rest()) else {
                return;
            };
            // The parsers: whatever split / header / claims refuse, inspect
            // refuses too.
            let parsed = __fuzz::split(token, 8 * 1024).and_then(|seg| {
                let header = __fuzz::decode_vec(seg.header, edge_auth::jwt::Part::Header)?;
                __fuzz::parse_header(&header).map(|_| ())?;
                let claims = __fuzz::decode_vec(seg.payload, edge_auth::jwt::Part::Claims)?;
                __fuzz::parse_claims(&claims).map(|_| ())
            });
            let inspected = edge_auth::jwt::inspect(token, 8 * 1024);
            if parsed.is_err() {
                assert!(
                    inspected.is_err(),
                    "inspect accepted what the parsers refuse"
                );
            }
            let accepted = jwt_accepts(token);
            assert_eq!(
                accepted,
                VALID_TOKENS.contains(&token),
                "arbitrary token validated: {token:?}"
            );
        }
        1 => {
            // Decoded-bytes mutation of one segment, re-encoded canonically.
            let original = pick_token(input.byte());
            let segments: Vec<&str> = original.split('.').collect();
            let which = usize::from(input.byte()) % 3;
            let part = [
                edge_auth::jwt::Part::Header,
                edge_auth::jwt::Part::Claims,
                edge_auth::jwt::Part::Signature,
            ][which];
            let bytes = __fuzz::decode_vec(segments[which], part).unwrap();
            let mutated = mutate_bytes(&mut input, &bytes);
            let mut new: Vec<String> = segments.iter().map(|s| (*s).to_owned()).collect();
            new[which] = base64(&mutated, B64URL, false);
            let token = new.join(".");
            let accepted = jwt_accepts(&token);
            assert_eq!(
                accepted,
                mutated == bytes,
                "mutated {part} accepted (or unchanged token refused): {token}"
            );
        }
        _ => {
            // Text mutation: any change to the token's characters (including
            // non-canonical base64url and padding) must be refused.
            let original = pick_token(input.byte());
            let mutated = mutate_bytes(&mut input, original.as_bytes());
            let Ok(token) = std::str::from_utf8(&mutated) else {
                return;
            };
            assert_eq!(
                jwt_accepts(token),
                token == original,
                "mutated token text accepted: {token}"
            );
        }
    }
}

// --------------------------------------------------------------------- jwks

fn key_set_summary(
    set: &Result<edge_auth::jwk::KeySet, edge_auth::jwk::JwkError>,
) -> Result<(usize, Vec<String>, Vec<String>), String> {
    match set {
        Ok(s) => Ok((
            s.len(),
            s.kids().map(str::to_owned).collect(),
            s.diagnostics().iter().map(|d| format!("{d:?}")).collect(),
        )),
        Err(e) => Err(e.to_string()),
    }
}

/// `KeySet::from_jwks` / `from_jwk` on arbitrary bytes with both
/// `allow_symmetric` settings and a small or default `max_keys`.
/// Invariants: never more keys than `max_keys`, deterministic, every
/// skipped key has a diagnostic and loaded plus skipped never exceed the
/// document's keys.
pub fn jwks(data: &[u8]) {
    let Some((&flags, doc)) = data.split_first() else {
        return;
    };
    let mut options = edge_auth::jwk::KeySetOptions::default();
    options.allow_symmetric = flags & 1 != 0;
    if flags & 2 != 0 {
        options.max_keys = usize::from(flags >> 2) % 8;
    }
    let first = edge_auth::jwk::KeySet::from_jwks(doc, &options);
    let second = edge_auth::jwk::KeySet::from_jwks(doc, &options);
    assert_eq!(key_set_summary(&first), key_set_summary(&second));
    if let Ok(set) = &first {
        assert!(set.len() <= options.max_keys, "more keys than max_keys");
        assert!(set.kids().count() <= set.len());
        let declared = serde_json::from_slice::<serde_json::Value>(doc)
            .ok()
            .and_then(|v| v.get("keys").and_then(|k| k.as_array()).map(Vec::len))
            .expect("an accepted JWKS has a keys array");
        assert_eq!(
            set.len() + set.diagnostics().len(),
            declared,
            "every key is loaded or skipped with a diagnostic"
        );
        for kid in set.kids() {
            assert!(set.contains_kid(kid));
        }
    }
    let single = edge_auth::jwk::KeySet::from_jwk(doc, &options);
    if let Ok(set) = single {
        assert_eq!(set.len(), 1);
    }
}

// ---------------------------------------------------------------- discovery

/// `ProviderMetadata::from_json` on arbitrary bytes for a fixed issuer.
/// Invariants: an accepted document names exactly that issuer and an https
/// `jwks_uri`; parsing is deterministic.
pub fn discovery(data: &[u8]) {
    use edge_auth::jwk::discovery::{DiscoveryOptions, ProviderMetadata};
    const ISSUER: &str = "https://issuer.example";
    let options = DiscoveryOptions::default();
    let first = ProviderMetadata::from_json(data, ISSUER, &options);
    let second = ProviderMetadata::from_json(data, ISSUER, &options);
    assert_eq!(
        first
            .as_ref()
            .map(|m| format!("{m:?}"))
            .map_err(ToString::to_string),
        second
            .as_ref()
            .map(|m| format!("{m:?}"))
            .map_err(ToString::to_string),
    );
    // Every URL handed out must be the RFC 3986 absolute form itself, with
    // `//` authority, not one the WHATWG parser would repair.
    let https = |u: &str| {
        u.get(..8)
            .is_some_and(|s| s.eq_ignore_ascii_case("https://"))
            && !u.contains('\\')
    };
    if let Ok(meta) = first {
        assert_eq!(meta.issuer, ISSUER);
        assert!(
            https(&meta.jwks_uri),
            "non-https jwks_uri accepted: {}",
            meta.jwks_uri
        );
        let _ = meta.id_token_signing_algorithms();
    }
    let url = edge_auth::jwk::discovery::discovery_url(
        &String::from_utf8_lossy(data),
        &DiscoveryOptions::default(),
    );
    if let Ok(url) = url {
        assert!(https(&url), "discovery URL not https: {url}");
    }
}

// ------------------------------------------------------------ cache_control

/// An Ed25519-only key set: loading it costs no EC point validation.
const CACHE_JWKS: &str = r#"{"keys":[{"kty":"OKP","crv":"Ed25519","kid":"ed1","use":"sig","x":"A6EHv_POEL4dcN0Y50vAmWfk1jCbpQ1fHdyGZBJVMbg"}]}"#;

/// Serialises the directives the parser keeps, for a round trip.
fn cache_control_string(cc: &__fuzz::CacheControl) -> String {
    let mut parts = Vec::new();
    if let Some(v) = cc.max_age {
        parts.push(format!("max-age={v}"));
    }
    if let Some(v) = cc.s_maxage {
        parts.push(format!("s-maxage={v}"));
    }
    if cc.no_store {
        parts.push("no-store".to_owned());
    }
    if cc.no_cache {
        parts.push("no-cache".to_owned());
    }
    if cc.private {
        parts.push("private".to_owned());
    }
    parts.join(", ")
}

/// IMF-fixdate (RFC 9110 §5.6.7) of a time with a four-digit year.
fn imf_fixdate(t: OffsetDateTime) -> String {
    let t = t.to_offset(time::UtcOffset::UTC);
    let day = ["Mon", "Tue", "Wed", "Thu", "Fri", "Sat", "Sun"]
        [usize::from(t.weekday().number_days_from_monday())];
    let month = [
        "Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec",
    ][usize::from(u8::from(t.month()) - 1)];
    format!(
        "{day}, {:02} {month} {:04} {:02}:{:02}:{:02} GMT",
        t.day(),
        t.year(),
        t.hour(),
        t.minute(),
        t.second()
    )
}

/// The Cache-Control and HTTP-date parsers, and a `JwksCache` fed a `200`
/// and then a `304` with arbitrary Cache-Control / Expires / Age / Date /
/// ETag headers. Invariants: parse -> serialise -> parse identity; a parsed
/// date re-parses from its IMF-fixdate; the cache's expiry always lies in
/// `[now + min_ttl, now + max_ttl]` of the response that set it.
pub fn cache_control(data: &[u8]) {
    let now = now();
    match __fuzz::parse_cache_control(data) {
        Ok(cc) => {
            let text = cache_control_string(&cc);
            let again = __fuzz::parse_cache_control(text.as_bytes())
                .unwrap_or_else(|e| panic!("serialised `{text}` does not parse: {e}"));
            assert_eq!(cc, again, "cache-control round trip changed `{text}`");
            assert!(cc.max_age.is_none_or(|v| v <= 1 << 31));
            assert!(cc.s_maxage.is_none_or(|v| v <= 1 << 31));
        }
        Err(e) => {
            let _ = e.to_string();
        }
    }
    if let Some(t) = __fuzz::parse_http_date(data, now) {
        assert_eq!(t.offset(), time::UtcOffset::UTC);
        assert_eq!(t.nanosecond(), 0);
        if (0..=9999).contains(&t.year()) {
            let text = imf_fixdate(t);
            assert_eq!(
                __fuzz::parse_http_date(text.as_bytes(), now),
                Some(t),
                "`{text}` does not re-parse to the same date"
            );
            if data.len() == 29 && data.get(3) == Some(&b',') {
                assert_eq!(
                    text.as_bytes(),
                    data,
                    "IMF-fixdate accepted in a non-canonical form"
                );
            }
        }
    }

    // The cache: input lines are `name: value` headers; a line `--` starts
    // the 304's headers, sent `delay` seconds later.
    use edge_auth::jwk::cache::{CacheConfig, JwksCache};
    let mut config = CacheConfig::default();
    let mut input = Input::new(data);
    let shape = input.byte();
    config.shared = shape & 1 != 0;
    config.min_ttl = Duration::seconds((i64::from(input.byte()) + 1) * 10);
    config.max_ttl = config.min_ttl + Duration::seconds(i64::from(input.u16()) * 10);
    let delay = Duration::seconds(i64::from(input.u16()));
    let (min_ttl, max_ttl) = (config.min_ttl, config.max_ttl);
    let Ok(mut cache) = JwksCache::new(
        "https://issuer.example",
        "https://issuer.example/jwks",
        config,
    ) else {
        return;
    };
    let rest = input.rest();
    let mut sections = rest.split(|&b| b == b'\n').collect::<Vec<_>>().into_iter();
    let first: Vec<&[u8]> = sections.by_ref().take_while(|l| *l != b"--").collect();
    let second: Vec<&[u8]> = sections.collect();
    let check = |cache: &JwksCache, at: OffsetDateTime| {
        let expires = cache.expires_at().expect("a loaded set has an expiry");
        assert!(
            expires >= at + min_ttl && expires <= at + max_ttl,
            "expiry {expires} outside [{}, {}]",
            at + min_ttl,
            at + max_ttl
        );
    };
    let _plan = cache.poll(now);
    let headers = headers_from(first.into_iter());
    if cache
        .apply_response(http::StatusCode::OK, &headers, CACHE_JWKS.as_bytes(), now)
        .is_ok()
    {
        check(&cache, now);
        let later = now + delay;
        let _plan = cache.poll(later);
        let headers = headers_from(second.into_iter());
        if cache
            .apply_response(http::StatusCode::NOT_MODIFIED, &headers, b"", later)
            .is_ok()
        {
            check(&cache, later);
        }
        assert!(cache.key_set(later).is_some() || delay > Duration::hours(24));
    }
}

// -------------------------------------------------------------------- roles

/// Claims -> principal with each provider preset, on arbitrary JSON, with
/// small or default limits. Invariants: deterministic; no source yields
/// more values than `max_values_per_claim`; no value is empty; the
/// truncation flag is set whenever a limit cut values.
pub fn roles(data: &[u8]) {
    use edge_auth::oidc::RoleMapper;
    let Some((&choice, json)) = data.split_first() else {
        return;
    };
    let Ok(serde_json::Value::Object(claims)) = serde_json::from_slice(json) else {
        return;
    };
    let mut mapper = match choice % 6 {
        0 => RoleMapper::entra_id("api://fuzz-app"),
        1 => RoleMapper::okta(),
        2 => RoleMapper::keycloak("fuzz-client"),
        3 => RoleMapper::auth0("https://fuzz.example/"),
        4 => RoleMapper::cognito(),
        _ => RoleMapper::google(),
    };
    if choice & 0x40 != 0 {
        mapper.max_values_per_claim = usize::from(choice >> 3 & 7);
        mapper.max_value_len = usize::from(choice & 0x38) + 1;
    }
    let a = mapper.map(&claims);
    let b = mapper.map(&claims);
    assert_eq!(a, b, "role mapping is not deterministic");
    assert!(
        !a.truncated || !a.incomplete.is_none(),
        "values were cut but no set is marked incomplete"
    );
    for (target, set) in [
        (edge_auth::oidc::Target::Roles, &a.roles),
        (edge_auth::oidc::Target::Scopes, &a.scopes),
        (edge_auth::oidc::Target::Groups, &a.groups),
    ] {
        let sources = mapper.sources.iter().filter(|s| s.target == target).count();
        assert!(
            set.len() <= sources * mapper.max_values_per_claim,
            "{} values for {sources} sources of {target:?}, limit {} each",
            set.len(),
            mapper.max_values_per_claim
        );
        for value in set {
            assert!(!value.is_empty(), "empty {target:?} value");
        }
    }
}

// ------------------------------------------------------------------- policy

/// A policy document (before the first NUL byte) parsed, compiled and
/// evaluated against request facts (after it: method, path, host, client
/// IP, country, then header lines), with and without a principal.
/// Invariants: deterministic; no rules means deny; an allow names an allow
/// rule of the document, and without a principal only an `anonymous` one.
pub fn policy(data: &[u8]) {
    use edge_auth::policy::{Effect, Policy, RequestFacts};
    let split = data.iter().position(|&b| b == 0).unwrap_or(data.len());
    let (doc, facts) = data.split_at(split);
    let facts = facts.get(1..).unwrap_or_default();
    let Ok(doc) = std::str::from_utf8(doc) else {
        return;
    };
    let Ok(policy) = Policy::from_json(doc) else {
        return;
    };
    let Ok(compiled) = policy.compile() else {
        return;
    };
    let mut lines = facts.split(|&b| b == b'\n');
    let method = lines
        .next()
        .and_then(|m| http::Method::from_bytes(m).ok())
        .unwrap_or(http::Method::GET);
    let path = lines
        .next()
        .and_then(|p| std::str::from_utf8(p).ok())
        .unwrap_or("/");
    let host = lines.next().and_then(|h| std::str::from_utf8(h).ok());
    let ip = lines
        .next()
        .and_then(|i| std::str::from_utf8(i).ok())
        .and_then(|i| i.parse::<std::net::IpAddr>().ok());
    let country = lines.next().and_then(|c| std::str::from_utf8(c).ok());
    let headers = headers_from(lines);
    let mut facts = RequestFacts::new(&method, path).with_headers(&headers);
    if let Some(host) = host.filter(|h| !h.is_empty()) {
        facts = facts.with_host(host);
    }
    if let Some(ip) = ip {
        facts = facts.with_client_ip(ip);
    }
    if let Some(country) = country.filter(|c| !c.is_empty()) {
        facts = facts.with_country(country);
    }
    let principal = edge_auth::Principal::new("user-1")
        .with_issuer("https://issuer.example")
        .with_roles(["admin", "reader"])
        .with_scopes(["read", "write"])
        .with_groups(["g1"]);
    // The same principal, but the mapper had to cut its roles and scopes.
    let mut cut = principal.clone();
    cut.truncated = true;
    for who in [None, Some(&principal), Some(&cut)] {
        let first = compiled.evaluate(&facts, who);
        let second = compiled.evaluate(&facts, who);
        assert_eq!(first, second, "evaluation is not deterministic");
        if policy.rules.is_empty() {
            assert_eq!(first.effect, Effect::Deny, "allowed with no rules");
        }
        if first.effect == Effect::Allow {
            let id = first.rule_id.as_deref().expect("an allow names its rule");
            let rule = policy
                .rules
                .iter()
                .find(|r| r.id == id)
                .unwrap_or_else(|| panic!("allow by unknown rule `{id}`"));
            assert_eq!(rule.effect, Effect::Allow, "allow from deny rule `{id}`");
            if who.is_some_and(|p| p.truncated) {
                let r = &rule.require;
                assert!(
                    r.any_roles.is_none() && r.all_roles.is_none() && r.scopes.is_none(),
                    "rule `{id}` allowed on a cut role or scope set"
                );
            }
            if who.is_none() {
                assert!(
                    rule.require.anonymous,
                    "rule `{id}` allowed an anonymous request without `anonymous`"
                );
            }
        }
    }
}

// -------------------------------------------------------------------- sigv4

struct SigV4Fixture {
    key_cache: edge_auth::sigv4::SigningKeyCache,
    parts: http::request::Parts,
    body: Vec<u8>,
    presigned: http::request::Parts,
}

const SIGV4_AKID: &str = "AKIDEXAMPLE";
const SIGV4_SECRET: &str = "wJalrXUtnFEMI/K7MDENG+bPxRfiCYEXAMPLEKEY";

fn sigv4_fixture() -> &'static SigV4Fixture {
    static FIXTURE: OnceLock<SigV4Fixture> = OnceLock::new();
    FIXTURE.get_or_init(|| {
        use edge_auth::sigv4::{self, Credentials, Payload, SigningParams};
        let creds = Credentials::new(SIGV4_AKID, SIGV4_SECRET);
        let params = SigningParams::new("us-east-1", "execute-api", now());
        let mut request =
            http::Request::post("https://api.example.com/prod/items?limit=10&b=x%20y")
                .header("content-type", "application/json")
                .header("x-custom", "a  b")
                .body(br#"{"hello":"world"}"#.to_vec())
                .unwrap();
        let (parts, body) = request.into_parts();
        let out = sigv4::sign(&parts, Payload::Bytes(&body), &creds, &params).unwrap();
        request = http::Request::from_parts(parts, body);
        out.apply_to(&mut request).unwrap();
        let (parts, body) = request.into_parts();

        let mut get = http::Request::get("https://api.example.com/prod/items?limit=10")
            .body(())
            .unwrap();
        let (gparts, ()) = get.into_parts();
        let out = sigv4::presign(
            &gparts,
            Payload::Bytes(b""),
            &creds,
            &params,
            Duration::minutes(10),
        )
        .unwrap();
        get = http::Request::from_parts(gparts, ());
        out.apply_to(&mut get).unwrap();
        let (presigned, ()) = get.into_parts();
        SigV4Fixture {
            key_cache: edge_auth::sigv4::SigningKeyCache::default(),
            parts,
            body,
            presigned,
        }
    })
}

fn sigv4_verifies(parts: &http::request::Parts, body: &[u8]) -> bool {
    use edge_auth::sigv4::{self, Payload, VerifyParams};
    let lookup =
        |akid: &str| (akid == SIGV4_AKID).then(|| edge_auth::Secret::new(SIGV4_SECRET.to_owned()));
    let mut params = VerifyParams::new("us-east-1", "execute-api", now());
    // Cached signing keys, as a deployment would: four HMACs saved per call.
    params.key_cache = Some(&sigv4_fixture().key_cache);
    let first = sigv4::verify(parts, Payload::Bytes(body), lookup, &params);
    if first.is_ok() {
        // Rare (unchanged requests only), so check more where it is cheap.
        let second = sigv4::verify(parts, Payload::Bytes(body), lookup, &params);
        assert!(second.is_ok(), "verification is not deterministic");
        assert!(
            __fuzz::sigv4_verifier_canonical_request(parts).is_ok(),
            "verified without a canonical request"
        );
    } else {
        let _ = __fuzz::sigv4_verifier_canonical_request(parts);
    }
    first.is_ok()
}

fn with_uri(parts: &http::request::Parts, path_and_query: &[u8]) -> Option<http::request::Parts> {
    let mut uri = parts.uri.clone().into_parts();
    uri.path_and_query = Some(http::uri::PathAndQuery::try_from(path_and_query).ok()?);
    let mut out = parts.clone();
    out.uri = http::Uri::from_parts(uri).ok()?;
    Some(out)
}

/// SigV4 parsers and canonicalisers on arbitrary input, and a signed (and a
/// presigned) request mutated in one part chosen by the input: method,
/// path, query, a signed header's value, the body, the signature or the
/// date. Invariants: a mutated request never verifies unless its canonical
/// form is unchanged; the canonical query is idempotent.
pub fn sigv4(data: &[u8]) {
    let mut input = Input::new(data);
    let mode = input.byte();
    let f = sigv4_fixture();
    match mode % 8 {
        0 => {
            let rest = input.rest();
            let _ = __fuzz::sigv4_parse_authorization(rest);
            let text = String::from_utf8_lossy(rest);
            let once = __fuzz::sigv4_canonical_query(&text);
            let twice = __fuzz::sigv4_canonical_query(std::str::from_utf8(&once).unwrap());
            assert_eq!(once, twice, "canonical query is not idempotent");
            let _ = __fuzz::sigv4_canonical_path(&text, true, true);
            let _ = __fuzz::sigv4_canonical_path(&text, false, false);
            let trimmed = __fuzz::sigv4_trim_header_value(rest);
            assert_eq!(__fuzz::sigv4_trim_header_value(&trimmed), trimmed);
            if let Some(parts) = request_from(rest)
                && sigv4_verifies(&parts, b"")
            {
                // Only the fixture's presigned request (from a seed) can.
                assert_eq!(
                    __fuzz::sigv4_verifier_canonical_request(&parts).ok(),
                    __fuzz::sigv4_verifier_canonical_request(&f.presigned).ok(),
                    "arbitrary request verified"
                );
            }
        }
        1 => {
            let method = http::Method::from_bytes(input.bytes()).unwrap_or(http::Method::PUT);
            let mut parts = f.parts.clone();
            parts.method = method.clone();
            assert_eq!(sigv4_verifies(&parts, &f.body), method == f.parts.method);
        }
        2 | 3 => {
            // Path (mode 2) or query (mode 3) replaced; compare canonical forms.
            let presigned = mode & 0x80 != 0;
            let base = if presigned { &f.presigned } else { &f.parts };
            let body: &[u8] = if presigned { b"" } else { &f.body };
            let old_path = base.uri.path();
            let old_query = base.uri.query().unwrap_or_default();
            let new = String::from_utf8_lossy(input.bytes()).into_owned();
            let (path, query) = if mode % 8 == 2 {
                (new, old_query.to_owned())
            } else if presigned {
                // Keep the X-Amz-* parameters, change the rest.
                (old_path.to_owned(), format!("{new}&{old_query}"))
            } else {
                (old_path.to_owned(), new)
            };
            let pq = if query.is_empty() {
                path.clone()
            } else {
                format!("{path}?{query}")
            };
            let Some(parts) = with_uri(base, pq.as_bytes()) else {
                return;
            };
            let canonical = |p: &http::request::Parts| {
                (
                    __fuzz::sigv4_canonical_path(p.uri.path(), true, true),
                    __fuzz::sigv4_canonical_query(p.uri.query().unwrap_or_default()),
                )
            };
            let unchanged = canonical(&parts) == canonical(base);
            assert_eq!(
                sigv4_verifies(&parts, body),
                unchanged,
                "request with uri {} (signed {})",
                parts.uri,
                base.uri
            );
        }
        4 => {
            let names: Vec<&http::HeaderName> = f
                .parts
                .headers
                .keys()
                .filter(|n| *n != http::header::AUTHORIZATION)
                .collect();
            let name = names[usize::from(input.byte()) % names.len()];
            let old = f.parts.headers[name].as_bytes();
            let mutated = mutate_bytes(&mut input, old);
            let Ok(value) = http::HeaderValue::from_bytes(&mutated) else {
                return;
            };
            let mut parts = f.parts.clone();
            parts.headers.insert(name.clone(), value);
            let unchanged =
                __fuzz::sigv4_trim_header_value(old) == __fuzz::sigv4_trim_header_value(&mutated);
            assert_eq!(
                sigv4_verifies(&parts, &f.body),
                unchanged,
                "header `{name}` mutated to {:?}",
                String::from_utf8_lossy(&mutated)
            );
        }
        5 => {
            let body = mutate_bytes(&mut input, &f.body);
            assert_eq!(sigv4_verifies(&f.parts, &body), body == f.body);
        }
        6 => {
            // The Authorization header's text, mutated anywhere.
            let old = f.parts.headers["authorization"].as_bytes();
            let mutated = mutate_bytes(&mut input, old);
            let Ok(value) = http::HeaderValue::from_bytes(&mutated) else {
                return;
            };
            let mut parts = f.parts.clone();
            parts.headers.insert("authorization", value);
            let same = match (
                __fuzz::sigv4_parse_authorization(old),
                __fuzz::sigv4_parse_authorization(&mutated),
            ) {
                (Ok(a), Ok(b)) => {
                    a.credential == b.credential
                        && a.signed_headers == b.signed_headers
                        && a.signature.eq_ignore_ascii_case(b.signature)
                }
                _ => false,
            };
            let verified = sigv4_verifies(&parts, &f.body);
            assert!(
                same || !verified,
                "authorization mutated to {:?} verified",
                String::from_utf8_lossy(&mutated)
            );
            if mutated == old {
                assert!(verified, "the signed request does not verify");
            }
        }
        _ => {
            // A presigned URL's query text mutated anywhere: the canonical
            // query (and so the signature) must stay the same to verify.
            let old = f.presigned.uri.query().unwrap_or_default().as_bytes();
            let mutated = mutate_bytes(&mut input, old);
            let mut pq = b"/prod/items?".to_vec();
            pq.extend_from_slice(&mutated);
            let Some(parts) = with_uri(&f.presigned, &pq) else {
                return;
            };
            let now_query = parts.uri.query().unwrap_or_default();
            let unchanged = __fuzz::sigv4_canonical_query(now_query)
                == __fuzz::sigv4_canonical_query(std::str::from_utf8(old).unwrap());
            if !unchanged {
                assert!(
                    !sigv4_verifies(&parts, b""),
                    "presigned query mutated to {now_query:?} verified"
                );
            }
        }
    }
}

// -------------------------------------------------------- structured_fields

/// RFC 9651 parse -> serialise -> parse identity for dictionaries (the
/// Signature-Input / Signature / Content-Digest shape), lists and items,
/// and serialisation is a fixed point: the seam is the `sfv` crate's parser
/// and serialiser under our model, plus the RFC 9421 component identifiers
/// and RFC 9530 digests built on it (docs/adr/0009).
pub fn structured_fields(data: &[u8]) {
    let Ok(text) = std::str::from_utf8(data) else {
        return;
    };
    if let Ok(dict) = __fuzz::parse_dictionary(text) {
        let s = __fuzz::serialize_dictionary(&dict)
            .unwrap_or_else(|e| panic!("parsed dictionary does not serialise: {e}"));
        let again = __fuzz::parse_dictionary(&s)
            .unwrap_or_else(|e| panic!("serialised dictionary `{s}` does not parse: {e}"));
        assert_eq!(dict, again, "dictionary round trip through `{s}`");
        assert_eq!(__fuzz::serialize_dictionary(&again).unwrap(), s);
        let raw = __fuzz::parse_dictionary_raw(text).expect("raw parse accepts what parse does");
        assert!(raw.len() >= dict.len());
    } else {
        assert!(__fuzz::parse_dictionary_raw(text).is_err());
    }
    if let Ok(list) = __fuzz::parse_list(text) {
        let s = __fuzz::serialize_list(&list)
            .unwrap_or_else(|e| panic!("parsed list does not serialise: {e}"));
        let again = __fuzz::parse_list(&s)
            .unwrap_or_else(|e| panic!("serialised list `{s}` does not parse: {e}"));
        assert_eq!(list, again, "list round trip through `{s}`");
        assert_eq!(__fuzz::serialize_list(&again).unwrap(), s);
        for entry in &list {
            if let __fuzz::Entry::InnerList(items, params) = entry {
                let inner = __fuzz::serialize_inner_list(items, params).unwrap();
                assert!(s.contains(&inner));
            }
        }
    }
    if let Ok(item) = __fuzz::parse_item(text) {
        let s = __fuzz::serialize_item(&item)
            .unwrap_or_else(|e| panic!("parsed item does not serialise: {e}"));
        let again = __fuzz::parse_item(&s)
            .unwrap_or_else(|e| panic!("serialised item `{s}` does not parse: {e}"));
        assert_eq!(item, again, "item round trip through `{s}`");
    }
    // The RFC 9421 layer over sfv: a component identifier that is accepted
    // serialises canonically, and that text reads back as the same
    // component with the same text.
    if let Ok(c) = edge_auth::httpsig::Component::try_from_identifier(text) {
        let s = c.to_string();
        let again = edge_auth::httpsig::Component::try_from_identifier(&s)
            .unwrap_or_else(|e| panic!("identifier `{s}` does not read back: {e}"));
        assert_eq!(c, again, "component round trip through `{s}`");
        assert_eq!(again.to_string(), s);
    }
    // Content-Digest against a fixed body: never panics, and only a digest
    // of that body verifies.
    let mut headers = http::HeaderMap::new();
    if let Ok(v) = http::HeaderValue::from_str(text) {
        headers.insert("content-digest", v);
        let _ = edge_auth::httpsig::verify_content_digest(&headers, b"{\"hello\":\"world\"}");
    }
}

// ----------------------------------------------------------- httpsig_verify

const HTTPSIG_SECRET: [u8; 32] = [42; 32];

struct HttpSigFixture {
    parts: http::request::Parts,
    body: Vec<u8>,
    keys: edge_auth::httpsig::KeyRing,
    verifier: edge_auth::httpsig::Verifier,
}

fn httpsig_fixture() -> &'static HttpSigFixture {
    static FIXTURE: OnceLock<HttpSigFixture> = OnceLock::new();
    FIXTURE.get_or_init(|| {
        use edge_auth::Secret;
        use edge_auth::httpsig::{KeyRing, Signer, SignerConfig, SigningKey, VerifyingKey};
        let secret = Secret::new(HTTPSIG_SECRET.to_vec());
        let signer = Signer::new(
            SigningKey::try_from_hmac_sha256("k1", &secret).unwrap(),
            SignerConfig::default(),
        )
        .unwrap();
        let mut keys = KeyRing::new();
        keys.insert("k1", VerifyingKey::try_from_hmac_sha256(&secret).unwrap());
        let (parts, body) = http::Request::post("https://api.example/orders?id=7&x=y")
            .header("content-type", "application/json")
            .body(br#"{"hello":"world"}"#.to_vec())
            .unwrap()
            .into_parts();
        let out = signer.sign(&parts, &body, Some("n-1"), now()).unwrap();
        let mut request = http::Request::from_parts(parts, body);
        out.apply_to(&mut request);
        let (parts, body) = request.into_parts();
        HttpSigFixture {
            parts,
            body,
            keys,
            verifier: edge_auth::httpsig::Verifier::default(),
        }
    })
}

fn httpsig_verifies(parts: &http::request::Parts, body: &[u8]) -> bool {
    let f = httpsig_fixture();
    let first = f.verifier.verify(parts, body, &f.keys, None, now());
    let second = f.verifier.verify(parts, body, &f.keys, None, now());
    assert_eq!(
        first
            .as_ref()
            .map(|v| format!("{v:?}"))
            .map_err(ToString::to_string),
        second
            .as_ref()
            .map(|v| format!("{v:?}"))
            .map_err(ToString::to_string),
        "verification is not deterministic"
    );
    first.is_ok()
}

fn sf_bytes(parts: &http::request::Parts, name: &str) -> Vec<u8> {
    let field = parts.headers[name].to_str().unwrap();
    let dict = __fuzz::parse_dictionary(field).unwrap();
    match &dict[0].1 {
        __fuzz::Entry::Item(item) => match &item.bare {
            __fuzz::BareItem::ByteSequence(b) => b.clone(),
            other => panic!("unexpected {other:?}"),
        },
        other => panic!("unexpected {other:?}"),
    }
}

/// RFC 9421 verification of arbitrary requests and of a signed request
/// (HMAC-SHA256, covering `@method`, `@authority`, `@path`, `@query` and
/// `content-digest`) mutated in one part chosen by the input. Invariants:
/// nothing arbitrary verifies; a mutation verifies only when it leaves the
/// covered components, the parsed signature parameters and the signature
/// bytes unchanged; verification is deterministic.
pub fn httpsig_verify(data: &[u8]) {
    let mut input = Input::new(data);
    let mode = input.byte();
    let f = httpsig_fixture();
    match mode % 7 {
        0 => {
            let rest = input.rest();
            let (head, body) = match rest.iter().position(|&b| b == 0) {
                Some(i) => (&rest[..i], &rest[i + 1..]),
                None => (rest, &[][..]),
            };
            if let Some(parts) = request_from(head) {
                let verified = httpsig_verifies(&parts, body);
                // Only the fixture's own signature (e.g. from a seed) can
                // verify, and then over the fixture's components.
                if verified {
                    assert_eq!(parts.method, f.parts.method);
                    assert_eq!(parts.uri.path(), f.parts.uri.path());
                    assert_eq!(parts.uri.query(), f.parts.uri.query());
                    assert_eq!(body, &f.body[..]);
                }
            }
        }
        1 => {
            let method = http::Method::from_bytes(input.bytes()).unwrap_or(http::Method::PUT);
            let mut parts = f.parts.clone();
            parts.method = method.clone();
            assert_eq!(httpsig_verifies(&parts, &f.body), method == f.parts.method);
        }
        2 => {
            // The request target replaced: authority, path or query.
            let new = input.bytes();
            let which = input.byte() % 3;
            let old = &f.parts.uri;
            let text = String::from_utf8_lossy(new);
            let uri = match which {
                0 => format!("https://{text}{}", old.path_and_query().unwrap()),
                1 => format!("https://api.example{text}?{}", old.query().unwrap()),
                _ => format!("https://api.example{}?{text}", old.path()),
            };
            let Ok(uri) = uri.parse::<http::Uri>() else {
                return;
            };
            let mut parts = f.parts.clone();
            parts.uri = uri.clone();
            // RFC 9421 §2.2.3: `@authority` is host and port (RFC 9110
            // §7.2); userinfo (`https://user@host`) is not part of it.
            let authority = |u: &http::Uri| {
                u.authority().map(|a| {
                    let a = a
                        .as_str()
                        .rsplit_once('@')
                        .map_or(a.as_str(), |(_, host)| host)
                        .to_ascii_lowercase();
                    a.strip_suffix(":443").map(str::to_owned).unwrap_or(a)
                })
            };
            let query = |u: &http::Uri| format!("?{}", u.query().unwrap_or_default());
            let path = |u: &http::Uri| match u.path() {
                "" => "/".to_owned(),
                p => p.to_owned(),
            };
            let unchanged = authority(&uri) == authority(old)
                && path(&uri) == path(old)
                && query(&uri) == query(old);
            if !unchanged {
                assert!(
                    !httpsig_verifies(&parts, &f.body),
                    "verified with target {uri} (signed {old})"
                );
            }
        }
        3 => {
            let body = mutate_bytes(&mut input, &f.body);
            assert_eq!(httpsig_verifies(&f.parts, &body), body == f.body);
        }
        4 => {
            // The signature's bytes changed, re-encoded canonically.
            let old = sf_bytes(&f.parts, "signature");
            let new = mutate_bytes(&mut input, &old);
            let value = format!("sig1=:{}:", base64(&new, B64STD, true));
            let mut parts = f.parts.clone();
            parts
                .headers
                .insert("signature", http::HeaderValue::from_str(&value).unwrap());
            assert_eq!(
                httpsig_verifies(&parts, &f.body),
                new == old,
                "signature bytes changed and verified: {value}"
            );
        }
        _ => {
            // The text of Signature-Input (mode 5), Signature (6) or
            // Content-Digest mutated anywhere: verifies only if the field
            // still parses to the same structured value.
            let name = ["signature-input", "signature", "content-digest"]
                [usize::from(mode % 7 - 5 + (mode >> 7))];
            let old = f.parts.headers[name].as_bytes();
            let mutated = mutate_bytes(&mut input, old);
            let Ok(value) = http::HeaderValue::from_bytes(&mutated) else {
                return;
            };
            let mut parts = f.parts.clone();
            parts.headers.insert(name, value);
            let verified = httpsig_verifies(&parts, &f.body);
            if name == "content-digest" {
                // Covered as a plain field: its trimmed bytes are signed.
                assert_eq!(
                    verified,
                    mutated.trim_ascii() == old.trim_ascii(),
                    "`{name}` mutated to {:?}",
                    String::from_utf8_lossy(&mutated)
                );
                return;
            }
            // The `sig1` member must be unchanged to verify (for Signature,
            // its byte sequence: RFC 9421 §4.2 gives its parameters no
            // meaning); an identical (raw) dictionary must verify.
            // A field value carries no leading or trailing OWS (RFC 9110
            // §5.5): compare what the fields say once that is stripped.
            let ows = |t: &str| t.trim_matches([' ', '\t']).to_owned();
            let member = |text: &[u8]| {
                let text = ows(std::str::from_utf8(text).ok()?);
                let text = text.as_str();
                let dict = __fuzz::parse_dictionary(text).ok()?;
                let (_, entry) = dict.into_iter().find(|(k, _)| k == "sig1")?;
                match entry {
                    __fuzz::Entry::Item(item) if name == "signature" => {
                        Some(__fuzz::Entry::Item(__fuzz::Item {
                            bare: item.bare,
                            params: Vec::new(),
                        }))
                    }
                    other => Some(other),
                }
            };
            if verified {
                assert!(
                    member(&mutated).is_some() && member(&mutated) == member(old),
                    "`{name}` mutated to {:?} verified",
                    String::from_utf8_lossy(&mutated)
                );
            }
            let raw = |text: &[u8]| {
                std::str::from_utf8(text)
                    .ok()
                    .and_then(|t| __fuzz::parse_dictionary_raw(&ows(t)).ok())
            };
            if raw(&mutated).is_some() && raw(&mutated) == raw(old) {
                assert!(
                    verified,
                    "`{name}` rewritten to an equal {:?} does not verify",
                    String::from_utf8_lossy(&mutated)
                );
            }
        }
    }
}

// ---------------------------------------------------------- policy_patterns

/// The policy's path and CIDR parsers on arbitrary text. Invariants:
/// request-path normalisation is idempotent and its output is free of dot
/// and empty segments; a CIDR block printed canonically parses back to the
/// same text; path patterns never panic.
pub fn policy_patterns(data: &[u8]) {
    let Ok(text) = std::str::from_utf8(data) else {
        return;
    };
    if let Some(normalized) = __fuzz::normalize_request_path(text) {
        assert_eq!(
            __fuzz::normalize_request_path(&normalized).as_deref(),
            Some(normalized.as_str()),
            "normalising `{text}` twice changed it"
        );
        assert!(
            normalized.starts_with('/'),
            "`{normalized}` is not absolute"
        );
        for segment in normalized.split('/').skip(1) {
            let head = segment.split(';').next().unwrap_or_default();
            assert!(
                head != "." && head != "..",
                "dot segment survived in `{normalized}`"
            );
        }
        assert!(
            !normalized.contains("//"),
            "empty segment in `{normalized}`"
        );
    }
    if let Some(read) = __fuzz::profile_request_path(text) {
        assert_eq!(
            __fuzz::profile_request_path(&read).as_deref(),
            Some(read.as_str()),
            "reading `{text}` through the Windows profile twice changed it"
        );
        for segment in read.split('/').skip(1) {
            assert!(
                !segment.ends_with('.') && !segment.ends_with("%20"),
                "trailing dot or space survived in `{read}`"
            );
            // Outside its `%XX` triplets (whose hex digits are upper case).
            let mut bytes = segment.bytes();
            while let Some(b) = bytes.next() {
                if b == b'%' {
                    bytes.nth(1);
                } else {
                    assert!(!b.is_ascii_uppercase(), "upper case survived in `{read}`");
                }
            }
        }
    }
    let _ = __fuzz::parse_path_pattern(text);
    if let Some(cidr) = __fuzz::parse_cidr(text) {
        assert_eq!(
            __fuzz::parse_cidr(&cidr).as_deref(),
            Some(cidr.as_str()),
            "canonical CIDR `{cidr}` (from `{text}`) does not round-trip"
        );
    }
}

// ------------------------------------------------------------ json_reader

/// serde_json (without `float_roundtrip`) may be a few units in the last
/// place off for long significands; the reader rounds correctly.
fn json_close(a: &serde_json::Value, b: &serde_json::Value) -> bool {
    use serde_json::Value;
    match (a, b) {
        (Value::Number(x), Value::Number(y)) if x.is_f64() && y.is_f64() => {
            let (x, y) = (x.as_f64().unwrap(), y.as_f64().unwrap());
            x == y || (x - y).abs() <= 1e-14 * x.abs().max(y.abs())
        }
        (Value::Array(x), Value::Array(y)) => {
            x.len() == y.len() && x.iter().zip(y).all(|(a, b)| json_close(a, b))
        }
        (Value::Object(x), Value::Object(y)) => {
            x.len() == y.len()
                && x.iter()
                    .zip(y)
                    .all(|((k, a), (l, b))| k == l && json_close(a, b))
        }
        _ => a == b,
    }
}

#[derive(Debug, PartialEq, serde::Deserialize)]
enum FuzzKind {
    Unit,
    New(String),
    Pair(u8, bool),
    Rec { x: i32, y: Option<u64> },
}

#[derive(Debug, PartialEq, serde::Deserialize)]
struct FuzzInner {
    s: String,
    #[serde(default)]
    n: Option<i64>,
}

#[derive(Debug, PartialEq, serde::Deserialize)]
struct FuzzClaims {
    sub: Option<String>,
    exp: Option<i64>,
    #[serde(default)]
    aud: Vec<String>,
    kind: Option<FuzzKind>,
    inner: Option<Vec<FuzzInner>>,
    big: Option<u128>,
    #[serde(flatten)]
    rest: std::collections::BTreeMap<String, bool>,
}

/// Whether `v` holds a number that rounds to (minus) `f64::MAX`: there
/// serde_json's float parsing (without `float_roundtrip`, not correctly
/// rounded) may overflow and refuse a number the reader, correctly
/// rounding, accepts (`1.7976931348623158e308`), or take as `f64::MAX`
/// one that rounds to infinity (`1.79769313486231581e308`).
pub fn json_near_f64_max(v: &serde_json::Value) -> bool {
    use serde_json::Value;
    match v {
        Value::Number(n) => n
            .as_f64()
            .is_some_and(|f| f.abs() >= 1.797_693_134_862_31e308),
        Value::Array(items) => items.iter().any(json_near_f64_max),
        Value::Object(m) => m.values().any(json_near_f64_max),
        _ => false,
    }
}

/// Where the reader may refuse what serde_json takes for a typed caller:
/// lone surrogates and out-of-range numbers in members the type skips,
/// repeated member names, a struct written as an array of its fields.
fn json_stricter_on_skipped(err: &str) -> bool {
    err.contains("lone UTF-16 surrogate")
        || err.contains("number out of range")
        || err.contains("duplicate member")
        || err.contains("invalid type: sequence, expected struct")
}

/// Differential: the crate's JSON reader against serde_json. For `Value`,
/// both accept with equal values or both refuse (the reader refuses more
/// only for nesting deeper than 64, 128 for documents, and for a member
/// name repeated in an object); through the claims path, also duplicate
/// top-level members and anything but an object; for a typed struct, the
/// same, plus lone surrogates / out-of-range numbers in members the
/// struct skips and a struct written as an array.
pub fn json_reader(data: &[u8]) {
    use serde_json::Value;
    let Ok(text) = std::str::from_utf8(data) else {
        assert!(
            __fuzz::parse_claims(data).is_err(),
            "non-UTF-8 claims accepted"
        );
        return;
    };
    let depth_64 = |e: &str| e.contains("nests deeper than 64");
    let duplicate = |e: &str| e.contains("duplicate member");
    let ours = __fuzz::json_from_str::<Value>(text);
    let theirs = serde_json::from_str::<Value>(text);
    // At the top of the f64 range the two disagree both ways (serde_json
    // may overflow below the rounding midpoint or stay finite above it).
    match (&ours, &theirs) {
        (Ok(v), Err(e))
            if e.to_string().contains("number out of range") && json_near_f64_max(v) =>
        {
            return;
        }
        (Err(e), Ok(v)) if e.contains("number out of range") && json_near_f64_max(v) => return,
        _ => {}
    }
    match (&ours, &theirs) {
        (Ok(a), Ok(b)) => assert!(json_close(a, b), "{text:?}: {a} != {b}"),
        (Err(_), Err(_)) => {}
        (Err(e), Ok(_)) => assert!(
            depth_64(e) || duplicate(e),
            "{text:?}: refused ({e}), serde_json accepts"
        ),
        (Ok(a), Err(e)) => panic!("{text:?}: accepted as {a}, serde_json refuses: {e}"),
    }
    // As documents are read (depth 128, like serde_json's): the same
    // value, or a refusal for a repeated name only.
    let doc = __fuzz::json_from_document::<Value>(data);
    match (&doc, &theirs) {
        (Ok(a), Ok(b)) => assert!(json_close(a, b), "{text:?}: {a} != {b}"),
        (Err(_), Err(_)) => {}
        (Err(e), Ok(v)) => assert!(
            duplicate(e.message())
                || (e.message().contains("number out of range") && json_near_f64_max(v)),
            "{text:?}: document refused ({e}), serde_json accepts"
        ),
        (Ok(a), Err(e)) => assert!(
            e.to_string().contains("number out of range") && json_near_f64_max(a),
            "{text:?}: document accepted as {a}, serde_json refuses: {e}"
        ),
    }
    let claims = __fuzz::parse_claims(data);
    match (&theirs, &claims) {
        (Ok(Value::Object(m)), Ok(c)) => {
            assert!(json_close(
                &Value::Object(m.clone()),
                &Value::Object(c.clone())
            ))
        }
        (Ok(Value::Object(_)), Err(e)) => {
            let e = e.to_string();
            assert!(
                e.contains("duplicate claim") || depth_64(&e) || duplicate(&e),
                "{text:?}: claims refused: {e}"
            );
        }
        (_, Ok(_)) => panic!("{text:?}: claims accepted, serde_json: {theirs:?}"),
        _ => {}
    }
    let ours = __fuzz::json_from_str::<FuzzClaims>(text);
    let theirs = serde_json::from_str::<FuzzClaims>(text);
    match (&ours, &theirs) {
        (Ok(a), Ok(b)) => assert_eq!(a, b, "{text:?}"),
        (Err(_), Err(_)) => {}
        (Err(e), Ok(_)) => assert!(
            depth_64(e) || json_stricter_on_skipped(e),
            "{text:?}: typed refused ({e}), serde_json accepts"
        ),
        (Ok(a), Err(e)) => panic!("{text:?}: typed accepted as {a:?}, serde_json refuses: {e}"),
    }
    let typed_claims = __fuzz::parse_claims_typed::<FuzzClaims>(data);
    match (&theirs, &typed_claims) {
        (Ok(b), Ok(c)) => assert_eq!(b, c, "{text:?}"),
        (Err(_), Err(_)) | (Ok(_), Err(_)) => {}
        (Err(e), Ok(c)) => panic!("{text:?}: typed claims accepted as {c:?}, serde_json: {e}"),
    }
}

/// Key documents for HTTP Message Signatures (`httpsig::keydoc`: the
/// RustCrypto `der` / `spki` / `pkcs8` crates and a PEM reader, then ring,
/// and the crypto seam's key constructors, on aws-lc-rs when the fuzz build
/// turns that feature on): PKCS#8, PKCS#1 and SEC 1 private keys, SPKI and
/// PKCS#1 public keys, as DER and (the same bytes as text) PEM. Any bytes
/// give a key or an `InvalidKey` error, never a panic; a key that loads is
/// of the algorithm it was loaded as, and a signing key's verifying key
/// (built through the seam) is of the same algorithm.
pub fn httpsig_pkcs8(data: &[u8]) {
    use edge_auth::Secret;
    use edge_auth::httpsig::{Algorithm, SigningKey, VerifyingKey};
    let der = Secret::new(data.to_vec());
    let text = Secret::new(String::from_utf8_lossy(data).into_owned());
    for alg in [Algorithm::RsaPssSha512, Algorithm::RsaV15Sha256] {
        if let Ok(key) = SigningKey::try_from_rsa_pkcs8("k", alg, &der) {
            assert_eq!(key.algorithm(), alg);
        }
    }
    for alg in [Algorithm::EcdsaP256Sha256, Algorithm::EcdsaP384Sha384] {
        if let Ok(key) = SigningKey::try_from_ecdsa_pkcs8("k", alg, &der) {
            assert_eq!(key.algorithm(), alg);
        }
    }
    for alg in [
        Algorithm::RsaPssSha512,
        Algorithm::RsaV15Sha256,
        Algorithm::EcdsaP256Sha256,
        Algorithm::EcdsaP384Sha384,
        Algorithm::Ed25519,
        Algorithm::HmacSha256,
    ] {
        for key in [
            SigningKey::try_from_private_key_der("k", alg, &der),
            SigningKey::try_from_private_key_pem("k", alg, &text),
        ]
        .into_iter()
        .flatten()
        {
            assert_eq!(key.algorithm(), alg);
            assert_eq!(key.verifying_key().algorithm(), alg);
        }
        for key in [
            VerifyingKey::try_from_public_key_der(alg, data),
            VerifyingKey::try_from_public_key_pem(alg, text.expose()),
        ]
        .into_iter()
        .flatten()
        {
            assert_eq!(key.algorithm(), alg);
        }
    }
}

/// Sealed state (`edge_auth::seal`): opening any bytes or text never
/// panics and never succeeds (the input would be a ChaCha20-Poly1305
/// forgery); the input sealed as plaintext opens to itself, and does not
/// open with one bit flipped (at a position the input picks) or for
/// another subject.
pub fn seal_open(data: &[u8]) {
    use edge_auth::Secret;
    use edge_auth::seal::Sealer;
    const PURPOSE: &str = "edge-auth/fuzz/v1";
    const SUBJECT: &str = "https://idp.example.com";
    static SEALER: OnceLock<Sealer> = OnceLock::new();
    let sealer = SEALER.get_or_init(|| {
        Sealer::new(1, &Secret::new(vec![0x5e; 32]))
            .unwrap()
            .with_opening_key(0, &Secret::new(vec![0xa7; 32]))
            .unwrap()
            .with_max_plaintext(64 * 1024)
    });
    assert!(sealer.open(PURPOSE, SUBJECT, data).is_err());
    if let Ok(text) = std::str::from_utf8(data) {
        assert!(sealer.open_str(PURPOSE, SUBJECT, text).is_err());
    }
    let blob = sealer.seal(PURPOSE, SUBJECT, data).unwrap();
    assert_eq!(sealer.open(PURPOSE, SUBJECT, &blob).unwrap(), data);
    let text = sealer.seal_to_string(PURPOSE, SUBJECT, data).unwrap();
    assert_eq!(sealer.open_str(PURPOSE, SUBJECT, &text).unwrap(), data);
    let pick = data.iter().fold(0usize, |acc, &b| {
        acc.wrapping_mul(31).wrapping_add(usize::from(b))
    });
    let bit = pick % (blob.len() * 8);
    let mut flipped = blob.clone();
    flipped[bit / 8] ^= 1 << (bit % 8);
    assert!(
        sealer.open(PURPOSE, SUBJECT, &flipped).is_err(),
        "bit {bit} flipped still opens"
    );
    assert!(
        sealer
            .open(PURPOSE, "https://other.example.com", &blob)
            .is_err()
    );
}

// ----------------------------------------------------------------- cors

/// The settings every `cors` run uses: two exact origins, one subdomain
/// pattern, credentials on.
fn cors_fixture() -> &'static edge_auth::cors::Cors {
    static FIXTURE: OnceLock<edge_auth::cors::Cors> = OnceLock::new();
    FIXTURE.get_or_init(|| {
        edge_auth::cors::Cors::new(
            &edge_auth::cors::CorsSettings::new([
                "https://app.example.com",
                "http://localhost:8080",
                "https://*.example.org",
            ])
            .with_methods(["PUT", "DELETE"])
            .with_headers(["authorization", "content-type"])
            .with_credentials(true),
        )
        .unwrap()
    })
}

/// Whether `acao`, sent for the request origin `sent`, is one the fixture
/// allows: an exact configured origin, or a host of one or more labels under
/// `example.org` on `https` and the default port; and in any case `sent`
/// itself up to case, never some other origin.
fn cors_acao_is_configured(acao: &str, sent: &str) -> bool {
    let configured = acao == "https://app.example.com"
        || acao == "http://localhost:8080"
        || acao.strip_prefix("https://").is_some_and(|host| {
            host.strip_suffix(".example.org").is_some_and(|labels| {
                !labels.is_empty()
                    && labels.split('.').all(|l| {
                        !l.is_empty()
                            && l.bytes()
                                .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_')
                    })
            })
        });
    configured && acao.eq_ignore_ascii_case(sent)
}

/// Input: one length-prefixed `Origin`, `Access-Control-Request-Method` and
/// `Access-Control-Request-Headers` each. Parsing never panics, a parsed
/// origin is canonical (parsing its serialization gives it back), and every
/// `Access-Control-Allow-Origin` the settings produce is a configured origin
/// and the one the request sent.
pub fn cors(data: &[u8]) {
    use edge_auth::cors::Origin;
    use http::header::{ACCESS_CONTROL_ALLOW_ORIGIN, VARY};

    let mut input = Input::new(data);
    let origin = input.bytes();
    let method = input.bytes();
    let request_headers = input.bytes();
    if let Ok(text) = std::str::from_utf8(origin)
        && let Ok(parsed) = Origin::parse(text)
    {
        let again = Origin::parse(parsed.as_str()).expect("a serialization parses");
        assert_eq!(again, parsed, "`{text}` is not canonical after one parse");
        assert!(
            parsed.as_str().eq_ignore_ascii_case(text),
            "`{text}` parsed as `{parsed}`"
        );
    }
    let Ok(origin_value) = http::HeaderValue::from_bytes(origin) else {
        return;
    };
    let cors = cors_fixture();
    let sent = String::from_utf8_lossy(origin).into_owned();
    let mut request = http::HeaderMap::new();
    request.insert(http::header::ORIGIN, origin_value);
    let actual = cors.response_headers(&request);
    assert_eq!(actual[VARY], "Origin");
    if let Some(acao) = actual.get(ACCESS_CONTROL_ALLOW_ORIGIN) {
        let acao = acao.to_str().unwrap();
        assert!(
            cors_acao_is_configured(acao, &sent),
            "`{sent}` was answered with `{acao}`"
        );
    }
    if let Ok(v) = http::HeaderValue::from_bytes(method) {
        request.insert(http::header::ACCESS_CONTROL_REQUEST_METHOD, v);
    }
    if let Ok(v) = http::HeaderValue::from_bytes(request_headers) {
        request.insert(http::header::ACCESS_CONTROL_REQUEST_HEADERS, v);
    }
    if let Ok(answer) = cors.preflight(&request) {
        let acao = answer[ACCESS_CONTROL_ALLOW_ORIGIN].to_str().unwrap();
        assert!(
            cors_acao_is_configured(acao, &sent),
            "preflight from `{sent}` was answered with `{acao}`"
        );
        assert!(answer.contains_key(VARY));
    }
}

// ------------------------------------------------------------------ dpop_proof

/// RFC 9449 figure 2: the one proof valid for `dpop_proof`'s request.
const DPOP_RFC_PROOF: &str = "eyJ0eXAiOiJkcG9wK2p3dCIsImFsZyI6IkVTMjU2IiwiandrIjp7Imt0eSI6IkVDIiwieCI6Imw4dEZyaHgtMzR0VjNoUklDUkRZOXpDa0RscEJoRjQyVVFVZldWQVdCRnMiLCJ5IjoiOVZFNGpmX09rX282NHpiVFRsY3VOSmFqSG10NnY5VERWclUwQ2R2R1JEQSIsImNydiI6IlAtMjU2In19.eyJqdGkiOiItQndDM0VTYzZhY2MybFRjIiwiaHRtIjoiUE9TVCIsImh0dSI6Imh0dHBzOi8vc2VydmVyLmV4YW1wbGUuY29tL3Rva2VuIiwiaWF0IjoxNTYyMjYyNjE2fQ.2-GxA6T8lP4vfrg8v-FdWP0A0zdrj8igiMLvqRMUvwnQg4PtFLbdLXiOSsX0x7NVY-FNyJK70nfbV37xRZT3Lg";

/// DPoP proofs (RFC 9449 §4.3) against the RFC's token request at its
/// time: only the RFC's own proof is accepted (no input forges one), an
/// accepted proof is refused the second time (replay), and every refusal
/// names a DPoP error code.
pub fn dpop_proof(data: &[u8]) {
    use edge_auth::dpop::{DpopConfig, DpopError, ProofRequest, verify_proof};
    let Ok(proof) = std::str::from_utf8(data) else {
        return;
    };
    let request = ProofRequest::new(&http::Method::POST, "https://server.example.com/token");
    let now = OffsetDateTime::from_unix_timestamp(1_562_262_616).unwrap();
    let config = DpopConfig::default();
    let mut replay = edge_auth::httpsig::MemoryReplayGuard::with_capacity(4);
    match verify_proof(proof, &config, &request, &mut replay, now) {
        Ok(verified) => {
            assert_eq!(proof, DPOP_RFC_PROOF, "arbitrary proof accepted: {proof:?}");
            assert_eq!(
                verified.jkt(),
                "0ZcOCORZNYy-DWpqq30jZyJGHTN0d2HglBV3uiguA4I"
            );
            let again = verify_proof(proof, &config, &request, &mut replay, now);
            assert!(
                matches!(again, Err(DpopError::Replayed { .. })),
                "replay accepted"
            );
        }
        Err(e) => {
            assert!(matches!(
                e.code(),
                "invalid_dpop_proof" | "invalid_request" | "use_dpop_nonce"
            ));
            assert!(!e.to_string().is_empty());
        }
    }
}

// ------------------------------------------------------- introspect_response

/// An introspection answer (RFC 7662 §2.2) on arbitrary bytes, applied at a
/// fixed time. Invariants: reading is deterministic; an active answer
/// carries `"active": true`, the configured issuer (when it names one) and
/// audience, and is not past its `exp`; whatever is accepted, the cache
/// then answers the same for the token and never past `exp`; an error
/// message never quotes the token.
pub fn introspect_response(data: &[u8]) {
    use edge_auth::introspect::{Introspection, IntrospectionConfig, Introspector, Lookup};
    use edge_auth::oauth::ClientAuth;
    use http::{HeaderMap, HeaderValue, StatusCode, header};
    const TOKEN: &str = "opaque-token-under-test";
    const ISSUER: &str = "https://issuer.example";
    const AUDIENCE: &str = "api://orders";
    let now = OffsetDateTime::from_unix_timestamp(1_795_000_000).expect("in range");
    let make = || {
        let config = IntrospectionConfig::new(
            "https://issuer.example/introspect",
            "gateway",
            ClientAuth::secret_basic(edge_auth::Secret::new("s3cret".to_owned())),
        )
        .expect("valid config")
        .with_issuer(ISSUER)
        .with_audiences([AUDIENCE]);
        Introspector::new(config).expect("valid introspector")
    };
    let mut headers = HeaderMap::new();
    headers.insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("application/json"),
    );
    let run = |i: &mut Introspector| {
        let Ok(Lookup::Fetch(plan)) = i.lookup(TOKEN, now) else {
            panic!("a cold introspector asks the endpoint");
        };
        i.apply(&plan, StatusCode::OK, &headers, data, now)
    };
    let (mut a, mut b) = (make(), make());
    let first = run(&mut a);
    let second = run(&mut b);
    assert_eq!(
        first.as_ref().map_err(ToString::to_string),
        second.as_ref().map_err(ToString::to_string)
    );
    match &first {
        Ok(Introspection::Active(token)) => {
            let raw: serde_json::Value = serde_json::from_slice(data).expect("accepted is json");
            assert_eq!(raw["active"], serde_json::Value::Bool(true));
            if let Some(iss) = raw.get("iss") {
                assert_eq!(iss, ISSUER);
            }
            let aud_ok = match raw.get("aud") {
                Some(serde_json::Value::String(s)) => s == AUDIENCE,
                Some(serde_json::Value::Array(a)) => a.iter().any(|v| v == AUDIENCE),
                _ => false,
            };
            assert!(aud_ok, "an answer for another audience was accepted");
            assert!(matches!(a.lookup(TOKEN, now), Ok(Lookup::Active(_))));
            if let Some(exp) = token.expires_at {
                assert!(exp > now, "an expired answer was accepted");
                // Never served at or past `exp`.
                assert!(!matches!(a.lookup(TOKEN, exp), Ok(Lookup::Active(_))));
            }
        }
        Ok(Introspection::Inactive) => {
            assert!(matches!(a.lookup(TOKEN, now), Ok(Lookup::Inactive { .. })));
        }
        Ok(_) => {}
        Err(e) => {
            assert!(
                !e.to_string().contains(TOKEN),
                "error quotes the token: {e}"
            );
            // Refused for the token: negative-cached; else the endpoint
            // failed: backoff.
            let after = a.lookup(TOKEN, now);
            if e.is_about_token() {
                assert!(matches!(after, Ok(Lookup::Inactive { .. })));
            } else {
                assert!(matches!(after, Ok(Lookup::Unavailable { .. })));
            }
        }
    }
}
