//! Edge assertions: short-lived JWTs the edge mints for the upstream from
//! the request's `Principal` (the Pomerium `X-Pomerium-Jwt-Assertion` /
//! Kong jwt-signer pattern), and the key set that signs and publishes them
//! with rotation overlap.

use ring::rand::SecureRandom;
use serde_json::{Map, Value, json};
use time::{Duration, OffsetDateTime};

use super::{MintError, check_lifetime, jws};
use crate::crypto::SigningKey;
use crate::oidc::Principal;
use crate::secret::Secret;

/// Default lifetime of an edge assertion: one minute (one per request).
pub const DEFAULT_EDGE_ASSERTION_LIFETIME: Duration = Duration::minutes(1);

/// Default time a next key is published before it signs: three hours,
/// longer than APIM (1 h) and API Gateway (up to 2 h) cache a key set.
pub const DEFAULT_PUBLISH_LEAD: Duration = Duration::hours(3);

/// Default time a retired key stays published after the last token it
/// signed expires: five minutes, the verifiers' clock-skew allowance.
pub const DEFAULT_RETIRE_MARGIN: Duration = Duration::minutes(5);

/// What [`EdgeAssertions::rotate`] did.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
#[non_exhaustive]
pub struct Rotation {
    /// The `kid` of the next key that became the signing key, if one did.
    pub promoted: Option<String>,
    /// The `kid`s of retired keys no longer published.
    pub removed: Vec<String>,
}

#[derive(Debug, Clone)]
struct Next {
    key: SigningKey,
    published: OffsetDateTime,
}

#[derive(Debug, Clone)]
struct Retiring {
    key: SigningKey,
    until: OffsetDateTime,
}

/// Mints edge assertions and keeps the keys that sign them.
///
/// Keys move through three states:
/// - **next**: published in [`jwks`](Self::jwks), not signing yet, for at
///   least the publish lead (default 3 h), so every upstream's JWKS cache
///   has it before the first token it signs arrives;
/// - **current**: signing;
/// - **retiring**: published until the last token it signed has expired,
///   plus the retire margin (default 5 min, the verifiers' skew allowance).
///
/// [`rotate`](Self::rotate) moves keys along when their time has come:
/// call it on a timer (or before each mint; it is cheap) with the same
/// clock as [`mint`](Self::mint).
///
/// Claims: `iss` (the edge's issuer URL), `sub`, `aud` (the upstream),
/// `iat`, `exp`, `jti`, and from the principal `idp` (the issuer that
/// authenticated it), `tenant`, `roles`, `groups` (arrays), `scope`
/// (space-separated, RFC 8693 §4.2), `email` (verified only), and
/// `incomplete` (the sets the edge knows to be incomplete, so the upstream
/// cannot take a missing role for an absent one). Empty sets are left out.
///
/// ```
/// use edge_auth::assertion::EdgeAssertions;
/// use edge_auth::crypto::SigningKey;
/// use edge_auth::Principal;
/// use edge_auth::jwt::Algorithm;
///
/// let rng = ring::rand::SystemRandom::new();
/// let edge = EdgeAssertions::new("https://edge.example.com", SigningKey::generate(Algorithm::ES256, &rng)?)?;
/// let now = time::macros::datetime!(2026-11-23 10:00 UTC);
/// let alice = Principal::new("alice").with_roles(["reader"]).with_issuer("https://idp.example.com");
/// let jwt = edge.mint(&alice, "https://api.example.com", now, &rng)?;
/// // The upstream fetches these two documents.
/// let jwks: serde_json::Value = serde_json::from_str(&edge.jwks())?;
/// assert_eq!(jwks["keys"].as_array().map(Vec::len), Some(1));
/// let discovery: serde_json::Value = serde_json::from_str(&edge.discovery())?;
/// assert_eq!(discovery["jwks_uri"], "https://edge.example.com/.well-known/jwks.json");
/// # let _ = jwt;
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
#[derive(Debug, Clone)]
pub struct EdgeAssertions {
    issuer: String,
    jwks_uri: String,
    lifetime: Duration,
    publish_lead: Duration,
    retire_margin: Duration,
    current: SigningKey,
    next: Option<Next>,
    retiring: Vec<Retiring>,
}

