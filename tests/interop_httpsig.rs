//! Interoperability of RFC 9421 / RFC 9530 with independent implementations.
//!
//! Inbound: messages signed by other stacks (fixtures in
//! `tests/interop/httpsig/<lib>.json`, written by the generator scripts
//! there) are verified by our [`Verifier`], one `#[test]` per case, and the
//! exact outcome (`valid` or the `HttpSigError` variant) is checked.
//! Outbound: `outbound::ours_json_is_current` signs a fixed set of messages
//! with our [`Signer`] and checks them against `ours.json`, which the
//! `verify-*.{js,py}` scripts there verify with the other stacks
//! (`EDGE_AUTH_INTEROP_WRITE=1` rewrites the file).
//!
//! Where a library and RFC 9421 disagree, the fixture keeps our (RFC)
//! outcome and its `note` cites the section; see the README there.

use base64::Engine as _;
use base64::engine::general_purpose::{STANDARD as B64, URL_SAFE_NO_PAD as B64URL};
use edge_auth::Secret;
use edge_auth::httpsig::{
    Component, DigestAlgorithm, HttpSigError, KeyRing, Signer, SignerConfig, SigningKey, Verifier,
    VerifierConfig, VerifyingKey,
};
use serde_json::{Value, json};
use std::path::PathBuf;
use time::{Duration, OffsetDateTime};

fn dir() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("tests/interop/httpsig")
}

fn load(file: &str) -> Value {
    let path = dir().join(file);
    let text = std::fs::read_to_string(&path)
        .unwrap_or_else(|e| panic!("cannot read {}: {e}", path.display()));
    serde_json::from_str(&text).unwrap_or_else(|e| panic!("{file} is not JSON: {e}"))
}

fn at(secs: i64) -> OffsetDateTime {
    OffsetDateTime::from_unix_timestamp(secs).unwrap()
}

/// The key ring a case names. Keys of algorithms edge-auth does not
/// implement (ECDSA, RSA) cannot be represented and are left out, so a
/// signature made with one is refused as an unknown key.
fn key_ring(keys: &Value) -> KeyRing {
    let mut ring = KeyRing::new();
    for (keyid, k) in keys.as_object().expect("keys is an object") {
        let key = match k["alg"].as_str().unwrap() {
            "hmac-sha256" => {
                let secret = B64.decode(k["secret_b64"].as_str().unwrap()).unwrap();
                VerifyingKey::try_from_hmac_sha256(&Secret::new(secret)).unwrap()
            }
            "ed25519" => {
                assert_eq!(k["jwk"]["crv"], "Ed25519", "{keyid}");
                let x = B64URL.decode(k["jwk"]["x"].as_str().unwrap()).unwrap();
                VerifyingKey::try_from_ed25519_public(&x).unwrap()
            }
            _ => continue,
        };
        ring.insert(keyid, key);
    }
    ring
}

fn headers(list: &Value) -> Vec<(String, http::HeaderValue)> {
    list.as_array()
        .expect("headers is a list of [name, value]")
        .iter()
        .map(|pair| {
            let name = pair[0].as_str().unwrap().to_owned();
            let value = unfold(pair[1].as_str().unwrap());
            // A fixture value is what an HTTP parser hands over; bytes an
            // `http::HeaderValue` cannot hold would be a broken fixture.
            let value = http::HeaderValue::from_bytes(value.as_bytes())
                .unwrap_or_else(|e| panic!("header `{name}`: {e}"));
            (name, value)
        })
        .collect()
}

/// What an HTTP/1.1 recipient does with obsolete line folding before it
/// interprets a field (RFC 9112 §5.2): `OWS CRLF RWS` becomes one space. An
/// `http::HeaderValue` cannot hold CR or LF, so a folded fixture line reaches
/// the verifier as a server would hand it over.
fn unfold(value: &str) -> String {
    let mut out = String::with_capacity(value.len());
    let mut rest = value;
    while let Some(at) = rest.find("\r\n") {
        let (before, after) = rest.split_at(at);
        out.push_str(before.trim_end_matches([' ', '\t']));
        out.push(' ');
        rest = after[2..].trim_start_matches([' ', '\t']);
    }
    out.push_str(rest);
    out
}

