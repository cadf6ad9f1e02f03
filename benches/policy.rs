//! Policy evaluation cost against policy size: generated policies of 10,
//! 1 000 and 10 000 rules (distinct path prefixes, params, `*` and `**`,
//! a global deny rule every request meets). The trie should keep
//! t(10 000) / t(10) near 1; the ratio is printed from this run's medians.
//!
//! Also in this run: a rule with two capture comparisons (tenant and
//! subject) against the same rule without them (target <= 1.2x), the
//! compile (reload) cost of a 1 000-rule policy, and what a gate check pays
//! to read its swappable policy (`Gate::policy`: a read lock held to clone
//! an `Arc`) next to an evaluation.
//!
//! `cargo bench --bench policy -- --warm-up-time 1 --measurement-time 3`
//!
//! Instruction counts (stable on a loaded machine): with
//! `EDGE_AUTH_COUNT=plain|two_captures` and `EDGE_AUTH_COUNT_N=N` the binary
//! only runs N evaluations of that side and exits, so
//! `valgrind --tool=cachegrind` at two values of N gives instructions per
//! evaluation as the difference over the difference of N.

use std::hint::black_box;
use std::path::PathBuf;

use criterion::{BenchmarkId, Criterion};
use edge_auth::Principal;
use edge_auth::policy::{CompiledPolicy, Policy, RequestFacts};
use http::Method;
use serde_json::{Value, json};

const SIZES: [usize; 3] = [10, 1_000, 10_000];
const GROUP: &str = "policy_evaluate";

fn rule(i: usize) -> Value {
    match i % 4 {
        0 => json!({
            "id": format!("users-{i}"),
            "match": {"methods": ["GET"], "paths": [format!("/svc{i}/users/{{id}}"), format!("/svc{i}/users/{{id}}/posts/{{post}}")]},
            "require": {"scopes": [format!("svc{i}:read")]},
            "effect": "allow"
        }),
        1 => json!({
            "id": format!("static-{i}"),
            "match": {"methods": ["GET", "HEAD"], "paths": [format!("/svc{i}/static/*")]},
            "require": {"anonymous": true},
            "effect": "allow"
        }),
        2 => json!({
            "id": format!("api-{i}"),
            "match": {"hosts": ["api.example.com", "*.tenants.example.com"], "paths": [format!("/svc{i}/api/**")]},
            "require": {"any_roles": ["reader", format!("svc{i}-admin")]},
            "effect": "allow"
        }),
        _ => json!({
            "id": format!("admin-{i}"),
            "match": {"paths": [format!("/svc{i}/admin/**")]},
            "require": {"client_ip": ["10.0.0.0/8"]},
            "effect": "deny"
        }),
    }
}

fn policy(n: usize) -> CompiledPolicy {
    let mut rules = vec![json!({
        "id": "suspended",
        "require": {"any_roles": ["suspended"]},
        "effect": "deny"
    })];
    rules.extend((1..n).map(rule));
    let policy: Policy = serde_json::from_value(json!({ "rules": rules })).expect("policy");
    policy.compile().expect("compile")
}

fn bench(c: &mut Criterion) {
    let mut group = c.benchmark_group(GROUP);
    let method = Method::GET;
    for n in SIZES {
        let compiled = policy(n);
        // A rule in the middle of the policy, so a linear scan would pay for
        // half of it.
        let target = (n / 2) / 4 * 4 + 2;
        let path = format!("/svc{target}/api/v2/items/17");
        let principal = Principal::new("alice").with_roles(["reader"]);
        let facts = RequestFacts::new(&method, &path)
            .with_host("acme.tenants.example.com")
            .with_client_ip("203.0.113.7".parse().expect("ip"));
        let decision = compiled.evaluate(&facts, Some(&principal));
        assert!(decision.is_allowed(), "{decision:?}");
        group.bench_with_input(BenchmarkId::from_parameter(n), &n, |b, _| {
            b.iter(|| compiled.evaluate(black_box(&facts), black_box(Some(&principal))));
        });
    }
    group.finish();
}

