//! Rate limits, measured against peers in the same run:
//!
//! 1. `MemoryStore::check` (GCRA decision + sharded map) against
//!    `governor`'s keyed limiter (`DashMap` state store), same quota
//!    (burst and emission interval), same 1024 `String` keys in the same
//!    order. Governor reads its clock inside `check_key`; edge-auth takes
//!    `now` from the caller. So two pairs: governor on its default clock
//!    vs edge-auth with `OffsetDateTime::now_utc()` per call, and governor
//!    on `FakeRelativeClock` vs edge-auth with a fixed `now`.
//! 2. `Gate::check` with one rate limit on the deciding rule against the
//!    same gate and policy without it: an RS256 token (the usual request)
//!    and an anonymous route (no crypto: the worst case for the ratio).
//!
//! Criterion groups first, then interleaved rounds print median and
//! minimum ns per op and the ratios. The machine is shared: read the
//! minima.
//!
//! Instruction counts (stable under load): `EDGE_AUTH_COUNT=ours_fixed`
//! or `governor_fake` with `EDGE_AUTH_COUNT_N=N` runs only N decisions of
//! that side over the 1024 keys (after one untimed pass) and exits;
//! `benches/icount.sh` turns two such runs under cachegrind into
//! instructions per decision.

#[path = "../tests/it/support/jwt.rs"]
mod jwt_support;

use std::cell::Cell;
use std::hint::black_box;
use std::num::NonZeroU32;
use std::time::Instant;

use aws_lc_rs::rsa::KeySize;
use criterion::Criterion;
use edge_auth::gate::{Gate, GateConfig, IssuerConfig, Outcome};
use edge_auth::jwt::Algorithm;
use edge_auth::limit::{Limit, LimitStore, MemoryStore, Rate};
use edge_auth::policy::{Policy, RequestFacts};
use governor::clock::FakeRelativeClock;
use governor::{Quota, RateLimiter};
use http::{HeaderMap, StatusCode};
use jwt_support::{TestKey, jwks};
use time::{Duration, OffsetDateTime};

const KEYS: usize = 1024;
const ISS: &str = "https://idp.example.com";
const AUD: &str = "api://bench";

type Keyed<C> = RateLimiter<
    String,
    governor::state::keyed::DefaultKeyedStateStore<String>,
    C,
    governor::middleware::NoOpMiddleware<<C as governor::clock::Clock>::Instant>,
>;

struct Limits {
    keys: Vec<String>,
    limit: Limit,
    store: MemoryStore,
    /// Its own store: `now_utc()` runs ahead of the fixed `now`.
    store_clock: MemoryStore,
    gov: governor::DefaultKeyedRateLimiter<String>,
    gov_fake: Keyed<FakeRelativeClock>,
    now: OffsetDateTime,
    next: Cell<usize>,
}

fn limits() -> Limits {
    // 1 000 000 per second, burst 1 000 000: T = 1 µs, never refuses here.
    let burst = 1_000_000;
    let limit = Limit::new(Rate::new(burst, Duration::seconds(1)).unwrap(), burst).unwrap();
    let quota = Quota::with_period(std::time::Duration::from_micros(1))
        .unwrap()
        .allow_burst(NonZeroU32::new(burst).unwrap());
    Limits {
        keys: (0..KEYS)
            .map(|i| format!("per-user/sub:user-{i}"))
            .collect(),
        limit,
        store: MemoryStore::default(),
        store_clock: MemoryStore::default(),
        gov: RateLimiter::keyed(quota),
        gov_fake: RateLimiter::dashmap_with_clock(quota, FakeRelativeClock::default()),
        now: OffsetDateTime::now_utc(),
        next: Cell::new(0),
    }
}

impl Limits {
    fn key(&self) -> &String {
        let i = self.next.get();
        self.next.set((i + 1) % KEYS);
        &self.keys[i]
    }

    fn ours_fixed(&self) -> bool {
        let key = self.key();
        self.store
            .check(black_box(key), &self.limit, self.now)
            .is_ok_and(|d| d.allowed)
    }

    fn ours_clock(&self) -> bool {
        let key = self.key();
        self.store_clock
            .check(black_box(key), &self.limit, OffsetDateTime::now_utc())
            .is_ok_and(|d| d.allowed)
    }

    fn governor(&self) -> bool {
        self.gov.check_key(black_box(self.key())).is_ok()
    }

    fn governor_fake(&self) -> bool {
        self.gov_fake.check_key(black_box(self.key())).is_ok()
    }
}

