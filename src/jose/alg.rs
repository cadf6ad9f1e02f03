//! The JWS algorithms this crate verifies (RFC 7518 §3, RFC 8037, RFC 9864
//! §2.2 for the `Ed25519` name), as keys and tokens both name them.

/// The JWS signature algorithms this crate verifies (RFC 7518 §3, RFC 8037),
/// under their registered JOSE names: `Display`, `FromStr` and serde all use
/// the name (`"RS256"`, `"EdDSA"`; `FromStr` and deserialization also accept
/// RFC 9864's `"Ed25519"` for [`Algorithm::EdDSA`]).
///
/// ```
/// use edge_auth::jwt::Algorithm;
///
/// let alg: Algorithm = "ES256".parse()?;
/// assert_eq!(alg, Algorithm::ES256);
/// assert_eq!(alg.to_string(), "ES256");
/// assert!("none".parse::<Algorithm>().is_err());
/// # Ok::<(), edge_auth::jwt::UnknownAlgorithm>(())
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
#[allow(clippy::upper_case_acronyms, reason = "JOSE spells them this way")]
#[non_exhaustive]
pub enum Algorithm {
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
pub(crate) const ALL: [Algorithm; 12] = [
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

use Algorithm as Alg;

impl Algorithm {
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

    /// The registered JOSE name.
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
    pub(crate) fn bit(self) -> u16 {
        1 << (self as u16)
    }

    /// Whether this is an HMAC algorithm (`HS256`, `HS384`, `HS512`).
    pub fn is_hmac(self) -> bool {
        matches!(self, Alg::HS256 | Alg::HS384 | Alg::HS512)
    }

    /// Whether this is an RSA algorithm (`RS*`, `PS*`).
    pub fn is_rsa(self) -> bool {
        matches!(
            self,
            Alg::RS256 | Alg::RS384 | Alg::RS512 | Alg::PS256 | Alg::PS384 | Alg::PS512
        )
    }
}

impl std::fmt::Display for Algorithm {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.name())
    }
}

/// A name that is not one of the JWS algorithms this crate verifies (see
/// [`Algorithm`]). The name is kept (algorithm names are not secret).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("unsupported JWS algorithm `{name}`")]
pub struct UnknownAlgorithm {
    name: String,
}

impl UnknownAlgorithm {
    /// The name that was refused.
    pub fn name(&self) -> &str {
        &self.name
    }
}

impl std::str::FromStr for Algorithm {
    type Err = UnknownAlgorithm;

    fn from_str(name: &str) -> Result<Self, Self::Err> {
        Algorithm::from_name(name).ok_or_else(|| UnknownAlgorithm {
            name: name.to_owned(),
        })
    }
}

impl serde::Serialize for Algorithm {
    fn serialize<S: serde::Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.serialize_str(self.name())
    }
}

impl<'de> serde::Deserialize<'de> for Algorithm {
    fn deserialize<D: serde::Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        struct Name;
        impl serde::de::Visitor<'_> for Name {
            type Value = Algorithm;
            fn expecting(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
                f.write_str("a JWS algorithm name")
            }
            fn visit_str<E: serde::de::Error>(self, name: &str) -> Result<Algorithm, E> {
                Algorithm::from_name(name)
                    .ok_or_else(|| E::custom(format_args!("unsupported JWS algorithm `{name}`")))
            }
        }
        deserializer.deserialize_str(Name)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn algorithm_display_and_from_str_round_trip_every_name() {
        for alg in ALL {
            assert_eq!(alg.to_string().parse::<Algorithm>(), Ok(alg));
        }
    }

    #[test]
    fn algorithm_from_str_accepts_ed25519_for_eddsa() {
        assert_eq!("Ed25519".parse::<Algorithm>(), Ok(Algorithm::EdDSA));
    }

    #[test]
    fn algorithm_from_str_refuses_none_and_wrong_case() {
        let err = "none".parse::<Algorithm>().unwrap_err();
        assert_eq!(err.to_string(), "unsupported JWS algorithm `none`");
        assert!("rs256".parse::<Algorithm>().is_err());
    }

    #[test]
    fn algorithm_serde_uses_the_jose_name() {
        assert_eq!(
            serde_json::to_string(&Algorithm::PS384).unwrap(),
            r#""PS384""#
        );
        let alg: Algorithm = serde_json::from_str(r#""EdDSA""#).unwrap();
        assert_eq!(alg, Algorithm::EdDSA);
        let err = serde_json::from_str::<Algorithm>(r#""HS1""#).unwrap_err();
        assert!(
            err.to_string().contains("unsupported JWS algorithm `HS1`"),
            "{err}"
        );
    }
}
