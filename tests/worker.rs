//! The Cloudflare Worker example end to end: builds `examples/worker` with
//! `worker-build --release` under the wasm toolchain (`wasm-toolchain.sh`),
//! serves it with workerd on an ephemeral loopback port and checks it with real
//! HTTP requests (RFC 6750 §3: no token → 401 with a `Bearer` challenge).
//!
//! Skips, saying why, when the toolchain is not installed; with
//! `EDGE_AUTH_REQUIRE_WORKER=1` (CI, after `.ci/run` installs it) that is a failure.

#![cfg(unix)]

use std::io::{Read, Write};
use std::net::{Ipv4Addr, SocketAddr, TcpListener, TcpStream};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

/// Free plan limit on a Worker's compressed size.
const GZIP_BUDGET_BYTES: u64 = 3 * 1024 * 1024;

fn root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

/// The toolchain script: `$EDGE_AUTH_SHARED/tools`, else `../shared/tools`
/// beside the project (where CI puts it).
fn toolchain_script() -> Option<PathBuf> {
    std::env::var_os("EDGE_AUTH_SHARED")
        .map(PathBuf::from)
        .into_iter()
        .chain(std::iter::once(root().join("../shared")))
        .map(|dir| dir.join("tools/wasm-toolchain.sh"))
        .find(|path| path.is_file())
}

fn wasm_home() -> PathBuf {
    match std::env::var_os("EDGE_AUTH_WASM_HOME") {
        Some(dir) => PathBuf::from(dir),
        None => PathBuf::from(std::env::var_os("HOME").unwrap_or_default())
            .join(".cache/edge-auth-wasm"),
    }
}

/// Why the Worker cannot be built and served here, if it cannot.
fn missing_toolchain() -> Option<String> {
    let home = wasm_home();
    let tools = [
        "tools/bin/worker-build",
        "tools/bin/wasm-bindgen",
        "node/node_modules/.bin/workerd",
    ];
    let missing: Vec<_> = tools
        .iter()
        .filter(|tool| !home.join(tool).exists())
        .map(|tool| home.join(tool).display().to_string())
        .collect();
    let script = toolchain_script();
    match (script, missing.is_empty()) {
        (Some(_), true) => None,
        (None, _) => Some(format!(
            "wasm-toolchain.sh not found (set EDGE_AUTH_SHARED or put shared/ beside the project); \
             cached tools {}",
            if missing.is_empty() {
                "present"
            } else {
                "missing too"
            }
        )),
        (Some(script), false) => Some(format!(
            "wasm toolchain not installed (missing {}): run `bash {}` once",
            missing.join(", "),
            script.display()
        )),
    }
}

/// Runs `command` in bash with the toolchain's environment (Debian's rustc
/// with build-std, wasm-bindgen, workerd...), from `dir`.
fn toolchain_shell(script: &Path, command: &str, dir: &Path) -> Command {
    let mut shell = Command::new("bash");
    shell
        .arg("-c")
        .arg(format!(
            "set -euo pipefail; eval \"$(bash '{}')\"; {command}",
            script.display()
        ))
        .current_dir(dir)
        // The stable toolchain's artifacts stay apart from build-std's (see .ci/run).
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
    // which `serve` notices and retries with another port.
    TcpListener::bind((Ipv4Addr::LOCALHOST, 0))
        .and_then(|listener| listener.local_addr())
        .map(|addr| addr.port())
        .unwrap()
}

