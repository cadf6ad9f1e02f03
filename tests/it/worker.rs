//! The Cloudflare Worker example end to end: builds `examples/worker` with
//! `worker-build --profile worker` under the wasm toolchain (`scripts/wasm-toolchain.sh`),
//! serves it with workerd on ephemeral loopback ports and checks the library's
//! Gate in it with real HTTP requests. The test is its own identity provider
//! and origin: a loopback HTTP server serves a JWKS (an ES256 key generated
//! here with ring) and echoes what the origin saw, so the test checks the
//! identity headers and verifies the Worker's RFC 9421 signature.
//!
//! workerd runs two services from the same Worker (two isolates) sharing one
//! KV namespace: the second must take the keys from KV, not fetch them.
//!
//! Skips, saying why, only when the toolchain is not installed
//! (`scripts/wasm-toolchain.sh --check` fails); with
//! `EDGE_AUTH_REQUIRE_WORKER=1` (CI, after `.ci/run` installs it with
//! `scripts/wasm-toolchain.sh`) that is a failure.

#![cfg(unix)]

use std::io::{BufRead, BufReader, Read, Write};
use std::net::{Ipv4Addr, SocketAddr, TcpListener, TcpStream};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD as B64;
use edge_auth::Secret;
use edge_auth::httpsig::{Component, KeyRing, Verifier, VerifierConfig, VerifyingKey};
use ring::rand::SystemRandom;
use ring::signature::{ECDSA_P256_SHA256_FIXED_SIGNING, EcdsaKeyPair, KeyPair};
use serde_json::json;

/// Free plan limit on a Worker's compressed size.
const GZIP_BUDGET_BYTES: u64 = 3 * 1024 * 1024;

const AUDIENCE: &str = "api://edge-auth-e2e";
/// The key the Worker signs forwarded requests with (`EDGE_AUTH_UPSTREAM_KEY`).
const UPSTREAM_KEY: &str = "e2e-upstream-key-0123456789abcdef0123";
const POLICY: &str = r#"{"rules": [
  {"id": "health", "match": {"methods": ["GET"], "paths": ["/healthz"]}, "require": {"anonymous": true}, "effect": "allow"},
  {"id": "api", "match": {"paths": ["/api/**"]}, "require": {"any_roles": ["reader"]}, "effect": "allow"}
]}"#;

fn root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

/// The repository's toolchain script (installs and describes the wasm
/// toolchain and the Workers tools).
fn toolchain_script() -> PathBuf {
    root().join("scripts/wasm-toolchain.sh")
}

/// Why the Worker cannot be built and served here, if it cannot: the
/// script's `--check` (installs nothing) lists what is not installed.
fn missing_toolchain() -> Option<String> {
    let script = toolchain_script();
    let out = Command::new("bash")
        .arg(&script)
        .arg("--check")
        .stdin(Stdio::null())
        .output()
        .unwrap_or_else(|e| panic!("cannot run bash {}: {e}", script.display()));
    if out.status.success() {
        return None;
    }
    Some(format!(
        "the wasm toolchain is not installed: `bash {} --check` says\n{}",
        script.display(),
        String::from_utf8_lossy(&out.stderr).trim_end()
    ))
}

/// Runs `command` in bash with the toolchain's environment (the wasm32 Rust,
/// wasm-bindgen, workerd...), from `dir`.
fn toolchain_shell(script: &Path, command: &str, dir: &Path) -> Command {
    let mut shell = Command::new("bash");
    shell
        .arg("-c")
        .arg(format!(
            "set -euo pipefail; eval \"$(bash '{}')\"; {command}",
            script.display()
        ))
        .current_dir(dir)
        // The wasm build keeps its own target dir: with Debian's Rust and
        // build-std its artifacts stay apart from the host toolchain's (see .ci/run).
        .env("CARGO_TARGET_DIR", root().join("target/wasm"))
        .stdin(Stdio::null());
    shell
}

/// workerd in its own process group, killed (with the npm launcher's child)
/// when the test ends, pass or fail.
struct Workerd {
    child: Child,
    log: PathBuf,
}

impl Workerd {
    fn log(&self) -> String {
        std::fs::read_to_string(&self.log).unwrap_or_default()
    }
}

