//! DPoP at the resource server (RFC 9449): the RFC's examples, one test per
//! §4.3 check, the `cnf.jkt` binding and the bearer downgrade, extraction.

use edge_auth::dpop::{
    self, DpopConfig, DpopError, ProofRequest, access_token_hash, check_binding, verify_proof,
};
use edge_auth::httpsig::MemoryReplayGuard;
use edge_auth::jwt::Algorithm;
use serde_json::{Map, Value, json};
use time::{Duration, OffsetDateTime};

use crate::support::es256::Key;

// RFC 9449 figure 2 (§4.1): a proof for the token request.
const RFC_TOKEN_PROOF: &str = "eyJ0eXAiOiJkcG9wK2p3dCIsImFsZyI6IkVTMjU2IiwiandrIjp7Imt0eSI6IkVDIiwieCI6Imw4dEZyaHgtMzR0VjNoUklDUkRZOXpDa0RscEJoRjQyVVFVZldWQVdCRnMiLCJ5IjoiOVZFNGpmX09rX282NHpiVFRsY3VOSmFqSG10NnY5VERWclUwQ2R2R1JEQSIsImNydiI6IlAtMjU2In19.eyJqdGkiOiItQndDM0VTYzZhY2MybFRjIiwiaHRtIjoiUE9TVCIsImh0dSI6Imh0dHBzOi8vc2VydmVyLmV4YW1wbGUuY29tL3Rva2VuIiwiaWF0IjoxNTYyMjYyNjE2fQ.2-GxA6T8lP4vfrg8v-FdWP0A0zdrj8igiMLvqRMUvwnQg4PtFLbdLXiOSsX0x7NVY-FNyJK70nfbV37xRZT3Lg";
// RFC 9449 figure 13 (§7.1): a proof for a protected resource request.
const RFC_RESOURCE_PROOF: &str = "eyJ0eXAiOiJkcG9wK2p3dCIsImFsZyI6IkVTMjU2IiwiandrIjp7Imt0eSI6IkVDIiwieCI6Imw4dEZyaHgtMzR0VjNoUklDUkRZOXpDa0RscEJoRjQyVVFVZldWQVdCRnMiLCJ5IjoiOVZFNGpmX09rX282NHpiVFRsY3VOSmFqSG10NnY5VERWclUwQ2R2R1JEQSIsImNydiI6IlAtMjU2In19.eyJqdGkiOiJlMWozVl9iS2ljOC1MQUVCIiwiaHRtIjoiR0VUIiwiaHR1IjoiaHR0cHM6Ly9yZXNvdXJjZS5leGFtcGxlLm9yZy9wcm90ZWN0ZWRyZXNvdXJjZSIsImlhdCI6MTU2MjI2MjYxOCwiYXRoIjoiZlVIeU8ycjJaM0RaNTNFc05yV0JiMHhXWG9hTnk1OUlpS0NBcWtzbVFFbyJ9.2oW9RP35yRqzhrtNP86L-Ey71EOptxRimPPToA1plemAgR6pxHF8y6-yqyVnmcw6Fy1dqd-jfxSYoMxhAJpLjA";
const RFC_ACCESS_TOKEN: &str = "Kz~8mXK1EalYznwH-LC-1fBAo.4Ljp~zsPE_NeO.gxU";
const RFC_JKT: &str = "0ZcOCORZNYy-DWpqq30jZyJGHTN0d2HglBV3uiguA4I";

const HTU: &str = "https://api.example.com/orders";
const TOKEN: &str = "an.access.token";

fn at(unix: i64) -> OffsetDateTime {
    OffsetDateTime::from_unix_timestamp(unix).unwrap()
}

fn now() -> OffsetDateTime {
    at(1_800_000_000)
}

fn guard() -> MemoryReplayGuard {
    MemoryReplayGuard::with_capacity(100)
}

fn public_jwk(key: &Key) -> Value {
    let jwk = key.jwk();
    json!({"kty": "EC", "crv": "P-256", "x": jwk["x"], "y": jwk["y"]})
}

fn header(key: &Key) -> Value {
    json!({"typ": "dpop+jwt", "alg": "ES256", "jwk": public_jwk(key)})
}

/// A proof over `claims`, signed by a fresh key that its header carries.
fn proof(claims: &Value) -> String {
    let key = Key::new("k");
    key.sign_with_header(&header(&key), claims)
}

