//! Known attacks on JWT validators, each refused with the intended error
//! variant. Keys are generated here; attack tokens are signed over exact
//! header / payload text so that malformed JSON can be authenticated.

use crate::support::jwt as jwt_support;

use std::sync::OnceLock;

use aws_lc_rs::rsa::KeySize;
use edge_auth::jwk::{KeySet, KeySetOptions};
use edge_auth::jwt::{JwtError, Part, Validation, Validator};
use jsonwebtoken::Algorithm;
use jwt_support::{TestKey, b64, now, unix};
use serde_json::{Value, json};

struct Keys {
    rsa: TestKey,
    p256: TestKey,
    p384: TestKey,
    ed: TestKey,
    attacker_p256: TestKey,
    attacker_rsa: TestKey,
}

fn keys() -> &'static Keys {
    static KEYS: OnceLock<Keys> = OnceLock::new();
    KEYS.get_or_init(|| Keys {
        rsa: TestKey::rsa("rsa-1", KeySize::Rsa2048),
        p256: TestKey::ec("p256-1", false),
        p384: TestKey::ec("p384-1", true),
        ed: TestKey::ed25519("ed-1"),
        attacker_p256: TestKey::ec("p256-1", false),
        attacker_rsa: TestKey::rsa("rsa-1", KeySize::Rsa2048),
    })
}

/// The trusted set, plus an encryption key and a 1024-bit key that must be skipped.
fn set() -> KeySet {
    let k = keys();
    let mut enc = k.rsa.jwk.clone();
    enc["kid"] = json!("enc-1");
    enc["use"] = json!("enc");
    let doc = json!({"keys":[k.rsa.jwk, k.p256.jwk, k.p384.jwk, k.ed.jwk, enc, {
        "kty":"RSA","kid":"RS256_1024","use":"sig","alg":"RS256","e":"AQAB",
        "n":"rJBIp6T1YK-RtPyvYqFFlcucqewSAA_IReSFchE8qyiQrbARqRlXWkB2DR8j_pJQnIpYELbQWZC5Cd0PTGAU8rMbar2AW6zpmBbi7aQf17lUBdt8XI9M9rq7FPVQ1dDdUXm1SVH_9qqWhvMPR422SbfHBEzCAtzK0ANDRo6qz78"
    }]});
    let set = KeySet::from_jwks(doc.to_string().as_bytes(), &KeySetOptions::default()).unwrap();
    assert_eq!(set.len(), 4);
    set
}

fn validation() -> Validation {
    let mut v = Validation::default();
    v.issuers = vec![
        "https://issuer.example".into(),
        "https://login.microsoftonline.com/{tenantid}/v2.0".into(),
    ];
    v.audiences = vec!["api://edge".into()];
    v
}

fn good_claims() -> Value {
    json!({"iss":"https://issuer.example","aud":"api://edge","sub":"alice","exp":unix(now())+600})
}

fn run_with(v: Validation, token: &str) -> Result<Value, JwtError> {
    Validator::new(v)
        .validate::<Value>(token, &set(), now())
        .map(|c| c.into_typed())
}

fn run(token: &str) -> Result<Value, JwtError> {
    run_with(validation(), token)
}

fn es256(header: &str, claims: &str) -> String {
    keys().p256.sign_raw("ES256", header, claims)
}

fn rs256(header: &str, claims: &str) -> String {
    keys().rsa.sign_raw("RS256", header, claims)
}

const RS_HDR: &str = r#"{"alg":"RS256","kid":"rsa-1"}"#;
const ES_HDR: &str = r#"{"alg":"ES256","kid":"p256-1"}"#;

fn good() -> String {
    rs256(RS_HDR, &good_claims().to_string())
}

fn malformed(r: Result<Value, JwtError>, want: Part) {
    match r {
        Err(JwtError::Malformed { part, .. }) if part == want => {}
        other => panic!("expected malformed {want}, got {other:?}"),
    }
}

#[test]
fn baseline_good_token_is_accepted() {
    run(&good()).unwrap();
}

