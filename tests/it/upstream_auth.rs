//! End to end: the hyper gateway example as a client of its upstream. The
//! gateway gets its own access token from the development issuer with
//! `private_key_jwt` and sends it as `Authorization: Bearer` (never the
//! caller's), and mints an `x-edge-assertion` per allowed request that an
//! upstream verifies with edge-auth's own Gate, discovering the gateway's
//! published keys, across key rotations. Every loop is bounded and every
//! request has a timeout.

use crate::gateway_example as gateway;

use std::net::SocketAddr;
use std::sync::Arc;
use std::sync::atomic::{AtomicI64, Ordering};
use std::time::Duration;

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use bytes::Bytes;
use edge_auth::Principal;
use edge_auth::Secret;
use edge_auth::crypto::SigningKey;
use edge_auth::driver::client::HyperClient;
use edge_auth::driver::keys::{Clock, DriverOptions, KeyDriver, RefreshTask, Verdict};
use edge_auth::gate::{Gate, GateConfig, IssuerConfig};
use edge_auth::jwt::Algorithm;
use edge_auth::policy::{Policy, RequestFacts};
use gateway::upstream_auth::{EdgeAssertionSettings, TokenAuth, UpstreamToken, generate_key};
use gateway::{DevIssuer, EchoHandle, GatewayConfig, GatewayHandle, IssuerSettings};
use http::{Request, StatusCode, header};
use http_body_util::{BodyExt, Full};
use hyper_util::client::legacy::Client;
use hyper_util::client::legacy::connect::HttpConnector;
use hyper_util::rt::TokioExecutor;
use serde_json::Value;

const POLICY: &str = include_str!("../../examples/gateway/policy.toml");
/// What the caller's tokens are for.
const AUDIENCE: &str = "api://edge-auth-test";
/// The upstream's identifier: the gateway's own token and the edge
/// assertions are addressed to it.
const UPSTREAM: &str = "api://upstream";
const CLIENT_ID: &str = "edge-gateway";
const REQUEST_TIMEOUT: Duration = Duration::from_secs(10);
/// The upstream lets any authenticated request through.
const UPSTREAM_POLICY: &str = r#"
[[rules]]
id = "any"
effect = "allow"
match = { paths = ["/**"] }
require = { authenticated = true }
"#;

fn loopback() -> SocketAddr {
    SocketAddr::from(([127, 0, 0, 1], 0))
}

/// A clock the test moves forward; gateway, upstream and tokens use it.
#[derive(Clone, Default)]
struct TestClock(Arc<AtomicI64>);

impl TestClock {
    fn now(&self) -> time::OffsetDateTime {
        time::OffsetDateTime::now_utc() + time::Duration::seconds(self.0.load(Ordering::SeqCst))
    }
    fn advance(&self, by: time::Duration) {
        self.0.fetch_add(by.whole_seconds(), Ordering::SeqCst);
    }
    fn shared(&self) -> Arc<dyn Clock> {
        let clock = self.clone();
        Arc::new(move || clock.now())
    }
}

struct Rig {
    issuer: DevIssuer,
    _echo: EchoHandle,
    gateway: GatewayHandle,
    clock: TestClock,
    client: Client<HttpConnector, Full<Bytes>>,
}

struct Reply {
    status: StatusCode,
    body: Bytes,
}

impl Reply {
    /// Values of a header as the upstream (echo) saw it.
    fn upstream_header(&self, name: &str) -> Vec<String> {
        let echoed: Value = serde_json::from_slice(&self.body).unwrap_or(Value::Null);
        echoed["headers"][name]
            .as_array()
            .map(|values| {
                values
                    .iter()
                    .filter_map(|v| v.as_str().map(str::to_owned))
                    .collect()
            })
            .unwrap_or_default()
    }
}

fn private_key_jwt(key: SigningKey) -> UpstreamToken {
    UpstreamToken {
        token_endpoint: String::new(),
        client_id: CLIENT_ID.to_owned(),
        auth: TokenAuth::PrivateKeyJwt(key),
        scope: Some(UPSTREAM.to_owned()),
    }
}

