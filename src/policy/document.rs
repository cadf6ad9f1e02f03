//! The policy document: the serde model users write in JSON or TOML. Unknown
//! fields are errors everywhere (`deny_unknown_fields`), so a misspelt
//! condition can never silently widen a rule.

use std::collections::BTreeMap;

use serde::{Deserialize, Deserializer, Serialize};
use serde_json::Value;

use super::PolicyError;
use crate::cors::CorsSettings;

/// A policy: ordered rules, default deny. Build one by deserialising JSON
/// ([`Policy::from_json`]) or any serde format (e.g. TOML), then
/// [`compile`](Policy::compile) it once and evaluate per request.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
#[non_exhaustive]
pub struct Policy {
    /// How the origin behind the policy reads paths (`paths` in the
    /// document). Omitted: RFC 3986, case-sensitive, nothing stripped.
    #[serde(default, skip_serializing_if = "PathProfile::is_default")]
    pub paths: PathProfile,
    /// The rules, tried in order; the first applying rule decides.
    pub rules: Vec<Rule>,
    /// Named CORS settings (`cors` in the document), referred to by a
    /// rule's `cors` field. Omitted: the gate does not treat CORS
    /// preflights specially and adds no CORS headers.
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub cors: BTreeMap<String, CorsSettings>,
    /// Sample requests with the decision the policy must give them
    /// (`tests` in the document), run by [`Policy::compile`]: a policy
    /// whose own tests fail does not compile. See [`PolicyTest`].
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub tests: Vec<PolicyTest>,
}

/// How the origin behind the policy reads paths, so that every spelling
/// the origin treats as one path meets the same rules. Both `allow` and
/// `deny` rules match through it, and path patterns are read through it
/// too. The default is RFC 3986 (case-sensitive, nothing stripped): right
/// for most origins, and the only setting under which an allow rule never
/// covers more spellings than it names. Turn the options on when the origin
/// is ASP.NET Core, IIS, or serves files from a Windows or macOS
/// (case-insensitive) file system: there `/Admin/users`, `/admin./users`
/// and `/admin%20/users` all reach `/admin/users`.
///
/// ```json
/// { "paths": { "case": "insensitive", "strip_trailing_dots": true,
///              "strip_trailing_spaces": true },
///   "rules": [] }
/// ```
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
#[non_exhaustive]
pub struct PathProfile {
    /// Whether the origin compares paths case-sensitively. Default
    /// [`PathCase::Sensitive`].
    #[serde(default)]
    pub case: PathCase,
    /// The origin drops trailing dots from a segment (`/admin./users` is
    /// `/admin/users`), as Windows file APIs do. Default `false`.
    #[serde(default, skip_serializing_if = "is_false")]
    pub strip_trailing_dots: bool,
    /// The origin drops trailing spaces (`%20`) from a segment
    /// (`/admin%20/users` is `/admin/users`), as Windows file APIs do.
    /// Default `false`.
    #[serde(default, skip_serializing_if = "is_false")]
    pub strip_trailing_spaces: bool,
}

impl PathProfile {
    /// The profile of an origin that follows RFC 3986 (the default).
    pub fn rfc3986() -> Self {
        Self::default()
    }

    /// The profile of an IIS / ASP.NET Core / Windows file server origin:
    /// case-insensitive, trailing dots and spaces stripped.
    pub fn windows() -> Self {
        Self {
            case: PathCase::Insensitive,
            strip_trailing_dots: true,
            strip_trailing_spaces: true,
        }
    }

    /// Whether this is the default (RFC 3986) profile.
    pub fn is_default(&self) -> bool {
        *self == Self::default()
    }
}

/// Whether path segments compare case-sensitively.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
#[non_exhaustive]
pub enum PathCase {
    /// `/Admin` and `/admin` are different paths (RFC 3986 §6.2.2.1).
    #[default]
    Sensitive,
    /// `/Admin` and `/admin` are the same path. Letters are compared by
    /// their Unicode simple case mappings, percent-encoded UTF-8 included,
    /// so `/adm%C4%B1n` (dotless i) and `/%E2%84%AAey` (Kelvin sign) meet
    /// the rules for `/admin` and `/key`: an origin comparing with .NET's
    /// ordinal-ignore-case or the NTFS upcase table may treat them so.
    Insensitive,
}

impl Policy {
    /// Parses a JSON policy document.
    ///
    /// # Errors
    ///
    /// [`PolicyError::Parse`] when the text is not JSON, repeats a member
    /// name, has unknown fields or wrong types (with the line and column).
    pub fn from_json(text: &str) -> Result<Self, PolicyError> {
        crate::json::from_document(text).map_err(PolicyError::Parse)
    }
}

