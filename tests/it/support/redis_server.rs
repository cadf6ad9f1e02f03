//! A `redis-server` of one test's (or bench's) own on 127.0.0.1: a free
//! port, no persistence, killed on drop. Without the binary it panics,
//! naming the Debian package: a Redis test fails, it never skips.
#![allow(dead_code)]

use std::net::TcpStream;
use std::process::{Child, Command, Stdio};
use std::time::Duration as StdDuration;

/// A `redis-server` of this test's own on 127.0.0.1, killed on drop.
pub struct RedisServer {
    child: Option<Child>,
    port: u16,
}

impl RedisServer {
    pub fn start() -> Self {
        let bin = ["/usr/bin/redis-server", "/usr/local/bin/redis-server"]
            .into_iter()
            .find(|p| std::path::Path::new(p).exists())
            .map(str::to_owned)
            .or_else(|| {
                Command::new("sh")
                    .args(["-c", "command -v redis-server"])
                    .output()
                    .ok()
                    .filter(|o| o.status.success())
                    .map(|o| String::from_utf8_lossy(&o.stdout).trim().to_owned())
            })
            .unwrap_or_else(|| {
                panic!(
                    "redis-server not found: install the Debian package `redis-server` \
                     (apt-get install redis-server); tests/it/redis.rs needs a real Redis"
                )
            });
        for _attempt in 0..5 {
            let port = std::net::TcpListener::bind("127.0.0.1:0")
                .and_then(|l| l.local_addr())
                .map(|a| a.port())
                .unwrap();
            let mut child = Command::new(&bin)
                .args(["--port", &port.to_string(), "--bind", "127.0.0.1"])
                .args(["--save", "", "--appendonly", "no"])
                .stdout(Stdio::null())
                .stderr(Stdio::null())
                .spawn()
                .unwrap_or_else(|e| panic!("cannot start {bin}: {e}"));
            for _ in 0..100 {
                if TcpStream::connect(("127.0.0.1", port)).is_ok() {
                    return Self {
                        child: Some(child),
                        port,
                    };
                }
                if child.try_wait().ok().flatten().is_some() {
                    break; // the port was taken meanwhile: try another
                }
                std::thread::sleep(StdDuration::from_millis(20));
            }
            let _ = child.kill();
            let _ = child.wait();
        }
        panic!("redis-server did not start on 127.0.0.1");
    }

    pub fn url(&self) -> String {
        format!("redis://127.0.0.1:{}/", self.port)
    }

    pub fn stop(&mut self) {
        if let Some(mut child) = self.child.take() {
            let _ = child.kill();
            let _ = child.wait();
        }
    }
}

impl Drop for RedisServer {
    fn drop(&mut self) {
        self.stop();
    }
}