struct Gates {
    parts: http::request::Parts,
    anon: http::request::Parts,
    plain: Gate,
    limited: Gate,
    now: OffsetDateTime,
    tick: Cell<i64>,
}

fn policy(limits: bool) -> Policy {
    let (user, ip) = if limits {
        (
            r#", "limits": [{"id": "per-user", "key": "subject", "rate": "1000000/1ms", "burst": 1000000}]"#,
            r#", "limits": [{"id": "per-ip", "key": "ip", "rate": "1000000/1ms", "burst": 1000000}]"#,
        )
    } else {
        ("", "")
    };
    Policy::from_json(&format!(
        r#"{{"rules": [
          {{"id": "login", "match": {{"paths": ["/login"]}}, "require": {{"anonymous": true}}, "effect": "allow"{ip}}},
          {{"id": "users", "match": {{"paths": ["/users/**"]}}, "require": {{"authenticated": true}}, "effect": "allow"{user}}}
        ]}}"#
    ))
    .unwrap()
}

fn gates() -> Gates {
    let now = OffsetDateTime::now_utc();
    let key = TestKey::rsa("rsa", KeySize::Rsa2048);
    let claims = serde_json::json!({
        "iss": ISS, "aud": AUD, "sub": "user-1",
        "iat": now.unix_timestamp(), "exp": now.unix_timestamp() + 7200,
    });
    let token = key.mint(Algorithm::RS256, &claims);
    let body = jwks(&[&key]);
    let issuer = IssuerConfig::new(ISS, [AUD]).with_jwks_uri(format!("{ISS}/jwks"));
    let make = |limits: bool| {
        let g = Gate::new(
            GateConfig::new([issuer.clone()]).with_policy(policy(limits).compile().unwrap()),
        )
        .unwrap();
        for plan in g.poll(now) {
            g.apply_fetch_response(&plan, StatusCode::OK, &HeaderMap::new(), &body, now)
                .unwrap();
        }
        g
    };
    let parts = http::Request::get("/users/42")
        .header("host", "api.example.com")
        .header("authorization", format!("Bearer {token}"))
        .body(())
        .unwrap()
        .into_parts()
        .0;
    let anon = http::Request::get("/login")
        .header("host", "api.example.com")
        .body(())
        .unwrap()
        .into_parts()
        .0;
    Gates {
        parts,
        anon,
        plain: make(false),
        limited: make(true),
        now,
        tick: Cell::new(0),
    }
}

impl Gates {
    /// `now` moves 1 µs per call (in both arms), so the limit never
    /// refuses however long criterion runs.
    fn now(&self) -> OffsetDateTime {
        let t = self.tick.get() + 1;
        self.tick.set(t);
        self.now + Duration::microseconds(t)
    }

    fn check(&self, gate: &Gate, anonymous: bool) -> bool {
        let parts = if anonymous { &self.anon } else { &self.parts };
        let facts = RequestFacts::from_parts(parts).with_client_ip([192, 0, 2, 7].into());
        match gate.check(black_box(parts), &facts, self.now()) {
            Outcome::Allow { .. } => true,
            other => {
                eprintln!("refused after {} µs: {other:?}", self.tick.get());
                false
            }
        }
    }
}

