//! The Cloudflare Worker example end to end: builds `examples/worker` with
//! `scripts/worker-build.sh` (`worker-build --profile worker`, std rebuilt for size) under the wasm toolchain,
//! serves it with workerd on ephemeral loopback ports and checks the library's
//! Gate in it with real HTTP requests. The test is its own identity provider
//! and origin: a loopback HTTP server serves a JWKS (an ES256 key generated
//! here with ring) and echoes what the origin saw, so the test checks the
//! identity headers and verifies the Worker's RFC 9421 signature.
//!
//! workerd runs two services from the same Worker (two isolates) sharing one
//! KV namespace: the second must take the keys from KV, not fetch them. The
//! key state is sealed (`EDGE_AUTH_SEAL_SECRET`); the KV stand-in is also
//! served on a socket of its own, so the tests read what the Worker wrote
//! and plant forged key sets there. Both services bind the first's Durable
//! Object namespace (in-memory storage), so rate limits hold across them.
//! The Worker is built once per run and each test serves it with its own
//! workerd.
//!
//! Without the wasm toolchain (`scripts/wasm-toolchain.sh --check` fails)
//! the tests fail, naming the script that installs it (`.ci/run` runs it
//! before the tests); they never pass by skipping.

#![cfg(unix)]

use std::io::{BufRead, BufReader, Write};
use std::net::{Ipv4Addr, SocketAddr, TcpListener, TcpStream};
use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex, OnceLock};
use std::time::Duration;

use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD as B64;
use edge_auth::Secret;
use edge_auth::gate::{Gate, GateConfig, IssuerConfig, Outcome};
use edge_auth::httpsig::{Component, KeyRing, Verifier, VerifierConfig, VerifyingKey};
use edge_auth::policy::{Policy, RequestFacts};
use edge_auth::seal::Sealer;
use ring::rand::SystemRandom;
use ring::signature::{ECDSA_P256_SHA256_FIXED_SIGNING, EcdsaKeyPair, KeyPair};
use serde_json::json;

use crate::support::workerd::{self, Answer, Workerd, require_toolchain, root, send};

/// Free plan limit on a Worker's compressed size.
const GZIP_BUDGET_BYTES: u64 = 3 * 1024 * 1024;
/// Issue 14's goals (gzip -9 of `build/index_bg.wasm`): 350 KB for the full
/// example, 250 KB for the JWT-only Worker. For reference, an empty workers-rs
/// 0.8 Worker (`#[event(fetch)]` answering "hello", `http` feature, same
/// profile and wasm-opt) is 49 601 bytes.
const FULL_GZIP_GOAL_BYTES: u64 = 350 * 1024;
const JWT_GZIP_GOAL_BYTES: u64 = 250 * 1024;
/// The sizes the tests hold the Workers to: the goal where it is met, else
/// the size measured when the cap was set plus ~1 %, so that a regression
/// fails here. Neither goal is met: 400 403 / 357 628 bytes before the
/// Durable Objects stores, policy captures, request shape, embedded policy
/// tests and reload landed, 456 599 / 404 506 after, and 465 266 / 404 615
/// with DPoP. Then the `policy` and `dpop` features: the JWT-only Worker
/// (no policy engine, CORS or rate limits) is 319 140, the full one (no
/// SigV4, no DPoP) 456 606. Certificate-bound tokens (the Gate checks
/// `cnf.x5t#S256` always), RFC 9728 metadata, the crypto seam with RustCrypto
/// key documents and `sfv` then grew them to 327 168 / 467 280. KV writes
/// as bytes, one serde_json parser copy, outbound requests on `web_sys`, no
/// rate-limit store without `policy`, KV reads and writes through the
/// binding's own `get`/`put` and the Gate's own responses built without the
/// body-stream glue brought them to 309 958 / 458 791 (rustup's stable).
/// Built with scripts/worker-build.sh (Debian's rustc with build-std,
/// immediate-abort panics, std's `optimize_for_size`, no panic locations,
/// shallow derived `Debug`; wasm-opt without one-caller inlining): 269 495 / 388 836.
/// Durable Object messages without serde's `Content`, no limit path, rate-limit
/// client or decision serialiser without `policy`, and no names section:
/// 254 172 (the JWT-only goal is met) / 382 451. Durable Object messages as
/// form-encoded text (no serde for them): full 374 153 -> 371 856. The
/// reader's per-type code out of line, Durable Object storage read in one
/// `getMultiple`, `driver::worker::respond`, one wasm-opt run with
/// `--low-memory-unused` / `--converge` and no metadata sections: 237 884 /
/// 358 192 (both goals met).
/// Where the rest goes: docs/adr/0011-worker-size.md.
/// A cap is its goal once the goal is met: a change that grows a Worker past
/// it must pay for itself elsewhere.
const FULL_GZIP_CAP_BYTES: u64 = FULL_GZIP_GOAL_BYTES;
const JWT_GZIP_CAP_BYTES: u64 = JWT_GZIP_GOAL_BYTES;

