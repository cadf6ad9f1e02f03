//! SigV4 signing of a typical API Gateway request (POST, 6 headers, 1 KiB
//! JSON body) against the `aws-sigv4` crate and against the floor (the two
//! SHA-256 digests and the HMAC chain over the same bytes), all in the same
//! run; then verification. Ratios are printed at the end from this run's
//! medians.
//!
//! `cargo bench --bench sigv4 -- --warm-up-time 1 --measurement-time 3`

use std::hint::black_box;

use criterion::Criterion;
use edge_auth::Secret;
use edge_auth::sigv4::{self, Credentials, Payload, SigningKeyCache, SigningParams, VerifyParams};
use ring::{digest, hmac};

const AKID: &str = "AKIDEXAMPLE";
const SECRET: &str = "wJalrXUtnFEMI/K7MDENG+bPxRfiCYEXAMPLEKEY";
const URI: &str = "https://abc123defg.execute-api.us-east-1.amazonaws.com/prod/orders/42/items";
const HEADERS: [(&str, &str); 6] = [
    ("content-type", "application/json"),
    ("accept", "application/json"),
    ("user-agent", "edge-gateway/1.0"),
    ("x-request-id", "3f1c2a9e-8d7b-4c55-9e0a-7b1d2c3e4f50"),
    ("x-tenant", "acme-corp"),
    ("content-length", "1024"),
];

fn body() -> Vec<u8> {
    let mut s = String::from("{\"items\":[");
    let mut i = 0;
    while s.len() < 1000 {
        s.push_str(&format!(
            "{{\"sku\":\"SKU-{i:05}\",\"qty\":{}}},",
            i % 7 + 1
        ));
        i += 1;
    }
    s.pop();
    s.push_str("]}");
    while s.len() < 1024 {
        s.insert(s.len() - 1, ' ');
    }
    s.into_bytes()
}

fn time() -> time::OffsetDateTime {
    time::macros::datetime!(2026-11-23 10:00:00 UTC)
}

fn parts() -> http::request::Parts {
    let mut b = http::Request::post(URI);
    for (n, v) in HEADERS {
        b = b.header(n, v);
    }
    b.body(()).unwrap().into_parts().0
}

fn aws_sign(parts: &http::request::Parts, body: &[u8]) -> String {
    use aws_sigv4::http_request::{SignableBody, SignableRequest, SigningSettings, sign};
    let identity = aws_credential_types::Credentials::new(AKID, SECRET, None, None, "bench").into();
    let params = aws_sigv4::sign::v4::SigningParams::builder()
        .identity(&identity)
        .region("us-east-1")
        .name("execute-api")
        .time(time().into())
        .settings(SigningSettings::default())
        .build()
        .unwrap()
        .into();
    let uri = parts.uri.to_string();
    let headers = parts
        .headers
        .iter()
        .map(|(n, v)| (n.as_str(), v.to_str().unwrap()));
    let signable = SignableRequest::new(
        parts.method.as_str(),
        uri,
        headers,
        SignableBody::Bytes(body),
    )
    .unwrap();
    sign(signable, &params).unwrap().signature().to_owned()
}

/// The unavoidable work: SHA-256 of the body, SHA-256 of the canonical
/// request, (optionally) the four-HMAC key derivation, the final HMAC.
fn floor(
    body: &[u8],
    canonical_request: &[u8],
    sts_prefix: &str,
    derive: bool,
    key: &hmac::Key,
) -> hmac::Tag {
    let body_hash = digest::digest(&digest::SHA256, body);
    let creq_hash = digest::digest(&digest::SHA256, canonical_request);
    let key = if derive {
        let mut k = hmac::Key::new(hmac::HMAC_SHA256, format!("AWS4{SECRET}").as_bytes());
        for part in ["20261123", "us-east-1", "execute-api", "aws4_request"] {
            let t = hmac::sign(&k, part.as_bytes());
            k = hmac::Key::new(hmac::HMAC_SHA256, t.as_ref());
        }
        k
    } else {
        key.clone()
    };
    let mut ctx = hmac::Context::with_key(&key);
    ctx.update(sts_prefix.as_bytes());
    ctx.update(creq_hash.as_ref());
    ctx.update(body_hash.as_ref());
    ctx.sign()
}

