//! [`Settings`]: a Worker's configuration from its variables
//! (`[vars]` in wrangler.toml, secrets for keys).

use super::{WorkerError, WorkerGate, WorkerOptions};
use crate::Secret;
use crate::gate::{Gate, GateConfig, IssuerConfig};
use crate::jwk::cache::CacheConfig;
use crate::oidc::{ClaimSource, RoleMapper};
#[cfg(feature = "policy")]
use crate::policy::Policy;

/// The variable that holds the policy document as JSON (required: without
/// a valid policy the Worker answers 500 to everything). Without the
/// `policy` feature it must be unset (the Worker then allows any request
/// with a valid token); a set one is refused, never ignored.
pub const POLICY_VAR: &str = "EDGE_AUTH_POLICY";
/// The trusted issuer, compared exactly with the token's `iss` (required).
pub const ISSUER_VAR: &str = "EDGE_AUTH_ISSUER";
/// Accepted `aud` values, comma-separated (required).
pub const AUDIENCE_VAR: &str = "EDGE_AUTH_AUDIENCE";
/// The issuer's JWKS endpoint (optional; without it, OpenID Connect
/// discovery at `{issuer}/.well-known/openid-configuration`).
pub const JWKS_URI_VAR: &str = "EDGE_AUTH_JWKS_URI";
/// The claim that holds roles: a name (`roles`) or a JSON Pointer
/// (`/realm_access/roles`) (optional).
pub const ROLES_CLAIM_VAR: &str = "EDGE_AUTH_ROLES_CLAIM";
/// A role-mapping preset: `okta`, `cognito`, `google`, `entra_id:<client
/// id>`, `keycloak:<client id>` or `auth0:<namespace>` (optional; combined
/// with [`ROLES_CLAIM_VAR`] when both are set).
pub const ROLES_PRESET_VAR: &str = "EDGE_AUTH_ROLES_PRESET";
/// The origin allowed requests go to, `scheme://host[:port]` (optional).
pub const ORIGIN_VAR: &str = "EDGE_AUTH_ORIGIN";
/// The `hmac-sha256` key that signs forwarded requests (RFC 9421): the
/// variable's bytes as written, at least 32 (a secret; required with
/// [`ORIGIN_VAR`]).
pub const UPSTREAM_KEY_VAR: &str = "EDGE_AUTH_UPSTREAM_KEY";
/// The `keyid` sent with the upstream signature (optional, default
/// `edge-auth`).
pub const UPSTREAM_KEY_ID_VAR: &str = "EDGE_AUTH_UPSTREAM_KEY_ID";
/// `1` accepts an `http://` JWKS or discovery URL on a loopback host. For
/// local development and tests only.
pub const ALLOW_HTTP_LOOPBACK_VAR: &str = "EDGE_AUTH_ALLOW_HTTP_LOOPBACK";
/// The secret that seals the key state kept in KV and the Cache API
/// (optional; at least 32 bytes: base64 of them, e.g. `openssl rand
/// -base64 32`, or text used as written). When set, state that is not
/// sealed under it is refused. See [`crate::driver::sealing`].
pub const SEAL_SECRET_VAR: &str = "EDGE_AUTH_SEAL_SECRET";
/// The sealing secret being retired (optional): state sealed under it
/// still opens, new state is sealed under [`SEAL_SECRET_VAR`].
pub const SEAL_SECRET_OLD_VAR: &str = "EDGE_AUTH_SEAL_SECRET_OLD";
/// `1` keeps the key state in the Cache API as well as KV (optional).
pub const CACHE_API_VAR: &str = "EDGE_AUTH_CACHE_API";
/// The name of the Durable Object namespace binding that keeps rate-limit
/// state for all isolates (optional; without it each isolate limits in
/// its own memory).
pub const LIMITS_DO_VAR: &str = "EDGE_AUTH_LIMITS_DO";
/// The KV namespace binding that shares key state across isolates.
pub const DEFAULT_KV_BINDING: &str = "EDGE_AUTH_JWKS";

