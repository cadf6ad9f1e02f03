//! Replays the committed fuzz seeds (`fuzz/seeds/<target>/`) and every input a
//! fuzzer once found (`fuzz/regressions/<target>/`) through the same target
//! bodies the cargo-fuzz targets run, on stable Rust, so whatever was found once
//! stays fixed. One test per target.

#[path = "../../fuzz/src/bodies.rs"]
mod bodies;

use std::path::Path;

fn replay(target: &str, body: fn(&[u8])) {
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("fuzz");
    let mut count = 0;
    for kind in ["seeds", "regressions"] {
        let Ok(entries) = std::fs::read_dir(root.join(kind).join(target)) else {
            continue;
        };
        let mut paths: Vec<_> = entries
            .map(|e| e.expect("readable fuzz input directory").path())
            .filter(|p| p.is_file())
            .collect();
        paths.sort();
        for path in paths {
            let input = std::fs::read(&path).expect("readable fuzz input");
            if std::panic::catch_unwind(|| body(&input)).is_err() {
                panic!("fuzz input {} fails target `{target}`", path.display());
            }
            count += 1;
        }
    }
    assert!(count > 0, "no seeds committed for fuzz target `{target}`");
    eprintln!("{target}: replayed {count} inputs");
}

macro_rules! replay_targets {
    ($($target:ident),* $(,)?) => {
        $(
            #[test]
            fn $target() {
                replay(stringify!($target), bodies::$target);
            }
        )*
    };
}

replay_targets!(
    extract,
    jwt_validate,
    jwks,
    discovery,
    cache_control,
    roles,
    policy,
    policy_patterns,
    sigv4,
    structured_fields,
    httpsig_verify,
    json_reader,
    httpsig_pkcs8,
    seal_open,
    cors,
    dpop_proof,
    introspect_response,
);
