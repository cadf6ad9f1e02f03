//! Token extraction (RFC 6750 §2, RFC 9110 §11.2 token68, RFC 6265 cookies):
//! one named test per case.
#![allow(
    clippy::useless_vec,
    reason = "the case tables write every source list the same way"
)]

use edge_auth::extract::{ExtractError, Extractor, TokenSource};
use http::HeaderName;
use proptest::prelude::*;

const X_TOKEN: HeaderName = HeaderName::from_static("x-api-token");

fn parts(uri: &str, headers: &[(&str, &[u8])]) -> http::request::Parts {
    let mut b = http::Request::get(uri);
    for (name, value) in headers {
        b = b.header(*name, http::HeaderValue::from_bytes(value).unwrap());
    }
    b.body(()).unwrap().into_parts().0
}

fn run(
    uri: &str,
    headers: &[(&str, &[u8])],
    sources: &[TokenSource],
) -> Result<Option<(String, TokenSource)>, ExtractError> {
    let p = parts(uri, headers);
    edge_auth::extract(&p, sources).map(|t| t.map(|t| (t.as_str().to_owned(), t.source().clone())))
}

fn bearer() -> Vec<TokenSource> {
    vec![TokenSource::AuthorizationBearer]
}

fn all() -> Vec<TokenSource> {
    vec![
        TokenSource::AuthorizationBearer,
        TokenSource::header(X_TOKEN),
        TokenSource::cookie("session"),
        TokenSource::query("access_token"),
    ]
}

/// `ok!(name, uri, [(header, value)...], sources, Some("token") | None)`
macro_rules! ok {
    ($name:ident, $uri:expr, [$(($h:expr, $v:expr)),* $(,)?], $sources:expr, $want:expr) => {
        #[test]
        fn $name() {
            let got = run($uri, &[$(($h, $v.as_ref())),*], &$sources)
                .unwrap_or_else(|e| panic!("unexpected error: {e}"));
            let want: Option<&str> = $want;
            assert_eq!(got.map(|(t, _)| t).as_deref(), want);
        }
    };
}

/// `err!(name, uri, [(header, value)...], sources, pattern)`
macro_rules! err {
    ($name:ident, $uri:expr, [$(($h:expr, $v:expr)),* $(,)?], $sources:expr, $pat:pat) => {
        #[test]
        fn $name() {
            match run($uri, &[$(($h, $v.as_ref())),*], &$sources) {
                Err(e) => assert!(matches!(e, $pat), "wrong error: {e:?}"),
                Ok(t) => panic!("expected an error, got {t:?}"),
            }
        }
    };
}