impl Drop for Workerd {
    fn drop(&mut self) {
        let group = format!("-{}", self.child.id());
        let _ = Command::new("kill")
            .args(["-TERM", "--", &group])
            .stderr(Stdio::null())
            .status();
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn free_port() -> u16 {
    // The port is released before workerd binds it; a clash makes workerd exit,
    // which `start_workerd` notices and retries with other ports.
    TcpListener::bind((Ipv4Addr::LOCALHOST, 0))
        .and_then(|listener| listener.local_addr())
        .map(|addr| addr.port())
        .unwrap()
}

/// Starts workerd on `config` with its sockets `http` and `http2` on free
/// loopback ports; returns the two addresses.
fn start_workerd(
    workerd: &Path,
    config: &Path,
    scratch: &Path,
) -> (Workerd, SocketAddr, SocketAddr) {
    use std::os::unix::process::CommandExt;
    let mut last_log = String::new();
    for attempt in 0..3 {
        let addr = SocketAddr::from((Ipv4Addr::LOCALHOST, free_port()));
        let addr2 = SocketAddr::from((Ipv4Addr::LOCALHOST, free_port()));
        let log = scratch.join(format!("workerd-{attempt}.log"));
        let log_file = std::fs::File::create(&log).unwrap();
        let child = Command::new(workerd)
            .arg("serve")
            .arg(config)
            .arg(format!("--socket-addr=http={addr}"))
            .arg(format!("--socket-addr=http2={addr2}"))
            .arg("--verbose")
            .stdin(Stdio::null())
            .stdout(log_file.try_clone().unwrap())
            .stderr(log_file)
            .process_group(0)
            .spawn()
            .unwrap();
        let mut server = Workerd { child, log };
        if wait_ready(&mut server, addr) && wait_ready(&mut server, addr2) {
            return (server, addr, addr2);
        }
        last_log = server.log();
    }
    panic!("workerd did not come up in three tries; last log:\n{last_log}");
}

/// Waits until workerd answers HTTP on `addr`; false when it exited first.
fn wait_ready(server: &mut Workerd, addr: SocketAddr) -> bool {
    let deadline = Instant::now() + Duration::from_secs(60);
    while Instant::now() < deadline {
        if let Ok(Some(status)) = server.child.try_wait() {
            eprintln!("workerd exited ({status}):\n{}", server.log());
            return false;
        }
        if get(addr, "/healthz", &[]).is_ok() {
            return true;
        }
        std::thread::sleep(Duration::from_millis(100));
    }
    panic!("workerd not ready after 60 s:\n{}", server.log());
}

#[derive(Debug)]
struct Answer {
    status: u16,
    headers: Vec<(String, String)>,
    body: String,
}

impl Answer {
    fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(n, _)| n.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.as_str())
    }
}

/// One HTTP/1.1 GET over a fresh connection (`Connection: close`, so the body
/// runs to EOF; workerd may still chunk it).
fn get(addr: SocketAddr, path: &str, headers: &[(&str, &str)]) -> std::io::Result<Answer> {
    let mut stream = TcpStream::connect_timeout(&addr, Duration::from_secs(5))?;
    stream.set_read_timeout(Some(Duration::from_secs(30)))?;
    let mut request = format!("GET {path} HTTP/1.1\r\nHost: localhost\r\nConnection: close\r\n");
    for (name, value) in headers {
        request.push_str(&format!("{name}: {value}\r\n"));
    }
    request.push_str("\r\n");
    stream.write_all(request.as_bytes())?;
    let mut raw = Vec::new();
    stream.read_to_end(&mut raw)?;
    let text = String::from_utf8_lossy(&raw);
    let (head, body) = text
        .split_once("\r\n\r\n")
        .ok_or_else(|| std::io::Error::other(format!("no end of head in {text:?}")))?;
    let mut lines = head.split("\r\n");
    let status = lines
        .next()
        .and_then(|line| line.split(' ').nth(1))
        .and_then(|code| code.parse().ok())
        .ok_or_else(|| std::io::Error::other(format!("bad status line in {head:?}")))?;
    let headers = lines
        .filter_map(|line| line.split_once(':'))
        .map(|(n, v)| (n.trim().to_owned(), v.trim().to_owned()))
        .collect();
    Ok(Answer {
        status,
        headers,
        body: body.to_owned(),
    })
}

fn file_size(path: &Path) -> u64 {
    std::fs::metadata(path).map(|m| m.len()).unwrap_or(0)
}

fn gzip_size(path: &Path) -> u64 {
    let out = Command::new("gzip")
        .args(["-9", "-c"])
        .arg(path)
        .output()
        .unwrap();
    assert!(out.status.success(), "gzip failed on {}", path.display());
    out.stdout.len() as u64
}

