//! `RoleMapper`: verified claims to a [`Principal`]. Claim locations are
//! RFC 6901 JSON Pointers or plain top-level names; values come from arrays,
//! space-delimited strings (RFC 6749 §3.3 scopes) or single strings.

use std::borrow::Cow;
use std::collections::HashMap;
use std::sync::Arc;

use serde_json::{Map, Value};

use super::ClaimSet;
use super::OidcError;
use super::principal::{GroupsOverage, Principal};

/// Most reference tokens a claim path may have.
const MAX_PATH_DEPTH: usize = 32;

/// Default [`RoleMapper::max_values_per_claim`]: Entra ID puts at most 200
/// groups in a JWT, so 256 leaves room without letting a hostile token make
/// us build huge sets.
pub const DEFAULT_MAX_VALUES_PER_CLAIM: usize = 256;

/// Default [`RoleMapper::max_value_len`] in bytes.
pub const DEFAULT_MAX_VALUE_LEN: usize = 256;

/// Where a claim lives in the token's claims.
///
/// A path that starts with `/` is a JSON Pointer (RFC 6901): `/realm_access/roles`,
/// `/https:~1~1example.com~1roles` (`~1` is `/`, `~0` is `~`). Anything else is
/// one top-level claim name taken literally, so `cognito:groups` and
/// `https://example.com/roles` work as written. A top-level name that itself
/// starts with `/` must be written as a pointer (`/~1name`).
///
/// ```
/// use edge_auth::oidc::ClaimPath;
/// let claims = serde_json::json!({
///     "realm_access": { "roles": ["admin"] },
///     "https://example.com/roles": ["editor"],
/// });
/// let claims = claims.as_object().unwrap();
/// let p = ClaimPath::try_from_str("/realm_access/roles")?;
/// assert_eq!(p.resolve(claims), Some(&serde_json::json!(["admin"])));
/// let n = ClaimPath::try_from_str("https://example.com/roles")?;
/// let q = ClaimPath::try_from_str("/https:~1~1example.com~1roles")?;
/// assert_eq!(n.resolve(claims), q.resolve(claims));
/// # Ok::<(), edge_auth::oidc::OidcError>(())
/// ```
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ClaimPath {
    text: String,
    tokens: Vec<String>,
}

impl ClaimPath {
    /// A pointer when `path` starts with `/`, else a top-level claim name.
    ///
    /// # Errors
    /// [`OidcError::EmptyPath`] for `""` (the pointer to the whole claims
    /// object is not a claim), and the errors of [`ClaimPath::try_from_pointer`].
    pub fn try_from_str(path: &str) -> Result<Self, OidcError> {
        if path.is_empty() {
            return Err(OidcError::EmptyPath);
        }
        if path.starts_with('/') {
            Self::try_from_pointer(path)
        } else {
            Ok(Self::from_name(path))
        }
    }

    /// A top-level claim name, never interpreted as a pointer.
    pub fn from_name(name: impl Into<String>) -> Self {
        let name = name.into();
        Self {
            text: name.clone(),
            tokens: vec![name],
        }
    }

    /// An RFC 6901 JSON Pointer, e.g. `/resource_access/my-app/roles`.
    ///
    /// # Errors
    /// [`OidcError::EmptyPath`] for `""`, [`OidcError::NotAPointer`] when it
    /// does not start with `/`, [`OidcError::InvalidEscape`] for a `~` not
    /// followed by `0` or `1` (RFC 6901 §3), [`OidcError::PathTooDeep`] past
    /// 32 reference tokens.
    pub fn try_from_pointer(pointer: &str) -> Result<Self, OidcError> {
        let Some(body) = pointer.strip_prefix('/') else {
            return Err(if pointer.is_empty() {
                OidcError::EmptyPath
            } else {
                OidcError::NotAPointer {
                    path: pointer.to_owned(),
                }
            });
        };
        let mut tokens = Vec::new();
        let mut offset = 1usize;
        for raw in body.split('/') {
            if tokens.len() >= MAX_PATH_DEPTH {
                return Err(OidcError::PathTooDeep {
                    path: pointer.to_owned(),
                    max: MAX_PATH_DEPTH,
                });
            }
            tokens.push(unescape(raw).map_err(|at| OidcError::InvalidEscape {
                path: pointer.to_owned(),
                offset: offset.saturating_add(at),
            })?);
            offset = offset.saturating_add(raw.len()).saturating_add(1);
        }
        Ok(Self {
            text: pointer.to_owned(),
            tokens,
        })
    }

