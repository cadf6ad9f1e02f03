//! A hyper 1 gateway in front of an upstream, enforcing edge-auth's Gate.
//!
//! `cargo run --example hyper_gateway` starts, all on loopback: a development
//! OpenID provider (RS256 keys, discovery, JWKS), an echo upstream and the
//! gateway, then prints curl commands with demo tokens. Options (flag or
//! environment variable):
//!
//! | flag | env | default |
//! |---|---|---|
//! | `--listen` | `EDGE_GATEWAY_LISTEN` | `127.0.0.1:8080` |
//! | `--echo-listen` | `EDGE_GATEWAY_ECHO_LISTEN` | `127.0.0.1:8081` |
//! | `--issuer-listen` | `EDGE_GATEWAY_ISSUER_LISTEN` | `127.0.0.1:8082` |
//! | `--upstream URL` (skips the echo) | `EDGE_GATEWAY_UPSTREAM` | the echo |
//! | `--issuer URL` (skips the dev issuer) | `EDGE_GATEWAY_ISSUER` | the dev issuer |
//! | `--audience AUD` | `EDGE_GATEWAY_AUDIENCE` | `api://edge-auth-demo` |
//! | `--jwks-uri URL` | `EDGE_GATEWAY_JWKS_URI` | discovery |
//! | `--roles SPEC` | `EDGE_GATEWAY_ROLES` | `roles` (the claim); or a preset: `entra-id:CLIENT_ID`, `okta`, `keycloak:CLIENT_ID`, `auth0:NAMESPACE`, `cognito`, `google`; or a JSON Pointer such as `/realm_access/roles` |
//! | `--policy FILE` | `EDGE_GATEWAY_POLICY` | examples/gateway/policy.toml |
//! | `--sign none\|hmac\|sigv4` | `EDGE_GATEWAY_SIGN` | `none` |
//! | `--hmac-key-id ID` | `EDGE_GATEWAY_HMAC_KEY_ID` | `gateway` |
//! | (secret) | `EDGE_GATEWAY_HMAC_SECRET` | required for `hmac` (RFC 9421 `hmac-sha256`) |
//! | (secrets) | `AWS_ACCESS_KEY_ID`, `AWS_SECRET_ACCESS_KEY`, `AWS_SESSION_TOKEN` | required for `sigv4` (`AWS_REGION`, default `us-east-1`) |
//! | `--sigv4-service NAME` | `EDGE_GATEWAY_SIGV4_SERVICE` | `execute-api` |
//! | `--gate on\|off` | `EDGE_GATEWAY_GATE` | `on` (`off` = plain proxy, for load comparisons) |
//! | `--token-lifetime SECS` | `EDGE_GATEWAY_TOKEN_LIFETIME` | `3600` |
//! | `--trusted-proxy CIDR[,CIDR]=HEADER` | `EDGE_GATEWAY_TRUSTED_PROXY` | none: the client address is the peer (e.g. `173.245.48.0/20=cf-connecting-ip`) |
//! | `--max-connections N` | `EDGE_GATEWAY_MAX_CONNECTIONS` | `512` (keep it under `ulimit -n`) |
//!
//! Client-facing limits and header hygiene are the library's
//! (`edge_auth::driver::server`, `edge_auth::forward`): their module docs
//! list the timeouts and every header the gateway owns.

#[path = "gateway/mod.rs"]
mod gateway;

use std::net::SocketAddr;

use edge_auth::Secret;
use gateway::{GatewayConfig, IssuerSettings, SignUpstream};

type Failure = Box<dyn std::error::Error + Send + Sync>;

/// `--name value`, else `EDGE_GATEWAY_NAME`, else `None`.
fn option(args: &[String], name: &str) -> Option<String> {
    let flag = format!("--{name}");
    args.windows(2)
        .find(|pair| pair.first() == Some(&flag))
        .and_then(|pair| pair.get(1).cloned())
        .or_else(|| {
            std::env::var(format!(
                "EDGE_GATEWAY_{}",
                name.to_uppercase().replace('-', "_")
            ))
            .ok()
        })
}

fn address(args: &[String], name: &str, default: &str) -> Result<SocketAddr, Failure> {
    let text = option(args, name).unwrap_or_else(|| default.to_owned());
    text.parse()
        .map_err(|e| format!("--{name} `{text}`: {e}").into())
}

