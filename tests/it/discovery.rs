//! OpenID Connect Discovery 1.0: provider-shaped documents (written from the
//! providers' documented formats) and the checks of §3, §4 and §4.3.

use edge_auth::jwk::discovery::{
    DiscoveryError, DiscoveryOptions, ProviderMetadata, discovery_url,
};
use edge_auth::jwt::Algorithm;
use serde_json::{Value, json};

fn opts() -> DiscoveryOptions {
    DiscoveryOptions::default()
}

fn parse(doc: &Value, issuer: &str) -> Result<ProviderMetadata, DiscoveryError> {
    ProviderMetadata::from_json(&serde_json::to_vec(doc).unwrap(), issuer, &opts())
}

struct Case {
    issuer: &'static str,
    discovery: &'static str,
    jwks_uri: &'static str,
    doc: Value,
}

const ENTRA_TENANT: &str = "9188040d-6c67-4c5b-b112-36a304b66dad";

fn entra_id_v2() -> Case {
    let t = ENTRA_TENANT;
    Case {
        issuer: "https://login.microsoftonline.com/9188040d-6c67-4c5b-b112-36a304b66dad/v2.0",
        discovery: "https://login.microsoftonline.com/9188040d-6c67-4c5b-b112-36a304b66dad/v2.0/.well-known/openid-configuration",
        jwks_uri: "https://login.microsoftonline.com/9188040d-6c67-4c5b-b112-36a304b66dad/discovery/v2.0/keys",
        doc: json!({
            "token_endpoint": format!("https://login.microsoftonline.com/{t}/oauth2/v2.0/token"),
            "token_endpoint_auth_methods_supported": ["client_secret_post", "private_key_jwt", "client_secret_basic"],
            "jwks_uri": format!("https://login.microsoftonline.com/{t}/discovery/v2.0/keys"),
            "response_modes_supported": ["query", "fragment", "form_post"],
            "subject_types_supported": ["pairwise"],
            "id_token_signing_alg_values_supported": ["RS256"],
            "response_types_supported": ["code", "id_token", "code id_token", "id_token token"],
            "scopes_supported": ["openid", "profile", "email", "offline_access"],
            "issuer": format!("https://login.microsoftonline.com/{t}/v2.0"),
            "request_uri_parameter_supported": false,
            "userinfo_endpoint": "https://graph.microsoft.com/oidc/userinfo",
            "authorization_endpoint": format!("https://login.microsoftonline.com/{t}/oauth2/v2.0/authorize"),
            "device_authorization_endpoint": format!("https://login.microsoftonline.com/{t}/oauth2/v2.0/devicecode"),
            "http_logout_supported": true,
            "frontchannel_logout_supported": true,
            "end_session_endpoint": format!("https://login.microsoftonline.com/{t}/oauth2/v2.0/logout"),
            "claims_supported": ["sub", "iss", "cloud_instance_name", "cloud_instance_host_name", "cloud_graph_host_name",
                "msgraph_host", "aud", "exp", "iat", "auth_time", "acr", "nonce", "preferred_username", "name", "tid",
                "ver", "at_hash", "c_hash", "email"],
            "kerberos_endpoint": format!("https://login.microsoftonline.com/{t}/kerberos"),
            "tenant_region_scope": "WW",
            "cloud_instance_name": "microsoftonline.com",
            "cloud_graph_host_name": "graph.windows.net",
            "msgraph_host": "graph.microsoft.com",
            "rbac_url": "https://pas.windows.net"
        }),
    }
}