fn benches(c: &mut Criterion) {
    let parts = parts();
    let body = body();
    assert_eq!(body.len(), 1024);
    let creds = Credentials::new(AKID, SECRET);
    let cache = SigningKeyCache::default();
    let mut warm = SigningParams::new("us-east-1", "execute-api", time());
    warm.key_cache = Some(&cache);
    let cold = SigningParams::new("us-east-1", "execute-api", time());

    let ours = sigv4::sign(&parts, Payload::Bytes(&body), &creds, &warm).unwrap();
    assert_eq!(
        ours.signature(),
        aws_sign(&parts, &body),
        "same signature as aws-sigv4"
    );
    let creq = ours.canonical_request().to_vec();
    let sts_prefix =
        "AWS4-HMAC-SHA256\n20261123T100000Z\n20261123/us-east-1/execute-api/aws4_request\n";
    let fixed_key = hmac::Key::new(hmac::HMAC_SHA256, b"k");

    let mut signed = http::Request::from_parts(parts.clone(), body.clone());
    ours.apply_to(&mut signed).unwrap();
    let (signed_parts, _) = signed.into_parts();
    let verify_cache = SigningKeyCache::default();
    let mut verify_warm = VerifyParams::new("us-east-1", "execute-api", time());
    verify_warm.key_cache = Some(&verify_cache);
    let verify_cold = VerifyParams::new("us-east-1", "execute-api", time());
    let lookup = |id: &str| (id == AKID).then(|| Secret::new(SECRET.to_owned()));

    // Each verify runs right after the sign it is compared with: criterion
    // measures sequentially, and on a shared machine the load drifts.
    let mut g = c.benchmark_group("sigv4");
    g.bench_function("aws_sigv4", |b| {
        b.iter(|| aws_sign(black_box(&parts), black_box(&body)))
    });
    g.bench_function("ours_warm", |b| {
        b.iter(|| {
            sigv4::sign(
                black_box(&parts),
                Payload::Bytes(black_box(&body)),
                &creds,
                &warm,
            )
            .unwrap()
        })
    });
    g.bench_function("verify_creds_warm", |b| {
        b.iter(|| {
            sigv4::verify_with_credentials(
                black_box(&signed_parts),
                Payload::Bytes(black_box(&body)),
                |id| (id == AKID).then_some(&creds),
                &verify_warm,
            )
            .unwrap()
        })
    });
    g.bench_function("verify_warm", |b| {
        b.iter(|| {
            sigv4::verify(
                black_box(&signed_parts),
                Payload::Bytes(black_box(&body)),
                lookup,
                &verify_warm,
            )
            .unwrap()
        })
    });
    g.bench_function("ours_cold", |b| {
        b.iter(|| {
            sigv4::sign(
                black_box(&parts),
                Payload::Bytes(black_box(&body)),
                &creds,
                &cold,
            )
            .unwrap()
        })
    });
    g.bench_function("verify_creds_cold", |b| {
        b.iter(|| {
            sigv4::verify_with_credentials(
                black_box(&signed_parts),
                Payload::Bytes(black_box(&body)),
                |id| (id == AKID).then_some(&creds),
                &verify_cold,
            )
            .unwrap()
        })
    });
    g.bench_function("verify_cold", |b| {
        b.iter(|| {
            sigv4::verify(
                black_box(&signed_parts),
                Payload::Bytes(black_box(&body)),
                lookup,
                &verify_cold,
            )
            .unwrap()
        })
    });
    g.bench_function("floor_derive", |b| {
        b.iter(|| {
            floor(
                black_box(&body),
                black_box(&creq),
                sts_prefix,
                true,
                &fixed_key,
            )
        })
    });
    g.bench_function("floor_cached", |b| {
        b.iter(|| {
            floor(
                black_box(&body),
                black_box(&creq),
                sts_prefix,
                false,
                &fixed_key,
            )
        })
    });
    g.finish();
}

