//! Placeholder: filled in by the policy work.
fn main() {}