/// The test's identity provider: an ES256 key made here with ring.
struct Idp {
    pair: EcdsaKeyPair,
    issuer: String,
}

impl Idp {
    fn new(issuer: String) -> Self {
        let rng = SystemRandom::new();
        let pkcs8 = EcdsaKeyPair::generate_pkcs8(&ECDSA_P256_SHA256_FIXED_SIGNING, &rng).unwrap();
        let pair = EcdsaKeyPair::from_pkcs8(&ECDSA_P256_SHA256_FIXED_SIGNING, pkcs8.as_ref(), &rng)
            .unwrap();
        Self { pair, issuer }
    }

    fn jwks(&self) -> String {
        let public = self.pair.public_key().as_ref();
        json!({"keys": [{
            "kty": "EC", "crv": "P-256", "alg": "ES256", "kid": "e2e-1", "use": "sig",
            "x": B64.encode(&public[1..33]), "y": B64.encode(&public[33..65]),
        }]})
        .to_string()
    }

    fn token(&self, sub: &str, roles: &[&str]) -> String {
        let now = time::OffsetDateTime::now_utc().unix_timestamp();
        let header = json!({"alg": "ES256", "typ": "JWT", "kid": "e2e-1"});
        let claims = json!({
            "iss": self.issuer, "aud": AUDIENCE, "sub": sub, "roles": roles,
            "iat": now, "exp": now + 600,
        });
        let input = format!(
            "{}.{}",
            B64.encode(header.to_string()),
            B64.encode(claims.to_string())
        );
        let sig = self
            .pair
            .sign(&SystemRandom::new(), input.as_bytes())
            .unwrap();
        format!("{input}.{}", B64.encode(sig.as_ref()))
    }
}

/// What the origin saw of one request.
#[derive(Debug, Clone)]
struct Seen {
    method: String,
    target: String,
    headers: Vec<(String, String)>,
}

impl Seen {
    fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(n, _)| n.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.as_str())
    }

    /// The request head as the origin received it.
    fn parts(&self) -> http::request::Parts {
        let mut builder = http::Request::builder()
            .method(self.method.as_str())
            .uri(self.target.as_str());
        for (name, value) in &self.headers {
            builder = builder.header(name.as_str(), value.as_str());
        }
        builder.body(()).unwrap().into_parts().0
    }
}

/// The loopback server that is both the issuer's JWKS endpoint (`/jwks`,
/// counted) and the origin (everything else: 200, the request recorded).
struct Upstream {
    addr: SocketAddr,
    jwks_requests: Arc<AtomicUsize>,
    seen: Arc<Mutex<Vec<Seen>>>,
    stop: Arc<AtomicBool>,
    thread: Option<std::thread::JoinHandle<()>>,
}

impl Upstream {
    fn start(jwks: String) -> Self {
        let listener = TcpListener::bind((Ipv4Addr::LOCALHOST, 0)).unwrap();
        listener.set_nonblocking(true).unwrap();
        let addr = listener.local_addr().unwrap();
        let jwks_requests = Arc::new(AtomicUsize::new(0));
        let seen = Arc::new(Mutex::new(Vec::new()));
        let stop = Arc::new(AtomicBool::new(false));
        let (count, log, halt) = (jwks_requests.clone(), seen.clone(), stop.clone());
        let thread = std::thread::spawn(move || {
            while !halt.load(Ordering::Relaxed) {
                match listener.accept() {
                    Ok((stream, _)) => {
                        if let Err(e) = serve_one(stream, &jwks, &count, &log) {
                            eprintln!("upstream: {e}");
                        }
                    }
                    Err(e) if e.kind() == std::io::ErrorKind::WouldBlock => {
                        std::thread::sleep(Duration::from_millis(10));
                    }
                    Err(e) => eprintln!("upstream accept: {e}"),
                }
            }
        });
        Self {
            addr,
            jwks_requests,
            seen,
            stop,
            thread: Some(thread),
        }
    }

    fn last_seen(&self) -> Option<Seen> {
        self.seen.lock().unwrap().last().cloned()
    }
}

impl Drop for Upstream {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::Relaxed);
        if let Some(thread) = self.thread.take() {
            let _ = thread.join();
        }
    }
}