/// Purpose string for sealing the key state with [`crate::seal::Sealer`].
pub const EDGE_KEYS_SEAL_PURPOSE: &str = "edge-auth/edge-assertion-keys/v1";

impl EdgeAssertions {
    /// Assertions issued by `issuer` (an `https` URL; `http` only for
    /// loopback hosts), signed by `current`. The JWKS URI defaults to
    /// `{issuer}/.well-known/jwks.json`.
    ///
    /// # Errors
    /// [`MintError::Config`] when `issuer` is not such a URL.
    pub fn new(issuer: impl Into<String>, current: SigningKey) -> Result<Self, MintError> {
        let issuer = issuer.into();
        check_issuer(&issuer)?;
        Ok(Self {
            jwks_uri: format!("{}/.well-known/jwks.json", issuer.trim_end_matches('/')),
            issuer,
            lifetime: DEFAULT_EDGE_ASSERTION_LIFETIME,
            publish_lead: DEFAULT_PUBLISH_LEAD,
            retire_margin: DEFAULT_RETIRE_MARGIN,
            current,
            next: None,
            retiring: Vec::new(),
        })
    }

    /// Sets the assertion lifetime (default 1 min, at most 1 h).
    #[must_use]
    pub fn with_lifetime(mut self, lifetime: Duration) -> Self {
        self.lifetime = lifetime;
        self
    }

    /// Sets where the JWKS is served (named by [`discovery`](Self::discovery)).
    #[must_use]
    pub fn with_jwks_uri(mut self, jwks_uri: impl Into<String>) -> Self {
        self.jwks_uri = jwks_uri.into();
        self
    }

    /// Sets how long a next key is published before it signs (default
    /// 3 h). Set it above the longest JWKS cache time of your upstreams.
    #[must_use]
    pub fn with_publish_lead(mut self, lead: Duration) -> Self {
        self.publish_lead = lead;
        self
    }

    /// Sets how long a retired key stays published after its last token
    /// expires (default 5 min).
    #[must_use]
    pub fn with_retire_margin(mut self, margin: Duration) -> Self {
        self.retire_margin = margin;
        self
    }

    /// The issuer (`iss`).
    pub fn issuer(&self) -> &str {
        &self.issuer
    }

    /// The key that signs now.
    pub fn current_key(&self) -> &SigningKey {
        &self.current
    }

    /// The next key, published and waiting to sign, if there is one.
    pub fn next_key(&self) -> Option<&SigningKey> {
        self.next.as_ref().map(|n| &n.key)
    }

    /// Publishes `key` as the next signing key from `now`; it signs once
    /// [`rotate`](Self::rotate) runs at or after `now` + the publish lead.
    /// A next key already waiting is replaced (it never signed).
    ///
    /// # Errors
    /// [`MintError::DuplicateKid`] when a published key has the same `kid`.
    pub fn add_next(&mut self, key: SigningKey, now: OffsetDateTime) -> Result<(), MintError> {
        let clash = self.current.kid() == key.kid()
            || self.retiring.iter().any(|r| r.key.kid() == key.kid());
        if clash {
            return Err(MintError::DuplicateKid(key.kid().to_owned()));
        }
        self.next = Some(Next {
            key,
            published: now,
        });
        Ok(())
    }

    /// One rotation step at `now`: drops retired keys whose last token
    /// (plus the margin) has expired, and promotes the next key when it
    /// has been published for the publish lead; the current key then
    /// retires, published until `now` + lifetime + margin.
    pub fn rotate(&mut self, now: OffsetDateTime) -> Rotation {
        let mut done = Rotation::default();
        let (keep, gone): (Vec<_>, Vec<_>) = std::mem::take(&mut self.retiring)
            .into_iter()
            .partition(|r| r.until > now);
        self.retiring = keep;
        done.removed = gone.into_iter().map(|r| r.key.kid().to_owned()).collect();
        let due = self
            .next
            .as_ref()
            .is_some_and(|n| now >= n.published.saturating_add(self.publish_lead));
        if due && let Some(next) = self.next.take() {
            let old = std::mem::replace(&mut self.current, next.key);
            done.promoted = Some(self.current.kid().to_owned());
            self.retiring.push(Retiring {
                key: old,
                until: now
                    .saturating_add(self.lifetime)
                    .saturating_add(self.retire_margin),
            });
        }
        done
    }

