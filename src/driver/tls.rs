//! TLS for the serve loop (feature `server-tls`): a rustls server
//! configuration on ring with optional client-certificate verification,
//! for [`Server::with_tls`](super::server::Server::with_tls).
//!
//! With client certificates on, the first certificate the client presented
//! reaches every request of its connection as a
//! [`ClientCert`](crate::mtls::ClientCert) extension, which
//! [`GateLayer`](super::tower::GateLayer) passes to the Gate: a token bound
//! to a certificate (RFC 8705 §3, `cnf.x5t#S256`) is then accepted only on
//! a connection that presented it.
//!
//! ```no_run
//! # async fn run() -> Result<(), Box<dyn std::error::Error>> {
//! use edge_auth::driver::server::{Server, ServerConfig};
//! use edge_auth::driver::tls::{ClientAuth, server_config};
//! use rustls::RootCertStore;
//! use rustls::pki_types::{CertificateDer, PrivateKeyDer, pem::PemObject};
//!
//! let chain = CertificateDer::pem_file_iter("server.pem")?.collect::<Result<Vec<_>, _>>()?;
//! let key = PrivateKeyDer::from_pem_file("server.key")?;
//! let mut clients = RootCertStore::empty();
//! clients.add(CertificateDer::from_pem_file("client-ca.pem")?)?;
//! let tls = server_config(chain, key, ClientAuth::Optional(clients))?;
//! let server = Server::bind("127.0.0.1:8443".parse()?, ServerConfig::default())
//!     .await?
//!     .with_tls(tls);
//! # let _ = server; Ok(()) }
//! ```

use std::fmt;
use std::sync::Arc;

use rustls::client::danger::HandshakeSignatureValid;
use rustls::pki_types::{CertificateDer, PrivateKeyDer, UnixTime};
use rustls::server::danger::{ClientCertVerified, ClientCertVerifier};
use rustls::server::{ParsedCertificate, WebPkiClientVerifier};
use rustls::{DigitallySignedStruct, DistinguishedName, RootCertStore, SignatureScheme};

/// Whether and how the server asks for client certificates.
#[derive(Clone)]
#[non_exhaustive]
pub enum ClientAuth {
    /// No client certificate is asked for: certificate-bound tokens are
    /// then always refused (no certificate fact).
    None,
    /// A client certificate is asked for and, when presented, must chain to
    /// one of these roots (webpki, with the client-auth key usage); a
    /// client without one still connects (plain bearer tokens keep
    /// working).
    Optional(RootCertStore),
    /// Every client must present a certificate chaining to these roots.
    Required(RootCertStore),
    /// A client certificate is asked for, not required, and not checked
    /// against any CA: the handshake proves only that the client holds the
    /// certificate's key. That is all RFC 8705 §2.2 (self-signed
    /// certificate mutual TLS) needs, since a token bound to the
    /// certificate's thumbprint is what gives it meaning; the certificate
    /// says nothing else about the client, so use it for nothing else.
    SelfSigned,
}

impl fmt::Debug for ClientAuth {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::None => f.write_str("None"),
            Self::Optional(roots) => write!(f, "Optional({} roots)", roots.len()),
            Self::Required(roots) => write!(f, "Required({} roots)", roots.len()),
            Self::SelfSigned => f.write_str("SelfSigned"),
        }
    }
}

/// Why a TLS configuration could not be built.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum TlsError {
    /// The client-certificate verifier could not be built (e.g. no roots).
    #[error("client certificate verifier: {0}")]
    Verifier(#[source] rustls::server::VerifierBuilderError),
    /// rustls refused the settings, the certificate chain or the key.
    #[error("tls configuration: {0}")]
    Config(#[source] rustls::Error),
}

/// A rustls server configuration on the ring provider (TLS 1.2 and 1.3,
/// ALPN `http/1.1`) serving `cert_chain` with `key`, asking for client
/// certificates as `client_auth` says.
///
/// # Errors
/// [`TlsError::Verifier`] when the roots are empty or unusable;
/// [`TlsError::Config`] when the key does not fit the certificate or is
/// not supported.
pub fn server_config(
    cert_chain: Vec<CertificateDer<'static>>,
    key: PrivateKeyDer<'static>,
    client_auth: ClientAuth,
) -> Result<Arc<rustls::ServerConfig>, TlsError> {
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let builder = rustls::ServerConfig::builder_with_provider(Arc::clone(&provider))
        .with_safe_default_protocol_versions()
        .map_err(TlsError::Config)?;
    let verifier = |roots: RootCertStore, optional: bool| {
        let builder =
            WebPkiClientVerifier::builder_with_provider(Arc::new(roots), Arc::clone(&provider));
        let builder = if optional {
            builder.allow_unauthenticated()
        } else {
            builder
        };
        builder.build().map_err(TlsError::Verifier)
    };
    let builder = match client_auth {
        ClientAuth::None => builder.with_no_client_auth(),
        ClientAuth::Optional(roots) => builder.with_client_cert_verifier(verifier(roots, true)?),
        ClientAuth::Required(roots) => builder.with_client_cert_verifier(verifier(roots, false)?),
        ClientAuth::SelfSigned => builder.with_client_cert_verifier(Arc::new(SelfSigned {
            algorithms: provider.signature_verification_algorithms,
        })),
    };
    let mut config = builder
        .with_single_cert(cert_chain, key)
        .map_err(TlsError::Config)?;
    config.alpn_protocols = vec![b"http/1.1".to_vec()];
    Ok(Arc::new(config))
}

/// [`ClientAuth::SelfSigned`]: any well-formed end-entity certificate, with
/// the handshake signature checked by its key (proof of possession).
#[derive(Debug)]
struct SelfSigned {
    algorithms: rustls::crypto::WebPkiSupportedAlgorithms,
}

impl ClientCertVerifier for SelfSigned {
    fn offer_client_auth(&self) -> bool {
        true
    }

    fn client_auth_mandatory(&self) -> bool {
        false
    }

    fn root_hint_subjects(&self) -> &[DistinguishedName] {
        &[]
    }

    fn verify_client_cert(
        &self,
        end_entity: &CertificateDer<'_>,
        _intermediates: &[CertificateDer<'_>],
        _now: UnixTime,
    ) -> Result<ClientCertVerified, rustls::Error> {
        // Well-formed (its key is what the handshake signature is checked
        // with); no chain, no name, no dates: the token binding decides.
        ParsedCertificate::try_from(end_entity)?;
        Ok(ClientCertVerified::assertion())
    }

    fn verify_tls12_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        rustls::crypto::verify_tls12_signature(message, cert, dss, &self.algorithms)
    }

    fn verify_tls13_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        rustls::crypto::verify_tls13_signature(message, cert, dss, &self.algorithms)
    }

    fn supported_verify_schemes(&self) -> Vec<SignatureScheme> {
        self.algorithms.supported_schemes()
    }
}