// Authorization: Bearer (RFC 6750 §2.1)
ok!(
    bearer_plain,
    "/",
    [("authorization", b"Bearer mF_9.B5f-4.1JqM")],
    bearer(),
    Some("mF_9.B5f-4.1JqM")
);
ok!(
    bearer_scheme_lowercase,
    "/",
    [("authorization", b"bearer abc")],
    bearer(),
    Some("abc")
);
ok!(
    bearer_scheme_uppercase,
    "/",
    [("authorization", b"BEARER abc")],
    bearer(),
    Some("abc")
);
ok!(
    bearer_scheme_mixed_case,
    "/",
    [("authorization", b"bEaReR abc")],
    bearer(),
    Some("abc")
);
ok!(
    bearer_several_spaces,
    "/",
    [("authorization", b"Bearer    abc")],
    bearer(),
    Some("abc")
);
ok!(
    bearer_padding,
    "/",
    [("authorization", b"Bearer abc==")],
    bearer(),
    Some("abc==")
);
ok!(
    bearer_every_token68_char,
    "/",
    [("authorization", b"Bearer aZ09-._~+/==")],
    bearer(),
    Some("aZ09-._~+/==")
);
ok!(
    bearer_trailing_ows_trimmed,
    "/",
    [("authorization", b"Bearer abc \t")],
    bearer(),
    Some("abc")
);
ok!(
    bearer_jwt,
    "/",
    [(
        "authorization",
        b"Bearer eyJhbGciOiJSUzI1NiJ9.eyJzdWIiOiJ1MSJ9.c2lnbmF0dXJl"
    )],
    bearer(),
    Some("eyJhbGciOiJSUzI1NiJ9.eyJzdWIiOiJ1MSJ9.c2lnbmF0dXJl")
);
ok!(no_authorization_is_none, "/", [], bearer(), None);
ok!(
    basic_scheme_is_none,
    "/",
    [("authorization", b"Basic QWxhZGRpbjpvcGVuIHNlc2FtZQ==")],
    bearer(),
    None
);
ok!(
    dpop_scheme_is_none,
    "/",
    [(
        "authorization",
        b"DPoP Kz~8mXK1EalYznwH-LC-1fBAo.4Ljp~zsPE_NeO.gxU"
    )],
    bearer(),
    None
);
ok!(
    bearerx_scheme_is_not_bearer,
    "/",
    [("authorization", b"Bearerx abc")],
    bearer(),
    None
);
ok!(
    no_sources_is_none,
    "/?access_token=abc",
    [("authorization", b"Bearer abc")],
    Vec::<TokenSource>::new(),
    None
);
err!(
    bearer_without_token,
    "/",
    [("authorization", b"Bearer")],
    bearer(),
    ExtractError::Malformed { .. }
);
err!(
    bearer_space_only,
    "/",
    [("authorization", b"Bearer   ")],
    bearer(),
    ExtractError::Malformed { .. }
);
err!(
    authorization_empty,
    "/",
    [("authorization", b"")],
    bearer(),
    ExtractError::Malformed { .. }
);
err!(
    bearer_tab_separator,
    "/",
    [("authorization", b"Bearer\tabc")],
    bearer(),
    ExtractError::Malformed { .. }
);
err!(
    bearer_space_in_token,
    "/",
    [("authorization", b"Bearer abc def")],
    bearer(),
    ExtractError::InvalidCharacter { offset: 3, .. }
);
err!(
    bearer_comma_in_token,
    "/",
    [("authorization", b"Bearer a,b")],
    bearer(),
    ExtractError::InvalidCharacter { offset: 1, .. }
);
err!(
    bearer_equals_inside,
    "/",
    [("authorization", b"Bearer ab=cd")],
    bearer(),
    ExtractError::InvalidCharacter { offset: 3, .. }
);
err!(
    bearer_equals_only,
    "/",
    [("authorization", b"Bearer ==")],
    bearer(),
    ExtractError::InvalidCharacter { offset: 0, .. }
);
err!(
    bearer_auth_param_syntax,
    "/",
    [("authorization", b"Bearer realm=\"x\"")],
    bearer(),
    ExtractError::InvalidCharacter { offset: 6, .. }
);
err!(
    bearer_non_ascii,
    "/",
    [("authorization", b"Bearer ab\xc3\xa9")],
    bearer(),
    ExtractError::InvalidCharacter { offset: 2, .. }
);
err!(
    two_authorization_headers,
    "/",
    [
        ("authorization", b"Bearer abc"),
        ("authorization", b"Bearer def")
    ],
    bearer(),
    ExtractError::Duplicate { count: 2, .. }
);
err!(
    bearer_and_basic_headers,
    "/",
    [
        ("authorization", b"Basic QWxh"),
        ("authorization", b"Bearer def")
    ],
    bearer(),
    ExtractError::Duplicate { count: 2, .. }
);

// Named header
ok!(
    header_raw,
    "/",
    [("x-api-token", b"abc.def")],
    vec![TokenSource::header(X_TOKEN)],
    Some("abc.def")
);
ok!(
    header_with_scheme,
    "/",
    [("x-api-token", b"token abc")],
    vec![TokenSource::header_with_scheme(X_TOKEN, "Token")],
    Some("abc")
);
err!(
    header_wrong_scheme,
    "/",
    [("x-api-token", b"Basic abc")],
    vec![TokenSource::header_with_scheme(X_TOKEN, "Bearer")],
    ExtractError::WrongScheme { .. }
);
err!(
    header_missing_scheme,
    "/",
    [("x-api-token", b"abc")],
    vec![TokenSource::header_with_scheme(X_TOKEN, "Bearer")],
    ExtractError::WrongScheme { .. }
);
err!(
    header_empty,
    "/",
    [("x-api-token", b"")],
    vec![TokenSource::header(X_TOKEN)],
    ExtractError::Empty { .. }
);
err!(
    header_repeated,
    "/",
    [("x-api-token", b"a"), ("x-api-token", b"b")],
    vec![TokenSource::header(X_TOKEN)],
    ExtractError::Duplicate { .. }
);