#[tokio::main]
async fn main() -> Result<(), Failure> {
    let args: Vec<String> = std::env::args().skip(1).collect();
    if args.iter().any(|a| a == "--help" || a == "-h") {
        println!("see the table at the top of examples/hyper_gateway.rs");
        return Ok(());
    }
    let audience = option(&args, "audience").unwrap_or_else(|| "api://edge-auth-demo".into());
    let roles = gateway::role_mapper(
        &option(&args, "roles")
            .or_else(|| option(&args, "roles-claim"))
            .unwrap_or_else(|| "roles".into()),
    )?;
    let policy_toml = match option(&args, "policy") {
        Some(path) => {
            std::fs::read_to_string(&path).map_err(|e| format!("--policy `{path}`: {e}"))?
        }
        None => include_str!("gateway/policy.toml").to_owned(),
    };

    // (a) the development issuer, unless a real one is named.
    let (dev_issuer, issuer) = match option(&args, "issuer") {
        Some(issuer) => (None, issuer),
        None => {
            let dev = gateway::start_dev_issuer(
                address(&args, "issuer-listen", "127.0.0.1:8082")?,
                &audience,
            )
            .await?;
            let issuer = dev.issuer().to_owned();
            (Some(dev), issuer)
        }
    };
    // (b) the echo upstream, unless a real one is named.
    let (_echo, upstream) = match option(&args, "upstream") {
        Some(upstream) => (None, upstream),
        None => {
            let echo =
                gateway::start_echo(address(&args, "echo-listen", "127.0.0.1:8081")?).await?;
            let upstream = format!("http://{}", echo.addr());
            (Some(echo), upstream)
        }
    };
    // (c) the gateway.
    let mut config = GatewayConfig::new(
        address(&args, "listen", "127.0.0.1:8080")?,
        upstream.clone(),
        policy_toml,
    );
    config.issuers.push(IssuerSettings {
        issuer: issuer.clone(),
        audience: audience.clone(),
        jwks_uri: option(&args, "jwks-uri"),
        roles,
    });
    if let Some(spec) = option(&args, "trusted-proxy") {
        let (peers, header) = spec
            .split_once('=')
            .ok_or_else(|| format!("--trusted-proxy `{spec}`: expected CIDR[,CIDR]=HEADER"))?;
        config.forward = config
            .forward
            .with_trusted_proxy(edge_auth::forward::TrustedProxy::new(
                peers.split(','),
                header,
            ));
    }
    if let Some(max) = option(&args, "max-connections") {
        let max: usize = max
            .parse()
            .map_err(|e| format!("--max-connections `{max}`: {e}"))?;
        config.server = config.server.with_max_connections(max);
    }
    config.gate_enabled = match option(&args, "gate").as_deref() {
        None | Some("on") => true,
        Some("off") => false,
        Some(other) => return Err(format!("--gate `{other}`: expected on or off").into()),
    };
    config.sign_upstream = match option(&args, "sign").as_deref() {
        None | Some("none") => SignUpstream::None,
        Some("hmac") => SignUpstream::HttpSigHmac {
            key_id: option(&args, "hmac-key-id").unwrap_or_else(|| "gateway".into()),
            secret: Secret::new(
                std::env::var("EDGE_GATEWAY_HMAC_SECRET")
                    .map_err(|_| "--sign hmac needs EDGE_GATEWAY_HMAC_SECRET")?
                    .into_bytes(),
            ),
        },
        Some("sigv4") => SignUpstream::SigV4 {
            access_key_id: std::env::var("AWS_ACCESS_KEY_ID")
                .map_err(|_| "--sign sigv4 needs AWS_ACCESS_KEY_ID")?,
            secret_access_key: Secret::new(
                std::env::var("AWS_SECRET_ACCESS_KEY")
                    .map_err(|_| "--sign sigv4 needs AWS_SECRET_ACCESS_KEY")?,
            ),
            session_token: std::env::var("AWS_SESSION_TOKEN").ok().map(Secret::new),
            region: std::env::var("AWS_REGION").unwrap_or_else(|_| "us-east-1".into()),
            service: option(&args, "sigv4-service").unwrap_or_else(|| "execute-api".into()),
        },
        Some(other) => return Err(format!("--sign `{other}`: expected none, hmac or sigv4").into()),
    };
    let gate_on = config.gate_enabled;
    let handle = gateway::start_gateway(config).await?;
    let base = format!("http://{}", handle.addr());

    println!("issuer:   {issuer}");
    println!("upstream: {upstream}");
    println!(
        "gateway:  {base} (gate {})",
        if gate_on { "on" } else { "OFF: plain proxy" }
    );
    println!();
    println!("curl -i {base}/health                      # 200, anonymous");
    println!("curl -i {base}/api/items                   # 401, WWW-Authenticate: Bearer");
    if let Some(dev) = &dev_issuer {
        let lifetime: i64 = option(&args, "token-lifetime").map_or(Ok(3600), |s| s.parse())?;
        let now = time::OffsetDateTime::now_utc();
        let reader = dev.mint("alice", &["reader"], now, time::Duration::seconds(lifetime));
        let admin = dev.mint("bob", &["admin"], now, time::Duration::seconds(lifetime));
        println!("READER={reader}");
        println!("ADMIN={admin}");
        println!(
            "curl -i -H \"Authorization: Bearer $READER\" {base}/api/items      # 200, echo shows x-auth-*"
        );
        println!("curl -i -H \"Authorization: Bearer $READER\" {base}/admin/users    # 403");
        println!("curl -i -H \"Authorization: Bearer $ADMIN\" {base}/admin/users     # 200");
        println!("(tokens valid {lifetime} s; the dev issuer's keys live as long as this process)");
    }
    std::future::pending::<()>().await;
    Ok(())
}
