//! JWT validation against (a) the floor, our crypto backend verifying the
//! same signing input with a key already parsed and the signature already
//! decoded (ring; with `--features aws-lc-rs`, aws-lc-rs' `ParsedPublicKey`
//! for RSA, ECDSA and EdDSA, ring for HMAC), and
//! (b) the strongest peer, jsonwebtoken 11 `decode` on its aws-lc-rs
//! backend with equivalent validation (alg, iss, aud, exp). Criterion
//! groups first, then an interleaved timing loop prints median ratios
//! measured in the same run, where the time over the floor goes, and each
//! side's time over its own crypto backend (aws-lc-rs verifying the same
//! input is the peer's floor).

#[path = "../tests/it/support/jwt.rs"]
mod jwt_support;

#[path = "support/jwt_json_serde.rs"]
mod json_serde;

use std::hint::black_box;
use std::time::Instant;

use aws_lc_rs::rsa::KeySize;
use criterion::Criterion;
use edge_auth::jwk::{KeySet, KeySetOptions};
use edge_auth::jwt::Algorithm;
use edge_auth::jwt::{Validation, Validator};
use jsonwebtoken::DecodingKey;
use jwt_support::{TestKey, b64, jwks};
use ring::{hmac, signature};
use serde::Deserialize;
use time::OffsetDateTime;

const TENANT: &str = "72f988bf-86f1-41af-91ab-2d7cd011db47";
const AUD: &str = "api://2f5a6b1c-edge-gateway";

#[derive(Debug, Deserialize)]
#[allow(dead_code)]
struct EntraClaims {
    sub: String,
    oid: String,
    tid: String,
    #[serde(default)]
    roles: Vec<String>,
    #[serde(default)]
    scp: Option<String>,
}

fn iss() -> String {
    format!("https://login.microsoftonline.com/{TENANT}/v2.0")
}

/// An Entra-ID-shaped v2 access token's claims (about 1 KB once signed with RS256).
fn entra_claims(now: i64) -> serde_json::Value {
    jwt_support::entra_access_token_claims(TENANT, AUD, now)
}

struct Case {
    name: &'static str,
    alg: Algorithm,
    token: String,
    keys: KeySet,
    validator: Validator,
    floor: Box<dyn Fn() -> bool>,
    /// RS256 only: ring's other RSA entry point, `UnparsedPublicKey` over
    /// an RSAPublicKey DER built once, to check which is the cheaper floor.
    floor_der: Option<Box<dyn Fn() -> bool>>,
    /// The peer's own floor: aws-lc-rs verifying the same signing input,
    /// as jsonwebtoken's aws-lc backend calls it, so that the report can
    /// separate the crypto backends from the work around them.
    peer_floor: Box<dyn Fn() -> bool>,
    peer_key: DecodingKey,
    peer_validation: jsonwebtoken::Validation,
}

