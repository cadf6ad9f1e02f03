//! Sealed state: state the edge keeps outside its process (issuer keys in
//! Workers KV or Redis, later token caches and limiter state) encrypted and
//! authenticated with an AEAD under a key derived from an operator secret.
//!
//! # What is protected, and what is not
//!
//! A [`Sealer`] protects the **integrity and confidentiality of state at
//! rest** against parties who can read or write the store (another Worker
//! bound to the same KV namespace, an operator tool, a leaked store API
//! token, anyone with access to the Redis instance) but do not hold the
//! secret: they can neither read a sealed blob nor write one that opens,
//! so they cannot plant a signing key or read a cached token. A blob is
//! bound to its *purpose* (what kind of state it is) and its *subject*
//! (which issuer, client or limiter key): a blob sealed for one issuer does
//! not open as another issuer's, nor as another kind of state.
//!
//! It does **not** protect against:
//! - a party that holds the secret, or can change the Worker's or
//!   gateway's code or configuration: it seals what it likes;
//! - replay: a party that can write the store can put back an older blob
//!   sealed for the *same* purpose and subject. For issuer keys this is
//!   bounded only by the no-rollback rule (a key set older than the one a
//!   process holds is ignored), so a process starting cold may accept an
//!   old but once genuine key set until its next refresh;
//! - deletion or withholding of a blob (the caller then refetches);
//! - traffic analysis: the blob's length reveals the plaintext's length.
//!
//! # Blob format
//!
//! ```text
//! version (1 byte, 0x01) | key id (1 byte) | nonce (12 bytes) | ciphertext | tag (16 bytes)
//! ```
//!
//! The text form ([`Sealer::seal_to_string`], [`Sealer::open_str`]) is the
//! blob in unpadded base64url, for text stores such as KV and Redis. The
//! associated data authenticated with the ciphertext is
//! `version | key id | len(purpose) as u64 BE | purpose | len(subject) as u64 BE | subject`;
//! neither purpose nor subject is stored in the blob.
//!
//! # Cryptography
//!
//! - AEAD: ChaCha20-Poly1305 (RFC 8439) from ring. Chosen over AES-256-GCM
//!   because Workers run this code as wasm32, where there is no AES or
//!   carry-less multiply instruction: ring then falls back to constant-time
//!   software AES and GHASH, which are slower than ChaCha20 and Poly1305,
//!   designed for plain integer arithmetic. On servers with AES-NI either
//!   costs little next to the JSON (de)serialisation around it (see
//!   `benches/seal.rs`). Both take 96-bit nonces, so the bound below is the
//!   same.
//! - Key: HKDF-SHA256 (RFC 5869) over the operator secret, with a fixed
//!   salt and the key id in the `info`, so one secret under two key ids
//!   gives unrelated keys. The secret must be at least
//!   [`MIN_SECRET_LEN`] bytes of high entropy (e.g. `openssl rand 32`), not
//!   a password.
//! - Nonces: 96 random bits from ring's `SystemRandom` per seal. Random
//!   nonces collide with probability about n²/2⁹⁷ after n seals, so keep a
//!   key to at most 2³² seals (the NIST SP 800-38D §8.3 bound, collision
//!   chance ≤ 2⁻³³) and rotate well before: state written once per key
//!   refresh stays many orders of magnitude below it.
//!
//! # Rotation
//!
//! A sealer seals with one key and opens with it and any number of older
//! keys ([`Sealer::with_opening_key`]). To rotate: deploy a new key id as
//! the sealing key with the old one still accepted for opening; once every
//! stored blob has been rewritten (or has expired), drop the old key. A
//! blob sealed under a key the sealer no longer holds is refused
//! ([`SealError::UnknownKey`]) and its state treated as absent.
//!
//! ```
//! use edge_auth::Secret;
//! use edge_auth::seal::{SealError, Sealer};
//!
//! let old = Sealer::new(1, &Secret::new(vec![7; 32]))?;
//! let blob = old.seal_to_string("example/v1", "tenant-a", b"state")?;
//!
//! // Rotation: key 2 seals, key 1 still opens.
//! let new = Sealer::new(2, &Secret::new(vec![9; 32]))?
//!     .with_opening_key(1, &Secret::new(vec![7; 32]))?;
//! assert_eq!(new.open_str("example/v1", "tenant-a", &blob)?, b"state");
//! // Another subject's blob does not open.
//! assert!(matches!(
//!     new.open_str("example/v1", "tenant-b", &blob),
//!     Err(SealError::Rejected)
//! ));
//! # Ok::<(), SealError>(())
//! ```

use std::fmt;

use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD as B64;
use ring::aead::{Aad, CHACHA20_POLY1305, LessSafeKey, NONCE_LEN, Nonce, UnboundKey};
use ring::hkdf;
use ring::rand::{SecureRandom, SystemRandom};

