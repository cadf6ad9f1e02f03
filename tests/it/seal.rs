//! Sealed state (issue 23): the `Sealer` blob format, tampering, associated
//! data, truncation, key rotation, and the gate's sealed import refusing a
//! forged key set. Tokens are minted with ring directly, ES256 over P-256.

use crate::support as common;
use common::es256::Key;
use edge_auth::Secret;
use edge_auth::gate::{Gate, GateConfig, GateError, IssuerConfig, Outcome};
use edge_auth::jwk::KeysError;
use edge_auth::policy::{Policy, RequestFacts};
use edge_auth::seal::{HEADER_LEN, PURPOSE_ISSUER_KEYS, SealError, Sealer, TAG_LEN, VERSION};
use http::{HeaderMap, StatusCode};
use serde_json::json;
use time::macros::datetime;
use time::{Duration, OffsetDateTime};

const ISS: &str = "https://idp.example.com";
const OTHER_ISS: &str = "https://other-idp.example.com";
const AUD: &str = "api://orders";
const NOW: OffsetDateTime = datetime!(2026-11-23 10:00:00 UTC);
const PURPOSE: &str = "edge-auth/test/v1";
const PLAINTEXT: &[u8] = br#"{"keys":[{"kty":"EC","kid":"k1"}]}"#;

fn secret(byte: u8) -> Secret<Vec<u8>> {
    Secret::new(vec![byte; 32])
}

fn sealer(key_id: u8, byte: u8) -> Sealer {
    Sealer::new(key_id, &secret(byte)).unwrap()
}

fn sealed() -> (Sealer, Vec<u8>) {
    let s = sealer(1, 0xA1);
    let blob = s.seal(PURPOSE, ISS, PLAINTEXT).unwrap();
    (s, blob)
}

fn flipped(blob: &[u8], index: usize) -> Vec<u8> {
    let mut b = blob.to_vec();
    b[index] ^= 0x01;
    b
}

// ------------------------------------------------------------ the sealer

#[test]
fn round_trip_bytes() {
    let (s, blob) = sealed();
    assert_eq!(blob.len(), HEADER_LEN + PLAINTEXT.len() + TAG_LEN);
    assert_eq!(blob[0], VERSION);
    assert_eq!(blob[1], 1);
    assert_eq!(s.open(PURPOSE, ISS, &blob).unwrap(), PLAINTEXT);
}

#[test]
fn round_trip_text_is_base64url() {
    let s = sealer(1, 0xA1);
    let text = s.seal_to_string(PURPOSE, ISS, PLAINTEXT).unwrap();
    assert!(
        text.bytes()
            .all(|c| c.is_ascii_alphanumeric() || c == b'-' || c == b'_')
    );
    assert_eq!(s.open_str(PURPOSE, ISS, &text).unwrap(), PLAINTEXT);
}

#[test]
fn empty_plaintext_round_trips() {
    let s = sealer(1, 0xA1);
    let blob = s.seal(PURPOSE, ISS, b"").unwrap();
    assert_eq!(blob.len(), HEADER_LEN + TAG_LEN);
    assert_eq!(s.open(PURPOSE, ISS, &blob).unwrap(), b"");
}

#[test]
fn ciphertext_hides_plaintext() {
    let (_, blob) = sealed();
    let body = &blob[HEADER_LEN..blob.len() - TAG_LEN];
    assert_ne!(body, PLAINTEXT);
    assert!(!blob.windows(4).any(|w| w == b"keys"));
}

#[test]
fn nonces_differ_between_seals() {
    let s = sealer(1, 0xA1);
    let a = s.seal(PURPOSE, ISS, PLAINTEXT).unwrap();
    let b = s.seal(PURPOSE, ISS, PLAINTEXT).unwrap();
    assert_ne!(a[2..HEADER_LEN], b[2..HEADER_LEN]);
    assert_ne!(a, b);
}

#[test]
fn tampered_version_byte_is_refused() {
    let (s, blob) = sealed();
    assert_eq!(
        s.open(PURPOSE, ISS, &flipped(&blob, 0)),
        Err(SealError::Version {
            found: VERSION ^ 1,
            expected: VERSION
        })
    );
}

