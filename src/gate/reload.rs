//! Reloading the gate's authorization without a redeploy: the compiled
//! policy and the issuers' role mappers are one value behind an `Arc`,
//! swapped whole. A check takes the `Arc` once at its start and decides
//! with that value to its end, so a request in flight finishes on the
//! policy it started with, and no request ever sees a policy from one
//! version with role mappings from another.
//!
//! The cell is an `RwLock<Arc<..>>` read only to clone the `Arc` (one
//! atomic increment under an uncontended read lock, never held while a
//! request is evaluated); a reload holds the write lock for a pointer
//! store. benches/policy.rs measures the read against an evaluation
//! (`gate_policy_snapshot`): it is what keeps `arc-swap` out of the core
//! dependencies.

use std::sync::{Arc, PoisonError, RwLock};

use super::Gate;
#[cfg(feature = "policy")]
use super::GateError;
use crate::oidc::RoleMapper;
use crate::policy::CompiledPolicy;

/// What a check authorizes with: swapped whole by a reload.
#[derive(Debug)]
pub(super) struct Authz {
    pub(super) policy: Arc<CompiledPolicy>,
    /// One per issuer, in the gate's issuer order.
    pub(super) roles: Arc<[RoleMapper]>,
    /// Bumped when the role mappers change: principals cached under older
    /// mappers are not served again.
    pub(super) roles_generation: u64,
    /// Bumped on every swap.
    pub(super) generation: u64,
}

/// The cell holding the current [`Authz`].
#[derive(Debug)]
pub(super) struct AuthzCell(RwLock<Arc<Authz>>);

impl AuthzCell {
    pub(super) fn new(policy: CompiledPolicy, roles: Vec<RoleMapper>) -> Self {
        Self(RwLock::new(Arc::new(Authz {
            policy: Arc::new(policy),
            roles: roles.into(),
            roles_generation: 0,
            generation: 0,
        })))
    }

    /// The current value; the lock is held only to clone the `Arc`.
    pub(super) fn load(&self) -> Arc<Authz> {
        // Every write is a whole-value store: a poisoned lock still holds
        // a complete, valid value.
        Arc::clone(&self.0.read().unwrap_or_else(PoisonError::into_inner))
    }

    #[cfg(feature = "policy")]
    fn update(&self, f: impl FnOnce(&Authz) -> Authz) {
        let mut slot = self.0.write().unwrap_or_else(PoisonError::into_inner);
        let next = f(&slot);
        *slot = Arc::new(next);
    }
}

impl Authz {
    /// The token cache's version for a principal verified under key-set
    /// `keys_version` and mapped by the current role mappers: a new mapper
    /// makes every cached principal a miss. (Key-set versions count key set
    /// changes; they would need 2^32 of them to meet the next generation.)
    pub(super) fn cache_version(&self, keys_version: u64) -> u64 {
        keys_version.wrapping_add(self.roles_generation << 32)
    }
}

impl Gate {
    /// The policy requests are checked with now. A check in flight keeps
    /// the one it started with. Without the `policy` feature, an empty
    /// policy (no rules, no CORS, no limits): the Gate allows any request
    /// with a valid token.
    pub fn policy(&self) -> Arc<CompiledPolicy> {
        Arc::clone(&self.authz.load().policy)
    }

    /// How many times the policy (or role mappings) was replaced since the
    /// gate was built.
    pub fn policy_generation(&self) -> u64 {
        self.authz.load().generation
    }

    /// Replaces the policy while the gate serves: checks that start after
    /// this call use `policy`; checks in flight finish on the old one. The
    /// role mappers stay. Compile the new policy first
    /// ([`Policy::compile`](crate::policy::Policy::compile) runs its
    /// embedded tests): a document that does not compile never reaches the
    /// gate, and the old policy keeps serving.
    ///
    /// Rate-limit counters are kept per limit id: a limit that keeps its id
    /// keeps its state. Only with the `policy` feature.
    #[cfg(feature = "policy")]
    pub fn replace_policy(&self, policy: CompiledPolicy) {
        let policy = Arc::new(policy);
        self.authz.update(|old| Authz {
            policy,
            roles: Arc::clone(&old.roles),
            roles_generation: old.roles_generation,
            generation: old.generation.wrapping_add(1),
        });
    }

    /// Replaces the policy and the role mappers of the named issuers
    /// together, atomically: no check sees the new policy with the old
    /// mappings or the reverse. Issuers not named keep their mappers.
    /// Principals the token cache holds are not served again (they were
    /// mapped by the old mappers).
    ///
    /// # Errors
    /// [`GateError::UnknownIssuer`] when an issuer is not configured;
    /// nothing is replaced then.
    #[cfg(feature = "policy")]
    pub fn replace_authorization<I, S>(
        &self,
        policy: CompiledPolicy,
        role_mappers: I,
    ) -> Result<(), GateError>
    where
        I: IntoIterator<Item = (S, RoleMapper)>,
        S: AsRef<str>,
    {
        let mut changes = Vec::new();
        for (issuer, mapper) in role_mappers {
            let issuer = issuer.as_ref();
            let entry = self.issuer(issuer)?;
            changes.push((entry.index, mapper));
        }
        let policy = Arc::new(policy);
        self.authz.update(|old| {
            let mut roles = old.roles.to_vec();
            for (index, mapper) in changes {
                if let Some(slot) = roles.get_mut(index) {
                    *slot = mapper;
                }
            }
            Authz {
                policy,
                roles: roles.into(),
                roles_generation: old.roles_generation.wrapping_add(1),
                generation: old.generation.wrapping_add(1),
            }
        });
        Ok(())
    }
}
