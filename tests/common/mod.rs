//! Helpers shared by the integration tests.
#![allow(dead_code)]

use std::path::PathBuf;

/// The third-party test vectors: `$EDGE_AUTH_VECTORS`, else `../shared/vectors`
/// beside the project root. `None` (after printing why) when neither exists, so
/// vector tests skip instead of failing on a machine without `../shared`.
pub fn vectors_dir(sub: &str) -> Option<PathBuf> {
    let candidates = std::env::var_os("EDGE_AUTH_VECTORS")
        .map(PathBuf::from)
        .into_iter()
        .chain(std::iter::once(
            PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../shared/vectors"),
        ));
    for dir in candidates {
        let path = dir.join(sub);
        if path.exists() {
            return Some(path);
        }
    }
    eprintln!(
        "skipping: test vectors `{sub}` not found (set EDGE_AUTH_VECTORS or put shared/ beside the project)"
    );
    None
}
