//! Interoperability with independent JOSE implementations: JWTs and JWKS
//! minted by panva/jose (Node) and by PyJWT, jwcrypto and cryptography
//! (Python), checked by `KeySet::from_jwks` + `Validator::validate` with
//! one test per case, named after it.
//!
//! The fixtures are data in tests/interop/jose/ (regenerate with the
//! scripts there; CI does not). Each case gives the key set, the token, the
//! time of the check, the policy and edge-auth's expected outcome by the
//! RFCs: `valid` or the `JwtError` variant (and, for `Malformed`, the part).
//! A case's `note` says why when the other library answers differently; its
//! `peer` field records that library's own verdict, for the record only.

use std::collections::HashMap;
use std::path::PathBuf;
use std::str::FromStr;
use std::sync::OnceLock;

use edge_auth::jwk::{KeySet, KeySetOptions};
use edge_auth::jwt::{self, JwtError, Validation, Validator};
use jsonwebtoken::Algorithm;
use serde::Deserialize;
use serde_json::Value;
use time::OffsetDateTime;

#[derive(Debug, Deserialize)]
struct Fixture {
    generator: String,
    cases: Vec<Case>,
}

#[derive(Debug, Deserialize)]
struct Case {
    name: String,
    jwks: Value,
    token: String,
    now: i64,
    validation: Policy,
    expect: String,
    /// For `Malformed`: `token`, `header`, `claims` or `signature`.
    part: Option<String>,
    note: Option<String>,
    /// The generating library's own verdict (not checked).
    #[allow(dead_code, reason = "kept in the fixture for readers")]
    peer: Option<Value>,
}

#[derive(Debug, Deserialize)]
struct Policy {
    issuers: Vec<String>,
    audiences: Vec<String>,
    algorithms: Vec<String>,
    typ: Option<String>,
    #[serde(default)]
    allow_symmetric: bool,
}

fn dir() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("tests/interop/jose")
}

fn load(file: &str) -> Fixture {
    let path = dir().join(file);
    let text =
        std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("read {}: {e}", path.display()));
    serde_json::from_str(&text).unwrap_or_else(|e| panic!("parse {}: {e}", path.display()))
}

/// A fixture file's generator line and its cases by name.
type Loaded = (String, HashMap<String, Case>);

