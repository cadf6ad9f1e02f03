//! Rejections to responses: each status and challenge (RFC 6750 §3), the
//! quoted-string escaping (RFC 9110 §5.6.4), the problem body (RFC 9457)
//! and the audit record.

use edge_auth::extract::{ExtractError, TokenSource};
use edge_auth::response::{Rejection, RejectionKind};
use http::StatusCode;
use proptest::prelude::*;
use serde_json::json;

fn challenge(r: &Rejection) -> Option<String> {
    r.to_response()
        .headers()
        .get("www-authenticate")
        .map(|v| v.to_str().unwrap().to_owned())
}

/// Parses `Bearer [param=quoted-string *(", " param=quoted-string)]` and
/// unescapes the values: an independent check of the syntax we emit.
fn parse_challenge(s: &str) -> Vec<(String, String)> {
    let rest = s.strip_prefix("Bearer").expect("scheme");
    let mut out = Vec::new();
    let mut chars = rest.chars().peekable();
    if chars.peek().is_none() {
        return out;
    }
    assert_eq!(chars.next(), Some(' '));
    loop {
        let name: String = chars.by_ref().take_while(|&c| c != '=').collect();
        assert!(!name.is_empty() && name.chars().all(|c| c.is_ascii_alphanumeric() || c == '_'));
        assert_eq!(chars.next(), Some('"'), "value of {name} must be quoted");
        let mut value = String::new();
        loop {
            match chars.next().expect("unterminated quoted-string") {
                '\\' => value.push(chars.next().expect("quoted-pair")),
                '"' => break,
                c => {
                    assert!(
                        c == '\t' || c == ' ' || ('!'..='~').contains(&c),
                        "bad qdtext {c:?}"
                    );
                    value.push(c);
                }
            }
        }
        out.push((name, value));
        match chars.next() {
            None => return out,
            Some(',') => assert_eq!(chars.next(), Some(' ')),
            Some(c) => panic!("unexpected {c:?}"),
        }
    }
}

fn extract_error(uri: &str, headers: &[(&str, &str)], sources: &[TokenSource]) -> ExtractError {
    let mut b = http::Request::get(uri);
    for (n, v) in headers {
        b = b.header(*n, *v);
    }
    let (parts, ()) = b.body(()).unwrap().into_parts();
    edge_auth::extract(&parts, sources).unwrap_err()
}

/// `case!(name, rejection, status, Some(challenge) | None)`
macro_rules! case {
    ($name:ident, $rejection:expr, $status:expr, $challenge:expr) => {
        #[test]
        fn $name() {
            let r: Rejection = $rejection;
            let resp = r.to_response();
            assert_eq!(resp.status(), $status);
            assert_eq!(resp.headers()["cache-control"], "no-store");
            let want: Option<&str> = $challenge;
            assert_eq!(challenge(&r).as_deref(), want);
            if let Some(c) = challenge(&r) {
                parse_challenge(&c);
            }
        }
    };
}