// Cookie (RFC 6265 §4.2)
ok!(
    cookie_plain,
    "/",
    [("cookie", b"a=1; session=tok.en; b=2")],
    vec![TokenSource::cookie("session")],
    Some("tok.en")
);
ok!(
    cookie_first,
    "/",
    [("cookie", b"session=tok")],
    vec![TokenSource::cookie("session")],
    Some("tok")
);
ok!(
    cookie_quoted,
    "/",
    [("cookie", b"session=\"tok\"")],
    vec![TokenSource::cookie("session")],
    Some("tok")
);
ok!(
    cookie_no_space_after_semicolon,
    "/",
    [("cookie", b"a=1;session=tok")],
    vec![TokenSource::cookie("session")],
    Some("tok")
);
ok!(
    cookie_split_over_headers,
    "/",
    [("cookie", b"a=1"), ("cookie", b"session=tok")],
    vec![TokenSource::cookie("session")],
    Some("tok")
);
ok!(
    cookie_name_case_sensitive,
    "/",
    [("cookie", b"Session=tok")],
    vec![TokenSource::cookie("session")],
    None
);
ok!(
    cookie_prefix_name_not_matched,
    "/",
    [("cookie", b"xsession=tok")],
    vec![TokenSource::cookie("session")],
    None
);
ok!(
    cookie_other_junk_ignored,
    "/",
    [("cookie", b"junk=\xff\xfe; session=tok; flag")],
    vec![TokenSource::cookie("session")],
    Some("tok")
);
err!(
    cookie_duplicate,
    "/",
    [("cookie", b"session=a; session=b")],
    vec![TokenSource::cookie("session")],
    ExtractError::Duplicate { .. }
);
err!(
    cookie_duplicate_across_headers,
    "/",
    [("cookie", b"session=a"), ("cookie", b"session=b")],
    vec![TokenSource::cookie("session")],
    ExtractError::Duplicate { .. }
);
err!(
    cookie_empty,
    "/",
    [("cookie", b"session=")],
    vec![TokenSource::cookie("session")],
    ExtractError::Empty { .. }
);
err!(
    cookie_percent_is_not_token68,
    "/",
    [("cookie", b"session=a%20b")],
    vec![TokenSource::cookie("session")],
    ExtractError::InvalidCharacter { offset: 1, .. }
);

// Query parameter (RFC 6750 §2.3, form-urlencoded)
ok!(
    query_plain,
    "/p?x=1&access_token=abc&y=2",
    [],
    vec![TokenSource::query("access_token")],
    Some("abc")
);
ok!(
    query_percent_decoded,
    "/p?access_token=abc%2Bdef%2F%3D",
    [],
    vec![TokenSource::query("access_token")],
    Some("abc+def/=")
);
ok!(
    query_lowercase_hex,
    "/p?access_token=a%2bb",
    [],
    vec![TokenSource::query("access_token")],
    Some("a+b")
);
ok!(
    query_encoded_name,
    "/p?access%5Ftoken=abc",
    [],
    vec![TokenSource::query("access_token")],
    Some("abc")
);
ok!(
    query_absent,
    "/p?x=1",
    [],
    vec![TokenSource::query("access_token")],
    None
);
ok!(
    query_no_query,
    "/p",
    [],
    vec![TokenSource::query("access_token")],
    None
);
ok!(
    query_name_prefix_not_matched,
    "/p?access_token_x=abc",
    [],
    vec![TokenSource::query("access_token")],
    None
);
err!(
    query_plus_is_space,
    "/p?access_token=a+b",
    [],
    vec![TokenSource::query("access_token")],
    ExtractError::InvalidCharacter { offset: 1, .. }
);
err!(
    query_bad_percent,
    "/p?access_token=ab%zz",
    [],
    vec![TokenSource::query("access_token")],
    ExtractError::InvalidPercentEncoding { offset: 2, .. }
);
err!(
    query_truncated_percent,
    "/p?access_token=ab%2",
    [],
    vec![TokenSource::query("access_token")],
    ExtractError::InvalidPercentEncoding { offset: 2, .. }
);
err!(
    query_empty,
    "/p?access_token=",
    [],
    vec![TokenSource::query("access_token")],
    ExtractError::Empty { .. }
);
err!(
    query_no_value,
    "/p?access_token",
    [],
    vec![TokenSource::query("access_token")],
    ExtractError::Empty { .. }
);
err!(
    query_duplicate,
    "/p?access_token=a&access_token=b",
    [],
    vec![TokenSource::query("access_token")],
    ExtractError::Duplicate { .. }
);

