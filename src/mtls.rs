//! Certificate-bound access tokens (RFC 8705 §3): a token whose
//! `cnf.x5t#S256` names the SHA-256 thumbprint of a client certificate is
//! accepted only over a connection that presented that certificate.
//!
//! The certificate reaches the [`Gate`](crate::gate::Gate) as a fact the
//! driver sets ([`RequestFacts::with_client_cert`]), taken from the TLS
//! connection it terminated (the `hyper-server` driver's TLS acceptor; a
//! Worker's `request.cf.tlsClientAuth`), never from a request header unless
//! the operator names one as trusted
//! ([`GateConfig::with_client_cert_header`], RFC 9440 `Client-Cert` set by a
//! TLS-terminating proxy in front of the gate).
//!
//! The check is always on: a token carrying `cnf.x5t#S256` presented
//! without a certificate, or with another one, is refused (401
//! `invalid_token`). [`IssuerConfig::with_certificate_bound`] also refuses
//! that issuer's tokens without the binding.
//!
//! ```
//! use edge_auth::mtls::{ClientCert, check_binding};
//! use serde_json::json;
//!
//! // The DER certificate the TLS handshake presented (here: bytes for show).
//! let cert = ClientCert::from_der(b"the client certificate, DER");
//! let claims = json!({ "sub": "svc", "cnf": { "x5t#S256": cert.thumbprint() } });
//! let claims = claims.as_object().unwrap();
//!
//! assert_eq!(check_binding(claims, Some(&cert)), Ok(true));
//! // Another certificate, or none: refused.
//! let other = ClientCert::from_der(b"another certificate");
//! assert!(check_binding(claims, Some(&other)).is_err());
//! assert!(check_binding(claims, None).is_err());
//! ```
//!
//! [`RequestFacts::with_client_cert`]: crate::policy::RequestFacts::with_client_cert
//! [`GateConfig::with_client_cert_header`]: crate::gate::GateConfig::with_client_cert_header
//! [`IssuerConfig::with_certificate_bound`]: crate::gate::IssuerConfig::with_certificate_bound

use std::fmt;

use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use serde_json::{Map, Value};

/// The confirmation member of a certificate-bound token (RFC 8705 §3.1).
pub const X5T_S256: &str = "x5t#S256";

/// The client certificate of a request, held as the SHA-256 digest of its
/// DER encoding (all that the binding needs, and all that a Cloudflare
/// Worker is told). `Copy`: 32 bytes.
#[derive(Clone, Copy, PartialEq, Eq, Hash)]
pub struct ClientCert {
    sha256: [u8; 32],
}

impl ClientCert {
    /// The certificate from its DER bytes (e.g. the first of rustls'
    /// `peer_certificates()`).
    pub fn from_der(der: &[u8]) -> Self {
        let digest = ring::digest::digest(&ring::digest::SHA256, der);
        let mut sha256 = [0u8; 32];
        sha256.copy_from_slice(digest.as_ref());
        Self { sha256 }
    }

    /// The certificate from the SHA-256 digest of its DER bytes.
    pub fn from_sha256(sha256: [u8; 32]) -> Self {
        Self { sha256 }
    }

    /// The certificate from a hex SHA-256 fingerprint (64 hex digits, either
    /// case), e.g. Cloudflare's `tlsClientAuth.certFingerprintSHA256`.
    ///
    /// # Errors
    /// [`MtlsError::MalformedFingerprint`] when the text is not 64 hex
    /// digits.
    pub fn from_sha256_hex(hex: &str) -> Result<Self, MtlsError> {
        let malformed = || MtlsError::MalformedFingerprint {
            len: hex.len(),
            reason: "expected 64 hex digits".to_owned(),
        };
        let bytes = hex.as_bytes();
        if bytes.len() != 64 {
            return Err(malformed());
        }
        let mut sha256 = [0u8; 32];
        for (out, pair) in sha256.iter_mut().zip(bytes.chunks_exact(2)) {
            let (Some(hi), Some(lo)) = (
                pair.first().and_then(|c| hex_value(*c)),
                pair.get(1).and_then(|c| hex_value(*c)),
            ) else {
                return Err(malformed());
            };
            *out = (hi << 4) | lo;
        }
        Ok(Self { sha256 })
    }