fn claims() -> Value {
    json!({
        "jti": "jti-1", "htm": "GET", "htu": HTU, "iat": 1_800_000_000,
        "ath": access_token_hash(TOKEN),
    })
}

fn request() -> ProofRequest<'static> {
    ProofRequest::new(&http::Method::GET, HTU).with_access_token(TOKEN)
}

fn check(proof: &str) -> Result<dpop::VerifiedProof, DpopError> {
    verify_proof(
        proof,
        &DpopConfig::default(),
        &request(),
        &mut guard(),
        now(),
    )
}

fn refused_because(proof: &str, needle: &str) {
    match check(proof) {
        Err(e @ DpopError::InvalidProof { .. }) => {
            assert!(
                e.to_string().contains(needle),
                "`{e}` should say `{needle}`"
            )
        }
        other => panic!("expected invalid_dpop_proof ({needle}), got {other:?}"),
    }
}

fn with_claim(name: &str, value: Value) -> Value {
    let mut c = claims();
    c[name] = value;
    c
}

fn without_claim(name: &str) -> Value {
    let mut c = claims();
    c.as_object_mut().unwrap().remove(name);
    c
}

#[test]
fn rfc9449_token_request_proof_verifies() {
    let req = ProofRequest::new(&http::Method::POST, "https://server.example.com/token");
    let verified = verify_proof(
        RFC_TOKEN_PROOF,
        &DpopConfig::default(),
        &req,
        &mut guard(),
        at(1_562_262_616),
    )
    .unwrap();
    assert_eq!(verified.jkt(), RFC_JKT);
    assert_eq!(verified.jti(), "-BwC3ESc6acc2lTc");
}

#[test]
fn rfc9449_resource_proof_verifies_with_ath() {
    assert_eq!(
        access_token_hash(RFC_ACCESS_TOKEN),
        "fUHyO2r2Z3DZ53EsNrWBb0xWXoaNy59IiKCAqksmQEo"
    );
    let req = ProofRequest::new(
        &http::Method::GET,
        "https://resource.example.org/protectedresource",
    )
    .with_access_token(RFC_ACCESS_TOKEN);
    let verified = verify_proof(
        RFC_RESOURCE_PROOF,
        &DpopConfig::default(),
        &req,
        &mut guard(),
        at(1_562_262_618),
    )
    .unwrap();
    assert_eq!(verified.jkt(), RFC_JKT);
}

#[test]
fn rfc9449_resource_request_extracts() {
    let (parts, ()) = http::Request::get("https://resource.example.org/protectedresource")
        .header("authorization", format!("DPoP {RFC_ACCESS_TOKEN}"))
        .header("dpop", RFC_RESOURCE_PROOF)
        .body(())
        .unwrap()
        .into_parts();
    let creds = dpop::extract(&parts).unwrap().unwrap();
    assert_eq!(creds.access_token, RFC_ACCESS_TOKEN);
    assert_eq!(creds.proof, RFC_RESOURCE_PROOF);
    let uri = dpop::target_uri(&parts, "https").unwrap();
    let req = ProofRequest::new(&parts.method, &uri).with_access_token(creds.access_token);
    verify_proof(
        creds.proof,
        &DpopConfig::default(),
        &req,
        &mut guard(),
        at(1_562_262_620),
    )
    .unwrap();
}

#[test]
fn rfc9449_proof_outside_its_time_is_refused() {
    let req = ProofRequest::new(&http::Method::POST, "https://server.example.com/token");
    let err = verify_proof(
        RFC_TOKEN_PROOF,
        &DpopConfig::default(),
        &req,
        &mut guard(),
        at(1_562_262_616 + 3600),
    )
    .unwrap_err();
    assert!(err.to_string().contains("s old"), "{err}");
}

#[test]
fn valid_proof_is_accepted() {
    let key = Key::new("k");
    let verified = check(&key.sign_with_header(&header(&key), &claims())).unwrap();
    assert_eq!(
        verified.jkt(),
        dpop::thumbprint(public_jwk(&key).as_object().unwrap()).unwrap()
    );
}

#[test]
fn typ_missing_is_refused() {
    let key = Key::new("k");
    let mut h = header(&key);
    h.as_object_mut().unwrap().remove("typ");
    refused_because(&key.sign_with_header(&h, &claims()), "`typ` is missing");
}

