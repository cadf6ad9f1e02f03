//! Provider presets for [`RoleMapper`], following each provider's documented
//! token format. Presets are starting points: every field stays public.

use super::roles::{ClaimPath, ClaimSource, RoleMapper, Target};
use crate::jwt::{AudienceClaim, Validation};

fn name(claim: &str) -> ClaimPath {
    ClaimPath::from_name(claim)
}

fn pointer(tokens: &[&str]) -> ClaimPath {
    // Built from tokens, so no text to parse and nothing to fail.
    let mut text = String::new();
    for t in tokens {
        text.push('/');
        text.push_str(&t.replace('~', "~0").replace('/', "~1"));
    }
    ClaimPath::try_from_pointer(&text).unwrap_or_else(|_| ClaimPath::from_name(text.clone()))
}

impl RoleMapper {
    /// Microsoft Entra ID (Azure AD), v1.0 and v2.0 access and ID tokens;
    /// both versions use the same claim names for these.
    ///
    /// - subject: `oid` (the user's or service principal's object id, stable
    ///   across applications; `sub` is pairwise per application), else `sub`
    /// - tenant: `tid`
    /// - roles: `roles` (app roles; for app-only tokens the application
    ///   permissions), only when `aud` is `client_id` or `api://{client_id}`:
    ///   app roles belong to the audience they were issued for. Add a custom
    ///   App ID URI to [`RoleMapper::audiences`].
    /// - roles: `wids` (tenant-wide directory role template ids) with the
    ///   prefix `wids:`, so they cannot pass for app roles
    /// - scopes: `scp` (space-delimited delegated permissions), audience-scoped
    ///   like `roles`
    /// - groups: `groups` (object ids). When a user has too many groups
    ///   Entra leaves them out and sends `_claim_names` / `_claim_sources`
    ///   (or `hasgroups: true` in the implicit flow):
    ///   [`super::Principal::groups_overage`] is then set. Map group ids to
    ///   roles by adding a source with a value map.
    ///
    /// `email` is not taken: in Entra it is unverified and mutable.
    pub fn entra_id(client_id: &str) -> Self {
        let scoped =
            |path: &str, target| ClaimSource::new(name(path), target).with_audience_scoped(true);
        Self {
            subject: vec![name("oid"), name("sub")],
            tenant: Some(name("tid")),
            sources: vec![
                scoped("roles", Target::Roles),
                ClaimSource::new(name("wids"), Target::Roles).with_prefix("wids:"),
                scoped("scp", Target::Scopes),
                ClaimSource::new(name("groups"), Target::Groups),
            ],
            audiences: vec![client_id.to_owned(), format!("api://{client_id}")],
            ..Self::default()
        }
    }

    /// Okta (custom and org authorization servers): `scp` is an array of
    /// scopes in access tokens; `groups` is the usual name of the groups
    /// claim an admin adds. Okta has no separate role claim, so groups are
    /// also roles.
    pub fn okta() -> Self {
        Self {
            email: Some(name("email")),
            sources: vec![
                ClaimSource::new(name("groups"), Target::Groups),
                ClaimSource::new(name("groups"), Target::Roles),
                ClaimSource::new(name("scp"), Target::Scopes),
            ],
            ..Self::default()
        }
    }

    /// Keycloak: realm roles in `realm_access.roles`, this client's roles in
    /// `resource_access.{client_id}.roles` (merged with realm roles, as
    /// Keycloak adapters do), `groups` when a group membership mapper is
    /// configured (full paths such as `/staff/admins`), `scope`
    /// space-delimited, `email` when `email_verified`.
    pub fn keycloak(client_id: &str) -> Self {
        Self {
            email: Some(name("email")),
            sources: vec![
                ClaimSource::new(pointer(&["realm_access", "roles"]), Target::Roles),
                ClaimSource::new(
                    pointer(&["resource_access", client_id, "roles"]),
                    Target::Roles,
                ),
                ClaimSource::new(name("groups"), Target::Groups),
                ClaimSource::new(name("scope"), Target::Scopes),
            ],
            ..Self::default()
        }
    }

    /// Auth0: custom claims under a namespace, e.g. `https://example.com`
    /// gives roles from `https://example.com/roles` and groups from
    /// `https://example.com/groups` (a trailing `/` on the namespace is
    /// optional; an empty namespace means plain `roles` / `groups`). Scopes
    /// from `scope` (space-delimited) and from `permissions` (RBAC with
    /// "Add Permissions in the Access Token"), so `has_scope("read:orders")`
    /// holds either way. `email` when `email_verified`.
    pub fn auth0(namespace: &str) -> Self {
        let ns = namespace.trim_end_matches('/');
        let claim = |suffix: &str| {
            if ns.is_empty() {
                name(suffix)
            } else {
                name(&format!("{ns}/{suffix}"))
            }
        };
        Self {
            email: Some(name("email")),
            sources: vec![
                ClaimSource::new(claim("roles"), Target::Roles),
                ClaimSource::new(claim("groups"), Target::Groups),
                ClaimSource::new(name("scope"), Target::Scopes),
                ClaimSource::new(name("permissions"), Target::Scopes),
            ],
            ..Self::default()
        }
    }