// One method per request (RFC 6750 §2, §3.1)
err!(
    header_and_query,
    "/p?access_token=abc",
    [("authorization", b"Bearer abc")],
    all(),
    ExtractError::MultipleMethods {
        first: TokenSource::AuthorizationBearer,
        second: TokenSource::Query(_)
    }
);
err!(
    header_and_cookie,
    "/",
    [("authorization", b"Bearer abc"), ("cookie", b"session=def")],
    all(),
    ExtractError::MultipleMethods {
        first: TokenSource::AuthorizationBearer,
        second: TokenSource::Cookie(_)
    }
);
ok!(
    basic_and_cookie_takes_cookie,
    "/",
    [("authorization", b"Basic QWxh"), ("cookie", b"session=def")],
    all(),
    Some("def")
);
ok!(
    unconfigured_query_ignored,
    "/p?access_token=abc",
    [("authorization", b"Bearer def")],
    bearer(),
    Some("def")
);
ok!(
    same_source_listed_twice,
    "/",
    [("authorization", b"Bearer abc")],
    vec![
        TokenSource::AuthorizationBearer,
        TokenSource::AuthorizationBearer
    ],
    Some("abc")
);

// Limits
// The default is 16 KiB since issue 15 (tests/jwt.rs,
// `largest_idp_tokens_pass_the_default_limits`, measures why).
#[test]
fn token_at_default_limit_is_accepted() {
    assert_eq!(edge_auth::extract::DEFAULT_MAX_TOKEN_LEN, 16_384);
    let value = format!("Bearer {}", "a".repeat(16_384));
    let got = run("/", &[("authorization", value.as_bytes())], &bearer()).unwrap();
    assert_eq!(got.unwrap().0.len(), 16_384);
}

#[test]
fn token_over_default_limit_is_refused() {
    let value = format!("Bearer {}", "a".repeat(16_385));
    let err = run("/", &[("authorization", value.as_bytes())], &bearer()).unwrap_err();
    assert!(matches!(
        err,
        ExtractError::TooLong {
            len: 16_385,
            max: 16_384,
            ..
        }
    ));
    assert_eq!(
        err.to_string(),
        "token in the authorization header is 16385 bytes, more than the limit of 16384"
    );
}

#[test]
fn extractor_limit_is_configurable() {
    let p = parts("/", &[("authorization", b"Bearer abcdef")]);
    let mut ex = Extractor::default();
    ex.max_token_len = 5;
    assert!(matches!(
        ex.extract(&p),
        Err(ExtractError::TooLong { len: 6, max: 5, .. })
    ));
    ex.max_token_len = 6;
    assert_eq!(ex.extract(&p).unwrap().unwrap().as_str(), "abcdef");
}

// What the token says about itself
#[test]
fn source_names_where_it_came_from() {
    for (uri, headers, want) in [
        (
            "/",
            vec![("authorization", &b"Bearer a"[..])],
            TokenSource::AuthorizationBearer,
        ),
        (
            "/",
            vec![("x-api-token", &b"a"[..])],
            TokenSource::header(X_TOKEN),
        ),
        (
            "/",
            vec![("cookie", &b"session=a"[..])],
            TokenSource::cookie("session"),
        ),
        (
            "/?access_token=a",
            vec![],
            TokenSource::query("access_token"),
        ),
    ] {
        let (_, source) = run(uri, &headers, &all()).unwrap().unwrap();
        assert_eq!(source, want);
    }
}

#[test]
fn token_debug_is_redacted() {
    let p = parts("/", &[("authorization", b"Bearer s3cr3t-token")]);
    let t = edge_auth::extract(&p, &bearer()).unwrap().unwrap();
    let debug = format!("{t:?}");
    assert!(!debug.contains("s3cr3t"), "{debug}");
}

#[test]
fn wrong_scheme_error_does_not_echo_a_credential() {
    // `<api-key> <signature>` in a header configured for `Bearer`: the
    // first word is no scheme but a secret, and the error text is logged.
    let p = parts("/", &[("x-api-token", b"sk_live_s3cr3t sig")]);
    let sources = [TokenSource::header_with_scheme(X_TOKEN, "Bearer")];
    let e = edge_auth::extract(&p, &sources).unwrap_err();
    let text = e.to_string();
    assert!(!text.contains("s3cr3t"), "{text}");
    assert!(!format!("{e:?}").contains("s3cr3t"));
    assert_eq!(
        text,
        "header `x-api-token` has scheme `(not shown)`, expected `Bearer`"
    );
    let p = parts("/", &[("x-api-token", b"basic abc")]);
    let e = edge_auth::extract(&p, &sources).unwrap_err();
    assert!(e.to_string().contains("`Basic`"), "{e}");
}