fn case(name: &'static str, alg: Algorithm, key: TestKey, symmetric: bool) -> Case {
    let now = OffsetDateTime::now_utc().unix_timestamp();
    let mut header = jsonwebtoken::Header::new(jwt_support::jsonwebtoken_alg(alg));
    header.kid = Some(key.kid.clone());
    let token = jsonwebtoken::encode(&header, &entra_claims(now), &key.encoding).unwrap();

    let mut options = KeySetOptions::default();
    options.allow_symmetric = symmetric;
    let keys = KeySet::from_jwks(&jwks(&[&key]), &options).unwrap();
    let mut v = Validation::default();
    v.issuers = vec!["https://login.microsoftonline.com/{tenantid}/v2.0".into()];
    v.audiences = vec![AUD.into()];
    v.algorithms = vec![alg];
    let validator = Validator::new(v);

    let mut pv = jsonwebtoken::Validation::new(jwt_support::jsonwebtoken_alg(alg));
    pv.set_audience(&[AUD]);
    pv.set_issuer(&[iss()]);
    pv.set_required_spec_claims(&["exp"]);
    pv.validate_nbf = true;
    let jwk = &key.jwk;
    let s = |m: &str| jwk[m].as_str().unwrap().to_owned();
    let peer_key = match alg {
        Algorithm::RS256 => DecodingKey::from_rsa_components(&s("n"), &s("e")).unwrap(),
        Algorithm::ES256 => DecodingKey::from_ec_components(&s("x"), &s("y")).unwrap(),
        Algorithm::EdDSA => DecodingKey::from_ed_components(&s("x")).unwrap(),
        _ => DecodingKey::from_secret(&[0x5a; 64]),
    };

    // The floor: the same signing input and signature, key parsed and
    // signature decoded beforehand.
    let (input, sig) = token.rsplit_once('.').unwrap();
    let input = input.as_bytes().to_vec();
    use base64::Engine as _;
    let sig = base64::engine::general_purpose::URL_SAFE_NO_PAD
        .decode(sig)
        .unwrap();
    let b = |m: &str| {
        base64::engine::general_purpose::URL_SAFE_NO_PAD
            .decode(jwk[m].as_str().unwrap())
            .unwrap()
    };
    let (input_der, sig_der) = (input.clone(), sig.clone());
    let (input_peer, sig_peer) = (input.clone(), sig.clone());
    let floor: Box<dyn Fn() -> bool> = match alg {
        Algorithm::RS256 => {
            let (n, e) = (b("n"), b("e"));
            Box::new(move || {
                signature::RsaPublicKeyComponents { n: &n, e: &e }
                    .verify(&signature::RSA_PKCS1_2048_8192_SHA256, &input, &sig)
                    .is_ok()
            })
        }
        Algorithm::ES256 => {
            let point = [vec![4], b("x"), b("y")].concat();
            Box::new(move || {
                signature::UnparsedPublicKey::new(&signature::ECDSA_P256_SHA256_FIXED, &point)
                    .verify(&input, &sig)
                    .is_ok()
            })
        }
        Algorithm::EdDSA => {
            let x = b("x");
            Box::new(move || {
                signature::UnparsedPublicKey::new(&signature::ED25519, &x)
                    .verify(&input, &sig)
                    .is_ok()
            })
        }
        _ => {
            let k = hmac::Key::new(hmac::HMAC_SHA256, &[0x5a; 64]);
            Box::new(move || hmac::verify(&k, &input, &sig).is_ok())
        }
    };
    #[cfg(feature = "aws-lc-rs")]
    let floor = parsed_floor(alg, jwk, &token).unwrap_or(floor);
    assert!(floor());
    let floor_der: Option<Box<dyn Fn() -> bool>> = match alg {
        Algorithm::RS256 => {
            let der = rsa_public_key_der(&b("n"), &b("e"));
            let (input, sig) = (input_der, sig_der);
            Some(Box::new(move || {
                signature::UnparsedPublicKey::new(&signature::RSA_PKCS1_2048_8192_SHA256, &der)
                    .verify(&input, &sig)
                    .is_ok()
            }))
        }
        _ => None,
    };
    assert!(floor_der.as_ref().is_none_or(|f| f()));
    let peer_floor: Box<dyn Fn() -> bool> = {
        use aws_lc_rs::{hmac as lc_hmac, signature as lc};
        let (input, sig) = (input_peer, sig_peer);
        match alg {
            Algorithm::RS256 => {
                let (n, e) = (b("n"), b("e"));
                Box::new(move || {
                    lc::RsaPublicKeyComponents { n: &n, e: &e }
                        .verify(&lc::RSA_PKCS1_2048_8192_SHA256, &input, &sig)
                        .is_ok()
                })
            }
            Algorithm::ES256 => {
                let point = [vec![4], b("x"), b("y")].concat();
                Box::new(move || {
                    lc::UnparsedPublicKey::new(&lc::ECDSA_P256_SHA256_FIXED, &point)
                        .verify(&input, &sig)
                        .is_ok()
                })
            }
            Algorithm::EdDSA => {
                let x = b("x");
                Box::new(move || {
                    lc::UnparsedPublicKey::new(&lc::ED25519, &x)
                        .verify(&input, &sig)
                        .is_ok()
                })
            }
            _ => {
                let k = lc_hmac::Key::new(lc_hmac::HMAC_SHA256, &[0x5a; 64]);
                Box::new(move || lc_hmac::verify(&k, &input, &sig).is_ok())
            }
        }
    };
    assert!(peer_floor());
    let c = Case {
        name,
        alg,
        token,
        keys,
        validator,
        floor,
        floor_der,
        peer_floor,
        peer_key,
        peer_validation: pv,
    };
    assert!(ours(&c), "{name}: edge-auth refuses its own bench token");
    assert!(peer(&c), "{name}: jsonwebtoken refuses the bench token");
    c
}

