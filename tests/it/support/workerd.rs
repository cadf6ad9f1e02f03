//! Building a Worker crate with `worker-build --profile worker` under the
//! wasm toolchain (`scripts/wasm-toolchain.sh`) and serving it with workerd
//! on ephemeral loopback ports, killed when the test ends; plus a minimal
//! HTTP/1.1 client. Without the toolchain the tests that use this fail,
//! naming the script that installs it: they never pass by skipping.
#![cfg(unix)]

use std::io::{Read, Write};
use std::net::{Ipv4Addr, SocketAddr, TcpListener, TcpStream};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

pub fn root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

/// The repository's toolchain script.
pub fn toolchain_script() -> PathBuf {
    root().join("scripts/wasm-toolchain.sh")
}

/// The script that builds a Worker crate for size (`worker-build --profile
/// worker` with std rebuilt for it; docs/adr/0011-worker-size.md).
pub fn worker_build_script() -> PathBuf {
    root().join("scripts/worker-build.sh")
}

/// Fails `test` when the Worker cannot be built and served here, saying
/// why (the scripts' `--check` lists what is missing) and how to install it.
pub fn require_toolchain(test: &str) {
    for script in [toolchain_script(), worker_build_script()] {
        let out = Command::new("bash")
            .arg(&script)
            .arg("--check")
            .stdin(Stdio::null())
            .output()
            .unwrap_or_else(|e| panic!("cannot run bash {}: {e}", script.display()));
        assert!(
            out.status.success(),
            "{test}: the wasm toolchain is not installed: `bash {} --check` says\n{}\ninstall it with `EDGE_AUTH_WASM_RUST=debian bash scripts/wasm-toolchain.sh`",
            script.display(),
            String::from_utf8_lossy(&out.stderr).trim_end()
        );
    }
}

/// `command` in bash with the toolchain's environment, from `dir`; the wasm
/// build keeps its own target dir (`target/wasm`, as .ci/run and
/// tests/it/worker.rs use).
pub fn toolchain_shell(command: &str, dir: &Path) -> Command {
    let mut shell = Command::new("bash");
    shell
        .arg("-c")
        .arg(format!(
            "set -euo pipefail; eval \"$(bash '{}')\"; {command}",
            toolchain_script().display()
        ))
        .current_dir(dir)
        .env("CARGO_TARGET_DIR", root().join("target/wasm"))
        .stdin(Stdio::null());
    shell
}

/// Builds the Worker crate in `dir` the way its users do
/// (`scripts/worker-build.sh`: `worker-build --profile worker` with std
/// rebuilt for size; output in `dir/build/`), its log under `scratch`, in
/// `target/wasm`. Returns the seconds taken, or the build's output when it
/// failed.
pub fn build_worker_crate(dir: &Path, scratch: &Path) -> Result<f64, String> {
    std::fs::create_dir_all(scratch).map_err(|e| e.to_string())?;
    let started = Instant::now();
    let (out, err) = (
        scratch.join("worker-build.log"),
        scratch.join("worker-build.err"),
    );
    let status = Command::new("bash")
        .arg(worker_build_script())
        .arg(dir)
        .env("CARGO_TARGET_DIR", root().join("target/wasm"))
        .stdin(Stdio::null())
        .stdout(std::fs::File::create(&out).map_err(|e| e.to_string())?)
        .stderr(std::fs::File::create(&err).map_err(|e| e.to_string())?)
        .status()
        .map_err(|e| e.to_string())?;
    if status.success() {
        Ok(started.elapsed().as_secs_f64())
    } else {
        Err(format!(
            "worker-build in {} failed:\n{}{}",
            dir.display(),
            std::fs::read_to_string(&out).unwrap_or_default(),
            std::fs::read_to_string(&err).unwrap_or_default()
        ))
    }
}

/// The workerd binary the toolchain installed.
pub fn workerd_bin() -> PathBuf {
    let out = toolchain_shell("printf %s \"$WORKERD_BIN\"", &root())
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    PathBuf::from(String::from_utf8(out.stdout).unwrap())
}

/// workerd in its own process group, killed (with the npm launcher's child)
/// when the test ends, pass or fail.
pub struct Workerd {
    child: Child,
    log: PathBuf,
}