#[test]
fn error_messages_name_the_problem() {
    type Case<'a> = (&'a str, Vec<(&'a str, &'a [u8])>, Vec<TokenSource>, &'a str);
    let cases: Vec<Case<'_>> = vec![
        (
            "/",
            vec![("x-api-token", b"Basic s3cr3t")],
            vec![TokenSource::header_with_scheme(X_TOKEN, "Bearer")],
            "header `x-api-token` has scheme `Basic`, expected `Bearer`",
        ),
        (
            "/",
            vec![("x-api-token", b"s3cr3t")],
            vec![TokenSource::header_with_scheme(X_TOKEN, "Bearer")],
            "header `x-api-token` has scheme `(none)`, expected `Bearer`",
        ),
        (
            "/",
            vec![("authorization", b"Bearer s3cr3t!abc")],
            bearer(),
            "token in the authorization header contains a character outside token68 at byte 6",
        ),
        (
            "/",
            vec![
                ("authorization", b"Bearer s3cr3t"),
                ("authorization", b"Bearer s3cr3t"),
            ],
            bearer(),
            "the authorization header appears 2 times, expected exactly one",
        ),
        (
            "/?access_token=s3cr3t",
            vec![("authorization", b"Bearer s3cr3t")],
            all(),
            "request carries a token in both the authorization header and query parameter `access_token`, expected one method",
        ),
        (
            "/",
            vec![("authorization", b"Bearer")],
            bearer(),
            "the authorization header is malformed: no token after the scheme",
        ),
        (
            "/?access_token=s3cr3t%z",
            vec![],
            all(),
            "query parameter `access_token` has an invalid percent-encoding at byte 6",
        ),
    ];
    for (uri, headers, sources, want) in cases {
        let err = run(uri, &headers, &sources).unwrap_err();
        let text = err.to_string();
        assert_eq!(text, want);
        assert!(!text.contains("s3cr3t"));
        assert!(!format!("{err:?}").contains("s3cr3t"));
    }
}

proptest! {
    // Any Authorization value: no panic; a token that comes out is token68
    // and came from the header; an error never echoes the value after the scheme.
    #[test]
    fn authorization_never_panics(value in proptest::collection::vec(any::<u8>(), 0..64)) {
        if let Ok(hv) = http::HeaderValue::from_bytes(&value) {
            let mut p = parts("/", &[]);
            p.headers.insert("authorization", hv);
            if let Ok(Some(t)) = edge_auth::extract(&p, &all()) {
                prop_assert!(edge_auth::__fuzz::token68_error(t.as_str().as_bytes()).is_none());
                prop_assert!(value.windows(t.as_str().len()).any(|w| w == t.as_str().as_bytes()));
            }
        }
    }

    // Any cookie header or query string through the public API: no panic,
    // and a token that comes out is token68.
    #[test]
    fn cookie_and_query_never_panic(
        cookie in proptest::collection::vec(any::<u8>(), 0..96).prop_map(|mut v| { v.splice(0..0, b"session=".iter().copied()); v }),
        query in "[a-z_=&%+0-9A-F.~-]{0,64}",
    ) {
        let mut p = parts("/", &[]);
        if let Ok(uri) = format!("/p?access_token={query}").parse() {
            p.uri = uri;
        }
        if let Ok(hv) = http::HeaderValue::from_bytes(&cookie) {
            p.headers.insert("cookie", hv);
        }
        for source in [TokenSource::cookie("session"), TokenSource::query("access_token")] {
            if let Ok(Some(t)) = edge_auth::extract(&p, &[source]) {
                prop_assert!(edge_auth::__fuzz::token68_error(t.as_str().as_bytes()).is_none());
            }
        }
    }

    #[test]
    fn cookie_parser_never_panics(value in proptest::collection::vec(any::<u8>(), 0..128)) {
        for (name, val) in edge_auth::__fuzz::cookie_pairs(&value) {
            prop_assert!(!name.contains(&b';') && !val.contains(&b';'));
        }
    }

    // Decoding an encoding of any bytes gives them back.
    #[test]
    fn form_decode_round_trip(bytes in proptest::collection::vec(any::<u8>(), 0..64)) {
        let encoded: String = bytes.iter().map(|b| format!("%{b:02X}")).collect();
        let decoded = edge_auth::__fuzz::form_decode(encoded.as_bytes()).unwrap();
        prop_assert_eq!(decoded.as_ref(), &bytes[..]);
    }
}