fn request_parts(m: &Value) -> http::request::Parts {
    let mut b = http::Request::builder()
        .method(m["method"].as_str().unwrap())
        .uri(m["uri"].as_str().unwrap());
    for (n, v) in headers(&m["headers"]) {
        b = b.header(n, v);
    }
    b.body(()).unwrap().into_parts().0
}

fn response_parts(m: &Value) -> http::response::Parts {
    let mut b =
        http::Response::builder().status(u16::try_from(m["status"].as_u64().unwrap()).unwrap());
    for (n, v) in headers(&m["headers"]) {
        b = b.header(n, v);
    }
    b.body(()).unwrap().into_parts().0
}

/// The verification policy for interop cases: our defaults, except that no
/// particular component is required (each case covers what it exercises).
/// A case's `verifier` may pick a label or drop the maximum age.
fn verifier(case: &Value) -> Verifier {
    let mut c = VerifierConfig::default();
    c.required_components.clear();
    c.required_response_components.clear();
    let v = &case["verifier"];
    if let Some(label) = v["label"].as_str() {
        c.label = Some(label.to_owned());
    }
    if v.get("max_age").is_some_and(Value::is_null) {
        c.max_age = None;
    }
    Verifier::new(c).unwrap()
}

/// The variant name of an error (`BadSignature`, `Expired`, …).
fn variant(e: &HttpSigError) -> String {
    let debug = format!("{e:?}");
    debug
        .split(|c: char| !c.is_alphanumeric())
        .next()
        .unwrap_or_default()
        .to_owned()
}

fn verify_case(case: &Value) -> Result<(String, String), HttpSigError> {
    let m = &case["message"];
    let keys = key_ring(&case["keys"]);
    let now = at(case["now"].as_i64().unwrap());
    let body = m["body"].as_str().unwrap_or("").as_bytes();
    let v = verifier(case);
    if m.get("status").is_some() {
        let resp = response_parts(m);
        let req = m.get("request").map(request_parts);
        v.verify_response(&resp, body, req.as_ref(), &keys, None, now)
            .map(|ok| (ok.label.to_string(), ok.keyid.to_string()))
    } else {
        let req = request_parts(m);
        v.verify(&req, body, &keys, None, now)
            .map(|ok| (ok.label.to_string(), ok.keyid.to_string()))
    }
}

fn run(file: &str, name: &str) {
    let doc = load(file);
    let case = doc["cases"]
        .as_array()
        .unwrap()
        .iter()
        .find(|c| c["name"] == name)
        .unwrap_or_else(|| panic!("{file}: no case `{name}`"));
    let expect = case["expect"].as_str().unwrap();
    let outcome = verify_case(case);
    let context = format!(
        "{file} / {name} ({}): {}",
        doc["library"].as_str().unwrap_or("?"),
        case["description"].as_str().unwrap_or(""),
    );
    match (&outcome, expect) {
        (Ok((label, _)), "valid") => {
            if let Some(want) = case["verifier"]["label"].as_str() {
                assert_eq!(label, want, "{context}");
            }
        }
        (Err(e), want) if variant(e) == want => {}
        _ => panic!(
            "{context}\n  expected {expect}, got {outcome:?}\n  note: {}",
            case["note"].as_str().unwrap_or("-")
        ),
    }
}

/// Every case in the fixture has its own test, and every test its case.
fn all_listed(file: &str, listed: &[&str]) {
    let doc = load(file);
    let names: Vec<&str> = doc["cases"]
        .as_array()
        .unwrap()
        .iter()
        .map(|c| c["name"].as_str().unwrap())
        .collect();
    for n in &names {
        assert!(listed.contains(n), "{file}: case `{n}` has no #[test]");
    }
    for n in listed {
        assert!(names.contains(n), "{file}: #[test] `{n}` has no case");
    }
}