#[test]
fn tampered_key_id_is_refused() {
    // The sealer holds key ids 1 and 0 (both from the same secret): a blob
    // relabelled to the other id must not open, as the key id is both in
    // the HKDF info and in the associated data.
    let s = sealer(1, 0xA1).with_opening_key(0, &secret(0xA1)).unwrap();
    let blob = s.seal(PURPOSE, ISS, PLAINTEXT).unwrap();
    assert_eq!(
        s.open(PURPOSE, ISS, &flipped(&blob, 1)),
        Err(SealError::Rejected)
    );
}

#[test]
fn tampered_nonce_is_refused() {
    let (s, blob) = sealed();
    for i in 2..HEADER_LEN {
        assert_eq!(
            s.open(PURPOSE, ISS, &flipped(&blob, i)),
            Err(SealError::Rejected),
            "nonce byte {i}"
        );
    }
}

#[test]
fn tampered_ciphertext_is_refused() {
    let (s, blob) = sealed();
    for i in HEADER_LEN..blob.len() - TAG_LEN {
        assert_eq!(
            s.open(PURPOSE, ISS, &flipped(&blob, i)),
            Err(SealError::Rejected),
            "ciphertext byte {i}"
        );
    }
}

#[test]
fn tampered_tag_is_refused() {
    let (s, blob) = sealed();
    for i in blob.len() - TAG_LEN..blob.len() {
        assert_eq!(
            s.open(PURPOSE, ISS, &flipped(&blob, i)),
            Err(SealError::Rejected),
            "tag byte {i}"
        );
    }
}

#[test]
fn every_single_bit_flip_is_refused() {
    let (s, blob) = sealed();
    for i in 0..blob.len() * 8 {
        let mut b = blob.clone();
        b[i / 8] ^= 1 << (i % 8);
        assert!(s.open(PURPOSE, ISS, &b).is_err(), "bit {i}");
    }
}

#[test]
fn tampered_text_is_refused() {
    let s = sealer(1, 0xA1);
    let text = s.seal_to_string(PURPOSE, ISS, PLAINTEXT).unwrap();
    let mut chars: Vec<char> = text.chars().collect();
    let mid = chars.len() / 2;
    chars[mid] = if chars[mid] == 'A' { 'B' } else { 'A' };
    let tampered: String = chars.into_iter().collect();
    assert_eq!(
        s.open_str(PURPOSE, ISS, &tampered),
        Err(SealError::Rejected)
    );
}

#[test]
fn other_issuer_associated_data_is_refused() {
    let (s, blob) = sealed();
    assert_eq!(s.open(PURPOSE, OTHER_ISS, &blob), Err(SealError::Rejected));
    // A prefix or extension of the subject is another subject too.
    assert_eq!(
        s.open(PURPOSE, &format!("{ISS}/"), &blob),
        Err(SealError::Rejected)
    );
}

#[test]
fn other_purpose_is_refused() {
    let (s, blob) = sealed();
    assert_eq!(
        s.open(PURPOSE_ISSUER_KEYS, ISS, &blob),
        Err(SealError::Rejected)
    );
}

#[test]
fn purpose_and_subject_boundary_is_bound() {
    let s = sealer(1, 0xA1);
    let blob = s.seal("ab", "c", PLAINTEXT).unwrap();
    assert_eq!(s.open("a", "bc", &blob), Err(SealError::Rejected));
}

#[test]
fn other_secret_with_same_key_id_is_refused() {
    let (_, blob) = sealed();
    let other = sealer(1, 0xB2);
    assert_eq!(other.open(PURPOSE, ISS, &blob), Err(SealError::Rejected));
}

#[test]
fn truncated_blob_every_length_is_refused() {
    let (s, blob) = sealed();
    for len in 0..HEADER_LEN + TAG_LEN {
        assert_eq!(
            s.open(PURPOSE, ISS, &blob[..len]),
            Err(SealError::Truncated {
                len,
                min: HEADER_LEN + TAG_LEN
            }),
            "length {len}"
        );
    }
    // Longer prefixes are whole-looking blobs whose tag no longer matches.
    for len in HEADER_LEN + TAG_LEN..blob.len() {
        assert_eq!(
            s.open(PURPOSE, ISS, &blob[..len]),
            Err(SealError::Rejected),
            "length {len}"
        );
    }
}

#[test]
fn truncated_text_is_refused() {
    let s = sealer(1, 0xA1);
    let text = s.seal_to_string(PURPOSE, ISS, PLAINTEXT).unwrap();
    for len in 0..text.len() {
        assert!(
            s.open_str(PURPOSE, ISS, &text[..len]).is_err(),
            "length {len}"
        );
    }
}

