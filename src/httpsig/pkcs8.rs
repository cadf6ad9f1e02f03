//! Just enough DER to read a PKCS#8 `PrivateKeyInfo` (RFC 5958 §2) whose
//! algorithm is `id-RSASSA-PSS` (RFC 4055 §3.1, RFC 8017 A.2.3), as RFC 9421
//! B.1.2 and `openssl genpkey -algorithm RSA-PSS` produce: ring reads only
//! `rsaEncryption`, so the inner `RSAPrivateKey` is handed to it directly.

/// `id-RSASSA-PSS`, 1.2.840.113549.1.1.10, DER content octets.
const ID_RSASSA_PSS: [u8; 9] = [0x2a, 0x86, 0x48, 0x86, 0xf7, 0x0d, 0x01, 0x01, 0x0a];

const SEQUENCE: u8 = 0x30;
const INTEGER: u8 = 0x02;
const OCTET_STRING: u8 = 0x04;
const OID: u8 = 0x06;

/// What the PKCS#8 document says about its key.
#[derive(Debug, PartialEq, Eq)]
pub(super) enum RsaPkcs8<'a> {
    /// `id-RSASSA-PSS` without parameters (usable with any PSS hash): the
    /// inner PKCS#1 `RSAPrivateKey`.
    PssUnrestricted(&'a [u8]),
    /// `id-RSASSA-PSS` with parameters that restrict the hash, MGF or salt;
    /// this crate does not interpret them and refuses the key.
    PssRestricted,
    /// Another algorithm (e.g. `rsaEncryption`): left to ring.
    Other,
}

/// One DER TLV: tag, content, rest. Definite lengths up to 4 bytes only.
fn tlv(input: &[u8]) -> Option<(u8, &[u8], &[u8])> {
    let (&tag, rest) = input.split_first()?;
    let (&first, rest) = rest.split_first()?;
    let (len, rest) = if first < 0x80 {
        (usize::from(first), rest)
    } else {
        let n = usize::from(first & 0x7f);
        if n == 0 || n > 4 {
            return None;
        }
        let (bytes, rest) = rest.split_at_checked(n)?;
        let len = bytes
            .iter()
            .fold(0usize, |acc, &b| (acc << 8) | usize::from(b));
        (len, rest)
    };
    let (content, rest) = rest.split_at_checked(len)?;
    Some((tag, content, rest))
}

/// Classifies an RSA PKCS#8 document (see [`RsaPkcs8`]). A document that
/// does not parse is `Other`, so ring reports the encoding error.
pub(super) fn classify_rsa(pkcs8: &[u8]) -> RsaPkcs8<'_> {
    classify(pkcs8).unwrap_or(RsaPkcs8::Other)
}

fn classify(pkcs8: &[u8]) -> Option<RsaPkcs8<'_>> {
    let (SEQUENCE, info, []) = tlv(pkcs8)? else {
        return None;
    };
    // Version 0 (v1) or 1 (v2, RFC 5958 OneAsymmetricKey).
    let (INTEGER, [0 | 1], rest) = tlv(info)? else {
        return None;
    };
    let (SEQUENCE, algorithm, rest) = tlv(rest)? else {
        return None;
    };
    let (OID, oid, params) = tlv(algorithm)? else {
        return None;
    };
    if oid != ID_RSASSA_PSS {
        return Some(RsaPkcs8::Other);
    }
    if !params.is_empty() {
        return Some(RsaPkcs8::PssRestricted);
    }
    // Attributes or a public key may follow (v2); ring checks the key itself.
    let (OCTET_STRING, private_key, _) = tlv(rest)? else {
        return None;
    };
    Some(RsaPkcs8::PssUnrestricted(private_key))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rsa_encryption_is_left_to_ring() {
        // SEQUENCE { INTEGER 0, SEQUENCE { OID rsaEncryption, NULL }, OCTET STRING {} }
        let doc = [
            0x30, 0x14, 0x02, 0x01, 0x00, 0x30, 0x0d, 0x06, 0x09, 0x2a, 0x86, 0x48, 0x86, 0xf7,
            0x0d, 0x01, 0x01, 0x01, 0x05, 0x00, 0x04, 0x00,
        ];
        assert_eq!(classify_rsa(&doc), RsaPkcs8::Other);
    }

    #[test]
    fn pss_without_parameters_yields_the_inner_key() {
        let doc = [
            0x30, 0x14, 0x02, 0x01, 0x00, 0x30, 0x0b, 0x06, 0x09, 0x2a, 0x86, 0x48, 0x86, 0xf7,
            0x0d, 0x01, 0x01, 0x0a, 0x04, 0x02, 0xab, 0xcd,
        ];
        assert_eq!(classify_rsa(&doc), RsaPkcs8::PssUnrestricted(&[0xab, 0xcd]));
    }

    #[test]
    fn pss_with_parameters_is_restricted() {
        let doc = [
            0x30, 0x16, 0x02, 0x01, 0x00, 0x30, 0x0d, 0x06, 0x09, 0x2a, 0x86, 0x48, 0x86, 0xf7,
            0x0d, 0x01, 0x01, 0x0a, 0x30, 0x00, 0x04, 0x02, 0xab, 0xcd,
        ];
        assert_eq!(classify_rsa(&doc), RsaPkcs8::PssRestricted);
    }

    #[test]
    fn truncated_and_overlong_inputs_do_not_parse() {
        // Empty, truncated, 5-byte length, short content, version 2.
        let version_2 = [
            0x30, 0x14, 0x02, 0x01, 0x02, 0x30, 0x0b, 0x06, 0x09, 0x2a, 0x86, 0x48, 0x86, 0xf7,
            0x0d, 0x01, 0x01, 0x0a, 0x04, 0x02, 0xab, 0xcd,
        ];
        for doc in [
            &[][..],
            &[0x30],
            &[0x30, 0x85, 1, 2, 3, 4, 5],
            &[0x30, 0x05, 0x02],
            &version_2,
        ] {
            assert_eq!(classify_rsa(doc), RsaPkcs8::Other);
        }
    }
}
