//! Certificate-bound access tokens in the gate (RFC 8705 §3): the token's
//! `cnf.x5t#S256` against the client certificate the driver reports (or,
//! when the operator trusts one, the RFC 9440 header of the proxy in front).

use http::request::Parts;
use serde_json::{Map, Value};

use super::{Gate, Issuer};
use crate::mtls::{ClientCert, MtlsError, check_binding};
use crate::policy::RequestFacts;
use crate::response::Rejection;

impl Gate {
    /// The request header trusted for the client certificate
    /// ([`GateConfig::with_client_cert_header`](super::GateConfig::with_client_cert_header)),
    /// which a driver removes before forwarding the request.
    #[cfg(feature = "httpsig")]
    pub fn client_cert_header(&self) -> Option<&http::HeaderName> {
        self.client_cert_header.as_ref()
    }

    /// Checks the certificate binding of `issuer`'s verified `claims`;
    /// `Ok(true)` when the token is certificate-bound (and matched).
    pub(super) fn check_certificate(
        &self,
        issuer: &Issuer,
        claims: &Map<String, Value>,
        parts: &Parts,
        facts: &RequestFacts<'_>,
    ) -> Result<bool, Box<Rejection>> {
        // The certificate is looked up only when the token is bound to one
        // (or its `cnf` is malformed): without `cnf.x5t#S256` the answer
        // does not depend on it, and a driver's lookup may cost on every
        // request (the Worker's `cf.tlsClientAuth`).
        let (binding, header_error) = match check_binding(claims, None) {
            Ok(bound) => (Ok(bound), None),
            Err(_) => match self.client_cert(parts, facts) {
                Ok(cert) => (check_binding(claims, cert.as_ref()), None),
                Err(e) => (check_binding(claims, None), Some(e)),
            },
        };
        let refuse = |description: &'static str, reason: String| {
            Box::new(
                Rejection::certificate_bound(description, reason)
                    .with_issuer(issuer.config.issuer.as_str()),
            )
        };
        match binding {
            Ok(false) if issuer.config.certificate_bound => Err(refuse(
                "the issuer requires a certificate-bound token",
                format!(
                    "issuer `{}` requires certificate-bound tokens; the token has no `cnf.x5t#S256`",
                    issuer.config.issuer
                ),
            )),
            Ok(bound) => Ok(bound),
            Err(e) => {
                let reason = match header_error {
                    Some(h) => format!("{e} ({h})"),
                    None => e.to_string(),
                };
                Err(refuse(
                    "the certificate-bound token does not match the client certificate",
                    reason,
                ))
            }
        }
    }

    /// The driver's certificate fact, else its lazy source's
    /// ([`CertSource`](crate::mtls::CertSource)), else the trusted
    /// header's.
    #[cfg_attr(
        not(feature = "httpsig"),
        allow(clippy::unnecessary_wraps, reason = "the header needs httpsig")
    )]
    fn client_cert(
        &self,
        parts: &Parts,
        facts: &RequestFacts<'_>,
    ) -> Result<Option<ClientCert>, MtlsError> {
        if let Some(cert) = facts.client_cert() {
            return Ok(Some(*cert));
        }
        // A driver's lazy lookup (the Worker's `cf.tlsClientAuth`); a
        // client cannot set extensions.
        if let Some(cert) = parts
            .extensions
            .get::<crate::mtls::CertSource>()
            .and_then(crate::mtls::CertSource::get)
        {
            return Ok(Some(cert));
        }
        #[cfg(feature = "httpsig")]
        if let Some(name) = &self.client_cert_header {
            let mut values = parts.headers.get_all(name).iter();
            return match (values.next(), values.next()) {
                (None, _) => Ok(None),
                (Some(value), None) => ClientCert::from_client_cert_field(value).map(Some),
                // RFC 9440 §2.2: a singleton field.
                (Some(_), Some(_)) => Err(MtlsError::MalformedHeader {
                    reason: format!("`{name}` appears more than once"),
                }),
            };
        }
        Ok(None)
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::panic, reason = "tests")]
mod tests {
    use std::sync::Arc;
    use std::sync::atomic::{AtomicUsize, Ordering};

    use base64::Engine as _;
    use base64::engine::general_purpose::URL_SAFE_NO_PAD;
    use http::request::Parts;
    use http::{HeaderMap, StatusCode};
    use ring::rand::SystemRandom;
    use serde_json::{Value, json};
    use time::OffsetDateTime;

    use crate::crypto::SigningKey;
    use crate::gate::{Gate, GateConfig, IssuerConfig, Outcome};
    use crate::jose::Algorithm;
    use crate::mtls::{CertSource, ClientCert};
    use crate::policy::RequestFacts;

    const ISS: &str = "https://idp.example.com";
    const AUD: &str = "api://orders";

    fn now() -> OffsetDateTime {
        OffsetDateTime::from_unix_timestamp(1_800_000_000).unwrap()
    }

