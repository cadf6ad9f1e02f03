//! `Gate::check` on a warm key cache against `Validator::validate` alone
//! (same token, same key set, same validation rules), for an
//! Entra-ID-shaped RS256 access token. Criterion groups first, then an
//! interleaved timing loop prints median ratios measured in the same run.
//!
//! Two gate configurations: `gate_minimal` (one issuer, role mapper taking
//! only `sub`/`iss`, the built-in "authenticated" policy) isolates the
//! pipeline's own cost; `gate_full` adds the Entra ID role preset and the
//! shipped 17-rule gateway policy. `gate_check_minimal_cached` is the
//! minimal gate with the verified-token cache on, on its hit path (the
//! same token again: no signature verification).

#[path = "../tests/it/support/jwt.rs"]
mod jwt_support;

use std::hint::black_box;
use std::time::Instant;

use aws_lc_rs::rsa::KeySize;
use criterion::Criterion;
use edge_auth::gate::{Gate, GateConfig, IssuerConfig, Outcome, TokenCacheConfig};
use edge_auth::jwk::{KeySet, KeySetOptions};
use edge_auth::jwt::{Validation, Validator};
use edge_auth::oidc::RoleMapper;
use edge_auth::policy::{Policy, RequestFacts};
use http::{HeaderMap, StatusCode};
use jsonwebtoken::Algorithm;
use jwt_support::{TestKey, jwks};
use serde_json::{Map, Value};
use time::OffsetDateTime;

const TENANT: &str = "72f988bf-86f1-41af-91ab-2d7cd011db47";
const CLIENT: &str = "2f5a6b1c-0000-4000-8000-00000000edge";
const TEMPLATE: &str = "https://login.microsoftonline.com/{tenantid}/v2.0";
const JWKS_URI: &str = "https://login.microsoftonline.com/common/discovery/v2.0/keys";

fn aud() -> String {
    format!("api://{CLIENT}")
}

fn claims(now: i64) -> Value {
    jwt_support::entra_access_token_claims(TENANT, &aud(), now)
}

struct Setup {
    parts: http::request::Parts,
    token: String,
    keys: KeySet,
    validator: Validator,
    minimal: Gate,
    full: Gate,
    cached: Gate,
    now: OffsetDateTime,
}

fn warm(gate: &Gate, parts: &http::request::Parts, body: &[u8], now: OffsetDateTime) {
    let facts = RequestFacts::from_parts(parts);
    for _ in 0..3 {
        match gate.check(parts, &facts, now) {
            Outcome::FetchKeys(plan) => gate
                .apply_fetch_response(&plan, StatusCode::OK, &HeaderMap::new(), body, now)
                .unwrap(),
            Outcome::Allow { .. } => return,
            other => panic!("bench request refused: {other:?}"),
        }
    }
    panic!("gate kept asking for keys");
}

fn setup() -> Setup {
    let now = OffsetDateTime::now_utc();
    let key = TestKey::rsa("rsa", KeySize::Rsa2048);
    let token = key.mint(Algorithm::RS256, &claims(now.unix_timestamp()));
    let body = jwks(&[&key]);
    let keys = KeySet::from_jwks(&body, &KeySetOptions::default()).unwrap();

    let mut validation = Validation::default();
    validation.issuers = vec![TEMPLATE.into()];
    validation.audiences = vec![aud()];
    validation.algorithms = vec![Algorithm::RS256];
    let validator = Validator::new(validation.clone());

    let issuer = IssuerConfig::new(TEMPLATE, [aud()])
        .with_jwks_uri(JWKS_URI)
        .with_validation(validation);
    let minimal = Gate::new(GateConfig::new([issuer.clone()])).unwrap();
    let cached = Gate::new(
        GateConfig::new([issuer.clone()]).with_token_cache(TokenCacheConfig::new(10_000)),
    )
    .unwrap();
    let policy_json = std::fs::read_to_string(concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/examples/policies/gateway.json"
    ))
    .unwrap();
    let policy = Policy::from_json(&policy_json).unwrap().compile().unwrap();
    let full = Gate::new(
        GateConfig::new([issuer.with_roles(RoleMapper::entra_id(CLIENT))]).with_policy(policy),
    )
    .unwrap();

    let parts = http::Request::get("/users")
        .header("host", "api.example.com")
        .header("authorization", format!("Bearer {token}"))
        .header("accept", "application/json")
        .header("user-agent", "bench/1.0")
        .body(())
        .unwrap()
        .into_parts()
        .0;
    warm(&minimal, &parts, &body, now);
    warm(&full, &parts, &body, now);
    // Warmed, and the token verified once: every later check is a hit.
    warm(&cached, &parts, &body, now);
    Setup {
        parts,
        token,
        keys,
        validator,
        minimal,
        full,
        cached,
        now,
    }
}