/// The fixtures, each loaded once.
fn fixture(file: &'static str) -> &'static Loaded {
    static FIXTURES: OnceLock<HashMap<&'static str, Loaded>> = OnceLock::new();
    let all = FIXTURES.get_or_init(|| {
        FILES
            .iter()
            .map(|&f| {
                let fx = load(f);
                let cases = fx.cases.into_iter().map(|c| (c.name.clone(), c)).collect();
                (f, (fx.generator, cases))
            })
            .collect()
    });
    &all[file]
}

/// The variant name of an error, from its Debug form (`Malformed { .. }`).
fn variant(e: &JwtError) -> String {
    let dbg = format!("{e:?}");
    dbg.split(|c: char| !c.is_ascii_alphanumeric())
        .next()
        .unwrap_or_default()
        .to_owned()
}

fn part_of(e: &JwtError) -> Option<String> {
    match e {
        JwtError::Malformed { part, .. } => Some(part.to_string()),
        _ => None,
    }
}

fn run(file: &'static str, name: &str) {
    let (generator, cases) = fixture(file);
    let case = cases
        .get(name)
        .unwrap_or_else(|| panic!("{file}: no case `{name}` (regenerated without it?)"));
    let about = format!(
        "{file} case `{name}` ({generator}){}",
        case.note
            .as_deref()
            .map(|n| format!("; note: {n}"))
            .unwrap_or_default()
    );

    let mut options = KeySetOptions::default();
    options.allow_symmetric = case.validation.allow_symmetric;
    let jwks = serde_json::to_vec(&case.jwks).unwrap();
    let keys = KeySet::from_jwks(&jwks, &options)
        .unwrap_or_else(|e| panic!("{about}: key set refused: {e}"));

    let mut v = Validation::default();
    v.issuers = case.validation.issuers.clone();
    v.audiences = case.validation.audiences.clone();
    v.algorithms = case
        .validation
        .algorithms
        .iter()
        .map(|a| Algorithm::from_str(a).unwrap_or_else(|e| panic!("{about}: alg `{a}`: {e}")))
        .collect();
    v.typ = case.validation.typ.clone();
    let now = OffsetDateTime::from_unix_timestamp(case.now).unwrap();

    let result = Validator::new(v).validate::<Value>(&case.token, &keys, now);
    // With the `aws-lc-rs` feature, keys are parsed when the set loads: a
    // point off its curve is refused then (a diagnostic), not at
    // verification, so the token finds no key.
    let expect = match case.expect.as_str() {
        "BadSignature" if cfg!(feature = "aws-lc-rs") && name == "ec_point_not_on_curve" => {
            let refused = keys
                .diagnostics()
                .iter()
                .any(|d| d.reason.contains("aws-lc-rs refused"));
            assert!(refused, "{about}: {:?}", keys.diagnostics());
            "UnknownKey"
        }
        other => other,
    };
    match (expect, result) {
        ("valid", Ok(claims)) => {
            if let Some(iss) = claims.raw().get("iss") {
                assert!(
                    case.validation.issuers.is_empty()
                        || case.validation.issuers.iter().any(|i| iss == i),
                    "{about}: accepted with iss {iss}"
                );
            }
            // `inspect` reads what validation read, and accepts what it accepts.
            let peek = jwt::inspect(&case.token, 8 * 1024)
                .unwrap_or_else(|e| panic!("{about}: inspect refused a valid token: {e}"));
            assert_eq!(claims.kid(), peek.kid.as_deref(), "{about}: kid");
            assert_eq!(
                peek.issuer.as_deref(),
                claims.raw().get("iss").and_then(Value::as_str),
                "{about}: iss"
            );
        }
        ("valid", Err(e)) => panic!(
            "{about}: expected valid, got {}: {e}; key set diagnostics: {:?}",
            variant(&e),
            keys.diagnostics()
        ),
        (want, Ok(_)) => panic!("{about}: expected {want}, but the token was accepted"),
        (want, Err(e)) => {
            assert_eq!(
                variant(&e),
                want,
                "{about}: wrong error: {e}; key set diagnostics: {:?}",
                keys.diagnostics()
            );
            if let Some(part) = &case.part {
                assert_eq!(
                    part_of(&e).as_deref(),
                    Some(part.as_str()),
                    "{about}: wrong part: {e}"
                );
            }
        }
    }
}

/// Every case of a fixture file has a test below, and every test a case:
/// a regenerated fixture cannot add cases that are never run.
fn listed_exactly(file: &'static str, listed: &[&str]) {
    let (_, cases) = fixture(file);
    let mut missing: Vec<_> = cases
        .keys()
        .filter(|n| !listed.contains(&n.as_str()))
        .collect();
    missing.sort();
    assert!(
        missing.is_empty(),
        "{file}: cases without a test: {missing:?}"
    );
    let stale: Vec<_> = listed.iter().filter(|n| !cases.contains_key(**n)).collect();
    assert!(stale.is_empty(), "{file}: tests without a case: {stale:?}");
}

/// The example in tests/interop/jose/NOTES.md (the README section), compiled and
/// run: an Ed25519 key as WebCrypto exports it (`alg: Ed25519`, RFC 9864)
/// verifies the RFC 8037 §A.4 token, signed as `EdDSA`.
#[test]
fn readme_example_webcrypto_ed25519_key() -> Result<(), Box<dyn std::error::Error>> {
    let jwks = br#"{"keys":[{"kty":"OKP","crv":"Ed25519","alg":"Ed25519",
        "key_ops":["verify"],"ext":true,
        "x":"11qYAYKxCrfVS_7TyWQHOg7hcvPapiMlrwIaaPcHURo"}]}"#;
    let keys = KeySet::from_jwks(jwks, &KeySetOptions::default())?;
    assert_eq!(keys.len(), 1);
    let token = "eyJhbGciOiJFZERTQSJ9.RXhhbXBsZSBvZiBFZDI1NTE5IHNpZ25pbmc.\
                 hgyY0il_MGCjP0JzlnLWG1PPOt7-09PGcvMg3AIbQR6dWbhijcNR4ki4iylGjg5BhVsPt9g7sVvpAr_MuM0KAg";
    let validator = Validator::new(Validation::default());
    assert_eq!(
        validator.verify_jws(token, &keys)?,
        b"Example of Ed25519 signing"
    );
    Ok(())
}

