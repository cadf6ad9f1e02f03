//! Certificate-bound access tokens (RFC 8705 §3) at the Gate: the token's
//! `cnf.x5t#S256` against the client certificate the driver reports, the
//! RFC 9440 `Client-Cert` header only when trusted, and DPoP alongside.

use edge_auth::dpop::{self, GateDpop, access_token_hash};
use edge_auth::gate::{Gate, GateConfig, IssuerConfig, Outcome, TokenCacheConfig};
use edge_auth::mtls::{ClientCert, MtlsError, check_binding};
use edge_auth::policy::RequestFacts;
use edge_auth::response::Rejection;
use http::{HeaderName, HeaderValue, StatusCode};
use serde_json::{Value, json};
use time::OffsetDateTime;

use crate::support::es256::Key;
use crate::support::gate::{AUD, ISS, access_claims, check_fetching_keys, request_parts};

/// RFC 9440 appendix A (the same certificate as RFC 9421 §B.3): the
/// `Client-Cert` field a TLS-terminating proxy sends.
const RFC9440_CLIENT_CERT: &str = concat!(
    ":MIIBqDCCAU6gAwIBAgIBBzAKBggqhkjOPQQDAjA6MRswGQYDVQQKDBJMZXQncyBBdXRoZW50aW",
    "NhdGUxGzAZBgNVBAMMEkxBIEludGVybWVkaWF0ZSBDQTAeFw0yMDAxMTQyMjU1MzNaFw0yMTAxMj",
    "MyMjU1MzNaMA0xCzAJBgNVBAMMAkJDMFkwEwYHKoZIzj0CAQYIKoZIzj0DAQcDQgAE8YnXXfaUgm",
    "nMtOXU/IncWalRhebrXmckC8vdgJ1p5Be5F/3YC8OthxM4+k1M6aEAEFcGzkJiNy6J84y7uzo9M6",
    "NyMHAwCQYDVR0TBAIwADAfBgNVHSMEGDAWgBRm3WjLa38lbEYCuiCPct0ZaSED2DAOBgNVHQ8BAf",
    "8EBAMCBsAwEwYDVR0lBAwwCgYIKwYBBQUHAwIwHQYDVR0RAQH/BBMwEYEPYmRjQGV4YW1wbGUuY2",
    "9tMAoGCCqGSM49BAMCA0gAMEUCIBHda/r1vaL6G3VliL4/Di6YK0Q6bMjeSkC3dFCOOB8TAiEAx/",
    "kHSB4urmiZ0NX5r5XarmPk0wmuydBVoU4hBVZ1yhk=:"
);
/// Its `x5t#S256`, computed outside this crate (Python: base64url of
/// `hashlib.sha256(der)`, no padding).
const RFC9440_X5T: &str = "v68ffgcPn6jdYpBfFY2nP4ShE2Yk-6_Mk5PI9yh6aes";
/// Its SHA-256 in hex (`hashlib.sha256(der).hexdigest()`).
const RFC9440_SHA256_HEX: &str = "bfaf1f7e070f9fa8dd62905f158da73f84a1136624fbafcc9393c8f7287a69eb";

fn now() -> OffsetDateTime {
    OffsetDateTime::from_unix_timestamp(1_800_000_000).unwrap()
}

fn issuer() -> IssuerConfig {
    IssuerConfig::new(ISS, [AUD]).with_jwks_uri(format!("{ISS}/jwks"))
}

fn gate() -> Gate {
    Gate::new(GateConfig::new([issuer()])).unwrap()
}

fn claims(cnf: Option<Value>) -> Value {
    access_claims("svc", 1_800_000_000, 1_800_003_600, cnf)
}

fn bound_token(idp: &Key, cert: &ClientCert) -> String {
    idp.sign(&claims(Some(json!({"x5t#S256": cert.thumbprint()}))))
}

fn cert(name: &str) -> ClientCert {
    ClientCert::from_der(format!("certificate of {name}").as_bytes())
}

/// Checks a request with these headers and client certificate, feeding the
/// IdP's keys when the gate asks for them.
fn run(gate: &Gate, idp: &Key, headers: &[(&str, &str)], cert: Option<ClientCert>) -> Outcome {
    let parts = request_parts("GET", "api.example.com", "/orders", headers);
    let mut facts = RequestFacts::from_parts(&parts);
    if let Some(cert) = cert {
        facts = facts.with_client_cert(cert);
    }
    check_fetching_keys(gate, &parts, &facts, &idp.jwks(), now())
}