    /// The path as written.
    pub fn as_str(&self) -> &str {
        &self.text
    }

    /// The top-level claim name the path starts at.
    pub fn top_level(&self) -> &str {
        self.tokens.first().map_or("", String::as_str)
    }

    /// The value at this path, if any. Array elements are addressed by
    /// decimal index without leading zeros (RFC 6901 §4); `-` finds nothing.
    pub fn resolve<'v>(&self, claims: &'v Map<String, Value>) -> Option<&'v Value> {
        let mut tokens = self.tokens.iter();
        let mut value = claims.get(tokens.next()?)?;
        for token in tokens {
            value = match value {
                Value::Object(map) => map.get(token)?,
                Value::Array(items) => items.get(array_index(token)?)?,
                _ => return None,
            };
        }
        Some(value)
    }
}

impl std::str::FromStr for ClaimPath {
    type Err = OidcError;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Self::try_from_str(s)
    }
}

/// `~1` -> `/`, `~0` -> `~`; `Err(offset)` for any other `~`.
fn unescape(raw: &str) -> Result<String, usize> {
    if !raw.contains('~') {
        return Ok(raw.to_owned());
    }
    let mut out = String::with_capacity(raw.len());
    let mut chars = raw.char_indices();
    while let Some((i, c)) = chars.next() {
        if c == '~' {
            match chars.next() {
                Some((_, '0')) => out.push('~'),
                Some((_, '1')) => out.push('/'),
                _ => return Err(i),
            }
        } else {
            out.push(c);
        }
    }
    Ok(out)
}

fn array_index(token: &str) -> Option<usize> {
    let valid = token == "0"
        || (!token.starts_with('0')
            && !token.is_empty()
            && token.bytes().all(|b| b.is_ascii_digit()));
    if valid { token.parse().ok() } else { None }
}

/// Which set of the [`Principal`] a source fills.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum Target {
    /// [`Principal::roles`].
    Roles,
    /// [`Principal::scopes`].
    Scopes,
    /// [`Principal::groups`].
    Groups,
}

/// How a string claim value is cut into values.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum Split {
    /// The whole string is one value (`"Global Admin"` stays one role).
    Whole,
    /// Space-delimited values, as in an OAuth `scope` (RFC 6749 §3.3).
    Spaces,
}

/// What happens to a value that a non-empty [`ClaimSource::value_map`] does
/// not list.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum Unmapped {
    /// Keep it as it is (after case folding and prefixes).
    Keep,
    /// Drop it: only mapped values come through.
    Drop,
}

/// One claim feeding roles, scopes or groups.
///
/// Each value goes through, in order: `strip_prefix` (removed when
/// present), `fold_case` (ASCII lowercase), `value_map` (looked up after
/// folding), `prefix` (prepended). Only strings count: numbers, booleans,
/// objects and nested arrays are ignored.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct ClaimSource {
    /// Where the values are.
    pub path: ClaimPath,
    /// Which set they go to.
    pub target: Target,
    /// How strings are cut. Default: [`Split::Spaces`] for scopes,
    /// [`Split::Whole`] otherwise.
    pub split: Split,
    /// Removed from the start of a value when present (e.g. `ROLE_`).
    pub strip_prefix: Option<String>,
    /// Lowercase the ASCII letters of values (`A`-`Z` only). Write the
    /// policy's names in lowercase too. Other characters are kept as they
    /// are: Unicode lowercasing would turn the Kelvin sign `\u{212A}` into
    /// `k`, so a value an IdP user may choose (`\u{212A}ube-admin`) could
    /// become a role name (`kube-admin`) it never was.
    pub fold_case: bool,
    /// Renames values, e.g. Entra group object ids to role names. Empty: no
    /// renaming.
    pub value_map: HashMap<String, String>,
    /// What to do with values the map does not list. Default: keep.
    pub unmapped: Unmapped,
    /// Prepended to every value (e.g. `wids:`), to keep namespaces apart.
    pub prefix: Option<String>,
    /// Read only when the token's `aud` names one of
    /// [`RoleMapper::audiences`] (app roles and scopes belong to the
    /// audience they were issued for). Default: false.
    pub audience_scoped: bool,
}

