//! CORS (Fetch standard, CORS protocol): the pure decisions of
//! `edge_auth::cors`, the `cors` settings of the policy document, and the
//! gate answering preflights and adding CORS headers to its rejections.
//! One test per case.

use edge_auth::cors::{
    self, Cors, CorsError, CorsSettings, MAX_REQUEST_HEADERS, Origin, PreflightRefusal,
};
use edge_auth::gate::{Gate, GateConfig, IssuerConfig, Outcome};
use edge_auth::policy::{Policy, PolicyError, RequestFacts};
use edge_auth::response::RejectionKind;
use http::header::{
    ACCESS_CONTROL_ALLOW_CREDENTIALS, ACCESS_CONTROL_ALLOW_HEADERS, ACCESS_CONTROL_ALLOW_METHODS,
    ACCESS_CONTROL_ALLOW_ORIGIN, ACCESS_CONTROL_EXPOSE_HEADERS, ACCESS_CONTROL_MAX_AGE, VARY,
};
use http::{HeaderMap, Method, StatusCode};
use serde_json::json;
use time::OffsetDateTime;
use time::macros::datetime;

const NOW: OffsetDateTime = datetime!(2026-11-23 10:00:00 UTC);
const VARY_PREFLIGHT: &str =
    "Origin, Access-Control-Request-Method, Access-Control-Request-Headers";

// ------------------------------------------------------------------ helpers

fn app() -> Cors {
    Cors::new(
        &CorsSettings::new([
            "https://app.example.com",
            "http://localhost:8080",
            "https://*.example.org",
        ])
        .with_methods(["GET", "PUT", "DELETE"])
        .with_headers(["Authorization", "content-type", "x-request-id"])
        .with_expose_headers(["x-request-id"])
        .with_max_age(600),
    )
    .unwrap()
}

fn credentialed() -> Cors {
    Cors::new(
        &CorsSettings::new(["https://app.example.com"])
            .with_methods(["PUT"])
            .with_headers(["authorization"])
            .with_credentials(true),
    )
    .unwrap()
}

fn headers(pairs: &[(&str, &str)]) -> HeaderMap {
    let mut h = HeaderMap::new();
    for (name, value) in pairs {
        h.append(
            http::HeaderName::from_bytes(name.as_bytes()).unwrap(),
            value.parse().unwrap(),
        );
    }
    h
}

fn preflight(origin: &str, method: &str, request_headers: Option<&str>) -> HeaderMap {
    let mut h = headers(&[
        ("origin", origin),
        ("access-control-request-method", method),
    ]);
    if let Some(v) = request_headers {
        h.insert("access-control-request-headers", v.parse().unwrap());
    }
    h
}

fn refused(cors: &Cors, request: &HeaderMap) -> PreflightRefusal {
    cors.preflight(request).unwrap_err()
}

fn malformed(value: &str) {
    match Origin::parse(value) {
        Err(CorsError::MalformedOrigin { .. }) => {}
        other => panic!("`{value}` parsed: {other:?}"),
    }
}

// ------------------------------------------------------- origin parsing

#[test]
fn origin_canonical_form_parses() {
    let o = Origin::parse("https://app.example.com").unwrap();
    assert_eq!(o.as_str(), "https://app.example.com");
    assert!(!o.is_null());
    assert_eq!(
        Origin::parse("http://localhost:8080").unwrap().as_str(),
        "http://localhost:8080"
    );
    assert_eq!(
        Origin::parse("http://[::1]:3000").unwrap().as_str(),
        "http://[::1]:3000"
    );
}

#[test]
fn origin_host_case_is_folded() {
    let o = Origin::parse("HTTPS://App.EXAMPLE.com").unwrap();
    assert_eq!(o.as_str(), "https://app.example.com");
}

#[test]
fn origin_with_path_is_malformed() {
    malformed("https://app.example.com/");
    malformed("https://app.example.com/path");
    malformed("https://app.example.com?q");
    malformed("https://app.example.com#f");
}

#[test]
fn origin_with_userinfo_is_malformed() {
    malformed("https://user@app.example.com");
    malformed("https://user:pw@app.example.com");
}

#[test]
fn origin_with_trailing_garbage_is_malformed() {
    malformed("https://app.example.com ");
    malformed("https://app.example.com\t");
    malformed("https://app.example.com, https://evil.com");
    malformed("https://app.example.com:443");
    malformed("https://app.example.com:99999");
    malformed("https://app.example.com:");
}

