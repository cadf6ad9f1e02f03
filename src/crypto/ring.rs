//! ring's side of the verify seam: keys are kept decoded (ring 0.17 has
//! no parsed public key; every verification parses the bytes it is given).

use ring::signature::{self, RsaPublicKeyComponents, UnparsedPublicKey};

use crate::jose::Alg;

#[derive(Clone)]
pub(super) enum PublicKey {
    Rsa {
        n: Box<[u8]>,
        e: Box<[u8]>,
        algs: Box<[Alg]>,
    },
    Ecdsa {
        alg: Alg,
        point: Box<[u8]>,
    },
    Ed25519([u8; 32]),
}

impl PublicKey {
    #[expect(
        clippy::unnecessary_wraps,
        reason = "the aws-lc-rs backend's parse can fail"
    )]
    pub(super) fn rsa(n: &[u8], e: &[u8], algs: &[Alg]) -> Result<Self, String> {
        Ok(Self::Rsa {
            n: n.into(),
            e: e.into(),
            algs: algs.into(),
        })
    }

    #[expect(
        clippy::unnecessary_wraps,
        reason = "the aws-lc-rs backend's parse can fail"
    )]
    pub(super) fn ecdsa(alg: Alg, point: &[u8]) -> Result<Self, String> {
        Ok(Self::Ecdsa {
            alg,
            point: point.into(),
        })
    }

    #[expect(
        clippy::unnecessary_wraps,
        reason = "the aws-lc-rs backend's parse can fail"
    )]
    pub(super) fn ed25519(x: [u8; 32]) -> Result<Self, String> {
        Ok(Self::Ed25519(x))
    }

    pub(super) fn verify(&self, alg: Alg, message: &[u8], sig: &[u8]) -> bool {
        match self {
            Self::Rsa { n, e, algs } => {
                let params: &signature::RsaParameters = match alg {
                    Alg::RS256 => &signature::RSA_PKCS1_2048_8192_SHA256,
                    Alg::RS384 => &signature::RSA_PKCS1_2048_8192_SHA384,
                    Alg::RS512 => &signature::RSA_PKCS1_2048_8192_SHA512,
                    Alg::PS256 => &signature::RSA_PSS_2048_8192_SHA256,
                    Alg::PS384 => &signature::RSA_PSS_2048_8192_SHA384,
                    Alg::PS512 => &signature::RSA_PSS_2048_8192_SHA512,
                    _ => return false,
                };
                algs.contains(&alg)
                    && RsaPublicKeyComponents { n: &**n, e: &**e }
                        .verify(params, message, sig)
                        .is_ok()
            }
            Self::Ecdsa { alg: own, point } => {
                let algorithm = match alg {
                    Alg::ES256 => &signature::ECDSA_P256_SHA256_FIXED,
                    Alg::ES384 => &signature::ECDSA_P384_SHA384_FIXED,
                    _ => return false,
                };
                *own == alg
                    && UnparsedPublicKey::new(algorithm, &**point)
                        .verify(message, sig)
                        .is_ok()
            }
            Self::Ed25519(x) => {
                alg == Alg::EdDSA
                    && UnparsedPublicKey::new(&signature::ED25519, &x[..])
                        .verify(message, sig)
                        .is_ok()
            }
        }
    }
}