impl ClaimSource {
    /// Values at `path` into `target`, with the defaults above.
    pub fn new(path: ClaimPath, target: Target) -> Self {
        Self {
            path,
            target,
            split: if target == Target::Scopes {
                Split::Spaces
            } else {
                Split::Whole
            },
            strip_prefix: None,
            fold_case: false,
            value_map: HashMap::new(),
            unmapped: Unmapped::Keep,
            prefix: None,
            audience_scoped: false,
        }
    }

    /// Roles from `path` ([`ClaimPath::try_from_str`] rules).
    ///
    /// # Errors
    /// When `path` is not a valid claim path.
    pub fn roles(path: &str) -> Result<Self, OidcError> {
        Ok(Self::new(ClaimPath::try_from_str(path)?, Target::Roles))
    }

    /// Scopes from `path`, space-delimited when a string.
    ///
    /// # Errors
    /// When `path` is not a valid claim path.
    pub fn scopes(path: &str) -> Result<Self, OidcError> {
        Ok(Self::new(ClaimPath::try_from_str(path)?, Target::Scopes))
    }

    /// Groups from `path`.
    ///
    /// # Errors
    /// When `path` is not a valid claim path.
    pub fn groups(path: &str) -> Result<Self, OidcError> {
        Ok(Self::new(ClaimPath::try_from_str(path)?, Target::Groups))
    }

    /// Sets [`ClaimSource::value_map`] and [`ClaimSource::unmapped`].
    #[must_use]
    pub fn with_value_map<I, K, V>(mut self, map: I, unmapped: Unmapped) -> Self
    where
        I: IntoIterator<Item = (K, V)>,
        K: Into<String>,
        V: Into<String>,
    {
        self.value_map = map.into_iter().map(|(k, v)| (k.into(), v.into())).collect();
        self.unmapped = unmapped;
        self
    }

    /// Sets [`ClaimSource::prefix`].
    #[must_use]
    pub fn with_prefix(mut self, prefix: impl Into<String>) -> Self {
        self.prefix = Some(prefix.into());
        self
    }

    /// Sets [`ClaimSource::strip_prefix`].
    #[must_use]
    pub fn with_strip_prefix(mut self, prefix: impl Into<String>) -> Self {
        self.strip_prefix = Some(prefix.into());
        self
    }

    /// Sets [`ClaimSource::fold_case`].
    #[must_use]
    pub fn with_fold_case(mut self, fold: bool) -> Self {
        self.fold_case = fold;
        self
    }

    /// Sets [`ClaimSource::split`].
    #[must_use]
    pub fn with_split(mut self, split: Split) -> Self {
        self.split = split;
        self
    }

    /// Sets [`ClaimSource::audience_scoped`].
    #[must_use]
    pub fn with_audience_scoped(mut self, scoped: bool) -> Self {
        self.audience_scoped = scoped;
        self
    }

    /// The value after strip, fold, map and prefix; `None` when dropped.
    fn transform<'v>(&self, value: &'v str) -> Option<Cow<'v, str>> {
        let mut v: Cow<'v, str> = Cow::Borrowed(value);
        if let Some(strip) = &self.strip_prefix
            && let Some(rest) = value.strip_prefix(strip.as_str())
        {
            v = Cow::Borrowed(rest);
        }
        if self.fold_case && v.bytes().any(|b| b.is_ascii_uppercase()) {
            v = Cow::Owned(v.to_ascii_lowercase());
        }
        if !self.value_map.is_empty() {
            match self.value_map.get(v.as_ref()) {
                Some(mapped) => v = Cow::Owned(mapped.clone()),
                None if self.unmapped == Unmapped::Drop => return None,
                None => {}
            }
        }
        if let Some(prefix) = &self.prefix {
            v = Cow::Owned(format!("{prefix}{v}"));
        }
        (!v.is_empty()).then_some(v)
    }
}