fn bearer(token: &str) -> String {
    format!("Bearer {token}")
}

fn allowed(outcome: &Outcome) {
    assert!(matches!(outcome, Outcome::Allow { .. }), "{outcome:?}");
}

/// A 401 `invalid_token` whose wire description says "certificate-bound
/// token" and names no thumbprint; its audit reason contains `reason`.
fn refused_binding(outcome: Outcome, reason: &str, thumbprints: &[&str]) -> Rejection {
    let Outcome::Deny(r) = outcome else {
        panic!("expected a denial, got {outcome:?}")
    };
    assert_eq!(r.status(), StatusCode::UNAUTHORIZED);
    let challenge = r.challenge().unwrap();
    assert!(challenge.contains("error=\"invalid_token\""), "{challenge}");
    assert!(challenge.contains("certificate-bound token"), "{challenge}");
    let response = r.to_response();
    let on_wire = format!("{:?}", response.headers());
    for t in thumbprints {
        assert!(!on_wire.contains(t), "{on_wire} leaks {t}");
        assert!(
            !r.reason().unwrap_or_default().contains(t),
            "reason leaks {t}"
        );
    }
    assert!(
        r.reason().unwrap_or_default().contains(reason),
        "{:?} should say {reason}",
        r.reason()
    );
    r
}

#[test]
fn bound_token_with_its_certificate_is_allowed() {
    let (idp, alice) = (Key::new("idp"), cert("alice"));
    let token = bound_token(&idp, &alice);
    allowed(&run(
        &gate(),
        &idp,
        &[("authorization", &bearer(&token))],
        Some(alice),
    ));
}

#[test]
fn bound_token_with_another_certificate_is_refused() {
    let (idp, alice, mallory) = (Key::new("idp"), cert("alice"), cert("mallory"));
    let token = bound_token(&idp, &alice);
    refused_binding(
        run(
            &gate(),
            &idp,
            &[("authorization", &bearer(&token))],
            Some(mallory),
        ),
        "not the thumbprint of the client certificate",
        &[&alice.thumbprint(), &mallory.thumbprint()],
    );
}

#[test]
fn bound_token_without_certificate_is_refused() {
    let (idp, alice) = (Key::new("idp"), cert("alice"));
    let token = bound_token(&idp, &alice);
    refused_binding(
        run(&gate(), &idp, &[("authorization", &bearer(&token))], None),
        "no client certificate",
        &[&alice.thumbprint()],
    );
}

#[test]
fn malformed_cnf_member_is_refused() {
    let (idp, alice) = (Key::new("idp"), cert("alice"));
    let padded = format!("{}=", alice.thumbprint());
    let short = alice.thumbprint()[..20].to_owned();
    let cases = [
        (json!({"x5t#S256": 7}), "is not a string"),
        (json!({"x5t#S256": padded}), "not a base64url sha-256"),
        (json!({"x5t#S256": short}), "not a base64url sha-256"),
        (
            json!({"x5t#S256": "not base64url!"}),
            "not a base64url sha-256",
        ),
        (json!("x5t#S256"), "`cnf` is not an object"),
    ];
    for (cnf, reason) in cases {
        let token = idp.sign(&claims(Some(cnf.clone())));
        let outcome = run(
            &gate(),
            &idp,
            &[("authorization", &bearer(&token))],
            Some(alice),
        );
        refused_binding(outcome, reason, &[]);
    }
}

#[test]
fn unbound_token_passes_with_or_without_certificate() {
    let idp = Key::new("idp");
    let token = idp.sign(&claims(None));
    let gate = gate();
    allowed(&run(
        &gate,
        &idp,
        &[("authorization", &bearer(&token))],
        None,
    ));
    allowed(&run(
        &gate,
        &idp,
        &[("authorization", &bearer(&token))],
        Some(cert("alice")),
    ));
    // A `cnf` with another confirmation method only is no certificate binding.
    let jkt_only = idp.sign(&claims(Some(json!({"jkt": "abc"}))));
    allowed(&run(
        &gate,
        &idp,
        &[("authorization", &bearer(&jkt_only))],
        None,
    ));
}

