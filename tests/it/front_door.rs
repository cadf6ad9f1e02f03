//! The gateway as a front door (issue 22), end to end on loopback: the hyper
//! gateway example's pieces (dev issuer, echo upstream, gateway on
//! `edge_auth::driver::server` + `edge_auth::forward`), driven by a raw TCP
//! client that writes bytes a well-behaved HTTP client would not. One named
//! test per item of the issue; every loop is bounded, every read has a
//! timeout.

use crate::gateway_example as gateway;

use std::io::{BufRead, BufReader, Write as _};
use std::net::SocketAddr;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use edge_auth::driver::server::ServerConfig;
use edge_auth::forward::{ForwardConfig, TrustedProxy};
use gateway::{DevIssuer, EchoHandle, GatewayConfig, GatewayHandle, IssuerSettings};
use serde_json::Value;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

const POLICY: &str = include_str!("../../examples/gateway/policy.toml");
const AUDIENCE: &str = "api://edge-auth-test";
const IO_TIMEOUT: Duration = Duration::from_secs(10);

fn loopback() -> SocketAddr {
    SocketAddr::from(([127, 0, 0, 1], 0))
}

struct Rig {
    issuer: DevIssuer,
    _echo: Option<EchoHandle>,
    gateway: GatewayHandle,
}

impl Rig {
    fn token(&self, subject: &str, roles: &[&str]) -> String {
        self.issuer.mint(
            subject,
            roles,
            time::OffsetDateTime::now_utc(),
            time::Duration::hours(1),
        )
    }
    fn addr(&self) -> SocketAddr {
        self.gateway.addr()
    }
}

/// Dev issuer, echo upstream (unless `upstream` names another) and gateway.
async fn rig_with(upstream: Option<String>, configure: impl FnOnce(&mut GatewayConfig)) -> Rig {
    let issuer = gateway::start_dev_issuer(loopback(), AUDIENCE)
        .await
        .unwrap();
    let (echo, upstream) = match upstream {
        Some(upstream) => (None, upstream),
        None => {
            let echo = gateway::start_echo(loopback()).await.unwrap();
            let upstream = format!("http://{}", echo.addr());
            (Some(echo), upstream)
        }
    };
    let mut config = GatewayConfig::new(loopback(), upstream, POLICY);
    config.issuers.push(IssuerSettings {
        issuer: issuer.issuer().to_owned(),
        audience: AUDIENCE.to_owned(),
        jwks_uri: None,
        roles: gateway::role_mapper("roles").unwrap(),
    });
    config.fetch_timeout = Duration::from_secs(2);
    configure(&mut config);
    let gateway = gateway::start_gateway(config).await.unwrap();
    Rig {
        issuer,
        _echo: echo,
        gateway,
    }
}

async fn rig() -> Rig {
    rig_with(None, |_| {}).await
}

/// A response read off the wire.
#[derive(Debug)]
struct Raw {
    status: u16,
    headers: Vec<(String, String)>,
    body: Vec<u8>,
}