/// Turns verified claims into a [`Principal`]. Build one with
/// [`RoleMapper::new`] or a provider preset ([`RoleMapper::entra_id`],
/// [`RoleMapper::okta`], [`RoleMapper::keycloak`], [`RoleMapper::auth0`],
/// [`RoleMapper::cognito`], [`RoleMapper::google`]) and adjust the fields.
///
/// ```
/// use edge_auth::oidc::{ClaimSource, RoleMapper, Unmapped};
/// let mut mapper = RoleMapper::new();
/// mapper.sources.push(ClaimSource::roles("/realm_access/roles")?.with_fold_case(true));
/// mapper.sources.push(ClaimSource::scopes("scope")?);
/// mapper.sources.push(
///     ClaimSource::roles("groups")?
///         .with_value_map([("9f0e-admins", "admin")], Unmapped::Drop),
/// );
/// let claims = serde_json::json!({
///     "sub": "u1",
///     "realm_access": { "roles": ["Editor"] },
///     "scope": "openid read:orders",
///     "groups": ["9f0e-admins", "other"],
/// });
/// let p = mapper.map(claims.as_object().unwrap());
/// assert!(p.has_role("editor") && p.has_role("admin") && !p.has_role("other"));
/// assert!(p.has_scope("read:orders"));
/// # Ok::<(), edge_auth::oidc::OidcError>(())
/// ```
///
/// Limits: at most [`RoleMapper::max_values_per_claim`] values per source
/// and values up to [`RoleMapper::max_value_len`] bytes; anything beyond is
/// left out, [`Principal::truncated`] is set and the set the source fills
/// is marked in [`Principal::incomplete`], so the policy treats conditions
/// on that set as unevaluable (deny rules apply, allow rules do not). A
/// source whose claim the token moved to a distributed claim (groups
/// overage) marks its set incomplete too. Arbitrary JSON never panics.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct RoleMapper {
    /// Where the subject is; the first path holding a string wins.
    /// Default: `sub`.
    pub subject: Vec<ClaimPath>,
    /// Where the issuer is. Default: `iss`.
    pub issuer: Option<ClaimPath>,
    /// Where the tenant is (Entra `tid`, Google `hd`). Default: none.
    pub tenant: Option<ClaimPath>,
    /// Where the e-mail address is. Default: none.
    pub email: Option<ClaimPath>,
    /// Take the e-mail only when `email_verified` is `true` (or the string
    /// `"true"`, as some providers send). Default: true.
    pub require_email_verified: bool,
    /// The claims feeding roles, scopes and groups.
    pub sources: Vec<ClaimSource>,
    /// The audiences that audience-scoped sources belong to; empty means
    /// any `aud`.
    pub audiences: Vec<String>,
    /// Report a groups overage (OpenID Connect Core §5.6.2 distributed
    /// claims in `_claim_names` / `_claim_sources` naming a source's claim,
    /// or Entra's `hasgroups: true`) in [`Principal::groups_overage`].
    /// Default: true.
    pub detect_groups_overage: bool,
    /// Keep the claims in [`Principal::claims`] (policy conditions,
    /// identity headers and claim rate-limit keys read them). The gate
    /// keeps the verified claims set as signed and reads it into a map only
    /// on first access, so keeping them costs a copy of the payload, not a
    /// map. Default: true.
    pub keep_claims: bool,
    /// Most values taken from one source. Default
    /// [`DEFAULT_MAX_VALUES_PER_CLAIM`].
    pub max_values_per_claim: usize,
    /// Longest value taken, in bytes; longer ones are left out. Default
    /// [`DEFAULT_MAX_VALUE_LEN`].
    pub max_value_len: usize,
}

impl Default for RoleMapper {
    fn default() -> Self {
        Self {
            subject: vec![ClaimPath::from_name("sub")],
            issuer: Some(ClaimPath::from_name("iss")),
            tenant: None,
            email: None,
            require_email_verified: true,
            sources: Vec::new(),
            audiences: Vec::new(),
            detect_groups_overage: true,
            keep_claims: true,
            max_values_per_claim: DEFAULT_MAX_VALUES_PER_CLAIM,
            max_value_len: DEFAULT_MAX_VALUE_LEN,
        }
    }
}

impl RoleMapper {
    /// A mapper with no sources: subject from `sub`, issuer from `iss`.
    pub fn new() -> Self {
        Self::default()
    }

    /// Adds a source.
    #[must_use]
    pub fn with_source(mut self, source: ClaimSource) -> Self {
        self.sources.push(source);
        self
    }

