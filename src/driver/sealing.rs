//! Where a driver's [`Sealer`] comes from: an operator secret in an
//! environment variable, a file or a Worker secret binding, with an
//! optional older secret still accepted while stored state is rewritten
//! (rotation). The core's [`Sealer`] never reads the environment; these
//! helpers do, for the drivers.
//!
//! A secret is at least 32 bytes of high entropy: base64 (standard or
//! URL-safe, padded or not) that decodes to at least 32 bytes is used
//! decoded (`openssl rand -base64 32`), any other text of at least 32
//! bytes is used as written. Leading and trailing whitespace is ignored
//! (a file or a pasted secret often ends with a newline). Each secret's
//! key id is derived from the secret itself (the first byte of a SHA-256
//! over it), so isolates and processes that share the secrets agree on it
//! without more configuration, and a blob sealed under a retired secret is
//! refused as an unknown key.
//!
//! What sealing protects, and what it does not, is said in
//! [`crate::seal`]: a party that can write the store but does not hold the
//! secret can neither read the state nor plant keys; a party that holds the
//! secret, or can change the code or configuration, is not kept out.

use std::path::Path;

use base64::Engine as _;
use base64::engine::general_purpose::{STANDARD, STANDARD_NO_PAD, URL_SAFE, URL_SAFE_NO_PAD};
use ring::digest;

use crate::Secret;
use crate::seal::{MIN_SECRET_LEN, SealError, Sealer};

/// A sealing secret could not be read or is refused. Never carries the
/// secret.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum SealSecretError {
    /// The variable or file could not be read.
    #[error("cannot read the sealing secret from `{from}`: {reason}")]
    Unreadable {
        /// The variable or file.
        from: String,
        /// What went wrong.
        reason: String,
    },
    /// The secret is refused (too short, or the old secret gives the same
    /// key id as the current one).
    #[error("the sealing secret from `{from}` is refused: {source}")]
    Refused {
        /// The variable or file.
        from: String,
        /// Why.
        source: SealError,
    },
}

/// The bytes of a sealing secret as configured: decoded base64 when the
/// text is base64 of at least [`MIN_SECRET_LEN`] bytes, else the text's
/// bytes; surrounding whitespace ignored.
pub fn decode_secret(text: &str) -> Secret<Vec<u8>> {
    let text = text.trim();
    for engine in [&STANDARD, &STANDARD_NO_PAD, &URL_SAFE, &URL_SAFE_NO_PAD] {
        if let Ok(bytes) = engine.decode(text)
            && bytes.len() >= MIN_SECRET_LEN
        {
            return Secret::new(bytes);
        }
    }
    Secret::new(text.as_bytes().to_vec())
}

/// The key id a secret seals under: the first byte of
/// SHA-256(`edge-auth/seal/key-id` ‖ secret). Public and stable; it names
/// the secret in a blob without revealing it.
pub fn key_id(secret: &Secret<Vec<u8>>) -> u8 {
    let mut ctx = digest::Context::new(&digest::SHA256);
    ctx.update(b"edge-auth/seal/key-id");
    ctx.update(secret.expose());
    ctx.finish().as_ref().first().copied().unwrap_or(0)
}

impl Sealer {
    /// A sealer that seals with `current` and also opens what `old`
    /// sealed (a rotation), each decoded by [`decode_secret`] under its
    /// [`key_id`].
    ///
    /// # Errors
    /// [`SealError::ShortSecret`] for a secret under [`MIN_SECRET_LEN`]
    /// bytes; [`SealError::DuplicateKeyId`] when both secrets give the
    /// same key id (the same secret twice, or one chance in 256: generate
    /// another new secret).
    pub fn from_secret_text(current: &str, old: Option<&str>) -> Result<Self, SealError> {
        let current = decode_secret(current);
        let mut sealer = Sealer::new(key_id(&current), &current)?;
        if let Some(old) = old {
            let old = decode_secret(old);
            sealer = sealer.with_opening_key(key_id(&old), &old)?;
        }
        Ok(sealer)
    }