/// Keyed (1024 keys) and single-key decisions on 1 and 2 threads, each
/// on its wall clock (governor's default quanta clock; `now_utc()` per
/// call for edge-auth), T = 1 µs and burst 1 000 000, with fresh limiters
/// for each round (warmed with one pass over the keys, untimed), so
/// nothing is refused: a round is far under the burst. Each thread times
/// its own loop after a barrier; a round's figure is the slowest thread's
/// time over all threads' decisions (aggregate ns per decision).
fn threaded() {
    let burst = 1_000_000;
    let limit = Limit::new(Rate::new(burst, Duration::seconds(1)).unwrap(), burst).unwrap();
    let quota = Quota::with_period(std::time::Duration::from_micros(1))
        .unwrap()
        .allow_burst(NonZeroU32::new(burst).unwrap());
    let keys: Vec<String> = (0..KEYS)
        .map(|i| format!("per-user/sub:user-{i}"))
        .collect();
    let single = &keys[..1];
    let names = [
        "edge-auth MemoryStore, 1024 keys",
        "governor keyed (DashMap), 1024 keys",
        "edge-auth MemoryStore, 1 key",
        "governor keyed (DashMap), 1 key",
        "governor direct, 1 key",
    ];
    let ours = || {
        let store = MemoryStore::default();
        move |key: &String| {
            store
                .check(black_box(key), &limit, OffsetDateTime::now_utc())
                .is_ok_and(|d| d.allowed)
        }
    };
    let gov_keyed = || {
        let gov: governor::DefaultKeyedRateLimiter<String> = RateLimiter::keyed(quota);
        move |key: &String| gov.check_key(black_box(key)).is_ok()
    };
    let gov_direct = || {
        let gov = RateLimiter::direct(quota);
        move |_: &String| black_box(&gov).check().is_ok()
    };
    for threads in [1, 2] {
        let mut samples = vec![Vec::with_capacity(THREAD_ROUNDS); names.len()];
        let mut refused = [0usize; 5];
        for _ in 0..THREAD_ROUNDS {
            let r = [
                timed(threads, &keys, ours),
                timed(threads, &keys, gov_keyed),
                timed(threads, single, ours),
                timed(threads, single, gov_keyed),
                timed(threads, single, gov_direct),
            ];
            for (i, (ns, no)) in r.into_iter().enumerate() {
                samples[i].push(ns);
                refused[i] += no;
            }
        }
        let r: Vec<(f64, f64)> = samples.iter_mut().map(|s| stats(s)).collect();
        println!(
            "\nlimit decisions on their wall clocks, threads={threads} ({THREAD_ROUNDS} interleaved rounds of {PER_THREAD} per thread; median / min aggregate ns per decision):"
        );
        for ((name, (med, min)), no) in names.iter().zip(&r).zip(refused) {
            println!(
                "{name:<40} {med:>7.1} / {min:>7.1} ns  ({:.2} M/s at median; {no} refused)",
                1e3 / med
            );
        }
        println!(
            "threads={threads} speed vs governor (governor ns / edge-auth ns, median / min): keyed {:.2}x / {:.2}x; 1 key vs keyed {:.2}x / {:.2}x; 1 key vs direct {:.2}x / {:.2}x",
            r[1].0 / r[0].0,
            r[1].1 / r[0].1,
            r[3].0 / r[2].0,
            r[3].1 / r[2].1,
            r[4].0 / r[2].0,
            r[4].1 / r[2].1
        );
    }
}

const PER_THREAD: usize = 20_000;
const THREAD_ROUNDS: usize = 61;

/// One round: a fresh limiter from `make`, warmed with one pass over
/// `keys`, then `threads` threads of `PER_THREAD` decisions each.
/// (aggregate ns per decision, refused decisions).
fn timed<D: Fn(&String) -> bool + Sync>(
    threads: usize,
    keys: &[String],
    make: impl Fn() -> D,
) -> (f64, usize) {
    let decide = make();
    for key in keys {
        decide(key);
    }
    let barrier = std::sync::Barrier::new(threads);
    let run = |t: usize| {
        barrier.wait();
        let start = Instant::now();
        let mut ok = 0;
        for i in 0..PER_THREAD {
            ok += usize::from(decide(&keys[(i + t * 7) % keys.len()]));
        }
        (start.elapsed(), PER_THREAD - ok)
    };
    let run = &run;
    let results: Vec<(std::time::Duration, usize)> = std::thread::scope(|s| {
        let others: Vec<_> = (1..threads).map(|t| s.spawn(move || run(t))).collect();
        let mine = run(0);
        std::iter::once(mine)
            .chain(others.into_iter().map(|h| h.join().unwrap()))
            .collect()
    });
    let slowest = results.iter().map(|r| r.0).max().unwrap();
    let refused = results.iter().map(|r| r.1).sum();
    (
        slowest.as_nanos() as f64 / (PER_THREAD * threads) as f64,
        refused,
    )
}

fn stats(v: &mut [f64]) -> (f64, f64) {
    v.sort_by(f64::total_cmp);
    (v[v.len() / 2], v[0])
}

type Op<'a> = (&'a str, &'a dyn Fn() -> bool);

