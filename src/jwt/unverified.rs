//! `Unverified`: a compact JWS (RFC 7515 §7.1) split, decoded and its
//! header parsed once, before anything is verified, so that a gateway can
//! choose the issuer and the key set by `iss`, `tid`, `kid` and `alg` and
//! then verify without parsing again (RFC 8725 §3.1 order kept: the `alg`
//! allow-list is checked before any key is touched).

use std::marker::PhantomData;
use std::ops::Range;
use std::sync::OnceLock;

use crate::jose::Algorithm;
use serde::de::{DeserializeOwned, DeserializeSeed};

use super::claims::{self, Captured};
use super::compact;
use super::error::{JwtError, Part};
use super::header::{self, Alg, Slot};
use super::validate::{Claims, Validator};
use crate::jwk::KeySet;

/// The largest signature: RSA-8192.
const SIG_BUF: usize = 1024 + 8;

/// The `iss` and `tid` claims, read on first request.
type Selection = Result<(Option<String>, Option<String>), JwtError>;

/// A compact JWS parsed but **not verified**: from
/// [`Validator::parse`] or [`Unverified::parse`].
///
/// Its `alg`, `kid`, `iss` and `tid` are what the sender claims. Use them
/// only to choose the issuer and key set, then call
/// [`verify`](Self::verify); never to authorize or to log as fact.
///
/// ```
/// use edge_auth::jwk::KeySet;
/// use edge_auth::jwt::{Algorithm, Unverified, Validation, Validator};
/// use jsonwebtoken::{EncodingKey, Header, encode};
///
/// # let secret = [7u8; 32];
/// # let token = encode(&Header::new(jsonwebtoken::Algorithm::HS256), &serde_json::json!({
/// #     "iss": "https://b.example", "exp": 1_795_428_600,
/// # }), &EncodingKey::from_secret(&secret))?;
/// let mut validation = Validation::default();
/// validation.algorithms = vec![Algorithm::HS256];
/// validation.issuers = vec!["https://b.example".into()];
/// let b = Validator::new(validation.clone());
/// validation.issuers = vec!["https://a.example".into()];
/// let a = Validator::new(validation);
///
/// // Parsed once, whatever the number of issuers.
/// let token = Unverified::parse(&token, 8 * 1024)?;
/// let validator = match token.iss().ok().flatten() {
///     Some("https://a.example") => &a,
///     _ => &b,
/// };
/// let keys = KeySet::from_hmac_secret(&secret, None)?; // that issuer's keys
/// let now = time::macros::datetime!(2026-11-23 10:00 UTC);
/// let claims = token.verify::<serde_json::Value>(validator, &keys, now)?;
/// assert_eq!(claims.typed()["iss"], "https://b.example");
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
#[must_use = "an unverified token proves nothing until `verify` succeeds"]
pub struct Unverified<'t> {
    token: &'t str,
    seg: compact::Segments<'t>,
    alg: Alg,
    /// `alg` as sent (`Ed25519` is refused by that name, not as `EdDSA`).
    alg_name: Slot,
    kid: Slot,
    typ: Slot,
    /// The decoded header, then the decoded payload from `payload_at`,
    /// then room for the signature.
    decoded: Vec<u8>,
    payload_at: usize,
    signature_at: usize,
    /// The payload's decoded length, or its decoding error, reported in
    /// its turn (after the key and the signature's encoding).
    payload: Result<usize, JwtError>,
    selection: OnceLock<Selection>,
}

// The token is a bearer credential: Debug shows the header's choices and
// sizes, never the token, its claims or its signature.
impl std::fmt::Debug for Unverified<'_> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Unverified")
            .field("alg", &self.alg)
            .field("kid", &self.kid())
            .field("typ", &self.typ())
            .field("token_bytes", &self.token.len())
            .finish_non_exhaustive()
    }
}

