//! Certificate-bound tokens (RFC 8705 §3) end to end on loopback: the
//! `hyper-server` serve loop over TLS (`server-tls`, rustls on ring)
//! verifying client certificates against a test CA, `GateLayer` in front of
//! an echo service, and a real rustls client (hyper-rustls) presenting the
//! certificates of `tests/interop/mtls/` (made by its `generate.sh`).

use std::convert::Infallible;
use std::net::SocketAddr;
use std::sync::Arc;

use bytes::Bytes;
use edge_auth::driver::keys::{FetchFuture, FetchRequest, FetchResponse, HttpClient, KeyDriver};
use edge_auth::driver::server::{RequestBody, Server, ServerConfig};
use edge_auth::driver::tls::{ClientAuth, server_config};
use edge_auth::driver::tower::GateLayer;
use edge_auth::gate::{Gate, GateConfig, IssuerConfig};
use edge_auth::mtls::ClientCert;
use http::{HeaderMap, HeaderName, Request, Response, StatusCode};
use http_body_util::{BodyExt, Empty, Full};
use hyper_util::client::legacy::Client;
use hyper_util::rt::TokioExecutor;
use rustls::RootCertStore;
use rustls::pki_types::pem::PemObject;
use rustls::pki_types::{CertificateDer, PrivateKeyDer};
use serde_json::json;
use tower::{Layer, ServiceExt};

use crate::support::es256::Key;
use crate::support::gate::{AUD, ISS, access_claims};

fn fixture(name: &str) -> std::path::PathBuf {
    std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("tests/interop/mtls")
        .join(name)
}

fn cert_der(name: &str) -> CertificateDer<'static> {
    CertificateDer::from_pem_file(fixture(&format!("{name}.pem"))).unwrap()
}

fn key_der(name: &str) -> PrivateKeyDer<'static> {
    PrivateKeyDer::from_pem_file(fixture(&format!("{name}.key"))).unwrap()
}

fn ca_roots() -> RootCertStore {
    let mut roots = RootCertStore::empty();
    roots.add(cert_der("ca")).unwrap();
    roots
}

fn thumbprint(name: &str) -> String {
    ClientCert::from_der(cert_der(name).as_ref()).thumbprint()
}

/// Serves one key set from memory.
struct StaticJwks(Vec<u8>);

impl HttpClient for StaticJwks {
    fn get(&self, _: FetchRequest) -> FetchFuture<'_> {
        let response = FetchResponse::new(StatusCode::OK, HeaderMap::new(), self.0.clone());
        Box::pin(async move { Ok(response) })
    }
}

fn token(idp: &Key, x5t: Option<&str>) -> String {
    let now = time::OffsetDateTime::now_utc().unix_timestamp();
    let cnf = x5t.map(|x5t| json!({ "x5t#S256": x5t }));
    idp.sign(&access_claims("svc", now, now + 600, cnf))
}

/// The echo behind the gate: 200 with the request's `client-cert` header
/// (or `-`), so a test sees what reached the upstream.
async fn echo<B>(request: Request<B>) -> Result<Response<Full<Bytes>>, Infallible> {
    let seen = request
        .headers()
        .get("client-cert")
        .map_or("-".to_owned(), |v| v.to_str().unwrap_or("?").to_owned());
    Ok(Response::new(Full::new(Bytes::from(seen))))
}

fn layer(idp: &Key, gate: GateConfig) -> GateLayer {
    GateLayer::new(KeyDriver::new(
        Arc::new(Gate::new(gate).unwrap()),
        StaticJwks(idp.jwks()),
    ))
}

struct Running {
    addr: SocketAddr,
    task: tokio::task::JoinHandle<()>,
}

impl Drop for Running {
    fn drop(&mut self) {
        self.task.abort();
    }
}

/// The TLS gate on 127.0.0.1.
async fn start(idp: &Key, issuer: IssuerConfig, client_auth: ClientAuth) -> Running {
    start_layer(layer(idp, GateConfig::new([issuer])), client_auth).await
}

