//! Fuzz target bodies. Each target in `fuzz_targets/` is one line calling a
//! function here; `tests/fuzz_replay.rs` in the main crate includes the same
//! file and replays every committed seed and regression input through it on
//! stable Rust, so whatever was found once stays fixed.

#[path = "bodies.rs"]
mod bodies;

pub use bodies::*;
