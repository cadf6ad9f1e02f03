//! The JWS algorithms this crate verifies (RFC 7518 §3, RFC 8037, RFC 9864
//! §2.2 for the `Ed25519` name), as keys and tokens both name them.

/// The signature algorithms this crate verifies (RFC 7518 §3, RFC 8037).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[allow(clippy::upper_case_acronyms, reason = "JOSE spells them this way")]
pub enum Alg {
    /// HMAC SHA-256.
    HS256,
    /// HMAC SHA-384.
    HS384,
    /// HMAC SHA-512.
    HS512,
    /// RSASSA-PKCS1-v1_5 SHA-256.
    RS256,
    /// RSASSA-PKCS1-v1_5 SHA-384.
    RS384,
    /// RSASSA-PKCS1-v1_5 SHA-512.
    RS512,
    /// RSASSA-PSS SHA-256.
    PS256,
    /// RSASSA-PSS SHA-384.
    PS384,
    /// RSASSA-PSS SHA-512.
    PS512,
    /// ECDSA P-256 SHA-256.
    ES256,
    /// ECDSA P-384 SHA-384.
    ES384,
    /// Ed25519 (RFC 8037).
    EdDSA,
}

/// Every supported algorithm, in a fixed order (the index is the bit used in
/// allow-list masks).
pub(crate) const ALL: [Alg; 12] = [
    Alg::HS256,
    Alg::HS384,
    Alg::HS512,
    Alg::RS256,
    Alg::RS384,
    Alg::RS512,
    Alg::PS256,
    Alg::PS384,
    Alg::PS512,
    Alg::ES256,
    Alg::ES384,
    Alg::EdDSA,
];

impl Alg {
    /// The algorithm a registered name denotes (case-sensitive, RFC 7515
    /// §4.1.1). `Ed25519` is RFC 9864 §2.2's fully-specified name for EdDSA
    /// on Ed25519, which is all that [`Alg::EdDSA`] verifies here (Ed448
    /// keys are never loaded): the same algorithm under its newer name, as
    /// WebCrypto now writes in the JWKs it exports and jose may sign with.
    pub fn from_name(name: &str) -> Option<Alg> {
        ALL.iter()
            .copied()
            .find(|a| a.name() == name)
            .or_else(|| (name == "Ed25519").then_some(Alg::EdDSA))
    }

    /// The registered name.
    pub fn name(self) -> &'static str {
        match self {
            Alg::HS256 => "HS256",
            Alg::HS384 => "HS384",
            Alg::HS512 => "HS512",
            Alg::RS256 => "RS256",
            Alg::RS384 => "RS384",
            Alg::RS512 => "RS512",
            Alg::PS256 => "PS256",
            Alg::PS384 => "PS384",
            Alg::PS512 => "PS512",
            Alg::ES256 => "ES256",
            Alg::ES384 => "ES384",
            Alg::EdDSA => "EdDSA",
        }
    }

    /// A bit for allow-list masks.
    pub fn bit(self) -> u16 {
        1 << (self as u16)
    }

    /// The jsonwebtoken data-model value.
    pub fn to_jwt(self) -> jsonwebtoken::Algorithm {
        use jsonwebtoken::Algorithm as A;
        match self {
            Alg::HS256 => A::HS256,
            Alg::HS384 => A::HS384,
            Alg::HS512 => A::HS512,
            Alg::RS256 => A::RS256,
            Alg::RS384 => A::RS384,
            Alg::RS512 => A::RS512,
            Alg::PS256 => A::PS256,
            Alg::PS384 => A::PS384,
            Alg::PS512 => A::PS512,
            Alg::ES256 => A::ES256,
            Alg::ES384 => A::ES384,
            Alg::EdDSA => A::EdDSA,
        }
    }

    /// From the jsonwebtoken data-model value (`None` for algorithms added
    /// there later that this crate does not verify).
    pub fn from_jwt(alg: jsonwebtoken::Algorithm) -> Option<Alg> {
        ALL.iter().copied().find(|a| a.to_jwt() == alg)
    }

    /// Whether this is an HMAC algorithm.
    pub fn is_hmac(self) -> bool {
        matches!(self, Alg::HS256 | Alg::HS384 | Alg::HS512)
    }

    /// Whether this is an RSA algorithm.
    pub fn is_rsa(self) -> bool {
        matches!(
            self,
            Alg::RS256 | Alg::RS384 | Alg::RS512 | Alg::PS256 | Alg::PS384 | Alg::PS512
        )
    }
}
