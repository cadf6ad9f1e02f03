//! Gate presets for identity-aware proxies whose issuer, key set and token
//! header are fixed by the product: Cloudflare Access.

use http::HeaderName;

use super::{GateConfig, IssuerConfig};
use crate::extract::TokenSource;
use crate::jwt::Algorithm;
use crate::oidc::RoleMapper;

/// The header Cloudflare Access sends the application token in.
pub const CF_ACCESS_JWT_ASSERTION: HeaderName = HeaderName::from_static("cf-access-jwt-assertion");

/// `https://<team>.cloudflareaccess.com` from a team name, a team domain or
/// its URL (`myteam`, `myteam.cloudflareaccess.com`,
/// `https://myteam.cloudflareaccess.com/`).
fn team_issuer(team: &str) -> String {
    let team = team.trim();
    let team = team.strip_prefix("https://").unwrap_or(team);
    let team = team.trim_end_matches('/');
    let team = team
        .strip_suffix(".cloudflareaccess.com")
        .unwrap_or(team)
        .to_ascii_lowercase();
    format!("https://{team}.cloudflareaccess.com")
}

impl TokenSource {
    /// The `Cf-Access-Jwt-Assertion` header, whose whole value is the
    /// Cloudflare Access application token.
    pub fn cloudflare_access() -> Self {
        Self::header(CF_ACCESS_JWT_ASSERTION)
    }
}

impl IssuerConfig {
    /// Cloudflare Access: issuer `https://<team>.cloudflareaccess.com`
    /// (`team` is the team name or domain), its key set at
    /// `/cdn-cgi/access/certs` (no discovery), `aud` the application's AUD
    /// tag, RS256 only (what Access signs with), and
    /// [`RoleMapper::cloudflare_access`] (user tokens by `sub` and `email`,
    /// service tokens by `common_name`).
    ///
    /// ```
    /// use edge_auth::gate::IssuerConfig;
    ///
    /// let issuer = IssuerConfig::cloudflare_access(
    ///     "myteam",
    ///     "32eafc7626e974616deaf0dc3ce63d7bcbed58a2731e84d06bc3cdf1b53c4228",
    /// );
    /// assert_eq!(issuer.issuer, "https://myteam.cloudflareaccess.com");
    /// assert_eq!(
    ///     issuer.jwks_uri.as_deref(),
    ///     Some("https://myteam.cloudflareaccess.com/cdn-cgi/access/certs")
    /// );
    /// ```
    pub fn cloudflare_access(team: &str, aud_tag: impl Into<String>) -> Self {
        let issuer = team_issuer(team);
        let jwks_uri = format!("{issuer}/cdn-cgi/access/certs");
        Self::new(issuer, [aud_tag.into()])
            .with_jwks_uri(jwks_uri)
            .with_algorithms([Algorithm::RS256])
            .with_roles(RoleMapper::cloudflare_access())
    }
}

impl GateConfig {
    /// A gate behind Cloudflare Access: the one issuer of
    /// [`IssuerConfig::cloudflare_access`], the token taken from the
    /// `Cf-Access-Jwt-Assertion` header only. Add a policy with
    /// [`with_policy`](Self::with_policy).
    pub fn cloudflare_access(team: &str, aud_tag: impl Into<String>) -> Self {
        Self::new([IssuerConfig::cloudflare_access(team, aud_tag)])
            .with_sources([TokenSource::cloudflare_access()])
    }
}

#[cfg(test)]
mod tests {
    use super::team_issuer;

    #[test]
    fn team_name_domain_and_url_give_the_same_issuer() {
        for team in [
            "myteam",
            "myteam.cloudflareaccess.com",
            "https://myteam.cloudflareaccess.com/",
            "MyTeam",
        ] {
            assert_eq!(team_issuer(team), "https://myteam.cloudflareaccess.com");
        }
    }
}
