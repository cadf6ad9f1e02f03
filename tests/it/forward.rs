//! `edge_auth::forward`, the pure half of the front door: owned header names
//! and their CGI look-alikes, stripping, identity headers and their escaping,
//! client address resolution, and the RFC 9112 request-line checks.

use std::net::IpAddr;

use edge_auth::Principal;
use edge_auth::forward::{
    ClientAddress, ForwardConfig, ForwardError, Forwarder, HeaderClass, IdentityField,
    IdentityHeader, OVERRIDE_HEADERS, TrustedProxy, UpstreamSignature, check_request_line,
    escape_identity_value,
};
use http::request::Parts;
use http::{HeaderMap, StatusCode, Version};

fn forwarder() -> Forwarder {
    Forwarder::new(ForwardConfig::default()).unwrap()
}

fn parts(target: &str, headers: &[(&str, &str)]) -> Parts {
    let mut request = http::Request::get(target);
    for (name, value) in headers {
        request = request.header(*name, *value);
    }
    request.body(()).unwrap().into_parts().0
}

fn ip(text: &str) -> IpAddr {
    text.parse().unwrap()
}

fn escaped(value: &str) -> String {
    let mut out = String::new();
    escape_identity_value(value, &mut out);
    out
}

// --- owned names and look-alikes -------------------------------------------

#[test]
fn identity_look_alikes_are_identity() {
    let f = forwarder();
    for name in [
        "x-auth-roles",
        "X-Auth-Roles",
        "X_Auth_Roles",
        "x_auth_subject",
        "x-auth_subject",
        "X_AUTH_TENANT",
        "x.auth.roles",
        "x~auth~anything",
        "x-auth-",
    ] {
        assert_eq!(f.classify(name), Some(HeaderClass::Identity), "{name}");
    }
}

#[test]
fn forwarding_look_alikes_are_forwarding() {
    let f = forwarder();
    for name in [
        "x-forwarded-for",
        "x_forwarded_for",
        "X_Forwarded_Host",
        "x-forwarded_proto",
        "x-forwarded-prefix",
        "x-forwarded",
        "forwarded",
        "x-real-ip",
        "X_Real_IP",
        "true-client-ip",
        "True_Client_IP",
        "cf-connecting-ip",
        "CF_Connecting_IP",
        "cf-ipcountry",
        "cf-connecting-ipv6",
        "fastly-client-ip",
        "x-client-ip",
        "x-cluster-client-ip",
        "client-ip",
        "wl-proxy-client-ip",
        "http_client_ip",
        "x-envoy-external-address",
        "cloudfront-viewer-address",
    ] {
        assert_eq!(f.classify(name), Some(HeaderClass::Forwarding), "{name}");
    }
}

#[test]
fn override_headers_and_look_alikes_are_owned_by_default() {
    let f = forwarder();
    for name in OVERRIDE_HEADERS {
        assert_eq!(f.classify(name), Some(HeaderClass::Override), "{name}");
        let underscored = name.replace('-', "_").to_uppercase();
        assert_eq!(
            f.classify(&underscored),
            Some(HeaderClass::Override),
            "{underscored}"
        );
    }
}

#[test]
fn allowed_override_header_is_not_owned() {
    let f =
        Forwarder::new(ForwardConfig::default().with_allow_override(["X-HTTP-Method-Override"]))
            .unwrap();
    assert_eq!(f.classify("x-http-method-override"), None);
    assert_eq!(f.classify("x_http_method_override"), None);
    assert_eq!(f.classify("x-original-url"), Some(HeaderClass::Override));
}

#[test]
fn allow_override_of_a_non_override_header_is_refused() {
    let err =
        Forwarder::new(ForwardConfig::default().with_allow_override(["x-auth-roles"])).unwrap_err();
    assert_eq!(
        err,
        ForwardError::NotAnOverrideHeader("x-auth-roles".into())
    );
    assert_eq!(
        err.to_string(),
        "`x-auth-roles` is not a method or URL override header"
    );
}

