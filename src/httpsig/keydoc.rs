//! The key documents RFC 9421 deployments pass around, read with the
//! RustCrypto `der` / `spki` / `pkcs8` crates (strict DER: minimal lengths,
//! minimal integers, no trailing data), down to the key ring takes:
//! - a PKCS#8 `PrivateKeyInfo` (RFC 5958 §2) whose algorithm is
//!   `id-RSASSA-PSS` (RFC 4055 §3.1, RFC 8017 A.2.3), as RFC 9421 B.1.2 and
//!   `openssl genpkey -algorithm RSA-PSS` produce: ring reads only
//!   `rsaEncryption`, so the inner `RSAPrivateKey` is handed to it directly;
//! - which kind of private key document a DER is: PKCS#8, PKCS#1
//!   `RSAPrivateKey` (RFC 8017 A.1.2, ring reads it) or SEC 1
//!   `ECPrivateKey` (RFC 5915 §3, B.1.3's form), whose parts are returned;
//! - an X.509 `SubjectPublicKeyInfo` (RFC 5280 §4.1.2.7) or a PKCS#1
//!   `RSAPublicKey` (RFC 8017 A.1.1).
//!
//! PEM stays a short reader over the `base64` crate's strict engine:
//! `rustls-pki-types` (which reads the private keys of `crypto::SigningKey`)
//! skips labels it does not know, and `RSA PUBLIC KEY` (B.1.1's form) is one.

use base64::Engine as _;
use der::asn1::{AnyRef, BitStringRef, ObjectIdentifier, OctetStringRef, UintRef};
use der::{Decode as _, Reader as _, SliceReader, Tag, TagMode, TagNumber};
use pkcs8::PrivateKeyInfoRef;
use spki::SubjectPublicKeyInfoRef;

use crate::secret::Secret;

/// `id-RSASSA-PSS`, 1.2.840.113549.1.1.10.
const ID_RSASSA_PSS: ObjectIdentifier = ObjectIdentifier::new_unwrap("1.2.840.113549.1.1.10");
/// `rsaEncryption`, 1.2.840.113549.1.1.1.
const RSA_ENCRYPTION: ObjectIdentifier = ObjectIdentifier::new_unwrap("1.2.840.113549.1.1.1");
/// `id-ecPublicKey`, 1.2.840.10045.2.1 (RFC 5480 §2.1.1).
const ID_EC_PUBLIC_KEY: ObjectIdentifier = ObjectIdentifier::new_unwrap("1.2.840.10045.2.1");
/// `secp256r1` (P-256), 1.2.840.10045.3.1.7.
const SECP256R1: ObjectIdentifier = ObjectIdentifier::new_unwrap("1.2.840.10045.3.1.7");
/// `secp384r1` (P-384), 1.3.132.0.34.
const SECP384R1: ObjectIdentifier = ObjectIdentifier::new_unwrap("1.3.132.0.34");
/// `id-Ed25519`, 1.3.101.112 (RFC 8410 §3).
const ID_ED25519: ObjectIdentifier = ObjectIdentifier::new_unwrap("1.3.101.112");

/// A named curve of `id-ecPublicKey`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Curve {
    P256,
    P384,
}

impl Curve {
    fn from_oid(oid: ObjectIdentifier) -> Result<Self, String> {
        match oid {
            o if o == SECP256R1 => Ok(Curve::P256),
            o if o == SECP384R1 => Ok(Curve::P384),
            _ => Err("an EC key on a curve other than P-256 or P-384".into()),
        }
    }

    pub(super) fn name(self) -> &'static str {
        match self {
            Curve::P256 => "P-256",
            Curve::P384 => "P-384",
        }
    }
}

