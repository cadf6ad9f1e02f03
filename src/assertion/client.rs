//! `private_key_jwt` client assertions (RFC 7523 §2.2 and §3, OpenID
//! Connect Core §9, RFC 7521 §4.2).

use ring::rand::SecureRandom;
use serde_json::{Map, Value};
use time::{Duration, OffsetDateTime};

use super::{MintError, check_lifetime, jws};
use crate::crypto::SigningKey;
use crate::secret::Secret;

/// Default lifetime of a client assertion: five minutes, as Entra ID and
/// Okta recommend (an assertion is used once, at once).
pub const DEFAULT_CLIENT_ASSERTION_LIFETIME: Duration = Duration::minutes(5);

/// Mints `private_key_jwt` client assertions for one client at one
/// authorization server: `iss` = `sub` = the client id, `aud` = the token
/// endpoint URL (OpenID Connect Core §9, what Entra ID and Okta check) or
/// the authorization server's issuer identifier (FAPI 2.0 §5.3.2.1; pass it
/// as the audience), a fresh `jti` each time, `iat`, `exp` = `iat` +
/// lifetime, and optionally `nbf` = `iat`. The header carries `alg`, `kid`,
/// `typ: JWT` and, when the key names its certificate
/// ([`SigningKey::with_certificate`]), `x5t#S256` (Entra ID certificate
/// credentials; Entra then expects PS256).
///
/// ```
/// use edge_auth::assertion::ClientAssertion;
/// use edge_auth::crypto::SigningKey;
/// use edge_auth::jwt::Algorithm;
///
/// let rng = ring::rand::SystemRandom::new();
/// let key = SigningKey::generate(Algorithm::ES256, &rng)?;
/// let assertion = ClientAssertion::new(
///     "0f3c1f7e-client",
///     "https://login.example.com/oauth2/v2.0/token",
///     key,
/// );
/// let now = time::macros::datetime!(2026-11-23 10:00 UTC);
/// let jwt = assertion.mint(now, &rng)?;
/// // The assertion goes into `client_assertion`; it never shows in Debug.
/// assert_eq!(format!("{jwt:?}"), "** redacted **");
/// assert_eq!(jwt.expose().split('.').count(), 3);
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
#[derive(Debug, Clone)]
pub struct ClientAssertion {
    client_id: String,
    audience: String,
    key: SigningKey,
    lifetime: Duration,
    not_before: bool,
}

impl ClientAssertion {
    /// Assertions for `client_id` at `audience` (the token endpoint URL, or
    /// the issuer identifier where the server asks for it), signed by `key`.
    pub fn new(client_id: impl Into<String>, audience: impl Into<String>, key: SigningKey) -> Self {
        Self {
            client_id: client_id.into(),
            audience: audience.into(),
            key,
            lifetime: DEFAULT_CLIENT_ASSERTION_LIFETIME,
            not_before: false,
        }
    }

    /// Sets the lifetime (`exp` − `iat`; default 5 min, at most 1 h).
    #[must_use]
    pub fn with_lifetime(mut self, lifetime: Duration) -> Self {
        self.lifetime = lifetime;
        self
    }

    /// Adds `nbf` = `iat` (default off: RFC 7523 makes it optional, and
    /// some servers refuse clocks that run ahead of theirs).
    #[must_use]
    pub fn with_not_before(mut self, not_before: bool) -> Self {
        self.not_before = not_before;
        self
    }

    /// The client id (`iss` and `sub`).
    pub fn client_id(&self) -> &str {
        &self.client_id
    }

    /// The audience (`aud`).
    pub fn audience(&self) -> &str {
        &self.audience
    }

    /// The signing key.
    pub fn key(&self) -> &SigningKey {
        &self.key
    }

    /// A fresh assertion issued at `now`, its `jti` and any signature
    /// randomness drawn from `rng`.
    ///
    /// # Errors
    /// [`MintError::Config`] for an empty client id or audience or a
    /// lifetime outside 1 s ..= 1 h; [`MintError::Randomness`] when `rng`
    /// fails; [`MintError::Key`] when the key cannot sign.
    pub fn mint(
        &self,
        now: OffsetDateTime,
        rng: &dyn SecureRandom,
    ) -> Result<Secret<String>, MintError> {
        self.mint_for(&self.audience, now, rng)
    }

    fn mint_for(
        &self,
        audience: &str,
        now: OffsetDateTime,
        rng: &dyn SecureRandom,
    ) -> Result<Secret<String>, MintError> {
        if self.client_id.is_empty() {
            return Err(MintError::Config("the client id is empty".into()));
        }
        if audience.is_empty() {
            return Err(MintError::Config("the audience is empty".into()));
        }
        check_lifetime(self.lifetime)?;
        let exp = now
            .checked_add(self.lifetime)
            .ok_or(MintError::Time(now.unix_timestamp()))?;
        let mut claims = Map::new();
        claims.insert("iss".into(), Value::String(self.client_id.clone()));
        claims.insert("sub".into(), Value::String(self.client_id.clone()));
        claims.insert("aud".into(), Value::String(audience.to_owned()));
        claims.insert("jti".into(), Value::String(jws::jti(rng)?));
        claims.insert("iat".into(), jws::numeric_date(now));
        if self.not_before {
            claims.insert("nbf".into(), jws::numeric_date(now));
        }
        claims.insert("exp".into(), jws::numeric_date(exp));
        jws::sign(&self.key, &claims, rng)
    }
}

/// A `ClientAssertion` serves the OAuth client's `private_key_jwt`
/// ([`ClientAuth::assertion`](crate::oauth::ClientAuth::assertion)): each
/// token request gets a fresh assertion naming the audience the request
/// chooses ([`ClientCredentials::with_assertion_audience`](crate::oauth::ClientCredentials::with_assertion_audience),
/// the token endpoint by default), with its `jti` and signature randomness
/// from ring's `SystemRandom` (the operating system's generator, or
/// `crypto.getRandomValues` in a Worker).
impl crate::oauth::AssertionSource for ClientAssertion {
    fn assertion(
        &self,
        audience: &str,
        now: OffsetDateTime,
    ) -> Result<Secret<String>, Box<dyn std::error::Error + Send + Sync>> {
        Ok(self.mint_for(audience, now, &ring::rand::SystemRandom::new())?)
    }
}