    /// The certificate from an RFC 9440 `Client-Cert` field value: a
    /// structured-field Byte Sequence of the DER certificate (`:base64:`).
    /// Use it only for a header a TLS-terminating proxy you trust sets (and
    /// overwrites when a client sends it).
    ///
    /// # Errors
    /// [`MtlsError::MalformedHeader`] when the value is not a Byte Sequence
    /// or is empty.
    #[cfg(feature = "httpsig")]
    pub fn from_client_cert_field(value: &http::HeaderValue) -> Result<Self, MtlsError> {
        use crate::httpsig::fields::{BareItem, parse_item};
        let malformed = |reason: &str| MtlsError::MalformedHeader {
            reason: reason.to_owned(),
        };
        let text = value
            .to_str()
            .map_err(|_| malformed("the value is not ascii"))?;
        let item = parse_item(text).map_err(|e| malformed(&e.to_string()))?;
        match item.bare {
            BareItem::ByteSequence(der) if !der.is_empty() => Ok(Self::from_der(&der)),
            BareItem::ByteSequence(_) => Err(malformed("the certificate is empty")),
            _ => Err(malformed("the value is not a byte sequence")),
        }
    }

    /// The SHA-256 digest of the DER certificate.
    pub fn sha256(&self) -> &[u8; 32] {
        &self.sha256
    }

    /// The `x5t#S256` value of this certificate: base64url (no padding) of
    /// its SHA-256 digest. Put it in a token's `cnf` to bind the token.
    pub fn thumbprint(&self) -> String {
        URL_SAFE_NO_PAD.encode(self.sha256)
    }

    /// Whether `thumbprint` names this certificate, compared in constant
    /// time. `None` when `thumbprint` is not a base64url SHA-256 digest.
    fn matches(&self, thumbprint: &str) -> Option<bool> {
        let mut theirs = [0u8; 32];
        match crate::jose::b64::decode_into(thumbprint, &mut theirs) {
            Ok(32) => Some(constant_time_eq(&self.sha256, &theirs)),
            _ => None,
        }
    }
}

impl fmt::Debug for ClientCert {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        // A certificate is public; its thumbprint names it in logs.
        f.debug_tuple("ClientCert")
            .field(&self.thumbprint())
            .finish()
    }
}

/// A client certificate read only when a check needs it, that is when the
/// verified token carries `cnf.x5t#S256`: a driver whose reading costs
/// something on every request (the Worker builds a JS request to reach
/// `cf.tlsClientAuth`) puts one in the request's extensions instead of the
/// [`ClientCert`] fact. Read at most once per request.
#[derive(Clone)]
pub(crate) struct CertSource {
    inner: std::sync::Arc<CertSourceInner>,
}

struct CertSourceInner {
    read: std::sync::OnceLock<Option<ClientCert>>,
    source: Box<dyn Fn() -> Option<ClientCert> + Send + Sync>,
}

impl CertSource {
    /// A source that calls `source` the first time it is asked.
    #[cfg_attr(
        not(all(feature = "worker", target_arch = "wasm32")),
        allow(dead_code, reason = "the Worker driver and tests set it")
    )]
    pub(crate) fn new(source: impl Fn() -> Option<ClientCert> + Send + Sync + 'static) -> Self {
        Self {
            inner: std::sync::Arc::new(CertSourceInner {
                read: std::sync::OnceLock::new(),
                source: Box::new(source),
            }),
        }
    }

    /// The certificate, read on the first call.
    pub(crate) fn get(&self) -> Option<ClientCert> {
        *self.inner.read.get_or_init(|| (self.inner.source)())
    }
}

fn hex_value(c: u8) -> Option<u8> {
    match c {
        b'0'..=b'9' => Some(c - b'0'),
        b'a'..=b'f' => Some(c - b'a' + 10),
        b'A'..=b'F' => Some(c - b'A' + 10),
        _ => None,
    }
}

