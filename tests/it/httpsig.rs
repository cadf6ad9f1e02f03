//! RFC 9421 / RFC 9530 tests: Appendix B vectors, one test per rejection,
//! response signatures with `;req`, and property tests.

use crate::support as common;

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD as B64;
use edge_auth::__fuzz as sf;
use edge_auth::Secret;
use edge_auth::httpsig::{
    Algorithm, Component, DigestAlgorithm, HttpSigError, KeyRing, MemoryReplayGuard, ReplayGuard,
    Signer, SignerConfig, SigningKey, Verifier, VerifierConfig, VerifyingKey, content_digest,
    verify_content_digest,
};
use http::request::Parts;
use serde_json::Value;
use time::OffsetDateTime;

// ------------------------------------------------------------ Appendix B vectors

fn appendix_b() -> Value {
    serde_json::from_str(&common::read_vector("rfc9421", "appendix-b.json"))
        .expect("rfc9421/appendix-b.json is JSON")
}

fn vector_request(v: &Value) -> (Parts, Vec<u8>) {
    let r = &v["request"];
    let mut b = http::Request::builder()
        .method(r["method"].as_str().unwrap())
        .uri(r["target"].as_str().unwrap());
    for h in r["headers"].as_array().unwrap() {
        b = b.header(h[0].as_str().unwrap(), h[1].as_str().unwrap());
    }
    let body = r["body"].as_str().unwrap().as_bytes().to_vec();
    let (parts, ()) = b.body(()).unwrap().into_parts();
    assert_eq!(
        r["scheme"], "https",
        "the vector assumes https (the default)"
    );
    (parts, body)
}

fn pem_der(pem: &str) -> Vec<u8> {
    let b64: String = pem.lines().filter(|l| !l.starts_with("-----")).collect();
    B64.decode(b64).unwrap()
}

fn vector_keys(v: &Value, keyid: &str) -> (SigningKey, VerifyingKey) {
    let k = &v["keys"][keyid];
    match k["alg"].as_str().unwrap() {
        "hmac-sha256" => {
            let secret = Secret::new(B64.decode(k["secret_b64"].as_str().unwrap()).unwrap());
            (
                SigningKey::try_from_hmac_sha256(keyid, &secret).unwrap(),
                VerifyingKey::try_from_hmac_sha256(&secret).unwrap(),
            )
        }
        "ed25519" => {
            // B.1.4's PEMs as printed; the DER constructors must agree.
            let private_pem = Secret::new(k["private_pem"].as_str().unwrap().to_owned());
            let public_pem = k["public_pem"].as_str().unwrap();
            let private = Secret::new(pem_der(private_pem.expose()));
            assert!(SigningKey::try_from_ed25519_pkcs8(keyid, &private).is_ok());
            assert!(VerifyingKey::try_from_ed25519_public(&pem_der(public_pem)).is_ok());
            (
                SigningKey::try_from_private_key_pem(keyid, Algorithm::Ed25519, &private_pem)
                    .unwrap(),
                VerifyingKey::try_from_public_key_pem(Algorithm::Ed25519, public_pem).unwrap(),
            )
        }
        other => panic!("unexpected alg {other}"),
    }
}

struct Case {
    label: String,
    components: Vec<Component>,
    created: i64,
    keyid: String,
    signature_input: String,
    signature: String,
    base: String,
}

fn case(v: &Value, name: &str) -> Case {
    let c = v["cases"]
        .as_array()
        .unwrap()
        .iter()
        .find(|c| c["name"] == name)
        .unwrap_or_else(|| panic!("vector `{name}` missing"));
    let input = c["signature_input"].as_str().unwrap();
    let dict = sf::parse_dictionary(input).unwrap();
    let (label, sf::Entry::InnerList(items, params)) = &dict[0] else {
        panic!("not an inner list")
    };
    let components = items
        .iter()
        .map(|i| Component::try_from_identifier(&sf::serialize_item(i).unwrap()).unwrap())
        .collect();
    let int = |k: &str| match params.iter().find(|(n, _)| n == k) {
        Some((_, sf::BareItem::Integer(i))) => *i,
        _ => panic!("no {k}"),
    };
    let keyid = match params.iter().find(|(n, _)| n == "keyid") {
        Some((_, sf::BareItem::String(s))) => s.clone(),
        _ => panic!("no keyid"),
    };
    Case {
        label: label.clone(),
        components,
        created: int("created"),
        keyid,
        signature_input: input.to_owned(),
        signature: c["signature"].as_str().unwrap().to_owned(),
        base: c["signature_base"].as_str().unwrap().to_owned(),
    }
}

fn vector_signer_config(c: &Case) -> SignerConfig {
    let mut config = SignerConfig::default();
    config.label = c.label.clone();
    config.components = c.components.clone();
    config.expires_after = None;
    config.content_digest = None;
    config
}

fn check_vector_sign(name: &str) {
    let v = appendix_b();
    let c = case(&v, name);
    let (parts, body) = vector_request(&v);
    let (sk, _) = vector_keys(&v, &c.keyid);
    let signer = Signer::new(sk, vector_signer_config(&c)).unwrap();
    let now = OffsetDateTime::from_unix_timestamp(c.created).unwrap();
    let out = signer.sign(&parts, &body, None, now).unwrap();
    assert_eq!(out.signature_base(), c.base);
    assert_eq!(out.signature_input().to_str().unwrap(), c.signature_input);
    assert_eq!(out.signature().to_str().unwrap(), c.signature);
}

fn check_vector_verify(name: &str) {
    let v = appendix_b();
    let c = case(&v, name);
    let (mut parts, body) = vector_request(&v);
    parts
        .headers
        .insert("signature-input", c.signature_input.parse().unwrap());
    parts
        .headers
        .insert("signature", c.signature.parse().unwrap());
    let (_, vk) = vector_keys(&v, &c.keyid);
    let mut keys = KeyRing::new();
    keys.insert(&c.keyid, vk);
    // The RFC examples cover neither @path (B.2.5) nor content-digest, nor
    // the request's query (`?param=Value&Pet=dog`).
    let mut config = VerifierConfig::default();
    config.required_components = vec![Component::try_from_name("@authority").unwrap()];
    config.require_content_digest = false;
    config.require_query = false;
    let now = OffsetDateTime::from_unix_timestamp(c.created + 10).unwrap();
    let verified = Verifier::new(config)
        .unwrap()
        .verify(&parts, &body, &keys, None, now)
        .unwrap();
    assert_eq!(verified.label, c.label);
    assert_eq!(verified.keyid, c.keyid);
    // And a flipped signature byte is refused.
    let mut sig = c.signature.clone().into_bytes();
    let i = sig.iter().position(|b| *b == b':').unwrap() + 3;
    sig[i] = if sig[i] == b'A' { b'B' } else { b'A' };
    parts.headers.insert(
        "signature",
        String::from_utf8(sig).unwrap().parse().unwrap(),
    );
    let mut config = VerifierConfig::default();
    config.required_components = Vec::new();
    config.require_content_digest = false;
    config.require_query = false;
    let err = Verifier::new(config)
        .unwrap()
        .verify(&parts, &body, &keys, None, now)
        .unwrap_err();
    assert!(matches!(err, HttpSigError::BadSignature { .. }), "{err}");
}

fn check_vector_digest(alg: DigestAlgorithm) {
    let v = appendix_b();
    let d = &v["content_digest"][0];
    let body = d["body"].as_str().unwrap().as_bytes();
    let expected = d[alg.as_str()].as_str().unwrap();
    assert_eq!(content_digest(body, &[alg]), expected);
    let mut headers = http::HeaderMap::new();
    headers.insert("content-digest", expected.parse().unwrap());
    assert_eq!(verify_content_digest(&headers, body).unwrap(), vec![alg]);
}

#[test]
fn b_2_5_hmac_sha256_sign() {
    check_vector_sign("B.2.5 hmac-sha256");
}

#[test]
fn b_2_5_hmac_sha256_verify() {
    check_vector_verify("B.2.5 hmac-sha256");
}

#[test]
fn b_2_6_ed25519_sign() {
    check_vector_sign("B.2.6 ed25519");
}

#[test]
fn b_2_6_ed25519_verify() {
    check_vector_verify("B.2.6 ed25519");
}

#[test]
fn rfc9530_sha_256() {
    check_vector_digest(DigestAlgorithm::Sha256);
}

#[test]
fn rfc9530_sha_512() {
    check_vector_digest(DigestAlgorithm::Sha512);
}

// ------------------------------------------------------------ fixtures

const T0: i64 = 1_795_428_000;

fn t(offset_secs: i64) -> OffsetDateTime {
    OffsetDateTime::from_unix_timestamp(T0 + offset_secs).unwrap()
}

fn secret() -> Secret<Vec<u8>> {
    Secret::new((0u8..32).collect())
}

fn hmac_signer(config: SignerConfig) -> Signer {
    Signer::new(
        SigningKey::try_from_hmac_sha256("k1", &secret()).unwrap(),
        config,
    )
    .unwrap()
}

fn keyring() -> KeyRing {
    let mut keys = KeyRing::new();
    keys.insert("k1", VerifyingKey::try_from_hmac_sha256(&secret()).unwrap());
    keys
}

fn request(body: &[u8]) -> (Parts, Vec<u8>) {
    let (parts, body) = http::Request::post("/api/orders?id=7&x=%20y")
        .header("host", "Edge.Example:443")
        .header("content-type", "application/json")
        .body(body.to_vec())
        .unwrap()
        .into_parts();
    (parts, body)
}