fn validate(s: &Setup) -> bool {
    s.validator
        .validate::<Map<String, Value>>(black_box(&s.token), &s.keys, s.now)
        .is_ok()
}

fn check(s: &Setup, gate: &Gate) -> bool {
    let facts = RequestFacts::from_parts(&s.parts);
    matches!(
        gate.check(black_box(&s.parts), &facts, s.now),
        Outcome::Allow { .. }
    )
}

fn median(mut v: Vec<f64>) -> f64 {
    v.sort_by(|a, b| a.total_cmp(b));
    v.get(v.len() / 2).copied().unwrap_or(f64::NAN)
}

fn ratios(s: &Setup) {
    // Many short interleaved rounds: load on a shared machine comes in
    // bursts, and short rounds let the median and the minimum see past them.
    const PER_ROUND: u32 = 20;
    const ROUNDS: usize = 401;
    let (mut v, mut m, mut f, mut c) = (Vec::new(), Vec::new(), Vec::new(), Vec::new());
    let time = |out: &mut Vec<f64>, op: &dyn Fn() -> bool| {
        let t = Instant::now();
        for _ in 0..PER_ROUND {
            assert!(black_box(op()), "bench request refused");
        }
        out.push(t.elapsed().as_nanos() as f64 / f64::from(PER_ROUND));
    };
    for _ in 0..ROUNDS {
        time(&mut v, &|| validate(s));
        time(&mut m, &|| check(s, &s.minimal));
        time(&mut f, &|| check(s, &s.full));
        time(&mut c, &|| check(s, &s.cached));
    }
    let min = |x: &[f64]| x.iter().copied().fold(f64::INFINITY, f64::min);
    let (vmin, mmin, fmin, cmin) = (min(&v), min(&m), min(&f), min(&c));
    let (v, m, f, c) = (median(v), median(m), median(f), median(c));
    println!(
        "\ngate ratios ({ROUNDS} interleaved rounds of {PER_ROUND}, same run; median / min ns per op):"
    );
    println!("Validator::validate alone        {v:>8.0} / {vmin:>8.0} ns");
    println!(
        "Gate::check, minimal             {m:>8.0} / {mmin:>8.0} ns  {:.3}x / {:.3}x validate",
        m / v,
        mmin / vmin
    );
    println!(
        "Gate::check, Entra roles+policy  {f:>8.0} / {fmin:>8.0} ns  {:.3}x / {:.3}x validate",
        f / v,
        fmin / vmin
    );
    println!(
        "Gate::check, minimal, token hit  {c:>8.0} / {cmin:>8.0} ns  {:.3}x / {:.3}x validate, {:.1}x / {:.1}x faster than minimal",
        c / v,
        cmin / vmin,
        m / c,
        mmin / cmin
    );
    println!("(RS256 token of {} bytes)", s.token.len());
}

fn main() {
    let s = setup();
    assert!(validate(&s) && check(&s, &s.minimal) && check(&s, &s.full) && check(&s, &s.cached));
    let mut c = Criterion::default().configure_from_args();
    let mut g = c.benchmark_group("gate/RS256-entra");
    g.bench_function("validator_validate", |b| b.iter(|| validate(&s)));
    g.bench_function("gate_check_minimal", |b| b.iter(|| check(&s, &s.minimal)));
    g.bench_function("gate_check_full", |b| b.iter(|| check(&s, &s.full)));
    g.bench_function("gate_check_minimal_cached", |b| {
        b.iter(|| check(&s, &s.cached))
    });
    g.finish();
    c.final_summary();
    ratios(&s);
    let stats = s.cached.token_cache_stats().unwrap();
    assert_eq!(
        (stats.misses, stats.inserts),
        (1, 1),
        "the cached gate verified again"
    );
}