    /// The sealer configured in the environment variable `var` (and
    /// `{var}_OLD` for the secret being retired); `None` when `var` is
    /// unset or blank, so state stays unsealed.
    ///
    /// # Errors
    /// [`SealSecretError::Unreadable`] when a variable is not Unicode;
    /// [`SealSecretError::Refused`] as [`from_secret_text`](Self::from_secret_text).
    pub fn from_env(var: &str) -> Result<Option<Self>, SealSecretError> {
        let read = |name: &str| match std::env::var(name) {
            Ok(value) if value.trim().is_empty() => Ok(None),
            Ok(value) => Ok(Some(Secret::new(value))),
            Err(std::env::VarError::NotPresent) => Ok(None),
            Err(e) => Err(SealSecretError::Unreadable {
                from: name.to_owned(),
                reason: e.to_string(),
            }),
        };
        let Some(current) = read(var)? else {
            return Ok(None);
        };
        let old_var = format!("{var}_OLD");
        let old = read(&old_var)?;
        Self::from_secret_text(current.expose(), old.as_ref().map(|s| s.expose().as_str()))
            .map(Some)
            .map_err(|source| SealSecretError::Refused {
                from: if matches!(source, SealError::DuplicateKeyId { .. }) {
                    old_var
                } else {
                    var.to_owned()
                },
                source,
            })
    }

    /// The sealer whose secret is the first non-blank line of the file at
    /// `path`; a second non-blank line is the secret being retired (opens,
    /// never seals).
    ///
    /// # Errors
    /// [`SealSecretError::Unreadable`] when the file cannot be read, is not
    /// UTF-8 or holds no secret; [`SealSecretError::Refused`] as
    /// [`from_secret_text`](Self::from_secret_text).
    pub fn from_file(path: impl AsRef<Path>) -> Result<Self, SealSecretError> {
        let from = path.as_ref().display().to_string();
        let unreadable = |reason: String| SealSecretError::Unreadable {
            from: from.clone(),
            reason,
        };
        let text = Secret::new(
            std::fs::read_to_string(path.as_ref()).map_err(|e| unreadable(e.to_string()))?,
        );
        let mut lines = text
            .expose()
            .lines()
            .map(str::trim)
            .filter(|l| !l.is_empty());
        let current = lines
            .next()
            .ok_or_else(|| unreadable("the file holds no secret".to_owned()))?;
        Self::from_secret_text(current, lines.next()).map_err(|source| SealSecretError::Refused {
            from: from.clone(),
            source,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const B64_SECRET: &str = "q83vEjRWeJq83vEjRWeJq83vEjRWeJq83vEjRWeJq80=";

    #[test]
    fn base64_secret_is_decoded() {
        assert_eq!(decode_secret(B64_SECRET).expose().len(), 32);
        assert_eq!(
            decode_secret(&format!(" {B64_SECRET}\n")).expose().len(),
            32
        );
    }

    #[test]
    fn raw_secret_is_used_as_written() {
        let raw = "not base64 but long enough: 0123456789";
        assert_eq!(decode_secret(raw).expose().as_slice(), raw.as_bytes());
    }

    #[test]
    fn short_secret_is_refused() {
        assert!(matches!(
            Sealer::from_secret_text("short", None),
            Err(SealError::ShortSecret { .. })
        ));
    }

    #[test]
    fn same_secret_twice_is_refused() {
        assert!(matches!(
            Sealer::from_secret_text(B64_SECRET, Some(B64_SECRET)),
            Err(SealError::DuplicateKeyId { .. })
        ));
    }

    #[test]
    fn old_secret_opens_after_rotation() {
        let old_secret = "an older secret, long enough to be used 0001";
        let old = Sealer::from_secret_text(old_secret, None).unwrap();
        let blob = old.seal_to_string("p", "s", b"state").unwrap();
        let rotated = Sealer::from_secret_text(B64_SECRET, Some(old_secret)).unwrap();
        assert_eq!(rotated.open_str("p", "s", &blob).unwrap(), b"state");
        let retired = Sealer::from_secret_text(B64_SECRET, None).unwrap();
        assert!(retired.open_str("p", "s", &blob).is_err());
    }

    #[test]
    fn from_file_reads_current_then_old() {
        let dir = std::env::temp_dir().join(format!("edge-auth-seal-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let path = dir.join("secret");
        let old_secret = "an older secret, long enough to be used 0002";
        std::fs::write(&path, format!("{B64_SECRET}\n\n{old_secret}\n")).unwrap();
        let sealer = Sealer::from_file(&path).unwrap();
        std::fs::remove_dir_all(&dir).unwrap();
        assert_eq!(sealer.opening_key_ids().count(), 2);
        assert_eq!(sealer.sealing_key_id(), key_id(&decode_secret(B64_SECRET)));
    }

    #[test]
    fn from_file_names_a_missing_file() {
        let err = Sealer::from_file("/nonexistent/edge-auth-secret").unwrap_err();
        assert!(
            err.to_string()
                .starts_with("cannot read the sealing secret from `/nonexistent/edge-auth-secret`"),
            "{err}"
        );
    }
}