/// The public key inside a `SubjectPublicKeyInfo` or `RSAPublicKey`.
#[derive(Debug, PartialEq, Eq)]
pub(super) enum PublicKey<'a> {
    /// `rsaEncryption`, or a bare PKCS#1 `RSAPublicKey`: modulus and
    /// exponent as unsigned big-endian bytes.
    Rsa { n: &'a [u8], e: &'a [u8] },
    /// `id-RSASSA-PSS`; `restricted` when parameters limit its use.
    RsaPss {
        n: &'a [u8],
        e: &'a [u8],
        restricted: bool,
    },
    /// `id-ecPublicKey`: the curve and the SEC 1 point as sent.
    Ec { curve: Curve, point: &'a [u8] },
    /// `id-Ed25519`: the 32-byte key (length checked by the caller).
    Ed25519(&'a [u8]),
}

/// Reads a `SubjectPublicKeyInfo` or a PKCS#1 `RSAPublicKey`.
///
/// # Errors
/// What the document is not, for the caller's error message.
pub(super) fn public_key(doc: &[u8]) -> Result<PublicKey<'_>, String> {
    if let Ok((n, e)) = rsa_public_key(doc) {
        return Ok(PublicKey::Rsa { n, e });
    }
    let spki = SubjectPublicKeyInfoRef::from_der(doc)
        .map_err(|_| "not a SubjectPublicKeyInfo or PKCS#1 RSAPublicKey (DER)")?;
    let key = spki
        .subject_public_key
        .as_bytes()
        .ok_or("the public key BIT STRING has unused bits")?;
    let params = spki.algorithm.parameters;
    match spki.algorithm.oid {
        o if o == RSA_ENCRYPTION => {
            if params.is_some_and(|p| !p.is_null()) {
                return Err("rsaEncryption with parameters other than NULL".into());
            }
            let (n, e) =
                rsa_public_key(key).map_err(|_| "the RSAPublicKey inside does not parse")?;
            Ok(PublicKey::Rsa { n, e })
        }
        o if o == ID_RSASSA_PSS => {
            let (n, e) =
                rsa_public_key(key).map_err(|_| "the RSAPublicKey inside does not parse")?;
            Ok(PublicKey::RsaPss {
                n,
                e,
                restricted: params.is_some(),
            })
        }
        o if o == ID_EC_PUBLIC_KEY => {
            let curve = params
                .and_then(|p| p.decode_as::<ObjectIdentifier>().ok())
                .ok_or("EC key without a named curve")?;
            Ok(PublicKey::Ec {
                curve: Curve::from_oid(curve)?,
                point: key,
            })
        }
        o if o == ID_ED25519 => match params {
            None => Ok(PublicKey::Ed25519(key)),
            Some(_) => Err("id-Ed25519 with parameters (RFC 8410 §3 forbids them)".into()),
        },
        _ => Err("a key algorithm other than RSA, EC P-256 / P-384 or Ed25519".into()),
    }
}

/// `RSAPublicKey ::= SEQUENCE { modulus INTEGER, publicExponent INTEGER }`,
/// both positive.
fn rsa_public_key(doc: &[u8]) -> der::Result<(&[u8], &[u8])> {
    let mut reader = SliceReader::new(doc)?;
    let numbers = reader.sequence(|r| {
        let n = UintRef::decode(r)?;
        let e = UintRef::decode(r)?;
        Ok::<_, der::Error>((n.as_bytes(), e.as_bytes()))
    })?;
    reader.finish()?;
    Ok(numbers)
}

/// Which private key document a DER is.
#[derive(Debug, PartialEq, Eq)]
pub(super) enum PrivateKey<'a> {
    /// PKCS#8 `PrivateKeyInfo` / `OneAsymmetricKey`.
    Pkcs8,
    /// PKCS#1 `RSAPrivateKey` (ring reads the rest).
    Pkcs1,
    /// SEC 1 `ECPrivateKey`: the scalar, the curve if named, the public
    /// point if present.
    Sec1 {
        scalar: &'a [u8],
        curve: Option<Curve>,
        point: Option<&'a [u8]>,
    },
}

/// The parts of a SEC 1 `ECPrivateKey` (RFC 5915 §3), as decoded.
type Sec1Parts<'a> = (&'a [u8], Option<ObjectIdentifier>, Option<BitStringRef<'a>>);