#[test]
fn unknown_key_id_is_refused() {
    let blob = sealer(7, 0xA1).seal(PURPOSE, ISS, PLAINTEXT).unwrap();
    let s = sealer(1, 0xA1);
    assert_eq!(
        s.open(PURPOSE, ISS, &blob),
        Err(SealError::UnknownKey { key_id: 7 })
    );
}

#[test]
fn old_key_opens_after_rotation() {
    let old = sealer(1, 0xA1);
    let blob = old.seal(PURPOSE, ISS, PLAINTEXT).unwrap();
    let rotated = sealer(2, 0xB2).with_opening_key(1, &secret(0xA1)).unwrap();
    assert_eq!(rotated.sealing_key_id(), 2);
    assert_eq!(rotated.opening_key_ids().collect::<Vec<_>>(), [2, 1]);
    assert_eq!(rotated.open(PURPOSE, ISS, &blob).unwrap(), PLAINTEXT);
    // New blobs are sealed under the new key only.
    let fresh = rotated.seal(PURPOSE, ISS, PLAINTEXT).unwrap();
    assert_eq!(fresh[1], 2);
    assert_eq!(
        old.open(PURPOSE, ISS, &fresh),
        Err(SealError::UnknownKey { key_id: 2 })
    );
}

#[test]
fn retired_key_is_refused() {
    let blob = sealer(1, 0xA1).seal(PURPOSE, ISS, PLAINTEXT).unwrap();
    // Key 1 retired: the sealer now holds key 2 only.
    let retired = sealer(2, 0xB2);
    assert_eq!(
        retired.open(PURPOSE, ISS, &blob),
        Err(SealError::UnknownKey { key_id: 1 })
    );
}

#[test]
fn plain_unsealed_blob_is_refused_when_sealing_required() {
    let s = sealer(1, 0xA1);
    assert_eq!(s.open(PURPOSE, ISS, PLAINTEXT), Err(SealError::Unsealed));
    assert_eq!(s.open(PURPOSE, ISS, b"{}"), Err(SealError::Unsealed));
    assert_eq!(
        s.open_str(PURPOSE, ISS, " \n{\"version\":1}"),
        Err(SealError::Unsealed)
    );
}

#[test]
fn non_base64url_text_is_refused() {
    let s = sealer(1, 0xA1);
    let text = s.seal_to_string(PURPOSE, ISS, PLAINTEXT).unwrap();
    assert_eq!(
        s.open_str(PURPOSE, ISS, &format!("{text}=")),
        Err(SealError::Encoding)
    );
    assert_eq!(
        s.open_str(PURPOSE, ISS, &text.replace('-', "+")),
        if text.contains('-') {
            Err(SealError::Encoding)
        } else {
            Ok(PLAINTEXT.to_vec())
        }
    );
    assert_eq!(s.open_str(PURPOSE, ISS, "a b"), Err(SealError::Encoding));
}

#[test]
fn oversized_plaintext_is_refused() {
    let s = sealer(1, 0xA1).with_max_plaintext(16);
    assert_eq!(
        s.seal(PURPOSE, ISS, &[0; 17]),
        Err(SealError::TooLarge {
            what: "plaintext",
            len: 17,
            max: 16
        })
    );
}

#[test]
fn oversized_blob_and_text_are_refused_before_decoding() {
    let s = sealer(1, 0xA1).with_max_plaintext(16);
    let blob = vec![VERSION; HEADER_LEN + 17 + TAG_LEN];
    assert!(matches!(
        s.open(PURPOSE, ISS, &blob),
        Err(SealError::TooLarge {
            what: "sealed blob",
            ..
        })
    ));
    let text = "A".repeat(1000);
    assert!(matches!(
        s.open_str(PURPOSE, ISS, &text),
        Err(SealError::TooLarge {
            what: "sealed text",
            ..
        })
    ));
}

#[test]
fn short_secret_is_refused() {
    assert_eq!(
        Sealer::new(1, &Secret::new(vec![1; 31])).unwrap_err(),
        SealError::ShortSecret { found: 31, min: 32 }
    );
    assert!(
        sealer(1, 0xA1)
            .with_opening_key(2, &Secret::new(Vec::new()))
            .is_err()
    );
}

#[test]
fn duplicate_key_id_is_refused() {
    assert_eq!(
        sealer(1, 0xA1)
            .with_opening_key(1, &secret(0xB2))
            .unwrap_err(),
        SealError::DuplicateKeyId { key_id: 1 }
    );
}

