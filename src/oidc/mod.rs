//! OIDC claims to roles: claim paths (RFC 6901 JSON Pointer), value maps and
//! provider presets, producing a [`Principal`]. The claims must already be
//! verified (signature, `iss`, `aud`, `exp`): the mapper trusts what it reads.

mod presets;
mod principal;
mod roles;

pub use principal::{GroupsOverage, Principal};
pub use roles::{
    ClaimPath, ClaimSource, DEFAULT_MAX_VALUE_LEN, DEFAULT_MAX_VALUES_PER_CLAIM, RoleMapper, Split,
    Target, Unmapped,
};

/// A role mapping that cannot be built.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum OidcError {
    /// The empty path: the whole claims object is not a claim.
    #[error("claim path is empty")]
    EmptyPath,
    /// A pointer was required but the text does not start with `/`.
    #[error("claim path `{path}` is not a JSON Pointer: it must start with `/`")]
    NotAPointer {
        /// The path as given.
        path: String,
    },
    /// A `~` not followed by `0` or `1` (RFC 6901 §3).
    #[error(
        "claim path `{path}` has an invalid `~` escape at byte {offset}, expected `~0` or `~1`"
    )]
    InvalidEscape {
        /// The path as given.
        path: String,
        /// The offset of the `~`.
        offset: usize,
    },
    /// Too many reference tokens.
    #[error("claim path `{path}` is deeper than the limit of {max} tokens")]
    PathTooDeep {
        /// The path as given.
        path: String,
        /// The limit.
        max: usize,
    },
}