/// DER of a PKCS#1 RSAPublicKey (RFC 8017 §A.1.1): SEQUENCE { n, e }.
fn rsa_public_key_der(n: &[u8], e: &[u8]) -> Vec<u8> {
    fn tlv(tag: u8, body: &[u8]) -> Vec<u8> {
        let mut out = vec![tag];
        match body.len() {
            l @ 0..=127 => out.push(l as u8),
            l @ 128..=255 => out.extend([0x81, l as u8]),
            l => out.extend([0x82, (l >> 8) as u8, l as u8]),
        }
        out.extend_from_slice(body);
        out
    }
    fn int(x: &[u8]) -> Vec<u8> {
        let x = &x[x.iter().take_while(|&&b| b == 0).count()..];
        let mut body = Vec::new();
        if x.first().is_some_and(|&b| b & 0x80 != 0) {
            body.push(0);
        }
        body.extend_from_slice(x);
        tlv(0x02, &body)
    }
    tlv(0x30, &[int(n), int(e)].concat())
}

fn now() -> OffsetDateTime {
    OffsetDateTime::now_utc()
}

fn ours(c: &Case) -> bool {
    c.validator
        .validate::<EntraClaims>(black_box(&c.token), &c.keys, OffsetDateTime::now_utc())
        .is_ok()
}

fn peer(c: &Case) -> bool {
    jsonwebtoken::decode::<EntraClaims>(black_box(&c.token), &c.peer_key, &c.peer_validation)
        .is_ok()
}

fn one_case(name: &str) -> Option<Case> {
    Some(match name {
        "RS256" => case(
            "RS256",
            Algorithm::RS256,
            TestKey::rsa("rsa", KeySize::Rsa2048),
            false,
        ),
        "ES256" => case("ES256", Algorithm::ES256, TestKey::ec("p256", false), false),
        "EdDSA" => case("EdDSA", Algorithm::EdDSA, TestKey::ed25519("ed"), false),
        "HS256" => case(
            "HS256",
            Algorithm::HS256,
            TestKey::hmac("hs", &[0x5a; 64]),
            true,
        ),
        _ => return None,
    })
}

fn cases() -> Vec<Case> {
    ["RS256", "ES256", "EdDSA", "HS256"]
        .iter()
        .filter_map(|n| one_case(n))
        .collect()
}

/// `EDGE_AUTH_JWT_PROFILE=ALG:SIDE:N` (SIDE `ours`, `floor`, `floor_der`
/// (RS256), `jws` (signature check only), `skip` (claims read and checked,
/// `C` = `IgnoredAny`) or `peer`) runs
/// one side N times and exits: for instruction counts under callgrind,
/// which the noisy shared machine does not disturb.
fn profile(spec: &str) {
    let mut parts = spec.split(':');
    let (Some(alg), Some(side), Some(n)) = (parts.next(), parts.next(), parts.next()) else {
        panic!("EDGE_AUTH_JWT_PROFILE wants ALG:SIDE:N, got `{spec}`");
    };
    let n: usize = n.parse().expect("N");
    let c = one_case(alg).expect("ALG is RS256, ES256, EdDSA or HS256");
    profile_loop(&c, side, n);
}

/// The measured loop alone (`valgrind --tool=callgrind
/// --toggle-collect='jwt::profile_loop'` counts only this).
#[inline(never)]
fn profile_loop(c: &Case, side: &str, n: usize) {
    for _ in 0..n {
        let ok = match side {
            "ours" => ours(c),
            "floor" => (c.floor)(),
            "floor_der" => c.floor_der.as_ref().is_some_and(|f| f()),
            "jws" => c.validator.verify_jws(black_box(&c.token), &c.keys).is_ok(),
            "skip" => c
                .validator
                .validate::<serde::de::IgnoredAny>(black_box(&c.token), &c.keys, now())
                .is_ok(),
            "peer" => peer(c),
            _ => panic!("SIDE is ours, floor, floor_der, jws, skip or peer"),
        };
        assert!(black_box(ok));
    }
}

/// What the floor verifies with.
const FLOOR: &str = if cfg!(feature = "aws-lc-rs") {
    "aws-lc parsed"
} else {
    "ring"
};

