//! Sign and verify a typical request (hmac-sha256, 6 covered components, 1 KiB
//! body with Content-Digest) against the floor: a bare SHA-256 of the body
//! plus a bare HMAC-SHA256 of the same signature base, measured in the same
//! run. Run: `cargo bench --bench httpsig -- --warm-up-time 1 --measurement-time 3`.
//!
//! The machine is shared and noisy, so besides criterion's numbers the bench
//! prints *interleaved* ratios: short batches of floor and subject alternate
//! and the fastest batch of each is compared, which filters out preemption
//! by other jobs and exposes both sides to the same conditions
//! (`EDGE_AUTH_RATIOS=1` prints only those). `EDGE_AUTH_COUNT=SIDE` with
//! `EDGE_AUTH_COUNT_N=N` runs one side N times for instruction counts:
//! `benches/icount.sh target/release/deps/httpsig-HASH verify` (see
//! `count_only`).

use criterion::{Criterion, black_box, criterion_group};
use edge_auth::Secret;
use edge_auth::httpsig::{
    Component, KeyRing, Signer, SignerConfig, SigningKey, Verifier, VerifyingKey,
};
use time::OffsetDateTime;

fn setup() -> (
    Signer,
    KeyRing,
    http::request::Parts,
    Vec<u8>,
    OffsetDateTime,
) {
    let secret = Secret::new(vec![0x5a; 32]);
    let mut config = SignerConfig::default();
    config.components = [
        "@method",
        "@authority",
        "@path",
        "@query",
        "content-type",
        "content-digest",
    ]
    .iter()
    .map(|n| Component::try_from_name(n).unwrap())
    .collect();
    let signer = Signer::new(
        SigningKey::try_from_hmac_sha256("bench-key", &secret).unwrap(),
        config,
    )
    .unwrap();
    let mut keys = KeyRing::new();
    keys.insert(
        "bench-key",
        VerifyingKey::try_from_hmac_sha256(&secret).unwrap(),
    );
    let body: Vec<u8> = (0..1024u32).map(|i| b'a' + (i % 26) as u8).collect();
    let (parts, ()) = http::Request::post("/v1/orders/12345?expand=items&limit=10")
        .header("host", "api.example.com")
        .header("content-type", "application/json")
        .header("user-agent", "bench/1.0")
        .header("accept", "application/json")
        .body(())
        .unwrap()
        .into_parts();
    let now = OffsetDateTime::from_unix_timestamp(1_795_428_000).unwrap();
    (signer, keys, parts, body, now)
}

/// The signed request and the floor's inputs, shared by every mode.
struct Fixture {
    signer: Signer,
    keys: KeyRing,
    parts: http::request::Parts,
    body: Vec<u8>,
    now: OffsetDateTime,
    signed: http::request::Parts,
    base: String,
    verifier: Verifier,
    hmac: ring::hmac::Key,
    tag: ring::hmac::Tag,
}

fn fixture() -> Fixture {
    let (signer, keys, parts, body, now) = setup();
    let out = signer.sign(&parts, &body, Some("nonce-1"), now).unwrap();
    let base = out.signature_base().to_owned();
    let mut signed = http::Request::from_parts(parts.clone(), ());
    out.apply_to(&mut signed);
    let (signed, ()) = signed.into_parts();
    let hmac = ring::hmac::Key::new(ring::hmac::HMAC_SHA256, &[0x5a; 32]);
    let tag = ring::hmac::sign(&hmac, base.as_bytes());
    Fixture {
        signer,
        keys,
        parts,
        body,
        now,
        signed,
        base,
        verifier: Verifier::default(),
        hmac,
        tag,
    }
}