fn edge_settings() -> EdgeAssertionSettings {
    EdgeAssertionSettings {
        audience: UPSTREAM.to_owned(),
        // Real time: only the first tick (a next key at start) runs during
        // a test; the test rotates with the minter and its own clock.
        rotate_every: Duration::from_secs(3600),
        publish_lead: time::Duration::minutes(10),
    }
}

async fn rig(token: Option<UpstreamToken>, edge: Option<EdgeAssertionSettings>) -> Rig {
    let issuer = gateway::start_dev_issuer(loopback(), AUDIENCE)
        .await
        .unwrap();
    let echo = gateway::start_echo(loopback()).await.unwrap();
    let clock = TestClock::default();
    let mut config = GatewayConfig::new(loopback(), format!("http://{}", echo.addr()), POLICY);
    config.issuers.push(IssuerSettings {
        issuer: issuer.issuer().to_owned(),
        audience: AUDIENCE.to_owned(),
        jwks_uri: None,
        roles: gateway::role_mapper("roles").unwrap(),
    });
    config.clock = clock.shared();
    config.poll_interval = Duration::from_millis(100);
    config.fetch_timeout = Duration::from_secs(2);
    config.upstream_token = token;
    if let Some(token) = config.upstream_token.as_mut() {
        issuer.register_gateway(token).unwrap();
    }
    config.edge_assertion = edge;
    let gateway = gateway::start_gateway(config).await.unwrap();
    Rig {
        issuer,
        _echo: echo,
        gateway,
        clock,
        client: Client::builder(TokioExecutor::new()).build_http(),
    }
}

impl Rig {
    fn base(&self) -> String {
        format!("http://{}", self.gateway.addr())
    }

    fn token(&self, subject: &str, roles: &[&str]) -> String {
        self.issuer
            .mint(subject, roles, self.clock.now(), time::Duration::hours(1))
    }

    async fn send(&self, path: &str, headers: &[(&str, &str)]) -> Reply {
        let mut request = Request::get(format!("{}{path}", self.base()));
        for (name, value) in headers {
            request = request.header(*name, *value);
        }
        let request = request.body(Full::new(Bytes::new())).unwrap();
        let work = async {
            let response = self.client.request(request).await.unwrap();
            let (head, body) = response.into_parts();
            Reply {
                status: head.status,
                body: body.collect().await.unwrap().to_bytes(),
            }
        };
        tokio::time::timeout(REQUEST_TIMEOUT, work)
            .await
            .expect("request timed out")
    }

    async fn get_as(&self, path: &str, bearer: &str) -> Reply {
        let authorization = format!("Bearer {bearer}");
        self.send(path, &[("authorization", authorization.as_str())])
            .await
    }
}

/// An upstream's check, with edge-auth's own Gate and key driver: tokens of
/// `issuer` (keys by OIDC discovery) for `audience`.
struct Upstream {
    keys: KeyDriver,
    _refresh: RefreshTask,
}

impl Upstream {
    fn new(issuer: &str, audience: &str, clock: Arc<dyn Clock>) -> Self {
        let policy: Policy = toml::from_str(UPSTREAM_POLICY).unwrap();
        let issuer = IssuerConfig::new(issuer.to_owned(), [audience.to_owned()])
            .with_roles(gateway::role_mapper("roles").unwrap());
        let mut config = GateConfig::new([issuer]).with_policy(policy.compile().unwrap());
        config.discovery.allow_http_loopback = true;
        config.cache.allow_http_loopback = true;
        let client = HyperClient::new().unwrap().with_plain_http_loopback();
        let options = DriverOptions::default()
            .with_fetch_timeout(Duration::from_secs(2))
            .with_refresh_interval(Duration::from_millis(100));
        let gate = Arc::new(Gate::new(config).unwrap());
        let keys = KeyDriver::from_parts(gate, Arc::new(client), clock, options);
        let refresh = keys.spawn_refresh().unwrap();
        Self {
            keys,
            _refresh: refresh,
        }
    }