/// A request signed with the default config at `t(0)`, with `nonce`.
fn signed_with(config: SignerConfig, nonce: Option<&str>) -> (Parts, Vec<u8>) {
    let (parts, body) = request(br#"{"qty":1}"#);
    let out = hmac_signer(config)
        .sign(&parts, &body, nonce, t(0))
        .unwrap();
    let mut req = http::Request::from_parts(parts, body);
    out.apply_to(&mut req);
    req.into_parts()
}

fn signed() -> (Parts, Vec<u8>) {
    signed_with(SignerConfig::default(), Some("n-1"))
}

fn verify(
    parts: &Parts,
    body: &[u8],
) -> Result<edge_auth::httpsig::Verified<'static>, HttpSigError> {
    verify_with(VerifierConfig::default(), parts, body, t(1))
}

fn verify_with(
    config: VerifierConfig,
    parts: &Parts,
    body: &[u8],
    now: OffsetDateTime,
) -> Result<edge_auth::httpsig::Verified<'static>, HttpSigError> {
    Verifier::new(config)
        .unwrap()
        .verify(parts, body, &keyring(), None, now)
        .map(edge_auth::httpsig::Verified::into_owned)
}

fn set(parts: &mut Parts, name: &'static str, value: &str) {
    parts.headers.insert(name, value.parse().unwrap());
}

macro_rules! assert_err {
    ($result:expr, $pat:pat) => {
        match $result {
            Err(e @ $pat) => {
                // Messages are lowercase and never end with a period.
                let msg = e.to_string();
                assert!(!msg.ends_with('.'), "{msg}");
                assert!(!msg.starts_with(|c: char| c.is_uppercase()), "{msg}");
            }
            other => panic!("expected {}, got {other:?}", stringify!($pat)),
        }
    };
}

// ------------------------------------------------------------ acceptance

#[test]
fn default_round_trip() {
    let (parts, body) = signed();
    let v = verify(&parts, &body).unwrap();
    assert_eq!(v.label, "sig1");
    assert_eq!(v.keyid, "k1");
    assert_eq!(v.nonce.as_deref(), Some("n-1"));
    assert_eq!(v.digests_checked(), vec![DigestAlgorithm::Sha256]);
    assert_eq!(v.created(), Some(t(0)));
    assert_eq!(v.expires(), Some(t(300)));
}

