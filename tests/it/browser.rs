//! A real browser against the hyper gateway example: headless Chromium
//! (Debian package `chromium`) loads a page from one loopback origin whose
//! script calls the gateway, on another origin, with a bearer token and a
//! header that needs a preflight; the page writes what it could read into
//! the DOM, which the test reads back (`--dump-dom`).
//!
//! Without Chromium the test fails, unless `EDGE_AUTH_ALLOW_NO_BROWSER=1`
//! is set: then it says why and passes without checking anything.

use crate::gateway_example as gateway;

use std::net::SocketAddr;
use std::path::PathBuf;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use gateway::{GatewayConfig, IssuerSettings};
use http::{Response, StatusCode, header};
use serde_json::Value;

const POLICY: &str = include_str!("../../examples/gateway/policy.toml");
const AUDIENCE: &str = "api://edge-auth-browser";
/// The longest Chromium may take to load the page and run its script.
const BROWSER_TIMEOUT: Duration = Duration::from_secs(90);

fn loopback() -> SocketAddr {
    SocketAddr::from(([127, 0, 0, 1], 0))
}

/// The Chromium binary, if installed.
fn chromium() -> Option<PathBuf> {
    ["chromium", "chromium-browser", "google-chrome"]
        .iter()
        .filter_map(|name| {
            std::env::var_os("PATH").and_then(|path| {
                std::env::split_paths(&path)
                    .map(|dir| dir.join(name))
                    .find(|candidate| candidate.is_file())
            })
        })
        .next()
}

/// The page: calls the gateway twice with the token (an allowed route and
/// a denied one), each with `X-Request-Id` (not CORS-safelisted, as
/// `Authorization` is not: both need a preflight), and writes what it read.
fn page(gateway: &str, token: &str) -> String {
    format!(
        r#"<!doctype html>
<html><head><meta charset="utf-8"><title>edge-auth CORS check</title></head>
<body><pre id="out">pending</pre>
<script>
async function call(path) {{
  try {{
    const response = await fetch("{gateway}" + path, {{
      headers: {{ "Authorization": "Bearer {token}", "X-Request-Id": "browser-check" }},
    }});
    return {{ status: response.status, body: await response.json() }};
  }} catch (e) {{
    return {{ error: String(e) }};
  }}
}}
(async () => {{
  const allowed = await call("/api/items");
  const denied = await call("/admin/users");
  document.getElementById("out").textContent =
    "RESULT:" + JSON.stringify({{ allowed, denied }}) + ":END";
}})();
</script></body></html>
"#
    )
}