#[test]
fn signature_headers_are_owned_by_signing_mode() {
    let none = forwarder();
    assert_eq!(none.classify("signature"), Some(HeaderClass::Signature));
    assert_eq!(
        none.classify("Signature_Input"),
        Some(HeaderClass::Signature)
    );
    assert_eq!(none.classify("content-digest"), None);
    assert_eq!(none.classify("x-amz-date"), None);

    let httpsig =
        Forwarder::new(ForwardConfig::default().with_signature(UpstreamSignature::HttpSig))
            .unwrap();
    assert_eq!(
        httpsig.classify("Content_Digest"),
        Some(HeaderClass::Signature)
    );
    assert_eq!(
        httpsig.classify("repr-digest"),
        Some(HeaderClass::Signature)
    );

    let sigv4 =
        Forwarder::new(ForwardConfig::default().with_signature(UpstreamSignature::SigV4)).unwrap();
    assert_eq!(
        sigv4.classify("authorization"),
        Some(HeaderClass::Signature)
    );
    assert_eq!(sigv4.classify("X_Amz_Date"), Some(HeaderClass::Signature));
    assert_eq!(
        sigv4.classify("x-amz-security-token"),
        Some(HeaderClass::Signature)
    );
    assert_eq!(
        sigv4.classify("x-amz-content-sha256"),
        Some(HeaderClass::Signature)
    );
}

#[test]
fn authorization_is_owned_unless_forwarded() {
    assert_eq!(
        forwarder().classify("Authorization"),
        Some(HeaderClass::Credentials)
    );
    let mut config = ForwardConfig::default();
    config.forward_authorization = true;
    assert_eq!(
        Forwarder::new(config).unwrap().classify("authorization"),
        None
    );
}

#[test]
fn assertion_header_and_look_alikes_are_owned() {
    let f = forwarder();
    assert_eq!(f.classify("x-edge-assertion"), Some(HeaderClass::Assertion));
    assert_eq!(f.classify("X_Edge_Assertion"), Some(HeaderClass::Assertion));
}

#[test]
fn hop_by_hop_look_alikes_are_owned() {
    let f = forwarder();
    for name in [
        "connection",
        "Keep_Alive",
        "te",
        "transfer_encoding",
        "upgrade",
    ] {
        assert_eq!(f.classify(name), Some(HeaderClass::HopByHop), "{name}");
    }
}

#[test]
fn ordinary_headers_are_not_owned() {
    let f = forwarder();
    for name in [
        "accept",
        "content-type",
        "content-length",
        "cookie",
        "x-request-id",
        "x-auth",
        "xauth-roles",
        "x-authz-roles",
        "x-forwardedfor",
        "user-agent",
    ] {
        assert_eq!(f.classify(name), None, "{name}");
    }
}

#[test]
fn custom_identity_prefix_and_names_are_owned() {
    let f = Forwarder::new(
        ForwardConfig::default()
            .with_identity_prefix("x-user-")
            .with_identity([IdentityHeader::new(IdentityField::Subject, "remote-user")]),
    )
    .unwrap();
    assert_eq!(f.classify("X_User_Id"), Some(HeaderClass::Identity));
    assert_eq!(f.classify("Remote_User"), Some(HeaderClass::Identity));
    // The default prefix is no longer the namespace.
    assert_eq!(f.classify("x-auth-roles"), None);
}

#[test]
fn invalid_identity_header_name_is_refused() {
    let err = Forwarder::new(
        ForwardConfig::default()
            .with_identity([IdentityHeader::new(IdentityField::Subject, "bad name")]),
    )
    .unwrap_err();
    assert_eq!(err, ForwardError::InvalidHeaderName("bad name".into()));
}

#[test]
fn empty_identity_prefix_is_refused() {
    assert!(Forwarder::new(ForwardConfig::default().with_identity_prefix("")).is_err());
}

// --- stripping ---------------------------------------------------------------

#[test]
fn strip_inbound_removes_every_copy_and_connection_named_headers() {
    let f = forwarder();
    let mut headers = HeaderMap::new();
    for (name, value) in [
        ("x-auth-roles", "admin"),
        ("x_auth_roles", "admin"),
        ("X-Auth_Roles", "admin"),
        ("x-forwarded-for", "6.6.6.6"),
        ("x-forwarded-for", "7.7.7.7"),
        ("connection", "x-private"),
        ("x-private", "secret"),
        ("authorization", "Bearer t"),
        ("accept", "*/*"),
    ] {
        headers.append(
            http::HeaderName::from_bytes(name.to_ascii_lowercase().as_bytes()).unwrap(),
            value.parse().unwrap(),
        );
    }
    let removed = f.strip_inbound(&mut headers);
    assert_eq!(removed, 8);
    assert_eq!(headers.len(), 1);
    assert_eq!(headers["accept"], "*/*");
}