#[test]
fn typ_jwt_is_refused() {
    let key = Key::new("k");
    let mut h = header(&key);
    h["typ"] = json!("JWT");
    refused_because(&key.sign_with_header(&h, &claims()), "`typ` `JWT`");
}

#[test]
fn alg_outside_the_allow_list_is_refused() {
    let proof = proof(&claims());
    let config = DpopConfig::default().with_algorithms(vec![Algorithm::EdDSA]);
    let err = verify_proof(&proof, &config, &request(), &mut guard(), now()).unwrap_err();
    assert!(
        err.to_string().contains("`alg` `ES256` is not allowed"),
        "{err}"
    );
}

#[test]
fn alg_hmac_is_refused_even_when_listed() {
    let key = Key::new("k");
    let mut h = header(&key);
    h["alg"] = json!("HS256");
    let proof = key.sign_with_header(&h, &claims());
    let config = DpopConfig::default().with_algorithms(vec![Algorithm::HS256, Algorithm::ES256]);
    let err = verify_proof(&proof, &config, &request(), &mut guard(), now()).unwrap_err();
    assert!(
        err.to_string().contains("`alg` `HS256` is not allowed"),
        "{err}"
    );
}

#[test]
fn alg_none_is_refused() {
    let key = Key::new("k");
    let mut h = header(&key);
    h["alg"] = json!("none");
    refused_because(&key.sign_with_header(&h, &claims()), "`alg` `none`");
}

#[test]
fn jwk_missing_is_refused() {
    let key = Key::new("k");
    let mut h = header(&key);
    h.as_object_mut().unwrap().remove("jwk");
    refused_because(&key.sign_with_header(&h, &claims()), "`jwk` is missing");
}

#[test]
fn crit_header_is_refused() {
    let key = Key::new("k");
    let mut h = header(&key);
    h["crit"] = json!(["exp"]);
    refused_because(
        &key.sign_with_header(&h, &claims()),
        "critical header extensions are not supported",
    );
}

#[test]
fn empty_signature_is_refused() {
    let proof = proof(&claims());
    let unsigned = &proof[..=proof.rfind('.').unwrap()];
    refused_because(unsigned, "signature is empty");
}

#[test]
fn htu_written_differently_but_equal_is_accepted() {
    let key = Key::new("k");
    let proof = key.sign_with_header(
        &header(&key),
        &with_claim("htu", json!(HTU.replace("https://", "HTTPS://"))),
    );
    check(&proof).unwrap();
}

#[test]
fn jwk_with_private_member_is_refused() {
    let key = Key::new("k");
    let mut h = header(&key);
    h["jwk"]["d"] = json!("AAAA");
    refused_because(
        &key.sign_with_header(&h, &claims()),
        "private key member `d`",
    );
}

#[test]
fn signature_by_another_key_is_refused() {
    let key = Key::new("k");
    let other = Key::new("other");
    refused_because(
        &other.sign_with_header(&header(&key), &claims()),
        "signature check failed",
    );
}

#[test]
fn jti_missing_is_refused() {
    refused_because(&proof(&without_claim("jti")), "`jti` is missing");
}

#[test]
fn htm_mismatch_is_refused() {
    refused_because(
        &proof(&with_claim("htm", json!("POST"))),
        "`htm` `POST` does not match the request method `GET`",
    );
}

#[test]
fn htm_missing_is_refused() {
    refused_because(&proof(&without_claim("htm")), "`htm` is missing");
}

#[test]
fn htu_other_path_is_refused() {
    let key = Key::new("k");
    refused_because(
        &key.sign_with_header(
            &header(&key),
            &with_claim("htu", json!("https://api.example.com/admin")),
        ),
        "`htu` `https://api.example.com/admin` does not match",
    );
}

#[test]
fn htu_other_host_is_refused() {
    let key = Key::new("k");
    refused_because(
        &key.sign_with_header(
            &header(&key),
            &with_claim("htu", json!("https://evil.example.com/orders")),
        ),
        "does not match the request uri",
    );
}

#[test]
fn htu_query_and_fragment_are_ignored() {
    let key = Key::new("k");
    let proof = key.sign_with_header(
        &header(&key),
        &with_claim("htu", json!("https://api.example.com/orders?page=2#top")),
    );
    let req = ProofRequest::new(&http::Method::GET, "https://api.example.com/orders?page=3")
        .with_access_token(TOKEN);
    verify_proof(&proof, &DpopConfig::default(), &req, &mut guard(), now()).unwrap();
}

