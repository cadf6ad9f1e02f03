//! OIDC claims to roles: claim paths (RFC 6901 JSON Pointer), value maps and
//! provider presets, producing a [`Principal`]. The claims must already be
//! verified (signature, `iss`, `aud`, `exp`): the mapper trusts what it reads.
//!
//! ```
//! use edge_auth::oidc::{ClaimSource, RoleMapper, Unmapped};
//!
//! // Keycloak realm and client roles, plus a group mapped to a role.
//! let mapper = RoleMapper::keycloak("orders-api").with_source(
//!     ClaimSource::roles("groups")?.with_value_map([("/staff/managers", "manager")], Unmapped::Drop),
//! );
//! let claims = serde_json::json!({
//!     "iss": "https://sso.example.com/realms/acme",
//!     "sub": "f1e2d3c4",
//!     "realm_access": { "roles": ["offline_access"] },
//!     "resource_access": { "orders-api": { "roles": ["orders-admin"] } },
//!     "groups": ["/staff/managers"],
//!     "scope": "openid orders:read",
//! });
//! let principal = mapper.map(claims.as_object().unwrap());
//! assert!(principal.has_role("orders-admin") && principal.has_role("manager"));
//! assert!(principal.has_scope("orders:read"));
//!
//! // Entra ID: a groups overage is reported, never read as "no groups".
//! let claims = serde_json::json!({
//!     "aud": "6e74172b-be56-4843-9ff4-e66a39bb12e3", "oid": "690222be", "tid": "72f988bf",
//!     "roles": ["Orders.Admin"],
//!     "_claim_names": { "groups": "src1" },
//!     "_claim_sources": { "src1": { "endpoint": "https://graph.microsoft.com/v1.0/users/690222be/getMemberObjects" } },
//! });
//! let p = RoleMapper::entra_id("6e74172b-be56-4843-9ff4-e66a39bb12e3").map(claims.as_object().unwrap());
//! assert!(p.has_role("Orders.Admin"));
//! assert!(p.groups.is_empty() && p.groups_overage().is_some());
//! # Ok::<(), edge_auth::oidc::OidcError>(())
//! ```
//!
//! # Claim paths and presets
//!
//! Claim paths starting with `/` are JSON Pointers (`/realm_access/roles`,
//! `/https:~1~1example.com~1roles`); anything else is one top-level claim
//! name taken literally (`cognito:groups`, `https://example.com/roles`).
//! Presets follow each provider's token format:
//!
//! | preset | roles | scopes | groups | other |
//! |---|---|---|---|---|
//! | `entra_id(client_id)` | `roles` (only when `aud` is the client id or `api://client_id`), `wids` as `wids:<id>` | `scp` | `groups`, overage reported by `groups_overage()` | subject `oid`, tenant `tid` |
//! | `okta()` | `groups` | `scp` (array) | `groups` | `email` if verified |
//! | `keycloak(client_id)` | `realm_access.roles`, `resource_access.{client_id}.roles` | `scope` | `groups` | `email` if verified |
//! | `auth0(namespace)` | `{namespace}/roles` | `scope`, `permissions` | `{namespace}/groups` | `email` if verified |
//! | `cognito()` | `cognito:groups` | `scope` | `cognito:groups` | `email` if verified |
//! | `google()` | none | none | none | tenant `hd`, `email` if verified |
//! | `cloudflare_access()` | `service-token:<common_name>` for service tokens | none | none | subject `common_name`, else `sub`; `email` |
//!
//! Issuer and audience per provider (what `IssuerConfig::new` takes):
//!
//! | provider | issuer | audience |
//! |---|---|---|
//! | Entra ID, v2 access tokens | `https://login.microsoftonline.com/{tenant-id}/v2.0` | the API's application (client) id |
//! | Entra ID, v1 access tokens (the default unless the manifest sets `requestedAccessTokenVersion: 2`) | `https://sts.windows.net/{tenant-id}/` (trailing slash included) | the Application ID URI, e.g. `api://{client-id}` |
//! | Okta, custom authorization server | `https://{okta-domain}/oauth2/default` | `api://default` unless changed |
//! | Keycloak 17+ | `https://{host}/realms/{realm}` | the client id, once an *Audience* mapper adds it |
//! | Cloudflare Access | `https://{team}.cloudflareaccess.com` (keys at `/cdn-cgi/access/certs`; `IssuerConfig::cloudflare_access` sets both) | the application's AUD tag |

mod presets;
pub use presets::CLOUDFLARE_SERVICE_TOKEN_PREFIX;
mod claim_set;
mod principal;
mod roles;
pub(crate) use roles::distributed;

pub use claim_set::ClaimSet;
pub use principal::{GroupsOverage, Incomplete, Principal};
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