/// With the `aws-lc-rs` feature, the floor of RSA, ECDSA and EdDSA is
/// aws-lc-rs verifying with a `ParsedPublicKey`, as the library then does.
#[cfg(feature = "aws-lc-rs")]
fn parsed_floor(
    alg: Algorithm,
    jwk: &serde_json::Value,
    token: &str,
) -> Option<Box<dyn Fn() -> bool>> {
    use aws_lc_rs::signature as lc;
    use base64::Engine as _;
    let b = |m: &str| {
        base64::engine::general_purpose::URL_SAFE_NO_PAD
            .decode(jwk[m].as_str().unwrap())
            .unwrap()
    };
    let (input, sig) = token.rsplit_once('.').unwrap();
    let input = input.as_bytes().to_vec();
    let sig = base64::engine::general_purpose::URL_SAFE_NO_PAD
        .decode(sig)
        .unwrap();
    let key = match alg {
        Algorithm::RS256 => lc::ParsedPublicKey::new(
            &lc::RSA_PKCS1_2048_8192_SHA256,
            rsa_public_key_der(&b("n"), &b("e")),
        ),
        Algorithm::ES256 => lc::ParsedPublicKey::new(
            &lc::ECDSA_P256_SHA256_FIXED,
            [vec![4], b("x"), b("y")].concat(),
        ),
        Algorithm::EdDSA => lc::ParsedPublicKey::new(&lc::ED25519, b("x")),
        _ => return None,
    }
    .unwrap();
    Some(Box::new(move || key.verify_sig(&input, &sig).is_ok()))
}

fn criterion_groups(c: &mut Criterion, cases: &[Case]) {
    for case in cases {
        let mut g = c.benchmark_group(format!("jwt/{}", case.name));
        g.bench_function("edge_auth_validate", |b| b.iter(|| ours(case)));
        g.bench_function("floor_verify", |b| b.iter(|| (case.floor)()));
        g.bench_function("jsonwebtoken_decode", |b| b.iter(|| peer(case)));
        g.finish();
    }
}

fn median(mut v: Vec<f64>) -> f64 {
    v.sort_by(|a, b| a.total_cmp(b));
    v[v.len() / 2]
}