/// A Worker's configuration, read from its variables once per isolate.
#[derive(Debug, Clone)]
#[non_exhaustive]
pub struct Settings {
    /// The policy document ([`POLICY_VAR`]); `policy` feature.
    #[cfg(feature = "policy")]
    pub policy: String,
    /// The trusted issuer ([`ISSUER_VAR`]).
    pub issuer: String,
    /// Accepted audiences ([`AUDIENCE_VAR`]).
    pub audiences: Vec<String>,
    /// The JWKS endpoint ([`JWKS_URI_VAR`]); `None`: discovery.
    pub jwks_uri: Option<String>,
    /// The roles claim ([`ROLES_CLAIM_VAR`]).
    pub roles_claim: Option<String>,
    /// The role-mapping preset ([`ROLES_PRESET_VAR`]).
    pub roles_preset: Option<String>,
    /// The origin ([`ORIGIN_VAR`]).
    pub origin: Option<String>,
    /// The upstream signing key ([`UPSTREAM_KEY_VAR`]); never printed.
    pub upstream_key: Option<Secret<Vec<u8>>>,
    /// The upstream signature's `keyid` ([`UPSTREAM_KEY_ID_VAR`]).
    pub upstream_key_id: Option<String>,
    /// [`ALLOW_HTTP_LOOPBACK_VAR`] is `1`.
    pub allow_http_loopback: bool,
    /// The sealing secret ([`SEAL_SECRET_VAR`]); never printed.
    pub seal_secret: Option<Secret<String>>,
    /// The sealing secret being retired ([`SEAL_SECRET_OLD_VAR`]).
    pub seal_secret_old: Option<Secret<String>>,
    /// [`CACHE_API_VAR`] is `1`.
    pub cache_api: bool,
    /// How the driver runs (KV binding [`DEFAULT_KV_BINDING`], 2 fetches).
    pub options: WorkerOptions,
}

impl Settings {
    /// Reads the settings through `var` (a variable's value, `None` when
    /// unbound; an empty or blank value counts as unset).
    ///
    /// # Errors
    /// [`WorkerError::Missing`] when the policy (with the `policy`
    /// feature), issuer or audience is unset, or the origin is set without
    /// an upstream key; [`WorkerError::Invalid`] when the policy is set
    /// without the `policy` feature.
    pub fn from_vars(var: impl Fn(&str) -> Option<String>) -> Result<Self, WorkerError> {
        let get = |name: &str| {
            var(name)
                .map(|v| v.trim().to_owned())
                .filter(|v| !v.is_empty())
        };
        let required = |name: &'static str| get(name).ok_or(WorkerError::Missing { var: name });
        let settings = Self {
            #[cfg(feature = "policy")]
            policy: required(POLICY_VAR)?,
            issuer: required(ISSUER_VAR)?,
            audiences: required(AUDIENCE_VAR)?
                .split(',')
                .map(str::trim)
                .filter(|a| !a.is_empty())
                .map(str::to_owned)
                .collect(),
            jwks_uri: get(JWKS_URI_VAR),
            roles_claim: get(ROLES_CLAIM_VAR),
            roles_preset: get(ROLES_PRESET_VAR),
            origin: get(ORIGIN_VAR),
            // The key is used as written: trimming could change a secret.
            upstream_key: var(UPSTREAM_KEY_VAR)
                .filter(|k| !k.is_empty())
                .map(|k| Secret::new(k.into_bytes())),
            upstream_key_id: get(UPSTREAM_KEY_ID_VAR),
            allow_http_loopback: get(ALLOW_HTTP_LOOPBACK_VAR).as_deref() == Some("1"),
            seal_secret: var(SEAL_SECRET_VAR)
                .filter(|k| !k.trim().is_empty())
                .map(Secret::new),
            seal_secret_old: var(SEAL_SECRET_OLD_VAR)
                .filter(|k| !k.trim().is_empty())
                .map(Secret::new),
            cache_api: get(CACHE_API_VAR).as_deref() == Some("1"),
            options: WorkerOptions::default().with_limits_binding(get(LIMITS_DO_VAR)),
        };
        // A policy this build cannot enforce is refused, not ignored.
        #[cfg(not(feature = "policy"))]
        if get(POLICY_VAR).is_some() {
            return Err(WorkerError::Invalid {
                var: POLICY_VAR,
                reason: "edge-auth is built without its `policy` feature: unset the variable or enable the feature".to_owned(),
            });
        }
        if settings.audiences.is_empty() {
            return Err(WorkerError::Missing { var: AUDIENCE_VAR });
        }
        if settings.origin.is_some() && settings.upstream_key.is_none() {
            return Err(WorkerError::Missing {
                var: UPSTREAM_KEY_VAR,
            });
        }
        if settings.seal_secret_old.is_some() && settings.seal_secret.is_none() {
            return Err(WorkerError::Missing {
                var: SEAL_SECRET_VAR,
            });
        }
        Ok(settings)
    }

    /// Reads the settings from a Worker's variables and secrets.
    ///
    /// # Errors
    /// As [`from_vars`](Self::from_vars).
    #[cfg(target_arch = "wasm32")]
    pub fn from_env(env: &worker::Env) -> Result<Self, WorkerError> {
        Self::from_vars(|name| {
            env.var(name)
                .ok()
                .map(|v| v.to_string())
                .or_else(|| env.secret(name).ok().map(|v| v.to_string()))
        })
    }