#[test]
fn origin_not_canonical_is_malformed() {
    malformed("");
    malformed("app.example.com");
    malformed("https:/app.example.com");
    malformed("https://xn--nxasmq6b.example.com\u{0}");
    malformed("https://bücher.example.com");
    malformed("https://app%2eexample.com");
    malformed("http://0x7f.1");
    malformed("https://a..example.org");
    malformed("https://*.example.org");
    malformed("https://a b.example.org");
    malformed("data:text/plain,hi");
    malformed("file://");
    malformed(&format!("https://{}.com", "a".repeat(600)));
}

#[test]
fn origin_null_parses_as_opaque() {
    assert!(Origin::parse("null").unwrap().is_null());
    malformed("NULL");
}

#[test]
fn repeated_origin_header_is_malformed() {
    let h = headers(&[
        ("origin", "https://app.example.com"),
        ("origin", "https://app.example.com"),
    ]);
    assert!(cors::request_origin(&h).is_err());
}

// ---------------------------------------------------- simple requests

#[test]
fn simple_request_allowed_origin_gets_acao_and_vary() {
    let h = app().response_headers(&headers(&[("origin", "https://app.example.com")]));
    assert_eq!(h[ACCESS_CONTROL_ALLOW_ORIGIN], "https://app.example.com");
    assert_eq!(h[ACCESS_CONTROL_EXPOSE_HEADERS], "x-request-id");
    assert_eq!(h[VARY], "Origin");
    assert!(h.get(ACCESS_CONTROL_ALLOW_CREDENTIALS).is_none());
}

#[test]
fn simple_request_without_origin_gets_only_vary() {
    let h = app().response_headers(&HeaderMap::new());
    assert_eq!(h.len(), 1);
    assert_eq!(h[VARY], "Origin");
}

#[test]
fn simple_request_disallowed_origin_gets_only_vary() {
    let h = app().response_headers(&headers(&[("origin", "https://evil.com")]));
    assert!(h.get(ACCESS_CONTROL_ALLOW_ORIGIN).is_none());
    assert_eq!(h[VARY], "Origin");
}

#[test]
fn simple_request_with_credentials_gets_acac() {
    let h = credentialed().response_headers(&headers(&[("origin", "https://app.example.com")]));
    assert_eq!(h[ACCESS_CONTROL_ALLOW_ORIGIN], "https://app.example.com");
    assert_eq!(h[ACCESS_CONTROL_ALLOW_CREDENTIALS], "true");
}

#[test]
fn allowed_origin_is_answered_in_canonical_form() {
    let h = app().response_headers(&headers(&[("origin", "https://APP.example.com")]));
    assert_eq!(h[ACCESS_CONTROL_ALLOW_ORIGIN], "https://app.example.com");
}

// ---------------------------------------------------------- preflights

#[test]
fn preflight_without_credentials_allowed() {
    let h = app()
        .preflight(&preflight(
            "https://app.example.com",
            "PUT",
            Some("authorization, Content-Type"),
        ))
        .unwrap();
    assert_eq!(h[ACCESS_CONTROL_ALLOW_ORIGIN], "https://app.example.com");
    assert_eq!(h[ACCESS_CONTROL_ALLOW_METHODS], "GET, PUT, DELETE");
    assert_eq!(
        h[ACCESS_CONTROL_ALLOW_HEADERS],
        "authorization, content-type, x-request-id"
    );
    assert_eq!(h[ACCESS_CONTROL_MAX_AGE], "600");
    assert!(h.get(ACCESS_CONTROL_ALLOW_CREDENTIALS).is_none());
}

#[test]
fn preflight_with_credentials_allowed() {
    let h = credentialed()
        .preflight(&preflight(
            "https://app.example.com",
            "PUT",
            Some("authorization"),
        ))
        .unwrap();
    assert_eq!(h[ACCESS_CONTROL_ALLOW_ORIGIN], "https://app.example.com");
    assert_eq!(h[ACCESS_CONTROL_ALLOW_CREDENTIALS], "true");
    assert!(h.get(ACCESS_CONTROL_MAX_AGE).is_none());
}

