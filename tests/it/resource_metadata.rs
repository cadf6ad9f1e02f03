//! OAuth 2.0 Protected Resource Metadata (RFC 9728): the document's shape
//! (§2), the well-known URL derivation (§3), the gate serving it, and the
//! `resource_metadata` parameter of every challenge the gate sends (§5.1):
//! Bearer 401, DPoP 401 and 403 `insufficient_scope`. One loopback test
//! fetches the document through `GateLayer`.

use crate::support::es256::Key;
use crate::support::gate::{AUD, ISS, check_fetching_keys, request_parts};
use edge_auth::gate::{Gate, GateConfig, IssuerConfig, Outcome};
use edge_auth::jwt::Algorithm;
use edge_auth::policy::{Policy, RequestFacts};
use edge_auth::resource_metadata::{ResourceMetadata, ResourceMetadataError};
use http::{HeaderMap, StatusCode};
use serde_json::{Value, json};
use time::macros::datetime;
use time::{Duration, OffsetDateTime};

const RESOURCE: &str = "https://api.example.com/orders";
const WELL_KNOWN: &str = "https://api.example.com/.well-known/oauth-protected-resource/orders";
const NOW: OffsetDateTime = datetime!(2026-11-23 10:00:00 UTC);

fn metadata() -> ResourceMetadata {
    ResourceMetadata::new(RESOURCE)
        .with_authorization_servers([ISS])
        .with_scopes_supported(["orders:read", "orders:write"])
        .with_bearer_methods_supported(["header"])
}

fn document(metadata: &ResourceMetadata) -> Value {
    serde_json::from_slice(&metadata.to_json().unwrap()).unwrap()
}

fn resource_error(resource: &str) -> String {
    let err = ResourceMetadata::new(resource).validate().unwrap_err();
    assert!(
        matches!(err, ResourceMetadataError::Resource { .. }),
        "{err:?}"
    );
    err.to_string()
}

// ---- §2: the document.

#[test]
fn document_has_rfc9728_members() {
    let full = metadata()
        .with_jwks_uri("https://api.example.com/jwks")
        .with_resource_signing_alg_values_supported(["ES256"])
        .with_resource_name("Orders API")
        .with_resource_documentation("https://docs.example.com/orders")
        .with_tls_client_certificate_bound_access_tokens(true)
        .with_dpop_signing_alg_values_supported([Algorithm::ES256, Algorithm::EdDSA])
        .with_dpop_bound_access_tokens_required(true);
    assert_eq!(
        document(&full),
        json!({
            "resource": RESOURCE,
            "authorization_servers": [ISS],
            "jwks_uri": "https://api.example.com/jwks",
            "scopes_supported": ["orders:read", "orders:write"],
            "bearer_methods_supported": ["header"],
            "resource_signing_alg_values_supported": ["ES256"],
            "resource_name": "Orders API",
            "resource_documentation": "https://docs.example.com/orders",
            "tls_client_certificate_bound_access_tokens": true,
            "dpop_signing_alg_values_supported": ["ES256", "EdDSA"],
            "dpop_bound_access_tokens_required": true,
        })
    );
}

#[test]
fn document_leaves_out_members_not_set() {
    assert_eq!(
        document(&ResourceMetadata::new(RESOURCE)),
        json!({"resource": RESOURCE})
    );
}

#[test]
fn document_round_trips_through_serde() {
    let text = metadata().to_json().unwrap();
    let back: ResourceMetadata = serde_json::from_slice(&text).unwrap();
    assert_eq!(back, metadata());
}

// ---- §3: the well-known URL.

#[test]
fn well_known_url_goes_between_host_and_path() {
    assert_eq!(metadata().well_known_url().unwrap(), WELL_KNOWN);
    assert_eq!(
        metadata().well_known_path().unwrap(),
        "/.well-known/oauth-protected-resource/orders"
    );
}

#[test]
fn well_known_url_of_host_only_resource_has_no_suffix() {
    for resource in ["https://api.example.com", "https://api.example.com/"] {
        let m = ResourceMetadata::new(resource);
        assert_eq!(
            m.well_known_url().unwrap(),
            "https://api.example.com/.well-known/oauth-protected-resource"
        );
        assert_eq!(
            m.well_known_path().unwrap(),
            "/.well-known/oauth-protected-resource"
        );
    }
}