/// One rule: where it applies, what it requires and what it decides.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
#[non_exhaustive]
pub struct Rule {
    /// Unique, non-empty id; named in decisions and audit records.
    pub id: String,
    /// The routes the rule covers (`match` in the document). Omitted: every
    /// route.
    #[serde(rename = "match", default)]
    pub route: Match,
    /// Conditions that must all hold for the rule to apply. Omitted: none,
    /// except that an `allow` rule needs a principal unless
    /// `anonymous = true`.
    #[serde(default)]
    pub require: Require,
    /// What the rule decides when it applies.
    pub effect: Effect,
    /// The name of the CORS settings (an entry of the document's `cors`
    /// map) for the routes this rule matches. Found by route alone
    /// (`match`), since a preflight carries no credentials: the first rule
    /// in order whose `match` covers the request and that names `cors`
    /// supplies the settings. Omitted: this rule contributes none.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub cors: Option<String>,
    /// Rate limits checked after the rule allows a request (allow rules
    /// only); see [`LimitSpec`](super::LimitSpec).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub limits: Vec<super::LimitSpec>,
    /// What a request this rule allows must look like (`request` in the
    /// document): required headers, content types, a body size limit. A
    /// request the rule allows but that fails them is refused with 400,
    /// 413 or 415 (allow rules only). Omitted: nothing checked.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub request: Option<RequestShape>,
}

/// The shape a request must have once its rule allows it, so the edge
/// refuses non-compliant requests before the origin sees them. Every list
/// present must hold.
///
/// ```json
/// "request": { "headers": [ { "name": "x-request-id", "pattern": "req-*" } ],
///              "content_types": ["application/json"],
///              "max_body_bytes": 65536 }
/// ```
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
#[non_exhaustive]
pub struct RequestShape {
    /// Headers that must be present once, each with a value matching its
    /// pattern. Missing, repeated or not matching: 400.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub headers: Option<Vec<ShapeHeader>>,
    /// Media types (`type/subtype`, or `type/*`) a request with a body may
    /// declare in `Content-Type`; parameters (`; charset=utf-8`) are
    /// ignored, case is not significant. A body with another or no
    /// `Content-Type`: 415. Requests without a body are not checked.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub content_types: Option<Vec<String>>,
    /// The largest body a request may declare in `Content-Length`, in
    /// bytes. Larger: 413. A body whose length is not declared
    /// (`Transfer-Encoding` without `Content-Length`) or declared
    /// ambiguously: 400.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub max_body_bytes: Option<u64>,
}

/// A header a [`RequestShape`] requires.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
#[non_exhaustive]
pub struct ShapeHeader {
    /// Header name, case-insensitive.
    pub name: String,
    /// The value's pattern: `*` stands for any run of characters, every
    /// other character is itself (`Bearer *`, `v1.*`). Omitted: any value.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub pattern: Option<String>,
}

/// One embedded test of a policy: a sample request, who makes it, and the
/// decision expected. [`Policy::compile`] runs every test and refuses the
/// policy when one fails ([`PolicyError::TestFailed`]).
///
/// ```json
/// "tests": [
///   { "name": "tenant reads its orders", "request": "GET /tenants/t1/orders",
///     "principal": { "subject": "alice", "claims": { "tid": "t1" } },
///     "expect": "allow", "rule": "tenant-orders" },
///   { "name": "anonymous is refused", "request": "GET /tenants/t1/orders",
///     "expect": "deny" }
/// ]
/// ```
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
#[non_exhaustive]
pub struct PolicyTest {
    /// Named in the error when the test fails.
    pub name: String,
    /// `METHOD /path?query` (the query is ignored).
    pub request: String,
    /// The request's host. Omitted: none (host rules are unevaluable).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub host: Option<String>,
    /// Request headers, name to value.
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub headers: BTreeMap<String, String>,
    /// The client IP. Omitted: unknown.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub client_ip: Option<std::net::IpAddr>,
    /// The country (ISO 3166-1 alpha-2). Omitted: unknown.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub country: Option<String>,
    /// Who makes the request. Omitted: nobody (no token).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub principal: Option<TestPrincipal>,
    /// The effect expected.
    pub expect: Effect,
    /// The rule expected to decide. Omitted: not checked. For a default
    /// deny, no rule decides: leave it out.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub rule: Option<String>,
}

/// The principal of a [`PolicyTest`], as a role mapper would have made it.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
#[non_exhaustive]
pub struct TestPrincipal {
    /// The subject. Omitted: the claims' `sub`, if a string.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub subject: Option<String>,
    /// Roles held.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub roles: Vec<String>,
    /// OAuth scopes held.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub scopes: Vec<String>,
    /// The token's claims.
    #[serde(default, skip_serializing_if = "serde_json::Map::is_empty")]
    pub claims: serde_json::Map<String, Value>,
    /// The token was presented sender-constrained (see
    /// [`Require::sender_constrained`]). Default `false`.
    #[serde(default, skip_serializing_if = "is_false")]
    pub sender_constrained: bool,
}