const AUDIENCE: &str = "api://edge-auth-e2e";
/// The key the Worker signs forwarded requests with (`EDGE_AUTH_UPSTREAM_KEY`).
const UPSTREAM_KEY: &str = "e2e-upstream-key-0123456789abcdef0123";
/// The Worker's sealing secret (`EDGE_AUTH_SEAL_SECRET`, base64 of 32 bytes).
const SEAL_SECRET: &str = "q83vEjRWeJq83vEjRWeJq83vEjRWeJq83vEjRWeJq80=";
/// Another secret: what an attacker without the Worker's secret seals with.
const OTHER_SECRET: &str = "an attacker's own sealing secret, 0123456789";
const POLICY: &str = r#"{"rules": [
  {"id": "health", "match": {"methods": ["GET"], "paths": ["/healthz"]}, "require": {"anonymous": true}, "effect": "allow"},
  {"id": "api", "match": {"paths": ["/api/**"]}, "require": {"any_roles": ["reader"]}, "effect": "allow"},
  {"id": "limited", "match": {"paths": ["/limited"]}, "require": {"anonymous": true}, "effect": "allow",
   "limits": [{"id": "per-route", "key": "route", "rate": "1/60s", "burst": 2}]}
]}"#;

/// The addresses a workerd serves: the Worker's two services (two
/// isolates) and the KV stand-in.
struct Addrs {
    main: SocketAddr,
    main2: SocketAddr,
    kv: SocketAddr,
}