    /// Maps verified claims to a principal. Never fails: missing or
    /// ill-typed claims contribute nothing.
    pub fn map(&self, claims: &Map<String, Value>) -> Principal {
        let mut p = self.map_values(claims);
        if self.keep_claims {
            p.claims = claims.clone().into();
        }
        p
    }

    /// [`map`](Self::map) taking the claims by value, so that keeping them in
    /// [`Principal::claims`] moves instead of copying them.
    pub fn map_owned(&self, claims: Map<String, Value>) -> Principal {
        let mut p = self.map_values(&claims);
        if self.keep_claims {
            p.claims = claims.into();
        }
        p
    }

    /// Maps a verified claims set: `selected` holds its top-level members
    /// that [`reads`](Self::reads) names (all this mapper looks at), and
    /// `text` is the whole set, kept for [`Principal::claims`] and read
    /// into a map only on first use.
    pub(crate) fn map_verified(
        &self,
        selected: &Map<String, Value>,
        text: impl FnOnce() -> Arc<[u8]>,
    ) -> Principal {
        let mut p = self.map_values(selected);
        if self.keep_claims {
            p.claims = ClaimSet::from_verified(text());
        }
        p
    }

    /// Whether mapping reads the top-level claim `name` (a superset: every
    /// member [`map`](Self::map) may look at).
    pub(crate) fn reads(&self, name: &str) -> bool {
        let at = |path: &ClaimPath| path.top_level() == name;
        matches!(name, "_claim_names" | "_claim_sources" | "hasgroups")
            || self.subject.iter().any(at)
            || self.issuer.as_ref().is_some_and(at)
            || self.tenant.as_ref().is_some_and(at)
            || self.email.as_ref().is_some_and(at)
            || (name == "email_verified" && self.email.is_some())
            || (name == "aud" && !self.audiences.is_empty())
            || self.sources.iter().any(|s| at(&s.path))
    }

    fn map_values(&self, claims: &Map<String, Value>) -> Principal {
        let mut p = Principal {
            subject: self
                .subject
                .iter()
                .find_map(|path| path.resolve(claims)?.as_str())
                .map(str::to_owned),
            issuer: self.string_at(self.issuer.as_ref(), claims),
            tenant: self.string_at(self.tenant.as_ref(), claims),
            ..Principal::default()
        };
        if self.email.is_some() && (!self.require_email_verified || email_verified(claims)) {
            p.email = self.string_at(self.email.as_ref(), claims);
        }
        let audience_ok = self.audiences.is_empty() || audience_matches(claims, &self.audiences);
        // Values are gathered in a Vec and the set built in one go: building a
        // BTreeSet from a sorted batch is much cheaper than inserting one by one.
        let mut batch: Vec<String> = Vec::new();
        for source in &self.sources {
            if source.audience_scoped && !audience_ok {
                continue;
            }
            let Some(value) = source.path.resolve(claims) else {
                continue;
            };
            if let Value::Array(items) = value {
                batch.reserve(items.len().min(self.max_values_per_claim));
            }
            let mut taken = 0usize;
            let mut truncated = false;
            for_each_string(value, source.split, &mut |raw| {
                if taken >= self.max_values_per_claim {
                    truncated = true;
                    return false;
                }
                taken = taken.saturating_add(1);
                if raw.len() > self.max_value_len {
                    truncated = true;
                    return true;
                }
                // Mapped names and prefixes come from configuration, so
                // only the token's own value is bounded.
                if let Some(v) = source.transform(raw) {
                    batch.push(v.into_owned());
                }
                true
            });
            p.truncated |= truncated;
            if truncated {
                mark_incomplete(&mut p, source.target);
            }
            let set = match source.target {
                Target::Roles => &mut p.roles,
                Target::Scopes => &mut p.scopes,
                Target::Groups => &mut p.groups,
            };
            if set.is_empty() {
                // Collecting a Vec's IntoIter reuses its buffer for the sort.
                *set = std::mem::take(&mut batch).into_iter().collect();
            } else {
                set.extend(batch.drain(..));
            }
        }
        if self.detect_groups_overage {
            p.groups_overage = self.overage(claims);
        }
        // A claim the token moved elsewhere leaves the set it feeds
        // incomplete, whether or not overage is reported: "no such role"
        // must not be read from a token that did not list them.
        for source in &self.sources {
            if distributed(claims, source.path.top_level()) {
                mark_incomplete(&mut p, source.target);
            }
        }
        p
    }