#[test]
fn htu_scheme_host_case_and_default_port_are_normalised() {
    let key = Key::new("k");
    let proof = key.sign_with_header(
        &header(&key),
        &with_claim("htu", json!("HTTPS://API.Example.COM:443/orders")),
    );
    check(&proof).unwrap();
}

#[test]
fn htu_other_scheme_is_refused() {
    let key = Key::new("k");
    refused_because(
        &key.sign_with_header(
            &header(&key),
            &with_claim("htu", json!("http://api.example.com/orders")),
        ),
        "does not match the request uri",
    );
}

#[test]
fn iat_in_the_future_is_refused() {
    refused_because(
        &proof(&with_claim("iat", json!(1_800_000_030))),
        "in the future",
    );
}

#[test]
fn iat_too_old_is_refused() {
    refused_because(
        &proof(&with_claim("iat", json!(1_800_000_000 - 66))),
        "s old, max age 60 s",
    );
}

#[test]
fn iat_within_leeway_is_accepted() {
    let key = Key::new("k");
    let proof = key.sign_with_header(&header(&key), &with_claim("iat", json!(1_800_000_004)));
    check(&proof).unwrap();
    let old = key.sign_with_header(&header(&key), &with_claim("iat", json!(1_800_000_000 - 64)));
    check(&old).unwrap();
}

#[test]
fn iat_missing_is_refused() {
    refused_because(&proof(&without_claim("iat")), "`iat` is missing");
}

#[test]
fn ath_missing_is_refused() {
    refused_because(&proof(&without_claim("ath")), "`ath` is missing");
}

#[test]
fn ath_of_another_token_is_refused() {
    let key = Key::new("k");
    refused_because(
        &key.sign_with_header(
            &header(&key),
            &with_claim("ath", json!(access_token_hash("another.token"))),
        ),
        "`ath` does not match the access token",
    );
}

#[test]
fn nonce_required_and_missing_is_use_dpop_nonce() {
    let proof = proof(&claims());
    let req = request().with_nonce("n-2");
    let err = verify_proof(&proof, &DpopConfig::default(), &req, &mut guard(), now()).unwrap_err();
    assert_eq!(err.code(), "use_dpop_nonce");
    assert_eq!(err.nonce(), Some("n-2"));
    assert_eq!(err.status(), http::StatusCode::UNAUTHORIZED);
}

#[test]
fn nonce_stale_is_use_dpop_nonce() {
    let proof = proof(&with_claim("nonce", json!("n-1")));
    let req = request().with_nonce("n-2");
    let err = verify_proof(&proof, &DpopConfig::default(), &req, &mut guard(), now()).unwrap_err();
    assert!(matches!(err, DpopError::UseNonce { ref nonce } if nonce == "n-2"));
}

#[test]
fn nonce_current_is_accepted() {
    let proof = proof(&with_claim("nonce", json!("n-2")));
    let req = request().with_nonce("n-2");
    verify_proof(&proof, &DpopConfig::default(), &req, &mut guard(), now()).unwrap();
}

#[test]
fn jti_replay_is_refused() {
    let proof = proof(&claims());
    let mut replay = guard();
    let config = DpopConfig::default();
    verify_proof(&proof, &config, &request(), &mut replay, now()).unwrap();
    let err = verify_proof(&proof, &config, &request(), &mut replay, now()).unwrap_err();
    assert!(matches!(err, DpopError::Replayed { ref jti } if jti == "jti-1"));
    assert_eq!(err.code(), "invalid_dpop_proof");
}

#[test]
fn jti_reused_by_another_key_is_accepted() {
    let (a, b) = (Key::new("a"), Key::new("b"));
    let mut replay = guard();
    let config = DpopConfig::default();
    verify_proof(
        &a.sign_with_header(&header(&a), &claims()),
        &config,
        &request(),
        &mut replay,
        now(),
    )
    .unwrap();
    verify_proof(
        &b.sign_with_header(&header(&b), &claims()),
        &config,
        &request(),
        &mut replay,
        now(),
    )
    .unwrap();
}

#[test]
fn oversized_proof_is_refused() {
    refused_because(
        &proof(&with_claim("pad", json!("x".repeat(9000)))),
        "exceeds the limit",
    );
}