fn median_ns(id: &str) -> Option<f64> {
    let dir = std::env::var_os("CARGO_TARGET_DIR")
        .map(std::path::PathBuf::from)
        .unwrap_or_else(|| std::path::PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("target"));
    let text =
        std::fs::read_to_string(dir.join(format!("criterion/sigv4/{id}/new/estimates.json")))
            .ok()?;
    let v: serde_json::Value = serde_json::from_str(&text).ok()?;
    v["median"]["point_estimate"].as_f64()
}

fn report() {
    let ids = [
        "aws_sigv4",
        "ours_warm",
        "ours_cold",
        "floor_derive",
        "floor_cached",
        "verify_warm",
        "verify_cold",
        "verify_creds_warm",
        "verify_creds_cold",
    ];
    let m: Vec<Option<f64>> = ids.iter().map(|id| median_ns(id)).collect();
    let [
        Some(aws),
        Some(warm),
        Some(cold),
        Some(fd),
        Some(fc),
        Some(vw),
        Some(vc),
        Some(vcw),
        Some(vcc),
    ] = m[..]
    else {
        println!("sigv4 ratios: not every benchmark ran in this invocation");
        return;
    };
    println!(
        "\nsigv4 medians (ns): aws-sigv4 {aws:.0}, ours warm {warm:.0}, ours cold {cold:.0}, floor+derive {fd:.0}, floor cached {fc:.0}, verify warm {vw:.0}, verify cold {vc:.0}"
    );
    println!(
        "aws-sigv4 / ours (warm cache): {:.2}x  (target >= 2)",
        aws / warm
    );
    println!(
        "aws-sigv4 / ours (cold cache): {:.2}x  (target >= 1.5)",
        aws / cold
    );
    println!("ours warm / floor cached key:  {:.2}x", warm / fc);
    println!("ours cold / floor with derive: {:.2}x", cold / fd);
    println!(
        "verify_with_credentials warm / sign warm: {:.2}x  (target <= 1.2)",
        vcw / warm
    );
    println!(
        "verify_with_credentials cold / sign cold: {:.2}x  (target <= 1.2)",
        vcc / cold
    );
    println!(
        "verify (closure) warm / sign warm:        {:.2}x",
        vw / warm
    );
    println!(
        "verify (closure) cold / sign cold:        {:.2}x",
        vc / cold
    );
    println!("verify_creds_warm median {vcw:.0} ns, verify_creds_cold median {vcc:.0} ns");
}

/// Ratios measured pairwise: each round times a batch of `a` and a batch of
/// `b` back to back (alternating which goes first), so load changes on a
/// shared machine hit both sides; the median over rounds is reported.
fn paired(
    name: &str,
    target: &str,
    rounds: usize,
    batch: usize,
    mut a: impl FnMut(),
    mut b: impl FnMut(),
) {
    use std::time::Instant;
    let mut ratios = Vec::with_capacity(rounds);
    for round in 0..rounds {
        let time = |f: &mut dyn FnMut()| {
            let start = Instant::now();
            for _ in 0..batch {
                f();
            }
            start.elapsed().as_nanos() as f64
        };
        let (ta, tb) = if round % 2 == 0 {
            let ta = time(&mut a);
            (ta, time(&mut b))
        } else {
            let tb = time(&mut b);
            (time(&mut a), tb)
        };
        ratios.push(ta / tb);
    }
    ratios.sort_by(|x, y| x.partial_cmp(y).unwrap());
    let q = |p: f64| ratios[((ratios.len() - 1) as f64 * p) as usize];
    println!(
        "paired {name}: median {:.2}x (p10 {:.2}, p90 {:.2}) {target}",
        q(0.5),
        q(0.1),
        q(0.9)
    );
}