impl Raw {
    fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(n, _)| n.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.as_str())
    }
    fn json(&self) -> Value {
        serde_json::from_slice(&self.body).unwrap_or(Value::Null)
    }
    /// Values of a header as the echo upstream saw it.
    fn upstream(&self, name: &str) -> Vec<String> {
        self.json()["headers"][name]
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

/// Reads more of the response into `body`; the byte count (0: EOF).
async fn read_more(stream: &mut TcpStream, body: &mut Vec<u8>) -> Option<usize> {
    let mut chunk = [0u8; 4096];
    let n = tokio::time::timeout(IO_TIMEOUT, stream.read(&mut chunk))
        .await
        .ok()?
        .ok()?;
    body.extend_from_slice(&chunk[..n]);
    Some(n)
}

/// Reads one response (Content-Length, chunked, or to EOF).
async fn read_response(stream: &mut TcpStream) -> Option<Raw> {
    let mut buf = Vec::new();
    let mut chunk = [0u8; 4096];
    let head_end = loop {
        if let Some(i) = buf.windows(4).position(|w| w == b"\r\n\r\n") {
            break i + 4;
        }
        let n = tokio::time::timeout(IO_TIMEOUT, stream.read(&mut chunk))
            .await
            .ok()?
            .ok()?;
        if n == 0 {
            return None;
        }
        buf.extend_from_slice(&chunk[..n]);
    };
    let head = String::from_utf8_lossy(&buf[..head_end]).into_owned();
    let mut lines = head.split("\r\n");
    let status: u16 = lines.next()?.split(' ').nth(1)?.parse().ok()?;
    let headers: Vec<(String, String)> = lines
        .filter_map(|l| l.split_once(':'))
        .map(|(n, v)| (n.trim().to_owned(), v.trim().to_owned()))
        .collect();
    let mut body = buf[head_end..].to_vec();
    let find = |name: &str| {
        headers
            .iter()
            .find(|(n, _)| n.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.clone())
    };
    if let Some(len) = find("content-length").and_then(|v| v.parse::<usize>().ok()) {
        while body.len() < len {
            if read_more(stream, &mut body).await? == 0 {
                break;
            }
        }
        body.truncate(len);
    } else if find("transfer-encoding").is_some_and(|v| v.contains("chunked")) {
        while !body.ends_with(b"0\r\n\r\n") {
            if read_more(stream, &mut body).await? == 0 {
                break;
            }
        }
        body = dechunk(&body);
    } else {
        while read_more(stream, &mut body).await? > 0 {}
    }
    Some(Raw {
        status,
        headers,
        body,
    })
}

fn dechunk(mut data: &[u8]) -> Vec<u8> {
    let mut out = Vec::new();
    while let Some(i) = data.windows(2).position(|w| w == b"\r\n") {
        let size = usize::from_str_radix(
            String::from_utf8_lossy(&data[..i])
                .split(';')
                .next()
                .unwrap_or("0")
                .trim(),
            16,
        )
        .unwrap_or(0);
        if size == 0 {
            break;
        }
        let start = i + 2;
        out.extend_from_slice(&data[start..(start + size).min(data.len())]);
        data = &data[(start + size + 2).min(data.len())..];
    }
    out
}

/// Writes `bytes` on a new connection and reads one response.
async fn raw(addr: SocketAddr, bytes: &[u8]) -> Raw {
    let mut stream = TcpStream::connect(addr).await.unwrap();
    stream.write_all(bytes).await.unwrap();
    read_response(&mut stream)
        .await
        .unwrap_or_else(|| panic!("no response to {}", String::from_utf8_lossy(bytes)))
}

/// Waits (bounded by `limit`) until the peer closes `stream`; the time taken.
async fn closed_within(stream: &mut TcpStream, limit: Duration) -> Option<Duration> {
    let started = Instant::now();
    let mut sink = [0u8; 1024];
    loop {
        let left = limit.checked_sub(started.elapsed())?;
        match tokio::time::timeout(left, stream.read(&mut sink)).await {
            Err(_) => return None,
            Ok(Ok(0) | Err(_)) => return Some(started.elapsed()),
            Ok(Ok(_)) => {}
        }
    }
}

// ---------------------------------------------------------------------------
// Item 1: look-alike identity headers, behind a real CGI-style upstream.

/// Python's standard `wsgiref` server with an app that answers the WSGI
/// `environ` it was given (every `HTTP_*` variable) as JSON. Killed on drop.
struct Wsgi {
    child: Child,
    port: u16,
}

impl Drop for Wsgi {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

const WSGI_APP: &str = r#"
import json, sys
from wsgiref.simple_server import make_server, WSGIRequestHandler
class Quiet(WSGIRequestHandler):
    def log_message(self, *args):
        pass
def app(environ, start_response):
    seen = {k: v for k, v in environ.items()
            if k.startswith("HTTP_") or k in ("REQUEST_METHOD", "PATH_INFO", "QUERY_STRING")}
    body = json.dumps(seen).encode()
    start_response("200 OK", [("Content-Type", "application/json"),
                              ("Content-Length", str(len(body)))])
    return [body]
server = make_server("127.0.0.1", 0, app, handler_class=Quiet)
print(server.server_port, flush=True)
server.serve_forever()
"#;

fn start_wsgi() -> Wsgi {
    let mut child = Command::new("python3")
        .args(["-c", WSGI_APP])
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::inherit())
        .spawn()
        .expect("python3 runs (the CGI-style upstream of this test)");
    let stdout = child.stdout.take().unwrap();
    let mut line = String::new();
    BufReader::new(stdout).read_line(&mut line).unwrap();
    let port = line.trim().parse().expect("wsgiref printed its port");
    Wsgi { child, port }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn look_alike_identity_headers_never_reach_a_wsgi_upstream() {
    let wsgi = start_wsgi();
    let rig = rig_with(Some(format!("http://127.0.0.1:{}", wsgi.port)), |_| {}).await;
    let reader = rig.token("alice", &["reader"]);
    let forged = "X_Auth_Roles: admin\r\n\
                  x_auth_subject: mallory\r\n\
                  x-auth_subject: mallory2\r\n\
                  X-AUTH-ROLES: admin\r\n\
                  x_auth_tenant: evil\r\n\
                  x.auth.email: mallory@example.com\r\n\
                  x_forwarded_for: 6.6.6.6\r\n\
                  X_Forwarded_Host: internal.example\r\n\
                  x-forwarded_proto: https\r\n\
                  X_Real_IP: 6.6.6.6\r\n\
                  x_edge_assertion: forged\r\n";
    let request = format!(
        "GET /api/items HTTP/1.1\r\nHost: api.example\r\nAuthorization: Bearer {reader}\r\n\
         {forged}Connection: close\r\n\r\n"
    );
    let reply = raw(rig.addr(), request.as_bytes()).await;
    assert_eq!(
        reply.status,
        200,
        "{}",
        String::from_utf8_lossy(&reply.body)
    );
    let environ = reply.json();
    // Exactly the gateway's values, nothing appended by a look-alike
    // (wsgiref joins same-named variables with `,`).
    assert_eq!(environ["HTTP_X_AUTH_ROLES"], "reader", "{environ}");
    assert_eq!(environ["HTTP_X_AUTH_SUBJECT"], "alice", "{environ}");
    assert_eq!(environ["HTTP_X_FORWARDED_FOR"], "127.0.0.1", "{environ}");
    assert_eq!(environ["HTTP_X_FORWARDED_HOST"], "api.example", "{environ}");
    for absent in [
        "HTTP_X_AUTH_TENANT",
        "HTTP_X_AUTH_EMAIL",
        "HTTP_X.AUTH.EMAIL",
        "HTTP_X_FORWARDED_PROTO",
        "HTTP_X_REAL_IP",
        "HTTP_X_EDGE_ASSERTION",
        "HTTP_AUTHORIZATION",
    ] {
        assert!(environ.get(absent).is_none(), "{absent} reached: {environ}");
    }

    // An anonymous caller gets no identity at all.
    let request =
        format!("GET /health HTTP/1.1\r\nHost: api.example\r\n{forged}Connection: close\r\n\r\n");
    let reply = raw(rig.addr(), request.as_bytes()).await;
    assert_eq!(reply.status, 200);
    let environ = reply.json();
    let leaked: Vec<&String> = environ
        .as_object()
        .unwrap()
        .keys()
        .filter(|k| k.starts_with("HTTP_X_AUTH") || k.starts_with("HTTP_X.AUTH"))
        .collect();
    assert!(leaked.is_empty(), "{leaked:?} reached: {environ}");
    assert_eq!(environ["HTTP_X_FORWARDED_FOR"], "127.0.0.1", "{environ}");
}

// ---------------------------------------------------------------------------
// Item 2: slow clients and connection exhaustion.

/// The gateway in a child process under `ulimit -n 256`: this test binary,
/// re-run with only the calling flood test selected and `CHILD_ENV` set, in
/// which case that test serves as the gateway (`gateway_child_process`).
struct ChildGateway {
    child: Child,
    addr: SocketAddr,
}

impl Drop for ChildGateway {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

impl ChildGateway {
    fn rss_kib(&self) -> u64 {
        std::fs::read_to_string(format!("/proc/{}/status", self.child.id()))
            .unwrap_or_default()
            .lines()
            .find_map(|l| l.strip_prefix("VmRSS:"))
            .and_then(|v| v.trim().trim_end_matches("kB").trim().parse().ok())
            .unwrap_or(0)
    }
    fn open_fds(&self) -> usize {
        std::fs::read_dir(format!("/proc/{}/fd", self.child.id()))
            .map(|d| d.count())
            .unwrap_or(0)
    }
}

const CHILD_ENV: &str = "EDGE_AUTH_FRONT_DOOR_CHILD";
const FD_LIMIT: u32 = 256;
/// The connection limit the child runs with: under `FD_LIMIT`, leaving room
/// for the upstream and key connections (as the server docs advise).
const CHILD_MAX_CONNECTIONS: usize = 128;

/// `max_connections`: `None` runs the server's default (512, above the
/// descriptor limit: the server then frees descriptors on `EMFILE`).
fn start_child_gateway(test: &str, max_connections: Option<usize>) -> ChildGateway {
    let exe = std::env::current_exe().unwrap();
    let mut child = Command::new("sh")
        .arg("-c")
        .arg(format!("ulimit -n {FD_LIMIT} && exec \"$0\" \"$@\""))
        .arg(exe)
        .args(["--exact", test, "--nocapture", "--test-threads=1"])
        .env(
            CHILD_ENV,
            max_connections.map_or("default".to_owned(), |n| n.to_string()),
        )
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let stdout = child.stdout.take().unwrap();
    let mut reader = BufReader::new(stdout);
    let mut addr = None;
    for _ in 0..50 {
        let mut line = String::new();
        if reader.read_line(&mut line).unwrap_or(0) == 0 {
            break;
        }
        // libtest may have written `test … ... ` on the same line.
        if let Some(a) = line.trim().split("GATEWAY=").nth(1) {
            addr = a.parse().ok();
            break;
        }
    }
    // Keep draining so the child never blocks on a full pipe.
    std::thread::spawn(move || {
        let mut sink = String::new();
        while reader.read_line(&mut sink).unwrap_or(0) > 0 {
            sink.clear();
        }
    });
    ChildGateway {
        addr: addr.expect("the child gateway printed its address"),
        child,
    }
}

/// The gateway process a flood test starts under a lowered file-descriptor
/// limit (the same test, re-run with `CHILD_ENV` set). Runs until its stdin
/// closes.
fn gateway_child_process(limit: &str) {
    let server = match limit {
        "default" => ServerConfig::default(),
        n => ServerConfig::default().with_max_connections(n.parse().unwrap()),
    };
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .unwrap();
    runtime.block_on(async {
        let rig = rig_with(None, |config| {
            config.server = server;
        })
        .await;
        println!("\nGATEWAY={}", rig.addr());
        std::io::stdout().flush().unwrap();
        // The parent holds our stdin; when it closes (or the parent dies) we end.
        tokio::task::spawn_blocking(|| {
            let mut line = String::new();
            while std::io::stdin().read_line(&mut line).unwrap_or(0) > 0 {}
        })
        .await
        .unwrap();
        drop(rig);
    });
}

#[test]
fn half_sent_flood_does_not_stop_health() {
    flood_test(
        "front_door::half_sent_flood_does_not_stop_health",
        Some(CHILD_MAX_CONNECTIONS),
    );
}

/// The default limit (512) is above this process's 256 descriptors: accept
/// fails with `EMFILE` and the server closes the longest-idle connection.
#[test]
fn half_sent_flood_past_the_descriptor_limit_does_not_stop_health() {
    flood_test(
        "front_door::half_sent_flood_past_the_descriptor_limit_does_not_stop_health",
        None,
    );
}

/// Runs the flood against a child gateway, or, in the child (`CHILD_ENV`
/// set), serves as that gateway.
fn flood_test(test: &str, max_connections: Option<usize>) {
    if let Ok(limit) = std::env::var(CHILD_ENV) {
        gateway_child_process(&limit);
        return;
    }
    tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .unwrap()
        .block_on(half_sent_flood(test, max_connections));
}

async fn half_sent_flood(test: &str, max_connections: Option<usize>) {
    let gateway = start_child_gateway(test, max_connections);
    let addr = gateway.addr;
    let health = b"GET /health HTTP/1.1\r\nHost: gw\r\nConnection: close\r\n\r\n";
    let warm = raw(addr, health).await;
    assert_eq!(warm.status, 200);
    let rss_before = gateway.rss_kib();
    let fds_before = gateway.open_fds();

    // 300 connections, each with half a request head, more than the
    // process has file descriptors.
    let mut flood = Vec::new();
    for _ in 0..300 {
        let mut stream = TcpStream::connect(addr).await.unwrap();
        stream
            .write_all(b"GET /health HTTP/1.1\r\nHost: gw\r\nX-Slow: ")
            .await
            .unwrap();
        flood.push(stream);
    }
    tokio::time::sleep(Duration::from_millis(300)).await;
    let fds_during = gateway.open_fds();

    let started = Instant::now();
    let reply = tokio::time::timeout(Duration::from_secs(2), raw(addr, health))
        .await
        .expect("/health answered within 2 s during the flood");
    let took = started.elapsed();
    assert_eq!(reply.status, 200);
    let rss_after = gateway.rss_kib();
    eprintln!(
        "flood of 300 half-sent requests under ulimit -n {FD_LIMIT}, max_connections \
         {max_connections:?}: /health in {took:?}; gateway RSS {rss_before} KiB before, \
         {rss_after} KiB after; open fds {fds_before} before, {fds_during} during"
    );
    assert!(
        fds_during < FD_LIMIT as usize,
        "fds {fds_during} at the limit"
    );
    // Bounded memory: the flood costs far less than 64 KiB a connection.
    assert!(
        rss_after < rss_before + 300 * 64,
        "RSS grew from {rss_before} KiB to {rss_after} KiB"
    );
    drop(flood);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn trickled_head_is_closed_after_header_read_timeout() {
    let rig = rig_with(None, |config| {
        config.server = ServerConfig::default()
            .with_header_read_timeout(Duration::from_secs(1))
            .with_keep_alive_timeout(Duration::from_secs(30));
    })
    .await;
    let mut stream = TcpStream::connect(rig.addr()).await.unwrap();
    stream
        .write_all(b"GET /health HTTP/1.1\r\nHost: gw\r\n")
        .await
        .unwrap();
    // One header byte every 100 ms: the connection is busy but the head
    // never completes.
    let trickle = async {
        for _ in 0..50 {
            if stream.write_all(b"X-Slow: a\r\n").await.is_err() {
                return;
            }
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
    };
    let started = Instant::now();
    trickle.await;
    let took = started.elapsed();
    assert!(
        took < Duration::from_secs(4),
        "trickled head kept the connection for {took:?}"
    );
    let mut stream = stream;
    assert!(
        closed_within(&mut stream, Duration::from_secs(3))
            .await
            .is_some()
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn slow_body_is_answered_408() {
    let rig = rig_with(None, |config| {
        config.server = ServerConfig::default().with_body_idle_timeout(Duration::from_secs(1));
    })
    .await;
    let admin = rig.token("bob", &["admin"]);
    let mut stream = TcpStream::connect(rig.addr()).await.unwrap();
    let head = format!(
        "POST /api/items HTTP/1.1\r\nHost: gw\r\nAuthorization: Bearer {admin}\r\n\
         Content-Length: 100\r\n\r\n0123"
    );
    stream.write_all(head.as_bytes()).await.unwrap();
    let started = Instant::now();
    let reply = read_response(&mut stream).await.expect("an answer");
    assert_eq!(reply.status, 408);
    assert!(
        started.elapsed() < Duration::from_secs(5),
        "{:?}",
        started.elapsed()
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn idle_keep_alive_connection_is_closed() {
    let rig = rig_with(None, |config| {
        config.server = ServerConfig::default().with_keep_alive_timeout(Duration::from_secs(1));
    })
    .await;
    let mut stream = TcpStream::connect(rig.addr()).await.unwrap();
    stream
        .write_all(b"GET /health HTTP/1.1\r\nHost: gw\r\n\r\n")
        .await
        .unwrap();
    let reply = read_response(&mut stream).await.expect("an answer");
    assert_eq!(reply.status, 200);
    let closed = closed_within(&mut stream, Duration::from_secs(4))
        .await
        .expect("idle connection closed");
    assert!(
        closed >= Duration::from_millis(800),
        "closed after {closed:?}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn connection_over_the_limit_is_refused_with_503_when_all_are_busy() {
    let rig = rig_with(None, |config| {
        config.server = ServerConfig::default().with_max_connections(2);
    })
    .await;
    let admin = rig.token("bob", &["admin"]);
    // Two requests in progress: authorized, their bodies still coming.
    let mut busy = Vec::new();
    for _ in 0..2 {
        let mut stream = TcpStream::connect(rig.addr()).await.unwrap();
        let head = format!(
            "POST /api/items HTTP/1.1\r\nHost: gw\r\nAuthorization: Bearer {admin}\r\n\
             Content-Length: 100\r\n\r\n01"
        );
        stream.write_all(head.as_bytes()).await.unwrap();
        busy.push(stream);
    }
    tokio::time::sleep(Duration::from_millis(500)).await;
    let mut third = TcpStream::connect(rig.addr()).await.unwrap();
    let reply = read_response(&mut third).await.expect("a refusal");
    assert_eq!(reply.status, 503);
    assert_eq!(reply.header("retry-after"), Some("1"));
    // The busy ones finish normally.
    for mut stream in busy {
        stream.write_all(&[b'x'; 98]).await.unwrap();
        let reply = read_response(&mut stream).await.expect("an answer");
        assert_eq!(reply.status, 200);
    }
}

// ---------------------------------------------------------------------------
// Item 3: absolute-form targets and Host.

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn absolute_form_authority_replaces_host() {
    let rig = rig().await;
    let reply = raw(
        rig.addr(),
        b"GET http://public.example/health HTTP/1.1\r\nHost: internal.example\r\n\
          Connection: close\r\n\r\n",
    )
    .await;
    assert_eq!(reply.status, 200);
    assert_eq!(reply.upstream("x-forwarded-host"), ["public.example"]);
    assert_eq!(reply.json()["path"], "/health");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn missing_repeated_or_list_host_is_400() {
    let rig = rig().await;
    for (case, request) in [
        ("missing", &b"GET /health HTTP/1.1\r\nConnection: close\r\n\r\n"[..]),
        (
            "repeated",
            b"GET /health HTTP/1.1\r\nHost: a.example\r\nHost: b.example\r\nConnection: close\r\n\r\n",
        ),
        (
            "list",
            b"GET /health HTTP/1.1\r\nHost: a.example, b.example\r\nConnection: close\r\n\r\n",
        ),
        (
            "userinfo",
            b"GET /health HTTP/1.1\r\nHost: user@a.example\r\nConnection: close\r\n\r\n",
        ),
        (
            "absolute-form with userinfo",
            b"GET http://user@a.example/health HTTP/1.1\r\nHost: a.example\r\nConnection: close\r\n\r\n",
        ),
    ] {
        let reply = raw(rig.addr(), request).await;
        assert_eq!(reply.status, 400, "{case}: {}", String::from_utf8_lossy(&reply.body));
        assert!(reply.json().is_null(), "{case}: reached the upstream");
    }
    // HTTP/1.0 may omit Host.
    let reply = raw(rig.addr(), b"GET /health HTTP/1.0\r\n\r\n").await;
    assert_eq!(reply.status, 200);
}

// ---------------------------------------------------------------------------
// Item 4: headers that make frameworks run another request.

const OVERRIDES: &str = "X-HTTP-Method-Override: DELETE\r\n\
                         X-Method-Override: DELETE\r\n\
                         X-HTTP-Method: DELETE\r\n\
                         X_HTTP_Method_Override: DELETE\r\n\
                         X-Original-URL: /admin/users\r\n\
                         X-Rewrite-URL: /admin/users\r\n\
                         X-Original-URI: /admin/users\r\n\
                         X-Override-URL: /admin/users\r\n\
                         X-Envoy-Original-Path: /admin/users\r\n\
                         X-Forwarded-Prefix: /admin\r\n\
                         X-Host: internal.example\r\n";

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn method_and_url_override_headers_are_stripped() {
    let rig = rig().await;
    let reader = rig.token("alice", &["reader"]);
    let request = format!(
        "GET /api/items HTTP/1.1\r\nHost: gw\r\nAuthorization: Bearer {reader}\r\n{OVERRIDES}\
         Connection: close\r\n\r\n"
    );
    let reply = raw(rig.addr(), request.as_bytes()).await;
    assert_eq!(reply.status, 200);
    let headers = reply.json()["headers"].clone();
    let names: Vec<&String> = headers.as_object().unwrap().keys().collect();
    for name in &names {
        assert!(
            !name.contains("override")
                && !name.contains("original")
                && !name.contains("rewrite")
                && !name.contains("x-http-method")
                && name.as_str() != "x-host"
                && name.as_str() != "x-forwarded-prefix",
            "`{name}` reached the upstream: {headers}"
        );
    }
    assert_eq!(reply.json()["method"], "GET");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn allowed_override_header_is_forwarded() {
    let rig = rig_with(None, |config| {
        config.forward = ForwardConfig::default().with_allow_override(["X-HTTP-Method-Override"]);
    })
    .await;
    let reader = rig.token("alice", &["reader"]);
    let request = format!(
        "GET /api/items HTTP/1.1\r\nHost: gw\r\nAuthorization: Bearer {reader}\r\n{OVERRIDES}\
         Connection: close\r\n\r\n"
    );
    let reply = raw(rig.addr(), request.as_bytes()).await;
    assert_eq!(reply.status, 200);
    assert_eq!(reply.upstream("x-http-method-override"), ["DELETE"]);
    assert!(reply.upstream("x-original-url").is_empty());
}

// ---------------------------------------------------------------------------
// Item 5: client-address headers.

const CLIENT_ADDRESS: &str = "X-Real-IP: 6.6.6.6\r\n\
                              True-Client-IP: 6.6.6.6\r\n\
                              CF-Connecting-IP: 203.0.113.9\r\n\
                              CF-IPCountry: KP\r\n\
                              X-Client-IP: 6.6.6.6\r\n\
                              Fastly-Client-IP: 6.6.6.6\r\n\
                              X-Cluster-Client-IP: 6.6.6.6\r\n\
                              Forwarded: for=6.6.6.6\r\n\
                              X-Forwarded-For: 6.6.6.6\r\n";

fn client_address_headers_seen(reply: &Raw) -> Vec<String> {
    [
        "x-real-ip",
        "true-client-ip",
        "cf-connecting-ip",
        "cf-ipcountry",
        "x-client-ip",
        "fastly-client-ip",
        "x-cluster-client-ip",
        "forwarded",
    ]
    .iter()
    .filter(|name| !reply.upstream(name).is_empty())
    .map(|name| (*name).to_owned())
    .collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn client_address_headers_are_replaced() {
    let rig = rig().await;
    let request =
        format!("GET /health HTTP/1.1\r\nHost: gw\r\n{CLIENT_ADDRESS}Connection: close\r\n\r\n");
    let reply = raw(rig.addr(), request.as_bytes()).await;
    assert_eq!(reply.status, 200);
    assert_eq!(client_address_headers_seen(&reply), Vec::<String>::new());
    assert_eq!(reply.upstream("x-forwarded-for"), ["127.0.0.1"]);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn trusted_proxy_address_header_is_read_only_from_that_proxy() {
    // The proxy is us (loopback): its CF-Connecting-IP is the client.
    let rig = rig_with(None, |config| {
        config.forward = ForwardConfig::default().with_trusted_proxy(
            TrustedProxy::new(["127.0.0.1/32"], "cf-connecting-ip")
                .with_country_header("cf-ipcountry"),
        );
    })
    .await;
    let request =
        format!("GET /health HTTP/1.1\r\nHost: gw\r\n{CLIENT_ADDRESS}Connection: close\r\n\r\n");
    let reply = raw(rig.addr(), request.as_bytes()).await;
    assert_eq!(reply.status, 200);
    assert_eq!(reply.upstream("x-forwarded-for"), ["203.0.113.9"]);
    assert_eq!(client_address_headers_seen(&reply), Vec::<String>::new());

    // A proxy elsewhere: the same headers from us are not believed.
    let rig = rig_with(None, |config| {
        config.forward = ForwardConfig::default()
            .with_trusted_proxy(TrustedProxy::new(["10.0.0.0/8"], "cf-connecting-ip"));
    })
    .await;
    let reply = raw(rig.addr(), request.as_bytes()).await;
    assert_eq!(reply.status, 200);
    assert_eq!(reply.upstream("x-forwarded-for"), ["127.0.0.1"]);
}

// ---------------------------------------------------------------------------
// Items 6 and 7: transfer codings and chunked framing.

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn unknown_transfer_coding_is_501() {
    let rig = rig().await;
    let admin = rig.token("bob", &["admin"]);
    let request = format!(
        "POST /api/items HTTP/1.1\r\nHost: gw\r\nAuthorization: Bearer {admin}\r\n\
         Transfer-Encoding: gzip, chunked\r\nConnection: close\r\n\r\n\
         5\r\nhello\r\n0\r\n\r\n"
    );
    let reply = raw(rig.addr(), request.as_bytes()).await;
    assert_eq!(
        reply.status,
        501,
        "{}",
        String::from_utf8_lossy(&reply.body)
    );
    assert!(
        String::from_utf8_lossy(&reply.body).contains("`gzip`"),
        "{}",
        String::from_utf8_lossy(&reply.body)
    );
    assert!(reply.json().is_null(), "reached the upstream");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn malformed_chunked_body_is_400() {
    let rig = rig().await;
    let admin = rig.token("bob", &["admin"]);
    let request = format!(
        "POST /api/items HTTP/1.1\r\nHost: gw\r\nAuthorization: Bearer {admin}\r\n\
         Transfer-Encoding: chunked\r\nConnection: close\r\n\r\n\
         zz\r\nhello\r\n0\r\n\r\n"
    );
    let reply = raw(rig.addr(), request.as_bytes()).await;
    assert_eq!(
        reply.status,
        400,
        "{}",
        String::from_utf8_lossy(&reply.body)
    );
    // A well-formed chunked body still goes through.
    let request = format!(
        "POST /api/items HTTP/1.1\r\nHost: gw\r\nAuthorization: Bearer {admin}\r\n\
         Transfer-Encoding: chunked\r\nConnection: close\r\n\r\n\
         5\r\nhello\r\n0\r\n\r\n"
    );
    let reply = raw(rig.addr(), request.as_bytes()).await;
    assert_eq!(reply.status, 200);
    assert_eq!(reply.json()["body_len"], 5);
}