// --- alg: none and algorithm confusion ---

#[test]
fn alg_none_in_every_casing() {
    for alg in ["none", "None", "NONE", "nOnE", "noNE"] {
        let t = format!(
            "{}.{}.",
            b64(format!(r#"{{"alg":"{alg}"}}"#).as_bytes()),
            b64(good_claims().to_string().as_bytes())
        );
        assert!(matches!(run(&t), Err(JwtError::Unsecured { .. })), "{alg}");
    }
}

#[test]
fn alg_none_with_trusted_kid_and_a_signature() {
    let t = rs256(
        r#"{"alg":"none","kid":"rsa-1"}"#,
        &good_claims().to_string(),
    );
    assert!(matches!(run(&t), Err(JwtError::Unsecured { .. })));
}

#[test]
fn hs256_keyed_with_the_rsa_public_key_default_policy() {
    let n = keys().rsa.jwk.to_string();
    let forged = TestKey::hmac("rsa-1", n.as_bytes()).sign_raw(
        "HS256",
        r#"{"alg":"HS256","kid":"rsa-1"}"#,
        &good_claims().to_string(),
    );
    assert!(matches!(
        run(&forged),
        Err(JwtError::AlgorithmNotAllowed { .. })
    ));
}

#[test]
fn hs256_keyed_with_the_rsa_public_key_even_when_hmac_is_allowed() {
    let n = keys().rsa.jwk.to_string();
    let forged = TestKey::hmac("rsa-1", n.as_bytes()).sign_raw(
        "HS256",
        r#"{"alg":"HS256","kid":"rsa-1"}"#,
        &good_claims().to_string(),
    );
    let mut v = validation();
    v.algorithms.push(Algorithm::HS256);
    assert!(matches!(
        run_with(v, &forged),
        Err(JwtError::KeyMismatch { .. })
    ));
}

#[test]
fn es384_token_pointing_at_a_p256_key() {
    let t = keys().p384.sign_raw(
        "ES384",
        r#"{"alg":"ES384","kid":"p256-1"}"#,
        &good_claims().to_string(),
    );
    assert!(matches!(run(&t), Err(JwtError::KeyMismatch { .. })));
}

#[test]
fn ps256_token_on_a_key_restricted_to_rs256() {
    let mut jwk = keys().rsa.jwk.clone();
    jwk["alg"] = json!("RS256");
    let set = KeySet::from_jwks(
        json!({"keys":[jwk]}).to_string().as_bytes(),
        &KeySetOptions::default(),
    )
    .unwrap();
    let t = keys().rsa.sign_raw(
        "PS256",
        r#"{"alg":"PS256","kid":"rsa-1"}"#,
        &good_claims().to_string(),
    );
    let r = Validator::new(validation()).validate::<Value>(&t, &set, now());
    assert!(matches!(r, Err(JwtError::KeyMismatch { .. })), "{r:?}");
}

#[test]
fn unsupported_algorithms_are_refused_as_unsupported() {
    for alg in ["ES512", "ES256K", "HS1", "RSA-OAEP", "rs256"] {
        let t = rs256(
            &format!(r#"{{"alg":"{alg}","kid":"rsa-1"}}"#),
            &good_claims().to_string(),
        );
        assert!(
            matches!(run(&t), Err(JwtError::UnsupportedAlgorithm { .. })),
            "{alg}"
        );
    }
}

// --- key selection ---

#[test]
fn kid_pointing_at_an_encryption_key() {
    let t = rs256(
        r#"{"alg":"RS256","kid":"enc-1"}"#,
        &good_claims().to_string(),
    );
    assert!(matches!(run(&t), Err(JwtError::UnknownKey { .. })));
}

#[test]
fn kid_path_traversal() {
    let t = rs256(
        r#"{"alg":"RS256","kid":"../../../../etc/passwd"}"#,
        &good_claims().to_string(),
    );
    assert!(matches!(run(&t), Err(JwtError::UnknownKey { kid: Some(k), .. }) if k.contains("..")));
}

#[test]
fn kid_sql_and_nul_injection() {
    let t = rs256(
        r#"{"alg":"RS256","kid":"rsa-1' OR '1'='1\u0000"}"#,
        &good_claims().to_string(),
    );
    assert!(matches!(run(&t), Err(JwtError::UnknownKey { .. })));
}

#[test]
fn log_injection_through_kid_alg_and_iss_is_escaped_in_error_text() {
    // The header is read before the signature is checked: its values are
    // the attacker's, and error texts end up in logs.
    let t = rs256(
        r#"{"alg":"RS256","kid":"x\r\n2026-11-23 INFO admin logged in\u001b[31m"}"#,
        &good_claims().to_string(),
    );
    let err = run(&t).unwrap_err();
    assert!(
        matches!(&err, JwtError::UnknownKey { kid: Some(k), .. } if k.contains("\r\n")),
        "{err:?}"
    );
    let text = err.to_string();
    assert!(!text.contains(['\r', '\n', '\u{1b}']), "{text}");
    assert!(text.contains(r"x\r\n2026-11-23"), "{text}");

    let long = "k".repeat(5000);
    let t = rs256(
        &format!(r#"{{"alg":"RS256","kid":"{long}"}}"#),
        &good_claims().to_string(),
    );
    let text = run(&t).unwrap_err().to_string();
    assert!(text.len() < 600, "clipped: {} bytes", text.len());

    let t = rs256(
        r#"{"alg":"RS256\n","kid":"rsa-1"}"#,
        &good_claims().to_string(),
    );
    let text = run(&t).unwrap_err().to_string();
    assert!(!text.contains('\n'), "{text}");

    let mut claims = good_claims();
    claims["iss"] = json!("https://evil.example\r\nforged");
    let t = rs256(RS_HDR, &claims.to_string());
    let err = run(&t).unwrap_err();
    assert!(matches!(&err, JwtError::IssuerMismatch { .. }), "{err:?}");
    assert!(!err.to_string().contains(['\r', '\n']), "{err}");
}

#[test]
fn jku_and_x5u_headers_are_ignored() {
    let t = keys().attacker_rsa.sign_raw(
        "RS256",
        r#"{"alg":"RS256","kid":"rsa-1","jku":"https://evil.example/jwks","x5u":"https://evil.example/cert"}"#,
        &good_claims().to_string(),
    );
    assert!(matches!(run(&t), Err(JwtError::BadSignature)));
}

#[test]
fn embedded_jwk_header_is_ignored() {
    let a = &keys().attacker_p256;
    let hdr = json!({"alg":"ES256","kid":"p256-1","jwk":a.jwk}).to_string();
    let t = a.sign_raw("ES256", &hdr, &good_claims().to_string());
    assert!(matches!(run(&t), Err(JwtError::BadSignature)));
}

#[test]
fn x5c_header_is_ignored() {
    let t = keys().attacker_rsa.sign_raw(
        "RS256",
        r#"{"alg":"RS256","kid":"rsa-1","x5c":["MIIB"]}"#,
        &good_claims().to_string(),
    );
    assert!(matches!(run(&t), Err(JwtError::BadSignature)));
}

#[test]
fn rsa_key_under_2048_bits_is_not_loaded() {
    let t = rs256(
        r#"{"alg":"RS256","kid":"RS256_1024"}"#,
        &good_claims().to_string(),
    );
    assert!(matches!(run(&t), Err(JwtError::UnknownKey { .. })));
}

#[test]
fn kidless_token_with_two_fitting_keys_is_ambiguous() {
    let k = keys();
    let mut other = k.attacker_p256.jwk.clone();
    other["kid"] = json!("p256-2");
    let set = KeySet::from_jwks(
        json!({"keys":[k.p256.jwk, other]}).to_string().as_bytes(),
        &KeySetOptions::default(),
    )
    .unwrap();
    let t = es256(r#"{"alg":"ES256"}"#, &good_claims().to_string());
    let r = Validator::new(validation()).validate::<Value>(&t, &set, now());
    assert!(
        matches!(r, Err(JwtError::AmbiguousKey { count: 2, .. })),
        "{r:?}"
    );
}

// --- signatures ---

#[test]
fn modified_payload() {
    let t = good();
    let mut parts: Vec<&str> = t.split('.').collect();
    let evil = b64(json!({"iss":"https://issuer.example","aud":"api://edge","sub":"admin","exp":unix(now())+600}).to_string().as_bytes());
    parts[1] = &evil;
    assert!(matches!(run(&parts.join(".")), Err(JwtError::BadSignature)));
}

#[test]
fn signature_by_another_key_with_the_trusted_kid() {
    let t = keys()
        .attacker_p256
        .sign_raw("ES256", ES_HDR, &good_claims().to_string());
    assert!(matches!(run(&t), Err(JwtError::BadSignature)));
}

#[test]
fn psychic_signature_es256_r_s_zero() {
    let input = format!(
        "{}.{}",
        b64(ES_HDR.as_bytes()),
        b64(good_claims().to_string().as_bytes())
    );
    let t = format!("{input}.{}", b64(&[0u8; 64]));
    assert!(matches!(run(&t), Err(JwtError::BadSignature)));
}

fn der_int(v: &[u8]) -> Vec<u8> {
    let v = &v[v.iter().position(|&b| b != 0).unwrap_or(v.len() - 1)..];
    let mut out = vec![0x02];
    if v[0] & 0x80 != 0 {
        out.push(v.len() as u8 + 1);
        out.push(0);
    } else {
        out.push(v.len() as u8);
    }
    out.extend_from_slice(v);
    out
}

#[test]
fn der_encoded_ecdsa_signature() {
    let input = format!(
        "{}.{}",
        b64(ES_HDR.as_bytes()),
        b64(good_claims().to_string().as_bytes())
    );
    let raw = keys().p256.sign_input("ES256", input.as_bytes());
    let (r, s) = raw.split_at(32);
    let body = [der_int(r), der_int(s)].concat();
    let der = [vec![0x30, body.len() as u8], body].concat();
    let t = format!("{input}.{}", b64(&der));
    malformed(run(&t), Part::Signature);
    // The raw form of the same signature verifies.
    run(&format!("{input}.{}", b64(&raw))).unwrap();
}

#[test]
fn ed25519_signature_of_wrong_length() {
    let input = format!(
        "{}.{}",
        b64(br#"{"alg":"EdDSA","kid":"ed-1"}"#),
        b64(good_claims().to_string().as_bytes())
    );
    let mut sig = keys().ed.sign_input("EdDSA", input.as_bytes());
    sig.push(0);
    malformed(run(&format!("{input}.{}", b64(&sig))), Part::Signature);
}

#[test]
fn rsa_signature_with_a_prepended_zero() {
    let t = good();
    let (input, sig) = t.rsplit_once('.').unwrap();
    let mut raw = base64_decode(sig);
    raw.insert(0, 0);
    assert!(matches!(
        run(&format!("{input}.{}", b64(&raw))),
        Err(JwtError::BadSignature)
    ));
}

#[test]
fn empty_signature() {
    let t = good();
    let (input, _) = t.rsplit_once('.').unwrap();
    malformed(run(&format!("{input}.")), Part::Signature);
}

// --- serialization ---

#[test]
fn one_megabyte_token() {
    let t = format!(
        "{}.{}.{}",
        b64(RS_HDR.as_bytes()),
        "A".repeat(1 << 20),
        "AAAA"
    );
    assert!(matches!(run(&t), Err(JwtError::TooLarge { .. })));
}

#[test]
fn json_nested_10000_deep_in_the_header() {
    let deep = format!(
        r#"{{"alg":"RS256","kid":"rsa-1","x":{}{}}}"#,
        "[".repeat(10_000),
        "]".repeat(10_000)
    );
    let mut v = validation();
    v.max_token_size = 1 << 20;
    malformed(
        run_with(v, &rs256(&deep, &good_claims().to_string())),
        Part::Header,
    );
}

#[test]
fn json_nested_10000_deep_in_the_claims() {
    let deep = format!(
        r#"{{"exp":{},"x":{}{}}}"#,
        unix(now()) + 600,
        "[".repeat(10_000),
        "]".repeat(10_000)
    );
    let mut v = validation();
    v.max_token_size = 1 << 20;
    malformed(run_with(v, &rs256(RS_HDR, &deep)), Part::Claims);
}

#[test]
fn trailing_data_after_the_signature() {
    for suffix in [".", ".x", "\n", " "] {
        let r = run(&format!("{}{suffix}", good()));
        assert!(
            matches!(r, Err(JwtError::Malformed { .. })),
            "{suffix:?}: {r:?}"
        );
    }
}

#[test]
fn trailing_data_after_the_claims_json() {
    let t = rs256(RS_HDR, &format!("{} x", good_claims()));
    malformed(run(&t), Part::Claims);
}

#[test]
fn jwe_five_segments_and_json_serialization() {
    malformed(run("a.b.c.d.e"), Part::Token);
    let t = good();
    let p: Vec<&str> = t.split('.').collect();
    let json = json!({"payload":p[1],"protected":p[0],"signature":p[2]}).to_string();
    malformed(run(&json), Part::Token);
}

#[test]
fn padding_in_a_segment() {
    let t = good();
    let p: Vec<&str> = t.split('.').collect();
    for (i, part) in [(0, Part::Header), (1, Part::Claims), (2, Part::Signature)] {
        let mut q: Vec<String> = p.iter().map(|s| s.to_string()).collect();
        q[i].push_str("==");
        malformed(run(&q.join(".")), part);
    }
}

#[test]
fn whitespace_in_a_segment() {
    let t = good();
    let (a, b) = t.split_at(30);
    malformed(run(&format!("{a} {b}")), Part::Header);
    let t2 = good();
    let (input, sig) = t2.rsplit_once('.').unwrap();
    malformed(
        run(&format!("{input}.{}\n{}", &sig[..10], &sig[10..])),
        Part::Signature,
    );
}

#[test]
fn standard_base64_alphabet() {
    // Find a signature with `-` or `_` and swap in `+` / `/`.
    for _ in 0..64 {
        let t = good();
        if let Some(i) = t.rfind(['-', '_']).filter(|&i| i > t.rfind('.').unwrap()) {
            let mut s = t.into_bytes();
            s[i] = if s[i] == b'-' { b'+' } else { b'/' };
            malformed(run(&String::from_utf8(s).unwrap()), Part::Signature);
            return;
        }
    }
    panic!("no signature with - or _ in 64 tries");
}

#[test]
fn non_zero_trailing_bits() {
    // An ES256 signature is 64 bytes: 86 characters, the last carrying 2
    // unused bits. Setting one of them changes no byte but is not canonical.
    let t = es256(ES_HDR, &good_claims().to_string());
    let (input, sig) = t.rsplit_once('.').unwrap();
    assert_eq!(sig.len(), 86);
    let last = sig.as_bytes()[85];
    let alphabet = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";
    let pos = alphabet.iter().position(|&c| c == last).unwrap();
    let tweaked = alphabet[pos | 1] as char;
    assert_ne!(tweaked as u8, last, "already odd; bit 0 set");
    let t = format!("{input}.{}{tweaked}", &sig[..85]);
    malformed(run(&t), Part::Signature);
}

#[test]
fn duplicate_header_members() {
    let t = rs256(
        r#"{"alg":"RS256","kid":"rsa-1","alg":"none"}"#,
        &good_claims().to_string(),
    );
    malformed(run(&t), Part::Header);
    let t = rs256(
        r#"{"alg":"RS256","kid":"rsa-1","kid":"p256-1"}"#,
        &good_claims().to_string(),
    );
    malformed(run(&t), Part::Header);
}

#[test]
fn duplicate_claim_members() {
    let c = format!(
        r#"{{"iss":"https://issuer.example","aud":"api://edge","exp":{},"sub":"alice","sub":"admin"}}"#,
        unix(now()) + 600
    );
    malformed(run(&rs256(RS_HDR, &c)), Part::Claims);
}

#[test]
fn crit_header() {
    let t = rs256(
        r#"{"alg":"RS256","kid":"rsa-1","crit":["exp"],"exp":1}"#,
        &good_claims().to_string(),
    );
    assert!(matches!(run(&t), Err(JwtError::UnsupportedHeader { member, .. }) if member == "crit"));
}

#[test]
fn b64_false() {
    let t = rs256(
        r#"{"alg":"RS256","kid":"rsa-1","b64":false,"crit":["b64"]}"#,
        &good_claims().to_string(),
    );
    assert!(matches!(run(&t), Err(JwtError::UnsupportedHeader { .. })));
    let t = rs256(
        r#"{"alg":"RS256","kid":"rsa-1","b64":false}"#,
        &good_claims().to_string(),
    );
    assert!(matches!(run(&t), Err(JwtError::UnsupportedHeader { member, .. }) if member == "b64"));
}

#[test]
fn header_that_is_not_a_json_object_or_not_utf8() {
    malformed(
        run(&rs256(r#"["alg","RS256"]"#, &good_claims().to_string())),
        Part::Header,
    );
    let t = format!("{}.{}.AAAA", b64(&[0xff, 0xfe, b'{']), b64(b"{}"));
    malformed(run(&t), Part::Header);
}

#[test]
fn claims_that_are_not_a_json_object() {
    malformed(run(&rs256(RS_HDR, r#"["iss"]"#)), Part::Claims);
}

// --- claims ---

#[test]
fn wrong_typ() {
    let mut v = validation();
    v.typ = Some("at+jwt".into());
    let t = rs256(
        r#"{"alg":"RS256","kid":"rsa-1","typ":"JWT"}"#,
        &good_claims().to_string(),
    );
    assert!(matches!(
        run_with(v.clone(), &t),
        Err(JwtError::TypeMismatch { .. })
    ));
    assert!(matches!(
        run_with(v, &good()),
        Err(JwtError::TypeMismatch { seen: None, .. })
    ));
}

#[test]
fn audience_confusion() {
    let mut c = good_claims();
    c["aud"] = json!("api://other-service");
    assert!(matches!(
        run(&rs256(RS_HDR, &c.to_string())),
        Err(JwtError::AudienceMismatch { .. })
    ));
    c["aud"] = json!(["api://edge-evil", "API://EDGE"]);
    assert!(matches!(
        run(&rs256(RS_HDR, &c.to_string())),
        Err(JwtError::AudienceMismatch { .. })
    ));
    c["aud"] = json!(42);
    malformed(run(&rs256(RS_HDR, &c.to_string())), Part::Claims);
}

#[test]
fn issuer_confusion() {
    for iss in [
        "https://issuer.example.evil",
        "https://issuer.example/",
        "HTTPS://ISSUER.EXAMPLE",
        "https://evil/https://issuer.example",
    ] {
        let mut c = good_claims();
        c["iss"] = json!(iss);
        assert!(
            matches!(
                run(&rs256(RS_HDR, &c.to_string())),
                Err(JwtError::IssuerMismatch { .. })
            ),
            "{iss}"
        );
    }
}

#[test]
fn entra_tenant_template_tid_mismatch() {
    let mut c = good_claims();
    c["iss"] = json!("https://login.microsoftonline.com/tenant-a/v2.0");
    c["tid"] = json!("tenant-b");
    assert!(matches!(
        run(&rs256(RS_HDR, &c.to_string())),
        Err(JwtError::IssuerMismatch { .. })
    ));
    c.as_object_mut().unwrap().remove("tid");
    assert!(matches!(
        run(&rs256(RS_HDR, &c.to_string())),
        Err(JwtError::IssuerMismatch { .. })
    ));
    c["tid"] = json!("tenant-a");
    run(&rs256(RS_HDR, &c.to_string())).unwrap();
}

#[test]
fn entra_tenant_template_tid_with_slash() {
    let mut c = good_claims();
    c["iss"] = json!("https://login.microsoftonline.com/evil/x/v2.0");
    c["tid"] = json!("evil/x");
    assert!(matches!(
        run(&rs256(RS_HDR, &c.to_string())),
        Err(JwtError::IssuerMismatch { .. })
    ));
    c["iss"] = json!("https://login.microsoftonline.com//v2.0");
    c["tid"] = json!("");
    assert!(matches!(
        run(&rs256(RS_HDR, &c.to_string())),
        Err(JwtError::IssuerMismatch { .. })
    ));
}

#[test]
fn exp_as_string_null_or_bool() {
    for exp in [json!("9999999999"), Value::Null, json!(true), json!([1])] {
        let mut c = good_claims();
        c["exp"] = exp;
        malformed(run(&rs256(RS_HDR, &c.to_string())), Part::Claims);
    }
}

#[test]
fn huge_exp() {
    for exp in [
        "1e300",
        "18446744073709551615",
        "9223372036854775807",
        "-9223372036854775808",
    ] {
        let c = format!(r#"{{"iss":"https://issuer.example","aud":"api://edge","exp":{exp}}}"#);
        malformed(run(&rs256(RS_HDR, &c)), Part::Claims);
    }
}

#[test]
fn expired_token() {
    let mut c = good_claims();
    c["exp"] = json!(unix(now()) - 3600);
    assert!(matches!(
        run(&rs256(RS_HDR, &c.to_string())),
        Err(JwtError::Expired { .. })
    ));
}

#[test]
fn nbf_far_in_the_future() {
    let mut c = good_claims();
    c["nbf"] = json!(unix(now()) + 86_400);
    assert!(matches!(
        run(&rs256(RS_HDR, &c.to_string())),
        Err(JwtError::NotYetValid { .. })
    ));
}

#[test]
fn missing_exp() {
    let mut c = good_claims();
    c.as_object_mut().unwrap().remove("exp");
    assert!(matches!(
        run(&rs256(RS_HDR, &c.to_string())),
        Err(JwtError::MissingClaim { .. })
    ));
}

#[test]
fn bad_signature_hides_claim_problems() {
    // An expired, wrongly addressed token signed by an attacker: the only
    // answer is "bad signature" (RFC 8725: verify before reading claims).
    let c = json!({"iss":"x","aud":"y","exp":"soon"}).to_string();
    let t = keys().attacker_rsa.sign_raw("RS256", RS_HDR, &c);
    assert!(matches!(run(&t), Err(JwtError::BadSignature)));
}

#[test]
fn error_messages_do_not_echo_the_token() {
    let t = keys()
        .attacker_rsa
        .sign_raw("RS256", RS_HDR, &good_claims().to_string());
    let sig = t.rsplit_once('.').unwrap().1;
    let e = run(&t).unwrap_err().to_string();
    assert!(!e.contains(sig) && !e.contains("alice"), "{e}");
}

fn base64_decode(s: &str) -> Vec<u8> {
    use base64::Engine as _;
    base64::engine::general_purpose::URL_SAFE_NO_PAD
        .decode(s)
        .unwrap()
}

#[test]
fn fuzz_like_inputs_never_panic() {
    let t = good();
    let bytes = t.as_bytes();
    for i in (0..bytes.len()).step_by(7) {
        for repl in [b'.', b'A', b'=', 0x80u8] {
            let mut m = bytes.to_vec();
            m[i] = repl;
            if let Ok(s) = String::from_utf8(m) {
                assert!(run(&s).is_err() || s == t);
            }
        }
    }
    for s in [
        "",
        ".",
        "..",
        "...",
        "a..",
        ".b.",
        "..c",
        "e30.e30.",
        "e30.e30.e30",
    ] {
        assert!(run(s).is_err(), "{s:?}");
    }
}