fn cnf(jkt: &str) -> Map<String, Value> {
    json!({"sub": "alice", "cnf": {"jkt": jkt}})
        .as_object()
        .unwrap()
        .clone()
}

#[test]
fn binding_with_matching_jkt_is_accepted() {
    let verified = check(&proof(&claims())).unwrap();
    check_binding(&cnf(verified.jkt()), Some(&verified)).unwrap();
}

#[test]
fn binding_with_other_jkt_is_refused() {
    let verified = check(&proof(&claims())).unwrap();
    let err = check_binding(&cnf(RFC_JKT), Some(&verified)).unwrap_err();
    assert_eq!(err.code(), "invalid_token");
    assert!(err.to_string().contains("is not the thumbprint"), "{err}");
}

#[test]
fn bound_token_presented_as_bearer_is_refused() {
    let err = check_binding(&cnf(RFC_JKT), None).unwrap_err();
    assert!(
        err.to_string().contains("presented as a bearer token"),
        "{err}"
    );
}

#[test]
fn unbound_token_presented_with_dpop_is_refused() {
    let verified = check(&proof(&claims())).unwrap();
    let claims = json!({"sub": "alice"}).as_object().unwrap().clone();
    assert!(check_binding(&claims, Some(&verified)).is_err());
}

#[test]
fn unbound_bearer_token_is_accepted() {
    let claims = json!({"sub": "alice"}).as_object().unwrap().clone();
    check_binding(&claims, None).unwrap();
}

fn parts(headers: &[(&str, &str)]) -> http::request::Parts {
    let mut b = http::Request::get("/orders");
    for (k, v) in headers {
        b = b.header(*k, *v);
    }
    b.body(()).unwrap().into_parts().0
}

#[test]
fn extract_without_dpop_is_none() {
    assert!(
        dpop::extract(&parts(&[("authorization", "Bearer abc")]))
            .unwrap()
            .is_none()
    );
}

#[test]
fn extract_dpop_scheme_without_proof_is_malformed() {
    let err = dpop::extract(&parts(&[("authorization", "DPoP abc")])).unwrap_err();
    assert_eq!(err.code(), "invalid_request");
    assert_eq!(err.status(), http::StatusCode::BAD_REQUEST);
}

#[test]
fn extract_proof_beside_bearer_is_malformed() {
    let err = dpop::extract(&parts(&[
        ("authorization", "Bearer abc"),
        ("dpop", "x.y.z"),
    ]))
    .unwrap_err();
    assert_eq!(err.code(), "invalid_request");
}

#[test]
fn extract_token_presented_both_ways_is_malformed() {
    let err = dpop::extract(&parts(&[
        ("authorization", "DPoP abc"),
        ("authorization", "Bearer abc"),
        ("dpop", "x.y.z"),
    ]))
    .unwrap_err();
    assert_eq!(err.code(), "invalid_request");
}

#[test]
fn extract_two_proofs_is_malformed() {
    let err = dpop::extract(&parts(&[
        ("authorization", "DPoP abc"),
        ("dpop", "x.y.z"),
        ("dpop", "x.y.z"),
    ]))
    .unwrap_err();
    assert!(
        err.to_string().contains("more than one `DPoP` header"),
        "{err}"
    );
}

#[test]
fn challenge_names_error_and_algs() {
    let err = DpopError::InvalidProof { reason: "x".into() };
    let config = DpopConfig::default();
    assert_eq!(
        err.challenge(&config.algorithms),
        "DPoP error=\"invalid_dpop_proof\", error_description=\"invalid dpop proof\", algs=\"ES256 ES384 EdDSA PS256 RS256\""
    );
    assert_eq!(
        config.challenge(),
        "DPoP algs=\"ES256 ES384 EdDSA PS256 RS256\""
    );
}

#[test]
fn proof_leeway_is_configurable() {
    let key = Key::new("k");
    let proof = key.sign_with_header(
        &header(&key),
        &with_claim("iat", json!(1_800_000_000 - 200)),
    );
    let config = DpopConfig::default().with_max_age(Duration::seconds(300));
    verify_proof(&proof, &config, &request(), &mut guard(), now()).unwrap();
}

