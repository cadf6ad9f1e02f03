//! Empty: the crate only holds `benches/peer.rs`.