    /// Amazon Cognito user pools: `cognito:groups` (groups, also used as
    /// roles: Cognito's RBAC unit is the group; `cognito:roles` holds IAM
    /// role ARNs and is not mapped), `scope` space-delimited in access
    /// tokens, `email` when `email_verified` (a boolean, or the string
    /// `"true"` in older pools).
    ///
    /// Cognito access tokens carry the app client id in `client_id` and no
    /// `aud`: validate them with [`Validation::cognito_access`] (or
    /// `IssuerConfig::with_audience_claim` and `with_token_use` on a Gate),
    /// which checks `client_id` and `token_use` in place of `aud`.
    pub fn cognito() -> Self {
        Self {
            email: Some(name("email")),
            sources: vec![
                ClaimSource::new(name("cognito:groups"), Target::Groups),
                ClaimSource::new(name("cognito:groups"), Target::Roles),
                ClaimSource::new(name("scope"), Target::Scopes),
            ],
            ..Self::default()
        }
    }

    /// Google (accounts.google.com ID tokens): tenant from `hd` (the Google
    /// Workspace domain; absent for consumer accounts, so a policy that
    /// restricts to a domain must check the tenant, never the e-mail
    /// suffix), `email` only when `email_verified`. Google puts no roles in
    /// its tokens.
    pub fn google() -> Self {
        Self {
            tenant: Some(name("hd")),
            email: Some(name("email")),
            ..Self::default()
        }
    }

    /// Cloudflare Access application tokens (`Cf-Access-Jwt-Assertion`).
    /// A user's token carries `sub` (the user id) and `email`; a service
    /// token's carries `common_name` (the token's Client ID) and an empty
    /// `sub`, and no `email`.
    ///
    /// - subject: `common_name` for a service token, else `sub`
    /// - email: `email`, taken without `email_verified` (Access sends none:
    ///   it only issues the token once the identity provider has
    ///   authenticated the user)
    /// - roles: `service-token:<common_name>` for a service token, so a
    ///   policy can name the service tokens it admits
    ///   (`any_roles = ["service-token:<client id>"]`) and a user cannot pass
    ///   for one
    ///
    /// Access puts no groups or scopes in the application token. The
    /// issuer, key set and header come with
    /// [`IssuerConfig::cloudflare_access`](crate::gate::IssuerConfig::cloudflare_access)
    /// and [`GateConfig::cloudflare_access`](crate::gate::GateConfig::cloudflare_access).
    pub fn cloudflare_access() -> Self {
        Self {
            subject: vec![name("common_name"), name("sub")],
            email: Some(name("email")),
            require_email_verified: false,
            sources: vec![
                ClaimSource::new(name("common_name"), Target::Roles)
                    .with_prefix(CLOUDFLARE_SERVICE_TOKEN_PREFIX),
            ],
            ..Self::default()
        }
    }
}

/// The prefix of the role [`RoleMapper::cloudflare_access`] gives a
/// Cloudflare Access service token: `service-token:<client id>`.
pub const CLOUDFLARE_SERVICE_TOKEN_PREFIX: &str = "service-token:";

impl Validation {
    /// Amazon Cognito user pool access tokens: [`audiences`](Self::audiences)
    /// lists the accepted app client ids, matched against `client_id` (the
    /// tokens carry no `aud`; one that does is refused), and `token_use`
    /// must be `access` (an ID token, whose `aud` is the client id, is
    /// refused). Set `issuers` to the pool,
    /// `https://cognito-idp.<region>.amazonaws.com/<user pool id>`.
    ///
    /// ```
    /// use edge_auth::jwt::{Validation, Validator};
    ///
    /// let mut v = Validation::cognito_access();
    /// v.issuers
    ///     .push("https://cognito-idp.eu-west-1.amazonaws.com/eu-west-1_AbCdEf123".into());
    /// v.audiences.push("3n4b5urk1ft4fl3mg5e62d9ado".into()); // the app client id
    /// let validator = Validator::new(v);
    /// # let _ = validator;
    /// ```
    pub fn cognito_access() -> Self {
        Self {
            audience_claim: AudienceClaim::ClientId,
            token_use: Some("access".to_owned()),
            ..Self::default()
        }
    }
}
