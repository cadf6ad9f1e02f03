//! Placeholder: filled in by the gate work.
fn main() {}
