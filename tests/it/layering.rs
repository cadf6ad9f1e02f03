//! The module layering, checked by reading src/ (issue 19): a test anyone
//! can run that fails on a forbidden import.
//!
//! - jwk does not import jwt (jwt imports jwk's `KeySet`; what both need,
//!   the algorithm type and base64url, lives in `jose`);
//! - nothing below the gate imports `crate::gate` (src/gate, src/driver and
//!   the crate root's `lib.rs` and `error.rs`, which sit above it, may);
//! - src/ outside src/driver never names `crate::driver`, tokio, hyper or
//!   worker (the sans-IO core);
//! - sigv4 imports neither jwk nor jwt (HTTP dates live in `http_cache`);
//! - crypto (the sign / verify seam) imports neither jwt, jwk nor httpsig:
//!   they all sit on it.
//!
//! Comments are skipped, so doc links may still point anywhere.

use std::path::{Path, PathBuf};

/// Every `.rs` file under `dir`, recursively, sorted.
fn rust_files(dir: &Path) -> Vec<PathBuf> {
    let mut out = Vec::new();
    let mut stack = vec![dir.to_path_buf()];
    while let Some(d) = stack.pop() {
        for entry in std::fs::read_dir(&d).unwrap() {
            let path = entry.unwrap().path();
            if path.is_dir() {
                stack.push(path);
            } else if path.extension().is_some_and(|e| e == "rs") {
                out.push(path);
            }
        }
    }
    out.sort();
    out
}

/// The file's code lines (1-based number, text) without `//` comments.
fn code_lines(path: &Path) -> Vec<(usize, String)> {
    let text = std::fs::read_to_string(path).unwrap();
    text.lines()
        .enumerate()
        .filter_map(|(i, line)| {
            let code = match line.find("//") {
                Some(at) => &line[..at],
                None => line,
            };
            let code = code.trim();
            (!code.is_empty()).then(|| (i + 1, code.to_owned()))
        })
        .collect()
}

/// Whether `code` names the path `needle` (e.g. `tokio::`) as a path start,
/// not as the tail of a longer identifier.
fn names(code: &str, needle: &str) -> bool {
    code.match_indices(needle).any(|(at, _)| {
        code[..at]
            .chars()
            .next_back()
            .is_none_or(|c| !(c.is_alphanumeric() || c == '_'))
    })
}

fn src() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("src")
}

/// The files under `src/<under>` (or all of src/ when empty), relative to
/// src/ with `/` separators.
fn files_under(under: &str) -> Vec<(String, PathBuf)> {
    let root = src();
    rust_files(&root.join(under))
        .into_iter()
        .map(|p| {
            let rel = p
                .strip_prefix(&root)
                .unwrap()
                .to_string_lossy()
                .replace('\\', "/");
            (rel, p)
        })
        .collect()
}

/// The `file:line: code` of every code line in `files` naming one of
/// `needles`.
fn offenders(files: &[(String, PathBuf)], needles: &[&str]) -> Vec<String> {
    let mut found = Vec::new();
    for (rel, path) in files {
        for (n, code) in code_lines(path) {
            if needles.iter().any(|needle| names(&code, needle)) {
                found.push(format!("src/{rel}:{n}: {code}"));
            }
        }
    }
    found
}

#[test]
fn layering_jwk_does_not_import_jwt() {
    let files = files_under("jwk");
    assert!(files.len() > 3, "src/jwk not found");
    let found = offenders(&files, &["crate::jwt", "super::jwt", "super::super::jwt"]);
    assert!(found.is_empty(), "jwk imports jwt:\n{}", found.join("\n"));
}

#[test]
fn layering_jose_imports_neither_jwk_nor_jwt() {
    let files = files_under("jose");
    assert!(!files.is_empty(), "src/jose not found");
    let found = offenders(
        &files,
        &["crate::jwt", "crate::jwk", "super::jwt", "super::jwk"],
    );
    assert!(
        found.is_empty(),
        "jose imports jwk or jwt:\n{}",
        found.join("\n")
    );
}

#[test]
fn layering_crypto_imports_neither_jwt_jwk_nor_httpsig() {
    let files = files_under("crypto");
    assert!(files.len() >= 3, "src/crypto not found");
    let found = offenders(
        &files,
        &[
            "crate::jwt",
            "crate::jwk",
            "crate::httpsig",
            "super::jwt",
            "super::jwk",
            "super::httpsig",
            "super::super::jwt",
            "super::super::jwk",
            "super::super::httpsig",
        ],
    );
    assert!(
        found.is_empty(),
        "crypto imports jwt, jwk or httpsig:\n{}",
        found.join("\n")
    );
}

#[test]
fn layering_nothing_below_the_gate_imports_it() {
    let files: Vec<_> = files_under("")
        .into_iter()
        .filter(|(rel, _)| {
            !rel.starts_with("gate/")
                && !rel.starts_with("driver/")
                && rel != "lib.rs"
                && rel != "error.rs"
        })
        .collect();
    assert!(files.len() > 20, "src/ not found");
    let found = offenders(&files, &["crate::gate", "super::gate"]);
    assert!(
        found.is_empty(),
        "modules below the gate import it:\n{}",
        found.join("\n")
    );
}

#[test]
fn layering_core_names_no_driver_or_runtime() {
    let files: Vec<_> = files_under("")
        .into_iter()
        .filter(|(rel, _)| !rel.starts_with("driver/") && rel != "lib.rs")
        .collect();
    assert!(files.len() > 20, "src/ not found");
    let found = offenders(
        &files,
        &[
            "crate::driver",
            "super::driver",
            "tokio::",
            "hyper::",
            "worker::",
        ],
    );
    assert!(
        found.is_empty(),
        "the sans-IO core names a driver or runtime:\n{}",
        found.join("\n")
    );
}

#[test]
fn layering_lib_declares_driver_only_behind_features() {
    let lib = code_lines(&src().join("lib.rs"));
    let at = lib
        .iter()
        .position(|(_, code)| code.contains("mod driver"))
        .expect("lib.rs declares `mod driver`");
    let before = at.checked_sub(1).map(|i| lib[i].1.as_str()).unwrap_or("");
    assert!(
        before.starts_with("#[cfg(") && before.contains("feature"),
        "`mod driver` is not behind a feature gate: {before}"
    );
    let others = lib
        .iter()
        .filter(|(_, code)| {
            names(code, "tokio::") || names(code, "hyper::") || names(code, "worker::")
        })
        .count();
    assert_eq!(others, 0, "lib.rs names a runtime crate");
}

#[test]
fn layering_sigv4_does_not_import_jwk() {
    let files = files_under("sigv4");
    assert!(!files.is_empty(), "src/sigv4 not found");
    let found = offenders(&files, &["crate::jwk", "crate::jwt"]);
    assert!(
        found.is_empty(),
        "sigv4 imports jwk or jwt:\n{}",
        found.join("\n")
    );
}