fn paired_report() {
    let parts = parts();
    let body = body();
    let creds = Credentials::new(AKID, SECRET);
    let cache = SigningKeyCache::default();
    let mut warm = SigningParams::new("us-east-1", "execute-api", time());
    warm.key_cache = Some(&cache);
    let cold = SigningParams::new("us-east-1", "execute-api", time());
    let out = sigv4::sign(&parts, Payload::Bytes(&body), &creds, &warm).unwrap();
    let mut signed = http::Request::from_parts(parts.clone(), body.clone());
    out.apply_to(&mut signed).unwrap();
    let (signed_parts, _) = signed.into_parts();
    let vcache = SigningKeyCache::default();
    let mut vwarm = VerifyParams::new("us-east-1", "execute-api", time());
    vwarm.key_cache = Some(&vcache);
    let vcold = VerifyParams::new("us-east-1", "execute-api", time());
    let lookup = |id: &str| (id == AKID).then(|| Secret::new(SECRET.to_owned()));
    let creq = out.canonical_request().to_vec();
    let sts_prefix =
        "AWS4-HMAC-SHA256\n20261123T100000Z\n20261123/us-east-1/execute-api/aws4_request\n";
    let fixed_key = hmac::Key::new(hmac::HMAC_SHA256, b"k");
    let (r, n) = (41, 200);
    let sign_warm = || {
        black_box(
            sigv4::sign(
                black_box(&parts),
                Payload::Bytes(black_box(&body)),
                &creds,
                &warm,
            )
            .unwrap(),
        );
    };
    let sign_cold = || {
        black_box(
            sigv4::sign(
                black_box(&parts),
                Payload::Bytes(black_box(&body)),
                &creds,
                &cold,
            )
            .unwrap(),
        );
    };
    let aws = || {
        black_box(aws_sign(black_box(&parts), black_box(&body)));
    };
    paired(
        "aws-sigv4 / ours (warm cache)",
        "(target >= 2)",
        r,
        n,
        aws,
        sign_warm,
    );
    paired(
        "aws-sigv4 / ours (cold cache)",
        "(target >= 1.5)",
        r,
        n,
        aws,
        sign_cold,
    );
    paired("ours warm / floor cached key", "", r, n, sign_warm, || {
        black_box(floor(
            black_box(&body),
            black_box(&creq),
            sts_prefix,
            false,
            &fixed_key,
        ));
    });
    paired("ours cold / floor with derive", "", r, n, sign_cold, || {
        black_box(floor(
            black_box(&body),
            black_box(&creq),
            sts_prefix,
            true,
            &fixed_key,
        ));
    });
    paired(
        "verify_with_credentials warm / sign warm",
        "(target <= 1.2)",
        r,
        n,
        || {
            black_box(
                sigv4::verify_with_credentials(
                    black_box(&signed_parts),
                    Payload::Bytes(black_box(&body)),
                    |id| (id == AKID).then_some(&creds),
                    &vwarm,
                )
                .unwrap(),
            );
        },
        sign_warm,
    );
    paired(
        "verify_with_credentials cold / sign cold",
        "(target <= 1.2)",
        r,
        n,
        || {
            black_box(
                sigv4::verify_with_credentials(
                    black_box(&signed_parts),
                    Payload::Bytes(black_box(&body)),
                    |id| (id == AKID).then_some(&creds),
                    &vcold,
                )
                .unwrap(),
            );
        },
        sign_cold,
    );
    paired(
        "verify (closure) warm / sign warm",
        "",
        r,
        n,
        || {
            black_box(
                sigv4::verify(
                    black_box(&signed_parts),
                    Payload::Bytes(black_box(&body)),
                    lookup,
                    &vwarm,
                )
                .unwrap(),
            );
        },
        sign_warm,
    );
    paired(
        "verify (closure) cold / sign cold",
        "",
        r,
        n,
        || {
            black_box(
                sigv4::verify(
                    black_box(&signed_parts),
                    Payload::Bytes(black_box(&body)),
                    lookup,
                    &vcold,
                )
                .unwrap(),
            );
        },
        sign_cold,
    );
}

fn main() {
    let mut c = Criterion::default().configure_from_args();
    benches(&mut c);
    c.final_summary();
    report();
    if !std::env::args().any(|a| a == "--list" || a == "--test") {
        paired_report();
    }
}
