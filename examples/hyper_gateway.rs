//! A hyper 1 gateway in front of an upstream, enforcing edge-auth's Gate:
//! `cargo run --example hyper_gateway` starts, on loopback, a development
//! OpenID provider, an echo upstream and the gateway (examples/gateway/
//! wiring.rs, on the library's drivers), then prints curl commands with demo
//! tokens. `--help` lists the options (examples/gateway/flags.rs).

#[path = "gateway/mod.rs"]
mod gateway;

use gateway::flags::Failure;

#[tokio::main]
async fn main() -> Result<(), Failure> {
    let flags = gateway::Flags::from_env();
    let audience = flags.audience();
    // (a) the development issuer and (b) the echo upstream, unless real ones are named.
    let dev = match flags.get("issuer") {
        Some(_) => None,
        None => Some(gateway::start_dev_issuer(flags.address("issuer-listen")?, &audience).await?),
    };
    let issuer = (flags
        .get("issuer")
        .or_else(|| dev.as_ref().map(|d| d.issuer().to_owned())))
    .unwrap_or_default();
    let echo = match flags.get("upstream") {
        Some(_) => None,
        None => Some(gateway::start_echo(flags.address("echo-listen")?).await?),
    };
    let upstream = (flags
        .get("upstream")
        .or_else(|| echo.as_ref().map(|e| format!("http://{}", e.addr()))))
    .unwrap_or_default();
    // (c) the gateway, registered with the dev issuer when it has a token of its own.
    let mut config = flags.gateway_config(&upstream, &issuer)?;
    if let (Some(dev), Some(token)) = (&dev, config.upstream_token.as_mut()) {
        dev.register_gateway(token)?;
    }
    let gate_on = config.gate_enabled;
    let handle = gateway::start_gateway(config).await?;
    let base = format!("http://{}", handle.addr());
    println!("issuer:   {issuer}\nupstream: {upstream}\ngateway:  {base} (gate on: {gate_on})\n");
    println!("curl -i {base}/health                      # 200, anonymous");
    println!("curl -i {base}/api/items                   # 401, WWW-Authenticate: Bearer");
    if let Some(dev) = &dev {
        let lifetime = flags.token_lifetime()?;
        let (now, ttl) = (
            time::OffsetDateTime::now_utc(),
            time::Duration::seconds(lifetime),
        );
        println!("READER={}", dev.mint("alice", &["reader"], now, ttl));
        println!("ADMIN={}", dev.mint("bob", &["admin"], now, ttl));
        let bearer = |who: &str| format!("curl -i -H \"Authorization: Bearer ${who}\" {base}");
        println!(
            "{}/api/items      # 200, x-auth-* upstream",
            bearer("READER")
        );
        println!("{}/admin/users    # 403", bearer("READER"));
        println!("{}/admin/users     # 200", bearer("ADMIN"));
        println!("(tokens valid {lifetime} s; the dev issuer's keys live as long as this process)");
    }
    std::future::pending::<()>().await;
    Ok(())
}