#[test]
fn duplicate_claim_is_refused() {
    let key = Key::new("k");
    let header = serde_json::to_string(&header(&key)).unwrap();
    let claims = format!(
        r#"{{"jti":"a","htm":"POST","htm":"GET","htu":"{HTU}","iat":1800000000,"ath":"{}"}}"#,
        access_token_hash(TOKEN)
    );
    refused_because(&key.sign_raw(&header, &claims), "duplicate");
}

// ---- The Gate with DPoP on.

mod gate {
    use super::*;
    use crate::support::gate::{AUD, ISS, access_claims, check_fetching_keys, request_parts};
    use edge_auth::dpop::GateDpop;
    use edge_auth::gate::{Gate, GateConfig, IssuerConfig, Outcome};
    use edge_auth::policy::RequestFacts;
    use http::StatusCode;

    const API: &str = "https://api.example.com/orders";

    fn gate(sender_constrained: bool) -> Gate {
        let issuer = IssuerConfig::new(ISS, [AUD])
            .with_jwks_uri(format!("{ISS}/jwks"))
            .with_sender_constrained(sender_constrained);
        Gate::new(GateConfig::new([issuer]).with_dpop(GateDpop::new(1000))).unwrap()
    }

    fn access_token(idp: &Key, jkt: Option<&str>) -> String {
        let cnf = jkt.map(|jkt| json!({"jkt": jkt}));
        idp.sign(&access_claims("alice", 1_800_000_000, 1_800_003_600, cnf))
    }

    fn proof_for(client: &Key, token: &str, jti: &str) -> String {
        client.sign_with_header(
            &header(client),
            &json!({
                "jti": jti, "htm": "GET", "htu": API, "iat": 1_800_000_000,
                "ath": access_token_hash(token),
            }),
        )
    }

    fn jkt(client: &Key) -> String {
        dpop::thumbprint(public_jwk(client).as_object().unwrap()).unwrap()
    }

    fn run(gate: &Gate, idp: &Key, headers: &[(&str, &str)]) -> Outcome {
        run_path(gate, idp, "/orders", headers)
    }

    fn denied(outcome: Outcome) -> edge_auth::response::Rejection {
        match outcome {
            Outcome::Deny(r) => r,
            other => panic!("expected a denial, got {other:?}"),
        }
    }

    #[test]
    fn gate_accepts_bound_token_with_proof() {
        let (idp, client) = (Key::new("idp"), Key::new("client"));
        let token = access_token(&idp, Some(&jkt(&client)));
        let proof = proof_for(&client, &token, "p1");
        let outcome = run(
            &gate(false),
            &idp,
            &[
                ("authorization", &format!("DPoP {token}")),
                ("dpop", &proof),
            ],
        );
        assert!(matches!(outcome, Outcome::Allow { .. }), "{outcome:?}");
    }

    #[test]
    fn gate_refuses_bound_token_as_bearer() {
        let (idp, client) = (Key::new("idp"), Key::new("client"));
        let token = access_token(&idp, Some(&jkt(&client)));
        let r = denied(run(
            &gate(false),
            &idp,
            &[("authorization", &format!("Bearer {token}"))],
        ));
        assert_eq!(r.status(), StatusCode::UNAUTHORIZED);
        let challenge = r.challenge().unwrap();
        assert!(challenge.starts_with("DPoP "), "{challenge}");
        assert!(challenge.contains("error=\"invalid_token\""), "{challenge}");
        assert!(r.reason().unwrap().contains("presented as a bearer token"));
    }

    #[test]
    fn gate_refuses_proof_of_another_key() {
        let (idp, client, thief) = (Key::new("idp"), Key::new("client"), Key::new("thief"));
        let token = access_token(&idp, Some(&jkt(&client)));
        let proof = proof_for(&thief, &token, "p1");
        let r = denied(run(
            &gate(false),
            &idp,
            &[
                ("authorization", &format!("DPoP {token}")),
                ("dpop", &proof),
            ],
        ));
        assert!(
            r.reason().unwrap().contains("is not the thumbprint"),
            "{:?}",
            r.reason()
        );
    }

