//! Helpers shared by the integration tests.
#![allow(dead_code)]

pub mod es256;

use std::path::{Path, PathBuf};

/// A set of third-party test vectors shipped with the repository in
/// `tests/vectors/<sub>` (each set's README says where it comes from).
///
/// # Panics
/// When the folder is missing: a vector test fails, it never passes by
/// skipping.
pub fn vectors_dir(sub: &str) -> PathBuf {
    let path = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("tests/vectors")
        .join(sub);
    assert!(
        path.is_dir(),
        "test vectors `{}` are missing: they ship with the repository (tests/vectors/README.md); \
         restore them with `git checkout -- tests/vectors`",
        path.display()
    );
    path
}

/// The text of `file` in the vector set `sub`.
///
/// # Panics
/// When the set or the file is missing or unreadable, naming the path.
pub fn read_vector(sub: &str, file: &str) -> String {
    let path = vectors_dir(sub).join(file);
    std::fs::read_to_string(&path).unwrap_or_else(|e| {
        panic!(
            "test vector `{}` cannot be read ({e}): the vectors ship with the repository \
             (tests/vectors/README.md); restore them with `git checkout -- tests/vectors`",
            path.display()
        )
    })
}