fn okta() -> Case {
    let base = "https://dev-133337.okta.com/oauth2/default";
    Case {
        issuer: "https://dev-133337.okta.com/oauth2/default",
        discovery: "https://dev-133337.okta.com/oauth2/default/.well-known/openid-configuration",
        jwks_uri: "https://dev-133337.okta.com/oauth2/default/v1/keys",
        doc: json!({
            "issuer": base,
            "authorization_endpoint": format!("{base}/v1/authorize"),
            "token_endpoint": format!("{base}/v1/token"),
            "userinfo_endpoint": format!("{base}/v1/userinfo"),
            "registration_endpoint": "https://dev-133337.okta.com/oauth2/v1/clients",
            "jwks_uri": format!("{base}/v1/keys"),
            "response_types_supported": ["code", "id_token", "code id_token", "code token", "id_token token", "code id_token token"],
            "response_modes_supported": ["query", "fragment", "form_post", "okta_post_message"],
            "grant_types_supported": ["authorization_code", "implicit", "refresh_token", "password",
                "urn:ietf:params:oauth:grant-type:device_code"],
            "subject_types_supported": ["public"],
            "id_token_signing_alg_values_supported": ["RS256"],
            "scopes_supported": ["openid", "profile", "email", "address", "phone", "offline_access", "groups"],
            "token_endpoint_auth_methods_supported": ["client_secret_basic", "client_secret_post", "client_secret_jwt",
                "private_key_jwt", "none"],
            "claims_supported": ["iss", "ver", "sub", "aud", "iat", "exp", "jti", "auth_time", "amr", "idp", "nonce",
                "name", "email", "email_verified", "groups"],
            "code_challenge_methods_supported": ["S256"],
            "introspection_endpoint": format!("{base}/v1/introspect"),
            "revocation_endpoint": format!("{base}/v1/revoke"),
            "end_session_endpoint": format!("{base}/v1/logout"),
            "request_parameter_supported": true,
            "request_object_signing_alg_values_supported": ["HS256", "HS384", "HS512", "RS256", "RS384", "RS512",
                "ES256", "ES384", "ES512"],
            "device_authorization_endpoint": format!("{base}/v1/device/authorize"),
            "dpop_signing_alg_values_supported": ["RS256", "RS384", "RS512", "ES256", "ES384", "ES512"]
        }),
    }
}

fn keycloak() -> Case {
    let base = "https://sso.example.com/realms/acme";
    Case {
        issuer: "https://sso.example.com/realms/acme",
        discovery: "https://sso.example.com/realms/acme/.well-known/openid-configuration",
        jwks_uri: "https://sso.example.com/realms/acme/protocol/openid-connect/certs",
        doc: json!({
            "issuer": base,
            "authorization_endpoint": format!("{base}/protocol/openid-connect/auth"),
            "token_endpoint": format!("{base}/protocol/openid-connect/token"),
            "introspection_endpoint": format!("{base}/protocol/openid-connect/token/introspect"),
            "userinfo_endpoint": format!("{base}/protocol/openid-connect/userinfo"),
            "end_session_endpoint": format!("{base}/protocol/openid-connect/logout"),
            "frontchannel_logout_session_supported": true,
            "jwks_uri": format!("{base}/protocol/openid-connect/certs"),
            "check_session_iframe": format!("{base}/protocol/openid-connect/login-status-iframe.html"),
            "grant_types_supported": ["authorization_code", "implicit", "refresh_token", "password", "client_credentials",
                "urn:openid:params:grant-type:ciba", "urn:ietf:params:oauth:grant-type:device_code"],
            "acr_values_supported": ["0", "1"],
            "response_types_supported": ["code", "none", "id_token", "token", "id_token token", "code id_token",
                "code token", "code id_token token"],
            "subject_types_supported": ["public", "pairwise"],
            "id_token_signing_alg_values_supported": ["PS384", "ES384", "RS384", "HS256", "HS512", "ES256", "RS256",
                "HS384", "ES512", "PS256", "PS512", "RS512", "EdDSA"],
            "id_token_encryption_alg_values_supported": ["RSA-OAEP", "RSA-OAEP-256", "RSA1_5"],
            "id_token_encryption_enc_values_supported": ["A256GCM", "A192GCM", "A128GCM", "A128CBC-HS256"],
            "userinfo_signing_alg_values_supported": ["PS384", "ES384", "RS384", "HS256", "none"],
            "request_object_signing_alg_values_supported": ["PS384", "ES384", "none"],
            "response_modes_supported": ["query", "fragment", "form_post", "query.jwt", "fragment.jwt", "form_post.jwt", "jwt"],
            "registration_endpoint": format!("{base}/clients-registrations/openid-connect"),
            "token_endpoint_auth_methods_supported": ["private_key_jwt", "client_secret_basic", "client_secret_post",
                "tls_client_auth", "client_secret_jwt"],
            "claims_supported": ["aud", "sub", "iss", "auth_time", "name", "given_name", "family_name",
                "preferred_username", "email", "acr"],
            "claim_types_supported": ["normal"],
            "claims_parameter_supported": true,
            "scopes_supported": ["openid", "profile", "email", "roles", "web-origins", "offline_access"],
            "request_parameter_supported": true,
            "request_uri_parameter_supported": true,
            "require_request_uri_registration": true,
            "code_challenge_methods_supported": ["plain", "S256"],
            "tls_client_certificate_bound_access_tokens": true,
            "revocation_endpoint": format!("{base}/protocol/openid-connect/revoke"),
            "backchannel_logout_supported": true,
            "mtls_endpoint_aliases": {
                "token_endpoint": format!("{base}/protocol/openid-connect/token"),
                "jwks_uri": "http://attacker.example/not-read"
            },
            "authorization_response_iss_parameter_supported": true
        }),
    }
}

