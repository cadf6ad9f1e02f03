//! Inbound RFC 9421 signatures in a Worker, nonces in Durable Objects
//! (issue 17): builds the test Worker tests/workers/httpsig-replay with
//! `scripts/worker-build.sh` (as the examples), serves it with workerd on loopback
//! (two services running it: two isolates, sharing the first's Durable
//! Object namespace, in-memory storage) and sends it requests signed here
//! with the library's `Signer`. A nonce accepted by one isolate is refused
//! by both; a forged signature never reaches the nonce store.
//!
//! Without the wasm toolchain the tests fail, naming the script that
//! installs it; they never pass by skipping.

#![cfg(unix)]

use std::net::SocketAddr;
use std::path::PathBuf;
use std::sync::OnceLock;

use base64::Engine as _;
use edge_auth::Secret;
use edge_auth::httpsig::{Signer, SignerConfig, SigningKey};
use ring::signature::{Ed25519KeyPair, KeyPair};
use serde_json::Value;

use crate::support::workerd::{self, Answer, Workerd};

/// The checked-in config's key and key id (tests/workers/httpsig-replay/config.capnp).
const HMAC_KEY: &str = "edge-auth replay test worker hmac key 0123456789";
const KEY_ID: &str = "test-client";
const BODY: &str = r#"{"amount": 1}"#;

fn worker_dir() -> PathBuf {
    workerd::root().join("tests/workers/httpsig-replay")
}

fn scratch(name: &str) -> PathBuf {
    workerd::root().join("target/worker-test/replay").join(name)
}

/// Builds the test Worker once for every test of this binary.
fn build() {
    static BUILD: OnceLock<Result<f64, String>> = OnceLock::new();
    let built = BUILD.get_or_init(|| workerd::build_worker_crate(&worker_dir(), &scratch("build")));
    if let Err(e) = built {
        panic!("{e}");
    }
}

/// The checked-in config, written to `build/{name}.capnp` (embeds made
/// relative to it) after the `(from, to)` replacements.
fn write_config(name: &str, replacements: &[(String, String)]) -> PathBuf {
    let dir = worker_dir();
    let mut config = std::fs::read_to_string(dir.join("config.capnp")).unwrap();
    let mut all = vec![("embed \"build/".to_owned(), "embed \"".to_owned())];
    all.extend_from_slice(replacements);
    for (from, to) in all {
        assert!(config.contains(&from), "config.capnp has no `{from}`");
        config = config.replace(&from, &to);
    }
    let path = dir.join(format!("build/{name}.capnp"));
    std::fs::write(&path, config).unwrap();
    path
}

/// The two isolates' addresses.
struct Isolates {
    main: SocketAddr,
    main2: SocketAddr,
}

fn serve(name: &str, replacements: &[(String, String)]) -> (Workerd, Isolates) {
    let config = write_config(name, replacements);
    let (server, addrs) = workerd::start(&config, &["http", "http2"], &scratch(name));
    let isolates = Isolates {
        main: addrs[0],
        main2: addrs[1],
    };
    (server, isolates)
}

/// A signed request: its headers as sent.
#[derive(Debug, Clone)]
struct Signed {
    headers: Vec<(String, String)>,
}

impl Signed {
    fn headers(&self) -> Vec<(&str, &str)> {
        self.headers
            .iter()
            .map(|(n, v)| (n.as_str(), v.as_str()))
            .collect()
    }
}

fn hmac_signer() -> Signer {
    let key = SigningKey::try_from_hmac_sha256(KEY_ID, &Secret::new(HMAC_KEY.as_bytes().to_vec()))
        .unwrap();
    Signer::new(key, SignerConfig::default()).unwrap()
}

/// `POST /orders` with [`BODY`], as workerd shows it to the Worker
/// (`http://localhost/orders`), signed by `signer` with `nonce` now:
/// `@method @authority @path @query content-digest`, `created`, `expires`.
fn sign(signer: &Signer, nonce: Option<&str>) -> Signed {
    let (parts, body) = http::Request::post("http://localhost/orders")
        .header("content-type", "application/json")
        .body(BODY.as_bytes().to_vec())
        .unwrap()
        .into_parts();
    let out = signer
        .sign(&parts, &body, nonce, time::OffsetDateTime::now_utc())
        .unwrap();
    let mut request = http::Request::from_parts(parts, body);
    out.apply_to(&mut request);
    let headers = request
        .headers()
        .iter()
        .map(|(n, v)| (n.as_str().to_owned(), v.to_str().unwrap().to_owned()))
        .collect();
    Signed { headers }
}