    #[test]
    fn gate_refuses_replayed_proof() {
        let (idp, client) = (Key::new("idp"), Key::new("client"));
        let gate = gate(false);
        let token = access_token(&idp, Some(&jkt(&client)));
        let proof = proof_for(&client, &token, "p1");
        let headers = [("authorization", format!("DPoP {token}")), ("dpop", proof)];
        let headers: Vec<(&str, &str)> = headers.iter().map(|(k, v)| (*k, v.as_str())).collect();
        assert!(matches!(run(&gate, &idp, &headers), Outcome::Allow { .. }));
        let r = denied(run(&gate, &idp, &headers));
        let challenge = r.challenge().unwrap();
        assert!(
            challenge.contains("error=\"invalid_dpop_proof\""),
            "{challenge}"
        );
        assert!(
            challenge.contains("algs=\"ES256 ES384 EdDSA PS256 RS256\""),
            "{challenge}"
        );
    }

    #[test]
    fn gate_sender_constrained_issuer_refuses_bearer() {
        let idp = Key::new("idp");
        let token = access_token(&idp, None);
        let r = denied(run(
            &gate(true),
            &idp,
            &[("authorization", &format!("Bearer {token}"))],
        ));
        assert!(
            r.reason().unwrap().contains("requires sender-constrained"),
            "{:?}",
            r.reason()
        );
        // Without the requirement the same unbound bearer token passes.
        let ok = run(
            &gate(false),
            &idp,
            &[("authorization", &format!("Bearer {token}"))],
        );
        assert!(matches!(ok, Outcome::Allow { .. }), "{ok:?}");
    }

    #[test]
    fn gate_sender_constrained_without_dpop_is_a_config_error() {
        let issuer = IssuerConfig::new(ISS, [AUD])
            .with_jwks_uri(format!("{ISS}/jwks"))
            .with_sender_constrained(true);
        assert!(Gate::new(GateConfig::new([issuer])).is_err());
    }

    // ---- A policy rule that requires sender-constrained tokens per route.

    const ROUTES: &str = r#"{"rules":[
      {"id":"orders","match":{"paths":["/orders"]},
       "require":{"sender_constrained":true},"effect":"allow"},
      {"id":"reports","match":{"paths":["/reports"]},"effect":"allow"}]}"#;

    fn route_gate() -> Gate {
        let policy = edge_auth::policy::Policy::from_json(ROUTES)
            .unwrap()
            .compile()
            .unwrap();
        let issuer = IssuerConfig::new(ISS, [AUD]).with_jwks_uri(format!("{ISS}/jwks"));
        Gate::new(
            GateConfig::new([issuer])
                .with_policy(policy)
                .with_dpop(GateDpop::new(1000)),
        )
        .unwrap()
    }

    fn run_path(gate: &Gate, idp: &Key, path: &str, headers: &[(&str, &str)]) -> Outcome {
        let parts = request_parts("GET", "api.example.com", path, headers);
        let facts = RequestFacts::from_parts(&parts);
        check_fetching_keys(gate, &parts, &facts, &idp.jwks(), now())
    }

    #[test]
    fn route_sender_constrained_accepts_dpop_bound_token() {
        let (idp, client) = (Key::new("idp"), Key::new("client"));
        let token = access_token(&idp, Some(&jkt(&client)));
        let proof = proof_for(&client, &token, "p1");
        let outcome = run_path(
            &route_gate(),
            &idp,
            "/orders",
            &[
                ("authorization", &format!("DPoP {token}")),
                ("dpop", &proof),
            ],
        );
        match outcome {
            Outcome::Allow {
                principal,
                decision,
            } => {
                assert!(principal.unwrap().sender_constrained);
                assert_eq!(decision.rule_id.as_deref(), Some("orders"));
            }
            other => panic!("expected allow, got {other:?}"),
        }
    }

    #[test]
    fn route_sender_constrained_refuses_bearer_token() {
        let idp = Key::new("idp");
        let token = access_token(&idp, None);
        let r = denied(run_path(
            &route_gate(),
            &idp,
            "/orders",
            &[("authorization", &format!("Bearer {token}"))],
        ));
        assert_eq!(r.status(), StatusCode::UNAUTHORIZED);
        assert_eq!(
            r.challenge().unwrap(),
            "DPoP realm=\"edge-auth\", error=\"invalid_token\", \
             error_description=\"this resource requires a dpop-bound access token\", \
             algs=\"ES256 ES384 EdDSA PS256 RS256\""
        );
        assert_eq!(r.rule(), None);
        let response = r.to_response();
        assert!(
            response.headers()["www-authenticate"]
                .to_str()
                .unwrap()
                .starts_with("DPoP ")
        );
    }

    #[test]
    fn route_sender_constrained_without_token_gets_dpop_challenge() {
        let idp = Key::new("idp");
        let r = denied(run_path(&route_gate(), &idp, "/orders", &[]));
        assert_eq!(r.status(), StatusCode::UNAUTHORIZED);
        assert_eq!(
            r.challenge().unwrap(),
            "DPoP realm=\"edge-auth\", algs=\"ES256 ES384 EdDSA PS256 RS256\""
        );
    }

    #[test]
    fn route_without_requirement_accepts_bearer_token() {
        let idp = Key::new("idp");
        let token = access_token(&idp, None);
        let outcome = run_path(
            &route_gate(),
            &idp,
            "/reports",
            &[("authorization", &format!("Bearer {token}"))],
        );
        match outcome {
            Outcome::Allow { principal, .. } => assert!(!principal.unwrap().sender_constrained),
            other => panic!("expected allow, got {other:?}"),
        }
        // And a request without a token there gets the Bearer challenge.
        let r = denied(run_path(&route_gate(), &idp, "/reports", &[]));
        assert!(r.challenge().unwrap().starts_with("Bearer "));
    }

    #[test]
    fn route_sender_constrained_without_dpop_is_a_config_error() {
        let policy = edge_auth::policy::Policy::from_json(ROUTES)
            .unwrap()
            .compile()
            .unwrap();
        let issuer = IssuerConfig::new(ISS, [AUD]).with_jwks_uri(format!("{ISS}/jwks"));
        let err = Gate::new(GateConfig::new([issuer]).with_policy(policy)).unwrap_err();
        assert!(
            err.to_string()
                .contains("policy rule `orders` requires sender-constrained tokens"),
            "{err}"
        );
    }

    #[test]
    fn gate_dpop_without_proof_is_400() {
        let idp = Key::new("idp");
        let r = denied(run(&gate(false), &idp, &[("authorization", "DPoP abc")]));
        assert_eq!(r.status(), StatusCode::BAD_REQUEST);
    }
}