fn auth0() -> Case {
    Case {
        // Auth0 issuers end with a slash; discovery strips it (§4).
        issuer: "https://dev-abc123.us.auth0.com/",
        discovery: "https://dev-abc123.us.auth0.com/.well-known/openid-configuration",
        jwks_uri: "https://dev-abc123.us.auth0.com/.well-known/jwks.json",
        doc: json!({
            "issuer": "https://dev-abc123.us.auth0.com/",
            "authorization_endpoint": "https://dev-abc123.us.auth0.com/authorize",
            "token_endpoint": "https://dev-abc123.us.auth0.com/oauth/token",
            "device_authorization_endpoint": "https://dev-abc123.us.auth0.com/oauth/device/code",
            "userinfo_endpoint": "https://dev-abc123.us.auth0.com/userinfo",
            "mfa_challenge_endpoint": "https://dev-abc123.us.auth0.com/mfa/challenge",
            "jwks_uri": "https://dev-abc123.us.auth0.com/.well-known/jwks.json",
            "registration_endpoint": "https://dev-abc123.us.auth0.com/oidc/register",
            "revocation_endpoint": "https://dev-abc123.us.auth0.com/oauth/revoke",
            "scopes_supported": ["openid", "profile", "offline_access", "name", "given_name", "family_name",
                "nickname", "email", "email_verified", "picture", "created_at", "identities", "phone", "address"],
            "response_types_supported": ["code", "token", "id_token", "code token", "code id_token",
                "token id_token", "code token id_token"],
            "code_challenge_methods_supported": ["S256", "plain"],
            "response_modes_supported": ["query", "fragment", "form_post"],
            "subject_types_supported": ["public"],
            "token_endpoint_auth_methods_supported": ["client_secret_basic", "client_secret_post", "private_key_jwt"],
            "claims_supported": ["aud", "auth_time", "created_at", "email", "email_verified", "exp", "family_name",
                "given_name", "iat", "identities", "iss", "name", "nickname", "phone_number", "picture", "sub"],
            "request_uri_parameter_supported": false,
            "request_parameter_supported": false,
            "id_token_signing_alg_values_supported": ["HS256", "RS256", "PS256"],
            "token_endpoint_auth_signing_alg_values_supported": ["RS256", "RS384", "PS256"],
            "end_session_endpoint": "https://dev-abc123.us.auth0.com/oidc/logout"
        }),
    }
}

fn cognito() -> Case {
    let base = "https://cognito-idp.us-east-1.amazonaws.com/us-east-1_1a2b3c4d5";
    Case {
        issuer: "https://cognito-idp.us-east-1.amazonaws.com/us-east-1_1a2b3c4d5",
        discovery: "https://cognito-idp.us-east-1.amazonaws.com/us-east-1_1a2b3c4d5/.well-known/openid-configuration",
        jwks_uri: "https://cognito-idp.us-east-1.amazonaws.com/us-east-1_1a2b3c4d5/.well-known/jwks.json",
        doc: json!({
            "authorization_endpoint": "https://mydomain.auth.us-east-1.amazoncognito.com/oauth2/authorize",
            "end_session_endpoint": "https://mydomain.auth.us-east-1.amazoncognito.com/logout",
            "id_token_signing_alg_values_supported": ["RS256"],
            "issuer": base,
            "jwks_uri": format!("{base}/.well-known/jwks.json"),
            "response_types_supported": ["code", "token"],
            "revocation_endpoint": "https://mydomain.auth.us-east-1.amazoncognito.com/oauth2/revoke",
            "scopes_supported": ["openid", "email", "phone", "profile"],
            "subject_types_supported": ["public"],
            "token_endpoint": "https://mydomain.auth.us-east-1.amazoncognito.com/oauth2/token",
            "token_endpoint_auth_methods_supported": ["client_secret_basic", "client_secret_post"],
            "userinfo_endpoint": "https://mydomain.auth.us-east-1.amazoncognito.com/oauth2/userInfo"
        }),
    }
}