#[test]
fn well_known_url_keeps_port_and_trailing_slash_of_path() {
    let m = ResourceMetadata::new("https://api.example.com:8443/v1/");
    assert_eq!(
        m.well_known_url().unwrap(),
        "https://api.example.com:8443/.well-known/oauth-protected-resource/v1/"
    );
}

#[test]
fn resource_over_http_is_refused() {
    assert!(resource_error("http://api.example.com/orders").contains("https"));
}

#[test]
fn resource_with_query_is_refused() {
    assert!(resource_error("https://api.example.com/orders?x=1").contains("query"));
}

#[test]
fn resource_with_fragment_is_refused() {
    assert!(resource_error("https://api.example.com/orders#f").contains("fragment"));
}

#[test]
fn resource_with_user_information_is_refused() {
    assert!(resource_error("https://u:p@api.example.com/").contains("user information"));
}

#[test]
fn resource_not_in_normal_form_is_refused() {
    for resource in [
        "https://API.example.com/orders",
        "https://api.example.com:443/orders",
        "https://api.example.com/a/../orders",
    ] {
        assert!(
            resource_error(resource).contains("normal form"),
            "{resource}"
        );
    }
}

#[test]
fn relative_resource_is_refused() {
    resource_error("/orders");
}

#[test]
fn authorization_server_not_https_is_refused() {
    let err = metadata()
        .with_authorization_servers(["http://idp.example.com"])
        .to_json()
        .unwrap_err();
    assert_eq!(
        err.to_string(),
        "`authorization_servers` value `http://idp.example.com` is not an https url"
    );
}

// ---- The gate serves it and names it in its challenges (§5.1).

const POLICY: &str = r#"{"rules":[
  {"id":"write","match":{"paths":["/write"]},"require":{"scopes":["orders:write"]},"effect":"allow"},
  {"id":"orders","match":{"paths":["/orders/**"]},"require":{"authenticated":true},"effect":"allow"}]}"#;

fn config() -> GateConfig {
    let issuer = IssuerConfig::new(ISS, [AUD]).with_jwks_uri(format!("{ISS}/jwks"));
    GateConfig::new([issuer])
        .with_policy(Policy::from_json(POLICY).unwrap().compile().unwrap())
        .with_resource_metadata(metadata())
}

fn check(gate: &Gate, method: &str, path: &str, headers: &[(&str, &str)], idp: &Key) -> Outcome {
    let parts = request_parts(method, "api.example.com", path, headers);
    let facts = RequestFacts::from_parts(&parts);
    check_fetching_keys(gate, &parts, &facts, &idp.jwks(), NOW)
}

fn answered(outcome: Outcome) -> http::Response<Vec<u8>> {
    match outcome {
        Outcome::Preflight(response) => response,
        other => panic!("expected the gate to answer, got {other:?}"),
    }
}

fn challenge(outcome: Outcome) -> (StatusCode, String) {
    match outcome {
        Outcome::Deny(r) => {
            let response = r.to_response();
            let value = response.headers()["www-authenticate"]
                .to_str()
                .unwrap()
                .to_owned();
            (response.status(), value)
        }
        other => panic!("expected a denial, got {other:?}"),
    }
}

fn token(idp: &Key, extra: Value) -> String {
    let mut claims = json!({
        "iss": ISS, "aud": AUD, "sub": "alice",
        "iat": NOW.unix_timestamp(), "exp": (NOW + Duration::hours(1)).unix_timestamp(),
    });
    if let (Some(c), Some(e)) = (claims.as_object_mut(), extra.as_object()) {
        c.extend(e.clone());
    }
    idp.sign(&claims)
}

#[test]
fn gate_serves_document_on_well_known_path() {
    let gate = Gate::new(config()).unwrap();
    let idp = Key::new("idp");
    let response = answered(check(
        &gate,
        "GET",
        "/.well-known/oauth-protected-resource/orders",
        &[],
        &idp,
    ));
    assert_eq!(response.status(), StatusCode::OK);
    assert_eq!(response.headers()["content-type"], "application/json");
    assert_eq!(response.headers()["cache-control"], "public, max-age=3600");
    let doc: Value = serde_json::from_slice(response.body()).unwrap();
    assert_eq!(doc, document(&metadata()));
}