fn serve_one(
    stream: TcpStream,
    jwks: &str,
    count: &AtomicUsize,
    log: &Mutex<Vec<Seen>>,
) -> std::io::Result<()> {
    stream.set_nonblocking(false)?;
    stream.set_read_timeout(Some(Duration::from_secs(10)))?;
    let mut reader = BufReader::new(stream.try_clone()?);
    let mut line = String::new();
    reader.read_line(&mut line)?;
    let mut words = line.split_whitespace();
    let (method, target) = (
        words.next().unwrap_or_default().to_owned(),
        words.next().unwrap_or_default().to_owned(),
    );
    let mut headers = Vec::new();
    // Bounded: a head of at most 100 lines.
    for _ in 0..100 {
        line.clear();
        if reader.read_line(&mut line)? == 0 || line.trim_end().is_empty() {
            break;
        }
        if let Some((name, value)) = line.trim_end().split_once(':') {
            headers.push((name.trim().to_owned(), value.trim().to_owned()));
        }
    }
    let (content_type, body) = if target == "/jwks" {
        count.fetch_add(1, Ordering::SeqCst);
        ("application/json", jwks.to_owned())
    } else {
        log.lock().unwrap().push(Seen {
            method,
            target,
            headers,
        });
        ("text/plain", "origin says hello\n".to_owned())
    };
    let mut stream = stream;
    write!(
        stream,
        "HTTP/1.1 200 OK\r\nContent-Type: {content_type}\r\nCache-Control: max-age=600\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{body}",
        body.len()
    )?;
    stream.flush()
}

/// A capnp text literal.
fn capnp_text(value: &str) -> String {
    let mut out = String::from("\"");
    for ch in value.chars() {
        match ch {
            '\\' => out.push_str("\\\\"),
            '"' => out.push_str("\\\""),
            '\n' => out.push_str("\\n"),
            '\r' | '\t' => out.push(' '),
            ch => out.push(ch),
        }
    }
    out.push('"');
    out
}

/// The checked-in `config.capnp`, rewritten to live in `build/`, with the
/// test's bindings and a second service and socket running the same Worker
/// (its own isolate) on the same KV namespace.
fn write_config(worker_dir: &Path, upstream: SocketAddr) -> PathBuf {
    let text = std::fs::read_to_string(worker_dir.join("config.capnp")).unwrap();
    let start = text
        .find("  bindings = [")
        .expect("config.capnp: no bindings list");
    let end = start
        + text[start..]
            .find("\n  ],\n")
            .expect("config.capnp: bindings list not closed");
    let base = format!("http://{upstream}");
    let vars = [
        ("EDGE_AUTH_POLICY", POLICY.to_owned()),
        ("EDGE_AUTH_ISSUER", base.clone()),
        ("EDGE_AUTH_AUDIENCE", AUDIENCE.to_owned()),
        ("EDGE_AUTH_JWKS_URI", format!("{base}/jwks")),
        ("EDGE_AUTH_ALLOW_HTTP_LOOPBACK", "1".to_owned()),
        ("EDGE_AUTH_ROLES_CLAIM", "roles".to_owned()),
        ("EDGE_AUTH_ORIGIN", base.clone()),
        ("EDGE_AUTH_UPSTREAM_KEY", UPSTREAM_KEY.to_owned()),
    ];
    let mut bindings = String::from("  bindings = [\n");
    for (name, value) in vars {
        bindings.push_str(&format!(
            "    (name = \"{name}\", text = {}),\n",
            capnp_text(&value)
        ));
    }
    bindings.push_str("    (name = \"EDGE_AUTH_JWKS\", kvNamespace = \"jwks-kv\"),");
    let mut config = format!("{}{}{}", &text[..start], bindings, &text[end..]);
    for (from, to) in [
        ("embed \"build/", "embed \""),
        ("embed \"kv-memory.js\"", "embed \"../kv-memory.js\""),
        (
            "    (name = \"main\", worker = .edgeAuthWorker),\n",
            "    (name = \"main\", worker = .edgeAuthWorker),\n    (name = \"main2\", worker = .edgeAuthWorker),\n",
        ),
        (
            "service = \"main\"),\n",
            "service = \"main\"),\n    (name = \"http2\", address = \"127.0.0.1:8788\", http = (), service = \"main2\"),\n",
        ),
    ] {
        assert!(config.contains(from), "config.capnp has no `{from}`");
        config = config.replace(from, to);
    }
    let path = worker_dir.join("build/e2e.capnp");
    std::fs::write(&path, config).unwrap();
    path
}