#[test]
fn strip_inbound_removes_client_certificate_headers() {
    let f = forwarder();
    let mut headers = HeaderMap::new();
    for name in [
        "client-cert",
        "client-cert-chain",
        "Client_Cert",
        "x-ssl-cert",
        "ssl-client-cert",
        "x-amzn-mtls-clientcert",
        "x-forwarded-client-cert",
    ] {
        headers.append(
            http::HeaderName::from_bytes(name.to_ascii_lowercase().as_bytes()).unwrap(),
            ":AAAA:".parse().unwrap(),
        );
    }
    headers.append("accept", "*/*".parse().unwrap());
    assert_eq!(f.strip_inbound(&mut headers), 7);
    assert_eq!(headers.len(), 1);
}

#[test]
fn forward_sets_identity_and_forwarding_after_stripping() {
    let f = forwarder();
    let mut p = parts(
        "/api",
        &[
            ("host", "api.example"),
            ("x_auth_roles", "admin"),
            ("x-auth-subject", "mallory"),
            ("x-forwarded-host", "internal.example"),
        ],
    );
    let client = f.resolve_client(&p.headers, ip("192.0.2.1"));
    let principal = Principal::new("alice").with_roles(["reader", "writer"]);
    let out = f.forward(&mut p, &client, Some(&principal)).unwrap();
    assert_eq!(p.headers["x-auth-subject"], "alice");
    assert_eq!(p.headers["x-auth-roles"], "reader,writer");
    assert_eq!(p.headers["x-forwarded-for"], "192.0.2.1");
    assert_eq!(p.headers["x-forwarded-host"], "api.example");
    assert!(!p.headers.contains_key("x_auth_roles"));
    assert_eq!(p.headers.get_all("x-auth-subject").iter().count(), 1);
    let identity: Vec<&str> = out.identity().iter().map(|n| n.as_str()).collect();
    assert_eq!(identity, ["x-auth-subject", "x-auth-roles"]);
    let covered: Vec<&str> = out.covered().map(|n| n.as_str()).collect();
    assert_eq!(
        covered,
        [
            "x-auth-subject",
            "x-auth-roles",
            "x-forwarded-for",
            "x-forwarded-host"
        ]
    );
    assert_eq!(out.stripped(), 3);
}

#[test]
fn anonymous_forward_sets_no_identity() {
    let f = forwarder();
    let mut p = parts("/health", &[("host", "h"), ("x-auth-subject", "mallory")]);
    let client = f.resolve_client(&p.headers, ip("127.0.0.1"));
    let out = f.forward(&mut p, &client, None).unwrap();
    assert!(out.identity().is_empty());
    assert!(!p.headers.contains_key("x-auth-subject"));
}

#[test]
fn strip_mode_sends_no_forwarding_headers() {
    let f =
        Forwarder::new(ForwardConfig::default().with_client_address(ClientAddress::Strip)).unwrap();
    let mut p = parts("/", &[("host", "h"), ("x-real-ip", "6.6.6.6")]);
    let client = f.resolve_client(&p.headers, ip("127.0.0.1"));
    let out = f.forward(&mut p, &client, None).unwrap();
    assert!(out.forwarding().is_empty());
    assert!(!p.headers.contains_key("x-forwarded-for"));
    assert!(!p.headers.contains_key("x-real-ip"));
}

#[test]
fn forwarded_proto_is_sent_when_configured() {
    let mut config = ForwardConfig::default();
    config.forwarded_proto = Some("https".into());
    let f = Forwarder::new(config).unwrap();
    let mut p = parts("/", &[("host", "h"), ("x-forwarded-proto", "http")]);
    let client = f.resolve_client(&p.headers, ip("127.0.0.1"));
    f.forward(&mut p, &client, None).unwrap();
    assert_eq!(p.headers["x-forwarded-proto"], "https");
}

// --- identity values ----------------------------------------------------------