    /// A fresh assertion for `principal`, addressed to `audience` (the
    /// upstream's identifier), issued at `now` by the current key.
    ///
    /// # Errors
    /// [`MintError::NoSubject`] when the principal has no subject;
    /// [`MintError::Config`] for an empty audience or a lifetime outside
    /// 1 s ..= 1 h; [`MintError::Randomness`] or [`MintError::Key`] when
    /// signing fails.
    pub fn mint(
        &self,
        principal: &Principal,
        audience: &str,
        now: OffsetDateTime,
        rng: &dyn SecureRandom,
    ) -> Result<Secret<String>, MintError> {
        let subject = principal
            .subject
            .as_deref()
            .filter(|s| !s.is_empty())
            .ok_or(MintError::NoSubject)?;
        if audience.is_empty() {
            return Err(MintError::Config("the audience is empty".into()));
        }
        check_lifetime(self.lifetime)?;
        let exp = now
            .checked_add(self.lifetime)
            .ok_or(MintError::Time(now.unix_timestamp()))?;
        let mut c = Map::new();
        c.insert("iss".into(), Value::String(self.issuer.clone()));
        c.insert("sub".into(), Value::String(subject.to_owned()));
        c.insert("aud".into(), Value::String(audience.to_owned()));
        c.insert("iat".into(), jws::numeric_date(now));
        c.insert("exp".into(), jws::numeric_date(exp));
        c.insert("jti".into(), Value::String(jws::jti(rng)?));
        if let Some(idp) = &principal.issuer {
            c.insert("idp".into(), Value::String(idp.clone()));
        }
        if let Some(tenant) = &principal.tenant {
            c.insert("tenant".into(), Value::String(tenant.clone()));
        }
        if !principal.roles.is_empty() {
            c.insert("roles".into(), json!(principal.roles));
        }
        if !principal.groups.is_empty() {
            c.insert("groups".into(), json!(principal.groups));
        }
        if !principal.scopes.is_empty() {
            let scope = principal
                .scopes
                .iter()
                .map(String::as_str)
                .collect::<Vec<_>>()
                .join(" ");
            c.insert("scope".into(), Value::String(scope));
        }
        if let Some(email) = &principal.email {
            c.insert("email".into(), Value::String(email.clone()));
        }
        let incomplete: Vec<&str> = [
            (!principal.roles_complete()).then_some("roles"),
            (!principal.scopes_complete()).then_some("scope"),
            (!principal.groups_complete()).then_some("groups"),
        ]
        .into_iter()
        .flatten()
        .collect();
        if !incomplete.is_empty() {
            c.insert("incomplete".into(), json!(incomplete));
        }
        jws::sign(&self.current, &c, rng)
    }

    /// The published key set (RFC 7517 §5) as JSON: the current key, then
    /// the next key, then the retiring keys.
    pub fn jwks(&self) -> String {
        let keys: Vec<Value> = std::iter::once(&self.current)
            .chain(self.next.as_ref().map(|n| &n.key))
            .chain(self.retiring.iter().map(|r| &r.key))
            .map(SigningKey::public_jwk)
            .collect();
        json!({ "keys": keys }).to_string()
    }

    /// A minimal OpenID Provider Metadata document (OpenID Connect
    /// Discovery 1.0 §3) to serve at
    /// `{issuer}/.well-known/openid-configuration`: `issuer`, `jwks_uri`,
    /// `id_token_signing_alg_values_supported`, and the two other members
    /// §3 requires (`response_types_supported`, `subject_types_supported`)
    /// so that strict parsers accept it. APIM's `openid-config` and API
    /// Gateway's JWT authorizer read `issuer` and `jwks_uri` from it.
    pub fn discovery(&self) -> String {
        let mut algs: Vec<&str> = std::iter::once(&self.current)
            .chain(self.next.as_ref().map(|n| &n.key))
            .chain(self.retiring.iter().map(|r| &r.key))
            .map(SigningKey::alg_name)
            .collect();
        algs.sort_unstable();
        algs.dedup();
        json!({
            "issuer": self.issuer,
            "jwks_uri": self.jwks_uri,
            "id_token_signing_alg_values_supported": algs,
            "response_types_supported": ["id_token"],
            "subject_types_supported": ["public"],
        })
        .to_string()
    }