fn start_workerd(workerd: &Path, worker_dir: &Path, scratch: &Path) -> (Workerd, SocketAddr) {
    use std::os::unix::process::CommandExt;
    let mut last_log = String::new();
    for attempt in 0..3 {
        let addr = SocketAddr::from((Ipv4Addr::LOCALHOST, free_port()));
        let log = scratch.join(format!("workerd-{attempt}.log"));
        let log_file = std::fs::File::create(&log).unwrap();
        let child = Command::new(workerd)
            .arg("serve")
            .arg(worker_dir.join("config.capnp"))
            .arg(format!("--socket-addr=http={addr}"))
            .stdin(Stdio::null())
            .stdout(log_file.try_clone().unwrap())
            .stderr(log_file)
            .process_group(0)
            .spawn()
            .unwrap();
        let mut server = Workerd { child, log };
        if wait_ready(&mut server, addr) {
            return (server, addr);
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
        if get(addr, "/healthz", None).is_ok() {
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
fn get(addr: SocketAddr, path: &str, authorization: Option<&str>) -> std::io::Result<Answer> {
    let mut stream = TcpStream::connect_timeout(&addr, Duration::from_secs(5))?;
    stream.set_read_timeout(Some(Duration::from_secs(30)))?;
    let mut request = format!("GET {path} HTTP/1.1\r\nHost: localhost\r\nConnection: close\r\n");
    if let Some(value) = authorization {
        request.push_str(&format!("Authorization: {value}\r\n"));
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

/// What the native library says about a request with this Authorization
/// header: the Worker must agree with it (same code, other target).
fn native_finds_token(authorization: &str) -> bool {
    let (parts, ()) = http::Request::get("http://localhost/api")
        .header(http::header::AUTHORIZATION, authorization)
        .body(())
        .unwrap()
        .into_parts();
    matches!(
        edge_auth::extract(&parts, &[edge_auth::TokenSource::AuthorizationBearer]),
        Ok(Some(_))
    )
}

#[test]
fn worker_builds_serves_and_challenges_requests_without_a_token() {
    let required = std::env::var("EDGE_AUTH_REQUIRE_WORKER").is_ok_and(|v| v == "1");
    if let Some(why) = missing_toolchain() {
        assert!(!required, "EDGE_AUTH_REQUIRE_WORKER=1 but {why}");
        eprintln!("skipping the Worker end-to-end test: {why}");
        return;
    }
    let script = toolchain_script().unwrap();
    let worker_dir = root().join("examples/worker");
    let scratch = root().join("target/worker-test");
    std::fs::create_dir_all(&scratch).unwrap();

    // Build. Output goes to a log so a failure shows the compiler's words.
    let started = Instant::now();
    let build_log = scratch.join("worker-build.log");
    let status = toolchain_shell(&script, "worker-build --release", &worker_dir)
        .stdout(std::fs::File::create(&build_log).unwrap())
        .stderr(std::fs::File::create(scratch.join("worker-build.err")).unwrap())
        .status()
        .unwrap();
    let build_output = std::fs::read_to_string(&build_log).unwrap_or_default()
        + &std::fs::read_to_string(scratch.join("worker-build.err")).unwrap_or_default();
    assert!(status.success(), "worker-build failed:\n{build_output}");
    eprintln!(
        "worker-build --release: {:.1} s",
        started.elapsed().as_secs_f64()
    );

    let wasm = worker_dir.join("build/index_bg.wasm");
    assert!(wasm.is_file(), "no {} after the build", wasm.display());
    let (raw, gz) = (file_size(&wasm), gzip_size(&wasm));
    let sizes = format!("worker wasm: {raw} bytes raw, {gz} bytes gzip -9\n");
    eprint!("{sizes}");
    // .ci/run prints this after the tests (cargo test hides a passing test's output).
    std::fs::write(scratch.join("wasm-size.txt"), sizes).unwrap();
    assert!(gz < GZIP_BUDGET_BYTES, "worker is {gz} bytes gzipped");

    // Serve.
    let out = toolchain_shell(&script, "printf %s \"$WORKERD_BIN\"", &worker_dir)
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let workerd = PathBuf::from(String::from_utf8(out.stdout).unwrap());
    let (server, addr) = start_workerd(&workerd, &worker_dir, &scratch);

    // No token: RFC 6750 §3.1, a challenge without an error code.
    let answer = get(addr, "/api/things", None).unwrap();
    assert_eq!(answer.status, 401, "{answer:?}\n{}", server.log());
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

    // A token: the placeholder lets it through exactly when the library's
    // extractor finds it, so the wasm build must agree with the native one.
    let authorization = "Bearer eyJhbGciOiJub25lIn0.eyJzdWIiOiJ0In0.c2ln";
    let answer = get(addr, "/api/things", Some(authorization)).unwrap();
    if native_finds_token(authorization) {
        assert_eq!(answer.status, 200, "{answer:?}\n{}", server.log());
        assert!(
            answer
                .body
                .contains("edge-auth worker: bearer token present"),
            "{answer:?}"
        );
    } else {
        eprintln!(
            "note: edge_auth::extract does not find `{authorization}` yet (stub?): expecting 401 from the Worker too"
        );
        assert_eq!(answer.status, 401, "{answer:?}\n{}", server.log());
    }
    drop(server);
}
