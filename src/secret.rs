//! `Secret<T>`: key material that never shows in `Debug` output and is
//! overwritten when dropped (best effort: without `unsafe` we cannot stop the
//! allocator from having copied it earlier).

use std::fmt;

/// Key material: a redacting `Debug`, wiped on drop.
///
/// ```
/// use edge_auth::Secret;
/// let s = Secret::new(b"hunter2".to_vec());
/// assert_eq!(format!("{s:?}"), "** redacted **");
/// assert_eq!(s.expose(), b"hunter2");
/// ```
pub struct Secret<T: Wipe>(T);

impl<T: Wipe> Secret<T> {
    /// Wraps a secret value.
    pub fn new(value: T) -> Self {
        Self(value)
    }

    /// Borrows the secret. Keep the borrow short and never log it.
    pub fn expose(&self) -> &T {
        &self.0
    }
}

impl<T: Wipe + Clone> Clone for Secret<T> {
    fn clone(&self) -> Self {
        Self(self.0.clone())
    }
}

impl<T: Wipe> From<T> for Secret<T> {
    fn from(value: T) -> Self {
        Self(value)
    }
}

impl<T: Wipe> fmt::Debug for Secret<T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("** redacted **")
    }
}

impl<T: Wipe> Drop for Secret<T> {
    fn drop(&mut self) {
        self.0.wipe();
    }
}

/// Values that can overwrite themselves with zeros.
pub trait Wipe {
    /// Overwrites the value's bytes with zeros.
    fn wipe(&mut self);
}

impl Wipe for Vec<u8> {
    fn wipe(&mut self) {
        self.iter_mut().for_each(|b| *b = 0);
        std::hint::black_box(&self);
    }
}

impl Wipe for Box<[u8]> {
    fn wipe(&mut self) {
        self.iter_mut().for_each(|b| *b = 0);
        std::hint::black_box(&self);
    }
}

impl Wipe for String {
    fn wipe(&mut self) {
        let mut bytes = std::mem::take(self).into_bytes();
        bytes.wipe();
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn debug_is_redacted() {
        let s = Secret::new(String::from("AKIDEXAMPLE-secret"));
        assert!(!format!("{s:?}").contains("secret"));
    }
}