// ---- Proofs made by joserfc (tests/interop/dpop/).

fn interop_case(name: &str) {
    let path = concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/tests/interop/dpop/joserfc.json"
    );
    let doc: Value = serde_json::from_str(&std::fs::read_to_string(path).unwrap()).unwrap();
    let case = doc["cases"]
        .as_array()
        .unwrap()
        .iter()
        .find(|c| c["name"] == name)
        .unwrap_or_else(|| panic!("no case `{name}`"));
    let method = http::Method::from_bytes(doc["htm"].as_str().unwrap().as_bytes()).unwrap();
    let req = ProofRequest::new(&method, doc["htu"].as_str().unwrap())
        .with_access_token(doc["access_token"].as_str().unwrap());
    let now = at(doc["now"].as_i64().unwrap());
    let result = verify_proof(
        case["proof"].as_str().unwrap(),
        &DpopConfig::default(),
        &req,
        &mut guard(),
        now,
    );
    match case["expect"].as_str().unwrap() {
        "valid" => assert_eq!(result.unwrap().jkt(), case["jkt"].as_str().unwrap()),
        _ => {
            let err = result.unwrap_err();
            let reason = case["reason"].as_str().unwrap();
            assert!(
                err.to_string().contains(reason),
                "`{err}` should say `{reason}`"
            );
        }
    }
}

macro_rules! interop {
    ($($test:ident => $case:literal,)*) => {
        $(#[test] fn $test() { interop_case($case); })*
    };
}

interop! {
    interop_joserfc_es256_valid => "es256_valid",
    interop_joserfc_es384_valid => "es384_valid",
    interop_joserfc_eddsa_valid => "eddsa_valid",
    interop_joserfc_ps256_valid => "ps256_valid",
    interop_joserfc_rs256_valid => "rs256_valid",
    interop_joserfc_es256_wrong_htm => "es256_wrong_htm",
    interop_joserfc_es256_wrong_htu => "es256_wrong_htu",
    interop_joserfc_es256_htu_with_query_valid => "es256_htu_with_query_valid",
    interop_joserfc_es256_no_ath => "es256_no_ath",
    interop_joserfc_es256_typ_jwt => "es256_typ_jwt",
    interop_joserfc_es256_private_jwk => "es256_private_jwk",
    interop_joserfc_es256_old_iat => "es256_old_iat",
    interop_joserfc_es256_future_iat => "es256_future_iat",
}