const CAPTURES: &str = "policy_captures";

fn capture_rule(with_captures: bool) -> CompiledPolicy {
    let mut require = json!({"scopes": ["users:read"]});
    if with_captures {
        require["claims"] = json!([{"claim": "/tid", "equals_capture": "tenant"}]);
        require["subject_equals_capture"] = json!("id");
    }
    let policy: Policy = serde_json::from_value(json!({ "rules": [
        {"id": "suspended", "require": {"any_roles": ["suspended"]}, "effect": "deny"},
        {"id": "tenant-user", "match": {"methods": ["GET"], "paths": ["/tenants/{tenant}/users/{id}"]},
         "require": require, "effect": "allow"}
    ] }))
    .expect("policy");
    policy.compile().expect("compile")
}

fn bench_captures(c: &mut Criterion) {
    let mut group = c.benchmark_group(CAPTURES);
    let method = Method::GET;
    let claims = json!({"tid": "t1", "sub": "alice"});
    let Value::Object(claims) = claims else {
        return;
    };
    let principal = Principal::new("alice")
        .with_scopes(["users:read"])
        .with_claims(claims);
    let facts = RequestFacts::new(&method, "/tenants/t1/users/alice");
    for (name, with) in [("plain", false), ("two_captures", true)] {
        let compiled = capture_rule(with);
        let decision = compiled.evaluate(&facts, Some(&principal));
        assert!(decision.is_allowed(), "{decision:?}");
        group.bench_function(name, |b| {
            b.iter(|| compiled.evaluate(black_box(&facts), black_box(Some(&principal))));
        });
    }
    group.finish();

    let mut group = c.benchmark_group("policy_compile");
    let rules: Vec<Value> = std::iter::once(json!({
        "id": "suspended", "require": {"any_roles": ["suspended"]}, "effect": "deny"
    }))
    .chain((1..1_000).map(rule))
    .collect();
    let document: Policy = serde_json::from_value(json!({ "rules": rules })).expect("policy");
    group.bench_function("1000", |b| b.iter(|| black_box(&document).compile()));
    group.finish();

    let mut group = c.benchmark_group("gate_policy_snapshot");
    let issuer = edge_auth::gate::IssuerConfig::new("https://idp.example.com", ["api"])
        .with_jwks_uri("https://idp.example.com/jwks");
    let gate = edge_auth::gate::Gate::new(
        edge_auth::gate::GateConfig::new([issuer]).with_policy(capture_rule(false)),
    )
    .expect("gate");
    group.bench_function("read", |b| b.iter(|| black_box(&gate).policy()));
    group.finish();
}

/// Only criterion's estimates written by this run count: a filtered run
/// leaves the other groups' files from an earlier run in place.
fn median_at(path: &[&str], since: std::time::SystemTime) -> Option<f64> {
    let target = std::env::var_os("CARGO_TARGET_DIR")
        .map(PathBuf::from)
        .unwrap_or_else(|| PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("target"));
    let mut file = target.join("criterion");
    for part in path {
        file = file.join(part);
    }
    let file = file.join("new/estimates.json");
    let modified = std::fs::metadata(&file).and_then(|m| m.modified()).ok()?;
    if modified < since {
        return None;
    }
    let text = std::fs::read_to_string(file).ok()?;
    let value: Value = serde_json::from_str(&text).ok()?;
    value["median"]["point_estimate"].as_f64()
}

fn capture_inputs() -> Option<Principal> {
    let Value::Object(claims) = json!({"tid": "t1", "sub": "alice"}) else {
        return None;
    };
    Some(
        Principal::new("alice")
            .with_scopes(["users:read"])
            .with_claims(claims),
    )
}