#[test]
fn escaping_keeps_visible_ascii() {
    assert_eq!(escaped("alice@example.com"), "alice@example.com");
}

#[test]
fn escaping_encodes_comma_percent_and_space() {
    assert_eq!(escaped("a,b"), "a%2Cb");
    assert_eq!(escaped("100%"), "100%25");
    assert_eq!(escaped("alice smith"), "alice%20smith");
}

#[test]
fn escaping_encodes_cr_lf_nul_and_controls() {
    assert_eq!(
        escaped("x\r\nx-auth-roles: admin"),
        "x%0D%0Ax-auth-roles:%20admin"
    );
    assert_eq!(escaped("a\0b\tc\x7f"), "a%00b%09c%7F");
}

#[test]
fn escaping_encodes_non_ascii_as_utf8() {
    assert_eq!(escaped("ü"), "%C3%BC");
    assert_eq!(escaped("日"), "%E6%97%A5");
}

#[test]
fn identity_values_of_lists_are_escaped_each() {
    let f = forwarder();
    let principal = Principal::new("alice smith").with_roles(["reader", "a,b", "ü"]);
    let headers = f.identity_headers(&principal).unwrap();
    assert_eq!(headers[0].1, "alice%20smith");
    assert_eq!(headers[1].1, "a%2Cb,reader,%C3%BC");
}

#[test]
fn absent_identity_value_is_an_empty_field() {
    let f = Forwarder::new(ForwardConfig::default().with_identity([
        IdentityHeader::new(IdentityField::Tenant, "x-auth-tenant"),
        IdentityHeader::new(IdentityField::Groups, "x-auth-groups"),
    ]))
    .unwrap();
    let headers = f.identity_headers(&Principal::new("alice")).unwrap();
    assert_eq!(headers.len(), 2);
    assert!(headers.iter().all(|(_, v)| v.is_empty()));
}

#[test]
fn claims_by_name_and_pointer_become_headers() {
    let f = Forwarder::new(ForwardConfig::default().with_identity([
        IdentityHeader::new(IdentityField::Claim("department".into()), "x-auth-dept"),
        IdentityHeader::new(
            IdentityField::Claim("/realm_access/roles".into()),
            "x-auth-realm-roles",
        ),
        IdentityHeader::new(IdentityField::Claim("level".into()), "x-auth-level"),
        IdentityHeader::new(IdentityField::Claim("object".into()), "x-auth-object"),
    ]))
    .unwrap();
    let claims = serde_json::json!({
        "department": "R&D\r\nx: y",
        "realm_access": {"roles": ["a", "b c", 3, {"x": 1}]},
        "level": 7,
        "object": {"k": "v"},
    });
    let principal = Principal::new("alice").with_claims(claims.as_object().unwrap().clone());
    let headers = f.identity_headers(&principal).unwrap();
    let values: Vec<&str> = headers.iter().map(|(_, v)| v.to_str().unwrap()).collect();
    assert_eq!(values, ["R&D%0D%0Ax:%20y", "a,b%20c,3", "7", ""]);
}

#[test]
fn identity_value_over_the_limit_is_an_error() {
    let mut config = ForwardConfig::default();
    config.max_identity_value_len = 16;
    let f = Forwarder::new(config).unwrap();
    let principal = Principal::new("alice").with_roles(["a-very-long-role-name"]);
    let err = f.identity_headers(&principal).unwrap_err();
    assert_eq!(
        err.to_string(),
        "identity header `x-auth-roles` would be 21 bytes, limit 16"
    );
    assert_eq!(err.status(), StatusCode::INTERNAL_SERVER_ERROR);
    // And forward() leaves the request untouched.
    let mut p = parts("/", &[("host", "h"), ("x-auth-roles", "admin")]);
    let client = f.resolve_client(&p.headers, ip("127.0.0.1"));
    assert!(f.forward(&mut p, &client, Some(&principal)).is_err());
    assert_eq!(p.headers["x-auth-roles"], "admin");
}

// --- client address -------------------------------------------------------------

fn proxied() -> Forwarder {
    Forwarder::new(
        ForwardConfig::default().with_trusted_proxy(
            TrustedProxy::new(["10.0.0.0/8", "192.0.2.1"], "cf-connecting-ip")
                .with_country_header("cf-ipcountry"),
        ),
    )
    .unwrap()
}