#[test]
fn preflight_safelisted_method_needs_no_listing() {
    let cors = Cors::new(&CorsSettings::new(["https://app.example.com"])).unwrap();
    let h = cors
        .preflight(&preflight("https://app.example.com", "POST", None))
        .unwrap();
    assert_eq!(h[ACCESS_CONTROL_ALLOW_ORIGIN], "https://app.example.com");
    assert!(h.get(ACCESS_CONTROL_ALLOW_METHODS).is_none());
}

#[test]
fn preflight_vary_present() {
    let h = app()
        .preflight(&preflight("https://app.example.com", "GET", None))
        .unwrap();
    assert_eq!(h[VARY], VARY_PREFLIGHT);
}

#[test]
fn preflight_disallowed_origin_refused() {
    assert_eq!(
        refused(&app(), &preflight("https://evil.com", "GET", None)),
        PreflightRefusal::OriginNotAllowed {
            origin: "https://evil.com".to_owned()
        }
    );
}

#[test]
fn preflight_other_port_refused() {
    let r = refused(&app(), &preflight("http://localhost:8081", "GET", None));
    assert!(
        matches!(r, PreflightRefusal::OriginNotAllowed { .. }),
        "{r:?}"
    );
}

#[test]
fn preflight_other_scheme_refused() {
    let r = refused(&app(), &preflight("http://app.example.com", "GET", None));
    assert!(
        matches!(r, PreflightRefusal::OriginNotAllowed { .. }),
        "{r:?}"
    );
}

#[test]
fn preflight_disallowed_method_refused() {
    assert_eq!(
        refused(&app(), &preflight("https://app.example.com", "PATCH", None)),
        PreflightRefusal::MethodNotAllowed {
            method: "PATCH".to_owned()
        }
    );
}

#[test]
fn preflight_method_is_case_sensitive() {
    let r = refused(&app(), &preflight("https://app.example.com", "put", None));
    assert!(
        matches!(r, PreflightRefusal::MethodNotAllowed { .. }),
        "{r:?}"
    );
}

#[test]
fn preflight_disallowed_header_refused() {
    assert_eq!(
        refused(
            &app(),
            &preflight(
                "https://app.example.com",
                "PUT",
                Some("authorization,x-admin")
            )
        ),
        PreflightRefusal::HeaderNotAllowed {
            header: "x-admin".to_owned()
        }
    );
}

#[test]
fn preflight_headers_compared_case_insensitively() {
    app()
        .preflight(&preflight(
            "https://app.example.com",
            "PUT",
            Some("AUTHORIZATION , X-Request-ID"),
        ))
        .unwrap();
}

#[test]
fn preflight_malformed_header_list_refused() {
    let r = refused(
        &app(),
        &preflight("https://app.example.com", "PUT", Some("authorization, a b")),
    );
    assert!(
        matches!(r, PreflightRefusal::MalformedRequestHeaders { .. }),
        "{r:?}"
    );
}

#[test]
fn preflight_huge_request_headers_bounded() {
    // Over the byte bound.
    let huge = vec!["authorization"; 2000].join(",");
    let r = refused(
        &app(),
        &preflight("https://app.example.com", "PUT", Some(&huge)),
    );
    assert!(
        matches!(r, PreflightRefusal::MalformedRequestHeaders { .. }),
        "{r:?}"
    );
    // Within the bytes, over the name count.
    let many = vec!["a"; MAX_REQUEST_HEADERS + 1].join(",");
    let r = refused(
        &app(),
        &preflight("https://app.example.com", "PUT", Some(&many)),
    );
    assert!(r.to_string().contains("more than"), "{r}");
    // Spread over many field lines: the bound is on the total.
    let mut h = preflight("https://app.example.com", "PUT", None);
    for _ in 0..1000 {
        h.append(
            "access-control-request-headers",
            "authorization".parse().unwrap(),
        );
    }
    let r = refused(&app(), &h);
    assert!(
        matches!(r, PreflightRefusal::MalformedRequestHeaders { .. }),
        "{r:?}"
    );
}

#[test]
fn preflight_malformed_origin_refused() {
    for origin in [
        "https://app.example.com/",
        "https://user@app.example.com",
        "https://app.example.com.evil.com/x",
    ] {
        let r = refused(&app(), &preflight(origin, "GET", None));
        assert!(
            matches!(r, PreflightRefusal::MalformedOrigin { .. }),
            "{origin}: {r:?}"
        );
    }
}