/// One HTTP/1.1 GET over a fresh connection (`Connection: close`).
fn get(addr: SocketAddr, path: &str, headers: &[(&str, &str)]) -> std::io::Result<Answer> {
    send(addr, "GET", path, headers, "")
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
        self.token_with(sub, roles, None)
    }

    /// A token for `sub` with `roles`, bound by `cnf` (RFC 7800) when given.
    fn token_with(&self, sub: &str, roles: &[&str], cnf: Option<serde_json::Value>) -> String {
        let now = time::OffsetDateTime::now_utc().unix_timestamp();
        let header = json!({"alg": "ES256", "typ": "JWT", "kid": "e2e-1"});
        let mut claims = json!({
            "iss": self.issuer, "aud": AUDIENCE, "sub": sub, "roles": roles,
            "iat": now, "exp": now + 600,
        });
        if let Some(cnf) = cnf {
            claims["cnf"] = cnf;
        }
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

/// The test's issuer and origin: an [`Idp`] named after the [`Upstream`]
/// that serves its key set (each answer after `delay`). The issuer's URL is
/// the server's address, known only once it listens; the JWKS does not name
/// the issuer, so the key comes first.
fn idp_with_upstream(delay: Duration) -> (Idp, Upstream) {
    let mut idp = Idp::new(String::new());
    let upstream = Upstream::start_with_delay(idp.jwks(), delay);
    idp.issuer = format!("http://{}", upstream.addr);
    (idp, upstream)
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
        Self::start_with_delay(jwks, Duration::ZERO)
    }

    /// As [`start`](Self::start), the JWKS answered after `delay` (so
    /// concurrent requests overlap a fetch).
    fn start_with_delay(jwks: String, delay: Duration) -> Self {
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
                        if let Err(e) = serve_one(stream, &jwks, delay, &count, &log) {
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
    delay: Duration,
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
        std::thread::sleep(delay);
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

/// The checked-in `config.capnp`, rewritten to live in `build/` as
/// `{name}.capnp`, with the test's bindings, a second service and socket
/// running the same Worker (its own isolate) on the same KV namespace, and
/// a socket serving the KV stand-in itself.
fn write_config(worker_dir: &Path, upstream: SocketAddr, name: &str) -> PathBuf {
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
        ("EDGE_AUTH_SEAL_SECRET", SEAL_SECRET.to_owned()),
        ("EDGE_AUTH_LIMITS_DO", "EDGE_AUTH_LIMITS".to_owned()),
    ];
    let mut bindings = String::from("  bindings = [\n");
    for (name, value) in vars {
        bindings.push_str(&format!(
            "    (name = \"{name}\", text = {}),\n",
            capnp_text(&value)
        ));
    }
    bindings.push_str("    (name = \"EDGE_AUTH_JWKS\", kvNamespace = \"jwks-kv\"),\n");
    // Both services (isolates) use the objects of the first: one store.
    bindings.push_str(
        "    (name = \"EDGE_AUTH_LIMITS\", durableObjectNamespace = (className = \"EdgeAuthLimits\", serviceName = \"main\")),",
    );
    let mut config = format!("{}{}{}", &text[..start], bindings, &text[end..]);
    for (from, to) in [
        // The test plays Cloudflare's edge: a `cf-blob` header (JSON) is
        // the request's `cf` (e.g. `tlsClientAuth` of an mTLS zone).
        (
            "(name = \"http\", address = \"127.0.0.1:8787\", http = ()",
            "(name = \"http\", address = \"127.0.0.1:8787\", http = (cfBlobHeader = \"cf-blob\")",
        ),
        ("embed \"build/", "embed \""),
        ("embed \"kv-memory.js\"", "embed \"../kv-memory.js\""),
        (
            "    (name = \"main\", worker = .edgeAuthWorker),\n",
            "    (name = \"main\", worker = .edgeAuthWorker),\n    (name = \"main2\", worker = .edgeAuthWorker),\n",
        ),
        (
            "service = \"main\"),\n",
            "service = \"main\"),\n    (name = \"http2\", address = \"127.0.0.1:8788\", http = (), service = \"main2\"),\n    (name = \"kv\", address = \"127.0.0.1:8789\", http = (), service = \"jwks-kv\"),\n",
        ),
    ] {
        assert!(config.contains(from), "config.capnp has no `{from}`");
        config = config.replace(from, to);
    }
    let path = worker_dir.join(format!("build/{name}.capnp"));
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

/// Builds examples/worker once for every test of this binary (they run
/// concurrently; the first builds, the others wait). Returns the build's
/// seconds. Output goes to a log so a failure shows the compiler's words.
fn build_worker() -> f64 {
    static BUILD: OnceLock<Result<f64, String>> = OnceLock::new();
    let built = BUILD.get_or_init(|| {
        workerd::build_worker_crate(
            &root().join("examples/worker"),
            &root().join("target/worker-test"),
        )
    });
    built.clone().unwrap_or_else(|e| panic!("{e}"))
}

/// The built Worker served by a workerd of its own for the test `name`,
/// configured for `upstream` (issuer and origin).
fn serve(name: &str, upstream: SocketAddr) -> (Workerd, Addrs) {
    let worker_dir = root().join("examples/worker");
    let scratch = root().join("target/worker-test").join(name);
    std::fs::create_dir_all(&scratch).unwrap();
    let config = write_config(&worker_dir, upstream, name);
    let (server, addrs) = workerd::start(&config, &["http", "http2", "kv"], &scratch);
    let [main, main2, kv] = addrs[..] else {
        panic!(
            "workerd::start returned {} addresses for 3 sockets",
            addrs.len()
        );
    };
    (server, Addrs { main, main2, kv })
}

/// The KV stand-in's path for `issuer`'s key state (`kv_key`, as
/// `encodeURIComponent` writes it).
fn kv_path(issuer: &str) -> String {
    let key = edge_auth::driver::worker::kv_key(issuer);
    let encoded: String = url::form_urlencoded::byte_serialize(key.as_bytes()).collect();
    format!("/{encoded}")
}

/// What KV holds for `issuer`, read through the stand-in's own socket.
fn kv_get(kv: SocketAddr, issuer: &str) -> Option<String> {
    let answer = get(kv, &kv_path(issuer), &[]).unwrap();
    match answer.status {
        200 => Some(answer.body),
        404 => None,
        other => panic!("KV read answered {other}: {answer:?}"),
    }
}

/// Writes `value` as `issuer`'s key state in KV, as anyone who can write
/// the namespace could.
fn kv_put(kv: SocketAddr, issuer: &str, value: &str) {
    let answer = send(kv, "PUT", &kv_path(issuer), &[], value).unwrap();
    assert_eq!(answer.status, 200, "KV write: {answer:?}");
}

/// A key state for `issuer` holding `forged`'s key, as an attacker would
/// make it with the library: plain JSON, or sealed under `sealer`.
fn forged_state(issuer: &str, forged: &Idp, sealer: Option<&Sealer>) -> String {
    let mut config = GateConfig::new([
        IssuerConfig::new(issuer, [AUDIENCE]).with_jwks_uri(format!("{issuer}/jwks"))
    ])
    .with_policy(Policy::from_json(POLICY).unwrap().compile().unwrap());
    config.cache.allow_http_loopback = true;
    let gate = Gate::new(config).unwrap();
    let parts = http::Request::get("/api/things")
        .header(
            "authorization",
            format!("Bearer {}", forged.token("eve", &["reader"])),
        )
        .body(())
        .unwrap()
        .into_parts()
        .0;
    let now = time::OffsetDateTime::now_utc();
    let mut headers = http::HeaderMap::new();
    headers.insert("cache-control", "max-age=600".parse().unwrap());
    for _ in 0..3 {
        match gate.check(&parts, &RequestFacts::from_parts(&parts), now) {
            Outcome::FetchKeys(plan) => gate
                .apply_fetch_response(
                    &plan,
                    http::StatusCode::OK,
                    &headers,
                    forged.jwks().as_bytes(),
                    now,
                )
                .unwrap(),
            // Keys loaded (the forging gate maps no roles, so it may deny).
            Outcome::Allow { .. } | Outcome::Deny(_) => break,
            other => panic!("the forging gate did not take the forged keys: {other:?}"),
        }
    }
    assert!(
        gate.export_state(issuer).is_some(),
        "the forging gate holds no keys"
    );
    match sealer {
        Some(sealer) => gate.export_sealed(issuer, sealer).unwrap().unwrap(),
        None => serde_json::to_string(&gate.export_state(issuer).unwrap()).unwrap(),
    }
}

#[test]
fn worker_runs_the_gate_end_to_end() {
    require_toolchain("worker_runs_the_gate_end_to_end");
    let worker_dir = root().join("examples/worker");
    let scratch = root().join("target/worker-test");
    std::fs::create_dir_all(&scratch).unwrap();
    let build_secs = build_worker();

    let wasm = worker_dir.join("build/index_bg.wasm");
    assert!(wasm.is_file(), "no {} after the build", wasm.display());
    let (raw, gz) = (file_size(&wasm), gzip_size(&wasm));
    let mut sizes = format!(
        "worker wasm: {raw} bytes raw, {gz} bytes gzip -9 (scripts/worker-build.sh: {build_secs:.1} s)\n"
    );
    assert!(gz < GZIP_BUDGET_BYTES, "worker is {gz} bytes gzipped");
    assert!(
        gz <= FULL_GZIP_CAP_BYTES,
        "the full Worker is {gz} bytes gzipped, over its cap of {FULL_GZIP_CAP_BYTES} (goal {FULL_GZIP_GOAL_BYTES})"
    );

    // The JWT-only Worker (edge-auth without `sigv4`, `httpsig`, `dpop`
    // and `policy`): built to weigh it, not served.
    let jwt_dir = root().join("examples/worker-jwt");
    let jwt_secs = workerd::build_worker_crate(&jwt_dir, &scratch.join("worker-jwt"))
        .unwrap_or_else(|e| panic!("{e}"));
    let jwt_wasm = jwt_dir.join("build/index_bg.wasm");
    let (jwt_raw, jwt_gz) = (file_size(&jwt_wasm), gzip_size(&jwt_wasm));
    sizes.push_str(&format!(
        "jwt-only worker wasm: {jwt_raw} bytes raw, {jwt_gz} bytes gzip -9 (scripts/worker-build.sh: {jwt_secs:.1} s)\n"
    ));
    eprint!("{sizes}");
    // .ci/run prints this after the tests (cargo test hides a passing test's output).
    std::fs::write(scratch.join("wasm-size.txt"), sizes).unwrap();
    assert!(
        jwt_gz < GZIP_BUDGET_BYTES,
        "the JWT-only worker is {jwt_gz} bytes gzipped"
    );
    assert!(
        jwt_gz <= JWT_GZIP_CAP_BYTES,
        "the JWT-only Worker is {jwt_gz} bytes gzipped, over its cap of {JWT_GZIP_CAP_BYTES} (goal {JWT_GZIP_GOAL_BYTES})"
    );

    // The issuer and origin, then workerd configured for them.
    let (idp, upstream) = idp_with_upstream(Duration::ZERO);
    let (server, addrs) = serve("e2e", upstream.addr);
    let (addr, addr2) = (addrs.main, addrs.main2);
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

    // The first isolate's KV write runs after its response (waitUntil):
    // give it time. What it wrote is sealed: no key material, no JSON.
    std::thread::sleep(Duration::from_millis(500));
    let stored = kv_get(addrs.kv, &idp.issuer).expect("the Worker wrote its key state to KV");
    assert!(
        !stored.trim_start().starts_with('{'),
        "plain state in KV: {stored}"
    );
    assert!(
        !stored.contains("P-256") && !stored.contains("e2e-1") && !stored.contains("jwks"),
        "the state in KV is readable: {stored}"
    );
    assert!(
        Sealer::from_secret_text(SEAL_SECRET, None)
            .unwrap()
            .open_str(edge_auth::seal::PURPOSE_ISSUER_KEYS, &idp.issuer, &stored)
            .is_ok(),
        "the state in KV does not open under the Worker's secret"
    );

    // Another isolate (the second service): the keys come from KV, opened.
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

#[test]
fn worker_refuses_forged_key_sets_planted_in_kv() {
    require_toolchain("worker_refuses_forged_key_sets_planted_in_kv");
    build_worker();
    let (idp, upstream) = idp_with_upstream(Duration::ZERO);
    // The attacker's key, published under the genuine key's kid.
    let forger = Idp::new(idp.issuer.clone());
    let (server, addrs) = serve("forged", upstream.addr);
    let log = || server.log();
    let jwks_fetches = || upstream.jwks_requests.load(Ordering::SeqCst);
    let forged_bearer = format!("Bearer {}", forger.token("eve", &["reader"]));
    let bearer = format!("Bearer {}", idp.token("alice", &["reader"]));

    // A plain JSON key set in KV: refused, the real JWKS fetched, the
    // forged token refused.
    kv_put(
        addrs.kv,
        &idp.issuer,
        &forged_state(&idp.issuer, &forger, None),
    );
    let answer = get(
        addrs.main,
        "/api/things",
        &[("Authorization", &forged_bearer)],
    )
    .unwrap();
    assert_eq!(answer.status, 401, "{answer:?}\n{}", log());
    assert_eq!(
        jwks_fetches(),
        1,
        "the real JWKS was not fetched:\n{}",
        log()
    );
    assert!(
        log().contains("ignoring the key state in KV") && log().contains("not sealed"),
        "the plain state was not refused as unsealed:\n{}",
        log()
    );
    let answer = get(addrs.main, "/api/things", &[("Authorization", &bearer)]).unwrap();
    assert_eq!(answer.status, 200, "{answer:?}\n{}", log());
    assert_eq!(jwks_fetches(), 1);

    // The Worker overwrote it with its own sealed state (after the response).
    std::thread::sleep(Duration::from_millis(500));
    let stored = kv_get(addrs.kv, &idp.issuer).expect("a state in KV");
    assert!(!stored.trim_start().starts_with('{'), "{stored}");

    // A key set sealed under another secret, seen by a cold isolate: refused.
    let other = Sealer::from_secret_text(OTHER_SECRET, None).unwrap();
    kv_put(
        addrs.kv,
        &idp.issuer,
        &forged_state(&idp.issuer, &forger, Some(&other)),
    );
    let answer = get(
        addrs.main2,
        "/api/things",
        &[("Authorization", &forged_bearer)],
    )
    .unwrap();
    assert_eq!(answer.status, 401, "{answer:?}\n{}", log());
    assert_eq!(
        jwks_fetches(),
        2,
        "the second isolate did not refetch the real JWKS:\n{}",
        log()
    );
    let answer = get(addrs.main2, "/api/things", &[("Authorization", &bearer)]).unwrap();
    assert_eq!(answer.status, 200, "{answer:?}\n{}", log());
    assert_eq!(jwks_fetches(), 2);
    drop(server);
}

#[test]
fn worker_concurrent_requests_on_a_cold_isolate_make_one_jwks_fetch() {
    require_toolchain("worker_concurrent_requests_on_a_cold_isolate_make_one_jwks_fetch");
    const CONCURRENT: usize = 8;
    build_worker();
    // A slow JWKS, so every request arrives while the one fetch runs.
    let (idp, upstream) = idp_with_upstream(Duration::from_millis(400));
    let (server, addrs) = serve("single-flight", upstream.addr);
    let bearer = format!("Bearer {}", idp.token("alice", &["reader"]));
    let statuses: Vec<u16> = std::thread::scope(|scope| {
        let handles: Vec<_> = (0..CONCURRENT)
            .map(|_| {
                let bearer = bearer.as_str();
                scope.spawn(move || {
                    get(addrs.main, "/api/things", &[("Authorization", bearer)])
                        .map(|a| a.status)
                        .unwrap_or(0)
                })
            })
            .collect();
        handles.into_iter().map(|h| h.join().unwrap()).collect()
    });
    assert!(
        statuses.iter().all(|&s| s == 200),
        "{statuses:?}\n{}",
        server.log()
    );
    assert_eq!(
        upstream.jwks_requests.load(Ordering::SeqCst),
        1,
        "{CONCURRENT} concurrent requests on a cold isolate made more than one JWKS fetch:\n{}",
        server.log()
    );
    drop(server);
}

#[test]
fn worker_rate_limit_holds_across_isolates_through_durable_objects() {
    require_toolchain("worker_rate_limit_holds_across_isolates_through_durable_objects");
    build_worker();
    let upstream = Upstream::start(Idp::new(String::new()).jwks());
    let (server, addrs) = serve("durable-limits", upstream.addr);
    // The route's limit admits a burst of 2 per minute, whichever isolate
    // the requests reach: the count lives in a Durable Object.
    let mut statuses = Vec::new();
    for addr in [addrs.main, addrs.main2, addrs.main, addrs.main2] {
        let answer = get(addr, "/limited", &[]).unwrap();
        if answer.status == 429 {
            assert!(answer.header("retry-after").is_some(), "{answer:?}");
        }
        statuses.push(answer.status);
    }
    assert_eq!(statuses, [200, 200, 429, 429], "{}", server.log());
    drop(server);
}

/// A client certificate's SHA-256 as Cloudflare's `tlsClientAuth` gives it
/// (upper-case hex), and the same digest as a token's `cnf.x5t#S256`
/// (computed outside this crate; tests/it/driver_worker.rs has the pair).
const CF_FINGERPRINT: &str = "BFAF1F7E070F9FA8DD62905F158DA73F84A1136624FBAFCC9393C8F7287A69EB";
const CF_X5T: &str = "v68ffgcPn6jdYpBfFY2nP4ShE2Yk-6_Mk5PI9yh6aes";

/// RFC 8705 in the Worker: the client certificate comes from
/// `request.cf.tlsClientAuth` (here the `cf-blob` header workerd turns into
/// `cf`). A verified certificate admits the token bound to it; a
/// `tlsClientAuth` whose fields are missing or not strings reads as no
/// certificate (401), and the isolate keeps serving: workers-rs' own
/// getters would panic on it.
#[test]
fn worker_reads_the_client_certificate_from_cf_tls_client_auth() {
    require_toolchain("worker_reads_the_client_certificate_from_cf_tls_client_auth");
    build_worker();
    let (idp, upstream) = idp_with_upstream(Duration::ZERO);
    let (server, addrs) = serve("cf-tls-client-auth", upstream.addr);
    let bound = format!(
        "Bearer {}",
        idp.token_with("svc", &["reader"], Some(json!({"x5t#S256": CF_X5T})))
    );
    let cf = |auth: serde_json::Value| json!({ "tlsClientAuth": auth }).to_string();
    let verified = cf(json!({
        "certPresented": "1", "certVerified": "SUCCESS",
        "certFingerprintSHA256": CF_FINGERPRINT,
    }));
    let status = |blob: Option<&str>| {
        let mut headers = vec![("Authorization", bound.as_str())];
        headers.extend(blob.map(|b| ("cf-blob", b)));
        get(addrs.main, "/api/things", &headers).map(|a| a.status)
    };
    assert_eq!(status(Some(&verified)).unwrap(), 200, "{}", server.log());
    assert_eq!(status(None).unwrap(), 401, "{}", server.log());
    for partial in [
        json!({"certPresented": "1"}),
        json!({"certPresented": "1", "certVerified": "SUCCESS", "certFingerprintSHA256": null}),
        json!({"certPresented": 1, "certVerified": "SUCCESS", "certFingerprintSHA256": CF_FINGERPRINT}),
        json!("not an object"),
    ] {
        let blob = cf(partial.clone());
        assert_eq!(
            status(Some(&blob)).unwrap(),
            401,
            "{partial}\n{}",
            server.log()
        );
    }
    assert_eq!(status(Some(&verified)).unwrap(), 200, "{}", server.log());
    drop(server);
}