#[test]
fn client_is_the_peer_without_a_trusted_proxy() {
    let p = parts(
        "/",
        &[
            ("cf-connecting-ip", "203.0.113.9"),
            ("x-real-ip", "1.1.1.1"),
        ],
    );
    let client = forwarder().resolve_client(&p.headers, ip("198.51.100.4"));
    assert_eq!(client.ip, ip("198.51.100.4"));
    assert!(!client.from_proxy);
}

#[test]
fn trusted_proxy_header_is_read_from_the_proxy() {
    let p = parts(
        "/",
        &[("cf-connecting-ip", "203.0.113.9"), ("cf-ipcountry", "de")],
    );
    let client = proxied().resolve_client(&p.headers, ip("10.1.2.3"));
    assert_eq!(client.ip, ip("203.0.113.9"));
    assert_eq!(client.country.as_deref(), Some("DE"));
    assert!(client.from_proxy);
}

#[test]
fn trusted_proxy_header_is_ignored_from_anyone_else() {
    let p = parts("/", &[("cf-connecting-ip", "203.0.113.9")]);
    let client = proxied().resolve_client(&p.headers, ip("198.51.100.4"));
    assert_eq!(client.ip, ip("198.51.100.4"));
}

#[test]
fn only_the_named_proxy_header_is_read() {
    let p = parts(
        "/",
        &[("x-real-ip", "203.0.113.9"), ("true-client-ip", "1.1.1.1")],
    );
    let client = proxied().resolve_client(&p.headers, ip("10.1.2.3"));
    assert_eq!(client.ip, ip("10.1.2.3"));
}

#[test]
fn repeated_or_invalid_proxy_header_falls_back_to_the_peer() {
    let p = parts(
        "/",
        &[
            ("cf-connecting-ip", "203.0.113.9"),
            ("cf-connecting-ip", "1.1.1.1"),
        ],
    );
    assert_eq!(
        proxied().resolve_client(&p.headers, ip("10.0.0.1")).ip,
        ip("10.0.0.1")
    );
    let p = parts("/", &[("cf-connecting-ip", "not-an-ip")]);
    assert_eq!(
        proxied().resolve_client(&p.headers, ip("10.0.0.1")).ip,
        ip("10.0.0.1")
    );
}

#[test]
fn x_forwarded_for_from_a_proxy_uses_the_last_element() {
    let f = Forwarder::new(
        ForwardConfig::default()
            .with_trusted_proxy(TrustedProxy::new(["127.0.0.1"], "x-forwarded-for")),
    )
    .unwrap();
    let p = parts("/", &[("x-forwarded-for", "6.6.6.6, 203.0.113.9")]);
    assert_eq!(
        f.resolve_client(&p.headers, ip("127.0.0.1")).ip,
        ip("203.0.113.9")
    );
}

#[test]
fn invalid_proxy_block_is_refused() {
    let err = Forwarder::new(
        ForwardConfig::default()
            .with_trusted_proxy(TrustedProxy::new(["10.0.0.0/33"], "x-real-ip")),
    )
    .unwrap_err();
    assert!(
        matches!(err, ForwardError::InvalidProxyAddress(..)),
        "{err}"
    );
}

// --- request line ---------------------------------------------------------------

#[test]
fn origin_form_with_one_host_passes() {
    let mut p = parts("/a?b", &[("host", "api.example:8443")]);
    check_request_line(&mut p).unwrap();
    assert_eq!(p.headers["host"], "api.example:8443");
}

#[test]
fn ipv6_host_with_port_passes() {
    let mut p = parts("/", &[("host", "[::1]:8080")]);
    check_request_line(&mut p).unwrap();
    let mut p = parts("http://[::1]:8080/", &[("host", "x")]);
    check_request_line(&mut p).unwrap();
    assert_eq!(p.headers["host"], "[::1]:8080");
}

#[test]
fn absolute_form_authority_replaces_host() {
    let mut p = parts("http://public.example/api", &[("host", "internal.example")]);
    check_request_line(&mut p).unwrap();
    assert_eq!(p.headers["host"], "public.example");
    assert_eq!(p.headers.get_all("host").iter().count(), 1);
}