// ---------------------------------------------------------------- null

#[test]
fn null_origin_refused_unless_listed() {
    let r = refused(&app(), &preflight("null", "GET", None));
    assert!(
        matches!(r, PreflightRefusal::OriginNotAllowed { .. }),
        "{r:?}"
    );
    let h = app().response_headers(&headers(&[("origin", "null")]));
    assert!(h.get(ACCESS_CONTROL_ALLOW_ORIGIN).is_none());
}

#[test]
fn null_origin_allowed_when_listed() {
    let cors = Cors::new(&CorsSettings::new(["null"])).unwrap();
    let h = cors.preflight(&preflight("null", "GET", None)).unwrap();
    assert_eq!(h[ACCESS_CONTROL_ALLOW_ORIGIN], "null");
}

#[test]
fn any_origin_does_not_allow_null() {
    let cors = Cors::new(&CorsSettings::new(["*"])).unwrap();
    let h = cors.response_headers(&headers(&[("origin", "https://x.test")]));
    assert_eq!(h[ACCESS_CONTROL_ALLOW_ORIGIN], "*");
    let h = cors.response_headers(&headers(&[("origin", "null")]));
    assert!(h.get(ACCESS_CONTROL_ALLOW_ORIGIN).is_none());
}

// --------------------------------------------------- wildcard subdomains

#[test]
fn wildcard_matches_one_label() {
    let h = app().response_headers(&headers(&[("origin", "https://eu.example.org")]));
    assert_eq!(h[ACCESS_CONTROL_ALLOW_ORIGIN], "https://eu.example.org");
}

#[test]
fn wildcard_matches_several_labels() {
    let h = app().response_headers(&headers(&[("origin", "https://a.b.example.org")]));
    assert_eq!(h[ACCESS_CONTROL_ALLOW_ORIGIN], "https://a.b.example.org");
}

#[test]
fn wildcard_refuses_bare_parent() {
    let r = refused(&app(), &preflight("https://example.org", "GET", None));
    assert!(
        matches!(r, PreflightRefusal::OriginNotAllowed { .. }),
        "{r:?}"
    );
}

#[test]
fn wildcard_refuses_suffix_trick() {
    for origin in [
        "https://evil-example.org",
        "https://evilexample.org",
        "https://example.org.evil.com",
        "https://eu.example.org.evil.com",
    ] {
        let r = refused(&app(), &preflight(origin, "GET", None));
        assert!(
            matches!(r, PreflightRefusal::OriginNotAllowed { .. }),
            "{origin}: {r:?}"
        );
    }
}

#[test]
fn wildcard_scheme_and_port_exact() {
    for origin in ["http://eu.example.org", "https://eu.example.org:8443"] {
        let r = refused(&app(), &preflight(origin, "GET", None));
        assert!(
            matches!(r, PreflightRefusal::OriginNotAllowed { .. }),
            "{origin}: {r:?}"
        );
    }
}

#[test]
fn wildcard_host_case_insensitive() {
    let h = app().response_headers(&headers(&[("origin", "https://EU.Example.ORG")]));
    assert_eq!(h[ACCESS_CONTROL_ALLOW_ORIGIN], "https://eu.example.org");
}

// -------------------------------------------------------------- settings

#[test]
fn settings_any_with_credentials_refused() {
    let e = Cors::new(&CorsSettings::new(["*"]).with_credentials(true)).unwrap_err();
    assert!(e.to_string().contains("credentials"), "{e}");
}

#[test]
fn settings_any_mixed_with_origins_refused() {
    assert!(Cors::new(&CorsSettings::new(["*", "https://a.example.com"])).is_err());
}

#[test]
fn settings_empty_origins_refused() {
    assert!(Cors::new(&CorsSettings::new(Vec::<String>::new())).is_err());
}

#[test]
fn settings_non_canonical_origin_refused() {
    for origin in [
        "https://App.example.com",
        "https://app.example.com/",
        "https://app.example.com:443",
    ] {
        assert!(
            Cors::new(&CorsSettings::new([origin])).is_err(),
            "{origin} accepted"
        );
    }
}