fn post(addr: SocketAddr, signed: &Signed, body: &str) -> Answer {
    workerd::send(addr, "POST", "/orders", &signed.headers(), body).unwrap()
}

fn json(answer: &Answer) -> Value {
    serde_json::from_str(&answer.body).unwrap_or_else(|e| panic!("not JSON ({e}): {answer:?}"))
}

/// Asserts a 401 with the RFC 9421 refusal `code`, no-store, an
/// `Accept-Signature` for the required components.
fn assert_refused(answer: &Answer, code: &str, log: &str) {
    assert_eq!(answer.status, 401, "{answer:?}\n{log}");
    assert_eq!(json(answer)["error"], code, "{answer:?}");
    assert_eq!(
        answer.header("cache-control"),
        Some("no-store"),
        "{answer:?}"
    );
    assert_eq!(
        answer.header("accept-signature"),
        Some(r#"sig1=("@method" "@authority" "@path");created"#),
        "{answer:?}"
    );
    assert!(
        !answer.body.contains(KEY_ID),
        "the refusal names the key id: {answer:?}"
    );
}

fn assert_accepted(answer: &Answer, nonce: &str, service: &str, log: &str) {
    assert_eq!(answer.status, 200, "{answer:?}\n{log}");
    let body = json(answer);
    assert_eq!(body["keyid"], KEY_ID, "{answer:?}");
    assert_eq!(body["nonce"], nonce, "{answer:?}");
    assert_eq!(body["service"], service, "{answer:?}");
}

/// A nonce no earlier run or test used (the objects are in memory, per
/// workerd, but the name says which test sent it).
fn nonce(test: &str, n: u32) -> String {
    let unique = time::OffsetDateTime::now_utc().unix_timestamp_nanos();
    format!("{test}-{n}-{unique}")
}

#[test]
fn worker_replay_a_nonce_is_accepted_once_across_isolates() {
    workerd::require_toolchain("worker_replay_a_nonce_is_accepted_once_across_isolates");
    build();
    let (server, isolates) = serve("across-isolates", &[]);
    let log = || server.log();
    let signer = hmac_signer();

    // Nonce N, first seen by the first isolate: accepted.
    let n = nonce("across", 1);
    let request = sign(&signer, Some(&n));
    assert_accepted(&post(isolates.main, &request, BODY), &n, "main", &log());
    // The same request again, same isolate: refused as a replay.
    assert_refused(
        &post(isolates.main, &request, BODY),
        "replayed_nonce",
        &log(),
    );
    // The same request at the other isolate: refused too (the nonce is in
    // the shared object, not in the first isolate's memory).
    assert_refused(
        &post(isolates.main2, &request, BODY),
        "replayed_nonce",
        &log(),
    );
    assert!(
        log().contains("signature refused: nonce"),
        "the replay is not in the log:\n{}",
        log()
    );

    // Another nonce: accepted, first by the second isolate, then refused
    // at the first.
    let m = nonce("across", 2);
    let request = sign(&signer, Some(&m));
    assert_accepted(&post(isolates.main2, &request, BODY), &m, "main2", &log());
    assert_refused(
        &post(isolates.main, &request, BODY),
        "replayed_nonce",
        &log(),
    );
    // Each nonce write also sweeps expired entries from the object: no
    // storage call of the sweep failed.
    assert!(
        !log().contains("sweep failed"),
        "the objects' sweep failed:\n{}",
        log()
    );
    drop(server);
}

#[test]
fn worker_replay_concurrent_requests_with_one_nonce_admit_one() {
    workerd::require_toolchain("worker_replay_concurrent_requests_with_one_nonce_admit_one");
    const CONCURRENT: usize = 8;
    build();
    let (server, isolates) = serve("concurrent", &[]);
    let n = nonce("concurrent", 1);
    let request = sign(&hmac_signer(), Some(&n));
    let statuses: Vec<u16> = std::thread::scope(|scope| {
        let handles: Vec<_> = (0..CONCURRENT)
            .map(|i| {
                let addr = if i % 2 == 0 {
                    isolates.main
                } else {
                    isolates.main2
                };
                let request = &request;
                scope.spawn(move || post(addr, request, BODY).status)
            })
            .collect();
        handles.into_iter().map(|h| h.join().unwrap()).collect()
    });
    assert_eq!(
        statuses.iter().filter(|&&s| s == 200).count(),
        1,
        "{statuses:?}\n{}",
        server.log()
    );
    assert_eq!(
        statuses.iter().filter(|&&s| s == 401).count(),
        CONCURRENT - 1,
        "{statuses:?}\n{}",
        server.log()
    );
    assert!(
        !server.log().contains("sweep failed"),
        "the objects' sweep failed:\n{}",
        server.log()
    );
    drop(server);
}

#[test]
fn worker_replay_a_forged_signature_does_not_use_up_its_nonce() {
    workerd::require_toolchain("worker_replay_a_forged_signature_does_not_use_up_its_nonce");
    build();
    let (server, isolates) = serve("forged", &[]);
    let log = || server.log();
    let n = nonce("forged", 1);
    let genuine = sign(&hmac_signer(), Some(&n));

    // The body changed under a genuine signature: its content-digest no
    // longer matches. Refused, and the nonce is not remembered.
    let tampered = post(isolates.main, &genuine, r#"{"amount": 1000}"#);
    assert_refused(&tampered, "invalid_signature", &log());

    // Signed with another key under the same key id and nonce: refused.
    let forger = Signer::new(
        SigningKey::try_from_hmac_sha256(KEY_ID, &Secret::new(vec![7; 32])).unwrap(),
        SignerConfig::default(),
    )
    .unwrap();
    let forged = sign(&forger, Some(&n));
    assert_refused(
        &post(isolates.main2, &forged, BODY),
        "invalid_signature",
        &log(),
    );

    // The genuine request still gets through: forged nonces never reach
    // the store.
    assert_accepted(&post(isolates.main2, &genuine, BODY), &n, "main2", &log());
    drop(server);
}

#[test]
fn worker_replay_unsigned_and_nonceless_requests_are_refused() {
    workerd::require_toolchain("worker_replay_unsigned_and_nonceless_requests_are_refused");
    build();
    let (server, isolates) = serve("unsigned", &[]);
    let log = || server.log();
    let unsigned = Signed {
        headers: vec![("content-type".to_owned(), "application/json".to_owned())],
    };
    assert_refused(
        &post(isolates.main, &unsigned, BODY),
        "missing_signature",
        &log(),
    );
    // A nonce is required by default.
    let nonceless = sign(&hmac_signer(), None);
    assert_refused(
        &post(isolates.main, &nonceless, BODY),
        "insufficient_coverage",
        &log(),
    );
    drop(server);
}

#[test]
fn worker_replay_ed25519_key_from_the_worker_settings() {
    workerd::require_toolchain("worker_replay_ed25519_key_from_the_worker_settings");
    build();
    let rng = ring::rand::SystemRandom::new();
    let pkcs8 = Ed25519KeyPair::generate_pkcs8(&rng).unwrap();
    let pair = Ed25519KeyPair::from_pkcs8(pkcs8.as_ref()).unwrap();
    let public = base64::engine::general_purpose::STANDARD.encode(pair.public_key().as_ref());
    let key_line = |key: &str| format!("(name = \"EDGE_AUTH_HTTPSIG_KEY\", text = \"{key}\")");
    let (server, isolates) = serve(
        "ed25519",
        &[
            (
                r#"(name = "EDGE_AUTH_HTTPSIG_ALG", text = "hmac-sha256")"#.to_owned(),
                r#"(name = "EDGE_AUTH_HTTPSIG_ALG", text = "ed25519")"#.to_owned(),
            ),
            (key_line(HMAC_KEY), key_line(&public)),
        ],
    );
    let log = || server.log();
    let signer = Signer::new(
        SigningKey::try_from_ed25519_pkcs8(KEY_ID, &Secret::new(pkcs8.as_ref().to_vec())).unwrap(),
        SignerConfig::default(),
    )
    .unwrap();
    let n = nonce("ed25519", 1);
    let request = sign(&signer, Some(&n));
    assert_accepted(&post(isolates.main2, &request, BODY), &n, "main2", &log());
    assert_refused(
        &post(isolates.main, &request, BODY),
        "replayed_nonce",
        &log(),
    );
    // The HMAC key the config had is no longer accepted.
    let hmac = sign(&hmac_signer(), Some(&nonce("ed25519", 2)));
    assert_refused(
        &post(isolates.main, &hmac, BODY),
        "invalid_signature",
        &log(),
    );
    drop(server);
}