#[test]
fn missing_host_on_http11_is_400() {
    let mut p = parts("/", &[]);
    let err = check_request_line(&mut p).unwrap_err();
    assert_eq!(err, ForwardError::MissingHost);
    assert_eq!(err.status(), StatusCode::BAD_REQUEST);
}

#[test]
fn missing_host_on_http10_passes() {
    let mut p = parts("/", &[]);
    p.version = Version::HTTP_10;
    check_request_line(&mut p).unwrap();
}

#[test]
fn repeated_host_is_400() {
    let mut p = parts("/", &[("host", "a.example"), ("host", "a.example")]);
    assert_eq!(
        check_request_line(&mut p),
        Err(ForwardError::RepeatedHost(2))
    );
}

#[test]
fn list_valued_host_is_400() {
    let mut p = parts("/", &[("host", "a.example, b.example")]);
    let err = check_request_line(&mut p).unwrap_err();
    assert_eq!(
        err.to_string(),
        "host header `a.example, b.example` is not a single valid authority"
    );
    assert_eq!(err.status(), StatusCode::BAD_REQUEST);
}

#[test]
fn host_with_userinfo_or_bad_syntax_is_400() {
    for host in ["user@a.example", "", "a.example:port", "a b"] {
        let mut p = parts("/", &[("host", host)]);
        assert!(
            matches!(
                check_request_line(&mut p),
                Err(ForwardError::InvalidHost(_))
            ),
            "{host:?}"
        );
    }
}

#[test]
fn absolute_form_with_userinfo_or_other_scheme_is_400() {
    for target in ["http://user@a.example/", "ftp://a.example/"] {
        let mut p = parts(target, &[("host", "a.example")]);
        let err = check_request_line(&mut p).unwrap_err();
        assert!(
            matches!(err, ForwardError::InvalidTarget(..)),
            "{target}: {err}"
        );
        assert_eq!(err.status(), StatusCode::BAD_REQUEST);
    }
}

#[test]
fn unknown_transfer_coding_is_501() {
    for te in ["gzip, chunked", "deflate", "chunked;x=1, br"] {
        let mut p = parts("/", &[("host", "h"), ("transfer-encoding", te)]);
        let err = check_request_line(&mut p).unwrap_err();
        assert!(
            matches!(err, ForwardError::UnsupportedTransferCoding(_)),
            "{te}: {err}"
        );
        assert_eq!(err.status(), StatusCode::NOT_IMPLEMENTED);
    }
}

#[test]
fn unknown_transfer_coding_response_names_the_coding() {
    let mut p = parts(
        "/",
        &[("host", "h"), ("transfer-encoding", "GZIP, chunked")],
    );
    let response = check_request_line(&mut p).unwrap_err().to_response();
    assert_eq!(response.status(), StatusCode::NOT_IMPLEMENTED);
    assert_eq!(
        response.body(),
        "transfer coding `gzip` is not implemented\n"
    );
    assert_eq!(response.headers()["connection"], "close");
}

#[test]
fn chunked_twice_is_400() {
    let mut p = parts(
        "/",
        &[
            ("host", "h"),
            ("transfer-encoding", "chunked"),
            ("transfer-encoding", "chunked"),
        ],
    );
    let err = check_request_line(&mut p).unwrap_err();
    assert!(
        matches!(err, ForwardError::InvalidTransferEncoding(_)),
        "{err}"
    );
}

#[test]
fn chunked_alone_passes() {
    let mut p = parts("/", &[("host", "h"), ("transfer-encoding", "Chunked")]);
    check_request_line(&mut p).unwrap();
}

#[test]
fn strip_hop_by_hop_removes_the_list_and_what_connection_names() {
    let mut headers = http::HeaderMap::new();
    for (name, value) in [
        ("connection", "close, x-secret-hop"),
        ("x-secret-hop", "1"),
        ("keep-alive", "timeout=5"),
        ("transfer-encoding", "chunked"),
        ("upgrade", "websocket"),
        ("te", "trailers"),
        ("content-type", "text/plain"),
    ] {
        headers.append(name, value.parse().unwrap());
    }
    assert_eq!(edge_auth::forward::strip_hop_by_hop(&mut headers), 6);
    let left: Vec<&str> = headers.keys().map(|n| n.as_str()).collect();
    assert_eq!(left, ["content-type"]);
}