    fn token(key: &SigningKey, cnf: Option<Value>) -> String {
        let header = json!({"alg": "ES256", "typ": "JWT", "kid": key.kid()});
        let mut claims = json!({"iss": ISS, "aud": AUD, "sub": "svc",
            "iat": 1_800_000_000, "exp": 1_800_003_600});
        if let Some(cnf) = cnf {
            claims["cnf"] = cnf;
        }
        let input = format!(
            "{}.{}",
            URL_SAFE_NO_PAD.encode(header.to_string()),
            URL_SAFE_NO_PAD.encode(claims.to_string())
        );
        let signature = key.sign(input.as_bytes(), &SystemRandom::new()).unwrap();
        format!("{input}.{}", URL_SAFE_NO_PAD.encode(signature))
    }

    /// The parts of a request with `token`, whose certificate comes from a
    /// lazy source that counts its reads.
    fn parts(token: &str, cert: Option<ClientCert>, reads: &Arc<AtomicUsize>) -> Parts {
        let reads = Arc::clone(reads);
        let (mut parts, ()) = http::Request::get("/orders")
            .header("authorization", format!("Bearer {token}"))
            .body(())
            .unwrap()
            .into_parts();
        parts.extensions.insert(CertSource::new(move || {
            reads.fetch_add(1, Ordering::SeqCst);
            cert
        }));
        parts
    }

    /// Checks `parts`, answering the key fetch with `key`'s set.
    fn check(gate: &Gate, key: &SigningKey, parts: &Parts) -> Outcome {
        let facts = RequestFacts::from_parts(parts);
        match gate.check(parts, &facts, now()) {
            Outcome::FetchKeys(plan) => {
                let jwks = json!({"keys": [key.public_jwk()]}).to_string();
                gate.apply_fetch_response(
                    &plan,
                    StatusCode::OK,
                    &HeaderMap::new(),
                    jwks.as_bytes(),
                    now(),
                )
                .unwrap();
                gate.check(parts, &facts, now())
            }
            other => other,
        }
    }

    fn setup(certificate_bound: bool) -> (Gate, SigningKey) {
        let key = SigningKey::generate(Algorithm::ES256, &SystemRandom::new()).unwrap();
        let issuer = IssuerConfig::new(ISS, [AUD])
            .with_jwks_uri(format!("{ISS}/jwks"))
            .with_certificate_bound(certificate_bound);
        (Gate::new(GateConfig::new([issuer])).unwrap(), key)
    }

    fn status(outcome: &Outcome) -> u16 {
        match outcome {
            Outcome::Allow { .. } => 200,
            Outcome::Deny(r) => r.status().as_u16(),
            other => panic!("{other:?}"),
        }
    }

    #[test]
    fn an_unbound_token_never_reads_the_client_certificate() {
        let (gate, key) = setup(false);
        let reads = Arc::new(AtomicUsize::new(0));
        let cert = ClientCert::from_der(b"certificate");
        let outcome = check(&gate, &key, &parts(&token(&key, None), Some(cert), &reads));
        assert_eq!(status(&outcome), 200, "{outcome:?}");
        assert_eq!(reads.load(Ordering::SeqCst), 0);
    }

    #[test]
    fn a_certificate_bound_issuer_refuses_an_unbound_token_without_reading_the_certificate() {
        let (gate, key) = setup(true);
        let reads = Arc::new(AtomicUsize::new(0));
        let cert = ClientCert::from_der(b"certificate");
        let outcome = check(&gate, &key, &parts(&token(&key, None), Some(cert), &reads));
        assert_eq!(status(&outcome), 401, "{outcome:?}");
        assert_eq!(reads.load(Ordering::SeqCst), 0);
    }

    #[test]
    fn a_bound_token_reads_the_client_certificate_once() {
        for certificate_bound in [false, true] {
            let (gate, key) = setup(certificate_bound);
            let cert = ClientCert::from_der(b"certificate");
            let bound = token(&key, Some(json!({"x5t#S256": cert.thumbprint()})));
            let reads = Arc::new(AtomicUsize::new(0));
            let outcome = check(&gate, &key, &parts(&bound, Some(cert), &reads));
            assert_eq!(status(&outcome), 200, "{outcome:?}");
            assert_eq!(reads.load(Ordering::SeqCst), 1);
            // No certificate, or another one: refused, read once too.
            for other in [None, Some(ClientCert::from_der(b"another"))] {
                let reads = Arc::new(AtomicUsize::new(0));
                let outcome = check(&gate, &key, &parts(&bound, other, &reads));
                assert_eq!(status(&outcome), 401, "{outcome:?}");
                assert_eq!(reads.load(Ordering::SeqCst), 1);
            }
        }
    }

    #[test]
    fn a_malformed_cnf_is_refused_as_before() {
        let (gate, key) = setup(false);
        let reads = Arc::new(AtomicUsize::new(0));
        let bad = token(&key, Some(json!({"x5t#S256": 7})));
        let outcome = check(&gate, &key, &parts(&bad, None, &reads));
        let Outcome::Deny(rejection) = &outcome else {
            panic!("{outcome:?}");
        };
        assert_eq!(rejection.status().as_u16(), 401);
        assert!(
            rejection
                .reason()
                .is_some_and(|r| r.contains("`cnf.x5t#S256` is not a string")),
            "{rejection:?}"
        );
    }
}