/// Interleaved rounds so that machine noise hits all three alike. Rounds
/// are short (about a millisecond) and many, so that a preemption spoils
/// one round rather than a side; the median and the minimum (the least
/// disturbed round, stabler on a loaded machine) are both reported.
fn ratios(cases: &[Case]) {
    println!(
        "\njwt ratios (ns per op over 101 interleaved rounds, same run; median, then min; floor: {FLOOR}):"
    );
    println!(
        "{:<6} {:>10} {:>10} {:>12} {:>9} {:>9} | {:>10} {:>10} {:>12} {:>9} {:>9}",
        "alg",
        "edge-auth",
        "floor",
        "jsonwebtoken",
        "vs floor",
        "vs jwt",
        "edge-auth",
        "floor",
        "jsonwebtoken",
        "vs floor",
        "vs jwt",
    );
    let mut breakdown = Vec::new();
    let mut backends = Vec::new();
    let mut json = Vec::new();
    for c in cases {
        // The decoded header and claims, for the JSON readers on their own
        // (docs/adr/0002: our reader against serde_json prototypes).
        let decode = |seg: &str| {
            use base64::Engine as _;
            base64::engine::general_purpose::URL_SAFE_NO_PAD
                .decode(seg)
                .unwrap()
        };
        let mut segs = c.token.split('.');
        let (header_json, payload_json) =
            (decode(segs.next().unwrap()), decode(segs.next().unwrap()));
        assert!(json_serde::ours::<EntraClaims>(&header_json, &payload_json));
        assert!(json_serde::strict::<EntraClaims>(
            &header_json,
            &payload_json
        ));
        assert!(json_serde::lax::<EntraClaims>(&header_json, &payload_json));
        let (mut jo, mut js, mut jl) = (Vec::new(), Vec::new(), Vec::new());
        let per_round = match c.alg {
            Algorithm::HS256 => 400,
            Algorithm::RS256 => 40,
            _ => 16,
        };
        let (mut o, mut f, mut p) = (Vec::new(), Vec::new(), Vec::new());
        // Where the time over the floor goes: the signature check alone
        // (`verify_jws`: split, header, base64url, key, signature), then
        // the claims read and checked without building `C`.
        let (mut jws, mut skip, mut pf) = (Vec::new(), Vec::new(), Vec::new());
        let now = OffsetDateTime::now_utc();
        let time = |run: &dyn Fn() -> bool| {
            let t = Instant::now();
            for _ in 0..per_round {
                black_box(run());
            }
            t.elapsed().as_nanos() as f64 / per_round as f64
        };
        for _ in 0..101 {
            jws.push(time(&|| {
                c.validator.verify_jws(black_box(&c.token), &c.keys).is_ok()
            }));
            skip.push(time(&|| {
                c.validator
                    .validate::<serde::de::IgnoredAny>(black_box(&c.token), &c.keys, now)
                    .is_ok()
            }));
            o.push(time(&|| ours(c)));
            f.push(time(&|| (c.floor)()));
            p.push(time(&|| peer(c)));
            pf.push(time(&|| (c.peer_floor)()));
            jo.push(time(&|| {
                json_serde::ours::<EntraClaims>(black_box(&header_json), black_box(&payload_json))
            }));
            js.push(time(&|| {
                json_serde::strict::<EntraClaims>(black_box(&header_json), black_box(&payload_json))
            }));
            jl.push(time(&|| {
                json_serde::lax::<EntraClaims>(black_box(&header_json), black_box(&payload_json))
            }));
        }
        let min = |v: &[f64]| v.iter().copied().fold(f64::INFINITY, f64::min);
        let (om, fm, pm) = (min(&o), min(&f), min(&p));
        let pfm = min(&pf);
        let backend = if c.alg == Algorithm::HS256 {
            "ring"
        } else {
            FLOOR
        };
        backends.push(format!(
            "{:<6} {backend} {:>6.0} | aws-lc {:>6.0} ({:.3}x {backend}) | over own crypto: edge-auth {:>5.0}, jsonwebtoken {:>5.0}",
            c.name,
            fm,
            pfm,
            pfm / fm,
            om - fm,
            pm - pfm,
        ));
        breakdown.push(format!(
            "{:<6} floor {:>6.0} | + signature check {:>5.0} | + claims read and checked {:>5.0} | + C built {:>5.0}",
            c.name,
            fm,
            min(&jws) - fm,
            min(&skip) - min(&jws),
            om - min(&skip),
        ));
        let (jom, jsm, jlm) = (min(&jo), min(&js), min(&jl));
        // The validator with its JSON reads swapped for serde_json's: what
        // switching would cost, against the same floor and peer.
        let swapped = |serde: f64| om - jom + serde;
        json.push(format!(
            "{:<6} json ours {:>5.0} | serde strict {:>5.0} | serde lax {:>5.0} || vs floor: ours {:.3}x, strict {:.3}x, lax {:.3}x | vs jwt: ours {:.3}x, strict {:.3}x, lax {:.3}x",
            c.name,
            jom,
            jsm,
            jlm,
            om / fm,
            swapped(jsm) / fm,
            swapped(jlm) / fm,
            om / pm,
            swapped(jsm) / pm,
            swapped(jlm) / pm,
        ));
        let (o, f, p) = (median(o), median(f), median(p));
        println!(
            "{:<6} {:>10.0} {:>10.0} {:>12.0} {:>8.3}x {:>8.3}x | {:>10.0} {:>10.0} {:>12.0} {:>8.3}x {:>8.3}x",
            c.name,
            o,
            f,
            p,
            o / f,
            o / p,
            om,
            fm,
            pm,
            om / fm,
            om / pm
        );
    }
    println!("\nover the floor, ns (minimum of rounds; each step includes the ones before it):");
    for line in &breakdown {
        println!("{line}");
    }
    println!(
        "\ncrypto backends and the work around them, ns (minimum of rounds; the floors verify the same input):"
    );
    for line in &backends {
        println!("{line}");
    }
    println!(
        "\nJSON reads (header + claims into C), ns (minimum of rounds), and the validator with them swapped for serde_json (docs/adr/0002):"
    );
    for line in &json {
        println!("{line}");
    }
    let c = &cases[0];
    println!(
        "(RS256 token is {} bytes; header+claims base64url {})",
        c.token.len(),
        b64(&[]).len() + c.token.rsplit_once('.').unwrap().0.len()
    );
}

fn main() {
    if let Ok(spec) = std::env::var("EDGE_AUTH_JWT_PROFILE") {
        profile(&spec);
        return;
    }
    let cases = cases();
    let mut c = Criterion::default().configure_from_args();
    criterion_groups(&mut c, &cases);
    c.final_summary();
    ratios(&cases);
}
