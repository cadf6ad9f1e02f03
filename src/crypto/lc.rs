//! aws-lc-rs' side of the verify seam (the `aws-lc-rs` feature, native
//! targets only): public keys parsed once, when the key is built, so that
//! verifying a signature parses nothing.
//!
//! ring 0.17 has no parsed form of an RSA public key: every verification
//! rebuilds the modulus and its Montgomery constants, about a quarter of
//! the time of an RS256 check. aws-lc-rs keeps them in a
//! [`ParsedPublicKey`]. HMAC stays on ring (see the seam's docs).

use aws_lc_rs::signature::{self, ParsedPublicKey, VerificationAlgorithm};

use crate::jose::Alg;

/// One parsed key for each algorithm the key may verify (an RSA key for
/// several algorithms is parsed once for each).
#[derive(Clone)]
pub(super) struct PublicKey(Vec<(Alg, ParsedPublicKey)>);

impl PublicKey {
    pub(super) fn rsa(n: &[u8], e: &[u8], algs: &[Alg]) -> Result<Self, String> {
        Self::parse(algs, &rsa_public_key_der(n, e))
    }

    pub(super) fn ecdsa(alg: Alg, point: &[u8]) -> Result<Self, String> {
        Self::parse(&[alg], point)
    }

    pub(super) fn ed25519(x: [u8; 32]) -> Result<Self, String> {
        Self::parse(&[Alg::EdDSA], &x)
    }

    /// # Errors
    /// The reason aws-lc-rs refused the key, such as an EC point that is
    /// not on its curve.
    fn parse(algs: &[Alg], bytes: &[u8]) -> Result<Self, String> {
        let mut parsed = Vec::with_capacity(algs.len());
        for &alg in algs {
            let Some(algorithm) = algorithm(alg) else {
                continue;
            };
            let key = ParsedPublicKey::new(algorithm, bytes)
                .map_err(|e| format!("aws-lc-rs refused the public key for {}: {e}", alg.name()))?;
            parsed.push((alg, key));
        }
        Ok(Self(parsed))
    }

    /// Whether `sig` is `alg`'s valid signature of `message`; false when no
    /// key was parsed for `alg`.
    pub(super) fn verify(&self, alg: Alg, message: &[u8], sig: &[u8]) -> bool {
        self.0
            .iter()
            .find(|(a, _)| *a == alg)
            .is_some_and(|(_, key)| key.verify_sig(message, sig).is_ok())
    }
}

/// aws-lc-rs' algorithm for `alg`, with the same limits as ring's: RSA
/// moduli of 2048 to 8192 bits, fixed-size (not DER) ECDSA signatures.
fn algorithm(alg: Alg) -> Option<&'static dyn VerificationAlgorithm> {
    Some(match alg {
        Alg::RS256 => &signature::RSA_PKCS1_2048_8192_SHA256,
        Alg::RS384 => &signature::RSA_PKCS1_2048_8192_SHA384,
        Alg::RS512 => &signature::RSA_PKCS1_2048_8192_SHA512,
        Alg::PS256 => &signature::RSA_PSS_2048_8192_SHA256,
        Alg::PS384 => &signature::RSA_PSS_2048_8192_SHA384,
        Alg::PS512 => &signature::RSA_PSS_2048_8192_SHA512,
        Alg::ES256 => &signature::ECDSA_P256_SHA256_FIXED,
        Alg::ES384 => &signature::ECDSA_P384_SHA384_FIXED,
        Alg::EdDSA => &signature::ED25519,
        Alg::HS256 | Alg::HS384 | Alg::HS512 => return None,
    })
}

/// `RSAPublicKey ::= SEQUENCE { modulus INTEGER, publicExponent INTEGER }`
/// (RFC 8017 §A.1.1) in DER, from unsigned big-endian `n` and `e` without
/// leading zeros.
fn rsa_public_key_der(n: &[u8], e: &[u8]) -> Vec<u8> {
    let mut body = Vec::with_capacity(n.len().saturating_add(e.len()).saturating_add(12));
    for int in [n, e] {
        // A set high bit would read as negative: one zero byte first.
        let pad = int.first().is_some_and(|b| b & 0x80 != 0);
        body.push(0x02);
        der_len(&mut body, int.len().saturating_add(usize::from(pad)));
        if pad {
            body.push(0);
        }
        body.extend_from_slice(int);
    }
    let mut der = Vec::with_capacity(body.len().saturating_add(4));
    der.push(0x30);
    der_len(&mut der, body.len());
    der.extend_from_slice(&body);
    der
}

/// A DER length: short form below 128, else long form in the fewest bytes.
fn der_len(out: &mut Vec<u8>, len: usize) {
    if let Ok(short @ 0..=127) = u8::try_from(len) {
        out.push(short);
        return;
    }
    let bytes = len.to_be_bytes();
    let skip = bytes.iter().take_while(|&&b| b == 0).count();
    let long = bytes.get(skip..).unwrap_or_default();
    // At most 8 length bytes: 0x81..=0x88.
    out.push(0x80 | long.len() as u8);
    out.extend_from_slice(long);
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn der_lengths_and_integers() {
        let mut out = Vec::new();
        der_len(&mut out, 5);
        der_len(&mut out, 127);
        der_len(&mut out, 128);
        der_len(&mut out, 257);
        assert_eq!(out, [5, 127, 0x81, 128, 0x82, 1, 1]);
        // 2-byte n with its high bit set gets a zero byte; e = 65537 not.
        assert_eq!(
            rsa_public_key_der(&[0x80, 0x01], &[1, 0, 1]),
            [0x30, 10, 0x02, 3, 0, 0x80, 0x01, 0x02, 3, 1, 0, 1]
        );
    }
}
