//! The policy tool: explain a decision, or run a policy's embedded tests.
//!
//! ```text
//! cargo run --example policy -- check POLICY --request "GET /tenants/t1/orders" \
//!     [--claims claims.json] [--host t1.api.example.com] [--header "name: value"]... \
//!     [--client-ip 10.1.2.3] [--country DE]
//! cargo run --example policy -- test POLICY
//! ```
//!
//! POLICY is a JSON or TOML (`.toml`) policy document. `check` compiles it
//! without running its tests, evaluates the request and prints the decision,
//! the deciding rule and every reason; the claims file is a JWT claims set
//! (JSON), mapped to a principal as a gate would: subject from `sub`, roles
//! from `roles`, scopes from `scope` / `scp`, groups from `groups`. Without
//! `--claims` the request is anonymous. `test` runs the embedded tests and
//! prints each; it exits with status 1 when one fails.

use std::process::ExitCode;

use edge_auth::oidc::{ClaimSource, RoleMapper};
use edge_auth::policy::{Policy, PolicyConfig, RequestFacts};

type Error = Box<dyn std::error::Error>;

fn main() -> ExitCode {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let result = match args.first().map(String::as_str) {
        Some("check") => check(&args[1..]),
        Some("test") => test(&args[1..]),
        _ => Err("usage: policy check POLICY --request \"METHOD /path\" [--claims FILE] [--host HOST] [--header \"name: value\"]... [--client-ip IP] [--country CC]\n       policy test POLICY".into()),
    };
    match result {
        Ok(code) => code,
        Err(e) => {
            eprintln!("error: {e}");
            ExitCode::from(2)
        }
    }
}

fn load(path: &str) -> Result<Policy, Error> {
    let text = std::fs::read_to_string(path).map_err(|e| format!("reading `{path}`: {e}"))?;
    if path.ends_with(".toml") {
        Ok(toml::from_str(&text)?)
    } else {
        Ok(Policy::from_json(&text)?)
    }
}

fn value<'a>(args: &'a [String], i: usize, flag: &str) -> Result<&'a str, Error> {
    args.get(i + 1)
        .map(String::as_str)
        .ok_or_else(|| format!("`{flag}` needs a value").into())
}

fn check(args: &[String]) -> Result<ExitCode, Error> {
    let path = args.first().ok_or("check needs a POLICY file")?;
    let mut request = None;
    let mut claims_file = None;
    let mut host = None;
    let mut headers = http::HeaderMap::new();
    let mut client_ip = None;
    let mut country = None;
    let mut i = 1;
    while i < args.len() {
        let flag = args[i].as_str();
        let v = value(args, i, flag)?;
        match flag {
            "--request" => request = Some(v),
            "--claims" => claims_file = Some(v),
            "--host" => host = Some(v),
            "--client-ip" => client_ip = Some(v.parse::<std::net::IpAddr>()?),
            "--country" => country = Some(v),
            "--header" => {
                let (name, val) = v.split_once(':').ok_or("`--header` is `name: value`")?;
                headers.append(
                    http::HeaderName::from_bytes(name.trim().as_bytes())?,
                    http::HeaderValue::from_str(val.trim())?,
                );
            }
            other => return Err(format!("unknown option `{other}`").into()),
        }
        i += 2;
    }
    let request = request.ok_or("check needs --request \"METHOD /path\"")?;
    let (method, target) = request
        .split_once(' ')
        .ok_or("--request is \"METHOD /path\"")?;
    let method = http::Method::from_bytes(method.as_bytes())?;

    // Explain even a policy whose own tests fail: that is when one asks why.
    let mut policy = load(path)?;
    policy.tests.clear();
    let compiled = policy.compile_with(&PolicyConfig::default())?;
    for warning in compiled.warnings() {
        println!("warning: {warning}");
    }

    let principal = match claims_file {
        None => None,
        Some(file) => {
            let text =
                std::fs::read_to_string(file).map_err(|e| format!("reading `{file}`: {e}"))?;
            let claims: serde_json::Map<String, serde_json::Value> = serde_json::from_str(&text)?;
            let mapper = RoleMapper::new()
                .with_source(ClaimSource::roles("roles")?)
                .with_source(ClaimSource::scopes("scope")?)
                .with_source(ClaimSource::scopes("scp")?)
                .with_source(ClaimSource::groups("groups")?);
            Some(mapper.map_owned(claims))
        }
    };

    let mut facts = RequestFacts::new(&method, target.trim()).with_headers(&headers);
    if let Some(h) = host {
        facts = facts.with_host(h);
    }
    if let Some(ip) = client_ip {
        facts = facts.with_client_ip(ip);
    }
    if let Some(c) = country {
        facts = facts.with_country(c);
    }
    let decision = compiled.evaluate(&facts, principal.as_ref());
    let effect = if decision.is_allowed() {
        "ALLOW"
    } else {
        "DENY"
    };
    println!("decision: {effect}");
    println!(
        "rule:     {}",
        decision
            .rule_id
            .as_deref()
            .unwrap_or("(none: default deny)")
    );
    if decision.reasons.is_empty() {
        println!("reasons:  (none)");
    } else {
        println!("reasons:");
        for reason in &decision.reasons {
            println!("  - {}", serde_json::to_string(reason)?);
        }
    }
    if !decision.is_allowed() {
        let rejection = edge_auth::response::Rejection::for_decision(&decision, principal.as_ref());
        println!("response: {}", rejection.status());
    }
    Ok(ExitCode::SUCCESS)
}

fn test(args: &[String]) -> Result<ExitCode, Error> {
    let path = args.first().ok_or("test needs a POLICY file")?;
    let policy = load(path)?;
    let mut untested = policy.clone();
    untested.tests.clear();
    let compiled = untested.compile()?;
    let outcomes = policy.run_tests(&compiled)?;
    let failed = outcomes.iter().filter(|o| !o.passed).count();
    for o in &outcomes {
        if o.passed {
            println!("ok    {}", o.name);
        } else {
            println!("FAIL  {}: expected {}, got {}", o.name, o.expected, o.got);
        }
    }
    println!(
        "{} tests, {} passed, {failed} failed",
        outcomes.len(),
        outcomes.len() - failed
    );
    Ok(if failed == 0 {
        ExitCode::SUCCESS
    } else {
        ExitCode::FAILURE
    })
}
