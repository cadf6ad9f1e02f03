//! Placeholder: filled in by the sigv4 work.
fn main() {}