    /// The principal of `token`, or why it was refused.
    async fn verify(&self, token: &str) -> Result<Principal, String> {
        let (parts, ()) = Request::get("/api/items")
            .header(header::AUTHORIZATION, format!("Bearer {token}"))
            .body(())
            .unwrap()
            .into_parts();
        let facts = RequestFacts::from_parts(&parts);
        let verdict = tokio::time::timeout(REQUEST_TIMEOUT, self.keys.check(&parts, &facts))
            .await
            .expect("verification timed out");
        match verdict {
            Verdict::Allow {
                principal: Some(principal),
                ..
            } => Ok(*principal),
            Verdict::Allow {
                principal: None, ..
            } => Err("allowed without a principal".into()),
            Verdict::Deny(rejection) => Err(format!("{} {rejection:?}", rejection.status())),
            _ => Err("unknown verdict".into()),
        }
    }
}

fn kid_of(jwt: &str) -> String {
    let header = jwt.split('.').next().unwrap_or_default();
    let header: Value = serde_json::from_slice(&URL_SAFE_NO_PAD.decode(header).unwrap()).unwrap();
    header["kid"].as_str().unwrap_or_default().to_owned()
}

fn one(values: Vec<String>, what: &str) -> String {
    assert_eq!(values.len(), 1, "{what}: {values:?}");
    values.into_iter().next().unwrap_or_default()
}

#[tokio::test]
async fn the_upstream_receives_the_gateways_private_key_jwt_token_not_the_callers() {
    let rig = rig(Some(private_key_jwt(generate_key().unwrap())), None).await;
    let reader = rig.token("alice", &["reader"]);
    let mut seen = Vec::new();
    for _ in 0..3 {
        let reply = rig.get_as("/api/items", &reader).await;
        assert_eq!(reply.status, StatusCode::OK);
        let authorization = one(reply.upstream_header("authorization"), "authorization");
        let token = authorization
            .strip_prefix("Bearer ")
            .expect("a bearer token")
            .to_owned();
        assert_ne!(token, reader, "the caller's token was forwarded");
        seen.push(token);
    }
    // One token, fetched once, reused.
    assert!(seen.windows(2).all(|w| w[0] == w[1]));
    assert_eq!(rig.issuer.token_endpoint().issued(), 1);
    // It verifies under the dev issuer's JWKS, for the upstream, as the gateway.
    let upstream = Upstream::new(rig.issuer.issuer(), UPSTREAM, rig.clock.shared());
    let principal = upstream.verify(&seen[0]).await.unwrap();
    assert_eq!(principal.subject.as_deref(), Some(CLIENT_ID));
}

#[tokio::test]
async fn the_gateway_answers_502_when_it_cannot_get_its_token() {
    // The key is not the one registered: the token endpoint refuses it.
    let mut token = private_key_jwt(generate_key().unwrap());
    let rig_token = token.clone();
    token.auth = TokenAuth::PrivateKeyJwt(generate_key().unwrap());
    let rig = rig(Some(rig_token), None).await;
    rig.issuer.register_gateway(&mut token).unwrap();
    let reader = rig.token("alice", &["reader"]);
    let reply = rig.get_as("/api/items", &reader).await;
    assert_eq!(reply.status, StatusCode::BAD_GATEWAY);
    assert!(reply.upstream_header("authorization").is_empty());
}

#[tokio::test]
async fn the_gateway_gets_its_token_with_a_client_secret() {
    let token = UpstreamToken {
        auth: TokenAuth::ClientSecret(Secret::new("test-only client secret".to_owned())),
        ..private_key_jwt(generate_key().unwrap())
    };
    let rig = rig(Some(token), None).await;
    let reply = rig
        .get_as("/api/items", &rig.token("alice", &["reader"]))
        .await;
    assert_eq!(reply.status, StatusCode::OK);
    let authorization = one(reply.upstream_header("authorization"), "authorization");
    let upstream = Upstream::new(rig.issuer.issuer(), UPSTREAM, rig.clock.shared());
    let principal = upstream
        .verify(authorization.trim_start_matches("Bearer "))
        .await
        .unwrap();
    assert_eq!(principal.subject.as_deref(), Some(CLIENT_ID));
}

