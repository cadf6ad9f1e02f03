//! OIDC claims to roles: claim paths (RFC 6901 JSON Pointer), value maps and
//! provider presets, producing a [`Principal`].

mod principal;

pub use principal::{GroupsOverage, Principal};

/// A role mapping that cannot be built.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum OidcError {}