/// `EDGE_AUTH_COUNT` mode: N evaluations of one side, nothing else.
fn count_only(side: &str) {
    let n: usize = std::env::var("EDGE_AUTH_COUNT_N")
        .ok()
        .and_then(|n| n.parse().ok())
        .unwrap_or(100_000);
    let Some(principal) = capture_inputs() else {
        return;
    };
    let method = Method::GET;
    let facts = RequestFacts::new(&method, "/tenants/t1/users/alice");
    let policy = capture_rule(side == "two_captures");
    assert!(policy.evaluate(&facts, Some(&principal)).is_allowed());
    for _ in 0..n {
        black_box(policy.evaluate(black_box(&facts), black_box(Some(&principal))));
    }
}

/// The capture ratio again from interleaved rounds (plain, then captures,
/// 2 000 evaluations each, 301 rounds): the minimum and the median of
/// each side. Short rounds on a shared machine: many of them see no other
/// process, and a slow stretch hits both sides alike.
fn interleaved_captures() -> Option<[(f64, f64); 2]> {
    let method = Method::GET;
    let principal = capture_inputs()?;
    let facts = RequestFacts::new(&method, "/tenants/t1/users/alice");
    let policies = [capture_rule(false), capture_rule(true)];
    let time = |policy: &CompiledPolicy| {
        let started = std::time::Instant::now();
        for _ in 0..2_000 {
            black_box(policy.evaluate(black_box(&facts), black_box(Some(&principal))));
        }
        started.elapsed().as_secs_f64() * 1e9 / 2_000.0
    };
    let mut samples = [Vec::new(), Vec::new()];
    for _ in 0..301 {
        for (side, policy) in samples.iter_mut().zip(&policies) {
            side.push(time(policy));
        }
    }
    Some(samples.map(|mut s| {
        s.sort_by(f64::total_cmp);
        (
            s.first().copied().unwrap_or(f64::NAN),
            s.get(s.len() / 2).copied().unwrap_or(f64::NAN),
        )
    }))
}

fn main() {
    if let Ok(side) = std::env::var("EDGE_AUTH_COUNT") {
        count_only(&side);
        return;
    }
    let since = std::time::SystemTime::now();
    if let Some([(plain, plain_med), (captures, captures_med)]) = interleaved_captures() {
        println!(
            "captures (301 interleaved rounds of 2000; min / median): plain = {plain:.1} / {plain_med:.1} ns, two captures = {captures:.1} / {captures_med:.1} ns, ratio = {:.2} / {:.2} (target <= 1.2)",
            captures / plain,
            captures_med / plain_med
        );
    }
    let mut c = Criterion::default().configure_from_args();
    bench(&mut c);
    bench_captures(&mut c);
    c.final_summary();
    if let (Some(plain), Some(captures)) = (
        median_at(&[CAPTURES, "plain"], since),
        median_at(&[CAPTURES, "two_captures"], since),
    ) {
        println!(
            "captures (same run): plain = {plain:.1} ns, two captures = {captures:.1} ns, ratio = {:.2} (target <= 1.2)",
            captures / plain
        );
    }
    if let Some(compile) = median_at(&["policy_compile", "1000"], since) {
        println!(
            "reload cost: compile of a 1 000-rule policy = {:.2} ms",
            compile / 1e6
        );
    }
    if let Some(read) = median_at(&["gate_policy_snapshot", "read"], since) {
        println!("gate policy snapshot (read lock + Arc clone) = {read:.1} ns");
    }
    let medians: Vec<Option<f64>> = SIZES
        .iter()
        .map(|&n| median_at(&[GROUP, &n.to_string()], since))
        .collect();
    if let [Some(small), Some(mid), Some(large)] = medians[..] {
        println!(
            "policy medians: t(10) = {small:.1} ns, t(1000) = {mid:.1} ns, t(10000) = {large:.1} ns"
        );
        println!(
            "policy ratios (same run): t(1000)/t(10) = {:.2}, t(10000)/t(10) = {:.2} (target <= 2.0)",
            mid / small,
            large / small
        );
    }
}