    /// The role mapper: the preset, then the roles claim.
    ///
    /// # Errors
    /// [`WorkerError::Invalid`] for an unknown preset or a bad claim path.
    pub fn role_mapper(&self) -> Result<RoleMapper, WorkerError> {
        let mut mapper = match self.roles_preset.as_deref() {
            None => RoleMapper::default(),
            Some(preset) => {
                let (name, arg) = preset.split_once(':').unwrap_or((preset, ""));
                match (name, arg) {
                    ("okta", "") => RoleMapper::okta(),
                    ("cognito", "") => RoleMapper::cognito(),
                    ("google", "") => RoleMapper::google(),
                    ("entra_id", id) if !id.is_empty() => RoleMapper::entra_id(id),
                    ("keycloak", id) if !id.is_empty() => RoleMapper::keycloak(id),
                    ("auth0", namespace) => RoleMapper::auth0(namespace),
                    _ => {
                        return Err(WorkerError::Invalid {
                            var: ROLES_PRESET_VAR,
                            reason: format!("unknown preset `{preset}`"),
                        });
                    }
                }
            }
        };
        if let Some(claim) = &self.roles_claim {
            let source = ClaimSource::roles(claim).map_err(|e| WorkerError::Invalid {
                var: ROLES_CLAIM_VAR,
                reason: e.to_string(),
            })?;
            mapper = mapper.with_source(source);
        }
        Ok(mapper)
    }

    /// The sealer of the key state, `None` without [`SEAL_SECRET_VAR`].
    ///
    /// # Errors
    /// [`WorkerError::Invalid`] when a secret is under 32 bytes, or the
    /// old secret gives the same key id as the new one.
    pub fn sealer(&self) -> Result<Option<crate::seal::Sealer>, WorkerError> {
        let Some(current) = &self.seal_secret else {
            return Ok(None);
        };
        let old = self.seal_secret_old.as_ref().map(|s| s.expose().as_str());
        crate::seal::Sealer::from_secret_text(current.expose(), old)
            .map(Some)
            .map_err(|e| WorkerError::Invalid {
                var: if matches!(e, crate::seal::SealError::DuplicateKeyId { .. }) {
                    SEAL_SECRET_OLD_VAR
                } else {
                    SEAL_SECRET_VAR
                },
                reason: e.to_string(),
            })
    }

    /// Compiles the policy and builds the Gate.
    ///
    /// # Errors
    /// [`WorkerError::Invalid`] naming the variable that is refused (policy
    /// JSON or rules, issuer or endpoints, role preset or claim, sealing
    /// secret).
    pub fn gate(&self) -> Result<WorkerGate, WorkerError> {
        #[cfg(feature = "policy")]
        let policy = Policy::from_json(&self.policy)
            .and_then(|p| p.compile())
            .map_err(|e| WorkerError::Invalid {
                var: POLICY_VAR,
                reason: e.to_string(),
            })?;
        let mut issuer = IssuerConfig::new(self.issuer.as_str(), self.audiences.clone())
            .with_roles(self.role_mapper()?);
        if let Some(uri) = &self.jwks_uri {
            issuer = issuer.with_jwks_uri(uri.as_str());
        }
        let cache = CacheConfig {
            allow_http_loopback: self.allow_http_loopback,
            ..CacheConfig::default()
        };
        let config = GateConfig::new([issuer]).with_cache(cache);
        #[cfg(feature = "policy")]
        let config = config.with_policy(policy);
        let mut config = config;
        config.discovery.allow_http_loopback = self.allow_http_loopback;
        let gate = Gate::new(config).map_err(|e| WorkerError::Invalid {
            var: if self.jwks_uri.is_some() {
                JWKS_URI_VAR
            } else {
                ISSUER_VAR
            },
            reason: e.to_string(),
        })?;
        let mut options = self.options.clone();
        if let Some(sealer) = self.sealer()? {
            options = options.with_sealer(sealer);
        }
        if self.cache_api {
            options = options.with_cache_api(true);
        }
        Ok(WorkerGate::new(gate, options))
    }

    /// The upstream the allowed requests go to, `None` without an origin.
    ///
    /// # Errors
    /// [`WorkerError::Invalid`] for an origin that is not
    /// `scheme://host[:port]` or a refused upstream key.
    #[cfg(feature = "httpsig")]
    pub fn upstream(&self) -> Result<Option<super::Upstream>, WorkerError> {
        match (&self.origin, &self.upstream_key) {
            (Some(origin), Some(key)) => {
                let key_id = self
                    .upstream_key_id
                    .as_deref()
                    .unwrap_or(super::DEFAULT_UPSTREAM_KEY_ID);
                super::Upstream::new(origin, key_id, key).map(Some)
            }
            _ => Ok(None),
        }
    }
}