fn google() -> Case {
    Case {
        issuer: "https://accounts.google.com",
        discovery: "https://accounts.google.com/.well-known/openid-configuration",
        jwks_uri: "https://www.googleapis.com/oauth2/v3/certs",
        doc: json!({
            "issuer": "https://accounts.google.com",
            "authorization_endpoint": "https://accounts.google.com/o/oauth2/v2/auth",
            "device_authorization_endpoint": "https://oauth2.googleapis.com/device/code",
            "token_endpoint": "https://oauth2.googleapis.com/token",
            "userinfo_endpoint": "https://openidconnect.googleapis.com/v1/userinfo",
            "revocation_endpoint": "https://oauth2.googleapis.com/revoke",
            "jwks_uri": "https://www.googleapis.com/oauth2/v3/certs",
            "response_types_supported": ["code", "token", "id_token", "code token", "code id_token",
                "token id_token", "code token id_token", "none"],
            "response_modes_supported": ["query", "fragment", "form_post"],
            "subject_types_supported": ["public"],
            "id_token_signing_alg_values_supported": ["RS256"],
            "scopes_supported": ["openid", "email", "profile"],
            "token_endpoint_auth_methods_supported": ["client_secret_post", "client_secret_basic"],
            "claims_supported": ["aud", "email", "email_verified", "exp", "family_name", "given_name", "iat",
                "iss", "name", "picture", "sub"],
            "code_challenge_methods_supported": ["plain", "S256"],
            "grant_types_supported": ["authorization_code", "refresh_token",
                "urn:ietf:params:oauth:grant-type:device_code", "urn:ietf:params:oauth:grant-type:jwt-bearer"]
        }),
    }
}

fn check(case: Case) -> ProviderMetadata {
    assert_eq!(discovery_url(case.issuer, &opts()).unwrap(), case.discovery);
    let meta = parse(&case.doc, case.issuer).unwrap_or_else(|e| panic!("{}: {e}", case.issuer));
    assert_eq!(meta.issuer, case.issuer);
    assert_eq!(meta.jwks_uri, case.jwks_uri);
    assert!(
        meta.id_token_signing_alg_values_supported
            .iter()
            .any(|a| a == "RS256")
    );
    assert!(
        meta.id_token_signing_algorithms()
            .contains(&Algorithm::RS256)
    );
    assert!(!meta.response_types_supported.is_empty());
    assert!(!meta.subject_types_supported.is_empty());
    meta
}

#[test]
fn provider_entra_id_v2() {
    let m = check(entra_id_v2());
    assert_eq!(m.subject_types_supported, ["pairwise"]);
    assert_eq!(
        m.userinfo_endpoint.as_deref(),
        Some("https://graph.microsoft.com/oidc/userinfo")
    );
}

#[test]
fn provider_okta() {
    let m = check(okta());
    assert!(m.scopes_supported.iter().any(|s| s == "groups"));
    assert!(m.grant_types_supported.iter().any(|s| s == "refresh_token"));
}

#[test]
fn provider_keycloak() {
    let m = check(keycloak());
    // Unknown members (including a nested `jwks_uri` under
    // `mtls_endpoint_aliases`) are ignored.
    assert_eq!(m.jwks_uri, keycloak().jwks_uri);
    // ES512 is published but not implemented here; `none` never is.
    let algs = m.id_token_signing_algorithms();
    assert!(algs.contains(&Algorithm::EdDSA));
    assert_eq!(algs.len(), 12);
}

#[test]
fn provider_auth0_trailing_slash_issuer() {
    let m = check(auth0());
    assert!(m.issuer.ends_with('/'));
}

#[test]
fn provider_cognito() {
    let m = check(cognito());
    assert!(m.claims_supported.is_empty());
}

#[test]
fn provider_google() {
    let m = check(google());
    assert_eq!(m.id_token_signing_algorithms(), [Algorithm::RS256]);
}