impl Workerd {
    /// What workerd printed so far (the Worker's console too, `--verbose`).
    pub fn log(&self) -> String {
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
    // Released before workerd binds it; a clash makes workerd exit, which
    // `start` notices and retries with other ports.
    TcpListener::bind((Ipv4Addr::LOCALHOST, 0))
        .and_then(|listener| listener.local_addr())
        .map(|addr| addr.port())
        .unwrap()
}

/// Starts workerd on `config` with each of `sockets` on a free loopback
/// port, and waits (at most 60 s each) until every socket answers
/// `GET /healthz`. Three tries.
pub fn start(config: &Path, sockets: &[&str], scratch: &Path) -> (Workerd, Vec<SocketAddr>) {
    use std::os::unix::process::CommandExt;
    std::fs::create_dir_all(scratch).unwrap();
    let mut last_log = String::new();
    for attempt in 0..3 {
        let addrs: Vec<SocketAddr> = sockets
            .iter()
            .map(|_| SocketAddr::from((Ipv4Addr::LOCALHOST, free_port())))
            .collect();
        let log = scratch.join(format!("workerd-{attempt}.log"));
        let log_file = std::fs::File::create(&log).unwrap();
        let mut command = Command::new(workerd_bin());
        command.arg("serve").arg(config);
        for (name, addr) in sockets.iter().zip(&addrs) {
            command.arg(format!("--socket-addr={name}={addr}"));
        }
        let child = command
            .arg("--verbose")
            .stdin(Stdio::null())
            .stdout(log_file.try_clone().unwrap())
            .stderr(log_file)
            .process_group(0)
            .spawn()
            .unwrap();
        let mut server = Workerd { child, log };
        if addrs.iter().all(|&addr| wait_ready(&mut server, addr)) {
            return (server, addrs);
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
        if send(addr, "GET", "/healthz", &[], "").is_ok() {
            return true;
        }
        std::thread::sleep(Duration::from_millis(100));
    }
    panic!("workerd not ready after 60 s:\n{}", server.log());
}

/// A response as the test client read it.
#[derive(Debug)]
pub struct Answer {
    pub status: u16,
    pub headers: Vec<(String, String)>,
    pub body: String,
}

impl Answer {
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(n, _)| n.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.as_str())
    }
}

/// One HTTP/1.1 request over a fresh connection (`Host: localhost`,
/// `Connection: close`; 5 s to connect, 30 s to read).
pub fn send(
    addr: SocketAddr,
    method: &str,
    path: &str,
    headers: &[(&str, &str)],
    body: &str,
) -> std::io::Result<Answer> {
    let mut stream = TcpStream::connect_timeout(&addr, Duration::from_secs(5))?;
    stream.set_read_timeout(Some(Duration::from_secs(30)))?;
    let mut request =
        format!("{method} {path} HTTP/1.1\r\nHost: localhost\r\nConnection: close\r\n");
    if method != "GET" {
        // workerd refuses to forward a GET that says it has a body.
        request.push_str(&format!("Content-Length: {}\r\n", body.len()));
    }
    for (name, value) in headers {
        request.push_str(&format!("{name}: {value}\r\n"));
    }
    request.push_str("\r\n");
    request.push_str(body);
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
    let headers: Vec<(String, String)> = lines
        .filter_map(|line| line.split_once(':'))
        .map(|(n, v)| (n.trim().to_owned(), v.trim().to_owned()))
        .collect();
    let chunked = headers.iter().any(|(n, v)| {
        n.eq_ignore_ascii_case("transfer-encoding") && v.eq_ignore_ascii_case("chunked")
    });
    let body = if chunked {
        dechunk(body)?
    } else {
        body.to_owned()
    };
    Ok(Answer {
        status,
        headers,
        body,
    })
}

/// A chunked body's data (RFC 9112 §7.1; no trailers expected).
fn dechunk(body: &str) -> std::io::Result<String> {
    let bad = || std::io::Error::other(format!("bad chunked body {body:?}"));
    let mut rest = body;
    let mut out = String::new();
    // Bounded: at most 10 000 chunks.
    for _ in 0..10_000 {
        let (size_line, after) = rest.split_once("\r\n").ok_or_else(bad)?;
        let size_hex = size_line.split(';').next().unwrap_or_default().trim();
        let size = usize::from_str_radix(size_hex, 16).map_err(|_| bad())?;
        if size == 0 {
            return Ok(out);
        }
        let chunk = after.get(..size).ok_or_else(bad)?;
        out.push_str(chunk);
        rest = after
            .get(size..)
            .and_then(|r| r.strip_prefix("\r\n"))
            .ok_or_else(bad)?;
    }
    Err(bad())
}