#[test]
fn debug_and_errors_never_show_secret_or_plaintext() {
    let s = Sealer::new(
        1,
        &Secret::new(b"correct-horse-battery-staple-0123456789".to_vec()),
    )
    .unwrap();
    let debug = format!("{s:?}");
    assert!(!debug.contains("horse"), "{debug}");
    let blob = s.seal(PURPOSE, ISS, b"top-secret-token").unwrap();
    let errors = [
        s.open(PURPOSE, OTHER_ISS, &blob).unwrap_err(),
        s.open(PURPOSE, ISS, &blob[..5]).unwrap_err(),
        sealer(2, 0xB2).open(PURPOSE, ISS, &blob).unwrap_err(),
    ];
    for e in errors {
        let text = format!("{e} {e:?}");
        assert!(
            !text.contains("horse") && !text.contains("top-secret"),
            "{text}"
        );
    }
}

// ------------------------------------------------------------ the gate

/// A token for `iss` signed by `key`, valid for an hour from `NOW`.
fn token(key: &Key, iss: &str) -> String {
    key.sign(&json!({
        "iss": iss, "aud": AUD, "sub": "user-1",
        "iat": NOW.unix_timestamp(), "exp": (NOW + Duration::hours(1)).unix_timestamp(),
    }))
}

fn jwks(keys: &[&Key]) -> Vec<u8> {
    json!({"keys": keys.iter().map(|k| k.jwk()).collect::<Vec<_>>()})
        .to_string()
        .into_bytes()
}

fn gate() -> Gate {
    let policy = Policy::from_json(
        &json!({"rules": [
            {"id": "orders", "match": {"paths": ["/orders/**"]}, "require": {"authenticated": true}, "effect": "allow"},
        ]})
        .to_string(),
    )
    .unwrap();
    let issuers = [ISS, OTHER_ISS]
        .map(|iss| IssuerConfig::new(iss, [AUD]).with_jwks_uri(format!("{iss}/jwks")));
    Gate::new(GateConfig::new(issuers.to_vec()).with_policy(policy.compile().unwrap())).unwrap()
}

fn check(gate: &Gate, token: &str) -> Outcome {
    let parts = http::Request::get("/orders/1")
        .header("host", "api.example.com")
        .header("authorization", format!("Bearer {token}"))
        .body(())
        .unwrap()
        .into_parts()
        .0;
    gate.check(&parts, &RequestFacts::from_parts(&parts), NOW)
}

/// Checks, serving `FetchKeys` from `body` until the gate decides.
fn check_fetching(gate: &Gate, token: &str, body: &[u8]) -> Outcome {
    let mut headers = HeaderMap::new();
    headers.insert("cache-control", "max-age=3600".parse().unwrap());
    for _ in 0..3 {
        match check(gate, token) {
            Outcome::FetchKeys(plan) => gate
                .apply_fetch_response(&plan, StatusCode::OK, &headers, body, NOW)
                .unwrap(),
            decided => return decided,
        }
    }
    panic!("gate kept asking for keys")
}

/// A gate that fetched `keys` for `iss` (the genuine keys, or an attacker's
/// set for a forged state).
fn warm_gate(iss: &str, keys: &[&Key]) -> Gate {
    let g = gate();
    let token = token(keys[0], iss);
    assert!(matches!(
        check_fetching(&g, &token, &jwks(keys)),
        Outcome::Allow { .. }
    ));
    g
}

fn seal_error(result: Result<(), GateError>) -> SealError {
    match result {
        Err(GateError::Keys {
            source: KeysError::Sealed(e),
            ..
        }) => e,
        other => panic!("expected a seal error, got {other:?}"),
    }
}

/// The gate holds no keys for ISS: the next check asks to fetch them.
fn assert_cold(gate: &Gate, token: &str) {
    assert!(matches!(check(gate, token), Outcome::FetchKeys(_)));
}

#[test]
fn gate_sealed_state_round_trips_between_gates() {
    let genuine = Key::new("genuine");
    let a = warm_gate(ISS, &[&genuine]);
    let operator = sealer(1, 0xA1);
    let text = a.export_sealed(ISS, &operator).unwrap().unwrap();
    assert!(!text.contains("genuine"));
    let b = gate();
    b.import_sealed(ISS, &operator, &text, NOW).unwrap();
    // No fetch: the keys came from the sealed state.
    assert!(matches!(
        check(&b, &token(&genuine, ISS)),
        Outcome::Allow { .. }
    ));
}