fn verify_upstream_signature(seen: &Seen) -> edge_auth::httpsig::Verified<'static> {
    let mut keys = KeyRing::new();
    keys.insert(
        "edge-auth",
        VerifyingKey::try_from_hmac_sha256(&Secret::new(UPSTREAM_KEY.as_bytes().to_vec())).unwrap(),
    );
    let mut config = VerifierConfig::default();
    config.label = Some("edge-auth".to_owned());
    config.require_content_digest = false;
    config.assumed_scheme = "http".to_owned();
    config.required_components = [
        "@method",
        "@authority",
        "@path",
        "x-auth-subject",
        "x-auth-roles",
    ]
    .iter()
    .map(|n| Component::try_from_name(n).unwrap())
    .collect();
    Verifier::new(config)
        .unwrap()
        .verify(
            &seen.parts(),
            &[],
            &keys,
            None,
            time::OffsetDateTime::now_utc(),
        )
        .unwrap_or_else(|e| panic!("the origin got a bad signature ({e}): {seen:?}"))
        .into_owned()
}

#[test]
fn worker_runs_the_gate_end_to_end() {
    let required = std::env::var("EDGE_AUTH_REQUIRE_WORKER").is_ok_and(|v| v == "1");
    if let Some(why) = missing_toolchain() {
        assert!(!required, "EDGE_AUTH_REQUIRE_WORKER=1 but {why}");
        eprintln!("skipping the Worker end-to-end test: {why}");
        return;
    }
    let script = toolchain_script();
    let worker_dir = root().join("examples/worker");
    let scratch = root().join("target/worker-test");
    std::fs::create_dir_all(&scratch).unwrap();

    // Build. Output goes to a log so a failure shows the compiler's words.
    let started = Instant::now();
    let build_log = scratch.join("worker-build.log");
    let status = toolchain_shell(&script, "worker-build --profile worker", &worker_dir)
        .stdout(std::fs::File::create(&build_log).unwrap())
        .stderr(std::fs::File::create(scratch.join("worker-build.err")).unwrap())
        .status()
        .unwrap();
    let build_output = std::fs::read_to_string(&build_log).unwrap_or_default()
        + &std::fs::read_to_string(scratch.join("worker-build.err")).unwrap_or_default();
    assert!(status.success(), "worker-build failed:\n{build_output}");
    let build_secs = started.elapsed().as_secs_f64();

    let wasm = worker_dir.join("build/index_bg.wasm");
    assert!(wasm.is_file(), "no {} after the build", wasm.display());
    let (raw, gz) = (file_size(&wasm), gzip_size(&wasm));
    let mut sizes = format!(
        "worker wasm: {raw} bytes raw, {gz} bytes gzip -9 (worker-build --profile worker: {build_secs:.1} s)\n"
    );
    assert!(gz < GZIP_BUDGET_BYTES, "worker is {gz} bytes gzipped");

    // The JWT-only Worker (edge-auth without `sigv4` and `httpsig`): built
    // to weigh it, not served.
    let jwt_dir = root().join("examples/worker-jwt");
    let started = Instant::now();
    let status = toolchain_shell(&script, "worker-build --profile worker", &jwt_dir)
        .stdout(std::fs::File::create(scratch.join("worker-jwt-build.log")).unwrap())
        .stderr(std::fs::File::create(scratch.join("worker-jwt-build.err")).unwrap())
        .status()
        .unwrap();
    assert!(
        status.success(),
        "worker-build of examples/worker-jwt failed:\n{}",
        std::fs::read_to_string(scratch.join("worker-jwt-build.err")).unwrap_or_default()
    );
    let jwt_wasm = jwt_dir.join("build/index_bg.wasm");
    let (jwt_raw, jwt_gz) = (file_size(&jwt_wasm), gzip_size(&jwt_wasm));
    sizes.push_str(&format!(
        "jwt-only worker wasm: {jwt_raw} bytes raw, {jwt_gz} bytes gzip -9 (worker-build --profile worker: {:.1} s)\n",
        started.elapsed().as_secs_f64()
    ));
    eprint!("{sizes}");
    // .ci/run prints this after the tests (cargo test hides a passing test's output).
    std::fs::write(scratch.join("wasm-size.txt"), sizes).unwrap();
    assert!(
        jwt_gz < GZIP_BUDGET_BYTES,
        "the JWT-only worker is {jwt_gz} bytes gzipped"
    );

    // The issuer and origin, then workerd configured for them.
    // The issuer's URL is the server's address, known only once it listens;
    // the JWKS does not name the issuer, so the key comes first.
    let mut idp = Idp::new(String::new());
    let upstream = Upstream::start(idp.jwks());
    idp.issuer = format!("http://{}", upstream.addr);
    let config = write_config(&worker_dir, upstream.addr);

    let out = toolchain_shell(&script, "printf %s \"$WORKERD_BIN\"", &worker_dir)
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let workerd = PathBuf::from(String::from_utf8(out.stdout).unwrap());
    let (server, addr, addr2) = start_workerd(&workerd, &config, &scratch);
    let log = || server.log();

    // No token: RFC 6750 §3.1, a challenge without an error code; no key fetched.
    let answer = get(addr, "/api/things", &[]).unwrap();
    assert_eq!(answer.status, 401, "{answer:?}\n{}", log());
    assert_eq!(
        answer.header("www-authenticate"),
        Some(r#"Bearer realm="edge-auth""#),
        "{answer:?}"
    );
    assert_eq!(
        answer.header("cache-control"),
        Some("no-store"),
        "{answer:?}"
    );
    assert_eq!(upstream.jwks_requests.load(Ordering::SeqCst), 0);

    // A malformed token: 401 invalid_token, still no fetch.
    let answer = get(
        addr,
        "/api/things",
        &[("Authorization", "Bearer not.a.jwt")],
    )
    .unwrap();
    assert_eq!(answer.status, 401, "{answer:?}\n{}", log());
    assert!(
        answer
            .header("www-authenticate")
            .is_some_and(|c| c.contains("error=\"invalid_token\"")),
        "{answer:?}"
    );

    // The right role: forwarded to the origin, identity headers signed.
    let bearer = format!("Bearer {}", idp.token("alice", &["reader"]));
    let answer = get(
        addr,
        "/api/things?page=2",
        &[
            ("Authorization", &bearer),
            ("CF-Connecting-IP", "192.0.2.10"),
            ("X-Auth-Subject", "mallory"),
        ],
    )
    .unwrap();
    assert_eq!(answer.status, 200, "{answer:?}\n{}", log());
    assert!(answer.body.contains("origin says hello"), "{answer:?}");
    assert_eq!(upstream.jwks_requests.load(Ordering::SeqCst), 1);
    let seen = upstream.last_seen().expect("the origin saw the request");
    assert_eq!(seen.target, "/api/things?page=2", "{seen:?}");
    assert_eq!(seen.header("x-auth-subject"), Some("alice"), "{seen:?}");
    assert_eq!(seen.header("x-auth-roles"), Some("reader"), "{seen:?}");
    let verified = verify_upstream_signature(&seen);
    assert_eq!(verified.keyid, "edge-auth");

    // The wrong role: 403 insufficient_scope, the keys reused.
    let bearer = format!("Bearer {}", idp.token("bob", &["writer"]));
    let answer = get(addr, "/api/things", &[("Authorization", &bearer)]).unwrap();
    assert_eq!(answer.status, 403, "{answer:?}\n{}", log());
    assert_eq!(upstream.jwks_requests.load(Ordering::SeqCst), 1);

    // A second token in the same isolate: keys reused, no fetch.
    let bearer = format!("Bearer {}", idp.token("carol", &["reader", "auditor"]));
    let answer = get(addr, "/api/other", &[("Authorization", &bearer)]).unwrap();
    assert_eq!(answer.status, 200, "{answer:?}\n{}", log());
    assert_eq!(upstream.jwks_requests.load(Ordering::SeqCst), 1);
    let seen = upstream.last_seen().unwrap();
    assert_eq!(seen.header("x-auth-subject"), Some("carol"), "{seen:?}");
    assert_eq!(
        seen.header("x-auth-roles"),
        Some("auditor,reader"),
        "{seen:?}"
    );
    verify_upstream_signature(&seen);

    // Another isolate (the second service): the keys come from KV. The first
    // isolate's KV write runs after its response (waitUntil): give it time.
    std::thread::sleep(Duration::from_millis(500));
    let answer = get(addr2, "/api/things", &[("Authorization", &bearer)]).unwrap();
    assert_eq!(answer.status, 200, "{answer:?}\n{}", log());
    assert_eq!(
        upstream.jwks_requests.load(Ordering::SeqCst),
        1,
        "the second isolate fetched instead of reading KV:\n{}",
        log()
    );
    assert!(
        log().contains("edge-auth: key state restored from KV"),
        "the second isolate did not log its KV restore:\n{}",
        log()
    );
    drop(server);
}