/// Interleaved rounds of `per_round` calls of each op; (median, min) ns.
fn rounds(ops: &[Op<'_>], per_round: u32, rounds: usize) -> Vec<(f64, f64)> {
    let mut samples = vec![Vec::with_capacity(rounds); ops.len()];
    for _ in 0..rounds {
        for (i, (name, op)) in ops.iter().enumerate() {
            let t = Instant::now();
            for _ in 0..per_round {
                assert!(black_box(op()), "bench request refused: {name}");
            }
            samples[i].push(t.elapsed().as_nanos() as f64 / f64::from(per_round));
        }
    }
    samples.iter_mut().map(|s| stats(s)).collect()
}

/// `EDGE_AUTH_COUNT` mode: N decisions of one side, nothing else.
fn count_only(side: &str) {
    let n: usize = std::env::var("EDGE_AUTH_COUNT_N")
        .ok()
        .and_then(|n| n.parse().ok())
        .unwrap_or(100_000);
    let l = limits();
    let op: &dyn Fn() -> bool = match side {
        "ours_fixed" => &|| l.ours_fixed(),
        "governor_fake" => &|| l.governor_fake(),
        other => panic!("unknown EDGE_AUTH_COUNT side `{other}`"),
    };
    for _ in 0..KEYS {
        assert!(op());
    }
    for _ in 0..n {
        assert!(black_box(op()));
    }
}

fn main() {
    if let Ok(side) = std::env::var("EDGE_AUTH_COUNT") {
        count_only(&side);
        return;
    }
    let l = limits();
    let g = gates();
    assert!(l.ours_fixed() && l.ours_clock() && l.governor() && l.governor_fake());
    assert!(g.check(&g.plain, false) && g.check(&g.limited, false));
    assert!(g.check(&g.plain, true) && g.check(&g.limited, true));

    let mut c = Criterion::default().configure_from_args();
    let mut group = c.benchmark_group("limit/decision-1024-keys");
    group.bench_function("edge_auth_memory_fixed_now", |b| b.iter(|| l.ours_fixed()));
    group.bench_function("edge_auth_memory_now_utc", |b| b.iter(|| l.ours_clock()));
    group.bench_function("governor_keyed_default_clock", |b| b.iter(|| l.governor()));
    group.bench_function("governor_keyed_fake_clock", |b| {
        b.iter(|| l.governor_fake())
    });
    group.finish();
    let mut group = c.benchmark_group("limit/gate");
    group.bench_function("rs256_no_limit", |b| b.iter(|| g.check(&g.plain, false)));
    group.bench_function("rs256_one_limit", |b| b.iter(|| g.check(&g.limited, false)));
    group.bench_function("anonymous_no_limit", |b| b.iter(|| g.check(&g.plain, true)));
    group.bench_function("anonymous_one_limit", |b| {
        b.iter(|| g.check(&g.limited, true))
    });
    group.finish();
    c.final_summary();

    // Fresh state for the timed rounds (criterion ran millions of checks).
    let l = limits();
    let g = gates();
    let ops: [Op<'_>; 4] = [
        ("edge-auth MemoryStore, fixed now", &|| l.ours_fixed()),
        ("edge-auth MemoryStore, now_utc()", &|| l.ours_clock()),
        ("governor keyed, default clock", &|| l.governor()),
        ("governor keyed, fake clock", &|| l.governor_fake()),
    ];
    let r = rounds(&ops, 2000, 301);
    println!(
        "\nlimit decisions, {KEYS} keys (301 interleaved rounds of 2000; median / min ns per decision):"
    );
    for ((name, _), (med, min)) in ops.iter().zip(&r) {
        println!(
            "{name:<36} {med:>7.1} / {min:>7.1} ns  ({:.2} M/s at min)",
            1e3 / min
        );
    }
    println!(
        "speed vs governor (governor ns / edge-auth ns), with clock: {:.2}x median / {:.2}x min; fixed vs fake clock: {:.2}x / {:.2}x",
        r[2].0 / r[1].0,
        r[2].1 / r[1].1,
        r[3].0 / r[0].0,
        r[3].1 / r[0].1
    );
    threaded();

    let ops: [Op<'_>; 4] = [
        ("gate RS256, no limit", &|| g.check(&g.plain, false)),
        ("gate RS256, one limit", &|| g.check(&g.limited, false)),
        ("gate anonymous, no limit", &|| g.check(&g.plain, true)),
        ("gate anonymous, one limit", &|| g.check(&g.limited, true)),
    ];
    let r = rounds(&ops, 20, 301);
    println!(
        "\ngate with one limit vs without (301 interleaved rounds of 20; median / min ns per check):"
    );
    for ((name, _), (med, min)) in ops.iter().zip(&r) {
        println!("{name:<36} {med:>9.0} / {min:>9.0} ns");
    }
    println!(
        "added cost: RS256 {:.3}x median / {:.3}x min; anonymous {:.3}x / {:.3}x",
        r[1].0 / r[0].0,
        r[1].1 / r[0].1,
        r[3].0 / r[2].0,
        r[3].1 / r[2].1
    );
}