#[test]
fn signature_base_normalises_authority_and_query() {
    let (parts, body) = request(b"");
    let mut config = SignerConfig::default();
    config.components = [
        "@authority",
        "@query",
        "@target-uri",
        "@request-target",
        "@scheme",
    ]
    .iter()
    .map(|n| Component::try_from_name(n).unwrap())
    .chain([Component::try_from_identifier(r#""@query-param";name="x""#).unwrap()])
    .collect();
    config.expires_after = None;
    let out = hmac_signer(config).sign(&parts, &body, None, t(0)).unwrap();
    let lines: Vec<&str> = out.signature_base().lines().collect();
    assert_eq!(lines[0], r#""@authority": edge.example"#);
    assert_eq!(lines[1], r#""@query": ?id=7&x=%20y"#);
    // @target-uri is not normalised (RFC 9421 §2.2.2, RFC 9110 §7.1): the
    // authority is the one received (see target_uri_keeps_the_authority_as_received).
    assert_eq!(
        lines[2],
        r#""@target-uri": https://Edge.Example:443/api/orders?id=7&x=%20y"#
    );
    assert_eq!(lines[3], r#""@request-target": /api/orders?id=7&x=%20y"#);
    assert_eq!(lines[4], r#""@scheme": https"#);
    assert_eq!(lines[5], r#""@query-param";name="x": %20y"#);
}

/// RFC 9421 §2.2.2: @target-uri is the target URI of RFC 9110 §7.1, built
/// from the authority as received; only @authority (§2.2.3) is normalised.
/// The Node and Python stacks sign it so (tests/interop_httpsig.rs,
/// `derived_target_uri_*`). Userinfo is not part of the target URI (RFC 9110
/// §4.2.4).
#[test]
fn target_uri_keeps_the_authority_as_received() {
    let mut config = SignerConfig::default();
    config.components = ["@target-uri", "@authority"]
        .iter()
        .map(|n| Component::try_from_name(n).unwrap())
        .collect();
    config.content_digest = None;
    for (uri, target, authority) in [
        (
            "https://Example.COM:443/a?b=1",
            "https://Example.COM:443/a?b=1",
            "example.com",
        ),
        (
            "http://example.com:80/",
            "http://example.com:80/",
            "example.com",
        ),
        (
            "https://user:pw@example.com:8443/p",
            "https://example.com:8443/p",
            "example.com:8443",
        ),
    ] {
        let (parts, ()) = http::Request::get(uri).body(()).unwrap().into_parts();
        let out = hmac_signer(config.clone())
            .sign(&parts, b"", None, t(0))
            .unwrap();
        let lines: Vec<&str> = out.signature_base().lines().collect();
        assert_eq!(lines[0], format!(r#""@target-uri": {target}"#), "{uri}");
        assert_eq!(lines[1], format!(r#""@authority": {authority}"#), "{uri}");
    }
}

#[test]
fn empty_query_is_question_mark() {
    let (parts, ()) = http::Request::get("https://a.example/p")
        .body(())
        .unwrap()
        .into_parts();
    let mut config = SignerConfig::default();
    config.components = vec![Component::try_from_name("@query").unwrap()];
    let out = hmac_signer(config).sign(&parts, b"", None, t(0)).unwrap();
    assert!(out.signature_base().starts_with("\"@query\": ?\n"));
}

#[test]
fn multiple_field_lines_are_combined() {
    let (mut parts, body) = request(b"");
    parts.headers.append("x-list", " a ".parse().unwrap());
    parts.headers.append("x-list", "b,  c\t".parse().unwrap());
    let mut config = SignerConfig::default();
    config.components = vec![
        Component::try_from_name("x-list").unwrap(),
        Component::try_from_identifier(r#""x-list";bs"#).unwrap(),
    ];
    let out = hmac_signer(config).sign(&parts, &body, None, t(0)).unwrap();
    let lines: Vec<&str> = out.signature_base().lines().collect();
    assert_eq!(lines[0], r#""x-list": a, b,  c"#);
    assert_eq!(lines[1], r#""x-list";bs: :YQ==:, :YiwgIGM=:"#);
}

#[test]
fn structured_field_components() {
    let (mut parts, body) = request(b"");
    set(
        &mut parts,
        "example-dict",
        " a=1,    b=2;x=1;y=2,   c=(a   b   c), d",
    );
    let mut config = SignerConfig::default();
    config.components = [
        r#""example-dict""#,
        r#""example-dict";sf"#,
        r#""example-dict";key="a""#,
        r#""example-dict";key="d""#,
        r#""example-dict";key="b""#,
        r#""example-dict";key="c""#,
    ]
    .iter()
    .map(|s| Component::try_from_identifier(s).unwrap())
    .collect();
    let out = hmac_signer(config).sign(&parts, &body, None, t(0)).unwrap();
    let lines: Vec<&str> = out.signature_base().lines().collect();
    // RFC 9421 §2.1.1 and §2.1.2 examples.
    assert_eq!(
        lines[0],
        r#""example-dict": a=1,    b=2;x=1;y=2,   c=(a   b   c), d"#
    );
    assert_eq!(
        lines[1],
        r#""example-dict";sf: a=1, b=2;x=1;y=2, c=(a b c), d"#
    );
    assert_eq!(lines[2], r#""example-dict";key="a": 1"#);
    assert_eq!(lines[3], r#""example-dict";key="d": ?1"#);
    assert_eq!(lines[4], r#""example-dict";key="b": 2;x=1;y=2"#);
    assert_eq!(lines[5], r#""example-dict";key="c": (a b c)"#);
}

#[test]
fn foreign_signature_is_ignored_when_another_verifies() {
    let (mut parts, body) = signed();
    // A second signature from a key we do not know, listed first.
    let input = parts.headers["signature-input"]
        .to_str()
        .unwrap()
        .to_owned();
    let sig = parts.headers["signature"].to_str().unwrap().to_owned();
    let foreign_input = input
        .replacen("sig1=", "proxy=", 1)
        .replace("\"k1\"", "\"other\"");
    let foreign_sig = sig.replacen("sig1=", "proxy=", 1);
    set(
        &mut parts,
        "signature-input",
        &format!("{foreign_input}, {input}"),
    );
    set(&mut parts, "signature", &format!("{foreign_sig}, {sig}"));
    assert_eq!(verify(&parts, &body).unwrap().label, "sig1");
    // With the foreign label configured, its failure is what is reported.
    let mut config = VerifierConfig::default();
    config.label = Some("proxy".into());
    assert_err!(
        verify_with(config, &parts, &body, t(1)),
        HttpSigError::UnknownKeyId { .. }
    );
}

#[test]
fn key_rotation_two_active_keys() {
    let new_secret = Secret::new(vec![9u8; 32]);
    let signer = Signer::new(
        SigningKey::try_from_hmac_sha256("k2", &new_secret).unwrap(),
        SignerConfig::default(),
    )
    .unwrap();
    let (parts, body) = request(b"{}");
    let out = signer.sign(&parts, &body, None, t(0)).unwrap();
    let mut req = http::Request::from_parts(parts, body);
    out.apply_to(&mut req);
    let (parts, body) = req.into_parts();
    let mut keys = keyring();
    keys.insert(
        "k2",
        VerifyingKey::try_from_hmac_sha256(&new_secret).unwrap(),
    );
    let v = Verifier::default()
        .verify(&parts, &body, &keys, None, t(1))
        .unwrap();
    assert_eq!(v.keyid, "k2");
}

#[test]
fn ed25519_round_trip_with_alg() {
    let seed = Secret::new(vec![1u8; 32]);
    let sk = SigningKey::try_from_ed25519_seed("ed", &seed).unwrap();
    let vk = sk.verifying_key();
    let mut config = SignerConfig::default();
    config.include_alg = true;
    let signer = Signer::new(sk, config).unwrap();
    let (parts, body) = request(b"x");
    let out = signer.sign(&parts, &body, None, t(0)).unwrap();
    assert!(
        out.signature_input()
            .to_str()
            .unwrap()
            .contains(r#"alg="ed25519""#)
    );
    let mut req = http::Request::from_parts(parts, body);
    out.apply_to(&mut req);
    let (parts, body) = req.into_parts();
    let mut keys = KeyRing::new();
    keys.insert("ed", vk);
    let v = Verifier::default()
        .verify(&parts, &body, &keys, None, t(1))
        .unwrap();
    assert_eq!(v.algorithm, edge_auth::httpsig::Algorithm::Ed25519);
}

#[test]
fn response_with_req_components() {
    let (req_parts, _) = request(b"");
    let (resp_parts, body) = http::Response::builder()
        .status(201)
        .header("content-type", "text/plain")
        .body(b"created".to_vec())
        .unwrap()
        .into_parts();
    let mut config = SignerConfig::default();
    config.components = [
        r#""@status""#,
        r#""content-type""#,
        r#""content-digest""#,
        r#""@method";req"#,
        r#""@authority";req"#,
        r#""content-type";req"#,
    ]
    .iter()
    .map(|s| Component::try_from_identifier(s).unwrap())
    .collect();
    let out = hmac_signer(config)
        .sign_response(&resp_parts, &body, Some(&req_parts), None, t(0))
        .unwrap();
    assert!(
        out.signature_base()
            .contains("\"@status\": 201\n\"content-type\": text/plain\n")
    );
    assert!(out.signature_base().contains("\"@method\";req: POST\n"));
    let mut resp = http::Response::from_parts(resp_parts, body);
    out.apply_to_response(&mut resp);
    let (resp_parts, body) = resp.into_parts();
    let verifier = Verifier::default();
    verifier
        .verify_response(&resp_parts, &body, Some(&req_parts), &keyring(), None, t(1))
        .unwrap();
    // Without the related request the `;req` components are missing.
    assert_err!(
        verifier.verify_response(&resp_parts, &body, None, &keyring(), None, t(1)),
        HttpSigError::MissingComponent { .. }
    );
}

#[test]
fn content_digest_ignores_unknown_algorithms_when_known_present() {
    let body = b"hello";
    let mut headers = http::HeaderMap::new();
    let known = content_digest(body, &[DigestAlgorithm::Sha512]);
    headers.insert(
        "content-digest",
        format!("md5=:AAAA:, unixsum=1, {known}").parse().unwrap(),
    );
    assert_eq!(
        verify_content_digest(&headers, body).unwrap(),
        vec![DigestAlgorithm::Sha512]
    );
}

#[test]
fn keys_do_not_leak_in_debug() {
    let sk = SigningKey::try_from_hmac_sha256("k1", &secret()).unwrap();
    let dbg = format!("{sk:?} {:?} {:?}", sk.verifying_key(), keyring());
    assert!(dbg.contains("redacted"));
    assert!(!dbg.contains("[0, 1, 2"));
}

#[test]
fn short_hmac_key_is_refused() {
    assert_err!(
        SigningKey::try_from_hmac_sha256("k", &Secret::new(vec![1; 16])),
        HttpSigError::InvalidKey(_)
    );
}

// ------------------------------------------------------------ rejections

#[test]
fn rejects_tampered_covered_component() {
    let (mut parts, body) = signed();
    parts.method = http::Method::PUT;
    assert_err!(verify(&parts, &body), HttpSigError::BadSignature { .. });
}

#[test]
fn rejects_tampered_authority() {
    let (mut parts, body) = signed();
    set(&mut parts, "host", "evil.example");
    assert_err!(verify(&parts, &body), HttpSigError::BadSignature { .. });
}

#[test]
fn rejects_tampered_body() {
    let (parts, _) = signed();
    assert_err!(
        verify(&parts, br#"{"qty":9}"#),
        HttpSigError::DigestMismatch { .. }
    );
}

#[test]
fn rejects_tampered_signature_params() {
    let (mut parts, body) = signed();
    let input = parts.headers["signature-input"]
        .to_str()
        .unwrap()
        .to_owned();
    set(&mut parts, "signature-input", &input.replace("n-1", "n-2"));
    assert_err!(verify(&parts, &body), HttpSigError::BadSignature { .. });
}

#[test]
fn rejects_required_component_not_covered() {
    let mut config = SignerConfig::default();
    config
        .components
        .retain(|c| c.name() != "@path" && c.name() != "@query");
    let (parts, body) = signed_with(config, None);
    assert_err!(
        verify(&parts, &body),
        HttpSigError::RequiredComponentMissing { .. }
    );
}

#[test]
fn rejects_body_without_covered_content_digest() {
    let mut config = SignerConfig::default();
    config.components.retain(|c| c.name() != "content-digest");
    let (parts, body) = signed_with(config, None);
    assert_err!(verify(&parts, &body), HttpSigError::ContentDigestNotCovered);
}

#[test]
fn rejects_expired() {
    let (parts, body) = signed();
    let mut config = VerifierConfig::default();
    config.max_age = None;
    assert_err!(
        verify_with(config, &parts, &body, t(300 + 61)),
        HttpSigError::Expired { .. }
    );
}

#[test]
fn rejects_created_in_future_beyond_skew() {
    let (parts, body) = signed();
    assert_err!(
        verify_with(VerifierConfig::default(), &parts, &body, t(-61)),
        HttpSigError::CreatedInFuture { .. }
    );
    // Within the skew it is accepted.
    verify_with(VerifierConfig::default(), &parts, &body, t(-60)).unwrap();
}

#[test]
fn rejects_too_old() {
    let mut config = SignerConfig::default();
    config.expires_after = None;
    let (parts, body) = signed_with(config, None);
    assert_err!(
        verify_with(VerifierConfig::default(), &parts, &body, t(300 + 61)),
        HttpSigError::TooOld { .. }
    );
}

#[test]
fn rejects_missing_created() {
    let mut config = SignerConfig::default();
    config.include_created = false;
    let (parts, body) = signed_with(config, None);
    assert_err!(
        verify(&parts, &body),
        HttpSigError::MissingParameter {
            parameter: "created"
        }
    );
}

#[test]
fn rejects_unknown_keyid() {
    let (parts, body) = signed();
    let err = Verifier::default().verify(&parts, &body, &KeyRing::new(), None, t(1));
    assert_err!(err, HttpSigError::UnknownKeyId { .. });
}

#[test]
fn rejects_retired_key() {
    let (parts, body) = signed();
    let mut keys = keyring();
    assert!(keys.retire("k1"));
    let err = Verifier::default().verify(&parts, &body, &keys, None, t(1));
    assert_err!(err, HttpSigError::KeyRetired { .. });
}

#[test]
fn rejects_replayed_nonce() {
    let (parts, body) = signed();
    let mut guard = MemoryReplayGuard::with_capacity(16);
    let verifier = Verifier::default();
    let keys = keyring();
    verifier
        .verify(&parts, &body, &keys, Some(&mut guard), t(1))
        .unwrap();
    assert_err!(
        verifier.verify(&parts, &body, &keys, Some(&mut guard), t(2)),
        HttpSigError::Replayed { .. }
    );
    // A forged signature never reaches the guard, so it cannot burn a nonce.
    let mut fresh = MemoryReplayGuard::with_capacity(16);
    let mut forged = parts.clone();
    forged.method = http::Method::DELETE;
    assert!(
        verifier
            .verify(&forged, &body, &keys, Some(&mut fresh), t(1))
            .is_err()
    );
    assert!(fresh.is_empty());
}

#[test]
fn rejects_when_replay_guard_is_full() {
    let mut guard = MemoryReplayGuard::with_capacity(1);
    guard
        .check_and_remember("k1", "other", t(100), t(0))
        .unwrap();
    let (parts, body) = signed();
    let err = Verifier::default().verify(&parts, &body, &keyring(), Some(&mut guard), t(1));
    assert_err!(err, HttpSigError::ReplayCacheFull { .. });
}

#[test]
fn rejects_missing_nonce_when_required() {
    let (parts, body) = signed_with(SignerConfig::default(), None);
    let mut config = VerifierConfig::default();
    config.require_nonce = true;
    assert_err!(
        verify_with(config, &parts, &body, t(1)),
        HttpSigError::MissingParameter { parameter: "nonce" }
    );
}

#[test]
fn rejects_duplicate_labels() {
    let (mut parts, body) = signed();
    let input = parts.headers["signature-input"]
        .to_str()
        .unwrap()
        .to_owned();
    parts
        .headers
        .append("signature-input", input.parse().unwrap());
    assert_err!(verify(&parts, &body), HttpSigError::DuplicateLabel { .. });
}

#[test]
fn rejects_duplicate_component() {
    let (mut parts, body) = signed();
    let input = parts.headers["signature-input"]
        .to_str()
        .unwrap()
        .to_owned();
    set(
        &mut parts,
        "signature-input",
        &input.replace("(\"@method\"", "(\"@method\" \"@method\""),
    );
    assert_err!(
        verify(&parts, &body),
        HttpSigError::DuplicateComponent { .. }
    );
}

#[test]
fn rejects_malformed_signature_input_field() {
    let (mut parts, body) = signed();
    set(&mut parts, "signature-input", "sig1=(\"@method\"");
    assert_err!(
        verify(&parts, &body),
        HttpSigError::MalformedField {
            field: "signature-input",
            ..
        }
    );
}

#[test]
fn rejects_malformed_signature_field() {
    let (mut parts, body) = signed();
    set(&mut parts, "signature", "sig1=\"not bytes\"");
    assert_err!(
        verify(&parts, &body),
        HttpSigError::MalformedField {
            field: "signature",
            ..
        }
    );
}

#[test]
fn rejects_signature_input_that_is_not_an_inner_list() {
    let (mut parts, body) = signed();
    set(&mut parts, "signature-input", "sig1=\"@method\"");
    assert_err!(
        verify(&parts, &body),
        HttpSigError::MalformedSignatureInput { .. }
    );
}

#[test]
fn rejects_badly_typed_parameter() {
    let (mut parts, body) = signed();
    let input = parts.headers["signature-input"]
        .to_str()
        .unwrap()
        .to_owned();
    set(
        &mut parts,
        "signature-input",
        &input.replace(";keyid=\"k1\"", ";keyid=k1"),
    );
    assert_err!(
        verify(&parts, &body),
        HttpSigError::MalformedSignatureInput { .. }
    );
}

#[test]
fn rejects_malformed_component() {
    let (mut parts, body) = signed();
    let input = parts.headers["signature-input"]
        .to_str()
        .unwrap()
        .to_owned();
    set(
        &mut parts,
        "signature-input",
        &input.replace("\"@method\"", "\"@method\";bogus"),
    );
    assert_err!(
        verify(&parts, &body),
        HttpSigError::MalformedComponent { .. }
    );
}

#[test]
fn rejects_missing_signature_input() {
    let (mut parts, body) = signed();
    parts.headers.remove("signature-input");
    assert_err!(verify(&parts, &body), HttpSigError::MissingSignatureInput);
}

#[test]
fn rejects_missing_signature_member() {
    let (mut parts, body) = signed();
    set(&mut parts, "signature", "other=:AAAA:");
    assert_err!(verify(&parts, &body), HttpSigError::MissingSignature { .. });
}

#[test]
fn rejects_configured_label_not_found() {
    let (parts, body) = signed();
    let mut config = VerifierConfig::default();
    config.label = Some("nope".into());
    assert_err!(
        verify_with(config, &parts, &body, t(1)),
        HttpSigError::LabelNotFound { .. }
    );
}

#[test]
fn rejects_tag_mismatch() {
    let mut sc = SignerConfig::default();
    sc.tag = Some("app-a".into());
    let (parts, body) = signed_with(sc, None);
    let mut config = VerifierConfig::default();
    config.tag = Some("app-b".into());
    assert_err!(
        verify_with(config, &parts, &body, t(1)),
        HttpSigError::TagMismatch { .. }
    );
    let mut config = VerifierConfig::default();
    config.tag = Some("app-a".into());
    verify_with(config, &parts, &body, t(1)).unwrap();
}

#[test]
fn rejects_alg_mismatch() {
    let (mut parts, body) = signed();
    let input = parts.headers["signature-input"]
        .to_str()
        .unwrap()
        .to_owned();
    set(
        &mut parts,
        "signature-input",
        &format!("{input};alg=\"ed25519\""),
    );
    assert_err!(
        verify(&parts, &body),
        HttpSigError::AlgorithmMismatch { .. }
    );
}

#[test]
fn rejects_unsupported_alg() {
    let (mut parts, body) = signed();
    let input = parts.headers["signature-input"]
        .to_str()
        .unwrap()
        .to_owned();
    set(
        &mut parts,
        "signature-input",
        &format!("{input};alg=\"rsa-v1_5-sha512\""),
    );
    assert_err!(
        verify(&parts, &body),
        HttpSigError::UnsupportedAlgorithm { .. }
    );
    // A registered algorithm other than the key's is a mismatch instead.
    let (mut parts, body) = signed();
    set(
        &mut parts,
        "signature-input",
        &format!("{input};alg=\"rsa-v1_5-sha256\""),
    );
    assert_err!(
        verify(&parts, &body),
        HttpSigError::AlgorithmMismatch { .. }
    );
}

#[test]
fn rejects_too_many_signatures() {
    let (mut parts, body) = signed();
    let many: Vec<String> = (0..9).map(|i| format!("s{i}=()")).collect();
    set(&mut parts, "signature-input", &many.join(", "));
    assert_err!(
        verify(&parts, &body),
        HttpSigError::TooManySignatures { .. }
    );
}

#[test]
fn rejects_too_many_components() {
    let (mut parts, body) = signed();
    let comps: Vec<String> = (0..33).map(|i| format!("\"x-{i}\"")).collect();
    set(
        &mut parts,
        "signature-input",
        &format!("sig1=({});keyid=\"k1\"", comps.join(" ")),
    );
    assert_err!(
        verify(&parts, &body),
        HttpSigError::TooManyComponents { .. }
    );
}

#[test]
fn rejects_oversized_field() {
    let (mut parts, body) = signed();
    set(
        &mut parts,
        "signature",
        &format!("sig1=:{}:", "A".repeat(9000)),
    );
    assert_err!(verify(&parts, &body), HttpSigError::FieldTooLarge { .. });
}

#[test]
fn rejects_missing_covered_field() {
    let (mut parts, body) = signed();
    parts.headers.remove("content-digest");
    assert_err!(verify(&parts, &body), HttpSigError::MissingComponent { .. });
}

#[test]
fn rejects_content_digest_with_no_known_algorithm() {
    let mut headers = http::HeaderMap::new();
    headers.insert("content-digest", "md5=:AAAA:".parse().unwrap());
    assert_err!(
        verify_content_digest(&headers, b"x"),
        HttpSigError::NoKnownDigest
    );
}

#[test]
fn rejects_non_ascii_field_without_bs() {
    let (mut parts, body) = request(b"");
    parts.headers.insert(
        "x-bin",
        http::HeaderValue::from_bytes(b"caf\xc3\xa9").unwrap(),
    );
    let mut config = SignerConfig::default();
    config.components = vec![Component::try_from_name("x-bin").unwrap()];
    assert_err!(
        hmac_signer(config.clone()).sign(&parts, &body, None, t(0)),
        HttpSigError::NonAsciiField { .. }
    );
    config.components = vec![Component::try_from_identifier("\"x-bin\";bs").unwrap()];
    hmac_signer(config).sign(&parts, &body, None, t(0)).unwrap();
}

#[test]
fn rejects_repeated_query_param() {
    let (parts, ()) = http::Request::get("https://a.example/?a=1&a=2")
        .body(())
        .unwrap()
        .into_parts();
    let mut config = SignerConfig::default();
    config.components = vec![Component::try_from_identifier(r#""@query-param";name="a""#).unwrap()];
    assert_err!(
        hmac_signer(config).sign(&parts, b"", None, t(0)),
        HttpSigError::MalformedComponent { .. }
    );
}

#[test]
fn rejects_duplicate_component_in_signer_config() {
    let mut config = SignerConfig::default();
    config
        .components
        .push(Component::try_from_name("@method").unwrap());
    assert_err!(
        Signer::new(
            SigningKey::try_from_hmac_sha256("k1", &secret()).unwrap(),
            config
        ),
        HttpSigError::DuplicateComponent { .. }
    );
}

// ------------------------------------------------------------ properties

mod props {
    use super::*;
    use proptest::prelude::*;

    fn bare_item() -> impl Strategy<Value = sf::BareItem> {
        prop_oneof![
            (-999_999_999_999_999i64..=999_999_999_999_999).prop_map(sf::BareItem::Integer),
            (-999_999_999_999_999i64..=999_999_999_999_999).prop_map(sf::BareItem::Decimal),
            "[ -~]{0,12}".prop_map(sf::BareItem::String),
            "[A-Za-z*][A-Za-z0-9!#$%&'*+.^_`|~:/-]{0,8}".prop_map(sf::BareItem::Token),
            proptest::collection::vec(any::<u8>(), 0..24).prop_map(sf::BareItem::ByteSequence),
            any::<bool>().prop_map(sf::BareItem::Boolean),
            (-999_999_999_999_999i64..=999_999_999_999_999).prop_map(sf::BareItem::Date),
            ".{0,8}".prop_map(sf::BareItem::DisplayString),
        ]
    }

    fn key() -> impl Strategy<Value = String> {
        "[a-z*][a-z0-9_.*-]{0,6}"
    }

    fn params() -> impl Strategy<Value = sf::Parameters> {
        proptest::collection::btree_map(key(), bare_item(), 0..3)
            .prop_map(|m| m.into_iter().collect())
    }

    fn item() -> impl Strategy<Value = sf::Item> {
        (bare_item(), params()).prop_map(|(bare, params)| sf::Item { bare, params })
    }

    fn entry() -> impl Strategy<Value = sf::Entry> {
        prop_oneof![
            item().prop_map(sf::Entry::Item),
            (proptest::collection::vec(item(), 0..4), params())
                .prop_map(|(items, p)| sf::Entry::InnerList(items, p)),
        ]
    }

    fn dictionary() -> impl Strategy<Value = sf::Dictionary> {
        proptest::collection::btree_map(key(), entry(), 0..5).prop_map(|m| m.into_iter().collect())
    }

    proptest! {
        #[test]
        fn sf_dictionary_serialise_parse_identity(dict in dictionary()) {
            let text = sf::serialize_dictionary(&dict).unwrap();
            let parsed = sf::parse_dictionary(&text).unwrap();
            prop_assert_eq!(&parsed, &dict);
            prop_assert_eq!(sf::serialize_dictionary(&parsed).unwrap(), text);
        }

        #[test]
        fn sf_list_serialise_parse_identity(list in proptest::collection::vec(entry(), 0..5)) {
            let text = sf::serialize_list(&list).unwrap();
            prop_assert_eq!(sf::parse_list(&text).unwrap(), list);
        }

        #[test]
        fn sf_parse_serialise_parse_is_identity(input in "[ -~]{0,40}") {
            if let Ok(d) = sf::parse_dictionary(&input) {
                let text = sf::serialize_dictionary(&d).unwrap();
                prop_assert_eq!(sf::parse_dictionary(&text).unwrap(), d);
            }
            if let Ok(l) = sf::parse_list(&input) {
                let text = sf::serialize_list(&l).unwrap();
                prop_assert_eq!(sf::parse_list(&text).unwrap(), l);
            }
        }

        #[test]
        fn verify_never_panics_on_hostile_fields(
            input in "[ -~]{0,80}",
            sig in "[ -~]{0,80}",
            digest in "[ -~]{0,40}",
            keep_input_prefix in any::<bool>(),
        ) {
            let (mut parts, body) = signed();
            let base_input = parts.headers["signature-input"].to_str().unwrap().to_owned();
            let input = if keep_input_prefix { format!("{base_input}{input}") } else { input };
            if let Ok(v) = http::HeaderValue::from_str(&input) {
                parts.headers.insert("signature-input", v);
            }
            if let Ok(v) = http::HeaderValue::from_str(&sig) {
                parts.headers.append("signature", v);
            }
            if let Ok(v) = http::HeaderValue::from_str(&digest) {
                parts.headers.append("content-digest", v);
            }
            // Must return a result, never panic. (Appended fields can be
            // harmless, e.g. an extra unknown digest, so success is allowed,
            // but only for the original signature.)
            if let Ok(v) = verify(&parts, &body) {
                prop_assert_eq!(v.label, "sig1");
            }
        }

        #[test]
        fn sign_verify_round_trip(
            method in prop_oneof![Just("GET"), Just("POST"), Just("PUT"), Just("DELETE"), Just("PATCH")],
            host in "[a-z]{1,10}\\.example(:[0-9]{1,5})?",
            path in "(/[A-Za-z0-9._~%-]{0,8}){0,4}",
            query in proptest::option::of("[A-Za-z0-9=&+%._-]{0,20}"),
            headers in proptest::collection::btree_map("x-[a-z]{1,6}", "[ -~]{0,20}", 0..4),
            body in proptest::collection::vec(any::<u8>(), 0..64),
            extra in proptest::collection::vec(
                prop_oneof![Just("@target-uri"), Just("@scheme"), Just("@request-target"), Just("@query")], 0..4),
            use_ed25519 in any::<bool>(),
            nonce in proptest::option::of("[a-zA-Z0-9]{1,12}"),
        ) {
            let path = if path.is_empty() { "/".to_owned() } else { path };
            let uri = match &query {
                Some(q) => format!("{path}?{q}"),
                None => path.clone(),
            };
            let mut b = http::Request::builder().method(method).uri(&uri).header("host", &host);
            for (k, v) in &headers {
                b = b.header(k.as_str(), v.as_str());
            }
            let (parts, ()) = b.body(()).unwrap().into_parts();
            let mut config = SignerConfig::default();
            let mut extra = extra;
            extra.dedup();
            for e in extra {
                let c = Component::try_from_name(e).unwrap();
                if !config.components.contains(&c) {
                    config.components.push(c);
                }
            }
            for k in headers.keys() {
                config.components.push(Component::try_from_name(k).unwrap());
            }
            let (sk, vk) = if use_ed25519 {
                let sk = SigningKey::try_from_ed25519_seed("k", &Secret::new(vec![3; 32])).unwrap();
                let vk = sk.verifying_key();
                (sk, vk)
            } else {
                (
                    SigningKey::try_from_hmac_sha256("k", &secret()).unwrap(),
                    VerifyingKey::try_from_hmac_sha256(&secret()).unwrap(),
                )
            };
            let out = Signer::new(sk, config).unwrap().sign(&parts, &body, nonce.as_deref(), t(0)).unwrap();
            let mut req = http::Request::from_parts(parts, body);
            out.apply_to(&mut req);
            let (parts, body) = req.into_parts();
            let mut keys = KeyRing::new();
            keys.insert("k", vk);
            let verifier = Verifier::default();
            let mut guard = MemoryReplayGuard::with_capacity(4);
            verifier.verify(&parts, &body, &keys, Some(&mut guard), t(1)).unwrap();
            // Changing the method never verifies.
            let mut tampered = parts.clone();
            tampered.method = if parts.method == http::Method::GET { http::Method::HEAD } else { http::Method::GET };
            prop_assert!(verifier.verify(&tampered, &body, &keys, None, t(1)).is_err());
        }
    }
}

#[test]
fn rejects_missing_signature_field() {
    let (mut parts, body) = signed();
    parts.headers.remove("signature");
    assert_err!(verify(&parts, &body), HttpSigError::MissingSignature { .. });
}

/// RSA and ECDSA verification keys (RFC 9421 §3.3.1, §3.3.2, §3.3.4,
/// §3.3.5) check their material when built; signatures from other stacks
/// are verified in tests/interop_httpsig.rs.
#[test]
fn rsa_and_ecdsa_verifying_keys_check_their_material() {
    use edge_auth::httpsig::Algorithm;
    let mut n = vec![0u8]; // a leading zero is not counted
    n.push(0xc5);
    n.extend([0x11u8; 255]); // 2048 bits
    let e = [1u8, 0, 1];
    for alg in [Algorithm::RsaPssSha512, Algorithm::RsaV15Sha256] {
        let key = VerifyingKey::try_from_rsa_components(alg, &n, &e).unwrap();
        assert_eq!(key.algorithm(), alg);
        assert!(
            !format!("{key:?}").contains("17, 17"),
            "no key bytes in Debug"
        );
    }
    let short = &n[..200];
    let err =
        VerifyingKey::try_from_rsa_components(Algorithm::RsaPssSha512, short, &e).unwrap_err();
    assert!(err.to_string().contains("1592 bits"), "{err}");
    for bad_e in [&[1u8][..], &[2], &[], &[1, 0, 0, 0, 1]] {
        assert!(
            VerifyingKey::try_from_rsa_components(Algorithm::RsaV15Sha256, &n, bad_e).is_err(),
            "{bad_e:?}"
        );
    }
    assert!(VerifyingKey::try_from_rsa_components(Algorithm::Ed25519, &n, &e).is_err());

    // A point on the curve (with the `aws-lc-rs` feature the key is parsed,
    // and checked, when built: see `ecdsa_point_off_the_curve_never_verifies`).
    let p256 = p256_public_point();
    let key = VerifyingKey::try_from_ecdsa_public(Algorithm::EcdsaP256Sha256, &p256).unwrap();
    assert_eq!(key.algorithm().as_str(), "ecdsa-p256-sha256");
    // Wrong curve length, compressed form, wrong algorithm.
    assert!(VerifyingKey::try_from_ecdsa_public(Algorithm::EcdsaP384Sha384, &p256).is_err());
    let mut compressed = vec![2u8];
    compressed.extend(&p256[1..33]);
    assert!(VerifyingKey::try_from_ecdsa_public(Algorithm::EcdsaP256Sha256, &compressed).is_err());
    assert!(VerifyingKey::try_from_ecdsa_public(Algorithm::HmacSha256, &p256).is_err());
}

/// An uncompressed P-256 public point of a fresh key.
fn p256_public_point() -> Vec<u8> {
    use ring::rand::SystemRandom;
    use ring::signature::{ECDSA_P256_SHA256_FIXED_SIGNING, EcdsaKeyPair, KeyPair as _};
    let rng = SystemRandom::new();
    let pkcs8 = EcdsaKeyPair::generate_pkcs8(&ECDSA_P256_SHA256_FIXED_SIGNING, &rng).unwrap();
    let pair =
        EcdsaKeyPair::from_pkcs8(&ECDSA_P256_SHA256_FIXED_SIGNING, pkcs8.as_ref(), &rng).unwrap();
    pair.public_key().as_ref().to_vec()
}

/// A point of the right form that is not on P-256: with the `aws-lc-rs`
/// feature the crypto seam parses the key when it is built and refuses it
/// there; with ring (which parses at verification) the key builds and
/// verifies nothing.
#[test]
fn ecdsa_point_off_the_curve_never_verifies() {
    use edge_auth::httpsig::Algorithm;
    let mut off = vec![4u8];
    off.extend([7u8; 64]);
    let built = VerifyingKey::try_from_ecdsa_public(Algorithm::EcdsaP256Sha256, &off);
    if cfg!(feature = "aws-lc-rs") {
        let err = built.unwrap_err();
        assert!(err.to_string().contains("aws-lc-rs refused"), "{err}");
        return;
    }
    let mut keys = KeyRing::new();
    keys.insert("p256", built.unwrap());
    let created = 1_795_428_000i64;
    let params = format!(r#"("@method" "@authority" "@path");created={created};keyid="p256""#);
    let (parts, ()) = http::Request::post("https://api.example.com/orders")
        .header("signature-input", format!("sig1={params}"))
        .header("signature", format!("sig1=:{}:", B64.encode([9u8; 64])))
        .body(())
        .unwrap()
        .into_parts();
    let verifier = Verifier::new(VerifierConfig::default()).unwrap();
    let now = OffsetDateTime::from_unix_timestamp(created + 10).unwrap();
    assert!(verifier.verify(&parts, b"", &keys, None, now).is_err());
}

/// An ECDSA signature from ring (fixed `r || s`, RFC 9421 §3.3.4) over a
/// signature base verifies; the same key refuses a DER-encoded signature
/// and a signature for another `alg`.
#[test]
fn ecdsa_p256_signature_verifies_through_the_verifier() {
    use edge_auth::httpsig::Algorithm;
    use ring::rand::SystemRandom;
    use ring::signature::{ECDSA_P256_SHA256_FIXED_SIGNING, EcdsaKeyPair, KeyPair as _};
    let rng = SystemRandom::new();
    let pkcs8 = EcdsaKeyPair::generate_pkcs8(&ECDSA_P256_SHA256_FIXED_SIGNING, &rng).unwrap();
    let pair =
        EcdsaKeyPair::from_pkcs8(&ECDSA_P256_SHA256_FIXED_SIGNING, pkcs8.as_ref(), &rng).unwrap();
    let created = 1_795_428_000i64;
    let params = format!(r#"("@method" "@authority" "@path");created={created};keyid="p256""#);
    let base = format!(
        "\"@method\": POST\n\"@authority\": api.example.com\n\"@path\": /orders\n\"@signature-params\": {params}"
    );
    let sig = pair.sign(&rng, base.as_bytes()).unwrap();
    let (parts, ()) = http::Request::post("https://api.example.com/orders")
        .header("signature-input", format!("sig1={params}"))
        .header("signature", format!("sig1=:{}:", B64.encode(sig.as_ref())))
        .body(())
        .unwrap()
        .into_parts();
    let mut keys = KeyRing::new();
    keys.insert(
        "p256",
        VerifyingKey::try_from_ecdsa_public(Algorithm::EcdsaP256Sha256, pair.public_key().as_ref())
            .unwrap(),
    );
    let verifier = Verifier::new(VerifierConfig::default()).unwrap();
    let now = OffsetDateTime::from_unix_timestamp(created + 10).unwrap();
    let verified = verifier.verify(&parts, b"", &keys, None, now).unwrap();
    assert_eq!(verified.algorithm, Algorithm::EcdsaP256Sha256);
    assert_eq!(verified.keyid, "p256");

    // `alg` naming another algorithm than the key's is refused.
    let params_alg = format!("{params};alg=\"ecdsa-p384-sha384\"");
    let (parts, ()) = http::Request::post("https://api.example.com/orders")
        .header("signature-input", format!("sig1={params_alg}"))
        .header("signature", format!("sig1=:{}:", B64.encode(sig.as_ref())))
        .body(())
        .unwrap()
        .into_parts();
    assert!(verifier.verify(&parts, b"", &keys, None, now).is_err());
}

// ------------------------------------------------------------ RSA and ECDSA signing

/// PKCS#8 documents for each signing algorithm: RSA from aws-lc-rs (ring
/// cannot generate RSA keys), ECDSA from ring.
fn pkcs8_for(alg: edge_auth::httpsig::Algorithm) -> Secret<Vec<u8>> {
    use aws_lc_rs::encoding::{AsDer, Pkcs8V1Der};
    use edge_auth::httpsig::Algorithm;
    use ring::signature::{
        ECDSA_P256_SHA256_FIXED_SIGNING, ECDSA_P384_SHA384_FIXED_SIGNING, EcdsaKeyPair,
    };
    let rng = ring::rand::SystemRandom::new();
    match alg {
        Algorithm::RsaPssSha512 | Algorithm::RsaV15Sha256 => {
            let kp = aws_lc_rs::rsa::KeyPair::generate(aws_lc_rs::rsa::KeySize::Rsa2048).unwrap();
            let der: Pkcs8V1Der<'_> = kp.as_der().unwrap();
            Secret::new(der.as_ref().to_vec())
        }
        Algorithm::EcdsaP256Sha256 => Secret::new(
            EcdsaKeyPair::generate_pkcs8(&ECDSA_P256_SHA256_FIXED_SIGNING, &rng)
                .unwrap()
                .as_ref()
                .to_vec(),
        ),
        Algorithm::EcdsaP384Sha384 => Secret::new(
            EcdsaKeyPair::generate_pkcs8(&ECDSA_P384_SHA384_FIXED_SIGNING, &rng)
                .unwrap()
                .as_ref()
                .to_vec(),
        ),
        other => panic!("not an RSA or ECDSA algorithm: {other:?}"),
    }
}

fn asymmetric_signing_key(alg: edge_auth::httpsig::Algorithm, keyid: &str) -> SigningKey {
    use edge_auth::httpsig::Algorithm;
    let pkcs8 = pkcs8_for(alg);
    match alg {
        Algorithm::RsaPssSha512 | Algorithm::RsaV15Sha256 => {
            SigningKey::try_from_rsa_pkcs8(keyid, alg, &pkcs8).unwrap()
        }
        _ => SigningKey::try_from_ecdsa_pkcs8(keyid, alg, &pkcs8).unwrap(),
    }
}

/// sign -> verify for each RSA and ECDSA algorithm (RFC 9421 §3.3.1,
/// §3.3.2, §3.3.4, §3.3.5), with and without the `alg` parameter; the
/// signature has the algorithm's length; a changed covered component and
/// a key of another algorithm are refused.
fn check_asymmetric_round_trip(alg: edge_auth::httpsig::Algorithm, sig_len: usize) {
    let key = asymmetric_signing_key(alg, "a1");
    assert_eq!(key.algorithm(), alg);
    assert_eq!(key.keyid(), "a1");
    let dbg = format!("{key:?}");
    assert!(
        dbg.contains("redacted") && dbg.contains(&format!("{alg:?}")),
        "{dbg}"
    );
    let mut keys = KeyRing::new();
    keys.insert("a1", key.verifying_key());
    for include_alg in [false, true] {
        let mut config = SignerConfig::default();
        config.include_alg = include_alg;
        // A fresh key of the same algorithm under the same keyid.
        let signer = Signer::new(asymmetric_signing_key(alg, "a1"), config).unwrap();
        let (parts, body) = request(br#"{"qty":1}"#);
        let out = signer.sign(&parts, &body, Some("n-1"), t(0)).unwrap();
        let mut req = http::Request::from_parts(parts, body);
        out.apply_to(&mut req);
        let (parts, body) = req.into_parts();
        let sig = parts.headers["signature"].to_str().unwrap();
        let raw = B64
            .decode(sig.trim_start_matches("sig1=:").trim_end_matches(':'))
            .unwrap();
        assert_eq!(raw.len(), sig_len, "{}", alg.as_str());
        assert_eq!(
            parts.headers["signature-input"]
                .to_str()
                .unwrap()
                .contains(&format!(";alg=\"{}\"", alg.as_str())),
            include_alg
        );
        // Signed by another key of the same algorithm under the same keyid.
        let r = Verifier::default().verify(&parts, &body, &keys, None, t(1));
        assert!(matches!(r, Err(HttpSigError::BadSignature { .. })), "{r:?}");
    }

    // With the key itself: verifies; a changed path does not.
    let signer = Signer::new(key, SignerConfig::default()).unwrap();
    let (parts, body) = request(br#"{"qty":1}"#);
    let out = signer.sign(&parts, &body, None, t(0)).unwrap();
    let mut req = http::Request::from_parts(parts, body);
    out.apply_to(&mut req);
    let (mut parts, body) = req.into_parts();
    let verified = Verifier::default()
        .verify(&parts, &body, &keys, None, t(1))
        .unwrap();
    assert_eq!(verified.algorithm, alg);
    assert_eq!(verified.keyid, "a1");
    parts.uri = "/api/orders2?id=7&x=%20y".parse().unwrap();
    let r = Verifier::default().verify(&parts, &body, &keys, None, t(1));
    assert!(matches!(r, Err(HttpSigError::BadSignature { .. })), "{r:?}");
}

#[test]
fn rsa_pss_sha512_sign_verify_round_trip() {
    check_asymmetric_round_trip(edge_auth::httpsig::Algorithm::RsaPssSha512, 256);
}

#[test]
fn rsa_v1_5_sha256_sign_verify_round_trip() {
    check_asymmetric_round_trip(edge_auth::httpsig::Algorithm::RsaV15Sha256, 256);
}

#[test]
fn ecdsa_p256_sha256_sign_verify_round_trip() {
    check_asymmetric_round_trip(edge_auth::httpsig::Algorithm::EcdsaP256Sha256, 64);
}

#[test]
fn ecdsa_p384_sha384_sign_verify_round_trip() {
    check_asymmetric_round_trip(edge_auth::httpsig::Algorithm::EcdsaP384Sha384, 96);
}

/// RSASSA-PKCS1-v1_5 is deterministic: two signatures over the same base
/// are equal; RSA-PSS and ECDSA are randomized and differ.
#[test]
fn only_rsa_v1_5_signatures_are_deterministic() {
    use edge_auth::httpsig::Algorithm;
    for (alg, deterministic) in [
        (Algorithm::RsaV15Sha256, true),
        (Algorithm::RsaPssSha512, false),
        (Algorithm::EcdsaP256Sha256, false),
    ] {
        let signer =
            Signer::new(asymmetric_signing_key(alg, "a1"), SignerConfig::default()).unwrap();
        let (parts, body) = request(b"");
        let a = signer.sign(&parts, &body, None, t(0)).unwrap();
        let b = signer.sign(&parts, &body, None, t(0)).unwrap();
        assert_eq!(a.signature_base(), b.signature_base());
        assert_eq!(
            a.signature() == b.signature(),
            deterministic,
            "{}",
            alg.as_str()
        );
    }
}

#[test]
fn rsa_and_ecdsa_signing_keys_check_algorithm_and_material() {
    use edge_auth::httpsig::Algorithm;
    let rsa = pkcs8_for(Algorithm::RsaV15Sha256);
    let p256 = pkcs8_for(Algorithm::EcdsaP256Sha256);
    let invalid = |r: Result<SigningKey, HttpSigError>| match r {
        Err(e @ HttpSigError::InvalidKey(_)) => {
            let msg = e.to_string();
            assert!(
                !msg.ends_with('.') && msg.starts_with("invalid key"),
                "{msg}"
            );
        }
        other => panic!("expected InvalidKey, got {other:?}"),
    };
    // An algorithm of the other family, or none of these.
    invalid(SigningKey::try_from_rsa_pkcs8(
        "k",
        Algorithm::EcdsaP256Sha256,
        &rsa,
    ));
    invalid(SigningKey::try_from_rsa_pkcs8(
        "k",
        Algorithm::HmacSha256,
        &rsa,
    ));
    invalid(SigningKey::try_from_ecdsa_pkcs8(
        "k",
        Algorithm::RsaPssSha512,
        &p256,
    ));
    invalid(SigningKey::try_from_ecdsa_pkcs8(
        "k",
        Algorithm::Ed25519,
        &p256,
    ));
    // A key of another type or curve.
    invalid(SigningKey::try_from_rsa_pkcs8(
        "k",
        Algorithm::RsaPssSha512,
        &p256,
    ));
    invalid(SigningKey::try_from_ecdsa_pkcs8(
        "k",
        Algorithm::EcdsaP256Sha256,
        &rsa,
    ));
    invalid(SigningKey::try_from_ecdsa_pkcs8(
        "k",
        Algorithm::EcdsaP384Sha384,
        &p256,
    ));
    // Garbage and truncation.
    invalid(SigningKey::try_from_rsa_pkcs8(
        "k",
        Algorithm::RsaPssSha512,
        &Secret::new(vec![0x30, 0x82, 0xff]),
    ));
    let mut cut = rsa.expose().clone();
    cut.truncate(cut.len() / 2);
    invalid(SigningKey::try_from_rsa_pkcs8(
        "k",
        Algorithm::RsaV15Sha256,
        &Secret::new(cut),
    ));
    invalid(SigningKey::try_from_ecdsa_pkcs8(
        "k",
        Algorithm::EcdsaP256Sha256,
        &Secret::new(Vec::new()),
    ));
}

/// An `id-RSASSA-PSS` PKCS#8 key (RFC 4055; RFC 9421 B.1.2's form) signs
/// `rsa-pss-sha512` but never `rsa-v1_5-sha256` (RFC 4055 §1.2), and one
/// whose parameters restrict it is refused rather than misused.
#[test]
fn id_rsassa_pss_keys_sign_pss_only() {
    use edge_auth::httpsig::Algorithm;
    let rsa = pkcs8_for(Algorithm::RsaPssSha512);
    // Rewrap the inner RSAPrivateKey under id-RSASSA-PSS, then with a
    // (SHA-256-restricting) parameter SEQUENCE.
    let inner = {
        // SEQUENCE { INTEGER 0, SEQUENCE { rsaEncryption, NULL }, OCTET STRING { key } }
        let d = rsa.expose();
        let body_start = if d[1] & 0x80 != 0 {
            2 + usize::from(d[1] & 0x7f)
        } else {
            2
        };
        let after_version = body_start + 3;
        let after_alg = after_version + 2 + usize::from(d[after_version + 1]);
        let len_len = if d[after_alg + 1] & 0x80 != 0 {
            1 + usize::from(d[after_alg + 1] & 0x7f)
        } else {
            1
        };
        d[after_alg + 1 + len_len..].to_vec()
    };
    fn der(tag: u8, content: &[u8]) -> Vec<u8> {
        let mut out = vec![tag];
        match content.len() {
            n if n < 0x80 => out.push(n as u8),
            n if n < 0x100 => out.extend([0x81, n as u8]),
            n => out.extend([0x82, (n >> 8) as u8, n as u8]),
        }
        out.extend(content);
        out
    }
    let pss_oid = [
        0x06, 0x09, 0x2a, 0x86, 0x48, 0x86, 0xf7, 0x0d, 0x01, 0x01, 0x0a,
    ];
    let wrap = |params: &[u8]| {
        let mut alg = pss_oid.to_vec();
        alg.extend(params);
        let mut info = vec![0x02, 0x01, 0x00];
        info.extend(der(0x30, &alg));
        info.extend(der(0x04, &inner));
        Secret::new(der(0x30, &info))
    };
    let unrestricted = wrap(&[]);
    let key =
        SigningKey::try_from_rsa_pkcs8("pss", Algorithm::RsaPssSha512, &unrestricted).unwrap();
    let mut keys = KeyRing::new();
    keys.insert("pss", key.verifying_key());
    let signer = Signer::new(key, SignerConfig::default()).unwrap();
    let (parts, body) = request(b"");
    let out = signer.sign(&parts, &body, None, t(0)).unwrap();
    let mut req = http::Request::from_parts(parts, body);
    out.apply_to(&mut req);
    let (parts, body) = req.into_parts();
    Verifier::default()
        .verify(&parts, &body, &keys, None, t(1))
        .unwrap();

    let r = SigningKey::try_from_rsa_pkcs8("pss", Algorithm::RsaV15Sha256, &unrestricted);
    assert!(
        matches!(&r, Err(HttpSigError::InvalidKey(m)) if m.contains("rsa-v1_5-sha256")),
        "{r:?}"
    );
    // RSASSA-PSS-params with hashAlgorithm [0] sha256.
    let sha256 = [
        0x30, 0x0f, 0xa0, 0x0d, 0x30, 0x0b, 0x06, 0x09, 0x60, 0x86, 0x48, 0x01, 0x65, 0x03, 0x04,
        0x02, 0x01,
    ];
    let r = SigningKey::try_from_rsa_pkcs8("pss", Algorithm::RsaPssSha512, &wrap(&sha256));
    assert!(
        matches!(&r, Err(HttpSigError::InvalidKey(m)) if m.contains("parameters")),
        "{r:?}"
    );
}

// ------------------------------------------------------------ Key documents (PEM / DER)

/// Signs a request with `key` and verifies it with `public` (and fails
/// with the verifying key of another document, when given).
fn pem_round_trip(key: SigningKey, public: VerifyingKey) {
    let (parts, body) = request(b"{}");
    let (keyid, alg) = (key.keyid().to_owned(), key.algorithm());
    let out = Signer::new(key, SignerConfig::default())
        .unwrap()
        .sign(&parts, &body, None, t(0))
        .unwrap();
    let mut req = http::Request::from_parts(parts, body);
    out.apply_to(&mut req);
    let (parts, body) = req.into_parts();
    let mut keys = KeyRing::new();
    keys.insert(&keyid, public);
    let v =
        Verifier::new(VerifierConfig::default())
            .unwrap()
            .verify(&parts, &body, &keys, None, t(1));
    assert!(v.is_ok(), "{alg:?}: {v:?}");
}

fn private_pem(keyid: &str, alg: Algorithm, pem: &str) -> Result<SigningKey, HttpSigError> {
    SigningKey::try_from_private_key_pem(keyid, alg, &Secret::new(pem.to_owned()))
}

const RSA_PKCS1: &str = include_str!("../vectors/keys/rsa2048-pkcs1.pem");
const RSA_SPKI: &str = include_str!("../vectors/keys/rsa2048-spki.pem");
const RSA_PKCS1_PUBLIC: &str = include_str!("../vectors/keys/rsa2048-pkcs1-public.pem");
const P384_SEC1: &str = include_str!("../vectors/keys/p384-sec1.pem");
const P384_SPKI: &str = include_str!("../vectors/keys/p384-spki.pem");

/// OpenSSL's usual forms load and sign: PKCS#1 `RSA PRIVATE KEY` (both
/// RSA algorithms) with its SPKI and PKCS#1 public keys, SEC 1 `EC PRIVATE
/// KEY` (P-384) with its SPKI; PKCS#8 through the same entry point.
#[test]
fn openssl_key_documents_sign_and_verify() {
    for alg in [Algorithm::RsaPssSha512, Algorithm::RsaV15Sha256] {
        let key = || private_pem("rsa", alg, RSA_PKCS1).unwrap();
        for public in [RSA_SPKI, RSA_PKCS1_PUBLIC] {
            pem_round_trip(
                key(),
                VerifyingKey::try_from_public_key_pem(alg, public).unwrap(),
            );
        }
    }
    let alg = Algorithm::EcdsaP384Sha384;
    let key = private_pem("p384", alg, P384_SEC1).unwrap();
    pem_round_trip(
        key,
        VerifyingKey::try_from_public_key_pem(alg, P384_SPKI).unwrap(),
    );
    // PKCS#8 DER through the document reader, as through the PKCS#8 one.
    for alg in [Algorithm::EcdsaP256Sha256, Algorithm::RsaV15Sha256] {
        let key = SigningKey::try_from_private_key_der("p8", alg, &pkcs8_for(alg)).unwrap();
        let public = key.verifying_key();
        pem_round_trip(key, public);
    }
    // Text around the block and CRLF line ends are allowed (RFC 7468 §3).
    let framed = format!("issued for tests\r\n{}\r\n", RSA_SPKI.replace('\n', "\r\n"));
    assert!(VerifyingKey::try_from_public_key_pem(Algorithm::RsaV15Sha256, &framed).is_ok());
}

/// Documents that do not fit the algorithm, or cannot be read, are
/// `InvalidKey` errors that say why and never quote the key.
#[test]
fn key_documents_that_do_not_fit_are_refused() {
    fn refused<T: std::fmt::Debug>(r: Result<T, HttpSigError>, why: &str) {
        match r {
            Err(HttpSigError::InvalidKey(m)) => {
                assert!(m.contains(why), "`{m}` should say `{why}`");
                assert!(!m.contains("MII"), "the key leaked: {m}");
            }
            other => panic!("expected InvalidKey ({why}), got {other:?}"),
        }
    }
    let key = |alg, pem| private_pem("k", alg, pem);
    let public = VerifyingKey::try_from_public_key_pem;
    refused(
        key(Algorithm::EcdsaP256Sha256, RSA_PKCS1),
        "RSA key cannot sign",
    );
    refused(key(Algorithm::Ed25519, P384_SEC1), "EC key cannot sign");
    refused(
        key(Algorithm::EcdsaP256Sha256, P384_SEC1),
        "P-384 key cannot sign",
    );
    refused(key(Algorithm::HmacSha256, RSA_PKCS1), "shared secrets");
    refused(
        key(
            Algorithm::EcdsaP256Sha256,
            include_str!("../vectors/keys/p256-sec1-no-public.pem"),
        ),
        "without its public key",
    );
    refused(
        key(
            Algorithm::EcdsaP256Sha256,
            include_str!("../vectors/keys/p256-pkcs8-encrypted.pem"),
        ),
        "encrypted",
    );
    refused(
        key(
            Algorithm::RsaV15Sha256,
            include_str!("../vectors/keys/rsa2048-pkcs1-encrypted.pem"),
        ),
        "encrypted",
    );
    refused(key(Algorithm::RsaV15Sha256, RSA_SPKI), "not a private key");
    refused(key(Algorithm::RsaV15Sha256, "MIIB"), "not PEM");
    refused(
        key(
            Algorithm::RsaV15Sha256,
            "-----BEGIN RSA PRIVATE KEY-----\nMIIB\n",
        ),
        "no `-----END RSA PRIVATE KEY-----` line",
    );
    refused(
        key(
            Algorithm::RsaV15Sha256,
            "-----BEGIN RSA PRIVATE KEY-----\nMII*\n-----END RSA PRIVATE KEY-----",
        ),
        "not valid base64",
    );
    refused(
        public(Algorithm::EcdsaP256Sha256, RSA_SPKI),
        "RSA key cannot verify",
    );
    refused(
        public(Algorithm::EcdsaP256Sha256, P384_SPKI),
        "P-384 key cannot verify",
    );
    refused(
        public(Algorithm::Ed25519, P384_SPKI),
        "P-384 key cannot verify",
    );
    refused(
        public(Algorithm::RsaV15Sha256, RSA_PKCS1),
        "not a public key",
    );
    refused(public(Algorithm::HmacSha256, RSA_SPKI), "cannot verify");
    refused(
        VerifyingKey::try_from_public_key_der(Algorithm::RsaV15Sha256, &[0x30, 0x03, 0x02, 0x01]),
        "not a SubjectPublicKeyInfo",
    );
}

// ------------------------------------------------------------ issue 15: the query and equivalent components

/// A signer covering `names` (no Content-Digest, bodiless requests).
fn signer_covering(names: &[&str]) -> Signer {
    let mut config = SignerConfig::default();
    config.components = names
        .iter()
        .map(|n| Component::try_from_name(n).unwrap())
        .collect();
    config.content_digest = None;
    hmac_signer(config)
}

/// `uri` (GET, Host edge.example) signed by `signer` at `t(0)`.
fn get_signed(signer: &Signer, uri: &str) -> Parts {
    let (parts, ()) = http::Request::get(uri)
        .header("host", "edge.example")
        .body(())
        .unwrap()
        .into_parts();
    let out = signer.sign(&parts, b"", None, t(0)).unwrap();
    let mut req = http::Request::from_parts(parts, ());
    out.apply_to(&mut req);
    req.into_parts().0
}

fn with_target(parts: &Parts, target: &str) -> Parts {
    let mut p = parts.clone();
    p.uri = target.parse().unwrap();
    p
}

/// Issue 15 item 6: under the default policy a signature that leaves the
/// query open does not verify a request with a query, so a captured
/// request cannot be replayed with a rewritten one.
#[test]
fn default_verifier_requires_the_query_to_be_covered() {
    let open = signer_covering(&["@method", "@authority", "@path"]);
    let signed = get_signed(&open, "/transfer?amount=1");
    let replayed = with_target(&signed, "/transfer?amount=1000");
    assert_err!(verify(&replayed, b""), HttpSigError::QueryNotCovered);
    assert_err!(verify(&signed, b""), HttpSigError::QueryNotCovered);
    // A query added to a request signed without one.
    let bare = get_signed(&open, "/transfer");
    verify(&bare, b"").unwrap();
    assert_err!(
        verify(&with_target(&bare, "/transfer?amount=1000"), b""),
        HttpSigError::QueryNotCovered
    );
    // An empty query (`/transfer?`) is the absent query (§2.2.7).
    verify(&with_target(&bare, "/transfer?"), b"").unwrap();
    // Covered by @query, @target-uri or @request-target: verifies, and a
    // rewritten query breaks the signature.
    for covering in ["@query", "@target-uri", "@request-target"] {
        let s = signer_covering(&["@method", "@authority", "@path", covering]);
        let signed = get_signed(&s, "/transfer?amount=1");
        verify(&signed, b"").unwrap_or_else(|e| panic!("{covering}: {e}"));
        assert_err!(
            verify(&with_target(&signed, "/transfer?amount=1000"), b""),
            HttpSigError::BadSignature { .. }
        );
    }
    // Opting out is explicit.
    let mut config = VerifierConfig::default();
    config.require_query = false;
    verify_with(config, &replayed, b"", t(1)).unwrap();
}

/// Issue 15 item 7: a required `@path`, `@authority`, `@query` or
/// `@scheme` is met by a covered `@target-uri` (RFC 9421 §2.2.2), and
/// `@path` + `@query` by `@request-target` (§2.2.5); nothing else is.
#[test]
fn required_components_are_met_by_components_that_contain_them() {
    let require = |names: &[&str]| {
        let mut c = VerifierConfig::default();
        c.required_components = names
            .iter()
            .map(|n| Component::try_from_name(n).unwrap())
            .collect();
        c
    };
    let target_uri = get_signed(
        &signer_covering(&["@method", "@target-uri"]),
        "/api/items?id=7",
    );
    // The default requirement (@method @authority @path) and more.
    verify(&target_uri, b"").unwrap();
    verify_with(
        require(&["@method", "@scheme", "@authority", "@path", "@query"]),
        &target_uri,
        b"",
        t(1),
    )
    .unwrap();
    let request_target = get_signed(
        &signer_covering(&["@method", "@authority", "@request-target"]),
        "/api/items?id=7",
    );
    verify(&request_target, b"").unwrap();
    verify_with(
        require(&["@method", "@authority", "@path", "@query"]),
        &request_target,
        b"",
        t(1),
    )
    .unwrap();
    // @request-target does not contain the authority or the scheme.
    let only_target = get_signed(
        &signer_covering(&["@method", "@request-target"]),
        "/api/items?id=7",
    );
    assert!(matches!(
        verify(&only_target, b""),
        Err(HttpSigError::RequiredComponentMissing { component }) if component == "\"@authority\""
    ));
    assert_err!(
        verify_with(require(&["@scheme"]), &request_target, b"", t(1)),
        HttpSigError::RequiredComponentMissing { .. }
    );
    // @path does not stand for @target-uri.
    let path_only = get_signed(
        &signer_covering(&["@method", "@authority", "@path", "@query"]),
        "/api/items?id=7",
    );
    assert_err!(
        verify_with(require(&["@target-uri"]), &path_only, b"", t(1)),
        HttpSigError::RequiredComponentMissing { .. }
    );
    // The containing component is really checked: a changed authority or
    // path breaks a @target-uri signature.
    let mut moved = target_uri.clone();
    set(&mut moved, "host", "other.example");
    assert_err!(verify(&moved, b""), HttpSigError::BadSignature { .. });
    assert_err!(
        verify(&with_target(&target_uri, "/api/other?id=7"), b""),
        HttpSigError::BadSignature { .. }
    );
}
