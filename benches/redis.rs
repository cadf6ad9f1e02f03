//! Rate-limit decisions/s against a local Redis (feature `redis`; starts
//! its own `redis-server` on a loopback port), as a ratio to the
//! in-memory store measured in the same run:
//!
//! 1. `MemoryStore::check`, one thread (the baseline).
//! 2. `RedisLimitStore`, one decision at a time (one round trip each).
//! 3. `RedisLimitStore`, 64 decisions in flight on one store (the
//!    multiplexed connection pipelines them).
//! 4. A request with three limits: one script for the three (what the
//!    gate does) against three one-limit calls in a row.
//!
//! Plain timing, best of three rounds (the machine is shared).
//! `cargo bench --bench redis --features redis`.

#[path = "../tests/it/support/redis_server.rs"]
mod redis_server;

use std::hint::black_box;
use std::sync::Arc;
use std::time::Instant;

use edge_auth::driver::limit::AsyncLimitStore;
use edge_auth::driver::redis::{RedisConfig, RedisLimitStore};
use edge_auth::limit::{Limit, LimitCall, LimitStore, MemoryStore, Rate};
use redis_server::RedisServer;
use time::{Duration, OffsetDateTime};

const KEYS: usize = 1024;

fn limit() -> Limit {
    // T = 1 µs, burst 1 000 000: never refuses here.
    let burst = 1_000_000;
    Limit::new(Rate::new(burst, Duration::seconds(1)).unwrap(), burst).unwrap()
}

fn calls(n: usize) -> Vec<Vec<LimitCall>> {
    (0..KEYS)
        .map(|i| {
            (0..n)
                .map(|j| LimitCall::new("l", format!("l{j}/sub:user-{i}"), limit()))
                .collect()
        })
        .collect()
}

/// Best of three: decisions per second.
fn best(mut round: impl FnMut() -> (usize, std::time::Duration)) -> f64 {
    (0..3)
        .map(|_| {
            let (n, took) = round();
            n as f64 / took.as_secs_f64()
        })
        .fold(0.0, f64::max)
}

fn main() {
    let server = RedisServer::start();
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .unwrap();
    let store = Arc::new(
        rt.block_on(RedisLimitStore::connect(
            &server.url(),
            RedisConfig::default().with_timeout(std::time::Duration::from_secs(2)),
        ))
        .unwrap(),
    );
    let one = calls(1);
    let three = calls(3);
    let now = OffsetDateTime::now_utc();

    let memory = MemoryStore::default();
    let l = limit();
    let memory_rate = best(|| {
        let n = 1_000_000;
        let started = Instant::now();
        for i in 0..n {
            let call = &one[i % KEYS][0];
            black_box(memory.check(call.key(), &l, now).unwrap());
        }
        (n, started.elapsed())
    });

    let sequential = best(|| {
        let n = 3_000;
        rt.block_on(async {
            let started = Instant::now();
            for i in 0..n {
                let answers = store.check_all(&one[i % KEYS], now).await;
                assert!(answers[0].as_ref().unwrap().allowed);
            }
            (n, started.elapsed())
        })
    });

    let concurrent = best(|| {
        let (tasks, per_task) = (64, 300);
        rt.block_on(async {
            let started = Instant::now();
            let mut handles = Vec::new();
            for t in 0..tasks {
                let store = store.clone();
                let calls = one.clone();
                handles.push(tokio::spawn(async move {
                    for i in 0..per_task {
                        let answers = store
                            .check_all(&calls[(t * per_task + i) % KEYS], now)
                            .await;
                        assert!(answers[0].as_ref().unwrap().allowed);
                    }
                }));
            }
            for h in handles {
                h.await.unwrap();
            }
            (tasks * per_task, started.elapsed())
        })
    });

    // Requests per second with three limits each.
    let bulk = best(|| {
        let n = 2_000;
        rt.block_on(async {
            let started = Instant::now();
            for i in 0..n {
                let answers = store.check_all(&three[i % KEYS], now).await;
                assert_eq!(answers.len(), 3);
            }
            (n, started.elapsed())
        })
    });
    let one_by_one = best(|| {
        let n = 2_000;
        rt.block_on(async {
            let started = Instant::now();
            for i in 0..n {
                for call in &three[i % KEYS] {
                    let answers = store.check_all(std::slice::from_ref(call), now).await;
                    assert!(answers[0].as_ref().unwrap().allowed);
                }
            }
            (n, started.elapsed())
        })
    });

    println!("decisions/s (best of 3), one limit per decision:");
    println!("  memory store, 1 thread          {memory_rate:>12.0}");
    println!(
        "  redis, sequential               {sequential:>12.0}  ({:.4}x memory)",
        sequential / memory_rate
    );
    println!(
        "  redis, 64 in flight             {concurrent:>12.0}  ({:.4}x memory, {:.1}x sequential)",
        concurrent / memory_rate,
        concurrent / sequential
    );
    println!("requests/s with 3 limits each, sequential:");
    println!("  redis, one script per request   {bulk:>12.0}");
    println!(
        "  redis, one call per limit       {one_by_one:>12.0}  (one script: {:.2}x)",
        bulk / one_by_one
    );
    drop(server);
}
