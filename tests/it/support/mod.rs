//! Helpers shared by the integration tests.
#![allow(dead_code)]

pub mod es256;
pub mod gate;
pub mod jwt;
#[cfg(feature = "redis")]
pub mod redis_server;
#[cfg(unix)]
pub mod workerd;

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

/// Environment variable naming the one test a re-run of this binary runs in
/// a process of its own (see [`in_own_process`]).
const OWN_PROCESS_ENV: &str = "EDGE_AUTH_TEST_OWN_PROCESS";

/// For a test that needs the process to itself (a process-wide setting such
/// as tracing's callsite interest cache): in the test run, re-runs this
/// binary with only `test` (its full path, e.g. `driver_tracing::traces`)
/// selected, waits for it and asserts it passed, then returns `false`; in
/// that child, returns `true` and the caller runs the body.
///
/// # Panics
/// When the child cannot be started or its test failed.
pub fn in_own_process(test: &str) -> bool {
    if std::env::var(OWN_PROCESS_ENV).is_ok_and(|t| t == test) {
        return true;
    }
    let exe = std::env::current_exe().unwrap();
    let output = std::process::Command::new(exe)
        .args(["--exact", test, "--nocapture", "--test-threads=1"])
        .env(OWN_PROCESS_ENV, test)
        .output()
        .unwrap();
    let stdout = String::from_utf8_lossy(&output.stdout);
    assert!(
        output.status.success() && stdout.contains("1 passed"),
        "{test} in its own process failed:\n{stdout}\n{}",
        String::from_utf8_lossy(&output.stderr)
    );
    false
}