#[test]
fn gate_export_sealed_for_unknown_issuer_is_refused() {
    assert!(matches!(
        gate().export_sealed("https://nope.example.com", &sealer(1, 0xA1)),
        Err(GateError::UnknownIssuer { .. })
    ));
}

#[test]
fn gate_forged_key_set_sealed_with_other_secret_is_refused() {
    let genuine = Key::new("genuine");
    let attacker = Key::new("attacker");
    // The attacker builds a well-formed state holding their key and seals
    // it with a secret of their own, under the operator's key id.
    let forged = warm_gate(ISS, &[&attacker])
        .export_sealed(ISS, &sealer(1, 0xEE))
        .unwrap()
        .unwrap();
    let b = gate();
    let operator = sealer(1, 0xA1);
    assert_eq!(
        seal_error(b.import_sealed(ISS, &operator, &forged, NOW)),
        SealError::Rejected
    );
    // Nothing applied: the gate is still cold and fetches the genuine keys,
    // and the attacker's token is refused.
    let attack = token(&attacker, ISS);
    assert_cold(&b, &attack);
    assert!(matches!(
        check_fetching(&b, &attack, &jwks(&[&genuine])),
        Outcome::Deny(_)
    ));
    assert!(matches!(
        check(&b, &token(&genuine, ISS)),
        Outcome::Allow { .. }
    ));
}

#[test]
fn gate_forged_key_set_unsealed_is_refused() {
    let genuine = Key::new("genuine");
    let attacker = Key::new("attacker");
    let plain =
        serde_json::to_string(&warm_gate(ISS, &[&attacker]).export_state(ISS).unwrap()).unwrap();
    let b = gate();
    assert_eq!(
        seal_error(b.import_sealed(ISS, &sealer(1, 0xA1), &plain, NOW)),
        SealError::Unsealed
    );
    let attack = token(&attacker, ISS);
    assert_cold(&b, &attack);
    assert!(matches!(
        check_fetching(&b, &attack, &jwks(&[&genuine])),
        Outcome::Deny(_)
    ));
}

#[test]
fn gate_state_sealed_for_another_issuer_is_refused() {
    // The operator's genuine sealed state for OTHER_ISS, copied into ISS's
    // slot in the store.
    let other = Key::new("other-issuer-key");
    let operator = sealer(1, 0xA1);
    let text = warm_gate(OTHER_ISS, &[&other])
        .export_sealed(OTHER_ISS, &operator)
        .unwrap()
        .unwrap();
    let b = gate();
    assert_eq!(
        seal_error(b.import_sealed(ISS, &operator, &text, NOW)),
        SealError::Rejected
    );
    assert_cold(&b, &token(&other, ISS));
}

#[test]
fn gate_refused_import_keeps_warm_keys() {
    let genuine = Key::new("genuine");
    let attacker = Key::new("attacker");
    let b = warm_gate(ISS, &[&genuine]);
    let operator = sealer(1, 0xA1);
    let forged = warm_gate(ISS, &[&attacker])
        .export_sealed(ISS, &sealer(1, 0xEE))
        .unwrap()
        .unwrap();
    assert!(b.import_sealed(ISS, &operator, &forged, NOW).is_err());
    assert!(matches!(
        check(&b, &token(&genuine, ISS)),
        Outcome::Allow { .. }
    ));
    // The attacker's kid is unknown: the gate may ask to refetch, and the
    // genuine set still refuses the token.
    assert!(matches!(
        check_fetching(&b, &token(&attacker, ISS), &jwks(&[&genuine])),
        Outcome::Deny(_)
    ));
}

#[test]
fn gate_sealed_state_after_rotation_opens_with_old_key() {
    let genuine = Key::new("genuine");
    let text = warm_gate(ISS, &[&genuine])
        .export_sealed(ISS, &sealer(1, 0xA1))
        .unwrap()
        .unwrap();
    let rotated = sealer(2, 0xB2).with_opening_key(1, &secret(0xA1)).unwrap();
    let b = gate();
    b.import_sealed(ISS, &rotated, &text, NOW).unwrap();
    assert!(matches!(
        check(&b, &token(&genuine, ISS)),
        Outcome::Allow { .. }
    ));
    let retired = gate();
    assert_eq!(
        seal_error(retired.import_sealed(ISS, &sealer(2, 0xB2), &text, NOW)),
        SealError::UnknownKey { key_id: 1 }
    );
}