impl<'t> Unverified<'t> {
    /// Splits `token`, decodes its header and payload and parses the header.
    /// Nothing is verified and no policy is applied, except that `none` and
    /// algorithms this crate does not implement are refused.
    ///
    /// # Errors
    /// [`JwtError::TooLarge`] over `max_token_size`; [`JwtError::Malformed`]
    /// for a token that is not three strict base64url segments with a JSON
    /// object header (a JWE is refused as such, before its header is read);
    /// [`JwtError::UnsupportedHeader`] for `crit` / `b64: false`;
    /// [`JwtError::Unsecured`] / [`JwtError::UnsupportedAlgorithm`] for the
    /// `alg`. A malformed payload is reported by [`verify`](Self::verify),
    /// in its turn.
    pub fn parse(token: &'t str, max_token_size: usize) -> Result<Self, JwtError> {
        let seg = compact::split(token, max_token_size)?;
        // Header, payload and signature decode into one buffer: one
        // allocation (kept by `Claims`), no zeroed stack buffers. A segment
        // of impossible length gets no room; decoding it reports that.
        let room = |segment: &str| compact::decoded_len(segment.len()).unwrap_or(0);
        let (h_room, p_room) = (room(seg.header), room(seg.payload));
        let s_room = room(seg.signature).min(SIG_BUF);
        // The three lengths add up to less than the token's: no overflow,
        // and the splits below are in range.
        let mut decoded = vec![0u8; h_room.saturating_add(p_room).saturating_add(s_room)];
        let Some((hbuf, rest)) = decoded.split_at_mut_checked(h_room) else {
            return Err(JwtError::malformed(Part::Token, "segment lengths overflow"));
        };
        let Some((pbuf, _)) = rest.split_at_mut_checked(p_room) else {
            return Err(JwtError::malformed(Part::Token, "segment lengths overflow"));
        };
        // The payload is decoded first because that pass is also the scan
        // for extra segments (a JWE must be refused as such before its
        // header is read); its other errors wait for their turn.
        let payload = match seg.decode_payload_into(pbuf) {
            Err(
                e @ JwtError::Malformed {
                    part: Part::Token, ..
                },
            ) => return Err(e),
            decoded => decoded,
        };
        let h_len = compact::decode_into(seg.header, hbuf, Part::Header)?;
        let hdr = header::parse(hbuf.get(..h_len).unwrap_or_default())?;
        let alg = resolve_alg(&hdr.alg)?;
        // `hbuf` starts `decoded`: offsets in one are offsets in the other.
        let alg_name = Slot::from_header(Some(hdr.alg), hbuf);
        let kid = Slot::from_header(hdr.kid, hbuf);
        let typ = Slot::from_header(hdr.typ, hbuf);
        Ok(Self {
            token,
            seg,
            alg,
            alg_name,
            kid,
            typ,
            decoded,
            payload_at: h_room,
            signature_at: h_room.saturating_add(p_room),
            payload,
            selection: OnceLock::new(),
        })
    }

    /// The header `alg` (unverified).
    pub fn alg(&self) -> Algorithm {
        self.alg
    }

    /// The header `kid` (unverified).
    pub fn kid(&self) -> Option<&str> {
        self.kid.as_str(&self.decoded)
    }

    /// The header `typ` (unverified).
    pub fn typ(&self) -> Option<&str> {
        self.typ.as_str(&self.decoded)
    }

    /// The `iss` claim when it is a string (unverified), read from the
    /// payload on first call.
    ///
    /// # Errors
    /// The payload's decoding or claims-set error (it is not a JSON object
    /// with unique members): the token would be refused by
    /// [`verify`](Self::verify) too.
    pub fn iss(&self) -> Result<Option<&str>, &JwtError> {
        self.selection().map(|(iss, _)| iss.as_deref())
    }

    /// The `tid` claim (Entra ID tenant) when it is a string (unverified).
    ///
    /// # Errors
    /// As [`iss`](Self::iss).
    pub fn tid(&self) -> Result<Option<&str>, &JwtError> {
        self.selection().map(|(_, tid)| tid.as_deref())
    }

    fn selection(&self) -> Result<&(Option<String>, Option<String>), &JwtError> {
        self.selection
            .get_or_init(|| {
                let payload = match &self.payload {
                    Ok(len) => self
                        .decoded
                        .get(self.payload_at..self.payload_at.saturating_add(*len))
                        .unwrap_or_default(),
                    // The decoding error again, owned (the original waits
                    // for its turn in `verify`).
                    Err(_) => {
                        return Err(self.seg.decode_payload().err().unwrap_or_else(|| {
                            JwtError::malformed(Part::Claims, "payload is not base64url")
                        }));
                    }
                };
                let claims = claims::parse_registered(payload)?;
                let string = |name: &str| {
                    claims
                        .get(name)
                        .and_then(Captured::as_str)
                        .map(str::to_owned)
                };
                Ok((string("iss"), string("tid")))
            })
            .as_ref()
    }

    /// Checks the token against `validator`'s size limit and `alg`
    /// allow-list, and returns the `alg`: call it before looking up keys,
    /// so that an `alg` the policy refuses never reaches a key set or a
    /// cache (RFC 8725 §3.1). [`verify`](Self::verify) checks it again.
    ///
    /// # Errors
    /// [`JwtError::TooLarge`] over the validator's `max_token_size`;
    /// [`JwtError::AlgorithmNotAllowed`].
    pub fn check_alg(&self, validator: &Validator) -> Result<Algorithm, JwtError> {
        let max = validator.validation().max_token_size;
        if self.token.len() > max {
            return Err(JwtError::TooLarge {
                len: self.token.len(),
                max,
            });
        }
        if !validator.allows(self.alg) {
            return Err(JwtError::AlgorithmNotAllowed {
                alg: self
                    .alg_name
                    .as_str(&self.decoded)
                    .unwrap_or(self.alg.name())
                    .to_owned(),
            });
        }
        Ok(self.alg)
    }