    /// The key state (every key with its private part, and the rotation
    /// times) as JSON, for the caller to seal
    /// ([`Sealer::seal_to_string`](crate::seal::Sealer::seal_to_string)
    /// with [`EDGE_KEYS_SEAL_PURPOSE`] and the issuer as subject) and store.
    pub fn export_keys(&self) -> Secret<String> {
        let key = |k: &SigningKey| Value::String(k.export().expose().clone());
        let state = json!({
            "current": key(&self.current),
            "next": self.next.as_ref().map(|n| json!({
                "key": key(&n.key),
                "published": n.published.unix_timestamp(),
            })),
            "retiring": self.retiring.iter().map(|r| json!({
                "key": key(&r.key),
                "until": r.until.unix_timestamp(),
            })).collect::<Vec<_>>(),
        });
        Secret::new(state.to_string())
    }

    /// Replaces the keys with a state from
    /// [`export_keys`](Self::export_keys) (keeping this value's issuer and
    /// settings).
    ///
    /// # Errors
    /// [`MintError::State`] when the state does not parse, or a key in it
    /// does not load.
    pub fn restore_keys(mut self, state: &Secret<String>) -> Result<Self, MintError> {
        let bad = |what: &str| MintError::State(what.to_owned());
        let v: Value = crate::json::from_document(state.expose()).map_err(|_| bad("not JSON"))?;
        let load = |v: Option<&Value>| -> Result<SigningKey, MintError> {
            let text = v
                .and_then(Value::as_str)
                .ok_or_else(|| bad("a key is missing"))?;
            SigningKey::import(&Secret::new(text.to_owned()))
                .map_err(|e| MintError::State(format!("a key does not load: {e}")))
        };
        let at = |v: Option<&Value>| -> Result<OffsetDateTime, MintError> {
            v.and_then(Value::as_i64)
                .and_then(|t| OffsetDateTime::from_unix_timestamp(t).ok())
                .ok_or_else(|| bad("a time is missing or out of range"))
        };
        self.current = load(v.get("current"))?;
        self.next = match v.get("next") {
            None | Some(Value::Null) => None,
            Some(n) => Some(Next {
                key: load(n.get("key"))?,
                published: at(n.get("published"))?,
            }),
        };
        self.retiring = v
            .get("retiring")
            .and_then(Value::as_array)
            .map(Vec::as_slice)
            .unwrap_or_default()
            .iter()
            .map(|r| {
                Ok(Retiring {
                    key: load(r.get("key"))?,
                    until: at(r.get("until"))?,
                })
            })
            .collect::<Result<_, MintError>>()?;
        Ok(self)
    }
}

fn check_issuer(issuer: &str) -> Result<(), MintError> {
    let url = url::Url::parse(issuer)
        .map_err(|_| MintError::Config(format!("issuer `{issuer}` is not a URL")))?;
    let loopback = match url.host() {
        Some(url::Host::Domain(d)) => d == "localhost",
        Some(url::Host::Ipv4(a)) => a.is_loopback(),
        Some(url::Host::Ipv6(a)) => a.is_loopback(),
        None => false,
    };
    // OpenID Connect Discovery 1.0 §3: no query or fragment.
    if url.query().is_some() || url.fragment().is_some() {
        return Err(MintError::Config(format!(
            "issuer `{issuer}` must not have a query or fragment"
        )));
    }
    match url.scheme() {
        "https" => Ok(()),
        "http" if loopback => Ok(()),
        _ => Err(MintError::Config(format!(
            "issuer `{issuer}` must be an https URL (http only on loopback)"
        ))),
    }
}