#[test]
fn gate_answers_head_without_body() {
    let gate = Gate::new(config()).unwrap();
    let response = answered(check(
        &gate,
        "HEAD",
        "/.well-known/oauth-protected-resource/orders",
        &[],
        &Key::new("idp"),
    ));
    assert_eq!(response.status(), StatusCode::OK);
    assert!(response.body().is_empty());
    assert_eq!(
        response.headers()["content-length"],
        metadata().to_json().unwrap().len().to_string().as_str()
    );
}

#[test]
fn gate_post_to_well_known_path_goes_through_the_policy() {
    let gate = Gate::new(config()).unwrap();
    let outcome = check(
        &gate,
        "POST",
        "/.well-known/oauth-protected-resource/orders",
        &[],
        &Key::new("idp"),
    );
    assert!(matches!(outcome, Outcome::Deny(_)), "{outcome:?}");
}

#[test]
fn gate_without_metadata_does_not_answer_well_known_path() {
    let issuer = IssuerConfig::new(ISS, [AUD]).with_jwks_uri(format!("{ISS}/jwks"));
    let gate = Gate::new(GateConfig::new([issuer])).unwrap();
    let (status, value) = challenge(check(
        &gate,
        "GET",
        "/.well-known/oauth-protected-resource/orders",
        &[],
        &Key::new("idp"),
    ));
    assert_eq!(status, StatusCode::UNAUTHORIZED);
    assert!(!value.contains("resource_metadata"), "{value}");
}

#[test]
fn gate_refuses_unacceptable_metadata() {
    let err = Gate::new(
        config().with_resource_metadata(ResourceMetadata::new("http://api.example.com/orders")),
    )
    .unwrap_err();
    assert!(err.to_string().contains("resource metadata"), "{err}");
}