case!(
    missing_token_with_realm,
    Rejection::missing_token().with_realm("api"),
    StatusCode::UNAUTHORIZED,
    Some(r#"Bearer realm="api""#)
);
case!(
    missing_token_default_realm,
    Rejection::missing_token(),
    StatusCode::UNAUTHORIZED,
    Some(r#"Bearer realm="edge-auth""#)
);
case!(
    invalid_token,
    Rejection::invalid_token("signature did not verify with key `k1`").with_realm("example"),
    StatusCode::UNAUTHORIZED,
    Some(
        r#"Bearer realm="example", error="invalid_token", error_description="the access token is invalid""#
    )
);
case!(
    expired_token,
    Rejection::expired_token(
        "token expired at 2026-11-23T10:00:00Z, 124 s before now, leeway 60 s"
    )
    .with_realm("example"),
    StatusCode::UNAUTHORIZED,
    Some(
        r#"Bearer realm="example", error="invalid_token", error_description="the access token expired""#
    )
);
case!(
    invalid_request_multiple_methods,
    Rejection::invalid_request(&extract_error(
        "/?access_token=abc",
        &[("authorization", "Bearer abc")],
        &[
            TokenSource::AuthorizationBearer,
            TokenSource::query("access_token")
        ]
    ))
    .with_realm("api"),
    StatusCode::BAD_REQUEST,
    Some(
        r#"Bearer realm="api", error="invalid_request", error_description="the request carries more than one access token""#
    )
);
case!(
    invalid_request_two_authorization_headers,
    Rejection::invalid_request(&extract_error(
        "/",
        &[("authorization", "Bearer a"), ("authorization", "Bearer b")],
        &[TokenSource::AuthorizationBearer]
    )),
    StatusCode::BAD_REQUEST,
    Some(
        r#"Bearer realm="edge-auth", error="invalid_request", error_description="a credential field appears more than once""#
    )
);
case!(
    invalid_request_bad_syntax,
    Rejection::invalid_request(&extract_error(
        "/",
        &[("authorization", "Bearer")],
        &[TokenSource::AuthorizationBearer]
    )),
    StatusCode::BAD_REQUEST,
    Some(
        r#"Bearer realm="edge-auth", error="invalid_request", error_description="the request's credentials are malformed""#
    )
);
case!(
    invalid_request_bad_character,
    Rejection::invalid_request(&extract_error(
        "/",
        &[("authorization", "Bearer a,b")],
        &[TokenSource::AuthorizationBearer]
    )),
    StatusCode::BAD_REQUEST,
    Some(
        r#"Bearer realm="edge-auth", error="invalid_request", error_description="the access token is not a valid bearer token""#
    )
);
case!(
    insufficient_scope_with_scopes,
    Rejection::insufficient_scope(["orders:read", "orders:write"]).with_realm("api"),
    StatusCode::FORBIDDEN,
    Some(
        r#"Bearer realm="api", error="insufficient_scope", error_description="the access token lacks the privileges this request requires", scope="orders:read orders:write""#
    )
);
case!(
    insufficient_scope_without_scopes,
    Rejection::insufficient_scope(Vec::<String>::new()),
    StatusCode::FORBIDDEN,
    Some(
        r#"Bearer realm="edge-auth", error="insufficient_scope", error_description="the access token lacks the privileges this request requires""#
    )
);
case!(
    insufficient_scope_drops_unsafe_scope_values,
    Rejection::insufficient_scope([
        "ok",
        "with space",
        "quote\"d",
        "back\\slash",
        "",
        "caf\u{e9}",
        "x\r\ny"
    ]),
    StatusCode::FORBIDDEN,
    Some(
        r#"Bearer realm="edge-auth", error="insufficient_scope", error_description="the access token lacks the privileges this request requires", scope="ok""#
    )
);
case!(
    forbidden_has_no_challenge,
    Rejection::forbidden(Some("deny-embargoed"), ["country `XX` is in the deny list"])
        .with_realm("api"),
    StatusCode::FORBIDDEN,
    None
);
case!(
    realm_quotes_and_backslashes_escaped,
    Rejection::missing_token().with_realm(r#"my "quoted" \realm\"#),
    StatusCode::UNAUTHORIZED,
    Some(r#"Bearer realm="my \"quoted\" \\realm\\""#)
);
case!(
    realm_controls_and_non_ascii_replaced,
    Rejection::missing_token().with_realm("a\r\nSet-Cookie: x=1\u{7f}\u{e9}"),
    StatusCode::UNAUTHORIZED,
    Some(r#"Bearer realm="a??Set-Cookie: x=1??""#)
);

#[test]
fn kinds_map_to_statuses() {
    for (r, kind, status) in [
        (Rejection::missing_token(), RejectionKind::MissingToken, 401),
        (
            Rejection::invalid_token("x"),
            RejectionKind::InvalidToken,
            401,
        ),
        (
            Rejection::insufficient_scope(["a"]),
            RejectionKind::InsufficientScope,
            403,
        ),
        (
            Rejection::forbidden(None, Vec::<String>::new()),
            RejectionKind::Forbidden,
            403,
        ),
    ] {
        assert_eq!(r.kind(), kind);
        assert_eq!(r.status().as_u16(), status);
    }
}

#[test]
fn nothing_internal_on_the_wire() {
    let token = "eyJhbGciOiJIUzI1NiJ9.eyJzdWIiOiJ1In0.c2ln";
    let err = extract_error(
        "/",
        &[("authorization", &format!("Bearer {token} extra"))],
        &[TokenSource::AuthorizationBearer],
    );
    let rejections = [
        Rejection::invalid_request(&err),
        Rejection::invalid_token(format!("kid `secret-kid` unknown for token {token}"))
            .with_rule("r1")
            .with_subject("alice"),
        Rejection::forbidden(Some("internal-rule-7"), ["ip 10.0.0.1 not in 10.1.0.0/16"]),
    ];
    for r in rejections {
        let resp = r.to_problem_json();
        let mut wire = String::from_utf8(resp.body().clone()).unwrap();
        for (_, v) in resp.headers() {
            wire.push_str(v.to_str().unwrap());
        }
        for secret in [
            token,
            "secret-kid",
            "internal-rule-7",
            "10.0.0.1",
            "alice",
            "r1",
        ] {
            assert!(!wire.contains(secret), "`{secret}` leaked: {wire}");
        }
    }
}

#[test]
fn problem_json_body() {
    let r = Rejection::insufficient_scope(["orders:write"]).with_realm("api");
    let resp = r.to_problem_json();
    assert_eq!(resp.status(), 403);
    assert_eq!(resp.headers()["content-type"], "application/problem+json");
    assert_eq!(resp.headers()["cache-control"], "no-store");
    assert!(resp.headers().contains_key("www-authenticate"));
    let body: serde_json::Value = serde_json::from_slice(resp.body()).unwrap();
    assert_eq!(
        body,
        json!({
            "type": "about:blank",
            "title": "Forbidden",
            "status": 403,
            "detail": "the access token lacks the privileges this request requires",
            "error": "insufficient_scope"
        })
    );
}

#[test]
fn problem_json_for_missing_token_has_no_error_member() {
    let body: serde_json::Value =
        serde_json::from_slice(Rejection::missing_token().to_problem_json().body()).unwrap();
    assert_eq!(body["status"], 401);
    assert_eq!(body["title"], "Unauthorized");
    assert!(body.get("error").is_none());
}

#[test]
fn audit_record() {
    let r = Rejection::forbidden(Some("admin-only"), ["role `admin` required"])
        .with_subject("u-123")
        .with_issuer("https://idp.example.com")
        .with_realm("api");
    assert_eq!(
        serde_json::to_value(&r).unwrap(),
        json!({
            "kind": "forbidden",
            "status": 403,
            "description": "access to this resource is denied",
            "rule": "admin-only",
            "reasons": ["role `admin` required"],
            "subject": "u-123",
            "issuer": "https://idp.example.com",
            "realm": "api"
        })
    );
}

#[test]
fn audit_record_keeps_internal_reason() {
    let err = extract_error(
        "/",
        &[("authorization", "Bearer a"), ("authorization", "Bearer b")],
        &[TokenSource::AuthorizationBearer],
    );
    let v = serde_json::to_value(Rejection::invalid_request(&err)).unwrap();
    assert_eq!(v["kind"], "invalid_request");
    assert_eq!(v["error"], "invalid_request");
    assert_eq!(v["status"], 400);
    assert_eq!(
        v["reason"],
        "the authorization header appears 2 times, expected exactly one"
    );
}

proptest! {
    // Any realm gives a valid header whose parsed realm is the input with
    // only unrepresentable characters replaced.
    #[test]
    fn realm_round_trips(realm in "\\PC{0,40}") {
        let r = Rejection::invalid_token("x").with_realm(realm.clone());
        let c = challenge(&r).unwrap();
        let params = parse_challenge(&c);
        let expected: String = realm
            .chars()
            .map(|c| if c == ' ' || c == '\t' || ('!'..='~').contains(&c) { c } else { '?' })
            .collect();
        prop_assert_eq!(&params[0], &("realm".to_owned(), expected));
        prop_assert_eq!(params[1].0.as_str(), "error");
    }

    #[test]
    fn scopes_never_break_the_header(scopes in prop::collection::vec("\\PC{0,12}", 0..5)) {
        let r = Rejection::insufficient_scope(scopes);
        let c = challenge(&r).unwrap();
        for (name, value) in parse_challenge(&c) {
            if name == "scope" || name == "error_description" {
                prop_assert!(value.chars().all(|c| c == ' ' || c == '!' || ('#'..='[').contains(&c) || (']'..='~').contains(&c)));
            }
        }
    }
}