use crate::Secret;

/// The blob format version this build writes and reads.
pub const VERSION: u8 = 1;

/// The shortest operator secret accepted, in bytes.
pub const MIN_SECRET_LEN: usize = 32;

/// Bytes before the ciphertext: version, key id and nonce.
pub const HEADER_LEN: usize = 2 + NONCE_LEN;

/// Bytes of the authentication tag after the ciphertext.
pub const TAG_LEN: usize = 16;

/// The default largest plaintext sealed or opened, in bytes (1 MiB): room
/// for a JWKS at the cache's 512 KiB limit after JSON escaping.
pub const DEFAULT_MAX_PLAINTEXT: usize = 1024 * 1024;

/// The purpose under which issuer key state (a
/// [`CacheState`](crate::jwk::cache::CacheState)) is sealed; the subject is
/// the issuer.
pub const PURPOSE_ISSUER_KEYS: &str = "edge-auth/issuer-keys/v1";

/// HKDF salt: fixed and public, it only separates this use of the secret
/// from any other use an operator might (wrongly) make of it.
const HKDF_SALT: &[u8] = b"edge-auth/seal/hkdf-salt/v1";
const HKDF_INFO: &[u8] = b"edge-auth/seal/chacha20-poly1305 key";

/// A blob whose first byte is this is a plain JSON document, not a sealed
/// blob; version numbers never take this value.
const JSON_START: u8 = b'{';

/// Sealing failed, or a blob was refused. Messages never carry secret
/// material or plaintext.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum SealError {
    /// The operator secret is shorter than [`MIN_SECRET_LEN`].
    #[error("sealing secret is `{found}` bytes, at least `{min}` are required")]
    ShortSecret {
        /// The secret's length.
        found: usize,
        /// The minimum length.
        min: usize,
    },
    /// Two keys were given the same key id.
    #[error("sealing key id `{key_id}` is configured twice")]
    DuplicateKeyId {
        /// The repeated key id.
        key_id: u8,
    },
    /// The plaintext or blob is larger than the sealer's limit.
    #[error("{what} is `{len}` bytes, over the limit of `{max}`")]
    TooLarge {
        /// `plaintext`, `sealed blob` or `sealed text`.
        what: &'static str,
        /// Its length.
        len: usize,
        /// The limit.
        max: usize,
    },
    /// The blob is shorter than a header and a tag.
    #[error("sealed blob is `{len}` bytes, shorter than the minimum of `{min}`")]
    Truncated {
        /// The blob's length.
        len: usize,
        /// The minimum length.
        min: usize,
    },
    /// The blob's version byte is not one this build reads.
    #[error("sealed blob version `{found}` is not supported (expected `{expected}`)")]
    Version {
        /// The version found.
        found: u8,
        /// The version this build reads.
        expected: u8,
    },
    /// The blob was sealed under a key id this sealer does not hold: an
    /// unknown or retired key.
    #[error("sealed blob names key id `{key_id}`, which is unknown or retired")]
    UnknownKey {
        /// The blob's key id.
        key_id: u8,
    },
    /// The blob failed authentication: it was altered, or sealed for
    /// another purpose or subject, or under another secret with this key id.
    #[error(
        "sealed blob failed authentication (altered, or sealed for another purpose, subject or secret)"
    )]
    Rejected,
    /// The text is not unpadded base64url.
    #[error("sealed text is not unpadded base64url")]
    Encoding,
    /// The input is a plain, unsealed JSON document where a sealed blob is
    /// required.
    #[error("state is not sealed (plain json) and sealing is required")]
    Unsealed,
    /// The system random number generator failed.
    #[error("the system random number generator failed")]
    Random,
}

/// One key: its id and the AEAD key derived for it.
struct Key {
    id: u8,
    aead: LessSafeKey,
}

/// Seals and opens state with ChaCha20-Poly1305 under keys derived from
/// operator secrets. See the [module docs](self) for the format and what
/// it protects. `Debug` shows key ids only.
pub struct Sealer {
    /// The sealing key first, then the keys accepted for opening only.
    keys: Vec<Key>,
    max_plaintext: usize,
    rng: SystemRandom,
}

impl fmt::Debug for Sealer {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Sealer")
            .field("sealing_key_id", &self.sealing_key_id())
            .field(
                "opening_key_ids",
                &self.opening_key_ids().collect::<Vec<_>>(),
            )
            .field("keys", &"** redacted **")
            .field("max_plaintext", &self.max_plaintext)
            .finish()
    }
}

impl Sealer {
    /// A sealer that seals (and opens) with the key derived from `secret`
    /// under `key_id`.
    ///
    /// # Errors
    /// [`SealError::ShortSecret`] when the secret is shorter than
    /// [`MIN_SECRET_LEN`].
    pub fn new(key_id: u8, secret: &Secret<Vec<u8>>) -> Result<Self, SealError> {
        Ok(Self {
            keys: vec![derive(key_id, secret)?],
            max_plaintext: DEFAULT_MAX_PLAINTEXT,
            rng: SystemRandom::new(),
        })
    }