/// Tells PKCS#8, PKCS#1 and SEC 1 private keys apart: a document the
/// `pkcs8` crate reads, else by the element after the version (the
/// modulus, the private key octets).
///
/// # Errors
/// What the document is not, for the caller's error message.
pub(super) fn private_key(doc: &[u8]) -> Result<PrivateKey<'_>, String> {
    if PrivateKeyInfoRef::from_der(doc).is_ok() {
        return Ok(PrivateKey::Pkcs8);
    }
    // der's error text (the position) is left out: its Display is a few
    // KB of a Worker for a message that names no more than this one.
    let not = |_: der::Error| "not a PKCS#8, PKCS#1 RSAPrivateKey or SEC 1 ECPrivateKey (DER)";
    let mut reader = SliceReader::new(doc).map_err(not)?;
    let parts: Option<Sec1Parts<'_>> = reader
        .sequence(|r| -> der::Result<_> {
            let version = UintRef::decode(r)?;
            match (Tag::peek(r)?, version.as_bytes()) {
                (Tag::Integer, _) => {
                    // PKCS#1: ring reads (and checks) the numbers.
                    while !r.is_finished() {
                        AnyRef::decode(r)?;
                    }
                    Ok(None)
                }
                (Tag::OctetString, [1]) => {
                    let scalar = <&OctetStringRef>::decode(r)?.as_bytes();
                    let curve =
                        r.context_specific::<ObjectIdentifier>(TagNumber(0), TagMode::Explicit)?;
                    let point =
                        r.context_specific::<BitStringRef<'_>>(TagNumber(1), TagMode::Explicit)?;
                    Ok(Some((scalar, curve, point)))
                }
                (tag, _) => Err(tag.unexpected_error(None).into()),
            }
        })
        .map_err(not)?;
    reader.finish().map_err(not)?;
    let Some((scalar, curve, point)) = parts else {
        return Ok(PrivateKey::Pkcs1);
    };
    let point = match point {
        None => None,
        Some(bits) => Some(
            bits.as_bytes()
                .ok_or("the public key BIT STRING has unused bits")?,
        ),
    };
    Ok(PrivateKey::Sec1 {
        scalar,
        curve: curve.map(Curve::from_oid).transpose()?,
        point,
    })
}

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

/// Classifies an RSA PKCS#8 document (see [`RsaPkcs8`]). A document that
/// does not parse is `Other`, so ring reports the encoding error.
pub(super) fn classify_rsa(pkcs8: &[u8]) -> RsaPkcs8<'_> {
    let Ok(info) = PrivateKeyInfoRef::from_der(pkcs8) else {
        return RsaPkcs8::Other;
    };
    if info.algorithm.oid != ID_RSASSA_PSS {
        return RsaPkcs8::Other;
    }
    if info.algorithm.parameters.is_some() {
        return RsaPkcs8::PssRestricted;
    }
    RsaPkcs8::PssUnrestricted(info.private_key.as_bytes())
}