#[test]
fn issuer_must_match_exactly() {
    let g = google();
    for configured in [
        "https://accounts.google.com/",
        "https://Accounts.google.com",
        "https://accounts.google.com.evil.example",
        "https://accounts.google.com:443",
    ] {
        let e = parse(&g.doc, configured).unwrap_err();
        assert!(
            matches!(e, DiscoveryError::IssuerMismatch { .. }),
            "{configured}: {e:?}"
        );
    }
    let e = parse(&g.doc, "https://evil.example").unwrap_err();
    assert_eq!(
        e.to_string(),
        "discovery issuer `https://accounts.google.com` does not match the configured issuer `https://evil.example`"
    );
}

#[test]
fn document_values_in_errors_cannot_forge_log_lines() {
    // `issuer` and `jwks_uri` come from the wire; error text goes to logs.
    let mut doc = google().doc;
    doc["issuer"] = json!(format!(
        "https://evil.example\r\nlevel=info msg=ok{}",
        "a".repeat(70_000)
    ));
    let body = serde_json::to_vec(&doc).unwrap();
    let mut options = opts();
    options.max_bytes = 1 << 20;
    let e =
        ProviderMetadata::from_json(&body, "https://accounts.google.com", &options).unwrap_err();
    let text = e.to_string();
    assert!(!text.contains('\n') && !text.contains('\r'), "{text}");
    assert!(text.len() < 1024, "{} bytes", text.len());
    let mut doc = google().doc;
    doc["jwks_uri"] = json!("https://keys.example/\nlevel=info\u{2028}x");
    let e = parse(&doc, "https://accounts.google.com").unwrap_err();
    let text = e.to_string();
    assert!(
        matches!(
            e,
            DiscoveryError::BadUrl {
                name: "jwks_uri",
                ..
            }
        ),
        "{e:?}"
    );
    assert!(!text.contains('\n') && !text.contains('\u{2028}'), "{text}");
}

#[test]
fn entra_common_endpoint_template_issuer_is_a_mismatch() {
    // The multi-tenant `common` document publishes a templated issuer; §4.3
    // requires identity with the URL it was fetched for.
    let mut doc = entra_id_v2().doc;
    doc["issuer"] = json!("https://login.microsoftonline.com/{tenantid}/v2.0");
    let e = parse(&doc, "https://login.microsoftonline.com/common/v2.0").unwrap_err();
    assert!(matches!(e, DiscoveryError::IssuerMismatch { .. }));
}

#[test]
fn jwks_uri_must_be_https() {
    let mut doc = google().doc;
    doc["jwks_uri"] = json!("http://www.googleapis.com/oauth2/v3/certs");
    let e = parse(&doc, "https://accounts.google.com").unwrap_err();
    assert!(
        matches!(
            e,
            DiscoveryError::BadUrl {
                name: "jwks_uri",
                ..
            }
        ),
        "{e:?}"
    );
    for bad in [
        "ftp://www.googleapis.com/certs",
        "https://user:pw@www.googleapis.com/certs",
        "https://www.googleapis.com/certs#frag",
        "//www.googleapis.com/certs",
        " https://www.googleapis.com/certs",
        "https://www.googleapis.com/ce rts",
    ] {
        doc["jwks_uri"] = json!(bad);
        assert!(parse(&doc, "https://accounts.google.com").is_err(), "{bad}");
    }
}

#[test]
fn loopback_http_only_for_development() {
    let doc = json!({"issuer": "http://127.0.0.1:8080", "jwks_uri": "http://127.0.0.1:8080/jwks"});
    let bytes = serde_json::to_vec(&doc).unwrap();
    assert!(ProviderMetadata::from_json(&bytes, "http://127.0.0.1:8080", &opts()).is_err());
    let mut dev = opts();
    dev.allow_http_loopback = true;
    let m = ProviderMetadata::from_json(&bytes, "http://127.0.0.1:8080", &dev).unwrap();
    assert_eq!(m.jwks_uri, "http://127.0.0.1:8080/jwks");
    let doc = json!({"issuer": "http://127.0.0.1:8080", "jwks_uri": "http://192.168.1.10/jwks"});
    let bytes = serde_json::to_vec(&doc).unwrap();
    assert!(ProviderMetadata::from_json(&bytes, "http://127.0.0.1:8080", &dev).is_err());
}