/// `layer` in front of the echo, served over TLS on 127.0.0.1.
async fn start_layer(layer: GateLayer, client_auth: ClientAuth) -> Running {
    let tls = server_config(vec![cert_der("server")], key_der("server"), client_auth).unwrap();
    let server = Server::bind("127.0.0.1:0".parse().unwrap(), ServerConfig::default())
        .await
        .unwrap()
        .with_tls(tls);
    let addr = server.local_addr().unwrap();
    let service = layer.layer(tower::service_fn(echo::<RequestBody>));
    let hyper_service = hyper::service::service_fn(move |request| service.clone().oneshot(request));
    let task = tokio::spawn(server.serve(hyper_service));
    Running { addr, task }
}

fn issuer() -> IssuerConfig {
    IssuerConfig::new(ISS, [AUD]).with_jwks_uri(format!("{ISS}/jwks"))
}

/// A rustls client trusting the test CA, presenting `client`'s certificate
/// (or none): one connection pool per client, so one certificate each.
fn client(
    client: Option<&str>,
) -> Client<
    hyper_rustls::HttpsConnector<hyper_util::client::legacy::connect::HttpConnector>,
    Empty<Bytes>,
> {
    let builder = rustls::ClientConfig::builder_with_provider(Arc::new(
        rustls::crypto::ring::default_provider(),
    ))
    .with_safe_default_protocol_versions()
    .unwrap()
    .with_root_certificates(ca_roots());
    let config = match client {
        Some(name) => builder
            .with_client_auth_cert(vec![cert_der(name)], key_der(name))
            .unwrap(),
        None => builder.with_no_client_auth(),
    };
    let connector = hyper_rustls::HttpsConnectorBuilder::new()
        .with_tls_config(config)
        .https_only()
        .enable_http1()
        .build();
    Client::builder(TokioExecutor::new()).build(connector)
}

/// GET /orders over TLS as `cert` (None: no certificate) with these
/// headers: the status and body, or the connection's error.
async fn get(
    server: &Running,
    cert: Option<&str>,
    headers: &[(&str, &str)],
) -> Result<(StatusCode, String), String> {
    let mut request = Request::get(format!("https://127.0.0.1:{}/orders", server.addr.port()));
    for (k, v) in headers {
        request = request.header(*k, *v);
    }
    let request = request.body(Empty::new()).unwrap();
    let call = client(cert).request(request);
    let response = tokio::time::timeout(std::time::Duration::from_secs(10), call)
        .await
        .map_err(|_| "timed out".to_owned())?
        .map_err(|e| format!("{e:?}"))?;
    let status = response.status();
    let body = response
        .into_body()
        .collect()
        .await
        .map_err(|e| e.to_string())?;
    Ok((
        status,
        String::from_utf8_lossy(&body.to_bytes()).into_owned(),
    ))
}

fn bearer(token: &str) -> String {
    format!("Bearer {token}")
}

/// The status of GET /orders over TLS as `cert` (None: no certificate)
/// with `Authorization: Bearer <token>`; the connection must succeed.
async fn bearer_status(server: &Running, cert: Option<&str>, token: &str) -> StatusCode {
    let (status, _) = get(server, cert, &[("authorization", &bearer(token))])
        .await
        .unwrap();
    status
}

#[tokio::test]
async fn bound_token_with_its_client_certificate_is_allowed() {
    let idp = Key::new("idp");
    let server = start(&idp, issuer(), ClientAuth::Optional(ca_roots())).await;
    let token = token(&idp, Some(&thumbprint("alice")));
    assert_eq!(
        bearer_status(&server, Some("alice"), &token).await,
        StatusCode::OK
    );
}

#[tokio::test]
async fn bound_token_over_another_client_certificate_is_refused() {
    let idp = Key::new("idp");
    let server = start(&idp, issuer(), ClientAuth::Optional(ca_roots())).await;
    let token = token(&idp, Some(&thumbprint("alice")));
    assert_eq!(
        bearer_status(&server, Some("bob"), &token).await,
        StatusCode::UNAUTHORIZED
    );
}