/// Runs Chromium on `url` (bounded) and returns the dumped DOM.
async fn dump_dom(browser: &PathBuf, url: &str) -> String {
    let profile = std::env::temp_dir().join(format!("edge-auth-browser-{}", std::process::id()));
    let stderr_path = profile.with_extension("stderr");
    let stderr = std::fs::File::create(&stderr_path).unwrap();
    let mut child = Command::new(browser)
        .args([
            "--headless=new",
            "--no-sandbox",
            "--disable-gpu",
            "--no-first-run",
            "--disable-extensions",
            "--disable-background-networking",
            "--virtual-time-budget=20000",
        ])
        .arg(format!("--user-data-dir={}", profile.display()))
        .arg("--dump-dom")
        .arg(url)
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(stderr)
        .spawn()
        .expect("chromium starts");
    let started = Instant::now();
    let status = loop {
        if let Some(status) = child.try_wait().unwrap() {
            break Some(status);
        }
        if started.elapsed() > BROWSER_TIMEOUT {
            let _ = child.kill();
            let _ = child.wait();
            break None;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    };
    let mut dom = String::new();
    if let Some(mut stdout) = child.stdout.take() {
        use std::io::Read;
        let _ = stdout.read_to_string(&mut dom);
    }
    let log = std::fs::read_to_string(&stderr_path).unwrap_or_default();
    let _ = std::fs::remove_dir_all(&profile);
    let _ = std::fs::remove_file(&stderr_path);
    assert!(
        status.is_some(),
        "chromium did not finish within {BROWSER_TIMEOUT:?}; its log:\n{log}"
    );
    assert!(
        dom.contains("RESULT:"),
        "the page did not finish (status {status:?}); DOM:\n{dom}\nchromium log:\n{log}"
    );
    dom
}

/// The JSON the page wrote between `RESULT:` and `:END`.
fn result(dom: &str) -> Value {
    let start = dom.find("RESULT:").map(|i| i + "RESULT:".len()).unwrap();
    let end = dom.find(":END").unwrap();
    let text = dom[start..end]
        .replace("&lt;", "<")
        .replace("&gt;", ">")
        .replace("&quot;", "\"")
        .replace("&amp;", "&");
    serde_json::from_str(&text).unwrap_or_else(|e| panic!("{e}: {text}"))
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn chromium_page_reads_200_and_403_bodies_from_the_gateway_cross_origin() {
    let Some(browser) = chromium() else {
        if std::env::var("EDGE_AUTH_ALLOW_NO_BROWSER").as_deref() == Ok("1") {
            eprintln!(
                "SKIPPED (EDGE_AUTH_ALLOW_NO_BROWSER=1): no chromium on PATH (apt-get install chromium)"
            );
            return;
        }
        panic!(
            "no chromium on PATH: install it (apt-get install chromium) or set EDGE_AUTH_ALLOW_NO_BROWSER=1"
        );
    };
    // Origin A: the page server, bound first so the policy can name it.
    let listener = std::net::TcpListener::bind(loopback()).unwrap();
    let page_addr = listener.local_addr().unwrap();
    drop(listener);
    let page_origin = format!("http://{page_addr}");
    // Origin B: the gateway, with a policy whose allow rules let origin A
    // read answers (its 401/403/429 included) and send the two headers.
    let issuer = gateway::start_dev_issuer(loopback(), AUDIENCE)
        .await
        .unwrap();
    let echo = gateway::start_echo(loopback()).await.unwrap();
    let policy = format!(
        "[cors.page]\norigins = [\"{page_origin}\"]\nheaders = [\"authorization\", \"x-request-id\"]\n\n{}",
        POLICY.replace("effect = \"allow\"", "effect = \"allow\"\ncors = \"page\"")
    );
    let mut config = GatewayConfig::new(loopback(), format!("http://{}", echo.addr()), policy);
    config.issuers.push(IssuerSettings {
        issuer: issuer.issuer().to_owned(),
        audience: AUDIENCE.to_owned(),
        jwks_uri: None,
        roles: gateway::role_mapper("roles").unwrap(),
    });
    let gateway = gateway::start_gateway(config).await.unwrap();
    let gateway_base = format!("http://{}", gateway.addr());
    let token = issuer.mint(
        "alice",
        &["reader"],
        time::OffsetDateTime::now_utc(),
        time::Duration::minutes(10),
    );
    let html = page(&gateway_base, &token);
    let pages = gateway::net::serve(page_addr, move |_request, _peer| {
        let html = html.clone();
        async move {
            let mut response = Response::new(gateway::net::full(html));
            response.headers_mut().insert(
                header::CONTENT_TYPE,
                http::HeaderValue::from_static("text/html; charset=utf-8"),
            );
            response
        }
    })
    .await
    .unwrap();
    assert_eq!(pages.addr(), page_addr);

    let dom = dump_dom(&browser, &format!("{page_origin}/")).await;
    let read = result(&dom);
    // The 200: the echo's body, with the identity the gateway set.
    assert_eq!(read["allowed"]["status"], 200, "{read}");
    assert_eq!(
        read["allowed"]["body"]["headers"]["x-auth-subject"][0], "alice",
        "{read}"
    );
    assert_eq!(
        read["allowed"]["body"]["headers"]["x-request-id"][0], "browser-check",
        "{read}"
    );
    // The 403: the gate's problem document, readable thanks to its CORS headers.
    assert_eq!(read["denied"]["status"], 403, "{read}");
    assert_eq!(
        read["denied"]["body"]["status"],
        StatusCode::FORBIDDEN.as_u16(),
        "{read}"
    );
    assert_eq!(
        read["denied"]["body"]["error"], "insufficient_scope",
        "{read}"
    );
    drop(echo);
}