fn bench(c: &mut Criterion) {
    let (signer, keys, parts, body, now) = setup();
    let out = signer.sign(&parts, &body, Some("nonce-1"), now).unwrap();
    let base = out.signature_base().to_owned();
    let mut signed = http::Request::from_parts(parts.clone(), ());
    out.apply_to(&mut signed);
    let (signed, ()) = signed.into_parts();
    let verifier = Verifier::default();
    verifier.verify(&signed, &body, &keys, None, now).unwrap();
    let hmac = ring::hmac::Key::new(ring::hmac::HMAC_SHA256, &[0x5a; 32]);
    let tag = ring::hmac::sign(&hmac, base.as_bytes());

    let mut g = c.benchmark_group("httpsig");
    g.bench_function("floor: sha256(body) + hmac(base)", |b| {
        b.iter(|| {
            let d = ring::digest::digest(&ring::digest::SHA256, black_box(&body));
            let t = ring::hmac::sign(&hmac, black_box(base.as_bytes()));
            (d, t)
        })
    });
    g.bench_function("floor: sha256(body) + hmac verify(base)", |b| {
        b.iter(|| {
            let d = ring::digest::digest(&ring::digest::SHA256, black_box(&body));
            let ok = ring::hmac::verify(&hmac, black_box(base.as_bytes()), tag.as_ref());
            (d, ok)
        })
    });
    g.bench_function("sign", |b| {
        b.iter(|| {
            signer
                .sign(black_box(&parts), black_box(&body), Some("nonce-1"), now)
                .unwrap()
        })
    });
    g.bench_function("verify", |b| {
        b.iter(|| {
            verifier
                .verify(black_box(&signed), black_box(&body), &keys, None, now)
                .unwrap()
        })
    });
    g.finish();
}

/// (fastest batch of `n` subject calls) / (fastest batch of `n` floor
/// calls), batches alternating. Short batches usually run without being
/// preempted, so the minima are the undisturbed times even when other jobs
/// load the machine; alternating means both sides see the same conditions.
fn interleaved(mut floor: impl FnMut(), mut subject: impl FnMut()) -> f64 {
    let (rounds, n): (u32, u32) = (600, 100);
    let time = |f: &mut dyn FnMut()| {
        let start = std::time::Instant::now();
        for _ in 0..n {
            f();
        }
        start.elapsed().as_secs_f64()
    };
    let (mut best_floor, mut best_subject) = (f64::MAX, f64::MAX);
    for _ in 0..rounds {
        best_floor = best_floor.min(time(&mut floor));
        best_subject = best_subject.min(time(&mut subject));
    }
    println!(
        "  floor {:.0} ns, subject {:.0} ns",
        best_floor / f64::from(n) * 1e9,
        best_subject / f64::from(n) * 1e9
    );
    best_subject / best_floor
}

impl Fixture {
    /// The sign floor: bare SHA-256 of the body and HMAC of the same base.
    fn sign_floor(&self) -> bool {
        black_box(ring::digest::digest(
            &ring::digest::SHA256,
            black_box(&self.body),
        ));
        black_box(ring::hmac::sign(
            &self.hmac,
            black_box(self.base.as_bytes()),
        ));
        true
    }

    /// The verify floor: bare SHA-256 of the body and HMAC verify of the base.
    fn verify_floor(&self) -> bool {
        black_box(ring::digest::digest(
            &ring::digest::SHA256,
            black_box(&self.body),
        ));
        ring::hmac::verify(
            &self.hmac,
            black_box(self.base.as_bytes()),
            self.tag.as_ref(),
        )
        .is_ok()
    }

    fn sign(&self) -> bool {
        black_box(self.signer.sign(
            black_box(&self.parts),
            black_box(&self.body),
            Some("nonce-1"),
            self.now,
        ))
        .is_ok()
    }

    fn verify(&self) -> bool {
        black_box(self.verifier.verify(
            black_box(&self.signed),
            black_box(&self.body),
            &self.keys,
            None,
            self.now,
        ))
        .is_ok()
    }
}

fn ratios() {
    let f = fixture();
    let sign_ratio = interleaved(|| assert!(f.sign_floor()), || assert!(f.sign()));
    let verify_ratio = interleaved(|| assert!(f.verify_floor()), || assert!(f.verify()));
    println!(
        "httpsig interleaved best-of ratio to floor: sign {sign_ratio:.2}x, verify {verify_ratio:.2}x"
    );
    rsa_ratio();
}

