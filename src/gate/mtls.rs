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
        let (cert, header_error) = match self.client_cert(parts, facts) {
            Ok(cert) => (cert, None),
            Err(e) => (None, Some(e)),
        };
        let refuse = |description: &'static str, reason: String| {
            Box::new(
                Rejection::certificate_bound(description, reason)
                    .with_issuer(issuer.config.issuer.as_str()),
            )
        };
        match check_binding(claims, cert.as_ref()) {
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

    /// The driver's certificate fact, else the trusted header's.
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
        #[cfg(not(feature = "httpsig"))]
        let _ = parts;
        Ok(None)
    }
}