#[test]
fn duplicate_issuer_member_is_refused() {
    let doc = br#"{"issuer":"https://evil.example","jwks_uri":"https://evil.example/jwks","issuer":"https://accounts.google.com"}"#;
    let e = ProviderMetadata::from_json(doc, "https://accounts.google.com", &opts()).unwrap_err();
    assert!(
        matches!(e, DiscoveryError::DuplicateMember { ref name } if name == "issuer"),
        "{e:?}"
    );
}

#[test]
fn duplicate_unknown_member_is_refused_too() {
    // The crate's JSON reader refuses a repeated name in every document
    // (until 0.1 a repeated unknown member was ignored).
    let doc =
        br#"{"x":1,"x":2,"issuer":"https://accounts.google.com","jwks_uri":"https://a.example/k"}"#;
    let e = ProviderMetadata::from_json(doc, "https://accounts.google.com", &opts()).unwrap_err();
    assert!(
        matches!(e, DiscoveryError::DuplicateMember { ref name } if name == "x"),
        "{e:?}"
    );
}

#[test]
fn missing_and_mistyped_members() {
    let e = parse(
        &json!({"issuer": "https://accounts.google.com"}),
        "https://accounts.google.com",
    )
    .unwrap_err();
    assert!(matches!(e, DiscoveryError::Missing { name: "jwks_uri" }));
    let e = parse(
        &json!({"jwks_uri": "https://a.example/k"}),
        "https://accounts.google.com",
    )
    .unwrap_err();
    assert!(matches!(e, DiscoveryError::Missing { name: "issuer" }));
    let mut doc = google().doc;
    doc["jwks_uri"] = json!(["https://a.example/k"]);
    assert!(matches!(
        parse(&doc, "https://accounts.google.com"),
        Err(DiscoveryError::WrongType {
            name: "jwks_uri",
            ..
        })
    ));
    let mut doc = google().doc;
    doc["id_token_signing_alg_values_supported"] = json!("RS256");
    assert!(matches!(
        parse(&doc, "https://accounts.google.com"),
        Err(DiscoveryError::WrongType { .. })
    ));
}

#[test]
fn not_a_json_object() {
    for bad in [
        &b"[]"[..],
        b"null",
        b"\"x\"",
        b"{",
        b"",
        b"\xff\xfe",
        b"{\"issuer\":1e999999}",
    ] {
        let e =
            ProviderMetadata::from_json(bad, "https://accounts.google.com", &opts()).unwrap_err();
        assert!(matches!(e, DiscoveryError::NotJson(_)), "{bad:?}: {e:?}");
    }
}

#[test]
fn deeply_nested_unknown_member_does_not_crash() {
    let mut doc = String::from(
        r#"{"issuer":"https://accounts.google.com","jwks_uri":"https://a.example/k","x":"#,
    );
    doc.push_str(&"[".repeat(100_000));
    doc.push_str(&"]".repeat(100_000));
    doc.push('}');
    let mut o = opts();
    o.max_bytes = 1 << 20;
    assert!(
        ProviderMetadata::from_json(doc.as_bytes(), "https://accounts.google.com", &o).is_err()
    );
}

#[test]
fn size_limit() {
    let mut doc = google().doc;
    doc["padding"] = json!("x".repeat(70_000));
    let e = parse(&doc, "https://accounts.google.com").unwrap_err();
    assert!(
        matches!(e, DiscoveryError::TooLarge { limit: 65_536, .. }),
        "{e:?}"
    );
}

#[test]
fn discovery_url_rules() {
    let o = opts();
    assert_eq!(
        discovery_url("https://example.com", &o).unwrap(),
        "https://example.com/.well-known/openid-configuration"
    );
    assert_eq!(
        discovery_url("https://example.com/issuer1/", &o).unwrap(),
        "https://example.com/issuer1/.well-known/openid-configuration"
    );
    for bad in [
        "http://example.com",
        "https://example.com/?tenant=1",
        "https://example.com/#x",
        "example.com",
        "",
    ] {
        assert!(
            matches!(
                discovery_url(bad, &o),
                Err(DiscoveryError::BadUrl { name: "issuer", .. })
            ),
            "{bad}"
        );
    }
}