    /// Also accepts blobs sealed under `key_id` with the key derived from
    /// `secret` (an older key during a rotation). Never used for sealing.
    ///
    /// # Errors
    /// [`SealError::ShortSecret`]; [`SealError::DuplicateKeyId`] when the
    /// sealer already holds `key_id`.
    pub fn with_opening_key(
        mut self,
        key_id: u8,
        secret: &Secret<Vec<u8>>,
    ) -> Result<Self, SealError> {
        if self.keys.iter().any(|k| k.id == key_id) {
            return Err(SealError::DuplicateKeyId { key_id });
        }
        self.keys.push(derive(key_id, secret)?);
        Ok(self)
    }

    /// Sets the largest plaintext sealed or opened (default
    /// [`DEFAULT_MAX_PLAINTEXT`]).
    pub fn with_max_plaintext(mut self, max: usize) -> Self {
        self.max_plaintext = max;
        self
    }

    /// The key id new blobs are sealed under.
    pub fn sealing_key_id(&self) -> u8 {
        self.keys.first().map_or(0, |k| k.id)
    }

    /// Every key id accepted for opening, the sealing key's first.
    pub fn opening_key_ids(&self) -> impl Iterator<Item = u8> + '_ {
        self.keys.iter().map(|k| k.id)
    }

    /// The largest plaintext sealed or opened.
    pub fn max_plaintext(&self) -> usize {
        self.max_plaintext
    }

    /// Seals `plaintext` for `purpose` and `subject` under the sealing key
    /// with a fresh random nonce.
    ///
    /// # Errors
    /// [`SealError::TooLarge`] over the plaintext limit;
    /// [`SealError::Random`] when the system random number generator fails.
    pub fn seal(
        &self,
        purpose: &str,
        subject: &str,
        plaintext: &[u8],
    ) -> Result<Vec<u8>, SealError> {
        if plaintext.len() > self.max_plaintext {
            return Err(SealError::TooLarge {
                what: "plaintext",
                len: plaintext.len(),
                max: self.max_plaintext,
            });
        }
        let key = self.keys.first().ok_or(SealError::Random)?;
        let mut nonce = [0u8; NONCE_LEN];
        self.rng.fill(&mut nonce).map_err(|_| SealError::Random)?;
        let mut blob = Vec::with_capacity(HEADER_LEN + plaintext.len() + TAG_LEN);
        blob.push(VERSION);
        blob.push(key.id);
        blob.extend_from_slice(&nonce);
        let mut body = plaintext.to_vec();
        let aad = associated_data(VERSION, key.id, purpose, subject);
        let tag = key
            .aead
            .seal_in_place_separate_tag(
                Nonce::assume_unique_for_key(nonce),
                Aad::from(&aad),
                &mut body,
            )
            // Fails only for a plaintext over ChaCha20's 256 GiB limit,
            // far beyond any `max_plaintext` a process can hold.
            .map_err(|_| SealError::TooLarge {
                what: "plaintext",
                len: plaintext.len(),
                max: self.max_plaintext,
            })?;
        blob.extend_from_slice(&body);
        blob.extend_from_slice(tag.as_ref());
        Ok(blob)
    }

    /// Opens a blob sealed for `purpose` and `subject`, returning the
    /// plaintext.
    ///
    /// # Errors
    /// [`SealError::Unsealed`] for a plain JSON document,
    /// [`SealError::TooLarge`], [`SealError::Truncated`],
    /// [`SealError::Version`], [`SealError::UnknownKey`] (unknown or retired
    /// key id) and [`SealError::Rejected`] (authentication failed).
    pub fn open(&self, purpose: &str, subject: &str, blob: &[u8]) -> Result<Vec<u8>, SealError> {
        if blob.first() == Some(&JSON_START) {
            return Err(SealError::Unsealed);
        }
        let max = self.max_plaintext.saturating_add(HEADER_LEN + TAG_LEN);
        if blob.len() > max {
            return Err(SealError::TooLarge {
                what: "sealed blob",
                len: blob.len(),
                max,
            });
        }
        let (header, rest) = blob
            .split_at_checked(HEADER_LEN)
            .ok_or(SealError::Truncated {
                len: blob.len(),
                min: HEADER_LEN + TAG_LEN,
            })?;
        let [version, key_id, nonce @ ..] = header else {
            return Err(SealError::Truncated {
                len: blob.len(),
                min: HEADER_LEN + TAG_LEN,
            });
        };
        if rest.len() < TAG_LEN {
            return Err(SealError::Truncated {
                len: blob.len(),
                min: HEADER_LEN + TAG_LEN,
            });
        }
        if *version != VERSION {
            return Err(SealError::Version {
                found: *version,
                expected: VERSION,
            });
        }
        let key = self
            .keys
            .iter()
            .find(|k| k.id == *key_id)
            .ok_or(SealError::UnknownKey { key_id: *key_id })?;
        let nonce = Nonce::try_assume_unique_for_key(nonce).map_err(|_| SealError::Rejected)?;
        let aad = associated_data(*version, *key_id, purpose, subject);
        let mut body = rest.to_vec();
        let plain = key
            .aead
            .open_in_place(nonce, Aad::from(&aad), &mut body)
            .map_err(|_| SealError::Rejected)?;
        let len = plain.len();
        body.truncate(len);
        Ok(body)
    }

    /// [`seal`](Self::seal), then unpadded base64url: the form to put in a
    /// text store (KV, Redis).
    ///
    /// # Errors
    /// As [`seal`](Self::seal).
    pub fn seal_to_string(
        &self,
        purpose: &str,
        subject: &str,
        plaintext: &[u8],
    ) -> Result<String, SealError> {
        self.seal(purpose, subject, plaintext)
            .map(|blob| B64.encode(blob))
    }

    /// Opens the text form written by [`seal_to_string`](Self::seal_to_string).
    ///
    /// # Errors
    /// [`SealError::Unsealed`] for a plain JSON document (leading spaces
    /// allowed), [`SealError::Encoding`] for text that is not unpadded
    /// base64url, and what [`open`](Self::open) returns.
    pub fn open_str(&self, purpose: &str, subject: &str, text: &str) -> Result<Vec<u8>, SealError> {
        if text.trim_start().starts_with('{') {
            return Err(SealError::Unsealed);
        }
        let max_blob = self.max_plaintext.saturating_add(HEADER_LEN + TAG_LEN);
        let max = max_blob.div_ceil(3).saturating_mul(4);
        if text.len() > max {
            return Err(SealError::TooLarge {
                what: "sealed text",
                len: text.len(),
                max,
            });
        }
        let blob = B64.decode(text).map_err(|_| SealError::Encoding)?;
        self.open(purpose, subject, &blob)
    }
}