#[test]
fn bearer_401_without_token_names_resource_metadata() {
    let gate = Gate::new(config()).unwrap();
    let (status, value) = challenge(check(&gate, "GET", "/orders/1", &[], &Key::new("idp")));
    assert_eq!(status, StatusCode::UNAUTHORIZED);
    assert_eq!(
        value,
        format!(r#"Bearer realm="edge-auth", resource_metadata="{WELL_KNOWN}""#)
    );
}

#[test]
fn bearer_401_invalid_token_names_resource_metadata() {
    let gate = Gate::new(config()).unwrap();
    let idp = Key::new("idp");
    let expired = token(
        &idp,
        json!({"exp": (NOW - Duration::hours(1)).unix_timestamp()}),
    );
    let (status, value) = challenge(check(
        &gate,
        "GET",
        "/orders/1",
        &[("authorization", &format!("Bearer {expired}"))],
        &idp,
    ));
    assert_eq!(status, StatusCode::UNAUTHORIZED);
    assert!(value.starts_with("Bearer "), "{value}");
    assert!(value.contains(r#"error="invalid_token""#), "{value}");
    assert!(
        value.ends_with(&format!(r#"resource_metadata="{WELL_KNOWN}""#)),
        "{value}"
    );
}

#[test]
fn insufficient_scope_403_names_resource_metadata() {
    let gate = Gate::new(config()).unwrap();
    let idp = Key::new("idp");
    let t = token(&idp, json!({}));
    let (status, value) = challenge(check(
        &gate,
        "GET",
        "/write",
        &[("authorization", &format!("Bearer {t}"))],
        &idp,
    ));
    assert_eq!(status, StatusCode::FORBIDDEN);
    assert!(value.contains(r#"error="insufficient_scope""#), "{value}");
    assert!(value.contains(r#"scope="orders:write""#), "{value}");
    assert!(
        value.contains(&format!(r#"resource_metadata="{WELL_KNOWN}""#)),
        "{value}"
    );
}

#[cfg(feature = "httpsig")]
mod dpop {
    use super::*;
    use edge_auth::dpop::GateDpop;

    fn dpop_gate() -> Gate {
        Gate::new(config().with_dpop(GateDpop::new(100))).unwrap()
    }

    #[test]
    fn dpop_401_names_resource_metadata() {
        let idp = Key::new("idp");
        let bound = token(
            &idp,
            json!({"cnf": {"jkt": "0ZcOCORZNYy-DWpqq30jZyJGHTN0d2HglBV3uiguA4I"}}),
        );
        let (status, value) = challenge(check(
            &dpop_gate(),
            "GET",
            "/orders/1",
            &[("authorization", &format!("Bearer {bound}"))],
            &idp,
        ));
        assert_eq!(status, StatusCode::UNAUTHORIZED);
        assert!(value.starts_with("DPoP "), "{value}");
        assert!(value.contains(r#"algs="#), "{value}");
        assert!(
            value.ends_with(&format!(r#"resource_metadata="{WELL_KNOWN}""#)),
            "{value}"
        );
    }

    #[test]
    fn dpop_algs_fill_the_document() {
        let response = answered(check(
            &dpop_gate(),
            "GET",
            "/.well-known/oauth-protected-resource/orders",
            &[],
            &Key::new("idp"),
        ));
        let doc: Value = serde_json::from_slice(response.body()).unwrap();
        assert_eq!(
            doc["dpop_signing_alg_values_supported"],
            json!(["ES256", "ES384", "EdDSA", "PS256", "RS256"])
        );
    }
}

#[cfg(all(feature = "axum", feature = "hyper-client"))]
mod loopback {
    use super::*;
    use axum::Router;
    use axum::routing::get;
    use bytes::Bytes;
    use edge_auth::driver::client::HyperClient;
    use edge_auth::driver::keys::{DriverOptions, KeyDriver, SystemClock};
    use edge_auth::driver::tower::GateLayer;
    use http_body_util::{BodyExt, Full};
    use std::sync::Arc;

    const BOUND: std::time::Duration = std::time::Duration::from_secs(10);

    type Client = hyper_util::client::legacy::Client<
        hyper_util::client::legacy::connect::HttpConnector,
        Full<Bytes>,
    >;

    async fn get_url(client: &Client, url: &str) -> (StatusCode, HeaderMap, Vec<u8>) {
        let request = http::Request::get(url)
            .body(Full::new(Bytes::new()))
            .unwrap();
        let response = tokio::time::timeout(BOUND, client.request(request))
            .await
            .unwrap()
            .unwrap();
        let (parts, body) = response.into_parts();
        let body = tokio::time::timeout(BOUND, body.collect())
            .await
            .unwrap()
            .unwrap()
            .to_bytes();
        (parts.status, parts.headers, body.to_vec())
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn gate_layer_serves_document_over_loopback() {
        let gate = Arc::new(Gate::new(config()).unwrap());
        let driver = KeyDriver::from_parts(
            gate,
            Arc::new(HyperClient::new().unwrap()),
            Arc::new(SystemClock),
            DriverOptions::default(),
        );
        let app = Router::new()
            .route("/orders/{id}", get(|| async { "order" }))
            .layer(GateLayer::new(driver));
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        let serving = tokio::spawn(async move { axum::serve(listener, app).await });
        let client: Client =
            hyper_util::client::legacy::Client::builder(hyper_util::rt::TokioExecutor::new())
                .build_http();

        let (status, headers, body) = get_url(
            &client,
            &format!("http://{addr}/.well-known/oauth-protected-resource/orders"),
        )
        .await;
        assert_eq!(status, StatusCode::OK);
        assert_eq!(headers["content-type"], "application/json");
        assert_eq!(headers["cache-control"], "public, max-age=3600");
        let doc: Value = serde_json::from_slice(&body).unwrap();
        assert_eq!(doc, document(&metadata()));

        // A protected route without a token points the client there.
        let (status, headers, _) = get_url(&client, &format!("http://{addr}/orders/1")).await;
        assert_eq!(status, StatusCode::UNAUTHORIZED);
        assert_eq!(
            headers["www-authenticate"],
            format!(r#"Bearer realm="edge-auth", resource_metadata="{WELL_KNOWN}""#).as_str()
        );
        serving.abort();
    }
}
