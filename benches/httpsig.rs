//! Placeholder: filled in by the httpsig work.
fn main() {}