#[test]
fn settings_pattern_on_a_single_label_refused() {
    for pattern in ["https://*.com", "https://*.", "https://*.*.example.com"] {
        assert!(
            Cors::new(&CorsSettings::new([pattern])).is_err(),
            "{pattern} accepted"
        );
    }
}

#[test]
fn settings_wildcard_header_refused() {
    assert!(Cors::new(&CorsSettings::new(["https://a.example.com"]).with_headers(["*"])).is_err());
}

#[test]
fn apply_to_appends_vary_and_replaces_upstream_acao() {
    let cors = app().response_headers(&headers(&[("origin", "https://app.example.com")]));
    let mut response = headers(&[
        ("vary", "Accept-Encoding"),
        ("access-control-allow-origin", "*"),
    ]);
    cors::apply_to(&cors, &mut response);
    assert_eq!(
        response.get_all(ACCESS_CONTROL_ALLOW_ORIGIN).iter().count(),
        1
    );
    assert_eq!(
        response[ACCESS_CONTROL_ALLOW_ORIGIN],
        "https://app.example.com"
    );
    let vary: Vec<_> = response.get_all(VARY).iter().collect();
    assert_eq!(vary, ["Accept-Encoding", "Origin"]);
}

#[test]
fn apply_to_without_cors_settings_keeps_upstream_headers() {
    let mut response = headers(&[("access-control-allow-origin", "https://x.test")]);
    cors::apply_to(&HeaderMap::new(), &mut response);
    assert_eq!(response[ACCESS_CONTROL_ALLOW_ORIGIN], "https://x.test");
    assert!(response.get(VARY).is_none());
}

#[test]
fn apply_to_disallowed_origin_removes_upstream_acao() {
    let cors = app().response_headers(&headers(&[("origin", "https://evil.com")]));
    let mut response = headers(&[("access-control-allow-origin", "*")]);
    cors::apply_to(&cors, &mut response);
    assert!(response.get(ACCESS_CONTROL_ALLOW_ORIGIN).is_none());
    assert_eq!(response[VARY], "Origin");
}

// ------------------------------------------------------ policy document

fn cors_policy() -> Policy {
    Policy::from_json(
        &json!({
            "cors": {
                "web": {
                    "origins": ["https://app.example.com", "https://*.example.org"],
                    "methods": ["GET", "PUT"],
                    "headers": ["authorization", "content-type"],
                    "expose_headers": ["x-request-id"],
                    "credentials": true,
                    "max_age": 600
                }
            },
            "rules": [
                {"id": "health", "match": {"paths": ["/health"]}, "require": {"anonymous": true}, "effect": "allow"},
                {"id": "public", "match": {"methods": ["GET"], "paths": ["/public/**"]}, "require": {"anonymous": true}, "effect": "allow", "cors": "web"},
                {"id": "orders", "match": {"methods": ["GET", "PUT"], "paths": ["/orders/**"]}, "require": {"authenticated": true}, "effect": "allow", "cors": "web"}
            ]
        })
        .to_string(),
    )
    .unwrap()
}

#[test]
fn policy_unknown_cors_name_refused() {
    let policy = Policy::from_json(
        &json!({"rules": [{"id": "r", "effect": "allow", "cors": "nope"}]}).to_string(),
    )
    .unwrap();
    assert!(matches!(
        policy.compile(),
        Err(PolicyError::UnknownCors { .. })
    ));
}

#[test]
fn policy_invalid_cors_settings_refused() {
    let policy = Policy::from_json(
        &json!({"cors": {"bad": {"origins": ["*"], "credentials": true}}, "rules": []}).to_string(),
    )
    .unwrap();
    let e = policy.compile().unwrap_err();
    assert!(matches!(e, PolicyError::Cors { .. }), "{e:?}");
    assert!(e.to_string().contains("`bad`"), "{e}");
}

#[test]
fn policy_unknown_cors_field_refused() {
    assert!(
        Policy::from_json(
            &json!({"cors": {"w": {"origins": ["*"], "allow_all": true}}, "rules": []}).to_string()
        )
        .is_err()
    );
}

#[test]
fn policy_cors_found_by_route_not_by_requirements() {
    let policy = cors_policy().compile().unwrap();
    let put = Method::PUT;
    assert!(
        policy
            .cors_for(&RequestFacts::new(&put, "/orders/1"))
            .is_some()
    );
    let delete = Method::DELETE;
    assert!(
        policy
            .cors_for(&RequestFacts::new(&delete, "/orders/1"))
            .is_none()
    );
    let get = Method::GET;
    assert!(
        policy
            .cors_for(&RequestFacts::new(&get, "/health"))
            .is_none()
    );
}