    /// Verifies the token with `validator`'s policy against `keys` at time
    /// `now` and reads its claims into `C`: the steps of
    /// [`Validator::validate`] after parsing, in the same order (size and
    /// `alg` allow-list, the key by `kid` and `alg`, the signature, `typ`,
    /// then the claims).
    ///
    /// # Errors
    /// A [`JwtError`] naming the first check that failed.
    pub fn verify<C: DeserializeOwned>(
        self,
        validator: &Validator,
        keys: &KeySet,
        now: time::OffsetDateTime,
    ) -> Result<Claims<C>, JwtError> {
        self.verify_seeded(validator, keys, now, PhantomData::<C>)
    }

    /// [`verify`](Self::verify) reading the claims object with `seed`
    /// (which sees it as `C` would).
    pub(crate) fn verify_seeded<C, S>(
        self,
        validator: &Validator,
        keys: &KeySet,
        now: time::OffsetDateTime,
        seed: S,
    ) -> Result<Claims<C>, JwtError>
    where
        S: for<'de> DeserializeSeed<'de, Value = C>,
    {
        let (alg, kid, decoded, payload) = self.verify_signature(validator, keys)?;
        validator.read_claims(alg, kid, decoded, payload, now, seed)
    }

    /// The signature check alone (up to and including `typ`): the decoded
    /// buffer (header and payload) and the payload's range in it.
    pub(super) fn verify_signature(
        self,
        validator: &Validator,
        keys: &KeySet,
    ) -> Result<(Alg, Slot, Vec<u8>, Range<usize>), JwtError> {
        self.check_alg(validator)?;
        let Self {
            seg,
            alg,
            kid,
            typ,
            mut decoded,
            payload_at,
            signature_at,
            payload,
            ..
        } = self;
        let key = keys.find(kid.as_str(&decoded), alg)?;
        let at = signature_at.min(decoded.len());
        let sbuf = decoded.get_mut(at..).unwrap_or_default();
        let sig_len = compact::decode_into(seg.signature, sbuf, Part::Signature)?;
        let sig = sbuf.get(..sig_len).unwrap_or_default();
        if sig.is_empty() {
            return Err(JwtError::malformed(Part::Signature, "signature is empty"));
        }
        let p_len = payload?;
        key.verify(alg, seg.signing_input.as_bytes(), sig)?;
        if let Some(expected) = &validator.validation().typ {
            let seen = typ.as_str(&decoded);
            if !typ_matches(expected, seen) {
                return Err(JwtError::TypeMismatch {
                    expected: expected.clone(),
                    seen: seen.map(str::to_owned),
                });
            }
        }
        // The signature is not kept.
        let payload = payload_at..payload_at.saturating_add(p_len);
        decoded.truncate(payload.end);
        Ok((alg, kid, decoded, payload))
    }
}

fn resolve_alg(name: &str) -> Result<Alg, JwtError> {
    if name.eq_ignore_ascii_case("none") {
        return Err(JwtError::Unsecured {
            alg: name.to_owned(),
        });
    }
    Alg::from_name(name).ok_or_else(|| JwtError::UnsupportedAlgorithm {
        alg: name.to_owned(),
    })
}

pub(super) fn typ_matches(expected: &str, seen: Option<&str>) -> bool {
    fn strip(t: &str) -> &str {
        match t.get(..12) {
            Some(p) if p.eq_ignore_ascii_case("application/") => t.get(12..).unwrap_or_default(),
            _ => t,
        }
    }
    seen.is_some_and(|s| strip(s).eq_ignore_ascii_case(strip(expected)))
}

impl Validator {
    /// Parses `token` (within this validator's `max_token_size`) for
    /// [`Unverified::verify`]: the first half of [`validate`](Self::validate),
    /// for callers that choose the key set (or the validator) by the token's
    /// unverified `kid`, `alg`, `iss` or `tid`. With several validators,
    /// parse once with [`Unverified::parse`] and the largest limit.
    ///
    /// # Errors
    /// As [`Unverified::parse`].
    pub fn parse<'t>(&self, token: &'t str) -> Result<Unverified<'t>, JwtError> {
        Unverified::parse(token, self.validation().max_token_size)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn typ_compare() {
        assert!(typ_matches("at+jwt", Some("application/AT+JWT")));
        assert!(typ_matches("application/at+jwt", Some("at+jwt")));
        assert!(!typ_matches("at+jwt", Some("JWT")));
        assert!(!typ_matches("at+jwt", None));
    }
}
