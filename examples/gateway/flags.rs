//! The gateway example's options (flag or environment variable) and the
//! settings they parse into. No wiring here: `wiring.rs` builds the gateway
//! from a [`GatewayConfig`].

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use edge_auth::Secret;
use edge_auth::crypto::SigningKey;
use edge_auth::driver::keys::{Clock, SystemClock};
use edge_auth::driver::server::ServerConfig;
use edge_auth::driver::sign::UpstreamSigner;
use edge_auth::forward::{ForwardConfig, TrustedProxy};
use edge_auth::gate::{Gate, GateConfig, IssuerConfig};
use edge_auth::jwt::Algorithm;
use edge_auth::oidc::{ClaimSource, RoleMapper};
use edge_auth::policy::Policy;

use super::upstream_auth::{EdgeAssertionSettings, TokenAuth, UpstreamToken, generate_key};

pub type Failure = Box<dyn std::error::Error + Send + Sync>;

/// What `--help` prints.
const HELP: &str = "\
hyper_gateway: edge-auth's Gate in front of an upstream, on loopback.
Options (flag, or EDGE_GATEWAY_<NAME> in the environment; [default]):
  --listen ADDR             the gateway [127.0.0.1:8080]
  --echo-listen ADDR        the echo upstream [127.0.0.1:8081]
  --issuer-listen ADDR      the development issuer [127.0.0.1:8082]
  --upstream URL            a real upstream, http://host:port (skips the echo)
  --issuer URL              a real issuer (skips the dev issuer)
  --audience AUD            the `aud` tokens must carry [api://edge-auth-demo]
  --jwks-uri URL            the issuer's JWKS [OIDC discovery]
  --roles SPEC              claim name, JSON Pointer or preset: entra-id:CLIENT_ID, okta,
                            keycloak:CLIENT_ID, auth0:NAMESPACE, cognito, google [roles]
  --policy FILE             route policy, TOML with `limits` / `cors` [examples/gateway/policy.toml]
  --rate-limit RATE         a per-subject limit on every allow rule, e.g. 10/s (burst = count)
  --sign none|hmac|sigv4    upstream signature [none]; hmac needs EDGE_GATEWAY_HMAC_SECRET,
                            sigv4 AWS_ACCESS_KEY_ID, AWS_SECRET_ACCESS_KEY (AWS_SESSION_TOKEN, AWS_REGION)
  --hmac-key-id ID          RFC 9421 keyid [gateway]
  --sigv4-service NAME      SigV4 service [execute-api]
  --gate on|off             off = plain proxy, for load comparisons [on]
  --token-lifetime SECS     lifetime of the printed demo tokens [3600]
  --trusted-proxy CIDR[,CIDR]=HEADER  believe HEADER's client address from these peers
  --max-connections N       client connection cap, keep it under `ulimit -n` [512]
  --upstream-token private-key-jwt|client-secret  the gateway's own access token for the
                            upstream, as Authorization: Bearer (the caller's is never forwarded)
  --token-endpoint URL      where to get it [the dev issuer's /token]
  --token-client-id ID      the gateway's client id [edge-gateway]
  --token-key FILE          private_key_jwt key, PKCS#8 PEM (ES256) [generated, registered with
                            the dev issuer]; client-secret needs EDGE_GATEWAY_TOKEN_CLIENT_SECRET
  --token-scope SCOPE       the scope asked for [the audience]
  --edge-assertion AUD      mint an x-edge-assertion for AUD per allowed request; the gateway serves
                            /.well-known/jwks.json and /.well-known/openid-configuration
  --edge-rotate-every SECS  edge key rotation step [3600]
  --edge-publish-lead SECS  a next key is published this long before it signs [10800]";

/// The default listen addresses.
const ADDRESSES: [(&str, &str); 3] = [
    ("listen", "127.0.0.1:8080"),
    ("echo-listen", "127.0.0.1:8081"),
    ("issuer-listen", "127.0.0.1:8082"),
];

/// The command line and environment.
pub struct Flags(Vec<String>);

impl Flags {
    /// The process's arguments; prints the options and exits on `--help`.
    pub fn from_env() -> Self {
        let args: Vec<String> = std::env::args().skip(1).collect();
        if args.iter().any(|a| a == "--help" || a == "-h") {
            println!("{HELP}");
            std::process::exit(0);
        }
        Self(args)
    }

    /// `--name value`, else `EDGE_GATEWAY_NAME`, else `None`.
    pub fn get(&self, name: &str) -> Option<String> {
        let flag = format!("--{name}");
        let env = format!("EDGE_GATEWAY_{}", name.to_uppercase().replace('-', "_"));
        (self.0.windows(2).find(|pair| pair.first() == Some(&flag)))
            .and_then(|pair| pair.get(1).cloned())
            .or_else(|| std::env::var(env).ok())
    }

    /// An address option, with its default from the table.
    pub fn address(&self, name: &str) -> Result<SocketAddr, Failure> {
        let default = ADDRESSES.iter().find(|o| o.0 == name).map_or("", |o| o.1);
        let text = self.get(name).unwrap_or_else(|| default.to_owned());
        text.parse()
            .map_err(|e| format!("--{name} `{text}`: {e}").into())
    }

    /// `--token-lifetime`, in seconds.
    pub fn token_lifetime(&self) -> Result<i64, Failure> {
        let text = self.get("token-lifetime").unwrap_or_else(|| "3600".into());
        Ok(text
            .parse()
            .map_err(|e| format!("--token-lifetime `{text}`: {e}"))?)
    }

    pub fn audience(&self) -> String {
        self.get("audience")
            .unwrap_or_else(|| "api://edge-auth-demo".into())
    }

    /// The gateway's settings for `upstream` and `issuer`.
    pub fn gateway_config(&self, upstream: &str, issuer: &str) -> Result<GatewayConfig, Failure> {
        let mut policy_toml = match self.get("policy") {
            Some(path) => {
                std::fs::read_to_string(&path).map_err(|e| format!("--policy `{path}`: {e}"))?
            }
            None => include_str!("policy.toml").to_owned(),
        };
        if let Some(rate) = self.get("rate-limit") {
            policy_toml = with_rate_limit(&policy_toml, &rate)?;
        }
        let mut config = GatewayConfig::new(self.address("listen")?, upstream, policy_toml);
        let roles = self.get("roles").or_else(|| self.get("roles-claim"));
        config.issuers.push(IssuerSettings {
            issuer: issuer.to_owned(),
            audience: self.audience(),
            jwks_uri: self.get("jwks-uri"),
            roles: role_mapper(roles.as_deref().unwrap_or("roles"))?,
        });
        if let Some(spec) = self.get("trusted-proxy") {
            let (peers, header) = spec
                .split_once('=')
                .ok_or_else(|| format!("--trusted-proxy `{spec}`: expected CIDR[,CIDR]=HEADER"))?;
            let proxy = TrustedProxy::new(peers.split(','), header);
            config.forward = config.forward.with_trusted_proxy(proxy);
        }
        if let Some(max) = self.get("max-connections") {
            let max: usize = max
                .parse()
                .map_err(|e| format!("--max-connections `{max}`: {e}"))?;
            config.server = config.server.with_max_connections(max);
        }
        config.gate_enabled = match self.get("gate").as_deref() {
            None | Some("on") => true,
            Some("off") => false,
            Some(other) => return Err(format!("--gate `{other}`: expected on or off").into()),
        };
        config.sign_upstream = self.sign_upstream()?;
        config.upstream_token = self.upstream_token()?;
        config.edge_assertion = self.edge_assertion()?;
        Ok(config)
    }

    fn seconds(&self, name: &str, default: u64) -> Result<u64, Failure> {
        match self.get(name) {
            None => Ok(default),
            Some(text) => Ok(text
                .parse()
                .map_err(|e| format!("--{name} `{text}`: {e}"))?),
        }
    }

    fn upstream_token(&self) -> Result<Option<UpstreamToken>, Failure> {
        let auth = match self.get("upstream-token").as_deref() {
            None => return Ok(None),
            Some("private-key-jwt") => TokenAuth::PrivateKeyJwt(match self.get("token-key") {
                Some(path) => {
                    let pem = std::fs::read_to_string(&path)
                        .map_err(|e| format!("--token-key `{path}`: {e}"))?;
                    SigningKey::from_pem(Algorithm::ES256, &Secret::new(pem))?
                }
                None => generate_key()?,
            }),
            Some("client-secret") => TokenAuth::ClientSecret(Secret::new(
                std::env::var("EDGE_GATEWAY_TOKEN_CLIENT_SECRET").map_err(
                    |_| "--upstream-token client-secret needs EDGE_GATEWAY_TOKEN_CLIENT_SECRET",
                )?,
            )),
            Some(other) => {
                return Err(format!(
                    "--upstream-token `{other}`: expected private-key-jwt or client-secret"
                )
                .into());
            }
        };
        Ok(Some(UpstreamToken {
            token_endpoint: self.get("token-endpoint").unwrap_or_default(),
            client_id: self
                .get("token-client-id")
                .unwrap_or_else(|| "edge-gateway".into()),
            auth,
            scope: Some(self.get("token-scope").unwrap_or_else(|| self.audience())),
        }))
    }

    fn edge_assertion(&self) -> Result<Option<EdgeAssertionSettings>, Failure> {
        let Some(audience) = self.get("edge-assertion") else {
            return Ok(None);
        };
        let lead = i64::try_from(self.seconds("edge-publish-lead", 10_800)?)?;
        Ok(Some(EdgeAssertionSettings {
            audience,
            rotate_every: Duration::from_secs(self.seconds("edge-rotate-every", 3600)?),
            publish_lead: time::Duration::seconds(lead),
        }))
    }

    fn sign_upstream(&self) -> Result<SignUpstream, Failure> {
        let env = |name: &str, why: &str| std::env::var(name).map_err(|_| why.to_owned());
        Ok(match self.get("sign").as_deref() {
            None | Some("none") => SignUpstream::None,
            Some("hmac") => SignUpstream::HttpSigHmac {
                key_id: self.get("hmac-key-id").unwrap_or_else(|| "gateway".into()),
                secret: Secret::new(
                    env(
                        "EDGE_GATEWAY_HMAC_SECRET",
                        "--sign hmac needs EDGE_GATEWAY_HMAC_SECRET",
                    )?
                    .into_bytes(),
                ),
            },
            Some("sigv4") => SignUpstream::SigV4 {
                access_key_id: env("AWS_ACCESS_KEY_ID", "--sign sigv4 needs AWS_ACCESS_KEY_ID")?,
                secret_access_key: Secret::new(env(
                    "AWS_SECRET_ACCESS_KEY",
                    "--sign sigv4 needs AWS_SECRET_ACCESS_KEY",
                )?),
                session_token: std::env::var("AWS_SESSION_TOKEN").ok().map(Secret::new),
                region: std::env::var("AWS_REGION").unwrap_or_else(|_| "us-east-1".into()),
                service: self
                    .get("sigv4-service")
                    .unwrap_or_else(|| "execute-api".into()),
            },
            Some(other) => {
                return Err(format!("--sign `{other}`: expected none, hmac or sigv4").into());
            }
        })
    }
}

/// `policy_toml` with a per-subject limit `rate` (burst = its count) added
/// to every allow rule.
pub fn with_rate_limit(policy_toml: &str, rate: &str) -> Result<String, Failure> {
    let mut policy: toml::Table = toml::from_str(policy_toml)?;
    let limit = toml::Table::from_iter([
        ("id".to_owned(), toml::Value::from("per-subject")),
        ("key".to_owned(), toml::Value::from("subject")),
        ("rate".to_owned(), toml::Value::from(rate)),
    ]);
    let rules = policy.get_mut("rules").and_then(toml::Value::as_array_mut);
    for rule in rules
        .into_iter()
        .flatten()
        .filter_map(toml::Value::as_table_mut)
    {
        if rule.get("effect").and_then(toml::Value::as_str) == Some("allow") {
            let limits = rule
                .entry("limits")
                .or_insert_with(|| toml::Value::Array(Vec::new()));
            if let Some(limits) = limits.as_array_mut() {
                limits.push(toml::Value::Table(limit.clone()));
            }
        }
    }
    Ok(toml::to_string(&policy)?)
}

/// One trusted token issuer.
#[derive(Debug, Clone)]
pub struct IssuerSettings {
    /// The issuer identifier, exactly as in `iss`.
    pub issuer: String,
    /// The audience tokens must carry (`aud`).
    pub audience: String,
    /// The JWKS URL; `None` = OIDC discovery.
    pub jwks_uri: Option<String>,
    /// How claims become roles.
    pub roles: RoleMapper,
}

/// A role mapper from the `--roles` flag: a provider preset or the claim
/// holding roles, by name (`roles`) or JSON Pointer (`/realm_access/roles`).
pub fn role_mapper(spec: &str) -> Result<RoleMapper, String> {
    let (preset, arg) = spec.split_once(':').unwrap_or((spec, ""));
    Ok(match (preset, arg) {
        ("entra-id", client) if !client.is_empty() => RoleMapper::entra_id(client),
        ("keycloak", client) if !client.is_empty() => RoleMapper::keycloak(client),
        ("auth0", namespace) => RoleMapper::auth0(namespace),
        ("okta", "") => RoleMapper::okta(),
        ("cognito", "") => RoleMapper::cognito(),
        ("google", "") => RoleMapper::google(),
        _ => RoleMapper::new()
            .with_source(ClaimSource::roles(spec).map_err(|e| format!("roles `{spec}`: {e}"))?),
    })
}

/// How the gateway proves to the upstream that a request came through it.
#[derive(Debug, Clone)]
pub enum SignUpstream {
    /// No signature.
    None,
    /// RFC 9421 HTTP Message Signature, `hmac-sha256` with a shared secret.
    HttpSigHmac {
        key_id: String,
        secret: Secret<Vec<u8>>,
    },
    /// AWS SigV4 (for an upstream behind API Gateway / Lambda URLs).
    SigV4 {
        access_key_id: String,
        secret_access_key: Secret<String>,
        session_token: Option<Secret<String>>,
        region: String,
        service: String,
    },
}

impl SignUpstream {
    /// The library's signer for this setting.
    pub fn signer(&self) -> Option<UpstreamSigner> {
        match self {
            Self::None => None,
            Self::HttpSigHmac { key_id, secret } => {
                Some(UpstreamSigner::hmac_sha256(key_id.clone(), secret.clone()))
            }
            Self::SigV4 {
                access_key_id,
                secret_access_key,
                session_token,
                region,
                service,
            } => {
                let credentials = edge_auth::sigv4::Credentials::new(
                    access_key_id.clone(),
                    secret_access_key.expose().clone(),
                );
                let credentials = match session_token {
                    Some(token) => credentials.with_session_token(token.expose().clone()),
                    None => credentials,
                };
                Some(UpstreamSigner::sigv4(
                    credentials,
                    region.clone(),
                    service.clone(),
                ))
            }
        }
    }
}

/// Everything the gateway needs.
#[derive(Clone)]
pub struct GatewayConfig {
    /// Where to listen (loopback).
    pub listen: SocketAddr,
    /// The upstream's base URL, `http://host:port`.
    pub upstream: String,
    /// Trusted issuers.
    pub issuers: Vec<IssuerSettings>,
    /// The route policy (TOML text).
    pub policy_toml: String,
    /// The `realm` in challenges.
    pub realm: String,
    /// `false` skips the Gate entirely (plain proxy), for load comparisons only.
    pub gate_enabled: bool,
    /// Upstream request signing.
    pub sign_upstream: SignUpstream,
    /// The clock.
    pub clock: Arc<dyn Clock>,
    /// How often to ask the Gate for refresh-ahead work.
    pub poll_interval: Duration,
    /// Timeout for one discovery / JWKS fetch.
    pub fetch_timeout: Duration,
    /// Timeout for the upstream's response head.
    pub upstream_timeout: Duration,
    /// Largest request body forwarded (it is buffered to be signed).
    pub max_body: usize,
    /// The client-facing limits (timeouts, connection cap).
    pub server: ServerConfig,
    /// Header hygiene and identity headers.
    pub forward: ForwardConfig,
    /// The gateway's own access token for the upstream. Default: none.
    pub upstream_token: Option<UpstreamToken>,
    /// Edge assertions for the upstream. Default: none.
    pub edge_assertion: Option<EdgeAssertionSettings>,
}

impl GatewayConfig {
    /// Defaults: realm `edge-auth`, Gate on, no signing, wall clock, 1 s poll,
    /// 5 s fetch timeout, 30 s upstream timeout, 1 MiB bodies.
    pub fn new(listen: SocketAddr, upstream: impl Into<String>, policy: impl Into<String>) -> Self {
        Self {
            listen,
            upstream: upstream.into(),
            issuers: Vec::new(),
            policy_toml: policy.into(),
            realm: "edge-auth".into(),
            gate_enabled: true,
            sign_upstream: SignUpstream::None,
            clock: Arc::new(SystemClock),
            poll_interval: Duration::from_secs(1),
            fetch_timeout: Duration::from_secs(5),
            upstream_timeout: Duration::from_secs(30),
            max_body: 1024 * 1024,
            server: ServerConfig::default(),
            forward: ForwardConfig::default(),
            upstream_token: None,
            edge_assertion: None,
        }
    }

    /// The Gate: the policy (TOML) compiled once, one `IssuerConfig` per issuer.
    pub fn build_gate(&self) -> Result<Gate, Failure> {
        let policy: Policy = toml::from_str(&self.policy_toml)?;
        let issuers = self.issuers.iter().map(|settings| {
            let issuer = IssuerConfig::new(settings.issuer.clone(), [settings.audience.clone()])
                .with_roles(settings.roles.clone());
            match &settings.jwks_uri {
                Some(uri) => issuer.with_jwks_uri(uri.clone()),
                None => issuer,
            }
        });
        let mut gate = GateConfig::new(issuers)
            .with_policy(policy.compile()?)
            .with_realm(self.realm.clone());
        // Plain-HTTP key URLs only for a loopback development issuer.
        gate.discovery.allow_http_loopback = self.plain_http();
        gate.cache.allow_http_loopback = self.plain_http();
        Ok(Gate::new(gate)?)
    }

    /// Whether an issuer is configured over plain HTTP (the development issuer).
    pub fn plain_http(&self) -> bool {
        self.issuers.iter().any(|i| {
            i.issuer.starts_with("http://")
                || (i.jwks_uri.as_deref()).is_some_and(|u| u.starts_with("http://"))
        })
    }
}