/// The routes a rule covers. Each list is an alternative (any entry
/// matches); an omitted list matches everything; an empty list is an error.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
#[non_exhaustive]
pub struct Match {
    /// Methods, case-sensitive (`GET`, not `get`) for `allow` rules; `deny`
    /// rules also match other spellings (`delete` for `DELETE`), because
    /// some origins upper-case the method before routing.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub methods: Option<Vec<String>>,
    /// Host names: `api.example.com` or `*.example.com`; no ports.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub hosts: Option<Vec<String>>,
    /// Path patterns: `/users/{id}`, `/static/*`, `/api/**`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub paths: Option<Vec<String>>,
    /// Let this rule match paths holding an encoded slash (`%2F`) inside a
    /// segment, as in GitLab's `/api/v4/projects/group%2Fproject`, although
    /// `PolicyConfig::reject_encoded_separators` refuses them elsewhere. The
    /// `%2F` stays part of the segment (`group%2Fproject` is one segment for
    /// `{id}`); a segment whose `%2F`-separated parts include `.`, `..` or
    /// an empty part is still refused. Only an `allow` rule that says so
    /// admits such a path; `deny` rules match it whatever they say. Turn it
    /// on only for routes whose origin treats `%2F` as data, never as a
    /// separator. Default `false`.
    #[serde(default, skip_serializing_if = "is_false")]
    pub allow_encoded_slash: bool,
}

/// Conditions on the caller and the request; all present ones must hold.
/// Omitted lists impose nothing; an empty list is an error.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
#[non_exhaustive]
pub struct Require {
    /// No principal needed: the rule applies with or without one. Cannot be
    /// combined with principal conditions.
    #[serde(default, skip_serializing_if = "is_false")]
    pub anonymous: bool,
    /// A principal is needed.
    #[serde(default, skip_serializing_if = "is_false")]
    pub authenticated: bool,
    /// The principal holds at least one of these roles.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub any_roles: Option<Vec<String>>,
    /// The principal holds all of these roles.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub all_roles: Option<Vec<String>>,
    /// The principal holds all of these OAuth scopes.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub scopes: Option<Vec<String>>,
    /// Conditions on the principal's claims; all must hold.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub claims: Option<Vec<ClaimCondition>>,
    /// The client IP lies in one of these CIDR blocks (`10.0.0.0/8`,
    /// `2001:db8::/32`, or a bare address).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub client_ip: Option<Vec<String>>,
    /// The request's country (ISO 3166-1 alpha-2, supplied by the caller) is
    /// one of these.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub country: Option<Vec<String>>,
    /// Conditions on request headers; all must hold.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub headers: Option<Vec<HeaderCondition>>,
    /// The principal's subject equals the value of this capture (a
    /// `{name}` of the rule's path or host patterns), e.g. `"id"` for
    /// `/users/{id}/profile`. See the module docs on captures.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub subject_equals_capture: Option<String>,
    /// The principal's token was presented sender-constrained: with a
    /// verified proof of possession of the key it is bound to (DPoP,
    /// RFC 9449). A bearer token does not meet it, whatever it carries; the
    /// gate answers such a request 401 with a `DPoP` challenge (RFC 9449
    /// §7.1). Needs DPoP on in the gate. Default `false`.
    #[serde(default, skip_serializing_if = "is_false")]
    pub sender_constrained: bool,
}

/// A condition on one claim, found by RFC 6901 JSON Pointer (`pointer`, or
/// `claim` in the document). Exactly one of `equals`, `contains`,
/// `equals_capture` and `contains_capture` must be given.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
#[non_exhaustive]
pub struct ClaimCondition {
    /// JSON Pointer into the claims, e.g. `/tenant/id` or `/groups`.
    #[serde(alias = "claim")]
    pub pointer: String,
    /// The claim equals this JSON value (JSON equality: `1` is not `"1"`).
    #[serde(
        default,
        deserialize_with = "some_value",
        skip_serializing_if = "Option::is_none"
    )]
    pub equals: Option<Value>,
    /// The claim is an array holding an element equal to this value.
    #[serde(
        default,
        deserialize_with = "some_value",
        skip_serializing_if = "Option::is_none"
    )]
    pub contains: Option<Value>,
    /// The claim is a string equal to the value of this capture (a `{name}`
    /// of the rule's path or host patterns): `{"claim": "/tid",
    /// "equals_capture": "tenant"}` for `/tenants/{tenant}/**`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub equals_capture: Option<String>,
    /// The claim is an array holding a string equal to the value of this
    /// capture.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub contains_capture: Option<String>,
}

/// A condition on a request header: present, or (with `equals`) present once
/// with exactly this value.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
#[non_exhaustive]
pub struct HeaderCondition {
    /// Header name, case-insensitive.
    pub name: String,
    /// The value, compared byte for byte. Omitted: presence is enough.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub equals: Option<String>,
}

/// What a rule decides.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
#[non_exhaustive]
pub enum Effect {
    /// Let the request through.
    Allow,
    /// Refuse the request.
    Deny,
}

fn is_false(b: &bool) -> bool {
    !*b
}

// `Option<Value>` would read JSON `null` as "absent"; a present field is
// always `Some`, so `"equals": null` compares with null.
fn some_value<'de, D: Deserializer<'de>>(d: D) -> Result<Option<Value>, D::Error> {
    Value::deserialize(d).map(Some)
}