#[tokio::test]
async fn bound_token_without_client_certificate_is_refused() {
    let idp = Key::new("idp");
    let server = start(&idp, issuer(), ClientAuth::Optional(ca_roots())).await;
    let token = token(&idp, Some(&thumbprint("alice")));
    assert_eq!(
        bearer_status(&server, None, &token).await,
        StatusCode::UNAUTHORIZED
    );
}

#[tokio::test]
async fn forged_client_cert_header_is_not_trusted() {
    let idp = Key::new("idp");
    let server = start(&idp, issuer(), ClientAuth::Optional(ca_roots())).await;
    let token = token(&idp, Some(&thumbprint("alice")));
    let forged = {
        use base64::Engine as _;
        format!(
            ":{}:",
            base64::engine::general_purpose::STANDARD.encode(cert_der("alice").as_ref())
        )
    };
    let (status, _) = get(
        &server,
        None,
        &[("authorization", &bearer(&token)), ("client-cert", &forged)],
    )
    .await
    .unwrap();
    assert_eq!(status, StatusCode::UNAUTHORIZED);
}

#[tokio::test]
async fn plain_bearer_token_works_with_and_without_certificate() {
    let idp = Key::new("idp");
    let server = start(&idp, issuer(), ClientAuth::Optional(ca_roots())).await;
    let token = token(&idp, None);
    for cert in [None, Some("alice")] {
        assert_eq!(
            bearer_status(&server, cert, &token).await,
            StatusCode::OK,
            "{cert:?}"
        );
    }
}

#[tokio::test]
async fn issuer_requiring_binding_refuses_plain_bearer_over_tls() {
    let idp = Key::new("idp");
    let issuer = issuer().with_certificate_bound(true);
    let server = start(&idp, issuer, ClientAuth::Optional(ca_roots())).await;
    let plain = token(&idp, None);
    assert_eq!(
        bearer_status(&server, Some("alice"), &plain).await,
        StatusCode::UNAUTHORIZED
    );
    let bound = token(&idp, Some(&thumbprint("alice")));
    assert_eq!(
        bearer_status(&server, Some("alice"), &bound).await,
        StatusCode::OK
    );
}

#[tokio::test]
async fn client_certificate_outside_the_ca_fails_the_handshake() {
    let idp = Key::new("idp");
    let server = start(&idp, issuer(), ClientAuth::Optional(ca_roots())).await;
    let token = token(&idp, Some(&thumbprint("mallory")));
    let outcome = get(
        &server,
        Some("mallory"),
        &[("authorization", &bearer(&token))],
    )
    .await;
    assert!(outcome.is_err(), "{outcome:?}");
}

#[tokio::test]
async fn required_client_auth_refuses_a_connection_without_certificate() {
    let idp = Key::new("idp");
    let server = start(&idp, issuer(), ClientAuth::Required(ca_roots())).await;
    let token = token(&idp, None);
    let outcome = get(&server, None, &[("authorization", &bearer(&token))]).await;
    assert!(outcome.is_err(), "{outcome:?}");
    assert_eq!(
        bearer_status(&server, Some("bob"), &token).await,
        StatusCode::OK
    );
}

/// RFC 8705 §2.2: no CA, the certificate only proves the key the token is
/// bound to.
#[tokio::test]
async fn self_signed_client_certificate_binds_without_a_ca() {
    let idp = Key::new("idp");
    let server = start(&idp, issuer(), ClientAuth::SelfSigned).await;
    let mallorys = token(&idp, Some(&thumbprint("mallory")));
    assert_eq!(
        bearer_status(&server, Some("mallory"), &mallorys).await,
        StatusCode::OK
    );
    let alices = token(&idp, Some(&thumbprint("alice")));
    assert_eq!(
        bearer_status(&server, Some("mallory"), &alices).await,
        StatusCode::UNAUTHORIZED
    );
    let plain = token(&idp, None);
    assert_eq!(bearer_status(&server, None, &plain).await, StatusCode::OK);
}

#[tokio::test]
async fn no_client_auth_refuses_bound_tokens() {
    let idp = Key::new("idp");
    let server = start(&idp, issuer(), ClientAuth::None).await;
    let token = token(&idp, Some(&thumbprint("alice")));
    assert_eq!(
        bearer_status(&server, None, &token).await,
        StatusCode::UNAUTHORIZED
    );
}