fn derive(key_id: u8, secret: &Secret<Vec<u8>>) -> Result<Key, SealError> {
    let ikm = secret.expose();
    if ikm.len() < MIN_SECRET_LEN {
        return Err(SealError::ShortSecret {
            found: ikm.len(),
            min: MIN_SECRET_LEN,
        });
    }
    let prk = hkdf::Salt::new(hkdf::HKDF_SHA256, HKDF_SALT).extract(ikm);
    let info = [HKDF_INFO, &[key_id]];
    // `expand` fails only when the output is over 255 hash lengths; a
    // 32-byte key is not.
    let okm = prk
        .expand(&info, &CHACHA20_POLY1305)
        .map_err(|_| SealError::Random)?;
    let aead = LessSafeKey::new(UnboundKey::from(okm));
    Ok(Key { id: key_id, aead })
}

fn associated_data(version: u8, key_id: u8, purpose: &str, subject: &str) -> Vec<u8> {
    let mut aad = Vec::with_capacity(2 + 16 + purpose.len() + subject.len());
    aad.push(version);
    aad.push(key_id);
    for part in [purpose, subject] {
        aad.extend_from_slice(&(part.len() as u64).to_be_bytes());
        aad.extend_from_slice(part.as_bytes());
    }
    aad
}

#[cfg(test)]
mod tests {
    use super::*;

    fn secret(b: u8) -> Secret<Vec<u8>> {
        Secret::new(vec![b; 32])
    }

    #[test]
    fn debug_shows_key_ids_only() {
        let s = Sealer::new(3, &secret(0x41))
            .unwrap()
            .with_opening_key(2, &secret(0x42))
            .unwrap();
        let d = format!("{s:?}");
        assert!(d.contains("sealing_key_id: 3"), "{d}");
        assert!(d.contains("redacted"), "{d}");
        assert!(!d.contains("AAAA") && !d.contains("65"), "{d}");
    }

    #[test]
    fn sealer_is_send_and_sync() {
        fn shared<T: Send + Sync>() {}
        shared::<Sealer>();
    }

    #[test]
    fn blob_layout_is_header_ciphertext_tag() {
        let s = Sealer::new(9, &secret(1)).unwrap();
        let blob = s.seal("p", "s", b"hello").unwrap();
        assert_eq!(blob.len(), HEADER_LEN + 5 + TAG_LEN);
        assert_eq!(blob[0], VERSION);
        assert_eq!(blob[1], 9);
    }

    #[test]
    fn associated_data_is_unambiguous() {
        assert_ne!(
            associated_data(1, 1, "ab", "c"),
            associated_data(1, 1, "a", "bc")
        );
    }
}