macro_rules! interop_cases {
    ($module:ident, $file:literal, [$($case:ident),* $(,)?]) => {
        mod $module {
            $(
                #[test]
                fn $case() {
                    super::run($file, stringify!($case));
                }
            )*

            #[test]
            fn every_case_has_a_test() {
                super::all_listed($file, &[$(stringify!($case)),*]);
            }
        }
    };
}

interop_cases!(
    node,
    "node.json",
    [
        alg_hmac_sha256,
        alg_ed25519,
        alg_ecdsa_p256_sha256,
        alg_ecdsa_p384_sha384,
        alg_rsa_pss_sha512,
        alg_rsa_v1_5_sha256,
        derived_target_uri_port,
        derived_target_uri_default_port,
        derived_target_uri_uppercase_host,
        derived_authority_port,
        derived_authority_default_port_http,
        derived_authority_case,
        derived_scheme_http,
        derived_request_target,
        derived_path_percent_encoded,
        derived_path_empty,
        derived_query_plain,
        derived_query_empty_question_mark,
        derived_query_absent,
        derived_query_param_plain,
        derived_query_param_plus_space,
        derived_query_param_encoded_name,
        derived_query_param_empty_value,
        derived_query_param_unreserved_marks,
        derived_query_param_repeated,
        derived_method_get,
        field_multi_line,
        field_surrounding_whitespace,
        field_empty_value,
        field_sf_dictionary,
        field_sf_key_member,
        field_sf_key_inner_list,
        field_sf_key_content_digest,
        field_bs_multi_line,
        field_bs_non_ascii,
        params_registry_order,
        params_reversed,
        params_keyid_first,
        params_no_alg_ed25519,
        digest_sha512,
        digest_sha256_and_sha512,
        digest_body_tampered,
        two_labels_verify_a,
        two_labels_verify_b,
        two_labels_separate_lines_verify_b,
        two_labels_no_label,
        response_status_req,
        response_status_tampered,
        neg_tampered_header,
        neg_tampered_path,
        neg_expired,
        neg_created_in_future,
        neg_wrong_key,
        neg_unknown_keyid,
        neg_alg_mismatch,
    ]
);

interop_cases!(
    python,
    "python.json",
    [
        alg_hmac_sha256,
        alg_ed25519,
        alg_ecdsa_p256_sha256,
        alg_ecdsa_p384_sha384,
        alg_rsa_pss_sha512,
        alg_rsa_v1_5_sha256,
        derived_target_uri_port,
        derived_target_uri_default_port,
        derived_target_uri_uppercase_host,
        derived_authority_port,
        derived_authority_default_port_https,
        derived_authority_case,
        derived_authority_ipv6,
        derived_scheme_http,
        derived_request_target,
        derived_path_percent_encoded,
        derived_path_empty,
        derived_query_plain,
        derived_query_empty_question_mark,
        derived_query_absent,
        derived_query_param_plain,
        derived_query_param_plus_space,
        derived_query_param_encoded_name,
        derived_query_param_empty_value,
        derived_query_param_reserved_marks,
        derived_query_param_two_params,
        derived_method_get,
        derived_method_delete,
        field_multi_line,
        field_surrounding_whitespace,
        field_empty_value,
        field_obs_fold,
        field_sf_dictionary_priority,
        field_sf_dictionary_cache_control,
        field_sf_list_accept_ch,
        field_sf_item_content_type,
        field_sf_key_priority,
        field_sf_key_content_digest_sha512,
        field_bs_multi_line,
        field_bs_latin1,
        params_nonce_tag,
        params_no_alg,
        params_no_expires,
        digest_sha512,
        digest_sha256_and_sha512,
        digest_body_tampered,
        two_labels_verify_a,
        two_labels_verify_b,
        two_labels_only_second_key,
        response_status_req,
        response_status_tampered,
        neg_tampered_header,
        neg_tampered_query,
        neg_expired,
        neg_too_old,
        neg_created_in_future,
        neg_wrong_key,
        neg_alg_mismatch,
    ]
);