/// Behind a TLS-terminating proxy: the gate trusts its `Client-Cert` and
/// removes it before the upstream.
#[tokio::test]
async fn trusted_client_cert_header_is_stripped_before_upstream() {
    use base64::Engine as _;
    let idp = Key::new("idp");
    let gate =
        GateConfig::new([issuer()]).with_client_cert_header(HeaderName::from_static("client-cert"));
    let service = layer(&idp, gate).layer(tower::service_fn(echo::<Empty<Bytes>>));
    let der = cert_der("alice");
    let field = format!(
        ":{}:",
        base64::engine::general_purpose::STANDARD.encode(der.as_ref())
    );
    let request = Request::get("https://api.example.com/orders")
        .header(
            "authorization",
            bearer(&token(&idp, Some(&thumbprint("alice")))),
        )
        .header("client-cert", &field)
        .body(Empty::new())
        .unwrap();
    let response = service.oneshot(request).await.unwrap();
    assert_eq!(response.status(), StatusCode::OK);
    let body = response.into_body().collect().await.unwrap().to_bytes();
    assert_eq!(&body[..], b"-", "the upstream saw the client-cert header");
}

/// The dev issuer (examples/gateway) mints a certificate-bound token for a
/// thumbprint given at the token endpoint; the TLS gate, fetching the dev
/// issuer's keys over loopback, accepts it from alice only.
#[cfg(all(feature = "sigv4", feature = "hyper-client"))]
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn dev_issuer_certificate_bound_token_over_mtls() {
    use edge_auth::driver::client::HyperClient;
    use edge_auth::driver::keys::{DriverOptions, SystemClock};
    use edge_auth::jwt::Algorithm;

    let loopback = SocketAddr::from(([127, 0, 0, 1], 0));
    let dev = crate::gateway_example::start_dev_issuer(loopback, AUD)
        .await
        .unwrap();
    dev.token_endpoint()
        .register_secret("svc", "mtls-dev-secret");
    let plain = Client::builder(TokioExecutor::new()).build_http::<Full<Bytes>>();
    let form = format!(
        "grant_type=client_credentials&client_id=svc&client_secret=mtls-dev-secret&scope=api%3A%2F%2Forders&x5t_s256={}",
        thumbprint("alice")
    );
    let request = Request::post(dev.token_endpoint_url())
        .header("content-type", "application/x-www-form-urlencoded")
        .body(Full::new(Bytes::from(form)))
        .unwrap();
    let response = tokio::time::timeout(std::time::Duration::from_secs(10), plain.request(request))
        .await
        .unwrap()
        .unwrap();
    assert_eq!(response.status(), StatusCode::OK);
    let body = response.into_body().collect().await.unwrap().to_bytes();
    let body: serde_json::Value = serde_json::from_slice(&body).unwrap();
    assert_eq!(body["token_type"], "Bearer");
    let token = body["access_token"].as_str().unwrap().to_owned();

    let issuer = IssuerConfig::new(dev.issuer(), [AUD])
        .with_jwks_uri(dev.jwks_uri())
        .with_algorithms([Algorithm::RS256]);
    let mut config = GateConfig::new([issuer]);
    config.cache.allow_http_loopback = true;
    let driver = KeyDriver::from_parts(
        Arc::new(Gate::new(config).unwrap()),
        Arc::new(HyperClient::new().unwrap().with_plain_http_loopback()),
        Arc::new(SystemClock),
        DriverOptions::default(),
    );
    let server = start_layer(GateLayer::new(driver), ClientAuth::Optional(ca_roots())).await;
    assert_eq!(
        bearer_status(&server, Some("alice"), &token).await,
        StatusCode::OK
    );
    assert_eq!(
        bearer_status(&server, Some("bob"), &token).await,
        StatusCode::UNAUTHORIZED
    );
    assert_eq!(
        bearer_status(&server, None, &token).await,
        StatusCode::UNAUTHORIZED
    );
    dev.stop();
}