    fn string_at(&self, path: Option<&ClaimPath>, claims: &Map<String, Value>) -> Option<String> {
        path?.resolve(claims)?.as_str().map(str::to_owned)
    }

    /// Distributed claims (OIDC Core §5.6.2) standing in for a claim one of
    /// our sources reads, or Entra's implicit-flow `hasgroups: true`.
    fn overage(&self, claims: &Map<String, Value>) -> Option<GroupsOverage> {
        if let Some(Value::Object(names)) = claims.get("_claim_names") {
            for source in &self.sources {
                let Some(Value::String(src)) = names.get(source.path.top_level()) else {
                    continue;
                };
                let endpoint = claims
                    .get("_claim_sources")
                    .and_then(|s| s.get(src))
                    .and_then(|s| s.get("endpoint"))
                    .and_then(Value::as_str)
                    .map(str::to_owned);
                return Some(GroupsOverage { source: endpoint });
            }
        }
        let reads_groups = self.sources.iter().any(|s| s.path.top_level() == "groups");
        if reads_groups && claims.get("hasgroups") == Some(&Value::Bool(true)) {
            return Some(GroupsOverage { source: None });
        }
        None
    }
}

fn mark_incomplete(p: &mut Principal, target: Target) {
    match target {
        Target::Roles => p.incomplete.roles = true,
        Target::Scopes => p.incomplete.scopes = true,
        Target::Groups => p.incomplete.groups = true,
    }
}

/// Whether the token says the top-level claim `name` did not fit: it is a
/// distributed claim (OpenID Connect Core §5.6.2, `_claim_names`), or it is
/// `groups` and Entra's `hasgroups` is `true`.
pub(crate) fn distributed(claims: &Map<String, Value>, name: &str) -> bool {
    let named = matches!(claims.get("_claim_names"), Some(Value::Object(names)) if names.contains_key(name));
    named || (name == "groups" && claims.get("hasgroups") == Some(&Value::Bool(true)))
}

fn email_verified(claims: &Map<String, Value>) -> bool {
    match claims.get("email_verified") {
        Some(Value::Bool(b)) => *b,
        Some(Value::String(s)) => s == "true",
        _ => false,
    }
}

fn audience_matches(claims: &Map<String, Value>, audiences: &[String]) -> bool {
    match claims.get("aud") {
        Some(Value::String(aud)) => audiences.iter().any(|a| a == aud),
        Some(Value::Array(auds)) => auds
            .iter()
            .filter_map(Value::as_str)
            .any(|aud| audiences.iter().any(|a| a == aud)),
        _ => false,
    }
}

/// Calls `f` on each string value; `f` returns false to stop.
fn for_each_string(value: &Value, split: Split, f: &mut dyn FnMut(&str) -> bool) {
    match value {
        Value::String(s) => {
            split_string(s, split, f);
        }
        Value::Array(items) => {
            for item in items {
                if let Value::String(s) = item
                    && !split_string(s, split, f)
                {
                    return;
                }
            }
        }
        _ => {}
    }
}

fn split_string(s: &str, split: Split, f: &mut dyn FnMut(&str) -> bool) -> bool {
    match split {
        Split::Whole => s.is_empty() || f(s),
        Split::Spaces => s.split(' ').filter(|v| !v.is_empty()).all(f),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn pointer_escapes() {
        let p = ClaimPath::try_from_str("/a~1b/c~0d").unwrap();
        assert_eq!(p.tokens, vec!["a/b", "c~d"]);
        assert!(matches!(
            ClaimPath::try_from_str("/a~2"),
            Err(OidcError::InvalidEscape { offset: 2, .. })
        ));
        assert!(matches!(
            ClaimPath::try_from_str(""),
            Err(OidcError::EmptyPath)
        ));
    }

    #[test]
    fn array_indices() {
        assert_eq!(array_index("0"), Some(0));
        assert_eq!(array_index("10"), Some(10));
        assert_eq!(array_index("01"), None);
        assert_eq!(array_index("-"), None);
        assert_eq!(array_index(""), None);
        assert_eq!(array_index("+1"), None);
    }
}
