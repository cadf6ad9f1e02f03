//! The authenticated caller, as the policy stage sees it.

use std::collections::BTreeSet;

use serde::{Deserialize, Serialize};

use super::ClaimSet;

/// Who made a request: identity, roles, scopes and groups taken from verified
/// claims, plus the claims themselves for policy conditions.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[non_exhaustive]
pub struct Principal {
    /// The subject: the `sub` claim, or the claim the mapper names instead
    /// (the Entra ID preset uses `oid`, stable across applications).
    pub subject: Option<String>,
    /// The `iss` claim.
    pub issuer: Option<String>,
    /// The tenant (Entra ID `tid`), when the provider has one.
    pub tenant: Option<String>,
    /// Roles after value mapping.
    pub roles: BTreeSet<String>,
    /// OAuth scopes (`scp` / `scope`).
    pub scopes: BTreeSet<String>,
    /// Groups after value mapping.
    pub groups: BTreeSet<String>,
    /// The verified claims (read into a map on first use; see
    /// [`ClaimSet`]).
    #[serde(default)]
    pub claims: ClaimSet,
    /// Set when the token says its groups did not fit (Entra ID overage).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub groups_overage: Option<GroupsOverage>,
    /// The e-mail address, only when the mapper has an e-mail claim and the
    /// token says it is verified (`email_verified`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub email: Option<String>,
    /// Set when the mapper left values out because of its limits (too many
    /// values in a claim, or a value too long): the role, scope and group
    /// sets are then incomplete, so a rule that denies on membership cannot
    /// rely on them.
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub truncated: bool,
    /// Which of the role, scope and group sets are incomplete: the mapper
    /// left values out past its limits, or the token moved the claim a set
    /// is read from elsewhere (a groups overage). A policy condition on an
    /// incomplete set cannot be evaluated: deny rules reading it apply,
    /// allow rules reading it do not.
    #[serde(default, skip_serializing_if = "Incomplete::is_none")]
    pub incomplete: Incomplete,
    /// The token was presented sender-constrained: the gate verified a
    /// proof of possession of the key the token is bound to (DPoP,
    /// RFC 9449 `cnf.jkt`). `false` for a bearer token. Read by the policy's
    /// `require.sender_constrained`.
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub sender_constrained: bool,
}

/// Which sets of a [`Principal`] are incomplete (see
/// [`Principal::incomplete`]). When [`Principal::truncated`] is set and no
/// set is named here (a principal built by hand), every set counts as
/// incomplete.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
#[non_exhaustive]
pub struct Incomplete {
    /// [`Principal::roles`] lacks values.
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub roles: bool,
    /// [`Principal::scopes`] lacks values.
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub scopes: bool,
    /// [`Principal::groups`] lacks values.
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub groups: bool,
}

impl Incomplete {
    /// Whether no set is marked incomplete.
    pub fn is_none(&self) -> bool {
        !(self.roles || self.scopes || self.groups)
    }
}

/// The token's groups were left out because there were too many (Entra ID
/// `_claim_names` / `_claim_sources`); fetch them from `source` if you need
/// them. Never read this as "no groups".
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[non_exhaustive]
pub struct GroupsOverage {
    /// The endpoint the token names for the groups, if any.
    pub source: Option<String>,
}

impl Principal {
    /// An empty principal with this subject.
    pub fn new(subject: impl Into<String>) -> Self {
        Self {
            subject: Some(subject.into()),
            ..Self::default()
        }
    }

    /// Adds roles.
    #[must_use]
    pub fn with_roles<I, S>(mut self, roles: I) -> Self
    where
        I: IntoIterator<Item = S>,
        S: Into<String>,
    {
        self.roles.extend(roles.into_iter().map(Into::into));
        self
    }

    /// Adds scopes.
    #[must_use]
    pub fn with_scopes<I, S>(mut self, scopes: I) -> Self
    where
        I: IntoIterator<Item = S>,
        S: Into<String>,
    {
        self.scopes.extend(scopes.into_iter().map(Into::into));
        self
    }

    /// Adds groups.
    #[must_use]
    pub fn with_groups<I, S>(mut self, groups: I) -> Self
    where
        I: IntoIterator<Item = S>,
        S: Into<String>,
    {
        self.groups.extend(groups.into_iter().map(Into::into));
        self
    }

    /// Sets the claims (a `serde_json::Map` or a [`ClaimSet`]).
    #[must_use]
    pub fn with_claims(mut self, claims: impl Into<ClaimSet>) -> Self {
        self.claims = claims.into();
        self
    }

    /// Sets the issuer.
    #[must_use]
    pub fn with_issuer(mut self, issuer: impl Into<String>) -> Self {
        self.issuer = Some(issuer.into());
        self
    }

    /// Whether [`Principal::roles`] holds every role the token granted
    /// (see [`Principal::incomplete`]).
    pub fn roles_complete(&self) -> bool {
        !(self.incomplete.roles || self.truncated && self.incomplete.is_none())
    }

    /// Whether [`Principal::scopes`] holds every scope the token granted.
    pub fn scopes_complete(&self) -> bool {
        !(self.incomplete.scopes || self.truncated && self.incomplete.is_none())
    }

    /// Whether [`Principal::groups`] holds every group the token named.
    pub fn groups_complete(&self) -> bool {
        !(self.incomplete.groups || self.truncated && self.incomplete.is_none())
    }

    /// Whether the principal holds this role.
    pub fn has_role(&self, role: &str) -> bool {
        self.roles.contains(role)
    }

    /// Whether the principal holds this scope.
    pub fn has_scope(&self, scope: &str) -> bool {
        self.scopes.contains(scope)
    }

    /// The groups overage marker, when the token's groups were left out.
    pub fn groups_overage(&self) -> Option<&GroupsOverage> {
        self.groups_overage.as_ref()
    }

    /// Whether the principal is in this group.
    pub fn in_group(&self, group: &str) -> bool {
        self.groups.contains(group)
    }

    /// Sets the tenant.
    #[must_use]
    pub fn with_tenant(mut self, tenant: impl Into<String>) -> Self {
        self.tenant = Some(tenant.into());
        self
    }
}