#[tokio::test]
async fn the_upstream_verifies_the_edge_assertion_by_the_gateways_discovery() {
    let rig = rig(None, Some(edge_settings())).await;
    let upstream = Upstream::new(&rig.base(), UPSTREAM, rig.clock.shared());
    let reader = rig.token("alice", &["reader"]);
    let reply = rig
        .send(
            "/api/items",
            &[
                ("authorization", &format!("Bearer {reader}")),
                ("x-edge-assertion", "forged"),
            ],
        )
        .await;
    assert_eq!(reply.status, StatusCode::OK);
    let assertion = one(reply.upstream_header("x-edge-assertion"), "assertion");
    assert_ne!(assertion, "forged");
    // Without a token of its own, the gateway sends no Authorization.
    assert!(reply.upstream_header("authorization").is_empty());
    let principal = upstream.verify(&assertion).await.unwrap();
    assert_eq!(principal.subject.as_deref(), Some("alice"));
    assert!(principal.roles.contains("reader"));
    // An anonymous request gets no assertion (and a forged one is stripped).
    let reply = rig.send("/health", &[("x-edge-assertion", "forged")]).await;
    assert_eq!(reply.status, StatusCode::OK);
    assert!(reply.upstream_header("x-edge-assertion").is_empty());
    // The documents are served anonymously, by the gateway itself.
    let reply = rig.send("/.well-known/jwks.json", &[]).await;
    assert_eq!(reply.status, StatusCode::OK);
    let jwks: Value = serde_json::from_slice(&reply.body).unwrap();
    // The current key and, from the first rotation tick, the next one.
    assert_eq!(jwks["keys"].as_array().map(Vec::len), Some(2));
}

#[tokio::test]
async fn the_upstream_accepts_every_edge_assertion_across_key_rotations() {
    let rig = rig(
        Some(private_key_jwt(generate_key().unwrap())),
        Some(edge_settings()),
    )
    .await;
    // The test moves the clock an hour: one token for all of it.
    rig.issuer.token_endpoint().set_lifetime(86_400);
    let upstream = Upstream::new(&rig.base(), UPSTREAM, rig.clock.shared());
    let minter = rig
        .gateway
        .upstream_auth()
        .minter()
        .expect("edge assertions on")
        .clone();
    let next = || SigningKey::generate(Algorithm::ES256, &ring::rand::SystemRandom::new());
    let (mut accepted, mut rejected, mut promoted) = (0_u32, Vec::new(), 0_u32);
    let mut kids = std::collections::BTreeSet::new();
    // 3 minutes per round, a 10-minute publish lead: a rotation every 4
    // rounds, 5 in all; each round, a stream of requests runs while the
    // keys rotate.
    for _round in 0..20 {
        let reader = rig.token("alice", &["reader"]);
        let stream = async {
            let mut assertions = Vec::new();
            for _ in 0..8 {
                let reply = rig.get_as("/api/items", &reader).await;
                assert_eq!(reply.status, StatusCode::OK);
                assertions.push(one(reply.upstream_header("x-edge-assertion"), "assertion"));
            }
            assertions
        };
        let rotate = async {
            tokio::time::sleep(Duration::from_millis(5)).await;
            minter.rotate(rig.clock.now(), &next).unwrap()
        };
        let (assertions, rotation) = tokio::join!(stream, rotate);
        promoted += u32::from(rotation.promoted.is_some());
        for assertion in assertions {
            kids.insert(kid_of(&assertion));
            match upstream.verify(&assertion).await {
                Ok(principal) => {
                    assert_eq!(principal.subject.as_deref(), Some("alice"));
                    accepted += 1;
                }
                Err(why) => rejected.push(why),
            }
        }
        rig.clock.advance(time::Duration::minutes(3));
    }
    assert!(rejected.is_empty(), "rejected: {rejected:?}");
    assert_eq!(accepted, 160);
    assert!(promoted >= 4, "only {promoted} rotations");
    assert!(
        kids.len() >= 5,
        "assertions were signed by {} keys",
        kids.len()
    );
    // The gateway's own token rode along the whole time, fetched once.
    assert_eq!(rig.issuer.token_endpoint().issued(), 1);
}