#[test]
fn issuer_requiring_binding_refuses_unbound_token() {
    let (idp, alice) = (Key::new("idp"), cert("alice"));
    let gate = Gate::new(GateConfig::new([issuer().with_certificate_bound(true)])).unwrap();
    let Outcome::Deny(r) = run(
        &gate,
        &idp,
        &[("authorization", &bearer(&idp.sign(&claims(None))))],
        Some(alice),
    ) else {
        panic!("an unbound token passed")
    };
    assert_eq!(r.status(), StatusCode::UNAUTHORIZED);
    assert!(r.challenge().unwrap().contains("certificate-bound token"));
    assert!(
        r.reason()
            .unwrap()
            .contains("requires certificate-bound tokens")
    );
    // A bound token with its certificate still passes.
    let token = bound_token(&idp, &alice);
    allowed(&run(
        &gate,
        &idp,
        &[("authorization", &bearer(&token))],
        Some(alice),
    ));
}

#[test]
fn client_cert_header_not_trusted_by_default() {
    let idp = Key::new("idp");
    let token = idp.sign(&claims(Some(json!({"x5t#S256": RFC9440_X5T}))));
    refused_binding(
        run(
            &gate(),
            &idp,
            &[
                ("authorization", &bearer(&token)),
                ("client-cert", RFC9440_CLIENT_CERT),
            ],
            None,
        ),
        "no client certificate",
        &[RFC9440_X5T],
    );
}

#[test]
fn trusted_client_cert_header_rfc9440_example_is_parsed() {
    let value = HeaderValue::from_static(RFC9440_CLIENT_CERT);
    let cert = ClientCert::from_client_cert_field(&value).unwrap();
    assert_eq!(cert.thumbprint(), RFC9440_X5T);
    assert_eq!(
        cert,
        ClientCert::from_sha256_hex(RFC9440_SHA256_HEX).unwrap()
    );

    let idp = Key::new("idp");
    let token = idp.sign(&claims(Some(json!({"x5t#S256": RFC9440_X5T}))));
    let gate = Gate::new(
        GateConfig::new([issuer()]).with_client_cert_header(HeaderName::from_static("client-cert")),
    )
    .unwrap();
    assert_eq!(gate.client_cert_header().unwrap(), "client-cert");
    allowed(&run(
        &gate,
        &idp,
        &[
            ("authorization", &bearer(&token)),
            ("client-cert", RFC9440_CLIENT_CERT),
        ],
        None,
    ));
    // Without the header, the same token is refused.
    refused_binding(
        run(&gate, &idp, &[("authorization", &bearer(&token))], None),
        "no client certificate",
        &[RFC9440_X5T],
    );
}

#[test]
fn trusted_client_cert_header_malformed_is_refused() {
    for bad in ["MIIBqDCC", ":not base64!:", "::", "\"a string\""] {
        assert!(
            matches!(
                ClientCert::from_client_cert_field(&HeaderValue::from_static(bad)),
                Err(MtlsError::MalformedHeader { .. })
            ),
            "{bad}"
        );
    }
    let idp = Key::new("idp");
    let token = idp.sign(&claims(Some(json!({"x5t#S256": RFC9440_X5T}))));
    let gate = Gate::new(
        GateConfig::new([issuer()]).with_client_cert_header(HeaderName::from_static("client-cert")),
    )
    .unwrap();
    refused_binding(
        run(
            &gate,
            &idp,
            &[
                ("authorization", &bearer(&token)),
                ("client-cert", ":not base64!:"),
            ],
            None,
        ),
        "malformed client certificate header",
        &[RFC9440_X5T],
    );
    // Twice: a singleton field (RFC 9440 §2.2).
    refused_binding(
        run(
            &gate,
            &idp,
            &[
                ("authorization", &bearer(&token)),
                ("client-cert", RFC9440_CLIENT_CERT),
                ("client-cert", RFC9440_CLIENT_CERT),
            ],
            None,
        ),
        "more than once",
        &[RFC9440_X5T],
    );
}