/// Equality of two digests without an early exit (ring's own comparison
/// is deprecated for outside use).
fn constant_time_eq(a: &[u8; 32], b: &[u8; 32]) -> bool {
    let diff = a.iter().zip(b).fold(0u8, |acc, (x, y)| acc | (x ^ y));
    std::hint::black_box(diff) == 0
}

/// Why a certificate binding or a certificate fact was refused. Messages
/// name the failed check, never a token, a thumbprint or a certificate.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum MtlsError {
    /// The token's `cnf.x5t#S256` does not hold for this request (no
    /// certificate, another certificate, a malformed member).
    #[error("certificate-bound token refused: {reason}")]
    Binding {
        /// What was wrong.
        reason: String,
    },
    /// A trusted `Client-Cert` header (RFC 9440) could not be read.
    #[error("malformed client certificate header: {reason}")]
    MalformedHeader {
        /// What was wrong.
        reason: String,
    },
    /// A hex SHA-256 fingerprint could not be read.
    #[error("malformed certificate fingerprint of {len} characters: {reason}")]
    MalformedFingerprint {
        /// Its length in bytes.
        len: usize,
        /// What was wrong.
        reason: String,
    },
}

impl MtlsError {
    fn binding(reason: &str) -> Self {
        Self::Binding {
            reason: reason.to_owned(),
        }
    }
}

/// Checks the certificate binding of a verified claims set (RFC 8705 §3):
/// `Ok(true)` when it carries `cnf.x5t#S256` and `cert` is that
/// certificate, `Ok(false)` when it carries no certificate binding (any
/// `cert` then passes).
///
/// # Errors
/// [`MtlsError::Binding`] when the token is certificate-bound and `cert`
/// is `None` or another certificate, or when `cnf` is not an object or
/// `cnf.x5t#S256` is not the base64url of a SHA-256 digest.
pub fn check_binding(
    claims: &Map<String, Value>,
    cert: Option<&ClientCert>,
) -> Result<bool, MtlsError> {
    let Some(cnf) = claims.get("cnf") else {
        return Ok(false);
    };
    let Value::Object(cnf) = cnf else {
        return Err(MtlsError::binding("`cnf` is not an object"));
    };
    let Some(x5t) = cnf.get(X5T_S256) else {
        return Ok(false);
    };
    let Value::String(x5t) = x5t else {
        return Err(MtlsError::binding("`cnf.x5t#S256` is not a string"));
    };
    let Some(cert) = cert else {
        return Err(MtlsError::binding(
            "the request presented no client certificate",
        ));
    };
    match cert.matches(x5t) {
        Some(true) => Ok(true),
        Some(false) => Err(MtlsError::binding(
            "`cnf.x5t#S256` is not the thumbprint of the client certificate",
        )),
        None => Err(MtlsError::binding(
            "`cnf.x5t#S256` is not a base64url sha-256 thumbprint",
        )),
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used, reason = "tests")]
mod tests {
    use super::*;

    #[test]
    fn hex_fingerprint_is_the_digest() {
        let cert = ClientCert::from_der(b"der");
        let hex: String = cert.sha256().iter().map(|b| format!("{b:02X}")).collect();
        assert_eq!(ClientCert::from_sha256_hex(&hex).unwrap(), cert);
        assert_eq!(
            ClientCert::from_sha256_hex(&hex.to_lowercase()).unwrap(),
            cert
        );
    }

    #[test]
    fn hex_fingerprint_malformed() {
        assert!(ClientCert::from_sha256_hex("").is_err());
        assert!(ClientCert::from_sha256_hex(&"g".repeat(64)).is_err());
        assert!(ClientCert::from_sha256_hex(&"a".repeat(63)).is_err());
        assert!(ClientCert::from_sha256_hex(&"é".repeat(32)).is_err());
    }

    #[test]
    fn thumbprint_of_wrong_length_is_malformed() {
        let cert = ClientCert::from_der(b"der");
        assert_eq!(cert.matches("AAAA"), None);
        assert_eq!(cert.matches(&format!("{}=", cert.thumbprint())), None);
        assert_eq!(cert.matches(&cert.thumbprint()), Some(true));
    }
}