/// The label and decoded contents of the first PEM block in `text` (RFC
/// 7468 §2, read laxly as §3 allows: text around the block, whitespace
/// inside it). The contents are returned as a [`Secret`]: for private keys
/// they are one.
///
/// # Errors
/// No block, no matching END line, encapsulated headers (legacy encrypted
/// PEM) or invalid base64; the message never quotes the contents.
pub(super) fn pem(text: &str) -> Result<(&str, Secret<Vec<u8>>), String> {
    const BEGIN: &str = "-----BEGIN ";
    let start = text
        .find(BEGIN)
        .ok_or("no `-----BEGIN ...-----` line: not PEM")?;
    let rest = text
        .get(start.saturating_add(BEGIN.len())..)
        .unwrap_or_default();
    let (label, rest) = rest
        .split_once("-----")
        .ok_or("the BEGIN line does not end with `-----`")?;
    if label.contains(['\n', '\r']) {
        return Err("the BEGIN line does not end with `-----`".into());
    }
    let end = format!("-----END {label}-----");
    let (body, _) = rest
        .split_once(end.as_str())
        .ok_or_else(|| format!("no `{end}` line"))?;
    if body.contains(':') {
        return Err(format!(
            "the `{label}` block has headers (`Proc-Type: 4,ENCRYPTED` ...): encrypted PEM is \
             not supported; decrypt it first (`openssl pkey`)"
        ));
    }
    let b64 = Secret::new(
        body.chars()
            .filter(|c| !c.is_ascii_whitespace())
            .collect::<String>(),
    );
    let der = base64::engine::general_purpose::STANDARD
        .decode(b64.expose())
        .map_err(|_| format!("the `{label}` block is not valid base64"))?;
    Ok((label, Secret::new(der)))
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

    /// SPKI for Ed25519 (RFC 8410 §10.1's example key).
    const ED25519_SPKI: [u8; 44] = [
        0x30, 0x2a, 0x30, 0x05, 0x06, 0x03, 0x2b, 0x65, 0x70, 0x03, 0x21, 0x00, 0x19, 0xbf, 0x44,
        0x09, 0x69, 0x84, 0xcd, 0xfe, 0x85, 0x41, 0xba, 0xc1, 0x67, 0xdc, 0x3b, 0x96, 0xc8, 0x50,
        0x86, 0xaa, 0x30, 0xb6, 0xb6, 0xcb, 0x0c, 0x5c, 0x38, 0xad, 0x70, 0x31, 0x66, 0xe1,
    ];

    #[test]
    fn public_keys_are_told_apart() {
        assert!(matches!(
            public_key(&ED25519_SPKI),
            Ok(PublicKey::Ed25519(k)) if k.len() == 32
        ));
        // RSAPublicKey { n = 0x00c5, e = 3 } bare, and inside rsaEncryption.
        let pkcs1 = [0x30, 0x07, 0x02, 0x02, 0x00, 0xc5, 0x02, 0x01, 0x03];
        // The modulus' sign byte is not part of the number.
        let rsa = PublicKey::Rsa {
            n: &[0xc5],
            e: &[0x03],
        };
        assert_eq!(public_key(&pkcs1), Ok(rsa));
        let mut spki = vec![0x30, 0x1b, 0x30, 0x0d, 0x06, 0x09];
        spki.extend(RSA_ENCRYPTION.as_bytes());
        spki.extend([0x05, 0x00, 0x03, 0x0a, 0x00]);
        spki.extend(pkcs1);
        assert_eq!(
            public_key(&spki),
            Ok(PublicKey::Rsa {
                n: &[0xc5],
                e: &[0x03],
            })
        );
    }

    #[test]
    fn malformed_public_keys_are_errors() {
        let mut unused_bits = ED25519_SPKI;
        unused_bits[11] = 1;
        let mut other_oid = ED25519_SPKI;
        other_oid[8] = 0x71; // 1.3.101.113, Ed448
        let mut trailing = ED25519_SPKI.to_vec();
        trailing.push(0);
        for (doc, why) in [
            (&unused_bits[..], "unused bits"),
            (&other_oid[..], "other than"),
            (&trailing[..], "not a SubjectPublicKeyInfo"),
            (&ED25519_SPKI[..43], "not a SubjectPublicKeyInfo"),
            (&[][..], "not a SubjectPublicKeyInfo"),
        ] {
            match public_key(doc) {
                Err(m) => assert!(m.contains(why), "{m}"),
                Ok(k) => panic!("{k:?}"),
            }
        }
    }

    #[test]
    fn private_key_forms_are_told_apart() {
        // PKCS#8 (AlgorithmIdentifier second), PKCS#1 (modulus second).
        // (An AlgorithmIdentifier needs its OID: id-Ed25519 here.)
        let pkcs8 = [
            0x30, 0x0c, 0x02, 0x01, 0x00, 0x30, 0x05, 0x06, 0x03, 0x2b, 0x65, 0x70, 0x04, 0x00,
        ];
        assert_eq!(private_key(&pkcs8), Ok(PrivateKey::Pkcs8));
        let pkcs1 = [0x30, 0x06, 0x02, 0x01, 0x00, 0x02, 0x01, 0x05];
        assert_eq!(private_key(&pkcs1), Ok(PrivateKey::Pkcs1));
        // SEC 1: version 1, scalar, [0] P-256, [1] point.
        let mut sec1 = vec![
            0x30, 0x18, 0x02, 0x01, 0x01, 0x04, 0x01, 0x07, 0xa0, 0x0a, 0x06, 0x08,
        ];
        sec1.extend(SECP256R1.as_bytes());
        sec1.extend([0xa1, 0x04, 0x03, 0x02, 0x00, 0x04]);
        assert_eq!(
            private_key(&sec1),
            Ok(PrivateKey::Sec1 {
                scalar: &[0x07],
                curve: Some(Curve::P256),
                point: Some(&[0x04]),
            })
        );
        // SEC 1 version 0, an unknown tagged member, trailing bytes.
        let mut v0 = sec1.clone();
        v0[4] = 0;
        let mut tagged = sec1.clone();
        tagged[20] = 0xa2;
        let mut trailing = sec1.clone();
        trailing[1] += 1;
        trailing.push(0);
        for doc in [v0, tagged, trailing] {
            assert!(private_key(&doc).is_err(), "{doc:02x?}");
        }
    }

    #[test]
    fn pem_blocks_are_found_and_checked() {
        let (label, der) = pem("x\n-----BEGIN A B-----\r\nAAE=\r\n-----END A B-----\n").unwrap();
        assert_eq!((label, der.expose().as_slice()), ("A B", &[0u8, 1][..]));
        for (text, why) in [
            ("AAE=", "not PEM"),
            ("-----BEGIN A\nAAE=", "does not end"),
            (
                "-----BEGIN A-----\nAAE=\n-----END B-----",
                "no `-----END A-----` line",
            ),
            (
                "-----BEGIN A-----\nAAF=\n-----END A-----",
                "not valid base64",
            ),
            (
                "-----BEGIN A-----\nDEK-Info: x\nAAE=\n-----END A-----",
                "encrypted",
            ),
        ] {
            match pem(text) {
                Err(m) => assert!(m.contains(why), "{text:?}: {m}"),
                Ok((l, _)) => panic!("{text:?} read as {l}"),
            }
        }
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

    #[test]
    fn non_minimal_der_lengths_are_refused() {
        // The Ed25519 SPKI's outer length 0x2a as `81 2a` (long form under
        // 128) and `82 00 2a` (a leading zero length byte).
        let body = &ED25519_SPKI[2..];
        for prefix in [&[0x30, 0x81, 0x2a][..], &[0x30, 0x82, 0x00, 0x2a][..]] {
            let doc = [prefix, body].concat();
            assert!(public_key(&doc).is_err(), "{prefix:02x?}");
        }
        // An inner length too: the BIT STRING's `21` as `81 21`.
        let mut inner = vec![0x30, 0x2b];
        inner.extend(&ED25519_SPKI[2..10]);
        inner.extend([0x81, 0x21]);
        inner.extend(&ED25519_SPKI[11..]);
        assert!(public_key(&inner).is_err());
        // PKCS#1 `RSAPublicKey` and PKCS#8 with `81 05`-style lengths.
        let pkcs1 = [0x30, 0x81, 0x07, 0x02, 0x02, 0x00, 0xc5, 0x02, 0x01, 0x03];
        assert!(public_key(&pkcs1).is_err());
        let pss = [
            0x30, 0x81, 0x14, 0x02, 0x01, 0x00, 0x30, 0x0b, 0x06, 0x09, 0x2a, 0x86, 0x48, 0x86,
            0xf7, 0x0d, 0x01, 0x01, 0x0a, 0x04, 0x02, 0xab, 0xcd,
        ];
        assert_eq!(classify_rsa(&pss), RsaPkcs8::Other);
        assert!(private_key(&pss).is_err());
        // The minimal form of the same document parses.
        assert!(public_key(&ED25519_SPKI).is_ok());
    }

    #[test]
    fn non_minimal_integers_are_refused() {
        // `02 02 00 45`: a zero byte before a positive number under 0x80.
        let pkcs1 = [0x30, 0x07, 0x02, 0x02, 0x00, 0x45, 0x02, 0x01, 0x03];
        assert!(public_key(&pkcs1).is_err());
        // A negative modulus.
        let negative = [0x30, 0x06, 0x02, 0x01, 0xc5, 0x02, 0x01, 0x03];
        assert!(public_key(&negative).is_err());
    }
}
