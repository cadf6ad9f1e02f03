//! Gate on/off throughput through the hyper gateway example: a bounded
//! loopback load loop (not a CI test; method and numbers in benches/README.md).
//!
//! ```sh
//! cargo build --release --example hyper_gateway --example gateway_load
//! target/release/examples/gateway_load [CONNECTIONS=32] [REQUESTS=40000] [ROUNDS=2]
//! ```
//!
//! For each round, `--gate off` (plain proxy) then `--gate on`: starts
//! target/release/examples/hyper_gateway (dev issuer, echo, gateway) as a
//! child process, takes its READER token, warms up (the first request
//! fetches the keys), then CONNECTIONS keep-alive HTTP/1.1 connections send
//! REQUESTS `GET /api/items` with that token in total, every answer must be
//! 200. Prints requests/s per mode and the on/off ratio of each round.

use std::io::{BufRead, BufReader};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use bytes::Bytes;
use http_body_util::{BodyExt, Empty};
use hyper::client::conn::http1;
use hyper_util::rt::TokioIo;
use tokio::net::TcpStream;

type Failure = Box<dyn std::error::Error + Send + Sync>;

struct Gateway(Child);

impl Drop for Gateway {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

/// Starts the example on ports base..base+2 and returns it with its token.
fn start(gate: &str, base: u16) -> Result<(Gateway, String), Failure> {
    let exe = std::env::current_exe()?;
    let dir = exe.parent().ok_or("no exe dir")?;
    let mut child = Command::new(dir.join("hyper_gateway"))
        .args(["--gate", gate, "--token-lifetime", "3600"])
        .args(["--listen", &format!("127.0.0.1:{base}")])
        .args(["--echo-listen", &format!("127.0.0.1:{}", base + 1)])
        .args(["--issuer-listen", &format!("127.0.0.1:{}", base + 2)])
        .stdout(Stdio::piped())
        .stderr(Stdio::inherit())
        .spawn()?;
    let stdout = child.stdout.take().ok_or("no stdout")?;
    let gateway = Gateway(child);
    // The example prints READER=... once everything listens; the rest of
    // its output is drained (a closed pipe would end it at its next line).
    let mut lines = BufReader::new(stdout).lines();
    for line in lines.by_ref().take(50) {
        if let Some(token) = line?.strip_prefix("READER=") {
            std::thread::spawn(move || lines.for_each(drop));
            return Ok((gateway, token.to_owned()));
        }
    }
    Err("the gateway printed no READER token".into())
}

/// One keep-alive connection sending `count` requests; all must be 200.
async fn connection(addr: String, token: String, count: usize) -> Result<(), Failure> {
    let stream = TcpStream::connect(&addr).await?;
    stream.set_nodelay(true)?;
    let (mut sender, conn) = http1::handshake(TokioIo::new(stream)).await?;
    tokio::spawn(conn);
    for _ in 0..count {
        let request = http::Request::get("/api/items")
            .header("host", &addr)
            .header("authorization", format!("Bearer {token}"))
            .body(Empty::<Bytes>::new())?;
        sender.ready().await?;
        let response = sender.send_request(request).await?;
        let status = response.status();
        response.into_body().collect().await?;
        if status != http::StatusCode::OK {
            return Err(format!("status {status}").into());
        }
    }
    Ok(())
}

async fn measure(
    gate: &str,
    base: u16,
    connections: usize,
    requests: usize,
) -> Result<f64, Failure> {
    let (mut gateway, token) = start(gate, base)?;
    let addr = format!("127.0.0.1:{base}");
    connection(addr.clone(), token.clone(), 50).await?; // warm-up (key fetch)
    let started = Instant::now();
    let tasks: Vec<_> = (0..connections)
        .map(|_| {
            tokio::spawn(connection(
                addr.clone(),
                token.clone(),
                requests / connections,
            ))
        })
        .collect();
    let mut failed = 0;
    for task in tasks {
        if let Err(e) = tokio::time::timeout(Duration::from_secs(300), task).await?? {
            failed += 1;
            eprintln!(
                "{gate}: a connection failed after {:?}: {e:?}",
                started.elapsed()
            );
        }
    }
    if let Some(status) = gateway.0.try_wait()? {
        eprintln!("{gate}: the gateway exited during the run: {status}");
    }
    let sent = requests / connections * connections;
    if failed > 0 {
        eprintln!("{gate}: {failed} of {connections} connections failed (requests/s counts all)");
    }
    Ok(sent as f64 / started.elapsed().as_secs_f64())
}

#[tokio::main(flavor = "multi_thread", worker_threads = 2)]
async fn main() -> Result<(), Failure> {
    let arg = |i: usize, default: usize| -> Result<usize, Failure> {
        Ok(std::env::args().nth(i).map_or(Ok(default), |s| s.parse())?)
    };
    let (connections, requests, rounds) = (arg(1, 32)?, arg(2, 40_000)?, arg(3, 2)?);
    println!("{connections} connections, {requests} requests per mode, {rounds} rounds");
    for round in 0..rounds {
        let base = 18_600 + u16::try_from(round * 10)?;
        let off = measure("off", base, connections, requests).await?;
        println!("round {}: gate off {off:.0} req/s", round + 1);
        let on = measure("on", base + 5, connections, requests).await?;
        println!(
            "round {}: gate on {on:.0} req/s, on/off {:.2}",
            round + 1,
            on / off
        );
    }
    Ok(())
}