macro_rules! cases {
    ($($module:ident: $file:literal => [$($name:ident),* $(,)?];)*) => {
        const FILES: &[&str] = &[$($file),*];
        $(
            mod $module {
                #[test]
                fn every_case_has_a_test() {
                    super::listed_exactly($file, &[$(stringify!($name)),*]);
                }
                $(
                    #[test]
                    fn $name() {
                        super::run($file, stringify!($name));
                    }
                )*
            }
        )*
    };
}

cases! {
    jose_node: "jose-node.json" => [
        rs256_rsa2048,
        rs256_rsa3072,
        rs256_rsa4096,
        rs384_rsa3072,
        rs512_rsa4096,
        ps256_rsa2048,
        ps256_rsa3072,
        ps256_rsa4096,
        ps384_rsa3072,
        ps512_rsa4096,
        es256_p256,
        es384_p384,
        eddsa_ed25519,
        ed25519_fully_specified_alg,
        webcrypto_export_ed25519_alg,
        webcrypto_export_ed25519_alg_ed25519_token,
        ed25519_alg_not_allowed,
        es512_unsupported,
        hs256_oct_opt_in,
        hs256_oct_without_opt_in,
        hs256_not_in_allow_list,
        hs384_oct_opt_in,
        hs512_oct_opt_in,
        kid_rfc7638_thumbprint,
        kid_absent_one_key,
        kid_absent_keys_of_other_types,
        kid_absent_two_candidate_keys,
        kid_unknown,
        webcrypto_export_alg_ext_key_ops,
        jwk_alg_differs_from_token_alg,
        jwk_member_order_use_sig_extras,
        jwk_use_enc_skipped,
        jwk_key_ops_without_verify_skipped,
        jwk_private_members_skipped,
        token_kid_key_without_kid,
        token_without_kid_key_with_kid,
        jwks_duplicate_kid_same_kty,
        jwks_with_unusable_keys_tolerated,
        payload_not_json,
        payload_json_array,
        aud_string,
        aud_array,
        aud_array_without_ours,
        aud_wrong,
        iss_wrong,
        exp_missing,
        expired,
        expired_within_leeway,
        exp_at_leeway_boundary,
        exp_one_second_inside_leeway,
        nbf_at_leeway_boundary,
        nbf_one_second_past_leeway,
        aud_present_no_audience_configured,
        aud_absent_no_audience_configured,
        aud_absent_audience_configured,
        nbf_future,
        iat_future,
        numeric_dates_fractional,
        exp_fractional_expired,
        exp_as_string,
        typ_jwt_not_checked,
        typ_at_jwt,
        typ_application_at_jwt,
        typ_at_jwt_uppercase,
        typ_jwt_when_at_jwt_required,
        typ_absent_when_at_jwt_required,
        header_members_ignored,
        header_embedded_jwk_not_trusted,
        header_jku_not_followed,
        header_crit_unknown_extension,
        header_b64_false_detached,
        header_b64_false_attached,
        trailing_newline,
        padded_signature,
        signature_standard_base64,
        alg_lowercase,
        iss_trailing_slash,
        iss_case_differs,
        aud_case_differs,
        exp_in_milliseconds,
        same_kid_different_kty,
        kid_thumbprint_uri,
        jwks_extra_top_level_members,
        alg_none_unsecured_jwt,
        tampered_payload,
        tampered_signature,
        tampered_signature_es256,
        alg_confusion_hs256_with_rsa_public_key,
        alg_confusion_hs256_allowed_rsa_key,
        alg_confusion_hs256_no_kid,
        es384_token_p256_key,
        jws_json_flattened_refused,
        jws_json_general_refused,
        jwe_compact_dir_refused,
        jwe_compact_rsa_oaep_refused,
        nested_jwt_cty_jwt,
        rsa_1024_key_refused,
        hs256_short_secret_refused,
    ];
    python: "python.json" => [
        pyjwt_rs256_rsa2048,
        pyjwt_rs256_rsa3072,
        pyjwt_rs256_rsa4096,
        pyjwt_rs384_rsa3072,
        pyjwt_rs512_rsa4096,
        pyjwt_ps256_rsa2048,
        pyjwt_ps384_rsa3072,
        pyjwt_ps512_rsa4096,
        pyjwt_es256_p256,
        pyjwt_es384_p384,
        pyjwt_eddsa_ed25519,
        pyjwt_hs256_oct_opt_in,
        pyjwt_hs384_oct_opt_in,
        pyjwt_hs512_oct_opt_in,
        pyjwt_kid_absent_one_key,
        pyjwt_aud_array,
        pyjwt_aud_array_without_ours,
        pyjwt_aud_wrong,
        pyjwt_iss_wrong,
        pyjwt_expired,
        pyjwt_nbf_future,
        pyjwt_iat_future,
        pyjwt_exp_missing,
        pyjwt_numeric_dates_fractional,
        pyjwt_nbf_fractional_future,
        pyjwt_datetime_claims,
        pyjwt_typ_at_jwt,
        pyjwt_typ_application_at_jwt,
        pyjwt_typ_default_jwt_when_at_jwt_required,
        pyjwt_header_members_ignored,
        pyjwt_crit_unknown_extension,
        pyjwt_crit_empty,
        pyjwt_b64_false_detached,
        pyjwt_alg_none,
        pyjwt_tampered_payload,
        pyjwt_tampered_signature,
        pyjwt_tampered_signature_eddsa,
        pyjwt_kid_non_ascii,
        numeric_date_exponent_form,
        json_whitespace_pretty_printed,
        rs256_signature_leading_zero_stripped,
        rs256_signature_leading_zero_kept,
        hs256_truncated_mac,
        aud_array_with_non_string,
        eddsa_ed448_key_unsupported,
        es256k_unsupported,
        ec_point_not_on_curve,
        alg_confusion_hs256_with_rsa_pem,
        alg_confusion_hs256_allowed_rsa_key,
        duplicate_header_member,
        duplicate_claim,
        base64url_padded_segment,
        es256_der_signature,
        es384_der_signature,
        es256_fixed_r_s,
        es256_high_s,
        pss_salt_hash_length,
        pss_salt_max_length,
        pss_salt_zero,
        rsa_modulus_leading_zero_tolerated,
        ec_coordinate_leading_zero_stripped,
        ec_coordinate_leading_zero_kept,
        x5c_rsa_jwk,
        x5c_ec_jwk,
        jwcrypto_rs256_kid_thumbprint,
        jwcrypto_ps384_kid_thumbprint,
        jwcrypto_es256_kid_thumbprint,
        jwcrypto_es384_kid_thumbprint,
        jwcrypto_eddsa_kid_thumbprint,
        jwcrypto_jwk_use_alg,
        jwcrypto_jwk_alg_ps256_token_rs256,
        jwcrypto_jwk_key_ops,
        jwcrypto_hs256_oct,
        jwcrypto_oct_beside_public_key_dropped,
        jwcrypto_jws_json_flattened,
        jwcrypto_jws_json_general,
        jwcrypto_jwe_compact,
    ];
}