/// `rsa-v1_5-sha256` verify of the same request (RSA 2048) against ring's
/// bare RSA verify of its signature base: the crypto seam's backend shows
/// here (ring re-parses the key on every call; with the `aws-lc-rs` feature
/// the key is parsed once and the ratio drops below 1).
fn rsa_ratio() {
    use aws_lc_rs::encoding::{AsDer, Pkcs8V1Der};
    use edge_auth::httpsig::Algorithm;
    use ring::signature::{KeyPair as _, RSA_PKCS1_2048_8192_SHA256, RsaKeyPair};
    let pair = aws_lc_rs::rsa::KeyPair::generate(aws_lc_rs::rsa::KeySize::Rsa2048).unwrap();
    let der: Pkcs8V1Der<'_> = pair.as_der().unwrap();
    let pkcs8 = Secret::new(der.as_ref().to_vec());
    let key = SigningKey::try_from_rsa_pkcs8("rsa", Algorithm::RsaV15Sha256, &pkcs8).unwrap();
    let mut keys = KeyRing::new();
    keys.insert("rsa", key.verifying_key());
    let (_, _, parts, body, now) = setup();
    let signer = Signer::new(key, SignerConfig::default()).unwrap();
    let out = signer.sign(&parts, &body, None, now).unwrap();
    let base = out.signature_base().to_owned();
    let mut signed = http::Request::from_parts(parts, ());
    out.apply_to(&mut signed);
    let (signed, ()) = signed.into_parts();
    let verifier = Verifier::default();
    verifier.verify(&signed, &body, &keys, None, now).unwrap();
    let ring_pair = RsaKeyPair::from_pkcs8(pkcs8.expose()).unwrap();
    let mut sig = vec![0; ring_pair.public().modulus_len()];
    ring_pair
        .sign(
            &ring::signature::RSA_PKCS1_SHA256,
            &ring::rand::SystemRandom::new(),
            base.as_bytes(),
            &mut sig,
        )
        .unwrap();
    let public = ring::signature::UnparsedPublicKey::new(
        &RSA_PKCS1_2048_8192_SHA256,
        ring_pair.public_key().as_ref().to_vec(),
    );
    let ratio = interleaved(
        || assert!(public.verify(black_box(base.as_bytes()), &sig).is_ok()),
        || {
            assert!(
                verifier
                    .verify(black_box(&signed), black_box(&body), &keys, None, now)
                    .is_ok()
            )
        },
    );
    println!(
        "httpsig rsa-v1_5-sha256 verify (RSA 2048) over ring's bare verify of the base: {ratio:.2}x ({} backend)",
        if cfg!(feature = "aws-lc-rs") {
            "aws-lc-rs"
        } else {
            "ring"
        }
    );
}

/// `EDGE_AUTH_COUNT=SIDE EDGE_AUTH_COUNT_N=N` (SIDE `verify`, `sign`,
/// `verify_floor` or `sign_floor`) runs one side N times and exits: for
/// instruction counts (`benches/icount.sh`, or callgrind with
/// `--toggle-collect='httpsig::profile_loop*'`), which the noisy shared
/// machine does not disturb. Under valgrind ring's SHA-256 takes its AVX
/// path (valgrind hides the SHA extensions the bench machine has), so the
/// floor's share is larger there than in wall-clock time: compare the
/// instructions *over* the floor.
fn count_only(side: &str) {
    let n: usize = std::env::var("EDGE_AUTH_COUNT_N")
        .ok()
        .and_then(|n| n.parse().ok())
        .unwrap_or(100_000);
    let f = fixture();
    let run = || match side {
        "verify" => f.verify(),
        "sign" => f.sign(),
        "verify_floor" => f.verify_floor(),
        "sign_floor" => f.sign_floor(),
        other => panic!(
            "unknown EDGE_AUTH_COUNT side `{other}` (verify, sign, verify_floor, sign_floor)"
        ),
    };
    profile_loop(run, n);
}

/// The measured loop alone (`valgrind --tool=callgrind
/// --toggle-collect='httpsig::profile_loop*'` counts only this).
#[inline(never)]
fn profile_loop(run: impl Fn() -> bool, n: usize) {
    for _ in 0..n {
        assert!(black_box(run()));
    }
}

criterion_group!(benches, bench);

fn main() {
    if let Ok(side) = std::env::var("EDGE_AUTH_COUNT") {
        count_only(&side);
        return;
    }
    // `EDGE_AUTH_RATIOS=1`: only the interleaved ratios (seconds, not minutes).
    if std::env::var_os("EDGE_AUTH_RATIOS").is_some() {
        ratios();
        return;
    }
    benches();
    ratios();
    Criterion::default().configure_from_args().final_summary();
}
