//! Placeholder: filled in by the jwt work.
fn main() {}
