//! The DPoP error type and its RFC 9449 §7.1 / §9 challenge.

use std::fmt;

/// Why a DPoP request or proof was refused. The message never contains the
/// proof, the access token or the key; it names the failed check and the
/// offending non-secret value (a claim, a method, a URI).
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum DpopError {
    /// The request is malformed (RFC 9449 §7.1 `invalid_request`): no or
    /// several `DPoP` headers, a token presented with more than one scheme.
    InvalidRequest {
        /// What was wrong.
        reason: String,
    },
    /// The proof fails a check of RFC 9449 §4.3 (`invalid_dpop_proof`).
    InvalidProof {
        /// Which check failed and why.
        reason: String,
    },
    /// The proof's `jti` was seen before for this key (RFC 9449 §11.1).
    Replayed {
        /// The replayed `jti`.
        jti: String,
    },
    /// The server requires a nonce (RFC 9449 §9) and the proof carries none
    /// or a stale one (`use_dpop_nonce`); send `nonce` in `DPoP-Nonce`.
    UseNonce {
        /// The nonce the client must use.
        nonce: String,
    },
    /// The access token is not bound to the proof's key, or a DPoP-bound
    /// token was presented as a bearer token (`invalid_token`).
    Binding {
        /// What was wrong.
        reason: String,
    },
}

impl DpopError {
    pub(crate) fn proof(reason: impl Into<String>) -> Self {
        Self::InvalidProof {
            reason: reason.into(),
        }
    }

    /// The RFC 9449 §7.1 / RFC 6750 §3.1 error code.
    pub fn code(&self) -> &'static str {
        match self {
            Self::InvalidRequest { .. } => "invalid_request",
            Self::InvalidProof { .. } | Self::Replayed { .. } => "invalid_dpop_proof",
            Self::UseNonce { .. } => "use_dpop_nonce",
            Self::Binding { .. } => "invalid_token",
        }
    }

    /// The HTTP status: 400 for a malformed request, otherwise 401.
    pub fn status(&self) -> http::StatusCode {
        match self {
            Self::InvalidRequest { .. } => http::StatusCode::BAD_REQUEST,
            _ => http::StatusCode::UNAUTHORIZED,
        }
    }

    /// The nonce to send in a `DPoP-Nonce` header, for
    /// [`DpopError::UseNonce`].
    pub fn nonce(&self) -> Option<&str> {
        match self {
            Self::UseNonce { nonce } => Some(nonce),
            _ => None,
        }
    }

    /// The `WWW-Authenticate` challenge of RFC 9449 §7.1, e.g.
    /// `DPoP error="invalid_dpop_proof", algs="ES256 EdDSA"`. The
    /// description is a fixed phrase per code: the detailed reason stays in
    /// the server's logs.
    pub fn challenge(&self, algs: &[crate::jwt::Algorithm]) -> String {
        let description = match self {
            Self::InvalidRequest { .. } => "malformed dpop request",
            Self::InvalidProof { .. } | Self::Replayed { .. } => "invalid dpop proof",
            Self::UseNonce { .. } => "resource server requires nonce in dpop proof",
            Self::Binding { .. } => "access token not bound to the dpop proof key",
        };
        format!(
            "DPoP error=\"{}\", error_description=\"{description}\", algs=\"{}\"",
            self.code(),
            algs_list(algs)
        )
    }
}

/// `algs="…"` content: the allow-list, space-separated.
pub(crate) fn algs_list(algs: &[crate::jwt::Algorithm]) -> String {
    algs.iter()
        .copied()
        .map(|a| a.name())
        .collect::<Vec<_>>()
        .join(" ")
}

impl fmt::Display for DpopError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::InvalidRequest { reason } => write!(f, "malformed dpop request: {reason}"),
            Self::InvalidProof { reason } => write!(f, "invalid dpop proof: {reason}"),
            Self::Replayed { jti } => write!(f, "dpop proof replayed: `jti` `{jti}` seen before"),
            Self::UseNonce { .. } => f.write_str("dpop proof lacks the nonce the server requires"),
            Self::Binding { reason } => write!(f, "dpop binding failed: {reason}"),
        }
    }
}

impl std::error::Error for DpopError {}