#[test]
fn policy_example_files_compile() {
    let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("examples/policies");
    let text = std::fs::read_to_string(dir.join("cors.json")).unwrap();
    let policy = Policy::from_json(&text).unwrap().compile().unwrap();
    assert!(policy.has_cors());
}

// ----------------------------------------------------------------- gate

fn gate() -> Gate {
    let issuer = IssuerConfig::new("https://idp.example.com", ["api://orders"])
        .with_jwks_uri("https://idp.example.com/jwks");
    Gate::new(GateConfig::new([issuer]).with_policy(cors_policy().compile().unwrap())).unwrap()
}

fn parts(method: Method, path: &str, pairs: &[(&str, &str)]) -> http::request::Parts {
    let mut b = http::Request::builder()
        .method(method)
        .uri(path)
        .header("host", "api.example.com");
    for (name, value) in pairs {
        b = b.header(*name, *value);
    }
    b.body(()).unwrap().into_parts().0
}

fn run(gate: &Gate, parts: &http::request::Parts) -> Outcome {
    gate.check(parts, &RequestFacts::from_parts(parts), NOW)
}

#[test]
fn gate_preflight_without_token_allowed_on_cors_route() {
    let p = parts(
        Method::OPTIONS,
        "/orders/7",
        &[
            ("origin", "https://app.example.com"),
            ("access-control-request-method", "PUT"),
            (
                "access-control-request-headers",
                "authorization,content-type",
            ),
        ],
    );
    let Outcome::Preflight(response) = run(&gate(), &p) else {
        panic!("preflight not answered");
    };
    assert_eq!(response.status(), StatusCode::NO_CONTENT);
    let h = response.headers();
    assert_eq!(h[ACCESS_CONTROL_ALLOW_ORIGIN], "https://app.example.com");
    assert_eq!(h[ACCESS_CONTROL_ALLOW_CREDENTIALS], "true");
    assert_eq!(h[ACCESS_CONTROL_ALLOW_METHODS], "GET, PUT");
    assert_eq!(h[ACCESS_CONTROL_MAX_AGE], "600");
    assert_eq!(h[VARY], VARY_PREFLIGHT);
}

#[test]
fn gate_preflight_disallowed_origin_is_403_without_cors_headers() {
    let p = parts(
        Method::OPTIONS,
        "/orders/7",
        &[
            ("origin", "https://evil-example.org"),
            ("access-control-request-method", "PUT"),
        ],
    );
    let Outcome::Deny(rejection) = run(&gate(), &p) else {
        panic!("preflight not refused");
    };
    assert_eq!(rejection.kind(), RejectionKind::Forbidden);
    let audit = serde_json::to_value(&rejection).unwrap();
    assert!(
        audit["reason"]
            .as_str()
            .unwrap()
            .contains("origin `https://evil-example.org` is not allowed"),
        "{audit}"
    );
    let response = rejection.to_response();
    assert_eq!(response.status(), StatusCode::FORBIDDEN);
    assert!(
        response
            .headers()
            .keys()
            .all(|k| !k.as_str().starts_with("access-control-") && *k != VARY),
        "{:?}",
        response.headers()
    );
}

#[test]
fn gate_preflight_for_method_the_route_lacks_is_refused() {
    let p = parts(
        Method::OPTIONS,
        "/orders/7",
        &[
            ("origin", "https://app.example.com"),
            ("access-control-request-method", "DELETE"),
        ],
    );
    let Outcome::Deny(rejection) = run(&gate(), &p) else {
        panic!("preflight not refused");
    };
    assert_eq!(rejection.status(), StatusCode::FORBIDDEN);
    assert!(
        rejection
            .reason()
            .unwrap()
            .contains("does not allow cross-origin")
    );
}

#[test]
fn gate_preflight_on_route_without_cors_is_refused() {
    let p = parts(
        Method::OPTIONS,
        "/health",
        &[
            ("origin", "https://app.example.com"),
            ("access-control-request-method", "GET"),
        ],
    );
    let Outcome::Deny(rejection) = run(&gate(), &p) else {
        panic!("preflight not refused");
    };
    assert_eq!(rejection.status(), StatusCode::FORBIDDEN);
}

