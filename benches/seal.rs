//! The cost of sealing issuer key state (issue 23): a 10-key RSA-2048 JWKS
//! state exported and imported as plain JSON (`export_state` +
//! `serde_json`, `serde_json` + `import_state`) next to the sealed forms
//! (`export_sealed`, `import_sealed`) and the AEAD alone (`Sealer::seal` /
//! `open_str` on the same JSON), in one run. Criterion groups first, then
//! an interleaved timing loop prints medians and minima measured in the
//! same run (the CPU may be shared: minima are the figures to compare).

#[path = "../tests/it/support/jwt.rs"]
mod jwt_support;

use std::hint::black_box;
use std::time::Instant;

use aws_lc_rs::rsa::KeySize;
use criterion::Criterion;
use edge_auth::Secret;
use edge_auth::gate::{Gate, GateConfig, IssuerConfig, Outcome};
use edge_auth::jwk::cache::CacheState;
use edge_auth::policy::RequestFacts;
use edge_auth::seal::{PURPOSE_ISSUER_KEYS, Sealer};
use http::{HeaderMap, StatusCode};
use jsonwebtoken::Algorithm;
use jwt_support::{TestKey, jwks};
use serde_json::json;
use time::OffsetDateTime;

const ISS: &str = "https://idp.example.com";
const AUD: &str = "api://bench";
const KEYS: usize = 10;

struct Setup {
    gate: Gate,
    sealer: Sealer,
    json: String,
    sealed: String,
    now: OffsetDateTime,
}

fn setup() -> Setup {
    let now = OffsetDateTime::now_utc();
    let keys: Vec<TestKey> = (0..KEYS)
        .map(|i| TestKey::rsa(&format!("key-{i}"), KeySize::Rsa2048))
        .collect();
    let body = jwks(&keys.iter().collect::<Vec<_>>());
    let gate = Gate::new(GateConfig::new([
        IssuerConfig::new(ISS, [AUD]).with_jwks_uri(format!("{ISS}/jwks"))
    ]))
    .unwrap();
    let claims = json!({
        "iss": ISS, "aud": AUD, "sub": "bench",
        "iat": now.unix_timestamp(), "exp": now.unix_timestamp() + 3600,
    });
    let token = keys[0].mint(Algorithm::RS256, &claims);
    let parts = http::Request::get("/")
        .header("authorization", format!("Bearer {token}"))
        .body(())
        .unwrap()
        .into_parts()
        .0;
    let facts = RequestFacts::from_parts(&parts);
    let mut warm = false;
    for _ in 0..3 {
        match gate.check(&parts, &facts, now) {
            Outcome::FetchKeys(plan) => gate
                .apply_fetch_response(&plan, StatusCode::OK, &HeaderMap::new(), &body, now)
                .unwrap(),
            Outcome::Allow { .. } => {
                warm = true;
                break;
            }
            other => panic!("bench request refused: {other:?}"),
        }
    }
    assert!(warm, "gate kept asking for keys");
    let sealer = Sealer::new(1, &Secret::new(vec![0x5e; 32])).unwrap();
    let json = export_json(&gate);
    let sealed = gate.export_sealed(ISS, &sealer).unwrap().unwrap();
    Setup {
        gate,
        sealer,
        json,
        sealed,
        now,
    }
}

fn export_json(gate: &Gate) -> String {
    serde_json::to_string(&gate.export_state(ISS).unwrap()).unwrap()
}

fn import_json(s: &Setup) {
    let state: CacheState = serde_json::from_str(black_box(&s.json)).unwrap();
    s.gate.import_state(ISS, &state, s.now).unwrap();
}

fn export_sealed(s: &Setup) -> String {
    s.gate.export_sealed(ISS, &s.sealer).unwrap().unwrap()
}

fn import_sealed(s: &Setup) {
    s.gate
        .import_sealed(ISS, &s.sealer, black_box(&s.sealed), s.now)
        .unwrap();
}

fn seal_only(s: &Setup) -> String {
    s.sealer
        .seal_to_string(PURPOSE_ISSUER_KEYS, ISS, black_box(s.json.as_bytes()))
        .unwrap()
}

fn open_only(s: &Setup) -> Vec<u8> {
    s.sealer
        .open_str(PURPOSE_ISSUER_KEYS, ISS, black_box(&s.sealed))
        .unwrap()
}

fn median(mut v: Vec<f64>) -> f64 {
    v.sort_by(|a, b| a.total_cmp(b));
    v.get(v.len() / 2).copied().unwrap_or(f64::NAN)
}

fn ratios(s: &Setup) {
    const PER_ROUND: u32 = 20;
    const ROUNDS: usize = 201;
    let mut samples: [Vec<f64>; 6] = Default::default();
    let ops: [(&str, &dyn Fn()); 6] = [
        ("export_state + to_string     ", &|| {
            drop(black_box(export_json(&s.gate)))
        }),
        ("export_sealed                ", &|| {
            drop(black_box(export_sealed(s)))
        }),
        ("Sealer::seal_to_string alone ", &|| {
            drop(black_box(seal_only(s)))
        }),
        ("from_str + import_state      ", &|| import_json(s)),
        ("import_sealed                ", &|| import_sealed(s)),
        ("Sealer::open_str alone       ", &|| {
            drop(black_box(open_only(s)))
        }),
    ];
    for _ in 0..ROUNDS {
        for ((_, op), out) in ops.iter().zip(samples.iter_mut()) {
            let t = Instant::now();
            for _ in 0..PER_ROUND {
                op();
            }
            out.push(t.elapsed().as_nanos() as f64 / f64::from(PER_ROUND));
        }
    }
    println!(
        "\nseal ({KEYS} RSA-2048 keys, state JSON {} bytes, sealed text {} bytes; \
         {ROUNDS} interleaved rounds of {PER_ROUND}, same run; min / median ns per op):",
        s.json.len(),
        s.sealed.len()
    );
    let mins: Vec<f64> = samples
        .iter()
        .map(|x| x.iter().copied().fold(f64::INFINITY, f64::min))
        .collect();
    for (i, ((name, _), x)) in ops.iter().zip(samples).enumerate() {
        let base = if i < 3 { mins[0] } else { mins[3] };
        println!(
            "{name} {:>9.0} / {:>9.0} ns  {:.3}x plain (min)",
            mins[i],
            median(x),
            mins[i] / base
        );
    }
}

fn main() {
    let s = setup();
    assert_eq!(open_only(&s), s.json.as_bytes());
    let mut c = Criterion::default().configure_from_args();
    let mut g = c.benchmark_group("seal/issuer-keys-10-rsa");
    g.bench_function("export_json", |b| b.iter(|| export_json(&s.gate)));
    g.bench_function("export_sealed", |b| b.iter(|| export_sealed(&s)));
    g.bench_function("seal_only", |b| b.iter(|| seal_only(&s)));
    g.bench_function("import_json", |b| b.iter(|| import_json(&s)));
    g.bench_function("import_sealed", |b| b.iter(|| import_sealed(&s)));
    g.bench_function("open_only", |b| b.iter(|| open_only(&s)));
    g.finish();
    c.final_summary();
    ratios(&s);
}