#[test]
fn token_cache_never_serves_a_bound_token() {
    let (idp, alice) = (Key::new("idp"), cert("alice"));
    let gate = Gate::new(GateConfig::new([issuer()]).with_token_cache(TokenCacheConfig::new(100)))
        .unwrap();
    let token = bound_token(&idp, &alice);
    let auth = [("authorization", bearer(&token))];
    let auth: Vec<(&str, &str)> = auth.iter().map(|(k, v)| (*k, v.as_str())).collect();
    allowed(&run(&gate, &idp, &auth, Some(alice)));
    allowed(&run(&gate, &idp, &auth, Some(alice)));
    refused_binding(run(&gate, &idp, &auth, None), "no client certificate", &[]);
    refused_binding(
        run(&gate, &idp, &auth, Some(cert("mallory"))),
        "not the thumbprint",
        &[],
    );
}

#[test]
fn check_binding_reports_whether_bound() {
    let alice = cert("alice");
    let bound = json!({"cnf": {"x5t#S256": alice.thumbprint()}});
    assert_eq!(
        check_binding(bound.as_object().unwrap(), Some(&alice)),
        Ok(true)
    );
    let unbound = json!({"sub": "svc"});
    assert_eq!(check_binding(unbound.as_object().unwrap(), None), Ok(false));
}

// ---- DPoP and certificate binding on one token: both must hold.

fn dpop_gate() -> Gate {
    Gate::new(GateConfig::new([issuer()]).with_dpop(GateDpop::new(100))).unwrap()
}

fn dpop_proof(client: &Key, token: &str, jti: &str) -> String {
    let jwk = client.jwk();
    let public = json!({"kty": "EC", "crv": "P-256", "x": jwk["x"], "y": jwk["y"]});
    client.sign_with_header(
        &json!({"typ": "dpop+jwt", "alg": "ES256", "jwk": public}),
        &json!({
            "jti": jti, "htm": "GET", "htu": "https://api.example.com/orders",
            "iat": 1_800_000_000, "ath": access_token_hash(token),
        }),
    )
}

fn jkt(client: &Key) -> String {
    let jwk = client.jwk();
    let public = json!({"kty": "EC", "crv": "P-256", "x": jwk["x"], "y": jwk["y"]});
    dpop::thumbprint(public.as_object().unwrap()).unwrap()
}

#[test]
fn dpop_and_x5t_both_must_hold() {
    let (idp, client, alice) = (Key::new("idp"), Key::new("client"), cert("alice"));
    let token = idp.sign(&claims(Some(
        json!({"jkt": jkt(&client), "x5t#S256": alice.thumbprint()}),
    )));
    let gate = dpop_gate();
    let dpop_auth = format!("DPoP {token}");
    // Both hold.
    let proof = dpop_proof(&client, &token, "p1");
    allowed(&run(
        &gate,
        &idp,
        &[("authorization", &dpop_auth), ("dpop", &proof)],
        Some(alice),
    ));
    // The proof holds, the certificate is missing or another.
    let proof = dpop_proof(&client, &token, "p2");
    refused_binding(
        run(
            &gate,
            &idp,
            &[("authorization", &dpop_auth), ("dpop", &proof)],
            None,
        ),
        "no client certificate",
        &[],
    );
    let proof = dpop_proof(&client, &token, "p3");
    refused_binding(
        run(
            &gate,
            &idp,
            &[("authorization", &dpop_auth), ("dpop", &proof)],
            Some(cert("mallory")),
        ),
        "not the thumbprint",
        &[],
    );
    // The certificate holds, the proof is of another key.
    let thief = Key::new("thief");
    let proof = dpop_proof(&thief, &token, "p4");
    let Outcome::Deny(r) = run(
        &gate,
        &idp,
        &[("authorization", &dpop_auth), ("dpop", &proof)],
        Some(alice),
    ) else {
        panic!("a proof of another key passed")
    };
    assert_eq!(r.status(), StatusCode::UNAUTHORIZED);
    // The certificate holds, the token comes as Bearer (DPoP downgrade).
    let Outcome::Deny(r) = run(
        &gate,
        &idp,
        &[("authorization", &bearer(&token))],
        Some(alice),
    ) else {
        panic!("a dpop-bound token passed as bearer")
    };
    assert!(r.reason().unwrap().contains("presented as a bearer token"));
}