#[test]
fn gate_without_cors_settings_treats_preflight_as_a_request() {
    let issuer = IssuerConfig::new("https://idp.example.com", ["api://orders"])
        .with_jwks_uri("https://idp.example.com/jwks");
    let g = Gate::new(GateConfig::new([issuer])).unwrap();
    let p = parts(
        Method::OPTIONS,
        "/orders/7",
        &[
            ("origin", "https://app.example.com"),
            ("access-control-request-method", "PUT"),
        ],
    );
    let Outcome::Deny(rejection) = run(&g, &p) else {
        panic!("anonymous preflight passed");
    };
    assert_eq!(rejection.status(), StatusCode::UNAUTHORIZED);
    assert!(rejection.cors_headers().is_none());
}

#[test]
fn gate_401_for_allowed_origin_carries_acao_and_vary() {
    let p = parts(
        Method::GET,
        "/orders/7",
        &[("origin", "https://app.example.com")],
    );
    let Outcome::Deny(rejection) = run(&gate(), &p) else {
        panic!("no token passed");
    };
    let response = rejection.to_response();
    assert_eq!(response.status(), StatusCode::UNAUTHORIZED);
    let h = response.headers();
    assert_eq!(h[ACCESS_CONTROL_ALLOW_ORIGIN], "https://app.example.com");
    assert_eq!(h[ACCESS_CONTROL_ALLOW_CREDENTIALS], "true");
    assert_eq!(h[ACCESS_CONTROL_EXPOSE_HEADERS], "x-request-id");
    assert_eq!(h[VARY], "Origin");
    assert!(h.contains_key("www-authenticate"));
}

#[test]
fn gate_401_for_disallowed_origin_carries_no_acao() {
    let p = parts(Method::GET, "/orders/7", &[("origin", "https://evil.com")]);
    let Outcome::Deny(rejection) = run(&gate(), &p) else {
        panic!("no token passed");
    };
    let response = rejection.to_response();
    assert_eq!(response.status(), StatusCode::UNAUTHORIZED);
    assert!(
        response
            .headers()
            .get(ACCESS_CONTROL_ALLOW_ORIGIN)
            .is_none()
    );
    assert!(
        response
            .headers()
            .get(ACCESS_CONTROL_ALLOW_CREDENTIALS)
            .is_none()
    );
    assert_eq!(response.headers()[VARY], "Origin");
}

#[test]
fn gate_problem_json_carries_cors_headers() {
    let p = parts(
        Method::GET,
        "/orders/7",
        &[("origin", "https://eu.example.org")],
    );
    let Outcome::Deny(rejection) = run(&gate(), &p) else {
        panic!("no token passed");
    };
    let response = rejection.to_problem_json();
    assert_eq!(
        response.headers()[ACCESS_CONTROL_ALLOW_ORIGIN],
        "https://eu.example.org"
    );
}

#[test]
fn gate_allow_cors_headers_for_the_upstream_response() {
    let g = gate();
    let p = parts(
        Method::GET,
        "/public/readme",
        &[("origin", "https://app.example.com")],
    );
    let facts = RequestFacts::from_parts(&p);
    assert!(matches!(g.check(&p, &facts, NOW), Outcome::Allow { .. }));
    let h = g.cors_headers(&p, &facts);
    assert_eq!(h[ACCESS_CONTROL_ALLOW_ORIGIN], "https://app.example.com");
    assert_eq!(h[VARY], "Origin");
}

#[test]
fn gate_cors_headers_empty_on_route_without_cors() {
    let g = gate();
    let p = parts(
        Method::GET,
        "/health",
        &[("origin", "https://app.example.com")],
    );
    assert!(g.cors_headers(&p, &RequestFacts::from_parts(&p)).is_empty());
}

#[test]
fn gate_plain_options_is_not_a_preflight() {
    // No Access-Control-Request-Method: an ordinary OPTIONS request, which
    // the policy judges (no rule allows OPTIONS here).
    let p = parts(
        Method::OPTIONS,
        "/orders/7",
        &[("origin", "https://app.example.com")],
    );
    assert!(matches!(run(&gate(), &p), Outcome::Deny(_)));
}
